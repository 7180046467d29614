//! The `mappedpages` binary run as a user runs it, on real stores: every
//! command, its `--json` parsed, and the errors a user meets (a bad path, a
//! directory, a file that is not a store, a 0.2 file, a damaged store, a
//! store another process holds).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use common::{content, run, run_json, s, sample, spawn, with_files};
use mappedpages::{At, PageId, SpaceKind, Store};

#[test]
fn info_reports_header_roots_counts_snapshots_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let (code, v, _) = run_json(&["info", s(&path)]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], "mappedpages/1");
    assert_eq!(v["header"]["page_size"], 4096);
    assert_eq!(v["stats"]["live_pages"], 19);
    assert_eq!(v["stats"]["version"], 6);
    assert_eq!(v["stats"]["next_id"], 20);
    let roots = v["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 2);
    // Both slots hold a root: the newest (current) and the one before it.
    let mut versions: Vec<u64> = roots.iter().map(|r| r["version"].as_u64().unwrap()).collect();
    versions.sort();
    assert_eq!(versions, vec![5, 6]);
    let current: Vec<&serde_json::Value> = roots.iter().filter(|r| r["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["version"], 6);
    assert_eq!(v["snapshots"][0]["name"], "first");
    assert_eq!(v["snapshots"][0]["version"], 1);
    // v1's pages 0..5 and its table leaf (replaced at v4) are needed by no
    // other kept version; page 19 (freed at v6) is needed by v5 of the
    // history window too.
    assert_eq!(v["snapshots"][0]["exclusive_pages"], 6);
    assert_eq!(v["history_window"]["keep_versions"], 2);
    let history: Vec<u64> = v["history"].as_array().unwrap().iter().map(|h| h["version"].as_u64().unwrap()).collect();
    assert_eq!(history, vec![5, 6], "the window's two newest versions");
    assert!(v["pins"]["history_pages"].as_u64().unwrap() > 0);

    let (code, text, _) = run(&["info", s(&path)]);
    assert_eq!(code, 0);
    assert!(text.contains("4096-byte pages"), "{text}");
    assert!(text.contains("19 live"), "{text}");
    assert!(text.contains("v6, committed") && text.contains("(current)"), "{text}");
    assert!(text.contains("first") && text.contains("keeps 6 pages of its own"), "{text}");
}

#[test]
fn info_space_maps_the_whole_file_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let svg = dir.path().join("map.svg");
    let (code, v, _) = run_json(&["info", "--space", "--svg", s(&svg), s(&path)]);
    assert_eq!(code, 0);
    let map: mappedpages::SpaceLayout = serde_json::from_value(v["space"].clone()).unwrap();
    // Runs in order, no gaps, covering the file exactly.
    let mut at = 0;
    for e in &map.extents {
        assert_eq!(e.start, at);
        at += e.len;
    }
    assert_eq!(at, map.file_len);
    assert_eq!(map.file_len, v["stats"]["physical_pages"].as_u64().unwrap() * 4096);
    assert_eq!(map.bytes(SpaceKind::Live), 19 * 4096);
    // v1's pages 0..5 and table leaf are the snapshot's alone; v5's copies
    // of pages 0..5 (replaced at v6) and page 19 (freed at v6) are held for
    // the history window (v5), as are the table and map nodes v6 replaced.
    assert_eq!(map.bytes(SpaceKind::Snapshot), 6 * 4096);
    assert!(map.bytes(SpaceKind::History) >= 6 * 4096, "{map:?}");
    assert!(map.bytes(SpaceKind::Metadata) >= 4096);
    let drawing = std::fs::read_to_string(&svg).unwrap();
    assert!(drawing.starts_with("<svg"));
    // The live rectangles add up to the live pages (8 px a page).
    let live_px: u64 = drawing
        .lines()
        .filter(|l| l.contains("<title>live:"))
        .map(|l| l.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(live_px, 19 * 8);
    assert!(drawing.contains("snapshot-held"));

    let (code, text, _) = run(&["info", "--space", s(&path)]);
    assert_eq!(code, 0);
    assert!(text.contains("space map of v6"), "{text}");
    let map_line = text.lines().find(|l| l.starts_with('m')).expect("a map row starting with the meta area");
    assert!(map_line.contains('#') && map_line.contains('s'), "{map_line}");
    assert!(text.contains("#  live") || text.contains("# live"), "{text}");
}

#[test]
fn verify_clean_exits_0_and_damage_exits_1_naming_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let (code, text, _) = run(&["verify", s(&path)]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("clean"), "{text}");
    let (code, v, _) = run_json(&["verify", s(&path)]);
    assert_eq!(code, 0);
    assert_eq!(v["clean"], true);
    assert!(v["report"]["pages_checked"].as_u64().unwrap() >= 19);

    // Flip one byte of page 7's stored bytes, found through `dump --entry`.
    let (_, e, _) = run_json(&["dump", s(&path), "7", "--entry"]);
    let at = e["entry"]["location_byte"].as_u64().unwrap() + 100;
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[at as usize] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let (code, text, _) = run(&["verify", s(&path)]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("DAMAGED") && text.contains("page 7 (v6): page at byte"), "{text}");
    let (code, v, _) = run_json(&["verify", s(&path)]);
    assert_eq!(code, 1);
    assert_eq!(v["clean"], false);
    // Page 7 (born at v1) is shared by every kept version: each reports it.
    let damage = v["report"]["damage"].as_array().unwrap();
    assert!(!damage.is_empty());
    for d in damage {
        assert_eq!((d["ids"]["start"].as_u64(), d["ids"]["end"].as_u64()), (Some(7), Some(8)), "{d}");
        assert_eq!(d["structure"], "page");
    }
    assert!(damage.iter().any(|d| d["version"] == 6), "{damage:?}");
}

#[test]
fn snapshot_create_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let (code, v, _) = run_json(&["snapshot", "create", s(&path), "second"]);
    assert_eq!(code, 0);
    assert_eq!(v["version"], 6);
    let (code, v, _) = run_json(&["snapshot", "list", s(&path)]);
    assert_eq!(code, 0);
    let names: Vec<&str> = v["snapshots"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["first", "second"]);
    let (code, _, err) = run(&["snapshot", "create", s(&path), "second"]);
    assert_eq!(code, 2);
    assert!(err.contains("store.db") && err.contains("exists already"), "{err}");
    let (code, text, _) = run(&["snapshot", "delete", s(&path), "first"]);
    assert_eq!(code, 0, "{text}");
    let (_, text, _) = run(&["snapshot", "list", s(&path)]);
    assert!(text.contains("second") && !text.contains("first"), "{text}");
    let (code, v, _) = run_json(&["snapshot", "delete", s(&path), "nope"]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "no_such_snapshot");
    // The library sees what the tool did.
    with_files(|| assert_eq!(Store::<4096>::open(&path).unwrap().snapshots().unwrap().len(), 1));
}

#[test]
fn history_shows_and_sets_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let (code, v, _) = run_json(&["history", s(&path)]);
    assert_eq!(code, 0);
    assert_eq!(v["window"]["keep_versions"], 2);
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);
    assert!(v["commit"].is_null(), "showing does not commit");
    let (code, v, _) = run_json(&["history", s(&path), "--keep-versions", "2", "--keep-seconds", "7"]);
    assert_eq!(code, 0);
    assert_eq!(v["window"]["keep_versions"], 2);
    assert_eq!(v["window"]["keep_seconds"], 7);
    assert_eq!(v["commit"], 7);
    let window = with_files(|| Store::<4096>::open(&path).unwrap().history_window());
    assert_eq!((window.keep_versions, window.keep_seconds), (2, 7));
}

#[test]
fn export_copies_a_snapshot_with_its_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let copy = dir.path().join("copy.db");
    let (code, v, _) = run_json(&["export", s(&path), s(&copy), "--snapshot", "first"]);
    assert_eq!(code, 0);
    assert_eq!(v["report"]["version"], 1);
    let want =
        with_files(|| Store::<4096>::open(&path).unwrap().begin_read_at(At::Snapshot("first")).unwrap().content_hash());
    assert_eq!(v["report"]["content_hash"], want.to_string());
    with_files(|| {
        let exported = Store::<4096>::open(&copy).unwrap();
        let r = exported.begin_read().unwrap();
        assert_eq!(r.content_hash(), want);
        assert_eq!(r.page(PageId::from_raw(7)).unwrap(), content(7, 0).as_slice());
        assert_eq!(r.page(PageId::from_raw(3)).unwrap(), content(3, 0).as_slice(), "the snapshot's, not the newest");
    });
    // A target that exists is refused and left alone.
    let (code, _, err) = run(&["export", s(&path), s(&copy)]);
    assert_eq!(code, 2);
    assert!(err.contains("copy.db") && err.contains("exists"), "{err}");
    assert!(with_files(|| Store::<4096>::open(&copy).is_ok()));
    // --version reads a version in the history window.
    let v4 = dir.path().join("v4.db");
    let (code, v, _) = run_json(&["export", s(&path), s(&v4), "--version", "5"]);
    assert_eq!(code, 0, "{v}");
    with_files(|| {
        let r = Store::<4096>::open(&v4).unwrap();
        assert_eq!(r.begin_read().unwrap().page(PageId::from_raw(0)).unwrap(), content(0, 2).as_slice());
    });
    let old = dir.path().join("old.db");
    // v1 is kept by the snapshot, v5 and v6 by the window: v3 by nothing.
    let (code, v, _) = run_json(&["export", s(&path), s(&old), "--version", "3"]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "version_not_retained");
    assert!(!old.exists(), "a failed export leaves no file");
}

#[test]
fn dump_prints_a_page_as_hex_and_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let (code, v, _) = run_json(&["dump", s(&path), "7"]);
    assert_eq!(code, 0);
    let hex: String = content(7, 0).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v["hex"], hex);
    let (code, text, _) = run(&["dump", s(&path), "7"]);
    assert_eq!(code, 0);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(&format!("00000000  {}", &hex[..2])), "{first}");
    assert_eq!(text.lines().count(), 256, "4096 bytes with no repeated line");
    let (code, v, _) = run_json(&["dump", s(&path), "0", "--entry"]);
    assert_eq!(code, 0);
    assert_eq!(v["entry"]["allocated"], true);
    assert_eq!(v["entry"]["birth"], 6, "page 0 was last written by the last rewrite");
    let (_, v, _) = run_json(&["dump", s(&path), "7", "--entry"]);
    assert_eq!((v["version"].as_u64(), v["entry"]["birth"].as_u64()), (Some(6), Some(1)), "page 7 is v1's");
    assert_eq!(v["entry"]["stored_len"], 4096);
    let (_, v, _) = run_json(&["dump", s(&path), "0", "--entry", "--snapshot", "first"]);
    assert_eq!(v["entry"]["birth"], 1);
    assert_eq!(v["version"], 1);
    let (code, v, _) = run_json(&["dump", s(&path), "19"]);
    assert_eq!(code, 2, "a freed page");
    assert_eq!(v["error"]["kind"], "no_such_page");
    let (code, _, err) = run(&["dump", s(&path), "999"]);
    assert_eq!(code, 2);
    assert!(err.contains("999") && err.contains("out of range"), "{err}");
}

#[test]
fn every_page_size_opens() {
    fn make<const P: usize>(dir: &std::path::Path) -> std::path::PathBuf {
        with_files(|| {
            let path = dir.join(format!("s{P}.db"));
            let store = Store::<P>::create(&path).unwrap();
            let mut w = store.begin_write().unwrap();
            for id in w.alloc_bulk(3).unwrap() {
                w.page_mut(id).unwrap().fill(0xA5);
            }
            w.commit().unwrap();
            path
        })
    }
    let dir = tempfile::tempdir().unwrap();
    let paths = [
        (1024, make::<1024>(dir.path())),
        (2048, make::<2048>(dir.path())),
        (4096, make::<4096>(dir.path())),
        (8192, make::<8192>(dir.path())),
        (16384, make::<16384>(dir.path())),
        (32768, make::<32768>(dir.path())),
        (65536, make::<65536>(dir.path())),
    ];
    for (ps, path) in &paths {
        let (code, v, _) = run_json(&["info", "--space", s(path)]);
        assert_eq!(code, 0, "{ps}");
        assert_eq!(v["header"]["page_size"], *ps);
        assert_eq!(v["space"]["extents"].as_array().unwrap().iter().filter(|e| e["kind"] == "live").count(), 1);
        let (code, _, _) = run(&["verify", s(path)]);
        assert_eq!(code, 0, "{ps}");
        let (_, v, _) = run_json(&["dump", s(path), "2"]);
        assert_eq!(v["hex"].as_str().unwrap().len(), 2 * ps, "{ps}");
    }
}

#[test]
fn hostile_file_bad_paths_are_named_with_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let (code, v, err) = run_json(&["info", s(&missing)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "io");
    assert!(err.contains("missing.db") && err.contains("No such file"), "{err}");

    let (code, v, err) = run_json(&["verify", s(dir.path())]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "not_a_store");
    assert!(err.contains("is a directory"), "{err}");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "these are not pages, just a long enough text file ".repeat(40)).unwrap();
    let (code, v, err) = run_json(&["info", s(&text)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "not_a_store");
    assert!(err.contains("notes.txt") && err.contains("no mappedpages magic"), "{err}");

    let old = dir.path().join("old.bin");
    drop(mappedpages02::Pager::<4096>::create(&old).unwrap());
    let (code, err_text, err) = run(&["info", s(&old)]);
    assert_eq!(code, 2, "{err_text}");
    assert!(err.contains("0.2 file") && err.contains("mappedpages upgrade"), "{err}");
}

#[test]
fn hostile_file_damaged_store_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0xFF; // inside the header, under its checksum
    std::fs::write(&path, &bytes).unwrap();
    for cmd in [&["info"][..], &["verify"], &["snapshot", "list"], &["history"]] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push(s(&path));
        let (code, v, err) = run_json(&args);
        assert_eq!(code, 2, "{cmd:?}");
        assert_eq!(v["error"]["kind"], "damaged", "{cmd:?}: {v}");
        assert!(err.contains("store.db") && err.contains("header"), "{err}");
    }
    // Both roots damaged: no valid root.
    let path = sample(&dir.path().join("x").tap_mkdir());
    let mut bytes = std::fs::read(&path).unwrap();
    let layout = mappedpages::format::Layout::CURRENT;
    bytes[layout.root_slot_offset(0) as usize + 10] ^= 1;
    bytes[layout.root_slot_offset(1) as usize + 10] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let (code, v, err) = run_json(&["verify", s(&path)]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "damaged", "{v}");
    assert!(err.contains("no valid root"), "{err}");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// When `HOLD_STORE` is set, this "test" is the child process of
/// `concurrent_store_held_by_another_process_is_reported_as_locked`: it
/// opens the store (for writing when `HOLD_MODE=write`), says so, and holds
/// it until its standard input closes.
#[test]
fn hold_store_child() {
    let Ok(path) = std::env::var("HOLD_STORE") else { return };
    let write = std::env::var("HOLD_MODE").as_deref() == Ok("write");
    let (_w, _r);
    if write {
        _w = Some(Store::<4096>::open(&path).unwrap());
    } else {
        _r = Some(mappedpages::ReadOnlyStore::<4096>::open(&path).unwrap());
    }
    println!("holding");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

fn hold(path: &std::path::Path, mode: &str) -> Child {
    let mut child = spawn(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "hold_store_child", "--nocapture", "--test-threads=1"])
            .env("HOLD_STORE", path)
            .env("HOLD_MODE", mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The harness's closing lines go to a pipe nobody reads any more.
            .stderr(Stdio::null()),
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().contains("holding")), "the child holds the store");
    child
}

#[test]
fn concurrent_store_held_by_another_process_is_reported_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());

    // A writer in another process: even reading commands are refused, at once.
    let mut child = hold(&path, "write");
    for args in [&["info", s(&path)][..], &["verify", s(&path)], &["snapshot", "create", s(&path), "x"]] {
        let (code, v, err) = run_json(args);
        assert_eq!(code, 2, "{args:?}");
        assert_eq!(v["error"]["kind"], "locked", "{args:?}");
        assert!(err.contains("store.db") && err.contains("locked by another process"), "{err}");
    }
    drop(child.stdin.take());
    child.wait().unwrap();

    // A reader in another process: reading works, changing is refused.
    let mut child = hold(&path, "read");
    let (code, _, _) = run(&["info", s(&path)]);
    assert_eq!(code, 0);
    let (code, v, _) = run_json(&["snapshot", "create", s(&path), "x"]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "locked");
    drop(child.stdin.take());
    child.wait().unwrap();

    let (code, _, _) = run(&["snapshot", "create", s(&path), "x"]);
    assert_eq!(code, 0, "free again once the other process is gone");
}

#[test]
fn progress_bar_stays_off_when_output_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let (code, _, err) = run(&["verify", s(&path)]);
    assert_eq!(code, 0);
    assert_eq!(err, "", "nothing on stderr when it is not a terminal");
}

#[test]
fn help_shows_examples() {
    let (code, text, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(text.contains("Examples:") && text.contains("mappedpages upgrade"), "{text}");
    for cmd in ["info", "verify", "snapshot", "history", "export", "dump", "upgrade"] {
        let (code, text, _) = run(&[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd}");
        assert!(text.contains("Example"), "{cmd}: {text}");
    }
}

/// `backup` writes a full stream and an incremental since it; `restore`
/// rebuilds the store from the chain with the source's content hash and
/// pages. A damaged stream is refused (`bad_stream`), and leaves no file.
#[test]
fn backup_and_restore_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let full = dir.path().join("full.mpb");
    let (code, v, err) = run_json(&["backup", s(&path), s(&full)]);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["report"]["version"], 6);
    assert!(v["report"]["base"].is_null());
    // A commit after the full backup, then an incremental since it.
    with_files(|| {
        let store = Store::<4096>::open(&path).unwrap();
        let mut w = store.begin_write().unwrap();
        w.write(PageId::from_raw(3), &content(3, 9)).unwrap();
        w.commit().unwrap();
    });
    let incr = dir.path().join("incr.mpb");
    let (code, v, err) = run_json(&["backup", s(&path), s(&incr), "--since", s(&full)]);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["report"]["base"][0], 6);
    assert_eq!(v["report"]["pages"], 1, "only the page written since");
    let (source_hash, source_version) = with_files(|| {
        let store = Store::<4096>::open(&path).unwrap();
        let hash = store.begin_read().unwrap().content_hash().to_string();
        (hash, store.version().get())
    });
    let copy = dir.path().join("copy.db");
    let (code, v, err) = run_json(&["restore", s(&copy), s(&full), s(&incr)]);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["version"], source_version);
    assert_eq!(v["content_hash"], source_hash.as_str());
    with_files(|| {
        let store = Store::<4096>::open(&copy).unwrap();
        assert_eq!(store.begin_read().unwrap().page(PageId::from_raw(3)).unwrap(), content(3, 9).as_slice());
        assert!(store.verify().unwrap().is_pristine());
    });
    // The incremental alone is not a chain: refused, nothing written.
    let lone = dir.path().join("lone.db");
    let (code, v, _) = run_json(&["restore", s(&lone), s(&incr)]);
    assert_eq!((code, v["error"]["kind"].as_str()), (2, Some("bad_stream")), "{v}");
    assert!(!lone.exists());
    // A flipped byte in the stream: refused, nothing written.
    let mut bytes = std::fs::read(&full).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    let bad = dir.path().join("bad.mpb");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, v, _) = run_json(&["restore", s(&lone), s(&bad)]);
    assert_eq!((code, v["error"]["kind"].as_str()), (2, Some("bad_stream")), "{v}");
    assert!(!lone.exists());
    // A backup over an existing file is refused and leaves it alone.
    let (code, _, err) = run(&["backup", s(&path), s(&full)]);
    assert_eq!(code, 2);
    assert!(err.contains("exists"), "{err}");
    // An incremental since the version the store is at is refused.
    let same = dir.path().join("same.mpb");
    let (code, v, _) = run_json(&["backup", s(&path), s(&same), "--since", s(&incr)]);
    assert_eq!((code, v["error"]["kind"].as_str()), (2, Some("invalid_argument")), "{v}");
    assert!(!same.exists(), "a failed backup leaves no file");
    // Text output names what was written.
    let text = dir.path().join("text.mpb");
    let (code, stdout, _) = run(&["backup", s(&path), s(&text)]);
    assert_eq!(code, 0);
    assert!(stdout.contains("full backup of v7") && stdout.contains("19 pages"), "{stdout}");
}
