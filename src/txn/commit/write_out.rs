//! Writing a planned commit out: grow the file, write every page and the
//! root, and sync as the durability level asks (SPEC.md section 9).

use super::Plan;
use crate::error::{Error, Result};
use crate::format::SECTOR;
use crate::options::Durability;
use crate::shared::{Shared, WriterState, lock};
use crate::storage::Storage;

/// Commits with fewer shadow pages than this count as small: they write
/// zeros ahead of the frontier (`txn::prefill`).
const SMALL_COMMIT_BELOW: usize = 32;

/// Zeros for `prefill` ranges, written a slice at a time.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// Writes pages sorted by location, one vectored write per contiguous run of
/// at most 1024 pages; with `early`, the device starts on each run at once
/// (a bulk commit's pages then reach the disk while the commit is planned).
pub(super) fn write_runs(storage: &dyn Storage, mut writes: Vec<(u64, &[u8])>, early: bool) -> Result<()> {
    writes.sort_unstable_by_key(|(l, _)| *l);
    let mut i = 0;
    while i < writes.len() {
        let start = writes[i].0;
        let mut j = i + 1;
        while j < writes.len() && j - i < 1024 && writes[j].0 == writes[j - 1].0 + writes[j - 1].1.len() as u64 / SECTOR
        {
            j += 1;
        }
        let bufs: Vec<&[u8]> = writes[i..j].iter().map(|(_, b)| *b).collect();
        storage.write_vectored(start * SECTOR, &bufs).map_err(Error::io("writing pages"))?;
        if early {
            storage.start_writeback(start * SECTOR, bufs.iter().map(|b| b.len() as u64).sum());
        }
        i = j;
    }
    Ok(())
}

/// Grows the file, writes every page and the root, and syncs as the durability
/// level asks. A failed grow leaves the store usable; a failed write or sync
/// poisons it, and a failed sync also hides the roots written since the last
/// successful one (`WriterState::sync_failed`).
pub(super) fn write_out(shared: &Shared, state: &mut WriterState, plan: &Plan<'_>) -> Result<()> {
    let storage = &*shared.storage;
    let options = &shared.options;
    if plan.file_len > storage.len() {
        storage.grow(plan.file_len).map_err(Error::io("growing the file"))?;
    }
    // The slot this commit writes held the rejected root (if any): it is gone now.
    if lock(&shared.rejected).as_ref().is_some_and(|r| r.slot == 1 - state.durable_slot) {
        *lock(&shared.rejected) = None;
    }
    let mut root = plan.root;
    let metadata = plan.writes.iter().map(|(l, b)| (*l, &b[..]));
    // Every page of the commit, the data pages already written included.
    let own: Vec<(u64, u64)> =
        metadata.clone().chain(plan.data.iter().copied()).map(|(l, b)| (l * SECTOR, b.len() as u64)).collect();
    let bytes: u64 = own.iter().map(|&(_, len)| len).sum();
    let frontier = state.frontier.unwrap_or(plan.file_len);
    let prefill = crate::txn::prefill::plan(frontier, plan.file_len, plan.data.len() < SMALL_COMMIT_BELOW, &own);
    let data = if plan.data_written { &[][..] } else { &plan.data[..] };
    let mut writes: Vec<(u64, &[u8])> = metadata.chain(data.iter().copied()).collect();
    let mut zeros = 0;
    for &(start, end) in &prefill.ranges {
        zeros += end - start;
        let mut at = start;
        while at < end {
            let n = (end - at).min(ZEROS.len() as u64);
            writes.push((at / SECTOR, &ZEROS[..n as usize]));
            at += n;
        }
    }
    // Any failed write or sync from here on leaves the file in an unknown state.
    state.poisoned = true;
    write_runs(storage, writes, false)?;
    state.frontier = Some(prefill.frontier);
    let durable = options.durability == Durability::Immediate
        || state.unsynced_bytes + bytes + zeros >= options.eventual_sync_bytes;
    // The zeros need no sync of their own: no root reaches them.
    if durable && bytes >= options.presync_bytes {
        if let Err(e) = storage.sync() {
            // Earlier unsynced commits' roots are in the slot this one writes.
            state.sync_failed(storage, &shared.slots, state.unsynced_bytes > 0);
            return Err(Error::Io { context: "syncing pages", path: None, source: e });
        }
        root.synced_through = root.version;
    }
    let slot = 1 - state.durable_slot;
    shared.slots.write(storage, slot, &root).map_err(Error::io("writing the root"))?;
    if durable {
        if let Err(e) = storage.sync() {
            state.sync_failed(storage, &shared.slots, true);
            return Err(Error::Io { context: "syncing the commit", path: None, source: e });
        }
        state.poisoned = false;
        state.durable_version = root.version;
        state.durable_slot = slot;
        state.unsynced_bytes = 0;
    } else {
        state.poisoned = false;
        state.unsynced_bytes += bytes + zeros + SECTOR;
    }
    Ok(())
}
