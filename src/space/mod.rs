//! Space management: which sectors are free (the persisted free map), which
//! are pending (freed, but perhaps still read), and where new pages go (an
//! allocation strategy, applied through one allocator handle).

mod alloc;
mod batch;
mod bits;
mod buddy;
mod choice;
mod first_fit;
mod fit;
mod index;
#[cfg(test)]
mod index_tests;
mod map;
mod next_fit;
mod pending;
mod report;
mod runs;
mod strategy;

pub(crate) use alloc::Allocator;
pub(crate) use batch::{Batch, PageWrite};
pub(crate) use bits::count_free;
pub use choice::Allocation;
pub use map::SpaceMap;
pub(crate) use map::{bits_in_use, read_map_node};
pub(crate) use next_fit::NextFit;
pub(crate) use pending::{
    PendingGroup, encode_chain, load_chain, page_records, pages_for, read_chain, summary_is_sane,
};
pub use report::FreeSpace;
pub(crate) use report::free_space;
pub use strategy::{AllocationStrategy, CommitShape, Placement, Request};
