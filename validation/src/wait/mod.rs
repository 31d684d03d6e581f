//! Waits: what a context blocks on, for the wait-for graph and the stall
//! scan.
//!
//! - `graph.rs` — where waits are recorded (each in its own context), the
//!   registry of contexts, the holders index and the hints; which waits
//!   take part in the wait-for graph.
//! - `inline_wait.rs` — the lock-free inline wait that keeps a context's first wait
//!   outside the graph.
//! - `clock.rs` — the coarse clock waits are stamped with.
//! - `deadlock.rs` — the check run when a wait starts, and its report.
//! - `stall.rs` — the periodic scan for slow waits (advisories), and the
//!   report of waits nothing can end.
//! - `stuck.rs` — the periodic scan for wait-for cycles the check at wait
//!   start cannot see (a lock wait by a context that holds nothing, joined
//!   by its holder), confirmed across two scans.
//! - this file — [`Waiting`] (the guard every wait returns), [`WaitMeta`]
//!   (for `Notify`, `Barrier` and `watch`), and the common start path.

mod clock;
pub(crate) mod deadlock;
pub(crate) mod graph;
pub(crate) mod inline_wait;
mod stall;
mod stuck;

pub(crate) use stall::{note_untracked_idle, report_stuck, woken_from_outside};
pub use stall::{
    scan, set_stall_threshold, slow_waits, stall_threshold, SlowWait, DEFAULT_STALL_THRESHOLD,
};
pub(crate) use stuck::Confirm;

use crate::channel::{ChannelInner, ChannelKind};
use crate::class::LockKind;
use crate::context::state::{ContextState, F_COUNTED, F_OWNED, F_PENDING, F_SHARED};
use crate::context::{self, describe};
use crate::engine;
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::Arc;
use crate::mode;
use crate::sink;
use crate::site::Site;
use graph::{Hint, HoldSnap, ResKind, Resource, Target, WaitGraph, WaitRecord};
use inline_wait::InlineWaitRecord;
use std::cell::RefCell;
use std::fmt;
use std::panic::Location;

/// What a stall-only wait waits on (waits that take part in the wait-for
/// graph go through `LockMeta` or `ChannelMeta`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitKind {
    /// `Notify::notified`.
    Notify,
    /// `Barrier::wait`.
    Barrier,
    /// `watch::Receiver::changed`.
    Watch,
    /// Anything else that may block.
    Other,
}

impl WaitKind {
    /// The primitive's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitKind::Notify => "Notify",
            WaitKind::Barrier => "Barrier",
            WaitKind::Watch => "watch",
            WaitKind::Other => "wait",
        }
    }
}

/// Embedded in a `Notify`, `Barrier` or `watch` channel: where it was
/// created, so a stalled wait on it names it.
#[derive(Debug)]
pub struct WaitMeta {
    kind: WaitKind,
    created: &'static Location<'static>,
}

impl WaitMeta {
    /// Records the caller as the creation site.
    #[track_caller]
    pub const fn new(kind: WaitKind) -> WaitMeta {
        WaitMeta {
            kind,
            created: Location::caller(),
        }
    }

    /// Where the primitive was created.
    pub fn created_at(&self) -> Site {
        Site::from_location(self.created)
    }

    /// The current context starts waiting on the primitive. Such waits take
    /// no part in deadlock detection (who would wake them is unknown); a
    /// wait longer than the stall threshold is a slow-wait advisory of
    /// [`scan`], and a `WaitStall` only once every task of its runtime is
    /// blocked (nothing can end it). Drop the guard when the wait ends.
    #[track_caller]
    pub fn wait(&self) -> Waiting {
        self.wait_at(Location::caller())
    }

    /// As [`wait`](Self::wait), with the site of the wait given: a future's
    /// wait starts inside `poll`, so it passes the site its creating call
    /// (`notified()`, `changed()`, `wait()`) captured.
    pub fn wait_at(&self, site: &'static Location<'static>) -> Waiting {
        if !mode::enabled() {
            return Waiting::untracked();
        }
        start_unowned_wait(ResKind::Other(self.kind), self.created, site, || {
            Target::Nobody
        })
    }
}

/// The current context starts awaiting the `JoinHandle` of task `task`
/// (spawned at `spawned_at`), at `site`: only that task finishing ends the
/// wait, so it is an edge of the wait-for graph (a task that holds a lock
/// and joins a child needing that lock is a deadlock, whoever else keeps
/// running). A `spawn_blocking` job is a task too. Drop the guard when the
/// handle is ready or dropped.
pub fn join_wait_at(
    task: std::num::NonZeroU64,
    spawned_at: &'static Location<'static>,
    site: &'static Location<'static>,
) -> Waiting {
    if !mode::enabled() {
        return Waiting::untracked();
    }
    let joined = context::ContextId::task(task);
    if context::current_id() == Some(joined) {
        return Waiting::untracked();
    }
    start_unowned_wait(ResKind::Join, spawned_at, site, move || {
        Target::Task(joined)
    })
}

/// A wait in progress; dropping it ends the wait (the primitive drops it
/// when the wait completes or its future is dropped).
#[must_use = "the wait ends when this guard drops"]
pub struct Waiting {
    /// The state of the context that waits, or null if untracked.
    state: *mut ContextState,
    /// Where the wait is kept (the low two bits, `W_*`) and, for a listed
    /// one, its record's id above them. Two words, so the guard comes back
    /// in registers. (A lock wait with a held entry is counted by the entry
    /// itself, and its guard is empty.)
    tag: usize,
}

/// Counted in the state's untracked waits, not recorded.
const W_UNTRACKED: usize = 1;
/// Recorded in the state's slot (`inline_wait.rs`).
const W_INLINE: usize = 2;
/// Recorded in the state's list.
const W_LIST: usize = 3;
const W_KIND: usize = 3;

// SAFETY: `state` is dereferenced only while the recorded wait keeps it
// alive (`end_wait`), or when it is the current context's own live state.
unsafe impl Send for Waiting {}
// SAFETY: `&Waiting` exposes nothing.
unsafe impl Sync for Waiting {}

impl Waiting {
    /// A guard for a wait the engine does not track.
    pub const fn untracked() -> Waiting {
        Waiting {
            state: std::ptr::null_mut(),
            tag: 0,
        }
    }

    /// Whether the engine keeps anything for this wait (a record, a
    /// pending flag, a count) that dropping the guard undoes.
    pub fn is_tracked(&self) -> bool {
        !self.state.is_null()
    }
}

impl Drop for Waiting {
    /// Inline only the test for an empty guard (every counted lock wait
    /// returns one), so a future that keeps a `Waiting` grows by a compare.
    #[inline]
    fn drop(&mut self) {
        if !self.state.is_null() {
            self.end();
        }
    }
}

impl Waiting {
    /// Ends the wait (out of line: see `Drop`).
    #[inline(never)]
    fn end(&mut self) {
        let state = self.state;
        // Dropped elsewhere, a pending flag and an untracked count are
        // left (the state may be gone); only the owner touches them.
        let owner = context::current_if_exists() == state;
        let instance = match self.tag & W_KIND {
            W_UNTRACKED => {
                if owner {
                    // SAFETY: the current context's own state.
                    unsafe { (*state).untracked_wait_ended() };
                }
                0
            }
            // SAFETY: this guard owns the wait in the inline wait, which keeps the state alive until this call ends it; `owner` is exact.
            W_INLINE => unsafe { ContextState::end_slot_wait(state, owner) },
            // SAFETY: this guard owns the recorded wait, which keeps the state alive until this call ends it.
            _ => unsafe { end_recorded(state, (self.tag >> 2) as u64, owner) },
        };
        if instance != 0 && owner {
            // SAFETY: the current context's own state, alive since it runs.
            unsafe { (*state).with_owned(|o| o.set_pending(instance, false)) };
        }
    }
}

thread_local! {
    /// The resources a graph wait withdraws, copied out of its state under
    /// the state's lock (the registry's cannot be taken under it); reused
    /// from one wait to the next.
    static WITHDRAW: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Ends a wait recorded in its context's list, in the owner context if
/// `owner`; returns the held entry it flagged pending (0 if none).
///
/// # Safety
/// As [`ContextState::end_wait`].
#[cold]
#[inline(never)]
unsafe fn end_recorded(state: *mut ContextState, id: u64, owner: bool) -> usize {
    let ended = |withdraw: &mut Vec<usize>| {
        withdraw.clear();
        // SAFETY: the caller owns the recorded wait `id` (this fn's contract), which keeps the state alive until `end_wait` below ends it; the id is read first.
        let ctx = unsafe { (*state).id };
        // SAFETY: the caller owns the recorded wait `id` and ends it once, here (this fn's contract is `end_wait`'s).
        let (instance, graph) = unsafe { ContextState::end_wait(state, id, owner, withdraw) };
        if let Some(g) = graph {
            // SAFETY: a graph outlives the states recorded in it.
            let g = unsafe { &*g };
            g.lower(Hint::Ctx(ctx));
            if !withdraw.is_empty() {
                g.withdraw_holds(ctx, withdraw);
            }
        }
        instance
    };
    let reused = WITHDRAW.try_with(|w| w.try_borrow_mut().ok().map(|mut w| ended(&mut w)));
    match reused {
        Ok(Some(instance)) => instance,
        // Thread teardown: a list of its own.
        _ => ended(&mut Vec::new()),
    }
}

impl fmt::Debug for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiting")
            .field("recorded", &matches!(self.tag & W_KIND, W_INLINE | W_LIST))
            .finish()
    }
}

/// Starts a wait for a lock or semaphore (see `LockMeta::wait`) on the
/// general path: `LockMeta::wait_at` tries [`quick_lock_wait`] first.
pub(crate) fn start_lock_wait(
    resource: usize,
    kind: LockKind,
    class: u32,
    created: &'static Location<'static>,
    site: &'static Location<'static>,
    pending: Option<(*mut ContextState, usize)>,
    outstanding_permits: Option<u64>,
) -> Waiting {
    let target = match outstanding_permits {
        Some(outstanding) => Target::Permits {
            resource,
            outstanding,
        },
        None => Target::Holders { resource },
    };
    start(Start {
        kind: ResKind::Lock(kind),
        class,
        created,
        target,
        site,
        pending,
        progress: None,
    })
}

/// The common lock wait — a contended `Mutex` or `RwLock` — in its own
/// lines: by a context that holds nothing but the lock it waits for, has no
/// channel role, and is listed in the registry already. Nobody can wait for
/// such a context, so the wait stays out of the graph (`record`): it counts
/// itself and flags its held entry pending and counted, touching nothing
/// shared. The entry ends the wait (`Held::acquired`, or the entry's
/// removal), so the guard returned is empty and the waiting future keeps
/// nothing. False when the wait is not of that kind (the general path,
/// `start_lock_wait`, decides). Inlined into `LockMeta::wait_at`: it runs
/// once per contended acquisition, and the calls and argument shuffling of
/// the general path's entry cost as much as its work.
///
/// # Safety
/// `state` is the current context's own state, and `instance` the
/// instance of an entry of it.
#[inline(always)]
pub(crate) unsafe fn quick_lock_wait(
    state: *mut ContextState,
    kind: LockKind,
    class: u32,
    site: &'static Location<'static>,
    instance: usize,
) -> bool {
    // SAFETY: the caller's own state; the closure calls nothing back.
    let st = unsafe { &*state };
    // SAFETY: the caller's own state (function contract); the closure only sets flags on it.
    let quick = unsafe {
        st.with_owned(|o| {
            if !o.registered || o.channel_role {
                return false;
            }
            match o.held.as_mut_slice() {
                [top] if top.instance == instance => {
                    top.flags |= F_PENDING | F_COUNTED;
                    true
                }
                _ => false,
            }
        })
    };
    if quick {
        st.untracked_wait_started(u64::from(class) | (kind as u64) << 32, instance, site);
    }
    quick
}

/// The common wait outside the graph — a oneshot reply, a `Notify` — in
/// its own lines: by a listed context that holds nothing, has no channel
/// role and no wait in its inline wait yet. Straight into the inline wait from scalars,
/// with none of the general path's staging (`record`). `None` when the
/// wait is not of that kind (the general path decides).
#[inline(always)]
fn quick_slot_wait(
    kind: ResKind,
    created: &'static Location<'static>,
    site: &'static Location<'static>,
    target: &Target,
) -> Option<Waiting> {
    let state = context::current()?;
    // SAFETY: the current context's own state; the closure calls nothing back.
    let st = unsafe { &*state };
    // SAFETY: the current context's own state; the closure only reads it.
    let (quick, bounded) = unsafe {
        st.with_owned(|o| {
            let quick = o.registered && !o.channel_role && o.held.iter().all(|h| h.has(F_PENDING));
            (quick, o.timed > 0)
        })
    };
    if !quick || !st.inline_wait.is_free() {
        return None;
    }
    let rec = InlineWaitRecord::new(kind, 0, created, site, target, bounded, clock::now_ns(), 0)?;
    // SAFETY: the owner, running, and the inline wait is free.
    unsafe { st.inline_wait.put(rec) };
    Some(Waiting {
        state,
        tag: W_INLINE,
    })
}

/// Starts a wait on a channel: to receive (`recv`) or to send into a full one.
pub(crate) fn start_channel_wait(
    chan: &Arc<ChannelInner>,
    recv: bool,
    site: &'static Location<'static>,
) -> Waiting {
    let (kind, target) = if recv {
        (ResKind::Recv(chan.kind), Target::Senders(chan.clone()))
    } else {
        (ResKind::Send(chan.kind), Target::Receiver(chan.clone()))
    };
    start(Start {
        kind,
        class: 0,
        created: chan.created,
        target,
        site,
        pending: None,
        progress: Some(chan.delivered.load(Relaxed)),
    })
}

/// Starts a wait to receive on a oneshot, named by its meta's address
/// (`channel.rs`).
#[inline]
pub(crate) fn start_oneshot_wait(
    chan: usize,
    created: &'static Location<'static>,
    site: &'static Location<'static>,
) -> Waiting {
    start_unowned_wait(
        ResKind::Recv(ChannelKind::Oneshot),
        created,
        site,
        move || Target::Oneshot { chan },
    )
}

/// Starts a wait whose resource no context holds (a `Notify`, `Barrier` or
/// `watch` wait, a oneshot receive): the inline wait's short path if it applies,
/// else the general one, out of line. `target` builds the wait's target
/// (from scalars the caller captured), so neither path keeps a `Target`
/// alive across the other: the oneshot round trip measured 5 ns slower when
/// one `Target` value served both.
#[inline(always)]
fn start_unowned_wait(
    kind: ResKind,
    created: &'static Location<'static>,
    site: &'static Location<'static>,
    target: impl Fn() -> Target + Copy,
) -> Waiting {
    if let Some(w) = quick_slot_wait(kind, created, site, &target()) {
        return w;
    }
    start_unowned_wait_general(kind, created, site, target)
}

#[inline(never)]
fn start_unowned_wait_general(
    kind: ResKind,
    created: &'static Location<'static>,
    site: &'static Location<'static>,
    target: impl Fn() -> Target,
) -> Waiting {
    start(Start {
        kind,
        class: 0,
        created,
        target: target(),
        site,
        pending: None,
        progress: None,
    })
}

/// Whether a wait's target may be waiting itself (see `graph.rs`, "When a
/// check runs"): the only waits worth a search.
fn target_hinted(g: &WaitGraph, target: &Target) -> bool {
    match target {
        Target::Holders { resource } | Target::Permits { resource, .. } => {
            g.hinted(Hint::Res(*resource))
        }
        Target::Senders(chan) => {
            // Only a complete set of claimed senders can prove a deadlock.
            chan.all_senders_claimed() && chan.any_claimant(|c| g.hinted(Hint::Ctx(c)))
        }
        Target::Receiver(chan) => chan.rx_owner().is_some_and(|c| g.hinted(Hint::Ctx(c))),
        Target::Task(c) => g.hinted(Hint::Ctx(*c)),
        Target::Oneshot { .. } | Target::Nobody => false,
    }
}

fn start(at: Start) -> Waiting {
    let Some(state) = context::current() else {
        return Waiting::untracked();
    };
    let e = engine::get();
    // SAFETY: the current context's own state.
    let (w, found) = unsafe { record(&e.waits, state, at) };
    if let Some(f) = found {
        // May panic in Panic mode: `w` then ends the wait as it unwinds.
        sink::submit(deadlock::report(e, &f));
    }
    w
}

/// What a wait is, as [`record`] takes it.
pub(crate) struct Start {
    pub(crate) kind: ResKind,
    /// The lock class, 0 for non-locks.
    pub(crate) class: u32,
    /// Where the resource was created.
    pub(crate) created: &'static Location<'static>,
    pub(crate) target: Target,
    /// Where the wait started.
    pub(crate) site: &'static Location<'static>,
    /// The held entry to flag pending (its state, its instance).
    pub(crate) pending: Option<(*mut ContextState, usize)>,
    /// The resource's progress count now (channels).
    pub(crate) progress: Option<u64>,
}

/// Lists the context in `g`'s registry, with its description.
///
/// # Safety
/// `state` is the calling context's own state, and `g` outlives it.
#[cold]
#[inline(never)]
unsafe fn register(g: &WaitGraph, state: *mut ContextState) {
    // SAFETY: the caller's own state.
    let desc = unsafe { describe(state) };
    // SAFETY: the caller's own state (function contract), alive while it runs.
    let st = unsafe { &*state };
    st.with_waits(|wl| {
        wl.desc = Some(desc);
        wl.registered_in = g as *const WaitGraph;
    });
    g.register(st.id, state);
    // SAFETY: the caller's own state; the closure sets one flag.
    unsafe { st.with_owned(|o| o.registered = true) };
}

/// Records a wait of the context whose state is `state` in `g`, and checks
/// whether it closes a deadlock.
///
/// # Safety
/// `state` is the calling context's own state, and `g` outlives it.
pub(crate) unsafe fn record(
    g: &WaitGraph,
    state: *mut ContextState,
    at: Start,
) -> (Waiting, Option<deadlock::Found>) {
    let Start {
        kind,
        class,
        created,
        target,
        site,
        pending,
        progress,
    } = at;
    let mut instance = 0;
    // SAFETY: the current context's own state; the closure calls nothing back into the engine.
    let (holds_any, role, bounded, registered) = unsafe {
        (*state).with_owned(|o| {
            if let Some((p, inst)) = pending {
                if p == state {
                    o.set_pending(inst, true);
                    instance = inst;
                }
            }
            let holds_any = o.held.iter().any(|h| !h.has(F_PENDING));
            (holds_any, o.channel_role, o.timed > 0, o.registered)
        })
    };
    if !registered {
        // SAFETY: `state` is the calling context's own and `g` outlives it (`record`'s contract, which is `register`'s).
        unsafe { register(g, state) };
    }
    // Can another context wait for this one? Only then can this wait be
    // part of a cycle (`graph.rs`, "Which waits take part").
    let graph = holds_any || role;
    // Lock waits are the deadlock detector's alone; everything else is also
    // the stall scan's.
    if let (false, ResKind::Lock(k)) = (graph, kind) {
        if k != LockKind::Semaphore {
            let lock = u64::from(class) | (k as u64) << 32;
            let res = match target {
                Target::Holders { resource } => resource,
                _ => 0,
            };
            // SAFETY: `state` is the calling context's own (`record`'s contract), and `untracked_wait_started` is an owner-only write.
            unsafe { (*state).untracked_wait_started(lock, res, site) };
            if instance != 0 {
                // Counted by its entry, as on the short path.
                // SAFETY: the current context's own state; the closure sets one flag on an entry.
                unsafe { (*state).with_owned(|o| o.mark_counted(instance)) };
                return (Waiting::untracked(), None);
            }
            let w = Waiting {
                state,
                tag: W_UNTRACKED,
            };
            return (w, None);
        }
    }
    // SAFETY: the current context's own state.
    let st = unsafe { &*state };
    let since_ns = clock::now_ns();
    // Out of the graph, nothing below concerns the wait, and the slot
    // takes it without a lock if it is free and the wait fits.
    if !graph && st.inline_wait.is_free() {
        let rec = InlineWaitRecord::new(
            kind, class, created, site, &target, bounded, since_ns, instance,
        );
        if let Some(rec) = rec {
            // SAFETY: the current context's own state, running, and its slot is free.
            unsafe { st.inline_wait.put(rec) };
            return (
                Waiting {
                    state,
                    tag: W_INLINE,
                },
                None,
            );
        }
    }
    let rec = WaitRecord {
        id: 0,
        resource: Resource {
            kind,
            class,
            created: Site::from_location(created),
        },
        site: Site::from_location(site),
        target,
        bounded,
        graph,
        baseline: progress.unwrap_or(0),
        since_ns,
        stall_reported: false,
        slow_reported: false,
        instance,
    };
    // SAFETY: `state` is the calling context's own and `g` outlives it (`record`'s contract, which is `record_listed`'s).
    unsafe { record_listed(g, state, rec, holds_any) }
}

/// The rest of [`record`] for a wait that goes in its context's list: a
/// graph wait, or a second wait outside the graph at once. Publishes the
/// context's holdings and hints with its first graph wait, and runs the
/// deadlock check.
///
/// # Safety
/// As [`record`].
#[inline(never)]
unsafe fn record_listed(
    g: &WaitGraph,
    state: *mut ContextState,
    mut rec: WaitRecord,
    holds_any: bool,
) -> (Waiting, Option<deadlock::Found>) {
    // SAFETY: the current context's own state.
    let st = unsafe { &*state };
    let ctx = st.id;
    let counted = rec.graph && !rec.bounded;
    // Whom the wait waits for is looked at below only for a counted wait.
    let check = counted.then(|| rec.target.clone());
    let (id, first_graph_wait) = st.with_waits(|wl| {
        // It runs: whatever woke it, its records are current again
        // (`graph.rs`, "Woken contexts").
        wl.woken = false;
        wl.next += 1;
        let id = wl.next;
        rec.id = id;
        wl.records.push(rec);
        let first = counted && {
            wl.graph_waits += 1;
            wl.graph_waits == 1
        };
        if first && holds_any {
            // What the context holds, for the deadlock view; the list keeps
            // its capacity from one graph wait to the next.
            wl.holds.clear();
            // SAFETY: the current context's own state; the closure only reads it.
            unsafe {
                st.with_owned(|o| {
                    wl.holds.extend(
                        o.held
                            .iter()
                            .filter(|h| !h.has(F_PENDING))
                            .map(|h| HoldSnap {
                                resource: h.instance,
                                site: Site::from_location(h.site),
                                permits: h.permits,
                                shared: h.has(F_SHARED),
                                owned: h.has(F_OWNED),
                            }),
                    )
                })
            };
        }
        (id, first)
    });
    let w = Waiting {
        state,
        tag: (id as usize) << 2 | W_LIST,
    };
    if first_graph_wait {
        if holds_any {
            // The same entries, read again rather than copied out: the
            // owner's stack cannot change while it runs this.
            // SAFETY: the current context's own state; the closure only reads it (publishing touches the registry alone).
            unsafe {
                st.with_owned(|o| {
                    let held = o.held.iter().filter(|h| !h.has(F_PENDING));
                    g.publish_holds(ctx, held.map(|h| h.instance));
                })
            };
        }
        g.raise(Hint::Ctx(ctx));
    }
    let found = if check.is_some_and(|t| target_hinted(g, &t)) {
        g.with_view(ctx, |view| deadlock::find(view, ctx))
    } else {
        None
    };
    (w, found)
}

impl Resource {
    /// The resource's name in reports.
    pub(crate) fn label(&self, e: &engine::Engine) -> String {
        if self.class != 0 {
            return e.classes.label(self.class);
        }
        let base = self
            .created
            .file()
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(self.created.file());
        let what = match self.kind {
            ResKind::Lock(k) => k.as_str(),
            ResKind::Recv(k) | ResKind::Send(k) => k.as_str(),
            ResKind::Other(k) => k.as_str(),
            ResKind::Join => "task spawned",
        };
        format!("`{what}@{base}:{}`", self.created.line())
    }
}
