// The metrics endpoint: a small HTTP/1.1 responder on perf_runtime's own
// `net::TcpListener`, run by a current_thread runtime on a thread of its
// own. A scrape therefore never runs on (or waits for) a worker of the
// runtime it describes: it reads that runtime's counters from the outside.
// When nobody scrapes, the thread sleeps in its I/O driver: nothing is
// gathered and nothing runs.
//
// One request per connection (`Connection: close`): GET or HEAD, a request
// head of at most 16 KiB read within 10 s.

use super::{debug, encode, Snapshot};
use crate::io::{AsyncReadExt, AsyncWriteExt};
use crate::runtime::Handle;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// The content type of the Prometheus text format, which every Prometheus
/// (2.x and 3.x) accepts.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics 1.0, served when the scraper asks for it
/// in `Accept` (Prometheus does, first).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

const MAX_HEAD: usize = 16 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A running metrics endpoint (see [`serve`](super::serve)). Dropping it
/// stops the endpoint and joins its thread.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<Stop>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Stop {
    flag: AtomicBool,
    notify: crate::sync::Notify,
}

impl MetricsServer {
    /// The address it listens on (with the port chosen, when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and joins the thread (what dropping does).
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.flag.store(true, Ordering::Release);
        self.stop.notify.notify_one();
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Binds `addr` and serves the runtime behind `handle` from a thread of its
/// own.
pub(crate) fn start(handle: Handle, addr: impl ToSocketAddrs) -> io::Result<MetricsServer> {
    let listener = std::net::TcpListener::bind(&addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "perf_runtime metrics endpoint: cannot listen on {}: {e}; pick a free \
                 address (host:port, port 0 for any)",
                describe(&addr)
            ),
        )
    })?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let stop = Arc::new(Stop {
        flag: AtomicBool::new(false),
        notify: crate::sync::Notify::new(),
    });
    let stop2 = stop.clone();
    let rt = crate::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        // A monitor thread re-reading the cgroup is not needed here.
        .container_refresh(None)
        // Nor a watchdog thread: its tasks are short and its own.
        .long_poll_threshold(None)
        .without_metrics_endpoint()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("perf-runtime-metrics".into())
        .spawn(move || {
            rt.block_on(async move {
                match crate::net::TcpListener::from_std(listener) {
                    Ok(l) => accept_loop(l, handle, stop2).await,
                    Err(e) => tracing::error!("perf_runtime metrics endpoint stopped: {e}"),
                }
            });
        })
        .map_err(|e| crate::runtime::thread_spawn_error("the metrics endpoint thread", e))?;
    Ok(MetricsServer {
        addr: local,
        stop,
        thread: Some(thread),
    })
}

fn describe(addr: &impl ToSocketAddrs) -> String {
    match addr.to_socket_addrs() {
        Ok(mut it) => it
            .next()
            .map_or_else(|| "an empty address list".to_owned(), |a| a.to_string()),
        Err(e) => format!("an address that does not resolve ({e})"),
    }
}

async fn accept_loop(listener: crate::net::TcpListener, handle: Handle, stop: Arc<Stop>) {
    loop {
        let notified = stop.notify.notified();
        if stop.flag.load(Ordering::Acquire) {
            return;
        }
        let accepted = {
            let mut accept = pin!(listener.accept());
            let mut notified = pin!(notified);
            std::future::poll_fn(|cx| {
                if notified.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await
        };
        match accepted {
            None => return,
            Some(Ok((stream, _))) => {
                let handle = handle.clone();
                crate::spawn(async move {
                    if let Err(e) = respond(stream, &handle).await {
                        tracing::debug!("perf_runtime metrics endpoint: a request failed: {e}");
                    }
                });
            }
            Some(Err(e)) => {
                // EMFILE and friends: back off rather than spin.
                tracing::warn!("perf_runtime metrics endpoint: accept failed: {e}");
                crate::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A parsed request head: method, path, and whether OpenMetrics was asked
/// for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) openmetrics: bool,
}

/// Parses a request head (up to the blank line).
pub(crate) fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?;
    let version = first.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target).to_owned();
    let mut openmetrics = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("accept") {
                openmetrics |= accepts_openmetrics(v);
            }
        }
    }
    Some(Request {
        method,
        path,
        openmetrics,
    })
}

/// Whether an `Accept` value lists OpenMetrics with a non-zero weight.
fn accepts_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let ty = parts.next().unwrap_or("");
        ty.eq_ignore_ascii_case("application/openmetrics-text")
            && !parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            })
    })
}

/// The status, content type and body for a request.
pub(crate) fn route(req: &Request, handle: &Handle) -> (&'static str, &'static str, String) {
    if req.method != "GET" && req.method != "HEAD" {
        return (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            format!("{} is not served here: use GET\n", req.method),
        );
    }
    match req.path.as_str() {
        "/metrics" => {
            let snap = Snapshot::of(handle);
            if req.openmetrics {
                (
                    "200 OK",
                    OPENMETRICS_CONTENT_TYPE,
                    encode::openmetrics(&snap),
                )
            } else {
                let om = encode::openmetrics(&snap);
                (
                    "200 OK",
                    TEXT_CONTENT_TYPE,
                    encode::openmetrics_to_text(&om),
                )
            }
        }
        "/healthz" => ("200 OK", "text/plain; charset=utf-8", "ok\n".to_owned()),
        "/debug/tasks" => (
            "200 OK",
            "text/plain; charset=utf-8",
            debug::tasks_text(handle),
        ),
        "/debug/locks" => (
            "200 OK",
            "text/vnd.graphviz; charset=utf-8",
            debug::locks_dot(),
        ),
        "/" => (
            "200 OK",
            "text/plain; charset=utf-8",
            "perf_runtime: /metrics /healthz /debug/tasks /debug/locks\n".to_owned(),
        ),
        other => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            format!("no page at {other}: try /metrics, /healthz, /debug/tasks or /debug/locks\n"),
        ),
    }
}

async fn respond(mut stream: crate::net::TcpStream, handle: &Handle) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let head = crate::time::timeout(READ_TIMEOUT, async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the request head ended",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(end);
            }
            if buf.len() > MAX_HEAD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request head over 16 KiB",
                ));
            }
        }
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request head not sent within 10 s"))??;
    let req = std::str::from_utf8(&buf[..head]).ok().and_then(parse_head);
    let (status, ty, body) = match &req {
        Some(req) => route(req, handle),
        None => (
            "400 Bad Request",
            "text/plain; charset=utf-8",
            "malformed HTTP/1.x request head\n".to_owned(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ty}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if req.as_ref().is_none_or(|r| r.method != "HEAD") {
        out.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&out).await?;
    stream.shutdown().await
}
