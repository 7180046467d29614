//! Transactions: any number of readers, one writer at a time.

mod changes;
mod commit;
mod prefill;
mod read;
mod write;

pub(crate) use changes::Slot;
pub use read::ReadTxn;
pub use write::WriteTxn;

use crate::error::{Error, Result, Structure};
use crate::format::{Entry, SECTOR, hash16};
use crate::ids::PageId;
use crate::storage::PageReader;

/// The logical bytes of an allocated entry, read through `reader`.
pub(crate) fn entry_bytes<'a>(
    reader: &PageReader<'a>,
    zero_page: &'a [u8],
    e: &Entry,
    id: u64,
    check: bool,
) -> Result<&'a [u8]> {
    if !e.is_allocated() {
        return Err(Error::NotAllocated(PageId::from_raw(id)));
    }
    if e.location == 0 {
        return Ok(zero_page);
    }
    if e.codec != 0 || e.stored_len as usize != reader.page_size() {
        return Err(Error::corrupt(
            Structure::Page,
            e.location.saturating_mul(SECTOR),
            format!("page {id}: codec {} / stored length {} unreadable in format v2", e.codec, e.stored_len),
        ));
    }
    let bytes = reader.page(e.location, Structure::Page)?;
    if check && hash16(bytes) != e.content {
        return Err(Error::corrupt(Structure::Page, e.location * SECTOR, format!("page {id}: checksum mismatch")));
    }
    Ok(bytes)
}
