#[perf_runtime::test]
fn not_async() {}

fn main() {}
