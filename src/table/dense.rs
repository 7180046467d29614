//! A dense table built bottom-up from sorted entries: the layout export writes
//! (SPEC.md 11), and the one a restore will write.

use super::{ContentSummary, internal_content, leaf_content};
use crate::format::{ENTRY_ALLOCATED, Entry, TableNode, TableRef, hash16};
use crate::geometry::Geometry;

/// The nodes of a dense table and the reference to its top.
pub(crate) struct DenseTable {
    /// (sector, page) of each node, in the order they are placed: the leaves
    /// in increasing `first`, then each level above, bottom-up.
    pub nodes: Vec<(u64, Box<[u8]>)>,
    /// The top node's reference (all zero when no id is allocated or the depth is 0).
    pub top: TableRef,
    /// One past the last page index used (`first_page` when no node was written).
    pub end_page: u64,
}

/// Builds a table of `depth` levels holding `entries` (sorted by id, all below
/// the depth's capacity; each is marked allocated, the rest of it kept). Every
/// node is `written` at that version, and is placed one page after the other
/// from page index `first_page`; only nodes with an allocated id below are
/// written. Each reference's `live`, `max_birth` and `content` are computed
/// (SPEC.md 5, 6).
pub(crate) fn build_dense(
    geo: &Geometry,
    depth: u8,
    written: u64,
    entries: &[(u64, Entry)],
    first_page: u64,
) -> DenseTable {
    let spp = geo.spp;
    let mut next_page = first_page;
    let mut nodes: Vec<(u64, Box<[u8]>)> = Vec::new();
    let mut place = |page: Box<[u8]>, s: &ContentSummary| {
        let location = next_page * spp;
        next_page += 1;
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
    // (index of the node within its level, its reference), level by level.
    let mut level_refs: Vec<(u64, TableRef)> = Vec::new();
    if depth > 0 && !entries.is_empty() {
        let fanout = geo.leaf_fanout;
        let mut i = 0;
        while i < entries.len() {
            let leaf = entries[i].0 / fanout;
            let first = leaf * fanout;
            let mut page = vec![0u8; geo.page_size].into_boxed_slice();
            TableNode::init(&mut page, 0, written, first);
            while i < entries.len() && entries[i].0 / fanout == leaf {
                let (id, e) = &entries[i];
                TableNode::set_entry(&mut page, (id - first) as usize, &Entry { flags: ENTRY_ALLOCATED, ..*e });
                i += 1;
            }
            let s = leaf_content(&page, fanout as usize, first);
            level_refs.push((leaf, place(page, &s)));
        }
        for level in 1..depth as usize {
            let fanout = geo.internal_fanout;
            let span = geo.id_cover[level - 1];
            let mut parents = Vec::new();
            let mut j = 0;
            while j < level_refs.len() {
                let parent = level_refs[j].0 / fanout;
                let first = parent * geo.id_cover[level];
                let mut page = vec![0u8; geo.page_size].into_boxed_slice();
                TableNode::init(&mut page, level as u8, written, first);
                while j < level_refs.len() && level_refs[j].0 / fanout == parent {
                    TableNode::set_child(&mut page, (level_refs[j].0 - parent * fanout) as usize, &level_refs[j].1);
                    j += 1;
                }
                let s = internal_content(&page, fanout as usize, span, first);
                parents.push((parent, place(page, &s)));
            }
            level_refs = parents;
        }
    }
    let top = level_refs.first().map_or(TableRef::default(), |(_, r)| *r);
    DenseTable { nodes, top, end_page: next_page }
}
