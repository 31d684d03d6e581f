//! The child's output lines, and the table and JSON lines made from them.
//!
//! A child prints, one per line: `PARALLELISM <n>` (what
//! `std::thread::available_parallelism` says inside the cgroup), `DECISION
//! <text>` (how the runtime chose its worker count), `START <ns>` (the
//! schedule's start on `CLOCK_MONOTONIC`, for the parent's quota change) and
//! finally `RESULT key=value ...` with the figures of [`RunResult`].

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{Scenario, Side, WORK};
use crate::json::{number as json_num, string as json_str};
use crate::stats::Tail;

/// What one child measured (and the parent saw) in one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Latency of the measured requests, scheduled arrival → completion.
    pub tail: Tail,
    /// `nr_throttled` of the child's cgroup over the measured window (its
    /// first arrival to its last completion).
    pub throttled: u64,
    /// `nr_periods` over the same window.
    pub periods: u64,
    /// Throttled time over the same window, ns.
    pub throttled_ns: u64,
    /// Workers when the schedule started (perf: active; tokio: all).
    pub workers_start: usize,
    /// Workers at the last arrival.
    pub workers_end: usize,
    /// Worker count changes seen by the generator: `(ms from the schedule's
    /// start, workers)`, the first at 0.
    pub timeline: Vec<(u64, usize)>,
    /// How late the generator spawned measured requests: p99, ns.
    pub spawn_lag_p99_ns: f64,
    /// ... and at worst, ns.
    pub spawn_lag_max_ns: f64,
    /// From the last arrival until every request had completed, ms.
    pub drain_ms: u64,
    /// CPU time the child used (every thread) over the measured window, ns.
    pub cpu_ns: u64,
    /// The measured window's length (first measured arrival to the last
    /// completion), ms.
    pub window_ms: u64,
    /// `available_parallelism()` inside the cgroup.
    pub parallelism: usize,
    /// How the runtime chose its worker count.
    pub decision: String,
    /// How long after its planned time the parent's quota change landed,
    /// µs (resize only).
    pub quota_change_lag_us: Option<f64>,
}

/// `key=value` pairs of a line (words without `=` are ignored).
pub fn key_values(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect()
}

/// `0:2,5930:2` → `[(0, 2), (5930, 2)]`.
pub fn parse_timeline(text: &str) -> Result<Vec<(u64, usize)>, String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|entry| {
            let (ms, n) = entry
                .split_once(':')
                .ok_or_else(|| format!("timeline entry {entry:?} is not `ms:workers`"))?;
            Ok((
                ms.parse()
                    .map_err(|_| format!("timeline time {ms:?} is not an integer"))?,
                n.parse()
                    .map_err(|_| format!("timeline count {n:?} is not an integer"))?,
            ))
        })
        .collect()
}

/// The inverse of [`parse_timeline`].
pub fn format_timeline(timeline: &[(u64, usize)]) -> String {
    let parts: Vec<String> = timeline.iter().map(|(ms, n)| format!("{ms}:{n}")).collect();
    parts.join(",")
}

/// Reads a child's output lines into a [`RunResult`] (without the parent's
/// quota change lag).
///
/// # Errors
///
/// A line is missing or a figure is not a number; the message names it.
pub fn parse_child_output(lines: &[String]) -> Result<RunResult, String> {
    let tagged = |tag: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(tag))
            .map(str::trim)
            .ok_or_else(|| format!("the child printed no `{}` line", tag.trim()))
    };
    let parallelism = tagged("PARALLELISM ")?
        .parse()
        .map_err(|_| "PARALLELISM is not an integer".to_owned())?;
    let decision = tagged("DECISION ")?.to_owned();
    let kv = key_values(tagged("RESULT ")?);
    let get = |key: &str| {
        kv.get(key)
            .copied()
            .ok_or_else(|| format!("the child's RESULT line has no {key}="))
    };
    let int = |key: &str| -> Result<u64, String> {
        let v = get(key)?;
        v.parse()
            .map_err(|_| format!("{key}={v:?} is not a non-negative integer"))
    };
    let float = |key: &str| -> Result<f64, String> {
        let v = get(key)?;
        v.parse()
            .map_err(|_| format!("{key}={v:?} is not a number"))
    };
    Ok(RunResult {
        tail: Tail {
            n: int("n")? as usize,
            p50: float("p50")?,
            p99: float("p99")?,
            p999: float("p999")?,
            max: float("max")?,
        },
        throttled: int("throttled")?,
        periods: int("periods")?,
        throttled_ns: int("throttled_ns")?,
        workers_start: int("workers_start")? as usize,
        workers_end: int("workers_end")? as usize,
        timeline: parse_timeline(get("timeline")?)?,
        spawn_lag_p99_ns: float("lag_p99")?,
        spawn_lag_max_ns: float("lag_max")?,
        drain_ms: int("drain_ms")?,
        cpu_ns: int("cpu_ns")?,
        window_ms: int("window_ms")?,
        parallelism,
        decision,
        quota_change_lag_us: None,
    })
}

/// The `RESULT` line a child prints; [`parse_child_output`] reads it back.
pub fn result_line(r: &RunResult) -> String {
    format!(
        "RESULT n={} p50={:.0} p99={:.0} p999={:.0} max={:.0} throttled={} periods={} \
         throttled_ns={} workers_start={} workers_end={} timeline={} lag_p99={:.0} \
         lag_max={:.0} drain_ms={} cpu_ns={} window_ms={}",
        r.tail.n,
        r.tail.p50,
        r.tail.p99,
        r.tail.p999,
        r.tail.max,
        r.throttled,
        r.periods,
        r.throttled_ns,
        r.workers_start,
        r.workers_end,
        format_timeline(&r.timeline),
        r.spawn_lag_p99_ns,
        r.spawn_lag_max_ns,
        r.drain_ms,
        r.cpu_ns,
        r.window_ms
    )
}

/// One reported row: a perf_runtime run against the tokio run of the same
/// scenario.
#[derive(Clone, Debug)]
pub struct Row {
    /// `container_fractional`, `container_fractional_floor`, ...
    pub bench: String,
    /// The scenario both ran.
    pub scenario: Scenario,
    /// Which perf_runtime configuration.
    pub perf_side: Side,
    /// The perf_runtime child's figures.
    pub perf: RunResult,
    /// The tokio child's figures (`worker_threads` unset).
    pub tokio: RunResult,
    /// The hand-sized tokio child's figures ([`Side::TokioSized`]), if the
    /// scenario has that arm.
    pub tokio_sized: Option<RunResult>,
}

/// The p99 ratio must be at most this (issue 4).
pub const TARGET_RATIO_P99: f64 = 0.2;

impl RunResult {
    /// CPUs the child used on average over the measured window.
    pub fn cpus_used(&self) -> f64 {
        self.cpu_ns as f64 / (self.window_ms.max(1) as f64 * 1e6)
    }
}

impl Row {
    /// perf p99 / tokio p99 (< 1: perf_runtime answers sooner).
    pub fn ratio_p99(&self) -> f64 {
        self.perf.tail.p99 / self.tokio.tail.p99
    }

    /// perf p99 / hand-sized tokio p99: the scheduling alone, both sized
    /// for the quota; `None` without that arm.
    pub fn ratio_p99_vs_sized(&self) -> Option<f64> {
        self.tokio_sized
            .as_ref()
            .map(|sized| self.perf.tail.p99 / sized.tail.p99)
    }
}

/// The bench name of a scenario run on a perf side.
pub fn bench_name(scenario: Scenario, side: Side) -> String {
    match side {
        Side::PerfFloor => format!("container_{}_floor", scenario.name()),
        _ => format!("container_{}", scenario.name()),
    }
}

/// The first time (ms from the schedule's start) at or after `from_ms` when
/// the timeline shows at least `workers`.
pub fn reached_at(timeline: &[(u64, usize)], from_ms: u64, workers: usize) -> Option<u64> {
    let mut current = None;
    for &(ms, n) in timeline {
        if ms <= from_ms {
            current = Some(n);
            continue;
        }
        if current.is_some_and(|c| c >= workers) {
            return Some(from_ms);
        }
        if n >= workers {
            return Some(ms);
        }
        current = Some(n);
    }
    current.filter(|&c| c >= workers).map(|_| from_ms)
}

/// When, after the quota change, perf_runtime's active workers reached the
/// new quota's count (ms after the change); `None` if it never did or the
/// scenario has no change.
pub fn grew_after_ms(row: &Row) -> Option<u64> {
    let (at, quota_us) = row.scenario.quota_change()?;
    let target = (quota_us / super::PERIOD_US) as usize;
    let from = at.as_millis() as u64;
    reached_at(&row.perf.timeline, from, target).map(|ms| ms - from)
}

/// One JSON object (one line) for `row`; times in ns.
pub fn json_line(row: &Row, spin_iters: u64, refresh_ms: u64) -> String {
    let (p, t) = (&row.perf, &row.tokio);
    let opt = |v: Option<f64>| v.map_or_else(|| "null".to_owned(), json_num);
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\"bench\":{},\"perf_p50_ns\":{:.0},\"perf_p99_ns\":{:.0},\"perf_p999_ns\":{:.0},\
         \"tokio_p50_ns\":{:.0},\"tokio_p99_ns\":{:.0},\"tokio_p999_ns\":{:.0},\"ratio_p99\":{},\
         \"perf_throttled\":{},\"tokio_throttled\":{},\"perf_periods\":{},\"tokio_periods\":{},\
         \"perf_throttled_ms\":{},\"tokio_throttled_ms\":{},",
        json_str(&row.bench),
        p.tail.p50,
        p.tail.p99,
        p.tail.p999,
        t.tail.p50,
        t.tail.p99,
        t.tail.p999,
        json_num(row.ratio_p99()),
        p.throttled,
        t.throttled,
        p.periods,
        t.periods,
        json_num(p.throttled_ns as f64 / 1e6),
        json_num(t.throttled_ns as f64 / 1e6),
    );
    let _ = write!(
        s,
        "\"perf_workers_start\":{},\"perf_workers_end\":{},\"tokio_workers_start\":{},\
         \"tokio_workers_end\":{},\"perf_grew_after_ms\":{},\"tokio_parallelism\":{},\
         \"perf_max_ns\":{:.0},\"tokio_max_ns\":{:.0},\"perf_drain_ms\":{},\"tokio_drain_ms\":{},\"perf_cpus_used\":{},\"tokio_cpus_used\":{},\
         \"perf_spawn_lag_p99_ns\":{:.0},\"tokio_spawn_lag_p99_ns\":{:.0},\"requests\":{},\
         \"quota_cpus\":{},\"demand_cpus\":{},\"work_ns\":{},\"spin_iters\":{},\
         \"perf_rounding\":{},\"perf_refresh_ms\":{},\"quota_change_lag_us\":{},",
        p.workers_start,
        p.workers_end,
        t.workers_start,
        t.workers_end,
        grew_after_ms(row).map_or_else(|| "null".to_owned(), |ms| ms.to_string()),
        t.parallelism,
        p.tail.max,
        t.tail.max,
        p.drain_ms,
        t.drain_ms,
        json_num(p.cpus_used()),
        json_num(t.cpus_used()),
        p.spawn_lag_p99_ns,
        t.spawn_lag_p99_ns,
        p.tail.n,
        json_str(&row.scenario.quota_label()),
        json_num(row.scenario.measured_demand()),
        WORK.as_nanos(),
        spin_iters,
        json_str(rounding_name(row.perf_side)),
        refresh_ms,
        opt(p.quota_change_lag_us),
    );
    // The hand-sized tokio arm: null where the scenario has none.
    let sized = row.tokio_sized.as_ref();
    let ns = |f: fn(&RunResult) -> f64| {
        sized.map_or_else(|| "null".to_owned(), |r| format!("{:.0}", f(r)))
    };
    let int =
        |f: fn(&RunResult) -> u64| sized.map_or_else(|| "null".to_owned(), |r| f(r).to_string());
    let _ = write!(
        s,
        "\"tokio_sized_p50_ns\":{},\"tokio_sized_p99_ns\":{},\"tokio_sized_p999_ns\":{},\
         \"ratio_p99_vs_tokio_sized\":{},\"tokio_sized_workers\":{},\"tokio_sized_throttled\":{},\
         \"tokio_sized_max_ns\":{},\"tokio_sized_cpus_used\":{}}}",
        ns(|r| r.tail.p50),
        ns(|r| r.tail.p99),
        ns(|r| r.tail.p999),
        opt(row.ratio_p99_vs_sized()),
        int(|r| r.workers_end as u64),
        int(|r| r.throttled),
        ns(|r| r.tail.max),
        opt(sized.map(RunResult::cpus_used)),
    );
    s
}

fn rounding_name(side: Side) -> &'static str {
    match side {
        Side::PerfFloor => "floor",
        _ => "ceil",
    }
}

fn us(ns: f64) -> String {
    format!("{:.0}", ns / 1e3)
}

fn triple(r: &RunResult) -> String {
    format!(
        "{} / {} / {}",
        us(r.tail.p50),
        us(r.tail.p99),
        us(r.tail.p999)
    )
}

/// The table's heading lines.
pub fn table_header(spin_iters: u64, refresh_ms: u64) -> String {
    format!(
        "container: open-loop Poisson arrivals, ~{} µs of CPU per request ({spin_iters} spin \
         iterations); each runtime in its own child process and cgroup, one after the other; \
         latency = scheduled arrival → completion\n\
         perf_runtime auto-sized (Ceil; the _floor row: Floor), container_refresh {refresh_ms} ms; \
         tokio with worker_threads unset (the tokio columns; a hand-sized tokio arm follows)\n\n\
         {:<28} {:>5} {:>6} {:>28} {:>28} {:>9} {:>12} {:>9}",
        WORK.as_micros(),
        "bench",
        "quota",
        "demand",
        "perf p50 / p99 / p999 µs",
        "tokio p50 / p99 / p999 µs",
        "p99 ratio",
        "throttled p/t",
        "workers p/t"
    )
}

/// One table row.
pub fn table_row(row: &Row) -> String {
    format!(
        "{:<28} {:>5} {:>6.2} {:>28} {:>28} {:>9.4} {:>12} {:>9}",
        row.bench,
        row.scenario.quota_label(),
        row.scenario.measured_demand(),
        triple(&row.perf),
        triple(&row.tokio),
        row.ratio_p99(),
        format!("{} / {}", row.perf.throttled, row.tokio.throttled),
        format!("{} / {}", row.perf.workers_end, row.tokio.workers_end),
    )
}

/// The method line under the main table.
pub const MAIN_METHOD: &str = "method: every measured request, scheduled arrival -> completion, \
     nothing trimmed; one child per runtime in its own cgroup (same quota, cpuset and \
     weight), the same seeded arrivals and calibrated work; both runtimes enable_all(); perf \
     auto-sized, tokio with worker_threads unset (tokio's default)";

/// The method line under the hand-sized tokio table.
pub const SIZED_METHOD: &str = "method: as above, but tokio with worker_threads set by hand to \
     the starting quota rounded up (1.5 CPU -> 2), the count a careful user picks; p99 ratio = \
     perf p99 / tokio_sized p99; where the workers match, it is the scheduling alone";

/// The second table: each row's perf_runtime run against tokio sized by
/// hand, or why the row has no such arm.
fn sized_table(rows: &[Row]) -> String {
    let mut s = format!(
        "\nthe same perf runs against tokio sized by hand (worker_threads = the quota rounded \
         up)\n{:<28} {:>31} {:>9} {:>13} {:>11}\n",
        "bench", "tokio sized p50 / p99 / p999 µs", "p99 ratio", "throttled p/t", "workers p/t"
    );
    for row in rows {
        match (&row.tokio_sized, row.ratio_p99_vs_sized()) {
            (Some(sized), Some(ratio)) => {
                let _ = writeln!(
                    s,
                    "{:<28} {:>31} {:>9.4} {:>13} {:>11}",
                    row.bench,
                    triple(sized),
                    ratio,
                    format!("{} / {}", row.perf.throttled, sized.throttled),
                    format!("{} / {}", row.perf.workers_end, sized.workers_end),
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "{:<28} no hand-sized tokio arm: worker_threads is fixed at build; sized for \
                     the starting {}-CPU quota it is {}, tokio's own choice, and no count set \
                     before the run follows the quota's change",
                    row.bench,
                    row.scenario.start_quota_us() as f64 / super::PERIOD_US as f64,
                    row.scenario.hand_sized_workers()
                );
            }
        }
    }
    let _ = writeln!(s, "{SIZED_METHOD}");
    s
}

/// What follows the main table's rows: its method line, the hand-sized
/// tokio table, then the notes: the target, how each side sized itself, the
/// worker timeline of a resize, the generator's lateness, the drain times.
pub fn table_notes(rows: &[Row]) -> String {
    let mut s = format!("{MAIN_METHOD}\n");
    s.push_str(&sized_table(rows));
    let _ = writeln!(
        s,
        "\np99 ratio = perf p99 / tokio p99, target ≤ {TARGET_RATIO_P99}; throttled = nr_throttled \
         periods of the child's cgroup over the measured window; workers = at the last arrival"
    );
    for row in rows {
        let verdict = if row.ratio_p99() <= TARGET_RATIO_P99 {
            "met"
        } else {
            "MISSED"
        };
        let _ = writeln!(s, "\n{}: target {verdict}", row.bench);
        let sides = [
            (row.perf_side.name(), Some(&row.perf)),
            ("tokio", Some(&row.tokio)),
            (Side::TokioSized.name(), row.tokio_sized.as_ref()),
        ];
        for (name, r) in sides.into_iter().filter_map(|(n, r)| Some((n, r?))) {
            let _ = writeln!(
                s,
                "  {name:<11} {} (available_parallelism {})\n              workers {}; \
                 {} requests, max {} µs, drained {} ms after the last arrival; used {:.2} \
                 CPUs; spawn lag p99 {} µs; throttled {:.1} ms in {} of {} periods",
                r.decision,
                r.parallelism,
                timeline_text(&r.timeline),
                r.tail.n,
                us(r.tail.max),
                r.drain_ms,
                r.cpus_used(),
                us(r.spawn_lag_p99_ns),
                r.throttled_ns as f64 / 1e6,
                r.throttled,
                r.periods
            );
        }
        if let Some(lag) = row.perf.quota_change_lag_us {
            let grew = grew_after_ms(row).map_or_else(
                || "never reached the new count".to_owned(),
                |ms| format!("{ms} ms"),
            );
            let _ = writeln!(
                s,
                "  quota raised {lag:.0} µs after its planned time; perf_runtime's active \
                 workers reached the new quota after {grew}"
            );
        }
    }
    s
}

fn timeline_text(t: &[(u64, usize)]) -> String {
    let parts: Vec<String> = t
        .iter()
        .map(|(ms, n)| format!("{n} @{:.2}s", *ms as f64 / 1e3))
        .collect();
    parts.join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(p99: f64, timeline: Vec<(u64, usize)>) -> RunResult {
        RunResult {
            tail: Tail {
                n: 140_000,
                p50: 150_000.0,
                p99,
                p999: p99 * 2.0,
                max: p99 * 3.0,
            },
            throttled: 4,
            periods: 100,
            throttled_ns: 12_000_000,
            workers_start: 1,
            workers_end: 2,
            timeline,
            spawn_lag_p99_ns: 60_000.0,
            spawn_lag_max_ns: 900_000.0,
            drain_ms: 3,
            cpu_ns: 14_000_000_000,
            window_ms: 10_000,
            parallelism: 2,
            decision: "2 workers: 2-CPU quota rounded up (Ceil) = 2; cpuset allows 2".to_owned(),
            quota_change_lag_us: None,
        }
    }

    #[test]
    fn result_line_round_trips() {
        let r = sample(400_000.0, vec![(0, 1), (5_930, 2)]);
        let lines = vec![
            "PARALLELISM 2".to_owned(),
            format!("DECISION {}", r.decision),
            "START 123".to_owned(),
            result_line(&r),
        ];
        assert_eq!(parse_child_output(&lines).unwrap(), r);
    }

    #[test]
    fn missing_or_garbled_output_is_named() {
        let err = parse_child_output(&["DECISION x".to_owned()]).unwrap_err();
        assert!(err.contains("PARALLELISM"), "{err}");
        let lines = vec![
            "PARALLELISM 1".to_owned(),
            "DECISION d".to_owned(),
            "RESULT n=3 p50=x".to_owned(),
        ];
        let err = parse_child_output(&lines).unwrap_err();
        assert!(err.contains("p50"), "{err}");
        assert!(parse_timeline("0:1,5x").unwrap_err().contains("5x"));
        assert_eq!(parse_timeline("").unwrap(), vec![]);
    }

    #[test]
    fn growth_is_timed_from_the_quota_change() {
        let t = [(0, 1), (5_930, 2)];
        assert_eq!(reached_at(&t, 5_000, 2), Some(5_930));
        assert_eq!(reached_at(&t, 6_000, 2), Some(6_000));
        assert_eq!(reached_at(&t, 5_000, 3), None);
        assert_eq!(reached_at(&[(0, 2)], 5_000, 2), Some(5_000));
        let row = Row {
            bench: bench_name(Scenario::Resize, Side::Perf),
            scenario: Scenario::Resize,
            perf_side: Side::Perf,
            perf: sample(400_000.0, t.to_vec()),
            tokio: sample(4_000_000_000.0, vec![(0, 1)]),
            tokio_sized: None,
        };
        assert_eq!(row.bench, "container_resize");
        assert_eq!(grew_after_ms(&row), Some(930));
        assert!((row.perf.cpus_used() - 1.4).abs() < 1e-9);
        assert!((row.ratio_p99() - 1e-4).abs() < 1e-12);
    }

    #[test]
    fn json_line_carries_the_issue_keys() {
        let row = Row {
            bench: bench_name(Scenario::Fractional, Side::PerfFloor),
            scenario: Scenario::Fractional,
            perf_side: Side::PerfFloor,
            perf: sample(500_000.0, vec![(0, 1)]),
            tokio: sample(1_000_000.0, vec![(0, 1)]),
            tokio_sized: None,
        };
        let j = json_line(&row, 28_000, 1_000);
        assert!(
            j.starts_with("{\"bench\":\"container_fractional_floor\","),
            "{j}"
        );
        for key in [
            "\"perf_p99_ns\":500000,",
            "\"tokio_p99_ns\":1000000,",
            "\"ratio_p99\":0.5000,",
            "\"perf_throttled\":4,",
            "\"tokio_throttled\":4,",
            "\"perf_rounding\":\"floor\"",
            "\"perf_grew_after_ms\":null",
            "\"quota_cpus\":\"1.5\"",
            // No hand-sized arm in this row: its keys are there, null.
            "\"tokio_sized_p99_ns\":null,",
            "\"ratio_p99_vs_tokio_sized\":null,",
        ] {
            assert!(j.contains(key), "{key} missing from {j}");
        }
        assert!(j.ends_with('}') && !j.contains('\n'));
    }

    fn fractional_with_sized_arm() -> Row {
        let mut sized = sample(250_000.0, vec![(0, 2)]);
        sized.workers_end = 2;
        sized.throttled = 7;
        Row {
            bench: bench_name(Scenario::Fractional, Side::Perf),
            scenario: Scenario::Fractional,
            perf_side: Side::Perf,
            perf: sample(500_000.0, vec![(0, 2)]),
            tokio: sample(1_000_000_000.0, vec![(0, 1)]),
            tokio_sized: Some(sized),
        }
    }

    #[test]
    fn hand_sized_arm_is_compared_apart_from_the_default() {
        let row = fractional_with_sized_arm();
        // Against the default the ratio keeps its meaning; against the
        // sized arm perf is 2x slower here, and that is what is reported.
        assert!((row.ratio_p99() - 5e-4).abs() < 1e-12);
        assert_eq!(row.ratio_p99_vs_sized(), Some(2.0));
        let j = json_line(&row, 28_000, 1_000);
        for key in [
            "\"tokio_p99_ns\":1000000000,",
            "\"ratio_p99\":0.0005,",
            "\"tokio_sized_p50_ns\":150000,",
            "\"tokio_sized_p99_ns\":250000,",
            "\"tokio_sized_p999_ns\":500000,",
            "\"ratio_p99_vs_tokio_sized\":2.0000,",
            "\"tokio_sized_workers\":2,",
            "\"tokio_sized_throttled\":7,",
            "\"tokio_sized_cpus_used\":1.4000}",
        ] {
            assert!(j.contains(key), "{key} missing from {j}");
        }
        let notes = table_notes(&[row]);
        assert!(notes.starts_with(MAIN_METHOD), "{notes}");
        let sized_line = notes
            .lines()
            .find(|l| l.starts_with("container_fractional "))
            .expect("a sized row");
        assert_eq!(
            sized_line.split_whitespace().collect::<Vec<_>>(),
            [
                "container_fractional",
                "150",
                "/",
                "250",
                "/",
                "500",
                "2.0000",
                "4",
                "/",
                "7",
                "2",
                "/",
                "2"
            ]
        );
        let columns = notes
            .lines()
            .find(|l| l.contains("tokio sized p50"))
            .expect("the sized table's header");
        assert_eq!(columns.chars().count(), sized_line.chars().count());
        assert!(notes.contains(SIZED_METHOD));
        assert!(notes.contains("  tokio_sized 2 workers"), "{notes}");
    }

    #[test]
    fn a_row_without_the_sized_arm_says_so() {
        let row = Row {
            bench: bench_name(Scenario::Resize, Side::Perf),
            scenario: Scenario::Resize,
            perf_side: Side::Perf,
            perf: sample(400_000.0, vec![(0, 1), (5_930, 2)]),
            tokio: sample(4_000_000_000.0, vec![(0, 1)]),
            tokio_sized: None,
        };
        assert_eq!(row.ratio_p99_vs_sized(), None);
        let notes = table_notes(&[row]);
        let line = notes
            .lines()
            .find(|l| l.starts_with("container_resize "))
            .expect("a line for the resize row");
        assert!(line.contains("no hand-sized tokio arm"), "{line}");
        assert!(line.contains("1-CPU quota it is 1"), "{line}");
        assert!(!notes.contains("  tokio_sized "), "{notes}");
    }
}
