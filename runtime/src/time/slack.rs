//! Timer slack: Linux lets a sleeping thread oversleep by its "timer slack"
//! (50 µs by default) so that wake-ups can be merged. A worker that parks
//! until a timer's exact deadline would then fire it up to 50 µs late, so
//! runtime threads lower their slack to 1 ns while they drive timers.
//!
//! Workers own their threads and lower it once, at start. The
//! current_thread runtime drives timers on the caller's thread, so it lowers
//! the slack only while it holds the core and restores it afterwards
//! (`SlackGuard`). The cost is the kernel's lost chance to merge this
//! thread's wake-ups with others'; the runtime already sleeps only until
//! the earliest deadline, so there is little to merge.

/// The slack a runtime thread runs with, in nanoseconds (the kernel's
/// smallest non-default value; 0 would mean "back to the default").
const RUNTIME_SLACK_NS: libc::c_ulong = 1;

/// Lowers this thread's timer slack for good (a worker thread, owned by
/// the runtime). Failure (not Linux, or a seccomp filter) only costs
/// precision, so it is ignored.
pub(crate) fn lower_for_worker() {
    set(RUNTIME_SLACK_NS);
}

/// Lowers this thread's timer slack until dropped, then restores it.
pub(crate) struct SlackGuard {
    previous: Option<libc::c_ulong>,
}

impl SlackGuard {
    pub(crate) fn lower() -> SlackGuard {
        // SAFETY: PR_GET_TIMERSLACK takes no pointer and only returns the
        // calling thread's slack (or -1 on error).
        let previous = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
        match libc::c_ulong::try_from(previous) {
            Ok(previous) if previous > RUNTIME_SLACK_NS => {
                set(RUNTIME_SLACK_NS);
                SlackGuard {
                    previous: Some(previous),
                }
            }
            _ => SlackGuard { previous: None },
        }
    }
}

impl Drop for SlackGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            set(previous);
        }
    }
}

fn set(slack_ns: libc::c_ulong) {
    // SAFETY: PR_SET_TIMERSLACK takes the new slack by value, touches no
    // memory of ours, and only affects the calling thread.
    let _ = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, slack_ns, 0, 0, 0) };
}

#[cfg(all(test, not(perf_runtime_loom)))]
mod tests {
    fn current() -> libc::c_long {
        // SAFETY: as in `SlackGuard::lower`.
        unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) as libc::c_long }
    }

    #[test]
    fn guard_lowers_then_restores_the_slack() {
        std::thread::spawn(|| {
            let before = current();
            {
                let _g = super::SlackGuard::lower();
                if before > 1 {
                    assert_eq!(current(), 1);
                }
            }
            assert_eq!(current(), before);
            super::lower_for_worker();
            assert_eq!(current(), 1);
        })
        .join()
        .unwrap();
    }
}
