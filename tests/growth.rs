//! Growth of the file never moves or invalidates a reader's pages, even past the
//! address space reserved for the mapping.

use mappedpages::{Options, Store};

#[test]
fn growth_slice_held_across_growth_and_remapping_stays_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.db");
    // A 1 MiB reservation: the file outgrows it many times over below.
    let options = Options::default().reserve(1 << 20);
    let store = Store::<4096>::create_with(&path, options).unwrap();
    let mut w = store.begin_write().unwrap();
    let first = w.alloc_bulk(8).unwrap();
    for &id in &first {
        w.page_mut(id).unwrap().fill(0xA5);
    }
    w.commit().unwrap();
    let reader = store.begin_read().unwrap();
    let held: Vec<&[u8]> = first.iter().map(|&id| reader.page(id).unwrap()).collect();
    let start = store.stats().physical_pages;
    for round in 0..10u8 {
        let mut w = store.begin_write().unwrap();
        for id in w.alloc_bulk(400).unwrap() {
            w.page_mut(id).unwrap().fill(round);
        }
        for &id in &first {
            w.page_mut(id).unwrap().fill(round);
        }
        w.commit().unwrap();
    }
    let end = store.stats().physical_pages;
    assert!(end * 4096 > 8 << 20, "the file grew to {end} pages only (from {start})");
    for bytes in &held {
        assert!(bytes.iter().all(|&b| b == 0xA5));
    }
    for &id in &first {
        assert!(reader.page(id).unwrap().iter().all(|&b| b == 0xA5));
    }
    drop(held);
    drop(reader);
    assert!(store.begin_read().unwrap().page(first[0]).unwrap().iter().all(|&b| b == 9));
    drop(store);
    let store = Store::<4096>::open_with(&path, Options::default().reserve(1 << 20)).unwrap();
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn growth_the_unwritten_tail_of_a_real_file_is_found() {
    use mappedpages::storage::{FileMode, FileStorage, Storage};
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse");
    let s = FileStorage::open(&path, FileMode::Create, 1 << 30).unwrap();
    s.grow(4 << 20).unwrap();
    s.write(0, &[1u8; 4096]).unwrap();
    s.write(1 << 20, &[1u8; 4096]).unwrap();
    s.sync().unwrap();
    let tail = s.unwritten_from();
    assert!(tail <= 4 << 20, "past the end: {tail}");
    // Where the file system keeps the file sparse, a point in the hole past
    // the last write is reported (the storage looks at the last quarter of
    // the file only); elsewhere nothing is claimed.
    if std::fs::metadata(&path).unwrap().blocks() * 512 < 4 << 20 {
        assert!(((1 << 20) + 4096..4 << 20).contains(&tail), "tail at {tail}");
    } else {
        assert_eq!(tail, 4 << 20);
    }
    // A write past it moves it.
    s.write(3 << 20, &[1u8; 4096]).unwrap();
    assert!(s.unwritten_from() >= (3 << 20) + 4096);
}

#[test]
fn growth_small_store_stays_small_after_its_first_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.db");
    let store = Store::<4096>::create(&path).unwrap();
    let empty = std::fs::metadata(&path).unwrap().len();
    let mut w = store.begin_write().unwrap();
    for id in w.alloc_bulk(3).unwrap() {
        w.page_mut(id).unwrap().fill(1);
    }
    w.commit().unwrap();
    let after_one = std::fs::metadata(&path).unwrap().len();
    // Growth is a quarter of the file, at least 64 KiB (it was 1 MiB).
    // Empty: the meta area alone (format 3: header and two root slots, 4 KiB each).
    assert!(empty <= 3 * 4096 && after_one <= 128 << 10, "empty {empty} B, after a 3-page commit {after_one} B");
    for _ in 0..50 {
        let mut w = store.begin_write().unwrap();
        w.page_mut(mappedpages::PageId::from_raw(0)).unwrap()[0] ^= 1;
        w.commit().unwrap();
    }
    let after_many = std::fs::metadata(&path).unwrap().len();
    assert!(after_many <= 256 << 10, "50 one-page commits on 3 pages: {after_many} B");
    println!("empty {empty} B, after one commit {after_one} B, after 51 {after_many} B");
    assert!(store.verify().unwrap().is_clean());
}
