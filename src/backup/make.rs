//! Making a backup stream of one pinned version: full, or incremental from a
//! base named only by its (version, content hash).
//!
//! Two walks of the target's table ([`crate::walk`]):
//!
//! 1. the content: for a full stream every live entry (`Prune::Live`); for an
//!    incremental only the nodes written after the base
//!    (`Prune::WrittenAfter(base)`) and in them the entries born after it,
//!    plus, as freed ranges, every id below `next_id` those nodes show
//!    unallocated (an unallocated leaf entry, an empty child of an internal
//!    node). A free rewrites the path to its id, so every id freed since the
//!    base is in such a node: the freed ranges are a superset of the frees.
//! 2. the live set, as ranges: a subtree whose reference counts as many live
//!    ids as it covers is one range, not entered; so a dense store's live set
//!    costs a few nodes, not its leaves.
//!
//! Pages go to the stream as they are read: memory is one page plus the
//! ranges.

use std::io::Write;
use std::ops::Range;

use super::stream::{FEATURE_INCREMENTAL, KIND_FREED, KIND_LIVE, StreamHeader, StreamWriter};
use crate::error::{Error, Result};
use crate::format::{Entry, Hash16, Root, TableRef};
use crate::geometry::Geometry;
use crate::ids::{ContentHash, Version};
use crate::storage::PageReader;
use crate::table::{Check, Node, Place, read_page};
use crate::walk::{Fault, Flow, Prune, Visitor, Walk};

/// How to make a backup stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackupOptions {
    /// `None` for a full stream; `Some((version, hash))` for an incremental
    /// from that base. The base need not be readable any more: its version
    /// and content hash are all the stream needs (a bookmark).
    pub base: Option<(Version, ContentHash)>,
    /// Compress the stream's body with zstd at this level (feature
    /// `backup-zstd`).
    pub zstd_level: Option<i32>,
}

/// What a backup wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BackupReport {
    /// The version backed up.
    pub version: Version,
    /// Its content hash.
    pub content_hash: ContentHash,
    /// The base, for an incremental.
    pub base: Option<(Version, ContentHash)>,
    /// Page records written (all-zero pages carry no bytes).
    pub pages: u64,
    /// Ids live at the version.
    pub live_ids: u64,
    /// Length of the stream before compression.
    pub stream_bytes: u64,
}

/// The version to back up, pinned by the caller's read transaction.
pub(crate) struct Source<'a> {
    pub reader: PageReader<'a>,
    pub geo: &'a Geometry,
    pub root: &'a Root,
    pub store_id: [u8; 16],
    pub zero_page: &'a [u8],
    pub zero_hash: Hash16,
}

impl Source<'_> {
    pub fn content_hash(&self) -> Hash16 {
        if self.root.table_depth == 0 || self.root.table.location == 0 { [0; 16] } else { self.root.table.content }
    }
}

/// Writes the stream of `source` to `out`.
pub(crate) fn make_backup<W: Write>(source: &Source<'_>, out: W, options: BackupOptions) -> Result<BackupReport> {
    let root = source.root;
    let target_hash = source.content_hash();
    if let Some((base, _)) = options.base
        && base.get() >= root.version
    {
        return Err(Error::InvalidArgument(crate::error::Invalid::BaseNotOlder));
    }
    let (base_version, base_hash) = options.base.map_or((0, [0; 16]), |(v, h)| (v.get(), h.0));
    let header = StreamHeader {
        features: if options.base.is_some() { FEATURE_INCREMENTAL } else { 0 },
        codec: 0,
        page_size: source.geo.page_size as u32,
        store_id: source.store_id,
        base_version,
        base_hash,
        target_version: root.version,
        target_hash,
        target_next_id: root.next_id,
        target_commit_nanos: root.commit_nanos,
    };
    let mut w = StreamWriter::new(out, &header, options.zstd_level)?;
    let walk = Walk::new(source.reader, source.geo);
    let has_table = root.table_depth > 0 && root.table.location != 0;

    // 1. Pages (and, for an incremental, the freed ranges).
    let prune = if options.base.is_some() { Prune::WrittenAfter(base_version) } else { Prune::Live };
    let mut content =
        Content { source, out: &mut w, incremental: options.base.is_some(), freed: Vec::new(), error: None };
    if has_table {
        let _ = walk.pruned(prune).table(&mut content, &root.table, root.table_depth);
    } else if options.base.is_some() {
        content.freed.push(0..root.next_id);
    }
    let Content { freed, error, .. } = content;
    if let Some(e) = error {
        return Err(e);
    }
    // Internal nodes name their empty children before their other children's
    // leaves name theirs: sort, then merge.
    let mut freed = freed;
    freed.sort_by_key(|r| r.start);
    let mut merged = Ranges::default();
    for r in freed {
        merged.add(r);
    }
    for &(start, count) in &merged.0 {
        w.range(KIND_FREED, start, count)?;
    }

    // 2. The live set.
    let mut live = LiveSet { geo: source.geo, live: Ranges::default(), error: None };
    if has_table {
        let _ = walk.pruned(Prune::Live).table(&mut live, &root.table, root.table_depth);
    }
    if let Some(e) = live.error {
        return Err(e);
    }
    for &(start, count) in &live.live.0 {
        w.range(KIND_LIVE, start, count)?;
    }
    let (counts, stream_bytes) = w.finish(target_hash)?;
    Ok(BackupReport {
        version: Version(root.version),
        content_hash: ContentHash(target_hash),
        base: options.base,
        pages: counts.pages,
        live_ids: counts.live_ids,
        stream_bytes,
    })
}

/// Ascending, merged `(start, count)` ranges.
#[derive(Default)]
pub(crate) struct Ranges(pub Vec<(u64, u64)>);

impl Ranges {
    /// Adds `ids`, which start at or after the end of the last range added.
    pub fn add(&mut self, ids: Range<u64>) {
        if ids.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some((start, count)) if *start + *count >= ids.start => {
                *count = (*count).max(ids.end - *start);
            }
            _ => self.0.push((ids.start, ids.end - ids.start)),
        }
    }
}

struct Content<'s, 'a, W: Write> {
    source: &'s Source<'a>,
    out: &'s mut StreamWriter<W>,
    /// Only an incremental collects freed ranges.
    incremental: bool,
    /// Unsorted: see `make_backup`.
    freed: Vec<Range<u64>>,
    error: Option<Error>,
}

impl<'a, W: Write> Visitor<'a> for Content<'_, 'a, W> {
    fn fault(&mut self, fault: Fault) -> Flow {
        self.error = Some(fault.into_error());
        Flow::Break(())
    }

    fn table_node(&mut self, _r: &TableRef, node: &Node<'a>) {
        if node.place.level == 0 || !self.incremental {
            return;
        }
        let next_id = self.source.root.next_id;
        for i in 0..self.source.geo.internal_fanout as usize {
            if node.child(i).location == 0 {
                let ids = node.place.child(self.source.geo, i).ids(self.source.geo);
                self.freed.push(ids.start.min(next_id)..ids.end.min(next_id));
            }
        }
    }

    fn unallocated(&mut self, id: u64, _e: &Entry) {
        if self.incremental && id < self.source.root.next_id {
            self.freed.push(id..id + 1);
        }
    }

    fn entry(&mut self, id: u64, e: &Entry) -> Flow {
        let s = self.source;
        let result = read_page(&s.reader, s.zero_page, e, id, Check::Full { zero_hash: s.zero_hash })
            // `read_page` checked the bytes against `e.content`: the record
            // check reuses it.
            .and_then(|bytes| self.out.page(id, e.birth, bytes, Some(e.content)));
        match result {
            Ok(()) => Flow::Continue(()),
            Err(err) => {
                self.error = Some(err);
                Flow::Break(())
            }
        }
    }
}

struct LiveSet<'g> {
    geo: &'g Geometry,
    live: Ranges,
    error: Option<Error>,
}

impl<'a> Visitor<'a> for LiveSet<'_> {
    fn fault(&mut self, fault: Fault) -> Flow {
        self.error = Some(fault.into_error());
        Flow::Break(())
    }

    fn enter_table(&mut self, r: &TableRef, place: Place) -> bool {
        let ids = place.ids(self.geo);
        if r.live == ids.end - ids.start {
            self.live.add(ids);
            return false;
        }
        true
    }

    fn entry(&mut self, id: u64, _e: &Entry) -> Flow {
        self.live.add(id..id + 1);
        Flow::Continue(())
    }
}
