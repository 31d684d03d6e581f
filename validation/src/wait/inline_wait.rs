//! A context's first wait outside any lock: its inline wait.
//!
//! Most waits a context records are alone (a task awaits one thing at a
//! time) and take no part in the wait-for graph (see `graph.rs`): a oneshot
//! reply, a `Notify`, a semaphore. Those go in the context's inline wait,
//! which its owner fills with relaxed stores and one release store and
//! empties with one atomic `and`; the rest (a second wait at once, graph waits) go
//! in the list under the state's `remote` lock as before.
//!
//! # Protocol: a sequence lock the owner never waits on
//!
//! One state word: `OCC` (a record is in), `GONE` (the owner exited), the
//! two marks readers may set on the record (`F_REPORTED`, `F_SLOW`), and a
//! generation above them that each fill increments. The record is eight
//! atomic words beside it, written only by the owner, only while `OCC` is
//! clear (no one else writes an empty inline wait).
//!
//! - **The owner fills**: release fence, record words (relaxed), then
//!   `state = gen+1 | OCC` (release). It **ends** its wait with one atomic
//!   `and` that keeps only the generation (`OCC` and the marks cleared). Neither step
//!   loops or waits for anyone: a reader in the middle of a copy never
//!   slows the owner (the stall scan runs on the watchdog's thread while
//!   tasks wait and wake).
//! - **A reader** (the stall scan, the deadlock view, a report) loads the
//!   state (acquire), copies the words, fences (acquire), and loads the
//!   state again: a different generation or a cleared `OCC` means the wait
//!   ended (and maybe another began) during the copy — it retries, or finds
//!   the inline wait empty. Only a validated copy is decoded (its site
//!   pointers dereferenced). A mark it sets goes in with a compare-exchange
//!   against the state it validated, so a mark never lands on a later wait.
//! - **Ending elsewhere** (a wait handed to another context, or a guard
//!   moved; the owner then does not end it): the record is stable while
//!   `OCC` is set, so the ender copies it and clears `OCC` with a
//!   compare-exchange, retried only if a reader set a mark meanwhile. If
//!   `GONE` appeared, the inline wait stays occupied: the state is alive
//!   until the caller, under `remote`, clears it and decides whether to free
//!   the state ([`InlineWait::clear_gone`]). Every free decision is taken
//!   under `remote` and requires an empty inline wait, so exactly one party
//!   frees.
//!
//! Why a reader's copy is sound: the owner's end store `E` precedes its
//! release fence, which precedes the next fill's word stores; a reader that
//! copied one of those words and then fenced (acquire) sees `E` or later in
//! its second state load (fence-fence synchronisation), so a torn copy is
//! never validated. The loom model
//! `loom_a_scan_never_validates_a_torn_inline_wait` checks it.

use super::graph::{ResKind, Resource, Target, WaitRecord};
use crate::channel::ChannelKind;
use crate::class::LockKind;
use crate::context::ContextId;
use crate::loom::sync::atomic::{
    fence, AtomicPtr, AtomicU64, AtomicUsize,
    Ordering::{self, *},
};
use crate::site::Site;
use crate::wait::WaitKind;
use std::panic::Location;

const OCC: usize = 1;
const GONE: usize = 2;
/// The reader marks, mirrored from the record's `R_REPORTED` / `R_SLOW`.
const F_REPORTED: usize = 4;
const F_SLOW: usize = 8;
const MARKS: usize = F_REPORTED | F_SLOW;
/// The generation: one more per fill.
const GEN_ONE: usize = 16;
const GEN_MASK: usize = !(GEN_ONE - 1);

/// The state word and the record share one cache line: a wait writes
/// one line of its context's state, not three.
#[repr(C, align(64))]
pub(crate) struct InlineWait {
    state: AtomicUsize,
    /// The kind's code (8 bits), the record's flags (8 bits), the class
    /// (32 bits, high).
    head: AtomicU64,
    created: AtomicPtr<Location<'static>>,
    site: AtomicPtr<Location<'static>>,
    target: AtomicUsize,
    outstanding: AtomicU64,
    since_ns: AtomicU64,
    instance: AtomicUsize,
}

/// A wait as the inline wait keeps it: plain data (sites as `Location`s,
/// the target inline), 56 bytes. Only waits whose target owns nothing — a
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

/// The record's kind as one byte (`decode_kind` reverses it).
fn encode_kind(k: ResKind) -> u8 {
    match k {
        ResKind::Lock(l) => l as u8,
        ResKind::Recv(c) => 0x10 | c as u8,
        ResKind::Send(c) => 0x20 | c as u8,
        ResKind::Other(w) => 0x30 | w as u8,
        ResKind::Join => 0x40,
    }
}

const LOCK_KINDS: [LockKind; 4] = [
    LockKind::Mutex,
    LockKind::RwLock,
    LockKind::BlockingMutex,
    LockKind::Semaphore,
];
const CHANNEL_KINDS: [ChannelKind; 4] = [
    ChannelKind::Mpsc,
    ChannelKind::UnboundedMpsc,
    ChannelKind::Oneshot,
    ChannelKind::Broadcast,
];
const WAIT_KINDS: [WaitKind; 4] = [
    WaitKind::Notify,
    WaitKind::Barrier,
    WaitKind::Watch,
    WaitKind::Other,
];

fn decode_kind(b: u8) -> ResKind {
    let i = usize::from(b & 0xf) % 4;
    match b >> 4 {
        0 => ResKind::Lock(LOCK_KINDS[i]),
        1 => ResKind::Recv(CHANNEL_KINDS[i]),
        2 => ResKind::Send(CHANNEL_KINDS[i]),
        4 => ResKind::Join,
        _ => ResKind::Other(WAIT_KINDS[i]),
    }
}

/// The record's words as a copy found them, not yet validated (a torn
/// copy may hold anything, its pointers included).
struct Words {
    head: u64,
    created: *mut Location<'static>,
    site: *mut Location<'static>,
    target: usize,
    outstanding: u64,
    since_ns: u64,
    instance: usize,
}

impl Words {
    /// The record, from a copy validated against `state`.
    ///
    /// # Safety
    /// The copy was made while `OCC` was set in one generation throughout
    /// (so it is the words one fill wrote, from `&'static Location`s).
    unsafe fn decode(&self, state: usize) -> InlineWaitRecord {
        let mut flags = (self.head >> 8) as u8 & !(R_REPORTED | R_SLOW);
        if state & F_REPORTED != 0 {
            flags |= R_REPORTED;
        }
        if state & F_SLOW != 0 {
            flags |= R_SLOW;
        }
        InlineWaitRecord {
            kind: decode_kind(self.head as u8),
            flags,
            class: (self.head >> 32) as u32,
            // SAFETY: a validated copy: written by `put` from a `&'static Location` (caller's contract).
            created: unsafe { &*self.created },
            // SAFETY: as above.
            site: unsafe { &*self.site },
            target: self.target,
            outstanding: self.outstanding,
            since_ns: self.since_ns,
            instance: self.instance,
        }
    }
}

/// What ending a wait elsewhere found.
pub(crate) enum Taken {
    /// The wait is over; the state may be gone already.
    Done(InlineWaitRecord),
    /// The owner exited meanwhile: the inline wait is still held, and the
    /// caller must call [`InlineWait::clear_gone`] under `remote` and decide
    /// the free.
    OwnerGone(InlineWaitRecord),
}

impl InlineWait {
    pub(crate) fn new() -> InlineWait {
        InlineWait {
            state: AtomicUsize::new(0),
            head: AtomicU64::new(0),
            created: AtomicPtr::new(std::ptr::null_mut()),
            site: AtomicPtr::new(std::ptr::null_mut()),
            target: AtomicUsize::new(0),
            outstanding: AtomicU64::new(0),
            since_ns: AtomicU64::new(0),
            instance: AtomicUsize::new(0),
        }
    }

    /// Whether the inline wait is free for the owner's next wait (exact for
    /// the owner: only it fills it).
    #[inline]
    pub(crate) fn is_free(&self) -> bool {
        // Acquire: a wait ended in another context emptied it with a release
        // after its last read of the record; the owner's next `put` writes
        // the record after this load.
        self.state.load(Acquire) & OCC == 0
    }

    /// Puts `rec` in the free inline wait. Wait-free: a few stores.
    ///
    /// # Safety
    /// The caller is the owner, the owner has not exited, and the inline
    /// wait is free ([`is_free`](Self::is_free)).
    #[inline(always)]
    pub(crate) unsafe fn put(&self, rec: InlineWaitRecord) {
        let s = self.state.load(Relaxed);
        debug_assert!(s & (OCC | GONE) == 0, "inline wait state {s:#x}");
        // Orders the end of the previous wait (its state store) before the
        // words below for any reader that copies one of them (module docs).
        fence(Release);
        let head = u64::from(encode_kind(rec.kind))
            | u64::from(rec.flags & !(R_REPORTED | R_SLOW)) << 8
            | u64::from(rec.class) << 32;
        self.head.store(head, Relaxed);
        self.created
            .store(std::ptr::from_ref(rec.created).cast_mut(), Relaxed);
        self.site
            .store(std::ptr::from_ref(rec.site).cast_mut(), Relaxed);
        self.target.store(rec.target, Relaxed);
        self.outstanding.store(rec.outstanding, Relaxed);
        self.since_ns.store(rec.since_ns, Relaxed);
        self.instance.store(rec.instance, Relaxed);
        // Publishes the record to readers, who acquire on loading the state.
        self.state
            .store((s & GEN_MASK).wrapping_add(GEN_ONE) | OCC, Release);
    }

    /// Ends the wait in the inline wait, from its owner; returns the
    /// record's pending entry. Wait-free: one load and one atomic `and`,
    /// whatever readers do (a mark a reader sets meanwhile goes with the wait).
    ///
    /// # Safety
    /// The caller is the owner, the inline wait holds the caller's wait,
    /// and the owner has not exited.
    #[inline]
    pub(crate) unsafe fn end_as_owner(&self) -> usize {
        // Only the owner writes the words (and not now): its own value.
        let instance = self.instance.load(Relaxed);
        // One read-modify-write, not a load and a store: with the two,
        // loom's model `loom_the_owner_ends_its_slot_wait_while_a_scan_stamps_it`
        // found a reader's mark left on an ended wait, which then looked
        // occupied. Still no loop: the owner never waits for a reader.
        let s = self.state.fetch_and(GEN_MASK, Release);
        debug_assert!(s & OCC != 0 && s & GONE == 0, "inline wait state {s:#x}");
        instance
    }

    /// Copies the record's words (validated by the caller).
    fn copy(&self, order: Ordering) -> Words {
        Words {
            head: self.head.load(order),
            created: self.created.load(order),
            site: self.site.load(order),
            target: self.target.load(order),
            outstanding: self.outstanding.load(order),
            since_ns: self.since_ns.load(order),
            instance: self.instance.load(order),
        }
    }

    /// Ends the wait in the inline wait from another context.
    ///
    /// # Safety
    /// The inline wait holds the caller's wait (which keeps the state alive
    /// until this returns `Done`, or until `clear_gone`), and its owner does
    /// not end it.
    pub(crate) unsafe fn take_elsewhere(&self) -> Taken {
        // Acquire: pairs with the fill's release, so the words are the ones
        // it wrote; they stay so while `OCC` is set (only the owner writes,
        // and only an empty inline wait).
        let mut s = self.state.load(Acquire);
        debug_assert!(s & OCC != 0, "the caller's wait is in the inline wait");
        let words = self.copy(Relaxed);
        loop {
            // SAFETY: `OCC` is set and stays set until the exchange below: the words are one fill's.
            let rec = unsafe { words.decode(s) };
            if s & GONE != 0 {
                return Taken::OwnerGone(rec);
            }
            // Release: the owner's next fill (after `is_free`'s acquire)
            // writes after this copy.
            match self
                .state
                .compare_exchange_weak(s, s & GEN_MASK, Release, Acquire)
            {
                Ok(_) => return Taken::Done(rec),
                Err(now) => s = now,
            }
        }
    }

    /// Empties an inline wait whose wait was taken out after the owner
    /// exited ([`Taken::OwnerGone`]). Call under `remote`, then decide the
    /// free.
    pub(crate) fn clear_gone(&self) {
        self.state.fetch_and(GEN_MASK | GONE, Release);
    }

    /// Marks the owner gone. Call under `remote`: from then on a wait left
    /// in the inline wait is only emptied under `remote`
    /// ([`InlineWait::clear_gone`]).
    pub(crate) fn owner_exits(&self) {
        self.state.fetch_or(GONE, AcqRel);
    }

    /// Whether a wait is in the inline wait. Under `remote`, as part of a
    /// free decision, exact: only the owner fills it, and an ender that
    /// finds the owner gone empties it under `remote`.
    pub(crate) fn occupied(&self) -> bool {
        self.state.load(Acquire) & OCC != 0
    }

    /// The state word, for a loom model's failure message (only the models
    /// use it: `cfg(perf_validation_loom)`).
    #[cfg(all(test, perf_validation_loom))]
    pub(crate) fn raw_state(&self) -> usize {
        self.state.load(Relaxed)
    }

    /// Runs `f` on a copy of the record in the inline wait, if any, and
    /// keeps the marks `f` set (reported, slow) if the wait is still the
    /// same. The caller keeps the state alive (the registry lock) and holds
    /// no `remote` lock. Retries while the owner ends and refills; never
    /// makes the owner wait.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&mut InlineWaitRecord) -> R) -> Option<R> {
        let (mut rec, seen) = loop {
            let s1 = self.state.load(Acquire);
            if s1 & OCC == 0 {
                return None;
            }
            let words = self.copy(Relaxed);
            // Pairs with the fill's release fence (module docs).
            fence(Acquire);
            let s2 = self.state.load(Relaxed);
            if (s1 ^ s2) & !MARKS == 0 {
                // SAFETY: `OCC` was set in one generation from before the copy to after it: one fill's words.
                break (unsafe { words.decode(s2) }, s2);
            }
            #[cfg(perf_validation_loom)]
            loom::thread::yield_now();
        };
        let out = f(&mut rec);
        let mut marks = 0;
        if rec.flags & R_REPORTED != 0 {
            marks |= F_REPORTED;
        }
        if rec.flags & R_SLOW != 0 {
            marks |= F_SLOW;
        }
        let mut cur = seen;
        while marks & !cur != 0 && (cur ^ seen) & !MARKS == 0 {
            match self
                .state
                .compare_exchange_weak(cur, cur | marks, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        Some(out)
    }
}

#[cfg(all(test, not(perf_validation_loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_its_byte() {
        let mut kinds: Vec<ResKind> = LOCK_KINDS.iter().map(|&l| ResKind::Lock(l)).collect();
        for c in CHANNEL_KINDS {
            kinds.extend([ResKind::Recv(c), ResKind::Send(c)]);
        }
        kinds.extend(WAIT_KINDS.iter().map(|&w| ResKind::Other(w)));
        kinds.push(ResKind::Join);
        for k in kinds {
            assert_eq!(decode_kind(encode_kind(k)), k);
        }
    }

    #[test]
    fn a_record_put_reads_back_and_keeps_a_readers_mark_until_it_ends() {
        let w = InlineWait::new();
        let (created, site) = (Location::caller(), Location::caller());
        let kind = ResKind::Other(WaitKind::Barrier);
        let rec =
            InlineWaitRecord::new(kind, 3, created, site, &Target::Nobody, true, 5, 0x40).unwrap();
        // SAFETY: this thread is the owner; the inline wait is free.
        unsafe { w.put(rec) };
        let got = w.read(|r| {
            let seen = r.to_wait_record();
            r.flags |= R_SLOW;
            seen
        });
        let got = got.expect("occupied");
        assert_eq!((got.resource.kind, got.resource.class), (kind, 3));
        assert!(got.bounded && !got.slow_reported);
        assert!(w.read(|r| r.to_wait_record().slow_reported).unwrap());
        // SAFETY: the owner ends its own wait.
        assert_eq!(unsafe { w.end_as_owner() }, 0x40);
        assert!(w.read(|_| ()).is_none() && w.is_free());
        // The next wait starts unmarked.
        // SAFETY: as above.
        unsafe { w.put(rec) };
        assert!(!w.read(|r| r.to_wait_record().slow_reported).unwrap());
    }

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

/// The sequence lock: a scan never validates a copy mixed from two waits,
/// while the owner ends and refills without waiting for it.
#[cfg(all(test, perf_validation_loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;

    #[track_caller]
    fn wait_of(class: u32) -> InlineWaitRecord {
        let here = Location::caller();
        let kind = ResKind::Other(WaitKind::Notify);
        InlineWaitRecord::new(
            kind,
            class,
            here,
            here,
            &Target::Nobody,
            false,
            0,
            class as usize,
        )
        .unwrap()
    }

    #[test]
    fn loom_a_scan_never_validates_a_torn_inline_wait() {
        loom::model(|| {
            // Two waits whose every field differs: a copy mixed from both
            // would have a class that disagrees with its site or instance.
            let (one, two) = (wait_of(1), wait_of(2));
            let w = Arc::new(InlineWait::new());
            // SAFETY: this thread is the owner; the inline wait is free.
            unsafe { w.put(one) };
            let w2 = w.clone();
            let scan = loom::thread::spawn(move || {
                w2.read(|r| {
                    let expect = if r.class == 1 { one } else { two };
                    assert!(r.class == 1 || r.class == 2);
                    assert!(std::ptr::eq(r.site, expect.site));
                    assert_eq!(r.instance, r.class as usize);
                    r.flags |= R_REPORTED;
                    r.class
                })
            });
            // The owner ends the first wait and starts the second: a fixed
            // number of steps, whatever the scan does.
            // SAFETY: the owner, ending its own wait, then filling the free inline wait.
            unsafe {
                assert_eq!(w.end_as_owner(), 1);
                w.put(two);
            }
            let seen = scan.join().unwrap();
            // A mark lands only on the wait the scan read: the second wait
            // is marked only if that is the one it saw.
            let marked = w.read(|r| r.flags & R_REPORTED != 0).unwrap();
            assert!(!marked || seen == Some(2), "{seen:?}");
            // SAFETY: as above.
            assert_eq!(unsafe { w.end_as_owner() }, 2);
            assert!(w.is_free());
        });
    }

    #[test]
    fn loom_a_wait_ended_elsewhere_during_a_scan_is_taken_whole() {
        loom::model(|| {
            let one = wait_of(7);
            let w = Arc::new(InlineWait::new());
            // SAFETY: this thread is the owner; the inline wait is free.
            unsafe { w.put(one) };
            let w2 = w.clone();
            let scan = loom::thread::spawn(move || {
                w2.read(|r| r.flags |= R_SLOW);
            });
            // SAFETY: the wait is in the inline wait, and its owner (this model's main thread) does not end it.
            let taken = match unsafe { w.take_elsewhere() } {
                Taken::Done(r) => r,
                Taken::OwnerGone(_) => panic!("the owner has not exited"),
            };
            assert_eq!((taken.class, taken.instance), (7, 7));
            scan.join().unwrap();
            assert!(w.is_free());
        });
    }
}
