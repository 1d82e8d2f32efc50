/*
 * test_lagstore.c - a group's history of commit points, lag.history
 * (libcrawllog/lagstore.c): record / lookup round trip (lags clamped,
 * unknown log ends, invalid keys), the window of 10 (older points dropped,
 * a commit older than the newest merged into it), eviction of the least
 * recently updated slot when all 2048 are taken, reset of a file with a
 * bad magic, version or layout or from another boot, read-only opening of
 * a missing or short file, two handles and two processes seeing each
 * other's points, a slot left mid-update by a dead writer (read as not
 * found, repaired by the next writer), consistent lock-free reads while a
 * writer runs (seqlock), and failpoints on every open step.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crawllog.h"
#include "errors.h"
#include "helpers.h"
#include "io.h"
#include "lagstore.h"

/* The group directory of a test: its temporary directory. */
static int dir_fd(void **state)
{
    int fd = open(CL_TEST_DIR(state), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static struct cl_lagstore *xopen(int dfd, int create)
{
    struct cl_lagstore *s = NULL;
    struct cl_err err = {{0}};
    int rc = cl_lagstore_open(&s, dfd, "groups/g", create, 0600, &err);
    if (rc != 0) {
        fail_msg("cl_lagstore_open: %s: %s", crawllog_err_name(rc), err.msg);
    }
    assert_non_null(s);
    return s;
}

static void rec(struct cl_lagstore *s, const char *topic, int32_t p,
                int64_t offset, int64_t ts, int64_t head)
{
    assert_int_equal(cl_lagstore_record(s, topic, p, offset, ts, head), 0);
}

/* (topic, p) is found with exactly the n points {off[i], ts[i], lag[i]}. */
static void expect_window(struct cl_lagstore *s, const char *topic, int32_t p,
                          size_t n, const int64_t *off, const int64_t *ts,
                          const int64_t *lag)
{
    struct cl_lag_window w;
    assert_int_equal(cl_lagstore_lookup(s, topic, p, &w), 1);
    assert_int_equal(cl_lag_window_len(&w), n);
    for (size_t i = 0; i < n; i++) {
        const struct cl_lag_point *pt = cl_lag_window_at(&w, i);
        assert_non_null(pt);
        assert_int_equal(pt->offset, off[i]);
        assert_int_equal(pt->ts_ms, ts[i]);
        assert_int_equal(pt->lag, lag[i]);
    }
}

static void expect_missing(struct cl_lagstore *s, const char *topic,
                           int32_t p)
{
    struct cl_lag_window w;
    memset(&w, 0xab, sizeof(w));
    assert_int_equal(cl_lagstore_lookup(s, topic, p, &w), 0);
    assert_int_equal(cl_lag_window_len(&w), 0); /* initialised all the same */
}

static char *file_path(void **state, char *buf, size_t size)
{
    return cl_test_path(buf, size, CL_TEST_DIR(state), CL_LAGSTORE_NAME);
}

/* ---------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    int dfd = dir_fd(state);
    struct cl_lagstore *s = xopen(dfd, 1);
    char path[4200];
    assert_int_equal(cl_test_file_size(file_path(state, path, sizeof(path))),
                     CL_LAGSTORE_SIZE);
    expect_missing(s, "t", 0);

    rec(s, "t", 0, 5, 1000, 12);    /* lag 7 */
    rec(s, "t", 0, 9, 2000, 9);     /* lag 0 */
    rec(s, "t", 0, 11, 3000, 10);   /* log end below the commit: 0 */
    rec(s, "t", 0, 12, 4000, -1);   /* log end unknown */
    rec(s, "t", 1, 3, 1500, 100);
    rec(s, "other-topic", 0, 40, 1600, 50);
    const int64_t o0[] = {5, 9, 11, 12}, t0[] = {1000, 2000, 3000, 4000},
                  l0[] = {7, 0, 0, CL_LAG_UNKNOWN};
    expect_window(s, "t", 0, 4, o0, t0, l0);
    const int64_t o1[] = {3}, t1[] = {1500}, l1[] = {97};
    expect_window(s, "t", 1, 1, o1, t1, l1);
    const int64_t o2[] = {40}, t2[] = {1600}, l2[] = {10};
    expect_window(s, "other-topic", 0, 1, o2, t2, l2);
    expect_missing(s, "t", 2);
    expect_missing(s, "tt", 0);
    expect_missing(s, "other", 0);

    /* A key must be a non-empty name of at most 255 bytes. */
    char long_name[300];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(cl_lagstore_record(s, NULL, 0, 1, 1, 1),
                     CRAWLLOG_EINVAL);
    assert_int_equal(cl_lagstore_record(s, "", 0, 1, 1, 1), CRAWLLOG_EINVAL);
    assert_int_equal(cl_lagstore_record(s, long_name, 0, 1, 1, 1),
                     CRAWLLOG_EINVAL);
    expect_missing(s, long_name, 0);
    long_name[255] = '\0'; /* 255 bytes: fits */
    rec(s, long_name, 0, 1, 1, 2);
    const int64_t o3[] = {1}, t3[] = {1}, l3[] = {1};
    expect_window(s, long_name, 0, 1, o3, t3, l3);

    /* Everything is still there after reopening. */
    cl_lagstore_close(s);
    s = xopen(dfd, 0);
    expect_window(s, "t", 0, 4, o0, t0, l0);
    expect_window(s, "t", 1, 1, o1, t1, l1);
    cl_lagstore_close(s);
    cl_lagstore_close(NULL);
    close(dfd);
}

/* The window keeps the newest 10 points; a commit older than the newest
 * stored one (a clock gone back) replaces it, keeping its time. */
static void test_window_of_ten(void **state)
{
    int dfd = dir_fd(state);
    struct cl_lagstore *s = xopen(dfd, 1);
    for (int64_t i = 0; i < 15; i++) {
        rec(s, "t", 3, 100 + i, 1000 + 10 * i, 200 + 2 * i);
    }
    int64_t off[10], ts[10], lag[10];
    for (int i = 0; i < 10; i++) {
        off[i] = 105 + i;
        ts[i] = 1050 + 10 * i;
        lag[i] = 200 + 2 * (5 + i) - off[i];
    }
    expect_window(s, "t", 3, 10, off, ts, lag);
    rec(s, "t", 3, 500, 1000, 510); /* older than the newest (1140) */
    off[9] = 500;
    lag[9] = 10;
    expect_window(s, "t", 3, 10, off, ts, lag);
    /* The same time or later: a new point, the oldest dropped. */
    for (int64_t k = 0; k < 2; k++) {
        rec(s, "t", 3, 501 + k, 1140 + k, 600);
        for (int i = 0; i < 9; i++) {
            off[i] = off[i + 1];
            ts[i] = ts[i + 1];
            lag[i] = lag[i + 1];
        }
        off[9] = 501 + k;
        ts[9] = 1140 + k;
        lag[9] = 99 - k;
        expect_window(s, "t", 3, 10, off, ts, lag);
    }
    cl_lagstore_close(s);
    close(dfd);
}

/* All 2048 slots taken: a new key evicts the least recently updated. */
static void test_eviction(void **state)
{
    int dfd = dir_fd(state);
    struct cl_lagstore *s = xopen(dfd, 1);
    for (int32_t p = 0; p < CL_LAGSTORE_SLOTS; p++) {
        rec(s, "t", p, p, 1000 + p, p + 1);
    }
    for (int32_t p = 0; p < CL_LAGSTORE_SLOTS; p++) {
        const int64_t o[] = {p}, t[] = {1000 + p}, l[] = {1};
        expect_window(s, "t", p, 1, o, t, l);
    }
    /* Partition 0 updated again: 1 is now the least recently updated. */
    rec(s, "t", 0, 7, 5000, 7);
    rec(s, "new", 0, 1, 6000, 4);
    expect_missing(s, "t", 1);
    const int64_t on[] = {1}, tn[] = {6000}, ln[] = {3};
    expect_window(s, "new", 0, 1, on, tn, ln);
    const int64_t o0[] = {0, 7}, t0[] = {1000, 5000}, l0[] = {1, 0};
    expect_window(s, "t", 0, 2, o0, t0, l0);
    /* The evicted key comes back in place of the next oldest (2). */
    rec(s, "t", 1, 50, 7000, 60);
    expect_missing(s, "t", 2);
    const int64_t o1[] = {50}, t1[] = {7000}, l1[] = {10};
    expect_window(s, "t", 1, 1, o1, t1, l1);
    for (int32_t p = 3; p < CL_LAGSTORE_SLOTS; p++) {
        const int64_t o[] = {p}, t[] = {1000 + p}, l[] = {1};
        expect_window(s, "t", p, 1, o, t, l);
    }
    expect_window(s, "new", 0, 1, on, tn, ln);
    cl_lagstore_close(s);
    close(dfd);
}

/* Write len bytes at off of the file, with another handle open. */
static void poke(void **state, off_t off, const void *buf, size_t len)
{
    char path[4200];
    int fd = open(file_path(state, path, sizeof(path)), O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
    close(fd);
}

/* A file that is not this layout, or not from this boot, reads as empty
 * and is reset by the next writer. */
static void test_reset(void **state)
{
    int dfd = dir_fd(state);
    struct cl_lagstore *s = xopen(dfd, 1);
    const int64_t o[] = {5}, t[] = {1000}, l[] = {5};
    const int64_t o2[] = {6}, t2[] = {2000}, l2[] = {4};
    static const struct {
        off_t off;
        const char *bytes;
        size_t len;
    } damage[] = {
        {0, "X", 1},                       /* magic */
        {8, "\x07\x00\x00\x00", 4},         /* version 7 */
        {12, "\x00\x04\x00\x00", 4},        /* 1024 slots */
        {16, "\x00\x01\x00\x00", 4},        /* slot size 256 */
        {20, "\x20\x00\x00\x00", 4},        /* 32 points */
    };
    for (size_t d = 0; d < sizeof(damage) / sizeof(damage[0]); d++) {
        rec(s, "t", 0, 5, 1000, 10);
        rec(s, "u", 0, 6, 2000, 10);
        expect_window(s, "t", 0, 1, o, t, l);
        poke(state, damage[d].off, damage[d].bytes, damage[d].len);
        expect_missing(s, "t", 0);
        expect_missing(s, "u", 0);
        rec(s, "u", 0, 6, 2000, 10); /* resets: t is gone for good */
        expect_missing(s, "t", 0);
        expect_window(s, "u", 0, 1, o2, t2, l2);
        rec(s, "u", 0, 7, 2000, 10); /* merged into the point of 2000 */
        expect_missing(s, "t", 0);
    }

    /* Another boot (simulated): stale history reads as not found, and the
     * first writer of this boot starts afresh. */
    char old[64] = "";
    const char *env = getenv("CRAWLLOG_BOOT_ID");
    snprintf(old, sizeof(old), "%s", env ? env : "");
    rec(s, "t", 0, 5, 1000, 10);
    assert_int_equal(setenv("CRAWLLOG_BOOT_ID", "lagstore-test-reboot", 1), 0);
    struct cl_lagstore *r = xopen(dfd, 1);
    expect_missing(r, "t", 0);
    expect_window(s, "t", 0, 1, o, t, l); /* the old boot's view */
    rec(r, "u", 0, 6, 2000, 10);
    expect_window(r, "u", 0, 1, o2, t2, l2);
    expect_missing(r, "t", 0);
    expect_missing(s, "u", 0); /* to the old boot's handle: not its boot */
    cl_lagstore_close(r);
    if (old[0]) {
        setenv("CRAWLLOG_BOOT_ID", old, 1);
    } else {
        unsetenv("CRAWLLOG_BOOT_ID");
    }
    cl_lagstore_close(s);
    close(dfd);
}

/* Read-only opening: a missing or short file is "no history" (ENOENT),
 * and a read-only open creates nothing. */
static void test_open_readonly(void **state)
{
    int dfd = dir_fd(state);
    struct cl_lagstore *s = NULL;
    struct cl_err err = {{0}};
    char path[4200];
    file_path(state, path, sizeof(path));
    assert_int_equal(cl_lagstore_open(&s, dfd, "groups/g", 0, 0600, &err),
                     CRAWLLOG_ENOENT);
    assert_null(s);
    assert_non_null(strstr(err.msg, "groups/g/lag.history"));
    assert_false(cl_test_exists(path));
    cl_test_write_file(path, "short", 5);
    memset(&err, 0, sizeof(err));
    assert_int_equal(cl_lagstore_open(&s, dfd, "groups/g", 0, 0600, &err),
                     CRAWLLOG_ENOENT);
    assert_null(s);
    assert_int_equal(cl_test_file_size(path), 5);
    /* A writer grows it; its junk is then reset by the first record. */
    struct cl_lagstore *w = xopen(dfd, 1);
    assert_int_equal(cl_test_file_size(path), CL_LAGSTORE_SIZE);
    s = xopen(dfd, 0);
    expect_missing(s, "t", 0);
    rec(w, "t", 0, 1, 2, 3);
    const int64_t o[] = {1}, t[] = {2}, l[] = {2};
    expect_window(s, "t", 0, 1, o, t, l);
    cl_lagstore_close(s);
    cl_lagstore_close(w);
    close(dfd);
}

struct child_arg {
    const char *dir;
    int32_t partition;
};

static void child_record(void *arg)
{
    const struct child_arg *a = arg;
    struct cl_lagstore *s = NULL;
    struct cl_err err = {{0}};
    int dfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cl_test_check(dfd >= 0);
    cl_test_check(cl_lagstore_open(&s, dfd, "groups/g", 1, 0600, &err) == 0);
    struct cl_lag_window w;
    cl_test_check(cl_lagstore_lookup(s, "t", 0, &w) == 1);
    cl_test_check(cl_lag_window_len(&w) == 2);
    cl_test_check(cl_lag_window_at(&w, 1)->offset == 12);
    cl_test_check(cl_lagstore_record(s, "t", a->partition, 77, 9000, 80) ==
                  0);
    cl_lagstore_close(s);
    close(dfd);
}

/* Two handles of one process, and another process, see each other's
 * points at once. */
static void test_shared(void **state)
{
    int dfd = dir_fd(state);
    struct cl_lagstore *a = xopen(dfd, 1);
    struct cl_lagstore *b = xopen(dfd, 1);
    rec(a, "t", 0, 10, 1000, 15);
    const int64_t o[] = {10}, t[] = {1000}, l[] = {5};
    expect_window(b, "t", 0, 1, o, t, l);
    rec(b, "t", 0, 12, 2000, 15);
    const int64_t o2[] = {10, 12}, t2[] = {1000, 2000}, l2[] = {5, 3};
    expect_window(a, "t", 0, 2, o2, t2, l2);
    struct child_arg ca = {CL_TEST_DIR(state), 9};
    cl_test_assert_exit_ok(cl_test_fork_run(child_record, &ca));
    const int64_t o3[] = {77}, t3[] = {9000}, l3[] = {3};
    expect_window(a, "t", 9, 1, o3, t3, l3);
    expect_window(b, "t", 9, 1, o3, t3, l3);
    cl_lagstore_close(a);
    cl_lagstore_close(b);
    close(dfd);
}

/* Offset in the file of the slot holding topic "t" partition p. */
static off_t find_slot(void **state, int32_t p)
{
    char path[4200];
    size_t len = 0;
    unsigned char *f = cl_test_read_file(file_path(state, path, sizeof(path)),
                                         &len);
    off_t found = -1;
    for (size_t i = 0; i < CL_LAGSTORE_SLOTS && found < 0; i++) {
        size_t at = CL_LAGSTORE_HDR_SIZE + i * sizeof(struct cl_lagstore_slot);
        int32_t part;
        uint64_t stamp;
        memcpy(&part, f + at + 8, 4);
        memcpy(&stamp, f + at + 16, 8);
        if (stamp != 0 && part == p && memcmp(f + at + 24, "t\0", 2) == 0) {
            found = (off_t)at;
        }
    }
    free(f);
    assert_true(found >= 0);
    return found;
}

/* A writer that died mid-update leaves its slot's seq odd: readers give
 * up on it (not found) and the next writer drops its points. */
static void test_dead_writer(void **state)
{
    int dfd = dir_fd(state);
    struct cl_lagstore *s = xopen(dfd, 1);
    rec(s, "t", 0, 1, 1000, 5);
    rec(s, "t", 0, 2, 2000, 5);
    rec(s, "t", 1, 3, 1000, 5);
    off_t at = find_slot(state, 0);
    uint32_t seq;
    char path[4200];
    int fd = open(file_path(state, path, sizeof(path)), O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &seq, 4, at), 4);
    close(fd);
    assert_int_equal(seq % 2, 0);
    seq |= 1;
    poke(state, at, &seq, 4);
    expect_missing(s, "t", 0);
    const int64_t o1[] = {3}, t1[] = {1000}, l1[] = {2};
    expect_window(s, "t", 1, 1, o1, t1, l1);
    rec(s, "t", 0, 4, 3000, 5);
    const int64_t o[] = {4}, t[] = {3000}, l[] = {1};
    expect_window(s, "t", 0, 1, o, t, l);
    expect_window(s, "t", 1, 1, o1, t1, l1);
    cl_lagstore_close(s);
    close(dfd);
}

/* Lock-free readers never see a torn window while a writer runs. */
struct race {
    struct cl_lagstore *s;
    atomic_int done;
    atomic_long reads, found;
};

static void *race_reader(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->done)) {
        struct cl_lag_window w;
        int32_t p = (int32_t)(atomic_fetch_add(&r->reads, 1) % 4);
        if (!cl_lagstore_lookup(r->s, "t", p, &w)) {
            continue;
        }
        atomic_fetch_add(&r->found, 1);
        size_t n = cl_lag_window_len(&w);
        cl_test_thread_check(n >= 1 && n <= CL_LAGSTORE_POINTS,
                             "window of %zu points", n);
        for (size_t i = 0; i < n; i++) {
            const struct cl_lag_point *pt = cl_lag_window_at(&w, i);
            /* Written as {k, 1000 + k, head k + p + 1} for the k with
             * k % 4 == p: lag p + 1, offsets 4 apart. */
            cl_test_thread_check(pt->ts_ms == 1000 + pt->offset &&
                                     pt->lag == p + 1,
                                 "torn point {%lld, %lld, %lld}",
                                 (long long)pt->offset, (long long)pt->ts_ms,
                                 (long long)pt->lag);
            if (i > 0) {
                cl_test_thread_check(
                    pt->offset == cl_lag_window_at(&w, i - 1)->offset + 4,
                    "points out of order");
            }
        }
    }
    return NULL;
}

static void test_lockfree_readers(void **state)
{
    int dfd = dir_fd(state);
    struct race r = {xopen(dfd, 1), 0, 0, 0};
    struct cl_lagstore *w = xopen(dfd, 1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, race_reader, &r), 0);
    /* At least 20000 records, and on until the reader found 2000 windows
     * (at most 30 s).  A normal run gets there in well under a second;
     * under valgrind (threads serialised, a slow reader) it may not, so
     * the check below asks for a tenth of it: enough lock-free reads that
     * raced the writer for their consistency checks to mean something. */
    int64_t deadline = cl_test_mono_ms() + 30000;
    for (int64_t k = 0;
         k < 20000 || (atomic_load(&r.found) < 2000 &&
                       cl_test_mono_ms() < deadline);
         k++) {
        int32_t p = (int32_t)(k % 4);
        rec(w, "t", p, k, 1000 + k, k + p + 1);
    }
    atomic_store(&r.done, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(atomic_load(&r.found) >= 200);
    cl_lagstore_close(w);
    cl_lagstore_close(r.s);
    close(dfd);
}

/* Every open step can fail: an error naming the file, nothing leaked,
 * nothing mapped; the next open works. */
static void test_failpoints(void **state)
{
    static const char *const specs[] = {
        "lagstore.open=EACCES", "lagstore.stat=EIO",
        "lagstore.truncate=ENOSPC", "lagstore.mmap=ENOMEM", "malloc=ENOMEM",
    };
    int dfd = dir_fd(state);
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        struct cl_lagstore *s = NULL;
        struct cl_err err = {{0}};
        char path[4200];
        unlink(file_path(state, path, sizeof(path)));
        assert_int_equal(cl_fp_set(specs[i]), 0);
        int rc = cl_lagstore_open(&s, dfd, "groups/g", 1, 0600, &err);
        cl_fp_clear();
        if (rc == 0) {
            fail_msg("%s: open succeeded", specs[i]);
        }
        assert_null(s);
        assert_true(strstr(err.msg, "groups/g/lag.history") != NULL ||
                    rc == CRAWLLOG_ENOMEM);
        s = xopen(dfd, 1);
        rec(s, "t", 0, 1, 1, 1);
        cl_lagstore_close(s);
    }
    close(dfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_roundtrip),
        cl_test_unit_fp(test_window_of_ten),
        cl_test_unit_fp(test_eviction),
        cl_test_unit_fp(test_reset),
        cl_test_unit_fp(test_open_readonly),
        cl_test_unit_fp(test_shared),
        cl_test_unit_fp(test_dead_writer),
        cl_test_unit_fp(test_lockfree_readers),
        cl_test_unit_fp(test_failpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
