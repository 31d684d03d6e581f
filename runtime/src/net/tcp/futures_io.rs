//! `futures_io::{AsyncRead, AsyncWrite}` for the TCP types (the `futures-io`
//! feature), beside tokio's traits: code written against the `futures`
//! ecosystem (futures-util's `AsyncReadExt`, async-tungstenite, ...) uses
//! perf_runtime's sockets without a compat wrapper.
//!
//! Each method forwards to the tokio trait's, so both views of a stream
//! behave the same: reads are cancel-safe, `poll_close` shuts down the
//! write side.
//!
//! ```
//! # #[cfg(feature = "futures-io")] {
//! use futures_io::{AsyncRead, AsyncWrite};
//! use perf_runtime::net::{TcpListener, TcpStream};
//! use std::future::poll_fn;
//! use std::pin::Pin;
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let mut client = TcpStream::connect(listener.local_addr()?).await?;
//! let (mut server, _) = listener.accept().await?;
//! poll_fn(|cx| AsyncWrite::poll_write(Pin::new(&mut client), cx, b"hi")).await?;
//! let mut buf = [0u8; 2];
//! let n = poll_fn(|cx| AsyncRead::poll_read(Pin::new(&mut server), cx, &mut buf)).await?;
//! assert_eq!(&buf[..n], b"hi");
//! # std::io::Result::Ok(())
//! # }).unwrap();
//! # }
//! ```

use super::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpStream, WriteHalf};
use crate::io::ReadBuf;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// futures' read (into a slice, returning the count) through tokio's (into
/// a `ReadBuf`).
pub(crate) fn poll_read_via_tokio<T: tokio::io::AsyncRead + ?Sized>(
    io: Pin<&mut T>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let mut rb = ReadBuf::new(buf);
    ready!(io.poll_read(cx, &mut rb))?;
    Poll::Ready(Ok(rb.filled().len()))
}

macro_rules! futures_read {
    ($($t:ty),*) => {$(
        impl ::futures_io::AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                poll_read_via_tokio(self, cx, buf)
            }
        }
    )*};
}

/// Implements futures' `AsyncWrite` by forwarding to tokio's (`poll_close`
/// is tokio's `poll_shutdown`).
macro_rules! futures_write {
    ($($t:ty),*) => {$(
        impl ::futures_io::AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                tokio::io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                tokio::io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                tokio::io::AsyncWrite::poll_flush(self, cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                tokio::io::AsyncWrite::poll_shutdown(self, cx)
            }
        }
    )*};
}

pub(crate) use {futures_read, futures_write};

futures_read!(TcpStream, OwnedReadHalf, ReadHalf<'_>);
futures_write!(TcpStream, OwnedWriteHalf, WriteHalf<'_>);
