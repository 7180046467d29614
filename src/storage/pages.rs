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
    /// A page may start at sectors `pages.0 ..= pages.1`: it lies in the data
    /// area of the file as the root being read sees it (SPEC.md section 3).
    /// Sector 0 is never a page's (the header is there).
    pages: (u64, u64),
}

/// The sectors a page of `page_size` bytes may start at when it must lie in
/// sectors `start .. end`: for [`PageReader::within_pages`], computed once.
pub(crate) fn page_starts(start: u64, end: u64, page_size: usize) -> (u64, u64) {
    (start.max(1), end.saturating_sub(page_size as u64 / SECTOR))
}

impl<'a> PageReader<'a> {
    /// A reader of `view`, a view of the storage of the store whose version
    /// `pin` holds. The view stays mapped for `'a` (it borrows its storage for
    /// at least that long); the pin keeps writers away for `'a`.
    pub(crate) fn new(view: RawView<'a>, page_size: usize, pin: Pin<'a>) -> PageReader<'a> {
        let _ = pin;
        PageReader { view, page_size, pages: (1, u64::MAX) }
    }

    /// This reader, taking pages only from sectors `start .. end`: a root's
    /// data area, from the first sector after the meta area to its
    /// `file_len`. A page outside it is a typed error, never a slice of the
    /// root slots or of space the file's next growth marks free.
    pub(crate) fn within(self, start: u64, end: u64) -> PageReader<'a> {
        self.within_pages(page_starts(start, end, self.page_size))
    }

    /// [`within`](Self::within), with the bounds [`page_starts`] computed.
    #[inline]
    pub(crate) fn within_pages(self, pages: (u64, u64)) -> PageReader<'a> {
        PageReader { pages, ..self }
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
        if !sector.is_multiple_of(spp) || sector < self.pages.0 || sector > self.pages.1 {
            return Err(self.misplaced(sector, structure));
        }
        self.bytes(sector, self.page_size, structure)
    }

    #[cold]
    fn misplaced(&self, sector: u64, structure: Structure) -> Error {
        let offset = sector.saturating_mul(SECTOR);
        let spp = (self.page_size as u64) / SECTOR;
        if sector == 0 || !sector.is_multiple_of(spp) {
            return Error::corrupt(structure, offset, format!("location {sector} is not a page boundary"));
        }
        let (first, last) = self.pages;
        Error::corrupt(
            structure,
            offset,
            format!("location {sector} lies outside the data area (pages start at sectors {first} ..= {last})"),
        )
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
