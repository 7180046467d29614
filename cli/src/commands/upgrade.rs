//! `upgrade`: convert a mappedpages 0.2 file into a store of this version.

use std::path::PathBuf;
use std::process::ExitCode;

use mappedpages::upgrade::{UpgradeError, upgrade_v02, v02_page_size};

use crate::fail::Failure;
use crate::open::with_page_size;
use crate::out::Out;
use crate::progress::Bar;

/// Convert a file written by mappedpages 0.2 into a new store.
///
/// The source is only read. The new store is written to a temporary file
/// beside the target, verified (structure, and every page against the
/// source), and only then appears at the target, with the id mapping in
/// TARGET.idmap. Data pages keep their 0.2 numbers; protected page P
/// becomes page protected_base + P (printed, and in the mapping file). A
/// damaged source is an error and nothing is written. Stop the 0.2
/// application first: 0.2 takes no lock.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  mappedpages upgrade data-0.2.bin data.db\n  grep protected data.db.idmap")]
pub struct Args {
    /// The 0.2 file.
    pub source: PathBuf,
    /// The new store file (must not exist).
    pub target: PathBuf,
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let (source, target) = (&self.source, &self.target);
        let fail = |e: UpgradeError| Failure::upgrade(source, target, e);
        match std::fs::metadata(source) {
            Err(e) => return Err(Failure::new(source, "io", format!("cannot open: {e}"))),
            Ok(m) if m.is_dir() => return Err(Failure::new(source, "not_v02", "is a directory, not a 0.2 file")),
            Ok(_) => {}
        }
        let file = std::fs::File::open(source).map_err(|e| Failure::new(source, "io", format!("cannot open: {e}")))?;
        let ps = v02_page_size(&file).map_err(|e| fail(UpgradeError::Source(e)))?;
        drop(file);
        with_page_size!(source, ps, P => {
            let bar = Bar::new("upgrade", out.json);
            let report = upgrade_v02::<P>(source, target, &bar).map_err(fail)?;
            bar.finish();
            if out.json {
                out.json(&serde_json::json!({
                    "schema": "mappedpages/1", "command": "upgrade", "source": source, "report": report,
                }));
            } else {
                out.line(format!(
                    "{}: upgraded to {} ({} data pages under their 0.2 numbers, {} protected pages from id {}; {}-byte pages)",
                    source.display(), target.display(), report.data_pages, report.protected_pages,
                    report.protected_base, report.page_size
                ));
                out.line(format!("id mapping written to {}", report.mapping.display()));
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
