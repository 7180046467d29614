//! The crate's error type: one variant per cause a caller can act on.

use std::fmt;
use std::io;

use crate::ids::PageId;

/// Which on-disk structure a [`Error::Corrupt`] or a verify finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Structure {
    /// The file header in the first sector.
    Header,
    /// One of the two root slots.
    Root,
    /// A node of the page table.
    TableNode,
    /// The stored bytes of a logical page.
    Page,
    /// A node of the free-space map.
    FreeMap,
    /// A node of the pending-free list.
    PendingList,
    /// A page of the snapshot catalog.
    Catalog,
    /// A page of a snapshot's deadlist.
    Deadlist,
    /// The file as a whole (length, layout).
    File,
}

impl fmt::Display for Structure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Structure::Header => "file header",
            Structure::Root => "root record",
            Structure::TableNode => "page-table node",
            Structure::Page => "page",
            Structure::FreeMap => "free-map node",
            Structure::PendingList => "pending-free list",
            Structure::Catalog => "snapshot catalog",
            Structure::Deadlist => "snapshot deadlist",
            Structure::File => "file",
        })
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed; `context` says what the store was doing.
    Io {
        /// What the store was doing.
        context: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another process (or another handle in this process) holds the file's lock.
    Locked,
    /// `create` was called on a path that already exists.
    AlreadyExists,
    /// The file was written with another page size than the one asked for.
    PageSizeMismatch {
        /// Page size recorded in the file.
        on_disk: u32,
        /// Page size of the `Store` type used to open it.
        expected: u32,
    },
    /// The file is not a mappedpages store, or uses a format this version cannot read.
    UnsupportedFormat(String),
    /// A structure of the file failed its checks.
    Corrupt {
        /// Which structure.
        structure: Structure,
        /// Its location in the file, in bytes.
        offset: u64,
        /// What check failed.
        detail: String,
    },
    /// Neither root slot holds a root whose checksums and pages hold.
    NoValidRoot {
        /// Why each slot was rejected.
        detail: String,
    },
    /// The id was never allocated, or has been freed.
    NotAllocated(PageId),
    /// The id is beyond every id this store has handed out.
    OutOfRange(PageId),
    /// The id was freed twice (in the same call or the same transaction).
    DoubleFree(PageId),
    /// `try_begin_write` found another write transaction open.
    WriteInProgress,
    /// This thread already holds the write transaction, so beginning another
    /// one (directly, or through a store-level call that commits) would wait
    /// for itself forever. Commit or drop the open one first, or use its
    /// methods ([`WriteTxn::create_snapshot`](crate::WriteTxn::create_snapshot), …).
    WouldDeadlock,
    /// The store was opened read-only.
    ReadOnly,
    /// A write, sync or grow failed earlier; the in-memory state can no longer be
    /// trusted to match the file. Drop the store and open it again.
    NeedsReopen,
    /// The request cannot be met within the store's limits (address space, id space).
    Full(&'static str),
    /// An argument is out of its documented range.
    InvalidArgument(&'static str),
    /// A snapshot name is empty, too long, or has control characters.
    InvalidName(String),
    /// A snapshot with this name exists already.
    SnapshotExists(String),
    /// No snapshot has this name.
    SnapshotNotFound(String),
    /// The version is not readable: older than the history window (or never
    /// committed). Widen the window with [`Store::set_history`](crate::Store::set_history)
    /// to keep more.
    VersionNotRetained(crate::ids::Version),
    /// The allocation strategy answered with space that is not whole free
    /// pages of the data area, or more than it was asked for (see
    /// [`AllocationStrategy`](crate::AllocationStrategy)). The commit was
    /// refused before anything was written; the store is as it was.
    BadPlacement(String),
}

impl Error {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { context, source }
    }

    pub(crate) fn corrupt(structure: Structure, offset: u64, detail: impl Into<String>) -> Error {
        Error::Corrupt { structure, offset, detail: detail.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { context, source } => write!(f, "I/O error while {context}: {source}"),
            Error::Locked => f.write_str("the store is locked by another writer"),
            Error::AlreadyExists => f.write_str("a file already exists at that path"),
            Error::PageSizeMismatch { on_disk, expected } => {
                write!(f, "the file has {on_disk}-byte pages, not {expected}")
            }
            Error::UnsupportedFormat(why) => write!(f, "not a readable mappedpages file: {why}"),
            Error::Corrupt { structure, offset, detail } => {
                write!(f, "damaged {structure} at byte {offset}: {detail}")
            }
            Error::NoValidRoot { detail } => write!(f, "no valid root: {detail}"),
            Error::NotAllocated(id) => write!(f, "page {} is not allocated", id.get()),
            Error::OutOfRange(id) => write!(f, "page {} is out of range", id.get()),
            Error::DoubleFree(id) => write!(f, "page {} freed twice", id.get()),
            Error::WriteInProgress => f.write_str("another write transaction is open"),
            Error::WouldDeadlock => {
                f.write_str("this thread holds the write transaction; commit or drop it before beginning another")
            }
            Error::ReadOnly => f.write_str("the store is open read-only"),
            Error::NeedsReopen => f.write_str("an earlier I/O failure left the store unusable; reopen it"),
            Error::Full(what) => write!(f, "store full: {what}"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::InvalidName(why) => write!(f, "invalid snapshot name: {why}"),
            Error::SnapshotExists(name) => write!(f, "a snapshot named {name:?} exists already"),
            Error::SnapshotNotFound(name) => write!(f, "no snapshot named {name:?}"),
            Error::VersionNotRetained(v) => write!(f, "{v} is not retained (outside the history window)"),
            Error::BadPlacement(why) => write!(f, "placement refused: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
