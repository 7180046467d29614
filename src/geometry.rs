//! Sizes that follow from the page size: fanouts and the ids or sectors a node
//! at each level covers.

use crate::format::{Extent, Layout, MapNode, SECTOR, TableNode};
use crate::storage::PageReader;

/// Deepest tree built or read.
pub(crate) const MAX_LEVELS: usize = 24;

/// Derived sizes for one page size.
#[derive(Clone, Debug)]
pub(crate) struct Geometry {
    pub page_size: usize,
    /// Sectors per page.
    pub spp: u64,
    pub leaf_fanout: u64,
    pub internal_fanout: u64,
    /// Ids covered by a table node at each level (saturating at u64::MAX).
    pub id_cover: [u64; MAX_LEVELS],
    pub map_fanout: u64,
    /// Sectors covered by a free-map node at each level (saturating).
    pub sector_cover: [u64; MAX_LEVELS],
    /// Where the header and root slots lie (the file's format version).
    pub layout: Layout,
    /// First sector after the header and root slots.
    pub first_data_sector: u64,
}

impl Geometry {
    pub fn new(page_size: usize, layout: Layout) -> Geometry {
        let leaf_fanout = TableNode::leaf_fanout(page_size);
        let internal_fanout = TableNode::internal_fanout(page_size);
        let map_fanout = MapNode::fanout(page_size);
        let mut id_cover = [0u64; MAX_LEVELS];
        let mut sector_cover = [0u64; MAX_LEVELS];
        id_cover[0] = leaf_fanout;
        sector_cover[0] = MapNode::sectors_per_leaf(page_size);
        for l in 1..MAX_LEVELS {
            id_cover[l] = id_cover[l - 1].saturating_mul(internal_fanout);
            sector_cover[l] = sector_cover[l - 1].saturating_mul(map_fanout);
        }
        let spp = page_size as u64 / SECTOR;
        Geometry {
            page_size,
            spp,
            leaf_fanout,
            internal_fanout,
            id_cover,
            map_fanout,
            sector_cover,
            layout,
            first_data_sector: layout.meta_pages(page_size) * spp,
        }
    }

    /// The extent of the raw page that starts at sector `location`: every
    /// whole page is `spp` sectors at a page boundary.
    pub const fn page(&self, location: u64) -> Extent {
        Extent::page(location, self.spp)
    }

    /// Byte offset of root slot `slot` (0 or 1).
    pub const fn root_slot_offset(&self, slot: usize) -> u64 {
        self.layout.root_slot_offset(slot)
    }

    /// Bytes of the meta area: the header, the root slots and the zeros
    /// around them, in whole pages.
    pub const fn meta_len(&self) -> u64 {
        self.first_data_sector * SECTOR
    }

    /// Decodes root slot `slot` as `reader` maps it (`Ok(None)`: never written).
    pub fn decode_root(&self, reader: &PageReader<'_>, slot: usize) -> crate::Result<Option<crate::format::Root>> {
        let offset = self.root_slot_offset(slot);
        reader
            .bytes(offset / SECTOR, SECTOR as usize, crate::Structure::Root)
            .and_then(|b| crate::format::Root::decode(b, self.page_size, self.layout, offset))
    }

    /// Table depth needed for ids below `next_id` (0 for none).
    pub fn table_depth_for(&self, next_id: u64) -> u8 {
        if next_id == 0 {
            return 0;
        }
        (0..MAX_LEVELS).find(|&l| self.id_cover[l] >= next_id).map_or(MAX_LEVELS as u8, |l| l as u8 + 1)
    }

    /// Free-map depth needed to cover `sectors` sectors (0 for none).
    pub fn map_depth_for(&self, sectors: u64) -> u8 {
        if sectors == 0 {
            return 0;
        }
        (0..MAX_LEVELS).find(|&l| self.sector_cover[l] >= sectors).map_or(MAX_LEVELS as u8, |l| l as u8 + 1)
    }

    /// Ids a table of `depth` levels can hold.
    pub fn id_capacity(&self, depth: u8) -> u64 {
        if depth == 0 { 0 } else { self.id_cover[depth as usize - 1] }
    }

    /// Sectors a free map of `depth` levels covers.
    pub fn sector_capacity(&self, depth: u8) -> u64 {
        if depth == 0 { 0 } else { self.sector_cover[depth as usize - 1] }
    }
}

/// Nodes a tree walk may still read: the pages of the file. A tree that
/// references no page twice (in a valid file the extents one root reaches
/// never overlap, SPEC.md 7 and 12) never reads more; one that needs more visits shares a node, and its walk would
/// otherwise cost up to fanout^depth visits. A counter, not a set: O(1)
/// memory and one decrement per node on the open path.
pub(crate) struct Budget(u64);

impl Budget {
    /// One node per page of what `reader` maps.
    #[inline]
    pub fn of_file(reader: &PageReader<'_>) -> Budget {
        Budget(reader.len() / reader.page_size() as u64)
    }

    /// Takes one node from the budget; `false` when it is spent.
    #[inline]
    pub fn take(&mut self) -> bool {
        match self.0.checked_sub(1) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => false,
        }
    }
}

/// The detail of the error a spent [`Budget`] gives.
pub(crate) const OVER_BUDGET: &str = "the tree reaches more nodes than the file has pages: a node is referenced twice";

/// The first id (or sector) of child `i` of a node that starts at `first` and
/// whose children each cover `span`. Saturates: a hostile tree may claim more
/// than 64 bits of ids, and its walk must still not overflow.
pub(crate) fn child_first(first: u64, i: usize, span: u64) -> u64 {
    first.saturating_add((i as u64).saturating_mul(span))
}
