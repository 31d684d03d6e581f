//! `PollEvented`: a non-blocking std I/O object plus its registration, with
//! the readiness-driven read and write every socket type uses.

use super::registration::Registration;
use super::{Interest, ReadBuf, Ready};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

pub(crate) struct PollEvented<E: AsRawFd> {
    // `Option` so `into_inner` can move it out; `Some` until then.
    io: Option<E>,
    registration: Registration,
}

impl<E: AsRawFd> PollEvented<E> {
    /// Registers `io` (already non-blocking) for reads and writes.
    pub(crate) fn new(io: E) -> io::Result<Self> {
        Self::new_with_interest(io, Interest::READABLE | Interest::WRITABLE)
    }

    pub(crate) fn new_with_interest(io: E, interest: Interest) -> io::Result<Self> {
        let registration = Registration::new(io.as_raw_fd(), interest)?;
        Ok(PollEvented {
            io: Some(io),
            registration,
        })
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Deregisters and hands the object back (still non-blocking).
    pub(crate) fn into_inner(mut self) -> io::Result<E> {
        self.registration.deregister()?;
        Ok(self
            .io
            .take()
            .expect("PollEvented holds its object until into_inner"))
    }

    /// Reads into `buf` when readable.
    pub(crate) fn poll_read<'a>(
        &'a self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>>
    where
        &'a E: Read + 'a,
    {
        loop {
            let ev = ready!(self.registration.poll_read_ready(cx))?;
            // SAFETY: `Read::read` of the std sockets, pipes and files used
            // here only writes into the slice, never reads it, so exposing
            // the unfilled (maybe uninitialised) part is sound; only the
            // `n` bytes the kernel wrote are marked initialised below.
            let b = unsafe {
                &mut *(buf.unfilled_mut() as *mut [std::mem::MaybeUninit<u8>] as *mut [u8])
            };
            let len = b.len();
            let mut io = self.get_ref();
            match io.read(b) {
                Ok(n) => {
                    // A short read drained the socket: the next read would
                    // return WouldBlock, so skip it (the edge-triggered
                    // backends report new data as a new event).
                    if n > 0 && n < len {
                        self.registration.clear_readiness(ev);
                    }
                    // SAFETY: the kernel initialised `n` bytes.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_readiness(ev)
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes `buf` when writable.
    pub(crate) fn poll_write<'a>(
        &'a self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>
    where
        &'a E: Write + 'a,
    {
        loop {
            let ev = ready!(self.registration.poll_write_ready(cx))?;
            let mut io = self.get_ref();
            match io.write(buf) {
                Ok(n) => {
                    if n > 0 && n < buf.len() {
                        self.registration.clear_readiness(ev);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_readiness(ev)
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes `bufs` when writable.
    pub(crate) fn poll_write_vectored<'a>(
        &'a self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>>
    where
        &'a E: Write + 'a,
    {
        self.registration
            .poll_write_io(cx, || self.get_ref().write_vectored(bufs))
    }

    /// Waits until the object is ready for `interest`; returns what is
    /// ready. Cancel-safe.
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        Ok(self.registration.readiness(interest).await?.ready)
    }

    /// Polls for read readiness (only the last task to poll is woken).
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.registration.poll_read_ready(cx).map_ok(drop)
    }

    /// Polls for write readiness (only the last task to poll is woken).
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.registration.poll_write_ready(cx).map_ok(drop)
    }

    /// Runs `f` (a non-blocking call on the object) if it is ready for
    /// `interest`; clears the readiness if `f` returns `WouldBlock`.
    pub(crate) fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        self.registration.try_io(interest, f)
    }

    /// Waits for `interest` and runs `f` until it stops returning
    /// `WouldBlock`.
    pub(crate) async fn async_io<R>(
        &self,
        interest: Interest,
        f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.registration.async_io(interest, f).await
    }

    /// Reads without waiting: `WouldBlock` if no data is ready.
    pub(crate) fn try_read<'a>(&'a self, buf: &mut [u8]) -> io::Result<usize>
    where
        &'a E: Read + 'a,
    {
        self.try_io(Interest::READABLE, || self.get_ref().read(buf))
    }

    /// Reads into several buffers without waiting.
    pub(crate) fn try_read_vectored<'a>(
        &'a self,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> io::Result<usize>
    where
        &'a E: Read + 'a,
    {
        self.try_io(Interest::READABLE, || self.get_ref().read_vectored(bufs))
    }

    /// Writes without waiting: `WouldBlock` if the buffer is full.
    pub(crate) fn try_write<'a>(&'a self, buf: &[u8]) -> io::Result<usize>
    where
        &'a E: Write + 'a,
    {
        self.try_io(Interest::WRITABLE, || self.get_ref().write(buf))
    }

    /// Writes several buffers without waiting.
    pub(crate) fn try_write_vectored<'a>(&'a self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize>
    where
        &'a E: Write + 'a,
    {
        self.try_io(Interest::WRITABLE, || self.get_ref().write_vectored(bufs))
    }

    pub(crate) fn get_ref(&self) -> &E {
        self.io
            .as_ref()
            .expect("PollEvented holds its object until into_inner")
    }
}

impl<E: AsRawFd> Drop for PollEvented<E> {
    fn drop(&mut self) {
        // Deregister before the descriptor closes (epoll needs the live
        // descriptor to remove it; io_uring's poll is removed through the
        // ring). Then `io` drops and closes it.
        let _ = self.registration.deregister();
    }
}

impl<E: AsRawFd + std::fmt::Debug> std::fmt::Debug for PollEvented<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollEvented").field("io", &self.io).finish()
    }
}
