//! The on-disk layout of a directory page, encoded and decoded with explicit
//! little-endian fields. SPEC.md ("Appendix B: sub-page directory") specifies
//! the same bytes; where they disagree, one of them has a bug.
//!
//! Every directory page has the same layout:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `MPSUBDIR` |
//! | 8..12 | directory format, 1 |
//! | 12..16 | `PARENT`, the page size |
//! | 16..20 | `SUB`, the sub-page size |
//! | 20..24 | zero |
//! | 24..32 | the chain's root page id (the root stores its own id) |
//! | 32..40 | the next directory page id, or `u64::MAX` at the end |
//! | 40..44 | entries in use |
//! | 44..48 | entries in use that still have a free slot |
//! | 48..64 | zero |
//! | 64.. | `(PARENT - 64) / 16` entries of 16 bytes: parent page id (u64), occupancy mask (u64) |
//!
//! An entry is in use exactly when its mask is not zero: bit `i` set means slot
//! `i` of the parent page (bytes `i * SUB .. (i + 1) * SUB`) is allocated.
//!
//! [`decode_header`] checks what it returns: the page's length, magic, format,
//! sizes and that the counts fit the page. Entries are read by index, and the
//! callers keep the index below [`capacity`].

use crate::error::{Error, Invalid, Result};

const MAGIC: [u8; 8] = *b"MPSUBDIR";
const DIR_FORMAT: u32 = 1;
const HEADER_LEN: usize = 64;
const ENTRY_LEN: usize = 16;
/// `next` of the last directory page.
pub(super) const NO_PAGE: u64 = u64::MAX;

pub(super) const NOT_A_DIRECTORY: Invalid = Invalid::NotASubPageDirectory;
const OTHER_GEOMETRY: Invalid = Invalid::OtherSubPageGeometry;
pub(super) const OTHER_ALLOCATOR: Invalid = Invalid::OtherSubPageAllocator;
pub(super) const DAMAGED: Invalid = Invalid::DamagedSubPageDirectory;
pub(super) const LOOPS: Invalid = Invalid::SubPageDirectoryLoops;

/// Entries per directory page of `page_size` bytes.
pub(super) const fn capacity(page_size: usize) -> usize {
    (page_size - HEADER_LEN) / ENTRY_LEN
}

fn u32_at(page: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&page[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(page: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&page[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The decoded header of one directory page.
#[derive(Clone, Copy, Debug)]
pub(super) struct DirHeader {
    pub(super) root: u64,
    pub(super) next: u64,
    /// Entries whose mask is not zero.
    pub(super) used: u32,
    /// Entries whose mask is neither zero nor full.
    pub(super) nonfull: u32,
}

pub(super) fn decode_header<const PARENT: usize, const SUB: usize>(page: &[u8]) -> Result<DirHeader> {
    if page.len() != PARENT || page[..8] != MAGIC {
        return Err(Error::InvalidArgument(NOT_A_DIRECTORY));
    }
    if u32_at(page, 8) != DIR_FORMAT {
        return Err(Error::InvalidArgument(NOT_A_DIRECTORY));
    }
    if u32_at(page, 12) as usize != PARENT || u32_at(page, 16) as usize != SUB {
        return Err(Error::InvalidArgument(OTHER_GEOMETRY));
    }
    let header =
        DirHeader { root: u64_at(page, 24), next: u64_at(page, 32), used: u32_at(page, 40), nonfull: u32_at(page, 44) };
    if header.used as usize > capacity(PARENT) || header.nonfull > header.used {
        return Err(Error::InvalidArgument(DAMAGED));
    }
    Ok(header)
}

pub(super) fn put_header<const PARENT: usize, const SUB: usize>(page: &mut [u8], h: &DirHeader) {
    let head = &mut page[..HEADER_LEN];
    head.fill(0);
    head[..8].copy_from_slice(&MAGIC);
    head[8..12].copy_from_slice(&DIR_FORMAT.to_le_bytes());
    head[12..16].copy_from_slice(&(PARENT as u32).to_le_bytes());
    head[16..20].copy_from_slice(&(SUB as u32).to_le_bytes());
    head[24..32].copy_from_slice(&h.root.to_le_bytes());
    head[32..40].copy_from_slice(&h.next.to_le_bytes());
    head[40..44].copy_from_slice(&h.used.to_le_bytes());
    head[44..48].copy_from_slice(&h.nonfull.to_le_bytes());
}

/// Entry `i` of a directory page: (parent page id, occupancy mask). The caller
/// keeps `i` below the page's capacity.
pub(super) fn entry_at(page: &[u8], i: usize) -> (u64, u64) {
    let at = HEADER_LEN + i * ENTRY_LEN;
    (u64_at(page, at), u64_at(page, at + 8))
}

pub(super) fn put_entry(page: &mut [u8], i: usize, parent: u64, mask: u64) {
    let at = HEADER_LEN + i * ENTRY_LEN;
    page[at..at + 8].copy_from_slice(&parent.to_le_bytes());
    page[at + 8..at + 16].copy_from_slice(&mask.to_le_bytes());
}
