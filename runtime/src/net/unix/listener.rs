use super::socket_addr::{abstract_addr, with_path};
use super::{SocketAddr, UnixStream};
use crate::io::{Interest, PollEvented};
use crate::net::fd_traits::socket_traits;
use std::io;
use std::os::unix::net;
use std::path::Path;
use std::task::{Context, Poll};

/// A Unix-domain socket server, listening for connections (as
/// `tokio::net::UnixListener`).
///
/// `accept` is cancel-safe: a dropped `accept` future takes no connection.
/// The socket file stays after the listener drops, as with every Unix
/// socket: remove it before binding the same path again.
pub struct UnixListener {
    io: PollEvented<net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens. Must be called inside a runtime. A
    /// path that starts with a NUL byte names a socket in Linux's abstract
    /// namespace (no file), as in tokio.
    ///
    /// A file already at `path` is an `AddrInUse` error (a stale socket
    /// from an earlier run: remove it first).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let listener = match abstract_addr(path)? {
            Some(addr) => net::UnixListener::bind_addr(&addr),
            None => net::UnixListener::bind(path),
        }
        .map_err(|e| with_path(e, "cannot bind a Unix listener at", path))?;
        UnixListener::from_std(listener)
    }

    /// Wraps a std listener (set non-blocking here), as tokio's `from_std`.
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: PollEvented::new_with_interest(listener, Interest::READABLE)?,
        })
    }

    /// Hands the listener back as a std listener (still non-blocking).
    pub fn into_std(self) -> io::Result<net::UnixListener> {
        self.io.into_inner()
    }

    /// Accepts a new connection and its peer's (usually unnamed) address.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self
            .io
            .registration()
            .async_io(Interest::READABLE, || self.io.get_ref().accept())
            .await?;
        Ok((UnixStream::from_std(stream)?, SocketAddr(addr)))
    }

    /// Polls for a new connection (for hand-written futures).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        match self
            .io
            .registration()
            .poll_read_io(cx, || self.io.get_ref().accept())
        {
            Poll::Ready(Ok((s, a))) => {
                Poll::Ready(UnixStream::from_std(s).map(|s| (s, SocketAddr(a))))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr().map(SocketAddr)
    }

    /// The pending socket error, if any (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

socket_traits!(UnixListener, net::UnixListener, debug: "addr" => local_addr);
