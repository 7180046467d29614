//! [`SubPageId`]: a sub-page's persistent name, a position in the directory.

use crate::ids::PageId;

/// Slots an id can encode per entry: ids keep `entry * 64 + slot`.
const SLOT_BITS: u32 = 6;

/// A handle to one allocated sub-page of a [`SubPageAllocator<PARENT, SUB>`](super::SubPageAllocator).
///
/// The const generics make a `SubPageId<4096, 512>` unusable with a
/// `SubPageAllocator<4096, 256>`: the compiler rejects the mismatch. An id is
/// persistent: store [`to_raw`](Self::to_raw) in a page and turn it back with
/// [`from_raw`](Self::from_raw) after reopening.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubPageId<const PARENT: usize, const SUB: usize> {
    /// The directory page holding the entry.
    pub(super) dir: PageId,
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

    pub(super) fn entry(self) -> u64 {
        self.index >> SLOT_BITS
    }

    pub(super) fn new(dir: PageId, entry: usize, slot: u32) -> Self {
        SubPageId { dir, index: ((entry as u64) << SLOT_BITS) | u64::from(slot) }
    }
}
