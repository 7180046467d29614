//! Threads: the store is shared by `Arc`, readers never wait for the writer,
//! writers take turns, and under load every reader sees exactly one committed
//! version.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use mappedpages::compat::{SubPageAllocator, SubPageId};
use mappedpages::{Durability, Error, Options, PageId, ReadOnlyStore, ReadTxn, Store, WriteTxn};

const PAGE: usize = 4096;

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

// Checked at compile time: this does not build if any of them loses the bound.
const _: fn() = || {
    assert_send_sync::<Store<PAGE>>();
    assert_send_sync::<Arc<Store<PAGE>>>();
    assert_send_sync::<ReadTxn<'static, PAGE>>();
    assert_send_sync::<ReadOnlyStore<PAGE>>();
    assert_send_sync::<SubPageAllocator<PAGE, 512>>();
    assert_send_sync::<SubPageId<PAGE, 512>>();
    assert_send_sync::<Error>();
    assert_send::<WriteTxn<'static, PAGE>>();
    #[cfg(feature = "async")]
    assert_send_sync::<mappedpages::AsyncStore<PAGE>>();
};

/// Long enough that only a deadlock reaches it; nothing here measures time.
const DEADLOCK: Duration = Duration::from_secs(120);

fn file_store(dir: &tempfile::TempDir, durability: Durability) -> Arc<Store<PAGE>> {
    let options = Options::default().durability(durability);
    Arc::new(Store::create_with(dir.path().join("store.db"), options).unwrap())
}

#[test]
fn concurrent_store_is_send_sync_and_shared_by_arc() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, Durability::Immediate);
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    w.page_mut(id).unwrap().fill(5);
    w.commit().unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            thread::spawn(move || store.begin_read().unwrap().page(id).unwrap()[0])
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 5);
    }
    // One read transaction shared by several threads (it is Sync).
    let r = store.begin_read().unwrap();
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_eq!(r.page(id).unwrap()[1], 5));
        }
    });
}

#[test]
fn concurrent_readers_never_wait_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, Durability::Immediate);
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(16).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap().fill(1);
    }
    let v1 = w.commit().unwrap();

    // The writer is open, with uncommitted changes, for as long as the readers run.
    let mut w = store.begin_write().unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap().fill(2);
    }
    w.alloc_bulk(100).unwrap();
    let (done, finished) = mpsc::channel();
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let ids = ids.clone();
            let done = done.clone();
            thread::spawn(move || {
                let r = store.begin_read().unwrap();
                assert_eq!(r.version(), v1);
                for &id in &ids {
                    assert!(r.page(id).unwrap().iter().all(|&b| b == 1), "a reader saw uncommitted bytes");
                }
                done.send(()).unwrap();
            })
        })
        .collect();
    for _ in 0..8 {
        finished.recv_timeout(DEADLOCK).expect("a reader waited for the open write transaction");
    }
    let v2 = w.commit().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(store.begin_read().unwrap().version(), v2);
}

#[test]
fn concurrent_second_begin_write_waits_for_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, Durability::Immediate);
    let first = store.begin_write().unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let (started, wait_started) = mpsc::channel();
    let second = {
        let store = Arc::clone(&store);
        let released = Arc::clone(&released);
        thread::spawn(move || {
            started.send(()).unwrap();
            let mut w = store.begin_write().unwrap();
            // It can only get here once the first transaction has ended.
            assert!(released.load(Ordering::SeqCst), "two write transactions were open at once");
            let base = w.base_version();
            w.alloc().unwrap();
            (base, w.commit().unwrap())
        })
    };
    wait_started.recv().unwrap();
    thread::sleep(Duration::from_millis(20)); // give it the chance to get in wrongly
    let mut first = first;
    first.alloc().unwrap();
    released.store(true, Ordering::SeqCst);
    let v1 = first.commit().unwrap();
    let (base, v2) = second.join().unwrap();
    assert_eq!(base, v1, "the second writer started from the first one's commit");
    assert_eq!(v2.get(), v1.get() + 1);
    assert_eq!(store.page_count(), 2);
}

/// Many writers queue on `begin_write` at once; each ending transaction, by
/// commit or by abort, must hand over to a waiting one (a lost wake-up hangs a
/// writer, which the deadline turns into a failure).
#[test]
fn concurrent_queued_writers_each_get_their_turn() {
    const WRITERS: usize = 4;
    const ROUNDS: u64 = 150;
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, Durability::Eventual);
    let (done, finished) = mpsc::channel();
    let start = Arc::new(Barrier::new(WRITERS));
    for t in 0..WRITERS {
        let (store, done, start) = (Arc::clone(&store), done.clone(), Arc::clone(&start));
        thread::spawn(move || {
            start.wait();
            for round in 0..ROUNDS {
                let mut w = store.begin_write().unwrap();
                w.alloc().unwrap();
                if round % 3 == 2 {
                    w.abort();
                } else {
                    w.commit().unwrap();
                }
            }
            done.send(t).unwrap();
        });
    }
    for _ in 0..WRITERS {
        finished.recv_timeout(Duration::from_secs(60)).expect("a writer waited for ever for its turn");
    }
    let committed = WRITERS as u64 * (ROUNDS - ROUNDS / 3);
    assert_eq!(store.page_count(), committed, "every committed alloc is there, no aborted one");
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn concurrent_try_begin_write_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, Durability::Immediate);
    let w = store.begin_write().unwrap();
    assert!(matches!(store.try_begin_write(), Err(Error::WriteInProgress)));
    let other = Arc::clone(&store);
    let from_thread = thread::spawn(move || matches!(other.try_begin_write(), Err(Error::WriteInProgress)));
    assert!(from_thread.join().unwrap());
    drop(w);
    let mut w = store.try_begin_write().unwrap();
    w.alloc().unwrap();
    w.commit().unwrap();
    assert!(store.try_begin_write().is_ok());
}

/// Pages every commit rewrites with its own version number.
const STAMPED: usize = 24;
const COMMITS: u64 = 300;
const READERS: usize = 4;

fn stamp(page: &mut [u8], v: u64) {
    page.fill(v as u8);
    page[..8].copy_from_slice(&v.to_le_bytes());
    let n = page.len();
    page[n - 8..].copy_from_slice(&v.to_le_bytes());
}

/// Every stamped page of `r` holds `r`'s version, whole.
fn check_stamps(r: &ReadTxn<'_, PAGE>, ids: &[PageId]) -> u64 {
    let v = r.version().get();
    for &id in ids {
        let page = r.page(id).unwrap();
        let head = u64::from_le_bytes(page[..8].try_into().unwrap());
        let tail = u64::from_le_bytes(page[PAGE - 8..].try_into().unwrap());
        assert_eq!((head, tail), (v, v), "version {v}, {id}: a page of another version");
        assert!(page[8..PAGE - 8].iter().all(|&b| b == v as u8), "version {v}, {id}: torn page");
    }
    v
}

#[test]
fn concurrent_stress_readers_see_only_committed_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, Durability::Immediate);
    let ids = {
        let mut w = store.begin_write().unwrap();
        let ids = w.alloc_bulk(STAMPED).unwrap();
        for &id in &ids {
            stamp(w.page_mut(id).unwrap(), 1);
        }
        assert_eq!(w.commit().unwrap().get(), 1);
        ids
    };
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(READERS + 1));
    let readers: Vec<_> = (0..READERS)
        .map(|n| {
            let (store, ids, done, checks, start) =
                (Arc::clone(&store), ids.clone(), Arc::clone(&done), Arc::clone(&checks), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let mut last = 0;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let r = store.begin_read().unwrap();
                    let v = check_stamps(&r, &ids);
                    assert!(v >= last, "reader {n} went back from version {last} to {v}");
                    last = v;
                    if n == 0 {
                        // Hold this version while the writer moves on and
                        // reuses space: it must not change under the reader.
                        while store.version().get() < v + 5 && !done.load(Ordering::Acquire) {
                            thread::yield_now();
                        }
                    } else {
                        thread::yield_now();
                    }
                    assert_eq!(check_stamps(&r, &ids), v);
                    checks.fetch_add(1, Ordering::Relaxed);
                    if finished {
                        return last;
                    }
                }
            })
        })
        .collect();
    start.wait();
    let mut scratch: Vec<PageId> = Vec::new();
    for round in 2..=COMMITS {
        let mut w = store.begin_write().unwrap();
        let v = w.base_version().get() + 1;
        for &id in &ids {
            stamp(w.page_mut(id).unwrap(), v);
        }
        // Churn: free last round's scratch pages and allocate new ones, so
        // space freed under pinned readers is reused as soon as allowed.
        w.free_bulk(&scratch).unwrap();
        scratch = w.alloc_bulk((round % 7 + 1) as usize).unwrap();
        for &id in &scratch {
            w.page_mut(id).unwrap().fill(0xA5);
        }
        assert_eq!(w.commit().unwrap().get(), v);
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert_eq!(r.join().unwrap(), COMMITS, "each reader's last view is the last commit");
    }
    assert!(checks.load(Ordering::Relaxed) >= READERS as u64);
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.leaked_sectors, 0);
}
