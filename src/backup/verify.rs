//! Verifying a stream without applying it: every checksum, the structure and
//! the trailer, and for a full stream the target content hash, computed from
//! the pages as a dense table would hold them (`table::build_dense`).

use std::io::Read;

use super::error::BackupError;
use super::stream::{Record, StreamReader};
use crate::error::Result;
use crate::format::{ENTRY_ALLOCATED, Entry, hash16};
use crate::geometry::Geometry;
use crate::ids::{ContentHash, Version};
use crate::table::build_dense;

/// What a verified stream holds (see [`verify_backup`](crate::verify_backup)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StreamInfo {
    /// The store id (lineage) of the store it was made from.
    pub store_id: [u8; 16],
    /// Page size.
    pub page_size: u32,
    /// The base, for an incremental.
    pub base: Option<(Version, ContentHash)>,
    /// The version it restores.
    pub version: Version,
    /// That version's content hash (checked against the pages for a full
    /// stream; an incremental's is checked when applied).
    pub content_hash: ContentHash,
    /// Page records.
    pub pages: u64,
    /// Ids live at the version.
    pub live_ids: u64,
    /// Length before compression.
    pub stream_bytes: u64,
    /// True when the content hash was computed and matched (full streams).
    pub content_checked: bool,
}

/// Reads the whole stream and checks it; see [`StreamInfo`].
pub(crate) fn verify_stream<R: Read>(input: R) -> Result<StreamInfo> {
    let mut stream = StreamReader::new(input)?;
    let h = stream.header;
    let full = !h.is_incremental();
    // Only the fanouts are used: they do not depend on the layout.
    let geo = Geometry::new(h.page_size as usize, crate::format::Layout::CURRENT);
    let zero_hash = hash16(&vec![0u8; h.page_size as usize]);
    // For a full stream: the entries a dense table of it would hold.
    let mut entries: Vec<(u64, Entry)> = Vec::new();
    let mut live_ranges: Vec<(u64, u64)> = Vec::new();
    while let Some(record) = stream.next()? {
        match record {
            Record::Page { id, birth, bytes } if full => {
                let content = bytes.as_deref().map_or(zero_hash, hash16);
                entries.push((id, Entry { flags: ENTRY_ALLOCATED, birth, content, ..Entry::default() }));
            }
            Record::Live(ranges) if full => live_ranges.extend(ranges),
            _ => {}
        }
    }
    let counts = stream.counts();
    let mut content_checked = false;
    if full {
        // Every live id has a page record, and every page is live.
        let mut ids = entries.iter().map(|(id, _)| *id);
        let same = counts.live_ids == entries.len() as u64
            && live_ranges.iter().all(|&(start, count)| (start..start + count).all(|id| ids.next() == Some(id)));
        if !same {
            return Err(BackupError::LiveSet("a full stream's pages are not its live set".into()).into());
        }
        let depth = geo.table_depth_for(h.target_next_id);
        // Placed from page 1: a location of 0 would mean an empty subtree.
        let top = build_dense(&geo, depth, h.target_version, &entries, 1).top;
        let found = if top.location == 0 { [0; 16] } else { top.content };
        if found != h.target_hash {
            return Err(BackupError::TargetHashMismatch {
                expected: ContentHash(h.target_hash),
                found: ContentHash(found),
            }
            .into());
        }
        content_checked = true;
    }
    Ok(StreamInfo {
        store_id: h.store_id,
        page_size: h.page_size,
        base: h.is_incremental().then_some((Version(h.base_version), ContentHash(h.base_hash))),
        version: Version(h.target_version),
        content_hash: ContentHash(h.target_hash),
        pages: counts.pages,
        live_ids: counts.live_ids,
        stream_bytes: stream.offset(),
        content_checked,
    })
}
