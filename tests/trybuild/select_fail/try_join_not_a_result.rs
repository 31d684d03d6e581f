#[perf_runtime::main]
async fn main() {
    let _ = perf_runtime::try_join!(async { Ok::<u8, ()>(1) }, async { 2 });
}
