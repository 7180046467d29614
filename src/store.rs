//! The store: opening, recovery, and the state shared by its transactions.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result, Structure};
use crate::format::{CatalogEntry, Hash16, Header, Root, SECTOR, VersionSummary, hash16, meta_pages, root_slot_offset};
use crate::geometry::Geometry;
use crate::space::{PendingGroup, load_chain};
use crate::storage::{FileStorage, PageReader, Storage, file::FileMode};
use crate::txn::{ReadTxn, WriteTxn};
use crate::verify::{VerifyReport, Walker};
use crate::versions::load_catalog;
use crate::{Damage, Version};

/// When a commit is durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `commit` returns after the commit is on disk (one fdatasync for
    /// ordinary commits). A power cut never loses an acknowledged commit.
    #[default]
    Immediate,
    /// `commit` returns without syncing; the store syncs when
    /// [`Options::eventual_sync_bytes`] unsynced bytes have piled up, on
    /// [`Store::sync`] and when dropped. A power cut may lose the newest commits
    /// but never leaves a partial one.
    Eventual,
}

/// How to open a store.
#[derive(Clone, Debug)]
pub struct Options {
    /// When commits are durable.
    pub durability: Durability,
    /// Address space reserved for the file mapping; growing past it adds a new
    /// mapping (old views stay valid), so this only affects performance.
    pub reserve: u64,
    /// With [`Durability::Eventual`], sync once this many bytes are unsynced.
    pub eventual_sync_bytes: u64,
    /// Commits writing more than this many bytes sync their pages before their
    /// root (two syncs), so that recovery need not check them.
    pub presync_bytes: u64,
    /// The file never grows beyond this many bytes.
    pub max_file_len: u64,
    /// Check each page's checksum on every read (slower; the default trusts the
    /// mapping and leaves checking to [`Store::verify`]).
    pub verify_reads: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Immediate,
            reserve: crate::storage::file::DEFAULT_RESERVE,
            eventual_sync_bytes: 64 << 20,
            presync_bytes: 8 << 20,
            max_file_len: 1 << 46,
            verify_reads: false,
        }
    }
}

/// Counts describing a store's current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// The newest committed version.
    pub version: Version,
    /// Page size in bytes.
    pub page_size: usize,
    /// Allocated logical pages.
    pub live_pages: u64,
    /// Pages in the file, header included.
    pub physical_pages: u64,
    /// Pages free for new writes.
    pub free_pages: u64,
    /// Pages freed by recent commits and kept until no reader, fallback root
    /// or history version needs them (history-held pages included).
    pub pending_pages: u64,
    /// Of those, pages kept only because the history window still reads them.
    pub history_pages: u64,
    /// Pages kept only by snapshots (freed by later commits).
    pub snapshot_pages: u64,
    /// One past the largest logical id ever handed out.
    pub next_id: u64,
}

/// What a writer needs between transactions.
pub(crate) struct WriterState {
    /// Newest version known to be on disk.
    pub durable_version: u64,
    /// Slot holding that version's root; commits write the other slot.
    pub durable_slot: usize,
    /// The lowest history start of that root and of every root committed since
    /// (a crash may go back to any of them), so what their windows keep stays.
    pub durable_history_start: u64,
    pub unsynced_bytes: u64,
    /// Pending-free groups, oldest first.
    pub pending: VecDeque<PendingGroup>,
    /// Set when a write or sync failed: the store must be reopened.
    pub poisoned: bool,
    /// Set at open: the recovered root may have reached only the page cache (the
    /// last writer may have died before its sync), and the other slot may hold a
    /// rejected root. The first commit clears that slot and syncs before it
    /// writes anything else.
    pub settle_before_write: Option<SettleRecovery>,
    /// No free page lies below this sector, as of the last commit.
    pub free_hint: u64,
    /// Where the last hole for a run was found: the next search starts there.
    pub hole_hint: u64,
    /// Where the last allocation outside a run ended: the next one looks on
    /// from there (next fit).
    pub fill_cursor: u64,
    /// The lowest byte no commit wrote since the store was opened: small
    /// commits write zeros ahead of it (`txn::prefill`). Found by the first
    /// commit, so that opening asks the file system nothing.
    pub frontier: Option<u64>,
    /// The snapshot catalog.
    pub snapshots: Vec<CatalogEntry>,
    /// The snapshots of that root and of every root committed since (a crash
    /// may go back to any of them): they keep their pages until a root without
    /// them is durable.
    pub durable_snapshots: Vec<CatalogEntry>,
    /// (sector, written) of the catalog's pages.
    pub catalog_pages: Vec<(u64, u64)>,
}

/// A root that was newer than the one recovered but failed its checks at open.
///
/// After a crash during a commit this is expected: the commit's pages did not
/// all reach the disk. On a store that was closed cleanly it means that pages of
/// the newest commit were damaged after they were written, and that commit was
/// rolled back. Either way [`Store::verify`] reports it until the next commit
/// overwrites the slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedRoot {
    /// The version it would have opened.
    pub version: Version,
    /// Its slot (0 or 1).
    pub slot: usize,
    /// The first check it failed.
    pub reason: String,
}

/// What the first commit after open does before writing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SettleRecovery {
    /// Slot to zero: it holds a root newer than the recovered one, or garbage.
    pub clear_slot: Option<usize>,
}

/// The committed root and the versions readers hold.
pub(crate) struct Published {
    pub root: Arc<Root>,
    pub pins: BTreeMap<u64, usize>,
    /// Snapshots readers may open.
    pub snapshots: Arc<Vec<CatalogEntry>>,
    /// Older versions readers may open, oldest first.
    pub history: Arc<Vec<VersionSummary>>,
    /// Sectors of content records held only for the history window.
    pub history_sectors: u64,
}

pub(crate) struct Shared {
    pub storage: Box<dyn Storage>,
    pub geo: Geometry,
    pub options: Options,
    pub header: Header,
    pub zero_page: Box<[u8]>,
    pub zero_hash: Hash16,
    pub published: Mutex<Published>,
    pub writer: Mutex<WriterSlot>,
    /// Signalled when the writer state returns while `WriterSlot::waiting > 0`.
    pub writer_free: Condvar,
    pub writable: bool,
    /// A root newer than the recovered one that failed recovery's checks.
    pub rejected: Mutex<Option<RejectedRoot>>,
}

/// The writer state while no write transaction holds it, and how many callers
/// of `begin_write` wait for it (so that a commit wakes nobody, with no system
/// call, when nobody waits).
pub(crate) struct WriterSlot {
    pub state: Option<WriterState>,
    pub waiting: usize,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl Shared {
    /// A reader for the current file, valid while `'a` pins what it reads.
    ///
    /// # Safety
    ///
    /// Whatever the caller reads through it must be reached by a root that stays
    /// pinned (or unwritten) for `'a`.
    pub unsafe fn reader<'a>(&'a self) -> PageReader<'a> {
        // SAFETY: forwarded to the caller.
        unsafe { PageReader::new(self.storage.view(), self.geo.page_size) }
    }

    pub fn current(&self) -> Arc<Root> {
        Arc::clone(&lock(&self.published).root)
    }
}

/// A transactional, copy-on-write page store in one file.
///
/// `PAGE_SIZE` is a power of two of at least 1024 bytes, checked at compile time.
/// The store is `Send + Sync`: share it with `Arc` and run any number of
/// [`ReadTxn`]s on any threads while one [`WriteTxn`] at a time commits.
///
/// ```
/// use mappedpages::Store;
/// # fn main() -> Result<(), mappedpages::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::<4096>::create(dir.path().join("pages.db"))?;
///
/// let mut w = store.begin_write()?;
/// let id = w.alloc()?;
/// w.page_mut(id)?[..5].copy_from_slice(b"hello");
/// let version = w.commit()?;
///
/// let r = store.begin_read()?;
/// assert_eq!(&r.page(id)?[..5], b"hello");
/// assert_eq!(r.version(), version);
/// # Ok(()) }
/// ```
pub struct Store<const PAGE_SIZE: usize> {
    pub(crate) shared: Shared,
}

impl<const PAGE_SIZE: usize> Store<PAGE_SIZE> {
    pub(crate) const VALID_PAGE_SIZE: () = assert!(
        PAGE_SIZE.is_power_of_two() && PAGE_SIZE >= 1024 && PAGE_SIZE <= 1 << 30,
        "PAGE_SIZE must be a power of two between 1024 and 2^30"
    );

    /// Creates a new store file; fails with [`Error::AlreadyExists`] if the path exists.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::create_with(path, Options::default())
    }

    /// Creates a new store file with options.
    pub fn create_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        let storage = FileStorage::open(path.as_ref(), FileMode::Create, options.reserve).map_err(open_error)?;
        Self::create_on(storage, options)
    }

    /// Opens an existing store file for reading and writing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Options::default())
    }

    /// Opens an existing store file with options. Fails with [`Error::Locked`] at
    /// once if another handle holds the file.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        let storage = FileStorage::open(path.as_ref(), FileMode::Write, options.reserve).map_err(open_error)?;
        Self::open_on(storage, options)
    }

    /// Creates a new store on an empty [`Storage`] (in memory, simulated, …).
    pub fn create_on(storage: impl Storage, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        if !storage.is_empty() {
            return Err(Error::AlreadyExists);
        }
        let meta = meta_pages(PAGE_SIZE) * PAGE_SIZE as u64;
        let mut store_id = [0u8; 16];
        store_id.copy_from_slice(&hash16(
            &now_nanos().to_le_bytes().iter().chain(&std::process::id().to_le_bytes()).copied().collect::<Vec<u8>>(),
        ));
        let header = Header {
            page_size: PAGE_SIZE as u32,
            incompat_features: 0,
            compat_features: 0,
            created_nanos: now_nanos(),
            store_id,
        };
        let root = Root { version: 0, commit_nanos: now_nanos(), file_len: meta, ..Root::default() };
        storage.grow(meta).map_err(Error::io("creating the store"))?;
        storage.write(0, &header.encode()).map_err(Error::io("writing the header"))?;
        storage.write(root_slot_offset(0), &root.encode()).map_err(Error::io("writing the first root"))?;
        storage.sync().map_err(Error::io("syncing a new store"))?;
        Self::open_on(storage, options)
    }

    /// Opens a store on a [`Storage`], recovering the newest intact commit.
    pub fn open_on(storage: impl Storage, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        Ok(Store { shared: open_shared(Box::new(storage), options, PAGE_SIZE, true)? })
    }

    /// Starts a read transaction on the newest committed version. Never waits
    /// for the writer.
    pub fn begin_read(&self) -> Result<ReadTxn<'_, PAGE_SIZE>> {
        Ok(ReadTxn::new(&self.shared))
    }

    /// Starts the write transaction, waiting while another one is open.
    pub fn begin_write(&self) -> Result<WriteTxn<'_, PAGE_SIZE>> {
        if !self.shared.writable {
            return Err(Error::ReadOnly);
        }
        let mut slot = lock(&self.shared.writer);
        loop {
            if let Some(state) = slot.state.take() {
                drop(slot);
                return WriteTxn::new(&self.shared, state);
            }
            slot.waiting += 1;
            slot = self.shared.writer_free.wait(slot).unwrap_or_else(|e| e.into_inner());
            slot.waiting -= 1;
        }
    }

    /// Starts the write transaction, or fails with [`Error::WriteInProgress`] at
    /// once if another one is open.
    pub fn try_begin_write(&self) -> Result<WriteTxn<'_, PAGE_SIZE>> {
        if !self.shared.writable {
            return Err(Error::ReadOnly);
        }
        let state = lock(&self.shared.writer).state.take().ok_or(Error::WriteInProgress)?;
        WriteTxn::new(&self.shared, state)
    }

    /// The newest committed version.
    pub fn version(&self) -> Version {
        Version(self.shared.current().version)
    }

    /// The page size, `PAGE_SIZE`.
    pub fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    /// Counts for the newest committed version.
    pub fn stats(&self) -> Stats {
        let root = self.shared.current();
        let spp = self.shared.geo.spp;
        Stats {
            version: Version(root.version),
            page_size: PAGE_SIZE,
            live_pages: if root.table_depth == 0 { 0 } else { root.table.live },
            physical_pages: root.file_len / PAGE_SIZE as u64,
            free_pages: if root.map_depth == 0 { 0 } else { root.map.free / spp },
            pending_pages: root.pending_sectors / spp,
            history_pages: lock(&self.shared.published).history_sectors / spp,
            snapshot_pages: root.snapshot_sectors / spp,
            next_id: root.next_id,
        }
    }

    /// Makes every commit so far durable (with [`Durability::Eventual`]; a no-op
    /// cost otherwise).
    pub fn sync(&self) -> Result<()> {
        let w = self.begin_write()?;
        w.sync_and_abort()
    }

    /// The root rejected when the store was opened, if a newer one than the
    /// recovered version was found and failed its checks (see [`RejectedRoot`]).
    pub fn rejected_root(&self) -> Option<RejectedRoot> {
        lock(&self.shared.rejected).clone()
    }

    /// Checks everything the newest version reaches: the header, the root, every
    /// table and free-map node, the pending list and every page's checksum, and
    /// that no two structures share space. Each damaged structure is reported with
    /// the logical ids it affects.
    pub fn verify(&self) -> Result<VerifyReport> {
        let txn = self.begin_read()?;
        Ok(verify_root(&self.shared, &txn.root))
    }
}

pub(crate) fn verify_root(shared: &Shared, root: &Root) -> VerifyReport {
    // SAFETY: the caller holds a read transaction pinning `root`.
    let reader = unsafe { shared.reader() };
    let mut walker = Walker::new(reader, &shared.geo, root, shared.zero_hash, true);
    walker.run();
    let mut damage = std::mem::take(&mut walker.damage);
    check_meta_area(shared, &reader, root, &mut damage);
    VerifyReport {
        version: Version(root.version),
        pages_checked: walker.pages_checked,
        nodes_checked: walker.nodes_checked,
        leaked_sectors: walker.leaked_sectors,
        damage,
        rejected_root: lock(&shared.rejected).clone(),
    }
}

/// The header must decode; the other root slot must be empty or a valid root;
/// the rest of the meta area must be zero.
fn check_meta_area(shared: &Shared, reader: &PageReader<'_>, root: &Root, damage: &mut Vec<Damage>) {
    let mut report = |structure, offset, detail: String| {
        damage.push(Damage { structure, offset, ids: None, version: Version(root.version), detail })
    };
    match reader.bytes(0, SECTOR as usize, Structure::Header).and_then(Header::decode) {
        Ok(h) if h == shared.header => {}
        Ok(_) => report(Structure::Header, 0, "header changed since open".into()),
        Err(e) => report(Structure::Header, 0, e.to_string()),
    }
    for slot in 0..2 {
        let offset = root_slot_offset(slot);
        if let Err(e) = reader
            .bytes(offset / SECTOR, SECTOR as usize, Structure::Root)
            .and_then(|b| Root::decode(b, shared.geo.page_size, offset))
        {
            report(Structure::Root, offset, e.to_string());
        }
    }
    let meta_len = (meta_pages(shared.geo.page_size) * shared.geo.page_size as u64) as usize;
    if let Ok(rest) = reader.bytes(3, meta_len - 3 * SECTOR as usize, Structure::File)
        && let Some(i) = rest.iter().position(|&b| b != 0)
    {
        report(Structure::File, 3 * SECTOR + i as u64, "unused bytes of the meta area are not zero".into());
    }
}

pub(crate) fn open_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::WouldBlock => Error::Locked,
        std::io::ErrorKind::AlreadyExists => Error::AlreadyExists,
        _ => Error::Io { context: "opening the file", source: e },
    }
}

/// Reads the header, picks the newest root that passes recovery's checks, and
/// (for a writer) makes it durable and loads the pending list.
pub(crate) fn open_shared(
    storage: Box<dyn Storage>,
    options: Options,
    page_size: usize,
    writable: bool,
) -> Result<Shared> {
    let geo = Geometry::new(page_size);
    let len = storage.len();
    if len < 3 * SECTOR {
        return Err(Error::UnsupportedFormat(format!("file is {len} bytes, shorter than the header and roots")));
    }
    let zero_page = vec![0u8; page_size].into_boxed_slice();
    let zero_hash = hash16(&zero_page);
    // SAFETY: nothing writes the storage while it is being opened: no writer exists yet.
    let reader = unsafe { PageReader::new(storage.view(), page_size) };
    let header = Header::decode(reader.bytes(0, SECTOR as usize, Structure::Header)?)?;
    if header.page_size as usize != page_size {
        return Err(Error::PageSizeMismatch { on_disk: header.page_size, expected: page_size as u32 });
    }
    let mut candidates = Vec::new();
    let mut rejected = Vec::new();
    let mut garbage = [false; 2];
    for (slot, garbage) in garbage.iter_mut().enumerate() {
        let offset = root_slot_offset(slot);
        match reader
            .bytes(offset / SECTOR, SECTOR as usize, Structure::Root)
            .and_then(|b| Root::decode(b, page_size, offset))
        {
            Ok(Some(root)) => candidates.push((root, slot)),
            Ok(None) => rejected.push(format!("slot {slot}: empty")),
            Err(e) => {
                *garbage = true;
                rejected.push(format!("slot {slot}: {e}"));
            }
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0.version));
    let mut chosen = None;
    let mut newest_rejected = None;
    for (root, slot) in candidates {
        match check_candidate(&reader, &geo, &root, zero_hash) {
            Ok(loaded) => {
                chosen = Some((root, slot, loaded));
                break;
            }
            Err(e) => {
                rejected.push(format!("slot {slot} (version {}): {e}", root.version));
                if newest_rejected.is_none() {
                    newest_rejected =
                        Some(RejectedRoot { version: Version(root.version), slot, reason: e.to_string() });
                }
            }
        }
    }
    let Some((root, slot, (pending, (snapshots, catalog_pages)))) = chosen else {
        return Err(Error::NoValidRoot { detail: rejected.join("; ") });
    };
    // The pending list (with the history window's summaries) and the catalog:
    // both as small as what is pinned, never the data.
    let history = crate::txn::summaries_from(pending.iter(), root.history_start);
    let published = Published {
        root: Arc::new(root),
        pins: BTreeMap::new(),
        snapshots: Arc::new(snapshots.clone()),
        history: Arc::new(history),
        history_sectors: crate::txn::history_held(pending.iter(), root.history_start),
    };
    let writer = if writable {
        let other = 1 - slot;
        let newer_rejected = slot_version(&reader, page_size, other).is_some_and(|v| v > root.version);
        let clear_slot = (garbage[other] || newer_rejected).then_some(other);
        Some(WriterState {
            durable_version: root.version,
            durable_history_start: root.history_start,
            durable_slot: slot,
            unsynced_bytes: 0,
            pending,
            poisoned: false,
            settle_before_write: Some(SettleRecovery { clear_slot }),
            free_hint: geo.first_data_sector,
            hole_hint: geo.first_data_sector,
            fill_cursor: geo.first_data_sector,
            frontier: None,
            durable_snapshots: snapshots.clone(),
            snapshots,
            catalog_pages,
        })
    } else {
        None
    };
    Ok(Shared {
        storage,
        geo,
        options,
        header,
        zero_page,
        zero_hash,
        published: Mutex::new(published),
        writer: Mutex::new(WriterSlot { state: writer, waiting: 0 }),
        writer_free: Condvar::new(),
        writable,
        rejected: Mutex::new(newest_rejected.filter(|r: &RejectedRoot| r.version.get() > root.version)),
    })
}

/// Recovery's checks of one root: every page written after `synced_through`
/// matches its checksum (the walk), and the pending list, the catalog and the
/// newest deadlist pages read back whole. Returns the list and catalog.
fn check_candidate(
    reader: &PageReader<'_>,
    geo: &Geometry,
    root: &Root,
    zero_hash: Hash16,
) -> Result<(std::collections::VecDeque<PendingGroup>, crate::versions::LoadedCatalog)> {
    let mut walker = Walker::new(*reader, geo, root, zero_hash, false);
    walker.run();
    if let Some(e) = walker.into_error() {
        return Err(e);
    }
    let pending = load_chain(reader, root.pending, root.history_floor, root.structure_floor, root.pending_floor)?;
    let catalog = load_catalog(reader, root.catalog)?;
    for entry in &catalog.0 {
        crate::space::read_chain(
            reader,
            entry.deadlist,
            root.synced_through,
            crate::format::DEADLIST_MAGIC,
            |l, _, p| crate::space::page_records(p, l).map(|_| ()),
        )?;
    }
    Ok((pending, catalog))
}

/// The version of the root in `slot`, if it decodes.
fn slot_version(reader: &PageReader<'_>, page_size: usize, slot: usize) -> Option<u64> {
    let offset = root_slot_offset(slot);
    reader
        .bytes(offset / SECTOR, SECTOR as usize, Structure::Root)
        .ok()
        .and_then(|b| Root::decode(b, page_size, offset).ok().flatten())
        .map(|r| r.version)
}

impl<const P: usize> Drop for Store<P> {
    fn drop(&mut self) {
        if self.shared.writable
            && let Some(ws) = lock(&self.shared.writer).state.as_ref()
            && !ws.poisoned
            && ws.unsynced_bytes > 0
        {
            let _ = self.shared.storage.sync();
        }
    }
}
