#[perf_runtime::main]
fn main() {}
