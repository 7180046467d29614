//! A model-checking harness for crash testing, shared by the test suite and the
//! fuzz targets: it runs a workload on a [`CrashStorage`], cuts the power (or
//! fails an operation) where it is told, reopens, and compares the store with a
//! plain model of every acknowledged commit.
//!
//! Not part of the stable API.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::ids::PageId;
use crate::space::Allocation;
use crate::storage::{CrashControl, CrashStorage, Fault, TearPattern};
use crate::store::{Durability, Options, Store};

/// Page size the harness uses: small pages make deep trees with few pages.
pub const PAGE: usize = 1024;

/// A commit with at least this many data pages writes them early, while it
/// hashes them (as `txn::commit::place` does).
const EARLY_WRITE_FROM: usize = 256;

/// One step of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Allocate `n` pages (1..=64).
    Alloc(u8),
    /// Free the live page chosen by the selector.
    Free(u16),
    /// Free up to `n` live pages at once, starting at the selector.
    FreeBulk(u16, u8),
    /// Fill the chosen live page with a pattern from this tag (0 = zeros).
    Write(u16, u8),
    /// Rewrite every live page (a large commit).
    WriteAll,
    /// Commit the transaction.
    Commit,
    /// Drop the transaction.
    Abort,
    /// Open a reader now and check it at the end of the workload.
    Reader,
    /// Sync the store (durable point for `Eventual`).
    Sync,
    /// Cut the power, reopen from the crash image (torn by this seed), check.
    Crash(u8),
    /// The process dies without a sync; a new one reopens from the page cache
    /// (every write so far visible, the unsynced ones still not durable), checks
    /// and goes on.
    Kill,
}

impl Op {
    /// Decodes a workload from arbitrary bytes (for fuzzing): three bytes an op.
    pub fn decode_all(bytes: &[u8]) -> Vec<Op> {
        bytes
            .chunks_exact(3)
            .map(|c| {
                let sel = u16::from_le_bytes([c[1], c[2]]);
                match c[0] % 16 {
                    0..=2 => Op::Alloc(c[1] % 64 + 1),
                    3 => Op::Free(sel),
                    4 => Op::FreeBulk(sel, c[2] % 16 + 1),
                    5..=7 => Op::Write(sel, c[2]),
                    8 => Op::WriteAll,
                    9..=11 => Op::Commit,
                    12 => Op::Abort,
                    13 => Op::Reader,
                    14 => Op::Sync,
                    _ if c[2] & 1 == 1 => Op::Kill,
                    _ => Op::Crash(c[1]),
                }
            })
            .collect()
    }
}

/// The bytes a page tagged `tag` holds: zeros for tag 0, else a pattern unique
/// to (`id`, `tag`).
pub fn page_bytes(id: u64, tag: u64) -> Vec<u8> {
    if tag == 0 {
        return vec![0; PAGE];
    }
    let mut out = vec![0u8; PAGE];
    fill_pattern(&mut out, id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ tag.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    out
}

/// Logical content: id → tag.
pub type Content = BTreeMap<u64, u64>;

/// How to run a workload.
#[derive(Clone, Copy, Debug)]
pub struct RunConfig {
    /// Durability level of the store.
    pub durability: Durability,
    /// Fault to inject (counted over the whole run, reopenings included).
    pub fault: Option<Fault>,
    /// How the final crash treats unsynced writes.
    pub final_crash: TearPattern,
}

/// What a run did, for reporting.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    /// Commits acknowledged.
    pub commits: u64,
    /// Simulated power cuts followed by a reopen.
    pub crashes: u64,
    /// Storage operations issued (the index space of `Fault::PowerCutAt`).
    pub storage_ops: u64,
    /// Operations that failed because of the injected fault.
    pub failed_ops: u64,
    /// Storage operations that creating the store issued, before the fault
    /// plan was set: a fault aimed at one of them never fires.
    pub create_ops: u64,
    /// Power cuts that the fault plan made (`Fault::PowerCutAt` fired).
    pub power_cuts: u64,
}

/// The model: every acknowledged version and what may be recovered.
struct Model {
    config: RunConfig,
    /// Every acknowledged version (since the last recovery) and its content.
    versions: BTreeMap<u64, Content>,
    /// Recovery may not go below this version.
    durable_floor: u64,
    /// A commit whose outcome is unknown (it failed, or the power went out).
    in_flight: Option<(u64, Content)>,
    stats: RunStats,
    /// A fault fired: the store may refuse work until reopened.
    broken: bool,
    /// The strategy every open of the run places pages with.
    allocation: Allocation,
    /// A sync failed since the last power cut. SPEC.md section 9 leaves a
    /// window there (a failed sync at settle cannot hide the root it could
    /// not make durable), so the harness reboots rather than reopening from
    /// the page cache: a kill then is a power cut.
    sync_failed: bool,
}

fn options(durability: Durability, allocation: &Allocation) -> Options {
    Options::default()
        .durability(durability)
        .eventual_sync_bytes(64 << 10)
        .presync_bytes(256 << 10)
        .allocation(allocation.clone())
}

impl Model {
    fn latest(&self) -> (u64, Content) {
        let (v, c) = self.versions.last_key_value().expect("a version exists");
        (*v, c.clone())
    }

    /// After an operation failed under the injected fault: a failed grow leaves
    /// the handle usable; a failed write or sync poisons it (refuses writers
    /// with `NeedsReopen`), but for the early write of a large commit's data
    /// pages (`large`), which touches only free space (SPEC.md section 9).
    fn after_failure(&mut self, store: &Store<PAGE>, large: bool) -> Result<(), String> {
        self.stats.failed_ops += 1;
        let usable = match store.begin_write() {
            Ok(_) => true,
            Err(Error::NeedsReopen) => false,
            Err(e) => return Err(format!("begin_write after the failure: {e}")),
        };
        match self.config.fault {
            Some(Fault::FailGrow(_)) if !usable => return Err("a failed grow poisoned the handle".into()),
            Some(Fault::FailWrite(_)) if usable && !large => {
                return Err("a failed write left the handle usable".into());
            }
            Some(Fault::FailSync(_)) if usable => return Err("a failed sync left the handle usable".into()),
            _ => {}
        }
        self.broken = !usable;
        self.sync_failed |= !usable && matches!(self.config.fault, Some(Fault::FailSync(_)));
        Ok(())
    }

    /// Kills the process (no sync), reopens from the page cache and checks that
    /// the store holds the last acknowledged commit (or the one in flight) and
    /// verifies clean. Nothing became durable: a later power cut may still go
    /// back to any version since the durable floor.
    fn kill_and_reopen(&mut self, ctl: &CrashControl) -> Result<Store<PAGE>, String> {
        let disk = ctl.kill().map_err(|e| e.to_string())?;
        let store = Store::<PAGE>::open_on(disk, options(self.config.durability, &self.allocation))
            .map_err(|e| format!("reopen failed: {e}"))?;
        let v = store.version().get();
        let (latest, _) = self.latest();
        let expected = match &self.in_flight {
            Some((fv, content)) if *fv == v => content.clone(),
            _ if v == latest => self.versions[&v].clone(),
            _ => return Err(format!("reopened after a kill at v{v}, not the last acknowledged v{latest}")),
        };
        let reader = store.begin_read().map_err(|e| e.to_string())?;
        check_content(&reader, &expected).map_err(|e| format!("after kill, v{v}: {e}"))?;
        drop(reader);
        let report = store.verify().map_err(|e| e.to_string())?;
        if !report.is_clean() {
            return Err(format!("verify after kill found damage: {:?}", report.damage));
        }
        // Versions after the one reopened are gone (a failed sync hid them).
        self.versions.split_off(&(v + 1));
        self.versions.insert(v, expected);
        self.in_flight = None;
        self.broken = false;
        Ok(store)
    }

    /// Cuts the power, reopens from the crash image and checks the recovered
    /// state against the model.
    fn crash_and_reopen(&mut self, ctl: &mut CrashControl, pattern: TearPattern) -> Result<Store<PAGE>, String> {
        self.stats.power_cuts += u64::from(ctl.is_powered_off());
        let disk = ctl.crash(pattern).map_err(|e| e.to_string())?;
        *ctl = disk.control();
        self.sync_failed = false;
        let store = Store::<PAGE>::open_on(disk, options(self.config.durability, &self.allocation))
            .map_err(|e| format!("reopen failed: {e}"))?;
        let reader = store.begin_read().map_err(|e| e.to_string())?;
        let v = reader.version().get();
        let expected = match (&self.in_flight, self.versions.get(&v)) {
            (Some((fv, content)), _) if *fv == v => content.clone(),
            (_, Some(content)) => content.clone(),
            _ => {
                return Err(format!(
                    "recovered v{v}, which was never committed (acknowledged up to {:?}, in flight {:?})",
                    self.versions.keys().last(),
                    self.in_flight.as_ref().map(|f| f.0)
                ));
            }
        };
        if v < self.durable_floor {
            return Err(format!("recovered v{v}, older than the durable v{}", self.durable_floor));
        }
        check_content(&reader, &expected).map_err(|e| format!("after crash, v{v}: {e}"))?;
        drop(reader);
        let report = store.verify().map_err(|e| e.to_string())?;
        if !report.is_clean() {
            return Err(format!("verify after crash found damage: {:?}", report.damage));
        }
        // The recovered version is now the only truth.
        self.versions.retain(|&k, _| k < v);
        self.versions.insert(v, expected);
        self.durable_floor = v;
        self.in_flight = None;
        self.broken = false;
        self.stats.crashes += 1;
        Ok(store)
    }
}

/// Checks that `reader` holds exactly `expected`.
pub fn check_content(reader: &crate::txn::ReadTxn<'_, PAGE>, expected: &Content) -> Result<(), String> {
    let ids: Vec<u64> =
        reader.ids().map(|r| r.map(|id| id.get())).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let want: Vec<u64> = expected.keys().copied().collect();
    if ids != want {
        return Err(format!(
            "live ids {:?}… differ from the model's {:?}…",
            &ids[..ids.len().min(10)],
            &want[..want.len().min(10)]
        ));
    }
    for (&id, &tag) in expected {
        let bytes = reader.page(PageId::from_raw(id)).map_err(|e| format!("page {id}: {e}"))?;
        if bytes != page_bytes(id, tag) {
            return Err(format!("page {id} does not hold tag {tag}"));
        }
    }
    if reader.live_pages() != expected.len() as u64 {
        return Err(format!("live count {} but model has {}", reader.live_pages(), expected.len()));
    }
    Ok(())
}

/// Runs `ops` and checks every promise on the way: after each simulated crash the
/// store holds the last acknowledged commit or the one in flight (or, with
/// `Eventual`, one acknowledged since the last sync) and verifies clean; readers
/// see their version byte for byte; at the end, freeing everything returns the
/// space. Returns what happened, or the first broken promise.
pub fn run(ops: &[Op], config: RunConfig) -> Result<RunStats, String> {
    run_with(ops, config, Allocation::default())
}

/// [`run`] with every open of the store placing pages by `allocation`.
pub fn run_with(ops: &[Op], config: RunConfig, allocation: Allocation) -> Result<RunStats, String> {
    let disk = CrashStorage::new().map_err(|e| e.to_string())?;
    let mut ctl = disk.control();
    let mut store =
        Store::<PAGE>::create_on(disk, options(config.durability, &allocation)).map_err(|e| format!("create: {e}"))?;
    ctl.set_fault(config.fault);
    let mut m = Model {
        config,
        versions: BTreeMap::from([(0, Content::new())]),
        durable_floor: 0,
        in_flight: None,
        stats: RunStats { create_ops: ctl.counts().ops, ..RunStats::default() },
        broken: false,
        allocation,
        sync_failed: false,
    };
    let mut i = 0;
    while i < ops.len() {
        let mut crash = None;
        {
            let mut readers: Vec<(crate::txn::ReadTxn<'_, PAGE>, Content)> = Vec::new();
            // Transactions until the next crash.
            while i < ops.len() && crash.is_none() {
                let (base_version, mut work) = m.latest();
                let mut tag_seed = base_version * 1000 + i as u64;
                let mut txn = match store.begin_write() {
                    Ok(t) => Some(t),
                    Err(Error::NeedsReopen) if m.broken => None,
                    Err(e) => return Err(format!("begin_write: {e}")),
                };
                let mut ended = false;
                while i < ops.len() && !ended {
                    let op = ops[i];
                    i += 1;
                    if let Op::Crash(seed) = op {
                        crash = Some(Some(TearPattern::Seeded(seed as u64)));
                        break;
                    }
                    if op == Op::Kill {
                        crash = Some(None);
                        break;
                    }
                    let Some(w) = txn.as_mut() else { continue };
                    match op {
                        Op::Alloc(n) => {
                            for id in w.alloc_bulk(n as usize).map_err(|e| format!("alloc: {e}"))? {
                                if work.insert(id.get(), 0).is_some() {
                                    return Err(format!("alloc returned live id {}", id.get()));
                                }
                            }
                        }
                        Op::Free(sel) => {
                            if let Some(&id) = pick(&work, sel) {
                                w.free(PageId::from_raw(id)).map_err(|e| format!("free {id}: {e}"))?;
                                work.remove(&id);
                                if !matches!(w.free(PageId::from_raw(id)), Err(Error::DoubleFree(_))) {
                                    return Err("second free was not DoubleFree".into());
                                }
                            }
                        }
                        Op::FreeBulk(sel, n) => {
                            let ids: Vec<PageId> = work
                                .keys()
                                .skip(sel as usize % (work.len() + 1))
                                .take(n as usize)
                                .map(|&id| PageId::from_raw(id))
                                .collect();
                            if let Some(&first) = ids.first() {
                                let mut bad = ids.clone();
                                bad.push(first);
                                if !matches!(w.free_bulk(&bad), Err(Error::DoubleFree(_))) {
                                    return Err("free_bulk with a duplicate did not fail".into());
                                }
                            }
                            w.free_bulk(&ids).map_err(|e| format!("free_bulk: {e}"))?;
                            for id in ids {
                                work.remove(&id.get());
                            }
                        }
                        Op::Write(sel, t) => {
                            if let Some(&id) = pick(&work, sel) {
                                tag_seed += 1;
                                let tag = if t == 0 { 0 } else { tag_seed };
                                w.write(PageId::from_raw(id), &page_bytes(id, tag))
                                    .map_err(|e| format!("write: {e}"))?;
                                work.insert(id, tag);
                            }
                        }
                        Op::WriteAll => {
                            for (&id, tag) in work.iter_mut() {
                                tag_seed += 1;
                                w.write(PageId::from_raw(id), &page_bytes(id, tag_seed))
                                    .map_err(|e| format!("write: {e}"))?;
                                *tag = tag_seed;
                            }
                        }
                        Op::Commit => {
                            let next = base_version + 1;
                            m.in_flight = Some((next, work.clone()));
                            match txn.take().expect("open").commit() {
                                Ok(v) if v.get() == next => {
                                    m.versions.insert(next, std::mem::take(&mut work));
                                    m.in_flight = None;
                                    m.stats.commits += 1;
                                    if config.durability == Durability::Immediate {
                                        m.durable_floor = next;
                                    }
                                }
                                Ok(v) => {
                                    return Err(format!("commit returned {v}, expected v{next}"));
                                }
                                Err(e) if config.fault.is_some() => {
                                    // Pages with an extent this commit writes (tags are unique
                                    // to each write, so a changed nonzero tag is a written page).
                                    let base = &m.versions[&base_version];
                                    let data = m.in_flight.as_ref().map_or(0, |(_, c)| {
                                        c.iter().filter(|&(id, t)| *t != 0 && base.get(id) != Some(t)).count()
                                    });
                                    m.after_failure(&store, data >= EARLY_WRITE_FROM)
                                        .map_err(|s| format!("commit failed ({e}): {s}"))?;
                                }
                                Err(e) => {
                                    return Err(format!("commit failed without a fault: {e}"));
                                }
                            }
                            ended = true;
                        }
                        Op::Abort => ended = true,
                        Op::Reader => {
                            drop(txn.take());
                            let reader = store.begin_read().map_err(|e| e.to_string())?;
                            let content =
                                m.versions.get(&reader.version().get()).cloned().ok_or("reader version unknown")?;
                            readers.push((reader, content));
                            ended = true;
                        }
                        Op::Sync => {
                            drop(txn.take());
                            match store.sync() {
                                Ok(()) => m.durable_floor = m.latest().0,
                                Err(e) if config.fault.is_some() => {
                                    m.after_failure(&store, false).map_err(|s| format!("sync failed ({e}): {s}"))?;
                                }
                                Err(e) => return Err(format!("sync failed without a fault: {e}")),
                            }
                            ended = true;
                        }
                        Op::Crash(_) | Op::Kill => unreachable!("handled above"),
                    }
                }
            }
            // Readers held across the commits above still see their version.
            for (reader, content) in &readers {
                check_content(reader, content).map_err(|e| format!("reader at {}: {e}", reader.version()))?;
            }
        }
        // The power goes out while the store is open, its unsynced writes in
        // flight: the old store is dropped only after the cut (its `Drop` sync
        // then fails), so nothing makes them durable first.
        if let Some(pattern) = crash {
            let old = store;
            store = match pattern {
                Some(pattern) => m.crash_and_reopen(&mut ctl, pattern)?,
                None if m.sync_failed => m.crash_and_reopen(&mut ctl, TearPattern::KeepAll)?,
                None => m.kill_and_reopen(&ctl)?,
            };
            drop(old);
        }
    }
    m.stats.storage_ops = ctl.counts().ops;
    let old = store;
    let store = m.crash_and_reopen(&mut ctl, config.final_crash)?;
    drop(old);
    free_everything_and_check(&store)?;
    Ok(m.stats)
}

fn pick(work: &Content, sel: u16) -> Option<&u64> {
    if work.is_empty() { None } else { work.keys().nth(sel as usize % work.len()) }
}

/// Frees every page, commits until pending space is released, and checks that
/// the space in use is back to what an empty store needs (nothing leaked).
pub fn free_everything_and_check(store: &Store<PAGE>) -> Result<(), String> {
    let mut w = store.begin_write().map_err(|e| e.to_string())?;
    let ids: Vec<PageId> = {
        let r = store.begin_read().map_err(|e| e.to_string())?;
        r.ids().collect::<Result<_, _>>().map_err(|e| e.to_string())?
    };
    w.free_bulk(&ids).map_err(|e| e.to_string())?;
    w.commit().map_err(|e| e.to_string())?;
    // Freed space returns once no older root can be needed: after a sync with
    // `Eventual`, after the next commit with `Immediate`.
    for _ in 0..3 {
        store.sync().map_err(|e| e.to_string())?;
        store.begin_write().and_then(|w| w.commit()).map_err(|e| e.to_string())?;
    }
    let report = store.verify().map_err(|e| e.to_string())?;
    if !report.is_clean() || report.leaked_sectors != 0 {
        return Err(format!(
            "after freeing everything: damage {:?}, leaked sectors {}",
            report.damage, report.leaked_sectors
        ));
    }
    let stats = store.stats();
    if stats.live_pages != 0 {
        return Err(format!("{} pages still live", stats.live_pages));
    }
    // In use: the meta area (12 pages of 1 KiB in format 3, 2 in format 2)
    // plus the few pages of free map and pending list.
    let geo = &store.shared.geo;
    let meta = geo.first_data_sector / geo.spp;
    let in_use = stats.physical_pages - stats.free_pages;
    if in_use > meta + 14 {
        return Err(format!("{in_use} pages still in use after freeing everything ({stats:?})"));
    }
    Ok(())
}

/// Every extent the newest version reaches, as (byte offset, length): table,
/// free-map, pending-list, catalog and deadlist pages, data pages, and the
/// meta area (not the extents the pending list and deadlists hold, and not the
/// tables of pinned older versions). For tests that damage reachable bytes.
pub fn reachable_extents<const P: usize>(store: &Store<P>) -> Vec<(u64, u64)> {
    walk_collect(store).0
}

/// Pages (by index) that the newest root and every version it pins
/// (snapshots, history) reach, computed by walking their trees: the brute-force
/// answer to "which pages must be kept".
pub fn pinned_reachable_pages<const P: usize>(store: &Store<P>) -> std::collections::BTreeSet<u64> {
    let (current, pinned) = walk_collect(store);
    let mut out = std::collections::BTreeSet::new();
    for (start, len) in current.into_iter().chain(pinned) {
        out.extend(start / P as u64..(start + len).div_ceil(P as u64));
    }
    out
}

/// Pages (by index, the meta area included) the free map marks in use.
pub fn in_use_pages<const P: usize>(store: &Store<P>) -> std::collections::BTreeSet<u64> {
    let txn = store.begin_read().expect("read txn");
    let shared = &store.shared;
    let reader = txn.reader();
    let spp = shared.geo.spp;
    let pages = txn.root.file_len / P as u64;
    let meta = shared.geo.first_data_sector / spp;
    let mut out: std::collections::BTreeSet<u64> = (0..meta).collect();
    for p in meta..pages {
        if crate::space::bits_in_use(&reader, &shared.geo, &txn.root, p * spp, spp).expect("free map readable") {
            out.insert(p);
        }
    }
    out
}

/// (byte offset, length) pairs.
type Extents = Vec<(u64, u64)>;

/// The newest root's own extents, and those of the tables it pins.
fn walk_collect<const P: usize>(store: &Store<P>) -> (Extents, Extents) {
    let txn = store.begin_read().expect("read txn");
    let shared = &store.shared;
    let reader = txn.reader();
    let mode = crate::verify::Mode::Collect;
    let mut walker = crate::verify::Walker::new(reader, &shared.geo, &txn.root, shared.zero_hash, mode);
    walker.run();
    let sector = crate::format::SECTOR;
    let meta = shared.geo.meta_len();
    let mut current: Vec<(u64, u64)> = vec![(0, meta)];
    current.extend(walker.extents.iter().map(|&(s, n)| (s * sector, n * sector)));
    current.sort_unstable();
    let pinned = walker.pinned_extents.iter().map(|&(s, n)| (s * sector, n * sector)).collect();
    (current, pinned)
}

/// A copy of the store's current file contents. Panics while a write
/// transaction is open (it could be writing the file meanwhile).
pub fn image<const P: usize>(store: &Store<P>) -> Vec<u8> {
    store.shared.image().expect("an image is taken while no write transaction is open")
}

/// A seed from the environment variable `var`, or from the clock; printed so
/// a failing run can be repeated.
pub fn seed_from_env(var: &str) -> u64 {
    let seed = std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("{var}={seed}");
    seed
}

/// A fixed workload that touches every kind of operation: allocation, writes
/// (zero and not), frees, bulk frees, aborts, a reader and a sync. The crash
/// tests cut the power at each of its storage operations; the fuzz corpus
/// starts from it.
pub fn sample_workload() -> Vec<Op> {
    use Op::*;
    vec![
        Alloc(30),
        Write(0, 1),
        Write(5, 1),
        Write(29, 1),
        Commit,
        Write(3, 1),
        Free(7),
        Alloc(3),
        Commit,
        Reader,
        FreeBulk(2, 10),
        Write(1, 0),
        Commit,
        Alloc(40),
        Write(33, 1),
        Write(50, 1),
        Commit,
        Write(2, 1),
        Abort,
        Free(0),
        Write(4, 1),
        Commit,
        Sync,
        Write(9, 1),
        Commit,
        // A large commit: its shadow pages are written while they are hashed,
        // and synced before the root.
        Alloc(64),
        Alloc(64),
        Alloc(64),
        Alloc(64),
        Alloc(64),
        WriteAll,
        Commit,
    ]
}

/// Fills `out` with pseudo-random bytes from `seed` (xorshift64, 8 bytes at a
/// time): distinct, incompressible page contents for tests.
pub fn fill_pattern(out: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

/// The meta-area layout of a store file `image`, from its header: panics when
/// the header does not decode.
pub fn layout_of(image: &[u8]) -> crate::format::Layout {
    crate::format::Header::decode(image).expect("a valid header in the image").layout()
}

/// Byte offset of root slot `slot` in a store file `image`.
pub fn root_slot_offset(image: &[u8], slot: usize) -> u64 {
    layout_of(image).root_slot_offset(slot)
}

/// The newest root in a store file `image` (page size `page_size`) and its
/// slot, for tests that craft files: panics when neither slot decodes to one.
pub fn newest_root(image: &[u8], page_size: usize) -> (usize, crate::format::Root) {
    let layout = layout_of(image);
    (0..2)
        .filter_map(|slot| {
            let at = root_slot_offset(image, slot) as usize;
            let bytes = image.get(at..at + crate::format::SECTOR as usize)?;
            crate::format::Root::decode(bytes, page_size, layout, at as u64).ok().flatten().map(|r| (slot, r))
        })
        .max_by_key(|(_, r)| r.version)
        .expect("a valid root in the image")
}

/// Writes `root` into `slot` of a store file `image`, its checksum resealed.
pub fn write_root(image: &mut [u8], slot: usize, root: &crate::format::Root) {
    let at = root_slot_offset(image, slot) as usize;
    image[at..at + crate::format::SECTOR as usize].copy_from_slice(&root.encode());
}
