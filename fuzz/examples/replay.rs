//! Runs inputs of a fuzz target outside libFuzzer
//! (no instrumentation, a readable report), e.g. to debug a crash artifact:
//!
//! ```text
//! cd fuzz && cargo run --release --example replay -- crash_workload artifacts/crash_workload/crash-…
//! ```

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay open_image|crash_workload|io_errors FILE...");
    for file in args {
        let data = std::fs::read(&file).expect("read the input");
        if target == "open_image" {
            let started = Instant::now();
            let stats = mappedpages_fuzz::open_image(&data);
            println!("{file}: {stats:?}, {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
            continue;
        }
        let decoded = match target.as_str() {
            "crash_workload" => mappedpages_fuzz::decode_crash(&data),
            "io_errors" => mappedpages_fuzz::decode_io(&data),
            _ => panic!("unknown target {target}"),
        };
        let Some((ops, config)) = decoded else {
            println!("{file}: too short to decode");
            continue;
        };
        let started = Instant::now();
        let allocation = match target.as_str() {
            "crash_workload" => mappedpages_fuzz::crash_allocation(&data),
            _ => mappedpages::Allocation::default(),
        };
        let result = mappedpages::testing::run_with(&ops, config, allocation);
        println!("{file}: {} ops, {config:?}, {:.1} ms", ops.len(), started.elapsed().as_secs_f64() * 1e3);
        match result {
            Ok(stats) => println!("  ok: {stats:?}"),
            Err(e) => {
                println!("  FAILED: {e}\n  ops: {ops:?}");
                std::process::exit(1);
            }
        }
    }
}
