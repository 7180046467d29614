//! Progress and cancellation of the long operations (verify, export), as the
//! command-line tool uses them: each unit of work is reported once, the total
//! announced first is the total done, and a cancel stops the work, leaving
//! nothing half-made.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use mappedpages::{At, Error, Progress, Store};

/// Records `start` and the units done; cancels once `cancel_after` are done.
struct Recorder {
    total: Mutex<Option<u64>>,
    done: AtomicU64,
    cancel_after: u64,
}

impl Recorder {
    fn new(cancel_after: u64) -> Recorder {
        Recorder { total: Mutex::new(None), done: AtomicU64::new(0), cancel_after }
    }
}

impl Progress for Recorder {
    fn start(&self, total: u64) {
        *self.total.lock().unwrap() = Some(total);
    }
    fn advance(&self, done: u64) {
        self.done.fetch_add(done, Ordering::Relaxed);
    }
    fn cancelled(&self) -> bool {
        self.done.load(Ordering::Relaxed) >= self.cancel_after
    }
}

fn store_with(dir: &std::path::Path, pages: usize) -> Store<4096> {
    let store = Store::<4096>::create(dir.join("p.db")).unwrap();
    let mut w = store.begin_write().unwrap();
    for (i, id) in w.alloc_bulk(pages).unwrap().into_iter().enumerate() {
        // Every third page stays zero: it has no extent, and still counts.
        if i % 3 != 0 {
            w.page_mut(id).unwrap().fill(i as u8);
        }
    }
    w.commit().unwrap();
    store
}

#[test]
fn verify_reports_every_page_once_and_stops_when_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 300);
    let all = Recorder::new(u64::MAX);
    assert!(store.verify_with(&all).unwrap().is_clean());
    assert_eq!(*all.total.lock().unwrap(), Some(300));
    assert_eq!(all.done.load(Ordering::Relaxed), 300);

    let part = Recorder::new(100);
    assert!(matches!(store.verify_with(&part), Err(Error::Cancelled)));
    assert_eq!(part.done.load(Ordering::Relaxed), 100, "no page checked after the cancel");
    assert!(store.verify().unwrap().is_clean(), "the store is as it was");
}

#[test]
fn export_reports_reads_and_writes_and_a_cancel_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 3000);
    let all = Recorder::new(u64::MAX);
    let copy = dir.path().join("copy.db");
    let report = store.export_with(&copy, At::Version(store.version()), &all).unwrap();
    assert_eq!(report.content_hash, store.begin_read().unwrap().content_hash());
    assert_eq!(*all.total.lock().unwrap(), Some(6000), "one unit read and one written per page");
    assert_eq!(all.done.load(Ordering::Relaxed), 6000);

    for cancel_after in [0, 1500, 3500] {
        let stopped = dir.path().join(format!("stopped-{cancel_after}.db"));
        let part = Recorder::new(cancel_after);
        assert!(matches!(store.export_with(&stopped, At::Version(store.version()), &part), Err(Error::Cancelled)));
        assert!(!stopped.exists(), "cancelled after {cancel_after}: no file left");
    }
}

#[test]
fn page_size_of_reads_the_header_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(Store::<2048>::create(&path).unwrap());
    assert_eq!(mappedpages::page_size_of(&path).unwrap(), 2048);
    let text = dir.path().join("t.txt");
    std::fs::write(&text, vec![b'x'; 4096]).unwrap();
    assert!(matches!(mappedpages::page_size_of(&text), Err(Error::UnsupportedFormat(_))));
    assert!(matches!(mappedpages::page_size_of(dir.path().join("none")), Err(Error::Io { .. })));
}
