//! Space management: which sectors are free (the persisted free map), which
//! are pending (freed, but perhaps still read), and where new pages go (an
//! allocation strategy, applied through one allocator handle).

mod alloc;
mod batch;
mod bits;
mod map;
mod next_fit;
mod pending;
mod runs;
mod strategy;

pub(crate) use alloc::Allocator;
pub(crate) use batch::{Batch, PageWrite};
pub(crate) use bits::count_free;
pub(crate) use map::{SpaceMap, bits_in_use, read_map_node};
pub(crate) use next_fit::NextFit;
pub(crate) use pending::{
    PendingGroup, encode_chain, load_chain, page_records, pages_for, read_chain, summary_is_sane,
};
pub(crate) use strategy::{AllocationStrategy, CommitShape};
