//! What a commit collects while it rewrites the table and the free map: the
//! pages to write and the extents this version stops reaching.

use crate::format::{Extent, PendingRecord, RecordKind};

/// A page to write: (sector, bytes).
pub(crate) type PageWrite = (u64, Box<[u8]>);

/// The writes and frees of one commit.
pub(crate) struct Batch {
    /// Pages to write.
    pub writes: Vec<PageWrite>,
    /// Extents this commit frees, with the version that wrote them.
    pub frees: Vec<PendingRecord>,
    /// The version the commit makes.
    pub version: u64,
}

impl Batch {
    /// An empty batch for the commit of `version`.
    pub fn new(version: u64) -> Batch {
        Batch { writes: Vec::new(), frees: Vec::new(), version }
    }

    /// Records that this version stops reaching `extent`, written by `birth`.
    /// Absent extents (location 0) are ignored.
    pub fn free(&mut self, extent: Extent, birth: u64, kind: RecordKind) {
        if extent.start != 0 {
            self.frees.push(PendingRecord {
                location: extent.start,
                sectors: extent.sectors,
                kind,
                birth,
                freed: self.version,
            });
        }
    }
}
