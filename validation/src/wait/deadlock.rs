//! Deciding whether a new wait is deadlocked, and saying so.
//!
//! Waits come in two flavours (see `graph.rs`): *all* (a lock: every holder
//! must release, so one stuck holder suffices) and *any* (permits, a receive:
//! any one of a set can end the wait, so every one must be stuck, and the set
//! must be known to be complete). A context with several waits at once (a
//! `select!` or `join!` over primitives) is stuck only if all of them are.
//!
//! From the context whose wait just started, the check collects the waiting
//! contexts it reaches, then repeatedly drops every one that can still
//! progress (its successors are not all or not any stuck). What remains is
//! deadlocked; if the starting context remains, it walks the stuck edges to
//! a cycle and reports it.

use super::graph::{HoldSnap, Inner, ResKind, Resource, Target, WaitRecord};
use crate::channel::ChannelInner;
use crate::context::{ContextDesc, ContextId};
use crate::engine::Engine;
use crate::fast_hash::{FastMap as HashMap, FastSet as HashSet};
use crate::loom::sync::Arc;
use crate::report::{Column, Scenario, Side, Violation, ViolationKind};
use crate::site::Site;

/// How a context is tied to the wait before it in the cycle.
#[derive(Clone, Debug)]
pub(crate) enum Via {
    /// It holds the lock (or permits) the previous context waits for.
    Holds(HoldSnap),
    /// It holds a live sender of the channel the previous context receives
    /// on (last used at the site).
    Sender(Site),
    /// It owns (last polled) the receiver the previous context sends to.
    Receiver(Option<Site>),
    /// It is the task the previous context joins: it must finish.
    Joined,
}

/// One link of a deadlock cycle.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub(crate) ctx: ContextDesc,
    pub(crate) waits_on: Resource,
    pub(crate) wait_site: Site,
    /// How the next context of the cycle blocks this wait.
    pub(crate) via: Via,
}

/// A deadlock cycle, in wait order: each step waits for the next.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub(crate) steps: Vec<Step>,
}

enum Need {
    All,
    Any { complete: bool },
}

struct Succ {
    need: Need,
    to: Vec<(ContextId, Via)>,
}

/// What `ctx` holds of `resource`, as its snapshot says. An owned guard's
/// lock counts only in a view whose cycles a second scan confirms (the
/// guard may have been handed to another task).
fn snap_of(g: &Inner, ctx: ContextId, resource: usize) -> Option<HoldSnap> {
    g.ctxs
        .get(&ctx)?
        .holds
        .iter()
        .find(|h| h.resource == resource && (g.confirming || !h.owned))
        .copied()
}

/// Whether `ctx` has a wait on `chan` of the other direction: a receive
/// when `recv` is false, a send when it is true.
///
/// A channel cannot be full (a sender waits) and empty (the receiver
/// waits) at once, so when both waits are registered one of them is already
/// over — its waiter was handed a slot or a message and has not run yet.
/// Neither can then block the other: the pair never closes a cycle.
fn waits_opposite(g: &Inner, ctx: ContextId, chan: &Arc<ChannelInner>, recv: bool) -> bool {
    g.ctxs.get(&ctx).is_some_and(|c| {
        c.waits.iter().any(|w| match (&g.waits[w].target, recv) {
            (Target::Senders(x), false) | (Target::Receiver(x), true) => Arc::ptr_eq(x, chan),
            _ => false,
        })
    })
}

fn successors(g: &Inner, owner: ContextId, rec: &WaitRecord) -> Succ {
    match &rec.target {
        Target::Holders { resource } => Succ {
            need: Need::All,
            to: g
                .holders
                .get(resource)
                .into_iter()
                .flatten()
                .filter(|&&c| c != owner)
                .filter_map(|&c| snap_of(g, c, *resource).map(|s| (c, Via::Holds(s))))
                .collect(),
        },
        Target::Permits {
            resource,
            outstanding,
        } => {
            // The waiter's own owned permits are not its to count: it may
            // have handed them to a task that will release them.
            let to: Vec<(ContextId, Via)> = g
                .holders
                .get(resource)
                .into_iter()
                .flatten()
                .filter_map(|&c| snap_of(g, c, *resource).map(|s| (c, s)))
                .filter(|(c, s)| *c != owner || !s.owned)
                .map(|(c, s)| (c, Via::Holds(s)))
                .collect();
            let held: u64 = to
                .iter()
                .map(|(_, v)| match v {
                    Via::Holds(s) => u64::from(s.permits),
                    _ => 0,
                })
                .sum();
            Succ {
                need: Need::Any {
                    complete: *outstanding > 0 && held >= *outstanding,
                },
                to,
            }
        }
        Target::Senders(chan) => {
            let (claimants, complete) = chan.claims_snapshot();
            // A sender waiting for room in this channel: it is not empty.
            let full = claimants
                .iter()
                .any(|&(c, _)| waits_opposite(g, c, chan, true));
            Succ {
                need: Need::Any {
                    complete: complete && !full,
                },
                to: claimants
                    .into_iter()
                    .map(|(c, site)| (c, Via::Sender(site)))
                    .collect(),
            }
        }
        Target::Receiver(chan) => Succ {
            need: Need::All,
            to: chan
                .rx_owner_at()
                // An owner waiting to receive from this channel: it is not
                // full.
                .filter(|&(c, _)| !waits_opposite(g, c, chan, false))
                .map(|(c, site)| (c, Via::Receiver(site)))
                .into_iter()
                .collect(),
        },
        Target::Task(c) => Succ {
            need: Need::All,
            to: vec![(*c, Via::Joined)],
        },
        // Its one sender is never claimed: whoever holds it is unknown.
        Target::Oneshot { .. } => Succ {
            need: Need::Any { complete: false },
            to: Vec::new(),
        },
        Target::Nobody => Succ {
            need: Need::All,
            to: Vec::new(),
        },
    }
}

fn wait_stuck(s: &Succ, d: &HashSet<ContextId>) -> bool {
    match s.need {
        Need::All => s.to.iter().any(|(t, _)| d.contains(t)),
        Need::Any { complete } => {
            complete && !s.to.is_empty() && s.to.iter().all(|(t, _)| d.contains(t))
        }
    }
}

/// The deadlock cycle the waits of `start` are part of (or blocked behind),
/// if any.
pub(crate) fn find(g: &Inner, start: ContextId) -> Option<Found> {
    // The common case: whom `start` waits for is not waiting itself (it is
    // running and will release), so no cycle can close now. Checked before
    // any map is built.
    let cw = g.ctxs.get(&start)?;
    let waits_on_a_waiter = cw.waits.iter().any(|w| {
        successors(g, start, &g.waits[w])
            .to
            .iter()
            .any(|(t, _)| g.ctxs.get(t).is_some_and(|c| !c.waits.is_empty()))
    });
    if !waits_on_a_waiter {
        return None;
    }
    let mut succ: HashMap<u64, Succ> = HashMap::default();
    let mut reach = vec![start];
    let mut seen: HashSet<ContextId> = [start].into_iter().collect();
    let mut i = 0;
    while i < reach.len() {
        let c = reach[i];
        i += 1;
        let Some(cw) = g.ctxs.get(&c) else { continue };
        for w in &cw.waits {
            let s = successors(g, c, &g.waits[w]);
            for (t, _) in &s.to {
                if g.ctxs.contains_key(t) && seen.insert(*t) {
                    reach.push(*t);
                }
            }
            succ.insert(*w, s);
        }
    }
    let mut d: HashSet<ContextId> = reach
        .iter()
        .copied()
        .filter(|c| {
            g.ctxs.get(c).is_some_and(|cw| {
                !cw.opaque && !cw.waits.is_empty() && cw.waits.iter().all(|w| !g.waits[w].bounded)
            })
        })
        .collect();
    loop {
        let free: Vec<ContextId> = d
            .iter()
            .copied()
            .filter(|c| !g.ctxs[c].waits.iter().all(|w| wait_stuck(&succ[w], &d)))
            .collect();
        if free.is_empty() {
            break;
        }
        for c in free {
            d.remove(&c);
        }
    }
    if !d.contains(&start) {
        return None;
    }
    // Walk stuck edges inside `d` until a context repeats.
    let mut steps: Vec<Step> = Vec::new();
    let mut at: HashMap<ContextId, usize> = HashMap::default();
    let mut c = start;
    loop {
        if let Some(&i) = at.get(&c) {
            return Some(Found {
                steps: steps.split_off(i),
            });
        }
        at.insert(c, steps.len());
        let cw = &g.ctxs[&c];
        let (w, (next, via)) = cw.waits.iter().find_map(|w| {
            let s = &succ[w];
            if !wait_stuck(s, &d) {
                return None;
            }
            s.to.iter()
                .find(|(t, _)| d.contains(t))
                .map(|x| (*w, x.clone()))
        })?;
        let rec = &g.waits[&w];
        steps.push(Step {
            ctx: cw.desc.clone(),
            waits_on: rec.resource.clone(),
            wait_site: rec.site,
            via,
        });
        c = next;
    }
}

fn hold_op(e: &Engine, step: &Step) -> (String, Option<Site>) {
    let l = step.waits_on.label(e);
    match &step.via {
        Via::Holds(s)
            if matches!(
                step.waits_on.kind,
                ResKind::Lock(crate::LockKind::Semaphore)
            ) =>
        {
            (
                format!("holds {} permit(s) of {l}", s.permits),
                Some(s.site),
            )
        }
        Via::Holds(s) if s.shared => (format!("holds a read lock on {l}"), Some(s.site)),
        Via::Holds(s) => (format!("holds {l}"), Some(s.site)),
        Via::Sender(site) => (
            format!("holds a live sender of {l} (used it here)"),
            Some(*site),
        ),
        Via::Receiver(site) => (format!("owns the receiver of {l} (polled it here)"), *site),
        Via::Joined => (
            format!("is the task it joins ({l})"),
            Some(step.waits_on.created),
        ),
    }
}

fn wait_op(e: &Engine, step: &Step) -> String {
    let l = step.waits_on.label(e);
    match step.waits_on.kind {
        ResKind::Lock(crate::LockKind::Semaphore) => format!("waits for permits of {l}"),
        ResKind::Lock(_) => format!("waits for {l}"),
        ResKind::Recv(_) => format!("waits to receive on {l}"),
        ResKind::Send(_) => format!("waits to send on {l} (full)"),
        ResKind::Other(_) => format!("waits on {l}"),
        ResKind::Join => format!("awaits the JoinHandle of a task ({l})"),
    }
}

/// The report of a deadlock cycle.
pub(crate) fn report(e: &Engine, f: &Found) -> Violation {
    let n = f.steps.len();
    let summary = if n == 1 {
        let s = &f.steps[0];
        format!(
            "{} waits for itself: it {} while it {}",
            s.ctx,
            wait_op(e, s),
            hold_op(e, s).0
        )
    } else {
        let mut summary = format!("{n} contexts wait for each other:");
        for (i, s) in f.steps.iter().enumerate() {
            let next = &f.steps[(i + 1) % n];
            summary.push_str(&format!(
                " {} {} ({} {});",
                s.ctx,
                wait_op(e, s),
                next.ctx,
                hold_op(e, s).0
            ));
        }
        summary.pop();
        summary
    };
    let mut v = Violation::new(ViolationKind::Deadlock, summary);
    for (i, s) in f.steps.iter().enumerate() {
        let prev = &f.steps[(i + n - 1) % n];
        let (held, held_site) = hold_op(e, prev);
        v = v.with_side(
            Side::new("waits", Some(s.ctx.clone()))
                .event(held, held_site)
                .event(wait_op(e, s), Some(s.wait_site)),
        );
    }
    if n == 2 {
        let (a, b) = (&f.steps[0], &f.steps[1]);
        v = v.with_scenario(
            Scenario::new(a.ctx.to_string(), b.ctx.to_string())
                .step(Column::Left, hold_op(e, b).0)
                .step(Column::Right, hold_op(e, a).0)
                .step(Column::Left, format!("{}  <- blocks", wait_op(e, a)))
                .step(Column::Right, format!("{}  <- blocks", wait_op(e, b)))
                .outcome("DEADLOCK"),
        );
    }
    let first = &f.steps[0];
    let l = first.waits_on.label(e);
    let channel = f
        .steps
        .iter()
        .find(|s| matches!(s.waits_on.kind, ResKind::Recv(_) | ResKind::Send(_)));
    let advice = match (n, channel) {
        (1, Some(s)) if matches!(s.waits_on.kind, ResKind::Recv(_)) => format!(
            "the receiving context holds a live sender of {l} itself: drop it (or send on it) \
             before waiting, e.g. drop(tx) once the producers have their clones"
        ),
        (1, Some(_)) => format!(
            "the sending context owns the receiver of full {l}: receive before sending more, or \
             send from another task"
        ),
        (1, None) => format!(
            "the context holds permits of {l} and waits for more: release them first, or take \
             all it needs at once (acquire_many)"
        ),
        (_, Some(s)) if matches!(s.waits_on.kind, ResKind::Recv(_)) => format!(
            "every live sender of {} is held by a context that waits for this one: drop (or \
             send on) those senders before awaiting the receiver, or do not hold what they wait \
             for while receiving",
            s.waits_on.label(e)
        ),
        (_, Some(s)) => format!(
            "{} is full and its receiver waits for this context: do not hold what the receiver \
             needs while sending (release it first, or use try_send / a bigger channel)",
            s.waits_on.label(e)
        ),
        (_, None) => {
            let names: Vec<String> = f.steps.iter().map(|s| s.waits_on.label(e)).collect();
            format!(
                "release what you hold before waiting, or take {} in one order in every context",
                names.join(" and ")
            )
        }
    };
    let mut key: Vec<Site> = f.steps.iter().map(|s| s.wait_site).collect();
    key.sort();
    v.with_advice(advice).with_key(key)
}
