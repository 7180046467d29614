//! The root record: one 512-byte sector in one of two slots after the header
//! (where they lie: `layout.rs`).
//! A commit writes a new root into the slot that does not hold the newest
//! durable root; recovery takes the newest root whose checks hold.

use super::{Hash16, Layout, MapRef, SECTOR, TableRef, get_hash, get_u64, hash16, put_hash, put_u64};
use crate::error::{Error, Result, Structure};

const MAGIC: &[u8; 8] = b"MPROOT01";
const CHECKSUM_AT: usize = 496;

/// Deepest tree a decoder accepts; deeper than any u64 id space needs.
pub const MAX_DEPTH: u8 = 24;

/// Reference to the head of the pending-free list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainRef {
    /// Sector of the head page; 0 = empty list.
    pub location: u64,
    /// Version that wrote the head page.
    pub written: u64,
    /// blake3 of the head page, cut to 16 bytes.
    pub checksum: Hash16,
}

impl ChainRef {
    pub(crate) fn read(b: &[u8], at: usize) -> ChainRef {
        ChainRef { location: get_u64(b, at), written: get_u64(b, at + 8), checksum: get_hash(b, at + 16) }
    }

    pub(crate) fn write(&self, b: &mut [u8], at: usize) {
        put_u64(b, at, self.location);
        put_u64(b, at + 8, self.written);
        put_hash(b, at + 16, &self.checksum);
    }

    /// A reference with location 0 (none) is written as 32 zero bytes; a
    /// reader rejects one that is not (SPEC.md 4.2).
    pub fn is_canonical(&self) -> bool {
        self.location != 0 || *self == ChainRef::default()
    }
}

/// A decoded root record: everything that names one committed version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Root {
    /// The version this root commits (1, 2, 3, …; 0 is the empty store).
    pub version: u64,
    /// Commit time, nanoseconds since the Unix epoch.
    pub commit_nanos: u64,
    /// Every page this root reaches that was written at a version ≤ this one is
    /// known to be on disk; recovery checks the others.
    pub synced_through: u64,
    /// File length this root's free map covers, in bytes (a multiple of the page size).
    pub file_len: u64,
    /// One past the largest id ever handed out.
    pub next_id: u64,
    /// Levels of the page table (0 = empty table).
    pub table_depth: u8,
    /// Levels of the free map (0 = no free sector).
    pub map_depth: u8,
    /// The page table's top node.
    pub table: TableRef,
    /// The free map's top node.
    pub map: MapRef,
    /// Newest page of the pending-free list.
    pub pending: ChainRef,
    /// Pending groups (one per commit, named by the commit's version) at or
    /// below this have had their content records processed.
    pub pending_floor: u64,
    /// Sectors held by pending records (for statistics).
    pub pending_sectors: u64,
    /// Head of the snapshot catalog.
    pub catalog: ChainRef,
    /// Pending groups at or below this have had their structure records released.
    pub structure_floor: u64,
    /// Pending pages written at or below this are gone (the walk stops there);
    /// the history window starts after it.
    pub history_floor: u64,
    /// History window: keep at least this many newest versions readable.
    pub keep_versions: u64,
    /// History window: keep the versions committed in the last this many seconds.
    pub keep_seconds: u64,
    /// Sectors held by snapshot deadlists (for statistics).
    pub snapshot_sectors: u64,
    /// The oldest version this root keeps readable through the history window
    /// (the root's own version when the window is empty).
    pub history_start: u64,
}

impl Root {
    /// Encodes the root as one sector.
    pub fn encode(&self) -> [u8; SECTOR as usize] {
        let mut b = [0u8; SECTOR as usize];
        b[0..8].copy_from_slice(MAGIC);
        put_u64(&mut b, 8, self.version);
        put_u64(&mut b, 16, self.commit_nanos);
        put_u64(&mut b, 24, self.synced_through);
        put_u64(&mut b, 32, self.file_len);
        put_u64(&mut b, 40, self.next_id);
        b[48] = self.table_depth;
        b[49] = self.map_depth;
        self.table.write(&mut b, 56);
        self.map.write(&mut b, 120);
        self.pending.write(&mut b, 160);
        put_u64(&mut b, 192, self.pending_floor);
        put_u64(&mut b, 200, self.pending_sectors);
        self.catalog.write(&mut b, 208);
        put_u64(&mut b, 240, self.structure_floor);
        put_u64(&mut b, 248, self.history_floor);
        put_u64(&mut b, 256, self.keep_versions);
        put_u64(&mut b, 264, self.keep_seconds);
        put_u64(&mut b, 272, self.snapshot_sectors);
        put_u64(&mut b, 280, self.history_start);
        let sum = hash16(&b[..CHECKSUM_AT]);
        put_hash(&mut b, CHECKSUM_AT, &sum);
        b
    }

    /// Decodes a slot. `Ok(None)` for a slot never written (all zeros).
    pub fn decode(b: &[u8], page_size: usize, layout: Layout, offset: u64) -> Result<Option<Root>> {
        let bad = |detail: String| Error::corrupt(Structure::Root, offset, detail);
        let Some(b) = b.get(..SECTOR as usize) else {
            return Err(bad("root slot cut off by end of file".into()));
        };
        if b.iter().all(|&x| x == 0) {
            return Ok(None);
        }
        if &b[0..8] != MAGIC {
            return Err(bad("bad magic".into()));
        }
        if hash16(&b[..CHECKSUM_AT]) != get_hash(b, CHECKSUM_AT) {
            return Err(bad("checksum mismatch".into()));
        }
        if b[50..56].iter().chain(&b[288..CHECKSUM_AT]).any(|&x| x != 0) {
            return Err(bad("reserved bytes are not zero".into()));
        }
        let root = Root {
            version: get_u64(b, 8),
            commit_nanos: get_u64(b, 16),
            synced_through: get_u64(b, 24),
            file_len: get_u64(b, 32),
            next_id: get_u64(b, 40),
            table_depth: b[48],
            map_depth: b[49],
            table: TableRef::read(b, 56),
            map: MapRef::read(b, 120),
            pending: ChainRef::read(b, 160),
            pending_floor: get_u64(b, 192),
            pending_sectors: get_u64(b, 200),
            catalog: ChainRef::read(b, 208),
            structure_floor: get_u64(b, 240),
            history_floor: get_u64(b, 248),
            keep_versions: get_u64(b, 256),
            keep_seconds: get_u64(b, 264),
            snapshot_sectors: get_u64(b, 272),
            history_start: get_u64(b, 280),
        };
        if root.version == u64::MAX {
            return Err(bad("version u64::MAX leaves no version for the next commit".into()));
        }
        if root.table_depth > MAX_DEPTH || root.map_depth > MAX_DEPTH {
            return Err(bad(format!("tree depth {}/{} too large", root.table_depth, root.map_depth)));
        }
        if !root.file_len.is_multiple_of(page_size as u64)
            || root.file_len < layout.meta_pages(page_size) * page_size as u64
        {
            return Err(bad(format!(
                "file length {} is not a multiple of the page size covering the header and roots",
                root.file_len
            )));
        }
        if root.synced_through > root.version
            || root.structure_floor > root.version
            || root.pending_floor > root.structure_floor
            || root.history_floor > root.pending_floor
            || root.history_start > root.version
        {
            return Err(bad("synced_through or the pending floors out of order".into()));
        }
        if (root.table_depth == 0 && root.table != TableRef::default())
            || (root.map_depth == 0 && root.map != MapRef::default())
        {
            return Err(bad("a tree of depth 0 has a top node reference that is not all zero".into()));
        }
        if !root.pending.is_canonical() || !root.catalog.is_canonical() {
            return Err(bad("a chain reference with location 0 is not all zero".into()));
        }
        Ok(Some(root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Root {
        Root {
            version: 9,
            commit_nanos: 5,
            synced_through: 8,
            file_len: 4096 * 10,
            next_id: 3,
            table_depth: 1,
            map_depth: 1,
            table: TableRef { location: 8, written: 9, max_birth: 9, live: 3, checksum: [1; 16], content: [2; 16] },
            map: MapRef { location: 16, written: 9, free: 7, checksum: [3; 16] },
            pending: ChainRef { location: 24, written: 9, checksum: [4; 16] },
            pending_floor: 7,
            pending_sectors: 16,
            catalog: ChainRef { location: 32, written: 8, checksum: [5; 16] },
            structure_floor: 8,
            history_floor: 6,
            keep_versions: 10,
            keep_seconds: 3600,
            snapshot_sectors: 64,
            history_start: 8,
        }
    }

    #[test]
    fn root_round_trips() {
        let b = sample().encode();
        assert_eq!(Root::decode(&b, 4096, Layout::V3, 4096).unwrap(), Some(sample()));
        assert_eq!(Root::decode(&[0u8; 512], 4096, Layout::V3, 4096).unwrap(), None);
    }

    #[test]
    fn hostile_file_root_shorter_than_the_meta_area_is_rejected() {
        // Found by fuzzing: growing from such a length freed the root slots.
        let at = |file_len| Root { file_len, ..sample() }.encode();
        assert!(Root::decode(&at(1024), 1024, Layout::V2, 512).is_err());
        assert!(Root::decode(&at(2048), 1024, Layout::V2, 512).is_ok());
        assert!(Root::decode(&at(11 * 1024), 1024, Layout::V3, 4096).is_err());
        assert!(Root::decode(&at(12 * 1024), 1024, Layout::V3, 4096).is_ok());
    }

    #[test]
    fn hostile_file_root_with_the_last_version_is_rejected() {
        // Found by fuzzing: committing on top of it overflowed the version.
        let root = Root { version: u64::MAX, ..sample() };
        assert!(Root::decode(&root.encode(), 4096, Layout::V3, 4096).is_err());
        let root = Root { version: u64::MAX - 1, ..sample() };
        assert!(Root::decode(&root.encode(), 4096, Layout::V3, 4096).is_ok());
    }

    #[test]
    fn hostile_file_root_every_flipped_byte_is_rejected() {
        let good = sample().encode();
        for i in 0..good.len() {
            let mut b = good;
            b[i] ^= 0x01;
            assert!(Root::decode(&b, 4096, Layout::V3, 4096).is_err(), "flip at {i} accepted");
        }
    }
}
