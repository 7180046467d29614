//! mappedpages: one store file; page index `i` is the `i`-th `PageId` handed
//! out by `alloc_bulk` (kept in a Vec, as an application would keep its ids).
//! Default options: every commit is durable.

use std::path::{Path, PathBuf};

use mappedpages::{PageId, Store};

use super::{Engine, PAGE, Res, fill_page, page_template, touch};

pub struct Mp {
    store: Store<PAGE>,
    ids: Vec<PageId>,
    buf: Vec<u8>,
}

fn file(dir: &Path) -> PathBuf {
    dir.join("store.mp")
}

fn err(e: mappedpages::Error) -> super::BoxError {
    format!("mappedpages: {e:?}").into()
}

impl Mp {
    pub fn create(dir: &Path) -> Res<Self> {
        let store = Store::<PAGE>::create(file(dir)).map_err(err)?;
        Ok(Mp { store, ids: Vec::new(), buf: page_template(4) })
    }

    pub fn open(dir: &Path) -> Res<Self> {
        let store = Store::<PAGE>::open(file(dir)).map_err(err)?;
        Ok(Mp { store, ids: Vec::new(), buf: Vec::new() })
    }

    pub fn open_and_begin_read(dir: &Path) -> Res<Self> {
        let store = Store::<PAGE>::open(file(dir)).map_err(err)?;
        {
            let _r = store.begin_read().map_err(err)?;
        }
        Ok(Mp { store, ids: Vec::new(), buf: Vec::new() })
    }
}

impl Engine for Mp {
    fn load(&mut self, start: u64, count: u64) -> Res<()> {
        debug_assert_eq!(start, self.ids.len() as u64);
        let mut w = self.store.begin_write().map_err(err)?;
        let ids = w.alloc_bulk(count as usize).map_err(err)?;
        for (j, &id) in ids.iter().enumerate() {
            fill_page(&mut self.buf, start + j as u64, 0);
            w.write(id, &self.buf).map_err(err)?;
        }
        w.commit().map_err(err)?;
        self.ids.extend(ids);
        Ok(())
    }

    fn overwrite(&mut self, indices: &[u64], stamp: u64) -> Res<()> {
        let mut w = self.store.begin_write().map_err(err)?;
        for &i in indices {
            fill_page(&mut self.buf, i, stamp);
            w.write(self.ids[i as usize], &self.buf).map_err(err)?;
        }
        w.commit().map_err(err)?;
        Ok(())
    }

    fn snapshot(&mut self, name: &str) -> Res<bool> {
        self.store.create_snapshot(name).map_err(err)?;
        Ok(true)
    }

    fn read_xor(&self, indices: &[u64]) -> Res<u64> {
        let r = self.store.begin_read().map_err(err)?;
        let mut acc = 0u64;
        for &i in indices {
            let page = r.page(self.ids[i as usize]).map_err(err)?;
            acc ^= touch(page);
        }
        Ok(acc)
    }
}
