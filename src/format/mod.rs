//! Byte layouts of formats 2 and 3 (they differ only in where the root slots
//! lie, `layout.rs`): every structure of the file, encoded and decoded
//! with explicit little-endian fields. SPEC.md names the same fields in the same
//! order. Decoders never trust a length, offset or count: anything read from disk
//! is checked before it is used.

mod catalog;
mod extent;
mod header;
mod layout;
mod pending;
mod root;
mod space_map;
mod table;

pub use catalog::{CATALOG_MAGIC, CatalogEntry, CatalogPage, MAX_NAME_LEN};
pub use extent::Extent;
pub use header::{FORMAT_VERSION, Header};
pub use layout::{BLOCK, Layout};
pub use pending::{DEADLIST_MAGIC, PENDING_MAGIC, PendingPage, PendingRecord, RECORDS_AT, RecordKind, VersionSummary};
pub use root::{ChainRef, Root};
pub use space_map::{MAP_MAGIC, MapNode, MapRef};
pub use table::{ENTRY_ALLOCATED, Entry, NodeKind, TABLE_MAGIC, TableNode, TableRef};

/// The unit of physical locations and stored lengths.
pub const SECTOR: u64 = 512;

/// Bytes of the node header that starts every table, free-map and pending page.
pub const NODE_HEADER: usize = 64;

/// A 128-bit blake3 digest: checksums of stored bytes and content hashes.
pub type Hash16 = [u8; 16];

/// blake3 of `data`, cut to 16 bytes.
pub fn hash16(data: &[u8]) -> Hash16 {
    let full = blake3::hash(data);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full.as_bytes()[..16]);
    out
}

/// Sectors in one page.
pub const fn sectors_per_page(page_size: usize) -> u64 {
    page_size as u64 / SECTOR
}

#[inline]
pub(crate) fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

#[inline]
pub(crate) fn get_u32(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

#[inline]
pub(crate) fn get_hash(b: &[u8], at: usize) -> Hash16 {
    let mut x = [0u8; 16];
    x.copy_from_slice(&b[at..at + 16]);
    x
}

pub(crate) fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_hash(b: &mut [u8], at: usize, h: &Hash16) {
    b[at..at + 16].copy_from_slice(h);
}

/// The node header shared by table, free-map and pending pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeHeader {
    /// Which structure (magic bytes).
    pub magic: [u8; 4],
    /// Level in its tree (0 = leaf).
    pub level: u8,
    /// Version of the commit that wrote this page.
    pub written: u64,
    /// First id (table) or first sector (free map) covered; record count (pending).
    pub first: u64,
}

impl NodeHeader {
    pub(crate) fn read(page: &[u8]) -> NodeHeader {
        let mut magic = [0u8; 4];
        magic.copy_from_slice(&page[0..4]);
        NodeHeader { magic, level: page[4], written: get_u64(page, 8), first: get_u64(page, 16) }
    }

    pub(crate) fn write(&self, page: &mut [u8]) {
        page[..NODE_HEADER].fill(0);
        page[0..4].copy_from_slice(&self.magic);
        page[4] = self.level;
        put_u64(page, 8, self.written);
        put_u64(page, 16, self.first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_header_round_trips() {
        let mut page = vec![0xAAu8; 4096];
        let h = NodeHeader { magic: *b"MPTN", level: 3, written: 77, first: 1234 };
        h.write(&mut page);
        assert_eq!(NodeHeader::read(&page), h);
        assert!(page[24..NODE_HEADER].iter().all(|&b| b == 0));
    }
}
