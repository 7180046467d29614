//! A reader of files written by mappedpages 0.2.0: a parser of untrusted
//! input. Every offset, count and length read from the file is checked
//! against the file before use; allocations are bounded by the page size or
//! by pages actually present in the file; a damaged file gives a typed
//! [`V02Error`], never a panic. SPEC.md, Appendix C, describes the layout.
//!
//! 0.2's own recovery rules are followed exactly: the superblock names the
//! active metadata page, which must pass its own CRC32 and the superblock's;
//! else the other copy is used if its own CRC32 holds. Directory blocks fall
//! back from the active copy to the other one the same way. Stricter than
//! 0.2, which never checked them on read: the active copy of every protected
//! page must match the CRC32 its directory entry records, and no two
//! structures may claim one physical page.

use std::fmt;
use std::io;

use crate::format::{get_u32, get_u64};

/// 0.2's magic tag, the first four bytes of the file.
pub const V02_TAG: &[u8; 4] = b"MPPG";
/// Pages 0 (superblock), 1 and 2 (metadata A and B) are 0.2's own.
pub const V02_FIRST_DATA_PAGE: u64 = 3;
const SUPERBLOCK_LEN: usize = 20;
const DIR_OFFSET: usize = 20;
const DIR_REF_LEN: usize = 17;
const DIR_ENTRY_LEN: usize = 30;
const META_HEADER: usize = 24;

/// Where a 0.2 file's bytes come from: a file (read with `pread`, a page at a
/// time) or bytes in memory (tests, fuzzing).
pub trait V02Source {
    /// Length in bytes.
    fn len(&self) -> u64;
    /// True for an empty source.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` from `offset`; the range lies within `len()`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl V02Source for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src =
            start.checked_add(buf.len()).and_then(|end| self.get(start..end)).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl V02Source for std::fs::File {
    fn len(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

/// Why a file could not be read as a 0.2 store.
#[derive(Debug)]
#[non_exhaustive]
pub enum V02Error {
    /// Reading the file failed.
    Io {
        /// What was being read.
        context: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file does not start with 0.2's tag `MPPG` (or is shorter than a superblock).
    NotV02,
    /// The tag is there but the version is not one 0.2.0 reads (major 0, minor ≤ 2).
    UnsupportedVersion {
        /// Major version in the superblock.
        major: u8,
        /// Minor version in the superblock.
        minor: u8,
    },
    /// The page size is not a power of two from 1024 to 65536.
    UnsupportedPageSize {
        /// log2 of the page size, as stored.
        log2: u32,
    },
    /// The superblock is damaged (its metadata selector is not 0 or 1).
    Superblock(String),
    /// The file is shorter than its structures say.
    Truncated {
        /// Length of the file.
        len: u64,
        /// Length the structures need.
        needed: u64,
    },
    /// Neither metadata copy (pages 1 and 2) passes its checks.
    Metadata(String),
    /// The directory index in page 0 fails its checks.
    DirectoryIndex(String),
    /// Neither copy of a protected-page directory block passes its checks.
    Directory {
        /// Index of the block.
        block: usize,
        /// What failed.
        detail: String,
    },
    /// A protected page's active copy does not match the CRC32 its directory
    /// entry records.
    ProtectedChecksum {
        /// Its 0.2 id (`ProtectedPageId`).
        id: u64,
        /// Its physical page.
        physical: u64,
    },
    /// A structure points outside the pages the metadata covers, or two
    /// structures claim one physical page.
    BadPage {
        /// The physical page.
        page: u64,
        /// What is wrong.
        detail: String,
    },
}

impl fmt::Display for V02Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V02Error::Io { context, source } => write!(f, "I/O error while {context}: {source}"),
            V02Error::NotV02 => f.write_str("not a mappedpages 0.2 file (no MPPG tag)"),
            V02Error::UnsupportedVersion { major, minor } => {
                write!(f, "written by mappedpages {major}.{minor}, not 0.2 or older")
            }
            V02Error::UnsupportedPageSize { log2 } => write!(f, "unsupported page size 2^{log2}"),
            V02Error::Superblock(d) => write!(f, "damaged 0.2 superblock: {d}"),
            V02Error::Truncated { len, needed } => write!(f, "file is {len} bytes, its structures need {needed}"),
            V02Error::Metadata(d) => write!(f, "both 0.2 metadata copies are damaged: {d}"),
            V02Error::DirectoryIndex(d) => write!(f, "damaged 0.2 directory index: {d}"),
            V02Error::Directory { block, detail } => {
                write!(f, "both copies of 0.2 directory block {block} are damaged: {detail}")
            }
            V02Error::ProtectedChecksum { id, physical } => {
                write!(f, "protected page {id} (physical page {physical}) does not match its recorded CRC32")
            }
            V02Error::BadPage { page, detail } => write!(f, "physical page {page}: {detail}"),
        }
    }
}

impl std::error::Error for V02Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            V02Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One in-use protected page of a 0.2 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V02Protected {
    /// Its 0.2 id (`ProtectedPageId`): directory block × entries per page + slot.
    pub id: u64,
    /// The physical page holding its active (committed) copy.
    pub physical: u64,
    /// Its write generation.
    pub generation: u64,
}

/// What a 0.2 file holds, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V02File {
    /// Page size in bytes.
    pub page_size: usize,
    /// The version bytes of the superblock: major, minor, patch, build.
    pub version: [u8; 4],
    /// Pages the metadata covers (the file holds at least these).
    pub total_pages: u64,
    /// The metadata generation (one more per 0.2 commit).
    pub generation: u64,
    /// The metadata page used (1 or 2).
    pub meta_page: u64,
    /// True when the superblock's choice failed and the other copy was used.
    pub meta_fallback: bool,
    /// Allocated data pages (0.2 `PageId`s), ascending: what
    /// `iter_allocated_pages` yields.
    pub data_pages: Vec<u64>,
    /// In-use protected pages, by ascending id: what
    /// `iter_allocated_protected_pages` yields.
    pub protected: Vec<V02Protected>,
    /// Physical pages of directory blocks (both copies).
    pub directory_pages: Vec<u64>,
}

/// True when `head` (the file's first bytes) carries 0.2's tag.
pub fn is_v02(head: &[u8]) -> bool {
    head.get(..4) == Some(V02_TAG)
}

fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> V02Error {
    move |source| V02Error::Io { context, source }
}

/// Entries of one directory page (0.2's `dir_entries_per_page`).
pub fn entries_per_dir_page(page_size: usize) -> usize {
    page_size.saturating_sub(8 + 4) / DIR_ENTRY_LEN
}

fn max_dir_blocks(page_size: usize) -> usize {
    page_size.saturating_sub(DIR_OFFSET + 4 + 4) / DIR_REF_LEN
}

/// Reads the page size from a 0.2 superblock without checking the rest.
pub fn v02_page_size(source: &(impl V02Source + ?Sized)) -> Result<usize, V02Error> {
    let sb = read_superblock(source)?;
    Ok(sb.page_size)
}

struct Superblock {
    version: [u8; 4],
    page_size: usize,
    active: u64,
    meta_checksum: u32,
}

fn read_superblock(source: &(impl V02Source + ?Sized)) -> Result<Superblock, V02Error> {
    if source.len() < SUPERBLOCK_LEN as u64 {
        return Err(V02Error::NotV02);
    }
    let mut b = [0u8; SUPERBLOCK_LEN];
    source.read_at(0, &mut b).map_err(io_err("reading the 0.2 superblock"))?;
    if !is_v02(&b) {
        return Err(V02Error::NotV02);
    }
    let version = [b[4], b[5], b[6], b[7]];
    if version[0] != 0 || version[1] > 2 {
        return Err(V02Error::UnsupportedVersion { major: version[0], minor: version[1] });
    }
    let log2 = get_u32(&b, 8);
    if !(10..=16).contains(&log2) {
        return Err(V02Error::UnsupportedPageSize { log2 });
    }
    let active = match b[12] {
        0 => 1,
        1 => 2,
        other => return Err(V02Error::Superblock(format!("metadata selector {other} is neither 0 nor 1"))),
    };
    Ok(Superblock { version, page_size: 1 << log2, active, meta_checksum: get_u32(&b, 16) })
}

/// A metadata page that passed its CRC32: (total_pages, generation, bitmap).
fn parse_meta(page: &[u8]) -> Result<(u64, u64, &[u8]), String> {
    let ps = page.len();
    if crc32(&page[..ps - 4]) != get_u32(page, ps - 4) {
        return Err("CRC32 mismatch".into());
    }
    let total = get_u64(page, 0);
    let bitmap_len = total.div_ceil(8);
    if bitmap_len > (ps - 4 - META_HEADER) as u64 {
        return Err(format!("{total} pages do not fit the bitmap of one page"));
    }
    Ok((total, get_u64(page, 8), &page[META_HEADER..META_HEADER + bitmap_len as usize]))
}

/// Parses and checks a whole 0.2 file: superblock, metadata, directory and
/// the protected pages' checksums (which reads each protected page once;
/// data pages are not read).
pub fn parse_v02(source: &(impl V02Source + ?Sized)) -> Result<V02File, V02Error> {
    let sb = read_superblock(source)?;
    let ps = sb.page_size;
    let len = source.len();
    let four = 4 * ps as u64;
    if len < four {
        return Err(V02Error::Truncated { len, needed: four });
    }
    let read_page =
        |n: u64, buf: &mut [u8], context: &'static str| source.read_at(n * ps as u64, buf).map_err(io_err(context));
    let mut page0 = vec![0u8; ps];
    read_page(0, &mut page0, "reading 0.2 page 0")?;

    // Metadata: the superblock's choice (both CRCs), else the other copy (its own).
    let mut active = vec![0u8; ps];
    read_page(sb.active, &mut active, "reading 0.2 metadata")?;
    let first = parse_meta(&active).and_then(|m| {
        if crc32(&active) == sb.meta_checksum { Ok(m) } else { Err("does not match the superblock's CRC32".into()) }
    });
    let other_page = 3 - sb.active;
    let mut other = vec![0u8; ps];
    let (meta_page, meta_fallback, (total, generation, bitmap)) = match first {
        Ok(m) => (sb.active, false, m),
        Err(why_first) => {
            read_page(other_page, &mut other, "reading 0.2 metadata")?;
            match parse_meta(&other) {
                Ok(m) => (other_page, true, m),
                Err(why_other) => {
                    return Err(V02Error::Metadata(format!(
                        "page {}: {why_first}; page {other_page}: {why_other}",
                        sb.active
                    )));
                }
            }
        }
    };
    let needed = total.saturating_mul(ps as u64);
    if needed > len {
        return Err(V02Error::Truncated { len, needed });
    }
    if total < 4 {
        return Err(V02Error::Metadata(format!("{total} pages, fewer than 0.2's reserved ones")));
    }
    // Which physical pages a structure claims; a page claimed twice is damage.
    let mut claimed = vec![false; total as usize];
    for p in claimed.iter_mut().take(V02_FIRST_DATA_PAGE as usize) {
        *p = true;
    }
    let mut claim = |page: u64, what: &str| -> Result<(), V02Error> {
        match claimed.get_mut(usize::try_from(page).unwrap_or(usize::MAX)) {
            None => {
                Err(V02Error::BadPage { page, detail: format!("{what} lies beyond the {total} pages of the file") })
            }
            Some(true) => {
                Err(V02Error::BadPage { page, detail: format!("{what} shares its page with another structure") })
            }
            Some(c) => {
                *c = true;
                Ok(())
            }
        }
    };
    let allocated = |page: u64| bitmap.get((page / 8) as usize).is_some_and(|b| b & (1 << (page % 8)) != 0);

    // Directory index in page 0, then each block (active copy, else the other).
    let count = get_u32(&page0, DIR_OFFSET) as usize;
    let mut refs = Vec::new();
    if count != 0 {
        if crc32(&page0[DIR_OFFSET..ps - 4]) != get_u32(&page0, ps - 4) {
            return Err(V02Error::DirectoryIndex("CRC32 mismatch".into()));
        }
        if count > max_dir_blocks(ps) {
            return Err(V02Error::DirectoryIndex(format!("{count} blocks, more than page 0 holds")));
        }
        for i in 0..count {
            let at = DIR_OFFSET + 4 + i * DIR_REF_LEN;
            let (a, b, sel) = (get_u64(&page0, at), get_u64(&page0, at + 8), page0[at + 16]);
            if sel > 1 {
                return Err(V02Error::DirectoryIndex(format!("block {i} has selector {sel}")));
            }
            refs.push((a, b, sel));
        }
    }
    let epp = entries_per_dir_page(ps);
    let mut directory_pages = Vec::with_capacity(refs.len() * 2);
    let mut protected = Vec::new();
    let mut dir = vec![0u8; ps];
    for (block, &(a, b, sel)) in refs.iter().enumerate() {
        claim(a, "a directory page")?;
        claim(b, "a directory page")?;
        directory_pages.extend([a, b]);
        let (first, second) = if sel == 0 { (a, b) } else { (b, a) };
        let mut parsed = None;
        let mut why = Vec::new();
        for phys in [first, second] {
            read_page(phys, &mut dir, "reading a 0.2 directory page")?;
            match parse_dir(&dir) {
                Ok(entries) => {
                    parsed = Some(entries);
                    break;
                }
                Err(e) => why.push(format!("page {phys}: {e}")),
            }
        }
        let Some(entries) = parsed else {
            return Err(V02Error::Directory { block, detail: why.join("; ") });
        };
        for (slot, e) in entries.into_iter().enumerate() {
            if slot >= epp {
                // 0.2 numbers ids by its own entries per page; a larger
                // capacity than it writes is not a 0.2 directory.
                return Err(V02Error::Directory { block, detail: format!("more than {epp} entries") });
            }
            if !e.in_use {
                continue;
            }
            claim(e.page_a, "a protected page's copy")?;
            claim(e.page_b, "a protected page's copy")?;
            let physical = if e.active_slot == 0 { e.page_a } else { e.page_b };
            let id = (block * epp + slot) as u64;
            read_page(physical, &mut dir, "reading a 0.2 protected page")?;
            if crc32(&dir) != e.checksum {
                return Err(V02Error::ProtectedChecksum { id, physical });
            }
            protected.push(V02Protected { id, physical, generation: e.generation });
        }
    }
    for &p in &directory_pages {
        if !allocated(p) {
            return Err(V02Error::BadPage { page: p, detail: "a directory page is marked free".into() });
        }
    }
    let data_pages: Vec<u64> = (V02_FIRST_DATA_PAGE..total).filter(|&p| allocated(p) && !claimed[p as usize]).collect();
    Ok(V02File {
        page_size: ps,
        version: sb.version,
        total_pages: total,
        generation,
        meta_page,
        meta_fallback,
        data_pages,
        protected,
        directory_pages,
    })
}

struct DirEntry {
    in_use: bool,
    page_a: u64,
    page_b: u64,
    active_slot: u8,
    generation: u64,
    checksum: u32,
}

fn parse_dir(page: &[u8]) -> Result<Vec<DirEntry>, String> {
    let ps = page.len();
    if crc32(&page[..ps - 4]) != get_u32(page, ps - 4) {
        return Err("CRC32 mismatch".into());
    }
    let capacity = get_u32(page, 0) as usize;
    if capacity.saturating_mul(DIR_ENTRY_LEN).saturating_add(8) > ps - 4 {
        return Err(format!("capacity {capacity} does not fit the page"));
    }
    Ok((0..capacity)
        .map(|i| {
            let d = &page[8 + i * DIR_ENTRY_LEN..8 + (i + 1) * DIR_ENTRY_LEN];
            DirEntry {
                in_use: d[0] != 0,
                page_a: get_u64(d, 1),
                page_b: get_u64(d, 9),
                active_slot: d[17],
                generation: get_u64(d, 18),
                checksum: get_u32(d, 26),
            }
        })
        .collect())
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and crc32fast compute it).
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !data.iter().fold(!0u32, |c, &b| TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn hostile_file_v02_short_and_foreign_inputs_are_typed_errors() {
        assert!(matches!(parse_v02(&b"MPPG"[..]), Err(V02Error::NotV02)));
        assert!(matches!(parse_v02(&[0u8; 64][..]), Err(V02Error::NotV02)));
        let mut sb = [0u8; 64];
        sb[..4].copy_from_slice(V02_TAG);
        sb[5] = 3;
        assert!(matches!(parse_v02(&sb[..]), Err(V02Error::UnsupportedVersion { major: 0, minor: 3 })));
        sb[5] = 2;
        sb[8] = 40;
        assert!(matches!(parse_v02(&sb[..]), Err(V02Error::UnsupportedPageSize { log2: 40 })));
        sb[8] = 12;
        assert!(matches!(parse_v02(&sb[..]), Err(V02Error::Truncated { needed: 16384, .. })));
    }
}
