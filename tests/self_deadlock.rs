//! A thread that holds the write transaction and calls something that would
//! begin another one gets `Error::WouldDeadlock` at once instead of waiting
//! for itself; the snapshot and history calls are also methods of the write
//! transaction. Each call runs under a watchdog, so a regression fails instead
//! of hanging the suite.

use std::sync::mpsc;
use std::time::Duration;

use mappedpages::storage::MemoryStorage;
use mappedpages::{At, Error, HistoryWindow, Options, Store};

const P: usize = 4096;

/// Runs `f` on a thread and fails the test if it has not returned in 20 s.
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what} hung"))
}

fn store() -> Store<P> {
    let store = Store::<P>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    w.page_mut(id).unwrap().fill(1);
    w.commit().unwrap();
    store.create_snapshot("old").unwrap();
    store
}

type Call = fn(&Store<P>) -> Result<(), Error>;

#[test]
fn store_level_calls_under_an_open_write_transaction_fail_at_once() {
    let calls: [(&str, Call); 6] = [
        ("begin_write", |s| s.begin_write().map(drop)),
        ("sync", |s| s.sync()),
        ("create_snapshot", |s| s.create_snapshot("new").map(drop)),
        ("delete_snapshot", |s| s.delete_snapshot("old")),
        ("set_history", |s| s.set_history(HistoryWindow::versions(4)).map(drop)),
        ("restore", |s| s.restore(At::Snapshot("old")).map(drop)),
    ];
    for (name, call) in calls {
        let result = within_deadline(name, move || {
            let store = store();
            let w = store.begin_write().unwrap();
            let r = call(&store);
            drop(w);
            // Once the transaction is gone, the same call goes through.
            (r, call(&store))
        });
        assert!(matches!(result.0, Err(Error::WouldDeadlock)), "{name} under a write transaction: {:?}", result.0);
        assert!(result.1.is_ok(), "{name} after the transaction ended: {:?}", result.1);
    }
}

#[test]
fn another_thread_still_waits_for_the_writer() {
    within_deadline("a second thread's begin_write", || {
        let store = std::sync::Arc::new(store());
        let w = store.begin_write().unwrap();
        let other = {
            let store = std::sync::Arc::clone(&store);
            std::thread::spawn(move || store.begin_write().map(|w| w.base_version()))
        };
        std::thread::sleep(Duration::from_millis(50));
        let base = w.base_version();
        w.commit().unwrap();
        assert_eq!(other.join().unwrap().unwrap().get(), base.get() + 1, "the waiter began after the commit");
    });
}

#[test]
fn snapshots_and_history_commit_with_the_transaction() {
    within_deadline("transaction-level version operations", || {
        let store = store();
        let mut w = store.begin_write().unwrap();
        let base = w.base_version();
        w.create_snapshot("a").unwrap();
        w.create_snapshot("b").unwrap();
        w.delete_snapshot("old");
        w.set_history(HistoryWindow::versions(3));
        assert!(matches!(w.create_snapshot(""), Err(Error::InvalidName(_))));
        let v = w.commit().unwrap();
        assert_eq!(v.get(), base.get() + 1, "one commit for all of it");
        let names: Vec<String> = store.snapshots().unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(store.begin_read_at(At::Snapshot("a")).unwrap().version(), base);
        assert_eq!(store.history_window().keep_versions, 3);
        // A failing operation fails the whole commit and changes nothing.
        let mut w = store.begin_write().unwrap();
        w.create_snapshot("c").unwrap();
        w.delete_snapshot("missing");
        assert!(matches!(w.commit(), Err(Error::SnapshotNotFound(_))));
        assert_eq!(store.snapshots().unwrap().len(), 2);
        assert!(store.verify().unwrap().is_clean());
    });
}

/// A storage whose writes panic once `armed` is set (a bug in a `Storage`
/// implementation, or a panic anywhere inside a commit).
struct Panicking {
    inner: MemoryStorage,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

// SAFETY: every view is the inner storage's, borrowed through `self`, and its
// bytes change only through the inner `write`, which only ours calls.
unsafe impl mappedpages::storage::Storage for Panicking {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn grow(&self, new_len: u64) -> std::io::Result<()> {
        self.inner.grow(new_len)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        assert!(!self.armed.load(std::sync::atomic::Ordering::Relaxed), "a write panicked");
        self.inner.write(offset, data)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.inner.sync()
    }
    fn view(&self) -> mappedpages::storage::RawView<'_> {
        self.inner.view()
    }
}

/// A commit that panics takes the writer state with it: later `begin_write`s
/// (on this thread and on others, waiting or not) get `Error::NeedsReopen`
/// instead of waiting forever, and readers go on.
#[test]
fn a_commit_that_panics_leaves_no_writer_waiting_forever() {
    within_deadline("begin_write after a panicked commit", || {
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let storage = Panicking { inner: MemoryStorage::new().unwrap(), armed: std::sync::Arc::clone(&armed) };
        let store = std::sync::Arc::new(Store::<P>::create_on(storage, Options::default()).unwrap());
        let mut w = store.begin_write().unwrap();
        let id = w.alloc().unwrap();
        w.page_mut(id).unwrap().fill(1);
        w.commit().unwrap();

        let mut w = store.begin_write().unwrap();
        // A second thread waits for the writer meanwhile.
        let waiter = {
            let store = std::sync::Arc::clone(&store);
            std::thread::spawn(move || store.begin_write().map(drop))
        };
        std::thread::sleep(Duration::from_millis(50));
        w.page_mut(id).unwrap().fill(2);
        armed.store(true, std::sync::atomic::Ordering::Relaxed);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || w.commit()));
        assert!(panicked.is_err(), "the commit did not panic");
        armed.store(false, std::sync::atomic::Ordering::Relaxed);
        assert!(matches!(waiter.join().unwrap(), Err(Error::NeedsReopen)));
        assert!(matches!(store.begin_write().map(drop), Err(Error::NeedsReopen)));
        assert!(matches!(store.try_begin_write().map(drop), Err(Error::NeedsReopen)));
        assert_eq!(store.begin_read().unwrap().page(id).unwrap()[0], 1, "readers see the last commit");
    });
}
