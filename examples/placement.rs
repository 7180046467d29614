//! A custom allocation strategy: keep the pages of an id range near each
//! other. `cargo run --example placement`
//!
//! Ids below `HOT` (say, an index the application reads together) live in a
//! zone of their own, the first `ZONE` pages of the data area, lowest free
//! page first; everything else (other ids, the store's own table and
//! free-map pages) goes after the zone. The store checks every answer
//! against its free map, so a strategy like this one can only choose badly,
//! never damage the store. (The zone is a preference, not a wall: a page
//! placed while the file does not reach past the zone yet, or when the zone
//! is full, goes wherever the fallback puts it.)

use std::sync::{Arc, Mutex};

use mappedpages::format::Extent;
use mappedpages::storage::MemoryStorage;
use mappedpages::{Allocation, AllocationStrategy, Options, Placement, Request, Result, SpaceMap, Store};

const HOT: u64 = 16;
const ZONE: u64 = 64;

struct HotZone {
    /// Where the pages of hot ids went (for the demonstration below).
    hot_log: Arc<Mutex<Vec<Extent>>>,
    cold_log: Arc<Mutex<Vec<Extent>>>,
    /// The last `place` was for a hot id.
    hot_now: bool,
}

impl HotZone {
    fn zone_end(map: &SpaceMap<'_>) -> u64 {
        map.first_data_sector() + ZONE * map.page_sectors()
    }
}

impl AllocationStrategy for HotZone {
    fn place(&mut self, map: &mut SpaceMap<'_>, request: Request) -> Result<Placement> {
        let (spp, zone_end) = (map.page_sectors(), Self::zone_end(map));
        self.hot_now = request.first_id.is_some_and(|id| id.get() < HOT);
        if self.hot_now {
            // One page at a time, so that each page's own id is seen.
            if let Some(s) = map.find_free(map.first_data_sector())?.filter(|&s| s < zone_end) {
                return Ok(Placement::Extent(Extent::new(s, spp)));
            }
        }
        Ok(map.find_free(zone_end)?.map_or(Placement::Grow, Placement::From))
    }
    fn placed(&mut self, extent: Extent) {
        let log = if self.hot_now { &self.hot_log } else { &self.cold_log };
        log.lock().unwrap().push(extent);
    }
    // Nothing is kept between commits, so `committed` and `rolled_back`
    // keep their defaults (nothing to undo).
    fn growth(&self, file_sectors: u64, needed: u64) -> u64 {
        // The first growth already covers the zone and as much again.
        needed.max(file_sectors / 4).max(2 * ZONE * 8) // sectors: 8 a 4 KiB page
    }
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (hot_log, cold_log) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
    let (hot, cold) = (Arc::clone(&hot_log), Arc::clone(&cold_log));
    let allocation = Allocation::custom(move || {
        Box::new(HotZone { hot_log: Arc::clone(&hot), cold_log: Arc::clone(&cold), hot_now: false })
    });
    let store = Store::<4096>::create_on(MemoryStorage::new()?, Options::default().allocation(allocation))?;

    // Ids 0..HOT first (the hot range), then commits that mix rewrites of hot
    // pages with new cold ones.
    let mut w = store.begin_write()?;
    let hot_ids = w.alloc_bulk(HOT as usize)?;
    assert!(hot_ids.iter().all(|id| id.get() < HOT));
    for &id in &hot_ids {
        w.page_mut(id)?.fill(1);
    }
    w.commit()?;
    for round in 0..20u8 {
        let mut w = store.begin_write()?;
        for id in w.alloc_bulk(3)? {
            w.page_mut(id)?.fill(round);
        }
        w.page_mut(hot_ids[round as usize % hot_ids.len()])?.fill(round);
        w.commit()?;
    }
    assert!(store.verify()?.is_clean());

    let spp = 4096 / 512;
    let data_start = hot_log.lock().unwrap().iter().map(|e| e.start).min().unwrap();
    let zone_end = data_start + ZONE * spp;
    let hot = hot_log.lock().unwrap();
    let cold = cold_log.lock().unwrap();
    assert!(hot.iter().all(|e| e.end() <= zone_end), "a hot page left the zone");
    assert!(cold.iter().all(|e| e.start >= zone_end), "a cold page entered the zone");
    let (lo, hi) = (hot.iter().map(|e| e.start).min().unwrap(), hot.iter().map(|e| e.end()).max().unwrap());
    println!(
        "{} hot-page placements, all within pages {}..{} of the file; {} other runs, all after page {}",
        hot.len(),
        lo / spp,
        hi / spp,
        cold.len(),
        zone_end / spp
    );
    Ok(())
}
