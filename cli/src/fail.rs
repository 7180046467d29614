//! Errors as the user sees them: which file, what went wrong, and what to do;
//! exit status 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mappedpages::Error;
use mappedpages::upgrade::{UpgradeError, V02Error};

use crate::out::Out;

/// A failed command: the file it is about and the cause.
pub struct Failure {
    pub file: PathBuf,
    /// A stable, machine-readable name of the cause (the JSON `kind`).
    pub kind: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(file: &Path, kind: &'static str, message: impl Into<String>) -> Failure {
        Failure { file: file.to_owned(), kind, message: message.into() }
    }

    /// An I/O error about `file` while `doing` something.
    pub fn io(file: &Path, doing: &str, e: std::io::Error) -> Failure {
        let kind = if e.kind() == std::io::ErrorKind::AlreadyExists { "exists" } else { "io" };
        Failure::new(file, kind, format!("{doing}: {e}"))
    }

    /// A library error about `file`.
    pub fn store(file: &Path, e: Error) -> Failure {
        let kind = match &e {
            Error::Locked { .. } => "locked",
            Error::Io { .. } => "io",
            Error::AlreadyExists(_) => "exists",
            Error::PageSizeMismatch { .. } => "page_size",
            Error::UnsupportedFormat(_) => "not_a_store",
            Error::Corrupt { .. } | Error::NoValidRoot { .. } => "damaged",
            Error::NotAllocated(_) | Error::OutOfRange(_) => "no_such_page",
            Error::SnapshotExists(_) => "snapshot_exists",
            Error::SnapshotNotFound(_) => "no_such_snapshot",
            Error::InvalidName(_) | Error::InvalidArgument(_) => "invalid_argument",
            Error::VersionNotRetained { .. } => "version_not_retained",
            Error::Cancelled => "cancelled",
            Error::Backup(_) => "bad_stream",
            _ => "error",
        };
        let message = match &e {
            Error::Locked { .. } => "locked by another process (a writer, or readers when writing); \
                              close it or try again later"
                .to_owned(),
            Error::Cancelled => "cancelled; nothing was written".to_owned(),
            Error::UnsupportedFormat(_) if is_v02(file) => format!(
                "a mappedpages 0.2 file, which this version does not open; convert it with \
                 `mappedpages upgrade {} NEW_FILE`",
                file.display()
            ),
            _ => e.to_string(),
        };
        Failure::new(file, kind, message)
    }

    /// An upgrade error: about the source, unless it is about the target.
    pub fn upgrade(source: &Path, target: &Path, e: UpgradeError) -> Failure {
        match e {
            UpgradeError::Source(V02Error::NotV02) => Failure::new(source, "not_v02", V02Error::NotV02.to_string()),
            UpgradeError::Source(e) => Failure::new(source, "damaged", e.to_string()),
            UpgradeError::Store(Error::Cancelled) => {
                Failure::new(target, "cancelled", "cancelled; nothing was written")
            }
            UpgradeError::Store(e) => Failure::store(target, e),
            UpgradeError::TargetExists(p) => Failure::new(&p, "exists", "exists already; nothing was written"),
            e @ UpgradeError::Mismatch(_) => Failure::new(source, "changed", e.to_string()),
            e => Failure::new(target, "io", e.to_string()),
        }
    }

    pub fn report(self, out: &mut Out) -> ExitCode {
        eprintln!("mappedpages: {}: {}", self.file.display(), self.message);
        if out.json {
            out.json(&serde_json::json!({
                "schema": "mappedpages/1",
                "error": { "file": self.file, "kind": self.kind, "message": self.message },
            }));
        }
        ExitCode::from(2)
    }
}

fn is_v02(file: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(file).and_then(|mut f| f.read_exact(&mut head)).is_ok() && mappedpages::upgrade::is_v02(&head)
}
