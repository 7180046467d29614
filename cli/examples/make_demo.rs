//! Makes the files the README's transcript of the `mappedpages` tool runs
//! on: `store.db` (100 pages, a snapshot, a history window, some rewrites)
//! and `old-0.2.bin` (a file written by mappedpages 0.2.0).
//!
//! `cargo run -p mappedpages-cli --example make_demo -- DIR [PAGES]`
//!
//! With `PAGES`, also `big-0.2.bin`: a 0.2 file of that many 4 KiB data pages
//! (0.2 holds at most 32 544 of them), to time `mappedpages upgrade` on.

use mappedpages::{HistoryWindow, PageId, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: make_demo DIR")?);
    std::fs::create_dir_all(&dir)?;
    let store = Store::<4096>::create(dir.join("store.db"))?;
    let mut w = store.begin_write()?;
    for id in w.alloc_bulk(100)? {
        w.page_mut(id)?.fill(id.get() as u8);
    }
    w.page_mut(PageId::from_raw(7))?[..12].copy_from_slice(b"hello, pages");
    w.commit()?;
    store.create_snapshot("nightly")?;
    store.set_history(HistoryWindow::versions(3))?;
    for round in 0..4u8 {
        let mut w = store.begin_write()?;
        for id in 40..60 {
            w.page_mut(PageId::from_raw(id))?.fill(round);
        }
        w.commit()?;
    }
    let mut w = store.begin_write()?;
    w.free_bulk(&(80..90).map(PageId::from_raw).collect::<Vec<_>>())?;
    w.commit()?;
    drop(store);

    let mut pager = mappedpages02::Pager::<4096>::create(dir.join("old-0.2.bin"))?;
    for id in pager.alloc_bulk(5)? {
        id.get_mut(&mut pager)?.as_bytes_mut().fill(id.0 as u8);
    }
    let p = pager.alloc_protected()?;
    let mut writer = p.get_mut(&mut pager)?;
    writer.page_mut().as_bytes_mut()[..9].copy_from_slice(b"protected");
    writer.commit()?;
    drop(pager);

    if let Some(pages) = std::env::args().nth(2) {
        let pages: usize = pages.parse()?;
        let mut pager = mappedpages02::Pager::<4096>::create(dir.join("big-0.2.bin"))?;
        for id in pager.alloc_bulk(pages)? {
            let page = id.get_mut(&mut pager)?.as_bytes_mut();
            for (i, b) in page.iter_mut().enumerate() {
                *b = (id.0 as u8) ^ (i as u8);
            }
        }
    }
    Ok(())
}
