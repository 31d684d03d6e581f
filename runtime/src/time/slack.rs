//! Timer slack: Linux lets a sleeping thread oversleep by its "timer slack"
//! (50 µs by default) so that wake-ups can be merged. A worker that parks
//! until a timer's exact deadline would then fire it up to 50 µs late.
//!
//! # Workers: lowered only for a near deadline
//! A worker lowers its slack to 1 ns only while it is about to wait in the
//! kernel for a deadline at most `near` away (`NEAR_NS`, 2 ms, or twice
//! the thread's default slack if that is larger), and restores its default
//! for every other wait: one with no deadline (no timer, or another worker
//! drives the timers) or a far one. A far wait is cut to end `near` before
//! its deadline, with the default slack (so it ends by `deadline - near +
//! default`, before the deadline since `near >= 2 * default`); the park
//! loop then waits the rest with the slack lowered. A timer thus still
//! fires at its exact deadline, the kernel keeps its chance to merge a
//! worker's long sleeps with other wake-ups, and a worker with no timer
//! near runs with the default slack. The cost is one extra wake-up per
//! far wait.
//!
//! Why 2 ms: the slack is a bound on the oversleep, not a fraction of the
//! wait, so what matters is how many waits end on a deadline; a cut far
//! wait costs a wake-up, so `near` is kept well above the park/unpark
//! cost (a few µs) and the 50 µs slack, and above the 1 ms that the
//! default timer resolution makes common for short sleeps, whose waits
//! then need no cut.
//!
//! The slack changes only on a change of state (lowered or default), one
//! `prctl` each, counted per thread (`worker_slack_changes`, for tests).
//! Failure (not Linux, or a seccomp filter) only costs precision: a thread
//! whose slack cannot be read is left alone.
//!
//! The current_thread runtime drives timers on the thread that holds its
//! core (a `block_on` caller): that thread's slack follows its waits in the
//! same way while it holds the core (`init_worker` when it takes the core,
//! `before_worker_wait` at each park, `leave_worker` when it gives the core
//! back), so a caller's thread keeps its own slack outside `block_on` and
//! its default during waits with no near timer.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The slack for a wait on a near deadline, in nanoseconds (the kernel's
/// smallest non-default value; 0 would mean "back to the default").
const RUNTIME_SLACK_NS: libc::c_ulong = 1;

/// A deadline at most this far away is near (see the module docs).
const NEAR_NS: u64 = 2_000_000;

/// The kernel's default slack, for a worker whose thread started with its
/// slack already lowered and no worker has read a default yet.
const KERNEL_DEFAULT_NS: libc::c_ulong = 50_000;

/// A default slack read by a worker thread (0: none yet): a thread spawned
/// by a worker whose slack was lowered inherits the lowered value.
static PROCESS_DEFAULT: AtomicU64 = AtomicU64::new(0);

/// A worker thread's slack state.
#[derive(Clone, Copy)]
struct WorkerSlack {
    /// The slack restored for waits with no near deadline; 0: the thread's
    /// slack could not be read, and it is left alone.
    default: libc::c_ulong,
    /// The slack is lowered to `RUNTIME_SLACK_NS`.
    lowered: bool,
    /// The largest wait that runs with the slack lowered.
    near: Duration,
    /// `prctl(PR_SET_TIMERSLACK)` calls made.
    changes: u64,
}

const NOT_A_WORKER: WorkerSlack = WorkerSlack {
    default: 0,
    lowered: false,
    near: Duration::ZERO,
    changes: 0,
};

thread_local! {
    static WORKER: Cell<WorkerSlack> = const { Cell::new(NOT_A_WORKER) };
}

/// This thread becomes a worker: its slack follows its waits from now on
/// (`before_worker_wait`). Its current slack is taken as its default,
/// unless already lowered (inherited from a worker that spawned it).
pub(crate) fn init_worker() {
    let state = match get() {
        Some(current) if current > RUNTIME_SLACK_NS => {
            let _ = PROCESS_DEFAULT.compare_exchange(0, wide(current), Relaxed, Relaxed);
            WorkerSlack {
                default: current,
                lowered: false,
                near: near_for(current),
                changes: 0,
            }
        }
        Some(_) => {
            let default = match PROCESS_DEFAULT.load(Relaxed) {
                0 => KERNEL_DEFAULT_NS,
                d => libc::c_ulong::try_from(d).unwrap_or(KERNEL_DEFAULT_NS),
            };
            WorkerSlack {
                default,
                lowered: true,
                near: near_for(default),
                changes: 0,
            }
        }
        None => NOT_A_WORKER,
    };
    let _ = WORKER.try_with(|w| w.set(state));
}

/// This thread stops being a worker (`block_in_place`, or a current_thread
/// `block_on` giving its core back): its default slack is restored.
pub(crate) fn leave_worker() {
    let _ = WORKER.try_with(|w| {
        let mut state = w.get();
        set_lowered(&mut state, false);
        w.set(NOT_A_WORKER);
    });
}

/// A worker is about to wait in the kernel for at most `timeout` (`None`:
/// until woken). Lowers its slack if the deadline is near, restores the
/// default otherwise, and returns how long to wait: a far deadline's wait
/// ends `near` before it (the caller's park loop waits again).
pub(crate) fn before_worker_wait(timeout: Option<Duration>) -> Option<Duration> {
    WORKER
        .try_with(|w| {
            let mut state = w.get();
            if state.default == 0 {
                return timeout;
            }
            let (lowered, wait) = match timeout {
                // No wait: no change.
                Some(t) if t.is_zero() => return timeout,
                Some(t) if t <= state.near => (true, timeout),
                Some(t) => (false, Some(t - state.near)),
                None => (false, None),
            };
            if set_lowered(&mut state, lowered) {
                w.set(state);
            }
            wait
        })
        .unwrap_or(timeout)
}

/// `prctl` calls this thread made as a worker (for tests).
#[cfg(all(test, not(perf_runtime_loom)))]
pub(crate) fn worker_slack_changes() -> u64 {
    WORKER.with(|w| w.get().changes)
}

/// Sets the slack to lowered or default if that is a change; true if so.
fn set_lowered(state: &mut WorkerSlack, lowered: bool) -> bool {
    if state.default == 0 || state.lowered == lowered {
        return false;
    }
    set(if lowered {
        RUNTIME_SLACK_NS
    } else {
        state.default
    });
    state.lowered = lowered;
    state.changes += 1;
    true
}

/// `near` for a thread whose default slack is `default`.
fn near_for(default: libc::c_ulong) -> Duration {
    Duration::from_nanos(NEAR_NS.max(wide(default).saturating_mul(2)))
}

/// `c_ulong` is `u64` on 64-bit Linux and `u32` on 32-bit.
#[allow(clippy::useless_conversion)]
fn wide(ns: libc::c_ulong) -> u64 {
    u64::from(ns)
}

/// This thread's slack, or `None` if it cannot be read.
fn get() -> Option<libc::c_ulong> {
    // PR_GET_TIMERSLACK returns the calling thread's slack (or -1 on error).
    // SAFETY: it takes no pointer and touches no memory of ours.
    let current = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
    libc::c_ulong::try_from(current).ok()
}

fn set(slack_ns: libc::c_ulong) {
    // SAFETY: PR_SET_TIMERSLACK takes the new slack by value, touches no
    // memory of ours, and only affects the calling thread.
    let _ = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, slack_ns, 0, 0, 0) };
}

/// This thread's slack (for tests).
#[cfg(all(test, not(perf_runtime_loom)))]
pub(crate) fn current_slack() -> Option<libc::c_ulong> {
    get()
}

#[cfg(all(test, not(perf_runtime_loom)))]
mod tests {
    use super::*;

    /// A worker's slack follows its waits: lowered for a near deadline,
    /// the default otherwise, with one `prctl` per change of state.
    #[test]
    fn worker_slack_is_lowered_only_for_near_deadlines() {
        std::thread::spawn(|| {
            set(KERNEL_DEFAULT_NS);
            let Some(default) = get().filter(|&d| d == KERNEL_DEFAULT_NS) else {
                // prctl is not available here: nothing to check.
                return;
            };
            init_worker();
            let near = near_for(default);
            assert_eq!(near, Duration::from_millis(2));
            let ms = Duration::from_millis(1);

            // No timer: the default, and no prctl.
            assert_eq!(before_worker_wait(None), None);
            assert_eq!((get(), worker_slack_changes()), (Some(default), 0));
            // A near deadline: lowered, once.
            assert_eq!(before_worker_wait(Some(ms)), Some(ms));
            assert_eq!((get(), worker_slack_changes()), (Some(1), 1));
            assert_eq!(before_worker_wait(Some(near)), Some(near));
            assert_eq!(worker_slack_changes(), 1, "no prctl without a change");
            // A zero wait changes nothing.
            assert_eq!(
                before_worker_wait(Some(Duration::ZERO)),
                Some(Duration::ZERO)
            );
            assert_eq!((get(), worker_slack_changes()), (Some(1), 1));
            // A far deadline: the default, and the wait ends `near` early.
            let far = Duration::from_secs(1);
            assert_eq!(before_worker_wait(Some(far)), Some(far - near));
            assert_eq!((get(), worker_slack_changes()), (Some(default), 2));
            assert_eq!(before_worker_wait(None), None);
            assert_eq!(worker_slack_changes(), 2);
            // Near again, then leaving the worker restores the default.
            let _ = before_worker_wait(Some(ms));
            assert_eq!((get(), worker_slack_changes()), (Some(1), 3));
            leave_worker();
            assert_eq!(get(), Some(default));
            // No longer a worker: waits leave the slack alone.
            assert_eq!(before_worker_wait(Some(ms)), Some(ms));
            assert_eq!(get(), Some(default));
        })
        .join()
        .unwrap();
    }

    /// The thread of a current_thread `block_on` sets its slack as a worker
    /// does while it holds the core: its default with no timer pending (it
    /// used to lower it for the whole call), lowered to wait on a near
    /// deadline, the default again to wait with only a far timer pending,
    /// and the default once `block_on` returns.
    #[test]
    #[cfg_attr(miri, ignore)] // builds a runtime
    fn a_current_thread_block_on_sets_its_slack_as_a_worker_does() {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        use std::sync::{Arc, Mutex};
        std::thread::spawn(|| {
            set(KERNEL_DEFAULT_NS);
            if get() != Some(KERNEL_DEFAULT_NS) {
                // prctl is not available here: nothing to check.
                return;
            }
            // At the first park after `armed` is set, the slack for that
            // wait is already chosen: the callback then ends the test's wait.
            let armed = Arc::new(AtomicBool::new(false));
            let go = Arc::new(Mutex::new(None::<crate::sync::oneshot::Sender<()>>));
            let rt = {
                let (armed, go) = (armed.clone(), go.clone());
                crate::runtime::Builder::new_current_thread()
                    .enable_all()
                    .on_thread_park(move || {
                        if armed.load(SeqCst) {
                            if let Some(tx) = go.lock().unwrap().take() {
                                let _ = tx.send(());
                            }
                        }
                    })
                    .build()
                    .expect("runtime")
            };
            // No timer pending: the default, and no prctl.
            assert_eq!(
                rt.block_on(async { (get(), worker_slack_changes()) }),
                (Some(KERNEL_DEFAULT_NS), 0)
            );
            let seen = rt.block_on(async {
                // A 1 ms sleep: nothing else to run, so the thread parks on
                // its deadline (retried in case the timer was due before
                // the park, on a loaded machine).
                let mut lowered = None;
                for _ in 0..1_000 {
                    crate::time::sleep(Duration::from_millis(1)).await;
                    if get() == Some(RUNTIME_SLACK_NS) {
                        lowered = Some(worker_slack_changes());
                        break;
                    }
                }
                // Only a far timer pending: the next park restores the
                // default.
                let far = crate::spawn(crate::time::sleep(Duration::from_secs(3_600)));
                let (tx, rx) = crate::sync::oneshot::channel();
                *go.lock().unwrap() = Some(tx);
                armed.store(true, SeqCst);
                rx.await.expect("the park callback sends");
                far.abort();
                (lowered, get(), worker_slack_changes())
            });
            assert_eq!(
                seen,
                (Some(1), Some(KERNEL_DEFAULT_NS), 2),
                "lowered once for the near deadline, restored once for the far wait"
            );
            // Outside `block_on` the thread has its own slack.
            assert_eq!(get(), Some(KERNEL_DEFAULT_NS));
        })
        .join()
        .unwrap();
    }

    /// A worker thread spawned by a worker whose slack was lowered starts
    /// lowered: it restores a default, not the inherited 1 ns.
    #[test]
    fn an_inherited_lowered_slack_is_restored_to_a_default() {
        std::thread::spawn(|| {
            set(1);
            if get() != Some(1) {
                return;
            }
            init_worker();
            assert_eq!(before_worker_wait(None), None);
            let restored = get().expect("readable");
            assert!(restored > 1, "restored to {restored}");
            assert_eq!(worker_slack_changes(), 1);
        })
        .join()
        .unwrap();
    }
}
