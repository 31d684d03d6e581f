#[perf_runtime::main(start_paused = true)]
async fn main() {}
