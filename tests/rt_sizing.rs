//! Container sizing on a real runtime, driven by a fixture tree of cgroup
//! v2 files (`Builder::container_root`): the worker count chosen from the
//! quota, the active set following a changed quota, explicit counts
//! winning, and no task lost while the active set shrinks and grows.
//!
//! The real-cgroup tests are in `container_cgroup.rs`.

mod support;
use support::*;

use perf_runtime::container::{PressureLevel, Rounding};
use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::task;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// A cgroup v2 container on 4 CPUs, with `cpu.max` and memory files that
/// tests rewrite while the runtime runs. Removed on drop.
struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn new(label: &str, cpu_max: &str) -> Fixture {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "perf_runtime_rt_sizing_{}_{label}_{}",
            std::process::id(),
            N.fetch_add(1, SeqCst)
        ));
        let _ = fs::remove_dir_all(&root);
        let f = Fixture { root };
        f.write(
            "proc/self/mountinfo",
            "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        f.write("proc/self/cgroup", "0::/app\n");
        f.write("proc/self/status", "Cpus_allowed_list:\t0-3\n");
        f.write("sys/devices/system/cpu/online", "0-3\n");
        f.write("sys/fs/cgroup/app/cpu.max", cpu_max);
        f.write("sys/fs/cgroup/app/cpuset.cpus.effective", "0-3\n");
        f.write("sys/fs/cgroup/app/memory.max", "1000000\n");
        f.write("sys/fs/cgroup/app/memory.current", "100000\n");
        f.write(
            "sys/fs/cgroup/app/cpu.stat",
            "usage_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
        );
        f
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Write then rename, so the monitor never reads a half-written file.
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, &path).unwrap();
    }

    fn runtime(&self, refresh: Option<Duration>) -> Runtime {
        Builder::new_multi_thread()
            .container_root(&self.root)
            .container_refresh(refresh)
            .build()
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

const REFRESH: Duration = Duration::from_millis(10);

#[test]
fn the_quota_decides_the_worker_count_rounding_up_by_default() {
    let f = Fixture::new("ceil", "150000 100000\n");
    let rt = f.runtime(None);
    let decision = rt.handle().worker_decision();
    assert_eq!(decision.workers, 2, "{decision}");
    assert!(decision.reason.contains("1.5-CPU quota"), "{decision}");
    // One thread per allowed CPU, two of them active.
    assert_eq!(rt.metrics().num_workers(), 4);
    assert_eq!(rt.metrics().active_workers(), 2);
    let limits = rt.handle().container_limits().unwrap();
    assert_eq!(limits.cpu_quota, Some(1.5));

    let floor = Builder::new_multi_thread()
        .container_root(&f.root)
        .container_refresh(None)
        .worker_rounding(Rounding::Floor)
        .build()
        .unwrap();
    assert_eq!(floor.handle().worker_decision().workers, 1);
    assert_eq!(floor.metrics().active_workers(), 1);
}

#[test]
fn an_explicit_worker_count_wins_over_the_quota() {
    let f = Fixture::new("explicit", "150000 100000\n");
    let rt = Builder::new_multi_thread()
        .container_root(&f.root)
        .worker_threads(3)
        .build()
        .unwrap();
    assert_eq!(rt.metrics().num_workers(), 3);
    assert_eq!(rt.metrics().active_workers(), 3);
    assert!(rt
        .handle()
        .worker_decision()
        .reason
        .contains("worker_threads(3)"));
}

#[test]
fn no_quota_runs_one_worker_per_allowed_cpu() {
    let f = Fixture::new("noquota", "max 100000\n");
    let rt = f.runtime(None);
    assert_eq!(rt.metrics().active_workers(), 4);
}

#[test]
fn the_active_set_follows_a_changed_quota() {
    within(|| {
        let f = Fixture::new("live", "150000 100000\n");
        let rt = f.runtime(Some(REFRESH));
        assert_eq!(rt.metrics().active_workers(), 2);
        for (cpu_max, want) in [
            ("300000 100000\n", 3),
            ("100000 100000\n", 1),
            ("max 100000\n", 4),
        ] {
            f.write("sys/fs/cgroup/app/cpu.max", cpu_max);
            assert!(
                wait_until(PATIENCE, || rt.metrics().active_workers() == want),
                "cpu.max {cpu_max:?}: active workers stayed at {}",
                rt.metrics().active_workers()
            );
            // The runtime still runs tasks at the new size.
            assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
        }
    });
}

#[test]
fn no_task_is_lost_while_the_active_set_shrinks_and_grows() {
    within(|| {
        let f = Fixture::new("churn", "400000 100000\n");
        let rt = f.runtime(Some(REFRESH));
        let done = std::sync::Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2_000)
            .map(|i| {
                let done = done.clone();
                task::Builder::new()
                    .qos(perf_runtime::task::Qos::ALL[i % 3])
                    .spawn_on(
                        async move {
                            for _ in 0..20 {
                                task::yield_now().await;
                            }
                            done.fetch_add(1, SeqCst);
                        },
                        rt.handle(),
                    )
                    .unwrap()
            })
            .collect();
        // Shrink to 1 and back while the tasks run.
        for cpu_max in ["100000 100000\n", "400000 100000\n", "100000 100000\n"] {
            f.write("sys/fs/cgroup/app/cpu.max", cpu_max);
            std::thread::sleep(REFRESH * 3);
        }
        rt.block_on(async {
            for h in handles {
                h.await.unwrap();
            }
        });
        assert_eq!(done.load(SeqCst), 2_000);
    });
}

#[test]
fn memory_pressure_is_read_from_usage_against_the_limit() {
    within(|| {
        let f = Fixture::new("pressure", "max 100000\n");
        let rt = f.runtime(Some(REFRESH));
        assert_eq!(rt.handle().pressure(), PressureLevel::None);
        f.write("sys/fs/cgroup/app/memory.current", "990000\n");
        assert!(
            wait_until(PATIENCE, || rt.handle().pressure()
                == PressureLevel::Critical),
            "99% of the limit in use was not Critical: {:?}",
            rt.handle().pressure()
        );
    });
}

#[test]
fn a_pressure_watch_sees_the_monitor_change_the_level() {
    within(|| {
        let f = Fixture::new("pressure-watch", "max 100000\n");
        let rt = f.runtime(Some(REFRESH));
        let mut watch = rt.handle().pressure_watch();
        assert_eq!(watch.level(), PressureLevel::None);
        assert!(!watch.has_changed());
        let follower = rt.spawn(async move {
            let level = watch.changed().await.unwrap();
            (level, watch)
        });
        f.write("sys/fs/cgroup/app/memory.current", "990000\n");
        let (level, watch) = rt.block_on(follower).unwrap();
        assert_eq!(level, PressureLevel::Critical);
        assert_eq!(watch.level(), PressureLevel::Critical);
        assert_eq!(rt.handle().pressure(), PressureLevel::Critical);
    });
}

#[test]
fn throttling_with_every_worker_busy_steps_the_active_count_down() {
    within(|| {
        // 1.5 CPUs: Ceil runs 2 workers; the step-down may take the
        // fractional one back (never below floor(quota) = 1).
        let f = Fixture::new("throttle", "150000 100000\n");
        let rt = f.runtime(Some(REFRESH));
        assert_eq!(rt.metrics().active_workers(), 2);
        // Keep both workers busy (no park) while the fixture reports a
        // throttled period at every refresh.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spinners: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                rt.spawn(async move {
                    while !stop.load(SeqCst) {
                        task::yield_now().await;
                    }
                })
            })
            .collect();
        let mut throttled = 0;
        let stepped = wait_until(PATIENCE, || {
            throttled += 1;
            f.write(
                "sys/fs/cgroup/app/cpu.stat",
                &format!(
                    "usage_usec 0\nnr_periods {}\nnr_throttled {throttled}\nthrottled_usec {}\n",
                    throttled * 2,
                    throttled * 1000
                ),
            );
            std::thread::sleep(REFRESH);
            rt.metrics().active_workers() == 1
        });
        assert!(stepped, "the active count never stepped down");
        assert!(rt.metrics().throttle_step_downs() >= 1);
        stop.store(true, SeqCst);
        for s in spinners {
            rt.block_on(s).unwrap();
        }
    });
}

#[test]
fn throttling_never_steps_below_the_whole_cpus_of_the_quota() {
    within(|| {
        // A 2-CPU quota runs 2 workers; throttling with both busy does not
        // take one away: rounding up added no worker here.
        let f = Fixture::new("throttle_floor", "200000 100000\n");
        let rt = f.runtime(Some(REFRESH));
        assert_eq!(rt.metrics().active_workers(), 2);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spinners: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                rt.spawn(async move {
                    while !stop.load(SeqCst) {
                        task::yield_now().await;
                    }
                })
            })
            .collect();
        // Many more throttled samples than the 3 a step-down needs.
        for throttled in 1..=20u64 {
            f.write(
                "sys/fs/cgroup/app/cpu.stat",
                &format!(
                    "usage_usec 0\nnr_periods {}\nnr_throttled {throttled}\nthrottled_usec {}\n",
                    throttled * 2,
                    throttled * 1000
                ),
            );
            // Wait until the monitor has read this sample.
            assert!(wait_until(PATIENCE, || {
                rt.handle()
                    .container_limits()
                    .and_then(|l| l.throttling)
                    .is_some_and(|t| t.nr_throttled == throttled)
            }));
        }
        assert_eq!(rt.metrics().active_workers(), 2);
        assert_eq!(rt.metrics().throttle_step_downs(), 0);
        stop.store(true, SeqCst);
        for s in spinners {
            rt.block_on(s).unwrap();
        }
    });
}
