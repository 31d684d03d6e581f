//! The wait-for graph: which contexts wait, on what, and what they hold.
//!
//! A context that starts waiting registers a record of the wait and a
//! snapshot of the locks it holds (a waiting context acquires nothing, so the
//! snapshot stays true while it waits). Who a wait waits *for* is resolved
//! when a check runs:
//!
//! - a lock: every waiting context whose snapshot holds it (a holder that is
//!   not waiting cannot be part of a cycle); all of them must release, so
//!   one stuck holder is enough to be stuck;
//! - semaphore permits: the contexts holding permits; any one of them can
//!   release, so all must be stuck, and they must account for every permit
//!   handed out;
//! - a receive: every context that holds a live sender (a sender is claimed
//!   by the context that last used it); any one can send, so all must be
//!   stuck, and no sender may be unclaimed;
//! - a send on a full channel: the context that last polled the receiver.
//!
//! Everything is under one mutex, touched only when a wait starts or ends
//! (a context that waits is about to park anyway) and by the stall scan.

use crate::channel::ChannelInner;
use crate::class::LockKind;
use crate::context::{ContextDesc, ContextId};
use crate::fast_hash::FastMap as HashMap;
use crate::loom::sync::{Arc, Mutex};
use crate::site::Site;
use std::time::Instant;

/// What a wait is on, for reports.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    pub(crate) kind: ResKind,
    /// The lock class, 0 for non-locks.
    pub(crate) class: u32,
    pub(crate) created: Site,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResKind {
    Lock(LockKind),
    Recv(crate::channel::ChannelKind),
    Send(crate::channel::ChannelKind),
    Other(super::WaitKind),
}

/// Who can end a wait.
pub(crate) enum Target {
    Holders { resource: usize },
    Permits { resource: usize, outstanding: u64 },
    Senders(Arc<ChannelInner>),
    Receiver(Arc<ChannelInner>),
    Nobody,
}

/// One lock in a waiting context's snapshot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HoldSnap {
    pub(crate) resource: usize,
    pub(crate) site: Site,
    pub(crate) permits: u32,
    pub(crate) shared: bool,
}

pub(crate) struct WaitRecord {
    pub(crate) ctx: ContextId,
    pub(crate) resource: Resource,
    pub(crate) site: Site,
    pub(crate) target: Target,
    /// Started under a timeout: never deadlocked, never stalled.
    pub(crate) bounded: bool,
    /// Progress count of the resource when last seen moving (stall scan).
    pub(crate) baseline: u64,
    pub(crate) since: Instant,
    pub(crate) stall_reported: bool,
}

pub(crate) struct CtxWaits {
    pub(crate) desc: ContextDesc,
    pub(crate) holds: Vec<HoldSnap>,
    pub(crate) waits: Vec<u64>,
}

#[derive(Default)]
pub(crate) struct Inner {
    next: u64,
    pub(crate) waits: HashMap<u64, WaitRecord>,
    pub(crate) ctxs: HashMap<ContextId, CtxWaits>,
    /// Resource -> waiting contexts whose snapshot holds it.
    pub(crate) holders: HashMap<usize, Vec<ContextId>>,
}

pub(crate) struct WaitGraph {
    pub(crate) inner: Mutex<Inner>,
}

impl WaitGraph {
    pub(crate) fn new() -> WaitGraph {
        WaitGraph {
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        crate::loom::lock(&self.inner).waits.len()
    }

    /// Registers a wait and checks whether it closes a deadlock; returns its
    /// id and the cycle, if any.
    pub(crate) fn start(
        &self,
        desc: ContextDesc,
        holds: Vec<HoldSnap>,
        rec: WaitRecord,
    ) -> (u64, Option<super::deadlock::Found>) {
        let mut g = crate::loom::lock(&self.inner);
        g.next += 1;
        let id = g.next;
        let ctx = rec.ctx;
        let bounded = rec.bounded;
        g.waits.insert(id, rec);
        if let Some(c) = g.ctxs.get_mut(&ctx) {
            c.waits.push(id);
        } else {
            for h in &holds {
                g.holders.entry(h.resource).or_default().push(ctx);
            }
            g.ctxs.insert(
                ctx,
                CtxWaits {
                    desc,
                    holds,
                    waits: vec![id],
                },
            );
        }
        let found = if bounded {
            None
        } else {
            super::deadlock::find(&g, ctx)
        };
        (id, found)
    }

    /// Ends a wait.
    pub(crate) fn end(&self, id: u64) {
        let mut g = crate::loom::lock(&self.inner);
        let Some(rec) = g.waits.remove(&id) else {
            return;
        };
        let Some(c) = g.ctxs.get_mut(&rec.ctx) else {
            return;
        };
        c.waits.retain(|&w| w != id);
        if !c.waits.is_empty() {
            return;
        }
        let c = g.ctxs.remove(&rec.ctx).expect("present above");
        for h in c.holds {
            if let Some(list) = g.holders.get_mut(&h.resource) {
                if let Some(i) = list.iter().position(|&x| x == rec.ctx) {
                    list.swap_remove(i);
                }
                if list.is_empty() {
                    g.holders.remove(&h.resource);
                }
            }
        }
    }

    /// The waits of `ctx`, as (resource, site of the wait).
    pub(crate) fn waits_of(&self, ctx: ContextId) -> Vec<(Resource, Site)> {
        let g = crate::loom::lock(&self.inner);
        g.ctxs
            .get(&ctx)
            .map(|c| {
                c.waits
                    .iter()
                    .filter_map(|w| g.waits.get(w))
                    .map(|r| (r.resource.clone(), r.site))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A context waiting to receive on `chan`, with the site of its wait.
    pub(crate) fn receiver_of(&self, chan: &Arc<ChannelInner>) -> Option<(ContextDesc, Site)> {
        let g = crate::loom::lock(&self.inner);
        g.waits.values().find_map(|r| match &r.target {
            Target::Senders(c) if Arc::ptr_eq(c, chan) => {
                g.ctxs.get(&r.ctx).map(|c| (c.desc.clone(), r.site))
            }
            _ => None,
        })
    }
}
