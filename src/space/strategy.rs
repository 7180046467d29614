//! Allocation policy: an [`AllocationStrategy`] decides where a commit's pages
//! go; the free map ([`SpaceMap`]) is the one source of truth and applies the
//! decision through the allocator handle, which checks it first. Nothing a
//! strategy keeps is part of the file format.
//!
//! The hooks are enough for first fit, best fit, segregated size classes or a
//! buddy allocator (all built in, see [`Allocation`](super::Allocation)): a
//! strategy sees each commit's shape before placement, is asked for one run
//! at a time, hears of every extent the commit releases or the file grows by,
//! and is told at the end whether the commit went through ([`committed`]) or
//! not ([`rolled_back`]), so that an index it keeps in memory can be updated
//! incrementally and undone.
//!
//! [`committed`]: AllocationStrategy::committed
//! [`rolled_back`]: AllocationStrategy::rolled_back

use super::SpaceMap;
use crate::error::Result;
use crate::format::Extent;
use crate::ids::PageId;

/// What a commit is about to place, known before its first page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitShape {
    /// Shadow (data) pages.
    pub data_pages: u64,
    /// An upper bound on the table, free-map, list and catalog pages.
    pub meta_pages: u64,
}

/// One question to a strategy: where the next run of pages goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// Most pages the run may hold (at least 1). A shorter answer is allowed:
    /// the commit asks again for the rest.
    pub pages: u64,
    /// For shadow pages, the id of the first page the run will hold (the run
    /// holds the commit's next pages in id order, which need not be
    /// consecutive ids). `None` for metadata: table, free-map, list and
    /// catalog pages.
    pub first_id: Option<PageId>,
}

impl Request {
    /// A request for up to `pages` pages of metadata.
    pub(crate) fn metadata(pages: u64) -> Request {
        Request { pages, first_id: None }
    }

    /// A request for up to `pages` shadow pages, the first of them `first_id`'s.
    pub(crate) fn data(first_id: u64, pages: u64) -> Request {
        Request { pages, first_id: Some(PageId::from_raw(first_id)) }
    }
}

/// A strategy's answer to "where do the next pages go".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// Exactly this extent (in 512-byte sectors): whole pages at a page
    /// boundary, all free, 1 to [`Request::pages`] of them. It may cross
    /// free-map leaves.
    Extent(Extent),
    /// A run of free pages from this sector (a page boundary) on, as long as
    /// it stays free within one free-map leaf and the request asks.
    From(u64),
    /// Nothing fits: grow the file (by [`growth`](AllocationStrategy::growth))
    /// and take the run at its old end.
    Grow,
}

/// Decides where a commit's pages go; the free map applies the decision.
///
/// A store owns one strategy, made when it is opened
/// ([`Options::allocation`](crate::Options::allocation)), and uses it from
/// one write transaction at a time. Per commit the calls are, in this order:
/// [`released`](Self::released) for the extents retention frees, then
/// [`begin`](Self::begin), then for each run of shadow pages
/// [`place`](Self::place) and [`placed`](Self::placed) (and
/// [`grown`](Self::grown) when the answer was [`Placement::Grow`]), then
/// [`metadata`](Self::metadata), then more `place`/`placed` pairs for the
/// table, free-map and list pages, and finally [`committed`](Self::committed)
/// or [`rolled_back`](Self::rolled_back). (What a commit replaces is not
/// released at once: it waits in the pending list until no reader, snapshot
/// or fallback root needs it, and a later commit releases it.) A commit that fails before it starts
/// placing (a bad snapshot name, say) may call only `rolled_back`.
///
/// What a strategy may assume: the [`SpaceMap`] it is handed is the free map
/// of the commit in progress (the committed map plus this commit's changes)
/// and is the truth; between commits nothing changes the map but commits.
/// Addresses are 512-byte sectors, counts are pages unless a name says
/// sectors.
///
/// What is checked: every [`Placement`] before it is applied. An extent that
/// is not whole pages, asks for more pages than requested, lies outside the
/// data area or the file, or is not free in the map (which covers an extent
/// handed out twice in one commit) fails the commit with
/// [`Error::BadPlacement`](crate::Error::BadPlacement); nothing is written,
/// and the store stays as it was. A strategy can make commits fail or the
/// file grow needlessly; it cannot damage the store.
///
/// # Example
///
/// The lowest free page, or grow: the one method a strategy must write.
///
/// ```
/// use mappedpages::{Allocation, AllocationStrategy, Options, Placement, Request, Result, SpaceMap, Store};
/// use mappedpages::storage::MemoryStorage;
///
/// /// Keeps nothing between calls, so the other hooks' defaults do.
/// struct Lowest;
///
/// impl AllocationStrategy for Lowest {
///     fn place(&mut self, map: &mut SpaceMap<'_>, _: Request) -> Result<Placement> {
///         Ok(map.find_free(map.first_data_sector())?.map_or(Placement::Grow, Placement::From))
///     }
/// }
///
/// let options = Options::default().allocation(Allocation::custom(|| Box::new(Lowest)));
/// let store = Store::<4096>::create_on(MemoryStorage::new()?, options)?;
/// let mut w = store.begin_write()?;
/// let id = w.alloc()?;
/// w.page_mut(id)?.fill(7);
/// w.commit()?;
/// assert!(store.begin_read()?.page(id)?.iter().all(|&b| b == 7));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait AllocationStrategy: Send {
    /// A commit starts placing: what it holds. Called once per commit, after
    /// the commit's releases and before its first allocation. The default
    /// does nothing.
    fn begin(&mut self, map: &mut SpaceMap<'_>, shape: CommitShape) -> Result<()> {
        let _ = (map, shape);
        Ok(())
    }

    /// The data pages are placed; the metadata follows. `likely` pages is the
    /// size the commit most likely needs, `most` the bound of [`CommitShape`].
    /// The default does nothing.
    fn metadata(&mut self, map: &mut SpaceMap<'_>, likely: u64, most: u64) -> Result<()> {
        let _ = (map, likely, most);
        Ok(())
    }

    /// Where the next run of 1 to `request.pages` pages goes.
    fn place(&mut self, map: &mut SpaceMap<'_>, request: Request) -> Result<Placement>;

    /// The run the last [`place`](Self::place) led to (after the map applied
    /// it). The default does nothing.
    fn placed(&mut self, extent: Extent) {
        let _ = extent;
    }

    /// The commit returns `extent` to the free map. The default does nothing.
    fn released(&mut self, extent: Extent) {
        let _ = extent;
    }

    /// The file grew: `extent` (its new end) is free. Called before the
    /// [`placed`](Self::placed) of the run taken from it. The default does
    /// nothing.
    fn grown(&mut self, extent: Extent) {
        let _ = extent;
    }

    /// The commit went through: keep what was learned. The default does
    /// nothing (right for a strategy that keeps nothing between calls).
    fn committed(&mut self) {}

    /// The commit failed or was abandoned: forget everything since the last
    /// [`committed`](Self::committed), or since the strategy was made. The
    /// default does nothing: a strategy that keeps state must override it.
    fn rolled_back(&mut self) {}

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

    /// The lowest free page, or grow: the one method a strategy must write. It counts the
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
        fn place(&mut self, map: &mut SpaceMap<'_>, _: Request) -> Result<Placement> {
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
