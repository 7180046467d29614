//! Page-table nodes: one page each, a 64-byte node header then either leaf
//! entries (48 bytes each) or child references (64 bytes each).

use super::{Hash16, NODE_HEADER, NodeHeader, get_hash, get_u32, get_u64, put_hash, put_u32, put_u64};

/// Magic of a table node.
pub const TABLE_MAGIC: [u8; 4] = *b"MPTN";

/// Whether a node holds entries or children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// Level 0: entries.
    Leaf,
    /// Level ≥ 1: child references.
    Internal,
}

/// Reference from a parent (or the root) to a table node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableRef {
    /// Sector of the child node; 0 = empty subtree (no allocated id below).
    pub location: u64,
    /// Version that wrote the child node.
    pub written: u64,
    /// Newest content birth of any entry below.
    pub max_birth: u64,
    /// Allocated ids below.
    pub live: u64,
    /// blake3 of the child page, cut to 16 bytes.
    pub checksum: Hash16,
    /// Logical content hash of the subtree (see SPEC.md, "Content hash").
    pub content: Hash16,
}

impl TableRef {
    /// Encoded size.
    pub const SIZE: usize = 64;

    #[inline]
    pub(crate) fn read(b: &[u8], at: usize) -> TableRef {
        TableRef {
            location: get_u64(b, at),
            written: get_u64(b, at + 8),
            max_birth: get_u64(b, at + 16),
            live: get_u64(b, at + 24),
            checksum: get_hash(b, at + 32),
            content: get_hash(b, at + 48),
        }
    }

    pub(crate) fn write(&self, b: &mut [u8], at: usize) {
        put_u64(b, at, self.location);
        put_u64(b, at + 8, self.written);
        put_u64(b, at + 16, self.max_birth);
        put_u64(b, at + 24, self.live);
        put_hash(b, at + 32, &self.checksum);
        put_hash(b, at + 48, &self.content);
    }
}

/// Flag bit: the id is allocated.
pub const ENTRY_ALLOCATED: u8 = 1;

/// One logical page's entry in a leaf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// Sector of the stored bytes; 0 = no extent (the page reads as zeros).
    pub location: u64,
    /// Length of the stored bytes.
    pub stored_len: u32,
    /// Codec of the stored bytes (0 = none).
    pub codec: u8,
    /// Flag bits ([`ENTRY_ALLOCATED`]).
    pub flags: u8,
    /// Version that wrote this content.
    pub birth: u64,
    /// blake3 of the logical (uncompressed) page, cut to 16 bytes.
    pub content: Hash16,
    /// blake3 of the stored bytes, cut to 8 bytes.
    pub stored_check: [u8; 8],
}

impl Entry {
    /// Encoded size.
    pub const SIZE: usize = 48;

    /// True when the id is allocated.
    pub fn is_allocated(&self) -> bool {
        self.flags & ENTRY_ALLOCATED != 0
    }

    #[inline]
    pub(crate) fn read(b: &[u8], at: usize) -> Entry {
        let mut stored_check = [0u8; 8];
        stored_check.copy_from_slice(&b[at + 40..at + 48]);
        Entry {
            location: get_u64(b, at),
            stored_len: get_u32(b, at + 8),
            codec: b[at + 12],
            flags: b[at + 13],
            birth: get_u64(b, at + 16),
            content: get_hash(b, at + 24),
            stored_check,
        }
    }

    pub(crate) fn write(&self, b: &mut [u8], at: usize) {
        put_u64(b, at, self.location);
        put_u32(b, at + 8, self.stored_len);
        b[at + 12] = self.codec;
        b[at + 13] = self.flags;
        b[at + 14] = 0;
        b[at + 15] = 0;
        put_u64(b, at + 16, self.birth);
        put_hash(b, at + 24, &self.content);
        b[at + 40..at + 48].copy_from_slice(&self.stored_check);
    }
}

/// Accessors over a table node's page bytes.
pub struct TableNode;

impl TableNode {
    /// Entries per leaf for a page size.
    pub const fn leaf_fanout(page_size: usize) -> u64 {
        ((page_size - NODE_HEADER) / Entry::SIZE) as u64
    }

    /// Children per internal node for a page size.
    pub const fn internal_fanout(page_size: usize) -> u64 {
        ((page_size - NODE_HEADER) / TableRef::SIZE) as u64
    }

    /// Reads entry `i` of a leaf page.
    #[inline]
    pub fn entry(page: &[u8], i: usize) -> Entry {
        Entry::read(page, NODE_HEADER + i * Entry::SIZE)
    }

    /// Writes entry `i` of a leaf page.
    pub fn set_entry(page: &mut [u8], i: usize, e: &Entry) {
        e.write(page, NODE_HEADER + i * Entry::SIZE)
    }

    /// Reads child `i` of an internal page.
    #[inline]
    pub fn child(page: &[u8], i: usize) -> TableRef {
        TableRef::read(page, NODE_HEADER + i * TableRef::SIZE)
    }

    /// The location and `written` of child `i` of an internal page (the first
    /// two fields of its reference).
    #[inline]
    pub fn child_link(page: &[u8], i: usize) -> (u64, u64) {
        let at = NODE_HEADER + i * TableRef::SIZE;
        (get_u64(page, at), get_u64(page, at + 8))
    }

    /// Writes child `i` of an internal page.
    pub fn set_child(page: &mut [u8], i: usize, r: &TableRef) {
        r.write(page, NODE_HEADER + i * TableRef::SIZE)
    }

    /// Writes a fresh node header.
    pub fn init(page: &mut [u8], level: u8, written: u64, first_id: u64) {
        NodeHeader { magic: TABLE_MAGIC, level, written, first: first_id }.write(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanouts_for_common_page_sizes() {
        assert_eq!(TableNode::leaf_fanout(4096), 84);
        assert_eq!(TableNode::internal_fanout(4096), 63);
        assert_eq!(TableNode::leaf_fanout(1024), 20);
        assert_eq!(TableNode::internal_fanout(1024), 15);
    }

    #[test]
    fn entry_and_ref_round_trip() {
        let mut page = vec![0u8; 4096];
        let e = Entry {
            location: 9,
            stored_len: 4096,
            codec: 0,
            flags: 1,
            birth: 3,
            content: [5; 16],
            stored_check: [6; 8],
        };
        TableNode::set_entry(&mut page, 83, &e);
        assert_eq!(TableNode::entry(&page, 83), e);
        let r = TableRef { location: 1, written: 2, max_birth: 3, live: 4, checksum: [7; 16], content: [8; 16] };
        TableNode::set_child(&mut page, 62, &r);
        assert_eq!(TableNode::child(&page, 62), r);
    }
}
