//! The halves of a split stream socket, written once for TCP and Unix:
//! borrowed (`split`, one task) and owned (`into_split`, any tasks). Reads
//! and writes on a stream socket are independent, so the halves share the
//! stream without a lock.
//!
//! Each protocol's `split.rs` stamps out its own concrete types with
//! [`halves!`] (thin newtypes over the stream, with the methods, trait impls
//! and `ReuniteError` they had), giving each its own docs; what only one
//! protocol has (TCP's `peek`) it adds beside. The shared core is here: the
//! types' bodies in the macro, the stream's registered I/O through
//! [`SplitStream`], and the `AsyncRead`/`AsyncWrite` impls the streams and
//! their halves both use.
//!
//! Why not type aliases of one generic `ReadHalf<'a, S>` (and so on): the
//! generic type would live in this private module, and rustdoc then shows
//! an alias page without the generic impls' methods or trait impls, so the
//! public docs would lose them; and `ReuniteError(read, write)`, a tuple
//! struct in tokio's API, cannot be constructed or matched through an alias.

use crate::io::PollEvented;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;

/// A stream socket (`TcpStream`, `UnixStream`) as its halves and its own
/// `AsyncRead`/`AsyncWrite` impls see it.
pub(crate) trait SplitStream {
    /// The std stream the socket registers.
    type Std: AsRawFd;

    /// The registered std stream.
    fn io(&self) -> &PollEvented<Self::Std>;

    /// `shutdown(2)` on the std stream.
    fn shutdown_std(&self, how: Shutdown) -> io::Result<()>;
}

/// Shuts the write side of `stream` down; the peer reads end of stream
/// (a FIN, on TCP).
pub(crate) fn shutdown_write<S: SplitStream>(stream: &S) -> io::Result<()> {
    match stream.shutdown_std(Shutdown::Write) {
        // Already disconnected: the write side is shut either way.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        res => res,
    }
}

/// `AsyncRead` for a stream or a read half:
/// `impl_async_read!(Type, Stream, |this| -> &Stream)`, where the
/// closure finds the stream (`|s| s` for the stream itself).
macro_rules! impl_async_read {
    ($t:ty, $s:ty, $get:expr) => {
        impl $crate::io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut $crate::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let get: fn(&Self) -> &$s = $get;
                $crate::net::split::SplitStream::io(get(&self)).poll_read(cx, buf)
            }
        }
    };
}

/// `AsyncWrite` for a stream or a write half, as [`impl_async_read!`];
/// attributes after the closure (the stream's doc) go on `poll_shutdown`,
/// which shuts the stream's write side down.
macro_rules! impl_async_write {
    ($t:ty, $s:ty, $get:expr $(, #[$shutdown_doc:meta])*) => {
        impl $crate::io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let get: fn(&Self) -> &$s = $get;
                $crate::net::split::SplitStream::io(get(&self)).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let get: fn(&Self) -> &$s = $get;
                $crate::net::split::SplitStream::io(get(&self)).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            $(#[$shutdown_doc])*
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let get: fn(&Self) -> &$s = $get;
                std::task::Poll::Ready($crate::net::split::shutdown_write(get(&self)))
            }
        }
    };
}

pub(crate) use {impl_async_read, impl_async_write};

/// Defines, in a protocol's module, the halves of its stream `$stream`
/// (whose addresses are `$addr`): `ReadHalf`, `WriteHalf`, `OwnedReadHalf`,
/// `OwnedWriteHalf`, `ReuniteError`, and the `split`/`into_split` functions
/// the stream calls. The attributes before each half's name are its docs.
macro_rules! halves {
    (
        stream: $stream:ident,
        addr: $addr:ty,
        $(#[$read_half:meta])* ReadHalf,
        $(#[$write_half:meta])* WriteHalf,
        $(#[$owned_read_half:meta])* OwnedReadHalf,
        $(#[$owned_write_half:meta])* OwnedWriteHalf $(,)?
    ) => {
        $(#[$read_half])*
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a $stream);

        $(#[$write_half])*
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a $stream);

        pub(super) fn split(stream: &mut $stream) -> (ReadHalf<'_>, WriteHalf<'_>) {
            (ReadHalf(stream), WriteHalf(stream))
        }

        $(#[$owned_read_half])*
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            inner: std::sync::Arc<$stream>,
        }

        $(#[$owned_write_half])*
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            inner: std::sync::Arc<$stream>,
            shutdown_on_drop: bool,
        }

        pub(super) fn into_split(stream: $stream) -> (OwnedReadHalf, OwnedWriteHalf) {
            let inner = std::sync::Arc::new(stream);
            (
                OwnedReadHalf {
                    inner: inner.clone(),
                },
                OwnedWriteHalf {
                    inner,
                    shutdown_on_drop: true,
                },
            )
        }

        /// The halves given to [`OwnedReadHalf::reunite`] came from different
        /// streams; they are handed back.
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tried to reunite halves that are not from the same socket")
            }
        }

        impl std::error::Error for ReuniteError {}

        impl OwnedReadHalf {
            /// Puts the halves back together into the stream they came from.
            pub fn reunite(self, other: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                if !std::sync::Arc::ptr_eq(&self.inner, &other.inner) {
                    return Err(ReuniteError(self, other));
                }
                let mut other = other;
                other.shutdown_on_drop = false;
                let inner = other.inner.clone();
                drop(other);
                drop(self);
                Ok(std::sync::Arc::try_unwrap(inner).expect("both halves were given back"))
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.inner.peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.inner.local_addr()
            }

            /// Waits until readable. Cancel-safe.
            pub async fn readable(&self) -> std::io::Result<()> {
                self.inner.readable().await
            }

            /// Waits for `interest`.
            pub async fn ready(
                &self,
                interest: $crate::io::Interest,
            ) -> std::io::Result<$crate::io::Ready> {
                self.inner.ready(interest).await
            }

            /// Reads without waiting.
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.inner.try_read(buf)
            }
        }

        impl OwnedWriteHalf {
            /// Puts the halves back together (see [`OwnedReadHalf::reunite`]).
            pub fn reunite(self, other: OwnedReadHalf) -> Result<$stream, ReuniteError> {
                other.reunite(self)
            }

            /// Drops the half without shutting the write side down.
            pub fn forget(mut self) {
                self.shutdown_on_drop = false;
            }

            /// The peer's address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.inner.peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.inner.local_addr()
            }

            /// Waits until writable. Cancel-safe.
            pub async fn writable(&self) -> std::io::Result<()> {
                self.inner.writable().await
            }

            /// Writes without waiting.
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.inner.try_write(buf)
            }
        }

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                if self.shutdown_on_drop {
                    let _ = $crate::net::split::shutdown_write(&*self.inner);
                }
            }
        }

        impl ReadHalf<'_> {
            /// Reads without waiting.
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0.try_read(buf)
            }
        }

        impl WriteHalf<'_> {
            /// Writes without waiting.
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.try_write(buf)
            }
        }

        $crate::net::split::impl_async_read!(ReadHalf<'_>, $stream, |h| h.0);
        $crate::net::split::impl_async_write!(WriteHalf<'_>, $stream, |h| h.0);
        $crate::net::split::impl_async_read!(OwnedReadHalf, $stream, |h| &h.inner);
        $crate::net::split::impl_async_write!(OwnedWriteHalf, $stream, |h| &h.inner);

        impl AsRef<$stream> for ReadHalf<'_> {
            fn as_ref(&self) -> &$stream {
                self.0
            }
        }

        impl AsRef<$stream> for WriteHalf<'_> {
            fn as_ref(&self) -> &$stream {
                self.0
            }
        }

        impl AsRef<$stream> for OwnedReadHalf {
            fn as_ref(&self) -> &$stream {
                &self.inner
            }
        }

        impl AsRef<$stream> for OwnedWriteHalf {
            fn as_ref(&self) -> &$stream {
                &self.inner
            }
        }
    };
}

pub(crate) use halves;
