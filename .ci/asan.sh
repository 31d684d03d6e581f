#!/usr/bin/env bash
# AddressSanitizer + LeakSanitizer over the code with the most `unsafe`: the
# task module (raw tasks, wakers, the owned list), the sync primitives
# (intrusive waiter lists), the validation engine's per-task slot, and the
# soak (every primitive and cancellation path on every runtime flavour).
#
# Nightly rustc, without -Zbuild-std: our crates and their dependencies are
# instrumented, std is not (rebuilding std doubles the stage's time; std's
# own unsafe is Miri-tested upstream). LeakSanitizer runs at exit of each
# test binary (detect_leaks=1 is ASan's default on Linux; set explicitly).
# `--target` keeps build scripts and proc macros uninstrumented.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/asan}"
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
TARGET=x86_64-unknown-linux-gnu
T=(cargo +nightly test --target "$TARGET")

# The instrumented build must really be instrumented, or this stage proves
# nothing: a deliberate leak and a use-after-free must be caught.
"${T[@]}" -p tests --test soak --no-run
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
cat > "$probe_dir/leak.rs" <<'RS'
fn main() {
    let v = Box::leak(Box::new([7u8; 4096]));
    println!("{}", v[1]);
    std::mem::forget(Vec::<u8>::with_capacity(1 << 16));
    let p = Box::into_raw(Box::new(1u64));
    // SAFETY: none: the probe leaks on purpose (LeakSanitizer must see it).
    let _ = unsafe { *p };
}
RS
rustc +nightly -Zsanitizer=address --target "$TARGET" -o "$probe_dir/leak" "$probe_dir/leak.rs"
if ASAN_OPTIONS=detect_leaks=1 "$probe_dir/leak" > /dev/null 2>&1; then
    echo "asan.sh: LeakSanitizer did not catch a deliberate leak; the stage is not checking" >&2
    exit 1
fi

"${T[@]}" -p perf-runtime --lib -- task:: sync:: util:: --test-threads=2
"${T[@]}" -p perf-validation --lib -- tests::tasks tests::concurrency --test-threads=2
# The soak, shorter than its own stage: ASan slows it ~3x. Its RSS check is
# off: ASan's quarantine keeps freed memory resident on purpose (the soak
# stage checks RSS without ASan).
"${T[@]}" -p tests --test soak -- --rounds 2 --scale 8 --no-rss-check
