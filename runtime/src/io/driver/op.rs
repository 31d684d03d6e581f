//! An io_uring operation in flight, and what happens to it when its future
//! is dropped first.
//!
//! # Ownership
//!
//! An `Op<T>` owns the operation's data `T` (its buffer, its address) and
//! one strong count of the `OpSlot`; the ring owns the other strong count,
//! through the submission's `user_data`, until the operation's final
//! completion. The slot's state is behind a per-operation mutex, taken by
//! the future (poll, drop) and by the ring's owner (completion):
//!
//! - `Waiting(waker)` → the completion stores `Done` and wakes the waker.
//! - The future is dropped while `Waiting`: it moves its data into
//!   `Ignored` (so the kernel's buffer outlives the operation) and asks the
//!   ring to cancel (`ASYNC_CANCEL`, through the inbox when the ring is
//!   another worker's). The completion — cancelled or not — then drops the
//!   data, and closes the descriptor an `accept` or `open` produced after
//!   its future was gone.
//! - Multishot operations (`accept_multi`) queue their results in `Multi`
//!   until the final completion (no `IORING_CQE_F_MORE`).

use crate::loom::sync::Mutex;
use std::any::Any;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

/// What the result of an operation is, for cleanup when nobody waits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Produces {
    /// A byte count or nothing to release.
    Nothing,
    /// A new descriptor (accept, open): closed if its future is gone.
    Fd,
}

pub(crate) struct OpSlot {
    state: Mutex<State>,
    produces: Produces,
}

enum State {
    Waiting(Option<Waker>),
    Done(i32, u32),
    /// The future is gone; the data the kernel may still use is kept here.
    Ignored(Option<Box<dyn Any + Send>>),
    Multi {
        results: VecDeque<i32>,
        waker: Option<Waker>,
        finished: bool,
        ignored: bool,
    },
}

fn close_fd(fd: RawFd) {
    // SAFETY: `fd` was produced by an operation whose future is gone: no
    // one else owns it.
    unsafe { libc::close(fd) };
}

impl OpSlot {
    pub(crate) fn new(produces: Produces) -> OpSlot {
        OpSlot {
            state: Mutex::new(State::Waiting(None)),
            produces,
        }
    }

    pub(crate) fn new_multi(produces: Produces) -> OpSlot {
        OpSlot {
            state: Mutex::new(State::Multi {
                results: VecDeque::new(),
                waker: None,
                finished: false,
                ignored: false,
            }),
            produces,
        }
    }

    fn lock(&self) -> crate::loom::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ring's side: a completion arrived (`more`: a multishot operation
    /// goes on).
    pub(crate) fn complete(&self, res: i32, flags: u32, more: bool) {
        let mut release_fd = None;
        let (waker, keep) = {
            let mut st = self.lock();
            match &mut *st {
                State::Waiting(w) => {
                    let w = w.take();
                    *st = State::Done(res, flags);
                    (w, None)
                }
                State::Ignored(keep) => {
                    if self.produces == Produces::Fd && res >= 0 {
                        release_fd = Some(res);
                    }
                    (None, keep.take())
                }
                State::Multi {
                    results,
                    waker,
                    finished,
                    ignored,
                } => {
                    if *ignored {
                        if self.produces == Produces::Fd && res >= 0 {
                            release_fd = Some(res);
                        }
                    } else {
                        results.push_back(res);
                    }
                    if !more {
                        *finished = true;
                    }
                    (waker.take(), None)
                }
                State::Done(..) => (None, None),
            }
        };
        drop(keep);
        if let Some(fd) = release_fd {
            close_fd(fd);
        }
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The future's side: the result, or `Pending` with the waker stored.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<(i32, u32)> {
        let mut st = self.lock();
        match &mut *st {
            State::Done(res, flags) => Poll::Ready((*res, *flags)),
            State::Waiting(w) => {
                if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *w = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            _ => unreachable!("poll of an ignored or multishot operation"),
        }
    }

    /// A multishot operation's next result; `None` once it has ended.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<i32>> {
        let mut st = self.lock();
        match &mut *st {
            State::Multi {
                results,
                waker,
                finished,
                ..
            } => {
                if let Some(r) = results.pop_front() {
                    return Poll::Ready(Some(r));
                }
                if *finished {
                    return Poll::Ready(None);
                }
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            _ => unreachable!("poll_next of a single-shot operation"),
        }
    }

    /// The future is dropped: keeps `data` until the completion, and
    /// returns whether the operation is still in flight (so it should be
    /// cancelled). Results a multishot operation queued are released.
    pub(crate) fn abandon(&self, data: Option<Box<dyn Any + Send>>) -> bool {
        let mut fds = Vec::new();
        let in_flight = {
            let mut st = self.lock();
            match &mut *st {
                State::Waiting(_) => {
                    *st = State::Ignored(data);
                    true
                }
                State::Multi {
                    results,
                    finished,
                    ignored,
                    ..
                } => {
                    *ignored = true;
                    if self.produces == Produces::Fd {
                        fds.extend(results.drain(..).filter(|&r| r >= 0));
                    }
                    !*finished
                }
                State::Done(res, _) => {
                    // Completed but never taken: release what it produced.
                    if self.produces == Produces::Fd && *res >= 0 {
                        fds.push(*res);
                        *res = -libc::ECANCELED;
                    }
                    false
                }
                State::Ignored(_) => false,
            }
        };
        for fd in fds {
            close_fd(fd);
        }
        in_flight
    }
}
