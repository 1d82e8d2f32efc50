/*
 * test_inspect.c - crawllog_partition_segments() and
 * crawllog_partition_batches() (libcrawllog/inspect.c): segments after
 * rolls (bases, offsets, sizes against stat(), active flag, largest
 * timestamps), every batch field against what was appended (crawllog_append
 * and an idempotent producer), starting in the middle, stopping early, a
 * flipped payload byte (crc_valid 0 for that batch only), unreadable
 * structure (CRAWLLOG_ECORRUPT naming file and byte), a missing index file
 * (not re-created), argument and partition errors, injected I/O and
 * allocation failures, and a walk while another handle appends and rolls
 * and retention deletes segments.  The data directory is not changed by
 * either call.  Built with -DCRAWLLOG_TESTING.
 *
 * Expected values come from what the test appended and from the files
 * parsed here with plain system calls (helpers.h), not from the library.
 */
#include "helpers.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h" /* cl_fp_set, cl_fp_clear */

#define TOPIC "t"
#define SEG0 "topics/" TOPIC "/0/00000000000000000000.log"
#define TS0 1700000000000LL
#define MAX_RECS 8

/* What the test appended as one batch. */
struct exp {
    int64_t base;
    int32_t count;
    int64_t first_ts, max_ts;
    int64_t pid;
    int16_t epoch;
    int32_t seq;
};

/* Batches a callback received. */
struct got {
    crawllog_batch_info_t *b;
    size_t n, cap;
    size_t stop_after; /* 0: never stop */
};

static int collect(void *opaque, const crawllog_batch_info_t *b)
{
    struct got *g = opaque;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->b = realloc(g->b, g->cap * sizeof(*g->b));
        cl_test_thread_check(g->b != NULL, "out of memory");
    }
    g->b[g->n++] = *b;
    return g->stop_after != 0 && g->n >= g->stop_after;
}

static int walk(crawllog_t *log, int32_t p, int64_t from, struct got *g)
{
    g->n = 0;
    return crawllog_partition_batches(log, TOPIC, p, from, collect, g);
}

static const char *data_dir(void **state, char *buf, size_t size)
{
    return cl_test_path(buf, size, CL_TEST_DIR(state), "data");
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Timestamp of record i of a batch whose first record has ts0: not
 * monotonic, so that a batch's first and largest timestamps differ. */
static int64_t rec_ts(int64_t ts0, int i)
{
    return i % 3 == 1 ? ts0 + 5 * i : ts0 - i;
}

/* count records of vlen value bytes into recs (timestamps rec_ts) and e. */
static void make_batch(crawllog_record_t *recs, char *val, int count,
                       int64_t ts0, size_t vlen, struct exp *e)
{
    memset(val, 'v', vlen);
    memset(e, 0, sizeof(*e));
    e->count = count;
    e->first_ts = ts0;
    e->max_ts = ts0;
    e->pid = -1;
    e->epoch = -1;
    e->seq = -1;
    for (int i = 0; i < count; i++) {
        recs[i] =
            (crawllog_record_t){"k", 1, val, vlen, rec_ts(ts0, i), NULL, 0};
        e->max_ts = rec_ts(ts0, i) > e->max_ts ? rec_ts(ts0, i) : e->max_ts;
    }
}

static void append_batch(crawllog_t *log, int32_t p, int count, int64_t ts0,
                         size_t vlen, struct exp *e)
{
    crawllog_record_t recs[MAX_RECS];
    char val[512];
    make_batch(recs, val, count, ts0, vlen, e);
    assert_crawllog_ok_log(log,
                           crawllog_append(log, TOPIC, p, recs, (size_t)count,
                                           CRAWLLOG_SYNC_WRITTEN, &e->base));
}

static void offsets(crawllog_t *log, int32_t p, int64_t *start, int64_t *end)
{
    assert_crawllog_ok_log(
        log, crawllog_partition_offsets(log, TOPIC, p, start, end));
}

/* Path of file name of partition p. */
static const char *ppath(const char *dir, int32_t p, const char *name,
                         char *buf, size_t size)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "topics/" TOPIC "/%d/%s", (int)p, name);
    return cl_test_path(buf, size, dir, rel);
}

static uint64_t seg_file_size(const char *dir, int32_t p, int64_t base,
                              const char *sfx)
{
    char name[64], path[4096];
    snprintf(name, sizeof(name), "%020" PRId64 "%s", base, sfx);
    ppath(dir, p, name, path, sizeof(path));
    return cl_test_exists(path) ? cl_test_file_size(path) : 0;
}

/* Byte positions of the batches of a segment file, from its length
 * fields; returns the count. */
static size_t file_batches(const char *path, uint64_t *pos, size_t max)
{
    size_t len, n = 0;
    unsigned char *f = cl_test_read_file(path, &len);
    for (uint64_t p = 64; p + 61 <= len && n < max;) {
        pos[n++] = p;
        p += be32(f + p + 8) + 12;
    }
    free(f);
    return n;
}

/* ---------------------------------------------------------------------- */

/* Several rolls: the segments match the files and what was appended, and
 * neither call changes the directory. */
static void test_inspect_segments_after_rolls(void **state)
{
    enum { NB = 80 };
    char dir[4096];
    struct exp e[NB];
    crawllog_segment_info_t *s;
    size_t n;
    int64_t start, end, t0 = cl_test_now_ms();
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, TOPIC, 3, "segment.bytes", "4096",
                         "index.interval.bytes", "256", NULL);
    for (int i = 0; i < NB; i++) {
        append_batch(log, 0, 1 + i % 4, TS0 + ((i * 37) % 101) * 1000, 120,
                     &e[i]);
    }
    int64_t t1 = cl_test_now_ms();
    offsets(log, 2, NULL, NULL); /* opens partition 2 */
    offsets(log, 0, &start, &end);
    struct cl_test_snap *before = cl_test_snap_take(dir);

    assert_crawllog_ok_log(log,
                           crawllog_partition_segments(log, TOPIC, 0, &s, &n));
    struct cl_test_seglist *sl = cl_test_segments(dir, TOPIC, 0);
    assert_true(n >= 4);
    assert_int_equal(n, sl->n);
    int64_t batches = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t max_ts = -1, count = 0;
        assert_int_equal(s[i].base_offset, sl->base[i]);
        assert_int_equal(s[i].log_bytes, sl->size[i]);
        assert_true(s[i].log_bytes > 64 && s[i].log_bytes <= 4096);
        assert_int_equal(s[i].index_bytes,
                         seg_file_size(dir, 0, s[i].base_offset, ".index"));
        assert_int_equal(s[i].timeindex_bytes,
                         seg_file_size(dir, 0, s[i].base_offset, ".timeindex"));
        assert_int_equal(s[i].active, i + 1 == n);
        assert_int_equal(s[i].base_offset, i == 0 ? 0 : s[i - 1].next_offset);
        assert_true(s[i].created_ms >= t0 - 1 && s[i].created_ms <= t1 + 1);
        for (int k = 0; k < NB; k++) {
            if (e[k].base >= s[i].base_offset && e[k].base < s[i].next_offset) {
                /* a batch never straddles two segments */
                assert_true(e[k].base + e[k].count <= s[i].next_offset);
                max_ts = e[k].max_ts > max_ts ? e[k].max_ts : max_ts;
                count++;
            }
        }
        assert_int_equal(s[i].max_timestamp, max_ts);
        assert_int_equal(s[i].batch_count, count);
        batches += s[i].batch_count;
    }
    assert_int_equal(s[n - 1].next_offset, end);
    assert_int_equal(batches, NB);
    assert_true(s[0].index_bytes > 0 && s[0].timeindex_bytes > 0);
    free(s);
    free(sl);

    /* An empty partition: one empty active segment. */
    assert_crawllog_ok_log(log,
                           crawllog_partition_segments(log, TOPIC, 2, &s, &n));
    assert_int_equal(n, 1);
    assert_int_equal(s[0].base_offset, 0);
    assert_int_equal(s[0].next_offset, 0);
    assert_int_equal(s[0].log_bytes, 64);
    assert_int_equal(s[0].max_timestamp, -1);
    assert_int_equal(s[0].batch_count, 0);
    assert_int_equal(s[0].active, 1);
    free(s);

    struct got g = {0};
    assert_crawllog_ok_log(log, walk(log, 0, 0, &g));
    assert_int_equal(g.n, NB);
    assert_crawllog_ok_log(log, walk(log, 2, 0, &g));
    assert_int_equal(g.n, 0);
    free(g.b);
    assert_dir_unchanged(before, dir);
    cl_test_close_verify(log, dir);
}

/* Check walked batches g->b[0 .. n) against e[0 .. n) and the files;
 * to_end: the last one is the last of the partition. */
static void check_batches(const char *dir, const struct got *g,
                          const struct exp *e, size_t n, int to_end)
{
    for (size_t k = 0; k < n; k++) {
        const crawllog_batch_info_t *b = &g->b[k];
        char name[64], path[4096];
        size_t len;
        assert_int_equal(b->base_offset, e[k].base);
        assert_int_equal(b->last_offset, e[k].base + e[k].count - 1);
        assert_int_equal(b->record_count, e[k].count);
        assert_int_equal(b->magic, 2);
        assert_int_equal(b->attributes, 0);
        assert_int_equal(b->crc_valid, 1);
        assert_int_equal(b->first_timestamp, e[k].first_ts);
        assert_int_equal(b->max_timestamp, e[k].max_ts);
        assert_true(b->first_timestamp != b->max_timestamp || e[k].count == 1);
        assert_int_equal(b->producer_id, e[k].pid);
        assert_int_equal(b->producer_epoch, e[k].epoch);
        assert_int_equal(b->base_sequence, e[k].seq);
        assert_int_equal(b->leader_epoch, -1);
        /* The bytes at position in the segment file. */
        snprintf(name, sizeof(name), "%020" PRId64 ".log", b->segment_base);
        unsigned char *f =
            cl_test_read_file(ppath(dir, 0, name, path, sizeof(path)), &len);
        assert_true(b->position + b->size <= len);
        assert_int_equal(be64(f + b->position), b->base_offset);
        assert_int_equal(be32(f + b->position + 8) + 12, b->size);
        assert_int_equal(be32(f + b->position + 17), b->crc);
        if ((k + 1 == n && to_end) ||
            (k + 1 < n && g->b[k + 1].segment_base != b->segment_base)) {
            assert_int_equal(b->position + b->size, len); /* last one */
        }
        free(f);
        if (k > 0 && g->b[k - 1].segment_base == b->segment_base) {
            assert_int_equal(b->position,
                             g->b[k - 1].position + g->b[k - 1].size);
        } else if (k > 0) {
            assert_int_equal(b->position, 64);
            assert_int_equal(b->segment_base, b->base_offset);
        }
    }
}

/* Every field of every batch: plain appends and an idempotent producer's
 * batches; from an offset in the middle; stopping early. */
static void test_inspect_batches_fields(void **state)
{
    enum { NA = 30, NP = 12, NE = NA + NP + 5 };
    char dir[4096], errstr[CRAWLLOG_ERRSTR_SIZE];
    struct exp e[NE];
    size_t ne = 0;
    crawllog_producer_t *prod;
    int64_t pid, start, end;
    int16_t epoch;
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, TOPIC, 1, "segment.bytes", "4096",
                         "index.interval.bytes", "256", NULL);
    for (int i = 0; i < NA; i++) {
        append_batch(log, 0, 1 + (i * 3) % 7, TS0 + i * 1000, 90, &e[ne++]);
    }
    crawllog_conf_t *pc =
        cl_test_conf("enable.idempotence", "true", "acks", "1", NULL);
    assert_crawllog_ok(
        crawllog_producer_new(log, pc, &prod, errstr, sizeof(errstr)));
    crawllog_conf_destroy(pc);
    assert_crawllog_ok(crawllog_producer_identity(prod, &pid, &epoch));
    assert_true(pid >= 0 && epoch >= 0);
    int32_t seq = 0;
    for (int i = 0; i < NP; i++) {
        crawllog_record_t recs[MAX_RECS];
        char val[512];
        struct exp *x = &e[ne++];
        make_batch(recs, val, 1 + i % 4, TS0 + 50000 + i, 100, x);
        assert_crawllog_ok(crawllog_producer_send_batch(
            prod, TOPIC, 0, recs, (size_t)x->count, &x->base));
        x->pid = pid;
        x->epoch = epoch;
        x->seq = seq;
        seq += x->count;
    }
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    for (int i = 0; i < 5; i++) {
        append_batch(log, 0, 2, TS0 + 90000 + i, 80, &e[ne++]);
    }
    offsets(log, 0, &start, &end);
    assert_int_equal(end, e[ne - 1].base + e[ne - 1].count);

    struct got g = {0};
    assert_crawllog_ok_log(log, walk(log, 0, 0, &g));
    assert_int_equal(g.n, ne);
    assert_int_equal(g.b[0].position, 64);
    assert_int_equal(g.b[0].segment_base, 0);
    check_batches(dir, &g, e, ne, 1);
    assert_true(g.b[ne - 1].segment_base > 0); /* several segments */

    /* From inside a batch, from its base, from below the start. */
    size_t k = ne / 2;
    while (e[k].count < 2) {
        k++;
    }
    int64_t froms[3] = {e[k].base + 1, e[k].base, -5};
    size_t firsts[3] = {k, k, 0};
    for (int i = 0; i < 3; i++) {
        assert_crawllog_ok_log(log, walk(log, 0, froms[i], &g));
        assert_int_equal(g.n, ne - firsts[i]);
        check_batches(dir, &g, e + firsts[i], ne - firsts[i], 1);
    }
    /* From the first batch of a later segment. */
    for (k = 1; g.b[k].segment_base == g.b[0].segment_base; k++) {
    }
    assert_crawllog_ok_log(log, walk(log, 0, e[k].base, &g));
    assert_int_equal(g.n, ne - k);
    assert_int_equal(g.b[0].position, 64);
    check_batches(dir, &g, e + k, ne - k, 1);
    /* At or past the end: nothing. */
    assert_crawllog_ok_log(log, walk(log, 0, end, &g));
    assert_int_equal(g.n, 0);
    assert_crawllog_ok_log(log, walk(log, 0, INT64_MAX, &g));
    assert_int_equal(g.n, 0);
    /* Stopping early. */
    g.stop_after = 3;
    assert_crawllog_ok_log(log, walk(log, 0, 0, &g));
    assert_int_equal(g.n, 3);
    check_batches(dir, &g, e, 3, 0);
    free(g.b);
    cl_test_close_verify(log, dir);
}

/* Topic t, one partition of small segments: nb batches of 1-3 records. */
static void build_small(const char *dir, int nb)
{
    struct exp e;
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, TOPIC, 1, "segment.bytes", "4096",
                         "index.interval.bytes", "256", NULL);
    for (int i = 0; i < nb; i++) {
        append_batch(log, 0, 1 + i % 3, TS0 + i, 150, &e);
    }
    assert_crawllog_ok(crawllog_close(log));
}

/* A flipped byte in a batch's records: that batch has crc_valid 0, every
 * other one 1, and the walk goes on to the end. */
static void test_inspect_flipped_payload_byte(void **state)
{
    char dir[4096], path[4096];
    uint64_t pos[64];
    build_small(data_dir(state, dir, sizeof(dir)), 40);
    cl_test_path(path, sizeof(path), dir, SEG0);
    size_t nb0 = file_batches(path, pos, 64);
    assert_true(nb0 >= 4);
    /* The last byte of the third batch: inside its last record. */
    cl_test_flip_byte(path, (off_t)pos[3] - 1, 0x5a);

    crawllog_t *log = cl_test_open(dir, NULL);
    struct got g = {0};
    assert_crawllog_ok_log(log, walk(log, 0, 0, &g));
    assert_int_equal(g.n, 40);
    for (size_t k = 0; k < g.n; k++) {
        int bad = g.b[k].segment_base == 0 && g.b[k].position == pos[2];
        assert_int_equal(g.b[k].crc_valid, !bad);
        assert_int_equal(g.b[k].record_count, 1 + (int)k % 3);
    }
    /* crawllog_partition_segments reads headers only. */
    crawllog_segment_info_t *s;
    size_t n;
    assert_crawllog_ok_log(log,
                           crawllog_partition_segments(log, TOPIC, 0, &s, &n));
    assert_int_equal(s[0].batch_count, nb0);
    free(s);
    free(g.b);
    assert_crawllog_ok(crawllog_close(log));
}

/* Batches larger than the walk's read buffer (256 KiB) are CRC-checked in
 * pieces: a flipped byte past the first piece is found. */
static void test_inspect_large_batches(void **state)
{
    static const size_t sizes[5] = {10, 700000, 20, 270000, 30};
    char dir[4096], path[4096];
    struct got g = {0};
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    char *val = calloc(1, 700000);
    assert_non_null(val);
    for (int i = 0; i < 5; i++) {
        crawllog_record_t r = {NULL, 0, val, sizes[i], TS0 + i, NULL, 0};
        assert_crawllog_ok_log(
            log,
            crawllog_append(log, TOPIC, 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    }
    free(val);
    assert_crawllog_ok_log(log, walk(log, 0, 0, &g));
    assert_int_equal(g.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(g.b[i].crc_valid, 1);
        assert_true(g.b[i].size > sizes[i] && g.b[i].size < sizes[i] + 100);
    }
    /* Flip a byte near the end of each large batch (the handle stays
     * open: no recovery looks at the damage). */
    cl_test_path(path, sizeof(path), dir, SEG0);
    for (int i = 1; i < 5; i += 2) {
        cl_test_flip_byte(path, (off_t)(g.b[i].position + g.b[i].size - 2),
                          0x01);
    }
    crawllog_segment_info_t *s;
    size_t n;
    assert_crawllog_ok_log(log,
                           crawllog_partition_segments(log, TOPIC, 0, &s, &n));
    assert_int_equal(n, 1);
    assert_int_equal(s[0].batch_count, 5);
    assert_int_equal(s[0].max_timestamp, TS0 + 4);
    free(s);
    assert_crawllog_ok_log(log, walk(log, 0, 0, &g));
    assert_int_equal(g.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(g.b[i].crc_valid, i % 2 == 0);
    }
    assert_crawllog_ok_log(log, walk(log, 0, 3, &g));
    assert_int_equal(g.n, 2);
    assert_int_equal(g.b[0].crc_valid, 0);
    free(g.b);
    assert_crawllog_ok(crawllog_close(log));
}

/* Unreadable structure in the first (sealed) segment: CRAWLLOG_ECORRUPT
 * naming the file and byte, after the batches before it. */
static void test_inspect_unreadable_structure(void **state)
{
    char dir[4096], path[4096], want[128];
    uint64_t pos[64];
    size_t len;
    build_small(data_dir(state, dir, sizeof(dir)), 40);
    cl_test_path(path, sizeof(path), dir, SEG0);
    size_t nb0 = file_batches(path, pos, 64);
    unsigned char *orig = cl_test_read_file(path, &len);
    for (int v = 0; v < 4; v++) {
        unsigned char *f = malloc(len);
        size_t flen = len, before = 1;
        uint64_t at = pos[1];
        assert_non_null(f);
        memcpy(f, orig, len);
        if (v == 0) { /* length far past the end of the file */
            f[at + 8] = 0x7f;
        } else if (v == 1) { /* length below a header */
            memset(f + at + 8, 0, 4);
            f[at + 11] = 20;
        } else if (v == 2) { /* another magic */
            f[at + 16] = 1;
        } else { /* the last batch cut short */
            flen = len - 10;
            at = pos[nb0 - 1];
            before = nb0 - 1;
        }
        cl_test_write_file(path, f, flen);
        free(f);
        crawllog_t *log = cl_test_open(dir, NULL);
        struct got g = {0};
        assert_crawllog_rc_log(log, walk(log, 0, 0, &g), CRAWLLOG_ECORRUPT);
        assert_int_equal(g.n, before);
        snprintf(want, sizeof(want), SEG0 ": byte %" PRIu64 ": ", at);
        cl_test_checkf(strstr(crawllog_errmsg(log), want) != NULL,
                       "variant %d: errmsg \"%s\" lacks \"%s\"", v,
                       crawllog_errmsg(log), want);
        crawllog_segment_info_t *s = (void *)1;
        size_t n = 9;
        assert_crawllog_rc(crawllog_partition_segments(log, TOPIC, 0, &s, &n),
                           CRAWLLOG_ECORRUPT);
        assert_null(s);
        assert_int_equal(n, 0);
        assert_non_null(strstr(crawllog_errmsg(log), want));
        /* Later segments are still readable. */
        int64_t end;
        offsets(log, 0, NULL, &end);
        assert_crawllog_ok_log(log, walk(log, 0, end - 1, &g));
        assert_int_equal(g.n, 1);
        free(g.b);
        assert_crawllog_ok(crawllog_close(log));
    }
    cl_test_write_file(path, orig, len);
    free(orig);
    cl_test_expect_verify_clean(dir);
}

/* A sealed segment without its .index: looked up without it, and the file
 * is not re-created (loading an index creates missing files). */
static void test_inspect_missing_index(void **state)
{
    char dir[4096], path[4096];
    uint64_t pos[64];
    build_small(data_dir(state, dir, sizeof(dir)), 40);
    cl_test_path(path, sizeof(path), dir, SEG0);
    size_t nb0 = file_batches(path, pos, 64);
    ppath(dir, 0, "00000000000000000000.index", path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    crawllog_t *log = cl_test_open(dir, NULL);
    struct got g = {0};
    assert_crawllog_ok_log(log, walk(log, 0, 0, &g));
    assert_int_equal(g.n, 40);
    int64_t from = g.b[nb0 - 2].base_offset;
    assert_crawllog_ok_log(log, walk(log, 0, from, &g));
    assert_int_equal(g.n, 40 - (nb0 - 2));
    assert_int_equal(g.b[0].position, pos[nb0 - 2]);
    assert_false(cl_test_exists(path));
    crawllog_segment_info_t *s;
    size_t n;
    assert_crawllog_ok_log(log,
                           crawllog_partition_segments(log, TOPIC, 0, &s, &n));
    assert_int_equal(s[0].index_bytes, 0);
    assert_true(s[0].timeindex_bytes > 0);
    assert_false(cl_test_exists(path));
    free(s);
    free(g.b);
    assert_crawllog_ok(crawllog_close(log));
}

static void test_inspect_bad_arguments(void **state)
{
    char dir[4096];
    crawllog_segment_info_t *s = (void *)1;
    size_t n = 7;
    struct got g = {0};
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, TOPIC, 3, NULL);
    assert_crawllog_rc(crawllog_partition_segments(NULL, TOPIC, 0, &s, &n),
                       CRAWLLOG_EINVAL);
    assert_null(s);
    assert_int_equal(n, 0);
    assert_crawllog_rc(crawllog_partition_segments(log, NULL, 0, &s, &n),
                       CRAWLLOG_EINVAL);
    assert_non_null(strstr(crawllog_errmsg(log), "NULL"));
    assert_crawllog_rc(crawllog_partition_segments(log, TOPIC, 0, NULL, &n),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_partition_segments(log, TOPIC, 0, &s, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        crawllog_partition_batches(NULL, TOPIC, 0, 0, collect, &g),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_partition_batches(log, NULL, 0, 0, collect, &g),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_partition_batches(log, TOPIC, 0, 0, NULL, &g),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(walk(log, -1, 0, &g), CRAWLLOG_EINVAL);
    s = (void *)1;
    assert_crawllog_rc(crawllog_partition_segments(log, "bad/name", 0, &s, &n),
                       CRAWLLOG_EINVAL);
    assert_null(s);
    assert_crawllog_rc(crawllog_partition_segments(log, "nope", 0, &s, &n),
                       CRAWLLOG_ENOTOPIC);
    assert_non_null(strstr(crawllog_errmsg(log), "nope"));
    assert_crawllog_rc(
        crawllog_partition_batches(log, "nope", 0, 0, collect, &g),
        CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_partition_segments(log, TOPIC, 3, &s, &n),
                       CRAWLLOG_ENOTOPIC);
    assert_non_null(strstr(crawllog_errmsg(log), "no partition 3"));
    assert_crawllog_rc(walk(log, 3, 0, &g), CRAWLLOG_ENOTOPIC);
    assert_int_equal(g.n, 0);
    /* A deleted topic, through a handle that had it open. */
    assert_crawllog_ok_log(log, walk(log, 1, 0, &g));
    crawllog_t *other = cl_test_open(dir, NULL);
    assert_crawllog_ok(crawllog_topic_delete(other, TOPIC));
    assert_crawllog_ok(crawllog_close(other));
    assert_crawllog_rc(walk(log, 1, 0, &g), CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_partition_segments(log, TOPIC, 1, &s, &n),
                       CRAWLLOG_ENOTOPIC);
    free(g.b);
    assert_crawllog_ok(crawllog_close(log));
}

/* A callback that runs retention on the first batch it gets. */
struct deleter {
    struct got g;
    crawllog_t *log;
};

static int delete_on_first(void *opaque, const crawllog_batch_info_t *b)
{
    struct deleter *d = opaque;
    if (d->g.n == 0) {
        int64_t deleted = 0;
        assert_crawllog_ok_log(d->log, crawllog_maintain(d->log, &deleted));
        assert_true(deleted >= 2);
    }
    return collect(&d->g, b);
}

/* Segments deleted by retention during a walk (here by its own callback,
 * which runs without locks): the open one is read to its end, the deleted
 * ones are skipped, the rest is read. */
static void test_inspect_segments_deleted_during_walk(void **state)
{
    char dir[4096];
    struct exp e;
    crawllog_segment_info_t *s;
    size_t n;
    int64_t start, end;
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, TOPIC, 1, "segment.bytes", "4096",
                         "retention.bytes", "8192", "retention.ms", "-1", NULL);
    for (int i = 0; i < 80; i++) {
        append_batch(log, 0, 1 + i % 3, TS0 + i, 150, &e);
    }
    assert_crawllog_ok_log(log,
                           crawllog_partition_segments(log, TOPIC, 0, &s, &n));
    assert_true(n >= 6);
    struct deleter d = {{0}, log};
    assert_crawllog_ok_log(
        log, crawllog_partition_batches(log, TOPIC, 0, 0, delete_on_first, &d));
    offsets(log, 0, &start, &end);
    assert_true(start > s[1].base_offset);
    size_t k = 0;
    while (k < d.g.n && d.g.b[k].segment_base == 0) {
        k++;
    }
    assert_int_equal(k, s[0].batch_count); /* the first one, whole */
    assert_true(k < d.g.n);
    assert_int_equal(d.g.b[k].base_offset, start); /* then the log start */
    for (k++; k < d.g.n; k++) {
        assert_int_equal(d.g.b[k].base_offset, d.g.b[k - 1].last_offset + 1);
    }
    assert_int_equal(d.g.b[d.g.n - 1].last_offset + 1, end);
    free(d.g.b);
    free(s);
    cl_test_close_verify(log, dir);
}

/* A callback that appends a batch to the partition being walked. */
static int append_on_each(void *opaque, const crawllog_batch_info_t *b)
{
    struct deleter *d = opaque;
    struct exp e;
    append_batch(d->log, 0, 2, TS0 + 7, 150, &e);
    return collect(&d->g, b);
}

/* Batches appended after the walk began (here by its own callback, some of
 * them into the segment being read, some into new segments) are not
 * reported; the next walk has them. */
static void test_inspect_appends_during_walk(void **state)
{
    enum { NB = 30 };
    char dir[4096];
    struct exp e;
    int64_t end0, end1;
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, TOPIC, 1, "segment.bytes", "4096", NULL);
    for (int i = 0; i < NB; i++) {
        append_batch(log, 0, 1 + i % 3, TS0 + i, 150, &e);
    }
    offsets(log, 0, NULL, &end0);
    struct deleter d = {{0}, log};
    assert_crawllog_ok_log(
        log, crawllog_partition_batches(log, TOPIC, 0, 0, append_on_each, &d));
    assert_int_equal(d.g.n, NB);
    assert_int_equal(d.g.b[NB - 1].last_offset + 1, end0);
    offsets(log, 0, NULL, &end1);
    assert_int_equal(end1, end0 + 2 * NB);
    assert_crawllog_ok_log(log, walk(log, 0, 0, &d.g));
    assert_int_equal(d.g.n, 2 * NB);
    assert_int_equal(d.g.b[2 * NB - 1].last_offset + 1, end1);
    free(d.g.b);
    cl_test_close_verify(log, dir);
}

/* Injected failures: an I/O error is reported with the file; lack of
 * memory anywhere gives CRAWLLOG_ENOMEM and leaks nothing. */
static void test_inspect_failpoints(void **state)
{
    char dir[4096];
    struct got g = {0};
    crawllog_segment_info_t *s;
    size_t n;
    build_small(data_dir(state, dir, sizeof(dir)), 40);
    crawllog_t *log = cl_test_open(dir, NULL);
    int64_t end;
    offsets(log, 0, NULL, &end); /* the partition is open */
    assert_int_equal(cl_fp_set("inspect.read=EIO@3"), 0);
    assert_crawllog_rc_log(log, walk(log, 0, 0, &g), CRAWLLOG_EIO);
    assert_non_null(strstr(crawllog_errmsg(log), ".log: read: "));
    assert_int_equal(cl_fp_set("inspect.open=EMFILE@2"), 0);
    assert_crawllog_rc(crawllog_partition_segments(log, TOPIC, 0, &s, &n),
                       CRAWLLOG_EMFILE);
    assert_int_equal(cl_fp_set("inspect.stat=EIO@2"), 0);
    assert_crawllog_rc(crawllog_partition_segments(log, TOPIC, 0, &s, &n),
                       CRAWLLOG_EIO);
    assert_non_null(strstr(crawllog_errmsg(log), ".timeindex: stat: "));
    for (int persist = 0; persist < 2; persist++) {
        for (int call = 0; call < 2; call++) {
            int rc = CRAWLLOG_ENOMEM;
            for (int k = 1; rc == CRAWLLOG_ENOMEM; k++) {
                char spec[64];
                snprintf(spec, sizeof(spec), "malloc=ENOMEM@%d%s", k,
                         persist ? ":persist" : "");
                assert_int_equal(cl_fp_set(spec), 0);
                rc = call ? walk(log, 0, end / 2, &g)
                          : crawllog_partition_segments(log, TOPIC, 0, &s, &n);
                cl_fp_clear();
                cl_test_checkf(rc == 0 || rc == CRAWLLOG_ENOMEM, "%s: %s", spec,
                               crawllog_err_name(rc));
                assert_true(k < 1000);
            }
            if (call == 0) {
                assert_true(n > 1);
                free(s);
            }
        }
    }
    cl_fp_clear();
    assert_crawllog_ok_log(log, walk(log, 0, 0, &g));
    assert_int_equal(g.n, 40);
    free(g.b);
    assert_crawllog_ok(crawllog_close(log));
}

/* ---- concurrency -------------------------------------------------------- */

#define CONC_APPENDS 600

struct conc {
    crawllog_t *w;   /* the appender's own handle, like another process */
    crawllog_t *log; /* the inspecting handle, which also runs retention */
    pthread_mutex_t mu;
    int done;
};

static void *appender(void *p)
{
    struct conc *c = p;
    char val[100];
    memset(val, 'a', sizeof(val));
    for (int i = 0; i < CONC_APPENDS; i++) {
        crawllog_record_t r[3];
        for (int k = 0; k < 3; k++) {
            r[k] = (crawllog_record_t){NULL,    0,    val, sizeof(val),
                                       TS0 + i, NULL, 0};
        }
        int rc = crawllog_append(c->w, TOPIC, 0, r, 1 + (size_t)(i % 3),
                                 CRAWLLOG_SYNC_WRITTEN, NULL);
        cl_test_thread_check(rc == 0, "append %d: %s: %s", i,
                             crawllog_err_name(rc), crawllog_errmsg(c->w));
        if (i % 20 == 19) {
            int64_t deleted;
            rc = crawllog_maintain(c->log, &deleted);
            cl_test_thread_check(rc == 0, "maintain: %s: %s",
                                 crawllog_err_name(rc),
                                 crawllog_errmsg(c->log));
        }
    }
    pthread_mutex_lock(&c->mu);
    c->done = 1;
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* One round of both calls while the appender runs. */
static void conc_round(crawllog_t *log, struct got *g)
{
    int64_t start0, end0, end1;
    crawllog_segment_info_t *s;
    size_t n;
    offsets(log, 0, &start0, &end0);
    assert_crawllog_ok_log(log, walk(log, 0, 0, g));
    offsets(log, 0, NULL, &end1);
    for (size_t k = 0; k < g->n; k++) {
        const crawllog_batch_info_t *b = &g->b[k], *a = k ? b - 1 : NULL;
        assert_int_equal(b->crc_valid, 1);
        assert_true(b->last_offset < end1);
        if (a == NULL) {
            assert_true(b->base_offset >= start0);
        } else if (a->segment_base == b->segment_base) {
            assert_int_equal(b->base_offset, a->last_offset + 1);
        } else { /* a segment deleted meanwhile may be skipped */
            assert_true(b->segment_base > a->segment_base);
            assert_true(b->base_offset > a->last_offset);
            assert_int_equal(b->base_offset, b->segment_base);
            assert_int_equal(b->position, 64);
        }
    }
    /* Retention keeps the segment before an empty active one. */
    assert_true(g->n > 0 && g->b[g->n - 1].last_offset + 1 >= end0);
    assert_crawllog_ok_log(log,
                           crawllog_partition_segments(log, TOPIC, 0, &s, &n));
    offsets(log, 0, NULL, &end1);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(s[i].active, i + 1 == n);
        /* (<: a segment deleted after the snapshot is left out) */
        assert_true(i + 1 == n || s[i].next_offset <= s[i + 1].base_offset);
        assert_true(s[i].next_offset >= s[i].base_offset);
    }
    assert_true(s[n - 1].next_offset >= end0 && s[n - 1].next_offset <= end1);
    free(s);
}

/* Walks and segment listings while another handle appends (rolling every
 * few batches) and retention deletes segments through this one. */
static void test_inspect_concurrent_appends(void **state)
{
    char dir[4096];
    struct conc c = {NULL, NULL, PTHREAD_MUTEX_INITIALIZER, 0};
    struct got g = {0};
    pthread_t th;
    int rounds = 0, done = 0;
    c.log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(c.log, TOPIC, 1, "segment.bytes", "4096",
                         "retention.bytes", "16384", "retention.ms", "-1",
                         NULL);
    c.w = cl_test_open(dir, NULL);
    crawllog_record_t r = {NULL, 0, "x", 1, TS0, NULL, 0};
    assert_crawllog_ok(
        crawllog_append(c.w, TOPIC, 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    assert_int_equal(pthread_create(&th, NULL, appender, &c), 0);
    while (!done) {
        conc_round(c.log, &g);
        rounds++;
        pthread_mutex_lock(&c.mu);
        done = c.done;
        pthread_mutex_unlock(&c.mu);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("%d rounds during the appends\n", rounds);
    conc_round(c.log, &g);
    int64_t start, end;
    offsets(c.log, 0, &start, &end);
    cl_test_checkf(start > 0, "retention never ran");
    assert_crawllog_ok_log(c.log, walk(c.log, 0, 0, &g));
    assert_int_equal(g.b[0].base_offset, start);
    assert_int_equal(g.b[g.n - 1].last_offset + 1, end);
    free(g.b);
    pthread_mutex_destroy(&c.mu);
    assert_crawllog_ok(crawllog_close(c.w));
    cl_test_close_verify(c.log, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_inspect_segments_after_rolls),
        cl_test_unit_tmpdir(test_inspect_batches_fields),
        cl_test_unit_tmpdir(test_inspect_flipped_payload_byte),
        cl_test_unit_tmpdir(test_inspect_large_batches),
        cl_test_unit_tmpdir(test_inspect_unreadable_structure),
        cl_test_unit_tmpdir(test_inspect_missing_index),
        cl_test_unit_tmpdir(test_inspect_bad_arguments),
        cl_test_unit_tmpdir(test_inspect_segments_deleted_during_walk),
        cl_test_unit_tmpdir(test_inspect_appends_during_walk),
        cl_test_unit_fp(test_inspect_failpoints),
        cl_test_unit_tmpdir(test_inspect_concurrent_appends),
    };
    return cmocka_run_group_tests_name("inspect", tests, NULL, NULL);
}
