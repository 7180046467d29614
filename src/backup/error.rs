//! What can go wrong with a backup stream, by what the caller can do about it.

use std::fmt;

use crate::error::Error;
use crate::ids::{ContentHash, Version};

/// Which identity of an incremental stream's base differs from the store it
/// is applied to (or of a chain's link from the stream before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Differs {
    /// The store id (the lineage): another store's stream.
    StoreId,
    /// The page size.
    PageSize,
    /// The version: the store is not at the stream's base (a gap in a chain,
    /// or a stream applied twice).
    Version,
    /// The content hash at that version: the same version number with other
    /// content (another branch of the lineage).
    ContentHash,
}

impl fmt::Display for Differs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Differs::StoreId => "store id",
            Differs::PageSize => "page size",
            Differs::Version => "version",
            Differs::ContentHash => "content hash",
        })
    }
}

/// A backup stream that cannot be read, restored or applied. Whatever the
/// variant, nothing was changed: the store is still at its base.
#[derive(Debug)]
#[non_exhaustive]
pub enum BackupError {
    /// The bytes are not a well-formed stream: a checksum fails, a length or
    /// count lies, records are out of order, duplicated or from another
    /// stream, or the digest does not match. `offset` counts bytes of the
    /// uncompressed stream.
    Malformed {
        /// Where the damage was found.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The stream ends before its trailer.
    Truncated {
        /// Bytes read (uncompressed).
        offset: u64,
    },
    /// A stream version, feature bit or codec this build does not read.
    Unsupported(String),
    /// The stream does not start where it is applied: the store (or the
    /// chain's previous stream) has another `what`.
    BaseMismatch {
        /// Which identity differs.
        what: Differs,
        /// The stream's value.
        expected: String,
        /// The store's (or previous stream's) value.
        found: String,
    },
    /// The content built from the stream does not hash to its target hash.
    TargetHashMismatch {
        /// The stream's target hash.
        expected: ContentHash,
        /// The hash of what was built.
        found: ContentHash,
    },
    /// The stream's live set, free records and pages disagree with each other
    /// or with the base (an id live at the base missing from both the live
    /// set and the free records, a new id without content, …).
    LiveSet(String),
    /// A full stream where an incremental was expected or the reverse, or a
    /// chain that does not start with a full stream.
    WrongKind {
        /// What the call needs at that place.
        expected: &'static str,
        /// Index of the stream in the chain (0 outside a chain).
        index: usize,
    },
    /// Stream `index` of a chain does not continue the one before it.
    Chain {
        /// The stream's index in the chain.
        index: usize,
        /// What differs.
        what: Differs,
    },
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupError::Malformed { offset, detail } => write!(f, "malformed at byte {offset}: {detail}"),
            BackupError::Truncated { offset } => write!(f, "truncated after {offset} bytes"),
            BackupError::Unsupported(what) => write!(f, "unsupported: {what}"),
            BackupError::BaseMismatch { what, expected, found } => {
                write!(f, "the base's {what} differs: the stream needs {expected}, found {found}")
            }
            BackupError::TargetHashMismatch { expected, found } => {
                write!(f, "target content hash {expected} expected, {found} built")
            }
            BackupError::LiveSet(detail) => write!(f, "live set: {detail}"),
            BackupError::WrongKind { expected, index } => write!(f, "stream {index}: {expected} stream expected"),
            BackupError::Chain { index, what } => {
                write!(f, "stream {index} does not continue the one before it: its base {what} differs")
            }
        }
    }
}

impl std::error::Error for BackupError {}

impl From<BackupError> for Error {
    fn from(e: BackupError) -> Error {
        Error::Backup(e)
    }
}

pub(crate) fn base_mismatch(what: Differs, expected: impl fmt::Display, found: impl fmt::Display) -> Error {
    BackupError::BaseMismatch { what, expected: expected.to_string(), found: found.to_string() }.into()
}

pub(crate) fn version_text(v: u64) -> String {
    Version(v).to_string()
}
