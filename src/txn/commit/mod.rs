//! The commit (SPEC.md section 9), as stages that pass values:
//!
//! 1. version operations (snapshots, history window), checked first;
//! 2. retention: what the new root no longer needs (`versions::retention`);
//! 3. placement of the shadow pages (`place`);
//! 4. the table rewrite (`table::rewrite`);
//! 5. the free map and the lists (`lists`);
//! 6. the root, then the write-out (`write_out`).
//!
//! Readers' view of versions changes only at the ends: what the commit may
//! release is withdrawn before retention decides (so that no new reader pins
//! it), and the new root, catalog and history are published after the last
//! write, or the old ones restored when the commit fails.

mod lists;
mod place;
mod write_out;

use std::sync::Arc;

use self::lists::{ListInput, Lists};
use self::place::{MetaCounts, Placed};
use crate::clock::now_nanos;
use crate::error::{Error, Result};
use crate::format::{CatalogEntry, RecordKind, Root, SECTOR, VersionSummary};
use crate::ids::Version;
use crate::shared::{Shared, WriterState, lock};
use crate::space::{AllocationStrategy, Allocator, Batch, PendingGroup, SpaceMap};
use crate::table::rewrite;
use crate::versions::retention::{self, Floors, Keepers, Retention};
use crate::versions::{history_held, history_start, ops, summaries_from};

use super::changes::Changes;
use crate::storage::PageReader;

/// Runs the commit; always hands the writer state back (changed only on success
/// or poisoned on a failed write or sync).
///
/// `base` is the root the transaction read, through `reader`.
pub(crate) fn commit(
    shared: &Shared,
    base: &Root,
    reader: PageReader<'_>,
    changes: Changes<'_>,
    mut state: WriterState,
) -> (Result<Version>, WriterState) {
    if let Err(e) =
        crate::recovery::settle(&*shared.storage, &shared.slots, &mut state.settle_before_write, &mut state.poisoned)
    {
        return (Err(e), state);
    }
    // Before anything grows the file (`txn::prefill`).
    if state.frontier.is_none() {
        state.frontier = Some(super::prefill::start(&*shared.storage, &shared.geo));
    }
    if state.check_before_write {
        if let Err(e) = crate::verify::check_before_write(reader, &shared.geo, base, shared.zero_hash) {
            return (Err(e), state);
        }
        state.check_before_write = false;
    }
    let mut strategy = state.placement.take().expect("the placement strategy is home between commits");
    let result = plan(shared, base, reader, changes, &state, &mut *strategy).and_then(|plan| {
        write_out::write_out(shared, &mut state, &plan)?;
        Ok(plan)
    });
    match result {
        Ok(plan) => {
            strategy.committed();
            state.placement = Some(strategy);
            let version = Version(plan.root.version);
            finish(shared, &mut state, plan);
            (Ok(version), state)
        }
        Err(e) => {
            strategy.rolled_back();
            state.placement = Some(strategy);
            republish(shared, &state, base.history_start);
            (Err(e), state)
        }
    }
}

/// Everything a commit writes, computed before the first byte goes out (but
/// the shadow pages of a large commit).
pub(super) struct Plan<'t> {
    root: Root,
    /// New table, free-map, list and catalog pages.
    writes: Vec<crate::space::PageWrite>,
    /// Shadow pages, written straight from the transaction's buffers.
    data: Vec<(u64, &'t [u8])>,
    /// The shadow pages are already written (large commits, while hashing).
    data_written: bool,
    file_len: u64,
    retention: Retention,
    group: Option<PendingGroup>,
    snapshots: Vec<CatalogEntry>,
    /// The catalog's pages, when this commit wrote them.
    catalog_pages: Option<Vec<(u64, u64)>>,
    history_start: u64,
}

fn plan<'t>(
    shared: &Shared,
    base: &Root,
    reader: PageReader<'_>,
    changes: Changes<'t>,
    state: &WriterState,
    strategy: &mut dyn AllocationStrategy,
) -> Result<Plan<'t>> {
    let geo = &shared.geo;
    // Decoding refuses a root with the last version (SPEC.md 4.2), so the
    // commit that would write it is refused: acknowledged, it would be lost
    // at the next open.
    let version =
        base.version.checked_add(1).filter(|&v| v < u64::MAX).ok_or(Error::Full(crate::error::Limit::Versions))?;
    // A backup stream's apply commits at its target version (checked newer
    // than the base by the apply).
    let version = match changes.commit_as {
        Some(v) if v > base.version && v < u64::MAX => v,
        Some(_) => return Err(Error::InvalidArgument(crate::error::Invalid::VersionNotNewer)),
        None => version,
    };
    let now = now_nanos();

    // 1. The version operations, checked before anything else.
    let ops = ops::apply(&reader, base, &state.snapshots, changes.ops, now)?;
    // The new root keeps versions from `history_start` on readable; what they
    // reach is released only once the fallback root (the durable one a crash
    // would go back to) no longer keeps them either.
    let history_start = history_start(ops.window, &state.pending, version, now);

    // 2. Retention, once readers can no longer pin what it may release.
    let transient = withdraw(shared, state, &ops.snapshots, history_start);
    let keepers = Keepers {
        transient,
        history_start,
        durable_history_start: state.durable_history_start,
        snapshots: &state.snapshots,
        durable_snapshots: &state.durable_snapshots,
        after: &ops.snapshots,
    };
    let (mut adds, mut carried) = (ops.adds, ops.carried);
    let max_sectors = shared.options.max_file_len / SECTOR;
    let map = SpaceMap::new(reader, geo, base.map, base.map_depth, base.file_len / SECTOR, max_sectors)
        .own_after(state.opened_at);
    let mut space = Allocator::new(map, strategy);
    let floors = Floors::of(base);
    let retention = retention::decide(&state.pending, &keepers, floors, &mut adds, &mut carried, |e| space.release(e))?;
    let mut batch = Batch::new(version);
    for &(location, written) in &ops.freed_pages {
        batch.free(geo.page(location), written, RecordKind::Structure);
    }
    for &(location, written) in &retention.dropped_pages {
        batch.free(geo.page(location), written, RecordKind::Structure);
    }
    let catalog_changed = ops.catalog_changed || !adds.is_empty();
    if catalog_changed {
        for &(location, written) in &state.catalog_pages {
            batch.free(geo.page(location), written, RecordKind::Structure);
        }
    }

    // 3. The shadow pages.
    let counts = MetaCounts { records: batch.frees.len() + carried.len(), deadlists: adds.len() };
    let placed = place::shadow_pages(
        &reader,
        &*shared.storage,
        geo,
        base,
        shared.zero_hash,
        changes.pages,
        changes.next_id,
        counts,
        &mut space,
        &mut batch,
    )?;

    // 4. The table.
    let Placed { changes: entries, data, data_written, table_depth } = placed;
    let table = rewrite(&reader, geo, base.table, base.table_depth, table_depth, &entries, &mut space, &mut batch)?;
    if let Some(expected) = changes.expect_content {
        let content = if table.location == 0 { [0; 16] } else { table.content };
        if content != expected {
            return Err(crate::backup::BackupError::TargetHashMismatch {
                expected: crate::ids::ContentHash(expected),
                found: crate::ids::ContentHash(content),
            }
            .into());
        }
    }

    // 5. The free map and the lists.
    let summary = VersionSummary { version, commit_nanos: now, next_id: changes.next_id, table_depth, table };
    let input = ListInput {
        pending_head: base.pending,
        carried,
        snapshots: ops.snapshots,
        adds: &adds,
        catalog_changed,
        summary: ops.window.is_enabled().then_some(summary),
    };
    let lists = lists::write(&mut space, &mut batch, input)?;

    // 6. The root.
    let file_len = space.map.file_sectors * SECTOR;
    let root = new_root(state, base, &summary, &retention, &lists, ops.window, history_start, file_len);
    Ok(Plan {
        root,
        writes: batch.writes,
        data,
        data_written,
        file_len,
        retention,
        group: lists.group,
        snapshots: lists.snapshots,
        catalog_pages: lists.catalog.map(|(_, pages)| pages),
        history_start,
    })
}

/// Withdraws from readers the snapshots this commit deletes and the history
/// versions before `history_start` (the snapshots it creates appear when it
/// is done), and returns the oldest version a transient pin holds: the
/// fallback root's or the oldest reader's.
fn withdraw(shared: &Shared, state: &WriterState, after: &[CatalogEntry], history_start: u64) -> u64 {
    let kept: Vec<CatalogEntry> = state
        .snapshots
        .iter()
        .filter(|s| after.iter().any(|a| a.name == s.name && a.summary.version == s.summary.version))
        .cloned()
        .collect();
    let mut published = lock(&shared.published);
    published.history = Arc::new(summaries_from(state.pending.iter(), history_start));
    published.snapshots = Arc::new(kept);
    // The write transaction holds its base, which is never older than the
    // durable version: the minimum is the oldest reader's or the durable one.
    let oldest = published.pins.oldest().unwrap_or(u64::MAX);
    state.durable_version.min(oldest)
}

#[allow(clippy::too_many_arguments)]
fn new_root(
    state: &WriterState,
    base: &Root,
    summary: &VersionSummary,
    retention: &Retention,
    lists: &Lists,
    window: crate::versions::HistoryWindow,
    history_start: u64,
    file_len: u64,
) -> Root {
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
    let pending_sectors = kept + lists.group.as_ref().map_or(0, |g| g.held_sectors_if(false, false));
    Root {
        version: summary.version,
        commit_nanos: summary.commit_nanos,
        synced_through: state.durable_version,
        file_len,
        next_id: summary.next_id,
        table_depth: summary.table_depth,
        map_depth: lists.map_depth,
        table: summary.table,
        map: lists.map_top,
        pending: lists.pending_head,
        pending_floor: retention.floors.content,
        pending_sectors,
        catalog: lists.catalog.as_ref().map_or(base.catalog, |(head, _)| *head),
        structure_floor: retention.floors.structure,
        history_floor: retention.floors.history,
        keep_versions: window.keep_versions,
        keep_seconds: window.keep_seconds,
        snapshot_sectors: lists.snapshots.iter().map(|s| s.deadlist_sectors).sum(),
        history_start,
    }
}

/// The commit is written: its retention decisions and lists become the
/// writer's state, and its root, catalog and history the readers'.
fn finish(shared: &Shared, state: &mut WriterState, plan: Plan<'_>) {
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
    if let Some(pages) = plan.catalog_pages {
        state.catalog_pages = pages;
    }
    let mut published = lock(&shared.published);
    published.root = Arc::new(plan.root);
    published.snapshots = Arc::new(state.snapshots.clone());
    published.history = Arc::new(summaries_from(state.pending.iter(), plan.history_start));
    published.history_sectors = history_held(state.pending.iter(), plan.history_start);
}

/// After a failed commit, readers may again open what the plan withdrew.
fn republish(shared: &Shared, state: &WriterState, history_start: u64) {
    let mut published = lock(&shared.published);
    published.snapshots = Arc::new(state.snapshots.clone());
    published.history = Arc::new(summaries_from(state.pending.iter(), history_start));
}
