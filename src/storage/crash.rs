//! A storage that models power cuts and failing I/O, for tests and fuzzing.
//!
//! It keeps a *live* image (what the running program reads) and a *durable* image
//! (what survives a power cut: advanced only by `sync`). Every write and grow since
//! the last sync is remembered; [`CrashControl::crash`] builds the image a reboot
//! would find: the durable image plus each unsynced operation applied whole,
//! dropped, or torn at 512-byte granularity, as the [`TearPattern`] decides.
//!
//! A failed sync behaves as `fdatasync` does on Linux ("fsyncgate"): the
//! writes it should have made durable stay readable in the live image (the
//! page cache, now marked clean) but will never reach the durable image, by a
//! later sync or by a power cut. [`CrashControl::reopen`] opens the live image
//! again, as a second open of the file in this process (or another one, before
//! a reboot) would see it.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::memory::DEFAULT_MEMORY_CAPACITY;
use super::{MemoryStorage, RawView, Storage};

/// Granularity of torn writes.
pub const TEAR_UNIT: usize = 512;

/// Which operation to fail, counted from 0 over the storage's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The power goes out at operation `n` (writes, grows and syncs counted
    /// together): it and every later operation fail and have no effect.
    PowerCutAt(u64),
    /// The `n`-th write fails (once) with an I/O error and has no effect.
    FailWrite(u64),
    /// The `n`-th sync fails (once), as `fdatasync` does on Linux: the writes
    /// it should have made durable stay readable but are forgotten, so neither
    /// a later sync nor a power cut makes them durable (the grows, which are
    /// file metadata, stay pending).
    FailSync(u64),
    /// The `n`-th grow fails (once) as a full disk would.
    FailGrow(u64),
}

/// How a simulated power cut treats writes and grows that were not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TearPattern {
    /// Every unsynced operation reached the disk.
    KeepAll,
    /// No unsynced operation reached the disk.
    DropAll,
    /// Each unsynced operation is kept, dropped or torn (each 512-byte unit kept or
    /// not), chosen by a generator seeded with this value.
    Seeded(u64),
    /// The worst reordering for a fallback root: every unsynced write landed
    /// except those that touch the first `n` bytes (where the roots live).
    AllButFirstBytes(u64),
    /// A device with 4 KiB physical sectors, which rewrites a whole block to
    /// write part of it and breaks powersafe overwrite (SPEC.md section 1):
    /// each unsynced write landed whole, or else every 4 KiB block it touches
    /// reads as garbage, its other bytes included. Chosen per write by a
    /// generator seeded with this value.
    Blocks4K(u64),
}

/// The physical block [`TearPattern::Blocks4K`] garbles whole.
const PHYSICAL_BLOCK: usize = 4096;

#[derive(Clone, Debug)]
enum Op {
    Write { offset: u64, data: Vec<u8> },
    Grow { len: u64 },
}

struct State {
    durable: Vec<u8>,
    unsynced: Vec<Op>,
    ops: u64,
    writes: u64,
    syncs: u64,
    grows: u64,
    bytes_written: u64,
    fault: Option<Fault>,
    powered_off: bool,
    /// How many [`CrashStorage`] values are open on the live image (a store
    /// holds one), so that [`CrashControl::reopen`] refuses a second.
    open: usize,
    /// Bumped by [`CrashControl::kill`]: handles of an older generation are dead.
    generation: u64,
}

/// Counts of operations seen by a [`CrashStorage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Writes, grows and syncs together (the index space of [`Fault::PowerCutAt`]).
    pub ops: u64,
    /// Writes.
    pub writes: u64,
    /// Syncs.
    pub syncs: u64,
    /// Grows.
    pub grows: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

/// The crash-simulating storage. Hand it to a store; keep its [`CrashControl`]
/// (from [`CrashStorage::control`]) to inject faults and to crash it.
pub struct CrashStorage {
    live: Arc<MemoryStorage>,
    state: Arc<Mutex<State>>,
    /// The process generation this handle belongs to (see [`CrashControl::kill`]).
    generation: u64,
}

/// The test's handle on a [`CrashStorage`]: it can schedule faults and build
/// post-crash images, but cannot write.
#[derive(Clone)]
pub struct CrashControl {
    state: Arc<Mutex<State>>,
    live: Arc<MemoryStorage>,
    capacity: usize,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl CrashStorage {
    /// An empty storage with the default capacity.
    pub fn new() -> io::Result<CrashStorage> {
        CrashStorage::from_image(&[], DEFAULT_MEMORY_CAPACITY)
    }

    /// A storage whose live and durable images both hold `image`.
    pub fn from_image(image: &[u8], capacity: usize) -> io::Result<CrashStorage> {
        let state = State {
            durable: image.to_vec(),
            unsynced: Vec::new(),
            ops: 0,
            writes: 0,
            syncs: 0,
            grows: 0,
            bytes_written: 0,
            fault: None,
            powered_off: false,
            open: 1,
            generation: 0,
        };
        Ok(CrashStorage {
            live: Arc::new(MemoryStorage::from_bytes(image, capacity)?),
            state: Arc::new(Mutex::new(state)),
            generation: 0,
        })
    }

    /// The handle for faults and crashes.
    pub fn control(&self) -> CrashControl {
        CrashControl { state: Arc::clone(&self.state), live: Arc::clone(&self.live), capacity: DEFAULT_MEMORY_CAPACITY }
    }

    /// Checks the fault plan for the next operation; `Err` means it fails.
    fn admit(&self, kind: OpKind) -> io::Result<()> {
        let mut st = lock(&self.state);
        if st.powered_off {
            return Err(power_off());
        }
        if st.generation != self.generation {
            return Err(io::Error::other("the process that held this handle was killed"));
        }
        let op = st.ops;
        st.ops += 1;
        let nth = match kind {
            OpKind::Write => {
                st.writes += 1;
                st.writes - 1
            }
            OpKind::Sync => {
                st.syncs += 1;
                st.syncs - 1
            }
            OpKind::Grow => {
                st.grows += 1;
                st.grows - 1
            }
        };
        match st.fault {
            Some(Fault::PowerCutAt(n)) if n == op => {
                st.powered_off = true;
                Err(power_off())
            }
            Some(Fault::FailWrite(n)) if kind == OpKind::Write && n == nth => {
                st.fault = None;
                Err(io::Error::other("injected write failure"))
            }
            Some(Fault::FailSync(n)) if kind == OpKind::Sync && n == nth => {
                st.fault = None;
                // The page cache keeps the bytes but marks them clean: no
                // later sync writes them, and the disk keeps what it had.
                st.unsynced.retain(|op| matches!(op, Op::Grow { .. }));
                Err(io::Error::other("injected sync failure"))
            }
            Some(Fault::FailGrow(n)) if kind == OpKind::Grow && n == nth => {
                st.fault = None;
                Err(io::Error::new(io::ErrorKind::StorageFull, "injected full disk"))
            }
            _ => Ok(()),
        }
    }
}

impl Drop for CrashStorage {
    fn drop(&mut self) {
        lock(&self.state).open -= 1;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Write,
    Sync,
    Grow,
}

fn power_off() -> io::Error {
    io::Error::other("simulated power cut")
}

// SAFETY: every view is the view of `live`, a `MemoryStorage` this value owns,
// and is borrowed from this value; `live` is written only by this value's
// `write` (the control writes to its own images, never to `live`).
unsafe impl Storage for CrashStorage {
    fn len(&self) -> u64 {
        self.live.len()
    }

    fn grow(&self, new_len: u64) -> io::Result<()> {
        self.admit(OpKind::Grow)?;
        self.live.grow(new_len)?;
        lock(&self.state).unsynced.push(Op::Grow { len: new_len });
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.admit(OpKind::Write)?;
        self.live.write(offset, data)?;
        let mut st = lock(&self.state);
        st.bytes_written += data.len() as u64;
        st.unsynced.push(Op::Write { offset, data: data.to_vec() });
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.admit(OpKind::Sync)?;
        let mut st = lock(&self.state);
        let ops = std::mem::take(&mut st.unsynced);
        for op in &ops {
            apply(&mut st.durable, op, None);
        }
        Ok(())
    }

    fn view(&self) -> RawView<'_> {
        self.live.view()
    }
}

/// Applies `op` to `image`; `keep_unit` decides, for a torn write, which 512-byte
/// units land (`None`: all of them).
fn apply(image: &mut Vec<u8>, op: &Op, mut keep_unit: Option<&mut dyn FnMut() -> bool>) {
    match op {
        Op::Grow { len } => {
            if (*len as usize) > image.len() {
                image.resize(*len as usize, 0);
            }
        }
        Op::Write { offset, data } => {
            let start = *offset as usize;
            for (i, chunk) in data.chunks(TEAR_UNIT).enumerate() {
                if let Some(keep) = keep_unit.as_mut()
                    && !keep()
                {
                    continue;
                }
                let at = start + i * TEAR_UNIT;
                if at >= image.len() {
                    break;
                }
                let end = (at + chunk.len()).min(image.len());
                image[at..end].copy_from_slice(&chunk[..end - at]);
            }
        }
    }
}

/// A small deterministic generator (xorshift64*), so crash images (and test
/// workloads) are reproducible from a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

impl CrashControl {
    /// Schedules a fault (replacing any earlier one).
    pub fn set_fault(&self, fault: Option<Fault>) {
        lock(&self.state).fault = fault;
    }

    /// Operations seen so far.
    pub fn counts(&self) -> OpCounts {
        let st = lock(&self.state);
        OpCounts { ops: st.ops, writes: st.writes, syncs: st.syncs, grows: st.grows, bytes_written: st.bytes_written }
    }

    /// True once a [`Fault::PowerCutAt`] has fired.
    pub fn is_powered_off(&self) -> bool {
        lock(&self.state).powered_off
    }

    /// The bytes that are durable now.
    pub fn durable_image(&self) -> Vec<u8> {
        lock(&self.state).durable.clone()
    }

    /// The image a reboot would find after a power cut now: the durable image plus
    /// the unsynced operations as `pattern` decides.
    pub fn crash_image(&self, pattern: TearPattern) -> Vec<u8> {
        let st = lock(&self.state);
        let mut image = st.durable.clone();
        let mut rng = Rng::new(match pattern {
            TearPattern::Seeded(seed) | TearPattern::Blocks4K(seed) => seed,
            _ => 0,
        });
        for op in &st.unsynced {
            match pattern {
                TearPattern::KeepAll => apply(&mut image, op, None),
                TearPattern::DropAll => {}
                TearPattern::AllButFirstBytes(n) => {
                    if !matches!(op, Op::Write { offset, .. } if *offset < n) {
                        apply(&mut image, op, None)
                    }
                }
                TearPattern::Blocks4K(_) => match op {
                    Op::Write { offset, data } if rng.next_u64() & 1 == 0 => {
                        let first = *offset as usize / PHYSICAL_BLOCK * PHYSICAL_BLOCK;
                        let end = (*offset as usize + data.len()).div_ceil(PHYSICAL_BLOCK) * PHYSICAL_BLOCK;
                        let end = end.min(image.len());
                        for b in image.get_mut(first..end).unwrap_or_default() {
                            *b = rng.next_u64() as u8;
                        }
                    }
                    _ => apply(&mut image, op, None),
                },
                TearPattern::Seeded(_) => match rng.next_u64() % 3 {
                    0 => apply(&mut image, op, None),
                    1 => {}
                    _ => {
                        let mut keep = || rng.next_u64() & 1 == 1;
                        apply(&mut image, op, Some(&mut keep));
                    }
                },
            }
        }
        image
    }

    /// The storage as a new open of the file would find it without a power
    /// cut: the same live image (the page cache, failed syncs' writes
    /// included) and the same durable image and unsynced writes. Fails while a
    /// [`CrashStorage`] on it is still open (drop the store first, as the
    /// file lock would demand) and after a power cut (use [`crash`](Self::crash)).
    pub fn reopen(&self) -> io::Result<CrashStorage> {
        let mut st = lock(&self.state);
        if st.powered_off {
            return Err(power_off());
        }
        if st.open > 0 {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "the storage is still open"));
        }
        st.open += 1;
        Ok(CrashStorage { live: Arc::clone(&self.live), state: Arc::clone(&self.state), generation: st.generation })
    }

    /// Kills the process now (no sync; the power stays on) and returns the
    /// storage a new process opening the file would get: the same live image
    /// (every write so far sits in the page cache, failed syncs' writes
    /// included), durable image, unsynced writes, counters and fault plan, so a
    /// later crash can still lose the dead process's unsynced writes. The old
    /// handle is dead: every write, grow or sync through it fails, so dropping
    /// its store syncs nothing.
    pub fn kill(&self) -> io::Result<CrashStorage> {
        let mut st = lock(&self.state);
        st.generation += 1;
        st.open += 1;
        Ok(CrashStorage { live: Arc::clone(&self.live), state: Arc::clone(&self.state), generation: st.generation })
    }

    /// Cuts the power now and returns the storage a reboot would find.
    pub fn crash(&self, pattern: TearPattern) -> io::Result<CrashStorage> {
        let image = self.crash_image(pattern);
        lock(&self.state).powered_off = true;
        CrashStorage::from_image(&image, self.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed sync's writes read back (the page cache keeps them) but never
    /// become durable: not by a later successful sync, not in a power cut;
    /// writes after it follow the usual rules.
    #[test]
    fn a_failed_sync_forgets_its_writes_but_keeps_them_readable() {
        let storage = CrashStorage::from_image(&[1u8; 4 * TEAR_UNIT], 1 << 20).unwrap();
        let control = storage.control();
        storage.write(0, &[2u8; TEAR_UNIT]).unwrap();
        storage.grow(5 * TEAR_UNIT as u64).unwrap();
        control.set_fault(Some(Fault::FailSync(0)));
        assert!(storage.sync().is_err());
        let read = |s: &CrashStorage, at: usize| {
            let mut b = [0u8; 1];
            // SAFETY: nothing writes `s` while this copy runs: the test's one
            // thread is here.
            unsafe { s.view().copy_to(at as u64, &mut b) };
            b[0]
        };
        assert_eq!(read(&storage, 0), 2, "the failed sync's write is readable");
        storage.write(TEAR_UNIT as u64, &[3u8; TEAR_UNIT]).unwrap();
        for pattern in [TearPattern::KeepAll, TearPattern::DropAll] {
            assert_eq!(control.crash_image(pattern)[0], 1, "{pattern:?}: the failed sync's write persisted");
        }
        assert_eq!(control.crash_image(TearPattern::KeepAll)[TEAR_UNIT], 3);
        storage.sync().unwrap();
        let durable = control.durable_image();
        assert_eq!(durable.len(), 5 * TEAR_UNIT, "the grow stays pending and persists");
        assert_eq!((durable[0], durable[TEAR_UNIT]), (1, 3), "a later sync persisted the forgotten write");
        assert_eq!(read(&storage, 0), 2);
        // A second open sees the live image, forgotten write included.
        assert_eq!(control.reopen().err().map(|e| e.kind()), Some(io::ErrorKind::WouldBlock));
        drop(storage);
        let again = control.reopen().unwrap();
        assert_eq!((read(&again, 0), read(&again, TEAR_UNIT)), (2, 3));
        assert_eq!(again.control().crash_image(TearPattern::KeepAll)[0], 1);
    }
}
