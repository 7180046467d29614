//! `mappedpages upgrade` on real 0.2 files, made with the published 0.2.0
//! crate: every page readable afterwards under its documented id, the source
//! untouched, and damaged sources refused with nothing written.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use common::{run, run_json, s, with_files};
use mappedpages::upgrade::{UpgradeError, V02Error, parse_v02, upgrade_v02};
use mappedpages::{Error, PageId, Store};
use mappedpages02::Pager;

/// Bytes of 0.2 page (data or protected) `n`, written `gen` times.
fn bytes(n: u64, kind: u8, generation: u8, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(7) ^ (n as u8).wrapping_mul(13) ^ kind ^ generation.wrapping_mul(29))
        .collect()
}

struct Made {
    path: PathBuf,
    /// (0.2 data page number, its bytes), live ones.
    data: Vec<(u64, Vec<u8>)>,
    /// (0.2 protected id, its committed bytes), live ones.
    protected: Vec<(u64, Vec<u8>)>,
    freed_data: Vec<u64>,
}

/// A 0.2 file as its users have them: data pages written through the map,
/// one freed; protected pages written and committed (one twice, so its
/// active copy is B; one discarded write), one freed.
fn make_v02<const P: usize>(dir: &Path) -> Made {
    let path = dir.join(format!("old-{P}.bin"));
    let mut pager = Pager::<P>::create(&path).unwrap();
    let ids = pager.alloc_bulk(12).unwrap();
    for id in &ids {
        id.get_mut(&mut pager).unwrap().as_bytes_mut().copy_from_slice(&bytes(id.0, 1, 0, P));
    }
    pager.free(ids[4]).unwrap();
    let prot = pager.alloc_protected_bulk(4).unwrap();
    let mut protected = Vec::new();
    for p in &prot {
        let mut w = p.get_mut(&mut pager).unwrap();
        w.page_mut().as_bytes_mut().copy_from_slice(&bytes(p.0, 2, 0, P));
        w.commit().unwrap();
    }
    // Protected 0 written twice: its active copy is the second slot.
    let mut w = prot[0].get_mut(&mut pager).unwrap();
    w.page_mut().as_bytes_mut().copy_from_slice(&bytes(prot[0].0, 2, 1, P));
    w.commit().unwrap();
    // Protected 3: a write dropped without commit is not part of the page.
    {
        let mut w = prot[3].get_mut(&mut pager).unwrap();
        w.page_mut().as_bytes_mut().fill(0xEE);
    }
    pager.free_protected(prot[1]).unwrap();
    for p in &prot {
        if *p == prot[1] {
            continue;
        }
        let generation = if *p == prot[0] { 1 } else { 0 };
        protected.push((p.0, bytes(p.0, 2, generation, P)));
        assert_eq!(p.get(&pager).unwrap().as_bytes(), bytes(p.0, 2, generation, P).as_slice());
    }
    let data: Vec<(u64, Vec<u8>)> = pager.iter_allocated_pages().map(|id| (id.0, bytes(id.0, 1, 0, P))).collect();
    assert_eq!(data.len(), 11);
    drop(pager);
    Made { path, data, protected, freed_data: vec![ids[4].0] }
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Checks the new store holds exactly what `made` says, under the ids the
/// module docs promise; returns protected_base.
fn check_upgraded<const P: usize>(made: &Made, target: &Path, protected_base: u64) {
    with_files(|| {
        let store = Store::<P>::open(target).unwrap();
        let r = store.begin_read().unwrap();
        for (n, want) in &made.data {
            assert_eq!(r.page(PageId::from_raw(*n)).unwrap(), want.as_slice(), "data page {n}");
        }
        for (p, want) in &made.protected {
            assert_eq!(r.page(PageId::from_raw(protected_base + p)).unwrap(), want.as_slice(), "protected {p}");
        }
        assert_eq!(r.live_pages(), (made.data.len() + made.protected.len()) as u64, "nothing else is live");
        for id in [0, 1, 2].into_iter().chain(made.freed_data.iter().copied()).chain([protected_base + 1]) {
            assert!(!r.contains(PageId::from_raw(id)).unwrap(), "id {id} held nothing in 0.2");
        }
        assert!(store.verify().unwrap().is_clean());
    });
}

#[test]
fn upgrade_keeps_every_page_under_its_documented_id() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    let before = std::fs::read(&made.path).unwrap();
    let target = dir.path().join("new.db");
    let (code, v, err) = run_json(&["upgrade", s(&made.path), s(&target)]);
    assert_eq!(code, 0, "{v} {err}");
    let report = &v["report"];
    assert_eq!(report["data_pages"], 11);
    assert_eq!(report["protected_pages"], 3);
    assert_eq!(report["page_size"], 4096);
    let base = report["protected_base"].as_u64().unwrap();
    let total = parse_v02(&std::fs::read(&made.path).unwrap()[..]).unwrap().total_pages;
    assert_eq!(base, total, "protected_base is the 0.2 file's page count");
    check_upgraded::<4096>(&made, &target, base);
    assert_eq!(std::fs::read(&made.path).unwrap(), before, "the source is only read");

    // The mapping file: every page, one line each.
    let map = std::fs::read_to_string(mappedpages::upgrade::mapping_path(&target)).unwrap();
    let lines: Vec<&str> = map.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 14);
    for (n, _) in &made.data {
        assert!(lines.contains(&format!("data {n} {n}").as_str()), "{map}");
    }
    for (p, _) in &made.protected {
        assert!(lines.contains(&format!("protected {p} {}", base + p).as_str()), "{map}");
    }
    assert!(map.contains(&format!("# protected_base {base}")));
    assert_eq!(dir_entries(dir.path()), vec!["new.db", "new.db.idmap", "old-4096.bin"], "no temporary file left");

    // The new store works with the tool like any other.
    let (code, text, _) = run(&["verify", s(&target)]);
    assert_eq!(code, 0, "{text}");
    // A second upgrade to the same target is refused; the target is untouched.
    let after = std::fs::read(&target).unwrap();
    let (code, v, err) = run_json(&["upgrade", s(&made.path), s(&target)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "exists");
    assert!(err.contains("new.db") && err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), after);
}

#[test]
fn upgrade_other_page_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let small = make_v02::<1024>(dir.path());
    let target = dir.path().join("small.db");
    let (code, v, _) = run_json(&["upgrade", s(&small.path), s(&target)]);
    assert_eq!(code, 0, "{v}");
    check_upgraded::<1024>(&small, &target, v["report"]["protected_base"].as_u64().unwrap());

    let big = make_v02::<65536>(dir.path());
    let target = dir.path().join("big.db");
    let (code, text, _) = run(&["upgrade", s(&big.path), s(&target)]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("11 data pages") && text.contains("3 protected pages"), "{text}");
    let base = parse_v02(&std::fs::File::open(&big.path).unwrap()).unwrap().total_pages;
    check_upgraded::<65536>(&big, &target, base);
}

/// Damages `made`'s file with `damage`, runs the upgrade and checks it
/// fails with `kind`, naming the source, with nothing written.
fn refused(made: &Made, damage: impl FnOnce(&mut Vec<u8>), kind: &str, says: &str) {
    let mut b = std::fs::read(&made.path).unwrap();
    damage(&mut b);
    std::fs::write(&made.path, &b).unwrap();
    let dir = made.path.parent().unwrap();
    let before = dir_entries(dir);
    let target = dir.join("new.db");
    let (code, v, err) = run_json(&["upgrade", s(&made.path), s(&target)]);
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["error"]["kind"], kind, "{v}");
    assert!(err.contains(made.path.file_name().unwrap().to_str().unwrap()) && err.contains(says), "{err}");
    assert_eq!(dir_entries(dir), before, "nothing written");
    assert_eq!(std::fs::read(&made.path).unwrap(), b, "the source is untouched");
}

#[test]
fn hostile_file_v02_both_metadata_copies_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    refused(
        &made,
        |b| {
            b[4096 + 9] ^= 1;
            b[2 * 4096 + 9] ^= 1;
        },
        "damaged",
        "both 0.2 metadata copies are damaged",
    );
}

#[test]
fn hostile_file_v02_damaged_protected_page() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    let parsed = parse_v02(&std::fs::File::open(&made.path).unwrap()).unwrap();
    let physical = parsed.protected.iter().find(|p| p.id == 2).unwrap().physical;
    refused(&made, |b| b[physical as usize * 4096 + 77] ^= 0x40, "damaged", "protected page 2");
}

#[test]
fn hostile_file_v02_damaged_directory_index_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    refused(&made, |b| b[30] ^= 1, "damaged", "directory index");
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    refused(&made, |b| b.truncate(4096 * 5), "damaged", "bytes, its structures need");
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    refused(&made, |b| b[5] = 9, "damaged", "written by mappedpages 0.9");
}

#[test]
fn hostile_file_v02_active_metadata_damaged_falls_back_as_0_2_does() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    let mut b = std::fs::read(&made.path).unwrap();
    let active = parse_v02(&b[..]).unwrap().meta_page as usize;
    b[active * 4096 + 30] ^= 0x01; // a bitmap byte of the active copy
    std::fs::write(&made.path, &b).unwrap();
    // What 0.2 itself opens now: the other copy, one commit older.
    let want: Vec<u64> = {
        let pager = Pager::<4096>::open(&made.path).unwrap();
        pager.iter_allocated_pages().map(|id| id.0).collect()
    };
    std::fs::write(&made.path, &b).unwrap(); // 0.2's open wrote nothing, but be sure
    let parsed = parse_v02(&b[..]).unwrap();
    assert!(parsed.meta_fallback);
    assert_eq!(parsed.data_pages, want, "the same pages 0.2 sees");
    let target = dir.path().join("new.db");
    let (code, v, _) = run_json(&["upgrade", s(&made.path), s(&target)]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["report"]["data_pages"], want.len());
}

#[test]
fn hostile_file_v02_active_metadata_that_disagrees_with_the_superblock_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    let mut b = std::fs::read(&made.path).unwrap();
    let active = parse_v02(&b[..]).unwrap().meta_page as usize;
    // The active copy is intact, but the superblock's CRC32 of it is not:
    // 0.2 then takes the other copy, and so must we. (Damaging the page
    // itself cannot show this: the CRC32 of any page that ends with its own
    // CRC32 is the same constant, so an intact page always matches.)
    b[17] ^= 0x01;
    std::fs::write(&made.path, &b).unwrap();
    let parsed = parse_v02(&b[..]).unwrap();
    assert!(parsed.meta_fallback);
    assert_eq!(parsed.meta_page as usize, 3 - active);
    let want: Vec<u64> = Pager::<4096>::open(&made.path).unwrap().iter_allocated_pages().map(|id| id.0).collect();
    assert_eq!(parsed.data_pages, want);
}

#[test]
fn hostile_file_upgrade_of_files_that_are_not_0_2() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("new-format.db");
    with_files(|| drop(Store::<4096>::create(&store).unwrap()));
    let target = dir.path().join("t.db");
    let (code, v, err) = run_json(&["upgrade", s(&store), s(&target)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "not_v02");
    assert!(err.contains("new-format.db") && err.contains("not a mappedpages 0.2 file"), "{err}");
    let (code, v, _) = run_json(&["upgrade", s(dir.path()), s(&target)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "not_v02");
    let (code, v, _) = run_json(&["upgrade", s(&dir.path().join("none.bin")), s(&target)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "io");
    assert!(!target.exists());
}

#[test]
fn upgrade_cancelled_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    let before = dir_entries(dir.path());
    let target = dir.path().join("new.db");
    let cancel = AtomicBool::new(true);
    let err = with_files(|| upgrade_v02::<4096>(&made.path, &target, &cancel)).unwrap_err();
    assert!(matches!(err, UpgradeError::Store(Error::Cancelled)), "{err}");
    assert_eq!(dir_entries(dir.path()), before);
    let err = with_files(|| upgrade_v02::<1024>(&made.path, &target, &mappedpages::NoProgress)).unwrap_err();
    assert!(matches!(err, UpgradeError::PageSize { source: 4096, target: 1024 }), "{err}");
    let err = with_files(|| upgrade_v02::<4096>(&dir.path().join("nope"), &target, &mappedpages::NoProgress));
    assert!(matches!(err, Err(UpgradeError::Source(V02Error::Io { .. }))));
}

/// Writes the seed corpus of the `v02_parse` fuzz target: real 0.2 files of
/// 1024-byte pages (with data and protected pages; one with a fallen-back
/// metadata copy). Run by hand: `cargo test -p mappedpages-cli --test
/// upgrade -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/v02_parse; run by hand"]
fn write_fuzz_seeds() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/v02_parse");
    std::fs::create_dir_all(&out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<1024>(dir.path());
    let b = std::fs::read(&made.path).unwrap();
    std::fs::write(out.join("seed-1024-data-and-protected"), &b).unwrap();
    let mut fallback = b.clone();
    let active = parse_v02(&b[..]).unwrap().meta_page as usize;
    fallback[active * 1024 + 30] ^= 1;
    std::fs::write(out.join("seed-1024-meta-fallback"), &fallback).unwrap();
    let empty = dir.path().join("empty.bin");
    drop(Pager::<1024>::create(&empty).unwrap());
    std::fs::write(out.join("seed-1024-empty"), std::fs::read(&empty).unwrap()).unwrap();
}

#[test]
fn upgrade_in_place_keeps_the_original_as_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_v02::<4096>(dir.path());
    let original = std::fs::read(&made.path).unwrap();
    // A backup name that exists is refused before anything is written.
    let taken = dir.path().join("taken");
    std::fs::write(&taken, b"mine").unwrap();
    let (code, v, _) = run_json(&["upgrade", "--in-place", "--backup", s(&taken), s(&made.path)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "exists");
    assert_eq!(std::fs::read(&made.path).unwrap(), original);
    assert_eq!(std::fs::read(&taken).unwrap(), b"mine");
    assert_eq!(dir_entries(dir.path()), vec!["old-4096.bin", "taken"]);

    let (code, v, _) = run_json(&["upgrade", "--in-place", s(&made.path)]);
    assert_eq!(code, 0, "{v}");
    let backup = dir.path().join("old-4096.bin.v0.2");
    assert_eq!(v["backup"], s(&backup));
    assert_eq!(std::fs::read(&backup).unwrap(), original, "the original, byte for byte");
    check_upgraded::<4096>(&made, &made.path, v["report"]["protected_base"].as_u64().unwrap());
    assert_eq!(dir_entries(dir.path()), vec!["old-4096.bin", "old-4096.bin.idmap", "old-4096.bin.v0.2", "taken"]);
    // Now a store of this version: a second upgrade says so.
    let (code, v, _) = run_json(&["upgrade", "--in-place", s(&made.path)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "not_v02");
}
