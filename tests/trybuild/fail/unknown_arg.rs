#[perf_runtime::main(workers = 2)]
async fn main() {}
