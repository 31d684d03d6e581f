//! The validation engine, wired to this runtime: lock-order inversions,
//! deadlocks, waits nothing can end, long polls and atomics misuse, found
//! while the service runs. See the [`perf_validation`] crate docs for the
//! reports and how to read them; everything it exports is here.
//!
//! ```
//! use perf_runtime::sync::Mutex;
//! use perf_runtime::validation::{take_reports, ViolationKind};
//!
//! #[perf_runtime::main]
//! async fn main() {
//!     let (a, b) = (Mutex::new(0), Mutex::new(0));
//!     {
//!         let _a = a.lock().await;
//!         let _b = b.lock().await; // a, then b
//!     }
//!     {
//!         let _b = b.lock().await;
//!         let _a = a.lock().await; // b, then a: a deadlock waiting to happen
//!     }
//!     // `#[perf_runtime::main]` runs in Report mode: the inversion was
//!     // recorded (and logged once), and the program went on.
//!     let reports = take_reports();
//!     assert!(reports.iter().any(|r| r.kind() == ViolationKind::LockOrderInversion));
//!     println!("{}", reports[0]);
//! }
//! ```
//!
//! **A report is a bug**: a violation is raised only when a reviewer would
//! agree the program is wrong, so validation can stay on in production and
//! `#[perf_runtime::test]` can panic on every report. Correct tokio idioms
//! — dropping a sender to cancel, dropping a receiver with messages queued,
//! an unread broadcast message, an idle consumer — never raise one. A wait
//! that is only long (past `Builder::stall_threshold`, checked by the
//! watchdog) is an advisory: a `tracing` event (target
//! `perf_validation::slow_wait`, with the site and how long) counted by
//! [`slow_waits`], never a violation, never a panic. A wait is reported
//! (`ChannelStall`, `WaitStall`) when nothing can end it: every task of the
//! runtime is blocked, with no timer, I/O or blocking job pending.
//!
//! `runtime::Builder::on_deadlock` says what a runtime does with an actual
//! deadlock among its tasks ([`DeadlockAction`]: report it, panic, or
//! cancel the youngest task of the cycle as its victim). At the end of a
//! `#[perf_runtime::test]`, tasks left parked in waits that only other
//! parked tasks could end fail the test (`ChannelLeak`).
//!
//! The runtime installs the engine's context hook on the first runtime
//! built, so "who holds what" is keyed by task inside a task (a guard held
//! across `.await` stays with its task as it moves between workers) and by
//! thread elsewhere. `runtime::Builder::validation` sets the mode of the
//! runtime's threads (default [`Mode::Report`]; `#[perf_runtime::test]`
//! uses [`Mode::Panic`]); `PERF_RUNTIME_VALIDATION=off|report|panic`
//! overrides it, and once a runtime is built sets the mode of the whole
//! process, threads outside any runtime included.

pub use perf_validation::*;

use crate::runtime::context;

fn current_task() -> Option<TaskRef> {
    context::with_current_task(|h| h.and_then(|h| h.validation_ref()))
}

fn current_task_name() -> Option<String> {
    context::with_current_task(|h| h.and_then(|h| h.name().map(str::to_owned)))
}

/// Installs the context hook (once per process; later calls do nothing).
pub(crate) fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let hook = ContextHook {
            current_task,
            current_task_name,
        };
        // SAFETY: `current_task` returns the slot of the task whose poll is in progress on the calling thread (`context::enter_task` sets it for exactly the poll); the poller holds a reference to the task, so the slot outlives the poll, and a task is polled by one thread at a time (its RUNNING bit).
        let installed = unsafe { set_context_hook(hook) };
        set_deadlock_handler(on_deadlock);
        if !installed {
            tracing::warn!(
                "another context hook was installed before perf_runtime's: validation reports \
                 will not tell perf_runtime tasks apart"
            );
        }
    });
}

// ---- Deadlock resolution (`Builder::on_deadlock`) ---------------------------
//
// A runtime built with an explicit `DeadlockAction` registers a lookup of its
// own tasks here; the engine shows every `Deadlock` report to `on_deadlock`
// (installed with the context hook), which finds the runtime owning the
// cycle's tasks and applies its action. A victim's reason waits in
// `VICTIMS` until its cancellation makes its `JoinError`.

use crate::task::AbortHandle;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Finds a live task of one runtime by id (`None` once the runtime is gone).
pub(crate) type TaskLookup = Box<dyn Fn(u64) -> Option<Option<AbortHandle>> + Send + Sync>;

struct Registered {
    action: DeadlockAction,
    lookup: TaskLookup,
}

static RUNTIMES: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// Victims' reasons by task id. Bounded: a victim that completed before
/// its cancellation took effect never collects its entry, so past
/// `MAX_VICTIMS` the oldest entries go.
static VICTIMS: Mutex<Option<HashMap<u64, Arc<str>>>> = Mutex::new(None);
/// Entries in `VICTIMS`: the cancellation path reads only this when zero.
static VICTIMS_LEN: AtomicUsize = AtomicUsize::new(0);
const MAX_VICTIMS: usize = 1024;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers a runtime whose builder set `on_deadlock(action)`.
pub(crate) fn register_deadlock_action(action: DeadlockAction, lookup: TaskLookup) {
    let mut rts = lock(&RUNTIMES);
    // Forget runtimes that are gone.
    rts.retain(|r| (r.lookup)(0).is_some());
    rts.push(Registered { action, lookup });
}

/// Why the cancelled task `id` was cancelled, if it was a deadlock victim.
pub(crate) fn take_victim_reason(id: u64) -> Option<Arc<str>> {
    if VICTIMS_LEN.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut v = lock(&VICTIMS);
    let why = v.as_mut()?.remove(&id)?;
    VICTIMS_LEN.fetch_sub(1, Ordering::Relaxed);
    Some(why)
}

fn mark_victim(id: u64, why: Arc<str>) {
    let mut v = lock(&VICTIMS);
    let map = v.get_or_insert_with(HashMap::new);
    if map.len() >= MAX_VICTIMS {
        if let Some(&oldest) = map.keys().min() {
            map.remove(&oldest);
            VICTIMS_LEN.fetch_sub(1, Ordering::Relaxed);
        }
    }
    if map.insert(id, why).is_none() {
        VICTIMS_LEN.fetch_add(1, Ordering::Relaxed);
    }
}

/// The engine's deadlock handler: the action of the runtime that owns a
/// task of the cycle, applied. `None` (the mode decides) if no runtime with
/// an explicit action owns one.
fn on_deadlock(v: &Violation) -> Option<DeadlockAction> {
    // The cycle's async tasks; threads have no task id. Blocking jobs have
    // one but are in no runtime's task list, so no lookup finds them.
    let ids: Vec<u64> = v
        .contexts()
        .iter()
        .filter_map(|c| c.id().task_id())
        .collect();
    if ids.is_empty() {
        return None;
    }
    // Under the registry lock only the lookups; the abort and the log come
    // after it (a `tracing` subscriber may itself take validated locks).
    let (action, mut owned) = {
        let rts = lock(&RUNTIMES);
        rts.iter().find_map(|r| {
            let owned: Vec<AbortHandle> = ids
                .iter()
                .filter_map(|&id| (r.lookup)(id).flatten())
                .collect();
            (!owned.is_empty()).then_some((r.action, owned))
        })?
    };
    if action == DeadlockAction::AbortVictim {
        // Ids count up at spawn: the youngest task has the largest.
        owned.sort_by_key(|h| h.id());
        let victim = owned.pop().expect("not empty");
        let cycle: Vec<String> = v.contexts().iter().map(|c| c.to_string()).collect();
        let why: Arc<str> = format!(
            "chosen as a deadlock victim (the youngest task of the cycle {}) to break it: {}",
            cycle.join(" -> "),
            v.summary()
        )
        .into();
        mark_victim(victim.id().as_u64(), why);
        victim.abort();
        tracing::warn!(
            target: "perf_validation",
            task = victim.id().as_u64(),
            "deadlock resolved: task {} cancelled as the victim",
            victim.id()
        );
    }
    Some(action)
}

// ---- Leaked tasks (`#[perf_runtime::test]`) ---------------------------------

/// How long the end-of-test check waits for the runtime to go idle (the
/// tasks woken by the body's end run first). A runtime still busy then —
/// a task looping, a timer pending, I/O under way — is not checked.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(200);

/// At the end of a `#[perf_runtime::test]`: once the runtime is idle (seen
/// twice in a row, the driving thread parked), its live tasks — if each is
/// parked in a wait the engine tracks — are leaked: reported as a
/// `ChannelLeak`, raised as a panic in `Panic` mode.
pub(crate) fn check_leaked_tasks(rt: &crate::runtime::Runtime) {
    let inner = rt.handle().inner.clone();
    let mode = inner.common().config.validation;
    if mode == Mode::Off || inner.num_alive_tasks() == 0 {
        return;
    }
    let (tx, rx) = crate::sync::oneshot::channel();
    let probe = inner.clone();
    // The probe runs beside `block_on`, which parks the driving thread
    // while it waits for the answer: idle is only seen while it is parked.
    let prober = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + SETTLE;
        let mut last: Option<Vec<BlockedTask>> = None;
        while std::time::Instant::now() < deadline {
            let now = probe.blocked_tasks_if_idle();
            if now.is_some() && now == last {
                let _ = tx.send(now);
                return;
            }
            last = now;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = tx.send(None);
    });
    let blocked = rt.block_on(rx).ok().flatten();
    let _ = prober.join();
    let Some(blocked) = blocked else { return };
    let name = (inner.common().config.thread_name)();
    if let Some(v) = report_leaked_tasks(&name, &blocked) {
        if mode == Mode::Panic && !std::thread::panicking() {
            panic!("{v}");
        }
    }
}
