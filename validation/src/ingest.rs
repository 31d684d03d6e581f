//! Reports the runtime hands in: long polls from its watchdog, and "all
//! tasks blocked" from its scheduler.

use crate::context::{ContextDesc, ContextId};
use crate::engine;
use crate::report::{Side, Violation, ViolationKind};
use crate::sink;
use crate::site::Site;
use std::num::NonZeroU64;
use std::time::Duration;

/// A task the runtime found blocked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedTask {
    /// The runtime's task id.
    pub id: NonZeroU64,
    /// The task's name, if it has one.
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawned_at: Option<Site>,
}

/// Reports a task poll that ran for at least `ran_for` without yielding (the
/// runtime's watchdog calls this once per task). Recorded and logged, never
/// raised as a panic (this runs on the runtime's threads); the report is
/// returned so the runtime can raise it where it sees fit.
pub fn report_long_poll(
    task_id: NonZeroU64,
    task_name: Option<&str>,
    spawned_at: Site,
    ran_for: Duration,
) -> Violation {
    let ctx = ContextDesc::new(ContextId::task(task_id), task_name);
    let ms = ran_for.as_millis();
    let v = Violation::new(
        ViolationKind::LongPoll,
        format!(
            "{ctx} (spawned at {spawned_at}) ran one poll for at least {ms} ms without yielding; \
             its worker served no other task meanwhile"
        ),
    )
    .with_side(Side::new("ran too long", Some(ctx)).event("spawned", Some(spawned_at)))
    .with_advice(
        "move blocking work to spawn_blocking (or block_in_place), or add yield points \
         (task::yield_now) to long loops",
    )
    .with_key(("long-poll", spawned_at));
    sink::submit_quietly(&v);
    v
}

/// Reports that the runtime `runtime` has no runnable task, no pending timer
/// or I/O, and the `blocked` tasks: nothing can wake them. Each task is
/// described with the waits the engine knows for it, and each of those
/// waits on a channel, `Notify`, `Barrier`, `watch` or semaphore is also
/// reported on its own (`ChannelStall`, `WaitStall`): it is provably stuck,
/// since whoever could end it is blocked too. Recorded and logged, never
/// raised as a panic; returns the `AllTasksBlocked` report (`None` if
/// `blocked` is empty, or validation is off) so the runtime can raise it,
/// e.g. from `block_on`.
///
/// Nothing is reported while one of the tasks waits on a channel whose
/// other side the engine knows to be a thread (one that sent on it, or
/// polls its receiver), or waits on something the engine does not track
/// (a foreign channel, an external event): a thread may still act, so the
/// runtime is idle, not stuck. The second case is a slow-wait advisory
/// (counted by `slow_waits`).
pub fn report_all_tasks_blocked(runtime: &str, blocked: &[BlockedTask]) -> Option<Violation> {
    if blocked.is_empty() || crate::mode::mode() == crate::Mode::Off {
        return None;
    }
    let e = engine::get();
    let ids: Vec<ContextId> = blocked.iter().map(|t| ContextId::task(t.id)).collect();
    if crate::wait::woken_from_outside(&e.waits, &ids) {
        return None;
    }
    // A task parked on something untracked (a foreign channel fed by a
    // thread, an external event) may still be woken: not provably stuck,
    // and neither are the waits it could end.
    if let Some(t) = blocked
        .iter()
        .find(|t| e.waits.waits_of(ContextId::task(t.id)).is_empty())
    {
        let ctx = ContextDesc::new(ContextId::task(t.id), t.name.as_deref());
        crate::wait::note_untracked_idle(runtime, &ctx);
        return None;
    }
    crate::wait::report_stuck(e, &ids, std::time::Instant::now());
    let mut key: Vec<Site> = Vec::new();
    let mut sides = Vec::new();
    for t in blocked {
        let ctx = ContextDesc::new(ContextId::task(t.id), t.name.as_deref());
        let mut side = Side::new("is blocked", Some(ctx));
        if let Some(s) = t.spawned_at {
            side = side.event("spawned", Some(s));
            key.push(s);
        }
        for (res, site) in e.waits.waits_of(ContextId::task(t.id)) {
            side = side.event(format!("waits on {}", res.label(e)), Some(site));
            key.push(site);
        }
        sides.push(side);
    }
    key.sort();
    let mut v = Violation::new(
        ViolationKind::AllTasksBlocked,
        format!(
            "runtime {runtime:?} has no runnable task, no pending timer or I/O, and {} blocked \
             task(s): nothing can wake them",
            blocked.len()
        ),
    );
    for s in sides {
        v = v.with_side(s);
    }
    let v = v
        .with_advice(
            "whatever these tasks wait for can no longer happen: find the sender, notifier or \
             lock holder that finished or was dropped without acting (each wait's site is above)",
        )
        .with_key(key);
    sink::submit_quietly(&v);
    Some(v)
}

/// Reports the tasks a runtime ends with, parked in waits nothing can end
/// (goleak's leak): the runtime `runtime` is idle — no runnable task, no
/// pending timer, nothing on the blocking pool — and every one of its live
/// `blocked` tasks waits on something the engine tracks (a channel, a sync
/// primitive, a join), so only one of them could end another's wait, and
/// none runs. `ChannelLeak`, with each task's wait sites; recorded and
/// logged, never raised as a panic here (the caller raises it, e.g. at the
/// end of a `#[perf_runtime::test]`). `None` if `blocked` is empty, a task
/// waits on something untracked (I/O, an external event: it may still be
/// woken), or validation is off.
pub fn report_leaked_tasks(runtime: &str, blocked: &[BlockedTask]) -> Option<Violation> {
    if blocked.is_empty() || crate::mode::mode() == crate::Mode::Off {
        return None;
    }
    let e = engine::get();
    let mut key: Vec<Site> = Vec::new();
    let mut sides = Vec::new();
    for t in blocked {
        let waits = e.waits.waits_of(ContextId::task(t.id));
        if waits.is_empty() {
            return None;
        }
        let ctx = ContextDesc::new(ContextId::task(t.id), t.name.as_deref());
        let mut side = Side::new("leaked", Some(ctx));
        if let Some(s) = t.spawned_at {
            side = side.event("spawned", Some(s));
        }
        for (res, site) in waits {
            side = side.event(format!("waits on {}", res.label(e)), Some(site));
            key.push(site);
        }
        sides.push(side);
    }
    key.sort();
    key.dedup();
    let mut v = Violation::new(
        ViolationKind::ChannelLeak,
        format!(
            "runtime {runtime:?} ends with {} task(s) parked in channel or sync waits that can \
             never complete: nothing runs, no timer is pending, and whatever could end each wait \
             is one of these parked tasks",
            blocked.len()
        ),
    );
    for s in sides {
        v = v.with_side(s);
    }
    let v = v
        .with_advice(
            "end these tasks before the runtime does: drop the sender or call close() so \
             receivers see the end, notify or cancel waiters (a shutdown signal), or await \
             their JoinHandles; each wait's site is above",
        )
        .with_key(key);
    sink::submit_quietly(&v);
    Some(v)
}
