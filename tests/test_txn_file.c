/*
 * test_txn_file.c - the transaction state file transactions/<id>
 * (libcrawllog/txn_file.c): round trips of an empty, a typical and a
 * maximal state, the exact bytes of an empty state built by hand, every
 * truncation and every bit flip of a typical file (ECORRUPT naming the
 * file, never a crash or a wrong state), hostile fields under a valid
 * CRC (refused, counts before any allocation: malloc hits counted),
 * writer bounds, names, absent files, listing, failpoints at every site
 * (old or new complete file, no temp left; a torn in-place write puts
 * the old slot back), the exact bytes of a fresh two-slot file and of a
 * not-durable write into slot 1, every torn tail and bit flip of either
 * slot (the other one read; both: ECORRUPT naming both), bad sizes.  The
 * slot rule over many writes, grow, hostile slot lengths and power loss:
 * test_txn_slots.c.
 * Built with -DCRAWLLOG_TESTING.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bytes.h"
#include "crc32c.h"
#include "io.h"
#include "txn_file.h"

#define TXID "app-1.tx"
#define REL "transactions/" TXID

static int open_root(void **state)
{
    int fd = open(CL_TEST_DIR(state), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static char *file_path(void **state, char *buf, size_t size)
{
    return cl_test_path(buf, size, CL_TEST_DIR(state), REL);
}

/* A typical state: 3 partitions, a group with 2 offsets. */
static void typical(struct cl_txn_state *st)
{
    cl_txn_state_init(st);
    st->producer_id = 0x123456789abcLL;
    st->epoch = 7;
    st->status = CL_TXN_ONGOING;
    st->txn_seq = 42;
    st->start_ms = 1764000000000LL;
    assert_crawllog_ok(cl_txn_state_add_part(st, "crawl.results", 0, 100));
    assert_crawllog_ok(cl_txn_state_add_part(st, "crawl.results", 3, 0));
    assert_crawllog_ok(cl_txn_state_add_part(st, "links", 9999, 77));
    strcpy(st->group, "crawlers");
    st->generation = 5;
    strcpy(st->member, "consumer-3-1a2b");
    assert_crawllog_ok(cl_txn_state_add_offset(st, "crawl.jobs", 1, 500, "m"));
    assert_crawllog_ok(cl_txn_state_add_offset(st, "crawl.jobs", 2, 0, NULL));
}

static void expect_equal(const struct cl_txn_state *a,
                         const struct cl_txn_state *b)
{
    assert_true(a->producer_id == b->producer_id);
    assert_int_equal(a->epoch, b->epoch);
    assert_int_equal(a->status, b->status);
    assert_true(a->txn_seq == b->txn_seq);
    assert_true(a->start_ms == b->start_ms);
    if (b->wcount != 0) { /* the write word, when the test knows it */
        assert_int_equal(a->wcount, b->wcount);
        assert_int_equal(a->durable, b->durable);
    }
    assert_int_equal(a->nparts, b->nparts);
    for (size_t i = 0; i < a->nparts; i++) {
        assert_string_equal(a->parts[i].topic, b->parts[i].topic);
        assert_int_equal(a->parts[i].partition, b->parts[i].partition);
        assert_true(a->parts[i].first_offset == b->parts[i].first_offset);
    }
    assert_string_equal(a->group, b->group);
    assert_int_equal(a->generation, b->generation);
    assert_string_equal(a->member, b->member);
    assert_int_equal(a->noffsets, b->noffsets);
    for (size_t i = 0; i < a->noffsets; i++) {
        const struct cl_txn_offset *x = &a->offsets[i], *y = &b->offsets[i];
        assert_string_equal(x->topic, y->topic);
        assert_int_equal(x->partition, y->partition);
        assert_true(x->offset == y->offset);
        assert_string_equal(x->metadata ? x->metadata : "",
                            y->metadata ? y->metadata : "");
    }
}

/* Read TXID, expect rc; on success compare with want. */
static void expect_read(int root, int rc, const struct cl_txn_state *want)
{
    struct cl_err err = {""};
    struct cl_txn_state got;
    assert_crawllog_rc(cl_txn_file_read(root, TXID, &got, &err), rc);
    if (rc == 0) {
        expect_equal(&got, want);
    } else {
        assert_int_equal(got.nparts, 0);
        assert_int_equal(got.noffsets, 0);
        if (rc == CRAWLLOG_ECORRUPT) {
            assert_non_null(strstr(err.msg, REL));
        }
    }
    cl_txn_state_free(&got);
}

/* ---------------------------------------------------------------------- */
/* Round trips                                                             */
/* ---------------------------------------------------------------------- */

static void test_txn_file_empty_bytes(void **state)
{
    struct cl_err err = {""};
    struct cl_txn_state st;
    uint8_t want[8192] = "CLTXNSTA";
    char path[4096];
    size_t len = 0;
    int root = open_root(state);

    cl_txn_state_init(&st);
    st.producer_id = 5;
    st.epoch = 1;
    st.wcount = 99; /* ignored by the writer */
    assert_crawllog_ok(
        cl_txn_file_write(root, TXID, &st, 0, 0600, 0700, &err));
    /* Built by hand: slot 0 = header, empty group and member, CRC; the
     * write word 0x81 (counter 1, durable: a new file always is); slot 1
     * zeros. */
    cl_put_u32(want + 8, 2);
    cl_put_u32(want + 12, 66);
    cl_put_u64(want + 16, 5);
    cl_put_u16(want + 24, 1);
    want[27] = 0x81;
    cl_put_u64(want + 40, UINT64_MAX); /* start -1 */
    cl_put_u32(want + 52, UINT32_MAX); /* generation -1 */
    cl_put_u32(want + 56, 60000);      /* timeout */
    cl_put_u32(want + 62, cl_crc32c(0, want, 62));
    uint8_t *bytes = cl_test_read_file(file_path(state, path, sizeof path),
                                       &len);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(bytes, want, sizeof want);
    free(bytes);
    st.wcount = 1;
    st.durable = 1;
    expect_read(root, 0, &st);
    /* Not durable: slot 1, write word 0x02; slot 0 untouched. */
    st.txn_seq = 1;
    assert_crawllog_ok(
        cl_txn_file_write(root, TXID, &st, 0, 0600, 0700, &err));
    bytes = cl_test_read_file(path, &len);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(bytes, want, 4096);
    cl_put_u64(want + 32, 1);
    want[27] = 0x02;
    cl_put_u32(want + 62, cl_crc32c(0, want, 62));
    assert_memory_equal(bytes + 4096, want, 66);
    assert_memory_equal(bytes + 4096 + 66, want + 66, 4096 - 66);
    free(bytes);
    st.wcount = 2;
    st.durable = 0;
    expect_read(root, 0, &st);
    /* transactions/ holds the file only (no temp). */
    cl_test_path(path, sizeof path, CL_TEST_DIR(state), "transactions");
    assert_int_equal(cl_test_count_entries(path), 1);
    close(root);
}

static void test_txn_file_typical_round_trip(void **state)
{
    struct cl_err err = {""};
    struct cl_txn_state st, st2;
    int root = open_root(state);

    typical(&st);
    for (int s = CL_TXN_EMPTY; s <= CL_TXN_COMPLETE_ABORT; s++) {
        st.status = (enum cl_txn_status)s;
        st.txn_seq++;
        assert_crawllog_ok(
            cl_txn_file_write(root, TXID, &st, 1, 0600, 0700, &err));
        expect_read(root, 0, &st);
    }
    /* Replace with another state; list; remove. */
    cl_txn_state_init(&st2);
    st2.producer_id = 9;
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &st2, 1, 0600, 0700, &err));
    expect_read(root, 0, &st2);
    assert_crawllog_ok(cl_txn_file_write(root, "b", &st, 1, 0600, 0700, &err));
    char **names = NULL;
    size_t n = 0;
    assert_crawllog_ok(cl_txn_file_list(root, &names, &n, &err));
    assert_int_equal(n, 2);
    assert_string_equal(names[0], TXID);
    assert_string_equal(names[1], "b");
    cl_io_listdir_free(names, n);
    assert_crawllog_ok(cl_txn_file_remove(root, TXID, &err));
    expect_read(root, CRAWLLOG_ENOENT, NULL);
    assert_crawllog_rc(cl_txn_file_remove(root, TXID, &err), CRAWLLOG_ENOENT);
    cl_txn_state_free(&st);
    cl_txn_state_free(&st2);
    close(root);
}

static void longname(char *out, size_t n, int i)
{
    memset(out, 'a' + i % 26, n);
    snprintf(out, n, "%d", i);
    out[strlen(out)] = 'x';
    out[n] = '\0';
}

/* 100,000 partitions and offsets, 249-byte names, 4095-byte metadata,
 * 255-byte member id: ~63 MB. Over 64 MiB: refused. */
static void test_txn_file_maximal_round_trip(void **state)
{
    struct cl_err err = {""};
    struct cl_txn_state st;
    char name[CL_TXN_NAME_MAX + 1], *meta = malloc(CL_TXN_META_MAX + 1);
    int root = open_root(state);

    assert_non_null(meta);
    memset(meta, 'M', CL_TXN_META_MAX);
    meta[CL_TXN_META_MAX] = '\0';
    cl_txn_state_init(&st);
    st.producer_id = INT64_MAX;
    st.epoch = INT16_MAX;
    st.status = CL_TXN_PREPARE_COMMIT;
    st.txn_seq = UINT64_MAX;
    st.start_ms = INT64_MAX;
    for (int i = 0; i < (int)CL_TXN_PARTS_MAX; i++) {
        longname(name, CL_TXN_NAME_MAX, i);
        assert_crawllog_ok(
            cl_txn_state_add_part(&st, name, i % 10000, INT64_MAX - i));
        assert_crawllog_ok(cl_txn_state_add_offset(&st, name, 9999 - i % 10000,
                                                   i, i < 2500 ? meta : ""));
    }
    assert_crawllog_rc(cl_txn_state_add_part(&st, "x", 0, 0), CRAWLLOG_EINVAL);
    assert_crawllog_rc(cl_txn_state_add_offset(&st, "x", 0, 0, ""),
                       CRAWLLOG_EINVAL);
    memset(st.group, 'g', CL_TXN_NAME_MAX);
    st.generation = INT32_MAX;
    memset(st.member, '~', CL_TXN_MEMBER_MAX);
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &st, 1, 0600, 0700, &err));
    expect_read(root, 0, &st);
    /* More metadata: over 64 MiB, refused, the file stays. */
    for (size_t i = 2500; i < 5000; i++) {
        cl_io_free(st.offsets[i].metadata);
        st.offsets[i].metadata = cl_io_strdup(meta);
        assert_non_null(st.offsets[i].metadata);
    }
    assert_crawllog_rc(cl_txn_file_write(root, TXID, &st, 1, 0600, 0700, &err),
                       CRAWLLOG_EINVAL);
    cl_txn_state_free(&st);
    free(meta);
    close(root);
}

/* ---------------------------------------------------------------------- */
/* Damage                                                                  */
/* ---------------------------------------------------------------------- */

/* Slot 0 the typical state (durable), slot 1 a newer one (not durable):
 * every torn tail (bytes [cut, L) complemented) and every bit flip of
 * one slot leaves the other; both damaged: ECORRUPT naming both slots;
 * every wrong file size: ECORRUPT. */
static void test_txn_file_every_truncation_and_flip(void **state)
{
    static const unsigned char masks[] = {0x01, 0x02, 0x04, 0x08, 0x10,
                                          0x20, 0x40, 0x80, 0xff};
    static const off_t sizes[] = {0, 1, 66, 4096, 8191, 8193, 12288, 16385};
    struct cl_err err = {""};
    struct cl_txn_state st[2];
    char path[4096];
    size_t len = 0, n = 0;
    int root = open_root(state);

    typical(&st[0]);
    typical(&st[1]);
    st[1].txn_seq = 43;
    st[1].status = CL_TXN_PREPARE_COMMIT;
    assert_crawllog_ok(
        cl_txn_file_write(root, TXID, &st[0], 1, 0600, 0700, &err));
    assert_crawllog_ok(
        cl_txn_file_write(root, TXID, &st[1], 0, 0600, 0700, &err));
    st[0].wcount = 1;
    st[0].durable = 1;
    st[1].wcount = 2;
    uint8_t *orig = cl_test_read_file(file_path(state, path, sizeof path),
                                      &len);
    uint8_t *buf = malloc(len);
    assert_int_equal(len, 8192);
    assert_non_null(buf);
    for (int k = 0; k < 2; k++) {
        uint8_t *slot = buf + k * 4096;
        size_t l = cl_get_u32(orig + k * 4096 + 12);
        assert_true(l > 66 && l < 4096);
        for (size_t cut = 0; cut < l; cut++) {
            memcpy(buf, orig, len);
            for (size_t i = cut; i < l; i++) {
                slot[i] = (uint8_t)~slot[i];
            }
            cl_test_write_file(path, buf, len);
            expect_read(root, 0, &st[1 - k]);
            n++;
        }
        for (size_t i = 0; i < l; i++) {
            for (size_t m = 0; m < sizeof masks; m++) {
                memcpy(buf, orig, len);
                slot[i] ^= masks[m];
                cl_test_write_file(path, buf, len);
                expect_read(root, 0, &st[1 - k]);
                n++;
            }
        }
    }
    /* Both slots damaged (the same byte of each): ECORRUPT, both named. */
    for (size_t i = 0; i < 80; i++) {
        struct cl_txn_state got;
        memcpy(buf, orig, len);
        buf[i] ^= 0x10;
        buf[4096 + i] ^= 0x10;
        cl_test_write_file(path, buf, len);
        assert_crawllog_rc(cl_txn_file_read(root, TXID, &got, &err),
                           CRAWLLOG_ECORRUPT);
        cl_txn_state_free(&got);
        assert_non_null(strstr(err.msg, REL ": slot 0: byte "));
        assert_non_null(strstr(err.msg, "; slot 1: byte "));
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        cl_test_write_file(path, orig, len);
        cl_test_truncate(path, sizes[i]);
        expect_read(root, CRAWLLOG_ECORRUPT, NULL);
    }
    cl_test_write_file(path, orig, len);
    expect_read(root, 0, &st[1]);
    print_message("txn_file: %zu torn tails and flips of one slot: the "
                  "other read\n", n);
    free(buf);
    free(orig);
    cl_txn_state_free(&st[0]);
    cl_txn_state_free(&st[1]);
    close(root);
}

/* Patch one field of an encoded typical state, fix the CRC (and the
 * length field when grow > 0 bytes are appended before the CRC). */
struct hostile {
    const char *what;
    size_t off; /* (size_t)-1: append grow bytes instead */
    uint64_t val;
    int width; /* 1, 2, 4, 8 */
    int rc;
    int noalloc; /* refused before any allocation */
};

static void test_txn_file_hostile_fields(void **state)
{
    struct cl_err err = {""};
    struct cl_txn_state st, out;
    uint8_t *enc = NULL;
    size_t len = 0;
    (void)state;
    typical(&st);
    assert_crawllog_ok(cl_txn_encode(&st, &enc, &len, &err));
    /* Offsets inside the typical encoding. */
    size_t p0 = CL_TXN_HDR_SIZE;                 /* first partition entry */
    size_t p0part = p0 + 1 + strlen("crawl.results");
    size_t g = p0 + 3 * 13 + 2 * strlen("crawl.results") + strlen("links");
    size_t m = g + 1 + strlen("crawlers");
    size_t o0 = m + 1 + strlen("consumer-3-1a2b");
    size_t o0part = o0 + 1 + strlen("crawl.jobs");
    assert_int_equal(enc[g], strlen("crawlers"));
    assert_int_equal(cl_get_u16(enc + o0part + 12), 1);
    const struct hostile cases[] = {
        {"version 1", 8, 1, 4, CRAWLLOG_EVERSION, 1},
        {"version 3", 8, 3, 4, CRAWLLOG_EVERSION, 1},
        {"pid < 0", 16, UINT64_MAX, 8, CRAWLLOG_ECORRUPT, 1},
        {"epoch < 0", 24, 0x8000, 2, CRAWLLOG_ECORRUPT, 1},
        {"state 6", 26, 6, 1, CRAWLLOG_ECORRUPT, 1},
        {"state 255", 26, 255, 1, CRAWLLOG_ECORRUPT, 1},
        {"write word 0xff", 27, 0xff, 1, CRAWLLOG_OK, 0},
        {"parts 2^32-1", 28, UINT32_MAX, 4, CRAWLLOG_ECORRUPT, 1},
        {"parts 100001", 28, 100001, 4, CRAWLLOG_ECORRUPT, 1},
        {"parts 99999", 28, 99999, 4, CRAWLLOG_ECORRUPT, 1},
        {"parts 4", 28, 4, 4, CRAWLLOG_ECORRUPT, 0},
        {"parts 2", 28, 2, 4, CRAWLLOG_ECORRUPT, 0},
        {"start -2", 40, (uint64_t)-2, 8, CRAWLLOG_ECORRUPT, 1},
        {"offsets 2^32-1", 48, UINT32_MAX, 4, CRAWLLOG_ECORRUPT, 1},
        {"offsets 100000", 48, 100000, 4, CRAWLLOG_ECORRUPT, 1},
        {"offsets 3", 48, 3, 4, CRAWLLOG_ECORRUPT, 0},
        {"offsets 1", 48, 1, 4, CRAWLLOG_ECORRUPT, 0},
        {"topic len 0", p0, 0, 1, CRAWLLOG_ECORRUPT, 0},
        {"topic len 250", p0, 250, 1, CRAWLLOG_ECORRUPT, 0},
        {"topic len 255", p0, 255, 1, CRAWLLOG_ECORRUPT, 0},
        {"topic '/'", p0 + 3, '/', 1, CRAWLLOG_ECORRUPT, 0},
        {"topic NUL", p0 + 3, 0, 1, CRAWLLOG_ECORRUPT, 0},
        {"partition -1", p0part, UINT32_MAX, 4, CRAWLLOG_ECORRUPT, 0},
        {"partition 10000", p0part, 10000, 4, CRAWLLOG_ECORRUPT, 0},
        {"first offset < 0", p0part + 4, UINT64_MAX, 8, CRAWLLOG_ECORRUPT, 0},
        {"group len 250", g, 250, 1, CRAWLLOG_ECORRUPT, 0},
        {"group '..'", g + 1, '.', 1, CRAWLLOG_OK, 0}, /* ".rawlers" is fine */
        {"group ' '", g + 1, ' ', 1, CRAWLLOG_ECORRUPT, 0},
        {"member ctl", m + 1, 0x07, 1, CRAWLLOG_ECORRUPT, 0},
        {"member 0x7f", m + 1, 0x7f, 1, CRAWLLOG_ECORRUPT, 0},
        {"member len 255", m, 255, 1, CRAWLLOG_ECORRUPT, 0},
        {"offset < 0", o0part + 4, UINT64_MAX, 8, CRAWLLOG_ECORRUPT, 0},
        {"meta len 4096", o0part + 12, 4096, 2, CRAWLLOG_ECORRUPT, 0},
        {"meta len 65535", o0part + 12, 65535, 2, CRAWLLOG_ECORRUPT, 0},
        {"meta NUL", o0part + 14, 0, 1, CRAWLLOG_ECORRUPT, 0},
        {"trailing byte", (size_t)-1, 0, 1, CRAWLLOG_ECORRUPT, 0},
    };
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct hostile *h = &cases[i];
        size_t n = len;
        memcpy(buf, enc, len);
        if (h->off == (size_t)-1) {
            memmove(buf + len - 3, buf + len - 4, 4);
            buf[len - 4] = 0;
            n = len + 1;
            cl_put_u32(buf + 12, (uint32_t)n);
        } else if (h->width == 1) {
            buf[h->off] = (uint8_t)h->val;
        } else if (h->width == 2) {
            cl_put_u16(buf + h->off, (uint16_t)h->val);
        } else if (h->width == 4) {
            cl_put_u32(buf + h->off, (uint32_t)h->val);
        } else {
            cl_put_u64(buf + h->off, h->val);
        }
        cl_put_u32(buf + n - 4, cl_crc32c(0, buf, n - 4));
        cl_fp_clear();
        int rc = cl_txn_decode(buf, n, REL, &out, &err);
        uint64_t mallocs = cl_fp_hits("malloc");
        if (rc != h->rc) {
            fail_msg("%s: rc %d, want %d (%s)", h->what, rc, h->rc, err.msg);
        }
        if (rc == CRAWLLOG_ECORRUPT) {
            assert_non_null(strstr(err.msg, REL));
            assert_non_null(strstr(err.msg, "byte "));
            assert_int_equal(out.nparts + out.noffsets, 0);
        }
        /* Bad header fields and counts that cannot fit in the file:
         * refused before any allocation (smaller wrong counts allocate
         * at most what the file's bytes can hold). */
        if (h->off == 27) { /* the write word: counter 127, durable */
            assert_int_equal(out.wcount, 127);
            assert_int_equal(out.durable, 1);
        }
        if (h->off == 28 && h->noalloc) { /* names the field */
            assert_non_null(strstr(err.msg, "byte 28: partition count"));
        }
        if (h->noalloc && mallocs != 0) {
            fail_msg("%s: %llu allocations before refusing", h->what,
                     (unsigned long long)mallocs);
        }
        cl_txn_state_free(&out);
    }
    free(buf);
    cl_io_free(enc);
    cl_txn_state_free(&st);
}

/* A file claiming the largest counts, under a valid CRC and just big
 * enough for their minimal entries except for one byte: refused, and
 * no allocation at all. */
static void test_txn_file_hostile_counts_no_alloc(void **state)
{
    struct cl_err err = {""};
    struct cl_txn_state out;
    size_t len = CL_TXN_HDR_SIZE + 2 + 4 + 100000 * 14 + 100000 * 16 - 1;
    uint8_t *buf = calloc(1, len);
    (void)state;
    assert_non_null(buf);
    memcpy(buf, CL_TXN_MAGIC, 8);
    cl_put_u32(buf + 8, CL_TXN_VERSION);
    cl_put_u32(buf + 12, (uint32_t)len);
    cl_put_u32(buf + 28, 100000);
    cl_put_u32(buf + 48, 100000);
    cl_put_u32(buf + 52, UINT32_MAX);
    cl_put_u32(buf + 56, 60000); /* timeout */
    cl_put_u32(buf + len - 4, cl_crc32c(0, buf, len - 4));
    cl_fp_clear();
    assert_crawllog_rc(cl_txn_decode(buf, len, REL, &out, &err),
                       CRAWLLOG_ECORRUPT);
    assert_int_equal(cl_fp_hits("malloc"), 0);
    assert_non_null(strstr(err.msg, "offset count"));
    cl_txn_state_free(&out);
    free(buf);
}

/* ---------------------------------------------------------------------- */
/* Names, absent files, odd entries                                        */
/* ---------------------------------------------------------------------- */

static void test_txn_file_names_and_absence(void **state)
{
    struct cl_err err = {""};
    struct cl_txn_state st;
    char path[4096], **names = NULL;
    size_t n = 7;
    int root = open_root(state);
    static const char *const badids[] = {"", ".", "..", "a/b", "~tmp.1.0",
                                         "a b", NULL};

    expect_read(root, CRAWLLOG_ENOENT, NULL); /* no transactions/ */
    assert_crawllog_ok(cl_txn_file_list(root, &names, &n, &err));
    assert_int_equal(n, 0);
    assert_null(names);
    assert_crawllog_rc(cl_txn_file_remove(root, TXID, &err), CRAWLLOG_ENOENT);
    cl_txn_state_init(&st);
    for (size_t i = 0; i < sizeof badids / sizeof badids[0]; i++) {
        struct cl_txn_state o;
        assert_int_equal(cl_txn_id_valid(badids[i]), 0);
        assert_crawllog_rc(
            cl_txn_file_write(root, badids[i], &st, 1, 0600, 0700, &err),
            CRAWLLOG_EINVAL);
        assert_crawllog_rc(cl_txn_file_read(root, badids[i], &o, &err),
                           CRAWLLOG_EINVAL);
        assert_crawllog_rc(cl_txn_file_remove(root, badids[i], &err),
                           CRAWLLOG_EINVAL);
    }
    /* Invalid in-memory states are refused by the writer. */
    st.status = (enum cl_txn_status)6;
    assert_crawllog_rc(cl_txn_file_write(root, TXID, &st, 1, 0600, 0700, &err),
                       CRAWLLOG_EINVAL);
    cl_txn_state_init(&st);
    strcpy(st.member, "m"); /* member without a group */
    assert_crawllog_rc(cl_txn_file_write(root, TXID, &st, 1, 0600, 0700, &err),
                       CRAWLLOG_EINVAL);
    cl_txn_state_init(&st);
    assert_crawllog_rc(cl_txn_state_add_part(&st, "a/b", 0, 0),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(cl_txn_state_add_part(&st, "t", 10000, 0),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(cl_txn_state_add_part(&st, "t", 0, -1),
                       CRAWLLOG_EINVAL);
    expect_read(root, CRAWLLOG_ENOENT, NULL); /* nothing written */
    /* The listing skips temp files and strangers. */
    assert_crawllog_ok(cl_txn_file_write(root, "z", &st, 1, 0600, 0700, &err));
    cl_test_path(path, sizeof path, CL_TEST_DIR(state),
                 "transactions/~tmp.1.0");
    cl_test_write_file(path, "x", 1);
    cl_test_path(path, sizeof path, CL_TEST_DIR(state), "transactions/a b");
    cl_test_write_file(path, "x", 1);
    assert_crawllog_ok(cl_txn_file_list(root, &names, &n, &err));
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "z");
    cl_io_listdir_free(names, n);
    /* A symlink, a directory, a FIFO at the name. */
    assert_int_equal(symlink("z", file_path(state, path, sizeof path)), 0);
    expect_read(root, CRAWLLOG_ELOOP, NULL);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    expect_read(root, CRAWLLOG_ECORRUPT, NULL);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_read(root, CRAWLLOG_ECORRUPT, NULL);
    assert_int_equal(unlink(path), 0);
    cl_txn_state_free(&st);
    close(root);
}

/* ---------------------------------------------------------------------- */
/* Failpoints                                                              */
/* ---------------------------------------------------------------------- */

/* Every write site fails once (EIO, ENOSPC, SHORT(5)): the code, the
 * file name in the message, no temp file, and the state read afterwards:
 * the old one, or the new one after a failed final sync (the new bytes
 * are in place, maybe not durable).  Whole-file sites: the file is made
 * anew (the state does not exist); in-place sites: old state written by
 * a fresh file first, so that the presync is reached. */
static void test_txn_file_failpoint_each_site(void **state)
{
    static const struct {
        const char *site;
        int create, after; /* after: the new state is read afterwards */
    } sites[] = {{"txn.dir.open", 1, 0},   {"txn.open", 1, 0},
                 {"txn.write", 1, 0},      {"txn.fsync", 1, 0},
                 {"txn.rename", 1, 0},     {"txn.dirsync", 1, 1},
                 {"txn.dir.open", 0, 0},   {"txn.slot.open", 0, 0},
                 {"txn.slot.read", 0, 0},  {"txn.slot.presync", 0, 0},
                 {"txn.slot.write", 0, 0}, {"txn.slot.fdatasync", 0, 1}};
    static const char *const kinds[] = {"EIO", "ENOSPC", "SHORT(5)"};
    struct cl_err err = {""};
    struct cl_txn_state oldst, newst;
    char dir[4096];
    int root = open_root(state);

    cl_test_path(dir, sizeof dir, CL_TEST_DIR(state), "transactions");
    cl_txn_state_init(&oldst);
    oldst.status = CL_TXN_ONGOING;
    typical(&newst);
    newst.status = CL_TXN_PREPARE_COMMIT;
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &oldst, 1, 0600, 0700,
                                         &err)); /* makes transactions/ */
    for (size_t s = 0; s < sizeof sites / sizeof sites[0]; s++) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            char spec[64];
            (void)cl_txn_file_remove(root, TXID, &err);
            if (!sites[s].create) {
                assert_crawllog_ok(cl_txn_file_write(root, TXID, &oldst, 1,
                                                     0600, 0700, &err));
            }
            snprintf(spec, sizeof spec, "%s=%s", sites[s].site, kinds[k]);
            cl_fp_clear();
            assert_int_equal(cl_fp_set(spec), 0);
            int rc = cl_txn_file_write(root, TXID, &newst, 1, 0600, 0700,
                                       &err);
            assert_true(cl_fp_hits(sites[s].site) >= 1);
            cl_fp_clear();
            if (rc != CRAWLLOG_EIO && rc != CRAWLLOG_ENOSPC) {
                fail_msg("%s: %s", spec, crawllog_err_name(rc));
            }
            assert_true(strstr(err.msg, REL) != NULL ||
                        strstr(err.msg, "transactions") != NULL);
            assert_int_equal(cl_test_count_entries(dir),
                             sites[s].create && !sites[s].after ? 0 : 1);
            if (sites[s].create && !sites[s].after) {
                expect_read(root, CRAWLLOG_ENOENT, NULL);
            } else {
                expect_read(root, 0, sites[s].after ? &newst : &oldst);
            }
        }
    }
    /* A torn write over a not-durable newest slot puts its old bytes
     * back: the state before the call is read, not the durable one. */
    cl_fp_clear(); /* newest: newst, its fdatasync failed: presync */
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &oldst, 1, 0600, 0700,
                                         &err));
    assert_int_equal(cl_fp_hits("txn.slot.presync"), 1);
    oldst.txn_seq = 7; /* newest: synced by this process: no presync */
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &oldst, 0, 0600, 0700,
                                         &err));
    assert_int_equal(cl_fp_hits("txn.slot.presync"), 1);
    assert_int_equal(cl_fp_hits("txn.slot.fdatasync"), 1);
    cl_fp_clear();
    assert_int_equal(cl_fp_set("txn.slot.write=SHORT(30)"), 0);
    assert_crawllog_rc(cl_txn_file_write(root, TXID, &newst, 1, 0600, 0700,
                                         &err), CRAWLLOG_ENOSPC);
    assert_int_equal(cl_fp_hits("txn.slot.write"), 2);
    cl_fp_clear();
    expect_read(root, 0, &oldst);
    /* The repair fails too: the durable state of the other slot. */
    assert_int_equal(
        cl_fp_set("txn.slot.write=SHORT(30);txn.slot.write=EIO@2"), 0);
    assert_crawllog_rc(cl_txn_file_write(root, TXID, &newst, 1, 0600, 0700,
                                         &err), CRAWLLOG_ENOSPC);
    cl_fp_clear();
    oldst.txn_seq = 0;
    expect_read(root, 0, &oldst);
    /* Reading: the four reads of the file (open, fstat, two slots). */
    for (int k = 1; k <= 4; k++) {
        char spec[64];
        snprintf(spec, sizeof spec, "txn.read=EIO@%d", k);
        assert_int_equal(cl_fp_set(spec), 0);
        expect_read(root, CRAWLLOG_EIO, NULL);
        cl_fp_clear();
    }
    /* Creating transactions/ on a fresh root: mkdir and its fsync. */
    assert_crawllog_ok(cl_txn_file_remove(root, TXID, &err));
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(cl_fp_set("txn.mkdir=ENOSPC"), 0);
    assert_crawllog_rc(cl_txn_file_write(root, TXID, &newst, 1, 0600, 0700, &err),
                       CRAWLLOG_ENOSPC);
    cl_fp_clear();
    assert_int_equal(cl_test_exists(dir), 0);
    assert_int_equal(cl_fp_set("txn.mkdir.dirsync=EIO"), 0);
    assert_crawllog_rc(cl_txn_file_write(root, TXID, &newst, 1, 0600, 0700, &err),
                       CRAWLLOG_EIO);
    cl_fp_clear();
    expect_read(root, CRAWLLOG_ENOENT, NULL);
    /* The retry (directory there already) succeeds. */
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &newst, 1, 0600, 0700, &err));
    /* A taken temp name is retried with the next counter. */
    assert_crawllog_ok(cl_txn_file_remove(root, TXID, &err));
    cl_fp_clear();
    assert_int_equal(cl_fp_set("txn.open=EEXIST@1"), 0);
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &oldst, 1, 0600, 0700, &err));
    assert_int_equal(cl_fp_hits("txn.open"), 2);
    cl_fp_clear();
    expect_read(root, 0, &oldst);
    /* Remove and list. */
    assert_int_equal(cl_fp_set("txn.unlink=EIO"), 0);
    assert_crawllog_rc(cl_txn_file_remove(root, TXID, &err), CRAWLLOG_EIO);
    cl_fp_clear();
    expect_read(root, 0, &oldst);
    assert_int_equal(cl_fp_set("txn.list=EIO"), 0);
    char **names = NULL;
    size_t n = 0;
    assert_crawllog_rc(cl_txn_file_list(root, &names, &n, &err),
                       CRAWLLOG_EIO);
    cl_fp_clear();
    assert_int_equal(cl_fp_set("txn.unlink.dirsync=EIO"), 0);
    assert_crawllog_rc(cl_txn_file_remove(root, TXID, &err), CRAWLLOG_EIO);
    cl_fp_clear();
    expect_read(root, CRAWLLOG_ENOENT, NULL);
    cl_txn_state_free(&oldst);
    cl_txn_state_free(&newst);
    close(root);
}

/* ---------------------------------------------------------------------- */
/* Clean-up of dead writers' temp files                                    */
/* ---------------------------------------------------------------------- */

/* Child: a writer of the typical state killed at the armed failpoint. */
static void killed_writer(void *arg)
{
    struct cl_err err = {""};
    struct cl_txn_state st;
    int root = open((const char *)((void **)arg)[0],
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    typical(&st);
    cl_fp_clear();
    cl_test_check(root >= 0 && cl_fp_set(((void **)arg)[1]) == 0);
    (void)cl_txn_file_write(root, "k", &st, 1, 0600, 0700, &err); /* new */
    cl_test_checkf(0, "the writer was not killed");
}

static int live_pipe[2] = {-1, -1};

/* Child: alive until the parent closes the pipe. */
static void live_child(void *arg)
{
    char c;
    (void)arg;
    close(live_pipe[1]);
    while (read(live_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
}

/* Plant an empty file transactions/<name>. */
static void plant(void **state, const char *name)
{
    char rel[300], path[4096];
    snprintf(rel, sizeof rel, "transactions/%s", name);
    cl_test_write_file(cl_test_path(path, sizeof path, CL_TEST_DIR(state),
                                    rel), "", 0);
}

static int present(void **state, const char *name)
{
    char rel[300], path[4096];
    snprintf(rel, sizeof rel, "transactions/%s", name);
    return cl_test_exists(cl_test_path(path, sizeof path, CL_TEST_DIR(state),
                                       rel));
}

/* The names in transactions/ that begin with "~tmp.<pid>.". */
static size_t count_temps_of(void **state, long pid)
{
    char dir[4096], prefix[64], **names = NULL;
    size_t n = 0, t = 0;
    snprintf(prefix, sizeof prefix, "~tmp.%ld.", pid);
    int fd = open(cl_test_path(dir, sizeof dir, CL_TEST_DIR(state),
                               "transactions"),
                  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(cl_io_listdir("t.list", fd, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        t += strncmp(names[i], prefix, strlen(prefix)) == 0;
    }
    cl_io_listdir_free(names, n);
    close(fd);
    return t;
}

static void test_txn_file_cleanup(void **state)
{
    struct cl_err err = {""};
    struct cl_txn_state st;
    char dir[4096], name[64];
    int root = open_root(state);
    long dead = cl_test_dead_pid(), self = (long)getpid();
    static const char *const specs[] = {"txn.write=CRASH(10)",
                                        "txn.fsync=CRASH",
                                        "txn.rename=CRASH"};
    long killed[3];

    /* No transactions/: nothing to do, and it is not made. */
    assert_crawllog_ok(cl_txn_file_cleanup(root, &err));
    cl_test_path(dir, sizeof dir, CL_TEST_DIR(state), "transactions");
    assert_int_equal(cl_test_exists(dir), 0);
    cl_txn_state_init(&st);
    st.status = CL_TXN_ONGOING;
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &st, 1, 0600, 0700, &err));
    /* Writers killed after making their temp file (torn, whole, before
     * the rename) leave it behind. */
    for (size_t i = 0; i < 3; i++) {
        void *arg[2] = {(void *)CL_TEST_DIR(state), (void *)specs[i]};
        int ws;
        pid_t pid = cl_test_fork_start(killed_writer, arg);
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        cl_test_assert_killed_by(ws, SIGKILL);
        killed[i] = (long)pid;
        assert_int_equal(count_temps_of(state, killed[i]), 1);
    }
    /* A live child's and our own temp files; names that only look like
     * temp files of the dead process. */
    assert_int_equal(pipe(live_pipe), 0);
    pid_t live = cl_test_fork_start(live_child, NULL);
    close(live_pipe[0]);
    snprintf(name, sizeof name, "~tmp.%ld.5", (long)live);
    plant(state, name);
    snprintf(name, sizeof name, "~tmp.%ld.0", self);
    plant(state, name);
    static const char *const fmts[] = {
        "~tmp.%ld",     "~tmp.%ld.",      "~tmp.%ld.0x",   "~tmp.%ldx.0",
        "~tmp.0%ld.0",  "~tmp.+%ld.0",    "~tmp.%ld.0.1",  "~tmp.%ld.-1",
        "~tmpx%ld.0",   "tmp.%ld.0",      "x~tmp.%ld.0",   "~TMP.%ld.0",
        "~tmp.%ld0000000000.0", "~tmp.%ld.123456789012345678901",
        "~tmp.-%ld.0",  "%ld",            "~tmp..%ld"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(name, sizeof name, fmts[i], dead);
        plant(state, name);
    }
    plant(state, "~tmp.0.0");
    plant(state, "~tmp.");
    /* A dead pid's temp file planted by hand goes too. */
    snprintf(name, sizeof name, "~tmp.%ld.12345678901234567890", dead);
    plant(state, name);
    size_t before = cl_test_count_entries(dir);
    assert_int_equal(before, 1 + 3 + 2 + sizeof fmts / sizeof fmts[0] + 3);

    assert_crawllog_ok(cl_txn_file_cleanup(root, &err));
    assert_int_equal(cl_test_count_entries(dir), before - 4);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(count_temps_of(state, killed[i]), 0);
    }
    assert_int_equal(present(state, name), 0);
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(name, sizeof name, fmts[i], dead);
        assert_int_equal(present(state, name), 1);
    }
    assert_int_equal(count_temps_of(state, (long)live), 1);
    assert_int_equal(count_temps_of(state, self), 1);
    expect_read(root, 0, &st);
    /* Idempotent; once the child is gone, its file goes too. */
    assert_crawllog_ok(cl_txn_file_cleanup(root, &err));
    assert_int_equal(cl_test_count_entries(dir), before - 4);
    close(live_pipe[1]);
    int ws;
    assert_int_equal(waitpid(live, &ws, 0), live);
    cl_test_assert_exit_ok(ws);
    assert_crawllog_ok(cl_txn_file_cleanup(root, &err));
    assert_int_equal(count_temps_of(state, (long)live), 0);
    assert_int_equal(cl_test_count_entries(dir), before - 5);
    /* A later write and read still work beside the leftovers. */
    st.status = CL_TXN_PREPARE_ABORT;
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &st, 1, 0600, 0700, &err));
    expect_read(root, 0, &st);
    cl_txn_state_free(&st);
    close(root);
}

/* Failures: reported, nothing removed wrongly, the other dead temp files
 * still tried; a rerun finishes the job. */
static void test_txn_file_cleanup_failures(void **state)
{
    struct cl_err err = {""};
    char dir[4096], name[64], stale[3][64], own[64];
    int root = open_root(state);
    long dead = cl_test_dead_pid();
    struct cl_txn_state st;

    cl_test_path(dir, sizeof dir, CL_TEST_DIR(state), "transactions");
    cl_txn_state_init(&st);
    assert_crawllog_ok(cl_txn_file_write(root, TXID, &st, 1, 0600, 0700, &err));
    snprintf(own, sizeof own, "~tmp.%ld.0", (long)getpid());
    plant(state, own);
    static const struct {
        const char *spec;
        int rc;
        size_t left; /* dead temp files left */
    } cases[] = {
        {"txn.dir.open=EIO", CRAWLLOG_EIO, 3},
        {"txn.dir.open=EACCES", CRAWLLOG_EPERM, 3},
        {"txn.cleanup.list=EIO", CRAWLLOG_EIO, 3},
        {"txn.cleanup.list=EMFILE", CRAWLLOG_EMFILE, 3},
        {"txn.cleanup.unlink=EIO", CRAWLLOG_EIO, 1},
        {"txn.cleanup.unlink=EACCES@2", CRAWLLOG_EPERM, 1},
        {"txn.cleanup.unlink=EROFS:persist", CRAWLLOG_EPERM, 3},
        {"txn.cleanup.unlink=EIO@2:persist", CRAWLLOG_EIO, 2},
        {"txn.cleanup.unlink=ENOENT:persist", 0, 3}, /* another cleaner */
        {"txn.cleanup.unlink=SKIP", 0, 1},
        {"malloc=ENOMEM", CRAWLLOG_ENOMEM, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < 3; i++) {
            snprintf(stale[i], sizeof stale[i], "~tmp.%ld.%d", dead, i);
            plant(state, stale[i]);
        }
        cl_fp_clear();
        assert_int_equal(cl_fp_set(cases[c].spec), 0);
        int rc = cl_txn_file_cleanup(root, &err);
        cl_fp_clear();
        if (rc != cases[c].rc) {
            fail_msg("%s: %s, expected %s", cases[c].spec,
                     crawllog_err_name(rc), crawllog_err_name(cases[c].rc));
        }
        if (rc != 0) {
            assert_non_null(strstr(err.msg, "transactions"));
        }
        assert_int_equal(count_temps_of(state, dead), cases[c].left);
        assert_int_equal(present(state, own), 1);
        expect_read(root, 0, &st);
        assert_crawllog_ok(cl_txn_file_cleanup(root, &err));
        assert_int_equal(count_temps_of(state, dead), 0);
        assert_int_equal(cl_test_count_entries(dir), 2);
    }
    /* A directory at a dead temp name cannot be unlinked: reported, the
     * next name is still removed. */
    snprintf(name, sizeof name, "~tmp.%ld.0", dead);
    char sub[300];
    snprintf(sub, sizeof sub, "transactions/%s", name);
    assert_int_equal(mkdirat(root, sub, 0700), 0);
    snprintf(stale[0], sizeof stale[0], "~tmp.%ld.1", dead);
    plant(state, stale[0]);
    assert_crawllog_rc(cl_txn_file_cleanup(root, &err), CRAWLLOG_EIO);
    assert_non_null(strstr(err.msg, sub));
    assert_int_equal(present(state, stale[0]), 0);
    assert_int_equal(present(state, name), 1);
    assert_int_equal(unlinkat(root, sub, AT_REMOVEDIR), 0);
    cl_txn_state_free(&st);
    close(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_txn_file_empty_bytes),
        cl_test_unit_fp(test_txn_file_typical_round_trip),
        cl_test_unit_fp(test_txn_file_maximal_round_trip),
        cl_test_unit_fp(test_txn_file_every_truncation_and_flip),
        cl_test_unit_fp(test_txn_file_hostile_fields),
        cl_test_unit_fp(test_txn_file_hostile_counts_no_alloc),
        cl_test_unit_fp(test_txn_file_names_and_absence),
        cl_test_unit_fp(test_txn_file_failpoint_each_site),
        cl_test_unit_fp(test_txn_file_cleanup),
        cl_test_unit_fp(test_txn_file_cleanup_failures),
    };
    return cmocka_run_group_tests_name("txn_file", tests, NULL, NULL);
}
