#!/usr/bin/env bash
#
# coverage.sh - line and branch coverage of the library by the test suite
# (reliability plan T9: >= 90 % lines, >= 80 % branches overall, >= 95 %
# lines in the reader / recovery files).
#
# Usage: tests/tools/coverage.sh [test_name ...]      (from anywhere)
#
# Builds the test programs, the crawllog tool and the examples with
# --coverage -O0 into COV_BUILDDIR (default build/t9cov), deletes old .gcda
# counters, runs tests/run_tests.sh over the test programs (all, or the ones
# named) with CRAWLLOG_CLI pointing at the instrumented tool, then runs gcov
# (JSON output, no lcov/gcovr needed) over the library objects of both
# builds the tests exercise: COV_BUILDDIR/test/obj (the -DCRAWLLOG_TESTING
# library the test programs link) and COV_BUILDDIR/obj (the release library
# inside the crawllog tool and the examples).  A line counts as covered when
# either build executed it; branches are merged the same way per (line,
# branch index).  Static inline functions of libcrawllog/*.h are counted once,
# merged over every object that includes them.
#
# Prints a per-file table (lines, branches; lowest line coverage first; the
# reader/recovery files marked R), then
#   coverage: reader/recovery lines=NN.N% (goal 95)
#   coverage: cli lines=NN.N% (not gated)
#   coverage: lines=NN.N% branches=NN.N%
# and exits 1 if the library's line coverage is below COVERAGE_MIN (default
# 90) or branch coverage below COVERAGE_MIN_BRANCH (default 0: reported
# only), or if a test failed (COVERAGE_ALLOW_FAIL=1 reports instead).
#
# Environment: COV_BUILDDIR, COVERAGE_MIN, COVERAGE_MIN_BRANCH,
# COVERAGE_ALLOW_FAIL, COV_SKIP_BUILD=1 (reuse the build), COV_SKIP_RUN=1
# (only report the counters already there), JOBS (make -j, default 2),
# plus run_tests.sh's CL_TEST_TIMEOUT and SEED.

set -u -o pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2

B=${COV_BUILDDIR:-build/t9cov}
min=${COVERAGE_MIN:-90}
min_branch=${COVERAGE_MIN_BRANCH:-0}
jobs=${JOBS:-2}
# Reader and recovery: reading batches back, and the scan that rebuilds
# indexes and truncates a torn tail on open.
rr_files="reader.c record_read.c segment.c partition.c index.c"

if ! command -v gcov >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
    echo "coverage: ERROR: needs gcov and python3" >&2
    exit 2
fi

st_tests=0
if [ "${COV_SKIP_BUILD:-0}" != 1 ]; then
    echo "coverage: building into $B (--coverage -O0)"
    if ! make --no-print-directory -j"$jobs" BUILDDIR="$B" CFLAGS='-O0 -g' \
        EXTRA_CFLAGS='--coverage' test-programs cli examples >"$B.build.log" 2>&1; then
        tail -n 30 "$B.build.log"
        echo "coverage: ERROR: build failed (log: $B.build.log)" >&2
        exit 2
    fi
fi
if [ "${COV_SKIP_RUN:-0}" != 1 ]; then
    find "$B" -name '*.gcda' -delete
    start=$(date +%s)
    CRAWLLOG_CLI=$B/crawllog tests/run_tests.sh "$B/test" "$@" >"$B.tests.log" 2>&1
    st_tests=$?
    echo "coverage: $(tail -n 1 "$B.tests.log") in $(($(date +%s) - start)) s" \
        "(log: $B.tests.log)"
    grep '^run_tests.sh: failing programs' "$B.tests.log"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/crawllog-cov.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# gcov writes its .gcov.json.gz files into the current directory, named
# after the source: one directory per object directory.
for objdir in "$B/test/obj" "$B/obj"; do
    [ -d "$objdir" ] || continue
    out=$tmp/$(echo "$objdir" | tr / _)
    mkdir -p "$out"
    srcs=()
    # Every object (.gcno), so that a module no test reached counts as 0 %.
    for gcno in "$objdir"/*.gcno; do
        [ -f "$gcno" ] || continue
        name=$(basename "$gcno" .gcno)
        [ -f "libcrawllog/$name.c" ] && srcs+=("$root/libcrawllog/$name.c")
    done
    [ ${#srcs[@]} -gt 0 ] || continue
    (cd "$out" && gcov --json-format --branch-probabilities \
        --object-directory "$root/$objdir" "${srcs[@]}" >/dev/null 2>&1)
done

python3 - "$tmp" "$root" "$min" "$min_branch" "$rr_files" <<'EOF'
import glob, gzip, json, os, sys

tmp, root, min_lines, min_branch, rr = sys.argv[1:6]
min_lines, min_branch = float(min_lines), float(min_branch)
rr = set(rr.split())
lines = {}     # file -> {line: covered}
branches = {}  # file -> {(line, idx): covered}
for path in glob.glob(os.path.join(tmp, '*', '*.gcov.json.gz')):
    with gzip.open(path, 'rt') as f:
        data = json.load(f)
    for fe in data.get('files', []):
        name = os.path.relpath(os.path.join(data.get('current_working_directory', ''),
                                            fe['file']), root) \
            if not os.path.isabs(fe['file']) else os.path.relpath(fe['file'], root)
        if not name.startswith('libcrawllog/'):
            continue
        fl = lines.setdefault(name, {})
        fb = branches.setdefault(name, {})
        for ln in fe.get('lines', []):
            n = ln['line_number']
            fl[n] = fl.get(n, False) or ln['count'] > 0
            for i, br in enumerate(ln.get('branches', [])):
                k = (n, i)
                fb[k] = fb.get(k, False) or br['count'] > 0

def pct(c, t):
    return 100.0 * c / t if t else 100.0

def is_cli(name):
    b = os.path.basename(name)
    return b == 'crawllog_cli.c' or b.startswith('cli_')

rows = []
tot = {'lib': [0, 0, 0, 0], 'cli': [0, 0, 0, 0], 'rr': [0, 0, 0, 0]}
for name in sorted(lines):
    lc = sum(lines[name].values()); lt = len(lines[name])
    bc = sum(branches[name].values()); bt = len(branches[name])
    if lt == 0:
        continue
    base = os.path.basename(name)
    groups = ['cli'] if is_cli(name) else ['lib'] + (['rr'] if base in rr else [])
    for g in groups:
        t = tot[g]
        t[0] += lc; t[1] += lt; t[2] += bc; t[3] += bt
    rows.append((pct(lc, lt), name, lc, lt, bc, bt, 'R' if base in rr else
                 ('cli' if is_cli(name) else '')))

if not rows:
    print('coverage: ERROR: no coverage data (nothing ran?)')
    sys.exit(2)
print('%-32s %6s %13s %8s %13s' % ('file', 'lines', '', 'branches', ''))
for p, name, lc, lt, bc, bt, tag in sorted(rows):
    print('%-32s %5.1f%% %6d/%-6d %6.1f%% %6d/%-6d %s' %
          (name, p, lc, lt, pct(bc, bt), bc, bt, tag))
lib, cli, rrt = tot['lib'], tot['cli'], tot['rr']
print('coverage: reader/recovery lines=%.1f%% branches=%.1f%% (goal 95 lines; %s)'
      % (pct(rrt[0], rrt[1]), pct(rrt[2], rrt[3]), ' '.join(sorted(rr))))
print('coverage: cli lines=%.1f%% branches=%.1f%% (crawllog tool, not gated)'
      % (pct(cli[0], cli[1]), pct(cli[2], cli[3])))
lp, bp = pct(lib[0], lib[1]), pct(lib[2], lib[3])
print('coverage: lines=%.1f%% branches=%.1f%% (library: %d/%d lines, %d/%d branches)'
      % (lp, bp, lib[0], lib[1], lib[2], lib[3]))
bad = False
if lp < min_lines:
    print('coverage: FAILED: lines %.1f%% < COVERAGE_MIN %g%%' % (lp, min_lines))
    bad = True
if bp < min_branch:
    print('coverage: FAILED: branches %.1f%% < COVERAGE_MIN_BRANCH %g%%' % (bp, min_branch))
    bad = True
sys.exit(1 if bad else 0)
EOF
st_cov=$?
if [ "$st_tests" -ne 0 ]; then
    if [ "${COVERAGE_ALLOW_FAIL:-0}" = 1 ]; then
        echo "coverage: some tests failed (COVERAGE_ALLOW_FAIL=1: reported only)"
    else
        echo "coverage: FAILED: some tests failed (see $B.tests.log)"
        exit 1
    fi
fi
exit "$st_cov"
