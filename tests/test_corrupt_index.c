/*
 * test_corrupt_index.c - T4 (reliability.md 4.5): damaged .index and
 * .timeindex files (the KAFKA-3919 class).
 *
 * A partition with three segments (two sealed, one active), each with
 * dozens of offset- and time-index entries (index.interval.bytes=100),
 * timestamps that step back every fifth record, and batches of 1-3
 * records.  Each case damages one index file of a fresh copy:
 *  - truncated at every byte;
 *  - every byte XOR 0x01, XOR 0xff, and set to 0x00;
 *  - the whole file zero-filled (same length), deleted, emptied;
 *  - replaced by another segment's index of the same partition (sealed <->
 *    active), or by the index of the same-numbered segment of partition 1
 *    (plausible entries pointing into the middle of batches);
 * then opens the directory (which must succeed: indexes are derived data,
 * FORMAT.md 4) and checks that EVERY lookup equals a full scan of the
 * model: crawllog_reader_seek(off) + next for every offset, and
 * crawllog_reader_seek_time(ts) (offsets for times) for every record
 * timestamp and the ones just below and above it, plus one past the end.
 * Then it appends a batch and checks the new record's lookups too.
 * test_recovery.c already sweeps cut/flip (one mask per byte) over one
 * sealed and one active segment; this adds both masks and 0x00 at every
 * byte, zero-filled files, two sealed segments and cross-partition swaps.
 *
 * Sampled by default (every byte of each file's first 40 bytes and last
 * 24, then every 7th; the lookups after the append
 * in every 16th case); CL_T4_FULL=1: every byte.  /dev/shm when TMPDIR is
 * unset.  Prints "t4-index: cases=... lookups=... violations=0".
 */
#include "helpers.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOPIC "t"
#define T0 INT64_C(1700000000000)
#define MAXREC 2048
#define NSEG 3

static struct {
    long cases, seeks, times, viol;
    int full;
} st;

static struct {
    char pristine[4096], work[4096];
    int64_t n;              /* records in partition 0 */
    int64_t bases[NSEG];    /* segment base offsets of partition 0 */
    int64_t bases1[NSEG];   /* of partition 1 */
} x;

static int64_t rec_ts(int64_t off)
{
    return T0 + off * 10 - (off % 5 == 3 ? 35 : 0);
}

static size_t rec_vlen(int64_t off)
{
    return (size_t)(20 + off % 17);
}

static uint8_t rec_vbyte(int64_t off, size_t j)
{
    return (uint8_t)(off * 131 + (int64_t)j * 7 + 3);
}

/* Append one batch of nrec records at offset first (expected base). */
static void append_batch(crawllog_t *log, int32_t p, int64_t first,
                         size_t nrec)
{
    crawllog_record_t r[4] = {{0}};
    uint8_t v[4][64];
    int64_t base = -1;
    for (size_t i = 0; i < nrec; i++) {
        int64_t off = first + (int64_t)i;
        for (size_t j = 0; j < rec_vlen(off); j++) {
            v[i][j] = rec_vbyte(off, j);
        }
        memset(&r[i], 0, sizeof(r[i]));
        r[i].value = v[i];
        r[i].value_len = rec_vlen(off);
        r[i].timestamp = rec_ts(off);
    }
    int rc = crawllog_append(log, TOPIC, p, r, nrec, CRAWLLOG_SYNC_WRITTEN,
                             &base);
    assert_crawllog_ok_log(log, rc);
    assert_int_equal(base, first);
}

static int64_t scan_time(int64_t n, int64_t ts)
{
    for (int64_t off = 0; off < n; off++) {
        if (rec_ts(off) >= ts) {
            return off;
        }
    }
    return n;
}

static void violation(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void violation(const char *what, const char *fmt, ...)
{
    va_list ap;
    if (st.viol++ < 30) {
        printf("VIOLATION %s: ", what);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
}

/* Is msg the record at off? */
static int msg_ok(const crawllog_msg_t *msg, int64_t off)
{
    size_t len = 0;
    if (msg == NULL || crawllog_msg_offset(msg) != off ||
        crawllog_msg_timestamp(msg) != rec_ts(off)) {
        return 0;
    }
    const uint8_t *v = crawllog_msg_value(msg, &len);
    if (len != rec_vlen(off)) {
        return 0;
    }
    for (size_t j = 0; j < len; j++) {
        if (v[j] != rec_vbyte(off, j)) {
            return 0;
        }
    }
    return 1;
}

/* Every offset and every timestamp lookup against the model of n records;
 * returns the number of violations found. */
static long check_lookups(crawllog_t *log, int64_t n, const char *what)
{
    crawllog_reader_t *rd;
    const crawllog_msg_t *msg;
    long v0 = st.viol;
    int64_t s = -1, e = -1;
    assert_crawllog_ok(crawllog_partition_offsets(log, TOPIC, 0, &s, &e));
    if (s != 0 || e != n) {
        violation(what, "offsets [%" PRId64 ", %" PRId64 ")", s, e);
        return 1;
    }
    assert_crawllog_ok(crawllog_reader_new(&rd, log, TOPIC, 0));
    for (int64_t off = n - 1; off >= 0; off--) {
        msg = NULL;
        int rc = crawllog_reader_seek(rd, off);
        if (rc == 0) {
            rc = crawllog_reader_next(rd, &msg);
        }
        st.seeks++;
        if (rc != 0 || !msg_ok(msg, off)) {
            violation(what, "seek %" PRId64 ": %s (%s), got %" PRId64, off,
                      crawllog_err_name(rc), crawllog_reader_errmsg(rd),
                      msg ? crawllog_msg_offset(msg) : -1);
            break;
        }
    }
    for (int64_t off = 0; off <= n && st.viol == v0; off++) {
        int64_t base = off < n ? rec_ts(off) : rec_ts(n - 1) + 100;
        for (int64_t d = -1; d <= 1; d++) {
            int64_t got = -2, want = scan_time(n, base + d);
            int rc = crawllog_reader_seek_time(rd, base + d, &got);
            st.times++;
            msg = NULL;
            if (rc == 0 && want < n) {
                rc = crawllog_reader_next(rd, &msg);
            }
            if (rc != 0 || got != want || (want < n && !msg_ok(msg, want))) {
                violation(what, "seek_time %" PRId64 ": %s (%s), got %"
                          PRId64 ", scan says %" PRId64, base + d,
                          crawllog_err_name(rc), crawllog_reader_errmsg(rd),
                          got, want);
                break;
            }
        }
    }
    crawllog_reader_destroy(rd);
    return st.viol - v0;
}

/* ---------------------------------------------------------------------- */
/* Pristine data                                                           */
/* ---------------------------------------------------------------------- */

static char *idx_path(char *buf, size_t n, const char *dir, int32_t p,
                      int64_t base, int k)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "topics/" TOPIC "/%d/%020" PRId64 "%s", p,
             base, k ? ".timeindex" : ".index");
    return cl_test_path(buf, n, dir, rel);
}

static void list_bases(const char *dir, int32_t p, int64_t *bases)
{
    struct cl_test_seglist *sl = cl_test_segments(dir, TOPIC, p);
    assert_true(sl->n >= NSEG);
    for (int i = 0; i < NSEG; i++) {
        bases[i] = sl->base[i];
    }
    free(sl);
}

static void build(void)
{
    crawllog_t *log = cl_test_open(x.pristine, NULL);
    cl_test_create_topic(log, TOPIC, 2, "segment.bytes", "4096",
                         "index.interval.bytes", "100", NULL);
    int64_t n1 = 0, active_from = -1;
    x.n = 0;
    for (int i = 0;; i++) {
        size_t nrec = (size_t)(1 + i % 3);
        append_batch(log, 0, x.n, nrec);
        x.n += (int64_t)nrec;
        append_batch(log, 1, n1, (size_t)(3 - i % 2));
        n1 += 3 - i % 2;
        struct cl_test_seglist *sl = cl_test_segments(x.pristine, TOPIC, 0);
        size_t cnt = sl->n;
        free(sl);
        if (cnt == NSEG && active_from < 0) {
            active_from = x.n;
        }
        if (active_from >= 0 && x.n - active_from >= 30) {
            break; /* the active segment holds a few dozen records */
        }
        assert_true(cnt <= NSEG && x.n < MAXREC - 8);
    }
    assert_crawllog_ok(crawllog_close(log));
    list_bases(x.pristine, 0, x.bases);
    list_bases(x.pristine, 1, x.bases1);
    cl_test_expect_verify_clean(x.pristine);
    char path[4096];
    printf("records %" PRId64 ":", x.n);
    for (int s = 0; s < NSEG; s++) {
        for (int k = 0; k < 2; k++) {
            printf(" %" PRId64 "%s=%zu", x.bases[s], k ? "t" : "i",
                   cl_test_file_size(idx_path(path, sizeof(path),
                                              x.pristine, 0, x.bases[s], k)));
        }
    }
    printf("\n");
}

/* Open the damaged copy, check, append one batch, check again. */
static void run_case(const char *what)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_t *log = NULL;
    st.cases++;
    int rc = crawllog_open(&log, x.work, NULL, err, sizeof(err));
    if (rc != 0) {
        violation(what, "open: %s: %s", crawllog_err_name(rc), err);
        return;
    }
    if (check_lookups(log, x.n, what) == 0) {
        append_batch(log, 0, x.n, 2);
        if (st.full || st.cases % 16 == 0) {
            check_lookups(log, x.n + 2, what);
        }
    }
    assert_crawllog_ok(crawllog_close(log));
}

static void restore(void)
{
    cl_test_rmrf(x.work);
    cl_test_copy_tree(x.pristine, x.work);
}

static int setup(void **state)
{
    if (cl_test_fast_tmpdir_setup(state) != 0) {
        return -1;
    }
    st.full = getenv("CL_T4_FULL") && atoi(getenv("CL_T4_FULL")) > 0;
    cl_test_path(x.pristine, sizeof(x.pristine), CL_TEST_DIR(state), "p");
    cl_test_path(x.work, sizeof(x.work), CL_TEST_DIR(state), "w");
    build();
    return 0;
}

static int teardown(void **state)
{
    printf("t4-index: cases=%ld lookups=%ld (seek %ld, seek_time %ld) "
           "violations=%ld\n", st.cases, st.seeks + st.times, st.seeks,
           st.times, st.viol);
    return cl_test_tmpdir_teardown(state);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

static int sampled(size_t pos, size_t size)
{
    return st.full || pos < 40 || pos + 24 >= size || pos % 7 == 0;
}

/* Every cut, and every byte XOR 0x01 / XOR 0xff / = 0, of each index file
 * of each segment (the last one is active). */
static void test_index_bytes(void **state)
{
    (void)state;
    char path[4096], what[160];
    long v0 = st.viol;
    for (int s = 0; s < NSEG; s++) {
        for (int k = 0; k < 2; k++) {
            size_t size = cl_test_file_size(
                idx_path(path, sizeof(path), x.pristine, 0, x.bases[s], k));
            assert_true(size >= (k ? 12u : 8u) * 6);
            for (size_t pos = 0; pos <= size; pos++) {
                if (!sampled(pos, size)) {
                    continue;
                }
                for (int kind = 0; kind < 4; kind++) {
                    if (pos == size && kind > 0) {
                        break;
                    }
                    restore();
                    idx_path(path, sizeof(path), x.work, 0, x.bases[s], k);
                    int n = snprintf(what, sizeof(what), "segment %d%s %s ",
                                     s, s == NSEG - 1 ? " (active)" : "",
                                     k ? ".timeindex" : ".index");
                    if (kind == 0) {
                        cl_test_truncate(path, (off_t)pos);
                        snprintf(what + n, sizeof(what) - (size_t)n,
                                 "cut at %zu", pos);
                    } else if (kind < 3) {
                        uint8_t m = kind == 1 ? 0x01 : 0xff;
                        cl_test_flip_byte(path, (off_t)pos, m);
                        snprintf(what + n, sizeof(what) - (size_t)n,
                                 "byte %zu ^ 0x%02x", pos, m);
                    } else {
                        uint8_t *b = cl_test_read_file(path, NULL);
                        int same = b[pos] == 0;
                        b[pos] = 0;
                        cl_test_write_file(path, b, size);
                        free(b);
                        if (same) {
                            continue;
                        }
                        snprintf(what + n, sizeof(what) - (size_t)n,
                                 "byte %zu = 0", pos);
                    }
                    run_case(what);
                }
            }
        }
    }
    assert_int_equal(st.viol, v0);
}

/* Whole-file damage and swaps. */
static void test_index_whole_files(void **state)
{
    (void)state;
    char a[4096], b[4096], what[160];
    long v0 = st.viol;
    for (int s = 0; s < NSEG; s++) {
        for (int k = 0; k < 3; k++) { /* .index, .timeindex, both */
            for (int how = 0; how < 5; how++) {
                restore();
                for (int f = 0; f < 2; f++) {
                    if (k != 2 && k != f) {
                        continue;
                    }
                    idx_path(a, sizeof(a), x.work, 0, x.bases[s], f);
                    size_t size = cl_test_file_size(a);
                    if (how == 0) {
                        cl_test_check(unlink(a) == 0);
                    } else if (how == 1) {
                        cl_test_truncate(a, 0);
                    } else if (how == 2) {
                        uint8_t *z = calloc(1, size + 1);
                        cl_test_write_file(a, z, size);
                        free(z);
                    } else if (how == 3) { /* next segment's (wrapping) */
                        idx_path(b, sizeof(b), x.pristine, 0,
                                 x.bases[(s + 1) % NSEG], f);
                        cl_test_copy_tree(b, a);
                    } else { /* partition 1's segment s */
                        idx_path(b, sizeof(b), x.pristine, 1, x.bases1[s],
                                 f);
                        cl_test_copy_tree(b, a);
                    }
                }
                static const char *const hows[] = {
                    "deleted", "emptied", "zero-filled",
                    "replaced by the next segment's",
                    "replaced by partition 1's"};
                snprintf(what, sizeof(what), "segment %d %s %s", s,
                         k == 0 ? ".index" : k == 1 ? ".timeindex" : "both",
                         hows[how]);
                run_case(what);
            }
        }
    }
    /* Every segment's indexes rotated one segment on. */
    restore();
    for (int f = 0; f < 2; f++) {
        for (int s = 0; s < NSEG; s++) {
            idx_path(a, sizeof(a), x.work, 0, x.bases[s], f);
            idx_path(b, sizeof(b), x.pristine, 0, x.bases[(s + 1) % NSEG],
                     f);
            cl_test_copy_tree(b, a);
        }
    }
    run_case("all indexes rotated");
    assert_int_equal(st.viol, v0);
}

int main(void)
{
    if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK | X_OK) == 0) {
        setenv("TMPDIR", "/dev/shm", 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_whole_files),
        cmocka_unit_test(test_index_bytes),
    };
    return cmocka_run_group_tests_name("corrupt_index", tests, setup,
                                       teardown);
}
