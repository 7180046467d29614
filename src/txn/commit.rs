//! The commit: place shadow pages, rewrite the table and the free map, write the
//! pending list and the root, then sync (SPEC.md, "Commit protocol").

use std::collections::BTreeMap;

use crate::Version;
use crate::error::{Error, Result};
use crate::format::{
    CatalogEntry, CatalogPage, ChainRef, DEADLIST_MAGIC, ENTRY_ALLOCATED, Entry, PENDING_MAGIC, PendingRecord,
    RecordKind, Root, SECTOR, VersionSummary, hash16, root_slot_offset,
};
use crate::space::{PageWrite, PendingGroup, SpaceMap, encode_chain, page_records, pages_for, read_chain};
use crate::store::{Durability, WriterState, lock, now_nanos};
use crate::table::{Batch, rewrite};
use crate::versions::{HistoryWindow, history_start, validate_name};

use super::write::{Slot, WriteTxn};

/// Runs the commit; always hands the writer state back (changed only on success
/// or poisoned on a failed write or sync).
pub(crate) fn commit<const P: usize>(txn: &WriteTxn<'_, P>, mut state: WriterState) -> (Result<Version>, WriterState) {
    if let Err(e) = crate::store::settle(&*txn.shared.storage, &mut state) {
        return (Err(e), state);
    }
    // Before anything grows the file (`txn::prefill`).
    if state.frontier.is_none() {
        state.frontier = Some(super::prefill::start(&*txn.shared.storage, &txn.shared.geo));
    }
    let plan = match plan(txn, &state) {
        Ok(plan) => plan,
        Err(e) => {
            republish(txn, &state);
            return (Err(e), state);
        }
    };
    if let Err(e) = write_out(txn, &mut state, &plan) {
        republish(txn, &state);
        return (Err(e), state);
    }
    // The commit is written: apply the retention decisions to the writer state.
    let r = &plan.retention;
    for (i, group) in state.pending.iter_mut().enumerate() {
        group.structure_released |= i < r.structure_upto;
        group.content_released |= i < r.content_upto;
    }
    state.pending.drain(..r.drop_upto);
    if let Some(group) = plan.group {
        state.pending.push_back(group);
    }
    state.snapshots = plan.snapshots;
    if state.durable_version == plan.root.version {
        state.durable_history_start = plan.root.history_start;
        state.durable_snapshots = state.snapshots.clone();
    } else {
        // Not durable: a crash may go back to this root or to any since the
        // durable one, so what any of them keeps stays kept.
        state.durable_history_start = state.durable_history_start.min(plan.root.history_start);
        for s in &state.snapshots {
            if !state.durable_snapshots.iter().any(|d| d.name == s.name && d.summary.version == s.summary.version) {
                state.durable_snapshots.push(s.clone());
            }
        }
    }
    state.catalog_pages = plan.catalog_pages;
    state.free_hint = plan.free_hint;
    state.hole_hint = plan.hole_hint;
    state.fill_cursor = plan.fill_cursor;
    let mut published = lock(&txn.shared.published);
    published.root = std::sync::Arc::new(plan.root);
    published.snapshots = std::sync::Arc::new(state.snapshots.clone());
    published.history = std::sync::Arc::new(retained_summaries(&state, plan.history_start));
    published.history_sectors = history_held(state.pending.iter(), plan.history_start);
    (Ok(Version(plan.root.version)), state)
}

/// The history versions readers may open: summaries of versions at or after
/// `start`, oldest first.
pub(crate) fn retained_summaries(state: &WriterState, start: u64) -> Vec<VersionSummary> {
    summaries_from(state.pending.iter(), start)
}

/// Sectors of content records the history window keeps: those of groups
/// freed after `history_start` (older versions in the window reach them).
pub(crate) fn history_held<'g>(groups: impl Iterator<Item = &'g PendingGroup>, history_start: u64) -> u64 {
    groups
        .filter(|g| !g.content_released && g.freed > history_start)
        .flat_map(|g| g.records.iter().filter(|r| r.kind == RecordKind::Content))
        .map(|r| r.sectors)
        .sum()
}

pub(crate) fn summaries_from<'g>(groups: impl Iterator<Item = &'g PendingGroup>, start: u64) -> Vec<VersionSummary> {
    groups.filter_map(|g| g.summary).filter(|s| s.version >= start).collect()
}

/// After a failed commit, readers may again open what the plan withdrew.
fn republish<const P: usize>(txn: &WriteTxn<'_, P>, state: &WriterState) {
    let mut published = lock(&txn.shared.published);
    published.snapshots = std::sync::Arc::new(state.snapshots.clone());
    published.history = std::sync::Arc::new(retained_summaries(state, txn.base.history_start));
}

/// Commits with at least this many shadow pages place them in one run.
const SEQUENTIAL_FROM: usize = 32;

/// Free-map leaves a commit's run may span, beyond those already changed.
const RUN_LEAVES: u64 = 2;

/// Prefix lengths of the pending groups (oldest first) whose structure records,
/// content records, or pages this commit releases.
#[derive(Default)]
struct Retention {
    structure_upto: usize,
    content_upto: usize,
    drop_upto: usize,
}

/// Everything a commit writes, computed before the first byte goes out.
struct Plan<'t> {
    root: Root,
    /// New table, free-map, list and catalog pages.
    writes: Vec<PageWrite>,
    /// Shadow pages, written straight from the transaction's buffers.
    data: Vec<(u64, &'t [u8])>,
    /// The shadow pages are already written (large commits, while hashing).
    data_written: bool,
    file_len: u64,
    retention: Retention,
    group: Option<PendingGroup>,
    snapshots: Vec<CatalogEntry>,
    catalog_pages: Vec<(u64, u64)>,
    history_start: u64,
    free_hint: u64,
    hole_hint: u64,
    fill_cursor: u64,
}

fn plan<'t, const P: usize>(txn: &'t WriteTxn<'_, P>, state: &WriterState) -> Result<Plan<'t>> {
    let shared = txn.shared;
    let geo = &shared.geo;
    let base = &*txn.base;
    // Decoding refuses a root with the last version; a root made here is one newer.
    let version = base.version.checked_add(1).ok_or(Error::Full("version numbers are exhausted"))?;
    let now = now_nanos();
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
    space.fill_cursor = state.fill_cursor;
    let mut batch = Batch { writes: Vec::new(), frees: Vec::new(), version };
    let window =
        txn.history.unwrap_or(HistoryWindow { keep_versions: base.keep_versions, keep_seconds: base.keep_seconds });
    // The new root keeps versions from `history_start` on readable; what they
    // reach is released only once the fallback root (the durable one a crash
    // would go back to) no longer keeps them either.
    let history_start = history_start(window, &state.pending, version, now);
    let content_limit = history_start.min(state.durable_history_start);

    // 0. Snapshot changes asked for, checked before anything else.
    let mut snapshots = state.snapshots.clone();
    let mut catalog_changed = false;
    let mut carried: Vec<PendingRecord> = Vec::new();
    let mut deadlist_adds: BTreeMap<usize, Vec<PendingRecord>> = BTreeMap::new();
    if let Some(name) = &txn.delete_snapshot {
        let at = snapshots.iter().position(|s| &s.name == name).ok_or_else(|| Error::SnapshotNotFound(name.clone()))?;
        let gone = snapshots.remove(at);
        catalog_changed = true;
        // Its deadlist goes to the snapshot before it where that one still
        // reaches a record; the rest waits only for transient pins.
        let prev = snapshots.iter().rposition(|s| s.summary.version < gone.summary.version);
        read_chain(&reader, gone.deadlist, 0, DEADLIST_MAGIC, |location, h, page| {
            batch.free_page(location, h.written, geo.spp, RecordKind::Structure);
            for r in page_records(page, location)? {
                match prev {
                    Some(p) if snapshots[p].summary.version >= r.birth => deadlist_adds.entry(p).or_default().push(r),
                    _ => carried.push(PendingRecord { kind: RecordKind::Structure, ..r }),
                }
            }
            Ok(())
        })?;
    }

    // 1. Withdraw from readers what this commit may release, then decide.
    let transient = {
        let mut published = lock(&shared.published);
        published.history = std::sync::Arc::new(retained_summaries(state, history_start));
        published.snapshots = std::sync::Arc::new(snapshots.clone());
        let oldest_reader = published.pins.keys().next().copied().unwrap_or(u64::MAX);
        state.durable_version.min(oldest_reader)
    };
    let mut retention = Retention::default();
    let mut structure_floor = base.structure_floor;
    let mut content_floor = base.pending_floor;
    let mut history_floor = base.history_floor;
    for (i, group) in state.pending.iter().enumerate() {
        if group.freed > transient {
            break;
        }
        if !group.structure_released {
            for r in group.records.iter().filter(|r| r.kind == RecordKind::Structure) {
                space.release(r.location, r.sectors)?;
            }
        }
        structure_floor = structure_floor.max(group.freed);
        retention.structure_upto = i + 1;
    }
    for (i, group) in state.pending.iter().enumerate().take(retention.structure_upto) {
        if group.freed > content_limit {
            break;
        }
        if !group.content_released {
            for r in group.records.iter().filter(|r| r.kind == RecordKind::Content) {
                // The newest snapshot older than the record's death keeps it if
                // it is as new as its birth. Decided on the snapshots before
                // this commit and those of the durable root: a crash may go
                // back to a root that still has a snapshot deleted since.
                let owner = state
                    .snapshots
                    .iter()
                    .chain(&state.durable_snapshots)
                    .filter(|s| s.summary.version < r.freed)
                    .max_by_key(|s| s.summary.version);
                match owner {
                    Some(o) if o.summary.version >= r.birth => {
                        match snapshots.iter().position(|s| s.name == o.name && s.summary.version == o.summary.version)
                        {
                            Some(p) => deadlist_adds.entry(p).or_default().push(*r),
                            None => {
                                // Deleted in this commit: the snapshot before it, or
                                // only transient pins (the fallback root).
                                match snapshots.iter().rposition(|s| s.summary.version < o.summary.version) {
                                    Some(p) if snapshots[p].summary.version >= r.birth => {
                                        deadlist_adds.entry(p).or_default().push(*r)
                                    }
                                    _ => carried.push(PendingRecord { kind: RecordKind::Structure, ..*r }),
                                }
                            }
                        }
                    }
                    _ => space.release(r.location, r.sectors)?,
                }
            }
        }
        content_floor = content_floor.max(group.freed);
        retention.content_upto = i + 1;
    }
    for (i, group) in state.pending.iter().enumerate().take(retention.content_upto) {
        if group.freed >= history_start {
            break;
        }
        for &(location, written) in &group.pages {
            batch.free_page(location, written, geo.spp, RecordKind::Structure);
        }
        history_floor = history_floor.max(group.freed);
        retention.drop_upto = i + 1;
    }
    if let Some(name) = &txn.create_snapshot {
        validate_name(name)?;
        if snapshots.iter().any(|s| &s.name == name) {
            return Err(Error::SnapshotExists(name.clone()));
        }
        snapshots.push(CatalogEntry {
            name: name.clone(),
            summary: VersionSummary {
                version: base.version,
                commit_nanos: base.commit_nanos,
                next_id: base.next_id,
                table_depth: base.table_depth,
                table: base.table,
            },
            created_nanos: now,
            deadlist: ChainRef::default(),
            deadlist_sectors: 0,
        });
        catalog_changed = true;
    }
    catalog_changed |= !deadlist_adds.is_empty();
    if catalog_changed {
        for &(location, written) in &state.catalog_pages {
            batch.free_page(location, written, geo.spp, RecordKind::Structure);
        }
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
    // The table, free-map, list and catalog pages of this commit, estimated
    // from above so that they all fit the run set aside for them.
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
    // The map nodes the releases above changed, and those of the leaves the
    // run may touch.
    let map_nodes = space.changed_nodes_with(RUN_LEAVES);
    let frees_estimate = changes.len() + batch.frees.len() + carried.len() + (table_nodes + map_nodes) as usize + 1;
    let lists = pages_for(frees_estimate, geo.page_size, true) as u64 + 1 + deadlist_adds.len() as u64;
    let meta = table_nodes + map_nodes + lists;
    // Many shadow pages go to one contiguous run with the metadata when a hole
    // holds both, else to a run (or a few) of their own, so the commit reaches
    // the disk as few sequential writes. A few pages go by next fit to small
    // holes near the last ones (`SpaceMap::alloc_run`).
    let hint = state.hole_hint.min(space.free_hint);
    if data.len() >= SEQUENTIAL_FROM {
        let all = data.len() as u64 + meta;
        if !space.reserve_hole(all, hint)? {
            if space.scarce(all)? {
                // Both go to the end of the file.
                space.reserve(all, hint)?;
            } else {
                space.reserve(data.len() as u64, state.hole_hint)?;
            }
        }
    }
    let mut locations = Vec::with_capacity(data.len());
    while locations.len() < data.len() {
        let (start, run) = space.alloc_run((data.len() - locations.len()) as u64)?;
        locations.extend((0..run).map(|k| start + k * geo.spp));
    }
    // The metadata: a run freed whole by a later commit, so the hole serves
    // again: the first hole from the hint that holds the pages the commit
    // most likely writes (no new map leaves, one list page), up to the
    // estimate; the rare page beyond it goes by next fit.
    if space.reserved_pages() < meta {
        let likely = (table_nodes + space.changed_nodes_with(0) + 1).min(meta);
        if !space.reserve_hole_between(likely, meta, state.hole_hint)? {
            space.reserve(meta, hint)?;
        }
    }
    // Large commits write their shadow pages while hashing them. The pages go
    // to space that no root reaches, so writing them before the plan is done is
    // safe: if the plan fails, they stay free. (`commit` has already run
    // `settle`, so the recovered root is durable.)
    let early = data.len() >= EARLY_WRITE_FROM;
    let hashes = if early {
        let storage = &*shared.storage;
        let end = space.file_sectors * SECTOR;
        if end > storage.len() {
            storage.grow(end).map_err(Error::io("growing the file"))?;
        }
        let placed: Vec<(u64, &[u8])> = data.iter().zip(&locations).map(|(&(_, b), &l)| (l, b)).collect();
        let (written, hashes) = std::thread::scope(|s| {
            let writer = s.spawn(|| write_runs(storage, placed, true));
            let hashes = hash_pages(&data);
            (writer.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), hashes)
        });
        written?;
        hashes
    } else {
        hash_pages(&data)
    };
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
                batch.free_page(old.location, old.birth, geo.spp, RecordKind::Content);
            }
        }
    }
    // Freed ids this transaction also allocated never existed on disk.
    changes.retain(|(id, e)| e.is_allocated() || *id < base.next_id);

    // 3. The table.
    let table_top = rewrite(&reader, geo, base.table, base.table_depth, new_depth, &changes, &mut space, &mut batch)?;
    let data: Vec<(u64, &[u8])> =
        data.iter().zip(&locations).map(|(&(_, bytes), &location)| (location, bytes)).collect();

    // 4. The free map, the pending list, deadlists and the catalog, placed
    //    together until stable (placing a page can change the free map).
    let history = window.is_enabled();
    let deadlist_pages: Vec<usize> = deadlist_adds.values().map(|r| pages_for(r.len(), geo.page_size, false)).collect();
    let fixed: usize = deadlist_pages.iter().sum::<usize>();
    let catalog_count = |n: usize| if catalog_changed { n.div_ceil(CatalogPage::capacity(geo.page_size)) } else { 0 };
    let catalog_n = catalog_count(snapshots.len());
    let carried_n = carried.len();
    let (map_top, map_depth, extra) =
        space.commit(&mut batch, |frees| pages_for(frees + carried_n, geo.page_size, history) + fixed + catalog_n)?;
    let summary = VersionSummary { version, commit_nanos: now, next_id, table_depth: new_depth, table: table_top };
    let mut records = std::mem::take(&mut batch.frees);
    records.extend(carried);
    let n_chain = pages_for(records.len(), geo.page_size, history);
    let (chain_locations, rest) = extra.split_at(n_chain);
    let (chain_pages, head) = encode_chain(
        &records,
        chain_locations,
        base.pending,
        version,
        PENDING_MAGIC,
        history.then_some(&summary),
        geo.page_size,
    );
    let group = (!chain_pages.is_empty()).then(|| PendingGroup {
        freed: version,
        summary: history.then_some(summary),
        pages: chain_pages.iter().map(|(l, _)| (*l, version)).collect(),
        records,
        structure_released: false,
        content_released: false,
    });
    batch.writes.extend(chain_pages);
    let (deadlist_locations, catalog_locations) = rest.split_at(fixed);
    let mut at = 0;
    for ((&snap, adds), &n) in deadlist_adds.iter().zip(&deadlist_pages) {
        let entry = &mut snapshots[snap];
        let (pages, head) = encode_chain(
            adds,
            &deadlist_locations[at..at + n],
            entry.deadlist,
            version,
            DEADLIST_MAGIC,
            None,
            geo.page_size,
        );
        at += n;
        entry.deadlist = head;
        entry.deadlist_sectors += adds.iter().map(|r| r.sectors).sum::<u64>();
        batch.writes.extend(pages);
    }
    let (catalog_head, catalog_pages) = if catalog_changed {
        let (pages, head) = encode_catalog(&snapshots, catalog_locations, version, geo.page_size);
        let list = pages.iter().map(|(l, _)| (*l, version)).collect();
        batch.writes.extend(pages);
        (head, list)
    } else {
        (base.catalog, state.catalog_pages.clone())
    };

    let kept: u64 = state
        .pending
        .iter()
        .enumerate()
        .skip(retention.drop_upto)
        .map(|(i, g)| {
            g.held_sectors_if(
                g.structure_released || i < retention.structure_upto,
                g.content_released || i < retention.content_upto,
            )
        })
        .sum();
    let pending_sectors = kept + group.as_ref().map_or(0, |g| g.held_sectors_if(false, false));
    let file_len = space.file_sectors * SECTOR;
    let root = Root {
        version,
        commit_nanos: now,
        synced_through: state.durable_version,
        file_len,
        next_id,
        table_depth: new_depth,
        map_depth,
        table: table_top,
        map: map_top,
        pending: group.as_ref().map_or(base.pending, |_| head),
        pending_floor: content_floor,
        pending_sectors,
        catalog: catalog_head,
        structure_floor,
        history_floor,
        keep_versions: window.keep_versions,
        keep_seconds: window.keep_seconds,
        snapshot_sectors: snapshots.iter().map(|s| s.deadlist_sectors).sum(),
        history_start,
    };
    Ok(Plan {
        root,
        writes: batch.writes,
        data,
        data_written: early,
        file_len,
        retention,
        group,
        snapshots,
        catalog_pages,
        history_start,
        free_hint: space.free_hint,
        hole_hint: space.last_hole.unwrap_or(state.hole_hint),
        fill_cursor: space.fill_cursor,
    })
}

/// Encodes the catalog into pages at `locations`, first page first.
fn encode_catalog(
    entries: &[CatalogEntry],
    locations: &[u64],
    version: u64,
    page_size: usize,
) -> (Vec<PageWrite>, ChainRef) {
    let capacity = CatalogPage::capacity(page_size);
    let chunks: Vec<&[CatalogEntry]> = entries.chunks(capacity).collect();
    let mut next = ChainRef::default();
    let mut out = Vec::new();
    // Built back to front: each page links to the one after it.
    for (chunk, &location) in chunks.iter().zip(locations).rev() {
        let mut page = vec![0u8; page_size].into_boxed_slice();
        CatalogPage::encode(&mut page, version, &next, chunk);
        next = ChainRef { location, written: version, checksum: hash16(&page) };
        out.push((location, page));
    }
    (out, next)
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

/// Zeros for `prefill` ranges, written a slice at a time.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// Commits with at least this many shadow pages write them while hashing.
const EARLY_WRITE_FROM: usize = 256;

/// Writes pages sorted by location, one vectored write per contiguous run of
/// at most 1024 pages; with `early`, the device starts on each run at once
/// (a bulk commit's pages then reach the disk while the commit is planned).
fn write_runs(storage: &dyn crate::storage::Storage, mut writes: Vec<(u64, &[u8])>, early: bool) -> Result<()> {
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
/// poisons it.
fn write_out<const P: usize>(txn: &WriteTxn<'_, P>, state: &mut WriterState, plan: &Plan) -> Result<()> {
    let storage = &*txn.shared.storage;
    let options = &txn.shared.options;
    if plan.file_len > storage.len() {
        storage.grow(plan.file_len).map_err(Error::io("growing the file"))?;
    }
    // The slot this commit writes held the rejected root (if any): it is gone now.
    if lock(&txn.shared.rejected).as_ref().is_some_and(|r| r.slot == 1 - state.durable_slot) {
        *lock(&txn.shared.rejected) = None;
    }
    let mut root = plan.root;
    let metadata = plan.writes.iter().map(|(l, b)| (*l, &b[..]));
    // Every page of the commit, the data pages already written included.
    let own: Vec<(u64, u64)> =
        metadata.clone().chain(plan.data.iter().copied()).map(|(l, b)| (l * SECTOR, b.len() as u64)).collect();
    let bytes: u64 = own.iter().map(|&(_, len)| len).sum();
    let frontier = state.frontier.unwrap_or(plan.file_len);
    let prefill = super::prefill::plan(frontier, plan.file_len, plan.data.len() < SEQUENTIAL_FROM, &own);
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
        state.unsynced_bytes += bytes + zeros + SECTOR;
    }
    Ok(())
}
