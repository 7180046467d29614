//! Reading and writing the bytes of allocated sub-pages.

use crate::compat::{MappedPage, PageSource};
use crate::error::{Error, Invalid, Result};
use crate::ids::PageId;
use crate::txn::WriteTxn;

use super::{SubPageAllocator, SubPageId};

impl<const PARENT: usize, const SUB: usize> SubPageAllocator<PARENT, SUB> {
    /// The `SUB` bytes of sub-page `id` as `src` sees them.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let s = subs.alloc(&mut w)?;
    /// subs.get_mut(&mut w, s)?[0] = 3;
    /// w.commit()?;
    /// assert_eq!(subs.get(&store.begin_read()?, s)?[0], 3); // from a reader, or a write txn
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let s = subs.alloc(&mut w)?;
    /// subs.get_mut(&mut w, s)?.fill(1);
    /// assert!(subs.get(&w, s)?.iter().all(|&b| b == 1));
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let s = subs.alloc(&mut w)?;
    /// subs.write(&mut w, s, &[7u8; 512])?;
    /// assert!(subs.write(&mut w, s, &[7u8; 3]).is_err()); // the wrong length, both named
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn write(&self, txn: &mut WriteTxn<'_, PARENT>, id: SubPageId<PARENT, SUB>, data: &[u8]) -> Result<()> {
        if data.len() != SUB {
            return Err(Error::InvalidArgument(Invalid::WrongLength { expected: SUB, actual: data.len() }));
        }
        self.get_mut(txn, id)?.copy_from_slice(data);
        Ok(())
    }

    /// True when `id` names an allocated sub-page of this allocator in `src`'s
    /// view. Ids that cannot belong to this allocator give their error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let s = subs.alloc(&mut w)?;
    /// assert!(subs.contains(&w, s)?);
    /// subs.free(&mut w, s)?;
    /// assert!(!subs.contains(&w, s)?);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn contains<T: PageSource<PARENT>>(&self, src: &T, id: SubPageId<PARENT, SUB>) -> Result<bool> {
        match self.locate(src, id) {
            Ok(at) => Ok(at.is_allocated()),
            Err(Error::OutOfRange(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The parent page that holds sub-page `id`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let s = subs.alloc(&mut w)?;
    /// let parent = subs.parent_of(&w, s)?; // the page that holds its bytes
    /// assert!(w.contains(parent)?);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn parent_of<T: PageSource<PARENT>>(&self, src: &T, id: SubPageId<PARENT, SUB>) -> Result<PageId> {
        let at = self.locate(src, id)?;
        if !at.is_allocated() {
            return Err(Error::NotAllocated(at.blame()));
        }
        Ok(at.parent)
    }
}
