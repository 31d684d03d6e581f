fn main() {
    perf_runtime::select! {
        _ = async {} => (),
    }
}
