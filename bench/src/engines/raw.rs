//! The raw device through the file system: the physical limit.
//!
//! One preallocated file of 4 KiB pages, page `i` at offset `i * 4096`.
//! load = sequential `write`s + `fsync`; overwrite = one `pwrite` per page +
//! one `fdatasync`; reads go through a read-only shared mmap of the file.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use memmap2::Mmap;

use super::{Engine, PAGE, Res, fill_page, page_template, touch};

/// Sequential writes go out in 1 MiB `write` calls.
const CHUNK_PAGES: usize = 256;

pub struct Raw {
    file: File,
    map: Option<Mmap>,
    pages: u64,
    buf: Vec<u8>,
    chunk: Vec<u8>,
}

impl Raw {
    pub fn create(dir: &Path) -> Res<Self> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(dir.join("raw.dat"))?;
        Ok(Raw { file, map: None, pages: 0, buf: page_template(3), chunk: Vec::with_capacity(CHUNK_PAGES * PAGE) })
    }
}

impl Engine for Raw {
    fn load(&mut self, start: u64, count: u64) -> Res<()> {
        let end = start + count;
        let mut i = start;
        while i < end {
            let n = ((end - i) as usize).min(CHUNK_PAGES);
            self.chunk.clear();
            for j in 0..n as u64 {
                fill_page(&mut self.buf, i + j, 0);
                self.chunk.extend_from_slice(&self.buf);
            }
            self.file.write_all_at(&self.chunk, i * PAGE as u64)?;
            i += n as u64;
        }
        self.file.sync_all()?;
        self.pages = self.pages.max(end);
        // Map the file read-only at its new length, once (like an engine that
        // keeps its map); the map is shared, so later pwrites show through it.
        // SAFETY: the file is ours; nobody truncates it while it is mapped.
        self.map = Some(unsafe { Mmap::map(&self.file)? });
        Ok(())
    }

    fn overwrite(&mut self, indices: &[u64], stamp: u64) -> Res<()> {
        for &i in indices {
            debug_assert!(i < self.pages);
            fill_page(&mut self.buf, i, stamp);
            self.file.write_all_at(&self.buf, i * PAGE as u64)?;
        }
        self.file.sync_data()?;
        Ok(())
    }

    fn read_xor(&self, indices: &[u64]) -> Res<u64> {
        let map = match &self.map {
            Some(m) => m,
            None => return Err("raw: nothing loaded".into()),
        };
        let mut acc = 0u64;
        for &i in indices {
            let off = i as usize * PAGE;
            acc ^= touch(&map[off..off + PAGE]);
        }
        Ok(acc)
    }
}
