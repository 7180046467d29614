//! Pending-free pages: extents a commit stopped reaching, kept out of the free
//! map until no version that may still be read reaches them. Each page lists
//! records of one commit and links to the previous page.

use super::{ChainRef, NODE_HEADER, NodeHeader, get_u32, get_u64, put_u32, put_u64};

/// Magic of a pending page.
pub const PENDING_MAGIC: [u8; 4] = *b"MPPL";

/// One freed extent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingRecord {
    /// First sector of the extent.
    pub location: u64,
    /// Length in sectors.
    pub sectors: u64,
    /// Version that wrote the extent.
    pub birth: u64,
    /// Version from which on no root reaches it.
    pub freed: u64,
}

impl PendingRecord {
    /// Encoded size.
    pub const SIZE: usize = 32;
}

/// Accessors over a pending page.
pub struct PendingPage;

impl PendingPage {
    /// Records per page.
    pub const fn capacity(page_size: usize) -> usize {
        (page_size - NODE_HEADER) / PendingRecord::SIZE
    }

    /// Encodes a page holding `records` (at most `capacity`), linking to `prev`.
    pub fn encode(page: &mut [u8], written: u64, prev: &ChainRef, records: &[PendingRecord]) {
        page.fill(0);
        NodeHeader { magic: PENDING_MAGIC, level: 0, written, first: 0 }.write(page);
        put_u32(page, 16, records.len() as u32);
        prev.write(page, 24);
        for (i, r) in records.iter().enumerate() {
            let at = NODE_HEADER + i * PendingRecord::SIZE;
            put_u64(page, at, r.location);
            put_u64(page, at + 8, r.sectors);
            put_u64(page, at + 16, r.birth);
            put_u64(page, at + 24, r.freed);
        }
    }

    /// Record count as stored, not yet checked against the capacity.
    pub fn count(page: &[u8]) -> u32 {
        get_u32(page, 16)
    }

    /// The link to the previous page.
    pub fn prev(page: &[u8]) -> ChainRef {
        ChainRef::read(page, 24)
    }

    /// Record `i`.
    pub fn record(page: &[u8], i: usize) -> PendingRecord {
        let at = NODE_HEADER + i * PendingRecord::SIZE;
        PendingRecord {
            location: get_u64(page, at),
            sectors: get_u64(page, at + 8),
            birth: get_u64(page, at + 16),
            freed: get_u64(page, at + 24),
        }
    }
}
