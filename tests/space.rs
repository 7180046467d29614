//! Space comes back: overwritten and freed pages return to the allocator once no
//! reader needs them, and never before.

use mappedpages::storage::MemoryStorage;
use mappedpages::{Options, PageId, Store};

fn mem_store<const P: usize>() -> Store<P> {
    Store::<P>::create_on(MemoryStorage::with_capacity(1 << 30).unwrap(), Options::default()).unwrap()
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn space_10k_pages_overwritten_by_100k_commits_stay_within_twice_the_live_data() {
    const LIVE: usize = 10_000;
    let store = mem_store::<1024>();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(LIVE).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap()[..8].copy_from_slice(&id.get().to_le_bytes());
    }
    w.commit().unwrap();
    let mut x = 0x1234_5678u64;
    let mut max_pages = 0;
    let mut page = vec![0u8; 1024];
    for round in 0..100_000u64 {
        let mut w = store.begin_write().unwrap();
        for _ in 0..1 + xorshift(&mut x) % 3 {
            let id = ids[(xorshift(&mut x) % LIVE as u64) as usize];
            page[..8].copy_from_slice(&id.get().to_le_bytes());
            page[8..16].copy_from_slice(&round.to_le_bytes());
            w.write(id, &page).unwrap();
        }
        w.commit().unwrap();
        max_pages = max_pages.max(store.stats().physical_pages);
    }
    let stats = store.stats();
    assert_eq!(stats.live_pages, LIVE as u64);
    // Fixed overhead: table and free-map nodes, pending pages, growth slack.
    let bound = 2 * LIVE as u64 + 2048;
    assert!(max_pages <= bound, "file reached {max_pages} pages for {LIVE} live ({stats:?})");
    let r = store.begin_read().unwrap();
    for &id in ids.iter().step_by(97) {
        assert_eq!(&r.page(id).unwrap()[..8], &id.get().to_le_bytes());
    }
    drop(r);
    let report = store.verify().unwrap();
    assert!(report.is_clean() && report.leaked_sectors == 0, "{report:?}");
}

#[test]
fn space_is_not_reused_while_a_reader_needs_it() {
    let store = mem_store::<1024>();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(64).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap().fill(id.get() as u8);
    }
    w.commit().unwrap();
    let reader = store.begin_read().unwrap();
    let held: Vec<&[u8]> = ids.iter().map(|&id| reader.page(id).unwrap()).collect();
    let before = store.stats().physical_pages;
    for round in 0..300u32 {
        let mut w = store.begin_write().unwrap();
        for &id in &ids {
            if w.contains(id).unwrap() {
                w.page_mut(id).unwrap().fill((round % 251) as u8 ^ 0xFF);
            }
        }
        if round % 7 == 0 {
            let id = ids[(round as usize / 7) % ids.len()];
            if w.contains(id).unwrap() {
                w.free(id).unwrap();
            }
        }
        w.commit().unwrap();
    }
    // Every slice taken before the commits still holds the bytes of its version.
    for (&id, bytes) in ids.iter().zip(&held) {
        assert!(bytes.iter().all(|&b| b == id.get() as u8), "page {} changed under a reader", id.get());
    }
    let grown = store.stats().physical_pages;
    assert!(grown > before, "the writer must have needed new space while the reader held the old");
    drop(held);
    drop(reader);
    // Once the reader is gone, its space returns: the file stops growing.
    for _ in 0..3 {
        store.begin_write().unwrap().commit().unwrap();
    }
    let settled = store.stats();
    for round in 0..300u32 {
        let mut w = store.begin_write().unwrap();
        let id = PageId::from_raw((round % 32) as u64 + 32);
        if w.contains(id).unwrap() {
            w.page_mut(id).unwrap().fill(round as u8);
        }
        w.commit().unwrap();
    }
    assert_eq!(store.stats().physical_pages, settled.physical_pages, "space freed by the reader was not reused");
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn space_freeing_everything_returns_to_the_baseline() {
    let store = mem_store::<4096>();
    let baseline = {
        let s = store.stats();
        s.physical_pages - s.free_pages
    };
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(3000).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap().fill(1);
    }
    w.commit().unwrap();
    let mut w = store.begin_write().unwrap();
    w.free_bulk(&ids).unwrap();
    w.commit().unwrap();
    for _ in 0..3 {
        store.begin_write().unwrap().commit().unwrap();
    }
    let s = store.stats();
    assert_eq!(s.live_pages, 0);
    let in_use = s.physical_pages - s.free_pages;
    assert!(in_use <= baseline + 8, "{in_use} pages in use, baseline {baseline}: {s:?}");
    let report = store.verify().unwrap();
    assert_eq!(report.leaked_sectors, 0);
}
