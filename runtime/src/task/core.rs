//! The task's single allocation: `Cell = Header | Core | Trailer`.
//!
//! `#[repr(C)]` with the header first, so a `NonNull<Header>` can be cast back
//! to the `Cell<F, S>` it heads by the type-aware functions of the vtable.
//!
//! Field access rules:
//! - `Header` is immutable after creation except for the atomic `state`.
//! - `Core::stage` is touched only by the thread holding RUNNING, or by the
//!   `JoinHandle` after COMPLETE was observed with JOIN_INTEREST still set, or
//!   by whoever deallocates.
//! - `Trailer::join_waker` follows the JOIN_WAKER bit (see `state.rs`).
//! - `Trailer::owned` is touched only under the owned-list shard lock.

use super::raw::Vtable;
use super::state::State;
use super::{Id, JoinError, Qos};
use crate::loom::cell::UnsafeCell;
use std::future::Future;
use std::panic::Location;
use std::ptr::NonNull;
use std::task::Waker;

#[repr(C)]
pub(crate) struct Cell<F: Future, S> {
    pub(crate) header: Header,
    pub(crate) core: Core<F, S>,
    pub(crate) trailer: Trailer,
}

#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: Id,
    /// Where `spawn` was called (`#[track_caller]`), for the watchdog.
    pub(crate) spawned_at: &'static Location<'static>,
    /// The optional name from `task::Builder::name`. Boxed twice so an
    /// unnamed task pays one word.
    pub(crate) name: Option<Box<Box<str>>>,
    pub(crate) qos: Qos,
    /// The node whose workers should run this task (`task::Builder::node`),
    /// or `raw::NO_NODE`.
    pub(crate) home_node: u16,
    /// The worker that last polled the task (`u32::MAX`: none yet). Written
    /// only by the thread holding RUNNING; read by `schedule` as a hint.
    pub(crate) last_worker: crate::loom::sync::atomic::AtomicU32,
    /// When the task was last queued, in `scheduler::stats::now_ns` units, or
    /// 0 when that wake was not sampled (see `scheduler/stats.rs`).
    pub(crate) woken_at: crate::loom::sync::atomic::AtomicU64,
    /// What the validation engine tracks for this task (held locks, waits):
    /// a guard held across `.await` stays with the task, whichever worker
    /// polls it next. One null pointer until the task first takes a lock.
    pub(crate) validation: perf_validation::TaskStateCell,
}

pub(crate) struct Core<F: Future, S> {
    pub(crate) scheduler: S,
    pub(crate) stage: UnsafeCell<Stage<F>>,
}

pub(crate) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

pub(crate) struct Trailer {
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    pub(crate) owned: UnsafeCell<Pointers>,
}

/// Intrusive links of the owned-task list.
#[derive(Default)]
pub(crate) struct Pointers {
    pub(crate) prev: Option<NonNull<Header>>,
    pub(crate) next: Option<NonNull<Header>>,
}

impl Header {
    /// The task as the validation engine knows it (its id and its slot).
    #[inline]
    pub(crate) fn validation_ref(&self) -> Option<perf_validation::TaskRef> {
        std::num::NonZeroU64::new(self.id.as_u64())
            .map(|id| perf_validation::TaskRef::new(id, &self.validation))
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|b| &**b)
    }

    /// The trailer of the cell this header heads.
    ///
    /// # Safety
    /// `me` must point to a live task header.
    pub(crate) unsafe fn trailer<'a>(me: NonNull<Header>) -> &'a Trailer {
        // SAFETY: the caller guarantees `me` is live; the vtable records the trailer's offset inside this task's concrete `Cell<F, S>`.
        unsafe {
            let offset = me.as_ref().vtable.trailer_offset;
            &*me.as_ptr().cast::<u8>().add(offset).cast::<Trailer>()
        }
    }
}
