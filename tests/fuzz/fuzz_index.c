/*
 * fuzz_index.c - libFuzzer target: a segment's offset index or time index
 * file (libcrawllog/index.c) replaced by the input, beside valid segments.
 *
 * The template data directory (made once per process by the library) has
 * topic "t" with one partition of several segments (segment.bytes 4096,
 * index.interval.bytes 0: an index entry for nearly every batch); record
 * i has value "v<i>" and a known timestamp (mostly rising, sometimes
 * falling back).
 *
 * Input: byte 0 = mode, the rest = the new content of one index file:
 *   bits 0-1  which segment (modulo the number of segments)
 *   bit 2     0: <base>.index, 1: <base>.timeindex
 *   bit 3     also remove partition.state (a reboot: full recovery)
 *
 * Oracles: the open succeeds (an index is derived data, never a reason
 * to fail), and lookups equal a full scan: for every offset, a seek then
 * a read returns that record; for every probed timestamp T, seek_time
 * returns the first offset whose timestamp is >= T (the log end if none);
 * an append after it all gets the log end's offset; crawllog_verify runs
 * without crashing.
 */
#include "fuzz_common.h"

#include "crawllog.h"

#define NREC 260
#define MAX_SEG 16

static char tmpl[600];
static int64_t ts[NREC];
static int64_t seg_base[MAX_SEG];
static int nseg;
static unsigned long counter;

static void die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "fuzz_index: %s: %s (%s)\n", what, crawllog_strerror(rc),
            msg ? msg : "");
    abort();
}

static void init(void)
{
    crawllog_t *log;
    crawllog_conf_t *tc;
    char err[CRAWLLOG_ERRSTR_SIZE];
    snprintf(tmpl, sizeof(tmpl), "%s/tmpl", fz_scratch());
    int rc = crawllog_open(&log, tmpl, NULL, err, sizeof(err));
    if (rc != 0) {
        die("open", rc, err);
    }
    crawllog_conf_new(&tc);
    crawllog_conf_set(tc, "index.interval.bytes", "0", err, sizeof(err));
    crawllog_conf_set(tc, "segment.bytes", "4096", err, sizeof(err));
    rc = crawllog_topic_create(log, "t", 1, tc);
    crawllog_conf_destroy(tc);
    if (rc != 0) {
        die("topic create", rc, crawllog_errmsg(log));
    }
    int i = 0;
    while (i < NREC) {
        crawllog_record_t r[3];
        char val[3][16];
        int n = 1 + i % 3;
        if (i + n > NREC) {
            n = NREC - i;
        }
        for (int j = 0; j < n; j++) {
            int k = i + j;
            ts[k] = 1000 + 10 * k - (k % 7 == 3 ? 35 : 0);
            snprintf(val[j], sizeof(val[j]), "v%d", k);
            r[j] = (crawllog_record_t){NULL, 0, val[j], strlen(val[j]),
                                       ts[k], NULL, 0};
        }
        int64_t off;
        rc = crawllog_append(log, "t", 0, r, (size_t)n,
                             CRAWLLOG_SYNC_WRITTEN, &off);
        if (rc != 0 || off != i) {
            die("append", rc, crawllog_errmsg(log));
        }
        i += n;
    }
    crawllog_close(log);
    /* The segments' base offsets, ascending. */
    char pdir[700];
    snprintf(pdir, sizeof(pdir), "%s/topics/t/0", tmpl);
    DIR *d = opendir(pdir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l == 24 && strcmp(de->d_name + 20, ".log") == 0 &&
            nseg < MAX_SEG) {
            seg_base[nseg++] = strtoll(de->d_name, NULL, 10);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    for (int a = 0; a < nseg; a++) {
        for (int b = a + 1; b < nseg; b++) {
            if (seg_base[b] < seg_base[a]) {
                int64_t t = seg_base[a];
                seg_base[a] = seg_base[b];
                seg_base[b] = t;
            }
        }
    }
    if (nseg < 3) {
        die("template has fewer than 3 segments", 0, "");
    }
}

/* First offset with a timestamp >= t, NREC if none (the full scan). */
static int64_t scan_time(int64_t t)
{
    for (int i = 0; i < NREC; i++) {
        if (ts[i] >= t) {
            return i;
        }
    }
    return NREC;
}

/* Lookups in [lo, hi) (offsets) and around their timestamps. */
static void check(crawllog_t *log, int64_t lo, int64_t hi)
{
    crawllog_reader_t *rd;
    int rc = crawllog_reader_new(&rd, log, "t", 0);
    FZ_CHECK(rc == 0, "reader: %s", crawllog_errmsg(log));
    lo = lo < 0 ? 0 : lo;
    hi = hi > NREC ? NREC : hi;
    for (int64_t o = lo; o < hi; o++) {
        const crawllog_msg_t *m;
        rc = crawllog_reader_seek(rd, o);
        FZ_CHECK(rc == 0, "seek %lld: %d", (long long)o, rc);
        rc = crawllog_reader_next(rd, &m);
        FZ_CHECK(rc == 0 && m != NULL, "next after seek %lld: %d %s",
                 (long long)o, rc, crawllog_reader_errmsg(rd));
        FZ_CHECK(crawllog_msg_offset(m) == o, "seek %lld read %lld",
                 (long long)o, (long long)crawllog_msg_offset(m));
        size_t vl;
        const char *v = crawllog_msg_value(m, &vl);
        char want[32];
        snprintf(want, sizeof(want), "v%lld", (long long)o);
        FZ_CHECK(v != NULL && vl == strlen(want) && memcmp(v, want, vl) == 0,
                 "value at %lld", (long long)o);
        FZ_CHECK(crawllog_msg_timestamp(m) == ts[o], "timestamp at %lld",
                 (long long)o);
    }
    /* Every timestamp of the range, its neighbours and both ends. */
    for (int i = (int)lo - 1; i <= hi; i++) {
        int64_t base_t = i < 0 ? 0 : i == NREC ? ts[NREC - 1] + 100 : ts[i];
        for (int64_t dt = -1; dt <= 1; dt++) {
            int64_t t = base_t + dt, off = -2;
            rc = crawllog_reader_seek_time(rd, t, &off);
            FZ_CHECK(rc == 0, "seek_time %lld: %d %s", (long long)t, rc,
                     crawllog_reader_errmsg(rd));
            FZ_CHECK(off == scan_time(t),
                     "seek_time %lld gave %lld, full scan %lld",
                     (long long)t, (long long)off, (long long)scan_time(t));
            FZ_CHECK(crawllog_reader_position(rd) == off, "position");
        }
    }
    crawllog_reader_destroy(rd);
}

/* FUZZ_DUMP_SEEDS=dir: write the template's index files as seeds. */
static void dump_seeds(const char *out)
{
    mkdir(out, 0755);
    for (int s = 0; s < nseg && s < 4; s++) {
        for (int t = 0; t < 2; t++) {
            char path[1024];
            size_t len = 0;
            snprintf(path, sizeof(path), "%s/topics/t/0/%020lld.%s", tmpl,
                     (long long)seg_base[s], t ? "timeindex" : "index");
            uint8_t *f = fz_read_file(path, &len);
            uint8_t *buf = malloc(len + 1);
            FZ_CHECK(f != NULL && buf != NULL, "read %s", path);
            memcpy(buf + 1, f, len);
            static const char *const var[4] = {"", "-reboot", "-torn",
                                               "-shifted"};
            for (int v = 0; v < 4; v++) {
                size_t n = len + 1;
                buf[0] = (uint8_t)(s | (t ? 4 : 0) | (v == 1 ? 8 : 0));
                if (v == 2) {
                    n = len / 2 + 1;
                }
                if (v == 3 && len >= 16) {
                    buf[1 + len / 2] ^= 0x01; /* an entry off by a bit */
                }
                snprintf(path, sizeof(path), "%s/seed-s%d-%s%s", out, s,
                         t ? "timeindex" : "index", var[v]);
                FZ_CHECK(fz_write_file(path, buf, n) == 0, "write %s", path);
            }
            free(buf);
            free(f);
        }
    }
}

static void noop_problem(void *opaque, const char *problem)
{
    (void)opaque;
    (void)problem;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        init();
        /* The oracle itself, on the untouched template. */
        char err[CRAWLLOG_ERRSTR_SIZE];
        crawllog_t *log;
        FZ_CHECK(crawllog_open(&log, tmpl, NULL, err, sizeof(err)) == 0,
                 "open: %s", err);
        check(log, 0, NREC);
        crawllog_close(log);
        inited = 1;
        const char *out = getenv("FUZZ_DUMP_SEEDS");
        if (out != NULL && *out != '\0') {
            dump_seeds(out);
        }
    }
    if (size < 1 || size > (1 << 20)) {
        return 0;
    }
    unsigned mode = data[0];
    int s = (int)(mode & 3u) % nseg;
    const char *suffix = (mode & 4) ? "timeindex" : "index";

    char dir[700], path[800], err[CRAWLLOG_ERRSTR_SIZE];
    snprintf(dir, sizeof(dir), "%s/d%lu", fz_scratch(), counter++);
    FZ_CHECK(fz_copy_tree(tmpl, dir) == 0, "copy template");
    snprintf(path, sizeof(path), "%s/topics/t/0/%020lld.%s", dir,
             (long long)seg_base[s], suffix);
    FZ_CHECK(fz_write_file(path, data + 1, size - 1) == 0, "write %s", path);
    if (mode & 8) {
        snprintf(path, sizeof(path), "%s/topics/t/0/partition.state", dir);
        unlink(path);
    }

    crawllog_t *log;
    int rc = crawllog_open(&log, dir, NULL, err, sizeof(err));
    FZ_CHECK(rc == 0, "open with a damaged index: %s", err);
    int64_t start, end;
    rc = crawllog_partition_offsets(log, "t", 0, &start, &end);
    FZ_CHECK(rc == 0 && start == 0 && end == NREC,
             "offsets %d [%lld, %lld): %s", rc, (long long)start,
             (long long)end, crawllog_errmsg(log));
    check(log, seg_base[s] - 2,
          s + 1 < nseg ? seg_base[s + 1] + 2 : NREC);
    crawllog_record_t r = {NULL, 0, "x", 1, ts[NREC - 1] + 50, NULL, 0};
    int64_t off = -1;
    rc = crawllog_append(log, "t", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, &off);
    FZ_CHECK(rc == 0 && off == NREC, "append %d at %lld: %s", rc,
             (long long)off, crawllog_errmsg(log));
    crawllog_close(log);
    size_t problems = 0;
    rc = crawllog_verify(dir, noop_problem, NULL, &problems, err,
                         sizeof(err));
    FZ_CHECK(rc == 0 || rc == CRAWLLOG_ECORRUPT, "verify %d: %s", rc, err);
    fz_rmrf(dir);
    return 0;
}
