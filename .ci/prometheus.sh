#!/usr/bin/env bash
# A real Prometheus server (Debian's package) scrapes a test runtime every
# second; the test queries its HTTP API for a counter, a gauge and a
# histogram_quantile and checks them against what the runtime did. The
# exposition also goes through promtool's text-format parser and linter, and
# the test renders the /debug/locks graph (with a deadlock drawn in red) and
# the deadlock's own DOT with Graphviz. Bounded: each step has a timeout; ~1 minute
# after the build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v dot >/dev/null || need+=(graphviz)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
prometheus --version 2>&1 | head -1

cargo test -p tests --test metrics_prometheus --test metrics_endpoint --no-run

dump=$(mktemp -d)
trap 'rm -rf "$dump"' EXIT
export PERF_RUNTIME_METRICS_DUMP_DIR=$dump

PERF_RUNTIME_REQUIRE_PROMETHEUS=1 timeout 120 \
    cargo test -p tests --test metrics_prometheus -- --nocapture
# Renders /debug/locks and the deadlock's Violation::to_dot with `dot`.
PERF_RUNTIME_REQUIRE_GRAPHVIZ=1 timeout 60 \
    cargo test -p tests --test metrics_endpoint debug_locks -- --nocapture

echo "promtool check metrics (text format 0.0.4):"
promtool check metrics < "$dump/metrics.txt"
grep -q '^# EOF$' "$dump/metrics.om"

for f in locks violation; do
    [ -s "$dump/$f.dot" ] || { echo "no $f.dot was written" >&2; exit 1; }
done
grep -q 'color=red' "$dump/locks.dot"
grep -q 'color=red' "$dump/violation.dot"
