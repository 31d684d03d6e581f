// `#[perf_runtime::test]` in a file that is not a test target: the tests
// are cfg'd out, so this checks that every form of the attribute expands.
#[perf_runtime::test]
async fn default_flavor() {}

#[perf_runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread() {}

#[perf_runtime::test]
#[should_panic(expected = "boom")]
async fn keeps_attributes() {
    panic!("boom");
}

#[perf_runtime::test]
async fn returns_result() -> Result<(), std::num::ParseIntError> {
    let _n: u32 = "5".parse()?;
    Ok(())
}

fn main() {}
