//! Read-only opening: no writes ever reach the file, several processes read at
//! once, and a writer and readers exclude each other with `Error::Locked`.
//!
//! The test binary is its own child: `readonly_child` does the child's part
//! when `MAPPEDPAGES_READONLY_CHILD` names a store file, and returns at once
//! otherwise.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use mappedpages::storage::{CrashStorage, TearPattern};
use mappedpages::{Durability, Error, Options, PageId, ReadOnlyPager, ReadOnlyStore, Store};

const PAGE: usize = 4096;
const PAGES: u64 = 32;
const CHILD_ENV: &str = "MAPPEDPAGES_READONLY_CHILD";
const MODE_ENV: &str = "MAPPEDPAGES_READONLY_MODE";
const CHILD_TEST: &str = "readonly_child";
const READY: &str = "MAPPEDPAGES_CHILD_READY";
const DONE: &str = "MAPPEDPAGES_CHILD_DONE";
const LOCKED: &str = "MAPPEDPAGES_CHILD_LOCKED";

/// Held by every test here. A child being spawned holds copies of all of this
/// process's descriptors and mappings until it execs, and with them the file
/// locks of every store open at that instant; tests that spawn children and
/// tests that check when a lock is released must not overlap.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn page_bytes(id: u64) -> Vec<u8> {
    let mut out = vec![(id * 7 + 1) as u8; PAGE];
    out[..8].copy_from_slice(&id.to_le_bytes());
    out
}

/// A store file with pages 0..PAGES, page `i` holding `page_bytes(i)`, written
/// over three commits.
fn make_store(path: &Path) {
    let store = Store::<PAGE>::create(path).unwrap();
    for chunk in 0..3 {
        let mut w = store.begin_write().unwrap();
        if chunk == 0 {
            w.alloc_bulk(PAGES as usize).unwrap();
        }
        for id in (chunk..PAGES).step_by(3) {
            w.write(PageId::from_raw(id), &page_bytes(id)).unwrap();
        }
        w.commit().unwrap();
    }
    assert_eq!(store.version().get(), 3);
}

fn check_content(store: &ReadOnlyStore<PAGE>) {
    assert_eq!(store.version().get(), 3);
    let r = store.begin_read().unwrap();
    let ids: Vec<PageId> = r.ids().map(|id| id.unwrap()).collect();
    assert_eq!(ids.len() as u64, PAGES);
    for id in ids {
        assert_eq!(r.page(id).unwrap(), &page_bytes(id.get())[..], "{id}");
    }
    assert!(store.verify().unwrap().is_clean());
}

/// The child's part; a no-op unless run as a child.
#[test]
fn readonly_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    match std::env::var(MODE_ENV).as_deref() {
        // Open, check, say so, hold the file until stdin closes, check again.
        Ok("read") => {
            let store = ReadOnlyStore::<PAGE>::open(&path).unwrap();
            check_content(&store);
            println!("{READY}");
            let mut rest = Vec::new();
            std::io::stdin().read_to_end(&mut rest).unwrap();
            check_content(&store);
            println!("{DONE}");
        }
        // A writer holds the file: a read-only open must fail at once.
        Ok("expect-locked") => match ReadOnlyStore::<PAGE>::open(&path) {
            Err(Error::Locked { .. }) => println!("{LOCKED}"),
            Err(e) => panic!("expected Locked, got {e}"),
            Ok(_) => panic!("expected Locked, the open succeeded"),
        },
        other => panic!("unknown child mode {other:?}"),
    }
}

fn spawn_child(path: &Path, mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .env(MODE_ENV, mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Reads the child's output until a line holding `token`; false at EOF.
fn wait_for(out: &mut BufReader<ChildStdout>, token: &str) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            return false;
        }
        if line.contains(token) {
            return true;
        }
    }
}

#[test]
fn readonly_several_processes_read_one_file_at_once() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    make_store(&path);
    let mut children: Vec<(Child, BufReader<ChildStdout>)> = (0..4)
        .map(|_| {
            let mut child = spawn_child(&path, "read");
            let out = BufReader::new(child.stdout.take().unwrap());
            (child, out)
        })
        .collect();
    // Every child has the file open and has read it: they hold it together.
    for (i, (_, out)) in children.iter_mut().enumerate() {
        assert!(wait_for(out, READY), "child {i} stopped before reading the store");
    }
    // This process can join them read-only, but no writer can get in.
    let mine = ReadOnlyStore::<PAGE>::open(&path).unwrap();
    check_content(&mine);
    assert!(matches!(Store::<PAGE>::open(&path), Err(Error::Locked { .. })));
    drop(mine);
    assert!(matches!(Store::<PAGE>::open(&path), Err(Error::Locked { .. })), "other processes still read");
    // Let them finish: each reads again and exits cleanly.
    for (i, (mut child, mut out)) in children.into_iter().enumerate() {
        drop(child.stdin.take());
        assert!(wait_for(&mut out, DONE), "child {i} failed its second read");
        assert!(child.wait().unwrap().success(), "child {i} failed");
    }
    // All readers gone: the writer gets in.
    let store = Store::<PAGE>::open(&path).unwrap();
    assert_eq!(store.version().get(), 3);
}

#[test]
fn readonly_open_fails_while_a_writer_process_holds_the_file() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("written.db");
    make_store(&path);
    let writer = Store::<PAGE>::open(&path).unwrap();
    let mut child = spawn_child(&path, "expect-locked");
    drop(child.stdin.take());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    assert!(wait_for(&mut out, LOCKED), "the child's read-only open was not refused");
    assert!(child.wait().unwrap().success());
    drop(writer);
    check_content(&ReadOnlyStore::open(&path).unwrap());
}

#[test]
fn readonly_and_writer_handles_in_one_process_exclude_each_other() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.db");
    make_store(&path);
    {
        let _writer = Store::<PAGE>::open(&path).unwrap();
        assert!(matches!(ReadOnlyStore::<PAGE>::open(&path), Err(Error::Locked { .. })));
    }
    let a = ReadOnlyStore::<PAGE>::open(&path).unwrap();
    let b: ReadOnlyPager<PAGE> = ReadOnlyPager::open(&path).unwrap();
    assert!(matches!(Store::<PAGE>::open(&path), Err(Error::Locked { .. })));
    drop(a);
    assert!(matches!(Store::<PAGE>::open(&path), Err(Error::Locked { .. })), "one reader is still open");
    drop(b);
    Store::<PAGE>::open(&path).unwrap();
}

#[test]
fn readonly_counts_match_the_writer() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.db");
    make_store(&path);
    let (stats, hash) = {
        let store = Store::<PAGE>::open(&path).unwrap();
        let mut w = store.begin_write().unwrap();
        w.free(PageId::from_raw(5)).unwrap();
        w.commit().unwrap();
        let hash = store.begin_read().unwrap().content_hash();
        (store.stats(), hash)
    };
    let ro = ReadOnlyStore::<PAGE>::open(&path).unwrap();
    assert_eq!(ro.stats(), stats);
    assert_eq!(ro.page_size(), PAGE);
    assert_eq!(ro.page_count(), PAGES - 1);
    assert_eq!(ro.free_page_count(), stats.free_pages);
    assert_eq!(ro.begin_read().unwrap().content_hash(), hash);
    assert!(matches!(ReadOnlyStore::<1024>::open(&path), Err(Error::PageSizeMismatch { .. })));
    assert!(matches!(ReadOnlyStore::<PAGE>::open(dir.path().join("missing.db")), Err(Error::Io { .. })));
}

#[test]
fn readonly_recovers_without_writing_anything() {
    let _serial = serial();
    // A commit whose sync never came, then a power cut: a read-only open takes
    // the newest intact commit, as a writer would, and writes, grows, syncs
    // nothing. (Not a failed sync: after one, the commit never persists.)
    for (pattern, expected) in [(TearPattern::DropAll, 1u8), (TearPattern::KeepAll, 2)] {
        let storage = CrashStorage::new().unwrap();
        let control = storage.control();
        let options = Options::default().durability(Durability::Eventual);
        let store = Store::<PAGE>::create_on(storage, options).unwrap();
        let mut w = store.begin_write().unwrap();
        let ids = w.alloc_bulk(10).unwrap();
        for &id in &ids {
            w.page_mut(id).unwrap().fill(1);
        }
        w.commit().unwrap();
        store.sync().unwrap();
        let mut w = store.begin_write().unwrap();
        for &id in &ids {
            w.page_mut(id).unwrap().fill(2);
        }
        w.commit().unwrap();
        let image = control.crash(pattern).unwrap();
        drop(store);
        let image_control = image.control();
        let ro = ReadOnlyStore::<PAGE>::open_on(image, Options::default()).unwrap();
        assert_eq!(ro.version().get(), u64::from(expected), "{pattern:?}");
        let r = ro.begin_read().unwrap();
        for &id in &ids {
            assert!(r.page(id).unwrap().iter().all(|&b| b == expected), "{pattern:?}");
        }
        assert!(ro.verify().unwrap().is_clean());
        let ops = image_control.counts();
        assert_eq!((ops.writes, ops.grows, ops.syncs), (0, 0, 0), "a read-only open touched the storage");
    }
}
