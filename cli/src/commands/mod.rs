//! One module per subcommand: its clap `Args` and its `run`.

pub mod backup;
pub mod dump;
pub mod export;
pub mod history;
pub mod info;
pub mod snapshot;
pub mod upgrade;
pub mod verify;

use mappedpages::{At, Version};

/// Which version a command reads: the newest, a version in the history
/// window, or a snapshot's.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AtArgs {
    /// Read this version (the newest, or one the history window keeps).
    #[arg(long, conflicts_with = "snapshot")]
    pub version: Option<u64>,
    /// Read the version this snapshot keeps.
    #[arg(long)]
    pub snapshot: Option<String>,
}

impl AtArgs {
    pub fn at(&self, newest: Version) -> At<'_> {
        match (&self.snapshot, self.version) {
            (Some(name), _) => At::Snapshot(name),
            (None, Some(v)) => At::Version(Version(v)),
            (None, None) => At::Version(newest),
        }
    }
}
