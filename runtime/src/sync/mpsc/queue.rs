//! The message store of an mpsc channel: an unbounded lock-free FIFO that
//! never makes the receiver wait for a sender.
//!
//! It is a singly linked list of [`Block`]s of `BLOCK_CAP` slots. A sender
//! claims the next index with one `fetch_add` on the tail, finds the block
//! for it (starting from a hint, linking a new block at the end if needed),
//! writes the slot and sets its ready flag. The receiver takes slots in
//! index order; if the next slot is claimed but not written yet (its sender
//! was preempted between the claim and the write) `pop` returns `None` at
//! once instead of spinning: the channel core (`chan.rs` invariant 4) then
//! parks the receiver, and the sender's write, followed by its fence and
//! its look at the `parked` flag, wakes it. Nobody ever spins: no sender
//! waits for another either, since any of them may link the next block.
//!
//! Capacity, closing and waking are the channel core's business, not the
//! queue's. Loom checks this very code (with two-slot blocks).
//!
//! # Invariants
//!
//! 1. Indices are claimed by `tail.index.fetch_add(1)`, so each index has
//!    one sender, and one sender's indices grow in the order it pushes
//!    (FIFO per sender). Index `i` lives in the block whose `start` is
//!    `block_start(i)`; blocks are linked in `start` order, each
//!    `BLOCK_CAP` after the previous one, and any sender may link the next.
//! 2. Only the receiver (`pop`, and `Drop` with `&mut`) touches the `head`
//!    fields. `head.index` is the next index to take; `head.block` is the
//!    block holding it, or the one before it when the receiver finished a
//!    block whose successor is not linked yet. Blocks from `head.oldest` up
//!    to `head.block` were fully read and wait to be freed.
//! 3. `tail.block` (the hint) only moves forward, one link at a time, by a
//!    CAS, and only off a block whose slots are all written. So it is never
//!    past the block of a claimed index whose sender has not written it: a
//!    sender that claimed an index and was preempted before it loaded the
//!    hint still finds its block by walking forward from the hint. The
//!    sender whose CAS moved it off block `B` then reads the tail
//!    (`fetch_add(0)`, `Release`) and records that index `X` in `B`
//!    (`block.rs` invariant 4). Every sender that can still reach `B` holds
//!    an index below `X`: a sender claims (`Acquire` RMW on the tail)
//!    before it loads the hint, so one that claims after `X` was read
//!    synchronises with that read and sees the moved hint.
//! 4. The receiver frees blocks in list order, and `B` only once it passed
//!    `B`, `B` is released, and `head.index >= X`. Then every sender that
//!    could reach `B` wrote its slot, and its last touch of any block (the
//!    `ready` store, `Release`) happens-before the receiver's `Acquire` load
//!    of that flag, so nobody touches `B` after it is freed. A block the
//!    hint still points to, or any later one, is never freed before the
//!    queue drops.
//! 5. `pop` returns `None` only if index `head.index` is not written yet:
//!    either nobody claimed it, or its sender has not finished. A push that
//!    returned happens-before any `pop` that synchronises with it later, so
//!    that `pop` finds the message (the contract `chan.rs` relies on).
//! 6. Dropping the queue drops every message written and not taken, and
//!    frees every block. (By then no sender is between claim and write: a
//!    sender pushes through a live handle, which keeps the channel alive.)
//!
//! Index arithmetic is not wrapping: 2^64 messages through one channel
//! would take centuries.

use super::block::{block_start, offset, Block, BLOCK_CAP};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*};
use crossbeam_utils::CachePadded;

pub(crate) struct Queue<T> {
    /// Written by every send; the receiver reads it only for `len`.
    tail: CachePadded<Tail<T>>,
    head: CachePadded<Head<T>>,
}

struct Tail<T> {
    /// The next index to claim.
    index: AtomicUsize,
    /// A block at or before the one holding `index` (invariant 3).
    block: AtomicPtr<Block<T>>,
}

/// Invariant 2.
struct Head<T> {
    /// Written by the receiver only; senders read it for `len`/`is_empty`.
    index: AtomicUsize,
    block: UnsafeCell<*mut Block<T>>,
    oldest: UnsafeCell<*mut Block<T>>,
}

// SAFETY: the queue owns its blocks and the messages in them, which move
// from sender threads to the receiver's: `T: Send` is what that needs. The
// raw pointers are followed only under invariants 2-4.
unsafe impl<T: Send> Send for Queue<T> {}
// SAFETY: shared use is `push` (any thread: slots are claimed with an RMW
// and published with `Release`) and `pop`, which its contract restricts to
// the one receiver.
unsafe impl<T: Send> Sync for Queue<T> {}

impl<T> Queue<T> {
    pub(crate) fn new() -> Queue<T> {
        let first = Box::into_raw(Block::new(0));
        Queue {
            tail: CachePadded::new(Tail {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(first),
            }),
            head: CachePadded::new(Head {
                index: AtomicUsize::new(0),
                block: UnsafeCell::new(first),
                oldest: UnsafeCell::new(first),
            }),
        }
    }

    /// Appends `value`. Never waits.
    #[inline]
    pub(crate) fn push(&self, value: T) {
        self.push_preempted(value, || {});
    }

    /// As `push`, running `between` after the index is claimed and before
    /// the message is written: where a preempted sender stops. `push` passes
    /// a no-op; the loom models pass a wait.
    #[inline]
    pub(crate) fn push_preempted(&self, value: T, between: impl FnOnce()) {
        let index = self.tail.index.fetch_add(1, Acquire);
        between();
        let block = self.find_block(index);
        // SAFETY: we claimed `index` (invariant 1) and `block` holds it; the
        // block is not freed before its slot is read (invariant 4).
        unsafe { Block::write(block, offset(index), value) };
    }

    /// The block holding `index`, which the caller claimed.
    #[inline]
    fn find_block(&self, index: usize) -> *const Block<T> {
        let start = block_start(index);
        let block = self.tail.block.load(Acquire);
        // SAFETY: a block loaded from the hint after our claim is not freed
        // before our slot is read (invariants 3, 4).
        if unsafe { (*block).start } == start {
            return block;
        }
        self.find_block_slow(block, start)
    }

    /// Walks from `block` (the hint) to the block at `start`, linking
    /// blocks as needed and moving the hint along while no other sender
    /// does.
    #[cold]
    #[inline(never)]
    fn find_block_slow(&self, mut block: *mut Block<T>, start: usize) -> *const Block<T> {
        let mut spare = None;
        let mut move_hint = true;
        loop {
            // SAFETY: `block` is the hint loaded after our claim, or was
            // reached from it; neither is freed before our slot is read
            // (invariants 3, 4).
            let b = unsafe { &*block };
            if b.start == start {
                // An unused `spare` is freed here (it was never published).
                return block;
            }
            debug_assert!(b.start < start);
            let mut next = b.next();
            if next.is_null() {
                next = b.grow(&mut spare);
            }
            // Every slot of `b` is claimed (our index is past it); once all
            // are written, no sender needs the hint at `b` any more.
            if move_hint && !b.is_written() {
                // Nor past any later block, while the hint stays here.
                move_hint = false;
            }
            if move_hint {
                match self
                    .tail
                    .block
                    .compare_exchange(block, next, AcqRel, Acquire)
                {
                    Ok(_) => {
                        // Invariant 3: read the tail after the hint moved.
                        let tail = self.tail.index.fetch_add(0, Release);
                        debug_assert!(tail > b.start + BLOCK_CAP);
                        // SAFETY: `block` is live until this store (as
                        // above); we do not touch it after.
                        unsafe { Block::release(block, tail) };
                    }
                    // Another sender moves it; following it would only
                    // make us contend on every link.
                    Err(_) => move_hint = false,
                }
            }
            block = next;
        }
    }

    /// Takes the next message: `None` if it is not written yet (nobody
    /// claimed it, or its sender is between claim and write). Never waits.
    ///
    /// # Safety
    /// Only the receiver calls this: never from two threads at once.
    #[inline]
    pub(crate) unsafe fn pop(&self) -> Option<T> {
        let index = self.head.index.load(Relaxed);
        // SAFETY: the receiver alone uses `head.block` (caller, invariant 2).
        let mut block = self.head.block.with(|p| unsafe { *p });
        // SAFETY: `head.block` is never freed while it is the head block
        // (invariant 4: only blocks before it are).
        let mut b = unsafe { &*block };
        if b.start != block_start(index) {
            // We read all of `b`; `index` starts the next block.
            let next = b.next();
            if next.is_null() {
                return None;
            }
            block = next;
            // SAFETY: receiver only (caller).
            self.head.block.with_mut(|p| unsafe { *p = block });
            // SAFETY: as above: it is now the head block.
            b = unsafe { &*block };
            // SAFETY: receiver only (caller).
            unsafe { self.reclaim(index) };
        }
        // SAFETY: receiver only (caller); `index` is read once, as the head
        // moves past it right after.
        let value = unsafe { b.take(offset(index)) }?;
        self.head.index.store(index + 1, Release);
        Some(value)
    }

    /// Frees the blocks the receiver passed that no sender can reach
    /// (invariant 4). `head` is `head.index`.
    ///
    /// # Safety
    /// Only the receiver calls this.
    #[cold]
    unsafe fn reclaim(&self, head: usize) {
        // SAFETY: receiver only (caller).
        let head_block = self.head.block.with(|p| unsafe { *p });
        // SAFETY: receiver only (caller).
        let mut oldest = self.head.oldest.with(|p| unsafe { *p });
        while oldest != head_block {
            // SAFETY: `oldest` is not freed yet (it is only freed below, in
            // list order, and then `head.oldest` moves past it).
            let b = unsafe { &*oldest };
            match b.released() {
                Some(x) if x <= head => {}
                // Not yet: a sender may still reach it. Retried at the next
                // block the receiver enters.
                _ => break,
            }
            // Before `head.block`, so its successor is linked.
            let next = b.next();
            // SAFETY: invariant 4 holds for `oldest`: the receiver passed
            // it, it is released, and every sender that could reach it is
            // done with it. It came from `Box::into_raw`.
            drop(unsafe { Box::from_raw(oldest) });
            oldest = next;
        }
        // SAFETY: receiver only (caller).
        self.head.oldest.with_mut(|p| unsafe { *p = oldest });
    }

    /// Messages claimed and not yet taken (including any being written).
    pub(crate) fn len(&self) -> usize {
        // Head first: a head read later could pass a tail read earlier.
        let head = self.head.index.load(Acquire);
        let tail = self.tail.index.load(Acquire);
        tail.saturating_sub(head)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        let head = self.head.index.load(Relaxed);
        // SAFETY: `&mut self`: nobody else uses the queue.
        let mut block = self.head.oldest.with(|p| unsafe { *p });
        while !block.is_null() {
            // SAFETY: every block from `oldest` on is live and owned by the
            // queue (invariant 4), came from `Box::into_raw`, and is freed
            // once, here.
            let mut b = unsafe { Box::from_raw(block) };
            block = b.next();
            if b.start + BLOCK_CAP > head {
                let from = head.saturating_sub(b.start);
                // SAFETY: slots before `head` were taken, the rest were not
                // (invariant 2); `b` is ours alone.
                unsafe { b.drop_from(from) };
            }
        }
    }
}

#[cfg(all(test, not(perf_runtime_loom)))]
mod tests;
