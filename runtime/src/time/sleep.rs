//! `Sleep`, `sleep` and `sleep_until`.
//!
//! A `Sleep` links an entry into the wheel lazily, at its first poll (so a
//! `timeout` whose future completes at once never touches the wheel), and
//! unlinks it eagerly when dropped or reset. Between, a poll is lock-free:
//! one state load, a waker registration, and a second state load.

use super::entry::{EntryState, Shared};
use super::handle::{shutdown_panic, Registered, TimeHandle};
use super::wheel::Key;
use super::Instant;
use crate::loom::sync::Arc;
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
    let handle = current_handle();
    let now = Instant::from_std(handle.now());
    let deadline = now
        .checked_add(duration)
        .unwrap_or_else(|| now.far_future_from());
    Sleep::new(handle, deadline)
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
    Sleep::new(current_handle(), deadline)
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
    handle: TimeHandle,
    deadline: Instant,
    entry: Entry,
}

enum Entry {
    /// Not linked; linked at the next poll.
    Unregistered,
    /// Has been registered; `key` is where it is linked while the state is
    /// `Pending` (it is `None` if it fired at registration).
    Linked {
        shared: Arc<Shared>,
        key: Option<Key>,
    },
}

impl Sleep {
    pub(crate) fn new(handle: TimeHandle, deadline: Instant) -> Sleep {
        Sleep {
            handle,
            deadline,
            entry: Entry::Unregistered,
        }
    }

    /// A `Sleep` at `deadline`, or about 30 years from now if `deadline` is
    /// `None` (an overflowed `now + duration`).
    #[track_caller]
    pub(crate) fn new_or_far(deadline: Option<Instant>) -> Sleep {
        let handle = current_handle();
        let deadline =
            deadline.unwrap_or_else(|| Instant::from_std(handle.now()).far_future_from());
        Sleep::new(handle, deadline)
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
        match &self.entry {
            Entry::Unregistered => self.deadline.into_std() <= self.handle.now(),
            Entry::Linked { shared, .. } => shared.state() == EntryState::Fired,
        }
    }

    /// Moves the deadline to `deadline`, whether or not the `Sleep` has
    /// completed. The task is woken at the new deadline once it polls the
    /// `Sleep` again.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline;
        if let Entry::Linked { shared, key } = &mut this.entry {
            match this.handle.register(shared, *key, deadline.into_std()) {
                Registered::Linked(k) => *key = Some(k),
                Registered::Elapsed => *key = None,
                // Leave it to the next poll to report the shutdown.
                Registered::Shutdown => this.entry = Entry::Unregistered,
            }
        }
    }

    /// `Future::poll` without the `Pin`.
    pub(crate) fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Entry::Unregistered = self.entry {
            let shared = Arc::new(Shared::new());
            let key = match self
                .handle
                .register(&shared, None, self.deadline.into_std())
            {
                Registered::Linked(k) => Some(k),
                Registered::Elapsed => None,
                Registered::Shutdown => shutdown_panic(),
            };
            self.entry = Entry::Linked { shared, key };
        }
        let Entry::Linked { shared, .. } = &self.entry else {
            unreachable!("registered above")
        };
        match shared.state() {
            EntryState::Fired => return Poll::Ready(()),
            EntryState::Shutdown => shutdown_panic(),
            EntryState::Pending(_) => {}
        }
        // Register, then check again: the driver stores FIRED, then takes
        // the waker (see `entry.rs`).
        shared.register(cx.waker());
        match shared.state() {
            EntryState::Fired => Poll::Ready(()),
            EntryState::Shutdown => shutdown_panic(),
            EntryState::Pending(_) => Poll::Pending,
        }
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
        if let Entry::Linked {
            shared,
            key: Some(key),
        } = &self.entry
        {
            // FIRED and SHUTDOWN are final for everyone but us: no lock needed.
            if let EntryState::Pending(_) = shared.state() {
                self.handle.cancel(shared, *key);
            }
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
