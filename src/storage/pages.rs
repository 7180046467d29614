//! Bounds-checked page reads out of a [`RawView`]: the one place where the
//! store's structures are turned into slices.

use std::marker::PhantomData;

use super::RawView;
use crate::error::{Error, Result, Structure};
use crate::format::SECTOR;

/// Reads pages and extents of one view, for the lifetime `'a` of a pin.
///
/// Every slice it returns lies inside the view (checked). Constructing a
/// `PageReader` is `unsafe` because the caller promises that, for `'a`, nothing
/// writes the extents it will read: they are reached by a root pinned for `'a`
/// (see SPEC.md, "Soundness").
#[derive(Clone, Copy)]
pub struct PageReader<'a> {
    view: RawView,
    page_size: usize,
    _pin: PhantomData<&'a [u8]>,
}

impl<'a> PageReader<'a> {
    /// # Safety
    ///
    /// For `'a`, the storage behind `view` lives, and no extent read through this
    /// reader is written (each is reached by a root pinned for `'a`, or the
    /// storage has no writer at all).
    pub unsafe fn new(view: RawView, page_size: usize) -> PageReader<'a> {
        PageReader { view, page_size, _pin: PhantomData }
    }

    /// The page size.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Bytes in the view.
    pub fn len(&self) -> u64 {
        self.view.len() as u64
    }

    /// The page starting at `sector`, which must be page-aligned and inside the file.
    pub fn page(&self, sector: u64, structure: Structure) -> Result<&'a [u8]> {
        let spp = (self.page_size as u64) / SECTOR;
        let offset = sector.saturating_mul(SECTOR);
        if sector == 0 || !sector.is_multiple_of(spp) {
            return Err(Error::corrupt(structure, offset, format!("location {sector} is not a page boundary")));
        }
        self.bytes(sector, self.page_size, structure)
    }

    /// `len` bytes starting at `sector`.
    pub fn bytes(&self, sector: u64, len: usize, structure: Structure) -> Result<&'a [u8]> {
        let offset = sector.saturating_mul(SECTOR);
        // SAFETY: the constructor's contract: what we read is pinned for 'a; the
        // range itself is checked by `slice`.
        match unsafe { self.view.slice(offset, len) } {
            Some(s) => Ok(s),
            None => Err(Error::corrupt(
                structure,
                offset,
                format!("{len} bytes at {offset} lie beyond the end of the file ({})", self.view.len()),
            )),
        }
    }
}
