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
//! [`Storage::view`] returns a [`RawView`]: a pointer and a length, borrowed
//! from the storage. `Storage` is an `unsafe trait`: implementing it is a
//! promise (written out on the trait) that the bytes of every view stay mapped,
//! readable and unmoved while the storage lives, and change only through its
//! `write` methods. The store's `unsafe` blocks rely on that promise, so safe
//! code cannot make it:
//!
//! - a safe `impl Storage` does not compile;
//! - a view borrows its storage, so it cannot outlive it (nor reach a thread
//!   that outlives it);
//! - reading a view's bytes ([`RawView::copy_to`]) is `unsafe`, because a
//!   `write` on another thread could change them meanwhile.
//!
//! The store above turns a `RawView` into `&[u8]` only for extents that a pinned
//! root reaches and that the space layer therefore never hands to a writer; that
//! is what makes the slices it returns sound (see SPEC.md, "Soundness").
//!
//! Each way around that contract that safe code once had is a compile-fail
//! test on [`Storage`] or [`RawView`].

#[cfg(any(test, feature = "testing"))]
mod crash;
pub(crate) mod file;
mod lock;
mod memory;
mod pages;
mod pin;

/// Test tooling (feature `testing`): internal, not covered by semantic versioning.
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use crash::{CrashControl, CrashStorage, Fault, OpCounts, Rng, TearPattern};
pub use file::{DEFAULT_RESERVE, FileMode, FileStorage};
pub use memory::MemoryStorage;
pub(crate) use pages::{PageReader, page_starts};
#[cfg(any(test, feature = "testing"))]
pub(crate) use pin::Quiet;
pub(crate) use pin::{Hold, Pin, Pins};

use std::io;
use std::marker::PhantomData;

/// A stable read-only window on a storage's bytes, borrowed from the storage
/// for `'a`: it cannot outlive what keeps it mapped.
///
/// Made by [`Storage::view`] (or, unsafely, by [`RawView::new`]). Looking at its
/// length is safe; reading its bytes is `unsafe` ([`copy_to`](RawView::copy_to)).
///
/// ```
/// use mappedpages::storage::{MemoryStorage, Storage};
///
/// let storage = MemoryStorage::from_bytes(b"hello", 16).unwrap();
/// let view = storage.view();
/// let mut out = [0u8; 5];
/// // SAFETY: no thread writes `storage` while we copy.
/// assert!(unsafe { view.copy_to(0, &mut out) });
/// assert_eq!(&out, b"hello");
/// ```
///
/// A view cannot outlive its storage (here a temporary, dropped at the end of
/// the `let`):
///
/// ```compile_fail,E0716
/// use mappedpages::storage::{MemoryStorage, Storage};
///
/// let view = MemoryStorage::from_bytes(b"hello", 16).unwrap().view();
/// let mut out = [0u8; 5];
/// unsafe { view.copy_to(0, &mut out) };
/// ```
///
/// nor a storage that is dropped or moved away:
///
/// ```compile_fail,E0505
/// use mappedpages::storage::{MemoryStorage, Storage};
///
/// let storage = MemoryStorage::from_bytes(b"hello", 16).unwrap();
/// let view = storage.view();
/// drop(storage);
/// let mut out = [0u8; 5];
/// unsafe { view.copy_to(0, &mut out) };
/// ```
///
/// nor be sent to a thread that may outlive the storage:
///
/// ```compile_fail,E0597
/// use mappedpages::storage::{MemoryStorage, Storage};
///
/// let storage = MemoryStorage::from_bytes(b"hello", 16).unwrap();
/// let view = storage.view();
/// let t = std::thread::spawn(move || {
///     let mut out = [0u8; 5];
///     unsafe { view.copy_to(0, &mut out) };
/// });
/// drop(storage);
/// t.join().unwrap();
/// ```
///
/// (a scoped thread, which ends before the storage, is fine). Reading the
/// bytes needs `unsafe`, since a `write` on another thread could race with it:
///
/// ```compile_fail,E0133
/// use mappedpages::storage::{MemoryStorage, Storage};
///
/// let storage = MemoryStorage::from_bytes(b"hello", 16).unwrap();
/// let mut out = [0u8; 5];
/// std::thread::scope(|s| {
///     s.spawn(|| storage.write(0, b"HELLO"));
///     storage.view().copy_to(0, &mut out);
/// });
/// ```
///
/// and so does making a view from a pointer:
///
/// ```compile_fail,E0133
/// use mappedpages::storage::RawView;
///
/// let view = RawView::new(std::ptr::null(), 4096);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RawView<'a> {
    ptr: *const u8,
    len: usize,
    _storage: PhantomData<&'a [u8]>,
}

// SAFETY: a RawView is a shared borrow of memory owned by a `Storage`, which is
// itself `Send + Sync` (a supertrait); the view lets safe code read nothing (its
// reads are `unsafe` and synchronised by their callers), and it cannot outlive
// the storage, so moving or sharing it across threads is no more than sharing
// `&'a Storage`.
unsafe impl Send for RawView<'_> {}
// SAFETY: as above.
unsafe impl Sync for RawView<'_> {}

impl RawView<'static> {
    /// An empty view.
    pub const EMPTY: RawView<'static> =
        RawView { ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(), len: 0, _storage: PhantomData };
}

impl<'a> RawView<'a> {
    /// Builds a view from a pointer and a length.
    ///
    /// # Safety
    ///
    /// For all of `'a`, `ptr..ptr + len` must stay mapped and readable, never
    /// move, and change only through writes that the views' readers synchronise
    /// with (for a [`Storage`], only through its `write` methods).
    pub unsafe fn new(ptr: *const u8, len: usize) -> RawView<'a> {
        RawView { ptr, len, _storage: PhantomData }
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
    /// range is not inside the view.
    ///
    /// # Safety
    ///
    /// Nothing may write those bytes while the copy runs: no `write` of the
    /// storage to that range on another thread (that would be a data race).
    /// That the bytes are mapped is the view's own guarantee.
    pub unsafe fn copy_to(&self, offset: u64, out: &mut [u8]) -> bool {
        let Some(start) = self.checked_range(offset, out.len()) else {
            return false;
        };
        // SAFETY: `start..start + out.len()` is inside the view (checked above);
        // the view's bytes are mapped and readable for 'a, which outlasts this
        // borrow of it (`RawView::new`'s contract, or `Storage`'s); the caller
        // promises no concurrent writes; the source and `out` cannot overlap
        // because `out` is a unique borrow, and no `&mut` into a view exists.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(start), out.as_mut_ptr(), out.len()) };
        true
    }

    /// The bytes at `offset..offset + len`, if inside the view.
    ///
    /// # Safety
    ///
    /// The caller must guarantee that nothing writes those bytes for `'a` (the
    /// space layer's pin rules). That they stay mapped for `'a` is the view's
    /// own guarantee.
    pub(crate) unsafe fn slice(&self, offset: u64, len: usize) -> Option<&'a [u8]> {
        let start = self.checked_range(offset, len)?;
        // SAFETY: the range is inside the view (checked), the memory is readable
        // and stays so for 'a (the view's guarantee); the caller promises no
        // writes for 'a.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.add(start), len) })
    }

    fn checked_range(&self, offset: u64, len: usize) -> Option<usize> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.len).then_some(start)
    }
}

/// A copy of all of `storage`'s bytes, taken under `quiet`: proof that nothing
/// writes the storage meanwhile.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn copy_all(storage: &dyn Storage, quiet: Quiet<'_>) -> Vec<u8> {
    let _ = quiet;
    let view = storage.view();
    let mut out = vec![0u8; view.len()];
    // SAFETY: `quiet` proves nothing writes the storage while it is borrowed,
    // which covers this call.
    let copied = unsafe { view.copy_to(0, &mut out) };
    debug_assert!(copied);
    out
}

/// The byte-level backend of a store. All file I/O of the crate goes through it.
///
/// Implementations take `&self` and synchronise internally: the store serialises
/// writers itself, but readers call [`view`](Storage::view) concurrently.
///
/// # Safety
///
/// The store hands out `&[u8]` slices of the views a storage returns and reads
/// them without further checks, so an implementation promises, for every
/// [`RawView`] its [`view`](Storage::view) returns:
///
/// 1. **Mapped.** The view's `len()` bytes are mapped and readable for as long
///    as the view's borrow of the storage lasts (the `'_` of `view`), whatever
///    else happens meanwhile: growing the storage, later views, other threads.
///    Growth never moves, unmaps or shrinks an existing view.
/// 2. **Changed only by `write`.** Those bytes change only through
///    [`write`](Storage::write) and [`write_vectored`](Storage::write_vectored)
///    on this same value, and only the bytes those calls name: nothing else
///    (no other method, no other handle in this process, no background task)
///    writes or frees memory a view covers. The store relies on this to keep
///    its own writes away from what readers see (SPEC.md section 14).
/// 3. **No `&mut` into a view.** The implementation never creates a mutable
///    reference to memory a view covers (it writes through raw pointers or
///    the kernel), and a write never touches bytes outside its range, not
///    even for a moment.
///
/// Reads of a view race only with writes that the store itself serialises
/// against them (its pins); the storage need not synchronise the two. The
/// `Send + Sync` supertraits let views and the storage be shared with readers
/// on other threads.
///
/// Implementing the trait is therefore `unsafe`, and a wrapper that forwards
/// to an inner storage can keep the promises by returning the inner view:
///
/// ```
/// use mappedpages::storage::{MemoryStorage, RawView, Storage};
///
/// struct Counting { inner: MemoryStorage, writes: std::sync::atomic::AtomicU64 }
///
/// // SAFETY: every view is the inner storage's, and bytes change only through
/// // the inner `write`, which only this value's `write` calls.
/// unsafe impl Storage for Counting {
///     fn len(&self) -> u64 { self.inner.len() }
///     fn grow(&self, new_len: u64) -> std::io::Result<()> { self.inner.grow(new_len) }
///     fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
///         self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         self.inner.write(offset, data)
///     }
///     fn sync(&self) -> std::io::Result<()> { self.inner.sync() }
///     fn view(&self) -> RawView<'_> { self.inner.view() }
/// }
/// ```
///
/// A safe `impl` does not compile:
///
/// ```compile_fail,E0200
/// use mappedpages::storage::{RawView, Storage};
///
/// struct Dangling;
///
/// impl Storage for Dangling {
///     fn len(&self) -> u64 { 1 << 20 }
///     fn grow(&self, _: u64) -> std::io::Result<()> { Ok(()) }
///     fn write(&self, _: u64, _: &[u8]) -> std::io::Result<()> { Ok(()) }
///     fn sync(&self) -> std::io::Result<()> { Ok(()) }
///     fn view(&self) -> RawView<'_> { RawView::EMPTY }
/// }
/// ```
///
/// nor can a view outlive the storage that returns it, even inside an
/// implementation (here, a view of a storage made and dropped in `view`):
///
/// ```compile_fail,E0515
/// use mappedpages::storage::{MemoryStorage, RawView, Storage};
///
/// struct Fresh;
///
/// unsafe impl Storage for Fresh {
///     fn len(&self) -> u64 { 0 }
///     fn grow(&self, _: u64) -> std::io::Result<()> { Ok(()) }
///     fn write(&self, _: u64, _: &[u8]) -> std::io::Result<()> { Ok(()) }
///     fn sync(&self) -> std::io::Result<()> { Ok(()) }
///     fn view(&self) -> RawView<'_> { MemoryStorage::new().unwrap().view() }
/// }
/// ```
pub unsafe trait Storage: Send + Sync + 'static {
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

    /// A stable read view of `[0, len())`, borrowed from the storage (see the
    /// trait's safety contract).
    fn view(&self) -> RawView<'_>;
}
