#!/usr/bin/env bash
# examples/http (package http-service) on both builds: its self-test (a
# hyper client measuring / while batch jobs run), then curl against each
# endpoint, checking status and body.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v curl > /dev/null || apt-get install -y curl > /dev/null

mkdir -p target/http-ci
cargo build -p http-service
cp target/debug/http-service target/http-ci/http-perf
cargo build -p http-service --features tokio-baseline
cp target/debug/http-service target/http-ci/http-tokio

work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# expect URL STATUS BODY-SUBSTRING
expect() {
    local got status
    got=$(curl -s -w '\n%{http_code}' "$1")
    status=$(tail -1 <<< "$got")
    if [ "$status" != "$2" ] || ! grep -qF -- "$3" <<< "$got"; then
        echo "GET $1: wanted $2 with '$3', got $status: $got"
        return 1
    fi
}

# start BINARY [ENV=VALUE...]: runs the service on a free port, sets $pid
# and $base.
start() {
    local bin=$1
    shift
    env HTTP_ADDR=127.0.0.1:0 "$@" "$bin" > "$work/log" 2>&1 &
    pid=$!
    port=
    for _ in $(seq 200); do
        port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { cat "$work/log"; exit 1; }
    base="http://127.0.0.1:$port"
}

for build in perf tokio; do
    timeout 120 "target/http-ci/http-$build" --self-test
    start "target/http-ci/http-$build"
    expect "$base/" 200 "ok"
    expect "$base/batch?n=100" 200 "25 primes below 100"
    expect "$base/batch?n=lots" 400 "not a whole number"
    expect "$base/batch?n=99999999999" 400 "above the limit"
    expect "$base/batch" 400 "missing n"
    expect "$base/nowhere" 404 "try GET /"
    # /metrics: the Prometheus text format, with the content type
    # Prometheus accepts, counting the Critical connection tasks served.
    if [ "$build" = perf ]; then
        expect "$base/metrics" 200 'perf_runtime_tasks_spawned_total{qos="critical"}'
    else
        expect "$base/metrics" 200 "tokio_workers"
    fi
    ctype=$(curl -s -o /dev/null -w '%{content_type}' "$base/metrics")
    [ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] || {
        echo "GET $base/metrics: content type '$ctype'"
        exit 1
    }
    kill "$pid"
    wait "$pid" 2> /dev/null || true
    pid=
    echo "http-service ($build build): self-test and curl checks passed"
done

# The resource policy: the Kubernetes example's policy admits batch jobs; a
# policy that allows no Batch task makes /batch answer 503 (shed).
start target/http-ci/http-perf PERF_RUNTIME_POLICY=examples/kubernetes/policy.toml
expect "$base/batch?n=100" 200 "25 primes below 100"
kill "$pid"
wait "$pid" 2> /dev/null || true
printf '[class.batch]\nmax_tasks = 0\n' > "$work/shed.toml"
start target/http-ci/http-perf "PERF_RUNTIME_POLICY=$work/shed.toml"
expect "$base/" 200 "ok"
expect "$base/batch?n=100" 503 "batch work is shed: overloaded: high violation on tasks.batch"
kill "$pid"
wait "$pid" 2> /dev/null || true
pid=
echo "http-service (perf build): the resource policy sheds /batch with 503"
