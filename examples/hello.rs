//! The smallest perf_runtime program: start a runtime, spawn a task, print
//! what it returns.
//!
//! ```text
//! cargo run -p examples --example hello
//! ```

#[perf_runtime::main]
async fn main() {
    let answer = perf_runtime::spawn(async { 6 * 7 })
        .await
        .expect("the task panicked");
    println!("the answer is {answer}");
}
