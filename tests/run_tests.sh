#!/usr/bin/env bash
#
# run_tests.sh - run the cmocka test programs of one build directory.
#
# Usage: tests/run_tests.sh BUILDDIR [test_name ...]
#
# Runs every test_* program in BUILDDIR (or, when names are given, exactly
# those; a named program that does not exist counts as 1 failed test, "not
# built"), one after another, from the repository root so that the relative
# VECTORS_DIR works.  cmocka's own output goes through unchanged.  Tests are
# counted from cmocka's group summaries ("[==========] Running N test(s).",
# "[  PASSED  ] N test(s).", "[  SKIPPED ] N test(s)"): a group's failures are
# its tests that neither passed nor were skipped, so failed setups count too.
# A program that crashes, times out or exits without a complete summary
# counts as 1 failed test; so does one whose summary shows no failure but
# whose exit status is non-zero (e.g. a sanitizer report at exit).
#
# The last line printed is exactly "tests: N passed, N failed"; the exit
# status is 1 if anything failed (or nothing ran), else 0.
#
# Environment:
#   TEST_WRAPPER      command prefix for every program (e.g. "setarch x86_64 -R")
#   CL_TEST_TIMEOUT   seconds per program before it is killed (default 900)
#   SEED              passed through to the programs (cl_test_seed())

set -u -o pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILDDIR [test_name ...]" >&2
    exit 2
fi

bdir_arg=$1
shift
case "$bdir_arg" in
/*) bdir=$bdir_arg ;;
*) bdir=$PWD/$bdir_arg ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

timeout_s=${CL_TEST_TIMEOUT:-900}
wrapper=${TEST_WRAPPER:-}
export CMOCKA_MESSAGE_OUTPUT=stdout
unset CMOCKA_XML_FILE

summary() {
    echo "tests: $1 passed, $2 failed"
}

if [ ! -d "$bdir" ]; then
    echo "run_tests.sh: ERROR: no build directory $bdir_arg" >&2
    summary 0 1
    exit 1
fi

# The programs to run, in order.
progs=()
if [ $# -gt 0 ]; then
    progs=("$@")
else
    for f in "$bdir"/test_*; do
        if [ ! -f "$f" ] || [ ! -x "$f" ]; then
            continue
        fi
        name=${f##*/}
        case "$name" in *.*) continue ;; esac
        progs+=("$name")
    done
fi
if [ ${#progs[@]} -eq 0 ]; then
    echo "run_tests.sh: ERROR: no test_* programs in $bdir_arg" \
        "(nothing was built?)" >&2
    summary 0 1
    exit 1
fi

# Prints "passed failed skipped complete" for one program's output:
# complete is 0 when no group summary was seen or a group was cut off.
parse_log() {
    awk '
    function count_before_tests(   i) {
        for (i = 2; i <= NF; i++) {
            if ($i ~ /^test\(s\)/ && $(i - 1) ~ /^[0-9]+$/) {
                return $(i - 1) + 0
            }
        }
        return -1
    }
    function close_group() {
        if (!open) {
            return
        }
        if (have_pass) {
            passed += gp
            skipped += gs
            f = gr - gp - gs
            failed += (f > 0 ? f : 0)
        } else {
            cut = 1
        }
        open = 0
    }
    BEGIN { passed = 0; failed = 0; skipped = 0; groups = 0; cut = 0; open = 0 }
    index($0, "[==========] ") == 1 && / Running [0-9]+ test\(s\)\./ {
        close_group()
        open = 1; groups++; have_pass = 0; gp = 0; gs = 0
        gr = count_before_tests()
        next
    }
    index($0, "[  PASSED  ] ") == 1 && /test\(s\)\.$/ {
        n = count_before_tests()
        if (open && n >= 0) { gp = n; have_pass = 1 }
        next
    }
    index($0, "[  SKIPPED ] ") == 1 && /test\(s\)/ {
        n = count_before_tests()
        if (open && n >= 0) { gs = n }
        next
    }
    END {
        close_group()
        print passed, failed, skipped, (groups > 0 && !cut) ? 1 : 0
    }' "$1"
}

describe_status() {
    local rc=$1
    if [ "$rc" -eq 124 ]; then
        echo "timed out after ${timeout_s}s"
    elif [ "$rc" -gt 128 ]; then
        echo "killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
    else
        echo "exit status $rc"
    fi
}

total_pass=0
total_fail=0
bad_progs=()
log=$(mktemp "${TMPDIR:-/tmp}/crawllog-run-tests.XXXXXX")
trap 'rm -f "$log"' EXIT

for name in "${progs[@]}"; do
    path=$bdir/$name
    if [ ! -f "$path" ] || [ ! -x "$path" ]; then
        echo "-- $name: NOT BUILT (counted as 1 failed)"
        total_fail=$((total_fail + 1))
        bad_progs+=("$name(not built)")
        continue
    fi
    echo "-- $name"
    start=$(date +%s%N)
    # shellcheck disable=SC2086  # the wrapper is a word list on purpose
    timeout -k 10 "$timeout_s" $wrapper "$path" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    ms=$((($(date +%s%N) - start) / 1000000))
    read -r p f s complete < <(parse_log "$log")
    note=
    if [ "$complete" -ne 1 ]; then
        f=$((f + 1))
        note="; no complete cmocka summary, $(describe_status "$rc")"
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        note="; $(describe_status "$rc") despite the summary"
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$f" -ne 0 ]; then
        bad_progs+=("$name")
        echo "-- $name: FAILED: $p passed, $f failed, $s skipped (${ms} ms$note)"
    else
        echo "-- $name: ok: $p passed, $s skipped (${ms} ms)"
    fi
done

echo
echo "run_tests.sh: ${#progs[@]} program(s) in $bdir_arg"
if [ ${#bad_progs[@]} -ne 0 ]; then
    echo "run_tests.sh: failing programs: ${bad_progs[*]}"
fi
if [ "$total_pass" -eq 0 ] && [ "$total_fail" -eq 0 ]; then
    echo "run_tests.sh: ERROR: no test ran" >&2
fi
summary "$total_pass" "$total_fail"
if [ "$total_fail" -ne 0 ] || [ "$total_pass" -eq 0 ]; then
    exit 1
fi
exit 0
