//! redb: one table, key = u64 page index (redb's fixed-width integer key,
//! ordered numerically like LMDB's big-endian key), value = the 4096-byte
//! page. Default settings: `Durability::Immediate`, default cache size.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, TableDefinition};

use super::{Engine, Res, fill_page, page_template, touch};

const PAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("pages");

pub struct Redb {
    db: Database,
    buf: Vec<u8>,
}

fn file(dir: &Path) -> PathBuf {
    dir.join("store.redb")
}

impl Redb {
    pub fn create(dir: &Path) -> Res<Self> {
        let path = file(dir);
        if path.exists() {
            return Err(format!("{} exists", path.display()).into());
        }
        let db = Database::create(&path)?;
        // Create the table, so that an empty store can be opened and read.
        let wtxn = db.begin_write()?;
        wtxn.open_table(PAGES)?;
        wtxn.commit()?;
        Ok(Redb { db, buf: page_template(2) })
    }

    pub fn open(dir: &Path) -> Res<Self> {
        Ok(Redb { db: Database::open(file(dir))?, buf: Vec::new() })
    }

    pub fn open_and_begin_read(dir: &Path) -> Res<Self> {
        let db = Database::open(file(dir))?;
        {
            let rtxn = db.begin_read()?;
            rtxn.open_table(PAGES)?;
        }
        Ok(Redb { db, buf: Vec::new() })
    }
}

impl Engine for Redb {
    fn load(&mut self, start: u64, count: u64) -> Res<()> {
        let wtxn = self.db.begin_write()?;
        {
            let mut table = wtxn.open_table(PAGES)?;
            for i in start..start + count {
                fill_page(&mut self.buf, i, 0);
                table.insert(i, self.buf.as_slice())?;
            }
        }
        wtxn.commit()?;
        Ok(())
    }

    /// redb's persistent savepoint: kept across restarts until deleted.
    fn snapshot(&mut self, _name: &str) -> Res<bool> {
        let wtxn = self.db.begin_write()?;
        wtxn.persistent_savepoint()?;
        wtxn.commit()?;
        Ok(true)
    }

    fn overwrite(&mut self, indices: &[u64], stamp: u64) -> Res<()> {
        let wtxn = self.db.begin_write()?;
        {
            let mut table = wtxn.open_table(PAGES)?;
            for &i in indices {
                fill_page(&mut self.buf, i, stamp);
                table.insert(i, self.buf.as_slice())?;
            }
        }
        wtxn.commit()?;
        Ok(())
    }

    fn read_xor(&self, indices: &[u64]) -> Res<u64> {
        let rtxn = self.db.begin_read()?;
        let table = rtxn.open_table(PAGES)?;
        let mut acc = 0u64;
        for &i in indices {
            let guard = table.get(i)?.ok_or("redb: page missing")?;
            acc ^= touch(guard.value());
        }
        Ok(acc)
    }
}
