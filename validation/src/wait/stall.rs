//! Slow waits and stuck waits.
//!
//! Timing alone never makes a violation (the crate docs: "a report is a
//! bug"). A service idle for five seconds is not stuck, and a semaphore
//! queue 70 jobs deep is slow, not wrong. So the engine tells the two
//! apart:
//!
//! - **Slow** — the runtime calls [`scan`] periodically (from its
//!   watchdog). A channel wait whose channel took no message, or a wait on a
//!   `Notify`, `Barrier`, `watch`, oneshot or semaphore, that has lasted
//!   longer than the stall threshold is a *slow wait*: one advisory
//!   `tracing` event (target `perf_validation::slow_wait`, level `INFO`,
//!   with the wait's site, the primitive and how long), counted by
//!   [`slow_waits`] and returned as a [`SlowWait`]. It never enters
//!   `take_reports()` and never panics, whatever the mode. A full channel
//!   whose receiver keeps taking messages is not even slow.
//! - **Stuck** — a wait is reported (`ChannelStall`, `WaitStall`) only
//!   when nothing can end it: the runtime found every one of its tasks
//!   blocked, with no runnable task, no pending timer, I/O or blocking job,
//!   for the stall threshold (`report_all_tasks_blocked`, which calls
//!   [`report_stuck`]). Whoever could send, notify, arrive or release is
//!   itself one of the blocked tasks: a channel wait whose known other side
//!   (a context that used a sender, or polls the receiver) is a thread is
//!   not reported, and neither is its runtime. Cycles among lock, semaphore and
//!   channel waits are the deadlock check's (`deadlock.rs`), found when the
//!   closing wait starts.
//!
//! Lock waits are the deadlock detector's alone, and waits under a timeout
//! are bounded by it: neither is slow nor stuck. Each wait is advised at
//! most once, and reported at most once.

use super::graph::{ResKind, Resource, Target, WaitGraph};
use crate::context::{ContextDesc, ContextId};
use crate::engine::{self, Engine};
use crate::report::{Side, Violation, ViolationKind};
use crate::sink;
use crate::site::Site;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The stall threshold used until [`set_stall_threshold`] changes it.
pub const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_secs(5);

static THRESHOLD_NS: AtomicU64 = AtomicU64::new(5_000_000_000);

/// Slow-wait advisories emitted since the process started.
static SLOW_WAITS: AtomicU64 = AtomicU64::new(0);

/// Sets how long a wait may go without progress before [`scan`] calls it
/// slow, and how long a runtime must have nothing runnable before its
/// blocked waits are reported stuck.
pub fn set_stall_threshold(threshold: Duration) {
    let ns = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
    THRESHOLD_NS.store(ns, Relaxed);
}

/// The current stall threshold.
pub fn stall_threshold() -> Duration {
    Duration::from_nanos(THRESHOLD_NS.load(Relaxed))
}

/// How many slow-wait advisories [`scan`] has emitted in this process (each
/// slow wait counts once). Advisories are not violations: this counter is
/// the only trace they leave besides their `tracing` event.
pub fn slow_waits() -> u64 {
    SLOW_WAITS.load(Relaxed)
}

/// A runtime with nothing runnable whose task `task` waits on something the
/// engine does not track (a foreign channel, an external event): another
/// thread may still end that wait, so the runtime is not provably stuck. A
/// slow-wait advisory (counted by [`slow_waits`]), never a violation.
pub(crate) fn note_untracked_idle(runtime: &str, task: &crate::context::ContextDesc) {
    SLOW_WAITS.fetch_add(1, Relaxed);
    tracing::info!(
        target: "perf_validation::slow_wait",
        runtime,
        context = %task,
        waited_ms = stall_threshold().as_millis() as u64,
        "runtime {runtime:?} has had nothing runnable for the stall threshold and {task} \
         waits on something the engine does not track (an advisory, not a violation: a \
         thread outside the runtime may still end the wait)"
    );
}

/// A wait that lasted longer than the stall threshold without progress: an
/// advisory, never a violation (see [`scan`]).
#[derive(Clone, Debug)]
pub struct SlowWait {
    ctx: ContextDesc,
    what: String,
    site: Site,
    created: Site,
    waited: Duration,
}

impl SlowWait {
    /// The task or thread that waits.
    pub fn context(&self) -> &ContextDesc {
        &self.ctx
    }

    /// The primitive waited on, as reports name it (`` `Notify@lib.rs:12` ``).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Where the wait started.
    pub fn site(&self) -> Site {
        self.site
    }

    /// Where the primitive was created.
    pub fn created(&self) -> Site {
        self.created
    }

    /// How long the wait had lasted without progress when it was seen.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl fmt::Display for SlowWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "slow wait: {} has waited {:.1} s on {} at {} (created at {})",
            self.ctx,
            self.waited.as_secs_f64(),
            self.what,
            self.site,
            self.created
        )
    }
}

/// A wait found slow or stuck, as read under the wait-graph lock.
pub(crate) struct Stall {
    ctx: ContextDesc,
    resource: Resource,
    site: Site,
    waited: Duration,
    other: Vec<(ContextId, Option<ContextDesc>)>,
    unknown_senders: u64,
    capacity: Option<usize>,
}

/// Emits a slow-wait advisory for every wait that has made no progress for
/// longer than the stall threshold as of `now` (once per wait), and returns
/// them. A slow wait is never a violation: nothing is recorded for it in
/// [`take_reports`](crate::take_reports), nothing panics. Meant for the
/// runtime's watchdog thread, every few hundred milliseconds: each call
/// also looks for wait-for cycles the check at wait start cannot see (a
/// lock waited for by the task its holder joins), and reports (`Deadlock`,
/// recorded, never raised as a panic) those two consecutive calls find.
pub fn scan(now: Instant) -> Vec<SlowWait> {
    if crate::mode::mode() == crate::Mode::Off {
        return Vec::new();
    }
    let e = engine::get();
    // Cycles the check at wait start cannot see (`stuck.rs`): reports.
    super::stuck::scan(e, &e.stuck);
    let found = find(&e.waits, now, stall_threshold(), Pick::Slow);
    found
        .into_iter()
        .map(|s| {
            let w = SlowWait {
                what: s.resource.label(e),
                ctx: s.ctx,
                site: s.site,
                created: s.resource.created,
                waited: s.waited,
            };
            SLOW_WAITS.fetch_add(1, Relaxed);
            tracing::info!(
                target: "perf_validation::slow_wait",
                context = %w.ctx,
                site = %w.site,
                created = %w.created,
                waited_ms = w.waited.as_millis() as u64,
                "{w} (an advisory, not a violation: the wait may still end)"
            );
            w
        })
        .collect()
}

/// Reports (`ChannelStall`, `WaitStall`) every wait of `blocked`, contexts
/// the runtime found blocked with nothing in it able to run: nothing can
/// end their waits. Each wait is reported once; recorded and logged, never
/// raised as a panic (this runs on the runtime's threads).
pub(crate) fn report_stuck(e: &Engine, blocked: &[ContextId], now: Instant) -> Vec<Violation> {
    let found = find(&e.waits, now, Duration::ZERO, Pick::Stuck(blocked));
    found
        .iter()
        .map(|s| {
            let v = report(e, s);
            sink::submit_quietly(&v);
            v
        })
        .collect()
}

/// Who could end a channel wait, as far as the engine knows: the contexts
/// that used a live sender (a receive), or the receiver's owner (a send).
fn channel_other_side(recv: bool, chan: &crate::channel::ChannelInner) -> Vec<ContextId> {
    if recv {
        let mut v = Vec::new();
        chan.for_each_claimant(|c| v.push(c));
        v
    } else {
        chan.rx_owner().into_iter().collect()
    }
}

/// Whether a wait of the `blocked` contexts is a channel wait whose known
/// other side is a thread — outside every runtime's "all tasks blocked" —
/// and so may still be ended: the runtime is then not provably stuck. (A
/// task that used a sender and is not blocked has finished, as far as the
/// engine can tell; the sender is then wherever it left it.)
pub(crate) fn woken_from_outside(waits: &WaitGraph, blocked: &[ContextId]) -> bool {
    let mut outside = false;
    waits.for_each_record(|id, _, rec| {
        if outside || rec.bounded || !blocked.contains(&id) {
            return;
        }
        let others = match (&rec.resource.kind, &rec.target) {
            (ResKind::Recv(_), Target::Senders(chan)) => channel_other_side(true, chan),
            (ResKind::Send(_), Target::Receiver(chan)) => channel_other_side(false, chan),
            _ => return,
        };
        outside = others.iter().any(|c| !c.is_task());
    });
    outside
}

/// Which waits [`find`] picks.
#[derive(Clone, Copy)]
pub(crate) enum Pick<'a> {
    /// Slow ones (not advised yet).
    Slow,
    /// Those of these contexts (not reported yet).
    Stuck(&'a [ContextId]),
}

pub(crate) fn find(waits: &WaitGraph, now: Instant, threshold: Duration, pick: Pick) -> Vec<Stall> {
    let now_ns = super::clock::instant_ns(now);
    let threshold_ns = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    waits.for_each_record(|id, desc, rec| {
        if rec.bounded {
            return;
        }
        match pick {
            Pick::Slow if rec.slow_reported => return,
            Pick::Stuck(ctxs) if rec.stall_reported || !ctxs.contains(&id) => return,
            _ => {}
        }
        let (other, unknown, capacity) = match (&rec.resource.kind, &rec.target) {
            (ResKind::Recv(_), Target::Senders(chan))
            | (ResKind::Send(_), Target::Receiver(chan)) => {
                let progress = chan.delivered.load(Relaxed);
                if progress != rec.baseline {
                    rec.baseline = progress;
                    rec.since_ns = now_ns;
                    if matches!(pick, Pick::Slow) {
                        return;
                    }
                }
                let recv = matches!(rec.resource.kind, ResKind::Recv(_));
                let (live, unknown) = chan.senders();
                if recv && live == 0 {
                    return;
                }
                let other = channel_other_side(recv, chan);
                // A thread that last used a sender (or polled the
                // receiver) may still end the wait: not provable.
                if matches!(pick, Pick::Stuck(_)) && other.iter().any(|c| !c.is_task()) {
                    return;
                }
                (other, unknown, chan.capacity())
            }
            // A oneshot's sender is alive while its receiver waits (dropping
            // it ends the wait), and never claimed.
            (ResKind::Recv(_), Target::Oneshot { .. }) => (Vec::new(), 1, Some(1)),
            (ResKind::Lock(crate::LockKind::Semaphore), _) | (ResKind::Other(_), _) => {
                (Vec::new(), 0, None)
            }
            _ => return,
        };
        let waited = now_ns.saturating_sub(rec.since_ns);
        if waited < threshold_ns {
            return;
        }
        match pick {
            Pick::Slow => rec.slow_reported = true,
            Pick::Stuck(_) => rec.stall_reported = true,
        }
        out.push(Stall {
            ctx: desc.cloned().unwrap_or_else(|| ContextDesc::new(id, None)),
            resource: rec.resource.clone(),
            site: rec.site,
            waited: Duration::from_nanos(waited),
            other: other.into_iter().map(|c| (c, None)).collect(),
            unknown_senders: unknown,
            capacity,
        });
    });
    // Names of the other sides, once every state lock is released.
    for s in &mut out {
        for (c, d) in &mut s.other {
            *d = Some(
                waits
                    .desc_of(*c)
                    .unwrap_or_else(|| ContextDesc::new(*c, None)),
            );
        }
    }
    out
}

pub(crate) fn report(e: &Engine, s: &Stall) -> Violation {
    let l = s.resource.label(e);
    let secs = s.waited.as_secs_f64();
    let key = (s.site, s.resource.created);
    let waiting = Side::new("waits", Some(s.ctx.clone()))
        .event(format!("waits on {l}"), Some(s.site))
        .event(format!("{l} created"), Some(s.resource.created));
    match s.resource.kind {
        ResKind::Send(_) => {
            let cap = s
                .capacity
                .map_or(String::new(), |c| format!(", capacity {c}"));
            let mut v = Violation::new(
                ViolationKind::ChannelStall,
                format!(
                    "{} waits to send on {l} (full{cap}) and nothing can end the wait: every \
                     task of the runtime is blocked (waited {secs:.1} s)",
                    s.ctx
                ),
            )
            .with_side(waiting);
            for (_, o) in &s.other {
                v = v.with_side(Side::new("last polled the receiver", o.clone()));
            }
            v.with_advice(format!(
                "the receiver of {l} is not draining it: find what its task waits for (or \
                 whether it is gone), or send with try_send / a timeout"
            ))
            .with_key(key)
        }
        ResKind::Recv(_) => {
            let mut v = Violation::new(
                ViolationKind::ChannelStall,
                format!(
                    "{} waits to receive on {l}, its senders are alive, and nothing can end the \
                     wait: every task of the runtime is blocked (waited {secs:.1} s)",
                    s.ctx
                ),
            )
            .with_side(waiting);
            for (_, o) in &s.other {
                v = v.with_side(Side::new("holds a live sender", o.clone()));
            }
            if s.unknown_senders > 0 {
                v = v.with_side(Side::new(
                    format!(
                        "{} live sender(s) not used since created or cloned",
                        s.unknown_senders
                    ),
                    None,
                ));
            }
            v.with_advice(format!(
                "every sender of {l} is alive but silent: drop senders that will not send (one \
                 kept by the receiving task or in a struct keeps the channel open forever), or \
                 receive with a timeout"
            ))
            .with_key(key)
        }
        _ => {
            let advice = match s.resource.kind {
                ResKind::Other(crate::WaitKind::Notify) => format!(
                    "nothing notified {l}: check that the notifying side runs and notifies after \
                     changing the state (notify_one stores a permit, notify_waiters does not)"
                ),
                ResKind::Other(crate::WaitKind::Barrier) => format!(
                    "fewer parties than {l} counts have arrived: check its count matches the \
                     number of tasks that call wait()"
                ),
                ResKind::Other(crate::WaitKind::Watch) => format!(
                    "the sender of {l} sent nothing: check that it is alive and sends, and that \
                     the receiver reads borrow() before awaiting changed()"
                ),
                ResKind::Lock(_) => format!(
                    "no permit of {l} came back: check that holders drop their permits, and \
                     that forgotten permits are added back"
                ),
                _ => format!("nothing ended the wait on {l}"),
            };
            Violation::new(
                ViolationKind::WaitStall,
                format!(
                    "{} waits on {l} and nothing can end the wait: every task of the runtime is \
                     blocked (waited {secs:.1} s)",
                    s.ctx
                ),
            )
            .with_side(waiting)
            .with_advice(advice)
            .with_key(key)
        }
    }
}
