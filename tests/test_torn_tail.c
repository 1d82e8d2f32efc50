/*
 * test_torn_tail.c - T4 (reliability.md 4.5): torn tails and bit rot of
 * LARGE last batches, the cases test_recovery.c does not sweep.
 *
 * test_recovery.c sweeps batches of ~70 B, ~600 B and ~4.3 KiB (every 7th
 * cut).  Here the last batch is exactly 4096 bytes (every cut), 65537
 * bytes (64 KiB + 1: crosses pages) and max.message.bytes (1048588, the
 * largest batch), after three small batches; plus the smallest possible
 * batch (one record with a null key and an empty value, 68 bytes: "~40 B"
 * cannot exist, the batch header alone is 61).
 *  - Torn tail: every cut 0..L (the two big ones: every cut <= 8 KiB plus
 *    1000 seeded random cuts) x fill {none, zeros to the next 4 KiB,
 *    random garbage to the next 4 KiB}, recovered after a simulated reboot
 *    (partition.state of another boot: the full-scan path, every append
 *    above the durable mark), and with fill none in the same boot (a
 *    killed writer).  Recovery keeps exactly the earlier complete batches
 *    (all of them when the fill restored the cut bytes), the .log is cut
 *    at the batch, reads are identical, the next append gets the next
 *    offset.
 *  - Bit rot of the big last batch (every header byte, the record header,
 *    sampled payload bytes; XOR 0x01, XOR 0xff, = 0): after a reboot it is
 *    unsynced data, truncated like a torn tail; in the same boot it is
 *    CRAWLLOG_ECORRUPT naming the .log and the batch's byte, or (a length
 *    now running past the end) a torn tail.  The same batch NOT final and
 *    appended durably: CRAWLLOG_ECORRUPT naming file and byte in both
 *    boots, no file changed, the later batch never dropped.
 *  - Length fields 0, 1, max.message.bytes - 11 (one past the largest),
 *    INT32_MAX, UINT32_MAX and one past the end of the file, in the final
 *    and in a non-final batch, checked in a child whose address space is
 *    capped at its size + 64 MiB (without sanitizers): an allocation from
 *    an unchecked length would fail there.
 *
 * Sampled by default (every cut < 96 and near the end, then every 13th /
 * 97th, 24 random); CL_T4_FULL=1: the sweep above.  /dev/shm when TMPDIR
 * is unset.  Prints "t4-torn: cases=... violations=0".
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pstate.h"
#include "record.h"
#include "segment.h"

#define TOPIC "t"
#define SEG "topics/t/0/00000000000000000000"
#define MAXMSG 1048588
#define PAGE 4096
#define NPREV 6 /* records in the three small batches */

static struct {
    long cases, torn, kept, corrupt, corrupt_read, idx_changed, viol;
    int full;
} st;

/* One pristine directory: the small batches, then one record of vlen
 * value bytes (null key) as the last batch [start, end); with `after`, a
 * small batch follows it (and every batch was appended durably). */
struct pristine {
    char dir[4096], work[4096];
    size_t vlen;
    int after;
    int64_t n;          /* records */
    uint64_t start, end; /* the big batch */
    uint8_t *log;       /* the .log's bytes */
    size_t log_len;
    uint8_t *files[3];  /* partition.state, .index, .timeindex */
    size_t lens[3];
};

static const char *const side[3] = {"topics/t/0/partition.state",
                                    SEG ".index", SEG ".timeindex"};

static uint8_t vbyte(int64_t off, size_t j)
{
    return (uint8_t)(off * 131 + (int64_t)j * 7 + 3);
}

static size_t small_vlen(int64_t off)
{
    return (size_t)(5 + off * 3);
}

static void violation(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void violation(const char *what, const char *fmt, ...)
{
    va_list ap;
    if (st.viol++ < (getenv("CL_T4_VERBOSE") ? 1000000 : 30)) {
        printf("VIOLATION %s: ", what);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
}

/* Append records [first, first + nrec), record i of value vlen(i). */
static void append(crawllog_t *log, int64_t first, size_t nrec,
                   const size_t *big, int sync)
{
    crawllog_record_t r[4] = {{0}};
    uint8_t *v[4];
    int64_t base = -1;
    for (size_t i = 0; i < nrec; i++) {
        int64_t off = first + (int64_t)i;
        size_t len = big ? *big : small_vlen(off);
        v[i] = malloc(len + 1);
        cl_test_check(v[i] != NULL);
        for (size_t j = 0; j < len; j++) {
            v[i][j] = vbyte(off, j);
        }
        memset(&r[i], 0, sizeof(r[i]));
        r[i].value = v[i];
        r[i].value_len = len;
        r[i].timestamp = INT64_C(1700000000000) + off;
    }
    int rc = crawllog_append(log, TOPIC, 0, r, nrec, sync, &base);
    for (size_t i = 0; i < nrec; i++) {
        free(v[i]);
    }
    assert_crawllog_ok_log(log, rc);
    assert_int_equal(base, first);
}

/* The value length giving a one-record batch of exactly size bytes. */
static size_t vlen_for(size_t size)
{
    for (size_t v = size; v + 1 > 0; v--) {
        uint8_t dummy = 0;
        crawllog_record_t r = {.value = &dummy, .value_len = v,
                               .timestamp = 1};
        size_t got = cl_record_batch_size(&r, 1);
        if (got == size) {
            return v;
        }
        if (got < size) {
            break;
        }
    }
    fail_msg("no value length makes a %zu-byte batch", size);
    return 0;
}

static void build(struct pristine *p, const char *root, const char *name,
                  size_t vlen, int after)
{
    char path[4096];
    int sync = after ? CRAWLLOG_SYNC_DURABLE : CRAWLLOG_SYNC_WRITTEN;
    char wname[64];
    snprintf(wname, sizeof(wname), "%s.work", name);
    cl_test_path(p->dir, sizeof(p->dir), root, name);
    cl_test_path(p->work, sizeof(p->work), root, wname);
    p->vlen = vlen;
    p->after = after;
    crawllog_t *log = cl_test_open(p->dir, NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append(log, 0, 2, NULL, sync);
    append(log, 2, 1, NULL, sync);
    append(log, 3, 3, NULL, sync);
    cl_test_path(path, sizeof(path), p->dir, SEG ".log");
    p->start = cl_test_file_size(path);
    append(log, NPREV, 1, &vlen, sync);
    p->end = cl_test_file_size(path);
    p->n = NPREV + 1;
    if (after) {
        append(log, p->n, 2, NULL, sync);
        p->n += 2;
    }
    assert_crawllog_ok(crawllog_close(log));
    p->log = cl_test_read_file(path, &p->log_len);
    for (int i = 0; i < 3; i++) {
        cl_test_path(path, sizeof(path), p->dir, side[i]);
        p->files[i] = cl_test_read_file(path, &p->lens[i]);
    }
    cl_test_copy_tree(p->dir, p->work);
}

static void pristine_free(struct pristine *p)
{
    free(p->log);
    for (int i = 0; i < 3; i++) {
        free(p->files[i]);
    }
}

/* Put the work copy back: the .log as [0, keep) of the pristine one plus
 * extra, and the side files. */
static void restore(const struct pristine *p, size_t keep,
                    const uint8_t *extra, size_t elen, int reboot)
{
    char path[4096];
    cl_test_path(path, sizeof(path), p->work, SEG ".log");
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    cl_test_check(fd >= 0);
    cl_test_check(ftruncate(fd, 0) == 0);
    cl_test_check(pwrite(fd, p->log, keep, 0) == (ssize_t)keep);
    cl_test_check(elen == 0 ||
                  pwrite(fd, extra, elen, (off_t)keep) == (ssize_t)elen);
    close(fd);
    for (int i = 0; i < 3; i++) {
        cl_test_path(path, sizeof(path), p->work, side[i]);
        cl_test_write_file(path, p->files[i], p->lens[i]);
    }
    if (reboot) {
        cl_test_path(path, sizeof(path), p->work, side[0]);
        cl_test_flip_byte(path, (off_t)offsetof(struct cl_pstate_shm, boot_id),
                          0x5a);
    }
}

static int msg_ok(const crawllog_msg_t *m, int64_t off, size_t len)
{
    size_t got = 0;
    const uint8_t *v = crawllog_msg_value(m, &got);
    if (m == NULL || crawllog_msg_offset(m) != off || got != len) {
        return 0;
    }
    for (size_t j = 0; j < len; j++) {
        if (v[j] != vbyte(off, j)) {
            return 0;
        }
    }
    return 1;
}

/* Value length of record off when the log holds n pristine records (the
 * ones appended after them are small). */
static size_t rec_len(const struct pristine *p, int64_t off, int64_t n)
{
    return off == NPREV && off < n ? p->vlen : small_vlen(off);
}

/* Open the work copy, which must recover to n records; read them, append
 * one, read it. */
static void expect_records(const struct pristine *p, int64_t n,
                           uint64_t size, const char *what)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "", path[4096];
    crawllog_t *log = NULL;
    int rc = crawllog_open(&log, p->work, NULL, err, sizeof(err));
    if (rc != 0) {
        violation(what, "open: %s: %s", crawllog_err_name(rc), err);
        return;
    }
    cl_test_path(path, sizeof(path), p->work, SEG ".log");
    int64_t s = -1, e = -1;
    assert_crawllog_ok(crawllog_partition_offsets(log, TOPIC, 0, &s, &e));
    if (e != n || cl_test_file_size(path) != size) {
        violation(what, "log end %" PRId64 " (want %" PRId64 "), .log %zu "
                  "bytes (want %" PRIu64 ")", e, n, cl_test_file_size(path),
                  size);
    } else {
        append(log, n, 1, NULL, CRAWLLOG_SYNC_WRITTEN);
        crawllog_reader_t *rd;
        const crawllog_msg_t *m = NULL;
        assert_crawllog_ok(crawllog_reader_new(&rd, log, TOPIC, 0));
        for (int64_t off = 0; off <= n; off++) {
            rc = crawllog_reader_next(rd, &m);
            if (rc != 0 || !msg_ok(m, off, rec_len(p, off, n))) {
                violation(what, "read %" PRId64 ": %s", off,
                          crawllog_err_name(rc));
                break;
            }
        }
        if (crawllog_reader_next(rd, &m) != 0 || m != NULL) {
            violation(what, "a record past %" PRId64, n);
        }
        crawllog_reader_destroy(rd);
        n == p->n ? st.kept++ : st.torn++;
    }
    assert_crawllog_ok(crawllog_close(log));
}

/* The log opened: nothing dropped, the .log unchanged, and reading from
 * the start stops at the damaged batch with CRAWLLOG_ECORRUPT naming it. */
static void read_finds(const struct pristine *p, crawllog_t *log,
                       uint64_t byte, const char *want, const char *what)
{
    char path[4096];
    int64_t e = -1;
    const crawllog_msg_t *m = NULL;
    crawllog_reader_t *rd;
    assert_crawllog_ok(crawllog_partition_offsets(log, TOPIC, 0, NULL, &e));
    cl_test_path(path, sizeof(path), p->work, SEG ".log");
    if (e != p->n || cl_test_file_size(path) != p->log_len) {
        violation(what, "log end %" PRId64 ", .log %zu bytes", e,
                  cl_test_file_size(path));
        return;
    }
    assert_crawllog_ok(crawllog_reader_new(&rd, log, TOPIC, 0));
    int rc = 0;
    int64_t off = 0;
    for (; off < p->n && (rc = crawllog_reader_next(rd, &m)) == 0; off++) {
        if (!msg_ok(m, off, rec_len(p, off, p->n))) {
            break;
        }
    }
    if (off != NPREV || rc != CRAWLLOG_ECORRUPT ||
        strstr(crawllog_reader_errmsg(rd), want) == NULL) {
        violation(what, "read stopped at %" PRId64 " with %s (%s), want "
                  "CRAWLLOG_ECORRUPT at %d naming byte %" PRIu64, off,
                  crawllog_err_name(rc), crawllog_reader_errmsg(rd), NPREV,
                  byte);
    }
    crawllog_reader_destroy(rd);
    st.corrupt_read++;
}

/* The open must fail with ECORRUPT naming the .log and byte, changing
 * nothing; with may_torn, a torn-tail recovery (cut at the batch) is
 * accepted instead. */
static void expect_corrupt(const struct pristine *p, uint64_t byte,
                           int may_torn, const char *what)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "", want[128], path[4096];
    crawllog_t *log = NULL;
    struct cl_test_snap *before = cl_test_snap_take(p->work);
    int rc = crawllog_open(&log, p->work, NULL, err, sizeof(err));
    snprintf(want, sizeof(want), SEG ".log: byte %" PRIu64 ":", byte);
    cl_test_path(path, sizeof(path), p->work, SEG ".log");
    if (rc == 0 && p->after) {
        /* Same boot, damage below the last index entry: recovery resumes
         * there (RELIABILITY.md 2) and does not see it; the reader must. */
        read_finds(p, log, byte, want, what);
        assert_crawllog_ok(crawllog_close(log));
    } else if (rc == 0) {
        int64_t e = -1;
        assert_crawllog_ok(crawllog_partition_offsets(log, TOPIC, 0, NULL,
                                                      &e));
        assert_crawllog_ok(crawllog_close(log));
        if (!may_torn || e != NPREV ||
            cl_test_file_size(path) != p->start) {
            violation(what, "open succeeded: log end %" PRId64 ", .log %zu"
                      " bytes", e, cl_test_file_size(path));
        }
        st.torn++;
    } else if (rc != CRAWLLOG_ECORRUPT || strstr(err, want) == NULL) {
        violation(what, "open %s (%s), want CRAWLLOG_ECORRUPT naming \"%s\"",
                  crawllog_err_name(rc), err, want);
    } else {
        struct cl_test_snap *after = cl_test_snap_take(p->work);
        static char diff[8192];
        if (!cl_test_snap_equal(before, after, diff, sizeof(diff))) {
            /* Only the derived indexes may have been rewritten (a full
             * scan drops them before it finds the damage). */
            int other = 0;
            for (char *l = strtok(diff, "\n"); l; l = strtok(NULL, "\n")) {
                other |= strstr(l, ".index (") == NULL &&
                         strstr(l, ".timeindex (") == NULL;
            }
            if (other) {
                violation(what, "a failed open changed files: %s", diff);
            }
            st.idx_changed++;
        }
        cl_test_snap_free(after);
        st.corrupt++;
    }
    cl_test_snap_free(before);
}

/* ---------------------------------------------------------------------- */
/* Torn tails                                                              */
/* ---------------------------------------------------------------------- */

static const char *const fills[] = {"none", "zeros", "garbage"};

/* One cut c of the last batch, with a fill, after a reboot or not. */
static void torn_case(const struct pristine *p, uint64_t c, int fill,
                      int reboot, uint64_t *rng)
{
    static uint8_t pad[PAGE];
    char what[160];
    uint64_t len = p->end - p->start;
    size_t plen = fill ? PAGE - (size_t)((p->start + c) % PAGE) : 0;
    for (size_t i = 0; i < plen; i++) {
        pad[i] = fill == 1 ? 0 : (uint8_t)cl_test_rand(rng);
    }
    restore(p, (size_t)(p->start + c), pad, plen, reboot);
    int whole = c == len;
    if (c < len && c + plen >= len) {
        whole = memcmp(pad, p->log + p->start + c, (size_t)(len - c)) == 0;
    }
    snprintf(what, sizeof(what), "%" PRIu64 "-byte batch cut at %" PRIu64
             ", fill %s, %s", len, c, fills[fill],
             reboot ? "after a reboot" : "same boot");
    st.cases++;
    expect_records(p, whole ? p->n : NPREV, whole ? p->end : p->start,
                   what);
}

/* The cuts of a batch of len bytes. */
static void torn_sweep(const struct pristine *p)
{
    uint64_t len = p->end - p->start, rng = CL_TEST_SEED ^ len;
    int big = len > 8192;
    for (uint64_t c = 0; c <= len; c++) {
        int take;
        if (st.full) {
            take = !big || c <= 8192 || c == len || c == len - 1;
        } else {
            take = c < 96 || c + 96 > len || c % (big ? 97 : 13) == 0;
            take = take && (!big || c <= 8192 || c + 2 > len);
        }
        if (!take) {
            continue;
        }
        for (int fill = 0; fill < 3; fill++) {
            torn_case(p, c, fill, 1, &rng);
        }
        torn_case(p, c, 0, 0, &rng);
    }
    for (int i = 0; big && i < (st.full ? 1000 : 24); i++) {
        uint64_t c = 8193 + cl_test_rand_below(&rng, len - 8193);
        for (int fill = 0; fill < 3; fill++) {
            torn_case(p, c, fill, 1, &rng);
        }
        torn_case(p, c, 0, 0, &rng);
    }
}

static struct pristine px[5]; /* 68 B, 4 KiB, 64 KiB + 1, max, max mid */

static int setup(void **state)
{
    if (cl_test_fast_tmpdir_setup(state) != 0) {
        return -1;
    }
    st.full = getenv("CL_T4_FULL") && atoi(getenv("CL_T4_FULL")) > 0;
    const char *root = CL_TEST_DIR(state);
    build(&px[0], root, "p68", 0, 0);
    build(&px[1], root, "p4k", vlen_for(4096), 0);
    build(&px[2], root, "p64k", vlen_for(65537), 0);
    build(&px[3], root, "pmax", vlen_for(MAXMSG), 0);
    build(&px[4], root, "pmid", vlen_for(MAXMSG), 1);
    assert_int_equal(px[0].end - px[0].start, 68);
    assert_int_equal(px[1].end - px[1].start, 4096);
    assert_int_equal(px[2].end - px[2].start, 65537);
    assert_int_equal(px[3].end - px[3].start, MAXMSG);
    return 0;
}

static int teardown(void **state)
{
    printf("t4-torn: cases=%ld torn=%ld kept=%ld corrupt=%ld (at open; "
           "%ld of them with indexes rewritten) corrupt-at-read=%ld "
           "violations=%ld\n", st.cases, st.torn, st.kept, st.corrupt,
           st.idx_changed, st.corrupt_read, st.viol);
    for (int i = 0; i < 5; i++) {
        pristine_free(&px[i]);
    }
    return cl_test_tmpdir_teardown(state);
}

static void test_torn_small(void **state)
{
    (void)state;
    long v0 = st.viol;
    torn_sweep(&px[0]);
    torn_sweep(&px[1]);
    assert_int_equal(st.viol, v0);
}

static void test_torn_big(void **state)
{
    (void)state;
    long v0 = st.viol;
    torn_sweep(&px[2]);
    torn_sweep(&px[3]);
    assert_int_equal(st.viol, v0);
}

/* ---------------------------------------------------------------------- */
/* Bit rot and length fields                                               */
/* ---------------------------------------------------------------------- */

/* Damage byte pos of the big batch (kind 0: ^0x01, 1: ^0xff, 2: = 0);
 * returns 0 if that changes nothing. */
static int rot(const struct pristine *p, uint64_t pos, int kind, int reboot)
{
    static uint8_t one;
    uint8_t old = p->log[p->start + pos];
    one = kind == 0 ? old ^ 0x01 : kind == 1 ? old ^ 0xff : 0;
    if (one == old) {
        return 0;
    }
    restore(p, p->log_len, NULL, 0, reboot);
    char path[4096];
    cl_test_path(path, sizeof(path), p->work, SEG ".log");
    int fd = open(path, O_WRONLY);
    cl_test_check(fd >= 0 && pwrite(fd, &one, 1, (off_t)(p->start + pos)) == 1);
    close(fd);
    return 1;
}

static void rot_sweep(const struct pristine *p)
{
    char what[160];
    uint64_t len = p->end - p->start, rng = CL_TEST_SEED;
    int nrand = st.full ? 400 : 20;
    for (int i = 0; i < 80 + nrand + 1; i++) {
        uint64_t pos = i < 80 ? (uint64_t)i
                       : i < 80 + nrand ? cl_test_rand_below(&rng, len)
                                        : len - 1;
        if (pos >= 12 && pos < 16) {
            continue; /* partitionLeaderEpoch: covered by nothing (Kafka) */
        }
        for (int kind = 0; kind < 3; kind++) {
            for (int reboot = 0; reboot < 2; reboot++) {
                if (!rot(p, pos, kind, reboot)) {
                    continue;
                }
                snprintf(what, sizeof(what), "%s batch byte %" PRIu64
                         " damage %d, %s", p->after ? "non-final" : "final",
                         pos, kind, reboot ? "after a reboot" : "same boot");
                st.cases++;
                if (p->after) {
                    expect_corrupt(p, p->start, 0, what);
                } else if (reboot) {
                    expect_records(p, NPREV, p->start, what);
                } else {
                    expect_corrupt(p, p->start, 1, what);
                }
            }
        }
    }
}

static void test_rot_big(void **state)
{
    (void)state;
    long v0 = st.viol;
    rot_sweep(&px[3]);
    rot_sweep(&px[4]);
    assert_int_equal(st.viol, v0);
}

struct len_arg {
    const struct pristine *p;
    uint32_t val;
    int reboot;
};

/* In a child with a capped address space: judge one length value. */
static void len_child(void *arg)
{
    const struct len_arg *a = arg;
    char what[160];
    long v0 = st.viol;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL && fscanf(f, "%ld", &pages) == 1) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max =
            (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (64u << 20);
        cl_test_check(setrlimit(RLIMIT_AS, &rl) == 0);
    }
    if (f != NULL) {
        fclose(f);
    }
#endif
    snprintf(what, sizeof(what), "%s batch length %" PRIu32 ", %s",
             a->p->after ? "non-final" : "final", a->val,
             a->reboot ? "after a reboot" : "same boot");
    if (a->p->after) {
        expect_corrupt(a->p, a->p->start, 0, what);
    } else if (a->reboot) {
        expect_records(a->p, NPREV, a->p->start, what);
    } else {
        expect_corrupt(a->p, a->p->start, 1, what);
    }
    fflush(stdout);
    _exit(st.viol != v0 ? 1 : 0);
}

static void test_length_fields(void **state)
{
    (void)state;
    long v0 = st.viol;
    for (int w = 3; w <= 4; w++) {
        const struct pristine *p = &px[w];
        const uint32_t vals[] = {0, 1, MAXMSG - 11, INT32_MAX, UINT32_MAX,
                                 (uint32_t)(p->log_len - p->start - 12 + 1)};
        for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
            for (int reboot = 0; reboot < 2; reboot++) {
                char path[4096];
                uint8_t be[4] = {(uint8_t)(vals[i] >> 24),
                                 (uint8_t)(vals[i] >> 16),
                                 (uint8_t)(vals[i] >> 8), (uint8_t)vals[i]};
                restore(p, p->log_len, NULL, 0, reboot);
                cl_test_path(path, sizeof(path), p->work, SEG ".log");
                int fd = open(path, O_WRONLY);
                cl_test_check(fd >= 0 && pwrite(fd, be, 4,
                                                (off_t)(p->start + 8)) == 4);
                close(fd);
                struct len_arg a = {p, vals[i], reboot};
                st.cases++;
                int status = cl_test_fork_run(len_child, &a);
                if (status != 0) {
                    violation("length field", "%s batch length %" PRIu32
                              " %s: child status %d", p->after ? "non-final"
                              : "final", vals[i], reboot ? "reboot" : "boot",
                              status);
                }
            }
        }
    }
    assert_int_equal(st.viol, v0);
}

int main(void)
{
    if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK | X_OK) == 0) {
        setenv("TMPDIR", "/dev/shm", 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_small),
        cmocka_unit_test(test_torn_big),
        cmocka_unit_test(test_rot_big),
        cmocka_unit_test(test_length_fields),
    };
    return cmocka_run_group_tests_name("torn_tail", tests, setup, teardown);
}
