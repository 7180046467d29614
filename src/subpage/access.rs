//! Reading and writing the bytes of allocated sub-pages.

use crate::compat::{MappedPage, PageSource};
use crate::error::{Error, Invalid, Result};
use crate::ids::PageId;
use crate::txn::WriteTxn;

use super::{SubPageAllocator, SubPageId};

impl<const PARENT: usize, const SUB: usize> SubPageAllocator<PARENT, SUB> {
    /// The `SUB` bytes of sub-page `id` as `src` sees them.
    pub fn get<'t, T: PageSource<PARENT>>(&self, src: &'t T, id: SubPageId<PARENT, SUB>) -> Result<&'t MappedPage> {
        let at = self.locate(src, id)?;
        if !at.is_allocated() {
            return Err(Error::NotAllocated(at.blame()));
        }
        let start = at.slot as usize * SUB;
        Ok(&src.read_page(at.parent)?[start..start + SUB])
    }

    /// The `SUB` bytes of sub-page `id`, to change in `txn` (a shadow copy of
    /// the parent page, like [`WriteTxn::page_mut`]).
    pub fn get_mut<'t>(
        &self,
        txn: &'t mut WriteTxn<'_, PARENT>,
        id: SubPageId<PARENT, SUB>,
    ) -> Result<&'t mut MappedPage> {
        let at = self.locate(&*txn, id)?;
        if !at.is_allocated() {
            return Err(Error::NotAllocated(at.blame()));
        }
        let start = at.slot as usize * SUB;
        Ok(&mut txn.page_mut(at.parent)?[start..start + SUB])
    }

    /// Copies `data` (exactly `SUB` bytes) into sub-page `id`.
    pub fn write(&self, txn: &mut WriteTxn<'_, PARENT>, id: SubPageId<PARENT, SUB>, data: &[u8]) -> Result<()> {
        if data.len() != SUB {
            return Err(Error::InvalidArgument(Invalid::WrongLength { expected: SUB, actual: data.len() }));
        }
        self.get_mut(txn, id)?.copy_from_slice(data);
        Ok(())
    }

    /// True when `id` names an allocated sub-page of this allocator in `src`'s
    /// view. Ids that cannot belong to this allocator give their error.
    pub fn contains<T: PageSource<PARENT>>(&self, src: &T, id: SubPageId<PARENT, SUB>) -> Result<bool> {
        match self.locate(src, id) {
            Ok(at) => Ok(at.is_allocated()),
            Err(Error::OutOfRange(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The parent page that holds sub-page `id`.
    pub fn parent_of<T: PageSource<PARENT>>(&self, src: &T, id: SubPageId<PARENT, SUB>) -> Result<PageId> {
        let at = self.locate(src, id)?;
        if !at.is_allocated() {
            return Err(Error::NotAllocated(at.blame()));
        }
        Ok(at.parent)
    }
}
