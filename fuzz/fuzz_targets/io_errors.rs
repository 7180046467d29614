//! A random workload in which the k-th write, sync or grow fails with an I/O
//! error. The model (`mappedpages::testing::run`) checks that the store then
//! either goes on working or refuses with `NeedsReopen`, and that a reopen
//! recovers the last acknowledged commit (or the one in flight), verifies clean
//! and leaks no space.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((ops, config)) = mappedpages_fuzz::decode_io(data) else {
        return;
    };
    if let Err(e) = mappedpages::testing::run(&ops, config) {
        panic!("{config:?}: {e}\nops: {ops:?}");
    }
});
