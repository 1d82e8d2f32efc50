/*
 * test_api_log.c - the public log API (crawllog.h) end to end, on a
 * temporary data directory: open/close, topics, append in every sync mode,
 * flush, offsets, readers (next, seek, seek_time, fetch), the message
 * accessors, misuse with NULL and out-of-range arguments, error messages,
 * several handles on one directory and several threads on one partition.
 *
 * Only crawllog.h and tests/helpers.h are used: no internal header.  What
 * was written is checked against an in-memory model built from a seeded
 * PRNG (SEED=N replays a run).  The on-disk layout is looked at only where
 * docs/FORMAT.md documents it: segment files are named by their 20-digit
 * base offset with the suffix .log and start with a 64-byte header, and
 * crawllog_reader_fetch() returns RecordBatch v2 bytes.
 */
#include "helpers.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SEG_HEADER_SIZE 64 /* docs/FORMAT.md: segment file header */
#define BATCH_OVERHEAD 12  /* baseOffset + batchLength */
#define BATCH_HEADER 61    /* RecordBatch v2 fixed part */

/* ---------------------------------------------------------------------- */
/* Small utilities                                                         */
/* ---------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* CRC-32C (Castagnoli, reflected 0x82F63B78), bit by bit: an independent
 * implementation to check what fetch returns. */
static uint32_t crc32c(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        }
    }
    return c ^ 0xFFFFFFFFu;
}

static void create_topic(crawllog_t *log, const char *topic, int32_t parts,
                         const crawllog_conf_t *tconf)
{
    assert_crawllog_ok_log(log,
                           crawllog_topic_create(log, topic, parts, tconf));
}

static void offsets(crawllog_t *log, const char *topic, int32_t p,
                    int64_t *start, int64_t *end)
{
    assert_crawllog_ok_log(
        log, crawllog_partition_offsets(log, topic, p, start, end));
}

static int64_t log_end(crawllog_t *log, const char *topic, int32_t p)
{
    int64_t start, end;
    offsets(log, topic, p, &start, &end);
    return end;
}

/* Append one record with a NULL key and the given value. */
static int64_t append_value(crawllog_t *log, const char *topic, int32_t p,
                            const char *value, int sync)
{
    crawllog_record_t r = {NULL, 0, value, strlen(value), -1, NULL, 0};
    int64_t base = -2;
    assert_crawllog_ok_log(log,
                           crawllog_append(log, topic, p, &r, 1, sync, &base));
    return base;
}

/* The reader must be at the log end. */
static void expect_end(crawllog_reader_t *rd)
{
    const crawllog_msg_t *msg = (const crawllog_msg_t *)&msg;
    int rc = crawllog_reader_next(rd, &msg);
    cl_test_checkf(rc == 0, "reader_next: %s: %s", crawllog_err_name(rc),
                   crawllog_reader_errmsg(rd));
    cl_test_checkf(msg == NULL, "expected the log end, got offset %" PRId64,
                   crawllog_msg_offset(msg));
}

static void check_value(const crawllog_msg_t *msg, int64_t off,
                        const char *value)
{
    size_t len = 0;
    const void *v = crawllog_msg_value(msg, &len);
    cl_test_checkf(crawllog_msg_offset(msg) == off,
                   "offset %" PRId64 ", want %" PRId64,
                   crawllog_msg_offset(msg), off);
    cl_test_checkf(v != NULL && len == strlen(value) &&
                       memcmp(v, value, len) == 0,
                   "offset %" PRId64 ": value \"%.*s\", want \"%s\"", off,
                   (int)(v ? len : 0), v ? (const char *)v : "", value);
}

/* ---------------------------------------------------------------------- */
/* Partition directories (docs/FORMAT.md)                                 */
/* ---------------------------------------------------------------------- */

static void part_dir(char *buf, size_t size, const char *dir, const char *topic,
                     int32_t p)
{
    int n = snprintf(buf, size, "%s/topics/%s/%d", dir, topic, (int)p);
    cl_test_checkf(n > 0 && (size_t)n < size, "path too long");
}

/* ---------------------------------------------------------------------- */
/* The model                                                               */
/* ---------------------------------------------------------------------- */

struct mhdr {
    unsigned char *name;
    size_t name_len;
    unsigned char *value; /* NULL: a null value */
    size_t value_len;
};

struct mrec {
    unsigned char *key; /* NULL: a null key */
    size_t key_len;
    unsigned char *value;
    size_t value_len;
    int now;              /* appended with timestamp -1, not yet seen */
    int64_t ts;           /* explicit, or what was read back */
    int64_t ts_lo, ts_hi; /* "now" records: bounds of the append time */
    struct mhdr *hdrs;
    size_t nh;
};

struct model {
    struct mrec *recs;
    size_t n, cap;
    int64_t *bbase; /* batches: base offset and record count */
    size_t *bcount;
    size_t nb, bcap;
};

static unsigned char *rand_bytes(uint64_t *rng, size_t len)
{
    unsigned char *p = malloc(len + 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (unsigned char)cl_test_rand(rng);
    }
    return p;
}

/* Timestamp modes of a batch. */
enum { TS_NOW, TS_ASCENDING, TS_RANDOM, TS_MIXED, TS_MODES };

static void gen_record(uint64_t *rng, struct mrec *m, int tsmode,
                       int64_t *clock)
{
    memset(m, 0, sizeof(*m));
    uint64_t k = cl_test_rand_below(rng, 6);
    if (k > 0) { /* 0: null key, 1: empty key */
        m->key_len = k == 1 ? 0 : 1 + cl_test_rand_below(rng, 16);
        m->key = rand_bytes(rng, m->key_len);
    }
    uint64_t v = cl_test_rand_below(rng, 8);
    if (v > 0) { /* 0: null value, 1: empty value */
        m->value_len = v == 1 ? 0 : 1 + cl_test_rand_below(rng, 120);
        m->value = rand_bytes(rng, m->value_len);
    }
    m->nh = cl_test_rand_below(rng, 4);
    m->hdrs = calloc(m->nh + 1, sizeof(*m->hdrs));
    assert_non_null(m->hdrs);
    for (size_t i = 0; i < m->nh; i++) {
        m->hdrs[i].name_len = cl_test_rand_below(rng, 9);
        m->hdrs[i].name = rand_bytes(rng, m->hdrs[i].name_len);
        if (cl_test_rand_below(rng, 3) > 0) {
            m->hdrs[i].value_len = cl_test_rand_below(rng, 11);
            m->hdrs[i].value = rand_bytes(rng, m->hdrs[i].value_len);
        }
    }
    int now = tsmode == TS_NOW ||
              (tsmode == TS_MIXED && cl_test_rand_below(rng, 2) == 0);
    if (now) {
        m->now = 1;
        m->ts = -1;
    } else if (tsmode == TS_ASCENDING) {
        *clock += (int64_t)cl_test_rand_below(rng, 1000);
        m->ts = *clock;
    } else if (cl_test_rand_below(rng, 50) == 0) {
        m->ts = 0;
    } else {
        m->ts = *clock - 2000000 + (int64_t)cl_test_rand_below(rng, 4000000);
    }
}

static void free_mrec(struct mrec *m)
{
    for (size_t i = 0; i < m->nh; i++) {
        free(m->hdrs[i].name);
        free(m->hdrs[i].value);
    }
    free(m->hdrs);
    free(m->key);
    free(m->value);
}

static void model_free(struct model *md)
{
    for (size_t i = 0; i < md->n; i++) {
        free_mrec(&md->recs[i]);
    }
    free(md->recs);
    free(md->bbase);
    free(md->bcount);
    memset(md, 0, sizeof(*md));
}

/* Records (views into the model records) for crawllog_append. */
static crawllog_record_t *to_records(const struct mrec *m, size_t n)
{
    crawllog_record_t *r = calloc(n, sizeof(*r));
    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        crawllog_header_t *h = calloc(m[i].nh + 1, sizeof(*h));
        assert_non_null(h);
        for (size_t j = 0; j < m[i].nh; j++) {
            h[j].name = (const char *)m[i].hdrs[j].name;
            h[j].name_len = m[i].hdrs[j].name_len;
            h[j].value = m[i].hdrs[j].value;
            h[j].value_len = m[i].hdrs[j].value_len;
        }
        r[i].key = m[i].key;
        r[i].key_len = m[i].key_len;
        r[i].value = m[i].value;
        r[i].value_len = m[i].value_len;
        r[i].timestamp = m[i].now ? -1 : m[i].ts;
        r[i].headers = h;
        r[i].header_count = m[i].nh;
    }
    return r;
}

static void free_records(crawllog_record_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)r[i].headers);
    }
    free(r);
}

/* Append m[0, n) as one batch and add it to the model (which takes the
 * records).  The caller is the only writer, so the base is known. */
static void model_append(crawllog_t *log, const char *topic, int32_t p,
                         struct model *md, struct mrec *m, size_t n, int sync)
{
    crawllog_record_t *r = to_records(m, n);
    int64_t base = -2, lo = cl_test_now_ms();
    assert_crawllog_ok_log(log,
                           crawllog_append(log, topic, p, r, n, sync, &base));
    int64_t hi = cl_test_now_ms();
    free_records(r, n);
    if (sync == CRAWLLOG_SYNC_NONE) {
        cl_test_checkf(base == -1, "SYNC_NONE append returned base %" PRId64,
                       base);
    } else {
        cl_test_checkf(base == (int64_t)md->n,
                       "append returned base %" PRId64
                       ", want %zu (contiguous)",
                       base, md->n);
    }
    if (md->n + n > md->cap) {
        md->cap = (md->n + n) * 2;
        md->recs = realloc(md->recs, md->cap * sizeof(*md->recs));
        assert_non_null(md->recs);
    }
    if (md->nb == md->bcap) {
        md->bcap = md->bcap ? md->bcap * 2 : 64;
        md->bbase = realloc(md->bbase, md->bcap * sizeof(*md->bbase));
        md->bcount = realloc(md->bcount, md->bcap * sizeof(*md->bcount));
        assert_true(md->bbase != NULL && md->bcount != NULL);
    }
    md->bbase[md->nb] = (int64_t)md->n;
    md->bcount[md->nb++] = n;
    for (size_t i = 0; i < n; i++) {
        m[i].ts_lo = lo;
        m[i].ts_hi = hi;
        md->recs[md->n++] = m[i];
    }
}

static void check_bytes(const char *what, int64_t off, const void *got,
                        size_t got_len, const void *want, size_t want_len)
{
    if (want == NULL) {
        cl_test_checkf(got == NULL && got_len == 0,
                       "offset %" PRId64 ": %s should be null (got %zu bytes)",
                       off, what, got_len);
        return;
    }
    cl_test_checkf(got != NULL,
                   "offset %" PRId64 ": %s is null, want %zu bytes", off, what,
                   want_len);
    cl_test_checkf(got_len == want_len &&
                       (want_len == 0 || memcmp(got, want, want_len) == 0),
                   "offset %" PRId64 ": %s differs (%zu bytes, want %zu)", off,
                   what, got_len, want_len);
}

/* msg must be model record m at offset off; resolves "now" timestamps. */
static void check_msg(const crawllog_msg_t *msg, struct mrec *m, int64_t off)
{
    size_t len = 99;
    const void *p;
    crawllog_header_t h;
    cl_test_checkf(crawllog_msg_offset(msg) == off,
                   "offset %" PRId64 ", want %" PRId64,
                   crawllog_msg_offset(msg), off);
    int64_t ts = crawllog_msg_timestamp(msg);
    if (m->now) {
        cl_test_checkf(ts >= m->ts_lo && ts <= m->ts_hi,
                       "offset %" PRId64 ": timestamp %" PRId64
                       " not in [%" PRId64 ", %" PRId64 "] (append time)",
                       off, ts, m->ts_lo, m->ts_hi);
        m->ts = ts;
        m->now = 0;
    } else {
        cl_test_checkf(ts == m->ts,
                       "offset %" PRId64 ": timestamp %" PRId64
                       ", want %" PRId64,
                       off, ts, m->ts);
    }
    p = crawllog_msg_key(msg, &len);
    check_bytes("key", off, p, len, m->key, m->key_len);
    len = 99;
    p = crawllog_msg_value(msg, &len);
    check_bytes("value", off, p, len, m->value, m->value_len);
    cl_test_checkf(crawllog_msg_header_count(msg) == m->nh,
                   "offset %" PRId64 ": %zu headers, want %zu", off,
                   crawllog_msg_header_count(msg), m->nh);
    for (size_t i = 0; i < m->nh; i++) {
        memset(&h, 0xA5, sizeof(h));
        assert_crawllog_ok(crawllog_msg_header(msg, i, &h));
        cl_test_checkf(h.name != NULL, "offset %" PRId64 ": header name NULL",
                       off);
        check_bytes("header name", off, h.name, h.name_len, m->hdrs[i].name,
                    m->hdrs[i].name_len);
        check_bytes("header value", off, h.value, h.value_len, m->hdrs[i].value,
                    m->hdrs[i].value_len);
    }
    assert_crawllog_rc(crawllog_msg_header(msg, m->nh, &h), CRAWLLOG_EINVAL);
}

/* Read the whole partition with a new reader and compare with the model. */
static void read_all_check(crawllog_t *log, const char *topic, int32_t p,
                           struct model *md)
{
    crawllog_reader_t *rd = NULL;
    int64_t start, end;
    offsets(log, topic, p, &start, &end);
    assert_int_equal(start, 0);
    assert_int_equal(end, (int64_t)md->n);
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, topic, p));
    assert_int_equal(crawllog_reader_position(rd), 0);
    for (size_t i = 0; i < md->n; i++) {
        check_msg(cl_test_next_msg(rd), &md->recs[i], (int64_t)i);
    }
    expect_end(rd);
    expect_end(rd);
    assert_int_equal(crawllog_reader_position(rd), (int64_t)md->n);
    crawllog_reader_destroy(rd);
}

/* ---------------------------------------------------------------------- */
/* The shared data set: ~300 random batches over many segments             */
/* ---------------------------------------------------------------------- */

#define DS_TOPIC "rt"
#define DS_BATCHES 300

static struct {
    void *state; /* struct cl_test_dir */
    struct model md;
    int built, building;
    int64_t clock0;
} ds;

static void ds_append_all(crawllog_t *log, uint64_t *rng)
{
    int64_t clock = ds.clock0;
    for (int b = 0; b < DS_BATCHES; b++) {
        struct mrec m[50];
        size_t n = 1 + cl_test_rand_below(rng, 50);
        int mode = (int)cl_test_rand_below(rng, TS_MODES);
        for (size_t i = 0; i < n; i++) {
            gen_record(rng, &m[i], mode, &clock);
        }
        uint64_t s = cl_test_rand_below(rng, 20);
        int sync = s < 2   ? CRAWLLOG_SYNC_NONE
                   : s < 3 ? CRAWLLOG_SYNC_DURABLE
                           : CRAWLLOG_SYNC_WRITTEN;
        model_append(log, DS_TOPIC, 0, &ds.md, m, n, sync);
    }
    assert_crawllog_ok_log(log, crawllog_flush(log, CRAWLLOG_SYNC_WRITTEN));
}

static const char *ds_dir(void)
{
    if (ds.built) {
        return CL_TEST_DIR(&ds.state);
    }
    cl_test_checkf(!ds.building, "building the shared data set failed earlier");
    ds.building = 1;
    assert_int_equal(cl_test_tmpdir_setup(&ds.state), 0);
    uint64_t rng = cl_test_seed() ^ 0x5eed0001u;
    ds.clock0 = cl_test_now_ms() - 86400000;
    crawllog_conf_t *tc = cl_test_conf("segment.bytes", "4096",
                                       "index.interval.bytes", "128", NULL);
    crawllog_t *log = cl_test_open(CL_TEST_DIR(&ds.state), NULL);
    create_topic(log, DS_TOPIC, 1, tc);
    crawllog_conf_destroy(tc);
    ds_append_all(log, &rng);
    read_all_check(log, DS_TOPIC, 0, &ds.md);
    assert_crawllog_ok(crawllog_close(log));
    ds.building = 0;
    ds.built = 1;
    return CL_TEST_DIR(&ds.state);
}

static int group_teardown(void **state)
{
    (void)state;
    if (ds.state != NULL) {
        cl_test_tmpdir_teardown(&ds.state);
    }
    model_free(&ds.md);
    return 0;
}

/* Appends of random batches round trip through many segment rolls, before
 * and after a reopen; append bases are contiguous. */
static void test_api_log_roundtrip_many_rolls(void **state)
{
    (void)state;
    const char *dir = ds_dir();
    struct cl_test_seglist *sl = cl_test_segments(dir, DS_TOPIC, 0);
    cl_test_checkf(sl->n >= 30, "only %zu segments: rolls not exercised",
                   sl->n);
    /* Rolls happen between batches: every segment starts a batch. */
    size_t b = 0;
    for (size_t i = 0; i < sl->n; i++) {
        while (b < ds.md.nb && ds.md.bbase[b] < sl->base[i]) {
            b++;
        }
        cl_test_checkf(b < ds.md.nb && ds.md.bbase[b] == sl->base[i],
                       "segment %" PRId64 " does not start a batch",
                       sl->base[i]);
    }
    assert_int_equal(sl->base[0], 0);
    print_message("%zu records in %zu batches over %zu segments\n", ds.md.n,
                  ds.md.nb, sl->n);
    free(sl);
    crawllog_t *log = cl_test_open(dir, NULL);
    read_all_check(log, DS_TOPIC, 0, &ds.md);
    assert_crawllog_ok(crawllog_close(log));
    log = cl_test_open(dir, NULL); /* again: nothing changed by reading */
    read_all_check(log, DS_TOPIC, 0, &ds.md);
    cl_test_close_verify(log, dir);
}

static void seek_and_check(crawllog_reader_t *rd, int64_t off)
{
    int rc = crawllog_reader_seek(rd, off);
    cl_test_checkf(rc == 0, "seek(%" PRId64 "): %s: %s", off,
                   crawllog_err_name(rc), crawllog_reader_errmsg(rd));
    cl_test_checkf(crawllog_reader_position(rd) == off,
                   "position %" PRId64 " after seek(%" PRId64 ")",
                   crawllog_reader_position(rd), off);
    check_msg(cl_test_next_msg(rd), &ds.md.recs[off], off);
    cl_test_checkf(crawllog_reader_position(rd) == off + 1,
                   "position %" PRId64 " after reading %" PRId64,
                   crawllog_reader_position(rd), off);
}

/* seek(offset) + next() gives exactly that record, for every offset, going
 * forwards, backwards and in random order; seek out of range fails and
 * leaves the position alone. */
static void test_api_log_seek_every_offset(void **state)
{
    (void)state;
    crawllog_t *log = cl_test_open(ds_dir(), NULL);
    crawllog_reader_t *rd = NULL;
    int64_t n = (int64_t)ds.md.n;
    uint64_t rng = cl_test_seed() ^ 0x5eed0002u;
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, DS_TOPIC, 0));
    for (int64_t off = 0; off < n; off++) {
        seek_and_check(rd, off);
    }
    for (int64_t off = n - 1; off >= 0; off--) {
        seek_and_check(rd, off);
    }
    for (int64_t i = 0; i < n / 2; i++) {
        seek_and_check(rd, (int64_t)cl_test_rand_below(&rng, (uint64_t)n));
    }
    assert_crawllog_ok(crawllog_reader_seek(rd, n)); /* the log end */
    expect_end(rd);
    assert_crawllog_ok(crawllog_reader_seek(rd, 7));
    assert_crawllog_rc(crawllog_reader_seek(rd, n + 1), CRAWLLOG_EOFFSET);
    assert_crawllog_rc(crawllog_reader_seek(rd, -1), CRAWLLOG_EOFFSET);
    assert_crawllog_rc(crawllog_reader_seek(rd, INT64_MAX), CRAWLLOG_EOFFSET);
    assert_crawllog_rc(crawllog_reader_seek(rd, INT64_MIN), CRAWLLOG_EOFFSET);
    assert_int_equal(crawllog_reader_position(rd), 7);
    check_msg(cl_test_next_msg(rd), &ds.md.recs[7], 7);
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_close(log));
}

/* The first offset whose model timestamp is >= ts, or the log end. */
static int64_t model_time_lookup(int64_t ts)
{
    for (size_t i = 0; i < ds.md.n; i++) {
        if (ds.md.recs[i].ts >= ts) {
            return (int64_t)i;
        }
    }
    return (int64_t)ds.md.n;
}

static void seek_time_check(crawllog_reader_t *rd, int64_t ts)
{
    int64_t got = -2, want = model_time_lookup(ts);
    int rc = crawllog_reader_seek_time(rd, ts, &got);
    cl_test_checkf(rc == 0, "seek_time(%" PRId64 "): %s: %s", ts,
                   crawllog_err_name(rc), crawllog_reader_errmsg(rd));
    cl_test_checkf(got == want,
                   "seek_time(%" PRId64 ") = %" PRId64 ", want %" PRId64, ts,
                   got, want);
    cl_test_checkf(crawllog_reader_position(rd) == want,
                   "position %" PRId64 " after seek_time, want %" PRId64,
                   crawllog_reader_position(rd), want);
    if (want < (int64_t)ds.md.n) {
        check_msg(cl_test_next_msg(rd), &ds.md.recs[want], want);
    } else {
        expect_end(rd);
    }
}

/* seek_time(ts) finds the first record with timestamp >= ts (timestamps are
 * not monotonic across and within batches), or the log end. */
static void test_api_log_seek_time_sweep(void **state)
{
    (void)state;
    crawllog_t *log = cl_test_open(ds_dir(), NULL);
    crawllog_reader_t *rd = NULL;
    uint64_t rng = cl_test_seed() ^ 0x5eed0003u;
    int64_t max = 0;
    int nonmono = 0;
    for (size_t i = 0; i < ds.md.n; i++) {
        cl_test_checkf(!ds.md.recs[i].now, "timestamp of %zu unresolved", i);
        max = ds.md.recs[i].ts > max ? ds.md.recs[i].ts : max;
        nonmono += i > 0 && ds.md.recs[i].ts < ds.md.recs[i - 1].ts;
    }
    cl_test_checkf(nonmono > 10, "timestamps are too monotonic (%d)", nonmono);
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, DS_TOPIC, 0));
    seek_time_check(rd, 0);
    seek_time_check(rd, 1);
    seek_time_check(rd, max);
    for (int i = 0; i < 1500; i++) {
        int64_t t = ds.md.recs[cl_test_rand_below(&rng, ds.md.n)].ts;
        seek_time_check(rd, t + (int64_t)cl_test_rand_below(&rng, 3) - 1);
    }
    for (int i = 0; i < 200; i++) {
        seek_time_check(rd, ds.clock0 - 3000000 +
                                (int64_t)cl_test_rand_below(&rng, 6000000));
    }
    int64_t got = -2;
    int64_t beyond[] = {max + 1, max + 86400000, INT64_MAX};
    for (size_t i = 0; i < 3; i++) {
        assert_crawllog_ok(crawllog_reader_seek_time(rd, beyond[i], &got));
        assert_int_equal(got, (int64_t)ds.md.n);
        expect_end(rd);
    }
    assert_crawllog_ok(crawllog_reader_seek_time(rd, max, NULL));
    assert_int_equal(crawllog_reader_position(rd), model_time_lookup(max));
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_close(log));
}

/* Check one fetched buffer: whole batches with valid CRCs, contiguous from
 * the batch that holds *pos; returns the batches' record total and moves
 * *bi (model batch index) past them. */
static void check_fetched(const unsigned char *buf, size_t len, int64_t pos,
                          size_t *bi)
{
    size_t p = 0;
    int64_t expect = -1;
    while (p < len) {
        cl_test_checkf(len - p >= BATCH_HEADER, "fetch: partial batch header");
        int64_t base = be64(buf + p);
        size_t total = (size_t)be32(buf + p + 8) + BATCH_OVERHEAD;
        cl_test_checkf(total >= BATCH_HEADER && total <= len - p,
                       "fetch: batch at %zu of %zu bytes overruns %zu", p,
                       total, len);
        cl_test_checkf(buf[p + 16] == 2, "fetch: magic %d", buf[p + 16]);
        cl_test_checkf(be32(buf + p + 17) == crc32c(buf + p + 21, total - 21),
                       "fetch: CRC mismatch in batch %" PRId64, base);
        int64_t count = (int64_t)be32(buf + p + 57);
        cl_test_checkf((int64_t)be32(buf + p + 23) == count - 1,
                       "lastOffsetDelta");
        cl_test_checkf(*bi < ds.md.nb && ds.md.bbase[*bi] == base &&
                           (int64_t)ds.md.bcount[*bi] == count,
                       "fetch: batch %" PRId64 "+%" PRId64
                       " is not model batch %zu",
                       base, count, *bi);
        if (expect < 0) {
            cl_test_checkf(base <= pos && pos < base + count,
                           "fetch: first batch %" PRId64 "+%" PRId64
                           " does not hold position %" PRId64,
                           base, count, pos);
        } else {
            cl_test_checkf(base == expect, "fetch: batches not contiguous");
        }
        expect = base + count;
        (*bi)++;
        p += total;
    }
    cl_test_checkf(p == len, "fetch: batch lengths sum to %zu, not %zu", p,
                   len);
}

/* Fetch everything with one max_bytes; returns the bytes fetched. */
static size_t fetch_all(crawllog_reader_t *rd, size_t max_bytes)
{
    size_t bi = 0, sum = 0;
    assert_crawllog_ok(crawllog_reader_seek(rd, 0));
    for (;;) {
        const void *buf = NULL;
        size_t len = 1;
        int64_t pos = crawllog_reader_position(rd);
        int rc = crawllog_reader_fetch(rd, max_bytes, &buf, &len);
        cl_test_checkf(rc == 0, "fetch: %s: %s", crawllog_err_name(rc),
                       crawllog_reader_errmsg(rd));
        if (buf == NULL) {
            assert_int_equal(len, 0);
            break;
        }
        size_t first = bi;
        check_fetched(buf, len, pos, &bi);
        cl_test_checkf(bi > first, "fetch returned no batch");
        if (max_bytes <= BATCH_HEADER) {
            cl_test_checkf(bi == first + 1, "max_bytes %zu: %zu batches",
                           max_bytes, bi - first);
        } else if (bi > first + 1) {
            cl_test_checkf(len <= max_bytes, "fetch: %zu bytes > max_bytes %zu",
                           len, max_bytes);
        }
        int64_t after = ds.md.bbase[bi - 1] + (int64_t)ds.md.bcount[bi - 1];
        cl_test_checkf(crawllog_reader_position(rd) == after,
                       "position %" PRId64 " after fetch, want %" PRId64,
                       crawllog_reader_position(rd), after);
        sum += len;
    }
    cl_test_checkf(bi == ds.md.nb, "fetched %zu of %zu batches", bi, ds.md.nb);
    assert_int_equal(crawllog_reader_position(rd), (int64_t)ds.md.n);
    return sum;
}

/* fetch returns whole CRC-checked batches, at least one even when
 * max_bytes is tiny, and moves the reader past the last one. */
static void test_api_log_fetch_whole_batches(void **state)
{
    (void)state;
    const char *dir = ds_dir();
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_reader_t *rd = NULL;
    struct cl_test_seglist *sl = cl_test_segments(dir, DS_TOPIC, 0);
    size_t on_disk = 0;
    for (size_t i = 0; i < sl->n; i++) {
        on_disk += sl->size[i] - SEG_HEADER_SIZE;
    }
    free(sl);
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, DS_TOPIC, 0));
    size_t sizes[] = {0, 1, 100, 4096, 20000, 1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(fetch_all(rd, sizes[i]), on_disk);
    }
    /* From the middle of a batch (after a seek, and after next()). */
    size_t b = ds.md.nb / 2;
    while (b + 2 < ds.md.nb && ds.md.bcount[b] < 3) {
        b++;
    }
    int64_t mid = ds.md.bbase[b] + 1;
    for (int way = 0; way < 2; way++) {
        const void *buf;
        size_t len, bi = b;
        assert_crawllog_ok(crawllog_reader_seek(rd, way ? mid - 1 : mid));
        if (way) {
            check_msg(cl_test_next_msg(rd), &ds.md.recs[mid - 1], mid - 1);
        }
        assert_crawllog_ok(crawllog_reader_fetch(rd, 1, &buf, &len));
        check_fetched(buf, len, mid, &bi);
        assert_int_equal(bi, b + 1);
        assert_int_equal(crawllog_reader_position(rd),
                         ds.md.bbase[b] + (int64_t)ds.md.bcount[b]);
        check_msg(cl_test_next_msg(rd), &ds.md.recs[ds.md.bbase[b + 1]],
                  ds.md.bbase[b + 1]);
    }
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_close(log));
}

/* ---------------------------------------------------------------------- */
/* Sync modes and visibility across handles                                */
/* ---------------------------------------------------------------------- */

static void test_api_log_sync_modes_visibility(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *a = cl_test_open(dir, NULL);
    create_topic(a, "s", 1, NULL);
    crawllog_t *b = cl_test_open(dir, NULL);
    crawllog_reader_t *rb = NULL;
    assert_int_equal(append_value(a, "s", 0, "v0", CRAWLLOG_SYNC_WRITTEN), 0);
    assert_int_equal(log_end(b, "s", 0), 1);
    assert_crawllog_ok_log(b, crawllog_reader_new(&rb, b, "s", 0));
    check_value(cl_test_next_msg(rb), 0, "v0");
    expect_end(rb);
    /* NONE: no offset, invisible everywhere until flushed. */
    assert_int_equal(append_value(a, "s", 0, "v1", CRAWLLOG_SYNC_NONE), -1);
    assert_int_equal(append_value(a, "s", 0, "v2", CRAWLLOG_SYNC_NONE), -1);
    assert_int_equal(log_end(b, "s", 0), 1);
    assert_int_equal(log_end(a, "s", 0), 1);
    expect_end(rb);
    assert_crawllog_ok_log(a, crawllog_flush(a, CRAWLLOG_SYNC_NONE));
    assert_int_equal(log_end(b, "s", 0), 3);
    check_value(cl_test_next_msg(rb), 1, "v1"); /* the same reader, no reopen */
    check_value(cl_test_next_msg(rb), 2, "v2");
    expect_end(rb);
    /* WRITTEN and DURABLE: visible at once; pending NONE data first. */
    assert_int_equal(append_value(a, "s", 0, "v3", CRAWLLOG_SYNC_NONE), -1);
    assert_int_equal(append_value(a, "s", 0, "v4", CRAWLLOG_SYNC_WRITTEN), 4);
    check_value(cl_test_next_msg(rb), 3, "v3");
    check_value(cl_test_next_msg(rb), 4, "v4");
    assert_int_equal(append_value(a, "s", 0, "v5", CRAWLLOG_SYNC_DURABLE), 5);
    check_value(cl_test_next_msg(rb), 5, "v5");
    assert_crawllog_ok_log(a, crawllog_flush(a, CRAWLLOG_SYNC_DURABLE));
    /* close flushes NONE data. */
    assert_int_equal(append_value(a, "s", 0, "v6", CRAWLLOG_SYNC_NONE), -1);
    expect_end(rb);
    assert_crawllog_ok(crawllog_close(a));
    assert_int_equal(log_end(b, "s", 0), 7);
    check_value(cl_test_next_msg(rb), 6, "v6");
    expect_end(rb);
    /* The writer's own handle sees everything after a reopen. */
    a = cl_test_open(dir, NULL);
    assert_int_equal(log_end(a, "s", 0), 7);
    assert_crawllog_ok(crawllog_close(a));
    crawllog_reader_destroy(rb);
    cl_test_close_verify(b, dir);
}

/* With a small log.buffer.bytes, NONE data is written when the buffer
 * fills (all of it, in order); with 0 every NONE append is written. */
static void test_api_log_sync_none_buffer_full(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    char value[601];
    memset(value, 'x', 600);
    value[600] = '\0';
    crawllog_conf_t *conf = cl_test_conf("log.buffer.bytes", "2048", NULL);
    crawllog_t *a = cl_test_open(dir, conf);
    crawllog_conf_destroy(conf);
    create_topic(a, "buf", 1, NULL);
    crawllog_t *b = cl_test_open(dir, NULL);
    int k = 0;
    while (log_end(b, "buf", 0) == 0) {
        cl_test_checkf(k < 4,
                       "%d NONE appends of 600 bytes not written with "
                       "log.buffer.bytes=2048",
                       k);
        value[0] = (char)('a' + k++);
        assert_int_equal(append_value(a, "buf", 0, value, CRAWLLOG_SYNC_NONE),
                         -1);
    }
    cl_test_checkf(k >= 3, "written after %d appends of 600 bytes: below 2048",
                   k);
    assert_int_equal(log_end(b, "buf", 0), k);
    crawllog_reader_t *rb = NULL;
    assert_crawllog_ok_log(b, crawllog_reader_new(&rb, b, "buf", 0));
    for (int i = 0; i < k; i++) {
        value[0] = (char)('a' + i);
        check_value(cl_test_next_msg(rb), i, value);
    }
    expect_end(rb);
    crawllog_reader_destroy(rb);
    assert_crawllog_ok(crawllog_close(a));
    /* log.buffer.bytes=0: nothing is held back. */
    conf = cl_test_conf("log.buffer.bytes", "0", NULL);
    a = cl_test_open(dir, conf);
    crawllog_conf_destroy(conf);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(append_value(a, "buf", 0, "z", CRAWLLOG_SYNC_NONE),
                         -1);
        assert_int_equal(log_end(b, "buf", 0), k + i + 1);
    }
    assert_crawllog_ok(crawllog_close(a));
    assert_crawllog_ok(crawllog_close(b));
}

/* ---------------------------------------------------------------------- */
/* max.message.bytes                                                       */
/* ---------------------------------------------------------------------- */

/* Names, sizes and contents of a partition's files except partition.state
 * (the shared cache, which may be touched by any call). */
static char *part_files(const char *dir, const char *topic, int32_t p)
{
    char pdir[4096], path[4400], line[512];
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    assert_non_null(out);
    part_dir(pdir, sizeof(pdir), dir, topic, p);
    DIR *d = opendir(pdir);
    cl_test_checkf(d != NULL, "opendir %s", pdir);
    while ((de = readdir(d)) != NULL && n < 256) {
        if (de->d_name[0] != '.' && strcmp(de->d_name, "partition.state")) {
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) { /* sort: readdir order varies */
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t flen;
        snprintf(path, sizeof(path), "%s/%s", pdir, names[i]);
        unsigned char *c = cl_test_read_file(path, &flen);
        uint64_t h = 1469598103934665603ULL;
        for (size_t j = 0; j < flen; j++) {
            h = (h ^ c[j]) * 1099511628211ULL;
        }
        free(c);
        int m = snprintf(line, sizeof(line), "%s %zu %016" PRIx64 "\n",
                         names[i], flen, h);
        cl_test_checkf(len + (size_t)m < cap, "listing too long");
        memcpy(out + len, line, (size_t)m + 1);
        len += (size_t)m;
        free(names[i]);
    }
    return out;
}

static int append_sized(crawllog_t *log, size_t vlen, int sync, int64_t *bp)
{
    char *v = malloc(vlen + 1);
    assert_non_null(v);
    memset(v, 'm', vlen);
    crawllog_record_t r = {NULL, 0, v, vlen, -1, NULL, 0};
    int rc = crawllog_append(log, "mm", 0, &r, 1, sync, bp);
    free(v);
    return rc;
}

static void test_api_log_max_message_bytes(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_conf_t *tc = cl_test_conf("max.message.bytes", "1024", NULL);
    create_topic(log, "mm", 1, tc);
    crawllog_conf_destroy(tc);
    assert_int_equal(append_value(log, "mm", 0, "ok", CRAWLLOG_SYNC_WRITTEN),
                     0);
    char *before = part_files(dir, "mm", 0);
    int64_t base = 5;
    assert_crawllog_rc(append_sized(log, 2000, CRAWLLOG_SYNC_WRITTEN, &base),
                       CRAWLLOG_ETOOBIG);
    assert_int_equal(base, -1);
    cl_test_checkf(strstr(crawllog_errmsg(log), "topics/mm/0") != NULL,
                   "errmsg \"%s\" does not name the partition",
                   crawllog_errmsg(log));
    assert_crawllog_rc(append_sized(log, 2000, CRAWLLOG_SYNC_NONE, &base),
                       CRAWLLOG_ETOOBIG);
    /* Many small records that are too big together. */
    crawllog_record_t r[40];
    for (int i = 0; i < 40; i++) {
        r[i] = (crawllog_record_t){
            "k", 1, "0123456789012345678901234567890", 31, 1000, NULL, 0};
    }
    assert_crawllog_rc(
        crawllog_append(log, "mm", 0, r, 40, CRAWLLOG_SYNC_DURABLE, &base),
        CRAWLLOG_ETOOBIG);
    assert_crawllog_ok(crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
    assert_int_equal(log_end(log, "mm", 0), 1);
    char *after = part_files(dir, "mm", 0);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* The limit includes the 12-byte log overhead: find the largest value
     * accepted and check its batch is exactly 1024 bytes. */
    size_t lo = 0, hi = 2000; /* lo fits, hi does not */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        int rc = append_sized(log, mid, CRAWLLOG_SYNC_WRITTEN, &base);
        cl_test_checkf(rc == 0 || rc == CRAWLLOG_ETOOBIG, "append: %s",
                       crawllog_err_name(rc));
        *(rc == 0 ? &lo : &hi) = mid;
    }
    assert_crawllog_ok(append_sized(log, lo, CRAWLLOG_SYNC_WRITTEN, &base));
    crawllog_reader_t *rd = NULL;
    const void *buf;
    size_t len;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "mm", 0));
    assert_crawllog_ok(crawllog_reader_seek(rd, base));
    assert_crawllog_ok(crawllog_reader_fetch(rd, 1, &buf, &len));
    assert_int_equal(len, 1024);
    assert_int_equal(be32((const unsigned char *)buf + 8) + BATCH_OVERHEAD,
                     1024);
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_close(log));
}

/* ---------------------------------------------------------------------- */
/* Misuse (T1)                                                             */
/* ---------------------------------------------------------------------- */

static void misuse_conf(void)
{
    crawllog_conf_t *c = NULL, *d = (crawllog_conf_t *)&d;
    char buf[64], errstr[CRAWLLOG_ERRSTR_SIZE];
    size_t size = sizeof(buf);
    char *text = (char *)&text;
    assert_crawllog_rc(crawllog_conf_new(NULL), CRAWLLOG_EINVAL);
    crawllog_conf_destroy(NULL);
    assert_crawllog_ok(crawllog_conf_new(&c));
    assert_crawllog_rc(crawllog_conf_dup(NULL, c), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_conf_dup(&d, NULL), CRAWLLOG_EINVAL);
    assert_null(d);
    assert_crawllog_rc(crawllog_conf_set(NULL, "segment.bytes", "4096", errstr,
                                         sizeof(errstr)),
                       CRAWLLOG_EINVAL);
    assert_true(errstr[0] != '\0');
    assert_crawllog_rc(crawllog_conf_set(c, NULL, "1", errstr, sizeof(errstr)),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_conf_set(c, "segment.bytes", NULL, NULL, 99),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_conf_set(c, "no.such", "1", NULL, 0),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_conf_get(NULL, "segment.bytes", buf, &size),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_conf_get(c, NULL, buf, &size), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_conf_get(c, "segment.bytes", buf, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_conf_get(c, "segment.bytes", NULL, &size),
                       CRAWLLOG_EINVAL);
    size = 0; /* a size query */
    assert_crawllog_rc(crawllog_conf_get(c, "segment.bytes", NULL, &size),
                       CRAWLLOG_ETOOBIG);
    assert_int_equal(size, strlen("1073741824") + 1);
    assert_crawllog_rc(crawllog_conf_dump(NULL, &text), CRAWLLOG_EINVAL);
    assert_null(text);
    assert_crawllog_rc(crawllog_conf_dump(c, NULL), CRAWLLOG_EINVAL);
    crawllog_conf_destroy(c);
}

static void misuse_open(const char *dir)
{
    crawllog_t *log = (crawllog_t *)&log;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    assert_crawllog_rc(crawllog_open(NULL, dir, NULL, errstr, sizeof(errstr)),
                       CRAWLLOG_EINVAL);
    assert_true(errstr[0] != '\0');
    assert_crawllog_rc(crawllog_open(&log, NULL, NULL, errstr, sizeof(errstr)),
                       CRAWLLOG_EINVAL);
    assert_null(log);
    assert_crawllog_rc(crawllog_open(&log, "", NULL, NULL, 0), CRAWLLOG_EINVAL);
    /* errstr is optional, even with a size. */
    crawllog_conf_t *c = cl_test_conf("log.dir.create", "false", NULL);
    assert_crawllog_rc(crawllog_open(&log, "/nonexistent-cl/x", c, NULL, 64),
                       CRAWLLOG_ENOENT);
    crawllog_conf_destroy(c);
    assert_null(log);
    assert_crawllog_ok(crawllog_close(NULL));
    assert_string_equal(crawllog_errmsg(NULL), "");
}

static void misuse_topics(crawllog_t *log)
{
    char **names = (char **)&names;
    size_t count = 7;
    int32_t parts = 7;
    crawllog_conf_t *c = (crawllog_conf_t *)&c;
    assert_crawllog_rc(crawllog_topic_create(NULL, "x", 1, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_create(log, NULL, 1, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_delete(NULL, "t"), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_delete(log, NULL), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_add_partitions(NULL, "t", 5),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_add_partitions(log, NULL, 5),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_list(NULL, &names, &count),
                       CRAWLLOG_EINVAL);
    assert_null(names);
    assert_int_equal(count, 0);
    assert_crawllog_rc(crawllog_topic_list(log, NULL, &count), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_list(log, &names, NULL), CRAWLLOG_EINVAL);
    crawllog_topic_list_free(NULL, 0);
    crawllog_topic_list_free(NULL, 3);
    assert_crawllog_rc(crawllog_topic_describe(NULL, "t", &parts, &c),
                       CRAWLLOG_EINVAL);
    assert_int_equal(parts, -1);
    assert_null(c);
    assert_crawllog_rc(crawllog_topic_describe(log, NULL, &parts, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_ok(crawllog_topic_describe(log, "t", NULL, NULL));
    int64_t s = 5, e = 5;
    assert_crawllog_rc(crawllog_partition_offsets(NULL, "t", 0, &s, &e),
                       CRAWLLOG_EINVAL);
    assert_int_equal(s, -1);
    assert_int_equal(e, -1);
    assert_crawllog_rc(crawllog_partition_offsets(log, NULL, 0, &s, &e),
                       CRAWLLOG_EINVAL);
    int rc = crawllog_partition_offsets(log, "t", 0, NULL, NULL);
    cl_test_checkf(rc == 0 || rc == CRAWLLOG_EINVAL, "offsets(NULL, NULL): %s",
                   crawllog_err_name(rc));
    assert_crawllog_ok(crawllog_partition_offsets(log, "t", 0, NULL, &e));
    assert_crawllog_ok(crawllog_partition_offsets(log, "t", 0, &s, NULL));
}

static void misuse_append(crawllog_t *log)
{
    crawllog_record_t r = {"k", 1, "v", 1, -1, NULL, 0};
    crawllog_header_t h = {NULL, 0, "x", 1};
    int64_t base = 5;
    assert_crawllog_rc(
        crawllog_append(NULL, "t", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, &base),
        CRAWLLOG_EINVAL);
    assert_int_equal(base, -1);
    assert_crawllog_rc(
        crawllog_append(log, NULL, 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, &base),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        crawllog_append(log, "t", 0, NULL, 1, CRAWLLOG_SYNC_WRITTEN, &base),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        crawllog_append(log, "t", 0, &r, 0, CRAWLLOG_SYNC_WRITTEN, &base),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_append(log, "t", 0, &r, 1, -1, &base),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_append(log, "t", 0, &r, 1, 3, &base),
                       CRAWLLOG_EINVAL);
    r.header_count = 1; /* headers NULL */
    assert_crawllog_rc(
        crawllog_append(log, "t", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, &base),
        CRAWLLOG_EINVAL);
    r.headers = &h; /* header name NULL */
    assert_crawllog_rc(
        crawllog_append(log, "t", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, &base),
        CRAWLLOG_EINVAL);
    assert_int_equal(log_end(log, "t", 0), 1); /* nothing was written */
    r.header_count = 0;
    assert_crawllog_ok(
        crawllog_append(log, "t", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    assert_crawllog_rc(crawllog_flush(NULL, CRAWLLOG_SYNC_NONE),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_flush(log, -1), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_flush(log, 3), CRAWLLOG_EINVAL);
    assert_crawllog_ok(crawllog_flush(log, CRAWLLOG_SYNC_NONE));
}

static void misuse_reader(crawllog_t *log)
{
    crawllog_reader_t *rd = (crawllog_reader_t *)&rd;
    const crawllog_msg_t *msg = (const crawllog_msg_t *)&msg;
    const void *buf = &buf;
    size_t len = 5;
    int64_t off = 5;
    assert_crawllog_rc(crawllog_reader_new(NULL, log, "t", 0), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_reader_new(&rd, NULL, "t", 0), CRAWLLOG_EINVAL);
    assert_null(rd);
    assert_crawllog_rc(crawllog_reader_new(&rd, log, NULL, 0), CRAWLLOG_EINVAL);
    crawllog_reader_destroy(NULL);
    assert_crawllog_rc(crawllog_reader_seek(NULL, 0), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_reader_seek_time(NULL, 0, &off),
                       CRAWLLOG_EINVAL);
    assert_int_equal(off, -1);
    assert_int_equal(crawllog_reader_position(NULL), -1);
    assert_crawllog_rc(crawllog_reader_next(NULL, &msg), CRAWLLOG_EINVAL);
    assert_null(msg);
    assert_crawllog_rc(crawllog_reader_fetch(NULL, 100, &buf, &len),
                       CRAWLLOG_EINVAL);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_string_equal(crawllog_reader_errmsg(NULL), "");
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", 0));
    assert_string_equal(crawllog_reader_errmsg(rd), "");
    assert_crawllog_rc(crawllog_reader_next(rd, NULL), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_reader_fetch(rd, 100, NULL, &len),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_reader_fetch(rd, 100, &buf, NULL),
                       CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_reader_position(rd), 0); /* unchanged */
    assert_crawllog_ok(crawllog_reader_seek_time(rd, 0, NULL));
    msg = cl_test_next_msg(rd);
    check_value(msg, 0, "v");
    /* Accessors: NULL message, NULL out-pointers. */
    len = 5;
    assert_int_equal(crawllog_msg_offset(NULL), -1);
    crawllog_msg_timestamp(NULL);
    assert_null(crawllog_msg_key(NULL, &len));
    assert_int_equal(len, 0);
    len = 5;
    assert_null(crawllog_msg_value(NULL, &len));
    assert_int_equal(len, 0);
    assert_null(crawllog_msg_key(NULL, NULL));
    assert_null(crawllog_msg_value(NULL, NULL));
    assert_int_equal(crawllog_msg_header_count(NULL), 0);
    crawllog_header_t h;
    assert_crawllog_rc(crawllog_msg_header(NULL, 0, &h), CRAWLLOG_EINVAL);
    assert_memory_equal(crawllog_msg_key(msg, NULL), "k", 1);
    assert_memory_equal(crawllog_msg_value(msg, NULL), "v", 1);
    assert_crawllog_rc(crawllog_msg_header(msg, 0, NULL), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_msg_header(msg, 0, &h), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_msg_header(msg, SIZE_MAX, &h), CRAWLLOG_EINVAL);
    crawllog_reader_destroy(rd);
}

static void misuse_verify(const char *dir)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", path[4200];
    size_t problems = 99;
    assert_crawllog_rc(
        crawllog_verify(NULL, NULL, NULL, &problems, errstr, sizeof(errstr)),
        CRAWLLOG_EINVAL);
    assert_true(errstr[0] != '\0');
    assert_crawllog_rc(crawllog_verify("", NULL, NULL, NULL, NULL, 0),
                       CRAWLLOG_EINVAL);
    cl_test_path(path, sizeof(path), dir, "no-such-dir");
    errstr[0] = '\0';
    assert_crawllog_rc(
        crawllog_verify(path, NULL, NULL, NULL, errstr, sizeof(errstr)),
        CRAWLLOG_ENOENT);
    cl_test_checkf(strstr(errstr, "no-such-dir") != NULL, "errstr \"%s\"",
                   errstr);
    /* Every out-parameter and the callback are optional. */
    assert_crawllog_ok(crawllog_verify(dir, NULL, NULL, NULL, NULL, 0));
    assert_crawllog_ok(crawllog_verify(dir, NULL, NULL, NULL, NULL, 64));
    cl_test_expect_verify_clean(dir);
}

/* Every public function with NULL in each pointer parameter: the
 * documented code or a safe default, never a crash. */
static void test_api_log_misuse_null(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    misuse_conf();
    misuse_open(dir);
    crawllog_t *log = cl_test_open(dir, NULL);
    create_topic(log, "t", 1, NULL);
    crawllog_record_t r = {"k", 1, "v", 1, -1, NULL, 0};
    assert_crawllog_ok(
        crawllog_append(log, "t", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    misuse_topics(log);
    misuse_append(log);
    misuse_reader(log);
    int64_t deleted = 5;
    assert_crawllog_rc(crawllog_maintain(NULL, &deleted), CRAWLLOG_EINVAL);
    assert_int_equal(deleted, 0);
    assert_crawllog_ok(crawllog_maintain(log, NULL));
    assert_crawllog_ok(crawllog_close(log));
    misuse_verify(dir);
}

/* Out-of-range values: counts, sync modes, partitions, names, offsets. */
static void test_api_log_misuse_values(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_reader_t *rd = (crawllog_reader_t *)&rd;
    crawllog_record_t r = {NULL, 0, "v", 1, -1, NULL, 0};
    int64_t s = 0, e = 0, base = 0;
    const char *bad[] = {"", ".", "..", "a/b", "a b", "\xc3\xa4", "x\n", NULL};
    char longname[300];
    create_topic(log, "t", 2, NULL);
    memset(longname, 'n', sizeof(longname));
    longname[CRAWLLOG_TOPIC_NAME_MAX] = '\0';
    create_topic(log, longname, 1, NULL); /* 249 characters: fine */
    longname[CRAWLLOG_TOPIC_NAME_MAX] = 'n';
    longname[CRAWLLOG_TOPIC_NAME_MAX + 1] = '\0';
    bad[7] = longname;
    for (size_t i = 0; i < 8; i++) {
        assert_crawllog_rc(crawllog_topic_create(log, bad[i], 1, NULL),
                           CRAWLLOG_EINVAL);
        int rc = crawllog_append(log, bad[i], 0, &r, 1, 1, &base);
        cl_test_checkf(rc == CRAWLLOG_EINVAL || rc == CRAWLLOG_ENOTOPIC,
                       "append to \"%s\": %s", bad[i], crawllog_err_name(rc));
    }
    assert_crawllog_rc(crawllog_topic_create(log, "z", 0, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_create(log, "z", -3, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        crawllog_topic_create(log, "z", CRAWLLOG_PARTITIONS_MAX + 1, NULL),
        CRAWLLOG_EINVAL);
    /* Negative partition: EINVAL; partition >= count: ENOTOPIC. */
    int32_t ps[] = {-1, INT32_MIN, 2, 3, 100000, INT32_MAX};
    int want[] = {CRAWLLOG_EINVAL,   CRAWLLOG_EINVAL,   CRAWLLOG_ENOTOPIC,
                  CRAWLLOG_ENOTOPIC, CRAWLLOG_ENOTOPIC, CRAWLLOG_ENOTOPIC};
    for (size_t i = 0; i < 6; i++) {
        assert_crawllog_rc(crawllog_append(log, "t", ps[i], &r, 1, 1, &base),
                           want[i]);
        assert_crawllog_rc(crawllog_partition_offsets(log, "t", ps[i], &s, &e),
                           want[i]);
        assert_crawllog_rc(crawllog_reader_new(&rd, log, "t", ps[i]), want[i]);
        assert_null(rd);
    }
    /* Unknown topic. */
    assert_crawllog_rc(crawllog_append(log, "nosuch", 0, &r, 1, 1, &base),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_partition_offsets(log, "nosuch", 0, &s, &e),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_reader_new(&rd, log, "nosuch", 0),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_topic_describe(log, "nosuch", NULL, NULL),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_topic_delete(log, "nosuch"), CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_topic_add_partitions(log, "nosuch", 3),
                       CRAWLLOG_ENOTOPIC);
    /* Seek out of range. */
    assert_int_equal(append_value(log, "t", 1, "a", 1), 0);
    assert_int_equal(append_value(log, "t", 1, "b", 1), 1);
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", 1));
    assert_crawllog_ok(crawllog_reader_seek(rd, 1));
    assert_crawllog_rc(crawllog_reader_seek(rd, 3), CRAWLLOG_EOFFSET);
    assert_crawllog_rc(crawllog_reader_seek(rd, -1), CRAWLLOG_EOFFSET);
    assert_int_equal(crawllog_reader_position(rd), 1);
    check_value(cl_test_next_msg(rd), 1, "b");
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_close(log));
}

/* Without `make kafka`, a Kafka location is refused, saying how to get it;
 * nothing is created. */
static void test_api_log_kafka_location_without_backend(void **state)
{
    (void)state;
    crawllog_t *log = (crawllog_t *)&log; /* must be reset to NULL */
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    assert_int_equal(crawllog_open(&log, "kafka://127.0.0.1:9092", NULL,
                                   errstr, sizeof(errstr)),
                     CRAWLLOG_ENOTSUP);
    assert_null(log);
    assert_non_null(strstr(errstr, "kafka://127.0.0.1:9092"));
    assert_non_null(strstr(errstr, "make kafka"));

    crawllog_conf_t *conf = cl_test_conf("backend", "kafka", NULL);
    errstr[0] = '\0';
    assert_int_equal(crawllog_open(&log, "127.0.0.1:9092", conf, errstr,
                                   sizeof(errstr)),
                     CRAWLLOG_ENOTSUP);
    assert_null(log);
    assert_non_null(strstr(errstr, "make kafka"));
    crawllog_conf_destroy(conf);

    /* A directory literally named like a host is still a directory. */
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/127.0.0.1:9092", CL_TEST_DIR(state));
    assert_int_equal(crawllog_open(&log, dir, NULL, errstr, sizeof(errstr)),
                     CRAWLLOG_OK);
    assert_int_equal(crawllog_close(log), CRAWLLOG_OK);

    size_t problems = 7;
    assert_int_equal(crawllog_verify("kafka://127.0.0.1:9092", NULL, NULL,
                                     &problems, errstr, sizeof(errstr)),
                     CRAWLLOG_ENOTSUP);
    assert_non_null(strstr(errstr, "Kafka"));
}

/* strerror and err_name for every code; version. */
static void test_api_log_error_strings(void **state)
{
    (void)state;
    struct {
        int code;
        const char *name;
    } codes[] = {
#define CL_TEST_CODE_(name, code, desc) {code, "CRAWLLOG_" #name},
        CRAWLLOG_ERRORS(CL_TEST_CODE_)
#undef CL_TEST_CODE_
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    assert_int_equal(n, 25); /* ... EPARTITION, EABORT, ENOTSUP */
    for (size_t i = 0; i < n; i++) {
        const char *s = crawllog_strerror(codes[i].code);
        assert_non_null(s);
        cl_test_checkf(s[0] != '\0' && strcmp(s, "unknown error") != 0,
                       "strerror(%d) = \"%s\"", codes[i].code, s);
        assert_string_equal(crawllog_err_name(codes[i].code), codes[i].name);
        assert_int_equal(codes[i].code, -(int)i);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(s, crawllog_strerror(codes[j].code));
        }
    }
    int unknown[] = {1, -25, -26, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(crawllog_strerror(unknown[i]), "unknown error");
        assert_string_equal(crawllog_err_name(unknown[i]), "CRAWLLOG_EUNKNOWN");
    }
    assert_int_equal(crawllog_version(), CRAWLLOG_VERSION_NUMBER);
    assert_string_equal(crawllog_version_str(), CRAWLLOG_VERSION_STRING);
}

static void expect_errmsg_has(crawllog_t *log, const char *what)
{
    cl_test_checkf(strstr(crawllog_errmsg(log), what) != NULL,
                   "errmsg \"%s\" does not mention \"%s\"",
                   crawllog_errmsg(log), what);
}

/* After a failing call crawllog_errmsg() says what and where. */
static void test_api_log_errmsg(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    char path[4200], errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_record_t r = {NULL, 0, "v", 1, -1, NULL, 0};
    assert_string_equal(crawllog_errmsg(log), "");
    create_topic(log, "known", 1, NULL);
    assert_crawllog_rc(crawllog_append(log, "ghost", 0, &r, 1, 1, NULL),
                       CRAWLLOG_ENOTOPIC);
    expect_errmsg_has(log, "ghost");
    assert_crawllog_rc(crawllog_append(log, "known", 4, &r, 1, 1, NULL),
                       CRAWLLOG_ENOTOPIC);
    expect_errmsg_has(log, "known");
    assert_crawllog_rc(crawllog_topic_create(log, "known", 1, NULL),
                       CRAWLLOG_EEXIST);
    expect_errmsg_has(log, "known");
    assert_crawllog_rc(crawllog_topic_delete(log, "gone"), CRAWLLOG_ENOTOPIC);
    expect_errmsg_has(log, "gone");
    assert_crawllog_rc(
        crawllog_partition_offsets(log, "phantom", 0, NULL, NULL),
        CRAWLLOG_ENOTOPIC);
    expect_errmsg_has(log, "phantom");
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "known", 0));
    assert_crawllog_rc(crawllog_reader_seek(rd, 12345), CRAWLLOG_EOFFSET);
    cl_test_checkf(strstr(crawllog_reader_errmsg(rd), "topics/known/0") &&
                       strstr(crawllog_reader_errmsg(rd), "12345"),
                   "reader errmsg \"%s\"", crawllog_reader_errmsg(rd));
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_close(log));
    /* Before a handle exists: errstr names the path. */
    crawllog_conf_t *c = cl_test_conf("log.dir.create", "false", NULL);
    cl_test_path(path, sizeof(path), dir, "missing-dir");
    assert_crawllog_rc(crawllog_open(&log, path, c, errstr, sizeof(errstr)),
                       CRAWLLOG_ENOENT);
    cl_test_checkf(strstr(errstr, "missing-dir") != NULL, "errstr \"%s\"",
                   errstr);
    crawllog_conf_destroy(c);
}

/* ---------------------------------------------------------------------- */
/* Topics                                                                  */
/* ---------------------------------------------------------------------- */

static void expect_topics(crawllog_t *log, const char *const *want, size_t n)
{
    char **names = NULL;
    size_t count = 99;
    assert_crawllog_ok_log(log, crawllog_topic_list(log, &names, &count));
    assert_int_equal(count, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(names[i], want[i]);
    }
    crawllog_topic_list_free(names, count);
}

static void expect_conf(const crawllog_conf_t *c, const char *name,
                        const char *want)
{
    char buf[64];
    size_t size = sizeof(buf);
    assert_crawllog_ok(crawllog_conf_get(c, name, buf, &size));
    cl_test_checkf(strcmp(buf, want) == 0, "%s = %s, want %s", name, buf, want);
}

static void expect_describe(crawllog_t *log, const char *topic, int32_t parts,
                            const char *seg_bytes, const char *ret_ms)
{
    int32_t got = 0;
    crawllog_conf_t *c = NULL;
    assert_crawllog_ok_log(log, crawllog_topic_describe(log, topic, &got, &c));
    assert_int_equal(got, parts);
    assert_non_null(c);
    expect_conf(c, "segment.bytes", seg_bytes);
    if (ret_ms != NULL) {
        expect_conf(c, "retention.ms", ret_ms);
    }
    expect_conf(c, "max.message.bytes", "1048588"); /* the default */
    crawllog_conf_destroy(c);
}

static void test_api_log_topic_create_list_describe(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_conf_t *lc = cl_test_conf("retention.ms", "12345", NULL);
    crawllog_t *log = cl_test_open(dir, lc);
    crawllog_conf_destroy(lc);
    expect_topics(log, NULL, 0);
    crawllog_conf_t *tc = cl_test_conf("segment.bytes", "8192", NULL);
    create_topic(log, "b", 2, tc);
    create_topic(log, "a", 1, NULL);
    create_topic(log, "c.x-_9", 5, NULL);
    create_topic(log, "B", 1, NULL);
    assert_crawllog_rc(crawllog_topic_create(log, "a", 3, NULL),
                       CRAWLLOG_EEXIST);
    const char *want[] = {"B", "a", "b", "c.x-_9"};
    expect_topics(log, want, 4);
    expect_describe(log, "b", 2, "8192", "12345");
    expect_describe(log, "a", 1, "1073741824", "12345");
    expect_describe(log, "c.x-_9", 5, "1073741824", "12345");
    /* A log-scope property is not a topic override. */
    crawllog_conf_t *bad = cl_test_conf("log.dir.mode", "0750", NULL);
    assert_crawllog_rc(crawllog_topic_create(log, "d", 1, bad),
                       CRAWLLOG_EINVAL);
    expect_errmsg_has(log, "log.dir.mode");
    crawllog_conf_destroy(bad);
    assert_crawllog_rc(crawllog_topic_describe(log, "d", NULL, NULL),
                       CRAWLLOG_ENOTOPIC);
    expect_topics(log, want, 4);
    assert_crawllog_ok(crawllog_close(log));
    /* Overrides persist across a reopen with a default conf. */
    log = cl_test_open(dir, NULL);
    expect_topics(log, want, 4);
    expect_describe(log, "b", 2, "8192", NULL);
    expect_describe(log, "a", 1, "1073741824", NULL);
    create_topic(log, "e", 1, tc);
    expect_describe(log, "e", 1, "8192", "604800000");
    crawllog_conf_destroy(tc);
    assert_crawllog_ok(crawllog_close(log));
}

static void test_api_log_topic_add_partitions(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *a = cl_test_open(dir, NULL);
    crawllog_t *b = cl_test_open(dir, NULL);
    create_topic(a, "g", 1, NULL);
    assert_int_equal(append_value(b, "g", 0, "p0", 1), 0); /* b caches g */
    crawllog_record_t r = {NULL, 0, "v", 1, -1, NULL, 0};
    assert_crawllog_rc(crawllog_append(b, "g", 2, &r, 1, 1, NULL),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_ok_log(a, crawllog_topic_add_partitions(a, "g", 3));
    int32_t parts = 0;
    assert_crawllog_ok(crawllog_topic_describe(b, "g", &parts, NULL));
    assert_int_equal(parts, 3);
    for (int32_t p = 1; p < 3; p++) {
        int64_t s = 9, e = 9;
        offsets(b, "g", p, &s, &e);
        assert_int_equal(s, 0);
        assert_int_equal(e, 0);
        assert_int_equal(append_value(b, "g", p, "new", 1), 0);
        assert_int_equal(append_value(a, "g", p, "new2", 1), 1);
    }
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, a, "g", 2));
    check_value(cl_test_next_msg(rd), 0, "new");
    check_value(cl_test_next_msg(rd), 1, "new2");
    expect_end(rd);
    crawllog_reader_destroy(rd);
    assert_int_equal(log_end(a, "g", 0), 1);
    assert_crawllog_rc(crawllog_topic_add_partitions(a, "g", 3),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_add_partitions(a, "g", 2),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_add_partitions(a, "g", 0),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        crawllog_topic_add_partitions(a, "g", CRAWLLOG_PARTITIONS_MAX + 1),
        CRAWLLOG_EINVAL);
    assert_crawllog_ok(crawllog_topic_describe(a, "g", &parts, NULL));
    assert_int_equal(parts, 3);
    assert_crawllog_ok(crawllog_close(a));
    assert_crawllog_ok(crawllog_close(b));
    a = cl_test_open(dir, NULL);
    assert_int_equal(log_end(a, "g", 2), 2);
    cl_test_close_verify(a, dir);
}

/* Delete, then re-create the same name: empty, also through handles that
 * had the old topic cached (c makes no call between delete and re-create,
 * so its first call after it meets the stale cache). */
static void test_api_log_topic_delete_recreate(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *a = cl_test_open(dir, NULL);
    crawllog_t *b = cl_test_open(dir, NULL);
    crawllog_t *c = cl_test_open(dir, NULL);
    crawllog_record_t r = {NULL, 0, "v", 1, -1, NULL, 0};
    crawllog_reader_t *rd = NULL;
    create_topic(a, "keep", 1, NULL);
    create_topic(a, "del", 2, NULL);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(append_value(b, "del", 0, "old", 1), i);
    }
    assert_int_equal(append_value(b, "del", 1, "old1", 1), 0);
    assert_int_equal(log_end(c, "del", 0), 5); /* c caches both */
    assert_int_equal(log_end(c, "del", 1), 1);
    assert_crawllog_ok(crawllog_reader_new(&rd, c, "del", 0));
    check_value(cl_test_next_msg(rd), 0, "old");
    crawllog_reader_destroy(rd);
    assert_crawllog_ok_log(a, crawllog_topic_delete(a, "del"));
    const char *want[] = {"keep"};
    expect_topics(a, want, 1);
    expect_topics(b, want, 1);
    assert_crawllog_rc(crawllog_partition_offsets(b, "del", 1, NULL, NULL),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_topic_describe(a, "del", NULL, NULL),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_append(a, "del", 0, &r, 1, 1, NULL),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_append(b, "del", 0, &r, 1, 1, NULL),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_reader_new(&rd, b, "del", 0),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_topic_delete(b, "del"), CRAWLLOG_ENOTOPIC);
    /* Re-created: empty everywhere. */
    create_topic(a, "del", 2, NULL);
    for (int32_t p = 0; p < 2; p++) {
        int64_t s = 9, e = 9;
        offsets(c, "del", p, &s, &e);
        cl_test_checkf(s == 0 && e == 0,
                       "stale handle: partition %d offsets [%" PRId64
                       ", %" PRId64 ") after re-create",
                       (int)p, s, e);
        offsets(b, "del", p, &s, &e);
        assert_int_equal(e, 0);
    }
    assert_int_equal(append_value(c, "del", 0, "fresh", 1), 0);
    assert_int_equal(append_value(b, "del", 0, "fresh2", 1), 1);
    assert_int_equal(append_value(a, "del", 0, "fresh3", 1), 2);
    assert_crawllog_ok(crawllog_reader_new(&rd, c, "del", 0));
    check_value(cl_test_next_msg(rd), 0, "fresh");
    check_value(cl_test_next_msg(rd), 1, "fresh2");
    check_value(cl_test_next_msg(rd), 2, "fresh3");
    expect_end(rd);
    crawllog_reader_destroy(rd);
    assert_int_equal(log_end(a, "del", 1), 0);
    assert_int_equal(log_end(c, "del", 1), 0);
    assert_int_equal(log_end(a, "keep", 0), 0);
    assert_crawllog_ok(crawllog_close(a));
    assert_crawllog_ok(crawllog_close(b));
    cl_test_close_verify(c, dir);
}

/* ---------------------------------------------------------------------- */
/* Several handles and threads                                             */
/* ---------------------------------------------------------------------- */

/* Two handles on one directory in one process, appending alternately. */
static void test_api_log_two_handles_alternate(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *h[2] = {cl_test_open(dir, NULL), cl_test_open(dir, NULL)};
    uint64_t rng = cl_test_seed() ^ 0x5eed0004u;
    struct model md = {0};
    int64_t clock = cl_test_now_ms();
    crawllog_conf_t *tc = cl_test_conf("segment.bytes", "4096", NULL);
    create_topic(h[0], "alt", 1, tc);
    crawllog_conf_destroy(tc);
    for (int i = 0; i < 200; i++) {
        struct mrec m[5];
        size_t n = 1 + cl_test_rand_below(&rng, 5);
        for (size_t j = 0; j < n; j++) {
            gen_record(&rng, &m[j], TS_MIXED, &clock);
        }
        model_append(h[i % 2], "alt", 0, &md, m, n,
                     i % 7 == 0 ? CRAWLLOG_SYNC_DURABLE
                                : CRAWLLOG_SYNC_WRITTEN);
    }
    read_all_check(h[1], "alt", 0, &md);
    read_all_check(h[0], "alt", 0, &md);
    assert_crawllog_ok(crawllog_close(h[0]));
    assert_crawllog_ok(crawllog_close(h[1]));
    model_free(&md);
    cl_test_expect_verify_clean(dir);
}

#define TH_WRITERS 4 /* on partition 0 */
#define TH_OTHERS 2  /* one each on partitions 1 and 2 */
#define TH_BATCHES 200

struct th_arg {
    crawllog_t *log;
    int id;
    int32_t partition;
    int counts[TH_BATCHES];
    int64_t bases[TH_BATCHES];
};

static void *th_writer(void *p)
{
    struct th_arg *a = p;
    crawllog_record_t r[4];
    char keys[4][16], vals[4][48];
    for (int s = 0; s < TH_BATCHES; s++) {
        for (int j = 0; j < a->counts[s]; j++) {
            int kl = snprintf(keys[j], sizeof(keys[j]), "t%d", a->id);
            int vl =
                snprintf(vals[j], sizeof(vals[j]), "%d:%d:%d", a->id, s, j);
            r[j] = (crawllog_record_t){keys[j], (size_t)kl, vals[j], (size_t)vl,
                                       -1,      NULL,       0};
        }
        int rc =
            crawllog_append(a->log, "th", a->partition, r, (size_t)a->counts[s],
                            CRAWLLOG_SYNC_WRITTEN, &a->bases[s]);
        cl_test_thread_check(rc == 0, "thread %d append: %s: %s", a->id,
                             crawllog_err_name(rc), crawllog_errmsg(a->log));
    }
    return NULL;
}

struct tail_arg {
    crawllog_t *log;
    int64_t total;
    int64_t *who; /* per offset: id * 1000000 + seq * 10 + j */
};

static int64_t parse_rec(const crawllog_msg_t *msg)
{
    char buf[48];
    size_t len;
    int id, s, j;
    const void *v = crawllog_msg_value(msg, &len);
    if (v == NULL || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (sscanf(buf, "%d:%d:%d", &id, &s, &j) != 3) {
        return -1;
    }
    return (int64_t)id * 1000000 + s * 10 + j;
}

/* Tail partition 0 while the writers run. */
static void *th_tail(void *p)
{
    struct tail_arg *a = p;
    crawllog_reader_t *rd = NULL;
    int64_t got = 0;
    int rc = crawllog_reader_new(&rd, a->log, "th", 0);
    cl_test_thread_check(rc == 0, "tail reader_new: %s", crawllog_err_name(rc));
    while (got < a->total) {
        const crawllog_msg_t *msg = NULL;
        rc = crawllog_reader_next(rd, &msg);
        cl_test_thread_check(rc == 0, "tail next: %s: %s",
                             crawllog_err_name(rc), crawllog_reader_errmsg(rd));
        if (msg == NULL) {
            cl_test_sleep_ms(1);
            continue;
        }
        cl_test_thread_check(crawllog_msg_offset(msg) == got,
                             "tail: offset %" PRId64 ", want %" PRId64,
                             crawllog_msg_offset(msg), got);
        a->who[got] = parse_rec(msg);
        cl_test_thread_check(a->who[got] >= 0, "tail: bad value at %" PRId64,
                             got);
        got++;
    }
    crawllog_reader_destroy(rd);
    return NULL;
}

static void th_verify(crawllog_t *log, struct th_arg *args, int nw,
                      int64_t total, const int64_t *tailed)
{
    crawllog_reader_t *rd = NULL;
    int64_t *who = calloc((size_t)total, sizeof(*who));
    assert_non_null(who);
    assert_int_equal(log_end(log, "th", 0), total);
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "th", 0));
    for (int64_t off = 0; off < total; off++) {
        const crawllog_msg_t *msg = cl_test_next_msg(rd);
        assert_int_equal(crawllog_msg_offset(msg), off);
        who[off] = parse_rec(msg);
        cl_test_checkf(who[off] >= 0, "bad value at %" PRId64, off);
        cl_test_checkf(tailed[off] == who[off],
                       "tail saw another record at %" PRId64, off);
    }
    expect_end(rd);
    crawllog_reader_destroy(rd);
    /* Every record exactly where its append said, so each exactly once. */
    int64_t sum = 0;
    for (int t = 0; t < nw; t++) {
        for (int s = 0; s < TH_BATCHES; s++) {
            for (int j = 0; j < args[t].counts[s]; j++) {
                int64_t off = args[t].bases[s] + j;
                cl_test_checkf(off >= 0 && off < total &&
                                   who[off] ==
                                       (int64_t)t * 1000000 + s * 10 + j,
                               "thread %d batch %d record %d not at %" PRId64,
                               t, s, j, off);
                who[off] = -1;
            }
            sum += args[t].counts[s];
        }
    }
    assert_int_equal(sum, total);
    free(who);
}

/* 4 threads append to one partition (through two handles) while 2 more
 * append to two others and one tails the first: contiguous offsets, every
 * record exactly once, batches never interleaved. */
static void test_api_log_threads_concurrent_append(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *h[2] = {cl_test_open(dir, NULL), cl_test_open(dir, NULL)};
    struct th_arg *args = calloc(TH_WRITERS + TH_OTHERS, sizeof(*args));
    pthread_t tid[TH_WRITERS + TH_OTHERS + 1];
    uint64_t rng = cl_test_seed() ^ 0x5eed0005u;
    int64_t total = 0;
    assert_non_null(args);
    crawllog_conf_t *tc = cl_test_conf("segment.bytes", "8192", NULL);
    create_topic(h[0], "th", 3, tc);
    crawllog_conf_destroy(tc);
    for (int t = 0; t < TH_WRITERS + TH_OTHERS; t++) {
        args[t].log = h[t % 2];
        args[t].id = t;
        args[t].partition = t < TH_WRITERS ? 0 : 1 + (t - TH_WRITERS);
        for (int s = 0; s < TH_BATCHES; s++) {
            args[t].counts[s] = 1 + (int)cl_test_rand_below(&rng, 4);
            total += t < TH_WRITERS ? args[t].counts[s] : 0;
        }
    }
    struct tail_arg ta = {h[1], total, calloc((size_t)total, sizeof(int64_t))};
    assert_non_null(ta.who);
    for (int t = 0; t < TH_WRITERS + TH_OTHERS; t++) {
        assert_int_equal(pthread_create(&tid[t], NULL, th_writer, &args[t]), 0);
    }
    assert_int_equal(
        pthread_create(&tid[TH_WRITERS + TH_OTHERS], NULL, th_tail, &ta), 0);
    for (int t = 0; t < TH_WRITERS + TH_OTHERS + 1; t++) {
        assert_int_equal(pthread_join(tid[t], NULL), 0);
    }
    th_verify(h[0], args, TH_WRITERS, total, ta.who);
    for (int t = TH_WRITERS; t < TH_WRITERS + TH_OTHERS; t++) {
        int64_t expect = 0;
        for (int s = 0; s < TH_BATCHES; s++) {
            assert_int_equal(args[t].bases[s], expect);
            expect += args[t].counts[s];
        }
        assert_int_equal(log_end(h[1], "th", args[t].partition), expect);
    }
    free(ta.who);
    free(args);
    assert_crawllog_ok(crawllog_close(h[0]));
    cl_test_close_verify(h[1], dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_log_roundtrip_many_rolls),
        cmocka_unit_test(test_api_log_seek_every_offset),
        cmocka_unit_test(test_api_log_seek_time_sweep),
        cmocka_unit_test(test_api_log_fetch_whole_batches),
        cl_test_unit_tmpdir(test_api_log_sync_modes_visibility),
        cl_test_unit_tmpdir(test_api_log_sync_none_buffer_full),
        cl_test_unit_tmpdir(test_api_log_max_message_bytes),
        cl_test_unit_tmpdir(test_api_log_misuse_null),
        cl_test_unit_tmpdir(test_api_log_misuse_values),
        cmocka_unit_test(test_api_log_error_strings),
        cl_test_unit_tmpdir(test_api_log_kafka_location_without_backend),
        cl_test_unit_tmpdir(test_api_log_errmsg),
        cl_test_unit_tmpdir(test_api_log_topic_create_list_describe),
        cl_test_unit_tmpdir(test_api_log_topic_add_partitions),
        cl_test_unit_tmpdir(test_api_log_topic_delete_recreate),
        cl_test_unit_tmpdir(test_api_log_two_handles_alternate),
        cl_test_unit_tmpdir(test_api_log_threads_concurrent_append),
    };
    return cmocka_run_group_tests_name("api_log", tests, NULL, group_teardown);
}
