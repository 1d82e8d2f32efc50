/*
 * test_api_retention.c - retention and time-based rolls through the public
 * API (crawllog_maintain): deletion by record age (retention.ms) and by
 * partition size (retention.bytes) with Kafka's rules, the active segment
 * never deleted, the log start offset moving (and surviving a reopen),
 * readers of deleted data getting CRAWLLOG_EOFFSET, segment.ms rolls, and
 * readers in another handle (and another thread) reading while retention
 * deletes under them: correct records or CRAWLLOG_EOFFSET, never garbage.
 *
 * Only crawllog.h and tests/helpers.h are used.  Segments are observed
 * through their file names (<20-digit base offset>.log, .index,
 * .timeindex: docs/FORMAT.md) and sizes.  Every record's value is a
 * function of its offset, so any record read can be checked on its own.
 */
#include "helpers.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000
#define VALUE_LEN 200

/* ---------------------------------------------------------------------- */
/* Utilities                                                               */
/* ---------------------------------------------------------------------- */

static void offsets(crawllog_t *log, const char *topic, int64_t *start,
                    int64_t *end)
{
    assert_crawllog_ok_log(
        log, crawllog_partition_offsets(log, topic, 0, start, end));
}

/* The value of the record at offset off: its offset, then a pattern. */
static void make_value(char *buf, int64_t off)
{
    int n = snprintf(buf, VALUE_LEN + 1, "%020" PRId64 "|", off);
    for (int i = n; i < VALUE_LEN; i++) {
        buf[i] = (char)('a' + (off + i) % 26);
    }
    buf[VALUE_LEN] = '\0';
}

/* 1 if msg is the record the tests wrote at its offset. */
static int msg_ok(const crawllog_msg_t *msg)
{
    char want[VALUE_LEN + 1];
    size_t len = 0;
    const void *v = crawllog_msg_value(msg, &len);
    make_value(want, crawllog_msg_offset(msg));
    return v != NULL && len == VALUE_LEN && memcmp(v, want, len) == 0;
}

/* Append count 1-record batches (timestamp ts, -1: now); the caller is the
 * only writer, so each base must be the log end. */
static void append_n(crawllog_t *log, const char *topic, int count, int64_t ts)
{
    char value[VALUE_LEN + 1];
    int64_t start, end, base = -2;
    offsets(log, topic, &start, &end);
    for (int i = 0; i < count; i++, end++) {
        make_value(value, end);
        crawllog_record_t r = {"k", 1, value, VALUE_LEN, ts, NULL, 0};
        assert_crawllog_ok_log(log,
                               crawllog_append(log, topic, 0, &r, 1,
                                               CRAWLLOG_SYNC_WRITTEN, &base));
        cl_test_checkf(base == end, "append base %" PRId64 ", want %" PRId64,
                       base, end);
    }
}

/* Read [from, end) with a new reader, checking every record. */
static void read_range(crawllog_t *log, const char *topic, int64_t from,
                       int64_t end)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *msg = NULL;
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, topic, 0));
    assert_int_equal(crawllog_reader_position(rd), from);
    for (int64_t off = from; off < end; off++) {
        msg = cl_test_next_msg(rd);
        cl_test_checkf(crawllog_msg_offset(msg) == off && msg_ok(msg),
                       "record at %" PRId64 " (offset %" PRId64 ") is wrong",
                       off, crawllog_msg_offset(msg));
    }
    assert_crawllog_ok(crawllog_reader_next(rd, &msg));
    assert_null(msg);
    crawllog_reader_destroy(rd);
}

static int64_t maintain(crawllog_t *log)
{
    int64_t deleted = -5;
    assert_crawllog_ok_log(log, crawllog_maintain(log, &deleted));
    return deleted;
}

/* ---------------------------------------------------------------------- */
/* Segment files                                                           */
/* ---------------------------------------------------------------------- */

static void seg_path(char *buf, size_t size, const char *dir, const char *topic,
                     int64_t base, const char *sfx)
{
    int n = snprintf(buf, size, "%s/topics/%s/0/%020" PRId64 "%s", dir, topic,
                     base, sfx);
    cl_test_checkf(n > 0 && (size_t)n < size, "path too long");
}

/* The number of segments of topic (partition 0). */
static size_t segment_count(const char *dir, const char *topic)
{
    struct cl_test_seglist *sl = cl_test_segments(dir, topic, 0);
    size_t n = sl->n;
    free(sl);
    return n;
}

/* after must be before without its first k segments, sizes unchanged
 * except the active (last) one's. */
static void expect_suffix(const struct cl_test_seglist *before,
                          const struct cl_test_seglist *after, size_t k)
{
    cl_test_checkf(after->n + k == before->n,
                   "%zu segments left of %zu, want %zu", after->n, before->n,
                   before->n - k);
    for (size_t i = 0; i < after->n; i++) {
        cl_test_checkf(after->base[i] == before->base[k + i] &&
                           after->size[i] == before->size[k + i],
                       "segment %zu: %" PRId64 " (%" PRIu64
                       " bytes), want %" PRId64 " (%" PRIu64 ")",
                       i, after->base[i], after->size[i], before->base[k + i],
                       before->size[k + i]);
    }
}

/* The three files of each of the first k segments are gone. */
static void expect_files_gone(const char *dir, const char *topic,
                              const struct cl_test_seglist *before, size_t k)
{
    static const char *const sfx[] = {".log", ".index", ".timeindex"};
    char path[4200];
    for (size_t i = 0; i < before->n; i++) {
        for (size_t s = 0; s < 3; s++) {
            seg_path(path, sizeof(path), dir, topic, before->base[i], sfx[s]);
            if (i < k) {
                cl_test_checkf(!cl_test_exists(path), "%s still exists", path);
            } else if (s == 0) {
                cl_test_checkf(cl_test_exists(path), "%s was deleted", path);
            }
        }
    }
}

/* ---------------------------------------------------------------------- */
/* retention.ms                                                            */
/* ---------------------------------------------------------------------- */

/* Old records (2 h, timestamps not monotonic) over several segments, then
 * recent ones: maintain deletes exactly the sealed segments holding only
 * old records; the log start moves to the first kept segment. */
static void test_api_retention_by_time(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_reader_t *early = NULL, *rd = NULL;
    const crawllog_msg_t *msg;
    int64_t old = cl_test_now_ms() - 2 * HOUR_MS, start, end, end0, got;
    cl_test_create_topic(log, "t", 1, "segment.bytes", "4096", "retention.ms",
                         "60000", NULL);
    for (int i = 0; i < 60; i++) {
        append_n(log, "t", 1, old + (i % 7) * 1000 - (i % 3) * 5000);
    }
    offsets(log, "t", &start, &end0); /* old records: [0, end0) */
    append_n(log, "t", 20, -1);
    offsets(log, "t", &start, &end);
    struct cl_test_seglist *before = cl_test_segments(dir, "t", 0);
    size_t k = 0; /* leading sealed segments holding only old records */
    while (k + 1 < before->n && before->base[k + 1] <= end0) {
        k++;
    }
    cl_test_checkf(k >= 2, "only %zu old sealed segments of %zu", k, before->n);
    assert_crawllog_ok(crawllog_reader_new(&early, log, "t", 0));
    assert_int_equal(maintain(log), (int64_t)k);
    struct cl_test_seglist *after = cl_test_segments(dir, "t", 0);
    expect_suffix(before, after, k);
    expect_files_gone(dir, "t", before, k);
    int64_t s2, e2;
    offsets(log, "t", &s2, &e2);
    assert_int_equal(s2, before->base[k]);
    assert_int_equal(e2, end);
    read_range(log, "t", s2, end);
    /* Deleted positions: EOFFSET. */
    assert_crawllog_rc(crawllog_reader_next(early, &msg), CRAWLLOG_EOFFSET);
    assert_null(msg);
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", 0));
    assert_crawllog_rc(crawllog_reader_seek(rd, 0), CRAWLLOG_EOFFSET);
    assert_crawllog_rc(crawllog_reader_seek(rd, s2 - 1), CRAWLLOG_EOFFSET);
    assert_crawllog_ok(crawllog_reader_seek_time(rd, 0, &got));
    assert_int_equal(got, s2);
    msg = cl_test_next_msg(rd);
    cl_test_checkf(crawllog_msg_offset(msg) == s2 && msg_ok(msg), "first kept");
    crawllog_reader_destroy(rd);
    crawllog_reader_destroy(early);
    assert_int_equal(maintain(log), 0);
    assert_crawllog_ok(crawllog_close(log));
    /* The log start survives a reopen; appends go on from the end. */
    log = cl_test_open(dir, NULL);
    offsets(log, "t", &start, &end);
    assert_int_equal(start, s2);
    assert_int_equal(end, e2);
    read_range(log, "t", s2, end);
    append_n(log, "t", 3, -1);
    assert_int_equal(maintain(log), 0);
    free(before);
    free(after);
    cl_test_close_verify(log, dir);
}

/* All records old: every sealed segment goes, the active one stays (and a
 * partition of one segment loses nothing). */
static void test_api_retention_active_never_deleted(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    int64_t old = cl_test_now_ms() - 2 * HOUR_MS, start, end;
    cl_test_create_topic(log, "all", 1, "segment.bytes", "4096", "retention.ms",
                         "60000", NULL);
    cl_test_create_topic(log, "one", 1, "segment.bytes", "4096", "retention.ms",
                         "60000", NULL);
    append_n(log, "all", 70, old);
    append_n(log, "one", 3, old);
    struct cl_test_seglist *before = cl_test_segments(dir, "all", 0);
    cl_test_checkf(before->n >= 3, "only %zu segments", before->n);
    assert_int_equal(maintain(log), (int64_t)before->n - 1);
    struct cl_test_seglist *after = cl_test_segments(dir, "all", 0);
    expect_suffix(before, after, before->n - 1);
    offsets(log, "all", &start, &end);
    assert_int_equal(start, before->base[before->n - 1]);
    assert_int_equal(end, 70);
    read_range(log, "all", start, end);
    offsets(log, "one", &start, &end);
    assert_int_equal(start, 0);
    assert_int_equal(end, 3);
    read_range(log, "one", 0, 3);
    assert_int_equal(maintain(log), 0);
    /* Recent records: if they roll, the old active segment is sealed and
     * goes at the next maintain. */
    append_n(log, "all", 2, -1);
    free(after);
    after = cl_test_segments(dir, "all", 0);
    size_t k = 0;
    while (k + 1 < after->n && after->base[k + 1] <= 70) {
        k++;
    }
    assert_int_equal(maintain(log), (int64_t)k);
    offsets(log, "all", &start, &end);
    assert_int_equal(start, after->base[k]);
    read_range(log, "all", start, 72);
    free(before);
    free(after);
    cl_test_close_verify(log, dir);
}

/* retention.ms=-1 and retention.bytes=-1 (and the 7-day default with
 * 2-hour-old records) delete nothing. */
static void test_api_retention_disabled(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    int64_t old = cl_test_now_ms() - 2 * HOUR_MS;
    cl_test_create_topic(log, "off", 1, "segment.bytes", "4096", "retention.ms",
                         "-1", "retention.bytes", "-1", NULL);
    cl_test_create_topic(log, "dflt", 1, "segment.bytes", "4096", NULL);
    append_n(log, "off", 60, 1000); /* 1970 */
    append_n(log, "dflt", 60, old);
    struct cl_test_seglist *b1 = cl_test_segments(dir, "off", 0);
    struct cl_test_seglist *b2 = cl_test_segments(dir, "dflt", 0);
    cl_test_checkf(b1->n >= 3 && b2->n >= 3, "%zu, %zu segments", b1->n, b2->n);
    assert_int_equal(maintain(log), 0);
    struct cl_test_seglist *a1 = cl_test_segments(dir, "off", 0);
    struct cl_test_seglist *a2 = cl_test_segments(dir, "dflt", 0);
    expect_suffix(b1, a1, 0);
    expect_suffix(b2, a2, 0);
    read_range(log, "off", 0, 60);
    read_range(log, "dflt", 0, 60);
    free(b1);
    free(b2);
    free(a1);
    free(a2);
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* retention.bytes                                                         */
/* ---------------------------------------------------------------------- */

/* Kafka's rule over the .log sizes: delete the oldest sealed segment while
 * the partition without it is still >= limit. */
static size_t size_rule(const struct cl_test_seglist *sl, uint64_t limit)
{
    uint64_t total = 0;
    size_t k = 0;
    for (size_t i = 0; i < sl->n; i++) {
        total += sl->size[i];
    }
    while (k + 1 < sl->n && total - sl->size[k] >= limit) {
        total -= sl->size[k++];
    }
    return k;
}

static void check_size_retention(const char *dir, crawllog_t *log,
                                 const char *topic, uint64_t limit,
                                 const struct cl_test_seglist *before, size_t k)
{
    struct cl_test_seglist *after = cl_test_segments(dir, topic, 0);
    uint64_t total = 0;
    int64_t start, end;
    expect_suffix(before, after, k);
    expect_files_gone(dir, topic, before, k);
    for (size_t i = 0; i < after->n; i++) {
        total += after->size[i];
    }
    cl_test_checkf(after->n == 1 || total - after->size[0] < limit,
                   "%s: %" PRIu64
                   " bytes minus the oldest segment is still >= %" PRIu64,
                   topic, total, limit);
    cl_test_checkf(k == 0 || total >= limit,
                   "%s: deleted too much: %" PRIu64
                   " bytes left, limit %" PRIu64,
                   topic, total, limit);
    offsets(log, topic, &start, &end);
    assert_int_equal(start, after->base[0]);
    read_range(log, topic, start, end);
    free(after);
}

static void test_api_retention_by_size(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "sz", 1, "segment.bytes", "4096",
                         "retention.bytes", "10000", "retention.ms", "-1",
                         NULL);
    cl_test_create_topic(log, "sz0", 1, "segment.bytes", "4096",
                         "retention.bytes", "0", NULL);
    cl_test_create_topic(log, "big", 1, "segment.bytes", "4096",
                         "retention.bytes", "100000000", NULL);
    append_n(log, "sz", 80, -1);
    append_n(log, "sz0", 40, -1);
    append_n(log, "big", 40, -1);
    struct cl_test_seglist *b1 = cl_test_segments(dir, "sz", 0);
    struct cl_test_seglist *b2 = cl_test_segments(dir, "sz0", 0);
    struct cl_test_seglist *b3 = cl_test_segments(dir, "big", 0);
    size_t k1 = size_rule(b1, 10000), k2 = b2->n - 1;
    cl_test_checkf(k1 >= 2 && k1 + 2 <= b1->n, "size rule deletes %zu of %zu",
                   k1, b1->n);
    cl_test_checkf(k2 >= 2 && size_rule(b2, 0) == k2, "%zu segments", b2->n);
    assert_int_equal(maintain(log), (int64_t)(k1 + k2));
    check_size_retention(dir, log, "sz", 10000, b1, k1);
    check_size_retention(dir, log, "sz0", 0, b2, k2);
    check_size_retention(dir, log, "big", 100000000, b3, 0);
    assert_int_equal(maintain(log), 0);
    /* More data: retention follows it. */
    append_n(log, "sz", 30, -1);
    free(b1);
    b1 = cl_test_segments(dir, "sz", 0);
    k1 = size_rule(b1, 10000);
    cl_test_checkf(k1 >= 1, "30 more records rolled nothing over the limit");
    assert_int_equal(maintain(log), (int64_t)k1);
    check_size_retention(dir, log, "sz", 10000, b1, k1);
    free(b1);
    free(b2);
    free(b3);
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* segment.ms                                                              */
/* ---------------------------------------------------------------------- */

static void test_api_retention_segment_ms_roll(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    char path[4200];
    struct cl_test_seglist *sl;
    cl_test_create_topic(log, "sm", 1, "segment.ms", "1", NULL);
    cl_test_create_topic(log, "keep", 1, NULL);
    append_n(log, "sm", 1, -1);
    append_n(log, "keep", 1, -1);
    cl_test_sleep_ms(5);
    assert_int_equal(maintain(log), 0);
    sl = cl_test_segments(dir, "sm", 0);
    cl_test_checkf(sl->n == 2 && sl->base[0] == 0 && sl->base[1] == 1,
                   "after the roll: %zu segments", sl->n);
    free(sl);
    assert_int_equal(segment_count(dir, "keep"), 1); /* default: no roll */
    /* An empty active segment is not rolled. */
    cl_test_sleep_ms(5);
    assert_int_equal(maintain(log), 0);
    assert_int_equal(segment_count(dir, "sm"), 2);
    seg_path(path, sizeof(path), dir, "sm", 2, ".log");
    assert_false(cl_test_exists(path));
    /* The next append goes into it; then it is old enough to roll. */
    append_n(log, "sm", 1, -1);
    assert_int_equal(segment_count(dir, "sm"), 2);
    cl_test_sleep_ms(5);
    assert_int_equal(maintain(log), 0);
    sl = cl_test_segments(dir, "sm", 0);
    cl_test_checkf(sl->n == 3 && sl->base[2] == 2, "%zu segments", sl->n);
    free(sl);
    read_range(log, "sm", 0, 2);
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* Readers while retention deletes                                         */
/* ---------------------------------------------------------------------- */

/* A failed check in reader_step: a cmocka failure in the test's thread,
 * print and abort in another. */
static void rcheck_at(int in_thread, int ok, const char *file, int line,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (ok) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!in_thread) {
        cl_test_failf_at(file, line, "%s", msg);
    }
    fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    abort();
}

#define RCHECK(th, cond, ...)                                                  \
    rcheck_at((th), (cond), __FILE__, __LINE__, __VA_ARGS__)

enum { STEP_END, STEP_RECORD, STEP_EOFFSET };

/* One step of a reader that must see, in order, each record after *last,
 * or CRAWLLOG_EOFFSET when retention deleted its position; then it seeks
 * to the log start (and the record after that is the next one due). */
static int reader_step(crawllog_t *log, crawllog_reader_t *rd, int64_t *last,
                       int *eoffsets, int th)
{
    const crawllog_msg_t *msg = NULL;
    int rc = crawllog_reader_next(rd, &msg);
    if (rc == CRAWLLOG_EOFFSET) {
        int64_t start = -1, end;
        (*eoffsets)++;
        RCHECK(th, msg == NULL, "EOFFSET with a message");
        rc = crawllog_partition_offsets(log, "cr", 0, &start, &end);
        RCHECK(th, rc == 0 && start > *last + 1,
               "EOFFSET at %" PRId64 " but the log start is %" PRId64,
               *last + 1, start);
        rc = crawllog_reader_seek(rd, start);
        RCHECK(th, rc == 0 || rc == CRAWLLOG_EOFFSET, "seek: %s",
               crawllog_err_name(rc));
        if (rc == 0) {
            *last = start - 1;
        }
        return STEP_EOFFSET;
    }
    RCHECK(th, rc == 0, "reader_next: %s: %s", crawllog_err_name(rc),
           crawllog_reader_errmsg(rd));
    if (msg == NULL) {
        return STEP_END;
    }
    int64_t off = crawllog_msg_offset(msg);
    RCHECK(th, off == *last + 1 && msg_ok(msg),
           "reader got offset %" PRId64 " after %" PRId64 "%s", off, *last,
           msg_ok(msg) ? "" : ", with a wrong value");
    *last = off;
    return STEP_RECORD;
}

/* Handle b reads a few records per round while handle a appends and runs
 * retention: the reader keeps what it has open or gets EOFFSET. */
static void test_api_retention_reader_in_other_handle(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *a = cl_test_open(dir, NULL), *b = cl_test_open(dir, NULL);
    crawllog_reader_t *rd = NULL;
    int64_t last = -1, deleted = 0, start, end;
    int eoffsets = 0;
    cl_test_create_topic(a, "cr", 1, "segment.bytes", "4096", "retention.bytes",
                         "8192", "retention.ms", "-1", NULL);
    append_n(a, "cr", 10, -1);
    assert_crawllog_ok(crawllog_reader_new(&rd, b, "cr", 0));
    for (int round = 0; round < 12; round++) {
        append_n(a, "cr", 40, -1);
        for (int i = 0; i < 7; i++) {
            reader_step(b, rd, &last, &eoffsets, 0);
        }
        deleted += maintain(a);
    }
    while (reader_step(b, rd, &last, &eoffsets, 0) != STEP_END) {
    }
    offsets(b, "cr", &start, &end);
    assert_int_equal(last, end - 1);
    cl_test_checkf(deleted >= 10, "only %" PRId64 " segments deleted", deleted);
    cl_test_checkf(eoffsets >= 1, "the reader never met deleted data");
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_close(a));
    assert_crawllog_ok(crawllog_close(b));
    cl_test_expect_verify_clean(dir);
}

struct conc {
    crawllog_t *a, *b;
    int appends;
    int done; /* set by the writer (under mu) */
    int64_t final_end;
    pthread_mutex_t mu;
};

static void *conc_writer(void *p)
{
    struct conc *c = p;
    char value[VALUE_LEN + 1];
    for (int i = 0; i < c->appends; i++) {
        int64_t base = -2;
        make_value(value, i);
        crawllog_record_t r = {"k", 1, value, VALUE_LEN, -1, NULL, 0};
        int rc =
            crawllog_append(c->a, "cr", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, &base);
        cl_test_thread_check(rc == 0 && base == i,
                             "append %d: %s, base %" PRId64, i,
                             crawllog_err_name(rc), base);
        if (i % 100 == 99) {
            cl_test_sleep_ms(2);
        }
        if (i % 10 == 9) {
            int64_t deleted;
            rc = crawllog_maintain(c->a, &deleted);
            cl_test_thread_check(rc == 0, "maintain: %s: %s",
                                 crawllog_err_name(rc), crawllog_errmsg(c->a));
        }
    }
    pthread_mutex_lock(&c->mu);
    c->done = 1;
    c->final_end = c->appends;
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

struct conc_res {
    int64_t last;
    int eoffsets;
    long records;
};

static void *conc_reader(void *p)
{
    struct conc *c = p;
    struct conc_res *res = calloc(1, sizeof(*res));
    crawllog_reader_t *rd = NULL;
    cl_test_thread_check(res != NULL, "calloc");
    res->last = -1;
    int rc = crawllog_reader_new(&rd, c->b, "cr", 0);
    cl_test_thread_check(rc == 0, "reader_new: %s", crawllog_err_name(rc));
    for (;;) {
        int step = reader_step(c->b, rd, &res->last, &res->eoffsets, 1);
        if (step != STEP_END) {
            res->records += step == STEP_RECORD;
            if (res->records % 2 == 0) {
                cl_test_sleep_ms(2); /* fall behind the writer */
            }
            continue;
        }
        pthread_mutex_lock(&c->mu);
        int done = c->done;
        int64_t end = c->final_end;
        pthread_mutex_unlock(&c->mu);
        if (done && res->last == end - 1) {
            break;
        }
        cl_test_sleep_ms(1);
    }
    crawllog_reader_destroy(rd);
    return res;
}

/* The same with a writer thread (appends + maintain, handle a) and a
 * reader thread (handle b) running at once. */
static void test_api_retention_reader_concurrent(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct conc c = {NULL, NULL, 600, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t w, r;
    void *out = NULL;
    c.a = cl_test_open(dir, NULL);
    c.b = cl_test_open(dir, NULL);
    cl_test_create_topic(c.a, "cr", 1, "segment.bytes", "4096",
                         "retention.bytes", "8192", "retention.ms", "-1", NULL);
    assert_int_equal(pthread_create(&r, NULL, conc_reader, &c), 0);
    assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
    assert_int_equal(pthread_join(w, NULL), 0);
    assert_int_equal(pthread_join(r, &out), 0);
    struct conc_res *res = out;
    assert_non_null(res);
    assert_int_equal(res->last, c.appends - 1);
    print_message("reader: %ld records, %d EOFFSET\n", res->records,
                  res->eoffsets);
    int64_t start, end;
    offsets(c.b, "cr", &start, &end);
    assert_int_equal(end, c.appends);
    cl_test_checkf(start > 0, "retention never ran");
    free(res);
    pthread_mutex_destroy(&c.mu);
    assert_crawllog_ok(crawllog_close(c.a));
    assert_crawllog_ok(crawllog_close(c.b));
    cl_test_expect_verify_clean(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_api_retention_by_time),
        cl_test_unit_tmpdir(test_api_retention_active_never_deleted),
        cl_test_unit_tmpdir(test_api_retention_disabled),
        cl_test_unit_tmpdir(test_api_retention_by_size),
        cl_test_unit_tmpdir(test_api_retention_segment_ms_roll),
        cl_test_unit_tmpdir(test_api_retention_reader_in_other_handle),
        cl_test_unit_tmpdir(test_api_retention_reader_concurrent),
    };
    return cmocka_run_group_tests_name("api_retention", tests, NULL, NULL);
}
