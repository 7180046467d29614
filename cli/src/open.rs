//! Opening a store whose page size is known only at run time: read it from
//! the header (`mappedpages::page_size_of`), then call code generic over
//! `const P: usize` with the matching constant (`with_page_size!`).

use std::path::Path;

use mappedpages::{Error, ReadOnlyStore, Store};

use crate::fail::Failure;

/// Runs `$body` with `$P` bound to the page size `$ps` as a constant (one of
/// 1024, 2048, …, 65536), or evaluates to a `Failure` about `$file`.
macro_rules! with_page_size {
    ($file:expr, $ps:expr, $P:ident => $body:expr) => {
        match $ps {
            1024 => {
                const $P: usize = 1024;
                $body
            }
            2048 => {
                const $P: usize = 2048;
                $body
            }
            4096 => {
                const $P: usize = 4096;
                $body
            }
            8192 => {
                const $P: usize = 8192;
                $body
            }
            16384 => {
                const $P: usize = 16384;
                $body
            }
            32768 => {
                const $P: usize = 32768;
                $body
            }
            65536 => {
                const $P: usize = 65536;
                $body
            }
            other => Err($crate::fail::Failure::new(
                $file,
                "page_size",
                format!("{other}-byte pages; this tool opens stores of 1024 to 65536-byte pages"),
            )),
        }
    };
}
pub(crate) use with_page_size;

/// The page size of the store at `file`, with the errors a user can act on:
/// missing file, a directory, a file that is not a store (or a 0.2 file).
pub fn page_size(file: &Path) -> Result<usize, Failure> {
    match std::fs::metadata(file) {
        Err(e) => return Err(Failure::new(file, "io", format!("cannot open: {e}"))),
        Ok(m) if m.is_dir() => return Err(Failure::new(file, "not_a_store", "is a directory, not a store file")),
        Ok(_) => {}
    }
    mappedpages::page_size_of(file).map_err(|e| Failure::store(file, e))
}

/// Opens read-only (a shared lock; fails at once if a writer holds the file).
pub fn read_only<const P: usize>(file: &Path) -> Result<ReadOnlyStore<P>, Failure> {
    ReadOnlyStore::<P>::open(file).map_err(|e| Failure::store(file, e))
}

/// Opens for writing (an exclusive lock; fails at once if anyone holds the file).
pub fn writable<const P: usize>(file: &Path) -> Result<Store<P>, Failure> {
    Store::<P>::open(file).map_err(|e| Failure::store(file, e))
}

/// A library error about `file` as a failure.
pub fn fail(file: &Path) -> impl Fn(Error) -> Failure + '_ {
    move |e| Failure::store(file, e)
}
