#!/usr/bin/env bash
# Runs the raw-task and scheduler-protocol unit tests under Miri: pointer
# casts between `Header` and `Cell<F, S>`, the hand-built waker, reference
# counting, stage and join-waker accesses (data races included, on the
# `threaded_*` tests), and the owned list's intrusive links; and the sync
# primitives' intrusive waiter lists (hand-polled cancellation sequences and
# small thread races, runtime/src/sync/tests/unit.rs).
#
# -Zmiri-strict-provenance: the task code never turns integers into pointers,
# and this keeps it so.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal --component miri
    rustup +nightly component add miri rust-src
fi
cargo +nightly miri setup

export MIRIFLAGS="-Zmiri-strict-provenance ${MIRIFLAGS:-}"
cargo +nightly miri test -p perf-runtime --lib task::
# The pick rule (scheduler::pick) and the worker-set sizing
# (multi_thread::spec) are arithmetic with no unsafe and no threads; under
# Miri they took 90-100 s a test, so plain `cargo test` alone runs them.
cargo +nightly miri test -p perf-runtime --lib scheduler:: -- \
    --skip scheduler::pick:: --skip scheduler::multi_thread::spec::
cargo +nightly miri test -p perf-runtime --lib sync::
# The channel gauges' type-erased pointers (read from another thread, and
# unregistered before the channel is freed).
cargo +nightly miri test -p perf-runtime --lib metrics::tests::channel_gauges
# The I/O driver's pure parts: the operation slot's ownership hand-off (data
# kept for the kernel is dropped exactly once), the readiness protocol, the
# owned-buffer impls. (The syscalls themselves cannot run under Miri.)
cargo +nightly miri test -p perf-runtime --lib io::driver::tests
# The direct CLOCK_MONOTONIC read behind the timers (time/clock.rs).
cargo +nightly miri test -p perf-runtime --lib time::tests::direct_clock
# The validation engine's unsafe parts: the per-task slot, remote release of
# held records, the chain cache.
cargo +nightly miri test -p perf-validation --lib -- tests::tasks tests::double_lock \
    tests::concurrency::guards_released tests::lock_order tests::channels tests::deadlock \
    tests::stall
# The slot protocol under real threads, with many schedules: a single seed
# can miss a data race (a relaxed load, found this way) that 16 seeds find
# in seconds.
MIRIFLAGS="$MIRIFLAGS -Zmiri-many-seeds=0..16" \
    cargo +nightly miri test -p perf-validation --lib -- tests::concurrency::slot_waits
