//! A context's first wait outside any lock: the slot.
//!
//! Most waits a context records are alone (a task awaits one thing at a
//! time) and take no part in the wait-for graph (see `graph.rs`): a oneshot
//! reply, a `Notify`, a semaphore. Those go in the context's slot, which its
//! owner fills with plain writes and one release store and empties with one
//! compare-exchange; the rest (a second wait at once, graph waits) go in the
//! list under the state's `remote` lock as before.
//!
//! # Protocol
//!
//! One state word, three bits:
//!
//! - `OCC` — a record is in the inline wait. Only the owner sets it, after writing
//!   the record into the empty slot (no one else touches an empty slot).
//! - `READ` — someone has the record: a reader (the stall scan, a deadlock
//!   check, a report) copying or stamping it, or a non-owner ending the
//!   wait. Taken with a compare-exchange from a state with `OCC` and without
//!   `READ`, so holders exclude each other; the owner's end waits for it to
//!   clear.
//! - `GONE` — the owner exited (set under `remote` by `owner_exit`).
//!
//! Ending the wait:
//!
//! - by the owner: `OCC -> 0` in one compare-exchange (spinning while a
//!   reader holds `READ`), then it reads the record's pending entry — the
//!   slot is empty, only the owner writes an empty slot, and it is busy
//!   here. The owner is running, so `GONE` cannot be set.
//! - elsewhere (a wait handed to another context, or a guard moved): take
//!   `READ`, read the record out, then `OCC|READ -> 0`. If `GONE` appeared,
//!   that fails and the slot stays occupied: the state is alive until the
//!   caller, under `remote`, clears it and decides whether to free the state
//!   ([`InlineWait::clear_gone`]). Every free decision is taken under `remote` and
//!   requires an empty slot, so exactly one party frees.
//!
//! Lock order: a holder of `READ` may take `remote`; nobody takes `READ`
//! while holding `remote`.

use super::graph::{ResKind, Resource, Target, WaitRecord};
use crate::context::ContextId;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::site::Site;
use std::mem::MaybeUninit;
use std::panic::Location;

const OCC: usize = 1;
const READ: usize = 2;
const GONE: usize = 4;

/// The state word and the record share one cache line: a wait writes
/// one line of its context's state, not three.
#[repr(C, align(64))]
pub(crate) struct InlineWait {
    state: AtomicUsize,
    rec: UnsafeCell<MaybeUninit<InlineWaitRecord>>,
}

/// A wait as the slot keeps it: plain data (sites as `Location`s, the
/// target inline), 56 bytes. Only waits whose target owns nothing — a
/// `Notify`, `Barrier` or `watch`, semaphore permits, a oneshot — fit;
/// [`WaitRecord`] is what readers see.
#[derive(Clone, Copy)]
pub(crate) struct InlineWaitRecord {
    kind: ResKind,
    /// `R_BOUNDED`, `R_REPORTED`, `R_SLOW`, and the target's kind (`T_*`).
    flags: u8,
    class: u32,
    created: &'static Location<'static>,
    site: &'static Location<'static>,
    /// The target's resource address (permits) or channel address (oneshot).
    target: usize,
    /// Permits outstanding when the wait started; the joined context's raw
    /// id for a join.
    outstanding: u64,
    since_ns: u64,
    /// The held entry the wait flagged pending (0 if none).
    instance: usize,
}

const R_BOUNDED: u8 = 1;
const R_REPORTED: u8 = 2;
/// Its slow-wait advisory was emitted (`stall.rs`); above the target bits.
const R_SLOW: u8 = 16;
const T_SHIFT: u8 = 2;
const T_MASK: u8 = 3;
const T_NOBODY: u8 = 0;
const T_PERMITS: u8 = 1;
const T_ONESHOT: u8 = 2;
const T_TASK: u8 = 3;

impl InlineWaitRecord {
    /// The record of a wait, if its target fits a slot.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // the parts of one record, written in place
    pub(crate) fn new(
        kind: ResKind,
        class: u32,
        created: &'static Location<'static>,
        site: &'static Location<'static>,
        target: &Target,
        bounded: bool,
        since_ns: u64,
        instance: usize,
    ) -> Option<InlineWaitRecord> {
        let (t, target, outstanding) = match *target {
            Target::Nobody => (T_NOBODY, 0, 0),
            Target::Permits {
                resource,
                outstanding,
            } => (T_PERMITS, resource, outstanding),
            Target::Oneshot { chan } => (T_ONESHOT, chan, 0),
            Target::Task(c) => (T_TASK, 0, c.as_u64()),
            Target::Holders { .. } | Target::Senders(_) | Target::Receiver(_) => return None,
        };
        Some(InlineWaitRecord {
            kind,
            flags: (u8::from(bounded) * R_BOUNDED) | (t << T_SHIFT),
            class,
            created,
            site,
            target,
            outstanding,
            since_ns,
            instance,
        })
    }

    /// The wait as readers (the stall scan, the deadlock view) take it.
    pub(crate) fn to_wait_record(self) -> WaitRecord {
        let target = match (self.flags >> T_SHIFT) & T_MASK {
            T_PERMITS => Target::Permits {
                resource: self.target,
                outstanding: self.outstanding,
            },
            T_ONESHOT => Target::Oneshot { chan: self.target },
            T_TASK => match ContextId::from_raw(self.outstanding) {
                Some(c) => Target::Task(c),
                None => Target::Nobody,
            },
            _ => Target::Nobody,
        };
        WaitRecord {
            id: 0,
            resource: Resource {
                kind: self.kind,
                class: self.class,
                created: Site::from_location(self.created),
            },
            site: Site::from_location(self.site),
            target,
            bounded: self.flags & R_BOUNDED != 0,
            graph: false,
            baseline: 0,
            since_ns: self.since_ns,
            stall_reported: self.flags & R_REPORTED != 0,
            slow_reported: self.flags & R_SLOW != 0,
            instance: self.instance,
        }
    }

    /// The held entry the wait flagged pending (0 if none).
    pub(crate) fn instance(&self) -> usize {
        self.instance
    }

    /// Keeps what a reader changed in `w`: the stall scan marks a wait
    /// reported stuck, or its slow-wait advisory emitted. (It also restamps channel waits that moved; no channel
    /// with a progress count waits in a slot.)
    pub(crate) fn update_from(&mut self, w: &WaitRecord) {
        if w.stall_reported {
            self.flags |= R_REPORTED;
        }
        if w.slow_reported {
            self.flags |= R_SLOW;
        }
    }
}

// SAFETY: the record is only touched by the party the protocol (module docs)
// gives it to: the owner while the slot is empty, the holder of `READ`, or
// the owner after emptying it; `InlineWaitRecord` is plain data.
unsafe impl Sync for InlineWait {}
// SAFETY: sending a `InlineWait` moves plain data and an atomic; which thread may touch the record is the protocol's concern (see `Sync`), not the owner thread's identity.
unsafe impl Send for InlineWait {}

/// What ending a wait elsewhere found.
pub(crate) enum Taken {
    /// The wait is over; the state may be gone already.
    Done(InlineWaitRecord),
    /// The owner exited meanwhile: the slot is still held, and the caller
    /// must call [`InlineWait::clear_gone`] under `remote` and decide the free.
    OwnerGone(InlineWaitRecord),
}

impl InlineWait {
    pub(crate) fn new() -> InlineWait {
        InlineWait {
            state: AtomicUsize::new(0),
            rec: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Whether the inline wait is free for the owner's next wait (exact for the
    /// owner: only it fills the slot).
    #[inline]
    pub(crate) fn is_free(&self) -> bool {
        // Acquire: a wait ended in another context emptied the slot with a
        // release after its (and any reader's) last access to the record;
        // the owner's next `put` writes the record after this load.
        self.state.load(Acquire) & OCC == 0
    }

    /// Puts `rec` in the free slot.
    ///
    /// # Safety
    /// The caller is the owner, the owner has not exited, and the slot is
    /// free ([`is_free`](Self::is_free)).
    #[inline(always)]
    pub(crate) unsafe fn put(&self, rec: InlineWaitRecord) {
        self.rec.with_mut(|p| {
            // SAFETY: the slot is empty: only the owner (the caller) touches it.
            unsafe { (*p).write(rec) };
        });
        // Publishes the record to readers, who acquire on taking `READ`.
        self.state.store(OCC, Release);
    }

    /// Ends the wait in the inline wait, from its owner; returns the record's
    /// pending entry (only that field is read back: a record read whole
    /// right after it was written stalls on store forwarding).
    ///
    /// # Safety
    /// The caller is the owner, the slot holds the caller's wait, and the
    /// owner has not exited.
    #[inline]
    pub(crate) unsafe fn end_as_owner(&self) -> usize {
        let mut spins = 0;
        while let Err(s) = self.state.compare_exchange_weak(OCC, 0, Acquire, Relaxed) {
            debug_assert!(s & OCC != 0 && s & GONE == 0, "slot state {s:#x}");
            spin(&mut spins);
        }
        self.rec.with(|p| {
            // SAFETY: emptied above, and nobody but the owner (busy here) writes an empty slot; the record was written by `put`.
            unsafe { (*p).assume_init_ref().instance }
        })
    }

    /// Ends the wait in the inline wait from another context.
    ///
    /// # Safety
    /// The slot holds the caller's wait (which keeps the state alive until
    /// this returns `Done`, or until `clear_gone`).
    pub(crate) unsafe fn take_elsewhere(&self) -> Taken {
        let taken = self.take_read();
        debug_assert!(taken, "the caller's wait is in the inline wait");
        // SAFETY: `READ` is ours and `OCC` is set (our wait is in it): nobody else touches the record.
        let rec = self.rec.with(|p| unsafe { (*p).assume_init_read() });
        match self.state.compare_exchange(OCC | READ, 0, Release, Relaxed) {
            Ok(_) => Taken::Done(rec),
            Err(_) => Taken::OwnerGone(rec),
        }
    }

    /// Takes `READ` on an occupied slot, waiting out another holder; false
    /// if the slot is (or becomes) empty.
    fn take_read(&self) -> bool {
        let mut s = self.state.load(Relaxed);
        let mut spins = 0;
        loop {
            if s & OCC == 0 {
                return false;
            }
            if s & READ != 0 {
                spin(&mut spins);
                s = self.state.load(Relaxed);
                continue;
            }
            match self
                .state
                .compare_exchange_weak(s, s | READ, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Empties a slot whose wait was taken out after the owner exited
    /// ([`Taken::OwnerGone`]). Call under `remote`, then decide the free.
    pub(crate) fn clear_gone(&self) {
        self.state.store(GONE, Release);
    }

    /// Marks the owner gone. Call under `remote`: from then on a wait left
    /// in the inline wait is only emptied under `remote` ([`InlineWait::clear_gone`]).
    pub(crate) fn owner_exits(&self) {
        self.state.fetch_or(GONE, AcqRel);
    }

    /// Whether a wait is in the inline wait. Under `remote`, as part of a free
    /// decision, exact: only the owner fills the slot, and an ender that
    /// finds the owner gone empties it under `remote`.
    pub(crate) fn occupied(&self) -> bool {
        self.state.load(Acquire) & OCC != 0
    }

    /// Runs `f` on the record in the inline wait, if any. The caller keeps the
    /// state alive (the registry lock) and holds no `remote` lock.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&mut InlineWaitRecord) -> R) -> Option<R> {
        if !self.take_read() {
            return None;
        }
        // SAFETY: `READ` is ours and `OCC` set: the record is initialised and nobody else touches it.
        let out = self.rec.with_mut(|p| f(unsafe { (*p).assume_init_mut() }));
        self.state.fetch_and(!READ, Release);
        Some(out)
    }
}

/// Waits a moment for the holder of `READ` (a short copy), yielding the
/// CPU if it takes long (the holder may have been preempted).
#[inline]
fn spin(spins: &mut u32) {
    #[cfg(not(perf_validation_loom))]
    {
        *spins += 1;
        if *spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    #[cfg(perf_validation_loom)]
    {
        let _ = spins;
        loom::thread::yield_now();
    }
}

#[cfg(all(test, not(perf_validation_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<InlineWait>(), 64);
        assert_eq!(std::mem::align_of::<InlineWait>(), 64);
    }

    #[test]
    fn a_slot_record_reads_back_as_the_wait_it_holds() {
        let created = Location::caller();
        let site = Location::caller();
        let permits = Target::Permits {
            resource: 0x40,
            outstanding: 3,
        };
        let kind = ResKind::Lock(crate::LockKind::Semaphore);
        let mut rec =
            InlineWaitRecord::new(kind, 7, created, site, &permits, true, 99, 0x80).unwrap();
        let w = rec.to_wait_record();
        assert_eq!(w.resource.kind, kind);
        assert_eq!(w.resource.class, 7);
        assert_eq!(w.resource.created, Site::from_location(created));
        assert_eq!(w.site, Site::from_location(site));
        assert!(matches!(
            w.target,
            Target::Permits {
                resource: 0x40,
                outstanding: 3
            }
        ));
        assert!(w.bounded && !w.graph && !w.stall_reported);
        assert_eq!((w.since_ns, w.instance), (99, 0x80));
        let mut seen = w;
        seen.stall_reported = true;
        rec.update_from(&seen);
        assert!(rec.to_wait_record().stall_reported);
        let oneshot = Target::Oneshot { chan: 0x1000 };
        let r = InlineWaitRecord::new(kind, 0, created, site, &oneshot, false, 0, 0).unwrap();
        assert!(matches!(
            r.to_wait_record().target,
            Target::Oneshot { chan: 0x1000 }
        ));
        let holders = Target::Holders { resource: 1 };
        assert!(InlineWaitRecord::new(kind, 0, created, site, &holders, false, 0, 0).is_none());
    }
}
