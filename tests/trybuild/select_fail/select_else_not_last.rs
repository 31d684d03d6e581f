#[perf_runtime::main]
async fn main() {
    perf_runtime::select! {
        else => (),
        _ = async {} => (),
    }
}
