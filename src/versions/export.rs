//! Export: a consistent, compacted copy of one version in a new file, made while
//! the store stays online (the version is pinned by a read transaction).
//!
//! The copy is laid out densely: the header and roots, the data pages in id
//! order, then the table bottom-up. It has no free space, no pending list and no
//! free map (every sector is in use); page births and the version number are
//! kept, so its content hash equals the source's.

use std::path::Path;

use crate::clock::now_nanos;
use crate::error::{Error, Result};
use crate::format::{Entry, Hash16, Header, Layout, Root, SECTOR, hash16};
use crate::geometry::Geometry;
use crate::ids::{ContentHash, PageId, Version};
use crate::progress::Progress;
use crate::storage::{FileMode, FileStorage, PageReader, Storage};
use crate::table::{Check, DenseTable, build_dense, read_page};
use crate::walk::{Fault, Flow, Prune, Visitor, Walk};

/// What [`Store::export`](crate::Store::export) wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExportReport {
    /// The version copied.
    pub version: Version,
    /// Pages with data written.
    pub data_pages: u64,
    /// Length of the new file in bytes.
    pub file_len: u64,
    /// Content hash of the copy (equal to the source version's).
    pub content_hash: ContentHash,
}

/// The version to export and what the copy takes from its store.
pub(crate) struct Source<'a> {
    /// A reader pinning `root`.
    pub reader: PageReader<'a>,
    pub geo: &'a Geometry,
    pub root: &'a Root,
    /// The store's header (the copy keeps its id and page size).
    pub header: Header,
    /// `page_size` zero bytes, what an entry without an extent reads as.
    pub zero_page: &'a [u8],
    /// Address space to reserve for the new file's mapping.
    pub reserve: u64,
}

/// Writes the version `source` reads into a new file at `path`, telling
/// `progress` of each page read and written. On any failure (a cancel
/// included) the new file is removed again.
pub(crate) fn export_version(source: Source<'_>, path: &Path, progress: &dyn Progress) -> Result<ExportReport> {
    let storage = FileStorage::open(path, FileMode::Create, source.reserve)
        .map_err(crate::store::open_error(path, FileMode::Create))?;
    let result = write_export(source, &storage, progress);
    if result.is_err() {
        drop(storage);
        let _ = std::fs::remove_file(path);
    }
    result
}

fn write_export(source: Source<'_>, storage: &FileStorage, progress: &dyn Progress) -> Result<ExportReport> {
    let Source { reader, geo, root, header, zero_page, .. } = source;
    // One unit per live page read, one per page written.
    progress.start(if root.table_depth == 0 { 0 } else { root.table.live.saturating_mul(2) });
    let page_size = geo.page_size as u64;
    let spp = geo.spp;
    // An export is a new file: in the current format, whatever the source's.
    let out = Geometry::new(geo.page_size, Layout::CURRENT);
    let meta = out.first_data_sector / spp;

    // Pass 1: the live entries in id order, and where each data page goes.
    let mut live = LiveEntries {
        reader,
        zero_page,
        zero_hash: hash16(zero_page),
        next_id: root.next_id,
        spp,
        next_page: meta,
        entries: Vec::new(),
        sources: Vec::new(),
        error: None,
        progress,
    };
    let _ = Walk::new(reader, geo).pruned(Prune::Live).table(&mut live, &root.table, root.table_depth);
    if let Some(e) = live.error {
        return Err(e);
    }
    let LiveEntries { entries, sources, next_page, .. } = live;
    let data_pages = next_page - meta;

    // Pass 2: the table, level by level, each node placed after the last.
    let depth = root.table_depth;
    let DenseTable { nodes, top: table, end_page } = build_dense(&out, depth, root.version, &entries, next_page);
    let file_len = end_page * page_size;

    // Write: header, data, table, sync, root, sync.
    let io = |context: &'static str| move |source| Error::Io { context, path: None, source };
    let header = Header { format_version: out.layout.version(), created_nanos: now_nanos(), ..header };
    storage.grow(file_len).map_err(io("growing the export file"))?;
    storage.write(0, &header.encode()).map_err(io("writing the export header"))?;
    let zero_pages = live_count(root).saturating_sub(sources.len() as u64);
    progress.advance(zero_pages);
    for (k, chunk) in sources.chunks(1024).enumerate() {
        if progress.cancelled() {
            return Err(Error::Cancelled);
        }
        let at = (meta + (k * 1024) as u64) * page_size;
        storage.write_vectored(at, chunk).map_err(io("writing exported pages"))?;
        progress.advance(chunk.len() as u64);
    }
    for (location, page) in &nodes {
        storage.write(location * SECTOR, page).map_err(io("writing the exported table"))?;
    }
    storage.sync().map_err(io("syncing the export"))?;
    let out_root = Root {
        version: root.version,
        commit_nanos: root.commit_nanos,
        synced_through: root.version,
        file_len,
        next_id: root.next_id,
        table_depth: depth,
        table,
        history_start: root.version,
        ..Root::default()
    };
    storage.write(out.root_slot_offset(0), &out_root.encode()).map_err(io("writing the export root"))?;
    storage.sync().map_err(io("syncing the export root"))?;
    Ok(ExportReport {
        version: Version(root.version),
        data_pages,
        file_len,
        content_hash: ContentHash(if table.location == 0 { [0; 16] } else { table.content }),
    })
}

fn live_count(root: &Root) -> u64 {
    if root.table_depth == 0 { 0 } else { root.table.live }
}

/// Pass 1 of an export: each live entry, its data page read (and checked), and
/// its new place: one page each, in id order, from `next_page`.
struct LiveEntries<'a> {
    reader: PageReader<'a>,
    zero_page: &'a [u8],
    zero_hash: Hash16,
    next_id: u64,
    spp: u64,
    next_page: u64,
    entries: Vec<(u64, Entry)>,
    sources: Vec<&'a [u8]>,
    error: Option<Error>,
    progress: &'a dyn Progress,
}

impl<'a> Visitor<'a> for LiveEntries<'a> {
    fn fault(&mut self, fault: Fault) -> Flow {
        self.error = Some(fault.into_error());
        Flow::Break(())
    }

    fn entry(&mut self, id: u64, e: &Entry) -> Flow {
        if self.progress.cancelled() {
            self.error = Some(Error::Cancelled);
            return Flow::Break(());
        }
        self.progress.advance(1);
        if id >= self.next_id {
            // What looking the id up gives (the table claims an id beyond next_id).
            self.error = Some(Error::OutOfRange(PageId::from_raw(id)));
            return Flow::Break(());
        }
        let mut e = *e;
        // Every check the entry promises: a copy must not carry damage over.
        let bytes = match read_page(&self.reader, self.zero_page, &e, id, Check::Full { zero_hash: self.zero_hash }) {
            Ok(bytes) => bytes,
            Err(err) => {
                self.error = Some(err);
                return Flow::Break(());
            }
        };
        if e.location != 0 {
            self.sources.push(bytes);
            e.location = self.next_page * self.spp;
            self.next_page += 1;
        }
        self.entries.push((id, e));
        Flow::Continue(())
    }
}
