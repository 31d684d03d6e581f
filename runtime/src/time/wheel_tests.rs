//! Property-style tests of the wheel with a deterministic PRNG: every timer
//! fires at or after its deadline, at its deadline when driven on time, and
//! at the first poll past it otherwise; cancelled timers never fire. Most
//! run with 1 ns ticks (tick = deadline); `wheel_exact_deadlines_coarse_ticks`
//! checks exact firing when many deadlines share a tick.

use super::entry::Shared;
use super::wheel::{Wheel, MAX_DURATION};
use crate::loom::sync::Arc;
use std::collections::HashMap;

/// A deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random timers across all levels (and beyond the span), random
/// cancellations and insertions while running, driven either event by event
/// (`on_time`: `now` jumps to each next expiration) or by random jumps.
fn wheel_property(seed: u64, on_time: bool) {
    let mut rng = Rng(seed);
    let mut wheel = Wheel::new(1);
    let mut live: HashMap<usize, (u64, u32)> = HashMap::new(); // ptr -> (when, key)
    let mut keys: Vec<usize> = Vec::new();
    let mut cancelled = 0;
    let mut fired = 0;
    let mut prev_now = 0;
    let mut now = 0;
    let random_when = |rng: &mut Rng, now: u64| {
        let shift = rng.below(40) as u32; // up to ~2^40 ticks: past the span
        now + 1 + rng.below(1 << shift)
    };
    for round in 0..400 {
        // Insert a few.
        for _ in 0..rng.below(8) {
            let when = random_when(&mut rng, wheel.elapsed());
            let e = Arc::new(Shared::new());
            e.set_pending(when);
            let ptr = Arc::as_ptr(&e) as usize;
            let key = wheel.insert(when, e);
            live.insert(ptr, (when, key));
            keys.push(ptr);
        }
        // Cancel one now and then.
        if rng.below(3) == 0 && !keys.is_empty() {
            let ptr = keys.swap_remove(rng.below(keys.len() as u64) as usize);
            if let Some((_, key)) = live.remove(&ptr) {
                let e = wheel.remove(key);
                assert_eq!(
                    Arc::as_ptr(&e) as usize,
                    ptr,
                    "cancel removed another entry"
                );
                cancelled += 1;
            }
        }
        wheel.check_invariants();
        // Advance.
        let next = wheel.next_expiration();
        if on_time {
            match next {
                Some(t) => now = now.max(t),
                None => continue,
            }
        } else {
            let bits = rng.below(if round % 50 == 0 { 38 } else { 16 });
            now += 1 + rng.below(1 << bits);
        }
        while let Some(e) = wheel.poll(now) {
            let ptr = Arc::as_ptr(&e) as usize;
            let (when, _) = live
                .remove(&ptr)
                .expect("fired a cancelled or unknown timer");
            assert!(when <= now, "fired early: when {when}, now {now}");
            assert!(
                when > prev_now,
                "fired late: when {when}, previous now {prev_now}"
            );
            if on_time {
                assert_eq!(when, now, "driven on time, a timer fires at its tick");
            }
            fired += 1;
        }
        prev_now = now;
        wheel.check_invariants();
        assert_eq!(wheel.len(), live.len());
    }
    // Everything left fires by the far future; nothing remains.
    let far = now + 64 * MAX_DURATION;
    while let Some(e) = wheel.poll(far) {
        let (when, _) = live
            .remove(&(Arc::as_ptr(&e) as usize))
            .expect("known timer");
        assert!(when <= far && when > prev_now);
        fired += 1;
    }
    assert!(live.is_empty(), "{} timers never fired", live.len());
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_expiration(), None);
    assert!(
        fired > 100 && cancelled > 10,
        "fired {fired}, cancelled {cancelled}"
    );
}

#[test]
fn wheel_property_on_time() {
    for seed in 1..=if cfg!(miri) { 2 } else { 20 } {
        wheel_property(seed * 0x9e37_79b9, true);
    }
}

#[test]
fn wheel_property_random_jumps() {
    for seed in 1..=if cfg!(miri) { 2 } else { 20 } {
        wheel_property(seed * 0x85eb_ca6b, false);
    }
}

#[test]
fn wheel_fires_exactly_at_tick_when_stepped() {
    // Step one tick at a time through the first levels: each timer fires at
    // exactly its tick.
    let mut rng = Rng(7);
    let mut wheel = Wheel::new(1);
    let mut by_ptr = HashMap::new();
    let n = if cfg!(miri) { 50 } else { 2000 };
    for _ in 0..n {
        let when = 1 + rng.below(20_000);
        let e = Arc::new(Shared::new());
        by_ptr.insert(Arc::as_ptr(&e) as usize, when);
        wheel.insert(when, e);
    }
    for now in 0..=20_000 {
        while let Some(e) = wheel.poll(now) {
            assert_eq!(by_ptr.remove(&(Arc::as_ptr(&e) as usize)), Some(now));
        }
    }
    assert!(by_ptr.is_empty());
}

#[test]
fn wheel_exact_deadlines_coarse_ticks() {
    // 1 ms ticks, deadlines in ns: driven from one next_expiration to the
    // next, each timer fires exactly at its deadline (never at its tick's
    // start or end), with insertions and cancellations in between.
    const TICK: u64 = 1_000_000;
    let mut rng = Rng(11);
    let mut wheel = Wheel::new(TICK);
    let mut live: HashMap<usize, (u64, u32)> = HashMap::new();
    let mut now = 0;
    let mut fired = 0;
    let rounds = if cfg!(miri) { 20 } else { 2000 };
    for _ in 0..rounds {
        for _ in 0..rng.below(4) {
            // Mostly within a few ticks; now and then far (cascades).
            let span = if rng.below(10) == 0 {
                1 << 36
            } else {
                5 * TICK
            };
            let deadline = now + 1 + rng.below(span);
            let e = Arc::new(Shared::new());
            let ptr = Arc::as_ptr(&e) as usize;
            live.insert(ptr, (deadline, wheel.insert(deadline, e)));
        }
        if rng.below(4) == 0 {
            if let Some(&ptr) = live.keys().next() {
                let (_, key) = live.remove(&ptr).unwrap();
                assert_eq!(Arc::as_ptr(&wheel.remove(key)) as usize, ptr);
            }
        }
        wheel.check_invariants();
        let Some(next) = wheel.next_expiration() else {
            continue;
        };
        let earliest = live.values().map(|&(d, _)| d).min().unwrap();
        assert!(
            next <= earliest,
            "next {next} after the earliest deadline {earliest}"
        );
        now = now.max(next);
        while let Some(e) = wheel.poll(now) {
            let (deadline, _) = live.remove(&(Arc::as_ptr(&e) as usize)).unwrap();
            assert_eq!(deadline, now, "fired off its exact deadline");
            fired += 1;
        }
        wheel.check_invariants();
        assert_eq!(wheel.len(), live.len());
    }
    assert!(fired > rounds / 2, "fired {fired}");
}
