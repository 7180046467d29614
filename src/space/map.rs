//! The writer's working copy of the free map: committed leaves are read through
//! the mapping, changed leaves are copied into memory, and a commit writes the
//! changed leaves and their ancestors to newly allocated pages.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::bits;
use super::runs::RunScanner;
use crate::error::{Error, Result, Structure};
use crate::format::{MAP_MAGIC, MapNode, MapRef, NODE_HEADER, NodeHeader, SECTOR, hash16};
use crate::geometry::Geometry;
use crate::storage::PageReader;
use crate::table::Batch;

/// Smallest growth step, in bytes.
const MIN_GROW: u64 = 1 << 20;

/// Holes shorter than this many pages take single pages first.
const SMALL_HOLE: u64 = 4;

/// How far past the cursor (in pages) a single page looks for a small hole.
const NEAR_WINDOW: u64 = 8192;

/// Most holes one reservation may span.
const MAX_EXTENTS: usize = 16;

/// Fewest pages in a hole a reservation takes when it spans several.
const MIN_EXTENT: u64 = 4;

struct DirtyLeaf {
    bits: Box<[u8]>,
    free: u64,
}

/// The free map as one write transaction sees and changes it.
pub(crate) struct SpaceMap<'a> {
    reader: PageReader<'a>,
    geo: &'a Geometry,
    base: MapRef,
    base_depth: u8,
    /// Sectors in the file as this transaction sees it (grows on demand).
    pub file_sectors: u64,
    dirty: BTreeMap<u64, DirtyLeaf>,
    /// Sectors set aside for this commit, as extents (next, end) used in order.
    reserved: VecDeque<(u64, u64)>,
    /// No free page lies below this sector (first-fit starts here).
    pub free_hint: u64,
    /// Allocations outside a reservation look for free pages from here on
    /// first (next fit), then from `free_hint`.
    pub fill_cursor: u64,
    /// Where the last reservation started.
    pub last_hole: Option<u64>,
    /// Upper bound on the file's length, in sectors.
    max_sectors: u64,
    /// No hole is longer than this many pages (known after a search of the
    /// whole file failed; allocations only shorten holes, growth forgets it).
    largest_hole: Option<u64>,
}

/// Reads a committed free-map node and checks its header.
pub(crate) fn read_map_node<'a>(reader: &PageReader<'a>, r: &MapRef, level: usize, first: u64) -> Result<&'a [u8]> {
    let page = reader.page(r.location, Structure::FreeMap)?;
    let h = NodeHeader::read(page);
    if h.magic != MAP_MAGIC || h.level as usize != level || h.first != first || h.written != r.written {
        return Err(Error::corrupt(
            Structure::FreeMap,
            r.location * SECTOR,
            format!(
                "node header level {}/first {}/written {} where {level}/{first}/{} was expected",
                h.level, h.first, h.written, r.written
            ),
        ));
    }
    Ok(page)
}

impl<'a> SpaceMap<'a> {
    pub fn new(
        reader: PageReader<'a>,
        geo: &'a Geometry,
        base: MapRef,
        base_depth: u8,
        file_sectors: u64,
        max_sectors: u64,
    ) -> SpaceMap<'a> {
        SpaceMap {
            reader,
            geo,
            base,
            base_depth,
            file_sectors,
            dirty: BTreeMap::new(),
            reserved: VecDeque::new(),
            largest_hole: None,
            free_hint: 0,
            fill_cursor: 0,
            last_hole: None,
            max_sectors,
        }
    }

    fn spl(&self) -> u64 {
        self.geo.sector_cover[0]
    }

    /// The committed reference of node (`level`, `index`), or an absent one.
    fn committed_ref(&self, level: usize, index: u64) -> Result<MapRef> {
        if self.base_depth == 0 || level >= self.base_depth as usize {
            return Ok(MapRef::default());
        }
        let top_level = self.base_depth as usize - 1;
        let target_first = index.saturating_mul(self.geo.sector_cover[level]);
        if target_first >= self.geo.sector_cover[top_level] {
            return Ok(MapRef::default());
        }
        let (mut r, mut l, mut first) = (self.base, top_level, 0u64);
        while l > level {
            if r.location == 0 {
                return Ok(MapRef::default());
            }
            let page = read_map_node(&self.reader, &r, l, first)?;
            let span = self.geo.sector_cover[l - 1];
            let j = (target_first - first) / span;
            first += j * span;
            r = MapNode::child(page, j as usize);
            l -= 1;
        }
        Ok(r)
    }

    /// Free sectors in leaf `index` as this transaction sees it.
    fn leaf_free(&self, index: u64) -> Result<u64> {
        match self.dirty.get(&index) {
            Some(d) => Ok(d.free),
            // An absent leaf has nothing free, whatever its reference claims.
            None => Ok(self.committed_ref(0, index).map(|r| if r.location == 0 { 0 } else { r.free })?),
        }
    }

    /// The bits of leaf `index` as this transaction sees them; `None` for an
    /// absent leaf (nothing in it is free).
    fn leaf_bits(&self, index: u64) -> Result<Option<&[u8]>> {
        if let Some(d) = self.dirty.get(&index) {
            return Ok(Some(&d.bits));
        }
        let r = self.committed_ref(0, index)?;
        if r.location == 0 {
            return Ok(None);
        }
        Ok(Some(MapNode::bits(read_map_node(&self.reader, &r, 0, index * self.spl())?)))
    }

    /// Leaf `index`, copied into the dirty set on first use.
    fn leaf_mut(&mut self, index: u64) -> Result<&mut DirtyLeaf> {
        if !self.dirty.contains_key(&index) {
            let r = self.committed_ref(0, index)?;
            let len = self.geo.page_size - NODE_HEADER;
            let bits: Box<[u8]> = if r.location == 0 {
                vec![0xFFu8; len].into_boxed_slice()
            } else {
                let page = read_map_node(&self.reader, &r, 0, index * self.spl())?;
                MapNode::bits(page).into()
            };
            let free = bits::count_free(&bits);
            self.dirty.insert(index, DirtyLeaf { bits, free });
        }
        Ok(self.dirty.get_mut(&index).expect("inserted above"))
    }

    fn set(&mut self, start: u64, sectors: u64, used: bool) -> Result<()> {
        let spl = self.spl();
        let (mut s, end) = (start, start + sectors);
        while s < end {
            let index = s / spl;
            let leaf_end = ((index + 1) * spl).min(end);
            let leaf = self.leaf_mut(index)?;
            let (from, to) = (s - index * spl, leaf_end - index * spl);
            let before = bits::count_free_range(&leaf.bits, from, to);
            bits::set_range(&mut leaf.bits, from, to, used);
            leaf.free = leaf.free.saturating_sub(before) + if used { 0 } else { to - from };
            s = leaf_end;
        }
        Ok(())
    }

    /// Returns an extent to the free map.
    pub fn release(&mut self, start: u64, sectors: u64) -> Result<()> {
        let end = start.checked_add(sectors).filter(|&e| e <= self.file_sectors);
        if start < self.geo.first_data_sector || end.is_none() {
            return Err(Error::corrupt(
                Structure::PendingList,
                start * SECTOR,
                format!("pending extent {start}+{sectors} lies outside the file"),
            ));
        }
        self.free_hint = self.free_hint.min(start);
        self.set(start, sectors, false)
    }

    /// Allocates one page.
    pub fn alloc_page(&mut self) -> Result<u64> {
        Ok(self.alloc_run(1)?.0)
    }

    /// Allocates between 1 and `max_pages` contiguous pages; returns the first
    /// sector and the number of pages. Pages come from the reservation while it
    /// lasts, then by next fit.
    pub fn alloc_run(&mut self, max_pages: u64) -> Result<(u64, u64)> {
        let spp = self.geo.spp;
        while let Some(&(next, end)) = self.reserved.front() {
            if end - next < spp {
                self.reserved.pop_front();
                continue;
            }
            let pages = max_pages.min((end - next) / spp);
            self.reserved[0].0 = next + pages * spp;
            self.set(next, pages * spp, true)?;
            return Ok((next, pages));
        }
        // Next fit: single pages written by successive commits land near each
        // other, which the disk writes faster than pages at random places.
        // A single page goes to a hole too short for a run where one is near,
        // so that the holes commits' runs reuse stay whole.
        let mut found = None;
        if self.fill_cursor > self.free_hint {
            if max_pages == 1 {
                found = self.find_small_hole(self.fill_cursor, NEAR_WINDOW)?;
            }
            if found.is_none() {
                found = self.find_free(self.fill_cursor)?;
            }
        }
        let first = match found {
            Some(s) => s,
            None => match self.find_free(self.free_hint.max(self.geo.first_data_sector))? {
                Some(s) => {
                    self.free_hint = s;
                    s
                }
                None => {
                    let old_end = self.file_sectors;
                    self.grow(max_pages * self.geo.spp)?;
                    old_end
                }
            },
        };
        let run = self.take_run(first, max_pages)?;
        self.fill_cursor = first + run * self.geo.spp;
        Ok((first, run))
    }

    /// The first free page at or after `from`, within `window` pages, in a
    /// hole shorter than [`SMALL_HOLE`] pages (holes are seen leaf by leaf).
    fn find_small_hole(&mut self, from: u64, window: u64) -> Result<Option<u64>> {
        let spl = self.spl();
        let spp = self.geo.spp;
        let mut from = from.div_ceil(spp) * spp;
        let mut left = window;
        while from < self.file_sectors && left > 0 {
            let index = from / spl;
            let leaf_start = index * spl;
            let units = (self.file_sectors.min(leaf_start + spl) - leaf_start) / spp;
            let start = (from - leaf_start) / spp;
            let end = units.min(start + left);
            left -= end - start;
            from = leaf_start + units * spp;
            if self.leaf_free(index)? < spp {
                continue;
            }
            let Some(map) = self.leaf_bits(index)? else { continue };
            let mut k = start;
            // From the start of the hole the search starts in, if any.
            while k > 0 && bits::unit_free(map, k - 1, spp) && bits::unit_free(map, k, spp) {
                k -= 1;
            }
            while k < end {
                let Some(f) = bits::first_free_unit(map, k, end, spp) else { break };
                let run = bits::free_units_from(map, f, units, spp);
                if run < SMALL_HOLE && f >= start {
                    return Ok(Some(leaf_start + f * spp));
                }
                k = f + run;
            }
        }
        Ok(None)
    }

    /// Allocates between 1 and `max_pages` contiguous free pages starting at
    /// the free page `first`, within its leaf; returns how many.
    fn take_run(&mut self, first: u64, max_pages: u64) -> Result<u64> {
        let spp = self.geo.spp;
        // Extend the run while the following pages are free, inside one leaf.
        let spl = self.spl();
        let leaf_index = first / spl;
        let leaf_end = ((leaf_index + 1) * spl).min(self.file_sectors);
        let mut pages = 1;
        {
            let leaf = self.leaf_mut(leaf_index)?;
            while pages < max_pages {
                let next = first + pages * spp;
                if next + spp > leaf_end || !bits::all_free(&leaf.bits, next - leaf_index * spl, spp) {
                    break;
                }
                pages += 1;
            }
        }
        self.set(first, pages * spp, true)?;
        Ok(pages)
    }

    /// Sets aside `pages` free pages for the next allocations, so that a
    /// commit's pages go to disk as few sequential writes: the first hole big
    /// enough at or after `hint` (then from the start); else, when free space
    /// is scarce, the end of the file; else up to [`MAX_EXTENTS`] holes of at
    /// least `pages / MAX_EXTENTS` pages, in address order from `hint`. When
    /// the free space lies only in smaller holes, nothing is reserved and
    /// allocation fills the holes by next fit.
    pub fn reserve(&mut self, pages: u64, hint: u64) -> Result<()> {
        if self.reserve_hole(pages, hint)? {
            return Ok(());
        }
        let want = pages * self.geo.spp;
        if !self.scarce(pages)? {
            return self.reserve_holes(pages, hint);
        }
        // Append after the last used sector: a free tail joins the reservation,
        // and all of the tail is reserved, so that what the commit places next
        // follows in the same run.
        let tail = self.free_tail()?;
        let start = self.file_sectors - tail;
        if tail < want {
            self.grow(want - tail)?;
        }
        self.reserved.push_back((start, self.file_sectors));
        self.last_hole = Some(start);
        Ok(())
    }

    /// True when free space is scarce for `pages` more: under twice as much,
    /// or under a fifth of the file. A reservation then appends to the file.
    pub fn scarce(&self, pages: u64) -> Result<bool> {
        let want = pages * self.geo.spp;
        let free = self.free_sectors()?;
        let data = self.file_sectors - self.geo.first_data_sector;
        Ok(free < 2 * want || free * 5 < data)
    }

    /// Pages still set aside.
    pub fn reserved_pages(&self) -> u64 {
        self.reserved.iter().map(|(next, end)| (end - next) / self.geo.spp).sum()
    }

    /// Sets aside the first hole of `pages` free pages at or after `hint`
    /// (then from the start), if there is one.
    pub fn reserve_hole(&mut self, pages: u64, hint: u64) -> Result<bool> {
        self.reserve_hole_between(pages, pages, hint)
    }

    /// Sets aside the first hole of at least `least` free pages at or after
    /// `hint` (then from the start), up to `most` pages of it, if there is one.
    pub fn reserve_hole_between(&mut self, least: u64, most: u64, hint: u64) -> Result<bool> {
        let spp = self.geo.spp;
        let hint = hint.max(self.geo.first_data_sector);
        self.reserved.clear();
        if self.largest_hole.is_some_and(|m| least > m) {
            return Ok(false);
        }
        let mut found = None;
        for (from, limit) in [(hint, u64::MAX), (self.geo.first_data_sector, hint)] {
            // The second pass takes only a hole that starts before the first
            // pass began (that one found nothing, so nothing overlaps).
            let largest = self.scan_holes(from, least, most, |start, len| {
                if start < limit {
                    found = Some((start, len));
                }
                false
            })?;
            if found.is_some() {
                break;
            }
            if from == self.geo.first_data_sector {
                self.largest_hole = Some(largest);
                break;
            }
        }
        if let Some((start, len)) = found {
            self.reserved.push_back((start, start + len * spp));
            self.last_hole = Some(start);
        }
        Ok(found.is_some())
    }

    /// Reserves `pages` in up to [`MAX_EXTENTS`] holes of at least
    /// `pages / MAX_EXTENTS` pages, from `hint` on and then from the start;
    /// reserves nothing if they do not hold `pages`.
    fn reserve_holes(&mut self, pages: u64, hint: u64) -> Result<()> {
        let spp = self.geo.spp;
        let hint = hint.max(self.geo.first_data_sector);
        let min = pages.div_ceil(MAX_EXTENTS as u64).max(MIN_EXTENT).min(pages);
        if self.largest_hole.is_some_and(|m| min > m) {
            return Ok(());
        }
        let mut need = pages;
        let mut extents: Vec<(u64, u64)> = Vec::new();
        for (from, limit) in [(hint, u64::MAX), (self.geo.first_data_sector, hint)] {
            self.scan_holes(from, min, need, |start, len| {
                if start >= limit {
                    return false;
                }
                // The second pass stops short of the first one's holes.
                let len = len.min((limit - start) / spp);
                if len < min {
                    return true;
                }
                let take = len.min(need);
                extents.push((start, start + take * spp));
                need -= take;
                need > 0 && extents.len() < MAX_EXTENTS
            })?;
            if need == 0 || extents.len() == MAX_EXTENTS {
                break;
            }
        }
        if need == 0 {
            self.last_hole = extents.first().map(|e| e.0);
            self.reserved.extend(extents);
        }
        Ok(())
    }

    /// Free sectors as this transaction sees them.
    fn free_sectors(&self) -> Result<u64> {
        let mut total = if self.base_depth == 0 { 0i128 } else { self.base.free as i128 };
        for (&index, leaf) in &self.dirty {
            total += leaf.free as i128 - self.committed_ref(0, index)?.free as i128;
        }
        Ok(total.max(0) as u64)
    }

    /// Free sectors at the end of the file, in whole pages.
    fn free_tail(&mut self) -> Result<u64> {
        let spp = self.geo.spp;
        let spl = self.spl();
        let mut tail = 0;
        let mut s = self.file_sectors;
        while s >= self.geo.first_data_sector + spp {
            let unit = s - spp;
            let index = unit / spl;
            let free = match self.dirty.get(&index) {
                Some(d) => bits::all_free(&d.bits, unit - index * spl, spp),
                None => {
                    let r = self.committed_ref(0, index)?;
                    r.location != 0
                        && bits::all_free(
                            MapNode::bits(read_map_node(&self.reader, &r, 0, index * spl)?),
                            unit - index * spl,
                            spp,
                        )
                }
            };
            if !free {
                break;
            }
            tail += spp;
            s = unit;
        }
        Ok(tail)
    }

    /// Calls `found(start, pages)` for each run of at least `min` free pages at
    /// or after `from`, in address order, until it returns false. Runs may
    /// cross leaves; a run longer than `cap` pages is reported as its first
    /// `cap` pages, and the scan goes on after them. When it reports nothing,
    /// returns the longest run it saw, at least `min - 1`. (Leaves with fewer
    /// than `min` free pages are skipped, so a run that starts in one and goes
    /// on into the next is not seen: placement may miss such a hole, never
    /// take a page in use.)
    fn scan_holes(&mut self, from: u64, min: u64, cap: u64, mut found: impl FnMut(u64, u64) -> bool) -> Result<u64> {
        let spl = self.spl();
        let spp = self.geo.spp;
        let from = from.div_ceil(spp) * spp;
        let last_leaf = self.file_sectors.div_ceil(spl);
        let mut scan = RunScanner::new(min, cap);
        let min = min.max(1);
        for index in from / spl..last_leaf {
            let leaf_start = index * spl;
            if !scan.is_open() && self.leaf_free(index)? < spp * min.min(spl / spp) {
                continue;
            }
            let Some(bits) = self.leaf_bits(index)? else {
                // An absent leaf: nothing free, so the open run ends.
                if !scan.close(&mut found) {
                    return Ok(u64::MAX);
                }
                continue;
            };
            let units = (self.file_sectors.min(leaf_start + spl) - leaf_start) / spp;
            let start = from.saturating_sub(leaf_start) / spp;
            // A partial last leaf ends the file: no run goes on past it.
            if !scan.leaf(bits, spp, leaf_start, start, units, &mut found)
                || (units * spp < spl && !scan.close(&mut found))
            {
                return Ok(u64::MAX);
            }
        }
        if !scan.close(&mut found) {
            return Ok(u64::MAX);
        }
        Ok(scan.largest)
    }

    /// First free page-aligned sector at or after `from`.
    fn find_free(&mut self, from: u64) -> Result<Option<u64>> {
        let spl = self.spl();
        let spp = self.geo.spp;
        let from = from.div_ceil(spp) * spp;
        let last_leaf = self.file_sectors.div_ceil(spl);
        for index in from / spl..last_leaf {
            if self.leaf_free(index)? < spp {
                continue;
            }
            let leaf_start = index * spl;
            let start_unit = from.saturating_sub(leaf_start) / spp;
            let units = (self.file_sectors.min(leaf_start + spl) - leaf_start) / spp;
            let found = match self.leaf_bits(index)? {
                Some(map) => bits::first_free_unit(map, start_unit, units, spp),
                None => None,
            };
            if let Some(k) = found {
                return Ok(Some(leaf_start + k * spp));
            }
        }
        Ok(None)
    }

    /// Grows the file by at least `sectors` and marks the new sectors free.
    fn grow(&mut self, sectors: u64) -> Result<()> {
        let old = self.file_sectors;
        self.largest_hole = None;
        let step = sectors.max(old / 4).max(MIN_GROW / SECTOR);
        let new = (old + step).div_ceil(self.geo.spp) * self.geo.spp;
        if new > self.max_sectors {
            return Err(Error::Full("the file would exceed its maximum length"));
        }
        self.file_sectors = new;
        self.set(old, new - old, false)
    }

    /// Writes the changed parts of the free map. Allocating pages for them (and
    /// for `extra_pages(frees)` further pages the caller needs, such as the
    /// pending list) changes the map again, so allocation repeats until every
    /// changed node has a place. Returns the new top, its depth and the extra pages.
    pub fn commit(
        &mut self,
        batch: &mut Batch,
        extra_pages: impl Fn(usize) -> usize,
    ) -> Result<(MapRef, u8, Vec<u64>)> {
        let mut placed: HashMap<(usize, u64), u64> = HashMap::new();
        let mut extra = Vec::new();
        let mut depth;
        loop {
            let mut progress = false;
            depth = self.geo.map_depth_for(self.file_sectors);
            for key in self.dirty_nodes(depth) {
                if let std::collections::hash_map::Entry::Vacant(slot) = placed.entry(key) {
                    slot.insert(0);
                    let old = self.committed_ref(key.0, key.1)?;
                    batch.free_page(old.location, old.written, self.geo.spp, crate::format::RecordKind::Structure);
                    let loc = self.alloc_page()?;
                    placed.insert(key, loc);
                    progress = true;
                }
            }
            while extra.len() < extra_pages(batch.frees.len()) {
                extra.push(self.alloc_page()?);
                progress = true;
            }
            if !progress && depth == self.geo.map_depth_for(self.file_sectors) {
                break;
            }
        }
        if depth == 0 || self.dirty.is_empty() {
            return Ok((self.base, self.base_depth, extra));
        }
        let mut level_refs: BTreeMap<u64, MapRef> = BTreeMap::new();
        for (&index, leaf) in &self.dirty {
            let mut page = vec![0u8; self.geo.page_size].into_boxed_slice();
            MapNode::init(&mut page, 0, batch.version, index * self.spl());
            MapNode::bits_mut(&mut page).copy_from_slice(&leaf.bits);
            let location = placed[&(0, index)];
            let r = MapRef { location, written: batch.version, free: leaf.free, checksum: hash16(&page) };
            batch.writes.push((location, page));
            level_refs.insert(index, r);
        }
        for level in 1..depth as usize {
            let fan = self.geo.map_fanout;
            let mut parents: BTreeMap<u64, MapRef> = BTreeMap::new();
            let parent_indexes: BTreeSet<u64> = level_refs.keys().map(|i| i / fan).collect();
            for p in parent_indexes {
                let mut page = vec![0u8; self.geo.page_size].into_boxed_slice();
                let old = self.committed_ref(level, p)?;
                if old.location != 0 {
                    page.copy_from_slice(read_map_node(&self.reader, &old, level, p * self.geo.sector_cover[level])?);
                } else {
                    for j in 0..fan {
                        let child = self.committed_ref(level - 1, p * fan + j)?;
                        MapNode::set_child(&mut page, j as usize, &child);
                    }
                }
                MapNode::init(&mut page, level as u8, batch.version, p * self.geo.sector_cover[level]);
                for (&i, r) in level_refs.range(p * fan..(p + 1) * fan) {
                    MapNode::set_child(&mut page, (i - p * fan) as usize, r);
                }
                let free = (0..fan as usize).map(|j| MapNode::child(&page, j).free).sum();
                let location = placed[&(level, p)];
                let r = MapRef { location, written: batch.version, free, checksum: hash16(&page) };
                batch.writes.push((location, page));
                parents.insert(p, r);
            }
            level_refs = parents;
        }
        let top = level_refs
            .get(&0)
            .copied()
            .ok_or_else(|| Error::corrupt(Structure::FreeMap, 0, "free-map top missing after commit"))?;
        Ok((top, depth, extra))
    }

    /// How many map nodes a commit writes if `extra_leaves` more leaves change:
    /// the changed leaves and their ancestors, plus a path per extra leaf.
    pub fn changed_nodes_with(&self, extra_leaves: u64) -> u64 {
        let depth = self.geo.map_depth_for(self.file_sectors);
        self.dirty_nodes(depth).len() as u64 + extra_leaves * depth as u64
    }

    /// Changed leaves and all their ancestors, as (level, index).
    fn dirty_nodes(&self, depth: u8) -> BTreeSet<(usize, u64)> {
        let mut out = BTreeSet::new();
        let fan = self.geo.map_fanout;
        for &leaf in self.dirty.keys() {
            let mut index = leaf;
            for level in 0..depth as usize {
                out.insert((level, index));
                index /= fan;
            }
        }
        out
    }
}

/// True when every sector of `[start, start + sectors)` is marked in use in the
/// committed free map of `root`.
pub(crate) fn bits_in_use(
    reader: &PageReader<'_>,
    geo: &Geometry,
    root: &crate::format::Root,
    start: u64,
    sectors: u64,
) -> Result<bool> {
    let map = SpaceMap::new(*reader, geo, root.map, root.map_depth, root.file_len / SECTOR, u64::MAX);
    let spl = geo.sector_cover[0];
    let mut s = start;
    while s < start + sectors {
        let index = s / spl;
        let end = ((index + 1) * spl).min(start + sectors);
        let r = map.committed_ref(0, index)?;
        if r.location != 0 {
            let page = read_map_node(reader, &r, 0, index * spl)?;
            let b = MapNode::bits(page);
            if ((s - index * spl)..(end - index * spl)).any(|i| b[(i / 8) as usize] & (1 << (i % 8)) == 0) {
                return Ok(false);
            }
        }
        s = end;
    }
    Ok(true)
}
