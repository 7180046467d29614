//! Snapshot catalog pages: named snapshots, each with the summary of the version
//! it keeps and the head of its deadlist. The catalog is a chain of pages,
//! rewritten whole when it changes (it is small).

use super::{ChainRef, NODE_HEADER, NodeHeader, VersionSummary, get_u32, get_u64, put_u32, put_u64};

/// Magic of a catalog page.
pub const CATALOG_MAGIC: [u8; 4] = *b"MPSC";

/// Longest snapshot name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 63;

/// One snapshot in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Its name (1 to 63 bytes of UTF-8).
    pub name: String,
    /// The version it keeps.
    pub summary: VersionSummary,
    /// When the snapshot was made (nanoseconds since the Unix epoch).
    pub created_nanos: u64,
    /// Newest page of its deadlist.
    pub deadlist: ChainRef,
    /// Sectors its deadlist holds.
    pub deadlist_sectors: u64,
}

impl CatalogEntry {
    /// Encoded size.
    pub const SIZE: usize = 224;
}

/// Accessors over a catalog page.
pub struct CatalogPage;

impl CatalogPage {
    /// Entries per page.
    pub const fn capacity(page_size: usize) -> usize {
        (page_size - NODE_HEADER) / CatalogEntry::SIZE
    }

    /// Encodes a page with `entries` (at most `capacity`), linking to `next`.
    pub fn encode(page: &mut [u8], written: u64, next: &ChainRef, entries: &[CatalogEntry]) {
        page.fill(0);
        NodeHeader { magic: CATALOG_MAGIC, level: 0, written, first: 0 }.write(page);
        put_u32(page, 16, entries.len() as u32);
        next.write(page, 24);
        for (i, e) in entries.iter().enumerate() {
            let at = NODE_HEADER + i * CatalogEntry::SIZE;
            let name = e.name.as_bytes();
            page[at] = name.len() as u8;
            page[at + 1..at + 1 + name.len()].copy_from_slice(name);
            e.summary.write(page, at + 64);
            put_u64(page, at + 160, e.created_nanos);
            e.deadlist.write(page, at + 168);
            put_u64(page, at + 200, e.deadlist_sectors);
        }
    }

    /// Entry count as stored.
    pub fn count(page: &[u8]) -> u32 {
        get_u32(page, 16)
    }

    /// The next page of the catalog.
    pub fn next(page: &[u8]) -> ChainRef {
        ChainRef::read(page, 24)
    }

    /// Entry `i`; `None` when its name is not valid.
    pub fn entry(page: &[u8], i: usize) -> Option<CatalogEntry> {
        let at = NODE_HEADER + i * CatalogEntry::SIZE;
        let len = page[at] as usize;
        if len == 0 || len > MAX_NAME_LEN || page[at + 1 + len..at + 64].iter().any(|&b| b != 0) {
            return None;
        }
        let name = std::str::from_utf8(&page[at + 1..at + 1 + len]).ok()?.to_owned();
        Some(CatalogEntry {
            name,
            summary: VersionSummary::read(page, at + 64),
            created_nanos: get_u64(page, at + 160),
            deadlist: ChainRef::read(page, at + 168),
            deadlist_sectors: get_u64(page, at + 200),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_page_round_trips() {
        let e = CatalogEntry {
            name: "nightly-2026-11-25".into(),
            summary: VersionSummary {
                version: 9,
                commit_nanos: 1,
                next_id: 3,
                table_depth: 1,
                table: Default::default(),
            },
            created_nanos: 2,
            deadlist: ChainRef { location: 8, written: 9, checksum: [1; 16] },
            deadlist_sectors: 16,
        };
        let mut page = vec![0u8; 4096];
        CatalogPage::encode(&mut page, 10, &ChainRef::default(), &[e.clone(), e.clone()]);
        assert_eq!(CatalogPage::count(&page), 2);
        assert_eq!(CatalogPage::entry(&page, 1), Some(e));
        assert_eq!(CatalogPage::capacity(4096), 18);
    }
}
