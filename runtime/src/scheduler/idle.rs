//! Which workers sleep and how many search for work.
//!
//! `state` packs two counters: workers searching for work (low 16 bits) and
//! workers not parked (`unparked`, high bits). The sleeper list is under a
//! mutex; it is touched only when a worker parks or one is woken, never on the
//! spawn, wake or poll fast path (which loads `state` once).
//!
//! No lost wakeup: a producer makes its task visible, issues a SeqCst fence,
//! then loads `state`. It wakes a sleeper only if nobody is searching (a
//! searcher will find the task) and somebody sleeps. A worker that parks
//! registers itself (SeqCst, under the lock) *before* its last look at the
//! queues when it was the last searcher, so either the producer sees it
//! asleep or it sees the producer's task. A woken worker counts as searching;
//! when the last searcher finds work it wakes another, so a burst of work
//! fans out one worker at a time ("at most half the workers search").

use crate::loom::sync::atomic::{fence, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Mutex;

const SEARCH_MASK: usize = 0xFFFF;
const UNPARK_SHIFT: usize = 16;
const UNPARK_ONE: usize = 1 << UNPARK_SHIFT;

pub(crate) struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    /// Active workers: all of them, unless the container sizing parked
    /// some (`transition_worker_to_inactive`). Inactive workers are neither
    /// unparked nor sleepers, so a producer never takes the sleeper lock
    /// just because some workers are inactive.
    num_workers: AtomicUsize,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCH_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << UNPARK_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers: AtomicUsize::new(num_workers),
        }
    }

    fn lock(&self) -> crate::loom::sync::MutexGuard<'_, Vec<usize>> {
        self.sleepers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After making work visible: the worker to wake, if one should be.
    /// The chosen worker is counted as unparked and searching.
    /// (The runtime calls `worker_to_notify_near`; the models call this.)
    #[cfg(test)]
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        self.worker_to_notify_near(|_| false, None)
    }

    /// As `worker_to_notify`, preferring the most recent sleeper for which
    /// `preferred` is true (a worker of the node the work was queued on),
    /// and never choosing `except`: a worker that queues work while it is
    /// still listed as a sleeper (its drivers dispatched completions on the
    /// way out of its park) is awake and will run it; waking itself would
    /// leave the sleeper that could help asleep.
    pub(crate) fn worker_to_notify_near(
        &self,
        preferred: impl Fn(usize) -> bool,
        except: Option<usize>,
    ) -> Option<usize> {
        fence(SeqCst);
        if !self.should_wake(self.state.load(SeqCst)) {
            return None;
        }
        let mut sleepers = self.lock();
        if !self.should_wake(self.state.load(SeqCst)) {
            return None;
        }
        let eligible = |w: usize| Some(w) != except;
        let i = match sleepers.iter().rposition(|&w| eligible(w) && preferred(w)) {
            Some(i) => i,
            None => sleepers.iter().rposition(|&w| eligible(w))?,
        };
        let worker = sleepers.remove(i);
        self.state.fetch_add(UNPARK_ONE | 1, SeqCst);
        Some(worker)
    }

    fn should_wake(&self, state: usize) -> bool {
        state & SEARCH_MASK == 0 && (state >> UNPARK_SHIFT) < self.num_workers.load(SeqCst)
    }

    /// Try to become a searcher; refused when half the workers already search.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * (state & SEARCH_MASK) >= self.num_workers.load(SeqCst) {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// A searcher found work. True if it was the last searcher: it must then
    /// wake another worker, since nobody else is looking.
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        debug_assert!(prev & SEARCH_MASK > 0);
        prev & SEARCH_MASK == 1
    }

    /// The worker found nothing and goes to sleep. True if it was the last
    /// searcher: it must look at every queue once more before sleeping.
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = self.lock();
        let dec = UNPARK_ONE | usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(worker);
        is_searching && prev & SEARCH_MASK == 1
    }

    /// A running worker leaves the active set (container sizing shrank it).
    /// True if it was the last searcher: it must then make sure queued work
    /// has a worker looking for it.
    pub(crate) fn transition_worker_to_inactive(&self, is_searching: bool) -> bool {
        let _sleepers = self.lock();
        self.num_workers.fetch_sub(1, SeqCst);
        let prev = self
            .state
            .fetch_sub(UNPARK_ONE | usize::from(is_searching), SeqCst);
        is_searching && prev & SEARCH_MASK == 1
    }

    /// An inactive worker rejoins, awake and searching.
    pub(crate) fn transition_worker_from_inactive(&self) {
        let _sleepers = self.lock();
        self.num_workers.fetch_add(1, SeqCst);
        self.state.fetch_add(UNPARK_ONE | 1, SeqCst);
    }

    /// True while `worker` is still in the sleeper list (nobody woke it).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        self.lock().contains(&worker)
    }

    /// A parked worker found work by itself (it ran the timer): leave the
    /// sleeper list. False if someone already woke it (and counted it).
    pub(crate) fn unpark_worker_by_id(&self, worker: usize) -> bool {
        let mut sleepers = self.lock();
        let Some(i) = sleepers.iter().position(|&w| w == worker) else {
            return false;
        };
        sleepers.swap_remove(i);
        self.state.fetch_add(UNPARK_ONE, SeqCst);
        true
    }

    /// True when every active worker sleeps (racy: a snapshot).
    pub(crate) fn all_parked(&self) -> bool {
        self.state.load(SeqCst) >> UNPARK_SHIFT == 0
    }

    /// Workers searching for work now (racy, for metrics and tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn num_searching(&self) -> usize {
        self.state.load(SeqCst) & SEARCH_MASK
    }
}

/// The sleeping reserved-Critical workers (`Builder::reserve_critical_workers`).
///
/// They take no part in `Idle`'s searching accounting: a reserved worker is
/// woken only for Critical work, and never counts as a searcher that would
/// stop a normal worker from being woken for Normal or Batch work.
///
/// No lost wakeup, by the same Dekker pattern as `Idle`: a producer makes a
/// Critical task visible, issues a SeqCst fence, then loads `sleeping`; a
/// reserved worker going to sleep registers itself (SeqCst RMW, under the
/// lock) and only then takes its last look at the Critical queues. Either the
/// producer sees it registered and wakes it, or its last look sees the task.
pub(crate) struct ReservedIdle {
    sleeping: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
}

impl ReservedIdle {
    pub(crate) fn new(reserved: usize) -> ReservedIdle {
        ReservedIdle {
            sleeping: AtomicUsize::new(0),
            sleepers: Mutex::new(Vec::with_capacity(reserved)),
        }
    }

    fn lock(&self) -> crate::loom::sync::MutexGuard<'_, Vec<usize>> {
        self.sleepers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After making Critical work visible: a sleeping reserved worker to
    /// wake, removed from the list.
    #[inline]
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        fence(SeqCst);
        if self.sleeping.load(SeqCst) == 0 {
            return None;
        }
        let mut sleepers = self.lock();
        let worker = sleepers.pop()?;
        self.sleeping.fetch_sub(1, SeqCst);
        Some(worker)
    }

    /// Registers `worker` as asleep. The caller must look at the Critical
    /// queues once more afterwards, and `unregister` if it finds work.
    pub(crate) fn register(&self, worker: usize) {
        let mut sleepers = self.lock();
        sleepers.push(worker);
        self.sleeping.fetch_add(1, SeqCst);
    }

    /// Takes `worker` off the list. False if a producer already did (it will
    /// unpark the worker, or has).
    pub(crate) fn unregister(&self, worker: usize) -> bool {
        let mut sleepers = self.lock();
        let Some(i) = sleepers.iter().position(|&w| w == worker) else {
            return false;
        };
        sleepers.swap_remove(i);
        self.sleeping.fetch_sub(1, SeqCst);
        true
    }

    /// True while `worker` is registered (nobody woke it).
    pub(crate) fn is_registered(&self, worker: usize) -> bool {
        self.lock().contains(&worker)
    }
}
