#!/usr/bin/env bash
# The ported services, each built twice from the same source (perf_runtime,
# and tokio with --features tokio-baseline), driven by clients nobody here
# wrote: redis-benchmark (Debian's redis-tools) against examples/kv, wrk
# (Debian's wrk) against examples/http.
#
#   bash benches/services.sh            # the full run (about 8 minutes)
#   SERVICES_QUICK=1 bash benches/services.sh   # a smoke run (CI)
#   ROUNDS=5 bash benches/services.sh   # more rounds per row
#   SERVICES_ROWS=http bash benches/services.sh  # only some rows: any of
#       kv, http_plain, http_latency_under_batch, validation (space-separated;
#       http means both http rows); default: all
#
# Server pinned to the first allowed CPU, client to the second. Rows
# alternate the builds (perf, tokio, tokio, perf, ...) and report medians
# over the rounds. Prints a table, then one JSON object per row: bench,
# perf_rps, tokio_rps, ratio_rps, perf_p99_ns, tokio_p99_ns, ratio_p99.
# Then the cost of validation (perf_runtime in Report vs Off mode), and the
# validation reports the services raised under load (there must be none).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-benchmark > /dev/null || need+=(redis-tools)
command -v wrk > /dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y "${need[@]}" > /dev/null
fi

quick=${SERVICES_QUICK:-0}
rows=" ${SERVICES_ROWS:-kv http validation} "
rows=${rows/ http / http_plain http_latency_under_batch }
# want ROW: whether ROW was asked for.
want() { [[ "$rows" == *" $1 "* ]]; }
rounds=${ROUNDS:-3}
if [ "$quick" = 1 ]; then
    kv_n=20000
    wrk_secs=3
    rounds=1
else
    kv_n=200000
    wrk_secs=20
fi

cpus=$(taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' | while IFS=- read -r a b; do seq "$a" "${b:-$a}"; done)
server_cpu=$(echo "$cpus" | sed -n 1p)
client_cpu=$(echo "$cpus" | sed -n 2p)
client_cpu=${client_cpu:-$server_cpu}

out=target/services
mkdir -p "$out"
pkgs=()
want kv && pkgs+=(kv)
{ want http_plain || want http_latency_under_batch; } && pkgs+=(http-service)
want validation && pkgs=(kv http-service)
for pkg in "${pkgs[@]}"; do
    cargo build --release -q -p "$pkg"
    cp "target/release/$pkg" "$out/$pkg-perf"
    cargo build --release -q -p "$pkg" --features tokio-baseline
    cp "target/release/$pkg" "$out/$pkg-tokio"
done

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# start BIN ARGS...: starts a server pinned to the server CPU, sets PORT.
start() {
    # A new log per server: the old one may still name the previous port.
    local log
    log=$(mktemp "$work/server.XXXX")
    taskset -c "$server_cpu" "$@" > "$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 400); do
        PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$PORT" ] && return
        sleep 0.025
    done
    echo "server $* did not start:" >&2
    cat "$log" >&2
    exit 1
}

stop() {
    kill "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
    server_pid=
}

# The validation reports a running kv has raised.
kv_violations() {
    timeout 10 redis-cli -p "$PORT" info | tr -d '\r' | sed -n 's/^validation_violations://p'
}

# kv_run BUILD PIPELINE: "<set rps> <set p99 ns> <get rps> <get p99 ns>".
kv_run() {
    start "$out/kv-$1" --port 0
    timeout 600 taskset -c "$client_cpu" redis-benchmark -p "$PORT" -t set,get -c 50 -n "$kv_n" -P "$2" --csv \
        > "$work/bench.csv" 2> "$work/bench.err" || {
        cat "$work/bench.err" >&2
        exit 1
    }
    if [ "$1" = perf ]; then
        v=$(kv_violations)
        [ "${v:-0}" = 0 ] || echo "kv raised $v validation reports under load" >&2
    fi
    stop
    awk -F'","' '/^"SET"/ {s=$2; sp=$7} /^"GET"/ {g=$2; gp=$7}
        END {printf "%s %d %s %d\n", s, sp * 1e6, g, gp * 1e6}' "$work/bench.csv"
}

# wrk_parse FILE: "<rps> <p99 ns>".
wrk_parse() {
    awk '
        function ns(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) * 1e3
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) * 1e6
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1e9
            return v
        }
        /^Requests\/sec:/ {rps = $2}
        $1 == "99%" {p99 = ns($2)}
        END {printf "%s %d\n", rps, p99}' "$1"
}

# http_run BUILD MODE: MODE plain, or mixed (a second wrk on /batch while
# / is measured). Prints "<rps> <p99 ns>" for /.
http_run() {
    start env HTTP_ADDR=127.0.0.1:0 "$out/http-service-$1"
    local hog=
    if [ "$2" = mixed ]; then
        timeout 120 taskset -c "$client_cpu" wrk -t1 -c8 -d"$((wrk_secs + 2))s" \
            "http://127.0.0.1:$PORT/batch?n=200000" > /dev/null 2>&1 &
        hog=$!
    fi
    local conns=64
    [ "$2" = mixed ] && conns=16
    timeout 120 taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${wrk_secs}s" --latency "http://127.0.0.1:$PORT/" \
        > "$work/wrk.out" 2>&1
    [ -n "$hog" ] && { kill "$hog" 2> /dev/null || true; wait "$hog" 2> /dev/null || true; }
    stop
    wrk_parse "$work/wrk.out"
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# One row's samples: "<bench> <build> <rps> <p99>" lines in $work/samples.
: > "$work/samples"
record() { echo "$1 $2 $3 $4" >> "$work/samples"; }

for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then order="perf tokio"; else order="tokio perf"; fi
    for b in $order; do
        if want kv; then
            for p in 1 16; do
                read -r s sp g gp <<< "$(kv_run "$b" "$p")"
                record "kv_set_P$p" "$b" "$s" "$sp"
                record "kv_get_P$p" "$b" "$g" "$gp"
            done
        fi
        if want http_plain; then
            read -r rps p99 <<< "$(http_run "$b" plain)"
            record http_plain "$b" "$rps" "$p99"
        fi
        if want http_latency_under_batch; then
            read -r rps p99 <<< "$(http_run "$b" mixed)"
            record http_latency_under_batch "$b" "$rps" "$p99"
        fi
    done
    want validation || continue
    # Validation's cost: the perf build with validation Off (Report is the
    # default, measured above).
    read -r s sp g gp <<< "$(PERF_RUNTIME_VALIDATION=off kv_run perf 16)"
    record kv_get_P16 perf-off "$g" "$gp"
    read -r rps p99 <<< "$(PERF_RUNTIME_VALIDATION=off http_run perf plain)"
    record http_plain perf-off "$rps" "$p99"
done

# Every run, for reports that give each one.
cp "$work/samples" "$out/samples.txt"

med() { awk -v b="$1" -v k="$2" -v f="$3" '$1 == b && $2 == k {print $f}' "$work/samples" | median; }

echo
echo "services on $(uname -r), $(nproc) CPUs; server on CPU $server_cpu, client on CPU $client_cpu;"
echo "medians of $rounds rounds (builds alternated); p99 from the client (redis-benchmark, wrk --latency)"
printf '%-26s %12s %12s %8s %12s %12s %8s\n' bench "perf rps" "tokio rps" ratio "perf p99" "tokio p99" ratio
json=()
for bench in kv_set_P1 kv_get_P1 kv_set_P16 kv_get_P16 http_plain http_latency_under_batch; do
    case $bench in kv_*) want kv || continue ;; *) want "$bench" || continue ;; esac
    pr=$(med "$bench" perf 3)
    tr=$(med "$bench" tokio 3)
    pp=$(med "$bench" perf 4)
    tp=$(med "$bench" tokio 4)
    line=$(awk -v b="$bench" -v pr="$pr" -v tr="$tr" -v pp="$pp" -v tp="$tp" 'BEGIN {
        printf "%-26s %12.0f %12.0f %7.3fx %10.1fus %10.1fus %7.3fx", b, pr, tr, pr / tr, pp / 1e3, tp / 1e3, pp / tp }')
    echo "$line"
    json+=("$(awk -v b="$bench" -v pr="$pr" -v tr="$tr" -v pp="$pp" -v tp="$tp" 'BEGIN {
        printf "{\"bench\":\"%s\",\"perf_rps\":%.0f,\"tokio_rps\":%.0f,\"ratio_rps\":%.4f,\"perf_p99_ns\":%.0f,\"tokio_p99_ns\":%.0f,\"ratio_p99\":%.4f}", b, pr, tr, pr / tr, pp, tp, pp / tp }')")
done
want validation || { printf '%s\n' "${json[@]}"; exit 0; }
echo
echo "validation's cost on perf_runtime (Report, the default, vs Off; requests/s):"
for bench in kv_get_P16 http_plain; do
    on=$(med "$bench" perf 3)
    off=$(med "$bench" perf-off 3)
    awk -v b="$bench" -v on="$on" -v off="$off" 'BEGIN {
        printf "  %-24s report %10.0f  off %10.0f  report/off %.3f\n", b, on, off, on / off }'
done
echo
printf '%s\n' "${json[@]}"
