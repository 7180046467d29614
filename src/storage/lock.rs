//! Who holds a store file's lock, asked when taking it failed.
//!
//! `File::try_lock` and `try_lock_shared` say only "would block". The holder's
//! kind follows from which lock we wanted and whether a shared one can still
//! be had; its pid only from the platform: on Linux, `/proc/locks` lists every
//! `flock` lock (the kind std's file locks take there) with the holder's pid
//! and the file's device and inode.

use std::fs::File;

use crate::error::LockHolder;

/// Who holds `file`'s lock, which we failed to take (`exclusive`: the
/// exclusive one). Takes and drops a shared lock on `file` to tell a writer
/// from readers when the platform does not say.
pub(crate) fn lock_holder(file: &File, exclusive: bool) -> LockHolder {
    #[cfg(target_os = "linux")]
    if let Some(holder) = from_proc_locks(file) {
        return holder;
    }
    probe(file, exclusive)
}

/// Who holds the lock, without the platform's help: a shared lock can still be
/// had only if readers (no writer) hold it; no pid.
fn probe(file: &File, exclusive: bool) -> LockHolder {
    if exclusive && file.try_lock_shared().is_ok() {
        let _ = file.unlock();
        LockHolder::ReadOnly { pid: None }
    } else {
        LockHolder::Writer { pid: None }
    }
}

/// The holder `/proc/locks` names for `file`: a writer's lock before a
/// reader's, `None` when the file is not listed (or `/proc` is not mounted).
#[cfg(target_os = "linux")]
fn from_proc_locks(file: &File) -> Option<LockHolder> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    holder_in(&table, meta.dev(), meta.ino())
}

/// The holder of the `flock` lock on (`dev`, `ino`) in a `/proc/locks` text:
/// lines `N: FLOCK ADVISORY WRITE|READ PID MAJ:MIN:INODE START END` (major and
/// minor in hex, the inode in decimal); waiters (`N: -> …`) are skipped.
#[cfg(target_os = "linux")]
fn holder_in(table: &str, dev: u64, ino: u64) -> Option<LockHolder> {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let mut reader = None;
    for line in table.lines() {
        let mut fields = line.split_whitespace().skip(1);
        let (Some("FLOCK"), Some(_), Some(kind), Some(pid), Some(file)) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let mut parts = file.split(':');
        let (Some(maj), Some(min), Some(inode)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let same = u64::from_str_radix(maj, 16).ok() == Some(major)
            && u64::from_str_radix(min, 16).ok() == Some(minor)
            && inode.parse::<u64>().ok() == Some(ino);
        if !same {
            continue;
        }
        let pid = pid.parse::<u32>().ok();
        match kind {
            "WRITE" => return Some(LockHolder::Writer { pid }),
            "READ" => reader = reader.or(Some(LockHolder::ReadOnly { pid })),
            _ => {}
        }
    }
    reader
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_tells_a_writer_from_readers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let open = || File::options().read(true).write(true).create(true).truncate(false).open(&path).unwrap();
        let (holder, asker) = (open(), open());
        holder.lock_shared().unwrap();
        assert_eq!(probe(&asker, true), LockHolder::ReadOnly { pid: None });
        holder.unlock().unwrap();
        holder.try_lock().expect("the probe let go of its shared lock");
        assert_eq!(probe(&asker, true), LockHolder::Writer { pid: None });
        assert_eq!(probe(&asker, false), LockHolder::Writer { pid: None });
    }

    #[cfg(target_os = "linux")]
    proptest::proptest! {
        #[test]
        fn hostile_proc_locks_text_never_panics(text in "([0-9]: (-> )?(FLOCK|POSIX|x) +ADVISORY +(READ|WRITE|x) [0-9a-z]{0,3} (fd|fe|zz):(01|02|x):[0-9a-z]{0,3} 0 EOF\n){0,6}", ino in 0u64..50) {
            let _ = holder_in(&text, 0xfd01, ino);
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn proc_locks_lines_name_the_holder() {
        // dev 0xfd01 is major 0xfd, minor 0x01.
        let table = "1: POSIX  ADVISORY  WRITE 7 fd:01:42 0 EOF\n\
                     2: FLOCK  ADVISORY  READ  11 fd:01:42 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 12 fd:01:43 0 EOF\n\
                     4: -> FLOCK  ADVISORY  WRITE 13 fd:01:42 0 EOF\n";
        assert_eq!(holder_in(table, 0xfd01, 42), Some(LockHolder::ReadOnly { pid: Some(11) }));
        assert_eq!(holder_in(table, 0xfd01, 43), Some(LockHolder::Writer { pid: Some(12) }));
        assert_eq!(holder_in(table, 0xfd02, 43), None);
    }
}
