//! The free map and the lists of a commit: the pending list's new group, the
//! deadlists that grow and the catalog, placed together with the free map's
//! own nodes until stable (placing a page can change the free map).

use crate::error::Result;
use crate::format::{
    CatalogEntry, CatalogPage, ChainRef, DEADLIST_MAGIC, MapRef, PENDING_MAGIC, PendingRecord, VersionSummary,
};
use crate::space::{Allocator, Batch, PendingGroup, encode_chain, pages_for};
use crate::versions::retention::{DeadlistAdds, key};

/// What goes into the lists besides this commit's frees.
pub(super) struct ListInput<'a> {
    /// The head of the pending list before this commit.
    pub pending_head: ChainRef,
    /// Records of earlier groups that only transient pins still need.
    pub carried: Vec<PendingRecord>,
    /// The catalog after this commit's version operations.
    pub snapshots: Vec<CatalogEntry>,
    /// Records that go to snapshots' deadlists.
    pub adds: &'a DeadlistAdds,
    /// The catalog is written again.
    pub catalog_changed: bool,
    /// The summary of the new version, stored with its group when the history
    /// window keeps versions.
    pub summary: Option<VersionSummary>,
}

/// The free map and lists as written.
pub(super) struct Lists {
    pub map_top: MapRef,
    pub map_depth: u8,
    /// The new pending group (none when the commit freed nothing).
    pub group: Option<PendingGroup>,
    pub pending_head: ChainRef,
    pub snapshots: Vec<CatalogEntry>,
    /// The new catalog head and pages, when it was written.
    pub catalog: Option<(ChainRef, Vec<(u64, u64)>)>,
}

pub(super) fn write(space: &mut Allocator<'_, '_>, batch: &mut Batch, input: ListInput<'_>) -> Result<Lists> {
    let page_size = space.map.geo().page_size;
    let version = batch.version;
    let history = input.summary.is_some();
    let mut snapshots = input.snapshots;
    // Deadlists in catalog order, with the pages each needs.
    let deadlists: Vec<(usize, &Vec<PendingRecord>)> =
        snapshots.iter().enumerate().filter_map(|(i, s)| input.adds.get(&key(s)).map(|r| (i, r))).collect();
    let deadlist_pages: Vec<usize> = deadlists.iter().map(|(_, r)| pages_for(r.len(), page_size, false)).collect();
    let fixed: usize = deadlist_pages.iter().sum();
    let catalog_n = if input.catalog_changed { snapshots.len().div_ceil(CatalogPage::capacity(page_size)) } else { 0 };
    let carried_n = input.carried.len();
    let (map_top, map_depth, extra) =
        space.commit_map(batch, |frees| pages_for(frees + carried_n, page_size, history) + fixed + catalog_n)?;

    let mut records = std::mem::take(&mut batch.frees);
    records.extend(input.carried);
    let n_chain = pages_for(records.len(), page_size, history);
    let (chain_locations, rest) = extra.split_at(n_chain);
    let (chain_pages, head) = encode_chain(
        &records,
        chain_locations,
        input.pending_head,
        version,
        PENDING_MAGIC,
        input.summary.as_ref(),
        page_size,
    );
    let group = (!chain_pages.is_empty()).then(|| PendingGroup {
        freed: version,
        summary: input.summary,
        pages: chain_pages.iter().map(|(l, _)| (*l, version)).collect(),
        records,
        structure_released: false,
        content_released: false,
    });
    batch.writes.extend(chain_pages);

    let (deadlist_locations, catalog_locations) = rest.split_at(fixed);
    let mut at = 0;
    for (&(snap, adds), &n) in deadlists.iter().zip(&deadlist_pages) {
        let entry = &mut snapshots[snap];
        let (pages, head) = encode_chain(
            adds,
            &deadlist_locations[at..at + n],
            entry.deadlist,
            version,
            DEADLIST_MAGIC,
            None,
            page_size,
        );
        at += n;
        entry.deadlist = head;
        entry.deadlist_sectors += adds.iter().map(|r| r.sectors).sum::<u64>();
        batch.writes.extend(pages);
    }
    let catalog = input.catalog_changed.then(|| {
        let (pages, head) = crate::versions::encode_catalog(&snapshots, catalog_locations, version, page_size);
        let list = pages.iter().map(|(l, _)| (*l, version)).collect();
        batch.writes.extend(pages);
        (head, list)
    });
    Ok(Lists {
        map_top,
        map_depth,
        pending_head: if group.is_some() { head } else { input.pending_head },
        group,
        snapshots,
        catalog,
    })
}
