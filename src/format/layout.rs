//! Where the header and the two root slots lie: the one thing formats 2 and 3
//! lay out differently (SPEC.md section 3). Everything after the meta area is
//! the same in both.

use super::SECTOR;

/// Bytes of one block of the meta area in format 3: the header and each root
/// slot start a block of their own, so a device that rewrites a whole 4 KiB
/// physical sector to write one root cannot tear the other root or the header.
pub const BLOCK: u64 = 4096;

/// The meta-area layout of one format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    version: u32,
}

impl Layout {
    /// Format 2: header, root slot 0 and root slot 1 in consecutive sectors.
    pub const V2: Layout = Layout { version: 2 };
    /// Format 3: header, root slot 0 and root slot 1 each at the start of its
    /// own 4 KiB block.
    pub const V3: Layout = Layout { version: 3 };
    /// What this build writes into a new file.
    pub const CURRENT: Layout = Layout::V3;
    /// Every version this build reads (and commits to, in its own layout).
    pub const READS: [Layout; 2] = [Layout::V2, Layout::V3];

    /// The layout of `format_version`, if this build reads it.
    pub fn of_version(format_version: u32) -> Option<Layout> {
        Layout::READS.into_iter().find(|l| l.version == format_version)
    }

    /// The format version.
    pub const fn version(self) -> u32 {
        self.version
    }

    /// Byte offset of root slot `slot` (0 or 1).
    pub const fn root_slot_offset(self, slot: usize) -> u64 {
        match self.version {
            2 => SECTOR * (1 + slot as u64),
            _ => BLOCK * (1 + slot as u64),
        }
    }

    /// Bytes a root slot spans: its record, then zeros to the end of its block
    /// (format 3); the record alone (format 2).
    pub const fn slot_len(self) -> u64 {
        match self.version {
            2 => SECTOR,
            _ => BLOCK,
        }
    }

    /// Bytes from the start of the file to the end of the second root's block.
    pub const fn meta_bytes(self) -> u64 {
        match self.version {
            2 => 3 * SECTOR,
            _ => 3 * BLOCK,
        }
    }

    /// Pages at the start of the file that hold the header and the root slots.
    pub const fn meta_pages(self, page_size: usize) -> u64 {
        self.meta_bytes().div_ceil(page_size as u64)
    }

    /// Whether the byte at `offset` of the meta area belongs to the header or a
    /// root record (the rest of the meta area is written as zero).
    pub const fn holds_record(self, offset: u64) -> bool {
        offset < SECTOR || self.record_of(offset).is_some()
    }

    /// The root slot whose record holds the byte at `offset`.
    pub const fn record_of(self, offset: u64) -> Option<usize> {
        if offset >= self.root_slot_offset(0) && offset < self.root_slot_offset(0) + SECTOR {
            Some(0)
        } else if offset >= self.root_slot_offset(1) && offset < self.root_slot_offset(1) + SECTOR {
            Some(1)
        } else {
            None
        }
    }

    /// The root slot whose span ([`Layout::slot_len`]) holds the byte at `offset`.
    pub const fn slot_of(self, offset: u64) -> Option<usize> {
        if offset >= self.root_slot_offset(0) && offset < self.root_slot_offset(0) + self.slot_len() {
            Some(0)
        } else if offset >= self.root_slot_offset(1) && offset < self.root_slot_offset(1) + self.slot_len() {
            Some(1)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_area_sizes() {
        assert_eq!(Layout::V2.meta_pages(1024), 2);
        assert_eq!(Layout::V2.meta_pages(2048), 1);
        assert_eq!(Layout::V2.meta_pages(4096), 1);
        assert_eq!(Layout::V2.meta_pages(65536), 1);
        assert_eq!(Layout::V3.meta_pages(1024), 12);
        assert_eq!(Layout::V3.meta_pages(4096), 3);
        assert_eq!(Layout::V3.meta_pages(8192), 2);
        assert_eq!(Layout::V3.meta_pages(16384), 1);
    }

    #[test]
    fn format_3_puts_each_record_in_its_own_block() {
        let l = Layout::V3;
        let blocks = [0, l.root_slot_offset(0), l.root_slot_offset(1)].map(|o| o / BLOCK);
        assert_eq!(blocks, [0, 1, 2]);
        assert!(l.root_slot_offset(1) + SECTOR <= l.meta_bytes());
        assert_eq!(Layout::of_version(1), None);
        assert_eq!(Layout::of_version(4), None);
    }
}
