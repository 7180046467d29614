//! The real file: reads through a memory mapping, writes through `pwrite`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{Mmap, MmapOptions};

use super::{RawView, Storage};

/// Address space reserved for the mapping when a file is opened, unless the file
/// is larger: growth inside the reservation never remaps.
pub const DEFAULT_RESERVE: u64 = 8 << 30;

/// How to open a [`FileStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileMode {
    /// Create a new file, or take an existing empty one (fail with
    /// `AlreadyExists` if it has bytes); exclusive lock.
    Create,
    /// Open an existing file for writing; exclusive lock.
    Write,
    /// Open a file for writing, creating it if missing; exclusive lock.
    OpenOrCreate,
    /// Open an existing file read-only; shared lock.
    ReadOnly,
}

/// A file read through a memory mapping and written with positioned writes.
///
/// The mapping reserves more address space than the file needs. When the file
/// outgrows it, a larger mapping is made and the old one is kept until the
/// storage is dropped, so every view handed out stays valid.
pub struct FileStorage {
    file: File,
    writable: bool,
    len: AtomicU64,
    /// Every mapping made so far; the last is current. Never shrinks.
    maps: Mutex<Vec<Mmap>>,
    /// Address space the next mapping reserves; lowered when the system refuses it.
    reserve: AtomicU64,
}

impl FileStorage {
    /// Opens (or creates) the file at `path` and takes its lock: exclusive for
    /// the writing modes, shared for `ReadOnly`. Fails at once when another
    /// handle holds a conflicting lock, with `WouldBlock` whose inner error is
    /// the [`LockHolder`](crate::LockHolder); with `IsADirectory` for a directory.
    pub fn open(path: &Path, mode: FileMode, reserve: u64) -> io::Result<FileStorage> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(io::Error::from(io::ErrorKind::IsADirectory)),
            Ok(m) if mode == FileMode::Create && m.len() > 0 => {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            _ => {}
        }
        let file = match mode {
            FileMode::Create | FileMode::OpenOrCreate => {
                OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?
            }
            FileMode::Write => OpenOptions::new().read(true).write(true).open(path)?,
            FileMode::ReadOnly => OpenOptions::new().read(true).open(path)?,
        };
        if file.metadata()?.is_dir() {
            return Err(io::Error::from(io::ErrorKind::IsADirectory));
        }
        let exclusive = mode != FileMode::ReadOnly;
        let locked = if exclusive { file.try_lock() } else { file.try_lock_shared() };
        match locked {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = super::lock::lock_holder(&file, exclusive);
                return Err(io::Error::new(io::ErrorKind::WouldBlock, holder));
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
        if mode == FileMode::Create && file.metadata()?.len() > 0 {
            // Written between the check above and the lock.
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        if matches!(mode, FileMode::Create | FileMode::OpenOrCreate)
            && let Some(dir) = path.parent()
        {
            // Make the new directory entry durable; a store whose file vanishes
            // after a power cut has lost its first commits.
            let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        let len = file.metadata()?.len();
        let storage = FileStorage {
            file,
            writable: mode != FileMode::ReadOnly,
            len: AtomicU64::new(len),
            maps: Mutex::new(Vec::new()),
            reserve: AtomicU64::new(reserve.max(MIN_MAP)),
        };
        storage.remap(len)?;
        Ok(storage)
    }

    /// Makes a mapping that covers at least `len` bytes, if the current one does not.
    ///
    /// It reserves `reserve` bytes (or twice `len`, if more). When the system
    /// refuses that much address space (`ulimit -v`, some containers: ENOMEM)
    /// it asks for less until one maps, down to `len` itself. The first
    /// time, it then maps a quarter of what the system gave and keeps that as
    /// the reservation, so that the process and later growth keep the rest:
    /// growth past a mapping maps anew (the old mappings stay while the
    /// storage lives, so every view stays valid, and each costs its size in
    /// address space until the store is closed). Only when `len` itself cannot
    /// be mapped does it fail, with an `OutOfMemory` error that says what to set.
    fn remap(&self, len: u64) -> io::Result<()> {
        let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        if maps.last().is_some_and(|m| m.len() as u64 >= len) {
            return Ok(());
        }
        let floor = len.max(MIN_MAP);
        let mut size = self.reserve.load(Ordering::Relaxed).max(len.saturating_mul(2));
        let mut refused = false;
        let map = loop {
            match self.map(size) {
                Ok(map) if refused && maps.is_empty() && size / 4 >= floor => {
                    drop(map);
                    size /= 4;
                    self.reserve.store(size, Ordering::Relaxed);
                    break self.map(size)?;
                }
                Ok(map) => break map,
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) && size > floor => {
                    refused = true;
                    // Halve while far above what is needed, then close in.
                    size = if size >= 4 * floor { size / 2 } else { (size / 4 * 3).max(floor) };
                    self.reserve.store(size, Ordering::Relaxed);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                    return Err(io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        format!(
                            "mapping {size} bytes of the file failed: out of address space ({e}); \
                             raise the limit (ulimit -v) or lower the reservation (Options::reserve)"
                        ),
                    ));
                }
                Err(e) => return Err(e),
            }
        };
        // Pages are read where the page table points, not in file order: without
        // this, each cold fault would read a large window around it.
        map.advise(memmap2::Advice::Random)?;
        maps.push(map);
        Ok(())
    }

    fn map(&self, size: u64) -> io::Result<Mmap> {
        let size = usize::try_from(size).map_err(|_| io::Error::other("mapping too large"))?;
        // SAFETY: the mapping is read-only and shared. Bytes past the end of the
        // file are never read: views are bounded by the file length. Other
        // processes are kept from writing the file by its lock (SPEC.md,
        // "Soundness"); this process writes only through `write`, to extents no
        // view can reach.
        unsafe { MmapOptions::new().len(size).map(&self.file) }
    }

    /// The address space the next mapping reserves: `reserve` as asked for,
    /// or less after the system refused that much.
    pub fn reservation(&self) -> u64 {
        self.reserve.load(Ordering::Relaxed)
    }
}

/// The smallest mapping the fallback asks for.
const MIN_MAP: u64 = 1 << 20;

// SAFETY: every mapping is kept in `maps` until the value is dropped (never
// removed or remapped), so a view, bounded by the file length and by its mapping,
// stays mapped while it borrows the value; the file never shrinks (`grow` only
// lengthens it). The mappings are read-only; the file's bytes change only through
// `write` and `write_vectored` (positioned writes of the given range), and other
// processes are kept out by the file lock (SPEC.md section 14).
unsafe impl Storage for FileStorage {
    fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    fn grow(&self, new_len: u64) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        if new_len <= self.len() {
            return Ok(());
        }
        self.remap(new_len)?;
        self.file.set_len(new_len)?;
        self.len.store(new_len, Ordering::Release);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        if offset.checked_add(data.len() as u64).is_none_or(|end| end > self.len()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "write past the end of the file"));
        }
        self.file.write_all_at(data, offset)
    }

    // `pwritev` where the platform has it (elsewhere the trait's default
    // writes the buffers one by one).
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    fn write_vectored(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        let total: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        if offset.checked_add(total).is_none_or(|end| end > self.len()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "write past the end of the file"));
        }
        let mut at = offset;
        // Each call takes at most IOV_MAX buffers; partial writes resume where
        // the kernel stopped.
        for group in bufs.chunks(1024) {
            let iov: Vec<libc::iovec> = group
                .iter()
                .map(|b| libc::iovec { iov_base: b.as_ptr() as *mut libc::c_void, iov_len: b.len() })
                .collect();
            let want: usize = group.iter().map(|b| b.len()).sum();
            // SAFETY: every iovec points at a live, initialised slice borrowed for
            // this call; pwritev only reads them.
            let n = unsafe {
                libc::pwritev(self.file.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int, at as libc::off_t)
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n < want {
                // Rare: finish this group with plain writes.
                let mut skip = n;
                let mut pos = at + n as u64;
                for b in group {
                    if skip >= b.len() {
                        skip -= b.len();
                        continue;
                    }
                    self.file.write_all_at(&b[skip..], pos)?;
                    pos += (b.len() - skip) as u64;
                    skip = 0;
                }
            }
            at += want as u64;
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        if !self.writable {
            return Ok(());
        }
        self.file.sync_data()
    }

    #[cfg(target_os = "linux")]
    fn start_writeback(&self, offset: u64, len: u64) {
        if self.writable {
            // SAFETY: a system call on a descriptor this storage owns that reads
            // no memory of ours. A failure only means writeback starts later.
            unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    offset as libc::off64_t,
                    len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
    }

    /// The end of the file's last data extent, when the rest is a hole
    /// (`SEEK_DATA` / `SEEK_HOLE`, looking only at the last quarter of the
    /// file: a few system calls whatever its size); the file's length when the
    /// file system cannot tell or the data there is in many extents.
    #[cfg(target_os = "linux")]
    fn unwritten_from(&self) -> u64 {
        let len = self.len();
        let fd = self.file.as_raw_fd();
        // Past `pos` there is no data but [.., end) (a hole before `pos` ends
        // the search there: where the tail hole begins below it is not asked).
        let mut pos = len - len / 4;
        let mut end = pos;
        for _ in 0..8 {
            // SAFETY: lseek on a descriptor this storage owns reads no memory of
            // ours; it moves the file offset, which no other call here uses
            // (all reads go through the mapping and all writes are positioned).
            let data = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
            if data < 0 {
                // ENXIO: no data at or after `pos`; any other error: no claim.
                let no_more = io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO);
                return if no_more { end.min(len) } else { len };
            }
            // SAFETY: as above.
            let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
            if hole < 0 || hole as u64 >= len {
                return len;
            }
            (pos, end) = (hole as u64, hole as u64);
        }
        len
    }

    fn view(&self) -> RawView<'_> {
        let maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        let Some(map) = maps.last() else {
            return RawView::EMPTY;
        };
        let len = (self.len() as usize).min(map.len());
        // SAFETY: the mapping lives in `maps` until the storage is dropped (never
        // removed), which the view's borrow cannot outlast, and bytes below the
        // file length change only through `write`.
        unsafe { RawView::new(map.as_ptr(), len) }
    }
}
