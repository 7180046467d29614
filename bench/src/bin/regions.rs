//! `regions`: what a durable commit costs on this disk as a function of how it
//! is laid out. Each pattern writes with `pwrite` into a preallocated, written
//! 200 MB file and then calls `fdatasync`, N times; it prints syncs per second.
//!
//! `cargo run --release -p mappedpages-bench --bin regions [-- N]`
//!
//! This is the device's side of the W1 and W2 figures in `peers`: a 1-page
//! commit of mappedpages writes its page at a first-fit place, a run of
//! metadata pages, and a root sector near the start of the file; a 100-page
//! commit writes one run (while the file has holes that big) or fills small
//! holes, lowest first, and writes its metadata as a run.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::time::Instant;

const PAGE: u64 = 4096;
const PAGES: u64 = 50_000;

fn main() -> std::io::Result<()> {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), std::path::PathBuf::from);
    std::fs::create_dir_all(dir.join("bench"))?;
    let path = dir.join("bench").join("regions.dat");
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
    // Written, not sparse: later writes overwrite allocated blocks, as in a store.
    let chunk = vec![0x5Au8; (256 * PAGE) as usize];
    for i in 0..PAGES / 256 {
        file.write_all_at(&chunk, i * 256 * PAGE)?;
    }
    file.sync_all()?;
    let page = vec![0xA5u8; PAGE as usize];
    let run8 = vec![0xA5u8; 8 * PAGE as usize];
    let run100 = vec![0xA5u8; 100 * PAGE as usize];
    let run110 = vec![0xA5u8; 110 * PAGE as usize];
    let run210 = vec![0xA5u8; 210 * PAGE as usize];
    let run250 = vec![0xA5u8; 250 * PAGE as usize];
    let state = std::cell::Cell::new(0x2545_F491_4F6C_DD1Du64);
    let random_page = || {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x % (PAGES - 16) + 8) * PAGE
    };
    type Pattern<'a> = (&'a str, Box<dyn FnMut(u64) -> std::io::Result<()> + 'a>);
    let f = &file;
    let mut patterns: Vec<Pattern> = vec![
        ("1 page at a random place", Box::new(|_| f.write_all_at(&page, random_page()))),
        ("8-page run, marching forward", Box::new(|i| f.write_all_at(&run8, (1000 + 8 * (i % 4000)) * PAGE))),
        (
            "1 random page + 8-page run",
            Box::new(|i| {
                f.write_all_at(&page, random_page())?;
                f.write_all_at(&run8, (1000 + 8 * (i % 4000)) * PAGE)
            }),
        ),
        (
            "1 random page + 8-page run + root sector",
            Box::new(|i| {
                f.write_all_at(&page, random_page())?;
                f.write_all_at(&run8, (1000 + 8 * (i % 4000)) * PAGE)?;
                f.write_all_at(&page[..512], 512 * (1 + i % 2))
            }),
        ),
        (
            "8-page run + root sector",
            Box::new(|i| {
                f.write_all_at(&run8, (1000 + 8 * (i % 4000)) * PAGE)?;
                f.write_all_at(&page[..512], 512 * (1 + i % 2))
            }),
        ),
        (
            "100-page run + 110-page run + root",
            Box::new(|i| {
                f.write_all_at(&run100, (1000 + 100 * (i % 200)) * PAGE)?;
                f.write_all_at(&run110, (22000 + 110 * (i % 200)) * PAGE)?;
                f.write_all_at(&page[..512], 512 * (1 + i % 2))
            }),
        ),
        (
            "210-page run + root",
            Box::new(|i| {
                f.write_all_at(&run210, (1000 + 210 * (i % 200)) * PAGE)?;
                f.write_all_at(&page[..512], 512 * (1 + i % 2))
            }),
        ),
        (
            "100 random pages",
            Box::new(|_| {
                for _ in 0..100 {
                    f.write_all_at(&page, random_page())?;
                }
                Ok(())
            }),
        ),
        (
            "1 page 8 pages past the run + run + root",
            Box::new(|i| {
                f.write_all_at(&run8, (1000 + 8 * (i % 4000)) * PAGE)?;
                f.write_all_at(&page, (1000 + 16 + 8 * (i % 4000)) * PAGE)?;
                f.write_all_at(&page[..512], 512 * (1 + i % 2))
            }),
        ),
        (
            "1 page 1000 pages past the run + run + root",
            Box::new(|i| {
                f.write_all_at(&run8, (1000 + 8 * (i % 4000)) * PAGE)?;
                f.write_all_at(&page, (2000 + 8 * (i % 4000)) * PAGE)?;
                f.write_all_at(&page[..512], 512 * (1 + i % 2))
            }),
        ),
        (
            "100 pages 3 apart + 110-page run + root",
            Box::new(|i| {
                let base = 1000 + (i % 100) * 300;
                for k in 0..100 {
                    f.write_all_at(&page, (base + 3 * k) * PAGE)?;
                }
                f.write_all_at(&run110, (32000 + 110 * (i % 100)) * PAGE)?;
                f.write_all_at(&page[..512], 512 * (1 + i % 2))
            }),
        ),
    ];
    let ring = |i: u64| -> std::io::Result<()> {
        // 8-page run marching through a 4096-page ring, root; every 256
        // commits, 330 pages 3 apart in cold space plus a 250-page run.
        f.write_all_at(&run8, (20000 + 8 * (i % 512)) * PAGE)?;
        f.write_all_at(&page[..512], 512 * (1 + i % 2))?;
        if i % 256 == 255 {
            f.write_all_at(&page[..512], 512 * (1 + i % 2))?;
            let base = 1000 + ((i / 256) % 10) * 1000;
            for k in 0..330 {
                f.write_all_at(&page, (base + 3 * k) * PAGE)?;
            }
            f.write_all_at(&run250, (30000 + 250 * ((i / 256) % 40)) * PAGE)?;
        }
        Ok(())
    };
    patterns.push(("ring of runs + batched eviction", Box::new(ring)));
    patterns.push((
        "1 page marching 5 apart + 8-page run + root",
        Box::new(|i| {
            f.write_all_at(&page, (1000 + 5 * (i % 8000)) * PAGE)?;
            f.write_all_at(&run8, (45000 + 8 * (i % 2)) * PAGE)?;
            f.write_all_at(&page[..512], 512 * (1 + i % 2))
        }),
    ));
    patterns.push((
        "1 random page + 8-page run (ping-pong) + root",
        Box::new(|i| {
            f.write_all_at(&page, random_page())?;
            f.write_all_at(&run8, (45000 + 8 * (i % 2)) * PAGE)?;
            f.write_all_at(&page[..512], 512 * (1 + i % 2))
        }),
    ));
    println!("{n} syncs per pattern, {} (fdatasync after each)", path.display());
    for (name, write) in &mut patterns {
        let t = Instant::now();
        for i in 0..n {
            write(i)?;
            file.sync_data()?;
        }
        println!("{name:46} {:8.0} /s", n as f64 / t.elapsed().as_secs_f64());
    }
    std::fs::remove_file(&path)
}
