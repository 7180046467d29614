//! Arbitrary bytes as a mappedpages 0.2 file: the upgrade's reader must give
//! a typed error or a result whose pages all lie in the file, never panic,
//! hang or allocate beyond the input's size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mappedpages::upgrade::{parse_v02, v02_page_size};

fuzz_target!(|data: &[u8]| {
    let size = v02_page_size(data);
    let Ok(file) = parse_v02(data) else { return };
    assert_eq!(size.ok(), Some(file.page_size));
    let pages = data.len() as u64 / file.page_size as u64;
    assert!(file.total_pages <= pages, "metadata covers {} pages of {pages}", file.total_pages);
    assert!(file.data_pages.windows(2).all(|w| w[0] < w[1]), "data pages ascending");
    assert!(file.data_pages.iter().all(|&p| (3..file.total_pages).contains(&p)));
    let mut claimed: Vec<u64> = file.directory_pages.clone();
    claimed.extend(file.protected.iter().map(|p| p.physical));
    claimed.extend(&file.data_pages);
    let n = claimed.len();
    claimed.sort_unstable();
    claimed.dedup();
    assert_eq!(claimed.len(), n, "no physical page claimed twice");
    assert!(claimed.iter().all(|&p| p >= 3 && p < file.total_pages));
    assert!(file.protected.windows(2).all(|w| w[0].id < w[1].id), "protected ids ascending");
});
