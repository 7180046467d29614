//! Allocating and freeing sub-pages: the changes to the directory's masks and
//! counts, and the parent and directory pages that come and go with them.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::ids::PageId;
use crate::txn::WriteTxn;

use super::chain::Located;
use super::directory::{DAMAGED, DirHeader, NO_PAGE, entry_at, put_entry, put_header};
use super::{SubPageAllocator, SubPageId};

impl<const PARENT: usize, const SUB: usize> SubPageAllocator<PARENT, SUB> {
    /// Allocates a sub-page (it reads as zeros) and returns its id.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let s = subs.alloc(&mut w)?;
    /// w.commit()?;
    /// assert!(subs.contains(&store.begin_read()?, s)?);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn alloc(&self, txn: &mut WriteTxn<'_, PARENT>) -> Result<SubPageId<PARENT, SUB>> {
        let mut visited = HashSet::new();
        let mut dir = self.root;
        // The first directory page with an unused entry, and the last page.
        let mut with_room = None;
        let last = loop {
            let header = self.header(&*txn, dir, Some(&mut visited))?;
            if header.nonfull > 0 {
                return self.take_slot(txn, dir, header);
            }
            if with_room.is_none() && (header.used as usize) < Self::CAPACITY {
                with_room = Some((dir, header));
            }
            if header.next == NO_PAGE {
                break dir;
            }
            dir = PageId::from_raw(header.next);
        };
        // Every parent is full: start a new one.
        let (dir, mut header) = match with_room {
            Some(found) => found,
            None => {
                let new = txn.alloc()?;
                let header = DirHeader { root: self.root.get(), next: NO_PAGE, used: 0, nonfull: 0 };
                put_header::<PARENT, SUB>(txn.page_mut(new)?, &header);
                let mut last_header = self.header(&*txn, last, None)?;
                last_header.next = new.get();
                put_header::<PARENT, SUB>(txn.page_mut(last)?, &last_header);
                (new, header)
            }
        };
        let entry = {
            let page = txn.page(dir)?;
            (0..Self::CAPACITY).find(|&i| entry_at(page, i).1 == 0).ok_or(Error::InvalidArgument(DAMAGED))?
        };
        let parent = txn.alloc()?;
        header.used += 1;
        header.nonfull += 1; // SLOTS >= 2, so one slot never fills a parent
        let page = txn.page_mut(dir)?;
        put_entry(page, entry, parent.get(), 1);
        put_header::<PARENT, SUB>(page, &header);
        Ok(SubPageId::new(dir, entry, 0))
    }

    /// Takes the lowest free slot of the first non-full parent in `dir`.
    fn take_slot(
        &self,
        txn: &mut WriteTxn<'_, PARENT>,
        dir: PageId,
        mut header: DirHeader,
    ) -> Result<SubPageId<PARENT, SUB>> {
        let (entry, parent, mask) = {
            let page = txn.page(dir)?;
            (0..Self::CAPACITY)
                .map(|i| (i, entry_at(page, i)))
                .find(|&(_, (_, mask))| mask != 0 && mask != Self::FULL)
                .map(|(i, (parent, mask))| (i, parent, mask))
                .ok_or(Error::InvalidArgument(DAMAGED))?
        };
        if mask & !Self::FULL != 0 {
            return Err(Error::InvalidArgument(DAMAGED));
        }
        let slot = (!mask).trailing_zeros();
        let new_mask = mask | (1u64 << slot);
        if new_mask == Self::FULL {
            header.nonfull = header.nonfull.checked_sub(1).ok_or(Error::InvalidArgument(DAMAGED))?;
        }
        let parent = PageId::from_raw(parent);
        // A freed slot keeps its old bytes; a new sub-page reads as zeros.
        let range = slot as usize * SUB..(slot as usize + 1) * SUB;
        if txn.page(parent)?[range.clone()].iter().any(|&b| b != 0) {
            txn.page_mut(parent)?[range].fill(0);
        }
        let page = txn.page_mut(dir)?;
        put_entry(page, entry, parent.get(), new_mask);
        put_header::<PARENT, SUB>(page, &header);
        Ok(SubPageId::new(dir, entry, slot))
    }

    /// Allocates `count` sub-pages. On failure the ones already allocated are
    /// freed again and the error is returned.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let ids = subs.alloc_bulk(&mut w, 10)?; // 8 fit in one 4096-byte parent
    /// assert_eq!(subs.check(&w)?.parent_pages, 2);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn alloc_bulk(&self, txn: &mut WriteTxn<'_, PARENT>, count: usize) -> Result<Vec<SubPageId<PARENT, SUB>>> {
        let mut ids = Vec::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            match self.alloc(txn) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    for &id in ids.iter().rev() {
                        let _ = self.free(txn, id);
                    }
                    return Err(e);
                }
            }
        }
        Ok(ids)
    }

    /// Frees a sub-page. A parent page whose last sub-page is freed is freed
    /// too, and so is a directory page (other than the root) left empty.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let s = subs.alloc(&mut w)?;
    /// subs.free(&mut w, s)?;
    /// assert!(matches!(subs.free(&mut w, s), Err(mappedpages::Error::DoubleFree(_))));
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn free(&self, txn: &mut WriteTxn<'_, PARENT>, id: SubPageId<PARENT, SUB>) -> Result<()> {
        let at = self.locate(&*txn, id)?;
        if !at.is_allocated() {
            return Err(Error::DoubleFree(at.blame()));
        }
        self.release(txn, at)
    }

    /// Frees every sub-page in `ids`, or none: all are checked first.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let ids = subs.alloc_bulk(&mut w, 4)?;
    /// subs.free_bulk(&mut w, &ids)?;
    /// assert_eq!(subs.check(&w)?.allocated, 0);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn free_bulk(&self, txn: &mut WriteTxn<'_, PARENT>, ids: &[SubPageId<PARENT, SUB>]) -> Result<()> {
        let mut seen = HashSet::with_capacity(ids.len());
        for &id in ids {
            let at = self.locate(&*txn, id)?;
            if !at.is_allocated() || !seen.insert(id) {
                return Err(Error::DoubleFree(at.blame()));
            }
        }
        for &id in ids {
            let at = self.locate(&*txn, id)?;
            self.release(txn, at)?;
        }
        Ok(())
    }

    /// Clears an allocated slot and frees what empties.
    fn release(&self, txn: &mut WriteTxn<'_, PARENT>, at: Located) -> Result<()> {
        let mut header = self.header(&*txn, at.dir, None)?;
        let new_mask = at.mask & !(1u64 << at.slot);
        if new_mask == 0 {
            // SLOTS >= 2, so a parent with one slot left was not full.
            header.used = header.used.checked_sub(1).ok_or(Error::InvalidArgument(DAMAGED))?;
            header.nonfull = header.nonfull.checked_sub(1).ok_or(Error::InvalidArgument(DAMAGED))?;
            txn.free(at.parent)?;
        } else if at.mask == Self::FULL {
            header.nonfull += 1;
        }
        let page = txn.page_mut(at.dir)?;
        put_entry(page, at.entry, if new_mask == 0 { 0 } else { at.parent.get() }, new_mask);
        put_header::<PARENT, SUB>(page, &header);
        if header.used == 0 && at.dir != self.root {
            self.unlink(txn, at.dir, header.next)?;
        }
        Ok(())
    }

    /// Removes the empty directory page `dir` from the chain and frees it.
    fn unlink(&self, txn: &mut WriteTxn<'_, PARENT>, dir: PageId, next: u64) -> Result<()> {
        let mut visited = HashSet::new();
        let mut prev = self.root;
        loop {
            let mut header = self.header(&*txn, prev, Some(&mut visited))?;
            if header.next == dir.get() {
                header.next = next;
                put_header::<PARENT, SUB>(txn.page_mut(prev)?, &header);
                return txn.free(dir);
            }
            if header.next == NO_PAGE {
                return Err(Error::InvalidArgument(DAMAGED));
            }
            prev = PageId::from_raw(header.next);
        }
    }
}
