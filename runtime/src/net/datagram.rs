//! What [`UdpSocket`](crate::net::UdpSocket) and
//! [`UnixDatagram`](crate::net::UnixDatagram) share: the send and receive
//! families on a registered datagram socket, written once over the two std
//! sockets ([`StdDatagram`]). Each public type keeps its own methods (and
//! their docs) and forwards to a [`Datagram`]; what only one of them has
//! (UDP's `send_to` with resolution, `peek_from`, multicast; Unix paths and
//! `peek`) stays in its file.

use crate::io::{Interest, PollEvented, ReadBuf};
use crate::net::buf::{advance, recv_into_spare, unfilled};
use std::io;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

/// What a receive waits for: a datagram, or a pending socket error (an
/// ICMP "port unreachable" on a connected socket sets one without making
/// the socket readable; waiting for readable alone would hang, as tokio's
/// issue #8000 describes). The receive then returns that error.
pub(crate) const RECV: Interest = Interest::READABLE.add(Interest::ERROR);

/// A std datagram socket: `std::net::UdpSocket` or
/// `std::os::unix::net::UnixDatagram`.
pub(crate) trait StdDatagram: AsRawFd {
    /// The sender address a receive reports (the public type's).
    type Addr;

    /// `send(2)` to the connected peer.
    fn send(&self, buf: &[u8]) -> io::Result<usize>;

    /// `recv(2)` from the connected peer.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// `recvfrom(2)`.
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)>;
}

impl StdDatagram for std::net::UdpSocket {
    type Addr = std::net::SocketAddr;

    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        std::net::UdpSocket::send(self, buf)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::net::UdpSocket::recv(self, buf)
    }

    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)> {
        std::net::UdpSocket::recv_from(self, buf)
    }
}

impl StdDatagram for std::os::unix::net::UnixDatagram {
    type Addr = crate::net::unix::SocketAddr;

    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        std::os::unix::net::UnixDatagram::send(self, buf)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::os::unix::net::UnixDatagram::recv(self, buf)
    }

    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)> {
        let (n, a) = std::os::unix::net::UnixDatagram::recv_from(self, buf)?;
        Ok((n, crate::net::unix::SocketAddr(a)))
    }
}

/// A registered datagram socket with the send and receive families. It
/// dereferences to its `PollEvented` for readiness, `try_io`/`async_io`,
/// and the std socket.
pub(crate) struct Datagram<E: StdDatagram> {
    io: PollEvented<E>,
}

impl<E: StdDatagram> Deref for Datagram<E> {
    type Target = PollEvented<E>;

    fn deref(&self) -> &PollEvented<E> {
        &self.io
    }
}

impl<E: StdDatagram> Datagram<E> {
    /// Registers `socket` (already non-blocking).
    pub(crate) fn new(socket: E) -> io::Result<Self> {
        Ok(Datagram {
            io: PollEvented::new(socket)?,
        })
    }

    /// Deregisters and hands the socket back (still non-blocking).
    pub(crate) fn into_inner(self) -> io::Result<E> {
        self.io.into_inner()
    }

    pub(crate) async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .async_io(Interest::WRITABLE, || self.io.get_ref().send(buf))
            .await
    }

    pub(crate) fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_write_io(cx, || self.io.get_ref().send(buf))
    }

    pub(crate) fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Interest::WRITABLE, || self.io.get_ref().send(buf))
    }

    pub(crate) async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(RECV, || self.io.get_ref().recv(buf)).await
    }

    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `recv` only writes into the slice; `advance` marks what it
        // reports.
        let b = unsafe { unfilled(buf) };
        let n = ready!(self
            .io
            .registration()
            .poll_read_io(cx, || self.io.get_ref().recv(b)))?;
        // SAFETY: the kernel wrote `n` bytes into the unfilled part.
        unsafe { advance(buf, n) };
        Poll::Ready(Ok(()))
    }

    pub(crate) fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(RECV, || self.io.get_ref().recv(buf))
    }

    pub(crate) fn try_recv_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        recv_into_spare(buf, |b| self.try_recv(b))
    }

    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, E::Addr)> {
        self.io
            .async_io(RECV, || self.io.get_ref().recv_from(buf))
            .await
    }

    pub(crate) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<E::Addr>> {
        // SAFETY: `recv_from` only writes into the slice; `advance` marks
        // what it reports.
        let b = unsafe { unfilled(buf) };
        let (n, from) = ready!(self
            .io
            .registration()
            .poll_read_io(cx, || self.io.get_ref().recv_from(b)))?;
        // SAFETY: the kernel wrote `n` bytes into the unfilled part.
        unsafe { advance(buf, n) };
        Poll::Ready(Ok(from))
    }

    pub(crate) fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, E::Addr)> {
        self.io.try_io(RECV, || self.io.get_ref().recv_from(buf))
    }

    pub(crate) fn try_recv_buf_from(&self, buf: &mut Vec<u8>) -> io::Result<(usize, E::Addr)> {
        let mut from = None;
        let n = recv_into_spare(buf, |b| {
            let (n, a) = self.try_recv_from(b)?;
            from = Some(a);
            Ok(n)
        })?;
        Ok((n, from.expect("set on success")))
    }
}
