//! The runtime state a store shares with its transactions: the storage, the
//! published root and pins readers hold, and the writer's state between
//! transactions.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::Result;
use crate::format::{CatalogEntry, Hash16, Header, Root, SECTOR, VersionSummary, hash16, root_slot_offset};
use crate::geometry::Geometry;
use crate::options::Options;
use crate::recovery::{RejectedRoot, SettleRecovery, recover};
use crate::space::{AllocationStrategy, PendingGroup};
use crate::storage::{Pins, Storage};
#[cfg(any(test, feature = "testing"))]
use crate::storage::{Quiet, copy_all};
use crate::versions::{history_held, summaries_from};

/// What a writer needs between transactions.
pub(crate) struct WriterState {
    /// Newest version known to be on disk.
    pub durable_version: u64,
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
    pub fn sync_failed(&mut self, storage: &dyn Storage, root_written: bool) {
        self.poisoned = true;
        if root_written {
            let _ = storage.write(root_slot_offset(1 - self.durable_slot), &[0u8; SECTOR as usize]);
        }
    }
}

/// The committed root and the versions readers hold.
pub(crate) struct Published {
    pub root: Arc<Root>,
    /// The versions open transactions hold.
    pub pins: Pins,
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
    /// A root newer than the recovered one that failed recovery's checks.
    pub rejected: Mutex<Option<RejectedRoot>>,
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
        let geo = Geometry::new(page_size);
        let zero_page = vec![0u8; page_size].into_boxed_slice();
        let zero_hash = hash16(&zero_page);
        let r = recover(&mut *storage, &geo, zero_hash)?;
        let published = Published {
            root: Arc::new(r.root),
            pins: Pins::default(),
            snapshots: Arc::new(r.snapshots.clone()),
            history: Arc::new(summaries_from(r.pending.iter(), r.root.history_start)),
            history_sectors: history_held(r.pending.iter(), r.root.history_start),
        };
        let writer = writable.then(|| WriterState {
            durable_version: r.root.version,
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
