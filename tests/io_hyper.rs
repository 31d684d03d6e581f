//! hyper 1.x on perf_runtime alone: HTTP/1 and HTTP/2 servers on a
//! perf_runtime `TcpListener` answering hyper clients over perf_runtime
//! `TcpStream`s, with `perf_runtime::hyper::{Executor, Timer}` (the tests
//! crate builds the runtime with its `hyper` feature).

mod io_support;
mod support;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::rt::Timer as _;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioIo;
use io_support::{current, multi};
use perf_runtime::hyper::{Executor, HttpConnector, Sleep, Timer};
use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
use perf_runtime::net::{TcpListener, TcpStream};
use perf_runtime::task::Qos;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Answers `<method> <path> <body length>`, so each request's answer is
/// its own.
async fn describe(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = format!("{} {} {}", parts.method, parts.uri.path(), body.len());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// Serves every accepted connection with HTTP/1 (`h2: false`) or HTTP/2.
async fn serve(h2: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    perf_runtime::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let io = TokioIo::new(socket);
            let service = hyper::service::service_fn(describe);
            perf_runtime::spawn(async move {
                let res = if h2 {
                    hyper::server::conn::http2::Builder::new(Executor::new().qos(Qos::Critical))
                        .timer(Timer::new())
                        .serve_connection(io, service)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .timer(Timer::new())
                        .serve_connection(io, service)
                        .await
                };
                res.expect("the connection failed");
            });
        }
    });
    addr
}

async fn text(resp: Response<Incoming>) -> String {
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

fn http1_round_trips(rt: perf_runtime::runtime::Runtime) {
    rt.block_on(async {
        let addr = serve(false).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        let driver = perf_runtime::spawn(conn);
        // Several requests over one kept-alive connection.
        for i in 0..20usize {
            let req = Request::post(format!("/item/{i}"))
                .body(Full::new(Bytes::from(vec![b'x'; i * 100])))
                .unwrap();
            // HTTP/1 carries one request at a time: wait until the
            // connection has finished the previous one.
            sender.ready().await.unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(text(resp).await, format!("POST /item/{i} {}", i * 100));
        }
        drop(sender);
        // The client connection ends cleanly once its sender is gone.
        driver.await.unwrap().unwrap();
    });
}

#[test]
fn http1_server_answers_a_client_multi_thread() {
    support::within(|| http1_round_trips(multi(2)));
}

#[test]
fn http1_server_answers_a_client_current_thread() {
    support::within(|| http1_round_trips(current()));
}

#[test]
fn http2_streams_run_concurrently_on_the_executor() {
    support::within(|| {
        multi(2).block_on(async {
            let addr = serve(true).await;
            let stream = TcpStream::connect(addr).await.unwrap();
            let (sender, conn) = hyper::client::conn::http2::Builder::new(Executor::new())
                .timer(Timer::new())
                .handshake(TokioIo::new(stream))
                .await
                .unwrap();
            Executor::new().spawn(conn);
            // 32 requests in flight at once on one connection: each is a
            // stream the server's executor spawns.
            let mut tasks = Vec::new();
            for i in 0..32usize {
                let mut sender = sender.clone();
                tasks.push(perf_runtime::spawn(async move {
                    let req = Request::get(format!("/s/{i}"))
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    text(sender.send_request(req).await.unwrap()).await
                }));
            }
            for (i, t) in tasks.into_iter().enumerate() {
                assert_eq!(t.await.unwrap(), format!("GET /s/{i} 0"));
            }
        })
    });
}

#[test]
fn header_read_timeout_fires_through_the_timer() {
    support::within(|| {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let timeout = Duration::from_millis(150);
            let server = perf_runtime::spawn(async move {
                let (socket, _) = listener.accept().await.unwrap();
                hyper::server::conn::http1::Builder::new()
                    .timer(Timer::new())
                    .header_read_timeout(timeout)
                    .serve_connection(TokioIo::new(socket), hyper::service::service_fn(describe))
                    .await
            });
            // Before the connect: the server's timer cannot start earlier.
            let start = Instant::now();
            let mut c = TcpStream::connect(addr).await.unwrap();
            // Half a request head, never finished.
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
            let mut buf = Vec::new();
            // The server gives up on the head and closes: we read its
            // answer (if any) up to EOF.
            c.read_to_end(&mut buf).await.unwrap();
            let waited = start.elapsed();
            assert!(
                waited >= timeout,
                "closed after {waited:?}, before the {timeout:?} timeout"
            );
            let err = server.await.unwrap().unwrap_err();
            assert!(
                err.is_timeout(),
                "the server's error is not a timeout: {err}"
            );
        })
    });
}

#[test]
fn timer_resets_its_sleep_in_place() {
    support::within(|| {
        current().block_on(async {
            let timer = Timer::new();
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            let before: *const dyn hyper::rt::Sleep = &*sleep;
            let deadline = Instant::now() + Duration::from_millis(20);
            timer.reset(&mut sleep, deadline);
            let after: *const dyn hyper::rt::Sleep = &*sleep;
            assert!(
                std::ptr::addr_eq(before, after),
                "reset allocated a new sleep"
            );
            let ours = sleep
                .as_mut()
                .downcast_mut_pin::<Sleep>()
                .expect("our Sleep");
            assert_eq!(ours.deadline(), deadline);
            sleep.as_mut().await;
            assert!(Instant::now() >= deadline, "the sleep fired early");

            // A sleep_until in the past completes at once.
            timer.sleep_until(Instant::now()).await;
        })
    });
}

#[test]
fn timer_follows_a_paused_clock() {
    support::within(|| {
        current().block_on(async {
            perf_runtime::time::pause();
            let timer = Timer::new();
            let t0 = timer.now();
            // An hour passes on the paused clock, at once.
            timer.sleep(Duration::from_secs(3600)).await;
            assert!(timer.now() - t0 >= Duration::from_secs(3600));
        })
    });
}

fn legacy_client(connector: HttpConnector) -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(Executor::new())
        .timer(Timer::new())
        .pool_timer(Timer::new())
        .build(connector)
}

/// The error chain of `e` as one string.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(" / ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[test]
fn legacy_client_connects_through_the_connector() {
    support::within(|| {
        multi(2).block_on(async {
            let addr = serve(false).await;
            let client = legacy_client(HttpConnector::new());
            for i in 0..10 {
                let uri = format!("http://{addr}/pooled/{i}").parse().unwrap();
                let resp = client.get(uri).await.unwrap();
                assert_eq!(text(resp).await, format!("GET /pooled/{i} 0"));
            }
            // Concurrent requests: the pool opens connections as needed.
            let mut tasks = Vec::new();
            for i in 0..8 {
                let client = client.clone();
                let uri: hyper::Uri = format!("http://localhost:{}/c/{i}", addr.port())
                    .parse()
                    .unwrap();
                tasks.push(perf_runtime::spawn(async move {
                    text(client.get(uri).await.unwrap()).await
                }));
            }
            for (i, t) in tasks.into_iter().enumerate() {
                assert_eq!(t.await.unwrap(), format!("GET /c/{i} 0"));
            }
        })
    });
}

#[test]
fn legacy_client_errors_name_the_uri() {
    support::within(|| {
        multi(2).block_on(async {
            let client = legacy_client(HttpConnector::new());

            let err = client
                .get("https://127.0.0.1:1/".parse().unwrap())
                .await
                .unwrap_err();
            assert!(err.is_connect(), "{err:?}");
            let msg = chain(&err);
            assert!(
                msg.contains("https://127.0.0.1:1/") && msg.contains("TLS"),
                "{msg}"
            );

            // A port nobody listens on (bound, then released).
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let uri = format!("http://127.0.0.1:{port}/");
            let err = client.get(uri.parse().unwrap()).await.unwrap_err();
            assert!(err.is_connect(), "{err:?}");
            let msg = chain(&err);
            assert!(msg.contains(&uri), "the error does not name {uri}: {msg}");
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&err);
            let mut kind = None;
            while let Some(e) = src {
                if let Some(io) = e.downcast_ref::<std::io::Error>() {
                    kind = Some(io.kind());
                }
                src = e.source();
            }
            assert_eq!(kind, Some(std::io::ErrorKind::ConnectionRefused), "{msg}");
        })
    });
}

#[test]
fn the_hyper_types_are_send_sync_and_clone() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn clone<T: Clone>() {}
    send_sync::<Executor>();
    send_sync::<Timer>();
    send_sync::<Sleep>();
    clone::<Executor>();
    clone::<Timer>();
    send_sync::<HttpConnector>();
    clone::<HttpConnector>();
    send_sync::<perf_runtime::hyper::HttpStream>();
}
