//! The stall scan: waits that made no progress for longer than a threshold.
//!
//! The runtime calls [`scan`] periodically (from its watchdog thread). A
//! channel wait stalls when the channel's progress count (messages taken by
//! the receiver) did not move for the threshold: a full channel whose
//! receiver keeps taking messages is never a stall. A wait on a `Notify`,
//! `Barrier`, `watch` or semaphore stalls when it lasts longer than the
//! threshold. Lock waits are the deadlock detector's business, and waits
//! under a timeout are bounded by it. Each wait is reported at most once.

use super::graph::{ResKind, Resource, Target, WaitGraph};
use crate::context::{ContextDesc, ContextId};
use crate::engine::{self, Engine};
use crate::report::{Side, Violation, ViolationKind};
use crate::sink;
use crate::site::Site;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The stall threshold used until [`set_stall_threshold`] changes it.
pub const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_secs(5);

static THRESHOLD_NS: AtomicU64 = AtomicU64::new(5_000_000_000);

/// Sets how long a wait may go without progress before [`scan`] reports it.
pub fn set_stall_threshold(threshold: Duration) {
    let ns = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
    THRESHOLD_NS.store(ns, Relaxed);
}

/// The current stall threshold.
pub fn stall_threshold() -> Duration {
    Duration::from_nanos(THRESHOLD_NS.load(Relaxed))
}

/// A stalled wait, as found under the wait-graph lock.
pub(crate) struct Stall {
    ctx: ContextDesc,
    resource: Resource,
    site: Site,
    waited: Duration,
    other: Vec<(ContextId, Option<ContextDesc>)>,
    unknown_senders: u64,
    capacity: Option<usize>,
}

/// Reports every wait that has made no progress for longer than the stall
/// threshold as of `now`, and returns the reports. Each wait is reported at
/// most once.
///
/// Meant for the runtime's watchdog thread: the reports are recorded and
/// logged but never raised as a panic, whatever the mode (a runtime in
/// `Panic` mode can raise the returned ones where it sees fit).
pub fn scan(now: Instant) -> Vec<Violation> {
    if crate::mode::mode() == crate::Mode::Off {
        return Vec::new();
    }
    let e = engine::get();
    let found = find(&e.waits, now, stall_threshold());
    found
        .iter()
        .map(|s| {
            let v = report(e, s);
            sink::submit_quietly(&v);
            v
        })
        .collect()
}

pub(crate) fn find(waits: &WaitGraph, now: Instant, threshold: Duration) -> Vec<Stall> {
    let now_ns = super::clock::instant_ns(now);
    let threshold_ns = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    waits.for_each_record(|id, desc, rec| {
        if rec.bounded || rec.stall_reported {
            return;
        }
        let (other, unknown, capacity) = match (&rec.resource.kind, &rec.target) {
            (ResKind::Recv(_), Target::Senders(chan))
            | (ResKind::Send(_), Target::Receiver(chan)) => {
                let progress = chan.delivered.load(Relaxed);
                if progress != rec.baseline {
                    rec.baseline = progress;
                    rec.since_ns = now_ns;
                    return;
                }
                let recv = matches!(rec.resource.kind, ResKind::Recv(_));
                let (live, unknown) = chan.senders();
                if recv && live == 0 {
                    return;
                }
                let other: Vec<ContextId> = if recv {
                    let mut v = Vec::new();
                    chan.for_each_claimant(|c| v.push(c));
                    v
                } else {
                    chan.rx_owner().into_iter().collect()
                };
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
        rec.stall_reported = true;
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
                    "{} has waited {secs:.1} s to send on {l} (full{cap}) and the receiver took \
                     nothing meanwhile",
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
                    "{} has waited {secs:.1} s to receive on {l} while its senders are alive and \
                     none sent",
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
                format!("{} has waited {secs:.1} s on {l} with no progress", s.ctx),
            )
            .with_side(waiting)
            .with_advice(advice)
            .with_key(key)
        }
    }
}
