//! W7: backup. A store of `--backup-mib` MiB of 4 KiB pages, then 1 % of its
//! pages rewritten since a base version:
//!
//! - full backup of the newest version to a file (fsync included), MB/s of
//!   stream; LMDB: `mdb_env_copy` (heed's `copy_to_path`, no compaction) of
//!   the same pages, MB/s of its copy; raw: a sequential write + fsync of as
//!   many bytes as mappedpages' stream;
//! - restore of that full stream into a new store file (its durable commit
//!   included), MB/s of stream; raw: the same sequential write;
//! - an incremental from the base: its time and its bytes as ratios to the
//!   full backup's.

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::path::Path;
use std::time::Instant;

use mappedpages::{At, BackupOptions, PageId, Store};

use crate::Rng;
use crate::args::Args;
use crate::engines::{Kind, PAGE, Res, fill_page, page_template};
use crate::report::{Row, median};

fn err(e: mappedpages::Error) -> crate::engines::BoxError {
    format!("mappedpages: {e}").into()
}

/// Backs up the newest version of `store` to a new file at `path`, synced.
fn backup_to(store: &Store<PAGE>, path: &Path, options: BackupOptions) -> Res<(f64, u64)> {
    let t = Instant::now();
    let mut f = File::create(path)?;
    store.backup(&mut f, At::Version(store.version()), options).map_err(err)?;
    f.flush()?;
    f.sync_all()?;
    let secs = t.elapsed().as_secs_f64();
    Ok((secs, fs::metadata(path)?.len()))
}

/// A sequential write of `bytes` pseudo-random bytes in 1 MiB calls, then
/// fsync: seconds.
fn raw_write(path: &Path, bytes: u64) -> Res<f64> {
    let chunk: Vec<u8> = (0..256).flat_map(page_template).collect();
    let t = Instant::now();
    let mut f = File::create(path)?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    let secs = t.elapsed().as_secs_f64();
    drop(f);
    fs::remove_file(path)?;
    Ok(secs)
}

pub fn run(args: &Args, engines: &[Kind], work: &Path) -> Res<Vec<Row>> {
    let pages = (args.backup_mib * (1 << 20) / PAGE as u64).max(100);
    let mut full = Row::new("W7", "W7 full backup", "MB/s");
    let mut restore = Row::new("W7_restore", "W7 restore of the full backup", "MB/s");
    let mut incr_time = Row::new("W7_incr_time", "W7 incremental/full time, 1% new", "ratio");
    let mut incr_bytes = Row::new("W7_incr_bytes", "W7 incremental/full bytes", "ratio");
    let dir = work.join("w7");
    fs::create_dir_all(&dir)?;
    let mut stream_bytes = pages * PAGE as u64;
    let mut raw = Vec::new();

    if engines.contains(&Kind::Mappedpages) {
        let t = Instant::now();
        let store = Store::<PAGE>::create(dir.join("source.mp")).map_err(err)?;
        let mut buf = page_template(7);
        let mut ids: Vec<PageId> = Vec::with_capacity(pages as usize);
        let mut start = 0;
        while start < pages {
            let n = (pages - start).min(16_384);
            let mut w = store.begin_write().map_err(err)?;
            for (j, id) in w.alloc_bulk(n as usize).map_err(err)?.into_iter().enumerate() {
                fill_page(&mut buf, start + j as u64, 0);
                w.write(id, &buf).map_err(err)?;
                ids.push(id);
            }
            w.commit().map_err(err)?;
            start += n;
        }
        let base = {
            let r = store.begin_read().map_err(err)?;
            (r.version(), r.content_hash())
        };
        // 1 % of the pages rewritten since the base, in one commit.
        let mut rng = Rng::new(args.seed ^ 0x7777);
        let mut w = store.begin_write().map_err(err)?;
        for k in 0..pages / 100 {
            let i = rng.below(pages);
            fill_page(&mut buf, i, k + 1);
            w.write(ids[i as usize], &buf).map_err(err)?;
        }
        w.commit().map_err(err)?;
        eprintln!(
            "  [setup] {:<11} built a {} MiB store for W7 in {:.2} s",
            "mappedpages",
            args.backup_mib,
            t.elapsed().as_secs_f64()
        );

        let (mut f, mut r, mut it, mut ib) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 0..args.runs {
            let full_path = dir.join("full.mpb");
            let (fs_, fb) = backup_to(&store, &full_path, BackupOptions::default())?;
            let incr = BackupOptions { base: Some(base), ..Default::default() };
            let (is_, ibytes) = backup_to(&store, &dir.join("incr.mpb"), incr)?;
            let t = Instant::now();
            let restored =
                Store::<PAGE>::restore_backup(dir.join("restored.mp"), BufReader::new(File::open(&full_path)?))
                    .map_err(err)?;
            let rs = t.elapsed().as_secs_f64();
            drop(restored);
            fs::remove_file(dir.join("restored.mp"))?;
            stream_bytes = fb;
            let mb = fb as f64 / 1e6;
            if engines.contains(&Kind::Raw) {
                // In the same run, right after: the disk and the machine's
                // other load as the engine saw them.
                let secs = raw_write(&dir.join("raw.dat"), fb)?;
                eprintln!(
                    "  [W7] raw         run {}/{}: sequential write of {fb} bytes: {:.1} MB/s",
                    run + 1,
                    args.runs,
                    mb / secs
                );
                raw.push(mb / secs);
            }
            eprintln!(
                "  [W7] mappedpages run {}/{}: full {:.1} MB/s, restore {:.1} MB/s, incremental {:.3} of the time, {:.4} of the bytes",
                run + 1,
                args.runs,
                mb / fs_,
                mb / rs,
                is_ / fs_,
                ibytes as f64 / fb as f64
            );
            f.push(mb / fs_);
            r.push(mb / rs);
            it.push(is_ / fs_);
            ib.push(ibytes as f64 / fb as f64);
        }
        for (row, xs) in [(&mut full, f), (&mut restore, r), (&mut incr_time, it), (&mut incr_bytes, ib)] {
            if let Some(m) = median(xs) {
                row.set(Kind::Mappedpages, m);
            }
        }
        drop(store);
    }

    if engines.contains(&Kind::Lmdb) {
        let ldir = dir.join("lmdb");
        let mut e = Kind::Lmdb.create(&ldir, pages)?;
        crate::load_chunked(e.as_mut(), pages)?;
        let mut xs = Vec::new();
        for run in 0..args.runs {
            let copy = dir.join("lmdb-copy.mdb");
            let t = Instant::now();
            let Some(bytes) = e.copy_to(&copy)? else { break };
            let secs = t.elapsed().as_secs_f64();
            fs::remove_file(&copy)?;
            eprintln!(
                "  [W7] lmdb        run {}/{}: env copy {:.1} MB/s",
                run + 1,
                args.runs,
                bytes as f64 / 1e6 / secs
            );
            xs.push(bytes as f64 / 1e6 / secs);
        }
        if let Some(m) = median(xs) {
            full.set(Kind::Lmdb, m);
        }
    }

    if engines.contains(&Kind::Raw) {
        if raw.is_empty() {
            for _ in 0..args.runs {
                let secs = raw_write(&dir.join("raw.dat"), stream_bytes)?;
                raw.push(stream_bytes as f64 / 1e6 / secs);
            }
        }
        if let Some(m) = median(raw) {
            eprintln!("  [W7] raw         sequential write of {stream_bytes} bytes: {m:.1} MB/s (median)");
            full.set(Kind::Raw, m);
            restore.set(Kind::Raw, m);
        }
    }
    if !args.keep {
        let _ = fs::remove_dir_all(&dir);
    }
    Ok(vec![full, restore, incr_time, incr_bytes])
}
