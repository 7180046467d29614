//! Arbitrary bytes as a backup stream; the checks are in `src/backup.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mappedpages_fuzz::backup_stream(data);
});
