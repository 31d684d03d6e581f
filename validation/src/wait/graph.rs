//! The wait-for graph: which contexts wait, on what, and what they hold.
//!
//! A wait is recorded in its own context's state: in its inline wait (`inline_wait.rs`)
//! if it is the context's only wait outside the graph, else in its
//! `CtxWaitList`, under the state's `remote` lock. Starting and ending one
//! touches no shared structure, only per-context state the owner nearly
//! always finds free. The process-wide parts are small and mostly read:
//!
//! - the **registry**, contexts that have recorded a wait (id -> state),
//!   entered once per context and left when its state is freed;
//! - the **holders index**, lock resource -> the waiting contexts that hold
//!   it (a context publishes what it holds when its first graph wait starts,
//!   and withdraws it when its last one ends);
//! - the **hints**, a counting filter over "this context is waiting" and
//!   "a waiting context holds this resource", read without a lock.
//!
//! Who a wait waits *for* is resolved when a check runs:
//!
//! - a lock: every waiting context that holds it (a holder that is not
//!   waiting cannot be part of a cycle); all of them must release, so one
//!   stuck holder is enough to be stuck;
//! - semaphore permits: the contexts holding permits; any one of them can
//!   release, so all must be stuck, and they must account for every permit
//!   handed out;
//! - a receive: every context that holds a live sender (a sender is claimed
//!   by the context that last used it); any one can send, so all must be
//!   stuck, and no sender may be unclaimed;
//! - a send on a full channel: the context that last polled the receiver.
//!
//! # Which waits take part
//!
//! A wait can be part of a cycle only if someone can wait for its context:
//! the context holds a lock or permits, or has a channel role (it has used a
//! sender, or polled the receiver of a bounded channel). Other waits are
//! left out of the graph — a lock wait by a context that holds nothing
//! records nothing at all beyond a counter, which is what keeps contended
//! locks cheap — and a check treats a context with such a wait as able to
//! progress. Channel, semaphore and stall-prone waits are still recorded for
//! the stall scan.
//!
//! # Woken contexts
//!
//! A context may wait on several things at once (`select!`). A send that
//! ends one of those waits wakes the context, but its other waits stay
//! recorded until it runs and drops them: until then they describe a
//! context that is not blocked. So a wait ended by another context while
//! others stay recorded marks the context woken (`CtxWaitList::woken`), and
//! a check treats a woken context as able to progress, as it treats one
//! with untracked waits. The owner clears the mark when it starts or ends a
//! wait itself: it has run since the wake, and its records are its own
//! again. The mark costs the send path nothing: it is set on the remote end
//! of a listed wait, under the state lock that end takes anyway. (A wait in
//! the slot is outside the graph, and its context's other waits are too, so
//! no wait-start check follows them; the periodic scan confirms a cycle
//! across two scans, by which time a woken context has run.)
//!
//! The owner cannot tell one poll from the next, so the mark is a
//! heuristic at two edges, both left as they are: a wait ended while its
//! context is still in the poll that recorded it, and that poll then
//! recording another wait, clears the mark though the context will run
//! again (a report is possible until it does, on a multi-threaded runtime
//! only); and a context that, once woken, blocks again on its old waits
//! alone (a future kept across loop turns) without starting or ending one
//! keeps the mark, so a cycle through it goes unreported until it does.
//!
//! # When a check runs
//!
//! A graph wait first records itself, publishes its holdings, and raises
//! its hints, then reads the hints of whom it waits for (with an RMW, see
//! `WaitGraph::hinted`); only if one is set does it take the registry lock
//! and search.
//! Of two waits that close a cycle concurrently, at least one reads the
//! other's hint (each raises before it reads), and that one finds the
//! other's record: the last wait to close a cycle reports it.

use crate::channel::ChannelInner;
use crate::class::LockKind;
use crate::context::state::ContextState;
use crate::context::{ContextDesc, ContextId};
use crate::fast_hash::FastMap as HashMap;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex};
use crate::site::Site;

/// What a wait is on, for reports.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    pub(crate) kind: ResKind,
    /// The lock class, 0 for non-locks.
    pub(crate) class: u32,
    pub(crate) created: Site,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResKind {
    Lock(LockKind),
    Recv(crate::channel::ChannelKind),
    Send(crate::channel::ChannelKind),
    Other(super::WaitKind),
    /// Awaiting a task's `JoinHandle` (`created` is where it was spawned).
    Join,
}

/// Who can end a wait.
#[derive(Clone)]
pub(crate) enum Target {
    Holders {
        resource: usize,
    },
    Permits {
        resource: usize,
        outstanding: u64,
    },
    Senders(Arc<ChannelInner>),
    Receiver(Arc<ChannelInner>),
    /// A oneshot's sender, named by the channel's meta address: never
    /// claimed, so a receive on it never proves a deadlock.
    Oneshot {
        chan: usize,
    },
    /// A task's completion: only that task can end the wait.
    Task(ContextId),
    Nobody,
}

/// One lock in a waiting context's snapshot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HoldSnap {
    pub(crate) resource: usize,
    pub(crate) site: Site,
    pub(crate) permits: u32,
    pub(crate) shared: bool,
    /// An owned guard's lock (`F_OWNED`): only the confirmed scan counts it.
    pub(crate) owned: bool,
}

/// One wait, kept in its context's [`CtxWaitList`].
#[derive(Clone)]
pub(crate) struct WaitRecord {
    /// Unique within its context.
    pub(crate) id: u64,
    pub(crate) resource: Resource,
    pub(crate) site: Site,
    pub(crate) target: Target,
    /// Started under a timeout: never deadlocked, never stalled.
    pub(crate) bounded: bool,
    /// Takes part in the wait-for graph (see the module docs).
    pub(crate) graph: bool,
    /// Progress count of the resource when last seen moving (stall scan).
    pub(crate) baseline: u64,
    /// When the wait started or its resource last moved, on the engine's
    /// coarse clock (`super::clock`).
    pub(crate) since_ns: u64,
    /// Reported as provably stuck (`ChannelStall`, `WaitStall`).
    pub(crate) stall_reported: bool,
    /// Its slow-wait advisory was emitted (never a report).
    pub(crate) slow_reported: bool,
    /// The held entry the wait flagged pending (0 if none), cleared by the
    /// owner when the wait ends.
    pub(crate) instance: usize,
}

/// A context's waits, inside its state's `remote` lock.
#[derive(Default)]
pub(crate) struct CtxWaitList {
    pub(crate) records: Vec<WaitRecord>,
    pub(crate) next: u64,
    /// The context as reports name it, set by its first recorded wait.
    pub(crate) desc: Option<ContextDesc>,
    /// What the context holds, published while it has graph waits.
    pub(crate) holds: Vec<HoldSnap>,
    /// Unbounded graph waits in progress.
    pub(crate) graph_waits: u32,
    /// Another context ended one of its waits while others stayed recorded
    /// (a send that completes one branch of a `select!`), and the context
    /// has neither started nor ended a wait itself since. It was woken: the
    /// waits left may be gone the moment it runs (the branches the
    /// `select!` drops), so a check treats it as able to progress
    /// (`CtxWaits::opaque`).
    pub(crate) woken: bool,
    /// The graph whose registry lists this context (null: none).
    pub(crate) registered_in: *const WaitGraph,
}

// SAFETY: `registered_in` points to a graph that outlives every state
// registered in it (the engine's is static; models keep theirs alive), and
// is only used to unregister under that graph's lock.
unsafe impl Send for CtxWaitList {}

/// A registered context's state.
#[derive(Clone, Copy)]
pub(crate) struct StatePtr(pub(crate) *const ContextState);

// SAFETY: a registered state stays allocated until it is removed from the
// registry under the registry lock, and is only dereferenced under it.
unsafe impl Send for StatePtr {}

#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) ctxs: HashMap<ContextId, StatePtr>,
    /// Resource -> waiting contexts that hold it.
    pub(crate) holders: HashMap<usize, Holders>,
}

/// The waiting contexts holding one resource: nearly always one (a lock has
/// one holder), kept inline so that publishing it allocates nothing.
pub(crate) enum Holders {
    One(ContextId),
    Many(Vec<ContextId>),
}

impl Holders {
    fn push(&mut self, c: ContextId) {
        match self {
            Holders::One(first) => *self = Holders::Many(vec![*first, c]),
            Holders::Many(v) => v.push(c),
        }
    }

    /// Removes one `c`; true if none is left.
    fn remove(&mut self, c: ContextId) -> bool {
        match self {
            Holders::One(x) => *x == c,
            Holders::Many(v) => {
                if let Some(i) = v.iter().position(|&x| x == c) {
                    v.swap_remove(i);
                }
                v.is_empty()
            }
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = ContextId> + '_ {
        let (one, many) = match self {
            Holders::One(c) => (Some(*c), &[][..]),
            Holders::Many(v) => (None, &v[..]),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

#[cfg(not(perf_validation_loom))]
const HINT_SLOTS: usize = 4096;
#[cfg(perf_validation_loom)]
const HINT_SLOTS: usize = 8;

/// The view a deadlock check works on: the waits of the contexts reachable
/// from the one that started waiting, copied out of their states.
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) waits: HashMap<u64, WaitRecord>,
    pub(crate) ctxs: HashMap<ContextId, CtxWaits>,
    /// Resource -> waiting contexts whose snapshot holds it.
    pub(crate) holders: HashMap<usize, Vec<ContextId>>,
    /// Built by the periodic scan, whose cycles are confirmed by a second
    /// scan: holds of owned guards count (`HoldSnap::owned`).
    pub(crate) confirming: bool,
}

pub(crate) struct CtxWaits {
    pub(crate) desc: ContextDesc,
    pub(crate) holds: Vec<HoldSnap>,
    /// Keys into `Inner::waits`.
    pub(crate) waits: Vec<u64>,
    /// It also has waits the graph does not see, or was woken since its
    /// waits were recorded (`CtxWaitList::woken`): it may progress.
    pub(crate) opaque: bool,
}

pub(crate) struct WaitGraph {
    pub(crate) reg: Mutex<Registry>,
    hints: Box<[AtomicUsize]>,
}

/// A hint key: a waiting context, or a resource a waiting context holds.
#[derive(Clone, Copy)]
pub(crate) enum Hint {
    Ctx(ContextId),
    Res(usize),
}

impl Hint {
    fn slot(self) -> usize {
        let x = match self {
            Hint::Ctx(c) => c.as_u64(),
            Hint::Res(r) => (r as u64).rotate_left(17) ^ 0x5851_F42D_4C95_7F2D,
        };
        let h = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 40) as usize % HINT_SLOTS
    }
}

impl WaitGraph {
    pub(crate) fn new() -> WaitGraph {
        WaitGraph {
            reg: Mutex::new(Registry::default()),
            hints: (0..HINT_SLOTS).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    pub(crate) fn raise(&self, h: Hint) {
        self.hints[h.slot()].fetch_add(1, SeqCst);
    }

    pub(crate) fn lower(&self, h: Hint) {
        self.hints[h.slot()].fetch_sub(1, SeqCst);
    }

    /// Whether `h` may be set (false positives, never false negatives).
    ///
    /// An RMW, not a load: of two waits that each raise a hint and then
    /// read the other's, the reads are then ordered with the raises on
    /// each slot (an RMW reads the latest value, and the release/acquire
    /// pair it forms carries the reader's own raise along), so at least one
    /// of the two sees the other without relying on a total order of plain
    /// `SeqCst` loads — which the loom model does not provide either.
    pub(crate) fn hinted(&self, h: Hint) -> bool {
        self.hints[h.slot()].fetch_add(0, SeqCst) != 0
    }

    /// Lists `state` in the registry (once per context).
    pub(crate) fn register(&self, id: ContextId, state: *const ContextState) {
        crate::loom::lock(&self.reg)
            .ctxs
            .insert(id, StatePtr(state));
    }

    /// Removes `id` from the registry: its state is about to be freed.
    pub(crate) fn unregister(&self, id: ContextId) {
        crate::loom::lock(&self.reg).ctxs.remove(&id);
    }

    /// Publishes that waiting context `ctx` holds `resources`.
    pub(crate) fn publish_holds(
        &self,
        ctx: ContextId,
        resources: impl Iterator<Item = usize> + Clone,
    ) {
        {
            let mut r = crate::loom::lock(&self.reg);
            for res in resources.clone() {
                match r.holders.entry(res) {
                    std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(ctx),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(Holders::One(ctx));
                    }
                }
            }
        }
        for res in resources {
            self.raise(Hint::Res(res));
        }
    }

    /// Withdraws what [`publish_holds`](Self::publish_holds) published.
    pub(crate) fn withdraw_holds(&self, ctx: ContextId, resources: &[usize]) {
        for &res in resources {
            self.lower(Hint::Res(res));
        }
        let mut r = crate::loom::lock(&self.reg);
        for res in resources {
            if r.holders.get_mut(res).is_some_and(|h| h.remove(ctx)) {
                r.holders.remove(res);
            }
        }
    }

    /// Runs `f` on every wait of every registered context, with the
    /// context's description (under the registry lock, then each state's
    /// lock or its slot).
    pub(crate) fn for_each_record(
        &self,
        mut f: impl FnMut(ContextId, Option<&ContextDesc>, &mut WaitRecord),
    ) {
        let r = crate::loom::lock(&self.reg);
        for (&id, p) in r.ctxs.iter() {
            // SAFETY: registered states stay allocated while listed, and the registry lock is held.
            let st = unsafe { &*p.0 };
            st.with_waits(|w| {
                for rec in w.records.iter_mut() {
                    f(id, w.desc.as_ref(), rec);
                }
            });
            // `remote` is taken inside the inline wait's `READ`, never around it.
            st.inline_wait.read(|slot| {
                let desc = st.with_waits(|w| w.desc.clone());
                let mut rec = slot.to_wait_record();
                f(id, desc.as_ref(), &mut rec);
                slot.update_from(&rec);
            });
        }
    }

    /// Waits in progress over every registered context: recorded ones and
    /// the untracked lock waits of contexts that hold nothing.
    pub(crate) fn len(&self) -> usize {
        let r = crate::loom::lock(&self.reg);
        r.ctxs
            .values()
            .map(|p| {
                // SAFETY: a registered state stays allocated while it is listed, and the registry lock (`r`) is held.
                let st = unsafe { &*p.0 };
                st.untracked_waits()
                    + st.with_waits(|w| w.records.len())
                    + usize::from(st.inline_wait.occupied())
            })
            .sum()
    }

    /// Contexts listed in the registry.
    pub(crate) fn registered(&self) -> usize {
        crate::loom::lock(&self.reg).ctxs.len()
    }

    /// Resources with a published holder.
    pub(crate) fn published(&self) -> usize {
        crate::loom::lock(&self.reg).holders.len()
    }

    /// How reports name `ctx`, if it ever recorded a wait.
    pub(crate) fn desc_of(&self, ctx: ContextId) -> Option<ContextDesc> {
        let r = crate::loom::lock(&self.reg);
        let p = r.ctxs.get(&ctx)?;
        // SAFETY: a registered state stays allocated while it is listed, and the registry lock (`r`) is held.
        unsafe { (*p.0).with_waits(|w| w.desc.clone()) }
    }

    /// The waits of `ctx`, as (resource, site of the wait).
    pub(crate) fn waits_of(&self, ctx: ContextId) -> Vec<(Resource, Site)> {
        let r = crate::loom::lock(&self.reg);
        let Some(p) = r.ctxs.get(&ctx) else {
            return Vec::new();
        };
        // SAFETY: a registered state stays allocated while it is listed, and the registry lock (`r`) is held.
        let st = unsafe { &*p.0 };
        let mut out: Vec<(Resource, Site)> = st.with_waits(|w| {
            w.records
                .iter()
                .map(|r| (r.resource.clone(), r.site))
                .collect()
        });
        out.extend(st.inline_wait.read(|r| {
            let w = r.to_wait_record();
            (w.resource, w.site)
        }));
        if let Some((lock, site)) = st.untracked_lock_wait() {
            let kind = match lock >> 32 {
                0 => LockKind::Mutex,
                1 => LockKind::RwLock,
                2 => LockKind::BlockingMutex,
                _ => LockKind::Semaphore,
            };
            out.push((
                Resource {
                    kind: ResKind::Lock(kind),
                    class: lock as u32,
                    created: Site::from_location(site),
                },
                Site::from_location(site),
            ));
        }
        out
    }

    /// The contexts a wait may wait for, as far as the live state says.
    fn targets(r: &Registry, rec: &WaitRecord, out: &mut Vec<ContextId>) {
        match &rec.target {
            Target::Holders { resource } | Target::Permits { resource, .. } => {
                out.extend(r.holders.get(resource).into_iter().flat_map(Holders::iter));
            }
            Target::Senders(chan) => chan.for_each_claimant(|c| out.push(c)),
            Target::Receiver(chan) => out.extend(chan.rx_owner()),
            Target::Task(c) => out.push(*c),
            Target::Oneshot { .. } | Target::Nobody => {}
        }
    }

    /// Builds the view of every registered context — its recorded waits and
    /// its untracked lock wait, if it has exactly one (the lock's address
    /// is kept for this) — and runs `f` on it, under the registry lock. For
    /// the periodic scan (`stuck.rs`), which finds the cycles whose waits
    /// the check at wait start cannot see.
    pub(crate) fn with_full_view<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        let r = crate::loom::lock(&self.reg);
        let mut view = Inner {
            confirming: true,
            ..Inner::default()
        };
        let mut next_key = 0u64;
        for (&c, p) in r.ctxs.iter() {
            // SAFETY: a registered state stays allocated while it is listed, and the registry lock (`r`) is held.
            let st = unsafe { &*p.0 };
            let (desc, holds, mut records, woken) = st.with_waits(|w| {
                (
                    w.desc.clone().unwrap_or_else(|| ContextDesc::new(c, None)),
                    w.holds.clone(),
                    w.records.clone(),
                    w.woken,
                )
            });
            records.extend(st.inline_wait.read(|r| r.to_wait_record()));
            let untracked = st.untracked_waits();
            let mut opaque = untracked > 1 || woken;
            if untracked == 1 {
                match (st.untracked_lock_wait(), st.untracked_lock_res()) {
                    (Some((lock, site)), res) if res != 0 => {
                        let kind = match lock >> 32 {
                            0 => LockKind::Mutex,
                            1 => LockKind::RwLock,
                            _ => LockKind::BlockingMutex,
                        };
                        records.push(WaitRecord {
                            id: 0,
                            resource: Resource {
                                kind: ResKind::Lock(kind),
                                class: lock as u32,
                                created: Site::from_location(site),
                            },
                            site: Site::from_location(site),
                            target: Target::Holders { resource: res },
                            bounded: false,
                            graph: false,
                            baseline: 0,
                            since_ns: 0,
                            stall_reported: false,
                            slow_reported: false,
                            instance: 0,
                        });
                    }
                    _ => opaque = true,
                }
            }
            if records.is_empty() {
                continue;
            }
            let mut keys = Vec::with_capacity(records.len());
            for rec in records {
                if let Target::Holders { resource } | Target::Permits { resource, .. } = rec.target
                {
                    if let Some(list) = r.holders.get(&resource) {
                        view.holders.insert(resource, list.iter().collect());
                    }
                }
                next_key += 1;
                keys.push(next_key);
                view.waits.insert(next_key, rec);
            }
            view.ctxs.insert(
                c,
                CtxWaits {
                    desc,
                    holds,
                    waits: keys,
                    opaque,
                },
            );
        }
        f(&view)
    }

    /// Builds the view of every context reachable from `start` through
    /// waits, and runs `f` on it, all under the registry lock.
    pub(crate) fn with_view<R>(&self, start: ContextId, f: impl FnOnce(&Inner) -> R) -> R {
        let r = crate::loom::lock(&self.reg);
        let mut view = Inner::default();
        let mut queue = vec![start];
        let mut next_key = 0u64;
        let mut targets = Vec::new();
        while let Some(c) = queue.pop() {
            if view.ctxs.contains_key(&c) {
                continue;
            }
            let Some(p) = r.ctxs.get(&c) else { continue };
            // SAFETY: a registered state stays allocated while it is listed, and the registry lock (`r`) is held.
            let st = unsafe { &*p.0 };
            let (desc, holds, mut records, woken) = st.with_waits(|w| {
                (
                    w.desc.clone().unwrap_or_else(|| ContextDesc::new(c, None)),
                    w.holds.clone(),
                    w.records.clone(),
                    w.woken,
                )
            });
            let opaque = st.untracked_waits() > 0 || woken;
            records.extend(st.inline_wait.read(|r| r.to_wait_record()));
            let mut keys = Vec::with_capacity(records.len());
            for rec in records {
                targets.clear();
                Self::targets(&r, &rec, &mut targets);
                queue.extend(targets.iter().copied());
                if let Target::Holders { resource } | Target::Permits { resource, .. } = rec.target
                {
                    if let Some(list) = r.holders.get(&resource) {
                        view.holders.insert(resource, list.iter().collect());
                    }
                }
                next_key += 1;
                keys.push(next_key);
                view.waits.insert(next_key, rec);
            }
            view.ctxs.insert(
                c,
                CtxWaits {
                    desc,
                    holds,
                    waits: keys,
                    opaque,
                },
            );
        }
        f(&view)
    }
}

#[cfg(all(test, not(perf_validation_loom)))]
mod tests {
    use super::*;

    #[test]
    fn holders_of_a_resource_grow_past_one_and_shrink_back_to_none() {
        let (a, b, c) = (
            ContextId::thread(1),
            ContextId::thread(2),
            ContextId::thread(3),
        );
        let mut h = Holders::One(a);
        assert_eq!(h.iter().collect::<Vec<_>>(), [a]);
        h.push(b);
        h.push(c);
        assert_eq!(h.iter().collect::<Vec<_>>(), [a, b, c]);
        assert!(!h.remove(b));
        assert!(
            !h.remove(ContextId::thread(9)),
            "an absent holder changes nothing"
        );
        assert_eq!(h.iter().count(), 2);
        assert!(!h.remove(a));
        assert!(h.remove(c), "the last one leaves it empty");
        assert!(Holders::One(a).remove(a));
        assert!(!Holders::One(a).remove(b));
    }

    #[test]
    fn published_holds_are_withdrawn_whatever_the_sharing() {
        let g = WaitGraph::new();
        let (a, b) = (ContextId::thread(1), ContextId::thread(2));
        // Two waiting readers of one lock, one of them also holding another.
        g.publish_holds(a, [10usize, 20].into_iter());
        g.publish_holds(b, [10usize].into_iter());
        {
            let r = crate::loom::lock(&g.reg);
            assert_eq!(r.holders[&10].iter().collect::<Vec<_>>(), [a, b]);
            assert_eq!(r.holders[&20].iter().collect::<Vec<_>>(), [a]);
        }
        assert!(g.hinted(Hint::Res(10)) && g.hinted(Hint::Res(20)));
        g.withdraw_holds(a, &[10, 20]);
        {
            let r = crate::loom::lock(&g.reg);
            assert_eq!(r.holders[&10].iter().collect::<Vec<_>>(), [b]);
            assert!(!r.holders.contains_key(&20));
        }
        g.withdraw_holds(b, &[10]);
        assert!(crate::loom::lock(&g.reg).holders.is_empty());
        assert!(!g.hinted(Hint::Res(10)) && !g.hinted(Hint::Res(20)));
    }
}
