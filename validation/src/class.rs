//! Lock classes: the unit the lock-order graph is built over.
//!
//! A lock's class is, by default, the site that created it (every `Mutex`
//! created on one line is one class, as lockdep keys a class by its
//! initialisation site), or an explicit [`LockClass`] declared as a static.
//! Classes are interned once into dense ids (`u32`, from 1); a lock caches its
//! id (with the class's nesting bits) in one word, so the inline path never
//! looks at the table.

use crate::loom::sync::{Arc, Mutex};
use crate::site::Site;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A level in a lock hierarchy: while a lock of level `n` is held, only
/// locks of a level greater than `n` may be acquired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(u32);

impl Level {
    /// Level `n`; lower levels are taken first.
    pub const fn new(n: u32) -> Level {
        Level(n)
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether (and in which order) two locks of one class may be held at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Nesting {
    /// Holding two locks of the class at once is reported (the default): it
    /// is a potential AB-BA between two instances.
    #[default]
    Forbidden,
    /// Instances may nest if taken in increasing address order (lock
    /// striping over a fixed array of locks).
    ByAddress,
    /// Instances may nest if taken in increasing key order; each lock gets
    /// its key when it is created (`LockMeta::with_class_and_key`).
    ByKey,
}

/// An explicit lock class, declared once as a `static` and shared by every
/// lock that should be ordered as one ("all account locks").
///
/// ```
/// use perf_validation::{Level, LockClass, Nesting};
///
/// static ACCOUNTS: LockClass = LockClass::new("accounts")
///     .with_level(Level::new(20))
///     .nested(Nesting::ByKey);
/// static LEDGER: LockClass = LockClass::new("ledger").with_level(Level::new(10));
/// assert_eq!(ACCOUNTS.name(), "accounts");
/// ```
///
/// A class is identified by the static itself, not by its name: two statics
/// with the same name are two classes (the name is for reports).
#[derive(Debug)]
pub struct LockClass {
    name: &'static str,
    level: Option<Level>,
    nesting: Nesting,
    /// The interned class word (id and nesting bits), 0 until first use. A
    /// cache of the class table, so a plain `std` atomic (the table itself
    /// is model-checked).
    word: AtomicU64,
}

impl LockClass {
    /// A class with no level that forbids nesting.
    pub const fn new(name: &'static str) -> LockClass {
        LockClass {
            name,
            level: None,
            nesting: Nesting::Forbidden,
            word: AtomicU64::new(0),
        }
    }

    /// Puts the class at `level` of the lock hierarchy.
    pub const fn with_level(self, level: Level) -> LockClass {
        LockClass {
            level: Some(level),
            ..self
        }
    }

    /// Declares how instances of the class may nest.
    pub const fn nested(self, nesting: Nesting) -> LockClass {
        LockClass { nesting, ..self }
    }

    /// The name used in reports.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The hierarchy level, if any.
    pub fn level(&self) -> Option<Level> {
        self.level
    }

    /// How instances may nest.
    pub fn nesting(&self) -> Nesting {
        self.nesting
    }
}

/// What kind of primitive a lock is (part of a site class's identity, and
/// of the wording of reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// `sync::Mutex`.
    Mutex,
    /// `sync::RwLock`.
    RwLock,
    /// `sync::blocking::Mutex` (a thread lock).
    BlockingMutex,
    /// `sync::Semaphore`: tracked for the wait-for graph, not ordered.
    Semaphore,
}

impl LockKind {
    /// The primitive's type name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LockKind::Mutex => "Mutex",
            LockKind::RwLock => "RwLock",
            LockKind::BlockingMutex => "blocking::Mutex",
            LockKind::Semaphore => "Semaphore",
        }
    }
}

/// Everything the cold paths know about a class.
#[derive(Debug)]
pub(crate) struct ClassData {
    pub(crate) id: u32,
    pub(crate) kind: LockKind,
    pub(crate) name: ClassName,
    pub(crate) level: Option<Level>,
    pub(crate) nesting: Nesting,
}

#[derive(Debug)]
pub(crate) enum ClassName {
    Named(&'static str),
    Site(Site),
}

impl ClassData {
    /// A short name for reports: the explicit name, or `Mutex@file.rs:12`.
    pub(crate) fn label(&self) -> String {
        match &self.name {
            ClassName::Named(n) => format!("`{n}`"),
            ClassName::Site(s) => {
                let base = s.file().rsplit(['/', '\\']).next().unwrap_or(s.file());
                format!("`{}@{}:{}`", self.kind.as_str(), base, s.line())
            }
        }
    }

    /// The class word's nesting bits.
    pub(crate) fn word_flags(&self) -> u64 {
        match self.nesting {
            Nesting::Forbidden => 0,
            Nesting::ByAddress => WORD_NEST_ADDR,
            Nesting::ByKey => WORD_NEST_KEY,
        }
    }
}

/// Bits of a lock's cached class word above the 32-bit id.
pub(crate) const WORD_NEST_ADDR: u64 = 1 << 32;
pub(crate) const WORD_NEST_KEY: u64 = 1 << 33;
pub(crate) const WORD_NESTS: u64 = WORD_NEST_ADDR | WORD_NEST_KEY;

/// The interning table. Touched once per lock instance (to resolve its
/// class) and on cold paths (to label reports).
pub(crate) struct ClassTable {
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    classes: Vec<Arc<ClassData>>,
    by_site: HashMap<(Site, LockKind), u32>,
    by_static: HashMap<usize, u32>,
}

impl Table {
    fn push(
        &mut self,
        kind: LockKind,
        name: ClassName,
        level: Option<Level>,
        nesting: Nesting,
    ) -> u32 {
        let id = u32::try_from(self.classes.len() + 1).expect("more than 4 billion lock classes");
        self.classes.push(Arc::new(ClassData {
            id,
            kind,
            name,
            level,
            nesting,
        }));
        id
    }
}

impl ClassTable {
    pub(crate) fn new() -> ClassTable {
        ClassTable {
            inner: Mutex::new(Table::default()),
        }
    }

    /// The class word (id | nesting bits) of the class created at `site`.
    pub(crate) fn intern_site(&self, site: Site, kind: LockKind) -> u64 {
        let mut t = crate::loom::lock(&self.inner);
        let id = match t.by_site.get(&(site, kind)) {
            Some(&id) => id,
            None => {
                let id = t.push(kind, ClassName::Site(site), None, Nesting::Forbidden);
                t.by_site.insert((site, kind), id);
                id
            }
        };
        word(&t.classes[id as usize - 1])
    }

    /// The class word of an explicit class, interning it on first use.
    pub(crate) fn intern_static(&self, class: &'static LockClass, kind: LockKind) -> u64 {
        let cached = class.word.load(Relaxed);
        if cached != 0 {
            return cached;
        }
        let mut t = crate::loom::lock(&self.inner);
        let addr = class as *const LockClass as usize;
        let id = match t.by_static.get(&addr) {
            Some(&id) => id,
            None => {
                let id = t.push(
                    kind,
                    ClassName::Named(class.name),
                    class.level,
                    class.nesting,
                );
                t.by_static.insert(addr, id);
                id
            }
        };
        let w = word(&t.classes[id as usize - 1]);
        class.word.store(w, Relaxed);
        w
    }

    pub(crate) fn get(&self, id: u32) -> Arc<ClassData> {
        crate::loom::lock(&self.inner).classes[id as usize - 1].clone()
    }

    pub(crate) fn label(&self, id: u32) -> String {
        self.get(id).label()
    }
}

fn word(c: &ClassData) -> u64 {
    u64::from(c.id) | c.word_flags()
}
