//! Checking what a root reaches: the full check behind
//! [`Store::verify`](crate::Store::verify), and the pruned one that recovery
//! runs on a root whose newest pages may not have reached the disk. The
//! descent itself is `crate::walk`'s; this file holds the checks.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::error::{Error, Structure};
use crate::format::{
    DEADLIST_MAGIC, Entry, Hash16, Header, MapNode, MapRef, PENDING_MAGIC, PendingPage, RecordKind, Root, SECTOR,
    TableRef, VersionSummary,
};
use crate::geometry::Geometry;
use crate::ids::{PageId, Version};
use crate::progress::Progress;
use crate::space::bits_in_use;
use crate::space::{page_records, read_chain};
use crate::storage::PageReader;
use crate::table::{Check, Node, PageFault, Place, internal_content, leaf_content, page_bytes};
use crate::versions::load_catalog;
use crate::walk::{Fault, Flow, Prune, Visitor, Walk};

/// One damaged structure found by [`Store::verify`](crate::Store::verify).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
        self.ids.as_ref().filter(|r| r.start.checked_add(1) == Some(r.end)).map(|r| PageId::from_raw(r.start))
    }
}

/// What [`Store::verify`](crate::Store::verify) found.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// assert!(store.verify()?.is_clean());
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn is_clean(&self) -> bool {
        self.damage.is_empty()
    }

    /// True when nothing is damaged and no newer root was rejected at open.
    pub fn is_pristine(&self) -> bool {
        self.damage.is_empty() && self.rejected_root.is_none()
    }
}

/// What a [`Walker`] is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Recovery's walk of a candidate root: only what was written after its
    /// `synced_through` (checksums, headers, bounds).
    Recovery,
    /// [`Store::verify`](crate::Store::verify): everything, with summaries,
    /// free counts, lists, pinned tables and the overlap and leak checks.
    Verify,
    /// The test harness: as `Verify`, collecting extents without the cross
    /// check; the extents the pending list and deadlists hold go to
    /// `pending_extents`, not `extents`.
    Collect,
    /// The writer's check before the first commit on a file it did not write
    /// (SPEC.md 14, point 6): as `Verify`, but data pages are not hashed;
    /// every node's checksum, the lists, and that the free map marks every
    /// reached extent in use and no two share a sector.
    Structure,
}

/// The checks of one root, on top of [`Walk`]: a [`Visitor`] that files every
/// fault as a [`Damage`] and carries on.
pub(crate) struct Walker<'a> {
    pub reader: PageReader<'a>,
    pub geo: &'a Geometry,
    pub root: &'a Root,
    /// Full verify (`Verify` and `Collect`): also summaries, free counts,
    /// lists, overlap and leak checks.
    full: bool,
    /// `Collect`: no cross check; held extents go to `pending_extents`.
    collect_only: bool,
    /// Hash data pages (all but `Structure`).
    hash_pages: bool,
    pub zero_hash: Hash16,
    pub damage: Vec<Damage>,
    /// Extents reached, as (first sector, sectors), when `full`.
    pub extents: Vec<(u64, u64)>,
    pub pages_checked: u64,
    pub nodes_checked: u64,
    pub leaked_sectors: u64,
    /// Extents listed in the pending list (kept for readers, not reached).
    pub pending_extents: Vec<(u64, u64)>,
    /// Versions pinned by snapshots and the history window.
    pub pinned: Vec<VersionSummary>,
    /// Extents the tables of pinned versions reach.
    pub pinned_extents: Vec<(u64, u64)>,
    /// Table nodes already walked, by sector, with the walk that last reached
    /// each (`walk`): versions share subtrees, but one version's table never
    /// references a node twice.
    seen: HashMap<u64, u32>,
    /// Which table walk this is: 0 for the root's, `1 + i` for pinned version `i`.
    walk: u32,
    /// Free-map nodes walked, by sector (one version's map references each once).
    map_seen: HashSet<u64>,
    /// Told of each page of the root's own table checked; asked to stop.
    progress: Option<&'a dyn Progress>,
    /// The progress asked to stop: the walk ended early.
    pub cancelled: bool,
}

impl<'a> Walker<'a> {
    pub fn new(reader: PageReader<'a>, geo: &'a Geometry, root: &'a Root, zero_hash: Hash16, mode: Mode) -> Walker<'a> {
        Walker {
            reader,
            geo,
            root,
            full: mode != Mode::Recovery,
            collect_only: mode == Mode::Collect,
            hash_pages: mode != Mode::Structure,
            zero_hash,
            damage: Vec::new(),
            extents: Vec::new(),
            pages_checked: 0,
            nodes_checked: 0,
            leaked_sectors: 0,
            pending_extents: Vec::new(),
            pinned: Vec::new(),
            pinned_extents: Vec::new(),
            seen: HashMap::new(),
            walk: 0,
            map_seen: HashSet::new(),
            progress: None,
            cancelled: false,
        }
    }

    /// Reports each page of the root's own table to `progress`, and stops
    /// when it asks to.
    pub fn with_progress(mut self, progress: &'a dyn Progress) -> Walker<'a> {
        self.progress = Some(progress);
        self
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

    /// The tree walk this walker's checks ride on: every check, and for
    /// recovery only what was written after `synced_through`.
    fn walk(&self) -> Walk<'a> {
        let prune = if self.full { Prune::None } else { Prune::WrittenAfter(self.root.synced_through) };
        Walk::new(self.reader, self.geo).pruned(prune).checked(self.root.version, self.root.next_id)
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
        let (root, walk) = (self.root, self.walk());
        // The visitor never stops a walk: every fault is filed. Only a
        // cancel does.
        if let Some(p) = self.progress {
            p.start(if root.table_depth == 0 { 0 } else { root.table.live });
        }
        let _ = walk.table(self, &root.table, root.table_depth);
        if self.cancelled {
            return;
        }
        let _ = walk.map(self, &root.map, root.map_depth);
        self.pending();
        self.catalog();
        if self.full {
            self.pinned_tables();
        }
        if self.full && self.damage.is_empty() && !self.collect_only {
            self.cross_check();
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
            for r in page_records(page, location, h.written)? {
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
            let result = read_chain(&self.reader, entry.deadlist, 0, DEADLIST_MAGIC, |location, h, page| {
                lists.push(location);
                records.extend(page_records(page, location, h.written)?.into_iter().map(|r| (r.location, r.sectors)));
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
        for (i, s) in pinned.iter().enumerate() {
            let root = Root {
                version: s.version,
                next_id: s.next_id,
                table_depth: s.table_depth,
                table: s.table,
                file_len: self.root.file_len,
                ..Root::default()
            };
            let mut sub = Walker::new(self.reader, self.geo, &root, self.zero_hash, Mode::Collect);
            sub.seen = std::mem::take(&mut self.seen);
            sub.walk = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let _ = sub.walk().table(&mut sub, &root.table, root.table_depth);
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
        // The meta area is marked in use, or a writer trusting the map would
        // allocate over the header and the roots.
        match bits_in_use(&self.reader, self.geo, self.root, 0, self.geo.first_data_sector) {
            Ok(true) => {}
            Ok(false) => self.report(Structure::FreeMap, 0, None, "the meta area is marked free"),
            Err(e) => self.report(Structure::FreeMap, 0, None, e.to_string()),
        }
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

/// The checks of each node and entry the walk reaches.
impl<'a> Visitor<'a> for Walker<'a> {
    fn fault(&mut self, fault: Fault) -> Flow {
        let detail = fault.detail();
        self.report(fault.structure, fault.sector, fault.ids, detail);
        Flow::Continue(())
    }

    fn enter_table(&mut self, r: &TableRef, place: Place) -> bool {
        // Versions share subtrees: each node (and what it reaches) is walked
        // once. Within one version's table a node reached twice is damage (and,
        // walked each time, would make the walk exponential in the depth).
        if self.full
            && let Some(last) = self.seen.insert(r.location, self.walk)
        {
            if last == self.walk {
                let ids = Some(place.ids(self.geo));
                self.report(Structure::TableNode, r.location, ids, "table node referenced twice in one version");
            }
            return false;
        }
        self.nodes_checked += 1;
        true
    }

    fn table_node(&mut self, r: &TableRef, _node: &Node<'a>) {
        if self.full {
            self.extents.push((r.location, self.geo.spp));
        }
    }

    fn unallocated(&mut self, id: u64, e: &Entry) {
        if self.full && *e != Entry::default() {
            self.report(Structure::TableNode, 0, Some(id..id.saturating_add(1)), "unallocated entry is not zero");
        }
    }

    fn entry(&mut self, id: u64, e: &Entry) -> Flow {
        if let Some(p) = self.progress.filter(|_| self.walk == 0) {
            if p.cancelled() {
                self.cancelled = true;
                return Flow::Break(());
            }
            p.advance(1);
        }
        let ids = Some(id..id.saturating_add(1));
        self.pages_checked += 1;
        // Verify reads no bytes of a page without extent: no zero page needed.
        let check = if self.hash_pages { Check::Full { zero_hash: self.zero_hash } } else { Check::Trust };
        match page_bytes(&self.reader, &[], e, check) {
            Ok(_) | Err(PageFault::NotAllocated) => {}
            Err(PageFault::ZeroForm) => {
                self.report(Structure::Page, 0, ids, "zero page entry with a length or a non-zero hash")
            }
            Err(PageFault::Unreadable { codec, stored_len }) => {
                self.report(
                    Structure::Page,
                    e.location,
                    ids,
                    format!("codec {codec} / stored length {stored_len} not readable by format v2"),
                );
                return Flow::Continue(());
            }
            Err(PageFault::Checksum) => self.report(Structure::Page, e.location, ids, "checksum mismatch"),
            Err(PageFault::Read(err)) => self.report(Structure::Page, e.location, ids, err.to_string()),
        }
        if self.full && e.location != 0 {
            self.extents.push((e.location, self.geo.spp));
        }
        Flow::Continue(())
    }

    fn leave_table(&mut self, r: &TableRef, node: &Node<'a>) {
        if !self.full {
            return;
        }
        let (first, level) = (node.place.first, node.place.level);
        let (s, what) = if level == 0 {
            (leaf_content(node.page, self.geo.leaf_fanout as usize, first), "summary in parent disagrees with the leaf")
        } else {
            let span = self.geo.id_cover[level - 1];
            (
                internal_content(node.page, self.geo.internal_fanout as usize, span, first),
                "summary in parent disagrees with the node",
            )
        };
        if (s.live, s.max_birth, s.content) != (r.live, r.max_birth, r.content) {
            self.report(Structure::TableNode, r.location, Some(node.place.ids(self.geo)), what);
        }
    }

    fn enter_map(&mut self, r: &MapRef, _level: usize, _first: u64) -> bool {
        if self.full && !self.map_seen.insert(r.location) {
            self.report(Structure::FreeMap, r.location, None, "free-map node referenced twice in one version");
            return false;
        }
        self.nodes_checked += 1;
        true
    }

    fn map_node(&mut self, r: &MapRef, _level: usize, _first: u64, _page: &'a [u8]) {
        if self.full {
            self.extents.push((r.location, self.geo.spp));
        }
    }

    fn leave_map(&mut self, r: &MapRef, level: usize, first: u64, page: &'a [u8]) {
        if !self.full {
            return;
        }
        if level == 0 {
            // Sectors from file_len on are in use, and their bits are 1 (SPEC.md
            // 7), so a leaf's free count is its count of 0 bits.
            let bits = MapNode::bits(page);
            let end = self.root.file_len / SECTOR;
            let past = end.saturating_sub(first);
            let spl = self.geo.sector_cover[0];
            if (past..spl).any(|i| bits.get((i / 8) as usize).is_some_and(|b| b & (1 << (i % 8)) == 0)) {
                self.report(Structure::FreeMap, r.location, None, "a sector at or past file_len is marked free");
            }
            if crate::space::count_free(bits) != r.free {
                self.report(Structure::FreeMap, r.location, None, "free count in parent disagrees with the leaf");
            }
            return;
        }
        let free = (0..self.geo.map_fanout as usize).fold(0u64, |n, i| n.saturating_add(MapNode::child(page, i).free));
        if free != r.free {
            self.report(Structure::FreeMap, r.location, None, "free count in parent disagrees with the node");
        }
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

/// The writer's check of a file it did not write, before its first commit:
/// everything but the data pages' hashes ([`Mode::Structure`]). A free map
/// that marks a reached extent free, or two structures sharing a sector, is
/// an error here rather than a page overwritten under a reader.
pub(crate) fn check_before_write(
    reader: PageReader<'_>,
    geo: &Geometry,
    root: &Root,
    zero_hash: Hash16,
) -> crate::error::Result<()> {
    let mut walker = Walker::new(reader, geo, root, zero_hash, Mode::Structure);
    walker.run();
    match walker.into_error() {
        None => Ok(()),
        Some(Error::Corrupt { structure, offset, detail }) => Err(Error::Corrupt {
            structure,
            offset,
            detail: format!("the file fails the check before the first commit: {detail}"),
        }),
        Some(e) => Err(e),
    }
}

/// The meta area as `verify` checks it: a copy taken while no root was
/// written, and the slot recovery passed over (reported as such, not as damage).
pub(crate) struct MetaCopy<'a> {
    pub bytes: &'a [u8],
    pub passed_over: Option<usize>,
}

/// Verifies everything `root` reaches through `reader` (a reader pinning
/// `root`), and the meta area against the `header` the store opened with.
/// The report's `rejected_root` is left empty for the store to fill in.
pub(crate) fn verify_root(
    reader: PageReader<'_>,
    geo: &Geometry,
    header: &Header,
    root: &Root,
    zero_hash: Hash16,
    meta: MetaCopy<'_>,
    progress: &dyn Progress,
) -> crate::error::Result<VerifyReport> {
    let mut walker = Walker::new(reader, geo, root, zero_hash, Mode::Verify).with_progress(progress);
    walker.run();
    if walker.cancelled {
        return Err(Error::Cancelled);
    }
    let mut damage = std::mem::take(&mut walker.damage);
    check_meta_area(header, geo, meta.bytes, meta.passed_over, root, &mut damage);
    Ok(VerifyReport {
        version: Version(root.version),
        pages_checked: walker.pages_checked,
        nodes_checked: walker.nodes_checked,
        leaked_sectors: walker.leaked_sectors,
        damage,
        rejected_root: None,
    })
}

/// The header must decode and equal the one opened; each root slot must be
/// empty or a valid root, except `passed_over` (the slot recovery passed over,
/// which the store reports as its rejected root, and the next commit clears);
/// the rest of the meta area must be zero. `meta` is a copy of the meta area
/// taken while no root was written.
fn check_meta_area(
    header: &Header,
    geo: &Geometry,
    meta: &[u8],
    passed_over: Option<usize>,
    root: &Root,
    damage: &mut Vec<Damage>,
) {
    let mut report = |structure, offset, detail: String| {
        damage.push(Damage { structure, offset, ids: None, version: Version(root.version), detail })
    };
    match Header::decode(meta) {
        Ok(h) if h == *header => {}
        Ok(_) => report(Structure::Header, 0, "header changed since open".into()),
        Err(e) => report(Structure::Header, 0, e.to_string()),
    }
    let layout = geo.layout;
    for slot in (0..2).filter(|&s| Some(s) != passed_over) {
        let offset = layout.root_slot_offset(slot);
        let record = meta.get(offset as usize..).unwrap_or_default();
        if let Err(e) = Root::decode(record, geo.page_size, layout, offset) {
            report(Structure::Root, offset, e.to_string());
        }
    }
    let passed = |i: u64| passed_over.is_some() && layout.slot_of(i) == passed_over;
    if let Some(i) = (0..meta.len() as u64).find(|&i| meta[i as usize] != 0 && !layout.holds_record(i) && !passed(i)) {
        report(Structure::File, i, "unused bytes of the meta area are not zero".into());
    }
}
