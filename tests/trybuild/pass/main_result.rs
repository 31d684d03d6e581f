// A `Result` return type: `?` converts errors as it did in the async fn,
// `return` leaves the body early, and attributes and doc comments stay.
use std::error::Error;

/// The program.
#[perf_runtime::main]
#[allow(unreachable_code)]
async fn main() -> Result<(), Box<dyn Error>> {
    let n: u32 = "5".parse()?;
    if n == 5 {
        return Ok(());
    }
    Err("not five".into())
}
