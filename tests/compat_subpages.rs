//! The persistent, transactional sub-page allocator: a model-checked property
//! test with aborts, power cuts (torn writes, cuts inside a commit) and
//! reopening, and the errors each kind of bad id gives.

use std::collections::{BTreeMap, BTreeSet};

use mappedpages::compat::{SubPageAllocator, SubPageId};
use mappedpages::storage::{CrashControl, CrashStorage, Fault, MemoryStorage, TearPattern};
use mappedpages::{Error, Options, PageId, Store};
use proptest::prelude::*;

const PARENT: usize = 1024;

/// Sub-page contents by raw id.
type Content = BTreeMap<u128, Vec<u8>>;

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Allocate this many sub-pages (bulk).
    Alloc(u8),
    /// Free the live sub-page the selector picks.
    Free(u16),
    /// Free up to `n` live sub-pages at once, from the selector on.
    FreeBulk(u16, u8),
    /// Fill the chosen live sub-page with the pattern of this tag (0 = zeros).
    Write(u16, u8),
    /// Free a sub-page that is not allocated (must fail and change nothing).
    FreeBad(u16),
    /// Read a sub-page that is not allocated (must fail).
    ReadBad(u16),
    /// A `free_bulk` naming a live sub-page twice (must fail and change nothing).
    FreeDuplicate(u16),
    Commit,
    Abort,
    /// Power cut with the open transaction lost; unsynced writes torn by this seed.
    Crash(u64),
    /// Power cut `k` storage operations into a commit, then crash with this seed.
    CommitCut(u8, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (1u8..=40).prop_map(Op::Alloc),
        10 => any::<u16>().prop_map(Op::Free),
        5 => (any::<u16>(), 1u8..=30).prop_map(|(s, n)| Op::FreeBulk(s, n)),
        15 => (any::<u16>(), any::<u8>()).prop_map(|(s, t)| Op::Write(s, t)),
        3 => any::<u16>().prop_map(Op::FreeBad),
        3 => any::<u16>().prop_map(Op::ReadBad),
        2 => any::<u16>().prop_map(Op::FreeDuplicate),
        12 => Just(Op::Commit),
        3 => Just(Op::Abort),
        3 => any::<u64>().prop_map(Op::Crash),
        3 => (0u8..12, any::<u64>()).prop_map(|(k, s)| Op::CommitCut(k, s)),
    ]
}

fn options() -> Options {
    Options::default().verify_reads(true)
}

/// The bytes a sub-page tagged `tag` holds: zeros for tag 0, else a pattern
/// unique to (`id`, `tag`).
fn pattern<const SUB: usize>(id: u128, tag: u8) -> Vec<u8> {
    if tag == 0 {
        return vec![0; SUB];
    }
    let mut x = (id as u64) ^ ((id >> 64) as u64).rotate_left(17) ^ u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..SUB)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn pick(live: &Content, sel: u16) -> Option<u128> {
    (!live.is_empty()).then(|| *live.keys().nth(sel as usize % live.len()).unwrap())
}

/// Everything the allocator holds in `src`'s view, after checking its directory.
fn state<const SUB: usize>(
    subs: &SubPageAllocator<PARENT, SUB>,
    src: &impl mappedpages::compat::PageSource<PARENT>,
) -> Result<Content, Error> {
    let stats = subs.check(src)?;
    let mut out = Content::new();
    for id in subs.ids(src)? {
        out.insert(id.to_raw(), subs.get(src, id)?.to_vec());
    }
    assert_eq!(stats.allocated, out.len() as u64);
    Ok(out)
}

/// The committed state, checked from a fresh reader, with the store verified
/// and no page outside the allocator's (root directory, chain, parents).
fn check_committed<const SUB: usize>(
    store: &Store<PARENT>,
    subs: &SubPageAllocator<PARENT, SUB>,
    expected: &Content,
) -> Result<(), TestCaseError> {
    let r = store.begin_read().unwrap();
    let got = state(subs, &r).map_err(|e| TestCaseError::fail(format!("reading the committed state: {e}")))?;
    prop_assert_eq!(&got, expected);
    let stats = subs.check(&r).unwrap();
    prop_assert_eq!(stats.directory_pages + stats.parent_pages, r.live_pages());
    let report = store.verify().unwrap();
    prop_assert!(report.is_clean(), "{:?}", report);
    Ok(())
}

enum End {
    Committed,
    Aborted,
    Crash(u64),
    /// A commit under a scheduled power cut: acknowledged or not, and what it would have made.
    CutCommit(bool, Content, u64),
    Done,
}

fn run<const SUB: usize>(ops: &[Op]) -> Result<(), TestCaseError> {
    let storage = CrashStorage::new().unwrap();
    let mut control: CrashControl = storage.control();
    let mut store = Store::<PARENT>::create_on(storage, options()).unwrap();
    let subs = {
        let mut w = store.begin_write().unwrap();
        let subs = SubPageAllocator::<PARENT, SUB>::create(&mut w).unwrap();
        w.commit().unwrap();
        subs
    };
    let mut committed = Content::new();
    let mut ever: BTreeSet<u128> = BTreeSet::new();
    let mut i = 0;
    while i < ops.len() {
        let mut live = committed.clone();
        let end = {
            let mut w = store.begin_write().unwrap();
            loop {
                let Some(&op) = ops.get(i) else { break End::Done };
                i += 1;
                match op {
                    Op::Alloc(n) => {
                        let ids = subs.alloc_bulk(&mut w, n as usize).unwrap();
                        prop_assert_eq!(ids.len(), n as usize);
                        for id in ids {
                            prop_assert!(subs.get(&w, id).unwrap().iter().all(|&b| b == 0), "new sub-page not zeroed");
                            prop_assert!(live.insert(id.to_raw(), vec![0; SUB]).is_none(), "id handed out twice");
                            ever.insert(id.to_raw());
                        }
                    }
                    Op::Free(sel) => {
                        if let Some(raw) = pick(&live, sel) {
                            subs.free(&mut w, SubPageId::from_raw(raw)).unwrap();
                            live.remove(&raw);
                        }
                    }
                    Op::FreeBulk(sel, n) => {
                        if let Some(first) = pick(&live, sel) {
                            let batch: Vec<u128> = live.range(first..).take(n as usize).map(|(&k, _)| k).collect();
                            let ids: Vec<_> = batch.iter().map(|&r| SubPageId::from_raw(r)).collect();
                            subs.free_bulk(&mut w, &ids).unwrap();
                            for r in batch {
                                live.remove(&r);
                            }
                        }
                    }
                    Op::Write(sel, tag) => {
                        if let Some(raw) = pick(&live, sel) {
                            let bytes = pattern::<SUB>(raw, tag);
                            subs.write(&mut w, SubPageId::from_raw(raw), &bytes).unwrap();
                            live.insert(raw, bytes);
                        }
                    }
                    Op::FreeBad(sel) | Op::ReadBad(sel) => {
                        let dead: Vec<u128> = ever.iter().filter(|r| !live.contains_key(r)).copied().collect();
                        if dead.is_empty() {
                            continue;
                        }
                        let id = SubPageId::<PARENT, SUB>::from_raw(dead[sel as usize % dead.len()]);
                        // A position inside the current directory is simply not
                        // allocated; one whose directory page has been unlinked
                        // no longer points into this allocator.
                        let in_chain = subs.directory_pages(&w).unwrap().contains(&id.directory_page());
                        let result = match op {
                            Op::FreeBad(_) => subs.free(&mut w, id).map(|_| ()),
                            _ => subs.get(&w, id).map(|_| ()),
                        };
                        match (in_chain, op, result) {
                            (true, Op::FreeBad(_), Err(Error::DoubleFree(_))) => {}
                            (true, Op::ReadBad(_), Err(Error::NotAllocated(_))) => {}
                            (
                                false,
                                _,
                                Err(Error::NotAllocated(_) | Error::OutOfRange(_) | Error::InvalidArgument(_)),
                            ) => {}
                            (c, op, r) => prop_assert!(false, "{op:?} on a dead id (in chain: {c}) gave {r:?}"),
                        }
                    }
                    Op::FreeDuplicate(sel) => {
                        if let Some(raw) = pick(&live, sel) {
                            let id = SubPageId::from_raw(raw);
                            let r = subs.free_bulk(&mut w, &[id, id]);
                            prop_assert!(matches!(r, Err(Error::DoubleFree(_))), "{:?}", r);
                        }
                    }
                    Op::Commit => {
                        w.commit().unwrap();
                        break End::Committed;
                    }
                    Op::Abort => break End::Aborted,
                    Op::Crash(seed) => break End::Crash(seed),
                    Op::CommitCut(k, seed) => {
                        control.set_fault(Some(Fault::PowerCutAt(control.counts().ops + u64::from(k))));
                        let acked = w.commit().is_ok();
                        break End::CutCommit(acked, live.clone(), seed);
                    }
                }
                // The transaction's own view matches the model after every step.
                let got = state(&subs, &w).map_err(|e| TestCaseError::fail(format!("after {op:?}: {e}")))?;
                prop_assert_eq!(&got, &live, "after {:?}", op);
            }
        };
        match end {
            End::Committed => committed = live,
            End::Aborted | End::Done => {}
            End::Crash(seed) => {
                let storage = control.crash(TearPattern::Seeded(seed)).unwrap();
                control = storage.control();
                store = Store::open_on(storage, options()).unwrap();
            }
            End::CutCommit(acked, new, seed) => {
                let storage = control.crash(TearPattern::Seeded(seed)).unwrap();
                control = storage.control();
                store = Store::open_on(storage, options()).unwrap();
                let r = store.begin_read().unwrap();
                let got = state(&subs, &r).map_err(|e| TestCaseError::fail(format!("after a cut commit: {e}")))?;
                if acked {
                    prop_assert_eq!(&got, &new, "an acknowledged commit was lost");
                } else {
                    prop_assert!(got == committed || got == new, "recovered neither the old nor the new state");
                }
                committed = got;
            }
        }
        check_committed(&store, &subs, &committed)?;
    }
    // Freeing everything leaves only the root directory page.
    let mut w = store.begin_write().unwrap();
    let ids: Vec<SubPageId<PARENT, SUB>> = committed.keys().map(|&r| SubPageId::from_raw(r)).collect();
    subs.free_bulk(&mut w, &ids).unwrap();
    w.commit().unwrap();
    prop_assert_eq!(store.page_count(), 1);
    check_committed(&store, &subs, &Content::new())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Two slots per parent and 60 entries per directory page: long chains that
    /// grow and shrink.
    #[test]
    fn crash_subpages_match_model_two_slots(ops in prop::collection::vec(op(), 1..70)) {
        run::<512>(&ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    /// 64 slots per parent: the full mask is every bit of the u64.
    #[test]
    fn crash_subpages_match_model_sixty_four_slots(ops in prop::collection::vec(op(), 1..70)) {
        run::<16>(&ops)?;
    }
}

fn mem_store() -> Store<PARENT> {
    Store::create_on(MemoryStorage::with_capacity(1 << 26).unwrap(), Options::default()).unwrap()
}

#[test]
fn subpages_survive_reopen_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("subs.db");
    let (root, ids) = {
        let store = Store::<4096>::create(&path).unwrap();
        let mut w = store.begin_write().unwrap();
        let subs = SubPageAllocator::<4096, 64>::create(&mut w).unwrap();
        let ids = subs.alloc_bulk(&mut w, 100).unwrap();
        for (i, &id) in ids.iter().enumerate() {
            subs.get_mut(&mut w, id).unwrap().fill(i as u8);
        }
        w.commit().unwrap();
        (subs.root(), ids.iter().map(|id| id.to_raw()).collect::<Vec<_>>())
    };
    let store = Store::<4096>::open(&path).unwrap();
    let subs = SubPageAllocator::<4096, 64>::open(root);
    let r = store.begin_read().unwrap();
    for (i, &raw) in ids.iter().enumerate() {
        assert!(subs.get(&r, SubPageId::from_raw(raw)).unwrap().iter().all(|&b| b == i as u8));
    }
    let stats = subs.check(&r).unwrap();
    assert_eq!(stats.allocated, 100);
    assert_eq!(stats.parent_pages, 2); // 64 slots per page
}

#[test]
fn subpages_abort_discards_allocator_state() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let subs = SubPageAllocator::<PARENT, 128>::create(&mut w).unwrap();
    let kept = subs.alloc(&mut w).unwrap();
    w.commit().unwrap();
    let before = store.stats();
    let mut w = store.begin_write().unwrap();
    let more = subs.alloc_bulk(&mut w, 50).unwrap();
    subs.free(&mut w, kept).unwrap();
    assert_eq!(subs.check(&w).unwrap().allocated, 50);
    drop(more);
    w.abort();
    let r = store.begin_read().unwrap();
    assert_eq!(subs.ids(&r).unwrap(), vec![kept]);
    assert_eq!(store.stats().live_pages, before.live_pages);
}

#[test]
fn subpages_readers_keep_their_version() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let subs = SubPageAllocator::<PARENT, 256>::create(&mut w).unwrap();
    let a = subs.alloc(&mut w).unwrap();
    subs.get_mut(&mut w, a).unwrap().fill(1);
    w.commit().unwrap();
    let old = store.begin_read().unwrap();
    let mut w = store.begin_write().unwrap();
    subs.get_mut(&mut w, a).unwrap().fill(2);
    let b = subs.alloc(&mut w).unwrap();
    w.commit().unwrap();
    assert!(subs.get(&old, a).unwrap().iter().all(|&x| x == 1));
    assert!(matches!(subs.get(&old, b), Err(Error::NotAllocated(_))));
    let new = store.begin_read().unwrap();
    assert!(subs.get(&new, a).unwrap().iter().all(|&x| x == 2));
    assert!(subs.contains(&new, b).unwrap());
    assert!(!subs.contains(&old, b).unwrap());
}

#[test]
fn subpages_bad_ids_give_typed_errors() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let subs = SubPageAllocator::<PARENT, 512>::create(&mut w).unwrap();
    let other = SubPageAllocator::<PARENT, 512>::create(&mut w).unwrap();
    let a = subs.alloc(&mut w).unwrap();
    let b = subs.alloc(&mut w).unwrap();
    let c = subs.alloc(&mut w).unwrap(); // a second parent page
    let theirs = other.alloc(&mut w).unwrap();
    let plain = w.alloc().unwrap();
    w.page_mut(plain).unwrap().fill(0xEE);
    let parent_a = subs.parent_of(&w, a).unwrap();

    // Wrong allocator, not a directory at all, a page that does not exist.
    assert!(matches!(subs.get(&w, theirs), Err(Error::InvalidArgument(_))));
    assert!(matches!(subs.free(&mut w, theirs), Err(Error::InvalidArgument(_))));
    let fake = SubPageId::<PARENT, 512>::from_raw(u128::from(plain.get()) << 64);
    assert!(matches!(subs.get(&w, fake), Err(Error::InvalidArgument(_))));
    let nowhere = SubPageId::<PARENT, 512>::from_raw(1_000_000u128 << 64);
    assert!(matches!(subs.get(&w, nowhere), Err(Error::OutOfRange(_) | Error::NotAllocated(_))));
    assert!(matches!(SubPageAllocator::<PARENT, 512>::open(plain).alloc(&mut w), Err(Error::InvalidArgument(_))));
    // The same directory seen with another sub-page size.
    assert!(matches!(SubPageAllocator::<PARENT, 256>::open(subs.root()).check(&w), Err(Error::InvalidArgument(_))));

    // Slot past PARENT / SUB (2 here), entry past the directory page.
    let raw = a.to_raw();
    let bad_slot = SubPageId::<PARENT, 512>::from_raw(raw | 5);
    assert!(matches!(subs.get(&w, bad_slot), Err(Error::OutOfRange(p)) if p == parent_a));
    let bad_entry = SubPageId::<PARENT, 512>::from_raw(raw | (10_000 << 6));
    assert!(matches!(subs.free(&mut w, bad_entry), Err(Error::OutOfRange(_))));

    // Double free, in one call and across calls; nothing changes on failure.
    assert!(matches!(subs.free_bulk(&mut w, &[a, b, a]), Err(Error::DoubleFree(_))));
    assert_eq!(subs.check(&w).unwrap().allocated, 3);
    subs.free(&mut w, a).unwrap();
    assert!(matches!(subs.free(&mut w, a), Err(Error::DoubleFree(p)) if p == parent_a));
    assert!(matches!(subs.get(&w, a), Err(Error::NotAllocated(p)) if p == parent_a));
    assert!(matches!(subs.free_bulk(&mut w, &[b, a]), Err(Error::DoubleFree(_))));
    assert!(subs.contains(&w, b).unwrap());
    // Wrong length.
    assert!(matches!(subs.write(&mut w, b, &[0; 3]), Err(Error::InvalidArgument(_))));
    // Freeing b empties the first parent: it is freed with it.
    subs.free(&mut w, b).unwrap();
    assert!(!w.contains(parent_a).unwrap());
    assert!(matches!(subs.get(&w, b), Err(Error::NotAllocated(_))));
    assert!(subs.contains(&w, c).unwrap());
    w.commit().unwrap();
}

#[test]
fn subpages_destroy_returns_every_page() {
    let store = mem_store();
    let baseline = store.page_count();
    let mut w = store.begin_write().unwrap();
    let subs = SubPageAllocator::<PARENT, 512>::create(&mut w).unwrap();
    subs.alloc_bulk(&mut w, 500).unwrap(); // 250 parents over 5 directory pages
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    let stats = subs.check(&r).unwrap();
    assert_eq!((stats.directory_pages, stats.parent_pages, stats.allocated), (5, 250, 500));
    drop(r);
    let mut w = store.begin_write().unwrap();
    subs.destroy(&mut w).unwrap();
    w.commit().unwrap();
    assert_eq!(store.page_count(), baseline);
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn subpages_directory_chain_shrinks_when_pages_empty() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let subs = SubPageAllocator::<PARENT, 512>::create(&mut w).unwrap();
    let ids = subs.alloc_bulk(&mut w, 360).unwrap(); // 180 parents: 3 directory pages
    assert_eq!(subs.directory_pages(&w).unwrap().len(), 3);
    // Free the middle page's sub-pages: it is unlinked and freed.
    let middle = subs.directory_pages(&w).unwrap()[1];
    let in_middle: Vec<_> = ids.iter().copied().filter(|id| id.directory_page() == middle).collect();
    assert_eq!(in_middle.len(), 120);
    subs.free_bulk(&mut w, &in_middle).unwrap();
    assert_eq!(subs.directory_pages(&w).unwrap().len(), 2);
    assert!(!w.contains(middle).unwrap());
    // New sub-pages fill the holes before the chain grows again.
    subs.alloc_bulk(&mut w, 120).unwrap();
    assert_eq!(subs.directory_pages(&w).unwrap().len(), 3);
    let stats = subs.check(&w).unwrap();
    assert_eq!((stats.allocated, stats.parent_pages), (360, 180));
    w.commit().unwrap();
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn subpages_sixty_four_slots_fill_one_parent() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let subs = SubPageAllocator::<PARENT, 16>::create(&mut w).unwrap();
    assert_eq!(SubPageAllocator::<PARENT, 16>::SLOTS, 64);
    let ids = subs.alloc_bulk(&mut w, 65).unwrap();
    let first_parent = subs.parent_of(&w, ids[0]).unwrap();
    assert!(ids[..64].iter().all(|&id| subs.parent_of(&w, id).unwrap() == first_parent));
    assert_ne!(subs.parent_of(&w, ids[64]).unwrap(), first_parent);
    subs.free(&mut w, ids[63]).unwrap();
    let again = subs.alloc(&mut w).unwrap();
    assert_eq!(again, ids[63]); // the freed slot is reused first
    assert_eq!(subs.check(&w).unwrap().parent_pages, 2);
    let _: PageId = first_parent;
    w.commit().unwrap();
}
