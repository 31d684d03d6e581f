#[perf_runtime::main]
async fn main() {
    perf_runtime::select! {
        _ = async {} => (),
        biased;
        _ = async {} => (),
    }
}
