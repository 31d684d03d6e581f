#[perf_runtime::main]
async fn main() {
    perf_runtime::select! {
        v async { 1 } => v,
    };
}
