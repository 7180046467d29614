//! Allocation strategies as a user picks and writes them: every built-in one
//! runs a store, the choice is not part of the file, and a strategy that
//! answers wrong gets a typed error and leaves the store undamaged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mappedpages::format::Extent;
use mappedpages::{
    Allocation, AllocationStrategy, CommitShape, Error, Options, PageId, Placement, Request, Result, SpaceMap, Store,
};

const P: usize = 4096;

fn options(allocation: Allocation) -> Options {
    Options::default().allocation(allocation)
}

/// Pseudo-random numbers below `n`.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Objects of 1 to 8 pages written in one commit each, freed and rewritten at
/// random; returns the model (id → fill byte).
fn churn(store: &Store<P>, rounds: u64, seed: u64) -> BTreeMap<PageId, u8> {
    let mut rng = Rng(seed);
    let mut objects: Vec<Vec<PageId>> = Vec::new();
    let mut model = BTreeMap::new();
    for round in 0..rounds {
        let mut w = store.begin_write().unwrap();
        let byte = (round % 250) as u8 + 1;
        if objects.len() < 8 || rng.below(3) > 0 {
            let ids = w.alloc_bulk(1 + rng.below(8) as usize).unwrap();
            for &id in &ids {
                w.page_mut(id).unwrap().fill(byte);
                model.insert(id, byte);
            }
            objects.push(ids);
        } else {
            let ids = objects.swap_remove(rng.below(objects.len() as u64) as usize);
            for id in ids {
                w.free(id).unwrap();
                model.remove(&id);
            }
        }
        w.commit().unwrap();
    }
    model
}

fn check(store: &Store<P>, model: &BTreeMap<PageId, u8>) {
    let r = store.begin_read().unwrap();
    assert_eq!(r.live_pages(), model.len() as u64);
    for (&id, &byte) in model {
        assert!(r.page(id).unwrap().iter().all(|&b| b == byte), "{id}");
    }
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn every_built_in_strategy_runs_a_store_and_the_choice_is_not_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let built_in = Allocation::BUILT_IN;
    let mut layouts = Vec::new();
    for (k, allocation) in built_in.iter().enumerate() {
        let path = dir.path().join(format!("{}.mp", allocation.name()));
        let store = Store::<P>::create_with(&path, options(allocation.clone())).unwrap();
        let model = churn(&store, 300, 1);
        check(&store, &model);
        let space = store.free_space().unwrap();
        assert_eq!(space.free_pages, store.stats().free_pages, "{allocation:?}");
        assert_eq!(space.histogram.iter().map(|&(_, pages)| pages).sum::<u64>(), space.free_pages);
        assert_eq!(space.histogram.iter().map(|&(holes, _)| holes).sum::<u64>(), space.holes);
        layouts.push((space.holes, space.largest_hole, space.histogram.clone()));
        drop(store);
        // The next strategy in the list opens it, reads it and writes on.
        let other = built_in[(k + 1) % built_in.len()].clone();
        let store = Store::<P>::open_with(&path, options(other)).unwrap();
        check(&store, &model);
        let mut w = store.begin_write().unwrap();
        let id = *model.keys().next().unwrap();
        w.page_mut(id).unwrap().fill(0xAB);
        w.commit().unwrap();
        let mut model = model;
        model.insert(id, 0xAB);
        check(&store, &model);
    }
    // The same churn leaves each strategy's free space laid out its own way:
    // the choice reaches the allocator.
    layouts.sort();
    layouts.dedup();
    assert_eq!(layouts.len(), built_in.len(), "{layouts:?}");
}

#[test]
fn a_strategy_is_chosen_by_name() {
    for a in Allocation::BUILT_IN {
        assert_eq!(Allocation::by_name(a.name()).unwrap().name(), a.name());
    }
    assert!(Allocation::by_name("worst-fit").is_none());
    assert_eq!(Allocation::default().name(), "next-fit");
}

/// The ways a strategy can answer wrong.
#[derive(Clone, Copy, Debug)]
enum Wrong {
    /// A page in use.
    NotFree,
    /// A page past the end of the file.
    PastTheEnd,
    /// `From` the end of the file.
    FromPastTheEnd,
    /// The header and root slots.
    MetaArea,
    /// Half a page.
    NotWholePages,
    /// More pages than asked.
    TooLong,
    /// The same free page twice in one commit.
    Twice,
}

/// First fit while `wrong` is off; the wrong answer while it is on.
struct Misplacing {
    how: Wrong,
    wrong: Arc<AtomicBool>,
    first: Option<Extent>,
}

impl AllocationStrategy for Misplacing {
    fn begin(&mut self, _: &mut SpaceMap<'_>, _: CommitShape) -> Result<()> {
        self.first = None;
        Ok(())
    }
    fn place(&mut self, map: &mut SpaceMap<'_>, request: Request) -> Result<Placement> {
        let spp = map.page_sectors();
        let free = map.find_free(map.first_data_sector())?;
        if !self.wrong.load(Ordering::SeqCst) {
            return Ok(free.map_or(Placement::Grow, Placement::From));
        }
        let end = map.file_sectors();
        Ok(match self.how {
            Wrong::NotFree => {
                let mut s = map.first_data_sector();
                while map.is_free(Extent::new(s, spp))? {
                    s += spp;
                }
                Placement::Extent(Extent::new(s, spp))
            }
            Wrong::PastTheEnd => Placement::Extent(Extent::new(end, spp)),
            Wrong::FromPastTheEnd => Placement::From(end + spp),
            Wrong::MetaArea => Placement::Extent(Extent::new(0, spp)),
            Wrong::NotWholePages => Placement::Extent(Extent::new(free.unwrap(), spp / 2)),
            Wrong::TooLong => Placement::Extent(Extent::new(free.unwrap(), (request.pages + 1) * spp)),
            Wrong::Twice => {
                let e = *self.first.get_or_insert(Extent::new(free.unwrap(), spp));
                Placement::Extent(e)
            }
        })
    }
}

#[test]
fn hostile_strategy_each_wrong_answer_is_a_typed_error_and_the_store_is_undamaged() {
    let dir = tempfile::tempdir().unwrap();
    for how in [
        Wrong::NotFree,
        Wrong::PastTheEnd,
        Wrong::FromPastTheEnd,
        Wrong::MetaArea,
        Wrong::NotWholePages,
        Wrong::TooLong,
        Wrong::Twice,
    ] {
        let path = dir.path().join(format!("{how:?}.mp"));
        let wrong = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&wrong);
        let allocation =
            Allocation::custom(move || Box::new(Misplacing { how, wrong: Arc::clone(&flag), first: None }));
        let store = Store::<P>::create_with(&path, options(allocation)).unwrap();
        let mut model = churn(&store, 40, 5);
        let before = (store.version(), store.stats(), store.begin_read().unwrap().content_hash());
        // A commit of two pages (so that `Twice` is asked twice), refused.
        wrong.store(true, Ordering::SeqCst);
        let mut w = store.begin_write().unwrap();
        let ids: Vec<PageId> = model.keys().take(2).copied().collect();
        for &id in &ids {
            w.page_mut(id).unwrap().fill(0x77);
        }
        match w.commit() {
            Err(Error::BadPlacement(why)) => assert!(why.contains("allocation strategy"), "{how:?}: {why}"),
            other => panic!("{how:?}: {other:?}"),
        }
        assert_eq!((store.version(), store.stats(), store.begin_read().unwrap().content_hash()), before, "{how:?}");
        check(&store, &model);
        // The store goes on: a good answer commits.
        wrong.store(false, Ordering::SeqCst);
        let mut w = store.begin_write().unwrap();
        for &id in &ids {
            w.page_mut(id).unwrap().fill(0x78);
            model.insert(id, 0x78);
        }
        w.commit().unwrap();
        check(&store, &model);
        drop(store);
        let store = Store::<P>::open_with(&path, Options::default()).unwrap();
        check(&store, &model);
    }
}
