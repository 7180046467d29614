//! Bounds-checked page reads out of a [`RawView`]: the one place where the
//! store's structures are turned into slices.

use super::RawView;
use super::pin::Pin;
use crate::error::{Error, Result, Structure};
use crate::format::SECTOR;

/// Reads pages and extents of one view, for the lifetime `'a` of a pin.
///
/// Every slice it returns lies inside the view (checked), and nothing writes
/// it for `'a`: making a reader takes a [`Pin`] for `'a` (see the `pin`
/// module and SPEC.md, "Soundness").
#[derive(Clone, Copy)]
pub struct PageReader<'a> {
    view: RawView<'a>,
    page_size: usize,
}

impl<'a> PageReader<'a> {
    /// A reader of `view`, a view of the storage of the store whose version
    /// `pin` holds. The view stays mapped for `'a` (it borrows its storage for
    /// at least that long); the pin keeps writers away for `'a`.
    pub(crate) fn new(view: RawView<'a>, page_size: usize, pin: Pin<'a>) -> PageReader<'a> {
        let _ = pin;
        PageReader { view, page_size }
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
        // SAFETY: the reader was made with a `Pin<'a>`: for 'a nothing writes
        // what it reads (a pin is made only from a hold in the store's pin
        // table or from the storage borrowed mutably). The view is a
        // `RawView<'a>`, mapped for 'a; the range itself is checked by `slice`.
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
