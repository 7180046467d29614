//! Command-line flags, parsed by hand from `std::env::args`.

use std::path::PathBuf;

use crate::engines::Kind;

/// The workloads, in the order they are run and printed.
pub const WORKLOADS: [&str; 7] = ["W1", "W2", "W3", "W4", "W5", "W6", "W7"];

pub const HELP: &str = "\
peers — mappedpages against LMDB (heed), redb and the raw device

USAGE:
    cargo run --release -p mappedpages-bench -- [FLAGS]

WORKLOADS (4 KiB pages; a \"page\" is a u64 key -> 4096-byte value for LMDB/redb):
    W1  one-page durable commits per second; each commit overwrites one random
        existing page of the --pages data set (raw: pwrite 4 KiB + fdatasync)
    W2  pages per second in --batch-page durable commits (raw: --batch pwrites +
        one fdatasync)
    W3  bulk load of --pages pages into an empty store in one transaction,
        durable commit included, MB/s (10^6 bytes) (raw: sequential write + fsync)
    W4  --reads random page reads in one read transaction, each read touching the
        page's bytes, reads/s (raw: a read-only mmap of the file)
    W5  open time of a --open-mib store and of an empty one, ms, and their ratio
        (open = open the store + begin a read transaction; raw: n/a)
    W6  snapshot creation (n/a until mappedpages has snapshots)
    W7  backup of a --backup-mib store with 1% of its pages new since a base:
        full backup and restore MB/s (raw: sequential write + fsync of as many
        bytes; lmdb: env copy, heed's copy_to_path), and the incremental's time
        and bytes as ratios to the full backup's

FLAGS:
    --pages N        data-set size in 4 KiB pages for W1-W4      [50000]
    --runs N         runs per workload and engine; the median is reported [3]
    --commits N      W1: one-page commits per run                 [2000]
    --batches N      W2: commits per run                          [100]
    --batch N        W2: pages per commit                         [100]
    --reads N        W4: page reads per run                       [1000000]
    --open-mib N     W5: size of the big store, MiB of page data  [1024]
    --backup-mib N   W7: size of the store, MiB of page data       [1024]
    --only LIST      workloads to run, e.g. W1,W3                 [all]
    --engines LIST   engines to run: mappedpages,lmdb,redb,raw    [all]
    --cold           W5: evict the store's files from the page cache
                     (posix_fadvise DONTNEED) before each open
    --smoke          tiny sizes that finish in seconds (CI; no timing is asserted);
                     flags given after --smoke override its sizes
    --dir PATH       work directory (default: <workspace>/target/bench/tmp;
                     every engine's files go there, so all are on one disk)
    --json PATH      result file (default: <workspace>/target/bench/peers.json)
    --keep           keep the stores in the work directory afterwards
    --seed N         seed of the random page choices               [42]
    -h, --help       this text
";

#[derive(Debug, Clone)]
pub struct Args {
    pub pages: u64,
    pub runs: usize,
    pub commits: u64,
    pub batches: u64,
    pub batch: u64,
    pub reads: u64,
    pub open_mib: u64,
    pub backup_mib: u64,
    pub only: Vec<&'static str>,
    pub engines: Vec<Kind>,
    pub cold: bool,
    pub smoke: bool,
    pub dir: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub keep: bool,
    pub seed: u64,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            pages: 50_000,
            runs: 3,
            commits: 2_000,
            batches: 100,
            batch: 100,
            reads: 1_000_000,
            open_mib: 1024,
            backup_mib: 1024,
            only: WORKLOADS.to_vec(),
            engines: Kind::ALL.to_vec(),
            cold: false,
            smoke: false,
            dir: None,
            json: None,
            keep: false,
            seed: 42,
        }
    }
}

impl Args {
    pub fn wants(&self, workload: &str) -> bool {
        self.only.contains(&workload)
    }

    fn apply_smoke(&mut self) {
        self.smoke = true;
        self.pages = 512;
        self.runs = 1;
        self.commits = 20;
        self.batches = 5;
        self.batch = 100;
        self.reads = 20_000;
        self.open_mib = 8;
        self.backup_mib = 8;
    }
}

/// `Ok(None)` means `--help` was asked for.
pub fn parse(raw: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args::default();
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--pages" => args.pages = num(&flag, &value(&flag)?)?,
            "--runs" => args.runs = num(&flag, &value(&flag)?)? as usize,
            "--commits" => args.commits = num(&flag, &value(&flag)?)?,
            "--batches" => args.batches = num(&flag, &value(&flag)?)?,
            "--batch" => args.batch = num(&flag, &value(&flag)?)?,
            "--reads" => args.reads = num(&flag, &value(&flag)?)?,
            "--open-mib" => args.open_mib = num(&flag, &value(&flag)?)?,
            "--backup-mib" => args.backup_mib = num(&flag, &value(&flag)?)?,
            "--seed" => args.seed = value(&flag)?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--only" => {
                let v = value(&flag)?;
                let mut only = Vec::new();
                for w in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    let up = w.to_ascii_uppercase();
                    match WORKLOADS.iter().find(|k| **k == up) {
                        Some(k) => only.push(*k),
                        None => return Err(format!("--only: unknown workload {w:?} (W1..W7)")),
                    }
                }
                if only.is_empty() {
                    return Err("--only: empty list".into());
                }
                args.only = only;
            }
            "--engines" => {
                let v = value(&flag)?;
                let mut engines = Vec::new();
                for e in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                    match Kind::ALL.iter().find(|k| k.name() == e.to_ascii_lowercase()) {
                        Some(k) => engines.push(*k),
                        None => {
                            return Err(format!("--engines: unknown engine {e:?} (mappedpages, lmdb, redb, raw)"));
                        }
                    }
                }
                if engines.is_empty() {
                    return Err("--engines: empty list".into());
                }
                args.engines = engines;
            }
            "--cold" => args.cold = true,
            "--smoke" => args.apply_smoke(),
            "--keep" => args.keep = true,
            "--dir" => args.dir = Some(PathBuf::from(value(&flag)?)),
            "--json" => args.json = Some(PathBuf::from(value(&flag)?)),
            // `cargo bench`/libtest-style flags are ignored rather than rejected.
            "--bench" => {}
            other => return Err(format!("unknown flag {other:?}; see --help")),
        }
    }
    if args.pages == 0 || args.runs == 0 || args.batch == 0 {
        return Err("--pages, --runs and --batch must be at least 1".into());
    }
    Ok(Some(args))
}

fn num(flag: &str, v: &str) -> Result<u64, String> {
    let clean: String = v.chars().filter(|c| *c != '_').collect();
    clean.parse().map_err(|e| format!("{flag}: {v:?} is not a whole number ({e})"))
}
