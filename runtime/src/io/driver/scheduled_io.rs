//! `ScheduledIo`: the readiness of one registered resource and the tasks
//! waiting on it. Both backends feed it the same way (`set_readiness` from
//! an epoll event or an io_uring poll completion); tasks read it the same way.
//!
//! # Protocol
//!
//! `readiness` packs the ready bits (low 8 bits), a SHUTDOWN bit, and a
//! 16-bit tick that every `set_readiness` increments. A task that saw
//! readiness and then got `WouldBlock` clears only the bits it saw, and only
//! if the tick is unchanged (`clear_readiness`): readiness that arrived after
//! the task looked is never thrown away.
//!
//! A waiting task stores its waker under `waiters` and then re-reads
//! `readiness`; `set_readiness` publishes the bits first and then takes
//! `waiters` to wake. So either the task's re-read sees the new bits, or the
//! driver's wake finds the stored waker: no lost wakeup (loom:
//! `io::driver::tests::loom_readiness`).

use super::super::ready::{Interest, Ready};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use std::io;
use std::task::{Context, Poll, Waker};

const READY_BITS: usize = 0xff;
const SHUTDOWN: usize = 1 << 8;
const TICK_SHIFT: u32 = 16;
const TICK_MASK: usize = 0xffff << TICK_SHIFT;

/// Which of the two single-waiter slots a `poll_*_ready` call uses (tokio's
/// contract: only the task that polled last in a direction is woken).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    pub(crate) fn mask(self) -> Ready {
        match self {
            Direction::Read => Interest::READABLE.mask() | Ready::ERROR,
            Direction::Write => Interest::WRITABLE.mask() | Ready::ERROR,
        }
    }
}

/// Readiness seen by a task, with the tick it was seen at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    pub(crate) tick: u16,
    pub(crate) ready: Ready,
}

pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
    /// The descriptor and the `poll(2)` mask it was registered with (the
    /// io_uring backend adds it to a ring's epoll set lazily, with them).
    pub(crate) fd: std::os::fd::RawFd,
    pub(crate) poll_mask: u32,
    /// Set once, when the owner deregisters.
    pub(crate) deregistered: crate::loom::sync::atomic::AtomicBool,
    /// io_uring: the ring whose epoll set watches the resource (`NOT_ARMED`
    /// until the first wait: it is added lazily, to the set of the worker
    /// that first waits, so connections spread over the rings of the
    /// workers that serve them).
    pub(crate) ring: AtomicUsize,
}

/// `ScheduledIo::ring` before the resource is added to a ring's epoll set.
pub(crate) const NOT_ARMED: usize = usize::MAX;

#[derive(Default)]
struct Waiters {
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// `readiness(interest)` futures: (id, interest, waker).
    others: Vec<(u64, Interest, Waker)>,
    next_id: u64,
}

impl ScheduledIo {
    pub(crate) fn new(fd: std::os::fd::RawFd, interest: Interest) -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
            fd,
            poll_mask: interest.to_poll_events(),
            deregistered: crate::loom::sync::atomic::AtomicBool::new(false),
            ring: AtomicUsize::new(NOT_ARMED),
        }
    }
}

fn lock(m: &Mutex<Waiters>) -> crate::loom::sync::MutexGuard<'_, Waiters> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ScheduledIo {
    fn event(curr: usize, mask: Ready) -> ReadyEvent {
        ReadyEvent {
            tick: ((curr & TICK_MASK) >> TICK_SHIFT) as u16,
            ready: Ready::from_bits((curr & READY_BITS) as u8) & mask,
        }
    }

    /// Adds readiness bits (from the driver) and wakes the tasks they satisfy.
    pub(crate) fn set_readiness(&self, ready: Ready) {
        let mut curr = self.readiness.load(Acquire);
        loop {
            let tick = ((curr & TICK_MASK) >> TICK_SHIFT).wrapping_add(1) & 0xffff;
            let next =
                (tick << TICK_SHIFT) | (curr & (READY_BITS | SHUTDOWN)) | ready.bits() as usize;
            match self
                .readiness
                .compare_exchange_weak(curr, next, AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(actual) => curr = actual,
            }
        }
        // Only bits that were clear can end a wait: a task that stored its
        // waker while a bit was set saw the bit on its re-check under the
        // lock and did not wait.
        let new = ready - Ready::from_bits((curr & READY_BITS) as u8);
        if !new.is_empty() {
            self.wake(new);
        }
    }

    /// Clears the bits a task saw, unless new readiness arrived since.
    /// The closed bits stay: a closed direction never reopens.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.ready - Ready::READ_CLOSED - Ready::WRITE_CLOSED;
        let mut curr = self.readiness.load(Acquire);
        loop {
            if ((curr & TICK_MASK) >> TICK_SHIFT) as u16 != event.tick {
                return;
            }
            let next = curr & !(clear.bits() as usize);
            if next == curr {
                return;
            }
            match self
                .readiness
                .compare_exchange_weak(curr, next, AcqRel, Acquire)
            {
                Ok(_) => return,
                Err(actual) => curr = actual,
            }
        }
    }

    /// The driver is gone: every wait ends with an error.
    pub(crate) fn shutdown(&self) {
        self.readiness.fetch_or(SHUTDOWN, AcqRel);
        self.wake(Ready::ALL);
    }

    fn wake(&self, ready: Ready) {
        // The reader's and writer's wakers travel in locals and `others`
        // only when it has waiters (`Vec::new` does not allocate): a
        // `Vec` for every wake cost a malloc and a free per event, ~200
        // instructions per echo request (benches/io_instructions.sh).
        let (reader, writer, others) = {
            let mut w = lock(&self.waiters);
            let reader = if (ready & Direction::Read.mask()).is_empty() {
                None
            } else {
                w.reader.take()
            };
            let writer = if (ready & Direction::Write.mask()).is_empty() {
                None
            } else {
                w.writer.take()
            };
            let mut others: Vec<Waker> = Vec::new();
            let mut i = 0;
            while i < w.others.len() {
                if !(ready & w.others[i].1.mask()).is_empty() || ready == Ready::ALL {
                    others.push(w.others.swap_remove(i).2);
                } else {
                    i += 1;
                }
            }
            (reader, writer, others)
        };
        // Woken outside the lock, reader first, as before.
        if let Some(r) = reader {
            r.wake();
        }
        if let Some(wr) = writer {
            wr.wake();
        }
        for w in others {
            w.wake();
        }
    }

    /// The readiness in `mask` now, without registering a waker.
    pub(crate) fn ready_now(&self, mask: Ready) -> io::Result<ReadyEvent> {
        let curr = self.readiness.load(Acquire);
        if curr & SHUTDOWN != 0 {
            return Err(shutdown_error());
        }
        Ok(Self::event(curr, mask))
    }

    /// Ready in `direction`, or `Pending` with the task's waker stored.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        let mask = direction.mask();
        let ev = self.ready_now(mask)?;
        if !ev.ready.is_empty() {
            return Poll::Ready(Ok(ev));
        }
        let mut w = lock(&self.waiters);
        let slot = match direction {
            Direction::Read => &mut w.reader,
            Direction::Write => &mut w.writer,
        };
        match slot {
            Some(old) if old.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        // Re-read under the lock: readiness set before we stored the waker
        // is seen here; readiness set after finds the waker.
        let ev = self.ready_now(mask)?;
        drop(w);
        if ev.ready.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(ev))
        }
    }

    /// `poll_ready` for an arbitrary interest, for several concurrent
    /// waiters (`readable()`, `writable()`, `ready()`): `id` names this
    /// waiter's entry (0: none yet).
    pub(crate) fn poll_interest(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        id: &mut u64,
    ) -> Poll<io::Result<ReadyEvent>> {
        let mask = interest.mask();
        let ev = self.ready_now(mask)?;
        if !ev.ready.is_empty() {
            self.forget(id);
            return Poll::Ready(Ok(ev));
        }
        let mut w = lock(&self.waiters);
        match w.others.iter_mut().find(|e| e.0 == *id && *id != 0) {
            Some(entry) => {
                if !entry.2.will_wake(cx.waker()) {
                    entry.2 = cx.waker().clone();
                }
            }
            None => {
                w.next_id += 1;
                *id = w.next_id;
                let waker = cx.waker().clone();
                w.others.push((*id, interest, waker));
            }
        }
        let ev = self.ready_now(mask)?;
        drop(w);
        if ev.ready.is_empty() {
            Poll::Pending
        } else {
            self.forget(id);
            Poll::Ready(Ok(ev))
        }
    }

    /// Removes the waiter entry `id` (a dropped or finished readiness future).
    pub(crate) fn forget(&self, id: &mut u64) {
        if *id == 0 {
            return;
        }
        let mut w = lock(&self.waiters);
        if let Some(i) = w.others.iter().position(|e| e.0 == *id) {
            w.others.swap_remove(i);
        }
        *id = 0;
    }
}

pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other(
        "the perf_runtime runtime that this I/O resource is registered with has shut down; \
         create the resource again inside a running runtime",
    )
}
