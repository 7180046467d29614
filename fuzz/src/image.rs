//! The `open_image` checks: arbitrary bytes as a store file. Opening must fail
//! with a typed error or give a store whose every read, `verify()` and a small
//! commit return `Ok` or a typed error — never a panic, an out-of-bounds access
//! or a hang. When the image verifies clean (a well-formed store, however odd),
//! the commit must keep it well formed: the new version reads back as the model
//! says, verifies clean, and is what a reopen recovers.

use std::collections::BTreeMap;

use mappedpages::format::hash16;
use mappedpages::storage::{CrashStorage, TearPattern};
use mappedpages::{Error, Options, PageId, Store};

/// Room to grow beyond the image, so a commit can allocate.
const GROWTH: usize = 4 << 20;

/// The most pages a model keeps (the image is at most 64 KiB, so this is only a
/// guard against a table that claims far more ids than the file can hold).
const MAX_IDS: usize = 4096;

type Model = BTreeMap<u64, Vec<u8>>;

/// The largest image the zero-padding below builds.
const MAX_PADDED: u64 = 8 << 20;

/// What one input did, for the replay tool's report.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageStats {
    /// Images tried (as is, zero-padded, with checksums fixed).
    pub tried: u32,
    /// Of those, opened.
    pub opened: u32,
    /// Of those, verified clean.
    pub clean: u32,
    /// Of those, committed the small write transaction.
    pub committed: u32,
}

/// Runs the `open_image` checks on one input; panics when a promise breaks.
pub fn open_image(data: &[u8]) -> ImageStats {
    let mut stats = ImageStats::default();
    if data.len() > 1 << 16 {
        return stats;
    }
    open_padded(data, &mut stats);
    // Checksums stop almost every mutation of the header and roots at the
    // door. Trying the input again with those three checksums recomputed lets
    // the fuzzer reach hostile-but-checksummed roots: wild locations, depths,
    // lengths, ids, and `synced_through` = `version`, with which recovery checks
    // no node at all and reads go on to parse whatever the nodes hold.
    if let Some(fixed) = fix_meta_checksums(data) {
        open_padded(&fixed, &mut stats);
    }
    stats
}

/// Opens the image as it is and, when a root slot claims a longer file,
/// zero-padded to that length.
fn open_padded(data: &[u8], stats: &mut ImageStats) {
    open_any(data, stats);
    // A store that has committed anything is at least 1 MiB (the file grows in
    // steps of 1 MiB or more), but first-fit allocation keeps its structures at
    // the front and the rest is zeros. So the corpus holds images with their
    // trailing zeros cut, and each input is also tried zero-padded to the
    // longest `file_len` one of its root slots claims.
    let layout = layout_of(data);
    let claimed = [layout.root_slot_offset(0) as usize, layout.root_slot_offset(1) as usize]
        .iter()
        .filter_map(|&slot| data.get(slot + 32..slot + 40))
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        .filter(|&len| len > data.len() as u64 && len <= MAX_PADDED)
        .max();
    if let Some(len) = claimed {
        let mut padded = data.to_vec();
        padded.resize(len as usize, 0);
        open_any(&padded, stats);
    }
}

/// The image with the header's and both root slots' checksums recomputed (an
/// all-zero slot stays empty), or `None` if they were all right already.
fn fix_meta_checksums(data: &[u8]) -> Option<Vec<u8>> {
    let mut fixed = data.to_vec();
    let mut changed = false;
    let layout = layout_of(data);
    for at in [0, layout.root_slot_offset(0) as usize, layout.root_slot_offset(1) as usize] {
        let Some(sector) = fixed.get_mut(at..at + 512) else {
            break;
        };
        if sector.iter().all(|&b| b == 0) {
            continue;
        }
        let sum = hash16(&sector[..496]);
        if sector[496..] != sum {
            sector[496..].copy_from_slice(&sum);
            changed = true;
        }
    }
    changed.then_some(fixed)
}

/// Where the root slots are: the header's format version says (SPEC.md 3),
/// read without checks (the input may be anything).
fn layout_of(data: &[u8]) -> mappedpages::format::Layout {
    let version = data.get(8..12).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()));
    mappedpages::format::Layout::of_version(version).unwrap_or(mappedpages::format::Layout::CURRENT)
}

fn open_any(data: &[u8], stats: &mut ImageStats) {
    // The header's page_size field picks the type to open with; every other
    // size is tried through 1024, which must answer PageSizeMismatch or Corrupt.
    let page_size = data.get(12..16).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    match page_size {
        Some(2048) => exercise::<2048>(data, stats),
        Some(4096) => {
            exercise::<4096>(data, stats);
            exercise::<1024>(data, stats); // PageSizeMismatch
        }
        Some(8192) => exercise::<8192>(data, stats),
        _ => exercise::<1024>(data, stats),
    }
}

fn exercise<const P: usize>(data: &[u8], stats: &mut ImageStats) {
    stats.tried += 1;
    let storage = CrashStorage::from_image(data, data.len() + GROWTH).expect("memory");
    let ctl = storage.control();
    let store = match Store::<P>::open_on(storage, Options::default()) {
        Ok(s) => {
            stats.opened += 1;
            s
        }
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let clean = match store.verify() {
        Ok(report) => {
            for d in &report.damage {
                let _ = (d.page(), d.to_owned());
            }
            report.is_clean()
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    };
    let _ = (store.stats(), store.rejected_root());
    stats.clean += u32::from(clean);

    let Some(before) = read_all(&store, clean) else {
        return;
    };

    // A small write transaction: allocate two pages, write one of them and an
    // existing page, free another existing page.
    let Ok(mut w) = store.begin_write() else {
        assert!(!clean, "begin_write failed on a clean store");
        return;
    };
    let mut expected = before.clone();
    let live: Vec<u64> = before.keys().copied().collect();
    let outcome = (|| -> Result<(), Error> {
        let new = w.alloc_bulk(2)?;
        for id in &new {
            expected.insert(id.get(), vec![0; P]);
        }
        let fill = |id: u64| -> Vec<u8> { (0..P).map(|i| (i as u64 ^ id) as u8 | 1).collect() };
        w.write(new[0], &fill(new[0].get()))?;
        expected.insert(new[0].get(), fill(new[0].get()));
        if let Some(&id) = live.first() {
            w.write(PageId::from_raw(id), &fill(id))?;
            expected.insert(id, fill(id));
        }
        if let Some(&id) = live.last().filter(|_| live.len() > 1) {
            w.free(PageId::from_raw(id))?;
            expected.remove(&id);
            assert!(matches!(w.free(PageId::from_raw(id)), Err(Error::DoubleFree(_))));
        }
        Ok(())
    })();
    let committed = match outcome {
        Ok(()) => w.commit(),
        Err(e) => {
            drop(w);
            Err(e)
        }
    };
    match committed {
        Ok(v) => {
            stats.committed += 1;
            assert_eq!(v.get(), store.version().get());
            if !clean {
                let _ = store.verify();
                let _ = read_all(&store, false);
                return;
            }
            let report = store.verify().expect("verify after commit");
            assert!(report.is_clean(), "a clean store is damaged after a commit: {:?}", report.damage);
            let after = read_all(&store, true).expect("read after commit");
            assert!(after == expected, "content after the commit differs from the model");
            // What a reopen finds (process crash: every write reached the cache).
            drop(store);
            let disk = ctl.crash(TearPattern::KeepAll).expect("memory");
            let store = Store::<P>::open_on(disk, Options::default()).expect("reopen after commit");
            assert_eq!(store.version(), v, "reopen recovered another version");
            let report = store.verify().expect("verify after reopen");
            assert!(report.is_clean(), "damaged after reopen: {:?}", report.damage);
            let reopened = read_all(&store, true).expect("read after reopen");
            assert!(reopened == expected, "content after reopen differs from the model");
        }
        Err(e) => {
            // A clean store may still be full (ids or space).
            assert!(
                !clean || matches!(e, Error::Full(_) | Error::Io { .. }),
                "a small commit on a clean store failed: {e}"
            );
            let _ = e.to_string();
            // A failed commit leaves the store usable or asking for a reopen.
            match store.begin_write() {
                Ok(w) => drop(w),
                Err(Error::NeedsReopen) => {}
                Err(e) => assert!(!clean, "after a failed commit: {e}"),
            }
        }
    }
}

/// Every live page of the newest version, or `None` if something could not be
/// read (which a clean store must never do).
fn read_all<const P: usize>(store: &Store<P>, clean: bool) -> Option<Model> {
    let r = match store.begin_read() {
        Ok(r) => r,
        Err(e) => {
            assert!(!clean, "begin_read on a clean store: {e}");
            return None;
        }
    };
    let mut model = Model::new();
    let mut ok = true;
    for id in r.ids().take(MAX_IDS) {
        let id = match id {
            Ok(id) => id,
            Err(e) => {
                assert!(!clean, "ids() on a clean store: {e}");
                ok = false;
                break;
            }
        };
        assert!(model.insert(id.get(), Vec::new()).is_none(), "ids() repeated {id}");
        assert!(r.contains(id).unwrap_or(true) || !clean);
        match r.page(id) {
            Ok(bytes) => {
                assert_eq!(bytes.len(), P);
                model.insert(id.get(), bytes.to_vec());
            }
            Err(e) => {
                assert!(!clean, "page {id} of a clean store: {e}");
                ok = false;
            }
        }
    }
    if clean {
        assert_eq!(r.live_pages(), model.len() as u64, "live_pages() and ids() disagree");
    }
    let _ = r.content_hash();
    ok.then_some(model)
}
