//! How a store is opened: durability and the other options.

/// When a commit is durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// `commit` returns after the commit is on disk (one fdatasync for
    /// ordinary commits). A power cut never loses an acknowledged commit.
    #[default]
    Immediate,
    /// `commit` returns without syncing; the store syncs when
    /// [`Options::eventual_sync_bytes`] unsynced bytes have piled up, on
    /// [`Store::sync`](crate::Store::sync) and when dropped. A power cut may lose the newest commits
    /// but never leaves a partial one.
    Eventual,
}

/// How to open a store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// When commits are durable.
    pub durability: Durability,
    /// Address space reserved for the file mapping; growing past it adds a new
    /// mapping (old views stay valid), so this only affects performance.
    pub reserve: u64,
    /// With [`Durability::Eventual`], sync once this many bytes are unsynced.
    pub eventual_sync_bytes: u64,
    /// Commits writing more than this many bytes sync their pages before their
    /// root (two syncs), so that recovery need not check them.
    pub presync_bytes: u64,
    /// The file never grows beyond this many bytes.
    pub max_file_len: u64,
    /// Check each page's checksum on every read (slower; the default trusts the
    /// mapping and leaves checking to [`Store::verify`](crate::Store::verify)).
    pub verify_reads: bool,
    /// Before the first commit after open, check that the file's structure is
    /// what this engine writes: every node's checksum, and that the free map
    /// marks everything a kept version reaches in use (SPEC.md section 14,
    /// point 6). A crafted or damaged file whose free map lies would
    /// otherwise let commits overwrite pages readers still read. It reads
    /// the table, the free map and the lists once, not the data pages: about
    /// 5 ms for a 200 MB store and 37 ms for a 1 GiB one, paid by the first
    /// commit (opening stays O(1)). Turn it off only for files you vouch for.
    pub check_before_first_commit: bool,
    /// Where commits place their pages: a built-in strategy or your own
    /// (policy, not format: a store opens under any of them).
    pub allocation: crate::space::Allocation,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Immediate,
            reserve: crate::storage::file::DEFAULT_RESERVE,
            eventual_sync_bytes: 64 << 20,
            presync_bytes: 8 << 20,
            max_file_len: 1 << 46,
            verify_reads: false,
            check_before_first_commit: true,
            allocation: crate::space::Allocation::NextFit,
        }
    }
}

/// Setters, so that options can be added without breaking callers (the
/// struct is `#[non_exhaustive]`: build it from [`Options::default`]).
///
/// ```
/// use mappedpages::{Durability, Options, Store};
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let options = Options::default().durability(Durability::Eventual).reserve(1 << 30);
/// let store = Store::<4096>::create_with(dir.path().join("s.db"), options)?;
/// # Ok(()) }
/// ```
impl Options {
    /// Sets [`allocation`](Options#structfield.allocation): the placement
    /// strategy, chosen per open.
    pub fn allocation(mut self, allocation: crate::space::Allocation) -> Options {
        self.allocation = allocation;
        self
    }

    /// Sets [`durability`](Options#structfield.durability).
    pub fn durability(mut self, durability: Durability) -> Options {
        self.durability = durability;
        self
    }

    /// Sets [`reserve`](Options#structfield.reserve), in bytes.
    pub fn reserve(mut self, bytes: u64) -> Options {
        self.reserve = bytes;
        self
    }

    /// Sets [`eventual_sync_bytes`](Options#structfield.eventual_sync_bytes).
    pub fn eventual_sync_bytes(mut self, bytes: u64) -> Options {
        self.eventual_sync_bytes = bytes;
        self
    }

    /// Sets [`presync_bytes`](Options#structfield.presync_bytes).
    pub fn presync_bytes(mut self, bytes: u64) -> Options {
        self.presync_bytes = bytes;
        self
    }

    /// Sets [`max_file_len`](Options#structfield.max_file_len), in bytes.
    pub fn max_file_len(mut self, bytes: u64) -> Options {
        self.max_file_len = bytes;
        self
    }

    /// Sets [`verify_reads`](Options#structfield.verify_reads).
    pub fn verify_reads(mut self, on: bool) -> Options {
        self.verify_reads = on;
        self
    }

    /// Sets [`check_before_first_commit`](Options#structfield.check_before_first_commit).
    pub fn check_before_first_commit(mut self, on: bool) -> Options {
        self.check_before_first_commit = on;
        self
    }
}
