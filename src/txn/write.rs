//! The write transaction: shadow copies of pages, committed all at once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::error::{Error, Invalid, Limit, Result};
use crate::format::{Root, SECTOR};
use crate::shared::{Shared, WriterState, lock};
use crate::storage::{Hold, PageReader, RawView, page_starts};
use crate::table::{Check, TableView, read_page};
use crate::versions::{HistoryWindow, VersionOp};

use super::changes::{Changes, Slot};
use crate::ids::{PageId, Version};

/// The one open write transaction.
///
/// Every change is made to shadow copies and becomes visible, all at once, when
/// [`commit`](WriteTxn::commit) returns. Dropping the transaction (or calling
/// [`abort`](WriteTxn::abort)) discards every change and leaks no space.
pub struct WriteTxn<'s, const PAGE_SIZE: usize> {
    pub(crate) shared: &'s Shared,
    pub(crate) state: Option<WriterState>,
    pub(crate) base: Arc<Root>,
    /// The hold on the base version: what it reaches stays unwritten while
    /// this transaction reads it (its commit writes only free space).
    hold: Hold,
    pub(crate) view: RawView<'s>,
    /// Where the base root's pages may start (its data area, `page_starts`).
    page_bounds: (u64, u64),
    pub(crate) pages: BTreeMap<u64, Slot>,
    pub(crate) next_id: u64,
    hole_cursor: u64,
    /// Version operations (snapshots, history window) committed with the
    /// pages, in order.
    pub(crate) ops: Vec<VersionOp>,
    /// See `Changes::commit_as` (backup apply only).
    pub(crate) commit_as: Option<u64>,
    /// See `Changes::expect_content` (backup apply only).
    pub(crate) expect_content: Option<crate::format::Hash16>,
}

impl<'s, const P: usize> WriteTxn<'s, P> {
    pub(crate) fn new(shared: &'s Shared, state: WriterState) -> Result<WriteTxn<'s, P>> {
        let (base, hold) = {
            let mut published = lock(&shared.published);
            let base = Arc::clone(&published.root);
            let hold = published.pins.hold(base.version);
            (base, hold)
        };
        let txn = WriteTxn {
            shared,
            hold,
            view: shared.storage.view(),
            page_bounds: page_starts(shared.geo.first_data_sector, base.file_len / SECTOR, P),
            next_id: base.next_id,
            base,
            state: Some(state),
            pages: BTreeMap::new(),
            hole_cursor: 0,
            ops: Vec::new(),
            commit_as: None,
            expect_content: None,
        };
        if txn.state.as_ref().is_some_and(|s| s.poisoned) {
            return Err(Error::NeedsReopen);
        }
        Ok(txn)
    }

    /// A reader of the base version's pages, under this transaction's hold.
    pub(crate) fn reader(&self) -> PageReader<'_> {
        PageReader::new(self.view, P, self.hold.pin()).within_pages(self.page_bounds)
    }

    fn table(&self) -> TableView<'_> {
        TableView { reader: self.reader(), geo: &self.shared.geo, root: &self.base }
    }

    /// The version this transaction started from.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let w = store.begin_write()?;
    /// assert_eq!(w.base_version(), store.version());
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn base_version(&self) -> Version {
        Version(self.base.version)
    }

    /// True when `id` is allocated as this transaction sees it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// assert!(w.contains(id)?);
    /// w.free(id)?;
    /// assert!(!w.contains(id)?);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn contains(&self, id: PageId) -> Result<bool> {
        match self.pages.get(&id.get()) {
            Some(Slot::Freed) => Ok(false),
            Some(_) => Ok(true),
            None if id.get() >= self.base.next_id => Ok(false),
            None => Ok(self.table().entry(id.get())?.is_allocated()),
        }
    }

    fn find_free_id(&mut self) -> Result<u64> {
        let base_live = if self.base.table_depth == 0 { 0 } else { self.base.table.live };
        if base_live < self.base.next_id {
            while let Some(id) = self.table().first_free(self.hole_cursor)? {
                self.hole_cursor = id + 1;
                if !self.pages.contains_key(&id) {
                    return Ok(id);
                }
            }
            self.hole_cursor = self.base.next_id;
        }
        let id = self.next_id;
        if id >= self.shared.geo.id_capacity(crate::geometry::MAX_LEVELS as u8) {
            return Err(Error::Full(Limit::Ids));
        }
        self.next_id += 1;
        Ok(id)
    }

    /// Allocates a page (it reads as zeros until written) and returns its id.
    /// Ids of freed pages are reused, lowest first.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// assert!(w.page(id)?.iter().all(|&b| b == 0));
    /// w.commit()?;
    /// assert!(store.begin_read()?.contains(id)?);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn alloc(&mut self) -> Result<PageId> {
        let id = self.find_free_id()?;
        self.pages.insert(id, Slot::New(None));
        Ok(PageId::from_raw(id))
    }

    /// Allocates `n` pages.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let ids = w.alloc_bulk(3)?;
    /// assert_eq!(ids.len(), 3);
    /// w.commit()?;
    /// assert_eq!(store.page_count(), 3);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn alloc_bulk(&mut self, n: usize) -> Result<Vec<PageId>> {
        let mut ids = Vec::with_capacity(n.min(1 << 20));
        for _ in 0..n {
            ids.push(self.alloc()?);
        }
        Ok(ids)
    }

    fn check_free(&self, id: PageId) -> Result<()> {
        match self.pages.get(&id.get()) {
            Some(Slot::Freed) => Err(Error::DoubleFree(id)),
            Some(_) => Ok(()),
            None if id.get() >= self.next_id => Err(Error::OutOfRange(id)),
            None if id.get() >= self.base.next_id => Err(Error::NotAllocated(id)),
            // Every id below `next_id` was handed out by a commit, so one not
            // allocated now was freed by an earlier commit: as in 0.2 and the
            // sub-page allocator, freeing it again is a double free.
            None if !self.table().entry(id.get())?.is_allocated() => Err(Error::DoubleFree(id)),
            None => Ok(()),
        }
    }

    /// Frees a page. Its space returns once no reader needs it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.commit()?;
    /// let mut w = store.begin_write()?;
    /// w.free(id)?;
    /// assert!(matches!(w.free(id), Err(mappedpages::Error::DoubleFree(_))));
    /// w.commit()?;
    /// assert!(!store.begin_read()?.contains(id)?);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn free(&mut self, id: PageId) -> Result<()> {
        self.check_free(id)?;
        self.pages.insert(id.get(), Slot::Freed);
        Ok(())
    }

    /// Frees every page in `ids`, or none: all are checked first.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let ids = w.alloc_bulk(4)?;
    /// w.free_bulk(&ids[..2])?;
    /// w.commit()?;
    /// assert_eq!(store.page_count(), 2);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn free_bulk(&mut self, ids: &[PageId]) -> Result<()> {
        let mut seen = HashSet::with_capacity(ids.len());
        for &id in ids {
            if !seen.insert(id) {
                return Err(Error::DoubleFree(id));
            }
            self.check_free(id)?;
        }
        for &id in ids {
            self.pages.insert(id.get(), Slot::Freed);
        }
        Ok(())
    }

    /// The bytes of page `id` as this transaction sees them.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?[0] = 5;
    /// assert_eq!(w.page(id)?[0], 5); // the transaction sees its own change
    /// assert!(store.begin_read()?.page(id).is_err()); // readers do not, yet
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn page(&self, id: PageId) -> Result<&[u8]> {
        match self.pages.get(&id.get()) {
            Some(Slot::Freed) => Err(Error::NotAllocated(id)),
            Some(Slot::New(None)) => Ok(&self.shared.zero_page),
            Some(Slot::New(Some(b)) | Slot::Changed(b)) => Ok(b),
            None => {
                let e = self.table().entry(id.get())?;
                read_page(
                    &self.reader(),
                    &self.shared.zero_page,
                    &e,
                    id.get(),
                    Check::for_reads(self.shared.options.verify_reads),
                )
            }
        }
    }

    /// A mutable shadow copy of page `id`: the first call copies the committed
    /// contents; changes become visible to readers at commit.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?[..5].copy_from_slice(b"hello");
    /// w.commit()?;
    /// assert_eq!(&store.begin_read()?.page(id)?[..5], b"hello");
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn page_mut(&mut self, id: PageId) -> Result<&mut [u8]> {
        let key = id.get();
        if !self.pages.contains_key(&key) {
            let copy: Box<[u8]> = self.page(id)?.into();
            self.pages.insert(key, Slot::Changed(copy));
        }
        match self.pages.get_mut(&key).expect("present") {
            Slot::Freed => Err(Error::NotAllocated(id)),
            Slot::New(buf) => Ok(buf.get_or_insert_with(|| vec![0u8; P].into_boxed_slice())),
            Slot::Changed(b) => Ok(b),
        }
    }

    /// Copies `data` (exactly `PAGE_SIZE` bytes) into page `id`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.write(id, &[9u8; 4096])?;
    /// assert!(w.write(id, b"short").is_err()); // names both lengths
    /// w.commit()?;
    /// assert_eq!(store.begin_read()?.page(id)?[4095], 9);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn write(&mut self, id: PageId, data: &[u8]) -> Result<()> {
        if data.len() != P {
            return Err(Error::InvalidArgument(Invalid::WrongLength { expected: P, actual: data.len() }));
        }
        match self.pages.get_mut(&id.get()) {
            Some(Slot::Freed) => return Err(Error::NotAllocated(id)),
            Some(Slot::New(buf)) => *buf = Some(data.into()),
            Some(Slot::Changed(b)) => b.copy_from_slice(data),
            None => {
                match self.check_free(id) {
                    Err(Error::DoubleFree(id)) => return Err(Error::NotAllocated(id)),
                    other => other?,
                }
                self.pages.insert(id.get(), Slot::Changed(data.into()));
            }
        }
        Ok(())
    }

    /// Commits every change atomically and returns the new version. With
    /// [`Durability::Immediate`](crate::Durability::Immediate) the version is on
    /// disk when this returns.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?[0] = 1;
    /// let v = w.commit()?; // durable on return (Durability::Immediate)
    /// assert_eq!(store.version(), v);
    /// assert_eq!(store.begin_read()?.page(id)?[0], 1);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn commit(mut self) -> Result<Version> {
        let state = self.state.take().expect("state present until commit or drop");
        let changes = Changes {
            pages: &self.pages,
            next_id: self.next_id,
            ops: &self.ops,
            commit_as: self.commit_as,
            expect_content: self.expect_content,
        };
        let (result, state) = super::commit::commit(self.shared, &self.base, self.reader(), changes, state);
        self.state = Some(state);
        result
    }

    /// Discards every change.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.abort(); // as dropping it: nothing happened
    /// assert!(!store.begin_read()?.contains(id)?);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn abort(self) {}

    /// Keeps this transaction's base version under `name`, committed with the
    /// transaction (the store-level [`Store::create_snapshot`](crate::Store::create_snapshot)
    /// is a transaction of its own). The name is checked now; that no
    /// snapshot has it yet, at commit.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.create_snapshot("before")?; // keeps the base version
    /// w.commit()?;
    /// assert!(!store.begin_read_at(mappedpages::At::Snapshot("before"))?.contains(id)?);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn create_snapshot(&mut self, name: &str) -> Result<()> {
        crate::versions::validate_name(name)?;
        self.ops.push(VersionOp::CreateSnapshot(name.to_owned()));
        Ok(())
    }

    /// Deletes the snapshot `name` with this transaction's commit (which
    /// fails with [`Error::SnapshotNotFound`] if there is none).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// store.create_snapshot("old")?;
    /// let mut w = store.begin_write()?;
    /// w.delete_snapshot("old");
    /// w.commit()?;
    /// assert!(store.snapshots()?.is_empty());
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn delete_snapshot(&mut self, name: &str) {
        self.ops.push(VersionOp::DeleteSnapshot(name.to_owned()));
    }

    /// Stores `window` as the history window with this transaction's commit.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// w.set_history(mappedpages::HistoryWindow::versions(10));
    /// w.commit()?;
    /// assert_eq!(store.history_window().keep_versions, 10);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn set_history(&mut self, window: HistoryWindow) {
        self.ops.push(VersionOp::SetHistory(window));
    }

    /// Syncs the file (making every earlier commit durable) and ends the transaction.
    pub(crate) fn sync_and_abort(mut self) -> Result<()> {
        let state = self.state.as_mut().expect("state present");
        if state.unsynced_bytes == 0 && state.settle_before_write.is_none() {
            return Ok(());
        }
        match self.shared.storage.sync() {
            Ok(()) => {
                state.durable_version = self.base.version;
                state.durable_history_start = self.base.history_start;
                state.durable_snapshots = state.snapshots.clone();
                if state.unsynced_bytes > 0 {
                    state.durable_slot = 1 - state.durable_slot;
                }
                state.unsynced_bytes = 0;
                Ok(())
            }
            Err(e) => {
                // With unsynced bytes, the newest commit's root is in the
                // non-durable slot; without, the sync was only settle's (b).
                let root_written = state.unsynced_bytes > 0;
                state.sync_failed(&*self.shared.storage, &self.shared.slots, root_written);
                Err(Error::Io { context: "syncing the store", path: None, source: e })
            }
        }
    }
}

impl<const P: usize> Drop for WriteTxn<'_, P> {
    fn drop(&mut self) {
        lock(&self.shared.published).pins.release(&self.hold);
        let mut slot = lock(&self.shared.writer);
        slot.holder = None;
        match self.state.take() {
            Some(state) => {
                slot.state = Some(state);
                if slot.waiting > 0 {
                    self.shared.writer_free.notify_one();
                }
            }
            // Only a commit that panicked leaves no state to hand back.
            None => {
                slot.lost = true;
                self.shared.writer_free.notify_all();
            }
        }
    }
}
