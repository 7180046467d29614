//! Shared input decoding for the fuzz targets, and the encoders the seed-corpus
//! generator (`examples/gen_corpus.rs`) uses to write inputs the targets read
//! back the same way.
//!
//! Input layouts (all targets ignore trailing bytes that do not make a whole op):
//!
//! - `open_image`: the bytes are a store file image, as is.
//! - `backup_stream`: the bytes are a backup stream, as is.
//! - `crash_workload`: `[flags, k_lo, k_hi, seed, ops...]`. `flags` bit 0: 1 =
//!   `Durability::Eventual`; bits 1–2: how the final crash treats unsynced writes
//!   (see [`tear`]); bit 3: cut the power at storage operation `k` (u16 LE).
//! - `io_errors`: `[flags, k_lo, k_hi, seed, ops...]`. `flags` bit 0: durability;
//!   bits 1–2: final tear pattern; bits 4–5: which operation fails (0, 3 = the
//!   `k`-th write, 1 = the `k`-th sync, 2 = the `k`-th grow).
//!
//! `ops` is [`Op::decode_all`]'s encoding, three bytes an op.

mod backup;
mod image;

pub use backup::backup_stream;
pub use image::{ImageStats, open_image};

use mappedpages::Durability;
use mappedpages::storage::{Fault, TearPattern};
use mappedpages::testing::{Op, RunConfig};

/// Bytes before the ops in the workload targets.
pub const PREFIX: usize = 4;

/// At most this many ops are run from one input (bounds the time per input).
pub const MAX_OPS: usize = 400;

/// The tear pattern of the final crash: `kind` (two bits) and a seed.
pub fn tear(kind: u8, seed: u8) -> TearPattern {
    match kind & 3 {
        0 => TearPattern::KeepAll,
        1 => TearPattern::DropAll,
        2 => TearPattern::AllButFirstBytes(mappedpages::format::Layout::CURRENT.meta_bytes()),
        _ => TearPattern::Seeded(u64::from(seed)),
    }
}

fn durability(flags: u8) -> Durability {
    if flags & 1 == 1 { Durability::Eventual } else { Durability::Immediate }
}

fn ops(data: &[u8]) -> Vec<Op> {
    let body = &data[PREFIX.min(data.len())..];
    let mut ops = Op::decode_all(&body[..body.len().min(3 * MAX_OPS)]);
    ops.truncate(MAX_OPS);
    ops
}

/// The allocation strategy `crash_workload` runs `data` with: one of the
/// built-in ones, picked by the first byte (so the bytes decode to the same
/// workload whichever it is).
pub fn crash_allocation(data: &[u8]) -> mappedpages::Allocation {
    let built_in = mappedpages::Allocation::BUILT_IN;
    built_in[data.first().map_or(0, |&b| b as usize) % built_in.len()].clone()
}

/// `crash_workload`: a workload, an optional power cut, a final tear pattern.
pub fn decode_crash(data: &[u8]) -> Option<(Vec<Op>, RunConfig)> {
    let [flags, lo, hi, seed] = *data.get(..PREFIX)? else {
        return None;
    };
    let k = u64::from(u16::from_le_bytes([lo, hi]));
    let config = RunConfig {
        durability: durability(flags),
        fault: (flags & 8 != 0).then_some(Fault::PowerCutAt(k)),
        final_crash: tear(flags >> 1, seed),
    };
    Some((ops(data), config))
}

/// `io_errors`: a workload in which one write, sync or grow fails.
pub fn decode_io(data: &[u8]) -> Option<(Vec<Op>, RunConfig)> {
    let [flags, lo, hi, seed] = *data.get(..PREFIX)? else {
        return None;
    };
    let k = u16::from_le_bytes([lo, hi]);
    // Workloads of a few hundred ops issue a few hundred writes, a few dozen
    // syncs and a handful of grows: fold `k` so most inputs hit one.
    let fault = match (flags >> 4) & 3 {
        1 => Fault::FailSync(u64::from(k % 64)),
        2 => Fault::FailGrow(u64::from(k % 16)),
        _ => Fault::FailWrite(u64::from(k % 1024)),
    };
    let config = RunConfig { durability: durability(flags), fault: Some(fault), final_crash: tear(flags >> 1, seed) };
    Some((ops(data), config))
}

/// The three bytes [`Op::decode_all`] reads back as `op`.
pub fn encode_op(op: Op) -> [u8; 3] {
    match op {
        Op::Alloc(n) => [0, n.clamp(1, 64) - 1, 0],
        Op::Free(sel) => {
            let [a, b] = sel.to_le_bytes();
            [3, a, b]
        }
        // The selector's high byte doubles as the count: keep it small.
        Op::FreeBulk(sel, n) => [4, sel as u8, n.clamp(1, 16) - 1],
        Op::Write(sel, tag) => [5, sel as u8, tag],
        Op::WriteAll => [8, 0, 0],
        Op::Commit => [9, 0, 0],
        Op::Abort => [12, 0, 0],
        Op::Reader => [13, 0, 0],
        Op::Sync => [14, 0, 0],
        Op::Crash(seed) => [15, seed, 0],
        Op::Kill => [15, 0, 1],
    }
}

/// A whole input: the prefix, then the ops.
pub fn encode(prefix: [u8; PREFIX], ops: &[Op]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    for &op in ops {
        out.extend_from_slice(&encode_op(op));
    }
    out
}
