//! A free map that lies (a reached page marked free, checksums resealed, so
//! no local check sees it) would let the writer overwrite a page that a
//! reader's `&[u8]` points at. Before the first commit after open the writer
//! checks the file's structure (`Options::check_before_first_commit`, on by
//! default): the commit is refused with a typed error and the reader's bytes
//! stay as they were.

use mappedpages::format::{MapNode, NODE_HEADER, hash16};
use mappedpages::testing::{newest_root, write_root};
use mappedpages::{Error, Options, Store};

const P: usize = 4096;

/// One commit of 16 pages, page `k` filled with `k + 1`; returns their ids.
fn sixteen_pages(store: &Store<P>) -> Vec<mappedpages::PageId> {
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(16).unwrap();
    for (k, &id) in ids.iter().enumerate() {
        w.page_mut(id).unwrap().fill(k as u8 + 1);
    }
    w.commit().unwrap();
    ids
}

/// A store file at `path`: 16 pages written at v1, one rewritten at v2.
/// Returns the file with id 0's page marked free in v2's free map (the leaf
/// and its reference resealed), and id 0.
fn lying_free_map(path: &std::path::Path) -> (Vec<u8>, mappedpages::PageId) {
    let id0;
    {
        let store = Store::<P>::create(path).unwrap();
        let ids = sixteen_pages(&store);
        let mut w = store.begin_write().unwrap();
        w.page_mut(ids[1]).unwrap().fill(0xEE);
        w.commit().unwrap();
        id0 = ids[0];
    }
    let mut file = std::fs::read(path).unwrap();
    let (slot, mut root) = newest_root(&file, P);
    assert_eq!((root.version, root.map_depth, root.table_depth), (2, 1, 1), "one leaf each");
    // id 0's extent, from the table leaf.
    let leaf = (root.table.location * 512) as usize;
    let location = u64::from_le_bytes(file[leaf + NODE_HEADER..leaf + NODE_HEADER + 8].try_into().unwrap());
    assert_ne!(location, 0);
    // Mark its sectors free in the one map leaf, count them, reseal.
    let map = (root.map.location * 512) as usize;
    let spp = (P / 512) as u64;
    {
        let bits = MapNode::bits_mut(&mut file[map..map + P]);
        for s in location..location + spp {
            assert_ne!(bits[(s / 8) as usize] & (1 << (s % 8)), 0, "the reached page was in use");
            bits[(s / 8) as usize] &= !(1 << (s % 8));
        }
    }
    root.map.free += spp;
    root.map.checksum = hash16(&file[map..map + P]);
    write_root(&mut file, slot, &root);
    (file, id0)
}

#[test]
fn a_free_map_that_marks_a_reached_page_free_stops_the_first_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (file, id0) = lying_free_map(&path);
    std::fs::write(&path, &file).unwrap();

    let store = Store::<P>::open(&path).unwrap();
    assert_eq!(store.version().get(), 2, "open accepts the file (it does not scan)");
    let r = store.begin_read().unwrap();
    let before = r.page(id0).unwrap().to_vec();
    let slice = r.page(id0).unwrap();
    // The writer's first commit: a few new pages, the first of which a lying
    // map would place on id 0's page.
    let mut w = store.begin_write().unwrap();
    for _ in 0..4 {
        let id = w.alloc().unwrap();
        w.page_mut(id).unwrap().fill(0x77);
    }
    match w.commit() {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("marked free"), "{detail}"),
        other => panic!("the first commit on a lying free map was not refused: {other:?}"),
    }
    assert_eq!(slice, &before[..], "the reader's bytes changed");
    assert_eq!(store.version().get(), 2);
    // The refusal holds for later commits too, and verify names the problem.
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    w.page_mut(id).unwrap().fill(1);
    assert!(matches!(w.commit(), Err(Error::Corrupt { .. })));
    drop(r);
    assert!(!store.verify().unwrap().is_clean());
}

/// With the check turned off (a caller who vouches for the file), the same
/// file is written over: what the check is there to stop.
#[test]
fn without_the_check_the_writer_overwrites_the_page_a_reader_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (file, id0) = lying_free_map(&path);
    std::fs::write(&path, &file).unwrap();

    let options = Options::default().check_before_first_commit(false);
    let store = Store::<P>::open_with(&path, options).unwrap();
    let r = store.begin_read().unwrap();
    let before = r.page(id0).unwrap().to_vec();
    let mut changed = false;
    for _ in 0..8 {
        let mut w = store.begin_write().unwrap();
        for _ in 0..4 {
            let id = w.alloc().unwrap();
            w.page_mut(id).unwrap().fill(0x77);
        }
        w.commit().unwrap();
        changed |= r.page(id0).unwrap() != &before[..];
    }
    assert!(changed, "the lying map never led the writer to the reader's page: this test shows nothing");
}

/// A held pending record that lists a page the current version reaches
/// (resealed: checksums recomputed) would, once released, hand that page to
/// the allocator while readers hold it. The first commit's check sees the
/// record's extent overlap the reached page and refuses to write.
#[test]
fn a_pending_record_listing_a_reached_page_stops_the_first_commit() {
    use mappedpages::HistoryWindow;
    use mappedpages::format::{PendingPage, PendingRecord, RECORDS_AT};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let id0 = {
        let store = Store::<P>::create(&path).unwrap();
        store.set_history(HistoryWindow::versions(100)).unwrap();
        let ids = sixteen_pages(&store);
        // Freed while the history window keeps v2: a held content record.
        let mut w = store.begin_write().unwrap();
        w.free(ids[15]).unwrap();
        w.commit().unwrap();
        ids[0]
    };
    let mut file = std::fs::read(&path).unwrap();
    let (slot, mut root) = newest_root(&file, P);
    let leaf = (root.table.location * 512) as usize;
    let entry = |id: u64| leaf + NODE_HEADER + 48 * id as usize;
    let location_of = |file: &[u8], id: u64| u64::from_le_bytes(file[entry(id)..entry(id) + 8].try_into().unwrap());
    let target = location_of(&file, id0.get());
    let page = (root.pending.location * 512) as usize;
    let count = PendingPage::count(&file[page..page + P]) as usize;
    let i = (0..count)
        .find(|&i| {
            PendingPage::record(&file[page..page + P], i)
                .is_some_and(|r: PendingRecord| r.sectors == 8 && r.location != target)
        })
        .expect("the freed page's record");
    let at = page + RECORDS_AT + i * PendingRecord::SIZE;
    file[at..at + 8].copy_from_slice(&target.to_le_bytes());
    root.pending.checksum = hash16(&file[page..page + P]);
    write_root(&mut file, slot, &root);
    std::fs::write(&path, &file).unwrap();

    let store = Store::<P>::open(&path).unwrap();
    let r = store.begin_read().unwrap();
    let before = r.page(id0).unwrap().to_vec();
    let mut w = store.begin_write().unwrap();
    w.alloc().unwrap();
    match w.commit() {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("overlaps"), "{detail}"),
        other => panic!("the first commit over a lying pending record was not refused: {other:?}"),
    }
    assert_eq!(r.page(id0).unwrap(), &before[..]);
    drop(r);
    drop(store);
    // Only the check sees it: without it the commit goes through.
    let options = Options::default().check_before_first_commit(false);
    let store = Store::<P>::open_with(&path, options).unwrap();
    let mut w = store.begin_write().unwrap();
    w.alloc().unwrap();
    w.commit().expect("no local check sees the lying record");
}

/// Bit rot in a free-map leaf (its checksum not resealed: real rot) that marks
/// a reached page free: the writer checks the checksum of every node it reads
/// from the file (not those it wrote itself), so even with the first-commit
/// check turned off the commit is refused instead of writing over the page.
#[test]
fn a_rotted_free_map_leaf_is_refused_on_the_write_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (resealed, id0) = lying_free_map(&path);
    // Undo the resealing: the same bits, the old checksum and count.
    let mut file = std::fs::read(&path).unwrap();
    let (slot, mut root) = newest_root(&file, P);
    let map = (root.map.location * 512) as usize;
    file[map..map + P].copy_from_slice(&resealed[map..map + P]);
    // The rot is older than the last sync: recovery, which checks only what
    // was written since, does not read the leaf.
    root.synced_through = root.version;
    write_root(&mut file, slot, &root);
    std::fs::write(&path, &file).unwrap();

    let options = Options::default().check_before_first_commit(false);
    let store = Store::<P>::open_with(&path, options).unwrap();
    let r = store.begin_read().unwrap();
    let before = r.page(id0).unwrap().to_vec();
    let mut w = store.begin_write().unwrap();
    for _ in 0..4 {
        let id = w.alloc().unwrap();
        w.page_mut(id).unwrap().fill(0x77);
    }
    match w.commit() {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("checksum"), "{detail}"),
        other => panic!("a commit over a rotted free-map leaf was not refused: {other:?}"),
    }
    assert_eq!(r.page(id0).unwrap(), &before[..]);
}
