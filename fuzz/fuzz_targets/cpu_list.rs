//! CPU lists ("0-3,8,10-11"): cpuset files and the sysfs topology lists
//! (`online`, `node*/cpulist`, cache `shared_cpu_list`). Any text gives a
//! set or an error, never a panic (nor an allocation the size of a huge
//! number in the text).
#![no_main]
use libfuzzer_sys::fuzz_target;
use perf_runtime::topology::CpuSet;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(set) = CpuSet::parse_list(text) {
            // What a parsed set is used for must not panic either.
            let _ = set.len();
            let _ = set.iter().last();
        }
    }
});
