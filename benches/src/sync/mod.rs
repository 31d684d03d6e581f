//! The `sync` benchmark: `perf_runtime::sync` against `tokio::sync`, each on
//! its own multi-thread runtime with 2 workers, in one process.
//!
//! A sample is one timed loop of many operations inside a task of the
//! runtime under test; its figure is the loop's time divided by its
//! operation count (ns per operation). The runtimes of a benchmark take
//! their samples in turn, the order rotating every round, after unmeasured
//! warm-up rounds; the report gives median, p10 and p90 per runtime.
//!
//! The uncontended mutex loop is also measured with perf_runtime's
//! validation engine switched off and in `Report` mode, to price validation:
//! [`VALIDATION_SWITCH`] is the one place that says how to switch it.
//!
//! What lives where: `api.rs` is the trait over the two sync APIs,
//! `workloads.rs` the workloads written once against it, `report.rs` the
//! table and JSON lines; this file runs the samples.

pub mod api;
mod report;
pub mod workloads;

use perf_runtime::validation::Mode;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use perf_runtime::runtime::Builder;

pub use report::{json_line, table_header, table_row, validation_note, Row, ValidationPair};

use crate::rt::{Perf, Placement, Rt, Tokio};
use crate::workloads::WORKERS;
use api::SyncRt;

/// Measured samples per runtime and benchmark unless `--samples` says
/// otherwise.
pub const DEFAULT_SAMPLES: usize = 51;
/// Unmeasured warm-up samples per runtime and benchmark unless `--warmup`
/// says otherwise.
pub const DEFAULT_WARMUP: usize = 3;
/// Time after which a benchmark stops taking samples (once it has
/// [`MIN_SAMPLES`]); the figures then rest on fewer samples, and say so.
pub const BENCH_BUDGET: Duration = Duration::from_secs(30);
/// Samples a benchmark takes even past its budget.
pub const MIN_SAMPLES: usize = 5;
/// A sample not finished by then fails the run (a lost wake-up, a hang).
pub const SAMPLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before each sample (not timed), so the runtime that just ran has
/// parked its workers before the next one starts.
const SETTLE: Duration = Duration::from_millis(2);

// ---------------------------------------------------------------------------
// VALIDATION PAIR: how perf_runtime is put in each validation mode.
// ---------------------------------------------------------------------------

/// How to put perf_runtime in each validation mode of the uncontended pair
/// (`None` would measure only the `Off` side and leave out the `off_ns` /
/// `report_ns` / `overhead` fields). A process-wide alternative would be
/// `before_sample: |v| perf_runtime::validation::set_mode(..)`, switched
/// before every sample of that side.
pub const VALIDATION_SWITCH: Option<ValidationSwitch> = Some(ValidationSwitch {
    // `Builder::validation` sets the mode of that runtime's threads only, so
    // the Off and Report runtimes can live side by side.
    configure: |b, v| {
        b.validation(match v {
            Validation::Off => Mode::Off,
            Validation::Report => Mode::Report,
        });
    },
    before_sample: |_| {},
});

/// The two validation modes the uncontended mutex loop is priced in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// No checks: the bare primitive.
    Off,
    /// Record and report violations: perf_runtime's default mode.
    Report,
}

/// How to switch perf_runtime's validation mode; see [`VALIDATION_SWITCH`].
#[derive(Clone, Copy, Debug)]
pub struct ValidationSwitch {
    /// Applied to the builder of the perf runtime that runs in this mode,
    /// after 2 workers and every driver have been set, before `build()`.
    pub configure: fn(&mut Builder, Validation),
    /// Called right before every sample (warm-up included) of a perf side
    /// of the pair, with that side's mode; and with `Report` once the pair
    /// is done, so the other benchmarks run in the default mode.
    pub before_sample: fn(Validation),
}

fn configure_off(b: &mut Builder) {
    if let Some(switch) = VALIDATION_SWITCH {
        (switch.configure)(b, Validation::Off);
    }
}

fn configure_report(b: &mut Builder) {
    if let Some(switch) = VALIDATION_SWITCH {
        (switch.configure)(b, Validation::Report);
    }
}

fn before_sample(mode: Validation) {
    if let Some(switch) = VALIDATION_SWITCH {
        (switch.before_sample)(mode);
    }
}

// ---------------------------------------------------------------------------

/// The benchmarks, each a workload of [`workloads`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bench {
    /// One task: lock, add one, unlock; nobody else on the mutex. Also
    /// measured with validation off and in `Report` mode.
    MutexUncontended,
    /// 8 tasks on 2 workers: lock, add one, unlock, on one mutex.
    MutexContended,
    /// 8 tasks: 9 reads to 1 write on one `RwLock`.
    RwLockReadHeavy,
    /// 8 tasks: acquire and release one of 4 permits.
    Semaphore,
    /// One producer task, the driver receiving, bounded channel.
    Mpsc1,
    /// Four producer tasks, the driver receiving, bounded channel.
    Mpsc4,
    /// Request and reply on fresh oneshots between two tasks.
    OneshotRoundTrip,
}

impl Bench {
    /// All benchmarks, in report order.
    pub const ALL: [Bench; 7] = [
        Bench::MutexUncontended,
        Bench::MutexContended,
        Bench::RwLockReadHeavy,
        Bench::Semaphore,
        Bench::Mpsc1,
        Bench::Mpsc4,
        Bench::OneshotRoundTrip,
    ];

    /// Name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bench::MutexUncontended => "mutex_uncontended",
            Bench::MutexContended => "mutex_contended",
            Bench::RwLockReadHeavy => "rwlock_read_heavy",
            Bench::Semaphore => "semaphore",
            Bench::Mpsc1 => "mpsc_bounded_1p",
            Bench::Mpsc4 => "mpsc_bounded_4p",
            Bench::OneshotRoundTrip => "oneshot_round_trip",
        }
    }

    /// Looks a benchmark up by [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Bench> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Operations in one sample: what its time is divided by.
    pub fn ops(self) -> u64 {
        use workloads::*;
        match self {
            Bench::MutexUncontended => UNCONTENDED_OPS,
            Bench::MutexContended | Bench::RwLockReadHeavy | Bench::Semaphore => {
                TASKS * OPS_PER_TASK
            }
            Bench::Mpsc1 | Bench::Mpsc4 => MESSAGES,
            Bench::OneshotRoundTrip => ROUND_TRIPS,
        }
    }

    /// Runs one sample's workload in the current task of runtime `R`.
    pub async fn run<R: SyncRt>(self) -> Result<Duration, String> {
        match self {
            Bench::MutexUncontended => workloads::mutex_uncontended::<R>(self.ops()).await,
            Bench::MutexContended => workloads::mutex_contended::<R>().await,
            Bench::RwLockReadHeavy => workloads::rwlock_read_heavy::<R>().await,
            Bench::Semaphore => workloads::semaphore::<R>().await,
            Bench::Mpsc1 => workloads::mpsc_bounded::<R>(1).await,
            Bench::Mpsc4 => workloads::mpsc_bounded::<R>(4).await,
            Bench::OneshotRoundTrip => workloads::oneshot_round_trip::<R>().await,
        }
    }
}

/// How many samples to take.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Measured samples per runtime (fewer if [`budget`](Self::budget) runs
    /// out, never fewer than [`MIN_SAMPLES`] or `samples`, whichever is less).
    pub samples: usize,
    /// Unmeasured warm-up samples per runtime.
    pub warmup: usize,
    /// Time after which sampling stops early.
    pub budget: Duration,
    /// A/A check: tokio in both columns (no validation pair).
    pub tokio_vs_tokio: bool,
    /// A/A check of the validation pair: its second perf side also runs
    /// with validation off, so `off_ratio` shows the noise floor that
    /// `overhead` is read against.
    pub off_vs_off: bool,
    /// Where the runtimes' threads run: [`Placement::Pinned`] unless
    /// `--unpinned` (see [`Placement::Pinned`] for why).
    pub placement: Placement,
}

/// One side of a benchmark: a name for errors and a closure taking one
/// sample (ns per operation).
pub struct Arm<'a> {
    /// Which runtime / mode, for error messages.
    pub name: &'static str,
    /// Takes one sample.
    pub sample: Box<dyn FnMut() -> Result<f64, String> + 'a>,
}

/// The order the `n` arms run in during round `round`: rotated by one each
/// round, so no arm always follows the same other arm.
pub fn rotation(round: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| (round + k) % n)
}

/// `warmup` unmeasured rounds, then up to `samples` measured ones, each
/// round taking one sample of every arm in [`rotation`] order. Stops early
/// once `budget` has passed since the start and at least
/// `min(samples, MIN_SAMPLES)` rounds were measured. Returns the measured
/// samples per arm, in `arms` order, all of the same length.
pub fn interleave(
    arms: &mut [Arm<'_>],
    warmup: usize,
    samples: usize,
    budget: Duration,
) -> Result<Vec<Vec<f64>>, String> {
    let start = Instant::now();
    let n = arms.len();
    let mut out = vec![Vec::with_capacity(samples); n];
    for round in 0..warmup + samples {
        for i in rotation(round, n) {
            let arm = &mut arms[i];
            let ns = (arm.sample)().map_err(|e| format!("{}: {e}", arm.name))?;
            if round >= warmup {
                out[i].push(ns);
            }
        }
        let measured = (round + 1).saturating_sub(warmup);
        if measured >= samples.min(MIN_SAMPLES) && start.elapsed() > budget {
            break;
        }
    }
    Ok(out)
}

/// `elapsed` spread over `ops` operations, in ns.
pub fn per_op_ns(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops.max(1) as f64
}

/// One sample of `bench` on `rt`: the workload runs in a spawned task (so
/// task-keyed state such as validation contexts is the one a service
/// sees) and the main thread waits for its result, at most
/// [`SAMPLE_TIMEOUT`].
pub fn sample<R: SyncRt>(rt: &R, bench: Bench) -> Result<f64, String> {
    std::thread::sleep(SETTLE);
    let (tx, rx) = sync_channel(1);
    rt.spawn_remote(async move {
        let _ = tx.send(bench.run::<R>().await);
    });
    match rx.recv_timeout(SAMPLE_TIMEOUT) {
        Ok(result) => result.map(|elapsed| per_op_ns(elapsed, bench.ops())),
        Err(RecvTimeoutError::Timeout) => Err(format!(
            "a sample did not finish within {}s (lost wake-up?)",
            SAMPLE_TIMEOUT.as_secs()
        )),
        Err(RecvTimeoutError::Disconnected) => {
            Err("the sample's task ended without a result (it panicked?)".to_owned())
        }
    }
}

/// Runs `bench` per `cfg`. An error names the runtime whose sample failed;
/// that runtime may be stuck, so callers should exit rather than drop it.
pub fn run(bench: Bench, cfg: &Config) -> Result<Row, String> {
    let build = |e: std::io::Error| format!("building a runtime: {e}");
    if cfg.tokio_vs_tokio {
        let a = Tokio::build_placed(WORKERS, cfg.placement).map_err(build)?;
        let b = Tokio::build_placed(WORKERS, cfg.placement).map_err(build)?;
        return plain(bench, cfg, &a, &b);
    }
    let tokio = Tokio::build_placed(WORKERS, cfg.placement).map_err(build)?;
    if bench != Bench::MutexUncontended {
        let perf = Perf::build_placed(WORKERS, cfg.placement).map_err(build)?;
        return plain(bench, cfg, &perf, &tokio);
    }

    // The validation pair: perf with validation off, perf in Report mode
    // (when this build can switch it), tokio; one runtime each.
    let off = Perf::build_placed_with(WORKERS, cfg.placement, configure_off).map_err(build)?;
    let second = if cfg.off_vs_off {
        Some(Validation::Off)
    } else {
        VALIDATION_SWITCH.map(|_| Validation::Report)
    };
    let report = match second {
        Some(Validation::Report) => {
            Some(Perf::build_placed_with(WORKERS, cfg.placement, configure_report).map_err(build)?)
        }
        Some(Validation::Off) => {
            Some(Perf::build_placed_with(WORKERS, cfg.placement, configure_off).map_err(build)?)
        }
        None => None,
    };
    let mut arms = vec![
        Arm {
            name: "perf (validation off)",
            sample: Box::new(|| {
                before_sample(Validation::Off);
                sample(&off, bench)
            }),
        },
        Arm {
            name: "tokio",
            sample: Box::new(|| sample(&tokio, bench)),
        },
    ];
    if let (Some(report), Some(mode)) = (&report, second) {
        arms.push(Arm {
            name: match mode {
                Validation::Report => "perf (validation report)",
                Validation::Off => "perf (validation off, second runtime)",
            },
            sample: Box::new(move || {
                before_sample(mode);
                sample(report, bench)
            }),
        });
    }
    let samples = interleave(&mut arms, cfg.warmup, cfg.samples, cfg.budget)?;
    before_sample(Validation::Report);
    let (off, tokio) = (&samples[0], &samples[1]);
    Ok(match samples.get(2) {
        // Report is the default mode: it is what perf_ns compares. In the
        // A/A check perf_ns stays the first off side.
        Some(second) => {
            let perf = if cfg.off_vs_off { off } else { second };
            Row::new(bench, perf, tokio).with_validation(ValidationPair::new(
                off,
                second,
                cfg.off_vs_off,
            ))
        }
        None => Row::new(bench, off, tokio),
    })
}

/// `bench` on one perf_runtime runtime alone (default validation mode), for
/// `--perf-only`: the summary of its samples, ns per operation. Takes all
/// `cfg.samples` whatever the time budget says: under valgrind the sample
/// count must be what was asked for (metrics_instructions.sh subtracts two
/// runs' counts).
pub fn run_perf_only(bench: Bench, cfg: &Config) -> Result<crate::stats::Summary, String> {
    let perf = Perf::build_placed(WORKERS, cfg.placement)
        .map_err(|e| format!("building a runtime: {e}"))?;
    let mut arms = [Arm {
        name: Perf::NAME,
        sample: Box::new(|| sample(&perf, bench)),
    }];
    let samples = interleave(&mut arms, cfg.warmup, cfg.samples, Duration::MAX)?;
    Ok(crate::stats::Summary::of_f64(&samples[0]))
}

/// `bench` on `a` (the perf column) and `b` (the tokio column).
fn plain<A: SyncRt, B: SyncRt>(bench: Bench, cfg: &Config, a: &A, b: &B) -> Result<Row, String> {
    let mut arms = [
        Arm {
            name: A::NAME,
            sample: Box::new(|| sample(a, bench)),
        },
        Arm {
            name: B::NAME,
            sample: Box::new(|| sample(b, bench)),
        },
    ];
    let samples = interleave(&mut arms, cfg.warmup, cfg.samples, cfg.budget)?;
    Ok(Row::new(bench, &samples[0], &samples[1]))
}

#[cfg(test)]
mod tests;
