//! `join!` and `try_join!`: outputs in order, concurrency on one task,
//! fairness of the start position, `biased;`, early drop of completed
//! futures, and `try_join!` short-circuiting on the first error.

use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::sync::{mpsc, oneshot};
use perf_runtime::task::yield_now;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

fn rt() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// Records its name in `log` at every poll; ready after `polls` polls.
struct Logged {
    name: &'static str,
    log: Arc<Mutex<Vec<&'static str>>>,
    left: usize,
}

impl Future for Logged {
    type Output = &'static str;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        self.log.lock().unwrap().push(self.name);
        if self.left <= 1 {
            Poll::Ready(self.name)
        } else {
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn logged(name: &'static str, log: &Arc<Mutex<Vec<&'static str>>>, polls: usize) -> Logged {
    Logged {
        name,
        log: log.clone(),
        left: polls,
    }
}

#[test]
fn join_returns_outputs_in_argument_order() {
    rt().block_on(async {
        let () = perf_runtime::join!();
        let (a,) = perf_runtime::join!(async { 1 });
        let (a2, b, c) = perf_runtime::join!(async { a + 1 }, async { "b" }, async { 3.5 },);
        assert_eq!((a, a2, b, c), (1, 2, "b", 3.5));
    });
}

#[test]
fn join_runs_the_futures_concurrently_on_one_task() {
    rt().block_on(async {
        // Each side waits for the other: only concurrent polling completes.
        let (tx1, rx1) = oneshot::channel::<u32>();
        let (tx2, rx2) = oneshot::channel::<u32>();
        let left = async move {
            tx1.send(1).unwrap();
            rx2.await.unwrap()
        };
        let right = async move {
            let v = rx1.await.unwrap();
            tx2.send(v + 1).unwrap();
            v
        };
        assert_eq!(perf_runtime::join!(left, right), (2, 1));
    });
}

#[test]
fn join_rotates_the_first_polled_future() {
    rt().block_on(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        perf_runtime::join!(
            logged("a", &log, 3),
            logged("b", &log, 3),
            logged("c", &log, 3)
        );
        // Poll 1 starts at a, poll 2 at b, poll 3 at c.
        assert_eq!(
            *log.lock().unwrap(),
            ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
        );
    });
}

#[test]
fn join_biased_polls_in_written_order() {
    rt().block_on(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        perf_runtime::join!(biased; logged("a", &log, 2), logged("b", &log, 2));
        assert_eq!(*log.lock().unwrap(), ["a", "b", "a", "b"]);
    });
}

#[test]
fn join_drops_a_future_as_soon_as_it_completes() {
    rt().block_on(async {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let short = async move {
            let _tx = tx; // released when this future is dropped
        };
        let observer = async move {
            // The sender lives in the completed `short`; `recv` returning
            // None proves it was dropped before join! finished.
            rx.recv().await.is_none()
        };
        assert_eq!(perf_runtime::join!(short, observer), ((), true));
    });
}

#[test]
fn join_does_not_poll_a_completed_future_again() {
    rt().block_on(async {
        let polls = Arc::new(AtomicUsize::new(0));
        let p = polls.clone();
        let once = std::future::poll_fn(move |_| {
            assert_eq!(p.fetch_add(1, Ordering::SeqCst), 0, "polled after Ready");
            Poll::Ready(())
        });
        let slow = async {
            for _ in 0..5 {
                yield_now().await;
            }
        };
        perf_runtime::join!(once, slow);
        assert_eq!(polls.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn join_accepts_into_future() {
    struct Seven;
    impl std::future::IntoFuture for Seven {
        type Output = u8;
        type IntoFuture = std::future::Ready<u8>;
        fn into_future(self) -> Self::IntoFuture {
            std::future::ready(7)
        }
    }
    rt().block_on(async {
        assert_eq!(perf_runtime::join!(Seven, async { 1 }), (7, 1));
    });
}

#[test]
fn try_join_ok_collects_every_value() {
    rt().block_on(async {
        let r: Result<(), ()> = perf_runtime::try_join!();
        assert_eq!(r, Ok(()));
        let r: Result<(u8, &str), String> =
            perf_runtime::try_join!(async { Ok(1) }, async { Ok("two") });
        assert_eq!(r, Ok((1, "two")));
    });
}

#[test]
fn try_join_short_circuits_on_the_first_error() {
    rt().block_on(async {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let never_done = async move {
            let _tx = tx;
            std::future::pending::<Result<u32, &str>>().await
        };
        let failing = async {
            yield_now().await;
            Err::<u32, &str>("boom")
        };
        let r = perf_runtime::try_join!(never_done, failing);
        assert_eq!(r, Err("boom"));
        // The pending future was dropped when try_join! returned.
        assert!(rx.recv().await.is_none());
    });
}

#[test]
fn try_join_stops_polling_after_an_error() {
    rt().block_on(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        let fails = async { Err::<(), u8>(3) };
        let slow = {
            let log = log.clone();
            async move {
                loop {
                    log.lock().unwrap().push("slow");
                    yield_now().await;
                }
                #[allow(unreachable_code)]
                Ok::<(), u8>(())
            }
        };
        let r = perf_runtime::try_join!(biased; fails, slow);
        assert_eq!(r, Err(3));
        assert!(
            log.lock().unwrap().is_empty(),
            "biased: the error came first"
        );
    });
}

#[test]
fn try_join_with_question_mark() {
    async fn both(a: &str, b: &str) -> Result<u32, std::num::ParseIntError> {
        let (x, y) =
            perf_runtime::try_join!(async { a.parse::<u32>() }, async { b.parse::<u32>() })?;
        Ok(x + y)
    }
    rt().block_on(async {
        assert_eq!(both("2", "3").await, Ok(5));
        assert!(both("2", "x").await.is_err());
    });
}

#[test]
fn join_in_a_multi_thread_task() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let out = rt.block_on(async {
        perf_runtime::spawn(async {
            let (a, b) = perf_runtime::join!(
                perf_runtime::spawn(async { 20 }),
                perf_runtime::spawn(async { 22 })
            );
            a.unwrap() + b.unwrap()
        })
        .await
        .unwrap()
    });
    assert_eq!(out, 42);
}
