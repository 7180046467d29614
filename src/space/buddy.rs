//! Buddy placement over the free map: free space as blocks of 2^k pages
//! aligned to their size (page number a multiple of 2^k). A run of n pages
//! goes to the start of the lowest free block of the smallest order that
//! holds it (2^k ≥ n), split down as a buddy allocator splits; the pages of
//! the block it does not fill stay free, as smaller blocks. A released extent
//! goes back as blocks, and a block whose buddy is free merges with it, so
//! freed neighbours become one aligned block again.
//!
//! The free map stays the truth at page granularity; what the buddy system
//! adds is only the choice of address (aligned, by order), which keeps large
//! aligned holes whole under churn of mixed sizes.

use super::index::{FreeIndex, Indexed, UndoSet, indexed_strategy};

/// Largest block: 2^MAX_ORDER pages.
const MAX_ORDER: u64 = 20;

/// Free blocks as (order, first page).
pub(super) struct Blocks(UndoSet<(u64, u64)>);

impl Blocks {
    /// The free block that holds `page`, if any.
    fn holding(&self, page: u64) -> Option<(u64, u64)> {
        (0..=MAX_ORDER).map(|k| (k, page & !((1 << k) - 1))).find(|b| self.0.set.contains(b))
    }

    /// Inserts a free block, merging it with its buddy while that is free.
    fn insert_merged(&mut self, mut order: u64, mut page: u64) {
        while order < MAX_ORDER && self.0.remove((order, page ^ (1 << order))) {
            page &= !(1 << order);
            order += 1;
        }
        self.0.insert((order, page));
    }

    /// The free pages of `start..start + pages` as aligned blocks, merged.
    fn insert_range(&mut self, mut start: u64, pages: u64) {
        let end = start + pages;
        while start < end {
            let align = if start == 0 { MAX_ORDER } else { (start.trailing_zeros() as u64).min(MAX_ORDER) };
            let fits = (end - start).ilog2() as u64;
            let order = align.min(fits);
            self.insert_merged(order, start);
            start += 1 << order;
        }
    }

    /// The blocks, as (first page, pages) in address order (tests).
    #[cfg(test)]
    pub fn holes(&self) -> Vec<(u64, u64)> {
        let mut v: Vec<_> = self.0.set.iter().map(|&(k, p)| (p, 1 << k)).collect();
        v.sort_unstable();
        v
    }
}

impl FreeIndex for Blocks {
    fn empty() -> Self {
        Blocks(UndoSet::default())
    }

    fn add(&mut self, start: u64, pages: u64) -> bool {
        // Every page must be outside the free blocks; checking the ends and
        // each block boundary as it goes would cost as much as the insert, so
        // the first page stands for the range (a wrong index is caught when a
        // pick is checked against the map, and rebuilt).
        if pages > 0 && self.holding(start).is_some() {
            return false;
        }
        self.insert_range(start, pages);
        true
    }

    fn take(&mut self, mut start: u64, pages: u64) -> bool {
        let end = start + pages;
        while start < end {
            let Some((order, first)) = self.holding(start) else { return false };
            self.0.remove((order, first));
            let block_end = first + (1 << order);
            // What the block holds besides the taken pages stays free.
            self.insert_range(first, start - first);
            let taken_end = end.min(block_end);
            self.insert_range(taken_end, block_end - taken_end);
            start = taken_end;
        }
        true
    }

    fn pick(&self, pages: u64) -> Option<(u64, u64)> {
        let want = pages.max(1).next_power_of_two().ilog2() as u64;
        let set = &self.0.set;
        // The smallest order that holds the run, its lowest block; else the
        // lowest block of the largest order (the run fills it and goes on).
        let block = set.range((want.min(MAX_ORDER), 0)..).next().or_else(|| {
            let &(top, _) = set.last()?;
            set.range((top, 0)..).next()
        });
        block.map(|&(k, p)| (p, 1u64 << k))
    }

    fn keep(&mut self) {
        self.0.keep();
    }

    fn undo(&mut self) {
        self.0.undo();
    }
}

/// Buddy placement (see the module docs).
pub(crate) struct Buddy(pub(super) Indexed<Blocks>);

impl Buddy {
    pub fn new() -> Buddy {
        Buddy(Indexed::new())
    }
}

indexed_strategy!(Buddy);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_becomes_aligned_blocks_and_buddies_merge() {
        let mut b = Blocks::empty();
        assert!(b.add(3, 10));
        assert_eq!(b.holes(), [(3, 1), (4, 4), (8, 4), (12, 1)]);
        // 4..8 and 8..12 are no buddies (4's is 0..4, 8's is 12..16): they stay apart.
        assert!(b.add(13, 3));
        // 12..16 completes 8..16.
        assert_eq!(b.holes(), [(3, 1), (4, 4), (8, 8)]);
        assert!(b.add(0, 3));
        assert_eq!(b.holes(), [(0, 16)], "everything merged into one block");
    }

    #[test]
    fn a_run_takes_the_smallest_block_that_holds_it_and_leaves_the_rest_free() {
        let mut b = Blocks::empty();
        assert!(b.add(0, 64));
        assert!(b.add(100, 2));
        assert_eq!(b.pick(2), Some((100, 2)));
        assert_eq!(b.pick(3), Some((0, 64)));
        assert!(b.take(0, 3));
        assert_eq!(b.holes(), [(3, 1), (4, 4), (8, 8), (16, 16), (32, 32), (100, 2)]);
        assert!(!b.take(1, 1), "page 1 is not free");
        assert!(b.add(0, 3));
        assert_eq!(b.holes(), [(0, 64), (100, 2)]);
    }

    #[test]
    fn undo_restores_the_blocks() {
        let mut b = Blocks::empty();
        assert!(b.add(0, 64));
        b.keep();
        assert!(b.take(5, 9));
        assert!(b.add(200, 8));
        b.undo();
        assert_eq!(b.holes(), [(0, 64)]);
    }
}
