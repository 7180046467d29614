//! Record pages: lists of freed extents. Two lists use them:
//!
//! - the pending-free list (magic `MPPL`): one or more pages per commit, holding
//!   the extents that commit stopped reaching and a summary of the version it
//!   committed (for the history window);
//! - a snapshot's deadlist (magic `MPDL`): extents only that snapshot (and
//!   older ones) still reach.

use super::{ChainRef, NODE_HEADER, NodeHeader, TableRef, get_u32, get_u64, put_u32, put_u64};

/// Magic of a pending-list page.
pub const PENDING_MAGIC: [u8; 4] = *b"MPPL";
/// Magic of a deadlist page.
pub const DEADLIST_MAGIC: [u8; 4] = *b"MPDL";

/// Bytes of the version summary after the node header.
pub const SUMMARY_SIZE: usize = 96;
/// Offset of the first record in a record page.
pub const RECORDS_AT: usize = NODE_HEADER + SUMMARY_SIZE;

/// What a freed extent held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// A data page or a table node: old versions may still be read through it.
    Content,
    /// A free-map, pending-list, catalog or deadlist page: only the fallback
    /// root of a crash needs it.
    Structure,
}

/// One freed extent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingRecord {
    /// First sector of the extent.
    pub location: u64,
    /// Length in sectors.
    pub sectors: u64,
    /// Content or structure.
    pub kind: RecordKind,
    /// Version that wrote the extent.
    pub birth: u64,
    /// Version from which on no root reaches it.
    pub freed: u64,
}

impl PendingRecord {
    /// Encoded size.
    pub const SIZE: usize = 32;

    /// The extent the record frees.
    pub const fn extent(&self) -> super::Extent {
        super::Extent::new(self.location, self.sectors)
    }
}

/// Enough of a committed version to read it: its table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VersionSummary {
    /// The version.
    pub version: u64,
    /// When it was committed (nanoseconds since the Unix epoch).
    pub commit_nanos: u64,
    /// One past the largest id handed out by then.
    pub next_id: u64,
    /// Levels of its table.
    pub table_depth: u8,
    /// Its table's top node.
    pub table: TableRef,
}

impl VersionSummary {
    pub(crate) fn read(b: &[u8], at: usize) -> VersionSummary {
        VersionSummary {
            version: get_u64(b, at),
            commit_nanos: get_u64(b, at + 8),
            next_id: get_u64(b, at + 16),
            table_depth: b[at + 24],
            table: TableRef::read(b, at + 32),
        }
    }

    pub(crate) fn write(&self, b: &mut [u8], at: usize) {
        put_u64(b, at, self.version);
        put_u64(b, at + 8, self.commit_nanos);
        put_u64(b, at + 16, self.next_id);
        b[at + 24..at + 32].fill(0);
        b[at + 24] = self.table_depth;
        self.table.write(b, at + 32);
    }
}

/// Accessors over a record page.
pub struct PendingPage;

impl PendingPage {
    /// Records per page.
    pub const fn capacity(page_size: usize) -> usize {
        (page_size - RECORDS_AT) / PendingRecord::SIZE
    }

    /// Encodes a page holding `records` (at most `capacity`), linking to `prev`.
    pub fn encode(
        page: &mut [u8],
        magic: [u8; 4],
        written: u64,
        prev: &ChainRef,
        summary: Option<&VersionSummary>,
        records: &[PendingRecord],
    ) {
        page.fill(0);
        NodeHeader { magic, level: 0, written, first: 0 }.write(page);
        put_u32(page, 16, records.len() as u32);
        prev.write(page, 24);
        if let Some(s) = summary {
            page[56] = 1;
            s.write(page, NODE_HEADER);
        }
        for (i, r) in records.iter().enumerate() {
            let at = RECORDS_AT + i * PendingRecord::SIZE;
            put_u64(page, at, r.location);
            put_u32(page, at + 8, r.sectors as u32);
            put_u32(page, at + 12, if r.kind == RecordKind::Structure { 1 } else { 0 });
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

    /// The `has_summary` byte (0 or 1 in a valid page).
    pub fn summary_flag(page: &[u8]) -> u8 {
        page[56]
    }

    /// The bytes that hold the summary (zero when `has_summary` is 0).
    pub fn summary_bytes(page: &[u8]) -> &[u8] {
        &page[NODE_HEADER..RECORDS_AT]
    }

    /// The version summary, when the page carries one.
    pub fn summary(page: &[u8]) -> Option<VersionSummary> {
        (page[56] == 1).then(|| VersionSummary::read(page, NODE_HEADER))
    }

    /// Record `i`; `None` if its kind is unknown.
    pub fn record(page: &[u8], i: usize) -> Option<PendingRecord> {
        let at = RECORDS_AT + i * PendingRecord::SIZE;
        let kind = match get_u32(page, at + 12) {
            0 => RecordKind::Content,
            1 => RecordKind::Structure,
            _ => return None,
        };
        Some(PendingRecord {
            location: get_u64(page, at),
            sectors: get_u32(page, at + 8) as u64,
            kind,
            birth: get_u64(page, at + 16),
            freed: get_u64(page, at + 24),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_page_round_trips() {
        let mut page = vec![0u8; 4096];
        let s = VersionSummary {
            version: 5,
            commit_nanos: 6,
            next_id: 7,
            table_depth: 2,
            table: TableRef { location: 8, ..TableRef::default() },
        };
        let r = PendingRecord { location: 64, sectors: 8, kind: RecordKind::Structure, birth: 3, freed: 5 };
        let prev = ChainRef { location: 16, written: 4, checksum: [9; 16] };
        PendingPage::encode(&mut page, PENDING_MAGIC, 5, &prev, Some(&s), &[r, r]);
        assert_eq!(PendingPage::count(&page), 2);
        assert_eq!(PendingPage::prev(&page), prev);
        assert_eq!(PendingPage::summary(&page), Some(s));
        assert_eq!(PendingPage::record(&page, 1), Some(r));
        assert_eq!(PendingPage::capacity(4096), 123);
    }
}
