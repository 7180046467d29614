//! The names of mappedpages 0.2, and where each one lives now.
//!
//! 0.2 was an in-place page allocator: one commit per `alloc` or `free`, pages
//! written in place, "protected" pages as A/B copies. This crate is a
//! transactional copy-on-write store: every change happens in a [`WriteTxn`](crate::WriteTxn)
//! and becomes visible and durable, all at once, at its commit. Every 0.2 item
//! has an answer here, kept as is, kept with a new meaning, or replaced:
//!
//! | 0.2 | now |
//! |---|---|
//! | `Pager<PAGE_SIZE>`, `create(path)`, `open(path)` | [`Pager`] = [`Store`]: same const generic, same `create` (fails if a non-empty file exists; takes an empty one), [`Store::open_or_create`] and `open` (checks the page size), plus [`Store::open_with`] |
//! | page-size rules at compile time | kept: a power of two, at least 1024, else a compile error |
//! | `PageId<PAGE_SIZE>` with `get(&pager)` / `get_mut(&mut pager)` | [`PageId`], a logical id stable for the page's life (defragmentation keeps it); read through a [`ReadTxn`](crate::ReadTxn) or [`WriteTxn`](crate::WriteTxn), written through the `WriteTxn`; `get` / `get_mut` through [`PageHandle`] |
//! | `MappedPage` (`as_bytes`, `as_bytes_mut`, `len`, `is_empty`) | [`MappedPage`] = `[u8]`, with `as_bytes` / `as_bytes_mut` from [`MappedPageExt`] |
//! | `alloc` / `free`, one commit each | [`WriteTxn::alloc`](crate::WriteTxn::alloc) / [`WriteTxn::free`](crate::WriteTxn::free); one commit per transaction |
//! | `alloc_bulk(n)` / `free_bulk(ids)`, all-or-nothing free | [`WriteTxn::alloc_bulk`](crate::WriteTxn::alloc_bulk) / [`WriteTxn::free_bulk`](crate::WriteTxn::free_bulk), free checks every id first |
//! | `ProtectedPageId`, `alloc_protected`, `ProtectedPageWriter::{page_mut, commit}` | every page is protected now: [`ProtectedPageId`] = [`PageId`]; `alloc_protected` is [`WriteTxn::alloc`](crate::WriteTxn::alloc); the writer's `page_mut` + `commit` are [`WriteTxn::page_mut`](crate::WriteTxn::page_mut) + [`WriteTxn::commit`](crate::WriteTxn::commit), and dropping the transaction discards, as dropping the writer did |
//! | `alloc_protected_bulk` / `free_protected_bulk` | the bulk calls above |
//! | `iter_allocated_pages()` / `iter_allocated_protected_pages()` | [`ReadTxn::ids`](crate::ReadTxn::ids), also under both 0.2 names on [`ReadTxn`](crate::ReadTxn): live ids of one version, in id order |
//! | `page_size()`, `page_count()`, `free_page_count()` | kept on [`Store`] and [`ReadOnlyStore`](crate::ReadOnlyStore), plus [`Store::stats`] |
//! | `PageHandle<A>`, `PageAllocator<H>`, `BulkPageAllocator<H>` | kept: implemented by [`WriteTxn`](crate::WriteTxn) for [`PageId`] and by [`SubPageTxn`] for [`SubPageId`]; new [`PageHandleMut`] for generic code that writes bytes |
//! | `SubPageAllocator<PARENT, SUB>` / `SubPageId`, state in memory only | [`SubPageAllocator`], state persisted in directory pages and committed with the transaction |
//! | feature `async`: `alloc_async`, `free_async`, blocking the runtime | `AsyncStore` (feature `async`): whole transactions on tokio's blocking pool |
//! | `MappedPageError` | [`MappedPageError`] = [`Error`], one variant per cause |
//! | file grows on demand, survives a failed remap | kept: growth never moves the mapping, readers' slices stay valid |
//! | planned `ReadOnlyPager::open` | [`ReadOnlyPager`](crate::ReadOnlyPager) = [`ReadOnlyStore`](crate::ReadOnlyStore) |
//! | planned `Arc<Pager>` sharing | [`Store`] is `Send + Sync`: share it with `Arc`; readers on any thread never wait for the writer |
//!
//! ```
//! use mappedpages::compat::{MappedPageExt, PageAllocator, PageHandle, Pager, ProtectedPageId};
//! # fn main() -> Result<(), mappedpages::MappedPageError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let pager = Pager::<4096>::create(dir.path().join("data.bin"))?;
//! let mut w = pager.begin_write()?;
//! let id: ProtectedPageId = w.alloc()?;        // every page is protected
//! id.get_mut(&mut w)?.as_bytes_mut()[..2].copy_from_slice(b"hi");
//! w.commit()?;                                  // was ProtectedPageWriter::commit
//! assert_eq!(pager.page_count(), 1);
//! assert_eq!(&pager.begin_read()?.page(id)?[..2], b"hi");
//! # Ok(()) }
//! ```

#[cfg(feature = "async")]
mod async_store;
mod page;
mod store_ext;
mod traits;

pub use crate::subpage::{SubPageAllocator, SubPageId, SubPageStats, SubPageTxn};
#[cfg(feature = "async")]
pub use async_store::AsyncStore;
pub use page::{MappedPage, MappedPageExt, PageSource};
pub use traits::{BulkPageAllocator, PageAllocator, PageHandle, PageHandleMut};

use crate::error::Error;
use crate::ids::PageId;
use crate::store::Store;

/// 0.2's pager: the store. Same const generic, same `create` / `open`.
///
/// What changed: pages are allocated, freed and written in a [`WriteTxn`](crate::WriteTxn) from
/// [`Store::begin_write`], read in a [`ReadTxn`](crate::ReadTxn) from [`Store::begin_read`],
/// and nothing is visible until the transaction commits.
pub type Pager<const PAGE_SIZE: usize> = Store<PAGE_SIZE>;

/// 0.2's error type: now [`Error`].
///
/// | 0.2 variant | now |
/// |---|---|
/// | `InvalidPageSize` | a compile error for a bad `PAGE_SIZE`; [`Error::PageSizeMismatch`] for a file of another size |
/// | `CorruptSuperblock` | [`Error::UnsupportedFormat`], or [`Error::Corrupt`] naming the header |
/// | `CorruptMetadata` | [`Error::NoValidRoot`], or [`Error::Corrupt`] naming the structure and offset |
/// | `OutOfBounds` | [`Error::OutOfRange`] (and [`Error::NotAllocated`] for a freed id) |
/// | `DoubleFree` | [`Error::DoubleFree`] |
/// | `Unavailable` | [`Error::Locked`] (another handle holds the file), [`Error::WriteInProgress`], [`Error::NeedsReopen`] |
/// | I/O | [`Error::Io`], which keeps its source and says what the store was doing |
pub type MappedPageError = Error;

/// 0.2's copy-on-write page id. Every page is protected now: a write goes to a
/// shadow copy and is committed with its transaction, so a protected page id
/// is simply a [`PageId`].
///
/// 0.2's `ProtectedPageWriter` has no separate type any more: its `page_mut`
/// is [`WriteTxn::page_mut`](crate::WriteTxn::page_mut), its `commit` is [`WriteTxn::commit`](crate::WriteTxn::commit) (which
/// commits every page of the transaction at once), and dropping the
/// transaction discards the writes, as dropping the writer did.
pub type ProtectedPageId = PageId;
