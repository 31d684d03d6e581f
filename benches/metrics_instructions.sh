#!/usr/bin/env bash
# Metrics gathering on vs off, in instructions: what gathering costs per
# sample of every `compare scheduler` and `compare sync` row, counted by
# valgrind (deterministic to well under 1 % where wall-clock on the
# benchmark VM scatters by ±20 %).
#
#     benches/metrics_instructions.sh [ROW...]
#
# Builds `compare` twice from this tree: "on" (the normal build, in
# target/release) and "off" (RUSTFLAGS="--cfg perf_runtime_no_metrics", in
# target/no-metrics: gathering compiled out, see perf_runtime::metrics,
# "Turning gathering off"). ROWs (default: every scheduler and sync row)
# are workload names of either suite.
#
# Method. Each row runs perf_runtime alone (`--perf-only`: no tokio
# runtime, whose instructions would dilute the ratio) under
# `valgrind --tool=callgrind`, whose "Collected" figure is the Ir total of
# every thread of the process. Startup and teardown (process, runtime
# build and drop, warm-up) are the same at any sample count, so each row
# runs twice per build, with LO and HI measured samples (same warm-up), and
#     Ir per sample = (Ir(HI) - Ir(LO)) / (HI - LO)
# counts only the measured samples: the workload itself, the workers'
# searching and parking around it, and the 2 ms settle pause before each
# sample (parked workers: a few syscalls). The table gives that figure for
# both builds and on/off. Valgrind runs one thread at a time, so how long
# an idle worker searches before it parks may differ run to run: REPEAT=n
# (default 1) runs every measurement n times and takes the median, and
# prints the spread (max/min of the n per-sample figures) so that noise
# can be read against the 3 % target.
#
# Instructions miss one cost: a clock read is a few dozen instructions but
# 100-500 ns on the benchmark VM (it traps), so the table also gives the
# clock reads per sample of each build (calls of glibc's clock_gettime,
# counted by callgrind the same way: HI run minus LO run), for pricing the
# sampled timing that gathering does. The price: "+clk" is on minus off
# reads per sample, and "clk cost" those reads times the cost of one read
# over the wall-clock time of one sample of the off build. A read's cost is
# measured here, first, by `compare clock_cost` (the median of 7 timed
# batches of 100 000 `Instant::now()`, i.e. clock_gettime(CLOCK_MONOTONIC)
# through the vDSO; printed above the table), or given as CLOCK_NS (e.g.
# CLOCK_NS=300 to price for a VM whose TSC reads trap). A sample's time is
# the median of WALL_SAMPLES native (not valgrind) samples of the off
# build, `--perf-only` (for sync rows: ns per op times the row's ops);
# wall-clock, so as noisy as this machine is, but it only scales the
# estimate.
#
# Environment: LO (default 2), HI (default 6), WARMUP (default 1), REPEAT,
# SKIP_BUILD=1 (use the binaries as they are), KEEP=DIR (keep callgrind's
# output files there, for callgrind_annotate; by default they are deleted),
# CLOCK_NS, WALL_SAMPLES (default 5), FAIR_SCHED=1 (run valgrind with
# --fair-sched=yes: threads take turns in a fixed order on a ticket lock
# rather than by whoever grabs valgrind's lock, which may make the
# contended rows' counts repeat better; see the report of the commit that
# added it for whether it did).
set -euo pipefail

cd "$(dirname "$0")/.."
LO=${LO:-2}
HI=${HI:-6}
WARMUP=${WARMUP:-1}
REPEAT=${REPEAT:-1}
WALL_SAMPLES=${WALL_SAMPLES:-5}
FAIR=()
[ -z "${FAIR_SCHED:-}" ] || FAIR=(--fair-sched=yes)
SCHED_ROWS="spawn_many_local spawn_many_remote_idle spawn_many_remote_busy ping_pong yield_many chained_spawn"
SYNC_ROWS="mutex_uncontended mutex_contended rwlock_read_heavy semaphore mpsc_bounded_1p mpsc_bounded_4p oneshot_round_trip"
ROWS=${*:-$SCHED_ROWS $SYNC_ROWS}

ON=target/release/compare
OFF=target/no-metrics/release/compare
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release -q -p benches --bin compare
    RUSTFLAGS="--cfg perf_runtime_no_metrics" CARGO_TARGET_DIR=target/no-metrics \
        cargo build --release -q -p benches --bin compare
fi

OUT=${KEEP:-$(mktemp -d)}
mkdir -p "$OUT"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$OUT"' EXIT

suite_of() {
    case " $SCHED_ROWS " in *" $1 "*) echo scheduler; return ;; esac
    case " $SYNC_ROWS " in *" $1 "*) echo sync; return ;; esac
    echo "metrics_instructions.sh: unknown row $1" >&2
    exit 2
}

# ir BUILD EXE ROW SAMPLES K: the Ir total of one run, and its calls of
# clock_gettime.
ir() {
    local build=$1 exe=$2 row=$3 n=$4 k=$5
    local base="$OUT/$build.$row.$n.$k"
    valgrind --tool=callgrind "${FAIR[@]}" --callgrind-out-file="$base.cg" --log-file="$base.log" \
        "$exe" "$(suite_of "$row")" --perf-only --json --only "$row" \
        --samples "$n" --warmup "$WARMUP" >"$base.json"
    grep -q '"perf_only":true' "$base.json" || {
        echo "metrics_instructions.sh: $build $row: no result (see $base.log)" >&2
        exit 1
    }
    local total clocks
    total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$base.log")
    clocks=$(awk '
        /^c?fn=\([0-9]+\) .*clock_gettime/ { match($0, /\([0-9]+\)/); id = substr($0, RSTART, RLENGTH) }
        /^cfn=/ { match($0, /\([0-9]+\)/); callee = substr($0, RSTART, RLENGTH); next }
        /^calls=/ { if (id != "" && callee == id) { split(substr($0, 7), a, " "); n += a[1] }; callee = "" }
        END { print n + 0 }' "$base.cg")
    echo "$total $clocks"
}

# per_sample BUILD EXE ROW: median over REPEAT of the Ir per sample, the
# spread (max/min), and the median clock reads per sample.
per_sample() {
    local figures=() clocks=()
    for k in $(seq "$REPEAT"); do
        local lo hi
        lo=$(ir "$1" "$2" "$3" "$LO" "$k")
        hi=$(ir "$1" "$2" "$3" "$HI" "$k")
        read -r lo_ir lo_clk <<<"$lo"
        read -r hi_ir hi_clk <<<"$hi"
        figures+=($(((hi_ir - lo_ir) / (HI - LO))))
        clocks+=($(((hi_clk - lo_clk) / (HI - LO))))
    done
    local clk
    clk=$(printf '%s\n' "${clocks[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    printf '%s\n' "${figures[@]}" | sort -n | awk -v clk="$clk" '
        { v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
              printf "%d %.4f %d\n", m, v[NR] / v[1], clk }'
}

# wall_ns ROW: ns per sample of the off build, natively.
wall_ns() {
    "$OFF" "$(suite_of "$1")" --perf-only --json --only "$1" --samples "$WALL_SAMPLES" \
        --warmup 1 | awk '/"perf_only":true/ {
            ns = $0; sub(/.*"perf_ns":/, "", ns); sub(/[,}].*/, "", ns)
            ops = 1; if ($0 ~ /"ops":/) { ops = $0; sub(/.*"ops":/, "", ops); sub(/[,}].*/, "", ops) }
            printf "%.0f\n", ns * ops }'
}

CLOCK_NS=${CLOCK_NS:-$("$ON" clock_cost)}
echo "Ir per measured sample, perf_runtime alone; (Ir at $HI samples - Ir at $LO) / $((HI - LO)),"
echo "warm-up $WARMUP, median of $REPEAT run pair(s) per build (spread = max/min of them)${FAIR_SCHED:+, valgrind --fair-sched=yes}"
echo "clk: clock reads per sample; +clk: on - off; clk cost: +clk x $CLOCK_NS ns a read"
echo "over the off build's native ns per sample (median of $WALL_SAMPLES, wall-clock)"
echo
printf '%-10s %-24s %14s %14s %8s %8s %8s %9s %9s %7s %12s %9s\n' suite row "off Ir" "on Ir" on/off "off spr" "on spr" \
    "off clk" "on clk" "+clk" "sample ns" "clk cost"
for row in $ROWS; do
    suite=$(suite_of "$row")
    res=$(per_sample off "$OFF" "$row")
    read -r off off_spread off_clk <<<"$res"
    res=$(per_sample on "$ON" "$row")
    read -r on on_spread on_clk <<<"$res"
    wall=$(wall_ns "$row")
    awk -v s="$suite" -v r="$row" -v a="$off" -v b="$on" -v sa="$off_spread" -v sb="$on_spread" \
        -v ca="$off_clk" -v cb="$on_clk" -v w="$wall" -v c="$CLOCK_NS" \
        'BEGIN { printf "%-10s %-24s %14d %14d %8.4f %8.4f %8.4f %9d %9d %7d %12d %8.2f%%\n",
                 s, r, a, b, b / a, sa, sb, ca, cb, cb - ca, w, 100 * (cb - ca) * c / w }'
done
