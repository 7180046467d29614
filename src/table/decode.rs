//! The one place where an entry becomes the bytes of its page (SPEC.md 4.4.1):
//! reads ([`ReadTxn::page`](crate::ReadTxn::page), `WriteTxn::page`), export and
//! verify all go through [`page_bytes`].
//!
//! Codecs plug in here: today only codec 0 (raw, `stored_len` = P) is
//! readable, and a raw page is returned as a zero-copy `&[u8]` straight from
//! the mapping, which is what the read path's speed rests on. A compressed page
//! will decode into a buffer owned by the read view (or a cache) at this point;
//! raw pages must stay zero-copy.

use crate::error::{Error, Result, Structure};
use crate::format::{Entry, Hash16, SECTOR, hash16};
use crate::ids::PageId;
use crate::storage::PageReader;

/// How much of an entry [`page_bytes`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Trust the mapping: only what is needed to find the bytes.
    Trust,
    /// Also hash the bytes and compare with the entry's `content`
    /// (`verify_reads`, export).
    Content,
    /// Everything an entry promises (verify, recovery): `content` and
    /// `stored_check` of the bytes, and the all-zero form of an entry without
    /// extent (`stored_len` 0, `content` = `zero_hash`, the hash of a zero
    /// page).
    Full { zero_hash: Hash16 },
}

impl Check {
    /// What a page read checks: the content hash with `verify_reads`
    /// (`Options::verify_reads`), else nothing beyond finding the bytes.
    #[inline]
    pub(crate) fn for_reads(verify_reads: bool) -> Check {
        if verify_reads { Check::Content } else { Check::Trust }
    }
}

/// Why [`page_bytes`] gave no bytes. Callers word it (reads name the page in
/// an [`Error`], verify files a damage report).
#[derive(Debug)]
pub(crate) enum PageFault {
    /// The entry is not allocated.
    NotAllocated,
    /// A codec or stored length this format version cannot read.
    Unreadable { codec: u8, stored_len: u32 },
    /// ([`Check::Full`]) An entry without extent with a length or a hash other
    /// than a zero page's.
    ZeroForm,
    /// The stored bytes do not match the entry's hashes.
    Checksum,
    /// The extent could not be read (not page-aligned, beyond the file).
    Read(Error),
}

/// The logical bytes of the page `e` describes: `zero_page` (P zero bytes) for
/// an entry without extent, the mapped extent for a raw one.
#[inline]
pub(crate) fn page_bytes<'a>(
    reader: &PageReader<'a>,
    zero_page: &'a [u8],
    e: &Entry,
    check: Check,
) -> std::result::Result<&'a [u8], PageFault> {
    if !e.is_allocated() {
        return Err(PageFault::NotAllocated);
    }
    if e.location == 0 {
        if let Check::Full { zero_hash } = check
            && (e.stored_len != 0 || e.content != zero_hash)
        {
            return Err(PageFault::ZeroForm);
        }
        return Ok(zero_page);
    }
    if e.codec != 0 || e.stored_len as usize != reader.page_size() {
        return Err(PageFault::Unreadable { codec: e.codec, stored_len: e.stored_len });
    }
    let bytes = reader.page(e.location, Structure::Page).map_err(PageFault::Read)?;
    match check {
        Check::Trust => {}
        Check::Content => {
            if hash16(bytes) != e.content {
                return Err(PageFault::Checksum);
            }
        }
        Check::Full { .. } => {
            let h = hash16(bytes);
            if h != e.content || h[..8] != e.stored_check {
                return Err(PageFault::Checksum);
            }
        }
    }
    Ok(bytes)
}

/// [`page_bytes`] for a read of page `id`: the fault as the [`Error`] a reader
/// gets. Reads check as [`Check::for_reads`] says; export, which must not
/// carry damage into its copy, checks [`Check::Full`].
#[inline]
pub(crate) fn read_page<'a>(
    reader: &PageReader<'a>,
    zero_page: &'a [u8],
    e: &Entry,
    id: u64,
    check: Check,
) -> Result<&'a [u8]> {
    page_bytes(reader, zero_page, e, check).map_err(|fault| read_error(fault, e, id))
}

#[cold]
fn read_error(fault: PageFault, e: &Entry, id: u64) -> Error {
    match fault {
        PageFault::NotAllocated => Error::NotAllocated(PageId::from_raw(id)),
        PageFault::Unreadable { codec, stored_len } => Error::corrupt(
            Structure::Page,
            e.location.saturating_mul(SECTOR),
            format!("page {id}: codec {codec} / stored length {stored_len} unreadable in format v2"),
        ),
        PageFault::Checksum => {
            Error::corrupt(Structure::Page, e.location * SECTOR, format!("page {id}: checksum mismatch"))
        }
        PageFault::ZeroForm => Error::corrupt(
            Structure::TableNode,
            0,
            format!("page {id}: an entry without an extent is not in the all-zero form"),
        ),
        PageFault::Read(err) => err,
    }
}
