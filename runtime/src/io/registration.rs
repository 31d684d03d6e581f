//! `Registration`: a resource registered with the current runtime's I/O
//! driver, and the readiness calls every I/O type is built on.

use super::driver::scheduled_io::{Direction, ReadyEvent};
use super::driver::{Driver, Registered};
use super::ready::Interest;
use crate::task::coop;
use std::future::poll_fn;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

pub(crate) struct Registration {
    driver: Arc<Driver>,
    handle: crate::scheduler::Handle,
    reg: Registered,
    deregistered: bool,
}

fn no_runtime() -> io::Error {
    io::Error::other(
        "there is no perf_runtime runtime on this thread: create I/O resources inside a task, \
         inside Runtime::block_on, or after Runtime::enter()",
    )
}

fn io_disabled() -> io::Error {
    io::Error::other(
        "the I/O driver is disabled on this runtime: build it with Builder::enable_io() or \
         Builder::enable_all() (Runtime::new() and #[perf_runtime::main] enable it)",
    )
}

impl Registration {
    /// Registers `fd` with the current runtime's driver.
    pub(crate) fn new(fd: RawFd, interest: Interest) -> io::Result<Registration> {
        let handle = crate::runtime::context::current_handle().ok_or_else(no_runtime)?;
        let driver = handle.common().io.clone().ok_or_else(io_disabled)?;
        let reg = driver.register(fd, interest)?;
        Ok(Registration {
            driver,
            handle,
            reg,
            deregistered: false,
        })
    }

    /// Stops readiness delivery before the descriptor is closed or handed
    /// back (`into_std`). Idempotent.
    pub(crate) fn deregister(&mut self) -> io::Result<()> {
        if std::mem::replace(&mut self.deregistered, true) {
            return Ok(());
        }
        self.driver.deregister(&self.reg)
    }

    /// Ready to read (or closed, or in error), else `Pending` with the
    /// task's waker stored. Consumes one unit of the cooperative budget.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.poll_ready(cx, Direction::Read)
    }

    /// Ready to write, else `Pending`.
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.poll_ready(cx, Direction::Write)
    }

    fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<ReadyEvent>> {
        let coop = ready!(coop::poll_proceed(cx));
        let ev = match self.reg.sio.poll_ready(cx, dir) {
            Poll::Ready(ev) => ev?,
            Poll::Pending => {
                self.will_wait();
                return Poll::Pending;
            }
        };
        coop.made_progress();
        Poll::Ready(Ok(ev))
    }

    /// The task waits: on io_uring the resource's poll must be armed.
    fn will_wait(&self) {
        self.driver
            .will_wait(&self.reg, |f| self.handle.with_local_io(f));
    }

    /// Forgets readiness a task saw before its syscall returned `WouldBlock`.
    pub(crate) fn clear_readiness(&self, ev: ReadyEvent) {
        self.reg.sio.clear_readiness(ev);
    }

    /// Runs `f` when ready in `dir`, until it stops returning `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let ev = ready!(self.poll_ready(cx, dir))?;
            match f() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(ev),
                res => return Poll::Ready(res),
            }
        }
    }

    pub(crate) fn poll_read_io<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Read, f)
    }

    pub(crate) fn poll_write_io<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Write, f)
    }

    /// Runs `f` once if the resource is ready for `interest`; `WouldBlock`
    /// otherwise (and clears the readiness `f` found stale).
    pub(crate) fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let ev = self.reg.sio.ready_now(interest.mask())?;
        if ev.ready.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match f() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_readiness(ev);
                Err(e)
            }
            res => res,
        }
    }

    /// Waits until the resource is ready for `interest`. Several tasks may
    /// wait at once; each is woken.
    pub(crate) async fn readiness(&self, interest: Interest) -> io::Result<ReadyEvent> {
        struct Forget<'a>(&'a Registration, u64);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                self.0.reg.sio.forget(&mut self.1);
            }
        }
        let mut entry = Forget(self, 0);
        poll_fn(|cx| {
            let coop = ready!(coop::poll_proceed(cx));
            let ev = match self.reg.sio.poll_interest(cx, interest, &mut entry.1) {
                Poll::Ready(ev) => ev?,
                Poll::Pending => {
                    self.will_wait();
                    return Poll::Pending;
                }
            };
            coop.made_progress();
            Poll::Ready(Ok(ev))
        })
        .await
    }

    /// Waits for `interest` and runs `f` until it stops returning
    /// `WouldBlock`.
    pub(crate) async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let ev = self.readiness(interest).await?;
            match f() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(ev),
                res => return res,
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.deregister();
    }
}
