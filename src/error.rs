//! The crate's error type: one variant per cause a caller can act on.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::ids::{PageId, Version};

/// Which on-disk structure a [`Error::Corrupt`] or a verify finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
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
        /// The file it was opening or creating, when the error came from that.
        path: Option<PathBuf>,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another process (or another handle in this process) holds the file's lock.
    Locked {
        /// The file.
        path: PathBuf,
        /// Who holds it, as far as the platform tells.
        holder: LockHolder,
    },
    /// `create` was called on a path that already holds a non-empty file.
    AlreadyExists(PathBuf),
    /// The path names a directory, not a store file.
    IsDirectory(PathBuf),
    /// The file was written with another page size than the one asked for.
    PageSizeMismatch {
        /// Page size recorded in the file.
        on_disk: u32,
        /// Page size of the `Store` type used to open it.
        expected: u32,
        /// The file, when the store was opened by path.
        path: Option<PathBuf>,
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
    /// The request cannot be met within the store's limits.
    Full(Limit),
    /// An argument is out of its documented range.
    InvalidArgument(Invalid),
    /// A snapshot name is empty, too long, or has control characters.
    InvalidName(String),
    /// A snapshot with this name exists already.
    SnapshotExists(String),
    /// No snapshot has this name.
    SnapshotNotFound(String),
    /// The version is not readable: nothing keeps it (the history window,
    /// a snapshot, an open reader), or it was never committed. `kept` says
    /// what is kept instead. Widen the window with
    /// [`Store::set_history`](crate::Store::set_history) to keep more.
    VersionNotRetained {
        /// The version asked for (for [`At::Time`](crate::At::Time), the
        /// oldest version kept, which is newer than the time asked for).
        version: Version,
        /// What the store keeps readable at the moment of the call.
        kept: KeptVersions,
    },
    /// A long operation was cancelled through its [`Progress`](crate::Progress);
    /// it left nothing half-made behind.
    Cancelled,
    /// A backup stream is damaged, unsupported, or does not fit where it is
    /// restored or applied (see [`BackupError`](crate::BackupError)).
    Backup(crate::backup::BackupError),
    /// The allocation strategy answered with space that is not whole free
    /// pages of the data area, or more than it was asked for (see
    /// [`AllocationStrategy`](crate::AllocationStrategy)). The commit was
    /// refused before anything was written; the store is as it was.
    BadPlacement(String),
}

/// Who holds a store file's lock, in [`Error::Locked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockHolder {
    /// A writer ([`Store`](crate::Store)) holds it exclusively.
    Writer {
        /// Its process id, where the platform tells (Linux: `/proc/locks`).
        pid: Option<u32>,
    },
    /// Read-only handles ([`ReadOnlyStore`](crate::ReadOnlyStore)) hold it shared.
    ReadOnly {
        /// The process id of one of them, where the platform tells.
        pid: Option<u32>,
    },
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (who, pid) = match self {
            LockHolder::Writer { pid } => ("a writer", pid),
            LockHolder::ReadOnly { pid } => ("a read-only handle", pid),
        };
        f.write_str(who)?;
        match pid {
            Some(pid) if *pid == std::process::id() => f.write_str(" in this process"),
            Some(pid) => write!(f, " (pid {pid})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for LockHolder {}

/// Which limit an [`Error::Full`] ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Every logical id the table can address is in use.
    Ids,
    /// The version counter would overflow.
    Versions,
    /// The file would grow past [`Options::max_file_len`](crate::Options::max_file_len).
    FileLen {
        /// The limit, in bytes.
        max: u64,
    },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Ids => f.write_str("no logical id left"),
            Limit::Versions => f.write_str("version numbers are exhausted"),
            Limit::FileLen { max } => write!(f, "the file would exceed its maximum length of {max} bytes"),
        }
    }
}

/// What was wrong with an argument, in [`Error::InvalidArgument`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// Data passed to a `write` has the wrong length.
    WrongLength {
        /// The length the call takes (the page or sub-page size).
        expected: usize,
        /// The length it was given.
        actual: usize,
    },
    /// `create_on` was given a storage that is not empty.
    NotEmpty,
    /// A commit's version (a backup stream's target) is not newer than its base.
    VersionNotNewer,
    /// An incremental backup's base is not older than the version backed up.
    BaseNotOlder,
    /// A chain of backup streams to restore is empty.
    EmptyChain,
    /// The call needs a cargo feature this build lacks (its name).
    NeedsFeature(&'static str),
    /// A sub-page id or root does not point at a sub-page directory page.
    NotASubPageDirectory,
    /// A sub-page directory was made for other page or sub-page sizes.
    OtherSubPageGeometry,
    /// A sub-page id belongs to another sub-page allocator.
    OtherSubPageAllocator,
    /// A sub-page directory is damaged (counts or masks disagree).
    DamagedSubPageDirectory,
    /// A sub-page directory chain loops.
    SubPageDirectoryLoops,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::WrongLength { expected, actual } => {
                write!(f, "data is {actual} bytes long; the call takes exactly {expected}")
            }
            Invalid::NotEmpty => f.write_str("the storage to create a store on is not empty"),
            Invalid::VersionNotNewer => f.write_str("a commit's version must be newer than its base"),
            Invalid::BaseNotOlder => f.write_str("an incremental's base must be older than the version backed up"),
            Invalid::EmptyChain => f.write_str("a chain needs at least one stream"),
            Invalid::NeedsFeature(name) => write!(f, "this needs the cargo feature `{name}`"),
            Invalid::NotASubPageDirectory => {
                f.write_str("sub-page id or root does not point at a sub-page directory page")
            }
            Invalid::OtherSubPageGeometry => {
                f.write_str("sub-page directory was made for other page or sub-page sizes")
            }
            Invalid::OtherSubPageAllocator => f.write_str("sub-page id belongs to another sub-page allocator"),
            Invalid::DamagedSubPageDirectory => f.write_str("sub-page directory is damaged (counts or masks disagree)"),
            Invalid::SubPageDirectoryLoops => f.write_str("sub-page directory chain loops"),
        }
    }
}

/// The versions a store keeps readable, in [`Error::VersionNotRetained`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeptVersions {
    /// The newest committed version (always readable).
    pub newest: Version,
    /// The oldest and newest version the history window keeps, older than `newest`.
    pub history: Option<(Version, Version)>,
    /// The versions snapshots keep, ascending, without repeats.
    pub snapshots: Vec<Version>,
    /// The versions open read transactions keep, ascending, without repeats.
    pub readers: Vec<Version>,
}

impl fmt::Display for KeptVersions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |vs: &[Version]| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
        match self.history {
            Some((a, b)) if a == b => write!(f, "history window keeps {a}")?,
            Some((a, b)) => write!(f, "history window keeps {a}..{b}")?,
            None => f.write_str("history window keeps no older version")?,
        }
        if !self.snapshots.is_empty() {
            write!(f, ", snapshots keep {}", list(&self.snapshots))?;
        }
        if !self.readers.is_empty() {
            write!(f, ", open readers keep {}", list(&self.readers))?;
        }
        write!(f, "; the newest is {}", self.newest)
    }
}

impl Error {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { context, path: None, source }
    }

    pub(crate) fn corrupt(structure: Structure, offset: u64, detail: impl Into<String>) -> Error {
        Error::Corrupt { structure, offset, detail: detail.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The operating system's message is the source, not repeated here.
            Error::Io { context, path: None, .. } => write!(f, "I/O error while {context}"),
            Error::Io { context, path: Some(path), .. } => write!(f, "I/O error while {context} {}", path.display()),
            Error::Locked { path, holder } => write!(f, "{} is locked by {holder}", path.display()),
            Error::AlreadyExists(path) => write!(f, "{} already exists and is not empty", path.display()),
            Error::IsDirectory(path) => write!(f, "{} is a directory, not a store file", path.display()),
            Error::PageSizeMismatch { on_disk, expected, path: None } => {
                write!(f, "the file has {on_disk}-byte pages, not {expected}")
            }
            Error::PageSizeMismatch { on_disk, expected, path: Some(path) } => {
                write!(f, "{} has {on_disk}-byte pages, not {expected}", path.display())
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
            Error::VersionNotRetained { version, kept } => write!(f, "{version} is not kept: {kept}"),
            Error::Cancelled => f.write_str("cancelled"),
            Error::Backup(e) => write!(f, "backup stream: {e}"),
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
