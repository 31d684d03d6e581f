// Contention of the async locks (`Mutex`, `RwLock`, `Semaphore`), by lock
// class, for metrics: how many acquisitions had to queue, how long they
// waited, and (Mutex and RwLock) how long the lock was held; and how many
// Mutex and RwLock instances are alive (the policy's `max_locks`).
//
// Only the contended path records contention (an uncontended acquisition
// pays only the hold sampling's count, below). A queued one
// adds one to its class's count
// on the thread's own shard of it (a line other threads rarely write), and
// one queued acquisition in `TIME_EVERY` per thread is timed: two clock
// reads and a histogram add. (Timing each, on one shared line, made a
// contended Mutex 1.8x slower in `compare -- sync`; one in 16, with the
// hold sampling, still ~1.1x against the tree before metrics.)
//
// Classes are those of the validation engine: an explicit `LockClass` by its
// name, else the creation site (`Mutex@file.rs:line`). The first
// `MAX_CLASSES` classes seen get a slot each; later ones share the
// `OTHER_CLASS` slot, so the series count stays bounded. A thread keeps the
// slots it used last, so the registry's lock is taken once per class and
// thread, not per acquisition; a Mutex or RwLock keeps its own class's
// slot (`LockStats`), so its contended path does not even search that.

use super::batch_semaphore::BatchSemaphore;
use crate::loom::cell::UnsafeCell;
use crate::metrics::{GATHER, MAX_CLASSES, OTHER_CLASS};
use crate::runtime::DelayHistogram;
use crate::scheduler::stats::LogHistogram;
use crate::validation::LockMeta;
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

/// One queued acquisition in this many (per thread) is timed.
pub(crate) const TIME_EVERY: u32 = 128;

/// Shards of a class's contended count (threads pick one round robin).
const SHARDS: usize = 8;

/// One lock class's contention.
pub(crate) struct LockClassStats {
    pub(crate) name: String,
    contended: [CachePadded<AtomicU64>; SHARDS],
    wait: LogHistogram,
    hold: LogHistogram,
}

impl LockClassStats {
    fn new(name: String) -> LockClassStats {
        LockClassStats {
            name,
            contended: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
            wait: LogHistogram::new(),
            hold: LogHistogram::new(),
        }
    }
}

// What each Mutex and RwLock keeps for metrics (`LockStats`): its class's
// slot, resolved at the first contended or timed acquisition and then read
// with one load (looking it up per acquisition in the thread's cache was
// most of what metrics cost a contended Mutex), and whether it counts as a
// live lock.
//
// An RwLock's hold time is sampled per thread (a Mutex's per lock, see
// `MutexHolds`): one acquisition in `HOLD_EVERY` that a
// thread makes (the thread's 1st, 1025th, ...) reads the clock when granted
// and again when its guard drops, and adds the difference to its class's
// hold histogram. The others pay a thread-local decrement and a test for
// zero: the count runs down to the next timed acquisition (a count up with
// a `% HOLD_EVERY` test cost the uncontended lock/unlock 3 more
// instructions, ~1 % of it in `metrics_instructions.sh`). Sampling one in
// 16 cost a 20 ns uncontended lock/unlock 1.3x (the two clock reads and
// the histogram add, amortised), and a count kept in the lock made readers
// of an RwLock share one more written cache line.

/// One acquisition in this many (per thread for an RwLock, per lock for a
/// Mutex) has its hold timed.
pub(crate) const HOLD_EVERY: u32 = 1024;

thread_local! {
    /// This thread's acquisitions until the next timed one (1: the next
    /// one is), for `HOLD_EVERY`.
    static HOLDS: Cell<u32> = const { Cell::new(1) };
}

// A `Mutex` samples its holds itself (`MutexHolds`, kept in the lock):
// whoever holds it has it to themselves, so the countdown and the sampled
// hold's start time need neither a thread-local nor an atomic, and the
// guard carries no timer. An unsampled lock then pays a decrement of a
// word of the lock (whose line the acquisition has just written) and an
// unlock a test of it; the thread-local countdown, the timer in the guard
// and the spills those caused were ~11 instructions of a ~256-instruction
// uncontended lock/unlock (`mutex_uncontended` on/off 1.044 in
// `metrics_instructions.sh`). The holds of one lock, not of one thread,
// are counted: one in `HOLD_EVERY` of each lock's acquisitions, from a
// phase set when the lock is made (`MutexHolds::new`). An RwLock keeps the thread-local count: its readers hold the lock
// together, and a count in the lock would make every reader write one
// shared line.

/// How far each new Mutex's phase is from the last one's: odd, so the
/// phases run through all of 1..=HOLD_EVERY.
#[cfg(not(perf_runtime_loom))]
const PHASE_STEP: u32 = 389;

#[cfg(not(perf_runtime_loom))]
thread_local! {
    /// The phase `MutexHolds::new` gave the last lock made on this thread
    /// (less one); set so that the thread's first lock times its first
    /// acquisition, as a thread's first acquisition of an RwLock is.
    static PHASE: Cell<u32> = const { Cell::new(HOLD_EVERY - PHASE_STEP) };
}

/// A `Mutex`'s hold sampling: its acquisitions until the next timed one,
/// and when the timed hold in progress (if any) started. Read and written
/// only by the holder of the lock's permit, which orders each holder's
/// accesses after the previous holder's (the semaphore's acquire/release).
pub(crate) struct MutexHolds {
    /// Acquisitions until the next timed one (1: the next one is); 0 while
    /// a timed hold is in progress.
    left: UnsafeCell<u32>,
    /// The clock at the grant of the timed hold in progress.
    start: UnsafeCell<u64>,
}

impl MutexHolds {
    /// For a new lock: its first timed acquisition is one of its first
    /// `HOLD_EVERY`, at a phase that steps on with every lock this thread
    /// makes (the thread's first lock: its first acquisition), so that of many short-lived locks (each acquired a few
    /// times) one in `HOLD_EVERY` is still timed, not each one's first.
    /// (Under loom every lock's first acquisition is timed: the models
    /// then cover the timed path, and a phase carried over from the
    /// previous execution would make executions differ.)
    pub(crate) fn new() -> MutexHolds {
        #[cfg(perf_runtime_loom)]
        let left = 1;
        #[cfg(not(perf_runtime_loom))]
        let left = PHASE
            .try_with(|p| {
                let next = (p.get() + PHASE_STEP) % HOLD_EVERY;
                p.set(next);
                next + 1
            })
            .unwrap_or(1);
        MutexHolds {
            left: UnsafeCell::new(left),
            start: UnsafeCell::new(0),
        }
    }

    /// For a lock in a `static`: its first acquisition is timed.
    #[cfg(not(perf_runtime_loom))]
    pub(crate) const fn new_static() -> MutexHolds {
        MutexHolds {
            left: UnsafeCell::new(1),
            start: UnsafeCell::new(0),
        }
    }

    /// The lock was granted: counts it, and starts the timer of one in
    /// `HOLD_EVERY`.
    ///
    /// # Safety
    /// The caller holds the lock's permit, from before this call until its
    /// [`release`](Self::release).
    #[inline]
    pub(crate) unsafe fn granted(&self) {
        if !GATHER {
            return;
        }
        // SAFETY: the permit's holder alone reaches the cells (caller).
        let left = self.left.with_mut(|p| unsafe {
            *p -= 1;
            *p
        });
        if left == 0 {
            // SAFETY: as above.
            unsafe { self.start_timer() };
        }
    }

    /// # Safety
    /// As [`granted`](Self::granted).
    #[cold]
    #[inline(never)]
    unsafe fn start_timer(&self) {
        let now = crate::scheduler::stats::now_ns();
        // SAFETY: the permit's holder alone reaches the cells (caller).
        self.start.with_mut(|p| unsafe { *p = now });
    }

    /// Releases the lock's permit (`s.release(1)`), first taking the timed
    /// hold's start if this hold is timed, and records that hold in `meta`'s
    /// class after the release.
    ///
    /// # Safety
    /// The caller holds the permit of the lock whose `s` and `meta` these
    /// are, and was [`granted`](Self::granted) it.
    #[inline]
    pub(crate) unsafe fn release(&self, s: &BatchSemaphore, meta: &LockStats) {
        // SAFETY: the permit's holder alone reaches the cells (caller).
        if GATHER && self.left.with(|p| unsafe { *p }) == 0 {
            // SAFETY: as above.
            unsafe { self.release_timed(s, meta) };
        } else {
            s.release(1);
        }
    }

    /// # Safety
    /// As [`release`](Self::release).
    #[cold]
    #[inline(never)]
    unsafe fn release_timed(&self, s: &BatchSemaphore, meta: &LockStats) {
        // The caller still holds the permit: the cells are read and reset
        // before the release hands them to the next holder.
        let start = self.start.with(|p| {
            // SAFETY: the permit's holder alone touches `start` (above).
            unsafe { *p }
        });
        // SAFETY: as above.
        self.left.with_mut(|p| unsafe { *p = HOLD_EVERY });
        let class = meta.metrics_class();
        s.release(1);
        record_hold(class, start);
    }
}

/// Mutex and RwLock instances alive, made with `new`/`with_class` (a
/// `const_new` static is not counted: it lives for the whole program).
static LIVE: [CachePadded<AtomicI64>; SHARDS] =
    [const { CachePadded::new(AtomicI64::new(0)) }; SHARDS];

/// Live Mutex and RwLock instances in the process (see [`LIVE`]).
pub(crate) fn live_locks() -> usize {
    let n: i64 = LIVE.iter().map(|c| c.load(Relaxed)).sum();
    n.max(0) as usize
}

/// A lock's validation record with its metrics state (see above); derefs
/// to the [`LockMeta`], so a lock keeps one field for both and an
/// acquisition future one reference.
pub(crate) struct LockStats {
    meta: LockMeta,
    slot: OnceLock<&'static LockClassStats>,
    counted: bool,
}

impl std::ops::Deref for LockStats {
    type Target = LockMeta;
    #[inline]
    fn deref(&self) -> &LockMeta {
        &self.meta
    }
}

impl LockStats {
    /// For a lock counted as live until it is dropped.
    pub(crate) fn new(meta: LockMeta) -> LockStats {
        LIVE[shard()].fetch_add(1, Relaxed);
        LockStats {
            meta,
            slot: OnceLock::new(),
            counted: true,
        }
    }

    /// For a lock in a `static` (not counted as live).
    #[cfg_attr(perf_runtime_loom, allow(dead_code))]
    pub(crate) const fn new_static(meta: LockMeta) -> LockStats {
        LockStats {
            meta,
            slot: OnceLock::new(),
            counted: false,
        }
    }

    /// The metrics slot of the lock's class.
    #[inline]
    pub(crate) fn metrics_class(&self) -> &'static LockClassStats {
        match self.slot.get() {
            Some(s) => s,
            None => self.resolve(),
        }
    }

    #[cold]
    fn resolve(&self) -> &'static LockClassStats {
        self.slot.get_or_init(|| slot(&self.meta))
    }

    /// An acquisition was granted: a running hold timer for one in
    /// `HOLD_EVERY` acquisitions of this thread, else an idle one.
    #[inline]
    pub(crate) fn hold_start(&self) -> HoldTimer {
        if !GATHER {
            return HoldTimer(None);
        }
        let timed = HOLDS
            .try_with(|c| {
                let left = c.get() - 1;
                c.set(left);
                left == 0
            })
            .unwrap_or(false);
        if !timed {
            return HoldTimer(None);
        }
        self.timed()
    }

    #[cold]
    #[inline(never)]
    fn timed(&self) -> HoldTimer {
        let _ = HOLDS.try_with(|c| c.set(HOLD_EVERY));
        HoldTimer(Some((
            crate::scheduler::stats::now_ns(),
            self.metrics_class(),
        )))
    }
}

impl Drop for LockStats {
    #[inline]
    fn drop(&mut self) {
        if self.counted {
            LIVE[shard()].fetch_sub(1, Relaxed);
        }
    }
}

/// Kept by a guard: when a timed hold started, and the class to add it to.
/// Dropped with the guard (after the guard has released the lock), it
/// records the hold.
pub(crate) struct HoldTimer(Option<(u64, &'static LockClassStats)>);

impl HoldTimer {
    /// Moves the timer out, leaving an idle one (a guard being mapped).
    #[inline]
    pub(crate) fn take(&mut self) -> HoldTimer {
        HoldTimer(self.0.take())
    }
}

impl Drop for HoldTimer {
    #[inline]
    fn drop(&mut self) {
        if let Some((start, class)) = self.0 {
            record_hold(class, start);
        }
    }
}

#[cold]
#[inline(never)]
fn record_hold(class: &LockClassStats, start: u64) {
    let held = crate::scheduler::stats::now_ns().saturating_sub(start);
    class.hold.record_shared(held);
}

thread_local! {
    /// This thread's shard, and its count of queued acquisitions (for
    /// `TIME_EVERY`).
    static THREAD: Cell<(usize, u32)> = const { Cell::new((usize::MAX, 0)) };
}

/// Called when an acquisition queues: a clock stamp for one in
/// `TIME_EVERY` (per thread), else 0 (not timed).
#[inline]
pub(crate) fn queued_stamp() -> u64 {
    if !GATHER {
        return 0;
    }
    let timed = THREAD
        .try_with(|t| {
            let (shard, n) = t.get();
            t.set((shard, n.wrapping_add(1)));
            n % TIME_EVERY == 0
        })
        .unwrap_or(false);
    if timed {
        crate::scheduler::stats::now_ns()
    } else {
        0
    }
}

fn shard() -> usize {
    THREAD
        .try_with(|t| {
            let (shard, n) = t.get();
            if shard != usize::MAX {
                return shard;
            }
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let shard = NEXT.fetch_add(1, Relaxed) as usize % SHARDS;
            t.set((shard, n));
            shard
        })
        .unwrap_or(0)
}

/// One class's numbers, copied out.
#[derive(Clone, Debug)]
pub(crate) struct LockClassSnap {
    pub(crate) name: String,
    pub(crate) contended: u64,
    pub(crate) wait: DelayHistogram,
    pub(crate) hold: DelayHistogram,
}

/// Identifies a class without formatting its name, in two words compared
/// as integers: an explicit class by its address, a site class by its
/// file's address and its line and column.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key(usize, u64);

fn key_of(meta: &LockMeta) -> Key {
    match meta.class() {
        Some(c) => Key(c as *const _ as usize, u64::MAX),
        None => {
            let s = meta.created_at();
            Key(
                s.file().as_ptr() as usize,
                (u64::from(s.line()) << 32) | u64::from(s.column()),
            )
        }
    }
}

fn name_of(meta: &LockMeta) -> String {
    match meta.class() {
        Some(c) => c.name().to_owned(),
        None => {
            let s = meta.created_at();
            let file = s.file().rsplit(['/', '\\']).next().unwrap_or(s.file());
            format!("{}@{}:{}", meta.kind().as_str(), file, s.line())
        }
    }
}

struct Registry {
    /// Keys resolved so far (two keys may share a class of the same name:
    /// two `LockClass` statics named alike, or two sites on one line).
    keys: Vec<(Key, &'static LockClassStats)>,
    /// The distinct classes, in registration order.
    classes: Vec<&'static LockClassStats>,
    other: Option<&'static LockClassStats>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    keys: Vec::new(),
    classes: Vec::new(),
    other: None,
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Slots a thread resolved recently (most recent first).
const CACHED: usize = 4;

type Cached = Option<(Key, &'static LockClassStats)>;

thread_local! {
    static CACHE: [Cell<Cached>; CACHED] = const { [const { Cell::new(None) }; CACHED] };
}

/// Moves entry `i` of a thread's cache to the front.
fn to_front(cells: &[Cell<Cached>; CACHED], i: usize, e: Cached) {
    for j in (1..=i).rev() {
        cells[j].set(cells[j - 1].get());
    }
    cells[0].set(e);
}

/// The slot of `meta`'s class (registered on first use; leaked: at most
/// `MAX_CLASSES + 1` slots per process).
#[inline]
fn slot(meta: &LockMeta) -> &'static LockClassStats {
    let key = key_of(meta);
    let hit = CACHE
        .try_with(|cells| {
            let i = cells
                .iter()
                .position(|e| matches!(e.get(), Some((k, _)) if k == key))?;
            let hit = cells[i].get();
            if i > 0 {
                // Most recent first (a contended lock is usually the one
                // used last).
                to_front(cells, i, hit);
            }
            hit.map(|(_, s)| s)
        })
        .ok()
        .flatten();
    match hit {
        Some(s) => s,
        None => resolve(meta, key),
    }
}

#[cold]
fn resolve(meta: &LockMeta, key: Key) -> &'static LockClassStats {
    let s = {
        let mut r = registry();
        if let Some(&(_, s)) = r.keys.iter().find(|(k, _)| *k == key) {
            s
        } else {
            let name = name_of(meta);
            let s = match r.classes.iter().find(|c| c.name == name) {
                Some(&s) => s,
                None if r.classes.len() < MAX_CLASSES && name != OTHER_CLASS => {
                    let s: &'static LockClassStats = Box::leak(Box::new(LockClassStats::new(name)));
                    r.classes.push(s);
                    s
                }
                None => *r.other.get_or_insert_with(|| {
                    Box::leak(Box::new(LockClassStats::new(OTHER_CLASS.to_owned())))
                }),
            };
            // Bounded too: a key per distinct class, and past the cap the
            // overflow keys are not remembered (each resolves again, by
            // name, under this lock).
            if r.keys.len() < 4 * MAX_CLASSES {
                r.keys.push((key, s));
            }
            s
        }
    };
    let _ = CACHE.try_with(|cells| to_front(cells, CACHED - 1, Some((key, s))));
    s
}

/// The slot of a lock's class, for a lock without a [`LockStats`] (a
/// semaphore).
pub(crate) fn class_of(meta: &LockMeta) -> &'static LockClassStats {
    slot(meta)
}

/// An acquisition of a lock of class `s` queued (with the stamp
/// [`queued_stamp`] gave it) and was granted now.
#[inline(never)]
pub(crate) fn contended(s: &'static LockClassStats, stamp: u64) {
    if !GATHER {
        return;
    }
    s.contended[shard()].fetch_add(1, Relaxed);
    if stamp != 0 {
        let waited = crate::scheduler::stats::now_ns().saturating_sub(stamp);
        s.wait.record_shared(waited);
    }
}

/// Every class seen so far, the overflow slot last.
pub(crate) fn snapshot() -> Vec<LockClassSnap> {
    let r = registry();
    r.classes
        .iter()
        .copied()
        .chain(r.other)
        .map(|s| LockClassSnap {
            name: s.name.clone(),
            contended: s.contended.iter().map(|c| c.load(Relaxed)).sum(),
            wait: s.wait.snapshot(),
            hold: s.hold.snapshot(),
        })
        .collect()
}

// Channels: occupancy and capacity by channel class (the creation site,
// `mpsc@file.rs:line`), read at scrape time from the live channels
// themselves, so sending and receiving count nothing. A channel registers
// once when created and unregisters when its shared state is dropped; the
// registry keeps, per live channel, a type-erased pointer to it and the
// function that reads its queue length.

/// Reads the queue length of the channel `ptr` points to.
pub(crate) type LenFn = unsafe fn(*const ()) -> usize;

struct ChannelEntry {
    class: usize,
    ptr: *const (),
    len: LenFn,
    bound: Option<usize>,
}

struct ChannelRegistry {
    /// Class names; index `MAX_CLASSES` (when present) is never used: a
    /// class past the cap is `None` below and reported as `other`.
    classes: Vec<(crate::validation::Site, String)>,
    entries: Vec<Option<ChannelEntry>>,
    free: Vec<usize>,
    /// Broadcast receivers' lags per class index (`MAX_CLASSES`: other),
    /// kept after the channels are gone (a counter).
    lags: Vec<u64>,
}

// The raw pointers are dereferenced only under the registry's lock, while
// the channel they point to is alive (`ChannelGauge` docs), and only to read
// the queue's atomic indices, which any thread may read.
// SAFETY: so the registry may move to (be locked from) any thread.
unsafe impl Send for ChannelRegistry {}

static CHANNELS: Mutex<ChannelRegistry> = Mutex::new(ChannelRegistry {
    classes: Vec::new(),
    entries: Vec::new(),
    free: Vec::new(),
    lags: Vec::new(),
});

fn channels() -> std::sync::MutexGuard<'static, ChannelRegistry> {
    CHANNELS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A live channel's registration; the channel's shared state keeps it as
/// its first field, so it unregisters before anything else of the channel
/// is dropped.
pub(crate) struct ChannelGauge(usize);

impl ChannelGauge {
    /// Registers the channel at `ptr` (its shared state, which must not
    /// move and must own the returned gauge), created at `site`.
    ///
    /// # Safety
    /// `len(ptr)` must be sound to call from any thread for as long as the
    /// returned gauge is alive.
    pub(crate) unsafe fn register(
        ptr: *const (),
        len: LenFn,
        bound: Option<usize>,
        site: crate::validation::Site,
        kind: &str,
    ) -> ChannelGauge {
        let mut r = channels();
        let class = match r.classes.iter().position(|(s, _)| *s == site) {
            Some(i) => i,
            None => {
                let file = site
                    .file()
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or(site.file());
                let name = format!("{kind}@{file}:{}", site.line());
                match r.classes.iter().position(|(_, n)| *n == name) {
                    Some(i) => i,
                    None if r.classes.len() < MAX_CLASSES => {
                        r.classes.push((site, name));
                        r.classes.len() - 1
                    }
                    None => MAX_CLASSES,
                }
            }
        };
        let e = ChannelEntry {
            class,
            ptr,
            len,
            bound,
        };
        let id = match r.free.pop() {
            Some(id) => {
                r.entries[id] = Some(e);
                id
            }
            None => {
                r.entries.push(Some(e));
                r.entries.len() - 1
            }
        };
        ChannelGauge(id)
    }

    /// The channel's bound is now `bound` (an adaptive channel resized).
    pub(crate) fn set_bound(&self, bound: usize) {
        if let Some(e) = channels().entries[self.0].as_mut() {
            e.bound = Some(bound);
        }
    }
}

impl ChannelGauge {
    /// A receiver of this (broadcast) channel lagged: values were
    /// overwritten before it read them. Takes the registry's lock: a lag is
    /// already the receiver's slow path.
    pub(crate) fn lagged(&self) {
        let mut r = channels();
        let class = r.entries[self.0].as_ref().map_or(MAX_CLASSES, |e| e.class);
        if r.lags.len() <= class {
            r.lags.resize(class + 1, 0);
        }
        r.lags[class] += 1;
    }
}

/// Receiver lags by channel class since the process started (classes with
/// none are left out), `other` last.
pub(crate) fn channel_lags() -> Vec<(String, u64)> {
    let r = channels();
    r.lags
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(i, &n)| {
            let name = r
                .classes
                .get(i)
                .map_or_else(|| OTHER_CLASS.to_owned(), |(_, n)| n.clone());
            (name, n)
        })
        .collect()
}

impl Drop for ChannelGauge {
    fn drop(&mut self) {
        let mut r = channels();
        r.entries[self.0] = None;
        r.free.push(self.0);
    }
}

/// One channel class's live channels, summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChannelClassSnap {
    pub(crate) name: String,
    pub(crate) channels: usize,
    pub(crate) occupancy: usize,
    /// Summed buffer of the bounded ones.
    pub(crate) capacity: usize,
}

/// Every channel class with a live channel, `other` last.
pub(crate) fn channel_snapshot() -> Vec<ChannelClassSnap> {
    let r = channels();
    let mut out: Vec<ChannelClassSnap> = r
        .classes
        .iter()
        .map(|(_, n)| n.clone())
        .chain([OTHER_CLASS.to_owned()])
        .map(|name| ChannelClassSnap {
            name,
            channels: 0,
            occupancy: 0,
            capacity: 0,
        })
        .collect();
    let other = out.len() - 1;
    for e in r.entries.iter().flatten() {
        let c = &mut out[e.class.min(other)];
        c.channels += 1;
        // The entry is registered, so its channel is alive (its gauge
        // unregisters under this lock before the channel is dropped).
        // SAFETY: alive, and `register`'s caller promised `len` is sound on it.
        c.occupancy += unsafe { (e.len)(e.ptr) };
        c.capacity += e.bound.unwrap_or(0);
    }
    out.retain(|c| c.channels > 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::LockKind;

    /// A thread's 1st, (HOLD_EVERY + 1)th, (2 HOLD_EVERY + 1)th ...
    /// acquisitions are timed, and only those: the countdown keeps the rate
    /// and the phase of the count-up it replaced.
    #[test]
    fn holds_are_timed_on_the_first_and_every_hold_every_th_acquisition() {
        if !GATHER {
            return;
        }
        // A fresh thread: its count starts at its first acquisition.
        std::thread::spawn(|| {
            let stats = LockStats::new_static(LockMeta::new(LockKind::Mutex));
            let timed: Vec<usize> = (0..3 * HOLD_EVERY as usize + 1)
                .filter(|_| {
                    let mut t = stats.hold_start();
                    t.take().0.is_some()
                })
                .collect();
            let every = HOLD_EVERY as usize;
            assert_eq!(timed, vec![0, every, 2 * every, 3 * every]);
        })
        .join()
        .unwrap();
    }

    /// A thread's first Mutex times its first acquisition; the phases of
    /// the next ones step on, so of HOLD_EVERY locks made in a row exactly
    /// one times its first acquisition.
    #[test]
    #[cfg(not(perf_runtime_loom))]
    fn new_mutexes_phases_start_at_one_and_cover_every_phase() {
        std::thread::spawn(|| {
            let left = |h: MutexHolds| h.left.into_inner();
            assert_eq!(left(MutexHolds::new()), 1);
            let mut seen: Vec<u32> = (1..HOLD_EVERY).map(|_| left(MutexHolds::new())).collect();
            seen.push(1);
            seen.sort_unstable();
            assert_eq!(seen, (1..=HOLD_EVERY).collect::<Vec<_>>());
        })
        .join()
        .unwrap();
    }

    /// A Mutex times its own holds: a static one its 1st and
    /// (HOLD_EVERY + 1)th, whatever guard (plain or mapped) ends them, each
    /// recorded with its duration; the holds between add nothing.
    #[test]
    #[cfg(not(perf_runtime_loom))]
    fn a_mutex_times_one_hold_in_hold_every_with_its_duration() {
        use crate::scheduler::stats::now_ns;
        use crate::sync::{Mutex, MutexGuard};
        use crate::validation::LockClass;
        if !GATHER {
            return;
        }
        static CLASS: LockClass = LockClass::new("class_stats_test_mutex_holds");
        static M: Mutex<u64> = Mutex::const_with_class(0, &CLASS);
        let hold = || {
            snapshot()
                .into_iter()
                .find(|c| c.name == CLASS.name())
                .map(|c| (c.hold.count(), c.hold.sum().as_nanos() as u64))
                .unwrap_or((0, 0))
        };
        // A timed hold of at least 100 us (busy: the clock must move on).
        let before = now_ns();
        let mut g = M.try_lock().unwrap();
        let inside = now_ns();
        while now_ns() < inside + 100_000 {
            *g += 1;
        }
        drop(g);
        let after = now_ns();
        let (n, sum) = hold();
        assert_eq!(n, 1);
        assert!(sum >= 100_000, "recorded {sum} ns for a hold of >= 100 us");
        assert!(
            sum <= after - before,
            "recorded {sum} ns of {} ns",
            after - before
        );
        for _ in 1..HOLD_EVERY {
            drop(M.try_lock().unwrap());
        }
        assert_eq!(hold().0, 1, "an untimed hold was recorded");
        // The next is timed again, and ended by a mapped guard.
        let g = MutexGuard::map(M.try_lock().unwrap(), |v| v);
        drop(g);
        assert_eq!(hold().0, 2);
        drop(M.try_lock().unwrap());
        assert_eq!(hold().0, 2);
    }
}
