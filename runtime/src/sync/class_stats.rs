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
}

// SAFETY: the raw pointers are dereferenced only under the registry's lock,
// while the channel they point to is alive (`ChannelGauge` docs), and only
// to read the queue's atomic indices, which any thread may read.
unsafe impl Send for ChannelRegistry {}

static CHANNELS: Mutex<ChannelRegistry> = Mutex::new(ChannelRegistry {
    classes: Vec::new(),
    entries: Vec::new(),
    free: Vec::new(),
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
        // SAFETY: the entry is registered, so its channel is alive (its
        // gauge unregisters under this lock before the channel is dropped),
        // and `register`'s caller promised `len` is sound on it.
        c.occupancy += unsafe { (e.len)(e.ptr) };
        c.capacity += e.bound.unwrap_or(0);
    }
    out.retain(|c| c.channels > 0);
    out
}
