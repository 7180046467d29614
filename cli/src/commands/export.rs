//! `export`: a consistent, compacted copy of one version in a new file.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::AtArgs;
use crate::fail::Failure;
use crate::open::{page_size, read_only, with_page_size};
use crate::out::Out;
use crate::progress::Bar;

/// Copy one version into a new, compacted store file.
///
/// The version is the newest, one in the history window (--version) or a
/// snapshot's (--snapshot). The source is only read (writers may go on in
/// other processes only after it finishes: it holds a shared lock). On an
/// error or Ctrl-C no file is left at the target.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  mappedpages export store.db copy.db\n  \
                        mappedpages export store.db nightly.db --snapshot nightly\n  \
                        mappedpages export store.db v41.db --version 41")]
pub struct Args {
    /// The store file.
    pub file: PathBuf,
    /// The new file (must not exist).
    pub target: PathBuf,
    #[command(flatten)]
    pub at: AtArgs,
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let file = &self.file;
        if self.target.symlink_metadata().is_ok() {
            return Err(Failure::new(&self.target, "exists", "exists already; export writes a new file"));
        }
        with_page_size!(file, page_size(file)?, P => {
            let store = read_only::<P>(file)?;
            let bar = Bar::new("export", out.json);
            let report = store
                .export_with(&self.target, self.at.at(store.version()), &bar)
                .map_err(|e| match e {
                    mappedpages::Error::AlreadyExists(_) | mappedpages::Error::Io { .. } => Failure::store(&self.target, e),
                    e => Failure::store(file, e),
                })?;
            bar.finish();
            if out.json {
                out.json(&serde_json::json!({
                    "schema": "mappedpages/1", "command": "export", "file": file, "target": self.target, "report": report,
                }));
            } else {
                out.line(format!(
                    "{}: exported {} to {} ({} data pages, {} bytes, content hash {})",
                    file.display(), report.version, self.target.display(), report.data_pages, report.file_len, report.content_hash
                ));
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
