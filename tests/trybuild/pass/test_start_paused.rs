#[perf_runtime::test(start_paused = true)]
async fn an_hour_passes_at_once() {
    // Imported here: outside `cfg(test)` (how trybuild builds this file) the
    // test function is compiled out, and a file-level `use` would warn.
    use perf_runtime::time::{self, Duration, Instant};
    let start = Instant::now();
    time::sleep(Duration::from_secs(3600)).await;
    assert!(start.elapsed() >= Duration::from_secs(3600));
}

fn main() {}
