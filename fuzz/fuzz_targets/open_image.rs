//! Arbitrary bytes as a store file image; the checks are in `src/image.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mappedpages_fuzz::open_image(data);
});
