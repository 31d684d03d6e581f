//! The epoll backend: one epoll instance per runtime, edge-triggered, as
//! tokio and mio do it. The io_uring backend uses the same type for its
//! readiness, one instance per ring (see `uring`'s module docs).
//!
//! # Invariants
//!
//! - Each registered resource is one `Arc<ScheduledIo>`; the epoll entry's
//!   data is that `Arc`'s pointer, and `registrations.live` holds the `Arc`
//!   for as long as the entry exists.
//! - One thread at a time runs a turn (`turn` is a try-lock): the worker
//!   that parks in the driver (with the next timer deadline as timeout), or
//!   a busy worker polling without blocking every `event_interval` ticks.
//! - A deregistered resource is removed from epoll first, then its `Arc`
//!   moves to `pending_release`; it is dropped at the start of the next
//!   turn, when no turn that could still hold its pointer is running.
//! - The wake eventfd (the epoll backend's instance only) is registered
//!   with token 0; writing it ends a turn (the parked driver owner's
//!   unpark).

use super::scheduled_io::ScheduledIo;
use crate::io::ready::{Interest, Ready};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAKE_TOKEN: u64 = 0;
const EVENTS_PER_TURN: usize = 1024;

pub(crate) struct Epoll {
    epfd: OwnedFd,
    wake: Option<OwnedFd>,
    /// Registrations in the set (`registrations.live.len()`), readable
    /// without the lock.
    live_count: std::sync::atomic::AtomicUsize,
    turn: Mutex<Vec<libc::epoll_event>>,
    registrations: Mutex<Registrations>,
    /// Whether `epoll_pwait2` (nanosecond timeouts) is available.
    pwait2: std::sync::atomic::AtomicBool,
    /// `epoll_ctl` calls and events dispatched, for metrics.
    pub(crate) counts: super::IoCounters,
}

#[derive(Default)]
struct Registrations {
    live: HashMap<usize, Arc<ScheduledIo>>,
    pending_release: Vec<Arc<ScheduledIo>>,
    is_shutdown: bool,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub(crate) fn new_eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the returned descriptor is owned by us.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds 1 to an eventfd (wakes whoever waits on it).
pub(crate) fn write_eventfd(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd we own. EAGAIN
    // (the counter is saturated) still leaves it readable: nothing to do.
    let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Resets an eventfd's counter.
pub(crate) fn drain_eventfd(fd: RawFd) {
    let mut buf: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64; the fd is non-blocking.
    let _ = unsafe { libc::read(fd, (&mut buf as *mut u64).cast(), 8) };
}

impl Epoll {
    /// The epoll backend's instance, with its wake eventfd.
    pub(crate) fn new() -> io::Result<Epoll> {
        let ep = Epoll::without_wake()?;
        let wake = new_eventfd()?;
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: both descriptors are live; `ev` outlives the call.
        cvt(unsafe {
            libc::epoll_ctl(
                ep.epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                wake.as_raw_fd(),
                &mut ev,
            )
        })?;
        Ok(Epoll {
            wake: Some(wake),
            ..ep
        })
    }

    /// An instance without a wake eventfd: an io_uring ring's readiness
    /// set, which the ring watches with a poll (its owner is woken through
    /// the ring).
    pub(crate) fn without_wake() -> io::Result<Epoll> {
        // SAFETY: plain syscall.
        let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fresh descriptor.
        let epfd = unsafe { OwnedFd::from_raw_fd(epfd) };
        Ok(Epoll {
            epfd,
            wake: None,
            live_count: std::sync::atomic::AtomicUsize::new(0),
            turn: Mutex::new(Vec::with_capacity(EVENTS_PER_TURN)),
            registrations: Mutex::new(Registrations::default()),
            pwait2: std::sync::atomic::AtomicBool::new(true),
            counts: super::IoCounters::default(),
        })
    }

    /// The epoll descriptor (an io_uring ring polls it).
    pub(crate) fn fd(&self) -> RawFd {
        self.epfd.as_raw_fd()
    }

    /// Registrations in the set now.
    pub(crate) fn live_count(&self) -> usize {
        self.live_count.load(std::sync::atomic::Ordering::Acquire)
    }

    fn regs(&self) -> std::sync::MutexGuard<'_, Registrations> {
        self.registrations.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn register(&self, fd: RawFd, interest: Interest) -> io::Result<Arc<ScheduledIo>> {
        let sio = Arc::new(ScheduledIo::new(fd, interest));
        self.add(sio.clone())?;
        Ok(sio)
    }

    /// Adds `sio`'s descriptor to the set, edge-triggered, for the events
    /// of its interest. A descriptor that is ready now is reported by the
    /// next turn. Returns how many registrations the set held before.
    pub(crate) fn add(&self, sio: Arc<ScheduledIo>) -> io::Result<usize> {
        let key = Arc::as_ptr(&sio) as usize;
        let mut regs = self.regs();
        if regs.is_shutdown {
            return Err(super::scheduled_io::shutdown_error());
        }
        let mut ev = libc::epoll_event {
            events: sio.poll_mask | libc::EPOLLET as u32,
            u64: key as u64,
        };
        // `sio.fd` is the registering caller's live descriptor.
        // SAFETY: `epfd` is live; `ev` outlives the call; the fd is live.
        cvt(unsafe {
            libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, sio.fd, &mut ev)
        })?;
        self.counts.submitted(1);
        let before = regs.live.len();
        regs.live.insert(key, sio);
        self.live_count
            .store(regs.live.len(), std::sync::atomic::Ordering::Release);
        Ok(before)
    }

    pub(crate) fn deregister(&self, fd: RawFd, sio: &Arc<ScheduledIo>) -> io::Result<()> {
        let key = Arc::as_ptr(sio) as usize;
        let mut regs = self.regs();
        let Some(sio) = regs.live.remove(&key) else {
            return Ok(()); // shut down already
        };
        self.live_count
            .store(regs.live.len(), std::sync::atomic::Ordering::Release);
        // SAFETY: `epfd` is live; a null event is allowed for DEL.
        let res = cvt(unsafe {
            libc::epoll_ctl(
                self.epfd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        });
        self.counts.submitted(1);
        regs.pending_release.push(sio);
        res.map(drop)
    }

    /// Ends a turn in progress (or the next one) at once.
    pub(crate) fn wake(&self) {
        if let Some(wake) = &self.wake {
            write_eventfd(wake.as_raw_fd());
        }
    }

    /// Waits up to `timeout` (`None`: until an event or `wake`) and
    /// dispatches the events. Returns false without waiting if another
    /// thread is running a turn.
    pub(crate) fn turn(&self, timeout: Option<Duration>) -> bool {
        self.turn_counted(timeout).is_some()
    }

    /// `turn`, returning how many events it dispatched (`None`: another
    /// thread is running a turn). A count of `EVENTS_PER_TURN` means more
    /// may be waiting.
    pub(crate) fn turn_counted(&self, timeout: Option<Duration>) -> Option<usize> {
        let Ok(mut events) = self.turn.try_lock() else {
            return None;
        };
        {
            let mut regs = self.regs();
            if regs.is_shutdown {
                // Entries of a shut-down driver stay in the epoll set: no
                // turn may dispatch them any more.
                return Some(0);
            }
            drop(std::mem::take(&mut regs.pending_release));
        }
        events.clear();
        let n = self.wait(&mut events, timeout);
        self.counts.completed(n);
        for ev in events.iter().take(n) {
            let token = ev.u64;
            if token == WAKE_TOKEN {
                if let Some(wake) = &self.wake {
                    drain_eventfd(wake.as_raw_fd());
                }
                continue;
            }
            // SAFETY: a token other than WAKE_TOKEN is the pointer of an
            // `Arc<ScheduledIo>` that `live` or `pending_release` keeps
            // alive: removal from `live` puts it in `pending_release`, which
            // is only emptied at the start of a turn, under the turn lock
            // we hold.
            let sio = unsafe { &*(token as usize as *const ScheduledIo) };
            sio.set_readiness(Ready::from_poll_events(ev.events));
        }
        Some(n)
    }

    /// Releases the deregistered resources no turn can still be looking at
    /// (as the start of a turn does), unless a turn is running.
    pub(crate) fn release_pending(&self) {
        let Ok(_turn) = self.turn.try_lock() else {
            return;
        };
        let pending = std::mem::take(&mut self.regs().pending_release);
        drop(pending);
    }

    /// Whether a turn that dispatched `n` events may have left some.
    pub(crate) fn maybe_more(n: usize) -> bool {
        n >= EVENTS_PER_TURN
    }

    fn wait(&self, events: &mut Vec<libc::epoll_event>, timeout: Option<Duration>) -> usize {
        let cap = events.capacity().min(EVENTS_PER_TURN);
        use std::sync::atomic::Ordering::Relaxed;
        let n = if self.pwait2.load(Relaxed) {
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: t.subsec_nanos() as libc::c_long,
            });
            let ts_ptr = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: the buffer has room for `cap` events; `ts_ptr` is null
            // or points at a live timespec; no signal mask.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.epfd.as_raw_fd(),
                    events.as_mut_ptr(),
                    cap as libc::c_int,
                    ts_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            };
            if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                self.pwait2.store(false, Relaxed);
                return self.wait(events, timeout);
            }
            r as libc::c_int
        } else {
            // Milliseconds, rounded up: a timer never fires early.
            let ms = timeout.map_or(-1, |t| {
                let ms = t.as_nanos().div_ceil(1_000_000);
                ms.min(i32::MAX as u128) as libc::c_int
            });
            // SAFETY: the buffer has room for `cap` events.
            unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), events.as_mut_ptr(), cap as _, ms) }
        };
        if n <= 0 {
            // EINTR or a timeout: the caller re-checks everything.
            return 0;
        }
        // SAFETY: the kernel initialised the first `n` entries.
        unsafe { events.set_len(n as usize) };
        n as usize
    }

    /// Every registered resource's waits end with an error; new
    /// registrations are refused.
    pub(crate) fn shutdown(&self) {
        let live: Vec<_> = {
            let mut regs = self.regs();
            regs.is_shutdown = true;
            self.live_count
                .store(0, std::sync::atomic::Ordering::Release);
            regs.live.drain().map(|(_, s)| s).collect()
        };
        for sio in &live {
            sio.shutdown();
        }
        self.regs().pending_release.extend(live);
    }
}
