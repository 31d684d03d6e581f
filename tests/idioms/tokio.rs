//! The idiom suite's bodies (`cases.rs`) under `#[tokio::test]`, on both
//! schedulers: each passes, so each is correct tokio code, and
//! `idioms/perf.rs` may treat any validation report on it as false.

#[macro_use]
#[path = "cases.rs"]
mod cases;

mod rt {
    pub use tokio::{select, spawn, sync, task, time};
}

mod compat {
    use std::time::Duration;

    pub fn slow_waits() -> u64 {
        0
    }

    /// Lets the other side wait a while, as `perf.rs` does until the
    /// watchdog called the wait slow.
    pub async fn until_slow(_before: u64) {
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    /// As `until_slow`, from a thread outside the runtime.
    pub fn until_slow_blocking(_before: u64) {
        std::thread::sleep(Duration::from_millis(30));
    }

    pub fn no_reports() {}
}

macro_rules! tokio_tests {
    ($($name:ident),* $(,)?) => {
        mod current_thread {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::cases::$name().await;
                    crate::compat::no_reports();
                }
            )*
        }
        mod multi_thread {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::cases::$name().await;
                    crate::compat::no_reports();
                }
            )*
        }
    };
}

all_idioms!(tokio_tests);
