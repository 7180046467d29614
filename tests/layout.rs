//! How commits reach the disk, counted rather than timed: on the virtual disks
//! we measure on, a durable commit costs by the number of separate regions it
//! writes (see README, "Benchmarks"). A storage wrapper counts the writes (each
//! `write` or `write_vectored` call is one contiguous region) and syncs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mappedpages::storage::{MemoryStorage, RawView, Storage};
use mappedpages::{Options, PageId, Store};

const P: usize = 4096;

#[derive(Default)]
struct Counts {
    regions: AtomicU64,
    syncs: AtomicU64,
    /// Where single data pages (not metadata, whose pages start with `MP`) went.
    single_pages: std::sync::Mutex<Vec<u64>>,
    /// Pages ever written, and how many pages of content (not all zeros) went
    /// to a page never written before: on a file system, space a file grew
    /// into but never wrote, whose blocks the sync must allocate.
    written: std::sync::Mutex<Vec<bool>>,
    fresh: AtomicU64,
    content_pages: AtomicU64,
}

impl Counts {
    fn note(&self, offset: u64, data: &[u8]) {
        let mut written = self.written.lock().unwrap();
        let content = data.iter().any(|&b| b != 0);
        let first = offset / P as u64;
        let last = (offset + data.len() as u64).div_ceil(P as u64);
        for page in first..last {
            let page = page as usize;
            if written.len() <= page {
                written.resize(page + 1, false);
            }
            if content {
                self.content_pages.fetch_add(1, Ordering::Relaxed);
                if !written[page] {
                    self.fresh.fetch_add(1, Ordering::Relaxed);
                }
            }
            written[page] = true;
        }
    }
}

struct Counting {
    inner: MemoryStorage,
    counts: Arc<Counts>,
}

// SAFETY: every view is the inner storage's, borrowed through `self`, and its
// bytes change only through the inner `write` methods, which only ours call.
unsafe impl Storage for Counting {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn grow(&self, new_len: u64) -> std::io::Result<()> {
        self.inner.grow(new_len)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.counts.regions.fetch_add(1, Ordering::Relaxed);
        self.counts.note(offset, data);
        self.inner.write(offset, data)
    }
    fn write_vectored(&self, offset: u64, bufs: &[&[u8]]) -> std::io::Result<()> {
        self.counts.regions.fetch_add(1, Ordering::Relaxed);
        if let [page] = bufs
            && !page.starts_with(b"MP")
        {
            self.counts.single_pages.lock().unwrap().push(offset / P as u64);
        }
        let mut at = offset;
        for b in bufs {
            self.counts.note(at, b);
            at += b.len() as u64;
        }
        self.inner.write_vectored(offset, bufs)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.counts.syncs.fetch_add(1, Ordering::Relaxed);
        self.inner.sync()
    }
    fn view(&self) -> RawView<'_> {
        self.inner.view()
    }
}

/// A new store on memory whose writes and syncs are counted.
fn counted_store() -> (Store<P>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let disk = Counting { inner: MemoryStorage::with_capacity(1 << 30).unwrap(), counts: counts.clone() };
    (Store::<P>::create_on(disk, Options::default()).unwrap(), counts)
}

#[test]
fn layout_one_page_commits_write_three_regions_and_sync_once() {
    let (store, counts) = counted_store();
    let live = 5_000u64;
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(live as usize).unwrap();
    let mut page = vec![7u8; P];
    for &id in &ids {
        w.write(id, &page).unwrap();
    }
    w.commit().unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut commit = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut w = store.begin_write().unwrap();
        page[..8].copy_from_slice(&n.to_le_bytes());
        w.write(PageId::from_raw(x % live), &page).unwrap();
        w.commit().unwrap();
    };
    // Warm up: the first commits after the bulk load find the space freshly
    // grown; then the layout settles.
    for n in 0..2_000 {
        commit(n);
    }
    let (regions, syncs) = (counts.regions.load(Ordering::Relaxed), counts.syncs.load(Ordering::Relaxed));
    let file = store.stats().physical_pages;
    let n = 5_000;
    for i in 0..n {
        commit(2_000 + i);
    }
    let regions = counts.regions.load(Ordering::Relaxed) - regions;
    let syncs = counts.syncs.load(Ordering::Relaxed) - syncs;
    // The page, one run of metadata, the root: three regions, one sync.
    assert_eq!(syncs, n, "one fdatasync per commit");
    assert!(regions <= 3 * n, "{regions} regions in {n} commits: more than the page, one metadata run and the root");
    // Successive commits' pages land near each other (next fit), not where
    // first fit would put them, all over the file.
    let pages = counts.single_pages.lock().unwrap();
    let mut steps: Vec<u64> = pages[pages.len() - n as usize..].windows(2).map(|w| w[0].abs_diff(w[1])).collect();
    steps.sort_unstable();
    let median = steps[steps.len() / 2];
    assert!(median <= 64, "successive data pages lie {median} pages apart (median)");
    // Steady state: the file stopped growing.
    assert_eq!(store.stats().physical_pages, file, "the file grew in steady state");
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn layout_a_bulk_load_writes_its_pages_as_one_run() {
    let (store, counts) = counted_store();
    let (regions, syncs) = (counts.regions.load(Ordering::Relaxed), counts.syncs.load(Ordering::Relaxed));
    let mut w = store.begin_write().unwrap();
    for (i, id) in w.alloc_bulk(1_000).unwrap().into_iter().enumerate() {
        w.write(id, &vec![i as u8 | 1; P]).unwrap();
    }
    w.commit().unwrap();
    let regions = counts.regions.load(Ordering::Relaxed) - regions;
    let syncs = counts.syncs.load(Ordering::Relaxed) - syncs;
    // The data run (written while it is hashed), the metadata run, the root;
    // the first commit after open also syncs before it starts.
    assert!(regions <= 3, "{regions} regions for a 1 000-page load");
    assert_eq!(syncs, 2);
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn layout_hundred_page_commits_write_one_run_and_the_root_while_holes_last() {
    let (store, counts) = counted_store();
    let live = 60_000u64;
    // Loaded in four commits, as an application would: their metadata runs
    // leave holes low in the file.
    let mut page = vec![7u8; P];
    for _ in 0..4 {
        let mut w = store.begin_write().unwrap();
        for id in w.alloc_bulk(live as usize / 4).unwrap() {
            w.write(id, &page).unwrap();
        }
        w.commit().unwrap();
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut commit = |n: u64| {
        let before = counts.regions.load(Ordering::Relaxed);
        let mut w = store.begin_write().unwrap();
        page[..8].copy_from_slice(&n.to_le_bytes());
        for _ in 0..100 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.write(PageId::from_raw(x % live), &page).unwrap();
        }
        w.commit().unwrap();
        counts.regions.load(Ordering::Relaxed) - before
    };
    // After the load the file has room past its data: the shadow pages, the
    // table, free-map and list pages of each commit go out as one run, then
    // the root.
    for n in 0..40 {
        let regions = commit(n);
        assert!(regions <= 2, "commit {n} wrote {regions} regions: more than one run and the root");
    }
    // Random overwrites leave the free space in small holes; commits fill
    // them, and the file stops growing.
    for n in 40..300 {
        commit(n);
    }
    let file = store.stats().physical_pages;
    for n in 300..400 {
        commit(n);
    }
    assert_eq!(store.stats().physical_pages, file, "the file grew in steady state");
    assert!(store.verify().unwrap().is_clean());
}

/// A page of `P` bytes unique to `seed`.
fn pattern_page(seed: u64) -> Vec<u8> {
    let mut page = vec![0u8; P];
    mappedpages::testing::fill_pattern(&mut page, seed);
    page
}

#[test]
fn layout_small_commits_in_a_growing_file_write_where_the_file_was_written_before() {
    let (store, counts) = counted_store();
    let mut ids = Vec::new();
    // Each commit appends a page: the file keeps growing into space it never
    // wrote. Small commits write zeros ahead of the highest page written, so
    // their pages land in space already written.
    for n in 0..2_000u64 {
        let mut w = store.begin_write().unwrap();
        let id = w.alloc().unwrap();
        w.write(id, &pattern_page(id.get() ^ n << 32)).unwrap();
        w.commit().unwrap();
        ids.push((id, n));
    }
    let (fresh, content) = (counts.fresh.load(Ordering::Relaxed), counts.content_pages.load(Ordering::Relaxed));
    assert!(store.stats().physical_pages > 2_000, "the file did not grow");
    assert!(fresh * 100 < content, "{fresh} of {content} pages went to space never written");
    // The zeros went to free space only.
    assert!(store.verify().unwrap().is_clean());
    let r = store.begin_read().unwrap();
    for &(id, n) in &ids {
        assert_eq!(r.page(id).unwrap(), &pattern_page(id.get() ^ n << 32)[..]);
    }
}
