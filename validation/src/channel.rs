//! What a channel embeds ([`ChannelMeta`]) and what each sender handle keeps
//! ([`SenderClaim`]).
//!
//! The engine needs three facts about a channel to take part in deadlock
//! detection and stall scans:
//!
//! - who owns the receiver: the context that last polled it (a sender waiting
//!   on a full channel waits for that context);
//! - who holds the senders: each sender is *claimed* by the context that last
//!   used it (a receiver waiting on an empty channel waits for all of them).
//!   A new or cloned sender is unclaimed until first used, since it may be
//!   moved into another task before then; a sender claimed by two contexts
//!   in turn after being moved once is treated as shared and unknown. A
//!   receive wait with any unknown sender is never concluded deadlocked;
//!   it is reported only if every task of its runtime is blocked;
//! - progress: how many messages the receiver took.
//!
//! Dropping a channel end is never reported: a receiver dropped with
//! messages queued (the reader took what it needed), a sender dropped unsent
//! (how a oneshot cancels), a broadcast value nobody read (a shutdown
//! message after the reader finished) are tokio idioms, and "a report is a
//! bug" (crate docs). What is wrong is a wait that can never end: see
//! `wait/stall.rs` and `wait/deadlock.rs`.
//!
//! A channel created while validation is `Off` keeps no state at all.
//!
//! A oneshot keeps none of the three: its one sender is consumed by its only
//! use (never claimed), its receiver cannot be waited for, and its receive
//! ends with the one message. It keeps only its kind and creation site,
//! inline, and its waits name it by the meta's address — so a oneshot per
//! request costs the engine no allocation and no shared counter.

use crate::context::{self, ContextId};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use crate::loom::sync::{Arc, Mutex};
use crate::mode;
use crate::site::Site;
use crate::wait::{self, Waiting};
use std::fmt;
use std::panic::Location;

/// Which kind of channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// A bounded `mpsc` channel.
    Mpsc,
    /// An unbounded `mpsc` channel.
    UnboundedMpsc,
    /// A `oneshot` channel.
    Oneshot,
    /// A `broadcast` channel.
    Broadcast,
}

impl ChannelKind {
    /// Whether a sender can wait for the receiver (a full bounded channel):
    /// only then does owning the receiver let another context wait for
    /// this one.
    pub(crate) const fn senders_can_wait(self) -> bool {
        matches!(self, ChannelKind::Mpsc)
    }

    /// A short name for reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Mpsc => "mpsc",
            ChannelKind::UnboundedMpsc => "unbounded_mpsc",
            ChannelKind::Oneshot => "oneshot",
            ChannelKind::Broadcast => "broadcast",
        }
    }
}

/// A claim that marks a sender as shared (no single known holder).
const SHARED: u64 = u64::MAX;

pub(crate) struct ChannelInner {
    pub(crate) kind: ChannelKind,
    pub(crate) created: &'static Location<'static>,
    capacity: Option<usize>,
    /// Messages the receiver(s) took: the channel's progress.
    pub(crate) delivered: AtomicU64,
    /// The context that last polled the receiver (raw id, 0 = none yet).
    rx_owner: AtomicU64,
    /// Where it polled it first since becoming the owner.
    rx_site: Mutex<Option<Site>>,
    /// Live senders never used yet. Outside `claims` so that creating and
    /// dropping a sender that is never used (a oneshot sender is used once,
    /// as it is consumed) takes no lock. A check racing with a clone is
    /// harmless: the clone's source is either unclaimed itself or claimed by
    /// the running (so not deadlocked) context that clones it.
    unclaimed: AtomicU64,
    claims: Mutex<Claims>,
}

#[derive(Default)]
struct Claims {
    /// Holder, senders held, where the holder last claimed one.
    by_ctx: Vec<(ContextId, u32, Site)>,
    shared: u64,
}

impl Claims {
    fn add(&mut self, c: ContextId, site: Site) {
        match self.by_ctx.iter_mut().find(|(x, _, _)| *x == c) {
            Some((_, n, s)) => {
                *n += 1;
                *s = site;
            }
            None => self.by_ctx.push((c, 1, site)),
        }
    }

    fn remove(&mut self, c: ContextId) {
        if let Some(i) = self.by_ctx.iter().position(|(x, _, _)| *x == c) {
            self.by_ctx[i].1 -= 1;
            if self.by_ctx[i].1 == 0 {
                self.by_ctx.swap_remove(i);
            }
        }
    }
}

impl ChannelInner {
    /// The contexts holding claimed senders (with where they last used
    /// one), and whether every live sender is claimed.
    pub(crate) fn claims_snapshot(&self) -> (Vec<(ContextId, Site)>, bool) {
        let c = crate::loom::lock(&self.claims);
        (
            c.by_ctx.iter().map(|(x, _, s)| (*x, *s)).collect(),
            self.unclaimed.load(Relaxed) == 0 && c.shared == 0,
        )
    }

    /// Whether every live sender has a known holder (a receive can then be
    /// proved deadlocked).
    pub(crate) fn all_senders_claimed(&self) -> bool {
        self.unclaimed.load(Relaxed) == 0 && crate::loom::lock(&self.claims).shared == 0
    }

    /// Whether `f` holds for a context holding a claimed sender.
    pub(crate) fn any_claimant(&self, mut f: impl FnMut(ContextId) -> bool) -> bool {
        crate::loom::lock(&self.claims)
            .by_ctx
            .iter()
            .any(|(c, _, _)| f(*c))
    }

    /// Runs `f` on every context holding a claimed sender.
    pub(crate) fn for_each_claimant(&self, mut f: impl FnMut(ContextId)) {
        for (c, _, _) in crate::loom::lock(&self.claims).by_ctx.iter() {
            f(*c);
        }
    }

    /// Live senders, and how many of them have no known holder.
    pub(crate) fn senders(&self) -> (u64, u64) {
        let c = crate::loom::lock(&self.claims);
        let claimed: u64 = c.by_ctx.iter().map(|(_, n, _)| u64::from(*n)).sum();
        let unclaimed = self.unclaimed.load(Relaxed);
        (claimed + unclaimed + c.shared, unclaimed + c.shared)
    }

    pub(crate) fn rx_owner(&self) -> Option<ContextId> {
        ContextId::from_raw(self.rx_owner.load(Relaxed))
    }

    /// The receiver's owner and where it polled the receiver.
    pub(crate) fn rx_owner_at(&self) -> Option<(ContextId, Option<Site>)> {
        let site = *crate::loom::lock(&self.rx_site);
        self.rx_owner().map(|c| (c, site))
    }

    #[cold]
    #[inline(never)]
    fn set_rx_owner(&self, me: ContextId, site: Site) {
        let mut s = crate::loom::lock(&self.rx_site);
        self.rx_owner.store(me.as_u64(), Relaxed);
        *s = Some(site);
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }
}

/// The engine's view of one channel, embedded in its shared state.
///
/// A oneshot's receive waits name the channel by this meta's address: keep
/// the meta in place (in the channel's shared state) while the channel is
/// in use.
pub struct ChannelMeta {
    repr: Repr,
}

enum Repr {
    Untracked,
    /// A oneshot: nothing shared to keep (module docs).
    Oneshot {
        created: &'static Location<'static>,
    },
    Shared(Arc<ChannelInner>),
}

impl ChannelMeta {
    /// A channel created at the caller's site; `capacity` is `None` for
    /// unbounded channels. Untracked if validation is `Off` now.
    #[track_caller]
    pub fn new(kind: ChannelKind, capacity: Option<usize>) -> ChannelMeta {
        if !mode::enabled() {
            return ChannelMeta::untracked();
        }
        if kind == ChannelKind::Oneshot {
            return ChannelMeta {
                repr: Repr::Oneshot {
                    created: Location::caller(),
                },
            };
        }
        let fresh = ChannelInner {
            kind,
            created: Location::caller(),
            capacity,
            delivered: AtomicU64::new(0),
            rx_owner: AtomicU64::new(0),
            rx_site: Mutex::new(None),
            unclaimed: AtomicU64::new(0),
            claims: Mutex::new(Claims::default()),
        };
        ChannelMeta {
            repr: Repr::Shared(spare::reuse(fresh)),
        }
    }

    /// A channel the engine ignores.
    pub const fn untracked() -> ChannelMeta {
        ChannelMeta {
            repr: Repr::Untracked,
        }
    }

    /// Whether the channel is tracked.
    pub fn is_tracked(&self) -> bool {
        !matches!(self.repr, Repr::Untracked)
    }

    /// The shared state, for channels that have one (not a oneshot).
    #[inline]
    fn inner(&self) -> Option<&Arc<ChannelInner>> {
        match &self.repr {
            Repr::Shared(i) => Some(i),
            _ => None,
        }
    }

    /// How a oneshot's waits name it.
    fn addr(&self) -> usize {
        self as *const ChannelMeta as usize
    }

    #[cfg(all(test, not(perf_validation_loom)))]
    pub(crate) fn inner_for_tests(&self) -> Option<Arc<ChannelInner>> {
        self.inner().cloned()
    }

    /// A claim for a new sender handle (at creation and at every clone);
    /// the handle keeps it and drops it with itself.
    pub fn new_sender(&self) -> SenderClaim {
        new_claim(self.inner())
    }

    /// The receiver is being polled (`recv`, `try_recv`, `poll_recv`): the
    /// current context owns it.
    #[track_caller]
    #[inline]
    pub fn receiver_polled(&self) {
        let Some(inner) = self.inner() else { return };
        if let Some(me) = context::current_id() {
            if inner.rx_owner.load(Relaxed) != me.as_u64() {
                inner.set_rx_owner(me, Site::caller());
                if inner.kind.senders_can_wait() {
                    context::mark_channel_role();
                }
            }
        }
    }

    /// The receiver took `n` messages (progress for the stall scan).
    #[inline]
    pub fn delivered(&self, n: u64) {
        if let Some(inner) = self.inner() {
            inner.delivered.fetch_add(n, Relaxed);
        }
    }

    /// The current context starts waiting to receive on an empty channel.
    /// If every live sender is claimed by a context stuck waiting for this
    /// one, a `Deadlock` is reported now. Drop the guard when the wait ends.
    #[track_caller]
    pub fn recv_wait(&self) -> Waiting {
        self.recv_wait_at(Location::caller())
    }

    /// As [`recv_wait`](Self::recv_wait), with the site of the wait given:
    /// a receive future's wait starts inside `poll`, so it passes the site
    /// its `recv()` call captured.
    #[inline]
    pub fn recv_wait_at(&self, site: &'static Location<'static>) -> Waiting {
        if !mode::enabled() {
            return Waiting::untracked();
        }
        match &self.repr {
            Repr::Shared(inner) => wait::start_channel_wait(inner, true, site),
            Repr::Oneshot { created } => wait::start_oneshot_wait(self.addr(), created, site),
            Repr::Untracked => Waiting::untracked(),
        }
    }

    /// The current context starts waiting for room in a full channel. If the
    /// receiver's owner is stuck waiting for this context, a `Deadlock` is
    /// reported now.
    #[track_caller]
    pub fn send_wait(&self) -> Waiting {
        self.send_wait_at(Location::caller())
    }

    /// As [`send_wait`](Self::send_wait), with the site of the wait given
    /// (see [`recv_wait_at`](Self::recv_wait_at)).
    pub fn send_wait_at(&self, site: &'static Location<'static>) -> Waiting {
        match self.inner() {
            Some(inner) if mode::enabled() => wait::start_channel_wait(inner, false, site),
            _ => Waiting::untracked(),
        }
    }
}

impl Drop for ChannelMeta {
    fn drop(&mut self) {
        if let Repr::Shared(inner) = std::mem::replace(&mut self.repr, Repr::Untracked) {
            spare::keep(inner);
        }
    }
}

/// A per-thread pool of spare channel states: a channel's state outlives
/// it only while a sender claim or a wait record holds it, so the last
/// owner is usually the channel itself, which hands the allocation back
/// for the next channel (a oneshot per request would otherwise cost an
/// allocation and a free each). Not under loom: a pool would carry a
/// model's objects into the next execution.
mod spare {
    use super::ChannelInner;
    use crate::loom::sync::Arc;

    #[cfg(not(perf_validation_loom))]
    mod imp {
        use super::{Arc, ChannelInner};
        use std::cell::RefCell;

        const KEEP: usize = 16;

        thread_local! {
            static SPARE: RefCell<Vec<Arc<ChannelInner>>> = const { RefCell::new(Vec::new()) };
        }

        /// `fresh`, in a spare allocation if this thread has one.
        pub(crate) fn reuse(fresh: ChannelInner) -> Arc<ChannelInner> {
            let spare = SPARE
                .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
                .ok()
                .flatten();
            match spare {
                Some(mut a) => match Arc::get_mut(&mut a) {
                    Some(slot) => {
                        *slot = fresh;
                        a
                    }
                    None => Arc::new(fresh),
                },
                None => Arc::new(fresh),
            }
        }

        /// Keeps `inner` for reuse if this was its last owner.
        pub(crate) fn keep(mut inner: Arc<ChannelInner>) {
            if Arc::get_mut(&mut inner).is_none() {
                return;
            }
            let _ = SPARE.try_with(|s| {
                if let Ok(mut s) = s.try_borrow_mut() {
                    if s.len() < KEEP {
                        s.push(inner);
                    }
                }
            });
        }
    }

    #[cfg(perf_validation_loom)]
    mod imp {
        use super::{Arc, ChannelInner};

        pub(crate) fn reuse(fresh: ChannelInner) -> Arc<ChannelInner> {
            Arc::new(fresh)
        }

        pub(crate) fn keep(inner: Arc<ChannelInner>) {
            drop(inner);
        }
    }

    pub(super) use imp::{keep, reuse};
}

impl fmt::Debug for ChannelMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, created) = match &self.repr {
            Repr::Shared(i) => (i.kind, Site::from_location(i.created)),
            Repr::Oneshot { created } => (ChannelKind::Oneshot, Site::from_location(created)),
            Repr::Untracked => return f.write_str("ChannelMeta(untracked)"),
        };
        f.debug_struct("ChannelMeta")
            .field("kind", &kind)
            .field("created", &created)
            .finish()
    }
}

/// What a sender handle keeps: which context holds it, as far as the engine
/// can tell. Cloning it makes the claim of a new, not yet used sender.
///
/// A oneshot sender is consumed by its only use, so it is never claimed
/// while alive: a oneshot receive never proves a deadlock; it is reported
/// only once every task of its runtime is blocked (`wait/stall.rs`). Primitives need not call
/// [`used`](Self::used) on one.
pub struct SenderClaim {
    chan: Option<Arc<ChannelInner>>,
    /// Raw context id of the holder, 0 unclaimed, `SHARED` unknown. Changed
    /// only under the channel's claims lock.
    ctx: AtomicU64,
    moved: AtomicBool,
}

impl SenderClaim {
    /// The sender is being used (send, try_send, reserve): the current
    /// context holds it. One load and a compare when nothing changed.
    #[track_caller]
    #[inline]
    pub fn used(&self) {
        let Some(chan) = &self.chan else { return };
        let cur = self.ctx.load(Relaxed);
        if cur == SHARED {
            return;
        }
        let Some(me) = context::current_id() else {
            return;
        };
        if cur != me.as_u64() {
            self.reclaim(chan, me, Site::caller());
            context::mark_channel_role();
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn reclaim(&self, chan: &ChannelInner, me: ContextId, site: Site) {
        let mut c = crate::loom::lock(&chan.claims);
        let cur = self.ctx.load(Relaxed);
        if cur == me.as_u64() || cur == SHARED {
            return;
        }
        match ContextId::from_raw(cur) {
            None => {
                chan.unclaimed.fetch_sub(1, Relaxed);
                c.add(me, site);
                self.ctx.store(me.as_u64(), Relaxed);
            }
            Some(old) if !self.moved.load(Relaxed) => {
                c.remove(old);
                c.add(me, site);
                self.ctx.store(me.as_u64(), Relaxed);
                self.moved.store(true, Relaxed);
            }
            Some(old) => {
                c.remove(old);
                c.shared += 1;
                self.ctx.store(SHARED, Relaxed);
            }
        }
    }

    #[cfg(all(test, perf_validation_loom))]
    pub(crate) fn chan_for_tests(&self) -> Option<Arc<ChannelInner>> {
        self.chan.clone()
    }

    /// The context the engine attributes this sender to, if any.
    pub fn holder(&self) -> Option<ContextId> {
        match self.ctx.load(Relaxed) {
            SHARED => None,
            raw => ContextId::from_raw(raw),
        }
    }
}

/// A claim for a new sender of `chan`; an empty one for a channel with no
/// shared state (untracked, or a oneshot: its sender is never claimed, see
/// the module docs).
fn new_claim(chan: Option<&Arc<ChannelInner>>) -> SenderClaim {
    if let Some(inner) = chan {
        inner.unclaimed.fetch_add(1, Relaxed);
    }
    SenderClaim {
        chan: chan.cloned(),
        ctx: AtomicU64::new(0),
        moved: AtomicBool::new(false),
    }
}

impl Clone for SenderClaim {
    fn clone(&self) -> SenderClaim {
        new_claim(self.chan.as_ref())
    }
}

impl Drop for SenderClaim {
    fn drop(&mut self) {
        let Some(chan) = &self.chan else { return };
        // Only this handle changes its own claim, and it is being dropped,
        // so the state read here is final.
        match self.ctx.load(Relaxed) {
            0 => {
                chan.unclaimed.fetch_sub(1, Relaxed);
            }
            SHARED => crate::loom::lock(&chan.claims).shared -= 1,
            raw => {
                if let Some(old) = ContextId::from_raw(raw) {
                    crate::loom::lock(&chan.claims).remove(old);
                }
            }
        }
    }
}

impl fmt::Debug for SenderClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderClaim")
            .field("holder", &self.holder())
            .finish()
    }
}
