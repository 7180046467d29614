//! The pending-free list: extents that no root from `freed` on reaches, kept out
//! of the free map until no older version can still be read.

use std::collections::VecDeque;

use crate::error::{Error, Result, Structure};
use crate::format::{ChainRef, NodeHeader, PENDING_MAGIC, PendingPage, PendingRecord, SECTOR, hash16};

/// A page to write: (sector, bytes).
pub(crate) type PageWrite = (u64, Box<[u8]>);

/// The records one commit freed, and the pages of the list that hold them.
#[derive(Clone, Debug, Default)]
pub(crate) struct PendingGroup {
    /// The commit that freed them.
    pub freed: u64,
    pub records: Vec<PendingRecord>,
    /// (sector, written) of the list pages holding these records.
    pub pages: Vec<(u64, u64)>,
}

impl PendingGroup {
    pub fn sectors(&self) -> u64 {
        self.records.iter().map(|r| r.sectors).sum()
    }
}

/// Reads the list from `head` down to `floor`, oldest group first. Checks every
/// page's checksum against its link, and that versions strictly decrease (so a
/// damaged list cannot loop).
pub(crate) fn load_chain(
    reader: &crate::storage::PageReader<'_>,
    head: ChainRef,
    floor: u64,
) -> Result<VecDeque<PendingGroup>> {
    let mut groups: VecDeque<PendingGroup> = VecDeque::new();
    let mut link = head;
    let capacity = PendingPage::capacity(reader.page_size());
    while link.location != 0 && link.written > floor {
        let offset = link.location * SECTOR;
        let page = reader.page(link.location, Structure::PendingList)?;
        if hash16(page) != link.checksum {
            return Err(Error::corrupt(Structure::PendingList, offset, "checksum mismatch"));
        }
        let h = NodeHeader::read(page);
        let count = PendingPage::count(page) as usize;
        if h.magic != PENDING_MAGIC || h.written != link.written || count > capacity {
            return Err(Error::corrupt(Structure::PendingList, offset, "bad pending page header"));
        }
        if groups.front().is_none_or(|g| g.freed != h.written) {
            groups.push_front(PendingGroup { freed: h.written, ..Default::default() });
        }
        let group = groups.front_mut().expect("pushed above");
        group.pages.push((link.location, link.written));
        for i in 0..count {
            let r = PendingRecord { ..PendingPage::record(page, i) };
            if r.freed != h.written || r.sectors == 0 {
                return Err(Error::corrupt(
                    Structure::PendingList,
                    offset,
                    format!("record {i} does not belong to this page"),
                ));
            }
            group.records.push(r);
        }
        let prev = PendingPage::prev(page);
        if prev.location != 0 && prev.written > link.written {
            return Err(Error::corrupt(Structure::PendingList, offset, "link to a newer page"));
        }
        if prev.location != 0 && prev.written == link.written && prev.location == link.location {
            return Err(Error::corrupt(Structure::PendingList, offset, "page links to itself"));
        }
        link = prev;
        if groups.iter().map(|g| g.pages.len() as u64).sum::<u64>() > reader.len() / reader.page_size() as u64 {
            return Err(Error::corrupt(Structure::PendingList, offset, "list longer than the file"));
        }
    }
    Ok(groups)
}

/// Encodes `records` into pages at `locations` (one per page, in order), linked
/// after `prev`. Returns the pages and the new head.
pub(crate) fn encode_chain(
    records: &[PendingRecord],
    locations: &[u64],
    prev: ChainRef,
    version: u64,
    page_size: usize,
) -> (Vec<PageWrite>, ChainRef) {
    let capacity = PendingPage::capacity(page_size);
    let mut link = prev;
    let mut out = Vec::new();
    for (chunk, &location) in records.chunks(capacity).zip(locations) {
        let mut page = vec![0u8; page_size].into_boxed_slice();
        PendingPage::encode(&mut page, version, &link, chunk);
        link = ChainRef { location, written: version, checksum: hash16(&page) };
        out.push((location, page));
    }
    (out, link)
}
