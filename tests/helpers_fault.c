/*
 * helpers_fault.c - the failpoint sweep engine (declared in
 * helpers_fault.h, which describes the loop): SQLite's I/O-error loop
 * shared by test_fault_group.c, test_fault_producer.c and
 * test_fault_misc.c.  A dry run lists the sites a scenario's armed call
 * reaches; every site x fault kind (by the site's name and wrapper
 * flags) x mode (once, :persist) x k (sampled, or all with
 * CL_FAULT_FULL=1) runs on a fresh copy of the prepared directory; the
 * code is judged, no fd may leak, the directory must reopen, pass the
 * program's check and crawllog_verify; the summary counters live in
 * cl_fault.  Owns nothing on disk but cl_fault.work (recreated per run).
 */
#include "helpers_fault.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "io_failpoint.h"

struct cl_fault_state cl_fault;

const struct cl_fault_kind CL_FAULT_EIO = {"EIO", EIO},
                           CL_FAULT_NOSPC = {"ENOSPC", ENOSPC},
                           CL_FAULT_INTR = {"EINTR", EINTR},
                           CL_FAULT_SHORT = {"SHORT(3)", ENOSPC},
                           CL_FAULT_MFILE = {"EMFILE", EMFILE},
                           CL_FAULT_ACCES = {"EACCES", EACCES},
                           CL_FAULT_AGAIN = {"EAGAIN", EAGAIN},
                           CL_FAULT_NOMEM = {"ENOMEM", ENOMEM};

int cl_fault_count_fds(void)
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

crawllog_t *cl_fault_open(const char *dir, int create)
{
    crawllog_conf_t *conf =
        cl_test_conf("log.dir.create", create ? "true" : "false", NULL);
    crawllog_t *log = cl_test_open(dir, conf);
    crawllog_conf_destroy(conf);
    return log;
}

int cl_fault_setup(void **state)
{
    if (cl_test_fast_tmpdir_setup(state) != 0) {
        return -1;
    }
    cl_fp_clear();
    memset(&cl_fault, 0, sizeof(cl_fault));
    cl_fault.full =
        getenv("CL_FAULT_FULL") && atoi(getenv("CL_FAULT_FULL")) > 0;
    cl_test_path(cl_fault.tmpl, sizeof(cl_fault.tmpl), CL_TEST_DIR(state),
                 "template");
    cl_test_path(cl_fault.work, sizeof(cl_fault.work), CL_TEST_DIR(state),
                 "work");
    return 0;
}

int cl_fault_teardown(void **state, const char *prog, int show_stalls)
{
    char stalls[32] = "";
    cl_fp_clear();
    if (show_stalls) {
        snprintf(stalls, sizeof(stalls), " stalls=%u", cl_fault.stalls);
    }
    print_message("%s: faults=%u recoveries=%u runs=%u violations=%u%s%s "
                  "(last armed: %s)\n",
                  prog, cl_fault.faults, cl_fault.recoveries, cl_fault.runs,
                  cl_fault.violations, stalls,
                  cl_fault.full ? " (full)" : " (sampled k)", cl_fault.spec);
    return cl_test_tmpdir_teardown(state);
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

/* The fault kinds that apply to a site (its name and wrapper flags). */
static size_t kinds_of(const char *site, unsigned flags,
                       const struct cl_fault_kind **out)
{
    size_t n = 0;
    if (strcmp(site, "malloc") == 0) {
        out[n++] = &CL_FAULT_NOMEM;
        return n;
    }
    out[n++] = &CL_FAULT_EIO;
    out[n++] = &CL_FAULT_NOSPC;
    out[n++] = &CL_FAULT_INTR;
    if (flags & CL_FP_SITE_WRITE) {
        out[n++] = &CL_FAULT_SHORT;
    } else if (strstr(site, "open") || strstr(site, "create") ||
               strstr(site, ".dup")) {
        out[n++] = &CL_FAULT_MFILE;
        out[n++] = &CL_FAULT_ACCES;
    } else if (strstr(site, "lock")) {
        out[n++] = &CL_FAULT_AGAIN;
    }
    return n;
}

/* crawllog_verify must be clean, except - after a failed call - for
 * staging/<our pid>.* leftovers: a failed topic create (the dead-letter
 * topic, say) whose clean-up failed too leaves them, and the clean-up at
 * open keeps the entries of live processes (this one) until it exits;
 * and except what the program's cl_fault.tolerate accepts. */
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
    if (cl_fault.tolerate != NULL && cl_fault.tolerate(problem)) {
        vs->tolerated++;
        return;
    }
    print_error("verify [%s]: %s\n", cl_fault.spec, problem);
}

static void verify_allowing(const char *dir, int allow)
{
    struct vstate vs = {allow, 0};
    size_t problems = 0;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc =
        crawllog_verify(dir, verify_cb, &vs, &problems, errstr, sizeof(errstr));
    if ((rc != 0 && rc != CRAWLLOG_ECORRUPT) || problems != vs.tolerated) {
        fail_msg("crawllog_verify [%s]: %s, %zu problem(s): %s", cl_fault.spec,
                 crawllog_err_name(rc), problems, errstr);
    }
}

/* c zeroed, a fresh copy of the template in cl_fault.work. */
static void prepare(struct cl_fault_ctx *c)
{
    memset(c, 0, sizeof(*c));
    cl_test_rmrf(cl_fault.work);
    cl_test_copy_tree(cl_fault.tmpl, cl_fault.work);
}

/* One run of sc on a fresh copy with spec armed; *firedp: site had at
 * least k hits.  Returns the armed call's code. */
static int run_once(const struct cl_fault_scenario *sc, const char *spec,
                    const char *site, uint64_t k, int *firedp)
{
    struct cl_fault_ctx c;
    prepare(&c);
    int fds = cl_fault_count_fds();
    if (!sc->opens) {
        c.log = cl_fault_open(cl_fault.work, 0);
    }
    sc->pre(&c);
    cl_fp_clear();
    assert_int_equal(cl_fp_set(spec), 0);
    snprintf(cl_fault.spec, sizeof(cl_fault.spec), "%s", spec);
    c.rc = sc->run(&c);
    c.fired = site != NULL && cl_fp_hits(site) >= k;
    cl_fp_clear();
    cl_fault.runs++;
    sc->post(&c);
    int rc = c.log ? crawllog_close(c.log) : 0;
    if (rc != 0 && !(c.rc != 0 && rc == CRAWLLOG_ECLOSED)) {
        fail_msg("%s [%s]: crawllog_close: %s", sc->name, spec,
                 crawllog_err_name(rc));
    }
    if (cl_fault_count_fds() != fds) {
        fail_msg("%s [%s]: %d file descriptor(s) leaked", sc->name, spec,
                 cl_fault_count_fds() - fds);
    }
    crawllog_t *log = cl_fault_open(cl_fault.work, 0);
    int armed_rc = c.rc;
    sc->check(&c, log);
    c.rc = armed_rc;
    assert_crawllog_ok(crawllog_close(log));
    verify_allowing(cl_fault.work, armed_rc != 0);
    if (c.fired) {
        cl_fault.recoveries++;
    }
    *firedp = c.fired;
    return c.rc;
}

/* Judge the armed call's code; violations are counted and printed. */
static void judge(const struct cl_fault_scenario *sc, const char *spec, int rc,
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
        cl_fault.stalls++;
        if (getenv("CL_FAULT_DEBUG")) {
            print_message("stall %s [%s]\n", sc->name, spec);
        }
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
        cl_fault.violations++;
        print_error("VIOLATION %s [%s]: %s: %d %s\n", sc->name, spec, why, rc,
                    crawllog_err_name(rc));
    }
}

void cl_fault_sweep_site(const struct cl_fault_scenario *sc, const char *site,
                         uint64_t hits, unsigned flags,
                         const struct cl_fault_kind *kd, int persist)
{
    int invisible = kd->err == EINTR && (flags & CL_FP_SITE_EINTR) &&
                    !(flags & CL_FP_SITE_NOEINTR);
    for (uint64_t k = 1; k < 100000; k++) {
        char spec[256];
        int fired;
        if (!cl_fault.full && k > 4 && k + 2 < hits) {
            k = hits - 2; /* the last two hits, then one past them */
        }
        snprintf(spec, sizeof(spec), "%s=%s@%" PRIu64 "%s", site, kd->spec, k,
                 persist ? ":persist" : "");
        int rc = run_once(sc, spec, site, k, &fired);
        judge(sc, spec, rc, fired, invisible, kd->err);
        if (!fired) {
            return;
        }
        cl_fault.faults++;
    }
    fail_msg("%s: %s still hit after 100000 runs", sc->name, site);
}

void cl_fault_sweep(const struct cl_fault_scenario *sc, int io, int oom)
{
    enum { MAXS = 64 };
    const char *names[MAXS];
    uint64_t hits[MAXS];
    unsigned flags[MAXS];
    size_t n = 0;
    int fired;
    unsigned f0 = cl_fault.faults, r0 = cl_fault.runs;
    int64_t t0 = cl_io_mono_ns();
    assert_crawllog_ok(run_once(sc, "", NULL, 0, &fired));
    /* run_once cleared the counts after the run: redo the run, keep them */
    {
        struct cl_fault_ctx c;
        prepare(&c);
        if (!sc->opens) {
            c.log = cl_fault_open(cl_fault.work, 0);
        }
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
        if (c.log) {
            assert_crawllog_ok(crawllog_close(c.log));
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct cl_fault_kind *kinds[8];
        size_t nk = kinds_of(names[i], flags[i], kinds);
        for (size_t j = 0; j < nk; j++) {
            cl_fault_sweep_site(sc, names[i], hits[i], flags[i], kinds[j], 0);
            cl_fault_sweep_site(sc, names[i], hits[i], flags[i], kinds[j], 1);
        }
    }
    print_message("%-18s %s %2zu sites, %5u faults, %5u runs, %5lld ms\n",
                  sc->name, oom && !io ? "oom" : "io ", n, cl_fault.faults - f0,
                  cl_fault.runs - r0,
                  (long long)((cl_io_mono_ns() - t0) / 1000000));
    assert_true(n > 0);
}

void cl_fault_sweep_all(const struct cl_fault_scenario *sc, size_t n, int io,
                        int oom)
{
    for (size_t i = 0; i < n; i++) {
        cl_fault_sweep(&sc[i], io, oom);
    }
    assert_int_equal(cl_fault.violations, 0);
}
