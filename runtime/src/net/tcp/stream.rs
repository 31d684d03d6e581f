use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::io::{Interest, PollEvented, ReadBuf, Ready};
use crate::net::addr::{each_addr, ToSocketAddrs};
use crate::net::buf::recv_into_spare;
use crate::net::fd_traits::socket_traits;
use crate::net::sys;
use std::io;
use std::net::{self, Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};
use std::time::Duration;

/// A TCP connection (as `tokio::net::TcpStream`): reads and writes through
/// [`AsyncRead`](crate::io::AsyncRead)/[`AsyncWrite`](crate::io::AsyncWrite)
/// ([`AsyncReadExt`](crate::io::AsyncReadExt) and
/// [`AsyncWriteExt`](crate::io::AsyncWriteExt) add `read`, `write_all`,
/// ...), or the `try_*` calls after `readable()`/`writable()`.
pub struct TcpStream {
    pub(super) io: PollEvented<net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| async move {
            let socket = super::TcpSocket::for_addr(&a)?;
            socket.connect(a).await
        })
        .await
    }

    /// Wraps a connected non-blocking socket descriptor after `connect`
    /// started, and waits for the connection to complete.
    pub(crate) async fn connect_fd(
        fd: std::os::fd::OwnedFd,
        addr: SocketAddr,
    ) -> io::Result<TcpStream> {
        let done = sys::connect(fd.as_raw_fd(), &addr)?;
        let stream = TcpStream {
            io: PollEvented::new(net::TcpStream::from(fd))?,
        };
        if !done {
            // Writable means the connect finished, one way or the other;
            // a readiness that came too early (io_uring resources start
            // ready) is cleared and waited out.
            let reg = stream.io.registration();
            loop {
                let ev = reg.readiness(Interest::WRITABLE).await?;
                if let Some(e) = sys::take_error(stream.as_raw_fd())? {
                    return Err(e);
                }
                match stream.peer_addr() {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => reg.clear_readiness(ev),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(stream)
    }

    pub(crate) fn from_accepted(s: net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        Ok(TcpStream {
            io: PollEvented::new(s)?,
        })
    }

    /// Wraps a connected std stream (set non-blocking here), as tokio's
    /// `from_std`.
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        Self::from_accepted(stream)
    }

    /// Hands the stream back as a std stream (still non-blocking).
    pub fn into_std(self) -> io::Result<net::TcpStream> {
        self.io.into_inner()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The pending socket error, if any (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        let l: libc::linger = sys::getsockopt(self.as_raw_fd(), libc::SOL_SOCKET, libc::SO_LINGER)?;
        Ok((l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger as u64)))
    }

    /// Sets `SO_LINGER`.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        let l = libc::linger {
            l_onoff: dur.is_some() as libc::c_int,
            l_linger: dur.map_or(0, |d| d.as_secs().min(i32::MAX as u64) as libc::c_int),
        };
        sys::setsockopt(self.as_raw_fd(), libc::SOL_SOCKET, libc::SO_LINGER, l)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Waits until the stream is ready for `interest`; returns what is
    /// ready. Cancel-safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready(interest).await
    }

    /// Waits until the stream is readable. Cancel-safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Waits until the stream is writable. Cancel-safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Polls for read readiness (only the last task to poll is woken).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_read_ready(cx)
    }

    /// Polls for write readiness (only the last task to poll is woken).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_write_ready(cx)
    }

    /// Reads without waiting: `WouldBlock` if no data is ready.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Reads into several buffers without waiting.
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.io.try_read_vectored(bufs)
    }

    /// Reads into a `BufMut`-like vector's spare capacity without waiting.
    pub fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        recv_into_spare(buf, |b| self.try_read(b))
    }

    /// Writes without waiting: `WouldBlock` if the socket buffer is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Writes several buffers without waiting.
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.io.try_write_vectored(bufs)
    }

    /// Runs `f` (a non-blocking call on this socket) if the stream is ready
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

    /// Receives data without removing it from the queue. Cancel-safe.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .registration()
            .async_io(Interest::READABLE, || self.io.get_ref().peek(buf))
            .await
    }

    /// Polls a peek (for hand-written futures).
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        let res = {
            // SAFETY: `peek` only writes into the slice.
            let b = unsafe {
                &mut *(buf.unfilled_mut() as *mut [std::mem::MaybeUninit<u8>] as *mut [u8])
            };
            std::task::ready!(self
                .io
                .registration()
                .poll_read_io(cx, || self.io.get_ref().peek(b)))
        };
        Poll::Ready(res.inspect(|&n| {
            // SAFETY: the kernel initialised `n` bytes.
            unsafe { buf.assume_init(n) };
            buf.advance(n);
        }))
    }

    /// Splits into borrowed halves usable concurrently in one task.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Splits into owned halves that can move to different tasks;
    /// [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }
}

crate::net::split::impl_async_read!(TcpStream, TcpStream, |s| s);
crate::net::split::impl_async_write!(
    TcpStream,
    TcpStream,
    |s| s,
    #[doc = "Shuts the write side down (a FIN to the peer)."]
);

impl crate::net::split::SplitStream for TcpStream {
    type Std = net::TcpStream;

    fn io(&self) -> &PollEvented<net::TcpStream> {
        &self.io
    }

    fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

socket_traits!(TcpStream, net::TcpStream, debug: "local" => local_addr, "peer" => peer_addr);
