//! Crash safety: power cuts at every storage operation, and random workloads
//! against a model, in both durability levels.

use mappedpages::Durability;
use mappedpages::storage::{Fault, TearPattern};
use mappedpages::testing::{Op, RunConfig, run, run_with, sample_workload};
use proptest::prelude::*;

/// The end of the meta area, where the header and both root slots live.
const ROOTS_END: u64 = mappedpages::format::Layout::CURRENT.meta_bytes();

fn every_power_cut(durability: Durability) {
    let clean =
        run(&sample_workload(), RunConfig { durability, fault: None, final_crash: TearPattern::DropAll }).unwrap();
    assert!(clean.commits >= 6);
    let total = clean.storage_ops;
    assert!(total > 20, "workload too small: {total} storage ops");
    let mut cuts = 0;
    // Creating the store issues the first operations, before any fault is set.
    for k in clean.create_ops..total {
        for pattern in [
            TearPattern::KeepAll,
            TearPattern::DropAll,
            TearPattern::AllButFirstBytes(ROOTS_END),
            TearPattern::Seeded(k),
            TearPattern::Seeded(k ^ 0xABCD),
        ] {
            let config = RunConfig { durability, fault: Some(Fault::PowerCutAt(k)), final_crash: pattern };
            match run(&sample_workload(), config) {
                Err(e) => panic!("power cut at op {k} of {total}, {pattern:?}: {e}"),
                Ok(stats) => assert_eq!(stats.power_cuts, 1, "the cut at op {k} fired once"),
            }
            cuts += 1;
        }
    }
    assert_eq!(cuts, 5 * (total - clean.create_ops));
}

#[test]
fn crash_power_cut_at_every_write_and_sync_immediate() {
    every_power_cut(Durability::Immediate);
}

#[test]
fn crash_power_cut_at_every_write_and_sync_eventual() {
    every_power_cut(Durability::Eventual);
}

#[test]
fn io_error_each_write_sync_and_grow_fails_once() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        let clean =
            run(&sample_workload(), RunConfig { durability, fault: None, final_crash: TearPattern::KeepAll }).unwrap();
        for k in 0..clean.storage_ops {
            for fault in [Fault::FailWrite(k), Fault::FailSync(k), Fault::FailGrow(k)] {
                for pattern in [TearPattern::KeepAll, TearPattern::Seeded(k)] {
                    let config = RunConfig { durability, fault: Some(fault), final_crash: pattern };
                    if let Err(e) = run(&sample_workload(), config) {
                        panic!("{fault:?}, {durability:?}, {pattern:?}: {e}");
                    }
                }
            }
        }
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u8..40).prop_map(Op::Alloc),
        2 => any::<u16>().prop_map(Op::Free),
        1 => (any::<u16>(), 1u8..20).prop_map(|(s, n)| Op::FreeBulk(s, n)),
        5 => (any::<u16>(), any::<u8>()).prop_map(|(s, t)| Op::Write(s, t)),
        1 => Just(Op::WriteAll),
        3 => Just(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reader),
        1 => Just(Op::Sync),
        1 => any::<u8>().prop_map(Op::Crash),
        1 => Just(Op::Kill),
    ]
}

fn fault_strategy() -> impl Strategy<Value = Option<Fault>> {
    prop_oneof![
        2 => Just(None),
        2 => (0u64..400).prop_map(|k| Some(Fault::PowerCutAt(k))),
        1 => (0u64..200).prop_map(|k| Some(Fault::FailWrite(k))),
        1 => (0u64..60).prop_map(|k| Some(Fault::FailSync(k))),
        1 => (0u64..20).prop_map(|k| Some(Fault::FailGrow(k))),
    ]
}

fn pattern_strategy() -> impl Strategy<Value = TearPattern> {
    prop_oneof![
        1 => Just(TearPattern::KeepAll),
        1 => Just(TearPattern::DropAll),
        1 => Just(TearPattern::AllButFirstBytes(ROOTS_END)),
        3 => any::<u64>().prop_map(TearPattern::Seeded),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn crash_random_workloads_match_the_model_immediate(ops in proptest::collection::vec(op_strategy(), 1..80), fault in fault_strategy(), pattern in pattern_strategy()) {
        let r = run(&ops, RunConfig { durability: Durability::Immediate, fault, final_crash: pattern });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn crash_random_workloads_match_the_model_eventual(ops in proptest::collection::vec(op_strategy(), 1..80), fault in fault_strategy(), pattern in pattern_strategy()) {
        let r = run(&ops, RunConfig { durability: Durability::Eventual, fault, final_crash: pattern });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

/// The built-in strategies other than the default (which every test above runs).
fn other_strategies() -> impl Strategy<Value = mappedpages::Allocation> {
    (1usize..mappedpages::Allocation::BUILT_IN.len()).prop_map(|k| mappedpages::Allocation::BUILT_IN[k].clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// The crash model with first fit, best fit, segregated fit and buddy.
    #[test]
    fn crash_random_workloads_match_the_model_every_strategy(
        allocation in other_strategies(),
        eventual in any::<bool>(),
        ops in proptest::collection::vec(op_strategy(), 1..80),
        fault in fault_strategy(),
        pattern in pattern_strategy(),
    ) {
        let durability = if eventual { Durability::Eventual } else { Durability::Immediate };
        let r = run_with(&ops, RunConfig { durability, fault, final_crash: pattern }, allocation.clone());
        prop_assert!(r.is_ok(), "{allocation:?}: {}", r.unwrap_err());
    }
}

/// A power cut at every storage operation of the sample workload, and an I/O
/// error at each, under every built-in strategy but the default. To keep the
/// suite's time: one tear pattern, one durability level per strategy and one
/// kind of I/O error per operation, each taking turns (the random test above
/// mixes them all).
#[test]
fn crash_power_cut_and_io_error_at_every_operation_every_strategy() {
    for (k, allocation) in mappedpages::Allocation::BUILT_IN[1..].iter().enumerate() {
        for durability in [[Durability::Immediate, Durability::Eventual][k % 2]] {
            let clean = RunConfig { durability, fault: None, final_crash: TearPattern::DropAll };
            let total = run_with(&sample_workload(), clean, allocation.clone()).unwrap().storage_ops;
            for k in 0..total {
                let io_error = [Fault::FailWrite(k), Fault::FailSync(k), Fault::FailGrow(k)][k as usize % 3];
                for fault in [Fault::PowerCutAt(k), io_error] {
                    let config = RunConfig { durability, fault: Some(fault), final_crash: TearPattern::Seeded(k) };
                    if let Err(e) = run_with(&sample_workload(), config, allocation.clone()) {
                        panic!("{allocation:?}, {durability:?}, {fault:?} of {total}: {e}");
                    }
                }
            }
        }
    }
}

/// With `Eventual`, a commit may not reuse space freed by commits that are not
/// yet durable: a power cut can fall back to the durable root, which reaches it.
#[test]
fn crash_eventual_never_reuses_space_an_unsynced_commit_freed() {
    use Op::*;
    let mut ops = vec![Alloc(6), Write(0, 1), Write(1, 1), Write(2, 1), Write(3, 1), Commit, Sync];
    let mut ends = Vec::new();
    for round in 0..12u16 {
        ops.extend([Write(round % 4, 1), Write((round + 1) % 4, 1), Commit]);
        ends.push(ops.len());
    }
    let patterns = (0..64u64).map(TearPattern::Seeded).chain([TearPattern::AllButFirstBytes(ROOTS_END)]);
    for pattern in patterns {
        let config = RunConfig { durability: Durability::Eventual, fault: None, final_crash: pattern };
        if let Err(e) = run(&ops, config) {
            panic!("{pattern:?}: {e}");
        }
    }
    // The whole workload's last commit crosses `eventual_sync_bytes` and is
    // durable: cut the power after each round too, so that the cut finds
    // commits that freed space and are not durable.
    for &end in &ends {
        let patterns = (0..8u64).map(TearPattern::Seeded).chain([TearPattern::AllButFirstBytes(ROOTS_END)]);
        for pattern in patterns {
            let config = RunConfig { durability: Durability::Eventual, fault: None, final_crash: pattern };
            if let Err(e) = run(&ops[..end], config) {
                panic!("after {end} ops, {pattern:?}: {e}");
            }
        }
    }
}

/// The crash proptest's minimal failing input for a commit whose ids were all
/// allocated and freed in it while `next_id` deepened the table (the root
/// then named the old leaf as a level-1 node).
#[test]
fn crash_regression_ids_allocated_and_freed_deepen_the_table() {
    let ops = [Op::Alloc(20), Op::Commit, Op::Alloc(9), Op::FreeBulk(61911, 8), Op::FreeBulk(3386, 1), Op::Commit];
    for durability in [Durability::Immediate, Durability::Eventual] {
        let config = RunConfig { durability, fault: Some(Fault::FailSync(4)), final_crash: TearPattern::KeepAll };
        run(&ops, config).unwrap();
    }
}

// Power cuts while the store is open, a reopen from the page cache, and the
// parts of recovery and commit the model runs cannot see (SPEC.md sections 9
// and 10).

use std::collections::BTreeMap;

use mappedpages::storage::{CrashControl, CrashStorage};
use mappedpages::testing::{Content, PAGE, check_content, page_bytes, root_slot_offset};
use mappedpages::{Error, Options, PageId, Store};

const CAPACITY: usize = 1 << 30;

fn options(durability: Durability) -> Options {
    Options::default().durability(durability).eventual_sync_bytes(64 << 20)
}

/// Writes `tag` over each of `ids` (allocating the ones past `next_id`) and
/// commits. The new version's content goes into `versions` first: a commit
/// that fails may still be what a crash recovers.
fn commit_tags(
    store: &Store<PAGE>,
    versions: &mut BTreeMap<u64, Content>,
    ids: std::ops::Range<u64>,
    tag: u64,
) -> Result<u64, Error> {
    let mut content = versions.last_key_value().map(|(_, c)| c.clone()).unwrap_or_default();
    let mut w = store.begin_write()?;
    for id in ids {
        if !content.contains_key(&id) {
            assert_eq!(w.alloc()?.get(), id, "ids are handed out in order");
        }
        w.write(PageId::from_raw(id), &page_bytes(id, tag))?;
        content.insert(id, tag);
    }
    let next = w.base_version().get() + 1;
    versions.insert(next, content);
    let v = w.commit()?.get();
    assert_eq!(v, next);
    Ok(v)
}

/// Reopens what `ctl`'s storage holds after a power cut with `pattern`, and
/// checks that the version found is at least `floor`, holds exactly what that
/// version held and verifies clean. Returns the store.
fn reopen_after_cut(
    ctl: &CrashControl,
    pattern: TearPattern,
    versions: &BTreeMap<u64, Content>,
    floor: u64,
) -> Result<Store<PAGE>, String> {
    let disk = ctl.crash(pattern).map_err(|e| e.to_string())?;
    let store = Store::<PAGE>::open_on(disk, options(Durability::Immediate)).map_err(|e| format!("reopen: {e}"))?;
    let v = store.version().get();
    if v < floor {
        return Err(format!("recovered v{v}, older than the acknowledged durable v{floor}"));
    }
    let expected = versions.get(&v).ok_or(format!("recovered v{v}, never committed"))?;
    check_content(&store.begin_read().map_err(|e| e.to_string())?, expected).map_err(|e| format!("v{v}: {e}"))?;
    let report = store.verify().map_err(|e| e.to_string())?;
    if !report.is_clean() {
        return Err(format!("v{v} verifies with damage: {:?}", report.damage));
    }
    Ok(store)
}

/// What `settle` exists for (SPEC.md section 10 (b)): process A commits
/// without making it durable (`Eventual`, or `Immediate` whose sync fails),
/// dies; process B reopens from the page cache, where A's root is visible but
/// not durable, and commits durably; the power goes out at each of B's storage
/// operations. Whatever the tear, the reopened store holds a version that was
/// committed (B's, once acknowledged) and verifies clean.
#[test]
fn crash_reopen_from_the_page_cache_then_power_cut() {
    for a_durability in [Durability::Eventual, Durability::Immediate] {
        let total = settle_case(a_durability, NO_CUT, TearPattern::KeepAll).unwrap();
        assert!(total > 4, "B's commits issue storage operations");
        for k in 0..=total {
            for pattern in [
                TearPattern::KeepAll,
                TearPattern::DropAll,
                TearPattern::AllButFirstBytes(ROOTS_END),
                TearPattern::Seeded(k),
                TearPattern::Seeded(k ^ 0x5EED),
            ] {
                if let Err(e) = settle_case(a_durability, k, pattern) {
                    panic!("A {a_durability:?}, cut at B's op {k} of {total}, {pattern:?}: {e}");
                }
            }
        }
    }
}

/// A cut that never comes.
const NO_CUT: u64 = u64::MAX / 2;

/// One run of the case above, the power cut at B's `k`-th storage operation
/// (or after B's commits); returns how many B issued.
fn settle_case(a_durability: Durability, k: u64, pattern: TearPattern) -> Result<u64, String> {
    let disk = CrashStorage::new().map_err(|e| e.to_string())?;
    let ctl = disk.control();
    let mut versions = BTreeMap::from([(0, Content::new())]);
    let a = Store::<PAGE>::create_on(disk, options(a_durability)).map_err(|e| e.to_string())?;
    commit_tags(&a, &mut versions, 0..24, 1).map_err(|e| e.to_string())?;
    a.sync().map_err(|e| e.to_string())?;
    let durable = a.version().get();
    // Commits that free what the durable root reaches, none of them durable.
    if a_durability == Durability::Eventual {
        commit_tags(&a, &mut versions, 0..12, 2).map_err(|e| e.to_string())?;
        commit_tags(&a, &mut versions, 12..24, 3).map_err(|e| e.to_string())?;
    } else {
        // The commit's root is written, its sync fails: it is in the page cache only.
        ctl.set_fault(Some(Fault::FailSync(ctl.counts().syncs)));
        if commit_tags(&a, &mut versions, 0..24, 2).is_ok() {
            return Err("the commit succeeded though its sync failed".into());
        }
    }
    // A dies without a sync; B opens the same file and sees A's last root,
    // unless that root's sync failed: a root whose sync failed is never
    // trusted again (its slot is cleared through the cache, tests/fsyncgate.rs),
    // so B opens the durable one.
    let live = if a_durability == Durability::Eventual { *versions.last_key_value().unwrap().0 } else { durable };
    let disk = ctl.kill().map_err(|e| e.to_string())?;
    drop(a);
    let b = Store::<PAGE>::open_on(disk, options(Durability::Immediate)).map_err(|e| format!("B's open: {e}"))?;
    if b.version().get() != live {
        return Err(format!("B opened v{}, not A's last root v{live}", b.version()));
    }
    let start = ctl.counts().ops;
    ctl.set_fault(Some(Fault::PowerCutAt(start + k)));
    // B rewrites everything, so its pages reuse space the durable root reaches.
    let mut floor = durable;
    for tag in [4, 5] {
        match commit_tags(&b, &mut versions, 0..24, tag) {
            Ok(v) => floor = v,
            Err(_) if ctl.is_powered_off() => break,
            Err(e) => return Err(format!("B's commit failed without a cut: {e}")),
        }
    }
    let b_ops = ctl.counts().ops - start;
    reopen_after_cut(&ctl, pattern, &versions, floor)?;
    drop(b);
    Ok(b_ops)
}

/// A store whose newest root (v2, slot 0) was written but one of its pages
/// was damaged: opening it rejects that root and recovers v1 (slot 1).
fn store_with_rejected_root() -> (CrashStorage, BTreeMap<u64, Content>) {
    let disk = CrashStorage::new().unwrap();
    let ctl = disk.control();
    let mut versions = BTreeMap::from([(0, Content::new())]);
    let store = Store::<PAGE>::create_on(disk, options(Durability::Eventual)).unwrap();
    assert_eq!(commit_tags(&store, &mut versions, 0..8, 1).unwrap(), 1);
    store.sync().unwrap();
    assert_eq!(commit_tags(&store, &mut versions, 0..4, 2).unwrap(), 2);
    versions.remove(&2);
    let before = ctl.durable_image();
    let mut image = ctl.crash_image(TearPattern::KeepAll);
    // The first byte v2 changed past the root slots lies in one of its pages.
    let at = (ROOTS_END as usize..image.len())
        .find(|&i| before.get(i).copied().unwrap_or(0) != image[i])
        .expect("v2 wrote pages");
    image[at] ^= 0x40;
    drop(store);
    let disk = CrashStorage::from_image(&image, CAPACITY).unwrap();
    (disk, versions)
}

/// `Store::rejected_root` (and `verify`) report the rejected root until a
/// commit writes into its slot, and nothing after (SPEC.md section 10).
#[test]
fn crash_rejected_root_is_reported_until_a_commit_overwrites_its_slot() {
    let (disk, mut versions) = store_with_rejected_root();
    let store = Store::<PAGE>::open_on(disk, options(Durability::Immediate)).unwrap();
    assert_eq!(store.version().get(), 1);
    let rejected = store.rejected_root().expect("v2 is rejected");
    assert_eq!((rejected.version.map(|v| v.get()), rejected.slot), (Some(2), 0));
    assert_eq!(store.verify().unwrap().rejected_root, Some(rejected.clone()));
    // A sync writes no slot: still reported.
    store.sync().unwrap();
    assert_eq!(store.rejected_root(), Some(rejected));
    assert_eq!(commit_tags(&store, &mut versions, 0..2, 3).unwrap(), 2);
    assert_eq!(store.rejected_root(), None);
    assert_eq!(store.verify().unwrap().rejected_root, None);
    assert_eq!(commit_tags(&store, &mut versions, 2..4, 4).unwrap(), 3);
    assert_eq!(store.rejected_root(), None);
    let report = store.verify().unwrap();
    assert!(report.is_clean() && report.rejected_root.is_none(), "{report:?}");
}

/// The first commit after open zeroes a rejected root's slot and syncs before
/// it writes anything else (SPEC.md section 10 (a)): when the power goes out
/// right after that, the rejected root is gone from the disk.
#[test]
fn crash_first_commit_clears_the_rejected_slot_before_writing() {
    let (disk, mut versions) = store_with_rejected_root();
    let ctl = disk.control();
    let store = Store::<PAGE>::open_on(disk, options(Durability::Immediate)).unwrap();
    assert!(store.rejected_root().is_some());
    // Settling is a write (the slot) and a sync; cut at the operation after.
    let start = ctl.counts();
    ctl.set_fault(Some(Fault::PowerCutAt(start.ops + 2)));
    assert!(commit_tags(&store, &mut versions, 0..2, 3).is_err(), "the power went out during the commit");
    assert_eq!(ctl.counts().syncs, start.syncs + 1, "settling synced once");
    for pattern in [TearPattern::DropAll, TearPattern::KeepAll] {
        let image = ctl.crash_image(pattern);
        let slot0 = root_slot_offset(&image, 0) as usize;
        assert!(image[slot0..slot0 + 512].iter().all(|&b| b == 0), "{pattern:?}: slot 0 still holds a root");
        let reopened = reopen_after_cut(&ctl, pattern, &versions, 1).unwrap();
        assert_eq!(reopened.version().get(), 1);
        assert_eq!(reopened.rejected_root(), None, "{pattern:?}");
    }
    drop(store);
}

/// Syncs issued by the commit writing `second`, after one writing `first`,
/// and the bytes it wrote, on a fresh store with these options.
fn commit_syncs(
    durability: Durability,
    eventual_sync_bytes: u64,
    presync_bytes: u64,
    first: std::ops::Range<u64>,
    second: std::ops::Range<u64>,
) -> (u64, u64) {
    let disk = CrashStorage::new().unwrap();
    let ctl = disk.control();
    let opts =
        Options::default().durability(durability).eventual_sync_bytes(eventual_sync_bytes).presync_bytes(presync_bytes);
    let store = Store::<PAGE>::create_on(disk, opts).unwrap();
    let mut versions = BTreeMap::new();
    commit_tags(&store, &mut versions, first, 1).unwrap();
    let before = ctl.counts();
    commit_tags(&store, &mut versions, second, 2).unwrap();
    let after = ctl.counts();
    (after.syncs - before.syncs, after.bytes_written - before.bytes_written)
}

/// The same for a large commit (64 pages) after a small one.
fn large_commit_syncs(durability: Durability, eventual_sync_bytes: u64, presync_bytes: u64) -> (u64, u64) {
    commit_syncs(durability, eventual_sync_bytes, presync_bytes, 0..2, 2..66)
}

/// The early sync of a large commit (SPEC.md section 9, two-sync protocol):
/// a durable commit writing at least `presync_bytes` syncs its pages before
/// its root, one below that syncs once, and a commit that is not durable
/// (`Eventual` below `eventual_sync_bytes`) does not sync at all.
#[test]
fn crash_large_durable_commits_sync_their_pages_before_the_root() {
    const NEVER: u64 = u64::MAX / 2;
    // Durable: `Immediate`, or `Eventual` crossing `eventual_sync_bytes`.
    for (durability, eventual_sync) in [(Durability::Immediate, NEVER), (Durability::Eventual, 1)] {
        let (syncs, written) = large_commit_syncs(durability, eventual_sync, NEVER);
        assert_eq!(syncs, 1, "{durability:?} without the early sync");
        // The commit's own pages: everything it wrote but the root's sector.
        let bytes = written - 512;
        assert!(bytes >= 64 * PAGE as u64);
        assert_eq!(large_commit_syncs(durability, eventual_sync, bytes), (2, written), "{durability:?} at the bound");
        assert_eq!(large_commit_syncs(durability, eventual_sync, bytes + 1).0, 1, "{durability:?} below it");
        assert_eq!(large_commit_syncs(durability, eventual_sync, 1).0, 2, "{durability:?} far above");
    }
    // A small commit past the frontier also writes zeros ahead of it
    // (`prefill`): they are not its pages and do not count toward the bound.
    let small = |presync| commit_syncs(Durability::Immediate, NEVER, presync, 0..64, 64..66);
    let (syncs, written) = small(NEVER);
    assert_eq!(syncs, 1);
    assert!(written > 64 * PAGE as u64, "the small commit wrote zeros ahead ({written} bytes)");
    assert_eq!(small(written - 512).0, 1, "zeros counted toward presync_bytes");
    assert_eq!(small(1).0, 2);
    for presync in [1, 64 * PAGE as u64, NEVER] {
        assert_eq!(large_commit_syncs(Durability::Eventual, NEVER, presync).0, 0, "not durable, presync {presync}");
    }
}

/// A device with 4 KiB physical sectors may garble a whole block when the power
/// fails while it rewrites part of it (SPEC.md section 1, 4). Format 3 gives the
/// header and each root slot a block of its own, and pages of 4 KiB fill theirs,
/// so such a tear costs at most the commit in flight: power cut at every storage
/// operation of each commit, 16 garbling patterns each. (Format 2, where the
/// header and both roots share block 0, loses the store to the first torn root
/// write.)
#[test]
fn crash_torn_4k_blocks_cost_at_most_the_commit_in_flight() {
    const P: usize = 4096;
    let body = |id: u64, tag: u64| vec![(id as u8) ^ (tag as u8).wrapping_mul(31); P];
    // Commit `tag` writes pages 0..4 (allocating them at tag 1) and a new page 3 + tag.
    let commit = |store: &Store<P>, tag: u64| -> Result<(), Error> {
        let mut w = store.begin_write()?;
        if tag == 1 {
            w.alloc_bulk(4)?;
        }
        let extra = w.alloc()?;
        for id in (0..4).chain([extra.get()]) {
            w.write(PageId::from_raw(id), &body(id, tag))?;
        }
        w.commit().map(|_| ())
    };
    // What version `v` holds: page id → the tag that last wrote it.
    let expected = |v: u64| -> BTreeMap<u64, u64> {
        let first = if v == 0 { 0..0 } else { 0..4 };
        first.map(|id| (id, v)).chain((1..=v).map(|t| (3 + t, t))).collect()
    };
    let commits = 5;
    let mut cuts = 0;
    for tag in 1..=commits {
        for d in 0.. {
            let disk = CrashStorage::new().unwrap();
            let ctl = disk.control();
            let store = Store::<P>::create_on(disk, options(Durability::Immediate)).unwrap();
            for t in 1..tag {
                commit(&store, t).unwrap();
            }
            ctl.set_fault(Some(Fault::PowerCutAt(ctl.counts().ops + d)));
            let acknowledged = commit(&store, tag).is_ok() && !ctl.is_powered_off();
            if acknowledged {
                break;
            }
            cuts += 1;
            for seed in 0..16 {
                let image = ctl.crash_image(TearPattern::Blocks4K(seed * 1000 + d));
                let what = format!("commit {tag}, power cut at its operation {d}, garbling seed {seed}");
                let disk = CrashStorage::from_image(&image, CAPACITY).unwrap();
                let reopened = Store::<P>::open_on(disk, options(Durability::Immediate))
                    .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
                let v = reopened.version().get();
                assert!(v == tag - 1 || v == tag, "{what}: recovered v{v}");
                let r = reopened.begin_read().unwrap();
                let ids: Vec<u64> = r.ids().map(|id| id.unwrap().get()).collect();
                let want = expected(v);
                assert_eq!(ids, want.keys().copied().collect::<Vec<_>>(), "{what}: live ids at v{v}");
                for (&id, &t) in &want {
                    assert_eq!(r.page(PageId::from_raw(id)).unwrap(), body(id, t), "{what}: page {id}");
                }
                drop(r);
                let report = reopened.verify().unwrap();
                assert!(report.is_clean(), "{what}: verify: {report:?}");
                // The next commit clears a passed-over slot, garbled block and all.
                let mut w = reopened.begin_write().unwrap();
                let id = w.alloc().unwrap();
                w.write(id, &body(id.get(), 99)).unwrap();
                w.commit().unwrap();
                let report = reopened.verify().unwrap();
                assert!(report.is_pristine(), "{what}: verify after a commit: {report:?}");
            }
            drop(store);
        }
    }
    assert!(cuts >= commits * 3, "only {cuts} cuts fired");
}
