//! An `axum::Router` served on perf_runtime through hyper-util: the routing,
//! extractors and JSON of axum, with perf_runtime's task classes underneath.
//!
//! ```text
//! cargo run --release -p examples --example axum                 # serves 127.0.0.1:3001
//! curl http://127.0.0.1:3001/                                    # critical
//! curl 'http://127.0.0.1:3001/batch?n=1000000'                   # batch, JSON answer
//! cargo run --release -p examples --example axum -- --self-test  # serves itself, checks, exits
//! ```
//!
//! `axum::serve` needs tokio's `TcpListener`, so this example accepts on a
//! perf_runtime listener itself and hands each connection to hyper with
//! the router wrapped in hyper-util's `TowerToHyperService`; axum is built
//! without its `tokio` feature. Set the address with `AXUM_ADDR`.

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use perf_runtime::hyper::Timer;
use perf_runtime::net::{TcpListener, TcpStream};
use perf_runtime::task::Qos;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// The largest `n` a batch request may ask for.
const MAX_N: u64 = 50_000_000;

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "ok\n" }))
        .route("/batch", get(batch))
}

#[derive(Deserialize)]
struct BatchParams {
    n: u64,
}

#[derive(Serialize)]
struct BatchAnswer {
    n: u64,
    primes: u64,
}

/// Counts primes below `n` on a `Batch` task, so `/` stays fast meanwhile.
async fn batch(Query(p): Query<BatchParams>) -> Result<Json<BatchAnswer>, (StatusCode, String)> {
    if p.n > MAX_N {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("n={} is above the limit {MAX_N}; ask for less\n", p.n),
        ));
    }
    let n = p.n;
    match perf_runtime::spawn_with(Qos::Batch, count_primes(n)).await {
        Ok(primes) => Ok(Json(BatchAnswer { n, primes })),
        Err(e) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the batch job failed: {e}\n"),
        )),
    }
}

/// Trial division (deliberately CPU-bound), yielding every 2,000 numbers.
async fn count_primes(n: u64) -> u64 {
    let mut count = 0;
    let mut i = 2;
    while i < n {
        let end = (i + 2_000).min(n);
        count += (i..end).filter(|&k| is_prime(k)).count() as u64;
        i = end;
        perf_runtime::task::yield_now().await;
    }
    count
}

// `u64::is_multiple_of` needs Rust 1.87; the workspace's rust-version is 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn is_prime(k: u64) -> bool {
    k >= 2 && (2..).take_while(|d| d * d <= k).all(|d| k % d != 0)
}

async fn serve(listener: TcpListener, app: Router) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of descriptors, a reset before accept: keep serving.
                eprintln!("accept failed: {e}");
                perf_runtime::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        perf_runtime::spawn_with(Qos::Critical, async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(Timer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(socket), service)
                .await;
            if let Err(e) = served {
                if !e.is_incomplete_message() {
                    eprintln!("connection from {peer}: {e}");
                }
            }
        });
    }
}

#[perf_runtime::main]
async fn main() {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let metrics = perf_runtime::metrics::serve_from_args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    if let Some(m) = &metrics {
        println!("metrics on http://{}/metrics", m.local_addr());
    }
    let addr = if self_test {
        "127.0.0.1:0".to_owned()
    } else {
        std::env::var("AXUM_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned())
    };
    let listener = match TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}; set AXUM_ADDR to a free address");
            std::process::exit(1);
        }
    };
    let local = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!("axum on perf_runtime: http://{local}/ and http://{local}/batch?n=N");
    let server = perf_runtime::spawn_with(Qos::Critical, serve(listener, router()));
    if self_test {
        if let Err(e) = self_test_against(local).await {
            eprintln!("self-test failed: {e}");
            std::process::exit(1);
        }
        println!("self-test passed");
        server.abort();
    } else {
        let _ = server.await;
    }
}

async fn self_test_against(addr: SocketAddr) -> Result<(), String> {
    let checks = [
        ("/", StatusCode::OK, "ok\n"),
        (
            "/batch?n=100000",
            StatusCode::OK,
            r#"{"n":100000,"primes":9592}"#,
        ),
        (
            "/batch?n=lots",
            StatusCode::BAD_REQUEST,
            "Failed to deserialize",
        ),
        ("/nowhere", StatusCode::NOT_FOUND, ""),
    ];
    for (path, status, want) in checks {
        let (got_status, body) = fetch(addr, path).await?;
        if got_status != status || !body.contains(want) {
            return Err(format!(
                "GET {path}: {got_status} {body:?}, expected {status} with {want:?}"
            ));
        }
        println!("GET {path} -> {got_status} {}", body.trim_end());
    }
    Ok(())
}

/// One GET on a fresh connection.
async fn fetch(addr: SocketAddr, path: &str) -> Result<(StatusCode, String), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    perf_runtime::spawn(conn);
    let req = Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
