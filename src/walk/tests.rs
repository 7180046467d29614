//! The pruned walk against a store built through the public API: it must
//! reach exactly the entries born (or written) after a version, and skip the
//! subtrees that hold nothing newer.

use std::collections::BTreeMap;

use super::{Fault, Flow, Prune, Visitor, Walk};
use crate::format::{Entry, TableRef};
use crate::ids::PageId;
use crate::storage::MemoryStorage;
use crate::store::{Options, Store};
use crate::table::{Node, Place};

const P: usize = 1024; // 20 ids per leaf, 15 children per internal node

/// Counts what a walk reaches.
#[derive(Default)]
struct Count {
    /// Table nodes entered, by first id.
    nodes: Vec<u64>,
    /// Entries reached: id → birth.
    entries: BTreeMap<u64, u64>,
}

impl<'a> Visitor<'a> for Count {
    fn fault(&mut self, fault: Fault) -> Flow {
        panic!("a clean store has a fault: {fault:?}");
    }

    fn table_node(&mut self, _r: &TableRef, node: &Node<'a>) {
        self.nodes.push(node.place.first);
    }

    fn entry(&mut self, id: u64, e: &Entry) -> Flow {
        self.entries.insert(id, e.birth);
        Flow::Continue(())
    }
}

fn walk(store: &Store<P>, prune: Prune) -> Count {
    let txn = store.begin_read().unwrap();
    let root = *txn.root;
    let mut count = Count::default();
    let walk = Walk::new(txn.reader(), &store.shared.geo).pruned(prune).checked(root.version, root.next_id);
    assert!(walk.table(&mut count, &root.table, root.table_depth).is_continue());
    count
}

fn write(store: &Store<P>, ids: &[u64], fill: u8) -> u64 {
    let mut w = store.begin_write().unwrap();
    for &id in ids {
        w.page_mut(PageId::from_raw(id)).unwrap().fill(fill);
    }
    w.commit().unwrap().get()
}

/// Versions: v1 allocates and writes 200 ids (10 leaves under one internal
/// node), v2 rewrites ids 5 and 47, v3 id 150, v4 frees id 60 (its leaf is
/// rewritten, but no content in it is newer than v1).
fn store() -> (Store<P>, [u64; 4]) {
    let store = Store::<P>::create_on(MemoryStorage::with_capacity(16 << 20).unwrap(), Options::default()).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(200).unwrap();
    for id in &ids {
        w.page_mut(*id).unwrap().fill(id.get() as u8 | 1);
    }
    let v1 = w.commit().unwrap().get();
    let v2 = write(&store, &[5, 47], 0xa0);
    let v3 = write(&store, &[150], 0xb0);
    let mut w = store.begin_write().unwrap();
    w.free(PageId::from_raw(60)).unwrap();
    let v4 = w.commit().unwrap().get();
    assert_eq!(store.begin_read().unwrap().root.table_depth, 2);
    (store, [v1, v2, v3, v4])
}

#[test]
fn walk_born_after_reaches_exactly_the_newer_entries_and_skips_older_subtrees() {
    let (store, [v1, v2, v3, v4]) = store();
    let full = walk(&store, Prune::None);
    assert_eq!(full.nodes.len(), 11, "the top node and 10 leaves");
    assert_eq!(full.entries.len(), 199);

    for a in [0, v1, v2, v3, v4] {
        let pruned = walk(&store, Prune::BornAfter(a));
        let expected: BTreeMap<u64, u64> =
            full.entries.iter().filter(|&(_, &b)| b > a).map(|(&i, &b)| (i, b)).collect();
        assert_eq!(pruned.entries, expected, "entries born after {a}");
        // Exactly the leaves holding a newer entry are entered (and the top
        // node above them, when there is one).
        let mut leaves: Vec<u64> = expected.keys().map(|id| id / 20 * 20).collect();
        leaves.dedup();
        let mut nodes = if leaves.is_empty() { vec![] } else { vec![0] };
        nodes.extend(leaves);
        assert_eq!(pruned.nodes, nodes, "nodes entered for changes after {a}");
    }
    let since_v1 = walk(&store, Prune::BornAfter(v1));
    assert_eq!(since_v1.entries, BTreeMap::from([(5, v2), (47, v2), (150, v3)]));
    assert_eq!(since_v1.nodes, vec![0, 0, 40, 140], "top, then the leaves of ids 5, 47, 150: 7 leaves skipped");
    assert!(walk(&store, Prune::BornAfter(v3)).nodes.is_empty(), "nothing born after v3: not even the top");
}

#[test]
fn walk_written_after_enters_rewritten_nodes_even_without_newer_content() {
    let (store, [v1, v2, v3, _]) = store();
    // v4 rewrote the leaf of id 60 (and the top) without newer content.
    let after_v3 = walk(&store, Prune::WrittenAfter(v3));
    assert_eq!(after_v3.nodes, vec![0, 60]);
    assert!(after_v3.entries.is_empty());
    let after_v2 = walk(&store, Prune::WrittenAfter(v2));
    assert_eq!(after_v2.nodes, vec![0, 60, 140]);
    assert_eq!(after_v2.entries, BTreeMap::from([(150, v3)]));
    let after_v1 = walk(&store, Prune::WrittenAfter(v1));
    assert_eq!(after_v1.nodes, vec![0, 0, 40, 60, 140]);
    assert_eq!(after_v1.entries.keys().copied().collect::<Vec<_>>(), vec![5, 47, 150]);
}

#[test]
fn walk_live_matches_the_live_ids() {
    let (store, _) = store();
    let txn = store.begin_read().unwrap();
    let ids: Vec<u64> = txn.ids().map(|id| id.unwrap().get()).collect();
    let live = walk(&store, Prune::Live);
    assert_eq!(live.entries.keys().copied().collect::<Vec<_>>(), ids);
}

#[test]
fn walk_visitor_can_skip_a_subtree_and_stop() {
    struct SkipSecond {
        entered: usize,
        entries: usize,
    }
    impl<'a> Visitor<'a> for SkipSecond {
        fn fault(&mut self, _fault: Fault) -> Flow {
            Flow::Break(())
        }
        fn enter_table(&mut self, _r: &TableRef, place: Place) -> bool {
            self.entered += 1;
            place.first != 20
        }
        fn entry(&mut self, id: u64, _e: &Entry) -> Flow {
            self.entries += 1;
            if id == 100 { Flow::Break(()) } else { Flow::Continue(()) }
        }
    }
    let (store, _) = store();
    let txn = store.begin_read().unwrap();
    let root = *txn.root;
    let mut v = SkipSecond { entered: 0, entries: 0 };
    let flow = Walk::new(txn.reader(), &store.shared.geo).table(&mut v, &root.table, root.table_depth);
    assert!(flow.is_break());
    // Ids 0..20, then 40..101 (60 freed): the leaf of 20..40 was skipped.
    assert_eq!(v.entries, 20 + 60);
    assert_eq!(v.entered, 1 + 6);
}
