#!/usr/bin/env bash
# examples/kv answers as Redis does: every command in
# examples/kv/ci/commands.txt is sent with redis-cli to a real Redis server
# and to kv (the perf_runtime build, then the tokio build), and the answers
# must be identical. Then pub/sub through redis-cli, INFO's runtime section,
# and a short redis-benchmark run that must finish without errors.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server > /dev/null || ! command -v redis-cli > /dev/null; then
    apt-get install -y redis-server redis-tools > /dev/null
fi

cargo build -p kv
mkdir -p target/kv-ci
cp target/debug/kv target/kv-ci/kv-perf
cargo build -p kv --features tokio-baseline
cp target/debug/kv target/kv-ci/kv-tokio

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

redis_port=6391
# kv has one database, and keeps nothing on disk: so is the reference.
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --databases 1 \
    --daemonize no > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break
    sleep 0.05
done

# Starts a kv binary on a free port; sets KV_PORT.
start_kv() {
    local bin=$1 log=$2
    "$bin" --port 0 > "$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 200); do
        if grep -q "kv listening on" "$log"; then
            KV_PORT=$(sed -n 's/^kv listening on [0-9.]*:\([0-9]*\) .*/\1/p' "$log")
            return
        fi
        sleep 0.05
    done
    echo "kv did not start:" >&2
    cat "$log" >&2
    exit 1
}

# Runs every command of the list against `port`, one redis-cli per line.
run_list() {
    local port=$1
    redis-cli -p "$port" flushall > /dev/null
    grep -v '^#' examples/kv/ci/commands.txt | while IFS= read -r line; do
        [ -z "$line" ] && continue
        printf '> %s\n' "$line"
        eval "redis-cli -p $port $line" 2>&1 || true
    done
}

run_list "$redis_port" > "$work/redis.out"
failed=0
for build in perf tokio; do
    start_kv "target/kv-ci/kv-$build" "$work/kv-$build.log"
    port=$KV_PORT
    run_list "$port" > "$work/kv-$build.out"
    if ! diff -u "$work/redis.out" "$work/kv-$build.out"; then
        echo "kv ($build build) answered differently from Redis (- Redis, + kv)"
        failed=1
    fi

    # Pub/sub: a subscriber sees what is published; PUBLISH counts it.
    timeout 10 redis-cli -p "$port" subscribe news > "$work/sub-$build.out" &
    sub=$!
    for _ in $(seq 200); do
        [ "$(redis-cli -p "$port" publish news ping)" = "1" ] && break
        sleep 0.05
    done
    redis-cli -p "$port" publish news "hello subscribers" > /dev/null
    for _ in $(seq 200); do
        grep -q "hello subscribers" "$work/sub-$build.out" && break
        sleep 0.05
    done
    kill "$sub" 2> /dev/null || true
    if ! grep -q "hello subscribers" "$work/sub-$build.out"; then
        echo "kv ($build build): the subscriber did not receive the message"
        cat "$work/sub-$build.out"
        failed=1
    fi

    # INFO names the runtime it runs on.
    runtime=$(redis-cli -p "$port" info | tr -d '\r' | sed -n 's/^kv_runtime://p')
    want=$([ "$build" = perf ] && echo perf_runtime || echo tokio)
    if [ "$runtime" != "$want" ]; then
        echo "kv ($build build): INFO says kv_runtime:$runtime, expected $want"
        failed=1
    fi

    # A short redis-benchmark run: every request answered, no errors.
    if ! redis-benchmark -p "$port" -t get,set -c 20 -n 20000 -P 4 -q --csv > "$work/bench-$build.out" 2>&1 ||
        grep -qiE "error|warning" "$work/bench-$build.out"; then
        echo "kv ($build build): redis-benchmark failed"
        cat "$work/bench-$build.out"
        failed=1
    fi
    cat "$work/bench-$build.out"
done
exit "$failed"
