//! `pin!`: both forms, and resuming a pinned future across `select!` calls.

use perf_runtime::runtime::Builder;
use perf_runtime::sync::oneshot;
use std::future::Future;
use std::pin::Pin;

#[test]
fn pin_names_and_let_forms() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let a = async { 1 };
        let b = async { 2 };
        perf_runtime::pin!(a, b);
        let _pinned: &mut Pin<&mut _> = &mut a;
        assert_eq!(a.as_mut().await + b.as_mut().await, 3);
        perf_runtime::pin! {
            let c = async { 3 };
            let d = async { 4 };
        }
        assert_eq!(c.await + d.await, 7);
    });
}

#[test]
fn pinned_future_is_resumed_not_restarted_across_selects() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (tx, rx) = oneshot::channel::<u32>();
        let starts = std::cell::Cell::new(0);
        let fut = async {
            starts.set(starts.get() + 1);
            rx.await.unwrap()
        };
        perf_runtime::pin!(fut);
        let mut tx = Some(tx);
        let mut rounds = 0;
        let v = loop {
            rounds += 1;
            perf_runtime::select! {
                biased;
                v = &mut fut => break v,
                () = perf_runtime::task::yield_now() => {
                    if rounds == 3 {
                        tx.take().unwrap().send(9).unwrap();
                    }
                }
            }
        };
        assert_eq!(v, 9);
        assert_eq!(starts.get(), 1, "the pinned future ran from its start once");
        fn assert_future<F: Future>(_: &F) {}
        assert_future(&fut);
    });
}
