//! Golden backup streams (tests/golden/backup-v1-*.mpb), made by format
//! version 1 and committed: today's code must read, verify and restore them to
//! the same content, so the stream format cannot drift silently. Rewrite them
//! (only for a deliberate new stream version, with SPEC.md) with
//! `MAPPEDPAGES_WRITE_GOLDEN=1 cargo test --all-features --test backup_golden`.

use std::path::PathBuf;

use mappedpages::storage::MemoryStorage;
use mappedpages::{At, BackupOptions, Options, PageId, STREAM_VERSION, Store, verify_backup};

const P: usize = 1024;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// Page `id`'s bytes at step `step` of the golden history.
fn pattern(id: u64, step: u64) -> Vec<u8> {
    (0..P as u64).map(|i| (i.wrapping_mul(31) ^ id.wrapping_mul(7) ^ step) as u8).collect()
}

/// The golden history: 20 pages; then 5 rewritten, 2 freed, 1 added; then 3
/// rewritten, one zeroed.
fn expected(step: u64) -> Vec<(u64, Vec<u8>)> {
    let mut pages: Vec<(u64, Vec<u8>)> = (0..20).map(|id| (id, pattern(id, 0))).collect();
    if step >= 1 {
        for id in [1, 4, 9, 16, 19] {
            pages[id as usize].1 = pattern(id, 1);
        }
        pages.retain(|(id, _)| *id != 7 && *id != 8);
        pages.push((20, pattern(20, 1)));
    }
    if step >= 2 {
        for (id, bytes) in pages.iter_mut() {
            if [2, 9].contains(id) {
                *bytes = pattern(*id, 2);
            }
            if *id == 3 {
                *bytes = vec![0; P];
            }
        }
    }
    pages
}

fn write_golden() {
    let store = Store::<P>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
    let mut reports = Vec::new();
    for step in 0..3u64 {
        let want = expected(step);
        let mut w = store.begin_write().unwrap();
        let have: Vec<PageId> = store.begin_read().unwrap().ids().map(|i| i.unwrap()).collect();
        for id in have {
            if !want.iter().any(|(i, _)| *i == id.get()) {
                w.free(id).unwrap();
            }
        }
        for (id, bytes) in &want {
            let pid = PageId::from_raw(*id);
            if !w.contains(pid).unwrap() {
                assert_eq!(w.alloc().unwrap(), pid);
            } else if w.page(pid).unwrap() == &bytes[..] {
                continue;
            }
            w.write(pid, bytes).unwrap();
        }
        w.commit().unwrap();
        let mut out = Vec::new();
        let base = reports.last().map(|r: &mappedpages::BackupReport| (r.version, r.content_hash));
        let r =
            store.backup(&mut out, At::Version(store.version()), BackupOptions { base, ..Default::default() }).unwrap();
        std::fs::write(golden(&format!("backup-v1-{step}.mpb")), out).unwrap();
        reports.push(r);
    }
}

#[test]
fn golden_streams_of_version_1_still_verify_and_restore() {
    if std::env::var_os("MAPPEDPAGES_WRITE_GOLDEN").is_some() {
        write_golden();
    }
    assert_eq!(STREAM_VERSION, 1, "a new stream version adds golden files; it does not replace these");
    let chain: Vec<PathBuf> = (0..3).map(|s| golden(&format!("backup-v1-{s}.mpb"))).collect();
    // The content hashes recorded when the files were made: the hash, too,
    // must not drift.
    let hashes =
        ["5d15a54b504abc4e7e12aa08f389ee83", "6f45bb0f29696286c1d57efe2cf50623", "2add6336afb22307b6300ae7ad213332"];
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3 {
        let info = verify_backup(std::fs::File::open(&chain[k]).unwrap()).unwrap();
        assert_eq!(info.base.is_none(), k == 0);
        assert_eq!(info.content_hash.to_string(), hashes[k], "stream {k}");
        let restored = Store::<P>::restore_chain(dir.path().join(format!("r{k}.db")), &chain[..=k]).unwrap();
        assert_eq!(restored.version(), info.version);
        let r = restored.begin_read().unwrap();
        assert_eq!(r.content_hash(), info.content_hash);
        let got: Vec<(u64, Vec<u8>)> =
            r.ids().map(|i| i.unwrap()).map(|id| (id.get(), r.page(id).unwrap().to_vec())).collect();
        let mut want = expected(k as u64);
        want.sort();
        assert_eq!(got, want, "restored content of step {k}");
    }
}
