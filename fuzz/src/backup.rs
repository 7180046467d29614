//! `backup_stream`: arbitrary bytes as a backup stream, decoded and applied.

use mappedpages::storage::MemoryStorage;
use mappedpages::{Error, Options, Store, verify_backup};

/// The base the incremental seeds apply to: the golden full stream.
const BASE: &[u8] = include_bytes!("../../tests/golden/backup-v1-0.mpb");

const P: usize = 1024;

/// What must hold for any input: `verify_backup` returns (no panic, no
/// unbounded allocation); as a full stream it restores into a new store, or
/// fails with nothing restored; as an incremental applied to the golden base
/// it either moves the store to exactly the stream's target (content hash,
/// clean verify) or fails and leaves the base as it was.
pub fn backup_stream(data: &[u8]) {
    let verified = verify_backup(data);
    match Store::<P>::restore_backup_on(MemoryStorage::new().unwrap(), Options::default(), data) {
        Ok(store) => {
            let info = verified.as_ref().expect("a stream that restores verifies");
            assert_eq!(store.begin_read().unwrap().content_hash(), info.content_hash);
            assert!(store.verify().unwrap().is_clean());
        }
        Err(Error::Backup(_) | Error::InvalidArgument(_)) => {}
        Err(e) => panic!("restore failed with a non-backup error: {e}"),
    }
    let base = Store::<P>::restore_backup_on(MemoryStorage::new().unwrap(), Options::default(), BASE).unwrap();
    let before = (base.version(), base.begin_read().unwrap().content_hash());
    match base.apply_backup(data) {
        Ok(report) => {
            assert!(verified.is_ok(), "a stream that applies verifies");
            assert_eq!(base.version(), report.version);
            assert_eq!(base.begin_read().unwrap().content_hash(), report.content_hash);
            assert!(base.verify().unwrap().is_clean());
        }
        Err(Error::Backup(_) | Error::InvalidArgument(_)) => {
            assert_eq!(before, (base.version(), base.begin_read().unwrap().content_hash()));
            assert!(base.verify().unwrap().is_clean());
        }
        Err(e) => panic!("apply failed with a non-backup error: {e}"),
    }
}
