//! The smallest perf_runtime program: start a runtime, spawn a task, print
//! what it returns.
//!
//! ```text
//! cargo run -p examples --example hello
//! cargo run -p examples --example hello -- --metrics 127.0.0.1:9464
//! ```

#[perf_runtime::main]
async fn main() {
    // `--metrics 127.0.0.1:9464` serves /metrics while the program runs.
    let _metrics = perf_runtime::metrics::serve_from_args().expect("--metrics ADDR");
    let answer = perf_runtime::spawn(async { 6 * 7 })
        .await
        .expect("the task panicked");
    println!("the answer is {answer}");
}
