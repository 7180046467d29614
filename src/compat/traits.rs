//! The 0.2 allocator traits: `PageHandle`, `PageAllocator`, `BulkPageAllocator`.
//!
//! In 0.2 the pager itself was the allocator and every call was its own commit.
//! Now the allocator is a [`WriteTxn`]: `alloc`, `free` and the bulk calls change
//! the transaction's view, and all of them become durable together at
//! [`commit`](WriteTxn::commit). The sub-page allocator implements the same
//! traits through [`SubPageTxn`](super::SubPageTxn).

use crate::error::{Error, Result};
use crate::ids::PageId;
use crate::txn::WriteTxn;

use super::MappedPage;

/// A handle to an allocated page that borrows its contents back from the
/// allocator that produced it.
///
/// `Mut` names the mutable accessor: for a [`PageId`] in a [`WriteTxn`] it is
/// `&mut MappedPage`, the transaction's shadow copy (0.2's protected pages
/// needed a separate writer; every page is protected now).
///
/// [`PageId`] has an inherent `get()` that returns the id's number, so
/// `id.get(&txn)` does not reach this trait for a `PageId`: write
/// `PageHandle::get(&id, &txn)` (or read with [`WriteTxn::page`]).
/// `id.get_mut(&mut txn)` works as in 0.2.
///
/// ```
/// use mappedpages::compat::{MappedPageExt, PageAllocator, PageHandle};
/// use mappedpages::{PageId, Store};
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::<4096>::create(dir.path().join("s.db"))?;
/// let mut w = store.begin_write()?;
/// let id: PageId = PageAllocator::alloc(&mut w)?;
/// id.get_mut(&mut w)?.as_bytes_mut()[0] = 1;
/// // `PageId::get()` returns the id's number; call the trait's `get` by path.
/// assert_eq!(PageHandle::get(&id, &w)?.as_bytes()[0], 1);
/// w.commit()?;
/// # Ok(()) }
/// ```
pub trait PageHandle<A: ?Sized> {
    /// The error returned by [`get`](Self::get) and [`get_mut`](Self::get_mut).
    type Error;

    /// What [`get_mut`](Self::get_mut) returns.
    type Mut<'a>: 'a
    where
        A: 'a,
        Self: 'a;

    /// Borrows the page's bytes from `allocator`.
    fn get<'a>(&self, allocator: &'a A) -> Result<&'a MappedPage, Self::Error>;

    /// Borrows the page's bytes mutably through `allocator`.
    fn get_mut<'a>(&self, allocator: &'a mut A) -> Result<Self::Mut<'a>, Self::Error>;
}

/// A [`PageHandle`] whose mutable view is the page's bytes, as it is for every
/// handle of this crate ([`PageId`] and [`SubPageId`](super::SubPageId)).
///
/// Generic code that writes pages bounds on this trait. Naming
/// `PageHandle::Mut` instead would need `for<'a> H::Mut<'a>: …`, which forces
/// the allocator to be `'static` (a [`WriteTxn`] borrows its store).
///
/// ```
/// use mappedpages::compat::{BulkPageAllocator, PageHandleMut};
/// use mappedpages::{Error, Store};
///
/// fn number_pages<A, H>(allocator: &mut A, n: usize) -> Result<Vec<H>, Error>
/// where
///     A: BulkPageAllocator<H, Error = Error>,
///     H: PageHandleMut<A, Error = Error>,
/// {
///     let ids = allocator.alloc_bulk(n)?;
///     for (i, id) in ids.iter().enumerate() {
///         id.get_bytes_mut(allocator)?[0] = i as u8;
///     }
///     Ok(ids)
/// }
/// # fn main() -> Result<(), Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::<4096>::create(dir.path().join("s.db"))?;
/// let mut w = store.begin_write()?;
/// let pages = number_pages(&mut w, 3)?;
/// let subs = mappedpages::SubPageAllocator::<4096, 512>::create(&mut w)?;
/// let small = number_pages(&mut subs.bind(&mut w), 3)?;
/// assert_eq!(w.page(pages[2])?[0], 2);
/// assert_eq!(subs.get(&w, small[2])?[0], 2);
/// w.commit()?;
/// # Ok(()) }
/// ```
pub trait PageHandleMut<A: ?Sized>: PageHandle<A> {
    /// Borrows the page's bytes mutably through `allocator`.
    fn get_bytes_mut<'a>(&self, allocator: &'a mut A) -> Result<&'a mut MappedPage, Self::Error>;
}

/// Allocates and frees pages named by handles of type `H`.
///
/// Implemented by [`WriteTxn`] for [`PageId`] and by
/// [`SubPageTxn`](super::SubPageTxn) for [`SubPageId`](super::SubPageId).
/// Nothing is durable until the write transaction commits; dropping it undoes
/// every call.
pub trait PageAllocator<H: PageHandle<Self>>: Sized {
    /// The error returned by [`alloc`](Self::alloc) and [`free`](Self::free).
    type Error;

    /// Allocates a page (it reads as zeros) and returns its handle.
    fn alloc(&mut self) -> Result<H, Self::Error>;

    /// Frees a page.
    fn free(&mut self, id: H) -> Result<(), Self::Error>;
}

/// [`PageAllocator`] plus bulk calls.
///
/// `free_bulk` checks every handle before freeing any: one bad handle (not
/// allocated, out of range, listed twice) fails the call and changes nothing.
/// `alloc_bulk` either returns `count` handles or, on failure, frees what it had
/// allocated before returning the error.
pub trait BulkPageAllocator<H: PageHandle<Self>>: PageAllocator<H> {
    /// Allocates `count` pages.
    fn alloc_bulk(&mut self, count: usize) -> Result<Vec<H>, Self::Error>;

    /// Frees every page in `ids`, or none.
    fn free_bulk(&mut self, ids: Vec<H>) -> Result<(), Self::Error>;
}

impl<'s, const P: usize> PageHandle<WriteTxn<'s, P>> for PageId {
    type Error = Error;
    type Mut<'a>
        = &'a mut MappedPage
    where
        WriteTxn<'s, P>: 'a;

    fn get<'a>(&self, txn: &'a WriteTxn<'s, P>) -> Result<&'a MappedPage> {
        txn.page(*self)
    }

    fn get_mut<'a>(&self, txn: &'a mut WriteTxn<'s, P>) -> Result<&'a mut MappedPage> {
        txn.page_mut(*self)
    }
}

impl<const P: usize> PageHandleMut<WriteTxn<'_, P>> for PageId {
    fn get_bytes_mut<'a>(&self, txn: &'a mut WriteTxn<'_, P>) -> Result<&'a mut MappedPage> {
        txn.page_mut(*self)
    }
}

impl<const P: usize> PageAllocator<PageId> for WriteTxn<'_, P> {
    type Error = Error;

    fn alloc(&mut self) -> Result<PageId> {
        WriteTxn::alloc(self)
    }

    fn free(&mut self, id: PageId) -> Result<()> {
        WriteTxn::free(self, id)
    }
}

impl<const P: usize> BulkPageAllocator<PageId> for WriteTxn<'_, P> {
    fn alloc_bulk(&mut self, count: usize) -> Result<Vec<PageId>> {
        let mut ids = Vec::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            match WriteTxn::alloc(self) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    // Allocated in this transaction, so freeing them cannot fail
                    // for a reason the caller could act on.
                    let _ = WriteTxn::free_bulk(self, &ids);
                    return Err(e);
                }
            }
        }
        Ok(ids)
    }

    fn free_bulk(&mut self, ids: Vec<PageId>) -> Result<()> {
        WriteTxn::free_bulk(self, &ids)
    }
}
