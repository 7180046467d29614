//! Damaged and hostile files: every one yields a typed error or a report from
//! `verify()`, never a panic, and never a silent empty store.

use mappedpages::storage::MemoryStorage;
use mappedpages::testing::reachable_extents;
use mappedpages::{Error, Options, PageId, Store, Structure};

const P: usize = 1024;

fn small_store() -> (Store<P>, Vec<PageId>) {
    let store = Store::<P>::create_on(MemoryStorage::with_capacity(64 << 20).unwrap(), Options::default()).unwrap();
    let mut ids = Vec::new();
    for round in 0..3u8 {
        let mut w = store.begin_write().unwrap();
        ids.extend(w.alloc_bulk(8).unwrap());
        for (i, &id) in ids.iter().enumerate() {
            if !(i + round as usize).is_multiple_of(3) {
                w.write(id, &mappedpages::testing::page_bytes(id.get(), round as u64 + 1)).unwrap();
            }
        }
        w.commit().unwrap();
    }
    (store, ids)
}

fn image_of(store: Store<P>) -> Vec<u8> {
    mappedpages::testing::image(&store)
}

/// Opens `image` and reports whether the damage was noticed: open failed with
/// a typed error, or verify found damage.
fn noticed(image: &[u8]) -> bool {
    match Store::<P>::open_on(MemoryStorage::from_bytes(image, 64 << 20).unwrap(), Options::default()) {
        Err(_) => true,
        Ok(store) => {
            let report = store.verify().expect("verify runs on an opened store");
            !report.is_pristine()
        }
    }
}

#[test]
fn hostile_file_any_flipped_byte_of_a_reachable_page_is_noticed() {
    let (store, _) = small_store();
    let extents = reachable_extents(&store);
    let image = image_of(store);
    assert!(!noticed(&image), "the undamaged image must verify clean");
    let mut flips = 0;
    for &(start, len) in &extents {
        for offset in start..start + len {
            let mut damaged = image.clone();
            damaged[offset as usize] ^= 0x04;
            assert!(noticed(&damaged), "flip at byte {offset} (extent {start}+{len}) went unnoticed");
            flips += 1;
        }
    }
    assert!(flips > 20 * P, "only {flips} bytes flipped");
}

#[test]
fn hostile_file_damaged_data_page_is_named_by_id() {
    let (store, ids) = small_store();
    let r = store.begin_read().unwrap();
    let target = ids[4];
    let marker = r.page(target).unwrap().to_vec();
    drop(r);
    let image = image_of(store);
    let at = image.windows(P).position(|w| w == &marker[..]).expect("page bytes in the image");
    let mut damaged = image.clone();
    damaged[at + 100] ^= 0x80;
    let store =
        Store::<P>::open_on(MemoryStorage::from_bytes(&damaged, 64 << 20).unwrap(), Options::default()).unwrap();
    let report = store.verify().unwrap();
    match &report.rejected_root {
        // The page was written by the newest commit: recovery cannot tell rot
        // from a commit cut short, rolls back and says so, naming the page.
        Some(rejected) => assert!(
            rejected.reason.contains(&format!("page {}", target.get()))
                || report.damage.iter().any(|d| d.page() == Some(target)),
            "{rejected:?}"
        ),
        None => {
            assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
            assert_eq!(report.damage[0].page(), Some(target));
            assert_eq!(report.damage[0].structure, Structure::Page);
        }
    }
}

#[test]
fn hostile_file_wrong_page_size_is_refused() {
    let (store, _) = small_store();
    let image = image_of(store);
    let err = Store::<4096>::open_on(MemoryStorage::from_bytes(&image, 64 << 20).unwrap(), Options::default());
    assert!(matches!(err, Err(Error::PageSizeMismatch { on_disk: 1024, expected: 4096, .. })), "{:?}", err.err());
}

#[test]
fn hostile_file_truncated_at_any_length_is_a_typed_error_or_an_older_root() {
    let (store, _) = small_store();
    let image = image_of(store);
    for cut in (0..image.len()).step_by(97).chain([
        0,
        1,
        511,
        512,
        4095,
        4096,
        4607,
        4608,
        8191,
        8192,
        8703,
        8704,
        12287,
        12288,
        P,
        image.len() - 1,
    ]) {
        match Store::<P>::open_on(MemoryStorage::from_bytes(&image[..cut], 64 << 20).unwrap(), Options::default()) {
            Err(
                Error::UnsupportedFormat(_)
                | Error::NoValidRoot { .. }
                | Error::Corrupt { .. }
                | Error::AlreadyExists(_),
            ) => {}
            Err(e) => panic!("cut at {cut}: unexpected error {e}"),
            Ok(store) => {
                // Only a cut that removes nothing a root reaches may open.
                assert!(store.verify().unwrap().is_clean(), "cut at {cut} opened with damage");
            }
        }
    }
}

#[test]
fn hostile_file_both_roots_damaged_is_no_valid_root() {
    let (store, _) = small_store();
    let mut image = image_of(store);
    for slot in 0..2 {
        let at = mappedpages::testing::root_slot_offset(&image, slot) as usize;
        image[at + 40] ^= 1;
    }
    let err = Store::<P>::open_on(MemoryStorage::from_bytes(&image, 64 << 20).unwrap(), Options::default());
    assert!(matches!(err, Err(Error::NoValidRoot { .. })), "{:?}", err.err());
}

#[test]
fn hostile_file_damaged_header_is_refused() {
    let (store, _) = small_store();
    let image = image_of(store);
    for at in [0usize, 8, 12, 20, 100, 500] {
        let mut damaged = image.clone();
        damaged[at] ^= 0x40;
        assert!(
            Store::<P>::open_on(MemoryStorage::from_bytes(&damaged, 64 << 20).unwrap(), Options::default()).is_err()
        );
    }
    let zeros = vec![0u8; 8192];
    assert!(matches!(
        Store::<P>::open_on(MemoryStorage::from_bytes(&zeros, 64 << 20).unwrap(), Options::default()),
        Err(Error::UnsupportedFormat(_))
    ));
}

#[test]
fn hostile_file_damaged_table_node_gives_typed_read_errors() {
    let (store, ids) = small_store();
    let extents = reachable_extents(&store);
    let image = image_of(store);
    // Scribble over every reachable page in turn; reading every id must give a
    // page or a typed error, never a panic.
    for &(start, len) in extents.iter().filter(|(s, _)| *s >= 2 * P as u64) {
        let mut damaged = image.clone();
        for b in &mut damaged[start as usize..(start + len) as usize] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let Ok(store) = Store::<P>::open_on(MemoryStorage::from_bytes(&damaged, 64 << 20).unwrap(), Options::default())
        else {
            continue;
        };
        let r = store.begin_read().unwrap();
        for &id in &ids {
            let _ = r.page(id);
        }
        for id in r.ids() {
            if id.is_err() {
                break;
            }
        }
        drop(r);
        assert!(!store.verify().unwrap().is_pristine());
    }
}

#[test]
fn hostile_file_second_writer_is_locked_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let store = Store::<4096>::create(&path).unwrap();
    assert!(matches!(Store::<4096>::open(&path), Err(Error::Locked { .. })));
    assert!(matches!(Store::<4096>::create(&path), Err(Error::AlreadyExists(_))));
    drop(store);
    Store::<4096>::open(&path).unwrap();
}

// Crafted trees whose nodes share children. One node per level, every child
// of every internal node pointing at the node below: a tree of 24 levels in 25
// pages whose walk, followed naively, takes 15^22 (table) or 24^22 (free map)
// steps. Past the levels whose cover saturates u64, every child's `first` is
// u64::MAX, so one node per level passes every header check; checksums are
// recomputed, so only the sharing gives the file away. Every operation on such
// a file must end, in bounded time, with a typed error or a damage report: for
// the table, because a node whose first id is past `next_id` (every saturated
// place is) is damage, never entered; for the free map, by the walks' work bound.

mod shared_nodes {
    use super::*;
    use mappedpages::format::{Entry, MapNode, MapRef, Root, TableNode, TableRef, hash16};
    use mappedpages::testing::{newest_root, root_slot_offset, write_root};
    use std::sync::mpsc::{RecvTimeoutError, channel};
    use std::time::Duration;

    /// Levels of the crafted trees: the most a root may claim.
    const DEPTH: u8 = 24;

    /// Runs `f` on a thread and waits for it at most 10 s, so that a
    /// regression fails the test instead of hanging the suite.
    fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish within 10 s"),
            Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
        }
    }

    /// Appends one page to the image; returns its sector.
    fn append(image: &mut Vec<u8>, page: &[u8]) -> u64 {
        assert_eq!(image.len() % P, 0);
        let sector = image.len() as u64 / 512;
        image.extend_from_slice(page);
        sector
    }

    /// A table of `DEPTH` levels, one node per level, appended to the image:
    /// every child of every internal node below the top is the node of the level
    /// below; the top's child 0 (ids from 0) is empty, its other children
    /// (ids from u64::MAX, saturated) are the shared node. Each leaf has every
    /// entry allocated (born at version 1, no extent). Every reference claims
    /// one live id, fewer than the root's `next_id`: there seem to be free ids.
    /// With `full_first`, the top's child 0 is a reference that claims all its
    /// ids allocated (a search for a free id skips it unread; every other walk
    /// finds it unreadable).
    fn shared_table(image: &mut Vec<u8>, version: u64, full_first: bool) -> TableRef {
        let mut page = vec![0u8; P];
        TableNode::init(&mut page, 0, version, u64::MAX);
        let entry = Entry { flags: 1, birth: 1, content: hash16(&[0u8; P]), ..Entry::default() };
        for i in 0..TableNode::leaf_fanout(P) as usize {
            TableNode::set_entry(&mut page, i, &entry);
        }
        let mut r = TableRef {
            location: append(image, &page),
            written: version,
            max_birth: 1,
            live: 1,
            checksum: hash16(&page),
            content: [0; 16],
        };
        for level in 1..DEPTH {
            let mut page = vec![0u8; P];
            let top = level == DEPTH - 1;
            TableNode::init(&mut page, level, version, if top { 0 } else { u64::MAX });
            let fanout = TableNode::internal_fanout(P);
            for i in usize::from(top)..fanout as usize {
                TableNode::set_child(&mut page, i, &r);
            }
            if top && full_first {
                TableNode::set_child(&mut page, 0, &TableRef { location: 1, live: u64::MAX, ..TableRef::default() });
            }
            r = TableRef {
                location: append(image, &page),
                written: version,
                max_birth: 1,
                live: 1,
                checksum: hash16(&page),
                content: [0; 16],
            };
        }
        r
    }

    /// A free map of `DEPTH` levels built the same way (the leaf marks every
    /// sector in use).
    fn shared_map(image: &mut Vec<u8>, version: u64) -> MapRef {
        let mut page = vec![0u8; P];
        MapNode::init(&mut page, 0, version, u64::MAX);
        MapNode::bits_mut(&mut page).fill(0xff);
        let mut r = MapRef { location: append(image, &page), written: version, free: 0, checksum: hash16(&page) };
        for level in 1..DEPTH {
            let mut page = vec![0u8; P];
            let top = level == DEPTH - 1;
            MapNode::init(&mut page, level, version, if top { 0 } else { u64::MAX });
            for i in usize::from(top)..MapNode::fanout(P) as usize {
                MapNode::set_child(&mut page, i, &r);
            }
            r = MapRef { location: append(image, &page), written: version, free: 0, checksum: hash16(&page) };
        }
        r
    }

    /// Which tree of the root to replace.
    #[derive(Clone, Copy, PartialEq)]
    enum Tree {
        Table,
        /// The table, with its first subtree claimed full (see [`shared_table`]).
        TableFullFirst,
        Map,
    }

    /// The image of a small store whose only root is a newer version with
    /// `tree` replaced by a shared-node tree. With `checked`, the root's
    /// `synced_through` is the old version, so recovery walks the new tree at
    /// open; without, it is the root's own version and recovery checks no
    /// node (open succeeds; verify and reads meet the tree).
    fn crafted(tree: Tree, checked: bool) -> Vec<u8> {
        let (store, _) = small_store();
        let mut image = image_of(store);
        let (slot, old) = newest_root(&image, P);
        let version = old.version + 1;
        let mut root = Root { version, synced_through: if checked { old.version } else { version }, ..old };
        match tree {
            Tree::Table | Tree::TableFullFirst => {
                root.table = shared_table(&mut image, version, tree == Tree::TableFullFirst);
                root.table_depth = DEPTH;
            }
            Tree::Map => {
                root.map = shared_map(&mut image, version);
                root.map_depth = DEPTH;
            }
        }
        // The appended nodes lie in the new root's data area.
        root.file_len = image.len() as u64;
        write_root(&mut image, slot, &root);
        let other = root_slot_offset(&image, 1 - slot) as usize;
        image[other..other + 512].fill(0);
        image
    }

    fn open(image: &[u8]) -> Result<Store<P>, Error> {
        Store::<P>::open_on(MemoryStorage::from_bytes(image, 64 << 20).unwrap(), Options::default())
    }

    /// The message of the walks' work bound.
    const OVER_BUDGET: &str = "more nodes than the file has pages";

    /// What gives a shared tree away: for the free map, the walks' work bound;
    /// for the table, its saturated places (a node whose first id is past
    /// `next_id` covers no id ever handed out, so no walk enters it).
    fn tell(tree: Tree) -> &'static str {
        match tree {
            Tree::Table | Tree::TableFullFirst => BEYOND_NEXT_ID,
            Tree::Map => OVER_BUDGET,
        }
    }

    /// The message of a table node past `next_id`.
    const BEYOND_NEXT_ID: &str = "covers only ids from next_id on";

    fn assert_open_refused(tree: Tree) {
        let image = crafted(tree, true);
        let result = within("open", move || open(&image).map(|_| ()));
        match result {
            Err(Error::NoValidRoot { detail }) => assert!(detail.contains(tell(tree)), "{detail}"),
            other => panic!("open gave {other:?}"),
        }
    }

    #[test]
    fn hostile_file_shared_table_nodes_fail_open_in_bounded_time() {
        assert_open_refused(Tree::Table);
    }

    #[test]
    fn hostile_file_shared_free_map_nodes_fail_open_in_bounded_time() {
        assert_open_refused(Tree::Map);
    }

    fn assert_verify_reports_sharing(tree: Tree) {
        let image = crafted(tree, false);
        let (structure, detail) = match tree {
            Tree::Table | Tree::TableFullFirst => (Structure::TableNode, BEYOND_NEXT_ID),
            Tree::Map => (Structure::FreeMap, "free-map node referenced twice in one version"),
        };
        let report = within("verify", move || open(&image).expect("recovery checks no node").verify().unwrap());
        assert!(
            report.damage.iter().any(|d| d.structure == structure && d.detail.contains(detail)),
            "{:?}",
            report.damage
        );
    }

    #[test]
    fn hostile_file_shared_table_nodes_are_damage_to_verify_in_bounded_time() {
        assert_verify_reports_sharing(Tree::Table);
    }

    #[test]
    fn hostile_file_shared_free_map_nodes_are_damage_to_verify_in_bounded_time() {
        assert_verify_reports_sharing(Tree::Map);
    }

    #[test]
    fn hostile_file_shared_table_nodes_end_ids_with_a_typed_error_in_bounded_time() {
        let image = crafted(Tree::Table, false);
        let result = within("ids()", move || {
            let store = open(&image).expect("recovery checks no node");
            let r = store.begin_read().unwrap();
            r.ids().collect::<Result<Vec<PageId>, Error>>().map(|ids| ids.len())
        });
        match result {
            Err(Error::Corrupt { structure: Structure::TableNode, detail, .. }) => {
                assert!(detail.contains(OVER_BUDGET), "{detail}")
            }
            other => panic!("ids() gave {other:?}"),
        }
    }

    #[test]
    fn hostile_file_shared_table_nodes_end_the_search_for_a_free_id_in_bounded_time() {
        let image = crafted(Tree::TableFullFirst, false);
        let result = within("alloc", move || {
            let store = open(&image).expect("recovery checks no node");
            let mut w = store.begin_write().unwrap();
            w.alloc().map(|id| id.get())
        });
        match result {
            Err(Error::Corrupt { structure: Structure::TableNode, detail, .. }) => {
                assert!(detail.contains(OVER_BUDGET), "{detail}")
            }
            other => panic!("alloc gave {other:?}"),
        }
    }
}

/// The catalog's rules (SPEC.md 4.7): entries in non-decreasing version, names
/// unique, every version older than the root's. Each broken in a catalog page
/// resealed by hand (checksums recomputed, so only the rule can catch it).
#[test]
fn hostile_file_catalog_out_of_order_duplicated_or_too_new_is_refused() {
    use mappedpages::format::hash16;
    use mappedpages::testing::{newest_root, write_root};
    let (store, _) = small_store();
    store.create_snapshot("aa").unwrap();
    let mut w = store.begin_write().unwrap();
    w.alloc().unwrap();
    w.commit().unwrap();
    store.create_snapshot("bb").unwrap();
    let good = image_of(store);
    const ENTRY: usize = 64; // entry i at 64 + 224 i; its summary's version at 64 into it
    let version_at = |i: usize| ENTRY + 224 * i + 64;
    let (slot, root) = newest_root(&good, P);
    let page_at = (root.catalog.location * 512) as usize;
    let reseal = |edit: &dyn Fn(&mut [u8])| {
        let mut image = good.clone();
        edit(&mut image[page_at..page_at + P]);
        let mut root = root;
        root.catalog.checksum = hash16(&image[page_at..page_at + P]);
        write_root(&mut image, slot, &root);
        // No older root to fall back to: only the catalog's rules decide.
        let other = mappedpages::testing::root_slot_offset(&image, 1 - slot) as usize;
        image[other..other + 512].fill(0);
        Store::<P>::open_on(MemoryStorage::from_bytes(&image, 64 << 20).unwrap(), Options::default())
    };
    assert!(reseal(&|_| {}).is_ok(), "the resealed catalog opens unchanged");
    let v = |page: &[u8], i: usize| u64::from_le_bytes(page[version_at(i)..][..8].try_into().unwrap());
    type Edit<'a> = &'a dyn Fn(&mut [u8]);
    let cases: [(&str, Edit<'_>); 3] = [
        ("out of order", &|page| {
            let older = v(page, 0) - 1;
            page[version_at(1)..][..8].copy_from_slice(&older.to_le_bytes());
        }),
        ("duplicate name", &|page| page[ENTRY + 224 + 1..ENTRY + 224 + 3].copy_from_slice(b"aa")),
        ("as new as the root", &|page| {
            page[version_at(1)..][..8].copy_from_slice(&root.version.to_le_bytes());
        }),
    ];
    for (what, edit) in cases {
        match reseal(edit) {
            Err(Error::NoValidRoot { detail }) if detail.contains("catalog") => {}
            other => panic!("{what}: expected the catalog refused, got {:?}", other.map(|_| ())),
        }
    }
}
