//! Process kills: a child process commits a deterministic workload to a file
//! store in a loop and is killed with SIGKILL at a random moment, over and over.
//! After each kill the store must open, verify clean, and hold exactly the last
//! acknowledged commit or the one in flight (a killed process loses nothing it
//! wrote to the page cache), never going back in time.
//!
//! The test binary is its own child: `process_kill_child_workload` runs the
//! workload forever when `MAPPEDPAGES_KILL_CHILD` names a store file, and returns
//! at once otherwise. `MAPPEDPAGES_KILLS` sets the number of kills (default 200),
//! `MAPPEDPAGES_KILL_SEED` the seed of the random delays.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mappedpages::{Durability, Options, PageId, Store};

const CHILD_ENV: &str = "MAPPEDPAGES_KILL_CHILD";
const DURABILITY_ENV: &str = "MAPPEDPAGES_KILL_DURABILITY";
const CHILD_TEST: &str = "process_kill_child_workload";
const PAGE: usize = 4096;
/// Logical pages the workload keeps: ids 0..PAGES, allocated by commit 1.
const PAGES: u64 = 64;
/// Most kills land within this many milliseconds of the child's start.
const MAX_DELAY_MS: u64 = 30;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// The ids commit `n` (≥ 2) rewrites: 1 to 8 of them, maybe repeated.
fn written_by(n: u64) -> Vec<u64> {
    let h = mix(n);
    let k = 1 + h % 8;
    (0..k).map(|j| mix(h ^ (j + 1)) % PAGES).collect()
}

/// The bytes commit `n` writes into page `id`: the commit number and the id in
/// the first 16 bytes, then a stream unique to (n, id); some are all zeros (the
/// store keeps those without an extent).
fn page_bytes(n: u64, id: u64) -> Vec<u8> {
    let mut out = vec![0u8; PAGE];
    if (n + id).is_multiple_of(13) {
        return out;
    }
    out[..8].copy_from_slice(&n.to_le_bytes());
    out[8..16].copy_from_slice(&id.to_le_bytes());
    mappedpages::testing::fill_pattern(&mut out[16..], mix(n.wrapping_mul(PAGES) ^ id));
    out
}

/// For version `v`, the commit that last wrote each page (0: none yet).
fn model(v: u64) -> Vec<u64> {
    let mut last = vec![0; PAGES as usize];
    if v >= 1 {
        last.fill(1);
    }
    for n in 2..=v {
        for id in written_by(n) {
            last[id as usize] = n;
        }
    }
    last
}

/// Commits version `n` on `store`, whose newest version is `n - 1`.
fn commit(store: &Store<PAGE>, n: u64) {
    let mut w = store.begin_write().expect("begin_write");
    assert_eq!(w.base_version().get(), n - 1);
    let ids: Vec<u64> = if n == 1 {
        let ids = w.alloc_bulk(PAGES as usize).expect("alloc");
        assert!(ids.iter().map(|id| id.get()).eq(0..PAGES), "ids of a new store");
        (0..PAGES).collect()
    } else {
        written_by(n)
    };
    for id in ids {
        w.write(PageId::from_raw(id), &page_bytes(n, id)).expect("write");
    }
    assert_eq!(w.commit().expect("commit").get(), n);
}

fn options(durability: Durability) -> Options {
    Options::default().durability(durability)
}

/// The child: continue the workload from the recovered version, forever,
/// reporting each acknowledged commit on stdout.
#[test]
fn process_kill_child_workload() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return; // an ordinary test run: nothing to do
    };
    let durability = match std::env::var(DURABILITY_ENV).as_deref() {
        Ok("eventual") => Durability::Eventual,
        _ => Durability::Immediate,
    };
    let store = Store::<PAGE>::open_with(Path::new(&path), options(durability)).expect("child: open");
    let mut out = std::io::stdout().lock();
    let mut n = store.version().get() + 1;
    loop {
        commit(&store, n);
        // One write(2) per line, so a kill never leaves half a number behind.
        out.write_all(format!("ACK {n}\n").as_bytes()).expect("stdout");
        out.flush().expect("stdout");
        n += 1;
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn spawn(path: &Path, durability: Durability) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .env(DURABILITY_ENV, if durability == Durability::Eventual { "eventual" } else { "immediate" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child")
}

/// Kills the child and returns the last commit it acknowledged (if any).
fn kill(mut child: Child, kill_no: usize) -> Option<u64> {
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    let mut stdout = String::new();
    child.stdout.take().expect("piped").read_to_string(&mut stdout).expect("read stdout");
    let mut stderr = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut stderr).expect("read stderr");
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "kill {kill_no}: the child ended by itself ({status}) instead of being killed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Only whole lines count; the first may follow libtest's "test … " on its line.
    stdout
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .rev()
        .find_map(|l| l.split("ACK ").nth(1).and_then(|n| n.trim_end().parse().ok()))
}

/// Opens the store as recovery leaves it and checks it against the model;
/// returns the recovered version.
fn check_recovered(path: &Path, kill_no: usize) -> u64 {
    let store = Store::<PAGE>::open(path).unwrap_or_else(|e| panic!("kill {kill_no}: reopen failed: {e}"));
    let report = store.verify().expect("verify");
    assert!(report.is_clean(), "kill {kill_no}: verify found damage: {:?}", report.damage);
    assert_eq!(report.leaked_sectors, 0, "kill {kill_no}: leaked sectors");
    let r = store.begin_read().expect("begin_read");
    let v = r.version().get();
    let last = model(v);
    let ids: Vec<u64> = r.ids().map(|id| id.expect("ids").get()).collect();
    let want: Vec<u64> = if v == 0 { vec![] } else { (0..PAGES).collect() };
    assert_eq!(ids, want, "kill {kill_no}: live ids at v{v}");
    for id in want {
        let got = r.page(PageId::from_raw(id)).expect("page");
        assert!(
            got == page_bytes(last[id as usize], id),
            "kill {kill_no}: at v{v}, page {id} does not hold commit {}'s bytes (it starts {:?})",
            last[id as usize],
            &got[..16]
        );
    }
    v
}

#[test]
fn process_kill_recovers_last_commit() {
    let kills: usize = std::env::var("MAPPEDPAGES_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let seed = mappedpages::testing::seed_from_env("MAPPEDPAGES_KILL_SEED");
    eprintln!("process_kill: {kills} kills");
    let mut rng = XorShift(mix(seed) | 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("killed.db");
    {
        // Created here, not in a child: creating a file is not atomic, and a
        // kill during creation leaves no store to recover.
        let store = Store::<PAGE>::create(&path).expect("create");
        commit(&store, 1);
    }
    let started = Instant::now();
    let mut recovered = 1;
    let mut killed_in_flight = 0;
    let mut progress_kills = 0;
    for kill_no in 0..kills {
        let durability = if rng.next().is_multiple_of(4) { Durability::Eventual } else { Durability::Immediate };
        let child = spawn(&path, durability);
        std::thread::sleep(Duration::from_micros(rng.next() % (MAX_DELAY_MS * 1000 + 1)));
        let acked = kill(child, kill_no);
        let v = check_recovered(&path, kill_no);
        assert!(v >= recovered, "kill {kill_no}: recovered v{v}, older than v{recovered} recovered before");
        if let Some(a) = acked {
            // Killing a process loses nothing it handed to the kernel: the last
            // acknowledged commit, or the one being written, must come back.
            assert!(
                v == a || v == a + 1,
                "kill {kill_no} ({durability:?}): recovered v{v}, but the child acknowledged v{a}"
            );
            killed_in_flight += usize::from(v == a + 1);
        } else {
            assert!(v <= recovered + 1, "kill {kill_no}: v{v} appeared with no acknowledgement after v{recovered}");
        }
        progress_kills += usize::from(v > recovered);
        recovered = v;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "process_kill: {kills} kills in {:.1} s, {recovered} commits, {progress_kills} kills after progress, \
         {killed_in_flight} recovered the in-flight commit",
        elapsed.as_secs_f64()
    );
    assert!(progress_kills >= kills / 4, "too few kills found new commits: the child hardly ran ({progress_kills})");
}
