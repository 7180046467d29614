//! A failed sync is not trusted by the reopen it asks for ("fsyncgate",
//! SPEC.md sections 1, 9 and 10).
//!
//! On Linux a failed `fdatasync` leaves the pages it could not write in the
//! page cache, marked clean: a reopen in the same process (or another one,
//! before a reboot) reads them, the next sync succeeds without writing them,
//! and a power cut then shows the old bytes. `CrashStorage` models exactly
//! that. Each test commits A durably, makes commits B whose sync fails,
//! reopens on the live image (the page cache) and must find A, commits C
//! durably on top, cuts the power, and must find A + C, verifying clean, with
//! B's bytes nowhere on the disk.

use std::collections::BTreeMap;

use mappedpages::storage::{CrashControl, CrashStorage, Fault, TearPattern};
use mappedpages::{Durability, Error, Options, PageId, Store};

const PAGE: usize = 4096;
/// The byte B's pages are filled with; no other commit writes it.
const B: u8 = 0xB2;

type Content = BTreeMap<PageId, u8>;

fn commit(store: &Store<PAGE>, content: &mut Content, rewrite: usize, fresh: usize, byte: u8) -> u64 {
    let mut w = store.begin_write().unwrap();
    let ids: Vec<PageId> = content.keys().copied().take(rewrite).collect();
    for id in ids.into_iter().chain(w.alloc_bulk(fresh).unwrap()) {
        w.page_mut(id).unwrap().fill(byte);
        content.insert(id, byte);
    }
    w.commit().unwrap().get()
}

/// B's commit: its writes reach the page cache, then its sync (or the one
/// `fail` makes) fails. Returns nothing: B must leave no trace.
fn commit_b(store: &Store<PAGE>, content: &Content) {
    let mut w = store.begin_write().unwrap();
    for &id in content.keys() {
        w.page_mut(id).unwrap().fill(B);
    }
    for id in w.alloc_bulk(6).unwrap() {
        w.page_mut(id).unwrap().fill(B);
    }
    w.commit().unwrap();
}

fn check(store: &Store<PAGE>, version: u64, content: &Content) {
    assert_eq!(store.version().get(), version);
    let r = store.begin_read().unwrap();
    let ids: Vec<PageId> = r.ids().collect::<Result<_, _>>().unwrap();
    assert_eq!(ids, content.keys().copied().collect::<Vec<_>>());
    for (&id, &byte) in content {
        assert!(r.page(id).unwrap().iter().all(|&b| b == byte), "page {id:?} does not hold {byte:#x}");
    }
    drop(r);
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

/// After the failure: the store refuses work; a reopen on the live image
/// recovers A; C commits durably; after a power cut the disk holds A + C and
/// nothing of B.
fn reopen_commit_and_cut(store: Store<PAGE>, control: &CrashControl, options: &Options, a: u64, mut content: Content) {
    assert!(matches!(store.begin_write(), Err(Error::NeedsReopen)));
    drop(store);
    let store = Store::<PAGE>::open_on(control.reopen().unwrap(), options.clone()).unwrap();
    check(&store, a, &content);
    assert!(store.rejected_root().is_none(), "the failed commits' root is hidden, not rejected");
    let c = commit(&store, &mut content, 3, 2, 0xC3);
    assert_eq!(c, a + 1);
    store.sync().unwrap();
    drop(store);
    for pattern in [TearPattern::KeepAll, TearPattern::DropAll, TearPattern::Seeded(7)] {
        let image = control.crash_image(pattern);
        assert!(!image.chunks(PAGE).any(|p| p.iter().all(|&b| b == B)), "{pattern:?}: a page of B's reached the disk");
        let disk = CrashStorage::from_image(&image, 1 << 30).unwrap();
        let store = Store::<PAGE>::open_on(disk, options.clone()).unwrap();
        check(&store, c, &content);
    }
}

#[test]
fn a_failed_commit_sync_is_not_trusted_by_a_reopen() {
    let disk = CrashStorage::new().unwrap();
    let control = disk.control();
    let options = Options::default();
    let store = Store::<PAGE>::create_on(disk, options.clone()).unwrap();
    let mut content = Content::new();
    let a = commit(&store, &mut content, 0, 8, 0xA1);
    control.set_fault(Some(Fault::FailSync(control.counts().syncs)));
    let mut w = store.begin_write().unwrap();
    for &id in content.keys() {
        w.page_mut(id).unwrap().fill(B);
    }
    for id in w.alloc_bulk(6).unwrap() {
        w.page_mut(id).unwrap().fill(B);
    }
    assert!(matches!(w.commit(), Err(Error::Io { .. })));
    assert_eq!(store.version().get(), a, "the failed commit is not published");
    reopen_commit_and_cut(store, &control, &options, a, content);
}

#[test]
fn a_failed_store_sync_is_not_trusted_by_a_reopen() {
    let disk = CrashStorage::new().unwrap();
    let control = disk.control();
    let options = Options::default().durability(Durability::Eventual);
    let store = Store::<PAGE>::create_on(disk, options.clone()).unwrap();
    let mut content = Content::new();
    let a = commit(&store, &mut content, 0, 8, 0xA1);
    store.sync().unwrap();
    // Two unsynced commits, both in the slot that does not hold A.
    commit_b(&store, &content);
    commit_b(&store, &content);
    assert_eq!(store.version().get(), a + 2);
    control.set_fault(Some(Fault::FailSync(control.counts().syncs)));
    assert!(matches!(store.sync(), Err(Error::Io { .. })));
    reopen_commit_and_cut(store, &control, &options, a, content);
}

#[test]
fn a_failed_sync_at_close_is_not_trusted_by_a_reopen() {
    let disk = CrashStorage::new().unwrap();
    let control = disk.control();
    let options = Options::default().durability(Durability::Eventual);
    let store = Store::<PAGE>::create_on(disk, options.clone()).unwrap();
    let mut content = Content::new();
    let a = commit(&store, &mut content, 0, 8, 0xA1);
    store.sync().unwrap();
    commit_b(&store, &content);
    let syncs = control.counts().syncs;
    control.set_fault(Some(Fault::FailSync(syncs)));
    // Dropping the store syncs; the failure has nobody to tell.
    drop(store);
    assert_eq!(control.counts().syncs, syncs + 1, "the close tried its sync");
    let store = Store::<PAGE>::open_on(control.reopen().unwrap(), options.clone()).unwrap();
    check(&store, a, &content);
    let c = commit(&store, &mut content, 3, 2, 0xC3);
    store.sync().unwrap();
    drop(store);
    let image = control.crash_image(TearPattern::KeepAll);
    assert!(!image.chunks(PAGE).any(|p| p.iter().all(|&b| b == B)), "a page of B's reached the disk");
    let store = Store::<PAGE>::open_on(CrashStorage::from_image(&image, 1 << 30).unwrap(), options.clone()).unwrap();
    check(&store, c, &content);
}

/// `close()` syncs what Eventual commits left unsynced and returns the error
/// of a failed sync, which dropping the store cannot: after a clean close the
/// last commit survives a power cut that drops every unsynced write; after a
/// failed one the error reaches the caller and a reopen finds the last
/// durable commit.
#[test]
fn close_syncs_eventual_commits_and_returns_a_failed_sync() {
    let options = Options::default().durability(Durability::Eventual);
    // A clean close: durable.
    let disk = CrashStorage::new().unwrap();
    let control = disk.control();
    let store = Store::<PAGE>::create_on(disk, options.clone()).unwrap();
    let mut content = Content::new();
    let v = commit(&store, &mut content, 0, 4, 0x11);
    store.close().unwrap();
    let store = Store::<PAGE>::open_on(control.crash(TearPattern::DropAll).unwrap(), options.clone()).unwrap();
    check(&store, v, &content);
    drop(store);

    // A failed close: the caller hears of it.
    let disk = CrashStorage::new().unwrap();
    let control = disk.control();
    let store = Store::<PAGE>::create_on(disk, options.clone()).unwrap();
    let mut content = Content::new();
    let durable = commit(&store, &mut content, 0, 4, 0x22);
    store.sync().unwrap();
    let before = content.clone();
    commit(&store, &mut content, 2, 2, 0x33);
    control.set_fault(Some(Fault::FailSync(control.counts().syncs)));
    assert!(matches!(store.close(), Err(Error::Io { .. })), "close reports the failed sync");
    let store = Store::<PAGE>::open_on(control.reopen().unwrap(), options).unwrap();
    check(&store, durable, &before);
}
