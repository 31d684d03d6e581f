const THREADS: usize = 2;

#[perf_runtime::main(worker_threads = THREADS)]
async fn main() {}

#[perf_runtime::test(flavor = "multi_thread", worker_threads = "2")]
async fn string() {}
