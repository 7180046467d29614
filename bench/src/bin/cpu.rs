//! The CPU cost of the hot paths, for `valgrind --tool=callgrind` (instruction
//! counts repeat on a noisy machine, timings do not). Each mode runs `N`
//! operations inside one function that callgrind collects alone:
//!
//! - `commit`: one-page commits on an in-memory store of 50 000 pages;
//! - `read`: page reads through one read transaction;
//! - `open`: opening a file store of `N` × 100 commits.
//!
//! `bench/callgrind.sh REV_A REV_B` builds this at two commits and prints the
//! instructions per operation side by side.

use mappedpages::storage::MemoryStorage;
use mappedpages::{Options, PageId, Store};

const P: usize = 4096;

#[inline(never)]
fn commit_loop(store: &Store<P>, ids: &[PageId], n: usize) {
    let mut page = vec![7u8; P];
    let mut x = 12345u64;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        page[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let mut w = store.begin_write().unwrap();
        w.write(ids[(x % ids.len() as u64) as usize], &page).unwrap();
        w.commit().unwrap();
    }
}

#[inline(never)]
fn read_loop(store: &Store<P>, ids: &[PageId], n: usize) -> u64 {
    let r = store.begin_read().unwrap();
    let mut sum = 0u64;
    let mut x = 12345u64;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum += u64::from(r.page(ids[(x % ids.len() as u64) as usize]).unwrap()[9]);
    }
    sum
}

#[inline(never)]
fn open_loop(path: &std::path::Path, n: usize) -> u64 {
    (0..n).map(|_| Store::<P>::open(path).unwrap().version().get()).sum()
}

fn filled(pages: usize) -> (Store<P>, Vec<PageId>) {
    let store = Store::<P>::create_on(MemoryStorage::with_capacity(1 << 30).unwrap(), Options::default()).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(pages).unwrap();
    for &id in &ids {
        w.write(id, &[id.get() as u8; P]).unwrap();
    }
    w.commit().unwrap();
    (store, ids)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "commit".into());
    let n: usize = std::env::args().nth(2).map_or(2000, |v| v.parse().expect("N is a number"));
    match mode.as_str() {
        "commit" => {
            let (store, ids) = filled(50_000);
            commit_loop(&store, &ids, n);
        }
        "read" => {
            let (store, ids) = filled(50_000);
            std::hint::black_box(read_loop(&store, &ids, n));
        }
        "open" => {
            let dir = tempfile_dir();
            let path = dir.join("open.db");
            let _ = std::fs::remove_file(&path);
            {
                let store = Store::<P>::create(&path).unwrap();
                let mut w = store.begin_write().unwrap();
                let ids = w.alloc_bulk(10_000).unwrap();
                w.commit().unwrap();
                for i in 0..100u64 {
                    let mut w = store.begin_write().unwrap();
                    w.write(ids[i as usize * 97 % ids.len()], &[i as u8; P]).unwrap();
                    w.commit().unwrap();
                }
            }
            std::hint::black_box(open_loop(&path, n));
            let _ = std::fs::remove_file(&path);
        }
        other => panic!("unknown mode {other}: commit, read or open"),
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mappedpages-cpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
