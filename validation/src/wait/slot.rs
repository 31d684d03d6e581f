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
//! - `OCC` — a record is in the slot. Only the owner sets it, after writing
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
//!   reader holds `READ`), then it reads the record out — the slot is empty,
//!   and only the owner writes an empty slot, and it is busy here. The owner
//!   is running, so `GONE` cannot be set.
//! - elsewhere (a wait handed to another context, or a guard moved): take
//!   `READ`, read the record out, then `OCC|READ -> 0`. If `GONE` appeared,
//!   that fails and the slot stays occupied: the state is alive until the
//!   caller, under `remote`, clears it and decides whether to free the state
//!   ([`Slot::clear_gone`]). Every free decision is taken under `remote` and
//!   requires an empty slot, so exactly one party frees.
//!
//! Lock order: a holder of `READ` may take `remote`; nobody takes `READ`
//! while holding `remote`.

use super::graph::WaitRecord;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::mem::MaybeUninit;

const OCC: usize = 1;
const READ: usize = 2;
const GONE: usize = 4;

pub(crate) struct Slot {
    state: AtomicUsize,
    rec: UnsafeCell<MaybeUninit<WaitRecord>>,
}

// SAFETY: the record is only touched by the party the protocol (module docs)
// gives it to: the owner while the slot is empty, the holder of `READ`, or
// the owner after emptying it; `WaitRecord` is `Send`.
unsafe impl Sync for Slot {}
// SAFETY: as above.
unsafe impl Send for Slot {}

/// What ending a wait elsewhere found.
pub(crate) enum Taken {
    /// The wait is over; the state may be gone already.
    Done(WaitRecord),
    /// The owner exited meanwhile: the slot is still held, and the caller
    /// must call [`Slot::clear_gone`] under `remote` and decide the free.
    OwnerGone(WaitRecord),
}

impl Slot {
    pub(crate) fn new() -> Slot {
        Slot {
            state: AtomicUsize::new(0),
            rec: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Whether the slot is free for the owner's next wait.
    ///
    /// # Safety
    /// The caller is the owner, and the owner has not exited.
    #[inline]
    pub(crate) unsafe fn is_free(&self) -> bool {
        // Only the owner sets `OCC`: a relaxed load of its own writes.
        self.state.load(Relaxed) & OCC == 0
    }

    /// Fills the free slot: `fill` writes every field of the record in
    /// place (a record built elsewhere and copied in would be staged
    /// through the stack, at a cost comparable to the whole wait).
    ///
    /// # Safety
    /// The caller is the owner, the owner has not exited, the slot is free
    /// ([`is_free`](Self::is_free)), and `fill` initialises the record.
    #[inline(always)]
    pub(crate) unsafe fn fill(&self, fill: impl FnOnce(*mut WaitRecord)) {
        self.rec.with_mut(|p| {
            // SAFETY: the slot is empty: only the owner (the caller) touches it.
            fill(unsafe { (*p).as_mut_ptr() })
        });
        // Publishes the record to readers, who acquire on taking `READ`.
        self.state.store(OCC, Release);
    }

    /// Ends the wait in the slot, from its owner, and drops its record in
    /// place; returns the record's pending entry (reading a record written field by field back out whole would
    /// stall on store forwarding; dropping reads only what owns something).
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
        // SAFETY: emptied above, and nobody but the owner (busy here) writes an empty slot; the record was written by `fill`.
        self.rec.with_mut(|p| unsafe {
            let instance = (*p).assume_init_ref().instance;
            (*p).assume_init_drop();
            instance
        })
    }

    /// Ends the wait in the slot from another context.
    ///
    /// # Safety
    /// The slot holds the caller's wait (which keeps the state alive until
    /// this returns `Done`, or until `clear_gone`).
    pub(crate) unsafe fn take_elsewhere(&self) -> Taken {
        let mut s = self.state.load(Relaxed);
        let mut spins = 0;
        loop {
            if s & READ != 0 {
                spin(&mut spins);
                s = self.state.load(Relaxed);
                continue;
            }
            match self
                .state
                .compare_exchange_weak(s, s | READ, Acquire, Relaxed)
            {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: `READ` is ours and `OCC` is set (our wait is in it): nobody else touches the record.
        let rec = self.rec.with(|p| unsafe { (*p).assume_init_read() });
        match self.state.compare_exchange(OCC | READ, 0, Release, Relaxed) {
            Ok(_) => Taken::Done(rec),
            Err(_) => Taken::OwnerGone(rec),
        }
    }

    /// Empties a slot whose wait was taken out after the owner exited
    /// ([`Taken::OwnerGone`]). Call under `remote`, then decide the free.
    pub(crate) fn clear_gone(&self) {
        self.state.store(GONE, Release);
    }

    /// Marks the owner gone; returns whether a wait is still in the slot.
    /// Call under `remote`.
    pub(crate) fn owner_exits(&self) -> bool {
        self.state.fetch_or(GONE, AcqRel) & OCC != 0
    }

    /// Whether a wait is in the slot. Under `remote`, as part of a free
    /// decision, exact: only the owner fills the slot, and an ender that
    /// finds the owner gone empties it under `remote`.
    pub(crate) fn occupied(&self) -> bool {
        self.state.load(Acquire) & OCC != 0
    }

    /// Runs `f` on the record in the slot, if any. The caller keeps the
    /// state alive (the registry lock) and holds no `remote` lock.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&mut WaitRecord) -> R) -> Option<R> {
        let mut s = self.state.load(Relaxed);
        let mut spins = 0;
        loop {
            if s & OCC == 0 {
                return None;
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
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: `READ` is ours and `OCC` set: the record is initialised and nobody else touches it.
        let out = self.rec.with_mut(|p| f(unsafe { (*p).assume_init_mut() }));
        self.state.fetch_and(!READ, Release);
        Some(out)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // A state is freed only with an empty slot; a record left in a slot
        // by a state dropped otherwise (a model's) is dropped here.
        if self.state.load(Relaxed) & OCC != 0 {
            // SAFETY: occupied: written by `fill`, and `&mut self` is exclusive.
            self.rec.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
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
