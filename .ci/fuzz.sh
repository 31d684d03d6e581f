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
# FUZZ_SECONDS per target (default 45), FUZZ_JOBS targets at a time (default 2). Seeds live in fuzz/seeds/<target>;
# the working corpus grows in fuzz/corpus/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${FUZZ_SECONDS:-45}"
if ! cargo fuzz --version > /dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd fuzz
cargo +nightly fuzz build -O --debug-assertions
# Two targets at a time, one per core: each still gets SECS of fuzzing, and
# the stage takes half the wall time. A target's output goes to its log,
# printed when it ends; any failing target fails the stage.
run_target() {
    local t="$1"
    mkdir -p "corpus/$t"
    cp -n "seeds/$t"/* "corpus/$t/" 2> /dev/null || true
    cargo +nightly fuzz run -O --debug-assertions "$t" "corpus/$t" -- \
        -max_total_time="$SECS" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 \
        > "/tmp/fuzz-$t.log" 2>&1
}
JOBS="${FUZZ_JOBS:-2}"
failed=()
targets=(cgroup_tree sysfs_tree psi cpu_stat cpu_list resp)
for ((i = 0; i < ${#targets[@]}; i += JOBS)); do
    pids=()
    batch=("${targets[@]:i:JOBS}")
    for t in "${batch[@]}"; do
        echo "--- fuzzing $t for ${SECS}s"
        run_target "$t" &
        pids+=($!)
    done
    for k in "${!batch[@]}"; do
        t="${batch[$k]}"
        echo "--- $t:"
        if wait "${pids[$k]}"; then
            tail -n 25 "/tmp/fuzz-$t.log"
        else
            failed+=("$t")
            cat "/tmp/fuzz-$t.log"
        fi
    done
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/<target>/; full logs in /tmp/fuzz-<target>.log)"
    exit 1
fi
