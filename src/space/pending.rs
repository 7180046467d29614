//! The pending-free list in memory: one group per commit, holding the extents
//! that commit stopped reaching and (with a history window) the summary of the
//! version it committed.

use std::collections::VecDeque;

use super::PageWrite;
use crate::error::{Error, Result, Structure};
use crate::format::{
    ChainRef, NodeHeader, PENDING_MAGIC, PendingPage, PendingRecord, RecordKind, SECTOR, VersionSummary, hash16,
};
use crate::storage::PageReader;

/// The records one commit freed, and the pages of the list that hold them.
#[derive(Clone, Debug, Default)]
pub(crate) struct PendingGroup {
    /// The commit that wrote this group.
    pub freed: u64,
    /// The version that commit made, when history needs it.
    pub summary: Option<VersionSummary>,
    pub records: Vec<PendingRecord>,
    /// (sector, written) of the list pages holding these records.
    pub pages: Vec<(u64, u64)>,
    /// Structure records returned to the free map.
    pub structure_released: bool,
    /// Content records returned to the free map or handed to snapshots.
    pub content_released: bool,
}

impl PendingGroup {
    /// Sectors this group's records would hold with these release flags.
    pub fn held_sectors_if(&self, structure_released: bool, content_released: bool) -> u64 {
        self.records
            .iter()
            .filter(|r| match r.kind {
                RecordKind::Structure => !structure_released,
                RecordKind::Content => !content_released,
            })
            .map(|r| r.sectors)
            .sum()
    }
}

/// Reads a chain of record pages from `head` while pages are newer than
/// `floor`, newest first. Checks each page's checksum against its link, its
/// magic and count, and that versions never increase along the chain; a
/// damaged chain cannot loop (the walk is bounded by the file's page count).
pub(crate) fn read_chain(
    reader: &PageReader<'_>,
    head: ChainRef,
    floor: u64,
    magic: [u8; 4],
    mut visit: impl FnMut(u64, &NodeHeader, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut link = head;
    let capacity = PendingPage::capacity(reader.page_size());
    let max_steps = reader.len() / reader.page_size() as u64 + 1;
    let mut steps = 0;
    while link.location != 0 && link.written > floor {
        let offset = link.location.saturating_mul(SECTOR);
        steps += 1;
        if steps > max_steps {
            return Err(Error::corrupt(Structure::PendingList, offset, "list longer than the file"));
        }
        let page = reader.page(link.location, Structure::PendingList)?;
        if hash16(page) != link.checksum {
            return Err(Error::corrupt(Structure::PendingList, offset, "checksum mismatch"));
        }
        let h = NodeHeader::read(page);
        if h.magic != magic || h.level != 0 || h.written != link.written || PendingPage::count(page) as usize > capacity
        {
            return Err(Error::corrupt(Structure::PendingList, offset, "bad record page header"));
        }
        // has_summary is 0 (summary bytes zero) or 1, and always 0 in a deadlist.
        let summary_ok = match PendingPage::summary_flag(page) {
            0 => PendingPage::summary_bytes(page).iter().all(|&b| b == 0),
            1 => magic == PENDING_MAGIC,
            _ => false,
        };
        if !summary_ok {
            return Err(Error::corrupt(Structure::PendingList, offset, "bad summary flag or summary bytes"));
        }
        visit(link.location, &h, page)?;
        let prev = PendingPage::prev(page);
        if !prev.is_canonical() {
            return Err(Error::corrupt(Structure::PendingList, offset, "an empty link is not all zero"));
        }
        if prev.location != 0 && prev.written > link.written {
            return Err(Error::corrupt(Structure::PendingList, offset, "link to a newer page"));
        }
        link = prev;
    }
    Ok(())
}

/// The records of one record page, checked.
pub(crate) fn page_records(page: &[u8], location: u64, written: u64) -> Result<Vec<PendingRecord>> {
    let bad = |detail: String| Error::corrupt(Structure::PendingList, location.saturating_mul(SECTOR), detail);
    (0..PendingPage::count(page) as usize)
        .map(|i| match PendingPage::record(page, i) {
            // A record lists what this page's commit (or an earlier one)
            // stopped reaching (SPEC.md 4.6).
            Some(r) if r.sectors > 0 && r.birth <= r.freed && r.freed <= written => Ok(r),
            Some(r) if r.sectors > 0 && r.birth > r.freed => Err(bad("record freed before it was born".into())),
            Some(r) if r.sectors > 0 => Err(bad("record freed after its page".into())),
            _ => Err(bad(format!("record {i} is not valid"))),
        })
        .collect()
}

/// A summary's table must fit: depth within bounds, next_id within its capacity.
pub(crate) fn summary_is_sane(s: &VersionSummary, page_size: usize) -> bool {
    // Only the fanouts are used, and they do not depend on the layout.
    let geo = crate::geometry::Geometry::new(page_size, crate::format::Layout::CURRENT);
    s.table_depth as usize <= crate::geometry::MAX_LEVELS
        && s.next_id <= geo.id_capacity(s.table_depth)
        && (s.table_depth > 0 || s.table == crate::format::TableRef::default())
}

/// Loads the pending list of a root, oldest group first.
pub(crate) fn load_chain(
    reader: &PageReader<'_>,
    head: ChainRef,
    history_floor: u64,
    structure_floor: u64,
    content_floor: u64,
) -> Result<VecDeque<PendingGroup>> {
    let mut groups: VecDeque<PendingGroup> = VecDeque::new();
    read_chain(reader, head, history_floor, PENDING_MAGIC, |location, h, page| {
        if groups.front().is_none_or(|g| g.freed != h.written) {
            groups.push_front(PendingGroup {
                freed: h.written,
                structure_released: h.written <= structure_floor,
                content_released: h.written <= content_floor,
                ..Default::default()
            });
        }
        let group = groups.front_mut().expect("pushed above");
        group.pages.push((location, h.written));
        if let Some(s) = PendingPage::summary(page) {
            if s.version != h.written || !summary_is_sane(&s, reader.page_size()) {
                return Err(Error::corrupt(Structure::PendingList, location * SECTOR, "bad version summary"));
            }
            group.summary = Some(s);
        }
        group.records.extend(page_records(page, location, h.written)?);
        Ok(())
    })?;
    Ok(groups)
}

/// Encodes `records` into pages at `locations` (one per page, in order), linked
/// after `prev`, each carrying `summary`. Returns the pages and the new head.
pub(crate) fn encode_chain(
    records: &[PendingRecord],
    locations: &[u64],
    prev: ChainRef,
    version: u64,
    magic: [u8; 4],
    summary: Option<&VersionSummary>,
    page_size: usize,
) -> (Vec<PageWrite>, ChainRef) {
    let capacity = PendingPage::capacity(page_size);
    let mut link = prev;
    let mut out = Vec::new();
    let mut chunks = records.chunks(capacity);
    for &location in locations {
        let chunk = chunks.next().unwrap_or(&[]);
        let mut page = vec![0u8; page_size].into_boxed_slice();
        PendingPage::encode(&mut page, magic, version, &link, summary, chunk);
        link = ChainRef { location, written: version, checksum: hash16(&page) };
        out.push((location, page));
    }
    (out, link)
}

/// Pages a list of `records` needs (at least one when `always`).
pub(crate) fn pages_for(records: usize, page_size: usize, always: bool) -> usize {
    let n = records.div_ceil(PendingPage::capacity(page_size));
    if always { n.max(1) } else { n }
}
