/*
 * test_fault_log.c - failpoint sweeps over the public log API
 * (reliability.md section 4.3 T2, SQLite's I/O-error loop, and 4.4 T3,
 * the OOM sweep).  Built with -DCRAWLLOG_TESTING.
 *
 * Scenarios: topic create, append WRITTEN, append DURABLE, an append that
 * rolls a segment, WRITTEN appends to two partitions made durable by one
 * crawllog_flush (whose fdatasyncs run concurrently, flushset.c),
 * retention via crawllog_maintain, crawllog_open of an existing directory
 * that needs recovery, topic delete, add partitions.
 * Each runs on a fresh copy of a prepared data directory.  For every
 * failpoint site the scenario reaches (a dry run counts them), every fault
 * kind (EIO, ENOSPC, SHORT(5), EINTR) and both modes (once, persistent),
 * k = 1, 2, ...: arm "site=KIND@k", run the scenario, disarm, and check:
 *  - the call succeeded or returned a known negative code, and if the
 *    fault never fired (the site had fewer than k hits) it succeeded -
 *    which also ends the k loop;
 *  - EINTR at a wrapper that retries EINTR is invisible (success);
 *  - after a failed fdatasync / directory fsync of a segment, every later
 *    append on the same handle returns CRAWLLOG_ECLOSED;
 *  - another append on the same handle either fails with ECLOSED or gets
 *    an offset consistent with the failed batch being wholly there or
 *    wholly absent;
 *  - no file descriptor is leaked;
 *  - the directory reopens, every record acknowledged before the scenario
 *    is intact, the scenario's batch / topic / partitions / deletions are
 *    wholly done or wholly not, and crawllog_verify finds no problem.
 *
 * Sites are swept one at a time ("site=KIND@k") rather than with "*", so
 * that allocations (site "malloc") are left to the OOM sweep.  SITES[]
 * lists every site of the library; the dry run fails if a scenario reaches
 * one that is not listed (its hits would not be swept).
 *
 * The OOM sweep arms "malloc=ENOMEM@k" (once and persistent) over open,
 * append and reading: each call succeeds or returns CRAWLLOG_ENOMEM, and
 * the directory works after the fault is cleared.  Leaks are LSan's job
 * (the ASan build); file descriptors are counted here.
 * CL_TEST_FILTER=pattern runs only matching tests.
 */
#include "helpers.h"
#include "helpers_fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define SEG_BYTES "4096"
#define K_MAX 5000          /* far above any site's hits in a scenario */
#define X_COUNT 5           /* records of a scenario's append */
#define Y_MARK 999999       /* value id of the append made after a fault */
#define R_VALUE_LEN 500     /* topic "r" record size */
#define OLD_AGE_MS (10LL * 24 * 3600 * 1000)

/* ---------------------------------------------------------------------- */
/* Failpoint sites                                                         */
/* ---------------------------------------------------------------------- */

/* Every failpoint site of the library, and whether all the wrappers using
 * it retry EINTR (open, openat, pwrite_all, pread_all, ftruncate, lock), so
 * that an injected EINTR must be invisible. */
static const struct site {
    const char *name;
    int eintr_retried;
} SITES[] = {
    {"flush.thread", 0},
    {"idx.fsync", 0},           {"idx.open", 1},
    {"idx.read", 1},            {"idx.stat", 0},
    {"idx.truncate", 1},        {"idx.write", 1},
    {"log.lock", 1},            {"log.lock.open", 1},
    {"log.mkdir", 0},           {"log.mkdir.dirsync", 0},
    {"log.open", 1},            {"log.stat", 0},
    {"meta.cleanup.list", 0},   {"meta.cleanup.stat", 0},
    {"meta.cleanup.unlink", 0}, {"meta.dirsync", 0},
    {"meta.fsync", 0},          {"meta.open", 1},
    {"meta.read", 0},           {"meta.rename", 0},
    {"meta.unlink", 0},         {"meta.write", 1},
    {"notify.mmap", 0},         {"notify.open", 1},
    {"notify.stat", 0},         {"notify.truncate", 1}, {"notify.reserve", 1},
    {"part.list", 0},           {"part.open", 1},
    {"prod.dir.open", 1},       {"reader.stat", 0},
    {"reader.open", 1},         {"reader.read", 1},
    {"seg.append.fdatasync", 0}, {"seg.append.undo", 1},
    {"seg.append.write", 1},    {"seg.create", 1},
    {"seg.create.fsync", 0},    {"seg.create.unlink", 0},
    {"seg.create.write", 1},    {"seg.delete", 0},
    {"seg.delete.dirsync", 0},  {"seg.open", 1},
    {"seg.read", 1},            {"seg.recover.fsync", 0},
    {"seg.recover.truncate", 1}, {"seg.roll.dirsync", 0},
    {"seg.roll.fsync", 0},      {"seg.roll.undo.dirsync", 0},
    {"seg.stat", 0},            {"seg.sync.dup", 0},
    {"seg.truncate", 1},        {"state.lock", 1},
    {"state.mmap", 0},          {"state.open", 1},
    {"state.stat", 0},          {"state.truncate", 1}, {"state.reserve", 1},
    {"topic.fsync", 0},         {"topic.list", 0},
    {"topic.mkdir", 0},         {"topic.open", 1},
    {"topic.rename", 0},        {"topic.stat", 0},
    {"topic.unlink", 0},        {"txn.dir.open", 1},
    {"txn.cleanup.list", 0},    {"txn.cleanup.unlink", 0},
    {"txn.lockfile.open", 1},   {"txn.state.lock", 1},
    {"txn.live.lock", 1},       {"txn.list", 0},
    {"txn.read", 1},            {"txn.mkdir", 0},
    {"txn.mkdir.dirsync", 0},
};
#define NSITES (sizeof(SITES) / sizeof(SITES[0]))

/* A failed sync of these leaves a segment whose data or directory entry
 * may be lost: the partition must refuse appends until reopened. */
static int closes_partition(const char *site)
{
    return strcmp(site, "seg.append.fdatasync") == 0 ||
           strcmp(site, "seg.roll.fsync") == 0 ||
           strcmp(site, "seg.roll.dirsync") == 0;
}

static const struct kind {
    const char *spec;  /* action in the failpoint grammar */
    const char *label;
    int is_eintr;
} KINDS[] = {
    {"EIO", "EIO", 0},
    {"ENOSPC", "ENOSPC", 0},
    {"SHORT(5)", "SHORT", 0},
    {"EINTR", "EINTR", 1},
};
#define NKINDS (sizeof(KINDS) / sizeof(KINDS[0]))

/* ---------------------------------------------------------------------- */
/* Values: every record's bytes follow from (topic, partition, offset)     */
/* ---------------------------------------------------------------------- */

static size_t value_len(const char *topic, int64_t id)
{
    if (strcmp(topic, "r") == 0) {
        return R_VALUE_LEN;
    }
    return 20 + (size_t)((id * 13) % 60);
}

/* The value of record id (its offset, or Y_MARK) in topic/p. */
static size_t make_value(unsigned char *buf, const char *topic, int32_t p,
                         int64_t id)
{
    size_t len = value_len(topic, id);
    int n = snprintf((char *)buf, len + 1, "%s/%d/%" PRId64 ":", topic,
                     (int)p, id);
    for (size_t i = (size_t)n; i < len; i++) {
        buf[i] = (unsigned char)('a' + (unsigned)(id * 7 + (int64_t)i) % 26);
    }
    return len;
}

/* Append n records with the values of offsets first.. (or Y_MARK). */
static int append_values(crawllog_t *log, const char *topic, int32_t p,
                         int64_t first, size_t n, int sync, int64_t ts,
                         int64_t *basep)
{
    static unsigned char vals[16][R_VALUE_LEN + 1];
    crawllog_record_t recs[16];
    assert_true(n <= 16);
    memset(recs, 0, sizeof(recs));
    for (size_t i = 0; i < n; i++) {
        int64_t id = first == Y_MARK ? Y_MARK : first + (int64_t)i;
        recs[i].value = vals[i];
        recs[i].value_len = make_value(vals[i], topic, p, id);
        recs[i].timestamp = ts;
    }
    return crawllog_append(log, topic, p, recs, n, sync, basep);
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

/* The topics a scenario's copy keeps (space-separated, NULL: all), so
 * that opens and recoveries before and after each run stay small. */
static const char *kept_topics;

static int topic_kept(const char *topic)
{
    size_t len = strlen(topic);
    for (const char *p = kept_topics; p && *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && strncmp(p, topic, n) == 0) {
            return 1;
        }
        p += n + (p[n] == ' ');
    }
    return kept_topics == NULL;
}

/* cp -r from to (regular files and directories only), leaving out the
 * topics that are not kept. */
static void copy_tree(const char *from, const char *to)
{
    size_t flen = strlen(from);
    int in_topics = flen >= 7 && strcmp(from + flen - 7, "/topics") == 0;
    struct stat st;
    assert_int_equal(stat(from, &st), 0);
    assert_int_equal(mkdir(to, st.st_mode & 07777), 0);
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char a[4096], b[4096];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            (in_topics && !topic_kept(de->d_name))) {
            continue;
        }
        cl_test_path(a, sizeof(a), from, de->d_name);
        cl_test_path(b, sizeof(b), to, de->d_name);
        assert_int_equal(lstat(a, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            copy_tree(a, b);
        } else {
            assert_true(S_ISREG(st.st_mode));
            cl_test_copy_tree(a, b);
        }
    }
    closedir(d);
}

/* Largest segment base in topic/p, i.e. the active segment's. */
static int64_t last_segment_base(const char *dir, const char *topic,
                                 int32_t p, size_t *countp)
{
    char path[4096], rel[512];
    int64_t best = -1;
    size_t n = 0;
    snprintf(rel, sizeof(rel), "topics/%s/%d", topic, (int)p);
    DIR *d = opendir(cl_test_path(path, sizeof(path), dir, rel));
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len == 24 && strcmp(de->d_name + 20, ".log") == 0) {
            int64_t base = strtoll(de->d_name, NULL, 10);
            best = base > best ? base : best;
            n++;
        }
    }
    closedir(d);
    if (countp) {
        *countp = n;
    }
    return best;
}

/* ---------------------------------------------------------------------- */
/* The prepared directory and its model                                    */
/* ---------------------------------------------------------------------- */

/* What the prepared directory holds. */
struct pmodel {
    const char *topic;
    int32_t p;
    int64_t start, end;
};

enum { M_T0, M_T1, M_R0, M_OLD0, M_D0, M_COUNT };

struct fixture {
    char root[4096];      /* the group's temporary directory */
    char tmpl[4096];      /* the prepared data directory */
    char work[4096];      /* the copy a scenario runs on */
    struct pmodel m[M_COUNT];
    int64_t t0_last_batch; /* base of t/0's last batch */
    int64_t old_active;    /* base of old/0's active segment */
};

static struct fixture fx;

static crawllog_t *open_dir(const char *dir, int create, int *rcp)
{
    crawllog_conf_t *conf;
    crawllog_t *log = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_crawllog_ok(crawllog_conf_new(&conf));
    if (create) {
        assert_crawllog_ok(
            crawllog_conf_set(conf, "log.dir.create", "true", NULL, 0));
    }
    int rc = crawllog_open(&log, dir, conf, errstr, sizeof(errstr));
    crawllog_conf_destroy(conf);
    if (rcp) {
        *rcp = rc;
    } else if (rc != 0) {
        fail_msg("crawllog_open(%s): %s: %s", dir, crawllog_err_name(rc),
                 errstr);
    }
    return log;
}

static void create_topic(crawllog_t *log, const char *topic, int32_t parts,
                         const char *retention_ms)
{
    crawllog_conf_t *tc;
    assert_crawllog_ok(crawllog_conf_new(&tc));
    assert_crawllog_ok(
        crawllog_conf_set(tc, "segment.bytes", SEG_BYTES, NULL, 0));
    if (retention_ms) {
        assert_crawllog_ok(
            crawllog_conf_set(tc, "retention.ms", retention_ms, NULL, 0));
    }
    assert_crawllog_ok_log(log, crawllog_topic_create(log, topic, parts, tc));
    crawllog_conf_destroy(tc);
}

/* Append batches of 1..4 records until end is reached. */
static int64_t fill(crawllog_t *log, const char *topic, int32_t p,
                    int64_t end, int64_t ts)
{
    int64_t off = 0, base, last = 0;
    while (off < end) {
        size_t n = (size_t)(1 + off % 4);
        if (off + (int64_t)n > end) {
            n = (size_t)(end - off);
        }
        assert_crawllog_ok_log(log, append_values(log, topic, p, off, n,
                                                  CRAWLLOG_SYNC_WRITTEN, ts,
                                                  &base));
        assert_int_equal(base, off);
        last = off;
        off += (int64_t)n;
    }
    return last;
}

/* Fill topic "r" until the next batch of two records cannot fit. */
static void fill_r(crawllog_t *log, const char *dir)
{
    char path[4096], rel[512];
    int64_t off = 0, base;
    for (;;) {
        assert_crawllog_ok_log(log,
                               append_values(log, "r", 0, off, 1,
                                             CRAWLLOG_SYNC_WRITTEN, -1,
                                             &base));
        assert_int_equal(base, off);
        off++;
        int64_t active = last_segment_base(dir, "r", 0, NULL);
        snprintf(rel, sizeof(rel), "topics/r/0/%020" PRId64 ".log", active);
        size_t size = cl_test_file_size(cl_test_path(path, sizeof(path), dir,
                                                     rel));
        if (active > 0 && size + 2 * R_VALUE_LEN > 4096) {
            break;
        }
    }
}

static void model_offsets(crawllog_t *log)
{
    for (int i = 0; i < M_COUNT; i++) {
        struct pmodel *m = &fx.m[i];
        assert_crawllog_ok_log(log, crawllog_partition_offsets(
                                        log, m->topic, m->p, &m->start,
                                        &m->end));
    }
}

static int group_setup(void **state)
{
    if (cl_test_fast_tmpdir_setup(state) != 0) {
        return -1;
    }
    cl_fp_clear();
    memset(&fx, 0, sizeof(fx));
    snprintf(fx.root, sizeof(fx.root), "%s", CL_TEST_DIR(state));
    cl_test_path(fx.tmpl, sizeof(fx.tmpl), fx.root, "template");
    cl_test_path(fx.work, sizeof(fx.work), fx.root, "work");
    fx.m[M_T0] = (struct pmodel){"t", 0, 0, 0};
    fx.m[M_T1] = (struct pmodel){"t", 1, 0, 0};
    fx.m[M_R0] = (struct pmodel){"r", 0, 0, 0};
    fx.m[M_OLD0] = (struct pmodel){"old", 0, 0, 0};
    fx.m[M_D0] = (struct pmodel){"d", 0, 0, 0};

    crawllog_t *log = open_dir(fx.tmpl, 1, NULL);
    create_topic(log, "t", 2, NULL);
    create_topic(log, "r", 1, NULL);
    create_topic(log, "old", 1, "3600000");
    create_topic(log, "d", 1, NULL);
    fx.t0_last_batch = fill(log, "t", 0, 150, -1);
    fill(log, "t", 1, 6, -1);
    fill_r(log, fx.tmpl);
    fill(log, "old", 0, 150, cl_io_now_ms() - OLD_AGE_MS);
    fill(log, "d", 0, 3, -1);
    model_offsets(log);
    assert_crawllog_ok(crawllog_close(log));
    size_t nseg;
    fx.old_active = last_segment_base(fx.tmpl, "old", 0, &nseg);
    assert_true(nseg >= 3 && fx.old_active > 0);
    last_segment_base(fx.tmpl, "t", 0, &nseg);
    assert_true(nseg >= 3);
    return 0;
}

static int group_teardown(void **state)
{
    cl_fp_clear();
    return cl_test_tmpdir_teardown(state);
}

/* ---------------------------------------------------------------------- */
/* Checking a directory against the model                                  */
/* ---------------------------------------------------------------------- */

/* Read topic/p from its log start: offsets contiguous, every value the
 * one its offset (or Y_MARK at ybase) gives.  Returns the end offset. */
static int64_t check_values(crawllog_t *log, const char *topic, int32_t p,
                            int64_t ybase, int64_t *startp)
{
    crawllog_reader_t *rd;
    const crawllog_msg_t *m;
    unsigned char want[R_VALUE_LEN + 1];
    int64_t start, end;
    assert_crawllog_ok_log(log, crawllog_partition_offsets(log, topic, p,
                                                           &start, &end));
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, topic, p));
    int64_t next = start;
    for (;;) {
        int rc = crawllog_reader_next(rd, &m);
        if (rc != 0) {
            fail_msg("%s/%d: reader_next at %" PRId64 ": %s: %s", topic,
                     (int)p, next, crawllog_err_name(rc),
                     crawllog_reader_errmsg(rd));
        }
        if (m == NULL) {
            break;
        }
        assert_int_equal(crawllog_msg_offset(m), next);
        size_t len, wlen = make_value(want, topic, p,
                                      next == ybase ? Y_MARK : next);
        const void *v = crawllog_msg_value(m, &len);
        if (len != wlen || memcmp(v, want, len) != 0) {
            fail_msg("%s/%d offset %" PRId64 ": wrong value", topic, (int)p,
                     next);
        }
        next++;
    }
    crawllog_reader_destroy(rd);
    assert_int_equal(next, end);
    if (startp) {
        *startp = start;
    }
    return end;
}

/* Every model partition except skip and skip2 (-1: none) is exactly as
 * prepared. */
static void check_model2(crawllog_t *log, int skip, int skip2, int skip_d)
{
    for (int i = 0; i < M_COUNT; i++) {
        const struct pmodel *m = &fx.m[i];
        int64_t start;
        if (i == skip || i == skip2 || (i == M_D0 && skip_d) ||
            !topic_kept(m->topic)) {
            continue;
        }
        assert_int_equal(check_values(log, m->topic, m->p, -1, &start),
                         m->end);
        assert_int_equal(start, m->start);
    }
}

static void check_model(crawllog_t *log, int skip, int skip_d)
{
    check_model2(log, skip, -1, skip_d);
}

/* Problems crawllog_verify may report after a call failed, and why:
 *  - a failed topic create whose clean-up also failed leaves
 *    staging/<pid>.*, and the clean-up at open keeps the entries of live
 *    processes - this one - so it stays until this process exits;
 *  - KNOWN ISSUE: a failed add_partitions leaves empty partition
 *    directories beyond the count, which topic.c documents as a valid
 *    state (the next add_partitions reuses them) but verify.c reports.
 * Counted and printed, so that they stay visible. */
struct vstate {
    int allow;          /* the scenario call failed */
    unsigned tolerated; /* problems matching the rules above */
    unsigned bad;
};

static unsigned tolerated_total;

static void verify_cb(void *opaque, const char *problem)
{
    struct vstate *vs = opaque;
    char own[64];
    snprintf(own, sizeof(own), "staging/%ld.", (long)getpid());
    if (vs->allow && (strncmp(problem, own, strlen(own)) == 0 ||
                      (strncmp(problem, "topics/t/", 9) == 0 &&
                       strstr(problem, ": beyond the partition count 2")))) {
        vs->tolerated++;
        return;
    }
    vs->bad++;
    print_error("verify: %s\n", problem);
}

static void verify_allowing(const char *dir, int allow)
{
    size_t problems = 0;
    struct vstate vs = {allow, 0, 0};
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_verify(dir, verify_cb, &vs, &problems, errstr,
                             sizeof(errstr));
    if ((rc != 0 && rc != CRAWLLOG_ECORRUPT) || vs.bad != 0 ||
        problems != vs.tolerated) {
        fail_msg("crawllog_verify(%s): %s, %zu problem(s): %s", dir,
                 crawllog_err_name(rc), problems, errstr);
    }
    tolerated_total += vs.tolerated;
}

static void assert_verify_clean(const char *dir)
{
    verify_allowing(dir, 0);
}

/* ---------------------------------------------------------------------- */
/* Scenarios                                                               */
/* ---------------------------------------------------------------------- */

struct ctx {
    crawllog_t *log;      /* opened before the fault (open: by the run) */
    int rc;               /* the scenario call's result */
    const char *fired;    /* site whose fault fired, NULL if none */
    int64_t xbase;        /* base the scenario's append got, -1 */
    int64_t ybase;        /* base of the append made after it, -1 */
    int closed;           /* the handle answered ECLOSED afterwards */
    int64_t x1base;       /* flush_durable: the t/1 append's base, -1 */
    int64_t y1base;       /* flush_durable: t/1's append after it, -1 */
    int flushing;         /* flush_durable: both appends acked */
};

struct scenario {
    const char *name;
    const char *topics;                    /* kept in the copy */
    int opens;                             /* run() opens the log itself */
    void (*prepare)(void);                 /* damage the copy, optional */
    int (*run)(struct ctx *c);
    void (*after)(struct ctx *c);          /* same handle, faults off */
    void (*check)(struct ctx *c, crawllog_t *log); /* after reopen */
};

/* -- appends -- */

static const char *x_topic;
static int32_t x_part;
static int x_sync;
static int x_model;

static int run_append(struct ctx *c)
{
    int64_t e0 = fx.m[x_model].end;
    return append_values(c->log, x_topic, x_part, e0, X_COUNT, x_sync, -1,
                         &c->xbase);
}

static int set_x(int model, int sync, struct ctx *c)
{
    x_model = model;
    x_topic = fx.m[model].topic;
    x_part = fx.m[model].p;
    x_sync = sync;
    return run_append(c);
}

static int run_append_written(struct ctx *c)
{
    return set_x(M_T0, CRAWLLOG_SYNC_WRITTEN, c);
}

static int run_append_durable(struct ctx *c)
{
    return set_x(M_T0, CRAWLLOG_SYNC_DURABLE, c);
}

static int run_append_roll(struct ctx *c)
{
    return set_x(M_R0, CRAWLLOG_SYNC_WRITTEN, c);
}

/* With faults off, append once more on the same handle. */
static void after_append(struct ctx *c)
{
    int64_t e0 = fx.m[x_model].end;
    int rc = append_values(c->log, x_topic, x_part, Y_MARK, 1,
                           CRAWLLOG_SYNC_WRITTEN, -1, &c->ybase);
    if (c->rc == 0) {
        assert_crawllog_ok_log(c->log, rc);
        assert_int_equal(c->xbase, e0);
        assert_int_equal(c->ybase, e0 + X_COUNT);
        return;
    }
    if (c->fired && closes_partition(c->fired)) {
        /* fsyncgate: nothing is acknowledged after a failed sync. */
        assert_crawllog_rc_log(c->log, rc, CRAWLLOG_ECLOSED);
        assert_crawllog_rc_log(c->log,
                               append_values(c->log, x_topic, x_part, Y_MARK,
                                             1, CRAWLLOG_SYNC_DURABLE, -1,
                                             NULL),
                               CRAWLLOG_ECLOSED);
    }
    if (rc == CRAWLLOG_ECLOSED) {
        c->closed = 1;
        c->ybase = -1;
        return;
    }
    assert_crawllog_ok_log(c->log, rc);
    if (c->ybase != e0 && c->ybase != e0 + X_COUNT) {
        fail_msg("append after a failed one got offset %" PRId64
                 ", not %" PRId64 " or %" PRId64,
                 c->ybase, e0, e0 + X_COUNT);
    }
}

static void check_append(struct ctx *c, crawllog_t *log)
{
    int64_t e0 = fx.m[x_model].end, start;
    int64_t end = check_values(log, x_topic, x_part, c->ybase, &start);
    assert_int_equal(start, fx.m[x_model].start);
    int64_t xs = end - (c->ybase >= 0 ? 1 : 0); /* end without Y */
    if (xs != e0 && xs != e0 + X_COUNT) {
        fail_msg("%s/%d ends at %" PRId64 " (+%d): the failed batch is "
                 "partly there",
                 x_topic, (int)x_part, end, c->ybase >= 0);
    }
    if (c->rc == 0) {
        assert_int_equal(xs, e0 + X_COUNT);
    }
    if (c->ybase >= 0) {
        assert_int_equal(c->ybase, end - 1);
    }
    check_model(log, x_model, 0);
    /* A reopened handle appends again (also after ECLOSED). */
    int64_t base;
    assert_crawllog_ok_log(log, append_values(log, x_topic, x_part, end, 1,
                                              CRAWLLOG_SYNC_DURABLE, -1,
                                              &base));
    assert_int_equal(base, end);
}

/* -- durable flush of two partitions -- */

/* WRITTEN to t/0 and t/1, then one durable flush: with two partitions to
 * sync, one worker thread (site flush.thread) syncs one of them. */
static int run_flush_durable(struct ctx *c)
{
    c->x1base = c->y1base = -1;
    int rc = append_values(c->log, "t", 0, fx.m[M_T0].end, X_COUNT,
                           CRAWLLOG_SYNC_WRITTEN, -1, &c->xbase);
    if (rc != 0) {
        c->xbase = -1; /* not acknowledged */
        return rc;
    }
    rc = append_values(c->log, "t", 1, fx.m[M_T1].end, X_COUNT,
                       CRAWLLOG_SYNC_WRITTEN, -1, &c->x1base);
    if (rc != 0) {
        c->x1base = -1;
        return rc;
    }
    c->flushing = 1;
    return crawllog_flush(c->log, CRAWLLOG_SYNC_DURABLE);
}

/* With faults off, append to t/p on the same handle: 0 and *ybasep, or
 * ECLOSED (*ybasep = -1) after a failed sync. */
static int after_flush_one(struct ctx *c, int model, int64_t xbase,
                           int64_t *ybasep)
{
    int64_t e0 = fx.m[model].end;
    int32_t p = fx.m[model].p;
    int rc = append_values(c->log, "t", p, Y_MARK, 1, CRAWLLOG_SYNC_WRITTEN,
                           -1, ybasep);
    if (c->rc == 0) {
        assert_crawllog_ok_log(c->log, rc);
        assert_int_equal(xbase, e0);
        assert_int_equal(*ybasep, e0 + X_COUNT);
        return 0;
    }
    if (rc == CRAWLLOG_ECLOSED) {
        *ybasep = -1;
        return 1;
    }
    assert_crawllog_ok_log(c->log, rc);
    if (*ybasep != e0 && *ybasep != e0 + X_COUNT) {
        fail_msg("t/%d: append after a failed flush got offset %" PRId64,
                 (int)p, *ybasep);
    }
    if (xbase >= 0) { /* acknowledged: written */
        assert_int_equal(*ybasep, e0 + X_COUNT);
    }
    return 0;
}

static void after_flush(struct ctx *c)
{
    int closed = after_flush_one(c, M_T0, c->xbase, &c->ybase) +
                 after_flush_one(c, M_T1, c->x1base, &c->y1base);
    if (c->rc == 0) {
        assert_crawllog_ok_log(c->log,
                               crawllog_flush(c->log, CRAWLLOG_SYNC_DURABLE));
        return;
    }
    if (c->flushing && c->fired && closes_partition(c->fired)) {
        /* fsyncgate: the partition whose sync failed stays closed, and
         * no later flush succeeds. */
        assert_true(closed >= 1);
        assert_crawllog_rc_log(c->log,
                               crawllog_flush(c->log, CRAWLLOG_SYNC_DURABLE),
                               CRAWLLOG_ECLOSED);
    }
    c->closed = closed > 0;
}

/* After reopen: each partition's batch wholly there or wholly not (there
 * if acknowledged, and both after a flush that returned 0). */
static void check_flush_one(struct ctx *c, crawllog_t *log, int model,
                            int64_t xbase, int64_t ybase)
{
    int64_t e0 = fx.m[model].end, start, base;
    int32_t p = fx.m[model].p;
    int64_t end = check_values(log, "t", p, ybase, &start);
    assert_int_equal(start, fx.m[model].start);
    int64_t xs = end - (ybase >= 0 ? 1 : 0);
    if (xs != e0 && xs != e0 + X_COUNT) {
        fail_msg("t/%d ends at %" PRId64 ": the batch is partly there",
                 (int)p, end);
    }
    if (c->rc == 0 || xbase >= 0) {
        assert_int_equal(xs, e0 + X_COUNT);
    }
    if (ybase >= 0) {
        assert_int_equal(ybase, end - 1);
    }
    assert_crawllog_ok_log(log, append_values(log, "t", p, end, 1,
                                              CRAWLLOG_SYNC_DURABLE, -1,
                                              &base));
    assert_int_equal(base, end);
}

static void check_flush(struct ctx *c, crawllog_t *log)
{
    check_flush_one(c, log, M_T0, c->xbase, c->ybase);
    check_flush_one(c, log, M_T1, c->x1base, c->y1base);
    check_model2(log, M_T0, M_T1, 0);
}

/* -- topic create -- */

static int run_create(struct ctx *c)
{
    return crawllog_topic_create(c->log, "new", 2, NULL);
}

/* A topic that exists must be whole and usable. */
static void check_usable(crawllog_t *log, const char *topic, int32_t parts)
{
    for (int32_t p = 0; p < parts; p++) {
        int64_t base, start;
        int64_t end = check_values(log, topic, p, -1, &start);
        assert_crawllog_ok_log(log,
                               append_values(log, topic, p, end, 1,
                                             CRAWLLOG_SYNC_DURABLE, -1,
                                             &base));
        assert_int_equal(base, end);
        assert_int_equal(check_values(log, topic, p, -1, NULL), end + 1);
    }
}

static void check_create(struct ctx *c, crawllog_t *log)
{
    int32_t parts = -1;
    int rc = crawllog_topic_describe(log, "new", &parts, NULL);
    if (rc == CRAWLLOG_ENOTOPIC) {
        assert_int_not_equal(c->rc, 0);
    } else {
        assert_crawllog_ok_log(log, rc);
        assert_int_equal(parts, 2);
        for (int32_t p = 0; p < 2; p++) {
            int64_t start;
            assert_int_equal(check_values(log, "new", p, -1, &start), 0);
        }
        check_usable(log, "new", 2);
    }
    check_model(log, -1, 0);
}

/* -- retention -- */

static int run_maintain(struct ctx *c)
{
    int64_t deleted = -1;
    int rc = crawllog_maintain(c->log, &deleted);
    if (rc == 0) {
        assert_true(deleted > 0);
    }
    return rc;
}

static void check_maintain(struct ctx *c, crawllog_t *log)
{
    int64_t start, end;
    const struct pmodel *m = &fx.m[M_OLD0];
    end = check_values(log, "old", 0, -1, &start);
    assert_int_equal(end, m->end);
    if (start != m->start && start != fx.old_active) {
        /* Whole segments only: the start is a segment base. */
        char rel[512], path[4096];
        snprintf(rel, sizeof(rel), "topics/old/0/%020" PRId64 ".log", start);
        assert_true(cl_test_exists(cl_test_path(path, sizeof(path), fx.work,
                                                rel)));
        assert_true(start > m->start && start < fx.old_active);
    }
    if (c->rc == 0) {
        assert_int_equal(start, fx.old_active);
    }
    check_model(log, M_OLD0, 0);
    /* Retention finishes once the faults are gone. */
    assert_crawllog_ok_log(log, crawllog_maintain(log, NULL));
    assert_int_equal(check_values(log, "old", 0, -1, &start), m->end);
    assert_int_equal(start, fx.old_active);
}

/* -- open with recovery -- */

/* Cut t/0's last batch short (a torn tail), drop t/1's shared state (full
 * recovery) and the index of t/0's active segment (rebuilt). */
static void prepare_open(void)
{
    char rel[512], path[4096];
    int64_t base = last_segment_base(fx.work, "t", 0, NULL);
    snprintf(rel, sizeof(rel), "topics/t/0/%020" PRId64 ".log", base);
    cl_test_path(path, sizeof(path), fx.work, rel);
    cl_test_truncate(path, (off_t)cl_test_file_size(path) - 7);
    snprintf(rel, sizeof(rel), "topics/t/0/%020" PRId64 ".index", base);
    assert_int_equal(unlink(cl_test_path(path, sizeof(path), fx.work, rel)),
                     0);
    assert_int_equal(unlink(cl_test_path(path, sizeof(path), fx.work,
                                         "topics/t/1/partition.state")),
                     0);
}

static int run_open(struct ctx *c)
{
    int rc;
    c->log = open_dir(fx.work, 0, &rc);
    return rc;
}

static void check_open(struct ctx *c, crawllog_t *log)
{
    int64_t start;
    (void)c;
    /* The torn batch is gone, everything before it is there. */
    assert_int_equal(check_values(log, "t", 0, -1, &start),
                     fx.t0_last_batch);
    assert_int_equal(start, 0);
    check_model(log, M_T0, 0);
    check_usable(log, "t", 2);
}

/* -- topic delete -- */

static int run_delete(struct ctx *c)
{
    return crawllog_topic_delete(c->log, "d");
}

static void check_delete(struct ctx *c, crawllog_t *log)
{
    int32_t parts;
    int rc = crawllog_topic_describe(log, "d", &parts, NULL);
    if (rc == CRAWLLOG_ENOTOPIC) {
        char path[4096];
        assert_false(cl_test_exists(cl_test_path(path, sizeof(path), fx.work,
                                                 "topics/d")));
    } else {
        assert_crawllog_ok_log(log, rc);
        assert_int_not_equal(c->rc, 0);
        assert_int_equal(parts, 1);
        assert_int_equal(check_values(log, "d", 0, -1, NULL), fx.m[M_D0].end);
    }
    check_model(log, -1, 1);
}

/* -- add partitions -- */

static int run_add(struct ctx *c)
{
    return crawllog_topic_add_partitions(c->log, "t", 4);
}

static void check_add(struct ctx *c, crawllog_t *log)
{
    int32_t parts = -1;
    assert_crawllog_ok_log(log,
                           crawllog_topic_describe(log, "t", &parts, NULL));
    if (c->rc == 0) {
        assert_int_equal(parts, 4);
    }
    assert_true(parts == 2 || parts == 4);
    check_model(log, -1, 0);
    for (int32_t p = 2; p < parts; p++) {
        int64_t start;
        assert_int_equal(check_values(log, "t", p, -1, &start), 0);
    }
    if (parts == 4) {
        int64_t base;
        for (int32_t p = 2; p < 4; p++) {
            assert_crawllog_ok_log(log,
                                   append_values(log, "t", p, 0, 2,
                                                 CRAWLLOG_SYNC_DURABLE, -1,
                                                 &base));
            assert_int_equal(base, 0);
        }
    }
    assert_crawllog_rc_log(log,
                           append_values(log, "t", parts, 0, 1,
                                         CRAWLLOG_SYNC_WRITTEN, -1, NULL),
                           CRAWLLOG_ENOTOPIC);
}

static const struct scenario SCENARIOS[] = {
    {"topic_create", "t", 0, NULL, run_create, NULL, check_create},
    {"append_written", "t", 0, NULL, run_append_written, after_append,
     check_append},
    {"append_durable", "t", 0, NULL, run_append_durable, after_append,
     check_append},
    {"append_roll", "r t", 0, NULL, run_append_roll, after_append,
     check_append},
    {"retention", "old t", 0, NULL, run_maintain, NULL, check_maintain},
    {"open_recover", "t", 1, prepare_open, run_open, NULL, check_open},
    {"topic_delete", "d t", 0, NULL, run_delete, NULL, check_delete},
    {"add_partitions", "t", 0, NULL, run_add, NULL, check_add},
    {"flush_durable", "t", 0, NULL, run_flush_durable, after_flush,
     check_flush},
};
#define NSCENARIOS (sizeof(SCENARIOS) / sizeof(SCENARIOS[0]))

/* ---------------------------------------------------------------------- */
/* The sweep                                                               */
/* ---------------------------------------------------------------------- */

/* Fresh copy of the prepared directory, opened unless the scenario opens
 * it; *fdsp gets the descriptor count before anything was opened. */
static void start_iteration(const struct scenario *sc, struct ctx *c,
                            int *fdsp)
{
    cl_test_rmrf(fx.work);
    kept_topics = sc->topics;
    copy_tree(fx.tmpl, fx.work);
    if (sc->prepare) {
        sc->prepare();
    }
    memset(c, 0, sizeof(*c));
    c->xbase = c->ybase = -1;
    *fdsp = cl_fault_count_fds();
    if (!sc->opens) {
        c->log = open_dir(fx.work, 0, NULL);
    }
}

/* After the run (faults off): same-handle checks, close, no fd leaked,
 * reopen, scenario checks, verify. */
static void finish_iteration(const struct scenario *sc, struct ctx *c,
                             int fds)
{
    if (c->log && sc->after) {
        sc->after(c);
    }
    int rc = crawllog_close(c->log);
    if (rc != 0 && !(c->closed && rc == CRAWLLOG_ECLOSED)) {
        fail_msg("%s: crawllog_close: %s", sc->name, crawllog_err_name(rc));
    }
    assert_int_equal(cl_fault_count_fds(), fds);
    crawllog_t *log = open_dir(fx.work, 0, NULL);
    sc->check(c, log);
    assert_crawllog_ok(crawllog_close(log));
    verify_allowing(fx.work, c->rc != 0);
}

/* Run sc once with spec armed ("" for none); returns the hits of site. */
static uint64_t run_armed(const struct scenario *sc, struct ctx *c,
                          const char *spec, const char *site)
{
    int fds;
    start_iteration(sc, c, &fds);
    cl_fp_clear();
    assert_int_equal(cl_fp_set(spec), 0);
    c->rc = sc->run(c);
    uint64_t hits = site ? cl_fp_hits(site) : 0;
    cl_fp_clear();
    return hits;
}

/* Dry run: every site the scenario reaches must be in SITES[]. */
static void dry_run(const struct scenario *sc, uint64_t *hits)
{
    struct ctx c;
    int fds;
    uint64_t sum = 0;
    start_iteration(sc, &c, &fds);
    cl_fp_clear();
    c.rc = sc->run(&c);
    uint64_t total = cl_fp_hits_total();
    for (size_t i = 0; i < NSITES; i++) {
        hits[i] = cl_fp_hits(SITES[i].name);
        sum += hits[i];
    }
    if (c.rc != 0) {
        fail_msg("%s: fails without faults: %s: %s", sc->name,
                 crawllog_err_name(c.rc), crawllog_errmsg(c.log));
    }
    if (sum != total) {
        fail_msg("%s: %" PRIu64 " of %" PRIu64 " I/O calls are at sites "
                 "missing from SITES[] (list them with CRAWLLOG_FP_STATS)",
                 sc->name, total - sum, total);
    }
    finish_iteration(sc, &c, fds);
}

struct tally {
    unsigned points, failures, iterations;
};

/* k = 1, 2, ... at one site with one kind and mode. */
static void sweep_site(const struct scenario *sc, const struct site *site,
                       const struct kind *kind, int persist,
                       struct tally *t)
{
    for (uint64_t k = 1; k <= K_MAX; k++) {
        char spec[256];
        struct ctx c;
        int fds;
        snprintf(spec, sizeof(spec), "%s=%s@%" PRIu64 "%s", site->name,
                 kind->spec, k, persist ? ":persist" : "");
        start_iteration(sc, &c, &fds);
        cl_fp_clear();
        assert_int_equal(cl_fp_set(spec), 0);
        c.rc = sc->run(&c);
        int fired = cl_fp_hits(site->name) >= k;
        cl_fp_clear();
        t->iterations++;
        c.fired = fired ? site->name : NULL;
        if (c.rc != 0) {
            t->failures++;
            if (!fired || (kind->is_eintr && site->eintr_retried) ||
                c.rc >= 0 ||
                strcmp(crawllog_err_name(c.rc), "CRAWLLOG_EUNKNOWN") == 0) {
                fail_msg("%s with %s: unexpected %d %s: %s", sc->name, spec,
                         c.rc, crawllog_err_name(c.rc),
                         c.log ? crawllog_errmsg(c.log) : "");
            }
        }
        finish_iteration(sc, &c, fds);
        if (!fired) {
            return;
        }
        t->points++;
    }
    fail_msg("%s: site %s still hit at k = %d", sc->name, site->name, K_MAX);
}

static void sweep(const struct scenario *sc)
{
    uint64_t hits[NSITES];
    struct tally t = {0, 0, 0};
    unsigned nsites = 0;
    int64_t t0 = cl_io_mono_ns();
    dry_run(sc, hits);
    for (size_t i = 0; i < NSITES; i++) {
        if (hits[i] == 0) {
            continue;
        }
        nsites++;
        for (size_t kd = 0; kd < NKINDS; kd++) {
            sweep_site(sc, &SITES[i], &KINDS[kd], 0, &t);
            sweep_site(sc, &SITES[i], &KINDS[kd], 1, &t);
        }
    }
    print_message("%-15s %4u fault points at %2u sites, %4u failed calls, "
                  "%5u runs, %lld ms\n",
                  sc->name, t.points, nsites, t.failures, t.iterations,
                  (long long)((cl_io_mono_ns() - t0) / 1000000));
    if (tolerated_total > 0) {
        print_message("%-15s %u verify problem(s) tolerated (see "
                      "verify_cb)\n",
                      sc->name, tolerated_total);
        tolerated_total = 0;
    }
    assert_true(t.points > 0);
}

/* Define the test fn: the sweep of SCENARIOS[i] and nothing else.  Used
 * with a semicolon after it. */
#define SWEEP_TEST(fn, i)                                                      \
    static void fn(void **state)                                               \
    {                                                                          \
        (void)state;                                                           \
        sweep(&SCENARIOS[i]);                                                  \
    }                                                                          \
    _Static_assert((i) < sizeof(SCENARIOS) / sizeof(SCENARIOS[0]), #fn)

SWEEP_TEST(test_fault_log_topic_create, 0);
SWEEP_TEST(test_fault_log_append_written, 1);
SWEEP_TEST(test_fault_log_append_durable, 2);
SWEEP_TEST(test_fault_log_retention, 4);
SWEEP_TEST(test_fault_log_open_recover, 5);
SWEEP_TEST(test_fault_log_topic_delete, 6);
SWEEP_TEST(test_fault_log_add_partitions, 7);
SWEEP_TEST(test_fault_log_flush_durable, 8);

static void test_fault_log_append_roll(void **state)
{
    size_t before, after;
    (void)state;
    /* The prepared "r" is full: this append must roll. */
    last_segment_base(fx.tmpl, "r", 0, &before);
    struct ctx c;
    run_armed(&SCENARIOS[3], &c, "", NULL);
    assert_crawllog_ok(c.rc);
    last_segment_base(fx.work, "r", 0, &after);
    assert_int_equal(after, before + 1);
    assert_crawllog_ok(crawllog_close(c.log));
    sweep(&SCENARIOS[3]);
}

/* ---------------------------------------------------------------------- */
/* OOM sweep                                                               */
/* ---------------------------------------------------------------------- */

/* open, append, read everything with a new reader; the first failure
 * (which must be ENOMEM) stops it.  *appendedp: the append was acked. */
static int oom_ops(crawllog_t **logp, int *appendedp)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m;
    int64_t base;
    int rc;
    *appendedp = 0;
    rc = crawllog_open(logp, fx.work, NULL, NULL, 0);
    if (rc != 0) {
        assert_null(*logp);
        return rc;
    }
    rc = append_values(*logp, "t", 0, fx.m[M_T0].end, 3,
                       CRAWLLOG_SYNC_WRITTEN, -1, &base);
    if (rc != 0) {
        return rc;
    }
    *appendedp = 1;
    assert_int_equal(base, fx.m[M_T0].end);
    rc = crawllog_reader_new(&rd, *logp, "t", 1);
    int64_t n = 0;
    while (rc == 0 && (rc = crawllog_reader_next(rd, &m)) == 0 && m) {
        n++;
    }
    crawllog_reader_destroy(rd);
    if (rc == 0) {
        assert_int_equal(n, fx.m[M_T1].end);
    }
    return rc;
}

static void oom_sweep(int persist, unsigned *pointsp)
{
    for (uint64_t k = 1; k <= K_MAX; k++) {
        char spec[64];
        crawllog_t *log = NULL;
        int appended;
        snprintf(spec, sizeof(spec), "malloc=ENOMEM@%" PRIu64 "%s", k,
                 persist ? ":persist" : "");
        cl_test_rmrf(fx.work);
        kept_topics = "t";
        copy_tree(fx.tmpl, fx.work);
        int fds = cl_fault_count_fds();
        cl_fp_clear();
        assert_int_equal(cl_fp_set(spec), 0);
        int rc = oom_ops(&log, &appended);
        int fired = cl_fp_hits("malloc") >= k;
        cl_fp_clear();
        if (rc != 0 && (!fired || rc != CRAWLLOG_ENOMEM)) {
            fail_msg("%s: %s: %s", spec, crawllog_err_name(rc),
                     log ? crawllog_errmsg(log) : "(no handle)");
        }
        assert_crawllog_ok(crawllog_close(log));
        assert_int_equal(cl_fault_count_fds(), fds);
        log = open_dir(fx.work, 0, NULL);
        int64_t start, end = check_values(log, "t", 0, -1, &start);
        if (appended) {
            assert_int_equal(end, fx.m[M_T0].end + 3);
        } else if (end != fx.m[M_T0].end && end != fx.m[M_T0].end + 3) {
            fail_msg("%s: t/0 ends at %" PRId64, spec, end);
        }
        check_model(log, M_T0, 0);
        assert_crawllog_ok(crawllog_close(log));
        assert_verify_clean(fx.work);
        if (!fired) {
            return;
        }
        (*pointsp)++;
    }
    fail_msg("malloc still hit at k = %d", K_MAX);
}

static void test_fault_log_oom(void **state)
{
    unsigned once = 0, persist = 0;
    (void)state;
    oom_sweep(0, &once);
    oom_sweep(1, &persist);
    print_message("oom             %4u allocation points (once), %u "
                  "(persistent)\n",
                  once, persist);
    assert_true(once > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_log_topic_create),
        cmocka_unit_test(test_fault_log_append_written),
        cmocka_unit_test(test_fault_log_append_durable),
        cmocka_unit_test(test_fault_log_append_roll),
        cmocka_unit_test(test_fault_log_retention),
        cmocka_unit_test(test_fault_log_open_recover),
        cmocka_unit_test(test_fault_log_topic_delete),
        cmocka_unit_test(test_fault_log_add_partitions),
        cmocka_unit_test(test_fault_log_flush_durable),
        cmocka_unit_test(test_fault_log_oom),
    };
    (void)cl_test_seed();
    if (getenv("CL_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("CL_TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("fault_log", tests, group_setup,
                                       group_teardown);
}
