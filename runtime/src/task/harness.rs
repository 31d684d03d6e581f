//! The type-aware half of the vtable: polling, completion, cancellation and
//! the join-handle protocol, for one concrete `Cell<F, S>`.
//!
//! Every function here is `unsafe` with the same contract: `ptr` points to the
//! header of a live `Cell<F, S>` whose concrete types are exactly `F` and `S`
//! (guaranteed because the functions are only reachable through that cell's
//! own vtable), and the caller owns the reference the function says it
//! consumes.

use super::core::{Cell, Header, Stage};
use super::raw::{Notified, Schedule, Task};
use super::state::{TransitionToIdle, TransitionToRunning};
use super::waker::waker_ref;
use super::JoinError;
use crate::runtime::context;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// # Safety
/// See the module docs.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: `Cell` is `repr(C)` with the header first; the caller guarantees
    // the concrete types.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Runs a `Notified`: consumes the queue's reference.
///
/// # Safety
/// See the module docs.
pub(super) unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: module contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.transition_to_running() {
        TransitionToRunning::Success => {
            // SAFETY: we hold RUNNING.
            let ready = unsafe { poll_future(cell, ptr) };
            if ready {
                // SAFETY: RUNNING is held and the poller's reference is ours.
                unsafe { complete::<F, S>(ptr, 1) };
                return;
            }
            match cell.header.state.transition_to_idle() {
                TransitionToIdle::Ok => {}
                TransitionToIdle::OkNotified => {
                    // SAFETY: the poller's reference moved into this Notified
                    // and NOTIFIED is set.
                    let notified = unsafe { Notified::from_raw(ptr) };
                    cell.core.scheduler.yield_now(notified);
                }
                // SAFETY: no reference is left.
                TransitionToIdle::OkDealloc => unsafe { dealloc::<F, S>(ptr) },
                TransitionToIdle::Cancelled => {
                    // SAFETY: RUNNING is still held.
                    unsafe {
                        cancel_task(cell);
                        complete::<F, S>(ptr, 1);
                    }
                }
            }
        }
        TransitionToRunning::Cancelled => {
            // SAFETY: RUNNING is held.
            unsafe {
                cancel_task(cell);
                complete::<F, S>(ptr, 1);
            }
        }
        TransitionToRunning::Failed => {}
        // SAFETY: no reference is left.
        TransitionToRunning::Dealloc => unsafe { dealloc::<F, S>(ptr) },
    }
}

/// Polls the future once, isolating a panic. Returns true if the stage now
/// holds the output.
///
/// # Safety
/// The caller holds RUNNING.
unsafe fn poll_future<F: Future, S: Schedule>(cell: &Cell<F, S>, ptr: NonNull<Header>) -> bool {
    let id = cell.header.id;
    // SAFETY: the waker reference borrows the poller's reference.
    let waker = unsafe { waker_ref(ptr) };
    let mut cx = Context::from_waker(&waker);
    let _task = context::enter_task(&cell.header);
    let res = catch_unwind(AssertUnwindSafe(|| {
        cell.core.stage.with_mut(|stage| {
            // SAFETY: RUNNING gives exclusive access to the stage; the future
            // is never moved once stored (the cell is heap-pinned).
            let stage = unsafe { &mut *stage };
            let Stage::Running(fut) = stage else {
                unreachable!("a task in the Running stage must hold its future")
            };
            // SAFETY: see above: the future lives in the task's allocation
            // until it is dropped in place.
            unsafe { Pin::new_unchecked(fut) }.poll(&mut cx)
        })
    }));
    let output = match res {
        Ok(Poll::Pending) => return false,
        Ok(Poll::Ready(out)) => Ok(out),
        Err(payload) => {
            // Drop the future (isolating a second panic from its destructor).
            // SAFETY: RUNNING is held.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
                set_stage(cell, Stage::Consumed)
            }));
            Err(JoinError::panic(id, payload))
        }
    };
    // Storing drops the future; a panic in its destructor becomes the result.
    // SAFETY: RUNNING is held.
    let stored = catch_unwind(AssertUnwindSafe(|| unsafe {
        set_stage(cell, Stage::Consumed)
    }));
    let output = match stored {
        Ok(()) => output,
        Err(payload) => Err(JoinError::panic(id, payload)),
    };
    // SAFETY: RUNNING is held; `Consumed` has no destructor to run.
    unsafe { set_stage(cell, Stage::Finished(output)) };
    true
}

/// # Safety
/// The caller has exclusive access to the stage.
unsafe fn set_stage<F: Future, S>(cell: &Cell<F, S>, stage: Stage<F>) {
    // SAFETY: forwarded to the caller.
    cell.core.stage.with_mut(|ptr| unsafe { *ptr = stage });
}

/// Drops the future and stores a cancellation error.
///
/// # Safety
/// The caller holds RUNNING.
unsafe fn cancel_task<F: Future, S>(cell: &Cell<F, S>) {
    let id = cell.header.id;
    // SAFETY: RUNNING is held.
    let res = catch_unwind(AssertUnwindSafe(|| unsafe {
        set_stage(cell, Stage::Consumed)
    }));
    let err = match res {
        Ok(()) => JoinError::cancelled(id),
        Err(payload) => JoinError::panic(id, payload),
    };
    // SAFETY: RUNNING is held.
    unsafe { set_stage(cell, Stage::Finished(Err(err))) };
}

/// RUNNING → COMPLETE, notify the join handle, leave the owned list and drop
/// `held` references (the poller's, or the shutdown walker's).
///
/// # Safety
/// The caller holds RUNNING and `held` references.
unsafe fn complete<F: Future, S: Schedule>(ptr: NonNull<Header>, held: usize) {
    // SAFETY: module contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    let snapshot = cell.header.state.transition_to_complete();
    // The output's destructor and the join waker are user code: isolate them.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !snapshot.is_join_interested() {
            // Nobody will read the output.
            // SAFETY: COMPLETE without JOIN_INTEREST: the stage is ours.
            unsafe { set_stage(cell, Stage::Consumed) };
        } else if snapshot.is_join_waker_set() {
            cell.trailer.join_waker.with(|w| {
                // SAFETY: JOIN_WAKER was set when we completed: the handle
                // no longer writes the waker.
                if let Some(w) = unsafe { &*w } {
                    w.wake_by_ref();
                }
            });
        }
    }));
    // SAFETY: a borrowed view of our own reference, never dropped.
    let me = ManuallyDrop::new(unsafe { Task::<S>::from_raw(ptr) });
    let released = cell.core.scheduler.release(&me);
    let count = held + usize::from(released.is_some());
    if let Some(t) = released {
        // Counted in `count` above.
        let _ = t.into_raw();
    }
    if cell.header.state.transition_to_terminal(count) {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

/// A waker's reference becomes a `Notified` for the scheduler.
///
/// # Safety
/// The caller hands over one reference and has set NOTIFIED.
pub(super) unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: module contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: forwarded.
    cell.core
        .scheduler
        .schedule(unsafe { Notified::from_raw(ptr) });
}

/// # Safety
/// The reference count reached zero.
pub(super) unsafe fn dealloc<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the cell was allocated by `Box` in `new_task` and nobody else
    // references it any more.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    // The future or output and the join waker are user code.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(cell)));
}

/// `JoinHandle::poll`: if the output is ready, move it into `dst`
/// (a `*mut Poll<Result<F::Output, JoinError>>`); otherwise register `waker`.
///
/// # Safety
/// Called by the join handle, which holds join interest; `dst` has the type
/// above.
pub(super) unsafe fn try_read_output<F: Future, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: module contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    if !can_read_output(cell, waker) {
        return;
    }
    let out = cell.core.stage.with_mut(|stage| {
        // SAFETY: COMPLETE with JOIN_INTEREST held by us: the stage is ours.
        match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
            Stage::Finished(out) => out,
            _ => panic!("JoinHandle polled after it returned the task's output"),
        }
    });
    let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
    // SAFETY: the caller passes a valid, initialised destination.
    unsafe { *dst = Poll::Ready(out) };
}

fn can_read_output<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snap = state.load();
    if snap.is_complete() {
        return true;
    }
    if snap.is_join_waker_set() {
        let same = cell.trailer.join_waker.with(|w| {
            // SAFETY: reading while JOIN_WAKER is set is allowed to both sides.
            unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker))
        });
        if same {
            return false;
        }
        if state.unset_join_waker().is_err() {
            return true;
        }
    }
    cell.trailer.join_waker.with_mut(|w| {
        // SAFETY: JOIN_WAKER is unset and the task is not complete: only the
        // handle touches the waker.
        unsafe { *w = Some(waker.clone()) }
    });
    if state.set_join_waker().is_err() {
        // Completed meanwhile; the waker is still ours.
        cell.trailer.join_waker.with_mut(|w| {
            // SAFETY: JOIN_WAKER was never published.
            unsafe { *w = None }
        });
        return true;
    }
    false
}

/// `JoinHandle::drop`, consuming the handle's reference.
///
/// # Safety
/// See the module docs.
pub(super) unsafe fn drop_join_handle_slow<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: module contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.unset_join_interested() {
        Err(_) => {
            // Completed: the output is ours to drop.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: COMPLETE with JOIN_INTEREST held by us.
                unsafe { set_stage(cell, Stage::Consumed) }
            }));
        }
        Ok(prev) if prev.is_join_waker_set() => {
            cell.trailer.join_waker.with_mut(|w| {
                // SAFETY: clearing JOIN_WAKER before completion gave the waker
                // back to us.
                let _ = catch_unwind(AssertUnwindSafe(|| unsafe { *w = None }));
            });
        }
        Ok(_) => {}
    }
    if cell.header.state.ref_dec() {
        // SAFETY: last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

/// Runtime shutdown, consuming the owned list's reference (already unlinked).
///
/// # Safety
/// See the module docs.
pub(super) unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: module contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        // SAFETY: RUNNING was taken; our one reference is passed on.
        unsafe {
            cancel_task(cell);
            complete::<F, S>(ptr, 1);
        }
    } else if cell.header.state.ref_dec() {
        // SAFETY: last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}
