//! Looking into a store without changing it: the page size of a file before
//! it is opened, the header, both root slots, and where each kind of extent
//! lies in the file (the space map). What `mappedpages info` shows.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::{DEADLIST_MAGIC, Entry, Header, MapRef, PENDING_MAGIC, RecordKind, Root, SECTOR};
use crate::ids::Version;
use crate::space::{page_records, read_chain};
use crate::store::Store;
use crate::table::Node;
use crate::versions::load_catalog;
use crate::walk::{Fault, Flow, Visitor, Walk};

/// The page size recorded in the header of the store file at `path`, read
/// (and checked) without opening the store: what a tool that opens stores of
/// any page size needs before it picks `Store::<PAGE_SIZE>`.
///
/// ```
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("s.db");
/// drop(mappedpages::Store::<16384>::create(&path)?);
/// assert_eq!(mappedpages::page_size_of(&path)?, 16384);
/// # Ok(()) }
/// ```
pub fn page_size_of(path: impl AsRef<Path>) -> Result<usize> {
    let mut file = std::fs::File::open(path.as_ref()).map_err(Error::io("opening the file"))?;
    let mut head = Vec::with_capacity(SECTOR as usize);
    file.by_ref().take(SECTOR).read_to_end(&mut head).map_err(Error::io("reading the header"))?;
    Ok(Header::decode(&head)?.page_size as usize)
}

/// One of the two root slots, as [`Store::root_slots`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RootSlot {
    /// 0 or 1.
    pub slot: usize,
    /// Its byte offset in the file.
    pub offset: u64,
    /// `"empty"` (never written, or cleared), `"valid"` (its checksum holds)
    /// or `"damaged"`.
    pub state: String,
    /// True for the slot the store opened.
    pub current: bool,
    /// The version it names (valid slots).
    pub version: Option<Version>,
    /// When that version was committed, nanoseconds since the Unix epoch.
    pub commit_nanos: Option<u64>,
    /// The file length it covers, in bytes.
    pub file_len: Option<u64>,
    /// Why it is damaged.
    pub detail: Option<String>,
}

/// What an extent of the file holds, in a [`SpaceLayout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum SpaceKind {
    /// The header and root slots, table and free-map nodes, the pending list,
    /// the catalog and the deadlists' own pages.
    Metadata,
    /// Data pages of the newest version.
    Live,
    /// Pages the newest version no longer reaches, held for the history
    /// window, an open reader or the root a crash would fall back to.
    History,
    /// Pages held only by snapshots (their deadlists).
    Snapshot,
    /// Free space (and anything no structure reaches).
    Free,
}

/// One run of the file, `len` bytes from byte `start`, all of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SpaceExtent {
    /// Byte offset.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// What it holds.
    pub kind: SpaceKind,
}

/// Where each kind of extent lies in the file, as [`Store::space_map`] finds
/// it: runs in file order that cover `0..file_len` without gaps, adjacent
/// runs of one kind merged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SpaceLayout {
    /// The version mapped.
    pub version: Version,
    /// Page size in bytes.
    pub page_size: usize,
    /// File length the version covers, in bytes.
    pub file_len: u64,
    /// The runs.
    pub extents: Vec<SpaceExtent>,
}

impl SpaceLayout {
    /// Bytes of one kind.
    pub fn bytes(&self, kind: SpaceKind) -> u64 {
        self.extents.iter().filter(|e| e.kind == kind).map(|e| e.len).sum()
    }
}

impl<const P: usize> Store<P> {
    /// The file header the store opened with.
    pub fn header(&self) -> Header {
        self.shared.header
    }

    /// Both root slots as they are in the file now: empty, valid (with the
    /// version each names) or damaged (with why).
    pub fn root_slots(&self) -> Result<Vec<RootSlot>> {
        let txn = self.begin_read()?;
        let reader = txn.reader();
        let current = txn.root.version;
        let geo = &self.shared.geo;
        // A copy taken while no commit writes a slot.
        let meta = self.shared.slots.copy_meta(&reader, geo.meta_len() as usize)?;
        let mut out = Vec::with_capacity(2);
        for slot in 0..2 {
            let offset = geo.root_slot_offset(slot);
            let decoded = Root::decode(meta.get(offset as usize..).unwrap_or_default(), P, geo.layout, offset);
            let mut s = RootSlot {
                slot,
                offset,
                state: String::new(),
                current: false,
                version: None,
                commit_nanos: None,
                file_len: None,
                detail: None,
            };
            match decoded {
                Ok(None) => s.state = "empty".into(),
                Ok(Some(root)) => {
                    s.state = "valid".into();
                    s.current = root.version == current;
                    s.version = Some(Version(root.version));
                    s.commit_nanos = Some(root.commit_nanos);
                    s.file_len = Some(root.file_len);
                }
                Err(e) => {
                    s.state = "damaged".into();
                    s.detail = Some(e.to_string());
                }
            }
            out.push(s);
        }
        Ok(out)
    }

    /// Where live, free, history- and snapshot-held pages and metadata lie in
    /// the file, for the newest version. Reads the table, the free map, the
    /// pending list and the catalog, never a data page; a damaged structure
    /// is an error (`verify` says more).
    ///
    /// ```
    /// use mappedpages::{SpaceKind, Store};
    /// # fn main() -> Result<(), mappedpages::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::<4096>::create(dir.path().join("m.db"))?;
    /// let mut w = store.begin_write()?;
    /// for id in w.alloc_bulk(4)? { w.page_mut(id)?.fill(1); }
    /// w.commit()?;
    /// let map = store.space_map()?;
    /// assert_eq!(map.bytes(SpaceKind::Live), 4 * 4096);
    /// assert_eq!(map.extents.iter().map(|e| e.len).sum::<u64>(), map.file_len);
    /// # Ok(()) }
    /// ```
    pub fn space_map(&self) -> Result<SpaceLayout> {
        let txn = self.begin_read()?;
        let reader = txn.reader();
        let geo = &self.shared.geo;
        let root = &*txn.root;
        let spp = geo.spp;
        let mut collect = Collect { runs: vec![(0, geo.first_data_sector, SpaceKind::Metadata)], spp, error: None };
        let walk = Walk::new(reader, geo);
        let _ = walk.table(&mut collect, &root.table, root.table_depth);
        let _ = walk.map(&mut collect, &root.map, root.map_depth);
        if let Some(e) = collect.error {
            return Err(e);
        }
        let mut runs = collect.runs;
        read_chain(&reader, root.pending, root.history_floor, PENDING_MAGIC, |location, h, page| {
            runs.push((location, spp, SpaceKind::Metadata));
            for r in page_records(page, location, h.written)? {
                let held = match r.kind {
                    RecordKind::Structure => h.written > root.structure_floor,
                    RecordKind::Content => h.written > root.pending_floor,
                };
                if held {
                    runs.push((r.location, r.sectors, SpaceKind::History));
                }
            }
            Ok(())
        })?;
        let (entries, pages) = load_catalog(&reader, root.catalog)?;
        runs.extend(pages.iter().map(|&(l, _)| (l, spp, SpaceKind::Metadata)));
        for entry in entries {
            read_chain(&reader, entry.deadlist, 0, DEADLIST_MAGIC, |location, h, page| {
                runs.push((location, spp, SpaceKind::Metadata));
                for r in page_records(page, location, h.written)? {
                    runs.push((r.location, r.sectors, SpaceKind::Snapshot));
                }
                Ok(())
            })?;
        }
        Ok(SpaceLayout {
            version: Version(root.version),
            page_size: P,
            file_len: root.file_len,
            extents: cover(runs, root.file_len / SECTOR),
        })
    }
}

/// Sorts `(sector, sectors, kind)` runs, fills the gaps below `end` with
/// free runs (a run overlapping one before it is cut to what is left: a
/// damaged file), merges neighbours of one kind, and converts to bytes.
fn cover(mut runs: Vec<(u64, u64, SpaceKind)>, end: u64) -> Vec<SpaceExtent> {
    runs.sort_unstable();
    let mut out: Vec<SpaceExtent> = Vec::new();
    let mut push = |start: u64, stop: u64, kind: SpaceKind| {
        if stop <= start {
            return;
        }
        if let Some(last) = out.last_mut()
            && last.kind == kind
            && last.start + last.len == start * SECTOR
        {
            last.len += (stop - start) * SECTOR;
            return;
        }
        out.push(SpaceExtent { start: start * SECTOR, len: (stop - start) * SECTOR, kind });
    };
    let mut at = 0u64;
    for (start, len, kind) in runs {
        let stop = start.saturating_add(len).min(end);
        let start = start.max(at);
        if start >= stop {
            continue;
        }
        push(at, start, SpaceKind::Free);
        push(start, stop, kind);
        at = stop;
    }
    push(at, end, SpaceKind::Free);
    out
}

/// The space map's walk: table nodes and free-map nodes are metadata, data
/// pages are live.
struct Collect {
    runs: Vec<(u64, u64, SpaceKind)>,
    spp: u64,
    error: Option<Error>,
}

impl<'a> Visitor<'a> for Collect {
    fn fault(&mut self, fault: Fault) -> Flow {
        self.error = Some(fault.into_error());
        Flow::Break(())
    }

    fn table_node(&mut self, r: &crate::format::TableRef, _node: &Node<'a>) {
        self.runs.push((r.location, self.spp, SpaceKind::Metadata));
    }

    fn entry(&mut self, _id: u64, e: &Entry) -> Flow {
        if e.location != 0 {
            self.runs.push((e.location, self.spp, SpaceKind::Live));
        }
        Flow::Continue(())
    }

    fn map_node(&mut self, r: &MapRef, _level: usize, _first: u64, _page: &'a [u8]) {
        self.runs.push((r.location, self.spp, SpaceKind::Metadata));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_fills_gaps_merges_and_cuts_overlaps() {
        let runs = vec![
            (0, 8, SpaceKind::Metadata),
            (16, 8, SpaceKind::Live),
            (24, 8, SpaceKind::Live),
            (20, 8, SpaceKind::History),
        ];
        let got = cover(runs, 48);
        let s = SECTOR;
        assert_eq!(
            got,
            vec![
                SpaceExtent { start: 0, len: 8 * s, kind: SpaceKind::Metadata },
                SpaceExtent { start: 8 * s, len: 8 * s, kind: SpaceKind::Free },
                SpaceExtent { start: 16 * s, len: 8 * s, kind: SpaceKind::Live },
                SpaceExtent { start: 24 * s, len: 4 * s, kind: SpaceKind::History },
                SpaceExtent { start: 28 * s, len: 4 * s, kind: SpaceKind::Live },
                SpaceExtent { start: 32 * s, len: 16 * s, kind: SpaceKind::Free },
            ]
        );
    }
}
