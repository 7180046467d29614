//! [`SubPageTxn`]: an allocator bound to a write transaction, which implements
//! the 0.2 traits.

use crate::compat::{BulkPageAllocator, MappedPage, PageAllocator, PageHandle, PageHandleMut};
use crate::error::{Error, Result};
use crate::txn::WriteTxn;

use super::{SubPageAllocator, SubPageId};

impl<const PARENT: usize, const SUB: usize> SubPageAllocator<PARENT, SUB> {
    /// This allocator bound to a write transaction, for the 0.2 traits
    /// ([`PageAllocator`], [`BulkPageAllocator`], [`PageHandle`]).
    pub fn bind<'t, 's>(&self, txn: &'t mut WriteTxn<'s, PARENT>) -> SubPageTxn<'t, 's, PARENT, SUB> {
        SubPageTxn { allocator: *self, txn }
    }
}

/// A [`SubPageAllocator`] bound to a [`WriteTxn`]: the allocator value of the
/// 0.2 traits, made by [`SubPageAllocator::bind`].
///
/// ```
/// use mappedpages::compat::{BulkPageAllocator, PageAllocator, PageHandle, SubPageAllocator};
/// use mappedpages::Store;
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::<4096>::create(dir.path().join("s.db"))?;
/// let mut w = store.begin_write()?;
/// let subs = SubPageAllocator::<4096, 1024>::create(&mut w)?;
/// let mut bound = subs.bind(&mut w);
/// let ids = bound.alloc_bulk(6)?;            // two parent pages
/// ids[5].get_mut(&mut bound)?[0] = 42;
/// assert_eq!(ids[5].get(&bound)?[0], 42);
/// bound.free_bulk(ids[..4].to_vec())?;      // the first parent is freed
/// assert_eq!(subs.check(&w)?.parent_pages, 1);
/// w.commit()?;
/// # Ok(()) }
/// ```
pub struct SubPageTxn<'t, 's, const PARENT: usize, const SUB: usize> {
    allocator: SubPageAllocator<PARENT, SUB>,
    txn: &'t mut WriteTxn<'s, PARENT>,
}

impl<'s, const PARENT: usize, const SUB: usize> SubPageTxn<'_, 's, PARENT, SUB> {
    /// The allocator.
    pub fn allocator(&self) -> SubPageAllocator<PARENT, SUB> {
        self.allocator
    }

    /// The write transaction, for work on whole pages in between.
    pub fn txn(&mut self) -> &mut WriteTxn<'s, PARENT> {
        &mut *self.txn
    }
}

impl<const PARENT: usize, const SUB: usize> PageAllocator<SubPageId<PARENT, SUB>> for SubPageTxn<'_, '_, PARENT, SUB> {
    type Error = Error;

    fn alloc(&mut self) -> Result<SubPageId<PARENT, SUB>> {
        self.allocator.alloc(self.txn)
    }

    fn free(&mut self, id: SubPageId<PARENT, SUB>) -> Result<()> {
        self.allocator.free(self.txn, id)
    }
}

impl<const PARENT: usize, const SUB: usize> BulkPageAllocator<SubPageId<PARENT, SUB>>
    for SubPageTxn<'_, '_, PARENT, SUB>
{
    fn alloc_bulk(&mut self, count: usize) -> Result<Vec<SubPageId<PARENT, SUB>>> {
        self.allocator.alloc_bulk(self.txn, count)
    }

    fn free_bulk(&mut self, ids: Vec<SubPageId<PARENT, SUB>>) -> Result<()> {
        self.allocator.free_bulk(self.txn, &ids)
    }
}

impl<'t, 's, const PARENT: usize, const SUB: usize> PageHandle<SubPageTxn<'t, 's, PARENT, SUB>>
    for SubPageId<PARENT, SUB>
{
    type Error = Error;
    type Mut<'a>
        = &'a mut MappedPage
    where
        SubPageTxn<'t, 's, PARENT, SUB>: 'a;

    fn get<'a>(&self, bound: &'a SubPageTxn<'t, 's, PARENT, SUB>) -> Result<&'a MappedPage> {
        bound.allocator.get(&*bound.txn, *self)
    }

    fn get_mut<'a>(&self, bound: &'a mut SubPageTxn<'t, 's, PARENT, SUB>) -> Result<&'a mut MappedPage> {
        bound.allocator.get_mut(bound.txn, *self)
    }
}

impl<const PARENT: usize, const SUB: usize> PageHandleMut<SubPageTxn<'_, '_, PARENT, SUB>> for SubPageId<PARENT, SUB> {
    fn get_bytes_mut<'a>(&self, bound: &'a mut SubPageTxn<'_, '_, PARENT, SUB>) -> Result<&'a mut MappedPage> {
        bound.allocator.get_mut(bound.txn, *self)
    }
}
