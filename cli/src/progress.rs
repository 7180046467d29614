//! The progress bar of long commands: on standard error when it is a
//! terminal (and `--json` is off), nothing otherwise. Ctrl-C sets the cancel
//! flag the library polls, so the command stops cleanly (no partial file).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// Set by Ctrl-C.
static CANCEL: AtomicBool = AtomicBool::new(false);

pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar titled `what`, shown only on a terminal and without `--json`.
    pub fn new(what: &str, json: bool) -> Bar {
        let _ = ctrlc::set_handler(|| CANCEL.store(true, Ordering::Relaxed));
        let bar = if !json && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            // Units are pages for verify, and a page read plus a page
            // written for export and upgrade.
            let style = ProgressStyle::with_template("{msg:>8} [{bar:32}] {human_pos}/{human_len}  {rate}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", state.per_sec());
                })
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(what.to_owned());
            bar
        } else {
            ProgressBar::hidden()
        };
        Bar { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl mappedpages::Progress for Bar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
    }

    fn advance(&self, done: u64) {
        self.bar.inc(done);
    }

    fn cancelled(&self) -> bool {
        CANCEL.load(Ordering::Relaxed)
    }
}
