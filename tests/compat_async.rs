//! Feature `async`: whole transactions run on tokio's blocking pool, so the
//! runtime's own threads keep running other tasks during a commit.
#![cfg(feature = "async")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mappedpages::{AsyncStore, Error, PageId, Store};

const PAGE: usize = 4096;

fn store(dir: &tempfile::TempDir) -> AsyncStore<PAGE> {
    AsyncStore::new(Store::<PAGE>::create(dir.path().join("async.db")).unwrap())
}

/// One runtime thread only: if the commit ran on it, the ticker could not run
/// until the commit was over.
#[tokio::test(flavor = "current_thread")]
async fn async_commit_does_not_block_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let ticks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (ticks, stop) = (Arc::clone(&ticks), Arc::clone(&stop));
        tokio::spawn(async move {
            while stop.load(Ordering::Acquire) == 0 {
                ticks.fetch_add(1, Ordering::AcqRel);
                tokio::task::yield_now().await;
            }
        })
    };
    let seen = Arc::clone(&ticks);
    let (during, version) = store
        .write(move |w| {
            let at_start = seen.load(Ordering::Acquire);
            // A big transaction: 4 MiB of fresh pages.
            for (i, id) in w.alloc_bulk(1024)?.into_iter().enumerate() {
                w.page_mut(id)?.fill(i as u8 | 1);
            }
            // Still inside the transaction: the ticker must get to run. The
            // bound only turns a blocked runtime into a failure instead of a hang.
            let deadline = Instant::now() + Duration::from_secs(60);
            while seen.load(Ordering::Acquire) < at_start + 100 && Instant::now() < deadline {
                std::thread::yield_now();
            }
            Ok((at_start, seen.load(Ordering::Acquire)))
        })
        .await
        .unwrap();
    let after = ticks.load(Ordering::Acquire);
    stop.store(1, Ordering::Release);
    ticker.await.unwrap();
    assert!(during.1 > during.0, "the ticker did not advance while the transaction ran");
    assert!(after >= during.1);
    assert_eq!(version.get(), 1);
    assert_eq!(store.store().page_count(), 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_alloc_free_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let ids = store.alloc_async(10).await.unwrap();
    assert_eq!(ids.len(), 10);
    let (_, v) = store
        .write({
            let ids = ids.clone();
            move |w| {
                for &id in &ids {
                    w.page_mut(id)?.fill(id.get() as u8 + 1);
                }
                Ok(())
            }
        })
        .await
        .unwrap();
    let sum = store
        .read(move |r| {
            assert_eq!(r.version(), v);
            r.ids().map(|id| Ok(u64::from(r.page(id?)?[0]))).sum::<Result<u64, Error>>()
        })
        .await
        .unwrap();
    assert_eq!(sum, (1..=10).sum::<u64>());
    let v = store.free_async(ids[..4].to_vec()).await.unwrap();
    assert_eq!(store.store().version(), v);
    assert_eq!(store.store().page_count(), 6);
    // All or nothing: one id already freed fails the whole call.
    let err = store.free_async(vec![ids[5], ids[0]]).await.unwrap_err();
    assert!(matches!(err, Error::DoubleFree(id) if id == ids[0]), "{err}");
    assert_eq!(store.store().page_count(), 6);
    store.sync_async().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_concurrent_writes_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |w| {
                        let id = w.alloc()?;
                        w.page_mut(id)?[0] = i;
                        Ok(id)
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().1.get());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<u64>>());
    assert_eq!(store.store().page_count(), 8);
}

#[tokio::test(flavor = "current_thread")]
async fn async_failed_closure_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let err = store
        .write(|w| {
            w.alloc_bulk(5)?;
            w.free(PageId::from_raw(1_000))?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutOfRange(_)), "{err}");
    assert_eq!(store.store().version().get(), 0);
    assert_eq!(store.store().page_count(), 0);
}

#[tokio::test(flavor = "current_thread")]
#[should_panic(expected = "boom")]
async fn async_panic_in_closure_reaches_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let _ = store.write(|_| -> Result<(), Error> { panic!("boom") }).await;
}
