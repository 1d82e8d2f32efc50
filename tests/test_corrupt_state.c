/*
 * test_corrupt_state.c - T4 (reliability.md 4.5): damaged state files.
 *
 * One pristine data directory holds every durable state file the library
 * parses: crawllog.meta, topics/t/topic.meta, topics/t/0/log-start-offset
 * (retention moved it above 0), topics/m/migration (m migrated to m2),
 * producers/p1 (two instances: both slots valid), groups/g/offsets (NC
 * commits, the last by a subscribed member, so groups/g/group.state and
 * groups/g/lag.history exist too).  Each case damages one file of a fresh
 * copy, then opens the directory and reads the file's meaning back through
 * the public API:
 *  - metadata files: truncated at every byte, every byte XOR 0x01 and XOR
 *    0xFF, zero length, a stale "<name>.tmp.<dead pid>.0" holding a valid
 *    NEW version beside it;
 *  - the producer registry: the same over its two slots and the live word;
 *  - the offsets log: the same over the header and every record, zeroed
 *    header, zeroed first page, a stale offsets.tmp holding an older valid
 *    file;
 *  - the machine-local caches group.state and lag.history (FORMAT.md 9,
 *    10: documented as caches, a reset of them is allowed): header bytes
 *    and sampled bytes flipped, truncated, emptied: no crash, committed
 *    offsets unchanged, a member can still join.
 * The oracle: the old (or, for a stale tmp, the new) valid version, or a
 * CRAWLLOG_ECORRUPT / CRAWLLOG_EVERSION whose message names the file; never
 * a silent reset.  For the offsets log, FORMAT.md 8 defines the valid log
 * as its longest valid prefix, but one ending below the header's durable
 * mark is CRAWLLOG_ECORRUPT: every commit here is durable, so damage in
 * any record must be ECORRUPT (or harmless).  Damage in a record at or
 * above the mark would give the commits before it (an "older version"),
 * and a file cut inside its header is a creation cut short (a reset):
 * counted and printed as KNOWN lines; strict with CL_T4_STRICT=1.
 * Deleting a file is reported as info only (not a damage kind of 4.5).
 *
 * Sampled by default (every 3rd byte of the larger files); CL_T4_FULL=1:
 * every byte.  Runs in $TMPDIR, /dev/shm when unset.  Prints
 * "t4-state: cases=... violations=0".
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crawllog_admin.h"
#include "crawllog_consumer.h"
#include "crawllog_migrate.h"
#include "crawllog_producer.h"
#include "crc32c.h"

#define NC 5 /* commits in groups/g/offsets */

static struct {
    long cases, old, newv, corrupt, older, resets, stale, info, viol;
    int full, strict, no_known;
} st;

/* What the pristine directory holds. */
static struct {
    char pristine[4096], work[4096];
    int64_t logstart, end0;
    int64_t pid;             /* producer p1's id */
    int16_t epoch;           /* its newest instance's epoch */
    int64_t hist[NC + 1][2]; /* committed t/0, t/1 after k commits */
    uint8_t *off_after1;     /* groups/g/offsets after one commit */
    size_t off_after1_len;
    size_t rec_end[NC + 1];  /* end of record k-1 in offsets (0: 64) */
    int64_t mig[5];          /* copied.0/1, cut.0/1, start.0 */
} px;

static void violation(const char *file, const char *what, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));
static void violation(const char *file, const char *what, const char *fmt,
                      ...)
{
    va_list ap;
    static long printed;
    st.viol++;
    if (printed++ < (getenv("CL_T4_VERBOSE") ? 1000000 : 40)) {
        printf("VIOLATION %s, %s: ", file, what);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
}

static crawllog_t *open_rc(const char *dir, int *rcp, char *err, size_t n)
{
    crawllog_t *log = NULL;
    err[0] = '\0';
    *rcp = crawllog_open(&log, dir, NULL, err, n);
    return log;
}

/* rc is a clear corruption report naming rel. */
static int clear_corrupt(int rc, const char *msg, const char *rel)
{
    return (rc == CRAWLLOG_ECORRUPT || rc == CRAWLLOG_EVERSION) &&
           strstr(msg, rel) != NULL;
}

/* ---------------------------------------------------------------------- */
/* The pristine directory                                                  */
/* ---------------------------------------------------------------------- */

static void append_n(crawllog_t *log, const char *topic, int32_t p, int n,
                     size_t vlen)
{
    static uint8_t v[300];
    memset(v, 'x', sizeof(v));
    for (int i = 0; i < n; i++) {
        crawllog_record_t r = {.key = "k", .key_len = 1, .value = v,
                               .value_len = vlen};
        assert_crawllog_ok_log(log, crawllog_append(log, topic, p, &r, 1,
                                                    CRAWLLOG_SYNC_WRITTEN,
                                                    NULL));
    }
}

static crawllog_producer_t *producer(crawllog_t *log, int *rcp, char *err,
                                     size_t n)
{
    crawllog_producer_t *prod = NULL;
    crawllog_conf_t *c = cl_test_conf("producer.id", "p1", "acks", "all",
                                      NULL);
    err[0] = '\0';
    *rcp = crawllog_producer_new(log, c, &prod, err, n);
    crawllog_conf_destroy(c);
    return prod;
}

static crawllog_consumer_t *member(crawllog_t *log)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    crawllog_consumer_t *c = NULL;
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", "auto.offset.reset",
                                         "earliest", NULL);
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    crawllog_conf_destroy(conf);
    cl_test_checkf(rc == 0, "consumer_new: %s (%s)", crawllog_err_name(rc),
                   err);
    const char *topics[] = {"t"};
    assert_crawllog_ok(crawllog_consumer_subscribe(c, topics, 1));
    int64_t deadline = cl_test_mono_ms() + 3000;
    crawllog_topic_partition_t *as = NULL;
    size_t n = 0;
    while (n < 2 && cl_test_mono_ms() < deadline) {
        const crawllog_msg_t *m[8];
        size_t got;
        assert_crawllog_ok(crawllog_consumer_poll(c, 20, m, 8, &got));
        free(as);
        as = NULL;
        assert_crawllog_ok(crawllog_consumer_assignment(c, &as, &n));
    }
    free(as);
    assert_int_equal(n, 2);
    return c;
}

static void build_pristine(const char *dir)
{
    char err[CRAWLLOG_ERRSTR_SIZE], path[4096];
    int rc;
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 2, "segment.bytes", "4096",
                         "retention.bytes", "6000", NULL);
    append_n(log, "t", 0, 60, 200);
    append_n(log, "t", 1, 6, 20);
    int64_t deleted = 0;
    assert_crawllog_ok(crawllog_maintain(log, &deleted));
    assert_true(deleted >= 1);
    assert_crawllog_ok(crawllog_partition_offsets(log, "t", 0, &px.logstart,
                                                  &px.end0));
    assert_true(px.logstart > 0);
    /* Two producer instances: both registry slots valid. */
    for (int i = 0; i < 2; i++) {
        crawllog_producer_t *prod = producer(log, &rc, err, sizeof(err));
        cl_test_checkf(rc == 0, "producer: %s", err);
        assert_crawllog_ok(crawllog_producer_send(prod, "t", 1, "p", 1, "v",
                                                  1, NULL, 0, NULL));
        assert_crawllog_ok(crawllog_producer_identity(prod, &px.pid,
                                                      &px.epoch));
        assert_crawllog_ok(crawllog_producer_destroy(prod));
    }
    /* A migration: m (2 partitions) -> m2 (1). */
    cl_test_create_topic(log, "m", 2, NULL);
    append_n(log, "m", 0, 3, 10);
    append_n(log, "m", 1, 4, 10);
    assert_crawllog_ok(crawllog_topic_migrate(log, "m", "m2", 1, NULL, NULL));
    crawllog_migration_t *mi = NULL;
    assert_crawllog_ok(crawllog_topic_migration(log, "m", &mi));
    assert_int_equal(mi->state, CRAWLLOG_MIGRATION_DONE);
    px.mig[0] = mi->copied[0], px.mig[1] = mi->copied[1];
    px.mig[2] = mi->cut[0], px.mig[3] = mi->cut[1], px.mig[4] = mi->start[0];
    assert_true(px.mig[2] == 3 && px.mig[3] == 4);
    crawllog_migration_free(mi);
    /* Commits: NC - 1 set by an operator, the last by a member. */
    char gpath[4096];
    cl_test_path(gpath, sizeof(gpath), dir, "groups/g/offsets");
    px.hist[0][0] = px.hist[0][1] = -1;
    px.rec_end[0] = 64;
    for (int k = 1; k <= NC; k++) {
        px.hist[k][0] = 10 + 3 * k;
        px.hist[k][1] = 2 + (k % 3); /* goes down too */
        crawllog_topic_partition_t tp[2] = {{"t", 0, px.hist[k][0], "m"},
                                            {"t", 1, px.hist[k][1], NULL}};
        if (k < NC) {
            assert_crawllog_ok_log(log, crawllog_group_set_offsets(log, "g",
                                                                   tp, 2));
        } else {
            crawllog_consumer_t *c = member(log);
            assert_crawllog_ok(crawllog_consumer_commit_offsets(
                c, tp, 2, CRAWLLOG_SYNC_DURABLE));
            assert_crawllog_ok(crawllog_consumer_close(c));
            crawllog_consumer_destroy(c);
        }
        /* Where record k-1 ends: walk the record lengths from byte 64
         * (FORMAT.md 8). */
        size_t len = 0;
        uint8_t *b = cl_test_read_file(gpath, &len);
        size_t pos = 64;
        for (int j = 0; j < k; j++) {
            assert_true(pos + 40 <= len);
            pos += (size_t)b[pos] << 24 | (size_t)b[pos + 1] << 16 |
                   (size_t)b[pos + 2] << 8 | b[pos + 3];
        }
        assert_true(pos > px.rec_end[k - 1] && pos <= len);
        px.rec_end[k] = pos;
        if (k == 1) {
            px.off_after1 = b;
            px.off_after1_len = len;
        } else {
            free(b);
        }
    }
    assert_crawllog_ok(crawllog_close(log));
    cl_test_path(path, sizeof(path), dir, "groups/g/lag.history");
    assert_true(cl_test_exists(path));
    cl_test_path(path, sizeof(path), dir, "groups/g/group.state");
    assert_true(cl_test_exists(path));
    cl_test_expect_verify_clean(dir);
}

/* ---------------------------------------------------------------------- */
/* Observing one file's meaning                                            */
/* ---------------------------------------------------------------------- */

enum file_kind { F_ROOT, F_TOPIC, F_LOGSTART, F_MIGRATION, F_PRODUCER,
                 F_OFFSETS, F_COUNT };

static const char *const rel_of[F_COUNT] = {
    "crawllog.meta", "topics/t/topic.meta", "topics/t/0/log-start-offset",
    "topics/m/migration", "producers/p1", "groups/g/offsets"};

enum verdict { V_OLD, V_NEW, V_CORRUPT, V_OLDER, V_RESET, V_STALE, V_BAD };

static uint8_t *pristine_bytes[F_COUNT];
static size_t pristine_len[F_COUNT];

/* After a successful open: the file's meaning, through the API. */
static enum verdict observe_open(crawllog_t *log, int kind, int *olderp,
                                 char *why, size_t n)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    int rc;
    switch (kind) {
    case F_ROOT: {
        char path[4096];
        size_t len = 0;
        cl_test_path(path, sizeof(path), px.work, rel_of[F_ROOT]);
        uint8_t *b = cl_test_read_file(path, &len);
        int same = len == pristine_len[F_ROOT] &&
                   memcmp(b, pristine_bytes[F_ROOT], len) == 0;
        free(b);
        snprintf(why, n, "crawllog.meta rewritten");
        return same ? V_OLD : V_RESET;
    }
    case F_TOPIC: {
        int32_t parts = -1;
        crawllog_conf_t *c = NULL;
        char v[32] = "";
        rc = crawllog_topic_describe(log, "t", &parts, &c);
        if (rc == 0) {
            size_t vn = sizeof(v);
            (void)crawllog_conf_get(c, "segment.bytes", v, &vn);
            crawllog_conf_destroy(c);
        }
        snprintf(why, n, "describe %s: %d partitions, segment.bytes %s",
                 crawllog_err_name(rc), parts, v);
        return rc == 0 && parts == 2 && strcmp(v, "4096") == 0 ? V_OLD
               : clear_corrupt(rc, crawllog_errmsg(log), rel_of[kind])
                   ? V_CORRUPT
                   : V_BAD;
    }
    case F_LOGSTART: {
        int64_t s = -2, e = -2;
        rc = crawllog_partition_offsets(log, "t", 0, &s, &e);
        snprintf(why, n, "offsets %s [%" PRId64 ", %" PRId64 ")",
                 crawllog_err_name(rc), s, e);
        if (rc == 0 && s == px.logstart && e == px.end0) {
            return V_OLD;
        }
        return rc == 0 && s < px.logstart ? V_RESET : V_BAD;
    }
    case F_MIGRATION: {
        crawllog_migration_t *mi = NULL;
        rc = crawllog_topic_migration(log, "m", &mi);
        enum verdict v = V_BAD;
        if (rc == 0 && mi->state == CRAWLLOG_MIGRATION_NONE) {
            v = V_RESET;
        } else if (rc == 0 && mi->target && !strcmp(mi->target, "m2") &&
                   mi->partitions == 1 && mi->old_partitions == 2 &&
                   mi->state == CRAWLLOG_MIGRATION_DONE &&
                   mi->copied[0] == px.mig[0] && mi->copied[1] == px.mig[1] &&
                   mi->cut[0] == px.mig[2] && mi->cut[1] == px.mig[3] &&
                   mi->start[0] == px.mig[4]) {
            v = V_OLD;
        } else if (clear_corrupt(rc, crawllog_errmsg(log), rel_of[kind])) {
            v = V_CORRUPT;
        }
        snprintf(why, n, "migration %s state %d", crawllog_err_name(rc),
                 mi ? (int)mi->state : -1);
        crawllog_migration_free(mi);
        return v;
    }
    case F_PRODUCER: {
        int64_t pid = -1;
        int16_t ep = -1;
        int64_t e1 = -1, off = -2;
        int src = -1;
        crawllog_producer_t *prod = producer(log, &rc, err, sizeof(err));
        if (rc == 0) {
            (void)crawllog_producer_identity(prod, &pid, &ep);
            /* A send must be written at the log end, not taken for a
             * duplicate of the old instance's batch. */
            assert_crawllog_ok(crawllog_partition_offsets(log, "t", 1, NULL,
                                                          &e1));
            src = crawllog_producer_send(prod, "t", 1, "p", 1, "v", 1, NULL,
                                         0, &off);
            crawllog_producer_destroy(prod);
        }
        snprintf(why, n, "producer %s (%s) id %" PRId64 " epoch %d, send "
                 "%s at %" PRId64 " (log end %" PRId64 ")",
                 crawllog_err_name(rc), err, pid, ep, crawllog_err_name(src),
                 off, e1);
        if (rc == 0 && (src != 0 || off != e1)) {
            return V_BAD;
        }
        if (rc == 0 && pid == px.pid && ep > px.epoch) {
            return V_OLD;
        }
        if (rc == 0 && pid == px.pid) {
            return V_STALE; /* an epoch already in the log (G13) */
        }
        return clear_corrupt(rc, err, rel_of[kind]) ? V_CORRUPT : V_BAD;
    }
    default: {
        crawllog_group_desc_t *d = NULL;
        int64_t got[2] = {-1, -1};
        rc = crawllog_group_describe(log, "g", &d);
        for (size_t i = 0; rc == 0 && i < d->partition_count; i++) {
            if (!strcmp(d->partitions[i].topic, "t") &&
                d->partitions[i].partition < 2) {
                got[d->partitions[i].partition] = d->partitions[i].committed;
            }
        }
        crawllog_group_desc_free(d);
        snprintf(why, n, "group %s (%s) committed %" PRId64 ", %" PRId64,
                 crawllog_err_name(rc), rc ? crawllog_errmsg(log) : "",
                 got[0], got[1]);
        if (rc != 0) {
            return clear_corrupt(rc, crawllog_errmsg(log), rel_of[kind])
                       ? V_CORRUPT
                       : V_BAD;
        }
        for (int k = NC; k >= 0; k--) {
            if (got[0] == px.hist[k][0] && got[1] == px.hist[k][1]) {
                *olderp = k;
                return k == NC ? V_OLD : k == 0 ? V_RESET : V_OLDER;
            }
        }
        return V_BAD;
    }
    }
}

/* Open the work copy and judge it.  allowed: bit mask of verdicts;
 * min_older: the fewest commits an "older" offsets version may keep. */
static void judge(int kind, const char *what, unsigned allowed,
                  int min_older)
{
    char err[CRAWLLOG_ERRSTR_SIZE], why[512] = "";
    int rc, older = -1;
    enum verdict v;
    crawllog_t *log = open_rc(px.work, &rc, err, sizeof(err));
    st.cases++;
    if (rc != 0) {
        v = clear_corrupt(rc, err, rel_of[kind]) ? V_CORRUPT : V_BAD;
        snprintf(why, sizeof(why), "open %s: %s", crawllog_err_name(rc),
                 err);
    } else {
        v = observe_open(log, kind, &older, why, sizeof(why));
        assert_crawllog_ok(crawllog_close(log));
    }
    if (v == V_OLDER && older < min_older) {
        v = V_RESET; /* later commits than the damaged record's lost */
    }
    int ok = (allowed >> v) & 1;
    switch (v) {
    case V_OLD: st.old++; break;
    case V_NEW: st.newv++; break;
    case V_CORRUPT: st.corrupt++; break;
    case V_OLDER: st.older++; break;
    case V_RESET: st.resets++; break;
    case V_STALE: st.stale++; break;
    default: break;
    }
    if (!ok && (v == V_OLDER || v == V_RESET) && kind == F_OFFSETS &&
        !st.strict && !st.no_known) {
        /* FORMAT.md 8: the valid log ends at the first bad record. */
        if (st.info++ < 3 || (strncmp(what, "cut at", 6) != 0 &&
                              strncmp(what, "byte", 4) != 0)) {
            printf("KNOWN %s, %s: %s (%d of %d commits kept)\n",
                   rel_of[kind], what, why, older, NC);
        }
        return;
    }
    if (!ok) {
        violation(rel_of[kind], what, "%s", why);
    }
}

#define A(v) (1u << (v))

/* ---------------------------------------------------------------------- */
/* Damage                                                                  */
/* ---------------------------------------------------------------------- */

static char *work_file(char *buf, size_t n, int kind)
{
    return cl_test_path(buf, n, px.work, rel_of[kind]);
}

static void restore(void)
{
    cl_test_rmrf(px.work);
    cl_test_copy_tree(px.pristine, px.work);
}

/* "<kind> 1\n<body>crc32c=...\n" */
static size_t metafile_text(char *out, size_t n, const char *kind,
                            const char *body)
{
    int len = snprintf(out, n, "%s 1\n%s", kind, body);
    uint32_t crc = cl_crc32c(0, out, (size_t)len);
    len += snprintf(out + len, n - (size_t)len, "crc32c=%08x\n", crc);
    return (size_t)len;
}

/* A valid NEW version of each metadata file (different meaning). */
static size_t new_version(int kind, char *out, size_t n)
{
    switch (kind) {
    case F_ROOT:
        return metafile_text(out, n, "crawllog", "created.ms=1\n");
    case F_TOPIC:
        return metafile_text(out, n, "crawllog-topic",
                             "partitions=3\nsegment.bytes=8192\n");
    case F_LOGSTART:
        return metafile_text(out, n, "crawllog-logstart",
                             "log.start.offset=1\n");
    default:
        return metafile_text(out, n, "crawllog-migration",
                             "target=m2\npartitions=1\nold.partitions=2\n"
                             "state=copying\ncopied.0=0\ncopied.1=0\n");
    }
}

/* Every truncation, every byte XOR 0x01 and 0xff, zero length, a stale
 * tmp with a new version, and deletion (info) of one metadata file. */
static void sweep_file(int kind, size_t lo, size_t hi, unsigned allowed,
                       size_t stride_above)
{
    char path[4096], what[128];
    static const uint8_t masks[] = {0x01, 0xff};
    for (size_t pos = lo; pos < hi; pos++) {
        if (!st.full && pos >= stride_above && pos % 3 != 0) {
            continue;
        }
        restore();
        work_file(path, sizeof(path), kind);
        cl_test_truncate(path, (off_t)pos);
        snprintf(what, sizeof(what), "cut at %zu", pos);
        judge(kind, what, allowed, 0);
        for (int m = 0; m < 2; m++) {
            restore();
            cl_test_flip_byte(work_file(path, sizeof(path), kind),
                              (off_t)pos, masks[m]);
            snprintf(what, sizeof(what), "byte %zu ^ 0x%02x", pos, masks[m]);
            judge(kind, what, allowed, 0);
        }
    }
}

static void stale_tmp(int kind, const void *buf, size_t len, int leftover)
{
    char path[4096], tmp[4200];
    restore();
    work_file(path, sizeof(path), kind);
    if (kind == F_PRODUCER) {
        cl_test_path(tmp, sizeof(tmp), px.work, "producers/~tmp.");
        snprintf(tmp + strlen(tmp), 64, "%ld.0", cl_test_dead_pid());
    } else if (kind == F_OFFSETS) {
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    } else {
        snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.0", path, cl_test_dead_pid());
    }
    cl_test_write_file(tmp, buf, len);
    judge(kind, "stale tmp with a newer valid version", A(V_OLD) | A(V_NEW),
          NC);
    if (cl_test_exists(tmp) != leftover) {
        violation(rel_of[kind], "stale tmp", "%s %s after open", tmp,
                  leftover ? "removed" : "still there");
    }
}

static void deleted(int kind)
{
    char path[4096], err[CRAWLLOG_ERRSTR_SIZE], why[512] = "";
    int rc, older = -1;
    restore();
    cl_test_check(unlink(work_file(path, sizeof(path), kind)) == 0);
    crawllog_t *log = open_rc(px.work, &rc, err, sizeof(err));
    enum verdict v = V_BAD;
    if (log != NULL) {
        v = observe_open(log, kind, &older, why, sizeof(why));
        crawllog_close(log);
    }
    printf("INFO %s deleted: open %s (%s) %s -> %s\n", rel_of[kind],
           crawllog_err_name(rc), err, why,
           (const char *[]){"old", "new", "corrupt", "older", "reset",
                            "stale", "other"}[v]);
}

static void load_pristine_bytes(void)
{
    char path[4096];
    for (int k = 0; k < F_COUNT; k++) {
        cl_test_path(path, sizeof(path), px.pristine, rel_of[k]);
        pristine_bytes[k] = cl_test_read_file(path, &pristine_len[k]);
    }
}

static int setup(void **state)
{
    if (cl_test_fast_tmpdir_setup(state) != 0) {
        return -1;
    }
    st.full = getenv("CL_T4_FULL") && atoi(getenv("CL_T4_FULL")) > 0;
    st.strict = getenv("CL_T4_STRICT") && atoi(getenv("CL_T4_STRICT")) > 0;
    cl_test_path(px.pristine, sizeof(px.pristine), CL_TEST_DIR(state), "p");
    cl_test_path(px.work, sizeof(px.work), CL_TEST_DIR(state), "w");
    build_pristine(px.pristine);
    load_pristine_bytes();
    return 0;
}

static int teardown(void **state)
{
    for (int k = 0; k < F_COUNT; k++) {
        free(pristine_bytes[k]);
    }
    free(px.off_after1);
    printf("t4-state: cases=%ld old=%ld new=%ld corrupt=%ld older=%ld "
           "resets=%ld stale-epoch=%ld known=%ld violations=%ld\n",
           st.cases, st.old, st.newv, st.corrupt, st.older, st.resets,
           st.stale, st.info, st.viol);
    return cl_test_tmpdir_teardown(state);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

static void test_metadata_files(void **state)
{
    (void)state;
    char buf[1024];
    long v0 = st.viol;
    for (int k = F_ROOT; k <= F_MIGRATION; k++) {
        sweep_file(k, 0, pristine_len[k], A(V_OLD) | A(V_CORRUPT), 256);
        size_t n = new_version(k, buf, sizeof(buf));
        stale_tmp(k, buf, n, 0);
        deleted(k);
    }
    assert_int_equal(st.viol, v0);
}

static void test_producer_registry(void **state)
{
    (void)state;
    long v0 = st.viol;
    /* Slots at 0 and 512 (40 bytes), the live word at 1024. */
    sweep_file(F_PRODUCER, 0, 48, A(V_OLD) | A(V_CORRUPT), 48);
    sweep_file(F_PRODUCER, 508, 556, A(V_OLD) | A(V_CORRUPT), 556);
    sweep_file(F_PRODUCER, 1020, 1032, A(V_OLD) | A(V_CORRUPT), 1032);
    char path[4096];
    for (int z = 0; z < 2; z++) { /* a zeroed slot; the zeroed newest */
        restore();
        uint8_t *b = cl_test_read_file(work_file(path, sizeof(path),
                                                 F_PRODUCER), NULL);
        memset(b + 512 * z, 0, 40);
        cl_test_write_file(path, b, 4096);
        free(b);
        /* Slot 1 (the newest, instance 2) zeroed: the file is then the
         * one instance 1 created, byte for byte (an older valid
         * version): the next instance is 2 again (known, reported). */
        judge(F_PRODUCER, z ? "slot 1 zeroed" : "slot 0 zeroed",
              A(V_OLD) | A(V_CORRUPT) | (z ? A(V_STALE) : 0), 0);
        if (z && st.stale > 0) {
            printf("KNOWN producers/p1, slot 1 zeroed: identical to the "
                   "file instance 1 left; the new instance reuses epoch "
                   "%d\n", px.epoch);
        }
    }
    static uint8_t page[4096];
    memcpy(page, pristine_bytes[F_PRODUCER], 4096);
    page[16 + 7] = 9; /* instance 9 in slot 0: CRC now wrong, so fix it */
    uint32_t crc = cl_crc32c(0, page, 36);
    page[36] = (uint8_t)(crc >> 24), page[37] = (uint8_t)(crc >> 16);
    page[38] = (uint8_t)(crc >> 8), page[39] = (uint8_t)crc;
    stale_tmp(F_PRODUCER, page, sizeof(page), 0);
    deleted(F_PRODUCER);
    assert_int_equal(st.viol, v0);
}

static void test_offsets_log(void **state)
{
    (void)state;
    char path[4096], what[128];
    long v0 = st.viol;
    size_t end = px.rec_end[NC];
    static const uint8_t masks[] = {0x01, 0xff};
    /* The durable mark (FORMAT.md 8): the larger valid slot at 24 / 36. */
    const uint8_t *h = pristine_bytes[F_OFFSETS];
    uint64_t mark = 0;
    for (int i = 24; i < 48; i += 12) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++) {
            v = v << 8 | h[i + j];
        }
        uint32_t c = (uint32_t)h[i + 8] << 24 | (uint32_t)h[i + 9] << 16 |
                     (uint32_t)h[i + 10] << 8 | h[i + 11];
        if (c == cl_crc32c(0, h + i, 8) && v > mark) {
            mark = v;
        }
    }
    assert_int_equal(mark, NC); /* every commit was durable */
    for (size_t pos = 0; pos <= end; pos++) {
        if (!st.full && pos >= 64 && pos % 3 != 0 && pos != end) {
            continue;
        }
        int rec = 0; /* the record holding pos (NC: past the last) */
        while (rec < NC && pos >= px.rec_end[rec + 1]) {
            rec++;
        }
        for (int m = -1; m < 2; m++) {
            restore();
            work_file(path, sizeof(path), F_OFFSETS);
            if (m < 0) {
                cl_test_truncate(path, (off_t)pos);
                snprintf(what, sizeof(what), "cut at %zu (record %d)", pos,
                         rec);
            } else {
                cl_test_flip_byte(path, (off_t)pos, masks[m]);
                snprintf(what, sizeof(what), "byte %zu ^ 0x%02x (record %d)",
                         pos, masks[m], rec);
            }
            /* Header damage: ECORRUPT; a record: the torn-tail rule keeps
             * the records before it, which is an older version unless it
             * is the last record (strict mode counts every loss). */
            unsigned allowed = A(V_OLD) | A(V_CORRUPT);
            if (pos >= 64 && rec == NC - 1 && (uint64_t)rec >= mark) {
                allowed |= A(V_OLDER);
            }
            /* Below the mark: ECORRUPT, never KNOWN. */
            st.no_known = pos >= 64 && (uint64_t)rec < mark;
            judge(F_OFFSETS, what, allowed, pos < 64 ? NC : rec);
            st.no_known = 0;
        }
    }
    /* Zero-filled header / first page of a longer file: not a creation
     * cut short (the header is durable before the file grows), so a
     * reset is a violation here (it was one before offsets.c refused it:
     * the zeroed first page lost every commit). */
    st.no_known = 1;
    for (int z = 0; z < 2; z++) {
        restore();
        uint8_t *b = cl_test_read_file(work_file(path, sizeof(path),
                                                 F_OFFSETS), NULL);
        memset(b, 0, z ? 4096 : 64);
        cl_test_write_file(path, b, pristine_len[F_OFFSETS]);
        free(b);
        judge(F_OFFSETS, z ? "first 4 KiB zeroed" : "header zeroed",
              A(V_OLD) | A(V_CORRUPT), NC);
    }
    st.no_known = 0;
    restore();
    cl_test_truncate(work_file(path, sizeof(path), F_OFFSETS), 0);
    judge(F_OFFSETS, "zero length", A(V_OLD) | A(V_CORRUPT), NC);
    stale_tmp(F_OFFSETS, px.off_after1, px.off_after1_len, 1);
    deleted(F_OFFSETS);
    assert_int_equal(st.viol, v0);
}

/* The machine-local caches: any damage may reset them (FORMAT.md 9, 10),
 * but must not crash, change a committed offset or stop a member. */
static void cache_case(const char *rel, const char *what, int with_member,
                       int info)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    int rc;
    crawllog_t *log = open_rc(px.work, &rc, err, sizeof(err));
    st.cases++;
    if (rc != 0) {
        violation(rel, what, "open %s: %s", crawllog_err_name(rc), err);
        return;
    }
    crawllog_group_desc_t *d = NULL;
    rc = crawllog_group_describe(log, "g", &d);
    int64_t got[2] = {-1, -1};
    for (size_t i = 0; rc == 0 && i < d->partition_count; i++) {
        if (d->partitions[i].partition < 2) {
            got[d->partitions[i].partition] = d->partitions[i].committed;
        }
    }
    crawllog_group_desc_free(d);
    if (info) {
        printf("INFO %s %s: describe %s (%s)\n", rel, what,
               crawllog_err_name(rc), rc ? crawllog_errmsg(log) : "");
    } else if (rc != 0 || got[0] != px.hist[NC][0] ||
               got[1] != px.hist[NC][1]) {
        violation(rel, what, "describe %s (%s): committed %" PRId64
                  ", %" PRId64, crawllog_err_name(rc), crawllog_errmsg(log),
                  got[0], got[1]);
    } else {
        st.old++;
    }
    if (with_member) {
        crawllog_consumer_t *c = member(log);
        int64_t o = -1;
        assert_crawllog_ok(crawllog_consumer_committed(c, "t", 0, &o));
        if (o != px.hist[NC][0]) {
            violation(rel, what, "member sees committed %" PRId64, o);
        }
        assert_crawllog_ok(crawllog_consumer_close(c));
        crawllog_consumer_destroy(c);
    }
    assert_crawllog_ok(crawllog_close(log));
}

static void test_caches(void **state)
{
    (void)state;
    static const char *const rels[] = {"groups/g/group.state",
                                       "groups/g/lag.history"};
    char path[4096], ppath[4096], what[128];
    long v0 = st.viol;
    uint64_t rng = CL_TEST_SEED;
    for (int f = 0; f < 2; f++) {
        cl_test_path(path, sizeof(path), px.work, rels[f]);
        size_t len = cl_test_file_size(
            cl_test_path(ppath, sizeof(ppath), px.pristine, rels[f]));
        size_t hdr = st.full ? 4096 : 160, nrand = st.full ? 2000 : 100;
        for (size_t i = 0; i < hdr + nrand; i++) {
            size_t pos = i < hdr ? i : (size_t)cl_test_rand_below(&rng, len);
            restore();
            cl_test_flip_byte(path, (off_t)pos, i % 2 ? 0xff : 0x01);
            snprintf(what, sizeof(what), "byte %zu flipped", pos);
            cache_case(rels[f], what, i % 37 == 0, 0);
        }
        const size_t cuts[] = {0, 1, 64, 127, 4096, len / 2, len - 1};
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
            restore();
            cl_test_truncate(path, (off_t)cuts[i]);
            snprintf(what, sizeof(what), "cut at %zu", cuts[i]);
            cache_case(rels[f], what, 1, 0);
        }
        restore();
        cl_test_check(unlink(path) == 0);
        cache_case(rels[f], "deleted", 1, 1);
    }
    assert_int_equal(st.viol, v0);
}

int main(void)
{
    if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK | X_OK) == 0) {
        setenv("TMPDIR", "/dev/shm", 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_files),
        cmocka_unit_test(test_producer_registry),
        cmocka_unit_test(test_offsets_log),
        cmocka_unit_test(test_caches),
    };
    return cmocka_run_group_tests_name("corrupt_state", tests, setup,
                                       teardown);
}
