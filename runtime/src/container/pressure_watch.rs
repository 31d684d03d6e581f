//! [`PressureWatch`]: the memory pressure level as the runtime's sizing
//! monitor publishes it, and a wait for its next change.

// Why not `sync::watch`: the runtime's sizing state would then depend on
// `sync`, which itself sits on the runtime (task context, cooperative
// budget, validation) — the one import edge that ran back up the crate. A
// level that changes at most once per refresh period needs neither the
// budget nor validation, so a mutex-guarded cell does.
//
// Protocol (loom model: `tests/loom_pressure_watch.rs`):
// - `level` is read without the lock; it is only written under the lock,
//   together with the `version` bump, so a reader holding the lock sees a
//   level and a version that belong together.
// - A receiver waits by comparing its `seen` version with `version` and,
//   if equal and not closed, storing its waker — all under the lock. The
//   publisher bumps the version and takes the wakers under the same lock,
//   so a change is either seen by the comparison or wakes the stored waker.
// - Each receiver has one waker slot (keyed by its id): polling again
//   replaces it, and dropping the receiver removes it, so the list never
//   holds more than one entry per live receiver.

use super::PressureLevel;
use crate::loom::sync::atomic::{AtomicU8, Ordering::Relaxed};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use std::error::Error;
use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll, Waker};

struct Inner {
    level: AtomicU8,
    state: Mutex<State>,
}

struct State {
    version: u64,
    closed: bool,
    next_id: u64,
    waiters: Vec<(u64, Waker)>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds a
        // consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn level(&self) -> PressureLevel {
        level_from_u8(self.level.load(Relaxed))
    }
}

/// A watch with a waker slot of its own, that has seen `seen` (or, for
/// `None`, the current version).
fn new_watch(inner: &Arc<Inner>, seen: Option<u64>) -> PressureWatch {
    let mut state = inner.lock();
    let id = state.next_id;
    state.next_id += 1;
    PressureWatch {
        inner: inner.clone(),
        seen: seen.unwrap_or(state.version),
        id,
    }
}

/// Wakes every waiting watch, after releasing the lock.
fn wake_all(mut state: MutexGuard<'_, State>) {
    let waiters = std::mem::take(&mut state.waiters);
    drop(state);
    for (_, waker) in waiters {
        waker.wake();
    }
}

/// The publishing end, owned by the runtime's sizing state: closes the
/// watches when it drops with the runtime.
pub(crate) struct PressureCell {
    inner: Arc<Inner>,
}

impl PressureCell {
    pub(crate) fn new(level: PressureLevel) -> PressureCell {
        PressureCell {
            inner: Arc::new(Inner {
                level: AtomicU8::new(level_to_u8(level)),
                state: Mutex::new(State {
                    version: 0,
                    closed: false,
                    next_id: 0,
                    waiters: Vec::new(),
                }),
            }),
        }
    }

    /// The level last published.
    pub(crate) fn level(&self) -> PressureLevel {
        self.inner.level()
    }

    /// Publishes `level`; if it differs from the last one, wakes every
    /// waiting watch and returns the previous level.
    pub(crate) fn publish(&self, level: PressureLevel) -> Option<PressureLevel> {
        let mut state = self.inner.lock();
        let old = self.inner.level();
        if old == level {
            return None;
        }
        self.inner.level.store(level_to_u8(level), Relaxed);
        state.version += 1;
        wake_all(state);
        Some(old)
    }

    /// A new watch that has seen the current level.
    pub(crate) fn subscribe(&self) -> PressureWatch {
        new_watch(&self.inner, None)
    }
}

impl Drop for PressureCell {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.closed = true;
        wake_all(state);
    }
}

/// The container's memory pressure level as the runtime's sizing monitor
/// last computed it, and a wait for its next change: get one from
/// [`Handle::pressure_watch`](crate::runtime::Handle::pressure_watch).
///
/// Use it for admission control, adaptive buffers or load shedding: read
/// [`level`](Self::level) on the hot path (one atomic load), and let one
/// task follow [`changed`](Self::changed). Like a `watch` receiver, a watch
/// that misses several changes sees the latest level once.
///
/// ```
/// use perf_runtime::container::PressureLevel;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut pressure = perf_runtime::runtime::Handle::current().pressure_watch();
/// let admit = |level| level < PressureLevel::Critical;
/// assert!(admit(pressure.level())); // no container limit is near here
/// perf_runtime::spawn(async move {
///     // Ends with an error once the runtime is gone.
///     while let Ok(level) = pressure.changed().await {
///         println!("memory pressure is now {level}");
///     }
/// });
/// # });
/// ```
pub struct PressureWatch {
    inner: Arc<Inner>,
    /// The version whose level this watch has returned from `changed`.
    seen: u64,
    /// This watch's waker slot.
    id: u64,
}

impl PressureWatch {
    /// The level now, without waiting and without marking it seen.
    pub fn level(&self) -> PressureLevel {
        self.inner.level()
    }

    /// True if the level changed since this watch last saw it (since it
    /// was made, or since `changed` last returned).
    pub fn has_changed(&self) -> bool {
        self.inner.lock().version != self.seen
    }

    /// Waits until the level differs from the one this watch last saw,
    /// marks it seen and returns it.
    ///
    /// # Errors
    /// [`PressureWatchClosed`] once the runtime is gone (no monitor will
    /// change the level again) and the last change was seen.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `changed` marks nothing seen.
    pub async fn changed(&mut self) -> Result<PressureLevel, PressureWatchClosed> {
        poll_fn(|cx| self.poll_changed(cx)).await
    }

    fn poll_changed(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<PressureLevel, PressureWatchClosed>> {
        let mut state = self.inner.lock();
        if state.version != self.seen {
            self.seen = state.version;
            return Poll::Ready(Ok(self.inner.level()));
        }
        if state.closed {
            return Poll::Ready(Err(PressureWatchClosed(())));
        }
        match state.waiters.iter_mut().find(|(id, _)| *id == self.id) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => state.waiters.push((self.id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Clone for PressureWatch {
    /// A watch that has seen what this one has, with its own waker slot.
    fn clone(&self) -> PressureWatch {
        new_watch(&self.inner, Some(self.seen))
    }
}

impl Drop for PressureWatch {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.waiters.retain(|(id, _)| *id != self.id);
    }
}

impl fmt::Debug for PressureWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PressureWatch")
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

/// The error of [`PressureWatch::changed`]: the runtime that published the
/// level was dropped, so the level will not change again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PressureWatchClosed(());

impl fmt::Display for PressureWatchClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "pressure watch closed: its runtime was dropped, so no sizing monitor will change \
             the level again; take a new watch from the running runtime's Handle",
        )
    }
}

impl Error for PressureWatchClosed {}

fn level_to_u8(l: PressureLevel) -> u8 {
    match l {
        PressureLevel::None => 0,
        PressureLevel::Moderate => 1,
        PressureLevel::Critical => 2,
    }
}

fn level_from_u8(v: u8) -> PressureLevel {
    match v {
        0 => PressureLevel::None,
        1 => PressureLevel::Moderate,
        _ => PressureLevel::Critical,
    }
}
