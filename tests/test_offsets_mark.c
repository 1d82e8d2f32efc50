/*
 * test_offsets_mark.c - the durable mark of groups/<group>/offsets
 * (offsets.c, docs/FORMAT.md section 8): after a durable commit the header
 * holds, in one of two CRC'd slots, the seq below which every record is
 * durable.  Damage to a record below it is CRAWLLOG_ECORRUPT naming the
 * file (open, refresh and append alike) and leaves the file unchanged;
 * damage above it (records committed WRITTEN after the last durable one)
 * is a torn tail as before; a torn slot falls back to the other slot; a
 * file with zero slots (written before the mark existed) loads with the
 * plain longest-valid-prefix rule; a compacted file carries its snapshot
 * as its mark; and power-loss images (the shadow, io_shadow.h) of
 * durable and WRITTEN commits, compactions and two handles always open
 * with every acknowledged durable commit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

struct grp {
    char dir[4600];
    char file[4700];
    int dfd;
};

static void grp_init(struct grp *g, const char *base)
{
    snprintf(g->dir, sizeof(g->dir), "%s/g", base);
    snprintf(g->file, sizeof(g->file), "%s/%s", g->dir, CL_OFFSETS_NAME);
    assert_int_equal(mkdir(g->dir, 0700), 0);
    g->dfd = open(g->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(g->dfd >= 0);
}

static struct cl_offsets *xopen(int dfd)
{
    struct cl_offsets *o = NULL;
    struct cl_err err;
    err.msg[0] = '\0';
    int rc = cl_offsets_open(&o, dfd, RELDIR, 0600, &err);
    if (rc != 0) {
        fail_msg("cl_offsets_open: %d %s", rc, err.msg);
    }
    return o;
}

/* Commit t/0 = off; durable: also sync it, which raises the mark. */
static void commit(struct cl_offsets *o, int64_t off, int durable)
{
    struct cl_offset_entry e = {"t", 0, off, NULL, 0};
    struct cl_err err;
    uint64_t tok = 0;
    err.msg[0] = '\0';
    int rc = cl_offsets_append(o, &e, 1, 1, 0, &tok, &err);
    if (rc == 0 && durable) {
        rc = cl_offsets_sync(o, tok, &err);
    }
    if (rc != 0) {
        fail_msg("commit %lld: %d %s", (long long)off, rc, err.msg);
    }
}

static int64_t got(const struct cl_offsets *o)
{
    struct cl_offset_entry e;
    return cl_offsets_get(o, "t", 0, &e) ? e.offset : -2;
}

/* The value of slot i (0: A at 24, 1: B at 36); -1 if it fails its CRC. */
static int64_t slot(const uint8_t *b, int i)
{
    const uint8_t *s = b + 24 + 12 * i;
    return cl_get_u32(s + 8) == cl_crc32c(0, s, 8) ? (int64_t)cl_get_u64(s)
                                                   : -1;
}

static uint64_t file_mark(const char *path)
{
    uint8_t *b = cl_test_read_file(path, NULL);
    int64_t a = slot(b, 0), c = slot(b, 1);
    free(b);
    return (uint64_t)(a > c ? (a > 0 ? a : 0) : (c > 0 ? c : 0));
}

/* Byte offset of record k (FORMAT.md 8: lengths from byte 64). */
static size_t rec_pos(const char *path, int k)
{
    size_t len = 0, pos = HDR;
    uint8_t *b = cl_test_read_file(path, &len);
    for (int i = 0; i < k; i++) {
        assert_true(pos + 40 <= len);
        pos += cl_get_u32(b + pos);
    }
    free(b);
    return pos;
}

/* Open, refresh of a handle opened before the damage, and an append on
 * it: all CRAWLLOG_ECORRUPT naming the file and the mark; the file is
 * unchanged byte for byte. */
static void expect_corrupt(struct grp *g, struct cl_offsets *old)
{
    size_t len0 = 0, len1 = 0;
    uint8_t *before = cl_test_read_file(g->file, &len0);
    struct cl_err err;
    struct cl_offsets *o = NULL;
    err.msg[0] = '\0';
    assert_int_equal(cl_offsets_open(&o, g->dfd, RELDIR, 0600, &err),
                     CRAWLLOG_ECORRUPT);
    assert_null(o);
    assert_non_null(strstr(err.msg, "groups/g/offsets"));
    assert_non_null(strstr(err.msg, "below the durable mark"));
    assert_non_null(strstr(err.msg, "at byte"));
    if (old) {
        err.msg[0] = '\0';
        assert_int_equal(cl_offsets_refresh(old, &err), CRAWLLOG_ECORRUPT);
        assert_non_null(strstr(err.msg, "groups/g/offsets"));
        struct cl_offset_entry e = {"t", 0, 999, NULL, 0};
        uint64_t tok = 0;
        assert_int_equal(cl_offsets_append(old, &e, 1, 1, 0, &tok, &err),
                         CRAWLLOG_ECORRUPT);
    }
    uint8_t *after = cl_test_read_file(g->file, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    free(before);
    free(after);
}

static void damage_below_mark(void **state, int k)
{
    struct grp g;
    grp_init(&g, CL_TEST_DIR(state));
    struct cl_offsets *o = xopen(g.dfd), *reader = NULL;
    for (int i = 0; i < 5; i++) {
        if (i == k) {
            /* It has read the records before k: its next refresh reads
             * the damaged one (a handle that read a record before the
             * damage keeps its value). */
            reader = xopen(g.dfd);
        }
        commit(o, 10 + i, 1);
    }
    assert_int_equal(file_mark(g.file), 5);
    commit(o, 20, 0); /* a WRITTEN one above the mark: no new mark */
    assert_int_equal(file_mark(g.file), 5);
    cl_test_flip_byte(g.file, (off_t)rec_pos(g.file, k) + 20, 0x01);
    expect_corrupt(&g, reader);
    cl_offsets_close(reader);
    cl_offsets_close(o);
    /* Repaired: everything is back. */
    cl_test_flip_byte(g.file, (off_t)rec_pos(g.file, k) + 20, 0x01);
    o = xopen(g.dfd);
    assert_int_equal(got(o), 20);
    cl_offsets_close(o);
    close(g.dfd);
}

static void test_mark_damage_first_record(void **state)
{
    damage_below_mark(state, 0);
}

static void test_mark_damage_middle_record(void **state)
{
    damage_below_mark(state, 2);
}

/* Records committed WRITTEN after the last durable one lie above the
 * mark: damage there is a torn tail (the records before it stay). */
static void test_mark_damage_above_is_tail(void **state)
{
    struct grp g;
    grp_init(&g, CL_TEST_DIR(state));
    struct cl_offsets *o = xopen(g.dfd);
    commit(o, 10, 1);
    commit(o, 11, 1);
    commit(o, 12, 0);
    commit(o, 13, 0);
    cl_offsets_close(o);
    assert_int_equal(file_mark(g.file), 2);
    cl_test_flip_byte(g.file, (off_t)rec_pos(g.file, 2) + 20, 0x01);
    o = xopen(g.dfd);
    assert_int_equal(got(o), 11); /* records 0, 1 */
    commit(o, 14, 1);             /* overwrites the tail */
    cl_offsets_close(o);
    assert_int_equal(file_mark(g.file), 3);
    o = xopen(g.dfd);
    assert_int_equal(got(o), 14);
    cl_offsets_close(o);
    close(g.dfd);
}

/* A torn (CRC-failing) slot: the other slot's mark counts. */
static void test_mark_torn_slot(void **state)
{
    struct grp g;
    grp_init(&g, CL_TEST_DIR(state));
    struct cl_offsets *o = xopen(g.dfd);
    for (int i = 0; i < 4; i++) {
        commit(o, 10 + i, 1);
    }
    cl_offsets_close(o);
    uint8_t *b = cl_test_read_file(g.file, NULL);
    /* Alternating slots: the newest (4) in one, the one before (3) in
     * the other. */
    int hi = slot(b, 0) == 4 ? 0 : 1;
    assert_int_equal(slot(b, hi), 4);
    assert_int_equal(slot(b, 1 - hi), 3);
    free(b);
    /* Record 3 damaged: with slot hi intact that is below the mark. */
    size_t r3 = rec_pos(g.file, 3);
    cl_test_flip_byte(g.file, (off_t)r3 + 20, 0x01);
    expect_corrupt(&g, NULL);
    /* Slot hi torn too: mark 3, so record 3 is a tail. */
    cl_test_flip_byte(g.file, 24 + 12 * hi + 3, 0x40);
    o = xopen(g.dfd);
    assert_int_equal(got(o), 12);
    cl_offsets_close(o);
    cl_test_flip_byte(g.file, (off_t)r3 + 20, 0x01); /* repaired */
    /* Record 2 damaged is still below the remaining mark 3. */
    cl_test_flip_byte(g.file, (off_t)rec_pos(g.file, 2) + 20, 0x01);
    expect_corrupt(&g, NULL);
    close(g.dfd);
}

/* Zero slots (every file written before the mark existed): the header is
 * valid, and the valid log is its longest valid prefix as before. */
static void test_mark_zero_slots_old_file(void **state)
{
    struct grp g;
    grp_init(&g, CL_TEST_DIR(state));
    struct cl_offsets *o = xopen(g.dfd);
    for (int i = 0; i < 3; i++) {
        commit(o, 10 + i, 1);
    }
    cl_offsets_close(o);
    uint8_t *b = cl_test_read_file(g.file, NULL);
    /* The header CRC as an old build computed it: over [0, 60). */
    memset(b + 24, 0, 24);
    assert_int_equal(cl_get_u32(b + 60), cl_crc32c(0, b, 60));
    int fd = open(g.file, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, b, HDR, 0), HDR);
    close(fd);
    free(b);
    o = xopen(g.dfd);
    assert_int_equal(got(o), 12);
    cl_offsets_close(o);
    cl_test_flip_byte(g.file, (off_t)rec_pos(g.file, 0) + 20, 0x01);
    o = xopen(g.dfd);
    assert_int_equal(got(o), -2); /* no mark: the old rule */
    cl_offsets_close(o);
    close(g.dfd);
}

/* A compacted file carries the end of its snapshot as its mark. */
static void test_mark_compaction(void **state)
{
    struct grp g;
    struct cl_err err;
    grp_init(&g, CL_TEST_DIR(state));
    struct cl_offsets *o = xopen(g.dfd);
    commit(o, 10, 0);
    commit(o, 11, 0); /* WRITTEN only: no mark yet */
    assert_int_equal(file_mark(g.file), 0);
    assert_int_equal(cl_offsets_compact(o, &err), 0);
    cl_offsets_close(o);
    /* base seq 2, one snapshot record (seq 2): mark 3. */
    assert_int_equal(file_mark(g.file), 3);
    cl_test_flip_byte(g.file, (off_t)rec_pos(g.file, 0) + 20, 0x01);
    expect_corrupt(&g, NULL);
    close(g.dfd);
}

/* Power fails after a mix of durable and WRITTEN commits by two handles
 * and a compaction: every image (only synced data; every write; synced
 * data plus a torn prefix of unsynced appends) opens, with the newest
 * durable value or a later one. */
static void test_mark_power_loss(void **state)
{
    const char *base = CL_TEST_DIR(state);
    for (int sc = 0; sc < 4; sc++) {
        char dir[4200], real[4300], shadow[4300];
        snprintf(dir, sizeof(dir), "%s/pl%d", base, sc);
        assert_int_equal(mkdir(dir, 0700), 0);
        snprintf(real, sizeof(real), "%s/real", dir);
        snprintf(shadow, sizeof(shadow), "%s/shadow", dir);
        assert_int_equal(mkdir(real, 0700), 0);
        struct grp g;
        grp_init(&g, real);
        assert_int_equal(cl_shadow_enable(real, shadow), 0);
        struct cl_offsets *a = xopen(g.dfd), *b = xopen(g.dfd);
        struct cl_err err;
        int64_t acked = -2, v = 100;
        for (int i = 0; i < 6; i++, v++) {
            struct cl_offsets *h = (i + sc) % 3 == 2 ? b : a;
            int durable = ((i + sc) & 1) == 0 || i == 5 - sc % 2;
            commit(h, v, durable);
            if (durable) {
                acked = v;
            }
            if (sc >= 2 && i == 2) {
                assert_int_equal(cl_offsets_compact(b, &err), 0);
                acked = v; /* compaction fsyncs its snapshot */
            }
        }
        commit(a, v, 0); /* a WRITTEN tail after the last durable one */
        cl_offsets_close(a);
        cl_offsets_close(b);
        close(g.dfd);
        cl_shadow_disable();
        for (int mode = 0; mode < 3; mode++) {
            for (uint64_t seed = 1; seed <= (mode == 2 ? 8u : 1u); seed++) {
                char img[4400];
                snprintf(img, sizeof(img), "%s/img%d.%d", dir, mode, (int)seed);
                assert_int_equal(cl_shadow_image(shadow, img, mode, seed), 0);
                struct grp ig;
                snprintf(ig.dir, sizeof(ig.dir), "%s/g", img);
                ig.dfd = open(ig.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                assert_true(ig.dfd >= 0);
                struct cl_offsets *o = xopen(ig.dfd);
                if (got(o) < acked) {
                    fail_msg("scenario %d image %d/%d: %lld < acked %lld", sc,
                             mode, (int)seed, (long long)got(o),
                             (long long)acked);
                }
                cl_offsets_close(o);
                close(ig.dfd);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_mark_damage_first_record),
        cl_test_unit_tmpdir(test_mark_damage_middle_record),
        cl_test_unit_tmpdir(test_mark_damage_above_is_tail),
        cl_test_unit_tmpdir(test_mark_torn_slot),
        cl_test_unit_tmpdir(test_mark_zero_slots_old_file),
        cl_test_unit_tmpdir(test_mark_compaction),
        cl_test_unit_tmpdir(test_mark_power_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
