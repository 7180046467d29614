//! Applying a stream to a store: one write transaction, committed at the
//! stream's target version only after the trailer, the live set and the
//! target content hash all check (the hash inside the commit, before its
//! root is written). Any failure drops the transaction: the store stays at
//! its base.
//!
//! A full stream is applied to a new, empty store (restore); an incremental
//! to a store exactly at its base.

use std::io::Read;

use super::error::{BackupError, Differs, base_mismatch, version_text};
use super::stream::{Record, StreamHeader, StreamReader};
use crate::error::Result;
use crate::ids::{ContentHash, Version};
use crate::store::Store;
use crate::txn::Slot;

/// What applying a stream did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ApplyReport {
    /// The version the store is at now (the stream's target).
    pub version: Version,
    /// Its content hash (the stream's target hash, checked).
    pub content_hash: ContentHash,
    /// Pages written.
    pub pages: u64,
    /// Pages freed.
    pub freed: u64,
}

/// True when `id` lies in one of `ranges` (ascending, disjoint).
pub(crate) fn in_ranges(ranges: &[(u64, u64)], id: u64) -> bool {
    let i = ranges.partition_point(|&(start, _)| start <= id);
    i > 0 && id - ranges[i - 1].0 < ranges[i - 1].1
}

/// The first id in both `a` and `b` (each ascending, disjoint ranges).
fn first_overlap(a: &[(u64, u64)], b: &[(u64, u64)]) -> Option<u64> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (sa, ea) = (a[i].0, a[i].0 + a[i].1);
        let (sb, eb) = (b[j].0, b[j].0 + b[j].1);
        if sa.max(sb) < ea.min(eb) {
            return Some(sa.max(sb));
        }
        if ea <= eb { i += 1 } else { j += 1 }
    }
    None
}

/// Checks that `h` can apply to `store` as it is now.
pub(crate) fn check_base<const P: usize>(store: &Store<P>, h: &StreamHeader) -> Result<()> {
    let shared = &store.shared;
    if h.page_size as usize != P {
        return Err(base_mismatch(Differs::PageSize, h.page_size, P));
    }
    if h.store_id != shared.header.store_id {
        return Err(base_mismatch(Differs::StoreId, hex(&h.store_id), hex(&shared.header.store_id)));
    }
    let read = store.begin_read()?;
    let (version, hash) = (read.version().get(), read.content_hash());
    if h.is_incremental() {
        if h.base_version != version {
            return Err(base_mismatch(Differs::Version, version_text(h.base_version), version_text(version)));
        }
        if h.base_hash != hash.0 {
            return Err(base_mismatch(Differs::ContentHash, ContentHash(h.base_hash), hash));
        }
    } else if version != 0 || read.live_pages() != 0 {
        return Err(BackupError::WrongKind { expected: "an incremental (the store is not new)", index: 0 }.into());
    }
    if h.target_next_id < read.root.next_id {
        return Err(base_mismatch(Differs::Version, "an older store (next_id)", read.root.next_id));
    }
    if h.target_next_id > shared.geo.id_capacity(crate::geometry::MAX_LEVELS as u8) {
        return Err(BackupError::Malformed { offset: 88, detail: "next_id beyond the id capacity".into() }.into());
    }
    Ok(())
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Applies the stream `input` to `store` (see the module docs).
pub(crate) fn apply_stream<const P: usize, R: Read>(
    store: &Store<P>,
    mut stream: StreamReader<R>,
) -> Result<ApplyReport> {
    let h = stream.header;
    // The writer first: no commit can come between the base check and the
    // transaction built on that base.
    let mut w = store.begin_write()?;
    check_base(store, &h)?;
    let base = store.begin_read()?;
    debug_assert_eq!(base.version(), w.base_version(), "the writer is held: the newest version is its base");
    // Pages: every id with content at the target, ascending.
    let mut page_ids: Vec<u64> = Vec::new();
    let (mut freed, mut live) = (Vec::new(), Vec::new());
    let mut new_ids = 0u64;
    while let Some(record) = stream.next()? {
        match record {
            Record::Page { id, bytes, .. } => {
                let at_base = id < base.root.next_id && base.contains(crate::ids::PageId::from_raw(id))?;
                let slot = match (at_base, bytes) {
                    (true, bytes) => Slot::Changed(bytes.map_or_else(|| vec![0u8; P].into(), Vec::into_boxed_slice)),
                    (false, bytes) => Slot::New(bytes.map(Vec::into_boxed_slice)),
                };
                new_ids += u64::from(!at_base);
                w.pages.insert(id, slot);
                page_ids.push(id);
            }
            Record::Freed(ranges) => freed.extend(ranges),
            Record::Live(ranges) => live.extend(ranges),
        }
    }
    let counts = stream.counts();
    // The live set against the pages and the base: every page is live, every
    // id live at the base is live at the target or freed (and then in a
    // freed range), and the live ids are exactly those kept plus the new ones
    // (so none is live without content).
    if let Some(&id) = page_ids.iter().find(|&&id| !in_ranges(&live, id)) {
        return Err(BackupError::LiveSet(format!("page {id} has content but is not in the live set")).into());
    }
    if let Some(id) = first_overlap(&freed, &live) {
        return Err(BackupError::LiveSet(format!("id {id} is both freed and live")).into());
    }
    let (mut kept, mut dropped) = (0u64, 0u64);
    for id in base.ids() {
        let id = id?.get();
        if in_ranges(&live, id) {
            kept += 1;
            continue;
        }
        if !in_ranges(&freed, id) {
            return Err(BackupError::LiveSet(format!(
                "id {id} is live at the base, not at the target, and no freed range names it"
            ))
            .into());
        }
        w.pages.insert(id, Slot::Freed);
        dropped += 1;
    }
    if kept + new_ids != counts.live_ids {
        return Err(BackupError::LiveSet(format!(
            "{} live ids at the target, but {kept} kept from the base and {new_ids} with content",
            counts.live_ids
        ))
        .into());
    }
    drop(base);
    if h.target_version == w.base_version().get() {
        // Only a full stream of an empty version 0 gets here (an incremental's
        // target is newer than its base): nothing to commit.
        if counts.live_ids != 0 || h.target_hash != [0; 16] {
            return Err(BackupError::LiveSet("a version 0 with live pages".into()).into());
        }
        return Ok(ApplyReport { version: Version(0), content_hash: ContentHash([0; 16]), pages: 0, freed: 0 });
    }
    w.next_id = h.target_next_id;
    w.commit_as = Some(h.target_version);
    w.expect_content = Some(h.target_hash);
    let version = w.commit()?;
    Ok(ApplyReport { version, content_hash: ContentHash(h.target_hash), pages: counts.pages, freed: dropped })
}
