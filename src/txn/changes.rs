//! What a write transaction hands to its commit: the shadow pages, the next
//! id, and the version operations, in order.

use std::collections::BTreeMap;

use crate::versions::VersionOp;

/// What this transaction did to one id.
pub(crate) enum Slot {
    /// Allocated here; `None` until written (reads as zeros).
    New(Option<Box<[u8]>>),
    /// A committed page with new contents.
    Changed(Box<[u8]>),
    /// Freed here.
    Freed,
}

/// A write transaction's changes, as its commit receives them.
pub(crate) struct Changes<'t> {
    /// What happened to each id touched, by id.
    pub pages: &'t BTreeMap<u64, Slot>,
    /// One past the largest id handed out.
    pub next_id: u64,
    /// Snapshots to create or delete and history windows to set, in order.
    pub ops: &'t [VersionOp],
}
