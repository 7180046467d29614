//! The runtime state a store shares with its transactions: the storage, the
//! published root and pins readers hold, and the writer's state between
//! transactions.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::Result;
use crate::format::{CatalogEntry, Hash16, Header, Layout, Root, VersionSummary, hash16};
use crate::geometry::Geometry;
use crate::options::Options;
use crate::recovery::{RejectedRoot, SettleRecovery, recover};
use crate::space::{AllocationStrategy, PendingGroup};
use crate::storage::{Pins, Storage};
#[cfg(any(test, feature = "testing"))]
use crate::storage::{Quiet, copy_all};
use crate::txn::Readers;
use crate::versions::{history_held, summaries_from};

/// What a writer needs between transactions.
pub(crate) struct WriterState {
    /// Newest version known to be on disk.
    pub durable_version: u64,
    /// The version recovered at open: nodes written later were written by
    /// this handle (their checksums need no check when read back).
    pub opened_at: u64,
    /// Slot holding that version's root; commits write the other slot.
    pub durable_slot: usize,
    /// The lowest history start of that root and of every root committed since
    /// (a crash may go back to any of them), so what their windows keep stays.
    pub durable_history_start: u64,
    pub unsynced_bytes: u64,
    /// Pending-free groups, oldest first.
    pub pending: VecDeque<PendingGroup>,
    /// Set when a write or sync failed: the store must be reopened.
    pub poisoned: bool,
    /// Set at open: the recovered root may have reached only the page cache (the
    /// last writer may have died before its sync), and the other slot may hold a
    /// rejected root. The first commit clears that slot and syncs before it
    /// writes anything else.
    pub settle_before_write: Option<SettleRecovery>,
    /// The first commit checks the file's structure first
    /// (`Options::check_before_first_commit`); cleared once it passed.
    pub check_before_write: bool,
    /// Where commits' pages go; taken by a commit while it places them.
    pub placement: Option<Box<dyn AllocationStrategy>>,
    /// The lowest byte no commit wrote since the store was opened: small
    /// commits write zeros ahead of it (`txn::prefill`). Found by the first
    /// commit, so that opening asks the file system nothing.
    pub frontier: Option<u64>,
    /// The snapshot catalog.
    pub snapshots: Vec<CatalogEntry>,
    /// The snapshots of that root and of every root committed since (a crash
    /// may go back to any of them): they keep their pages until a root without
    /// them is durable.
    pub durable_snapshots: Vec<CatalogEntry>,
    /// (sector, written) of the catalog's pages.
    pub catalog_pages: Vec<(u64, u64)>,
}

impl WriterState {
    /// A sync failed (SPEC.md section 9, "A failed sync"): nothing written
    /// since the last successful one may be trusted, now or after a reopen,
    /// yet the page cache may go on showing it (Linux marks the pages clean
    /// and never writes them). With `root_written` (a root went into the
    /// non-durable slot since that sync) the slot is overwritten with zeros,
    /// through the cache like any write, so that a reopen, in this process or
    /// another, finds no root newer than the durable one in the other slot.
    /// The store is poisoned either way; if the zero write fails too, a reopen
    /// before a reboot may accept the root it should have hidden (the window
    /// SPEC.md section 10 describes).
    pub fn sync_failed(&mut self, storage: &dyn Storage, slots: &RootSlots, root_written: bool) {
        self.poisoned = true;
        if root_written {
            let _ = slots.clear(storage, 1 - self.durable_slot);
        }
    }
}

/// The committed root and the versions readers hold.
pub(crate) struct Published {
    pub root: Arc<Root>,
    /// The versions open transactions hold.
    pub pins: Pins,
    /// The open read transactions (what they hold, since when).
    pub readers: Readers,
    /// Snapshots readers may open.
    pub snapshots: Arc<Vec<CatalogEntry>>,
    /// Older versions readers may open, oldest first.
    pub history: Arc<Vec<VersionSummary>>,
    /// Sectors of content records held only for the history window.
    pub history_sectors: u64,
}

pub(crate) struct Shared {
    pub storage: Box<dyn Storage>,
    pub geo: Geometry,
    pub options: Options,
    pub header: Header,
    pub zero_page: Box<[u8]>,
    pub zero_hash: Hash16,
    pub published: Mutex<Published>,
    pub writer: Mutex<WriterSlot>,
    /// Signalled when the writer state returns while `WriterSlot::waiting > 0`.
    pub writer_free: Condvar,
    pub writable: bool,
    /// A root newer than the recovered one that failed recovery's checks, or
    /// a slot that held no valid root.
    pub rejected: Mutex<Option<RejectedRoot>>,
    /// Every write of a root slot after open, and verify's read of them.
    pub slots: RootSlots,
}

/// The root slots after open. Commits write them while readers go on, and
/// `verify` reads them: both go through one lock, so that verify copies the
/// meta area while no root write changes it (SPEC.md section 14: nothing reads
/// bytes that are being written).
pub(crate) struct RootSlots {
    layout: Layout,
    lock: Mutex<()>,
}

impl RootSlots {
    pub fn new(layout: Layout) -> RootSlots {
        RootSlots { layout, lock: Mutex::new(()) }
    }

    /// Writes `root` into `slot`.
    pub fn write(&self, storage: &dyn Storage, slot: usize, root: &Root) -> std::io::Result<()> {
        let _g = lock(&self.lock);
        storage.write(self.layout.root_slot_offset(slot), &root.encode())
    }

    /// Zeroes `slot`: its record and (format 3) the rest of its block, which
    /// a torn write may have garbled too.
    pub fn clear(&self, storage: &dyn Storage, slot: usize) -> std::io::Result<()> {
        let _g = lock(&self.lock);
        storage.write(self.layout.root_slot_offset(slot), &vec![0u8; self.layout.slot_len() as usize])
    }

    /// A copy of the first `len` bytes of the file (the meta area), taken
    /// while no root is written.
    pub fn copy_meta(&self, reader: &crate::storage::PageReader<'_>, len: usize) -> Result<Vec<u8>> {
        let _g = lock(&self.lock);
        reader.bytes(0, len, crate::Structure::File).map(<[u8]>::to_vec)
    }
}

/// The writer state while no write transaction holds it, and how many callers
/// of `begin_write` wait for it (so that a commit wakes nobody, with no system
/// call, when nobody waits).
pub(crate) struct WriterSlot {
    pub state: Option<WriterState>,
    pub waiting: usize,
    /// The thread that began the open write transaction: `begin_write` from
    /// that thread would wait for itself, so it fails at once instead.
    pub holder: Option<std::thread::ThreadId>,
    /// A commit panicked: the writer state went with it, so no write
    /// transaction can begin again (the store must be reopened). Waiters are
    /// woken to be told so instead of waiting forever.
    pub lost: bool,
}

impl WriterSlot {
    /// Takes the writer state for a transaction begun on this thread.
    pub fn take(&mut self) -> Option<WriterState> {
        let state = self.state.take()?;
        self.holder = Some(std::thread::current().id());
        Some(state)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Opens the store on `storage`: recovery picks the root (SPEC.md
    /// section 10); a writer also gets the state its commits need.
    pub fn open(mut storage: Box<dyn Storage>, options: Options, page_size: usize, writable: bool) -> Result<Shared> {
        let zero_page = vec![0u8; page_size].into_boxed_slice();
        let zero_hash = hash16(&zero_page);
        let r = recover(&mut *storage, page_size, zero_hash)?;
        let geo = r.geo;
        let slots = RootSlots::new(geo.layout);
        let published = Published {
            root: Arc::new(r.root),
            pins: Pins::default(),
            readers: Readers::default(),
            snapshots: Arc::new(r.snapshots.clone()),
            history: Arc::new(summaries_from(r.pending.iter(), r.root.history_start)),
            history_sectors: history_held(r.pending.iter(), r.root.history_start),
        };
        let writer = writable.then(|| WriterState {
            durable_version: r.root.version,
            opened_at: r.root.version,
            durable_history_start: r.root.history_start,
            durable_slot: r.slot,
            unsynced_bytes: 0,
            pending: r.pending,
            poisoned: false,
            settle_before_write: Some(r.settle),
            check_before_write: options.check_before_first_commit,
            placement: Some(options.allocation.make(&geo)),
            frontier: None,
            durable_snapshots: r.snapshots.clone(),
            snapshots: r.snapshots,
            catalog_pages: r.catalog_pages,
        });
        Ok(Shared {
            storage,
            geo,
            options,
            header: r.header,
            zero_page,
            zero_hash,
            published: Mutex::new(published),
            writer: Mutex::new(WriterSlot { state: writer, waiting: 0, holder: None, lost: false }),
            writer_free: Condvar::new(),
            writable,
            rejected: Mutex::new(r.rejected),
            slots,
        })
    }

    /// A copy of the whole file, taken while nothing writes it: the writer
    /// slot stays locked meanwhile. `None` while a write transaction is open.
    /// (Test tooling: `testing::image`.)
    #[cfg(any(test, feature = "testing"))]
    pub fn image(&self) -> Option<Vec<u8>> {
        let slot = lock(&self.writer);
        let quiet = Quiet::writer_parked(&slot, slot.state.is_some() || !self.writable)?;
        Some(copy_all(&*self.storage, quiet))
    }

    pub fn current(&self) -> Arc<Root> {
        Arc::clone(&lock(&self.published).root)
    }
}
