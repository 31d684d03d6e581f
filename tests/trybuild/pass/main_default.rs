// The plain attribute: a multi-thread runtime, no return value.
#[perf_runtime::main]
async fn main() {
    let answer = perf_runtime::spawn(async { 6 * 7 }).await.unwrap();
    assert_eq!(answer, 42);
}
