//! The backup stream format (SPEC.md, "Backup streams"): the header, the
//! records and the trailer, encoded and decoded side by side.
//!
//! The decoder trusts nothing: every length is bounded before anything is
//! allocated (a page record holds at most one page, a ranges record at most
//! [`MAX_RANGES_LEN`] bytes), every record's checksum binds it to its stream
//! and its place in it, and order (ascending ids, sections in order) is
//! checked as records arrive. Memory is one record at a time.

use std::io::{self, Read, Write};

use super::error::BackupError;
use crate::error::{Error, Result};
use crate::format::Hash16;

/// The first 8 bytes of every stream.
pub const STREAM_MAGIC: [u8; 8] = *b"MPBACKUP";
/// The stream format version this build writes and reads.
pub const STREAM_VERSION: u32 = 1;
/// Header feature bit: an incremental stream (the base fields are meaningful).
pub const FEATURE_INCREMENTAL: u32 = 1;
/// Every feature bit this build knows; others are refused.
const KNOWN_FEATURES: u32 = FEATURE_INCREMENTAL;
/// Codec of the body: stored as is.
pub const CODEC_NONE: u8 = 0;
/// Codec of the body: one zstd frame.
pub const CODEC_ZSTD: u8 = 1;
/// Encoded header size.
pub const HEADER_LEN: usize = 128;
/// Bytes of a record's framing before the payload (kind, reserved, length).
const RECORD_HEAD: usize = 8;
/// Bytes of a record's checksum after the payload.
const RECORD_CHECK: usize = 16;
/// Page record payload before the page bytes: id, birth, flags.
pub const PAGE_HEAD: usize = 20;
/// Page record flag: the page is all zeros; no bytes follow.
pub const PAGE_ZERO: u32 = 1;
/// Largest payload of a ranges record (4096 ranges).
pub const MAX_RANGES_LEN: usize = 16 * 4096;
/// Trailer payload size.
pub const TRAILER_LEN: usize = 5 * 8 + 16 + 32;
/// Largest page size a stream may name (the store's own limit).
const MAX_PAGE_SIZE: u32 = 1 << 30;

/// Record kinds, in the order their sections appear.
pub const KIND_PAGE: u8 = 1;
pub const KIND_FREED: u8 = 2;
pub const KIND_LIVE: u8 = 3;
pub const KIND_TRAILER: u8 = 4;

/// The header: what a stream is of, and from where to where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StreamHeader {
    pub features: u32,
    pub codec: u8,
    pub page_size: u32,
    pub store_id: [u8; 16],
    pub base_version: u64,
    pub base_hash: Hash16,
    pub target_version: u64,
    pub target_hash: Hash16,
    pub target_next_id: u64,
    pub target_commit_nanos: u64,
}

impl StreamHeader {
    pub fn is_incremental(&self) -> bool {
        self.features & FEATURE_INCREMENTAL != 0
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&STREAM_MAGIC);
        b[8..12].copy_from_slice(&STREAM_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.features.to_le_bytes());
        b[16..20].copy_from_slice(&self.page_size.to_le_bytes());
        b[20] = self.codec;
        b[24..40].copy_from_slice(&self.store_id);
        b[40..48].copy_from_slice(&self.base_version.to_le_bytes());
        b[48..64].copy_from_slice(&self.base_hash);
        b[64..72].copy_from_slice(&self.target_version.to_le_bytes());
        b[72..88].copy_from_slice(&self.target_hash);
        b[88..96].copy_from_slice(&self.target_next_id.to_le_bytes());
        b[96..104].copy_from_slice(&self.target_commit_nanos.to_le_bytes());
        let check = crate::format::hash16(&b[..112]);
        b[112..128].copy_from_slice(&check);
        b
    }

    pub fn decode(b: &[u8; HEADER_LEN]) -> Result<StreamHeader> {
        let malformed = |offset: u64, detail: &str| BackupError::Malformed { offset, detail: detail.into() };
        if b[0..8] != STREAM_MAGIC {
            return Err(malformed(0, "not a mappedpages backup stream (bad magic)").into());
        }
        if crate::format::hash16(&b[..112]) != b[112..128] {
            return Err(malformed(112, "header checksum mismatch").into());
        }
        let version = u32_at(b, 8);
        if version != STREAM_VERSION {
            return Err(BackupError::Unsupported(format!("stream format version {version}")).into());
        }
        let features = u32_at(b, 12);
        if features & !KNOWN_FEATURES != 0 {
            return Err(BackupError::Unsupported(format!("feature bits {:#x}", features & !KNOWN_FEATURES)).into());
        }
        let page_size = u32_at(b, 16);
        if !page_size.is_power_of_two() || !(1024..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(malformed(16, "page size is not a power of two from 1024 to 2^30").into());
        }
        let codec = b[20];
        if codec != CODEC_NONE && codec != CODEC_ZSTD {
            return Err(BackupError::Unsupported(format!("codec {codec}")).into());
        }
        if b[21..24] != [0; 3] || b[104..112] != [0; 8] {
            return Err(malformed(21, "reserved header bytes are not zero").into());
        }
        let h = StreamHeader {
            features,
            codec,
            page_size,
            store_id: arr16(b, 24),
            base_version: u64_at(b, 40),
            base_hash: arr16(b, 48),
            target_version: u64_at(b, 64),
            target_hash: arr16(b, 72),
            target_next_id: u64_at(b, 88),
            target_commit_nanos: u64_at(b, 96),
        };
        if h.is_incremental() && h.base_version >= h.target_version {
            return Err(malformed(40, "an incremental's base is not older than its target").into());
        }
        if !h.is_incremental() && (h.base_version != 0 || h.base_hash != [0; 16]) {
            return Err(malformed(40, "a full stream names a base").into());
        }
        Ok(h)
    }
}

/// One decoded record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// A page's content at the target; `bytes` is `None` for an all-zero page.
    Page { id: u64, birth: u64, bytes: Option<Vec<u8>> },
    /// Ranges `(start, count)` of ids free at the target (incremental only).
    Freed(Vec<(u64, u64)>),
    /// Ranges `(start, count)` of the ids live at the target.
    Live(Vec<(u64, u64)>),
}

/// The trailer's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub pages: u64,
    pub freed_ranges: u64,
    pub live_ranges: u64,
    pub live_ids: u64,
    pub records: u64,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn arr16(b: &[u8], at: usize) -> [u8; 16] {
    b[at..at + 16].try_into().expect("16 bytes")
}

/// The checksum of record `seq` of the stream whose header checksum is `key`:
/// over the framing and `checked`, the payload as checked (a page record's
/// bytes enter as their hash16, SPEC.md D.3).
fn record_check(key: &[u8], seq: u64, head: &[u8], checked: &[&[u8]]) -> Hash16 {
    let mut h = blake3::Hasher::new();
    h.update(key);
    h.update(&seq.to_le_bytes());
    h.update(head);
    for part in checked {
        h.update(part);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

/// Where the body goes: as is, or through zstd.
enum Sink<W: Write> {
    Plain(W),
    #[cfg(feature = "backup-zstd")]
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            #[cfg(feature = "backup-zstd")]
            Sink::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            #[cfg(feature = "backup-zstd")]
            Sink::Zstd(z) => z.flush(),
        }
    }
}

/// Writes a stream: the header, then records in order, then the trailer
/// ([`finish`](StreamWriter::finish)). The caller keeps the order; the
/// writer counts, checksums and digests.
pub(crate) struct StreamWriter<W: Write> {
    sink: Sink<io::BufWriter<W>>,
    key: Hash16,
    digest: blake3::Hasher,
    counts: Counts,
    bytes: u64,
    /// Pending ranges of the current ranges section, and its kind.
    ranges: Vec<u8>,
    ranges_kind: u8,
}

fn write_err(source: io::Error) -> Error {
    Error::Io { context: "writing a backup stream", path: None, source }
}

impl<W: Write> StreamWriter<W> {
    /// Starts a stream; `zstd_level` compresses the body.
    pub fn new(out: W, header: &StreamHeader, zstd_level: Option<i32>) -> Result<StreamWriter<W>> {
        let mut out = io::BufWriter::with_capacity(1 << 20, out);
        let h = StreamHeader { codec: if zstd_level.is_some() { CODEC_ZSTD } else { CODEC_NONE }, ..*header };
        let head = h.encode();
        out.write_all(&head).map_err(write_err)?;
        let sink = match zstd_level {
            None => Sink::Plain(out),
            #[cfg(feature = "backup-zstd")]
            Some(level) => {
                let mut z = zstd::stream::write::Encoder::new(out, level).map_err(write_err)?;
                // The frame's own checksum: a flipped bit in the compressed
                // bytes that would decode to the same stream is caught too.
                z.include_checksum(true).map_err(write_err)?;
                Sink::Zstd(z)
            }
            #[cfg(not(feature = "backup-zstd"))]
            Some(_) => return Err(Error::InvalidArgument(crate::error::Invalid::NeedsFeature("backup-zstd"))),
        };
        let mut digest = blake3::Hasher::new();
        digest.update(&head);
        Ok(StreamWriter {
            sink,
            key: arr16(&head, 112),
            digest,
            counts: Counts::default(),
            bytes: HEADER_LEN as u64,
            ranges: Vec::new(),
            ranges_kind: 0,
        })
    }

    /// Writes one record of `parts`; `checked` is what its check covers
    /// after the framing (the parts themselves, but for a page's bytes).
    fn record(&mut self, kind: u8, parts: &[&[u8]], checked: &[&[u8]]) -> Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut head = [0u8; RECORD_HEAD];
        head[0] = kind;
        head[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        let check = record_check(&self.key, self.counts.records, &head, checked);
        self.sink.write_all(&head).map_err(write_err)?;
        for p in parts {
            self.sink.write_all(p).map_err(write_err)?;
        }
        self.sink.write_all(&check).map_err(write_err)?;
        self.digest.update(&head);
        self.digest.update(&check);
        self.counts.records += 1;
        self.bytes += (RECORD_HEAD + len + RECORD_CHECK) as u64;
        Ok(())
    }

    /// A page record (ids strictly ascending, before any ranges). An all-zero
    /// page is written without its bytes. `content` is hash16 of `bytes` when
    /// the caller has it (a page read and checked against its entry).
    pub fn page(&mut self, id: u64, birth: u64, bytes: &[u8], content: Option<Hash16>) -> Result<()> {
        let zero = bytes.iter().all(|&b| b == 0);
        let mut head = [0u8; PAGE_HEAD];
        head[0..8].copy_from_slice(&id.to_le_bytes());
        head[8..16].copy_from_slice(&birth.to_le_bytes());
        head[16..20].copy_from_slice(&(if zero { PAGE_ZERO } else { 0 }).to_le_bytes());
        self.counts.pages += 1;
        if zero {
            self.record(KIND_PAGE, &[&head], &[&head])
        } else {
            let content = content.unwrap_or_else(|| crate::format::hash16(bytes));
            self.record(KIND_PAGE, &[&head, bytes], &[&head, &content])
        }
    }

    /// A range of the freed (`KIND_FREED`) or live (`KIND_LIVE`) section,
    /// ranges strictly ascending and not touching; freed ranges come first.
    pub fn range(&mut self, kind: u8, start: u64, count: u64) -> Result<()> {
        if self.ranges_kind != kind {
            self.flush_ranges()?;
            self.ranges_kind = kind;
        }
        self.ranges.extend_from_slice(&start.to_le_bytes());
        self.ranges.extend_from_slice(&count.to_le_bytes());
        match kind {
            KIND_FREED => self.counts.freed_ranges += 1,
            _ => {
                self.counts.live_ranges += 1;
                self.counts.live_ids += count;
            }
        }
        if self.ranges.len() == MAX_RANGES_LEN { self.flush_ranges() } else { Ok(()) }
    }

    fn flush_ranges(&mut self) -> Result<()> {
        if !self.ranges.is_empty() {
            let ranges = std::mem::take(&mut self.ranges);
            self.record(self.ranges_kind, &[&ranges], &[&ranges])?;
        }
        Ok(())
    }

    /// Writes the trailer and flushes; returns the counts and the stream's
    /// length (uncompressed).
    pub fn finish(mut self, target_hash: Hash16) -> Result<(Counts, u64)> {
        self.flush_ranges()?;
        let c = self.counts;
        let mut t = Vec::with_capacity(TRAILER_LEN);
        for n in [c.pages, c.freed_ranges, c.live_ranges, c.live_ids, c.records] {
            t.extend_from_slice(&n.to_le_bytes());
        }
        t.extend_from_slice(&target_hash);
        t.extend_from_slice(self.digest.clone().finalize().as_bytes());
        self.record(KIND_TRAILER, &[&t], &[&t])?;
        let out = match self.sink {
            Sink::Plain(w) => w,
            #[cfg(feature = "backup-zstd")]
            Sink::Zstd(z) => z.finish().map_err(write_err)?,
        };
        out.into_inner().map_err(|e| write_err(e.into_error()))?.flush().map_err(write_err)?;
        Ok((c, self.bytes))
    }
}

/// Where the body comes from: as is, or through zstd.
enum Source<R: Read> {
    Plain(R),
    #[cfg(feature = "backup-zstd")]
    Zstd(Box<zstd::stream::read::Decoder<'static, io::BufReader<R>>>),
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(r) => r.read(buf),
            #[cfg(feature = "backup-zstd")]
            Source::Zstd(z) => z.read(buf),
        }
    }
}

/// Which section the reader is in (records must come in this order).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Pages,
    Freed,
    Live,
    Done,
}

/// Reads a stream record by record, checking each as it comes: framing,
/// bounds, checksums, order, and at the end the trailer's counts, target hash
/// and digest. After [`next`](StreamReader::next) returns `None` the stream
/// was whole and well-formed (what it means for a store is the caller's to
/// check).
pub(crate) struct StreamReader<R: Read> {
    source: Source<R>,
    pub header: StreamHeader,
    key: Hash16,
    digest: blake3::Hasher,
    counts: Counts,
    offset: u64,
    section: Section,
    /// The smallest id the next page or range may start at.
    next_min: u64,
}

impl<R: Read> StreamReader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> Result<StreamReader<R>> {
        let mut head = [0u8; HEADER_LEN];
        read_exact(&mut input, &mut head, 0)?;
        let header = StreamHeader::decode(&head)?;
        let source = match header.codec {
            CODEC_NONE => Source::Plain(input),
            #[cfg(feature = "backup-zstd")]
            _ => Source::Zstd(Box::new(zstd::stream::read::Decoder::new(input).map_err(|source| Error::Io {
                context: "starting a zstd decoder",
                path: None,
                source,
            })?)),
            #[cfg(not(feature = "backup-zstd"))]
            _ => {
                return Err(
                    BackupError::Unsupported("zstd body (built without the feature `backup-zstd`)".into()).into()
                );
            }
        };
        let mut digest = blake3::Hasher::new();
        digest.update(&head);
        Ok(StreamReader {
            source,
            header,
            key: arr16(&head, 112),
            digest,
            counts: Counts::default(),
            offset: HEADER_LEN as u64,
            section: Section::Pages,
            next_min: 0,
        })
    }

    fn malformed(&self, at: u64, detail: impl Into<String>) -> Error {
        BackupError::Malformed { offset: at, detail: detail.into() }.into()
    }

    /// The next record, or `None` after a trailer that checks.
    pub fn next(&mut self) -> Result<Option<Record>> {
        if self.section == Section::Done {
            return Ok(None);
        }
        let at = self.offset;
        let mut head = [0u8; RECORD_HEAD];
        read_exact(&mut self.source, &mut head, at)?;
        let kind = head[0];
        let len = u32_at(&head, 4) as usize;
        if head[1..4] != [0; 3] {
            return Err(self.malformed(at, "reserved record bytes are not zero"));
        }
        let page_size = self.header.page_size as usize;
        let max = match kind {
            KIND_PAGE => PAGE_HEAD + page_size,
            KIND_FREED | KIND_LIVE => MAX_RANGES_LEN,
            KIND_TRAILER => TRAILER_LEN,
            _ => return Err(self.malformed(at, format!("unknown record kind {kind}"))),
        };
        if len > max {
            return Err(self.malformed(at, format!("record length {len} exceeds {max}")));
        }
        // A page record's 20-byte head is read apart from its bytes, so the
        // bytes land in a buffer of their own (no copy to strip the head).
        let (page_head, mut payload) = if kind == KIND_PAGE && len >= PAGE_HEAD {
            let mut h = [0u8; PAGE_HEAD];
            read_exact(&mut self.source, &mut h, at + RECORD_HEAD as u64)?;
            (Some(h), self.read_bounded(len - PAGE_HEAD, at + (RECORD_HEAD + PAGE_HEAD) as u64)?)
        } else {
            (None, self.read_bounded(len, at + RECORD_HEAD as u64)?)
        };
        let mut check = [0u8; RECORD_CHECK];
        read_exact(&mut self.source, &mut check, at + (RECORD_HEAD + len) as u64)?;
        let expected = if let Some(h) = &page_head {
            if payload.is_empty() {
                record_check(&self.key, self.counts.records, &head, &[h])
            } else {
                let content = crate::format::hash16(&payload);
                record_check(&self.key, self.counts.records, &head, &[h, &content])
            }
        } else {
            record_check(&self.key, self.counts.records, &head, &[&payload])
        };
        if expected != check {
            return Err(self.malformed(at, "record checksum mismatch (damaged, reordered, or from another stream)"));
        }
        let digest_before = self.digest.clone();
        self.digest.update(&head);
        self.digest.update(&check);
        self.offset = at + (RECORD_HEAD + len + RECORD_CHECK) as u64;
        let counted = self.counts;
        self.counts.records += 1;
        let next_id = self.header.target_next_id;
        match kind {
            KIND_PAGE => {
                if self.section != Section::Pages {
                    return Err(self.malformed(at, "a page record after the ranges"));
                }
                let Some(h) = page_head else {
                    return Err(self.malformed(at, "page record too short"));
                };
                let id = u64_at(&h, 0);
                let birth = u64_at(&h, 8);
                let flags = u32_at(&h, 16);
                if id < self.next_min || id >= next_id {
                    return Err(self.malformed(at, format!("page id {id} out of order or beyond next_id")));
                }
                let too_old = self.header.is_incremental() && birth <= self.header.base_version;
                if too_old || birth > self.header.target_version {
                    return Err(self.malformed(at, format!("page {id} born at {birth}, outside the stream's versions")));
                }
                let bytes = match (flags, len - PAGE_HEAD) {
                    (PAGE_ZERO, 0) => None,
                    (0, n) if n == page_size => Some(std::mem::take(&mut payload)),
                    _ => return Err(self.malformed(at, "page record flags and length disagree")),
                };
                self.next_min = id + 1;
                self.counts.pages += 1;
                Ok(Some(Record::Page { id, birth, bytes }))
            }
            KIND_FREED | KIND_LIVE => {
                let section = if kind == KIND_FREED { Section::Freed } else { Section::Live };
                if section < self.section {
                    return Err(self.malformed(at, "a ranges record out of its section"));
                }
                if section == Section::Freed && !self.header.is_incremental() {
                    return Err(self.malformed(at, "a full stream has freed ranges"));
                }
                if section != self.section {
                    self.section = section;
                    self.next_min = 0;
                }
                if len == 0 || !len.is_multiple_of(16) {
                    return Err(self.malformed(at, "ranges record length is not a positive multiple of 16"));
                }
                let mut ranges = Vec::with_capacity(len / 16);
                for pair in payload.chunks_exact(16) {
                    let (start, count) = (u64_at(pair, 0), u64_at(pair, 8));
                    let end = start.checked_add(count).filter(|&e| count > 0 && e <= next_id);
                    // Ranges are maximal: the next starts past the previous
                    // one's end and a gap.
                    if start < self.next_min || end.is_none() {
                        return Err(self.malformed(at, format!("range {start}+{count} out of order or beyond next_id")));
                    }
                    self.next_min = end.expect("checked") + 1;
                    ranges.push((start, count));
                    if section == Section::Freed {
                        self.counts.freed_ranges += 1;
                    } else {
                        self.counts.live_ranges += 1;
                        self.counts.live_ids += count;
                    }
                }
                Ok(Some(if section == Section::Freed { Record::Freed(ranges) } else { Record::Live(ranges) }))
            }
            _ => {
                if len != TRAILER_LEN {
                    return Err(self.malformed(at, "trailer length"));
                }
                let stated = Counts {
                    pages: u64_at(&payload, 0),
                    freed_ranges: u64_at(&payload, 8),
                    live_ranges: u64_at(&payload, 16),
                    live_ids: u64_at(&payload, 24),
                    records: u64_at(&payload, 32),
                };
                if stated != counted {
                    return Err(self.malformed(at, format!("trailer counts {stated:?}, stream has {counted:?}")));
                }
                if payload[40..56] != self.header.target_hash {
                    return Err(self.malformed(at, "trailer's target hash differs from the header's"));
                }
                if payload[56..88] != *digest_before.finalize().as_bytes() {
                    return Err(self.malformed(at, "stream digest mismatch"));
                }
                let mut extra = [0u8; 1];
                match self.source.read(&mut extra) {
                    Ok(0) => {}
                    Ok(_) => return Err(self.malformed(self.offset, "bytes after the trailer")),
                    Err(source) => return Err(Error::Io { context: "reading a backup stream", path: None, source }),
                }
                self.section = Section::Done;
                Ok(None)
            }
        }
    }

    /// `len` bytes of the stream at `at`, read as they arrive: a lying
    /// length in a truncated stream allocates no more than the stream holds.
    fn read_bounded(&mut self, len: usize, at: u64) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len.min(1 << 16));
        let got = (&mut self.source).take(len as u64).read_to_end(&mut out).map_err(|source| Error::Io {
            context: "reading a backup stream",
            path: None,
            source,
        })?;
        if got < len {
            return Err(BackupError::Truncated { offset: at + got as u64 }.into());
        }
        Ok(out)
    }

    /// The counts of a finished stream.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Bytes read so far (uncompressed).
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

fn read_exact(r: &mut impl Read, buf: &mut [u8], at: u64) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Err(BackupError::Truncated { offset: at + got as u64 }.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(Error::Io { context: "reading a backup stream", path: None, source }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> StreamHeader {
        StreamHeader {
            features: FEATURE_INCREMENTAL,
            codec: CODEC_NONE,
            page_size: 1024,
            store_id: [7; 16],
            base_version: 3,
            base_hash: [1; 16],
            target_version: 9,
            target_hash: [2; 16],
            target_next_id: 100,
            target_commit_nanos: 5,
        }
    }

    fn stream() -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = StreamWriter::new(&mut out, &header(), None).unwrap();
        w.page(4, 5, &[3u8; 1024], None).unwrap();
        w.page(8, 9, &[0u8; 1024], None).unwrap();
        w.range(KIND_FREED, 10, 2).unwrap();
        w.range(KIND_LIVE, 0, 9).unwrap();
        w.range(KIND_LIVE, 20, 5).unwrap();
        w.finish([2; 16]).unwrap();
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Record>> {
        let mut r = StreamReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next()? {
            out.push(rec);
        }
        Ok(out)
    }

    #[test]
    fn records_round_trip() {
        let records = read_all(&stream()).unwrap();
        assert_eq!(
            records,
            vec![
                Record::Page { id: 4, birth: 5, bytes: Some(vec![3; 1024]) },
                Record::Page { id: 8, birth: 9, bytes: None },
                Record::Freed(vec![(10, 2)]),
                Record::Live(vec![(0, 9), (20, 5)]),
            ]
        );
    }

    #[test]
    fn hostile_stream_every_truncation_and_bit_flip_is_an_error() {
        let s = stream();
        for cut in 0..s.len() {
            assert!(read_all(&s[..cut]).is_err(), "truncated at {cut} read as whole");
        }
        for byte in 0..s.len() {
            for bit in [0, 3, 7] {
                let mut t = s.clone();
                t[byte] ^= 1 << bit;
                assert!(read_all(&t).is_err(), "flip of bit {bit} in byte {byte} not caught");
            }
        }
        let mut longer = s.clone();
        longer.push(0);
        assert!(read_all(&longer).is_err());
    }

    #[test]
    fn hostile_stream_out_of_order_pages_are_refused_before_checksums_matter() {
        // A writer that is told the wrong order writes a well-checksummed
        // stream; the reader refuses it by order alone.
        let mut out = Vec::new();
        let mut w = StreamWriter::new(&mut out, &header(), None).unwrap();
        w.page(8, 9, &[1u8; 1024], None).unwrap();
        w.page(8, 9, &[1u8; 1024], None).unwrap();
        w.finish([2; 16]).unwrap();
        let err = read_all(&out).unwrap_err();
        assert!(matches!(err, Error::Backup(BackupError::Malformed { .. })), "{err}");
    }
}
