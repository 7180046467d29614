//! Export: a consistent, compacted copy of one version in a new file, made while
//! the store stays online (the version is pinned by a read transaction).
//!
//! The copy is laid out densely: the header and roots, the data pages in id
//! order, then the table bottom-up. It has no free space, no pending list and no
//! free map (every sector is in use); page births and the version number are
//! kept, so its content hash equals the source's.

use std::path::Path;

use crate::error::{Error, Result};
use crate::format::{
    ENTRY_ALLOCATED, Entry, Header, Root, SECTOR, TableNode, TableRef, hash16, meta_pages, root_slot_offset,
};
use crate::ids::{ContentHash, Version};
use crate::storage::{FileMode, FileStorage, Storage};
use crate::store::{Shared, now_nanos};
use crate::table::{ContentSummary, TableView, internal_content, leaf_content};
use crate::txn::ReadTxn;

/// What [`Store::export`](crate::Store::export) wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Writes the version `txn` reads into a new file at `path`.
pub fn export_version<const P: usize>(shared: &Shared, txn: &ReadTxn<'_, P>, path: &Path) -> Result<ExportReport> {
    let storage = FileStorage::open(path, FileMode::Create, shared.options.reserve).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::AlreadyExists,
        _ => Error::Io { context: "creating the export file", source: e },
    })?;
    let geo = &shared.geo;
    let root = &*txn.root;
    let reader = txn.reader();
    let view = TableView { reader, geo, root };
    let spp = geo.spp;
    let meta = meta_pages(P);

    // Pass 1: the entries, and where each data page goes.
    let mut entries: Vec<(u64, Entry)> = Vec::new();
    let mut sources: Vec<&[u8]> = Vec::new();
    let mut next_page = meta;
    for id in txn.ids() {
        let id = id?.get();
        let mut e = view.entry(id)?;
        if e.location != 0 {
            sources.push(super::super::txn::entry_bytes(&reader, &shared.zero_page, &e, id, true)?);
            e.location = next_page * spp;
            next_page += 1;
        }
        entries.push((id, e));
    }
    let data_pages = next_page - meta;

    // Pass 2: the table, level by level, each node placed after the last.
    let written = root.version;
    let place = |next_page: &mut u64, nodes: &mut Vec<(u64, Box<[u8]>)>, page: Box<[u8]>, s: &ContentSummary| {
        let location = *next_page * spp;
        *next_page += 1;
        let r = TableRef {
            location,
            written,
            max_birth: s.max_birth,
            live: s.live,
            checksum: hash16(&page),
            content: s.content,
        };
        nodes.push((location, page));
        r
    };
    let mut nodes: Vec<(u64, Box<[u8]>)> = Vec::new();
    let depth = root.table_depth;
    let mut level_refs: Vec<(u64, TableRef)> = Vec::new();
    if depth > 0 && !entries.is_empty() {
        let fanout = geo.leaf_fanout;
        let mut i = 0;
        while i < entries.len() {
            let leaf = entries[i].0 / fanout;
            let first = leaf * fanout;
            let mut page = vec![0u8; P].into_boxed_slice();
            TableNode::init(&mut page, 0, root.version, first);
            while i < entries.len() && entries[i].0 / fanout == leaf {
                let (id, e) = &entries[i];
                TableNode::set_entry(&mut page, (id - first) as usize, &Entry { flags: ENTRY_ALLOCATED, ..*e });
                i += 1;
            }
            let s = leaf_content(&page, fanout as usize, first);
            level_refs.push((leaf, place(&mut next_page, &mut nodes, page, &s)));
        }
        for level in 1..depth as usize {
            let fanout = geo.internal_fanout;
            let span = geo.id_cover[level - 1];
            let mut parents = Vec::new();
            let mut j = 0;
            while j < level_refs.len() {
                let parent = level_refs[j].0 / fanout;
                let first = parent * geo.id_cover[level];
                let mut page = vec![0u8; P].into_boxed_slice();
                TableNode::init(&mut page, level as u8, root.version, first);
                while j < level_refs.len() && level_refs[j].0 / fanout == parent {
                    TableNode::set_child(&mut page, (level_refs[j].0 - parent * fanout) as usize, &level_refs[j].1);
                    j += 1;
                }
                let s = internal_content(&page, fanout as usize, span, first);
                parents.push((parent, place(&mut next_page, &mut nodes, page, &s)));
            }
            level_refs = parents;
        }
    }
    let table = level_refs.first().map_or(TableRef::default(), |(_, r)| *r);
    let file_len = next_page * P as u64;

    // Write: header, data, table, sync, root, sync.
    let io = |context: &'static str| move |source| Error::Io { context, source };
    let header = Header { created_nanos: now_nanos(), ..shared.header };
    storage.grow(file_len).map_err(io("growing the export file"))?;
    storage.write(0, &header.encode()).map_err(io("writing the export header"))?;
    for (k, chunk) in sources.chunks(1024).enumerate() {
        let at = (meta + (k * 1024) as u64) * P as u64;
        storage.write_vectored(at, chunk).map_err(io("writing exported pages"))?;
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
    storage.write(root_slot_offset(0), &out_root.encode()).map_err(io("writing the export root"))?;
    storage.sync().map_err(io("syncing the export root"))?;
    Ok(ExportReport {
        version: Version(root.version),
        data_pages,
        file_len,
        content_hash: ContentHash(if table.location == 0 { [0; 16] } else { table.content }),
    })
}
