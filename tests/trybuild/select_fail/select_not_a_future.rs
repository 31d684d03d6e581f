#[perf_runtime::main]
async fn main() {
    perf_runtime::select! {
        v = 5 => v,
    };
}
