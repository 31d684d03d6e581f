//! The I/O driver: one interface, two backends chosen when the runtime is
//! built.
//!
//! - `uring` — io_uring, one ring per worker (see its module docs for the
//!   design that lets tasks migrate with operations in flight).
//! - `epoll` — one edge-triggered epoll instance per runtime.
//! - `probe` — which backend: `Builder::io_driver`, `PERF_RUNTIME_IO`, and
//!   a probe that builds a ring with the real size and flags and checks the
//!   opcodes; on any failure the runtime uses epoll and logs why, once.
//! - `scheduled_io` — the readiness of one resource and its waiters, fed the
//!   same way by both backends.
//!
//! A worker waits for I/O in one place only: its parker (`scheduler/park.rs`)
//! parks "in the driver" — its ring, or the shared epoll instance when it
//! holds the driver — and is unparked through the driver's eventfd.

pub(crate) mod epoll;
mod inbox;
pub(crate) mod op;
pub(crate) mod probe;
pub(crate) mod scheduled_io;
pub(crate) mod uring;

#[cfg(all(test, perf_runtime_loom))]
mod loom_tests;
#[cfg(all(test, not(perf_runtime_loom)))]
mod tests;

use crate::io::ready::Interest;
use scheduled_io::ScheduledIo;
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

/// Which I/O backend a runtime uses (`Handle::io_backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoBackend {
    /// io_uring, one ring per worker.
    Uring,
    /// epoll, one instance per runtime.
    Epoll,
}

impl fmt::Display for IoBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoBackend::Uring => "io_uring",
            IoBackend::Epoll => "epoll",
        })
    }
}

/// Which I/O backend to build (`runtime::Builder::io_driver`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IoDriver {
    /// io_uring when the kernel allows it, else epoll (the default; the
    /// `PERF_RUNTIME_IO` environment variable can force one).
    #[default]
    Auto,
    /// io_uring, or a build error that says why it cannot be used.
    Uring,
    /// epoll.
    Epoll,
}

/// The runtime's I/O driver (shared by every worker).
pub(crate) struct Driver {
    backend: Backend,
}

enum Backend {
    Epoll(epoll::Epoll),
    Uring(uring::Uring),
}

/// What the driver did, for metrics: on io_uring, submission-queue entries
/// the kernel consumed plus the `epoll_ctl` calls of the rings' readiness
/// sets, and completion-queue entries plus readiness events dispatched; on
/// epoll, `epoll_ctl` calls and readiness events dispatched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct IoCounts {
    pub(crate) submissions: u64,
    pub(crate) completions: u64,
}

/// The counters behind [`IoCounts`]. Each is written by the one thread that
/// drives a ring (or holds the epoll turn), once per batch, and read by
/// metrics with relaxed loads.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    submissions: std::sync::atomic::AtomicU64,
    completions: std::sync::atomic::AtomicU64,
}

impl IoCounters {
    pub(crate) fn submitted(&self, n: usize) {
        if n > 0 {
            self.submissions
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub(crate) fn completed(&self, n: usize) {
        if n > 0 {
            self.completions
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self) -> IoCounts {
        use std::sync::atomic::Ordering::Relaxed;
        IoCounts {
            submissions: self.submissions.load(Relaxed),
            completions: self.completions.load(Relaxed),
        }
    }
}

/// A registered resource.
pub(crate) struct Registered {
    pub(crate) sio: Arc<ScheduledIo>,
}

/// A core's part of the driver: its ring on io_uring, nothing on epoll.
pub(crate) struct LocalIo {
    ring: Option<RefCell<uring::Ring>>,
}

impl Driver {
    /// Builds the driver `choice` asks for, with `rings` rings on io_uring
    /// (one per core). Returns the driver and the cores' parts.
    pub(crate) fn new(choice: IoDriver, rings: usize) -> io::Result<(Arc<Driver>, Vec<LocalIo>)> {
        match probe::choose(choice)? {
            IoBackend::Uring => {
                let (shared, rings) = uring::Uring::new(rings)?;
                let locals = rings
                    .into_iter()
                    .map(|r| LocalIo {
                        ring: Some(RefCell::new(r)),
                    })
                    .collect();
                Ok((
                    Arc::new(Driver {
                        backend: Backend::Uring(shared),
                    }),
                    locals,
                ))
            }
            IoBackend::Epoll => {
                let ep = epoll::Epoll::new()?;
                let locals = (0..rings).map(|_| LocalIo { ring: None }).collect();
                Ok((
                    Arc::new(Driver {
                        backend: Backend::Epoll(ep),
                    }),
                    locals,
                ))
            }
        }
    }

    /// Submissions to the kernel and completions (or readiness events)
    /// dispatched, summed over the rings (see [`IoCounts`]).
    pub(crate) fn counts(&self) -> IoCounts {
        match &self.backend {
            Backend::Epoll(ep) => ep.counts.get(),
            Backend::Uring(u) => u.rings.iter().fold(IoCounts::default(), |a, r| {
                let c = r.all_counts();
                IoCounts {
                    submissions: a.submissions + c.submissions,
                    completions: a.completions + c.completions,
                }
            }),
        }
    }

    pub(crate) fn backend(&self) -> IoBackend {
        match self.backend {
            Backend::Epoll(_) => IoBackend::Epoll,
            Backend::Uring(_) => IoBackend::Uring,
        }
    }

    /// The callback that ends the wait of a parker parked in this driver
    /// through `local` (the core's ring, or the shared epoll instance).
    pub(crate) fn waker_for(self: &Arc<Driver>, local: &LocalIo) -> Box<dyn Fn() + Send + Sync> {
        match (&self.backend, &local.ring) {
            (Backend::Uring(_), Some(ring)) => {
                // Weak: the ring's own unpark callback holds the parker.
                let shared = Arc::downgrade(&ring.borrow().shared);
                Box::new(move || {
                    if let Some(s) = shared.upgrade() {
                        s.wake();
                    }
                })
            }
            _ => {
                let me = Arc::downgrade(self);
                Box::new(move || {
                    if let Some(d) = me.upgrade() {
                        if let Backend::Epoll(ep) = &d.backend {
                            ep.wake();
                        }
                    }
                })
            }
        }
    }

    /// Registers `fd` for `interest`; `local` is the calling core's part if
    /// the caller runs on one of this runtime's cores.
    pub(crate) fn register(&self, fd: RawFd, interest: Interest) -> io::Result<Registered> {
        match &self.backend {
            Backend::Epoll(ep) => Ok(Registered {
                sio: ep.register(fd, interest)?,
            }),
            Backend::Uring(u) => Ok(Registered {
                sio: u.register(fd, interest)?,
            }),
        }
    }

    /// A task is about to wait on `reg`: on io_uring, make sure it is in a
    /// ring's epoll set (the calling core's if it has one). A load when it
    /// is.
    #[inline]
    pub(crate) fn will_wait(
        &self,
        reg: &Registered,
        local: impl FnOnce(&mut dyn FnMut(Option<&LocalIo>)),
    ) {
        if let Backend::Uring(u) = &self.backend {
            if reg.sio.ring.load(std::sync::atomic::Ordering::Acquire) == scheduled_io::NOT_ARMED {
                local(&mut |l| {
                    let mut ring = l
                        .and_then(|l| l.ring.as_ref())
                        .and_then(|r| r.try_borrow_mut().ok());
                    u.arm_if_needed(&reg.sio, ring.as_deref_mut());
                });
            }
        }
    }

    /// Stops delivering readiness for `reg` (before its descriptor closes),
    /// from any thread.
    pub(crate) fn deregister(&self, reg: &Registered) -> io::Result<()> {
        match &self.backend {
            Backend::Epoll(ep) => {
                reg.sio
                    .deregistered
                    .store(true, std::sync::atomic::Ordering::Release);
                ep.deregister(reg.sio.fd, &reg.sio)
            }
            Backend::Uring(u) => u.deregister(&reg.sio),
        }
    }

    /// A busy core's turn, every `event_interval` ticks on epoll: dispatch
    /// what is ready without blocking. (A ring is checked every tick by
    /// `LocalIo::tick`.)
    pub(crate) fn poll_shared(&self) {
        if let Backend::Epoll(ep) = &self.backend {
            ep.turn(Some(Duration::ZERO));
        }
    }

    /// Whether a core that parks must wait in the driver to see its I/O:
    /// on epoll the core that holds the shared driver (`owns_driver`); on
    /// io_uring a core whose ring is not quiet (`Ring::is_quiet`). Any other
    /// core parks on its parker's futex, which an unpark ends with one futex
    /// wake instead of an eventfd write.
    pub(crate) fn parks_in_driver(&self, local: &LocalIo, owns_driver: bool) -> bool {
        match (&self.backend, &local.ring) {
            (Backend::Uring(_), Some(ring)) => {
                ring.try_borrow_mut().map_or(true, |mut r| !r.is_quiet())
            }
            (Backend::Uring(_), None) => false,
            (Backend::Epoll(_), _) => owns_driver,
        }
    }

    /// Waits in the driver (the core's ring, or the epoll instance) for up
    /// to `timeout`, and dispatches what arrived.
    pub(crate) fn wait(&self, local: &LocalIo, timeout: Option<Duration>) {
        match (&self.backend, &local.ring) {
            (Backend::Uring(_), Some(ring)) => match ring.try_borrow_mut() {
                Ok(mut r) => r.park(timeout),
                Err(_) => std::thread::yield_now(),
            },
            (Backend::Epoll(ep), _) => {
                if !ep.turn(timeout) {
                    // Another thread is in a (non-blocking) turn.
                    std::thread::yield_now();
                }
            }
            (Backend::Uring(_), None) => {}
        }
    }

    /// The driver's ring `index`, for wiring its owner's unparker.
    pub(crate) fn set_ring_unpark(&self, local: &LocalIo, f: Box<dyn Fn() + Send + Sync>) {
        if let Some(ring) = &local.ring {
            ring.borrow().shared.set_unpark(f);
        }
    }

    /// Submits an io_uring operation on the calling core's ring (or, from
    /// another thread, on a ring chosen round-robin through its inbox).
    /// Returns the ring's index, or `None` on the epoll backend.
    pub(crate) fn submit_op(
        &self,
        entry: io_uring::squeue::Entry,
        slot: Arc<op::OpSlot>,
        local: Option<&LocalIo>,
    ) -> Option<usize> {
        let Backend::Uring(u) = &self.backend else {
            return None;
        };
        let ring = local
            .and_then(|l| l.ring.as_ref())
            .and_then(|r| r.try_borrow_mut().ok());
        Some(match ring {
            Some(mut r) => {
                r.submit_op(entry, slot);
                r.shared.index
            }
            None => {
                let i = u.next_ring();
                u.rings[i].send(uring::Command::Submit(entry, slot));
                i
            }
        })
    }

    /// Cancels the operation `user_data` that lives on ring `ring`.
    pub(crate) fn cancel_op(&self, ring: usize, user_data: u64, local: Option<&LocalIo>) {
        let Backend::Uring(u) = &self.backend else {
            return;
        };
        if let Some(mut r) = local
            .and_then(|l| l.ring.as_ref())
            .and_then(|r| r.try_borrow_mut().ok())
            .filter(|r| r.shared.index == ring)
        {
            r.cancel_op(user_data);
            return;
        }
        u.rings[ring].send(uring::Command::Cancel(user_data));
    }

    /// Every registered resource's waits end with an error.
    pub(crate) fn shutdown(&self) {
        match &self.backend {
            Backend::Epoll(ep) => ep.shutdown(),
            Backend::Uring(u) => u.shutdown(),
        }
    }
}

impl LocalIo {
    /// A core without a driver part (I/O disabled).
    pub(crate) fn none() -> LocalIo {
        LocalIo { ring: None }
    }

    /// A busy core's check, every tick: dispatches completions already
    /// posted and submits what is queued. A few loads when idle.
    /// The core's queues ran dry: submits the ring's queued entries and
    /// dispatches what completed (a worker about to steal or park).
    pub(crate) fn flush(&self) {
        if let Some(ring) = &self.ring {
            if let Ok(mut r) = ring.try_borrow_mut() {
                r.flush();
            }
        }
    }

    /// `now`: the worker's clock reading at this tick, if it took one (ns
    /// on a timeline of the worker's own; see `Ring::harvest_due`).
    #[inline]
    pub(crate) fn tick(&self, now: Option<u64>) {
        if let Some(ring) = &self.ring {
            if let Ok(mut r) = ring.try_borrow_mut() {
                if r.has_work(now) {
                    r.poll();
                }
            }
        }
    }

    /// Whether this core's ring wants a clock reading at the ticks (it has
    /// resources to harvest every `HARVEST_PERIOD`): one load.
    #[inline]
    pub(crate) fn wants_clock(&self) -> bool {
        self.ring
            .as_ref()
            .and_then(|r| r.try_borrow().ok().map(|r| r.wants_clock()))
            .unwrap_or(false)
    }
}
