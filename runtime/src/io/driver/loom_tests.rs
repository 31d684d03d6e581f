//! Loom models of the driver's cross-thread protocols:
//!
//! - a parker parked in the driver (`Parker::park_in_driver`) is never left
//!   asleep by an unpark — whether the unpark lands before the state change,
//!   between it and the kernel wait, or during the wait. The kernel wait is
//!   modelled as an eventfd: a counter behind a mutex and condvar that the
//!   driver wake increments and the wait consumes.
//! - a task waiting for readiness (`ScheduledIo::poll_ready`) is never left
//!   without a wake when the driver sets readiness concurrently.
//! - a ring's owner asleep on its futex because its ring was quiet is
//!   brought back to wait in the ring when another thread adds the first
//!   resource to the ring's epoll set.

use super::scheduled_io::{Direction, ScheduledIo};
use crate::io::ready::{Interest, Ready};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Condvar, Mutex};
use crate::scheduler::park::Parker;
use loom::thread;
use std::task::{Context, Poll, Wake, Waker};

/// An eventfd stand-in: `write` makes the next `wait` return.
struct FakeEventFd {
    count: Mutex<u64>,
    cv: Condvar,
}

impl FakeEventFd {
    fn new() -> Arc<FakeEventFd> {
        Arc::new(FakeEventFd {
            count: Mutex::new(0),
            cv: Condvar::new(),
        })
    }

    fn write(&self) {
        *self.count.lock().unwrap() += 1;
        self.cv.notify_one();
    }

    /// Blocks until the counter is non-zero, then resets it (a zero timeout
    /// only drains).
    fn wait(&self, block: bool) {
        let mut c = self.count.lock().unwrap();
        while block && *c == 0 {
            c = self.cv.wait(c).unwrap();
        }
        *c = 0;
    }
}

#[test]
fn loom_unpark_reaches_a_parker_in_the_driver() {
    loom::model(|| {
        let efd = FakeEventFd::new();
        let parker = Parker::new();
        let e2 = efd.clone();
        parker.set_driver_wake(Box::new(move || e2.write()));
        let unparker = parker.unparker();
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let t = thread::spawn(move || {
            f2.store(true, Relaxed);
            unparker.unpark();
        });
        // Park until the flag is seen: each park ends only through the
        // unpark (no timeout), so a lost unpark deadlocks the model.
        while !flag.load(Relaxed) {
            parker.park_in_driver(None, |t| efd.wait(t != Some(std::time::Duration::ZERO)));
        }
        t.join().unwrap();
    });
}

#[test]
fn loom_two_unparks_and_two_parks_in_the_driver() {
    loom::model(|| {
        let efd = FakeEventFd::new();
        let parker = Parker::new();
        let e2 = efd.clone();
        parker.set_driver_wake(Box::new(move || e2.write()));
        let unparker = parker.unparker();
        let rounds = Arc::new(AtomicUsize::new(0));
        let r2 = rounds.clone();
        let t = thread::spawn(move || {
            for _ in 0..2 {
                r2.fetch_add(1, Relaxed);
                unparker.unpark();
            }
        });
        while rounds.load(Relaxed) < 2 {
            parker.park_in_driver(None, |t| efd.wait(t != Some(std::time::Duration::ZERO)));
        }
        t.join().unwrap();
    });
}

struct FlagWaker(AtomicBool);

impl Wake for FlagWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

/// A task waits to read on `sio` while `setter` (another thread) sets
/// readiness: either the task sees it at once, or the set wakes it. Returns
/// the task's context, for a further poll.
fn wait_for_read_while(sio: &ScheduledIo, setter: thread::JoinHandle<()>) -> Waker {
    let flag = std::sync::Arc::new(FlagWaker(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let first = sio.poll_ready(&mut Context::from_waker(&waker), Direction::Read);
    setter.join().unwrap();
    if first.is_pending() {
        assert!(flag.0.load(SeqCst), "readiness set but the waiter sleeps");
    }
    waker
}

#[test]
fn loom_readiness_set_while_a_task_registers() {
    loom::model(|| {
        let sio = Arc::new(ScheduledIo::new(-1, Interest::READABLE));
        let s2 = sio.clone();
        let t = thread::spawn(move || {
            s2.set_readiness(Ready::READABLE);
        });
        let waker = wait_for_read_while(&sio, t);
        // Either way the readiness is visible now.
        match sio.poll_ready(&mut Context::from_waker(&waker), Direction::Read) {
            Poll::Ready(Ok(ev)) => assert!(ev.ready.is_readable()),
            other => panic!("readiness lost: {other:?}"),
        }
    });
}

/// A completion for a bit that is already set wakes nobody (nobody can be
/// waiting for it); one that lands between a task's clear and its
/// registration must still end the wait.
#[test]
fn loom_a_repeated_event_still_reaches_a_task_that_cleared() {
    loom::model(|| {
        let sio = Arc::new(ScheduledIo::new(-1, Interest::READABLE));
        sio.set_readiness(Ready::READABLE);
        let seen = sio.ready_now(Direction::Read.mask()).unwrap();
        let s2 = sio.clone();
        let t = thread::spawn(move || {
            s2.set_readiness(Ready::READABLE);
        });
        // The task's read returned WouldBlock: it clears, then waits.
        sio.clear_readiness(seen);
        wait_for_read_while(&sio, t);
    });
}

#[test]
fn loom_clear_never_discards_newer_readiness() {
    loom::model(|| {
        let sio = Arc::new(ScheduledIo::new(-1, Interest::READABLE));
        sio.set_readiness(Ready::READABLE);
        let seen = sio.ready_now(Direction::Read.mask()).unwrap();
        let s2 = sio.clone();
        let t = thread::spawn(move || {
            // New data arrives while the task's read returns WouldBlock.
            s2.set_readiness(Ready::READABLE);
        });
        sio.clear_readiness(seen);
        t.join().unwrap();
        // The second event came after the task looked: it must survive
        // whichever order the clear and the set ran in, unless the clear
        // ran first (then the set re-raised it).
        assert!(sio
            .ready_now(Direction::Read.mask())
            .unwrap()
            .ready
            .is_readable());
    });
}

/// The ring owner's loop, reduced to the inbox and the park: take commands;
/// if none, park in the driver. A sender on another thread pushes a command
/// and unparks. The owner must end up with the command (a lost one leaves
/// it parked forever: loom reports the deadlock).
#[test]
fn loom_inbox_command_reaches_a_parked_owner() {
    use super::inbox::Inbox;
    loom::model(|| {
        let efd = FakeEventFd::new();
        let parker = Parker::new();
        let e2 = efd.clone();
        parker.set_driver_wake(Box::new(move || e2.write()));
        let unparker = parker.unparker();
        let inbox = Arc::new(Inbox::new());
        let senders: Vec<_> = (0..2)
            .map(|i| {
                let inbox = inbox.clone();
                let unparker = unparker.clone();
                thread::spawn(move || {
                    inbox.push(i);
                    unparker.unpark();
                })
            })
            .collect();
        let mut got = Vec::new();
        let mut buf = Vec::new();
        while got.len() < 2 {
            if inbox.take(&mut buf) {
                got.append(&mut buf);
                continue;
            }
            parker.park_in_driver(None, |t| efd.wait(t != Some(std::time::Duration::ZERO)));
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
        for s in senders {
            s.join().unwrap();
        }
    });
}

/// A quiet ring's owner sleeps on its futex (`Ring::is_quiet`: nothing in
/// flight, an empty epoll set); another thread adds the first resource to
/// the ring's epoll set and kicks the owner (`Uring::arm_if_needed`). The
/// owner must come back and wait in the ring, where the resource's
/// readiness arrives; a lost kick leaves it on the futex forever (loom
/// reports the deadlock).
#[test]
fn loom_first_resource_brings_a_quiet_owner_back_to_its_ring() {
    loom::model(|| {
        let parker = Parker::new();
        let unparker = parker.unparker();
        let live = Arc::new(AtomicUsize::new(0));
        let l2 = live.clone();
        let adder = thread::spawn(move || {
            // `Epoll::add` publishes the count with Release under its lock.
            let before = l2.fetch_add(1, AcqRel);
            if before == 0 {
                unparker.unpark();
            }
        });
        // The owner's loop: park on the futex while quiet, else it would
        // wait in the ring (the end of the model).
        while live.load(Acquire) == 0 {
            parker.park(None);
        }
        adder.join().unwrap();
    });
}

/// Counts drops of the data an abandoned operation leaves with the driver.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A future dropped while its operation completes on the ring's thread:
/// the data is dropped exactly once, never before the completion, and the
/// future is told to cancel only if the completion had not come.
#[test]
fn loom_op_abandon_races_completion() {
    use super::op::{OpSlot, Produces};
    loom::model(|| {
        let slot = Arc::new(OpSlot::new(Produces::Nothing));
        let drops = Arc::new(AtomicUsize::new(0));
        let completed = Arc::new(AtomicBool::new(false));
        let ring = {
            let slot = slot.clone();
            let completed = completed.clone();
            thread::spawn(move || {
                completed.store(true, SeqCst);
                slot.complete(8, 0, false);
            })
        };
        let data = DropCount(drops.clone());
        let in_flight = slot.abandon(Some(Box::new(data)));
        if in_flight {
            // The ring still has to complete: the data must still be alive
            // unless the completion already ran after our abandon.
            ring.join().unwrap();
            assert_eq!(drops.load(SeqCst), 1, "the completion drops the kept data");
        } else {
            // The completion came first: abandon does not keep the data (it
            // was dropped by the caller's Box going out of scope here).
            assert!(completed.load(SeqCst));
            ring.join().unwrap();
            assert_eq!(drops.load(SeqCst), 1);
        }
    });
}

/// A multishot operation: results queued before the future is dropped are
/// delivered or released, and the final completion ends the stream.
#[test]
fn loom_multishot_results_and_end() {
    use super::op::{OpSlot, Produces};
    loom::model(|| {
        let slot = Arc::new(OpSlot::new_multi(Produces::Nothing));
        let ring = {
            let slot = slot.clone();
            thread::spawn(move || {
                slot.complete(1, 0, true);
                slot.complete(2, 0, false);
            })
        };
        let flag = std::sync::Arc::new(FlagWaker(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut seen = Vec::new();
        loop {
            match slot.poll_next(&mut cx) {
                Poll::Ready(Some(r)) => seen.push(r),
                Poll::Ready(None) => break,
                Poll::Pending => {
                    // Woken by the ring, or it is still to come.
                    thread::yield_now();
                }
            }
        }
        ring.join().unwrap();
        assert_eq!(seen, [1, 2]);
    });
}
