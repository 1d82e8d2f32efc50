/*
 * test_crawl_eos.c - examples/crawl-eos keeps its promise: however it is
 * killed, once restarted, a read_committed reader of crawl.results sees
 * exactly one result per job and the group's committed offsets count
 * every job exactly once.
 *
 *  - kill -9 while a transaction is open with results already written
 *    (seen from outside: crawl.results holds more records read_uncommitted
 *    than read_committed), twice, then a restart finishes: exactly once,
 *    and the aborted results are still in the log (so the kill really hit
 *    an open transaction);
 *  - a crash sweep: CRAWLLOG_FP="txn.*=CRASH@K" for 10 values of K spread
 *    over the transaction sites one run reaches (state lock and state file
 *    writes: AddPartitions, staged offsets, PREPARE_COMMIT, COMPLETE; with
 *    CRAWL_EOS_SWEEP=all every K; CRAWL_EOS_SWEEP_SITES=seg sweeps the
 *    seg.* sites instead, and so on), restart, check;
 *  - --abort-every: aborted transactions are redone, their results never
 *    visible;
 *  - zombie fencing: a second process under the same --worker name makes
 *    the first exit with status 3 ("event=fenced") and finishes the jobs.
 *
 * The worker is the example's own source, examples/crawl-eos.c, compiled
 * into this program (its main renamed) so that it runs on the test
 * library, failpoints included: the test re-executes itself
 * (/proc/self/exe crawl-eos ARGS...) to start a worker.  The test site is
 * examples/crawl-fixture ($CRAWL_FIXTURE, default
 * build/examples/crawl-fixture: `make examples` builds it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "helpers.h"

/* The example, its main renamed. */
#define main crawl_eos_main
#include "../examples/crawl-eos.c"
#undef main

extern char **environ;

#define GROUP "crawlers-eos"
#define MAX_JOBS 64

static pid_t fixture_pid;
static int http_port;
static pid_t worker_pids[4];

static int teardown(void **state)
{
    for (size_t i = 0; i < sizeof(worker_pids) / sizeof(worker_pids[0]); i++) {
        if (worker_pids[i] > 0) {
            kill(worker_pids[i], SIGKILL);
            waitpid(worker_pids[i], NULL, 0);
            worker_pids[i] = 0;
        }
    }
    if (fixture_pid > 0) {
        kill(fixture_pid, SIGTERM);
        waitpid(fixture_pid, NULL, 0);
        fixture_pid = 0;
    }
    return cl_test_tmpdir_teardown(state);
}

static const char *data_path(void **state, char *buf, size_t size)
{
    return cl_test_path(buf, size, CL_TEST_DIR(state), "data");
}

/* posix_spawn argv with stdout to out_fd (-1: inherited) and stderr
 * appended to the file err; env: environ plus fp (CRAWLLOG_FP=..., or
 * NULL). */
static pid_t spawn(const char *const *argv, int out_fd, const char *err,
                   const char *fp)
{
    const char *envp[512];
    size_t n = 0;
    for (char **e = environ; *e != NULL && n < 510; e++) {
        if (strncmp(*e, "CRAWLLOG_FP=", 12) != 0) {
            envp[n++] = *e;
        }
    }
    if (fp != NULL) {
        envp[n++] = fp;
    }
    envp[n] = NULL;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    }
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                         (char *const *)envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fail_msg("%s: %s", argv[0], strerror(rc));
    }
    return pid;
}

/* Start the fixture (slow pages take slow_ms) and fill crawl.jobs (2
 * partitions, keyed by host, alternating) with jobs j0..j<n-1>: every slow_every-th a
 * /slow/ page (0: none), the others fast /p/ pages. */
static void setup_world(void **state, const char *slow_ms, int n,
                        int slow_every)
{
    char err[4200], dir[4200], line[128];
    int pfd[2], socks = 0;
    const char *fx = getenv("CRAWL_FIXTURE");
    fx = fx != NULL && *fx != '\0' ? fx : "build/examples/crawl-fixture";
    if (access(fx, X_OK) != 0) {
        fail_msg("%s: %s: run make examples (or set CRAWL_FIXTURE)", fx,
                 strerror(errno));
    }
    assert_int_equal(pipe(pfd), 0);
    cl_test_path(err, sizeof(err), CL_TEST_DIR(state), "fixture.log");
    const char *fargv[] = {fx,   "--hosts",   "2",     "--pages",
                           "50", "--slow-ms", slow_ms, NULL};
    fixture_pid = spawn(fargv, pfd[1], err, NULL);
    close(pfd[1]);
    size_t len = 0;
    while (len < sizeof(line) - 1 && read(pfd[0], line + len, 1) == 1 &&
           line[len] != '\n') {
        len++;
    }
    line[len] = '\0';
    close(pfd[0]);
    assert_int_equal(
        sscanf(line, "fixture http=%d socks=%d", &http_port, &socks), 2);
    crawllog_t *log = cl_test_open(data_path(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, "crawl.jobs", 2, NULL);
    crawllog_producer_t *prod = NULL;
    crawllog_conf_t *conf = cl_test_conf("acks", "all", NULL);
    char errstr[256];
    assert_crawllog_ok(
        crawllog_producer_new(log, conf, &prod, errstr, sizeof(errstr)));
    crawllog_conf_destroy(conf);
    for (int i = 0; i < n; i++) {
        char host[64], val[256];
        int slow = slow_every > 0 && i % slow_every == 0;
        snprintf(host, sizeof(host), "127.0.0.%d:%d", 1 + i % 2, http_port);
        int vlen = snprintf(val, sizeof(val),
                            "{\"job_id\":\"j%d\",\"url\":\"http://%s/%s/%d\","
                            "\"type\":\"seo\"}",
                            i, host, slow ? "slow" : "p", i);
        /* Partition i % 2 (not the host's hash): both partitions get
         * work, so that two workers both have some. */
        assert_crawllog_ok(crawllog_producer_send(prod, "crawl.jobs", i % 2,
                                                  host, strlen(host), val,
                                                  (size_t)vlen, NULL, 0, NULL));
    }
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    cl_test_close_verify(log, dir);
}

/* Start a worker: this program as crawl-eos with the data directory, the
 * fixture-friendly timings and args (NULL-terminated); fp: CRAWLLOG_FP=
 * entry or NULL.  Its stderr is appended to <tmp>/worker.log. */
static pid_t start_worker(void **state, const char *fp, ...)
{
    static char self[4096];
    char dir[4200], err[4200];
    const char *argv[32];
    size_t n = 0;
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(len > 0);
    self[len] = '\0';
    argv[n++] = self;
    argv[n++] = "crawl-eos";
    argv[n++] = "-d";
    argv[n++] = data_path(state, dir, sizeof(dir));
    argv[n++] = "--politeness-ms";
    argv[n++] = "0";
    argv[n++] = "--timeout-ms";
    argv[n++] = "2000";
    va_list ap;
    va_start(ap, fp);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 30;) {
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    cl_test_path(err, sizeof(err), CL_TEST_DIR(state), "worker.log");
    return spawn(argv, -1, err, fp);
}

/* Wait for pid (at most timeout_ms; then the test fails); its status. */
static int reap(pid_t pid, int64_t timeout_ms)
{
    int st = 0;
    int64_t deadline = cl_test_mono_ms() + timeout_ms;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (cl_test_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("worker %ld did not finish in %lld ms", (long)pid,
                     (long long)timeout_ms);
        }
        cl_test_sleep_ms(10);
    }
    return st;
}

/* Records of crawl.results at an isolation level (every partition). */
static long results_count(crawllog_t *log, int level)
{
    int32_t parts = 0;
    long n = 0;
    if (crawllog_topic_describe(log, "crawl.results", &parts, NULL) != 0) {
        return 0;
    }
    for (int32_t p = 0; p < parts; p++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m = NULL;
        assert_crawllog_ok(crawllog_reader_new(&rd, log, "crawl.results", p));
        assert_crawllog_ok(crawllog_reader_set_isolation(rd, level));
        while (crawllog_reader_next(rd, &m) == CRAWLLOG_OK && m != NULL) {
            n++;
        }
        crawllog_reader_destroy(rd);
    }
    return n;
}

/* The checks, on a quiet directory: read_committed, crawl.results holds
 * exactly one result for each of the n jobs; the group's committed
 * offsets sum to n.  Returns the read_uncommitted record count. */
static long check_exactly_once(void **state, int n)
{
    char dir[4200];
    int seen[MAX_JOBS] = {0};
    int32_t parts = 0;
    long total = 0;
    crawllog_t *log = cl_test_open(data_path(state, dir, sizeof(dir)), NULL);
    assert_crawllog_ok(
        crawllog_topic_describe(log, "crawl.results", &parts, NULL));
    for (int32_t p = 0; p < parts; p++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m = NULL;
        assert_crawllog_ok(crawllog_reader_new(&rd, log, "crawl.results", p));
        assert_crawllog_ok(
            crawllog_reader_set_isolation(rd, CRAWLLOG_READ_COMMITTED));
        while (crawllog_reader_next(rd, &m) == CRAWLLOG_OK && m != NULL) {
            char id[32], result[32];
            size_t vlen = 0;
            const char *v = crawllog_msg_value(m, &vlen);
            assert_int_equal(cx_json_get(v, vlen, "job_id", id, sizeof(id)), 1);
            assert_int_equal(
                cx_json_get(v, vlen, "result", result, sizeof(result)), 1);
            assert_string_equal(result, "crawled");
            int j = atoi(id + 1);
            assert_true(id[0] == 'j' && j >= 0 && j < n);
            seen[j]++;
            total++;
        }
        crawllog_reader_destroy(rd);
    }
    for (int j = 0; j < n; j++) {
        if (seen[j] != 1) {
            fail_msg("job j%d has %d results read_committed", j, seen[j]);
        }
    }
    assert_int_equal(total, n);
    crawllog_group_desc_t *d = NULL;
    int64_t committed = 0;
    assert_crawllog_ok(crawllog_group_describe(log, GROUP, &d));
    for (size_t i = 0; i < d->partition_count; i++) {
        committed +=
            d->partitions[i].committed > 0 ? d->partitions[i].committed : 0;
    }
    crawllog_group_desc_free(d);
    assert_int_equal(committed, n);
    long uncommitted = results_count(log, CRAWLLOG_READ_UNCOMMITTED);
    cl_test_close_verify(log, dir);
    return uncommitted;
}

/* Run a worker to the end (idle 0.3 s): exit 0. */
static void finish(void **state)
{
    pid_t w = worker_pids[0] =
        start_worker(state, NULL, "--batch", "3", "--exit-when-idle", "0.3",
                     "--quiet", NULL);
    int st = reap(w, 30000);
    worker_pids[0] = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* kill -9 twice while a transaction is open with results written. */
static void test_kill_mid_transaction(void **state)
{
    enum { JOBS = 16 };
    char dir[4200];
    setup_world(state, "150", JOBS, 1); /* every page takes 150 ms */
    crawllog_t *log = cl_test_open(data_path(state, dir, sizeof(dir)), NULL);
    for (int k = 0; k < 2; k++) {
        /* Aborted results stay in the log: count only new ones. */
        long com0 = results_count(log, CRAWLLOG_READ_COMMITTED);
        long open0 = results_count(log, CRAWLLOG_READ_UNCOMMITTED) - com0;
        pid_t w = worker_pids[0] =
            start_worker(state, NULL, "--batch", "4", NULL);
        /* Wait until this worker committed a transaction and wrote
         * results of the next one. */
        int64_t deadline = cl_test_mono_ms() + 20000;
        long unc = 0, com = 0;
        while (cl_test_mono_ms() < deadline) {
            com = results_count(log, CRAWLLOG_READ_COMMITTED);
            unc = results_count(log, CRAWLLOG_READ_UNCOMMITTED);
            if (com > com0 && unc - com > open0) {
                break;
            }
            cl_test_sleep_ms(5);
        }
        assert_true(com > com0 && unc - com > open0);
        assert_true(com < JOBS);
        assert_int_equal(kill(w, SIGKILL), 0);
        cl_test_assert_killed_by(reap(w, 5000), SIGKILL);
        worker_pids[0] = 0;
    }
    assert_crawllog_ok(crawllog_close(log));
    finish(state);
    /* The aborted results stay in the log, invisible. */
    assert_true(check_exactly_once(state, JOBS) > JOBS);
}

/* Sum of the hits of the sites starting with prefix in a
 * CRAWLLOG_FP_STATS file. */
static long fp_hits(const char *path, const char *prefix)
{
    size_t len = 0;
    char *text = cl_test_read_file(path, &len);
    long sum = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char site[256];
        long hits = 0;
        if (sscanf(line, "%255s %ld", site, &hits) == 2 &&
            strncmp(site, prefix, strlen(prefix)) == 0) {
            sum += hits;
        }
    }
    free(text);
    return sum;
}

/* CRASH at the K-th transaction site hit, K spread over one run's hits. */
static void test_crash_sweep(void **state)
{
    /* Sanitizer builds (3-4 times slower) take fewer crash points. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    enum { JOBS = 6, POINTS = 3 };
#else
    enum { JOBS = 6, POINTS = 6 };
#endif
    char stats[4200], fpenv[160], dir[4200], sub[4200];
    cl_test_path(stats, sizeof(stats), CL_TEST_DIR(state), "fp-stats");
    setup_world(state, "100", JOBS, 0);
    /* Keep the fresh world to start every point from it. */
    cl_test_path(sub, sizeof(sub), CL_TEST_DIR(state), "world");
    cl_test_copy_tree(data_path(state, dir, sizeof(dir)), sub);

    /* One clean run counts the hits of the swept sites. */
    setenv("CRAWLLOG_FP_STATS", stats, 1);
    finish(state);
    unsetenv("CRAWLLOG_FP_STATS");
    /* CRAWL_EOS_SWEEP_SITES=seg (or offsets, group, ...): sweep the sites
     * of that family instead of txn. */
    const char *fam = getenv("CRAWL_EOS_SWEEP_SITES");
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s.",
             fam != NULL && *fam != '\0' ? fam : "txn");
    long total = fp_hits(stats, prefix);
    assert_true(total >= (fam != NULL ? 2 : 10));
    check_exactly_once(state, JOBS);

    /* CRAWL_EOS_SWEEP=all: every hit (a minute or two), not POINTS. */
    const char *all = getenv("CRAWL_EOS_SWEEP");
    long points = all != NULL && strcmp(all, "all") == 0 ? total : POINTS;
    int crashed = 0;
    for (long i = 0; i < points; i++) {
        long k = 1 + i * (total - 1) / (points - 1);
        cl_test_rmrf(dir);
        cl_test_copy_tree(sub, dir);
        snprintf(fpenv, sizeof(fpenv), "CRAWLLOG_FP=%s*=CRASH@%ld", prefix, k);
        pid_t w = worker_pids[0] =
            start_worker(state, fpenv, "--batch", "3", "--exit-when-idle",
                         "0.3", "--quiet", NULL);
        int st = reap(w, 30000);
        worker_pids[0] = 0;
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
            crashed++;
        } else {
            /* Fewer hits this time (timing): it finished. */
            assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        finish(state);
        check_exactly_once(state, JOBS);
    }
    print_message("crash sweep: %d of %ld points crashed (%ld %s* site hits "
                  "in a clean run)\n",
                  crashed, points, total, prefix);
    assert_true(crashed >= points - 2 - points / 10);
}

/* --abort-every: each aborted transaction's jobs are redone by the same
 * worker; their aborted results stay in the log, never visible. */
static void test_aborts_redone(void **state)
{
    enum { JOBS = 12 };
    char err[4200];
    setup_world(state, "100", JOBS, 0);
    pid_t w = worker_pids[0] =
        start_worker(state, NULL, "--batch", "2", "--abort-every", "2",
                     "--exit-when-idle", "0.3", NULL);
    int st = reap(w, 30000);
    worker_pids[0] = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    size_t len = 0;
    char *text = cl_test_read_file(
        cl_test_path(err, sizeof(err), CL_TEST_DIR(state), "worker.log"), &len);
    assert_non_null(strstr(text, "event=aborting step=demo"));
    free(text);
    assert_true(check_exactly_once(state, JOBS) > JOBS);
}

/* A second process under the same --worker name fences the first (exit 3,
 * "event=fenced") and finishes the jobs. */
static void test_fencing(void **state)
{
    enum { JOBS = 16 };
    char dir[4200], err[4200];
    setup_world(state, "100", JOBS, 1);
    pid_t a = worker_pids[0] = start_worker(state, NULL, "--batch", "2", NULL);
    crawllog_t *log = cl_test_open(data_path(state, dir, sizeof(dir)), NULL);
    int64_t deadline = cl_test_mono_ms() + 20000;
    while (results_count(log, CRAWLLOG_READ_COMMITTED) < 2 &&
           cl_test_mono_ms() < deadline) {
        cl_test_sleep_ms(10);
    }
    assert_true(results_count(log, CRAWLLOG_READ_COMMITTED) >= 2);
    assert_crawllog_ok(crawllog_close(log));
    /* The same worker name again: the older process is a zombie now. */
    pid_t b = worker_pids[1] = start_worker(state, NULL, "--batch", "2",
                                            "--exit-when-idle", "0.3", NULL);
    int st = reap(a, 20000);
    worker_pids[0] = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    st = reap(b, 30000);
    worker_pids[1] = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    size_t len = 0;
    char *text = cl_test_read_file(
        cl_test_path(err, sizeof(err), CL_TEST_DIR(state), "worker.log"), &len);
    assert_non_null(strstr(text, "event=fenced"));
    free(text);
    check_exactly_once(state, JOBS);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "crawl-eos") == 0) {
        return crawl_eos_main(argc - 1, argv + 1);
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_mid_transaction,
                                        cl_test_fast_tmpdir_setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_sweep,
                                        cl_test_fast_tmpdir_setup, teardown),
        cmocka_unit_test_setup_teardown(test_aborts_redone,
                                        cl_test_fast_tmpdir_setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing, cl_test_fast_tmpdir_setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("crawl_eos", tests, NULL, NULL);
}
