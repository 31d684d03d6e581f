// The attribute also fits a function that is not the entry point; it may
// then take arguments, which the body captures. Arguments in either order,
// an integer with a suffix.
#[perf_runtime::main(worker_threads = 1usize, flavor = "multi_thread")]
async fn run(name: String) -> usize {
    perf_runtime::spawn(async move { name.len() })
        .await
        .unwrap()
}

fn main() {
    assert_eq!(run("four".to_owned()), 4);
}
