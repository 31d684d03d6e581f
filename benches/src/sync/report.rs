//! The `sync` table and JSON lines.

use super::Bench;
use crate::json::{number as json_num, string as json_str};
use crate::rt::Placement;
use crate::stats::{paired_median_ratio, Summary};

/// The uncontended mutex loop measured in two validation settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidationPair {
    /// perf_runtime with validation off.
    pub off: Summary,
    /// perf_runtime in `Report` mode; with [`aa`](Self::aa), a second
    /// runtime with validation off.
    pub report: Summary,
    /// Report over off, paired by round (see [`paired_median_ratio`]).
    pub overhead: f64,
    /// A/A check (`--off-vs-off`): both sides off, so `overhead` shows the
    /// noise floor it is read against.
    pub aa: bool,
}

impl ValidationPair {
    /// The pair from its samples, `off[i]` and `report[i]` taken in the same
    /// round.
    pub fn new(off: &[f64], report: &[f64], aa: bool) -> ValidationPair {
        ValidationPair {
            off: Summary::of_f64(off),
            report: Summary::of_f64(report),
            overhead: paired_median_ratio(report, off),
            aa,
        }
    }
}

/// One benchmark's figures, all in ns per operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Which benchmark.
    pub bench: Bench,
    /// perf_runtime (for the validation pair: its `Report` side if measured,
    /// else its `Off` side).
    pub perf: Summary,
    /// tokio.
    pub tokio: Summary,
    /// perf over tokio, paired by round (see [`paired_median_ratio`]).
    pub paired_ratio: f64,
    /// The validation pair, when both sides were measured.
    pub validation: Option<ValidationPair>,
}

impl Row {
    /// A row without validation figures, from the samples of both sides
    /// (`perf[i]` and `tokio[i]` taken in the same round).
    pub fn new(bench: Bench, perf: &[f64], tokio: &[f64]) -> Row {
        Row {
            bench,
            perf: Summary::of_f64(perf),
            tokio: Summary::of_f64(tokio),
            paired_ratio: paired_median_ratio(perf, tokio),
            validation: None,
        }
    }

    /// This row with the validation pair.
    pub fn with_validation(self, pair: ValidationPair) -> Row {
        Row {
            validation: Some(pair),
            ..self
        }
    }

    /// perf median over tokio median.
    pub fn ratio(&self) -> f64 {
        self.perf.median / self.tokio.median
    }
}

/// The table's title and column header.
pub fn table_header(
    samples: usize,
    warmup: usize,
    tokio_vs_tokio: bool,
    placement: Placement,
) -> String {
    let what = if tokio_vs_tokio {
        "A/A check: tokio::sync (perf column) vs tokio::sync"
    } else {
        "perf_runtime::sync vs tokio::sync"
    };
    let placed = match placement {
        Placement::Pinned => "workers pinned one per CPU",
        Placement::Os => "threads placed by the OS",
    };
    format!(
        "{what}, multi-thread, 2 workers each ({placed}); up to {samples} samples after \
         {warmup} warm-up rounds, interleaved; ns per operation\n\n{:<20} {:>8} {:>6} {:>15} {:>6} {:>15} {:>10} {:>7}",
        "bench", "ops", "perf", "perf p10..p90", "tokio", "tokio p10..p90", "perf/tokio", "paired"
    )
}

fn range(s: &Summary) -> String {
    format!("{:.1}..{:.1}", s.p10, s.p90)
}

/// One table line for `row` (two when it has a validation pair).
pub fn table_row(row: &Row) -> String {
    let mut out = format!(
        "{:<20} {:>8} {:>6.1} {:>15} {:>6.1} {:>15} {:>10.3} {:>7.3}",
        row.bench.name(),
        row.bench.ops(),
        row.perf.median,
        range(&row.perf),
        row.tokio.median,
        range(&row.tokio),
        row.ratio(),
        row.paired_ratio
    );
    if let Some(v) = &row.validation {
        let (a, b) = if v.aa {
            ("off", "off again")
        } else {
            ("off", "report")
        };
        out.push_str(&format!(
            "\n  validation: {a} {:.1} ({}), {b} {:.1} ({}), {b}/{a} paired {:.3}{}",
            v.off.median,
            range(&v.off),
            v.report.median,
            range(&v.report),
            v.overhead,
            if v.aa { "  [A/A: noise floor]" } else { "" }
        ));
    }
    out
}

/// The line printed under the table when the validation pair could not be
/// measured, or `None` when it was (or was not asked for).
pub fn validation_note(rows: &[Row], switch_present: bool, tokio_vs_tokio: bool) -> Option<String> {
    let asked = rows.iter().any(|r| r.bench == Bench::MutexUncontended);
    if !asked || switch_present || tokio_vs_tokio {
        return None;
    }
    Some(
        "mutex_uncontended: validation Report not measured (this perf_runtime has no validation \
         modes; see VALIDATION_SWITCH in benches/src/sync/mod.rs); its perf column is the \
         primitives as they are"
            .to_owned(),
    )
}

/// `row` as one JSON object: `bench`, `perf_ns`, `tokio_ns` (medians),
/// `ratio` (of the medians), `paired_ratio`, `ops`, `samples`, the p10 / p90
/// of both sides, and for the validation pair `off_ns`, `report_ns`
/// (medians) and `overhead` (paired); in the A/A check `off_ns`,
/// `off_again_ns`, `off_ratio`.
pub fn json_line(row: &Row, placement: Placement) -> String {
    let mut out = format!(
        "{{\"bench\":{},\"perf_ns\":{},\"tokio_ns\":{},\"ratio\":{},\"paired_ratio\":{},\"ops\":{},\"samples\":{},\
         \"perf_p10_ns\":{},\"perf_p90_ns\":{},\"tokio_p10_ns\":{},\"tokio_p90_ns\":{},\"pinned\":{}",
        json_str(row.bench.name()),
        json_num(row.perf.median),
        json_num(row.tokio.median),
        json_num(row.ratio()),
        json_num(row.paired_ratio),
        row.bench.ops(),
        row.perf.n.min(row.tokio.n),
        json_num(row.perf.p10),
        json_num(row.perf.p90),
        json_num(row.tokio.p10),
        json_num(row.tokio.p90),
        placement == Placement::Pinned,
    );
    if let Some(v) = &row.validation {
        let (b, ratio) = if v.aa {
            ("off_again_ns", "off_ratio")
        } else {
            ("report_ns", "overhead")
        };
        out.push_str(&format!(
            ",\"off_ns\":{},\"{b}\":{},\"{ratio}\":{}",
            json_num(v.off.median),
            json_num(v.report.median),
            json_num(v.overhead)
        ));
    }
    out.push('}');
    out
}
