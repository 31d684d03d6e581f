#!/usr/bin/env bash
# Model-checks the runtime's synchronisation protocols with loom: the task
# state machine (runtime/src/task/tests/loom_state.rs), the parker and the
# sleeper accounting (runtime/src/scheduler/tests/loom_*.rs), the timer
# driver's per-worker wheels and its driver_owner/next_wake handshake
# (runtime/src/time/loom_tests.rs), the sync
# primitives' protocols (runtime/src/sync/tests/loom_*.rs), and the
# validation engine's shared structures (validation/src/tests/loom_*.rs).
#
# Every loom test has "loom" in its path, so the filter below runs them all.
# Bounded to 2 preemptions per execution; the stage takes a few minutes on 2
# cores. A failing model prints the interleaving; re-run one test with
# LOOM_LOG=trace LOOM_LOCATION=1 to see it step by step.
set -euo pipefail
cd "$(dirname "$0")/.."

# The loom cfg changes every crate's flags: build it in its own target
# directory so it does not invalidate the normal build's cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"

RUSTFLAGS="--cfg perf_runtime_loom" LOOM_MAX_PREEMPTIONS=2 \
    timeout 1200 \
    cargo test -p perf-runtime --release --lib -- loom --test-threads=1

# The engine's models use their own cfg, hence their own target directory.
CARGO_TARGET_DIR="$CARGO_TARGET_DIR-validation" \
    RUSTFLAGS="--cfg perf_validation_loom" LOOM_MAX_PREEMPTIONS=2 \
    timeout 600 \
    cargo test -p perf-validation --release --lib -- loom --test-threads=1
