//! `info`: the header, both roots, counts, snapshots, history, what pins old
//! space; with `--space`, where each kind of extent lies.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use mappedpages::format::FORMAT_VERSION;

use crate::fail::Failure;
use crate::open::{fail, page_size, read_only, with_page_size};
use crate::out::Out;
use crate::space;
use crate::time::utc;

/// Show what a store holds and what keeps old space alive.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  mappedpages info store.db\n  mappedpages info --space store.db\n  \
                        mappedpages info --space --svg map.svg store.db\n  mappedpages --json info --space store.db")]
pub struct Args {
    /// The store file.
    pub file: PathBuf,
    /// Also map where live, free, history- and snapshot-held pages and
    /// metadata lie in the file.
    #[arg(long)]
    pub space: bool,
    /// With --space: write the map as an SVG drawing to this file.
    #[arg(long, value_name = "FILE", requires = "space")]
    pub svg: Option<PathBuf>,
    /// With --space: cells per row of the text map.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(8..=512))]
    pub width: u16,
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let file = &self.file;
        with_page_size!(file, page_size(file)?, P => {
            let store = read_only::<P>(file)?;
            let header = store.header();
            let stats = store.stats();
            let roots = store.root_slots().map_err(fail(file))?;
            let snapshots = store.snapshots().map_err(fail(file))?;
            let window = store.history_window();
            let history = store.history();
            let rejected = store.rejected_root();
            let map = if self.space { Some(store.space_map().map_err(fail(file))?) } else { None };
            if let (Some(map), Some(svg)) = (&map, &self.svg) {
                std::fs::write(svg, space::svg(map))
                    .map_err(|e| Failure::new(svg, "io", format!("cannot write the SVG: {e}")))?;
            }
            let store_id: String = header.store_id.iter().map(|b| format!("{b:02x}")).collect();
            if out.json {
                let mut v = serde_json::json!({
                    "schema": "mappedpages/1",
                    "command": "info",
                    "file": file,
                    "header": {
                        "format_version": FORMAT_VERSION,
                        "page_size": header.page_size,
                        "store_id": store_id,
                        "created_nanos": header.created_nanos,
                        "compat_features": header.compat_features,
                        "incompat_features": header.incompat_features,
                    },
                    "roots": roots,
                    "stats": stats,
                    "history_window": window,
                    "history": history,
                    "snapshots": snapshots,
                    "pins": {
                        "pending_pages": stats.pending_pages,
                        "history_pages": stats.history_pages,
                        "snapshot_pages": stats.snapshot_pages,
                        "rejected_root": rejected,
                    },
                });
                if let Some(map) = &map {
                    v["space"] = serde_json::to_value(map).unwrap_or_default();
                }
                out.json(&v);
                return Ok(ExitCode::SUCCESS);
            }
            out.line(format!("file        {}", file.display()));
            out.line(format!(
                "format      v{FORMAT_VERSION}, {}-byte pages, store id {store_id}, created {}",
                header.page_size, utc(header.created_nanos)
            ));
            for r in &roots {
                let what = match (r.state.as_str(), r.version) {
                    ("valid", Some(v)) => format!(
                        "{v}, committed {}{}",
                        utc(r.commit_nanos.unwrap_or(0)),
                        if r.current { " (current)" } else { "" }
                    ),
                    ("damaged", _) => format!("damaged: {}", r.detail.as_deref().unwrap_or("")),
                    (state, _) => state.to_owned(),
                };
                out.line(format!("root {}      {what}", r.slot));
            }
            out.line(format!(
                "pages       {} live, {} in the file ({}), {} free, next id {}",
                stats.live_pages, stats.physical_pages, space::bytes(stats.physical_pages * P as u64),
                stats.free_pages, stats.next_id
            ));
            let kept = if window.is_enabled() {
                format!("the newest {} versions and the last {} s", window.keep_versions, window.keep_seconds)
            } else {
                "the newest version only".to_owned()
            };
            let readable = match (history.first(), history.last()) {
                (Some(a), Some(b)) if a.version != b.version => format!("{}..{} readable", a.version, b.version),
                (_, Some(b)) => format!("{} readable", b.version),
                _ => String::new(),
            };
            out.line(format!("history     keeps {kept}; {} versions, {readable}", history.len()));
            if snapshots.is_empty() {
                out.line("snapshots   none");
            }
            for (i, s) in snapshots.iter().enumerate() {
                out.line(format!(
                    "{}{:<12} {}, made {}, keeps {} pages of its own",
                    if i == 0 { "snapshots   " } else { "            " },
                    s.name, s.version, utc(s.created_nanos), s.exclusive_pages
                ));
            }
            out.line(format!(
                "pinned      {} pages wait to be freed: {} for the history window, {} for snapshots, {} for readers or the fallback root",
                stats.pending_pages + stats.snapshot_pages,
                stats.history_pages,
                stats.snapshot_pages,
                stats.pending_pages.saturating_sub(stats.history_pages),
            ));
            if let Some(r) = rejected {
                out.line(match r.version {
                    Some(v) => format!("rejected    a newer root (v{}, slot {}) failed at open: {}", v.get(), r.slot, r.reason),
                    None => format!("rejected    root slot {} held no valid root at open: {}", r.slot, r.reason),
                });
            }
            if let Some(map) = &map {
                let rows = if std::io::stdout().is_terminal() { 16 } else { 8 };
                out.line("");
                out.line(format!("space map of {} ({} bytes):", map.version, map.file_len));
                for line in space::text(map, self.width as usize, rows) {
                    out.line(line);
                }
                if let Some(svg) = &self.svg {
                    out.line(format!("SVG written to {}", svg.display()));
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
