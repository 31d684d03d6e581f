#!/usr/bin/env bash
# The bounded soak (tests/soak.rs): every primitive, every cancellation path,
# panics holding locks, blocking jobs and TCP echo with cancelled reads, on
# current_thread and multi_thread with 1, 2 and 4 workers; audited after each
# round (messages exactly once or dropped with their receiver, every future
# dropped, every JoinHandle resolved, no lock or permit left taken, no
# validation report, memory stable: the engine's live state, the heap in
# use and the RSS after malloc_trim), after a self-test that an injected
# loss fails the audit.
#
# CI runs ~10 rounds at scale 64 (about 75k tasks per round and flavour)
# under a 3-minute bound. By hand, longer (the issue's 1.9 M tasks per
# flavour is about 26 rounds):
#   bash .ci/soak.sh --rounds 26 --scale 64
# A failing round prints its seed; re-run it with --seed.
set -euo pipefail
cd "$(dirname "$0")/.."

ARGS=("$@")
if [ ${#ARGS[@]} -eq 0 ]; then
    # The memory audit is on: after each round it reads the validation
    # engine's live state, the heap in use and the RSS after malloc_trim,
    # the RSS by its trend from round 1 (tests/soak.rs, MemoryAudit). Raw
    # RSS is printed, not judged: before the soak fixed glibc's trim
    # threshold it climbed 78 -> 263 MB over 10 rounds with validation on,
    # with ~0.2 MB of heap in use and the engine back at its baseline after
    # every round — glibc keeping freed memory in the arenas it gives each
    # round's new threads (MALLOC_ARENA_MAX=2 held it at 113-134 MB), not a
    # leak. Now: 70-107 MB raw, 7-16 MB after trim, over 10 rounds.
    ARGS=(--rounds 10 --scale 64)
fi

cargo build --release -p tests --test soak
# The bound applies to the run, not the build.
timeout "${SOAK_TIMEOUT:-180}" cargo test --release -p tests --test soak -- "${ARGS[@]}"
