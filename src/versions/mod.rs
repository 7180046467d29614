//! Versions: named snapshots, the history window, read views at older
//! versions, restore and export.
//!
//! Every pinned version keeps what its table reaches. A page written at version
//! B and replaced at T is needed by a pinned version V iff B ≤ V < T. Pins come
//! in two kinds:
//!
//! - transient: the fallback root of a crash and open readers (in memory);
//! - persistent: snapshots (the catalog) and the history window (the newest
//!   versions, kept through the version summaries of the pending list).
//!
//! A commit's freed extents form one pending group. Its structure records
//! (free-map, list and catalog pages) return to the free map once no transient
//! pin needs them; its content records (pages and table nodes) wait also until
//! the group leaves the history window, then go to the deadlist of the newest
//! snapshot older than their death (if that snapshot is as new as their birth)
//! or back to the free map. Deleting a snapshot hands its deadlist to the
//! snapshot before it, or frees it.

mod catalog;
mod export;
mod history;
pub(crate) mod ops;
pub(crate) mod retention;

pub(crate) use catalog::{LoadedCatalog, encode_catalog, load_catalog, validate_name};
pub use export::ExportReport;
pub(crate) use export::{Source as ExportSource, export_version};
pub(crate) use history::{history_held, history_start, summaries_from};
pub(crate) use ops::VersionOp;

use crate::ids::Version;

/// How much history a store keeps readable: the union of the newest
/// `keep_versions` versions and the versions committed in the last
/// `keep_seconds` seconds. Both zero (the default) keeps only the newest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HistoryWindow {
    /// Keep at least this many newest versions (the newest included).
    pub keep_versions: u64,
    /// Keep every version committed in the last this many seconds.
    pub keep_seconds: u64,
}

impl HistoryWindow {
    /// A window of the newest `n` versions (the newest included).
    ///
    /// ```
    /// use mappedpages::HistoryWindow;
    /// let w = HistoryWindow::versions(100).seconds(3600); // either keeps a version
    /// assert_eq!((w.keep_versions, w.keep_seconds), (100, 3600));
    /// ```
    pub fn versions(n: u64) -> HistoryWindow {
        HistoryWindow { keep_versions: n, keep_seconds: 0 }
    }

    /// This window, also keeping every version of the last `seconds` seconds.
    pub fn seconds(mut self, seconds: u64) -> HistoryWindow {
        self.keep_seconds = seconds;
        self
    }

    /// True when older versions are kept at all.
    pub fn is_enabled(&self) -> bool {
        self.keep_versions > 1 || self.keep_seconds > 0
    }
}

/// One named snapshot, as [`Store::snapshots`](crate::Store::snapshots) lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SnapshotInfo {
    /// Its name.
    pub name: String,
    /// The version it keeps.
    pub version: Version,
    /// When that version was committed (nanoseconds since the Unix epoch).
    pub commit_nanos: u64,
    /// When the snapshot was made.
    pub created_nanos: u64,
    /// Pages that only this snapshot keeps: deleting it returns them.
    pub exclusive_pages: u64,
}

/// One version inside the history window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HistoryEntry {
    /// The version.
    pub version: Version,
    /// When it was committed (nanoseconds since the Unix epoch).
    pub commit_nanos: u64,
}

/// What to read: a version number, a point in time, or a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum At<'a> {
    /// This exact version (the newest, or one inside the history window).
    Version(Version),
    /// The newest version committed at or before this time (nanoseconds since
    /// the Unix epoch), inside the history window.
    Time(u64),
    /// The version a snapshot keeps.
    Snapshot(&'a str),
}
