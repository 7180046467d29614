//! Placement: where this commit's shadow pages go, their table entries, and
//! the extents of the pages they replace.

use super::write_out::write_runs;
use crate::error::{Error, Result};
use crate::format::{ENTRY_ALLOCATED, Entry, Hash16, RecordKind, Root, SECTOR, hash16};
use crate::geometry::Geometry;
use crate::space::{Allocator, Batch, CommitShape, Request, pages_for};
use crate::storage::{PageReader, Storage};
use crate::table::TableView;
use crate::txn::changes::Slot;

/// Free-map leaves a commit's run may span, beyond those already changed.
const RUN_LEAVES: u64 = 2;

/// Commits with at least this many shadow pages write them while hashing.
const EARLY_WRITE_FROM: usize = 256;

/// The shadow pages, placed.
pub(super) struct Placed<'t> {
    /// The table changes, by id: new entries, and default (unallocated)
    /// entries for freed ids.
    pub changes: EntryChanges,
    /// (sector, bytes) of each shadow page.
    pub data: Vec<(u64, &'t [u8])>,
    /// The shadow pages are already written (large commits, while hashing).
    pub data_written: bool,
    /// Depth of the new table.
    pub table_depth: u8,
}

/// Table changes by id, in id order.
type EntryChanges = Vec<(u64, Entry)>;

/// Pages with bytes to write: (id, bytes), in id order.
type ShadowPages<'t> = Vec<(u64, &'t [u8])>;

/// Counts that size this commit's metadata before any of it is placed.
pub(super) struct MetaCounts {
    /// Records already bound for the pending list (frees and carried ones).
    pub records: usize,
    /// Snapshots whose deadlists grow.
    pub deadlists: usize,
}

/// Places the shadow pages of `changes` (lowest id first, in runs of
/// contiguous pages), hashes them, and frees the extents they replace.
#[allow(clippy::too_many_arguments)]
pub(super) fn shadow_pages<'t>(
    reader: &PageReader<'_>,
    storage: &dyn Storage,
    geo: &Geometry,
    base: &Root,
    zero_hash: Hash16,
    pages: &'t std::collections::BTreeMap<u64, Slot>,
    next_id: u64,
    counts: MetaCounts,
    space: &mut Allocator<'_, '_>,
    batch: &mut Batch,
) -> Result<Placed<'t>> {
    let version = batch.version;
    let (mut entries, data) = split(pages, zero_hash, version);
    let table_depth = geo.table_depth_for(next_id).max(base.table_depth);
    let table_nodes = table_nodes(geo, &entries, table_depth);
    // The table, free-map, list and catalog pages of this commit, estimated
    // from above so that they all fit the run set aside for them: the map
    // nodes the releases changed, and those of the leaves the run may touch.
    let map_nodes = space.map.changed_nodes_with(RUN_LEAVES);
    let frees = entries.len() + counts.records + (table_nodes + map_nodes) as usize + 1;
    let lists = pages_for(frees, geo.page_size, true) as u64 + 1 + counts.deadlists as u64;
    let meta = table_nodes + map_nodes + lists;
    space.begin(CommitShape { data_pages: data.len() as u64, meta_pages: meta })?;
    let mut locations = Vec::with_capacity(data.len());
    while locations.len() < data.len() {
        let request = Request::data(data[locations.len()].0, (data.len() - locations.len()) as u64);
        let run = space.alloc_run(request)?;
        locations.extend(run.pages(geo.spp));
    }
    // The pages the commit most likely writes: no new map leaves, one list page.
    space.metadata(table_nodes + space.map.changed_nodes_with(0) + 1, meta)?;
    let early = data.len() >= EARLY_WRITE_FROM;
    let placed: Vec<(u64, &[u8])> = data.iter().zip(&locations).map(|(&(_, b), &l)| (l, b)).collect();
    let hashes =
        if early { write_while_hashing(storage, space.map.file_sectors, &placed, &data)? } else { hash_pages(&data) };
    let mut next_data = data.iter().map(|(id, _)| *id).zip(locations.iter().copied()).zip(hashes).peekable();
    for (id, entry) in entries.iter_mut() {
        if let Some(&((did, location), content)) = next_data.peek()
            && did == *id
        {
            *entry = raw_entry(location, geo.page_size, version, content);
            next_data.next();
        }
    }
    // Old extents of changed or freed pages leave with this version.
    let table = TableView { reader: *reader, geo, root: base };
    for &(id, _) in &entries {
        if id < base.next_id {
            let old = table.entry(id)?;
            if old.is_allocated() && old.location != 0 {
                batch.free(geo.page(old.location), old.birth, RecordKind::Content);
            }
        }
    }
    // Freed ids this transaction also allocated never existed on disk.
    entries.retain(|(id, e)| e.is_allocated() || *id < base.next_id);
    Ok(Placed { changes: entries, data: placed, data_written: early, table_depth })
}

/// The table changes of `pages`, and the pages with bytes to write. An
/// all-zero page takes no extent.
fn split(
    pages: &std::collections::BTreeMap<u64, Slot>,
    zero_hash: Hash16,
    version: u64,
) -> (EntryChanges, ShadowPages<'_>) {
    let mut changes: Vec<(u64, Entry)> = Vec::with_capacity(pages.len());
    let mut data: Vec<(u64, &[u8])> = Vec::new();
    for (&id, slot) in pages {
        match slot {
            Slot::New(None) => changes.push((id, zero_entry(zero_hash, version))),
            Slot::New(Some(b)) | Slot::Changed(b) if b.iter().all(|&x| x == 0) => {
                changes.push((id, zero_entry(zero_hash, version)))
            }
            Slot::New(Some(b)) | Slot::Changed(b) => {
                data.push((id, b));
                changes.push((id, Entry::default()));
            }
            Slot::Freed => changes.push((id, Entry::default())),
        }
    }
    (changes, data)
}

/// Table nodes a commit of `changes` rewrites: one per level per distinct
/// subtree the changed ids fall in.
fn table_nodes(geo: &Geometry, changes: &[(u64, Entry)], depth: u8) -> u64 {
    (0..depth as usize)
        .map(|level| {
            let mut last = None;
            changes
                .iter()
                .filter(|(id, _)| last.replace(id / geo.id_cover[level]) != Some(id / geo.id_cover[level]))
                .count() as u64
        })
        .sum()
}

/// The entry of a raw page stored at `location`.
fn raw_entry(location: u64, page_size: usize, version: u64, content: Hash16) -> Entry {
    let mut stored_check = [0u8; 8];
    stored_check.copy_from_slice(&content[..8]);
    Entry {
        location,
        stored_len: page_size as u32,
        codec: 0,
        flags: ENTRY_ALLOCATED,
        birth: version,
        content,
        stored_check,
    }
}

fn zero_entry(zero_hash: Hash16, version: u64) -> Entry {
    Entry { flags: ENTRY_ALLOCATED, birth: version, content: zero_hash, ..Entry::default() }
}

/// Large commits write their shadow pages while hashing them. The pages go
/// to space that no root reaches, so writing them before the plan is done is
/// safe: if the plan fails, they stay free. (`commit` has already run
/// `settle`, so the recovered root is durable.)
fn write_while_hashing(
    storage: &dyn Storage,
    file_sectors: u64,
    placed: &[(u64, &[u8])],
    data: &[(u64, &[u8])],
) -> Result<Vec<Hash16>> {
    let end = file_sectors * SECTOR;
    if end > storage.len() {
        storage.grow(end).map_err(Error::io("growing the file"))?;
    }
    let (written, hashes) = std::thread::scope(|s| {
        let writer = s.spawn(|| write_runs(storage, placed.to_vec(), true));
        let hashes = hash_pages(data);
        (writer.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), hashes)
    });
    written?;
    Ok(hashes)
}

/// Content hashes of the pages to write; large batches use both cores.
fn hash_pages(data: &[(u64, &[u8])]) -> Vec<Hash16> {
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
