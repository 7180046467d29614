//! Upgrading files written by mappedpages 0.2.0 into stores of this version.
//!
//! [`upgrade_v02`] reads the 0.2 file ([`parse_v02`], a checked parser of
//! untrusted input), writes a new store to a temporary file beside the
//! target, verifies it (every structure, and every page compared with the
//! source byte for byte), and only then renames it to the target. The source
//! is only read. A damaged source is a [`V02Error`] and leaves nothing
//! behind; so does any failure or a cancel on the way.
//!
//! # Ids after the upgrade
//!
//! - A 0.2 data page (`PageId(n)`, `n ≥ 3`) keeps its number: page `n` of
//!   the new store, [`PageId::from_raw(n)`](crate::PageId::from_raw).
//! - A 0.2 protected page (`ProtectedPageId(p)`) becomes page
//!   `protected_base + p`, where `protected_base` is the 0.2 file's page count
//!   (every 0.2 data page number lies below it). It is in the
//!   [`UpgradeReport`] and in the mapping file.
//! - Ids that held nothing in 0.2 (0–2, free pages, 0.2's own directory and
//!   backing pages) are free in the new store and are reused by `alloc`.
//!
//! Beside the target the upgrade writes a mapping file, `<target>.idmap`, one
//! line per page (`data <0.2 id> <new id>` or `protected <0.2 id> <new id>`,
//! after `#` comment lines; SPEC.md, Appendix C), before the store appears at
//! the target.

mod v02;

pub use v02::{
    V02Error, V02File, V02Protected, V02Source, crc32, entries_per_dir_page, is_v02, parse_v02, v02_page_size,
};

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::ids::{ContentHash, PageId, Version};
use crate::progress::Progress;
use crate::store::{Durability, Options, Store};

/// What [`upgrade_v02`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UpgradeReport {
    /// The new store.
    pub target: PathBuf,
    /// The mapping file written beside it.
    pub mapping: PathBuf,
    /// Page size of both files.
    pub page_size: usize,
    /// Data pages carried over (each under its 0.2 number).
    pub data_pages: u64,
    /// Protected pages carried over (each as `protected_base + its 0.2 id`).
    pub protected_pages: u64,
    /// The new id of 0.2 protected page 0.
    pub protected_base: u64,
    /// The new store's version.
    pub version: Version,
    /// Its content hash.
    pub content_hash: ContentHash,
}

/// Why an upgrade failed. Nothing was left at the target.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpgradeError {
    /// The source is not a readable 0.2 file.
    Source(V02Error),
    /// Writing or verifying the new store failed (or was cancelled:
    /// [`Error::Cancelled`]).
    Store(Error),
    /// A file exists at the target (or at its mapping file's path).
    TargetExists(PathBuf),
    /// The source has another page size than `upgrade_v02` was called for.
    PageSize {
        /// The source's page size.
        source: usize,
        /// The new store's.
        target: usize,
    },
    /// The copy read back differs from the source (the source changed while
    /// it was read: stop the 0.2 application first).
    Mismatch(PageId),
    /// Writing the mapping file or renaming failed.
    Io {
        /// What was being done.
        context: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeError::Source(e) => write!(f, "{e}"),
            UpgradeError::Store(e) => write!(f, "{e}"),
            UpgradeError::TargetExists(p) => write!(f, "{} exists already", p.display()),
            UpgradeError::PageSize { source, target } => {
                write!(f, "the source has {source}-byte pages, the upgrade was asked for {target}")
            }
            UpgradeError::Mismatch(id) => {
                write!(f, "page {} read back differs from the source (did the source change?)", id.get())
            }
            UpgradeError::Io { context, source } => write!(f, "I/O error while {context}: {source}"),
        }
    }
}

impl std::error::Error for UpgradeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpgradeError::Source(e) => Some(e),
            UpgradeError::Store(e) => Some(e),
            UpgradeError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<Error> for UpgradeError {
    fn from(e: Error) -> Self {
        UpgradeError::Store(e)
    }
}

impl From<V02Error> for UpgradeError {
    fn from(e: V02Error) -> Self {
        UpgradeError::Source(e)
    }
}

/// The mapping file's path for a target: `<target>.idmap`.
pub fn mapping_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".idmap");
    PathBuf::from(name)
}

/// Pages written per commit while copying.
const BATCH: usize = 1024;

/// Upgrades the 0.2 file at `source` into a new store at `target` (which
/// must not exist), atomically: see the [module docs](self). `PAGE_SIZE`
/// must be the source's page size ([`v02_page_size`] reads it).
/// `progress` counts two units per page: one copied, one checked.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use mappedpages::upgrade::{UpgradeError, upgrade_v02};
/// # let dir = tempfile::tempdir()?;
/// let not_v02 = dir.path().join("plain.txt");
/// std::fs::write(&not_v02, b"hello")?;
/// let target = dir.path().join("new.db");
/// let err = upgrade_v02::<4096>(&not_v02, &target, &mappedpages::NoProgress).unwrap_err();
/// assert!(matches!(err, UpgradeError::Source(_)));
/// assert!(!target.exists());
/// # Ok(()) }
/// ```
pub fn upgrade_v02<const PAGE_SIZE: usize>(
    source: &Path,
    target: &Path,
    progress: &dyn Progress,
) -> Result<UpgradeReport, UpgradeError> {
    upgrade_to::<PAGE_SIZE>(source, target, None, progress)
}

/// Upgrades the 0.2 file at `source` in place: as [`upgrade_v02`], then the
/// original gets a second name, `backup` (which must not exist), and the
/// verified new store is renamed over `source`. At every instant `source`
/// is the whole old file or the whole new store, and the old bytes stay
/// reachable under `backup`. The mapping file is `<source>.idmap`.
pub fn upgrade_v02_in_place<const PAGE_SIZE: usize>(
    source: &Path,
    backup: &Path,
    progress: &dyn Progress,
) -> Result<UpgradeReport, UpgradeError> {
    upgrade_to::<PAGE_SIZE>(source, source, Some(backup), progress)
}

fn upgrade_to<const PAGE_SIZE: usize>(
    source: &Path,
    target: &Path,
    backup: Option<&Path>,
    progress: &dyn Progress,
) -> Result<UpgradeReport, UpgradeError> {
    let file = std::fs::File::open(source).map_err(|e| V02Error::Io { context: "opening the 0.2 file", source: e })?;
    let parsed = parse_v02(&file)?;
    if parsed.page_size != PAGE_SIZE {
        return Err(UpgradeError::PageSize { source: parsed.page_size, target: PAGE_SIZE });
    }
    let mapping = mapping_path(target);
    // What the upgrade adds must not exist: the target (or, in place, the
    // backup) and the mapping file.
    for p in [backup.unwrap_or(target), mapping.as_path()] {
        if p.symlink_metadata().is_ok() {
            return Err(UpgradeError::TargetExists(p.to_owned()));
        }
    }
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.upgrade-{}.tmp", std::process::id()));
    let temp_map = dir.join(format!(".{name}.idmap-{}.tmp", std::process::id()));
    let result =
        write_verified::<PAGE_SIZE>(&file, &parsed, &temp, &temp_map, progress).and_then(|(version, content_hash)| {
            match backup {
                None => publish(&temp_map, &mapping, &temp, target, dir)?,
                Some(backup) => replace(&temp_map, &mapping, &temp, source, backup, dir)?,
            }
            Ok((version, content_hash))
        });
    match result {
        Ok((version, content_hash)) => Ok(UpgradeReport {
            target: target.to_owned(),
            mapping,
            page_size: PAGE_SIZE,
            data_pages: parsed.data_pages.len() as u64,
            protected_pages: parsed.protected.len() as u64,
            protected_base: parsed.total_pages,
            version,
            content_hash,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            let _ = std::fs::remove_file(&temp_map);
            Err(e)
        }
    }
}

/// Every (0.2 physical page, new id, is protected) the upgrade copies, by new id.
fn plan(parsed: &V02File) -> Vec<(u64, u64, bool)> {
    let mut out: Vec<(u64, u64, bool)> = parsed.data_pages.iter().map(|&p| (p, p, false)).collect();
    out.extend(parsed.protected.iter().map(|p| (p.physical, parsed.total_pages + p.id, true)));
    out
}

fn write_verified<const P: usize>(
    file: &std::fs::File,
    parsed: &V02File,
    temp: &Path,
    temp_map: &Path,
    progress: &dyn Progress,
) -> Result<(Version, ContentHash), UpgradeError> {
    let pages = plan(parsed);
    progress.start(2 * pages.len() as u64);
    let read = |physical: u64, buf: &mut [u8]| {
        V02Source::read_at(file, physical * P as u64, buf)
            .map_err(|e| UpgradeError::Source(V02Error::Io { context: "reading a 0.2 page", source: e }))
    };
    let options = Options { durability: Durability::Eventual, ..Options::default() };
    let store = Store::<P>::create_with(temp, options)?;

    // The ids: all up to the last one used, then the unused ones freed.
    let next_id = pages.iter().map(|&(_, id, _)| id + 1).max().unwrap_or(0);
    let mut w = store.begin_write()?;
    let all = w.alloc_bulk(usize::try_from(next_id).map_err(|_| Error::Full(crate::error::Limit::Ids))?)?;
    let used: std::collections::HashSet<u64> = pages.iter().map(|&(_, id, _)| id).collect();
    let unused: Vec<PageId> = all.into_iter().filter(|id| !used.contains(&id.get())).collect();
    w.free_bulk(&unused)?;
    w.commit()?;

    let mut buf = vec![0u8; P];
    for batch in pages.chunks(BATCH) {
        let mut w = store.begin_write()?;
        for &(physical, id, _) in batch {
            if progress.cancelled() {
                return Err(Error::Cancelled.into());
            }
            read(physical, &mut buf)?;
            w.write(PageId::from_raw(id), &buf)?;
            progress.advance(1);
        }
        w.commit()?;
    }
    store.sync()?;

    // Verify: the structure, then every page against the source.
    let report = store.verify()?;
    if let Some(d) = report.damage.first() {
        return Err(Error::Corrupt { structure: d.structure, offset: d.offset, detail: d.detail.clone() }.into());
    }
    let r = store.begin_read()?;
    for &(physical, id, _) in &pages {
        if progress.cancelled() {
            return Err(Error::Cancelled.into());
        }
        read(physical, &mut buf)?;
        if r.page(PageId::from_raw(id))? != buf.as_slice() {
            return Err(UpgradeError::Mismatch(PageId::from_raw(id)));
        }
        progress.advance(1);
    }
    if r.live_pages() != pages.len() as u64 {
        return Err(Error::corrupt(crate::error::Structure::TableNode, 0, "the copy has another page count").into());
    }
    let result = (r.version(), r.content_hash());
    drop(r);
    drop(store);

    let io = |context| move |source| UpgradeError::Io { context, source };
    let mut map = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp_map)
        .map_err(io("creating the mapping file"))?;
    let mut text = String::with_capacity(pages.len() * 24 + 256);
    text.push_str("# mappedpages upgrade id map v1: kind, id in 0.2, id in this store\n");
    text.push_str(&format!("# protected_base {}\n", parsed.total_pages));
    let mut lines = pages.clone();
    lines.sort_by_key(|&(_, id, _)| id);
    for (physical, id, protected) in lines {
        let (kind, old) = if protected { ("protected", id - parsed.total_pages) } else { ("data", physical) };
        text.push_str(&format!("{kind} {old} {id}\n"));
    }
    map.write_all(text.as_bytes()).map_err(io("writing the mapping file"))?;
    map.sync_all().map_err(io("syncing the mapping file"))?;
    Ok(result)
}

/// A second name `to` for `from`; never replaces a file at `to`.
fn link(from: &Path, to: &Path) -> Result<(), UpgradeError> {
    std::fs::hard_link(from, to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => UpgradeError::TargetExists(to.to_owned()),
        _ => UpgradeError::Io { context: "linking a file into place", source: e },
    })
}

/// Renames the mapping file, then the store, into place, and syncs the
/// directory. `create_new`-style: neither may exist (checked before, and a
/// hard link fails rather than replace).
fn publish(temp_map: &Path, mapping: &Path, temp: &Path, target: &Path, dir: &Path) -> Result<(), UpgradeError> {
    let io = |context| move |source| UpgradeError::Io { context, source };
    link(temp_map, mapping)?;
    if let Err(e) = link(temp, target) {
        // The store did not appear: neither may its mapping.
        let _ = std::fs::remove_file(mapping);
        return Err(e);
    }
    for from in [temp_map, temp] {
        std::fs::remove_file(from).map_err(io("removing the temporary name"))?;
    }
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io("syncing the directory"))?;
    Ok(())
}

/// The in-place variant of [`publish`]: the mapping file, then `backup` as a
/// second name of the source, then the new store renamed over the source;
/// a failure undoes the names added before it.
fn replace(
    temp_map: &Path,
    mapping: &Path,
    temp: &Path,
    source: &Path,
    backup: &Path,
    dir: &Path,
) -> Result<(), UpgradeError> {
    let io = |context| move |source| UpgradeError::Io { context, source };
    link(temp_map, mapping)?;
    if let Err(e) = link(source, backup) {
        let _ = std::fs::remove_file(mapping);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(temp, source) {
        let _ = std::fs::remove_file(mapping);
        let _ = std::fs::remove_file(backup);
        return Err(UpgradeError::Io { context: "renaming the new store over the source", source: e });
    }
    std::fs::remove_file(temp_map).map_err(io("removing the temporary name"))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io("syncing the directory"))?;
    Ok(())
}
