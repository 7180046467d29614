//! Versions: snapshots, the history window, read views, restore and export.

use std::collections::{BTreeMap, BTreeSet};

use mappedpages::storage::{CrashStorage, MemoryStorage, TearPattern};
use mappedpages::testing::{in_use_pages, pinned_reachable_pages};
use mappedpages::{Allocation, At, Durability, Error, HistoryWindow, Options, PageId, Store, Version};
use proptest::prelude::*;

const P: usize = 1024;

fn mem_store() -> Store<P> {
    Store::<P>::create_on(MemoryStorage::with_capacity(256 << 20).unwrap(), Options::default()).unwrap()
}

fn fill(store: &Store<P>, ids: &[PageId], byte: u8) -> Version {
    let mut w = store.begin_write().unwrap();
    for &id in ids {
        w.page_mut(id).unwrap().fill(byte);
    }
    w.commit().unwrap()
}

#[test]
fn snapshot_keeps_its_version_and_deleting_returns_its_pages() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(40).unwrap();
    w.commit().unwrap();
    fill(&store, &ids, 1);
    let kept = store.create_snapshot("one").unwrap();
    let hash_one = store.begin_read().unwrap().content_hash();
    fill(&store, &ids, 2);
    fill(&store, &ids, 3);
    let snap = store.begin_read_at(At::Snapshot("one")).unwrap();
    assert_eq!(snap.version(), kept);
    assert_eq!(snap.content_hash(), hash_one);
    assert!(ids.iter().all(|&id| snap.page(id).unwrap().iter().all(|&b| b == 1)));
    drop(snap);
    let list = store.snapshots().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "one");
    assert_eq!(list[0].version, kept);
    // The 40 pages and the table nodes of that version (2 leaves and their parent).
    assert_eq!(list[0].exclusive_pages, 43, "{list:?}");
    let held = store.stats();
    store.delete_snapshot("one").unwrap();
    for _ in 0..2 {
        store.begin_write().unwrap().commit().unwrap();
    }
    let after = store.stats();
    assert!(after.free_pages >= held.free_pages + 40, "before {held:?}, after {after:?}");
    assert!(matches!(store.begin_read_at(At::Snapshot("one")), Err(Error::SnapshotNotFound(_))));
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn snapshot_names_are_validated() {
    let store = mem_store();
    assert!(matches!(store.create_snapshot(""), Err(Error::InvalidName(_))));
    assert!(matches!(store.create_snapshot(&"x".repeat(64)), Err(Error::InvalidName(_))));
    assert!(matches!(store.create_snapshot("tab\there"), Err(Error::InvalidName(_))));
    store.create_snapshot(&"y".repeat(63)).unwrap();
    store.create_snapshot("a").unwrap();
    assert!(matches!(store.create_snapshot("a"), Err(Error::SnapshotExists(_))));
    assert!(matches!(store.delete_snapshot("b"), Err(Error::SnapshotNotFound(_))));
    assert_eq!(store.snapshots().unwrap().len(), 2);
}

#[test]
fn snapshot_creation_cost_does_not_grow_with_the_store() {
    // Count the bytes a snapshot commit writes on a small and a large store.
    let mut written = Vec::new();
    for pages in [10usize, 5000] {
        let disk = CrashStorage::new().unwrap();
        let ctl = disk.control();
        let store = Store::<P>::create_on(disk, Options::default()).unwrap();
        let mut w = store.begin_write().unwrap();
        for id in w.alloc_bulk(pages).unwrap() {
            w.page_mut(id).unwrap().fill(7);
        }
        w.commit().unwrap();
        // The first small commit past the load also writes zeros ahead of its
        // pages into the file's new space (a bounded, one-time cost; see
        // `txn::prefill`): make it before the snapshot, which is measured alone.
        let mut w = store.begin_write().unwrap();
        w.alloc().unwrap();
        w.commit().unwrap();
        let before = ctl.counts();
        store.create_snapshot("s").unwrap();
        let after = ctl.counts();
        written.push(after.bytes_written - before.bytes_written);
    }
    assert!(written[1] <= written[0] + 4 * P as u64, "snapshot writes grew with the store: {written:?}");
}

#[test]
fn history_window_keeps_the_last_versions_readable() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(10).unwrap();
    w.commit().unwrap();
    store.set_history(HistoryWindow::versions(5)).unwrap();
    let mut versions = Vec::new();
    for round in 1..=12u8 {
        versions.push((fill(&store, &ids, round), round));
    }
    let history = store.history();
    assert_eq!(history.len(), 5, "{history:?}");
    assert_eq!(history.last().unwrap().version, store.version());
    for &(v, round) in &versions[versions.len() - 5..] {
        let r = store.begin_read_at(At::Version(v)).unwrap();
        assert!(ids.iter().all(|&id| r.page(id).unwrap()[0] == round));
    }
    let (too_old, _) = versions[versions.len() - 6];
    assert!(matches!(store.begin_read_at(At::Version(too_old)), Err(Error::VersionNotRetained { .. })));
    // By time: the newest version committed at or before a version's commit time.
    let entry = history[2];
    let r = store.begin_read_at(At::Time(entry.commit_nanos)).unwrap();
    assert_eq!(r.version(), entry.version);
    drop(r);
    assert!(matches!(store.begin_read_at(At::Time(1)), Err(Error::VersionNotRetained { .. })));
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn history_by_time_keeps_recent_versions() {
    let store = mem_store();
    store.set_history(HistoryWindow::versions(0).seconds(3600)).unwrap();
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    w.commit().unwrap();
    for round in 0..20u8 {
        fill(&store, &[id], round);
    }
    assert!(store.history().len() >= 20);
    store.set_history(HistoryWindow::default()).unwrap();
    store.begin_write().unwrap().commit().unwrap();
    assert_eq!(store.history().len(), 1);
}

#[test]
fn restore_makes_a_new_commit_equal_to_an_old_version() {
    let store = mem_store();
    store.set_history(HistoryWindow::versions(10)).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(30).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap().fill(id.get() as u8);
    }
    let good = w.commit().unwrap();
    let good_hash = store.begin_read().unwrap().content_hash();
    let mut w = store.begin_write().unwrap();
    w.free_bulk(&ids[..10]).unwrap();
    let extra = w.alloc_bulk(5).unwrap();
    for &id in ids[10..20].iter().chain(&extra) {
        w.page_mut(id).unwrap().fill(0xEE);
    }
    let bad = w.commit().unwrap();
    let restored = store.restore(At::Version(good)).unwrap();
    assert!(restored > bad);
    let r = store.begin_read().unwrap();
    assert_eq!(r.content_hash(), good_hash);
    assert_eq!(r.ids().count(), 30);
    drop(r);
    // The later version stays readable while the window keeps it.
    let later = store.begin_read_at(At::Version(bad)).unwrap();
    assert!(later.page(extra[0]).unwrap().iter().all(|&b| b == 0xEE));
    drop(later);
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn export_copies_a_version_compacted_with_the_same_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::<4096>::create(dir.path().join("src.db")).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(300).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap()[..8].copy_from_slice(&id.get().to_le_bytes());
    }
    w.commit().unwrap();
    let mut w = store.begin_write().unwrap();
    for &id in ids.iter().step_by(3) {
        w.free(id).unwrap();
    }
    w.page_mut(ids[1]).unwrap().fill(0);
    w.commit().unwrap();
    let hash = store.begin_read().unwrap().content_hash();
    let out = dir.path().join("copy.db");
    let report = store.export(&out, At::Version(store.version())).unwrap();
    assert_eq!(report.content_hash, hash);
    assert!(matches!(store.export(&out, At::Version(store.version())), Err(Error::AlreadyExists(_))));
    let copy = Store::<4096>::open(&out).unwrap();
    let stats = copy.stats();
    assert_eq!(stats.free_pages, 0, "{stats:?}");
    assert_eq!(stats.live_pages, 200);
    assert_eq!(copy.begin_read().unwrap().content_hash(), hash);
    let report = copy.verify().unwrap();
    assert!(report.is_clean() && report.leaked_sectors == 0, "{report:?}");
    // The copy is a normal store: it takes commits.
    let mut w = copy.begin_write().unwrap();
    w.page_mut(ids[2]).unwrap().fill(5);
    w.commit().unwrap();
    assert!(copy.verify().unwrap().is_clean());
}

/// Operations of the space-accounting property test.
#[derive(Clone, Debug)]
enum VOp {
    Alloc(u8),
    Write(u16),
    Free(u16),
    Snapshot(u8),
    DeleteSnapshot(u8),
    Window(u8),
    Sync,
    Crash(u64),
}

fn vop() -> impl Strategy<Value = VOp> {
    prop_oneof![
        3 => (1u8..8).prop_map(VOp::Alloc),
        6 => any::<u16>().prop_map(VOp::Write),
        2 => any::<u16>().prop_map(VOp::Free),
        2 => (0u8..4).prop_map(VOp::Snapshot),
        2 => (0u8..4).prop_map(VOp::DeleteSnapshot),
        1 => (0u8..6).prop_map(VOp::Window),
        1 => Just(VOp::Sync),
        1 => any::<u64>().prop_map(VOp::Crash),
    ]
}

/// Compares the pages the free map marks in use with the union of the pages
/// reachable from every pinned root (the newest, the fallback root before it,
/// snapshots and history versions), computed by brute force.
fn check_space(store: &Store<P>, reach: &BTreeMap<u64, BTreeSet<u64>>) -> Result<(), String> {
    let v = store.version().get();
    let now = pinned_reachable_pages(store);
    let mut expected = now.clone();
    match reach.get(&(v.wrapping_sub(1))) {
        Some(prev) => expected.extend(prev),
        None if v == 0 => {}
        None => return Err(format!("v{v}: the pages of v{} are unknown", v - 1)),
    }
    let in_use = in_use_pages(store);
    let leaked: Vec<_> = in_use.difference(&expected).take(8).collect();
    let unprotected: Vec<_> = expected.difference(&in_use).take(8).collect();
    if !leaked.is_empty() || !unprotected.is_empty() {
        return Err(format!("v{v}: leaked pages {leaked:?}, reachable but free {unprotected:?}"));
    }
    Ok(())
}

/// With `Eventual`, any version since the last sync may be the one a crash
/// goes back to: everything they reach must stay in use (no early reuse).
/// (No leak bound here: the writer also keeps what the history windows of
/// the roots since the last sync keep, which this model does not track.)
fn check_no_early_reuse(store: &Store<P>, reach: &BTreeMap<u64, BTreeSet<u64>>, synced: u64) -> Result<(), String> {
    let in_use = in_use_pages(store);
    for (v, pages) in reach.range(synced..) {
        if let Some(p) = pages.difference(&in_use).next() {
            return Err(format!("page {p}, reachable from v{v} (a possible fallback), is free"));
        }
    }
    Ok(())
}

fn run_space_model(ops: &[VOp], durability: Durability) -> Result<(), String> {
    run_space_model_with(ops, durability, Allocation::default())
}

fn run_space_model_with(ops: &[VOp], durability: Durability, allocation: Allocation) -> Result<(), String> {
    let options = Options::default().durability(durability).allocation(allocation);
    let disk = CrashStorage::new().map_err(|e| e.to_string())?;
    let mut ctl = disk.control();
    let mut store = Store::<P>::create_on(disk, options.clone()).map_err(|e| e.to_string())?;
    let mut synced = 0u64;
    let mut reach: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::from([(0, pinned_reachable_pages(&store))]);
    let mut live: Vec<PageId> = Vec::new();
    let mut names: BTreeSet<u8> = BTreeSet::new();
    let mut stamp = 0u8;
    for op in ops {
        let result = match op {
            VOp::Alloc(n) => store.begin_write().and_then(|mut w| {
                live.extend(w.alloc_bulk(*n as usize)?);
                w.commit()
            }),
            VOp::Write(sel) if !live.is_empty() => store.begin_write().and_then(|mut w| {
                stamp = stamp.wrapping_add(1);
                for k in 0..3 {
                    let id = live[(*sel as usize + k * 7) % live.len()];
                    w.page_mut(id)?.fill(stamp | 1);
                }
                w.commit()
            }),
            VOp::Free(sel) if !live.is_empty() => store.begin_write().and_then(|mut w| {
                let id = live.remove(*sel as usize % live.len());
                w.free(id)?;
                w.commit()
            }),
            VOp::Snapshot(n) => match store.create_snapshot(&format!("s{n}")) {
                Err(Error::SnapshotExists(_)) if names.contains(n) => Ok(store.version()),
                r => {
                    names.insert(*n);
                    r.map(|_| store.version())
                }
            },
            VOp::DeleteSnapshot(n) => match store.delete_snapshot(&format!("s{n}")) {
                Err(Error::SnapshotNotFound(_)) if !names.contains(n) => Ok(store.version()),
                r => {
                    names.remove(n);
                    r.map(|_| store.version())
                }
            },
            VOp::Window(k) => store.set_history(HistoryWindow::versions(*k as u64)),
            VOp::Sync => store.sync().map(|_| {
                synced = store.version().get();
                store.version()
            }),
            VOp::Crash(seed) => {
                let before = store.version().get();
                drop(store);
                let disk = ctl.crash(TearPattern::Seeded(*seed)).map_err(|e| e.to_string())?;
                ctl = disk.control();
                store = Store::<P>::open_on(disk, options.clone()).map_err(|e| e.to_string())?;
                let v = store.version().get();
                // Nothing was in flight: the newest commit survives, or with
                // `Eventual` one at least as new as the last sync.
                if v > before || v < synced || (durability == Durability::Immediate && v != before) {
                    return Err(format!("crash at v{before} (synced v{synced}) recovered v{v}"));
                }
                // Versions after the recovered one never happened.
                reach.retain(|&k, _| k <= v);
                synced = v;
                Ok(store.version())
            }
            _ => Ok(store.version()),
        };
        result.map_err(|e| format!("{op:?}: {e}"))?;
        reach.insert(store.version().get(), pinned_reachable_pages(&store));
        if durability == Durability::Immediate {
            check_space(&store, &reach).map_err(|e| format!("after {op:?}: {e}"))?;
        } else {
            check_no_early_reuse(&store, &reach, synced).map_err(|e| format!("after {op:?}: {e}"))?;
        }
        let report = store.verify().map_err(|e| e.to_string())?;
        if !report.is_clean() {
            return Err(format!("after {op:?}: verify found {:?}", report.damage));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn versions_space_in_use_equals_pages_reachable_from_pinned_roots(ops in proptest::collection::vec(vop(), 1..60)) {
        let r = run_space_model(&ops, Durability::Immediate);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn versions_eventual_never_reuses_what_a_fallback_root_reaches(ops in proptest::collection::vec(vop(), 1..60)) {
        let r = run_space_model(&ops, Durability::Eventual);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// The versions model with first fit, best fit, segregated fit and buddy.
    #[test]
    fn versions_space_model_holds_with_every_strategy(
        k in 1usize..Allocation::BUILT_IN.len(),
        eventual in any::<bool>(),
        ops in proptest::collection::vec(vop(), 1..60),
    ) {
        let durability = if eventual { Durability::Eventual } else { Durability::Immediate };
        let allocation = Allocation::BUILT_IN[k].clone();
        let r = run_space_model_with(&ops, durability, allocation.clone());
        prop_assert!(r.is_ok(), "{allocation:?}: {}", r.unwrap_err());
    }
}

/// Export must not launder damage: an entry without an extent whose fields
/// are not the all-zero form (here a stored length of 7, checksums resealed
/// so that open accepts the file) makes `verify` report damage, and export
/// refuses to copy it instead of writing a copy that does not verify.
#[test]
fn export_refuses_a_version_with_a_damaged_zero_entry() {
    use mappedpages::format::{NODE_HEADER, hash16};
    use mappedpages::testing::{newest_root, write_root};
    const P4: usize = 4096;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let store = Store::<P4>::create(&path).unwrap();
        let mut w = store.begin_write().unwrap();
        let ids = w.alloc_bulk(2).unwrap();
        w.page_mut(ids[0]).unwrap().fill(1);
        w.commit().unwrap();
        // Version 2 rewrites the one leaf; id 1 keeps its entry from version 1.
        let mut w = store.begin_write().unwrap();
        w.page_mut(ids[0]).unwrap().fill(2);
        w.commit().unwrap();
    }
    let mut file = std::fs::read(&path).unwrap();
    let (slot, mut root) = newest_root(&file, P4);
    assert_eq!((root.version, root.table_depth), (2, 1));
    let leaf = (root.table.location * 512) as usize;
    let entry = leaf + NODE_HEADER + 48; // id 1
    file[entry + 8..entry + 12].copy_from_slice(&7u32.to_le_bytes());
    root.table.checksum = hash16(&file[leaf..leaf + P4]);
    write_root(&mut file, slot, &root);
    std::fs::write(&path, &file).unwrap();

    let store = Store::<P4>::open(&path).unwrap();
    assert_eq!(store.version(), Version(2));
    assert!(!store.verify().unwrap().is_clean());
    let out = dir.path().join("copy.db");
    assert!(store.export(&out, At::Version(store.version())).is_err(), "export copied a damaged version");
}

/// A deadlist record freed after the page that lists it (checksums resealed;
/// the page is older than what recovery rechecks, so open accepts the file)
/// breaks SPEC 4.6's rule. Deleting the snapshot must refuse it with a typed
/// error: carried into the new pending group, it made recovery reject the
/// writer's own root, and the acknowledged delete was rolled back at reopen.
/// Verify reports it too.
#[test]
fn a_deadlist_record_freed_after_its_page_is_refused_not_carried() {
    use mappedpages::format::{CatalogPage, NODE_HEADER, PendingPage, RECORDS_AT, hash16};
    use mappedpages::testing::{newest_root, write_root};
    const P4: usize = 4096;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let id;
    {
        let store = Store::<P4>::create(&path).unwrap();
        let mut w = store.begin_write().unwrap();
        id = w.alloc().unwrap();
        w.page_mut(id).unwrap().fill(1);
        w.commit().unwrap(); // v1
        store.create_snapshot("s").unwrap(); // v2 keeps v1
        for fill in 2..7 {
            // v3 frees v1's page; a later commit hands it to the deadlist.
            let mut w = store.begin_write().unwrap();
            w.page_mut(id).unwrap().fill(fill);
            w.commit().unwrap();
        }
        assert_eq!(store.snapshots().unwrap()[0].name, "s");
    }
    let mut file = std::fs::read(&path).unwrap();
    let (slot, mut root) = newest_root(&file, P4);
    let catalog_at = (root.catalog.location * 512) as usize;
    let entry = CatalogPage::entry(&file[catalog_at..catalog_at + P4], 0).unwrap();
    assert_eq!(entry.name, "s");
    assert_ne!(entry.deadlist.location, 0, "the deadlist has a page");
    assert!(entry.deadlist.written <= root.synced_through, "recovery would recheck the page");
    let dead_at = (entry.deadlist.location * 512) as usize;
    let record = PendingPage::record(&file[dead_at..dead_at + P4], 0).unwrap();
    assert!(record.freed <= entry.deadlist.written);
    // freed := the page's written + 1, then reseal the chain up to the root.
    let freed_at = dead_at + RECORDS_AT + 24;
    file[freed_at..freed_at + 8].copy_from_slice(&(entry.deadlist.written + 1).to_le_bytes());
    let dead_sum = hash16(&file[dead_at..dead_at + P4]);
    let link_sum_at = catalog_at + NODE_HEADER + 168 + 16;
    file[link_sum_at..link_sum_at + 16].copy_from_slice(&dead_sum);
    root.catalog.checksum = hash16(&file[catalog_at..catalog_at + P4]);
    write_root(&mut file, slot, &root);
    std::fs::write(&path, &file).unwrap();

    let store = Store::<P4>::open(&path).unwrap();
    assert_eq!(store.version(), Version(root.version), "open fell back to an older root");
    assert!(!store.verify().unwrap().is_clean(), "verify missed the record");
    assert!(
        matches!(store.delete_snapshot("s"), Err(Error::Corrupt { .. })),
        "deleting the snapshot carried a bad record into the pending list"
    );
    drop(store);
    let store = Store::<P4>::open(&path).unwrap();
    assert_eq!(store.version(), Version(root.version));
    assert_eq!(store.begin_read().unwrap().page(id).unwrap()[0], 6);
}
