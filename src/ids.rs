//! The small value types a user handles: ids, versions, content hashes.

use std::fmt;

/// A logical page id: stable for the page's life, whatever moves underneath.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageId(u64);

impl PageId {
    /// The id as a number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// An id from a number (for ids stored by the caller).
    ///
    /// ```
    /// use mappedpages::PageId;
    /// let id = PageId::from_raw(42); // a number you stored, back as an id
    /// assert_eq!(id.get(), 42);
    /// # Ok::<(), mappedpages::Error>(())
    /// ```
    pub const fn from_raw(id: u64) -> PageId {
        PageId(id)
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page {}", self.0)
    }
}

/// A committed version: 0 for a new store, then one more per commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

impl Version {
    /// The version as a number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A 128-bit hash of a version's logical content: every allocated id and its
/// bytes. It does not depend on where pages sit in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 16]);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
