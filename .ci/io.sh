#!/usr/bin/env bash
# The I/O behaviour suite (tests/io_*.rs) once per backend: io_uring forced
# (the build fails, naming the reason, if this machine cannot run it), then
# epoll forced. The default run of `cargo test --workspace` already ran the
# suite with the backend the probe picks; io_fallback proves the probe's
# fallback under a seccomp filter.
set -euo pipefail
cd "$(dirname "$0")/.."

# `--workspace` keeps the feature set of the first stage's build (the tests
# crate turns on perf-runtime's hyper and futures-io features, and `-p
# tests` alone would rebuild the runtime without the benches' ones).

io_tests=()
for f in tests/io_*.rs; do
    io_tests+=(--test "$(basename "$f" .rs)")
done

for backend in uring epoll; do
    echo "--- I/O suite with PERF_RUNTIME_IO=$backend"
    PERF_RUNTIME_IO=$backend cargo test --workspace "${io_tests[@]}"
done

# Child exit through SIGCHLD instead of pidfd (kernels before 5.3, or
# seccomp profiles that block pidfd_open).
echo "--- process tests with PERF_RUNTIME_PROCESS_EXIT=sigchld"
PERF_RUNTIME_PROCESS_EXIT=sigchld cargo test --workspace --test io_process
