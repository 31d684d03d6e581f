#[perf_runtime::main(flavor = "multi_threaded")]
async fn main() {}
