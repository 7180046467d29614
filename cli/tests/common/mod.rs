//! Shared by the CLI's tests: stores made with the library, the binary run
//! as a user runs it, its JSON parsed.

#![allow(dead_code, reason = "each test file uses some of these")]

use std::path::{Path, PathBuf};

use std::process::{Child, Command, Stdio};
use std::sync::RwLock;

use mappedpages::{HistoryWindow, PageId, Store};

/// A store's lock belongs to its open file description, and a child process
/// holds a copy of every descriptor from fork to exec: a store this process
/// has just dropped can still look locked to a tool started meanwhile by
/// another test's thread. So stores opened here are held under the read
/// side (`with_files`) and processes start under the write side (`spawn`).
static FORK: RwLock<()> = RwLock::new(());

/// Runs `f`, which may open stores, while no test starts a process.
pub fn with_files<T>(f: impl FnOnce() -> T) -> T {
    let _guard = FORK.read().unwrap_or_else(|e| e.into_inner());
    f()
}

/// Starts `command` while no store is open in this process.
pub fn spawn(command: &mut Command) -> Child {
    let _guard = FORK.write().unwrap_or_else(|e| e.into_inner());
    command.spawn().expect("the process starts")
}

pub fn bin() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("mappedpages"))
}

/// Runs the binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let child = spawn(bin().args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()));
    let out = child.wait_with_output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs with `--json` and parses standard output.
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run(&all);
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:?}; stderr {stderr}"));
    (code, v, stderr)
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// The bytes page `id` holds in the stores `sample` makes, at round `round`.
pub fn content(id: u64, round: u8) -> Vec<u8> {
    let mut page = vec![0u8; 4096];
    for (i, b) in page.iter_mut().enumerate() {
        *b = (id as u8).wrapping_mul(31).wrapping_add(i as u8).wrapping_add(round);
    }
    page
}

/// A store with 20 pages: a snapshot "first" at the first version, a history
/// window of 2 versions, then 3 more commits rewriting pages 0..5 and
/// freeing page 19. Returns its path.
pub fn sample(dir: &Path) -> PathBuf {
    with_files(|| make_sample(dir))
}

fn make_sample(dir: &Path) -> PathBuf {
    let path = dir.join("store.db");
    let store = Store::<4096>::create(&path).unwrap();
    let mut w = store.begin_write().unwrap();
    for id in w.alloc_bulk(20).unwrap() {
        w.write(id, &content(id.get(), 0)).unwrap();
    }
    w.commit().unwrap();
    store.create_snapshot("first").unwrap();
    store.set_history(HistoryWindow::versions(2)).unwrap();
    for round in 1..=3u8 {
        let mut w = store.begin_write().unwrap();
        for id in 0..5 {
            w.write(PageId::from_raw(id), &content(id, round)).unwrap();
        }
        if round == 3 {
            w.free(PageId::from_raw(19)).unwrap();
        }
        w.commit().unwrap();
    }
    path
}
