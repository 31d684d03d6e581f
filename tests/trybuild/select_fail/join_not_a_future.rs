#[perf_runtime::main]
async fn main() {
    let _ = perf_runtime::join!(async { 1 }, "two");
}
