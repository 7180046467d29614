//! The indexed strategies' index follows the free map: after every commit,
//! failed commit and abort of a random churn it equals an index built afresh
//! from the committed map.

use std::sync::{Arc, Mutex};

use super::buddy::Buddy;
use super::fit::{BestFit, Segregated};
use super::index::{FreeIndex, Indexed};
use super::{AllocationStrategy, CommitShape, Placement, Request, SpaceMap};
use crate::error::{Error, Result};
use crate::format::{Extent, SECTOR};
use crate::ids::PageId;
use crate::shared::lock;
use crate::storage::MemoryStorage;
use crate::store::{Options, Store};

/// Lets a test see the strategy a store uses, and fail a commit after its
/// data pages are placed (and its releases applied).
struct Watched<S> {
    inner: Arc<Mutex<S>>,
    fail_next: Arc<Mutex<bool>>,
}

impl<S: AllocationStrategy> AllocationStrategy for Watched<S> {
    fn begin(&mut self, map: &mut SpaceMap<'_>, shape: CommitShape) -> Result<()> {
        self.inner.lock().unwrap().begin(map, shape)
    }
    fn metadata(&mut self, map: &mut SpaceMap<'_>, likely: u64, most: u64) -> Result<()> {
        if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
            return Err(Error::BadPlacement("the test fails this commit".into()));
        }
        self.inner.lock().unwrap().metadata(map, likely, most)
    }
    fn place(&mut self, map: &mut SpaceMap<'_>, request: Request) -> Result<Placement> {
        self.inner.lock().unwrap().place(map, request)
    }
    fn placed(&mut self, extent: Extent) {
        self.inner.lock().unwrap().placed(extent)
    }
    fn released(&mut self, extent: Extent) {
        self.inner.lock().unwrap().released(extent)
    }
    fn grown(&mut self, extent: Extent) {
        self.inner.lock().unwrap().grown(extent)
    }
    fn committed(&mut self) {
        self.inner.lock().unwrap().committed()
    }
    fn rolled_back(&mut self) {
        self.inner.lock().unwrap().rolled_back()
    }
}

/// What a strategy's index holds, as (first page, pages) in address order.
trait Listed {
    fn listed(&self) -> Vec<(u64, u64)>;
}
impl<K: super::fit::Key> Listed for super::fit::Holes<K> {
    fn listed(&self) -> Vec<(u64, u64)> {
        self.holes()
    }
}
impl Listed for super::buddy::Blocks {
    fn listed(&self) -> Vec<(u64, u64)> {
        self.holes()
    }
}

/// Runs a random churn with the strategy whose index `index_of` exposes;
/// after each step the index (when it has one) equals one built afresh.
fn churn<S, I>(make: fn() -> S, index_of: fn(&S) -> &Indexed<I>, seed: u64)
where
    S: AllocationStrategy + 'static,
    I: FreeIndex + Listed,
{
    let store = Store::<1024>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
    let inner = Arc::new(Mutex::new(make()));
    let fail_next = Arc::new(Mutex::new(false));
    let watched = Watched { inner: Arc::clone(&inner), fail_next: Arc::clone(&fail_next) };
    lock(&store.shared.writer).state.as_mut().unwrap().placement = Some(Box::new(watched));
    let mut rng = seed;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut live: Vec<PageId> = Vec::new();
    let (mut checked, mut failed) = (0, 0);
    for step in 0..300u64 {
        let mut w = store.begin_write().unwrap();
        match next(4) {
            0 | 1 => {
                for id in w.alloc_bulk(1 + next(8) as usize).unwrap() {
                    w.page_mut(id).unwrap().fill(step as u8 | 1);
                    live.push(id);
                }
            }
            2 if !live.is_empty() => {
                for _ in 0..1 + next(6) {
                    if live.is_empty() {
                        break;
                    }
                    let id = live.swap_remove(next(live.len() as u64) as usize);
                    w.free(id).unwrap();
                }
            }
            _ if !live.is_empty() => {
                let id = live[next(live.len() as u64) as usize];
                w.page_mut(id).unwrap().fill(0xEE);
            }
            _ => {}
        }
        let outcome = next(8);
        if outcome == 0 {
            drop(w);
        } else if outcome == 1 {
            *fail_next.lock().unwrap() = true;
            assert!(w.commit().is_err());
            *fail_next.lock().unwrap() = false;
            failed += 1;
        } else {
            w.commit().unwrap();
        }
        // An aborted or failed commit changed nothing: the model follows the store.
        live = store.begin_read().unwrap().ids().map(|id| id.unwrap()).collect();
        let r = store.begin_read().unwrap();
        let (reader, geo, root) = (r.reader(), &store.shared.geo, &*r.root);
        let map = SpaceMap::new(reader, geo, root.map, root.map_depth, root.file_len / SECTOR, u64::MAX);
        let mut fresh = Indexed::<I>::new();
        fresh.begin(&map).unwrap();
        let guard = inner.lock().unwrap();
        if let Some(index) = index_of(&guard).current() {
            assert_eq!(index.listed(), fresh.current().unwrap().listed(), "step {step} (outcome {outcome})");
            checked += 1;
        }
    }
    assert!(checked > 200 && failed > 10, "checked {checked}, failed {failed}");
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn best_fit_index_follows_commits_failures_and_aborts() {
    for seed in [1, 7, 99] {
        churn(BestFit::new, |s| &s.0, seed);
    }
}

#[test]
fn segregated_index_follows_commits_failures_and_aborts() {
    for seed in [2, 8, 100] {
        churn(Segregated::new, |s| &s.0, seed);
    }
}

#[test]
fn buddy_index_follows_commits_failures_and_aborts() {
    for seed in [3, 9, 101] {
        churn(Buddy::new, |s| &s.0, seed);
    }
}
