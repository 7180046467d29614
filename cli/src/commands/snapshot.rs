//! `snapshot list|create|delete`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::fail::Failure;
use crate::open::{fail, page_size, read_only, with_page_size, writable};
use crate::out::Out;
use crate::time::utc;

pub const EXAMPLES: &str = "Examples:
  mappedpages snapshot list store.db
  mappedpages snapshot create store.db nightly
  mappedpages snapshot delete store.db nightly";

/// List, create or delete named snapshots (O(1): no page is copied).
#[derive(clap::Subcommand)]
pub enum Args {
    /// List the snapshots, oldest first, with the pages only each keeps.
    #[command(after_help = "Example:\n  mappedpages snapshot list store.db")]
    List {
        /// The store file.
        file: PathBuf,
    },
    /// Snapshot the newest version under a name (a commit; needs the file to itself).
    #[command(after_help = "Example:\n  mappedpages snapshot create store.db before-migration")]
    Create {
        /// The store file.
        file: PathBuf,
        /// The snapshot's name.
        name: String,
    },
    /// Delete a snapshot; the pages only it kept return to the free space.
    #[command(after_help = "Example:\n  mappedpages snapshot delete store.db before-migration")]
    Delete {
        /// The store file.
        file: PathBuf,
        /// The snapshot's name.
        name: String,
    },
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        match self {
            Args::List { file } => with_page_size!(file, page_size(file)?, P => {
                let store = read_only::<P>(file)?;
                let snapshots = store.snapshots().map_err(fail(file))?;
                if out.json {
                    out.json(&serde_json::json!({
                        "schema": "mappedpages/1", "command": "snapshot list", "file": file, "snapshots": snapshots,
                    }));
                } else if snapshots.is_empty() {
                    out.line(format!("{}: no snapshots", file.display()));
                } else {
                    out.line(format!("{:<24} {:>10} {:<24} {:>14}", "name", "version", "made", "own pages"));
                    for s in &snapshots {
                        out.line(format!(
                            "{:<24} {:>10} {:<24} {:>14}",
                            s.name, s.version.to_string(), utc(s.created_nanos), s.exclusive_pages
                        ));
                    }
                }
                Ok(ExitCode::SUCCESS)
            }),
            Args::Create { file, name } => with_page_size!(file, page_size(file)?, P => {
                let store = writable::<P>(file)?;
                let version = store.create_snapshot(name).map_err(fail(file))?;
                if out.json {
                    out.json(&serde_json::json!({
                        "schema": "mappedpages/1", "command": "snapshot create", "file": file,
                        "name": name, "version": version, "commit": store.version(),
                    }));
                } else {
                    out.line(format!("{}: snapshot {name:?} keeps {version}", file.display()));
                }
                Ok(ExitCode::SUCCESS)
            }),
            Args::Delete { file, name } => with_page_size!(file, page_size(file)?, P => {
                let store = writable::<P>(file)?;
                store.delete_snapshot(name).map_err(fail(file))?;
                if out.json {
                    out.json(&serde_json::json!({
                        "schema": "mappedpages/1", "command": "snapshot delete", "file": file,
                        "name": name, "commit": store.version(),
                    }));
                } else {
                    out.line(format!("{}: snapshot {name:?} deleted", file.display()));
                }
                Ok(ExitCode::SUCCESS)
            }),
        }
    }
}
