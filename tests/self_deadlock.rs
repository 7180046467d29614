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
        ("set_history", |s| s.set_history(HistoryWindow { keep_versions: 4, keep_seconds: 0 }).map(drop)),
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
        w.set_history(HistoryWindow { keep_versions: 3, keep_seconds: 0 });
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
