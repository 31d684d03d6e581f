#!/usr/bin/env python3
"""Metrics gathering on vs off: two builds of `compare`, run in ABBA order.

    benches/metrics_onoff.py OFF_COMPARE ON_COMPARE ROUNDS [SUITE...]

OFF_COMPARE is `compare` built from the same tree with
RUSTFLAGS="--cfg perf_runtime_no_metrics" (gathering compiled out: see
perf_runtime::metrics, "Turning gathering off"), ON_COMPARE the normal
build. Each round runs
off, on, on, off (the next on, off, off, on), each build running every SUITE
(default: scheduler sync) with --json; ONLY=a,b passes --only a,b. Prints,
per workload, the median perf_runtime time of each build, on/off, and the
on/off ratio of the median perf/tokio paired ratios (tokio, identical in
both builds, cancels machine drift). Appends one line per run, with the
load average, to /tmp/onoff.log; with RAW=FILE, every JSON line too,
prefixed with the build and suite.
"""
import json, subprocess, sys, statistics, time, os
OFF, ON = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3])
suites = sys.argv[4:] or ["scheduler", "sync"]
res = {}  # (suite, bench, build) -> list of (perf_ns, ratio)
log = open("/tmp/onoff.log", "a")
for r in range(rounds):
    order = [OFF, ON, ON, OFF] if r % 2 == 0 else [ON, OFF, OFF, ON]
    for exe in order:
        build = "off" if exe == OFF else "on"
        for suite in suites:
            t0 = time.strftime("%H:%M:%S", time.gmtime())
            extra = os.environ.get("ONLY"); extra = ["--only", extra] if extra else []
            out = subprocess.run([exe, suite, "--json"] + extra, capture_output=True, text=True, timeout=600)
            load = open("/proc/loadavg").read().split()[0]
            log.write(f"{t0} {build} {suite} load {load} rc {out.returncode}\n"); log.flush()
            if os.environ.get("RAW"):
                with open(os.environ["RAW"], "a") as raw:
                    for line in out.stdout.splitlines():
                        raw.write(f"{build} {suite} {line}\n")
            for line in out.stdout.splitlines():
                try: o = json.loads(line)
                except Exception: continue
                if "perf_ns" not in o: continue
                res.setdefault((suite, o["bench"], build), []).append((o["perf_ns"], o.get("paired_ratio", o["ratio"])))
print(f"{'suite':10} {'bench':28} {'off ns':>10} {'on ns':>10} {'on/off':>7} {'(perf/tokio) on/off':>20} runs")
for (suite, bench, build) in sorted(res):
    if build != "on": continue
    on = res[(suite, bench, "on")]; off = res.get((suite, bench, "off"), [])
    if not off: continue
    mon = statistics.median(x[0] for x in on); moff = statistics.median(x[0] for x in off)
    ron = statistics.median(x[1] for x in on); roff = statistics.median(x[1] for x in off)
    print(f"{suite:10} {bench:28} {moff:10.1f} {mon:10.1f} {mon/moff:7.3f} {ron/roff:20.3f} {len(on)}+{len(off)}")
