//! Point lookups in the table of one root: the entry of an id (the hot path of
//! every read) and the first unallocated id.

use super::node::{Node, Place, read_node_at};
use crate::error::{Error, Result, Structure};
use crate::format::{Entry, Root, SECTOR, TableNode, TableRef};
use crate::geometry::{Budget, Geometry, OVER_BUDGET};
use crate::storage::PageReader;

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

    /// The smallest id ≥ `from` and < `next_id` that is not allocated. A tree
    /// whose search would read more nodes than the file has pages (nodes
    /// sharing children) is an [`Error::Corrupt`].
    pub fn first_free(&self, from: u64) -> Result<Option<u64>> {
        let root = self.root;
        if from >= root.next_id {
            return Ok(None);
        }
        if root.table_depth == 0 {
            return Ok(Some(from));
        }
        let mut budget = Budget::of_file(&self.reader);
        let found = self.first_free_in(&root.table, Place::top(root.table_depth), from, &mut budget)?;
        Ok(found.filter(|&id| id < root.next_id))
    }

    fn first_free_in(&self, r: &TableRef, place: Place, from: u64, budget: &mut Budget) -> Result<Option<u64>> {
        let cover = self.geo.id_cover[place.level];
        if r.location == 0 {
            return Ok(Some(from.max(place.first)));
        }
        if r.live >= cover {
            return Ok(None);
        }
        if !budget.take() {
            return Err(Error::corrupt(Structure::TableNode, r.location.saturating_mul(SECTOR), OVER_BUDGET));
        }
        let node = Node::read(&self.reader, r, place)?;
        if place.level == 0 {
            let start = from.saturating_sub(place.first) as usize;
            for i in start..self.geo.leaf_fanout as usize {
                if !node.entry(i).is_allocated() {
                    return Ok(Some(place.id(i)));
                }
            }
            return Ok(None);
        }
        let span = self.geo.id_cover[place.level - 1];
        let start = (from.saturating_sub(place.first) / span) as usize;
        for i in start..self.geo.internal_fanout as usize {
            if let Some(id) = self.first_free_in(&node.child(i), place.child(self.geo, i), from, budget)? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}
