//! One block of the mpsc message queue (`queue.rs`): [`BLOCK_CAP`] slots,
//! each written once by the sender that claimed it and read once by the
//! receiver, and the link to the next block.
//!
//! # Invariants
//!
//! 1. Slot `i` of a block holds the message with index `start + i`. Only
//!    the sender that claimed that index writes the slot, and it writes it
//!    once; it then sets the slot's `ready` flag (`Release`), and touches
//!    the block no more.
//! 2. The receiver reads a slot only after it loaded `ready == true`
//!    (`Acquire`), so the write happens-before the read, and reads it once.
//! 3. `next` goes from null to the block with `start + BLOCK_CAP`, once
//!    (`AcqRel` CAS), and never changes again.
//! 4. `released` is 0 until the queue's tail hint has moved past the block;
//!    then it holds the tail index read just after the hint moved
//!    (`queue.rs` invariant 3). It is never 0 once set: the sender that
//!    moves the hint claimed an index past this block, so the tail it reads
//!    is at least `start + BLOCK_CAP + 1`.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::*};
use std::mem::MaybeUninit;
use std::ptr;

/// Slots per block: one allocation per `BLOCK_CAP` messages. Two under
/// loom, so a model of a few messages crosses blocks.
pub(super) const BLOCK_CAP: usize = if cfg!(perf_runtime_loom) { 2 } else { 32 };

/// The first index of the block holding `index`.
#[inline]
pub(super) fn block_start(index: usize) -> usize {
    index & !(BLOCK_CAP - 1)
}

/// Where `index` sits in its block.
#[inline]
pub(super) fn offset(index: usize) -> usize {
    index & (BLOCK_CAP - 1)
}

struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    /// The value is written (invariant 1).
    ready: AtomicBool,
}

pub(super) struct Block<T> {
    /// The index of slot 0, a multiple of `BLOCK_CAP`.
    pub(super) start: usize,
    /// The next block, or null (invariant 3).
    next: AtomicPtr<Block<T>>,
    /// Invariant 4.
    released: AtomicUsize,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    pub(super) fn new(start: usize) -> Box<Block<T>> {
        debug_assert_eq!(offset(start), 0);
        Box::new(Block {
            start,
            next: AtomicPtr::new(ptr::null_mut()),
            released: AtomicUsize::new(0),
            slots: std::array::from_fn(|_| Slot {
                value: UnsafeCell::new(MaybeUninit::uninit()),
                ready: AtomicBool::new(false),
            }),
        })
    }

    /// Every slot is written: no sender still has to find this block (each
    /// found it before it wrote). `Acquire`, so those senders' loads of the
    /// tail hint happen-before a move of the hint that follows.
    pub(super) fn is_written(&self) -> bool {
        self.slots.iter().all(|slot| slot.ready.load(Acquire))
    }

    /// The next block, or null if none is linked yet.
    #[inline]
    pub(super) fn next(&self) -> *mut Block<T> {
        self.next.load(Acquire)
    }

    /// The next block, linking one if there is none. `spare` is a block
    /// this sender allocated and has not published: used here if needed,
    /// and kept (for a later link) if another sender linked first.
    #[cold]
    pub(super) fn grow(&self, spare: &mut Option<Box<Block<T>>>) -> *mut Block<T> {
        let next = self.next.load(Acquire);
        if !next.is_null() {
            return next;
        }
        let mut new = spare.take().unwrap_or_else(|| Block::new(0));
        new.start = self.start + BLOCK_CAP;
        let new = Box::into_raw(new);
        match self
            .next
            .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
        {
            Ok(_) => new,
            Err(linked) => {
                // The CAS failed, so `new` was never published.
                // SAFETY: `new` is ours alone, from `Box::into_raw` above.
                *spare = Some(unsafe { Box::from_raw(new) });
                linked
            }
        }
    }

    /// Records that the tail hint moved past this block when the tail was
    /// `tail` (invariant 4).
    ///
    /// # Safety
    /// `this` points to a live block. The receiver may free it as soon as
    /// the store lands, so this takes a pointer, not a reference that would
    /// have to outlive the store.
    #[inline]
    pub(super) unsafe fn release(this: *const Block<T>, tail: usize) {
        // Only the atomic is borrowed, and only for the store itself.
        // SAFETY: `this` is live until the store below (caller contract).
        let released = unsafe { &(*this).released };
        released.store(tail, Release);
    }

    /// The tail recorded by [`release`](Self::release), or `None` while the
    /// hint may still point here.
    #[inline]
    pub(super) fn released(&self) -> Option<usize> {
        match self.released.load(Acquire) {
            0 => None,
            tail => Some(tail),
        }
    }

    /// Writes the message of slot `offset` and marks it ready.
    ///
    /// # Safety
    /// `this` points to a live block; the caller claimed this slot's index
    /// (it is the slot's only writer, invariant 1), and the block stays
    /// allocated until the slot is ready (the receiver frees a block only
    /// once it read every slot). The block may be freed as soon as this
    /// returns, so it takes a pointer, not a reference that would have to
    /// outlive the `ready` store.
    #[inline]
    pub(super) unsafe fn write(this: *const Block<T>, offset: usize, value: T) {
        // Only the slot is borrowed; its fields are interior-mutable.
        // SAFETY: `this` is live until `ready` is set (caller contract).
        let slot = unsafe { &(*this).slots[offset] };
        slot.value.with_mut(|p| {
            // The receiver does not read the slot before `ready` (invariant 2).
            // SAFETY: we are the slot's only writer (invariant 1).
            unsafe { (*p).write(value) };
        });
        slot.ready.store(true, Release);
    }

    /// Takes the message of slot `offset` if it is written.
    ///
    /// # Safety
    /// Only the receiver calls this, once per slot it succeeds on.
    #[inline]
    pub(super) unsafe fn take(&self, offset: usize) -> Option<T> {
        let slot = &self.slots[offset];
        if !slot.ready.load(Acquire) {
            return None;
        }
        // `ready` was set after the write; the `Acquire` load orders that
        // write before this read (invariant 2).
        // SAFETY: the slot is written, and read once (caller contract).
        Some(slot.value.with(|p| unsafe { (*p).assume_init_read() }))
    }

    /// Drops the messages still in slots `from..` (written, not taken).
    ///
    /// # Safety
    /// Every written slot at `from` or later was not taken; nobody else
    /// accesses the block (`&mut`).
    pub(super) unsafe fn drop_from(&mut self, from: usize) {
        for slot in &self.slots[from..] {
            if slot.ready.load(Relaxed) {
                slot.value.with_mut(|p| {
                    // SAFETY: the slot is written and not taken (caller).
                    unsafe { (*p).assume_init_drop() };
                });
            }
        }
    }
}
