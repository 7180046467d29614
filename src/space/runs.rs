//! Finding runs of free pages in free-map leaves, one leaf after another.
//!
//! A [`RunScanner`] carries a run that reaches a leaf's end into the next
//! leaf, reports runs of at least `min` pages (a run longer than `cap` as
//! pieces of `cap`), and looks `min` pages ahead so that fragmented free space
//! costs about one probe per `min` pages instead of one per page.

use super::bits;

/// The state of a scan over consecutive leaves.
pub(crate) struct RunScanner {
    min: u64,
    cap: u64,
    /// The open run: its first sector and length in pages (0: none).
    start: u64,
    len: u64,
    /// An upper bound on the longest run passed over, in pages.
    pub largest: u64,
}

impl RunScanner {
    pub fn new(min: u64, cap: u64) -> Self {
        let min = min.max(1);
        RunScanner { min, cap: cap.max(min), start: 0, len: 0, largest: min - 1 }
    }

    /// True while a run is open (it may continue in the next leaf).
    pub fn is_open(&self) -> bool {
        self.len > 0
    }

    /// Ends the open run (the next leaf does not follow on); false when
    /// `found` asked to stop.
    pub fn close(&mut self, found: &mut impl FnMut(u64, u64) -> bool) -> bool {
        let (start, len) = (self.start, std::mem::take(&mut self.len));
        len < self.min || found(start, len)
    }

    /// Scans units `from..units` of one leaf whose unit 0 is sector
    /// `leaf_start` (each unit is `spp` bits, one page). Calls `found(sector,
    /// pages)` for each run; returns false when `found` asked to stop.
    pub fn leaf(
        &mut self,
        map: &[u8],
        spp: u64,
        leaf_start: u64,
        from: u64,
        units: u64,
        found: &mut impl FnMut(u64, u64) -> bool,
    ) -> bool {
        let (min, cap) = (self.min, self.cap);
        let free = |k: u64| bits::unit_free(map, k, spp);
        let mut k = from;
        while k < units {
            if self.len > 0 {
                // A run open from the last leaf, or one long enough: extend it.
                let more = bits::free_units_from(map, k, units.min(k + cap - self.len), spp);
                self.len += more;
                k += more;
                self.largest = self.largest.max(self.len);
                if self.len < cap && k == units {
                    break;
                }
                if !self.close(found) {
                    return false;
                }
                continue;
            }
            if k + min > units {
                // Only a run reaching the leaf's end may still be long enough.
                let tail = (k..units).rev().take_while(|&u| free(u)).count() as u64;
                if tail > 0 {
                    (self.start, self.len) = (leaf_start + (units - tail) * spp, tail);
                    self.largest = self.largest.max(tail);
                }
                break;
            }
            // Look `min` units ahead: a used unit there rules out every run
            // starting before it (runs shorter than `min` are never seen).
            let p = k + min - 1;
            if !free(p) {
                k = p + 1;
                continue;
            }
            let mut q = p;
            while q > k && free(q - 1) {
                q -= 1;
            }
            if q > k {
                k = q;
                continue;
            }
            // Units k..=p are free: a run of at least `min`, extended above.
            (self.start, self.len) = (leaf_start + k * spp, min);
            k = p + 1;
            self.largest = self.largest.max(min);
            if min >= cap && !self.close(found) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The runs the scanner should report over `leaves` (each `units` pages of
    /// `spp` bits), from page `from` on: every maximal free run, cut into
    /// pieces of `cap`, keeping pieces of at least `min`.
    fn expected(leaves: &[Vec<u8>], spp: u64, units: u64, from: u64, min: u64, cap: u64) -> Vec<(u64, u64)> {
        let free = |page: u64| bits::unit_free(&leaves[(page / units) as usize], page % units, spp);
        let total = units * leaves.len() as u64;
        let mut out = Vec::new();
        let mut page = from;
        while page < total {
            if !free(page) {
                page += 1;
                continue;
            }
            let start = page;
            while page < total && free(page) {
                page += 1;
            }
            let mut s = start;
            while s < page {
                let len = cap.min(page - s);
                if len >= min {
                    out.push((s * spp, len));
                }
                s += len;
            }
        }
        out
    }

    fn scan(leaves: &[Vec<u8>], spp: u64, units: u64, from: u64, min: u64, cap: u64) -> (Vec<(u64, u64)>, u64) {
        let mut out = Vec::new();
        let mut found = |s: u64, n: u64| {
            out.push((s, n));
            true
        };
        let mut scanner = RunScanner::new(min, cap);
        for (i, leaf) in leaves.iter().enumerate() {
            let i = i as u64;
            let start = if from / units == i {
                from % units
            } else if from / units > i {
                continue;
            } else {
                0
            };
            assert!(scanner.leaf(leaf, spp, i * units * spp, start, units, &mut found));
        }
        assert!(scanner.close(&mut found));
        let largest = scanner.largest;
        (out, largest)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn scanner_reports_what_a_page_by_page_walk_finds(
            spp in prop::sample::select(vec![1u64, 2, 8, 16]),
            units in 1u64..40,
            n_leaves in 1usize..4,
            density in 0.0f64..1.0,
            seed in any::<u64>(),
            from_frac in 0.0f64..1.0,
            min in 1u64..12,
            extra in 0u64..12,
        ) {
            let cap = min + extra;
            let mut x = seed | 1;
            let leaves: Vec<Vec<u8>> = (0..n_leaves)
                .map(|_| {
                    let mut bits = vec![0u8; ((units * spp).div_ceil(8)) as usize];
                    for k in 0..units {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if ((x % 1000) as f64) < density * 1000.0 {
                            // In use: one bit of the page is enough.
                            let bit = k * spp + x % spp;
                            bits[(bit / 8) as usize] |= 1 << (bit % 8);
                        }
                    }
                    bits
                })
                .collect();
            let total = units * n_leaves as u64;
            let from = ((total as f64) * from_frac) as u64;
            let want = expected(&leaves, spp, units, from, min, cap);
            let (got, largest) = scan(&leaves, spp, units, from, min, cap);
            prop_assert_eq!(&got, &want);
            // When it reports nothing, no run is longer than the bound it gives.
            if got.is_empty() {
                let longest = expected(&leaves, spp, units, from, 1, u64::MAX).iter().map(|r| r.1).max().unwrap_or(0);
                prop_assert!(longest <= largest, "a run of {} pages, bound {}", longest, largest);
            }
        }
    }

    #[test]
    fn a_run_crossing_leaves_is_one_run() {
        // Two leaves of 8 pages, a byte each: pages 0..4, 5..11 free.
        let leaves = vec![vec![0, 0, 0, 0, 0xFF, 0, 0, 0], vec![0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]];
        assert_eq!(scan(&leaves, 8, 8, 5, 4, 100).0, vec![(5 * 8, 6)]);
        assert_eq!(scan(&leaves, 8, 8, 5, 7, 100).0, vec![]);
        assert_eq!(scan(&leaves, 8, 8, 0, 2, 3).0, vec![(0, 3), (5 * 8, 3), (8 * 8, 3)]);
    }
}
