use perf_runtime::time::{self, Duration, Instant};

#[perf_runtime::test(start_paused = true)]
async fn an_hour_passes_at_once() {
    let start = Instant::now();
    time::sleep(Duration::from_secs(3600)).await;
    assert!(start.elapsed() >= Duration::from_secs(3600));
}

fn main() {}
