//! One file per reader rule of SPEC.md that a writer keeps and a reader must
//! enforce: each case breaks only that rule in an engine-written file, with
//! every checksum on the way to the root recomputed, so only the rule itself
//! can refuse it. The unbroken fixture opens and verifies clean, so each
//! refusal is the rule's.

use mappedpages::format::{ChainRef, Root, hash16};
use mappedpages::storage::MemoryStorage;
use mappedpages::testing::{newest_root, root_slot_offset, write_root};
use mappedpages::{Error, HistoryWindow, Options, Store};

const P: usize = 4096;

/// A store with a pending list that holds records (the history window keeps
/// old versions), a catalog, and a snapshot whose deadlist holds records.
/// Returns its image with the older root slot cleared: recovery has only the
/// newest root, so a broken rule cannot hide behind a fallback.
fn fixture() -> Vec<u8> {
    let store = Store::<P>::create_on(MemoryStorage::with_capacity(64 << 20).unwrap(), Options::default()).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(16).unwrap();
    for (k, &id) in ids.iter().enumerate() {
        w.page_mut(id).unwrap().fill(k as u8 + 1);
    }
    w.commit().unwrap();
    store.create_snapshot("a").unwrap();
    let free = |range: std::ops::Range<usize>| {
        let mut w = store.begin_write().unwrap();
        for &id in &ids[range] {
            w.free(id).unwrap();
        }
        w.commit().unwrap();
    };
    // Pages only the snapshot reaches: its deadlist (once released from the
    // pending list by the next commit).
    free(0..4);
    store.set_history(HistoryWindow::versions(100)).unwrap();
    // Pages the history window keeps: held records, pages with summaries.
    free(4..8);
    let mut image = mappedpages::testing::image(&store);
    let (slot, _) = newest_root(&image, P);
    let other = root_slot_offset(&image, 1 - slot) as usize;
    image[other..other + 512].fill(0);
    image
}

fn open(image: &[u8]) -> Result<Store<P>, Error> {
    Store::<P>::open_on(MemoryStorage::from_bytes(image, 64 << 20).unwrap(), Options::default())
}

/// The page at sector `location`.
fn page(image: &mut [u8], location: u64) -> &mut [u8] {
    let at = (location * 512) as usize;
    &mut image[at..at + P]
}

/// Applies `edit` to the newest root and reseals it.
fn edit_root(image: &mut [u8], edit: impl FnOnce(&mut Root)) {
    let (slot, mut root) = newest_root(image, P);
    edit(&mut root);
    write_root(image, slot, &root);
}

/// Edits the pending list's head page and reseals the root's reference.
fn edit_pending_head(image: &mut [u8], edit: impl FnOnce(&mut [u8])) {
    let (_, root) = newest_root(image, P);
    edit(page(image, root.pending.location));
    let sum = hash16(page(image, root.pending.location));
    edit_root(image, |r| r.pending.checksum = sum);
}

/// Edits the catalog's first page and reseals the root's reference.
fn edit_catalog(image: &mut [u8], edit: impl FnOnce(&mut [u8])) {
    let (_, root) = newest_root(image, P);
    edit(page(image, root.catalog.location));
    let sum = hash16(page(image, root.catalog.location));
    edit_root(image, |r| r.catalog.checksum = sum);
}

/// Catalog entry 0's deadlist reference, in its catalog page.
const DEADLIST_REF: usize = 64 + 168;

/// Edits snapshot 0's newest deadlist page and reseals the catalog entry's
/// reference, the catalog page and the root's reference.
fn edit_deadlist(image: &mut [u8], edit: impl FnOnce(&mut [u8])) {
    let (_, root) = newest_root(image, P);
    let entry = &page(image, root.catalog.location)[DEADLIST_REF..];
    let location = u64::from_le_bytes(entry[..8].try_into().unwrap());
    assert_ne!(location, 0, "the snapshot has a deadlist");
    edit(page(image, location));
    let sum = hash16(page(image, location));
    edit_catalog(image, |c| c[DEADLIST_REF + 16..DEADLIST_REF + 32].copy_from_slice(&sum));
}

/// Opening refuses the root: the one root breaks a rule (`what`, found in
/// the error's detail).
fn refused(image: &[u8], what: &str) {
    match open(image) {
        Err(Error::NoValidRoot { detail }) => assert!(detail.contains(what), "expected {what:?} in: {detail}"),
        Err(e) => panic!("expected NoValidRoot naming {what:?}, got {e}"),
        Ok(_) => panic!("a file breaking the rule ({what}) opened"),
    }
}

/// Opening works, but verify (and the writer's check before its first
/// commit) report the broken rule.
fn damage(image: &[u8], what: &str) {
    let store = open(image).expect("opens: recovery does not read what the rule covers");
    let report = store.verify().unwrap();
    assert!(report.damage.iter().any(|d| d.detail.contains(what)), "expected {what:?} in: {report:?}");
    let mut w = store.begin_write().unwrap();
    w.alloc().unwrap();
    assert!(matches!(w.commit(), Err(Error::Corrupt { .. })), "the first commit must refuse the file");
}

#[test]
fn the_unbroken_fixture_opens_and_verifies_clean() {
    let image = fixture();
    let store = open(&image).unwrap();
    assert!(store.verify().unwrap().is_pristine());
    assert_eq!(store.snapshots().unwrap().len(), 1);
    // Every resealing path leaves it valid when it changes nothing.
    let mut same = image.clone();
    edit_pending_head(&mut same, |_| {});
    edit_deadlist(&mut same, |_| {});
    assert_eq!(same, image);
}

#[test]
fn rule_chain_references_with_location_0_are_all_zero() {
    let mut image = fixture();
    edit_root(&mut image, |r| r.catalog = ChainRef { written: 3, ..ChainRef::default() });
    refused(&image, "chain reference with location 0");
    // The head's prev made none (location 0), with one stray byte left.
    let mut image = fixture();
    edit_pending_head(&mut image, |p| {
        p[24..56].fill(0);
        p[24 + 8] = 1;
    });
    refused(&image, "empty link is not all zero");
    let mut image = fixture();
    edit_catalog(&mut image, |c| c[24 + 8] = 1); // next: location 0, written 1
    refused(&image, "empty link is not all zero");
    let mut image = fixture();
    edit_catalog(&mut image, |c| {
        c[DEADLIST_REF..DEADLIST_REF + 32].fill(0);
        c[DEADLIST_REF + 8] = 1;
    });
    refused(&image, "entry 0 is not valid");
}

#[test]
fn rule_record_and_catalog_pages_are_level_0() {
    let mut image = fixture();
    edit_pending_head(&mut image, |p| p[4] = 1);
    refused(&image, "bad record page header");
    let mut image = fixture();
    edit_catalog(&mut image, |c| c[4] = 1);
    refused(&image, "checksum or header mismatch");
}

#[test]
fn rule_has_summary_is_0_with_zero_bytes_or_1_and_never_in_a_deadlist() {
    let mut image = fixture();
    edit_pending_head(&mut image, |p| p[56] = 2);
    refused(&image, "bad summary flag");
    let mut image = fixture();
    edit_pending_head(&mut image, |p| {
        assert_eq!(p[56], 1, "the head carries a summary");
        p[56] = 0; // the summary stays: bytes nonzero under flag 0
    });
    refused(&image, "bad summary flag");
    // Deadlist pages older than the root's synced_through are read by verify
    // and before the first commit, not at open.
    let mut image = fixture();
    edit_deadlist(&mut image, |p| p[56] = 1);
    damage(&image, "bad summary flag");
}

#[test]
fn rule_a_record_is_born_no_later_than_it_is_freed() {
    let mut image = fixture();
    edit_pending_head(&mut image, |p| {
        // Record 0: birth (at 16) past freed (at 24).
        let freed = u64::from_le_bytes(p[160 + 24..160 + 32].try_into().unwrap());
        p[160 + 16..160 + 24].copy_from_slice(&(freed + 1).to_le_bytes());
    });
    refused(&image, "freed before it was born");
}

#[test]
fn rule_depth_0_trees_have_all_zero_references() {
    // A new store: table and free map of depth 0.
    let store = Store::<P>::create_on(MemoryStorage::with_capacity(1 << 20).unwrap(), Options::default()).unwrap();
    let image = mappedpages::testing::image(&store);
    let (_, root) = newest_root(&image, P);
    assert_eq!(root.table_depth, 0);
    let mut broken = image.clone();
    edit_root(&mut broken, |r| r.table.live = 1);
    refused(&broken, "depth 0");
    if root.map_depth == 0 {
        let mut broken = image.clone();
        edit_root(&mut broken, |r| r.map.free = 1);
        refused(&broken, "depth 0");
    }
}

#[test]
fn rule_the_meta_area_is_marked_in_use() {
    let mut image = fixture();
    let (_, root) = newest_root(&image, P);
    assert_eq!(root.map_depth, 1, "one map leaf");
    let leaf = root.map.location;
    edit_map_leaf(&mut image, leaf, |bits| bits[0] &= !1);
    damage(&image, "meta area is marked free");
}

#[test]
fn rule_sectors_past_file_len_are_marked_in_use() {
    let mut image = fixture();
    let (_, root) = newest_root(&image, P);
    let end = root.file_len / 512;
    let spl = mappedpages::format::MapNode::sectors_per_leaf(P);
    assert!(end < spl, "the leaf covers sectors past the file's end");
    edit_map_leaf(&mut image, root.map.location, |bits| bits[(end / 8) as usize] &= !(1 << (end % 8)));
    damage(&image, "at or past file_len is marked free");
}

/// Clears bits of the one free-map leaf, keeps its free count true, reseals.
fn edit_map_leaf(image: &mut [u8], leaf: u64, edit: impl FnOnce(&mut [u8])) {
    let before = mappedpages::format::MapNode::bits(page(image, leaf)).iter().map(|b| b.count_zeros()).sum::<u32>();
    edit(mappedpages::format::MapNode::bits_mut(page(image, leaf)));
    let after = mappedpages::format::MapNode::bits(page(image, leaf)).iter().map(|b| b.count_zeros()).sum::<u32>();
    let sum = hash16(page(image, leaf));
    edit_root(image, |r| {
        r.map.free += u64::from(after - before);
        r.map.checksum = sum;
    });
}
