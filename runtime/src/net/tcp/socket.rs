use super::{TcpListener, TcpStream};
use crate::net::sys;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// A TCP socket not yet connected or listening, for setting options first
/// (as `tokio::net::TcpSocket`).
///
/// ```
/// use perf_runtime::net::TcpSocket;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let socket = TcpSocket::new_v4().unwrap();
/// socket.set_reuseaddr(true).unwrap();
/// socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// let listener = socket.listen(128).unwrap();
/// assert!(listener.local_addr().unwrap().port() != 0);
/// # });
/// ```
pub struct TcpSocket {
    fd: OwnedFd,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: sys::socket(libc::AF_INET, libc::SOCK_STREAM)?,
        })
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: sys::socket(libc::AF_INET6, libc::SOCK_STREAM)?,
        })
    }

    pub(crate) fn for_addr(addr: &SocketAddr) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: sys::socket(sys::domain_of(addr), libc::SOCK_STREAM)?,
        })
    }

    fn set_bool(&self, level: libc::c_int, name: libc::c_int, on: bool) -> io::Result<()> {
        sys::setsockopt(self.fd.as_raw_fd(), level, name, on as libc::c_int)
    }

    fn get_bool(&self, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
        Ok(sys::getsockopt::<libc::c_int>(self.fd.as_raw_fd(), level, name)? != 0)
    }

    /// Sets `SO_REUSEADDR`.
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.set_bool(libc::SOL_SOCKET, libc::SO_REUSEADDR, on)
    }

    /// `SO_REUSEADDR`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.get_bool(libc::SOL_SOCKET, libc::SO_REUSEADDR)
    }

    /// Sets `SO_REUSEPORT` (several listeners on one port, the kernel
    /// spreading connections between them).
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        self.set_bool(libc::SOL_SOCKET, libc::SO_REUSEPORT, on)
    }

    /// `SO_REUSEPORT`.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.get_bool(libc::SOL_SOCKET, libc::SO_REUSEPORT)
    }

    /// Sets `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.set_bool(libc::SOL_SOCKET, libc::SO_KEEPALIVE, on)
    }

    /// `SO_KEEPALIVE`.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.get_bool(libc::SOL_SOCKET, libc::SO_KEEPALIVE)
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        sys::setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            size as libc::c_int,
        )
    }

    /// `SO_SNDBUF` (the kernel doubles what was set, for bookkeeping).
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        Ok(
            sys::getsockopt::<libc::c_int>(self.fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF)?
                as u32,
        )
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        sys::setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            size as libc::c_int,
        )
    }

    /// `SO_RCVBUF`.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        Ok(
            sys::getsockopt::<libc::c_int>(self.fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF)?
                as u32,
        )
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.set_bool(libc::IPPROTO_TCP, libc::TCP_NODELAY, on)
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.get_bool(libc::IPPROTO_TCP, libc::TCP_NODELAY)
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sys::local_addr(self.fd.as_raw_fd())
    }

    /// The pending socket error, if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        sys::take_error(self.fd.as_raw_fd())
    }

    /// Binds to `addr`.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        sys::bind(self.fd.as_raw_fd(), &addr)
    }

    /// Connects to `addr`, consuming the socket.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_fd(self.fd, addr).await
    }

    /// Listens with room for `backlog` pending connections, consuming the
    /// socket.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        sys::listen(self.fd.as_raw_fd(), backlog)?;
        TcpListener::from_owned_fd(self.fd)
    }

    /// Wraps a std stream's socket (for setting options before use).
    pub fn from_std_stream(stream: std::net::TcpStream) -> TcpSocket {
        TcpSocket {
            fd: OwnedFd::from(stream),
        }
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl FromRawFd for TcpSocket {
    /// # Safety
    /// `fd` must be an open TCP socket descriptor that the caller owns; it
    /// is set non-blocking when used.
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        // SAFETY: forwarded to the caller's contract.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let _ = crate::net::set_nonblocking(fd.as_raw_fd());
        TcpSocket { fd }
    }
}
