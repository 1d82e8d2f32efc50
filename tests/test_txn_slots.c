/*
 * test_txn_slots.c - the two slots of transactions/<id> written in place
 * (libcrawllog/txn_file.c, format version 2):
 *  - the slot rule over 400 writes (durable / not durable, a run of 150
 *    not durable, counter wrap): which slot each write lands in, its
 *    write word, the other slot's bytes unchanged, the reader returns the
 *    newest; one fdatasync per durable write, none otherwise;
 *  - grow: a state larger than C moves to a bigger file (made whole, old
 *    content replaced atomically, also when killed half way);
 *  - hostile slot lengths and file sizes: no allocation; other versions;
 *    a writer never writes over a file without a valid slot;
 *  - power loss (shadow image): the whole-file path and its ablations;
 *    in place, after a durable write the image holds it, after a not
 *    durable one the old or the new state, at every cut of a mixed
 *    sequence; a torn slot write leaves the previous state; without
 *    txn.slot.fdatasync a durable write is lost; without the presync
 *    nothing is lost in the shadow model, but after a writer died between
 *    its pwrite and its fdatasync, a writeback model (each slot's pages
 *    either synced or current) loses an acknowledged durable state;
 *  - a lock-free reader thread beside a writer: always a valid state,
 *    never newer than the last written (TSan: the presync table).
 * Built with -DCRAWLLOG_TESTING.
 */
#include "helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bytes.h"
#include "crc32c.h"
#include "io.h"
#include "io_shadow.h"
#include "txn_file.h"

#define TXID "eos-1"
#define REL "transactions/" TXID

static int open_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cl_test_check(fd >= 0);
    return fd;
}

/* State number seq: ONGOING, one partition, txn_seq = seq; big: with two
 * 4095-byte metadata entries (L > 8 KiB). */
static void mkstate(struct cl_txn_state *st, int seq, int big)
{
    cl_txn_state_init(st);
    st->producer_id = 77;
    st->status = CL_TXN_ONGOING;
    st->txn_seq = (uint64_t)seq;
    cl_test_check(cl_txn_state_add_part(st, "links", 3, seq) == 0);
    if (big) {
        char meta[CL_TXN_META_MAX + 1];
        memset(meta, 'm', CL_TXN_META_MAX);
        meta[CL_TXN_META_MAX] = '\0';
        strcpy(st->group, "g");
        st->generation = 1;
        for (int i = 0; i < big; i++) {
            cl_test_check(cl_txn_state_add_offset(st, "in", i, 5, meta) == 0);
        }
    }
}

static int write_seq(int root, int seq, int big, int durable,
                     struct cl_err *err)
{
    struct cl_txn_state st;
    mkstate(&st, seq, big);
    int rc = cl_txn_file_write(root, TXID, &st, durable, 0600, 0700, err);
    cl_txn_state_free(&st);
    return rc;
}

/* Read TXID: the code; *seq, *wc, *dur when 0. */
static int read_seq(int root, int *seq, unsigned *wc, int *dur)
{
    struct cl_err err = {""};
    struct cl_txn_state st;
    int rc = cl_txn_file_read(root, TXID, &st, &err);
    *seq = rc == 0 ? (int)st.txn_seq : -1;
    if (wc != NULL) {
        *wc = st.wcount;
        *dur = st.durable;
    }
    cl_txn_state_free(&st);
    return rc;
}

static uint8_t *read_image(void **state, size_t *lenp)
{
    char path[4096];
    return cl_test_read_file(cl_test_path(path, sizeof path,
                                          CL_TEST_DIR(state), REL),
                             lenp);
}

/* ---------------------------------------------------------------------- */
/* The slot rule                                                           */
/* ---------------------------------------------------------------------- */

static void test_txn_slots_rule(void **state)
{
    struct cl_err err = {""};
    int root = open_dir(CL_TEST_DIR(state));
    int valid[2] = {1, 0}, dur[2] = {1, 0}, forced = 0, ndur = 0;
    unsigned wc[2] = {1, 0}, seed = 12345;
    size_t len = 0;

    assert_crawllog_ok(write_seq(root, 0, 0, 0, &err)); /* new: durable */
    uint8_t *prev = read_image(state, &len);
    assert_int_equal(len, 8192);
    cl_fp_clear();
    for (int i = 1; i <= 400; i++) {
        seed = seed * 1103515245u + 12345u;
        int d = i > 100 && i <= 250 ? 0 : (seed >> 16) % 3 == 0;
        /* The model: N newest valid, target, counter, durable bit. */
        int n = valid[0] && valid[1]
                    ? ((wc[1] - wc[0]) & 127) >= 1 && ((wc[1] - wc[0]) & 127) <= 63
                    : valid[1];
        int o = 1 - n, t = !dur[n] && valid[o] ? n : o;
        unsigned w = (wc[n] + 1) & 127;
        int e = d || (t == n && ((w - wc[o]) & 127) >= 63);
        forced += e && !d;
        ndur += e;
        assert_crawllog_ok(write_seq(root, i, 0, d, &err));
        valid[t] = 1;
        wc[t] = w;
        dur[t] = e;
        uint8_t *img = read_image(state, &len);
        assert_int_equal(len, 8192);
        /* The target slot holds state i with write word w | e << 7 ... */
        struct cl_txn_state got;
        size_t l = cl_get_u32(img + t * 4096 + 12);
        assert_true(l < 4096);
        assert_crawllog_ok(cl_txn_decode(img + t * 4096, l, REL, &got, &err));
        assert_int_equal(got.txn_seq, i);
        assert_int_equal(img[t * 4096 + 27], w | (unsigned)e << 7);
        cl_txn_state_free(&got);
        /* ... the other slot is byte for byte what it was. */
        assert_memory_equal(img + (1 - t) * 4096, prev + (1 - t) * 4096,
                            4096);
        free(prev);
        prev = img;
        unsigned rw;
        int seq, rd;
        assert_crawllog_ok(read_seq(root, &seq, &rw, &rd));
        assert_int_equal(seq, i);
        assert_int_equal(rw, w);
        assert_int_equal(rd, e);
    }
    free(prev);
    /* Syncs: one fdatasync per durable write; the presync only on the
     * first in-place write (the file was made by this process, which did
     * not fdatasync its slot itself); nothing else. */
    assert_int_equal(cl_fp_hits("txn.slot.fdatasync"), ndur);
    assert_int_equal(cl_fp_hits("txn.slot.presync"), 1);
    assert_int_equal(cl_fp_hits("txn.fsync") + cl_fp_hits("txn.dirsync") +
                         cl_fp_hits("txn.open"),
                     0);
    /* 150 not-durable writes in a row: made durable every 62. */
    assert_true(forced >= 2);
    print_message("txn_slots: 400 writes, %d durable (%d forced), %llu "
                  "fdatasyncs, 1 presync\n",
                  ndur, forced,
                  (unsigned long long)cl_fp_hits("txn.slot.fdatasync"));
    close(root);
}

/* ---------------------------------------------------------------------- */
/* Grow                                                                    */
/* ---------------------------------------------------------------------- */

static void crash_grow(void *arg)
{
    struct cl_err err = {""};
    int root = open_dir(((const char **)arg)[0]);
    cl_fp_clear();
    cl_test_check(cl_fp_set(((const char **)arg)[1]) == 0);
    (void)write_seq(root, 99, 3, 0, &err);
    cl_test_checkf(0, "not killed");
}

static void test_txn_slots_grow(void **state)
{
    struct cl_err err = {""};
    int root = open_dir(CL_TEST_DIR(state)), seq, dur;
    unsigned wc;
    size_t len = 0;
    static const char *const crashes[] = {"txn.write=CRASH(100)",
                                          "txn.fsync=CRASH", "txn.rename=CRASH",
                                          "txn.slot.read=CRASH"};

    assert_crawllog_ok(write_seq(root, 1, 0, 1, &err));
    assert_crawllog_ok(write_seq(root, 2, 0, 0, &err)); /* slot 1 */
    /* Killed while growing: the old file, its newest state. */
    for (size_t i = 0; i < sizeof crashes / sizeof crashes[0]; i++) {
        const char *arg[2] = {CL_TEST_DIR(state), crashes[i]};
        cl_test_assert_killed_by(cl_test_fork_run(crash_grow, (void *)arg),
                                 SIGKILL);
        assert_crawllog_ok(read_seq(root, &seq, NULL, NULL));
        assert_int_equal(seq, 2);
        assert_int_equal(cl_test_file_size(
                             cl_test_path((char[4096]){0}, 4096,
                                          CL_TEST_DIR(state), REL)),
                         8192);
    }
    assert_crawllog_ok(cl_txn_file_cleanup(root, &err));
    /* Two 4 KiB metadata entries: L > 8 KiB, C = 12 KiB, made whole and
     * durable though not asked: slot 0 the state (counter 3: the newest
     * slot's 2 + 1), slot 1 zeros. */
    cl_fp_clear();
    assert_crawllog_ok(write_seq(root, 3, 2, 0, &err));
    assert_int_equal(cl_fp_hits("txn.fsync"), 1);
    assert_int_equal(cl_fp_hits("txn.dirsync"), 1);
    uint8_t *img = read_image(state, &len);
    size_t l = cl_get_u32(img + 12);
    assert_true(l > 8192 && l <= 12288);
    assert_int_equal(len, 2 * 12288);
    assert_int_equal(img[27], 0x80 | 3);
    for (size_t i = l; i < len; i++) {
        assert_int_equal(img[i], 0);
    }
    free(img);
    assert_crawllog_ok(read_seq(root, &seq, &wc, &dur));
    assert_true(seq == 3 && wc == 3 && dur == 1);
    /* Small states stay in the big file (slot 1, then slot 1 again). */
    assert_crawllog_ok(write_seq(root, 4, 0, 0, &err));
    assert_crawllog_ok(write_seq(root, 5, 1, 0, &err));
    img = read_image(state, &len);
    assert_int_equal(len, 2 * 12288);
    assert_int_equal(cl_get_u64(img + 12288 + 32), 5);
    assert_int_equal(cl_get_u64(img + 32), 3);
    free(img);
    /* Three entries (L > 12 KiB): C = 16 KiB. */
    assert_crawllog_ok(write_seq(root, 6, 3, 1, &err));
    img = read_image(state, &len);
    assert_int_equal(len, 2 * 16384);
    assert_int_equal(img[27], 0x80 | 6);
    free(img);
    assert_crawllog_ok(read_seq(root, &seq, &wc, &dur));
    assert_true(seq == 6 && wc == 6 && dur == 1);
    close(root);
}

/* ---------------------------------------------------------------------- */
/* Hostile slots and sizes, versions                                       */
/* ---------------------------------------------------------------------- */

/* An image of size bytes: slot 0 with magic, length field l (CRC over
 * min(l, C) - 4 bytes when it fits), slot 1 zeros or valid. */
static void plant_image(void **state, size_t size, uint32_t l, int slot1)
{
    char path[4096];
    uint8_t *img = calloc(1, size);
    size_t c = size / 2;
    struct cl_txn_state st;
    uint8_t *enc = NULL;
    size_t elen = 0;
    struct cl_err err = {""};
    cl_test_check(img != NULL);
    memcpy(img, CL_TXN_MAGIC, 8);
    cl_put_u32(img + 8, CL_TXN_VERSION);
    cl_put_u32(img + 12, l);
    if (l >= 8 && l <= c) {
        cl_put_u32(img + l - 4, cl_crc32c(0, img, l - 4));
    }
    if (slot1) {
        mkstate(&st, 41, 0);
        cl_test_check(cl_txn_encode(&st, &enc, &elen, &err) == 0);
        memcpy(img + c, enc, elen);
        cl_io_free(enc);
        cl_txn_state_free(&st);
    }
    cl_test_write_file(cl_test_path(path, sizeof path, CL_TEST_DIR(state),
                                     REL),
                       img, size);
    free(img);
}

static void test_txn_slots_hostile(void **state)
{
    static const uint32_t lens[] = {0, 65, 4097, 1u << 20, (1u << 20) + 1,
                                    UINT32_MAX};
    struct cl_err err = {""};
    char path[4096];
    int root = open_dir(CL_TEST_DIR(state)), seq;

    assert_crawllog_ok(write_seq(root, 1, 0, 1, &err)); /* transactions/ */
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int s1 = 0; s1 < 2; s1++) {
            size_t size = lens[i] >> 20 == 1 ? 2u << 20 : 8192;
            plant_image(state, size, lens[i], s1);
            cl_fp_clear();
            int rc = read_seq(root, &seq, NULL, NULL);
            uint64_t mallocs = cl_fp_hits("malloc");
            if (s1) { /* the other slot */
                assert_crawllog_ok(rc);
                assert_int_equal(seq, 41);
            } else {
                assert_crawllog_rc(rc, CRAWLLOG_ECORRUPT);
            }
            /* Only L = C (1 MiB, believed: within C) reads L bytes (once
             * per attempt: 3); larger lengths are never allocated. */
            if (!s1 && mallocs != (lens[i] == 1u << 20 ? 3 : 0)) {
                fail_msg("L %u: %llu allocations", lens[i],
                         (unsigned long long)mallocs);
            }
            /* The writer refuses a file without a valid slot. */
            if (!s1) {
                size_t before = 0, after = 0;
                uint8_t *a = read_image(state, &before);
                assert_crawllog_rc(write_seq(root, 2, 0, 1, &err),
                                   CRAWLLOG_ECORRUPT);
                assert_non_null(strstr(err.msg, REL ": slot 0: byte "));
                uint8_t *b = read_image(state, &after);
                assert_int_equal(before, after);
                assert_memory_equal(a, b, before);
                free(a);
                free(b);
            }
        }
    }
    /* Sizes that are not two slots, the largest sparse: refused before
     * anything is read or allocated. */
    static const off_t sizes[] = {8192 + 4096, 2 * (off_t)CL_TXN_SLOT_MAX + 8192,
                                  (off_t)1 << 40};
    cl_test_path(path, sizeof path, CL_TEST_DIR(state), REL);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        cl_test_write_file(path, "", 0);
        cl_test_truncate(path, sizes[i]);
        cl_fp_clear();
        assert_crawllog_rc(read_seq(root, &seq, NULL, NULL), CRAWLLOG_ECORRUPT);
        assert_int_equal(cl_fp_hits("malloc"), 0);
    }
    /* A version-1 file (one state, the whole file): EVERSION. */
    uint8_t v1[66] = "CLTXNSTA";
    cl_put_u32(v1 + 8, 1);
    cl_put_u32(v1 + 12, 66);
    cl_put_u64(v1 + 40, UINT64_MAX);
    cl_put_u32(v1 + 52, UINT32_MAX);
    cl_put_u32(v1 + 56, 60000);
    cl_put_u32(v1 + 62, cl_crc32c(0, v1, 62));
    cl_test_write_file(path, v1, sizeof v1);
    assert_crawllog_rc(read_seq(root, &seq, NULL, NULL), CRAWLLOG_EVERSION);
    v1[63] ^= 1; /* damaged: ECORRUPT (the size) */
    cl_test_write_file(path, v1, sizeof v1);
    assert_crawllog_rc(read_seq(root, &seq, NULL, NULL), CRAWLLOG_ECORRUPT);
    /* An intact slot of version 3 beside a valid one: EVERSION (never
     * roll back past a state this library cannot read), reader and
     * writer. */
    (void)unlink(path);
    assert_crawllog_ok(write_seq(root, 1, 0, 1, &err));
    assert_crawllog_ok(write_seq(root, 2, 0, 1, &err));
    size_t len = 0;
    uint8_t *img = read_image(state, &len);
    size_t l = cl_get_u32(img + 4096 + 12);
    cl_put_u32(img + 4096 + 8, 3);
    cl_put_u32(img + 4096 + l - 4, cl_crc32c(0, img + 4096, l - 4));
    cl_test_write_file(path, img, len);
    assert_crawllog_rc(read_seq(root, &seq, NULL, NULL), CRAWLLOG_EVERSION);
    assert_crawllog_rc(write_seq(root, 3, 0, 1, &err), CRAWLLOG_EVERSION);
    assert_non_null(strstr(err.msg, REL ": slot 1: format version 3"));
    free(img);
    /* cl_txn_file_decode (verify): the same rules on a buffer. */
    struct cl_txn_state st;
    plant_image(state, 8192, 70, 1);
    img = read_image(state, &len);
    assert_crawllog_ok(cl_txn_file_decode(img, len, REL, &st, &err));
    assert_int_equal(st.txn_seq, 41);
    cl_txn_state_free(&st);
    assert_crawllog_rc(cl_txn_file_decode(img, len - 1, REL, &st, &err),
                       CRAWLLOG_ECORRUPT);
    cl_txn_state_free(&st);
    memset(img + 4096, 0, 4096);
    assert_crawllog_rc(cl_txn_file_decode(img, len, REL, &st, &err),
                       CRAWLLOG_ECORRUPT);
    assert_non_null(strstr(err.msg, REL ": slot 0: byte "));
    assert_non_null(strstr(err.msg, "; slot 1: byte 0: magic"));
    cl_txn_state_free(&st);
    free(img);
    close(root);
}

/* ---------------------------------------------------------------------- */
/* Power loss                                                              */
/* ---------------------------------------------------------------------- */

/* A power-loss child: writes seq from .. n-1 (durable when bit i of
 * dmask), arms fp, writes seq n (big: L > 8 KiB) or removes the file
 * (n < 0), and is killed (or crashes at fp). */
struct pl {
    const struct cl_test_shadow_run *r;
    int from, n;
    unsigned dmask;
    const char *fp;
    int big;
};

static void power_child(void *arg)
{
    const struct pl *p = arg;
    struct cl_err err = {""};
    int n = p->n < 0 ? -p->n : p->n;
    cl_fp_clear();
    cl_test_check(cl_shadow_enable(p->r->real, p->r->shadow) == 0);
    int root = open_dir(p->r->real);
    for (int i = p->from; i <= n; i++) {
        if (i == n && p->fp != NULL) {
            cl_test_check(cl_fp_set(p->fp) == 0);
        }
        if (i == n && p->n < 0) {
            cl_test_check(cl_txn_file_remove(root, TXID, &err) == 0);
        } else {
            cl_test_checkf(write_seq(root, i, i == n ? p->big : 0,
                                     (p->dmask >> i) & 1, &err) == 0,
                           "write %d: %s", i, err.msg);
        }
    }
    raise(SIGKILL);
}

/* Run one child in the shadow run r (joined: earlier children's syncs
 * count); killed.  */
static void power_step(const struct cl_test_shadow_run *r, int from, int n,
                       unsigned dmask, const char *fp, int big)
{
    struct pl p = {r, from, n, dmask, fp, big};
    cl_test_assert_killed_by(cl_test_fork_run(power_child, &p), SIGKILL);
}

/* The state of the durable image of r (built into r->img, once). */
static int power_image(const struct cl_test_shadow_run *r, int *seq)
{
    assert_int_equal(cl_shadow_image(r->shadow, r->img, CL_SHADOW_DURABLE, 0),
                     0);
    int root = open_dir(r->img);
    int rc = read_seq(root, seq, NULL, NULL);
    close(root);
    return rc;
}

static int power_run(void **state, const char *tag, int n, unsigned dmask,
                     const char *fp, int *seq)
{
    struct cl_test_shadow_run r;
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
    power_step(&r, 1, n, dmask, fp, 0);
    return power_image(&r, seq);
}

/* The whole-file path: a new file, and a removed one. */
static void test_txn_slots_power_loss_create(void **state)
{
    int s = -1;
    assert_crawllog_ok(power_run(state, "ok-first", 1, 0, NULL, &s));
    assert_int_equal(s, 1);
    /* No fsync of the file: the renamed name has no content. */
    assert_crawllog_rc(power_run(state, "fsync", 1, 0,
                                 "txn.fsync=SKIP:persist", &s),
                       CRAWLLOG_ECORRUPT);
    /* No directory fsync, no rename, no data directory fsync: no file. */
    assert_crawllog_rc(power_run(state, "dirsync", 1, 0,
                                 "txn.dirsync=SKIP:persist", &s),
                       CRAWLLOG_ENOENT);
    assert_crawllog_rc(power_run(state, "rename", 1, 0,
                                 "txn.rename=SKIP:persist", &s),
                       CRAWLLOG_ENOENT);
    assert_crawllog_rc(power_run(state, "mkdir", 1, 0,
                                 "txn.mkdir.dirsync=SKIP", &s),
                       CRAWLLOG_ENOENT);
    /* A grown file: durable though not asked. */
    struct cl_test_shadow_run r;
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), "grow");
    power_step(&r, 1, 2, 0, NULL, 0);
    power_step(&r, 3, 3, 0, NULL, 2);
    assert_crawllog_ok(power_image(&r, &s));
    assert_int_equal(s, 3);
    /* Remove: no file, or the same state (the unlink's directory fsync
     * is not needed: files are removed once complete). */
    assert_crawllog_rc(power_run(state, "rm", -2, 0, NULL, &s),
                       CRAWLLOG_ENOENT);
    int rc = power_run(state, "rm-skip", -2, 0,
                       "txn.unlink.dirsync=SKIP:persist", &s);
    if (rc != CRAWLLOG_ENOENT) {
        assert_crawllog_ok(rc);
        assert_int_equal(s, 1);
    }
}

#define SEQ_N 12
#define SEQ_DMASK 0x0d32u /* writes 1, 4, 5, 8, 10, 11 durable */

/* The last durable write among 1..n (1: the new file always is). */
static int last_durable(int n)
{
    int d = 1;
    for (int i = 2; i <= n; i++) {
        d = (SEQ_DMASK >> i) & 1 ? i : d;
    }
    return d;
}

/* In place, killed after each write of a mixed sequence: the image holds
 * the last durable state or a newer one; fp: an ablation. */
static int power_sequence(void **state, const char *tag, const char *fp,
                          int *lost)
{
    int newer = 0;
    *lost = 0;
    for (int n = 1; n <= SEQ_N; n++) {
        char t[64];
        int s = -1;
        snprintf(t, sizeof t, "%s%d", tag, n);
        int rc = power_run(state, t, n, SEQ_DMASK, fp, &s);
        if (rc != 0 || s < last_durable(n) || s > n) {
            (*lost)++;
        }
        newer += rc == 0 && s > last_durable(n);
    }
    return newer;
}

static void test_txn_slots_power_loss_in_place(void **state)
{
    int s = -1, lost = 0;
    /* Durable: in the image.  Not durable: the old or the new state. */
    assert_crawllog_ok(power_run(state, "d", 2, 1u << 2, NULL, &s));
    assert_int_equal(s, 2);
    assert_crawllog_ok(power_run(state, "nd", 2, 0, NULL, &s));
    assert_true(s == 1 || s == 2);
    int newer = power_sequence(state, "seq", NULL, &lost);
    assert_int_equal(lost, 0);
    /* A torn slot write of state 3 (killed after 20 or 30 bytes; the
     * first 27 bytes of states 2 and 3 are equal, byte 27, the write
     * word, differs): the image and the file itself (every write kept).
     * 3 durable after 2 durable goes to the other slot: 2 either way.  3
     * after 2 not durable goes over 2: its unchanged 20-byte prefix
     * leaves 2 in the file; 30 bytes tear it and the durable 1 is read
     * (the invariant: the last durable state, never nothing). */
    static const struct {
        unsigned dmask;
        const char *fp;
        int img, file;
    } torn[] = {{1u << 2 | 1u << 3, "txn.slot.write=CRASH(20)", 2, 2},
                {1u << 2 | 1u << 3, "txn.slot.write=CRASH(30)", 2, 2},
                {1u << 3, "txn.slot.write=CRASH(20)", 1, 2},
                {1u << 3, "txn.slot.write=CRASH(30)", 1, 1}};
    for (int i = 0; i < 4; i++) {
        struct cl_test_shadow_run r;
        char tag[16];
        snprintf(tag, sizeof tag, "torn%d", i);
        cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
        power_step(&r, 1, 3, torn[i].dmask, torn[i].fp, 0);
        assert_crawllog_ok(power_image(&r, &s));
        assert_int_equal(s, torn[i].img);
        int root = open_dir(r.real);
        assert_crawllog_ok(read_seq(root, &s, NULL, NULL));
        assert_int_equal(s, torn[i].file);
        close(root);
    }
    /* Ablation: without txn.slot.fdatasync the durable write is lost. */
    assert_crawllog_ok(power_run(state, "nosync", 2, 1u << 2,
                                 "txn.slot.fdatasync=SKIP:persist", &s));
    assert_int_equal(s, 1);
    power_sequence(state, "nosync", "txn.slot.fdatasync=SKIP:persist", &lost);
    assert_true(lost > 0);
    print_message("txn_slots: sequence of %d: %d images newer than the last "
                  "durable write; without txn.slot.fdatasync %d lost\n",
                  SEQ_N, newer, lost);
    /* Without the presync: nothing lost in the shadow model. */
    power_sequence(state, "nopre", "txn.slot.presync=SKIP:persist", &lost);
    assert_int_equal(lost, 0);
}

/* Writeback model: after the crash, each slot's pages are either as
 * synced (the durable image) or as last written (the real file).  Every
 * mix must read as the acknowledged durable state 2 or newer.  Writers:
 * 1 (new), 2 durable; a writer of 3 (durable) killed between its pwrite
 * and its fdatasync; a writer of 4 (not durable) torn (CRASH(30)), with
 * or without the presync.  Returns how many of the 4 mixes lose 2. */
static int writeback_mixes(void **state, const char *tag, const char *pre)
{
    struct cl_test_shadow_run r;
    char path[4096], mixdir[4096];
    size_t dlen = 0, rlen = 0;
    int bad = 0;
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
    power_step(&r, 1, 2, 1u << 2, NULL, 0);
    power_step(&r, 3, 3, 1u << 3, "txn.slot.fdatasync=CRASH", 0);
    char fp[128];
    snprintf(fp, sizeof fp, "txn.slot.write=CRASH(30)%s%s", pre ? ";" : "",
             pre ? pre : "");
    power_step(&r, 4, 4, 0, fp, 0);
    assert_int_equal(cl_shadow_image(r.shadow, r.img, CL_SHADOW_DURABLE, 0),
                     0);
    uint8_t *dur = cl_test_read_file(cl_test_path(path, sizeof path, r.img,
                                                  REL),
                                     &dlen);
    uint8_t *cur = cl_test_read_file(cl_test_path(path, sizeof path, r.real,
                                                  REL),
                                     &rlen);
    assert_int_equal(dlen, 8192);
    assert_int_equal(rlen, 8192);
    uint8_t mix[8192];
    for (int m = 0; m < 4; m++) {
        int s = -1;
        memcpy(mix, m & 1 ? cur : dur, 4096);
        memcpy(mix + 4096, (m & 2 ? cur : dur) + 4096, 4096);
        snprintf(mixdir, sizeof mixdir, "%s/mix%d", r.dir, m);
        assert_int_equal(mkdir(mixdir, 0700), 0);
        cl_test_path(path, sizeof path, mixdir, "transactions");
        assert_int_equal(mkdir(path, 0700), 0);
        cl_test_write_file(cl_test_path(path, sizeof path, mixdir, REL), mix,
                           sizeof mix);
        int root = open_dir(mixdir);
        int rc = read_seq(root, &s, NULL, NULL);
        close(root);
        bad += rc != 0 || s < 2;
    }
    free(dur);
    free(cur);
    return bad;
}

static void test_txn_slots_presync_writeback(void **state)
{
    int with = writeback_mixes(state, "wb", NULL);
    int without = writeback_mixes(state, "wb-nopre",
                                  "txn.slot.presync=SKIP:persist");
    print_message("txn_slots: writeback mixes losing the durable state: %d "
                  "with the presync, %d of 4 without\n",
                  with, without);
    assert_int_equal(with, 0);
    assert_true(without > 0);
}

/* ---------------------------------------------------------------------- */
/* A reader beside a writer                                                */
/* ---------------------------------------------------------------------- */

static struct {
    const char *dir;
    atomic_int started, done, stop; /* writes begun, finished */
    int reads, older;
} rw;

static void *reader_thread(void *arg)
{
    int root = open(rw.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)arg;
    cl_test_thread_check(root >= 0, "open %s", rw.dir);
    while (!atomic_load(&rw.stop)) {
        int before = atomic_load(&rw.done), seq;
        int rc = read_seq(root, &seq, NULL, NULL);
        int after = atomic_load(&rw.started);
        cl_test_thread_check(rc == 0, "read: %s", crawllog_err_name(rc));
        cl_test_thread_check(seq <= after, "read %d, begun %d", seq, after);
        rw.reads++;
        rw.older += seq < before;
    }
    close(root);
    return NULL;
}

static void test_txn_slots_concurrent_reader(void **state)
{
    struct cl_err err = {""};
    pthread_t th;
    int root = open_dir(CL_TEST_DIR(state));
    rw.dir = CL_TEST_DIR(state);
    assert_crawllog_ok(write_seq(root, 0, 0, 1, &err));
    assert_int_equal(pthread_create(&th, NULL, reader_thread, NULL), 0);
    for (int i = 1; i <= 3000; i++) {
        atomic_store(&rw.started, i);
        assert_crawllog_ok(write_seq(root, i, 0, i % 5 == 0, &err));
        atomic_store(&rw.done, i);
    }
    atomic_store(&rw.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("txn_slots: 3000 writes, %d lock-free reads, %d older "
                  "than the write finished before them\n",
                  rw.reads, rw.older);
    assert_true(rw.reads > 0);
    close(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_txn_slots_rule),
        cl_test_unit_fp(test_txn_slots_grow),
        cl_test_unit_fp(test_txn_slots_hostile),
        cl_test_unit_fp(test_txn_slots_power_loss_create),
        cl_test_unit_fp(test_txn_slots_power_loss_in_place),
        cl_test_unit_fp(test_txn_slots_presync_writeback),
        cl_test_unit_fp(test_txn_slots_concurrent_reader),
    };
    return cmocka_run_group_tests_name("txn_slots", tests, NULL, NULL);
}
