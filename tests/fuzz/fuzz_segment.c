/*
 * fuzz_segment.c - libFuzzer target: the input becomes the active segment
 * file of a partition, then the library opens (recovers), reads, appends,
 * reopens and verifies it.
 *
 * Input: byte 0 = mode, the rest = the segment file's bytes.
 *   bit 0  write a valid 64-byte header (for the segment's base) over the
 *          first bytes, so mutations get past the header check;
 *   bit 1  recompute the CRC of every batch whose header parses and fits,
 *          so mutations reach the record decoding behind the CRC;
 *   bit 2  keep the template's partition.state (same boot: the library
 *          trusts its cached sizes, no full recovery) - robustness only;
 *   bit 3  two segments: a valid sealed segment 0 holding TWO_SEG_BASE
 *          records comes first and the input is segment TWO_SEG_BASE.
 *
 * The template data directories are made once per process by the library
 * itself (crawllog_open, crawllog_topic_create, appends); each input works
 * on a fresh copy under the scratch directory (tmpfs).
 *
 * Oracles (without bit 2, i.e. after a full recovery as after a reboot):
 *  - a bad header (magic, CRC, version, size, base) fails the open; an
 *    empty or header-less file is recovered as an empty segment;
 *  - otherwise the open succeeds and keeps exactly the longest prefix of
 *    complete batches with good headers, good CRCs and contiguous offsets
 *    (computed here independently);
 *  - a reader from the log start returns those records in offset order,
 *    with the keys and values of the bytes, until the first batch that does
 *    not decode, where it fails with CRAWLLOG_ECORRUPT;
 *  - one appended record gets the next offset, is read back after a
 *    reopen, and crawllog_verify reports no problem iff every kept batch
 *    decodes.
 * With bit 2: no crash, no leak, read offsets contiguous.
 */
#include "fuzz_common.h"

#include "crawllog.h"
#include "crc32c.h"
#include "control.h"
#include "record.h"
#include "segment.h"

#define TWO_SEG_BASE 40 /* records in the first segment of the template */

static char tmpl[2][600]; /* [0]: one segment, [1]: two segments */
static unsigned long counter;

static void die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "fuzz_segment: %s: %s (%s)\n", what,
            crawllog_strerror(rc), msg ? msg : "");
    abort();
}

static void make_template(const char *dir, int two)
{
    crawllog_t *log;
    crawllog_conf_t *tc;
    char err[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_open(&log, dir, NULL, err, sizeof(err));
    if (rc != 0) {
        die("open template", rc, err);
    }
    crawllog_conf_new(&tc);
    crawllog_conf_set(tc, "index.interval.bytes", "0", err, sizeof(err));
    if (two) {
        crawllog_conf_set(tc, "segment.bytes", "4096", err, sizeof(err));
    }
    rc = crawllog_topic_create(log, "t", 1, tc);
    crawllog_conf_destroy(tc);
    if (rc != 0) {
        die("topic create", rc, crawllog_errmsg(log));
    }
    if (two) {
        /* 40 records of 80 bytes roll once the first segment is full. */
        char val[80];
        memset(val, 'v', sizeof(val));
        for (int i = 0; i < TWO_SEG_BASE; i++) {
            crawllog_record_t r = {"k", 1, val, sizeof(val), 1000 + i, NULL,
                                   0};
            rc = crawllog_append(log, "t", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN,
                                 NULL);
            if (rc != 0) {
                die("append", rc, crawllog_errmsg(log));
            }
        }
    }
    crawllog_close(log);
    if (two) {
        /* The appends rolled once or twice, at some offset below
         * TWO_SEG_BASE; a header-only segment TWO_SEG_BASE becomes the
         * active one (its predecessor ends exactly there), and is what
         * the inputs replace. */
        char p[1300];
        snprintf(p, sizeof(p), "%s/topics/t/0/%020d.log", dir, TWO_SEG_BASE);
        struct stat st;
        if (stat(p, &st) != 0) {
            uint8_t hdr[CL_SEG_HEADER_SIZE];
            cl_segment_header_encode(hdr, TWO_SEG_BASE, 1000);
            fz_write_file(p, hdr, sizeof(hdr));
        }
    }
}

static void init(void)
{
    const char *root = fz_scratch();
    for (int i = 0; i < 2; i++) {
        snprintf(tmpl[i], sizeof(tmpl[i]), "%s/tmpl%d", root, i);
        make_template(tmpl[i], i);
    }
}

/* Expected result of recovering the bytes (without bit 2). */
struct expect {
    int header_bad;      /* the open must fail */
    int64_t base, end;   /* offsets kept: [base, end) of this segment */
    uint64_t kept;       /* bytes kept */
    int64_t first_bad;   /* offset of the first record that does not
                            decode, or -1 (data batches: readers skip a
                            marker's records without decoding them) */
    int any_bad;         /* a record of any batch, marker or not, does
                            not decode (crawllog_verify reports it) */
};

static void scan(const uint8_t *seg, size_t len, int64_t base,
                 struct expect *e)
{
    static const uint8_t zero[CL_SEG_HEADER_SIZE];
    char why[128];
    memset(e, 0, sizeof(*e));
    e->base = e->end = base;
    e->first_bad = -1;
    e->any_bad = 0;
    e->kept = CL_SEG_HEADER_SIZE;
    if (len < CL_SEG_HEADER_SIZE ||
        (len == CL_SEG_HEADER_SIZE && memcmp(seg, zero, len) == 0)) {
        return; /* a creation cut short: rewritten as empty */
    }
    if (cl_segment_header_check(seg, base, NULL, why, sizeof(why)) != 0) {
        e->header_bad = 1;
        return;
    }
    size_t pos = CL_SEG_HEADER_SIZE;
    while (len - pos >= CL_BATCH_HEADER_SIZE) {
        struct cl_batch_hdr h;
        if (cl_record_batch_header(seg + pos, len - pos, &h) != 0 ||
            h.base_offset != e->end ||
            cl_record_batch_total(&h) > len - pos ||
            cl_record_batch_check_crc(seg + pos, cl_record_batch_total(&h)) !=
                0) {
            break;
        }
        size_t total = cl_record_batch_total(&h);
        /* A control batch (transaction marker) is skipped by readers
         * without decoding its records. */
        if (e->first_bad < 0) {
            struct cl_record_iter it;
            struct cl_record_view rv;
            int rc = cl_record_iter_init(&it, seg + pos, total);
            int64_t ok = 0;
            while (rc == 0 && (rc = cl_record_iter_next(&it, &rv)) == 0) {
                ok++;
            }
            if (rc != 1) {
                e->any_bad = 1;
                if (!(h.attributes & CL_BATCH_ATTR_CONTROL)) {
                    e->first_bad = h.base_offset + ok;
                }
            }
        }
        pos += total;
        e->end = h.base_offset + h.last_offset_delta + 1;
    }
    e->kept = pos;
}

/* Records of data batches (not markers) with offsets in [from, to) among
 * the batches of seg[0, len) (len: the valid prefix scan() kept): what a
 * read_uncommitted reader returns (markers are never returned). */
static int64_t data_records(const uint8_t *seg, size_t len, int64_t from,
                            int64_t to)
{
    size_t pos = CL_SEG_HEADER_SIZE;
    int64_t n = 0;
    while (len >= pos && len - pos >= CL_BATCH_HEADER_SIZE) {
        struct cl_batch_hdr h;
        struct cl_record_iter it;
        struct cl_record_view rv;
        if (cl_record_batch_header(seg + pos, len - pos, &h) != 0 ||
            cl_record_batch_total(&h) > len - pos) {
            break;
        }
        size_t total = cl_record_batch_total(&h);
        if (!(h.attributes & CL_BATCH_ATTR_CONTROL) &&
            cl_record_iter_init(&it, seg + pos, total) == 0) {
            while (cl_record_iter_next(&it, &rv) == 0) {
                n += rv.offset >= from && rv.offset < to;
            }
        }
        pos += total;
    }
    return n;
}

/* The record at offset off of the (fixed) input bytes: key and value. */
static int find_record(const uint8_t *seg, size_t len, int64_t off,
                       struct cl_record_view *out)
{
    size_t pos = CL_SEG_HEADER_SIZE;
    while (len - pos >= CL_BATCH_HEADER_SIZE) {
        struct cl_batch_hdr h;
        if (cl_record_batch_header(seg + pos, len - pos, &h) != 0) {
            return -1;
        }
        size_t total = cl_record_batch_total(&h);
        if (off <= h.base_offset + h.last_offset_delta) {
            struct cl_record_iter it;
            if (cl_record_iter_init(&it, seg + pos, total) != 0) {
                return -1;
            }
            while (cl_record_iter_next(&it, out) == 0) {
                if (out->offset == off) {
                    return 0;
                }
            }
            return -1;
        }
        pos += total;
    }
    return -1;
}

static void fix_crcs(uint8_t *seg, size_t len)
{
    size_t pos = CL_SEG_HEADER_SIZE;
    while (len >= pos && len - pos >= CL_BATCH_HEADER_SIZE) {
        struct cl_batch_hdr h;
        if (cl_record_batch_header(seg + pos, len - pos, &h) != 0 ||
            cl_record_batch_total(&h) > len - pos) {
            return;
        }
        size_t total = cl_record_batch_total(&h);
        fz_put_u32(seg + pos + CL_BATCH_OFF_CRC,
                   cl_crc32c(0, seg + pos + CL_BATCH_OFF_ATTRIBUTES,
                             total - CL_BATCH_OFF_ATTRIBUTES));
        pos += total;
    }
}

static void count_problem(void *opaque, const char *problem)
{
    (void)problem;
    ++*(size_t *)opaque;
}

/* Read everything from the log start; returns the records read, *rcp the
 * reader's final status. */
static int64_t read_all(crawllog_t *log, int64_t from, const uint8_t *seg,
                        size_t len, int64_t seg_base, int check, int *rcp)
{
    crawllog_reader_t *rd;
    int rc = crawllog_reader_new(&rd, log, "t", 0);
    if (rc != 0) {
        *rcp = rc;
        return 0;
    }
    /* Every data record, whatever its transaction (test_txn_read covers
     * read_committed); markers are skipped in both levels. */
    rc = crawllog_reader_set_isolation(rd, CRAWLLOG_READ_UNCOMMITTED);
    FZ_CHECK(rc == 0, "set_isolation: %d", rc);
    rc = crawllog_reader_seek(rd, from);
    FZ_CHECK(rc == 0, "seek %lld: %d", (long long)from, rc);
    int64_t n = 0, next = from;
    for (;;) {
        const crawllog_msg_t *m;
        rc = crawllog_reader_next(rd, &m);
        if (rc != 0 || m == NULL) {
            break;
        }
        /* Offsets ascend; the ones skipped were markers (counted). */
        FZ_CHECK(crawllog_msg_offset(m) >= next, "offset %lld, expected %lld",
                 (long long)crawllog_msg_offset(m), (long long)next);
        next = crawllog_msg_offset(m);
        if (check && next >= seg_base) {
            struct cl_record_view rv;
            size_t kl, vl;
            const void *k = crawllog_msg_key(m, &kl);
            const void *v = crawllog_msg_value(m, &vl);
            FZ_CHECK(find_record(seg, len, next, &rv) == 0, "record %lld",
                     (long long)next);
            FZ_CHECK((k == NULL) == (rv.key == NULL) &&
                         (k == NULL || (kl == (size_t)rv.key_len &&
                                        memcmp(k, rv.key, kl) == 0)),
                     "key of %lld", (long long)next);
            FZ_CHECK((v == NULL) == (rv.value == NULL) &&
                         (v == NULL || (vl == (size_t)rv.value_len &&
                                        memcmp(v, rv.value, vl) == 0)),
                     "value of %lld", (long long)next);
            FZ_CHECK(crawllog_msg_timestamp(m) == rv.timestamp, "ts");
        }
        next++;
        n++;
    }
    crawllog_reader_destroy(rd);
    *rcp = rc;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        init();
        inited = 1;
    }
    if (size < 1 || size > 1 + (1 << 20)) {
        return 0;
    }
    unsigned mode = data[0];
    int two = (mode & 8) != 0, keep_state = (mode & 4) != 0;
    int64_t base = two ? TWO_SEG_BASE : 0;
    size_t len = size - 1;
    uint8_t *seg = malloc(len + CL_SEG_HEADER_SIZE);
    FZ_CHECK(seg != NULL, "malloc");
    memcpy(seg, data + 1, len);
    if (mode & 1) {
        if (len < CL_SEG_HEADER_SIZE) {
            len = CL_SEG_HEADER_SIZE;
        }
        cl_segment_header_encode(seg, base, 1000);
    }
    if (mode & 2) {
        fix_crcs(seg, len);
    }

    char dir[700], path[800], err[CRAWLLOG_ERRSTR_SIZE];
    snprintf(dir, sizeof(dir), "%s/d%lu", fz_scratch(), counter++);
    FZ_CHECK(fz_copy_tree(tmpl[two], dir) == 0, "copy template");
    snprintf(path, sizeof(path), "%s/topics/t/0/%020lld.log", dir,
             (long long)base);
    FZ_CHECK(fz_write_file(path, seg, len) == 0, "write segment");
    if (!keep_state) {
        snprintf(path, sizeof(path), "%s/topics/t/0/partition.state", dir);
        unlink(path);
    }

    struct expect e;
    scan(seg, len, base, &e);

    crawllog_t *log = NULL;
    int64_t start = -1, end = -1;
    int rc = crawllog_open(&log, dir, NULL, err, sizeof(err));
    if (rc == 0) {
        rc = crawllog_partition_offsets(log, "t", 0, &start, &end);
    }
    if (!keep_state) {
        if (e.header_bad) {
            FZ_CHECK(rc != 0, "bad header accepted");
        } else {
            FZ_CHECK(rc == 0, "recovery failed: %s",
                     log ? crawllog_errmsg(log) : err);
            FZ_CHECK(start == 0 && end == e.end,
                     "offsets [%lld, %lld), expected [0, %lld)",
                     (long long)start, (long long)end, (long long)e.end);
            struct stat st;
            snprintf(path, sizeof(path), "%s/topics/t/0/%020lld.log", dir,
                     (long long)base);
            FZ_CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == e.kept,
                     "kept %lld bytes, expected %llu",
                     (long long)st.st_size, (unsigned long long)e.kept);
        }
    }
    if (rc == 0) {
        int rrc;
        int check = !keep_state;
        int64_t n = read_all(log, start, seg, len, base, check, &rrc);
        if (check) {
            int64_t want = e.first_bad >= 0 ? e.first_bad : e.end;
            int64_t nwant = start < base ? (base - start) : 0;
            nwant += data_records(seg, e.kept, start > base ? start : base,
                                  want);
            FZ_CHECK(n == nwant, "read %lld records, expected %lld",
                     (long long)n, (long long)nwant);
            FZ_CHECK(rrc == (e.first_bad >= 0 ? CRAWLLOG_ECORRUPT : 0),
                     "reader status %d", rrc);
        }
        crawllog_record_t r = {"fz", 2, "value", 5, -1, NULL, 0};
        int64_t off = -1;
        int arc = crawllog_append(log, "t", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN,
                                  &off);
        if (check) {
            FZ_CHECK(arc == 0 && off == e.end, "append %d at %lld", arc,
                     (long long)off);
        }
    }
    if (log != NULL) {
        crawllog_close(log);
    }

    if (!keep_state && !e.header_bad) {
        rc = crawllog_open(&log, dir, NULL, err, sizeof(err));
        FZ_CHECK(rc == 0, "reopen: %s", err);
        rc = crawllog_partition_offsets(log, "t", 0, &start, &end);
        FZ_CHECK(rc == 0 && end == e.end + 1, "reopen offsets %d [%lld, %lld)",
                 rc, (long long)start, (long long)end);
        if (e.first_bad < 0) {
            int rrc;
            int64_t n = read_all(log, start, NULL, 0, base, 0, &rrc);
            /* Every offset but the markers', and the appended record. */
            int64_t nwant = (start < base ? base - start : 0) +
                            data_records(seg, e.kept,
                                         start > base ? start : base,
                                         e.end) +
                            1;
            FZ_CHECK(rrc == 0 && n == nwant, "reread %lld, expected %lld: %d",
                     (long long)n, (long long)nwant, rrc);
        }
        crawllog_close(log);
        size_t problems = 0;
        rc = crawllog_verify(dir, count_problem, &problems, NULL, err,
                             sizeof(err));
        FZ_CHECK(rc == 0 || rc == CRAWLLOG_ECORRUPT, "verify %d: %s", rc,
                 err);
        FZ_CHECK((problems == 0) == (e.first_bad < 0 && !e.any_bad),
                 "verify found %zu problems, first bad record %lld", problems,
                 (long long)e.first_bad);
    }
    fz_rmrf(dir);
    free(seg);
    return 0;
}
