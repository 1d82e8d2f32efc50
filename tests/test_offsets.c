/*
 * test_offsets.c - a consumer group's committed-offset store (offsets.c):
 * the file groups/<group>/offsets as docs/FORMAT.md section 8 describes
 * it (checked by an independent walker and encoder in this file), commits
 * that are atomic (a torn record shows none of its entries), removal,
 * metadata limits, incremental refresh, handles taking turns under a lock
 * (threads and processes), compaction (newest values and commit times
 * kept, removed entries dropped, other handles follow the replacement), a
 * leftover offsets.tmp, damaged headers, torn tails and the sequence rule,
 * failpoints (single sites and a sweep over every I/O operation and every
 * allocation), and durability after a simulated power loss with fsync
 * ablation (the power-loss shadow, libcrawllog/io_shadow.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bytes.h"
#include "crawllog.h"
#include "crc32c.h"
#include "errors.h"
#include "helpers.h"
#include "io.h"
#include "io_shadow.h"
#include "offsets.h"

#define RELDIR "groups/g"
#define HDR 64
#define REC_HDR 40

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

struct grp {
    char dir[800];
    char file[900];
    char tmp[900];
    int dfd;
};

static void grp_init(struct grp *g, const char *base, const char *name)
{
    snprintf(g->dir, sizeof(g->dir), "%s/%s", base, name);
    snprintf(g->file, sizeof(g->file), "%s/%s", g->dir, CL_OFFSETS_NAME);
    snprintf(g->tmp, sizeof(g->tmp), "%s/%s", g->dir, CL_OFFSETS_TMP);
    if (!cl_test_exists(g->dir)) {
        assert_int_equal(mkdir(g->dir, 0700), 0);
    }
    g->dfd = open(g->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(g->dfd >= 0);
}

static void grp_done(struct grp *g)
{
    close(g->dfd);
    g->dfd = -1;
}

static struct cl_offsets *xopen_at(int dfd, const char *file, int line)
{
    struct cl_offsets *o = NULL;
    struct cl_err err;
    err.msg[0] = '\0';
    int rc = cl_offsets_open(&o, dfd, RELDIR, 0600, &err);
    if (rc != 0 || !o) {
        cl_test_failf_at(file, line, "cl_offsets_open: %d %s", rc, err.msg);
    }
    return o;
}
#define xopen(dfd) xopen_at((dfd), __FILE__, __LINE__)

static struct cl_offset_entry ent(const char *topic, int32_t p, int64_t off,
                                  const char *meta)
{
    struct cl_offset_entry e;
    memset(&e, 0, sizeof(e));
    e.topic = topic;
    e.partition = p;
    e.offset = off;
    e.metadata = meta;
    return e;
}

static uint64_t commit_at(struct cl_offsets *o, const struct cl_offset_entry *e,
                          size_t n, const char *file, int line)
{
    struct cl_err err;
    uint64_t tok = 0;
    err.msg[0] = '\0';
    int rc = cl_offsets_append(o, e, n, 1, 0, &tok, &err);
    if (rc != 0) {
        cl_test_failf_at(file, line, "cl_offsets_append: %d %s", rc, err.msg);
    }
    return tok;
}
#define commit(o, e, n) commit_at((o), (e), (n), __FILE__, __LINE__)

static uint64_t commit1_at(struct cl_offsets *o, const char *topic, int32_t p,
                           int64_t off, const char *file, int line)
{
    struct cl_offset_entry e = ent(topic, p, off, NULL);
    return commit_at(o, &e, 1, file, line);
}
#define commit1(o, t, p, off) commit1_at((o), (t), (p), (off), __FILE__, __LINE__)

/* Offset committed for (topic, p), or -2 if none. */
static int64_t got(const struct cl_offsets *o, const char *topic, int32_t p)
{
    struct cl_offset_entry e;
    if (!cl_offsets_get(o, topic, p, &e)) {
        return -2;
    }
    return e.offset;
}

static void refresh_ok_at(struct cl_offsets *o, const char *file, int line)
{
    struct cl_err err;
    err.msg[0] = '\0';
    int rc = cl_offsets_refresh(o, &err);
    if (rc != 0) {
        cl_test_failf_at(file, line, "cl_offsets_refresh: %d %s", rc, err.msg);
    }
}
#define refresh_ok(o) refresh_ok_at((o), __FILE__, __LINE__)

/* Reopen and return the offset of (topic, p) in a fresh handle. */
static int64_t fresh_got(int dfd, const char *topic, int32_t p)
{
    struct cl_offsets *o = xopen(dfd);
    int64_t v = got(o, topic, p);
    cl_offsets_close(o);
    return v;
}

/* ---- an independent encoder and walker of the format (FORMAT.md §8) ---- */

struct tent {
    const char *topic;
    int32_t part;
    int64_t off;
    int64_t ms;
    const char *meta;
};

static size_t enc_rec(uint8_t *b, uint64_t seq, uint16_t flags,
                      const struct tent *e, size_t n)
{
    size_t pos = REC_HDR;
    for (size_t i = 0; i < n; i++) {
        size_t tl = strlen(e[i].topic), ml = e[i].meta ? strlen(e[i].meta) : 0;
        cl_put_u16(b + pos, (uint16_t)tl);
        memcpy(b + pos + 2, e[i].topic, tl);
        pos += 2 + tl;
        cl_put_i32(b + pos, e[i].part);
        cl_put_i64(b + pos + 4, e[i].off);
        cl_put_i64(b + pos + 12, e[i].ms);
        cl_put_u16(b + pos + 20, (uint16_t)ml);
        memcpy(b + pos + 22, e[i].meta ? e[i].meta : "", ml);
        pos += 22 + ml;
    }
    cl_put_u32(b, (uint32_t)pos);
    cl_put_u64(b + 8, seq);
    cl_put_i64(b + 16, 1234);
    cl_put_i32(b + 24, 3);
    cl_put_i32(b + 28, 4);
    cl_put_u16(b + 32, flags);
    cl_put_u16(b + 34, 0);
    cl_put_u32(b + 36, (uint32_t)n);
    cl_put_u32(b + 4, cl_crc32c(0, b + 8, pos - 8));
    return pos;
}

static void enc_header(uint8_t *h, uint32_t version, uint64_t base_seq)
{
    memset(h, 0, HDR);
    memcpy(h, "CLOFFSET", 8);
    cl_put_u32(h + 8, version);
    cl_put_u64(h + 16, base_seq);
    cl_put_u32(h + 60, cl_crc32c(0, h, 60));
}

#define WALK_MAX 4096

struct walk {
    size_t size;
    uint64_t base_seq, end, nrec;
    uint64_t pos[WALK_MAX], len[WALK_MAX];
    uint16_t flags[WALK_MAX];
    uint32_t count[WALK_MAX];
};

/* Walk a file as the format says; fails the test on a bad header. */
static void walk_file(const char *path, struct walk *w)
{
    size_t size;
    uint8_t *b = cl_test_read_file(path, &size);
    memset(w, 0, sizeof(*w));
    w->size = size;
    assert_true(size >= HDR);
    assert_memory_equal(b, "CLOFFSET", 8);
    assert_int_equal(cl_get_u32(b + 8), 1);
    assert_int_equal(cl_get_u32(b + 12), 0);
    /* The header CRC takes the mark slots [24, 48) as zeros; each slot
     * is zero or a u64 with its CRC; [48, 60) is zero. */
    uint8_t hz[HDR];
    memcpy(hz, b, HDR);
    memset(hz + 24, 0, 24);
    assert_int_equal(cl_get_u32(b + 60), cl_crc32c(0, hz, 60));
    for (int i = 24; i < 48; i += 12) {
        uint8_t z[12] = {0};
        assert_true(memcmp(b + i, z, 12) == 0 ||
                    cl_get_u32(b + i + 8) == cl_crc32c(0, b + i, 8));
    }
    for (int i = 48; i < 60; i++) {
        assert_int_equal(b[i], 0);
    }
    w->base_seq = cl_get_u64(b + 16);
    uint64_t pos = HDR, seq = w->base_seq;
    while (pos + 4 <= size) {
        uint32_t len = cl_get_u32(b + pos);
        if (len < REC_HDR || len > size - pos ||
            cl_get_u32(b + pos + 4) != cl_crc32c(0, b + pos + 8, len - 8) ||
            cl_get_u64(b + pos + 8) != seq) {
            break;
        }
        assert_true(w->nrec < WALK_MAX);
        w->pos[w->nrec] = pos;
        w->len[w->nrec] = len;
        w->flags[w->nrec] = cl_get_u16(b + pos + 32);
        w->count[w->nrec] = cl_get_u32(b + pos + 36);
        w->nrec++;
        pos += len;
        seq++;
    }
    w->end = pos;
    free(b);
}

static void pwrite_file(const char *path, const void *buf, size_t len,
                        off_t off)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
    close(fd);
}

static ino_t ino_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* ---------------------------------------------------------------------- */
/* Round trip, format, sorted iteration                                    */
/* ---------------------------------------------------------------------- */

static void test_offsets_roundtrip(void **state)
{
    struct grp g;
    struct cl_offset_entry x;
    struct cl_err err;
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    assert_int_equal(cl_offsets_count(o), 0);
    assert_int_equal(cl_offsets_get(o, "t", 0, &x), 0);
    /* Created durably with a bare header. */
    struct walk *w = malloc(sizeof(*w));
    assert_non_null(w);
    walk_file(g.file, w);
    assert_int_equal(w->size, HDR);
    assert_int_equal(w->nrec, 0);

    int64_t t0 = cl_test_now_ms();
    struct cl_offset_entry e[3] = {ent("t", 1, 100, "m1"), ent("t", 0, 50, NULL),
                                   ent("a.b-c_d", 7, 0, "")};
    uint64_t tok = 0;
    assert_int_equal(cl_offsets_append(o, e, 3, 5, 2, &tok, &err), 0);
    int64_t t1 = cl_test_now_ms();
    assert_true(tok > 0);
    uint64_t syncs = cl_fp_hits("offsets.fdatasync");
    assert_int_equal(cl_offsets_sync(o, tok, &err), 0);
    assert_int_equal(cl_fp_hits("offsets.fdatasync"), syncs + 1);
    assert_int_equal(cl_offsets_sync(o, tok, &err), 0); /* no-op */
    assert_int_equal(cl_fp_hits("offsets.fdatasync"), syncs + 1);
    assert_int_equal(cl_offsets_sync(o, tok + 1, &err), CRAWLLOG_EINVAL);

    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(cl_offsets_count(o), 3);
        assert_int_equal(cl_offsets_get(o, "t", 1, &x), 1);
        assert_string_equal(x.topic, "t");
        assert_int_equal(x.partition, 1);
        assert_int_equal(x.offset, 100);
        assert_string_equal(x.metadata, "m1");
        assert_true(x.commit_ms >= t0 && x.commit_ms <= t1);
        int64_t ms = x.commit_ms;
        assert_int_equal(cl_offsets_get(o, "t", 0, &x), 1);
        assert_int_equal(x.offset, 50);
        assert_non_null(x.metadata);
        assert_string_equal(x.metadata, "");
        assert_int_equal(x.commit_ms, ms);
        assert_int_equal(cl_offsets_get(o, "t", 2, &x), 0);
        assert_int_equal(cl_offsets_get(o, "u", 1, &x), 0);
        /* Sorted by topic, then partition. */
        cl_offsets_at(o, 0, &x);
        assert_string_equal(x.topic, "a.b-c_d");
        assert_int_equal(x.partition, 7);
        assert_int_equal(x.offset, 0);
        cl_offsets_at(o, 1, &x);
        assert_string_equal(x.topic, "t");
        assert_int_equal(x.partition, 0);
        cl_offsets_at(o, 2, &x);
        assert_int_equal(x.partition, 1);
        cl_offsets_close(o);
        o = xopen(g.dfd);
    }
    cl_offsets_close(o);

    /* The bytes, as FORMAT.md says: one record, grown by one 256 KiB step
     * of zeros. */
    walk_file(g.file, w);
    assert_int_equal(w->size, 262144);
    assert_int_equal(w->base_seq, 0);
    assert_int_equal(w->nrec, 1);
    size_t len = REC_HDR + (24 + 1 + 2) + (24 + 1 + 0) + (24 + 7 + 0);
    assert_int_equal(w->len[0], len);
    assert_int_equal(w->end, HDR + len);
    assert_int_equal(w->flags[0], 0);
    assert_int_equal(w->count[0], 3);
    uint8_t *b = cl_test_read_file(g.file, NULL);
    assert_int_equal(cl_get_u64(b + HDR + 8), 0);             /* seq */
    assert_true(cl_get_i64(b + HDR + 16) >= t0);              /* timestamp */
    assert_int_equal(cl_get_i32(b + HDR + 24), 5);            /* generation */
    assert_int_equal(cl_get_i32(b + HDR + 28), 2);            /* member */
    assert_int_equal(cl_get_u16(b + HDR + 40), 1);            /* topic_len */
    assert_memory_equal(b + HDR + 42, "t", 1);
    assert_int_equal(cl_get_i32(b + HDR + 43), 1);            /* partition */
    assert_int_equal(cl_get_i64(b + HDR + 47), 100);          /* offset */
    assert_int_equal(cl_get_i64(b + HDR + 55), cl_get_i64(b + HDR + 16));
    assert_int_equal(cl_get_u16(b + HDR + 63), 2);            /* meta_len */
    assert_memory_equal(b + HDR + 65, "m1", 2);
    for (size_t i = w->end; i < w->size; i++) {
        if (b[i] != 0) {
            fail_msg("byte %zu after the log is %d, not 0", i, b[i]);
        }
    }
    free(b);
    free(w);
    grp_done(&g);
}

/* Random commits and removals against a model, with compactions on the
 * way (tiny threshold) and small records (snapshots split). */
#define MT 4
#define MP 40
static void test_offsets_model(void **state)
{
    static const char *topics[MT] = {"b", "a", "aa", "c.x"};
    int64_t model[MT][MP];
    char meta[MT][MP][16];
    struct cl_offset_entry e[20];
    char mbuf[20][16];
    uint64_t seed = CL_TEST_SEED;
    struct grp g;
    grp_init(&g, CL_TEST_DIR(state), "g");
    for (int t = 0; t < MT; t++) {
        for (int p = 0; p < MP; p++) {
            model[t][p] = -2;
        }
    }
    struct cl_offsets *o = xopen(g.dfd);
    cl_offsets_set_compact_bytes(o, 2048);
    cl_offsets_set_record_max(o, 1); /* clamped to the minimum */
    for (int round = 0; round < 400; round++) {
        size_t n = 1 + (size_t)cl_test_rand_below(&seed, 20);
        for (size_t i = 0; i < n; i++) {
            int t = (int)cl_test_rand_below(&seed, MT);
            int p = (int)cl_test_rand_below(&seed, MP);
            int64_t off = cl_test_rand_below(&seed, 10) == 0
                              ? -1
                              : (int64_t)cl_test_rand_below(&seed, 1000000);
            snprintf(mbuf[i], sizeof(mbuf[i]), "m%d", round);
            e[i] = ent(topics[t], p, off, mbuf[i]);
            model[t][p] = off < 0 ? -2 : off;
            memcpy(meta[t][p], mbuf[i], sizeof(meta[t][p]));
        }
        commit(o, e, n);
    }
    struct walk *w = malloc(sizeof(*w));
    assert_non_null(w);
    for (int pass = 0; pass < 2; pass++) {
        size_t live = 0;
        for (int t = 0; t < MT; t++) {
            for (int p = 0; p < MP; p++) {
                struct cl_offset_entry x;
                int has = cl_offsets_get(o, topics[t], p, &x);
                assert_int_equal(has, model[t][p] >= 0);
                if (has) {
                    assert_int_equal(x.offset, model[t][p]);
                    assert_string_equal(x.metadata, meta[t][p]);
                    live++;
                }
            }
        }
        assert_int_equal(cl_offsets_count(o), live);
        for (size_t i = 1; i < live; i++) {
            struct cl_offset_entry a, b;
            cl_offsets_at(o, i - 1, &a);
            cl_offsets_at(o, i, &b);
            int c = strcmp(a.topic, b.topic);
            assert_true(c < 0 || (c == 0 && a.partition < b.partition));
        }
        cl_offsets_close(o);
        o = xopen(g.dfd);
    }
    cl_offsets_close(o);
    walk_file(g.file, w);
    assert_true(w->base_seq > 0);
    assert_int_equal(w->flags[0], 1); /* snapshot */
    free(w);
    grp_done(&g);
}

/* ---------------------------------------------------------------------- */
/* Atomic records, torn tails, the sequence rule                           */
/* ---------------------------------------------------------------------- */

static void test_offsets_torn_record_atomic(void **state)
{
    struct walk *w = malloc(sizeof(*w));
    assert_non_null(w);
    for (int v = 0; v < 5; v++) {
        struct grp g;
        char name[16];
        snprintf(name, sizeof(name), "g%d", v);
        grp_init(&g, CL_TEST_DIR(state), name);
        struct cl_offsets *o = xopen(g.dfd);
        struct cl_offset_entry a[3] = {ent("x", 0, 10, "a0"),
                                       ent("x", 1, 11, "a1"),
                                       ent("x", 2, 12, NULL)};
        struct cl_offset_entry b[3] = {ent("x", 0, 20, "b0"),
                                       ent("x", 1, 21, "b1"),
                                       ent("y", 0, 5, "b-new")};
        commit(o, a, 3);
        commit(o, b, 3);
        cl_offsets_close(o);
        walk_file(g.file, w);
        assert_int_equal(w->nrec, 2);
        uint64_t pos = w->pos[1], len = w->len[1];
        switch (v) {
        case 0: /* a byte inside the entries */
            cl_test_flip_byte(g.file, (off_t)(pos + len / 2), 0x40);
            break;
        case 1: /* the record chopped (a torn append) */
            cl_test_truncate(g.file, (off_t)(pos + len - 3));
            break;
        case 2: /* its last byte */
            cl_test_flip_byte(g.file, (off_t)(pos + len - 1), 0x01);
            break;
        case 3: /* its count */
            cl_test_flip_byte(g.file, (off_t)(pos + 39), 0x01);
            break;
        default: /* only its first half reached the disk */
            pwrite_file(g.file, (const uint8_t[64]){0}, 64,
                        (off_t)(pos + len - 64));
            break;
        }
        o = xopen(g.dfd);
        /* None of the torn record's entries, all of the previous ones. */
        assert_int_equal(got(o, "x", 0), 10);
        assert_int_equal(got(o, "x", 1), 11);
        assert_int_equal(got(o, "x", 2), 12);
        assert_int_equal(got(o, "y", 0), -2);
        assert_int_equal(cl_offsets_count(o), 3);
        /* A new append over the torn tail is valid. */
        commit1(o, "x", 2, 30);
        cl_offsets_close(o);
        o = xopen(g.dfd);
        assert_int_equal(got(o, "x", 0), 10);
        assert_int_equal(got(o, "x", 2), 30);
        assert_int_equal(got(o, "y", 0), -2);
        cl_offsets_close(o);
        walk_file(g.file, w);
        assert_int_equal(w->nrec, 2);
        grp_done(&g);
    }
    free(w);
}

/* A record with a valid CRC but not the next seq is not read, nor
 * anything after it; the same bytes with the right seq are (control). */
static void test_offsets_seq_rule(void **state)
{
    struct grp g;
    struct walk *w = malloc(sizeof(*w));
    uint8_t r1[256], r2[256];
    assert_non_null(w);
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    commit1(o, "x", 0, 1);
    cl_offsets_close(o);
    walk_file(g.file, w);
    uint64_t end = w->end;
    struct tent t99 = {"x", 0, 99, 7, "forged"};
    struct tent t55 = {"z", 3, 55, 8, NULL};

    size_t l1 = enc_rec(r1, 2, 0, &t99, 1); /* expected: 1 */
    size_t l2 = enc_rec(r2, 3, 0, &t55, 1);
    pwrite_file(g.file, r1, l1, (off_t)end);
    pwrite_file(g.file, r2, l2, (off_t)(end + l1));
    o = xopen(g.dfd);
    assert_int_equal(got(o, "x", 0), 1);
    assert_int_equal(got(o, "z", 3), -2);
    cl_offsets_close(o);

    /* Control: with seq 1 the forged record is valid, and so the next. */
    l1 = enc_rec(r1, 1, 0, &t99, 1);
    l2 = enc_rec(r2, 2, 0, &t55, 1);
    pwrite_file(g.file, r1, l1, (off_t)end);
    pwrite_file(g.file, r2, l2, (off_t)(end + l1));
    o = xopen(g.dfd);
    struct cl_offset_entry x;
    assert_int_equal(cl_offsets_get(o, "x", 0, &x), 1);
    assert_int_equal(x.offset, 99);
    assert_int_equal(x.commit_ms, 7);
    assert_string_equal(x.metadata, "forged");
    assert_int_equal(got(o, "z", 3), 55);
    commit1(o, "x", 0, 100); /* seq 3 */
    cl_offsets_close(o);
    walk_file(g.file, w);
    assert_int_equal(w->nrec, 4);
    assert_int_equal(fresh_got(g.dfd, "x", 0), 100);

    /* A snapshot flag anywhere but in the first record ends the log. */
    struct tent t7 = {"s", 0, 7, 9, NULL};
    size_t l3 = enc_rec(r1, 4, 1, &t7, 1);
    pwrite_file(g.file, r1, l3, (off_t)w->end);
    assert_int_equal(fresh_got(g.dfd, "s", 0), -2);
    l3 = enc_rec(r1, 4, 0, &t7, 1); /* control */
    pwrite_file(g.file, r1, l3, (off_t)w->end);
    assert_int_equal(fresh_got(g.dfd, "s", 0), 7);
    free(w);
    grp_done(&g);
}

/* A torn LONGER record, then a shorter append over it: the longer one's
 * tail - here a complete, valid record of the same seq - is not read. */
static void test_offsets_torn_longer_then_shorter(void **state)
{
    struct grp g;
    struct walk *w = malloc(sizeof(*w));
    uint8_t buf[1024], shortrec[256];
    assert_non_null(w);
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    commit1(o, "x", 0, 1);
    cl_offsets_close(o);
    walk_file(g.file, w);
    uint64_t end = w->end;
    /* The length of the record the API will write for x/0 (no metadata). */
    struct tent t2 = {"x", 0, 2, 0, NULL};
    size_t lshort = enc_rec(shortrec, 1, 0, &t2, 1);
    /* Torn long record: a header claiming lshort + lvalid bytes, garbage,
     * then at end + lshort a valid record carrying seq 1. */
    struct tent t77 = {"x", 0, 77, 0, NULL};
    size_t lvalid = enc_rec(buf + lshort, 1, 0, &t77, 1);
    memset(buf, 0xA5, lshort);
    cl_put_u32(buf, (uint32_t)(lshort + lvalid));
    pwrite_file(g.file, buf, lshort + lvalid, (off_t)end);
    o = xopen(g.dfd);
    assert_int_equal(got(o, "x", 0), 1);
    commit1(o, "x", 0, 2); /* seq 1, exactly lshort bytes */
    cl_offsets_close(o);
    o = xopen(g.dfd);
    assert_int_equal(got(o, "x", 0), 2); /* not 77: seq 1 != expected 2 */
    commit1(o, "x", 0, 3);
    cl_offsets_close(o);
    assert_int_equal(fresh_got(g.dfd, "x", 0), 3);
    walk_file(g.file, w);
    assert_int_equal(w->nrec, 3);
    assert_int_equal(w->len[1], lshort);
    free(w);
    grp_done(&g);
}

/* A lost record (a power loss kept the record after it, not it), then an
 * append of the same length over it: the record that followed must not
 * come back as the next one and win over the new commit (found by
 * fuzz_state: every append is followed by a zero length). */
static void test_offsets_stale_next_record(void **state)
{
    struct grp g;
    struct walk *w = malloc(sizeof(*w));
    assert_non_null(w);
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    commit1(o, "x", 0, 10);
    commit1(o, "x", 0, 20);
    commit1(o, "x", 0, 30);
    cl_offsets_close(o);
    walk_file(g.file, w);
    assert_int_equal(w->nrec, 3);
    assert_int_equal(w->len[1], w->len[2]);
    uint64_t pos1 = w->pos[1], pos2 = w->pos[2], len2 = w->len[2];
    cl_test_flip_byte(g.file, (off_t)(pos1 + 20), 0x01); /* record seq 1 */
    assert_int_equal(fresh_got(g.dfd, "x", 0), 10);
    o = xopen(g.dfd);
    commit1(o, "x", 0, 40); /* seq 1 again, over the damaged record */
    cl_offsets_close(o);
    assert_int_equal(fresh_got(g.dfd, "x", 0), 40); /* not 30 */
    walk_file(g.file, w);
    assert_int_equal(w->nrec, 2);
    /* The old seq-2 record is still there, beyond the zero length. */
    size_t len;
    uint8_t *buf = cl_test_read_file(g.file, &len);
    assert_true(len >= pos2 + len2);
    assert_int_equal(cl_get_u32(buf + pos2), 0);
    free(buf);
    free(w);
    grp_done(&g);
}

/* ---------------------------------------------------------------------- */
/* Removal, metadata, argument checks                                      */
/* ---------------------------------------------------------------------- */

static void test_offsets_removal(void **state)
{
    struct grp g;
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    struct cl_offset_entry e[2] = {ent("t", 0, 5, "m"), ent("t", 1, 6, NULL)};
    commit(o, e, 2);
    struct cl_offset_entry rm = ent("t", 0, -1, "ignored");
    commit(o, &rm, 1);
    assert_int_equal(got(o, "t", 0), -2);
    assert_int_equal(cl_offsets_count(o), 1);
    /* Removing what was never committed is fine. */
    struct cl_offset_entry rm2 = ent("never", 3, -7, NULL);
    commit(o, &rm2, 1);
    assert_int_equal(cl_offsets_count(o), 1);
    cl_offsets_close(o);
    o = xopen(g.dfd);
    assert_int_equal(got(o, "t", 0), -2);
    assert_int_equal(got(o, "t", 1), 6);
    assert_int_equal(cl_offsets_count(o), 1);
    struct cl_offset_entry x;
    cl_offsets_at(o, 0, &x);
    assert_int_equal(x.partition, 1);
    /* Committed again after removal. */
    commit1(o, "t", 0, 9);
    assert_int_equal(cl_offsets_count(o), 2);
    cl_offsets_close(o);
    assert_int_equal(fresh_got(g.dfd, "t", 0), 9);
    grp_done(&g);
}

static void test_offsets_metadata_and_limits(void **state)
{
    struct grp g;
    struct cl_err err;
    struct cl_offset_entry x;
    char *big = malloc(CL_OFFSETS_META_MAX + 1);
    assert_non_null(big);
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    /* Largest metadata, every byte value but NUL. */
    for (int i = 0; i < CL_OFFSETS_META_MAX - 1; i++) {
        big[i] = (char)(1 + i % 255);
    }
    big[CL_OFFSETS_META_MAX - 1] = '\0';
    struct cl_offset_entry e = ent("t", 0, 1, big);
    commit(o, &e, 1);
    char topic[251];
    memset(topic, 'q', 249);
    topic[249] = '\0';
    struct cl_offset_entry lt = ent(topic, 9999, INT64_MAX, "long topic");
    commit(o, &lt, 1);

    /* Refused, nothing written. */
    struct walk *w = malloc(sizeof(*w));
    assert_non_null(w);
    walk_file(g.file, w);
    uint64_t end = w->end;
    big[CL_OFFSETS_META_MAX - 1] = 'x';
    big[CL_OFFSETS_META_MAX] = '\0';
    e = ent("t", 0, 2, big);
    assert_int_equal(cl_offsets_append(o, &e, 1, 0, 0, NULL, &err),
                     CRAWLLOG_ETOOBIG);
    assert_non_null(strstr(err.msg, "metadata"));
    e = ent("bad/topic", 0, 2, NULL);
    assert_int_equal(cl_offsets_append(o, &e, 1, 0, 0, NULL, &err),
                     CRAWLLOG_EINVAL);
    topic[249] = 'q';
    topic[250] = '\0';
    e = ent(topic, 0, 2, NULL);
    assert_int_equal(cl_offsets_append(o, &e, 1, 0, 0, NULL, &err),
                     CRAWLLOG_EINVAL);
    e = ent("", 0, 2, NULL);
    assert_int_equal(cl_offsets_append(o, &e, 1, 0, 0, NULL, &err),
                     CRAWLLOG_EINVAL);
    e = ent("t", -1, 2, NULL);
    assert_int_equal(cl_offsets_append(o, &e, 1, 0, 0, NULL, &err),
                     CRAWLLOG_EINVAL);
    e = ent("t", CRAWLLOG_PARTITIONS_MAX, 2, NULL);
    assert_int_equal(cl_offsets_append(o, &e, 1, 0, 0, NULL, &err),
                     CRAWLLOG_EINVAL);
    /* A bad entry anywhere refuses the whole commit. */
    struct cl_offset_entry two[2] = {ent("t", 0, 3, NULL), ent("t", -5, 3, NULL)};
    assert_int_equal(cl_offsets_append(o, two, 2, 0, 0, NULL, &err),
                     CRAWLLOG_EINVAL);
    assert_int_equal(cl_offsets_append(o, two, 0, 0, 0, NULL, &err),
                     CRAWLLOG_EINVAL);
    /* A record over the cap. */
    cl_offsets_set_record_max(o, 1);
    struct cl_offset_entry many[3];
    big[CL_OFFSETS_META_MAX - 1] = '\0';
    for (int i = 0; i < 3; i++) {
        many[i] = ent("t", i, 1, big);
    }
    assert_int_equal(cl_offsets_append(o, many, 3, 0, 0, NULL, &err),
                     CRAWLLOG_ETOOBIG);
    walk_file(g.file, w);
    assert_int_equal(w->end, end);
    assert_int_equal(got(o, "t", 0), 1);
    cl_offsets_close(o);

    o = xopen(g.dfd);
    assert_int_equal(cl_offsets_get(o, "t", 0, &x), 1);
    assert_int_equal(strlen(x.metadata), CL_OFFSETS_META_MAX - 1);
    assert_memory_equal(x.metadata, big, CL_OFFSETS_META_MAX - 1);
    topic[249] = '\0';
    assert_int_equal(cl_offsets_get(o, topic, 9999, &x), 1);
    assert_int_equal(x.offset, INT64_MAX);
    assert_string_equal(x.metadata, "long topic");
    cl_offsets_close(o);

    /* A record in the file with an oversized metadata length ends the log
     * (even with a valid CRC and seq). */
    walk_file(g.file, w);
    uint8_t *r = calloc(1, 8192);
    assert_non_null(r);
    struct tent tb = {"t", 0, 5, 1, big};
    size_t l = enc_rec(r, w->base_seq + w->nrec, 0, &tb, 1);
    cl_put_u16(r + REC_HDR + 2 + 1 + 20, CL_OFFSETS_META_MAX); /* meta_len */
    cl_put_u32(r + 4, cl_crc32c(0, r + 8, l - 8));
    pwrite_file(g.file, r, l, (off_t)w->end);
    assert_int_equal(fresh_got(g.dfd, "t", 0), 1);
    free(r);
    free(w);
    free(big);
    grp_done(&g);
}

/* ---------------------------------------------------------------------- */
/* Several handles                                                         */
/* ---------------------------------------------------------------------- */

static void test_offsets_incremental_refresh(void **state)
{
    struct grp g;
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *a = xopen(g.dfd);
    for (int i = 0; i < 300; i++) {
        commit1(a, "t", i % 7, i);
    }
    struct cl_offsets *b = xopen(g.dfd);
    assert_int_equal(got(b, "t", 6), 293);
    commit1(a, "t", 6, 1000);
    commit1(a, "u", 0, 1);
    assert_int_equal(got(b, "t", 6), 293); /* as of b's last refresh */
    uint64_t reads = cl_fp_hits("offsets.read");
    refresh_ok(b);
    /* Incremental: from where b stopped, not from the start. */
    assert_true(cl_fp_hits("offsets.read") - reads <= 2);
    assert_int_equal(got(b, "t", 6), 1000);
    assert_int_equal(got(b, "u", 0), 1);
    assert_int_equal(cl_offsets_count(b), 8);
    reads = cl_fp_hits("offsets.read");
    refresh_ok(b); /* nothing new: one read */
    assert_int_equal(cl_fp_hits("offsets.read") - reads, 1);
    /* b appends: a sees it. */
    commit1(b, "t", 0, 5000);
    refresh_ok(a);
    assert_int_equal(got(a, "t", 0), 5000);
    /* The appender refreshes first: a's append lands after b's. */
    commit1(a, "t", 1, 6000);
    refresh_ok(b);
    assert_int_equal(got(b, "t", 0), 5000);
    assert_int_equal(got(b, "t", 1), 6000);
    cl_offsets_close(a);
    cl_offsets_close(b);
    grp_done(&g);
}

/* Writers take turns under a mutex (the group lock), with compactions on
 * the way; a lock-free reader only ever sees values move forward. */
#define TW 3
#define TROUNDS 300

struct shared {
    pthread_mutex_t lock;
    int dfd;
    int64_t counter;      /* last value of ("shared", 0), under lock */
    int64_t last[TW];     /* last value of ("own", w), under lock */
    int done;             /* writers finished, under lock */
};

struct wctx {
    struct shared *s;
    int id;
};

static void *writer_main(void *arg)
{
    struct wctx *c = arg;
    struct shared *s = c->s;
    struct cl_offsets *o = NULL;
    struct cl_err err;
    cl_test_thread_check(cl_offsets_open(&o, s->dfd, RELDIR, 0600, &err) == 0,
                         "open: %s", err.msg);
    cl_offsets_set_compact_bytes(o, 4096);
    for (int i = 1; i <= TROUNDS; i++) {
        uint64_t tok = 0;
        pthread_mutex_lock(&s->lock);
        int64_t v = s->counter + 1;
        struct cl_offset_entry e[2] = {ent("shared", 0, v, NULL),
                                       ent("own", c->id, i, "m")};
        int rc = cl_offsets_append(o, e, 2, c->id, i, &tok, &err);
        cl_test_thread_check(rc == 0, "append: %d %s", rc, err.msg);
        s->counter = v;
        s->last[c->id] = i;
        /* The appender saw every earlier append of the others. */
        for (int w = 0; w < TW; w++) {
            int64_t want = s->last[w] ? s->last[w] : -2;
            cl_test_thread_check(got(o, "own", w) == want,
                                 "writer %d sees own/%d = %" PRId64
                                 ", want %" PRId64,
                                 c->id, w, got(o, "own", w), want);
        }
        cl_test_thread_check(got(o, "shared", 0) == v, "shared");
        pthread_mutex_unlock(&s->lock);
        if (i % 16 == 0) {
            rc = cl_offsets_sync(o, tok, &err);
            cl_test_thread_check(rc == 0, "sync: %d %s", rc, err.msg);
        }
    }
    cl_offsets_close(o);
    return NULL;
}

static void *reader_main(void *arg)
{
    struct shared *s = arg;
    struct cl_offsets *o = NULL;
    struct cl_err err;
    int64_t seen = -2, own[TW];
    for (int w = 0; w < TW; w++) {
        own[w] = -2;
    }
    cl_test_thread_check(cl_offsets_open(&o, s->dfd, RELDIR, 0600, &err) == 0,
                         "open: %s", err.msg);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int done = s->done;
        pthread_mutex_unlock(&s->lock);
        int rc = cl_offsets_refresh(o, &err);
        cl_test_thread_check(rc == 0, "refresh: %d %s", rc, err.msg);
        int64_t v = got(o, "shared", 0);
        cl_test_thread_check(v >= seen, "shared went back %" PRId64
                             " -> %" PRId64, seen, v);
        seen = v;
        for (int w = 0; w < TW; w++) {
            int64_t x = got(o, "own", w);
            cl_test_thread_check(x >= own[w], "own went back");
            own[w] = x;
        }
        if (done) {
            break;
        }
    }
    cl_test_thread_check(seen == (int64_t)TW * TROUNDS, "reader final %" PRId64,
                         seen);
    cl_offsets_close(o);
    return NULL;
}

static void test_offsets_threads_take_turns(void **state)
{
    struct grp g;
    struct shared s;
    pthread_t th[TW], rd;
    struct wctx c[TW];
    grp_init(&g, CL_TEST_DIR(state), "g");
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    s.dfd = g.dfd;
    /* The file exists before the threads start (creation is tested
     * elsewhere; here every handle reads the same file). */
    cl_offsets_close(xopen(g.dfd));
    assert_int_equal(pthread_create(&rd, NULL, reader_main, &s), 0);
    for (int i = 0; i < TW; i++) {
        c[i].s = &s;
        c[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &c[i]), 0);
    }
    for (int i = 0; i < TW; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_mutex_lock(&s.lock);
    s.done = 1;
    pthread_mutex_unlock(&s.lock);
    pthread_join(rd, NULL);
    struct walk *wk = malloc(sizeof(*wk));
    assert_non_null(wk);
    walk_file(g.file, wk);
    assert_true(wk->base_seq > 0); /* compactions happened */
    free(wk);
    struct cl_offsets *o = xopen(g.dfd);
    assert_int_equal(got(o, "shared", 0), TW * TROUNDS);
    for (int w = 0; w < TW; w++) {
        assert_int_equal(got(o, "own", w), TROUNDS);
    }
    assert_int_equal(cl_offsets_count(o), TW + 1);
    cl_offsets_close(o);
    pthread_mutex_destroy(&s.lock);
    grp_done(&g);
}

/* Processes take turns under flock: read-modify-write of a counter never
 * loses an update, so every append saw the true end. */
#define NPROC 3
#define PROUNDS 100

static int proc_main(const char *dir, int id)
{
    struct cl_offsets *o = NULL;
    struct cl_err err;
    char lockpath[1000];
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(lockpath, sizeof(lockpath), "%s/lock", dir);
    int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (dfd < 0 || lfd < 0 ||
        cl_offsets_open(&o, dfd, RELDIR, 0600, &err) != 0) {
        return 10;
    }
    cl_offsets_set_compact_bytes(o, 2048);
    uint64_t tok = 0;
    for (int i = 1; i <= PROUNDS; i++) {
        if (cl_io_lock("t.lock", lfd, 1, 1) != 0) {
            return 11;
        }
        if (cl_offsets_refresh(o, &err) != 0) {
            return 12;
        }
        int64_t v = got(o, "counter", 0);
        struct cl_offset_entry e[2] = {
            ent("counter", 0, v < 0 ? 1 : v + 1, NULL),
            ent("proc", id, i, NULL)};
        if (cl_offsets_append(o, e, 2, id, i, &tok, &err) != 0) {
            fprintf(stderr, "append: %s\n", err.msg);
            return 13;
        }
        cl_io_unlock(lfd);
    }
    if (cl_offsets_sync(o, tok, &err) != 0) {
        return 14;
    }
    cl_offsets_close(o);
    close(lfd);
    close(dfd);
    return 0;
}

static void test_offsets_processes_take_turns(void **state)
{
    struct grp g;
    pid_t pids[NPROC];
    grp_init(&g, CL_TEST_DIR(state), "g");
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            _exit(proc_main(g.dir, i));
        }
    }
    for (int i = 0; i < NPROC; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        cl_test_assert_exit_ok(st);
    }
    struct cl_offsets *o = xopen(g.dfd);
    assert_int_equal(got(o, "counter", 0), NPROC * PROUNDS);
    for (int i = 0; i < NPROC; i++) {
        assert_int_equal(got(o, "proc", i), PROUNDS);
    }
    cl_offsets_close(o);
    grp_done(&g);
}

/* ---------------------------------------------------------------------- */
/* Compaction                                                              */
/* ---------------------------------------------------------------------- */

static void test_offsets_compaction(void **state)
{
    struct grp g;
    struct cl_offset_entry x;
    struct cl_err err;
    struct walk *w = malloc(sizeof(*w));
    assert_non_null(w);
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *a = xopen(g.dfd);
    struct cl_offsets *b = xopen(g.dfd);
    cl_offsets_set_compact_bytes(a, 4096);
    struct cl_offset_entry e[3] = {ent("keep", 0, 1, "old-meta"),
                                   ent("gone", 0, 2, NULL),
                                   ent("gone", 1, 3, NULL)};
    commit(a, e, 3);
    assert_int_equal(cl_offsets_get(a, "keep", 0, &x), 1);
    int64_t keep_ms = x.commit_ms;
    struct cl_offset_entry rm = ent("gone", 0, -1, NULL);
    commit(a, &rm, 1);
    cl_test_sleep_ms(5); /* later commits get later times */
    ino_t first = ino_of(g.file);
    int i = 0;
    while (ino_of(g.file) == first) {
        assert_true(i < 1000);
        commit1(a, "hot", 0, i++);
    }
    /* Compacted: a fresh file starting with one snapshot of the live
     * entries (removed ones dropped), then the commit that triggered it. */
    walk_file(g.file, w);
    assert_int_equal(w->flags[0], 1);
    assert_int_equal(w->count[0], 3); /* keep/0, gone/1, hot/0 */
    assert_true(w->base_seq > 0);
    assert_int_equal(w->nrec, 2);
    assert_int_equal(w->size % 65536, 0);
    assert_false(cl_test_exists(g.tmp));
    /* Newest values and original commit times. */
    struct cl_offsets *c = xopen(g.dfd);
    assert_int_equal(cl_offsets_get(c, "keep", 0, &x), 1);
    assert_int_equal(x.commit_ms, keep_ms);
    assert_string_equal(x.metadata, "old-meta");
    assert_int_equal(got(c, "gone", 0), -2);
    assert_int_equal(got(c, "gone", 1), 3);
    assert_int_equal(got(c, "hot", 0), i - 1);
    assert_int_equal(cl_offsets_count(c), 3);
    cl_offsets_close(c);
    /* b opened before: its refresh follows the replacement. */
    assert_int_equal(got(b, "hot", 0), -2);
    refresh_ok(b);
    assert_int_equal(got(b, "hot", 0), i - 1);
    assert_int_equal(got(b, "gone", 0), -2);
    assert_int_equal(cl_offsets_get(b, "keep", 0, &x), 1);
    assert_int_equal(x.commit_ms, keep_ms);
    /* b appends into the new file; a sees it. */
    commit1(b, "hot", 1, 77);
    refresh_ok(a);
    assert_int_equal(got(a, "hot", 1), 77);
    /* Forced compaction by b; a follows again, then appends. */
    ino_t second = ino_of(g.file);
    assert_int_equal(cl_offsets_compact(b, &err), 0);
    assert_true(ino_of(g.file) != second);
    commit1(a, "hot", 2, 88);
    refresh_ok(b);
    assert_int_equal(got(b, "hot", 2), 88);
    assert_int_equal(got(b, "hot", 1), 77);
    walk_file(g.file, w);
    assert_int_equal(w->nrec, 2);
    assert_int_equal(w->count[0], 4);
    /* Compaction of nothing: every entry removed. */
    struct cl_offset_entry all[5] = {ent("keep", 0, -1, NULL), ent("gone", 1, -1, NULL),
                                     ent("hot", 0, -1, NULL), ent("hot", 1, -1, NULL),
                                     ent("hot", 2, -1, NULL)};
    commit(a, all, 5);
    assert_int_equal(cl_offsets_compact(a, &err), 0);
    walk_file(g.file, w);
    assert_int_equal(w->nrec, 1);
    assert_int_equal(w->count[0], 0);
    refresh_ok(b);
    assert_int_equal(cl_offsets_count(b), 0);
    cl_offsets_close(a);
    cl_offsets_close(b);
    assert_int_equal(fresh_got(g.dfd, "hot", 0), -2);
    free(w);
    grp_done(&g);
}

/* A snapshot larger than the record cap continues in ordinary records
 * (generation and member -1, like the snapshot); all of it is read back. */
static void test_offsets_snapshot_split(void **state)
{
    struct grp g;
    struct cl_err err;
    struct cl_offset_entry e[50];
    char meta[41];
    struct walk *w = malloc(sizeof(*w));
    assert_non_null(w);
    memset(meta, 'm', 40);
    meta[40] = '\0';
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    cl_offsets_set_record_max(o, 1); /* the minimum: 4409 bytes */
    for (int r = 0; r < 4; r++) {
        for (int i = 0; i < 50; i++) {
            e[i] = ent("t", r * 50 + i, r * 1000 + i, meta);
        }
        commit(o, e, 50);
    }
    struct cl_offset_entry x;
    assert_int_equal(cl_offsets_get(o, "t", 7, &x), 1);
    int64_t ms7 = x.commit_ms;
    assert_int_equal(cl_offsets_compact(o, &err), 0);
    cl_offsets_close(o);
    walk_file(g.file, w);
    /* 200 entries of 65 bytes, at most (4409 - 40) / 65 = 67 a record:
     * 67 + 67 + 66. */
    assert_int_equal(w->nrec, 3);
    assert_int_equal(w->count[0], 67);
    assert_int_equal(w->count[2], 66);
    uint8_t *b = cl_test_read_file(g.file, NULL);
    uint32_t total = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(w->len[i] <= 4409);
        assert_int_equal(w->flags[i], i == 0 ? 1 : 0);
        assert_int_equal(cl_get_i32(b + w->pos[i] + 24), -1);
        assert_int_equal(cl_get_i32(b + w->pos[i] + 28), -1);
        total += w->count[i];
    }
    free(b);
    assert_int_equal(total, 200);
    o = xopen(g.dfd);
    assert_int_equal(cl_offsets_count(o), 200);
    for (int p = 0; p < 200; p++) {
        assert_int_equal(got(o, "t", p), (p / 50) * 1000 + p % 50);
    }
    assert_int_equal(cl_offsets_get(o, "t", 7, &x), 1);
    assert_int_equal(x.commit_ms, ms7);
    assert_string_equal(x.metadata, meta);
    cl_offsets_close(o);
    free(w);
    grp_done(&g);
}

/* A leftover offsets.tmp (a crashed compaction) is never read; open
 * leaves it alone, cl_offsets_cleanup and compaction remove it. */
static void test_offsets_tmp_leftover(void **state)
{
    struct grp g;
    struct cl_err err;
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    commit1(o, "t", 0, 1);
    cl_offsets_close(o);
    /* A complete, valid-looking file with other values as offsets.tmp. */
    uint8_t buf[512];
    struct tent t = {"t", 0, 666, 1, NULL};
    enc_header(buf, 1, 0);
    size_t l = enc_rec(buf + HDR, 0, 1, &t, 1);
    cl_test_write_file(g.tmp, buf, HDR + l);
    o = xopen(g.dfd);
    assert_int_equal(got(o, "t", 0), 1);
    refresh_ok(o);
    assert_int_equal(got(o, "t", 0), 1);
    assert_true(cl_test_exists(g.tmp)); /* open needs no lock: kept */
    assert_int_equal(cl_offsets_cleanup(o, &err), 0);
    assert_false(cl_test_exists(g.tmp));
    assert_int_equal(cl_offsets_cleanup(o, &err), 0); /* none: fine */
    /* A leftover does not stop a compaction. */
    cl_test_write_file(g.tmp, buf, HDR + l);
    assert_int_equal(cl_offsets_compact(o, &err), 0);
    assert_false(cl_test_exists(g.tmp));
    cl_offsets_close(o);
    assert_int_equal(fresh_got(g.dfd, "t", 0), 1);
    grp_done(&g);
}

/* ---------------------------------------------------------------------- */
/* Headers                                                                 */
/* ---------------------------------------------------------------------- */

static void test_offsets_bad_header(void **state)
{
    struct grp g;
    struct cl_err err;
    struct cl_offsets *o = NULL;
    uint8_t h[HDR];
    grp_init(&g, CL_TEST_DIR(state), "g");
    o = xopen(g.dfd);
    commit1(o, "t", 0, 1);
    cl_offsets_close(o);
    static const int flips[] = {0, 7, 9, 20, 50, 61}; /* not a slot */
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        cl_test_flip_byte(g.file, flips[i], 0x10);
        err.msg[0] = '\0';
        o = (struct cl_offsets *)&err; /* must be reset to NULL */
        assert_int_equal(cl_offsets_open(&o, g.dfd, RELDIR, 0600, &err),
                         CRAWLLOG_ECORRUPT);
        assert_null(o);
        assert_non_null(strstr(err.msg, "groups/g/offsets"));
        cl_test_flip_byte(g.file, flips[i], 0x10);
    }
    /* Intact header of another version, or with unknown flags. */
    enc_header(h, 2, 0);
    pwrite_file(g.file, h, HDR, 0);
    assert_int_equal(cl_offsets_open(&o, g.dfd, RELDIR, 0600, &err),
                     CRAWLLOG_EVERSION);
    assert_non_null(strstr(err.msg, "groups/g/offsets"));
    enc_header(h, 1, 0);
    cl_put_u32(h + 12, 1);
    cl_put_u32(h + 60, cl_crc32c(0, h, 60));
    pwrite_file(g.file, h, HDR, 0);
    assert_int_equal(cl_offsets_open(&o, g.dfd, RELDIR, 0600, &err),
                     CRAWLLOG_EVERSION);
    /* A good header again: the record is back. */
    enc_header(h, 1, 0);
    pwrite_file(g.file, h, HDR, 0);
    assert_int_equal(fresh_got(g.dfd, "t", 0), 1);
    /* A creation cut short (empty, or a torn header): the header is
     * written and the group has no commits. */
    cl_test_write_file(g.file, "", 0);
    o = xopen(g.dfd);
    assert_int_equal(cl_offsets_count(o), 0);
    cl_offsets_close(o);
    struct walk *w = malloc(sizeof(*w));
    assert_non_null(w);
    walk_file(g.file, w);
    assert_int_equal(w->nrec, 0);
    cl_test_write_file(g.file, "CLOFFSET\0\0", 10);
    o = xopen(g.dfd);
    commit1(o, "t", 0, 2);
    cl_offsets_close(o);
    assert_int_equal(fresh_got(g.dfd, "t", 0), 2);
    free(w);
    grp_done(&g);
}

/* ---------------------------------------------------------------------- */
/* Failpoints                                                              */
/* ---------------------------------------------------------------------- */

static void test_offsets_failpoints(void **state)
{
    struct grp g;
    struct cl_err err;
    uint64_t tok;
    grp_init(&g, CL_TEST_DIR(state), "g");
    struct cl_offsets *o = xopen(g.dfd);
    struct cl_offsets *other = xopen(g.dfd);

    /* Growing the file fails (the first append needs space). */
    assert_int_equal(cl_fp_set("offsets.grow=ENOSPC"), 0);
    assert_int_equal(cl_offsets_append(o, &(struct cl_offset_entry){
                                              "t", 0, 1, NULL, 0},
                                       1, 0, 0, &tok, &err),
                     CRAWLLOG_ENOSPC);
    assert_non_null(strstr(err.msg, "groups/g/offsets"));
    cl_fp_clear();
    assert_int_equal(got(o, "t", 0), -2);
    commit1(o, "t", 0, 1);

    /* The record write fails: nothing visible anywhere, next one works. */
    static const char *wfail[] = {"offsets.write=EIO", "offsets.write=SHORT(10)",
                                  "offsets.write=SHORT(50)"};
    for (size_t i = 0; i < 3; i++) {
        struct cl_offset_entry e[2] = {ent("t", 0, 100 + (int64_t)i, NULL),
                                       ent("t", 1, 200, NULL)};
        assert_int_equal(cl_fp_set(wfail[i]), 0);
        int rc = cl_offsets_append(o, e, 2, 0, 0, &tok, &err);
        cl_fp_clear();
        assert_true(rc == CRAWLLOG_EIO || rc == CRAWLLOG_ENOSPC);
        assert_int_equal(tok, 0);
        assert_int_equal(got(o, "t", 0), 1);
        assert_int_equal(got(o, "t", 1), -2);
        refresh_ok(other);
        assert_int_equal(got(other, "t", 0), 1);
        assert_int_equal(got(other, "t", 1), -2);
        assert_int_equal(fresh_got(g.dfd, "t", 1), -2);
    }
    commit1(o, "t", 0, 2);
    refresh_ok(other);
    assert_int_equal(got(other, "t", 0), 2);
    assert_int_equal(fresh_got(g.dfd, "t", 0), 2);

    /* Reading fails: an error, then the next refresh is fine. */
    commit1(o, "t", 0, 3);
    assert_int_equal(cl_fp_set("offsets.read=EIO"), 0);
    assert_int_equal(cl_offsets_refresh(other, &err), CRAWLLOG_EIO);
    assert_int_equal(cl_fp_set("offsets.stat=EIO"), 0);
    assert_int_equal(cl_offsets_refresh(other, &err), CRAWLLOG_EIO);
    cl_fp_clear();
    refresh_ok(other);
    assert_int_equal(got(other, "t", 0), 3);

    /* Compaction fails before the rename: the old file, no tmp, the
     * append refused; the next one compacts. */
    static const char *cfail[] = {"offsets.tmp.open=EIO", "offsets.tmp.write=ENOSPC",
                                  "offsets.tmp.fsync=EIO", "offsets.tmp.stat=EIO",
                                  "offsets.rename=EIO"};
    for (int i = 0; i < 20; i++) {
        commit1(o, "t", 0, 3); /* enough log for a compaction */
    }
    cl_offsets_set_compact_bytes(o, 1);
    for (size_t i = 0; i < 5; i++) {
        ino_t ino = ino_of(g.file);
        assert_int_equal(cl_fp_set(cfail[i]), 0);
        assert_int_not_equal(cl_offsets_append(o, &(struct cl_offset_entry){
                                                       "t", 0, 50, NULL, 0},
                                                1, 0, 0, &tok, &err),
                             0);
        cl_fp_clear();
        assert_non_null(strstr(err.msg, "groups/g/offsets"));
        assert_int_equal(ino_of(g.file), ino);
        assert_false(cl_test_exists(g.tmp));
        assert_int_equal(got(o, "t", 0), 3);
        assert_int_equal(fresh_got(g.dfd, "t", 0), 3);
    }
    ino_t ino = ino_of(g.file);
    commit1(o, "t", 0, 4);
    assert_true(ino_of(g.file) != ino);
    cl_offsets_set_compact_bytes(o, 0);

    /* fdatasync fails: the error, then the handle refuses (fsyncgate)
     * until reopened. */
    tok = commit1(o, "t", 0, 5);
    assert_int_equal(cl_fp_set("offsets.fdatasync=EIO"), 0);
    assert_int_equal(cl_offsets_sync(o, tok, &err), CRAWLLOG_EIO);
    cl_fp_clear();
    assert_non_null(strstr(err.msg, "fdatasync"));
    assert_int_equal(cl_offsets_sync(o, tok, &err), CRAWLLOG_ECLOSED);
    assert_int_equal(cl_offsets_append(o, &(struct cl_offset_entry){
                                              "t", 0, 6, NULL, 0},
                                       1, 0, 0, &tok, &err),
                     CRAWLLOG_ECLOSED);
    assert_int_equal(got(o, "t", 0), 5); /* reads still work */
    cl_offsets_close(o);
    o = xopen(g.dfd);
    tok = commit1(o, "t", 0, 6);
    assert_int_equal(cl_offsets_sync(o, tok, &err), 0);

    /* The directory fsync after a compaction's rename fails: the new file
     * is in place (everyone reads it), the handle refuses more. */
    assert_int_equal(cl_fp_set("offsets.dirsync=EIO"), 0);
    assert_int_equal(cl_offsets_compact(o, &err), CRAWLLOG_EIO);
    cl_fp_clear();
    assert_int_equal(cl_offsets_append(o, &(struct cl_offset_entry){
                                              "t", 0, 7, NULL, 0},
                                       1, 0, 0, &tok, &err),
                     CRAWLLOG_ECLOSED);
    refresh_ok(other);
    assert_int_equal(got(other, "t", 0), 6);
    commit1(other, "t", 0, 7);
    cl_offsets_close(o);
    cl_offsets_close(other);
    assert_int_equal(fresh_got(g.dfd, "t", 0), 7);

    /* Open: every step can fail; nothing is left half made. */
    static const char *ofail[] = {"offsets.dup=EMFILE", "offsets.open=EACCES",
                                  "offsets.stat=EIO", "offsets.read=EIO"};
    for (size_t i = 0; i < 4; i++) {
        struct cl_offsets *q = NULL;
        assert_int_equal(cl_fp_set(ofail[i]), 0);
        assert_int_not_equal(cl_offsets_open(&q, g.dfd, RELDIR, 0600, &err), 0);
        cl_fp_clear();
        assert_null(q);
    }
    grp_done(&g);
}

/* Every I/O operation of an append that compacts, failed in turn (and
 * every allocation of open and append): on an error nothing of the commit
 * is visible, on success all of it; the store works afterwards. */
static void prepare_template(struct grp *g)
{
    struct cl_offsets *o = xopen(g->dfd);
    struct cl_offset_entry e[2] = {ent("x", 0, 1, "meta"), ent("y", 0, 1, NULL)};
    commit(o, e, 2);
    for (int i = 0; i < 60; i++) {
        commit1(o, "x", 1, i);
    }
    cl_offsets_close(o);
}

static void test_offsets_fault_sweep(void **state)
{
    const char *base = CL_TEST_DIR(state);
    struct grp tpl;
    struct cl_err err;
    char dir[900];
    grp_init(&tpl, base, "tpl");
    prepare_template(&tpl);
    struct cl_offset_entry e[2] = {ent("x", 0, 1000, "new"), ent("z", 0, 5, NULL)};

    /* Dry run: how many I/O operations. */
    cl_test_path(dir, sizeof(dir), base, "dry");
    cl_test_copy_tree(tpl.dir, dir);
    struct grp g;
    grp_init(&g, base, "dry");
    struct cl_offsets *o = xopen(g.dfd);
    cl_offsets_set_compact_bytes(o, 512);
    ino_t ino = ino_of(g.file);
    cl_fp_clear();
    commit(o, e, 2);
    uint64_t n = cl_fp_hits_total();
    assert_true(ino_of(g.file) != ino); /* it did compact */
    assert_true(n >= 9);
    cl_offsets_close(o);
    grp_done(&g);

    for (uint64_t k = 1; k <= n + 1; k++) {
        char name[32], spec[64];
        snprintf(name, sizeof(name), "k%" PRIu64, k);
        cl_test_path(dir, sizeof(dir), base, name);
        cl_test_copy_tree(tpl.dir, dir);
        grp_init(&g, base, name);
        o = xopen(g.dfd);
        cl_offsets_set_compact_bytes(o, 512);
        snprintf(spec, sizeof(spec), "offsets.*=EIO@%" PRIu64, k);
        assert_int_equal(cl_fp_set(spec), 0);
        uint64_t tok = 0;
        int rc = cl_offsets_append(o, e, 2, 0, 0, &tok, &err);
        cl_fp_clear();
        if (k > n) {
            assert_int_equal(rc, 0);
        }
        struct cl_offsets *q = xopen(g.dfd);
        if (rc == 0) {
            assert_int_equal(got(q, "x", 0), 1000);
            assert_int_equal(got(q, "z", 0), 5);
            assert_int_equal(got(o, "z", 0), 5);
        } else {
            assert_int_equal(got(q, "x", 0), 1);
            assert_int_equal(got(q, "z", 0), -2);
            assert_int_equal(got(o, "z", 0), -2);
            assert_int_equal(tok, 0);
        }
        assert_int_equal(got(q, "x", 1), 59);
        assert_int_equal(got(q, "y", 0), 1);
        assert_false(cl_test_exists(g.tmp));
        cl_offsets_close(q);
        /* It works afterwards (a handle whose sync failed is reopened). */
        struct cl_offset_entry after = ent("x", 0, 2000, NULL);
        rc = cl_offsets_append(o, &after, 1, 0, 0, &tok, &err);
        if (rc == CRAWLLOG_ECLOSED) {
            cl_offsets_close(o);
            o = xopen(g.dfd);
            rc = cl_offsets_append(o, &after, 1, 0, 0, &tok, &err);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(cl_offsets_sync(o, tok, &err), 0);
        cl_offsets_close(o);
        assert_int_equal(fresh_got(g.dfd, "x", 0), 2000);
        grp_done(&g);
    }

    /* Allocations: open, then an append that compacts. */
    for (int k = 1;; k++) {
        char spec[64];
        struct cl_offsets *q = NULL;
        snprintf(spec, sizeof(spec), "malloc=ENOMEM@%d", k);
        assert_int_equal(cl_fp_set(spec), 0);
        int rc = cl_offsets_open(&q, tpl.dfd, RELDIR, 0600, &err);
        uint64_t hits = cl_fp_hits("malloc");
        cl_fp_clear();
        if (rc != 0) {
            assert_int_equal(rc, CRAWLLOG_ENOMEM);
            assert_null(q);
            continue;
        }
        assert_int_equal(got(q, "x", 1), 59);
        cl_offsets_close(q);
        if ((uint64_t)k > hits) {
            break;
        }
    }
    for (int k = 1;; k++) {
        char name[32], spec[64];
        snprintf(name, sizeof(name), "m%d", k);
        cl_test_path(dir, sizeof(dir), base, name);
        cl_test_copy_tree(tpl.dir, dir);
        grp_init(&g, base, name);
        o = xopen(g.dfd);
        cl_offsets_set_compact_bytes(o, 512);
        snprintf(spec, sizeof(spec), "malloc=ENOMEM@%d", k);
        assert_int_equal(cl_fp_set(spec), 0);
        int rc = cl_offsets_append(o, e, 2, 0, 0, NULL, &err);
        uint64_t hits = cl_fp_hits("malloc");
        cl_fp_clear();
        assert_true(rc == 0 || rc == CRAWLLOG_ENOMEM);
        assert_int_equal(got(o, "z", 0), rc == 0 ? 5 : -2);
        assert_int_equal(fresh_got(g.dfd, "z", 0), rc == 0 ? 5 : -2);
        commit1(o, "z", 0, 6);
        cl_offsets_close(o);
        assert_int_equal(fresh_got(g.dfd, "z", 0), 6);
        grp_done(&g);
        if (rc == 0 && (uint64_t)k > hits) {
            break;
        }
    }
    grp_done(&tpl);
}

/* ---------------------------------------------------------------------- */
/* Power loss (shadow durable image) and fsync ablation                    */
/* ---------------------------------------------------------------------- */

struct pl {
    char real[800], shadow[800], img[800];
    struct grp g;
};

static void pl_start(struct pl *p, const char *base, const char *tag)
{
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/%s", base, tag);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(p->real, sizeof(p->real), "%s/real", dir);
    snprintf(p->shadow, sizeof(p->shadow), "%s/shadow", dir);
    snprintf(p->img, sizeof(p->img), "%s/img", dir);
    assert_int_equal(mkdir(p->real, 0700), 0);
    grp_init(&p->g, p->real, "g"); /* exists before: durable */
    assert_int_equal(cl_shadow_enable(p->real, p->shadow), 0);
}

/* Power fails now: the durable image, opened as the group after reboot. */
static struct cl_offsets *pl_image(struct pl *p, struct grp *ig)
{
    cl_fp_clear();
    cl_shadow_disable();
    assert_int_equal(cl_shadow_image(p->shadow, p->img, CL_SHADOW_DURABLE, 0),
                     0);
    grp_init(ig, p->img, "g");
    return xopen(ig->dfd);
}

/* scenario 0: a commits and syncs.
 * scenario 1: a commits and syncs; b compacts (no later append of b).
 * scenario 2: a commits and syncs; b compacts, appends and syncs.
 * scenario 3: a commits and syncs; b compacts; a (now on b's file)
 *             commits again and syncs.
 * ablate (may be NULL) is armed before anything is opened; afterwards the
 * power fails.  Returns how many acknowledged values the image lost. */
static int pl_run(const char *base, const char *tag, int scenario,
                  const char *ablate)
{
    struct pl p;
    struct grp ig;
    struct cl_err err;
    int lost = 0;
    pl_start(&p, base, tag);
    if (ablate) {
        assert_int_equal(cl_fp_set(ablate), 0);
    }
    struct cl_offsets *a = xopen(p.g.dfd);
    struct cl_offsets *b = xopen(p.g.dfd);
    uint64_t tok = 0;
    for (int i = 1; i <= 20; i++) {
        tok = commit1(a, "a", 0, i);
    }
    assert_int_equal(cl_offsets_sync(a, tok, &err), 0);
    if (scenario >= 1) {
        assert_int_equal(cl_offsets_compact(b, &err), 0);
    }
    if (scenario == 2) {
        tok = commit1(b, "b", 0, 42);
        assert_int_equal(cl_offsets_sync(b, tok, &err), 0);
    }
    if (scenario == 3) {
        tok = commit1(a, "a", 2, 43);
        assert_int_equal(cl_offsets_sync(a, tok, &err), 0);
    }
    commit1(a, "a", 1, 7); /* never synced */
    struct cl_offsets *img = pl_image(&p, &ig);
    lost += got(img, "a", 0) != 20;
    if (scenario == 2) {
        lost += got(img, "b", 0) != 42;
    }
    if (scenario == 3) {
        lost += got(img, "a", 2) != 43;
    }
    cl_offsets_close(img);
    cl_offsets_close(a);
    cl_offsets_close(b);
    grp_done(&ig);
    grp_done(&p.g);
    return lost;
}

static void test_offsets_power_loss(void **state)
{
    const char *base = CL_TEST_DIR(state);
    /* Acknowledged commits survive. */
    assert_int_equal(pl_run(base, "s0", 0, NULL), 0);
    assert_int_equal(pl_run(base, "s1", 1, NULL), 0);
    assert_int_equal(pl_run(base, "s2", 2, NULL), 0);
    assert_int_equal(pl_run(base, "s3", 3, NULL), 0);
    /* ... even when whoever created or renamed the file did not get to
     * fsync the directory (it crashed): a handle's first sync after an
     * open or a switch to another file fsyncs the directory itself. */
    assert_int_equal(pl_run(base, "s4", 0, "offsets.create.dirsync=SKIP:persist"),
                     0);
    assert_int_equal(pl_run(base, "s5", 3, "offsets.dirsync=SKIP:persist"), 0);
    /* Ablation: each sync skipped loses an acknowledged commit, so the
     * checks above can fail. */
    assert_true(pl_run(base, "a0", 0, "offsets.fdatasync=SKIP:persist") > 0);
    assert_true(pl_run(base, "a1", 1, "offsets.tmp.fsync=SKIP:persist") > 0);
    assert_true(pl_run(base, "a2", 2, "offsets.dirsync=SKIP:persist") > 0);
    assert_true(pl_run(base, "a3", 0,
                       "offsets.create.dirsync=SKIP:persist;"
                       "offsets.sync.dirsync=SKIP:persist") > 0);
    assert_true(pl_run(base, "a4", 3,
                       "offsets.dirsync=SKIP:persist;"
                       "offsets.sync.dirsync=SKIP:persist") > 0);
}

/* A failed test may leave the shadow enabled or failpoints set. */
static int teardown(void **state)
{
    cl_shadow_disable();
    return cl_test_fp_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, cl_test_fp_setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_offsets_roundtrip),
        T(test_offsets_model),
        T(test_offsets_torn_record_atomic),
        T(test_offsets_seq_rule),
        T(test_offsets_torn_longer_then_shorter),
        T(test_offsets_stale_next_record),
        T(test_offsets_removal),
        T(test_offsets_metadata_and_limits),
        T(test_offsets_incremental_refresh),
        T(test_offsets_threads_take_turns),
        T(test_offsets_processes_take_turns),
        T(test_offsets_compaction),
        T(test_offsets_snapshot_split),
        T(test_offsets_tmp_leftover),
        T(test_offsets_bad_header),
        T(test_offsets_failpoints),
        T(test_offsets_fault_sweep),
        T(test_offsets_power_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
