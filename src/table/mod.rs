//! The copy-on-write page table: a radix tree from logical id to [`Entry`].
//!
//! Reading descends from a root's [`TableRef`]; writing ([`rewrite`]) copies
//! every node on the path to a changed entry into a new page, so a committed
//! node is never modified.

mod content;
mod decode;
mod dense;
mod iter;
mod node;
mod view;

pub(crate) use content::{ContentSummary, internal_content, leaf_content};
pub(crate) use decode::{Check, PageFault, page_bytes, read_page};
pub(crate) use dense::{DenseTable, build_dense};
pub use iter::LiveIds;
pub(crate) use node::{Node, Place, check_header, read_node};
pub(crate) use view::TableView;

use crate::error::Result;
use crate::format::{Entry, RecordKind, TableNode, TableRef, hash16};
use crate::geometry::Geometry;
use crate::space::{Allocator, Batch};
use crate::storage::PageReader;

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
