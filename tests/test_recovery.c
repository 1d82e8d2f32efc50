/*
 * test_recovery.c - crash recovery of a partition (reliability.md 4.5, T4).
 *
 *  - Torn tails: every cut of the last batch (three sizes; every 7th byte
 *    for the 4 KiB one) x three fills (none, zeros, garbage to the next
 *    4 KiB), with the shared state kept (one boot: only a batch cut short
 *    by the end of the file is a torn tail, anything else is
 *    CRAWLLOG_ECORRUPT) and deleted (the full-scan path of a reboot: any
 *    damage above the durable mark is truncated).  Recovery keeps exactly
 *    the complete batches, reads are identical, the next append gets the
 *    next offset, and crawllog_verify() is clean afterwards.
 *  - Bit rot: damage in a non-final batch of the active segment fails the
 *    open with CRAWLLOG_ECORRUPT naming the .log and byte, changing no file
 *    (mtimes included); every byte of the final batch; after a simulated
 *    reboot below and above the durable mark; a sealed segment (the reader
 *    and crawllog_verify() report it).
 *  - Indexes truncated at every byte, flipped at every byte, deleted,
 *    emptied, garbage, swapped: every seek equals a scan.  Time lookups
 *    after .timeindex damage are a known library problem, see
 *    check_lookups().
 *  - A crash during a roll (headerless next segment; a leftover next
 *    segment unknown to the state, reused by the roll), writers killed
 *    mid-append (failpoint CRASH(n) in a forked child) seen by a reopen and
 *    by a handle open all along, and a damaged partition.state.
 *
 * Expected contents are generated here from the offset alone (rec_*()), not
 * read back from the library; byte positions of batches come from the
 * segment file's size before and after each append.  Built with
 * -DCRAWLLOG_TESTING (failpoints).  Runs in $TMPDIR, or /dev/shm when
 * TMPDIR is unset (thousands of small trees are copied).
 */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "pstate.h"
#include "segment.h"

#define TOPIC "t"
#define PART_REL "topics/t/0"
#define SEG0 "00000000000000000000"
#define T0 INT64_C(1700000000000)
#define MAXREC 4096
#define MAXBATCH 512
#define PAGE 4096

/* ---------------------------------------------------------------------- */
/* Expected records: everything derives from the offset and a value length */
/* ---------------------------------------------------------------------- */

/* Value length of every offset written so far (the model of the log). */
struct model {
    int64_t n;
    size_t vlen[MAXREC];
};

/* Mostly increasing, with a step back every fifth record. */
static int64_t rec_ts(int64_t off)
{
    return T0 + off * 10 - (off % 5 == 3 ? 35 : 0);
}

static uint8_t rec_vbyte(int64_t off, size_t j)
{
    return (uint8_t)(off * 131 + (int64_t)j * 7 + 3);
}

/* Storage for one batch of records being built. */
struct recbuf {
    crawllog_record_t recs[MAXBATCH];
    crawllog_header_t hdrs[MAXBATCH];
    char keys[MAXBATCH][24];
    char hvals[MAXBATCH][24];
    uint8_t *vals[MAXBATCH];
};

static void rec_fill(struct recbuf *rb, size_t i, int64_t off, size_t vlen)
{
    crawllog_record_t *r = &rb->recs[i];
    memset(r, 0, sizeof(*r));
    if (off % 4 != 0) {
        snprintf(rb->keys[i], sizeof(rb->keys[i]), "k%" PRId64, off);
        r->key = rb->keys[i];
        r->key_len = strlen(rb->keys[i]);
    }
    rb->vals[i] = malloc(vlen ? vlen : 1);
    cl_test_check(rb->vals[i] != NULL);
    for (size_t j = 0; j < vlen; j++) {
        rb->vals[i][j] = rec_vbyte(off, j);
    }
    r->value = rb->vals[i];
    r->value_len = vlen;
    r->timestamp = rec_ts(off);
    if (off % 2 == 1) {
        snprintf(rb->hvals[i], sizeof(rb->hvals[i]), "v%" PRId64, off);
        rb->hdrs[i].name = "h";
        rb->hdrs[i].name_len = 1;
        rb->hdrs[i].value = rb->hvals[i];
        rb->hdrs[i].value_len = strlen(rb->hvals[i]);
        r->headers = &rb->hdrs[i];
        r->header_count = 1;
    }
}

static void rec_free(struct recbuf *rb, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rb->vals[i]);
    }
}

/* The model gains nrec records of vlen value bytes. */
static void model_add(struct model *m, size_t nrec, size_t vlen)
{
    for (size_t i = 0; i < nrec; i++) {
        m->vlen[m->n++] = vlen;
    }
}

/* Append nrec records of vlen value bytes as one batch; its base offset
 * must be m->n.  Safe in a forked child. */
static void append_batch(crawllog_t *log, struct model *m, size_t nrec,
                         size_t vlen, int sync)
{
    static struct recbuf rb;
    int64_t base = -2;
    cl_test_check(nrec >= 1 && nrec <= MAXBATCH);
    cl_test_check(m->n + (int64_t)nrec <= MAXREC);
    for (size_t i = 0; i < nrec; i++) {
        rec_fill(&rb, i, m->n + (int64_t)i, vlen);
    }
    int rc = crawllog_append(log, TOPIC, 0, rb.recs, nrec, sync, &base);
    rec_free(&rb, nrec);
    assert_crawllog_ok_log(log, rc);
    if (base != m->n) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "append got base offset %" PRId64 ", expected %"
                         PRId64, base, m->n);
    }
    model_add(m, nrec, vlen);
}

/* Does msg hold exactly the record expected at off?  Safe in a child. */
static void check_msg(const crawllog_msg_t *msg, int64_t off, size_t vlen)
{
    size_t len;
    char buf[24];
    if (crawllog_msg_offset(msg) != off) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "read offset %" PRId64 ", expected %" PRId64,
                         crawllog_msg_offset(msg), off);
    }
    cl_test_check(crawllog_msg_timestamp(msg) == rec_ts(off));
    const void *k = crawllog_msg_key(msg, &len);
    if (off % 4 == 0) {
        cl_test_check(k == NULL && len == 0);
    } else {
        snprintf(buf, sizeof(buf), "k%" PRId64, off);
        cl_test_check(k != NULL && len == strlen(buf) &&
                      memcmp(k, buf, len) == 0);
    }
    const uint8_t *v = crawllog_msg_value(msg, &len);
    cl_test_check(len == vlen && (vlen == 0 || v != NULL));
    for (size_t j = 0; j < vlen; j++) {
        if (v[j] != rec_vbyte(off, j)) {
            cl_test_failf_at(__FILE__, __LINE__,
                             "offset %" PRId64 ": value byte %zu differs",
                             off, j);
        }
    }
    if (off % 2 == 1) {
        crawllog_header_t h;
        snprintf(buf, sizeof(buf), "v%" PRId64, off);
        cl_test_check(crawllog_msg_header_count(msg) == 1);
        cl_test_check(crawllog_msg_header(msg, 0, &h) == CRAWLLOG_OK);
        cl_test_check(h.name_len == 1 && memcmp(h.name, "h", 1) == 0);
        cl_test_check(h.value_len == strlen(buf) &&
                      memcmp(h.value, buf, h.value_len) == 0);
    } else {
        cl_test_check(crawllog_msg_header_count(msg) == 0);
    }
}

/* Read [from, m->n) and check every record, then the log end. */
static void read_check(crawllog_t *log, const struct model *m, int64_t from)
{
    crawllog_reader_t *rd;
    const crawllog_msg_t *msg;
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, TOPIC, 0));
    if (from > 0) {
        int rc = crawllog_reader_seek(rd, from);
        if (rc != 0) {
            cl_test_failf_at(__FILE__, __LINE__, "seek %" PRId64 ": %s: %s",
                             from, crawllog_err_name(rc),
                             crawllog_reader_errmsg(rd));
        }
    }
    for (int64_t off = from; off < m->n; off++) {
        check_msg(cl_test_next_msg(rd), off, m->vlen[off]);
    }
    assert_crawllog_ok(crawllog_reader_next(rd, &msg));
    if (msg != NULL) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "record %" PRId64 " beyond the expected end %"
                         PRId64, crawllog_msg_offset(msg), m->n);
    }
    crawllog_reader_destroy(rd);
}

static void check_offsets(crawllog_t *log, int64_t start, int64_t end)
{
    int64_t s = -2, e = -2;
    assert_crawllog_ok_log(log,
                           crawllog_partition_offsets(log, TOPIC, 0, &s, &e));
    if (s != start || e != end) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "offsets [%" PRId64 ", %" PRId64 "), expected [%"
                         PRId64 ", %" PRId64 ")", s, e, start, end);
    }
}

/* ---------------------------------------------------------------------- */
/* Directories and files                                                   */
/* ---------------------------------------------------------------------- */

/* Open dir and create the topic with one partition; conf optional. */
static crawllog_t *create_log(const char *dir, const char *seg_bytes,
                              const char *index_interval)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_conf_t *tc = NULL;
    if (seg_bytes || index_interval) {
        assert_crawllog_ok(crawllog_conf_new(&tc));
        if (seg_bytes) {
            assert_crawllog_ok(crawllog_conf_set(tc, "segment.bytes",
                                                 seg_bytes, NULL, 0));
        }
        if (index_interval) {
            assert_crawllog_ok(crawllog_conf_set(tc, "index.interval.bytes",
                                                 index_interval, NULL, 0));
        }
    }
    assert_crawllog_ok_log(log, crawllog_topic_create(log, TOPIC, 1, tc));
    crawllog_conf_destroy(tc);
    return log;
}

/* "<dir>/topics/t/0/<name>" */
static char *part_file(char *buf, size_t size, const char *dir,
                       const char *name)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "%s/%s", PART_REL, name);
    return cl_test_path(buf, size, dir, rel);
}

static char *seg_file(char *buf, size_t size, const char *dir, int64_t base,
                      const char *sfx)
{
    char name[64];
    snprintf(name, sizeof(name), "%020" PRId64 "%s", base, sfx);
    return part_file(buf, size, dir, name);
}

/* Replace dst by a fresh copy of src. */
static void restore(const char *src, const char *dst)
{
    cl_test_rmrf(dst);
    cl_test_copy_tree(src, dst);
}

/* Append len bytes (zeros if buf is NULL) at the end of path. */
static void append_bytes(const char *path, const uint8_t *buf, size_t len)
{
    size_t size = cl_test_file_size(path);
    if (buf == NULL) {
        cl_test_truncate(path, (off_t)(size + len));
        return;
    }
    int fd = open(path, O_WRONLY);
    cl_test_check(fd >= 0);
    cl_test_check(pwrite(fd, buf, len, (off_t)size) == (ssize_t)len);
    close(fd);
}

static void set_byte(const char *path, off_t pos, uint8_t val)
{
    int fd = open(path, O_RDWR);
    cl_test_check(fd >= 0);
    cl_test_check(pwrite(fd, &val, 1, pos) == 1);
    close(fd);
}

static uint8_t get_byte(const char *path, off_t pos)
{
    uint8_t val = 0;
    int fd = open(path, O_RDONLY);
    cl_test_check(fd >= 0);
    cl_test_check(pread(fd, &val, 1, pos) == 1);
    close(fd);
    return val;
}

static void unlink_ok(const char *path)
{
    if (unlink(path) != 0) {
        cl_test_failf_at(__FILE__, __LINE__, "unlink %s: %s", path,
                         strerror(errno));
    }
}

/* Make the partition's shared state look as if it came from another boot
 * (keeping everything else, the durable mark included). */
static void fake_reboot(const char *dir)
{
    char path[4096];
    part_file(path, sizeof(path), dir, CL_PSTATE_NAME);
    cl_test_flip_byte(path, (off_t)offsetof(struct cl_pstate_shm, boot_id),
                      0x5a);
}

/* These tests are about what one boot's page cache holds after a crash,
 * not about durability (test_crash covers that), so fsync and fdatasync
 * are skipped: a sweep then costs microseconds instead of a disk flush per
 * case.  The library still believes they succeeded, so its durable mark
 * moves exactly as it would. */
#define NO_SYNC                                                              \
    "seg.create.fsync=SKIP:persist;seg.roll.fsync=SKIP:persist;"             \
    "seg.roll.dirsync=SKIP:persist;seg.recover.fsync=SKIP:persist;"          \
    "seg.delete.dirsync=SKIP:persist;seg.append.fdatasync=SKIP:persist;"     \
    "idx.fsync=SKIP:persist;topic.fsync=SKIP:persist;"                       \
    "meta.fsync=SKIP:persist;meta.dirsync=SKIP:persist;"                     \
    "log.mkdir.dirsync=SKIP:persist"

/* crawllog_verify() problems, collected. */
struct problems {
    size_t n;
    char text[4096];
};

static void collect_problem(void *opaque, const char *problem)
{
    struct problems *p = opaque;
    size_t used = strlen(p->text);
    p->n++;
    snprintf(p->text + used, sizeof(p->text) - used, "%s\n", problem);
}

/* verify must find nothing. */
static void verify_clean(const char *dir, const char *what)
{
    struct problems p = {0, ""};
    size_t n = 99;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_verify(dir, collect_problem, &p, &n, errstr,
                             sizeof(errstr));
    if (rc != 0 || n != 0 || p.n != 0) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "%s: verify: %s (%s), %zu problems:\n%s", what,
                         crawllog_err_name(rc), errstr, n, p.text);
    }
}

/* verify must report a problem containing want. */
static void verify_finds(const char *dir, const char *want)
{
    struct problems p = {0, ""};
    size_t n = 0;
    int rc = crawllog_verify(dir, collect_problem, &p, &n, NULL, 0);
    if (rc != CRAWLLOG_ECORRUPT || n == 0 || n != p.n ||
        strstr(p.text, want) == NULL) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "verify gave %s with %zu problems, none naming "
                         "\"%s\":\n%s", crawllog_err_name(rc), n, want,
                         p.text);
    }
}

static int setup(void **state)
{
    cl_fp_clear();
    if (cl_fp_set(NO_SYNC) != 0) {
        return -1;
    }
    return cl_test_tmpdir_setup(state);
}

/* ---------------------------------------------------------------------- */
/* Torn tails                                                              */
/* ---------------------------------------------------------------------- */

enum fill { FILL_NONE, FILL_ZERO, FILL_GARBAGE, FILL_COUNT };

static const char *const fill_names[] = {"none", "zeros", "garbage"};

/* Write K batches into <root>/pristine; the last one has last_nrec records
 * of last_vlen bytes.  *startp / *endp get its byte range. */
static void make_pristine(const char *pristine, struct model *m,
                          size_t last_nrec, size_t last_vlen,
                          uint64_t *startp, uint64_t *endp)
{
    char seg[4096];
    crawllog_t *log = create_log(pristine, NULL, NULL);
    seg_file(seg, sizeof(seg), pristine, 0, ".log");
    m->n = 0;
    append_batch(log, m, 2, 5, CRAWLLOG_SYNC_WRITTEN);
    append_batch(log, m, 1, 40, CRAWLLOG_SYNC_WRITTEN);
    append_batch(log, m, 3, 17, CRAWLLOG_SYNC_WRITTEN);
    *startp = cl_test_file_size(seg);
    append_batch(log, m, last_nrec, last_vlen, CRAWLLOG_SYNC_WRITTEN);
    *endp = cl_test_file_size(seg);
    assert_crawllog_ok(crawllog_close(log));
}

/* What recovery must make of one cut. */
enum outcome {
    OUT_KEEP,    /* the last batch is whole: kept, anything after it cut */
    OUT_TORN,    /* the last batch is cut away */
    OUT_CORRUPT, /* CRAWLLOG_ECORRUPT at the batch, nothing changed */
    OUT_EITHER   /* OUT_TORN or OUT_CORRUPT (depends on the fill's bytes) */
};

/*
 * The rule (crawllog.h, crawllog_open): within one boot a writer that died
 * leaves only a batch cut short by the end of the file - fewer than 61
 * bytes, or a header whose length runs past the end - and that is a torn
 * tail; anything else (a whole-length batch with bad bytes, zeros or
 * garbage where a header should be) is corruption.  After a reboot (the
 * state missing) any damage above the durable mark is a torn write.
 * flen = bytes from the batch start to the end of the file; whole = the
 * fill restored the cut bytes (or nothing was cut).
 */
static enum outcome torn_expect(uint64_t c, uint64_t len, uint64_t flen,
                                int whole, int fill, int drop_state)
{
    if (whole) {
        uint64_t rest = flen - len;
        return drop_state || rest < CL_BATCH_HEADER_SIZE ? OUT_KEEP
                                                         : OUT_CORRUPT;
    }
    if (drop_state || fill == FILL_NONE || flen < CL_BATCH_HEADER_SIZE) {
        return OUT_TORN;
    }
    if (c >= CL_BATCH_HEADER_SIZE && flen < len) {
        return OUT_TORN; /* the real header, running past the end */
    }
    if (c >= 12 && flen >= len) {
        return OUT_CORRUPT; /* its real length fits: bad header or CRC */
    }
    return OUT_EITHER;
}

/* Open a damaged copy that must fail: CRAWLLOG_ECORRUPT naming the .log
 * and byte, and not a byte changed (modification times included). */
static void expect_corrupt_open(const char *work, uint64_t byte,
                                const char *what)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", want[128];
    crawllog_t *log = NULL;
    struct cl_test_snap *before = cl_test_snap_take(work);
    int rc = crawllog_open(&log, work, NULL, errstr, sizeof(errstr));
    if (rc != CRAWLLOG_ECORRUPT) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "%s: open gave %s (%s), expected CRAWLLOG_ECORRUPT",
                         what, crawllog_err_name(rc), errstr);
    }
    cl_test_check(log == NULL);
    snprintf(want, sizeof(want), PART_REL "/" SEG0 ".log: byte %" PRIu64 ":",
             byte);
    if (strstr(errstr, want) == NULL) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "%s: message \"%s\" does not contain \"%s\"", what,
                         errstr, want);
    }
    assert_dir_unchanged(before, work);
}

/* Restore work, cut the last batch (bytes [start, end) of the .log) to c
 * bytes and append the fill up to the next page boundary.  Returns the
 * fill's length; *wholep = 1 if the batch is whole again (nothing cut, or
 * a fill that happens to restore the cut bytes: a batch ending in zero
 * bytes, zero fill).  orig holds the batch's bytes. */
static size_t torn_prepare(const char *pristine, const char *work,
                           const uint8_t *orig, uint64_t start, uint64_t end,
                           uint64_t c, int fill, uint64_t *rng, int *wholep)
{
    static uint8_t buf[PAGE];
    char seg[4096];
    uint64_t len = end - start;
    restore(pristine, work);
    seg_file(seg, sizeof(seg), work, 0, ".log");
    cl_test_truncate(seg, (off_t)(start + c));
    size_t pad = PAGE - (size_t)((start + c) % PAGE);
    for (size_t i = 0; i < pad; i++) {
        buf[i] = fill == FILL_ZERO ? 0 : (uint8_t)cl_test_rand(rng);
    }
    if (fill == FILL_NONE) {
        pad = 0;
    } else {
        append_bytes(seg, buf, pad);
    }
    *wholep = c == len;
    if (c < len && c + pad >= len) {
        *wholep = memcmp(buf, orig + c, (size_t)(len - c)) == 0;
    }
    return pad;
}

/* An open that may fail (OUT_EITHER): if it does, it is CRAWLLOG_ECORRUPT
 * at byte `start` with nothing changed.  Returns the handle or NULL. */
static crawllog_t *open_maybe_corrupt(const char *work, uint64_t start,
                                      int may_fail, const char *what)
{
    struct cl_test_snap *before = cl_test_snap_take(work);
    crawllog_t *log = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", byte[64];
    int rc = crawllog_open(&log, work, NULL, errstr, sizeof(errstr));
    if (rc == CRAWLLOG_ECORRUPT && may_fail) {
        snprintf(byte, sizeof(byte), SEG0 ".log: byte %" PRIu64 ":", start);
        if (strstr(errstr, byte) == NULL) {
            cl_test_failf_at(__FILE__, __LINE__, "%s: message \"%s\" does "
                             "not name \"%s\"", what, errstr, byte);
        }
        struct cl_test_snap *after = cl_test_snap_take(work);
        assert_snap_equal(before, after);
        cl_test_snap_free(after);
    } else if (rc != 0) {
        cl_test_failf_at(__FILE__, __LINE__, "%s: open: %s: %s", what,
                         crawllog_err_name(rc), errstr);
    }
    cl_test_snap_free(before);
    return log;
}

/* One cut: prepare, (drop the state), open, check the outcome, append,
 * verify. */
static void torn_case(const char *pristine, const char *work,
                      const struct model *full, int64_t n_prev,
                      const uint8_t *orig, uint64_t start, uint64_t end,
                      uint64_t c, int fill, int drop_state, uint64_t *rng)
{
    char seg[4096], st[4096], what[128];
    struct model m = *full;
    int whole;
    size_t pad = torn_prepare(pristine, work, orig, start, end, c, fill, rng,
                              &whole);
    seg_file(seg, sizeof(seg), work, 0, ".log");
    if (drop_state) {
        unlink_ok(part_file(st, sizeof(st), work, CL_PSTATE_NAME));
    }
    enum outcome want =
        torn_expect(c, end - start, c + pad, whole, fill, drop_state);
    snprintf(what, sizeof(what),
             "cut %" PRIu64 "/%" PRIu64 " fill %s state %s", c, end - start,
             fill_names[fill], drop_state ? "deleted" : "kept");
    if (want == OUT_CORRUPT) {
        expect_corrupt_open(work, whole ? end : start, what);
        return;
    }
    crawllog_t *log =
        open_maybe_corrupt(work, start, want == OUT_EITHER, what);
    if (log == NULL) {
        return;
    }
    int keep = want == OUT_KEEP;
    if (!keep) {
        m.n = n_prev;
    }
    if (cl_test_file_size(seg) != (keep ? end : start)) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "%s: .log is %zu bytes after recovery, expected %"
                         PRIu64, what, cl_test_file_size(seg),
                         keep ? end : start);
    }
    check_offsets(log, 0, m.n);
    read_check(log, &m, 0);
    append_batch(log, &m, 1, 3, CRAWLLOG_SYNC_WRITTEN);
    read_check(log, &m, m.n - 1);
    assert_crawllog_ok(crawllog_close(log));
    verify_clean(work, what);
}

static void torn_sweep(void **state, size_t last_nrec, size_t last_vlen,
                       uint64_t step, int drop_state)
{
    char pristine[4096], work[4096];
    static struct model m;
    uint64_t start, end, rng = CL_TEST_SEED ^ last_vlen;
    cl_test_path(pristine, sizeof(pristine), CL_TEST_DIR(state), "pristine");
    cl_test_path(work, sizeof(work), CL_TEST_DIR(state), "work");
    make_pristine(pristine, &m, last_nrec, last_vlen, &start, &end);
    int64_t n_prev = m.n - (int64_t)last_nrec;
    uint64_t len = end - start;
    assert_true(len > CL_BATCH_HEADER_SIZE);
    char seg[4096];
    uint8_t *all = cl_test_read_file(
        seg_file(seg, sizeof(seg), pristine, 0, ".log"), NULL);
    const uint8_t *orig = all + start;
    for (uint64_t c = 0;; c += step) {
        if (c > len) {
            c = len; /* always include the complete batch */
        }
        for (int fill = 0; fill < FILL_COUNT; fill++) {
            torn_case(pristine, work, &m, n_prev, orig, start, end, c, fill,
                      drop_state, &rng);
        }
        if (c == len) {
            break;
        }
    }
    free(all);
}

static void test_recovery_torn_tail_small(void **state)
{
    torn_sweep(state, 1, 1, 1, 0); /* a ~70-byte batch */
}

static void test_recovery_torn_tail_medium(void **state)
{
    torn_sweep(state, 4, 120, 1, 0); /* ~600 bytes */
}

static void test_recovery_torn_tail_large(void **state)
{
    torn_sweep(state, 2, 2100, 7, 0); /* > 4 KiB, every 7th cut */
}

static void test_recovery_torn_tail_small_no_state(void **state)
{
    torn_sweep(state, 1, 1, 1, 1);
}

static void test_recovery_torn_tail_medium_no_state(void **state)
{
    torn_sweep(state, 4, 120, 1, 1);
}

static void test_recovery_torn_tail_large_no_state(void **state)
{
    torn_sweep(state, 2, 2100, 7, 1);
}

/* ---------------------------------------------------------------------- */
/* Bit rot                                                                 */
/* ---------------------------------------------------------------------- */

#define ROT_BATCHES 6

/* ROT_BATCHES batches (under 4 KiB in all, so no index entry: a recovery
 * scans the whole active segment); bpos[i] = start of batch i, bpos[K] =
 * end of the file. */
static void make_rot_log(const char *dir, struct model *m, uint64_t *bpos,
                         int sync)
{
    char seg[4096];
    crawllog_t *log = create_log(dir, NULL, NULL);
    seg_file(seg, sizeof(seg), dir, 0, ".log");
    m->n = 0;
    for (int i = 0; i < ROT_BATCHES; i++) {
        /* Partition first used by the first append: the file exists now. */
        bpos[i] = i == 0 ? CL_SEG_HEADER_SIZE : cl_test_file_size(seg);
        append_batch(log, m, (size_t)(1 + i % 3), (size_t)(20 + 30 * i),
                     sync);
    }
    bpos[ROT_BATCHES] = cl_test_file_size(seg);
    assert_true(bpos[ROT_BATCHES] < 4096);
    assert_crawllog_ok(crawllog_close(log));
}

/* Positions inside a batch worth damaging: base offset, length, magic,
 * CRC, attributes, last offset delta, timestamps, producer fields, record
 * count, the first record's length, a value byte, the last byte.  Not
 * partitionLeaderEpoch (bytes 12-15): neither the CRC nor any check covers
 * it, as in Kafka. */
static size_t rot_positions(uint64_t len, uint64_t *out)
{
    static const uint64_t fixed[] = {0, 3, 7, 8, 10, 11, 16, 17, 20, 21,
                                     22, 23, 26, 27, 34, 35, 42, 43, 50,
                                     51, 53, 57, 60, 61, 62, 63};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        out[n++] = fixed[i];
    }
    out[n++] = len / 2;
    out[n++] = len - 2;
    out[n++] = len - 1;
    return n;
}

/* Apply damage kind (0: xor 0x01, 1: xor 0xff, 2: set 0x00) at pos;
 * returns 0 if the byte did not change. */
static int damage(const char *path, off_t pos, int kind)
{
    uint8_t old = get_byte(path, pos);
    uint8_t val = kind == 0 ? old ^ 0x01 : kind == 1 ? old ^ 0xff : 0;
    if (val == old) {
        return 0;
    }
    set_byte(path, pos, val);
    return 1;
}

/* Any damage in a batch that is followed by a valid batch is corruption,
 * never a torn tail; the open changes nothing. */
static void test_recovery_rot_nonfinal_is_corrupt(void **state)
{
    char pristine[4096], work[4096], seg[4096], what[128];
    static struct model m;
    uint64_t bpos[ROT_BATCHES + 1], pos[64];
    cl_test_path(pristine, sizeof(pristine), CL_TEST_DIR(state), "pristine");
    cl_test_path(work, sizeof(work), CL_TEST_DIR(state), "work");
    make_rot_log(pristine, &m, bpos, CRAWLLOG_SYNC_WRITTEN);
    seg_file(seg, sizeof(seg), work, 0, ".log");
    int cases = 0;
    for (int b = 0; b < ROT_BATCHES - 1; b++) {
        size_t np = rot_positions(bpos[b + 1] - bpos[b], pos);
        for (size_t i = 0; i < np; i++) {
            for (int kind = 0; kind < 3; kind++) {
                restore(pristine, work);
                if (!damage(seg, (off_t)(bpos[b] + pos[i]), kind)) {
                    continue;
                }
                snprintf(what, sizeof(what), "batch %d byte +%" PRIu64
                         " damage %d", b, pos[i], kind);
                expect_corrupt_open(work, bpos[b], what);
                /* And again: the failed open left the same files. */
                expect_corrupt_open(work, bpos[b], what);
                char want[128];
                snprintf(want, sizeof(want),
                         PART_REL "/" SEG0 ".log: byte %" PRIu64 ":",
                         bpos[b]);
                verify_finds(work, want);
                cases++;
            }
        }
    }
    assert_true(cases > 300);
}

static int32_t get_be32(const char *path, off_t pos)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = v << 8 | get_byte(path, pos + i);
    }
    return (int32_t)v;
}

/* Every byte of the final batch, three kinds of damage.  In the same boot
 * only a batch that now claims to run past the end of the file (a larger
 * length) looks like a cut-short write and is truncated; anything else is
 * CRAWLLOG_ECORRUPT.  After a reboot, all of it is above the durable mark
 * (WRITTEN appends) and is truncated. */
static void test_recovery_rot_final_batch(void **state)
{
    char pristine[4096], work[4096], seg[4096], what[128];
    static struct model m;
    uint64_t bpos[ROT_BATCHES + 1];
    cl_test_path(pristine, sizeof(pristine), CL_TEST_DIR(state), "pristine");
    cl_test_path(work, sizeof(work), CL_TEST_DIR(state), "work");
    make_rot_log(pristine, &m, bpos, CRAWLLOG_SYNC_WRITTEN);
    seg_file(seg, sizeof(seg), work, 0, ".log");
    uint64_t first = bpos[ROT_BATCHES - 1];
    int32_t orig_len = (int32_t)(bpos[ROT_BATCHES] - first - 12);
    int64_t n_prev = m.n - (1 + (ROT_BATCHES - 1) % 3);
    int torn = 0, corrupt = 0;
    for (uint64_t p = first; p < bpos[ROT_BATCHES]; p++) {
        if (p >= first + 12 && p < first + 16) {
            continue; /* partitionLeaderEpoch: not covered */
        }
        for (int kind = 0; kind < 3; kind++) {
            for (int reboot = 0; reboot < 2; reboot++) {
                struct model mm = m;
                restore(pristine, work);
                if (!damage(seg, (off_t)p, kind)) {
                    continue;
                }
                snprintf(what, sizeof(what), "final batch byte +%" PRIu64
                         " damage %d%s", p - first, kind,
                         reboot ? " after a reboot" : "");
                int longer = p >= first + 8 && p < first + 12 &&
                             get_be32(seg, (off_t)(first + 8)) > orig_len;
                if (reboot) {
                    fake_reboot(work);
                } else if (!longer) {
                    expect_corrupt_open(work, first, what);
                    corrupt++;
                    continue;
                }
                torn += !reboot;
                crawllog_t *log = cl_test_open(work, NULL);
                mm.n = n_prev;
                if (cl_test_file_size(seg) != first) {
                    cl_test_failf_at(__FILE__, __LINE__,
                                     "%s: .log is %zu bytes, expected %"
                                     PRIu64, what, cl_test_file_size(seg),
                                     first);
                }
                check_offsets(log, 0, mm.n);
                read_check(log, &mm, 0);
                append_batch(log, &mm, 1, 2, CRAWLLOG_SYNC_WRITTEN);
                assert_crawllog_ok(crawllog_close(log));
            }
        }
    }
    assert_true(torn >= 4 && corrupt > 300);
}

/* After a reboot the whole active segment is scanned: damage above the
 * durable mark is a torn write (truncated there, later unsynced batches
 * dropped), damage below it is corruption. */
static void test_recovery_rot_after_reboot(void **state)
{
    char pristine[4096], work[4096], seg[4096];
    static struct model m;
    uint64_t bpos[ROT_BATCHES + 1];
    cl_test_path(pristine, sizeof(pristine), CL_TEST_DIR(state), "pristine");
    cl_test_path(work, sizeof(work), CL_TEST_DIR(state), "work");
    seg_file(seg, sizeof(seg), work, 0, ".log");

    /* WRITTEN only: nothing above the header is known durable. */
    make_rot_log(pristine, &m, bpos, CRAWLLOG_SYNC_WRITTEN);
    for (int b = 0; b < ROT_BATCHES - 1; b++) {
        struct model mm = m;
        restore(pristine, work);
        cl_test_flip_byte(seg, (off_t)(bpos[b] + 62), 0x40);
        fake_reboot(work);
        crawllog_t *log = cl_test_open(work, NULL);
        mm.n = 0;
        for (int i = 0; i < b; i++) {
            mm.n += 1 + i % 3;
        }
        assert_int_equal(cl_test_file_size(seg), bpos[b]);
        check_offsets(log, 0, mm.n);
        read_check(log, &mm, 0);
        append_batch(log, &mm, 2, 9, CRAWLLOG_SYNC_WRITTEN);
        assert_crawllog_ok(crawllog_close(log));
    }

    /* DURABLE: every batch is below the durable mark. */
    cl_test_rmrf(pristine);
    make_rot_log(pristine, &m, bpos, CRAWLLOG_SYNC_DURABLE);
    for (int b = 0; b < ROT_BATCHES; b++) {
        restore(pristine, work);
        cl_test_flip_byte(seg, (off_t)(bpos[b] + 62), 0x40);
        fake_reboot(work);
        expect_corrupt_open(work, bpos[b], "durable batch after reboot");
    }
}

/* Damage in a sealed segment is not scanned at open; the reader finds it
 * and names the file and the batch's byte position. */
static void test_recovery_rot_sealed_segment(void **state)
{
    char dir[4096], seg[4096], want[160];
    static struct model m;
    uint64_t bpos[64];
    int nb = 0;
    cl_test_path(dir, sizeof(dir), CL_TEST_DIR(state), "data");
    crawllog_t *log = create_log(dir, "4096", NULL);
    seg_file(seg, sizeof(seg), dir, 0, ".log");
    m.n = 0;
    /* Fill segment 0 until the next segment exists. */
    for (;;) {
        char next[4096];
        bpos[nb] = nb == 0 ? CL_SEG_HEADER_SIZE : cl_test_file_size(seg);
        append_batch(log, &m, 2, 200, CRAWLLOG_SYNC_WRITTEN);
        nb++;
        seg_file(next, sizeof(next), dir, m.n - 2, ".log");
        if (nb > 1 && cl_test_exists(next)) {
            nb--; /* the last batch went to the new segment */
            break;
        }
        assert_true(nb < 60);
    }
    bpos[nb] = cl_test_file_size(seg);
    append_batch(log, &m, 1, 10, CRAWLLOG_SYNC_WRITTEN);
    assert_crawllog_ok(crawllog_close(log));
    assert_true(nb >= 3);

    int victim = 2;
    cl_test_flip_byte(seg, (off_t)(bpos[victim] + 100), 0x08);
    log = cl_test_open(dir, NULL);
    check_offsets(log, 0, m.n);
    crawllog_reader_t *rd;
    const crawllog_msg_t *msg;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, TOPIC, 0));
    for (int64_t off = 0; off < 2 * victim; off++) {
        assert_crawllog_ok(crawllog_reader_next(rd, &msg));
        assert_non_null(msg);
        check_msg(msg, off, m.vlen[off]);
    }
    assert_crawllog_rc(crawllog_reader_next(rd, &msg), CRAWLLOG_ECORRUPT);
    assert_null(msg);
    snprintf(want, sizeof(want), PART_REL "/" SEG0 ".log: byte %" PRIu64 ":",
             bpos[victim]);
    if (strstr(crawllog_reader_errmsg(rd), want) == NULL) {
        fail_msg("reader message \"%s\" does not contain \"%s\"",
                 crawllog_reader_errmsg(rd), want);
    }
    /* A seek to a later batch of the sealed segment still works. */
    assert_crawllog_ok(crawllog_reader_seek(rd, 2 * victim + 2));
    assert_crawllog_ok(crawllog_reader_next(rd, &msg));
    assert_non_null(msg);
    check_msg(msg, 2 * victim + 2, m.vlen[2 * victim + 2]);
    crawllog_reader_destroy(rd);
    /* The damage is not dropped: appends go on at the end. */
    append_batch(log, &m, 1, 10, CRAWLLOG_SYNC_WRITTEN);
    assert_crawllog_ok(crawllog_close(log));
    assert_int_equal(cl_test_file_size(seg), bpos[nb]);
    verify_finds(dir, want);
}

/* ---------------------------------------------------------------------- */
/* Indexes                                                                 */
/* ---------------------------------------------------------------------- */

/* Two segments, a sealed and an active one, each with several offset and
 * time index entries; returns the active one's base offset. */
static int64_t make_indexed_log(const char *dir, struct model *m)
{
    char next[4096];
    crawllog_t *log = create_log(dir, "4096", "150");
    m->n = 0;
    int64_t seg1 = -1;
    for (int i = 0; i < 200; i++) {
        size_t nrec = (size_t)(1 + i % 2);
        append_batch(log, m, nrec, 40, CRAWLLOG_SYNC_WRITTEN);
        if (seg1 < 0 && i > 0) {
            seg_file(next, sizeof(next), dir, m->n - (int64_t)nrec, ".log");
            if (cl_test_exists(next)) {
                seg1 = m->n - (int64_t)nrec;
            }
        }
        if (seg1 > 0 && cl_test_file_size(next) > 2500) {
            break;
        }
    }
    assert_crawllog_ok(crawllog_close(log));
    assert_true(seg1 > 0);
    assert_true(cl_test_file_size(next) > 2500);
    /* Exactly two segments. */
    char pdir[4096];
    cl_test_path(pdir, sizeof(pdir), dir, PART_REL);
    DIR *d = opendir(pdir);
    assert_non_null(d);
    int logs = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        logs += strstr(de->d_name, ".log") != NULL;
    }
    closedir(d);
    assert_int_equal(logs, 2);
    return seg1;
}

/* First offset whose timestamp is >= ts, by brute force over the model. */
static int64_t scan_time(const struct model *m, int64_t ts)
{
    for (int64_t off = 0; off < m->n; off++) {
        if (rec_ts(off) >= ts) {
            return off;
        }
    }
    return m->n;
}

/*
 * Time lookups must equal a scan after any damage to a .timeindex too: the
 * library trusts only the time-index entries it has proven against the
 * batch headers (cl_segment_check_timeindex), and takes a segment's largest
 * timestamp from its batch headers.  Damage to a .index must never change a
 * time lookup either.
 */
/* Every offset: seek + next gives that record; every timestamp (and the
 * ones just around it): seek_time gives the scan's answer. */
static void check_lookups(const char *dir, const struct model *m,
                          const char *what)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_reader_t *rd;
    const crawllog_msg_t *msg;
    check_offsets(log, 0, m->n);
    assert_crawllog_ok(crawllog_reader_new(&rd, log, TOPIC, 0));
    for (int64_t off = m->n - 1; off >= 0; off--) {
        int rc = crawllog_reader_seek(rd, off);
        if (rc == 0) {
            rc = crawllog_reader_next(rd, &msg);
        }
        if (rc != 0 || msg == NULL || crawllog_msg_offset(msg) != off) {
            fail_msg("%s: seek %" PRId64 ": %s (%s), got offset %" PRId64,
                     what, off, crawllog_err_name(rc),
                     crawllog_reader_errmsg(rd),
                     msg ? crawllog_msg_offset(msg) : -1);
        }
        check_msg(msg, off, m->vlen[off]);
    }
    for (int64_t off = 0; off <= m->n; off++) {
        int64_t base = off < m->n ? rec_ts(off) : rec_ts(m->n - 1) + 100;
        for (int64_t d = -1; d <= 1; d++) {
            int64_t got = -2, want = scan_time(m, base + d);
            int rc = crawllog_reader_seek_time(rd, base + d, &got);
            if (rc != 0 || got != want) {
                fail_msg("%s: seek_time %" PRId64 ": %s (%s), got %" PRId64
                         ", expected %" PRId64, what, base + d,
                         crawllog_err_name(rc), crawllog_reader_errmsg(rd),
                         got, want);
            }
            if (want < m->n) {
                assert_crawllog_ok(crawllog_reader_next(rd, &msg));
                assert_non_null(msg);
                check_msg(msg, want, m->vlen[want]);
            }
        }
    }
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_close(log));
}

struct idx_ctx {
    char pristine[4096], work[4096];
    struct model m;
    int64_t bases[2];
};

static void idx_prepare(void **state, struct idx_ctx *x)
{
    cl_test_path(x->pristine, sizeof(x->pristine), CL_TEST_DIR(state),
                 "pristine");
    cl_test_path(x->work, sizeof(x->work), CL_TEST_DIR(state), "work");
    x->bases[0] = 0;
    x->bases[1] = make_indexed_log(x->pristine, &x->m);
}

/* Damage the file path at pos and describe the damage into what. */
typedef void idx_damage_fn(const char *path, size_t pos, char *what,
                           size_t size);

/* For each index file (.index and .timeindex of both segments), which must
 * have at least min_size bytes, and each pos from 0 to its size (included
 * if past_end): damage a fresh copy at pos and check every lookup. */
static void idx_sweep(void **state, size_t min_size, int past_end,
                      idx_damage_fn *spoil)
{
    static struct idx_ctx x;
    static const char *const sfx[] = {".index", ".timeindex"};
    char path[4096], what[128];
    idx_prepare(state, &x);
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < 2; k++) {
            size_t size = cl_test_file_size(
                seg_file(path, sizeof(path), x.pristine, x.bases[s], sfx[k]));
            assert_true(size >= min_size);
            for (size_t pos = 0; pos < size + (past_end != 0); pos++) {
                int n =
                    snprintf(what, sizeof(what), "segment %d %s ", s, sfx[k]);
                restore(x.pristine, x.work);
                seg_file(path, sizeof(path), x.work, x.bases[s], sfx[k]);
                spoil(path, pos, what + n, sizeof(what) - (size_t)n);
                check_lookups(x.work, &x.m, what);
            }
        }
    }
}

static void cut_at(const char *path, size_t pos, char *what, size_t size)
{
    cl_test_truncate(path, (off_t)pos);
    snprintf(what, size, "cut at %zu", pos);
}

static void flip_at(const char *path, size_t pos, char *what, size_t size)
{
    static const unsigned char masks[] = {0x01, 0x80, 0xff};
    cl_test_flip_byte(path, (off_t)pos, masks[pos % 3]);
    snprintf(what, size, "byte %zu ^ %#x", pos, masks[pos % 3]);
}

/* Truncate an index file of either segment at every byte. */
static void test_recovery_index_truncated_every_byte(void **state)
{
    idx_sweep(state, 2 * 8, 1, cut_at);
}

/* Flip every byte of both index files of both segments. */
static void test_recovery_index_flipped_every_byte(void **state)
{
    idx_sweep(state, 0, 0, flip_at);
}

/* Deleted, emptied, garbage, or another segment's index files. */
static void test_recovery_index_missing_or_swapped(void **state)
{
    static struct idx_ctx x;
    char a[4096], b[4096], what[128];
    uint64_t rng = CL_TEST_SEED;
    static uint8_t junk[200];
    idx_prepare(state, &x);
    static const char *const sfx[] = {".index", ".timeindex"};
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < 3; k++) { /* .index, .timeindex, both */
            for (int how = 0; how < 4; how++) {
                restore(x.pristine, x.work);
                for (int f = 0; f < 2; f++) {
                    if (k != 2 && k != f) {
                        continue;
                    }
                    seg_file(a, sizeof(a), x.work, x.bases[s], sfx[f]);
                    seg_file(b, sizeof(b), x.work, x.bases[1 - s], sfx[f]);
                    if (how == 0) {
                        unlink_ok(a);
                    } else if (how == 1) {
                        cl_test_truncate(a, 0);
                    } else if (how == 2) {
                        for (size_t i = 0; i < sizeof(junk); i++) {
                            junk[i] = (uint8_t)cl_test_rand(&rng);
                        }
                        cl_test_write_file(a, junk, sizeof(junk));
                    } else {
                        cl_test_copy_tree(b, a);
                    }
                }
                snprintf(what, sizeof(what), "segment %d files %d how %d", s,
                         k, how);
                check_lookups(x.work, &x.m, what);
            }
        }
    }
    /* Both segments' indexes swapped with each other. */
    restore(x.pristine, x.work);
    for (int f = 0; f < 2; f++) {
        char tmp[4096];
        seg_file(a, sizeof(a), x.work, x.bases[0], sfx[f]);
        seg_file(b, sizeof(b), x.work, x.bases[1], sfx[f]);
        cl_test_path(tmp, sizeof(tmp), x.work, "swap.tmp");
        cl_test_check(rename(a, tmp) == 0 && rename(b, a) == 0 &&
                      rename(tmp, b) == 0);
    }
    check_lookups(x.work, &x.m, "indexes swapped");
}

/* ---------------------------------------------------------------------- */
/* A crash during a roll                                                   */
/* ---------------------------------------------------------------------- */

/* The next segment's .log exists with no header (0 bytes, or 64 zero
 * bytes) and no indexes: open writes the header, appends go there. */
static void test_recovery_headerless_next_segment(void **state)
{
    char pristine[4096], work[4096], path[4096], seg0[4096];
    static struct model m;
    cl_test_path(pristine, sizeof(pristine), CL_TEST_DIR(state), "pristine");
    cl_test_path(work, sizeof(work), CL_TEST_DIR(state), "work");
    crawllog_t *log = create_log(pristine, NULL, NULL);
    m.n = 0;
    for (int i = 0; i < 5; i++) {
        append_batch(log, &m, 2, 30, CRAWLLOG_SYNC_WRITTEN);
    }
    assert_crawllog_ok(crawllog_close(log));
    size_t seg0_size = cl_test_file_size(
        seg_file(seg0, sizeof(seg0), pristine, 0, ".log"));

    for (int variant = 0; variant < 2; variant++) {
        static uint8_t zero[CL_SEG_HEADER_SIZE];
        struct model mm = m;
        restore(pristine, work);
        seg_file(path, sizeof(path), work, m.n, ".log");
        cl_test_write_file(path, zero, variant ? sizeof(zero) : 0);
        log = cl_test_open(work, NULL);
        check_offsets(log, 0, mm.n);
        /* The header is there now, valid for this base offset. */
        uint8_t *hdr = cl_test_read_file(path, NULL);
        assert_int_equal(cl_test_file_size(path), CL_SEG_HEADER_SIZE);
        char why[128];
        assert_int_equal(cl_segment_header_check(hdr, m.n, NULL, why,
                                                 sizeof(why)), 0);
        free(hdr);
        read_check(log, &mm, 0);
        append_batch(log, &mm, 3, 11, CRAWLLOG_SYNC_WRITTEN);
        assert_true(cl_test_file_size(path) > CL_SEG_HEADER_SIZE);
        assert_crawllog_ok(crawllog_close(log));
        /* Segment 0 untouched; everything reads back after a reopen. */
        assert_int_equal(cl_test_file_size(
                             seg_file(seg0, sizeof(seg0), work, 0, ".log")),
                         seg0_size);
        log = cl_test_open(work, NULL);
        check_offsets(log, 0, mm.n);
        read_check(log, &mm, 0);
        assert_crawllog_ok(crawllog_close(log));
    }
}

/* A next segment file left by a roll that died before publishing it,
 * unknown to the shared state and to an open handle: the roll reuses it. */
static void test_recovery_leftover_segment_reused(void **state)
{
    char dir[4096], seg0[4096], next[4096], idx[4096];
    static struct model m;
    for (int variant = 0; variant < 3; variant++) {
        char sub[32];
        snprintf(sub, sizeof(sub), "data%d", variant);
        cl_test_path(dir, sizeof(dir), CL_TEST_DIR(state), sub);
        crawllog_t *log = create_log(dir, "4096", NULL);
        seg_file(seg0, sizeof(seg0), dir, 0, ".log");
        m.n = 0;
        /* Batches of about 500 bytes: stop when the next would roll. */
        append_batch(log, &m, 1, 430, CRAWLLOG_SYNC_WRITTEN);
        size_t bsz = cl_test_file_size(seg0) - CL_SEG_HEADER_SIZE;
        while (cl_test_file_size(seg0) + bsz <= 4096) {
            append_batch(log, &m, 1, 430, CRAWLLOG_SYNC_WRITTEN);
        }
        int64_t base = m.n;
        seg_file(next, sizeof(next), dir, base, ".log");
        assert_false(cl_test_exists(next));
        if (variant == 0) {
            cl_test_write_file(next, "", 0);
        } else {
            uint8_t hdr[CL_SEG_HEADER_SIZE];
            if (variant == 1) {
                memset(hdr, 0, sizeof(hdr));
            } else {
                cl_segment_header_encode(hdr, base, T0);
            }
            cl_test_write_file(next, hdr, sizeof(hdr));
            /* A stale index that must not be trusted. */
            static const uint8_t stale[16] = {0, 0, 0, 9, 0, 0, 1, 0,
                                              0, 0, 0, 20, 0, 0, 2, 0};
            cl_test_write_file(seg_file(idx, sizeof(idx), dir, base,
                                        ".index"), stale, sizeof(stale));
        }
        append_batch(log, &m, 1, 430, CRAWLLOG_SYNC_WRITTEN); /* rolls */
        append_batch(log, &m, 2, 100, CRAWLLOG_SYNC_WRITTEN);
        assert_true(cl_test_file_size(next) > CL_SEG_HEADER_SIZE);
        check_offsets(log, 0, m.n);
        read_check(log, &m, 0);
        read_check(log, &m, base);
        assert_crawllog_ok(crawllog_close(log));
        log = cl_test_open(dir, NULL);
        check_offsets(log, 0, m.n);
        read_check(log, &m, 0);
        assert_crawllog_ok(crawllog_close(log));
        check_lookups(dir, &m, "leftover segment");
    }
}

/* ---------------------------------------------------------------------- */
/* A writer killed in the middle of an append                              */
/* ---------------------------------------------------------------------- */

struct crash_arg {
    const char *dir;
    char spec[64];
    struct model *m;
    size_t nrec, vlen;
};

static void crash_child(void *p)
{
    struct crash_arg *a = p;
    struct model mm = *a->m;
    crawllog_t *log = cl_test_open(a->dir, NULL);
    cl_test_check(cl_fp_set(a->spec) == 0);
    append_batch(log, &mm, a->nrec, a->vlen, CRAWLLOG_SYNC_WRITTEN);
    cl_test_failf_at(__FILE__, __LINE__, "the append survived %s", a->spec);
}

/* Run a child that dies n bytes into the write of its next batch (of
 * nrec records of vlen bytes, at offset m->n); returns the .log's size
 * before it. */
static size_t crash_append(const char *dir, struct model *m, size_t n,
                           size_t nrec, size_t vlen)
{
    char seg[4096];
    struct crash_arg a = {dir, "", m, nrec, vlen};
    snprintf(a.spec, sizeof(a.spec), "seg.append.write=CRASH(%zu)", n);
    seg_file(seg, sizeof(seg), dir, 0, ".log");
    size_t before = cl_test_file_size(seg);
    cl_test_assert_killed_by(cl_test_fork_run(crash_child, &a), SIGKILL);
    assert_int_equal(cl_test_file_size(seg), before + n);
    return before;
}

/* Encoded size of the batch append_batch() would write at offset first. */
static size_t batch_len(int64_t first, size_t nrec, size_t vlen)
{
    static struct recbuf rb;
    for (size_t i = 0; i < nrec; i++) {
        rec_fill(&rb, i, first + (int64_t)i, vlen);
    }
    size_t n = cl_record_batch_size(rb.recs, nrec);
    rec_free(&rb, nrec);
    return n;
}

/* Create the topic in a new data directory <test dir>/data<i> (its path
 * into dir, that of its first segment into seg) and empty the model. */
static crawllog_t *fresh_log(void **state, size_t i, char dir[4096],
                             char seg[4096], struct model *m)
{
    char sub[32];
    snprintf(sub, sizeof(sub), "data%zu", i);
    cl_test_path(dir, 4096, CL_TEST_DIR(state), sub);
    seg_file(seg, 4096, dir, 0, ".log");
    m->n = 0;
    return create_log(dir, NULL, NULL);
}

/* Reopen after the crash: the torn bytes are gone, the end is unchanged,
 * the next append is contiguous.  A whole but unpublished batch is
 * complete data and is kept. */
static void test_recovery_killed_writer_reopen(void **state)
{
    char dir[4096], seg[4096];
    static struct model m;
    const size_t nrec = 3, vlen = 150;
    size_t len = batch_len(3, nrec, vlen); /* after 3 records */
    assert_true(len > 400);
    const size_t cuts[] = {1, 8, 12, 20, 60, 61, 62, 100, len / 2, len - 1,
                           len};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        crawllog_t *log = fresh_log(state, i, dir, seg, &m);
        append_batch(log, &m, 2, 10, CRAWLLOG_SYNC_WRITTEN);
        append_batch(log, &m, 1, 33, CRAWLLOG_SYNC_DURABLE);
        assert_crawllog_ok(crawllog_close(log));
        size_t before = crash_append(dir, &m, cuts[i], nrec, vlen);
        log = cl_test_open(dir, NULL);
        if (cuts[i] == len) {
            model_add(&m, nrec, vlen);
            assert_int_equal(cl_test_file_size(seg), before + len);
        } else {
            assert_int_equal(cl_test_file_size(seg), before);
        }
        check_offsets(log, 0, m.n);
        read_check(log, &m, 0);
        append_batch(log, &m, 2, 7, CRAWLLOG_SYNC_WRITTEN);
        read_check(log, &m, 0);
        assert_crawllog_ok(crawllog_close(log));
    }
}

/* A handle open before the writer died appends next: under the lock it
 * sees a file larger than the published size and recovers the tail. */
static void test_recovery_killed_writer_open_handle(void **state)
{
    char dir[4096], seg[4096];
    static struct model m;
    const size_t nrec = 2, vlen = 90;
    size_t len = batch_len(3, nrec, vlen); /* after 3 records */
    const size_t cuts[] = {1, 30, 61, 70, len - 1, len};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        crawllog_t *log = fresh_log(state, i, dir, seg, &m);
        append_batch(log, &m, 3, 12, CRAWLLOG_SYNC_WRITTEN);
        read_check(log, &m, 0);
        size_t before = crash_append(dir, &m, cuts[i], nrec, vlen);
        if (cuts[i] == len) {
            model_add(&m, nrec, vlen);
        }
        /* Readers never see the unpublished bytes. */
        int64_t e = -1;
        assert_crawllog_ok(crawllog_partition_offsets(log, TOPIC, 0, NULL,
                                                      &e));
        assert_int_equal(e, m.n - (cuts[i] == len ? (int64_t)nrec : 0));
        append_batch(log, &m, 1, 5, CRAWLLOG_SYNC_WRITTEN);
        assert_int_equal(cl_test_file_size(seg),
                         before + (cuts[i] == len ? len : 0) +
                             batch_len(m.n - 1, 1, 5));
        check_offsets(log, 0, m.n);
        read_check(log, &m, 0);
        assert_crawllog_ok(crawllog_close(log));
        log = cl_test_open(dir, NULL);
        check_offsets(log, 0, m.n);
        read_check(log, &m, 0);
        assert_crawllog_ok(crawllog_close(log));
    }
}

/* ---------------------------------------------------------------------- */
/* The shared state                                                        */
/* ---------------------------------------------------------------------- */

/* partition.state with random bytes, zero length, truncated, or a valid
 * header from this boot with nonsense counters: open rebuilds it. */
static void test_recovery_damaged_state(void **state)
{
    char pristine[4096], work[4096], st[4096];
    static struct model m;
    static uint8_t junk[CL_PSTATE_SIZE];
    uint64_t rng = CL_TEST_SEED;
    cl_test_path(pristine, sizeof(pristine), CL_TEST_DIR(state), "pristine");
    cl_test_path(work, sizeof(work), CL_TEST_DIR(state), "work");
    crawllog_t *log = create_log(pristine, "4096", "100");
    m.n = 0;
    for (int i = 0; i < 30; i++) {
        append_batch(log, &m, 2, 70, i % 3 ? CRAWLLOG_SYNC_WRITTEN
                                           : CRAWLLOG_SYNC_DURABLE);
    }
    assert_crawllog_ok(crawllog_close(log));
    for (int variant = 0; variant < 6; variant++) {
        struct model mm = m;
        restore(pristine, work);
        part_file(st, sizeof(st), work, CL_PSTATE_NAME);
        for (size_t i = 0; i < sizeof(junk); i++) {
            junk[i] = (uint8_t)cl_test_rand(&rng);
        }
        if (variant == 0) {
            cl_test_write_file(st, junk, sizeof(junk));
        } else if (variant == 1) {
            cl_test_write_file(st, "", 0);
        } else if (variant == 2) {
            cl_test_truncate(st, 17);
        } else if (variant == 3) {
            cl_test_write_file(st, junk, 100);
        } else {
            /* Keep magic, version and boot id; scramble the rest. */
            size_t keep = offsetof(struct cl_pstate_shm, next_offset);
            uint8_t *cur = cl_test_read_file(st, NULL);
            memcpy(junk, cur, keep);
            if (variant == 5) {
                /* Plausible active segment, absurd sizes and counters. */
                struct cl_pstate_shm *s = (struct cl_pstate_shm *)junk;
                s->active_base = ((struct cl_pstate_shm *)cur)->active_base;
            }
            free(cur);
            cl_test_write_file(st, junk, sizeof(junk));
        }
        log = cl_test_open(work, NULL);
        check_offsets(log, 0, mm.n);
        read_check(log, &mm, 0);
        append_batch(log, &mm, 1, 4, CRAWLLOG_SYNC_WRITTEN);
        read_check(log, &mm, mm.n - 1);
        assert_crawllog_ok(crawllog_close(log));
        check_lookups(work, &mm, "damaged state");
    }
}

/* One record with an explicit timestamp, appended WRITTEN. */
static void append_ts(crawllog_t *log, int64_t ts)
{
    char v[40];
    memset(v, 'v', sizeof(v));
    crawllog_record_t r = {.key = "k", .key_len = 1, .value = v,
                           .value_len = sizeof(v), .timestamp = ts};
    cl_test_check(crawllog_append(log, TOPIC, 0, &r, 1, CRAWLLOG_SYNC_WRITTEN,
                                  NULL) == CRAWLLOG_OK);
}

/* Child: batches B1 and B2 (B2 has the largest timestamp), then B3 is the
 * first index point (more than 150 bytes after the first batch) and the
 * writer dies between its two index writes. */
static void crash_between_index_writes(void *arg)
{
    crawllog_t *log = cl_test_open(arg, NULL);
    append_ts(log, 1000);
    append_ts(log, 5000);
    cl_test_check(cl_fp_set("idx.write=CRASH@2") == 0);
    append_ts(log, 2000);
    _exit(3); /* not reached: the failpoint kills the process */
}

/* Regression (found by the kill -9 chaos test): a writer that dies after
 * writing an index point's offset entry but before its time entry left
 * recovery resuming at that offset entry with a running maximum timestamp
 * taken from older time entries, so a batch between them with a larger
 * timestamp was forgotten and later time entries were too small (verify:
 * "entry: time 3000, largest 5000").  Time entries are now written first. */
static void test_recovery_writer_dies_between_index_writes(void **state)
{
    char dir[4096];
    cl_test_path(dir, sizeof(dir), CL_TEST_DIR(state), "tidx");
    crawllog_t *log = cl_test_open(dir, NULL);
    /* Batches of ~110 bytes: an index point every second batch. */
    cl_test_create_topic(log, TOPIC, 1, "index.interval.bytes", "150", NULL);
    assert_crawllog_ok(crawllog_close(log));
    int st = cl_test_fork_run(crash_between_index_writes, dir);
    cl_test_assert_killed_by(st, SIGKILL);
    log = cl_test_open(dir, NULL);
    for (int i = 0; i < 12; i++) {
        append_ts(log, 2500 + i); /* below 5000: more index points */
    }
    /* ~ "entry: time 2511, largest 5000" with the old write order. */
    crawllog_reader_t *rd;
    int64_t off;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, TOPIC, 0));
    assert_crawllog_ok(crawllog_reader_seek_time(rd, 4000, &off));
    assert_int_equal(off, 1); /* B2 */
    crawllog_reader_destroy(rd);
    cl_test_close_verify(log, dir);
}

int main(void)
{
    /* Thousands of small directory trees are copied and removed: on a
     * tmpfs that takes seconds, on a busy disk minutes.  TMPDIR, if set,
     * wins. */
    if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK | X_OK) == 0) {
        setenv("TMPDIR", "/dev/shm", 1);
    }
#define T(f) cmocka_unit_test_setup_teardown(f, setup, cl_test_fp_teardown)
    const struct CMUnitTest tests[] = {
        T(test_recovery_torn_tail_small),
        T(test_recovery_torn_tail_medium),
        T(test_recovery_torn_tail_large),
        T(test_recovery_torn_tail_small_no_state),
        T(test_recovery_torn_tail_medium_no_state),
        T(test_recovery_torn_tail_large_no_state),
        T(test_recovery_rot_nonfinal_is_corrupt),
        T(test_recovery_rot_final_batch),
        T(test_recovery_rot_after_reboot),
        T(test_recovery_rot_sealed_segment),
        T(test_recovery_index_truncated_every_byte),
        T(test_recovery_index_flipped_every_byte),
        T(test_recovery_index_missing_or_swapped),
        T(test_recovery_headerless_next_segment),
        T(test_recovery_leftover_segment_reused),
        T(test_recovery_killed_writer_reopen),
        T(test_recovery_killed_writer_open_handle),
        T(test_recovery_damaged_state),
        T(test_recovery_writer_dies_between_index_writes),
    };
#undef T
    return cmocka_run_group_tests_name("recovery", tests, NULL, NULL);
}
