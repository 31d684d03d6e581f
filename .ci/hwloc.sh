#!/usr/bin/env bash
# The `hwloc` feature: the topology read through libhwloc must agree with the
# sysfs reader. Needs Debian's libhwloc-dev, and libudev-dev because
# hwlocality-sys links hwloc statically through pkg-config and hwloc's
# Libs.private names -ludev.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s libhwloc-dev libudev-dev pkg-config >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libhwloc-dev libudev-dev pkg-config
fi

cargo test -p perf-runtime --features hwloc --lib topology::
cargo clippy -p perf-runtime --features hwloc --all-targets -- -D warnings
