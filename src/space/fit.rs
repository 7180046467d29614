//! Best fit and segregated fit: strategies over an index of the free map's
//! holes (see `index.rs` for how the index is built, followed and undone).
//!
//! Both keep every hole twice: by start (to merge a released extent with its
//! neighbours and to split a taken one) and under a policy key. Best fit keys
//! holes by length, so a run goes to the shortest hole that holds it whole.
//! Segregated fit keys them by size class (powers of two) and takes the
//! lowest hole of the smallest class whose every hole holds the run: a good
//! fit in O(log n) without looking at exact lengths, and placement that stays
//! low in the file within a class.

use super::index::{FreeIndex, Indexed, UndoSet, indexed_strategy};

/// How a hole is filed under the policy key.
pub(super) trait Key: Send {
    /// The key's first component for a hole of `pages` pages.
    fn class(pages: u64) -> u64;
    /// Where up to `pages` pages go, given the holes by (class, start, pages).
    fn pick(by_key: &BTreeSetOf, pages: u64) -> Option<(u64, u64)>;
}

type BTreeSetOf = std::collections::BTreeSet<(u64, u64, u64)>;

/// The holes of the free map, in pages.
pub(super) struct Holes<K> {
    /// (start, pages).
    by_start: UndoSet<(u64, u64)>,
    /// (class, start, pages).
    by_key: UndoSet<(u64, u64, u64)>,
    key: std::marker::PhantomData<K>,
}

impl<K: Key> Holes<K> {
    fn insert(&mut self, start: u64, pages: u64) {
        self.by_start.insert((start, pages));
        self.by_key.insert((K::class(pages), start, pages));
    }

    fn remove(&mut self, start: u64, pages: u64) {
        self.by_start.remove((start, pages));
        self.by_key.remove((K::class(pages), start, pages));
    }

    /// The hole that starts at or before `page`, if any.
    fn at_or_before(&self, page: u64) -> Option<(u64, u64)> {
        self.by_start.set.range(..=(page, u64::MAX)).next_back().copied()
    }

    /// The holes, by start (tests compare indexes).
    #[cfg(test)]
    pub fn holes(&self) -> Vec<(u64, u64)> {
        self.by_start.set.iter().copied().collect()
    }
}

impl<K: Key> FreeIndex for Holes<K> {
    fn empty() -> Self {
        Holes { by_start: UndoSet::default(), by_key: UndoSet::default(), key: std::marker::PhantomData }
    }

    fn add(&mut self, mut start: u64, mut pages: u64) -> bool {
        if pages == 0 {
            return true;
        }
        let end = start + pages;
        if let Some((s, n)) = self.at_or_before(start) {
            if s + n > start {
                return false;
            }
            if s + n == start {
                self.remove(s, n);
                (start, pages) = (s, pages + n);
            }
        }
        if let Some(&(s, n)) = self.by_start.set.range((end, 0)..).next()
            && s == end
        {
            self.remove(s, n);
            pages += n;
        }
        if self.by_start.set.range((start, 0)..(start + pages, 0)).next().is_some() {
            return false;
        }
        self.insert(start, pages);
        true
    }

    fn take(&mut self, start: u64, pages: u64) -> bool {
        let Some((s, n)) = self.at_or_before(start) else { return false };
        if s + n < start + pages {
            return false;
        }
        self.remove(s, n);
        if start > s {
            self.insert(s, start - s);
        }
        if s + n > start + pages {
            self.insert(start + pages, s + n - start - pages);
        }
        true
    }

    fn pick(&self, pages: u64) -> Option<(u64, u64)> {
        K::pick(&self.by_key.set, pages)
    }

    fn keep(&mut self) {
        self.by_start.keep();
        self.by_key.keep();
    }

    fn undo(&mut self) {
        self.by_start.undo();
        self.by_key.undo();
    }
}

/// Holes keyed by length.
pub(super) struct ByLength;

impl Key for ByLength {
    fn class(pages: u64) -> u64 {
        pages
    }

    fn pick(by_key: &BTreeSetOf, pages: u64) -> Option<(u64, u64)> {
        // The shortest hole that holds the run (the lowest of equals), else
        // the longest hole, which the run fills and goes on from.
        let fit = by_key.range((pages, 0, 0)..).next().or_else(|| by_key.last());
        fit.map(|&(_, start, len)| (start, len))
    }
}

/// Holes keyed by size class: class `c` holds holes of 2^c to 2^(c+1) - 1 pages.
pub(super) struct BySizeClass;

impl Key for BySizeClass {
    fn class(pages: u64) -> u64 {
        pages.max(1).ilog2() as u64
    }

    fn pick(by_key: &BTreeSetOf, pages: u64) -> Option<(u64, u64)> {
        let pages = pages.max(1);
        // Every hole of a class from ceil(log2 pages) on holds the run.
        let up = pages.next_power_of_two().ilog2() as u64;
        if let Some(&(_, start, len)) = by_key.range((up, 0, 0)..).next() {
            return Some((start, len));
        }
        // Else the lowest hole of the run's own class that holds it, else the
        // lowest hole of the largest class (the run fills it and goes on).
        let own = Self::class(pages);
        let within = by_key.range((own, 0, 0)..(own + 1, 0, 0)).find(|&&(_, _, len)| len >= pages);
        let fallback = || by_key.last().and_then(|&(c, _, _)| by_key.range((c, 0, 0)..).next());
        within.or_else(fallback).map(|&(_, start, len)| (start, len))
    }
}

/// Best fit: the shortest hole that holds the whole run.
pub(crate) struct BestFit(pub(super) Indexed<Holes<ByLength>>);

/// Segregated free lists: holes filed by power-of-two size class.
pub(crate) struct Segregated(pub(super) Indexed<Holes<BySizeClass>>);

impl BestFit {
    pub fn new() -> BestFit {
        BestFit(Indexed::new())
    }
}

impl Segregated {
    pub fn new() -> Segregated {
        Segregated(Indexed::new())
    }
}

indexed_strategy!(BestFit);
indexed_strategy!(Segregated);

#[cfg(test)]
mod tests {
    use super::*;

    fn holes(list: &[(u64, u64)]) -> Holes<ByLength> {
        let mut h = Holes::empty();
        for &(s, n) in list {
            assert!(h.add(s, n));
        }
        h
    }

    #[test]
    fn released_extents_merge_with_their_neighbours_and_taken_ones_split() {
        let mut h = holes(&[(10, 2), (20, 5)]);
        assert!(h.add(12, 8), "fills the gap between the two holes");
        assert_eq!(h.holes(), [(10, 15)]);
        assert!(h.take(14, 3));
        assert_eq!(h.holes(), [(10, 4), (17, 8)]);
        assert!(!h.add(16, 2), "overlaps a hole: the index cannot follow");
        assert!(!h.take(13, 2), "not all free");
    }

    #[test]
    fn undo_returns_to_the_last_keep() {
        let mut h = holes(&[(10, 2), (20, 5)]);
        h.keep();
        assert!(h.add(12, 8));
        assert!(h.take(11, 3));
        h.undo();
        assert_eq!(h.holes(), [(10, 2), (20, 5)]);
        assert_eq!(h.by_key.set.len(), 2);
    }

    #[test]
    fn best_fit_takes_the_shortest_hole_that_holds_the_run() {
        let h = holes(&[(0, 9), (20, 3), (30, 4), (40, 3)]);
        assert_eq!(h.pick(3), Some((20, 3)));
        assert_eq!(h.pick(4), Some((30, 4)));
        assert_eq!(h.pick(50), Some((0, 9)), "nothing holds it: the longest hole");
    }

    #[test]
    fn segregated_fit_takes_the_lowest_hole_of_the_smallest_class_that_holds_the_run() {
        let mut h: Holes<BySizeClass> = Holes::empty();
        for (s, n) in [(0, 100), (200, 5), (300, 7), (400, 6), (500, 3)] {
            assert!(h.add(s, n));
        }
        // 3 pages: class 2 (4..8) holds it whole; its lowest hole is at 200.
        assert_eq!(h.pick(3), Some((200, 5)));
        // 6 pages: class 3 (8..16) is empty; class 6 holds the 100-page hole.
        assert_eq!(h.pick(6), Some((0, 100)));
        assert_eq!(h.pick(2), Some((500, 3)), "class 1 holds the 3-page hole");
        assert_eq!(h.pick(1000), Some((0, 100)));
    }
}
