//! The history window: which versions stay readable.

use std::collections::VecDeque;

use super::HistoryWindow;
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
