//! Sub-pages: parent pages split into `PARENT / SUB` slots of `SUB` bytes, with
//! the allocator's state kept in the store and committed with the transaction.
//!
//! # The directory
//!
//! The allocator's state is a chain of ordinary pages, the *directory*. The
//! first page (the allocator's root, whose [`PageId`](crate::PageId) the caller
//! keeps) is made by [`SubPageAllocator::create`]; more are linked on when it
//! fills and unlinked (and freed) when they empty. Each page holds a header and
//! one entry per parent page: its id and a 64-bit occupancy mask, one bit per
//! slot. A parent page is allocated with its first slot and freed with its last.
//! [`directory`] encodes and decodes those bytes; SPEC.md ("Appendix B: sub-page
//! directory") specifies them.
//!
//! Because the directory is made of pages, every change to it is a shadow write
//! of the [`WriteTxn`](crate::WriteTxn) that made it: it becomes durable and
//! visible with that transaction's commit, is discarded with its abort, and is
//! recovered (or not) after a crash exactly as the pages it describes are. The
//! store's format knows nothing of it: to the store, directory and parent pages
//! are pages like any other.
//!
//! # Identity
//!
//! A [`SubPageId`] names a position: a directory page, an entry in it and a
//! slot. Entries never move while their parent page is in use, so an id stays
//! valid for the sub-page's life, across commits, reopenings and defragmentation
//! (which keeps logical page ids). Once freed, the same position may be handed
//! out again, as 0.2 did with its slot indices.
//!
//! # Files
//!
//! | file | holds |
//! |---|---|
//! | `id.rs` | [`SubPageId`] and its raw form |
//! | `directory.rs` | the directory page's bytes: constants, header and entry encode/decode |
//! | `allocator.rs` | [`SubPageAllocator`]: compile-time rules, `create`, `open`, `destroy` |
//! | `chain.rs` | reading the chain: checked headers, the walk, where an id points |
//! | `alloc.rs` | `alloc`, `free` and their bulk forms |
//! | `access.rs` | the bytes of a sub-page: `get`, `get_mut`, `write`, `contains`, `parent_of` |
//! | `check.rs` | the whole directory: `ids`, `directory_pages`, `check` and [`SubPageStats`] |
//! | `txn.rs` | [`SubPageTxn`], the allocator bound to a transaction for the 0.2 traits |
//!
//! The public names are re-exported from [`crate::compat`] (and the allocator
//! and id from the crate root), where 0.2 users find them.

mod access;
mod alloc;
mod allocator;
mod chain;
mod check;
mod directory;
mod id;
mod txn;

pub use allocator::SubPageAllocator;
pub use check::SubPageStats;
pub use id::SubPageId;
pub use txn::SubPageTxn;
