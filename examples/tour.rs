//! A tour of mappedpages: run it with `cargo run --example tour`.
//!
//! It creates a store in a temporary directory and walks through the main
//! features: transactions, zero-copy reads, MVCC readers across commits,
//! aborts, durability levels, crash recovery, verification and statistics.

use mappedpages::storage::{CrashStorage, TearPattern};
use mappedpages::{At, Durability, HistoryWindow, Options, PageId, Store, Version};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tour.db");

    // 1. Create a store with 4 KiB pages (the page size is checked at compile time).
    let store = Store::<4096>::create(&path)?;
    println!("created {} (version {})", path.display(), store.version());

    // 2. A write transaction: allocate, write shadow copies, commit atomically.
    let mut w = store.begin_write()?;
    let ids = w.alloc_bulk(100)?;
    for (i, &id) in ids.iter().enumerate() {
        w.page_mut(id)?[..8].copy_from_slice(&(i as u64).to_le_bytes());
    }
    let v1 = w.commit()?;
    println!("committed {} pages as {v1}", ids.len());

    // 3. A reader pins this version; the writer goes on without waiting for it.
    let reader = store.begin_read()?;
    let mut w = store.begin_write()?;
    w.page_mut(ids[0])?.fill(0xEE);
    w.free_bulk(&ids[50..])?;
    let v2 = w.commit()?;
    let first: &[u8] = reader.page(ids[0])?; // zero-copy, straight from the mapping
    assert_eq!(&first[..8], &0u64.to_le_bytes());
    assert_eq!(reader.ids().count(), 100);
    println!(
        "reader at {} still sees 100 pages; the store is at {v2} with {}",
        reader.version(),
        store.stats().live_pages
    );
    drop(reader);

    // 4. Dropping a write transaction aborts it: nothing changes, no space leaks.
    let before = store.stats();
    let mut w = store.begin_write()?;
    w.alloc_bulk(10)?;
    drop(w);
    assert_eq!(store.stats(), before);
    println!("aborted a transaction; stats unchanged: {before:?}");

    // 5. Bad ids are typed errors, never panics.
    let r = store.begin_read()?;
    match r.page(ids[60]) {
        Err(e) => println!("reading a freed page: {e}"),
        Ok(_) => unreachable!("page 60 was freed"),
    }
    match r.page(PageId::from_raw(1 << 40)) {
        Err(e) => println!("reading an id never handed out: {e}"),
        Ok(_) => unreachable!(),
    }
    drop(r);

    // 6. Verify: every checksum, every structure, no overlaps, no leaks.
    let report = store.verify()?;
    println!(
        "verify: clean={} ({} pages, {} nodes checked, {} sectors leaked)",
        report.is_clean(),
        report.pages_checked,
        report.nodes_checked,
        report.leaked_sectors
    );

    // 7. Reopen: the newest commit is there, and opening never scans the data.
    let hash = store.begin_read()?.content_hash();
    drop(store);
    let store = Store::<4096>::open(&path)?;
    assert_eq!(store.begin_read()?.content_hash(), hash);
    println!("reopened at {} with content hash {hash}", store.version());
    drop(store);

    // 8. Crash safety, shown on the crash-simulating storage: cut the power in
    //    the middle of a commit, reboot, and find the last acknowledged commit.
    let disk = CrashStorage::new()?;
    let control = disk.control();
    let options = Options::default().durability(Durability::Immediate);
    let sim = Store::<4096>::create_on(disk, options.clone())?;
    let mut w = sim.begin_write()?;
    let id = w.alloc()?;
    w.page_mut(id)?.fill(1);
    let acknowledged = w.commit()?;
    let mut w = sim.begin_write()?;
    w.page_mut(id)?.fill(2);
    control.set_fault(Some(mappedpages::storage::Fault::PowerCutAt(control.counts().ops + 1)));
    let failed = w.commit();
    println!("commit during a power cut: {}", failed.map(|v| v.to_string()).unwrap_or_else(|e| e.to_string()));
    drop(sim);
    let rebooted = Store::<4096>::open_on(control.crash(TearPattern::Seeded(7))?, options)?;
    let r = rebooted.begin_read()?;
    println!("after reboot: {} (acknowledged {acknowledged}), page byte {}", r.version(), r.page(id)?[0]);
    assert!(r.version() >= acknowledged);
    drop(r);
    assert!(rebooted.verify()?.is_clean());

    // 9. Eventual durability: commits return before the sync; `sync` makes
    //    them durable. A power cut may lose the newest ones, never half of one.
    let store = Store::<4096>::open_with(&path, Options::default().durability(Durability::Eventual))?;
    for round in 0..10u8 {
        let mut w = store.begin_write()?;
        w.page_mut(ids[1])?.fill(round);
        w.commit()?;
    }
    store.sync()?;
    println!("10 eventual commits, then one sync: now at {}", store.version());

    // 10. Versions: a named snapshot costs O(1); the history window keeps the
    //     newest versions readable; restore and export work on either.
    let before_upgrade = store.create_snapshot("before-upgrade")?;
    store.set_history(HistoryWindow::versions(5))?;
    for round in 0..8u8 {
        let mut w = store.begin_write()?;
        w.page_mut(ids[2])?.fill(round);
        w.commit()?;
    }
    let history = store.history();
    println!(
        "snapshot {before_upgrade} kept; history holds {:?}",
        history.iter().map(|h| h.version.get()).collect::<Vec<_>>()
    );
    let older = store.begin_read_at(At::Version(history[0].version))?;
    println!("page 2 at {}: byte {}", older.version(), older.page(ids[2])?[0]);
    drop(older);
    // A version kept by anything reads by its number: the snapshot keeps
    // `before_upgrade`; the commit that made the snapshot is kept by nothing.
    assert_eq!(store.begin_read_at(At::Version(before_upgrade))?.version(), before_upgrade);
    match store.begin_read_at(At::Version(Version(before_upgrade.get() + 1))) {
        Err(e) => println!("kept by nothing: {e}"),
        Ok(_) => unreachable!("neither the window nor a snapshot keeps it"),
    }
    let snap_hash = store.begin_read_at(At::Snapshot("before-upgrade"))?.content_hash();
    let restored = store.restore(At::Snapshot("before-upgrade"))?;
    assert_eq!(store.begin_read()?.content_hash(), snap_hash);
    println!("restored the snapshot as {restored}; snapshots: {:?}", store.snapshots()?);
    let copy = dir.path().join("copy.db");
    let report = store.export(&copy, At::Version(store.version()))?;
    let exported = Store::<4096>::open(&copy)?;
    assert_eq!(exported.begin_read()?.content_hash(), report.content_hash);
    println!(
        "exported {} pages to {} ({} bytes, no free space: {:?})",
        report.data_pages,
        copy.display(),
        report.file_len,
        exported.stats()
    );
    // 11. Backup: a full stream, then an incremental that carries only what
    //    changed since it (the base is named by its version and content hash
    //    alone), restored as a chain into a new file.
    let full_path = dir.path().join("full.mpb");
    let full = store.backup(std::fs::File::create(&full_path)?, At::Version(store.version()), Default::default())?;
    let mut w = store.begin_write()?;
    w.page_mut(ids[1])?.fill(0x42);
    w.commit()?;
    let incr_path = dir.path().join("incr.mpb");
    let base = Some((full.version, full.content_hash));
    let incr = store.backup(
        std::fs::File::create(&incr_path)?,
        At::Version(store.version()),
        mappedpages::BackupOptions { base, ..Default::default() },
    )?;
    println!(
        "backup: full {} ({} bytes), incremental {} ({} bytes, {} page)",
        full.version, full.stream_bytes, incr.version, incr.stream_bytes, incr.pages
    );
    let rebuilt = Store::<4096>::restore_chain(dir.path().join("rebuilt.db"), &[&full_path, &incr_path])?;
    assert_eq!(rebuilt.begin_read()?.content_hash(), store.begin_read()?.content_hash());
    println!("restored the chain as {}: same content hash", rebuilt.version());
    store.delete_snapshot("before-upgrade")?;
    assert!(store.verify()?.is_clean());
    println!("stats: {:?}", store.stats());
    Ok(())
}
