//! Pins: the proof a [`PageReader`](super::PageReader) asks for.
//!
//! A `&[u8]` into the mapping is sound only while nothing writes the bytes
//! behind it (SPEC.md section 14). The store keeps that promise through one
//! rule: the space layer never hands out an extent that a held version
//! reaches, and the writer writes nowhere else. A [`Pin`] is the token that
//! says "for `'a`, what I read is reached by a held version, or nobody writes
//! at all", and only these make one:
//!
//! - [`Hold::pin`]: a version registered in the store's [`Pins`] (a read
//!   transaction's, or the write transaction's base root), for as long as the
//!   hold is borrowed;
//! - [`Pin::exclusive`]: a storage borrowed mutably, so no one can write it
//!   (opening, before the store exists).
//!
//! So no code above this layer needs `unsafe` to read a page, and no safe
//! function relies on its caller holding a pin.
//!
//! A [`Quiet`] says more: for `'a`, nothing writes the storage at all, so any
//! byte of it may be copied ([`copy_all`](super::copy_all)). Only
//! [`Quiet::writer_parked`] makes one, from the lock of the store's writer
//! slot while the writer state is parked in it (every write to the storage is
//! made by the holder of that state, which is taken out only under the lock).

use std::collections::BTreeMap;
use std::marker::PhantomData;
#[cfg(any(test, feature = "testing"))]
use std::sync::MutexGuard;

use super::Storage;

/// The versions held by open transactions, with how many hold each. The
/// writer reads [`oldest`](Pins::oldest) to know what it may release.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    held: BTreeMap<u64, usize>,
}

/// One hold on a version, made by [`Pins::hold`] and given back by
/// [`Pins::release`]. Not `Clone`: a hold is released once.
#[derive(Debug)]
#[must_use = "a hold keeps its version's pages; release it"]
pub(crate) struct Hold {
    version: u64,
}

/// Proof, for `'a`, that nothing writes the extents read under it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pin<'a> {
    _held: PhantomData<&'a ()>,
}

/// Proof, for `'a`, that nothing writes the storage at all.
#[derive(Clone, Copy, Debug)]
#[cfg(any(test, feature = "testing"))]
pub(crate) struct Quiet<'a> {
    _parked: PhantomData<&'a ()>,
}

impl Pins {
    /// Holds `version`: until the hold is released, the space layer hands out
    /// nothing that version reaches.
    pub fn hold(&mut self, version: u64) -> Hold {
        *self.held.entry(version).or_insert(0) += 1;
        Hold { version }
    }

    /// Gives `hold` back. The caller drops it right after (a hold is released
    /// from its owner's `Drop`, when nothing borrows it any more).
    pub fn release(&mut self, hold: &Hold) {
        if let Some(n) = self.held.get_mut(&hold.version) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&hold.version);
            }
        }
    }

    /// The oldest version held, if any.
    pub fn oldest(&self) -> Option<u64> {
        self.held.keys().next().copied()
    }
}

impl Hold {
    /// A pin for as long as this hold is borrowed.
    pub fn pin(&self) -> Pin<'_> {
        Pin { _held: PhantomData }
    }
}

impl<'a> Pin<'a> {
    /// A pin for as long as `storage` is borrowed mutably: every write takes
    /// `&self` on the storage, so none can happen meanwhile (in this process;
    /// other processes are kept out by the file lock, SPEC.md section 14).
    pub fn exclusive(storage: &'a mut dyn Storage) -> (Pin<'a>, &'a dyn Storage) {
        (Pin { _held: PhantomData }, storage)
    }
}

#[cfg(any(test, feature = "testing"))]
impl<'a> Quiet<'a> {
    /// Quiet for as long as `slot`, the lock of the store's writer slot, is
    /// borrowed, when `parked`: the writer state is in the slot (no write
    /// transaction exists, and none can start while the lock is held) or the
    /// store is read-only (it writes nothing). `None` otherwise.
    pub fn writer_parked<T>(slot: &'a MutexGuard<'_, T>, parked: bool) -> Option<Quiet<'a>> {
        let _ = slot;
        parked.then_some(Quiet { _parked: PhantomData })
    }
}
