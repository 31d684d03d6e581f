#[perf_runtime::main]
async fn main() {
    perf_runtime::select! {
        a = async { 1 } => a
        b = async { 2 } => b,
    };
}
