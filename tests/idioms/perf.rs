//! The idiom suite under `#[perf_runtime::test]` (validation in `Panic`
//! mode), on both schedulers: every body in `cases.rs` must pass, and no
//! validation report may mention it. `idioms/tokio.rs` runs the same bodies
//! under `#[tokio::test]`, so each is known to be correct tokio code: a
//! report here is a false one.
//!
//! The timing idioms (a wait that outlasts the stall threshold and then
//! ends) set the threshold to 20 ms and wait until the watchdog has called
//! a wait slow (the advisory counter moved) before ending it.

#[macro_use]
#[path = "cases.rs"]
mod cases;

mod rt {
    pub use perf_runtime::{select, spawn, sync, task, time};
}

mod compat {
    use perf_runtime::validation::{self, Violation};
    use std::time::{Duration, Instant};

    /// Slow-wait advisories so far.
    pub fn slow_waits() -> u64 {
        validation::slow_waits()
    }

    /// Returns once the watchdog has seen some wait slow since `before`
    /// (sleeping on a timer meanwhile, as a live but slow service would).
    pub async fn until_slow(before: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while validation::slow_waits() <= before {
            // Every runtime built resets the threshold: set it again.
            validation::set_stall_threshold(Duration::from_millis(20));
            assert!(
                Instant::now() < deadline,
                "the watchdog never saw a wait slow"
            );
            perf_runtime::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// As [`until_slow`], from a thread outside the runtime; then lets two
    /// more watchdog scans (250 ms apart) pass, so the watchdog also judges
    /// an idle runtime while the thread is still quiet. (Nothing depends on
    /// how long: the body is correct either way; this only makes sure the
    /// validator had its chance to be wrong.)
    pub fn until_slow_blocking(before: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while validation::slow_waits() <= before {
            validation::set_stall_threshold(Duration::from_millis(20));
            assert!(
                Instant::now() < deadline,
                "the watchdog never saw a wait slow"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(600));
    }

    /// Fails with every report that mentions the idioms.
    pub fn no_reports() {
        let mine = |v: &Violation| {
            v.sites()
                .iter()
                .any(|s| s.file().ends_with("cases.rs") && s.file().contains("idioms"))
        };
        let found = validation::take_reports_matching(mine);
        assert!(
            found.is_empty(),
            "false reports on correct code:\n{}",
            found
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

macro_rules! perf_tests {
    ($($name:ident),* $(,)?) => {
        mod current_thread {
            $(
                #[perf_runtime::test]
                async fn $name() {
                    crate::cases::$name().await;
                    crate::compat::no_reports();
                }
            )*
        }
        mod multi_thread {
            $(
                #[perf_runtime::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::cases::$name().await;
                    crate::compat::no_reports();
                }
            )*
        }
    };
}

all_idioms!(perf_tests);
