//! Golden files: stores written by earlier builds, committed under `tests/golden/`,
//! must keep opening, reading, verifying and committing (SPEC.md section 15).
//!
//! Each file was made by [`make_golden_files`] (run it with `--ignored` to add the
//! files of the current format version) from one fixed workload, so the test knows
//! every byte the file should hold without trusting the file: the page contents are
//! recomputed here, and the content hashes below were printed when the file was made.
//! A change that stops old bytes from reading fails here.

use mappedpages::{At, HistoryWindow, PageId, Store};
use std::path::{Path, PathBuf};

/// The bytes of page `id` as written by commit `version` of the workload.
fn pattern(id: u64, version: u64, len: usize) -> Vec<u8> {
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ version.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// What the workload leaves: for each live id, the version that last wrote it.
struct Expect {
    /// At the snapshot "golden" (version 1).
    snapshot: Vec<(u64, u64)>,
    /// At the newest version.
    newest: Vec<(u64, u64)>,
}

/// The workload: four commits, a snapshot in the second, a history window.
fn workload<const P: usize>(store: &Store<P>) -> Expect {
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(20).unwrap();
    let v1 = w.base_version().0 + 1;
    for id in &ids {
        w.write(*id, &pattern(id.get(), v1, P)).unwrap();
    }
    w.commit().unwrap();

    let mut w = store.begin_write().unwrap();
    let v2 = w.base_version().0 + 1;
    for id in &ids[..5] {
        w.write(*id, &pattern(id.get(), v2, P)).unwrap();
    }
    for id in &ids[15..] {
        w.free(*id).unwrap();
    }
    w.create_snapshot("golden").unwrap();
    w.set_history(HistoryWindow::versions(3));
    w.commit().unwrap();

    let mut w = store.begin_write().unwrap();
    let v3 = w.base_version().0 + 1;
    for id in &ids[3..8] {
        w.write(*id, &pattern(id.get(), v3, P)).unwrap();
    }
    let more = w.alloc_bulk(5).unwrap();
    for id in &more {
        w.write(*id, &pattern(id.get(), v3, P)).unwrap();
    }
    w.commit().unwrap();

    let mut w = store.begin_write().unwrap();
    w.free(ids[2]).unwrap();
    w.commit().unwrap();

    // A snapshot made inside a transaction keeps the transaction's base: v1.
    let snapshot = ids.iter().map(|id| (id.get(), v1)).collect();
    let newest = ids[..15]
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != 2)
        .map(|(i, id)| {
            (
                id.get(),
                if (3..8).contains(&i) {
                    v3
                } else if i < 5 {
                    v2
                } else {
                    v1
                },
            )
        })
        .chain(more.iter().map(|id| (id.get(), v3)))
        .collect();
    Expect { snapshot, newest }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Writes `tests/golden/v{FORMAT}-{P}.db` for the format this build writes, and
/// prints the content hashes to paste into [`GOLDEN`].
#[test]
#[ignore = "writes the golden files of the current format version; run by hand"]
fn make_golden_files() {
    fn one<const P: usize>() {
        let path = golden_dir().join(format!("v{}-{P}.db", mappedpages::format::FORMAT_VERSION));
        let _ = std::fs::remove_file(&path);
        let store = Store::<P>::create(&path).unwrap();
        workload(&store);
        let snap = store.begin_read_at(At::Snapshot("golden")).unwrap().content_hash();
        let newest = store.begin_read().unwrap().content_hash();
        println!("{}: snapshot {snap}, newest {newest}", path.display());
    }
    std::fs::create_dir_all(golden_dir()).unwrap();
    one::<1024>();
    one::<4096>();
}

/// One golden file: its name, and the content hashes printed when it was made.
struct Golden {
    file: &'static str,
    snapshot: &'static str,
    newest: &'static str,
}

const GOLDEN: &[Golden] = &[
    // Format 2 (mappedpages 0.3.0 before the root slots moved to their own blocks).
    Golden {
        file: "v2-1024.db",
        snapshot: "9d2061fffcf25d01cb9911a006a3921a",
        newest: "d2f321c4c3ded49fe8f2bcdabcf1174e",
    },
    Golden {
        file: "v2-4096.db",
        snapshot: "72b06674174592a5d134307a6a49cf01",
        newest: "6a2ae5e118e4bddacbefe01b5c4b9d10",
    },
    // Format 3: the header and each root slot in a 4 KiB block of its own. The
    // content hashes are those of format 2: they depend on the pages alone.
    Golden {
        file: "v3-1024.db",
        snapshot: "9d2061fffcf25d01cb9911a006a3921a",
        newest: "d2f321c4c3ded49fe8f2bcdabcf1174e",
    },
    Golden {
        file: "v3-4096.db",
        snapshot: "72b06674174592a5d134307a6a49cf01",
        newest: "6a2ae5e118e4bddacbefe01b5c4b9d10",
    },
];

/// The format version a golden file's header carries: the file's name says it.
fn format_version_of(path: &Path) -> u32 {
    mappedpages::format::Header::decode(&std::fs::read(path).unwrap()).unwrap().format_version
}

fn check<const P: usize>(g: &Golden) {
    // A copy: the test commits to it, and the committed file must stay as it was.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(g.file);
    std::fs::copy(golden_dir().join(g.file), &path).unwrap();
    let version = format_version_of(&path);
    assert_eq!(format!("v{version}-{P}.db"), g.file, "the header's format version");

    let mut expect = {
        let scratch = tempfile::tempdir().unwrap();
        workload(&Store::<P>::create(scratch.path().join("x.db")).unwrap())
    };
    let store = Store::<P>::open(&path).unwrap();
    assert!(store.verify().unwrap().is_clean(), "{}: verify", g.file);
    let newest = store.version();
    for (at, want, hash) in [("snapshot", &mut expect.snapshot, g.snapshot), ("newest", &mut expect.newest, g.newest)] {
        let r =
            store.begin_read_at(if at == "snapshot" { At::Snapshot("golden") } else { At::Version(newest) }).unwrap();
        assert_eq!(r.content_hash().to_string(), hash, "{}: content hash at {at}", g.file);
        let live: Vec<u64> = r.ids().map(|id| id.unwrap().get()).collect();
        want.sort();
        assert_eq!(live, want.iter().map(|&(id, _)| id).collect::<Vec<_>>(), "{}: live ids at {at}", g.file);
        for &(id, version) in want.iter() {
            assert_eq!(r.page(PageId::from_raw(id)).unwrap(), pattern(id, version, P), "{}: page {id} at {at}", g.file);
        }
    }
    assert_eq!(store.history_window(), HistoryWindow::versions(3));

    // The file stays writable by this build, and reopens clean.
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    w.write(id, &pattern(id.get(), 99, P)).unwrap();
    let v = w.commit().unwrap();
    store.delete_snapshot("golden").unwrap();
    drop(store);
    let store = Store::<P>::open(&path).unwrap();
    assert!(store.verify().unwrap().is_pristine(), "{}: verify after commits", g.file);
    assert!(store.version() > v);
    assert_eq!(store.begin_read().unwrap().page(id).unwrap(), pattern(id.get(), 99, P));
    assert_eq!(store.snapshots().unwrap().len(), 0);
    drop(store);
    assert_eq!(format_version_of(&path), version, "a commit keeps the file's format");
}

#[test]
fn golden_files_open_read_verify_and_commit() {
    assert!(!GOLDEN.is_empty());
    for g in GOLDEN {
        match g.file.rsplit_once('-').map(|(_, p)| p) {
            Some("1024.db") => check::<1024>(g),
            Some("4096.db") => check::<4096>(g),
            other => panic!("{}: no page size in the name ({other:?})", g.file),
        }
    }
}
