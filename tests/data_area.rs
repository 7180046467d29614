//! Pages lie in a root's data area: after the meta area (header and root
//! slots) and below the root's `file_len`. An entry pointing elsewhere is a
//! typed error when read, never a slice of bytes the writer will overwrite (a
//! root slot, or space past `file_len` that the file's next growth marks
//! free). Each file here is crafted with checksums resealed, and with the
//! bad entry born before what recovery rechecks, so that open accepts it.

use mappedpages::format::{NODE_HEADER, hash16};
use mappedpages::testing::{newest_root, write_root};
use mappedpages::{Error, PageId, Store};

/// A store at `path` with ids 0 and 1 written at version 1 and id 1 written
/// again at version 2 (so v2's leaf holds id 0's entry, born at v1).
fn two_versions<const P: usize>(path: &std::path::Path) -> (PageId, PageId) {
    let store = Store::<P>::create(path).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(2).unwrap();
    w.page_mut(ids[0]).unwrap().fill(1);
    w.page_mut(ids[1]).unwrap().fill(1);
    w.commit().unwrap();
    let mut w = store.begin_write().unwrap();
    w.page_mut(ids[1]).unwrap().fill(2);
    w.commit().unwrap();
    (ids[0], ids[1])
}

/// Points id 0's entry in the newest root's leaf at `location` and reseals
/// the leaf's checksum in the root.
fn point_id0_at<const P: usize>(file: &mut [u8], location: u64) {
    let (slot, mut root) = newest_root(file, P);
    assert_eq!((root.version, root.table_depth), (2, 1));
    let leaf = (root.table.location * 512) as usize;
    let entry = leaf + NODE_HEADER;
    file[entry..entry + 8].copy_from_slice(&location.to_le_bytes());
    root.table.checksum = hash16(&file[leaf..leaf + P]);
    write_root(file, slot, &root);
}

/// At 1 KiB pages the second root slot lies in the file's second page: an
/// entry there would hand a reader a slice of bytes every other commit
/// rewrites.
#[test]
fn an_entry_in_the_meta_area_is_an_error_not_a_slice_of_a_root_slot() {
    const P: usize = 1024;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (id0, id1) = two_versions::<P>(&path);
    let mut file = std::fs::read(&path).unwrap();
    point_id0_at::<P>(&mut file, 2); // sector 2 = the page holding root slot 1
    std::fs::write(&path, &file).unwrap();

    let store = Store::<P>::open(&path).unwrap();
    assert_eq!(store.version().get(), 2);
    let r = store.begin_read().unwrap();
    match r.page(id0) {
        Err(Error::Corrupt { .. }) => {}
        Ok(bytes) => panic!("read a slice of the meta area: {:?}", &bytes[..8]),
        Err(e) => panic!("expected Corrupt, got {e}"),
    }
    assert_eq!(r.page(id1).unwrap()[0], 2);
    drop(r);
    assert!(!store.verify().unwrap().is_clean());
}

/// Bytes past the root's `file_len` (a file longer than its root says, as
/// after a crash during growth) are free space to the writer: its next growth
/// marks them free and allocates there.
#[test]
fn an_entry_past_file_len_is_an_error_not_a_slice_of_space_the_writer_will_reuse() {
    const P: usize = 4096;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (id0, id1) = two_versions::<P>(&path);
    let mut file = std::fs::read(&path).unwrap();
    let end = file.len();
    file.extend(std::iter::repeat_n(7u8, 16 * P)); // past the root's file_len
    point_id0_at::<P>(&mut file, (end + 8 * P) as u64 / 512);
    std::fs::write(&path, &file).unwrap();

    let store = Store::<P>::open(&path).unwrap();
    assert_eq!(store.version().get(), 2);
    let r = store.begin_read().unwrap();
    match r.page(id0) {
        Err(Error::Corrupt { .. }) => {}
        Ok(bytes) => panic!("read a slice past file_len: {:?}", &bytes[..8]),
        Err(e) => panic!("expected Corrupt, got {e}"),
    }
    assert_eq!(r.page(id1).unwrap()[0], 2);
    drop(r);
    assert!(!store.verify().unwrap().is_clean());
}
