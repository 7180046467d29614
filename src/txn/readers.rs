//! The open read transactions: which version each holds and since when, so
//! that a version an open reader keeps can be read by its number, and an
//! application can find the reader that keeps space from coming back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::format::Root;
use crate::ids::Version;

/// One open read transaction, as [`Store::readers`](crate::Store::readers) lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReaderInfo {
    /// The version it reads (and keeps: the pages it reaches stay until it ends).
    pub version: Version,
    /// How long it has been open.
    pub age: Duration,
    /// True for an [`OwnedReadTxn`](crate::OwnedReadTxn).
    pub owned: bool,
}

struct OpenReader {
    root: Arc<Root>,
    since: Instant,
    owned: bool,
}

/// The open readers, by a serial number each gets when it begins.
#[derive(Default)]
pub(crate) struct Readers {
    next: u64,
    open: BTreeMap<u64, OpenReader>,
}

impl Readers {
    /// Registers a reader of `root`; returns its serial number.
    pub fn add(&mut self, root: &Arc<Root>, owned: bool) -> u64 {
        let serial = self.next;
        self.next += 1;
        self.open.insert(serial, OpenReader { root: Arc::clone(root), since: Instant::now(), owned });
        serial
    }

    pub fn remove(&mut self, serial: u64) {
        self.open.remove(&serial);
    }

    /// The root an open reader of `version` reads, if one is open.
    pub fn root_of(&self, version: u64) -> Option<Arc<Root>> {
        self.open.values().find(|r| r.root.version == version).map(|r| Arc::clone(&r.root))
    }

    /// The versions open readers keep, ascending, without repeats.
    pub fn versions(&self) -> Vec<Version> {
        let mut out: Vec<Version> = self.open.values().map(|r| Version(r.root.version)).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every open reader, oldest first.
    pub fn list(&self) -> Vec<ReaderInfo> {
        let now = Instant::now();
        self.open
            .values()
            .map(|r| ReaderInfo { version: Version(r.root.version), age: now - r.since, owned: r.owned })
            .collect()
    }
}
