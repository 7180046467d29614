//! Writes the seed corpora under `fuzz/corpus/`: real store images for
//! `open_image` (made by the engine itself), and encoded workloads for
//! `crash_workload` and `io_errors`.
//!
//! ```text
//! cd fuzz && cargo run --example gen_corpus
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use mappedpages::format::hash16;
use mappedpages::storage::{CrashStorage, TearPattern};
use mappedpages::testing::Op;
use mappedpages::{Durability, Options, PageId, Store};
use mappedpages_fuzz::encode;

const LIMIT: usize = 64 << 10;

fn pattern(id: u64, n: u64, p: usize) -> Vec<u8> {
    (0..p).map(|i| (i as u64).wrapping_mul(31) ^ id.wrapping_mul(7) ^ n).map(|x| x as u8).collect()
}

/// Runs `commits` on a fresh store of page size `P` and returns its image as a
/// process crash would leave it (every write in place), torn by `tear`.
fn image<const P: usize>(durability: Durability, commits: &[(usize, usize, usize)], tear: TearPattern) -> Vec<u8> {
    let disk = CrashStorage::new().unwrap();
    let ctl = disk.control();
    let options = Options::default().durability(durability);
    let store = Store::<P>::create_on(disk, options).unwrap();
    let mut live: Vec<PageId> = Vec::new();
    for (n, &(alloc, write, free)) in commits.iter().enumerate() {
        let mut w = store.begin_write().unwrap();
        live.extend(w.alloc_bulk(alloc).unwrap());
        for &id in live.iter().rev().take(write) {
            w.write(id, &pattern(id.get(), n as u64, P)).unwrap();
        }
        for id in live.drain(..free.min(live.len())) {
            w.free(id).unwrap();
        }
        w.commit().unwrap();
    }
    // No drop: a drop would sync, and the unsynced roots are the interesting part.
    let mut image = ctl.crash_image(tear);
    std::mem::forget(store);
    // The file grows by 1 MiB at least; `open_image` pads the zeros back.
    let used = image.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    image.truncate(used);
    image
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    assert!(bytes.len() <= LIMIT, "{name}: {} bytes", bytes.len());
    fs::write(dir.join(name), bytes).unwrap();
    println!("{}/{name}: {} bytes", dir.display(), bytes.len());
}

/// The crash tests' sample workload, with a crash before its last commit.
fn workload() -> Vec<Op> {
    let mut ops = mappedpages::testing::sample_workload();
    let at = ops.len() - 2;
    ops.insert(at, Op::Crash(7));
    ops
}

/// A long pseudo-random workload (the op mix of `tests/crash.rs`'s proptest),
/// so that libFuzzer's length limit starts high enough for long workloads.
fn long_workload(seed: u64, len: usize) -> Vec<Op> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..len)
        .map(|_| {
            let r = next();
            let sel = (r >> 16) as u16;
            match r % 19 {
                0..=2 => Op::Alloc((r >> 8) as u8 % 40 + 1),
                3..=4 => Op::Free(sel),
                5 => Op::FreeBulk(sel, (r >> 40) as u8 % 16 + 1),
                6..=10 => Op::Write(sel, (r >> 32) as u8),
                11..=13 => Op::Commit,
                14 => Op::Abort,
                15 => Op::Reader,
                16 => Op::Sync,
                _ if r % 57 == 17 => Op::Crash((r >> 24) as u8),
                _ => Op::Commit,
            }
        })
        .collect()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let dir = root.join("open_image");
    fs::create_dir_all(&dir).unwrap();
    use Durability::*;
    use TearPattern::*;
    write(&dir, "seed-empty-1k", &image::<1024>(Immediate, &[], KeepAll));
    write(&dir, "seed-three-commits-1k", &image::<1024>(Immediate, &[(10, 10, 0), (2, 4, 3), (0, 2, 0)], KeepAll));
    write(
        &dir,
        "seed-pending-release-1k",
        &image::<1024>(Immediate, &[(12, 12, 0), (0, 4, 3), (2, 3, 3), (0, 2, 2), (1, 2, 3), (0, 1, 0)], KeepAll),
    );
    write(&dir, "seed-unsynced-eventual-1k", &image::<1024>(Eventual, &[(8, 8, 0), (0, 3, 2), (2, 2, 1)], KeepAll));
    write(
        &dir,
        "seed-torn-eventual-1k",
        // The first seed whose tear kept the grow and some of the pages.
        &(1..)
            .map(|seed| image::<1024>(Eventual, &[(8, 8, 0), (0, 3, 2), (2, 2, 1)], Seeded(seed)))
            .find(|image| image.len() > 8 << 10)
            .unwrap(),
    );
    write(
        &dir,
        "seed-fallback-root-1k",
        &image::<1024>(
            Eventual,
            &[(6, 6, 0), (1, 3, 1)],
            AllButFirstBytes(mappedpages::format::Layout::CURRENT.meta_bytes()),
        ),
    );
    // Every root claims that all it reaches was synced: recovery then checks no
    // node, and whatever the fuzzer does to the nodes reaches the readers.
    let mut trusting = image::<1024>(Immediate, &[(16, 16, 0), (2, 4, 3), (1, 2, 2)], KeepAll);
    let layout = mappedpages::format::Layout::CURRENT;
    for slot in [layout.root_slot_offset(0) as usize, layout.root_slot_offset(1) as usize] {
        let root = &mut trusting[slot..slot + 512];
        if root.iter().all(|&b| b == 0) {
            continue;
        }
        let version: [u8; 8] = root[8..16].try_into().unwrap();
        root[24..32].copy_from_slice(&version);
        let sum = hash16(&root[..496]);
        root[496..].copy_from_slice(&sum);
    }
    write(&dir, "seed-synced-through-version-1k", &trusting);
    write(&dir, "seed-two-commits-2k", &image::<2048>(Immediate, &[(3, 3, 0), (1, 1, 1)], KeepAll));
    write(&dir, "seed-one-commit-4k", &image::<4096>(Immediate, &[(2, 1, 0)], KeepAll));

    let dir = root.join("crash_workload");
    fs::create_dir_all(&dir).unwrap();
    // [flags, k_lo, k_hi, seed]: bit 0 Eventual, bits 1-2 final tear, bit 3 power cut.
    write(&dir, "seed-no-cut-immediate", &encode([0, 0, 0, 0], &workload()));
    write(&dir, "seed-cut-40-eventual-torn", &encode([1 | 6 | 8, 40, 0, 9], &workload()));
    write(&dir, "seed-cut-17-immediate-roots", &encode([4 | 8, 17, 0, 0], &workload()));
    write(&dir, "seed-no-cut-eventual-drop", &encode([1 | 2, 0, 0, 0], &workload()));
    write(&dir, "seed-long-cut-300-immediate-torn", &encode([6 | 8, 44, 1, 3], &long_workload(11, 300)));
    write(&dir, "seed-long-no-cut-eventual", &encode([1 | 6, 0, 0, 4], &long_workload(12, 300)));

    let dir = root.join("io_errors");
    fs::create_dir_all(&dir).unwrap();
    // [flags, k_lo, k_hi, seed]: bit 0 Eventual, bits 1-2 final tear, bits 4-5 write/sync/grow.
    write(&dir, "seed-write-12-immediate", &encode([0, 12, 0, 0], &workload()));
    write(&dir, "seed-sync-3-eventual", &encode([1 | (1 << 4), 3, 0, 0], &workload()));
    write(&dir, "seed-grow-1-immediate-torn", &encode([6 | (2 << 4), 1, 0, 5], &workload()));
    write(&dir, "seed-long-write-200-eventual", &encode([1 | 6, 200, 0, 6], &long_workload(13, 300)));
}
