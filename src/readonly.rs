//! Read-only opening: shared file locks, many processes at once, no write methods.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::ids::Version;
use crate::shared::Shared;
use crate::storage::{FileMode, FileStorage, Storage};
use crate::store::{Options, Stats, Store};
use crate::txn::{OwnedReadTxn, ReadTxn, ReaderInfo};
use crate::verify::VerifyReport;

/// A store opened read-only: any number of processes (and handles) may hold
/// one on the same file at once.
///
/// # Locking rule
///
/// A read-only open takes a *shared* lock on the file; a writable open
/// ([`Store::open`], [`Store::create`]) takes an *exclusive* one. Neither
/// waits:
///
/// - opening read-only while a writer holds the file fails at once with
///   [`Error::Locked`](crate::Error::Locked);
/// - opening for writing while any read-only handle is open fails at once with
///   [`Error::Locked`](crate::Error::Locked);
/// - read-only handles never conflict with each other.
///
/// The locks are advisory `flock`-style locks on the open file description, so
/// they also separate two handles inside one process. A process that writes the
/// file while ignoring the lock is outside this contract. One consequence of
/// such locks: a child process that is being spawned holds copies of its
/// parent's descriptors until it execs, so a lock can outlive its handle by
/// that instant when another thread spawns a process.
///
/// Because no writer can exist while a read-only handle is open, the file does
/// not change under it: [`version`](Self::version) stays the version found at
/// open (the newest intact commit, exactly as a writable open recovers it, but
/// without writing anything).
///
/// # No write methods
///
/// The type has no `begin_write`, `sync` or any other method that could change
/// the file:
///
/// ```compile_fail
/// # fn main() -> Result<(), mappedpages::Error> {
/// let store = mappedpages::ReadOnlyStore::<4096>::open("pages.db")?;
/// let w = store.begin_write()?; // error: no method named `begin_write`
/// # Ok(()) }
/// ```
///
/// ```
/// use mappedpages::{Error, ReadOnlyStore, Store};
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("pages.db");
/// let store = Store::<4096>::create(&path)?;
/// let mut w = store.begin_write()?;
/// let id = w.alloc()?;
/// w.page_mut(id)?.fill(3);
/// w.commit()?;
/// assert!(matches!(ReadOnlyStore::<4096>::open(&path), Err(Error::Locked { .. })));
/// drop(store);
///
/// let a = ReadOnlyStore::<4096>::open(&path)?;
/// let b = ReadOnlyStore::<4096>::open(&path)?;         // readers share the file
/// assert_eq!(a.begin_read()?.page(id)?[0], 3);
/// assert_eq!(b.version(), a.version());
/// assert!(matches!(Store::<4096>::open(&path), Err(Error::Locked { .. })));
/// # Ok(()) }
/// ```
pub struct ReadOnlyStore<const PAGE_SIZE: usize> {
    /// In an `Arc`, so that owned readers can hold it.
    inner: Arc<Store<PAGE_SIZE>>,
}

/// 0.2's name for [`ReadOnlyStore`] (planned there as `ReadOnlyPager::open`).
pub type ReadOnlyPager<const PAGE_SIZE: usize> = ReadOnlyStore<PAGE_SIZE>;

impl<const P: usize> ReadOnlyStore<P> {
    /// Opens the store file at `path` read-only. Fails with [`Error::Locked`](crate::Error::Locked) at
    /// once if a writer holds it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mappedpages::{ReadOnlyStore, Store};
    /// let path = dir.path().join("s.db");
    /// drop(Store::<4096>::create(&path)?);
    /// let a = ReadOnlyStore::<4096>::open(&path)?;
    /// let b = ReadOnlyStore::<4096>::open(&path)?; // readers share the file
    /// assert_eq!(a.version(), b.version());
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Options::default())
    }

    /// Opens read-only with options (`reserve` and `verify_reads` apply; the
    /// write options are ignored).
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let () = Store::<P>::VALID_PAGE_SIZE;
        let storage = FileStorage::open(path.as_ref(), FileMode::ReadOnly, options.reserve)
            .map_err(crate::store::open_error(path.as_ref(), FileMode::ReadOnly))?;
        Self::open_on(storage, options).map_err(crate::store::in_file(path.as_ref()))
    }

    /// Opens a [`Storage`] read-only: recovers the newest intact commit and
    /// never writes, grows or syncs it.
    pub fn open_on(storage: impl Storage, options: Options) -> Result<Self> {
        let () = Store::<P>::VALID_PAGE_SIZE;
        let inner = Store { shared: Shared::open(Box::new(storage), options, P, false)? };
        Ok(ReadOnlyStore { inner: Arc::new(inner) })
    }

    /// Starts a read transaction on the store's version.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mappedpages::{ReadOnlyStore, Store};
    /// let path = dir.path().join("s.db");
    /// let store = Store::<4096>::create(&path)?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?[0] = 4;
    /// w.commit()?;
    /// drop(store);
    /// let ro = ReadOnlyStore::<4096>::open(&path)?;
    /// assert_eq!(ro.begin_read()?.page(id)?[0], 4);
    /// assert!(ro.verify()?.is_clean());
    /// assert_eq!((ro.page_count(), ro.stats().live_pages), (1, 1));
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn begin_read(&self) -> Result<ReadTxn<'_, P>> {
        self.inner.begin_read()
    }

    /// A read transaction that owns a handle on the store instead of
    /// borrowing it ([`OwnedReadTxn`]): it moves into a thread, and the store
    /// stays open while it lives.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mappedpages::{ReadOnlyStore, Store};
    /// let path = dir.path().join("s.db");
    /// drop(Store::<4096>::create(&path)?);
    /// let ro = ReadOnlyStore::<4096>::open(&path)?;
    /// let r = ro.begin_read_owned()?;
    /// drop(ro);
    /// let t = std::thread::spawn(move || r.live_pages());
    /// assert_eq!(t.join().unwrap(), 0);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn begin_read_owned(&self) -> Result<OwnedReadTxn<P>> {
        self.inner.begin_read_owned()
    }

    /// The open read transactions (see [`Store::readers`]).
    pub fn readers(&self) -> Vec<ReaderInfo> {
        self.inner.readers()
    }

    /// The version found at open.
    pub fn version(&self) -> Version {
        self.inner.version()
    }

    /// Counts for that version.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Checks everything the version reaches, as [`Store::verify`] does.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.inner.verify()
    }

    /// The page size, `PAGE_SIZE`.
    pub fn page_size(&self) -> usize {
        P
    }

    /// Allocated logical pages (0.2's `page_count`).
    pub fn page_count(&self) -> u64 {
        self.inner.page_count()
    }

    /// Free pages of the file (0.2's `free_page_count`).
    pub fn free_page_count(&self) -> u64 {
        self.inner.free_page_count()
    }

    /// [`Store::verify_with`]: verify with progress and cancellation.
    pub fn verify_with(&self, progress: &dyn crate::Progress) -> Result<VerifyReport> {
        self.inner.verify_with(progress)
    }

    /// A read transaction on an older version, as [`Store::begin_read_at`].
    pub fn begin_read_at(&self, at: crate::At<'_>) -> Result<ReadTxn<'_, P>> {
        self.inner.begin_read_at(at)
    }

    /// The snapshots, as [`Store::snapshots`].
    pub fn snapshots(&self) -> Result<Vec<crate::SnapshotInfo>> {
        self.inner.snapshots()
    }

    /// The readable versions, as [`Store::history`].
    pub fn history(&self) -> Vec<crate::HistoryEntry> {
        self.inner.history()
    }

    /// The history window in force, as [`Store::history_window`].
    pub fn history_window(&self) -> crate::HistoryWindow {
        self.inner.history_window()
    }

    /// A backup stream of a version, as [`Store::backup`] (a backup only
    /// reads the store, so a shared lock is enough).
    pub fn backup<W: std::io::Write>(
        &self,
        out: W,
        at: crate::At<'_>,
        options: crate::BackupOptions,
    ) -> Result<crate::BackupReport> {
        self.inner.backup(out, at, options)
    }

    /// A compacted copy of a version in a new file, as [`Store::export_with`]
    /// (export writes only the new file).
    pub fn export_with(
        &self,
        path: impl AsRef<Path>,
        at: crate::At<'_>,
        progress: &dyn crate::Progress,
    ) -> Result<crate::ExportReport> {
        self.inner.export_with(path, at, progress)
    }

    /// The header, as [`Store::header`].
    pub fn header(&self) -> crate::format::Header {
        self.inner.header()
    }

    /// Both root slots, as [`Store::root_slots`].
    pub fn root_slots(&self) -> Result<Vec<crate::RootSlot>> {
        self.inner.root_slots()
    }

    /// Where each kind of extent lies, as [`Store::space_map`].
    pub fn space_map(&self) -> Result<crate::SpaceLayout> {
        self.inner.space_map()
    }

    /// The root rejected at open, as [`Store::rejected_root`].
    pub fn rejected_root(&self) -> Option<crate::RejectedRoot> {
        self.inner.rejected_root()
    }
}
