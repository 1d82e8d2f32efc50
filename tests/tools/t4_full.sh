#!/bin/sh
# t4_full.sh - reliability plan T4 (reliability.md 4.5), the exhaustive
# sweeps: test_torn_tail, test_corrupt_index and test_corrupt_state with
# CL_T4_FULL=1 (every cut / byte instead of the sample `make test` runs).
#
# Usage: tests/tools/t4_full.sh [TESTDIR]
#   TESTDIR  where the test programs are built (default build/t4full)
# Run from the repository root.  The data lives under $TMPDIR (/dev/shm
# when unset).  Each program's last line before the cmocka summary is its
# "t4-...: cases=... violations=0" line.  CL_T4_STRICT=1 also fails on the
# offsets log's documented torn-tail rollbacks (see test_corrupt_state.c).
# Exit status: 0 if all three pass.
set -eu
TESTDIR=${1:-build/t4full}
PROGS="test_torn_tail test_corrupt_index test_corrupt_state"
for p in $PROGS; do
    make --no-print-directory TESTDIR="$TESTDIR" "$TESTDIR/$p"
done
st=0
for p in $PROGS; do
    start=$(date +%s)
    CL_T4_FULL=1 "$TESTDIR/$p" >"$TESTDIR/$p.out" 2>&1 || st=1
    grep '^t4-' "$TESTDIR/$p.out" || true
    echo "$p: $(( $(date +%s) - start )) s, exit $st"
done
exit $st
