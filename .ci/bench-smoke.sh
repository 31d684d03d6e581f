#!/usr/bin/env bash
# A smoke run of `compare -- io` (debug build, one short round): the echo
# and HTTP benchmarks still start their servers and load generators and
# print every row. Figures from this run mean nothing (debug build, CI
# machine); benches/README.md says how the real ones are taken.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
out=$(timeout 300 cargo run -q -p benches --bin compare -- io --json --rounds 1 --ms 300 --conns 2)
echo "$out"
for row in echo_2_uring echo_2_uring_owned echo_2_epoll http_64_uring http_64_epoll; do
    grep -q "\"bench\":\"$row\"" <<<"$out" || { echo "compare io printed no $row row"; exit 1; }
done
