//! Asynchronous I/O: tokio's traits and utilities, and the driver behind
//! perf_runtime's sockets, pipes and files.
//!
//! The traits are tokio's own ([`AsyncRead`], [`AsyncWrite`],
//! [`AsyncBufRead`], [`AsyncSeek`], [`ReadBuf`]) and so are the extension
//! traits and helpers ([`AsyncReadExt`], [`AsyncWriteExt`], [`BufReader`],
//! [`copy`], [`split`], [`duplex`], ...): perf_runtime depends on the `tokio`
//! crate with only its `io-util` feature — no tokio runtime runs — and
//! re-exports them, so `use tokio::io::...` ports by changing the crate name
//! and the tokio-io ecosystem (tokio-util codecs, TLS wrappers, hyper-util's
//! `TokioIo`) works unmodified on perf_runtime's types.
//!
//! ```
//! use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let (mut a, mut b) = perf_runtime::io::duplex(64);
//! a.write_all(b"ping").await.unwrap();
//! let mut buf = [0u8; 4];
//! b.read_exact(&mut buf).await.unwrap();
//! assert_eq!(&buf, b"ping");
//! # });
//! ```
//!
//! The driver has two backends, chosen when the runtime is built (see
//! [`runtime::Builder::io_driver`](crate::runtime::Builder::io_driver)):
//! io_uring with one ring per worker, and epoll.

mod buf;
pub(crate) mod driver;
pub(crate) mod op;
mod poll_evented;
mod ready;
mod registration;

pub use buf::{IoBuf, IoBufMut};
pub(crate) use poll_evented::PollEvented;
pub use ready::{Interest, Ready};

pub use std::io::{Error, ErrorKind, Result, SeekFrom};
pub use tokio::io::{
    copy, copy_bidirectional, copy_bidirectional_with_sizes, copy_buf, duplex, empty, join, repeat,
    simplex, sink, split, AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeek,
    AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufReader, BufStream, BufWriter, Chain, DuplexStream,
    Empty, Join, Lines, ReadBuf, ReadHalf, Repeat, SimplexStream, Sink, Split, Take, WriteHalf,
};
