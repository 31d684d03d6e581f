#!/usr/bin/env bash
# Fuzzes the parsers of untrusted text with cargo-fuzz (libFuzzer + ASan):
#   cgroup_tree  the whole container detection over a file tree: mountinfo,
#                /proc/self/cgroup, cpu.max, cpu.cfs_*, cpuset lists, memory
#                files, memory.stat, cpu.stat, PSI, /proc/self/status, meminfo
#   psi          PSI lines
#   cpu_stat     cpu.stat throttling counters
#   sysfs_tree   the sysfs topology: online list, node cpulists and distances,
#                cache type, level and shared_cpu_list
#   cpu_list     CPU lists (cpusets and the sysfs topology lists)
#   resp         examples/kv's RESP parser and commands on untrusted bytes
# A parser never panics: garbage is an error naming the file. A crash leaves
# its input in fuzz/artifacts/<target>/; turn it into a fixture test (see
# runtime/src/container/tests/fixtures_bad.rs) before fixing the parser.
#
# FUZZ_SECONDS per target (default 45). Seeds live in fuzz/seeds/<target>;
# the working corpus grows in fuzz/corpus/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${FUZZ_SECONDS:-45}"
if ! cargo fuzz --version > /dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd fuzz
cargo +nightly fuzz build -O --debug-assertions
for t in cgroup_tree sysfs_tree psi cpu_stat cpu_list resp; do
    mkdir -p "corpus/$t"
    cp -n "seeds/$t"/* "corpus/$t/" 2> /dev/null || true
    echo "--- fuzzing $t for ${SECS}s"
    cargo +nightly fuzz run -O --debug-assertions "$t" "corpus/$t" -- \
        -max_total_time="$SECS" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1
done
