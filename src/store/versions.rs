//! The versions API on [`Store`]: snapshots, history, read views, restore, export.

use std::path::Path;

use crate::error::{Error, Result};
use crate::format::DEADLIST_MAGIC;
use crate::ids::Version;
use crate::shared::lock;
use crate::space::{page_records, read_chain};
use crate::store::Store;
use crate::txn::{ReadTxn, Slot};
use crate::versions::{
    At, ExportReport, ExportSource, HistoryEntry, HistoryWindow, SnapshotInfo, VersionOp, export_version, validate_name,
};

impl<const P: usize> Store<P> {
    /// Makes a named snapshot of the newest version, in O(1): no page is
    /// copied. The pages it reaches stay until the snapshot is deleted.
    /// Returns the version it keeps.
    ///
    /// ```
    /// # use mappedpages::{Store, storage::MemoryStorage, Options, At};
    /// # let store = Store::<4096>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?.fill(1);
    /// w.commit()?;
    /// let kept = store.create_snapshot("before-upgrade")?;
    /// let mut w = store.begin_write()?;
    /// w.page_mut(id)?.fill(2);
    /// w.commit()?;
    /// let old = store.begin_read_at(At::Snapshot("before-upgrade"))?;
    /// assert_eq!(old.version(), kept);
    /// assert_eq!(old.page(id)?[0], 1);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn create_snapshot(&self, name: &str) -> Result<Version> {
        validate_name(name)?;
        let mut w = self.begin_write()?;
        let kept = w.base_version();
        w.ops.push(VersionOp::CreateSnapshot(name.to_owned()));
        w.commit()?;
        Ok(kept)
    }

    /// Deletes a snapshot; the pages only it kept return to the free space (once
    /// no reader still uses them).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// store.create_snapshot("a")?;
    /// store.delete_snapshot("a")?;
    /// assert!(matches!(store.delete_snapshot("a"), Err(mappedpages::Error::SnapshotNotFound(_))));
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn delete_snapshot(&self, name: &str) -> Result<()> {
        let mut w = self.begin_write()?;
        w.ops.push(VersionOp::DeleteSnapshot(name.to_owned()));
        w.commit().map(|_| ())
    }

    /// The snapshots, oldest version first, with the pages only each one keeps.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// let v = store.create_snapshot("nightly")?;
    /// let list = store.snapshots()?;
    /// assert_eq!((list[0].name.as_str(), list[0].version), ("nightly", v));
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        self.snapshot_infos(&self.begin_read()?)
    }

    /// The snapshots of the catalog published with `txn`'s root, read through
    /// `txn`: a newer catalog's deadlist pages may lie past what it maps.
    fn snapshot_infos(&self, txn: &ReadTxn<'_, P>) -> Result<Vec<SnapshotInfo>> {
        let snapshots = txn.snapshots();
        let reader = txn.reader();
        let mut out = Vec::with_capacity(snapshots.len());
        for (i, s) in snapshots.iter().enumerate() {
            // A record is this snapshot's alone unless the snapshot before it
            // is as new as the record's birth.
            let prev = snapshots.iter().take(i).map(|p| p.summary.version).filter(|&v| v < s.summary.version).max();
            let mut exclusive = 0;
            read_chain(&reader, s.deadlist, 0, DEADLIST_MAGIC, |location, h, page| {
                for r in page_records(page, location, h.written)? {
                    if prev.is_none_or(|p| p < r.birth) {
                        exclusive += r.sectors;
                    }
                }
                Ok(())
            })?;
            out.push(SnapshotInfo {
                name: s.name.clone(),
                version: Version(s.summary.version),
                commit_nanos: s.summary.commit_nanos,
                created_nanos: s.created_nanos,
                exclusive_pages: exclusive / self.shared.geo.spp,
            });
        }
        out.sort_by_key(|s| s.version);
        Ok(out)
    }

    /// Sets the history window (stored in the file, with a commit). Versions
    /// committed from now on stay readable while inside it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::{At, HistoryWindow};
    /// store.set_history(HistoryWindow::versions(3))?;
    /// let v = store.begin_write()?.commit()?;
    /// store.begin_write()?.commit()?;
    /// assert_eq!(store.begin_read_at(At::Version(v))?.version(), v);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn set_history(&self, window: HistoryWindow) -> Result<Version> {
        let mut w = self.begin_write()?;
        w.ops.push(VersionOp::SetHistory(window));
        w.commit()
    }

    /// The history window in force.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// assert!(!store.history_window().is_enabled()); // only the newest, by default
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn history_window(&self) -> HistoryWindow {
        let root = self.shared.current();
        HistoryWindow { keep_versions: root.keep_versions, keep_seconds: root.keep_seconds }
    }

    /// The readable versions, oldest first: those inside the history window,
    /// then the newest.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// store.set_history(mappedpages::HistoryWindow::versions(5))?;
    /// store.begin_write()?.commit()?;
    /// let versions: Vec<_> = store.history().iter().map(|h| h.version).collect();
    /// assert_eq!(versions.last(), Some(&store.version()));
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn history(&self) -> Vec<HistoryEntry> {
        let published = lock(&self.shared.published);
        let mut out: Vec<HistoryEntry> = published
            .history
            .iter()
            .filter(|s| s.version < published.root.version)
            .map(|s| HistoryEntry { version: Version(s.version), commit_nanos: s.commit_nanos })
            .collect();
        out.push(HistoryEntry { version: Version(published.root.version), commit_nanos: published.root.commit_nanos });
        out
    }

    /// A read transaction on an older version: one inside the history window,
    /// the newest committed at or before a time, or a snapshot's. A version
    /// outside the window is [`Error::VersionNotRetained`], never a guess.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::At;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?[0] = 1;
    /// let v1 = w.commit()?;
    /// store.create_snapshot("one")?; // commits v2; the snapshot keeps v1
    /// let mut w = store.begin_write()?;
    /// w.page_mut(id)?[0] = 2;
    /// w.commit()?;
    /// assert_eq!(store.begin_read_at(At::Snapshot("one"))?.page(id)?[0], 1);
    /// assert_eq!(store.begin_read_at(At::Version(v1))?.page(id)?[0], 1); // by its number too
    /// assert!(store.begin_read_at(At::Version(mappedpages::Version(0))).is_err()); // kept by nothing
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn begin_read_at(&self, at: At<'_>) -> Result<ReadTxn<'_, P>> {
        ReadTxn::at(&self.shared, &at)
    }

    /// Makes a new commit whose content equals the version `at` names. Later
    /// versions stay readable while the history window or snapshots keep them.
    /// Returns the new version.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::At;
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?[0] = 1;
    /// w.commit()?;
    /// store.create_snapshot("good")?;
    /// let mut w = store.begin_write()?;
    /// w.page_mut(id)?[0] = 99; // a bad change
    /// w.commit()?;
    /// store.restore(At::Snapshot("good"))?; // a new commit with the old content
    /// assert_eq!(store.begin_read()?.page(id)?[0], 1);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn restore(&self, at: At<'_>) -> Result<Version> {
        let old = self.begin_read_at(at)?;
        let mut w = self.begin_write()?;
        let current = self.begin_read()?;
        let old_ids: Vec<u64> = old.ids().map(|r| r.map(|id| id.get())).collect::<Result<_>>()?;
        let new_ids: Vec<u64> = current.ids().map(|r| r.map(|id| id.get())).collect::<Result<_>>()?;
        let old_set: std::collections::BTreeSet<u64> = old_ids.iter().copied().collect();
        for &id in &new_ids {
            if !old_set.contains(&id) {
                w.pages.insert(id, Slot::Freed);
            }
        }
        let current_set: std::collections::BTreeSet<u64> = new_ids.iter().copied().collect();
        for &id in &old_ids {
            let pid = crate::ids::PageId::from_raw(id);
            let bytes = old.page(pid)?;
            if current_set.contains(&id) {
                if current.page(pid)? != bytes {
                    w.pages.insert(id, Slot::Changed(bytes.into()));
                }
            } else {
                w.pages.insert(id, Slot::New(Some(bytes.into())));
            }
        }
        w.next_id = w.next_id.max(old.root.next_id);
        drop(current);
        drop(old);
        w.commit()
    }

    /// Writes a consistent, compacted copy of the version `at` names to a new
    /// file at `path`, while writers go on. The copy opens as a normal store,
    /// holds no free space, and has the same content hash.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::{At, Store};
    /// let mut w = store.begin_write()?;
    /// w.alloc_bulk(3)?;
    /// w.commit()?;
    /// let copy = dir.path().join("copy.db");
    /// let report = store.export(&copy, At::Version(store.version()))?;
    /// let exported = Store::<4096>::open(&copy)?;
    /// assert_eq!(exported.begin_read()?.content_hash(), report.content_hash);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn export(&self, path: impl AsRef<Path>, at: At<'_>) -> Result<ExportReport> {
        self.export_with(path, at, &crate::progress::NoProgress)
    }

    /// [`export`](Store::export), telling `progress` of each page read and
    /// written; [`Error::Cancelled`] once it asks to stop, and then no file
    /// is left at `path`.
    pub fn export_with(
        &self,
        path: impl AsRef<Path>,
        at: At<'_>,
        progress: &dyn crate::progress::Progress,
    ) -> Result<ExportReport> {
        let txn = self.begin_read_at(at)?;
        if path.as_ref().exists() {
            return Err(Error::AlreadyExists(path.as_ref().to_owned()));
        }
        let shared = &self.shared;
        let source = ExportSource {
            reader: txn.reader(),
            geo: &shared.geo,
            root: &txn.root,
            header: shared.header,
            zero_page: &shared.zero_page,
            reserve: shared.options.reserve,
        };
        export_version(source, path.as_ref(), progress)
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::MemoryStorage;
    use crate::{Options, Store};

    /// `snapshots()` lists the catalog published with its own transaction's
    /// root, read through that transaction: a newer catalog's deadlist pages
    /// may lie past what the transaction maps (a spurious `Corrupt`) or in
    /// space it does not hold. The race window (between beginning the
    /// transaction and reading the catalog) held open: a commit in it creates
    /// a snapshot and writes a deadlist page.
    #[test]
    fn snapshots_read_the_catalog_of_their_own_transaction() {
        let store = Store::<4096>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
        let mut w = store.begin_write().unwrap();
        let kept = w.alloc_bulk(8).unwrap();
        w.commit().unwrap();
        store.create_snapshot("a").unwrap();
        let before = store.begin_read().unwrap();
        let mut w = store.begin_write().unwrap();
        w.free_bulk(&kept).unwrap(); // "a" keeps them: its deadlist gets a page
        w.alloc_bulk(600).unwrap(); // and the file grows
        w.create_snapshot("b").unwrap();
        w.commit().unwrap();
        let listed: Vec<String> = store.snapshot_infos(&before).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(listed, ["a"], "the snapshots of the reader's version");
        assert_eq!(store.snapshots().unwrap().len(), 2);
    }
}
