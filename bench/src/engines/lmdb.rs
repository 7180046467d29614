//! LMDB through `heed`: one unnamed database, key = u64 big-endian page
//! index, value = the 4096-byte page. Default, durable settings: no NOSYNC,
//! NOMETASYNC or WRITEMAP; each commit syncs.

use std::path::Path;

use heed::byteorder::BigEndian;
use heed::types::{Bytes, U64};
use heed::{Database, Env, EnvOpenOptions};

use super::{Engine, PAGE, Res, fill_page, page_template, touch};

type Db = Database<U64<BigEndian>, Bytes>;

pub struct Lmdb {
    env: Env,
    db: Db,
    buf: Vec<u8>,
}

/// A map big enough for `max_pages` pages: LMDB stores a 4096-byte value on
/// two 4 KiB overflow pages, and copy-on-write needs room for the old ones.
/// At least 4 GiB.
fn map_size(max_pages: u64) -> usize {
    let need = max_pages * (PAGE as u64) * 3 + (1 << 30);
    let size = need.max(4 << 30);
    (size.div_ceil(1 << 20) << 20) as usize
}

fn env(dir: &Path, max_pages: u64) -> Res<Env> {
    let mut opts = EnvOpenOptions::new();
    opts.map_size(map_size(max_pages));
    // SAFETY: the directory is ours alone and opened once at a time in this
    // process (every handle is closed with `close` before the next open).
    Ok(unsafe { opts.open(dir)? })
}

impl Lmdb {
    pub fn create(dir: &Path, max_pages: u64) -> Res<Self> {
        let env = env(dir, max_pages)?;
        let mut wtxn = env.write_txn()?;
        let db: Db = env.create_database(&mut wtxn, None)?;
        wtxn.commit()?;
        Ok(Lmdb { env, db, buf: page_template(1) })
    }

    pub fn open_and_begin_read(dir: &Path, max_pages: u64) -> Res<Self> {
        let env = env(dir, max_pages)?;
        let db = {
            let rtxn = env.read_txn()?;
            let db: Option<Db> = env.open_database(&rtxn, None)?;
            rtxn.commit()?;
            db.ok_or("lmdb: database missing")?
        };
        Ok(Lmdb { env, db, buf: Vec::new() })
    }

    /// Closes the environment for good, so the directory can be opened again.
    pub fn close(self) {
        let Lmdb { env, db, buf } = self;
        drop((db, buf));
        env.prepare_for_closing().wait();
    }
}

impl Engine for Lmdb {
    fn copy_to(&self, path: &Path) -> Res<Option<u64>> {
        let f = self.env.copy_to_path(path, heed::CompactionOption::Disabled)?;
        f.sync_all()?;
        Ok(Some(f.metadata()?.len()))
    }

    fn load(&mut self, start: u64, count: u64) -> Res<()> {
        let mut wtxn = self.env.write_txn()?;
        for i in start..start + count {
            fill_page(&mut self.buf, i, 0);
            self.db.put(&mut wtxn, &i, &self.buf)?;
        }
        wtxn.commit()?;
        Ok(())
    }

    fn overwrite(&mut self, indices: &[u64], stamp: u64) -> Res<()> {
        let mut wtxn = self.env.write_txn()?;
        for &i in indices {
            fill_page(&mut self.buf, i, stamp);
            self.db.put(&mut wtxn, &i, &self.buf)?;
        }
        wtxn.commit()?;
        Ok(())
    }

    fn read_xor(&self, indices: &[u64]) -> Res<u64> {
        let rtxn = self.env.read_txn()?;
        let mut acc = 0u64;
        for &i in indices {
            let page = self.db.get(&rtxn, &i)?.ok_or("lmdb: page missing")?;
            acc ^= touch(page);
        }
        Ok(acc)
    }
}
