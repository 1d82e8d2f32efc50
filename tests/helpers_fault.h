/*
 * helpers_fault.h - the failpoint sweep engine of test_fault_group.c,
 * test_fault_producer.c and test_fault_misc.c (reliability.md 4.3 T2 and
 * 4.4 T3): SQLite's I/O-error loop over a scenario's armed call.
 * Linked into every test program (tests/helpers_fault.c); needs a
 * -DCRAWLLOG_TESTING library (cl_fp_*).
 *
 * The loop, per scenario (cl_fault_sweep): a dry run lists the sites the
 * armed call reaches (cl_fp_site_info) with their hit counts; then for
 * every site, every fault kind that applies (EIO, ENOSPC, EINTR; SHORT(3)
 * for writes; EMFILE and EACCES for opens; EAGAIN for locks; ENOMEM for
 * "malloc", the OOM sweep) and both modes (once, :persist), k = 1, 2, ...
 * (sampled: 1..4 and the last two hits, every k with CL_FAULT_FULL=1)
 * until the fault stops firing: a fresh copy of the prepared directory
 * (cl_fault.tmpl -> cl_fault.work), pre(), arm "site=KIND@k", run(),
 * disarm, post(), then:
 *  - the armed call's code is judged: success when no fault fired or for
 *    an EINTR the wrapper retries, otherwise success or a negative library
 *    code consistent with the fault (the errno's code, EIO or ECLOSED;
 *    CRAWLLOG_ENOMEM for ENOMEM).  CRAWLLOG_ETIMEDOUT from a :persist
 *    fault is a stall (a scenario's loop gave up), counted, not judged;
 *  - the log handle closes, no file descriptor leaked, the directory
 *    reopens, check() (the program's model oracle) holds, and
 *    crawllog_verify is clean (after a failed call staging/<our pid>.*
 *    leftovers are tolerated, and whatever cl_fault.tolerate accepts).
 * Counters in cl_fault (faults, recoveries, runs, violations, stalls);
 * violations are printed as "VIOLATION scenario [spec]: why: code" and a
 * test asserts there are none.  cl_fault_teardown prints the summary
 * "<prog>: faults=F recoveries=R runs=N violations=V ...".
 * CL_FAULT_DEBUG=1 prints every stall.
 *
 * The scenarios and their oracles (pre/run/post/check) stay in each
 * program; a scenario's state is a struct cl_fault_ctx.
 */
#ifndef CL_TEST_HELPERS_FAULT_H
#define CL_TEST_HELPERS_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "helpers.h"

/* What a scenario holds; zeroed before each run. */
struct cl_fault_ctx {
    crawllog_t *log; /* opened before pre() unless the scenario opens */
    crawllog_producer_t *p;
    crawllog_consumer_t *cons, *cons2;
    const crawllog_msg_t *msg; /* a polled message (dead letter) */
    crawllog_conf_t *conf;     /* made before the faults are armed */
    int rc;                    /* the armed call's result */
    int fired;                 /* the fault fired */
    int64_t v[4];              /* scenario scratch */
};

struct cl_fault_scenario {
    const char *name;
    void (*pre)(struct cl_fault_ctx *c);  /* faults off, c->log open */
    int (*run)(struct cl_fault_ctx *c);   /* armed */
    void (*post)(struct cl_fault_ctx *c); /* faults off: release handles */
    void (*check)(struct cl_fault_ctx *c, crawllog_t *log); /* reopened */
    int opens; /* run() opens c->log itself (not opened before pre()) */
};

/* A fault kind: the failpoint spec word and the errno it stands for. */
struct cl_fault_kind {
    const char *spec;
    int err;
};
extern const struct cl_fault_kind CL_FAULT_EIO, CL_FAULT_NOSPC, CL_FAULT_INTR,
    CL_FAULT_SHORT, CL_FAULT_MFILE, CL_FAULT_ACCES, CL_FAULT_AGAIN,
    CL_FAULT_NOMEM;

/* The engine's state: set up by cl_fault_setup. */
struct cl_fault_state {
    char tmpl[4096], work[4096]; /* the prepared directory, its copy */
    char spec[256];              /* armed last (for messages) */
    unsigned stalls; /* persistent fault: a loop stalled without error */
    int full;        /* CL_FAULT_FULL=1: every k */
    unsigned faults, recoveries, violations, runs;
    /* Optional: nonzero for a crawllog_verify problem to tolerate. */
    int (*tolerate)(const char *problem);
};
extern struct cl_fault_state cl_fault;

/* Open files of this process (entries of /proc/self/fd). */
int cl_fault_count_fds(void);

/* crawllog_open of dir (log.dir.create if create); fails the test. */
crawllog_t *cl_fault_open(const char *dir, int create);

/* Group setup: a fast temporary directory, cl_fault reset (full from
 * CL_FAULT_FULL), tmpl = <dir>/template (not made), work = <dir>/work. */
int cl_fault_setup(void **state);

/* Group teardown: prints "<prog>: faults=F recoveries=R runs=N
 * violations=V[ stalls=S] (sampled k|full) (last armed: spec)". */
int cl_fault_teardown(void **state, const char *prog, int show_stalls);

/* k = 1, 2, ... at one site, kind and mode, until the fault stops firing
 * (sampled with the site's dry-run hits unless cl_fault.full). */
void cl_fault_sweep_site(const struct cl_fault_scenario *sc, const char *site,
                         uint64_t hits, unsigned flags,
                         const struct cl_fault_kind *kd, int persist);

/* The sweep of one scenario: I/O sites (io) and/or allocations (oom);
 * prints one line per scenario. */
void cl_fault_sweep(const struct cl_fault_scenario *sc, int io, int oom);

/* cl_fault_sweep of sc[0..n-1], then asserts no violation. */
void cl_fault_sweep_all(const struct cl_fault_scenario *sc, size_t n, int io,
                        int oom);

#endif
