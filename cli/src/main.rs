//! `mappedpages`: look into a mappedpages store and act on it from a shell.
//!
//! One subcommand per capability of the library (see `Command`); each opens
//! the store with the page size its header records (`open::with_page_size!`),
//! read-only unless it changes the store. `--json` prints one JSON object per
//! run (schemas in the README, "The command-line tool"). Exit status: 0 done
//! (verify: clean), 1 verify found damage, 2 an error (named with its file).

mod commands;
mod fail;
mod open;
mod out;
mod progress;
mod space;
mod time;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::fail::Failure;
use crate::out::Out;

const EXAMPLES: &str = "\
Examples:
  mappedpages info store.db                   header, roots, counts, snapshots, history
  mappedpages info --space store.db           where live, free and held pages lie
  mappedpages info --space --svg map.svg store.db
  mappedpages verify store.db && echo clean   exit 0 clean, 1 damaged, 2 error
  mappedpages --json verify store.db          the same as one JSON object
  mappedpages snapshot create store.db nightly
  mappedpages history store.db --keep-versions 100
  mappedpages export store.db copy.db --snapshot nightly
  mappedpages dump store.db 7                 page 7 as hex (--entry: its table entry)
  mappedpages upgrade old-0.2.bin new.db      convert a mappedpages 0.2 file";

/// Inspect, verify and maintain mappedpages stores (any page size).
#[derive(Parser)]
#[command(name = "mappedpages", version, after_help = EXAMPLES)]
struct Cli {
    /// Print one JSON object (stable schema, see the README) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The subcommands. A new one is a variant here, an `Args` struct in
/// `commands/`, and one line in `run`.
#[derive(Subcommand)]
enum Command {
    Info(commands::info::Args),
    Verify(commands::verify::Args),
    #[command(subcommand, after_help = commands::snapshot::EXAMPLES)]
    Snapshot(commands::snapshot::Args),
    History(commands::history::Args),
    Export(commands::export::Args),
    Dump(commands::dump::Args),
    Upgrade(commands::upgrade::Args),
    Backup(commands::backup::Args),
    Restore(commands::backup::RestoreArgs),
}

fn run(command: &Command, out: &mut Out) -> Result<ExitCode, Failure> {
    match command {
        Command::Info(a) => a.run(out),
        Command::Verify(a) => a.run(out),
        Command::Snapshot(a) => a.run(out),
        Command::History(a) => a.run(out),
        Command::Export(a) => a.run(out),
        Command::Dump(a) => a.run(out),
        Command::Upgrade(a) => a.run(out),
        Command::Backup(a) => a.run(out),
        Command::Restore(a) => a.run(out),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Out::new(cli.json);
    match run(&cli.command, &mut out) {
        Ok(code) => code,
        Err(failure) => failure.report(&mut out),
    }
}
