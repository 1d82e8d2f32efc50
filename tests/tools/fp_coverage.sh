#!/bin/sh
# fp_coverage.sh - failpoint site coverage of the fault sweeps
# (reliability.md 4.3 T2 / 4.4 T3: "100 % sites hit").
#
# Usage: tests/tools/fp_coverage.sh [BUILD_TESTDIR]   (default build/test)
# Run from the repository root, after building the test programs
# $BUILD_TESTDIR/test_fault_* (e.g. make BUILDDIR=build/fp
# build/fp/test/test_fault_log ...).
#
# 1. Lists every distinct failpoint site of the library: the first argument
#    of each cl_io_* call in libcrawllog/*.c when it is a string literal,
#    the literals handed to the library's own functions that take a
#    "const char *site" parameter and pass it on (notify.c reopen(),
#    partition.c cl_partition_sync_all()/sync_partition()), the default
#    of a "site ? site : \"...\"" choice, and "malloc" (every allocation
#    wrapper of io.c).  Test-only sites ("t.*" in tests/) are not counted.
# 2. Runs every $BUILD_TESTDIR/test_fault_* program with CRAWLLOG_FP_STATS
#    set (forked children inherit it; a child ending with _exit or by
#    CRASH writes nothing, the parent's exit does).
# 3. Prints "fp-coverage: N/M sites hit (P%)" and the sites never hit;
#    exits 1 below 100 % (or when a fault program fails), else 0.
#
# UNREACHABLE lists sites that a sweep cannot reach, each with the reason;
# they are left out of M.  Keep it empty or tiny.
set -u

TESTDIR=${1:-build/test}
UNREACHABLE=""
# Format of an entry: "site:reason" on its own line, e.g.
# UNREACHABLE="foo.bar:only on kernels without ..."

if [ ! -d libcrawllog ]; then
    echo "fp_coverage.sh: run from the repository root" >&2
    exit 2
fi
progs=$(ls "$TESTDIR"/test_fault_* 2>/dev/null | grep -v '\.[a-z]*$' || true)
if [ -z "$progs" ]; then
    echo "fp_coverage.sh: no $TESTDIR/test_fault_* program (build them first)" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fpcov.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT INT TERM

# ---- 1. the library's sites --------------------------------------------
# The files of the library proper (io*.c define the wrappers themselves).
srcs=$(ls libcrawllog/*.c | grep -v -E '/io(_[a-z]+)?\.c$')
perl -0777 -ne '
    # cl_io_xxx("site", ...), possibly across lines
    while (/\bcl_io_[a-z_]+\(\s*"([^"]+)"/g) { print "$1\n"; }
    # functions of this file that take "const char *site" and pass it on
    my %fn;
    while (/\b([a-z_][a-z0-9_]*)\s*\([^;{)]*const char \*site\b/g) {
        $fn{$1} = 1;
    }
    for my $f (keys %fn) {
        while (/\b\Q$f\E\(\s*[^;"]*?"([a-z][a-z0-9._-]*)"/g) { print "$1\n"; }
    }
    # site ? site : "default"
    while (/\bsite\s*\?\s*site\s*:\s*"([^"]+)"/g) { print "$1\n"; }
    # allocation wrappers share the site "malloc"
    print "malloc\n" if /\bcl_io_(malloc|calloc|realloc|strdup|grow)\(/;
' $srcs libcrawllog/*.h >"$work/raw"
# Functions declared in a header with a site parameter (cl_partition_sync_all)
# are called from other files: collect those calls too.
fns=$(perl -0777 -ne 'while (/\b(cl_[a-z0-9_]+)\s*\([^;{)]*const char \*site\b/g) { print "$1\n"; }' libcrawllog/*.h | grep -v '^cl_io_' | sort -u)
for f in $fns; do
    perl -0777 -ne "while (/\\b$f\\(\\s*[^;\"]*?\"([a-z][a-z0-9._-]*)\"/g) { print \"\$1\\n\"; }" $srcs >>"$work/raw"
done
sort -u "$work/raw" >"$work/sites"
if [ -n "$UNREACHABLE" ]; then
    printf '%s\n' "$UNREACHABLE" | sed -n 's/^\([^:]*\):.*/\1/p' | sort -u >"$work/excluded"
    grep -v -x -F -f "$work/excluded" "$work/sites" >"$work/counted"
else
    : >"$work/excluded"
    cp "$work/sites" "$work/counted"
fi

# ---- 2. run the fault programs -----------------------------------------
stats="$work/stats"
: >"$stats"
st=0
for p in $progs; do
    t0=$(date +%s)
    if CRAWLLOG_FP_STATS="$stats" TMPDIR=${TMPDIR:-/dev/shm} "$p" >"$work/out" 2>&1; then
        echo "fp-coverage: $p: ok ($(($(date +%s) - t0)) s)"
    else
        echo "fp-coverage: $p: FAILED ($(($(date +%s) - t0)) s); its output:"
        tail -40 "$work/out"
        st=1
    fi
    grep -E '^fault-[a-z]+: ' "$work/out" || true
done

# ---- 3. report -----------------------------------------------------------
awk '$2 > 0 { print $1 }' "$stats" | sort -u >"$work/hit"
m=$(wc -l <"$work/counted")
n=$(grep -c -x -F -f "$work/hit" "$work/counted" || true)
pct=$(awk -v n="$n" -v m="$m" 'BEGIN { printf "%.1f", m ? 100 * n / m : 0 }')
echo "fp-coverage: $n/$m sites hit ($pct%)"
missing=$(grep -v -x -F -f "$work/hit" "$work/counted" || true)
if [ -n "$missing" ]; then
    echo "fp-coverage: never hit:"
    printf '  %s\n' $missing
    st=1
fi
if [ -s "$work/excluded" ]; then
    echo "fp-coverage: left out as unreachable:"
    printf '%s\n' "$UNREACHABLE" | sed 's/^/  /'
fi
# Sites reached that the scan did not find (a new way of passing sites).
extra=$(grep -v -x -F -f "$work/sites" "$work/hit" | grep -v '^t\.' || true)
if [ -n "$extra" ]; then
    echo "fp-coverage: reached but not found by the source scan (fix the scan):"
    printf '  %s\n' $extra
    st=1
fi
exit $st
