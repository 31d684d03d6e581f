//! One trait over the two sync APIs, so every `sync` workload is written once.
//!
//! [`SyncRt`] extends [`Rt`] with the operations the workloads time. Both
//! impls are produced by the same macro from the same text; only the module
//! path differs (`perf_runtime::sync` or `tokio::sync`), so any gap between
//! the two columns comes from the primitives and their runtime, not from the
//! bench code.

use std::future::Future;

use crate::rt::{Perf, Rt, Tokio};

/// The sync operations the `sync` workloads need, on one runtime.
///
/// Every async operation is one complete use of the primitive (lock and
/// unlock, acquire and release, one send), so a workload's loop counts
/// operations directly. Failures (a closed channel or semaphore) come back
/// as `false` / `None` for the workload to report; nothing here panics.
pub trait SyncRt: Rt {
    /// `Mutex<u64>`.
    type Mutex: Send + Sync + 'static;
    /// `RwLock<u64>`.
    type RwLock: Send + Sync + 'static;
    /// `Semaphore`.
    type Semaphore: Send + Sync + 'static;
    /// Sending half of a bounded `mpsc` channel of `u64`.
    type Tx: Clone + Send + Sync + 'static;
    /// Receiving half of a bounded `mpsc` channel of `u64`.
    type Rx: Send + 'static;
    /// Sending half of a `oneshot` channel of `T`.
    type OnceTx<T: Send + 'static>: Send + 'static;
    /// Receiving half of a `oneshot` channel of `T`.
    type OnceRx<T: Send + 'static>: Send + 'static;

    /// Runs `f` with the cooperative budget off, so no operation in it is
    /// told to yield (`task::unconstrained` on tokio, `task::coop::unconstrained`
    /// on perf_runtime).
    fn unconstrained<F: Future + Send>(f: F) -> impl Future<Output = F::Output> + Send;

    /// A mutex holding `value`.
    fn mutex(value: u64) -> Self::Mutex;
    /// Locks `m`, adds one to the value, unlocks.
    fn mutex_bump(m: &Self::Mutex) -> impl Future<Output = ()> + Send + '_;
    /// Locks `m` and returns the value.
    fn mutex_get(m: &Self::Mutex) -> impl Future<Output = u64> + Send + '_;

    /// A read-write lock holding `value`.
    fn rwlock(value: u64) -> Self::RwLock;
    /// Takes a read lock, reads the value, releases it.
    fn rwlock_read(l: &Self::RwLock) -> impl Future<Output = u64> + Send + '_;
    /// Takes the write lock, adds one to the value, releases it.
    fn rwlock_bump(l: &Self::RwLock) -> impl Future<Output = ()> + Send + '_;

    /// A semaphore with `permits` permits.
    fn semaphore(permits: usize) -> Self::Semaphore;
    /// Acquires one permit and releases it; `false` if the semaphore is
    /// closed.
    fn semaphore_cycle(s: &Self::Semaphore) -> impl Future<Output = bool> + Send + '_;
    /// Permits available right now.
    fn semaphore_available(s: &Self::Semaphore) -> usize;

    /// A bounded `mpsc` channel with room for `capacity` messages.
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx);
    /// Sends `value`, waiting for room; `false` if the receiver is gone.
    fn send(tx: &Self::Tx, value: u64) -> impl Future<Output = bool> + Send + '_;
    /// Receives the next message; `None` once every sender is gone and the
    /// channel is empty.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_;

    /// A `oneshot` channel.
    fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>);
    /// Sends `value`; `false` if the receiver is gone.
    fn oneshot_send<T: Send + 'static>(tx: Self::OnceTx<T>, value: T) -> bool;
    /// Waits for the value; `None` if the sender was dropped unsent.
    fn oneshot_recv<T: Send + 'static>(
        rx: Self::OnceRx<T>,
    ) -> impl Future<Output = Option<T>> + Send;
}

/// Implements [`SyncRt`] for `$rt` with the primitives of module `$s`
/// (brought into scope under that name by the caller) and the runtime's
/// `unconstrained`. The body is the same text for both runtimes.
macro_rules! impl_sync_rt {
    ($rt:ty, $s:ident, $unconstrained:path) => {
        impl SyncRt for $rt {
            type Mutex = $s::Mutex<u64>;
            type RwLock = $s::RwLock<u64>;
            type Semaphore = $s::Semaphore;
            type Tx = $s::mpsc::Sender<u64>;
            type Rx = $s::mpsc::Receiver<u64>;
            type OnceTx<T: Send + 'static> = $s::oneshot::Sender<T>;
            type OnceRx<T: Send + 'static> = $s::oneshot::Receiver<T>;

            fn unconstrained<F: Future + Send>(f: F) -> impl Future<Output = F::Output> + Send {
                $unconstrained(f)
            }

            fn mutex(value: u64) -> Self::Mutex {
                $s::Mutex::new(value)
            }

            fn mutex_bump(m: &Self::Mutex) -> impl Future<Output = ()> + Send + '_ {
                async move {
                    *m.lock().await += 1;
                }
            }

            fn mutex_get(m: &Self::Mutex) -> impl Future<Output = u64> + Send + '_ {
                async move { *m.lock().await }
            }

            fn rwlock(value: u64) -> Self::RwLock {
                $s::RwLock::new(value)
            }

            fn rwlock_read(l: &Self::RwLock) -> impl Future<Output = u64> + Send + '_ {
                async move { *l.read().await }
            }

            fn rwlock_bump(l: &Self::RwLock) -> impl Future<Output = ()> + Send + '_ {
                async move {
                    *l.write().await += 1;
                }
            }

            fn semaphore(permits: usize) -> Self::Semaphore {
                $s::Semaphore::new(permits)
            }

            fn semaphore_cycle(s: &Self::Semaphore) -> impl Future<Output = bool> + Send + '_ {
                async move { s.acquire().await.is_ok() }
            }

            fn semaphore_available(s: &Self::Semaphore) -> usize {
                s.available_permits()
            }

            fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
                $s::mpsc::channel(capacity)
            }

            fn send(tx: &Self::Tx, value: u64) -> impl Future<Output = bool> + Send + '_ {
                async move { tx.send(value).await.is_ok() }
            }

            fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
                rx.recv()
            }

            fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>) {
                $s::oneshot::channel()
            }

            fn oneshot_send<T: Send + 'static>(tx: Self::OnceTx<T>, value: T) -> bool {
                tx.send(value).is_ok()
            }

            fn oneshot_recv<T: Send + 'static>(
                rx: Self::OnceRx<T>,
            ) -> impl Future<Output = Option<T>> + Send {
                async move { rx.await.ok() }
            }
        }
    };
}

use perf_runtime::sync as perf_sync;
use tokio::sync as tokio_sync;

impl_sync_rt!(Perf, perf_sync, perf_runtime::task::coop::unconstrained);
impl_sync_rt!(Tokio, tokio_sync, tokio::task::unconstrained);
