//! The porting suite: programs written once as a tokio user writes them
//! (`tokio::` paths, `#[tokio::main]`, `tokio::select!`), each compiled
//! twice into this binary from the same file and run on both runtimes:
//!
//! - `on_tokio::NAME` includes `programs/NAME.rs` as it is: `tokio` is the
//!   tokio crate.
//! - `on_perf::NAME` includes the same file after one line,
//!   `use ::perf_runtime as tokio;`: that line is the whole port.
//!
//! Each test runs a program on tokio, then on perf_runtime, and requires
//! the same lines from both; the programs print nothing that depends on
//! timing, so a difference is a behaviour difference. The tokio lines must
//! also match `programs/NAME.out`, which keeps the expected output readable
//! in review and catches a program that is not deterministic on tokio.
//! `PORTING_RECORD=1 cargo test -p tests --test porting_suite` rewrites the
//! `.out` files from tokio's run.
//!
//! perf_runtime runs in its default validation mode (`Report`), as a ported
//! service would: a run that leaves a validation report fails, since the
//! programs are correct tokio code. The runs are serialized, so each
//! program's reports are its own.
//!
//! `.ci/run` runs this binary again with each I/O backend forced
//! (`PERF_RUNTIME_IO=uring`, then `epoll`); `cargo test --workspace` runs
//! it with the backend the probe picks.

/// Each program twice from its one file — as written (against tokio), and
/// after `use ::perf_runtime as tokio;` — and a test that runs both.
macro_rules! programs {
    ($($name:ident),* $(,)?) => {
        mod on_tokio {
            $(pub mod $name {
                include!(concat!("programs/", stringify!($name), ".rs"));
            })*
        }
        mod on_perf {
            $(pub mod $name {
                use ::perf_runtime as tokio;
                include!(concat!("programs/", stringify!($name), ".rs"));
            })*
        }
        $(
            #[test]
            fn $name() {
                check(stringify!($name), on_tokio::$name::run, on_perf::$name::run);
            }
        )*
    };
}

programs!(
    worker_pool,
    pubsub,
    rate_limiter,
    cache,
    shutdown,
    tcp_echo,
    udp_ping,
    unix_proxy,
    runtime_builder,
    listener_restart,
);

/// One program at a time: validation reports are process-wide, and each
/// run's must be attributed to it.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `name` on both runtimes and compares: perf_runtime with tokio, then
/// tokio with the recorded `.out`.
fn check(name: &str, on_tokio: fn() -> Vec<String>, on_perf: fn() -> Vec<String>) {
    let (tokio_lines, perf_lines, reports) = {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        perf_runtime::validation::take_reports();
        let tokio_lines = on_tokio();
        let perf_lines = on_perf();
        (
            tokio_lines,
            perf_lines,
            perf_runtime::validation::take_reports(),
        )
    };
    assert!(
        reports.is_empty(),
        "{name}: perf_runtime raised validation reports on correct tokio code:\n{}",
        reports
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        perf_lines, tokio_lines,
        "{name}: perf_runtime's output (left) differs from tokio's (right)"
    );

    let path = format!("{}/porting/programs/{name}.out", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("PORTING_RECORD").is_some() {
        let mut text = tokio_lines.join("\n");
        text.push('\n');
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(
        tokio_lines, want,
        "{name}: tokio's output (left) differs from {path} (right): the program is not \
         deterministic, or tokio's behaviour changed; re-record with PORTING_RECORD=1 \
         once the cause is understood"
    );
}
