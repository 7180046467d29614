//! Finding things in the directory chain: a page's checked header, a walk over
//! the chain with loop detection, and where an id points.

use std::collections::HashSet;

use crate::compat::PageSource;
use crate::error::{Error, Result};
use crate::ids::PageId;

use super::directory::{DirHeader, LOOPS, NO_PAGE, NOT_A_DIRECTORY, OTHER_ALLOCATOR, decode_header, entry_at};
use super::{SubPageAllocator, SubPageId};

/// Where an id points, with what the directory says about it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Located {
    pub(super) dir: PageId,
    pub(super) entry: usize,
    pub(super) slot: u32,
    pub(super) parent: PageId,
    /// Occupancy of the parent; zero when the entry is not in use.
    pub(super) mask: u64,
}

impl Located {
    pub(super) fn is_allocated(&self) -> bool {
        self.mask & (1u64 << self.slot) != 0
    }

    /// The page an error about this id should name: the parent when the entry
    /// is in use, the directory page otherwise.
    pub(super) fn blame(&self) -> PageId {
        if self.mask != 0 { self.parent } else { self.dir }
    }
}

impl<const PARENT: usize, const SUB: usize> SubPageAllocator<PARENT, SUB> {
    /// Calls `visit` on every directory page, root first.
    pub(super) fn walk<T: PageSource<PARENT>>(
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
    pub(super) fn header<T: PageSource<PARENT>>(
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
    pub(super) fn locate<T: PageSource<PARENT>>(&self, src: &T, id: SubPageId<PARENT, SUB>) -> Result<Located> {
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
