//! Looking at the whole directory: every id, every directory page, and the
//! consistency check with its counts.

use std::collections::HashSet;

use crate::compat::PageSource;
use crate::error::{Error, Result};
use crate::ids::PageId;

use super::directory::{DAMAGED, entry_at};
use super::{SubPageAllocator, SubPageId};

/// Counts from [`SubPageAllocator::check`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubPageStats {
    /// Pages of the directory chain, the root included.
    pub directory_pages: u64,
    /// Parent pages holding at least one allocated sub-page.
    pub parent_pages: u64,
    /// Allocated sub-pages.
    pub allocated: u64,
}

impl<const PARENT: usize, const SUB: usize> SubPageAllocator<PARENT, SUB> {
    /// Every allocated sub-page in `src`'s view, in directory order (0.2's
    /// `iter_allocated_pages` for sub-pages).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let a = subs.alloc_bulk(&mut w, 3)?;
    /// assert_eq!(subs.ids(&w)?, a);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn ids<T: PageSource<PARENT>>(&self, src: &T) -> Result<Vec<SubPageId<PARENT, SUB>>> {
        let mut out = Vec::new();
        self.walk(src, |dir, page, _| {
            for entry in 0..Self::CAPACITY {
                let (_, mask) = entry_at(page, entry);
                let mut bits = mask;
                while bits != 0 {
                    let slot = bits.trailing_zeros();
                    bits &= bits - 1;
                    out.push(SubPageId::new(dir, entry, slot));
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The directory's own pages in `src`'s view, root first.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// assert_eq!(subs.directory_pages(&w)?, [subs.root()]);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn directory_pages<T: PageSource<PARENT>>(&self, src: &T) -> Result<Vec<PageId>> {
        let mut out = Vec::new();
        self.walk(src, |dir, _, _| {
            out.push(dir);
            Ok(())
        })?;
        Ok(out)
    }

    /// Checks the whole directory in `src`'s view (every page's header and
    /// counts, every mask, every parent page allocated and listed once) and
    /// returns its counts.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// subs.alloc_bulk(&mut w, 3)?;
    /// let stats = subs.check(&w)?; // also checks the directory against the pages
    /// assert_eq!((stats.allocated, stats.parent_pages), (3, 1));
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn check<T: PageSource<PARENT>>(&self, src: &T) -> Result<SubPageStats> {
        let mut stats = SubPageStats::default();
        let mut parents = HashSet::new();
        self.walk(src, |_, page, header| {
            stats.directory_pages += 1;
            let (mut used, mut nonfull) = (0u32, 0u32);
            for entry in 0..Self::CAPACITY {
                let (parent, mask) = entry_at(page, entry);
                if mask == 0 {
                    continue;
                }
                if mask & !Self::FULL != 0 || !parents.insert(parent) || !src.is_allocated(PageId::from_raw(parent))? {
                    return Err(Error::InvalidArgument(DAMAGED));
                }
                used += 1;
                nonfull += u32::from(mask != Self::FULL);
                stats.allocated += u64::from(mask.count_ones());
            }
            if used != header.used || nonfull != header.nonfull {
                return Err(Error::InvalidArgument(DAMAGED));
            }
            stats.parent_pages += u64::from(used);
            Ok(())
        })?;
        Ok(stats)
    }
}
