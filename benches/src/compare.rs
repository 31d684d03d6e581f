//! `compare`: perf_runtime vs tokio on the same workloads, in one process.
//!
//! ```text
//! cargo run --release -p benches --bin compare -- scheduler [--json] [--samples N]
//! cargo run --release -p benches --bin compare -- qos [--json] [--wakes N]
//! cargo run --release -p benches --bin compare -- container [--json]   # as root
//! cargo run --release -p benches --bin compare -- sync [--json] [--samples N]
//! cargo run --release -p benches --bin compare -- io [--json] [--rounds N] [--ms N] [--conns LIST]
//! cargo run --release -p benches --bin compare -- timers [--json] [ROW...]
//! ```
//!
//! See `benches/README.md` for what each workload measures.

use std::io::Read as _;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use benches::container;
use benches::json::{number as json_num, string as json_str};
use benches::qos::{self, Mode, PERF_VARIANTS};
use benches::rt::{Perf, Placement, Rt, Tokio};
use benches::spin::Spin;
use benches::stats::Summary;
use benches::sync::{self as syncbench, Bench};
use benches::workloads::{self, IdleMemory, Workload, IDLE_TASKS, WORKERS};

const USAGE: &str = "\
usage: compare scheduler [--json] [--samples N] [--warmup N] [--only NAME[,NAME...]]
                         [--tokio-vs-tokio | --perf-only]
       compare idle_memory [--json] [--tasks N]
       compare qos [--json] [--wakes N] [--only MODE[,MODE...]]
       compare container [--json] [--only SCENARIO[,SCENARIO...]] [--refresh-ms N]
       compare io [--json] [--rounds N] [--ms N] [--conns LIST] [--no-http]
       compare sync [--json] [--samples N] [--warmup N] [--only NAME[,NAME...]]
                    [--tokio-vs-tokio | --off-vs-off | --perf-only] [--unpinned]
       compare timers [--json] [--perf-only | --tokio-only] [ROW...]
       compare clock_cost

scheduler    runs every workload on perf_runtime and on tokio (2 workers each),
             interleaving the two sample by sample, then idle_memory
idle_memory  RSS growth per parked task, each runtime in its own child process
qos          wake-up delay of a critical task under a Batch backlog (modes outside,
             timer, inside), and the Batch throughput each runtime kept
container    request latency under a fractional CPU quota and an in-place quota
             raise, each runtime in its own child process and real cgroup (needs
             root and a writable cgroup cpu controller; otherwise exits with 4)
sync         perf_runtime::sync vs tokio::sync (2 workers each), ns per operation,
             interleaved sample by sample; the uncontended mutex loop also with
             perf_runtime's validation off and in Report mode
io           TCP echo (1 KiB, closed loop) and a hyper hello-world under wrk, each
             server in its own pinned process: perf on io_uring (tokio traits, and
             owned buffers for echo), perf on epoll, tokio
timers       timer lateness from the requested deadline (idle, under a Batch
             backlog), timer churn, and the block_on round trip; ROW names one
             of sleep_idle, sleep_backlog, sleep_backlog_reserved, timeout_churn,
             sleep_churn, block_on_ping_pong; --perf-only runs perf_runtime's
             sleep_churn rounds alone (for a profiler), --tokio-only tokio's
clock_cost   ns per clock read on this machine (Instant::now, i.e.
             clock_gettime(CLOCK_MONOTONIC)): the median of 7 timed batches of
             100000 reads, for pricing the metrics' sampled timing
             (benches/metrics_instructions.sh)

options:
  --json         one JSON object per line instead of a table
  --samples N    measured samples per runtime and workload (default 15)
  --warmup N     unmeasured warm-up runs per runtime and workload (default 3)
  --only LIST    comma-separated subset of: spawn_many_local, spawn_many_remote_idle,
                 spawn_many_remote_busy, ping_pong, yield_many, chained_spawn, idle_memory
  --tasks N      parked tasks for idle_memory (default 100000)
  --tokio-vs-tokio
                 A/A check: run tokio in both columns to see this machine's
                 noise floor for the ratio (timed workloads only)
  --perf-only    scheduler and sync: run the perf_runtime side alone (no tokio
                 runtime is built; idle_memory and sync's validation pair are
                 left out; sync runs perf in its default validation mode), for
                 counting its instructions under valgrind
                 (benches/metrics_instructions.sh)
  --wakes N      qos: measured wakes per mode and runtime (default 3000, ~1 ms each)
  --only LIST    qos: comma-separated subset of: outside, timer, inside
  --only LIST    container: comma-separated subset of: fractional, resize
  --refresh-ms N container: perf_runtime's container_refresh (default 1000)
  --samples N    sync: measured samples per runtime and bench (default 51)
  --warmup N     sync: unmeasured warm-up rounds (default 3, 0 allowed)
  --only LIST    sync: comma-separated subset of: mutex_uncontended, mutex_contended,
                 rwlock_read_heavy, semaphore, mpsc_bounded_1p, mpsc_bounded_4p,
                 oneshot_round_trip
  --off-vs-off   sync: A/A check of the validation pair (both perf sides off)
  --unpinned     sync: let the OS place the runtimes' threads (by default the k-th
                 thread of each runtime is pinned to the k-th allowed CPU)";

/// Hidden subcommand the parent re-executes itself with for `idle_memory`.
const CHILD: &str = "__idle-memory-child";

/// Upper bound for one workload (all its samples) or one idle_memory child.
const HANG_TIMEOUT: Duration = Duration::from_secs(300);

/// Child processes per runtime for idle_memory.
const MEMORY_RUNS: usize = 5;

/// Pause before each measured run (not timed).
const SETTLE: Duration = Duration::from_millis(2);

struct Options {
    tokio_vs_tokio: bool,
    perf_only: bool,
    json: bool,
    samples: usize,
    warmup: usize,
    tasks: usize,
    workloads: Vec<Workload>,
    memory: bool,
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("compare: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

fn take_count<'a>(
    rest: &mut impl Iterator<Item = &'a String>,
    name: &str,
) -> Result<usize, ExitCode> {
    let v = rest
        .next()
        .ok_or_else(|| usage_error(&format!("{name} needs a value")))?;
    v.parse::<usize>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| usage_error(&format!("{name}: `{v}` is not a positive integer")))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        return usage_error("missing command");
    };
    match cmd.as_str() {
        CHILD => return idle_memory_child(&args[1..]),
        "qos" => return qos_main(&args[1..]),
        "container" => {
            return match container::Options::parse(&args[1..]) {
                Ok(opts) => container::run(&opts),
                Err(msg) => usage_error(&msg),
            }
        }
        container::CHILD => return container::child_main(&args[1..]),
        "sync" => return sync_main(&args[1..]),
        "io" => return benches::io::main(&args[1..]),
        "timers" => return benches::timers::main(&args[1..]),
        "clock_cost" if args.len() == 1 => return clock_cost(),
        benches::io::SERVER => return benches::io::server_main(&args[1..]),
        benches::io::CLIENT => return benches::io::client_main(&args[1..]),
        benches::http::SERVER => return benches::http::server_main(&args[1..]),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let memory_only = match cmd.as_str() {
        "scheduler" => false,
        "idle_memory" => true,
        other => return usage_error(&format!("unknown command `{other}`")),
    };
    let mut opts = Options {
        tokio_vs_tokio: false,
        perf_only: false,
        json: false,
        samples: 15,
        warmup: 3,
        tasks: IDLE_TASKS,
        workloads: if memory_only {
            Vec::new()
        } else {
            Workload::ALL.to_vec()
        },
        memory: true,
    };
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let parsed = match arg.as_str() {
            "--json" => {
                opts.json = true;
                Ok(())
            }
            "--tokio-vs-tokio" if !memory_only => {
                opts.tokio_vs_tokio = true;
                Ok(())
            }
            "--perf-only" if !memory_only => {
                opts.perf_only = true;
                Ok(())
            }
            "--samples" if !memory_only => {
                take_count(&mut rest, "--samples").map(|n| opts.samples = n)
            }
            "--warmup" if !memory_only => {
                take_count(&mut rest, "--warmup").map(|n| opts.warmup = n)
            }
            "--tasks" => take_count(&mut rest, "--tasks").map(|n| opts.tasks = n),
            "--only" if !memory_only => match rest.next() {
                None => Err(usage_error("--only needs a value")),
                Some(list) => {
                    opts.workloads.clear();
                    opts.memory = false;
                    let mut bad = None;
                    for name in list.split(',').filter(|s| !s.is_empty()) {
                        if name == "idle_memory" {
                            opts.memory = true;
                        } else if let Some(w) = Workload::from_name(name) {
                            opts.workloads.push(w);
                        } else {
                            bad = Some(name.to_owned());
                        }
                    }
                    match bad {
                        Some(name) => Err(usage_error(&format!("unknown workload `{name}`"))),
                        None => Ok(()),
                    }
                }
            },
            other => Err(usage_error(&format!("unknown argument `{other}`"))),
        };
        if let Err(code) = parsed {
            return code;
        }
    }

    if opts.tokio_vs_tokio && opts.perf_only {
        return usage_error("--tokio-vs-tokio and --perf-only exclude each other");
    }
    if opts.perf_only {
        opts.memory = false;
        return run_perf_only(&opts);
    }

    if !opts.json && !opts.workloads.is_empty() {
        let what = if opts.tokio_vs_tokio {
            "A/A check: tokio (perf column) vs tokio"
        } else {
            "perf_runtime vs tokio"
        };
        println!(
            "{what}, multi-thread, {WORKERS} workers each; \
             {} samples after {} warm-up runs, interleaved; times are ns per run",
            opts.samples, opts.warmup
        );
        println!();
        println!(
            "{:<24} {:>12} {:>25} {:>12} {:>25} {:>10}",
            "workload",
            "perf median",
            "perf p10..p90",
            "tokio median",
            "tokio p10..p90",
            "perf/tokio"
        );
    }
    for &w in &opts.workloads {
        if let Err(e) = run_workload(w, &opts) {
            eprintln!("compare: {}: {e}", w.name());
            return ExitCode::FAILURE;
        }
    }
    if opts.memory && !opts.tokio_vs_tokio {
        if let Err(e) = run_idle_memory(&opts) {
            eprintln!("compare: idle_memory: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// `clock_cost`: prints the ns a clock read costs here (see USAGE).
fn clock_cost() -> ExitCode {
    const READS: u32 = 100_000;
    let mut per_read: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..READS {
                std::hint::black_box(Instant::now());
            }
            t.elapsed().as_nanos() as f64 / f64::from(READS)
        })
        .collect();
    per_read.sort_by(f64::total_cmp);
    println!("{:.1}", per_read[per_read.len() / 2]);
    ExitCode::SUCCESS
}

/// `scheduler --perf-only`: every workload on perf_runtime alone.
fn run_perf_only(opts: &Options) -> ExitCode {
    if !opts.json {
        println!(
            "perf_runtime alone, multi-thread, {WORKERS} workers; {} samples after {} warm-up \
             runs; times are ns per run\n\n{:<24} {:>12} {:>25}",
            opts.samples, opts.warmup, "workload", "perf median", "perf p10..p90"
        );
    }
    for &w in &opts.workloads {
        let _watchdog = Watchdog::arm(w.name());
        let perf = match Perf::build(WORKERS) {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("compare: {}: {e}", w.name());
                return ExitCode::FAILURE;
            }
        };
        for _ in 0..opts.warmup {
            w.run(&perf);
        }
        let samples: Vec<Duration> = (0..opts.samples).map(|_| sample(w, &perf)).collect();
        drop(perf);
        let p = Summary::of(&samples);
        if opts.json {
            println!(
                "{{\"bench\":{},\"perf_ns\":{:.0},\"samples\":{},\"perf_p10_ns\":{:.0},\
                 \"perf_p90_ns\":{:.0},\"perf_only\":true}}",
                json_str(w.name()),
                p.median,
                p.n,
                p.p10,
                p.p90
            );
        } else {
            println!(
                "{:<24} {:>12.0} {:>25}",
                w.name(),
                p.median,
                format!("{:.0}..{:.0}", p.p10, p.p90)
            );
        }
    }
    ExitCode::SUCCESS
}

fn qos_main(args: &[String]) -> ExitCode {
    let mut json = false;
    let mut wakes = qos::DEFAULT_WAKES;
    let mut modes = Mode::ALL.to_vec();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let parsed = match arg.as_str() {
            "--json" => {
                json = true;
                Ok(())
            }
            "--wakes" => take_count(&mut rest, "--wakes").map(|n| wakes = n),
            "--only" => match rest.next() {
                None => Err(usage_error("--only needs a value")),
                Some(list) => {
                    let parsed: Result<Vec<Mode>, &str> = list
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|name| Mode::from_name(name).ok_or(name))
                        .collect();
                    match parsed {
                        Ok(list) if !list.is_empty() => {
                            modes = list;
                            Ok(())
                        }
                        Ok(_) => Err(usage_error("--only needs at least one mode")),
                        Err(name) => Err(usage_error(&format!(
                            "unknown qos mode `{name}` (expected outside, timer or inside)"
                        ))),
                    }
                }
            },
            other => Err(usage_error(&format!("unknown argument `{other}`"))),
        };
        if let Err(code) = parsed {
            return code;
        }
    }

    // Calibrated once, before any runtime exists, and shared by both sides.
    let spin = Spin::calibrate(qos::BATCH_POLL);
    let mut rows = Vec::new();
    for mode in modes {
        let _watchdog = Watchdog::arm(mode.name());
        match qos::run_mode(mode, wakes, spin, PERF_VARIANTS) {
            Ok(res) => {
                for row in res.rows() {
                    if json {
                        println!("{}", qos::json_line(&row));
                    }
                    rows.push(row);
                }
            }
            Err(e) => {
                eprintln!("compare: qos {}: {e}", mode.name());
                // A runtime may be stuck; do not wait for it to shut down.
                std::process::exit(3);
            }
        }
    }
    if !json {
        println!("{}", qos::table_header(spin.iterations(), wakes));
        for row in &rows {
            println!("{}", qos::table_row(row));
        }
        print!("{}", qos::table_notes(&rows));
    }
    ExitCode::SUCCESS
}

fn sync_main(args: &[String]) -> ExitCode {
    let mut json = false;
    let mut cfg = syncbench::Config {
        samples: syncbench::DEFAULT_SAMPLES,
        warmup: syncbench::DEFAULT_WARMUP,
        budget: syncbench::BENCH_BUDGET,
        tokio_vs_tokio: false,
        off_vs_off: false,
        placement: Placement::Pinned,
    };
    let mut benches = Bench::ALL.to_vec();
    let mut perf_only = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let parsed = match arg.as_str() {
            "--json" => {
                json = true;
                Ok(())
            }
            "--tokio-vs-tokio" => {
                cfg.tokio_vs_tokio = true;
                Ok(())
            }
            "--off-vs-off" => {
                cfg.off_vs_off = true;
                Ok(())
            }
            "--perf-only" => {
                perf_only = true;
                Ok(())
            }
            "--unpinned" => {
                cfg.placement = Placement::Os;
                Ok(())
            }
            "--samples" => take_count(&mut rest, "--samples").map(|n| cfg.samples = n),
            "--warmup" => match rest.next().map(|v| (v, v.parse::<usize>())) {
                None => Err(usage_error("--warmup needs a value")),
                Some((_, Ok(n))) => {
                    cfg.warmup = n;
                    Ok(())
                }
                Some((v, Err(_))) => Err(usage_error(&format!(
                    "--warmup: `{v}` is not a non-negative integer"
                ))),
            },
            "--only" => match rest.next() {
                None => Err(usage_error("--only needs a value")),
                Some(list) => {
                    let parsed: Result<Vec<Bench>, &str> = list
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|name| Bench::from_name(name).ok_or(name))
                        .collect();
                    match parsed {
                        Ok(list) if !list.is_empty() => {
                            benches = list;
                            Ok(())
                        }
                        Ok(_) => Err(usage_error("--only needs at least one bench")),
                        Err(name) => Err(usage_error(&format!("unknown sync bench `{name}`"))),
                    }
                }
            },
            other => Err(usage_error(&format!("unknown argument `{other}`"))),
        };
        if let Err(code) = parsed {
            return code;
        }
    }
    if cfg.tokio_vs_tokio && cfg.off_vs_off {
        return usage_error("--tokio-vs-tokio and --off-vs-off are separate checks; pick one");
    }
    if perf_only && (cfg.tokio_vs_tokio || cfg.off_vs_off) {
        return usage_error("--perf-only runs no second side; it excludes the A/A checks");
    }
    if perf_only {
        return sync_perf_only(&benches, &cfg, json);
    }

    if !json {
        println!(
            "{}",
            syncbench::table_header(cfg.samples, cfg.warmup, cfg.tokio_vs_tokio, cfg.placement)
        );
    }
    let mut rows = Vec::new();
    for bench in benches {
        let _watchdog = Watchdog::arm(bench.name());
        match syncbench::run(bench, &cfg) {
            Ok(row) => {
                if json {
                    println!("{}", syncbench::json_line(&row, cfg.placement));
                } else {
                    println!("{}", syncbench::table_row(&row));
                }
                rows.push(row);
            }
            Err(e) => {
                eprintln!("compare: sync {}: {e}", bench.name());
                // A runtime may be stuck; do not wait for it to shut down.
                std::process::exit(3);
            }
        }
    }
    let note = syncbench::validation_note(
        &rows,
        syncbench::VALIDATION_SWITCH.is_some(),
        cfg.tokio_vs_tokio,
    );
    if let Some(note) = note {
        if json {
            eprintln!("compare: {note}");
        } else {
            println!("\n{note}");
        }
    }
    ExitCode::SUCCESS
}

/// `sync --perf-only`: every bench on one perf_runtime runtime alone.
fn sync_perf_only(benches: &[Bench], cfg: &syncbench::Config, json: bool) -> ExitCode {
    if !json {
        println!(
            "perf_runtime::sync alone, multi-thread, {WORKERS} workers; up to {} samples after \
             {} warm-up rounds; ns per operation\n\n{:<20} {:>8} {:>6} {:>15}",
            cfg.samples, cfg.warmup, "bench", "ops", "perf", "perf p10..p90"
        );
    }
    for &bench in benches {
        let _watchdog = Watchdog::arm(bench.name());
        match syncbench::run_perf_only(bench, cfg) {
            Ok(p) => {
                if json {
                    println!(
                        "{{\"bench\":{},\"perf_ns\":{},\"ops\":{},\"samples\":{},\
                         \"perf_p10_ns\":{},\"perf_p90_ns\":{},\"perf_only\":true}}",
                        json_str(bench.name()),
                        json_num(p.median),
                        bench.ops(),
                        p.n,
                        json_num(p.p10),
                        json_num(p.p90)
                    );
                } else {
                    println!(
                        "{:<20} {:>8} {:>6.1} {:>15}",
                        bench.name(),
                        bench.ops(),
                        p.median,
                        format!("{:.1}..{:.1}", p.p10, p.p90)
                    );
                }
            }
            Err(e) => {
                eprintln!("compare: sync {}: {e}", bench.name());
                std::process::exit(3);
            }
        }
    }
    ExitCode::SUCCESS
}

fn run_workload(w: Workload, opts: &Options) -> std::io::Result<()> {
    let _watchdog = Watchdog::arm(w.name());
    if opts.tokio_vs_tokio {
        run_pair::<Tokio, Tokio>(w, opts)
    } else {
        run_pair::<Perf, Tokio>(w, opts)
    }
}

/// Runs `w` on `A` (reported in the `perf` column) and `B` (the `tokio`
/// column), interleaved sample by sample.
fn run_pair<A: Rt, B: Rt>(w: Workload, opts: &Options) -> std::io::Result<()> {
    // A fresh pair of runtimes per workload, reused across its samples.
    let perf = A::build(WORKERS)?;
    let tokio = B::build(WORKERS)?;
    for _ in 0..opts.warmup {
        w.run(&perf);
        w.run(&tokio);
    }
    let mut perf_samples = Vec::with_capacity(opts.samples);
    let mut tokio_samples = Vec::with_capacity(opts.samples);
    for i in 0..opts.samples {
        // Alternate who goes first so neither side always follows the other.
        if i % 2 == 0 {
            perf_samples.push(sample(w, &perf));
            tokio_samples.push(sample(w, &tokio));
        } else {
            tokio_samples.push(sample(w, &tokio));
            perf_samples.push(sample(w, &perf));
        }
    }
    drop(perf);
    drop(tokio);
    report_times(w.name(), &perf_samples, &tokio_samples, opts.json);
    Ok(())
}

/// Aborts the process if a workload hangs (e.g. a lost wake-up), instead of
/// letting `compare` sit forever. Disarmed on drop.
struct Watchdog(#[allow(dead_code)] mpsc::Sender<()>);

impl Watchdog {
    fn arm(name: &'static str) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(HANG_TIMEOUT) {
                eprintln!(
                    "compare: {name}: no progress for {}s, aborting (hung workload?)",
                    HANG_TIMEOUT.as_secs()
                );
                std::process::exit(3);
            }
        });
        Watchdog(tx)
    }
}

/// One measured run, after letting both runtimes' workers go idle so one
/// side's spinning workers do not eat into the other side's sample.
fn sample<R: Rt>(w: Workload, rt: &R) -> Duration {
    std::thread::sleep(SETTLE);
    w.run(rt)
}

fn report_times(name: &str, perf: &[Duration], tokio: &[Duration], json: bool) {
    let p = Summary::of(perf);
    let t = Summary::of(tokio);
    let ratio = p.median / t.median;
    if json {
        println!(
            "{{\"bench\":{},\"perf_ns\":{:.0},\"tokio_ns\":{:.0},\"ratio\":{},\"samples\":{},\
             \"perf_p10_ns\":{:.0},\"perf_p90_ns\":{:.0},\"tokio_p10_ns\":{:.0},\"tokio_p90_ns\":{:.0}}}",
            json_str(name),
            p.median,
            t.median,
            json_num(ratio),
            p.n,
            p.p10,
            p.p90,
            t.p10,
            t.p90
        );
    } else {
        println!(
            "{:<24} {:>12.0} {:>25} {:>12.0} {:>25} {:>10.3}",
            name,
            p.median,
            format!("{:.0}..{:.0}", p.p10, p.p90),
            t.median,
            format!("{:.0}..{:.0}", t.p10, t.p90),
            ratio
        );
    }
}

fn run_idle_memory(opts: &Options) -> Result<(), String> {
    // Several fresh child processes per side, alternating, median taken:
    // single RSS deltas move by ~10-20% run to run.
    let (mut perf, mut tokio) = (Vec::new(), Vec::new());
    for _ in 0..MEMORY_RUNS {
        perf.push(spawn_child(Perf::NAME, opts.tasks)?.bytes_per_task());
        tokio.push(spawn_child(Tokio::NAME, opts.tasks)?.bytes_per_task());
    }
    let (p, t) = (
        Summary::of_f64(&perf).median,
        Summary::of_f64(&tokio).median,
    );
    let ratio = p / t;
    if opts.json {
        println!(
            "{{\"bench\":\"idle_memory\",\"perf_bytes_per_task\":{},\"tokio_bytes_per_task\":{},\
             \"ratio\":{},\"tasks\":{}}}",
            json_num(p),
            json_num(t),
            json_num(ratio),
            opts.tasks
        );
    } else {
        println!();
        println!(
            "idle_memory: {} tasks parked on pending(), RSS delta per task, \
             median of {MEMORY_RUNS} child processes per runtime",
            opts.tasks
        );
        println!(
            "{:<24} {:>12} {:>12} {:>10}",
            "", "perf B/task", "tokio B/task", "perf/tokio"
        );
        println!(
            "{:<24} {:>12.1} {:>12.1} {:>10.3}",
            "idle_memory", p, t, ratio
        );
    }
    Ok(())
}

/// Re-executes this binary as `__idle-memory-child RUNTIME TASKS` and parses
/// its `before after tasks` line.
fn spawn_child(runtime: &str, tasks: usize) -> Result<IdleMemory, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args([CHILD, runtime, &tasks.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Inherited: the child's diagnostics go straight to our stderr and can
        // never fill a pipe we are not draining.
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawning {runtime} child: {e}"))?;
    let deadline = Instant::now() + HANG_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{runtime} child did not finish within {}s",
                    HANG_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {runtime} child: {e}")),
        }
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if !status.success() {
        return Err(format!("{runtime} child failed ({status})"));
    }
    let fields: Vec<u64> = stdout
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    match fields[..] {
        [before, after, n] => Ok(IdleMemory {
            before,
            after,
            tasks: n as usize,
        }),
        _ => Err(format!(
            "{runtime} child: unexpected output `{}`",
            stdout.trim()
        )),
    }
}

fn idle_memory_child(args: &[String]) -> ExitCode {
    let (runtime, tasks) = match args {
        [rt, n] => match n.parse::<usize>() {
            Ok(n) if n > 0 => (rt.as_str(), n),
            _ => return usage_error(&format!("{CHILD}: bad task count `{n}`")),
        },
        _ => return usage_error(&format!("{CHILD} needs RUNTIME TASKS")),
    };
    let result = match runtime {
        "perf" => Perf::build(WORKERS).and_then(|rt| measure_leaking(rt, tasks)),
        "tokio" => Tokio::build(WORKERS).and_then(|rt| measure_leaking(rt, tasks)),
        other => return usage_error(&format!("{CHILD}: unknown runtime `{other}`")),
    };
    match result {
        Ok(m) => {
            println!("{} {} {}", m.before, m.after, m.tasks);
            // Exit without tearing down 100k parked tasks; the OS reclaims it all.
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("{CHILD}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn measure_leaking<R: Rt>(rt: R, tasks: usize) -> std::io::Result<IdleMemory> {
    let m = workloads::idle_memory(&rt, tasks);
    // The process exits right after reporting; skip runtime shutdown.
    std::mem::forget(rt);
    m
}
