//! `upgrade`: convert a mappedpages 0.2 file into a store of this version.

use std::path::PathBuf;
use std::process::ExitCode;

use mappedpages::upgrade::{UpgradeError, upgrade_v02, upgrade_v02_in_place, v02_page_size};

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
/// application first: 0.2 takes no lock. With --in-place the verified store
/// replaces the source (atomically) and the original is kept under --backup.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  mappedpages upgrade data-0.2.bin data.db\n  grep protected data.db.idmap\n  \
                        mappedpages upgrade --in-place data.bin          (the original kept as data.bin.v0.2)")]
pub struct Args {
    /// The 0.2 file.
    pub source: PathBuf,
    /// The new store file (must not exist).
    #[arg(required_unless_present = "in_place")]
    pub target: Option<PathBuf>,
    /// Replace the source with the new store once it is verified, keeping the
    /// original under --backup (default SOURCE.v0.2, which must not exist).
    #[arg(long, conflicts_with = "target")]
    pub in_place: bool,
    /// With --in-place: where the original stays.
    #[arg(long, value_name = "FILE", requires = "in_place")]
    pub backup: Option<PathBuf>,
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let source = &self.source;
        let backup = self.backup.clone().unwrap_or_else(|| {
            let mut name = source.as_os_str().to_owned();
            name.push(".v0.2");
            PathBuf::from(name)
        });
        let target = self.target.as_ref().unwrap_or(source);
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
            let report = if self.in_place {
                upgrade_v02_in_place::<P>(source, &backup, &bar)
            } else {
                upgrade_v02::<P>(source, target, &bar)
            }
            .map_err(fail)?;
            bar.finish();
            if out.json {
                out.json(&serde_json::json!({
                    "schema": "mappedpages/1", "command": "upgrade", "source": source,
                    "backup": if self.in_place { Some(&backup) } else { None }, "report": report,
                }));
            } else {
                out.line(format!(
                    "{}: upgraded to {} ({} data pages under their 0.2 numbers, {} protected pages from id {}; {}-byte pages)",
                    source.display(), target.display(), report.data_pages, report.protected_pages,
                    report.protected_base, report.page_size
                ));
                if self.in_place {
                    out.line(format!("the 0.2 original is kept as {}", backup.display()));
                }
                out.line(format!("id mapping written to {}", report.mapping.display()));
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
