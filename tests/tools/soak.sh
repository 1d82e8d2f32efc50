#!/usr/bin/env bash
#
# soak.sh - the soak tier of the reliability plan (reliability.md T1-T10,
# "soak" column): the per-submission tests at their full size.  Run by
# hand (`make soak`); it takes hours, not minutes.  Every step prints its
# own summary line; the last line is "soak: N steps, N failed".
#
#   T6  test_chaos under ASan, CL_CHAOS_ITERS kills (default 10000)
#   T5  test_durability with CL_DURABILITY_FULL=1 (every I/O operation,
#       crash during recovery too), SOAK_DURABILITY_ROUNDS seeds (20)
#   T2  the fault sweeps with CL_FAULT_FULL=1 (every k, not sampled)
#   T4  the corruption sweeps with CL_T4_FULL=1 (every byte, every cut)
#   T10 test_hostile_fs with CL_SOAK=1 (a 10 s directory/symlink race)
#   T8  every fuzz target for SOAK_FUZZ_SECONDS (default 3600) each
#
# Environment: SEED (passed to every program; each prints its own),
# CL_CHAOS_ITERS, SOAK_DURABILITY_ROUNDS, SOAK_FUZZ_SECONDS, SOAK_SKIP (space-separated step names
# to leave out: chaos durability faults corrupt hostile fuzz).

set -u -o pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C
export CL_TEST_TIMEOUT=${CL_TEST_TIMEOUT:-14400}
tmp=/dev/shm
[ -d "$tmp" ] && [ -w "$tmp" ] || tmp=${TMPDIR:-/tmp}

steps=0
failed=0
skip=" ${SOAK_SKIP:-} "

step() {
    local name=$1
    shift
    case "$skip" in *" $name "*)
        echo "soak: $name skipped (SOAK_SKIP)"
        return
        ;;
    esac
    steps=$((steps + 1))
    echo
    echo "== soak $name: $*"
    local start=$SECONDS
    if "$@"; then
        echo "== soak $name: PASS in $((SECONDS - start))s"
    else
        echo "== soak $name: FAIL in $((SECONDS - start))s"
        failed=$((failed + 1))
    fi
}

chaos() {
    make --no-print-directory chaos CHAOS_ITERS="${CL_CHAOS_ITERS:-10000}"
}

# Each round is the full crash sweep under another seed (other torn-write
# cuts and image choices at every crash point).
durability() {
    local i seed0=${SEED:-$(date +%s)} st=0
    for i in $(seq 1 "${SOAK_DURABILITY_ROUNDS:-20}"); do
        echo "durability round $i: SEED=$((seed0 + i))"
        TMPDIR=$tmp CL_DURABILITY_FULL=1 SEED=$((seed0 + i)) \
            tests/run_tests.sh build/test test_durability || st=1
    done
    tests/run_tests.sh build/test test_ablation test_producer_durability \
        test_migrate_durability || st=1
    return $st
}

faults() {
    local progs
    progs=$(cd tests && ls test_fault_*.c | sed 's/\.c$//')
    # shellcheck disable=SC2086
    TMPDIR=$tmp CL_FAULT_FULL=1 tests/run_tests.sh build/test $progs
}

corrupt() {
    local progs
    progs=$(cd tests && ls test_corrupt_*.c test_torn_*.c 2>/dev/null |
        sed 's/\.c$//')
    # shellcheck disable=SC2086
    TMPDIR=$tmp CL_T4_FULL=1 tests/run_tests.sh build/test test_recovery $progs
}

hostile() {
    CL_SOAK=1 tests/run_tests.sh build/test test_hostile_fs
}

fuzz() {
    tests/tools/fuzz.sh build && tests/tools/fuzz.sh replay &&
        tests/tools/fuzz.sh run "${SOAK_FUZZ_SECONDS:-3600}"
}

make --no-print-directory cli examples test-programs >/dev/null || exit 1
step chaos chaos
step durability durability
step faults faults
step corrupt corrupt
step hostile hostile
step fuzz fuzz

echo
echo "soak: ${steps} steps, ${failed} failed"
[ "$failed" -eq 0 ]
