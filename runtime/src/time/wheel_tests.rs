//! Property-style tests of the wheel with a deterministic PRNG: every timer
//! fires at or after its deadline, at its deadline when driven on time, and
//! at the first poll past it otherwise; cancelled timers never fire. Most
//! run with 1 ns ticks (tick = deadline); `wheel_exact_deadlines_coarse_ticks`
//! checks exact firing when many deadlines share a tick. Entries are told
//! apart by their keys (a key is owned from `insert` to `remove`); a fired
//! entry is removed at once, as its `Sleep` would be when dropped.

use super::wheel::{Key, Wheel, MAX_DURATION};
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
    let mut live: HashMap<Key, u64> = HashMap::new(); // key -> when
    let mut keys: Vec<Key> = Vec::new();
    let mut cancelled = 0;
    let mut moved = 0;
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
            let key = wheel.insert(when, None);
            assert!(live.insert(key, when).is_none(), "key {key} given twice");
            keys.push(key);
        }
        // Cancel one now and then.
        if rng.below(3) == 0 && !keys.is_empty() {
            let key = keys.swap_remove(rng.below(keys.len() as u64) as usize);
            if live.remove(&key).is_some() {
                assert!(wheel.is_pending(key));
                assert!(wheel.remove(key).is_none());
                cancelled += 1;
            }
        }
        // Move one (`Sleep::reset`) now and then.
        if rng.below(3) == 0 && !keys.is_empty() {
            let key = keys[rng.below(keys.len() as u64) as usize];
            if let Some(when) = live.get_mut(&key) {
                *when = random_when(&mut rng, wheel.elapsed());
                wheel.relink(key, *when);
                moved += 1;
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
        // A wheel that was not polled meanwhile catches up to a time the
        // clock has reached, as a registration on an idle worker does.
        if rng.below(2) == 0 {
            wheel.catch_up(prev_now + rng.below(now - prev_now + 1));
            wheel.check_invariants();
        }
        while let Some((key, _)) = wheel.poll(now) {
            let when = live
                .remove(&key)
                .expect("fired a cancelled or unknown timer");
            assert!(!wheel.is_pending(key));
            wheel.remove(key);
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
    while let Some((key, _)) = wheel.poll(far) {
        let when = live.remove(&key).expect("known timer");
        wheel.remove(key);
        assert!(when <= far && when > prev_now);
        fired += 1;
    }
    assert!(live.is_empty(), "{} timers never fired", live.len());
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_expiration(), None);
    assert!(
        fired > 100 && cancelled > 10 && moved > 10,
        "fired {fired}, cancelled {cancelled}, moved {moved}"
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
    let mut by_key = HashMap::new();
    let n = if cfg!(miri) { 50 } else { 2000 };
    for _ in 0..n {
        let when = 1 + rng.below(20_000);
        by_key.insert(wheel.insert(when, None), when);
    }
    for now in 0..=20_000 {
        while let Some((key, _)) = wheel.poll(now) {
            assert_eq!(by_key.remove(&key), Some(now));
            wheel.remove(key);
        }
    }
    assert!(by_key.is_empty());
}

#[test]
fn wheel_exact_deadlines_coarse_ticks() {
    // 1 ms ticks, deadlines in ns: driven from one next_expiration to the
    // next, each timer fires exactly at its deadline (never at its tick's
    // start or end), with insertions and cancellations in between.
    const TICK: u64 = 1_000_000;
    let mut rng = Rng(11);
    let mut wheel = Wheel::new(TICK);
    let mut live: HashMap<Key, u64> = HashMap::new();
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
            live.insert(wheel.insert(deadline, None), deadline);
        }
        if rng.below(4) == 0 {
            if let Some(&key) = live.keys().next() {
                live.remove(&key);
                wheel.remove(key);
            }
        }
        wheel.check_invariants();
        let Some(next) = wheel.next_expiration() else {
            continue;
        };
        let earliest = live.values().copied().min().unwrap();
        assert!(
            next <= earliest,
            "next {next} after the earliest deadline {earliest}"
        );
        now = now.max(next);
        while let Some((key, _)) = wheel.poll(now) {
            let deadline = live.remove(&key).unwrap();
            wheel.remove(key);
            assert_eq!(deadline, now, "fired off its exact deadline");
            fired += 1;
        }
        wheel.check_invariants();
        assert_eq!(wheel.len(), live.len());
    }
    assert!(fired > rounds / 2, "fired {fired}");
}

/// A slot's entries (moved into `near` together, sorted once) and entries
/// placed within the current tick (one at a time) fire together in exact
/// deadline order, never before their deadline, and a cancelled one of
/// either kind never fires.
#[test]
fn near_run_and_single_placements_fire_in_deadline_order() {
    let tick = 1_000;
    let mut rng = Rng(0x5eed);
    let mut wheel = Wheel::new(tick);
    let mut live: HashMap<Key, u64> = HashMap::new();
    // Tick 2's slot, linked while the wheel is at tick 0 (two ticks
    // ahead, so not pulled early), then pulled into `near` as one run.
    for _ in 0..200 {
        let deadline = 2 * tick + 1 + rng.below(tick - 1);
        live.insert(wheel.insert(deadline, None), deadline);
    }
    // Drive the wheel into tick 1 (nothing due yet; tick 2's slot comes
    // near), then place entries of tick 2 one at a time, interleaved with
    // the run's deadlines.
    assert!(wheel.poll(tick).is_none());
    wheel.check_invariants();
    for _ in 0..100 {
        let deadline = 2 * tick + 1 + rng.below(tick - 1);
        live.insert(wheel.insert(deadline, None), deadline);
    }
    // Cancel a few of each.
    let mut cancel: Vec<Key> = live.keys().copied().collect();
    cancel.sort_unstable();
    for key in cancel.into_iter().step_by(7) {
        live.remove(&key);
        assert!(wheel.remove(key).is_none());
    }
    wheel.check_invariants();
    let mut last = 0;
    let mut fired = 0;
    let mut now = tick;
    while now < 3 * tick {
        now += 1 + rng.below(37);
        while let Some((key, _)) = wheel.poll(now) {
            let deadline = live.remove(&key).expect("a cancelled or unknown key fired");
            assert!(deadline <= now, "fired early: deadline {deadline} at {now}");
            assert!(deadline >= last, "out of order: {deadline} after {last}");
            last = deadline;
            fired += 1;
            assert!(wheel.remove(key).is_none());
        }
        // (Between two firings the top may be stale: `poll` drops it next.)
        wheel.check_invariants();
    }
    assert!(live.is_empty(), "{} never fired", live.len());
    assert!(fired > 200, "fired {fired}");
}
