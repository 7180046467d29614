//! `backup` and `restore`: backup streams (SPEC.md, Appendix D).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mappedpages::{BackupOptions, Store, StreamInfo, verify_backup};

use crate::commands::AtArgs;
use crate::fail::Failure;
use crate::open::{fail, page_size, read_only, with_page_size};
use crate::out::Out;

/// Write a backup stream of one version: full, or incremental since an
/// earlier stream of the same store.
///
/// The store is only read (a shared lock). With --since, the stream carries
/// only what changed after the version that earlier stream restores (it needs
/// that stream, not the store's old pages). The stream goes to a new file; on
/// an error no file is left there.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  mappedpages backup store.db full.mpb\n  \
                        mappedpages backup store.db incr-1.mpb --since full.mpb\n  \
                        mappedpages backup store.db nightly.mpb --snapshot nightly")]
pub struct Args {
    /// The store file.
    pub file: PathBuf,
    /// The stream file to write (must not exist).
    pub target: PathBuf,
    /// Make an incremental from the version this earlier stream restores.
    #[arg(long)]
    pub since: Option<PathBuf>,
    #[command(flatten)]
    pub at: AtArgs,
}

/// What a stream file says of itself, every checksum checked.
fn stream_info(path: &Path) -> Result<StreamInfo, Failure> {
    let file = File::open(path).map_err(|e| Failure::io(path, "opening the stream", e))?;
    verify_backup(BufReader::new(file)).map_err(|e| Failure::store(path, e))
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let file = &self.file;
        if self.target.symlink_metadata().is_ok() {
            return Err(Failure::new(&self.target, "exists", "exists already; backup writes a new file"));
        }
        let base = match &self.since {
            Some(since) => {
                let info = stream_info(since)?;
                Some((info.version, info.content_hash))
            }
            None => None,
        };
        with_page_size!(file, page_size(file)?, P => {
            let store = read_only::<P>(file)?;
            let written = (|| {
                let target = File::create_new(&self.target).map_err(|e| Failure::io(&self.target, "creating the stream", e))?;
                let mut w = BufWriter::new(target);
                let options = BackupOptions { base, ..BackupOptions::default() };
                let report = store.backup(&mut w, self.at.at(store.version()), options).map_err(fail(file))?;
                w.flush().map_err(|e| Failure::io(&self.target, "writing the stream", e))?;
                w.get_ref().sync_all().map_err(|e| Failure::io(&self.target, "syncing the stream", e))?;
                Ok(report)
            })();
            let report = match written {
                Ok(r) => r,
                Err(e) => {
                    let _ = std::fs::remove_file(&self.target);
                    return Err(e);
                }
            };
            if out.json {
                out.json(&serde_json::json!({
                    "schema": "mappedpages/1", "command": "backup", "file": file, "target": self.target, "report": report,
                }));
            } else {
                let kind = match report.base {
                    Some((v, _)) => format!("incremental since {v}"),
                    None => "full".to_string(),
                };
                out.line(format!(
                    "{}: {kind} backup of {} to {} ({} pages, {} bytes, content hash {})",
                    file.display(), report.version, self.target.display(), report.pages, report.stream_bytes,
                    report.content_hash
                ));
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}

/// Restore a new store file from a full backup stream and the incrementals
/// that follow it.
///
/// The whole chain is checked first (every checksum, the full stream's content
/// hash, each link's store, version and content hash), so a gap or a stream of
/// another store is refused before anything is written. The new file gets the
/// source's store id, version, ids and content; on an error it is removed.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  mappedpages restore copy.db full.mpb\n  \
                        mappedpages restore copy.db full.mpb incr-1.mpb incr-2.mpb")]
pub struct RestoreArgs {
    /// The new store file (must not exist).
    pub target: PathBuf,
    /// The full stream, then the incrementals in order.
    #[arg(required = true)]
    pub streams: Vec<PathBuf>,
}

impl RestoreArgs {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let first = &self.streams[0];
        let info = stream_info(first)?;
        let target = &self.target;
        with_page_size!(first, info.page_size, P => {
            let store = Store::<P>::restore_chain(target, &self.streams).map_err(|e| Failure::store(target, e))?;
            let (version, hash) = (store.version(), store.begin_read().map_err(fail(target))?.content_hash());
            if out.json {
                out.json(&serde_json::json!({
                    "schema": "mappedpages/1", "command": "restore", "target": target, "streams": self.streams,
                    "version": version, "content_hash": hash,
                }));
            } else {
                out.line(format!(
                    "{}: restored {version} from {} stream(s) (content hash {hash})",
                    target.display(), self.streams.len()
                ));
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
