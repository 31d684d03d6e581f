//! [`HttpConnector`]: plain-HTTP connections for hyper-util's legacy
//! `Client`, over perf_runtime's [`TcpStream`] (feature `hyper-client`).
//!
//! ```
//! use http_body_util::{BodyExt, Empty};
//! use hyper::body::Bytes;
//! use hyper_util::client::legacy::Client;
//! use perf_runtime::hyper::{Executor, HttpConnector, Timer};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! # let listener = perf_runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # let addr = listener.local_addr().unwrap();
//! # perf_runtime::spawn(async move {
//! #     let (s, _) = listener.accept().await.unwrap();
//! #     let svc = hyper::service::service_fn(|_r| async {
//! #         Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(Bytes::from("hi"))))
//! #     });
//! #     let _ = hyper::server::conn::http1::Builder::new()
//! #         .serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
//! # });
//! let client = Client::builder(Executor::new())
//!     .timer(Timer::new())
//!     .pool_timer(Timer::new())
//!     .build::<_, Empty<Bytes>>(HttpConnector::new());
//! let resp = client.get(format!("http://{addr}/").parse().unwrap()).await.unwrap();
//! assert_eq!(resp.status(), 200);
//! let body = resp.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "hi");
//! # });
//! ```
//!
//! For HTTPS, wrap it in a TLS connector that takes an inner connector
//! (hyper-rustls's or hyper-tls's `HttpsConnector::new_with_connector`).

use crate::net::TcpStream;
use crate::time::timeout;
use hyper::rt::ReadBufCursor;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use std::future::Future;
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Connects to the host and port of an `http://` URI with a perf_runtime
/// [`TcpStream`] (a `tower_service::Service<Uri>`, the connector shape
/// hyper-util's legacy `Client` takes). Names resolve on the blocking pool;
/// each resolved address is tried in turn.
#[derive(Clone, Debug)]
pub struct HttpConnector {
    nodelay: bool,
    connect_timeout: Option<Duration>,
}

impl HttpConnector {
    /// A connector with `TCP_NODELAY` on and no connect timeout.
    pub fn new() -> HttpConnector {
        HttpConnector {
            nodelay: true,
            connect_timeout: None,
        }
    }

    /// Whether to set `TCP_NODELAY` on new connections (default: on, since
    /// HTTP requests are small writes that Nagle's algorithm delays).
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.nodelay = nodelay;
    }

    /// Gives up on a connection attempt (all addresses together) after
    /// `dur`; `None` waits as long as the kernel does.
    pub fn set_connect_timeout(&mut self, dur: Option<Duration>) {
        self.connect_timeout = dur;
    }

    async fn connect(self, uri: Uri) -> io::Result<HttpStream> {
        match uri.scheme_str() {
            None | Some("http") => {}
            Some("https") => {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{uri}: HttpConnector speaks plain HTTP only; for https wrap it in a TLS \
                         connector (e.g. hyper-rustls's HttpsConnector::new_with_connector)"
                    ),
                ))
            }
            Some(other) => {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    format!("{uri}: unsupported scheme {other:?}; use an http:// URI"),
                ))
            }
        }
        let Some(host) = uri.host() else {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("{uri}: the URI has no host; use an absolute URI like http://host:port/"),
            ));
        };
        // An IPv6 literal comes bracketed ("[::1]"); the resolver wants it
        // bare.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let attempt = TcpStream::connect((host, port));
        let stream = match self.connect_timeout {
            Some(limit) => match timeout(limit, attempt).await {
                Ok(res) => res,
                Err(_) => Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!("no connection within {limit:?}"),
                )),
            },
            None => attempt.await,
        }
        .map_err(|e| io::Error::new(e.kind(), format!("connect to {uri}: {e}")))?;
        stream.set_nodelay(self.nodelay)?;
        Ok(HttpStream { inner: stream })
    }
}

impl Default for HttpConnector {
    fn default() -> Self {
        HttpConnector::new()
    }
}

impl tower_service::Service<Uri> for HttpConnector {
    type Response = HttpStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<HttpStream>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

/// A connection made by [`HttpConnector`]: a perf_runtime [`TcpStream`]
/// with hyper's I/O traits (`hyper::rt::{Read, Write}`) and hyper-util's
/// `Connection`.
#[derive(Debug)]
pub struct HttpStream {
    inner: TcpStream,
}

impl HttpStream {
    /// The socket.
    pub fn get_ref(&self) -> &TcpStream {
        &self.inner
    }

    /// The socket, taken out.
    pub fn into_inner(self) -> TcpStream {
        self.inner
    }
}

impl Connection for HttpStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for HttpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `ReadBuf::uninit` over hyper's unfilled bytes: tokio's
        // `poll_read` only writes into them and reports how many it filled
        // (`filled().len()`), which is what `advance` is given below.
        let n = unsafe {
            let mut tbuf = crate::io::ReadBuf::uninit(buf.as_mut());
            match crate::io::AsyncRead::poll_read(Pin::new(&mut self.inner), cx, &mut tbuf) {
                Poll::Ready(Ok(())) => tbuf.filled().len(),
                other => return other,
            }
        };
        // SAFETY: the first `n` bytes of the cursor were initialised by the
        // read above.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for HttpStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        crate::io::AsyncWrite::poll_write(Pin::new(&mut self.inner), cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        crate::io::AsyncWrite::poll_write_vectored(Pin::new(&mut self.inner), cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        crate::io::AsyncWrite::poll_flush(Pin::new(&mut self.inner), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        crate::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.inner), cx)
    }
}
