//! The copy-on-write page table: a radix tree from logical id to [`Entry`].
//!
//! Reading descends from a root's [`TableRef`]; writing ([`rewrite`]) copies
//! every node on the path to a changed entry into a new page, so a committed
//! node is never modified.

mod content;
mod iter;

pub(crate) use content::{ContentSummary, internal_content, leaf_content};
pub use iter::LiveIds;

use crate::error::{Error, Result, Structure};
use crate::format::{Entry, NodeHeader, RecordKind, Root, SECTOR, TABLE_MAGIC, TableNode, TableRef, hash16};
use crate::geometry::Geometry;
use crate::space::{Allocator, Batch};
use crate::storage::PageReader;

/// Reads one table node and checks its header against what the parent expects.
pub(crate) fn read_node<'a>(reader: &PageReader<'a>, r: &TableRef, level: usize, first: u64) -> Result<&'a [u8]> {
    read_node_at(reader, r.location, r.written, level, first)
}

/// [`read_node`] from the two fields of a reference it needs.
fn read_node_at<'a>(
    reader: &PageReader<'a>,
    location: u64,
    written: u64,
    level: usize,
    first: u64,
) -> Result<&'a [u8]> {
    let page = reader.page(location, Structure::TableNode)?;
    let h = NodeHeader::read(page);
    if h.magic != TABLE_MAGIC || h.level as usize != level || h.first != first || h.written != written {
        return Err(Error::corrupt(
            Structure::TableNode,
            location * SECTOR,
            format!(
                "node header {:?}/level {}/first {}/written {} where level {level}, first {first}, written {written} was expected",
                h.magic, h.level, h.first, h.written
            ),
        ));
    }
    Ok(page)
}

/// Read access to the table of one root.
#[derive(Clone, Copy)]
pub(crate) struct TableView<'a> {
    pub reader: PageReader<'a>,
    pub geo: &'a Geometry,
    pub root: &'a Root,
}

impl<'a> TableView<'a> {
    /// The entry of `id`; unallocated ids below `next_id` give an all-zero entry.
    pub fn entry(&self, id: u64) -> Result<Entry> {
        let root = self.root;
        if id >= root.next_id {
            return Err(Error::OutOfRange(crate::ids::PageId::from_raw(id)));
        }
        if root.table_depth == 0 {
            return Ok(Entry::default());
        }
        // The hot path of every read: only the location and version of each
        // child are decoded on the way down.
        let (mut location, mut written) = (root.table.location, root.table.written);
        let mut level = root.table_depth as usize - 1;
        let mut first = 0u64;
        loop {
            if location == 0 {
                return Ok(Entry::default());
            }
            let node = read_node_at(&self.reader, location, written, level, first)?;
            if level == 0 {
                return Ok(TableNode::entry(node, (id - first) as usize));
            }
            let span = self.geo.id_cover[level - 1];
            let idx = (id - first) / span;
            first += idx * span;
            (location, written) = TableNode::child_link(node, idx as usize);
            level -= 1;
        }
    }

    /// The smallest id ≥ `from` and < `next_id` that is not allocated.
    pub fn first_free(&self, from: u64) -> Result<Option<u64>> {
        let root = self.root;
        if from >= root.next_id {
            return Ok(None);
        }
        if root.table_depth == 0 {
            return Ok(Some(from));
        }
        let found = self.first_free_in(&root.table, root.table_depth as usize - 1, 0, from)?;
        Ok(found.filter(|&id| id < root.next_id))
    }

    fn first_free_in(&self, r: &TableRef, level: usize, first: u64, from: u64) -> Result<Option<u64>> {
        let cover = self.geo.id_cover[level];
        if r.location == 0 {
            return Ok(Some(from.max(first)));
        }
        if r.live >= cover {
            return Ok(None);
        }
        let node = read_node(&self.reader, r, level, first)?;
        if level == 0 {
            let start = from.saturating_sub(first) as usize;
            for i in start..self.geo.leaf_fanout as usize {
                if !TableNode::entry(node, i).is_allocated() {
                    return Ok(Some(first.saturating_add(i as u64)));
                }
            }
            return Ok(None);
        }
        let span = self.geo.id_cover[level - 1];
        let start = (from.saturating_sub(first) / span) as usize;
        for i in start..self.geo.internal_fanout as usize {
            let child_first = crate::geometry::child_first(first, i, span);
            let child = TableNode::child(node, i);
            if let Some(id) = self.first_free_in(&child, level - 1, child_first, from)? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}

/// A node being rebuilt.
#[derive(Clone, Copy)]
enum Source {
    /// A committed node, copied.
    Disk(TableRef),
    /// An empty subtree.
    Fresh,
    /// A level added above the old top: child 0 leads down to `old_top`.
    Wrap { old_top: TableRef, old_level: usize },
}

/// Applies `changes` (sorted by id, all below the capacity of `new_depth`) to the
/// table under `top` and returns the new top reference. Old nodes on rewritten
/// paths go to `batch.frees`; new nodes are allocated from `space` and queued in
/// `batch.writes`. Growing the depth adds levels whose child 0 is the old top.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rewrite(
    reader: &PageReader<'_>,
    geo: &Geometry,
    top: TableRef,
    old_depth: u8,
    new_depth: u8,
    changes: &[(u64, Entry)],
    space: &mut Allocator<'_, '_>,
    batch: &mut Batch,
) -> Result<TableRef> {
    // Without changes the tree stays as it is, unless it must grow a level:
    // ids allocated and freed in one transaction still raise `next_id`.
    if new_depth == 0 || (changes.is_empty() && (new_depth == old_depth || top.location == 0)) {
        return Ok(top);
    }
    let level = new_depth as usize - 1;
    let source = if old_depth == new_depth || old_depth == 0 || top.location == 0 {
        if top.location == 0 || old_depth == 0 { Source::Fresh } else { Source::Disk(top) }
    } else {
        Source::Wrap { old_top: top, old_level: old_depth as usize - 1 }
    };
    rebuild(reader, geo, source, level, 0, changes, space, batch)
}

#[allow(clippy::too_many_arguments)]
fn rebuild(
    reader: &PageReader<'_>,
    geo: &Geometry,
    source: Source,
    level: usize,
    first: u64,
    changes: &[(u64, Entry)],
    space: &mut Allocator<'_, '_>,
    batch: &mut Batch,
) -> Result<TableRef> {
    let mut page = vec![0u8; geo.page_size].into_boxed_slice();
    let mut wrap_below = None;
    match source {
        Source::Disk(r) => {
            let old = read_node(reader, &r, level, first)?;
            page.copy_from_slice(old);
            batch.free(geo.page(r.location), r.written, RecordKind::Content);
        }
        Source::Fresh => {}
        Source::Wrap { old_top, old_level } => {
            if level - 1 == old_level {
                TableNode::set_child(&mut page, 0, &old_top);
            } else {
                wrap_below = Some(Source::Wrap { old_top, old_level });
            }
        }
    }
    TableNode::init(&mut page, level as u8, batch.version, first);
    if level == 0 {
        for (id, e) in changes {
            TableNode::set_entry(&mut page, (id - first) as usize, e);
        }
    } else {
        let span = geo.id_cover[level - 1];
        if let Some(wrap) = wrap_below {
            let n = changes.iter().take_while(|(i, _)| *i < span).count();
            let child = rebuild(reader, geo, wrap, level - 1, 0, &changes[..n], space, batch)?;
            TableNode::set_child(&mut page, 0, &child);
        }
        let mut rest = changes;
        if wrap_below.is_some() {
            let n = rest.iter().take_while(|(i, _)| *i < span).count();
            rest = &rest[n..];
        }
        while let Some(&(id, _)) = rest.first() {
            let idx = ((id - first) / span) as usize;
            let child_first = first + idx as u64 * span;
            let n = rest.iter().take_while(|(i, _)| *i - child_first < span).count();
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let child = TableNode::child(&page, idx);
            let source = if child.location == 0 { Source::Fresh } else { Source::Disk(child) };
            let new_child = rebuild(reader, geo, source, level - 1, child_first, group, space, batch)?;
            TableNode::set_child(&mut page, idx, &new_child);
        }
    }
    finish_node(geo, page, level, first, space, batch)
}

/// Computes a rebuilt node's summary, allocates its page and queues the write.
/// An empty node is not written: its parent records an empty subtree.
fn finish_node(
    geo: &Geometry,
    page: Box<[u8]>,
    level: usize,
    first: u64,
    space: &mut Allocator<'_, '_>,
    batch: &mut Batch,
) -> Result<TableRef> {
    let ContentSummary { live, max_birth, content } = if level == 0 {
        leaf_content(&page, geo.leaf_fanout as usize, first)
    } else {
        internal_content(&page, geo.internal_fanout as usize, geo.id_cover[level - 1], first)
    };
    if live == 0 {
        return Ok(TableRef::default());
    }
    let location = space.alloc_page()?;
    let checksum = hash16(&page);
    batch.writes.push((location, page));
    Ok(TableRef { location, written: batch.version, max_birth, live, checksum, content })
}
