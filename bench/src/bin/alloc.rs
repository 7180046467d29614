//! `alloc`: the built-in allocation strategies side by side, after a churn of
//! mixed-size extents.
//!
//! `cargo run --release -p mappedpages-bench --bin alloc [-- FLAGS]` (see `--help`).
//!
//! For each strategy, a store on a file in the work directory is loaded with
//! `--objects` objects and then churned for `--rounds` durable commits; an
//! object is 1 to 16 pages written by one commit (so the strategy is asked
//! for one run of that many pages), sized like a mix of compressed pages
//! (1 to 2 pages, 60 %; 3 to 4, 30 %) and raw multi-page records (5 to 16,
//! 10 %). Each churn commit frees a random object and writes a new one of a
//! new random size: the live data stays about the same, the free space
//! fragments. Compression is not built yet, so object sizes are whole pages.
//!
//! After the churn: the free map's holes by size (powers of two), the largest
//! hole, the file size over the live data; then W1 (`--commits` durable
//! one-page overwrites of random live pages, commits/s) and W2 (`--batches`
//! durable commits of 100 random live pages, pages/s) on the churned store,
//! as in the peers benchmark. Strategies take turns run by run; the figures
//! are medians of `--runs` runs, with each strategy's ratio to next fit (the
//! default). Results go to `target/bench/alloc.json` too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mappedpages::storage::{DEFAULT_RESERVE, FileMode, FileStorage, RawView, Storage};
use mappedpages::{Allocation, Durability, FreeSpace, Options, PageId, Store};

const PAGE: usize = 4096;

const HELP: &str = "\
alloc — the allocation strategies after a churn of mixed-size extents

USAGE:
    cargo run --release -p mappedpages-bench --bin alloc -- [FLAGS]

FLAGS:
    --objects N    objects loaded before the churn               [4000]
    --rounds N     churn commits (free one object, write one)    [4000]
    --commits N    W1: one-page durable commits per run          [1000]
    --batches N    W2: 100-page durable commits per run          [50]
    --runs N       runs per strategy (median reported)           [3]
    --smoke        tiny sizes (CI; nothing is asserted)
    --dir PATH     work directory [<workspace>/target/bench/tmp]
    --json PATH    result file [<workspace>/target/bench/alloc.json]
    --seed N       seed                                           [42]
";

struct Args {
    objects: u64,
    rounds: u64,
    commits: u64,
    batches: u64,
    runs: usize,
    dir: Option<PathBuf>,
    json: Option<PathBuf>,
    seed: u64,
}

fn parse() -> Result<Option<Args>, String> {
    let mut a =
        Args { objects: 4000, rounds: 4000, commits: 1000, batches: 50, runs: 3, dir: None, json: None, seed: 42 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--objects" => a.objects = num(value()?)?,
            "--rounds" => a.rounds = num(value()?)?,
            "--commits" => a.commits = num(value()?)?,
            "--batches" => a.batches = num(value()?)?,
            "--runs" => a.runs = num(value()?)?.max(1) as usize,
            "--seed" => a.seed = num(value()?)?,
            "--dir" => a.dir = Some(value()?.into()),
            "--json" => a.json = Some(value()?.into()),
            "--smoke" => (a.objects, a.rounds, a.commits, a.batches, a.runs) = (200, 200, 20, 4, 1),
            _ => return Err(format!("unknown flag {flag} (see --help)")),
        }
    }
    Ok(Some(a))
}

/// splitmix64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    /// An object's size in pages: 1-2 (60 %), 3-4 (30 %), 5-16 (10 %).
    fn object_pages(&mut self) -> usize {
        match self.below(10) {
            0..=5 => 1 + self.below(2) as usize,
            6..=8 => 3 + self.below(2) as usize,
            _ => 5 + self.below(12) as usize,
        }
    }
}

/// A file storage that counts its write calls (a commit writes each run of
/// contiguous pages with one call): how scattered a commit's pages are.
struct Counting {
    inner: FileStorage,
    writes: Arc<AtomicU64>,
}

// SAFETY: every view is the inner storage's, borrowed through `self`, and its
// bytes change only through the inner `write` methods, which only ours call.
unsafe impl Storage for Counting {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn grow(&self, new_len: u64) -> std::io::Result<()> {
        self.inner.grow(new_len)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write(offset, data)
    }
    fn write_vectored(&self, offset: u64, bufs: &[&[u8]]) -> std::io::Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write_vectored(offset, bufs)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.inner.sync()
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

/// What one run of one strategy measured.
#[derive(Clone, Default)]
struct Measured {
    space: FreeSpace,
    file_pages: u64,
    live_pages: u64,
    churn_per_s: f64,
    w1_per_s: f64,
    w2_pages_per_s: f64,
    /// Write calls per commit (the root's included) in W1 and W2.
    w1_writes: f64,
    w2_writes: f64,
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn write_object(w: &mut mappedpages::WriteTxn<'_, PAGE>, rng: &mut Rng, stamp: u64) -> Res<Vec<PageId>> {
    let ids = w.alloc_bulk(rng.object_pages())?;
    for &id in &ids {
        fill(w.page_mut(id)?, id.get() ^ stamp);
    }
    Ok(ids)
}

fn fill(page: &mut [u8], seed: u64) {
    for (k, chunk) in page.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k as u64).to_le_bytes());
    }
}

fn run_one(allocation: &Allocation, args: &Args, path: &Path, seed: u64) -> Res<Measured> {
    let _ = std::fs::remove_file(path);
    let mut rng = Rng(seed);
    let mut objects: Vec<Vec<PageId>> = Vec::new();
    // The load, 100 objects a commit, not durable until the end (not timed).
    let load = Options::default().allocation(allocation.clone()).durability(Durability::Eventual);
    let store = Store::<PAGE>::create_with(path, load)?;
    let mut left = args.objects;
    while left > 0 {
        let mut w = store.begin_write()?;
        for _ in 0..left.min(100) {
            objects.push(write_object(&mut w, &mut rng, 0)?);
        }
        left = left.saturating_sub(100);
        w.commit()?;
    }
    store.sync()?;
    drop(store);
    let options = Options::default().allocation(allocation.clone());
    let writes = Arc::new(AtomicU64::new(0));
    let storage =
        Counting { inner: FileStorage::open(path, FileMode::Write, DEFAULT_RESERVE)?, writes: Arc::clone(&writes) };
    let store = Store::<PAGE>::open_on(storage, options)?;
    // The churn: one durable commit frees an object and writes one.
    let started = Instant::now();
    for round in 0..args.rounds {
        let mut w = store.begin_write()?;
        let old = objects.swap_remove(rng.below(objects.len() as u64) as usize);
        for id in old {
            w.free(id)?;
        }
        objects.push(write_object(&mut w, &mut rng, round + 1)?);
        w.commit()?;
    }
    let churn_per_s = args.rounds as f64 / started.elapsed().as_secs_f64();
    let space = store.free_space()?;
    let stats = store.stats();
    let live: Vec<PageId> = objects.iter().flatten().copied().collect();
    // W1: one random live page per durable commit.
    let before = writes.load(Ordering::Relaxed);
    let started = Instant::now();
    for k in 0..args.commits {
        let mut w = store.begin_write()?;
        let id = live[rng.below(live.len() as u64) as usize];
        fill(w.page_mut(id)?, k ^ 0x5555);
        w.commit()?;
    }
    let w1_per_s = args.commits as f64 / started.elapsed().as_secs_f64();
    let w1_writes = (writes.load(Ordering::Relaxed) - before) as f64 / args.commits as f64;
    // W2: 100 random live pages per durable commit.
    let before = writes.load(Ordering::Relaxed);
    let started = Instant::now();
    for k in 0..args.batches {
        let mut w = store.begin_write()?;
        for j in 0..100 {
            let id = live[rng.below(live.len() as u64) as usize];
            fill(w.page_mut(id)?, k * 100 + j);
        }
        w.commit()?;
    }
    let w2_pages_per_s = (args.batches * 100) as f64 / started.elapsed().as_secs_f64();
    let w2_writes = (writes.load(Ordering::Relaxed) - before) as f64 / args.batches.max(1) as f64;
    if !store.verify()?.is_clean() {
        return Err(format!("{allocation:?}: verify found damage").into());
    }
    drop(store);
    std::fs::remove_file(path)?;
    Ok(Measured {
        space,
        file_pages: stats.physical_pages,
        live_pages: stats.live_pages,
        churn_per_s,
        w1_per_s,
        w2_pages_per_s,
        w1_writes,
        w2_writes,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Res<()> {
    let args = match parse() {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let work =
        args.dir.clone().unwrap_or_else(|| root.join("target/bench/tmp")).join(format!("alloc-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let strategies = Allocation::BUILT_IN;
    println!(
        "alloc: {} objects loaded, {} churn commits, W1 {} commits, W2 {}x100-page commits, runs={} (median)",
        args.objects, args.rounds, args.commits, args.batches, args.runs
    );
    let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); strategies.len()];
    for run in 0..args.runs {
        for (k, a) in strategies.iter().enumerate() {
            // The same workload (seed) for every strategy within a run.
            let m = run_one(a, &args, &work.join(format!("{}.mp", a.name())), args.seed + run as u64)?;
            eprintln!(
                "  [{}] run {}/{}: W1 {:.0}/s, W2 {:.0} pages/s; file/live {:.3}, {} holes, largest {}, \
                 writes per W1/W2 commit {:.1}/{:.1}",
                a.name(),
                run + 1,
                args.runs,
                m.w1_per_s,
                m.w2_pages_per_s,
                m.file_pages as f64 / m.live_pages.max(1) as f64,
                m.space.holes,
                m.space.largest_hole,
                m.w1_writes,
                m.w2_writes
            );
            runs[k].push(m);
        }
    }
    let _ = std::fs::remove_dir_all(&work);

    // Placement is deterministic for a seed: the space figures come from run 1.
    let med = |k: usize, f: fn(&Measured) -> f64| median(runs[k].iter().map(f).collect());
    let mut out = String::new();
    writeln!(
        out,
        "\n| strategy | file/live | used span/live | free pages | holes | largest hole | churn commits/s | W1 commits/s | W2 pages/s | W1 vs next-fit | W2 vs next-fit | writes/W1 commit | writes/W2 commit |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")?;
    let (w1_base, w2_base) = (med(0, |m| m.w1_per_s), med(0, |m| m.w2_pages_per_s));
    let mut json = String::from("{\n");
    for (k, a) in strategies.iter().enumerate() {
        let m = &runs[k][0];
        let ratio = m.file_pages as f64 / m.live_pages.max(1) as f64;
        let span = (m.file_pages - m.space.tail_pages) as f64 / m.live_pages.max(1) as f64;
        let (w1, w2, churn) = (med(k, |m| m.w1_per_s), med(k, |m| m.w2_pages_per_s), med(k, |m| m.churn_per_s));
        writeln!(
            out,
            "| {} | {ratio:.3} | {span:.3} | {} | {} | {} | {churn:.0} | {w1:.0} | {w2:.0} | {:.2} | {:.2} | {:.1} | {:.1} |",
            a.name(),
            m.space.free_pages,
            m.space.holes,
            m.space.largest_hole,
            w1 / w1_base,
            w2 / w2_base,
            m.w1_writes,
            m.w2_writes
        )?;
        let hist: Vec<String> = m.space.histogram.iter().map(|(n, p)| format!("[{n}, {p}]")).collect();
        writeln!(
            json,
            "  \"{}\": {{\"file_over_live\": {ratio:.4}, \"used_span_over_live\": {span:.4}, \"file_pages\": {}, \"live_pages\": {}, \"free_pages\": {}, \
             \"holes\": {}, \"largest_hole\": {}, \"histogram\": [{}], \"churn_commits_per_s\": {churn:.1}, \
             \"w1_commits_per_s\": {w1:.1}, \"w2_pages_per_s\": {w2:.1}, \"w1_vs_next_fit\": {:.3}, \
             \"w2_vs_next_fit\": {:.3}, \"w1_writes_per_commit\": {:.2}, \"w2_writes_per_commit\": {:.2}}}{}",
            a.name(),
            m.file_pages,
            m.live_pages,
            m.space.free_pages,
            m.space.holes,
            m.space.largest_hole,
            hist.join(", "),
            w1 / w1_base,
            w2 / w2_base,
            m.w1_writes,
            m.w2_writes,
            if k + 1 < strategies.len() { "," } else { "" }
        )?;
    }
    json.push_str("}\n");
    writeln!(out, "\nFree-space histogram after the churn: holes (pages in them) by hole size in pages")?;
    let classes = runs.iter().map(|r| r[0].space.histogram.len()).max().unwrap_or(0);
    let heads: Vec<String> =
        (0..classes).map(|c| if c == 0 { "1".into() } else { format!("{}-{}", 1u64 << c, (2u64 << c) - 1) }).collect();
    writeln!(out, "| strategy | {} |", heads.join(" | "))?;
    writeln!(out, "| --- |{}", " --- |".repeat(classes))?;
    for (k, a) in strategies.iter().enumerate() {
        let h = &runs[k][0].space.histogram;
        let cells: Vec<String> = (0..classes)
            .map(|c| h.get(c).map_or("0".into(), |(n, p)| if *n == 0 { "0".into() } else { format!("{n} ({p})") }))
            .collect();
        writeln!(out, "| {} | {} |", a.name(), cells.join(" | "))?;
    }
    print!("{out}");
    let json_path = args.json.clone().unwrap_or_else(|| root.join("target/bench/alloc.json"));
    if let Some(dir) = json_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&json_path, json)?;
    println!("wrote {}", json_path.display());
    Ok(())
}
