//! Free-map nodes: one page each, a 64-byte node header then either a bitmap
//! (one bit per sector, 1 = in use) or child references (40 bytes each).

use super::{Hash16, NODE_HEADER, NodeHeader, get_hash, get_u64, put_hash, put_u64, sectors_per_page};

/// Magic of a free-map node.
pub const MAP_MAGIC: [u8; 4] = *b"MPFM";

/// Reference to a free-map node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapRef {
    /// Sector of the child node; 0 = absent (every sector it would cover is in use).
    pub location: u64,
    /// Version that wrote the child node.
    pub written: u64,
    /// Free sectors below.
    pub free: u64,
    /// blake3 of the child page, cut to 16 bytes.
    pub checksum: Hash16,
}

impl MapRef {
    /// Encoded size.
    pub const SIZE: usize = 40;

    pub(crate) fn read(b: &[u8], at: usize) -> MapRef {
        MapRef {
            location: get_u64(b, at),
            written: get_u64(b, at + 8),
            free: get_u64(b, at + 16),
            checksum: get_hash(b, at + 24),
        }
    }

    pub(crate) fn write(&self, b: &mut [u8], at: usize) {
        put_u64(b, at, self.location);
        put_u64(b, at + 8, self.written);
        put_u64(b, at + 16, self.free);
        put_hash(b, at + 24, &self.checksum);
    }
}

/// Accessors over a free-map node's page bytes.
pub struct MapNode;

impl MapNode {
    /// Sectors covered by one leaf: the bitmap's bits, rounded down to whole pages.
    pub const fn sectors_per_leaf(page_size: usize) -> u64 {
        let bits = ((page_size - NODE_HEADER) * 8) as u64;
        bits - bits % sectors_per_page(page_size)
    }

    /// Children per internal node.
    pub const fn fanout(page_size: usize) -> u64 {
        ((page_size - NODE_HEADER) / MapRef::SIZE) as u64
    }

    /// Reads child `i` of an internal page.
    #[inline]
    pub fn child(page: &[u8], i: usize) -> MapRef {
        MapRef::read(page, NODE_HEADER + i * MapRef::SIZE)
    }

    /// Writes child `i` of an internal page.
    pub fn set_child(page: &mut [u8], i: usize, r: &MapRef) {
        r.write(page, NODE_HEADER + i * MapRef::SIZE)
    }

    /// The bitmap bytes of a leaf page.
    pub fn bits(page: &[u8]) -> &[u8] {
        &page[NODE_HEADER..]
    }

    /// The bitmap bytes of a leaf page, mutable.
    pub fn bits_mut(page: &mut [u8]) -> &mut [u8] {
        &mut page[NODE_HEADER..]
    }

    /// Writes a fresh node header.
    pub fn init(page: &mut [u8], level: u8, written: u64, first_sector: u64) {
        NodeHeader { magic: MAP_MAGIC, level, written, first: first_sector }.write(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_coverage_is_whole_pages() {
        for ps in [1024usize, 4096, 65536] {
            assert_eq!(MapNode::sectors_per_leaf(ps) % sectors_per_page(ps), 0);
            assert!(MapNode::sectors_per_leaf(ps) <= ((ps - NODE_HEADER) * 8) as u64);
        }
        assert_eq!(MapNode::sectors_per_leaf(4096), 32256);
        assert_eq!(MapNode::fanout(4096), 100);
    }
}
