//! `peers`: the same workloads on mappedpages, LMDB (heed), redb and the raw
//! device. See `--help` and bench/README.md.

mod args;
mod engines;
mod report;
mod w7;

use std::fs;
use std::hint::black_box;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use args::Args;
use engines::{Engine, Kind, PAGE, Res};
use report::{Row, median};

/// splitmix64: small, fast, and the same sequence for every engine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; bias is negligible here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", args::HELP);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("peers: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peers: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn run(args: &Args) -> Res<()> {
    let root = workspace_root();
    let base = args.dir.clone().unwrap_or_else(|| root.join("target/bench/tmp"));
    let work = base.join(format!("peers-{}", std::process::id()));
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;
    let json_path = args.json.clone().unwrap_or_else(|| root.join("target/bench/peers.json"));

    let engines = args.engines.clone();

    println!(
        "peers: {} pages of {} B ({:.1} MB), runs={} (median), W1 commits={}, W2 {}x{}-page commits, \
         W4 reads={}, W5 big store={} MiB{}{}",
        args.pages,
        PAGE,
        (args.pages * PAGE as u64) as f64 / 1e6,
        args.runs,
        args.commits,
        args.batches,
        args.batch,
        args.reads,
        args.open_mib,
        if args.cold { " (cold)" } else { "" },
        if args.smoke { " [smoke]" } else { "" },
    );
    println!("work dir: {}", work.display());

    let result = run_workloads(args, &engines, &work);
    if !args.keep {
        let _ = fs::remove_dir_all(&work);
    } else {
        println!("kept: {}", work.display());
    }
    let rows = result?;

    println!();
    print!("{}", report::table(&rows));
    println!("(W5 and W6 rows: lower is better; every other row: higher is better)");
    report::write_json(&json_path, &rows)?;
    println!("wrote {}", json_path.display());
    Ok(())
}

fn progress(workload: &str, kind: Kind, run: usize, runs: usize, value: f64, unit: &str) {
    eprintln!("  [{workload}] {:<11} run {}/{}: {value:.1} {unit}", kind.name(), run + 1, runs);
}

fn run_workloads(args: &Args, engines: &[Kind], work: &Path) -> Res<Vec<Row>> {
    let mut w1 = Row::new("W1", "W1 1-page durable commits", "commits/s");
    let mut w2 = Row::new("W2", "W2 pages in N-page commits", "pages/s");
    let mut w3 = Row::new("W3", "W3 bulk load, one txn", "MB/s");
    let mut w4 = Row::new("W4", "W4 random reads, one read txn", "reads/s");
    let mut w5 = Row::new("W5", "W5 open big store", "ms");
    let mut w5e = Row::new("W5_empty", "W5 open empty store", "ms");
    let mut w5r = Row::new("W5_ratio", "W5 open big/empty", "ratio");
    let mut w6s = Row::new("W6", "W6 snapshot of a 1 MiB store", "ms");
    let mut w6b = Row::new("W6_big", "W6 snapshot of the big store", "ms");

    // W1, W2, W4 share one loaded data set per engine.
    if args.wants("W1") || args.wants("W2") || args.wants("W4") {
        let max_pages = args.pages * 2;
        let mut stores: Vec<(Kind, Box<dyn Engine>)> = Vec::new();
        for &k in engines {
            let t = Instant::now();
            let mut e = k.create(&work.join(format!("{}-data", k.name())), max_pages)?;
            load_chunked(e.as_mut(), args.pages)?;
            eprintln!("  [setup] {:<11} loaded {} pages in {:.2} s", k.name(), args.pages, t.elapsed().as_secs_f64());
            stores.push((k, e));
        }
        let mut stamp = 1u64;

        if args.wants("W1") {
            let mut samples = vec![Vec::new(); engines.len()];
            for run in 0..args.runs {
                for (n, (k, e)) in stores.iter_mut().enumerate() {
                    let mut rng = Rng::new(args.seed ^ ((run as u64 + 1) * 0x1111));
                    let t = Instant::now();
                    for _ in 0..args.commits {
                        let i = rng.below(args.pages);
                        e.overwrite(&[i], stamp)?;
                        stamp += 1;
                    }
                    let v = args.commits as f64 / t.elapsed().as_secs_f64();
                    progress("W1", *k, run, args.runs, v, "commits/s");
                    samples[n].push(v);
                }
            }
            for (n, s) in samples.into_iter().enumerate() {
                if let Some(m) = median(s) {
                    w1.set(engines[n], m);
                }
            }
        }

        if args.wants("W2") {
            let mut samples = vec![Vec::new(); engines.len()];
            let mut batch = Vec::with_capacity(args.batch as usize);
            for run in 0..args.runs {
                for (n, (k, e)) in stores.iter_mut().enumerate() {
                    let mut rng = Rng::new(args.seed ^ ((run as u64 + 1) * 0x2222));
                    let t = Instant::now();
                    for _ in 0..args.batches {
                        batch.clear();
                        batch.extend((0..args.batch).map(|_| rng.below(args.pages)));
                        e.overwrite(&batch, stamp)?;
                        stamp += 1;
                    }
                    let v = (args.batches * args.batch) as f64 / t.elapsed().as_secs_f64();
                    progress("W2", *k, run, args.runs, v, "pages/s");
                    samples[n].push(v);
                }
            }
            for (n, s) in samples.into_iter().enumerate() {
                if let Some(m) = median(s) {
                    w2.set(engines[n], m);
                }
            }
        }

        if args.wants("W4") {
            let mut samples = vec![Vec::new(); engines.len()];
            for run in 0..args.runs {
                let mut rng = Rng::new(args.seed ^ ((run as u64 + 1) * 0x4444));
                let indices: Vec<u64> = (0..args.reads).map(|_| rng.below(args.pages)).collect();
                for (n, (k, e)) in stores.iter_mut().enumerate() {
                    let t = Instant::now();
                    let acc = e.read_xor(black_box(&indices))?;
                    let secs = t.elapsed().as_secs_f64();
                    black_box(acc);
                    let v = args.reads as f64 / secs;
                    progress("W4", *k, run, args.runs, v, "reads/s");
                    samples[n].push(v);
                }
            }
            for (n, s) in samples.into_iter().enumerate() {
                if let Some(m) = median(s) {
                    w4.set(engines[n], m);
                }
            }
        }

        drop(stores);
        for &k in engines {
            if !args.keep {
                let _ = fs::remove_dir_all(work.join(format!("{}-data", k.name())));
            }
        }
    }

    if args.wants("W3") {
        let mut samples = vec![Vec::new(); engines.len()];
        for run in 0..args.runs {
            for (n, &k) in engines.iter().enumerate() {
                let dir = work.join(format!("{}-w3-{run}", k.name()));
                let mut e = k.create(&dir, args.pages)?;
                let t = Instant::now();
                e.load(0, args.pages)?;
                let secs = t.elapsed().as_secs_f64();
                drop(e);
                let _ = fs::remove_dir_all(&dir);
                let v = (args.pages * PAGE as u64) as f64 / 1e6 / secs;
                progress("W3", k, run, args.runs, v, "MB/s");
                samples[n].push(v);
            }
        }
        for (n, s) in samples.into_iter().enumerate() {
            if let Some(m) = median(s) {
                w3.set(engines[n], m);
            }
        }
    }

    if args.wants("W5") || args.wants("W6") {
        let big_pages = args.open_mib * (1 << 20) / PAGE as u64;
        let openers: Vec<Kind> = engines.iter().copied().filter(|k| k.has_open()).collect();
        for &k in &openers {
            let t = Instant::now();
            let mut e = k.create(&work.join(format!("{}-big", k.name())), big_pages)?;
            load_chunked(e.as_mut(), big_pages)?;
            drop(e);
            drop(k.create(&work.join(format!("{}-empty", k.name())), big_pages)?);
            eprintln!(
                "  [setup] {:<11} built a {} MiB store ({} pages) in {:.2} s",
                k.name(),
                args.open_mib,
                big_pages,
                t.elapsed().as_secs_f64()
            );
        }
        let mut big = vec![Vec::new(); openers.len()];
        let mut empty = vec![Vec::new(); openers.len()];
        for run in 0..if args.wants("W5") { args.runs } else { 0 } {
            for (n, &k) in openers.iter().enumerate() {
                for (which, other, samples) in [("big", "empty", &mut big[n]), ("empty", "big", &mut empty[n])] {
                    let dir = work.join(format!("{}-{which}", k.name()));
                    // An untimed open of the other store first: whichever
                    // store is timed first after another engine's work would
                    // otherwise also pay for this engine's cooled caches (it
                    // made the first-timed store look up to 3x slower).
                    k.close(k.open_and_begin_read(&work.join(format!("{}-{other}", k.name())), big_pages)?);
                    if args.cold {
                        evict_dir(&dir)?;
                    }
                    let t = Instant::now();
                    let h = k.open_and_begin_read(&dir, big_pages)?;
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    k.close(h);
                    eprintln!("  [W5] {:<11} run {}/{}: open {which}: {ms:.3} ms", k.name(), run + 1, args.runs);
                    samples.push(ms);
                }
            }
        }
        for (n, &k) in openers.iter().enumerate() {
            let b = median(std::mem::take(&mut big[n]));
            let e = median(std::mem::take(&mut empty[n]));
            if let Some(b) = b {
                w5.set(k, b);
            }
            if let Some(e) = e {
                w5e.set(k, e);
            }
            if let (Some(b), Some(e)) = (b, e)
                && e > 0.0
            {
                w5r.set(k, b / e);
            }
        }
        if args.wants("W6") {
            for &k in &openers {
                let small_dir = work.join(format!("{}-small", k.name()));
                let mut small = k.create(&small_dir, 256)?;
                load_chunked(small.as_mut(), 256)?;
                drop(small);
                for (row, dir) in [(&mut w6s, small_dir.clone()), (&mut w6b, work.join(format!("{}-big", k.name())))] {
                    let Some(mut e) = k.open_engine(&dir, big_pages)? else { continue };
                    let mut samples = Vec::new();
                    for run in 0..args.runs.max(3) {
                        let t = Instant::now();
                        if !e.snapshot(&format!("snap-{run}"))? {
                            break;
                        }
                        samples.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    if let Some(m) = median(samples) {
                        eprintln!("  [W6] {:<11} snapshot of {}: {m:.3} ms", k.name(), dir.display());
                        row.set(k, m);
                    }
                }
                let _ = fs::remove_dir_all(&small_dir);
            }
        }
        for &k in &openers {
            if !args.keep {
                let _ = fs::remove_dir_all(work.join(format!("{}-big", k.name())));
                let _ = fs::remove_dir_all(work.join(format!("{}-empty", k.name())));
            }
        }
    }

    let w7_rows = if args.wants("W7") { w7::run(args, engines, work)? } else { Vec::new() };

    let mut rows = Vec::new();
    for (key, row) in
        [("W1", w1), ("W2", w2), ("W3", w3), ("W4", w4), ("W5", w5), ("W5", w5e), ("W5", w5r), ("W6", w6s), ("W6", w6b)]
    {
        if args.wants(key) {
            rows.push(row);
        }
    }
    rows.extend(w7_rows);
    Ok(rows)
}

/// Loads pages `0..pages` untimed, in commits of at most 16 384 pages (64 MiB)
/// so that building a big store does not need it all in memory at once.
pub(crate) fn load_chunked(e: &mut dyn Engine, pages: u64) -> Res<()> {
    const CHUNK: u64 = 16_384;
    let mut start = 0;
    while start < pages {
        let n = CHUNK.min(pages - start);
        e.load(start, n)?;
        start += n;
    }
    Ok(())
}

/// Drops every file under `dir` from the page cache (`posix_fadvise(DONTNEED)`
/// after an `fsync`), so the next open reads from the disk.
fn evict_dir(dir: &Path) -> Res<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            let f = fs::OpenOptions::new().read(true).write(true).open(&path)?;
            f.sync_all()?;
            // SAFETY: a plain syscall on an open descriptor.
            let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            if rc != 0 {
                return Err(format!("posix_fadvise({}): error {rc}", path.display()).into());
            }
        }
    }
    Ok(())
}
