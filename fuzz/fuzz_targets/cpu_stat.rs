//! `cpu.stat` (v1 and v2 throttling counters): any text gives a value or an
//! error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use perf_runtime::container::Throttling;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Throttling::parse_cpu_stat(text);
    }
});
