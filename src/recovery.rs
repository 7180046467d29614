//! Recovery (SPEC.md section 10): at open, pick the newest root whose checks
//! hold; before the first commit after open, make it durable (`settle`).

use std::collections::VecDeque;

use crate::error::{Error, Result, Structure};
use crate::format::{CatalogEntry, Hash16, Header, Root, SECTOR};
use crate::geometry::Geometry;
use crate::ids::Version;
use crate::shared::RootSlots;
use crate::space::{PendingGroup, load_chain};
use crate::storage::{PageReader, Pin, Storage};
use crate::verify::{Mode, Walker};
use crate::versions::load_catalog;

/// A root slot passed over at open: it held a root newer than the one
/// recovered that failed its checks, or a record that does not decode (torn or
/// damaged; `version` is then `None`).
///
/// After a crash during a commit this is expected: the commit's pages, or its
/// root record, did not all reach the disk. On a store that was closed cleanly
/// it means that the newest commit's pages or a root record were damaged after
/// they were written (a damaged newest root rolls its commit back). Either way
/// [`Store::rejected_root`](crate::Store::rejected_root) and
/// [`Store::verify`](crate::Store::verify) report it, the same way, until the
/// next commit clears or overwrites the slot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RejectedRoot {
    /// The version it would have opened; `None` when the slot's record does
    /// not decode.
    pub version: Option<Version>,
    /// Its slot (0 or 1).
    pub slot: usize,
    /// The first check it failed.
    pub reason: String,
}

/// What the first commit after open does before writing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SettleRecovery {
    /// Root slot to zero: it holds a root newer than the recovered one, or
    /// garbage.
    pub clear_slot: Option<usize>,
}

/// What recovery found: the root to open and what a writer needs of it.
pub(crate) struct Recovered {
    pub header: Header,
    /// Sizes for the page size and the header's format version.
    pub geo: Geometry,
    pub root: Root,
    /// The slot holding `root`.
    pub slot: usize,
    /// The pending list, oldest group first.
    pub pending: VecDeque<PendingGroup>,
    pub snapshots: Vec<CatalogEntry>,
    /// (sector, written) of the catalog's pages.
    pub catalog_pages: Vec<(u64, u64)>,
    /// A newer root that failed its checks.
    pub rejected: Option<RejectedRoot>,
    /// What the first commit must do before it writes anything.
    pub settle: SettleRecovery,
}

/// Reads the header and picks the newest root that passes recovery's checks;
/// loads its pending list and catalog (both as small as what is pinned, never
/// the data). The storage is borrowed mutably: nothing writes it meanwhile.
pub(crate) fn recover(storage: &mut dyn Storage, page_size: usize, zero_hash: Hash16) -> Result<Recovered> {
    let len = storage.len();
    if len < SECTOR {
        return Err(Error::UnsupportedFormat(format!("file is {len} bytes, shorter than a header")));
    }
    let (pin, storage) = Pin::exclusive(storage);
    let reader = PageReader::new(storage.view(), page_size, pin);
    let header = Header::decode(reader.bytes(0, SECTOR as usize, Structure::Header)?)?;
    if header.page_size as usize != page_size {
        return Err(Error::PageSizeMismatch { on_disk: header.page_size, expected: page_size as u32, path: None });
    }
    let geo = &Geometry::new(page_size, header.layout());
    if len < geo.layout.meta_bytes() {
        return Err(Error::UnsupportedFormat(format!("file is {len} bytes, shorter than the header and roots")));
    }
    let mut candidates = Vec::new();
    let mut rejected = Vec::new();
    let mut garbage: [Option<String>; 2] = [None, None];
    for (slot, garbage) in garbage.iter_mut().enumerate() {
        match geo.decode_root(&reader, slot) {
            Ok(Some(root)) => candidates.push((root, slot)),
            Ok(None) => rejected.push(format!("slot {slot}: empty")),
            Err(e) => {
                rejected.push(format!("slot {slot}: {e}"));
                *garbage = Some(e.to_string());
            }
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0.version));
    let mut chosen = None;
    let mut newest_rejected = None;
    for (root, slot) in candidates {
        match check_candidate(&reader, geo, &root, zero_hash) {
            Ok(loaded) => {
                chosen = Some((root, slot, loaded));
                break;
            }
            Err(e) => {
                rejected.push(format!("slot {slot} (version {}): {e}", root.version));
                if newest_rejected.is_none() {
                    newest_rejected =
                        Some(RejectedRoot { version: Some(Version(root.version)), slot, reason: e.to_string() });
                }
            }
        }
    }
    let Some((root, slot, (pending, (snapshots, catalog_pages)))) = chosen else {
        return Err(Error::NoValidRoot { detail: rejected.join("; ") });
    };
    let other = 1 - slot;
    let newer_rejected = newest_rejected.filter(|r: &RejectedRoot| r.version.is_some_and(|v| v.get() > root.version));
    let garbled = garbage[other].take().map(|reason| RejectedRoot { version: None, slot: other, reason });
    let rejected = newer_rejected.or(garbled);
    let clear_slot = rejected.is_some().then_some(other);
    Ok(Recovered {
        header,
        geo: geo.clone(),
        root,
        slot,
        pending,
        snapshots,
        catalog_pages,
        rejected,
        settle: SettleRecovery { clear_slot },
    })
}

/// Recovery's checks of one root: every page written after `synced_through`
/// matches its checksum (the walk), and the pending list, the catalog and the
/// newest deadlist pages read back whole. Returns the list and catalog.
fn check_candidate(
    reader: &PageReader<'_>,
    geo: &Geometry,
    root: &Root,
    zero_hash: Hash16,
) -> Result<(VecDeque<PendingGroup>, crate::versions::LoadedCatalog)> {
    // Pages of this root lie in its data area.
    let reader = &reader.within(geo.first_data_sector, root.file_len / SECTOR);
    let mut walker = Walker::new(*reader, geo, root, zero_hash, Mode::Recovery);
    walker.run();
    if let Some(e) = walker.into_error() {
        return Err(e);
    }
    let pending = load_chain(reader, root.pending, root.history_floor, root.structure_floor, root.pending_floor)?;
    let catalog = load_catalog(reader, root.catalog)?;
    // A snapshot keeps the version before the commit that made it.
    if let Some(e) = catalog.0.iter().find(|e| e.summary.version >= root.version) {
        let offset = root.catalog.location * SECTOR;
        let detail = format!("snapshot {:?} keeps v{}, not older than its root", e.name, e.summary.version);
        return Err(Error::corrupt(Structure::Catalog, offset, detail));
    }
    for entry in &catalog.0 {
        crate::space::read_chain(
            reader,
            entry.deadlist,
            root.synced_through,
            crate::format::DEADLIST_MAGIC,
            |l, h, p| crate::space::page_records(p, l, h.written).map(|_| ()),
        )?;
    }
    Ok((pending, catalog))
}

/// First commit since open: the recovered root must be durable, and a
/// rejected root gone, before anything overwrites space they reached. A
/// failure poisons the store.
pub(crate) fn settle(
    storage: &dyn Storage,
    slots: &RootSlots,
    pending: &mut Option<SettleRecovery>,
    poisoned: &mut bool,
) -> Result<()> {
    let Some(settle) = *pending else {
        return Ok(());
    };
    *poisoned = true;
    if let Some(slot) = settle.clear_slot {
        slots.clear(storage, slot).map_err(Error::io("clearing a rejected root"))?;
    }
    storage.sync().map_err(Error::io("syncing the recovered root"))?;
    *poisoned = false;
    *pending = None;
    Ok(())
}
