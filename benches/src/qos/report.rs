//! The `qos` results as a text table or JSON lines.

use std::fmt::Write as _;

use super::{BATCH_POLL, BATCH_TASKS, PERIOD, ROUNDS, WARMUP_WAKES};
use crate::json;
use crate::stats::Tail;
use crate::workloads::WORKERS;

/// What is reported for one runtime in one mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Wake delays, ns.
    pub tail: Tail,
    /// Batch polls per second during the measured wakes.
    pub batch_polls_per_s: f64,
}

/// One reported line: a perf variant against tokio in one mode.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `qos_<mode><variant suffix>`.
    pub bench: String,
    /// The perf variant's figures.
    pub perf: Figures,
    /// tokio's figures.
    pub tokio: Figures,
}

impl Row {
    /// perf p99 / tokio p99 (< 1: perf's critical task is served sooner).
    pub fn ratio_p99(&self) -> f64 {
        self.perf.tail.p99 / self.tokio.tail.p99
    }

    /// perf Batch polls/s / tokio Batch polls/s (< 1: perf gave Batch less).
    pub fn ratio_batch(&self) -> f64 {
        self.perf.batch_polls_per_s / self.tokio.batch_polls_per_s
    }
}

/// The row as one JSON object (no trailing newline).
pub fn json_line(row: &Row) -> String {
    let (p, t) = (&row.perf, &row.tokio);
    format!(
        "{{\"bench\":{},\"perf_p50_ns\":{:.0},\"perf_p99_ns\":{:.0},\"perf_p999_ns\":{:.0},\
         \"tokio_p50_ns\":{:.0},\"tokio_p99_ns\":{:.0},\"tokio_p999_ns\":{:.0},\"ratio_p99\":{},\
         \"wakes\":{},\"perf_batch_polls_per_s\":{:.0},\"tokio_batch_polls_per_s\":{:.0},\
         \"ratio_batch\":{}}}",
        json::string(&row.bench),
        p.tail.p50,
        p.tail.p99,
        p.tail.p999,
        t.tail.p50,
        t.tail.p99,
        t.tail.p999,
        json::number(row.ratio_p99()),
        p.tail.n,
        p.batch_polls_per_s,
        t.batch_polls_per_s,
        json::number(row.ratio_batch()),
    )
}

/// The text report's preamble and column headers.
pub fn table_header(spin_iterations: u64, wakes: usize) -> String {
    format!(
        "qos: perf_runtime vs tokio, multi-thread, {WORKERS} workers each\n\
         batch backlog: {BATCH_TASKS} tasks ({} per worker), each poll spins {spin_iterations} \
         iterations (~{} µs, calibrated) then yields\n\
         critical task: {wakes} measured wakes per mode and runtime, {ROUNDS} rounds interleaved \
         between the runtimes, {WARMUP_WAKES} warm-up wakes dropped per round, one wake per {} ms \
         (timer: on average)\n\
         wake delay in µs; ratio = perf p99 / tokio p99 (< 1: perf serves the critical task sooner)\n\n\
         {:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}",
        BATCH_TASKS / WORKERS,
        BATCH_POLL.as_micros(),
        PERIOD.as_millis(),
        "bench",
        "perf p50",
        "perf p99",
        "perf p999",
        "tokio p50",
        "tokio p99",
        "tokio p999",
        "p99 ratio",
    )
}

/// One line of the latency table.
pub fn table_row(row: &Row) -> String {
    let us = |ns: f64| ns / 1_000.0;
    let (p, t) = (&row.perf.tail, &row.tokio.tail);
    format!(
        "{:<24} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>9.3}",
        row.bench,
        us(p.p50),
        us(p.p99),
        us(p.p999),
        us(t.p50),
        us(t.p99),
        us(t.p999),
        row.ratio_p99()
    )
}

/// The method line under the latency table.
pub const LATENCY_METHOD: &str = "method: both runtimes multi-thread, 2 workers, every driver \
     enabled, the same backlog; delay = outside send -> the critical task's receive (outside, \
     inside), or timer wake - the deadline the task asked for (deadline = Instant::now() + d \
     taken before sleep_until, d = 0.5..1.5 ms on a golden-ratio sequence, not aligned to 1 ms, \
     the same on both runtimes); every measured sample kept, nothing subtracted on either side";

/// The method line under the Batch throughput table.
pub const THROUGHPUT_METHOD: &str = "method: Batch polls completed from the end of each round's \
     warm-up to its last measured wake, divided by that time, summed over the rounds";

/// What follows the latency table: its method line, then the Batch
/// throughput table and its method line.
pub fn table_notes(rows: &[Row]) -> String {
    let ideal = WORKERS as f64 / BATCH_POLL.as_secs_f64();
    let mut out = format!(
        "{LATENCY_METHOD}\n\
         \nbatch throughput during the measured wakes, polls/s \
         (at most {ideal:.0}: {WORKERS} workers doing nothing but {} µs polls)\n\
         {:<24} {:>12} {:>12} {:>10}\n",
        BATCH_POLL.as_micros(),
        "bench",
        "perf",
        "tokio",
        "perf/tokio"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<24} {:>12.0} {:>12.0} {:>10.3}",
            row.bench,
            row.perf.batch_polls_per_s,
            row.tokio.batch_polls_per_s,
            row.ratio_batch()
        );
    }
    let _ = writeln!(out, "{THROUGHPUT_METHOD}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(p50: f64, p99: f64, polls: f64) -> Figures {
        Figures {
            tail: Tail {
                n: 3_000,
                p50,
                p99,
                p999: p99 * 2.0,
                max: p99 * 3.0,
            },
            batch_polls_per_s: polls,
        }
    }

    fn row(bench: &str) -> Row {
        Row {
            bench: bench.to_owned(),
            perf: figures(10_000.0, 50_000.0, 18_000.0),
            tokio: figures(20_000.0, 200_000.0, 20_000.0),
        }
    }

    #[test]
    fn ratios() {
        let r = row("qos_outside");
        assert_eq!(r.ratio_p99(), 0.25);
        assert_eq!(r.ratio_batch(), 0.9);
    }

    #[test]
    fn json_has_the_agreed_keys() {
        assert_eq!(
            json_line(&row("qos_outside")),
            "{\"bench\":\"qos_outside\",\"perf_p50_ns\":10000,\"perf_p99_ns\":50000,\
             \"perf_p999_ns\":100000,\"tokio_p50_ns\":20000,\"tokio_p99_ns\":200000,\
             \"tokio_p999_ns\":400000,\"ratio_p99\":0.2500,\"wakes\":3000,\
             \"perf_batch_polls_per_s\":18000,\"tokio_batch_polls_per_s\":20000,\
             \"ratio_batch\":0.9000}"
        );
        // Timer rows carry the same keys (no per-side tick phase any more).
        let timer = json_line(&row("qos_timer_reserved"));
        assert!(timer.starts_with("{\"bench\":\"qos_timer_reserved\","));
        assert!(!timer.contains("tick_phase"), "{timer}");
        assert!(timer.ends_with(",\"ratio_batch\":0.9000}"), "{timer}");
    }

    #[test]
    fn table_lines_line_up() {
        let header = table_header(123_456, 3_000);
        assert!(header.contains("123456 iterations"));
        let columns = header.lines().last().unwrap();
        let line = table_row(&row("qos_inside"));
        assert_eq!(columns.len(), line.len());
        assert_eq!(
            line.split_whitespace().collect::<Vec<_>>(),
            [
                "qos_inside",
                "10.0",
                "50.0",
                "100.0",
                "20.0",
                "200.0",
                "400.0",
                "0.250"
            ]
        );
        // Each table is followed by its method line.
        let notes = table_notes(&[row("qos_inside"), row("qos_timer")]);
        let lines: Vec<&str> = notes.lines().collect();
        assert_eq!(lines[0], LATENCY_METHOD);
        assert_eq!(*lines.last().unwrap(), THROUGHPUT_METHOD);
        assert!(lines[lines.len() - 2].starts_with("qos_timer "));
        assert!(notes.contains("0.900"));
        assert!(!notes.contains("tick phase"));
        assert!(LATENCY_METHOD.contains("nothing subtracted"));
    }
}
