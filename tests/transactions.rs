//! The public API as a user calls it: allocation, writes, commits, readers.

use mappedpages::{Error, Options, PageId, Store, storage::MemoryStorage};

fn mem_store() -> Store<4096> {
    Store::<4096>::create_on(MemoryStorage::with_capacity(1 << 28).unwrap(), Options::default()).unwrap()
}

#[test]
fn alloc_write_commit_read_back() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(200).unwrap();
    for (i, &id) in ids.iter().enumerate() {
        w.page_mut(id).unwrap().fill(i as u8 + 1);
    }
    let v = w.commit().unwrap();
    assert_eq!(v.get(), 1);
    let r = store.begin_read().unwrap();
    for (i, &id) in ids.iter().enumerate() {
        assert!(r.page(id).unwrap().iter().all(|&b| b == i as u8 + 1));
    }
    let listed: Vec<PageId> = r.ids().map(|x| x.unwrap()).collect();
    assert_eq!(listed, ids);
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.leaked_sectors, 0);
}

#[test]
fn reader_keeps_its_version_across_commits() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(50).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap().fill(1);
    }
    w.commit().unwrap();
    let old = store.begin_read().unwrap();
    for round in 2..100u8 {
        let mut w = store.begin_write().unwrap();
        for &id in &ids {
            w.page_mut(id).unwrap().fill(round);
        }
        w.commit().unwrap();
    }
    for &id in &ids {
        assert!(old.page(id).unwrap().iter().all(|&b| b == 1));
    }
    let new = store.begin_read().unwrap();
    assert!(new.page(ids[0]).unwrap().iter().all(|&b| b == 99));
    drop(old);
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn abort_leaks_nothing_and_errors_are_typed() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    w.commit().unwrap();
    let before = store.stats();
    let mut w = store.begin_write().unwrap();
    w.alloc_bulk(10).unwrap();
    w.page_mut(id).unwrap().fill(3);
    drop(w);
    assert_eq!(store.stats(), before);
    let mut w = store.begin_write().unwrap();
    assert!(matches!(w.free(PageId::from_raw(5)), Err(Error::OutOfRange(_))));
    w.free(id).unwrap();
    assert!(matches!(w.free(id), Err(Error::DoubleFree(_))));
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    assert!(matches!(r.page(id), Err(Error::NotAllocated(_))));
    assert!(matches!(store.try_begin_write().map(|_| ()), Ok(())));
}

/// Ids allocated and freed in the same transaction still move `next_id`; when
/// that takes the table a level deeper, the commit must add the level even
/// though no entry changed (found by the crash proptest: the root claimed a
/// deeper table over the old top, and every read of the version failed).
#[test]
fn ids_allocated_and_freed_in_one_transaction_may_deepen_the_table() {
    for extra in 1..200usize {
        let store =
            Store::<1024>::create_on(MemoryStorage::with_capacity(64 << 20).unwrap(), Options::default()).unwrap();
        let mut w = store.begin_write().unwrap();
        let kept = w.alloc_bulk(20).unwrap();
        for &id in &kept {
            w.write(id, &[id.get() as u8 + 1; 1024]).unwrap();
        }
        w.commit().unwrap();
        let mut w = store.begin_write().unwrap();
        let gone = w.alloc_bulk(extra).unwrap();
        w.free_bulk(&gone).unwrap();
        w.commit().unwrap();
        assert!(store.verify().unwrap().is_clean(), "{extra} ids allocated and freed");
        let r = store.begin_read().unwrap();
        for &id in &kept {
            assert_eq!(r.page(id).unwrap(), &[id.get() as u8 + 1; 1024][..], "{extra} ids allocated and freed");
        }
    }
}
