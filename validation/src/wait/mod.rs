//! Waits: what a context blocks on, for the wait-for graph and the stall
//! scan.
//!
//! - `graph.rs` — the registry of waiting contexts and their holdings.
//! - `deadlock.rs` — the check run when a wait starts, and its report.
//! - `stall.rs` — the periodic scan for waits that stopped making progress.
//! - this file — [`Waiting`] (the guard every wait returns), [`WaitMeta`]
//!   (for `Notify`, `Barrier` and `watch`), and the common start path.

pub(crate) mod deadlock;
pub(crate) mod graph;
mod stall;

pub use stall::{scan, set_stall_threshold, stall_threshold, DEFAULT_STALL_THRESHOLD};

use crate::channel::ChannelInner;
use crate::class::LockKind;
use crate::context::state::{ContextState, F_PENDING, F_SHARED};
use crate::context::{self, describe};
use crate::engine;
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::Arc;
use crate::mode;
use crate::sink;
use crate::site::Site;
use graph::{HoldSnap, ResKind, Resource, Target, WaitRecord};
use std::fmt;
use std::panic::Location;
use std::time::Instant;

/// What a stall-only wait waits on (waits that take part in the wait-for
/// graph go through `LockMeta` or `ChannelMeta`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitKind {
    /// `Notify::notified`.
    Notify,
    /// `Barrier::wait`.
    Barrier,
    /// `watch::Receiver::changed`.
    Watch,
    /// Anything else that may block.
    Other,
}

impl WaitKind {
    /// The primitive's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitKind::Notify => "Notify",
            WaitKind::Barrier => "Barrier",
            WaitKind::Watch => "watch",
            WaitKind::Other => "wait",
        }
    }
}

/// Embedded in a `Notify`, `Barrier` or `watch` channel: where it was
/// created, so a stalled wait on it names it.
#[derive(Debug)]
pub struct WaitMeta {
    kind: WaitKind,
    created: &'static Location<'static>,
}

impl WaitMeta {
    /// Records the caller as the creation site.
    #[track_caller]
    pub const fn new(kind: WaitKind) -> WaitMeta {
        WaitMeta {
            kind,
            created: Location::caller(),
        }
    }

    /// Where the primitive was created.
    pub fn created_at(&self) -> Site {
        Site::from_location(self.created)
    }

    /// The current context starts waiting on the primitive. Such waits take
    /// no part in deadlock detection (who would wake them is unknown), but a
    /// wait longer than the stall threshold is reported as a `WaitStall` by
    /// [`scan`]. Drop the guard when the wait ends.
    #[track_caller]
    pub fn wait(&self) -> Waiting {
        self.wait_at(Site::caller())
    }

    /// As [`wait`](Self::wait), with the site of the wait given: a future's
    /// wait starts inside `poll`, so it passes the site its creating call
    /// (`notified()`, `changed()`, `wait()`) captured.
    pub fn wait_at(&self, site: Site) -> Waiting {
        if !mode::enabled() {
            return Waiting::untracked();
        }
        let res = Resource {
            kind: ResKind::Other(self.kind),
            class: 0,
            created: Site::from_location(self.created),
        };
        start(res, Target::Nobody, site, None, None)
    }
}

/// A wait in progress; dropping it ends the wait (the primitive drops it
/// when the wait completes or its future is dropped).
#[must_use = "the wait ends when this guard drops"]
pub struct Waiting {
    id: u64,
    /// The context state whose pending entry this wait flagged, or null.
    pending: *mut ContextState,
    instance: usize,
    receiving: Option<Arc<ChannelInner>>,
}

// SAFETY: `pending` is only compared with the current context's state and
// dereferenced when equal (the current context's own, live state).
unsafe impl Send for Waiting {}
// SAFETY: `&Waiting` exposes nothing.
unsafe impl Sync for Waiting {}

impl Waiting {
    /// A guard for a wait the engine does not track.
    pub const fn untracked() -> Waiting {
        Waiting {
            id: 0,
            pending: std::ptr::null_mut(),
            instance: 0,
            receiving: None,
        }
    }

    /// Whether the wait is registered.
    pub fn is_tracked(&self) -> bool {
        self.id != 0
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.id != 0 {
            engine::get().waits.end(self.id);
        }
        if !self.pending.is_null() && context::current_if_exists() == self.pending {
            // SAFETY: the current context's own state.
            unsafe { (*self.pending).with_owned(|o| o.set_pending(self.instance, false)) };
        }
        if let Some(c) = self.receiving.take() {
            c.rx_waiting.fetch_sub(1, Relaxed);
        }
    }
}

impl fmt::Debug for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiting").field("id", &self.id).finish()
    }
}

/// Starts a wait for a lock or semaphore (see `LockMeta::wait`).
pub(crate) fn start_lock_wait(
    resource: usize,
    kind: LockKind,
    class: u32,
    created: &'static Location<'static>,
    site: &'static Location<'static>,
    pending: Option<(*mut ContextState, usize)>,
    outstanding_permits: Option<u64>,
) -> Waiting {
    let res = Resource {
        kind: ResKind::Lock(kind),
        class,
        created: Site::from_location(created),
    };
    let target = match outstanding_permits {
        Some(outstanding) => Target::Permits {
            resource,
            outstanding,
        },
        None => Target::Holders { resource },
    };
    start(res, target, Site::from_location(site), pending, None)
}

/// Starts a wait on a channel: to receive (`recv`) or to send into a full one.
pub(crate) fn start_channel_wait(chan: &Arc<ChannelInner>, recv: bool, site: Site) -> Waiting {
    let res = Resource {
        kind: if recv {
            ResKind::Recv(chan.kind)
        } else {
            ResKind::Send(chan.kind)
        },
        class: 0,
        created: chan.created,
    };
    let target = if recv {
        Target::Senders(chan.clone())
    } else {
        Target::Receiver(chan.clone())
    };
    let mut w = start(res, target, site, None, Some(chan.delivered.load(Relaxed)));
    if recv {
        chan.rx_waiting.fetch_add(1, Relaxed);
        w.receiving = Some(chan.clone());
    }
    w
}

fn start(
    resource: Resource,
    target: Target,
    site: Site,
    pending: Option<(*mut ContextState, usize)>,
    progress: Option<u64>,
) -> Waiting {
    let Some(state) = context::current() else {
        return Waiting::untracked();
    };
    let mut flagged = std::ptr::null_mut();
    let mut instance = 0;
    if let Some((p, inst)) = pending {
        if p == state {
            // SAFETY: the current context's own state.
            unsafe { (*state).with_owned(|o| o.set_pending(inst, true)) };
            flagged = state;
            instance = inst;
        }
    }
    // SAFETY: the current context's own state.
    let desc = unsafe { describe(state) };
    // SAFETY: as above; the closure only reads.
    let (holds, bounded) = unsafe {
        (*state).with_owned(|o| {
            let holds: Vec<HoldSnap> = o
                .held
                .iter()
                .filter(|h| !h.has(F_PENDING))
                .map(|h| HoldSnap {
                    resource: h.instance,
                    site: Site::from_location(h.site),
                    permits: h.permits,
                    shared: h.has(F_SHARED),
                })
                .collect();
            (holds, o.timed > 0)
        })
    };
    let now = Instant::now();
    let rec = WaitRecord {
        // SAFETY: the id is immutable.
        ctx: unsafe { (*state).id },
        resource,
        site,
        target,
        bounded,
        baseline: progress.unwrap_or(0),
        since: now,
        stall_reported: false,
    };
    let e = engine::get();
    let (id, found) = e.waits.start(desc, holds, rec);
    let w = Waiting {
        id,
        pending: flagged,
        instance,
        receiving: None,
    };
    if let Some(f) = found {
        // May panic in Panic mode: `w` then ends the wait as it unwinds.
        sink::submit(deadlock::report(e, &f));
    }
    w
}

impl Resource {
    /// The resource's name in reports.
    pub(crate) fn label(&self, e: &engine::Engine) -> String {
        if self.class != 0 {
            return e.classes.label(self.class);
        }
        let base = self
            .created
            .file()
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(self.created.file());
        let what = match self.kind {
            ResKind::Lock(k) => k.as_str(),
            ResKind::Recv(k) | ResKind::Send(k) => k.as_str(),
            ResKind::Other(k) => k.as_str(),
        };
        format!("`{what}@{base}:{}`", self.created.line())
    }
}
