//! What a lock primitive embeds ([`LockMeta`]) and the token its guard keeps
//! ([`Held`]).
//!
//! - this file — the inline path of acquire and release.
//! - `validate.rs` — the cold path: a chain not seen before is checked for
//!   double locks, recursive reads, hierarchy violations and lock-order
//!   cycles, and remembered if clean.
//! - `reports.rs` — the wording of those reports.
//!
//! # How a primitive calls it
//!
//! ```text
//! lock():       held = meta.acquire(access)        before trying (checks order, may report)
//!               if it must wait: w = meta.wait(&held)   (deadlock check; drop w when done)
//!               guard keeps `held`; dropping it releases the entry
//! try_lock():   on success, held = meta.try_acquired(access)
//! lock_owned(): meta.check_owned(access) before trying; nothing is kept
//! Semaphore:    held = meta.acquire_permits(n); w = meta.wait_permits(&held, outstanding)
//! ```
//!
//! Each has an `*_at` twin taking the site explicitly, for futures that
//! capture their caller's site when created and acquire when polled.
//!
//! # The inline path
//!
//! Acquire: one mode load, one load of the lock's cached class word, the
//! context lookup, one load of the context's remote-release flag, the chain
//! hash of the held stack's top entry mixed with the new class, and — when
//! something is held — one thread-local compare against the chain cache; then
//! a push. Release: the context lookup, a compare, and a pop.

mod reports;
pub(crate) mod validate;

use crate::chain;
use crate::class::{LockClass, LockKind, WORD_NESTS};
use crate::context::state::{
    chain_after, ContextState, HeldEntry, F_OWNED, F_SEMAPHORE, F_SHARED, F_TRY, MAX_HELD,
};
use crate::context::{self};
use crate::instance;
use crate::mode;
use crate::site::Site;
use crate::wait::{self, Waiting};
use std::cell::Cell;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How a lock is being taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Exclusively (`Mutex::lock`, `RwLock::write`).
    Exclusive,
    /// Shared (`RwLock::read`).
    Shared,
}

/// The engine's view of one lock instance, embedded in the primitive.
///
/// Its class is the creation site (`#[track_caller]`) unless an explicit
/// [`LockClass`] is given. The class is resolved on first acquisition and
/// cached in one word.
pub struct LockMeta {
    /// The class id and nesting bits, 0 until resolved. A cache of the
    /// (model-checked) class table, so a plain `std` atomic, which keeps
    /// `new` const.
    word: AtomicU64,
    class: Option<&'static LockClass>,
    created: &'static Location<'static>,
    key: u64,
    kind: LockKind,
}

impl LockMeta {
    /// A lock whose class is the caller's site.
    #[track_caller]
    pub const fn new(kind: LockKind) -> LockMeta {
        LockMeta {
            word: AtomicU64::new(0),
            class: None,
            created: Location::caller(),
            key: 0,
            kind,
        }
    }

    /// A lock of an explicit class.
    #[track_caller]
    pub const fn with_class(kind: LockKind, class: &'static LockClass) -> LockMeta {
        LockMeta {
            word: AtomicU64::new(0),
            class: Some(class),
            created: Location::caller(),
            key: 0,
            kind,
        }
    }

    /// A lock of an explicit class with a nesting key (for classes declared
    /// [`Nesting::ByKey`](crate::Nesting::ByKey): instances nest in
    /// increasing key order).
    #[track_caller]
    pub const fn with_class_and_key(
        kind: LockKind,
        class: &'static LockClass,
        key: u64,
    ) -> LockMeta {
        LockMeta {
            word: AtomicU64::new(0),
            class: Some(class),
            created: Location::caller(),
            key,
            kind,
        }
    }

    /// The primitive kind.
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// Where the lock was created.
    pub fn created_at(&self) -> Site {
        Site::from_location(self.created)
    }

    /// The explicit class, if one was given (else the class is the
    /// creation site).
    pub fn class(&self) -> Option<&'static LockClass> {
        self.class
    }

    /// The nesting key.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// Validates an acquisition that may block, then records the lock as
    /// held by the current context. Call before trying to take the lock (so
    /// a double lock is reported instead of hanging); keep the returned
    /// token in the guard (or in the lock future until it completes —
    /// dropping it un-records the lock).
    #[track_caller]
    #[inline]
    pub fn acquire(&self, access: Access) -> Held {
        self.track(access, Location::caller(), How::Blocking, 1)
    }

    /// As [`acquire`](Self::acquire), with the acquisition site given: for
    /// a lock future that captures its caller's site when it is created
    /// (`lock()` is `#[track_caller]`) and acquires when first polled,
    /// where `#[track_caller]` no longer reaches the user's code.
    #[inline]
    pub fn acquire_at(&self, access: Access, site: &'static Location<'static>) -> Held {
        self.track(access, site, How::Blocking, 1)
    }

    /// Records a lock obtained by a successful `try_lock`: a try cannot
    /// block, so it is not validated, but locks taken while it is held are
    /// ordered after it.
    #[track_caller]
    #[inline]
    pub fn try_acquired(&self, access: Access) -> Held {
        self.track(access, Location::caller(), How::Try, 1)
    }

    /// Validates an acquisition whose guard may move to another task
    /// (`lock_owned`, owned guards): order and double-lock checks run, but
    /// the lock is not recorded as held, since the engine cannot follow the
    /// guard.
    #[track_caller]
    #[inline]
    pub fn check_owned(&self, access: Access) {
        drop(self.track(access, Location::caller(), How::CheckOnly, 1));
    }

    /// Validates and records an acquisition whose guard may move to another
    /// task (`lock_owned`): checked like [`acquire_at`](Self::acquire_at),
    /// and recorded as held by the current context for the wait-for graph
    /// only — no lock orders start from it (the guard may be elsewhere when
    /// the next lock is taken), and a deadlock through it is reported only
    /// once it has stayed unchanged across two periodic scans. Keep the
    /// token with the guard; dropping it anywhere un-records it.
    #[inline]
    pub fn acquire_owned_at(&self, access: Access, site: &'static Location<'static>) -> Held {
        self.track(access, site, How::Owned, 1)
    }

    /// As [`check_owned`](Self::check_owned), with the site given (see
    /// [`acquire_at`](Self::acquire_at)).
    #[inline]
    pub fn check_owned_at(&self, access: Access, site: &'static Location<'static>) {
        drop(self.track(access, site, How::CheckOnly, 1));
    }

    /// Records `permits` semaphore permits as held by the current context
    /// (not ordered: a semaphore takes part only in the wait-for graph).
    /// Call before trying; keep the token with the permit.
    #[track_caller]
    #[inline]
    pub fn acquire_permits(&self, permits: u32) -> Held {
        self.track(Access::Shared, Location::caller(), How::Blocking, permits)
    }

    /// As [`acquire_permits`](Self::acquire_permits), with the site given
    /// (see [`acquire_at`](Self::acquire_at)).
    #[inline]
    pub fn acquire_permits_at(&self, permits: u32, site: &'static Location<'static>) -> Held {
        self.track(Access::Shared, site, How::Blocking, permits)
    }

    /// The current context starts waiting for this lock; `held` is the
    /// token [`acquire`](Self::acquire) returned (or [`Held::untracked`]
    /// after [`check_owned`](Self::check_owned)). If this wait closes a
    /// wait-for cycle, a `Deadlock` is reported now. Drop the returned
    /// guard when the wait ends (lock obtained or future dropped), and call
    /// [`Held::acquired`] once the lock is obtained: the wait of a context
    /// that holds nothing else is counted by `held`'s entry itself (the
    /// guard is then empty), and ends there, or when `held` is dropped.
    #[track_caller]
    pub fn wait(&self, held: &Held) -> Waiting {
        self.wait_at(held, Location::caller())
    }

    /// As [`wait`](Self::wait), with the site of the wait given: a lock
    /// future's wait starts inside `poll`, away from the user's code, so it
    /// passes the site its `lock()` call captured.
    #[inline]
    pub fn wait_at(&self, held: &Held, site: &'static Location<'static>) -> Waiting {
        if !mode::enabled() {
            return Waiting::untracked();
        }
        let word = self.word();
        let state = held.state;
        if !state.is_null()
            && context::current_if_exists() == state
            // SAFETY: `state` is the current context's own (checked above), and `held.instance` one of its entries (the token's).
            && unsafe { wait::quick_lock_wait(state, self.kind, word as u32, site, held.instance) }
        {
            return Waiting::untracked();
        }
        self.wait_general(held, word, site)
    }

    /// [`wait_at`](Self::wait_at) when the wait is not the common one.
    #[inline(never)]
    fn wait_general(&self, held: &Held, word: u64, site: &'static Location<'static>) -> Waiting {
        wait::start_lock_wait(
            self.addr(),
            self.kind,
            word as u32,
            self.created,
            site,
            held.pending_key(),
            None,
        )
    }

    /// The current context starts waiting for semaphore permits.
    /// `outstanding` is how many permits are currently handed out (the
    /// semaphore's capacity minus its available permits); the engine
    /// concludes a deadlock only when every one of them is held by a context
    /// that is itself stuck.
    #[track_caller]
    pub fn wait_permits(&self, held: &Held, outstanding: u64) -> Waiting {
        self.wait_permits_at(held, outstanding, Location::caller())
    }

    /// As [`wait_permits`](Self::wait_permits), with the site of the wait
    /// given (see [`wait_at`](Self::wait_at)).
    pub fn wait_permits_at(
        &self,
        held: &Held,
        outstanding: u64,
        site: &'static Location<'static>,
    ) -> Waiting {
        if !mode::enabled() {
            return Waiting::untracked();
        }
        let word = self.word();
        wait::start_lock_wait(
            self.addr(),
            self.kind,
            word as u32,
            self.created,
            site,
            held.pending_key(),
            Some(outstanding),
        )
    }

    fn addr(&self) -> usize {
        self as *const LockMeta as usize
    }

    #[inline(always)]
    pub(crate) fn word(&self) -> u64 {
        let w = self.word.load(Relaxed);
        if w != 0 {
            w
        } else {
            self.resolve()
        }
    }

    /// Resolves the class on the first acquisition of this instance: for
    /// an explicit class, one load of the class's own cache; for a site
    /// class, a per-thread cache keyed by the creation `Location`, then the
    /// class table. The instance's id is drawn here too.
    #[cold]
    #[inline(never)]
    fn resolve(&self) -> u64 {
        let w = match self.class {
            Some(c) => crate::engine::get().classes.intern_static(c, self.kind),
            None => site_class(self.created, self.kind),
        };
        // The instance's own id rides along (`instance.rs`).
        let w = w | instance::next_id_bits();
        self.word.store(w, Relaxed);
        w
    }

    #[inline(always)]
    fn track(
        &self,
        access: Access,
        site: &'static Location<'static>,
        how: How,
        permits: u32,
    ) -> Held {
        if !mode::enabled() {
            return Held::untracked();
        }
        let word = self.word();
        let Some(state) = context::current() else {
            return Held::untracked();
        };
        let mut flags = if access == Access::Shared {
            F_SHARED
        } else {
            0
        };
        if how == How::Try {
            flags |= F_TRY;
        }
        if self.kind == LockKind::Semaphore {
            flags |= F_SEMAPHORE;
        }
        if how == How::Owned {
            flags |= F_OWNED;
        }
        // SAFETY: `state` is the current context's own state, and no reference into it outlives these closures.
        let st = unsafe { &*state };
        // SAFETY: the current context's own state (owner-only `drain` and `with_owned`); the closure only reads the stack's length.
        let depth = unsafe {
            st.drain();
            st.with_owned(|o| o.held.len())
        };
        // Nothing held: nothing to validate, and the hash waits until
        // something is taken above this entry (`Owned::top_chain`).
        let chain = if depth == 0 {
            0
        } else {
            // SAFETY: the current context's own state; the closure only reads the top entry.
            chain_after(unsafe { st.with_owned(|o| o.top_chain()) }, word, flags)
        };
        // The entry is built where it is needed: one built early, staged on
        // the stack for validation and copied out later, stalls store
        // forwarding on the common path.
        let entry = move || HeldEntry {
            instance: self.addr(),
            key: self.key,
            chain,
            word,
            site,
            permits,
            flags,
        };
        if how != How::Try && flags & F_SEMAPHORE == 0 && depth > 0 {
            if word & WORD_NESTS != 0 {
                // SAFETY: `state` is the current context's.
                unsafe { validate::nesting(state, &entry()) };
            }
            if !chain::cached(chain) {
                // SAFETY: `state` is the current context's.
                unsafe { validate::chain(state, &entry()) };
            }
        }
        if how == How::CheckOnly {
            return Held::untracked();
        }
        if depth >= MAX_HELD {
            // SAFETY: `state` is the current context's.
            unsafe { validate::overflow(state) };
            return Held::untracked();
        }
        // SAFETY: the current context's own state; validation has returned and holds no reference into it.
        unsafe { st.with_owned(|o| o.held.push(entry())) };
        Held {
            state,
            instance: self.addr(),
        }
    }
}

const SITE_SLOTS: usize = 64;

thread_local! {
    /// (creation `Location` address | kind, class word) of recently
    /// resolved site classes. Class words never change, so entries never go
    /// stale.
    static SITE_CLASSES: [Cell<(usize, u64)>; SITE_SLOTS] =
        const { [const { Cell::new((0, 0)) }; SITE_SLOTS] };
}

fn site_class(created: &'static Location<'static>, kind: LockKind) -> u64 {
    // A `Location` is 8-aligned: the kind fits in the low bits.
    let key = (created as *const Location<'static>).addr() | kind as usize;
    let slot = (key.wrapping_mul(0x9E37_79B9) >> 16) % SITE_SLOTS;
    if let Ok((k, w)) = SITE_CLASSES.try_with(|c| c[slot].get()) {
        if k == key && w != 0 {
            return w;
        }
    }
    let w = crate::engine::get()
        .classes
        .intern_site(Site::from_location(created), kind);
    let _ = SITE_CLASSES.try_with(|c| c[slot].set((key, w)));
    w
}

impl Drop for LockMeta {
    /// An instance that nested with another of its class leaves the
    /// instance-order graph with its edges; the others pay one load of the
    /// filter.
    #[inline]
    fn drop(&mut self) {
        let id = instance::id_of(*self.word.get_mut());
        if id != 0 && instance::maybe_in_graph(id) {
            instance::forget(id);
        }
    }
}

impl fmt::Debug for LockMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockMeta")
            .field("kind", &self.kind)
            .field("class", &self.class.map(LockClass::name))
            .field("created", &self.created_at())
            .finish()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Blocking,
    Try,
    CheckOnly,
    /// For an owned guard: checked like a blocking acquisition, recorded
    /// with `F_OWNED`.
    Owned,
}

/// A lock recorded as held by a context. Dropping it (with the guard that
/// keeps it) removes the record, from whichever context drops it.
#[must_use = "dropping a Held un-records the lock; keep it in the guard"]
pub struct Held {
    /// The state of the context that acquired, or null if untracked.
    state: *mut ContextState,
    instance: usize,
}

// SAFETY: `state` is dereferenced only through `ContextState`'s protocol:
// directly when it is the current context's own state, otherwise through
// `remote_release`, which is safe from any thread while this token's entry
// exists (see `context::state`).
unsafe impl Send for Held {}
// SAFETY: `&Held` gives no access to the state at all.
unsafe impl Sync for Held {}

impl Held {
    /// A token that records nothing (validation off, or owned guards).
    pub const fn untracked() -> Held {
        Held {
            state: std::ptr::null_mut(),
            instance: 0,
        }
    }

    /// Whether the lock is recorded.
    pub fn is_tracked(&self) -> bool {
        !self.state.is_null()
    }

    fn pending_key(&self) -> Option<(*mut ContextState, usize)> {
        (!self.state.is_null()).then_some((self.state, self.instance))
    }

    /// The acquisition this token was made for has completed (the lock is
    /// obtained): ends a counted wait its entry carries (see
    /// [`LockMeta::wait_at`]). Call it whenever a wait was started for this
    /// token, before using the lock; a no-op otherwise. In another context
    /// than the one that acquired it does nothing: the entry's wait then
    /// ends when the token is dropped.
    #[inline]
    pub fn acquired(&self) {
        if self.state.is_null() || context::current_if_exists() != self.state {
            return;
        }
        // SAFETY: the token's state is the current context's own.
        unsafe {
            let st = &*self.state;
            let counted = st.with_owned(|o| o.end_counted_wait(self.instance));
            if counted {
                st.untracked_wait_ended();
            }
        }
    }

    /// Takes the token apart for a primitive that keeps it in one word
    /// between polls: its state pointer (null if untracked; a state is
    /// 64-aligned, so the low bits are free for the caller's tags). Rebuild
    /// it with [`from_state`](Self::from_state) and the same `meta`.
    pub fn into_state(self) -> *mut () {
        let state = self.state.cast::<()>();
        std::mem::forget(self);
        state
    }

    /// Rebuilds a token taken apart with [`into_state`](Self::into_state).
    ///
    /// # Safety
    /// `state` came from `into_state` on a token that `meta` made (its
    /// `acquire*`), untagged, and is rebuilt once.
    pub unsafe fn from_state(state: *mut (), meta: &LockMeta) -> Held {
        Held {
            state: state.cast::<ContextState>(),
            instance: if state.is_null() { 0 } else { meta.addr() },
        }
    }
}

impl Drop for Held {
    #[inline]
    fn drop(&mut self) {
        if self.state.is_null() {
            return;
        }
        if context::current_if_exists() == self.state {
            // SAFETY: the token's state is the current context's own.
            unsafe {
                let st = &*self.state;
                st.drain();
                if let Some(f) = st.with_owned(|o| o.remove(self.instance)) {
                    st.removed(f);
                }
            }
        } else {
            // SAFETY: this token's entry is still in the state (only this token removes it), which keeps the state alive.
            unsafe { ContextState::remote_release(self.state, self.instance) };
        }
    }
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("tracked", &self.is_tracked())
            .finish()
    }
}
