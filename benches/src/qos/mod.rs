//! The `qos` benchmark: how long a latency-critical task waits for the CPU
//! while a Batch backlog keeps every worker busy, on perf_runtime and tokio.
//!
//! The backlog is [`BATCH_PER_WORKER`] tasks per worker, each burning a
//! calibrated ~100 µs of CPU per poll ([`crate::spin`]) and then yielding,
//! for the whole measurement (Batch class on perf_runtime, plain tasks on
//! tokio). One critical task (`Qos::Critical` on perf_runtime, a plain task
//! on tokio) is woken in one of three [`Mode`]s and records each wake's delay.
//!
//! A mode runs [`ROUNDS`] rounds; in each round every runtime (the perf
//! variants of [`PERF_VARIANTS`] and tokio) takes its share of the wakes in
//! turn, the order rotating, so all of them share the machine's noise. Only
//! one runtime has a backlog at a time; the others' workers are parked.
//!
//! What lives where: `round.rs` runs one round on one runtime (backlog,
//! critical task, outside thread, deadlines); `report.rs` turns results into
//! the table and the JSON lines.

mod report;
mod round;

use std::thread;
use std::time::Duration;

use perf_runtime::runtime::Builder;

pub use report::{json_line, table_header, table_notes, table_row, Figures, Row};
pub use round::RoundResult;

use crate::rt::{Perf, Rt, Tokio};
use crate::spin::Spin;
use crate::stats::Tail;
use crate::workloads::WORKERS;

/// Batch tasks per worker thread.
pub const BATCH_PER_WORKER: usize = 16;
/// Batch tasks in the backlog.
pub const BATCH_TASKS: usize = BATCH_PER_WORKER * WORKERS;
/// CPU burnt by one Batch poll (on an undisturbed core).
pub const BATCH_POLL: Duration = Duration::from_micros(100);
/// Interval of the outside thread's sends, and the mean of the timer mode's
/// requested sleeps (see [`timer_sleep`]).
pub const PERIOD: Duration = Duration::from_millis(1);
/// Measured wakes per mode and runtime unless `--wakes` says otherwise.
pub const DEFAULT_WAKES: usize = 3_000;
/// Rounds a mode's wakes are split into, interleaved between the runtimes.
pub const ROUNDS: usize = 3;
/// Wakes dropped at the start of every round (backlog reaching steady state).
pub const WARMUP_WAKES: usize = 20;
/// Pause before each round so the previous runtime's workers have parked.
const SETTLE: Duration = Duration::from_millis(5);

/// A perf_runtime configuration measured against the same tokio run.
#[derive(Clone, Copy, Debug)]
pub struct PerfVariant {
    /// Appended to the bench name (`qos_timer` + `_reserved`); `""` for the
    /// plain runtime.
    pub suffix: &'static str,
    /// Applied to a `Builder::new_multi_thread()` that already has 2 workers
    /// and every driver enabled, before `build()`.
    pub configure: fn(&mut Builder),
}

/// The perf_runtime variants every `qos` mode runs, in report order.
///
/// Each variant's runtime is built by its `configure` function; tokio runs
/// once per mode and every variant is compared with that same tokio run.
pub const PERF_VARIANTS: &[PerfVariant] = &[
    PerfVariant {
        suffix: "",
        configure: |_| {},
    },
    // Reserved critical workers (`Builder::reserve_critical_workers`, issue 3).
    // One of the two workers only runs Critical tasks: the Batch backlog
    // gets one worker, by design.
    PerfVariant {
        suffix: "_reserved",
        configure: |b| {
            b.reserve_critical_workers(1);
        },
    },
];

/// How the critical task is woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A plain std thread sends on a `futures_channel::mpsc` channel every
    /// 1 ms; delay = send instant → the receive returning in the task.
    Outside,
    /// The task asks the runtime's own timer for a sleep of [`timer_sleep`]
    /// (0.5..1.5 ms, not a whole number of ms); delay = wake − the deadline
    /// it asked for (`Instant::now() + d`, taken before the sleep).
    Timer,
    /// As `Outside`, but the thread wakes a Normal relay task that forwards
    /// to the critical task; delay = outside send → critical receive.
    Inside,
}

impl Mode {
    /// All modes, in report order.
    pub const ALL: [Mode; 3] = [Mode::Outside, Mode::Timer, Mode::Inside];

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Outside => "outside",
            Mode::Timer => "timer",
            Mode::Inside => "inside",
        }
    }

    /// Looks a mode up by [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Mode> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The reported bench name of this mode for a perf variant.
    pub fn bench_name(self, variant: &PerfVariant) -> String {
        format!("qos_{}{}", self.name(), variant.suffix)
    }
}

/// Splits `n` wakes into `rounds` shares that differ by at most one.
pub fn split_rounds(n: usize, rounds: usize) -> Vec<usize> {
    let rounds = rounds.max(1);
    (0..rounds)
        .map(|r| n / rounds + usize::from(r < n % rounds))
        .collect()
}

/// The `k`-th sleep the timer mode's critical task asks for:
/// `PERIOD / 2 + frac(k / φ) × PERIOD`, so 0.5..1.5 ms with a mean of 1 ms.
///
/// Why not whole milliseconds: tokio's timer has 1 ms ticks and rounds a
/// deadline up to one (perf_runtime's fires at the exact deadline), so where
/// a deadline falls within tokio's millisecond decides much of its lateness.
/// A sleep that starts on a timer wake (just after a tick) and lasts whole
/// milliseconds asks for a deadline just after a tick every time, and a grid
/// of deadlines laid just before the ticks (this benchmark's old method)
/// always waits almost none. A user's deadlines fall anywhere within a tick;
/// the fractional part of `k / φ` (a Weyl sequence of the golden ratio,
/// irrational) spreads ours evenly over it, and as a pure function of `k` it
/// is the same sequence on every runtime.
pub fn timer_sleep(k: u64) -> Duration {
    // frac(k / φ) in 64-bit fixed point: 2^64 / φ, truncated, is this
    // constant (the splitmix64 increment).
    const INV_PHI_2_64: u64 = 0x9E37_79B9_7F4A_7C15;
    let frac = k.wrapping_mul(INV_PHI_2_64);
    let period_ns = PERIOD.as_nanos() as u64;
    let offset_ns = ((u128::from(frac) * u128::from(period_ns)) >> 64) as u64;
    Duration::from_nanos(period_ns / 2 + offset_ns)
}

/// All the rounds of one runtime in one mode.
#[derive(Clone, Debug, Default)]
pub struct SideResult {
    /// Delay of every measured wake, ns, as measured (nothing subtracted).
    pub delays_ns: Vec<u64>,
    /// Batch polls during the measured windows.
    pub batch_polls: u64,
    /// Total length of the measured windows.
    pub window: Duration,
}

impl SideResult {
    fn add(&mut self, round: RoundResult) {
        self.delays_ns.extend(round.delays_ns);
        self.batch_polls += round.batch_polls;
        self.window += round.window;
    }

    /// Batch polls per second over the measured windows.
    pub fn batch_polls_per_s(&self) -> f64 {
        self.batch_polls as f64 / self.window.as_secs_f64()
    }

    /// The figures reported for this side. Panics if nothing was measured.
    pub fn figures(&self) -> Figures {
        Figures {
            tail: Tail::of_ns(&self.delays_ns),
            batch_polls_per_s: self.batch_polls_per_s(),
        }
    }
}

/// One mode's results: every perf variant (in [`PERF_VARIANTS`] order) and
/// tokio.
#[derive(Debug)]
pub struct ModeResult {
    /// The mode.
    pub mode: Mode,
    /// One result per perf variant.
    pub perf: Vec<(PerfVariant, SideResult)>,
    /// tokio's result.
    pub tokio: SideResult,
}

impl ModeResult {
    /// One report row per perf variant, each against tokio.
    pub fn rows(&self) -> Vec<Row> {
        let tokio = self.tokio.figures();
        self.perf
            .iter()
            .map(|(variant, side)| Row {
                bench: self.mode.bench_name(variant),
                perf: side.figures(),
                tokio,
            })
            .collect()
    }
}

/// Runs `mode` with `wakes` measured wakes on each perf variant and on tokio
/// (fresh runtimes, dropped at the end), rounds interleaved.
///
/// On error the runtimes are leaked, not shut down (one may be stuck); the
/// caller is expected to exit.
pub fn run_mode(
    mode: Mode,
    wakes: usize,
    spin: Spin,
    variants: &[PerfVariant],
) -> Result<ModeResult, String> {
    let label = |v: &PerfVariant| format!("perf{}", v.suffix);
    let mut perfs = Vec::with_capacity(variants.len());
    for v in variants {
        let rt = Perf::build_with(WORKERS, v.configure)
            .map_err(|e| format!("building {}: {e}", label(v)))?;
        perfs.push(rt);
    }
    let tokio = Tokio::build(WORKERS).map_err(|e| format!("building tokio: {e}"))?;
    let sides = perfs.len() + 1;
    let mut results = vec![SideResult::default(); sides];
    // Index of the round's first timer sleep in `timer_sleep`'s sequence:
    // every runtime asks for the same sleeps in the same round.
    let mut first_sleep = 0;
    for (r, &share) in split_rounds(wakes, ROUNDS).iter().enumerate() {
        if share == 0 {
            continue;
        }
        for i in 0..sides {
            let s = (i + r) % sides;
            let plan = round::RoundPlan {
                wakes: share,
                warmup: WARMUP_WAKES,
                spin,
                first_sleep,
            };
            thread::sleep(SETTLE);
            let outcome = match perfs.get(s) {
                Some(rt) => round::run_round(rt, mode, &plan)
                    .map_err(|e| format!("{} round {}: {e}", label(&variants[s]), r + 1)),
                None => round::run_round(&tokio, mode, &plan)
                    .map_err(|e| format!("tokio round {}: {e}", r + 1)),
            };
            match outcome {
                Ok(res) => results[s].add(res),
                Err(e) => {
                    std::mem::forget(perfs);
                    std::mem::forget(tokio);
                    return Err(e);
                }
            }
        }
        first_sleep += (WARMUP_WAKES + share) as u64;
    }
    drop(perfs);
    drop(tokio);
    let tokio = results.pop().expect("sides > 0");
    Ok(ModeResult {
        mode,
        perf: variants.iter().copied().zip(results).collect(),
        tokio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_split_evenly_and_sum_up() {
        assert_eq!(split_rounds(3_000, 3), vec![1_000, 1_000, 1_000]);
        assert_eq!(split_rounds(3_001, 3), vec![1_001, 1_000, 1_000]);
        assert_eq!(split_rounds(2, 3), vec![1, 1, 0]);
        assert_eq!(split_rounds(5, 0), vec![5]);
        for n in 0..50 {
            let s = split_rounds(n, ROUNDS);
            assert_eq!(s.iter().sum::<usize>(), n);
            assert!(s.iter().max().unwrap() - s.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn timer_sleeps_spread_over_the_millisecond() {
        let sleeps: Vec<Duration> = (0..1_000).map(timer_sleep).collect();
        let ns = |d: &Duration| d.as_nanos() as u64;
        // 0.5..1.5 ms, mean 1 ms: one wake per ms on average, like the
        // other modes.
        assert!(sleeps
            .iter()
            .all(|d| *d >= PERIOD / 2 && *d < PERIOD * 3 / 2));
        let mean = sleeps.iter().map(ns).sum::<u64>() as f64 / 1_000.0;
        assert!((mean / 1e6 - 1.0).abs() < 0.01, "{mean}");
        // Not aligned to 1 ms: the position within the millisecond covers
        // every tenth of it about equally (a whole-ms grid, or one fixed
        // offset, puts every sleep in one bucket).
        let mut buckets = [0u32; 10];
        for d in &sleeps {
            buckets[(ns(d) % 1_000_000 / 100_000) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (90..=110).contains(&n)),
            "{buckets:?}"
        );
        // A pure function of the index: every runtime gets the same sleeps.
        assert_eq!(timer_sleep(0), PERIOD / 2);
        assert_eq!(timer_sleep(1), Duration::from_nanos(1_118_033));
        assert_eq!(timer_sleep(12_345), timer_sleep(12_345));
    }

    #[test]
    fn mode_and_bench_names() {
        for m in Mode::ALL {
            assert_eq!(Mode::from_name(m.name()), Some(m));
        }
        assert_eq!(Mode::from_name("qos_timer"), None);
        let reserved = PerfVariant {
            suffix: "_reserved",
            configure: |_| {},
        };
        assert_eq!(Mode::Timer.bench_name(&PERF_VARIANTS[0]), "qos_timer");
        assert_eq!(Mode::Inside.bench_name(&reserved), "qos_inside_reserved");
    }

    #[test]
    fn side_results_accumulate_rounds() {
        let mut side = SideResult::default();
        side.add(RoundResult {
            delays_ns: vec![1, 2],
            batch_polls: 1_000,
            window: Duration::from_millis(100),
        });
        side.add(RoundResult {
            delays_ns: vec![3],
            batch_polls: 3_000,
            window: Duration::from_millis(100),
        });
        assert_eq!(side.delays_ns, vec![1, 2, 3]);
        assert_eq!(side.batch_polls_per_s(), 20_000.0);
        assert_eq!(side.figures().tail.p50, 2.0);
    }

    /// Every mode completes on both runtimes and yields the requested number
    /// of measured wakes per side (few wakes: this is a smoke test, not a
    /// measurement).
    #[test]
    fn every_mode_completes_on_both_runtimes() {
        let spin = Spin::with_iterations(1_000);
        for mode in Mode::ALL {
            let res = run_mode(mode, 6, spin, PERF_VARIANTS).expect("mode runs");
            assert_eq!(res.perf.len(), PERF_VARIANTS.len());
            for (_, side) in &res.perf {
                assert_eq!(side.delays_ns.len(), 6);
            }
            assert_eq!(res.tokio.delays_ns.len(), 6);
            assert_eq!(res.rows().len(), PERF_VARIANTS.len());
        }
    }
}
