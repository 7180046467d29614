//! Space management: which sectors are free (the persisted free map), which
//! are pending (freed, but perhaps still read), and allocation.

mod bits;
mod map;
mod pending;
mod runs;

pub(crate) use bits::count_free;
pub(crate) use map::{SpaceMap, bits_in_use, read_map_node};
pub(crate) use pending::{
    PageWrite, PendingGroup, encode_chain, load_chain, page_records, pages_for, read_chain, summary_is_sane,
};
