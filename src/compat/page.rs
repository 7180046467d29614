//! The 0.2 page view, `MappedPage`, and the trait that reads pages from either
//! kind of transaction.

use crate::error::Result;
use crate::ids::PageId;
use crate::txn::{ReadTxn, WriteTxn};

/// The bytes of one page, as 0.2 named them.
///
/// In 0.2 `MappedPage` was an unsized wrapper around `[u8]` that lived in the
/// pager's mapping and was invalidated by a remap. Now a page view is a plain
/// `[u8]` borrowed from a transaction: a [`ReadTxn`] hands out `&MappedPage`
/// straight from the mapping (valid for the transaction's life, whatever the
/// writer does meanwhile), a [`WriteTxn`] hands out `&mut MappedPage` for its
/// shadow copy. The 0.2 accessors `as_bytes` and `as_bytes_mut` come from
/// [`MappedPageExt`]; `len` and `is_empty` are the slice's own.
///
/// ```
/// use mappedpages::compat::{MappedPage, MappedPageExt};
///
/// let bytes = [7u8; 1024];
/// let page: &MappedPage = &bytes;
/// assert_eq!(page.as_bytes()[0], 7);
/// assert_eq!(page.len(), 1024);
/// ```
pub type MappedPage = [u8];

/// The 0.2 accessors of [`MappedPage`], for code written against them.
pub trait MappedPageExt {
    /// The page's bytes (0.2's `MappedPage::as_bytes`).
    fn as_bytes(&self) -> &[u8];
    /// The page's bytes, mutably (0.2's `MappedPage::as_bytes_mut`).
    fn as_bytes_mut(&mut self) -> &mut [u8];
}

impl MappedPageExt for MappedPage {
    fn as_bytes(&self) -> &[u8] {
        self
    }

    fn as_bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// Something pages of size `P` can be read from: a [`ReadTxn`] (one committed
/// version) or a [`WriteTxn`] (the version it is building, its own changes
/// included).
///
/// Code that only reads, such as [`SubPageAllocator::get`](super::SubPageAllocator::get),
/// takes `&impl PageSource<P>` and so works inside and outside a write.
///
/// ```
/// use mappedpages::compat::PageSource;
/// use mappedpages::{PageId, Store};
///
/// fn first_byte<const P: usize>(src: &impl PageSource<P>, id: PageId) -> u8 {
///     src.read_page(id).unwrap()[0]
/// }
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::<4096>::create(dir.path().join("s.db"))?;
/// let mut w = store.begin_write()?;
/// let id = w.alloc()?;
/// w.page_mut(id)?[0] = 9;
/// assert_eq!(first_byte(&w, id), 9);     // the write's own view
/// w.commit()?;
/// assert_eq!(first_byte(&store.begin_read()?, id), 9);
/// # Ok(()) }
/// ```
pub trait PageSource<const P: usize> {
    /// The `P` bytes of page `id` in this source's view.
    fn read_page(&self, id: PageId) -> Result<&[u8]>;

    /// True when `id` is allocated in this source's view.
    fn is_allocated(&self, id: PageId) -> Result<bool>;
}

impl<const P: usize> PageSource<P> for ReadTxn<'_, P> {
    fn read_page(&self, id: PageId) -> Result<&[u8]> {
        self.page(id)
    }

    fn is_allocated(&self, id: PageId) -> Result<bool> {
        self.contains(id)
    }
}

impl<const P: usize> PageSource<P> for WriteTxn<'_, P> {
    fn read_page(&self, id: PageId) -> Result<&[u8]> {
        self.page(id)
    }

    fn is_allocated(&self, id: PageId) -> Result<bool> {
        self.contains(id)
    }
}
