//! hyper 1.x on perf_runtime alone (the `hyper` feature): an [`Executor`]
//! for the tasks hyper spawns (HTTP/2 streams, client connections), a
//! [`Timer`] for its timeouts, and the [`Sleep`] that timer returns.
//!
//! For I/O, wrap a [`TcpStream`](crate::net::TcpStream) in hyper-util's
//! `TokioIo`: perf_runtime's sockets implement tokio's `AsyncRead` and
//! `AsyncWrite`, which is what `TokioIo` adapts to `hyper::rt::{Read,
//! Write}` (hyper-util's `tokio` feature compiles its tokio adapters; no
//! tokio runtime runs).
//!
//! ```
//! use http_body_util::Full;
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use hyper_util::rt::TokioIo;
//! use perf_runtime::hyper::{Executor, Timer};
//! use perf_runtime::net::{TcpListener, TcpStream};
//! use std::convert::Infallible;
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! perf_runtime::spawn(async move {
//!     let (socket, _) = listener.accept().await.unwrap();
//!     let service = hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!     });
//!     hyper::server::conn::http1::Builder::new()
//!         .timer(Timer::new())
//!         .serve_connection(TokioIo::new(socket), service)
//!         .await
//!         .unwrap();
//! });
//!
//! let stream = TcpStream::connect(addr).await?;
//! let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
//! Executor::new().spawn(conn);
//! let req = Request::get("/").body(http_body_util::Empty::<Bytes>::new()).unwrap();
//! let resp = sender.send_request(req).await.unwrap();
//! assert_eq!(resp.status(), 200);
//! # std::io::Result::Ok(())
//! # }).unwrap();
//! ```
//!
//! HTTP/2 needs the executor on both sides:
//! `hyper::server::conn::http2::Builder::new(Executor::new())` and
//! `hyper::client::conn::http2::handshake(Executor::new(), io)`.
//!
//! With the `hyper-client` feature, `HttpConnector` connects hyper-util's
//! legacy `Client` (connection pool, HTTP/1 and HTTP/2) over perf_runtime
//! sockets.
//!
//! # What lives where
//! - `rt.rs`: [`Executor`], [`Timer`], [`Sleep`].
//! - `client.rs` (feature `hyper-client`): `HttpConnector` and the
//!   `HttpStream` it returns.

#[cfg(feature = "hyper-client")]
mod client;
mod rt;

#[cfg(feature = "hyper-client")]
pub use client::{HttpConnector, HttpStream};
pub use rt::{Executor, Sleep, Timer};
