//! The task's state word: lifecycle bits and the reference count, packed in
//! one `AtomicUsize` so every transition is a single CAS or RMW.
//!
//! Every transition returns a `#[must_use]` value: dropping an outcome on the
//! floor (a missed re-schedule, a missed deallocation) is the bug class this
//! file exists to prevent.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;

/// The task is being polled (or cancelled) by exactly one thread. Holding this
/// bit is what grants access to the future / output stage.
const RUNNING: usize = 1 << 0;

/// The future has completed or been cancelled; the stage holds the output
/// (or has been consumed). Never unset once set.
const COMPLETE: usize = 1 << 1;

/// A `Notified` for this task exists (in a queue, or about to be); also set
/// while RUNNING to mean "poll again after this poll".
const NOTIFIED: usize = 1 << 2;

/// The `JoinHandle` is alive and will read the output.
const JOIN_INTEREST: usize = 1 << 3;

/// The trailer holds a join waker that the completing thread must wake.
/// While set, only the task side may read the waker; while unset (and not
/// complete) only the `JoinHandle` may write it.
const JOIN_WAKER: usize = 1 << 4;

/// The task was aborted or the runtime is shutting down: the next thread that
/// gets RUNNING drops the future instead of polling it.
const CANCELLED: usize = 1 << 5;

/// The watchdog already reported a long poll of this task; report once.
const LONG_POLL_REPORTED: usize = 1 << 6;

const STATE_MASK: usize = (1 << REF_SHIFT) - 1;
const REF_SHIFT: usize = 8;
const REF_ONE: usize = 1 << REF_SHIFT;

/// A new task: three references (the owned list, the first `Notified`, the
/// `JoinHandle`), join interest, and notified (it is about to be queued).
const INITIAL: usize = (REF_ONE * 3) | JOIN_INTEREST | NOTIFIED;

pub(crate) struct State {
    val: AtomicUsize,
}

/// A copy of the state word.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

#[must_use]
pub(crate) enum TransitionToRunning {
    /// Poll the future.
    Success,
    /// The task was cancelled while queued: drop the future instead.
    Cancelled,
    /// Someone else is running it or it completed; our reference was released.
    Failed,
    /// As `Failed`, and ours was the last reference.
    Dealloc,
}

#[must_use]
pub(crate) enum TransitionToIdle {
    /// Idle; the poller's reference was released.
    Ok,
    /// Woken during the poll: the poller's reference now belongs to a new
    /// `Notified` that must be scheduled.
    OkNotified,
    /// Idle, and the poller's reference was the last one.
    OkDealloc,
    /// Aborted during the poll: still RUNNING, cancel the task.
    Cancelled,
}

#[must_use]
pub(crate) enum TransitionToNotifiedByVal {
    /// Nothing to schedule; the waker's reference was released.
    DoNothing,
    /// Schedule a `Notified` that takes over the waker's reference.
    Submit,
    /// The waker's reference was the last: deallocate.
    Dealloc,
}

#[must_use]
pub(crate) enum TransitionToNotifiedByRef {
    DoNothing,
    /// Schedule a `Notified`; a reference was added for it.
    Submit,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            val: AtomicUsize::new(INITIAL),
        }
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    /// Runs `f` in a CAS loop; `f` returns the outcome and the next state
    /// (`None` leaves the word untouched).
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut curr = self.load();
        loop {
            let (out, next) = f(curr);
            let Some(next) = next else { return out };
            match self.val.compare_exchange(curr.0, next.0, AcqRel, Acquire) {
                Ok(_) => return out,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    fn fetch_update(
        &self,
        mut f: impl FnMut(Snapshot) -> Option<Snapshot>,
    ) -> Result<Snapshot, Snapshot> {
        let mut curr = self.load();
        loop {
            let Some(next) = f(curr) else {
                return Err(curr);
            };
            match self.val.compare_exchange(curr.0, next.0, AcqRel, Acquire) {
                Ok(_) => return Ok(next),
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// A `Notified` is being run: take RUNNING. The `Notified`'s reference
    /// becomes the poller's reference on success, and is released otherwise.
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_notified());
            if !s.is_idle() {
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToRunning::Dealloc
                } else {
                    TransitionToRunning::Failed
                };
                return (action, Some(s));
            }
            s.0 |= RUNNING;
            s.0 &= !NOTIFIED;
            let action = if s.is_cancelled() {
                TransitionToRunning::Cancelled
            } else {
                TransitionToRunning::Success
            };
            (action, Some(s))
        })
    }

    /// The poll returned `Pending`: give up RUNNING.
    pub(crate) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update_action(|curr| {
            debug_assert!(curr.is_running());
            if curr.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            let mut next = curr;
            next.0 &= !RUNNING;
            let action = if next.is_notified() {
                // The poller's reference moves into the new `Notified`.
                TransitionToIdle::OkNotified
            } else {
                next.ref_dec();
                if next.ref_count() == 0 {
                    TransitionToIdle::OkDealloc
                } else {
                    TransitionToIdle::Ok
                }
            };
            (action, Some(next))
        })
    }

    /// RUNNING → COMPLETE. Returns the state just before.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.val.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is_running());
        debug_assert!(!prev.is_complete());
        prev
    }

    /// Releases `count` references after completion; true if they were the last.
    pub(crate) fn transition_to_terminal(&self, count: usize) -> bool {
        let prev = Snapshot(self.val.fetch_sub(count * REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= count, "task reference count underflow");
        prev.ref_count() == count
    }

    /// A waker is consumed by `wake()`; it owned one reference.
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotifiedByVal {
        self.fetch_update_action(|mut s| {
            if s.is_running() {
                // The poller reschedules after the poll; drop the waker's ref.
                s.0 |= NOTIFIED;
                s.ref_dec();
                debug_assert!(s.ref_count() > 0);
                (TransitionToNotifiedByVal::DoNothing, Some(s))
            } else if s.is_complete() || s.is_notified() {
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToNotifiedByVal::Dealloc
                } else {
                    TransitionToNotifiedByVal::DoNothing
                };
                (action, Some(s))
            } else {
                s.0 |= NOTIFIED;
                (TransitionToNotifiedByVal::Submit, Some(s))
            }
        })
    }

    /// `wake_by_ref()`: the waker keeps its reference.
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotifiedByRef {
        self.fetch_update_action(|mut s| {
            if s.is_complete() || s.is_notified() {
                // Write the unchanged word back: the CAS is a release that
                // orders this waker's writes before the poll which consumes
                // NOTIFIED. Returning without a store loses the wake (the
                // poll may not see the data it was woken for; tokio#7589).
                (TransitionToNotifiedByRef::DoNothing, Some(s))
            } else if s.is_running() {
                s.0 |= NOTIFIED;
                (TransitionToNotifiedByRef::DoNothing, Some(s))
            } else {
                s.0 |= NOTIFIED;
                s.ref_inc();
                (TransitionToNotifiedByRef::Submit, Some(s))
            }
        })
    }

    /// `abort()`: mark cancelled; returns true if the caller must schedule a
    /// `Notified` (a reference was added for it) so a worker cancels the task.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.fetch_update_action(|mut s| {
            if s.is_cancelled() || s.is_complete() {
                (false, None)
            } else if s.is_running() || s.is_notified() {
                // The poller (or the queued `Notified`) sees CANCELLED.
                s.0 |= NOTIFIED | CANCELLED;
                (false, Some(s))
            } else {
                s.0 |= NOTIFIED | CANCELLED;
                s.ref_inc();
                (true, Some(s))
            }
        })
    }

    /// Runtime shutdown: mark cancelled and, if the task is idle, take RUNNING
    /// so the caller cancels it now. Returns true if RUNNING was taken.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        let mut taken = false;
        let _ = self.fetch_update(|mut s| {
            taken = s.is_idle();
            if taken {
                s.0 |= RUNNING;
            }
            s.0 |= CANCELLED;
            Some(s)
        });
        taken
    }

    /// `JoinHandle::drop`: clear JOIN_INTEREST (and JOIN_WAKER, handing the
    /// waker back to the handle so it can drop it now rather than keep another
    /// task alive) unless the task completed — then the handle must drop the
    /// output itself. Returns the state before the change.
    pub(crate) fn unset_join_interested(&self) -> Result<Snapshot, Snapshot> {
        let mut prev = self.load();
        self.fetch_update(|mut s| {
            debug_assert!(s.is_join_interested());
            prev = s;
            if s.is_complete() {
                return None;
            }
            s.0 &= !(JOIN_INTEREST | JOIN_WAKER);
            Some(s)
        })
        .map(|_| prev)
    }

    /// Publishes the join waker the handle just wrote. Fails if the task
    /// completed meanwhile (then the output is ready).
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|mut s| {
            debug_assert!(s.is_join_interested());
            debug_assert!(!s.is_join_waker_set());
            if s.is_complete() {
                return None;
            }
            s.0 |= JOIN_WAKER;
            Some(s)
        })
    }

    /// Takes the join waker back so the handle can replace it. Fails if the
    /// task completed (the task side may be reading the waker).
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|mut s| {
            debug_assert!(s.is_join_waker_set());
            if s.is_complete() {
                return None;
            }
            s.0 &= !JOIN_WAKER;
            Some(s)
        })
    }

    /// Marks the watchdog report as done; true if this call did it.
    pub(crate) fn set_long_poll_reported(&self) -> bool {
        self.val.fetch_or(LONG_POLL_REPORTED, Relaxed) & LONG_POLL_REPORTED == 0
    }

    pub(crate) fn ref_inc(&self) {
        // Relaxed, as `Arc::clone`: a new reference is made from an existing one.
        let prev = self.val.fetch_add(REF_ONE, Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Returns true if this was the last reference.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.val.fetch_sub(REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= 1, "task reference count underflow");
        prev.ref_count() == 1
    }
}

impl Snapshot {
    pub(crate) fn is_idle(self) -> bool {
        self.0 & (RUNNING | COMPLETE) == 0
    }
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    fn ref_inc(&mut self) {
        self.0 += REF_ONE;
    }
    fn ref_dec(&mut self) {
        debug_assert!(self.ref_count() > 0);
        self.0 -= REF_ONE;
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interested", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .field("bits", &(self.0 & STATE_MASK))
            .finish()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}
