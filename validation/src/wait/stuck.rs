//! Wait-for cycles found by the periodic scan.
//!
//! The check run when a wait starts (`deadlock.rs`) sees only graph waits:
//! a lock wait by a context that holds nothing is merely counted (that is
//! what keeps contended locks cheap), because nobody could wait for such a
//! context — except a task awaiting its `JoinHandle`. So a task that holds
//! a lock and joins a child that waits for the lock (or a `spawn_blocking`
//! job blocked in `blocking_lock`) closes a cycle no wait-start check sees,
//! while a bystander task keeps the runtime busy and "all tasks blocked"
//! never holds.
//!
//! [`scan`] runs with the slow-wait scan: it views every registered context
//! — its recorded waits and its one counted lock wait (whose lock's address
//! the context keeps) — and runs the deadlock search from each context that
//! waits for a waiting one. A cycle is reported only when the next scan
//! finds the same one again, same contexts, same waits: a snapshot taken
//! while a wait was ending cannot raise a report. Reports are recorded and
//! logged, never raised as a panic (this runs on the watchdog's thread).

use super::deadlock::{self, Found};
use crate::engine::Engine;
use crate::fast_hash::FastSet as HashSet;
use crate::loom::sync::Mutex;
use crate::sink;
use std::hash::{Hash, Hasher};

/// The cycles the last scan found (their signatures), to confirm against.
pub(crate) struct Confirm {
    last: Mutex<Vec<u64>>,
}

impl Confirm {
    pub(crate) fn new() -> Confirm {
        Confirm {
            last: Mutex::new(Vec::new()),
        }
    }
}

/// How many cycles one scan looks for at most.
const MAX_CYCLES: usize = 16;

fn signature(f: &Found) -> u64 {
    let mut parts: Vec<(u64, crate::site::Site)> = f
        .steps
        .iter()
        .map(|s| (s.ctx.id().as_u64(), s.wait_site))
        .collect();
    parts.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// Finds the wait-for cycles among every registered context's waits, and
/// reports those the previous scan found too. Returns the reported ones.
pub(crate) fn scan(e: &Engine, confirm: &Confirm) -> Vec<Found> {
    let found: Vec<Found> = e.waits.with_full_view(|view| {
        let mut out: Vec<Found> = Vec::new();
        let mut covered: HashSet<crate::context::ContextId> = HashSet::default();
        let mut ctxs: Vec<_> = view.ctxs.keys().copied().collect();
        ctxs.sort();
        for c in ctxs {
            if out.len() >= MAX_CYCLES || covered.contains(&c) {
                continue;
            }
            if let Some(f) = deadlock::find(view, c) {
                covered.extend(f.steps.iter().map(|s| s.ctx.id()));
                out.push(f);
            }
        }
        out
    });
    let sigs: Vec<u64> = found.iter().map(signature).collect();
    let prev = std::mem::replace(&mut *crate::loom::lock(&confirm.last), sigs.clone());
    found
        .into_iter()
        .zip(sigs)
        .filter(|(_, s)| prev.contains(s))
        .map(|(f, _)| {
            sink::submit_quietly(&deadlock::report(e, &f));
            f
        })
        .collect()
}
