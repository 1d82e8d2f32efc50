/*
 * test_fault_producer.c - failpoint and allocation-failure sweeps over the
 * producer (reliability.md 4.3 T2 and 4.4 T3, SQLite's I/O-error loop).
 * Built with -DCRAWLLOG_TESTING.
 *
 * Scenarios (the armed call in brackets): producer open with the
 * producer.id registry [crawllog_producer_new of a new and of an existing
 * producer.id: prodid.c's prod.* sites], idempotent sends [send_batch with
 * acks=all and acks=1], a re-sent sequenced batch [send_sequenced],
 * acks=0 buffering [flush, destroy], sequence state rebuilt from the
 * segments [next_sequence on a fresh handle].
 *
 * The loop is test_fault_group.c's (same engine, copied): a dry run lists
 * the sites the armed call reaches; for every site, fault kind (EIO,
 * ENOSPC, EINTR; SHORT(3) for writes; EMFILE, EACCES for opens; EAGAIN for
 * locks), mode (once, :persist) and k (1..4 and the last hits, every k with
 * CL_FAULT_FULL=1): fresh copy, arm, run, disarm; the code must be success
 * (always when no fault fired, or for an EINTR the wrapper retries) or one
 * consistent with the fault; then the handles close without fd leaks, the
 * directory reopens, crawllog_verify is clean, and the model holds: a
 * batch is wholly there or wholly absent, there if acknowledged (return
 * code or delivery report), never twice (a re-sent sequence is a
 * duplicate); a producer.id keeps its sequences and a later instance works.
 * The OOM sweep arms "malloc=ENOMEM@k" over the same scenarios.  Prints
 * "fault-producer: faults=F recoveries=R violations=V".
 */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "io_failpoint.h"

#define NREC 3 /* records the template has in each partition of "t" */
#define XN 3   /* records of a scenario's batch */

/* ---------------------------------------------------------------------- */
/* The sweep engine (copied from test_fault_group.c)             */
/* ---------------------------------------------------------------------- */

struct ctx {
    crawllog_t *log;
    crawllog_producer_t *p;
    crawllog_conf_t *conf; /* made before the faults are armed */
    int rc;                /* the armed call's result */
    int fired;             /* the fault fired */
    int64_t v[4];          /* scenario scratch */
};

struct scenario {
    const char *name;
    void (*pre)(struct ctx *c);  /* faults off, c->log open */
    int (*run)(struct ctx *c);   /* armed */
    void (*post)(struct ctx *c); /* faults off: release every handle */
    void (*check)(struct ctx *c, crawllog_t *log); /* after reopen */
};

static struct {
    char tmpl[4096], work[4096];
    char spec[256];  /* armed last (for messages) */
    unsigned stalls; /* persistent fault: a loop stalled without error */
    int full;
    unsigned faults, recoveries, violations, runs;
} fx;

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    return n;
}

static crawllog_t *open_dir(const char *dir, int create)
{
    crawllog_conf_t *conf =
        cl_test_conf("log.dir.create", create ? "true" : "false", NULL);
    crawllog_t *log = cl_test_open(dir, conf);
    crawllog_conf_destroy(conf);
    return log;
}

/* The code a fault with errno err may give (besides EIO and ECLOSED). */
static int code_of(int err)
{
    switch (err) {
    case ENOSPC:
        return CRAWLLOG_ENOSPC;
    case EACCES:
        return CRAWLLOG_EPERM;
    case EMFILE:
        return CRAWLLOG_EMFILE;
    case EAGAIN:
        return CRAWLLOG_EBUSY;
    case ENOMEM:
        return CRAWLLOG_ENOMEM;
    default:
        return CRAWLLOG_EIO;
    }
}

struct kind {
    const char *spec;
    int err;
};
static const struct kind K_EIO = {"EIO", EIO}, K_NOSPC = {"ENOSPC", ENOSPC},
                         K_INTR = {"EINTR", EINTR},
                         K_SHORT = {"SHORT(3)", ENOSPC},
                         K_MFILE = {"EMFILE", EMFILE},
                         K_ACCES = {"EACCES", EACCES},
                         K_AGAIN = {"EAGAIN", EAGAIN},
                         K_NOMEM = {"ENOMEM", ENOMEM};

/* The fault kinds that apply to a site (its name and wrapper flags). */
static size_t kinds_of(const char *site, unsigned flags,
                       const struct kind **out)
{
    size_t n = 0;
    if (strcmp(site, "malloc") == 0) {
        out[n++] = &K_NOMEM;
        return n;
    }
    out[n++] = &K_EIO;
    out[n++] = &K_NOSPC;
    out[n++] = &K_INTR;
    if (flags & CL_FP_SITE_WRITE) {
        out[n++] = &K_SHORT;
    } else if (strstr(site, "open") || strstr(site, "create") ||
               strstr(site, ".dup")) {
        out[n++] = &K_MFILE;
        out[n++] = &K_ACCES;
    } else if (strstr(site, "lock")) {
        out[n++] = &K_AGAIN;
    }
    return n;
}

/* crawllog_verify must be clean, except - after a failed call - for
 * staging/<our pid>.* leftovers (a failed topic create whose clean-up
 * failed too leaves them), and the clean-up at open
 * keeps the entries of live processes (this one) until it exits. */
struct vstate {
    int allow;
    size_t tolerated;
};

static void verify_cb(void *opaque, const char *problem)
{
    struct vstate *vs = opaque;
    char own[64];
    snprintf(own, sizeof(own), "staging/%ld.", (long)getpid());
    if (vs->allow && strncmp(problem, own, strlen(own)) == 0) {
        vs->tolerated++;
        return;
    }
    print_error("verify [%s]: %s\n", fx.spec, problem);
}

static void verify_allowing(const char *dir, int allow)
{
    struct vstate vs = {allow, 0};
    size_t problems = 0;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc =
        crawllog_verify(dir, verify_cb, &vs, &problems, errstr, sizeof(errstr));
    if ((rc != 0 && rc != CRAWLLOG_ECORRUPT) || problems != vs.tolerated) {
        fail_msg("crawllog_verify [%s]: %s, %zu problem(s): %s", fx.spec,
                 crawllog_err_name(rc), problems, errstr);
    }
}

/* One run of sc on a fresh copy with spec armed; *firedp: site had at
 * least k hits.  Returns the armed call's code. */
static int run_once(const struct scenario *sc, const char *spec,
                    const char *site, uint64_t k, int *firedp)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    cl_test_rmrf(fx.work);
    cl_test_copy_tree(fx.tmpl, fx.work);
    int fds = count_fds();
    c.log = open_dir(fx.work, 0);
    sc->pre(&c);
    cl_fp_clear();
    assert_int_equal(cl_fp_set(spec), 0);
    snprintf(fx.spec, sizeof(fx.spec), "%s", spec);
    c.rc = sc->run(&c);
    c.fired = site != NULL && cl_fp_hits(site) >= k;
    cl_fp_clear();
    fx.runs++;
    sc->post(&c);
    int rc = crawllog_close(c.log);
    if (rc != 0 && !(c.rc != 0 && rc == CRAWLLOG_ECLOSED)) {
        fail_msg("%s [%s]: crawllog_close: %s", sc->name, spec,
                 crawllog_err_name(rc));
    }
    if (count_fds() != fds) {
        fail_msg("%s [%s]: %d file descriptor(s) leaked", sc->name, spec,
                 count_fds() - fds);
    }
    crawllog_t *log = open_dir(fx.work, 0);
    int armed_rc = c.rc;
    sc->check(&c, log);
    c.rc = armed_rc;
    assert_crawllog_ok(crawllog_close(log));
    verify_allowing(fx.work, armed_rc != 0);
    if (c.fired) {
        fx.recoveries++;
    }
    *firedp = c.fired;
    return c.rc;
}

/* Judge the armed call's code; violations are counted and printed. */
static void judge(const struct scenario *sc, const char *spec, int rc,
                  int fired, int invisible, int err)
{
    const char *why = NULL;
    if (rc == 0) {
        return;
    }
    if (rc == CRAWLLOG_ETIMEDOUT && fired && strstr(spec, ":persist")) {
        /* The scenario's own poll loop gave up: poll kept answering OK
         * with nothing while the fault lasted (it retries at the next
         * poll).  Counted, not a violation. */
        fx.stalls++;
        return;
    }
    if (!fired) {
        why = "failed although no fault fired";
    } else if (invisible) {
        why = "an EINTR the wrapper retries was visible";
    } else if (rc > 0 ||
               strcmp(crawllog_err_name(rc), "CRAWLLOG_EUNKNOWN") == 0) {
        why = "not a library code";
    } else if (err == ENOMEM ? rc != CRAWLLOG_ENOMEM
                             : (rc != code_of(err) && rc != CRAWLLOG_EIO &&
                                rc != CRAWLLOG_ECLOSED)) {
        why = "code inconsistent with the fault";
    }
    if (why) {
        fx.violations++;
        print_error("VIOLATION %s [%s]: %s: %d %s\n", sc->name, spec, why, rc,
                    crawllog_err_name(rc));
    }
}

/* k = 1, 2, ... at one site, kind and mode, until the fault stops firing
 * (sampled unless fx.full). */
static void sweep_site(const struct scenario *sc, const char *site,
                       uint64_t hits, unsigned flags, const struct kind *kd,
                       int persist)
{
    int invisible = kd->err == EINTR && (flags & CL_FP_SITE_EINTR) &&
                    !(flags & CL_FP_SITE_NOEINTR);
    for (uint64_t k = 1; k < 100000; k++) {
        char spec[256];
        int fired;
        if (!fx.full && k > 4 && k + 2 < hits) {
            k = hits - 2; /* the last two hits, then one past them */
        }
        snprintf(spec, sizeof(spec), "%s=%s@%" PRIu64 "%s", site, kd->spec, k,
                 persist ? ":persist" : "");
        int rc = run_once(sc, spec, site, k, &fired);
        judge(sc, spec, rc, fired, invisible, kd->err);
        if (!fired) {
            return;
        }
        fx.faults++;
    }
    fail_msg("%s: %s still hit after 100000 runs", sc->name, site);
}

/* The sweep of one scenario: I/O sites (io) and/or allocations (oom). */
static void sweep(const struct scenario *sc, int io, int oom)
{
    enum { MAXS = 64 };
    const char *names[MAXS];
    uint64_t hits[MAXS];
    unsigned flags[MAXS];
    size_t n = 0;
    int fired;
    unsigned f0 = fx.faults, r0 = fx.runs;
    int64_t t0 = cl_io_mono_ns();
    assert_crawllog_ok(run_once(sc, "", NULL, 0, &fired));
    /* run_once cleared the counts after the run: redo the run, keep them */
    {
        struct ctx c;
        memset(&c, 0, sizeof(c));
        cl_test_rmrf(fx.work);
        cl_test_copy_tree(fx.tmpl, fx.work);
        c.log = open_dir(fx.work, 0);
        sc->pre(&c);
        cl_fp_clear();
        assert_crawllog_ok(sc->run(&c));
        for (size_t i = 0; i < cl_fp_site_count(); i++) {
            uint64_t h;
            unsigned fl;
            const char *s = cl_fp_site_info(i, &h, &fl);
            int want = strcmp(s, "malloc") == 0 ? oom : io;
            if (h > 0 && want && n < MAXS) {
                names[n] = s;
                hits[n] = h;
                flags[n++] = fl;
            }
        }
        cl_fp_clear();
        sc->post(&c);
        assert_crawllog_ok(crawllog_close(c.log));
    }
    for (size_t i = 0; i < n; i++) {
        const struct kind *kinds[8];
        size_t nk = kinds_of(names[i], flags[i], kinds);
        for (size_t j = 0; j < nk; j++) {
            sweep_site(sc, names[i], hits[i], flags[i], kinds[j], 0);
            sweep_site(sc, names[i], hits[i], flags[i], kinds[j], 1);
        }
    }
    print_message("%-18s %s %2zu sites, %5u faults, %5u runs, %5lld ms\n",
                  sc->name, oom && !io ? "oom" : "io ", n, fx.faults - f0,
                  fx.runs - r0, (long long)((cl_io_mono_ns() - t0) / 1000000));
    assert_true(n > 0);
}

/* ---------------------------------------------------------------------- */
/* Producers and the model                                                 */
/* ---------------------------------------------------------------------- */

/* Producer properties: producer.id id (NULL: none) and acks. */
static crawllog_conf_t *producer_conf(const char *id, const char *acks)
{
    char err[256];
    crawllog_conf_t *conf =
        cl_test_conf("acks", acks, "linger.ms", "600000", NULL);
    if (id) {
        assert_crawllog_ok(
            crawllog_conf_set(conf, "producer.id", id, err, sizeof(err)));
    }
    return conf;
}

static int producer(crawllog_t *log, const char *id, const char *acks,
                    crawllog_producer_t **pp)
{
    char err[256];
    crawllog_conf_t *conf = producer_conf(id, acks);
    *pp = NULL;
    int rc = crawllog_producer_new(log, conf, pp, err, sizeof(err));
    crawllog_conf_destroy(conf);
    return rc;
}

static crawllog_producer_t *producer_ok(crawllog_t *log, const char *id,
                                        const char *acks)
{
    crawllog_producer_t *p;
    assert_crawllog_ok(producer(log, id, acks, &p));
    return p;
}

static void set_rec(crawllog_record_t *r, char *buf, size_t size, int32_t p,
                    int64_t id)
{
    memset(r, 0, sizeof(*r));
    r->value = buf;
    r->value_len = (size_t)snprintf(buf, size, "t/%d/%" PRId64, (int)p, id);
    r->timestamp = -1;
}

/* t/p holds records 0 .. end-1 with their values, no gap, no duplicate;
 * returns end. */
static int64_t check_values(crawllog_t *log, int32_t p)
{
    crawllog_reader_t *rd;
    const crawllog_msg_t *m;
    int64_t next = 0;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", p));
    while (crawllog_reader_next(rd, &m) == 0 && m != NULL) {
        char want[64];
        size_t len;
        int n = snprintf(want, sizeof(want), "t/%d/%" PRId64, (int)p, next);
        const void *v = crawllog_msg_value(m, &len);
        if (len != (size_t)n || memcmp(v, want, len) != 0) {
            fail_msg("[%s] t/%d offset %" PRId64 ": value \"%.*s\"", fx.spec,
                     (int)p, next, (int)len, (const char *)v);
        }
        next++;
    }
    crawllog_reader_destroy(rd);
    return next;
}

/* t/0 has the template's records plus the scenario's batch wholly or not
 * at all (it must be there if acknowledged); t/1 is untouched; the
 * producer.id p1 continues its sequence and can send again. */
static void expect_batch(struct ctx *c, crawllog_t *log, int acked)
{
    int64_t end = check_values(log, 0);
    if (end != NREC + XN && !(end == NREC && !acked)) {
        fail_msg("[%s] t/0 ends at %" PRId64 " (acked %d, rc %s)", fx.spec, end,
                 acked, crawllog_err_name(c->rc));
    }
    assert_int_equal(check_values(log, 1), NREC);
    crawllog_producer_t *p = producer_ok(log, "p1", "all");
    int32_t seq = -1;
    assert_crawllog_ok(crawllog_producer_next_sequence(p, "t", 0, &seq));
    assert_int_equal(seq, (int32_t)end);
    char buf[64];
    crawllog_record_t r;
    int64_t off;
    set_rec(&r, buf, sizeof(buf), 0, end);
    assert_crawllog_ok(crawllog_producer_send_record(p, "t", 0, &r, &off));
    assert_int_equal(off, end);
    assert_crawllog_ok(crawllog_producer_destroy(p));
}

static void release(struct ctx *c)
{
    crawllog_conf_destroy(c->conf);
    c->conf = NULL;
    if (c->p) {
        (void)crawllog_producer_destroy(c->p);
        c->p = NULL;
    }
}

/* ---------------------------------------------------------------------- */
/* Scenarios                                                               */
/* ---------------------------------------------------------------------- */

static void pre_p1(struct ctx *c)
{
    c->conf = producer_conf("p1", "all");
}

static void pre_p2(struct ctx *c)
{
    c->conf = producer_conf("p2", "all");
}

static int run_new(struct ctx *c)
{
    return crawllog_producer_new(c->log, c->conf, &c->p, NULL, 0);
}

static void check_new(struct ctx *c, crawllog_t *log)
{
    int64_t pid = -1;
    int16_t epoch = -1;
    crawllog_producer_t *p = producer_ok(log, "p2", "all");
    assert_crawllog_ok(crawllog_producer_identity(p, &pid, &epoch));
    assert_true(pid >= 0 && epoch >= 0);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    expect_batch(c, log, 0);
}

static int send_batch(struct ctx *c)
{
    crawllog_record_t r[XN];
    char buf[XN][64];
    int64_t base = -1;
    for (int i = 0; i < XN; i++) {
        set_rec(&r[i], buf[i], sizeof(buf[i]), 0, NREC + i);
    }
    int rc = crawllog_producer_send_batch(c->p, "t", 0, r, XN, &base);
    if (rc == 0) {
        assert_int_equal(base, NREC);
    }
    return rc;
}

static void pre_all(struct ctx *c)
{
    c->p = producer_ok(c->log, "p1", "all");
}

static void pre_acks1(struct ctx *c)
{
    c->p = producer_ok(c->log, "p1", "1");
}

static void check_sent(struct ctx *c, crawllog_t *log)
{
    expect_batch(c, log, c->rc == 0);
}

/* send_sequenced, then (faults off) the same batch again: written once. */
static int run_sequenced(struct ctx *c)
{
    crawllog_record_t r[XN];
    char buf[XN][64];
    int64_t base = -1;
    int dup = -1;
    for (int i = 0; i < XN; i++) {
        set_rec(&r[i], buf[i], sizeof(buf[i]), 0, NREC + i);
    }
    return crawllog_producer_send_sequenced(c->p, "t", 0, NREC, r, XN, &base,
                                            &dup);
}

static void post_sequenced(struct ctx *c)
{
    int rc = run_sequenced(c);
    /* After a failed sync the handle refuses appends until reopened
     * (ECLOSED or the original error, crawllog_producer.h). */
    if (rc != 0 && rc != CRAWLLOG_ECLOSED && rc != c->rc) {
        fail_msg("[%s] re-send after %s: %s: %s", fx.spec,
                 crawllog_err_name(c->rc), crawllog_err_name(rc),
                 crawllog_producer_errmsg(c->p));
    }
    c->v[0] = rc == 0;
    release(c);
}

static void check_sequenced(struct ctx *c, crawllog_t *log)
{
    expect_batch(c, log, c->rc == 0 || c->v[0]);
}

/* acks=0: XN buffered sends, delivery reports counted. */
static void on_delivery(void *opaque, const char *topic, int32_t partition,
                        int64_t offset, int err)
{
    struct ctx *c = opaque;
    (void)topic;
    (void)partition;
    if (getenv("CL_FAULT_DEBUG")) {
        print_message("[%s] report offset %" PRId64 " err %d\n", fx.spec,
                      offset, err);
    }
    if (err == 0) {
        /* In send order, at consecutive offsets (checked after reopen). */
        if (offset != NREC + c->v[1]) {
            c->v[3] = offset;
        }
        c->v[1]++;
    } else {
        c->v[2]++;
    }
}

static void pre_acks0(struct ctx *c)
{
    c->p = producer_ok(c->log, "p1", "0");
    assert_crawllog_ok(crawllog_producer_set_delivery_cb(c->p, on_delivery, c));
    for (int i = 0; i < XN; i++) {
        char buf[64];
        crawllog_record_t r;
        int64_t off = 0;
        set_rec(&r, buf, sizeof(buf), 0, NREC + i);
        assert_crawllog_ok(
            crawllog_producer_send_record(c->p, "t", 0, &r, &off));
        assert_int_equal(off, -1);
    }
    assert_int_equal(c->v[1], 0);
}

static int run_flush(struct ctx *c)
{
    return crawllog_producer_flush(c->p, 1000);
}

static int run_destroy(struct ctx *c)
{
    int rc = crawllog_producer_destroy(c->p);
    c->p = NULL;
    return rc;
}

static void check_acks0(struct ctx *c, crawllog_t *log)
{
    /* Every report is in: success for all XN, or failure for all. */
    if (c->v[3] != 0) {
        fail_msg("[%s] report %" PRId64 " says offset %" PRId64, fx.spec,
                 c->v[1], c->v[3]);
    }
    assert_int_equal(c->v[1] + c->v[2], XN);
    if (c->rc == 0) {
        assert_int_equal(c->v[1], XN);
    }
    expect_batch(c, log, c->v[1] == XN);
}

static void pre_cold(struct ctx *c)
{
    c->p = producer_ok(c->log, "p1", "all");
}

static int run_next_sequence(struct ctx *c)
{
    int32_t seq = -1;
    int rc = crawllog_producer_next_sequence(c->p, "t", 1, &seq);
    if (rc == 0) {
        assert_int_equal(seq, NREC);
    }
    return rc;
}

static void check_plain(struct ctx *c, crawllog_t *log)
{
    expect_batch(c, log, 0);
}

static const struct scenario SC[] = {
    {"new_fresh_id", pre_p2, run_new, release, check_new},
    {"new_existing_id", pre_p1, run_new, release, check_plain},
    {"send_acks_all", pre_all, send_batch, release, check_sent},
    {"send_acks_1", pre_acks1, send_batch, release, check_sent},
    {"send_sequenced", pre_all, run_sequenced, post_sequenced, check_sequenced},
    {"acks0_flush", pre_acks0, run_flush, release, check_acks0},
    {"acks0_destroy", pre_acks0, run_destroy, release, check_acks0},
    {"next_sequence", pre_cold, run_next_sequence, release, check_plain},
};
#define NSC (sizeof(SC) / sizeof(SC[0]))

/* ---------------------------------------------------------------------- */
/* Fixture and tests                                                       */
/* ---------------------------------------------------------------------- */

static int group_setup(void **state)
{
    if (cl_test_fast_tmpdir_setup(state) != 0) {
        return -1;
    }
    cl_fp_clear();
    memset(&fx, 0, sizeof(fx));
    fx.full = getenv("CL_FAULT_FULL") && atoi(getenv("CL_FAULT_FULL")) > 0;
    cl_test_path(fx.tmpl, sizeof(fx.tmpl), CL_TEST_DIR(state), "template");
    cl_test_path(fx.work, sizeof(fx.work), CL_TEST_DIR(state), "work");
    crawllog_t *log = open_dir(fx.tmpl, 1);
    cl_test_create_topic(log, "t", 2, NULL);
    crawllog_producer_t *p = producer_ok(log, "p1", "all");
    for (int32_t part = 0; part < 2; part++) {
        for (int i = 0; i < NREC; i++) {
            char buf[64];
            crawllog_record_t r;
            set_rec(&r, buf, sizeof(buf), part, i);
            assert_crawllog_ok(
                crawllog_producer_send_record(p, "t", part, &r, NULL));
        }
    }
    assert_crawllog_ok(crawllog_producer_destroy(p));
    assert_crawllog_ok(crawllog_close(log));
    return 0;
}

static int group_teardown(void **state)
{
    cl_fp_clear();
    print_message("fault-producer: faults=%u recoveries=%u runs=%u "
                  "violations=%u%s (last armed: %s)\n",
                  fx.faults, fx.recoveries, fx.runs, fx.violations,
                  fx.full ? " (full)" : " (sampled k)", fx.spec);
    return cl_test_tmpdir_teardown(state);
}

static void test_fault_producer_io(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSC; i++) {
        sweep(&SC[i], 1, 0);
    }
    assert_int_equal(fx.violations, 0);
}

static void test_fault_producer_oom(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSC; i++) {
        sweep(&SC[i], 0, 1);
    }
    assert_int_equal(fx.violations, 0);
}

/* A library bug this sweep found, swept at every k: with acks=0 and a
 * delivery callback, a written batch's success report was dropped when
 * the report queue could not grow (no memory): a write acknowledged to
 * nobody. */
static void test_fault_producer_regressions(void **state)
{
    int full = fx.full;
    (void)state;
    fx.full = 1;
    sweep_site(&SC[5], "malloc", 0, 0, &K_NOMEM, 0); /* acks0_flush */
    sweep_site(&SC[6], "malloc", 0, 0, &K_NOMEM, 0); /* acks0_destroy */
    fx.full = full;
    assert_int_equal(fx.violations, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_producer_regressions),
        cmocka_unit_test(test_fault_producer_io),
        cmocka_unit_test(test_fault_producer_oom),
    };
    (void)cl_test_seed();
    if (getenv("CL_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("CL_TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("fault_producer", tests, group_setup,
                                       group_teardown);
}
