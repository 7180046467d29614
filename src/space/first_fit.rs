//! First fit: every run goes to the lowest hole that holds it whole, else to
//! the lowest free page (the run fills that hole and the commit asks again),
//! else the file grows. It keeps one hint, no index: the sector below which
//! nothing is free, learned as it searches and undone with a failed commit.

use super::SpaceMap;
use super::strategy::{AllocationStrategy, Placement, Request};
use crate::error::Result;
use crate::format::Extent;

/// First fit (see the module docs).
pub(crate) struct FirstFit {
    /// No free page lies below this sector (0: not known yet).
    low: u64,
    /// `low` as of the last commit that went through.
    kept: u64,
}

impl FirstFit {
    pub fn new() -> FirstFit {
        FirstFit { low: 0, kept: 0 }
    }
}

impl AllocationStrategy for FirstFit {
    fn place(&mut self, map: &mut SpaceMap<'_>, request: Request) -> Result<Placement> {
        let spp = map.page_sectors();
        let Some(low) = map.find_free(self.low.max(map.first_data_sector()))? else { return Ok(Placement::Grow) };
        self.low = low;
        if request.pages == 1 {
            return Ok(Placement::From(low));
        }
        let mut hole = None;
        map.scan_holes(low, request.pages, request.pages, |start, _| {
            hole = Some(start);
            false
        })?;
        Ok(match hole {
            Some(start) => Placement::Extent(Extent::new(start, request.pages * spp)),
            None => Placement::From(low),
        })
    }

    fn released(&mut self, extent: Extent) {
        self.low = self.low.min(extent.start);
    }

    fn committed(&mut self) {
        self.kept = self.low;
    }

    fn rolled_back(&mut self) {
        self.low = self.kept;
    }
}
