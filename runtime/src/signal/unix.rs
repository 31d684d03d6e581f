//! Unix signals as async streams, as `tokio::signal::unix`.
//!
//! ```
//! use perf_runtime::signal::unix::{signal, SignalKind};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let mut hangups = signal(SignalKind::hangup()).unwrap();
//! // SAFETY: sends SIGHUP to this process, whose handler is now installed.
//! unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
//! assert_eq!(hangups.recv().await, Some(()));
//! # });
//! ```

use super::registry;
use crate::io::PollEvented;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::task::{Context, Poll};

/// A kind of signal, by number (as `tokio::signal::unix::SignalKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// The signal numbered `signum` (see `signal(7)`), e.g. a real-time
    /// signal `libc::SIGRTMIN() + 1`.
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGALRM`: a timer set by `alarm(2)` expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process changed state.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the terminal hung up; daemons take it as "reload".
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: Ctrl-C in the terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor set up for it.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: Ctrl-\ in the terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: the polite request to stop (what `kill` and container
    /// runtimes send first).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> libc::c_int {
        kind.0
    }
}

/// A listener for one kind of signal (as `tokio::signal::unix::Signal`).
///
/// It sees every delivery of the signal after it was created; deliveries
/// between two [`recv`](Signal::recv)s coalesce into one. Any number of
/// listeners, in any tasks and runtimes, can listen for the same signal:
/// each sees it.
pub struct Signal {
    signum: libc::c_int,
    /// A descriptor of the registry's self-pipe, registered with the
    /// runtime that created the listener.
    pipe: PollEvented<OwnedFd>,
    /// The generation this listener last returned.
    seen: u64,
    /// This listener's waiter entry in the registry (0: none).
    id: u64,
}

/// Listens for `kind`. The first listener for a signal replaces its default
/// action (for SIGINT and SIGTERM: terminating the process) for the rest of
/// the process's life, as in tokio; a handler installed before is still
/// called.
///
/// Must be called inside a runtime with I/O enabled. SIGKILL, SIGSTOP,
/// SIGILL, SIGFPE and SIGSEGV, and numbers that are not signals, are
/// `InvalidInput` errors.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signum = kind.0;
    registry::check(signum)?;
    // Registered before the handler is installed: without a runtime, the
    // signal keeps its default action.
    let pipe = PollEvented::new_with_interest(registry::pipe()?, crate::io::Interest::READABLE)?;
    registry::install_once(signum)?;
    // Turn deliveries that happened before now into past generations, so
    // this listener waits for the next one.
    registry::dispatch(pipe.get_ref().as_raw_fd());
    let seen = registry::lock(signum).generation;
    Ok(Signal {
        signum,
        pipe,
        seen,
        id: 0,
    })
}

impl Signal {
    /// Waits for the next delivery of the signal. `None` only if the
    /// runtime that created the listener shut down. Cancel-safe.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery (for hand-written futures and streams).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let fd = self.pipe.get_ref().as_raw_fd();
        loop {
            registry::dispatch(fd);
            {
                let mut state = registry::lock(self.signum);
                if state.generation != self.seen {
                    self.seen = state.generation;
                    let id = std::mem::take(&mut self.id);
                    state.waiters.retain(|(i, _)| *i != id);
                    return Poll::Ready(Some(()));
                }
                match state.waiters.iter_mut().find(|(i, _)| *i == self.id) {
                    Some((_, w)) => {
                        if !w.will_wake(cx.waker()) {
                            *w = cx.waker().clone();
                        }
                    }
                    None => {
                        self.id = registry::next_id(&mut state);
                        state.waiters.push((self.id, cx.waker().clone()));
                    }
                }
            }
            // Wait for the next byte on the pipe; readiness left from a
            // byte another listener drained is cleared and waited again.
            match self.pipe.registration().poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(ev)) => {
                    let mut byte = 0u8;
                    // SAFETY: reads at most one byte into a live local from
                    // our descriptor.
                    let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
                    if n < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() == io::ErrorKind::WouldBlock {
                            self.pipe.registration().clear_readiness(ev);
                        }
                    }
                    // Loop: dispatch what the byte announced.
                }
            }
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        if self.id != 0 {
            let mut state = registry::lock(self.signum);
            let id = self.id;
            state.waiters.retain(|(i, _)| *i != id);
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("signum", &self.signum)
            .finish()
    }
}
