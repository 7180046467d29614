//! Measures the CPU cost of small commits on an in-memory store (no device
//! time): `cargo run --release --example commit_cpu`.
use std::time::Instant;

use mappedpages::{Options, Store, storage::MemoryStorage};

fn main() -> Result<(), mappedpages::Error> {
    let store = Store::<4096>::create_on(MemoryStorage::with_capacity(1 << 30).unwrap(), Options::default())?;
    let mut w = store.begin_write()?;
    let ids = w.alloc_bulk(50_000)?;
    let page = vec![7u8; 4096];
    for &id in &ids {
        w.write(id, &page)?;
    }
    w.commit()?;
    let batch: usize = std::env::var("BATCH").map_or(1, |v| v.parse().unwrap());
    let n: usize = std::env::var("N").map_or(20_000, |v| v.parse().unwrap());
    let t = Instant::now();
    let mut x = 12345u64;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut w = store.begin_write()?;
        let mut p = page.clone();
        p[..8].copy_from_slice(&(i as u64).to_le_bytes());
        for _ in 0..batch {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.write(ids[(x % ids.len() as u64) as usize], &p)?;
        }
        w.commit()?;
    }
    let dt = t.elapsed();
    println!("{:.1} µs CPU per {batch}-page commit; stats {:?}", dt.as_secs_f64() * 1e6 / n as f64, store.stats());
    Ok(())
}
