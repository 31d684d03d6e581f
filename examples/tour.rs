//! A tour of perf_runtime: classes, JoinSet, spawn_blocking, timers, a TCP
//! server answering itself, the watchdog, validation, and the metrics the
//! runtime served meanwhile. Run with `cargo run --release --example tour`
//! (`-- --metrics 127.0.0.1:9464` to scrape it yourself while it runs; by
//! default it serves on a free port of 127.0.0.1). `-- --dot FILE` also
//! writes the lock-order inversion it finds as Graphviz DOT
//! (`dot -Tsvg FILE > inversion.svg`; the README's picture).

use perf_runtime::runtime::Builder;
use perf_runtime::task::{self, JoinSet, Qos};
use perf_runtime::time::{self, Duration, Instant};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "perf_runtime=warn".into()),
        )
        .with_target(false)
        .init();

    let metrics_addr = perf_runtime::metrics::addr_from_args()
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2);
        })
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let rt = Builder::new_multi_thread()
        .thread_name("tour-worker")
        .enable_all()
        .metrics_addr(metrics_addr)
        .build()
        .expect("building the runtime");
    let metrics_at = rt.metrics_local_addr().expect("metrics_addr was set");
    println!(
        "metrics: http://{metrics_at}/metrics (and /debug/tasks, /debug/locks) while the tour runs"
    );

    println!("perf_runtime tour");
    println!("=================");
    let topo = rt.handle().topology();
    println!(
        "machine: {} NUMA node(s), CPUs this process may use: {}",
        topo.num_nodes(),
        topo.allowed_cpus()
    );
    println!("{topo}");
    match rt.handle().container_limits() {
        Some(limits) => println!("container:\n{limits}"),
        None => println!("container: limits not read"),
    }
    let decision = rt.handle().worker_decision();
    println!(
        "workers: {} active of {} threads — {}",
        rt.metrics().active_workers(),
        rt.metrics().num_workers(),
        decision.reason
    );
    println!(
        "         (set PERF_RUNTIME_WORKER_THREADS or Builder::worker_threads to fix the count; \
         limits are re-read every second)"
    );
    println!(
        "memory pressure: {}; workers unpinned; steal order: same cache group, same node, \
         then other nodes",
        rt.handle().pressure().as_str()
    );

    rt.block_on(async {
        classes("every worker serves every class").await;
    });
    if rt.metrics().num_workers() >= 2 {
        // The same flood with one worker that runs only Critical tasks.
        let reserved = Builder::new_multi_thread()
            .thread_name("tour-reserved")
            .reserve_critical_workers(1)
            .enable_all()
            .build()
            .expect("building the runtime");
        reserved.block_on(classes("reserve_critical_workers(1)"));
    }
    rt.block_on(async {
        join_set().await;
        blocking().await;
        timers().await;
        network(rt_backend()).await;
    });
    watchdog(&rt);
    rt.block_on(validation());
    rt.block_on(scrape(metrics_at));
    println!("\ndone.");
}

/// Scrapes this runtime's own endpoint, as Prometheus would, and prints a
/// few of the series.
async fn scrape(at: std::net::SocketAddr) {
    use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
    println!("\n8. metrics: GET http://{at}/metrics (Prometheus text format), a few lines");
    let mut s = perf_runtime::net::TcpStream::connect(at)
        .await
        .expect("connecting to the metrics endpoint");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: tour\r\nConnection: close\r\n\r\n")
        .await
        .expect("sending the request");
    let mut raw = String::new();
    s.read_to_string(&mut raw)
        .await
        .expect("reading the answer");
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let wanted = [
        "perf_runtime_workers ",
        "perf_runtime_tasks_spawned_total{",
        "perf_runtime_wake_to_poll_delay_seconds_count{",
        "perf_runtime_steals_total{worker=\"0\"",
        "perf_runtime_lifo_hits_total{worker=\"0\"",
        "perf_runtime_violations_total{kind=\"LockOrderInversion\"",
        "perf_runtime_io_backend{",
    ];
    for line in body
        .lines()
        .filter(|l| wanted.iter().any(|w| l.starts_with(w)))
    {
        println!("   {line}");
    }
    println!(
        "   ({} lines in all; `promtool check metrics` accepts them, and Prometheus scrapes them \
         as OpenMetrics)",
        body.lines().count()
    );
}

fn rt_backend() -> String {
    perf_runtime::runtime::Handle::current()
        .io_backend()
        .map_or_else(|| "none".to_owned(), |b| b.to_string())
}

/// A TCP server with a task per connection, answering requests from
/// clients on the same runtime: the I/O driver and the scheduler together.
async fn network(backend: String) {
    use perf_runtime::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use perf_runtime::net::{TcpListener, TcpStream};
    println!("\n5. network: a TCP server answering its own clients (I/O driver: {backend})");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind on loopback");
    let addr = listener.local_addr().expect("local address");
    let server = perf_runtime::spawn_with(Qos::Critical, async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            perf_runtime::spawn_with(Qos::Critical, async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply = format!("{} bytes: {}\n", line.len(), line.to_uppercase());
                    if w.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut clients = JoinSet::new();
    for c in 0..4 {
        clients.spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r).lines();
            let mut rtts = Vec::new();
            for i in 0..250 {
                let start = Instant::now();
                w.write_all(format!("client {c} request {i}\n").as_bytes())
                    .await
                    .expect("write");
                lines.next_line().await.expect("read").expect("a reply");
                rtts.push(start.elapsed());
            }
            rtts
        });
    }
    let mut all = Vec::new();
    while let Some(r) = clients.join_next().await {
        all.extend(r.expect("a client task"));
    }
    all.sort();
    println!(
        "   {} requests over 4 connections to {addr}: round trip p50 {:?}, p99 {:?}",
        all.len(),
        all[all.len() / 2],
        all[all.len() * 99 / 100]
    );
    server.abort();
}

/// Floods the workers with Batch work, then measures how long Critical and
/// Normal requests wait behind it.
async fn classes(setup: &str) {
    println!("\n1. QoS classes: Critical and Normal requests under a Batch flood ({setup})");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let batch_polls = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    let workers = perf_runtime::runtime::Handle::current()
        .metrics()
        .num_workers();
    for _ in 0..16 * workers {
        let stop = stop.clone();
        let polls = batch_polls.clone();
        flood.push(perf_runtime::spawn_with(Qos::Batch, async move {
            while !stop.load(Ordering::Relaxed) {
                burn(Duration::from_micros(100));
                polls.fetch_add(1, Ordering::Relaxed);
                task::yield_now().await;
            }
        }));
    }
    for qos in [Qos::Critical, Qos::Normal] {
        let mut delays = Vec::new();
        for _ in 0..200 {
            let sent = std::time::Instant::now();
            let delay = perf_runtime::spawn_with(qos, async move { sent.elapsed() })
                .await
                .expect("request task");
            delays.push(delay);
            time::sleep(Duration::from_millis(1)).await;
        }
        delays.sort();
        println!(
            "   {:<8} spawn -> first poll: p50 {:>7.1?}  p99 {:>7.1?}  (200 requests)",
            qos.as_str(),
            delays[delays.len() / 2],
            delays[delays.len() * 99 / 100],
        );
    }
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        f.await.expect("batch task");
    }
    println!(
        "   Batch kept running meanwhile: {} polls of ~100 µs",
        batch_polls.load(Ordering::Relaxed)
    );
    // The runtime's own per-class counters (RuntimeMetrics).
    let m = perf_runtime::runtime::Handle::current().metrics();
    for qos in Qos::ALL {
        let h = m.qos_wake_delay(qos);
        let q = |p| h.quantile(p).map_or("-".to_owned(), |d| format!("{d:.1?}"));
        println!(
            "   metrics {:<8} spawned {:>6}  polled {:>7}  queued -> polled p50 {:>9}  p99 {:>9}  ({} timed)",
            qos.as_str(),
            m.qos_spawned(qos),
            m.qos_polled(qos),
            q(0.5),
            q(0.99),
            h.count(),
        );
    }
}

async fn join_set() {
    println!("\n2. JoinSet: results in completion order");
    let mut set = JoinSet::new();
    for i in 0..5u64 {
        set.spawn(async move {
            time::sleep(Duration::from_millis(10 * (5 - i))).await;
            i
        });
    }
    let mut order = Vec::new();
    while let Some(res) = set.join_next().await {
        order.push(res.expect("join set task"));
    }
    println!("   spawned 0..5 with shrinking sleeps, finished in order {order:?}");
}

async fn blocking() {
    println!("\n3. spawn_blocking: CPU-heavy or blocking calls off the workers");
    let started = Instant::now();
    let sum = perf_runtime::spawn_blocking(|| {
        (1..=5_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b))
    })
    .await
    .expect("blocking task");
    println!(
        "   sum of squares 1..=5e6 (mod 2^64) = {sum}, computed on the blocking pool in {:?}",
        started.elapsed()
    );
}

async fn timers() {
    println!("\n4. timers: sleep, timeout, interval");
    let start = Instant::now();
    time::sleep(Duration::from_millis(20)).await;
    println!(
        "   sleep(20ms) returned after {:?} (never early)",
        start.elapsed()
    );
    let slow = time::timeout(
        Duration::from_millis(10),
        time::sleep(Duration::from_secs(5)),
    )
    .await;
    println!(
        "   timeout(10ms, sleep(5s)) -> {}",
        match slow {
            Ok(()) => "completed".to_string(),
            Err(e) => format!("Err({e})"),
        }
    );
    let mut ticker = time::interval(Duration::from_millis(5));
    let t0 = Instant::now();
    for _ in 0..4 {
        ticker.tick().await;
    }
    println!("   4 ticks of interval(5ms) took {:?}", t0.elapsed());
}

fn watchdog(rt: &perf_runtime::runtime::Runtime) {
    println!("\n6. watchdog: a poll that blocks its worker is reported");
    rt.block_on(async {
        task::Builder::new()
            .name("blocks-its-worker")
            .spawn(async {
                // A blocking call inside a poll: exactly what the watchdog is for.
                std::thread::sleep(std::time::Duration::from_millis(250));
            })
            .expect("spawn")
            .await
            .expect("task");
    });
    println!(
        "   long polls counted: {} (the warning above names the task, its id and spawn site)",
        rt.metrics().long_polls()
    );
}

/// Two tasks take the same two locks in opposite orders, one after the
/// other: nothing deadlocks today, but the engine reports the inversion the
/// first time the second order is seen.
async fn validation() {
    use perf_runtime::sync::Mutex;
    use perf_runtime::validation::{take_reports_matching, ViolationKind};
    println!("\n7. validation: a lock-order inversion, reported without deadlocking");
    let accounts = Arc::new(Mutex::new(100u64));
    let ledger = Arc::new(Mutex::new(Vec::<u64>::new()));
    let (a, l) = (accounts.clone(), ledger.clone());
    task::Builder::new()
        .name("transfer")
        .spawn(async move {
            let mut balance = a.lock().await;
            let mut entries = l.lock().await; // accounts, then ledger
            *balance -= 10;
            entries.push(10);
        })
        .expect("spawn")
        .await
        .expect("transfer");
    let (a, l) = (accounts.clone(), ledger.clone());
    task::Builder::new()
        .name("audit")
        .spawn(async move {
            let entries = l.lock().await;
            let balance = a.lock().await; // ledger, then accounts: inverted
            assert_eq!(*balance + entries.iter().sum::<u64>(), 100);
        })
        .expect("spawn")
        .await
        .expect("audit");
    let reports = take_reports_matching(|v| {
        v.kind() == ViolationKind::LockOrderInversion
            && v.sites().iter().any(|s| s.file().ends_with("tour.rs"))
    });
    match reports.first() {
        Some(report) => {
            println!("   both tasks finished; the engine reported:\n");
            for line in report.to_string().lines() {
                println!("   {line}");
            }
            println!("\n   as JSON: {}", report.to_json());
            if let Some(path) = dot_path() {
                match std::fs::write(&path, report.to_dot()) {
                    Ok(()) => println!("   as Graphviz DOT: {path} (dot -Tsvg {path})"),
                    Err(e) => eprintln!("   could not write {path}: {e}"),
                }
            }
        }
        None => println!("   no report: validation is off (PERF_RUNTIME_VALIDATION=off?)"),
    }
}

/// The FILE of `--dot FILE`, if given.
fn dot_path() -> Option<String> {
    std::env::args().skip_while(|a| a != "--dot").nth(1)
}

fn burn(d: Duration) {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        std::hint::spin_loop();
    }
}
