//! 0.2's counting and iteration calls, on the new types.

use crate::store::Store;
use crate::table::LiveIds;
use crate::txn::ReadTxn;

impl<const P: usize> Store<P> {
    /// Allocated logical pages in the newest committed version (0.2's
    /// `Pager::page_count`). [`Store::stats`] has this and the physical counts.
    ///
    /// ```
    /// use mappedpages::Store;
    /// # fn main() -> Result<(), mappedpages::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// w.alloc_bulk(3)?;
    /// w.commit()?;
    /// assert_eq!(store.page_count(), 3);
    /// # Ok(()) }
    /// ```
    pub fn page_count(&self) -> u64 {
        self.stats().live_pages
    }

    /// Pages of the file free for new writes in the newest committed version
    /// (0.2's `Pager::free_page_count`). Pages freed by recent commits and still
    /// held for readers are not counted until released; see [`Store::stats`].
    pub fn free_page_count(&self) -> u64 {
        self.stats().free_pages
    }
}

impl<const P: usize> ReadTxn<'_, P> {
    /// The allocated ids of this version in ascending order: 0.2's
    /// `Pager::iter_allocated_pages`, now the same as [`ReadTxn::ids`]. It
    /// borrows the read transaction, not the store, so the writer goes on.
    ///
    /// ```
    /// use mappedpages::Store;
    /// # fn main() -> Result<(), mappedpages::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::<4096>::create(dir.path().join("s.db"))?;
    /// let mut w = store.begin_write()?;
    /// let ids = w.alloc_bulk(3)?;
    /// w.commit()?;
    /// let r = store.begin_read()?;
    /// let listed: Vec<_> = r.iter_allocated_pages().collect::<Result<_, _>>()?;
    /// assert_eq!(listed, ids);
    /// # Ok(()) }
    /// ```
    pub fn iter_allocated_pages(&self) -> LiveIds<'_> {
        self.ids()
    }

    /// 0.2's `Pager::iter_allocated_protected_pages`. Every page is protected
    /// now, so this lists the same ids as [`iter_allocated_pages`](Self::iter_allocated_pages).
    pub fn iter_allocated_protected_pages(&self) -> LiveIds<'_> {
        self.ids()
    }
}
