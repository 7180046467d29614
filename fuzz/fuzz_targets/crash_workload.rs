//! A random workload, a power cut at a random storage operation and a random
//! tear of the unsynced writes; the shared model (`mappedpages::testing::run`)
//! checks that the reopened store holds the last acknowledged commit (or the one
//! in flight), verifies clean, and leaks no space. The first byte also picks
//! the allocation strategy (one of the built-in ones), so the same inputs
//! decode to the same workload as before.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((ops, config)) = mappedpages_fuzz::decode_crash(data) else {
        return;
    };
    let allocation = mappedpages_fuzz::crash_allocation(data);
    if let Err(e) = mappedpages::testing::run_with(&ops, config, allocation.clone()) {
        panic!("{config:?}, {allocation:?}: {e}\nops: {ops:?}");
    }
});
