//! The default placement: next fit for small commits, runs for large ones.
//!
//! Pages written by successive small commits land near each other (next fit
//! from a cursor), which a disk writes faster than pages at random places; a
//! single page prefers a hole too short for a run, so that the holes large
//! commits reuse stay whole. A commit with many shadow pages sets aside one
//! hole for them and its metadata, so that it reaches the disk as a few
//! sequential writes; the metadata of every commit takes the first hole from
//! the last one that holds its likely size.

use std::collections::VecDeque;

use super::SpaceMap;
use super::strategy::{AllocationStrategy, CommitShape, Placement, Request};
use crate::error::Result;
use crate::format::Extent;

/// Commits with at least this many shadow pages place them in one run.
pub(crate) const RUN_FROM: u64 = 32;

/// Holes shorter than this many pages take single pages first.
const SMALL_HOLE: u64 = 4;

/// How far past the cursor (in pages) a single page looks for a small hole.
const NEAR_WINDOW: u64 = 8192;

/// Most holes one reservation may span.
const MAX_EXTENTS: usize = 16;

/// Fewest pages in a hole a reservation takes when it spans several.
const MIN_EXTENT: u64 = 4;

/// The hints that outlive a commit.
#[derive(Clone, Copy, Debug)]
struct Hints {
    /// No free page lies below this sector.
    free_hint: u64,
    /// Where the last hole for a run was found: the next search starts there.
    hole_hint: u64,
    /// Where the last allocation outside a run ended: the next one looks on
    /// from there (next fit).
    fill_cursor: u64,
}

/// Today's placement (see the module docs).
#[derive(Debug)]
pub(crate) struct NextFit {
    hints: Hints,
    /// The hints as of the last commit that went through.
    kept: Hints,
    /// Sectors set aside for this commit, used in order.
    reserved: VecDeque<Extent>,
    /// Where this commit's last reservation started.
    last_hole: Option<u64>,
    /// `min(hole_hint, free_hint)` when the commit began.
    begin_hint: u64,
    /// The last `place` searched (not the reservation): `placed` moves the cursor.
    searched: bool,
}

impl NextFit {
    /// A strategy that knows nothing yet about a store whose data starts at
    /// sector `first_data_sector`.
    pub fn new(first_data_sector: u64) -> NextFit {
        let hints =
            Hints { free_hint: first_data_sector, hole_hint: first_data_sector, fill_cursor: first_data_sector };
        NextFit {
            hints,
            kept: hints,
            reserved: VecDeque::new(),
            last_hole: None,
            begin_hint: first_data_sector,
            searched: false,
        }
    }

    /// Sets aside `pages` free pages for the next allocations: the first hole
    /// big enough at or after `hint` (then from the start); else, when free
    /// space is scarce, the end of the file; else up to [`MAX_EXTENTS`] holes
    /// of at least `pages / MAX_EXTENTS` pages, in address order from `hint`.
    /// When the free space lies only in smaller holes, nothing is reserved and
    /// allocation fills the holes by next fit.
    fn reserve(&mut self, map: &mut SpaceMap<'_>, pages: u64, hint: u64) -> Result<()> {
        if self.reserve_hole(map, pages, pages, hint)? {
            return Ok(());
        }
        let want = pages * map.geo().spp;
        if !scarce(map, pages)? {
            return self.reserve_holes(map, pages, hint);
        }
        // Append after the last used sector: a free tail joins the reservation,
        // and all of the tail is reserved, so that what the commit places next
        // follows in the same run.
        let tail = map.free_tail()?;
        let start = map.file_sectors - tail;
        if tail < want {
            map.grow(self.growth(map.file_sectors, want - tail))?;
        }
        self.reserved.push_back(Extent::new(start, map.file_sectors - start));
        self.last_hole = Some(start);
        Ok(())
    }

    /// Sets aside the first hole of at least `least` free pages at or after
    /// `hint` (then from the start), up to `most` pages of it, if there is one.
    fn reserve_hole(&mut self, map: &mut SpaceMap<'_>, least: u64, most: u64, hint: u64) -> Result<bool> {
        let first_data = map.geo().first_data_sector;
        let spp = map.geo().spp;
        let hint = hint.max(first_data);
        self.reserved.clear();
        if map.largest_hole().is_some_and(|m| least > m) {
            return Ok(false);
        }
        let mut found = None;
        for (from, limit) in [(hint, u64::MAX), (first_data, hint)] {
            // The second pass takes only a hole that starts before the first
            // pass began (that one found nothing, so nothing overlaps).
            let largest = map.scan_holes(from, least, most, |start, len| {
                if start < limit {
                    found = Some((start, len));
                }
                false
            })?;
            if found.is_some() {
                break;
            }
            if from == first_data {
                map.note_largest_hole(largest);
                break;
            }
        }
        if let Some((start, len)) = found {
            self.reserved.push_back(Extent::new(start, len * spp));
            self.last_hole = Some(start);
        }
        Ok(found.is_some())
    }

    /// Reserves `pages` in up to [`MAX_EXTENTS`] holes of at least
    /// `pages / MAX_EXTENTS` pages, from `hint` on and then from the start;
    /// reserves nothing if they do not hold `pages`.
    fn reserve_holes(&mut self, map: &mut SpaceMap<'_>, pages: u64, hint: u64) -> Result<()> {
        let first_data = map.geo().first_data_sector;
        let spp = map.geo().spp;
        let hint = hint.max(first_data);
        let min = pages.div_ceil(MAX_EXTENTS as u64).max(MIN_EXTENT).min(pages);
        if map.largest_hole().is_some_and(|m| min > m) {
            return Ok(());
        }
        let mut need = pages;
        let mut extents: Vec<Extent> = Vec::new();
        for (from, limit) in [(hint, u64::MAX), (first_data, hint)] {
            map.scan_holes(from, min, need, |start, len| {
                if start >= limit {
                    return false;
                }
                // The second pass stops short of the first one's holes.
                let len = len.min((limit - start) / spp);
                if len < min {
                    return true;
                }
                let take = len.min(need);
                extents.push(Extent::new(start, take * spp));
                need -= take;
                need > 0 && extents.len() < MAX_EXTENTS
            })?;
            if need == 0 || extents.len() == MAX_EXTENTS {
                break;
            }
        }
        if need == 0 {
            self.last_hole = extents.first().map(|e| e.start);
            self.reserved.extend(extents);
        }
        Ok(())
    }

    /// Pages still set aside.
    fn reserved_pages(&self, spp: u64) -> u64 {
        self.reserved.iter().map(|e| e.sectors / spp).sum()
    }
}

/// True when free space is scarce for `pages` more: under twice as much, or
/// under a fifth of the file. A reservation then appends to the file.
fn scarce(map: &SpaceMap<'_>, pages: u64) -> Result<bool> {
    let want = pages * map.geo().spp;
    let free = map.free_sectors()?;
    let data = map.file_sectors - map.geo().first_data_sector;
    Ok(free < 2 * want || free * 5 < data)
}

impl AllocationStrategy for NextFit {
    fn begin(&mut self, map: &mut SpaceMap<'_>, shape: CommitShape) -> Result<()> {
        self.reserved.clear();
        self.last_hole = None;
        let hint = self.hints.hole_hint.min(self.hints.free_hint);
        self.begin_hint = hint;
        // Many shadow pages go to one contiguous run with the metadata when a
        // hole holds both, else to a run (or a few) of their own; both go to
        // the end of the file when free space is scarce.
        if shape.data_pages >= RUN_FROM {
            let all = shape.data_pages + shape.meta_pages;
            if !self.reserve_hole(map, all, all, hint)? {
                if scarce(map, all)? {
                    self.reserve(map, all, hint)?;
                } else {
                    self.reserve(map, shape.data_pages, self.hints.hole_hint)?;
                }
            }
        }
        Ok(())
    }

    fn metadata(&mut self, map: &mut SpaceMap<'_>, likely: u64, most: u64) -> Result<()> {
        // A run freed whole by a later commit, so the hole serves again: the
        // first hole from the hint that holds the likely size, up to the
        // bound; the rare page beyond it goes by next fit.
        if self.reserved_pages(map.geo().spp) < most
            && !self.reserve_hole(map, likely.min(most), most, self.hints.hole_hint)?
        {
            self.reserve(map, most, self.begin_hint)?;
        }
        Ok(())
    }

    fn place(&mut self, map: &mut SpaceMap<'_>, request: Request) -> Result<Placement> {
        let max_pages = request.pages;
        let spp = map.geo().spp;
        while let Some(&e) = self.reserved.front() {
            if e.sectors < spp {
                self.reserved.pop_front();
                continue;
            }
            let pages = max_pages.min(e.sectors / spp);
            self.reserved[0] = Extent::new(e.start + pages * spp, e.sectors - pages * spp);
            self.searched = false;
            return Ok(Placement::Extent(Extent::new(e.start, pages * spp)));
        }
        self.searched = true;
        let h = &mut self.hints;
        let mut found = None;
        if h.fill_cursor > h.free_hint {
            if max_pages == 1 {
                found = map.find_small_hole(h.fill_cursor, NEAR_WINDOW, SMALL_HOLE)?;
            }
            if found.is_none() {
                found = map.find_free(h.fill_cursor)?;
            }
        }
        Ok(match found {
            Some(s) => Placement::From(s),
            None => match map.find_free(h.free_hint.max(map.geo().first_data_sector))? {
                Some(s) => {
                    h.free_hint = s;
                    Placement::From(s)
                }
                None => Placement::Grow,
            },
        })
    }

    fn placed(&mut self, extent: Extent) {
        if self.searched {
            self.hints.fill_cursor = extent.end();
        }
    }

    fn released(&mut self, extent: Extent) {
        self.hints.free_hint = self.hints.free_hint.min(extent.start);
    }

    fn committed(&mut self) {
        if let Some(start) = self.last_hole {
            self.hints.hole_hint = start;
        }
        self.kept = self.hints;
        self.reserved.clear();
        self.last_hole = None;
    }

    fn rolled_back(&mut self) {
        self.hints = self.kept;
        self.reserved.clear();
        self.last_hole = None;
    }
}
