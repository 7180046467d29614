//! `verify`: check everything the newest version reaches.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::fail::Failure;
use crate::open::{fail, page_size, read_only, with_page_size};
use crate::out::Out;
use crate::progress::Bar;

/// Check every structure and page checksum; name damaged pages by id.
///
/// Exit status 0 when clean, 1 when anything is damaged, 2 when the store
/// cannot be opened at all (no valid root, not a store, locked).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  mappedpages verify store.db && echo clean\n  mappedpages --json verify store.db | jq .damage"
)]
pub struct Args {
    /// The store file.
    pub file: PathBuf,
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let file = &self.file;
        with_page_size!(file, page_size(file)?, P => {
            let store = read_only::<P>(file)?;
            let bar = Bar::new("verify", out.json);
            let report = store.verify_with(&bar).map_err(fail(file))?;
            bar.finish();
            let clean = report.is_clean();
            if out.json {
                out.json(&serde_json::json!({
                    "schema": "mappedpages/1",
                    "command": "verify",
                    "file": file,
                    "clean": clean,
                    "report": report,
                }));
            } else if clean {
                out.line(format!(
                    "{}: clean ({}: {} pages and {} nodes checked)",
                    file.display(), report.version, report.pages_checked, report.nodes_checked
                ));
            } else {
                out.line(format!("{}: DAMAGED: {} finding(s) in {}", file.display(), report.damage.len(), report.version));
            }
            if !out.json {
                for d in &report.damage {
                    let what = match (d.page(), &d.ids) {
                        (Some(id), _) => format!("page {}", id.get()),
                        (None, Some(r)) => format!("pages {}..{}", r.start, r.end),
                        (None, None) => "no page".to_owned(),
                    };
                    out.line(format!("  {what} ({}): {} at byte {}: {}", d.version, d.structure, d.offset, d.detail));
                }
                if report.leaked_sectors > 0 {
                    out.line(format!("  note: {} sectors in use that nothing reaches", report.leaked_sectors));
                }
                if let Some(r) = &report.rejected_root {
                    out.line(match r.version {
                Some(v) => format!("  note: a newer root (v{}, slot {}) was rejected at open: {}", v.get(), r.slot, r.reason),
                None => format!("  note: root slot {} held no valid root at open: {}", r.slot, r.reason),
            });
                }
            }
            Ok(ExitCode::from(if clean { 0 } else { 1 }))
        })
    }
}
