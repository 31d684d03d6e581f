//! `select!`: the behaviour tokio documents and its own tests expect —
//! branch disabling (preconditions and refutable patterns), `else`, fairness
//! without `biased;`, order with it, nesting, borrowing across branches, the
//! cooperative budget, and the handler's control flow.

use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::sync::{mpsc, oneshot, watch};
use perf_runtime::task::yield_now;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

fn rt() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// Polls `fut` once, from inside a task (so the coop budget applies).
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// Counts its polls and is ready on the `ready_at`-th.
struct CountPolls {
    polls: Arc<AtomicUsize>,
    ready_at: usize,
}

impl Future for CountPolls {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let n = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.ready_at {
            Poll::Ready(n)
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

async fn one() -> usize {
    1
}
async fn require_mutable(v: &mut i32) {
    *v += 1;
}
async fn noop() {}
async fn never() -> ! {
    std::future::pending().await
}

#[test]
fn one_branch_expression_comma_block_and_no_comma() {
    rt().block_on(async {
        let a = perf_runtime::select! { v = async { 1 } => v, };
        let b = perf_runtime::select! { v = async { 2 } => v };
        let c = perf_runtime::select! { v = async { 3 } => { v } };
        let d = perf_runtime::select! { v = one() => v + 3 };
        assert_eq!((a, b, c, d), (1, 2, 3, 4));
    });
}

#[test]
fn else_only_runs_else() {
    rt().block_on(async {
        let v = perf_runtime::select! { else => 7 };
        let w = perf_runtime::select! { biased; else => 8, };
        assert_eq!((v, w), (7, 8));
    });
}

#[test]
fn precondition_false_disables_the_branch_without_polling_it() {
    rt().block_on(async {
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = CountPolls {
            polls: polls.clone(),
            ready_at: 1,
        };
        let v = perf_runtime::select! {
            n = counted, if false => n,
            _ = async {} => 0,
        };
        assert_eq!(v, 0);
        assert_eq!(
            polls.load(Ordering::SeqCst),
            0,
            "a disabled branch is never polled"
        );
    });
}

#[test]
fn refutable_pattern_that_does_not_match_disables_the_branch() {
    rt().block_on(async {
        // The closed channel's recv() is ready with None: the branch must be
        // disabled and the other branch waited for, not the select! spin or
        // pick the `None`.
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        drop(tx);
        let (otx, orx) = oneshot::channel();
        let sender = perf_runtime::spawn(async move {
            otx.send(5).unwrap();
        });
        let v = perf_runtime::select! {
            Some(x) = rx.recv() => x,
            Ok(y) = orx => y + 100,
        };
        assert_eq!(v, 105);
        sender.await.unwrap();
    });
}

#[test]
fn else_runs_when_every_pattern_fails() {
    rt().block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        drop(tx);
        let (wtx, mut wrx) = watch::channel(0u32);
        drop(wtx);
        let v = perf_runtime::select! {
            Some(x) = rx.recv() => x,
            Ok(()) = wrx.changed() => 1,
            else => 99,
        };
        assert_eq!(v, 99);
    });
}

#[test]
fn else_runs_when_every_precondition_is_false() {
    rt().block_on(async {
        let v = perf_runtime::select! {
            x = async { 1 }, if false => x,
            x = async { 2 }, if 1 > 2 => x,
            else => 3,
        };
        assert_eq!(v, 3);
    });
}

#[test]
#[should_panic(expected = "all branches are disabled and there is no else branch")]
fn all_disabled_without_else_panics() {
    rt().block_on(async {
        let _: u32 = perf_runtime::select! {
            Some(x) = async { None::<u32> } => x,
        };
    });
}

#[test]
fn closed_watch_ends_the_loop_instead_of_spinning() {
    // The porting bug from the issue: with futures::select! the loop spun.
    rt().block_on(async {
        let (cfg_tx, mut cfg) = watch::channel(1u32);
        let (job_tx, mut jobs) = mpsc::channel::<u32>(4);
        for j in 0..3 {
            job_tx.send(j).await.unwrap();
        }
        drop(job_tx);
        drop(cfg_tx);
        let mut iterations = 0;
        let mut done = Vec::new();
        loop {
            iterations += 1;
            assert!(iterations < 10, "select! loop spun");
            perf_runtime::select! {
                Ok(()) = cfg.changed() => unreachable!("the sender is gone"),
                Some(j) = jobs.recv() => done.push(j),
                else => break,
            }
        }
        assert_eq!(done, [0, 1, 2]);
    });
}

#[test]
fn biased_polls_in_written_order() {
    rt().block_on(async {
        let (_tx1, rx1) = oneshot::channel::<i32>();
        let (tx2, rx2) = oneshot::channel::<i32>();
        let (tx3, rx3) = oneshot::channel::<i32>();
        tx2.send(2).unwrap();
        tx3.send(3).unwrap();
        let v = perf_runtime::select! {
            biased;
            _ = rx1 => unreachable!(),
            r = rx2 => r.unwrap(),
            _ = rx3 => panic!("rx2 is polled first under biased;"),
        };
        assert_eq!(v, 2);
    });
}

#[test]
fn biased_eventually_ready_in_precondition_order() {
    rt().block_on(async {
        let one = async {};
        let two = async { yield_now().await };
        let three = async { yield_now().await };
        let mut count = 0u8;
        perf_runtime::pin!(one, two, three);
        loop {
            perf_runtime::select! {
                biased;
                _ = &mut two, if count < 2 => {
                    count += 1;
                    assert_eq!(count, 2);
                }
                _ = &mut three, if count < 3 => {
                    count += 1;
                    assert_eq!(count, 3);
                }
                _ = &mut one, if count < 1 => {
                    count += 1;
                    assert_eq!(count, 1);
                }
                else => break,
            }
        }
        assert_eq!(count, 3);
    });
}

#[test]
fn without_biased_every_ready_branch_gets_picked() {
    rt().block_on(async {
        let mut wins = [0u32; 4];
        for _ in 0..400 {
            let i = perf_runtime::select! {
                x = async { 0 } => x,
                x = async { 1 } => x,
                x = async { 2 } => x,
                x = async { 3 } => x,
            };
            wins[i] += 1;
        }
        // Each of four always-ready branches wins about 100 of 400; one
        // that never wins (or always does) means the start is not random.
        // The bound is loose enough that a fair generator fails it with
        // negligible probability (< 1e-9).
        for (i, w) in wins.iter().enumerate() {
            assert!(*w >= 40, "branch {i} won {w} of 400: {wins:?}");
        }
    });
}

#[test]
fn nested_select() {
    rt().block_on(async {
        let res = perf_runtime::select! {
            x = async { 1 } => {
                perf_runtime::select! {
                    y = async { 2 } => x + y,
                }
            }
        };
        assert_eq!(res, 3);
        let inner_in_future = perf_runtime::select! {
            x = async { perf_runtime::select! { y = async { 4 } => y * 10 } } => x + 1,
        };
        assert_eq!(inner_in_future, 41);
    });
}

#[test]
fn handler_may_use_what_a_future_borrowed() {
    rt().block_on(async {
        let mut value = 234;
        perf_runtime::select! {
            _ = require_mutable(&mut value) => {}
            _ = noop() => {
                value += 5;
            }
        }
        assert!(value == 235 || value == 239, "{value}");
        perf_runtime::select! {
            _ = require_mutable(&mut value) => {}
            _ = noop() => value += 5,
            else => value += 27,
        }
        assert!(value > 235);
    });
}

#[test]
fn uncompleted_futures_can_be_resumed_by_reference() {
    rt().block_on(async {
        let (tx1, mut rx1) = oneshot::channel::<i32>();
        let (tx2, mut rx2) = oneshot::channel::<i32>();
        tx1.send(1).unwrap();
        tx2.send(2).unwrap();
        let sum = perf_runtime::select! {
            r = &mut rx1 => r.unwrap() + (&mut rx2).await.unwrap(),
            r = &mut rx2 => r.unwrap() + (&mut rx1).await.unwrap(),
        };
        assert_eq!(sum, 3);
    });
}

#[test]
fn losing_futures_are_dropped_before_the_handler_runs() {
    rt().block_on(async {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let holder = async move {
            let _tx = tx; // dropped when this future is dropped
            std::future::pending::<()>().await
        };
        let closed = perf_runtime::select! {
            _ = holder => false,
            _ = async {} => rx.recv().await.is_none(),
        };
        assert!(closed, "the losing branch's future was dropped first");
    });
}

#[test]
fn binding_modes_mut_ref_and_ref_mut() {
    rt().block_on(async {
        let v = async move {
            let ok = async { 1 };
            perf_runtime::pin!(ok);
            perf_runtime::select! {
                mut a = &mut ok => {
                    a += 1;
                    a
                }
            }
        }
        .await;
        assert_eq!(v, 2);
        perf_runtime::select! {
            Some(mut foo) = async { Some("1".to_string()) } => {
                foo.push('!');
                assert_eq!(foo, "1!");
            }
        }
        perf_runtime::select! {
            Some(ref foo) = async { Some("1".to_string()) } => assert_eq!(*foo, "1"),
        }
        perf_runtime::select! {
            Some(ref mut foo) = async { Some("1".to_string()) } => {
                foo.push('?');
                assert_eq!(*foo, "1?");
            }
        }
    });
}

#[test]
fn handler_control_flow_reaches_the_caller() {
    async fn first_even(values: Vec<u32>) -> Result<u32, String> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for v in values {
            tx.send(v).unwrap();
        }
        drop(tx);
        let mut seen = 0;
        loop {
            perf_runtime::select! {
                Some(v) = rx.recv() => {
                    seen += 1;
                    if v % 2 == 1 {
                        continue;
                    }
                    if v == 0 {
                        Err(format!("zero after {seen}"))?;
                    }
                    return Ok(v);
                }
                else => break,
            }
        }
        Err("none".into())
    }
    rt().block_on(async {
        assert_eq!(first_even(vec![1, 3, 4, 6]).await, Ok(4));
        assert_eq!(first_even(vec![1, 0]).await, Err("zero after 2".into()));
        assert_eq!(first_even(vec![1]).await, Err("none".into()));
    });
}

#[test]
fn never_returning_branch_and_into_future_and_temporaries() {
    struct NotAFuture;
    impl std::future::IntoFuture for NotAFuture {
        type Output = u8;
        type IntoFuture = std::future::Ready<u8>;
        fn into_future(self) -> Self::IntoFuture {
            std::future::ready(9)
        }
    }
    rt().block_on(async {
        let t = perf_runtime::select! {
            _ = never() => 0,
            v = one() => v,
        };
        assert_eq!(t, 1);
        let n = perf_runtime::select! { n = NotAFuture => n };
        assert_eq!(n, 9);
        perf_runtime::select! {
            () = &mut std::future::ready(()) => {}
        }
    });
}

#[test]
fn many_branches() {
    rt().block_on(async {
        let n = perf_runtime::select! {
            x = async { 1 } => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
            x = std::future::pending::<i32>() => x,
        };
        assert_eq!(n, 1);
    });
}

#[test]
fn select_respects_the_cooperative_budget() {
    rt().block_on(async {
        // Inside a task the budget is INITIAL_BUDGET units; each select!
        // below spends one through consume_budget. Once it is spent the
        // select! must be Pending even though its second branch is ready.
        perf_runtime::spawn(async {
            let budget = perf_runtime::task::coop::INITIAL_BUDGET as usize;
            let make = || {
                Box::pin(async {
                    perf_runtime::select! {
                        biased;
                        () = perf_runtime::task::consume_budget() => {}
                        () = std::future::ready(()) => {}
                    }
                })
            };
            for i in 0..budget {
                assert!(poll_once(&mut make()).await.is_ready(), "select {i}");
            }
            assert!(poll_once(&mut make()).await.is_pending());
        })
        .await
        .unwrap();
    });
}

#[test]
fn works_in_tasks_of_the_multi_thread_runtime() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(8);
        let (stop_tx, mut stop) = oneshot::channel::<()>();
        let worker = perf_runtime::spawn(async move {
            let mut sum = 0;
            loop {
                perf_runtime::select! {
                    // Biased: a queued value always wins over the stop
                    // signal sent after it.
                    biased;
                    Some(v) = rx.recv() => sum += v,
                    _ = &mut stop => return sum,
                }
            }
        });
        for v in 1..=4 {
            tx.send(v).await.unwrap();
        }
        stop_tx.send(()).unwrap();
        assert_eq!(worker.await.unwrap(), 10);
    });
}
