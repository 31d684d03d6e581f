//! The owned-task list: every live task of a runtime, so shutdown can cancel
//! tasks that sit idle (not in any queue) and drop their futures.
//!
//! Invariants:
//! - The list holds one reference per linked task (a [`Task`]).
//! - A task's `Trailer::owned` links are read or written only under the lock
//!   of the shard chosen by its id; a task is linked in at most one list.
//! - Once `closed` is set, `bind` refuses new tasks, so `close_and_shutdown_all`
//!   finishes with every shard empty.
//!
//! Sharded by task id (a power of two, 4× the worker count) so the lock taken
//! by spawn and completion is almost never contended.

use super::core::{Header, Pointers};
use super::raw::{Schedule, Task};
use super::Qos;
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::marker::PhantomData;
use std::ptr::NonNull;

pub(crate) struct OwnedTasks<S: 'static> {
    /// Each on its own cache line: the spawning thread binds into one
    /// shard while workers remove completed tasks from the others, and
    /// unpadded shards (72 bytes) shared lines between them.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    mask: usize,
    closed: AtomicBool,
    _p: PhantomData<S>,
}

struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
    /// Per class: tasks bound and tasks removed on completion. Counted here
    /// because the shard lock is held anyway: the counts cost nothing more.
    spawned: [u64; Qos::COUNT],
    completed: [u64; Qos::COUNT],
}

// SAFETY: the shard only stores task pointers, whose links are guarded by the
// shard's mutex; the tasks themselves are `Send`.
unsafe impl Send for Shard {}

impl<S: Schedule> OwnedTasks<S> {
    pub(crate) fn new(workers: usize) -> OwnedTasks<S> {
        let n = (workers.max(1) * 4).next_power_of_two();
        OwnedTasks {
            shards: (0..n)
                .map(|_| {
                    CachePadded::new(Mutex::new(Shard {
                        head: None,
                        len: 0,
                        spawned: [0; Qos::COUNT],
                        completed: [0; Qos::COUNT],
                    }))
                })
                .collect(),
            mask: n - 1,
            closed: AtomicBool::new(false),
            _p: PhantomData,
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        &self.shards[header.id.as_u64() as usize & self.mask]
    }

    /// Links a new task. If the list is closed, the task is handed back and
    /// the caller must shut it down.
    pub(crate) fn bind(&self, task: Task<S>) -> Result<(), Task<S>> {
        let mut shard = lock(self.shard(task.header()));
        if self.closed.load(Acquire) {
            return Err(task);
        }
        let ptr = task.into_raw();
        // SAFETY: the shard lock is held and the task is not linked anywhere.
        unsafe {
            let links = links(ptr);
            (*links).prev = None;
            (*links).next = shard.head;
            if let Some(head) = shard.head {
                (*self::links(head)).prev = Some(ptr);
            }
        }
        shard.head = Some(ptr);
        shard.len += 1;
        // SAFETY: linked above; the list's reference keeps it alive.
        let qos = unsafe { ptr.as_ref() }.qos;
        shard.spawned[qos.index()] += 1;
        Ok(())
    }

    /// Unlinks a completed task, returning the list's reference, or `None` if
    /// it was already unlinked (by shutdown).
    pub(crate) fn remove(&self, task: &Task<S>) -> Option<Task<S>> {
        let ptr = task.header_ptr();
        let mut shard = lock(self.shard(task.header()));
        // SAFETY: the shard lock is held; `task` keeps the header alive.
        unsafe {
            let links = links(ptr);
            let (prev, next) = ((*links).prev, (*links).next);
            match prev {
                Some(prev) => (*self::links(prev)).next = next,
                None if shard.head == Some(ptr) => shard.head = next,
                None => return None,
            }
            if let Some(next) = next {
                (*self::links(next)).prev = prev;
            }
            (*links).prev = None;
            (*links).next = None;
            shard.len -= 1;
            shard.completed[ptr.as_ref().qos.index()] += 1;
            Some(Task::from_raw(ptr))
        }
    }

    /// Closes the list and cancels every task in it. Futures are dropped on
    /// the calling thread, outside the shard locks (their destructors may spawn).
    pub(crate) fn close_and_shutdown_all(&self) {
        self.closed.store(true, Release);
        for shard in self.shards.iter() {
            loop {
                let task = {
                    let mut shard = lock(shard);
                    let Some(head) = shard.head else { break };
                    // SAFETY: the shard lock is held.
                    unsafe {
                        let links = links(head);
                        shard.head = (*links).next;
                        if let Some(next) = shard.head {
                            (*self::links(next)).prev = None;
                        }
                        (*links).next = None;
                        shard.len -= 1;
                        Task::<S>::from_raw(head)
                    }
                };
                task.shutdown();
            }
        }
    }

    /// The number of live tasks (a racy sum, for metrics and tests).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len).sum()
    }

    /// Every live task, as an `AllTasksBlocked` report lists them (`None`
    /// if there is none).
    pub(crate) fn blocked(&self) -> Option<Vec<crate::validation::BlockedTask>> {
        let mut blocked = Vec::new();
        self.for_each(|h| {
            if let Some(id) = std::num::NonZeroU64::new(h.id.as_u64()) {
                blocked.push(crate::validation::BlockedTask {
                    id,
                    name: h.name().map(str::to_owned),
                    spawned_at: Some(h.spawned_at.into()),
                });
            }
        });
        (!blocked.is_empty()).then_some(blocked)
    }

    /// An abort handle for the live task with id `id`, if this list holds
    /// it (a deadlock victim is chosen among a runtime's own tasks; blocking
    /// jobs are in no list). Walks one shard.
    pub(crate) fn abort_handle(&self, id: u64) -> Option<super::AbortHandle> {
        let shard = lock(&self.shards[id as usize & self.mask]);
        let mut next = shard.head;
        while let Some(ptr) = next {
            // SAFETY: linked tasks are alive while the shard lock is held (unlinking takes the lock first).
            let header = unsafe { ptr.as_ref() };
            if header.id.as_u64() == id {
                header.state.ref_inc();
                // SAFETY: a reference was just added for the handle.
                return Some(unsafe { super::AbortHandle::from_raw(ptr) });
            }
            // SAFETY: as above; the links are read under the shard lock.
            next = unsafe { (*links(ptr)).next };
        }
        None
    }

    /// Calls `f` with the header of every live task (under each shard's
    /// lock in turn: `f` must not touch the list).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header)) {
        for shard in self.shards.iter() {
            let shard = lock(shard);
            let mut next = shard.head;
            while let Some(ptr) = next {
                // SAFETY: linked tasks are alive while the shard lock is held (unlinking takes the lock first).
                unsafe {
                    f(ptr.as_ref());
                    next = (*links(ptr)).next;
                }
            }
        }
    }

    /// Tasks of class `qos` spawned (bound) so far.
    pub(crate) fn spawned(&self, qos: Qos) -> u64 {
        self.shards
            .iter()
            .map(|s| lock(s).spawned[qos.index()])
            .sum()
    }

    /// Tasks of class `qos` that completed (any outcome: output, panic or
    /// abort). Tasks cancelled by runtime shutdown are not counted.
    pub(crate) fn completed(&self, qos: Qos) -> u64 {
        self.shards
            .iter()
            .map(|s| lock(s).completed[qos.index()])
            .sum()
    }
}

fn lock(m: &Mutex<Shard>) -> crate::loom::sync::MutexGuard<'_, Shard> {
    // A panic never happens while a shard is locked (no user code runs under
    // it), so a poisoned lock still holds a consistent list.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// # Safety
/// `ptr` is a live task; the caller holds the lock of its shard.
unsafe fn links(ptr: NonNull<Header>) -> *mut Pointers {
    // SAFETY: forwarded to the caller.
    unsafe { Header::trailer(ptr) }.owned.with_mut(|p| p)
}
