//! PSI files (`cpu.pressure`, `memory.pressure`, `/proc/pressure/*`): any
//! text gives a value or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use perf_runtime::container::Psi;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Psi::parse(text);
    }
});
