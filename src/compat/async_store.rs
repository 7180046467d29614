//! `AsyncStore`: write transactions for async code, run on tokio's blocking pool.

use std::io;
use std::sync::Arc;

use tokio::task::{JoinError, spawn_blocking};

use crate::error::{Error, Result};
use crate::ids::{PageId, Version};
use crate::store::Store;
use crate::txn::{ReadTxn, WriteTxn};

/// A [`Store`] for async code (feature `async`).
///
/// A commit writes and syncs the file, which can take milliseconds; done on a
/// runtime thread it would stall every task scheduled there (0.2's
/// `alloc_async` did exactly that). `AsyncStore` runs each whole transaction,
/// commit included, on tokio's blocking pool with
/// [`spawn_blocking`](tokio::task::spawn_blocking), so the runtime's threads
/// keep running other tasks meanwhile. Writers still take turns: a transaction
/// waits (on the blocking pool) for the one before it.
///
/// The methods must be called from inside a tokio runtime. A transaction runs to
/// its end (commit or error) even if the future awaiting it is dropped. A panic
/// inside the closure is resumed in the awaiting task.
///
/// Cloning is cheap (an [`Arc`]); [`store`](Self::store) gives the synchronous
/// store for reads, which never block.
///
/// ```
/// use mappedpages::{AsyncStore, Store};
/// # fn main() -> Result<(), mappedpages::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("s.db");
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let store = AsyncStore::new(Store::<4096>::create(&path)?);
///     let (id, version) = store
///         .write(|w| {
///             let id = w.alloc()?;
///             w.page_mut(id)?[0] = 7;
///             Ok(id)
///         })
///         .await?;
///     assert_eq!(store.store().begin_read()?.page(id)?[0], 7);
///     assert_eq!(store.store().version(), version);
///     Ok(())
/// })
/// # }
/// ```
pub struct AsyncStore<const P: usize> {
    store: Arc<Store<P>>,
}

impl<const P: usize> Clone for AsyncStore<P> {
    fn clone(&self) -> Self {
        AsyncStore { store: Arc::clone(&self.store) }
    }
}

impl<const P: usize> AsyncStore<P> {
    /// Wraps a store.
    pub fn new(store: Store<P>) -> Self {
        AsyncStore { store: Arc::new(store) }
    }

    /// Wraps a store that is already shared.
    pub fn from_arc(store: Arc<Store<P>>) -> Self {
        AsyncStore { store }
    }

    /// The shared store, for reads and anything synchronous.
    pub fn store(&self) -> &Arc<Store<P>> {
        &self.store
    }

    /// Runs `f` in a write transaction and commits it, all on the blocking
    /// pool; returns what `f` returned and the new version. If `f` fails, the
    /// transaction is dropped (nothing changes) and its error returned.
    pub async fn write<R, F>(&self, f: F) -> Result<(R, Version)>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteTxn<'_, P>) -> Result<R> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        blocking(move || {
            let mut txn = store.begin_write()?;
            let out = f(&mut txn)?;
            let version = txn.commit()?;
            Ok((out, version))
        })
        .await
    }

    /// Runs `f` on a read transaction, on the blocking pool (for long scans;
    /// a short read can use [`store`](Self::store) directly, it never waits).
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&ReadTxn<'_, P>) -> Result<R> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        blocking(move || f(&store.begin_read()?)).await
    }

    /// Allocates `n` pages in one committed transaction (0.2's `alloc_async`
    /// and its bulk variant).
    pub async fn alloc_async(&self, n: usize) -> Result<Vec<PageId>> {
        Ok(self.write(move |w| w.alloc_bulk(n)).await?.0)
    }

    /// Frees `ids` in one committed transaction, all or none (0.2's
    /// `free_async` and its bulk variant); returns the new version.
    pub async fn free_async(&self, ids: Vec<PageId>) -> Result<Version> {
        Ok(self.write(move |w| w.free_bulk(&ids)).await?.1)
    }

    /// [`Store::sync`] on the blocking pool.
    pub async fn sync_async(&self) -> Result<()> {
        let store = Arc::clone(&self.store);
        blocking(move || store.sync()).await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    spawn_blocking(f).await.unwrap_or_else(|e| Err(join_error(e)))
}

fn join_error(e: JoinError) -> Error {
    if e.is_panic() {
        std::panic::resume_unwind(e.into_panic());
    }
    Error::Io { context: "running a transaction on the blocking pool", path: None, source: io::Error::other(e) }
}
