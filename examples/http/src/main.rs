//! An HTTP/1 service on hyper 1.x and perf_runtime alone: a latency-critical
//! endpoint that stays fast while CPU-heavy batch requests run on the same
//! workers.
//!
//! ```text
//! cargo run --release -p http-service                      # serves 127.0.0.1:3000
//! cargo run --release -p http-service --features tokio-baseline   # the same service on tokio
//! curl http://127.0.0.1:3000/                              # critical: answers at once
//! curl 'http://127.0.0.1:3000/batch?n=2000000'             # batch: counts primes below n
//! curl http://127.0.0.1:3000/metrics                       # Prometheus exposition
//! cargo run --release -p http-service -- --self-test       # serves itself, prints latencies, exits
//! ```
//!
//! How it is put together:
//! - every connection is a `Critical` task: `/` is answered inside it;
//! - `/batch` hands its work to a `Batch` task (`task::Builder::try_spawn`)
//!   that yields every few thousand numbers, so a worker busy with it picks
//!   up a critical request at its next yield, not when the job ends; when
//!   the resource policy (`PERF_RUNTIME_POLICY`) refuses the task — too many
//!   batch jobs alive, or memory pressure critical — the answer is 503 with
//!   `Retry-After`;
//! - hyper's header-read timeout runs on `perf_runtime::hyper::Timer`.
//!
//! `src/rt.rs` is the only file that differs in the tokio build.
//!
//! Set the address with `HTTP_ADDR` (default `127.0.0.1:3000`); the first
//! line on stdout names it. `GET /metrics` is the runtime's Prometheus
//! exposition (on tokio, its few stable runtime metrics).

mod rt;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rt::net::{TcpListener, TcpStream};
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// The largest `n` a batch request may ask for: bounds one request's CPU.
const MAX_N: u64 = 50_000_000;

/// The Prometheus text format's content type (what Prometheus 2.x and 3.x
/// accept from a target).
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Numbers tested between two yields of a batch job.
const CHUNK: u64 = 2_000;

fn main() {
    if let Err(e) = rt::block_on(serve()) {
        eprintln!("cannot start the runtime: {e}");
        std::process::exit(1);
    }
}

async fn serve() {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let addr = if self_test {
        "127.0.0.1:0".to_owned()
    } else {
        std::env::var("HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
    };
    let listener = match TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}; set HTTP_ADDR to a free address");
            std::process::exit(1);
        }
    };
    let local = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!(
        "listening on http://{local}/ (critical) and http://{local}/batch?n=N (batch), on {}",
        rt::NAME
    );

    let server = rt::spawn_critical(accept_loop(listener));
    if self_test {
        if let Err(e) = run_self_test(local).await {
            eprintln!("self-test failed: {e}");
            std::process::exit(1);
        }
        server.abort();
    } else {
        let _ = server.await;
    }
}

async fn accept_loop(listener: TcpListener) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of descriptors, a reset before accept: keep serving.
                eprintln!("accept failed: {e}");
                rt::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        rt::spawn_critical(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(rt::timer())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(socket), hyper::service::service_fn(route))
                .await;
            if let Err(e) = served {
                if !e.is_incomplete_message() {
                    eprintln!("connection from {peer}: {e}");
                }
            }
        });
    }
}

async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => Response::new(Full::new(Bytes::from_static(b"ok\n"))),
        (&Method::GET, "/batch") => match parse_n(req.uri().query()) {
            Ok(n) => match rt::try_spawn_batch(count_primes(n)) {
                Ok(job) => match job.await {
                    Ok(count) => text(StatusCode::OK, format!("{count} primes below {n}\n")),
                    Err(e) => text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the batch job failed: {e}\n"),
                    ),
                },
                // The resource policy sheds batch work (too many batch jobs
                // alive, or memory pressure critical): say so, and when to
                // come back, instead of queueing without bound.
                Err(why) => {
                    let mut resp = text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("batch work is shed: {why}\n"),
                    );
                    resp.headers_mut().insert(
                        hyper::header::RETRY_AFTER,
                        hyper::header::HeaderValue::from_static("1"),
                    );
                    resp
                }
            },
            Err(msg) => text(StatusCode::BAD_REQUEST, msg),
        },
        (&Method::GET, "/metrics") => {
            let mut resp = text(StatusCode::OK, rt::metrics_text());
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(PROMETHEUS_TEXT),
            );
            resp
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "try GET /, GET /batch?n=1000000 or GET /metrics\n".to_owned(),
        ),
    })
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp
}

/// `n` from a query `n=<number>`, with a message naming the input when it is
/// missing or out of range.
fn parse_n(query: Option<&str>) -> Result<u64, String> {
    let raw = query
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("n=")))
        .ok_or_else(|| "missing n: ask for /batch?n=1000000\n".to_owned())?;
    match raw.parse::<u64>() {
        Ok(n) if n <= MAX_N => Ok(n),
        Ok(n) => Err(format!("n={n} is above the limit {MAX_N}; ask for less\n")),
        Err(_) => Err(format!(
            "n={raw:?} is not a whole number; ask for e.g. n=1000000\n"
        )),
    }
}

/// Counts the primes below `n` by trial division (deliberately CPU-bound),
/// yielding every [`CHUNK`] numbers so critical tasks are not held up.
async fn count_primes(n: u64) -> u64 {
    let mut count = 0;
    let mut i = 2;
    while i < n {
        let end = (i + CHUNK).min(n);
        count += (i..end).filter(|&k| is_prime(k)).count() as u64;
        i = end;
        rt::task::yield_now().await;
    }
    count
}

// `u64::is_multiple_of` needs Rust 1.87; the workspace's rust-version is 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn is_prime(k: u64) -> bool {
    k >= 2 && (2..).take_while(|d| d * d <= k).all(|d| k % d != 0)
}

/// Starts batch jobs, then measures `/` while they run; checks the answers.
async fn run_self_test(addr: std::net::SocketAddr) -> Result<(), String> {
    let batches: Vec<_> = (0..4)
        .map(|_| rt::spawn(get(addr, "/batch?n=3000000")))
        .collect();
    let mut latencies = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let body = get(addr, "/").await?;
        latencies.push(start.elapsed());
        if body != "ok\n" {
            return Err(format!("/ answered {body:?}"));
        }
    }
    for b in batches {
        let body = b.await.map_err(|e| e.to_string())??;
        if body != "216816 primes below 3000000\n" {
            return Err(format!("/batch answered {body:?}"));
        }
    }
    let bad = get(addr, "/batch?n=lots").await?;
    if !bad.contains("not a whole number") {
        return Err(format!("a bad n was answered {bad:?}"));
    }
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "GET / while 4 batch jobs ran: p50 {:?}, p99 {:?}, max {:?}",
        pct(50),
        pct(99),
        latencies[latencies.len() - 1]
    );
    println!("self-test passed");
    Ok(())
}

/// One GET on a fresh connection; the body as text.
async fn get(addr: std::net::SocketAddr, path: &str) -> Result<String, String> {
    use http_body_util::BodyExt;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    rt::spawn(conn);
    let req = Request::get(path)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|e| e.to_string())
}
