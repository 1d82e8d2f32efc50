/*
 * test_flushset.c - the concurrent durable flush (libcrawllog/flushset.c):
 * crawllog_flush(DURABLE) writes every buffered batch, then fdatasyncs the
 * partitions with unsynced appends with the calling thread plus up to
 * log.flush.parallelism - 1 workers of the handle.  -DCRAWLLOG_TESTING.
 *
 *  - power loss (shadow durable image, as in test_producer_durability.c):
 *    a child appends WRITTEN and NONE batches to 10 partitions of 2
 *    topics, flushes DURABLE, reports through a pipe, dies by SIGKILL; the
 *    recovered CL_SHADOW_DURABLE image holds every record appended before
 *    the flush.  Parallelism 8 and 1; "flush.thread" failing every worker
 *    or only the second.  Ablations: "seg.append.fdatasync=SKIP:persist"
 *    loses records; one skipped sync (SKIP@3) loses exactly one partition;
 *  - one partition's fdatasync fails (EIO@3): CRAWLLOG_EIO naming it; it
 *    refuses appends and flushes (ECLOSED, fsyncgate), the others go on;
 *    the reopened directory verifies clean;
 *  - /proc/self/task grows by min(dirty, parallelism) - 1 on the first
 *    such flush, not with parallelism 1 or one dirty partition, and is
 *    back to its count once crawllog_close has returned;
 *  - 4 threads appending WRITTEN to their own partitions and flushing
 *    DURABLE in a loop (flushes find the pool busy), one appending NONE:
 *    every record is there after close, and (in a child) after a power
 *    loss right after the last flushes (make test-tsan runs this program);
 *  - a flush that finds the pool busy, for certain: thread A's flush is
 *    held inside its fdatasyncs (the parent holds the shadow's lock, which
 *    the sync hook takes) while B appends to another partition and
 *    flushes; B's flush returns 0, the power fails at once, and B's record
 *    is in the image: B synced its set itself;
 *  - a migration's copy (the topic flush) uses the workers too;
 *  - log.flush.parallelism: 1 and 64 accepted, 0 and 65 refused
 *    (CRAWLLOG_EINVAL, the message names the property).
 * Knob: CL_FS_DEBUG=1 prints how many records each image kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawllog.h"
#include "crawllog_migrate.h"
#include "helpers.h"
#include "io.h"
#include "io_shadow.h"

/* The partitions of the power-loss runs: 2 topics, 10 partitions. */
struct topic_spec {
    const char *name;
    int32_t parts;
};
static const struct topic_spec TOPICS[] = {{"fa", 8}, {"fb", 2}};
#define NTOPICS 2
#define NPARTS 10
#define MAX_PARTS 16 /* of a checked image */
#define CHILD_TIMEOUT_S 30
#define PER_ROUND 6 /* records per partition and flush round */
#define MAX_ROUNDS 2

/* ---------------------------------------------------------------------- */
/* Records                                                                 */
/* ---------------------------------------------------------------------- */

/* The value of record id of topic/p. */
static size_t make_value(char *buf, size_t size, const char *topic,
                         int32_t p, int64_t id)
{
    int n = snprintf(buf, size, "%s/%d/%" PRId64 "/%.*s", topic, (int)p, id,
                     (int)(id % 23), "abcdefghijklmnopqrstuvwxyz");
    return (size_t)n;
}

/* Append n records (values of ids first..) as one batch. */
static int append_ids(crawllog_t *log, const char *topic, int32_t p,
                      int64_t first, size_t n, int sync, int64_t *basep)
{
    char vals[8][64];
    crawllog_record_t recs[8];
    if (n > 8) {
        return CRAWLLOG_EINVAL;
    }
    memset(recs, 0, sizeof(recs));
    for (size_t i = 0; i < n; i++) {
        recs[i].value = vals[i];
        recs[i].value_len = make_value(vals[i], sizeof(vals[i]), topic, p,
                                       first + (int64_t)i);
        recs[i].timestamp = -1;
    }
    return crawllog_append(log, topic, p, recs, n, sync, basep);
}

/* How many records of topic/p, from offset 0 on, have the values their
 * offsets give (stops at the first other one); *endp gets the log end and
 * *wrongp is set when a record has another value or cannot be read. */
static int64_t count_good(crawllog_t *log, const char *topic, int32_t p,
                          int64_t *endp, int *wrongp)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m = NULL;
    int64_t start = -1, good = 0;
    *endp = -1;
    if (crawllog_partition_offsets(log, topic, p, &start, endp) != 0 ||
        start != 0 || crawllog_reader_new(&rd, log, topic, p) != 0) {
        *wrongp = 1;
        return 0;
    }
    for (;;) {
        char want[64];
        size_t len = 0;
        if (crawllog_reader_next(rd, &m) != 0) {
            *wrongp = 1;
            break;
        }
        if (m == NULL) {
            break;
        }
        size_t wlen = make_value(want, sizeof(want), topic, p, good);
        const void *v = crawllog_msg_value(m, &len);
        if (crawllog_msg_offset(m) != good || len != wlen ||
            memcmp(v, want, len) != 0) {
            *wrongp = 1;
            break;
        }
        good++;
    }
    crawllog_reader_destroy(rd);
    return good;
}

/* Stores the /proc path of its own task in arg. */
static void *noop_thread(void *arg)
{
    char *path = arg;
    ssize_t n = readlink("/proc/thread-self", path + 6, 64);
    path[n > 0 ? 6 + n : 0] = '\0';
    return NULL;
}

/* Entries of /proc/self/task: the threads of this process.  The first
 * call in a process starts and joins one thread, so that a sanitizer's
 * own helper thread (TSan starts one with the first thread of a process)
 * exists before anything is counted, and waits until the joined thread has
 * left /proc (it may stay an instant after pthread_join returned). */
static size_t count_tasks(void)
{
    static pid_t warmed; /* in this process (a fork child warms again) */
    if (warmed != getpid()) {
        char path[80] = "/proc/";
        pthread_t th;
        if (pthread_create(&th, NULL, noop_thread, path) == 0) {
            pthread_join(th, NULL);
        }
        for (int i = 0; path[0] != '\0' && cl_test_exists(path) && i < 200;
             i++) {
            cl_test_sleep_ms(10);
        }
        warmed = getpid();
    }
    return cl_test_count_entries("/proc/self/task");
}

/* Wait up to 2 s for the thread count to drop to want (a joined thread may
 * leave /proc an instant after pthread_join returned); returns it. */
static size_t tasks_settle(size_t want)
{
    size_t n = count_tasks();
    for (int i = 0; i < 200 && n != want; i++) {
        cl_test_sleep_ms(10);
        n = count_tasks();
    }
    return n;
}

#define par_conf(par) cl_test_conf("log.flush.parallelism", (par), NULL)

/* ---------------------------------------------------------------------- */
/* Power loss: the flushing child and the checker                          */
/* ---------------------------------------------------------------------- */

struct plan {
    const char *par;     /* log.flush.parallelism */
    const char *fp;      /* armed before the first flush, NULL: none */
    int rounds;          /* append + flush rounds */
};

/* What the flushing child reports after each flush. */
struct flush_report {
    int rc;
    int pad;
    uint64_t thread_hits; /* "flush.thread" hits of this flush */
    uint64_t sync_hits;   /* "seg.append.fdatasync" hits of this flush */
    uint64_t tasks;       /* threads after the flush */
    uint64_t tasks0;      /* threads before the first flush */
    char errmsg[200];
};

enum { EXIT_SHADOW = 10, EXIT_OPEN, EXIT_TOPIC, EXIT_APPEND, EXIT_FP,
       EXIT_PIPE };

/* In a power-loss child: a deadline (a hung child dies, and the parent
 * fails), the shadow on r->real, the log r->real/data opened with
 * parallelism par (NULL: the default) and topics created.  Exits with a
 * code above on failure. */
static crawllog_t *child_open(const struct cl_test_shadow_run *r,
                              const char *par,
                              const struct topic_spec *topics, int ntopics)
{
    char data[800], err[256];
    crawllog_t *log = NULL;
    alarm(CHILD_TIMEOUT_S);
    cl_fp_clear();
    if (cl_shadow_enable(r->real, r->shadow) != 0) {
        _exit(EXIT_SHADOW);
    }
    cl_test_path(data, sizeof(data), r->real, "data");
    crawllog_conf_t *conf = par ? par_conf(par) : NULL;
    int rc = crawllog_open(&log, data, conf, err, sizeof(err));
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        _exit(EXIT_OPEN);
    }
    for (int t = 0; t < ntopics; t++) {
        if (crawllog_topic_create(log, topics[t].name, topics[t].parts,
                                  NULL) != 0) {
            _exit(EXIT_TOPIC);
        }
    }
    return log;
}

static void flush_child(const struct cl_test_shadow_run *r, const void *arg,
                        int fd, int rfd)
{
    const struct plan *pl = arg;
    (void)rfd;
    crawllog_t *log = child_open(r, pl->par, TOPICS, NTOPICS);
    uint64_t tasks0 = count_tasks();
    if (pl->fp != NULL && cl_fp_set(pl->fp) != 0) {
        _exit(EXIT_FP);
    }
    for (int round = 0; round < pl->rounds; round++) {
        /* Batches of 1..3 records, alternately WRITTEN and NONE. */
        for (int t = 0; t < NTOPICS; t++) {
            for (int32_t p = 0; p < TOPICS[t].parts; p++) {
                int64_t id = (int64_t)round * PER_ROUND;
                for (int b = 0; id < (int64_t)(round + 1) * PER_ROUND; b++) {
                    size_t n = (size_t)(1 + (p + b) % 3);
                    if (id + (int64_t)n > (int64_t)(round + 1) * PER_ROUND) {
                        n = (size_t)((round + 1) * PER_ROUND - id);
                    }
                    int sync = (p + b) % 2 ? CRAWLLOG_SYNC_NONE
                                           : CRAWLLOG_SYNC_WRITTEN;
                    if (append_ids(log, TOPICS[t].name, p, id, n, sync,
                                   NULL) != 0) {
                        _exit(EXIT_APPEND);
                    }
                    id += (int64_t)n;
                }
            }
        }
        struct flush_report rep;
        memset(&rep, 0, sizeof(rep));
        uint64_t th0 = cl_fp_hits("flush.thread");
        uint64_t sy0 = cl_fp_hits("seg.append.fdatasync");
        rep.rc = crawllog_flush(log, CRAWLLOG_SYNC_DURABLE);
        rep.thread_hits = cl_fp_hits("flush.thread") - th0;
        rep.sync_hits = cl_fp_hits("seg.append.fdatasync") - sy0;
        rep.tasks = count_tasks();
        rep.tasks0 = tasks0;
        snprintf(rep.errmsg, sizeof(rep.errmsg), "%s", crawllog_errmsg(log));
        if (write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep)) {
            _exit(EXIT_PIPE);
        }
    }
    /* The power fails right after the last flush: no close. */
    raise(SIGKILL);
}

/* What the checker finds in the image, per partition in topics order. */
struct image_verdict {
    int open_rc;
    int wrong;
    int64_t good[MAX_PARTS], end[MAX_PARTS];
    char why[200];
};

struct check_arg {
    const struct cl_test_shadow_run *r;
    const struct topic_spec *topics;
    int ntopics;
};

static void check_child(void *arg)
{
    const struct check_arg *a = arg;
    struct image_verdict v;
    crawllog_t *log = NULL;
    char path[800];
    memset(&v, 0, sizeof(v));
    v.open_rc = cl_test_open_after_power_loss(a->r->img, &log, v.why,
                                              sizeof(v.why));
    if (v.open_rc == 0) {
        int i = 0;
        for (int t = 0; t < a->ntopics; t++) {
            for (int32_t p = 0; p < a->topics[t].parts && i < MAX_PARTS;
                 p++, i++) {
                v.good[i] = count_good(log, a->topics[t].name, p, &v.end[i],
                                       &v.wrong);
            }
        }
        crawllog_close(log);
    }
    cl_test_path(path, sizeof(path), a->r->dir, "verdict");
    cl_test_write_file(path, &v, sizeof(v));
}

/* Build the durable image of r, recover it in a child and count the
 * records of every partition of topics; nothing may be wrong, and every
 * partition must read to its end. */
static void check_image(const struct cl_test_shadow_run *r, const char *tag,
                        const struct topic_spec *topics, int ntopics,
                        struct image_verdict *v)
{
    struct check_arg a = {r, topics, ntopics};
    char path[800];
    size_t len = 0;
    int nparts = 0;
    for (int t = 0; t < ntopics; t++) {
        nparts += topics[t].parts;
    }
    assert_true(nparts <= MAX_PARTS);
    assert_int_equal(cl_shadow_image(r->shadow, r->img, CL_SHADOW_DURABLE, 0),
                     0);
    cl_test_assert_exit_ok(cl_test_fork_run(check_child, &a));
    void *buf = cl_test_read_file(cl_test_path(path, sizeof(path), r->dir,
                                               "verdict"),
                                  &len);
    assert_int_equal(len, sizeof(*v));
    memcpy(v, buf, sizeof(*v));
    free(buf);
    v->why[sizeof(v->why) - 1] = '\0';
    if (v->open_rc != 0) {
        fail_msg("%s: recovery of the image failed: %d (%s)", tag, v->open_rc,
                 v->why);
    }
    /* Lost or kept, a record is never replaced by another one. */
    assert_int_equal(v->wrong, 0);
    for (int i = 0; i < nparts; i++) {
        assert_int_equal(v->good[i], v->end[i]);
    }
}

/* Wait for the child pid, which must die by SIGKILL (its power loss). */
static void reap_killed(pid_t pid, const char *tag)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
        fail_msg("%s: child: status 0x%x (exit %d, signal %d)", tag, st,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
}

/* Fork a power-loss child running fn(r, arg, wfd, rfd) (it dies by
 * SIGKILL); *upp gets the read end of wfd's pipe, *downp the write end of
 * rfd's (the caller closes both). */
static pid_t spawn(const struct cl_test_shadow_run *r,
                   void (*fn)(const struct cl_test_shadow_run *, const void *,
                              int, int),
                   const void *arg, int *upp, int *downp)
{
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        fn(r, arg, up[1], down[0]);
        _exit(EXIT_PIPE);
    }
    close(up[1]);
    close(down[0]);
    *upp = up[0];
    *downp = down[1];
    return pid;
}

/* Run the plan; reps[] gets one report per flush; v the image's verdict. */
static void power_loss_run(void **state, const char *tag,
                           const struct plan *pl,
                           struct flush_report reps[MAX_ROUNDS],
                           struct image_verdict *v)
{
    struct cl_test_shadow_run r;
    int up, down, got = 0;
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
    assert_true(pl->rounds >= 1 && pl->rounds <= MAX_ROUNDS);
    pid_t pid = spawn(&r, flush_child, pl, &up, &down);
    for (;;) {
        struct flush_report rep;
        ssize_t n = read(up, &rep, sizeof(rep));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        assert_int_equal(n, (ssize_t)sizeof(rep));
        assert_true(got < pl->rounds);
        rep.errmsg[sizeof(rep.errmsg) - 1] = '\0';
        reps[got++] = rep;
    }
    close(up);
    close(down);
    reap_killed(pid, tag);
    assert_int_equal(got, pl->rounds);
    check_image(&r, tag, TOPICS, NTOPICS, v);
    for (int i = 0; getenv("CL_FS_DEBUG") != NULL && i < NPARTS; i++) {
        printf("%s%s%" PRId64, i ? " " : tag, i ? "" : ": kept ", v->good[i]);
        printf("%s", i == NPARTS - 1 ? "\n" : "");
    }
}

/* ---------------------------------------------------------------------- */
/* Tests: power loss                                                       */
/* ---------------------------------------------------------------------- */

/* Runs after which the image must hold every record, and what each flush
 * must have done with threads: "flush.thread" hits, threads added. */
static const struct kept_case {
    const char *tag;
    struct plan pl;
    uint64_t hits[MAX_ROUNDS], added[MAX_ROUNDS];
} KEPT[] = {
    /* Parallelism 8: 7 workers on the first flush, kept for the next. */
    {"par8", {"8", NULL, 2}, {7, 0}, {7, 7}},
    /* Parallelism 1: one after the other, no thread. */
    {"par1", {"1", NULL, 1}, {0, 0}, {0, 0}},
    /* No worker can start: the caller syncs everything (and tries again
     * at each flush). */
    {"nothread", {"8", "flush.thread=EAGAIN:persist", 2}, {1, 1}, {0, 0}},
    /* The second creation fails: one worker, the next flush adds 6. */
    {"somethreads", {"8", "flush.thread=EAGAIN@2", 2}, {2, 6}, {1, 7}},
};

static void kept_run(void **state, const struct kept_case *k)
{
    struct flush_report reps[MAX_ROUNDS];
    struct image_verdict v;
    power_loss_run(state, k->tag, &k->pl, reps, &v);
    for (int i = 0; i < k->pl.rounds; i++) {
        if (reps[i].rc != 0) {
            fail_msg("%s: flush %d: %s: %s", k->tag, i,
                     crawllog_err_name(reps[i].rc), reps[i].errmsg);
        }
        /* One fdatasync per partition and flush. */
        assert_int_equal(reps[i].sync_hits, NPARTS);
        assert_int_equal(reps[i].thread_hits, k->hits[i]);
        assert_int_equal(reps[i].tasks, reps[i].tasks0 + k->added[i]);
    }
    for (int i = 0; i < NPARTS; i++) {
        assert_int_equal(v.good[i], (int64_t)k->pl.rounds * PER_ROUND);
    }
}

#define KEPT_TEST(fn, i)                                                       \
    static void fn(void **state)                                               \
    {                                                                          \
        kept_run(state, &KEPT[i]);                                             \
    }                                                                          \
    _Static_assert((i) < sizeof(KEPT) / sizeof(KEPT[0]), #fn)

KEPT_TEST(test_flushset_durable_parallel, 0);
KEPT_TEST(test_flushset_durable_serial, 1);
KEPT_TEST(test_flushset_no_thread, 2);
KEPT_TEST(test_flushset_some_threads, 3);

/* Ablation: without the fdatasyncs the image misses the records - the
 * check above can fail. */
static void test_flushset_ablation_no_sync(void **state)
{
    const struct plan pl = {"8", "seg.append.fdatasync=SKIP:persist", 1};
    struct flush_report reps[MAX_ROUNDS];
    struct image_verdict v;
    power_loss_run(state, "ablate", &pl, reps, &v);
    assert_crawllog_ok(reps[0].rc); /* SKIP pretends success */
    for (int i = 0; i < NPARTS; i++) {
        assert_int_equal(v.good[i], 0); /* lost, all of them */
    }
}

/* Ablation of one partition's sync (whichever worker or the caller does
 * the third): exactly that partition loses its records. */
static void test_flushset_ablation_one_partition(void **state)
{
    const struct plan pl = {"8", "seg.append.fdatasync=SKIP@3", 1};
    struct flush_report reps[MAX_ROUNDS];
    struct image_verdict v;
    power_loss_run(state, "ablate1", &pl, reps, &v);
    assert_crawllog_ok(reps[0].rc);
    int lost = 0;
    for (int i = 0; i < NPARTS; i++) {
        if (v.good[i] != PER_ROUND) {
            assert_int_equal(v.good[i], 0);
            lost++;
        }
    }
    assert_int_equal(lost, 1);
}

/* ---------------------------------------------------------------------- */
/* Tests: in this process                                                  */
/* ---------------------------------------------------------------------- */

#define EIO_PARTS 8

/* One partition's fdatasync fails during the concurrent flush. */
static void test_flushset_sync_failure(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_conf_t *conf = par_conf("8");
    crawllog_t *log = cl_test_open(dir, conf);
    crawllog_conf_destroy(conf);
    cl_test_create_topic(log, "fc", EIO_PARTS, NULL);
    for (int32_t p = 0; p < EIO_PARTS; p++) {
        assert_crawllog_ok_log(log, append_ids(log, "fc", p, 0, 3,
                                               CRAWLLOG_SYNC_WRITTEN, NULL));
    }
    assert_int_equal(cl_fp_set("seg.append.fdatasync=EIO@3"), 0);
    assert_crawllog_rc_log(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE),
                           CRAWLLOG_EIO);
    assert_int_equal(cl_fp_hits("seg.append.fdatasync"), EIO_PARTS);
    cl_fp_clear();
    /* The message names the partition ("topics/fc/<p>: fdatasync: ..."). */
    const char *msg = crawllog_errmsg(log);
    const char *at = strstr(msg, "topics/fc/");
    if (at == NULL || strstr(msg, "fdatasync") == NULL) {
        fail_msg("errmsg \"%s\" names no partition", msg);
    }
    char *endp = NULL;
    long bad = strtol(at + 10, &endp, 10);
    assert_true(endp != at + 10 && bad >= 0 && bad < EIO_PARTS);
    assert_int_equal(*endp, ':');

    /* fsyncgate: that partition takes nothing more, not even a flush; the
     * others append and flush (the failed one still fails the flush). */
    for (int32_t p = 0; p < EIO_PARTS; p++) {
        int64_t base = -1;
        if (p == bad) {
            assert_crawllog_rc_log(log,
                                   append_ids(log, "fc", p, 3, 1,
                                              CRAWLLOG_SYNC_WRITTEN, &base),
                                   CRAWLLOG_ECLOSED);
            assert_crawllog_rc_log(log,
                                   append_ids(log, "fc", p, 3, 1,
                                              CRAWLLOG_SYNC_DURABLE, &base),
                                   CRAWLLOG_ECLOSED);
        } else {
            assert_crawllog_ok_log(log,
                                   append_ids(log, "fc", p, 3, 1,
                                              CRAWLLOG_SYNC_WRITTEN, &base));
            assert_int_equal(base, 3);
        }
    }
    assert_crawllog_rc_log(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE),
                           CRAWLLOG_ECLOSED);
    assert_non_null(strstr(crawllog_errmsg(log), "topics/fc/"));
    /* close writes buffered batches only: nothing is pending anywhere. */
    assert_crawllog_ok(crawllog_close(log));

    /* Reopened: clean, every acknowledged record there, all appendable. */
    cl_test_expect_verify_clean(dir);
    log = cl_test_open(dir, NULL);
    for (int32_t p = 0; p < EIO_PARTS; p++) {
        int64_t end, want = p == bad ? 3 : 4;
        int wrong = 0;
        assert_int_equal(count_good(log, "fc", p, &end, &wrong), want);
        assert_int_equal(wrong, 0);
        assert_int_equal(end, want);
        int64_t base;
        assert_crawllog_ok_log(log, append_ids(log, "fc", p, want, 1,
                                               CRAWLLOG_SYNC_WRITTEN, &base));
        assert_int_equal(base, want);
    }
    assert_crawllog_ok_log(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
    cl_test_close_verify(log, dir);
}

/* On *logp (opened with parallelism par, NULL: the default, if NULL),
 * append one record to each of the first dirty of th's 4 partitions
 * (next[]: their next ids) and flush durable; returns the thread count
 * then. */
static size_t flush_and_count(const char *dir, const char *par, int dirty,
                              crawllog_t **logp, int64_t next[4])
{
    crawllog_t *log = *logp;
    if (log == NULL) {
        crawllog_conf_t *conf = par ? par_conf(par) : NULL;
        *logp = log = cl_test_open(dir, conf);
        crawllog_conf_destroy(conf);
    }
    for (int32_t p = 0; p < dirty; p++) {
        assert_crawllog_ok_log(log, append_ids(log, "th", p, next[p]++, 1,
                                               CRAWLLOG_SYNC_WRITTEN, NULL));
    }
    assert_crawllog_ok_log(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
    return count_tasks();
}

/* The workers: created on the first flush with >= 2 partitions to sync,
 * min(dirty, parallelism) - 1 of them, reused, joined by close. */
static void test_flushset_threads(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    int64_t next[4] = {0, 0, 0, 0};
    size_t n0 = count_tasks();
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "th", 4, NULL);
    assert_crawllog_ok(crawllog_close(log));
    assert_int_equal(tasks_settle(n0), n0);

    /* Default parallelism (8), 4 dirty partitions: 3 workers. */
    log = NULL;
    assert_int_equal(flush_and_count(dir, NULL, 0, &log, next), n0);
    assert_int_equal(flush_and_count(dir, NULL, 1, &log, next), n0);
    assert_int_equal(flush_and_count(dir, NULL, 4, &log, next), n0 + 3);
    assert_int_equal(flush_and_count(dir, NULL, 4, &log, next), n0 + 3);
    /* A second handle has its own pool (parallelism 2: one worker). */
    crawllog_t *log2 = NULL;
    assert_int_equal(flush_and_count(dir, "2", 4, &log2, next), n0 + 4);
    assert_crawllog_ok(crawllog_close(log2));
    assert_int_equal(tasks_settle(n0 + 3), n0 + 3);
    /* A WRITTEN flush does not use them. */
    assert_crawllog_ok_log(log, append_ids(log, "th", 0, next[0]++, 1,
                                           CRAWLLOG_SYNC_NONE, NULL));
    assert_crawllog_ok_log(log, crawllog_flush(log, CRAWLLOG_SYNC_WRITTEN));
    assert_crawllog_ok(crawllog_close(log));
    assert_int_equal(tasks_settle(n0), n0);

    /* Parallelism 1: no thread ever. */
    log = NULL;
    assert_int_equal(flush_and_count(dir, "1", 4, &log, next), n0);
    assert_int_equal(flush_and_count(dir, "1", 4, &log, next), n0);
    assert_crawllog_ok(crawllog_close(log));
    assert_int_equal(tasks_settle(n0), n0);

    /* No worker can start: none runs, close has nothing to join. */
    log = NULL;
    assert_int_equal(cl_fp_set("flush.thread=EAGAIN:persist"), 0);
    assert_int_equal(flush_and_count(dir, "8", 4, &log, next), n0);
    assert_true(cl_fp_hits("flush.thread") >= 1);
    cl_fp_clear();
    assert_crawllog_ok(crawllog_close(log));
    assert_int_equal(tasks_settle(n0), n0);

    log = cl_test_open(dir, NULL);
    for (int32_t p = 0; p < 4; p++) {
        int64_t end;
        int wrong = 0;
        assert_int_equal(count_good(log, "th", p, &end, &wrong), next[p]);
        assert_int_equal(wrong, 0);
        assert_int_equal(end, next[p]);
    }
    cl_test_close_verify(log, dir);
}

/* ---- concurrency --------------------------------------------------------- */

#define CW_THREADS 4
#define CW_ROUNDS 40
#define CW_NONE 300
#define CW_PARTS (2 * CW_THREADS + 1) /* the last one: NONE appends */

struct cw {
    crawllog_t *log;
    int id;
};

static void *cw_written(void *arg)
{
    const struct cw *w = arg;
    for (int64_t r = 0; r < CW_ROUNDS; r++) {
        for (int32_t p = 2 * w->id; p < 2 * w->id + 2; p++) {
            int64_t base = -1;
            int rc = append_ids(w->log, "cw", p, r, 1, CRAWLLOG_SYNC_WRITTEN,
                                &base);
            cl_test_thread_check(rc == 0 && base == r,
                                 "append p%d round %" PRId64 ": %d base %"
                                 PRId64, (int)p, r, rc, base);
        }
        int rc = crawllog_flush(w->log, CRAWLLOG_SYNC_DURABLE);
        cl_test_thread_check(rc == 0, "flush: %d %s", rc,
                             crawllog_errmsg(w->log));
    }
    return NULL;
}

static void *cw_none(void *arg)
{
    const struct cw *w = arg;
    for (int64_t i = 0; i < CW_NONE; i++) {
        int rc = append_ids(w->log, "cw", CW_PARTS - 1, i, 1,
                            CRAWLLOG_SYNC_NONE, NULL);
        cl_test_thread_check(rc == 0, "append NONE %" PRId64 ": %d", i, rc);
    }
    return NULL;
}

/* Run the writing threads on log (topic "cw" exists) until they end. */
static void cw_run(crawllog_t *log)
{
    pthread_t th[CW_THREADS + 1];
    struct cw w[CW_THREADS + 1];
    for (int i = 0; i <= CW_THREADS; i++) {
        w[i] = (struct cw){log, i};
        cl_test_check(pthread_create(&th[i], NULL,
                                     i < CW_THREADS ? cw_written : cw_none,
                                     &w[i]) == 0);
    }
    for (int i = 0; i <= CW_THREADS; i++) {
        cl_test_check(pthread_join(th[i], NULL) == 0);
    }
}

/* Every call succeeds; after close every record is there. */
static void test_flushset_concurrent(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "cw", CW_PARTS, NULL);
    cw_run(log);
    assert_crawllog_ok_log(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
    assert_crawllog_ok(crawllog_close(log));

    log = cl_test_open(dir, NULL);
    for (int32_t p = 0; p < CW_PARTS; p++) {
        int64_t end, want = p == CW_PARTS - 1 ? CW_NONE : CW_ROUNDS;
        int wrong = 0;
        assert_int_equal(count_good(log, "cw", p, &end, &wrong), want);
        assert_int_equal(wrong, 0);
        assert_int_equal(end, want);
    }
    cl_test_close_verify(log, dir);
}

static const struct topic_spec CW_TOPICS[] = {{"cw", CW_PARTS}};

static void cw_child(const struct cl_test_shadow_run *r, const void *arg,
                     int fd, int rfd)
{
    (void)arg;
    (void)rfd;
    crawllog_t *log = child_open(r, NULL, CW_TOPICS, 1);
    cw_run(log); /* a failed check aborts */
    if (write(fd, "k", 1) != 1) {
        _exit(EXIT_PIPE);
    }
    /* The power fails after the last flush returned: no close. */
    raise(SIGKILL);
}

/* The same, then a power loss: the last flush of each thread - whether it
 * had the workers or found them busy with another thread's flush - made
 * its records durable. */
static void test_flushset_concurrent_power_loss(void **state)
{
    struct cl_test_shadow_run r;
    struct image_verdict v;
    int up, down;
    char ok = 0;
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), "cw");
    pid_t pid = spawn(&r, cw_child, NULL, &up, &down);
    ssize_t n;
    while ((n = read(up, &ok, 1)) < 0 && errno == EINTR) {
    }
    close(up);
    close(down);
    reap_killed(pid, "cw");
    assert_int_equal(n, 1);
    check_image(&r, "cw", CW_TOPICS, 1, &v);
    for (int32_t i = 0; i < CW_PARTS - 1; i++) {
        assert_int_equal(v.good[i], CW_ROUNDS);
    }
    /* The NONE appends: whatever a flush wrote, in order (checked). */
    assert_true(v.good[CW_PARTS - 1] <= CW_NONE);
    if (getenv("CL_FS_DEBUG") != NULL) {
        printf("cw: NONE partition kept %" PRId64 "\n", v.good[CW_PARTS - 1]);
    }
}

/* ---- a flush that finds the pool busy ------------------------------------ */

/* Thread A flushes bz/0 and bz/1 with the pool and is held inside its
 * fdatasyncs (the parent holds the shadow's lock, which the sync hook
 * takes); meanwhile the main thread B appends to bz/2 and flushes: the
 * pool is busy, so B must sync its set itself.  B's flush returns, the
 * power fails at once: bz/2's record must be in the image (nothing else
 * would have synced it).  B's result goes to fd. */
static const struct topic_spec BZ_TOPICS[] = {{"bz", 3}};

static void *bz_flush_a(void *arg)
{
    crawllog_t *log = arg;
    int rc = crawllog_flush(log, CRAWLLOG_SYNC_DURABLE);
    cl_test_thread_check(rc == 0, "flush A: %d", rc);
    return NULL;
}

static void bz_child(const struct cl_test_shadow_run *r, const void *arg,
                     int wfd, int rfd)
{
    (void)arg;
    char go = 0;
    pthread_t a;
    crawllog_t *log = child_open(r, NULL, BZ_TOPICS, 1);
    for (int32_t p = 0; p < 2; p++) {
        if (append_ids(log, "bz", p, 0, 2, CRAWLLOG_SYNC_WRITTEN, NULL) != 0) {
            _exit(EXIT_APPEND);
        }
    }
    /* Open bz/2 now: its opening creates files, and creations go through
     * the shadow's lock too. */
    int64_t start, end;
    if (crawllog_partition_offsets(log, "bz", 2, &start, &end) != 0) {
        _exit(EXIT_APPEND);
    }
    /* Ready; wait until the parent holds the shadow's lock. */
    if (write(wfd, "r", 1) != 1 || read(rfd, &go, 1) != 1) {
        _exit(EXIT_PIPE);
    }
    cl_fp_clear(); /* counts from here */
    if (pthread_create(&a, NULL, bz_flush_a, log) != 0) {
        _exit(EXIT_PIPE);
    }
    /* A's first fdatasync began: its set is the pool's job now. */
    for (int i = 0; cl_fp_hits("seg.append.fdatasync") < 1; i++) {
        if (i > 5000) {
            _exit(EXIT_PIPE);
        }
        cl_test_sleep_ms(1);
    }
    if (append_ids(log, "bz", 2, 0, 1, CRAWLLOG_SYNC_WRITTEN, NULL) != 0) {
        _exit(EXIT_APPEND);
    }
    if (write(wfd, "b", 1) != 1) {
        _exit(EXIT_PIPE);
    }
    int rc = crawllog_flush(log, CRAWLLOG_SYNC_DURABLE);
    if (write(wfd, &rc, sizeof(rc)) != (ssize_t)sizeof(rc)) {
        _exit(EXIT_PIPE);
    }
    raise(SIGKILL); /* A may still be running: it does not matter */
}

static void test_flushset_busy_power_loss(void **state)
{
    struct cl_test_shadow_run r;
    struct image_verdict v;
    int up, down, rc = -1;
    char c = 0;
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), "bz");
    pid_t pid = spawn(&r, bz_child, NULL, &up, &down);
    assert_int_equal(read(up, &c, 1), 1);
    assert_int_equal(c, 'r');
    int lockfd = cl_shadow_lock(r.shadow);
    assert_true(lockfd >= 0);
    assert_int_equal(write(down, "g", 1), 1);
    /* B is about to flush; hold A a while longer, so that B surely finds
     * the pool busy, then let every sync finish. */
    assert_int_equal(read(up, &c, 1), 1);
    assert_int_equal(c, 'b');
    cl_test_sleep_ms(150);
    close(lockfd);
    ssize_t n = read(up, &rc, sizeof(rc));
    close(up);
    close(down);
    reap_killed(pid, "bz");
    assert_int_equal(n, (ssize_t)sizeof(rc));
    assert_crawllog_ok(rc);
    check_image(&r, "bz", BZ_TOPICS, 1, &v);
    assert_int_equal(v.good[2], 1);
}

/* ---- the topic flush of a migration -------------------------------------- */

#define MIG_RECORDS 64

/* A migration's copy loop makes each chunk durable with a flush of the
 * new topic (cl_log_topic_flush): with keyed records spread over 4 new
 * partitions, that flush uses the workers too. */
static void test_flushset_migration(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    size_t n0 = count_tasks();
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "mo", 1, NULL);
    for (int i = 0; i < MIG_RECORDS; i++) {
        char key[16];
        crawllog_record_t rec;
        memset(&rec, 0, sizeof(rec));
        snprintf(key, sizeof(key), "k%d", i);
        rec.key = key;
        rec.key_len = strlen(key);
        rec.value = "v";
        rec.value_len = 1;
        rec.timestamp = -1;
        assert_crawllog_ok_log(log, crawllog_append(log, "mo", 0, &rec, 1,
                                                    CRAWLLOG_SYNC_WRITTEN,
                                                    NULL));
    }
    assert_crawllog_ok_log(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
    assert_int_equal(count_tasks(), n0); /* one partition: no worker */
    uint64_t h0 = cl_fp_hits("flush.thread");
    assert_crawllog_ok_log(log, crawllog_topic_migrate(log, "mo", "mn", 4,
                                                       NULL, NULL));
    uint64_t created = cl_fp_hits("flush.thread") - h0;
    assert_true(created >= 1 && created <= 3);
    assert_int_equal(count_tasks(), n0 + created);
    int64_t total = 0;
    for (int32_t p = 0; p < 4; p++) {
        int64_t start, end;
        assert_crawllog_ok_log(log, crawllog_partition_offsets(log, "mn", p,
                                                               &start, &end));
        total += end - start;
    }
    assert_int_equal(total, MIG_RECORDS);
    cl_test_close_verify(log, dir);
    assert_int_equal(tasks_settle(n0), n0);
}

/* ---- configuration ------------------------------------------------------- */

static void test_flushset_conf(void **state)
{
    static const struct {
        const char *value;
        int rc;
    } cases[] = {{"0", CRAWLLOG_EINVAL},  {"65", CRAWLLOG_EINVAL},
                 {"-1", CRAWLLOG_EINVAL}, {"x", CRAWLLOG_EINVAL},
                 {"1", 0},                {"64", 0},
                 {"8", 0}};
    crawllog_conf_t *conf;
    (void)state;
    assert_crawllog_ok(crawllog_conf_new(&conf));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        int rc = crawllog_conf_set(conf, "log.flush.parallelism",
                                   cases[i].value, err, sizeof(err));
        if (rc != cases[i].rc) {
            fail_msg("log.flush.parallelism=%s: %s, expected %s (%s)",
                     cases[i].value, crawllog_err_name(rc),
                     crawllog_err_name(cases[i].rc), err);
        }
        if (rc != 0 && strstr(err, "log.flush.parallelism") == NULL) {
            fail_msg("log.flush.parallelism=%s: message \"%s\" does not "
                     "name the property",
                     cases[i].value, err);
        }
    }
    crawllog_conf_destroy(conf);
}

/* A temporary directory (TMPDIR) with every failpoint disarmed. */
#define unit(f) cl_test_unit_fp(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        unit(test_flushset_durable_parallel),
        unit(test_flushset_durable_serial),
        unit(test_flushset_no_thread),
        unit(test_flushset_some_threads),
        unit(test_flushset_ablation_no_sync),
        unit(test_flushset_ablation_one_partition),
        unit(test_flushset_sync_failure),
        unit(test_flushset_threads),
        unit(test_flushset_concurrent),
        unit(test_flushset_concurrent_power_loss),
        unit(test_flushset_busy_power_loss),
        unit(test_flushset_migration),
        unit(test_flushset_conf),
    };
    return cmocka_run_group_tests_name("flushset", tests, NULL, NULL);
}
