//! The worker-count rule.

use super::*;

fn workers(quota: Option<f64>, cpus: usize, rounding: Rounding) -> usize {
    decide_workers(quota, cpus, rounding, None).workers
}

#[test]
fn rounding_table() {
    use Rounding::*;
    for (quota, ceil, floor, nearest) in [
        (0.01, 1, 1, 1),
        (0.5, 1, 1, 1),
        (1.0, 1, 1, 1),
        (1.01, 2, 1, 1),
        (1.49, 2, 1, 1),
        (1.5, 2, 1, 2),
        (2.5, 3, 2, 3),
        (3.99, 4, 3, 4),
    ] {
        assert_eq!(workers(Some(quota), 64, Ceil), ceil, "ceil {quota}");
        assert_eq!(workers(Some(quota), 64, Floor), floor, "floor {quota}");
        assert_eq!(
            workers(Some(quota), 64, Nearest),
            nearest,
            "nearest {quota}"
        );
    }
    assert_eq!(Rounding::default(), Ceil);
    assert_eq!(Ceil.apply(1e30), usize::MAX, "saturates");
    assert_eq!(Floor.apply(f64::NAN), 1);
    assert_eq!(Ceil.apply(-3.0), 1);
}

#[test]
fn the_cpuset_caps_the_quota() {
    let d = decide_workers(Some(3.0), 2, Rounding::Ceil, None);
    assert_eq!(d.workers, 2);
    assert_eq!(
        d.reason,
        "3.0-CPU quota rounded up (Ceil) = 3; cpuset allows 2, so 2"
    );
    let d = decide_workers(Some(1.5), 1, Rounding::Ceil, None);
    assert_eq!(d.workers, 1);
    assert_eq!(
        d.to_string(),
        "1 workers: 1.5-CPU quota rounded up (Ceil) = 2; cpuset allows 1, so 1"
    );
}

#[test]
fn the_reason_of_the_issue_example() {
    let d = decide_workers(Some(1.5), 2, Rounding::Ceil, None);
    assert_eq!(d.workers, 2);
    assert_eq!(
        d.reason,
        "1.5-CPU quota rounded up (Ceil) = 2; cpuset allows 2"
    );
    let d = decide_workers(Some(1.5), 2, Rounding::Nearest, None);
    assert_eq!(
        d.reason,
        "1.5-CPU quota rounded to nearest (Nearest) = 2; cpuset allows 2"
    );
    let d = decide_workers(Some(1.0 / 3.0), 2, Rounding::Floor, None);
    assert_eq!(
        d.reason,
        "0.333-CPU quota rounded down (Floor) = 1; cpuset allows 2"
    );
}

#[test]
fn no_quota_gives_the_cpuset_count() {
    let d = decide_workers(None, 6, Rounding::Floor, None);
    assert_eq!(d.workers, 6);
    assert_eq!(d.reason, "no CPU quota; cpuset allows 6");
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let d = decide_workers(Some(bad), 3, Rounding::Ceil, None);
        assert_eq!(d.workers, 3, "{bad}");
        assert!(d.reason.contains("not a positive number"), "{}", d.reason);
    }
    assert_eq!(workers(None, 0, Rounding::Ceil), 1, "0 CPUs is read as 1");
}

#[test]
fn an_explicit_count_wins() {
    let d = decide_workers(
        Some(1.5),
        2,
        Rounding::Ceil,
        Some(WorkerOverride::Builder(8)),
    );
    assert_eq!(d.workers, 8);
    assert_eq!(
        d.reason,
        "Builder::worker_threads(8) set explicitly; detection not used \
         (more workers than the 2 CPUs the cpuset allows)"
    );
    let d = decide_workers(None, 4, Rounding::Floor, Some(WorkerOverride::Env(3)));
    assert_eq!(d.workers, 3);
    assert_eq!(
        d.reason,
        "PERF_RUNTIME_WORKER_THREADS=3 set explicitly; detection not used"
    );
    let d = decide_workers(None, 4, Rounding::Floor, Some(WorkerOverride::Env(0)));
    assert_eq!(d.workers, 1, "never 0");
}

#[test]
fn quota_prints_without_noise() {
    use super::super::policy::Quota;
    for (q, text) in [
        (1.5, "1.5"),
        (2.0, "2.0"),
        (0.3333, "0.333"),
        (0.25, "0.25"),
        (10.0, "10.0"),
    ] {
        assert_eq!(Quota(q).to_string(), text);
    }
}
