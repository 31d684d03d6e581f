//! [`Child`]: a running child process, its exit as a future, and its
//! standard streams.

use super::orphan;
use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use crate::io::{AsyncRead, AsyncReadExt, Interest, PollEvented};
use crate::signal::unix::{signal, Signal, SignalKind};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::pin::pin;
use std::process::{ExitStatus, Output};
use std::task::Poll;

/// How a child's exit is noticed.
pub(super) enum ExitWatch {
    /// A pidfd (Linux 5.3+): readable once the process has exited.
    Pidfd(PollEvented<OwnedFd>),
    /// SIGCHLD, where pidfds are unavailable (older kernels, seccomp
    /// profiles that deny `pidfd_open`). Any child's exit wakes every
    /// waiter, which then checks its own child.
    Sigchld(Signal),
}

impl ExitWatch {
    /// Watches `pid`, a child of this process not reaped yet. Must be
    /// created before the first `try_wait` that may return `None`.
    pub(super) fn new(pid: u32) -> io::Result<ExitWatch> {
        if std::env::var_os("PERF_RUNTIME_PROCESS_EXIT").is_some_and(|v| v == "sigchld") {
            return Ok(ExitWatch::Sigchld(signal(SignalKind::child())?));
        }
        // SAFETY: pidfd_open takes a pid and flags and returns a new
        // descriptor or -1; no memory is passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd < 0 {
            // ENOSYS (kernel < 5.3), EPERM (seccomp): fall back.
            return Ok(ExitWatch::Sigchld(signal(SignalKind::child())?));
        }
        // SAFETY: a fresh descriptor (close-on-exec by default) nobody else
        // owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
        Ok(ExitWatch::Pidfd(PollEvented::new_with_interest(
            fd,
            Interest::READABLE,
        )?))
    }

    /// Forgets the readiness `exited` returned, before the caller checks
    /// with `try_wait`: an exit after this makes a new event, an exit before
    /// it is what `try_wait` finds, so a spurious wake-up cannot spin.
    pub(super) fn clear(&self) {
        if let ExitWatch::Pidfd(fd) = self {
            let _ = fd.registration().try_io(Interest::READABLE, || {
                Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
            });
        }
    }

    /// Waits until the child may have exited (the caller checks with
    /// `try_wait`). Cancel-safe.
    pub(super) async fn exited(&mut self) -> io::Result<()> {
        match self {
            ExitWatch::Pidfd(fd) => fd
                .registration()
                .readiness(Interest::READABLE)
                .await
                .map(drop),
            ExitWatch::Sigchld(sig) => match sig.recv().await {
                Some(()) => Ok(()),
                None => Err(io::Error::other(
                    "the runtime that spawned the child shut down: wait for it inside a running \
                     runtime",
                )),
            },
        }
    }
}

/// A child process (as `tokio::process::Child`), from
/// [`Command::spawn`](super::Command::spawn).
///
/// Dropping a `Child` does not kill the process unless
/// [`kill_on_drop`](super::Command::kill_on_drop) was set; either way the
/// process is reaped when it exits, so it never lingers as a zombie.
pub struct Child {
    /// `None` once dropped into the orphan list.
    inner: Option<std::process::Child>,
    /// Set once reaped.
    status: Option<ExitStatus>,
    watch: Option<ExitWatch>,
    kill_on_drop: bool,
    handle: Option<crate::runtime::Handle>,
    /// The child's stdin, if it was piped ([`Stdio::piped`](std::process::Stdio::piped)).
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if it was piped.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// Wraps a freshly spawned std child; on error the child is killed and
    /// reaped, so a failed setup leaves no process behind.
    pub(super) fn new(mut child: std::process::Child, kill_on_drop: bool) -> io::Result<Child> {
        let handle = crate::runtime::Handle::try_current().ok();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let setup = (|| {
            let watch = ExitWatch::new(child.id())?;
            Ok::<_, io::Error>((
                watch,
                stdin.map(ChildStdin::from_std).transpose()?,
                stdout.map(ChildStdout::from_std).transpose()?,
                stderr.map(ChildStderr::from_std).transpose()?,
            ))
        })();
        match setup {
            Ok((watch, stdin, stdout, stderr)) => Ok(Child {
                inner: Some(child),
                status: None,
                watch: Some(watch),
                kill_on_drop,
                handle,
                stdin,
                stdout,
                stderr,
            }),
            Err(e) => {
                let _ = child.kill();
                // Killed: the wait is short.
                let _ = child.wait();
                Err(e)
            }
        }
    }

    fn std(&mut self) -> &mut std::process::Child {
        self.inner.as_mut().expect("a live Child holds its process")
    }

    /// The process id, or `None` once the child was reaped (by `wait` or
    /// `try_wait`), after which the id may belong to another process.
    pub fn id(&self) -> Option<u32> {
        match (&self.inner, self.status) {
            (Some(c), None) => Some(c.id()),
            _ => None,
        }
    }

    /// Sends SIGKILL without waiting for the exit (then call
    /// [`wait`](Child::wait) to reap it). An error once the child was
    /// reaped.
    pub fn start_kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot kill the child process: it has already exited and been reaped",
            ));
        }
        self.std().kill()
    }

    /// Sends SIGKILL and waits for the child to exit. Cancel-safe in the
    /// sense that a dropped `kill` still killed the process (reap it with
    /// `wait`).
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// The exit status if the child has exited (reaping it), `None` if it
    /// is still running.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(st) = self.status {
            return Ok(Some(st));
        }
        let st = self.std().try_wait()?;
        if st.is_some() {
            self.status = st;
            self.watch = None;
            orphan::reap();
        }
        Ok(st)
    }

    /// Waits for the child to exit and reaps it. Closes the child's stdin
    /// first (a child reading it would otherwise wait for us forever).
    /// Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(st) = self.try_wait()? {
                return Ok(st);
            }
            // An unreaped child always has its watch; should that ever not
            // hold, fail this wait rather than panic in a worker.
            let Some(watch) = self.watch.as_mut() else {
                return Err(io::Error::other(
                    "perf_runtime bug: a running child has no exit watch; please report it",
                ));
            };
            watch.exited().await?;
            watch.clear();
        }
    }

    /// Waits for the child to exit while collecting all of its stdout and
    /// stderr (those that were piped).
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let (out, err, status) = join3(read_all(stdout), read_all(stderr), self.wait()).await;
        Ok(Output {
            status: status?,
            stdout: out?,
            stderr: err?,
        })
    }
}

async fn read_all<R: AsyncRead + Unpin>(r: Option<R>) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    if let Some(mut r) = r {
        r.read_to_end(&mut v).await?;
    }
    Ok(v)
}

/// Runs three futures concurrently in the current task.
async fn join3<A: Future, B: Future, C: Future>(
    a: A,
    b: B,
    c: C,
) -> (A::Output, B::Output, C::Output) {
    let (mut a, mut b, mut c) = (pin!(a), pin!(b), pin!(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if rc.is_none() {
            if let Poll::Ready(v) = c.as_mut().poll(cx) {
                rc = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() && rc.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    match (ra, rb, rc) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => unreachable!("poll_fn returned once all three were ready"),
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let Some(mut child) = self.inner.take() else {
            return;
        };
        if self.kill_on_drop {
            let _ = child.kill();
        }
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        orphan::adopt(child, self.watch.take(), self.handle.as_ref());
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("status", &self.status)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}
