//! Address space: under an address-space limit (`ulimit -v`, some
//! containers) the default 8 GiB reservation is refused; opening falls back to
//! a smaller one and maps anew as the file grows, readers' slices staying
//! valid, and when nothing fits the error says what to set. Linux only (the
//! child reads `/proc/self/status`).
#![cfg(target_os = "linux")]

use std::process::Command;

use mappedpages::storage::{DEFAULT_RESERVE, FileMode, FileStorage, Storage};
use mappedpages::{Error, Options, Store};

const CHILD_ENV: &str = "MAPPEDPAGES_ADDRESS_SPACE_CHILD";
const CHILD_TEST: &str = "address_space_child";
const PAGE: usize = 4096;
const MIB: u64 = 1 << 20;

fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

fn limit_address_space(bytes: u64) {
    let limit = libc::rlimit { rlim_cur: bytes, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
}

/// The child: under a limit of 256 MiB more than it uses, open with the
/// default reservation and commit while a reader holds a slice; grow a file
/// past the reservation the fallback settled on; then ask for a mapping that
/// cannot fit.
#[test]
fn address_space_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // an ordinary test run: nothing to do
    };
    let dir = std::path::Path::new(&dir);
    limit_address_space(vm_size() + 256 * MIB);
    assert!(Options::default().reserve >= 8 << 30, "the default asks for more than the limit");
    let store = Store::<PAGE>::create(dir.join("a.db")).expect("open falls back to a smaller reservation");
    let mut w = store.begin_write().unwrap();
    let first = w.alloc().unwrap();
    w.page_mut(first).unwrap().fill(7);
    w.commit().unwrap();
    let reader = store.begin_read().unwrap();
    let slice = reader.page(first).unwrap();
    for round in 0..8u8 {
        let mut w = store.begin_write().unwrap();
        for id in w.alloc_bulk(1024).unwrap() {
            w.page_mut(id).unwrap().fill(round);
        }
        w.commit().unwrap();
    }
    assert!(slice.iter().all(|&b| b == 7));
    assert!(store.verify().unwrap().is_clean());
    drop(reader);

    // The storage under it: the reservation it settled on, and growth past it
    // (a second mapping) while a view of the first is held.
    let s = FileStorage::open(&dir.join("c.db"), FileMode::Create, DEFAULT_RESERVE).unwrap();
    let reserved = s.reservation();
    assert!((MIB..=64 * MIB).contains(&reserved), "a quarter of what the system gave: {reserved}");
    s.grow(MIB).unwrap();
    s.write(0, b"before").unwrap();
    let old = s.view();
    s.grow(reserved + 8 * MIB).expect("growth past the reservation maps anew");
    s.write(reserved + MIB, b"after").unwrap();
    let (mut a, mut b) = ([0u8; 6], [0u8; 5]);
    // SAFETY: nothing writes `s` while we copy; both views borrow it.
    unsafe {
        assert!(old.copy_to(0, &mut a), "the old view still reads");
        assert!(s.view().copy_to(reserved + MIB, &mut b));
    }
    assert_eq!((&a, &b), (b"before", b"after"));
    drop(s);

    // Nothing left to map even one MiB: the error says what failed and what to set.
    limit_address_space(vm_size() + MIB / 2);
    let err = Store::<PAGE>::create(dir.join("b.db")).err().expect("no address space left");
    let Error::Io { ref source, .. } = err else { panic!("{err:?}") };
    assert_eq!(source.kind(), std::io::ErrorKind::OutOfMemory, "{err:?}");
    let text = format!("{err}: {source}");
    assert!(text.contains("out of address space") && text.contains("Options::reserve"), "{text}");
    println!("CHILD OK");
}

#[test]
fn address_space_limit_falls_back_to_a_smaller_reservation() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD OK"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
