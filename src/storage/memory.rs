//! A storage in memory: a fixed reservation of anonymous memory, grown in place.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapMut, MmapOptions};

use super::{RawView, Storage};

/// Bytes reserved by [`MemoryStorage::new`]: untouched memory costs nothing.
pub const DEFAULT_MEMORY_CAPACITY: usize = 1 << 30;

/// A storage held in memory. Its address range is reserved up front (`capacity`),
/// so growing never moves it and views stay valid; growing past the capacity fails
/// with `ErrorKind::StorageFull`.
pub struct MemoryStorage {
    /// Owns the reservation; only touched through `base` after creation.
    _map: MmapMut,
    base: *mut u8,
    capacity: usize,
    len: AtomicU64,
    /// Serialises writers; readers go through views.
    write_lock: Mutex<()>,
}

// SAFETY: the raw pointer refers to memory owned by `_map`, which lives as long as
// the value; writes are serialised by `write_lock`, and the store never writes
// bytes that a view it handed out can see.
unsafe impl Send for MemoryStorage {}
// SAFETY: as above.
unsafe impl Sync for MemoryStorage {}

impl MemoryStorage {
    /// An empty storage with the default capacity.
    pub fn new() -> io::Result<MemoryStorage> {
        MemoryStorage::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }

    /// An empty storage that can grow up to `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> io::Result<MemoryStorage> {
        let mut map = MmapOptions::new().len(capacity.max(1)).no_reserve_swap().map_anon()?;
        let base = map.as_mut_ptr();
        Ok(MemoryStorage { _map: map, base, capacity, len: AtomicU64::new(0), write_lock: Mutex::new(()) })
    }

    /// A storage holding a copy of `bytes`, with room to grow to `capacity`.
    pub fn from_bytes(bytes: &[u8], capacity: usize) -> io::Result<MemoryStorage> {
        let storage = MemoryStorage::with_capacity(capacity.max(bytes.len()))?;
        storage.grow(bytes.len() as u64)?;
        storage.write(0, bytes)?;
        Ok(storage)
    }

    /// A copy of the current contents.
    pub fn to_vec(&self) -> Vec<u8> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let view = self.view();
        let mut out = vec![0u8; view.len()];
        // SAFETY: every write takes `write_lock`, held here, so nothing writes
        // the bytes while they are copied.
        unsafe { view.copy_to(0, &mut out) };
        out
    }
}

// SAFETY: the reservation (`_map`) is mapped for the value's whole life and never
// moves; `grow` only raises `len` inside it, so a view, bounded by `len` when it
// was made, stays mapped while it borrows the value. Its bytes change only in
// `write`, through a raw pointer, at the range asked for.
unsafe impl Storage for MemoryStorage {
    fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    fn grow(&self, new_len: u64) -> io::Result<()> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        if new_len > self.capacity as u64 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "memory storage capacity exceeded"));
        }
        if new_len > self.len() {
            self.len.store(new_len, Ordering::Release);
        }
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let end = offset.checked_add(data.len() as u64);
        if end.is_none_or(|end| end > self.len()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "write past the end of storage"));
        }
        // SAFETY: `offset..offset + data.len()` is inside the reservation (checked
        // against `len <= capacity` above); writes are serialised by the lock, and
        // `data` cannot alias the reservation's bytes being written because the
        // store never passes a slice of its own mapping to `write`.
        unsafe { std::ptr::copy(data.as_ptr(), self.base.add(offset as usize), data.len()) };
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn view(&self) -> RawView<'_> {
        // SAFETY: the reservation is mapped for the value's life (which the view's
        // borrow cannot outlast), `len <= capacity`, and only `write` changes it.
        unsafe { RawView::new(self.base, self.len() as usize) }
    }
}
