//! The store: the public API over the runtime state it shares with its
//! transactions (`crate::shared`): opening and creating, transactions, stats,
//! verify, and (in `versions`) snapshots, history, restore and export.

mod backup;
mod inspect;
mod versions;

pub use inspect::{RootSlot, SpaceExtent, SpaceKind, SpaceLayout, page_size_of};

use crate::clock::now_nanos;
pub use crate::options::{Durability, Options};
pub use crate::recovery::RejectedRoot;
use crate::shared::{Shared, lock};

use std::path::Path;

use crate::error::{Error, Invalid, LockHolder, Result};
use crate::format::{Header, Layout, Root, hash16};
use crate::ids::Version;
use crate::storage::{FileStorage, Storage, file::FileMode};
use crate::txn::{OwnedReadTxn, ReadTxn, ReaderInfo, WriteTxn};
use crate::verify::{VerifyReport, verify_root};
use crate::versions::At;
use std::sync::Arc;

/// Counts describing a store's current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stats {
    /// The newest committed version.
    pub version: Version,
    /// Page size in bytes.
    pub page_size: usize,
    /// Allocated logical pages.
    pub live_pages: u64,
    /// Pages in the file, header included.
    pub physical_pages: u64,
    /// Pages free for new writes.
    pub free_pages: u64,
    /// Pages freed by recent commits and kept until no reader, fallback root
    /// or history version needs them (history-held pages included).
    pub pending_pages: u64,
    /// Of those, pages kept only because the history window still reads them.
    pub history_pages: u64,
    /// Pages kept only by snapshots (freed by later commits).
    pub snapshot_pages: u64,
    /// One past the largest logical id ever handed out.
    pub next_id: u64,
}

/// A transactional, copy-on-write page store in one file.
///
/// `PAGE_SIZE` is a power of two of at least 1024 bytes, checked at compile time.
/// The store is `Send + Sync`: share it with `Arc` and run any number of
/// [`ReadTxn`]s on any threads while one [`WriteTxn`] at a time commits.
///
/// ```
/// use mappedpages::Store;
/// # fn main() -> Result<(), mappedpages::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::<4096>::create(dir.path().join("pages.db"))?;
///
/// let mut w = store.begin_write()?;
/// let id = w.alloc()?;
/// w.page_mut(id)?[..5].copy_from_slice(b"hello");
/// let version = w.commit()?;
///
/// let r = store.begin_read()?;
/// assert_eq!(&r.page(id)?[..5], b"hello");
/// assert_eq!(r.version(), version);
/// # Ok(()) }
/// ```
pub struct Store<const PAGE_SIZE: usize> {
    pub(crate) shared: Shared,
}

impl<const PAGE_SIZE: usize> Store<PAGE_SIZE> {
    pub(crate) const VALID_PAGE_SIZE: () = assert!(
        PAGE_SIZE.is_power_of_two() && PAGE_SIZE >= 1024 && PAGE_SIZE <= 1 << 30,
        "PAGE_SIZE must be a power of two between 1024 and 2^30"
    );

    /// Creates a new store file, or a store in an existing empty file (a
    /// `tempfile::NamedTempFile`, say); fails with [`Error::AlreadyExists`] if
    /// the file has bytes.
    ///
    /// ```
    /// use mappedpages::{Error, Store};
    /// # fn main() -> Result<(), Error> {
    /// let file = tempfile::NamedTempFile::new().unwrap();     // exists, empty
    /// let store = Store::<4096>::create(file.path())?;
    /// drop(store);
    /// assert!(matches!(Store::<4096>::create(file.path()), Err(Error::AlreadyExists(_))));
    /// # Ok(()) }
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::create_with(path, Options::default())
    }

    /// Creates a new store file with options.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mappedpages::{Durability, Options, Store};
    /// let options = Options::default().durability(Durability::Eventual);
    /// let store = Store::<4096>::create_with(dir.path().join("s.db"), options)?;
    /// assert_eq!(store.version().get(), 0);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn create_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        let path = path.as_ref();
        let storage =
            FileStorage::open(path, FileMode::Create, options.reserve).map_err(open_error(path, FileMode::Create))?;
        Self::create_on(storage, options).map_err(in_file(path))
    }

    /// Opens the store file at `path`, or creates it when the path is missing
    /// or names an empty file (as `sled::open` and redb's `Database::create`
    /// do). Fails with [`Error::Locked`] at once if another handle holds it.
    ///
    /// ```
    /// use mappedpages::Store;
    /// # fn main() -> Result<(), mappedpages::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("pages.db");
    /// let store = Store::<4096>::open_or_create(&path)?;  // created
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.commit()?;
    /// drop(store);
    /// let store = Store::<4096>::open_or_create(&path)?;  // opened
    /// assert!(store.begin_read()?.contains(id)?);
    /// # Ok(()) }
    /// ```
    pub fn open_or_create(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_or_create_with(path, Options::default())
    }

    /// [`open_or_create`](Store::open_or_create) with options.
    pub fn open_or_create_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        let path = path.as_ref();
        let mode = FileMode::OpenOrCreate;
        let storage = FileStorage::open(path, mode, options.reserve).map_err(open_error(path, mode))?;
        // The lock is held: nobody else can fill the file meanwhile.
        let store =
            if storage.is_empty() { Self::create_on(storage, options) } else { Self::open_on(storage, options) };
        store.map_err(in_file(path))
    }

    /// Opens an existing store file for reading and writing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mappedpages::Store;
    /// let path = dir.path().join("s.db");
    /// drop(Store::<4096>::create(&path)?);
    /// let store = Store::<4096>::open(&path)?;
    /// assert!(Store::<4096>::open(&path).is_err()); // locked by `store`
    /// assert!(Store::<1024>::open(dir.path().join("missing.db")).is_err());
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Options::default())
    }

    /// Opens an existing store file with options. Fails with [`Error::Locked`] at
    /// once if another handle holds the file.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mappedpages::{Options, Store};
    /// let path = dir.path().join("s.db");
    /// drop(Store::<4096>::create(&path)?);
    /// let store = Store::<4096>::open_with(&path, Options::default().verify_reads(true))?;
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        let path = path.as_ref();
        let storage =
            FileStorage::open(path, FileMode::Write, options.reserve).map_err(open_error(path, FileMode::Write))?;
        Self::open_on(storage, options).map_err(in_file(path))
    }

    /// Creates a new store on an empty [`Storage`] (in memory, simulated, …).
    ///
    /// ```
    /// use mappedpages::{storage::MemoryStorage, Options, Store};
    /// let store = Store::<4096>::create_on(MemoryStorage::new().unwrap(), Options::default())?;
    /// let mut w = store.begin_write()?;
    /// w.alloc()?;
    /// w.commit()?;
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn create_on(storage: impl Storage, options: Options) -> Result<Self> {
        Self::create_identified(storage, options, None)
    }

    /// [`create_on`](Store::create_on), with the store id given (a restore
    /// keeps its source's) or a fresh one.
    pub(crate) fn create_identified(storage: impl Storage, options: Options, id: Option<[u8; 16]>) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        if !storage.is_empty() {
            return Err(Error::InvalidArgument(Invalid::NotEmpty));
        }
        let layout = Layout::CURRENT;
        let meta = layout.meta_pages(PAGE_SIZE) * PAGE_SIZE as u64;
        let mut store_id = [0u8; 16];
        store_id.copy_from_slice(&hash16(
            &now_nanos().to_le_bytes().iter().chain(&std::process::id().to_le_bytes()).copied().collect::<Vec<u8>>(),
        ));
        let header = Header {
            format_version: layout.version(),
            page_size: PAGE_SIZE as u32,
            incompat_features: 0,
            compat_features: 0,
            created_nanos: now_nanos(),
            store_id: id.unwrap_or(store_id),
        };
        let root = Root { version: 0, commit_nanos: now_nanos(), file_len: meta, ..Root::default() };
        storage.grow(meta).map_err(Error::io("creating the store"))?;
        storage.write(0, &header.encode()).map_err(Error::io("writing the header"))?;
        storage.write(layout.root_slot_offset(0), &root.encode()).map_err(Error::io("writing the first root"))?;
        storage.sync().map_err(Error::io("syncing a new store"))?;
        Self::open_on(storage, options)
    }

    /// Opens a store on a [`Storage`], recovering the newest intact commit.
    ///
    /// ```
    /// use mappedpages::{storage::MemoryStorage, Options, Store};
    /// let store = Store::<4096>::create_on(MemoryStorage::new().unwrap(), Options::default())?;
    /// let mut w = store.begin_write()?;
    /// w.alloc()?;
    /// w.commit()?;
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn open_on(storage: impl Storage, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        Ok(Store { shared: Shared::open(Box::new(storage), options, PAGE_SIZE, true)? })
    }

    /// Starts a read transaction on the newest committed version. Never waits
    /// for the writer.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?[0] = 1;
    /// w.commit()?;
    /// let r = store.begin_read()?; // pins this version
    /// let mut w = store.begin_write()?;
    /// w.page_mut(id)?[0] = 2;
    /// w.commit()?;
    /// assert_eq!(r.page(id)?[0], 1);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn begin_read(&self) -> Result<ReadTxn<'_, PAGE_SIZE>> {
        Ok(ReadTxn::new(&self.shared))
    }

    /// Starts a read transaction on the newest committed version that owns an
    /// `Arc` of the store instead of borrowing it (see [`OwnedReadTxn`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mappedpages::{OwnedReadTxn, Store};
    /// # fn main() -> Result<(), mappedpages::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// fn reader(store: &Arc<Store<4096>>) -> mappedpages::Result<OwnedReadTxn<4096>> {
    ///     store.begin_read_owned()              // no borrow of `store` escapes
    /// }
    /// let store = Arc::new(Store::<4096>::create(dir.path().join("s.db"))?);
    /// let r = reader(&store)?;
    /// assert_eq!(r.version(), store.version());
    /// # Ok(()) }
    /// ```
    pub fn begin_read_owned(self: &Arc<Self>) -> Result<OwnedReadTxn<PAGE_SIZE>> {
        OwnedReadTxn::at(self, &At::Version(Version(u64::MAX)))
    }

    /// An owned read transaction on the version `at` names (as
    /// [`begin_read_at`](Store::begin_read_at)).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use std::sync::Arc;
    /// use mappedpages::At;
    /// let store = Arc::new(store);
    /// store.create_snapshot("s")?;
    /// let r = store.begin_read_owned_at(At::Snapshot("s"))?;
    /// assert!(r.version() < store.version());
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn begin_read_owned_at(self: &Arc<Self>, at: At<'_>) -> Result<OwnedReadTxn<PAGE_SIZE>> {
        OwnedReadTxn::at(self, &at)
    }

    /// The open read transactions, oldest first, with the version each keeps
    /// and how long it has been open: the one to look for when freed space
    /// does not come back ([`Stats::pending_pages`] stays high).
    ///
    /// ```
    /// use mappedpages::Store;
    /// # fn main() -> Result<(), mappedpages::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::<4096>::create(dir.path().join("s.db"))?;
    /// let old = store.begin_read()?;
    /// store.begin_write()?.commit()?;
    /// let readers = store.readers();
    /// assert_eq!(readers.len(), 1);
    /// assert_eq!(readers[0].version, old.version());
    /// assert!(readers[0].version < store.version());
    /// # Ok(()) }
    /// ```
    pub fn readers(&self) -> Vec<ReaderInfo> {
        lock(&self.shared.published).readers.list()
    }

    /// Starts the write transaction, waiting while another one is open.
    ///
    /// Fails at once with [`Error::WouldDeadlock`] when the open one was begun
    /// on this thread: waiting for it would never end. The store-level calls
    /// that commit ([`sync`](Store::sync), [`create_snapshot`](Store::create_snapshot),
    /// [`delete_snapshot`](Store::delete_snapshot), [`set_history`](Store::set_history),
    /// [`restore`](Store::restore)) begin a write transaction and fail the same
    /// way; the snapshot and history calls are also methods of [`WriteTxn`],
    /// committed with it.
    ///
    /// ```
    /// use mappedpages::{Error, Store};
    /// # fn main() -> Result<(), Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// assert!(matches!(store.create_snapshot("a"), Err(Error::WouldDeadlock)));
    /// w.create_snapshot("a")?; // committed with the transaction
    /// w.commit()?;
    /// assert_eq!(store.snapshots()?.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn begin_write(&self) -> Result<WriteTxn<'_, PAGE_SIZE>> {
        if !self.shared.writable {
            return Err(Error::ReadOnly);
        }
        let mut slot = lock(&self.shared.writer);
        loop {
            if let Some(state) = slot.take() {
                drop(slot);
                return WriteTxn::new(&self.shared, state);
            }
            if slot.lost {
                return Err(Error::NeedsReopen);
            }
            if slot.holder == Some(std::thread::current().id()) {
                return Err(Error::WouldDeadlock);
            }
            slot.waiting += 1;
            slot = self.shared.writer_free.wait(slot).unwrap_or_else(|e| e.into_inner());
            slot.waiting -= 1;
        }
    }

    /// Starts the write transaction, or fails with [`Error::WriteInProgress`] at
    /// once if another one is open.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let w = store.try_begin_write()?;
    /// assert!(matches!(store.try_begin_write(), Err(mappedpages::Error::WriteInProgress)));
    /// drop(w);
    /// store.try_begin_write()?;
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn try_begin_write(&self) -> Result<WriteTxn<'_, PAGE_SIZE>> {
        if !self.shared.writable {
            return Err(Error::ReadOnly);
        }
        let mut slot = lock(&self.shared.writer);
        if slot.lost {
            return Err(Error::NeedsReopen);
        }
        let state = slot.take().ok_or(Error::WriteInProgress)?;
        drop(slot);
        WriteTxn::new(&self.shared, state)
    }

    /// The newest committed version.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let v = store.begin_write()?.commit()?;
    /// assert_eq!(store.version(), v);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn version(&self) -> Version {
        Version(self.shared.current().version)
    }

    /// The page size, `PAGE_SIZE`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// assert_eq!(store.page_size(), 4096);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    /// Counts for the newest committed version.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// w.alloc_bulk(3)?;
    /// w.commit()?;
    /// let stats = store.stats();
    /// assert_eq!((stats.live_pages, stats.next_id), (3, 3));
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let root = self.shared.current();
        let spp = self.shared.geo.spp;
        Stats {
            version: Version(root.version),
            page_size: PAGE_SIZE,
            live_pages: if root.table_depth == 0 { 0 } else { root.table.live },
            physical_pages: root.file_len / PAGE_SIZE as u64,
            free_pages: if root.map_depth == 0 { 0 } else { root.map.free / spp },
            pending_pages: root.pending_sectors / spp,
            history_pages: lock(&self.shared.published).history_sectors / spp,
            snapshot_pages: root.snapshot_sectors / spp,
            next_id: root.next_id,
        }
    }

    /// How the newest version's free space is laid out: its holes by size and
    /// the largest (one walk of the free map, not of the data).
    pub fn free_space(&self) -> Result<crate::space::FreeSpace> {
        let r = self.begin_read()?;
        crate::space::free_space(r.reader(), &self.shared.geo, &r.root)
    }

    /// Makes every commit so far durable (with [`Durability::Eventual`]; a no-op
    /// cost otherwise).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mappedpages::{Durability, Options, Store};
    /// let store = Store::<4096>::create_with(dir.path().join("s.db"), Options::default().durability(Durability::Eventual))?;
    /// store.begin_write()?.commit()?; // not synced yet
    /// store.sync()?;                  // now durable
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn sync(&self) -> Result<()> {
        let w = self.begin_write()?;
        w.sync_and_abort()
    }

    /// Closes the store, first syncing what [`Durability::Eventual`] commits
    /// left unsynced, and returns the error of a failed sync. Dropping a store
    /// syncs the same way, but nobody hears of a failure there (the next open
    /// still recovers the last durable commit, SPEC.md section 9).
    ///
    /// [`Durability::Eventual`]: crate::Durability::Eventual
    ///
    /// ```
    /// use mappedpages::{Durability, Options, Store};
    /// # fn main() -> Result<(), mappedpages::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let options = Options::default().durability(Durability::Eventual);
    /// let store = Store::<4096>::create_with(dir.path().join("s.db"), options)?;
    /// let mut w = store.begin_write()?;
    /// w.alloc()?;
    /// w.commit()?; // not durable yet
    /// store.close()?; // durable now, or the error says why not
    /// # Ok(()) }
    /// ```
    pub fn close(self) -> Result<()> {
        if self.shared.writable { self.sync() } else { Ok(()) }
    }

    /// The root rejected when the store was opened, if a newer one than the
    /// recovered version was found and failed its checks (see [`RejectedRoot`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// assert!(store.rejected_root().is_none()); // a clean open
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn rejected_root(&self) -> Option<RejectedRoot> {
        lock(&self.shared.rejected).clone()
    }

    /// Checks everything the newest version reaches: the header, the root, every
    /// table and free-map node, the pending list and every page's checksum, and
    /// that no two structures share space. Each damaged structure is reported with
    /// the logical ids it affects.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// w.alloc_bulk(10)?;
    /// w.commit()?;
    /// let report = store.verify()?;
    /// assert!(report.is_clean(), "{report:?}");
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn verify(&self) -> Result<VerifyReport> {
        self.verify_with(&crate::progress::NoProgress)
    }

    /// [`verify`](Store::verify), telling `progress` of each page of the
    /// newest version checked; [`Error::Cancelled`] once it asks to stop.
    pub fn verify_with(&self, progress: &dyn crate::progress::Progress) -> Result<VerifyReport> {
        let txn = self.begin_read()?;
        let shared = &self.shared;
        // The rejected slot first: a commit clears the slot before it forgets it.
        let rejected = lock(&shared.rejected).clone();
        let meta = shared.slots.copy_meta(&txn.reader(), shared.geo.meta_len() as usize)?;
        let passed_over = rejected.as_ref().map(|r| r.slot);
        let mut report = verify_root(
            txn.reader(),
            &shared.geo,
            &shared.header,
            &txn.root,
            shared.zero_hash,
            crate::verify::MetaCopy { bytes: &meta, passed_over },
            progress,
        )?;
        report.rejected_root = rejected;
        Ok(report)
    }
}

/// An error from reading the opened file at `path`, naming it where the
/// error has a place for it (`Corrupt`, `NoValidRoot`, `UnsupportedFormat`:
/// in their text; `Io`, `PageSizeMismatch`: in their `path`).
pub(crate) fn in_file(path: &Path) -> impl FnOnce(Error) -> Error + '_ {
    move |e| {
        let named = |what: String| format!("{}: {what}", path.display());
        match e {
            Error::Corrupt { structure, offset, detail } => Error::Corrupt { structure, offset, detail: named(detail) },
            Error::NoValidRoot { detail } => Error::NoValidRoot { detail: named(detail) },
            Error::UnsupportedFormat(why) => Error::UnsupportedFormat(named(why)),
            Error::Io { context, path: None, source } => Error::Io { context, path: Some(path.to_owned()), source },
            Error::PageSizeMismatch { on_disk, expected, path: None } => {
                Error::PageSizeMismatch { on_disk, expected, path: Some(path.to_owned()) }
            }
            e => e,
        }
    }
}

/// The error opening `path` in `mode` failed with, naming the path.
pub(crate) fn open_error(path: &Path, mode: FileMode) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| match e.kind() {
        std::io::ErrorKind::WouldBlock => Error::Locked {
            path: path.to_owned(),
            holder: e.get_ref().and_then(|h| h.downcast_ref::<LockHolder>()).copied().unwrap_or(
                if mode == FileMode::ReadOnly {
                    LockHolder::Writer { pid: None }
                } else {
                    LockHolder::ReadOnly { pid: None }
                },
            ),
        },
        std::io::ErrorKind::AlreadyExists => Error::AlreadyExists(path.to_owned()),
        std::io::ErrorKind::IsADirectory => Error::IsDirectory(path.to_owned()),
        _ => Error::Io {
            context: match mode {
                _ if e.kind() == std::io::ErrorKind::OutOfMemory => {
                    "mapping (out of address space; see Options::reserve)"
                }
                FileMode::Create => "creating",
                FileMode::ReadOnly => "opening read-only",
                _ => "opening",
            },
            path: Some(path.to_owned()),
            source: e,
        },
    }
}

impl<const P: usize> Drop for Store<P> {
    fn drop(&mut self) {
        if !self.shared.writable {
            return;
        }
        let mut slot = lock(&self.shared.writer);
        if let Some(ws) = slot.state.as_mut()
            && !ws.poisoned
            && ws.unsynced_bytes > 0
            && self.shared.storage.sync().is_err()
        {
            // Nobody hears of the error, but the next open must not trust
            // the unsynced commits the page cache still shows.
            ws.sync_failed(&*self.shared.storage, &self.shared.slots, true);
        }
    }
}
