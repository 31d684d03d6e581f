#[perf_runtime::main(flavor)]
async fn main() {}
