//! One-page durable commits on a file, for profiling the whole commit path
//! with the device in it (`perf record -D 2500` skips the load):
//! `N=10000 cargo run --release --example commit_file`.
//! `commit_cpu` measures the same commits on memory, without the device.
use mappedpages::{PageId, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("mappedpages-commit-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Store::<4096>::create(dir.join("store.mp"))?;
    let mut page = vec![7u8; 4096];
    let live = 50_000u64;
    for _ in 0..4 {
        let mut w = store.begin_write()?;
        for id in w.alloc_bulk(live as usize / 4)? {
            w.write(id, &page)?;
        }
        w.commit()?;
    }
    let n: u64 = std::env::var("N").map_or(Ok(10_000), |v| v.parse())?;
    // A pause between the load and the measured commits, for `perf record -D`.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let t = std::time::Instant::now();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        page[..8].copy_from_slice(&i.to_le_bytes());
        let mut w = store.begin_write()?;
        w.write(PageId::from_raw(x % live), &page)?;
        w.commit()?;
    }
    println!("{:.0} one-page durable commits/s", n as f64 / t.elapsed().as_secs_f64());
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
