//! `sync::Barrier`: release only when `n` have arrived, exactly one leader
//! per generation, reuse across generations (an early arrival of the next
//! generation is not released by the previous one), `n == 0`, the
//! cooperative budget, and the auto traits.

mod sync_support;

use perf_runtime::sync::{Barrier, BarrierWaitResult};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use sync_support::*;

#[test]
fn waiters_are_released_together_when_the_last_arrives() {
    let b = Barrier::new(3);
    let mut x = task(b.wait());
    let mut y = task(b.wait());
    x.pending();
    y.pending();
    let leader = task(b.wait()).ready();
    assert!(leader.is_leader());
    assert!(x.is_woken() && y.is_woken());
    assert!(!x.ready().is_leader());
    assert!(!y.ready().is_leader());
}

#[test]
fn the_next_generation_is_not_released_by_the_previous_one() {
    let b = Barrier::new(2);
    let mut first = task(b.wait());
    first.pending();
    let leader1 = task(b.wait()).ready();
    assert!(leader1.is_leader());
    // A task of generation 2 arrives before generation 1's waiter polls.
    let mut early = task(b.wait());
    early.pending();
    assert!(!first.ready().is_leader());
    early.pending();
    let leader2 = task(b.wait()).ready();
    assert!(leader2.is_leader());
    assert!(!early.ready().is_leader());
}

#[test]
fn zero_parties_behaves_as_one() {
    let b = Barrier::new(0);
    assert!(task(b.wait()).ready().is_leader());
    assert!(task(b.wait()).ready().is_leader());
}

#[test]
fn reuse_across_generations_on_a_multi_thread_runtime() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            const N: usize = 4;
            const ROUNDS: usize = 100;
            let barrier = Arc::new(Barrier::new(N));
            let arrivals = Arc::new(AtomicUsize::new(0));
            let leaders = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..N)
                .map(|_| {
                    let (b, a, l) = (barrier.clone(), arrivals.clone(), leaders.clone());
                    perf_runtime::spawn(async move {
                        for round in 0..ROUNDS {
                            a.fetch_add(1, SeqCst);
                            let r: BarrierWaitResult = b.wait().await;
                            assert!(
                                a.load(SeqCst) >= (round + 1) * N,
                                "released before every party of round {round} arrived"
                            );
                            if r.is_leader() {
                                l.fetch_add(1, SeqCst);
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(leaders.load(SeqCst), ROUNDS, "one leader per generation");
        });
    });
}

#[test]
fn an_always_ready_wait_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let b = Barrier::new(1);
        let mut n = 0;
        while !flag.load(SeqCst) {
            b.wait().await;
            n += 1;
            assert!(n < YIELD_LIMIT, "wait() never yielded");
        }
    });
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Barrier>();
    send_sync::<BarrierWaitResult>();
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    let b = Barrier::new(2);
    send_future(&b.wait());
}
