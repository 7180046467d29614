//! Walking what a root reaches and checking it: the full walk behind
//! [`Store::verify`](crate::Store::verify), and the pruned walk that recovery
//! runs on a root whose newest pages may not have reached the disk.

use std::ops::Range;

use crate::error::{Error, Structure};
use crate::format::{
    DEADLIST_MAGIC, Entry, Hash16, Header, MapNode, MapRef, PENDING_MAGIC, PendingPage, RecordKind, Root, SECTOR,
    TableNode, TableRef, VersionSummary, hash16, meta_pages, root_slot_offset,
};
use crate::geometry::{Geometry, child_first};
use crate::ids::{PageId, Version};
use crate::space::bits_in_use;
use crate::space::{page_records, read_chain};
use crate::storage::PageReader;
use crate::store::{Shared, lock};
use crate::table::{internal_content, leaf_content, read_node};
use crate::versions::load_catalog;

/// One damaged structure found by [`Store::verify`](crate::Store::verify).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Which structure.
    pub structure: Structure,
    /// Where it is in the file, in bytes.
    pub offset: u64,
    /// The logical ids whose pages it affects (one id for a damaged page).
    pub ids: Option<Range<u64>>,
    /// The version whose root reaches it.
    pub version: Version,
    /// What check failed.
    pub detail: String,
}

impl Damage {
    /// The logical page this damage is about, when it is one page.
    pub fn page(&self) -> Option<PageId> {
        self.ids.as_ref().filter(|r| r.end == r.start + 1).map(|r| PageId::from_raw(r.start))
    }
}

/// What [`Store::verify`](crate::Store::verify) found.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// The version checked.
    pub version: Version,
    /// Logical pages whose bytes were checked.
    pub pages_checked: u64,
    /// Table, free-map and pending-list nodes checked.
    pub nodes_checked: u64,
    /// Sectors marked in use that nothing reaches (space leaked by a bug).
    pub leaked_sectors: u64,
    /// Everything damaged.
    pub damage: Vec<Damage>,
    /// A root newer than this version that was rejected when the store was
    /// opened: a commit cut short by a crash, or one whose pages were damaged
    /// later (see [`RejectedRoot`](crate::RejectedRoot)).
    pub rejected_root: Option<crate::RejectedRoot>,
}

impl VerifyReport {
    /// True when nothing the current version reaches is damaged.
    pub fn is_clean(&self) -> bool {
        self.damage.is_empty()
    }

    /// True when nothing is damaged and no newer root was rejected at open.
    pub fn is_pristine(&self) -> bool {
        self.damage.is_empty() && self.rejected_root.is_none()
    }
}

/// A walk over one root.
pub(crate) struct Walker<'a> {
    pub reader: PageReader<'a>,
    pub geo: &'a Geometry,
    pub root: &'a Root,
    /// Only nodes written, and pages born, after this version are checked
    /// (0 with `full` checks everything).
    pub since: u64,
    /// Full verify: also summaries, free counts, overlap and leak checks.
    pub full: bool,
    pub zero_hash: Hash16,
    pub damage: Vec<Damage>,
    /// Extents reached, as (first sector, sectors), when `full`.
    pub extents: Vec<(u64, u64)>,
    pub pages_checked: u64,
    pub nodes_checked: u64,
    pub leaked_sectors: u64,
    /// Collect extents only (no cross-check); pending records' extents go to
    /// `pending_extents`, not `extents`.
    pub collect_only: bool,
    /// Extents listed in the pending list (kept for readers, not reached).
    pub pending_extents: Vec<(u64, u64)>,
    /// Versions pinned by snapshots and the history window.
    pub pinned: Vec<VersionSummary>,
    /// Extents the tables of pinned versions reach.
    pub pinned_extents: Vec<(u64, u64)>,
    /// Table nodes already walked (shared between versions), by sector.
    pub seen: std::collections::HashSet<u64>,
}

impl<'a> Walker<'a> {
    pub fn new(reader: PageReader<'a>, geo: &'a Geometry, root: &'a Root, zero_hash: Hash16, full: bool) -> Walker<'a> {
        let since = if full { 0 } else { root.synced_through };
        Walker {
            reader,
            geo,
            root,
            since,
            full,
            zero_hash,
            damage: Vec::new(),
            extents: Vec::new(),
            pages_checked: 0,
            nodes_checked: 0,
            leaked_sectors: 0,
            collect_only: false,
            pending_extents: Vec::new(),
            pinned: Vec::new(),
            pinned_extents: Vec::new(),
            seen: std::collections::HashSet::new(),
        }
    }

    fn report(&mut self, structure: Structure, sector: u64, ids: Option<Range<u64>>, detail: impl Into<String>) {
        self.damage.push(Damage {
            structure,
            offset: sector.saturating_mul(SECTOR),
            ids,
            version: Version(self.root.version),
            detail: detail.into(),
        });
    }

    /// Runs every check this walk is set up for.
    pub fn run(&mut self) {
        if self.root.next_id > self.geo.id_capacity(self.root.table_depth) {
            self.report(Structure::Root, 0, None, "next_id does not fit the table depth");
            return;
        }
        if self.root.file_len / SECTOR > self.geo.sector_capacity(self.root.map_depth) && self.root.map_depth != 0 {
            self.report(Structure::Root, 0, None, "free map does not cover the file");
            return;
        }
        if self.root.file_len > self.reader.len() {
            self.report(
                Structure::File,
                self.reader.len() / SECTOR,
                None,
                format!("file is {} bytes, root needs {}", self.reader.len(), self.root.file_len),
            );
            return;
        }
        if self.root.table_depth > 0 {
            let top = self.root.table;
            self.table(&top, self.root.table_depth as usize - 1, 0);
        }
        if self.root.map_depth > 0 {
            let top = self.root.map;
            self.map(&top, self.root.map_depth as usize - 1, 0);
        }
        self.pending();
        self.catalog();
        if self.full {
            self.pinned_tables();
        }
        if self.full && self.damage.is_empty() && !self.collect_only {
            self.cross_check();
        }
    }

    fn wanted(&self, written: u64) -> bool {
        self.full || written > self.since
    }

    fn table(&mut self, r: &TableRef, level: usize, first: u64) {
        if r.location == 0 {
            if *r != TableRef::default() {
                let ids = first..first.saturating_add(self.geo.id_cover[level]);
                self.report(Structure::TableNode, 0, Some(ids), "an empty subtree's reference is not all zero");
            }
            return;
        }
        if !self.wanted(r.written) {
            return;
        }
        // Versions share subtrees: each node (and what it reaches) is walked once.
        if self.full && !self.seen.insert(r.location) {
            return;
        }
        let ids = first..first.saturating_add(self.geo.id_cover[level]);
        self.nodes_checked += 1;
        let page = match self.reader.page(r.location, Structure::TableNode) {
            Ok(p) => p,
            Err(e) => {
                return self.report(Structure::TableNode, r.location, Some(ids), e.to_string());
            }
        };
        if hash16(page) != r.checksum {
            return self.report(Structure::TableNode, r.location, Some(ids), "checksum mismatch");
        }
        if let Err(e) = read_node(&self.reader, r, level, first) {
            return self.report(Structure::TableNode, r.location, Some(ids), e.to_string());
        }
        if r.written > self.root.version {
            return self.report(Structure::TableNode, r.location, Some(ids), "written after its root");
        }
        if self.full {
            self.extents.push((r.location, self.geo.spp));
        }
        if level == 0 {
            for i in 0..self.geo.leaf_fanout as usize {
                let e = TableNode::entry(page, i);
                self.entry(&e, first.saturating_add(i as u64));
            }
            if self.full {
                let s = leaf_content(page, self.geo.leaf_fanout as usize, first);
                if (s.live, s.max_birth, s.content) != (r.live, r.max_birth, r.content) {
                    self.report(
                        Structure::TableNode,
                        r.location,
                        Some(ids),
                        "summary in parent disagrees with the leaf",
                    );
                }
            }
            return;
        }
        let span = self.geo.id_cover[level - 1];
        for i in 0..self.geo.internal_fanout as usize {
            let c = TableNode::child(page, i);
            if c.written > r.written {
                self.report(
                    Structure::TableNode,
                    r.location,
                    Some(ids.clone()),
                    format!("child {i} newer than its parent"),
                );
                continue;
            }
            self.table(&c, level - 1, child_first(first, i, span));
        }
        if self.full {
            let s = internal_content(page, self.geo.internal_fanout as usize, span, first);
            if (s.live, s.max_birth, s.content) != (r.live, r.max_birth, r.content) {
                self.report(Structure::TableNode, r.location, Some(ids), "summary in parent disagrees with the node");
            }
        }
    }

    fn entry(&mut self, e: &Entry, id: u64) {
        let ids = Some(id..id + 1);
        if !e.is_allocated() {
            if self.full && *e != Entry::default() {
                self.report(Structure::TableNode, 0, ids, "unallocated entry is not zero");
            }
            return;
        }
        if !self.wanted(e.birth) {
            return;
        }
        if e.birth > self.root.version || id >= self.root.next_id {
            return self.report(Structure::Page, e.location, ids, "entry born after its root or beyond next_id");
        }
        self.pages_checked += 1;
        if e.location == 0 {
            if e.stored_len != 0 || e.content != self.zero_hash {
                self.report(Structure::Page, 0, ids, "zero page entry with a length or a non-zero hash");
            }
            return;
        }
        if e.codec != 0 || e.stored_len as usize != self.geo.page_size {
            return self.report(
                Structure::Page,
                e.location,
                ids,
                format!("codec {} / stored length {} not readable by format v2", e.codec, e.stored_len),
            );
        }
        match self.reader.page(e.location, Structure::Page) {
            Ok(bytes) => {
                let h = hash16(bytes);
                if h != e.content || h[..8] != e.stored_check {
                    self.report(Structure::Page, e.location, ids, "checksum mismatch");
                }
            }
            Err(err) => self.report(Structure::Page, e.location, ids, err.to_string()),
        }
        if self.full {
            self.extents.push((e.location, self.geo.spp));
        }
    }

    fn map(&mut self, r: &MapRef, level: usize, first: u64) {
        if r.location == 0 {
            if *r != MapRef::default() {
                self.report(Structure::FreeMap, 0, None, "an absent node's reference is not all zero");
            }
            return;
        }
        if !self.wanted(r.written) {
            return;
        }
        self.nodes_checked += 1;
        let page = match self.reader.page(r.location, Structure::FreeMap) {
            Ok(p) => p,
            Err(e) => return self.report(Structure::FreeMap, r.location, None, e.to_string()),
        };
        if hash16(page) != r.checksum {
            return self.report(Structure::FreeMap, r.location, None, "checksum mismatch");
        }
        if let Err(e) = crate::space::read_map_node(&self.reader, r, level, first) {
            return self.report(Structure::FreeMap, r.location, None, e.to_string());
        }
        if self.full {
            self.extents.push((r.location, self.geo.spp));
        }
        if level == 0 {
            if self.full && crate::space::count_free(MapNode::bits(page)) != r.free {
                self.report(Structure::FreeMap, r.location, None, "free count in parent disagrees with the leaf");
            }
            return;
        }
        let span = self.geo.sector_cover[level - 1];
        let mut free = 0u64;
        for i in 0..self.geo.map_fanout as usize {
            let c = MapNode::child(page, i);
            free = free.saturating_add(c.free);
            if c.written > r.written {
                self.report(Structure::FreeMap, r.location, None, format!("child {i} newer than its parent"));
                continue;
            }
            self.map(&c, level - 1, child_first(first, i, span));
        }
        if self.full && free != r.free {
            self.report(Structure::FreeMap, r.location, None, "free count in parent disagrees with the node");
        }
    }

    fn pending(&mut self) {
        // Opening checks the list as it loads it (`load_chain`, the same read
        // with stricter record checks); reading it here as well hashed every
        // list page twice on each open.
        if !self.full {
            return;
        }
        let root = *self.root;
        let mut summaries = Vec::new();
        let mut records = Vec::new();
        let mut pages = Vec::new();
        let result = read_chain(&self.reader, root.pending, root.history_floor, PENDING_MAGIC, |location, h, page| {
            pages.push(location);
            if let Some(s) = PendingPage::summary(page) {
                summaries.push(s);
            }
            for r in page_records(page, location)? {
                let held = match r.kind {
                    RecordKind::Structure => h.written > root.structure_floor,
                    RecordKind::Content => h.written > root.pending_floor,
                };
                if held {
                    records.push((r.location, r.sectors));
                }
            }
            Ok(())
        });
        self.nodes_checked += pages.len() as u64;
        if let Err(e) = result {
            return self.report_error(Structure::PendingList, e);
        }
        self.extents.extend(pages.iter().map(|&l| (l, self.geo.spp)));
        if self.collect_only {
            self.pending_extents.extend(records);
        } else {
            self.extents.extend(records);
        }
        self.pinned
            .extend(summaries.into_iter().filter(|s| s.version >= root.history_start && s.version < root.version));
    }

    fn catalog(&mut self) {
        if !self.full {
            return;
        }
        let (entries, pages) = match load_catalog(&self.reader, self.root.catalog) {
            Ok(c) => c,
            Err(e) => return self.report_error(Structure::Catalog, e),
        };
        self.nodes_checked += pages.len() as u64;
        self.extents.extend(pages.iter().map(|&(l, _)| (l, self.geo.spp)));
        for entry in entries {
            let mut records = Vec::new();
            let mut lists = Vec::new();
            let result = read_chain(&self.reader, entry.deadlist, 0, DEADLIST_MAGIC, |location, _, page| {
                lists.push(location);
                records.extend(page_records(page, location)?.into_iter().map(|r| (r.location, r.sectors)));
                Ok(())
            });
            if let Err(e) = result {
                self.report_error(Structure::Deadlist, e);
                continue;
            }
            self.nodes_checked += lists.len() as u64;
            self.extents.extend(lists.iter().map(|&l| (l, self.geo.spp)));
            if self.collect_only {
                self.pending_extents.extend(records);
            } else {
                self.extents.extend(records);
            }
            self.pinned.push(entry.summary);
        }
    }

    /// Walks the tables of pinned versions (snapshots, history): their pages
    /// must check out and be held, by the current version or by a record.
    fn pinned_tables(&mut self) {
        let pinned = std::mem::take(&mut self.pinned);
        for s in &pinned {
            let root = Root {
                version: s.version,
                next_id: s.next_id,
                table_depth: s.table_depth,
                table: s.table,
                file_len: self.root.file_len,
                ..Root::default()
            };
            let mut sub = Walker::new(self.reader, self.geo, &root, self.zero_hash, true);
            sub.collect_only = true;
            sub.seen = std::mem::take(&mut self.seen);
            if sub.root.table_depth > 0 {
                let top = sub.root.table;
                sub.table(&top, sub.root.table_depth as usize - 1, 0);
            }
            self.seen = std::mem::take(&mut sub.seen);
            self.damage.append(&mut sub.damage);
            self.pages_checked += sub.pages_checked;
            self.nodes_checked += sub.nodes_checked;
            self.pinned_extents.extend(sub.extents);
        }
        self.pinned = pinned;
    }

    fn report_error(&mut self, structure: Structure, e: Error) {
        match e {
            Error::Corrupt { structure, offset, detail } => {
                self.damage.push(Damage { structure, offset, ids: None, version: Version(self.root.version), detail })
            }
            other => self.report(structure, 0, None, other.to_string()),
        }
    }

    /// Reached extents must not overlap, must lie in the file and be marked in
    /// use; pages of pinned versions must be held; sectors marked in use that
    /// nothing reaches are counted as leaked.
    fn cross_check(&mut self) {
        let mut extents = std::mem::take(&mut self.extents);
        extents.sort_unstable();
        let end = self.root.file_len / SECTOR;
        let mut last_end = self.geo.first_data_sector;
        let mut reached = 0u64;
        for &(start, len) in &extents {
            if start < last_end {
                self.report(
                    Structure::File,
                    start,
                    None,
                    format!("extent at sector {start} overlaps another structure or the header"),
                );
            }
            if start.saturating_add(len) > end {
                self.report(Structure::File, start, None, "extent beyond the file length");
                continue;
            }
            last_end = last_end.max(start + len);
            reached += len;
            match bits_in_use(&self.reader, self.geo, self.root, start, len) {
                Ok(true) => {}
                Ok(false) => self.report(
                    Structure::FreeMap,
                    start,
                    None,
                    format!("reached extent at sector {start} is marked free"),
                ),
                Err(e) => self.report(Structure::FreeMap, start, None, e.to_string()),
            }
        }
        let mut pinned = std::mem::take(&mut self.pinned_extents);
        pinned.sort_unstable();
        pinned.dedup();
        for &(start, len) in &pinned {
            let i = extents.partition_point(|&(s, _)| s <= start);
            let held = i > 0 && {
                let (s, l) = extents[i - 1];
                start + len <= s + l
            };
            if !held {
                self.report(
                    Structure::File,
                    start,
                    None,
                    format!("page at sector {start} of a pinned version is held by nothing"),
                );
            }
        }
        let free = if self.root.map_depth == 0 { 0 } else { self.root.map.free };
        let in_use = end.saturating_sub(self.geo.first_data_sector).saturating_sub(free);
        self.leaked_sectors = in_use.saturating_sub(reached);
        self.extents = extents;
        self.pinned_extents = pinned;
    }
}

impl Walker<'_> {
    /// The walk's findings as an error, for recovery.
    pub fn into_error(self) -> Option<Error> {
        self.damage.first().map(|d| Error::Corrupt {
            structure: d.structure,
            offset: d.offset,
            detail: d.detail.clone(),
        })
    }
}

pub(crate) fn verify_root(shared: &Shared, root: &Root) -> VerifyReport {
    // SAFETY: the caller holds a read transaction pinning `root`.
    let reader = unsafe { shared.reader() };
    let mut walker = Walker::new(reader, &shared.geo, root, shared.zero_hash, true);
    walker.run();
    let mut damage = std::mem::take(&mut walker.damage);
    check_meta_area(shared, &reader, root, &mut damage);
    VerifyReport {
        version: Version(root.version),
        pages_checked: walker.pages_checked,
        nodes_checked: walker.nodes_checked,
        leaked_sectors: walker.leaked_sectors,
        damage,
        rejected_root: lock(&shared.rejected).clone(),
    }
}

/// The header must decode; the other root slot must be empty or a valid root;
/// the rest of the meta area must be zero.
fn check_meta_area(shared: &Shared, reader: &PageReader<'_>, root: &Root, damage: &mut Vec<Damage>) {
    let mut report = |structure, offset, detail: String| {
        damage.push(Damage { structure, offset, ids: None, version: Version(root.version), detail })
    };
    match reader.bytes(0, SECTOR as usize, Structure::Header).and_then(Header::decode) {
        Ok(h) if h == shared.header => {}
        Ok(_) => report(Structure::Header, 0, "header changed since open".into()),
        Err(e) => report(Structure::Header, 0, e.to_string()),
    }
    for slot in 0..2 {
        let offset = root_slot_offset(slot);
        if let Err(e) = reader
            .bytes(offset / SECTOR, SECTOR as usize, Structure::Root)
            .and_then(|b| Root::decode(b, shared.geo.page_size, offset))
        {
            report(Structure::Root, offset, e.to_string());
        }
    }
    let meta_len = (meta_pages(shared.geo.page_size) * shared.geo.page_size as u64) as usize;
    if let Ok(rest) = reader.bytes(3, meta_len - 3 * SECTOR as usize, Structure::File)
        && let Some(i) = rest.iter().position(|&b| b != 0)
    {
        report(Structure::File, 3 * SECTOR + i as u64, "unused bytes of the meta area are not zero".into());
    }
}
