/*
 * test_fault_txn.c - failpoint sweep over the transaction state file
 * (libcrawllog/txn_file.c; reliability.md 4.3 T2 / 4.4 T3), so that
 * tests/tools/fp_coverage.sh sees every txn.* site hit.  Built with
 * -DCRAWLLOG_TESTING.
 *
 * Scenarios (the armed call): replace [a durable PREPARE_COMMIT state
 * written in place over an ONGOING one in a file this process made: the
 * other slot, after the presync], nodurable [the same, not durable: no
 * sync], over [durable, over a not-durable newest slot: that slot itself,
 * repaired after a failed write], grow [a state larger than the slots:
 * the file made anew from the in-place path], create [the first write:
 * transactions/ made], read, remove, list.  A dry run counts each site's
 * hits; then every site x kind (EIO, ENOSPC, EINTR, EACCES; SHORT(3) for
 * the writes) x mode (once, :persist) x k = 1 .. hits:
 *  - the code is 0 or the fault's (EINTR: always 0, the wrapper retries;
 *    EIO allowed for kinds a call cannot report);
 *  - afterwards (faults off) the file is the old or the new complete
 *    state - the new one whenever the call returned 0 - never torn or
 *    missing; no temp file is left; no file descriptor leaked;
 *  - read/list: 0 with the right answer, or the fault's code and nothing.
 * CRASH sweep: each writing scenario killed (SIGKILL) at every hit of
 * every site it reaches, and torn at byte counts by CRASH(n) on txn.write
 * and txn.slot.write: old or new complete state afterwards (the dead
 * process's temp file may remain).
 * OOM sweep: malloc=ENOMEM@k over every writing scenario and read:
 * ENOMEM or success, no leak (LSan).
 * Clean-up sweep (cl_txn_file_cleanup with three dead writers' temp files,
 * our own live one and a look-alike name): every site x kind x mode x k
 * (and malloc=ENOMEM@k): the code is 0 or the fault's, a dead temp file
 * is left exactly for each failed removal (none when 0), the live one,
 * the look-alike and the state file always stay; a rerun without faults
 * removes the rest.  After every crash of the CRASH sweep, the clean-up
 * removes the killed writer's temp file.
 * Prints "fault-txn: faults=F recoveries=R violations=V".
 */
#include "helpers.h"
#include "helpers_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "txn_file.h"

#define TXID "tx"

static const char *const sites[] = {
    "txn.mkdir",  "txn.mkdir.dirsync", "txn.dir.open",   "txn.open",
    "txn.write",  "txn.fsync",         "txn.rename",     "txn.tmp.unlink",
    "txn.dirsync", "txn.read",         "txn.unlink",     "txn.unlink.dirsync",
    "txn.list",   "txn.slot.open",     "txn.slot.read",  "txn.slot.presync",
    "txn.slot.write", "txn.slot.fdatasync"};
#define NSITES (sizeof sites / sizeof sites[0])

enum op { OP_REPLACE, OP_NODURABLE, OP_OVER, OP_GROW, OP_CREATE, OP_READ,
          OP_REMOVE, OP_LIST, OP_N };
#define OP_WRITES OP_CREATE /* OP_REPLACE .. OP_CREATE write */

static struct {
    char dir[4096], txdir[4200];
    long dead; /* a pid that is certainly gone */
    struct cl_txn_state oldst, newst, bigst;
    unsigned faults, recoveries, violations, crashes;
} fx;

static void violation(const char *spec, const char *fmt, const char *what)
{
    fx.violations++;
    printf("VIOLATION [%s]: %s%s\n", spec, fmt, what);
}

static int open_root(void)
{
    int fd = open(fx.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* The directory before op: the old state in a new file (not for
 * create); for over, then a not-durable copy of it (txn_seq + 1). */
static void prepare(enum op op)
{
    struct cl_err err = {""};
    cl_test_rmrf(fx.txdir);
    if (op != OP_CREATE) {
        int root = open_root();
        assert_crawllog_ok(
            cl_txn_file_write(root, TXID, &fx.oldst, 1, 0600, 0700, &err));
        if (op == OP_OVER) {
            fx.oldst.txn_seq++;
            assert_crawllog_ok(cl_txn_file_write(root, TXID, &fx.oldst, 0,
                                                 0600, 0700, &err));
            fx.oldst.txn_seq--;
        }
        close(root);
    }
}

static int run(enum op op, int root, struct cl_err *err, int *answer)
{
    struct cl_txn_state st;
    char **names = NULL;
    size_t n = 0;
    int rc;
    *answer = 1;
    switch (op) {
    case OP_REPLACE:
    case OP_OVER:
    case OP_CREATE:
        return cl_txn_file_write(root, TXID, &fx.newst, 1, 0600, 0700, err);
    case OP_NODURABLE:
        return cl_txn_file_write(root, TXID, &fx.newst, 0, 0600, 0700, err);
    case OP_GROW:
        return cl_txn_file_write(root, TXID, &fx.bigst, 0, 0600, 0700, err);
    case OP_READ:
        rc = cl_txn_file_read(root, TXID, &st, err);
        *answer = rc == 0 ? st.status == fx.oldst.status &&
                                st.nparts == fx.oldst.nparts
                          : st.nparts == 0;
        cl_txn_state_free(&st);
        return rc;
    case OP_REMOVE:
        return cl_txn_file_remove(root, TXID, err);
    default:
        rc = cl_txn_file_list(root, &names, &n, err);
        *answer = rc == 0 ? n == 1 && strcmp(names[0], TXID) == 0 : n == 0;
        cl_io_listdir_free(names, n);
        return rc;
    }
}

/* After op (faults off): 0 absent, 1 old, 2 new, -1 anything else. */
static int outcome(void)
{
    struct cl_err err = {""};
    struct cl_txn_state st;
    int root = open_root();
    int rc = cl_txn_file_read(root, TXID, &st, &err);
    int r = rc == CRAWLLOG_ENOENT ? 0 : -1;
    if (rc == 0 && st.status == fx.oldst.status &&
        st.nparts == fx.oldst.nparts) {
        r = 1;
    } else if (rc == 0 && st.status == fx.newst.status &&
               st.nparts == fx.newst.nparts &&
               (st.noffsets == fx.newst.noffsets ||
                st.noffsets == fx.bigst.noffsets)) {
        r = 2;
    }
    cl_txn_state_free(&st);
    close(root);
    return r;
}

/* Only the file itself in transactions/ (no temp). */
static int temps_left(void)
{
    char **names = NULL;
    size_t n = 0, t = 0;
    int fd = open(fx.txdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    assert_int_equal(cl_io_listdir("t.list", fd, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        t += strcmp(names[i], TXID) != 0;
    }
    cl_io_listdir_free(names, n);
    close(fd);
    return (int)t;
}

static void judge(enum op op, const char *spec, int rc, int fired, int err_code,
                  int answer, int renamed)
{
    int out = outcome();
    if (fired) {
        fx.faults++;
    }
    if (rc != 0 && (!fired || (rc != err_code && rc != CRAWLLOG_EIO &&
                               rc != CRAWLLOG_ENOMEM))) {
        violation(spec, "unexpected code ", crawllog_err_name(rc));
    }
    if (!answer) {
        violation(spec, "wrong answer", "");
    }
    if (temps_left() != 0) {
        violation(spec, "temporary file left", "");
    }
    switch (op) {
    case OP_REPLACE:
    case OP_NODURABLE:
    case OP_OVER:
    case OP_GROW:
    case OP_CREATE:
        if (out != 2 && (rc == 0 || renamed || out != (op == OP_CREATE ? 0
                                                                       : 1))) {
            violation(spec, "state after the write: ",
                      out < 0 ? "damaged" : out == 0 ? "missing" : "old");
        }
        break;
    case OP_REMOVE:
        if (out != 0 && (rc == 0 || out != 1)) {
            violation(spec, "state after remove", "");
        }
        break;
    default:
        if (out != 1) {
            violation(spec, "read or list changed the file", "");
        }
    }
    if (rc != 0) {
        fx.recoveries++;
    }
}

static const struct {
    const char *spec;
    int code;
} kinds[] = {{"EIO", CRAWLLOG_EIO},       {"ENOSPC", CRAWLLOG_ENOSPC},
             {"EINTR", 0},                {"EACCES", CRAWLLOG_EPERM},
             {"SHORT(3)", CRAWLLOG_ENOSPC}};

static int reached[NSITES];

static void sweep_op(enum op op)
{
    uint64_t hits[NSITES];
    struct cl_err err = {""};
    int answer;
    prepare(op);
    int root = open_root();
    cl_fp_clear();
    assert_crawllog_ok(run(op, root, &err, &answer));
    for (size_t s = 0; s < NSITES; s++) {
        hits[s] = cl_fp_hits(sites[s]);
        reached[s] |= hits[s] > 0;
    }
    close(root);
    for (size_t s = 0; s < NSITES; s++) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            if (strncmp(kinds[k].spec, "SHORT", 5) == 0 &&
                strcmp(sites[s], "txn.write") != 0 &&
                strcmp(sites[s], "txn.slot.write") != 0) {
                continue;
            }
            for (int persist = 0; persist < 2; persist++) {
                for (uint64_t at = 1; at <= hits[s]; at++) {
                    char spec[128];
                    prepare(op);
                    root = open_root();
                    int fds = cl_fault_count_fds();
                    snprintf(spec, sizeof spec, "%s=%s@%llu%s", sites[s],
                             kinds[k].spec, (unsigned long long)at,
                             persist ? ":persist" : "");
                    cl_fp_clear();
                    assert_int_equal(cl_fp_set(spec), 0);
                    int rc = run(op, root, &err, &answer);
                    uint64_t rn = cl_fp_hits("txn.dirsync");
                    for (size_t r = 0; r < NSITES; r++) {
                        reached[r] |= cl_fp_hits(sites[r]) > 0;
                    }
                    cl_fp_clear();
                    if (cl_fault_count_fds() != fds) {
                        violation(spec, "file descriptor leaked", "");
                    }
                    close(root);
                    judge(op, spec, rc, 1, kinds[k].code, answer,
                          strcmp(sites[s], "txn.dirsync") == 0 && rn > 0);
                }
            }
        }
    }
}

static void test_fault_txn_io_sweep(void **state)
{
    (void)state;
    for (int op = 0; op < OP_N; op++) {
        sweep_op((enum op)op);
    }
    /* Every site was reached by some scenario. */
    for (size_t s = 0; s < NSITES; s++) {
        if (!reached[s]) {
            fail_msg("site %s never reached", sites[s]);
        }
    }
    assert_int_equal(fx.violations, 0);
}

static void test_fault_txn_oom_sweep(void **state)
{
    (void)state;
    for (int op = OP_REPLACE; op <= OP_READ; op++) {
        for (int at = 1;; at++) {
            char spec[64];
            struct cl_err err = {""};
            int answer;
            prepare((enum op)op);
            int root = open_root();
            snprintf(spec, sizeof spec, "malloc=ENOMEM@%d", at);
            cl_fp_clear();
            assert_int_equal(cl_fp_set(spec), 0);
            int rc = run((enum op)op, root, &err, &answer);
            int fired = cl_fp_hits("malloc") >= (uint64_t)at;
            cl_fp_clear();
            close(root);
            judge((enum op)op, spec, rc, fired, CRAWLLOG_ENOMEM, answer, 0);
            if (!fired) {
                break;
            }
        }
    }
    assert_int_equal(fx.violations, 0);
}

/* Child: arm the spec, run the writing scenario; a CRASH kills it. */
struct crash {
    enum op op;
    char spec[64];
};

static void crash_child(void *arg)
{
    const struct crash *c = arg;
    struct cl_err err = {""};
    int answer;
    int root = open(fx.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cl_fp_clear();
    cl_test_check(root >= 0 && cl_fp_set(c->spec) == 0);
    cl_test_check(run(c->op, root, &err, &answer) == 0);
}

/* After a crash: the clean-up removes the dead writer's temp file, if
 * any, and keeps the state (out, as outcome() said). */
static void crash_cleanup(const char *spec, int out)
{
    struct cl_err err = {""};
    int root = open_root();
    int rc = cl_txn_file_cleanup(root, &err);
    close(root);
    if (rc != 0 || temps_left() != 0 || outcome() != out) {
        violation(spec, "cleanup after the crash: ", crawllog_err_name(rc));
    }
}

/* Kill op by c->spec; the state must be old or new (missing only for
 * create); returns outcome(). */
static int crash_one(struct crash *c)
{
    prepare(c->op);
    cl_test_assert_killed_by(cl_test_fork_run(crash_child, c), SIGKILL);
    fx.crashes++;
    int out = outcome();
    if (out < 0 || (c->op != OP_CREATE && out == 0)) {
        violation(c->spec, "after the crash: ", out < 0 ? "damaged"
                                                        : "missing");
    }
    return out;
}

static void test_fault_txn_crash_sweep(void **state)
{
    struct cl_err err = {""};
    int answer;
    (void)state;
    for (int op = OP_REPLACE; op <= OP_WRITES; op++) {
        uint64_t hits[NSITES];
        prepare((enum op)op);
        int root = open_root();
        cl_fp_clear();
        assert_crawllog_ok(run((enum op)op, root, &err, &answer));
        for (size_t s = 0; s < NSITES; s++) {
            hits[s] = cl_fp_hits(sites[s]);
        }
        cl_fp_clear();
        close(root);
        for (size_t s = 0; s < NSITES; s++) {
            for (uint64_t at = 1; at <= hits[s]; at++) {
                struct crash c = {(enum op)op, ""};
                snprintf(c.spec, sizeof c.spec, "%s=CRASH@%llu", sites[s],
                         (unsigned long long)at);
                crash_cleanup(c.spec, crash_one(&c));
            }
        }
    }
    /* Torn writes at every 7th length: of the temp file (create, grow:
     * the old state or none, and a temp file left), of a slot (the old
     * state - the other slot, or for over the repaired or durable one -
     * until all L bytes are written, then the new one). */
    uint8_t *enc = NULL;
    size_t len = 0;
    assert_crawllog_ok(cl_txn_encode(&fx.newst, &enc, &len, &err));
    cl_io_free(enc);
    static const struct {
        enum op op;
        const char *site;
        int temp, out;
    } torn[] = {{OP_CREATE, "txn.write", 1, 0},
                {OP_GROW, "txn.write", 1, 1},
                {OP_REPLACE, "txn.slot.write", 0, 1},
                {OP_OVER, "txn.slot.write", 0, 1},
                {OP_NODURABLE, "txn.slot.write", 0, 1}};
    for (size_t t = 0; t < sizeof torn / sizeof torn[0]; t++) {
        for (int n = 0; n < 200; n += 7) {
            struct crash c = {torn[t].op, ""};
            snprintf(c.spec, sizeof c.spec, "%s=CRASH(%d)", torn[t].site, n);
            int out = crash_one(&c);
            int want = torn[t].temp || (size_t)n < len ? torn[t].out : 2;
            if (out != want) {
                violation(c.spec, "torn write: wrong state", "");
            }
            if (temps_left() != torn[t].temp) {
                violation(c.spec, "temp files after a torn write", "");
            }
            crash_cleanup(c.spec, out);
        }
    }
    assert_int_equal(fx.violations, 0);
}

/* ---------------------------------------------------------------------- */
/* Clean-up of dead writers' temp files                                    */
/* ---------------------------------------------------------------------- */

#define NDEAD 3

static char own_tmp[64], alike[64];

/* Old state, NDEAD temp files of a dead writer, ours, a look-alike. */
static void prepare_cleanup(void)
{
    char path[4400];
    prepare(OP_REPLACE);
    for (int i = 0; i < NDEAD; i++) {
        snprintf(path, sizeof path, "%s/~tmp.%ld.%d", fx.txdir, fx.dead, i);
        cl_test_write_file(path, "x", 1);
    }
    snprintf(path, sizeof path, "%s/%s", fx.txdir, own_tmp);
    cl_test_write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/%s", fx.txdir, alike);
    cl_test_write_file(path, "x", 1);
}

/* Dead temp files left; -1 if the state, ours or the look-alike went. */
static int dead_left(void)
{
    char **names = NULL, prefix[64];
    size_t n = 0;
    int left = 0, keep = 0;
    snprintf(prefix, sizeof prefix, "~tmp.%ld.", fx.dead);
    int fd = open(fx.txdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(cl_io_listdir("t.list", fd, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        keep += strcmp(names[i], own_tmp) == 0 || strcmp(names[i], alike) == 0;
        left += strncmp(names[i], prefix, strlen(prefix)) == 0 &&
                strcmp(names[i], alike) != 0;
    }
    cl_io_listdir_free(names, n);
    close(fd);
    return keep == 2 && outcome() == 1 ? left : -1;
}

/* After a fault: expect_left dead temp files are left (the failed
 * removals; none when rc is 0), then a rerun without faults removes the
 * rest. */
static void judge_cleanup(const char *spec, int rc, int code, int fired,
                          int expect_left)
{
    struct cl_err err = {""};
    int left = dead_left();
    if (fired) {
        fx.faults++;
    }
    if (rc != 0) {
        fx.recoveries++;
    }
    if (rc != 0 && (!fired || (rc != code && rc != CRAWLLOG_EIO))) {
        violation(spec, "cleanup: unexpected code ", crawllog_err_name(rc));
    }
    if (fired && rc == 0 && expect_left > 0) {
        violation(spec, "cleanup: fault not reported", "");
    }
    if (left < 0) {
        violation(spec, "cleanup removed a file it must keep", "");
    } else if (rc == 0 ? left != 0 : left != expect_left) {
        printf("  left %d, expected %d\n", left, expect_left);
        violation(spec, "cleanup: wrong number of dead temp files left", "");
    }
    int root = open_root();
    rc = cl_txn_file_cleanup(root, &err);
    close(root);
    if (rc != 0 || dead_left() != 0) {
        violation(spec, "cleanup rerun: ", crawllog_err_name(rc));
    }
}

static void test_fault_txn_cleanup_sweep(void **state)
{
    static const char *const csites[] = {"txn.dir.open", "txn.cleanup.list",
                                         "txn.cleanup.unlink"};
    uint64_t hits[3];
    struct cl_err err = {""};
    (void)state;
    prepare_cleanup();
    int root = open_root();
    cl_fp_clear();
    assert_crawllog_ok(cl_txn_file_cleanup(root, &err));
    for (size_t s = 0; s < 3; s++) {
        hits[s] = cl_fp_hits(csites[s]);
    }
    close(root);
    assert_int_equal(dead_left(), 0);
    assert_true(hits[0] == 1 && hits[1] == 1 && hits[2] == NDEAD);
    for (size_t s = 0; s < 3; s++) {
        for (size_t k = 0; k < 4; k++) { /* not SHORT */
            for (int persist = 0; persist < 2; persist++) {
                for (uint64_t at = 1; at <= hits[s]; at++) {
                    char spec[128];
                    prepare_cleanup();
                    root = open_root();
                    int fds = cl_fault_count_fds();
                    snprintf(spec, sizeof spec, "%s=%s@%llu%s", csites[s],
                             kinds[k].spec, (unsigned long long)at,
                             persist ? ":persist" : "");
                    cl_fp_clear();
                    assert_int_equal(cl_fp_set(spec), 0);
                    int rc = cl_txn_file_cleanup(root, &err);
                    cl_fp_clear();
                    if (cl_fault_count_fds() != fds) {
                        violation(spec, "file descriptor leaked", "");
                    }
                    close(root);
                    /* A failed removal leaves its file; the directory
                     * open retries EINTR; otherwise all are left. */
                    int expect = s == 2 ? (persist ? (int)(hits[s] - at) + 1
                                                   : 1)
                                 : s == 0 && kinds[k].code == 0 ? 0 : NDEAD;
                    judge_cleanup(spec, rc, kinds[k].code, 1, expect);
                }
            }
        }
    }
    for (int at = 1;; at++) {
        char spec[64];
        prepare_cleanup();
        root = open_root();
        snprintf(spec, sizeof spec, "malloc=ENOMEM@%d", at);
        cl_fp_clear();
        assert_int_equal(cl_fp_set(spec), 0);
        int rc = cl_txn_file_cleanup(root, &err);
        int fired = cl_fp_hits("malloc") >= (uint64_t)at;
        cl_fp_clear();
        close(root);
        judge_cleanup(spec, rc, CRAWLLOG_ENOMEM, fired, fired ? NDEAD : 0);
        if (!fired) {
            break;
        }
    }
    assert_int_equal(fx.violations, 0);
}

static int setup(void **state)
{
    if (cl_test_fast_tmpdir_setup(state) != 0) {
        return -1;
    }
    snprintf(fx.dir, sizeof fx.dir, "%s", CL_TEST_DIR(state));
    snprintf(fx.txdir, sizeof fx.txdir, "%s/transactions", fx.dir);
    fx.dead = cl_test_dead_pid();
    snprintf(own_tmp, sizeof own_tmp, "~tmp.%ld.7", (long)getpid());
    snprintf(alike, sizeof alike, "~tmp.%ld.0x", fx.dead);
    cl_txn_state_init(&fx.oldst);
    fx.oldst.producer_id = 1;
    fx.oldst.status = CL_TXN_ONGOING;
    if (cl_txn_state_add_part(&fx.oldst, "a", 0, 5) != 0) {
        return -1;
    }
    cl_txn_state_init(&fx.newst);
    fx.newst.producer_id = 1;
    fx.newst.status = CL_TXN_PREPARE_COMMIT;
    strcpy(fx.newst.group, "g");
    fx.newst.generation = 3;
    strcpy(fx.newst.member, "m-1");
    if (cl_txn_state_add_part(&fx.newst, "a", 0, 5) != 0 ||
        cl_txn_state_add_part(&fx.newst, "b", 1, 9) != 0 ||
        cl_txn_state_add_offset(&fx.newst, "in", 0, 10, "meta") != 0) {
        return -1;
    }
    /* newst with two 4095-byte metadata more: L > 8 KiB (grow). */
    char meta[CL_TXN_META_MAX + 1];
    memset(meta, 'x', CL_TXN_META_MAX);
    meta[CL_TXN_META_MAX] = '\0';
    cl_txn_state_init(&fx.bigst);
    fx.bigst.producer_id = 1;
    fx.bigst.status = CL_TXN_PREPARE_COMMIT;
    strcpy(fx.bigst.group, "g");
    fx.bigst.generation = 3;
    if (cl_txn_state_add_part(&fx.bigst, "a", 0, 5) != 0 ||
        cl_txn_state_add_part(&fx.bigst, "b", 1, 9) != 0 ||
        cl_txn_state_add_offset(&fx.bigst, "in", 0, 10, meta) != 0 ||
        cl_txn_state_add_offset(&fx.bigst, "in", 1, 10, meta) != 0 ||
        cl_txn_state_add_offset(&fx.bigst, "in", 2, 10, meta) != 0) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    printf("fault-txn: faults=%u recoveries=%u crashes=%u violations=%u\n",
           fx.faults, fx.recoveries, fx.crashes, fx.violations);
    cl_txn_state_free(&fx.oldst);
    cl_txn_state_free(&fx.newst);
    cl_txn_state_free(&fx.bigst);
    cl_fp_clear();
    return cl_test_tmpdir_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_txn_io_sweep),
        cmocka_unit_test(test_fault_txn_oom_sweep),
        cmocka_unit_test(test_fault_txn_crash_sweep),
        cmocka_unit_test(test_fault_txn_cleanup_sweep),
    };
    return cmocka_run_group_tests_name("fault_txn", tests, setup, teardown);
}
