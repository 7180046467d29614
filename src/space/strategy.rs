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
}
