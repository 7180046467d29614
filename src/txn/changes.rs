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
    /// The version to commit as, when it is not the base's plus one (applying
    /// a backup stream commits at the stream's target version).
    pub commit_as: Option<u64>,
    /// The content hash the new table must have; the commit fails before its
    /// root is written if it has another (applying a backup stream).
    pub expect_content: Option<crate::format::Hash16>,
}
