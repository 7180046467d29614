//! The edges of the number space: what a store does when it runs out of
//! version numbers.

use mappedpages::testing::{newest_root, write_root};
use mappedpages::{Error, Store};

const P: usize = 4096;

/// Rewrites the newest root of the store file at `path` (the one in `slot`)
/// with its version set to `version`, checksum resealed.
fn set_root_version(path: &std::path::Path, slot: usize, version: u64) {
    let mut file = std::fs::read(path).unwrap();
    let (newest, mut root) = newest_root(&file, P);
    assert_eq!(newest, slot);
    root.version = version;
    root.history_start = version;
    write_root(&mut file, slot, &root);
    std::fs::write(path, file).unwrap();
}

/// A root one short of the last version opens, but the commit that would make
/// the last version (which no decoder accepts) is refused with a typed error:
/// it would be acknowledged and then lost at the next open.
#[test]
fn the_commit_that_would_make_an_unreadable_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let id = {
        let store = Store::<P>::create(&path).unwrap();
        let mut w = store.begin_write().unwrap();
        let id = w.alloc().unwrap();
        w.page_mut(id).unwrap().fill(1);
        w.commit().unwrap();
        id
    };
    // Version 1 sits in slot 1 (version 0 in slot 0).
    set_root_version(&path, 1, u64::MAX - 1);
    let store = Store::<P>::open(&path).unwrap();
    assert_eq!(store.version().get(), u64::MAX - 1);
    let mut w = store.begin_write().unwrap();
    w.page_mut(id).unwrap().fill(2);
    match w.commit() {
        Err(Error::Full(_)) => {}
        other => panic!("expected Error::Full, got {other:?}"),
    }
    assert_eq!(store.version().get(), u64::MAX - 1);
    assert_eq!(store.begin_read().unwrap().page(id).unwrap()[0], 1);
    drop(store);
    let store = Store::<P>::open(&path).unwrap();
    assert_eq!(store.version().get(), u64::MAX - 1);
    assert!(store.verify().unwrap().is_clean());
}
