//! How a store is opened: durability and the other options.

/// When a commit is durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
