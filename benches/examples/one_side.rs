//! Runs one `sync` workload on one runtime only, for profiling: with a
//! single runtime alive, `perf record` / `perf stat` see only its threads
//! (`compare -- sync` keeps both runtimes alive to interleave them).
//!
//! ```sh
//! cargo run --release -p benches --example one_side -- perf rwlock_read_heavy
//! PERF_RUNTIME_VALIDATION=off perf stat -e context-switches \
//!     target/release/examples/one_side perf rwlock_read_heavy
//! ```
//!
//! Prints p10 / p25 / median / p75 / p90 of the per-operation time over the
//! samples (200 by default; `SAMPLES=n` to change), each a whole workload
//! run in a task spawned from outside, after a 2 ms pause, as `compare`
//! does. The workers are pinned one per CPU, as in `compare -- sync`;
//! `UNPINNED=1` lets the OS place them.

use benches::rt::{Perf, Placement, Rt, Tokio};
use benches::sync::api::SyncRt;
use benches::sync::{sample, Bench};
use std::process::ExitCode;

const WORKERS: usize = 2;

/// `samples` samples of `bench` on `rt`, taken as `compare` takes each
/// (`benches::sync::sample`), sorted.
fn run<R: SyncRt>(rt: &R, bench: Bench, samples: usize) -> Result<Vec<f64>, String> {
    let mut out = (0..samples)
        .map(|_| sample(rt, bench))
        .collect::<Result<Vec<f64>, String>>()?;
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("one_side: {msg}\nusage: one_side perf|tokio BENCH   (BENCH as in `compare -- sync --only`)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(side), Some(name)) = (args.next(), args.next()) else {
        return usage("two arguments expected");
    };
    let Some(bench) = Bench::from_name(&name) else {
        return usage(&format!("unknown bench `{name}`"));
    };
    let samples = match std::env::var("SAMPLES") {
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n >= 10 => n,
            _ => {
                return usage(&format!(
                    "SAMPLES={v}: expected a whole number of at least 10"
                ))
            }
        },
        Err(_) => 200,
    };
    let placement = if std::env::var_os("UNPINNED").is_some() {
        Placement::Os
    } else {
        Placement::Pinned
    };
    let result = match side.as_str() {
        "perf" => Perf::build_placed(WORKERS, placement)
            .map_err(|e| e.to_string())
            .and_then(|rt| run(&rt, bench, samples)),
        "tokio" => Tokio::build_placed(WORKERS, placement)
            .map_err(|e| e.to_string())
            .and_then(|rt| run(&rt, bench, samples)),
        _ => return usage(&format!("unknown runtime `{side}`")),
    };
    match result {
        Ok(v) => {
            let at = |q: usize| v[(v.len() - 1) * q / 100];
            println!(
                "{side} {name}: p10 {:.1} p25 {:.1} median {:.1} p75 {:.1} p90 {:.1} ns/op \
                 ({samples} samples)",
                at(10),
                at(25),
                at(50),
                at(75),
                at(90)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("one_side: {side} {name}: {e}");
            ExitCode::FAILURE
        }
    }
}
