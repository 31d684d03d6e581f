//! `Sleep`, `sleep` and `sleep_until`.
//!
//! A `Sleep` links an entry into a wheel lazily, at its first poll (so a
//! `timeout` whose future completes at once never touches a wheel), into
//! the shard of the worker polling it, and frees it eagerly: at the poll
//! that sees it fired (the usual end of a `sleep(..).await`), or when
//! dropped. The entry is a node of that shard's slab (see `wheel.rs`): a
//! `Sleep` holds only the shard's index and the node's key, and allocates
//! nothing. Each poll, reset and drop of a linked `Sleep` locks the owning
//! shard, which on its own worker no other thread contends for; a
//! completed one takes no lock when dropped, and links a new entry if it
//! is reset.

use super::handle::{current_driver, shutdown_panic, DriverRef, Registered, TimeHandle};
use super::wheel::Key;
use super::Instant;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Waits until `duration` has elapsed.
///
/// The timer has millisecond resolution and never completes early. A
/// `duration` too large to represent sleeps "forever" (about 30 years).
///
/// # Panics
/// If called outside a perf_runtime runtime.
///
/// # Examples
/// ```
/// use perf_runtime::time::{sleep, Duration};
///
/// #[perf_runtime::main]
/// async fn main() {
///     sleep(Duration::from_millis(10)).await;
///     println!("10 ms have elapsed");
/// }
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let Some(handle) = current_driver() else {
        no_runtime_panic()
    };
    let now = Instant::from_std(handle.now());
    let deadline = now
        .checked_add(duration)
        .unwrap_or_else(|| now.far_future_from());
    let mut sleep = Sleep::with_driver(handle, deadline);
    sleep.future_at_creation = !duration.is_zero();
    sleep
}

/// Waits until `deadline` is reached.
///
/// # Panics
/// If called outside a perf_runtime runtime.
///
/// # Examples
/// ```
/// use perf_runtime::time::{sleep_until, Duration, Instant};
///
/// #[perf_runtime::main]
/// async fn main() {
///     sleep_until(Instant::now() + Duration::from_millis(10)).await;
/// }
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    let Some(handle) = current_driver() else {
        no_runtime_panic()
    };
    Sleep::with_driver(handle, deadline)
}

/// The future returned by [`sleep`] and [`sleep_until`]: completes once its
/// deadline has passed.
///
/// Dropping a `Sleep` cancels it at once (its timer entry is freed).
/// Unlike tokio's, this `Sleep` is `Unpin`; [`Sleep::reset`] still takes
/// `Pin<&mut Self>` so code written for tokio compiles unchanged.
///
/// # Examples
/// ```
/// use perf_runtime::time::{sleep, Duration, Instant};
///
/// #[perf_runtime::main]
/// async fn main() {
///     let mut s = Box::pin(sleep(Duration::from_secs(3600)));
///     // Changed our mind: wake in 10 ms instead.
///     s.as_mut().reset(Instant::now() + Duration::from_millis(10));
///     s.as_mut().await;
///     assert!(s.is_elapsed());
/// }
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    handle: DriverRef,
    deadline: Instant,
    entry: Entry,
    /// The deadline was in the future when this `Sleep` was made (`now +
    /// d`, `d > 0`): the first poll links it without reading the clock.
    future_at_creation: bool,
}

enum Entry {
    /// Not linked; linked at the next poll unless the deadline has passed.
    Unregistered,
    /// Owns the node `key` of shard `shard` (pending or fired) until dropped.
    Linked { shard: usize, key: Key },
    /// Completed: the poll that saw the entry fired freed it.
    Done,
}

impl Sleep {
    #[cfg(test)]
    pub(crate) fn new(handle: TimeHandle, deadline: Instant) -> Sleep {
        Sleep::with_driver(DriverRef::Direct(handle), deadline)
    }

    fn with_driver(handle: DriverRef, deadline: Instant) -> Sleep {
        Sleep {
            handle,
            deadline,
            entry: Entry::Unregistered,
            future_at_creation: false,
        }
    }

    /// A `Sleep` at `deadline`, or about 30 years from now if `deadline` is
    /// `None` (an overflowed `now + duration`). `future`: the caller knows
    /// the deadline is in the future (`now + d`, `d > 0`).
    #[track_caller]
    pub(crate) fn new_or_far(deadline: Option<Instant>, future: bool) -> Sleep {
        let Some(handle) = current_driver() else {
            no_runtime_panic()
        };
        let future = future || deadline.is_none();
        let deadline =
            deadline.unwrap_or_else(|| Instant::from_std(handle.now()).far_future_from());
        let mut sleep = Sleep::with_driver(handle, deadline);
        sleep.future_at_creation = future;
        sleep
    }

    /// The current time of the clock this `Sleep` runs on.
    pub(super) fn clock_now(&self) -> Instant {
        Instant::from_std(self.handle.now())
    }

    /// The instant at which this `Sleep` completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed (for a `Sleep` already polled: whether
    /// its timer has fired).
    pub fn is_elapsed(&self) -> bool {
        match self.entry {
            Entry::Unregistered => self.deadline.into_std() <= self.handle.now(),
            Entry::Linked { shard, key } => self.handle.is_fired(shard, key),
            Entry::Done => true,
        }
    }

    /// Moves the deadline to `deadline`, whether or not the `Sleep` has
    /// completed. The task is woken at the new deadline once it polls the
    /// `Sleep` again.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline;
        match this.entry {
            Entry::Linked { shard, key } => {
                if this.handle.reset(shard, key, deadline.into_std()).is_err() {
                    // The node is gone with the runtime: leave it to the next
                    // poll to report the shutdown.
                    this.entry = Entry::Unregistered;
                }
            }
            Entry::Done => {
                // Linked again at the next poll; the deadline may be past.
                this.entry = Entry::Unregistered;
                this.future_at_creation = false;
            }
            Entry::Unregistered => {}
        }
    }

    /// `Future::poll` without the `Pin`.
    pub(crate) fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let polled = match self.entry {
            Entry::Unregistered => {
                let shard = self.handle.current_shard();
                let deadline = self.deadline.into_std();
                let check_clock = !self.future_at_creation;
                match self
                    .handle
                    .register(shard, deadline, cx.waker(), check_clock)
                {
                    Registered::Linked(key) => {
                        self.entry = Entry::Linked { shard, key };
                        return Poll::Pending;
                    }
                    Registered::Elapsed => return Poll::Ready(()),
                    Registered::Shutdown => Err(super::handle::IsShutdown),
                }
            }
            Entry::Linked { shard, key } => {
                let polled = self.handle.poll_entry(shard, key, cx.waker());
                if let Ok(Poll::Ready(())) = polled {
                    // `poll_entry` freed the node.
                    self.entry = Entry::Done;
                }
                polled
            }
            Entry::Done => Ok(Poll::Ready(())),
        };
        polled.unwrap_or_else(|_| shutdown_panic())
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A loop of already-elapsed sleeps must still yield to the scheduler.
        let coop = std::task::ready!(crate::task::coop::poll_proceed(cx));
        let out = self.get_mut().poll_elapsed(cx);
        if out.is_ready() {
            coop.made_progress();
        }
        out
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Entry::Linked { shard, key } = self.entry {
            self.handle.cancel(shard, key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("is_elapsed", &self.is_elapsed())
            .finish()
    }
}

/// The current runtime's time handle.
#[track_caller]
pub(crate) fn current_handle() -> TimeHandle {
    match crate::runtime::context::with_time(|h| h.cloned()) {
        Some(h) => h,
        None => no_runtime_panic(),
    }
}

#[cold]
#[track_caller]
pub(crate) fn no_runtime_panic() -> ! {
    panic!(
        "there is no perf_runtime runtime on this thread; timers must be created inside a \
         runtime (Runtime::block_on, spawn, or Handle::enter)"
    )
}
