#!/usr/bin/env bash
#
# valgrind.sh - valgrind memcheck over a subset of the unit tests
# (reliability plan T9).
#
# Usage: tests/tools/valgrind.sh [test_name ...]   (default: the subset below)
#
# Builds the named test programs without sanitizers (-O1 -g) into
# VG_BUILDDIR (default build/t9vg; test programs in VG_BUILDDIR/test) and
# runs each under
#   valgrind --error-exitcode=99 --leak-check=full
#            --errors-for-leak-kinds=definite,indirect --track-fds=no
# from the repository root.  Forked children stay under valgrind (fork needs
# no tracing; --trace-children=no only leaves exec'd programs such as the
# crawllog tool alone) but print nothing (--child-silent-after-fork=yes):
# some children SIGKILL themselves on purpose, holding memory they never
# free.  A child with a memory error exits 99, which the test's own check
# of the child's exit status turns into a failed test.  A program fails if
# valgrind reports an error in the test process (exit 99) or a test fails;
# the valgrind output of a failed program is printed.
#
# The default subset: single-process or lightly forking unit tests of T1/T2
# that finish in seconds under valgrind (about 20-50x slower than native;
# test_api_log takes ~55 s, test_topic ~75 s and is left out); the
# multi-process, crash and soak tests stay with ASan/TSan.
#
# Then the crawllog tool (built the same way) under valgrind for four
# commands on a scratch directory (VG_SKIP_CLI=1 skips them).
#
# Prints "valgrind: programs=N errors=E failed=F" last; exits 1 if E or F is
# not 0.  Environment: VG_BUILDDIR, JOBS (make -j, default 2),
# VG_TIMEOUT (seconds per program, default 300), VALGRIND_OPTS (more
# options).

set -u -o pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2

B=${VG_BUILDDIR:-build/t9vg}
T=$B/test
jobs=${JOBS:-2}
timeout_s=${VG_TIMEOUT:-300}

progs=("$@")
if [ ${#progs[@]} -eq 0 ]; then
    progs=(test_errors test_names test_murmur2 test_crc32c test_record
        test_conf test_metafile test_verify test_partitioner test_assignor
        test_lagstore test_offsets test_io test_api_log test_producer
        test_consumer)
fi

if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind: ERROR: valgrind is not installed" >&2
    exit 2
fi

targets=()
for p in "${progs[@]}"; do
    targets+=("$T/$p")
done
echo "valgrind: building ${#progs[@]} program(s) into $T (-O1 -g, no sanitizers)"
if ! make --no-print-directory -j"$jobs" BUILDDIR="$B" CFLAGS='-O1 -g' \
    EXTRA_CFLAGS= "${targets[@]}" >"$B.build.log" 2>&1; then
    tail -n 30 "$B.build.log"
    echo "valgrind: ERROR: build failed (log: $B.build.log)" >&2
    exit 2
fi

out=$(mktemp "${TMPDIR:-/tmp}/crawllog-vg.XXXXXX")
trap 'rm -f "$out"' EXIT
export CMOCKA_MESSAGE_OUTPUT=stdout

n=0
errors=0
failed=0
start_all=$(date +%s)
for p in "${progs[@]}"; do
    n=$((n + 1))
    start=$(date +%s)
    # shellcheck disable=SC2086  # VALGRIND_OPTS is a word list
    timeout -k 10 "$timeout_s" valgrind --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --track-fds=no \
        --trace-children=no --child-silent-after-fork=yes \
        --num-callers=30 ${VALGRIND_OPTS:-} \
        "$T/$p" </dev/null >"$out" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    # The "ERROR SUMMARY: k errors" line of the test process.
    e=$(sed -n 's/.*ERROR SUMMARY: \([0-9][0-9]*\) errors.*/\1/p' "$out" |
        awk '{ s += $1 } END { print s + 0 }')
    summaries=$(grep -c 'ERROR SUMMARY:' "$out")
    if [ "$rc" -eq 0 ] && [ "$e" -eq 0 ] && [ "$summaries" -gt 0 ]; then
        echo "valgrind: $p: ok (${secs} s, $summaries process(es))"
        continue
    fi
    if [ "$e" -ne 0 ] || [ "$rc" -eq 99 ]; then
        errors=$((errors + (e > 0 ? e : 1)))
    fi
    if [ "$rc" -ne 99 ] && [ "$rc" -ne 0 ] || [ "$summaries" -eq 0 ]; then
        failed=$((failed + 1))
    fi
    echo "valgrind: $p: FAILED (exit $rc, $e error(s), ${secs} s):"
    grep -E '^==[0-9]+==|\[  (FAILED|ERROR) |\[   LINE   \]' "$out" | head -n 80
done
# The crawllog tool: the commands whose allocations gcc -fanalyzer cannot
# follow (produce, metrics; see check_static.sh) and a describe, on a
# scratch directory.
if [ "${VG_SKIP_CLI:-0}" != 1 ]; then
    if make --no-print-directory -j"$jobs" BUILDDIR="$B" CFLAGS='-O1 -g' \
        EXTRA_CFLAGS= cli >>"$B.build.log" 2>&1; then
        d=$(mktemp -d "${TMPDIR:-/tmp}/crawllog-vg-cli.XXXXXX")
        for cmd in "topics create t 3" "produce t --key-sep :" \
            "metrics" "topics describe t --segments --json"; do
            n=$((n + 1))
            # shellcheck disable=SC2086  # cmd is a word list
            printf 'a\nb\nk:c\n' | valgrind --error-exitcode=99 \
                --leak-check=full --errors-for-leak-kinds=definite,indirect \
                --track-fds=no "$B/crawllog" -d "$d" $cmd >"$out" 2>&1
            rc=$?
            if [ "$rc" -eq 0 ]; then
                echo "valgrind: crawllog $cmd: ok"
                continue
            fi
            [ "$rc" -eq 99 ] && errors=$((errors + 1)) || failed=$((failed + 1))
            echo "valgrind: crawllog $cmd: FAILED (exit $rc):"
            head -n 60 "$out"
        done
        rm -rf "$d"
    else
        echo "valgrind: building the crawllog tool failed (log: $B.build.log)"
        failed=$((failed + 1))
    fi
fi
echo "valgrind: programs=$n errors=$errors failed=$failed" \
    "($(($(date +%s) - start_all)) s)"
[ "$errors" -eq 0 ] && [ "$failed" -eq 0 ]
