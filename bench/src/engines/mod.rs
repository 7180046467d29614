//! One adapter per engine, behind a common object-safe trait.
//!
//! Pages are named by their index `0..n` in the order they were loaded; each
//! adapter maps an index to its own key (LMDB/redb: the u64 key; raw: the file
//! offset `index * 4096`; mappedpages: the `PageId` handed out by `alloc_bulk`).

use std::fs;
use std::path::Path;

pub mod lmdb;
pub mod mp;
pub mod raw;
pub mod redb;

/// Page size of every workload.
pub const PAGE: usize = 4096;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Res<T> = Result<T, BoxError>;

/// A store of 4 KiB pages under test. Every write method is one durable commit.
pub trait Engine {
    /// Appends pages `start..start+count` in one transaction, with a durable commit.
    /// `start` is always the number of pages already loaded.
    fn load(&mut self, start: u64, count: u64) -> Res<()>;
    /// Overwrites the existing pages `indices` in one durable commit; `stamp`
    /// goes into the written bytes so no two commits write the same data.
    fn overwrite(&mut self, indices: &[u64], stamp: u64) -> Res<()>;
    /// Reads every page of `indices` in one read transaction, touching its bytes;
    /// returns a checksum of what was read so the reads cannot be optimized away.
    fn read_xor(&self, indices: &[u64]) -> Res<u64>;
    /// Makes a durable, named snapshot of the newest version; `Ok(false)` when
    /// the engine has none.
    fn snapshot(&mut self, _name: &str) -> Res<bool> {
        Ok(false)
    }
    /// Copies the store to a new file at `path`, synced, as the engine's own
    /// backup does (W7); the copy's length, or `None` when the engine has no
    /// such call here.
    fn copy_to(&self, _path: &Path) -> Res<Option<u64>> {
        Ok(None)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mappedpages,
    Lmdb,
    Redb,
    Raw,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Mappedpages, Kind::Lmdb, Kind::Redb, Kind::Raw];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Mappedpages => "mappedpages",
            Kind::Lmdb => "lmdb",
            Kind::Redb => "redb",
            Kind::Raw => "raw",
        }
    }

    /// Whether W5 (open time) means anything for the engine.
    pub fn has_open(self) -> bool {
        self != Kind::Raw
    }

    /// A new, empty store in `dir` (created; must not exist yet). `max_pages`
    /// is the most pages it will ever hold (LMDB sizes its map from it).
    pub fn create(self, dir: &Path, max_pages: u64) -> Res<Box<dyn Engine>> {
        fs::create_dir_all(dir)?;
        Ok(match self {
            Kind::Mappedpages => Box::new(mp::Mp::create(dir)?),
            Kind::Lmdb => Box::new(lmdb::Lmdb::create(dir, max_pages)?),
            Kind::Redb => Box::new(redb::Redb::create(dir)?),
            Kind::Raw => Box::new(raw::Raw::create(dir)?),
        })
    }

    /// Opens the existing store in `dir` and begins (and ends) one read
    /// transaction: what W5 times. Returns the handle so dropping it is not timed.
    /// Opens an existing store for writing (W6).
    pub fn open_engine(self, dir: &Path, max_pages: u64) -> Res<Option<Box<dyn Engine>>> {
        Ok(match self {
            Kind::Mappedpages => Some(Box::new(mp::Mp::open(dir)?)),
            Kind::Redb => Some(Box::new(redb::Redb::open(dir)?)),
            Kind::Lmdb | Kind::Raw => {
                let _ = max_pages;
                None
            }
        })
    }

    pub fn open_and_begin_read(self, dir: &Path, max_pages: u64) -> Res<Box<dyn std::any::Any>> {
        Ok(match self {
            Kind::Mappedpages => Box::new(mp::Mp::open_and_begin_read(dir)?),
            Kind::Lmdb => Box::new(lmdb::Lmdb::open_and_begin_read(dir, max_pages)?),
            Kind::Redb => Box::new(redb::Redb::open_and_begin_read(dir)?),
            Kind::Raw => return Err("raw device has no open step".into()),
        })
    }

    /// Closes a handle returned by `open_and_begin_read` completely, so the
    /// same store can be opened again in this process.
    pub fn close(self, handle: Box<dyn std::any::Any>) {
        if self == Kind::Lmdb {
            if let Ok(l) = handle.downcast::<lmdb::Lmdb>() {
                l.close();
            }
        } else {
            drop(handle);
        }
    }
}

/// The bytes written for page `index` by the write numbered `stamp`:
/// pseudo-random filler with the page index and stamp at both ends.
pub fn fill_page(buf: &mut [u8], index: u64, stamp: u64) {
    debug_assert_eq!(buf.len(), PAGE);
    let tag = index ^ stamp.rotate_left(32);
    buf[..8].copy_from_slice(&tag.to_le_bytes());
    buf[PAGE - 8..].copy_from_slice(&stamp.to_le_bytes());
}

/// A 4 KiB buffer of pseudo-random bytes (so nothing in the path can
/// compress or deduplicate it), to be stamped by `fill_page`.
pub fn page_template(seed: u64) -> Vec<u8> {
    let mut rng = crate::Rng::new(seed ^ 0x5eed_f111);
    let mut buf = vec![0u8; PAGE];
    for chunk in buf.chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    buf
}

/// What a "read" of a page consists of in W4: two u64 loads from both ends
/// of the page (the two cache lines `fill_page` stamps).
#[inline(always)]
pub fn touch(page: &[u8]) -> u64 {
    let head = u64::from_le_bytes(page[..8].try_into().unwrap());
    let tail = u64::from_le_bytes(page[PAGE - 8..PAGE].try_into().unwrap());
    head ^ tail.rotate_left(7)
}
