//! Progress reporting and cancellation for long operations: verify, export and
//! the 0.2 upgrade ([`Store::verify_with`](crate::Store::verify_with),
//! [`Store::export_with`](crate::Store::export_with),
//! [`upgrade::upgrade_v02`](crate::upgrade::upgrade_v02)).
//!
//! The operation calls [`Progress::start`] once with the amount of work it
//! will do, [`Progress::advance`] as it goes, and asks
//! [`Progress::cancelled`] between units of work; once that returns true it
//! stops, leaves nothing half-made behind, and returns [`Error::Cancelled`](crate::Error::Cancelled).
//! The methods take `&self` so that one value can be shared with the thread
//! that cancels (an `AtomicBool` is a `Progress` that only cancels).
//!
//! ```
//! use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
//! use mappedpages::{Error, Progress, Store};
//! # fn main() -> Result<(), Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Store::<4096>::create(dir.path().join("p.db"))?;
//! let mut w = store.begin_write()?;
//! for id in w.alloc_bulk(10)? { w.page_mut(id)?.fill(1); }
//! w.commit()?;
//!
//! struct Count(AtomicU64);
//! impl Progress for Count {
//!     fn advance(&self, n: u64) { self.0.fetch_add(n, Ordering::Relaxed); }
//! }
//! let count = Count(AtomicU64::new(0));
//! assert!(store.verify_with(&count)?.is_clean());
//! assert_eq!(count.0.load(Ordering::Relaxed), 10);      // one unit per page
//!
//! let cancel = AtomicBool::new(true);                     // cancelled before it starts
//! assert!(matches!(store.verify_with(&cancel), Err(Error::Cancelled)));
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

/// Receives progress of a long operation and may cancel it.
pub trait Progress: Sync {
    /// The operation is about to do `total` units of work (pages, for all of
    /// today's operations).
    fn start(&self, _total: u64) {}

    /// `done` more units are done.
    fn advance(&self, _done: u64) {}

    /// True once the caller wants the operation to stop.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Reports nothing and never cancels: what the plain calls use.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A cancel flag: set it (from any thread) to stop the operation.
impl Progress for AtomicBool {
    fn cancelled(&self) -> bool {
        self.load(Ordering::Relaxed)
    }
}
