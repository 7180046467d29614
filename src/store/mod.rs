//! The store: the public API over the runtime state it shares with its
//! transactions (`crate::shared`): opening and creating, transactions, stats,
//! verify, and (in `versions`) snapshots, history, restore and export.

mod versions;

use crate::clock::now_nanos;
pub use crate::options::{Durability, Options};
pub use crate::recovery::RejectedRoot;
use crate::shared::{Shared, lock};

use std::path::Path;

use crate::error::{Error, Result};
use crate::format::{Header, Root, hash16, meta_pages, root_slot_offset};
use crate::ids::Version;
use crate::storage::{FileStorage, Storage, file::FileMode};
use crate::txn::{ReadTxn, WriteTxn};
use crate::verify::{VerifyReport, verify_root};

/// Counts describing a store's current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    /// Creates a new store file; fails with [`Error::AlreadyExists`] if the path exists.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::create_with(path, Options::default())
    }

    /// Creates a new store file with options.
    pub fn create_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        let storage = FileStorage::open(path.as_ref(), FileMode::Create, options.reserve).map_err(open_error)?;
        Self::create_on(storage, options)
    }

    /// Opens an existing store file for reading and writing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Options::default())
    }

    /// Opens an existing store file with options. Fails with [`Error::Locked`] at
    /// once if another handle holds the file.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        let storage = FileStorage::open(path.as_ref(), FileMode::Write, options.reserve).map_err(open_error)?;
        Self::open_on(storage, options)
    }

    /// Creates a new store on an empty [`Storage`] (in memory, simulated, …).
    pub fn create_on(storage: impl Storage, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        if !storage.is_empty() {
            return Err(Error::AlreadyExists);
        }
        let meta = meta_pages(PAGE_SIZE) * PAGE_SIZE as u64;
        let mut store_id = [0u8; 16];
        store_id.copy_from_slice(&hash16(
            &now_nanos().to_le_bytes().iter().chain(&std::process::id().to_le_bytes()).copied().collect::<Vec<u8>>(),
        ));
        let header = Header {
            page_size: PAGE_SIZE as u32,
            incompat_features: 0,
            compat_features: 0,
            created_nanos: now_nanos(),
            store_id,
        };
        let root = Root { version: 0, commit_nanos: now_nanos(), file_len: meta, ..Root::default() };
        storage.grow(meta).map_err(Error::io("creating the store"))?;
        storage.write(0, &header.encode()).map_err(Error::io("writing the header"))?;
        storage.write(root_slot_offset(0), &root.encode()).map_err(Error::io("writing the first root"))?;
        storage.sync().map_err(Error::io("syncing a new store"))?;
        Self::open_on(storage, options)
    }

    /// Opens a store on a [`Storage`], recovering the newest intact commit.
    pub fn open_on(storage: impl Storage, options: Options) -> Result<Self> {
        let () = Self::VALID_PAGE_SIZE;
        Ok(Store { shared: Shared::open(Box::new(storage), options, PAGE_SIZE, true)? })
    }

    /// Starts a read transaction on the newest committed version. Never waits
    /// for the writer.
    pub fn begin_read(&self) -> Result<ReadTxn<'_, PAGE_SIZE>> {
        Ok(ReadTxn::new(&self.shared))
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
    pub fn version(&self) -> Version {
        Version(self.shared.current().version)
    }

    /// The page size, `PAGE_SIZE`.
    pub fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    /// Counts for the newest committed version.
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
    pub fn sync(&self) -> Result<()> {
        let w = self.begin_write()?;
        w.sync_and_abort()
    }

    /// The root rejected when the store was opened, if a newer one than the
    /// recovered version was found and failed its checks (see [`RejectedRoot`]).
    pub fn rejected_root(&self) -> Option<RejectedRoot> {
        lock(&self.shared.rejected).clone()
    }

    /// Checks everything the newest version reaches: the header, the root, every
    /// table and free-map node, the pending list and every page's checksum, and
    /// that no two structures share space. Each damaged structure is reported with
    /// the logical ids it affects.
    pub fn verify(&self) -> Result<VerifyReport> {
        let txn = self.begin_read()?;
        let shared = &self.shared;
        let mut report = verify_root(txn.reader(), &shared.geo, &shared.header, &txn.root, shared.zero_hash);
        report.rejected_root = lock(&shared.rejected).clone();
        Ok(report)
    }
}

pub(crate) fn open_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::WouldBlock => Error::Locked,
        std::io::ErrorKind::AlreadyExists => Error::AlreadyExists,
        _ => Error::Io { context: "opening the file", source: e },
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
            ws.sync_failed(&*self.shared.storage, true);
        }
    }
}
