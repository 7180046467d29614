//! Allocation policy: an [`AllocationStrategy`] decides where a commit's pages
//! go; the free map ([`SpaceMap`]) is the one source of truth and applies the
//! decision through the [`Allocator`](super::Allocator) handle, which checks it
//! first. Nothing a strategy keeps is part of the file format.
//!
//! The hooks are enough for first fit, best fit, segregated size classes or a
//! buddy allocator: a strategy sees each commit's shape before placement, is
//! asked for one extent at a time, hears of every extent the commit releases,
//! and is told at the end whether the commit went through ([`committed`]) or
//! not ([`rolled_back`]), so that an index it keeps in memory can be updated
//! incrementally and undone.
//!
//! [`committed`]: AllocationStrategy::committed
//! [`rolled_back`]: AllocationStrategy::rolled_back

use super::SpaceMap;
use crate::error::Result;
use crate::format::Extent;

/// What a commit is about to place, known before its first page is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CommitShape {
    /// Shadow (data) pages.
    pub data_pages: u64,
    /// An upper bound on the table, free-map, list and catalog pages.
    pub meta_pages: u64,
}

/// A strategy's answer to "where do the next pages go".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Exactly this extent: whole pages, all free, at most the pages asked for.
    Extent(Extent),
    /// A run of free pages from this page on, as long as the free map allows
    /// (within one leaf) and the request asks.
    From(u64),
    /// Nothing fits: grow the file and take its new end.
    Grow,
}

/// Decides where pages go; the free map applies (see the module docs).
pub(crate) trait AllocationStrategy: Send {
    /// A commit starts placing: what it holds. Called once per commit, after
    /// the commit's releases and before its first allocation.
    fn begin(&mut self, map: &mut SpaceMap<'_>, shape: CommitShape) -> Result<()>;

    /// The data pages are placed; the metadata follows. `likely` pages is the
    /// size the commit most likely needs, `most` the bound of [`CommitShape`].
    fn metadata(&mut self, map: &mut SpaceMap<'_>, likely: u64, most: u64) -> Result<()>;

    /// Where the next run of 1 to `max_pages` pages goes.
    fn place(&mut self, map: &mut SpaceMap<'_>, max_pages: u64) -> Result<Placement>;

    /// The run the last [`place`](Self::place) led to (after the map applied it).
    fn placed(&mut self, extent: Extent);

    /// The commit returns `extent` to the free map.
    fn released(&mut self, extent: Extent);

    /// The commit went through: keep what was learned.
    fn committed(&mut self);

    /// The commit failed or was abandoned: forget everything since the last
    /// [`committed`](Self::committed), or since the strategy was made.
    fn rolled_back(&mut self);

    /// How many sectors to grow a file of `file_sectors` by when `needed`
    /// more are wanted (at least `needed`). The default grows by a quarter of
    /// the file, and by at least 64 KiB, so that growth is rare in a large
    /// store and a small store stays small.
    fn growth(&self, file_sectors: u64, needed: u64) -> u64 {
        default_growth(file_sectors, needed)
    }
}

/// Smallest growth step, in bytes (16 pages of 4 KiB; the free map rounds a
/// step up to whole pages).
const MIN_GROW: u64 = 64 << 10;

/// [`AllocationStrategy::growth`]'s default: a quarter of the file, at least
/// 64 KiB, at least `needed`.
pub(crate) fn default_growth(file_sectors: u64, needed: u64) -> u64 {
    needed.max(file_sectors / 4).max(MIN_GROW / crate::format::SECTOR)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::ids::PageId;
    use crate::shared::lock;
    use crate::storage::MemoryStorage;
    use crate::store::{Options, Store};
    use crate::versions::VersionOp;

    /// First fit in a few lines: the lowest free page, or grow. It counts the
    /// hooks it hears, so the tests can see the commit's protocol.
    #[derive(Default)]
    struct FirstFit {
        calls: Arc<Mutex<Vec<&'static str>>>,
    }

    impl AllocationStrategy for FirstFit {
        fn begin(&mut self, _: &mut SpaceMap<'_>, _: CommitShape) -> Result<()> {
            self.calls.lock().unwrap().push("begin");
            Ok(())
        }
        fn metadata(&mut self, _: &mut SpaceMap<'_>, _: u64, _: u64) -> Result<()> {
            Ok(())
        }
        fn place(&mut self, map: &mut SpaceMap<'_>, _: u64) -> Result<Placement> {
            Ok(map.find_free(map.geo().first_data_sector)?.map_or(Placement::Grow, Placement::From))
        }
        fn placed(&mut self, _: Extent) {}
        fn released(&mut self, _: Extent) {}
        fn committed(&mut self) {
            self.calls.lock().unwrap().push("committed");
        }
        fn rolled_back(&mut self) {
            self.calls.lock().unwrap().push("rolled back");
        }
    }

    fn store_with(strategy: FirstFit) -> Store<4096> {
        let store = Store::<4096>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
        lock(&store.shared.writer).state.as_mut().unwrap().placement = Some(Box::new(strategy));
        store
    }

    fn location(store: &Store<4096>, id: PageId) -> u64 {
        let r = store.begin_read().unwrap();
        let (reader, geo, root) = (r.reader(), &store.shared.geo, &*r.root);
        crate::table::TableView { reader, geo, root }.entry(id.get()).unwrap().location
    }

    #[test]
    fn first_fit_written_against_the_trait_runs_a_store() {
        let store = store_with(FirstFit::default());
        let mut w = store.begin_write().unwrap();
        let ids = w.alloc_bulk(64).unwrap();
        for (k, &id) in ids.iter().enumerate() {
            w.page_mut(id).unwrap().fill(k as u8 + 1);
        }
        w.commit().unwrap();
        // Free a low page; once nothing holds it any more, first fit fills
        // the holes below the pages in use before it grows or appends.
        let low = ids.iter().copied().min_by_key(|&id| location(&store, id)).unwrap();
        let highest = ids.iter().map(|&id| location(&store, id)).max().unwrap();
        let file_len = store.stats().physical_pages;
        let mut w = store.begin_write().unwrap();
        w.free(low).unwrap();
        w.commit().unwrap();
        for _ in 0..3 {
            let mut w = store.begin_write().unwrap();
            w.page_mut(ids[1]).unwrap().fill(0xAA);
            w.commit().unwrap();
        }
        let mut w = store.begin_write().unwrap();
        let fresh = w.alloc().unwrap();
        w.page_mut(fresh).unwrap().fill(0x55);
        w.commit().unwrap();
        let r = store.begin_read().unwrap();
        for (k, &id) in ids.iter().enumerate().filter(|&(_, &id)| id != low) {
            let want = if id == ids[1] { 0xAA } else { k as u8 + 1 };
            assert!(r.page(id).unwrap().iter().all(|&b| b == want), "{id}");
        }
        assert!(r.page(fresh).unwrap().iter().all(|&b| b == 0x55));
        assert!(location(&store, fresh) < highest, "first fit appended instead of filling a hole");
        assert_eq!(store.stats().physical_pages, file_len, "first fit grew the file with free pages left");
        assert!(store.verify().unwrap().is_clean());
    }

    #[test]
    fn a_failed_commit_rolls_the_strategy_back_and_a_good_one_commits_it() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let store = store_with(FirstFit { calls: Arc::clone(&calls) });
        let mut w = store.begin_write().unwrap();
        let id = w.alloc().unwrap();
        w.page_mut(id).unwrap().fill(1);
        w.commit().unwrap();
        let mut w = store.begin_write().unwrap();
        w.page_mut(id).unwrap().fill(2);
        w.ops.push(VersionOp::DeleteSnapshot("missing".into()));
        assert!(w.commit().is_err());
        assert_eq!(*calls.lock().unwrap(), ["begin", "committed", "rolled back"]);
    }
}
