// `current_thread` runs the body on the thread that called `main`.
#[perf_runtime::main(flavor = "current_thread")]
async fn main() {
    let answer = perf_runtime::spawn(async { 6 * 7 }).await.unwrap();
    assert_eq!(answer, 42);
}
