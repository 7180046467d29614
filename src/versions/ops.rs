//! The version operations a write transaction carries besides its pages:
//! snapshots to create or delete and a new history window, applied in order
//! at commit.

use super::retention::{DeadlistAdds, key};
use super::{HistoryWindow, validate_name};
use crate::error::{Error, Result};
use crate::format::{CatalogEntry, ChainRef, DEADLIST_MAGIC, PendingRecord, RecordKind, Root, VersionSummary};
use crate::space::{page_records, read_chain};
use crate::storage::PageReader;

/// One operation on the versions a store keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum VersionOp {
    /// Keep the transaction's base version under this name.
    CreateSnapshot(String),
    /// Forget the snapshot of this name.
    DeleteSnapshot(String),
    /// Store this history window with the commit.
    SetHistory(HistoryWindow),
}

/// The catalog and window after a commit's operations, and what deleting
/// snapshots hands on.
pub(crate) struct VersionChanges {
    pub snapshots: Vec<CatalogEntry>,
    /// The catalog must be written again.
    pub catalog_changed: bool,
    pub window: HistoryWindow,
    /// Deadlist pages of deleted snapshots, as (sector, written).
    pub freed_pages: Vec<(u64, u64)>,
    /// Records of deleted deadlists that an older snapshot still reaches.
    pub adds: DeadlistAdds,
    /// Records of deleted deadlists only transient pins may still reach.
    pub carried: Vec<PendingRecord>,
}

/// Applies `ops` in order to the catalog `snapshots` of the root `base`,
/// reading the deadlists of deleted snapshots through `reader`. Checks every
/// operation before the commit writes anything.
pub(crate) fn apply(
    reader: &PageReader<'_>,
    base: &Root,
    snapshots: &[CatalogEntry],
    ops: &[VersionOp],
    now: u64,
) -> Result<VersionChanges> {
    let mut out = VersionChanges {
        snapshots: snapshots.to_vec(),
        catalog_changed: false,
        window: HistoryWindow { keep_versions: base.keep_versions, keep_seconds: base.keep_seconds },
        freed_pages: Vec::new(),
        adds: DeadlistAdds::new(),
        carried: Vec::new(),
    };
    for op in ops {
        match op {
            VersionOp::CreateSnapshot(name) => create(&mut out, base, name, now)?,
            VersionOp::DeleteSnapshot(name) => delete(&mut out, reader, name)?,
            VersionOp::SetHistory(window) => out.window = *window,
        }
    }
    Ok(out)
}

fn create(out: &mut VersionChanges, base: &Root, name: &str, now: u64) -> Result<()> {
    validate_name(name)?;
    if out.snapshots.iter().any(|s| s.name == name) {
        return Err(Error::SnapshotExists(name.to_owned()));
    }
    out.snapshots.push(CatalogEntry {
        name: name.to_owned(),
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
    out.catalog_changed = true;
    Ok(())
}

/// Its deadlist goes to the snapshot before it where that one still reaches
/// a record; the rest waits only for transient pins.
fn delete(out: &mut VersionChanges, reader: &PageReader<'_>, name: &str) -> Result<()> {
    let at =
        out.snapshots.iter().position(|s| s.name == name).ok_or_else(|| Error::SnapshotNotFound(name.to_owned()))?;
    let gone = out.snapshots.remove(at);
    out.catalog_changed = true;
    let prev =
        out.snapshots.iter().rfind(|s| s.summary.version < gone.summary.version).map(|s| (key(s), s.summary.version));
    read_chain(reader, gone.deadlist, 0, DEADLIST_MAGIC, |location, h, page| {
        out.freed_pages.push((location, h.written));
        for r in page_records(page, location, h.written)? {
            match &prev {
                Some((k, v)) if *v >= r.birth => out.adds.entry(k.clone()).or_default().push(r),
                _ => out.carried.push(PendingRecord { kind: RecordKind::Structure, ..r }),
            }
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::VersionOp;
    use crate::error::Error;
    use crate::ids::PageId;
    use crate::storage::MemoryStorage;
    use crate::store::{Options, Store};
    use crate::versions::At;

    fn store_with_page() -> (Store<4096>, PageId) {
        let store = Store::<4096>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
        let mut w = store.begin_write().unwrap();
        let id = w.alloc().unwrap();
        w.page_mut(id).unwrap().fill(1);
        w.commit().unwrap();
        (store, id)
    }

    #[test]
    fn one_commit_creates_and_deletes_several_snapshots_in_order() {
        let (store, id) = store_with_page();
        store.create_snapshot("old").unwrap();
        let mut w = store.begin_write().unwrap();
        let base = w.base_version();
        w.page_mut(id).unwrap().fill(2);
        w.ops.push(VersionOp::CreateSnapshot("a".into()));
        w.ops.push(VersionOp::CreateSnapshot("b".into()));
        w.ops.push(VersionOp::DeleteSnapshot("a".into()));
        w.ops.push(VersionOp::DeleteSnapshot("old".into()));
        w.commit().unwrap();
        let names: Vec<String> = store.snapshots().unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["b"]);
        let b = store.begin_read_at(At::Snapshot("b")).unwrap();
        assert_eq!(b.version(), base);
        assert_eq!(b.page(id).unwrap()[0], 1);
        assert_eq!(store.begin_read().unwrap().page(id).unwrap()[0], 2);
        assert!(store.verify().unwrap().is_clean());
    }

    #[test]
    fn a_failing_operation_fails_the_whole_commit() {
        let (store, id) = store_with_page();
        let before = store.version();
        let mut w = store.begin_write().unwrap();
        w.page_mut(id).unwrap().fill(2);
        w.ops.push(VersionOp::CreateSnapshot("a".into()));
        w.ops.push(VersionOp::DeleteSnapshot("missing".into()));
        assert!(matches!(w.commit(), Err(Error::SnapshotNotFound(_))));
        assert_eq!(store.version(), before);
        assert!(store.snapshots().unwrap().is_empty());
        assert_eq!(store.begin_read().unwrap().page(id).unwrap()[0], 1);
        // The writer goes on.
        let mut w = store.begin_write().unwrap();
        w.page_mut(id).unwrap().fill(3);
        w.commit().unwrap();
        assert!(store.verify().unwrap().is_clean());
    }
}
