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
