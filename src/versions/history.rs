//! The history window: which versions stay readable.

use std::collections::VecDeque;

use super::HistoryWindow;
use crate::format::{RecordKind, VersionSummary};
use crate::space::PendingGroup;

/// The oldest version the window keeps once version `newest` (committed at
/// `now`) exists. Versions whose summaries were never written (committed while
/// history was off) are not counted.
pub(crate) fn history_start(window: HistoryWindow, groups: &VecDeque<PendingGroup>, newest: u64, now: u64) -> u64 {
    let start = window_start(window, groups, newest, now);
    // Only versions with a summary can be read: start at the first of them.
    groups.iter().filter_map(|g| g.summary).map(|s| s.version).find(|&v| v >= start && v < newest).unwrap_or(newest)
}

fn window_start(window: HistoryWindow, groups: &VecDeque<PendingGroup>, newest: u64, now: u64) -> u64 {
    let by_count = newest.saturating_sub(window.keep_versions.saturating_sub(1));
    if window.keep_seconds == 0 {
        return if window.keep_versions == 0 { newest } else { by_count };
    }
    let cutoff = now.saturating_sub(window.keep_seconds.saturating_mul(1_000_000_000));
    let by_time =
        groups.iter().filter_map(|g| g.summary).find(|s| s.commit_nanos >= cutoff).map_or(newest, |s| s.version);
    if window.keep_versions == 0 { by_time } else { by_time.min(by_count) }
}

/// The history versions readers may open: summaries of versions at or after
/// `start`, oldest first.
pub(crate) fn summaries_from<'g>(groups: impl Iterator<Item = &'g PendingGroup>, start: u64) -> Vec<VersionSummary> {
    groups.filter_map(|g| g.summary).filter(|s| s.version >= start).collect()
}

/// Sectors of content records the history window keeps: those of groups
/// freed after `history_start` (older versions in the window reach them).
pub(crate) fn history_held<'g>(groups: impl Iterator<Item = &'g PendingGroup>, history_start: u64) -> u64 {
    groups
        .filter(|g| !g.content_released && g.freed > history_start)
        .flat_map(|g| g.records.iter().filter(|r| r.kind == RecordKind::Content))
        .map(|r| r.sectors)
        .sum()
}
