//! Criterion version of `compare scheduler`: each workload is a group with
//! `perf` and `tokio` side by side, running the shared workload code from
//! `benches::workloads`.
//!
//! ```text
//! cargo bench -p benches --bench scheduler            # everything
//! cargo bench -p benches --bench scheduler -- ping_pong
//! ```

use std::time::Duration;

use benches::rt::{Perf, Rt, Tokio};
use benches::workloads::{Workload, WORKERS};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn bench_on<R: Rt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    w: Workload,
) {
    // One runtime per (workload, runtime), reused across all iterations.
    let rt = R::build(WORKERS).expect("failed to build runtime");
    group.bench_function(BenchmarkId::from_parameter(R::NAME), |b| {
        // Each workload times only its measured section (e.g. the busy
        // variant excludes starting/stopping its background load).
        b.iter_custom(|iters| (0..iters).map(|_| w.run(&rt)).sum::<Duration>());
    });
}

fn scheduler(c: &mut Criterion) {
    for w in Workload::ALL {
        let mut group = c.benchmark_group(w.name());
        group.sample_size(30);
        bench_on::<Perf>(&mut group, w);
        bench_on::<Tokio>(&mut group, w);
        group.finish();
    }
}

criterion_group!(benches, scheduler);
criterion_main!(benches);
