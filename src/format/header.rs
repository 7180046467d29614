//! The file header: sector 0, written once at creation.

use super::{Layout, SECTOR, get_hash, get_u32, get_u64, hash16, put_hash, put_u32, put_u64};
use crate::error::{Error, Result, Structure};

/// The format version this code writes into a new file. It also reads (and
/// commits to) every version of [`Layout::READS`].
pub const FORMAT_VERSION: u32 = Layout::CURRENT.version();

const MAGIC: &[u8; 8] = b"MAPPAGES";
const CHECKSUM_AT: usize = 496;

/// The decoded file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The file's format version: where its root slots lie ([`Header::layout`]).
    pub format_version: u32,
    /// Page size of the store, in bytes.
    pub page_size: u32,
    /// Features a reader must understand (none are defined).
    pub incompat_features: u64,
    /// Features a reader may ignore (none are defined).
    pub compat_features: u64,
    /// When the store was created (nanoseconds since the Unix epoch).
    pub created_nanos: u64,
    /// A random identity, to tell stores (and their backups) apart.
    pub store_id: [u8; 16],
}

impl Header {
    /// The meta-area layout of the file's format version (decode checked it).
    pub fn layout(&self) -> Layout {
        Layout::of_version(self.format_version).unwrap_or(Layout::CURRENT)
    }

    /// Encodes the header as one 512-byte sector.
    pub fn encode(&self) -> [u8; SECTOR as usize] {
        let mut b = [0u8; SECTOR as usize];
        b[0..8].copy_from_slice(MAGIC);
        put_u32(&mut b, 8, self.format_version);
        put_u32(&mut b, 12, self.page_size);
        put_u64(&mut b, 16, self.incompat_features);
        put_u64(&mut b, 24, self.compat_features);
        put_u64(&mut b, 32, self.created_nanos);
        b[40..56].copy_from_slice(&self.store_id);
        let sum = hash16(&b[..CHECKSUM_AT]);
        put_hash(&mut b, CHECKSUM_AT, &sum);
        b
    }

    /// Decodes and checks the header from the first bytes of the file.
    pub fn decode(file: &[u8]) -> Result<Header> {
        let Some(b) = file.get(..SECTOR as usize) else {
            return Err(Error::UnsupportedFormat(format!("file is {} bytes, shorter than a header", file.len())));
        };
        if &b[0..8] != MAGIC {
            return Err(Error::UnsupportedFormat("no mappedpages magic at the start of the file".into()));
        }
        if hash16(&b[..CHECKSUM_AT]) != get_hash(b, CHECKSUM_AT) {
            return Err(Error::corrupt(Structure::Header, 0, "header checksum mismatch"));
        }
        let version = get_u32(b, 8);
        if Layout::of_version(version).is_none() {
            let reads = Layout::READS.map(|l| l.version().to_string()).join(" and ");
            return Err(Error::UnsupportedFormat(format!("format version {version}, this build reads {reads}")));
        }
        let mut store_id = [0u8; 16];
        store_id.copy_from_slice(&b[40..56]);
        let header = Header {
            format_version: version,
            page_size: get_u32(b, 12),
            incompat_features: get_u64(b, 16),
            compat_features: get_u64(b, 24),
            created_nanos: get_u64(b, 32),
            store_id,
        };
        if header.incompat_features != 0 {
            return Err(Error::UnsupportedFormat(format!("unknown features {:#x}", header.incompat_features)));
        }
        if !header.page_size.is_power_of_two() || header.page_size < 1024 {
            return Err(Error::corrupt(Structure::Header, 0, format!("invalid page size {}", header.page_size)));
        }
        if b[56..CHECKSUM_AT].iter().any(|&x| x != 0) {
            return Err(Error::corrupt(Structure::Header, 0, "reserved header bytes are not zero"));
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            format_version: FORMAT_VERSION,
            page_size: 4096,
            incompat_features: 0,
            compat_features: 0,
            created_nanos: 42,
            store_id: [7; 16],
        }
    }

    #[test]
    fn header_round_trips() {
        let b = sample().encode();
        assert_eq!(Header::decode(&b).unwrap(), sample());
    }

    #[test]
    fn hostile_file_header_every_flipped_byte_is_rejected() {
        let good = sample().encode();
        for i in 0..good.len() {
            let mut b = good;
            b[i] ^= 0x10;
            assert!(Header::decode(&b).is_err(), "flip at {i} accepted");
        }
        assert!(Header::decode(&good[..100]).is_err());
    }

    #[test]
    fn every_read_version_decodes_and_others_are_unsupported() {
        for version in [1, 2, 3, 4, u32::MAX] {
            let h = Header { format_version: version, ..sample() };
            match Header::decode(&h.encode()) {
                Ok(d) => assert!(Layout::of_version(version) == Some(d.layout()) && d == h),
                Err(Error::UnsupportedFormat(_)) => assert_eq!(Layout::of_version(version), None),
                Err(e) => panic!("version {version}: {e}"),
            }
        }
    }
}
