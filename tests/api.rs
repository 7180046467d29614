//! The API as users of redb, heed and sled expect it: versions readable by
//! number whatever keeps them, owned readers, open-or-create, errors that say
//! what happened and to which file, the list of open readers, 0.2's
//! `DoubleFree`.

use std::error::Error as _;
use std::sync::Arc;

use mappedpages::{
    At, Error, HistoryWindow, Invalid, LockHolder, Options, OwnedReadTxn, PageId, ReadOnlyStore, Store, Version,
};

const P: usize = 4096;

fn store_at(dir: &tempfile::TempDir) -> Store<P> {
    Store::<P>::create(dir.path().join("s.db")).unwrap()
}

fn commit_byte(store: &Store<P>, id: PageId, byte: u8) -> Version {
    let mut w = store.begin_write().unwrap();
    w.page_mut(id).unwrap().fill(byte);
    w.commit().unwrap()
}

fn first_page(store: &Store<P>) -> PageId {
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    w.page_mut(id).unwrap().fill(1);
    w.commit().unwrap();
    id
}

#[test]
fn version_kept_by_a_snapshot_is_readable_by_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir);
    let id = first_page(&store);
    let v1 = store.version();
    let kept = store.create_snapshot("s").unwrap();
    assert_eq!(kept, v1);
    assert!(store.version() > v1, "the snapshot is a commit of its own");
    commit_byte(&store, id, 2);
    let r = store.begin_read_at(At::Version(v1)).unwrap();
    assert_eq!((r.version(), r.page(id).unwrap()[0]), (v1, 1));
}

#[test]
fn version_kept_by_an_open_reader_is_readable_by_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir);
    let id = first_page(&store);
    let old = store.begin_read().unwrap();
    let v = old.version();
    commit_byte(&store, id, 2);
    commit_byte(&store, id, 3);
    let again = store.begin_read_at(At::Version(v)).unwrap();
    assert_eq!(again.page(id).unwrap()[0], 1);
    drop(old);
    // The second reader keeps it on its own.
    commit_byte(&store, id, 4);
    assert_eq!(again.page(id).unwrap()[0], 1);
    assert!(store.verify().unwrap().is_clean());
    drop(again);
    let err = store.begin_read_at(At::Version(v)).err().expect("nothing keeps it now");
    assert!(matches!(err, Error::VersionNotRetained { version, .. } if version == v), "{err}");
}

#[test]
fn version_not_kept_says_what_keeps_what() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir);
    let id = first_page(&store); // v1
    let v2 = commit_byte(&store, id, 2);
    store.create_snapshot("a").unwrap(); // keeps v2, commits v3
    let v4 = commit_byte(&store, id, 4);
    let reader = store.begin_read().unwrap(); // keeps v4
    store.create_snapshot("b").unwrap(); // keeps v4 too, commits v5
    store.set_history(HistoryWindow::versions(3)).unwrap(); // v6
    let v7 = commit_byte(&store, id, 7);
    let v8 = commit_byte(&store, id, 8);
    let err = store.begin_read_at(At::Version(Version(1))).err().expect("v1 is kept by nothing");
    let Error::VersionNotRetained { version, kept } = &err else { panic!("{err:?}") };
    assert_eq!(*version, Version(1));
    assert_eq!(kept.history, Some((Version(6), v7)));
    assert_eq!(kept.snapshots, vec![v2, v4]);
    assert_eq!(kept.readers, vec![v4]);
    assert_eq!(kept.newest, v8);
    assert_eq!(
        err.to_string(),
        "v1 is not kept: history window keeps v6..v7, snapshots keep v2, v4, open readers keep v4; the newest is v8"
    );
    drop(reader);
}

#[test]
fn owned_reader_moves_into_a_thread_and_keeps_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store_at(&dir));
    let id = first_page(&store);
    fn helper(store: &Arc<Store<P>>) -> OwnedReadTxn<P> {
        store.begin_read_owned().unwrap()
    }
    let r = helper(&store);
    let v = r.version();
    let (to_thread, from_main) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        from_main.recv().unwrap(); // read only after the writer replaced the page
        let bytes = r.page(id).unwrap();
        (r.version(), bytes[0], bytes.iter().all(|&b| b == 1), r.live_pages())
    });
    for i in 0..300 {
        // Next fit wraps around the file within these commits, so it would
        // reuse the old page's space if the thread's reader did not hold it.
        commit_byte(&store, id, 2 + (i % 200) as u8);
    }
    assert_eq!(store.readers().iter().filter(|r| r.owned).count(), 1);
    to_thread.send(()).unwrap();
    assert_eq!(t.join().unwrap(), (v, 1, true, 1));
    assert!(store.readers().is_empty(), "the owned reader released its pin when it dropped");
    let at = store.begin_read_owned_at(At::Version(store.version())).unwrap();
    assert_eq!(at.page(id).unwrap()[0], 2 + (299 % 200) as u8);
    assert_eq!(at.ids().count(), 1);
}

#[test]
fn readers_are_listed_with_their_version_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir);
    let id = first_page(&store);
    let first = store.begin_read().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    commit_byte(&store, id, 2);
    let second = store.begin_read().unwrap();
    let list = store.readers();
    assert_eq!(list.iter().map(|r| r.version).collect::<Vec<_>>(), vec![first.version(), second.version()]);
    assert!(list[0].age >= std::time::Duration::from_millis(20) && list[0].age > list[1].age);
    drop(first);
    assert_eq!(store.readers().len(), 1);
}

#[test]
fn open_or_create_creates_a_missing_file_then_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::<P>::open_or_create(&path).unwrap();
    let id = first_page(&store);
    drop(store);
    let store = Store::<P>::open_or_create_with(&path, Options::default()).unwrap();
    assert_eq!(store.begin_read().unwrap().page(id).unwrap()[0], 1);
}

#[test]
fn create_and_open_or_create_take_an_existing_empty_file() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let store = Store::<P>::create(file.path()).unwrap();
    let id = first_page(&store);
    drop(store);
    let err = Store::<P>::create(file.path()).err().unwrap();
    assert!(matches!(&err, Error::AlreadyExists(p) if p == file.path()), "{err}");
    assert!(err.to_string().contains(&*file.path().to_string_lossy()), "{err}");
    let empty = tempfile::NamedTempFile::new().unwrap();
    Store::<P>::open_or_create(empty.path()).unwrap();
    assert_eq!(Store::<P>::open(file.path()).unwrap().begin_read().unwrap().page(id).unwrap()[0], 1);
}

#[test]
fn open_errors_name_the_path_and_do_not_repeat_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    for err in [Store::<P>::open(&missing).err().unwrap(), ReadOnlyStore::<P>::open(&missing).err().unwrap()] {
        let Error::Io { path: Some(path), source, .. } = &err else { panic!("{err:?}") };
        assert_eq!(path, &missing);
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        let shown = err.to_string();
        assert!(shown.contains(&*missing.to_string_lossy()), "{shown}");
        let cause = err.source().expect("the OS error is the source").to_string();
        assert!(!shown.contains(&cause), "{shown:?} repeats its source {cause:?}");
    }
}

#[test]
fn opening_a_directory_says_it_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let errs = [
        Store::<P>::open(dir.path()).err().unwrap(),
        ReadOnlyStore::<P>::open(dir.path()).err().unwrap(),
        Store::<P>::create(dir.path()).err().unwrap(),
        Store::<P>::open_or_create(dir.path()).err().unwrap(),
    ];
    for err in errs {
        assert!(matches!(&err, Error::IsDirectory(p) if p == dir.path()), "{err:?}");
        assert!(err.to_string().ends_with("is a directory, not a store file"), "{err}");
    }
}

#[test]
fn locked_says_who_holds_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::<P>::create(&path).unwrap();
    let here = cfg!(target_os = "linux").then(std::process::id);
    for err in [Store::<P>::open(&path).err().unwrap(), ReadOnlyStore::<P>::open(&path).err().unwrap()] {
        let Error::Locked { path: p, holder } = &err else { panic!("{err:?}") };
        assert_eq!((p, *holder), (&path, LockHolder::Writer { pid: here }));
        assert!(err.to_string().starts_with(&format!("{} is locked by a writer", path.display())), "{err}");
    }
    drop(store);
    let reader = ReadOnlyStore::<P>::open(&path).unwrap();
    let err = Store::<P>::open(&path).err().unwrap();
    assert!(matches!(err, Error::Locked { holder: LockHolder::ReadOnly { pid }, .. } if pid == here), "{err:?}");
    if here.is_some() {
        assert!(err.to_string().ends_with("locked by a read-only handle in this process"), "{err}");
    }
    drop(reader);
}

#[test]
fn write_with_the_wrong_length_names_both_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir);
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    let err = w.write(id, &[0; 100]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(Invalid::WrongLength { expected: P, actual: 100 })), "{err:?}");
    assert_eq!(err.to_string(), "invalid argument: data is 100 bytes long; the call takes exactly 4096");
}

#[test]
fn freeing_a_page_freed_by_an_earlier_commit_is_a_double_free() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir);
    let id = first_page(&store);
    let mut w = store.begin_write().unwrap();
    w.free(id).unwrap();
    w.commit().unwrap();
    let mut w = store.begin_write().unwrap();
    assert!(matches!(w.free(id), Err(Error::DoubleFree(p)) if p == id));
    assert!(matches!(w.free_bulk(&[id]), Err(Error::DoubleFree(p)) if p == id));
    // Writing or reading it is still "not allocated", and a never-used id "out of range".
    assert!(matches!(w.write(id, &[0; P]), Err(Error::NotAllocated(p)) if p == id));
    assert!(matches!(w.page(id), Err(Error::NotAllocated(p)) if p == id));
    assert!(matches!(w.free(PageId::from_raw(5)), Err(Error::OutOfRange(_))));
}

#[test]
fn hostile_file_errors_from_opening_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(&path, vec![0xA5u8; 3 * P]).unwrap();
    for err in [Store::<P>::open(&path).err().unwrap(), ReadOnlyStore::<P>::open(&path).err().unwrap()] {
        assert!(
            matches!(err, Error::UnsupportedFormat(_) | Error::Corrupt { .. } | Error::NoValidRoot { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
    }
}

#[test]
fn page_size_mismatch_from_a_path_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(Store::<P>::create(&path).unwrap());
    for err in [Store::<1024>::open(&path).err().unwrap(), ReadOnlyStore::<1024>::open(&path).err().unwrap()] {
        let Error::PageSizeMismatch { on_disk: 4096, expected: 1024, path: Some(p) } = &err else { panic!("{err:?}") };
        assert_eq!(p, &path);
        assert_eq!(err.to_string(), format!("{} has 4096-byte pages, not 1024", path.display()));
    }
}
