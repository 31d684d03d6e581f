//! `compare -- timers`: timer precision and timer churn, and the round trip
//! of a `block_on` thread with a task, on perf_runtime and tokio.
//!
//! Method (stated so a user can reproduce it): both runtimes are
//! multi-thread with 2 workers and every driver on (`enable_all`). Lateness
//! is `deadline.elapsed()` with `deadline = Instant::now() + d` taken just
//! before `sleep(d)`: measured from the deadline the task asked for, nothing
//! subtracted. One run per row; each row builds fresh runtimes.
//!
//! Rows:
//! - `sleep_idle`: 1 000 sleeps of 1 ms by one task on an idle runtime;
//!   under it (`sleep_idle_os_floor` in JSON, `p50_ns`/`p99_ns`) the same
//!   sleeps by a plain thread waiting on a futex with a timeout, its timer
//!   slack lowered: the platform's floor, which no runtime beats without
//!   spinning;
//! - `sleep_backlog`: the same from a Critical task while 32 Batch tasks
//!   burn 100 µs per poll (tokio has no classes: every task is plain);
//! - `sleep_backlog_reserved`: as `sleep_backlog` with
//!   `reserve_critical_workers(1)` on perf_runtime (tokio cannot reserve a
//!   worker: its arm is the plain backlog again);
//! - `timeout_churn`: 1 024 tasks each looping `timeout(10 ms, yield_now())`
//!   (a timer made and cancelled per iteration); time per iteration;
//! - `sleep_churn`: 10 000 tasks each sleeping a random 0–5 ms, 20 rounds
//!   alternating between the two runtimes (the same sleeps on each); the
//!   median time per round, and the lateness of every sleep;
//!   `--perf-only` / `--tokio-only` run one runtime's rounds alone (for
//!   `valgrind --tool=callgrind`: instructions per sleep on each side);
//! - `block_on_ping_pong`: the `block_on` thread and a spawned task pass a
//!   message back and forth over two `futures-channel` mpsc channels of
//!   capacity 1 (`channel(0)`: one guaranteed slot per sender), 20 000 round
//!   trips in 5 blocks of 4 000 alternating between the two runtimes (after
//!   a short warm-up block each); time per round trip, the median of each
//!   runtime's blocks.

use crate::json::{number as json_num, string as json_str};
use crate::spin::Spin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORKERS: usize = 2;
const SLEEPS: usize = 1_000;
const BATCH_TASKS: usize = 32;
const BATCH_POLL: Duration = Duration::from_micros(100);
const CHURN_TASKS: usize = 1_024;
const CHURN_ITERS: usize = 200;
const SLEEP_CHURN_TASKS: usize = 10_000;
const SLEEP_CHURN_ROUNDS: usize = 20;
const PING_PONGS: usize = 20_000;
const PING_PONG_BLOCKS: usize = 5;
const MS: Duration = Duration::from_millis(1);

fn perf_rt(reserved: bool) -> perf_runtime::runtime::Runtime {
    let mut b = perf_runtime::runtime::Builder::new_multi_thread();
    b.worker_threads(WORKERS).enable_all();
    if reserved {
        b.reserve_critical_workers(1);
    }
    b.build().expect("build perf_runtime")
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("build tokio")
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A small deterministic PRNG (xorshift64*) for the random sleeps.
fn next_rand(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// The same workloads for each runtime: `$rt` is the crate, `$batch` and
/// `$critical` spawn a task in that class (plain `spawn` on tokio).
macro_rules! workloads {
    ($m:ident, $rt:ident, $batch:expr, $critical:expr) => {
        mod $m {
            use super::*;

            /// `n` sleeps of 1 ms in one task of the given class; the
            /// lateness of each from its requested deadline.
            pub(super) async fn sleeps(n: usize, critical: bool) -> Vec<u64> {
                let run = async move {
                    let mut out = Vec::with_capacity(n);
                    for _ in 0..n {
                        let deadline = Instant::now() + MS;
                        $rt::time::sleep(MS).await;
                        out.push(nanos(deadline.elapsed()));
                    }
                    out
                };
                if critical {
                    $critical(run).await.expect("sleeper")
                } else {
                    $rt::spawn(run).await.expect("sleeper")
                }
            }

            /// `sleeps` under a backlog of Batch tasks burning `spin` per poll.
            pub(super) async fn sleeps_under_backlog(spin: Spin) -> Vec<u64> {
                let stop = Arc::new(AtomicBool::new(false));
                let batch: Vec<_> = (0..BATCH_TASKS)
                    .map(|_| {
                        let stop = stop.clone();
                        $batch(async move {
                            let mut acc = 0u64;
                            while !stop.load(Relaxed) {
                                acc = acc.wrapping_add(spin.run());
                                $rt::task::yield_now().await;
                            }
                            std::hint::black_box(acc);
                        })
                    })
                    .collect();
                let out = sleeps(SLEEPS, true).await;
                stop.store(true, Relaxed);
                for b in batch {
                    b.await.expect("batch task");
                }
                out
            }

            /// Time per `timeout(10 ms, yield_now())` iteration.
            pub(super) async fn timeout_churn() -> Duration {
                let start = Instant::now();
                let tasks: Vec<_> = (0..CHURN_TASKS)
                    .map(|_| {
                        $rt::spawn(async {
                            for _ in 0..CHURN_ITERS {
                                let t0 = Instant::now();
                                let r = $rt::time::timeout(
                                    Duration::from_millis(10),
                                    $rt::task::yield_now(),
                                )
                                .await;
                                // On a loaded machine a yield can take 10 ms
                                // (the timeout then elapses, as it should);
                                // one that elapses sooner fired early.
                                assert!(
                                    r.is_ok() || t0.elapsed() >= Duration::from_millis(10),
                                    "a 10 ms timeout elapsed after {:?}",
                                    t0.elapsed()
                                );
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("churn task");
                }
                start.elapsed() / (CHURN_TASKS * CHURN_ITERS) as u32
            }

            /// One round: `SLEEP_CHURN_TASKS` tasks each sleeping a random
            /// 0–5 ms (from `seed`); its duration, and each sleep's lateness
            /// appended to `late`.
            pub(super) async fn sleep_churn_round(seed: &mut u64, late: &mut Vec<u64>) -> u64 {
                let start = Instant::now();
                let tasks: Vec<_> = (0..SLEEP_CHURN_TASKS)
                    .map(|_| {
                        let d = Duration::from_nanos(next_rand(seed) % 5_000_000);
                        $rt::spawn(async move {
                            let deadline = Instant::now() + d;
                            $rt::time::sleep(d).await;
                            nanos(deadline.elapsed())
                        })
                    })
                    .collect();
                for t in tasks {
                    late.push(t.await.expect("sleep task"));
                }
                nanos(start.elapsed())
            }
        }
    };
}

workloads!(
    perf,
    perf_runtime,
    |f| perf_runtime::spawn_with(perf_runtime::task::Qos::Batch, f),
    |f| perf_runtime::spawn_with(perf_runtime::task::Qos::Critical, f)
);
workloads!(tok, tokio, tokio::spawn, tokio::spawn);

/// Round trips between the calling (`block_on`) thread and a spawned task
/// on runtime `$rt`: `$n` of them, then the time per round trip.
macro_rules! ping_pong {
    ($rt:expr, $spawn:path, $n:expr) => {{
        use futures_channel::mpsc;
        use futures_util::StreamExt;
        let n: u32 = $n;
        let (mut to_task, mut task_rx) = mpsc::channel::<u32>(0);
        let (mut task_tx, mut from_task) = mpsc::channel::<u32>(0);
        $rt.block_on(async move {
            let echo = $spawn(async move {
                while let Some(v) = task_rx.next().await {
                    if send(&mut task_tx, v).await.is_err() {
                        break;
                    }
                }
            });
            let start = Instant::now();
            for i in 0..n {
                send(&mut to_task, i).await.expect("echo task alive");
                assert_eq!(from_task.next().await, Some(i));
            }
            let per = start.elapsed() / n;
            drop(to_task);
            let _ = echo.await;
            per
        })
    }};
}

/// `block_on_ping_pong`: `PING_PONG_BLOCKS` blocks of round trips on each
/// runtime, alternating perf, tokio, perf, ... (both runtimes built once);
/// each side's time is the median of its blocks. On a shared machine the
/// load drifts during a run: alternating blocks exposes both runtimes to the
/// same drift, where one long run each compared whatever load each met.
fn ping_pong_row() -> (Duration, Duration) {
    let perf_rt = perf_rt(false);
    let tokio_rt = tokio_rt();
    let per_block = (PING_PONGS / PING_PONG_BLOCKS) as u32;
    // One warm-up block each: thread start-up, first-touch of the queues.
    ping_pong!(perf_rt, perf_runtime::spawn, per_block / 4);
    ping_pong!(tokio_rt, tokio::spawn, per_block / 4);
    let mut perf = Vec::with_capacity(PING_PONG_BLOCKS);
    let mut tokio = Vec::with_capacity(PING_PONG_BLOCKS);
    for _ in 0..PING_PONG_BLOCKS {
        perf.push(nanos(ping_pong!(perf_rt, perf_runtime::spawn, per_block)));
        tokio.push(nanos(ping_pong!(tokio_rt, tokio::spawn, per_block)));
    }
    (
        Duration::from_nanos(pct(&mut perf, 0.5)),
        Duration::from_nanos(pct(&mut tokio, 0.5)),
    )
}

async fn send<T>(
    tx: &mut futures_channel::mpsc::Sender<T>,
    v: T,
) -> Result<(), futures_channel::mpsc::SendError> {
    std::future::poll_fn(|cx| tx.poll_ready(cx)).await?;
    tx.start_send(v)
}

/// One row of the report.
enum Row {
    Latency {
        bench: &'static str,
        perf: Vec<u64>,
        tokio: Vec<u64>,
    },
    Throughput {
        bench: &'static str,
        perf: Duration,
        tokio: Duration,
        /// `sleep_churn` also reports lateness.
        late: Option<(Vec<u64>, Vec<u64>)>,
    },
}

fn pct(v: &mut [u64], q: f64) -> u64 {
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

fn latency_fields(perf: &mut [u64], tokio: &mut [u64]) -> (u64, u64, u64, u64, f64) {
    let (pp50, pp99) = (pct(perf, 0.5), pct(perf, 0.99));
    let (tp50, tp99) = (pct(tokio, 0.5), pct(tokio, 0.99));
    (pp50, pp99, tp50, tp99, pp99 as f64 / tp99.max(1) as f64)
}

fn print(row: Row, json: bool) {
    match row {
        Row::Latency {
            bench,
            mut perf,
            mut tokio,
        } => {
            let (pp50, pp99, tp50, tp99, ratio) = latency_fields(&mut perf, &mut tokio);
            if json {
                println!(
                    "{{\"bench\":{},\"perf_p50_ns\":{pp50},\"perf_p99_ns\":{pp99},\"tokio_p50_ns\":{tp50},\"tokio_p99_ns\":{tp99},\"ratio_p99\":{}}}",
                    json_str(bench),
                    json_num(ratio)
                );
            } else {
                println!(
                    "{bench:<24} lateness p50/p99  perf {:>8.1} / {:>8.1} µs   tokio {:>8.1} / {:>8.1} µs   p99 ratio {ratio:.3}",
                    pp50 as f64 / 1e3,
                    pp99 as f64 / 1e3,
                    tp50 as f64 / 1e3,
                    tp99 as f64 / 1e3
                );
            }
        }
        Row::Throughput {
            bench,
            perf,
            tokio,
            late,
        } => {
            let (p, t) = (nanos(perf), nanos(tokio));
            let ratio = p as f64 / t.max(1) as f64;
            let late = late.map(|(mut pl, mut tl)| latency_fields(&mut pl, &mut tl));
            if json {
                let extra = late.map_or(String::new(), |(pp50, pp99, tp50, tp99, r)| {
                    format!(
                        ",\"perf_p50_ns\":{pp50},\"perf_p99_ns\":{pp99},\"tokio_p50_ns\":{tp50},\"tokio_p99_ns\":{tp99},\"ratio_p99\":{}",
                        json_num(r)
                    )
                });
                println!(
                    "{{\"bench\":{},\"perf_ns\":{p},\"tokio_ns\":{t},\"ratio\":{}{extra}}}",
                    json_str(bench),
                    json_num(ratio)
                );
            } else {
                println!(
                    "{bench:<24} time              perf {:>10.3} µs      tokio {:>10.3} µs      ratio {ratio:.3}",
                    p as f64 / 1e3,
                    t as f64 / 1e3
                );
                if let Some((pp50, pp99, tp50, tp99, r)) = late {
                    println!(
                        "{:<24} lateness p50/p99  perf {:>8.1} / {:>8.1} µs   tokio {:>8.1} / {:>8.1} µs   p99 ratio {r:.3}",
                        "",
                        pp50 as f64 / 1e3,
                        pp99 as f64 / 1e3,
                        tp50 as f64 / 1e3,
                        tp99 as f64 / 1e3
                    );
                }
            }
        }
    }
}

/// The platform's floor for `sleep_idle`: a plain thread (timer slack
/// lowered to 1 ns, as perf_runtime's workers do) waiting 1 ms on a condvar
/// (a futex with a timeout) `SLEEPS` times; the lateness of each wake from
/// its deadline. No runtime can wake a sleeping thread sooner than this
/// without spinning; on a virtual machine it is tens of µs.
fn os_floor() -> Vec<u64> {
    std::thread::spawn(|| {
        // PR_SET_TIMERSLACK takes the slack by value and only affects the
        // calling thread (the one spawned here).
        // SAFETY: a plain prctl on this thread, no pointers.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
        let lock = std::sync::Mutex::new(());
        let cv = std::sync::Condvar::new();
        let mut out = Vec::with_capacity(SLEEPS);
        for _ in 0..SLEEPS {
            let deadline = Instant::now() + MS;
            let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                guard = cv
                    .wait_timeout(guard, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            drop(guard);
            out.push(nanos(deadline.elapsed()));
        }
        out
    })
    .join()
    .expect("floor thread")
}

/// `--perf-only` / `--tokio-only`: one runtime's `sleep_churn` rounds
/// alone (the median round time and the lateness p50/p99), for a profiler.
/// Both draw the same sleeps (same seed), so instruction counts from the two
/// divide into a per-sleep ratio.
fn churn_only(tokio_side: bool, json: bool) -> ExitCode {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut late = Vec::with_capacity(SLEEP_CHURN_TASKS * SLEEP_CHURN_ROUNDS);
    let mut rounds = Vec::with_capacity(SLEEP_CHURN_ROUNDS);
    if tokio_side {
        let rt = tokio_rt();
        for _ in 0..SLEEP_CHURN_ROUNDS {
            rounds.push(rt.block_on(tok::sleep_churn_round(&mut seed, &mut late)));
        }
    } else {
        let rt = perf_rt(false);
        for _ in 0..SLEEP_CHURN_ROUNDS {
            rounds.push(rt.block_on(perf::sleep_churn_round(&mut seed, &mut late)));
        }
    }
    let (side, who) = if tokio_side {
        ("tokio", "tokio")
    } else {
        ("perf", "perf_runtime")
    };
    let round = pct(&mut rounds, 0.5);
    let (p50, p99) = (pct(&mut late, 0.5), pct(&mut late, 0.99));
    if json {
        println!(
            "{{\"bench\":{},\"{side}_ns\":{round},\"{side}_p50_ns\":{p50},\"{side}_p99_ns\":{p99}}}",
            json_str(&format!("sleep_churn_{side}_only"))
        );
    } else {
        println!(
            "{:<24} time {side} {:>10.3} µs   lateness p50/p99 {:>8.1} / {:>8.1} µs ({who} only)",
            "sleep_churn",
            round as f64 / 1e3,
            p50 as f64 / 1e3,
            p99 as f64 / 1e3
        );
    }
    ExitCode::SUCCESS
}

const ROWS: [&str; 6] = [
    "sleep_idle",
    "sleep_backlog",
    "sleep_backlog_reserved",
    "timeout_churn",
    "sleep_churn",
    "block_on_ping_pong",
];

/// `compare -- timers [--json] [--perf-only | --tokio-only] [ROW...]`: with
/// row names, only those rows. `--perf-only` (`sleep_churn` only) runs
/// perf_runtime's rounds alone, for a profiler (`valgrind --tool=callgrind`):
/// no tokio runtime is built and no other row runs. `--tokio-only` is its
/// counterpart: tokio's rounds alone (the same sleeps), no perf_runtime
/// runtime built, so the two instruction counts compare per sleep.
pub fn main(args: &[String]) -> ExitCode {
    let mut json = false;
    let mut perf_only = false;
    let mut tokio_only = false;
    let mut only: Vec<&str> = Vec::new();
    for a in args {
        match a.as_str() {
            "--json" => json = true,
            "--perf-only" => perf_only = true,
            "--tokio-only" => tokio_only = true,
            row if ROWS.contains(&row) => only.push(row),
            other => {
                eprintln!(
                    "compare timers: unknown argument `{other}`; options: --json, --perf-only, --tokio-only and row names ({})",
                    ROWS.join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
    if perf_only && tokio_only {
        eprintln!("compare timers: --perf-only and --tokio-only exclude each other");
        return ExitCode::from(2);
    }
    if perf_only || tokio_only {
        return churn_only(tokio_only, json);
    }
    let want = |row: &str| only.is_empty() || only.contains(&row);
    if !json {
        println!(
            "compare -- timers: {WORKERS} workers, enable_all on both; lateness from the \
             requested deadline, nothing subtracted; one run"
        );
    }
    // Only the backlog rows use it; calibrating takes a moment.
    let spin = || Spin::calibrate(BATCH_POLL);

    if want("sleep_idle") {
        let perf = perf_rt(false).block_on(perf::sleeps(SLEEPS, false));
        let tokio = tokio_rt().block_on(tok::sleeps(SLEEPS, false));
        print(
            Row::Latency {
                bench: "sleep_idle",
                perf,
                tokio,
            },
            json,
        );
        let mut floor = os_floor();
        let (p50, p99) = (pct(&mut floor, 0.5), pct(&mut floor, 0.99));
        if json {
            println!(
                "{{\"bench\":{},\"p50_ns\":{p50},\"p99_ns\":{p99}}}",
                json_str("sleep_idle_os_floor")
            );
        } else {
            println!(
                "{:<24} lateness p50/p99  a plain thread's 1 ms futex wait {:>8.1} / {:>8.1} µs (the platform's floor)",
                "",
                p50 as f64 / 1e3,
                p99 as f64 / 1e3
            );
        }
    }

    if want("sleep_backlog") || want("sleep_backlog_reserved") {
        let spin = spin();
        let tokio_backlog = tokio_rt().block_on(tok::sleeps_under_backlog(spin));
        if want("sleep_backlog") {
            let perf = perf_rt(false).block_on(perf::sleeps_under_backlog(spin));
            print(
                Row::Latency {
                    bench: "sleep_backlog",
                    perf,
                    tokio: tokio_backlog.clone(),
                },
                json,
            );
        }
        if want("sleep_backlog_reserved") {
            let perf = perf_rt(true).block_on(perf::sleeps_under_backlog(spin));
            print(
                Row::Latency {
                    bench: "sleep_backlog_reserved",
                    perf,
                    tokio: tokio_backlog,
                },
                json,
            );
        }
    }

    if want("timeout_churn") {
        let perf = perf_rt(false).block_on(perf::timeout_churn());
        let tokio = tokio_rt().block_on(tok::timeout_churn());
        print(
            Row::Throughput {
                bench: "timeout_churn",
                perf,
                tokio,
                late: None,
            },
            json,
        );
    }

    if want("sleep_churn") {
        // Rounds alternate between the runtimes (both built once), each
        // side's rounds drawing the same sleeps, so load drift hits both.
        let (perf_rt, tokio_rt) = (perf_rt(false), tokio_rt());
        let (mut perf_seed, mut tokio_seed) = (0x9e37_79b9_7f4a_7c15u64, 0x9e37_79b9_7f4a_7c15u64);
        let mut perf_late = Vec::with_capacity(SLEEP_CHURN_TASKS * SLEEP_CHURN_ROUNDS);
        let mut tokio_late = Vec::with_capacity(SLEEP_CHURN_TASKS * SLEEP_CHURN_ROUNDS);
        let mut perf_rounds = Vec::with_capacity(SLEEP_CHURN_ROUNDS);
        let mut tokio_rounds = Vec::with_capacity(SLEEP_CHURN_ROUNDS);
        for _ in 0..SLEEP_CHURN_ROUNDS {
            perf_rounds
                .push(perf_rt.block_on(perf::sleep_churn_round(&mut perf_seed, &mut perf_late)));
            tokio_rounds
                .push(tokio_rt.block_on(tok::sleep_churn_round(&mut tokio_seed, &mut tokio_late)));
        }
        print(
            Row::Throughput {
                bench: "sleep_churn",
                perf: Duration::from_nanos(pct(&mut perf_rounds, 0.5)),
                tokio: Duration::from_nanos(pct(&mut tokio_rounds, 0.5)),
                late: Some((perf_late, tokio_late)),
            },
            json,
        );
    }

    if want("block_on_ping_pong") {
        let (perf, tokio) = ping_pong_row();
        print(
            Row::Throughput {
                bench: "block_on_ping_pong",
                perf,
                tokio,
                late: None,
            },
            json,
        );
    }
    ExitCode::SUCCESS
}
