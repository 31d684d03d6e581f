#!/usr/bin/env bash
# What each echo / key-value server costs per request in user space, in
# instructions counted by valgrind (deterministic where wall-clock on the
# 2-vCPU benchmark VM is bound by the kernel's loopback path and scatters
# by ±20 %; this VM exposes no hardware counters, so `perf stat -e
# instructions:u` is not an option here).
#
#     benches/io_instructions.sh [echo] [kv]      # default: both
#
# Method. The server runs under `valgrind --tool=callgrind`, whose total
# ("summary:" of its output file) is the Ir of every thread of the server
# process, user space only (the kernel's work for a syscall is not
# counted; syscalls per request are `compare io`'s and perf stat's
# business). Start-up and shut-down (process, runtime, accepting the
# connections, the client's connect and close) cost the same whatever the
# number of requests, so every row runs twice, with LO and HI requests,
# each in a fresh server process, and
#     Ir per request = (Ir(HI) - Ir(LO)) / (HI - LO)
# counts only the requests: the runtime's I/O path, its scheduler's wakes
# and parks, and the service's own code (identical source on both sides).
#
# - echo: `compare __io-server KIND 0` (KIND perf-uring, perf-uring-owned,
#   perf-epoll, tokio; the servers of `compare io`), driven by `compare
#   __io-client` in its fixed-count mode (each of CONNS connections makes
#   exactly COUNT round trips of 1 KiB, closed loop), at 1, 16 and 64
#   connections. LO = ECHO_LO round trips per connection, HI = 3 LO.
# - kv: examples/kv built for perf_runtime (io_uring and, with
#   PERF_RUNTIME_IO=epoll, epoll) and for tokio (--features
#   tokio-baseline), as benches/services.sh builds it and pinned as it
#   pins it (server on CPU 0, client on CPU 1), driven by
#   `redis-benchmark -t get,set -c 50 -P P -n N` (P = 1 and 16); a request
#   is one GET or SET, so a run makes 2 N requests. LO N = KV_LO, HI = 3 LO.
#
# Under valgrind the server runs one thread at a time, ~50x slower, so the
# client (native) is nearly always waiting on it: a worker finds a request
# already there more often than natively and parks less. The figures are
# the cost of the runtime's code per request under that interleaving, the
# same for every runtime; the syscalls of parking are in them only as the
# user-space instructions around them. REPEAT=n (default 1) runs each
# measurement n times and takes the median of the per-request figures, and
# prints the spread (max/min).
#
# Known limit: valgrind 3.19 serialises threads on one lock, and a
# perf_runtime io_uring server with several connections can hang under it
# (a worker waiting in io_uring_enter while the thread that would wake it
# cannot run). A run that does not finish in TIMEOUT seconds, or a server
# that does not exit 30 s after its client, marks the row "n/a".
#
# Environment: ECHO_LO (default 2000), KV_LO (default 20000), REPEAT,
# CONNS (default "1 16 64"), KINDS (echo servers, default all four),
# SKIP_BUILD=1, KEEP=DIR (keep callgrind's
# output files, named ROW-KIND-LO|HI.out, for callgrind_annotate).
# Bounded in time: every client run has a timeout (TIMEOUT seconds,
# default 300), and a server that does not print its port in 60 s fails
# the row. With the defaults the whole script takes about 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

ECHO_LO=${ECHO_LO:-2000}
KV_LO=${KV_LO:-20000}
REPEAT=${REPEAT:-1}
CONNS=${CONNS:-1 16 64}
KINDS=${KINDS:-perf-uring perf-uring-owned perf-epoll tokio}
TIMEOUT=${TIMEOUT:-300}
WHAT=${*:-echo kv}

EXE=target/release/compare
KV=target/io-instructions
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release -q -p benches --bin compare
    if [[ " $WHAT " == *" kv "* ]]; then
        mkdir -p "$KV"
        cargo build --release -q -p kv
        cp target/release/kv "$KV/kv-perf"
        cargo build --release -q -p kv --features tokio-baseline
        cp target/release/kv "$KV/kv-tokio"
    fi
fi

OUT=${KEEP:-$(mktemp -d)}
mkdir -p "$OUT"
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null || true
    rm -rf "$work"
    [ -n "${KEEP:-}" ] || rm -rf "$OUT"
}
trap cleanup EXIT

# ir FILE: the total Ir of a callgrind output file.
ir() { awk '/^summary:/ {print $2}' "$1"; }

# wait_port LOG SED: waits until the server's log names its port, sets PORT.
wait_port() {
    for _ in $(seq 2400); do
        PORT=$(sed -n "$2" "$1" | head -1)
        [ -n "$PORT" ] && return
        sleep 0.025
    done
    echo "server did not start:" >&2
    cat "$1" "$1.vg" >&2
    exit 1
}

# echo_run KIND CONNS COUNT FILE: one callgrind run of the echo server.
echo_run() {
    rm -f "$work/in"
    mkfifo "$work/in"
    : > "$work/log"
    valgrind --tool=callgrind --callgrind-out-file="$4" \
        "$EXE" __io-server "$1" 0 < "$work/in" > "$work/log" 2> "$work/log.vg" &
    server_pid=$!
    # Holding the write end open keeps the server alive; closing it stops it.
    exec 3> "$work/in"
    wait_port "$work/log" 's/^\([0-9][0-9]*\)$/\1/p'
    local ok=0
    timeout "$TIMEOUT" "$EXE" __io-client "$PORT" "$2" 0 1 "$3" > /dev/null || ok=1
    exec 3>&-
    stop_server $ok
}

# stop_server OK: waits up to 10 s for the server to exit, then sends it
# SIGTERM (valgrind still writes its output on a fatal signal) and waits
# 20 s more, then kills it; fails unless OK is 0 and the server exited.
stop_server() {
    local ok=$1
    for i in $(seq 1200); do
        kill -0 "$server_pid" 2> /dev/null || break
        [ "$i" = 400 ] && kill -TERM "$server_pid" 2> /dev/null
        sleep 0.025
    done
    if kill -0 "$server_pid" 2> /dev/null; then
        kill -9 "$server_pid" 2> /dev/null || true
        ok=1
    fi
    wait "$server_pid" 2> /dev/null || true
    server_pid=
    return $ok
}

# kv_run BUILD P N FILE: one callgrind run of the kv server (BUILD perf,
# perf-epoll or tokio).
kv_run() {
    local bin=$KV/kv-${1%-epoll} env=()
    [ "$1" = perf-epoll ] && env=(PERF_RUNTIME_IO=epoll)
    : > "$work/log"
    env "${env[@]}" taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$4" \
        "$bin" --port 0 > "$work/log" 2> "$work/log.vg" &
    server_pid=$!
    wait_port "$work/log" 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p'
    local ok=0
    timeout "$TIMEOUT" taskset -c 1 redis-benchmark -p "$PORT" -t get,set -c 50 -P "$2" -n "$3" -q > /dev/null || ok=1
    # SIGINT: the service's ctrl_c shutdown, so valgrind writes its file.
    kill -INT "$server_pid"
    stop_server $ok
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# row NAME RUNNER ARGS...: REPEAT pairs of LO/HI runs; prints the median Ir
# per request and the spread. RUNNER is called as RUNNER ARGS... COUNT FILE;
# LO, HI (per-run counts) and PER (requests per count unit) are set by
# the caller.
row() {
    local name=$1 runner=$2 figs=()
    shift 2
    for r in $(seq "$REPEAT"); do
        if ! "$runner" "$@" "$LO" "$OUT/$name-lo.out" || ! "$runner" "$@" "$HI" "$OUT/$name-hi.out"; then
            printf '%-28s %10s\n' "$name" "n/a: a run hung or failed (see the header)"
            return 0
        fi
        figs+=("$(awk -v a="$(ir "$OUT/$name-lo.out")" -v b="$(ir "$OUT/$name-hi.out")" \
            -v d="$(((HI - LO) * PER))" 'BEGIN {printf "%.0f", (b - a) / d}')")
    done
    local med spread
    med=$(printf '%s\n' "${figs[@]}" | median)
    spread=$(printf '%s\n' "${figs[@]}" | awk 'NR == 1 || $1 < lo {lo = $1} NR == 1 || $1 > hi {hi = $1}
        END {printf "%.3f", hi / lo}')
    printf '%-28s %10s Ir/request  (spread %s over %s)\n' "$name" "$med" "$spread" "$REPEAT"
}

echo "user-space instructions per request (callgrind, HI minus LO runs); $(uname -r)"
if [[ " $WHAT " == *" echo "* ]]; then
    for c in $CONNS; do
        LO=$ECHO_LO HI=$((3 * ECHO_LO)) PER=$c
        for kind in $KINDS; do
            row "echo_${c}_$kind" echo_run "$kind" "$c"
        done
    done
fi
if [[ " $WHAT " == *" kv "* ]]; then
    for p in 1 16; do
        LO=$KV_LO HI=$((3 * KV_LO)) PER=2
        for build in perf perf-epoll tokio; do
            row "kv_P${p}_$build" kv_run "$build" "$p"
        done
    done
fi
