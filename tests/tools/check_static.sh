#!/usr/bin/env bash
#
# check_static.sh - static analysis at zero findings (reliability plan T9).
#
# Usage: tests/tools/check_static.sh [gcc|cppcheck|clang-tidy ...]
#                                                 (default: all three)
#
# Sources: every libcrawllog/*.c (library and crawllog tool), the crawl
# example code examples/crawl/*.c and the examples/*.c programs.
#
#  gcc        gcc -fanalyzer with the project flags (-std=c11
#             -D_POSIX_C_SOURCE=200809L -Wall ... -O2), twice over the
#             library: as released and with -DCRAWLLOG_TESTING (the
#             failpoint code the tests build); once over the tool and the
#             examples.
#  cppcheck   --enable=warning,portability,performance --std=c11
#             --inline-suppr, in both configurations too.
#  clang-tidy the checks of tests/tools/clang-tidy.cfg (each disabled one
#             has its reason there), one process per file: clang-tidy 14
#             carries checker state from one file to the next within a
#             process and then reports false valist.Uninitialized findings.
#
# Suppressions are inline (each with its reason in the same comment:
# cppcheck-suppress / NOLINTNEXTLINE), except gcc_file_flags below for the
# warnings gcc 12 prints without a location.
#
# Prints "static: <tool> findings=N" per tool (N = distinct findings), the
# findings themselves, and exits 1 if any tool found anything (2 if a tool
# is missing or could not run).
#
# Environment: JOBS (parallel processes, default 2), STATIC_LOG (directory
# for the raw outputs, default a temporary one, removed at the end).

set -u -o pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2

jobs=${JOBS:-2}
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(gcc cppcheck clang-tidy)

if [ -n "${STATIC_LOG:-}" ]; then
    log=$STATIC_LOG
    mkdir -p "$log"
else
    log=$(mktemp -d "${TMPDIR:-/tmp}/crawllog-static.XXXXXX")
    trap 'rm -rf "$log"' EXIT
fi

STD="-std=c11 -D_POSIX_C_SOURCE=200809L"
WARN="$STD -Wall -Wextra -Wpedantic -Wshadow"
INC="-Iinclude -Ilibcrawllog"

cli_srcs=$(ls libcrawllog/crawllog_cli.c libcrawllog/cli_*.c 2>/dev/null)
lib_srcs=$(ls libcrawllog/*.c | grep -v -x -F -e libcrawllog/crawllog_cli.c \
    $(printf -- ' -e %s' $cli_srcs))
ex_srcs=$(ls examples/crawl/*.c examples/*.c 2>/dev/null)

total=0
missing=0

# report TOOL FILE: count the distinct "file:line:col: ... warning|error"
# lines of FILE, print them and the summary line.
report() {
    local tool=$1 out=$2 n
    n=$(grep -E ': (warning|error|style|portability|performance): ' "$out" |
        sort -u | tee "$out.findings" | wc -l)
    if [ "$n" -ne 0 ]; then
        sed 's/^/  /' "$out.findings"
    fi
    echo "static: $tool findings=$n"
    total=$((total + n))
}

# Per-file gcc flags: the only suppressions that are not inline, for
# warnings gcc 12 prints without a source location ("cc1: warning"), which
# no "#pragma GCC diagnostic" can reach.  One line per file, with the reason.
gcc_file_flags() {
    case "$1" in
    # gcc 12 loses a pointer stored into a field of an element of a heap
    # array indexed by a variable (s->topics[i].start, pr->pend[p].recs) and
    # reports it leaked; scrape_free / the end of cli_cmd_produce free them
    # (valgrind.sh runs both commands leak-free).
    libcrawllog/cli_lag.c | libcrawllog/cli_produce.c)
        echo "-Wno-analyzer-malloc-leak" ;;
    esac
}

run_gcc() {
    local out=$log/gcc.txt
    if ! command -v gcc >/dev/null 2>&1; then
        echo "static: gcc missing" >&2
        missing=1
        return
    fi
    : >"$out"
    # file<TAB>extra flags, one analysis per line.
    {
        for f in $lib_srcs; do
            printf '%s\t%s\n' "$f" "$INC"
            printf '%s\t%s\n' "$f" "$INC -DCRAWLLOG_TESTING"
        done
        for f in $cli_srcs; do
            printf '%s\t%s\n' "$f" "$INC $(gcc_file_flags "$f")"
        done
        for f in $ex_srcs; do printf '%s\t%s\n' "$f" "-Iinclude -Iexamples/crawl"; done
    } | xargs -P "$jobs" -d '\n' -n 1 sh -c '
        f=${1%%	*}; flags=${1#*	}
        # A location-less analyzer warning reads "cc1: warning: ...":
        # prefix the file it came from.
        { gcc '"$WARN"' -O2 -g -fanalyzer -fdiagnostics-plain-output \
            -fdiagnostics-path-format=none $flags -c -o /dev/null "$f" 2>&1 ||
            echo "$f:0:0: error: gcc failed"; } |
            sed "s|^cc1: |$f: cc1: |"' _ >>"$out"
    report gcc "$out"
}

run_cppcheck() {
    local out=$log/cppcheck.txt
    if ! command -v cppcheck >/dev/null 2>&1; then
        echo "static: cppcheck missing" >&2
        missing=1
        return
    fi
    : >"$out"
    local tmpl='{file}:{line}:{column}: {severity}: {message} [{id}]'
    for cfg in "" "-DCRAWLLOG_TESTING"; do
        # shellcheck disable=SC2086  # word lists on purpose
        cppcheck --std=c11 --enable=warning,portability,performance \
            --inline-suppr --quiet -j "$jobs" -D_POSIX_C_SOURCE=200809L $cfg \
            -I include -I libcrawllog -I examples/crawl \
            --template="$tmpl" $lib_srcs $cli_srcs $ex_srcs >>"$out" 2>&1 ||
            echo "cppcheck:0:0: error: cppcheck failed ($cfg)" >>"$out"
    done
    report cppcheck "$out"
}

run_clang_tidy() {
    local out=$log/clang-tidy.txt
    if ! command -v clang-tidy >/dev/null 2>&1; then
        echo "static: clang-tidy missing" >&2
        missing=1
        return
    fi
    : >"$out"
    printf '%s\n' $lib_srcs $cli_srcs $ex_srcs | xargs -P "$jobs" -n 1 sh -c '
        clang-tidy --quiet --config-file=tests/tools/clang-tidy.cfg "$1" -- \
            '"$STD"' -Iinclude -Ilibcrawllog -Iexamples/crawl 2>/dev/null
        rc=$?
        # 1: findings (printed); anything else non-zero: it could not run.
        if [ $rc -gt 1 ]; then echo "$1:0:0: error: clang-tidy exit $rc"; fi
        exit 0' _ >>"$out"
    report clang-tidy "$out"
}

start=$(date +%s)
for t in "${tools[@]}"; do
    case "$t" in
    gcc) run_gcc ;;
    cppcheck) run_cppcheck ;;
    clang-tidy) run_clang_tidy ;;
    *)
        echo "check_static.sh: unknown tool '$t' (gcc, cppcheck, clang-tidy)" >&2
        exit 2
        ;;
    esac
done
echo "static: total findings=$total ($(($(date +%s) - start)) s)"
if [ "$missing" -ne 0 ]; then
    exit 2
fi
[ "$total" -eq 0 ]
