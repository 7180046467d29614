//! Damaged and hostile files: every one yields a typed error or a report from
//! `verify()`, never a panic, and never a silent empty store.

use mappedpages::storage::MemoryStorage;
use mappedpages::testing::reachable_extents;
use mappedpages::{Error, Options, PageId, Store, Structure};

const P: usize = 1024;

fn small_store() -> (Store<P>, Vec<PageId>) {
    let store = Store::<P>::create_on(MemoryStorage::with_capacity(64 << 20).unwrap(), Options::default()).unwrap();
    let mut ids = Vec::new();
    for round in 0..3u8 {
        let mut w = store.begin_write().unwrap();
        ids.extend(w.alloc_bulk(8).unwrap());
        for (i, &id) in ids.iter().enumerate() {
            if !(i + round as usize).is_multiple_of(3) {
                w.write(id, &mappedpages::testing::page_bytes(id.get(), round as u64 + 1)).unwrap();
            }
        }
        w.commit().unwrap();
    }
    (store, ids)
}

fn image_of(store: Store<P>) -> Vec<u8> {
    mappedpages::testing::image(&store)
}

/// Opens `image` and reports whether the damage was noticed: open failed with
/// a typed error, or verify found damage.
fn noticed(image: &[u8]) -> bool {
    match Store::<P>::open_on(MemoryStorage::from_bytes(image, 64 << 20).unwrap(), Options::default()) {
        Err(_) => true,
        Ok(store) => {
            let report = store.verify().expect("verify runs on an opened store");
            !report.is_pristine()
        }
    }
}

#[test]
fn hostile_file_any_flipped_byte_of_a_reachable_page_is_noticed() {
    let (store, _) = small_store();
    let extents = reachable_extents(&store);
    let image = image_of(store);
    assert!(!noticed(&image), "the undamaged image must verify clean");
    let mut flips = 0;
    for &(start, len) in &extents {
        for offset in start..start + len {
            let mut damaged = image.clone();
            damaged[offset as usize] ^= 0x04;
            assert!(noticed(&damaged), "flip at byte {offset} (extent {start}+{len}) went unnoticed");
            flips += 1;
        }
    }
    assert!(flips > 20 * P, "only {flips} bytes flipped");
}

#[test]
fn hostile_file_damaged_data_page_is_named_by_id() {
    let (store, ids) = small_store();
    let r = store.begin_read().unwrap();
    let target = ids[4];
    let marker = r.page(target).unwrap().to_vec();
    drop(r);
    let image = image_of(store);
    let at = image.windows(P).position(|w| w == &marker[..]).expect("page bytes in the image");
    let mut damaged = image.clone();
    damaged[at + 100] ^= 0x80;
    let store =
        Store::<P>::open_on(MemoryStorage::from_bytes(&damaged, 64 << 20).unwrap(), Options::default()).unwrap();
    let report = store.verify().unwrap();
    match &report.rejected_root {
        // The page was written by the newest commit: recovery cannot tell rot
        // from a commit cut short, rolls back and says so, naming the page.
        Some(rejected) => assert!(
            rejected.reason.contains(&format!("page {}", target.get()))
                || report.damage.iter().any(|d| d.page() == Some(target)),
            "{rejected:?}"
        ),
        None => {
            assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
            assert_eq!(report.damage[0].page(), Some(target));
            assert_eq!(report.damage[0].structure, Structure::Page);
        }
    }
}

#[test]
fn hostile_file_wrong_page_size_is_refused() {
    let (store, _) = small_store();
    let image = image_of(store);
    let err = Store::<4096>::open_on(MemoryStorage::from_bytes(&image, 64 << 20).unwrap(), Options::default());
    assert!(matches!(err, Err(Error::PageSizeMismatch { on_disk: 1024, expected: 4096 })), "{:?}", err.err());
}

#[test]
fn hostile_file_truncated_at_any_length_is_a_typed_error_or_an_older_root() {
    let (store, _) = small_store();
    let image = image_of(store);
    for cut in (0..image.len()).step_by(97).chain([0, 1, 511, 512, 1535, 1536, P, image.len() - 1]) {
        match Store::<P>::open_on(MemoryStorage::from_bytes(&image[..cut], 64 << 20).unwrap(), Options::default()) {
            Err(
                Error::UnsupportedFormat(_) | Error::NoValidRoot { .. } | Error::Corrupt { .. } | Error::AlreadyExists,
            ) => {}
            Err(e) => panic!("cut at {cut}: unexpected error {e}"),
            Ok(store) => {
                // Only a cut that removes nothing a root reaches may open.
                assert!(store.verify().unwrap().is_clean(), "cut at {cut} opened with damage");
            }
        }
    }
}

#[test]
fn hostile_file_both_roots_damaged_is_no_valid_root() {
    let (store, _) = small_store();
    let mut image = image_of(store);
    image[512 + 40] ^= 1;
    image[1024 + 40] ^= 1;
    let err = Store::<P>::open_on(MemoryStorage::from_bytes(&image, 64 << 20).unwrap(), Options::default());
    assert!(matches!(err, Err(Error::NoValidRoot { .. })), "{:?}", err.err());
}

#[test]
fn hostile_file_damaged_header_is_refused() {
    let (store, _) = small_store();
    let image = image_of(store);
    for at in [0usize, 8, 12, 20, 100, 500] {
        let mut damaged = image.clone();
        damaged[at] ^= 0x40;
        assert!(
            Store::<P>::open_on(MemoryStorage::from_bytes(&damaged, 64 << 20).unwrap(), Options::default()).is_err()
        );
    }
    let zeros = vec![0u8; 8192];
    assert!(matches!(
        Store::<P>::open_on(MemoryStorage::from_bytes(&zeros, 64 << 20).unwrap(), Options::default()),
        Err(Error::UnsupportedFormat(_))
    ));
}

#[test]
fn hostile_file_damaged_table_node_gives_typed_read_errors() {
    let (store, ids) = small_store();
    let extents = reachable_extents(&store);
    let image = image_of(store);
    // Scribble over every reachable page in turn; reading every id must give a
    // page or a typed error, never a panic.
    for &(start, len) in extents.iter().filter(|(s, _)| *s >= 2 * P as u64) {
        let mut damaged = image.clone();
        for b in &mut damaged[start as usize..(start + len) as usize] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let Ok(store) = Store::<P>::open_on(MemoryStorage::from_bytes(&damaged, 64 << 20).unwrap(), Options::default())
        else {
            continue;
        };
        let r = store.begin_read().unwrap();
        for &id in &ids {
            let _ = r.page(id);
        }
        for id in r.ids() {
            if id.is_err() {
                break;
            }
        }
        drop(r);
        assert!(!store.verify().unwrap().is_pristine());
    }
}

#[test]
fn hostile_file_second_writer_is_locked_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let store = Store::<4096>::create(&path).unwrap();
    assert!(matches!(Store::<4096>::open(&path), Err(Error::Locked)));
    assert!(matches!(Store::<4096>::create(&path), Err(Error::AlreadyExists)));
    drop(store);
    Store::<4096>::open(&path).unwrap();
}
