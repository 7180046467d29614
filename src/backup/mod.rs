//! Backup streams: full and incremental, verified, restorable as a chain
//! (SPEC.md, "Backup streams").
//!
//! - `stream`: the format, encoder and decoder side by side;
//! - `make`: a stream of one pinned version, full or from a base named by its
//!   (version, content hash), through the walk pruned by write version;
//! - `apply`: a stream as one write transaction, committed at the target
//!   version only when everything checks (restore = a full stream applied to
//!   a new store);
//! - `verify`: a stream checked without a store.
//!
//! The Store API is in `crate::store::backup`.

mod apply;
mod error;
mod make;
mod stream;
#[cfg(test)]
mod tests;
mod verify;

pub use apply::ApplyReport;
pub(crate) use apply::apply_stream;
pub use error::{BackupError, Differs};
pub use make::{BackupOptions, BackupReport};
pub(crate) use make::{Source as BackupSource, make_backup};
pub use stream::STREAM_VERSION;
pub(crate) use stream::StreamReader;
pub use verify::StreamInfo;
pub(crate) use verify::verify_stream;

/// Reads a whole backup stream and checks it without a store: the header,
/// every record's checksum, lengths and order, the trailer's counts and
/// digest, and for a full stream that its pages hash to its target content
/// hash. Memory: one record, plus (full streams) one 56-byte entry per page.
pub fn verify_backup(input: impl std::io::Read) -> crate::Result<StreamInfo> {
    verify_stream(input)
}
