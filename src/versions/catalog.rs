//! The snapshot catalog: reading it, writing it, and checking snapshot names.

use crate::error::{Error, Result, Structure};
use crate::format::{CATALOG_MAGIC, CatalogEntry, CatalogPage, ChainRef, MAX_NAME_LEN, NodeHeader, SECTOR, hash16};
use crate::space::PageWrite;
use crate::storage::PageReader;

/// A catalog as read: its entries, and the (sector, written) of its pages.
pub(crate) type LoadedCatalog = (Vec<CatalogEntry>, Vec<(u64, u64)>);

/// Reads the catalog from `head`.
pub(crate) fn load_catalog(reader: &PageReader<'_>, head: ChainRef) -> Result<LoadedCatalog> {
    let mut entries = Vec::new();
    let mut pages = Vec::new();
    let mut link = head;
    let capacity = CatalogPage::capacity(reader.page_size());
    let max_steps = reader.len() / reader.page_size() as u64 + 1;
    while link.location != 0 {
        let offset = link.location.saturating_mul(SECTOR);
        if pages.len() as u64 >= max_steps {
            return Err(Error::corrupt(Structure::Catalog, offset, "catalog longer than the file"));
        }
        let page = reader.page(link.location, Structure::Catalog)?;
        let h = NodeHeader::read(page);
        let count = CatalogPage::count(page) as usize;
        if hash16(page) != link.checksum
            || h.magic != CATALOG_MAGIC
            || h.level != 0
            || h.written != link.written
            || count > capacity
        {
            return Err(Error::corrupt(Structure::Catalog, offset, "checksum or header mismatch"));
        }
        for i in 0..count {
            let e = CatalogPage::entry(page, i)
                .filter(|e| crate::space::summary_is_sane(&e.summary, reader.page_size()) && e.deadlist.is_canonical())
                .ok_or_else(|| Error::corrupt(Structure::Catalog, offset, format!("entry {i} is not valid")))?;
            entries.push(e);
        }
        pages.push((link.location, link.written));
        let next = CatalogPage::next(page);
        if !next.is_canonical() {
            return Err(Error::corrupt(Structure::Catalog, offset, "an empty link is not all zero"));
        }
        if next.location != 0 && next.written != link.written {
            return Err(Error::corrupt(Structure::Catalog, offset, "catalog pages of different commits"));
        }
        link = next;
    }
    check_order(&entries, head)?;
    Ok((entries, pages))
}

/// Entries in non-decreasing version (snapshots made by one commit share one),
/// names unique: SPEC.md 4.7. O(n log n), so a long catalog opens in time.
fn check_order(entries: &[CatalogEntry], head: ChainRef) -> Result<()> {
    let offset = head.location.saturating_mul(SECTOR);
    if let Some(i) = entries.windows(2).position(|w| w[0].summary.version > w[1].summary.version) {
        return Err(Error::corrupt(
            Structure::Catalog,
            offset,
            format!("entry {} is older than the one before", i + 1),
        ));
    }
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::corrupt(Structure::Catalog, offset, format!("two snapshots are named {:?}", w[0])));
    }
    Ok(())
}

/// Encodes the catalog into pages at `locations`, first page first; returns
/// the pages and the head that links to the first.
pub(crate) fn encode_catalog(
    entries: &[CatalogEntry],
    locations: &[u64],
    version: u64,
    page_size: usize,
) -> (Vec<PageWrite>, ChainRef) {
    let capacity = CatalogPage::capacity(page_size);
    let chunks: Vec<&[CatalogEntry]> = entries.chunks(capacity).collect();
    let mut next = ChainRef::default();
    let mut out = Vec::new();
    // Built back to front: each page links to the one after it.
    for (chunk, &location) in chunks.iter().zip(locations).rev() {
        let mut page = vec![0u8; page_size].into_boxed_slice();
        CatalogPage::encode(&mut page, version, &next, chunk);
        next = ChainRef { location, written: version, checksum: hash16(&page) };
        out.push((location, page));
    }
    (out, next)
}

/// Checks a snapshot name: 1 to 63 bytes.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidName("a snapshot name may not be empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::InvalidName(format!("{} bytes; a snapshot name has at most {MAX_NAME_LEN}", name.len())));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidName("a snapshot name may not contain control characters".into()));
    }
    Ok(())
}
