//! The storage layer: the only code that touches the file.
//!
//! A [`Storage`] is a byte array that can grow, be written at an offset, be synced,
//! and be read through a stable mapping. Two implementations:
//! [`FileStorage`] (a real file, read through a memory mapping) and
//! [`MemoryStorage`] (a buffer in memory); with the `testing` feature a third,
//! `CrashStorage` (memory that models power cuts and I/O failures, for tests and
//! fuzzing).
//!
//! # The mapping contract
//!
//! [`Storage::view`] returns a [`RawView`]: a pointer and a length. Every
//! implementation promises that
//!
//! 1. the bytes `[ptr, ptr + len)` stay mapped and readable for as long as the
//!    storage value lives, even after the storage grows (growth never moves or
//!    unmaps an existing view), and
//! 2. those bytes change only through [`Storage::write`] on the same value.
//!
//! The store above turns a `RawView` into `&[u8]` only for extents that a pinned
//! root reaches and that the space layer therefore never hands to a writer; that
//! is what makes the slices it returns sound (see SPEC.md, "Soundness").

#[cfg(any(test, feature = "testing"))]
mod crash;
pub(crate) mod file;
mod memory;
mod pages;
mod pin;

#[cfg(any(test, feature = "testing"))]
pub use crash::{CrashControl, CrashStorage, Fault, OpCounts, Rng, TearPattern};
pub use file::{DEFAULT_RESERVE, FileMode, FileStorage};
pub use memory::MemoryStorage;
pub(crate) use pages::PageReader;
pub(crate) use pin::{Hold, Pin, Pins};

use std::io;

/// A stable read-only window on a storage's bytes. See the module docs for the
/// promises that come with it.
#[derive(Clone, Copy, Debug)]
pub struct RawView {
    ptr: *const u8,
    len: usize,
}

// SAFETY: a RawView is a pointer into memory owned by a `Storage`, which is itself
// `Send + Sync`; the view only permits reads, and reads are synchronised with the
// writes they could observe by the store's own locks.
unsafe impl Send for RawView {}
// SAFETY: as above.
unsafe impl Sync for RawView {}

impl RawView {
    /// An empty view.
    pub const EMPTY: RawView = RawView { ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(), len: 0 };

    /// Builds a view from a pointer and a length.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must satisfy the two promises of the module docs for as
    /// long as any copy of the returned view is used.
    pub unsafe fn new(ptr: *const u8, len: usize) -> RawView {
        RawView { ptr, len }
    }

    /// Number of bytes in the view.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the view has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `out.len()` bytes at `offset` into `out`, or returns false when the
    /// range is not inside the view. Copying is always sound: it creates no
    /// long-lived reference.
    pub fn copy_to(&self, offset: u64, out: &mut [u8]) -> bool {
        let Some(start) = self.checked_range(offset, out.len()) else {
            return false;
        };
        // SAFETY: `start..start + out.len()` is inside the view (checked above), and
        // the view is readable memory by its construction contract; the source and
        // `out` cannot overlap because `out` is a unique borrow of other memory.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(start), out.as_mut_ptr(), out.len()) };
        true
    }

    /// The bytes at `offset..offset + len`, if inside the view.
    ///
    /// # Safety
    ///
    /// The caller must guarantee that nothing writes those bytes for the lifetime
    /// `'a` (the space layer's pin rules) and that the storage outlives `'a`.
    pub(crate) unsafe fn slice<'a>(&self, offset: u64, len: usize) -> Option<&'a [u8]> {
        let start = self.checked_range(offset, len)?;
        // SAFETY: the range is inside the view (checked), the memory is readable
        // and stays so while the storage lives; the caller promises no writes.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.add(start), len) })
    }

    fn checked_range(&self, offset: u64, len: usize) -> Option<usize> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.len).then_some(start)
    }
}

/// The byte-level backend of a store. All file I/O of the crate goes through it.
///
/// Implementations take `&self` and synchronise internally: the store serialises
/// writers itself, but readers call [`view`](Storage::view) concurrently.
pub trait Storage: Send + Sync + 'static {
    /// Current length in bytes.
    fn len(&self) -> u64;

    /// True when the storage holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grows the storage to `new_len` bytes (new bytes read as zero). Never shrinks.
    fn grow(&self, new_len: u64) -> io::Result<()>;

    /// Writes `data` at `offset`. The range must lie inside the current length.
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Writes `bufs` one after another starting at `offset`.
    fn write_vectored(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        let mut at = offset;
        for b in bufs {
            self.write(at, b)?;
            at += b.len() as u64;
        }
        Ok(())
    }

    /// Makes every earlier write and grow durable (fdatasync).
    fn sync(&self) -> io::Result<()>;

    /// A hint: start sending `[offset, offset + len)` to the device now, so
    /// that the next [`sync`](Storage::sync) has less left to wait for. It
    /// promises nothing about durability or order; the default does nothing.
    fn start_writeback(&self, offset: u64, len: u64) {
        let _ = (offset, len);
    }

    /// A hint: an offset from which the storage holds only zero bytes that
    /// were never written (space it grew into without writing, which a file
    /// system has not allocated yet). The default, `len()`, claims nothing.
    /// Small commits write zeros ahead of it so that later commits overwrite
    /// allocated space (SPEC.md, section 9, "Prefill").
    fn unwritten_from(&self) -> u64 {
        self.len()
    }

    /// A stable read view of `[0, len())` (see the module docs).
    fn view(&self) -> RawView;
}
