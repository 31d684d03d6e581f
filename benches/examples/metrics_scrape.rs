//! What a metrics scrape costs.
//!
//! ```text
//! cargo run --release -p benches --example metrics_scrape            # both rows
//! cargo run --release -p benches --example metrics_scrape -- --tasks 10000 --samples 101
//! ```
//!
//! Row 1, `scrape`: a runtime (2 workers) with `--tasks` live tasks parked
//! on a `Notify`; the time of `Snapshot::of` + `render_prometheus` in
//! process, and of a whole `GET /metrics` over loopback (connect, request,
//! the endpoint's gather and encode, read to the end), `--samples` times
//! each. The target is < 5 ms with 10 000 live tasks.
//!
//! Row 2, `scraped load`: a yield-heavy workload (the same tasks as
//! `compare -- scheduler`'s `yield_many`: 2 workers, 200 tasks × 2 000
//! yields) timed with a scraper thread fetching `/metrics` every 10 ms (on)
//! and without (off), in ABBA order over `--pairs` pairs; the median of the
//! per-pair on/off ratios. The scrape runs on the endpoint's own thread, so
//! on a machine with spare cores the ratio is 1; on a saturated one it is
//! the share of CPU the scraper thread takes.

use benches::stats::{paired_median_ratio, Summary};
use perf_runtime::metrics::{self, Snapshot};
use perf_runtime::runtime::Builder;
use perf_runtime::sync::Notify;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v:?}"))
        })
        .unwrap_or(default)
}

fn http_get(addr: SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = Vec::with_capacity(64 * 1024);
    s.read_to_end(&mut body).unwrap();
    body.len()
}

fn ms(ns: f64) -> f64 {
    ns / 1e6
}

fn scrape_row(tasks: usize, samples: usize) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .metrics_addr("127.0.0.1:0")
        .build()
        .unwrap();
    let addr = rt.metrics_local_addr().unwrap();
    let gate = Arc::new(Notify::new());
    let handles: Vec<_> = rt.block_on(async {
        (0..tasks)
            .map(|_| {
                let g = gate.clone();
                perf_runtime::spawn(async move { g.notified().await })
            })
            .collect()
    });
    // Measure once every task has been polled and parked (the workers idle).
    while rt.metrics().qos_polled(perf_runtime::task::Qos::Normal) < tasks as u64 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (mut inproc, mut over_http) = (Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..samples {
        let t = Instant::now();
        let text = metrics::render_prometheus(&Snapshot::of(rt.handle()));
        inproc.push(t.elapsed());
        bytes = text.len();
        let t = Instant::now();
        http_get(addr);
        over_http.push(t.elapsed());
    }
    let alive = Snapshot::of(rt.handle()).alive_tasks();
    for (what, s) in [
        ("snapshot + render (in process)", Summary::of(&inproc)),
        ("GET /metrics over loopback", Summary::of(&over_http)),
    ] {
        println!(
            "scrape, {alive} live tasks, {what}: median {:.3} ms, p90 {:.3} ms, max {:.3} ms ({} samples, {bytes} bytes)",
            ms(s.median),
            ms(s.p90),
            ms(s.max),
            s.n
        );
    }
    gate.notify_waiters();
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
}

/// One timed run of the yield-heavy workload, with or without a scraper.
fn load_run(scraped: bool) -> Duration {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .metrics_addr("127.0.0.1:0")
        .build()
        .unwrap();
    let addr = rt.metrics_local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = scraped.then(|| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                http_get(addr);
                n += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            n
        })
    });
    let t = Instant::now();
    rt.block_on(async {
        let hs: Vec<_> = (0..200)
            .map(|_| {
                perf_runtime::spawn(async {
                    for _ in 0..2_000 {
                        perf_runtime::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    if let Some(s) = scraper {
        let n = s.join().unwrap();
        assert!(n > 0, "the scraper never scraped");
    }
    took
}

fn load_row(pairs: usize) {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    load_run(false); // warm-up
    for i in 0..pairs {
        // ABBA: on first in even pairs, off first in odd ones.
        if i % 2 == 0 {
            on.push(load_run(true).as_nanos() as f64);
            off.push(load_run(false).as_nanos() as f64);
        } else {
            off.push(load_run(false).as_nanos() as f64);
            on.push(load_run(true).as_nanos() as f64);
        }
    }
    let (son, soff) = (Summary::of_f64(&on), Summary::of_f64(&off));
    println!(
        "scraped load (yield_many, 2 workers, /metrics every 10 ms): on median {:.2} ms, off median {:.2} ms, on/off paired median ratio {:.3} ({pairs} ABBA pairs)",
        ms(son.median),
        ms(soff.median),
        paired_median_ratio(&on, &off)
    );
}

fn main() {
    let tasks = arg("--tasks", 10_000);
    let samples = arg("--samples", 101);
    let pairs = arg("--pairs", 10);
    scrape_row(tasks, samples);
    if pairs > 0 {
        load_row(pairs);
    }
}
