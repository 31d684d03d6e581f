//! The process-global signal registry: one `sigaction` handler per signal,
//! installed the first time someone listens for it, and the self-pipe that
//! handler writes to.
//!
//! # Protocol
//!
//! - The handler (async-signal-safe: atomics and `write(2)` only) sets the
//!   signal's `pending` flag, *then* writes one byte to the pipe, then calls
//!   the handler that was installed before ours, if it was a function.
//! - Every [`Signal`](super::unix::Signal) owns a `dup` of the pipe's read
//!   end registered with its runtime's I/O driver, so a write wakes every
//!   waiting listener, in every runtime, through the normal scheduler (there
//!   is no driver task, so no priority inversion).
//! - A woken listener calls [`dispatch`]: it drains the pipe, then for each
//!   signal whose `pending` flag it swaps from true to false it bumps that
//!   signal's `generation` and wakes its waiters, under the signal's lock.
//!   Because `pending` is set before the byte is written, a drain that
//!   misses the byte still finds the flag, and a byte that comes after the
//!   drain triggers a new readiness event.
//! - A listener remembers the generation it last returned; it is ready when
//!   the generation moved. It checks and stores its waker under the same
//!   lock the bump takes, so no bump is missed. Several signals between two
//!   `recv`s move the generation several times but return once: signals
//!   coalesce, as in tokio and in the kernel.
//!
//! Why a self-pipe and not `signalfd`: a signalfd only receives a signal
//! that is blocked in *every* thread of the process, including threads
//! perf_runtime does not own (a library's, or ones started before the
//! runtime); one thread that does not block it gets the default action,
//! which terminates the process for SIGINT and SIGTERM. Blocked signals are
//! also inherited by child processes (`process::Command`) unless reset. A
//! handler installed with `sigaction(SA_RESTART)` works whatever the other
//! threads do, and `SA_RESTART` keeps blocking syscalls elsewhere in the
//! process from failing with `EINTR`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::Waker;

/// Signals numbered below this can be listened for (Linux: 1..=64).
const NSIG: usize = 65;

/// The pipe's write end, for the handler (-1 until created).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The pipe's ends, created once and never closed.
static PIPE: OnceLock<io::Result<(OwnedFd, OwnedFd)>> = OnceLock::new();

static SLOTS: [Slot; NSIG] = [const { Slot::new() }; NSIG];

/// The handler that was installed before ours, to call after ours.
#[derive(Clone, Copy)]
struct OldAction {
    handler: libc::sighandler_t,
    flags: libc::c_int,
}

struct Slot {
    /// Set by the handler; swapped back by `dispatch`.
    pending: AtomicBool,
    /// Whether our handler is installed (or the errno that prevented it).
    installed: OnceLock<Result<(), i32>>,
    old: OnceLock<OldAction>,
    state: Mutex<SlotState>,
}

pub(super) struct SlotState {
    /// How many times the signal was dispatched.
    pub(super) generation: u64,
    /// The listeners waiting for the next generation, by listener id.
    pub(super) waiters: Vec<(u64, Waker)>,
    next_id: u64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            pending: AtomicBool::new(false),
            installed: OnceLock::new(),
            old: OnceLock::new(),
            state: Mutex::new(SlotState {
                generation: 0,
                waiters: Vec::new(),
                next_id: 0,
            }),
        }
    }
}

/// The state of `signum`'s slot, locked. A panic while it was held (it
/// never runs user code) cannot leave it inconsistent, so poison is
/// ignored.
pub(super) fn lock(signum: i32) -> MutexGuard<'static, SlotState> {
    SLOTS[signum as usize]
        .state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A new listener id for `signum`.
pub(super) fn next_id(state: &mut SlotState) -> u64 {
    state.next_id += 1;
    state.next_id
}

extern "C" fn handler(signum: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: reading errno is async-signal-safe; it is restored below so
    // the interrupted code does not see our `write`'s errno.
    let saved_errno = unsafe { *libc::__errno_location() };
    if let Some(slot) = SLOTS.get(signum as usize) {
        slot.pending.store(true, SeqCst);
        let fd = WRITE_FD.load(SeqCst);
        if fd >= 0 {
            // A full pipe (EAGAIN) is fine: a byte is already waiting.
            // SAFETY: `fd` is the pipe's write end, never closed; the buffer
            // is a live byte.
            unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
        }
        if let Some(old) = slot.old.get() {
            if old.flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with
                // SA_SIGINFO, so it has this signature; we pass on the
                // kernel's arguments.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(old.handler) };
                f(signum, info, ctx);
            } else if old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN {
                // SAFETY: a handler installed without SA_SIGINFO takes the
                // signal number only.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(old.handler) };
                f(signum);
            }
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// Signals whose default handling cannot or must not be replaced.
fn forbidden(signum: i32) -> bool {
    matches!(
        signum,
        libc::SIGILL | libc::SIGFPE | libc::SIGKILL | libc::SIGSEGV | libc::SIGSTOP
    )
}

/// The pipe's read end, creating the pipe on first use.
fn pipe_read_end() -> io::Result<&'static OwnedFd> {
    let res = PIPE.get_or_init(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a live array of two ints for the kernel to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: two fresh descriptors that nothing else owns.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        WRITE_FD.store(w.as_raw_fd(), SeqCst);
        Ok((r, w))
    });
    match res {
        Ok((r, _)) => Ok(r),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot create the signal self-pipe: {e}; free some descriptors and retry"),
        )),
    }
}

/// `InvalidInput` unless `signum` is a signal that can be listened for.
pub(super) fn check(signum: i32) -> io::Result<()> {
    if signum <= 0 || signum as usize >= NSIG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{signum} is not a signal number: use one from 1 to {}",
                NSIG - 1
            ),
        ));
    }
    if forbidden(signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signum} cannot be listened for: SIGKILL and SIGSTOP cannot be caught, \
                 and SIGILL, SIGFPE and SIGSEGV must keep their default handling"
            ),
        ));
    }
    Ok(())
}

/// A new descriptor of the self-pipe's read end, for a listener to
/// register with its runtime.
pub(super) fn pipe() -> io::Result<OwnedFd> {
    pipe_read_end()?.try_clone().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot duplicate the signal self-pipe for a new listener: {e}"),
        )
    })
}

/// Installs the handler for `signum` (a [`check`]ed number), once per
/// process.
pub(super) fn install_once(signum: i32) -> io::Result<()> {
    let slot = &SLOTS[signum as usize];
    match *slot.installed.get_or_init(|| install(signum, slot)) {
        Ok(()) => Ok(()),
        Err(errno) => {
            let e = io::Error::from_raw_os_error(errno);
            Err(io::Error::new(
                e.kind(),
                format!("cannot install a handler for signal {signum}: {e}"),
            ))
        }
    }
}

fn install(signum: i32, slot: &Slot) -> Result<(), i32> {
    // SAFETY: all-zero is a valid sigaction (empty mask, no flags).
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `old`.
    if unsafe { libc::sigaction(signum, std::ptr::null(), &mut old) } < 0 {
        return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // Record the previous handler before ours can run, so the first signal
    // already reaches it too.
    let _ = slot.old.set(OldAction {
        handler: old.sa_sigaction,
        flags: old.sa_flags,
    });
    // SAFETY: as above.
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler as *const () as libc::sighandler_t;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
    // SAFETY: `new` is a fully initialised action whose handler is
    // async-signal-safe; the mask is emptied in place.
    unsafe { libc::sigemptyset(&mut new.sa_mask) };
    // SAFETY: as above.
    if unsafe { libc::sigaction(signum, &new, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    Ok(())
}

/// Drains the self-pipe through `fd` (any descriptor of it), then turns
/// every pending signal into a new generation and wakes its waiters.
pub(super) fn dispatch(fd: libc::c_int) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `buf` is a live, writable buffer of its length; `fd` is
        // the caller's live descriptor.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break; // WouldBlock: drained (the write end never closes).
        }
    }
    for (signum, slot) in SLOTS.iter().enumerate() {
        if slot.pending.load(SeqCst) && slot.pending.swap(false, SeqCst) {
            let waiters = {
                let mut state = lock(signum as i32);
                state.generation += 1;
                std::mem::take(&mut state.waiters)
            };
            for (_, w) in waiters {
                w.wake();
            }
        }
    }
}
