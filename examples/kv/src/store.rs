//! The keyspace: string values in shards of `Mutex<HashMap>`, with expiry.
//!
//! Each key hashes to one of [`SHARDS`] shards, so commands on different
//! keys rarely meet on one lock, and every lock is held only for a map
//! operation (never across an `.await`: these are `std::sync::Mutex`es, as
//! tokio's docs recommend for short critical sections). An expired key is
//! removed when a command touches it, and by [`Store::sweep`], which a
//! Batch task runs a few times a second: each shard keeps a min-heap of
//! deadlines, so a sweep visits only keys that are due.

use std::cmp::Reverse;
use std::collections::hash_map::{Entry as MapEntry, RandomState};
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Shards in the keyspace.
pub const SHARDS: usize = 64;

struct Value {
    bytes: Vec<u8>,
    expires: Option<Instant>,
}

#[derive(Default)]
struct Shard {
    map: HashMap<Vec<u8>, Value>,
    /// Deadlines set on keys of this shard, soonest first. An item whose key
    /// has since been deleted, overwritten or given another deadline is
    /// stale and skipped when it comes due.
    deadlines: BinaryHeap<Reverse<(Instant, Vec<u8>)>>,
}

impl Shard {
    /// The live value of `key`, removing it if it has expired.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Value> {
        if self.map.get(key)?.expires.is_some_and(|t| t <= now) {
            self.map.remove(key);
            return None;
        }
        self.map.get_mut(key)
    }

    fn set_deadline(&mut self, key: &[u8], at: Instant) {
        self.deadlines.push(Reverse((at, key.to_vec())));
    }
}

/// When a `SET` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Condition {
    #[default]
    Always,
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if it exists.
    IfPresent,
}

/// The expiry a `SET` gives its key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SetExpiry {
    /// No expiry (`SET` without options clears an old one).
    #[default]
    None,
    /// `EX`/`PX`: expire after this long.
    After(Duration),
    /// `KEEPTTL`: keep the key's current expiry.
    Keep,
}

/// `EXPIRE`'s `NX | XX | GT | LT` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpireIf {
    #[default]
    Always,
    /// Only if the key has no expiry.
    NoExpiry,
    /// Only if it has one.
    HasExpiry,
    /// Only if the new expiry is later (a key without one counts as never).
    Later,
    /// Only if the new expiry is sooner.
    Sooner,
}

/// Why `INCR` failed (Redis's texts).
#[derive(Debug, PartialEq, Eq)]
pub enum IncrError {
    NotAnInteger,
    Overflow,
}

/// The keyspace.
pub struct Store {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Store {
        Store {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        let i = self.hasher.hash_one(key) as usize % SHARDS;
        // A panic while a shard was locked cannot leave a map half-updated
        // in a way later commands would misread (every update is one map
        // call), so a poisoned lock is used as it is.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let now = Instant::now();
        self.shard(key).live(key, now).map(|v| v.bytes.clone())
    }

    /// `SET`: returns whether it wrote, and the old value when `want_old`.
    pub fn set(
        &self,
        key: &[u8],
        value: Vec<u8>,
        cond: Condition,
        expiry: SetExpiry,
        want_old: bool,
    ) -> (bool, Option<Vec<u8>>) {
        let now = Instant::now();
        let mut shard = self.shard(key);
        let old = shard.live(key, now);
        let exists = old.is_some();
        let old_bytes = if want_old {
            old.as_ref().map(|v| v.bytes.clone())
        } else {
            None
        };
        let kept = old.and_then(|v| v.expires);
        match cond {
            Condition::IfAbsent if exists => return (false, old_bytes),
            Condition::IfPresent if !exists => return (false, old_bytes),
            _ => {}
        }
        let expires = match expiry {
            SetExpiry::None => None,
            SetExpiry::Keep => kept,
            SetExpiry::After(d) => Some(now + d),
        };
        if let (SetExpiry::After(_), Some(at)) = (expiry, expires) {
            shard.set_deadline(key, at);
        }
        shard.map.insert(
            key.to_vec(),
            Value {
                bytes: value,
                expires,
            },
        );
        (true, old_bytes)
    }

    /// Removes the keys; returns how many existed.
    pub fn del(&self, keys: &[Vec<u8>]) -> i64 {
        let now = Instant::now();
        keys.iter()
            .filter(|k| {
                let mut shard = self.shard(k);
                shard.live(k, now).is_some() && shard.map.remove(k.as_slice()).is_some()
            })
            .count() as i64
    }

    /// How many of the keys exist (a key named twice counts twice).
    pub fn exists(&self, keys: &[Vec<u8>]) -> i64 {
        let now = Instant::now();
        keys.iter()
            .filter(|k| self.shard(k).live(k, now).is_some())
            .count() as i64
    }

    /// `INCR`/`INCRBY`: adds `by` to the integer stored at `key` (0 if
    /// absent), keeping its expiry.
    pub fn incr_by(&self, key: &[u8], by: i64) -> Result<i64, IncrError> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        let cur = match shard.live(key, now) {
            Some(v) => crate::resp::parse_i64(&v.bytes).ok_or(IncrError::NotAnInteger)?,
            None => 0,
        };
        let new = cur.checked_add(by).ok_or(IncrError::Overflow)?;
        match shard.map.entry(key.to_vec()) {
            MapEntry::Occupied(mut e) => e.get_mut().bytes = new.to_string().into_bytes(),
            MapEntry::Vacant(e) => {
                e.insert(Value {
                    bytes: new.to_string().into_bytes(),
                    expires: None,
                });
            }
        }
        Ok(new)
    }

    /// `EXPIRE`/`PEXPIRE`: gives `key` a time to live of `ttl_ms` (a
    /// deadline in the past deletes it). Returns whether it was set.
    pub fn expire(&self, key: &[u8], ttl_ms: i64, cond: ExpireIf) -> bool {
        let now = Instant::now();
        let mut shard = self.shard(key);
        let Some(v) = shard.live(key, now) else {
            return false;
        };
        let ok = match cond {
            ExpireIf::Always => true,
            ExpireIf::NoExpiry => v.expires.is_none(),
            ExpireIf::HasExpiry => v.expires.is_some(),
            ExpireIf::Later | ExpireIf::Sooner => {
                let cur = v
                    .expires
                    .map(|t| t.saturating_duration_since(now).as_millis() as i64);
                match (cond, cur) {
                    (ExpireIf::Later, Some(c)) => ttl_ms > c,
                    (_, Some(c)) => ttl_ms < c,
                    // No expiry counts as an infinite one.
                    (ExpireIf::Later, None) => false,
                    (_, None) => true,
                }
            }
        };
        if !ok {
            return false;
        }
        if ttl_ms <= 0 {
            shard.map.remove(key);
            return true;
        }
        let at = now + Duration::from_millis(ttl_ms as u64);
        v.expires = Some(at);
        shard.set_deadline(key, at);
        true
    }

    /// `PTTL`: -2 if the key does not exist, -1 if it has no expiry, else
    /// the milliseconds left.
    pub fn pttl(&self, key: &[u8]) -> i64 {
        let now = Instant::now();
        match self.shard(key).live(key, now) {
            None => -2,
            Some(Value { expires: None, .. }) => -1,
            Some(Value {
                expires: Some(t), ..
            }) => t.saturating_duration_since(now).as_millis() as i64,
        }
    }

    /// `MSET`: sets every pair, clearing their expiry.
    pub fn mset(&self, pairs: &[Vec<u8>]) {
        for kv in pairs.chunks_exact(2) {
            self.set(
                &kv[0],
                kv[1].clone(),
                Condition::Always,
                SetExpiry::None,
                false,
            );
        }
    }

    /// Live keys.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (live keys, keys with an expiry), for `INFO`'s keyspace line.
    pub fn counts(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(k, e), s| {
            let s = s.lock().unwrap_or_else(|e| e.into_inner());
            (
                k + s.map.len(),
                e + s.map.values().filter(|v| v.expires.is_some()).count(),
            )
        })
    }

    /// `KEYS pattern`: every live key matching the glob, one shard locked
    /// at a time.
    pub fn keys(&self, pattern: &[u8]) -> Vec<Vec<u8>> {
        let now = Instant::now();
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let s = s.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(
                s.map
                    .iter()
                    .filter(|(k, v)| v.expires.is_none_or(|t| t > now) && glob_match(pattern, k))
                    .map(|(k, _)| k.clone()),
            );
        }
        out
    }

    /// `FLUSHALL`.
    pub fn clear(&self) {
        for s in self.shards.iter() {
            *s.lock().unwrap_or_else(|e| e.into_inner()) = Shard::default();
        }
    }

    /// Removes keys whose deadline passed, at most `budget` heap items per
    /// shard; returns how many keys it removed.
    pub fn sweep(&self, budget: usize) -> usize {
        let now = Instant::now();
        let mut removed = 0;
        for s in self.shards.iter() {
            let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
            for _ in 0..budget {
                match s.deadlines.peek() {
                    Some(Reverse((at, _))) if *at <= now => {}
                    _ => break,
                }
                let Some(Reverse((at, key))) = s.deadlines.pop() else {
                    break;
                };
                // Only if this item is still the key's deadline.
                if s.map.get(&key).is_some_and(|v| v.expires == Some(at)) {
                    s.map.remove(&key);
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Heap items waiting in the shards' deadline heaps (live and stale).
    pub fn pending_deadlines(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).deadlines.len())
            .sum()
    }
}

/// Redis's glob: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\` escaping.
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: (pattern index, string index).
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => match class_match(pat, p, s[i]) {
                    Some((true, next)) => {
                        p = next;
                        i += 1;
                        continue;
                    }
                    Some((false, _)) => {}
                    // A class that never closes: `[` is a plain character.
                    None if s[i] == b'[' => {
                        p += 1;
                        i += 1;
                        continue;
                    }
                    None => {}
                },
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pat[p] == b'['`: whether it
/// matched and the pattern index after the class; `None` if the class does
/// not close (then `[` matches itself, as in Redis).
fn class_match(pat: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = pat.get(j) == Some(&b'^');
    if negate {
        j += 1;
    }
    let mut matched = false;
    loop {
        let b = *pat.get(j)?;
        if b == b']' {
            return Some((matched != negate, j + 1));
        }
        if b == b'\\' && j + 1 < pat.len() {
            matched |= pat[j + 1] == c;
            j += 2;
        } else if pat.get(j + 1) == Some(&b'-') && pat.get(j + 2).is_some_and(|&e| e != b']') {
            let (lo, hi) = (b.min(pat[j + 2]), b.max(pat[j + 2]));
            matched |= (lo..=hi).contains(&c);
            j += 3;
        } else {
            matched |= b == c;
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_conditions_and_expiry_options_behave_as_redis() {
        let s = Store::new();
        assert_eq!(
            s.set(
                b"k",
                b"1".to_vec(),
                Condition::IfPresent,
                SetExpiry::None,
                false
            ),
            (false, None)
        );
        assert_eq!(
            s.set(
                b"k",
                b"1".to_vec(),
                Condition::IfAbsent,
                SetExpiry::None,
                false
            ),
            (true, None)
        );
        assert_eq!(
            s.set(
                b"k",
                b"2".to_vec(),
                Condition::IfAbsent,
                SetExpiry::None,
                true
            ),
            (false, Some(b"1".to_vec()))
        );
        s.set(
            b"k",
            b"3".to_vec(),
            Condition::Always,
            SetExpiry::After(Duration::from_secs(100)),
            false,
        );
        assert!((99_000..=100_000).contains(&s.pttl(b"k")));
        s.set(
            b"k",
            b"4".to_vec(),
            Condition::Always,
            SetExpiry::Keep,
            false,
        );
        assert!(s.pttl(b"k") > 0, "KEEPTTL keeps the deadline");
        s.set(
            b"k",
            b"5".to_vec(),
            Condition::Always,
            SetExpiry::None,
            false,
        );
        assert_eq!(s.pttl(b"k"), -1, "a plain SET clears it");
        assert_eq!(s.pttl(b"missing"), -2);
    }

    #[test]
    fn expired_keys_are_gone_and_the_sweep_frees_them() {
        let s = Store::new();
        s.set(
            b"a",
            b"x".to_vec(),
            Condition::Always,
            SetExpiry::After(Duration::ZERO),
            false,
        );
        s.set(
            b"b",
            b"x".to_vec(),
            Condition::Always,
            SetExpiry::After(Duration::ZERO),
            false,
        );
        s.set(
            b"c",
            b"x".to_vec(),
            Condition::Always,
            SetExpiry::After(Duration::from_secs(60)),
            false,
        );
        assert_eq!(s.get(b"a"), None, "a read removes an expired key");
        assert_eq!(s.len(), 2, "b is expired but not yet removed");
        assert_eq!(s.sweep(16), 1, "the sweep removes b (a was gone already)");
        assert_eq!(s.len(), 1);
        assert_eq!(s.pending_deadlines(), 1, "only c's deadline is left");
        // A stale heap item (the key was overwritten) removes nothing.
        s.set(
            b"d",
            b"x".to_vec(),
            Condition::Always,
            SetExpiry::After(Duration::ZERO),
            false,
        );
        s.set(
            b"d",
            b"y".to_vec(),
            Condition::Always,
            SetExpiry::None,
            false,
        );
        assert_eq!(s.sweep(16), 0);
        assert_eq!(s.get(b"d"), Some(b"y".to_vec()));
    }

    #[test]
    fn incr_keeps_ttl_and_refuses_non_integers_and_overflow() {
        let s = Store::new();
        assert_eq!(s.incr_by(b"n", 1), Ok(1));
        assert!(s.expire(b"n", 50_000, ExpireIf::Always));
        assert_eq!(s.incr_by(b"n", 1), Ok(2));
        assert!(s.pttl(b"n") > 0);
        s.set(
            b"t",
            b"abc".to_vec(),
            Condition::Always,
            SetExpiry::None,
            false,
        );
        assert_eq!(s.incr_by(b"t", 1), Err(IncrError::NotAnInteger));
        s.set(
            b"m",
            i64::MAX.to_string().into_bytes(),
            Condition::Always,
            SetExpiry::None,
            false,
        );
        assert_eq!(s.incr_by(b"m", 1), Err(IncrError::Overflow));
    }

    #[test]
    fn expire_options_and_non_positive_ttls() {
        let s = Store::new();
        s.set(
            b"k",
            b"v".to_vec(),
            Condition::Always,
            SetExpiry::None,
            false,
        );
        assert!(!s.expire(b"k", 1000, ExpireIf::HasExpiry));
        assert!(
            !s.expire(b"k", 1000, ExpireIf::Later),
            "GT: no expiry counts as never"
        );
        assert!(s.expire(b"k", 10_000, ExpireIf::NoExpiry));
        assert!(!s.expire(b"k", 5_000, ExpireIf::Later));
        assert!(s.expire(b"k", 5_000, ExpireIf::Sooner));
        assert!(s.expire(b"k", 0, ExpireIf::Always));
        assert_eq!(s.get(b"k"), None, "a ttl of 0 deletes");
        assert!(!s.expire(b"missing", 10, ExpireIf::Always));
    }

    #[test]
    fn del_and_exists_count_as_redis() {
        let s = Store::new();
        s.mset(&[b"a".to_vec(), b"1".to_vec(), b"b".to_vec(), b"2".to_vec()]);
        assert_eq!(s.exists(&[b"a".to_vec(), b"a".to_vec(), b"z".to_vec()]), 2);
        assert_eq!(s.del(&[b"a".to_vec(), b"z".to_vec(), b"a".to_vec()]), 1);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn glob_patterns_match_as_redis() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("*", "", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("user:*:name", "user:42:name", true),
            ("user:*:name", "user:42:mail", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("*a*b", "xaxxb", true),
            ("[abc", "[abc", true),
        ];
        for &(p, s, want) in cases {
            assert_eq!(glob_match(p.as_bytes(), s.as_bytes()), want, "{p} vs {s}");
        }
    }

    #[test]
    fn keys_lists_only_live_matching_keys() {
        let s = Store::new();
        s.mset(&[
            b"user:1".to_vec(),
            b"a".to_vec(),
            b"user:2".to_vec(),
            b"b".to_vec(),
            b"other".to_vec(),
            b"c".to_vec(),
        ]);
        s.set(
            b"user:3",
            b"x".to_vec(),
            Condition::Always,
            SetExpiry::After(Duration::ZERO),
            false,
        );
        let mut k = s.keys(b"user:*");
        k.sort();
        assert_eq!(k, vec![b"user:1".to_vec(), b"user:2".to_vec()]);
    }
}
