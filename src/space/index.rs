//! The in-memory index a built-in strategy keeps of the free map: built
//! lazily from the map (at a commit's first placement, never at open), kept
//! up to date from the strategy's hooks, and undone with a failed commit.
//!
//! The index is a hint, never the truth: every extent a strategy picks from
//! it is checked against the map before it is returned, and an index found
//! wrong (a hook it could not follow, a pick the map refuses) is dropped and
//! built again from the map.

use std::collections::BTreeSet;

use super::SpaceMap;
use crate::error::Result;
use crate::format::Extent;

/// A set that can undo its changes back to the last [`keep`](Self::keep).
#[derive(Debug, Default)]
pub(super) struct UndoSet<K> {
    pub set: BTreeSet<K>,
    /// Changes since the last keep: the key and whether it was inserted.
    journal: Vec<(K, bool)>,
}

impl<K: Ord + Copy> UndoSet<K> {
    pub fn insert(&mut self, k: K) {
        if self.set.insert(k) {
            self.journal.push((k, true));
        }
    }

    pub fn remove(&mut self, k: K) -> bool {
        let removed = self.set.remove(&k);
        if removed {
            self.journal.push((k, false));
        }
        removed
    }

    pub fn keep(&mut self) {
        self.journal.clear();
    }

    pub fn undo(&mut self) {
        while let Some((k, inserted)) = self.journal.pop() {
            if inserted {
                self.set.remove(&k);
            } else {
                self.set.insert(k);
            }
        }
    }
}

/// Free space as a strategy indexes it, in pages (page number = sector /
/// sectors per page). `add` and `take` return false when the index cannot
/// follow (it disagrees with what it is told): it is then rebuilt.
pub(super) trait FreeIndex: Sized + Send {
    /// An empty index.
    fn empty() -> Self;
    /// `pages` free pages from page `start` on, not in the index yet.
    fn add(&mut self, start: u64, pages: u64) -> bool;
    /// `pages` pages from `start` on, all in the index, are no longer free.
    fn take(&mut self, start: u64, pages: u64) -> bool;
    /// Where up to `pages` pages go: (first page, pages), or `None` when
    /// nothing is free.
    fn pick(&self, pages: u64) -> Option<(u64, u64)>;
    fn keep(&mut self);
    fn undo(&mut self);
}

/// A strategy over a [`FreeIndex`]: the plumbing every indexed built-in
/// shares (lazy build, the hooks, checked picks, roll-back).
pub(super) struct Indexed<I> {
    index: Option<I>,
    /// The index was built during the commit in progress, from a map that
    /// holds the commit's changes: a roll-back drops it instead of undoing.
    built_now: bool,
    spp: u64,
}

impl<I: FreeIndex> Indexed<I> {
    pub fn new() -> Indexed<I> {
        Indexed { index: None, built_now: false, spp: 0 }
    }

    /// The index, built from `map` if there is none.
    fn index(&mut self, map: &SpaceMap<'_>) -> Result<&mut I> {
        if self.index.is_none() {
            let spp = map.page_sectors();
            let mut index = I::empty();
            let mut ok = true;
            let all = map.file_sectors() / spp;
            map.scan_holes(map.first_data_sector(), 1, all, |start, pages| {
                ok &= index.add(start / spp, pages);
                true
            })?;
            debug_assert!(ok, "the map reported overlapping holes");
            self.spp = spp;
            self.built_now = true;
            self.index = Some(index);
        }
        Ok(self.index.as_mut().expect("built above"))
    }

    /// Builds the index if there is none (at a commit's start).
    pub fn begin(&mut self, map: &SpaceMap<'_>) -> Result<()> {
        self.index(map).map(|_| ())
    }

    /// Where the next run of up to `pages` pages goes, checked against the
    /// map; `None` when nothing is free (the file grows).
    pub fn place(&mut self, map: &SpaceMap<'_>, pages: u64) -> Result<Option<Extent>> {
        for _ in 0..2 {
            let spp = map.page_sectors();
            let Some((start, len)) = self.index(map)?.pick(pages) else { return Ok(None) };
            let extent = Extent::new(start * spp, len.min(pages) * spp);
            if len > 0 && map.is_free(extent)? {
                return Ok(Some(extent));
            }
            // The index was wrong: build it again from the map.
            self.index = None;
        }
        Ok(None)
    }

    /// Applies `change` (add or take) to the index, in pages; drops the
    /// index when the extent is not whole pages or the index cannot follow.
    fn follow(&mut self, extent: Extent, change: fn(&mut I, u64, u64) -> bool) {
        let spp = self.spp;
        let Some(index) = self.index.as_mut() else { return };
        let whole = spp > 0 && extent.start.is_multiple_of(spp) && extent.sectors.is_multiple_of(spp);
        if !whole || !change(index, extent.start / spp, extent.sectors / spp) {
            self.index = None;
        }
    }

    pub fn placed(&mut self, extent: Extent) {
        self.follow(extent, I::take);
    }

    pub fn released(&mut self, extent: Extent) {
        self.follow(extent, I::add);
    }

    pub fn committed(&mut self) {
        if let Some(index) = self.index.as_mut() {
            index.keep();
        }
        self.built_now = false;
    }

    pub fn rolled_back(&mut self) {
        if self.built_now {
            self.index = None;
        } else if let Some(index) = self.index.as_mut() {
            index.undo();
        }
        self.built_now = false;
    }

    /// The index as it is (tests compare it with one built afresh).
    #[cfg(test)]
    pub fn current(&self) -> Option<&I> {
        self.index.as_ref()
    }
}

/// Implements [`AllocationStrategy`](super::AllocationStrategy) for a strategy
/// that is an [`Indexed`] in field `0`.
macro_rules! indexed_strategy {
    ($name:ty) => {
        impl $crate::space::AllocationStrategy for $name {
            fn begin(
                &mut self,
                map: &mut $crate::space::SpaceMap<'_>,
                _: $crate::space::CommitShape,
            ) -> $crate::error::Result<()> {
                self.0.begin(map)
            }
            fn place(
                &mut self,
                map: &mut $crate::space::SpaceMap<'_>,
                request: $crate::space::Request,
            ) -> $crate::error::Result<$crate::space::Placement> {
                Ok(self
                    .0
                    .place(map, request.pages)?
                    .map_or($crate::space::Placement::Grow, $crate::space::Placement::Extent))
            }
            fn placed(&mut self, extent: $crate::format::Extent) {
                self.0.placed(extent)
            }
            fn released(&mut self, extent: $crate::format::Extent) {
                self.0.released(extent)
            }
            fn grown(&mut self, extent: $crate::format::Extent) {
                self.0.released(extent)
            }
            fn committed(&mut self) {
                self.0.committed()
            }
            fn rolled_back(&mut self) {
                self.0.rolled_back()
            }
        }
    };
}
pub(super) use indexed_strategy;
