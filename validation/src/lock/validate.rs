//! The cold path of an acquisition: a chain of held classes plus the new
//! class that the chain cache does not know.
//!
//! For every lock held (other than semaphores and locks still waited for):
//! the same class again is a double lock, a recursive read, or two
//! instances nesting without a declared order; a level not above a held
//! level is a hierarchy violation; otherwise the order edge `held -> new` is
//! added to the graph, and an edge that would close a cycle is a lock-order
//! inversion. A chain is remembered only when nothing in it depends on which
//! instances are involved (no class repeats), so a double lock is found
//! every time.

use super::reports;
use crate::chain;
use crate::class::{WORD_NESTS, WORD_NEST_ADDR, WORD_NEST_KEY};
use crate::context::state::{ContextState, HeldEntry, F_OWNED, F_PENDING, F_SEMAPHORE, F_SHARED};
use crate::context::{describe, ContextDesc};
use crate::engine::{self, Engine};
use crate::graph::{AddEdge, EdgeInfo};
use crate::instance::{self, AddInstanceEdge, InstEdge};
use crate::report::Violation;
use crate::sink;
use crate::site::Site;

/// Validates `new` against the current context's held stack.
///
/// # Safety
/// `state` is the current context's state.
#[cold]
#[inline(never)]
pub(super) unsafe fn chain(state: *mut ContextState, new: &HeldEntry) {
    let e = engine::get();
    if e.chains.contains(new.chain) {
        chain::remember(new.chain);
        return;
    }
    // SAFETY: the caller's state; the copy ends the borrow before any call out (the name hook, tracing, a panic).
    let held: Vec<HeldEntry> = unsafe { (*state).with_owned(|o| o.held.clone()) };
    // SAFETY: the caller's state.
    let desc = unsafe { describe(state) };
    let mut reports = Vec::new();
    if check(e, &held, new, &desc, &mut reports) {
        e.chains.insert(new.chain);
        chain::remember(new.chain);
    }
    for r in reports {
        sink::submit(r);
    }
}

/// The class-level checks of `new` against `held`; pushes what it finds to
/// `out` and returns whether the chain may be cached.
pub(crate) fn check(
    e: &Engine,
    held: &[HeldEntry],
    new: &HeldEntry,
    desc: &ContextDesc,
    out: &mut Vec<Violation>,
) -> bool {
    let new_class = e.classes.get(new.class());
    let mut cacheable = true;
    let mut done: Vec<u32> = Vec::new();
    for h in held {
        if h.has(F_PENDING) {
            // Not held yet (its context waits for it, e.g. in a `join!`):
            // no edge from it now, and since the chain hash cannot tell a
            // pending entry from a held one, the chain is not remembered.
            cacheable = false;
            continue;
        }
        if h.has(F_SEMAPHORE) || h.has(F_OWNED) {
            continue;
        }
        if h.class() == new.class() {
            if new.word & WORD_NESTS != 0 {
                continue; // instance order is checked inline, every time
            }
            cacheable = false;
            if h.instance != new.instance {
                // Two instances of one class: ordered by instance.
                out.extend(instance_order(e, h, new, desc));
            } else if h.has(F_SHARED) && new.has(F_SHARED) {
                out.push(reports::recursive_read(e, h, new, desc));
            } else {
                out.push(reports::double_lock(e, h, new, desc));
            }
            continue;
        }
        if done.contains(&h.class()) {
            continue;
        }
        done.push(h.class());
        let held_class = e.classes.get(h.class());
        if let (Some(hl), Some(nl)) = (held_class.level, new_class.level) {
            if nl <= hl {
                out.push(reports::hierarchy(&held_class, &new_class, h, new, desc));
            }
        }
        let mut g = crate::loom::lock(&e.graph);
        let added = g.add_edge(h.class(), new.class(), || EdgeInfo {
            from_site: Site::from_location(h.site),
            to_site: Site::from_location(new.site),
            ctx: desc.clone(),
        });
        if let AddEdge::Cycle(path) = added {
            let edges: Vec<EdgeInfo> = path
                .windows(2)
                .filter_map(|w| g.edge(w[0], w[1]).cloned())
                .collect();
            drop(g);
            out.push(reports::inversion(e, h, new, &path, &edges, desc));
        }
    }
    cacheable
}

/// Records that instance `h` was held while `new`, of its class, was
/// taken; a report if the instances were taken the other way round before
/// (`instance.rs`).
fn instance_order(
    e: &Engine,
    h: &HeldEntry,
    new: &HeldEntry,
    desc: &ContextDesc,
) -> Option<Violation> {
    let (outer, inner) = (instance::id_of(h.word), instance::id_of(new.word));
    if outer == 0 || inner == 0 || outer == inner {
        return None;
    }
    let edge = InstEdge {
        outer_site: h.site,
        inner_site: new.site,
        ctx: desc.id(),
    };
    let added = crate::loom::lock(&e.instances).add(outer, inner, edge);
    match added {
        AddInstanceEdge::Ordered => None,
        AddInstanceEdge::Cycle(edges) => Some(reports::instance_inversion(e, h, new, &edges, desc)),
    }
}

/// Checks the instance order of a nesting class (run on every acquisition
/// of such a class while something is held).
///
/// # Safety
/// `state` is the current context's state.
#[inline]
pub(super) unsafe fn nesting(state: *mut ContextState, new: &HeldEntry) {
    // SAFETY: the caller's state; the closure only reads.
    let conflict = unsafe {
        (*state).with_owned(|o| {
            o.held
                .iter()
                .rev()
                .find(|h| {
                    !h.has(F_PENDING)
                        && !h.has(F_OWNED)
                        && h.class() == new.class()
                        && (h.instance == new.instance
                            || (new.word & WORD_NEST_ADDR != 0 && new.instance < h.instance)
                            || (new.word & WORD_NEST_KEY != 0 && new.key <= h.key))
                })
                .copied()
        })
    };
    if let Some(h) = conflict {
        // SAFETY: `state` is the current context's (this fn's contract, which is `nesting_report`'s); the owner borrow above has ended.
        unsafe { nesting_report(state, &h, new) };
    }
}

#[cold]
#[inline(never)]
unsafe fn nesting_report(state: *mut ContextState, h: &HeldEntry, new: &HeldEntry) {
    let e = engine::get();
    // SAFETY: the caller's state.
    let desc = unsafe { describe(state) };
    let v = if h.instance == new.instance {
        if h.has(F_SHARED) && new.has(F_SHARED) {
            reports::recursive_read(e, h, new, &desc)
        } else {
            reports::double_lock(e, h, new, &desc)
        }
    } else {
        reports::nesting_order(e, h, new, &desc)
    };
    sink::submit(v);
}

/// The held stack is deeper than the engine tracks.
///
/// # Safety
/// `state` is the current context's state.
#[cold]
#[inline(never)]
pub(super) unsafe fn overflow(state: *mut ContextState) {
    let warned =
        |o: &mut crate::context::state::Owned| !std::mem::replace(&mut o.overflow_warned, true);
    // SAFETY: `state` is the current context's own (caller contract), and `warned` touches only its flag, calling nothing back into the engine.
    let first = unsafe { (*state).with_owned(warned) };
    if first {
        // SAFETY: the caller's state.
        let desc = unsafe { describe(state) };
        tracing::warn!(
            target: "perf_validation",
            "{desc} holds more than {} locks at once; deeper acquisitions are not validated",
            crate::context::state::MAX_HELD
        );
    }
}
