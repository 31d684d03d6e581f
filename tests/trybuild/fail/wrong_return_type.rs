// A type error in the body is rustc's to report, once, against the declared
// return type, as it would be for a plain `fn`.
#[perf_runtime::main]
async fn main() -> Result<(), String> {
    42
}

// The same for an early `return`: the error is at the value, not at the
// attribute or the end of the body.
#[perf_runtime::main]
async fn helper() -> Result<(), String> {
    if std::env::args().count() > 1 {
        return Err(5);
    }
    Ok(())
}
