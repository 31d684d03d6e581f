//! The hierarchical timer wheel (Varghese & Lauck; the layout of tokio's).
//!
//! Six levels of 64 slots. A slot of level `l` spans `64^l` ticks (1 tick =
//! `tick_ns`, the runtime's timer resolution, 1 ms by default), so level `l`
//! spans `64^(l+1)` ticks and the wheel `64^6` ticks (~2.2 years at 1 ms)
//! ahead of `elapsed`, the last tick it has processed.
//!
//! The wheel only places entries coarsely; timers fire at their exact
//! deadline (nanoseconds since the clock's origin). An entry's tick `when`
//! is its deadline rounded *down* to a tick. When a level-0 slot comes up,
//! its entries move to `near`, a queue by exact deadline (the slot's
//! entries sorted once as they move in, and a min-heap for entries placed
//! there one at a time), and fire from there once the clock has passed
//! their deadline. The wheel pulls the next
//! level-0 slot into `near` as soon as `near` is empty ("settles") if that
//! slot starts by the next tick, even before its tick begins, so
//! `next_expiration` is either an exact deadline (the top of `near`), the
//! start of a level-0 slot further ahead, or a cascade point of a higher
//! level: a parked worker sleeps until the earliest deadline, or wakes at a
//! slot start before it and then sleeps to the exact deadline. Timers
//! cancelled before their slot comes near (most timeouts) never enter the
//! heap.
//!
//! Invariants (checked by `check_invariants` in tests):
//! - every entry in `near` has `when <= elapsed`; every entry linked in a
//!   slot has `when > elapsed`, so every `near` deadline is earlier than
//!   every slotted one; outside `poll`'s loop, the top of `near` is live,
//!   and `near` is empty only if no level-0 slot starts by `elapsed + 1`;
//! - every linked entry has `when > elapsed` and sits at level
//!   `level_for(elapsed, when)` (the level of the highest bit in which `when`
//!   differs from `elapsed`; clamped to the top level when `when` is further
//!   than the wheel's span), slot `(when >> 6*level) % 64`;
//! - `elapsed` only moves forward, and never past the start of an occupied
//!   slot without processing it: a processed slot's entries fire if due, or
//!   are re-linked ("cascaded") at a lower level relative to the new
//!   `elapsed`. Top-level entries further away than the span are re-linked
//!   at the top level again until they come within range;
//! - `occupied` of each level has bit `s` set iff slot `s` is non-empty.
//!
//! Entries live in a slab (`Vec<Node>` + a free list threaded through
//! `next`); slot lists are doubly linked by index, so insert and remove are
//! O(1) and a removed entry's memory is reused at once. The node is the
//! whole timer entry: its deadline, its state and the waker of the task
//! waiting on it, so a `Sleep` holds only its key and registering a timer
//! allocates nothing once the slab has grown to the number of timers alive
//! at once. A node is owned by its `Sleep` from `insert` until `remove`:
//! firing (`poll`) only marks it `FIRED` and takes its waker, and the
//! `Sleep` frees it when dropped, so a key never dangles while its `Sleep`
//! holds it.
//!
//! `near` holds (deadline, key, generation) triples: an entry leaving
//! `near` (fired, removed or re-linked) bumps its node's generation, and the
//! stale triple is discarded when it reaches the top. `poll` returns due
//! entries one at a time (so the driver can drop its lock between batches
//! of wakes).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;

/// Levels of the wheel.
pub(super) const NUM_LEVELS: usize = 6;
/// log2 of the slots per level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Ticks the wheel spans from `elapsed`.
pub(super) const MAX_DURATION: u64 = 1 << (SLOT_BITS * NUM_LEVELS as u32);

/// The null index of the slab's lists.
const NIL: u32 = u32::MAX;
/// `Node::level` of an entry in `near`.
const NEAR: u8 = u8::MAX;
/// `Node::level` of a free slab node.
const FREE: u8 = u8::MAX - 1;
/// `Node::level` of a node that fired (or was due when registered) and is
/// still held by its `Sleep`.
const FIRED: u8 = u8::MAX - 2;

/// An entry's slab index; valid from `insert` until `remove`.
pub(super) type Key = u32;

struct Node {
    /// The task to wake when the entry fires.
    waker: Option<Waker>,
    /// The tick of `deadline`, rounded down.
    when: u64,
    /// The exact deadline, in nanoseconds since the clock's origin.
    deadline: u64,
    /// Bumped whenever the node leaves `near` (or the wheel), so a stale
    /// `near` triple is told apart.
    generation: u32,
    prev: u32,
    next: u32,
    level: u8,
    slot: u8,
}

struct Level {
    /// Bit `s` set iff `heads[s] != NIL`.
    occupied: u64,
    heads: [u32; SLOTS],
}

/// A slot to process: its level and index, and the tick at which it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expiration {
    level: usize,
    slot: usize,
    deadline: u64,
}

/// An entry in `near`: (deadline, key, generation), ordered by deadline.
type NearItem = (u64, Key, u32);

/// The exact-deadline queue. A level-0 slot's entries move in together
/// (`process`, which only runs with `near` empty): they are sorted once
/// into `run`, and popped off its end in deadline order, instead of being
/// pushed into and popped out of a heap one at a time. Entries that come
/// one at a time (`place` of a deadline within the current tick) go to
/// `heap`; the earliest of the two tops is the queue's top.
struct Near {
    /// Sorted by deadline, latest first: the earliest is last.
    run: Vec<NearItem>,
    heap: BinaryHeap<Reverse<NearItem>>,
}

impl Near {
    fn new() -> Near {
        Near {
            run: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.run.is_empty() && self.heap.is_empty()
    }

    /// The earliest item.
    #[inline]
    fn peek(&self) -> Option<NearItem> {
        match (self.run.last(), self.heap.peek()) {
            (Some(&r), Some(&Reverse(h))) => Some(r.min(h)),
            (Some(&r), None) => Some(r),
            (None, Some(&Reverse(h))) => Some(h),
            (None, None) => None,
        }
    }

    /// Removes the item `peek` returns.
    #[inline]
    fn pop(&mut self) {
        match (self.run.last(), self.heap.peek()) {
            (Some(r), Some(Reverse(h))) if h < r => {
                self.heap.pop();
            }
            (Some(_), _) => {
                self.run.pop();
            }
            (None, _) => {
                self.heap.pop();
            }
        }
    }

    fn push(&mut self, item: NearItem) {
        self.heap.push(Reverse(item));
    }

    /// Every item, in no particular order.
    #[cfg(all(test, not(perf_runtime_loom)))]
    fn iter(&self) -> impl Iterator<Item = &NearItem> {
        self.run.iter().chain(self.heap.iter().map(|Reverse(i)| i))
    }
}

pub(super) struct Wheel {
    /// Nanoseconds per tick.
    tick_ns: u64,
    elapsed: u64,
    levels: [Level; NUM_LEVELS],
    near: Near,
    nodes: Vec<Node>,
    free: u32,
    len: usize,
}

impl Wheel {
    /// A wheel whose ticks are `tick_ns` nanoseconds long (at least 1).
    pub(super) fn new(tick_ns: u64) -> Wheel {
        Wheel {
            tick_ns: tick_ns.max(1),
            elapsed: 0,
            levels: std::array::from_fn(|_| Level {
                occupied: 0,
                heads: [NIL; SLOTS],
            }),
            near: Near::new(),
            nodes: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    /// The last tick processed.
    #[cfg(all(test, not(perf_runtime_loom)))]
    pub(super) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Entries linked (pending, not fired).
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Links a new entry to fire once the clock reaches `deadline`
    /// (nanoseconds since the clock's origin), waking `waker`. A deadline
    /// already past fires at the next `poll`.
    pub(super) fn insert(&mut self, deadline: u64, waker: Option<Waker>) -> Key {
        let key = self.alloc(waker);
        self.place(key, deadline);
        key
    }

    /// Moves the entry at `key` (pending or fired) to fire at `deadline`;
    /// its waker stays.
    pub(super) fn relink(&mut self, key: Key, deadline: u64) {
        self.detach(key);
        self.place(key, deadline);
        // Detaching may have left a stale triple on top of `near` (or
        // emptied it), which `place` does not check for.
        self.settle();
    }

    /// Marks the entry at `key` fired without waking it (its deadline was
    /// moved into the past by its owner).
    pub(super) fn mark_fired(&mut self, key: Key) {
        self.detach(key);
        self.nodes[key as usize].level = FIRED;
        self.settle();
    }

    /// Frees the entry at `key`, unlinking it if pending. Returns its waker,
    /// to be dropped by the caller once the driver's lock is released (a
    /// waker's drop may run a task's destructor).
    pub(super) fn remove(&mut self, key: Key) -> Option<Waker> {
        if self.nodes[key as usize].level == FIRED {
            // In neither `near` nor a slot: freeing it changes no list, no
            // `len` and no expiration, so there is nothing to settle.
            return self.dealloc(key);
        }
        self.detach(key);
        let waker = self.dealloc(key);
        self.settle();
        waker
    }

    /// Whether the entry at `key` is still waiting for its deadline.
    pub(super) fn is_pending(&self, key: Key) -> bool {
        let level = self.nodes[key as usize].level;
        debug_assert_ne!(level, FREE, "reading a free key");
        level != FIRED
    }

    /// Stores the waker to wake when the entry at `key` fires; returns the
    /// one it replaces (to drop with the lock released).
    pub(super) fn set_waker(&mut self, key: Key, waker: &Waker) -> Option<Waker> {
        let slot = &mut self.nodes[key as usize].waker;
        match slot {
            Some(w) if w.will_wake(waker) => None,
            _ => slot.replace(waker.clone()),
        }
    }

    /// Places the detached node at `key` by `deadline`. Keeps the
    /// invariants if they held before (the caller settles after a `detach`).
    fn place(&mut self, key: Key, deadline: u64) {
        let when = deadline / self.tick_ns;
        let node = &mut self.nodes[key as usize];
        node.when = when;
        node.deadline = deadline;
        self.len += 1;
        if when <= self.elapsed {
            // `near`'s top was live (or `near` empty) and the new triple is
            // live: whichever is on top now is live, and a non-empty `near`
            // pulls no slot. Nothing to settle.
            self.push_near(key);
        } else {
            self.link(key);
            // With `near` non-empty its top is live and no slot is pulled
            // (`settle` would do nothing); an empty one may have to pull the
            // slot just linked.
            if self.near.is_empty() {
                self.settle();
            }
        }
    }

    /// Moves `elapsed` forward to the tick of `now` (nanoseconds since the
    /// clock's origin; a time the clock has reached), or to the tick before
    /// the next occupied slot if that starts earlier. `elapsed` only advances
    /// when the wheel is polled, and a worker's wheel is polled only when one
    /// of its timers is due, so a wheel left idle lags behind the clock: a
    /// timer linked then would sit at a higher level than its distance calls
    /// for and cost the driver a wake at a cascade point before its
    /// deadline. `elapsed` never passes the clock here (a timer far ahead
    /// must stay in a slot, or every timer before it would go to `near`),
    /// nor the start of an occupied slot, as in `poll`.
    pub(super) fn catch_up(&mut self, now: u64) {
        if now / self.tick_ns <= self.elapsed {
            // Not behind the clock (the common case: the wheel of a busy
            // worker is polled every tick): `elapsed` would not move.
            return;
        }
        let limit = self
            .next_slot()
            .map_or(u64::MAX, |e| e.deadline.saturating_sub(1));
        self.elapsed = self.elapsed.max((now / self.tick_ns).min(limit));
        self.settle();
    }

    /// Takes the node at `key` out of the wheel's lists (or `near`), if it
    /// is pending; it is then neither linked nor free.
    fn detach(&mut self, key: Key) {
        let level = self.nodes[key as usize].level;
        debug_assert_ne!(level, FREE, "detaching a free key");
        match level {
            FIRED => return,
            NEAR => {}
            _ => self.unlink(key),
        }
        let node = &mut self.nodes[key as usize];
        node.generation = node.generation.wrapping_add(1);
        node.level = FIRED;
        self.len -= 1;
    }

    /// When the wheel next has work, in nanoseconds since the clock's
    /// origin: the earliest exact deadline, or (with no entry in the next
    /// 64 ticks) the start of the slot to cascade.
    pub(super) fn next_expiration(&self) -> Option<u64> {
        if let Some((deadline, _, _)) = self.near.peek() {
            return Some(deadline);
        }
        self.next_slot()
            .map(|e| e.deadline.saturating_mul(self.tick_ns))
    }

    /// Fires one entry whose deadline is at or before `now` (nanoseconds
    /// since the clock's origin), processing every slot up to `now`, and
    /// returns its key and waker; `None` when no entry is due. The entry
    /// stays allocated, `FIRED`, until its owner removes it.
    pub(super) fn poll(&mut self, now: u64) -> Option<(Key, Option<Waker>)> {
        let now_tick = now / self.tick_ns;
        loop {
            if let Some((deadline, key, generation)) = self.near.peek() {
                if !self.is_near(key, generation) {
                    self.near.pop();
                    continue;
                }
                if deadline > now {
                    // Every slotted entry is later than this one.
                    return None;
                }
                self.near.pop();
                self.detach(key);
                return Some((key, self.nodes[key as usize].waker.take()));
            }
            match self.next_slot() {
                // A level-0 slot is pulled into `near` up to a tick before
                // its start: its entries then wait there for their exact
                // deadlines.
                Some(exp) if exp.deadline <= now_tick || self.pulls_near(&exp, now_tick) => {
                    self.process(exp)
                }
                _ => {
                    self.elapsed = self.elapsed.max(now_tick);
                    return None;
                }
            }
        }
    }

    /// Drops stale triples off the top of `near`, and pulls the next level-0
    /// slot into an empty `near` if it starts within a tick of `elapsed`, so
    /// `next_expiration` is exact for the timers due soon.
    fn settle(&mut self) {
        while let Some((_, key, generation)) = self.near.peek() {
            if self.is_near(key, generation) {
                return;
            }
            self.near.pop();
        }
        if let Some(exp) = self
            .next_slot()
            .filter(|e| self.pulls_near(e, self.elapsed))
        {
            self.process(exp);
        }
    }

    /// Whether `exp` is a level-0 slot that starts by the tick after `tick`:
    /// its entries then wait in `near` for their exact deadlines. A slot
    /// further ahead stays linked, and `next_expiration` is its start: a
    /// timer cancelled before then (most timeouts) never enters the heap.
    fn pulls_near(&self, exp: &Expiration, tick: u64) -> bool {
        exp.level == 0 && exp.deadline <= tick.saturating_add(1)
    }

    fn is_near(&self, key: Key, generation: u32) -> bool {
        let node = &self.nodes[key as usize];
        node.generation == generation && node.level == NEAR
    }

    fn push_near(&mut self, key: Key) {
        let item = self.mark_near(key);
        self.near.push(item);
    }

    /// Marks the node at `key` as in `near`; returns its `near` item.
    #[inline]
    fn mark_near(&mut self, key: Key) -> NearItem {
        let node = &mut self.nodes[key as usize];
        node.level = NEAR;
        node.prev = NIL;
        node.next = NIL;
        (node.deadline, key, node.generation)
    }

    /// Frees every entry and returns the wakers (runtime shutdown). Every
    /// key is invalid afterwards: the caller makes sure none is used again.
    pub(super) fn drain(&mut self) -> Vec<Waker> {
        let out = self
            .nodes
            .drain(..)
            .filter_map(|mut n| n.waker.take())
            .collect();
        *self = Wheel {
            elapsed: self.elapsed,
            ..Wheel::new(self.tick_ns)
        };
        out
    }

    fn next_slot(&self) -> Option<Expiration> {
        (0..NUM_LEVELS).find_map(|level| self.level_expiration(level))
    }

    /// The next occupied slot of `level` at or after `elapsed`'s position.
    fn level_expiration(&self, level: usize) -> Option<Expiration> {
        let occupied = self.levels[level].occupied;
        if occupied == 0 {
            return None;
        }
        let slot_range = slot_range(level);
        let level_range = slot_range << SLOT_BITS;
        // Search from the slot after `elapsed`'s: below the top level,
        // `elapsed`'s own slot is always empty; at the top level it can only
        // hold entries due a whole span later (see below), so it comes last.
        let from = (self.elapsed / slot_range) as u32 + 1;
        let slot = (occupied.rotate_right(from).trailing_zeros() + from) as usize % SLOTS;
        let level_start = self.elapsed & !(level_range - 1);
        let mut deadline = level_start + slot as u64 * slot_range;
        if deadline <= self.elapsed {
            // Only the top level wraps: its slots also hold entries whose
            // `when` crosses a span boundary or lies beyond the span, placed
            // by `when` modulo the span. Such a slot is next processed one
            // cycle later; its entries are then re-linked, never fired early.
            deadline += level_range;
        }
        Some(Expiration {
            level,
            slot,
            deadline,
        })
    }

    /// Moves `elapsed` to the start of `exp`'s slot and empties the slot:
    /// entries of that tick (or earlier) go to `near`, the others cascade
    /// down.
    fn process(&mut self, exp: Expiration) {
        debug_assert!(exp.deadline > self.elapsed);
        self.elapsed = exp.deadline;
        let level = &mut self.levels[exp.level];
        let mut key = std::mem::replace(&mut level.heads[exp.slot], NIL);
        level.occupied &= !(1 << exp.slot);
        // `near` is empty here (see `Near`); were its run not, sorting the
        // whole run below would still order it.
        while key != NIL {
            let next = self.nodes[key as usize].next;
            if self.nodes[key as usize].when <= exp.deadline {
                let item = self.mark_near(key);
                self.near.run.push(item);
            } else {
                self.link(key);
            }
            key = next;
        }
        // By deadline alone (one compare): the order of equal deadlines
        // does not matter.
        self.near.run.sort_unstable_by_key(|item| Reverse(item.0));
    }

    /// A new node, detached (reads as fired until placed).
    fn alloc(&mut self, waker: Option<Waker>) -> Key {
        let mut node = Node {
            waker,
            when: 0,
            deadline: 0,
            generation: 0,
            prev: NIL,
            next: NIL,
            level: FIRED,
            slot: 0,
        };
        if self.free != NIL {
            let key = self.free;
            self.free = self.nodes[key as usize].next;
            node.generation = self.nodes[key as usize].generation;
            self.nodes[key as usize] = node;
            key
        } else {
            let key = u32::try_from(self.nodes.len())
                .ok()
                .filter(|&k| k != NIL)
                .expect("more than 4 billion timers registered at once");
            self.nodes.push(node);
            key
        }
    }

    /// Frees the detached node at `key`; returns its waker.
    fn dealloc(&mut self, key: Key) -> Option<Waker> {
        let node = &mut self.nodes[key as usize];
        debug_assert_eq!(node.level, FIRED, "freeing a linked node");
        node.level = FREE;
        node.next = self.free;
        self.free = key;
        node.waker.take()
    }

    /// Links the (unlinked) node at the slot its `when` calls for.
    fn link(&mut self, key: Key) {
        let when = self.nodes[key as usize].when;
        debug_assert!(when > self.elapsed);
        let level = level_for(self.elapsed, when);
        self.push_front(key, level as u8, slot_for(when, level) as u8);
    }

    fn head(&self, level: u8, slot: u8) -> u32 {
        self.levels[level as usize].heads[slot as usize]
    }

    fn set_head(&mut self, level: u8, slot: u8, key: u32) {
        let l = &mut self.levels[level as usize];
        l.heads[slot as usize] = key;
        if key == NIL {
            l.occupied &= !(1 << slot);
        } else {
            l.occupied |= 1 << slot;
        }
    }

    fn push_front(&mut self, key: Key, level: u8, slot: u8) {
        let head = self.head(level, slot);
        let node = &mut self.nodes[key as usize];
        node.prev = NIL;
        node.next = head;
        node.level = level;
        node.slot = slot;
        if head != NIL {
            self.nodes[head as usize].prev = key;
        }
        self.set_head(level, slot, key);
    }

    fn unlink(&mut self, key: Key) {
        let Node {
            prev,
            next,
            level,
            slot,
            ..
        } = self.nodes[key as usize];
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            self.set_head(level, slot, next);
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
    }

    /// Slab nodes allocated (linked or free).
    #[cfg(all(test, not(perf_runtime_loom)))]
    pub(super) fn slab_len(&self) -> usize {
        self.nodes.len()
    }

    /// Slab nodes on the free list.
    #[cfg(all(test, not(perf_runtime_loom)))]
    pub(super) fn free_len(&self) -> usize {
        let (mut n, mut at) = (0, self.free);
        while at != NIL {
            n += 1;
            at = self.nodes[at as usize].next;
        }
        n
    }

    /// Panics if an invariant of the module docs does not hold.
    #[cfg(all(test, not(perf_runtime_loom)))]
    pub(super) fn check_invariants(&self) {
        let mut linked = 0;
        for (l, level) in self.levels.iter().enumerate() {
            for s in 0..SLOTS {
                let mut key = level.heads[s];
                assert_eq!(level.occupied & (1 << s) != 0, key != NIL);
                let mut prev = NIL;
                while key != NIL {
                    let n = &self.nodes[key as usize];
                    assert_eq!((n.level as usize, n.slot as usize, n.prev), (l, s, prev));
                    assert!(
                        n.when > self.elapsed,
                        "when {} elapsed {} level {l} slot {s}",
                        n.when,
                        self.elapsed
                    );
                    assert_eq!(level_for(self.elapsed, n.when), l);
                    assert_eq!(slot_for(n.when, l), s);
                    linked += 1;
                    prev = key;
                    key = n.next;
                }
            }
        }
        let mut near = 0;
        let top_live = self.near.peek().map(|(_, k, g)| self.is_near(k, g));
        assert!(
            self.near.run.windows(2).all(|w| w[0].0 >= w[1].0),
            "near's run is not sorted latest first"
        );
        for (deadline, key, generation) in self.near.iter() {
            let live = self.is_near(*key, *generation);
            if live {
                let n = &self.nodes[*key as usize];
                assert_eq!(n.deadline, *deadline);
                assert!(n.when <= self.elapsed, "near entry beyond elapsed");
                near += 1;
            }
        }
        assert_ne!(top_live, Some(false), "stale triple on top of near");
        assert!(
            !self.near.is_empty()
                || !self
                    .level_expiration(0)
                    .is_some_and(|e| self.pulls_near(&e, self.elapsed)),
            "the next level-0 slot is due within a tick while near is empty"
        );
        assert_eq!(linked + near, self.len);
    }
}

/// Ticks spanned by one slot of `level`.
fn slot_range(level: usize) -> u64 {
    1 << (SLOT_BITS * level as u32)
}

/// The level at which an entry due at `when` is linked, given `elapsed`.
fn level_for(elapsed: u64, when: u64) -> usize {
    const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
    // `| SLOT_MASK` makes a level-0 difference count as level 0.
    let masked = ((elapsed ^ when) | SLOT_MASK).min(MAX_DURATION - 1);
    let significant = 63 - masked.leading_zeros();
    (significant / SLOT_BITS) as usize
}

/// The slot of `when` at `level`.
fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (SLOT_BITS * level as u32)) as usize) % SLOTS
}

#[cfg(all(test, not(perf_runtime_loom)))]
mod tests {
    use super::*;

    #[test]
    fn level_for_boundaries() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, MAX_DURATION - 1), 5);
        assert_eq!(level_for(0, MAX_DURATION * 10), 5);
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(64, 100), 0);
    }

    /// An idle wheel that catches up to the clock places a new timer by its
    /// distance from now (exact deadline at once), but never runs ahead of
    /// the clock: a timer far ahead leaves the next ones in their slots.
    #[test]
    fn catch_up_follows_the_clock_not_the_timers() {
        let mut w = Wheel::new(1_000);
        // Idle since tick 0; now is tick 10 000 (level 2 from elapsed 0).
        let now = 10_000_000;
        let stale = w.insert(now + 1_500, None);
        assert_eq!(
            w.next_expiration(),
            Some(8_192_000),
            "a stale cascade point"
        );
        w.remove(stale);
        w.catch_up(now);
        assert_eq!(w.elapsed(), 10_000);
        let a = w.insert(now + 1_500, None);
        assert_eq!(w.next_expiration(), Some(now + 1_500), "exact at once");
        w.remove(a);
        // A far timer does not drag `elapsed` along: a 10-tick timeout stays
        // in its slot (out of the exact-deadline heap).
        let far = w.insert(now + 3_600_000_000, None);
        w.catch_up(now);
        let b = w.insert(now + 10_500, None);
        // (`a`'s slot, pulled near a tick early, moved it to 10 001.)
        assert_eq!(w.elapsed(), 10_001);
        assert_eq!(w.next_expiration(), Some(now + 10_000), "its slot's start");
        w.check_invariants();
        w.remove(b);
        w.remove(far);
    }

    #[test]
    fn insert_remove_reuses_slab() {
        let mut w = Wheel::new(1);
        let a = w.insert(10, None);
        let b = w.insert(5000, None);
        assert_eq!(w.len(), 2);
        w.remove(a);
        w.check_invariants();
        let c = w.insert(20, None);
        assert_eq!(c, a, "freed slab index is reused");
        w.remove(b);
        w.remove(c);
        assert_eq!(w.len(), 0);
        assert_eq!(w.next_expiration(), None);
    }
}
