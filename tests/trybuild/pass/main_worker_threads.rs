// `worker_threads` with the explicit multi-thread flavor.
#[perf_runtime::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let answer = perf_runtime::spawn(async { 6 * 7 }).await.unwrap();
    assert_eq!(answer, 42);
}
