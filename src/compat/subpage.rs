//! Sub-pages: parent pages split into `PARENT / SUB` slots of `SUB` bytes, with
//! the allocator's state kept in the store and committed with the transaction.
//!
//! # The directory
//!
//! The allocator's state is a chain of ordinary pages, the *directory*. The
//! first page (the allocator's root, whose [`PageId`] the caller keeps) is made
//! by [`SubPageAllocator::create`]; more are linked on when it fills and
//! unlinked (and freed) when they empty. Every directory page has the same
//! layout, all integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `MPSUBDIR` |
//! | 8..12 | directory format, 1 |
//! | 12..16 | `PARENT`, the page size |
//! | 16..20 | `SUB`, the sub-page size |
//! | 20..24 | zero |
//! | 24..32 | the chain's root page id (the root stores its own id) |
//! | 32..40 | the next directory page id, or `u64::MAX` at the end |
//! | 40..44 | entries in use |
//! | 44..48 | entries in use that still have a free slot |
//! | 48..64 | zero |
//! | 64.. | `(PARENT - 64) / 16` entries of 16 bytes: parent page id (u64), occupancy mask (u64) |
//!
//! An entry is in use exactly when its mask is not zero: bit `i` set means slot
//! `i` of the parent page (bytes `i * SUB .. (i + 1) * SUB`) is allocated. A
//! parent page is allocated with its first slot and freed with its last.
//!
//! Because the directory is made of pages, every change to it is a shadow write
//! of the [`WriteTxn`] that made it: it becomes durable and visible with that
//! transaction's commit, is discarded with its abort, and is recovered (or not)
//! after a crash exactly as the pages it describes are.
//!
//! # Identity
//!
//! A [`SubPageId`] names a position: a directory page, an entry in it and a
//! slot. Entries never move while their parent page is in use, so an id stays
//! valid for the sub-page's life, across commits, reopenings and defragmentation
//! (which keeps logical page ids). Once freed, the same position may be handed
//! out again, as 0.2 did with its slot indices.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::{PageId, WriteTxn};

use super::{BulkPageAllocator, MappedPage, PageAllocator, PageHandle, PageHandleMut, PageSource};

const MAGIC: [u8; 8] = *b"MPSUBDIR";
const DIR_FORMAT: u32 = 1;
const HEADER_LEN: usize = 64;
const ENTRY_LEN: usize = 16;
/// `next` of the last directory page.
const NO_PAGE: u64 = u64::MAX;
/// Slots an id can encode per entry: ids keep `entry * 64 + slot`.
const SLOT_BITS: u32 = 6;

const NOT_A_DIRECTORY: &str = "sub-page id or root does not point at a sub-page directory page";
const OTHER_GEOMETRY: &str = "sub-page directory was made for other page or sub-page sizes";
const OTHER_ALLOCATOR: &str = "sub-page id belongs to another sub-page allocator";
const DAMAGED: &str = "sub-page directory is damaged (counts or masks disagree)";
const LOOPS: &str = "sub-page directory chain loops";
const WRONG_LEN: &str = "sub-page data must be exactly SUB bytes";

fn u32_at(page: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&page[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(page: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&page[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The decoded header of one directory page.
#[derive(Clone, Copy, Debug)]
struct DirHeader {
    root: u64,
    next: u64,
    /// Entries whose mask is not zero.
    used: u32,
    /// Entries whose mask is neither zero nor full.
    nonfull: u32,
}

/// Where an id points, with what the directory says about it.
#[derive(Clone, Copy, Debug)]
struct Located {
    dir: PageId,
    entry: usize,
    slot: u32,
    parent: PageId,
    /// Occupancy of the parent; zero when the entry is not in use.
    mask: u64,
}

impl Located {
    fn is_allocated(&self) -> bool {
        self.mask & (1u64 << self.slot) != 0
    }

    /// The page an error about this id should name: the parent when the entry
    /// is in use, the directory page otherwise.
    fn blame(&self) -> PageId {
        if self.mask != 0 { self.parent } else { self.dir }
    }
}

/// A handle to one allocated sub-page of a [`SubPageAllocator<PARENT, SUB>`].
///
/// The const generics make a `SubPageId<4096, 512>` unusable with a
/// `SubPageAllocator<4096, 256>`: the compiler rejects the mismatch. An id is
/// persistent: store [`to_raw`](Self::to_raw) in a page and turn it back with
/// [`from_raw`](Self::from_raw) after reopening.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubPageId<const PARENT: usize, const SUB: usize> {
    /// The directory page holding the entry.
    dir: PageId,
    /// `entry * 64 + slot`.
    index: u64,
}

impl<const PARENT: usize, const SUB: usize> SubPageId<PARENT, SUB> {
    /// The id as a number, for storing: the directory page id in the high 64
    /// bits, `entry * 64 + slot` in the low 64.
    pub const fn to_raw(self) -> u128 {
        ((self.dir.get() as u128) << 64) | self.index as u128
    }

    /// An id from [`to_raw`](Self::to_raw)'s number. Nothing is checked here;
    /// an id that names no allocated sub-page fails when used.
    pub const fn from_raw(raw: u128) -> Self {
        SubPageId { dir: PageId::from_raw((raw >> 64) as u64), index: raw as u64 }
    }

    /// The directory page that holds this sub-page's entry.
    pub const fn directory_page(self) -> PageId {
        self.dir
    }

    /// The slot inside the parent page (`0 .. PARENT / SUB`).
    pub const fn slot(self) -> usize {
        (self.index & ((1 << SLOT_BITS) - 1)) as usize
    }

    fn entry(self) -> u64 {
        self.index >> SLOT_BITS
    }

    fn new(dir: PageId, entry: usize, slot: u32) -> Self {
        SubPageId { dir, index: ((entry as u64) << SLOT_BITS) | u64::from(slot) }
    }
}

/// Counts from [`SubPageAllocator::check`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubPageStats {
    /// Pages of the directory chain, the root included.
    pub directory_pages: u64,
    /// Parent pages holding at least one allocated sub-page.
    pub parent_pages: u64,
    /// Allocated sub-pages.
    pub allocated: u64,
}

/// Splits pages of a `Store<PARENT>` into `PARENT / SUB` sub-pages of `SUB`
/// bytes, persistently and transactionally.
///
/// In 0.2 the sub-page allocator owned a pager and kept its occupancy masks in
/// memory only, so they were lost on restart. Now its whole state lives in the
/// store, in directory pages (see the module documentation for the layout), and
/// every change to it is part of the [`WriteTxn`] that made it: it commits
/// atomically with the caller's own pages, disappears with an abort, and
/// survives crashes and reopening like any other page.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubPageAllocator<const PARENT: usize, const SUB: usize> {
    root: PageId,
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
    const FULL: u64 = if Self::SLOTS == 64 { u64::MAX } else { (1u64 << Self::SLOTS) - 1 };

    /// Entries per directory page.
    const CAPACITY: usize = (PARENT - HEADER_LEN) / ENTRY_LEN;

    /// Makes a new, empty allocator: allocates its root directory page in `txn`.
    /// The allocator exists once `txn` commits.
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
    pub fn open(root: PageId) -> Self {
        let () = Self::check_geometry();
        SubPageAllocator { root }
    }

    /// The root directory page: the id to keep for [`open`](Self::open).
    pub fn root(&self) -> PageId {
        self.root
    }

    /// This allocator bound to a write transaction, for the 0.2 traits
    /// ([`PageAllocator`], [`BulkPageAllocator`], [`PageHandle`]).
    pub fn bind<'t, 's>(&self, txn: &'t mut WriteTxn<'s, PARENT>) -> SubPageTxn<'t, 's, PARENT, SUB> {
        SubPageTxn { allocator: *self, txn }
    }

    fn check_geometry() {
        let _ = Self::SLOTS;
    }

    /// Allocates a sub-page (it reads as zeros) and returns its id.
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
    pub fn free(&self, txn: &mut WriteTxn<'_, PARENT>, id: SubPageId<PARENT, SUB>) -> Result<()> {
        let at = self.locate(&*txn, id)?;
        if !at.is_allocated() {
            return Err(Error::DoubleFree(at.blame()));
        }
        self.release(txn, at)
    }

    /// Frees every sub-page in `ids`, or none: all are checked first.
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
            return Err(Error::InvalidArgument(WRONG_LEN));
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

    /// Every allocated sub-page in `src`'s view, in directory order (0.2's
    /// `iter_allocated_pages` for sub-pages).
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

    /// Frees every sub-page, every parent page and the whole directory, root
    /// included. The allocator is gone once `txn` commits.
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

    /// Calls `visit` on every directory page, root first.
    fn walk<T: PageSource<PARENT>>(
        &self,
        src: &T,
        mut visit: impl FnMut(PageId, &[u8], DirHeader) -> Result<()>,
    ) -> Result<()> {
        let mut visited = HashSet::new();
        let mut dir = self.root;
        loop {
            let header = self.header(src, dir, Some(&mut visited))?;
            visit(dir, src.read_page(dir)?, header)?;
            if header.next == NO_PAGE {
                return Ok(());
            }
            dir = PageId::from_raw(header.next);
        }
    }

    /// Reads and checks the header of directory page `dir`. A walk along the
    /// chain passes the pages it has seen, to catch a loop.
    fn header<T: PageSource<PARENT>>(
        &self,
        src: &T,
        dir: PageId,
        visited: Option<&mut HashSet<u64>>,
    ) -> Result<DirHeader> {
        if let Some(visited) = visited
            && !visited.insert(dir.get())
        {
            return Err(Error::InvalidArgument(LOOPS));
        }
        let header = decode_header::<PARENT, SUB>(src.read_page(dir)?)?;
        if header.root != self.root.get() {
            return Err(Error::InvalidArgument(if dir == self.root { NOT_A_DIRECTORY } else { OTHER_ALLOCATOR }));
        }
        Ok(header)
    }

    /// Finds what the directory says about `id`.
    fn locate<T: PageSource<PARENT>>(&self, src: &T, id: SubPageId<PARENT, SUB>) -> Result<Located> {
        let () = Self::check_geometry();
        self.header(src, id.dir, None)?;
        let entry =
            usize::try_from(id.entry()).ok().filter(|&e| e < Self::CAPACITY).ok_or(Error::OutOfRange(id.dir))?;
        let (parent, mask) = entry_at(src.read_page(id.dir)?, entry);
        let at = Located { dir: id.dir, entry, slot: id.slot() as u32, parent: PageId::from_raw(parent), mask };
        if id.slot() >= Self::SLOTS {
            return Err(Error::OutOfRange(at.blame()));
        }
        Ok(at)
    }
}

fn decode_header<const PARENT: usize, const SUB: usize>(page: &[u8]) -> Result<DirHeader> {
    if page.len() != PARENT || page[..8] != MAGIC {
        return Err(Error::InvalidArgument(NOT_A_DIRECTORY));
    }
    if u32_at(page, 8) != DIR_FORMAT {
        return Err(Error::InvalidArgument(NOT_A_DIRECTORY));
    }
    if u32_at(page, 12) as usize != PARENT || u32_at(page, 16) as usize != SUB {
        return Err(Error::InvalidArgument(OTHER_GEOMETRY));
    }
    let header =
        DirHeader { root: u64_at(page, 24), next: u64_at(page, 32), used: u32_at(page, 40), nonfull: u32_at(page, 44) };
    if header.used as usize > (PARENT - HEADER_LEN) / ENTRY_LEN || header.nonfull > header.used {
        return Err(Error::InvalidArgument(DAMAGED));
    }
    Ok(header)
}

fn put_header<const PARENT: usize, const SUB: usize>(page: &mut [u8], h: &DirHeader) {
    let head = &mut page[..HEADER_LEN];
    head.fill(0);
    head[..8].copy_from_slice(&MAGIC);
    head[8..12].copy_from_slice(&DIR_FORMAT.to_le_bytes());
    head[12..16].copy_from_slice(&(PARENT as u32).to_le_bytes());
    head[16..20].copy_from_slice(&(SUB as u32).to_le_bytes());
    head[24..32].copy_from_slice(&h.root.to_le_bytes());
    head[32..40].copy_from_slice(&h.next.to_le_bytes());
    head[40..44].copy_from_slice(&h.used.to_le_bytes());
    head[44..48].copy_from_slice(&h.nonfull.to_le_bytes());
}

/// Entry `i` of a directory page: (parent page id, occupancy mask). The caller
/// keeps `i` below the page's capacity.
fn entry_at(page: &[u8], i: usize) -> (u64, u64) {
    let at = HEADER_LEN + i * ENTRY_LEN;
    (u64_at(page, at), u64_at(page, at + 8))
}

fn put_entry(page: &mut [u8], i: usize, parent: u64, mask: u64) {
    let at = HEADER_LEN + i * ENTRY_LEN;
    page[at..at + 8].copy_from_slice(&parent.to_le_bytes());
    page[at + 8..at + 16].copy_from_slice(&mask.to_le_bytes());
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
