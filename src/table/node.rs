//! Reading one table node: the header check every reader does when it follows
//! a reference (SPEC.md 4.3), and the arithmetic of what a node covers. Every
//! descent of the table (lookups, [`LiveIds`](super::LiveIds), the walk in
//! `crate::walk`) goes through these.

use std::ops::Range;

use crate::error::{Error, Result, Structure};
use crate::format::{Entry, NodeHeader, SECTOR, TABLE_MAGIC, TableNode, TableRef};
use crate::geometry::{Geometry, child_first};
use crate::storage::PageReader;

/// Reads one table node and checks its header against what the parent expects.
#[inline]
pub(crate) fn read_node<'a>(reader: &PageReader<'a>, r: &TableRef, level: usize, first: u64) -> Result<&'a [u8]> {
    read_node_at(reader, r.location, r.written, level, first)
}

/// [`read_node`] from the two fields of a reference it needs.
#[inline]
pub(crate) fn read_node_at<'a>(
    reader: &PageReader<'a>,
    location: u64,
    written: u64,
    level: usize,
    first: u64,
) -> Result<&'a [u8]> {
    let page = reader.page(location, Structure::TableNode)?;
    check_header(page, location, written, level, first)?;
    Ok(page)
}

/// The header check of [`read_node_at`], for a page already read from `location`.
#[inline]
pub(crate) fn check_header(page: &[u8], location: u64, written: u64, level: usize, first: u64) -> Result<()> {
    let h = NodeHeader::read(page);
    if h.magic != TABLE_MAGIC || h.level as usize != level || h.first != first || h.written != written {
        return Err(header_error(&h, location, written, level, first));
    }
    Ok(())
}

#[cold]
fn header_error(h: &NodeHeader, location: u64, written: u64, level: usize, first: u64) -> Error {
    Error::corrupt(
        Structure::TableNode,
        location * SECTOR,
        format!(
            "node header {:?}/level {}/first {}/written {} where level {level}, first {first}, written {written} was expected",
            h.magic, h.level, h.first, h.written
        ),
    )
}

/// Where a table node sits in the tree: its level and the first id it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub level: usize,
    pub first: u64,
}

impl Place {
    /// The top node of a table of `depth` ≥ 1 levels.
    #[inline]
    pub fn top(depth: u8) -> Place {
        Place { level: depth as usize - 1, first: 0 }
    }

    /// The ids the node covers (saturating: a hostile tree may claim more
    /// than 64 bits of them).
    #[inline]
    pub fn ids(&self, geo: &Geometry) -> Range<u64> {
        self.first..self.first.saturating_add(geo.id_cover[self.level])
    }

    /// Where child `i` of this internal node sits.
    #[inline]
    pub fn child(&self, geo: &Geometry, i: usize) -> Place {
        Place { level: self.level - 1, first: child_first(self.first, i, geo.id_cover[self.level - 1]) }
    }

    /// The id of entry `i` of this leaf.
    #[inline]
    pub fn id(&self, i: usize) -> u64 {
        self.first.saturating_add(i as u64)
    }
}

/// A table node that was read and whose header matched its reference.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    pub page: &'a [u8],
    pub place: Place,
}

impl<'a> Node<'a> {
    /// Reads the node `r` references at `place` (see [`read_node`]).
    #[inline]
    pub fn read(reader: &PageReader<'a>, r: &TableRef, place: Place) -> Result<Node<'a>> {
        Ok(Node { page: read_node(reader, r, place.level, place.first)?, place })
    }

    /// Entry `i` of a leaf.
    #[inline]
    pub fn entry(&self, i: usize) -> Entry {
        TableNode::entry(self.page, i)
    }

    /// Child reference `i` of an internal node.
    #[inline]
    pub fn child(&self, i: usize) -> TableRef {
        TableNode::child(self.page, i)
    }
}
