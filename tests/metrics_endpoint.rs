//! The metrics endpoint: what `/metrics` reports after known work, content
//! negotiation, `/healthz`, `/debug/tasks`, `/debug/locks`, foreign metrics.

#[path = "metrics_support/mod.rs"]
mod support;

use perf_runtime::metrics::{self, ForeignHistogram};
use perf_runtime::runtime::{Builder, IoDriver};
use perf_runtime::sync::{oneshot, Barrier, Mutex, Notify};
use perf_runtime::task::Qos;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{get, request, sample};

fn runtime() -> perf_runtime::runtime::Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .metrics_addr("127.0.0.1:0")
        .build()
        .unwrap()
}

#[test]
fn metrics_count_what_the_runtime_did() {
    let rt = runtime();
    let addr = rt.metrics_local_addr().unwrap();
    let gate = Arc::new(Notify::new());
    let parked: Vec<_> = rt.block_on(async {
        for qos in [Qos::Critical, Qos::Batch] {
            let hs: Vec<_> = (0..100)
                .map(|_| perf_runtime::spawn_with(qos, async {}))
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
        // 30 Normal tasks parked on a Notify: alive, not completed.
        (0..30)
            .map(|_| {
                let g = gate.clone();
                perf_runtime::spawn(async move { g.notified().await })
            })
            .collect()
    });
    // A task's completion is counted just after its JoinHandle is woken,
    // so the last one may land a moment after `block_on` returns.
    let r = eventually("every completion counted", || {
        let r = get(addr, "/metrics");
        let done = ["critical", "batch"].iter().all(|q| {
            sample(
                &r.body,
                &format!("perf_runtime_tasks_completed_total{{qos=\"{q}\"}}"),
            ) == Some(100.0)
        });
        done.then_some(r)
    });
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some(metrics::TEXT_CONTENT_TYPE),
        "no Accept: the 0.0.4 text format"
    );
    let t = &r.body;
    assert!(!t.contains("# EOF") && !t.contains("# UNIT"), "{t}");
    assert!(
        t.contains("# TYPE perf_runtime_tasks_spawned_total counter"),
        "{t}"
    );
    for qos in ["critical", "batch"] {
        assert_eq!(
            sample(
                t,
                &format!("perf_runtime_tasks_spawned_total{{qos=\"{qos}\"}}")
            ),
            Some(100.0)
        );
        assert_eq!(
            sample(
                t,
                &format!("perf_runtime_tasks_completed_total{{qos=\"{qos}\"}}")
            ),
            Some(100.0)
        );
    }
    assert_eq!(
        sample(t, "perf_runtime_tasks_alive{qos=\"normal\"}"),
        Some(30.0)
    );
    assert_eq!(sample(t, "perf_runtime_workers"), Some(2.0));
    // One wake in 1024 of the spawning thread's is timed, its first
    // included: of the 100 Critical spawns, the first (this thread's first
    // wake).
    let count = sample(
        t,
        "perf_runtime_wake_to_poll_delay_seconds_count{qos=\"critical\"}",
    )
    .unwrap();
    assert_eq!(count, 1.0, "critical wake delays counted");
    assert_eq!(
        sample(
            t,
            "perf_runtime_wake_to_poll_delay_seconds_bucket{le=\"+Inf\",qos=\"critical\"}"
        )
        .or_else(|| sample(
            t,
            "perf_runtime_wake_to_poll_delay_seconds_bucket{qos=\"critical\",le=\"+Inf\"}"
        )),
        Some(count)
    );
    let polls: f64 = (0..2)
        .map(|w| {
            sample(
                t,
                &format!("perf_runtime_polls_total{{worker=\"{w}\",qos=\"batch\"}}"),
            )
            .unwrap()
        })
        .sum();
    assert!(polls >= 100.0, "batch polls {polls}");
    // OpenMetrics when asked for, as Prometheus does.
    let om = request(
        addr,
        "GET",
        "/metrics",
        &["Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"],
    );
    assert_eq!(
        om.header("content-type"),
        Some(metrics::OPENMETRICS_CONTENT_TYPE)
    );
    assert!(om.body.ends_with("# EOF\n"));
    assert!(om
        .body
        .contains("# TYPE perf_runtime_tasks_spawned counter"));
    gate.notify_waiters();
    rt.block_on(async {
        for h in parked {
            h.await.unwrap();
        }
    });
}

#[test]
fn healthz_index_errors() {
    let rt = runtime();
    let addr = rt.metrics_local_addr().unwrap();
    let h = get(addr, "/healthz");
    assert_eq!((h.status, h.body.as_str()), (200, "ok\n"));
    let missing = get(addr, "/nope");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/metrics"), "{}", missing.body);
    assert_eq!(request(addr, "POST", "/metrics", &[]).status, 405);
    let head = request(addr, "HEAD", "/metrics", &[]);
    assert_eq!((head.status, head.body.as_str()), (200, ""));
}

#[test]
fn a_taken_address_is_a_clear_build_error() {
    let first = runtime();
    let addr = first.metrics_local_addr().unwrap();
    let err = match Builder::new_current_thread()
        .metrics_addr(addr.to_string())
        .build()
    {
        Ok(_) => panic!("{addr} is taken: building must fail"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(
        msg.contains("Builder::metrics_addr") && msg.contains(&addr.to_string()),
        "{msg}"
    );
}

/// Polls `f` until it returns `Some` (the state it waits for is reached by
/// other threads); fails after 20 s rather than hanging.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never saw {what}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn debug_tasks_shows_a_task_parked_on_a_lock() {
    let rt = runtime();
    let addr = rt.metrics_local_addr().unwrap();
    let m = Arc::new(Mutex::new(0));
    let other = Arc::new(Mutex::new(0));
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let (held_tx, held_rx) = oneshot::channel::<()>();
    let m1 = m.clone();
    let holder = perf_runtime::task::Builder::new()
        .name("holder")
        .spawn_on(
            async move {
                let _g = m1.lock().await;
                held_tx.send(()).unwrap();
                let _ = release_rx.await;
            },
            rt.handle(),
        )
        .unwrap();
    rt.block_on(held_rx).unwrap();
    let (m2, o2) = (m.clone(), other.clone());
    let waiter = perf_runtime::task::Builder::new()
        .name("waiter")
        .qos(Qos::Critical)
        .spawn_on(
            async move {
                let _o = o2.lock().await;
                let _g = m2.lock().await;
            },
            rt.handle(),
        )
        .unwrap();
    let line = eventually("the waiter parked on the mutex", || {
        let body = get(addr, "/debug/tasks").body;
        body.lines()
            .find(|l| l.contains("waiter") && l.contains("holder"))
            .map(str::to_owned)
    });
    assert!(line.contains("critical") && line.contains("idle"), "{line}");
    assert!(line.contains("metrics_endpoint.rs"), "spawn site: {line}");
    release_tx.send(()).unwrap();
    rt.block_on(async {
        holder.await.unwrap();
        waiter.await.unwrap();
    });
}

/// Renders `dot` with Graphviz's `dot -Tsvg` and checks it parsed. Without
/// a `dot` binary the check is skipped with a note, unless
/// `PERF_RUNTIME_REQUIRE_GRAPHVIZ` is set (.ci/prometheus.sh installs
/// Debian's graphviz and sets it).
fn graphviz_renders(what: &str, dot: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if std::env::var_os("PERF_RUNTIME_REQUIRE_GRAPHVIZ").is_none() => {
            eprintln!("{what}: not rendered, no Graphviz `dot` ({e}); apt-get install graphviz");
            return;
        }
        Err(e) => panic!("{what}: PERF_RUNTIME_REQUIRE_GRAPHVIZ is set but `dot` cannot run: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{what}: dot rejected it ({}): {stderr}\n{dot}",
        out.status
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}

#[test]
fn debug_locks_draws_the_order_and_a_deadlock_in_red() {
    let rt = runtime();
    let addr = rt.metrics_local_addr().unwrap();
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |first: Arc<Mutex<()>>, second: Arc<Mutex<()>>| {
        let barrier = barrier.clone();
        rt.spawn(async move {
            let _f = first.lock().await;
            barrier.wait().await;
            let _s = second.lock().await;
        })
    };
    let t1 = spawn(a.clone(), b.clone());
    let t2 = spawn(b.clone(), a.clone());
    let dot = eventually("a red wait-for cycle", || {
        let body = get(addr, "/debug/locks").body;
        body.contains("color=red").then_some(body)
    });
    assert!(dot.starts_with("digraph perf_runtime_locks {"), "{dot}");
    assert!(dot.contains("cluster_order") && dot.contains("cluster_waits"));
    if let Ok(dir) = std::env::var("PERF_RUNTIME_METRICS_DUMP_DIR") {
        std::fs::write(format!("{dir}/locks.dot"), &dot).unwrap();
    }
    graphviz_renders("/debug/locks", &dot);
    // The engine reported the same cycle as a Deadlock when the second wait
    // closed it; the report draws itself too.
    let v = perf_runtime::validation::take_reports_matching(|v| {
        v.kind() == perf_runtime::validation::ViolationKind::Deadlock
    })
    .into_iter()
    .next()
    .expect("the deadlock was reported");
    let vd = v.to_dot();
    assert!(vd.starts_with("digraph violation {"), "{vd}");
    assert!(vd.contains("color=red"), "{vd}");
    graphviz_renders("Violation::to_dot", &vd);
    if let Ok(dir) = std::env::var("PERF_RUNTIME_METRICS_DUMP_DIR") {
        std::fs::write(format!("{dir}/violation.dot"), &vd).unwrap();
    }
    t1.abort();
    t2.abort();
    rt.block_on(async {
        let _ = t1.await;
        let _ = t2.await;
    });
}

#[test]
fn foreign_metrics_share_the_exposition() {
    let rt = runtime();
    let addr = rt.metrics_local_addr().unwrap();
    let f = metrics::foreign();
    f.report_counters([("endpoint_test_jobs_total", 7u64)])
        .unwrap();
    f.register_histogram(
        "endpoint_test_latency_seconds",
        "Kept by a C++ core",
        || ForeignHistogram::new(vec![(0.01, 2), (0.1, 5)], 0.3, 6).unwrap(),
    )
    .unwrap();
    assert_eq!(
        f.histogram("endpoint_test_latency_seconds")
            .unwrap()
            .count(),
        6
    );
    assert_eq!(f.counter("endpoint_test_jobs"), Some(7));
    let err = f.report_counters([("Bad-Name", 1u64)]).unwrap_err();
    assert!(err.to_string().contains("Bad-Name"), "{err}");
    assert!(ForeignHistogram::new(vec![(0.1, 5), (0.01, 6)], 0.0, 6).is_err());
    let t = get(addr, "/metrics").body;
    assert_eq!(
        sample(&t, "perf_runtime_foreign_endpoint_test_jobs_total"),
        Some(7.0)
    );
    assert_eq!(
        sample(
            &t,
            "perf_runtime_foreign_endpoint_test_latency_seconds_bucket{le=\"0.1\"}"
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &t,
            "perf_runtime_foreign_endpoint_test_latency_seconds_bucket{le=\"+Inf\"}"
        ),
        Some(6.0)
    );
    f.remove("endpoint_test_jobs");
    f.remove("endpoint_test_latency_seconds");
}

#[test]
fn readme_documents_every_metric() {
    let readme = include_str!("../README.md");
    let table = metrics::reference_table();
    assert!(
        readme.contains(&table),
        "README's Metrics table is out of date; paste this:\n{table}"
    );
}

#[test]
fn io_submissions_and_completions_grow_with_socket_work() {
    for driver in [IoDriver::Epoll, IoDriver::Auto] {
        io_counts_grow(driver);
    }
}

fn io_counts_grow(driver: IoDriver) {
    use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
    use perf_runtime::net::{TcpListener, TcpStream};
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .io_driver(driver)
        .build()
        .unwrap();
    let counts = |t: &str| {
        (
            sample(t, "perf_runtime_io_submissions_total").expect("io_submissions_total"),
            sample(t, "perf_runtime_io_completions_total").expect("io_completions_total"),
        )
    };
    let (before, after) = rt.block_on(async {
        let before = counts(&metrics::render_prometheus(&metrics::snapshot()));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = perf_runtime::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        server.await.unwrap();
        (
            before,
            counts(&metrics::render_prometheus(&metrics::snapshot())),
        )
    });
    // On epoll, registering three sockets is three epoll_ctl calls. On
    // io_uring, a socket joins its ring's epoll set (an epoll_ctl call)
    // only when a task first waits on it: at least the listener's, for the
    // accept. Either way the accept and the reads waited for readiness
    // events the driver dispatched.
    let least = if driver == IoDriver::Epoll { 3.0 } else { 1.0 };
    assert!(
        after.0 >= before.0 + least,
        "{driver:?}: submissions {before:?} -> {after:?}"
    );
    assert!(
        after.1 > before.1,
        "{driver:?}: completions {before:?} -> {after:?}"
    );
}

/// Locks `m` while another task queues for it, then releases it: one
/// contended acquisition. On a current_thread runtime the waiter's poll
/// that sends `queued` goes on to queue for the lock before this task can
/// run again.
async fn contend(m: Arc<Mutex<u32>>) {
    let g = m.lock().await;
    let m2 = m.clone();
    let (queued, is_queued) = oneshot::channel();
    let waiter = perf_runtime::spawn(async move {
        queued.send(()).unwrap();
        *m2.lock().await += 1;
    });
    is_queued.await.unwrap();
    drop(g);
    waiter.await.unwrap();
}

#[test]
fn lock_contention_is_counted_by_class_with_an_overflow_bucket() {
    use perf_runtime::validation::LockClass;
    static ACCOUNTS: LockClass = LockClass::new("contended_accounts");
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let classes = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("perf_runtime_lock_contended_acquisitions_total{"))
            .count()
    };
    rt.block_on(async {
        let m = Arc::new(Mutex::with_class(0, &ACCOUNTS));
        for _ in 0..3 {
            contend(m.clone()).await;
        }
        assert_eq!(*m.lock().await, 3);
        let t = metrics::render_prometheus(&metrics::snapshot());
        let series = "{class=\"contended_accounts\"}";
        assert_eq!(
            sample(
                &t,
                &format!("perf_runtime_lock_contended_acquisitions_total{series}")
            ),
            Some(3.0),
            "{t}"
        );
        // One queued acquisition in 128 per thread is timed, the first
        // included (this test's thread is fresh, and runs every task).
        let timed = sample(&t, &format!("perf_runtime_lock_wait_seconds_count{series}"));
        assert_eq!(timed, Some(1.0), "{t}");
        // Forty more classes: the series stay bounded, the rest are summed
        // under class="other".
        for i in 0..40 {
            let name: &'static str = Box::leak(format!("contended_{i}").into_boxed_str());
            let class: &'static LockClass = Box::leak(Box::new(LockClass::new(name)));
            contend(Arc::new(Mutex::with_class(0, class))).await;
        }
        let t = metrics::render_prometheus(&metrics::snapshot());
        assert_eq!(classes(&t), metrics::MAX_CLASSES + 1, "{t}");
        let other = sample(
            &t,
            "perf_runtime_lock_contended_acquisitions_total{class=\"other\"}",
        )
        .expect("an overflow series");
        assert!(other >= 8.0, "at least 40 - 32 classes overflowed: {other}");
    });
}

#[test]
fn channel_occupancy_and_capacity_by_creation_site() {
    use perf_runtime::sync::mpsc;
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let line = line!() + 1;
        let chans: Vec<_> = (0..3).map(|_| mpsc::channel::<u32>(8)).collect();
        let (utx, _urx) = mpsc::unbounded_channel::<u32>();
        for (i, (tx, _)) in chans.iter().enumerate() {
            for v in 0..=i as u32 {
                tx.send(v).await.unwrap();
            }
        }
        utx.send(1).unwrap();
        let class = format!("{{class=\"mpsc@metrics_endpoint.rs:{line}\"}}");
        let t = metrics::render_prometheus(&metrics::snapshot());
        let at = |family: &str| sample(&t, &format!("perf_runtime_{family}{class}"));
        assert_eq!(at("channels"), Some(3.0), "{t}");
        assert_eq!(at("channel_occupancy"), Some(6.0), "1 + 2 + 3 queued");
        assert_eq!(at("channel_capacity"), Some(24.0));
        let unbounded = t
            .lines()
            .find(|l| l.starts_with("perf_runtime_channel_occupancy{class=\"unbounded"))
            .expect("the unbounded channel's class");
        assert!(unbounded.ends_with(" 1"), "{unbounded}");
        // Receiving empties the queues; dropping the channels removes them.
        let (_, mut rx) = chans.into_iter().nth(2).unwrap();
        for _ in 0..3 {
            rx.recv().await.unwrap();
        }
        let t = metrics::render_prometheus(&metrics::snapshot());
        let at = |family: &str| sample(&t, &format!("perf_runtime_{family}{class}"));
        assert_eq!(at("channels"), Some(1.0), "two channels dropped: {t}");
        assert_eq!(at("channel_occupancy"), Some(0.0));
        assert_eq!(at("channel_capacity"), Some(8.0));
        drop(rx);
        let t = metrics::render_prometheus(&metrics::snapshot());
        assert_eq!(
            sample(&t, &format!("perf_runtime_channels{class}")),
            None,
            "a class without a live channel is not exported: {t}"
        );
    });
}

/// A sample as read back: name, sorted labels, value.
type Parsed = (String, Vec<(String, String)>, f64);

/// The text exposition read back by an independent parser (the
/// `prometheus-parse` crate): every sample line is one parsed sample with the
/// same name, labels and value, and every family has the type its `# TYPE`
/// line declares.
#[test]
fn the_exposition_round_trips_through_a_text_format_parser() {
    use prometheus_parse::{Scrape, Value};
    let rt = runtime();
    let m = Arc::new(Mutex::new(0u32));
    let text = rt.block_on(async {
        for q in [Qos::Critical, Qos::Normal, Qos::Batch] {
            perf_runtime::spawn_with(q, async {}).await.unwrap();
        }
        *m.lock().await += 1;
        let (tx, _rx) = perf_runtime::sync::mpsc::channel::<u8>(4);
        tx.send(1).await.unwrap();
        metrics::foreign()
            .report_counters([("round_trip", 7)])
            .unwrap();
        metrics::render_prometheus(&metrics::snapshot())
    });
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses");
    // Our own reading of each sample line: name, sorted labels, value.
    let ours: Vec<Parsed> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let mut labels: Vec<(String, String)> = labels
                .split(',')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            labels.sort();
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap(),
            };
            (name.to_owned(), labels, value)
        })
        .collect();
    // Theirs: histograms come back grouped, one sample per series.
    let mut theirs = Vec::new();
    for s in &scrape.samples {
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let with = |extra: Option<(&str, String)>| {
            let mut l = labels.clone();
            l.extend(extra.map(|(k, v)| (k.to_owned(), v)));
            l.sort();
            l
        };
        match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => {
                theirs.push((s.metric.clone(), labels.clone(), *v))
            }
            Value::Histogram(buckets) => {
                for b in buckets {
                    let le = if b.less_than.is_infinite() {
                        "+Inf".to_owned()
                    } else {
                        b.less_than.to_string()
                    };
                    theirs.push((
                        format!("{}_bucket", s.metric),
                        with(Some(("le", le))),
                        b.count,
                    ));
                }
            }
            Value::Summary(_) => panic!("no summaries are exported"),
        }
    }
    // (A histogram's `_sum` and `_count` come back as samples of their own.)
    let le_of = |labels: &[(String, String)]| -> Vec<(String, String)> {
        labels
            .iter()
            .map(|(k, v)| {
                // `le` values as numbers, since the parser formats them anew.
                let v = if k == "le" && v != "+Inf" {
                    v.parse::<f64>().unwrap().to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    };
    let norm = |v: &[Parsed]| -> Vec<_> {
        let mut v: Vec<_> = v
            .iter()
            .map(|(n, l, x)| (n.clone(), le_of(l), x.to_bits()))
            .collect();
        v.sort();
        v
    };
    let (a, b) = (norm(&ours), norm(&theirs));
    let only_ours: Vec<_> = a.iter().filter(|x| !b.contains(x)).take(8).collect();
    let only_theirs: Vec<_> = b.iter().filter(|x| !a.contains(x)).take(8).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty() && a.len() == b.len(),
        "not read back as written:\nours only: {only_ours:?}\ntheirs only: {only_theirs:?}"
    );
    assert!(
        ours.len() > 100,
        "a full exposition: {} samples",
        ours.len()
    );
    // Types as declared.
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, ty) = line.split_once(' ').unwrap();
        let parsed = scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| match s.value {
                Value::Counter(_) => "counter",
                Value::Gauge(_) => "gauge",
                Value::Histogram(_) => "histogram",
                Value::Summary(_) => "summary",
                Value::Untyped(_) => "untyped",
            })
            .collect::<Vec<_>>();
        assert!(
            parsed.iter().all(|t| *t == ty),
            "{name}: {ty} vs {parsed:?}"
        );
    }
    assert!(text.contains("perf_runtime_foreign_round_trip_total 7"));
}
