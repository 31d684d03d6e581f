//! The parent side: checks the machine can run the benchmark, calibrates
//! the request's work once, then runs every child one after the other —
//! each in a fresh cgroup — changes the quota mid-run for the resize
//! scenario, and bounds every wait.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use perf_runtime::container::Limits;
use perf_runtime::topology::CpuSet;

use super::cgroup::{is_root, BenchCgroup};
use super::child::{monotonic_ns, DRAIN_LIMIT};
use super::report::{
    bench_name, json_line, parse_child_output, table_header, table_notes, table_row, Row, RunResult,
};
use super::schedule::total;
use super::{Scenario, Side, CHILD, DEFAULT_REFRESH, EXIT_HUNG, EXIT_UNAVAILABLE, PERIOD_US, WORK};
use crate::spin::Spin;

/// CPUs in each child's cpuset.
const CPUS: usize = 2;

/// Each child's cgroup gets this many times the default CPU weight, so
/// other processes on the machine take less of what its quota allows (the
/// quota, not background load, should be what binds).
pub const WEIGHT_FACTOR: u32 = 10;

/// Slack on top of a child's schedule and drain limit before it is killed.
const CHILD_SLACK: Duration = Duration::from_secs(30);

/// What `compare container` was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// One JSON object per line instead of the table.
    pub json: bool,
    /// Scenarios to run, in order.
    pub scenarios: Vec<Scenario>,
    /// perf_runtime's `container_refresh`.
    pub refresh: Duration,
}

impl Options {
    /// Parses the arguments after `container`.
    ///
    /// # Errors
    ///
    /// An unknown argument, a missing or bad value; the message names it.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut opts = Options {
            json: false,
            scenarios: Scenario::ALL.to_vec(),
            refresh: DEFAULT_REFRESH,
        };
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--json" => opts.json = true,
                "--refresh-ms" => {
                    let v = rest.next().ok_or("--refresh-ms needs a value")?;
                    let ms =
                        v.parse::<u64>().ok().filter(|&ms| ms > 0).ok_or_else(|| {
                            format!("--refresh-ms: `{v}` is not a positive integer")
                        })?;
                    opts.refresh = Duration::from_millis(ms);
                }
                "--only" => {
                    let list = rest.next().ok_or("--only needs a value")?;
                    opts.scenarios = list
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|name| {
                            Scenario::from_name(name).ok_or_else(|| {
                                format!(
                                    "unknown container scenario `{name}` (expected fractional \
                                     or resize)"
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    if opts.scenarios.is_empty() {
                        return Err("--only needs at least one scenario".to_owned());
                    }
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(opts)
    }
}

/// Why a run stopped without results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The machine cannot run the benchmark (exit status 4).
    Unavailable(String),
    /// A child did not finish in time (exit status 3).
    Hung(String),
    /// Anything else (exit status 1).
    Failed(String),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Unavailable(_) => ExitCode::from(EXIT_UNAVAILABLE),
            Failure::Hung(_) => ExitCode::from(EXIT_HUNG),
            Failure::Failed(_) => ExitCode::FAILURE,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Unavailable(m) | Failure::Hung(m) | Failure::Failed(m) => m,
        }
    }
}

/// Runs the benchmark; prints the table or the JSON lines.
pub fn run(opts: &Options) -> ExitCode {
    let cpus = match preflight() {
        Ok(c) => c,
        Err(f) => {
            eprintln!(
                "compare: container: cannot run here: {}\n\
                 compare: container: needs root, a writable cgroup `cpu` controller and {CPUS} \
                 CPUs; no results (exit status {EXIT_UNAVAILABLE})",
                f.message()
            );
            return f.exit_code();
        }
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("compare: container: cannot find this program's path: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Once, outside any cgroup, and passed to every child: all burn the
    // same work.
    let spin = Spin::calibrate(WORK);
    let load_before = loadavg();
    let refresh_ms = opts.refresh.as_millis() as u64;
    let mut rows = Vec::new();
    for &scenario in &opts.scenarios {
        let mut results: Vec<(Side, RunResult)> = Vec::new();
        for &side in scenario.sides() {
            eprintln!(
                "compare: container: {} on {} ({} s)...",
                scenario.name(),
                side.name(),
                total(&scenario.phases()).as_secs()
            );
            match run_child(&exe, scenario, side, spin, opts.refresh, &cpus) {
                Ok(r) => results.push((side, r)),
                Err(f) => {
                    eprintln!(
                        "compare: container: {} on {}: {}",
                        scenario.name(),
                        side.name(),
                        f.message()
                    );
                    return f.exit_code();
                }
            }
        }
        let of = |side: Side| {
            results
                .iter()
                .find(|(s, _)| *s == side)
                .map(|(_, r)| r.clone())
        };
        let Some(tokio) = of(Side::Tokio) else {
            continue;
        };
        let tokio_sized = of(Side::TokioSized);
        for (side, perf) in results.iter().filter(|(s, _)| s.is_perf()) {
            let row = Row {
                bench: bench_name(scenario, *side),
                scenario,
                perf_side: *side,
                perf: perf.clone(),
                tokio: tokio.clone(),
                tokio_sized: tokio_sized.clone(),
            };
            if opts.json {
                println!("{}", json_line(&row, spin.iterations(), refresh_ms));
            }
            rows.push(row);
        }
    }
    if !opts.json {
        println!("{}", table_header(spin.iterations(), refresh_ms));
        for row in &rows {
            println!("{}", table_row(row));
        }
        print!("{}", table_notes(&rows));
        println!(
            "\nload average (1, 5, 15 min) before: {load_before}; after: {}",
            loadavg()
        );
    }
    ExitCode::SUCCESS
}

/// The first three fields of `/proc/loadavg` (other processes competing
/// for the same CPUs move every figure).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// Checks root, a writable `cpu` controller (by making, configuring and
/// removing a probe cgroup) and at least [`CPUS`] allowed CPUs; returns the
/// CPUs every child's cpuset gets.
fn preflight() -> Result<CpuSet, Failure> {
    if !is_root() {
        return Err(Failure::Unavailable(
            "not running as root: cannot create cgroups".to_owned(),
        ));
    }
    let allowed = Limits::detect().cpuset;
    if allowed.len() < CPUS {
        return Err(Failure::Unavailable(format!(
            "this process may use {} CPU(s) ({allowed}); the scenarios need {CPUS}",
            allowed.len()
        )));
    }
    let cpus: CpuSet = allowed.iter().take(CPUS).collect();
    let (probe, cpuset_note) = BenchCgroup::create("probe", true).map_err(Failure::Unavailable)?;
    probe
        .set_quota(150_000, PERIOD_US)
        .map_err(Failure::Unavailable)?;
    probe.throttling().map_err(Failure::Unavailable)?;
    probe
        .set_weight(WEIGHT_FACTOR)
        .map_err(Failure::Unavailable)?;
    match cpuset_note {
        Some(why) => eprintln!(
            "compare: container: children get no cpuset ({why}); they run on this process's \
             CPUs ({allowed})"
        ),
        None => probe.set_cpuset(&cpus).map_err(Failure::Unavailable)?,
    }
    Ok(cpus)
}

/// Runs one child of `scenario` on `side` in a fresh cgroup, and returns
/// what it measured.
fn run_child(
    exe: &PathBuf,
    scenario: Scenario,
    side: Side,
    spin: Spin,
    refresh: Duration,
    cpus: &CpuSet,
) -> Result<RunResult, Failure> {
    let label = format!("{}_{}", scenario.name(), side.name());
    let (cgroup, _) = BenchCgroup::create(&label, true).map_err(Failure::Unavailable)?;
    if cgroup.has_cpuset() {
        cgroup.set_cpuset(cpus).map_err(Failure::Unavailable)?;
    }
    cgroup
        .set_quota(scenario.start_quota_us(), PERIOD_US)
        .map_err(Failure::Unavailable)?;
    cgroup
        .set_weight(WEIGHT_FACTOR)
        .map_err(Failure::Unavailable)?;
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD)
        .args([
            side.name().to_owned(),
            scenario.name().to_owned(),
            spin.iterations().to_string(),
            refresh.as_millis().to_string(),
        ])
        .args(cgroup.dirs())
        // A user's overrides would defeat "as a user gets it by default".
        .env_remove("PERF_RUNTIME_WORKER_THREADS")
        .env_remove("TOKIO_WORKER_THREADS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Inherited: diagnostics go straight out and can never fill a pipe.
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure::Failed(format!("spawning the child: {e}")))?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let stop = line.is_err();
            if tx.send(line).is_err() || stop {
                break;
            }
        }
    });

    let limit = total(&scenario.phases()) + DRAIN_LIMIT + CHILD_SLACK;
    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
    // (monotonic ns when due, new quota)
    let mut change: Option<(u64, u64)> = None;
    let mut change_lag_us = None;
    loop {
        if let Some((due, quota_us)) = change {
            let now = monotonic_ns();
            if now >= due {
                if let Err(e) = cgroup.set_quota(quota_us, PERIOD_US) {
                    kill(&mut child);
                    return Err(Failure::Failed(format!("raising the quota: {e}")));
                }
                change_lag_us = Some((monotonic_ns().saturating_sub(due)) as f64 / 1e3);
                change = None;
                continue;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            kill(&mut child);
            return Err(Failure::Hung(format!(
                "the child did not finish within {} s",
                limit.as_secs()
            )));
        }
        let mut wait = deadline - now;
        if let Some((due, _)) = change {
            wait = wait.min(Duration::from_nanos(due.saturating_sub(monotonic_ns())));
        }
        match rx.recv_timeout(wait) {
            Ok(Ok(line)) => {
                if let Some(t0) = line.strip_prefix("START ") {
                    let t0: u64 = t0.trim().parse().map_err(|_| {
                        Failure::Failed(format!("the child's START line {line:?} is garbled"))
                    })?;
                    change = scenario
                        .quota_change()
                        .map(|(at, quota_us)| (t0 + at.as_nanos() as u64, quota_us));
                }
                lines.push(line);
            }
            Ok(Err(e)) => {
                kill(&mut child);
                return Err(Failure::Failed(format!("reading the child's output: {e}")));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = wait_until(&mut child, Instant::now() + Duration::from_secs(10))?;
    if status.code() == Some(i32::from(EXIT_UNAVAILABLE)) {
        return Err(Failure::Unavailable(
            "the child could not join its cgroup".to_owned(),
        ));
    }
    if !status.success() {
        return Err(Failure::Failed(format!("the child failed ({status})")));
    }
    if change.is_some() {
        return Err(Failure::Failed(
            "the child finished before the quota change was due".to_owned(),
        ));
    }
    let mut result = parse_child_output(&lines).map_err(Failure::Failed)?;
    result.quota_change_lag_us = change_lag_us;
    drop(cgroup);
    Ok(result)
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` to exit, killing it at `deadline`.
fn wait_until(child: &mut Child, deadline: Instant) -> Result<ExitStatus, Failure> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                kill(child);
                return Err(Failure::Hung(
                    "the child closed its output but did not exit".to_owned(),
                ));
            }
            Err(e) => return Err(Failure::Failed(format!("waiting for the child: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options_default_and_parse() {
        let o = Options::parse(&[]).unwrap();
        assert_eq!(
            o,
            Options {
                json: false,
                scenarios: Scenario::ALL.to_vec(),
                refresh: DEFAULT_REFRESH
            }
        );
        let o = Options::parse(&args(&[
            "--json",
            "--only",
            "resize",
            "--refresh-ms",
            "250",
        ]))
        .unwrap();
        assert!(o.json);
        assert_eq!(o.scenarios, vec![Scenario::Resize]);
        assert_eq!(o.refresh, Duration::from_millis(250));
    }

    #[test]
    fn bad_options_are_named() {
        for (bad, needle) in [
            (&["--only", "big"][..], "`big`"),
            (&["--only", ","][..], "at least one"),
            (&["--refresh-ms", "0"][..], "`0`"),
            (&["--refresh-ms"][..], "needs a value"),
            (&["--samples", "3"][..], "`--samples`"),
        ] {
            let err = Options::parse(&args(bad)).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }
}
