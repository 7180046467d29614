//! `replay`: how close mappedpages' one-page durable commits (W1) come to what
//! the device allows for the writes they make, and what other layouts of the
//! same commit would allow.
//!
//! `cargo run --release -p mappedpages-bench --bin replay [-- COMMITS]`
//!
//! A store on a file, loaded with 50 000 pages like W1's, commits one random
//! page at a time through a storage wrapper that records every write. After
//! each block of commits, the same writes are replayed with `pwrite` +
//! `fdatasync` on a second file, written in full beforehand, in these forms:
//!
//! - *engine*: the commits themselves (engine CPU, kernel and device);
//! - *recorded writes*: exactly the commits' writes, nothing else (kernel and
//!   device): the ceiling of this layout;
//! - *root in the run*: the same without the root sector, the metadata run one
//!   page longer, as a layout with the root inside the run would write;
//! - *one write*: the data page and the root inside the run as well, one
//!   write per commit;
//! - *raw page*: one page at a random place, W1's `raw` engine.
//!
//! The forms take turns block by block, so the machine's drift hits them alike.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mappedpages::storage::{FileMode, FileStorage, RawView, Storage};
use mappedpages::{Options, PageId, Store};

const PAGE: usize = 4096;
const LIVE: u64 = 50_000;
const BLOCK: usize = 250;
const WARMUP: usize = 2_000;

/// One write call of a commit: where, how long, and whether its bytes start
/// with a magic (`MP…`): the metadata run, or the root record (the one write
/// in the file's first page).
#[derive(Clone, Copy)]
struct Write {
    offset: u64,
    len: u64,
    metadata: bool,
}

/// The writes of each commit, split at its sync.
#[derive(Default)]
struct Log {
    commits: Vec<Vec<Write>>,
    current: Vec<Write>,
}

impl Log {
    /// The commits recorded since the last call.
    fn take(log: &Mutex<Log>) -> Vec<Vec<Write>> {
        std::mem::take(&mut log.lock().unwrap_or_else(|e| e.into_inner()).commits)
    }
}

/// A file storage that records its writes into a log the caller shares.
struct Recording {
    inner: FileStorage,
    log: Arc<Mutex<Log>>,
}

impl Recording {
    fn note(&self, offset: u64, len: u64, first: &[u8]) {
        let metadata = first.starts_with(b"MP");
        self.log.lock().unwrap_or_else(|e| e.into_inner()).current.push(Write { offset, len, metadata });
    }
}

// SAFETY: every view is the inner storage's, borrowed through `self`, and its
// bytes change only through the inner `write` methods, which only ours call.
unsafe impl Storage for Recording {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn grow(&self, new_len: u64) -> std::io::Result<()> {
        self.inner.grow(new_len)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.note(offset, data.len() as u64, data);
        self.inner.write(offset, data)
    }
    fn write_vectored(&self, offset: u64, bufs: &[&[u8]]) -> std::io::Result<()> {
        let len = bufs.iter().map(|b| b.len() as u64).sum();
        self.note(offset, len, bufs.first().copied().unwrap_or(&[]));
        self.inner.write_vectored(offset, bufs)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.inner.sync()?;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let done = std::mem::take(&mut log.current);
        log.commits.push(done);
        Ok(())
    }
    fn start_writeback(&self, offset: u64, len: u64) {
        self.inner.start_writeback(offset, len)
    }
    fn unwritten_from(&self) -> u64 {
        self.inner.unwritten_from()
    }
    fn view(&self) -> RawView<'_> {
        self.inner.view()
    }
}

/// The ways a block of recorded commits is written again.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    Recorded,
    RootInRun,
    OneWrite,
    RawPage,
}

impl Form {
    /// The writes (offset, length) `self` makes for one recorded commit;
    /// `random_page` gives the raw page's place.
    fn writes(self, commit: &[Write], random_page: &mut dyn FnMut() -> u64) -> Vec<(u64, u64)> {
        if self == Form::RawPage {
            return vec![(random_page() * PAGE as u64, PAGE as u64)];
        }
        let root = |w: &Write| w.offset < PAGE as u64;
        let run = commit.iter().filter(|w| w.metadata && !root(w)).max_by_key(|w| w.len);
        let extra = match self {
            Form::RootInRun => 1,
            Form::OneWrite => 2,
            Form::Recorded | Form::RawPage => 0,
        };
        let mut out = Vec::new();
        for w in commit {
            let is_run = run.is_some_and(|r| r.offset == w.offset);
            let single_data = !w.metadata && w.len == PAGE as u64;
            match self {
                Form::Recorded => out.push((w.offset, w.len)),
                Form::RootInRun if root(w) => {}
                Form::OneWrite if root(w) || single_data => {}
                _ if is_run => out.push((w.offset, w.len + extra * PAGE as u64)),
                _ => out.push((w.offset, w.len)),
            }
        }
        out
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let commits: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3_000).max(BLOCK);
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), std::path::PathBuf::from);
    let dir = dir.join("bench").join("replay");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    let storage = FileStorage::open(&dir.join("store.mp"), FileMode::Create, mappedpages::storage::DEFAULT_RESERVE)?;
    let log = Arc::new(Mutex::new(Log::default()));
    let store = Store::<PAGE>::create_on(Recording { inner: storage, log: log.clone() }, Options::default())?;
    let mut page = vec![0x3Cu8; PAGE];
    for _ in 0..4 {
        let mut w = store.begin_write()?;
        for id in w.alloc_bulk(LIVE as usize / 4)? {
            w.write(id, &page)?;
        }
        w.commit()?;
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut stamp = 0u64;
    let mut commit_block = |n: usize, next: &mut dyn FnMut() -> u64| -> Result<Duration, mappedpages::Error> {
        let t = Instant::now();
        for _ in 0..n {
            stamp += 1;
            page[..8].copy_from_slice(&stamp.to_le_bytes());
            let mut w = store.begin_write()?;
            w.write(PageId::from_raw(next() % LIVE), &page)?;
            w.commit()?;
        }
        Ok(t.elapsed())
    };
    commit_block(WARMUP, &mut next)?;
    Log::take(&log);

    // The replay file: as long as the store may grow to, written in full, so
    // no replayed write lands on space the file system must allocate.
    let len = std::fs::metadata(dir.join("store.mp"))?.len() + (64 << 20);
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(dir.join("replay.dat"))?;
    fill(&file, len)?;
    let buf = vec![0xA5u8; 64 * PAGE];

    let forms = [Form::Recorded, Form::RootInRun, Form::OneWrite, Form::RawPage];
    let mut engine = Timing::default();
    let mut totals = [Timing::default(); 4];
    let (mut calls, mut pages, mut n) = (0usize, 0u64, 0usize);
    while n + BLOCK <= commits {
        let cpu = cpu_times();
        engine.wall += commit_block(BLOCK, &mut next)?;
        engine.add_cpu(cpu);
        let block = Log::take(&log);
        calls += block.iter().map(Vec::len).sum::<usize>();
        pages += block.iter().flatten().map(|w| w.len.div_ceil(PAGE as u64)).sum::<u64>();
        for (form, total) in forms.iter().zip(&mut totals) {
            let (t, cpu) = (Instant::now(), cpu_times());
            for commit in &block {
                let mut random_page = || next() % (len / PAGE as u64 - 1) + 1;
                for (offset, len) in form.writes(commit, &mut random_page) {
                    for at in (0..len).step_by(buf.len()) {
                        let part = (len - at).min(buf.len() as u64) as usize;
                        file.write_all_at(&buf[..part], offset + at)?;
                    }
                }
                file.sync_data()?;
            }
            total.wall += t.elapsed();
            total.add_cpu(cpu);
        }
        n += BLOCK;
    }
    drop(store);

    let rate = |d: &Timing| n as f64 / d.wall.as_secs_f64();
    println!(
        "{n} one-page commits on {} ({:.2} write calls, {:.1} pages per commit), replayed block by block",
        dir.display(),
        calls as f64 / n as f64,
        pages as f64 / n as f64
    );
    println!(
        "{:44} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "", "commits/s", "us/commit", "user us", "system us", "vs engine"
    );
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    let row = |name: &str, t: &Timing| {
        println!(
            "{name:44} {:>9.0} {:>10.1} {:>10.1} {:>10.1} {:>9.2}x",
            rate(t),
            per(t.wall),
            per(t.user),
            per(t.system),
            rate(t) / rate(&engine)
        );
    };
    row("engine (mappedpages, W1)", &engine);
    row("its writes alone (pwrite + fdatasync)", &totals[0]);
    row("  without the root sector, run 1 page longer", &totals[1]);
    row("  one write: data page and root in the run", &totals[2]);
    row("raw: 1 page at a random place", &totals[3]);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Writes `len` bytes of filler at the start of `file` and syncs it.
fn fill(file: &File, len: u64) -> std::io::Result<()> {
    let chunk = vec![0x5Au8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(chunk.len() as u64) as usize;
        file.write_all_at(&chunk[..n], at)?;
        at += n as u64;
    }
    file.sync_all()
}

/// Wall-clock and CPU time spent on one form, summed over its blocks.
#[derive(Clone, Copy, Default)]
struct Timing {
    wall: Duration,
    user: Duration,
    system: Duration,
}

impl Timing {
    /// Adds the CPU time this thread used since `before` (from `cpu_times`).
    fn add_cpu(&mut self, before: (Duration, Duration)) {
        let now = cpu_times();
        self.user += now.0.saturating_sub(before.0);
        self.system += now.1.saturating_sub(before.1);
    }
}

/// User and system CPU time of this thread so far.
fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (time(usage.ru_utime), time(usage.ru_stime))
}
