//! 0.2 parity: code written against 0.2's names and traits, ported the way
//! `docs/coming-from-0.2.md` says, works on the transactional store.

use mappedpages::compat::{
    BulkPageAllocator, MappedPage, MappedPageError, MappedPageExt, PageAllocator, PageHandle, PageHandleMut,
    PageSource, Pager, ProtectedPageId, SubPageAllocator, SubPageId,
};
use mappedpages::{Error, Options, PageId, Store};

const PAGE: usize = 4096;

/// Generic 0.2-style code: allocate `n` handles, write through `get_mut`, read
/// back through `get`, free half in bulk.
fn exercise<A, H>(allocator: &mut A, n: usize) -> Result<Vec<H>, Error>
where
    A: BulkPageAllocator<H, Error = Error>,
    H: Copy + PageHandleMut<A, Error = Error>,
{
    let ids = allocator.alloc_bulk(n)?;
    for (i, id) in ids.iter().enumerate() {
        id.get_bytes_mut(allocator)?.as_bytes_mut()[0] = i as u8 + 1;
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(id.get(allocator)?.as_bytes()[0], i as u8 + 1);
    }
    let (gone, kept) = ids.split_at(n / 2);
    allocator.free_bulk(gone.to_vec())?;
    let one = PageAllocator::alloc(allocator)?;
    PageAllocator::free(allocator, one)?;
    Ok(kept.to_vec())
}

#[test]
fn compat_traits_drive_pages_and_subpages_alike() {
    let dir = tempfile::tempdir().unwrap();
    let pager = Pager::<PAGE>::create(dir.path().join("traits.db")).unwrap();
    let mut w = pager.begin_write().unwrap();
    let pages: Vec<PageId> = exercise(&mut w, 10).unwrap();
    let subs = SubPageAllocator::<PAGE, 256>::create(&mut w).unwrap();
    let sub_ids: Vec<SubPageId<PAGE, 256>> = exercise(&mut subs.bind(&mut w), 40).unwrap();
    w.commit().unwrap();

    let r = pager.begin_read().unwrap();
    for (i, &id) in pages.iter().enumerate() {
        assert_eq!(r.page(id).unwrap()[0], (i + 5) as u8 + 1);
    }
    for (i, &id) in sub_ids.iter().enumerate() {
        assert_eq!(subs.get(&r, id).unwrap()[0], (i + 20) as u8 + 1);
    }
    // 5 pages kept, the directory root, 20 sub-pages on 2 parents of 16 slots.
    assert_eq!(pager.page_count(), 5 + 1 + 2);
}

#[test]
fn compat_page_handle_get_and_get_mut_on_concrete_types() {
    let dir = tempfile::tempdir().unwrap();
    let pager = Pager::<PAGE>::create(dir.path().join("handles.db")).unwrap();
    let mut w = pager.begin_write().unwrap();
    let id: PageId = PageAllocator::alloc(&mut w).unwrap();
    id.get_mut(&mut w).unwrap().as_bytes_mut()[0] = 9;
    // `PageId::get()` (the number) shadows the trait's `get`: name the trait.
    assert_eq!(PageHandle::get(&id, &w).unwrap()[0], 9);
    let subs = SubPageAllocator::<PAGE, 1024>::create(&mut w).unwrap();
    let mut bound = subs.bind(&mut w);
    let sub: SubPageId<PAGE, 1024> = PageAllocator::alloc(&mut bound).unwrap();
    sub.get_mut(&mut bound).unwrap()[3] = 4;
    assert_eq!(sub.get(&bound).unwrap()[3], 4);
    assert_eq!(sub.get(&bound).unwrap().len(), 1024);
    PageAllocator::free(&mut bound, sub).unwrap();
    assert!(matches!(sub.get(&bound), Err(Error::NotAllocated(_))));
    bound.txn().free(id).unwrap();
    w.commit().unwrap();
    assert_eq!(pager.page_count(), 1); // the directory root
}

#[test]
fn compat_aliases_keep_0_2_code_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aliases.db");
    let pager: Pager<PAGE> = Pager::create(&path).unwrap();
    assert!(matches!(Pager::<PAGE>::create(&path), Err(MappedPageError::AlreadyExists(_))));
    let mut w = pager.begin_write().unwrap();
    // alloc_protected → alloc; ProtectedPageWriter::page_mut + commit → page_mut + commit.
    let protected: ProtectedPageId = w.alloc().unwrap();
    w.page_mut(protected).unwrap().as_bytes_mut()[..3].copy_from_slice(b"abc");
    w.commit().unwrap();
    // Dropping a write transaction discards, as dropping the writer did.
    let mut w = pager.begin_write().unwrap();
    w.page_mut(protected).unwrap()[0] = b'X';
    drop(w);
    assert_eq!(pager.page_size(), PAGE);
    assert_eq!(pager.page_count(), 1);
    drop(pager);
    let pager = Pager::<PAGE>::open(&path).unwrap();
    let r = pager.begin_read().unwrap();
    let page: &MappedPage = r.page(protected).unwrap();
    assert_eq!(&page.as_bytes()[..3], b"abc");
    assert_eq!(page.len(), PAGE);
    assert!(!page.is_empty());
    assert!(matches!(Pager::<PAGE>::open(&path), Err(MappedPageError::Locked { .. })));
    drop(r);
    drop(pager);
    assert!(matches!(Pager::<1024>::open(&path), Err(MappedPageError::PageSizeMismatch { .. })));
}

#[test]
fn compat_counts_and_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::<PAGE>::create(dir.path().join("counts.db")).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(40).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap().fill(1);
    }
    w.commit().unwrap();
    let mut w = store.begin_write().unwrap();
    w.free_bulk(&ids[10..30]).unwrap();
    w.commit().unwrap();
    assert_eq!(store.page_count(), 20);
    assert_eq!(store.free_page_count(), store.stats().free_pages);
    let r = store.begin_read().unwrap();
    let listed: Vec<PageId> = r.iter_allocated_pages().map(|id| id.unwrap()).collect();
    let expected: Vec<PageId> = ids[..10].iter().chain(&ids[30..]).copied().collect();
    assert_eq!(listed, expected);
    let protected: Vec<PageId> = r.iter_allocated_protected_pages().map(|id| id.unwrap()).collect();
    assert_eq!(protected, expected);
    // A later commit frees space (the freed pages return once no reader holds them).
    drop(r);
    let mut w = store.begin_write().unwrap();
    w.alloc().unwrap();
    w.commit().unwrap();
    assert!(store.free_page_count() > 0);
}

#[test]
fn compat_free_bulk_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::<PAGE>::create(dir.path().join("bulk.db")).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = BulkPageAllocator::<PageId>::alloc_bulk(&mut w, 5).unwrap();
    w.commit().unwrap();
    let mut w = store.begin_write().unwrap();
    let bad = PageId::from_raw(77);
    let err = BulkPageAllocator::free_bulk(&mut w, vec![ids[0], ids[1], bad]).unwrap_err();
    assert!(matches!(err, Error::OutOfRange(id) if id == bad));
    let err = BulkPageAllocator::free_bulk(&mut w, vec![ids[2], ids[2]]).unwrap_err();
    assert!(matches!(err, Error::DoubleFree(_)));
    assert!(ids.iter().all(|&id| w.contains(id).unwrap()));
    w.commit().unwrap();
    assert_eq!(store.page_count(), 5);
}

#[test]
fn compat_page_source_reads_both_transaction_kinds() {
    fn sum<const P: usize>(src: &impl PageSource<P>, ids: &[PageId]) -> u64 {
        ids.iter().map(|&id| u64::from(src.read_page(id).unwrap()[0])).sum()
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::<PAGE>::create(dir.path().join("source.db")).unwrap();
    let mut w = store.begin_write().unwrap();
    let ids = w.alloc_bulk(3).unwrap();
    for &id in &ids {
        w.page_mut(id).unwrap()[0] = 2;
    }
    assert_eq!(sum(&w, &ids), 6);
    assert!(w.is_allocated(ids[0]).unwrap());
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    assert_eq!(sum(&r, &ids), 6);
    assert!(!r.is_allocated(PageId::from_raw(99)).unwrap());
}

/// 0.2 grew the file on demand and remapped; views now survive growth: a page
/// slice taken before the file outgrows its mapping stays valid and unchanged.
#[test]
fn compat_reader_slices_survive_file_growth() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::default().reserve(1 << 20);
    let store = Store::<PAGE>::create_with(dir.path().join("grow.db"), options).unwrap();
    let mut w = store.begin_write().unwrap();
    let id = w.alloc().unwrap();
    w.page_mut(id).unwrap().fill(0x5A);
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    let held: &[u8] = r.page(id).unwrap();
    let len_before = store.stats().physical_pages;
    for _ in 0..4 {
        let mut w = store.begin_write().unwrap();
        for id in w.alloc_bulk(512).unwrap() {
            w.page_mut(id).unwrap().fill(0xC3);
        }
        w.commit().unwrap();
    }
    assert!(store.stats().physical_pages * PAGE as u64 > 4 << 20, "the file did not outgrow the reservation");
    assert!(store.stats().physical_pages > len_before);
    assert!(held.iter().all(|&b| b == 0x5A));
    assert!(store.verify().unwrap().is_clean());
}
