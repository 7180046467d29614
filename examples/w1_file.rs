// scratch: W1 on a file, for profiling
use mappedpages::{PageId, Store};
fn main() {
    let dir = std::env::temp_dir().join("w1_file");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::<4096>::create(dir.join("s.mp")).unwrap();
    let mut page = vec![7u8; 4096];
    for _ in 0..4 {
        let mut w = store.begin_write().unwrap();
        for id in w.alloc_bulk(12_500).unwrap() {
            w.write(id, &page).unwrap();
        }
        w.commit().unwrap();
    }
    let n: u64 = std::env::var("N").map_or(10_000, |v| v.parse().unwrap());
    std::thread::sleep(std::time::Duration::from_secs(2));
    let t = std::time::Instant::now();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        page[..8].copy_from_slice(&i.to_le_bytes());
        let mut w = store.begin_write().unwrap();
        w.write(PageId::from_raw(x % 50_000), &page).unwrap();
        w.commit().unwrap();
    }
    println!("{:.0} commits/s", n as f64 / t.elapsed().as_secs_f64());
}
