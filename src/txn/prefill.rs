//! Writing free space at the file's frontier before small commits need it.
//!
//! When the file grows, its new bytes are a hole in the file system: no block
//! is allocated yet. A commit that writes there makes the file system allocate
//! blocks, and the commit's sync then has to make that allocation durable too:
//! on ext4 a 1-page commit into such space syncs at about half the rate of one
//! that overwrites written blocks. So when a small commit first writes past the
//! *frontier* (the lowest byte not written since the store was opened), it also
//! writes zeros over the free space from the frontier to [`AHEAD`] bytes past
//! its highest page, skipping its own pages. The next small commits then land
//! in written blocks. Large commits fill fresh space with their own pages and
//! only move the frontier.
//!
//! No byte at or past the frontier was written since the store was opened: the
//! first commit puts the frontier where the file's written data ends
//! ([`start`]; the rest is a hole, zero already), and it moves past every page
//! a commit writes, so what lies past it is that hole, the file's growth since
//! (free) or a failed commit's pages (free). Zeros there change no byte a root
//! reaches, so a crash at any point leaves the store as it would have been
//! without them (SPEC.md, section 9, "Prefill").

use crate::format::SECTOR;
use crate::geometry::Geometry;
use crate::storage::Storage;

/// How far past its highest page a small commit writes zeros.
pub(crate) const AHEAD: u64 = 2 << 20;

/// A small commit whose pages lie further than this past the frontier moves it
/// to its pages without filling the gap, so no commit writes more than about
/// `MAX_GAP + AHEAD` bytes of zeros.
const MAX_GAP: u64 = 8 << 20;

/// The frontier of a store just opened: where the storage's unwritten tail
/// begins, in whole pages of the data area (prefill writes whole pages, and
/// never the header or the root slots).
pub(crate) fn start(storage: &dyn Storage, geo: &Geometry) -> u64 {
    let page = geo.page_size as u64;
    let len = storage.len();
    (storage.unwritten_from().min(len).div_ceil(page) * page).max(geo.first_data_sector * SECTOR)
}

/// What a commit writes beyond its pages, and where the frontier goes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Prefill {
    /// Byte ranges `[start, end)` to fill with zeros, in address order.
    pub ranges: Vec<(u64, u64)>,
    /// The frontier once the commit is written.
    pub frontier: u64,
}

/// The prefill of a commit writing the byte extents `own` (start, length) into
/// a file of `file_len` bytes whose frontier is `frontier`; `small` commits
/// fill ahead, others only move the frontier past their pages.
pub(crate) fn plan(frontier: u64, file_len: u64, small: bool, own: &[(u64, u64)]) -> Prefill {
    let hi = own.iter().map(|&(start, len)| start.saturating_add(len)).max().unwrap_or(0);
    if hi <= frontier {
        return Prefill { ranges: Vec::new(), frontier };
    }
    if !small {
        return Prefill { ranges: Vec::new(), frontier: hi };
    }
    let from = if hi - frontier > MAX_GAP { hi } else { frontier };
    let to = file_len.min(hi.saturating_add(AHEAD)).max(hi);
    let mut mine: Vec<(u64, u64)> = own
        .iter()
        .map(|&(start, len)| (start, start.saturating_add(len)))
        .filter(|&(start, end)| end > from && start < to)
        .collect();
    mine.sort_unstable();
    let mut ranges = Vec::new();
    let mut at = from;
    for (start, end) in mine {
        if start > at {
            ranges.push((at, start));
        }
        at = at.max(end);
    }
    if to > at {
        ranges.push((at, to));
    }
    Prefill { ranges, frontier: to }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const P: u64 = 4096;

    #[test]
    fn a_commit_below_the_frontier_writes_nothing_more() {
        assert_eq!(
            plan(100 * P, 1000 * P, true, &[(10 * P, P), (99 * P, P)]),
            Prefill { ranges: vec![], frontier: 100 * P }
        );
    }

    #[test]
    fn a_small_commit_fills_around_its_pages_up_to_the_file_end() {
        let p = plan(100 * P, 200 * P, true, &[(100 * P, P), (103 * P, 2 * P)]);
        assert_eq!(p.ranges, vec![(101 * P, 103 * P), (105 * P, 200 * P)]);
        assert_eq!(p.frontier, 200 * P);
    }

    #[test]
    fn a_small_commit_fills_at_most_ahead_of_its_last_page() {
        let p = plan(100 * P, 1 << 40, true, &[(150 * P, P)]);
        assert_eq!(p.ranges, vec![(100 * P, 150 * P), (151 * P, 151 * P + AHEAD)]);
        assert_eq!(p.frontier, 151 * P + AHEAD);
    }

    #[test]
    fn a_far_page_moves_the_frontier_without_filling_the_gap() {
        let far = 100 * P + MAX_GAP + P;
        let p = plan(100 * P, 1 << 40, true, &[(far, P)]);
        assert_eq!(p.ranges, vec![(far + P, far + P + AHEAD)]);
        assert_eq!(p.frontier, far + P + AHEAD);
    }

    #[test]
    fn a_large_commit_only_moves_the_frontier() {
        assert_eq!(plan(100 * P, 1 << 40, false, &[(100 * P, 500 * P)]), Prefill { ranges: vec![], frontier: 600 * P });
    }

    proptest! {
        /// The zeros never touch the commit's own pages or anything below the
        /// frontier or past the file, and everything the commit writes (pages
        /// and zeros) ends below the new frontier.
        #[test]
        fn prefill_stays_in_free_space(
            frontier in 0u64..400,
            file in 0u64..4000,
            small: bool,
            own in proptest::collection::vec((0u64..3000, 1u64..40), 0..12),
        ) {
            // Pages of a commit never overlap and lie inside the file.
            let mut own: Vec<(u64, u64)> = own.into_iter().map(|(s, l)| (s * P, l * P)).collect();
            own.sort_unstable();
            own.dedup_by(|b, a| b.0 < a.0 + a.1);
            let file_len = file.max(own.iter().map(|&(s, l)| (s + l) / P).max().unwrap_or(0)) * P;
            let p = plan(frontier * P, file_len, small, &own);
            for w in p.ranges.windows(2) {
                prop_assert!(w[0].1 <= w[1].0, "ranges out of order or overlapping: {:?}", p.ranges);
            }
            for &(start, end) in &p.ranges {
                prop_assert!(start < end);
                prop_assert!(start >= frontier * P, "zeros below the frontier");
                prop_assert!(end <= file_len, "zeros past the file");
                for &(s, l) in &own {
                    prop_assert!(end <= s || start >= s + l, "zeros over an own page");
                }
            }
            prop_assert!(p.frontier >= frontier * P);
            for &(s, l) in own.iter().filter(|&&(s, l)| s + l > frontier * P) {
                prop_assert!(s + l <= p.frontier, "a page past the new frontier");
            }
            if !small {
                prop_assert!(p.ranges.is_empty());
            }
        }
    }
}
