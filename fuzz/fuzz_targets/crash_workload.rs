//! A random workload, a power cut at a random storage operation and a random
//! tear of the unsynced writes; the shared model (`mappedpages::testing::run`)
//! checks that the reopened store holds the last acknowledged commit (or the one
//! in flight), verifies clean, and leaks no space.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((ops, config)) = mappedpages_fuzz::decode_crash(data) else {
        return;
    };
    if let Err(e) = mappedpages::testing::run(&ops, config) {
        panic!("{config:?}: {e}\nops: {ops:?}");
    }
});
