//! Extents: where stored bytes lie, in 512-byte sectors.
//!
//! Every physical location in the format counts sectors (SPEC.md section 2), so
//! that an extent can be shorter than a page (a compressed page) or lie
//! anywhere a page can be moved to. A raw page is the special case of
//! `sectors_per_page` sectors starting at a page boundary.

use super::SECTOR;

/// A run of sectors: the first one and how many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Extent {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub sectors: u64,
}

impl Extent {
    /// The extent of `sectors` sectors from `start`.
    pub const fn new(start: u64, sectors: u64) -> Extent {
        Extent { start, sectors }
    }

    /// The whole page that starts at sector `start`, `spp` sectors per page.
    pub const fn page(start: u64, spp: u64) -> Extent {
        Extent { start, sectors: spp }
    }

    /// One past the last sector, or `None` when that overflows (a hostile
    /// record; a real extent never reaches 2^64 sectors).
    pub const fn checked_end(&self) -> Option<u64> {
        self.start.checked_add(self.sectors)
    }

    /// One past the last sector, saturating.
    pub const fn end(&self) -> u64 {
        self.start.saturating_add(self.sectors)
    }

    /// The byte offset of the first sector, saturating.
    pub const fn offset(&self) -> u64 {
        self.start.saturating_mul(SECTOR)
    }

    /// Length in bytes, saturating.
    pub const fn len_bytes(&self) -> u64 {
        self.sectors.saturating_mul(SECTOR)
    }

    /// True when the extent holds no sector.
    pub const fn is_empty(&self) -> bool {
        self.sectors == 0
    }

    /// True when the two extents share a sector.
    pub const fn overlaps(&self, other: &Extent) -> bool {
        self.start < other.end() && other.start < self.end()
    }

    /// The first sector of each whole page of the extent, `spp` sectors per page.
    pub fn pages(&self, spp: u64) -> impl Iterator<Item = u64> + use<> {
        let start = self.start;
        (0..self.sectors / spp).map(move |k| start + k * spp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_overlaps() {
        let a = Extent::new(8, 8);
        assert_eq!(a.end(), 16);
        assert_eq!(a.offset(), 8 * SECTOR);
        assert!(a.overlaps(&Extent::new(15, 1)));
        assert!(!a.overlaps(&Extent::new(16, 8)));
        assert!(!a.overlaps(&Extent::new(0, 8)));
        assert_eq!(Extent::new(u64::MAX, 2).checked_end(), None);
        assert_eq!(Extent::new(8, 24).pages(8).collect::<Vec<_>>(), vec![8, 16, 24]);
    }
}
