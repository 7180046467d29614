//! The handle every allocation of a commit goes through: shadow pages, table
//! nodes and the free map's own nodes alike. It asks the strategy, checks the
//! answer against the free map, and applies it.

use std::collections::HashMap;

use super::strategy::{AllocationStrategy, CommitShape, Placement, Request};
use super::{Batch, SpaceMap};
use crate::error::{Error, Result};
use crate::format::{Extent, MapRef, RecordKind};

/// The free map of one commit and the strategy that places its pages.
pub(crate) struct Allocator<'a, 's> {
    pub map: SpaceMap<'a>,
    strategy: &'s mut dyn AllocationStrategy,
}

impl<'a, 's> Allocator<'a, 's> {
    pub fn new(map: SpaceMap<'a>, strategy: &'s mut dyn AllocationStrategy) -> Allocator<'a, 's> {
        Allocator { map, strategy }
    }

    /// Returns an extent to the free map.
    pub fn release(&mut self, extent: Extent) -> Result<()> {
        self.map.release(extent)?;
        self.strategy.released(extent);
        Ok(())
    }

    /// Placement starts: the strategy hears what the commit holds.
    pub fn begin(&mut self, shape: CommitShape) -> Result<()> {
        self.strategy.begin(&mut self.map, shape)
    }

    /// The data pages are placed; the strategy may set space aside for the
    /// metadata (`likely` pages, at most `most`).
    pub fn metadata(&mut self, likely: u64, most: u64) -> Result<()> {
        self.strategy.metadata(&mut self.map, likely, most)
    }

    /// Allocates one page; returns its first sector.
    pub fn alloc_page(&mut self) -> Result<u64> {
        Ok(self.alloc_run(Request::metadata(1))?.start)
    }

    /// Allocates between 1 and `max_pages` contiguous pages, where the
    /// strategy says, after checking that they are whole free pages inside
    /// the file: a strategy's mistake is an error, never a page in use.
    pub fn alloc_run(&mut self, request: Request) -> Result<Extent> {
        let spp = self.map.geo().spp;
        let max_pages = request.pages.max(1);
        let request = Request { pages: max_pages, ..request };
        let placement = self.strategy.place(&mut self.map, request)?;
        let extent = match placement {
            Placement::Extent(e) => {
                let pages = e.sectors / spp;
                if pages == 0 || pages > max_pages || !e.sectors.is_multiple_of(spp) || !e.start.is_multiple_of(spp) {
                    return Err(refused(e, "is not 1 to the asked number of whole pages"));
                }
                if !self.map.take(e)? {
                    return Err(refused(e, "is not free"));
                }
                e
            }
            Placement::From(first) => match self.map.take_run(first, max_pages)? {
                0 => return Err(refused(Extent::page(first, spp), "is not a free page")),
                pages => Extent::new(first, pages * spp),
            },
            Placement::Grow => {
                let old_end = self.map.file_sectors;
                let by = self.strategy.growth(old_end, max_pages * spp).max(max_pages * spp);
                self.map.grow(by)?;
                self.strategy.grown(Extent::new(old_end, self.map.file_sectors - old_end));
                Extent::new(old_end, self.map.take_run(old_end, max_pages)? * spp)
            }
        };
        self.strategy.placed(extent);
        Ok(extent)
    }

    /// Places and writes the changed parts of the free map. Allocating pages
    /// for them (and for `extra_pages(frees)` further pages the caller needs,
    /// such as the pending list) changes the map again, so allocation repeats
    /// until every changed node has a place. Returns the new top, its depth
    /// and the extra pages.
    pub fn commit_map(
        &mut self,
        batch: &mut Batch,
        extra_pages: impl Fn(usize) -> usize,
    ) -> Result<(MapRef, u8, Vec<u64>)> {
        let mut placed: HashMap<(usize, u64), u64> = HashMap::new();
        let mut extra = Vec::new();
        let mut depth;
        loop {
            let mut progress = false;
            depth = self.map.depth();
            for key in self.map.dirty_nodes(depth) {
                if let std::collections::hash_map::Entry::Vacant(slot) = placed.entry(key) {
                    slot.insert(0);
                    let old = self.map.committed_ref(key.0, key.1)?;
                    batch.free(self.map.geo().page(old.location), old.written, RecordKind::Structure);
                    let loc = self.alloc_page()?;
                    placed.insert(key, loc);
                    progress = true;
                }
            }
            while extra.len() < extra_pages(batch.frees.len()) {
                extra.push(self.alloc_page()?);
                progress = true;
            }
            if !progress && depth == self.map.depth() {
                break;
            }
        }
        let (top, depth) = self.map.write_nodes(&placed, batch)?;
        Ok((top, depth, extra))
    }
}

fn refused(e: Extent, why: &str) -> Error {
    Error::BadPlacement(format!("the allocation strategy chose sectors {}+{}, which {why}", e.start, e.sectors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::SECTOR;
    use crate::space::NextFit;
    use crate::storage::MemoryStorage;
    use crate::store::{Options, Store};

    /// Answers every request with the same placement.
    struct Fixed(Placement);

    impl AllocationStrategy for Fixed {
        fn place(&mut self, _: &mut SpaceMap<'_>, _: Request) -> Result<Placement> {
            Ok(self.0)
        }
    }

    /// A store with 8 pages written; `check` gets a maker of its committed
    /// free map and the first sector of a page in use.
    fn with_map(check: impl for<'a> FnOnce(&dyn Fn() -> SpaceMap<'a>, u64)) {
        let store = Store::<4096>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
        let mut w = store.begin_write().unwrap();
        for id in w.alloc_bulk(8).unwrap() {
            w.page_mut(id).unwrap().fill(1);
        }
        w.commit().unwrap();
        let r = store.begin_read().unwrap();
        let (root, geo, reader) = (&*r.root, &store.shared.geo, r.reader());
        let used = crate::table::TableView { reader, geo, root }.entry(0).unwrap().location;
        assert_ne!(used, 0);
        let make = || SpaceMap::new(reader, geo, root.map, root.map_depth, root.file_len / SECTOR, u64::MAX);
        check(&make, used);
    }

    #[test]
    fn a_strategy_that_points_at_used_or_foreign_space_gets_an_error() {
        with_map(|make, used| {
            let map = make();
            let spp = map.geo().spp;
            let cases = [
                Placement::Extent(Extent::page(used, spp)),
                Placement::Extent(Extent::new(0, spp)),
                Placement::Extent(Extent::new(map.file_sectors, spp)),
                Placement::Extent(Extent::new(used + 1, spp)),
                Placement::Extent(Extent::new(map.geo().first_data_sector, 0)),
                Placement::From(used),
                Placement::From(0),
                Placement::From(map.file_sectors),
            ];
            for placement in cases {
                let mut strategy = Fixed(placement);
                let mut alloc = Allocator::new(make(), &mut strategy);
                let e = alloc.alloc_run(Request::metadata(1)).expect_err(&format!("{placement:?} was accepted"));
                assert!(e.to_string().contains("allocation strategy"), "{placement:?}: {e}");
            }
        });
    }

    #[test]
    fn a_strategy_may_not_take_more_than_asked_or_take_twice() {
        with_map(|make, _| {
            let map = make();
            let free = map.find_free(0).unwrap().expect("a free page");
            let spp = map.geo().spp;
            let mut strategy = Fixed(Placement::Extent(Extent::new(free, 2 * spp)));
            let mut alloc = Allocator::new(map, &mut strategy);
            assert!(alloc.alloc_run(Request::metadata(1)).is_err());
            assert_eq!(alloc.alloc_run(Request::metadata(2)).unwrap(), Extent::new(free, 2 * spp));
            assert!(alloc.alloc_run(Request::metadata(2)).is_err(), "the same extent was handed out twice");
        });
    }

    /// A hostile pending or deadlist record far beyond the file is a typed
    /// error; its offset used to overflow (`start * SECTOR`) and panic.
    #[test]
    fn releasing_an_extent_beyond_the_file_is_an_error_not_an_overflow() {
        with_map(|make, _| {
            let mut strategy = NextFit::new(0);
            let mut alloc = Allocator::new(make(), &mut strategy);
            for start in [1 << 55, 1 << 60, u64::MAX - 3] {
                let e = alloc.release(Extent::new(start, 8)).expect_err("released an extent outside the file");
                assert!(e.to_string().contains("outside the file"), "{e}");
            }
        });
    }

    #[test]
    fn next_fit_places_only_free_pages_and_each_once() {
        with_map(|make, used| {
            let map = make();
            let spp = map.geo().spp;
            let mut strategy = NextFit::new(map.geo().first_data_sector);
            let mut alloc = Allocator::new(map, &mut strategy);
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..64 {
                let e = alloc.alloc_run(Request::metadata(3)).unwrap();
                assert!(!e.overlaps(&Extent::page(used, spp)));
                for p in e.pages(spp) {
                    assert!(seen.insert(p), "page {p} handed out twice");
                }
            }
        });
    }
}
