//! One context's state: the stack of locks it holds, and the mailbox through
//! which a guard released in another context removes its entry.
//!
//! # Invariants
//!
//! - `owned` (the held stack, the cached description, the timed-scope depth)
//!   is touched only by the owner — the thread, or the task while it is
//!   polled (the runtime orders successive polls) — until the owner exits.
//!   After `owner_gone` is set (under `remote`), it is touched only under the
//!   `remote` lock.
//! - Every tracked [`Held`](crate::Held) token corresponds to exactly one
//!   entry of the held stack, and only that token removes it. Hence a
//!   context state with a non-empty stack is never freed, and a token may
//!   dereference its state pointer until its entry is gone.
//! - A token released in another context pushes its key to `remote.released`
//!   and raises `pending`; the owner drains the mailbox before its next
//!   acquire or release. When the owner exits it drains the mailbox, marks
//!   itself gone, and frees the state if the stack is empty; otherwise the
//!   last remote release frees it.
//! - The context's waits live in its inline wait (`wait::slot`, its first wait
//!   outside the graph, lock-free) and in `remote.waits` (the rest). A state
//!   with a recorded wait is not freed either: the owner's exit, the last
//!   remote release and the end of the last wait each check, under `remote`,
//!   whether the owner is gone and nothing is left (the inline wait's occupancy is
//!   exact there: only the owner fills it, and a wait ended after the owner
//!   exited empties it under `remote`), and exactly one of them sees it
//!   first and frees the state (after taking it out of the wait registry, if
//!   it was listed there).

use super::id::{ContextDesc, ContextId};
use crate::chain::{mix, SEED};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use crate::loom::sync::Mutex;
use crate::wait::graph::CtxWaitList;
use crate::wait::inline_wait::{InlineWait, Taken};
use std::panic::Location;

/// The deepest held stack tracked; acquisitions past it are not validated
/// (and a warning says so once).
pub(crate) const MAX_HELD: usize = 48;

/// Held for reading (RwLock read, shared).
pub(crate) const F_SHARED: u8 = 1;
/// Taken with a successful try: it created no order edge into itself.
pub(crate) const F_TRY: u8 = 2;
/// A semaphore's permits: not part of the order graph or the chain hash.
pub(crate) const F_SEMAPHORE: u8 = 4;
/// Not yet acquired: the context is waiting for it.
pub(crate) const F_PENDING: u8 = 8;
/// With `F_PENDING`: the wait is a counted one (`wait::quick_lock_wait`),
/// counted in the state's untracked waits and ended by the entry itself —
/// by [`Held::acquired`](crate::Held::acquired), or by the entry's removal
/// if the acquisition is abandoned — so the waiting future keeps no guard.
pub(crate) const F_COUNTED: u8 = 16;
/// An owned guard's lock (`lock_owned`): attributed to the context that
/// acquired it for the wait-for graph, though the guard may have moved to
/// another task — so no order edges from it, no part in the chain hash,
/// and a cycle through it is reported only once the periodic scan has seen
/// it twice (`wait/stuck.rs`).
pub(crate) const F_OWNED: u8 = 32;

/// One lock a context holds (or waits for, while `F_PENDING`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeldEntry {
    /// The lock's address: the instance, while it is borrowed.
    pub(crate) instance: usize,
    /// The nesting key of the lock (`Nesting::ByKey`).
    pub(crate) key: u64,
    /// The hash of the chain up to and including this entry; 0 for an entry
    /// pushed onto an empty stack (computed when needed: `top_chain`).
    pub(crate) chain: u64,
    /// The class word (id and nesting bits).
    pub(crate) word: u64,
    pub(crate) site: &'static Location<'static>,
    pub(crate) permits: u32,
    pub(crate) flags: u8,
}

impl HeldEntry {
    pub(crate) fn class(&self) -> u32 {
        self.word as u32
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The chain hash after this entry, given the hash below it.
    #[inline(always)]
    pub(crate) fn chain_after(&self, below: u64) -> u64 {
        chain_after(below, self.word, self.flags)
    }
}

/// The chain hash after an entry of class word `word` with `flags`, given
/// the hash below it.
#[inline(always)]
pub(crate) fn chain_after(below: u64, word: u64, flags: u8) -> u64 {
    if flags & (F_SEMAPHORE | F_OWNED) != 0 {
        below
    } else {
        mix(below, chain_input(word, flags))
    }
}

/// What an acquisition contributes to the chain hash: the class and whether
/// it was a try (a try creates no edge, so it validates differently).
#[inline(always)]
pub(crate) fn chain_input(word: u64, flags: u8) -> u64 {
    (word & u64::from(u32::MAX)) | (u64::from(flags & F_TRY) << 40)
}

/// The owner's part of a context state.
/// `repr(C)`: the flags and the held stack first (see [`ContextState`]).
#[repr(C)]
pub(crate) struct Owned {
    /// Depth of `timed_scope`s: waits started inside one are bounded.
    pub(crate) timed: u32,
    pub(crate) overflow_warned: bool,
    /// The context has used a channel sender or polled a bounded channel's
    /// receiver, so another context may wait for it through the channel.
    pub(crate) channel_role: bool,
    /// Listed in the wait registry (mirrors `remote.waits.registered_in`).
    pub(crate) registered: bool,
    pub(crate) held: Vec<HeldEntry>,
    pub(crate) desc: Option<ContextDesc>,
}

impl Owned {
    /// The chain hash of the whole held stack. An entry pushed onto an
    /// empty stack stores 0 (its hash is needed only once something is
    /// taken above it), so it is computed here.
    #[inline(always)]
    pub(crate) fn top_chain(&self) -> u64 {
        match self.held.last() {
            None => SEED,
            Some(e) if e.chain != 0 => e.chain,
            Some(e) => e.chain_after(SEED),
        }
    }

    /// Removes the topmost entry for `instance` and returns its flags;
    /// recomputes the chain hashes of the entries above it. The caller ends
    /// a counted wait the entry still carried (`ContextState::removed`).
    #[inline(always)]
    pub(crate) fn remove(&mut self, instance: usize) -> Option<u8> {
        // Guards usually drop in reverse order: the top entry is the one.
        if self.held.last().is_some_and(|e| e.instance == instance) {
            return self.held.pop().map(|e| e.flags);
        }
        self.remove_below_top(instance)
    }

    #[cold]
    #[inline(never)]
    fn remove_below_top(&mut self, instance: usize) -> Option<u8> {
        let i = self.held.iter().rposition(|e| e.instance == instance)?;
        let flags = self.held.remove(i).flags;
        let mut h = if i == 0 { SEED } else { self.held[i - 1].chain };
        for e in &mut self.held[i..] {
            h = e.chain_after(h);
            e.chain = h;
        }
        Some(flags)
    }

    /// Makes the pending wait of the topmost entry for `instance` a counted
    /// one (`F_COUNTED`).
    pub(crate) fn mark_counted(&mut self, instance: usize) {
        if let Some(e) = self.held.iter_mut().rev().find(|e| e.instance == instance) {
            e.flags |= F_COUNTED;
        }
    }

    /// Ends the counted wait of the topmost entry for `instance`, if it
    /// carries one: clears `F_PENDING | F_COUNTED`; true if it did (the
    /// caller uncounts the wait).
    #[inline(always)]
    pub(crate) fn end_counted_wait(&mut self, instance: usize) -> bool {
        let e = match self.held.last_mut() {
            Some(e) if e.instance == instance => e,
            _ => match self.held.iter_mut().rev().find(|e| e.instance == instance) {
                Some(e) => e,
                None => return false,
            },
        };
        let counted = e.flags & F_COUNTED != 0;
        if counted {
            e.flags &= !(F_PENDING | F_COUNTED);
        }
        counted
    }

    /// Sets or clears `F_PENDING` on the topmost entry for `instance`.
    pub(crate) fn set_pending(&mut self, instance: usize, pending: bool) {
        if let Some(e) = self.held.iter_mut().rev().find(|e| e.instance == instance) {
            if pending {
                e.flags |= F_PENDING;
            } else {
                e.flags &= !F_PENDING;
            }
        }
    }
}

/// Context states allocated by [`ContextState::alloc`] and not yet freed,
/// for [`crate::stats`]: one per live context that has taken a lock or
/// waited, plus any kept by a held entry or a wait after its owner ended.
///
/// A state is allocated once per task that locks or waits, so a single
/// counter would be one more cache line every worker writes per task;
/// each thread counts in its own shard instead (a state freed on another
/// thread than the one that allocated it moves two shards, and only the
/// sum means anything).
mod live {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

    const SHARDS: usize = 16;

    #[repr(align(128))]
    struct Shard(AtomicIsize);

    static COUNTS: [Shard; SHARDS] = [const { Shard(AtomicIsize::new(0)) }; SHARDS];
    static NEXT: AtomicUsize = AtomicUsize::new(0);

    thread_local! {
        /// This thread's shard (`usize::MAX`: not chosen yet).
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }

    fn shard() -> &'static AtomicIsize {
        let i = MINE
            .try_with(|m| {
                if m.get() == usize::MAX {
                    m.set(NEXT.fetch_add(1, Relaxed) % SHARDS);
                }
                m.get()
            })
            .unwrap_or(0);
        &COUNTS[i].0
    }

    pub(super) fn add(n: isize) {
        shard().fetch_add(n, Relaxed);
    }

    /// The live count (exact once no state is being allocated or freed).
    pub(crate) fn total() -> usize {
        COUNTS
            .iter()
            .map(|c| c.0.load(Relaxed))
            .sum::<isize>()
            .max(0) as usize
    }
}

/// How many context states are allocated now.
pub(crate) fn live_states() -> usize {
    live::total()
}

struct Remote {
    released: Vec<usize>,
    owner_gone: bool,
    waits: CtxWaitList,
}

/// `repr(C)`, so that what every acquire, release and lock wait touches
/// (`pending`, the untracked-wait fields, the owner's flags and the held
/// stack's pointer and length) is in the first cache line: a task that
/// moved to another worker pulls one line of its state, not three (a test
/// pins the offsets).
#[repr(C)]
pub(crate) struct ContextState {
    pending: AtomicBool,
    /// Waits in progress that the wait-for graph does not record (see
    /// `wait::graph`): while non-zero, a deadlock check treats the context
    /// as able to progress.
    untracked: AtomicU32,
    /// The lock (class word and kind) and the site of the latest untracked
    /// wait, for an all-tasks-blocked report. Written by the owner, read
    /// whole by the watchdog: plain `std` atomics, no protocol.
    untracked_lock: std::sync::atomic::AtomicU64,
    untracked_site: std::sync::atomic::AtomicPtr<Location<'static>>,
    /// The lock (its address, as `Target::Holders` names it) of the latest
    /// untracked wait, so the periodic deadlock scan can follow it.
    untracked_res: std::sync::atomic::AtomicUsize,
    owned: UnsafeCell<Owned>,
    /// Past the first line: read by the wait-for graph's slower paths only.
    pub(crate) id: ContextId,
    remote: Mutex<Remote>,
    /// The context's first wait outside the graph, kept outside `remote`
    /// (`wait::slot`).
    pub(crate) inline_wait: InlineWait,
    /// Counts frees, so the models can check a state is freed exactly once.
    #[cfg(perf_validation_loom)]
    pub(crate) frees: Option<crate::loom::sync::Arc<crate::loom::sync::atomic::AtomicUsize>>,
}

#[cfg(perf_validation_loom)]
impl Drop for ContextState {
    fn drop(&mut self) {
        if let Some(f) = &self.frees {
            f.fetch_add(1, Relaxed);
        }
    }
}

impl ContextState {
    pub(crate) fn new(id: ContextId) -> ContextState {
        ContextState {
            id,
            owned: UnsafeCell::new(Owned {
                // Empty until the first lock: many contexts only wait (a
                // receive, a join), and a task's state lives as long as the
                // task, so eight entries up front (384 bytes) were most of
                // validation's per-task memory. The first push allocates
                // as `with_capacity` did, once per context.
                held: Vec::new(),
                desc: None,
                timed: 0,
                overflow_warned: false,
                channel_role: false,
                registered: false,
            }),
            pending: AtomicBool::new(false),
            untracked: AtomicU32::new(0),
            untracked_lock: std::sync::atomic::AtomicU64::new(0),
            untracked_site: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()),
            untracked_res: std::sync::atomic::AtomicUsize::new(0),
            remote: Mutex::new(Remote {
                released: Vec::new(),
                owner_gone: false,
                waits: CtxWaitList::default(),
            }),
            inline_wait: InlineWait::new(),
            #[cfg(perf_validation_loom)]
            frees: None,
        }
    }

    /// Allocates a state; the owner keeps the pointer and gives it back
    /// through [`owner_exit`](Self::owner_exit).
    pub(crate) fn alloc(id: ContextId) -> *mut ContextState {
        live::add(1);
        Box::into_raw(Box::new(ContextState::new(id)))
    }

    /// Runs `f` on the owner's part.
    ///
    /// # Safety
    /// The caller is the owner context, and no other reference into `owned`
    /// is live (`f` must not call back into the engine for this context).
    #[inline(always)]
    pub(crate) unsafe fn with_owned<R>(&self, f: impl FnOnce(&mut Owned) -> R) -> R {
        // SAFETY: the caller is the owner and holds no other reference, so this is the only access (see the module invariants).
        self.owned.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// Applies releases made by other contexts. Owner only.
    ///
    /// # Safety
    /// As [`with_owned`](Self::with_owned).
    #[inline(always)]
    pub(crate) unsafe fn drain(&self) {
        if self.pending.load(Acquire) {
            // SAFETY: the caller is the owner with no other reference into `owned` (`drain`'s contract, which is `drain_slow`'s).
            unsafe { self.drain_slow() }
        }
    }

    #[cold]
    #[inline(never)]
    unsafe fn drain_slow(&self) {
        let released = {
            let mut r = crate::loom::lock(&self.remote);
            self.pending.store(false, Relaxed);
            std::mem::take(&mut r.released)
        };
        // SAFETY: the caller is the owner with no other reference into `owned` (this fn's contract); the closure only removes entries.
        unsafe {
            self.with_owned(|o| {
                for i in released {
                    if let Some(f) = o.remove(i) {
                        self.removed(f);
                    }
                }
            })
        }
    }

    /// An entry with `flags` left the held stack: a counted wait it still
    /// carried (its acquisition was abandoned) ends with it. The owner, or
    /// anyone under `remote` once the owner is gone.
    #[inline(always)]
    pub(crate) fn removed(&self, flags: u8) {
        if flags & F_COUNTED != 0 {
            self.untracked_wait_ended();
        }
    }

    /// Releases `instance` on behalf of its owner, from another context (or
    /// after the owner exited).
    ///
    /// # Safety
    /// `state` came from [`alloc`](Self::alloc), and the caller owns the
    /// token of a live entry for `instance` in it (so it is not freed).
    #[cold]
    pub(crate) unsafe fn remote_release(state: *mut ContextState, instance: usize) {
        // SAFETY: the caller's entry keeps the state alive.
        let st = unsafe { &*state };
        let mut r = crate::loom::lock(&st.remote);
        if !r.owner_gone {
            r.released.push(instance);
            st.pending.store(true, Release);
            return;
        }
        st.owned.with_mut(|p| {
            // SAFETY: the owner is gone, so `owned` is only touched under `remote`, which we hold.
            let removed = unsafe { (*p).remove(instance) };
            if let Some(f) = removed {
                st.removed(f);
            }
        });
        let free = st.free_decision(&r);
        drop(r);
        if let Some(graph) = free {
            // SAFETY: decided under `remote`: the caller's entry was its last reference if nothing is left.
            unsafe { Self::free(state, graph) };
        }
    }

    /// Frees a state nothing but the wait registry can reach any more.
    ///
    /// # Safety
    /// The caller saw, under `remote`, the owner gone and no held entry and
    /// no wait left, and is the only one to have seen it.
    unsafe fn free(state: *mut ContextState, graph: *const crate::wait::graph::WaitGraph) {
        if !graph.is_null() {
            // SAFETY: a graph outlives the states registered in it.
            unsafe { (*graph).unregister((*state).id) };
        }
        // SAFETY: out of the registry, and nothing else refers to it.
        drop(unsafe { Box::from_raw(state) });
        live::add(-1);
    }

    /// Runs `f` on the context's waits, under `remote`. The state must be
    /// alive: the caller is its owner, holds a recorded wait of it, or
    /// found it in the registry under the registry lock.
    pub(crate) fn with_waits<R>(&self, f: impl FnOnce(&mut CtxWaitList) -> R) -> R {
        f(&mut crate::loom::lock(&self.remote).waits)
    }

    /// Ends the wait `id` of `state`. Returns the held entry the wait
    /// flagged pending (0 if none) and, if this was its last unbounded graph
    /// wait, the graph it is registered in: the caller lowers its hint and
    /// withdraws the holdings it published, which are copied into
    /// `withdraw` (the state's list keeps its capacity). `by_owner` says
    /// whether the owner context ends it: ended by another, with other
    /// waits left, it marks the context woken (`CtxWaitList::woken`).
    ///
    /// # Safety
    /// The caller owns the [`Waiting`](crate::Waiting) of a recorded wait of
    /// `state` (which keeps the state alive) and calls this once for it.
    pub(crate) unsafe fn end_wait(
        state: *mut ContextState,
        id: u64,
        by_owner: bool,
        withdraw: &mut Vec<usize>,
    ) -> (usize, Option<*const crate::wait::graph::WaitGraph>) {
        // SAFETY: the recorded wait keeps the state alive.
        let st = unsafe { &*state };
        let mut r = crate::loom::lock(&st.remote);
        let w = &mut r.waits;
        let Some(i) = w.records.iter().position(|x| x.id == id) else {
            return (0, None);
        };
        let rec = w.records.swap_remove(i);
        // Ended by another context (a send), the context is woken; its
        // waits left may be over once it runs (`wait::graph`, "Woken
        // contexts").
        w.woken = !by_owner && !w.records.is_empty();
        let counted = rec.graph && !rec.bounded;
        let mut withdrawn = None;
        if counted {
            w.graph_waits -= 1;
            if w.graph_waits == 0 {
                withdraw.extend(w.holds.iter().map(|h| h.resource));
                w.holds.clear();
                withdrawn = Some(w.registered_in);
            }
        }
        let free = st.free_decision(&r);
        drop(r);
        if let Some(graph) = free {
            // SAFETY: decided under `remote`: the ended wait was its last reference if nothing is left.
            unsafe { Self::free(state, graph) };
        }
        (rec.instance, withdrawn)
    }

    /// Ends the wait in the inline wait of `state`; `owner` says whether the
    /// caller is the state's owner context. Returns the held entry the wait
    /// flagged pending (0 if none).
    ///
    /// # Safety
    /// The caller owns the [`Waiting`](crate::Waiting) of the wait in the
    /// slot (which keeps the state alive) and calls this once for it;
    /// `owner` is true only in the owner context.
    pub(crate) unsafe fn end_slot_wait(state: *mut ContextState, owner: bool) -> usize {
        // SAFETY: the wait in the inline wait keeps the state alive.
        let st = unsafe { &*state };
        if owner {
            // SAFETY: the owner, ending its own wait in the inline wait.
            return unsafe { st.inline_wait.end_as_owner() };
        }
        // SAFETY: the caller's wait is in the inline wait.
        match unsafe { st.inline_wait.take_elsewhere() } {
            Taken::Done(rec) => rec.instance(),
            Taken::OwnerGone(rec) => {
                let r = crate::loom::lock(&st.remote);
                st.inline_wait.clear_gone();
                let free = st.free_decision(&r);
                drop(r);
                if let Some(graph) = free {
                    // SAFETY: decided under `remote`: the inline wait's wait, emptied here, was its last reference if nothing is left.
                    unsafe { Self::free(state, graph) };
                }
                rec.instance()
            }
        }
    }

    /// Counts a wait the graph does not record (see `untracked`), a wait
    /// for lock `lock` (class word | kind << 32) at address `res`, at
    /// `site`. Owner only, so plain loads and stores: other threads only
    /// read.
    pub(crate) fn untracked_wait_started(
        &self,
        lock: u64,
        res: usize,
        site: &'static Location<'static>,
    ) {
        let n = self.untracked.load(Relaxed);
        self.untracked.store(n + 1, Relaxed);
        self.untracked_res
            .store(res, std::sync::atomic::Ordering::Relaxed);
        self.untracked_lock
            .store(lock, std::sync::atomic::Ordering::Relaxed);
        self.untracked_site.store(
            site as *const Location<'static> as *mut Location<'static>,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The address of the lock of the latest untracked wait (see
    /// [`untracked_lock_wait`](Self::untracked_lock_wait)).
    pub(crate) fn untracked_lock_res(&self) -> usize {
        self.untracked_res
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The latest untracked lock wait, if one is in progress: the lock's
    /// class word | kind << 32, and the site.
    pub(crate) fn untracked_lock_wait(&self) -> Option<(u64, &'static Location<'static>)> {
        if self.untracked_waits() == 0 {
            return None;
        }
        let lock = self
            .untracked_lock
            .load(std::sync::atomic::Ordering::Relaxed);
        let site = self
            .untracked_site
            .load(std::sync::atomic::Ordering::Relaxed);
        // SAFETY: only ever set from a `&'static Location`.
        (!site.is_null()).then(|| (lock, unsafe { &*site }))
    }

    /// The end of a wait counted by
    /// [`untracked_wait_started`](Self::untracked_wait_started). Owner only.
    pub(crate) fn untracked_wait_ended(&self) {
        let n = self.untracked.load(Relaxed);
        self.untracked.store(n.saturating_sub(1), Relaxed);
    }

    pub(crate) fn untracked_waits(&self) -> usize {
        self.untracked.load(Relaxed) as usize
    }

    /// The owner is gone (the task completed, the thread exited).
    ///
    /// # Safety
    /// `state` came from [`alloc`](Self::alloc), the caller is its owner,
    /// and calls this once, after its last owner access.
    pub(crate) unsafe fn owner_exit(state: *mut ContextState) {
        // SAFETY: still alive: only this call or the last remote release frees it, and the latter needs `owner_gone`.
        let st = unsafe { &*state };
        let mut r = crate::loom::lock(&st.remote);
        let released = std::mem::take(&mut r.released);
        r.owner_gone = true;
        st.owned.with_mut(|p| {
            // SAFETY: the owner's last access; `remote` is held, so no remote release touches `owned` concurrently.
            let o = unsafe { &mut *p };
            for i in released {
                if let Some(f) = o.remove(i) {
                    st.removed(f);
                }
            }
        });
        // From here a wait left in the inline wait can only be emptied under `remote`.
        st.inline_wait.owner_exits();
        let free = st.free_decision(&r);
        drop(r);
        if let Some(graph) = free {
            // SAFETY: decided under `remote`: the owner's was the last reference if nothing is left.
            unsafe { Self::free(state, graph) };
        }
    }

    /// The one free decision, taken under `remote` (`r`) by whoever may
    /// have removed the state's last reference (the owner's exit, a release
    /// or the end of a wait after it): if the owner is gone and no held
    /// entry, listed wait or slot wait is left, nothing else can reach the
    /// state, and only this caller saw it (each removal happens under
    /// `remote`). Returns the graph to unregister from, for the caller to
    /// [`free`](Self::free) the state once it has unlocked `r`. (The free
    /// is the caller's: a guard passed into the function that frees would
    /// be a reference into the freed state that outlives it.)
    fn free_decision(&self, r: &Remote) -> Option<*const crate::wait::graph::WaitGraph> {
        let done = r.owner_gone
            && r.waits.records.is_empty()
            && !self.inline_wait.occupied()
            && self.owned.with_mut(|p| {
                // SAFETY: the owner is gone: `owned` is only touched under `remote`, which the caller holds.
                unsafe { (*p).held.is_empty() }
            });
        done.then_some(r.waits.registered_in)
    }
}

#[cfg(all(test, not(perf_validation_loom)))]
mod layout_tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// What an acquire, a release and a lock wait touch is in the first
    /// cache line of the state (see [`ContextState`]).
    #[test]
    fn the_hot_fields_share_the_first_cache_line() {
        let owned = offset_of!(ContextState, owned);
        let ends = [
            offset_of!(ContextState, pending) + 1,
            offset_of!(ContextState, untracked) + 4,
            offset_of!(ContextState, untracked_lock) + 8,
            offset_of!(ContextState, untracked_site) + 8,
            owned + offset_of!(Owned, timed) + 4,
            owned + offset_of!(Owned, channel_role) + 1,
            owned + offset_of!(Owned, registered) + 1,
            owned + offset_of!(Owned, held) + size_of::<Vec<HeldEntry>>(),
        ];
        assert!(ends.iter().all(|&e| e <= 64), "{ends:?}");
        assert_eq!(std::mem::align_of::<ContextState>() % 64, 0);
    }
}
