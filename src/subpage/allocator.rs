//! [`SubPageAllocator`]: the type, its compile-time rules and its life
//! (create, open, destroy).

use crate::error::Result;
use crate::ids::PageId;
use crate::txn::WriteTxn;

use super::directory::{DirHeader, NO_PAGE, capacity, entry_at, put_header};

/// Splits pages of a `Store<PARENT>` into `PARENT / SUB` sub-pages of `SUB`
/// bytes, persistently and transactionally.
///
/// In 0.2 the sub-page allocator owned a pager and kept its occupancy masks in
/// memory only, so they were lost on restart. Now its whole state lives in the
/// store, in directory pages (SPEC.md, "Appendix B: sub-page directory", gives
/// their bytes), and every change to it is part of the [`WriteTxn`] that made
/// it: it commits atomically with the caller's own pages, disappears with an
/// abort, and survives crashes and reopening like any other page.
///
/// The value itself is only the root directory page's id (`Copy`, 8 bytes):
/// [`create`](Self::create) makes a new directory and returns it; keep
/// [`root`](Self::root) somewhere (a page of yours) and rebuild the allocator
/// with [`open`](Self::open) later. Several allocators, even of different
/// sizes, can live in one store.
///
/// Allocating and freeing take the write transaction; reading takes any
/// [`PageSource`] (a [`ReadTxn`](crate::ReadTxn) or the [`WriteTxn`]). A new
/// sub-page reads as zeros.
///
/// # Compile-time rules
///
/// `SUB` must be a power of two smaller than `PARENT`, and `PARENT / SUB` at
/// most 64 (one bit per slot in a `u64` mask), as in 0.2:
///
/// ```compile_fail
/// use mappedpages::compat::SubPageAllocator;
/// use mappedpages::PageId;
/// // 4096 / 32 = 128 slots: too many for a 64-bit mask.
/// let _ = SubPageAllocator::<4096, 32>::open(PageId::from_raw(0));
/// ```
///
/// # Errors for a bad id
///
/// | the id | `get`, `get_mut`, `write` | `free`, `free_bulk` |
/// |---|---|---|
/// | names a slot that is not allocated | [`Error::NotAllocated`] | [`Error::DoubleFree`] (as in 0.2) |
/// | appears twice in one `free_bulk` | | [`Error::DoubleFree`] |
/// | has an entry or slot index past the directory's or parent's size | [`Error::OutOfRange`] | [`Error::OutOfRange`] |
/// | points into another allocator's directory | [`Error::InvalidArgument`] | [`Error::InvalidArgument`] |
/// | points at a page that is not a directory page | [`Error::InvalidArgument`] | [`Error::InvalidArgument`] |
///
/// The [`PageId`] inside `NotAllocated`, `DoubleFree` and `OutOfRange` is the
/// parent page when the id's directory entry is in use, and otherwise the
/// directory page the id points into.
///
/// # Cost
///
/// `get`, `get_mut` and `free` read one directory page; `alloc` reads the
/// directory pages' headers until one has a parent with a free slot (one page
/// covers `(PARENT - 64) / 16` parents).
///
/// ```
/// use mappedpages::compat::SubPageAllocator;
/// use mappedpages::{PageId, Store};
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("subpages.db");
/// let store = Store::<4096>::create(&path)?;
/// let mut w = store.begin_write()?;
/// let subs = SubPageAllocator::<4096, 256>::create(&mut w)?;   // 16 slots per page
/// let a = subs.alloc(&mut w)?;
/// subs.get_mut(&mut w, a)?[..5].copy_from_slice(b"hello");
/// let root = subs.root();                                       // keep this id
/// let raw = a.to_raw();                                         // and this one
/// w.commit()?;
/// drop(store);
///
/// let store = Store::<4096>::open(&path)?;
/// let subs = SubPageAllocator::<4096, 256>::open(root);
/// let a = mappedpages::compat::SubPageId::from_raw(raw);
/// let r = store.begin_read()?;
/// assert_eq!(&subs.get(&r, a)?[..5], b"hello");
/// assert_eq!(subs.get(&r, a)?.len(), 256);
/// # Ok(()) }
/// ```
///
/// [`PageSource`]: crate::compat::PageSource
/// [`Error::NotAllocated`]: crate::Error::NotAllocated
/// [`Error::DoubleFree`]: crate::Error::DoubleFree
/// [`Error::OutOfRange`]: crate::Error::OutOfRange
/// [`Error::InvalidArgument`]: crate::Error::InvalidArgument
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubPageAllocator<const PARENT: usize, const SUB: usize> {
    pub(super) root: PageId,
}

impl<const PARENT: usize, const SUB: usize> SubPageAllocator<PARENT, SUB> {
    /// Sub-pages per parent page, `PARENT / SUB`; evaluating it checks the
    /// compile-time rules.
    pub const SLOTS: usize = {
        assert!(SUB.is_power_of_two(), "SUB must be a power of two");
        assert!(SUB < PARENT, "SUB must be smaller than PARENT");
        assert!(PARENT.is_multiple_of(SUB), "PARENT must be a multiple of SUB");
        assert!(PARENT / SUB <= 64, "PARENT / SUB must be at most 64");
        assert!(PARENT >= 1024, "PARENT must be a store page size (at least 1024)");
        PARENT / SUB
    };

    /// The mask of a parent whose every slot is allocated.
    pub(super) const FULL: u64 = if Self::SLOTS == 64 { u64::MAX } else { (1u64 << Self::SLOTS) - 1 };

    /// Entries per directory page.
    pub(super) const CAPACITY: usize = capacity(PARENT);

    /// Makes a new, empty allocator: allocates its root directory page in `txn`.
    /// The allocator exists once `txn` commits.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// w.commit()?; // the directory is committed with the transaction
    /// let root = subs.root(); // keep it (in your own superblock page) to reopen
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn create(txn: &mut WriteTxn<'_, PARENT>) -> Result<Self> {
        let () = Self::check_geometry();
        let root = txn.alloc()?;
        let page = txn.page_mut(root)?;
        put_header::<PARENT, SUB>(page, &DirHeader { root: root.get(), next: NO_PAGE, used: 0, nonfull: 0 });
        Ok(SubPageAllocator { root })
    }

    /// The allocator whose root directory page is `root` (from
    /// [`root`](Self::root)). Nothing is read here: every operation checks the
    /// directory pages it reads, and [`check`](Self::check) checks them all.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// let root = subs.root();
    /// w.commit()?;
    /// let again = SubPageAllocator::<4096, 512>::open(root); // after a restart
    /// assert_eq!(again.check(&store.begin_read()?)?.allocated, 0);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn open(root: PageId) -> Self {
        let () = Self::check_geometry();
        SubPageAllocator { root }
    }

    /// The root directory page: the id to keep for [`open`](Self::open).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// assert!(w.contains(subs.root())?); // its first directory page
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn root(&self) -> PageId {
        self.root
    }

    pub(super) fn check_geometry() {
        let _ = Self::SLOTS;
    }

    /// Frees every sub-page, every parent page and the whole directory, root
    /// included. The allocator is gone once `txn` commits.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = mappedpages::Store::<4096>::create(dir.path().join("s.db"))?;
    /// use mappedpages::SubPageAllocator;
    /// let mut w = store.begin_write()?;
    /// let subs = SubPageAllocator::<4096, 512>::create(&mut w)?;
    /// subs.alloc_bulk(&mut w, 3)?;
    /// subs.destroy(&mut w)?; // frees the directory and every parent page
    /// w.commit()?;
    /// assert_eq!(store.page_count(), 0);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn destroy(self, txn: &mut WriteTxn<'_, PARENT>) -> Result<()> {
        let mut pages = Vec::new();
        let mut parents = Vec::new();
        self.walk(&*txn, |dir, page, _| {
            pages.push(dir);
            parents.extend((0..Self::CAPACITY).map(|i| entry_at(page, i)).filter(|e| e.1 != 0).map(|e| e.0));
            Ok(())
        })?;
        let all: Vec<PageId> = parents.into_iter().map(PageId::from_raw).chain(pages).collect();
        txn.free_bulk(&all)
    }
}
