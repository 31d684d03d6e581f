//! Owned-buffer I/O on TCP sockets: the buffer moves into the operation and
//! comes back with the result. On io_uring these are `RECV`/`SEND`/
//! multishot `ACCEPT` operations (no readiness round trip, no copy through
//! a borrowed slice); on epoll they run the readiness path with the same
//! signatures, so code using them runs on both.
//!
//! Cancellation: dropping a `read_owned` future on io_uring cancels the
//! operation, but bytes the kernel already received into the buffer are
//! lost with it (the buffer is released when the cancellation completes).
//! Inside `select!`, prefer the readiness-based `read`, which is cancel-safe.

use super::{TcpListener, TcpStream};
use crate::io::driver::op::{OpSlot, Produces};
use crate::io::driver::uring::op_user_data;
use crate::io::driver::Driver;
use crate::io::op::Op;
use crate::io::{Interest, IoBuf, IoBufMut};
use io_uring::{opcode, types};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

impl TcpStream {
    /// Reads into `buf`'s capacity (from its start) and returns the buffer
    /// with the count; the buffer's initialised length becomes at least the
    /// count. See the module notes on cancellation.
    ///
    /// ```
    /// use perf_runtime::io::AsyncWriteExt;
    /// use perf_runtime::net::{TcpListener, TcpStream};
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    /// let (server, _) = listener.accept().await.unwrap();
    /// client.write_all(b"owned").await.unwrap();
    /// let (n, buf) = server.read_owned(Vec::with_capacity(64)).await;
    /// assert_eq!(&buf[..n.unwrap()], b"owned");
    /// # });
    /// ```
    pub async fn read_owned<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        if buf.bytes_total() == 0 {
            return (Ok(0), buf);
        }
        let fd = self.as_raw_fd();
        let op = Op::submit(buf, Produces::Nothing, |b| {
            opcode::Recv::new(types::Fd(fd), b.stable_mut_ptr(), b.bytes_total() as u32).build()
        });
        match op {
            Ok(op) => {
                let (res, mut buf) = op.await;
                match res {
                    Ok(n) => {
                        // SAFETY: the kernel wrote `n` bytes from the start.
                        unsafe { buf.set_init(n as usize) };
                        (Ok(n as usize), buf)
                    }
                    Err(e) => (Err(e), buf),
                }
            }
            Err(mut buf) => {
                let res = {
                    let b = &mut buf;
                    self.io
                        .registration()
                        .async_io(Interest::READABLE, || {
                            let (ptr, len) = (b.stable_mut_ptr(), b.bytes_total());
                            // SAFETY: `ptr..ptr+len` is the buffer's
                            // allocated memory, alive and unmoved while `b`
                            // borrows it; `read` only writes into it.
                            let slice = unsafe { std::slice::from_raw_parts_mut(ptr, len) };
                            self.io.get_ref().read(slice)
                        })
                        .await
                };
                if let Ok(n) = res {
                    // SAFETY: the kernel wrote `n` bytes from the start.
                    unsafe { buf.set_init(n) };
                }
                (res, buf)
            }
        }
    }

    /// Writes from `buf`'s initialised bytes once (a short write is
    /// possible) and returns the buffer with the count.
    pub async fn write_owned<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        self.write_owned_at(buf, 0).await
    }

    async fn write_owned_at<B: IoBuf>(&self, buf: B, off: usize) -> (io::Result<usize>, B) {
        let fd = self.as_raw_fd();
        let op = Op::submit(buf, Produces::Nothing, |b| {
            // SAFETY: `off <= bytes_init`, so the pointer stays in the buffer.
            let ptr = unsafe { b.stable_ptr().add(off) };
            opcode::Send::new(types::Fd(fd), ptr, (b.bytes_init() - off) as u32)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        });
        match op {
            Ok(op) => {
                let (res, buf) = op.await;
                (res.map(|n| n as usize), buf)
            }
            Err(mut buf) => {
                let res = {
                    let b = &mut buf;
                    self.io
                        .registration()
                        .async_io(Interest::WRITABLE, || {
                            let (ptr, len) = (b.stable_ptr(), b.bytes_init());
                            // SAFETY: `ptr+off..ptr+len` are initialised
                            // bytes of the buffer, alive and unmoved while
                            // `b` borrows it.
                            let slice =
                                unsafe { std::slice::from_raw_parts(ptr.add(off), len - off) };
                            self.io.get_ref().write(slice)
                        })
                        .await
                };
                (res, buf)
            }
        }
    }

    /// Writes all of `buf`'s initialised bytes and returns the buffer.
    pub async fn write_all_owned<B: IoBuf>(&self, mut buf: B) -> (io::Result<()>, B) {
        let mut off = 0;
        while off < buf.bytes_init() {
            let (res, b) = self.write_owned_at(buf, off).await;
            buf = b;
            match res {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }
}

/// A stream of accepted connections from [`TcpListener::accept_multi`]: one
/// multishot `ACCEPT` on io_uring (re-armed if the kernel ends it), a loop
/// of `accept` on epoll. Dropping it cancels the operation; a connection
/// accepted after the drop is closed.
pub struct AcceptStream<'a> {
    listener: &'a TcpListener,
    multi: Option<MultiOp>,
}

struct MultiOp {
    driver: Arc<Driver>,
    slot: Arc<OpSlot>,
    ring: usize,
}

impl MultiOp {
    fn start(fd: std::os::fd::RawFd) -> Option<MultiOp> {
        let (driver, handle) = crate::io::op::current_uring()?;
        let slot = Arc::new(OpSlot::new_multi(Produces::Fd));
        let entry = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build();
        let ring = handle.with_local_io(|local| driver.submit_op(entry, slot.clone(), local))?;
        Some(MultiOp { driver, slot, ring })
    }
}

impl Drop for MultiOp {
    fn drop(&mut self) {
        if self.slot.abandon(None) {
            let ud = op_user_data(&self.slot);
            match crate::runtime::context::current_handle() {
                Some(h) => h.with_local_io(|local| self.driver.cancel_op(self.ring, ud, local)),
                None => self.driver.cancel_op(self.ring, ud, None),
            }
        }
    }
}

impl TcpListener {
    /// Accepted connections as a stream, for accept loops: on io_uring one
    /// multishot operation serves every connection.
    ///
    /// ```
    /// use perf_runtime::net::{TcpListener, TcpStream};
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let _a = TcpStream::connect(addr).await.unwrap();
    /// let _b = TcpStream::connect(addr).await.unwrap();
    /// let mut incoming = listener.accept_multi();
    /// for _ in 0..2 {
    ///     let stream = incoming.next().await.unwrap();
    ///     assert_eq!(stream.local_addr().unwrap(), addr);
    /// }
    /// # });
    /// ```
    pub fn accept_multi(&self) -> AcceptStream<'_> {
        AcceptStream {
            listener: self,
            multi: None,
        }
    }
}

impl AcceptStream<'_> {
    /// The next connection (never `None`: errors are items).
    pub async fn next(&mut self) -> io::Result<TcpStream> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection.
    pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        loop {
            if self.multi.is_none() {
                self.multi = MultiOp::start(self.listener.as_raw_fd());
            }
            let Some(multi) = &self.multi else {
                // epoll: readiness-driven accept.
                return self.listener.poll_accept(cx).map_ok(|(s, _)| s);
            };
            match std::task::ready!(multi.slot.poll_next(cx)) {
                Some(fd) if fd >= 0 => {
                    // SAFETY: the kernel's accept returned a new descriptor
                    // that nothing else owns.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    return Poll::Ready(TcpStream::from_accepted(std::net::TcpStream::from(owned)));
                }
                Some(err) => {
                    // The multishot operation goes on unless this was its
                    // final completion (then the next poll re-arms it).
                    return Poll::Ready(Err(io::Error::from_raw_os_error(-err)));
                }
                None => {
                    // The kernel ended the multishot operation: start again.
                    self.multi = None;
                }
            }
        }
    }
}

impl futures_core::Stream for AcceptStream<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_accept(cx).map(Some)
    }
}

impl std::fmt::Debug for AcceptStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptStream")
            .field("listener", &self.listener)
            .field("multishot", &self.multi.is_some())
            .finish()
    }
}
