//! Which strategy a store places its pages with: chosen per store when it
//! is opened ([`Options::allocation`](crate::Options::allocation)), never
//! recorded in the file.

use std::fmt;
use std::sync::Arc;

use super::buddy::Buddy;
use super::first_fit::FirstFit;
use super::fit::{BestFit, Segregated};
use super::{AllocationStrategy, NextFit};
use crate::geometry::Geometry;

/// Makes a custom strategy (see [`Allocation::custom`]).
type MakeStrategy = dyn Fn() -> Box<dyn AllocationStrategy> + Send + Sync;

/// The allocation strategy of a store: a built-in one, or your own.
///
/// Every strategy places pages only where the free map says they are free
/// (the map checks each answer), so the choice changes where pages go, how
/// the file grows and how free space fragments, never what a store reads
/// back. A file written under one strategy opens under any other. See the
/// README's "Allocation strategies" for which suits which workload.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Allocation {
    /// The default: small commits place their pages next to the last ones
    /// (next fit from a cursor, single pages in small holes), large commits
    /// in one hole with their metadata, so that a commit reaches the disk as
    /// a few sequential writes.
    #[default]
    NextFit,
    /// The lowest hole that holds the run, else the lowest free page.
    FirstFit,
    /// The shortest hole that holds the run (an index of holes by length).
    BestFit,
    /// Segregated free lists: the lowest hole of the smallest power-of-two
    /// size class whose holes all hold the run.
    Segregated,
    /// A buddy system: runs at blocks of 2^k pages aligned to their size,
    /// freed buddies merged.
    Buddy,
    /// A strategy of your own, made by this function when the store opens.
    Custom(Arc<MakeStrategy>),
}

impl Allocation {
    /// The built-in strategies, default first.
    pub const BUILT_IN: [Allocation; 5] =
        [Allocation::NextFit, Allocation::FirstFit, Allocation::BestFit, Allocation::Segregated, Allocation::Buddy];

    /// A strategy of your own: `make` is called once each time a store opens
    /// for writing (a strategy starts knowing nothing of the free map).
    pub fn custom(make: impl Fn() -> Box<dyn AllocationStrategy> + Send + Sync + 'static) -> Allocation {
        Allocation::Custom(Arc::new(make))
    }

    /// A short name: `next-fit`, `first-fit`, `best-fit`, `segregated`,
    /// `buddy` or `custom`.
    pub fn name(&self) -> &'static str {
        match self {
            Allocation::NextFit => "next-fit",
            Allocation::FirstFit => "first-fit",
            Allocation::BestFit => "best-fit",
            Allocation::Segregated => "segregated",
            Allocation::Buddy => "buddy",
            Allocation::Custom(_) => "custom",
        }
    }

    /// The built-in strategy called `name` (as [`name`](Self::name) spells it).
    pub fn by_name(name: &str) -> Option<Allocation> {
        Allocation::BUILT_IN.into_iter().find(|a| a.name() == name)
    }

    /// A new strategy for a store of geometry `geo`.
    pub(crate) fn make(&self, geo: &Geometry) -> Box<dyn AllocationStrategy> {
        match self {
            Allocation::NextFit => Box::new(NextFit::new(geo.first_data_sector)),
            Allocation::FirstFit => Box::new(FirstFit::new()),
            Allocation::BestFit => Box::new(BestFit::new()),
            Allocation::Segregated => Box::new(Segregated::new()),
            Allocation::Buddy => Box::new(Buddy::new()),
            Allocation::Custom(make) => make(),
        }
    }
}

impl fmt::Debug for Allocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
