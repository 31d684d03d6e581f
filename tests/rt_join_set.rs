//! `JoinSet`: completion order, length, aborting, shutdown, drop, the
//! non-blocking and collect-all forms, blocking tasks in a set, and volume.

mod support;
use support::*;

use futures_channel::oneshot;
use perf_runtime::runtime::Builder;
use perf_runtime::task::{self, JoinSet, Qos};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Signals on drop, so async code can await a future's destruction.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// `n` tasks, task `i` returning `i` once its gate opens.
fn gated_set(n: usize) -> (JoinSet<usize>, Vec<Option<oneshot::Sender<()>>>) {
    let mut set = JoinSet::new();
    let mut gates = Vec::new();
    for i in 0..n {
        let (tx, rx) = oneshot::channel::<()>();
        set.spawn(async move {
            rx.await.expect("gate dropped");
            i
        });
        gates.push(Some(tx));
    }
    (set, gates)
}

#[test]
fn join_next_returns_results_in_completion_order() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                let (mut set, mut gates) = gated_set(4);
                assert_eq!(set.len(), 4, "{flavour}");
                assert!(!set.is_empty(), "{flavour}");
                // Open one gate at a time: the only task able to finish is the
                // one just released, so join_next must return it.
                for (step, i) in [2usize, 0, 3, 1].into_iter().enumerate() {
                    gates[i].take().unwrap().send(()).unwrap();
                    let got = set.join_next().await.expect("set emptied early").unwrap();
                    assert_eq!(got, i, "{flavour}: step {step}");
                    assert_eq!(set.len(), 3 - step, "{flavour}: len after step {step}");
                }
                assert!(set.is_empty(), "{flavour}");
                assert!(set.join_next().await.is_none(), "{flavour}: empty set");
            });
        }
    });
}

#[test]
fn join_next_follows_the_order_tasks_complete_in_on_current_thread() {
    within(|| {
        // On current_thread woken tasks run in wake order, so releasing all
        // gates at once still fixes the completion order.
        let rt = Builder::new_current_thread().build().unwrap();
        let order = [3usize, 1, 4, 0, 2];
        let got = rt.block_on(async {
            let (mut set, mut gates) = gated_set(5);
            // Let every task run up to its gate first (a gate opened before
            // its task's first poll would not be waited on at all): the
            // sentinel is queued behind them in the same class.
            let sentinel = perf_runtime::spawn(async {});
            sentinel.await.unwrap();
            for &i in &order {
                gates[i].take().unwrap().send(()).unwrap();
            }
            let mut got = Vec::new();
            while let Some(res) = set.join_next().await {
                got.push(res.unwrap());
            }
            got
        });
        assert_eq!(got, order);
    });
}

#[test]
fn abort_all_gives_cancelled_errors() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let drops = Arc::new(AtomicUsize::new(0));
            rt.block_on(async {
                let mut set = JoinSet::new();
                let mut ids = HashSet::new();
                let mut keep = Vec::new();
                for _ in 0..5 {
                    let (tx, rx) = oneshot::channel::<()>();
                    keep.push(tx);
                    let guard = DropCounter(drops.clone());
                    let abort = set.spawn(async move {
                        let _guard = guard;
                        let _ = rx.await;
                    });
                    ids.insert(abort.id());
                }
                set.abort_all();
                assert_eq!(set.len(), 5, "{flavour}: abort_all keeps entries to join");
                let mut seen = HashSet::new();
                while let Some(res) = set.join_next().await {
                    let err = res.expect_err("an aborted task completed");
                    assert!(err.is_cancelled(), "{flavour}: {err:?}");
                    seen.insert(err.id());
                }
                assert_eq!(seen, ids, "{flavour}: error ids vs spawned ids");
                drop(keep);
            });
            assert_eq!(drops.load(SeqCst), 5, "{flavour}: futures dropped");
        }
    });
}

#[test]
fn abort_handle_from_spawn_cancels_only_that_task() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                let (mut set, mut gates) = gated_set(2);
                let (_keep, rx) = oneshot::channel::<()>();
                let victim = set.spawn(async move {
                    let _ = rx.await;
                    99
                });
                victim.abort();
                let err = set.join_next().await.unwrap().unwrap_err();
                assert!(err.is_cancelled(), "{flavour}");
                assert_eq!(err.id(), victim.id(), "{flavour}");
                for g in gates.iter_mut() {
                    g.take().unwrap().send(()).unwrap();
                }
                let mut rest = Vec::new();
                while let Some(res) = set.join_next().await {
                    rest.push(res.unwrap());
                }
                rest.sort();
                assert_eq!(rest, [0, 1], "{flavour}");
            });
        }
    });
}

#[test]
fn shutdown_aborts_and_drains_the_set() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let drops = Arc::new(AtomicUsize::new(0));
            rt.block_on(async {
                let mut set = JoinSet::new();
                let mut keep = Vec::new();
                for _ in 0..10 {
                    let guard = DropCounter(drops.clone());
                    let (tx, never) = oneshot::channel::<()>();
                    keep.push(tx);
                    set.spawn(async move {
                        let _guard = guard;
                        let _ = never.await;
                    });
                }
                set.shutdown().await;
                assert!(set.is_empty(), "{flavour}");
                assert_eq!(set.len(), 0, "{flavour}");
                assert!(set.join_next().await.is_none(), "{flavour}");
                drop(keep);
            });
            assert_eq!(
                drops.load(SeqCst),
                10,
                "{flavour}: shutdown returned before every future was dropped"
            );
        }
    });
}

#[test]
fn dropping_the_set_aborts_its_tasks() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let polls = Arc::new(AtomicUsize::new(0));
            let p = polls.clone();
            let finished = rt.block_on(async move {
                let mut set = JoinSet::new();
                let mut dropped = Vec::new();
                let mut keep = Vec::new();
                for _ in 0..8 {
                    let (drop_tx, drop_rx) = oneshot::channel::<()>();
                    let (gate_tx, gate_rx) = oneshot::channel::<()>();
                    let signal = DropSignal(Some(drop_tx));
                    let p = p.clone();
                    set.spawn(async move {
                        let _signal = signal;
                        let _ = gate_rx.await;
                        p.fetch_add(1, SeqCst);
                    });
                    dropped.push(drop_rx);
                    keep.push(gate_tx);
                }
                drop(set);
                // Every future is dropped without the gates ever opening.
                let mut finished = 0;
                for rx in dropped {
                    rx.await.expect("a DropSignal was leaked");
                    finished += 1;
                }
                drop(keep);
                finished
            });
            assert_eq!(finished, 8, "{flavour}");
            assert_eq!(
                polls.load(SeqCst),
                0,
                "{flavour}: a task ran past its gate after the set was dropped"
            );
        }
    });
}

#[test]
fn try_join_next_does_not_wait() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                let mut set: JoinSet<u32> = JoinSet::new();
                assert!(set.try_join_next().is_none(), "{flavour}: empty set");

                let (tx, rx) = oneshot::channel::<()>();
                let abort = set.spawn(async move {
                    rx.await.unwrap();
                    5
                });
                assert!(set.try_join_next().is_none(), "{flavour}: pending task");
                assert_eq!(set.len(), 1, "{flavour}");

                tx.send(()).unwrap();
                // `is_finished` turns true a moment before the set is told
                // (the completion wakes the set's entry after publishing),
                // so poll `try_join_next` itself, yielding between tries.
                let mut spins = 0;
                let res = loop {
                    if let Some(res) = set.try_join_next() {
                        break res;
                    }
                    spins += 1;
                    assert!(
                        spins < 1_000_000,
                        "{flavour}: the result never became ready"
                    );
                    task::yield_now().await;
                };
                assert!(abort.is_finished(), "{flavour}");
                assert_eq!(res.unwrap(), 5, "{flavour}");
                assert!(set.is_empty(), "{flavour}");
                assert!(set.try_join_next().is_none(), "{flavour}");
            });
        }
    });
}

#[test]
fn join_all_returns_every_output() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let mut out = rt.block_on(async {
                let mut set = JoinSet::new();
                for i in 0..50u32 {
                    set.spawn(async move { i * 3 });
                }
                set.join_all().await
            });
            out.sort();
            let want: Vec<u32> = (0..50).map(|i| i * 3).collect();
            assert_eq!(out, want, "{flavour}");
        }
    });
}

#[test]
fn join_all_resumes_a_task_panic() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let err = rt
                .block_on(rt.spawn(async {
                    let mut set = JoinSet::new();
                    set.spawn(async { 1 });
                    set.spawn(async { panic!("set member failed") });
                    set.join_all().await
                }))
                .unwrap_err();
            assert!(err.is_panic(), "{flavour}: {err:?}");
            let payload = err.into_panic();
            assert_eq!(
                payload.downcast_ref::<&str>(),
                Some(&"set member failed"),
                "{flavour}: join_all must resume the member's own payload"
            );
        }
    });
}

#[test]
fn a_panicking_member_is_a_panic_error() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                let mut set = JoinSet::new();
                set.spawn(async { panic!("member") });
                let err = set.join_next().await.unwrap().unwrap_err();
                assert!(err.is_panic(), "{flavour}: {err:?}");
            });
        }
    });
}

#[test]
fn spawn_blocking_spawn_with_and_spawn_on_join_the_set() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            // spawn_on works from a thread that is in no runtime.
            let mut set = JoinSet::new();
            set.spawn_on(async { "on" }, rt.handle());
            let out = rt.block_on(async move {
                set.spawn_blocking(|| "blocking");
                set.spawn_with(Qos::Critical, async { "critical" });
                set.spawn_with(Qos::Batch, async { "batch" });
                set.spawn(async { "plain" });
                assert_eq!(set.len(), 5);
                let mut out = Vec::new();
                while let Some(res) = set.join_next().await {
                    out.push(res.unwrap());
                }
                out
            });
            let mut out = out;
            out.sort();
            assert_eq!(
                out,
                ["batch", "blocking", "critical", "on", "plain"],
                "{flavour}"
            );
        }
    });
}

/// Spawns `n` tasks into a set, then joins them all with `join_next`;
/// returns how many times each task's output was seen.
async fn join_n(n: usize) -> Vec<u32> {
    let mut set = JoinSet::new();
    for i in 0..n {
        set.spawn(async move {
            if i % 3 == 0 {
                task::yield_now().await;
            }
            i
        });
    }
    assert_eq!(set.len(), n);
    let mut seen = vec![0u32; n];
    let mut joined = 0;
    while let Some(res) = set.join_next().await {
        seen[res.unwrap()] += 1;
        joined += 1;
        assert_eq!(set.len(), n - joined);
    }
    seen
}

#[test]
fn a_thousand_tasks_are_each_joined_once_on_current_thread() {
    within(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let seen = rt.block_on(join_n(1_000));
        assert!(
            seen.iter().all(|&n| n == 1),
            "some task was joined zero or several times"
        );
    });
}

#[test]
fn a_thousand_tasks_are_each_joined_once_on_multi_thread() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let seen = rt.block_on(join_n(1_000));
        assert!(
            seen.iter().all(|&n| n == 1),
            "some task was joined zero or several times"
        );
    });
}

#[test]
fn join_next_with_more_finished_tasks_than_the_coop_budget() {
    within(|| {
        // Deterministic: on current_thread, wait until every member has
        // finished, then join them from one block_on poll. More ready
        // handles than `coop::INITIAL_BUDGET` must still all be returned
        // (join_next yields to the scheduler when the budget runs out).
        const N: usize = task::coop::INITIAL_BUDGET as usize + 72;
        let rt = Builder::new_current_thread().build().unwrap();
        let joined = rt.block_on(async {
            let mut set = JoinSet::new();
            let handles: Vec<_> = (0..N).map(|i| set.spawn(async move { i })).collect();
            let mut spins = 0;
            while !handles.iter().all(|h| h.is_finished()) {
                spins += 1;
                assert!(spins < 100_000, "the members never finished");
                task::yield_now().await;
            }
            let mut joined = 0;
            while let Some(res) = set.join_next().await {
                res.unwrap();
                joined += 1;
            }
            joined
        });
        assert_eq!(joined, N);
    });
}

#[test]
fn a_set_is_reusable_after_it_empties() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                let mut set = JoinSet::new();
                for round in 0..3u32 {
                    for i in 0..4u32 {
                        set.spawn(async move { round * 10 + i });
                    }
                    let mut got = Vec::new();
                    while let Some(res) = set.join_next().await {
                        got.push(res.unwrap());
                    }
                    got.sort();
                    let want: Vec<u32> = (0..4).map(|i| round * 10 + i).collect();
                    assert_eq!(got, want, "{flavour}: round {round}");
                }
            });
        }
    });
}
