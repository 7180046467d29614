//! Backup streams as a user makes, stores, verifies, restores and applies them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mappedpages::storage::{CrashStorage, Fault, MemoryStorage, Rng, TearPattern};
use mappedpages::{
    At, BackupError, BackupOptions, BackupReport, ContentHash, Differs, Error, Options, PageId, Store, Version,
    verify_backup,
};

const P: usize = 1024;

type Model = BTreeMap<u64, Vec<u8>>;

fn mem_store() -> Store<P> {
    Store::<P>::create_on(MemoryStorage::with_capacity(256 << 20).unwrap(), Options::default()).unwrap()
}

fn full(store: &Store<P>) -> (Vec<u8>, BackupReport) {
    let mut out = Vec::new();
    let r = store.backup(&mut out, At::Version(store.version()), BackupOptions::default()).unwrap();
    (out, r)
}

fn incremental(store: &Store<P>, base: &BackupReport) -> (Vec<u8>, BackupReport) {
    let mut out = Vec::new();
    let options = BackupOptions { base: Some((base.version, base.content_hash)), ..Default::default() };
    let r = store.backup(&mut out, At::Version(store.version()), options).unwrap();
    (out, r)
}

fn model_of(store: &Store<P>) -> Model {
    let r = store.begin_read().unwrap();
    r.ids().map(|id| id.unwrap()).map(|id| (id.get(), r.page(id).unwrap().to_vec())).collect()
}

fn restore_mem(stream: &[u8]) -> Store<P> {
    Store::<P>::restore_backup_on(MemoryStorage::with_capacity(256 << 20).unwrap(), Options::default(), stream).unwrap()
}

/// One random commit: allocate, write, zero, free.
fn random_commit(store: &Store<P>, rng: &mut Rng) {
    let live: Vec<PageId> = store.begin_read().unwrap().ids().map(|id| id.unwrap()).collect();
    let mut w = store.begin_write().unwrap();
    for _ in 0..rng.below(6) {
        let id = w.alloc().unwrap();
        if rng.below(4) != 0 {
            let b = rng.next_u64() as u8;
            w.page_mut(id).unwrap().fill(b | 1);
        }
    }
    for &id in &live {
        match rng.below(10) {
            0 => w.free(id).unwrap(),
            1 => {
                let b = rng.next_u64() as u8;
                w.page_mut(id).unwrap()[(b as usize) % P] = b;
            }
            2 => w.page_mut(id).unwrap().fill(0),
            _ => {}
        }
    }
    w.commit().unwrap();
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn restore_every_version_of_a_long_random_history_from_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = mem_store();
    let mut rng = Rng::new(mappedpages::testing::seed_from_env("BACKUP_SEED"));
    let mut chain: Vec<PathBuf> = Vec::new();
    let mut expected: Vec<(Version, ContentHash, Model, u64)> = Vec::new();
    let mut last: Option<BackupReport> = None;
    for step in 0..40 {
        // One to three commits between backups: a stream's target is then
        // not always its base plus one.
        for _ in 0..=rng.below(3) {
            random_commit(&store, &mut rng);
        }
        let (bytes, report) = match &last {
            None => full(&store),
            Some(base) => incremental(&store, base),
        };
        let r = store.begin_read().unwrap();
        assert_eq!(report.content_hash, r.content_hash());
        expected.push((r.version(), r.content_hash(), model_of(&store), store.stats().next_id));
        drop(r);
        chain.push(write_file(dir.path(), &format!("{step}.mpb"), &bytes));
        last = Some(report);
    }
    for k in 0..chain.len() {
        let path = dir.path().join(format!("restored-{k}.db"));
        let restored = Store::<P>::restore_chain(&path, &chain[..=k]).unwrap();
        let (version, hash, model, next_id) = &expected[k];
        assert_eq!(restored.version(), *version, "chain of {k}");
        let r = restored.begin_read().unwrap();
        assert_eq!(r.content_hash(), *hash, "chain of {k}");
        assert_eq!(&model_of(&restored), model, "chain of {k}: pages differ");
        assert_eq!(restored.stats().next_id, *next_id, "chain of {k}: next_id");
        drop(r);
        assert!(restored.verify().unwrap().is_clean());
    }
}

#[test]
fn full_plus_incrementals_equals_a_full_of_the_target() {
    let store = mem_store();
    let mut rng = Rng::new(7);
    random_commit(&store, &mut rng);
    let (f, mut base) = full(&store);
    let copy = restore_mem(&f);
    for _ in 0..10 {
        random_commit(&store, &mut rng);
        let (i, report) = incremental(&store, &base);
        copy.apply_backup(&i[..]).unwrap();
        base = report;
    }
    let (target_full, target) = full(&store);
    let (copy_full, copy_report) = full(&copy);
    assert_eq!(copy_report.version, target.version);
    assert_eq!(copy_report.content_hash, target.content_hash);
    assert_eq!(copy_report.live_ids, target.live_ids);
    // The two full streams restore to the same ids and bytes.
    assert_eq!(model_of(&restore_mem(&target_full)), model_of(&restore_mem(&copy_full)));
    assert_eq!(model_of(&copy), model_of(&store));
}

#[test]
fn incremental_costs_follow_the_change() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(4000).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap().fill(id.get() as u8 | 1);
    }
    w.commit().unwrap();
    let (f, base) = full(&store);
    let mut w = store.begin_write().unwrap();
    for &id in ids.iter().step_by(100) {
        w.page_mut(id).unwrap()[0] ^= 0xff;
    }
    w.free(ids[3]).unwrap();
    w.commit().unwrap();
    let (i, report) = incremental(&store, &base);
    assert_eq!(report.pages, 40, "only the changed pages are sent");
    assert!(i.len() * 50 < f.len(), "incremental {} bytes, full {}", i.len(), f.len());
    let copy = restore_mem(&f);
    let applied = copy.apply_backup(&i[..]).unwrap();
    assert_eq!(applied.freed, 1);
    assert_eq!(model_of(&copy), model_of(&store));
}

#[test]
fn apply_refuses_a_store_not_at_the_base_and_names_what_differs() {
    let store = mem_store();
    let mut rng = Rng::new(3);
    random_commit(&store, &mut rng);
    let (f, base) = full(&store);
    random_commit(&store, &mut rng);
    let (i, _) = incremental(&store, &base);

    // Applied twice: the second time the store is past the base.
    let copy = restore_mem(&f);
    copy.apply_backup(&i[..]).unwrap();
    let before = (copy.version(), copy.begin_read().unwrap().content_hash());
    let err = copy.apply_backup(&i[..]).unwrap_err();
    assert!(matches!(err, Error::Backup(BackupError::BaseMismatch { what: Differs::Version, .. })), "{err}");
    assert_eq!(before, (copy.version(), copy.begin_read().unwrap().content_hash()));

    // Another store (another lineage).
    let other = mem_store();
    let err = other.apply_backup(&i[..]).unwrap_err();
    assert!(matches!(err, Error::Backup(BackupError::BaseMismatch { what: Differs::StoreId, .. })), "{err}");

    // The right version with other content: a bookmark naming a wrong hash
    // (the base is no longer readable, so the sender cannot tell).
    let mut lying = Vec::new();
    let options = BackupOptions { base: Some((base.version, ContentHash([9; 16]))), ..Default::default() };
    store.backup(&mut lying, At::Version(store.version()), options).unwrap();
    let fresh = restore_mem(&f);
    let err = fresh.apply_backup(&lying[..]).unwrap_err();
    assert!(matches!(err, Error::Backup(BackupError::BaseMismatch { what: Differs::ContentHash, .. })), "{err}");
    assert_eq!(fresh.version(), base.version);

    // A full stream is not an incremental, and the reverse.
    assert!(matches!(fresh.apply_backup(&f[..]), Err(Error::Backup(BackupError::WrongKind { .. }))));
    let r = Store::<P>::restore_backup_on(MemoryStorage::new().unwrap(), Options::default(), &i[..]);
    assert!(matches!(r, Err(Error::Backup(BackupError::WrongKind { .. }))));
}

#[test]
fn chain_with_a_gap_or_from_another_lineage_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let store = mem_store();
    let mut rng = Rng::new(11);
    random_commit(&store, &mut rng);
    let (f, b0) = full(&store);
    random_commit(&store, &mut rng);
    let (i1, b1) = incremental(&store, &b0);
    random_commit(&store, &mut rng);
    let (i2, _) = incremental(&store, &b1);
    let f = write_file(dir.path(), "f", &f);
    let i1 = write_file(dir.path(), "i1", &i1);
    let i2 = write_file(dir.path(), "i2", &i2);

    let out = dir.path().join("gap.db");
    let err = Store::<P>::restore_chain(&out, &[&f, &i2]).err().unwrap();
    assert!(matches!(err, Error::Backup(BackupError::Chain { index: 1, what: Differs::Version })), "{err}");
    assert!(!out.exists(), "nothing is written for a broken chain");

    let other = mem_store();
    random_commit(&other, &mut rng);
    let (of, _) = full(&other);
    let of = write_file(dir.path(), "of", &of);
    let err = Store::<P>::restore_chain(&out, &[&of, &i1]).err().unwrap();
    assert!(matches!(err, Error::Backup(BackupError::Chain { index: 1, what: Differs::StoreId })), "{err}");
    assert!(matches!(
        Store::<P>::restore_chain(&out, &[&i1, &i2]).err().unwrap(),
        Error::Backup(BackupError::WrongKind { index: 0, .. })
    ));
    // A damaged stream in the middle: refused by the check before writing.
    let mut bad = std::fs::read(&i1).unwrap();
    let n = bad.len();
    bad[n / 2] ^= 0x10;
    let bad = write_file(dir.path(), "bad", &bad);
    assert!(matches!(
        Store::<P>::restore_chain(&out, &[&f, &bad, &i2]).err().unwrap(),
        Error::Backup(BackupError::Malformed { .. })
    ));
    assert!(!out.exists());
    assert!(Store::<P>::verify_chain(&[&f, &bad, &i2]).is_err());
    assert!(Store::<P>::verify_chain(&[&f, &i2]).is_err());
    let info = Store::<P>::verify_chain(&[&f, &i1, &i2]).unwrap();
    assert!(info.content_checked);
    Store::<P>::restore_chain(&out, &[&f, &i1, &i2]).unwrap();
}

/// A base store and an incremental stream to apply to it.
fn base_and_stream() -> (Vec<u8>, Vec<u8>) {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    for id in w.alloc_bulk(12).unwrap() {
        w.page_mut(id).unwrap().fill(id.get() as u8 + 1);
    }
    w.commit().unwrap();
    let (f, base) = full(&store);
    let mut w = store.begin_write().unwrap();
    w.page_mut(PageId::from_raw(2)).unwrap().fill(0xaa);
    w.free(PageId::from_raw(5)).unwrap();
    let new = w.alloc().unwrap();
    w.page_mut(new).unwrap()[7] = 7;
    w.commit().unwrap();
    // A second commit: the stream's target is its base plus two.
    let mut w = store.begin_write().unwrap();
    w.page_mut(PageId::from_raw(0)).unwrap().fill(0x33);
    w.commit().unwrap();
    (f, incremental(&store, &base).0)
}

#[test]
fn hostile_stream_truncated_or_flipped_changes_nothing() {
    let (f, i) = base_and_stream();
    let copy = restore_mem(&f);
    let before = (copy.version(), copy.begin_read().unwrap().content_hash());
    for cut in 0..i.len() {
        assert!(copy.apply_backup(&i[..cut]).is_err(), "truncated at {cut}");
        assert!(verify_backup(&i[..cut]).is_err());
    }
    for byte in 0..i.len() {
        let mut t = i.clone();
        t[byte] ^= 1 << (byte % 8);
        assert!(copy.apply_backup(&t[..]).is_err(), "flip in byte {byte}");
        assert!(verify_backup(&t[..]).is_err(), "verify misses a flip in byte {byte}");
    }
    assert_eq!(before, (copy.version(), copy.begin_read().unwrap().content_hash()));
    assert!(copy.verify().unwrap().is_clean());
    copy.apply_backup(&i[..]).unwrap();
    // A full stream too: every flip is caught by verify.
    for byte in 0..f.len() {
        let mut t = f.clone();
        t[byte] ^= 1 << (byte % 8);
        assert!(verify_backup(&t[..]).is_err(), "verify misses a flip in byte {byte} of a full stream");
    }
}

#[test]
fn hostile_stream_records_from_another_stream_are_refused() {
    let (f, i) = base_and_stream();
    let (_, other) = base_and_stream();
    // The same records under the other stream's header (its store id
    // differs, so its header checksum and every record's key do too).
    let mut spliced = other[..128].to_vec();
    spliced.extend_from_slice(&i[128..]);
    let copy = restore_mem(&f);
    assert!(matches!(copy.apply_backup(&spliced[..]), Err(Error::Backup(_))));
    assert!(matches!(verify_backup(&spliced[..]), Err(Error::Backup(BackupError::Malformed { .. }))));
}

#[test]
fn verify_reports_what_a_stream_holds() {
    let (f, i) = base_and_stream();
    let info = verify_backup(&f[..]).unwrap();
    assert!(info.content_checked && info.base.is_none());
    assert_eq!(info.live_ids, 12);
    let inc = verify_backup(&i[..]).unwrap();
    assert_eq!(inc.base.map(|(v, _)| v), Some(info.version));
    assert_eq!(inc.pages, 3);
    assert_eq!(inc.version.get(), info.version.get() + 2);
    assert_eq!(inc.live_ids, 12);
}

#[test]
fn crash_at_every_storage_operation_during_apply_leaves_base_or_target() {
    let (f, i) = base_and_stream();
    let disk = CrashStorage::new().unwrap();
    let ctl = disk.control();
    let base = {
        let s = Store::<P>::restore_backup_on(disk, Options::default(), &f[..]).unwrap();
        (s.version(), s.begin_read().unwrap().content_hash())
    };
    let target_info = verify_backup(&i[..]).unwrap();
    let target = (target_info.version, target_info.content_hash);
    let image = ctl.durable_image();
    // Count the operations of one apply.
    let ops = {
        let d = CrashStorage::from_image(&image, 64 << 20).unwrap();
        let c = d.control();
        let s = Store::<P>::open_on(d, Options::default()).unwrap();
        let start = c.counts().ops;
        s.apply_backup(&i[..]).unwrap();
        c.counts().ops - start
    };
    assert!(ops >= 3);
    let mut seen_target = false;
    for k in 0..=ops {
        for pattern in [TearPattern::KeepAll, TearPattern::DropAll, TearPattern::Seeded(k)] {
            let d = CrashStorage::from_image(&image, 64 << 20).unwrap();
            let c = d.control();
            let s = Store::<P>::open_on(d, Options::default()).unwrap();
            c.set_fault(Some(Fault::PowerCutAt(c.counts().ops + k)));
            let applied = s.apply_backup(&i[..]).is_ok();
            drop(s);
            let s = Store::<P>::open_on(c.crash(pattern).unwrap(), Options::default()).unwrap();
            let now = (s.version(), s.begin_read().unwrap().content_hash());
            assert!(now == base || now == target, "cut at op {k} ({pattern:?}): {now:?}");
            if applied {
                assert_eq!(now, target, "an acknowledged apply is durable (cut at op {k})");
            }
            seen_target |= now == target;
            assert!(s.verify().unwrap().is_clean(), "cut at op {k}");
        }
    }
    assert!(seen_target);
}

#[test]
fn concurrent_backup_while_a_writer_commits_is_of_its_version() {
    let store = std::sync::Arc::new(mem_store());
    let mut w = store.begin_write().unwrap();
    for id in w.alloc_bulk(300).unwrap() {
        w.page_mut(id).unwrap().fill(1);
    }
    w.commit().unwrap();
    let kept = store.create_snapshot("start").unwrap();
    let expected = model_of(&store);
    let writer = {
        let store = std::sync::Arc::clone(&store);
        std::thread::spawn(move || {
            for b in 2..30u8 {
                let mut w = store.begin_write().unwrap();
                for id in 0..300 {
                    w.page_mut(PageId::from_raw(id)).unwrap().fill(b);
                }
                w.commit().unwrap();
            }
        })
    };
    let mut out = Vec::new();
    let report = store.backup(&mut out, At::Snapshot("start"), BackupOptions::default()).unwrap();
    writer.join().unwrap();
    assert_eq!(report.version, kept);
    let copy = restore_mem(&out);
    assert_eq!(copy.version(), kept);
    assert_eq!(model_of(&copy), expected);
    assert_ne!(model_of(&store), expected, "the writer went on");
}

#[cfg(feature = "backup-zstd")]
#[test]
fn zstd_streams_round_trip_smaller_and_flips_are_caught() {
    let store = mem_store();
    let mut w = store.begin_write().unwrap();
    for id in w.alloc_bulk(200).unwrap() {
        w.page_mut(id).unwrap()[..16].copy_from_slice(&id.get().to_le_bytes().repeat(2));
    }
    w.commit().unwrap();
    let (plain, _) = full(&store);
    let mut z = Vec::new();
    let options = BackupOptions { zstd_level: Some(3), ..Default::default() };
    store.backup(&mut z, At::Version(store.version()), options).unwrap();
    assert!(z.len() * 10 < plain.len(), "zstd {} bytes, plain {}", z.len(), plain.len());
    let info = verify_backup(&z[..]).unwrap();
    assert_eq!(info.stream_bytes, plain.len() as u64);
    assert_eq!(model_of(&restore_mem(&z)), model_of(&store));
    // A flip is caught, or it left the decoded stream as it was: the zstd
    // frame's checksum covers what it decodes to, not its own header (a flip
    // of its window size, say, still decodes to the same bytes).
    let mut unchanged = 0;
    for byte in (0..z.len()).step_by(7) {
        let mut t = z.clone();
        t[byte] ^= 0x40;
        if let Ok(i) = verify_backup(&t[..]) {
            assert_eq!(i, info, "flip in byte {byte} of a zstd stream changed what it holds");
            assert_eq!(model_of(&restore_mem(&t)), model_of(&store));
            unchanged += 1;
        }
    }
    assert!(unchanged <= 2, "{unchanged} flips went unnoticed");
}

#[test]
fn backup_of_a_history_version_and_a_chain_continued_from_a_restored_store() {
    let store = mem_store();
    store.set_history(mappedpages::HistoryWindow::versions(10)).unwrap();
    let mut rng = Rng::new(5);
    random_commit(&store, &mut rng);
    let old = store.version();
    let old_model = model_of(&store);
    random_commit(&store, &mut rng);
    random_commit(&store, &mut rng);
    // A retained older version, backed up after newer commits.
    let mut f = Vec::new();
    let base = store.backup(&mut f, At::Version(old), BackupOptions::default()).unwrap();
    assert_eq!(base.version, old);
    let copy = restore_mem(&f);
    assert_eq!(model_of(&copy), old_model);
    // The restored store goes on as a source of its own: its incrementals
    // apply to another copy restored from the same stream.
    random_commit(&copy, &mut rng);
    let (i, _) = incremental(&copy, &base);
    let other = restore_mem(&f);
    other.apply_backup(&i[..]).unwrap();
    assert_eq!(model_of(&other), model_of(&copy));
    assert_eq!(other.begin_read().unwrap().content_hash(), copy.begin_read().unwrap().content_hash());
}
