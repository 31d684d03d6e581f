use super::socket_addr::{abstract_addr, with_path};
use super::SocketAddr;
use crate::io::{Interest, ReadBuf, Ready};
use crate::net::datagram::{Datagram, RECV};
use crate::net::fd_traits::socket_traits;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net;
use std::path::Path;
use std::task::{Context, Poll};

/// A Unix-domain datagram socket (as `tokio::net::UnixDatagram`).
///
/// Datagrams keep their boundaries and are never truncated by the sender;
/// a receive buffer shorter than the datagram truncates it. All methods
/// take `&self`; receives are cancel-safe.
///
/// ```
/// use perf_runtime::net::UnixDatagram;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (a, b) = UnixDatagram::pair().unwrap();
/// a.send(b"ping").await.unwrap();
/// let mut buf = [0u8; 8];
/// let n = b.recv(&mut buf).await.unwrap();
/// assert_eq!(&buf[..n], b"ping");
/// # });
/// ```
pub struct UnixDatagram {
    io: Datagram<net::UnixDatagram>,
}

impl UnixDatagram {
    /// A socket bound to `path`. Must be called inside a runtime.
    ///
    /// A file already at `path` is an `AddrInUse` error (remove a stale
    /// socket first). A path that starts with a NUL byte names a socket in
    /// Linux's abstract namespace (no file), here and in `connect` and
    /// `send_to`, as in tokio.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let socket = match abstract_addr(path)? {
            Some(addr) => net::UnixDatagram::bind_addr(&addr),
            None => net::UnixDatagram::bind(path),
        }
        .map_err(|e| with_path(e, "cannot bind a Unix datagram socket at", path))?;
        UnixDatagram::from_std(socket)
    }

    /// A socket bound to no path: it can send (`send_to`, or `send` after
    /// `connect`) but nobody can address a reply to it.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(net::UnixDatagram::unbound()?)
    }

    /// A connected pair of unnamed sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a std socket (set non-blocking here), as tokio's `from_std`.
    pub fn from_std(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            io: Datagram::new(socket)?,
        })
    }

    /// Hands the socket back as a std socket (still non-blocking).
    pub fn into_std(self) -> io::Result<net::UnixDatagram> {
        self.io.into_inner()
    }

    /// Sets the default destination of [`send`](UnixDatagram::send) and
    /// the only source [`recv`](UnixDatagram::recv) accepts.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let path = path.as_ref();
        match abstract_addr(path)? {
            Some(addr) => self.io.get_ref().connect_addr(&addr),
            None => self.io.get_ref().connect(path),
        }
        .map_err(|e| with_path(e, "cannot connect to the Unix datagram socket", path))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr().map(SocketAddr)
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr().map(SocketAddr)
    }

    /// The pending socket error, if any (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Shuts down reads, writes or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Waits until the socket is ready for `interest`; returns what is
    /// ready. Cancel-safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready(interest).await
    }

    /// Waits until a datagram can be received. Cancel-safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Waits until a datagram can be sent. Cancel-safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Polls for receive readiness (only the last task to poll is woken).
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_read_ready(cx)
    }

    /// Polls for send readiness (only the last task to poll is woken).
    pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_write_ready(cx)
    }

    /// Sends `buf` to the connected peer; returns the bytes sent.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.send(buf).await
    }

    /// Polls a send to the connected peer.
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_send(cx, buf)
    }

    /// Sends to the connected peer without waiting: `WouldBlock` if the
    /// peer's queue is full.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_send(buf)
    }

    /// One `sendto(2)` to `target` (a path, or an abstract name).
    fn send_to_path(&self, buf: &[u8], target: &Path) -> io::Result<usize> {
        match abstract_addr(target)? {
            Some(addr) => self.io.get_ref().send_to_addr(buf, &addr),
            None => self.io.get_ref().send_to(buf, target),
        }
    }

    /// Sends `buf` to the socket bound at `target`.
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], target: P) -> io::Result<usize> {
        let target = target.as_ref();
        self.io
            .async_io(Interest::WRITABLE, || self.send_to_path(buf, target))
            .await
            .map_err(|e| with_path(e, "cannot send to the Unix datagram socket", target))
    }

    /// Polls a send to the socket bound at `target`.
    pub fn poll_send_to<P: AsRef<Path>>(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: P,
    ) -> Poll<io::Result<usize>> {
        let target = target.as_ref();
        self.io
            .registration()
            .poll_write_io(cx, || self.send_to_path(buf, target))
    }

    /// Sends to `target` without waiting.
    pub fn try_send_to<P: AsRef<Path>>(&self, buf: &[u8], target: P) -> io::Result<usize> {
        let target = target.as_ref();
        self.io
            .try_io(Interest::WRITABLE, || self.send_to_path(buf, target))
    }

    /// Receives one datagram from the connected peer; returns its length
    /// (truncated to `buf.len()`). Cancel-safe.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.recv(buf).await
    }

    /// Polls a receive into the unfilled part of `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.io.poll_recv(cx, buf)
    }

    /// Receives without waiting: `WouldBlock` if no datagram is queued.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_recv(buf)
    }

    /// Receives one datagram into `buf`'s spare capacity without waiting.
    pub fn try_recv_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.io.try_recv_buf(buf)
    }

    /// Receives one datagram; returns its length (truncated to
    /// `buf.len()`) and sender. Cancel-safe.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.recv_from(buf).await
    }

    /// Polls a receive into the unfilled part of `buf`; returns the sender.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        self.io.poll_recv_from(cx, buf)
    }

    /// Receives without waiting; returns the length and sender.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_recv_from(buf)
    }

    /// Receives one datagram into `buf`'s spare capacity without waiting;
    /// returns its length and sender.
    pub fn try_recv_buf_from(&self, buf: &mut Vec<u8>) -> io::Result<(usize, SocketAddr)> {
        self.io.try_recv_buf_from(buf)
    }

    /// Copies the next datagram into `buf` without removing it from the
    /// queue; returns its length (truncated). Cancel-safe.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let fd = self.as_raw_fd();
        self.io
            .async_io(RECV, || {
                // SAFETY: `buf` is a live, writable slice of `buf.len()`
                // bytes; `fd` is our socket.
                let n =
                    unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            })
            .await
    }

    /// Runs `f` (a non-blocking call on this socket) if the socket is ready
    /// for `interest`; clears the readiness if it returns `WouldBlock`.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.try_io(interest, f)
    }

    /// Waits for `interest` and runs `f` until it stops returning
    /// `WouldBlock`.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.async_io(interest, f).await
    }
}

socket_traits!(UnixDatagram, net::UnixDatagram, debug: "local" => local_addr, "peer" => peer_addr);
