//! Crash safety: power cuts at every storage operation, and random workloads
//! against a model, in both durability levels.

use mappedpages::Durability;
use mappedpages::storage::{Fault, TearPattern};
use mappedpages::testing::{Op, RunConfig, run, sample_workload};
use proptest::prelude::*;

fn every_power_cut(durability: Durability) {
    let clean =
        run(&sample_workload(), RunConfig { durability, fault: None, final_crash: TearPattern::DropAll }).unwrap();
    assert!(clean.commits >= 6);
    let total = clean.storage_ops;
    assert!(total > 20, "workload too small: {total} storage ops");
    let mut cuts = 0;
    for k in 0..total {
        for pattern in [
            TearPattern::KeepAll,
            TearPattern::DropAll,
            TearPattern::AllButFirstBytes(1536),
            TearPattern::Seeded(k),
            TearPattern::Seeded(k ^ 0xABCD),
        ] {
            let config = RunConfig { durability, fault: Some(Fault::PowerCutAt(k)), final_crash: pattern };
            if let Err(e) = run(&sample_workload(), config) {
                panic!("power cut at op {k} of {total}, {pattern:?}: {e}");
            }
            cuts += 1;
        }
    }
    assert!(cuts >= 5 * total);
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
        1 => Just(TearPattern::AllButFirstBytes(1536)),
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

/// With `Eventual`, a commit may not reuse space freed by commits that are not
/// yet durable: a power cut can fall back to the durable root, which reaches it.
#[test]
fn crash_eventual_never_reuses_space_an_unsynced_commit_freed() {
    use Op::*;
    let mut ops = vec![Alloc(6), Write(0, 1), Write(1, 1), Write(2, 1), Write(3, 1), Commit, Sync];
    for round in 0..12u16 {
        ops.extend([Write(round % 4, 1), Write((round + 1) % 4, 1), Commit]);
    }
    let patterns = (0..64u64).map(TearPattern::Seeded).chain([TearPattern::AllButFirstBytes(1536)]);
    for pattern in patterns {
        let config = RunConfig { durability: Durability::Eventual, fault: None, final_crash: pattern };
        if let Err(e) = run(&ops, config) {
            panic!("{pattern:?}: {e}");
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
