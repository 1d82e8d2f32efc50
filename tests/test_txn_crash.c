/*
 * test_txn_crash.c - issue 10's "kill -9 at every step of a transaction":
 * a consume-transform-produce loop (consumer group "eos" reading topic
 * "in", a transactional producer writing one output record per input
 * record to "out" - same partition, value "v<partition>.<input offset>" -
 * and committing the input offsets with crawllog_txn_send_offsets, a few
 * records per transaction) runs in a child armed with
 * "<site>=CRASH@k" (libcrawllog/io.h) for every failpoint site a dry run
 * of the loop reaches: every k at the sites of a transaction's steps
 * (txn.*, segment appends and syncs, offset writes and syncs, flush
 * threads; every 3rd k, every 16th in sanitizer builds, and the last),
 * k sampled (1, hits/2, hits) elsewhere - open,
 * group join, reads, allocations - or every k everywhere with
 * CRAWLLOG_TXN_CRASH_FULL=1; write sites also get a torn write, CRASH(7),
 * at their first and last hit.  After each crash:
 *  - at once, every other run (crawllog_open finishes the dead
 *    transaction): in read_committed, out/p holds exactly v<p>.0 ..
 *    v<p>.<c-1> in order, c = the group's committed offset of in/p -
 *    outputs and offsets moved together or not at all - and no
 *    transaction is left open; read_uncommitted shows only valid values;
 *    crawllog_verify is clean;
 *  - the loop is restarted armed with "*=CRASH@m", m random in 1..400
 *    (seeded: SEED=... replays), which mostly kills it again while it
 *    recovers; if it died, the same checks;
 *  - the loop is restarted without failpoints until every input is
 *    processed, then: every input offset's output appears exactly once, in
 *    order, in read_committed; committed offsets = output counts = input
 *    counts; crawllog_verify is clean.
 * Runs vary (by run number) whether the loop starts its producer or its
 * consumer first and whether the producer buffers (acks=0: the commit
 * writes the records) or writes at each send (acks=1).
 * Every check runs in a forked checker; a failed one is a violation
 * (printed with its spec).  Summary line:
 * "test_txn_crash: sites=S crashes=C runs=R violations=V".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawllog.h"
#include "helpers.h"
#include "io.h"
#include "io_failpoint.h"

#define IN_PARTS 2
#define PER_PART 8 /* input records per partition */
#define TXN_MAX 3  /* input records per transaction (one poll) */
#define GROUP "eos"
#define TXID "eos-p"
#define SITES_MAX 256

/* ---- the pipeline (runs in forked children) ------------------------------ */

static crawllog_consumer_t *pipe_consumer(crawllog_t *log)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf = cl_test_conf("group.id", GROUP, "auto.offset.reset",
                                         "earliest", "heartbeat.interval.ms",
                                         "20", "max.poll.records", "3", NULL);
    crawllog_consumer_t *c = NULL;
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    crawllog_conf_destroy(conf);
    cl_test_checkf(rc == 0, "consumer_new: %s: %s", crawllog_err_name(rc), err);
    const char *topic = "in";
    rc = crawllog_consumer_subscribe(c, &topic, 1);
    cl_test_checkf(rc == 0, "subscribe: %s: %s", crawllog_err_name(rc),
                   crawllog_consumer_errmsg(c));
    return c;
}

static crawllog_producer_t *pipe_producer(crawllog_t *log, int acks0)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf =
        cl_test_conf("transactional.id", TXID, "acks", acks0 ? "0" : "1",
                     "linger.ms", "60000", NULL);
    crawllog_producer_t *p = NULL;
    int rc = crawllog_producer_new(log, conf, &p, err, sizeof(err));
    crawllog_conf_destroy(conf);
    cl_test_checkf(rc == 0, "producer_new: %s: %s", crawllog_err_name(rc), err);
    return p;
}

static int64_t committed_of(crawllog_consumer_t *c, int32_t p)
{
    int64_t off = -2;
    int rc = crawllog_consumer_committed(c, "in", p, &off);
    cl_test_checkf(rc == 0, "committed: %s: %s", crawllog_err_name(rc),
                   crawllog_consumer_errmsg(c));
    return off < 0 ? 0 : off;
}

/* After an abort: back to the committed offsets of the partitions still
 * owned (the aborted records must be processed again). */
static void rewind_to_committed(crawllog_consumer_t *c)
{
    for (int32_t p = 0; p < IN_PARTS; p++) {
        int rc = crawllog_consumer_seek(c, "in", p, committed_of(c, p));
        cl_test_checkf(rc == 0 || rc == CRAWLLOG_ENOTOPIC, "seek: %s",
                       crawllog_err_name(rc));
    }
}

/* One transaction over msgs[0..n): 0, or the abortable error. */
static int transform(crawllog_producer_t *prod, crawllog_consumer_t *c,
                     const crawllog_msg_t *const *msgs, size_t n)
{
    static int txns; /* this process's transactions */
    int64_t next[IN_PARTS] = {-1, -1};
    int rc = crawllog_txn_begin(prod);
    cl_test_checkf(rc == 0, "begin: %s: %s", crawllog_err_name(rc),
                   crawllog_producer_errmsg(prod));
    txns++;
    for (size_t i = 0; i < n; i++) {
        int32_t p = crawllog_msg_partition(msgs[i]);
        int64_t off = crawllog_msg_offset(msgs[i]);
        char v[64];
        int len = snprintf(v, sizeof(v), "v%d.%lld t%ld.%d/%zu", (int)p,
                           (long long)off, (long)getpid(), txns, n);
        cl_test_check(p >= 0 && p < IN_PARTS && off >= next[p]);
        /* Consecutive inputs alternate output partitions: a transaction
         * of two or more records spans both. */
        int32_t q = (int32_t)((p + off) % IN_PARTS);
        rc = crawllog_producer_send(prod, "out", q, NULL, 0, v, (size_t)len,
                                    NULL, 0, NULL);
        cl_test_checkf(rc == 0, "send: %s: %s", crawllog_err_name(rc),
                       crawllog_producer_errmsg(prod));
        next[p] = off + 1;
    }
    crawllog_topic_partition_t tps[IN_PARTS];
    size_t ntp = 0;
    for (int32_t p = 0; p < IN_PARTS; p++) {
        if (next[p] >= 0) {
            crawllog_topic_partition_t tp = {"in", p, next[p], NULL};
            tps[ntp++] = tp;
        }
    }
    crawllog_group_metadata_t *md = NULL;
    rc = crawllog_consumer_group_metadata(c, &md);
    cl_test_checkf(rc == 0, "group_metadata: %s", crawllog_err_name(rc));
    rc = crawllog_txn_send_offsets(prod, md, tps, ntp);
    crawllog_group_metadata_destroy(md);
    if (rc == 0) {
        rc = crawllog_txn_commit(prod);
    }
    return rc;
}

/* Process "in" until every input offset is committed.  Returns the number
 * of transactions aborted because the group moved on. */
static int pipeline(const char *dir, int producer_first, int acks0)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_producer_t *prod =
        producer_first ? pipe_producer(log, acks0) : NULL;
    crawllog_consumer_t *c = pipe_consumer(log);
    if (prod == NULL) {
        prod = pipe_producer(log, acks0);
    }
    int retries = 0;
    int64_t deadline = cl_test_mono_ms() + 30000;
    for (;;) {
        const crawllog_msg_t *msgs[TXN_MAX];
        size_t n = 0;
        int rc = crawllog_consumer_poll(c, 20, msgs, TXN_MAX, &n);
        cl_test_checkf(rc == 0, "poll: %s: %s", crawllog_err_name(rc),
                       crawllog_consumer_errmsg(c));
        if (n > 0) {
            rc = transform(prod, c, msgs, n);
            if (rc == CRAWLLOG_EGENERATION) {
                rc = crawllog_txn_abort(prod);
                cl_test_checkf(rc == 0, "abort: %s", crawllog_err_name(rc));
                rewind_to_committed(c);
                retries++;
            } else {
                cl_test_checkf(rc == 0, "transaction: %s: %s",
                               crawllog_err_name(rc),
                               crawllog_producer_errmsg(prod));
            }
            continue;
        }
        int done = 1;
        for (int32_t p = 0; p < IN_PARTS; p++) {
            done &= committed_of(c, p) == PER_PART;
        }
        if (done) {
            break;
        }
        cl_test_checkf(cl_test_mono_ms() < deadline,
                       "pipeline: input not processed after 30 s");
    }
    cl_test_check(crawllog_producer_destroy(prod) == 0);
    crawllog_consumer_destroy(c);
    cl_test_check(crawllog_close(log) == 0);
    return retries;
}

/* ---- checks (forked checkers) --------------------------------------------- */

/* One output record: its input and its transaction (pid.number/size). */
struct out_rec {
    int p;       /* input partition */
    int64_t off; /* input offset */
    long pid;    /* the process that wrote it */
    int txn, n;  /* its transaction there, and that one's record count */
    int32_t q;   /* the output partition */
};

#define OUT_MAX (4 * IN_PARTS * PER_PART * 4)

/* Append out/q's records at an isolation level to recs[*np]; every value
 * must parse and name a valid input.  read_committed must end at the log
 * end (no transaction left open). */
static void outputs(crawllog_t *log, int32_t q, int level, struct out_rec *recs,
                    size_t *np)
{
    crawllog_reader_t *rd = NULL;
    cl_test_check(crawllog_reader_new(&rd, log, "out", q) == 0);
    cl_test_check(crawllog_reader_set_isolation(rd, level) == 0);
    for (;;) {
        const crawllog_msg_t *m = NULL;
        int rc = crawllog_reader_next(rd, &m);
        cl_test_checkf(rc == 0, "reader out/%d: %s: %s", (int)q,
                       crawllog_err_name(rc), crawllog_reader_errmsg(rd));
        if (m == NULL) {
            break;
        }
        size_t len = 0;
        const char *v = crawllog_msg_value(m, &len);
        char buf[64];
        struct out_rec r = {-1, -1, -1, -1, -1, q};
        long long o = -1;
        cl_test_check(len < sizeof(buf));
        memcpy(buf, v, len);
        buf[len] = '\0';
        cl_test_checkf(sscanf(buf, "v%d.%lld t%ld.%d/%d", &r.p, &o, &r.pid,
                              &r.txn, &r.n) == 5 &&
                           r.p >= 0 && r.p < IN_PARTS && o >= 0 &&
                           o < PER_PART && r.n >= 1,
                       "out/%d offset %lld: bad value \"%s\"", (int)q,
                       (long long)crawllog_msg_offset(m), buf);
        r.off = o;
        cl_test_checkf(*np < OUT_MAX, "more than %d outputs", OUT_MAX);
        recs[(*np)++] = r;
    }
    if (level == CRAWLLOG_READ_COMMITTED) {
        int64_t start = -1, end = -1;
        cl_test_check(crawllog_partition_offsets(log, "out", q, &start, &end) ==
                      0);
        cl_test_checkf(crawllog_reader_position(rd) == end,
                       "out/%d: read_committed stops at %lld, log end %lld "
                       "(an open transaction after recovery)",
                       (int)q, (long long)crawllog_reader_position(rd),
                       (long long)end);
    }
    crawllog_reader_destroy(rd);
}

/* The state must be consistent.  In read_committed: the outputs of each
 * input partition p are exactly its inputs below the group's committed
 * offset (all of them if complete), each once, in input order within an
 * output partition; every transaction seen is seen whole (as many
 * outputs, over both output partitions, as it wrote). */
static void check_state(const char *dir, int complete)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf = cl_test_conf("group.id", GROUP, NULL);
    crawllog_consumer_t *c = NULL;
    cl_test_check(crawllog_consumer_new(log, conf, &c, err, sizeof(err)) == 0);
    crawllog_conf_destroy(conf);
    static struct out_rec recs[OUT_MAX];
    size_t n = 0;
    for (int32_t q = 0; q < IN_PARTS; q++) {
        size_t before = n;
        outputs(log, q, CRAWLLOG_READ_COMMITTED, recs, &n);
        /* In input order within the output partition. */
        int64_t last[IN_PARTS] = {-1, -1};
        for (size_t i = before; i < n; i++) {
            cl_test_checkf(recs[i].off > last[recs[i].p],
                           "out/%d: input %d.%lld after %d.%lld", (int)q,
                           recs[i].p, (long long)recs[i].off, recs[i].p,
                           (long long)last[recs[i].p]);
            last[recs[i].p] = recs[i].off;
        }
    }
    for (int32_t p = 0; p < IN_PARTS; p++) {
        int64_t com = committed_of(c, p);
        if (complete) {
            cl_test_checkf(com == PER_PART,
                           "in/%d committed %lld after the restart", (int)p,
                           (long long)com);
        }
        int count[PER_PART];
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < n; i++) {
            if (recs[i].p == p) {
                count[recs[i].off]++;
            }
        }
        for (int64_t o = 0; o < PER_PART; o++) {
            cl_test_checkf(count[o] == (o < com ? 1 : 0),
                           "in/%d: committed offset %lld, but input %lld "
                           "has %d read_committed outputs",
                           (int)p, (long long)com, (long long)o, count[o]);
        }
    }
    /* Whole transactions only (and some span both output partitions,
     * or this proves nothing). */
    int spanning = 0;
    for (size_t i = 0; i < n; i++) {
        int same = 0;
        for (size_t k = 0; k < n; k++) {
            int sk = recs[k].pid == recs[i].pid && recs[k].txn == recs[i].txn;
            same += sk;
            spanning += sk && recs[k].q != recs[i].q;
        }
        cl_test_checkf(same == recs[i].n,
                       "transaction t%ld.%d: %d of its %d outputs visible "
                       "in read_committed (input %d.%lld)",
                       recs[i].pid, recs[i].txn, same, recs[i].n, recs[i].p,
                       (long long)recs[i].off);
    }
    size_t nu = 0;
    for (int32_t q = 0; q < IN_PARTS; q++) {
        outputs(log, q, CRAWLLOG_READ_UNCOMMITTED, recs, &nu);
    }
    cl_test_checkf(nu >= n, "read_uncommitted %zu < read_committed %zu", nu, n);
    cl_test_checkf(!complete || spanning > 0,
                   "no transaction spans both output partitions");
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, dir);
}

/* ---- the sweep -------------------------------------------------------------- */

struct job {
    char dir[4200];
    char spec[160];
    char spec2[64];   /* armed in the first restart ("" for none) */
    int arm2;         /* restart_child arms spec2 */
    char sites[4300]; /* dry run: where to write the sites reached */
    int producer_first;
    int acks0;    /* the producer buffers (acks=0): the commit writes */
    int complete; /* check_state */
};

static void dry_child(void *arg)
{
    const struct job *j = arg;
    cl_fp_clear();
    pipeline(j->dir, j->producer_first, j->acks0);
    FILE *f = fopen(j->sites, "w");
    cl_test_check(f != NULL);
    for (size_t i = 0; i < cl_fp_site_count(); i++) {
        uint64_t hits = 0;
        unsigned flags = 0;
        const char *name = cl_fp_site_info(i, &hits, &flags);
        if (hits > 0) {
            fprintf(f, "%s %llu %u\n", name, (unsigned long long)hits, flags);
        }
    }
    cl_test_check(fclose(f) == 0);
}

static void crash_child(void *arg)
{
    const struct job *j = arg;
    cl_test_check(cl_fp_set(j->spec) == 0);
    pipeline(j->dir, j->producer_first, j->acks0);
}

static void restart_child(void *arg)
{
    const struct job *j = arg;
    cl_fp_clear();
    if (j->arm2) {
        cl_test_check(cl_fp_set(j->spec2) == 0);
    }
    pipeline(j->dir, j->producer_first, j->acks0);
}

static void check_child(void *arg)
{
    const struct job *j = arg;
    cl_fp_clear();
    check_state(j->dir, j->complete);
}

struct sweep {
    char tmpl[4200], work[4200];
    unsigned runs, crashes, crashes2, violations, sites;
    int full;
    uint64_t rng; /* seeded: the second crash points */
};

static void violation(struct sweep *sw, const struct job *j, const char *what,
                      int status)
{
    sw->violations++;
    print_error("VIOLATION [%s%s%s] %s (status 0x%x; %s first, acks=%s)\n",
                j->spec, j->spec2[0] ? ", then in the restart " : "", j->spec2,
                what, status, j->producer_first ? "producer" : "consumer",
                j->acks0 ? "0" : "1");
}

/* One run: a fresh copy, the armed loop, checks, restart, checks. */
static void one_run(struct sweep *sw, const char *spec)
{
    struct job j;
    memset(&j, 0, sizeof(j));
    snprintf(j.dir, sizeof(j.dir), "%s", sw->work);
    snprintf(j.spec, sizeof(j.spec), "%s", spec);
    j.producer_first = (int)(sw->runs % 2);
    j.acks0 = (int)(sw->runs / 4) % 2;
    /* Every other run goes to the armed restart at once, so that its
     * crawllog_open / producer recovery meets the crashed state. */
    int check_first = (sw->runs / 2) % 2 == 0;
    sw->runs++;
    cl_test_rmrf(sw->work);
    cl_test_copy_tree(sw->tmpl, sw->work);
    int status = cl_test_fork_run(crash_child, &j);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
        sw->crashes++;
        j.complete = 0;
        status = check_first ? cl_test_fork_run(check_child, &j) : 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            violation(sw, &j, "inconsistent right after the crash", status);
        }
        /* Crash again, early in the restart (mostly while it recovers). */
        snprintf(j.spec2, sizeof(j.spec2), "*=CRASH@%llu",
                 (unsigned long long)(1 + cl_test_rand_below(&sw->rng, 400)));
        j.arm2 = 1;
        status = cl_test_fork_run(restart_child, &j);
        j.arm2 = 0;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            sw->crashes2++;
            status = cl_test_fork_run(check_child, &j);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                violation(sw, &j, "inconsistent after the second crash",
                          status);
            }
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            violation(sw, &j, "the restart failed without crashing", status);
        }
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        violation(sw, &j, "the armed loop failed without crashing", status);
    }
    status = cl_test_fork_run(restart_child, &j);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        violation(sw, &j, "the restarted loop failed", status);
        return;
    }
    j.complete = 1;
    status = cl_test_fork_run(check_child, &j);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        violation(sw, &j, "inconsistent after the restart", status);
    }
}

/* The steps of a transaction and its commit: every k there. */
static int step_site(const char *site)
{
    static const char *const prefixes[] = {
        "txn.",          "seg.append.",        "seg.sync.",
        "offsets.write", "offsets.fdatasync",  "offsets.sync.",
        "offsets.grow",  "offsets.mark.write", "flush."};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (strncmp(site, prefixes[i], strlen(prefixes[i])) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The step sites are swept at every STEP_STRIDE-th k (and the last), so
 * that the program fits the CI budget (about 5 s, 10 s in sanitizer
 * builds, which are 3-4 times slower: every 16th k); CRAWLLOG_TXN_CRASH_FULL=1 takes
 * every k (about 1,300 crashes, 40 s). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STEP_STRIDE 16
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define STEP_STRIDE 16
#endif
#endif
#ifndef STEP_STRIDE
#define STEP_STRIDE 3
#endif

/* The k to crash at for a site with hits hits: all of them (full), every
 * stride-th one (and the last) at a step site, else a sample. */
static int ks_of(uint64_t hits, int full, int step, uint64_t *ks, int max)
{
    int n = 0;
    if (full || step) {
        uint64_t stride = full ? 1 : STEP_STRIDE;
        for (uint64_t k = 1; k <= hits && n < max; k += stride) {
            ks[n++] = k;
        }
        if (n > 0 && ks[n - 1] != hits && n < max) {
            ks[n++] = hits;
        }
        return n;
    }
    uint64_t cand[] = {1, hits / 2, hits};
    for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
        uint64_t k = cand[i];
        int dup = k < 1 || k > hits;
        for (int m = 0; m < n && !dup; m++) {
            dup = ks[m] == k;
        }
        if (!dup && n < max) {
            ks[n++] = k;
        }
    }
    return n;
}

static void test_crash_sweep(void **state)
{
    struct sweep sw;
    memset(&sw, 0, sizeof(sw));
    const char *full = getenv("CRAWLLOG_TXN_CRASH_FULL");
    sw.full = full != NULL && atoi(full) > 0;
    sw.rng = CL_TEST_SEED;
    cl_fp_clear();
    cl_test_path(sw.tmpl, sizeof(sw.tmpl), CL_TEST_DIR(state), "template");
    cl_test_path(sw.work, sizeof(sw.work), CL_TEST_DIR(state), "work");
    crawllog_t *log = cl_test_open(sw.tmpl, NULL);
    cl_test_create_topic(log, "in", IN_PARTS, NULL);
    cl_test_create_topic(log, "out", IN_PARTS, NULL);
    for (int32_t p = 0; p < IN_PARTS; p++) {
        for (int i = 0; i < PER_PART; i++) {
            crawllog_record_t r = {NULL, 0, "job", 3, -1, NULL, 0};
            assert_crawllog_ok(crawllog_append(log, "in", p, &r, 1,
                                               CRAWLLOG_SYNC_WRITTEN, NULL));
        }
    }
    cl_test_close_verify(log, sw.tmpl);
    int64_t t0 = cl_test_mono_ms();

    /* Dry run: the sites the loop reaches, and their hits. */
    struct job dry;
    memset(&dry, 0, sizeof(dry));
    snprintf(dry.dir, sizeof(dry.dir), "%s", sw.work);
    cl_test_path(dry.sites, sizeof(dry.sites), CL_TEST_DIR(state), "sites.txt");
    snprintf(dry.spec, sizeof(dry.spec), "dry run");
    dry.producer_first = 1;
    cl_test_copy_tree(sw.tmpl, sw.work);
    cl_test_assert_exit_ok(cl_test_fork_run(dry_child, &dry));
    dry.complete = 1;
    cl_test_assert_exit_ok(cl_test_fork_run(check_child, &dry));
    int64_t t_dry = cl_test_mono_ms() - t0;

    static char names[SITES_MAX][64];
    static uint64_t hits[SITES_MAX];
    static unsigned flags[SITES_MAX];
    FILE *f = fopen(dry.sites, "r");
    assert_non_null(f);
    size_t ns = 0;
    unsigned long long h;
    while (ns < SITES_MAX &&
           fscanf(f, "%63s %llu %u", names[ns], &h, &flags[ns]) == 3) {
        hits[ns++] = h;
    }
    fclose(f);
    sw.sites = (unsigned)ns;
    int txn_sites = 0;
    for (size_t i = 0; i < ns; i++) {
        txn_sites += strncmp(names[i], "txn.", 4) == 0;
        print_message("  site %-28s hits %llu\n", names[i],
                      (unsigned long long)hits[i]);
    }
    /* The loop must reach the coordinator's own I/O. */
    assert_true(txn_sites > 0);

    for (size_t i = 0; i < ns; i++) {
        uint64_t ks[4096];
        int nk = ks_of(hits[i], sw.full, step_site(names[i]), ks, 4096);
        for (int m = 0; m < nk; m++) {
            char spec[160];
            snprintf(spec, sizeof(spec), "%.63s=CRASH@%llu", names[i],
                     (unsigned long long)ks[m]);
            one_run(&sw, spec);
        }
        if (flags[i] & CL_FP_SITE_WRITE) {
            uint64_t torn[2] = {1, hits[i]};
            for (int m = 0; m < (hits[i] > 1 ? 2 : 1); m++) {
                char spec[160];
                snprintf(spec, sizeof(spec), "%.63s=CRASH(7)@%llu", names[i],
                         (unsigned long long)torn[m]);
                one_run(&sw, spec);
            }
        }
    }
    cl_test_rmrf(sw.work);
    print_message("test_txn_crash: sites=%u crashes=%u runs=%u "
                  "violations=%u (second crashes in the restart: %u; %s; "
                  "dry run %lld ms, total %lld ms)\n",
                  sw.sites, sw.crashes, sw.runs, sw.violations, sw.crashes2,
                  sw.full ? "full" : "sampled k", (long long)t_dry,
                  (long long)(cl_test_mono_ms() - t0));
    assert_int_equal(sw.violations, 0);
    assert_true(sw.crashes > sw.sites);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_sweep,
                                        cl_test_fast_tmpdir_setup,
                                        cl_test_tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
