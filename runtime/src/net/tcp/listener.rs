use super::TcpStream;
use crate::io::{Interest, PollEvented};
use crate::net::addr::{each_addr, ToSocketAddrs};
use crate::net::fd_traits::socket_traits;
use crate::net::sys;
use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::task::{Context, Poll};

/// A TCP socket server, listening for connections (as `tokio::net::TcpListener`).
///
/// `accept` is cancel-safe: a dropped `accept` future takes no connection.
/// When the process runs out of descriptors (EMFILE/ENFILE), `accept`
/// returns that error and the listener stays usable: accept again once
/// descriptors are free.
pub struct TcpListener {
    io: PollEvented<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn until one binds) and
    /// listens, with `SO_REUSEADDR` set as tokio and mio do.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| async move { TcpListener::bind_addr(a) }).await
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = super::TcpSocket::for_addr(&addr)?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(1024)
    }

    /// Accepts a new connection and its peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self
            .io
            .registration()
            .async_io(Interest::READABLE, || self.io.get_ref().accept())
            .await?;
        Ok((TcpStream::from_accepted(stream)?, addr))
    }

    /// Polls for a new connection (for hand-written futures).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self
            .io
            .registration()
            .poll_read_io(cx, || self.io.get_ref().accept())
        {
            Poll::Ready(Ok((s, a))) => Poll::Ready(TcpStream::from_accepted(s).map(|s| (s, a))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Wraps a std listener (set non-blocking here), as tokio's `from_std`.
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: PollEvented::new_with_interest(listener, Interest::READABLE)?,
        })
    }

    /// Hands the listener back as a std listener (still non-blocking).
    pub fn into_std(self) -> io::Result<net::TcpListener> {
        self.io.into_inner()
    }

    pub(crate) fn from_owned_fd(fd: OwnedFd) -> io::Result<TcpListener> {
        Self::from_std(net::TcpListener::from(fd))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The pending socket error, if any (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// The `IP_TTL` of accepted sockets.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

socket_traits!(TcpListener, net::TcpListener, debug: "addr" => local_addr);

#[allow(dead_code)]
fn _assert_fd_traits() {
    fn is<T: FromRawFd + IntoRawFd>() {}
    is::<net::TcpListener>();
    let _ = sys::cvt;
}
