//! `sync::OnceCell` and `SetError`: one initialiser runs while the others
//! wait, a cancelled or failed initialiser lets the next one run, `set`
//! reports which of the two errors applies.

use perf_runtime::runtime::Builder;
use perf_runtime::sync::{oneshot, OnceCell, SetError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn rt() -> perf_runtime::runtime::Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn concurrent_get_or_init_runs_one_initialiser() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        static CELL: OnceCell<u32> = OnceCell::const_new();
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let go_rx = Arc::new(perf_runtime::sync::Mutex::new(Some(go_rx)));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let go_rx = go_rx.clone();
            tasks.push(perf_runtime::spawn(async move {
                *CELL
                    .get_or_init(|| async move {
                        RUNS.fetch_add(1, Ordering::SeqCst);
                        // The first initialiser holds the cell until released.
                        let rx = go_rx.lock().await.take().unwrap();
                        rx.await.unwrap();
                        7
                    })
                    .await
            }));
        }
        perf_runtime::task::yield_now().await;
        go_tx.send(()).unwrap();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn set_while_initialising_is_an_initializing_error() {
    rt().block_on(async {
        let cell = Arc::new(OnceCell::new());
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let init = {
            let cell = cell.clone();
            perf_runtime::spawn(async move {
                *cell
                    .get_or_init(|| async move {
                        started_tx.send(()).unwrap();
                        release_rx.await.unwrap();
                        1
                    })
                    .await
            })
        };
        started_rx.await.unwrap();
        let err = cell.set(2).unwrap_err();
        assert!(err.is_initializing_err());
        assert!(matches!(err, SetError::InitializingError(2)));
        release_tx.send(()).unwrap();
        assert_eq!(init.await.unwrap(), 1);
        let err = cell.set(3).unwrap_err();
        assert!(err.is_already_init_err());
        assert!(err.to_string().contains("already holds a value"), "{err}");
    });
}

#[test]
fn cancelled_initialiser_lets_a_waiter_initialise() {
    rt().block_on(async {
        let cell = Arc::new(OnceCell::<&str>::new());
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let stuck = {
            let cell = cell.clone();
            perf_runtime::spawn(async move {
                cell.get_or_init(|| async move {
                    started_tx.send(()).unwrap();
                    std::future::pending::<&str>().await
                })
                .await;
            })
        };
        started_rx.await.unwrap();
        let waiter = {
            let cell = cell.clone();
            perf_runtime::spawn(async move { *cell.get_or_init(|| async { "second" }).await })
        };
        perf_runtime::task::yield_now().await;
        assert!(!cell.initialized());
        stuck.abort();
        assert!(stuck.await.unwrap_err().is_cancelled());
        assert_eq!(waiter.await.unwrap(), "second");
        assert_eq!(cell.get(), Some(&"second"));
    });
}

#[test]
fn failed_try_init_leaves_the_cell_empty() {
    rt().block_on(async {
        let cell = OnceCell::<u32>::new();
        let r = cell
            .get_or_try_init(|| async { Err::<u32, &str>("down") })
            .await;
        assert_eq!(r, Err("down"));
        assert!(!cell.initialized());
        let r = cell.get_or_try_init(|| async { Ok::<u32, &str>(4) }).await;
        assert_eq!(r, Ok(&4));
        let r = cell.get_or_try_init(|| async { Ok::<u32, &str>(5) }).await;
        assert_eq!(
            r,
            Ok(&4),
            "an initialised cell does not run the initialiser"
        );
    });
}

#[test]
fn constructors_and_ownership() {
    static PRESET: OnceCell<u8> = OnceCell::const_new_with(9);
    assert_eq!(PRESET.get(), Some(&9));
    assert!(PRESET.set(1).unwrap_err().is_already_init_err());
    let cell = OnceCell::new_with(Some(vec![1]));
    let clone = cell.clone();
    assert_eq!(cell, clone);
    assert_eq!(format!("{cell:?}"), "OnceCell { value: Some([1]) }");
    let mut cell = OnceCell::from(String::from("a"));
    cell.get_mut().unwrap().push('b');
    assert_eq!(cell.take().as_deref(), Some("ab"));
    assert_eq!(cell.get(), None);
    cell.set(String::from("c")).unwrap();
    assert_eq!(cell.into_inner().as_deref(), Some("c"));
    let empty: OnceCell<u8> = OnceCell::default();
    assert_eq!(empty.into_inner(), None);
}

#[test]
fn once_cell_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<OnceCell<String>>();
    assert_send_sync::<SetError<String>>();
}
