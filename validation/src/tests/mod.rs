//! Unit tests of the engine through its public API, plus the loom models.
//!
//! Tests share one process-wide engine and run in parallel, so each test
//! names its locks, threads or fake tasks with a unique word and takes only
//! the reports that mention it ([`take`]). Tests that register waits, and
//! the stall tests that scan every wait, take [`serial`] so a scan never
//! sees another test's wait.

#[cfg(not(perf_validation_loom))]
mod atomics;
#[cfg(not(perf_validation_loom))]
mod auto_traits;
#[cfg(not(perf_validation_loom))]
mod channels;
#[cfg(not(perf_validation_loom))]
mod concurrency;
#[cfg(not(perf_validation_loom))]
mod deadlock;
#[cfg(not(perf_validation_loom))]
mod double_lock;
#[cfg(not(perf_validation_loom))]
mod graph;
#[cfg(not(perf_validation_loom))]
mod hierarchy;
#[cfg(not(perf_validation_loom))]
mod ingest;
#[cfg(not(perf_validation_loom))]
mod instance_order;
#[cfg(not(perf_validation_loom))]
mod joins;
#[cfg(not(perf_validation_loom))]
mod lock_order;
#[cfg(not(perf_validation_loom))]
mod mode;
#[cfg(not(perf_validation_loom))]
mod report_format;
#[cfg(not(perf_validation_loom))]
mod stall;
#[cfg(not(perf_validation_loom))]
mod tasks;

#[cfg(perf_validation_loom)]
mod loom_claims;
#[cfg(perf_validation_loom)]
mod loom_graph;
#[cfg(perf_validation_loom)]
mod loom_state;
#[cfg(perf_validation_loom)]
mod loom_waits;

#[cfg(not(perf_validation_loom))]
pub(crate) use support::*;

#[cfg(not(perf_validation_loom))]
mod support {
    use crate::{
        set_context_hook, take_reports_matching, ContextHook, TaskRef, TaskStateCell, Violation,
        ViolationKind,
    };
    use std::cell::{Cell, RefCell};
    use std::num::NonZeroU64;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::{Mutex, MutexGuard, Once};

    /// Takes the reports whose JSON mentions `needle`.
    pub(crate) fn take(needle: &str) -> Vec<Violation> {
        take_reports_matching(|v| v.to_json().contains(needle))
    }

    /// Takes the reports of `kind` that mention `needle`.
    pub(crate) fn take_kind(needle: &str, kind: ViolationKind) -> Vec<Violation> {
        take_reports_matching(|v| v.kind() == kind && v.to_json().contains(needle))
    }

    static SERIAL: Mutex<()> = Mutex::new(());

    /// Serialises the tests that register waits or scan them.
    pub(crate) fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    thread_local! {
        static CURRENT: Cell<Option<(NonZeroU64, *const TaskStateCell)>> = const { Cell::new(None) };
        static NAME: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    fn hook_task() -> Option<TaskRef> {
        CURRENT.with(|c| {
            c.get().map(|(id, slot)| {
                // SAFETY: `FakeTask::enter` sets the pointer only while the task (and so its slot) is borrowed by the running closure.
                TaskRef::new(id, unsafe { &*slot })
            })
        })
    }

    fn hook_name() -> Option<String> {
        NAME.with(|n| n.borrow().clone())
    }

    /// Installs the test hook (once per process): it reports the fake task
    /// entered on the calling thread, if any, and no task otherwise.
    pub(crate) fn install_hook() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: the hook returns a slot only between `enter`'s set and clear, while `enter` borrows the task; one thread enters a given task at a time (the tests synchronise that).
            let installed = unsafe {
                set_context_hook(ContextHook {
                    current_task: hook_task,
                    current_task_name: hook_name,
                })
            };
            assert!(installed, "the test hook is the only hook in this process");
        });
    }

    static NEXT_TASK: AtomicU64 = AtomicU64::new(1);

    /// A stand-in for a runtime task: an id, a name and a slot, "polled" by
    /// whichever thread calls `enter`.
    pub(crate) struct FakeTask {
        id: NonZeroU64,
        name: String,
        slot: TaskStateCell,
    }

    impl FakeTask {
        pub(crate) fn new(name: &str) -> FakeTask {
            install_hook();
            FakeTask {
                id: NonZeroU64::new(NEXT_TASK.fetch_add(1, Relaxed)).unwrap(),
                name: name.to_owned(),
                slot: TaskStateCell::new(),
            }
        }

        pub(crate) fn id(&self) -> NonZeroU64 {
            self.id
        }

        /// Runs `f` as one poll of this task on the calling thread.
        pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
            struct Exit(Option<(NonZeroU64, *const TaskStateCell)>, Option<String>);
            impl Drop for Exit {
                fn drop(&mut self) {
                    CURRENT.with(|c| c.set(self.0));
                    NAME.with(|n| *n.borrow_mut() = self.1.take());
                }
            }
            let prev =
                CURRENT.with(|c| c.replace(Some((self.id, &self.slot as *const TaskStateCell))));
            let prev_name = NAME.with(|n| n.borrow_mut().replace(self.name.clone()));
            let _exit = Exit(prev, prev_name);
            f()
        }

        /// As `enter`, announcing the task through `swap_current_task` (as
        /// perf_runtime does) instead of the hook; the hook still gives the
        /// name.
        pub(crate) fn enter_announced<R>(&self, f: impl FnOnce() -> R) -> R {
            struct Exit(Option<TaskRef>, Option<String>);
            impl Drop for Exit {
                fn drop(&mut self) {
                    // SAFETY: restores the previous setting.
                    unsafe { crate::swap_current_task(self.0) };
                    NAME.with(|n| *n.borrow_mut() = self.1.take());
                }
            }
            // SAFETY: set while `self` (and its slot) is borrowed by this call, cleared by `Exit`; the tests enter a task from one thread at a time.
            let prev = unsafe { crate::swap_current_task(Some(TaskRef::new(self.id, &self.slot))) };
            let prev_name = NAME.with(|n| n.borrow_mut().replace(self.name.clone()));
            let _exit = Exit(prev, prev_name);
            f()
        }
    }

    /// Spawns a named thread.
    pub(crate) fn thread<T: Send + 'static>(
        name: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(f)
            .expect("spawn a test thread")
    }
}
