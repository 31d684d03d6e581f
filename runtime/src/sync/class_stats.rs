// Contention of the async locks (`Mutex`, `RwLock`, `Semaphore`), by lock
// class, for metrics: how many acquisitions had to queue, and how long they
// waited.
//
// Only the contended path records: an acquisition that is granted on its
// first poll costs nothing here. A queued one reads the clock when it
// queues and when it is granted, and adds to its class's counters (locked
// adds on a line shared by the class's waiters; the acquisition already
// queued and slept, which costs far more).
//
// Classes are those of the validation engine: an explicit `LockClass` by its
// name, else the creation site (`Mutex@file.rs:line`). The first
// `MAX_CLASSES` classes seen get a slot each; later ones share the
// `OTHER_CLASS` slot, so the series count stays bounded. A thread keeps the
// slots it used last, so the registry's lock is taken once per class and
// thread, not per acquisition.

use crate::metrics::{MAX_CLASSES, OTHER_CLASS};
use crate::runtime::DelayHistogram;
use crate::scheduler::stats::LogHistogram;
use crate::validation::LockMeta;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// One lock class's contention.
pub(crate) struct LockClassStats {
    pub(crate) name: String,
    contended: AtomicU64,
    wait: LogHistogram,
}

impl LockClassStats {
    fn new(name: String) -> LockClassStats {
        LockClassStats {
            name,
            contended: AtomicU64::new(0),
            wait: LogHistogram::new(),
        }
    }
}

/// One class's numbers, copied out.
#[derive(Clone, Debug)]
pub(crate) struct LockClassSnap {
    pub(crate) name: String,
    pub(crate) contended: u64,
    pub(crate) wait: DelayHistogram,
}

/// Identifies a class without formatting its name: an explicit class by its
/// address, a site class by its creation site.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Class(usize),
    Site(crate::validation::Site),
}

fn key_of(meta: &LockMeta) -> Key {
    match meta.class() {
        Some(c) => Key::Class(c as *const _ as usize),
        None => Key::Site(meta.created_at()),
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

thread_local! {
    static CACHE: Cell<[Option<(Key, &'static LockClassStats)>; CACHED]> =
        const { Cell::new([None; CACHED]) };
}

/// The slot of `meta`'s class (registered on first use; leaked: at most
/// `MAX_CLASSES + 1` slots per process).
fn slot(meta: &LockMeta) -> &'static LockClassStats {
    let key = key_of(meta);
    let cached = CACHE
        .try_with(|c| {
            let mut v = c.get();
            let i = v
                .iter()
                .position(|e| matches!(e, Some((k, _)) if *k == key))?;
            let hit = v[i];
            v[..=i].rotate_right(1);
            c.set(v);
            hit.map(|(_, s)| s)
        })
        .ok()
        .flatten();
    if let Some(s) = cached {
        return s;
    }
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
    let _ = CACHE.try_with(|c| {
        let mut v = c.get();
        v.rotate_right(1);
        v[0] = Some((key, s));
        c.set(v);
    });
    s
}

/// An acquisition of a lock described by `meta` queued at `since_ns`
/// (`stats::now_ns`) and was granted now.
#[inline(never)]
pub(crate) fn contended(meta: &LockMeta, since_ns: u64) {
    let waited = crate::scheduler::stats::now_ns().saturating_sub(since_ns);
    let s = slot(meta);
    s.contended.fetch_add(1, Relaxed);
    s.wait.record_shared(waited);
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
            contended: s.contended.load(Relaxed),
            wait: s.wait.snapshot(),
        })
        .collect()
}
