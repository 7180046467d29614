//! Read transactions: a pinned version, read without copies.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::{Root, SECTOR};
use crate::ids::{ContentHash, PageId, Version};
use crate::shared::{Shared, lock};
use crate::storage::{Hold, PageReader, RawView, page_starts};
use crate::table::{Check, LiveIds, TableView, read_page};
use crate::versions::At;

/// A consistent view of one committed version.
///
/// Pages are returned as `&[u8]` straight from the file mapping; they stay valid
/// and unchanged for the transaction's life, whatever the writer commits, frees
/// or grows meanwhile. A `ReadTxn` is `Send + Sync`; any number may be open.
pub struct ReadTxn<'s, const PAGE_SIZE: usize> {
    shared: &'s Shared,
    pub(crate) root: Arc<Root>,
    /// The hold on `root.version` in the store's pin table.
    hold: Hold,
    view: RawView<'s>,
    /// Where the root's pages may start (its data area, `page_starts`).
    pages: (u64, u64),
}

impl<'s, const P: usize> ReadTxn<'s, P> {
    pub(crate) fn new(shared: &'s Shared) -> ReadTxn<'s, P> {
        Self::at(shared, &At::Version(Version(u64::MAX))).expect("the newest version is always readable")
    }

    /// A reader of the version `at` names: the newest (`Version(u64::MAX)` or its
    /// number), a retained older one, or a snapshot's.
    pub(crate) fn at(shared: &'s Shared, at: &At<'_>) -> Result<ReadTxn<'s, P>> {
        let (root, hold) = {
            let mut published = lock(&shared.published);
            let newest = &published.root;
            let summary = match at {
                At::Version(v) if v.get() == u64::MAX || v.get() == newest.version => None,
                At::Version(v) => Some(
                    published
                        .history
                        .iter()
                        .find(|s| s.version == v.get())
                        .copied()
                        .ok_or(Error::VersionNotRetained(*v))?,
                ),
                At::Time(t) if *t >= newest.commit_nanos => None,
                At::Time(t) => Some(published.history.iter().rev().find(|s| s.commit_nanos <= *t).copied().ok_or(
                    Error::VersionNotRetained(Version(published.history.first().map_or(newest.version, |s| s.version))),
                )?),
                At::Snapshot(name) => Some(
                    published
                        .snapshots
                        .iter()
                        .find(|s| s.name == *name)
                        .map(|s| s.summary)
                        .ok_or_else(|| Error::SnapshotNotFound(name.to_string()))?,
                ),
            };
            let root = match summary {
                None => Arc::clone(&published.root),
                Some(s) if s.version == published.root.version => Arc::clone(&published.root),
                Some(s) => Arc::new(Root {
                    version: s.version,
                    commit_nanos: s.commit_nanos,
                    next_id: s.next_id,
                    table_depth: s.table_depth,
                    table: s.table,
                    file_len: published.root.file_len,
                    ..Root::default()
                }),
            };
            let hold = published.pins.hold(root.version);
            (root, hold)
        };
        // The file is at least as long as the root needs: commits grow it before
        // writing their root.
        let pages = page_starts(shared.geo.first_data_sector, root.file_len / SECTOR, P);
        Ok(ReadTxn { shared, root, hold, view: shared.storage.view(), pages })
    }

    /// A reader of this version's pages: `self.root` is held until this
    /// transaction drops, and the storage outlives it (the store owns it).
    pub(crate) fn reader(&self) -> PageReader<'_> {
        PageReader::new(self.view, P, self.hold.pin()).within_pages(self.pages)
    }

    fn table(&self) -> TableView<'_> {
        TableView { reader: self.reader(), geo: &self.shared.geo, root: &self.root }
    }

    /// The version this transaction reads.
    pub fn version(&self) -> Version {
        Version(self.root.version)
    }

    /// When that version was committed (nanoseconds since the Unix epoch).
    pub fn commit_time_nanos(&self) -> u64 {
        self.root.commit_nanos
    }

    /// The bytes of page `id` (`PAGE_SIZE` of them), without copying.
    pub fn page(&self, id: PageId) -> Result<&[u8]> {
        let entry = self.table().entry(id.get())?;
        read_page(
            &self.reader(),
            &self.shared.zero_page,
            &entry,
            id.get(),
            Check::for_reads(self.shared.options.verify_reads),
        )
    }

    /// The page-table entry of `id` in this version (where its bytes are,
    /// how long, the codec, its birth version and checksums), for tools that
    /// show the table (`mappedpages dump --entry`).
    pub fn entry(&self, id: PageId) -> Result<crate::format::Entry> {
        self.table().entry(id.get())
    }

    /// True when `id` is allocated in this version.
    pub fn contains(&self, id: PageId) -> Result<bool> {
        match self.table().entry(id.get()) {
            Ok(e) => Ok(e.is_allocated()),
            Err(crate::error::Error::OutOfRange(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The allocated ids, in ascending order.
    pub fn ids(&self) -> LiveIds<'_> {
        LiveIds::new(self.table())
    }

    /// Number of allocated pages.
    pub fn live_pages(&self) -> u64 {
        if self.root.table_depth == 0 { 0 } else { self.root.table.live }
    }

    /// A hash of this version's logical content (every allocated id and its
    /// bytes), independent of where pages sit in the file.
    pub fn content_hash(&self) -> ContentHash {
        ContentHash(if self.root.table_depth == 0 { [0; 16] } else { self.root.table.content })
    }
}

impl<const P: usize> Drop for ReadTxn<'_, P> {
    fn drop(&mut self) {
        lock(&self.shared.published).pins.release(&self.hold);
    }
}
