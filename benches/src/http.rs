//! `compare io`'s HTTP rows: an HTTP/1.1 hello-world served by hyper 1.x on
//! each runtime (perf_runtime through `perf_runtime::hyper` and hyper-util's
//! `TokioIo`; tokio through hyper-util's `TokioIo` and `TokioTimer`), driven
//! by `wrk --latency` (Debian's `wrk`) in another process on another CPU.
//! Both servers: 1 worker, keep-alive, the same service function.

use crate::io::{pin_process, Server};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::process::{Command, ExitCode};

/// Hidden subcommand: run the HTTP server.
pub const SERVER: &str = "__http-server";

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// `__http-server <kind> <cpu>`: prints the port, serves until stdin closes.
pub fn server_main(args: &[String]) -> ExitCode {
    let (Some(kind), Some(cpu)) = (
        args.first().and_then(|s| Server::parse(s)),
        args.get(1).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: {SERVER} perf-uring|perf-uring-owned|perf-epoll|tokio CPU");
        return ExitCode::from(2);
    };
    pin_process(cpu);
    crate::io::exit_when_stdin_closes();
    match kind {
        // hyper reads through the tokio traits: the owned-buffer kind
        // serves HTTP like the plain io_uring one.
        Server::PerfUring | Server::PerfUringOwned | Server::PerfEpoll => {
            let rt = kind.perf_server_runtime();
            rt.block_on(async {
                let l = perf_runtime::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap();
                println!("{}", l.local_addr().unwrap().port());
                loop {
                    let (s, _) = l.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    perf_runtime::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(perf_runtime::hyper::Timer::new())
                            .serve_connection(
                                hyper_util::rt::TokioIo::new(s),
                                hyper::service::service_fn(hello),
                            )
                            .await;
                    });
                }
            })
        }
        Server::Tokio => {
            let rt = crate::io::tokio_server_runtime();
            rt.block_on(async {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                println!("{}", l.local_addr().unwrap().port());
                loop {
                    let (s, _) = l.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .serve_connection(
                                hyper_util::rt::TokioIo::new(s),
                                hyper::service::service_fn(hello),
                            )
                            .await;
                    });
                }
            })
        }
    }
}

/// One wrk run against `port`: (requests/s, p50 ns, p99 ns).
pub fn wrk(port: u16, conns: usize, ms: u64, cpu: usize) -> Result<(f64, f64, f64), String> {
    let out = Command::new("taskset")
        .args([
            "-c".to_string(),
            cpu.to_string(),
            "wrk".to_string(),
            "-t1".to_string(),
            format!("-c{conns}"),
            format!("-d{}s", ms.div_ceil(1000).max(1)),
            "--latency".to_string(),
            format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .map_err(|e| format!("could not run wrk ({e}): install it with `apt-get install wrk`"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk(&text).ok_or_else(|| format!("could not read wrk's output:\n{text}"))
}

fn parse_duration_ns(s: &str) -> Option<f64> {
    let (num, unit) = s
        .trim()
        .split_at(s.trim().find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v * 1e3,
        "ms" => v * 1e6,
        "s" => v * 1e9,
        _ => return None,
    })
}

/// Requests/s and the 50% and 99% latencies from `wrk --latency` output.
pub fn parse_wrk(text: &str) -> Option<(f64, f64, f64)> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => rps = v.parse().ok(),
            (Some("50%"), Some(v)) => p50 = parse_duration_ns(v),
            (Some("99%"), Some(v)) => p99 = parse_duration_ns(v),
            _ => {}
        }
    }
    Some((rps?, p50?, p99?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_wrk_output() {
        let text = "Running 2s test @ http://127.0.0.1:1/\n  1 threads and 64 connections\n  Latency Distribution\n     50%  412.00us\n     75%  500.00us\n     90%  1.01ms\n     99%    2.50ms\n  100 requests in 2.00s, 9.00KB read\nRequests/sec:  50123.45\nTransfer/sec:      4.50KB\n";
        let (rps, p50, p99) = super::parse_wrk(text).unwrap();
        assert_eq!(rps, 50123.45);
        assert_eq!(p50, 412_000.0);
        assert_eq!(p99, 2_500_000.0);
        assert!(super::parse_wrk("garbage").is_none());
    }
}
