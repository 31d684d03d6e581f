//! Task classes and the pick rule (documented in the `scheduler` module
//! and `scheduler/pick.rs`), with the default weights Critical 12, Normal 3,
//! Batch 1:
//!
//! - Critical, then Normal, then Batch;
//! - except that a lower class passed over for `period - 1` consecutive picks
//!   (Batch: 16, Normal: ceil(16 / 3) = 6) goes first for one pick, Batch
//!   before Normal when both are owed; an owed turn that finds its class
//!   empty, or a pick of the class, resets its count.
//!
//! On current_thread every poll counts as one pick and everything runs on
//! one thread, so the order of polls is deterministic and checked exactly.
//! On multi_thread a poll counts as one pick per microsecond it ran (see
//! `pick.rs`, whose unit tests drive that rule with synthetic durations);
//! here only its guarantees are checked: Critical is not held up by a Batch
//! flood, and long Batch polls are not starved by a Critical flood.

mod support;
use support::*;

use futures_channel::oneshot;
use perf_runtime::runtime::Builder;
use perf_runtime::task::{self, Qos};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self};
use std::sync::{Arc, Mutex};

const NORMAL_PERIOD: u32 = 6;
const BATCH_PERIOD: u32 = 16;

/// The classes polled, in order, for one-poll tasks queued `counts[class]`
/// at a time, with the pick rule's pass counters starting at `passed`.
fn model(mut counts: [usize; 3], passed: (u32, u32)) -> Vec<Qos> {
    let (mut normal, mut batch) = passed;
    let mut out = Vec::new();
    while counts.iter().any(|&c| c > 0) {
        let order = if batch >= BATCH_PERIOD - 1 {
            [Qos::Batch, Qos::Critical, Qos::Normal]
        } else if normal >= NORMAL_PERIOD - 1 {
            [Qos::Normal, Qos::Critical, Qos::Batch]
        } else {
            [Qos::Critical, Qos::Normal, Qos::Batch]
        };
        let qos = order.into_iter().find(|q| counts[q.index()] > 0).unwrap();
        counts[qos.index()] -= 1;
        out.push(qos);
        let owed = order[0];
        normal = if qos == Qos::Normal || owed == Qos::Normal {
            0
        } else {
            normal + 1
        };
        batch = if qos == Qos::Batch || owed == Qos::Batch {
            0
        } else {
            batch + 1
        };
    }
    out
}

fn letters(seq: &[Qos]) -> String {
    seq.iter()
        .map(|q| match q {
            Qos::Critical => 'C',
            Qos::Normal => 'N',
            Qos::Batch => 'B',
        })
        .collect()
}

/// Spawns `n` one-poll tasks per class from inside `block_on` (Batch first,
/// then Normal, then Critical, so spawn order favours the wrong classes),
/// and returns the classes in the order the tasks were polled.
fn poll_order_of_one_poll_tasks(n: usize) -> Vec<Qos> {
    let rt = current_thread();
    let log = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let mut handles = Vec::new();
        for qos in [Qos::Batch, Qos::Normal, Qos::Critical] {
            for _ in 0..n {
                let log = log.clone();
                handles.push(perf_runtime::spawn_with(qos, async move {
                    log.lock().unwrap().push(qos);
                }));
            }
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let log = log.lock().unwrap().clone();
    log
}

#[test]
fn current_thread_poll_order_follows_the_pick_rule_exactly() {
    within(|| {
        let seen = poll_order_of_one_poll_tasks(20);
        assert_eq!(seen.len(), 60);
        // The worker found nothing before the tasks were spawned, which
        // resets both pass counters: the order is fixed exactly.
        let rule = model([20, 20, 20], (0, 0));
        assert_eq!(
            letters(&seen),
            letters(&rule),
            "the poll order does not follow the pick rule"
        );
    });
}

#[test]
fn while_every_class_has_work_batch_gets_1_in_16_and_normal_1_in_7() {
    within(|| {
        let seen = poll_order_of_one_poll_tasks(40);
        // Positions before which every class still had work left.
        let mut remaining = [40usize; 3];
        let mut all_busy_until = 0;
        for (i, q) in seen.iter().enumerate() {
            if remaining.contains(&0) {
                break;
            }
            all_busy_until = i + 1;
            remaining[q.index()] -= 1;
        }
        assert!(
            all_busy_until >= 32,
            "too short a busy prefix: {}",
            letters(&seen)
        );
        for start in 0..=all_busy_until - 16 {
            let w = &seen[start..start + 16];
            let count = |q: Qos| w.iter().filter(|&&x| x == q).count();
            assert!(
                count(Qos::Batch) >= 1,
                "window {start}..{}: {} — Batch starved",
                start + 16,
                letters(w)
            );
            // Normal's period is 6; a tie with Batch's turn adds one pick.
            for s7 in 0..=16 - 7 {
                assert!(
                    w[s7..s7 + 7].contains(&Qos::Normal),
                    "window {}..{}: {} — Normal starved",
                    start + s7,
                    start + s7 + 7,
                    letters(w)
                );
            }
            assert!(
                count(Qos::Critical) >= 10,
                "window {start}..{}: {} — Critical got fewer than 10 of 16 picks",
                start + 16,
                letters(w)
            );
        }
        // Batch is not left to the end: some Batch poll comes before the
        // last Critical one.
        let first_batch = seen.iter().position(|&q| q == Qos::Batch).unwrap();
        let last_critical = seen.iter().rposition(|&q| q == Qos::Critical).unwrap();
        assert!(first_batch < last_critical, "{}", letters(&seen));
        let first_normal = seen.iter().position(|&q| q == Qos::Normal).unwrap();
        assert!(first_normal < 16, "{}", letters(&seen));
        assert!(first_batch < 16, "{}", letters(&seen));
    });
}

#[test]
fn a_critical_wake_waits_for_at_most_one_lower_class_poll() {
    within(|| {
        // Batch tasks fill the queue; some of them spawn a Critical task. The
        // Critical task has not used up its share, so it must be polled next.
        let rt = current_thread();
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        rt.block_on(async {
            let mut handles = Vec::new();
            for i in 0..64 {
                let log = log.clone();
                handles.push(perf_runtime::spawn_with(Qos::Batch, async move {
                    log.lock().unwrap().push(format!("B{i}"));
                    if i % 5 == 0 {
                        let log = log.clone();
                        drop(perf_runtime::spawn_with(Qos::Critical, async move {
                            log.lock().unwrap().push(format!("C{i}"));
                        }));
                    }
                }));
            }
            for h in handles {
                h.await.unwrap();
            }
        });
        let log = log.lock().unwrap().clone();
        // Every Critical task ran before the Batch tasks ran out.
        for i in (0..64).step_by(5) {
            let b = log.iter().position(|e| *e == format!("B{i}")).unwrap();
            let c = log
                .iter()
                .position(|e| *e == format!("C{i}"))
                .unwrap_or_else(|| panic!("C{i} never ran: {log:?}"));
            assert!(
                c == b + 1,
                "C{i} ran {} polls after its spawner B{i}: {log:?}",
                c as isize - b as isize
            );
        }
    });
}

#[test]
fn a_plain_spawn_from_a_critical_task_is_normal() {
    within(|| {
        // Normal fillers are queued before the Critical parent. A child of
        // class Normal queues behind all of them; had it inherited Critical it
        // would run within two polls of its parent.
        let rt = current_thread();
        let log = Arc::new(Mutex::new(Vec::<&'static str>::new()));
        rt.block_on(async {
            let mut handles = Vec::new();
            for _ in 0..30 {
                let log = log.clone();
                handles.push(perf_runtime::spawn(async move {
                    log.lock().unwrap().push("filler");
                }));
            }
            let l = log.clone();
            let parent = perf_runtime::spawn_with(Qos::Critical, async move {
                l.lock().unwrap().push("parent");
                let l2 = l.clone();
                let plain = perf_runtime::spawn(async move {
                    l2.lock().unwrap().push("plain child");
                });
                let l3 = l.clone();
                let critical = perf_runtime::spawn_with(Qos::Critical, async move {
                    l3.lock().unwrap().push("critical child");
                });
                (plain, critical)
            });
            let (plain, critical) = parent.await.unwrap();
            for h in handles {
                h.await.unwrap();
            }
            plain.await.unwrap();
            critical.await.unwrap();
        });
        let log = log.lock().unwrap().clone();
        let pos = |what: &str| log.iter().position(|e| *e == what).unwrap();
        let last_filler = log.iter().rposition(|e| *e == "filler").unwrap();
        assert!(pos("parent") <= 1, "the Critical parent waited: {log:?}");
        assert!(
            pos("critical child") <= pos("parent") + 2,
            "the explicit Critical child waited: {log:?}"
        );
        assert!(
            pos("plain child") > last_filler,
            "the plain child jumped the Normal queue (inherited Critical?): {log:?}"
        );
    });
}

#[test]
fn critical_flood_does_not_starve_batch_or_normal() {
    within(|| {
        // Critical tasks re-queue themselves forever (bounded) until both a
        // Batch and a Normal task have run: the bounded share must get them
        // polled while Critical still has work.
        let rt = current_thread();
        let batch_ran = Arc::new(AtomicBool::new(false));
        let normal_ran = Arc::new(AtomicBool::new(false));
        let critical_polls = Arc::new(AtomicUsize::new(0));
        const BOUND: usize = 100_000;
        rt.block_on(async {
            let mut flood = Vec::new();
            for _ in 0..8 {
                let (b, n, polls) = (
                    batch_ran.clone(),
                    normal_ran.clone(),
                    critical_polls.clone(),
                );
                flood.push(perf_runtime::spawn_with(Qos::Critical, async move {
                    while !(b.load(SeqCst) && n.load(SeqCst)) {
                        assert!(polls.fetch_add(1, SeqCst) < BOUND, "starved");
                        task::yield_now().await;
                    }
                }));
            }
            let b = batch_ran.clone();
            let batch = perf_runtime::spawn_with(Qos::Batch, async move { b.store(true, SeqCst) });
            let n = normal_ran.clone();
            let normal = perf_runtime::spawn(async move { n.store(true, SeqCst) });
            for h in flood {
                h.await.unwrap();
            }
            batch.await.unwrap();
            normal.await.unwrap();
        });
        let polls = critical_polls.load(SeqCst);
        // Batch is owed a turn within 16 picks and Normal within 7: the
        // flood ends within 16 Critical polls.
        assert!(
            polls <= 16,
            "{polls} Critical polls before Batch and Normal ran"
        );
    });
}

#[test]
fn multi_thread_long_batch_polls_are_not_starved_by_a_critical_flood() {
    within(|| {
        // One worker; Critical tasks re-queue themselves until the Batch
        // task has been polled 3 times. Each Batch poll spins for 2 ms, so it
        // is owed again only after 15 × 2 ms worth of Critical picks; the
        // flood of short polls must still pay that off and let it run.
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let batch_polls = Arc::new(AtomicUsize::new(0));
        const BOUND: usize = 50_000_000;
        rt.block_on(async {
            let b = batch_polls.clone();
            let batch = perf_runtime::spawn_with(Qos::Batch, async move {
                for _ in 0..3 {
                    let start = std::time::Instant::now();
                    while start.elapsed() < std::time::Duration::from_millis(2) {
                        std::hint::spin_loop();
                    }
                    b.fetch_add(1, SeqCst);
                    task::yield_now().await;
                }
            });
            let flood: Vec<_> = (0..4)
                .map(|_| {
                    let b = batch_polls.clone();
                    perf_runtime::spawn_with(Qos::Critical, async move {
                        let mut polls = 0;
                        while b.load(SeqCst) < 3 {
                            polls += 1;
                            assert!(polls < BOUND, "Batch starved");
                            task::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in flood {
                h.await.unwrap();
            }
            batch.await.unwrap();
        });
        assert_eq!(batch_polls.load(SeqCst), 3);
    });
}

#[test]
fn multi_thread_critical_task_runs_while_workers_are_busy_with_batch() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel::<()>();
        const BATCH: usize = 4;
        const BOUND: u64 = 50_000_000;
        let batch: Vec<_> = (0..BATCH)
            .map(|_| {
                let (stop, started) = (stop.clone(), started_tx.clone());
                task::Builder::new()
                    .name("batch-spinner")
                    .qos(Qos::Batch)
                    .spawn_on(
                        async move {
                            started.send(()).unwrap();
                            let mut polls = 0u64;
                            // Yields forever until the Critical task says
                            // stop; the bound only keeps a broken scheduler
                            // from spinning for ever.
                            while !stop.load(SeqCst) {
                                polls += 1;
                                if polls > BOUND {
                                    return Err(polls);
                                }
                                task::yield_now().await;
                            }
                            Ok(polls)
                        },
                        rt.handle(),
                    )
                    .unwrap()
            })
            .collect();
        for _ in 0..BATCH {
            started_rx
                .recv_timeout(PATIENCE)
                .expect("a Batch task never started");
        }

        let (done_tx, done_rx) = oneshot::channel::<bool>();
        let s = stop.clone();
        let critical = task::Builder::new()
            .name("critical-probe")
            .qos(Qos::Critical)
            .spawn_on(
                async move {
                    // Every Batch task is still yielding: none has been told
                    // to stop yet.
                    let all_pending = !s.load(SeqCst);
                    s.store(true, SeqCst);
                    let _ = done_tx.send(all_pending);
                },
                rt.handle(),
            )
            .unwrap();
        let all_pending = rt
            .block_on(done_rx)
            .expect("the Critical task never ran while Batch work was pending");
        assert!(all_pending);
        rt.block_on(critical).unwrap();
        for h in batch {
            let res = rt.block_on(h).unwrap();
            assert!(
                res.is_ok(),
                "a Batch task ran {res:?} polls without the Critical task running"
            );
        }
    });
}

#[test]
fn multi_thread_critical_spawned_from_a_busy_worker_runs() {
    within(|| {
        // As above, but the Critical task is spawned by a Batch task, onto its
        // own worker's local queue, behind the Batch work there.
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (stop, done_tx) = (stop.clone(), done_tx.clone());
                task::Builder::new()
                    .qos(Qos::Batch)
                    .spawn_on(
                        async move {
                            if i == 0 {
                                let s = stop.clone();
                                drop(perf_runtime::spawn_with(Qos::Critical, async move {
                                    s.store(true, SeqCst);
                                    let _ = done_tx.send(());
                                }));
                            }
                            let mut polls = 0u64;
                            while !stop.load(SeqCst) {
                                polls += 1;
                                assert!(polls < 50_000_000, "the Critical task never ran");
                                task::yield_now().await;
                            }
                        },
                        rt.handle(),
                    )
                    .unwrap()
            })
            .collect();
        done_rx
            .recv_timeout(PATIENCE)
            .expect("the Critical task never ran while Batch tasks kept yielding");
        for h in handles {
            rt.block_on(h).unwrap();
        }
    });
}

#[test]
fn per_class_counters_count_spawns_polls_and_completions() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let m = rt.metrics();
            let before: Vec<(u64, u64, u64)> = Qos::ALL
                .iter()
                .map(|&q| (m.qos_spawned(q), m.qos_completed(q), m.qos_polled(q)))
                .collect();
            // 10 Critical, 20 Normal, 30 Batch tasks; each yields once, so it
            // is polled twice.
            let mut handles = Vec::new();
            for (i, &q) in Qos::ALL.iter().enumerate() {
                for _ in 0..10 * (i + 1) {
                    let h = task::Builder::new()
                        .qos(q)
                        .spawn_on(async { task::yield_now().await }, rt.handle())
                        .unwrap();
                    handles.push(h);
                }
            }
            rt.block_on(async {
                for h in handles {
                    h.await.unwrap();
                }
            });
            for (i, &q) in Qos::ALL.iter().enumerate() {
                let n = 10 * (i as u64 + 1);
                let (s0, c0, p0) = before[i];
                assert_eq!(m.qos_spawned(q) - s0, n, "{flavour}: {q} spawned");
                // A task counts as completed when it is released from the
                // owned list, just after its JoinHandle was woken: wait for
                // that release rather than race it.
                let deadline = std::time::Instant::now() + PATIENCE;
                while m.qos_completed(q) - c0 < n && std::time::Instant::now() < deadline {
                    std::thread::yield_now();
                }
                assert_eq!(m.qos_completed(q) - c0, n, "{flavour}: {q} completed");
                assert_eq!(m.qos_polled(q) - p0, 2 * n, "{flavour}: {q} polled");
            }
            // One wake in 1024 is timed (spawns by this thread's count, the
            // yields by the worker's tick): never more than the 120 wakes
            // (60 spawns and 60 yields), and the delays timed are short.
            let delays: Vec<_> = Qos::ALL.iter().map(|&q| m.qos_wake_delay(q)).collect();
            let timed: u64 = delays.iter().map(|h| h.count()).sum();
            assert!(timed <= 120, "{flavour}: {timed} delays timed");
            for h in delays.iter().filter(|h| h.count() > 0) {
                let p50 = h.quantile(0.5).unwrap();
                assert!(p50 < PATIENCE, "{flavour}: a delay of {p50:?}");
            }
        }
    });
}

fn reserved_runtime() -> perf_runtime::runtime::Runtime {
    Builder::new_multi_thread()
        .worker_threads(3)
        .reserve_critical_workers(1)
        .build()
        .unwrap()
}

/// Occupies both normal workers of `rt` with Batch tasks that block their
/// threads until `release` is called; returns once both are blocked.
fn block_normal_workers(
    rt: &perf_runtime::runtime::Runtime,
) -> (impl FnOnce(), Vec<task::JoinHandle<()>>) {
    let meeting = Arc::new(Rendezvous::new());
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let (blocked_tx, blocked_rx) = mpsc::channel::<bool>();
    let handles = (0..2)
        .map(|_| {
            let (meeting, release_rx, blocked_tx) =
                (meeting.clone(), release_rx.clone(), blocked_tx.clone());
            task::Builder::new()
                .qos(Qos::Batch)
                .spawn_on(
                    async move {
                        // Both normal workers are inside a Batch poll at once.
                        blocked_tx.send(meeting.meet(2)).unwrap();
                        let _ = release_rx.lock().unwrap().recv_timeout(PATIENCE);
                    },
                    rt.handle(),
                )
                .unwrap()
        })
        .collect();
    for _ in 0..2 {
        assert!(
            blocked_rx.recv_timeout(PATIENCE).unwrap(),
            "the two normal workers never ran the Batch tasks together"
        );
    }
    let release = move || {
        for _ in 0..2 {
            let _ = release_tx.send(());
        }
    };
    (release, handles)
}

#[test]
fn a_reserved_worker_serves_critical_while_every_other_worker_is_blocked() {
    within(|| {
        let rt = reserved_runtime();
        let (release, blockers) = block_normal_workers(&rt);
        // From outside, and from a timer: both must run now, not after the
        // Batch polls end.
        let (tx, rx) = mpsc::channel::<&'static str>();
        let tx2 = tx.clone();
        let _outside = task::Builder::new()
            .qos(Qos::Critical)
            .spawn_on(
                async move {
                    tx.send("outside").unwrap();
                },
                rt.handle(),
            )
            .unwrap();
        let _timer = task::Builder::new()
            .qos(Qos::Critical)
            .spawn_on(
                async move {
                    perf_runtime::time::sleep(std::time::Duration::from_millis(5)).await;
                    tx2.send("timer").unwrap();
                },
                rt.handle(),
            )
            .unwrap();
        let mut got = vec![
            rx.recv_timeout(PATIENCE).expect("no Critical task ran"),
            rx.recv_timeout(PATIENCE)
                .expect("only one Critical task ran"),
        ];
        got.sort();
        assert_eq!(got, ["outside", "timer"]);
        release();
        for h in blockers {
            rt.block_on(h).unwrap();
        }
    });
}

#[test]
fn a_reserved_worker_never_runs_normal_or_batch_tasks() {
    within(|| {
        let rt = reserved_runtime();
        // Find the reserved worker's thread: the one a Critical task runs on
        // while both normal workers are blocked.
        let (release, blockers) = block_normal_workers(&rt);
        let reserved_thread = rt
            .block_on(
                task::Builder::new()
                    .qos(Qos::Critical)
                    .spawn_on(async { std::thread::current().id() }, rt.handle())
                    .unwrap(),
            )
            .unwrap();
        release();
        for h in blockers {
            rt.block_on(h).unwrap();
        }
        // Normal and Batch tasks, spawned from outside, from tasks, and woken
        // by timers (which the reserved worker fires): none runs there.
        let ran_on = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let ran_on = ran_on.clone();
                let qos = if i % 2 == 0 { Qos::Normal } else { Qos::Batch };
                task::Builder::new()
                    .qos(qos)
                    .spawn_on(
                        async move {
                            for _ in 0..3 {
                                ran_on.lock().unwrap().push(std::thread::current().id());
                                if i % 3 == 0 {
                                    perf_runtime::time::sleep(std::time::Duration::from_millis(1))
                                        .await;
                                } else {
                                    task::yield_now().await;
                                }
                            }
                            let inner = ran_on.clone();
                            perf_runtime::spawn(async move {
                                inner.lock().unwrap().push(std::thread::current().id());
                            })
                            .await
                            .unwrap();
                        },
                        rt.handle(),
                    )
                    .unwrap()
            })
            .collect();
        for h in handles {
            rt.block_on(h).unwrap();
        }
        let ran_on = ran_on.lock().unwrap();
        assert_eq!(ran_on.len(), 200 * 4);
        assert!(
            ran_on.iter().all(|&t| t != reserved_thread),
            "a Normal or Batch poll ran on the reserved worker"
        );
    });
}

#[test]
fn reserving_every_worker_or_a_current_thread_is_a_build_error() {
    let err = Builder::new_multi_thread()
        .worker_threads(2)
        .reserve_critical_workers(2)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reserve_critical_workers(2)") && err.contains("at least one worker"),
        "{err}"
    );
    let err = Builder::new_current_thread()
        .reserve_critical_workers(1)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("current_thread"), "{err}");
    let err = Builder::new_multi_thread()
        .qos_weights(4, 1, 0)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("batch weight is 0"), "{err}");
}
