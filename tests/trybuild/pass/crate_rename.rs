// `crate = "..."` points the expansion at a renamed or re-exported runtime;
// `::perf_runtime` is still reachable here, so the shim counts its use.
mod shim {
    pub use perf_runtime::spawn;

    pub static BUILT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    pub mod runtime {
        pub struct Builder(perf_runtime::runtime::Builder);

        impl Builder {
            pub fn new_current_thread() -> Self {
                super::BUILT.store(true, std::sync::atomic::Ordering::Relaxed);
                Self(perf_runtime::runtime::Builder::new_current_thread())
            }

            pub fn enable_all(&mut self) -> &mut Self {
                self.0.enable_all();
                self
            }

            pub fn build(&mut self) -> std::io::Result<perf_runtime::runtime::Runtime> {
                self.0.build()
            }
        }
    }
}

use perf_runtime as rt;

#[rt::main(crate = "rt", flavor = "current_thread")]
async fn renamed() -> u32 {
    rt::spawn(async { 7 }).await.unwrap()
}

#[rt::main(crate = "crate::shim", flavor = "current_thread")]
async fn shimmed() -> u32 {
    shim::spawn(async { 7 }).await.unwrap()
}

fn main() {
    assert_eq!(renamed(), 7);
    assert!(!shim::BUILT.load(std::sync::atomic::Ordering::Relaxed));
    assert_eq!(shimmed(), 7);
    assert!(shim::BUILT.load(std::sync::atomic::Ordering::Relaxed));
}
