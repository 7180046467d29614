//! The backup API on [`Store`]: make a stream of any readable version, apply
//! an incremental, restore a full stream or a whole chain into a new file.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use crate::backup::{
    ApplyReport, BackupError, BackupOptions, BackupReport, BackupSource, Differs, StreamReader, apply_stream,
    make_backup, verify_stream,
};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::storage::{FileMode, FileStorage, Storage};
use crate::store::{Store, open_error};
use crate::versions::At;

impl<const P: usize> Store<P> {
    /// Writes a backup stream of the version `at` names to `out`, while
    /// writers go on (the version is pinned by a read transaction). Full, or
    /// with [`BackupOptions::base`] incremental: only what changed since the
    /// base, whose version and content hash are all it needs.
    ///
    /// ```
    /// # use mappedpages::{Store, storage::MemoryStorage, Options, At, BackupOptions};
    /// # let store = Store::<4096>::create_on(MemoryStorage::new().unwrap(), Options::default()).unwrap();
    /// let mut w = store.begin_write()?;
    /// let id = w.alloc()?;
    /// w.page_mut(id)?.fill(1);
    /// let v1 = w.commit()?;
    /// let mut full = Vec::new();
    /// let report = store.backup(&mut full, At::Version(v1), BackupOptions::default())?;
    ///
    /// let mut w = store.begin_write()?;
    /// w.page_mut(id)?.fill(2);
    /// let v2 = w.commit()?;
    /// let mut incr = Vec::new();
    /// let base = Some((report.version, report.content_hash));
    /// store.backup(&mut incr, At::Version(v2), BackupOptions { base, ..Default::default() })?;
    ///
    /// let copy = Store::<4096>::restore_backup_on(MemoryStorage::new().unwrap(), Options::default(), &full[..])?;
    /// copy.apply_backup(&incr[..])?;
    /// assert_eq!(copy.version(), v2);
    /// assert_eq!(copy.begin_read()?.page(id)?[0], 2);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub fn backup<W: Write>(&self, out: W, at: At<'_>, options: BackupOptions) -> Result<BackupReport> {
        let txn = self.begin_read_at(at)?;
        if let Some((base, hash)) = options.base
            && base < txn.version()
            && let Ok(old) = self.begin_read_at(At::Version(base))
            && old.content_hash() != hash
        {
            // The base is still readable here and is not what the caller
            // names: the stream would apply to nothing.
            return Err(crate::backup::BackupError::BaseMismatch {
                what: Differs::ContentHash,
                expected: hash.to_string(),
                found: old.content_hash().to_string(),
            }
            .into());
        }
        let shared = &self.shared;
        let source = BackupSource {
            reader: txn.reader(),
            geo: &shared.geo,
            root: &txn.root,
            store_id: shared.header.store_id,
            zero_page: &shared.zero_page,
            zero_hash: shared.zero_hash,
        };
        make_backup(&source, out, options)
    }

    /// Applies an incremental stream to this store, which must be exactly at
    /// the stream's base (same store id, version and content hash; otherwise
    /// [`BackupError::BaseMismatch`] names which differs). One transaction,
    /// committed at the stream's target version only after the trailer, the
    /// live set and the target content hash check; on any error the store
    /// stays at its base.
    pub fn apply_backup<R: Read>(&self, input: R) -> Result<ApplyReport> {
        let stream = StreamReader::new(input)?;
        if !stream.header.is_incremental() {
            return Err(BackupError::WrongKind { expected: "an incremental", index: 0 }.into());
        }
        apply_stream(self, stream)
    }

    /// Restores a full stream into a new store on `storage` (empty), with the
    /// source's store id, version, ids and content.
    pub fn restore_backup_on<R: Read>(storage: impl Storage, options: Options, input: R) -> Result<Self> {
        let stream = full_stream(input, 0)?;
        let store = Self::create_identified(storage, options, Some(stream.header.store_id))?;
        apply_stream(&store, stream)?;
        Ok(store)
    }

    /// Restores a full stream into a new store file at `path` (which must not
    /// exist). On any error the new file is removed.
    pub fn restore_backup<R: Read>(path: impl AsRef<Path>, input: R) -> Result<Self> {
        Self::restore_into(path.as_ref(), full_stream(input, 0)?, std::iter::empty::<BufReader<File>>())
    }

    /// Restores a chain, a full stream then incrementals each continuing the
    /// one before, into a new store file at `path`. The whole chain is read
    /// and checked first (every stream's checksums and structure, the full
    /// stream's content hash, each link's store id, page size, version and
    /// content hash), so a gap, a stream of another lineage or a damaged
    /// stream is refused before anything is written.
    pub fn restore_chain(path: impl AsRef<Path>, streams: &[impl AsRef<Path>]) -> Result<Self> {
        let path = path.as_ref();
        check_chain(streams, P)?;
        let mut readers = Vec::with_capacity(streams.len());
        for s in streams {
            readers.push(BufReader::new(open(s.as_ref())?));
        }
        let mut readers = readers.into_iter();
        let first = full_stream(readers.next().expect("one stream at least"), 0)?;
        Self::restore_into(path, first, readers)
    }

    /// Creates the file at `path`, restores `first` into it and applies
    /// `rest` in order; removes the file on any error.
    fn restore_into<R: Read, I: Read>(
        path: &Path,
        first: StreamReader<R>,
        rest: impl Iterator<Item = I>,
    ) -> Result<Self> {
        let options = Options::default();
        let storage =
            FileStorage::open(path, FileMode::Create, options.reserve).map_err(open_error(path, FileMode::Create))?;
        let result = (|| {
            let store = Self::create_identified(storage, options, Some(first.header.store_id))?;
            apply_stream(&store, first)?;
            for (i, s) in rest.enumerate() {
                store.apply_backup(s).map_err(|e| chain_error(e, i + 1))?;
            }
            Ok(store)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result
    }
}

impl<const P: usize> Store<P> {
    /// Verifies a chain without a store file: every stream and link as
    /// [`restore_chain`](Store::restore_chain) checks them, then the chain is
    /// applied to a store in memory, which checks each incremental's live set
    /// and target content hash against the version before it. Returns what
    /// the last stream holds. Memory: the whole restored store.
    pub fn verify_chain(streams: &[impl AsRef<Path>]) -> Result<crate::backup::StreamInfo> {
        let mut last = check_chain(streams, P)?;
        let store = Self::restore_backup_on(
            crate::storage::MemoryStorage::new().map_err(Error::io("creating a memory store"))?,
            Options::default(),
            BufReader::new(open(streams[0].as_ref())?),
        )?;
        for (i, s) in streams.iter().enumerate().skip(1) {
            store.apply_backup(BufReader::new(open(s.as_ref())?)).map_err(|e| chain_error(e, i))?;
        }
        last.content_checked = store.begin_read()?.content_hash() == last.content_hash;
        Ok(last)
    }
}

fn open(p: &Path) -> Result<File> {
    File::open(p).map_err(|source| Error::Io { context: "opening a backup stream", path: None, source })
}

/// Verifies every stream of a chain and every link; the last stream's info.
fn check_chain(streams: &[impl AsRef<Path>], page_size: usize) -> Result<crate::backup::StreamInfo> {
    let mut prev: Option<crate::backup::StreamInfo> = None;
    for (index, s) in streams.iter().enumerate() {
        let info = verify_stream(BufReader::new(open(s.as_ref())?))?;
        check_link(prev.as_ref(), &info, index, page_size)?;
        prev = Some(info);
    }
    prev.ok_or(Error::InvalidArgument(crate::error::Invalid::EmptyChain))
}

/// The reader of `input`, a full stream (stream `index` of a chain).
fn full_stream<R: Read>(input: R, index: usize) -> Result<StreamReader<R>> {
    let stream = StreamReader::new(input)?;
    if stream.header.is_incremental() {
        return Err(BackupError::WrongKind { expected: "a full", index }.into());
    }
    Ok(stream)
}

fn chain_error(e: Error, index: usize) -> Error {
    match e {
        Error::Backup(BackupError::BaseMismatch { what, .. }) => BackupError::Chain { index, what }.into(),
        Error::Backup(BackupError::WrongKind { expected, .. }) => BackupError::WrongKind { expected, index }.into(),
        e => e,
    }
}

fn check_link(
    prev: Option<&crate::backup::StreamInfo>,
    s: &crate::backup::StreamInfo,
    index: usize,
    page_size: usize,
) -> Result<()> {
    let Some(prev) = prev else {
        if s.base.is_some() {
            return Err(BackupError::WrongKind { expected: "a full", index }.into());
        }
        if s.page_size as usize != page_size {
            return Err(BackupError::Chain { index, what: Differs::PageSize }.into());
        }
        return Ok(());
    };
    let Some((version, hash)) = s.base else {
        return Err(BackupError::WrongKind { expected: "an incremental", index }.into());
    };
    let what = if s.store_id != prev.store_id {
        Differs::StoreId
    } else if s.page_size != prev.page_size {
        Differs::PageSize
    } else if version != prev.version {
        Differs::Version
    } else if hash != prev.content_hash {
        Differs::ContentHash
    } else {
        return Ok(());
    };
    Err(BackupError::Chain { index, what }.into())
}
