//! The lockdep-style text and the JSON form.

use super::{take, thread};
use crate::{Access::*, LockClass, LockKind, LockMeta, ViolationKind};
use std::sync::Arc;

fn inversion(ca: &'static LockClass, cb: &'static LockClass, needle: &str) -> crate::Violation {
    let a = Arc::new(LockMeta::with_class(LockKind::Mutex, ca));
    let b = Arc::new(LockMeta::with_class(LockKind::RwLock, cb));
    let (a2, b2) = (a.clone(), b.clone());
    thread("rf-first", move || {
        let _g1 = a2.acquire(Exclusive);
        let _g2 = b2.acquire(Shared);
    })
    .join()
    .unwrap();
    thread("rf-second", move || {
        let _g1 = b.acquire(Exclusive);
        let _g2 = a.acquire(Exclusive);
    })
    .join()
    .unwrap();
    let mut v = take(needle);
    assert_eq!(v.len(), 1);
    v.pop().unwrap()
}

#[test]
fn the_text_has_every_lockdep_section() {
    static A: LockClass = LockClass::new("rf_\"a\"");
    static B: LockClass = LockClass::new("rf_b\\");
    let v = inversion(&A, &B, "rf_b");
    let t = v.to_string();
    for part in [
        "WARNING: possible deadlock: lock-order inversion [LockOrderInversion]",
        "thread \"rf-second\" takes the new order:",
        "thread \"rf-first\" took",
        "the existing dependency chain it closes:",
        "possible unsafe scenario:",
        "*** DEADLOCK ***",
        "fix: take",
        "report_format.rs:",
    ] {
        assert!(t.contains(part), "missing {part:?} in\n{t}");
    }
    // The two columns: the right column's steps are indented past the left's.
    let sc = v.unsafe_scenario().unwrap();
    assert_eq!(sc.left(), "thread \"rf-first\"");
    assert_eq!(sc.right(), "thread \"rf-second\"");
    let lines: Vec<&str> = t.lines().collect();
    let first_right = lines
        .iter()
        .find(|l| l.trim_start().starts_with("lock(`rf_b") && l.contains("lock("))
        .unwrap();
    let first_left = lines
        .iter()
        .find(|l| l.trim_start().starts_with("lock(`rf_\""))
        .unwrap();
    let indent = |l: &str| l.len() - l.trim_start().len();
    assert!(indent(first_right) > indent(first_left) + 10, "\n{t}");
}

#[test]
fn the_json_is_valid_and_escaped() {
    static A: LockClass = LockClass::new("rfj_\"a\"");
    static B: LockClass = LockClass::new("rfj_b\\");
    let v = inversion(&A, &B, "rfj_b");
    let j = v.to_json();
    parse(&j).unwrap_or_else(|e| panic!("invalid JSON at byte {e}: {j}"));
    assert!(j.starts_with("{\"kind\":\"LockOrderInversion\""));
    assert!(j.contains("rfj_\\\"a\\\""), "quotes escaped: {j}");
    assert!(j.contains("rfj_b\\\\"), "backslashes escaped: {j}");
    assert!(j.contains("\"name\":\"rf-first\""));
    assert!(j.contains("\"line\":"));
}

#[test]
fn control_characters_are_escaped() {
    let mut o = String::new();
    crate::report::json::string(&mut o, "a\nb\tc\u{1}\"\\");
    assert_eq!(o, "\"a\\nb\\tc\\u0001\\\"\\\\\"");
    parse(&o).unwrap();
}

#[test]
fn every_kind_has_a_distinct_name_and_title() {
    let mut names: Vec<_> = ViolationKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut titles: Vec<_> = ViolationKind::ALL.iter().map(|k| k.title()).collect();
    names.sort();
    names.dedup();
    titles.sort();
    titles.dedup();
    assert_eq!(names.len(), ViolationKind::ALL.len());
    assert_eq!(titles.len(), ViolationKind::ALL.len());
    for (i, k) in ViolationKind::ALL.iter().enumerate() {
        assert_eq!(k.index(), i);
    }
}

/// A strict JSON validator (RFC 8259 grammar); `Err` holds the byte offset
/// of the first error.
fn parse(s: &str) -> Result<(), usize> {
    let b = s.as_bytes();
    let mut i = 0;
    value(b, &mut i)?;
    ws(b, &mut i);
    if i == b.len() {
        Ok(())
    } else {
        Err(i)
    }
}

fn ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && matches!(b[*i], b' ' | b'\n' | b'\r' | b'\t') {
        *i += 1;
    }
}

fn value(b: &[u8], i: &mut usize) -> Result<(), usize> {
    ws(b, i);
    match b.get(*i) {
        Some(b'{') => {
            *i += 1;
            ws(b, i);
            if b.get(*i) == Some(&b'}') {
                *i += 1;
                return Ok(());
            }
            loop {
                ws(b, i);
                string(b, i)?;
                ws(b, i);
                if b.get(*i) != Some(&b':') {
                    return Err(*i);
                }
                *i += 1;
                value(b, i)?;
                ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b'}') => {
                        *i += 1;
                        return Ok(());
                    }
                    _ => return Err(*i),
                }
            }
        }
        Some(b'[') => {
            *i += 1;
            ws(b, i);
            if b.get(*i) == Some(&b']') {
                *i += 1;
                return Ok(());
            }
            loop {
                value(b, i)?;
                ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b']') => {
                        *i += 1;
                        return Ok(());
                    }
                    _ => return Err(*i),
                }
            }
        }
        Some(b'"') => string(b, i),
        Some(b't') => lit(b, i, b"true"),
        Some(b'f') => lit(b, i, b"false"),
        Some(b'n') => lit(b, i, b"null"),
        Some(c) if c.is_ascii_digit() || *c == b'-' => {
            *i += 1;
            while *i < b.len()
                && (b[*i].is_ascii_digit() || matches!(b[*i], b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                *i += 1;
            }
            Ok(())
        }
        _ => Err(*i),
    }
}

fn lit(b: &[u8], i: &mut usize, word: &[u8]) -> Result<(), usize> {
    if b[*i..].starts_with(word) {
        *i += word.len();
        Ok(())
    } else {
        Err(*i)
    }
}

fn string(b: &[u8], i: &mut usize) -> Result<(), usize> {
    if b.get(*i) != Some(&b'"') {
        return Err(*i);
    }
    *i += 1;
    while let Some(&c) = b.get(*i) {
        match c {
            b'"' => {
                *i += 1;
                return Ok(());
            }
            b'\\' => match b.get(*i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => *i += 2,
                Some(b'u')
                    if b.len() >= *i + 6 && b[*i + 2..*i + 6].iter().all(u8::is_ascii_hexdigit) =>
                {
                    *i += 6
                }
                _ => return Err(*i),
            },
            c if c < 0x20 => return Err(*i),
            _ => *i += 1,
        }
    }
    Err(*i)
}
