//! The retention step of a commit (SPEC.md section 8.5): which pending groups
//! the new root still needs, and where each record goes once none does: back
//! to the free map, to a snapshot's deadlist, or held for the transient pins
//! only.
//!
//! A record written at B and freed at T is needed by a pinned version V iff
//! B ≤ V < T. Structure records wait for the transient pins (the fallback
//! root and open readers); content records also for the history window, then
//! for the newest snapshot older than their death if it is as new as their
//! birth.

use std::collections::{BTreeMap, VecDeque};

use crate::error::Result;
use crate::format::{CatalogEntry, Extent, PendingRecord, RecordKind, Root};
use crate::space::PendingGroup;

/// A snapshot as retention names it: (name, version). Names are unique within
/// one catalog, but a name deleted and made again in one commit names two.
pub(crate) type SnapshotKey = (String, u64);

/// Records handed to snapshots' deadlists, by snapshot.
pub(crate) type DeadlistAdds = BTreeMap<SnapshotKey, Vec<PendingRecord>>;

/// Who keeps what, as this commit starts.
pub(crate) struct Keepers<'a> {
    /// Versions at or after this are transiently pinned: the fallback root
    /// of a crash, and the oldest open reader.
    pub transient: u64,
    /// The new root's history start.
    pub history_start: u64,
    /// The lowest history start of the durable root and every root since.
    pub durable_history_start: u64,
    /// The snapshots before this commit.
    pub snapshots: &'a [CatalogEntry],
    /// The snapshots of the durable root and every root since.
    pub durable_snapshots: &'a [CatalogEntry],
    /// The snapshots after this commit.
    pub after: &'a [CatalogEntry],
}

/// The floors a root records (SPEC.md section 4.2): pending groups freed at
/// or below them are released in that way.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Floors {
    pub structure: u64,
    pub content: u64,
    pub history: u64,
}

impl Floors {
    /// The floors `root` recorded.
    pub fn of(root: &Root) -> Floors {
        Floors { structure: root.structure_floor, content: root.pending_floor, history: root.history_floor }
    }
}

/// What this commit releases: prefix lengths of the pending groups (oldest
/// first) whose structure records, content records or pages it releases, and
/// where those records go.
#[derive(Default)]
pub(crate) struct Retention {
    pub structure_upto: usize,
    pub content_upto: usize,
    pub drop_upto: usize,
    /// Pending-list pages of the groups dropped, as (sector, written).
    pub dropped_pages: Vec<(u64, u64)>,
    pub floors: Floors,
}

/// Decides what the groups of `pending` release under `keepers`. Extents
/// that return to the free map go to `release`, in order; content records a
/// snapshot still needs go to `adds`; those only the transient pins need go
/// to `carried` (as structure records).
pub(crate) fn decide(
    pending: &VecDeque<PendingGroup>,
    keepers: &Keepers<'_>,
    floors: Floors,
    adds: &mut DeadlistAdds,
    carried: &mut Vec<PendingRecord>,
    mut release: impl FnMut(Extent) -> Result<()>,
) -> Result<Retention> {
    let mut out = Retention { floors, ..Retention::default() };
    for (i, group) in pending.iter().enumerate() {
        if group.freed > keepers.transient {
            break;
        }
        if !group.structure_released {
            for r in group.records.iter().filter(|r| r.kind == RecordKind::Structure) {
                release(r.extent())?;
            }
        }
        out.floors.structure = out.floors.structure.max(group.freed);
        out.structure_upto = i + 1;
    }
    // What the history window of the new root or of a root a crash may go
    // back to keeps stays.
    let content_limit = keepers.history_start.min(keepers.durable_history_start);
    for (i, group) in pending.iter().enumerate().take(out.structure_upto) {
        if group.freed > content_limit {
            break;
        }
        if !group.content_released {
            for r in group.records.iter().filter(|r| r.kind == RecordKind::Content) {
                match content_owner(keepers, r) {
                    Owner::Snapshot(key) => adds.entry(key).or_default().push(*r),
                    Owner::Transient => carried.push(PendingRecord { kind: RecordKind::Structure, ..*r }),
                    Owner::Nobody => release(r.extent())?,
                }
            }
        }
        out.floors.content = out.floors.content.max(group.freed);
        out.content_upto = i + 1;
    }
    for (i, group) in pending.iter().enumerate().take(out.content_upto) {
        if group.freed >= keepers.history_start {
            break;
        }
        out.dropped_pages.extend(group.pages.iter().copied());
        out.floors.history = out.floors.history.max(group.freed);
        out.drop_upto = i + 1;
    }
    Ok(out)
}

/// Who keeps a content record once the history window does not.
enum Owner {
    Snapshot(SnapshotKey),
    /// Only the transient pins (the snapshot that kept it is deleted by this
    /// commit, and none before it reaches the record).
    Transient,
    Nobody,
}

fn content_owner(keepers: &Keepers<'_>, r: &PendingRecord) -> Owner {
    // The newest snapshot older than the record's death keeps it if it is as
    // new as its birth. Decided on the snapshots before this commit and those
    // of the durable root: a crash may go back to a root that still has a
    // snapshot deleted since.
    let owner = keepers
        .snapshots
        .iter()
        .chain(keepers.durable_snapshots)
        .filter(|s| s.summary.version < r.freed)
        .max_by_key(|s| s.summary.version);
    let Some(o) = owner.filter(|o| o.summary.version >= r.birth) else {
        return Owner::Nobody;
    };
    if keepers.after.iter().any(|s| s.name == o.name && s.summary.version == o.summary.version) {
        return Owner::Snapshot(key(o));
    }
    // Deleted in this commit: the snapshot before it, or only transient pins
    // (the fallback root).
    match keepers.after.iter().rfind(|s| s.summary.version < o.summary.version) {
        Some(p) if p.summary.version >= r.birth => Owner::Snapshot(key(p)),
        _ => Owner::Transient,
    }
}

/// The key of a catalog entry.
pub(crate) fn key(s: &CatalogEntry) -> SnapshotKey {
    (s.name.clone(), s.summary.version)
}
