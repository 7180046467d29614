//! How free space is laid out in a committed free map: the holes by size
//! ([`FreeSpace`], from [`Store::free_space`](crate::Store::free_space)).

use super::SpaceMap;
use crate::error::Result;
use crate::format::{Root, SECTOR};
use crate::geometry::Geometry;
use crate::storage::PageReader;

/// The holes of a version's free map: runs of free pages between pages in use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreeSpace {
    /// Free pages in all.
    pub free_pages: u64,
    /// Runs of free pages (a hole at the end of the file counts).
    pub holes: u64,
    /// The longest run, in pages.
    pub largest_hole: u64,
    /// Free pages at the end of the file (the last hole, if it ends there):
    /// the file less these is the span placement has used.
    pub tail_pages: u64,
    /// `histogram[k]` = (holes, pages in them) for holes of 2^k to 2^(k+1) - 1
    /// pages; as long as the largest hole needs.
    pub histogram: Vec<(u64, u64)>,
}

impl FreeSpace {
    /// Adds a hole of `pages` pages.
    fn add(&mut self, pages: u64) {
        let class = pages.ilog2() as usize;
        if self.histogram.len() <= class {
            self.histogram.resize(class + 1, (0, 0));
        }
        self.histogram[class].0 += 1;
        self.histogram[class].1 += pages;
        self.holes += 1;
        self.free_pages += pages;
        self.largest_hole = self.largest_hole.max(pages);
    }
}

/// The holes of `root`'s free map (one walk of its leaves).
pub(crate) fn free_space(reader: PageReader<'_>, geo: &Geometry, root: &Root) -> Result<FreeSpace> {
    let map = SpaceMap::new(reader, geo, root.map, root.map_depth, root.file_len / SECTOR, u64::MAX);
    let mut out = FreeSpace::default();
    let all = map.file_sectors() / geo.spp;
    let end = map.file_sectors();
    map.scan_holes(geo.first_data_sector, 1, all.max(1), |start, pages| {
        out.add(pages);
        if start + pages * geo.spp == end {
            out.tail_pages = pages;
        }
        true
    })?;
    Ok(out)
}
