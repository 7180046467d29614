//! # mappedpages
//!
//! A transactional, copy-on-write page store in one memory-mapped file.
//!
//! A [`Store`] hands out fixed-size pages under stable logical ids ([`PageId`]).
//! Every change happens in a [`WriteTxn`] and becomes visible, atomically and
//! durably, when it commits: nothing committed is ever overwritten. Changed pages
//! go to free space (shadow pages), the page table is rewritten copy-on-write, and
//! the commit writes a new root record naming the new [`Version`]. Recovery after
//! a crash takes the newest root whose checksums hold.
//!
//! From that come the other promises:
//!
//! - **MVCC readers.** A [`ReadTxn`] pins one version and reads its pages as
//!   `&[u8]` straight from the mapping, on any thread, while the writer goes on.
//! - **Durability levels.** [`Durability::Immediate`] commits with a single
//!   fdatasync; [`Durability::Eventual`] defers syncs and may lose the newest
//!   commits in a power cut, but never leaves a partial one.
//! - **Verifiable.** Every structure and page is checksummed (blake3);
//!   [`Store::verify`] names each damaged page by logical id.
//! - **Bounded space.** Freed pages return to a persisted free map as soon as no
//!   reader (and no fallback root) needs them; opening never scans the data.
//!
//! ```
//! use mappedpages::{Store, PageId};
//! # fn main() -> Result<(), mappedpages::Error> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("store.db");
//! let store = Store::<4096>::create(&path)?;
//!
//! let mut w = store.begin_write()?;
//! let ids = w.alloc_bulk(3)?;
//! w.page_mut(ids[1])?.fill(7);
//! w.commit()?;
//!
//! let reader = store.begin_read()?;              // pins this version
//! let mut w = store.begin_write()?;
//! w.page_mut(ids[1])?.fill(9);
//! w.free(ids[2])?;
//! w.commit()?;
//!
//! assert_eq!(reader.page(ids[1])?[0], 7);         // the old version, unchanged
//! assert_eq!(store.begin_read()?.page(ids[1])?[0], 9);
//! assert!(store.verify()?.is_clean());
//! # Ok(()) }
//! ```
//!
//! The on-disk format is specified byte for byte in `SPEC.md`.
//!
//! # Features
//!
//! - `async`: `AsyncStore`, whole transactions on tokio's blocking pool.
//! - `serde`: `Serialize` and `Deserialize` for the report types (`Stats`,
//!   `VerifyReport`, `SnapshotInfo`, `SpaceMap`, …), the `--json` of the
//!   `mappedpages` tool.
//! - `testing`: test tooling, off by default and **outside the stable API**: the
//!   crash-simulating storage (`storage::CrashStorage` and its companions) and the
//!   crash-model harness `testing` shared by the tests and the fuzz targets.
//!
//! # Stability
//!
//! [`format`](mod@format) (the byte layouts) and the `testing` feature's items are internal:
//! public for tools and tests, not covered by semantic versioning. Option and
//! report structs and public enums are `#[non_exhaustive]`: build options from
//! [`Options::default`] with its setters, and match enums with a `_` arm.
//!
//! # Platforms
//!
//! Linux first (tested); other Unix systems build without the Linux-only calls
//! (untested); Windows is not supported. MSRV: Rust 1.89.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

mod backup;
mod clock;
mod error;
mod geometry;
mod ids;
mod options;
mod progress;
mod readonly;
mod recovery;
mod shared;
mod space;
mod store;
mod subpage;
mod table;
mod txn;
mod verify;
mod versions;
mod walk;

pub mod compat;
/// **Internal and unstable**: the byte layouts of the file, public for tools
/// that inspect files (the command-line tool reads [`format::Header`]). They
/// follow SPEC.md, not semantic versioning: a minor release may change them.
/// Applications use [`Store`] and its transactions.
pub mod format;
// The mapping is the one reason for `unsafe`, and it lives here alone.
#[allow(unsafe_code)]
pub mod storage;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;
pub mod upgrade;

pub use backup::{
    ApplyReport, BackupError, BackupOptions, BackupReport, Differs, STREAM_VERSION, StreamInfo, verify_backup,
};
pub use error::{Error, Invalid, KeptVersions, Limit, LockHolder, Result, Structure};
pub use ids::{ContentHash, PageId, Version};
pub use progress::{NoProgress, Progress};
pub use store::{Durability, Options, RejectedRoot, Stats, Store};
pub use store::{RootSlot, SpaceExtent, SpaceKind, SpaceLayout, page_size_of};
pub use table::LiveIds;
pub use txn::{OwnedReadTxn, ReadTxn, ReaderInfo, WriteTxn};
pub use verify::{Damage, VerifyReport};
pub use versions::{At, ExportReport, HistoryEntry, HistoryWindow, SnapshotInfo};

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use compat::AsyncStore;
pub use compat::{
    BulkPageAllocator, MappedPage, MappedPageError, PageAllocator, PageHandle, Pager, ProtectedPageId,
    SubPageAllocator, SubPageId,
};
pub use readonly::{ReadOnlyPager, ReadOnlyStore};
pub use space::{Allocation, AllocationStrategy, CommitShape, FreeSpace, Placement, Request, SpaceMap};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
