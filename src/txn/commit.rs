//! The commit: place shadow pages, rewrite the table and the free map, write the
//! pending list and the root, then sync (SPEC.md, "Commit protocol").

use crate::Version;
use crate::error::{Error, Result};
use crate::format::{ENTRY_ALLOCATED, Entry, PendingPage, Root, SECTOR, hash16, root_slot_offset};
use crate::space::{PendingGroup, SpaceMap, encode_chain};
use crate::store::{Durability, WriterState, lock, now_nanos};
use crate::table::{Batch, rewrite};

use super::write::{Slot, WriteTxn};

/// Runs the commit; always hands the writer state back (changed only on success
/// or poisoned on a failed write or sync).
pub(crate) fn commit<const P: usize>(txn: &WriteTxn<'_, P>, mut state: WriterState) -> (Result<Version>, WriterState) {
    let plan = match plan(txn, &state) {
        Ok(plan) => plan,
        Err(e) => return (Err(e), state),
    };
    match write_out(txn, &mut state, &plan) {
        Ok(()) => {}
        Err(e) => return (Err(e), state),
    }
    // Publish: readers from now on see the new root.
    let released = plan.released;
    state.pending.drain(..released);
    if let Some(group) = plan.group {
        state.pending.push_back(group);
    }
    state.free_hint = plan.free_hint;
    lock(&txn.shared.published).root = std::sync::Arc::new(plan.root);
    (Ok(Version(plan.root.version)), state)
}

/// Commits with at least this many shadow pages place them in one run.
const SEQUENTIAL_FROM: usize = 32;

/// Everything a commit writes, computed before the first byte goes out.
struct Plan<'t> {
    root: Root,
    /// New table, free-map and pending pages.
    writes: Vec<(u64, Box<[u8]>)>,
    /// Shadow pages, written straight from the transaction's buffers.
    data: Vec<(u64, &'t [u8])>,
    file_len: u64,
    /// Pending groups (oldest first) this commit returns to the free map.
    released: usize,
    group: Option<PendingGroup>,
    free_hint: u64,
}

fn plan<'t, const P: usize>(txn: &'t WriteTxn<'_, P>, state: &WriterState) -> Result<Plan<'t>> {
    let shared = txn.shared;
    let geo = &shared.geo;
    let base = &*txn.base;
    let version = base.version + 1;
    let reader = txn.reader();
    let mut space = SpaceMap::new(
        reader,
        geo,
        base.map,
        base.map_depth,
        base.file_len / SECTOR,
        shared.options.max_file_len / SECTOR,
    );
    space.free_hint = state.free_hint;
    let mut batch = Batch { writes: Vec::new(), frees: Vec::new(), version };

    // 1. Release pending groups no reader and no fallback root can need.
    let oldest_reader = lock(&shared.published).pins.keys().next().copied().unwrap_or(u64::MAX);
    let horizon = state.durable_version.min(oldest_reader);
    let mut released = 0;
    let mut floor = base.pending_floor;
    for group in state.pending.iter().take_while(|g| g.freed <= horizon) {
        for r in &group.records {
            space.release(r.location, r.sectors)?;
        }
        for &(location, written) in &group.pages {
            batch.free_page(location, written, geo.spp);
        }
        floor = floor.max(group.freed);
        released += 1;
    }

    // 2. Place the shadow pages, lowest id first, in runs of contiguous pages.
    let mut changes: Vec<(u64, Entry)> = Vec::with_capacity(txn.pages.len());
    let mut data: Vec<(u64, &[u8])> = Vec::new();
    for (&id, slot) in &txn.pages {
        match slot {
            Slot::New(None) => changes.push((id, zero_entry(shared.zero_hash, version))),
            Slot::New(Some(b)) | Slot::Changed(b) if b.iter().all(|&x| x == 0) => {
                changes.push((id, zero_entry(shared.zero_hash, version)))
            }
            Slot::New(Some(b)) | Slot::Changed(b) => {
                data.push((id, b));
                changes.push((id, Entry::default()));
            }
            Slot::Freed => changes.push((id, Entry::default())),
        }
    }
    // Shadow pages go to one contiguous run when a hole (or the file's end) has
    // room, so the commit reaches the disk as few sequential writes.
    // A few pages fill the lowest holes instead: that keeps the file compact.
    if data.len() >= SEQUENTIAL_FROM {
        space.reserve(data.len() as u64, space.free_hint)?;
    }
    let mut locations = Vec::with_capacity(data.len());
    while locations.len() < data.len() {
        let (start, run) = space.alloc_run((data.len() - locations.len()) as u64)?;
        locations.extend((0..run).map(|k| start + k * geo.spp));
    }
    // The table, free-map and pending pages of this commit: a second run, freed
    // whole by the next commit, so the same hole serves again.
    let next_id = txn.next_id;
    let new_depth = geo.table_depth_for(next_id).max(base.table_depth);
    let table_nodes: u64 = (0..new_depth as usize)
        .map(|level| {
            let mut last = None;
            changes
                .iter()
                .filter(|(id, _)| last.replace(id / geo.id_cover[level]) != Some(id / geo.id_cover[level]))
                .count() as u64
        })
        .sum();
    let map_nodes = 2 * (geo.map_depth_for(space.file_sectors) as u64 + 1);
    let frees_estimate = changes.len() as u64 + table_nodes + map_nodes + 1;
    let chain = frees_estimate.div_ceil(PendingPage::capacity(geo.page_size) as u64) + 1;
    space.reserve(table_nodes + map_nodes + chain, space.free_hint)?;
    let hashes = hash_pages(&data);
    let mut next_data =
        data.iter().map(|(id, _)| *id).zip(locations.iter().copied()).zip(hashes.iter().copied()).peekable();
    for (id, entry) in changes.iter_mut() {
        if let Some(&((did, location), content)) = next_data.peek()
            && did == *id
        {
            let mut stored_check = [0u8; 8];
            stored_check.copy_from_slice(&content[..8]);
            *entry = Entry {
                location,
                stored_len: P as u32,
                codec: 0,
                flags: ENTRY_ALLOCATED,
                birth: version,
                content,
                stored_check,
            };
            next_data.next();
        }
    }
    // Old extents of changed or freed pages leave with this version.
    let table = crate::table::TableView { reader, geo, root: base };
    for &(id, _) in &changes {
        if id < base.next_id {
            let old = table.entry(id)?;
            if old.is_allocated() && old.location != 0 {
                batch.frees.push(crate::format::PendingRecord {
                    location: old.location,
                    sectors: geo.spp,
                    birth: old.birth,
                    freed: version,
                });
            }
        }
    }
    // Freed ids this transaction also allocated never existed on disk.
    changes.retain(|(id, e)| e.is_allocated() || *id < base.next_id);

    // 3. The table.
    let table_top = rewrite(&reader, geo, base.table, base.table_depth, new_depth, &changes, &mut space, &mut batch)?;
    let data: Vec<(u64, &[u8])> =
        data.iter().zip(&locations).map(|(&(_, bytes), &location)| (location, bytes)).collect();

    // 4. The free map and the pending list, placed together until stable.
    let capacity = PendingPage::capacity(geo.page_size);
    let (map_top, map_depth, chain_locations) = space.commit(&mut batch, |n| n.div_ceil(capacity))?;
    let (chain_pages, head) = encode_chain(&batch.frees, &chain_locations, base.pending, version, geo.page_size);
    let group = (!batch.frees.is_empty()).then(|| PendingGroup {
        freed: version,
        records: batch.frees.clone(),
        pages: chain_pages.iter().map(|(l, _)| (*l, version)).collect(),
    });
    batch.writes.extend(chain_pages);

    let kept_sectors: u64 = state.pending.iter().skip(released).map(|g| g.sectors()).sum();
    let pending_sectors = kept_sectors + group.as_ref().map_or(0, |g| g.sectors());
    let file_len = space.file_sectors * SECTOR;
    let root = Root {
        version,
        commit_nanos: now_nanos(),
        synced_through: state.durable_version,
        file_len,
        next_id,
        table_depth: new_depth,
        map_depth,
        table: table_top,
        map: map_top,
        pending: if group.is_some() { head } else { base.pending },
        pending_floor: floor,
        pending_sectors,
    };
    Ok(Plan { root, writes: batch.writes, data, file_len, released, group, free_hint: space.free_hint })
}

fn zero_entry(zero_hash: crate::format::Hash16, version: u64) -> Entry {
    Entry { flags: ENTRY_ALLOCATED, birth: version, content: zero_hash, ..Entry::default() }
}

/// Content hashes of the pages to write; large batches use both cores.
fn hash_pages(data: &[(u64, &[u8])]) -> Vec<crate::format::Hash16> {
    const PARALLEL_FROM: usize = 256;
    if data.len() < PARALLEL_FROM {
        return data.iter().map(|(_, b)| hash16(b)).collect();
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = data.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = data
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|(_, b)| hash16(b)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("hashing thread panicked")).collect()
    })
}

/// Grows the file, writes every page and the root, and syncs as the durability
/// level asks. A failed grow leaves the store usable; a failed write or sync
/// poisons it.
fn write_out<const P: usize>(txn: &WriteTxn<'_, P>, state: &mut WriterState, plan: &Plan) -> Result<()> {
    let storage = &*txn.shared.storage;
    let options = &txn.shared.options;
    if plan.file_len > storage.len() {
        storage.grow(plan.file_len).map_err(Error::io("growing the file"))?;
    }
    if let Some(settle) = state.settle_before_write {
        // First commit since open: the recovered root must be durable, and a
        // rejected root gone, before anything overwrites space they reached.
        state.poisoned = true;
        if let Some(slot) = settle.clear_slot {
            storage
                .write(root_slot_offset(slot), &[0u8; SECTOR as usize])
                .map_err(Error::io("clearing a rejected root"))?;
        }
        storage.sync().map_err(Error::io("syncing the recovered root"))?;
        state.poisoned = false;
        state.settle_before_write = None;
    }
    // The slot this commit writes held the rejected root (if any): it is gone now.
    if lock(&txn.shared.rejected).as_ref().is_some_and(|r| r.slot == 1 - state.durable_slot) {
        *lock(&txn.shared.rejected) = None;
    }
    let mut root = plan.root;
    let mut writes: Vec<(u64, &[u8])> =
        plan.writes.iter().map(|(l, b)| (*l, &b[..])).chain(plan.data.iter().copied()).collect();
    writes.sort_unstable_by_key(|(l, _)| *l);
    let bytes: u64 = writes.iter().map(|(_, b)| b.len() as u64).sum();
    // Any failed write or sync from here on leaves the file in an unknown state.
    state.poisoned = true;
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
        i = j;
    }
    let durable =
        options.durability == Durability::Immediate || state.unsynced_bytes + bytes >= options.eventual_sync_bytes;
    if durable && bytes >= options.presync_bytes {
        storage.sync().map_err(Error::io("syncing pages"))?;
        root.synced_through = root.version;
    }
    let slot = 1 - state.durable_slot;
    storage.write(root_slot_offset(slot), &root.encode()).map_err(Error::io("writing the root"))?;
    if durable {
        storage.sync().map_err(Error::io("syncing the commit"))?;
        state.poisoned = false;
        state.durable_version = root.version;
        state.durable_slot = slot;
        state.unsynced_bytes = 0;
    } else {
        state.poisoned = false;
        state.unsynced_bytes += bytes + SECTOR;
    }
    Ok(())
}
