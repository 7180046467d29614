//! Read transactions: a pinned version, read without copies. [`ReadTxn`]
//! borrows its store; [`OwnedReadTxn`] owns an `Arc` of it.

use std::sync::Arc;

use crate::error::{Error, KeptVersions, Result};
use crate::format::{CatalogEntry, Root, SECTOR};
use crate::ids::{ContentHash, PageId, Version};
use crate::shared::{Published, Shared, lock};
use crate::storage::{Hold, PageReader, RawView, page_starts};
use crate::store::Store;
use crate::table::{Check, LiveIds, TableView, read_page};
use crate::versions::At;

/// A consistent view of one committed version.
///
/// Pages are returned as `&[u8]` straight from the file mapping; they stay valid
/// and unchanged for the transaction's life, whatever the writer commits, frees
/// or grows meanwhile. A `ReadTxn` is `Send + Sync`; any number may be open.
/// It borrows the store; [`OwnedReadTxn`] is the one to return from a
/// function or move into a thread.
pub struct ReadTxn<'s, const PAGE_SIZE: usize> {
    shared: &'s Shared,
    pub(crate) root: Arc<Root>,
    /// The hold on `root.version` in the store's pin table.
    hold: Held,
    view: RawView<'s>,
}

/// What every reader holds: its root, the pin on its version and its entry in
/// the list of open readers. Given back by [`Held::release`].
struct Held {
    hold: Hold,
    serial: u64,
    /// Where the root's pages may start (its data area, `page_starts`).
    pages: (u64, u64),
    /// The snapshot catalog published with the newest root when this
    /// transaction began: its deadlist pages lie in this transaction's file
    /// length and are kept by its hold (a later commit's may not be).
    snapshots: Arc<Vec<CatalogEntry>>,
}

/// The one way a reader reads, for both kinds: borrowed for `'a` from the
/// transaction, with a view of the storage no older than the transaction.
struct Reading<'a, const P: usize> {
    shared: &'a Shared,
    root: &'a Root,
    held: &'a Held,
    view: RawView<'a>,
}

impl<'a, const P: usize> Reading<'a, P> {
    /// A reader of this version's pages: the root is held while `'a` lasts
    /// (the transaction is borrowed), and the storage outlives it.
    fn reader(&self) -> PageReader<'a> {
        PageReader::new(self.view, P, self.held.hold.pin()).within_pages(self.held.pages)
    }

    fn table(&self) -> TableView<'a> {
        TableView { reader: self.reader(), geo: &self.shared.geo, root: self.root }
    }

    fn page(&self, id: PageId) -> Result<&'a [u8]> {
        let entry = self.table().entry(id.get())?;
        let check = Check::for_reads(self.shared.options.verify_reads);
        read_page(&self.reader(), &self.shared.zero_page, &entry, id.get(), check)
    }

    fn contains(&self, id: PageId) -> Result<bool> {
        match self.table().entry(id.get()) {
            Ok(e) => Ok(e.is_allocated()),
            Err(Error::OutOfRange(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Finds the root `at` names among what the store keeps (the newest, the
/// history window, snapshots, open readers) and holds it.
fn hold_version(shared: &Shared, at: &At<'_>, owned: bool) -> Result<(Arc<Root>, Held)> {
    let mut published = lock(&shared.published);
    let root = find_root(&published, at)?;
    let hold = published.pins.hold(root.version);
    let serial = published.readers.add(&root, owned);
    let snapshots = Arc::clone(&published.snapshots);
    drop(published);
    // The file is at least as long as the root needs: commits grow it before
    // writing their root.
    let pages = page_starts(shared.geo.first_data_sector, root.file_len / SECTOR, shared.geo.page_size);
    Ok((root, Held { hold, serial, pages, snapshots }))
}

fn find_root(published: &Published, at: &At<'_>) -> Result<Arc<Root>> {
    let newest = &published.root;
    let summary =
        match *at {
            At::Version(v) if v.get() == u64::MAX || v.get() == newest.version => return Ok(Arc::clone(newest)),
            At::Version(v) => {
                let kept =
                    published.history.iter().find(|s| s.version == v.get()).copied().or_else(|| {
                        published.snapshots.iter().find(|s| s.summary.version == v.get()).map(|s| s.summary)
                    });
                match kept {
                    Some(s) => s,
                    // An open reader holds it: its pages stay while we hold it too.
                    None => return published.readers.root_of(v.get()).ok_or_else(|| not_kept(published, v)),
                }
            }
            At::Time(t) if t >= newest.commit_nanos => return Ok(Arc::clone(newest)),
            At::Time(t) => published.history.iter().rev().find(|s| s.commit_nanos <= t).copied().ok_or_else(|| {
                not_kept(published, Version(published.history.first().map_or(newest.version, |s| s.version)))
            })?,
            At::Snapshot(name) => published
                .snapshots
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.summary)
                .ok_or_else(|| Error::SnapshotNotFound(name.to_string()))?,
        };
    if summary.version == newest.version {
        return Ok(Arc::clone(newest));
    }
    Ok(Arc::new(Root {
        version: summary.version,
        commit_nanos: summary.commit_nanos,
        next_id: summary.next_id,
        table_depth: summary.table_depth,
        table: summary.table,
        file_len: newest.file_len,
        ..Root::default()
    }))
}

/// [`Error::VersionNotRetained`] for `version`, saying what is kept instead.
fn not_kept(published: &Published, version: Version) -> Error {
    let newest = published.root.version;
    let older: Vec<u64> = published.history.iter().map(|s| s.version).filter(|&v| v < newest).collect();
    let mut snapshots: Vec<Version> = published.snapshots.iter().map(|s| Version(s.summary.version)).collect();
    snapshots.sort();
    snapshots.dedup();
    let kept = KeptVersions {
        newest: Version(newest),
        history: older.first().zip(older.last()).map(|(&a, &b)| (Version(a), Version(b))),
        snapshots,
        readers: published.readers.versions(),
    };
    Error::VersionNotRetained { version, kept }
}

fn release(shared: &Shared, held: &Held) {
    let mut published = lock(&shared.published);
    published.pins.release(&held.hold);
    published.readers.remove(held.serial);
}

/// The reading methods of both transaction kinds, written once: each type has
/// a `reading()` and a `root`. (The examples use a [`ReadTxn`]; an
/// [`OwnedReadTxn`] reads the same way.)
macro_rules! read_methods {
    () => {
        /// The version this transaction reads.
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
        /// let v = store.begin_write()?.commit()?;
        /// assert_eq!(store.begin_read()?.version(), v);
        /// # Ok::<(), mappedpages::Error>(())
        /// ```
        pub fn version(&self) -> Version {
            Version(self.root.version)
        }

        /// When that version was committed (nanoseconds since the Unix epoch).
        pub fn commit_time_nanos(&self) -> u64 {
            self.root.commit_nanos
        }

        /// The bytes of page `id` (`PAGE_SIZE` of them), without copying.
        ///
        /// ```
        /// use mappedpages::Store;
        /// # fn main() -> Result<(), mappedpages::Error> {
        /// # let dir = tempfile::tempdir().unwrap();
        /// let store = Store::<4096>::create(dir.path().join("s.db"))?;
        /// let mut w = store.begin_write()?;
        /// let id = w.alloc()?;
        /// w.page_mut(id)?[0] = 42;
        /// w.commit()?;
        /// let r = store.begin_read()?;
        /// assert_eq!(r.page(id)?[0], 42);
        /// # Ok(()) }
        /// ```
        pub fn page(&self, id: PageId) -> Result<&[u8]> {
            self.reading().page(id)
        }

        /// The page-table entry of `id` in this version (where its bytes are,
        /// how long, the codec, its birth version and checksums), for tools
        /// that show the table (`mappedpages dump --entry`).
        pub fn entry(&self, id: PageId) -> Result<crate::format::Entry> {
            self.reading().table().entry(id.get())
        }

        /// True when `id` is allocated in this version.
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
        /// let mut w = store.begin_write()?;
        /// let id = w.alloc()?;
        /// w.commit()?;
        /// assert!(store.begin_read()?.contains(id)?);
        /// assert!(!store.begin_read()?.contains(mappedpages::PageId::from_raw(7))?);
        /// # Ok::<(), mappedpages::Error>(())
        /// ```
        pub fn contains(&self, id: PageId) -> Result<bool> {
            self.reading().contains(id)
        }

        /// The allocated ids, in ascending order.
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
        /// let mut w = store.begin_write()?;
        /// let ids = w.alloc_bulk(3)?;
        /// w.free(ids[1])?;
        /// w.commit()?;
        /// let live: Vec<_> = store.begin_read()?.ids().collect::<Result<_, _>>()?;
        /// assert_eq!(live, [ids[0], ids[2]]);
        /// # Ok::<(), mappedpages::Error>(())
        /// ```
        pub fn ids(&self) -> LiveIds<'_> {
            LiveIds::new(self.reading().table())
        }

        /// Number of allocated pages.
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
        /// let mut w = store.begin_write()?;
        /// w.alloc_bulk(2)?;
        /// w.commit()?;
        /// assert_eq!(store.begin_read()?.live_pages(), 2);
        /// # Ok::<(), mappedpages::Error>(())
        /// ```
        pub fn live_pages(&self) -> u64 {
            live_pages(&self.root)
        }

        /// A hash of this version's logical content (every allocated id and its
        /// bytes), independent of where pages sit in the file.
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
        /// let mut w = store.begin_write()?;
        /// let id = w.alloc()?;
        /// w.page_mut(id)?[0] = 1;
        /// w.commit()?;
        /// let before = store.begin_read()?.content_hash();
        /// store.begin_write()?.commit()?; // no change of content
        /// assert_eq!(store.begin_read()?.content_hash(), before);
        /// # Ok::<(), mappedpages::Error>(())
        /// ```
        pub fn content_hash(&self) -> ContentHash {
            content_hash(&self.root)
        }
    };
}

impl<'s, const P: usize> ReadTxn<'s, P> {
    pub(crate) fn new(shared: &'s Shared) -> ReadTxn<'s, P> {
        Self::at(shared, &At::Version(Version(u64::MAX))).expect("the newest version is always readable")
    }

    /// A reader of the version `at` names: the newest (`Version(u64::MAX)` or its
    /// number), a kept older one, or a snapshot's.
    pub(crate) fn at(shared: &'s Shared, at: &At<'_>) -> Result<ReadTxn<'s, P>> {
        let (root, hold) = hold_version(shared, at, false)?;
        Ok(ReadTxn { shared, root, hold, view: shared.storage.view() })
    }

    /// The snapshot catalog published with the newest root when this
    /// transaction began (what `Store::snapshots` lists through it).
    pub(crate) fn snapshots(&self) -> &Arc<Vec<CatalogEntry>> {
        &self.hold.snapshots
    }

    fn reading(&self) -> Reading<'_, P> {
        Reading { shared: self.shared, root: &self.root, held: &self.hold, view: self.view }
    }

    /// A reader of this version's pages: `self.root` is held until this
    /// transaction drops, and the storage outlives it (the store owns it).
    pub(crate) fn reader(&self) -> PageReader<'_> {
        self.reading().reader()
    }

    read_methods!();
}

fn live_pages(root: &Root) -> u64 {
    if root.table_depth == 0 { 0 } else { root.table.live }
}

fn content_hash(root: &Root) -> ContentHash {
    ContentHash(if root.table_depth == 0 { [0; 16] } else { root.table.content })
}

impl<const P: usize> Drop for ReadTxn<'_, P> {
    fn drop(&mut self) {
        release(self.shared, &self.hold);
    }
}

/// A read transaction that owns an `Arc` of its store instead of borrowing it,
/// like redb's `ReadTransaction` and heed's `static_read_txn`: return it from a
/// function, keep it in a struct, move it into `std::thread::spawn`. Page
/// slices borrow the transaction, so they cannot outlive the pin on their
/// version. Made by [`Store::begin_read_owned`] and
/// [`Store::begin_read_owned_at`].
///
/// ```
/// use std::sync::Arc;
/// use mappedpages::Store;
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Arc::new(Store::<4096>::create(dir.path().join("s.db"))?);
/// let mut w = store.begin_write()?;
/// let id = w.alloc()?;
/// w.page_mut(id)?[0] = 7;
/// w.commit()?;
///
/// let r = Store::begin_read_owned(&store)?;
/// let t = std::thread::spawn(move || r.page(id).map(|p| p[0]));
/// let mut w = store.begin_write()?;           // the writer goes on meanwhile
/// w.page_mut(id)?[0] = 8;
/// w.commit()?;
/// assert_eq!(t.join().unwrap()?, 7);
/// # Ok(()) }
/// ```
///
/// A page slice cannot outlive the transaction (whose drop releases the pin
/// that keeps the writer off its bytes):
///
/// ```compile_fail,E0505
/// use std::sync::Arc;
/// use mappedpages::{PageId, Store};
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Arc::new(Store::<4096>::create(dir.path().join("s.db"))?);
/// let r = store.begin_read_owned()?;
/// let page = r.page(PageId::from_raw(0))?;
/// drop(r);
/// assert_eq!(page[0], 0);
/// # Ok(()) }
/// ```
pub struct OwnedReadTxn<const PAGE_SIZE: usize> {
    store: Arc<Store<PAGE_SIZE>>,
    root: Arc<Root>,
    hold: Held,
}

impl<const P: usize> OwnedReadTxn<P> {
    pub(crate) fn at(store: &Arc<Store<P>>, at: &At<'_>) -> Result<OwnedReadTxn<P>> {
        let (root, hold) = hold_version(&store.shared, at, true)?;
        Ok(OwnedReadTxn { store: Arc::clone(store), root, hold })
    }

    fn reading(&self) -> Reading<'_, P> {
        let shared = &self.store.shared;
        // A fresh view per call: the storage lives as long as `self.store`.
        Reading { shared, root: &self.root, held: &self.hold, view: shared.storage.view() }
    }

    /// The store this transaction reads.
    pub fn store(&self) -> &Arc<Store<P>> {
        &self.store
    }

    read_methods!();
}

impl<const P: usize> Drop for OwnedReadTxn<P> {
    fn drop(&mut self) {
        release(&self.store.shared, &self.hold);
    }
}
