//! [`UdpSocket`]: datagrams, connected or not, on the runtime's I/O driver.

use crate::io::{Interest, ReadBuf, Ready};
use crate::net::addr::{each_addr, to_socket_addrs, ToSocketAddrs};
use crate::net::buf::{advance, unfilled};
use crate::net::datagram::{Datagram, RECV};
use crate::net::fd_traits::socket_traits;
use crate::net::sys;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

/// A UDP socket (as `tokio::net::UdpSocket`).
///
/// Unconnected, it sends with [`send_to`](UdpSocket::send_to) and receives
/// with [`recv_from`](UdpSocket::recv_from); after
/// [`connect`](UdpSocket::connect) it talks to one peer with
/// [`send`](UdpSocket::send) and [`recv`](UdpSocket::recv), and the kernel
/// drops datagrams from anyone else. All methods take `&self`: share the
/// socket through an `Arc` to send and receive from different tasks.
///
/// Every receive is cancel-safe: a dropped `recv` future takes no datagram.
/// A datagram larger than the buffer is truncated to the buffer, as with
/// the `recv(2)` family.
///
/// ```
/// use perf_runtime::net::UdpSocket;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
/// a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf).await.unwrap();
/// assert_eq!(&buf[..n], b"ping");
/// assert_eq!(from, a.local_addr().unwrap());
/// # });
/// ```
pub struct UdpSocket {
    io: Datagram<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (each resolved address in turn until one binds).
    /// Port 0 asks the kernel for a free port; see
    /// [`local_addr`](UdpSocket::local_addr).
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| async move { UdpSocket::bind_addr(a) }).await
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<UdpSocket> {
        let fd = sys::socket(sys::domain_of(&addr), libc::SOCK_DGRAM)?;
        sys::bind(fd.as_raw_fd(), &addr).map_err(|e| {
            // The kind stays (a caller may match on AddrInUse); the message
            // names the address, which the OS error does not.
            let hint = match e.kind() {
                io::ErrorKind::AddrInUse => {
                    ": another socket has it; choose another port, or port 0 for any free one"
                }
                io::ErrorKind::AddrNotAvailable => ": no interface of this host has that address",
                io::ErrorKind::PermissionDenied => ": ports below 1024 need CAP_NET_BIND_SERVICE",
                _ => "",
            };
            io::Error::new(
                e.kind(),
                format!("cannot bind a UDP socket to {addr}: {e}{hint}"),
            )
        })?;
        UdpSocket::new(net::UdpSocket::from(fd))
    }

    fn new(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Datagram::new(socket)?,
        })
    }

    /// Wraps a std socket (set non-blocking here), as tokio's `from_std`.
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(socket)
    }

    /// Hands the socket back as a std socket (still non-blocking: call
    /// `set_nonblocking(false)` for blocking use).
    pub fn into_std(self) -> io::Result<net::UdpSocket> {
        self.io.into_inner()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address (`NotConnected` before
    /// [`connect`](UdpSocket::connect)).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and the
    /// only source [`recv`](UdpSocket::recv) accepts (each resolved address
    /// in turn until one is accepted).
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| async move { self.io.get_ref().connect(a) }).await
    }

    /// Waits until the socket is ready for `interest`; returns what is
    /// ready. Cancel-safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready(interest).await
    }

    /// Waits until a datagram can be received (or an error is pending).
    /// Cancel-safe.
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

    /// Polls a send to the connected peer (for hand-written futures).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_send(cx, buf)
    }

    /// Sends to the connected peer without waiting: `WouldBlock` if the
    /// socket buffer is full.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_send(buf)
    }

    /// Receives one datagram from the connected peer into `buf`; returns
    /// its length (truncated to `buf.len()`). Cancel-safe.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.recv(buf).await
    }

    /// Polls a receive from the connected peer into the unfilled part of
    /// `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.io.poll_recv(cx, buf)
    }

    /// Receives from the connected peer without waiting: `WouldBlock` if no
    /// datagram is queued.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_recv(buf)
    }

    /// Receives one datagram into `buf`'s spare capacity without waiting
    /// (64 bytes are reserved when there is none).
    pub fn try_recv_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.io.try_recv_buf(buf)
    }

    /// Receives one datagram into `buf`'s spare capacity without waiting;
    /// returns its length and sender.
    pub fn try_recv_buf_from(&self, buf: &mut Vec<u8>) -> io::Result<(usize, SocketAddr)> {
        self.io.try_recv_buf_from(buf)
    }

    /// Sends `buf` to `target` (the first address it resolves to); returns
    /// the bytes sent.
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = first_addr(target).await?;
        self.io
            .async_io(Interest::WRITABLE, || {
                self.io.get_ref().send_to(buf, target)
            })
            .await
    }

    /// Polls a send to `target` (for hand-written futures).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_write_io(cx, || self.io.get_ref().send_to(buf, target))
    }

    /// Sends to `target` without waiting: `WouldBlock` if the socket buffer
    /// is full.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_io(Interest::WRITABLE, || {
            self.io.get_ref().send_to(buf, target)
        })
    }

    /// Receives one datagram into `buf`; returns its length (truncated to
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

    /// Receives without waiting: `WouldBlock` if no datagram is queued.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_recv_from(buf)
    }

    /// Copies the next datagram into `buf` without removing it from the
    /// queue; returns its length (truncated) and sender. Cancel-safe.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(RECV, || self.io.get_ref().peek_from(buf))
            .await
    }

    /// Polls a peek into the unfilled part of `buf`; returns the sender.
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        // SAFETY: `peek_from` only writes into the slice; `advance` marks
        // what it reports.
        let b = unsafe { unfilled(buf) };
        let (n, from) = ready!(self
            .io
            .registration()
            .poll_read_io(cx, || self.io.get_ref().peek_from(b)))?;
        // SAFETY: the kernel wrote `n` bytes into the unfilled part.
        unsafe { advance(buf, n) };
        Poll::Ready(Ok(from))
    }

    /// Peeks without waiting: `WouldBlock` if no datagram is queued.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(RECV, || self.io.get_ref().peek_from(buf))
    }

    /// The sender of the next datagram, leaving it queued. Cancel-safe.
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        // Linux reports the sender of a peek into an empty buffer.
        self.peek_from(&mut []).await.map(|(_, from)| from)
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

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets `SO_BROADCAST` (needed to send to a broadcast address).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// `IP_MULTICAST_LOOP`.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v4(on)
    }

    /// `IP_MULTICAST_TTL`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get_ref().multicast_ttl_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// `IPV6_MULTICAST_LOOP`.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v6()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v6(on)
    }

    /// Joins the IPv4 multicast group `multiaddr` on `interface`.
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on interface index
    /// `interface` (0: the default).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves the IPv4 multicast group `multiaddr` on `interface`.
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves the IPv6 multicast group `multiaddr` on interface index
    /// `interface`.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v6(multiaddr, interface)
    }

    /// The pending socket error, if any (`SO_ERROR`; e.g. an ICMP "port
    /// unreachable" for a connected socket).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

/// The first address `target` resolves to.
async fn first_addr<A: ToSocketAddrs>(target: A) -> io::Result<SocketAddr> {
    to_socket_addrs(target)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the destination resolved to no socket addresses: pass an IP address and port, \
             or a host name that resolves",
            )
        })
}

socket_traits!(UdpSocket, net::UdpSocket, debug: "local" => local_addr, "peer" => peer_addr);
