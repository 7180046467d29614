//! Streams that lie with valid checksums (made with the real encoder told
//! wrong things): each is refused with a typed error and the store stays at
//! its base.

use super::stream::{FEATURE_INCREMENTAL, KIND_FREED, KIND_LIVE, StreamHeader, StreamWriter};
use super::{BackupError, BackupOptions};
use crate::error::Error;
use crate::ids::PageId;
use crate::storage::MemoryStorage;
use crate::{At, Options, Store};

const P: usize = 1024;

/// A store with ids 0..12 live (id + 1 in every byte) at version 1.
fn base() -> Store<P> {
    let store = Store::<P>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
    let mut w = store.begin_write().unwrap();
    for id in w.alloc_bulk(12).unwrap() {
        w.page_mut(id).unwrap().fill(id.get() as u8 + 1);
    }
    w.commit().unwrap();
    store
}

fn header(store: &Store<P>, next_id: u64) -> StreamHeader {
    let r = store.begin_read().unwrap();
    StreamHeader {
        features: FEATURE_INCREMENTAL,
        codec: 0,
        page_size: P as u32,
        store_id: store.shared.header.store_id,
        base_version: r.version().get(),
        base_hash: r.content_hash().0,
        target_version: r.version().get() + 1,
        target_hash: r.content_hash().0,
        target_next_id: next_id,
        target_commit_nanos: 0,
    }
}

/// A stream: pages `(id, byte)`, freed and live ranges.
fn stream(h: &StreamHeader, pages: &[(u64, u8)], freed: &[(u64, u64)], live: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = StreamWriter::new(&mut out, h, None).unwrap();
    for &(id, b) in pages {
        w.page(id, h.target_version, &[b; P], None).unwrap();
    }
    for &(s, c) in freed {
        w.range(KIND_FREED, s, c).unwrap();
    }
    for &(s, c) in live {
        w.range(KIND_LIVE, s, c).unwrap();
    }
    w.finish(h.target_hash).unwrap();
    out
}

fn refused(store: &Store<P>, bytes: &[u8]) -> BackupError {
    let before = (store.version(), store.begin_read().unwrap().content_hash());
    let err = store.apply_backup(bytes).unwrap_err();
    assert_eq!(before, (store.version(), store.begin_read().unwrap().content_hash()), "the store moved");
    assert!(store.verify().unwrap().is_clean());
    match err {
        Error::Backup(e) => e,
        e => panic!("not a backup error: {e}"),
    }
}

#[test]
fn hostile_stream_dropping_an_id_without_a_free_record_is_refused() {
    // The live set drops id 5, but no freed range names it (the ZFS
    // hole_birth class of bug on the sender's side).
    let store = base();
    let h = header(&store, 12);
    let e = refused(&store, &stream(&h, &[], &[], &[(0, 5), (6, 6)]));
    assert!(matches!(e, BackupError::LiveSet(_)), "{e}");
    // With the free record the live set checks; then the target hash decides.
    let e = refused(&store, &stream(&h, &[], &[(5, 1)], &[(0, 5), (6, 6)]));
    assert!(matches!(e, BackupError::TargetHashMismatch { .. }), "{e}");
}

#[test]
fn hostile_stream_live_id_without_content_is_refused() {
    let store = base();
    let h = header(&store, 13);
    let e = refused(&store, &stream(&h, &[], &[], &[(0, 13)]));
    assert!(matches!(e, BackupError::LiveSet(_)), "{e}");
}

#[test]
fn hostile_stream_page_outside_the_live_set_is_refused() {
    let store = base();
    // Content for id 5, which the live set drops and a freed range names:
    // the counts agree, so only the membership check can say so.
    let h = header(&store, 12);
    let e = refused(&store, &stream(&h, &[(5, 9)], &[(5, 1)], &[(0, 5), (6, 6)]));
    assert!(matches!(e, BackupError::LiveSet(_)), "{e}");
}

#[test]
fn hostile_stream_id_both_freed_and_live_is_refused() {
    let store = base();
    let h = header(&store, 12);
    let e = refused(&store, &stream(&h, &[], &[(3, 2)], &[(0, 12)]));
    assert!(matches!(e, BackupError::LiveSet(_)), "{e}");
}

#[test]
fn hostile_stream_wrong_target_hash_is_refused_at_commit() {
    let store = base();
    let mut h = header(&store, 12);
    h.target_hash = [0x5a; 16];
    let e = refused(&store, &stream(&h, &[(2, 9)], &[], &[(0, 12)]));
    assert!(matches!(e, BackupError::TargetHashMismatch { .. }), "{e}");
}

#[test]
fn hostile_stream_huge_counts_are_refused_without_iterating_them() {
    // A live range of 2^40 ids: the count check refuses it at once (this
    // test would not finish if the apply walked the range).
    let store = base();
    let h = header(&store, 1 << 40);
    let e = refused(&store, &stream(&h, &[], &[], &[(0, 1 << 40)]));
    assert!(matches!(e, BackupError::LiveSet(_)), "{e}");
    // And beyond next_id: malformed.
    let h = header(&store, 12);
    let e = refused(&store, &stream(&h, &[], &[], &[(0, 13)]));
    assert!(matches!(e, BackupError::Malformed { .. }), "{e}");
}

#[test]
fn hostile_stream_lying_length_is_refused_before_reading_it() {
    let store = base();
    let h = header(&store, 12);
    let mut bytes = h.encode().to_vec();
    bytes.extend_from_slice(&[1, 0, 0, 0]);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    let e = refused(&store, &bytes);
    assert!(matches!(e, BackupError::Malformed { .. }), "{e}");
    // A length within bounds but past the end: truncated, having allocated
    // only what arrived.
    let mut bytes = h.encode().to_vec();
    bytes.extend_from_slice(&[1, 0, 0, 0]);
    bytes.extend_from_slice(&((20 + P) as u32).to_le_bytes());
    bytes.extend_from_slice(&[0; 30]);
    assert!(matches!(refused(&store, &bytes), BackupError::Truncated { .. }));
}

#[test]
fn hostile_stream_unknown_feature_bits_are_refused() {
    let store = base();
    let mut h = header(&store, 12);
    h.features |= 1 << 7;
    let e = refused(&store, &h.encode());
    assert!(matches!(e, BackupError::Unsupported(_)), "{e}");
}

#[test]
fn incremental_of_an_emptied_store_frees_everything() {
    // Every id freed: the table's top is empty, the freed range is all ids.
    let store = base();
    let mut full = Vec::new();
    let b = store.backup(&mut full, At::Version(store.version()), BackupOptions::default()).unwrap();
    let mut w = store.begin_write().unwrap();
    for id in 0..12 {
        w.free(PageId::from_raw(id)).unwrap();
    }
    w.commit().unwrap();
    let mut inc = Vec::new();
    let options = BackupOptions { base: Some((b.version, b.content_hash)), ..Default::default() };
    store.backup(&mut inc, At::Version(store.version()), options).unwrap();
    let copy = Store::<P>::restore_backup_on(MemoryStorage::new().unwrap(), Options::default(), &full[..]).unwrap();
    let report = copy.apply_backup(&inc[..]).unwrap();
    assert_eq!(report.freed, 12);
    assert_eq!(copy.begin_read().unwrap().live_pages(), 0);
    assert_eq!(copy.begin_read().unwrap().content_hash(), store.begin_read().unwrap().content_hash());
}

#[test]
fn hostile_stream_full_with_a_lying_target_hash_fails_verify() {
    let store = base();
    let mut h = header(&store, 12);
    h.features = 0;
    h.base_version = 0;
    h.base_hash = [0; 16];
    let pages: Vec<(u64, u8)> = (0..12).map(|id| (id, id as u8 + 1)).collect();
    let good = stream(&h, &pages, &[], &[(0, 12)]);
    assert!(super::verify_backup(&good[..]).unwrap().content_checked);
    let mut bad_pages = pages.clone();
    bad_pages[4].1 = 0x77;
    let e = super::verify_backup(&stream(&h, &bad_pages, &[], &[(0, 12)])[..]).unwrap_err();
    assert!(matches!(e, Error::Backup(BackupError::TargetHashMismatch { .. })), "{e}");
    // Pages that are not the live set.
    let e = super::verify_backup(&stream(&h, &pages[..11], &[], &[(0, 12)])[..]).unwrap_err();
    assert!(matches!(e, Error::Backup(BackupError::LiveSet(_))), "{e}");
}
