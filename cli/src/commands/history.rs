//! `history`: show the history window and the readable versions, or set the window.

use std::path::PathBuf;
use std::process::ExitCode;

use mappedpages::{HistoryEntry, HistoryWindow};

use crate::fail::Failure;
use crate::open::{fail, page_size, read_only, with_page_size, writable};
use crate::out::Out;
use crate::time::utc;

/// Show the history window and the versions it keeps readable, or set it.
///
/// With neither option it only reads. Setting is a commit: it needs the file
/// to itself. Versions committed from then on stay readable while inside it.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  mappedpages history store.db\n  \
                        mappedpages history store.db --keep-versions 100 --keep-seconds 3600\n  \
                        mappedpages history store.db --keep-versions 0 --keep-seconds 0   (newest only)")]
pub struct Args {
    /// The store file.
    pub file: PathBuf,
    /// Set: keep at least this many newest versions readable.
    #[arg(long)]
    pub keep_versions: Option<u64>,
    /// Set: keep the versions committed in the last this many seconds.
    #[arg(long)]
    pub keep_seconds: Option<u64>,
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let file = &self.file;
        let set = self.keep_versions.is_some() || self.keep_seconds.is_some();
        with_page_size!(file, page_size(file)?, P => {
            let (window, history, commit) = if set {
                let store = writable::<P>(file)?;
                let old = store.history_window();
                let window = HistoryWindow::versions(self.keep_versions.unwrap_or(old.keep_versions))
                    .seconds(self.keep_seconds.unwrap_or(old.keep_seconds));
                let commit = store.set_history(window).map_err(fail(file))?;
                (store.history_window(), store.history(), Some(commit))
            } else {
                let store = read_only::<P>(file)?;
                (store.history_window(), store.history(), None)
            };
            report(out, file, window, &history, commit);
            Ok(ExitCode::SUCCESS)
        })
    }
}

fn report(
    out: &mut Out,
    file: &std::path::Path,
    window: HistoryWindow,
    history: &[HistoryEntry],
    commit: Option<mappedpages::Version>,
) {
    if out.json {
        out.json(&serde_json::json!({
            "schema": "mappedpages/1", "command": "history", "file": file,
            "window": window, "versions": history, "commit": commit,
        }));
        return;
    }
    if let Some(v) = commit {
        out.line(format!("{}: history window set ({v})", file.display()));
    }
    out.line(format!(
        "window: keep {} newest versions, {} seconds; {} readable version(s):",
        window.keep_versions,
        window.keep_seconds,
        history.len()
    ));
    for h in history {
        out.line(format!("  {:>8}  {}", h.version.to_string(), utc(h.commit_nanos)));
    }
}
