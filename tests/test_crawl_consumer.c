/*
 * test_crawl_consumer.c - examples/crawl-consumer keeps its promise of
 * at-least-once with the report: a job's offset is committed only after a
 * 2xx answer to its report.  With the fixture's report sink failing every
 * report, the consumer crawls but commits nothing (and keeps its jobs);
 * once the sink answers again, every job is reported and committed.
 * SIGTERM then ends the member cleanly (exit 0, the group is left).
 * And the circuit breaker around the renew-identity hook: while the hook
 * fails the member pauses (in the group, committing nothing), then
 * resumes by itself.
 *
 * Runs build/examples/crawl-fixture and build/examples/crawl-consumer
 * (make examples builds them; make test does so first).
 */
#include "cli_harness.h"

#include <sys/stat.h>

#include "http.h"
#include "seo.h"

#define JOBS 20

/* The children, killed by the teardown if a check fails first. */
static pid_t kids[2];

static int teardown(void **state)
{
    for (int i = 0; i < 2; i++) {
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], NULL, 0);
            kids[i] = 0;
        }
    }
    return cl_test_tmpdir_teardown(state);
}

static pid_t spawn_out(const char *const *argv, int out_fd, const char *err)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    }
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT, 0644);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                         environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fail_msg("%s: %s (run make examples)", argv[0], strerror(rc));
    }
    return pid;
}

static char *call(int port, const char *path, const char *post)
{
    char url[128];
    struct cx_http_resp r;
    struct cx_http_opts o;
    memset(&o, 0, sizeof(o));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    int rc = post ? cx_http_post(url, "application/json", post, strlen(post),
                                 &o, &r)
                  : cx_http_get(url, &o, &r);
    assert_int_equal(rc, CX_OK);
    assert_int_equal(r.status, 200);
    return r.body;
}

static long long stat_of(int port, const char *key)
{
    char v[32];
    char *s = call(port, "/stats", NULL);
    int found = cx_json_get(s, strlen(s), key, v, sizeof(v));
    free(s);
    return found == 1 ? atoll(v) : -1;
}

/* Jobs committed by the group "crawlers" (sum of committed offsets). */
static int64_t committed(crawllog_t *log)
{
    crawllog_group_desc_t *d = NULL;
    int64_t n = 0;
    if (crawllog_group_describe(log, "crawlers", &d) != CRAWLLOG_OK) {
        return 0;
    }
    for (size_t i = 0; i < d->partition_count; i++) {
        n += d->partitions[i].committed > 0 ? d->partitions[i].committed : 0;
    }
    crawllog_group_desc_free(d);
    return n;
}

/* Start the fixture (report_fail_pct) and fill crawl.jobs with JOBS pages
 * of its two hosts; the fixture's HTTP port. */
static int setup_world(void **state, const char *fail_pct, crawllog_t **logp)
{
    char err[4300], line[128], reports[4300];
    int pfd[2], http = 0, socks = 0;
    assert_int_equal(pipe(pfd), 0);
    cl_test_path(err, sizeof(err), CL_TEST_DIR(state), "fixture.log");
    cl_test_path(reports, sizeof(reports), CL_TEST_DIR(state),
                 "reports.jsonl");
    const char *fargv[] = {"build/examples/crawl-fixture", "--hosts", "2",
                           "--pages", "50", "--report-fail-pct", fail_pct,
                           "--reports", reports, NULL};
    kids[0] = spawn_out(fargv, pfd[1], err);
    close(pfd[1]);
    size_t n = 0;
    while (n < sizeof(line) - 1 && read(pfd[0], line + n, 1) == 1 &&
           line[n] != '\n') {
        n++;
    }
    line[n] = '\0';
    close(pfd[0]);
    assert_int_equal(sscanf(line, "fixture http=%d socks=%d", &http, &socks),
                     2);
    /* JOBS pages on two hosts, keyed by host like crawl-producer does. */
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    cl_test_create_topic(log, "crawl.jobs", 2, NULL);
    crawllog_producer_t *prod = NULL;
    crawllog_conf_t *conf = cl_test_conf("acks", "all", NULL);
    char errstr[256];
    assert_crawllog_ok(
        crawllog_producer_new(log, conf, &prod, errstr, sizeof(errstr)));
    crawllog_conf_destroy(conf);
    for (int i = 0; i < JOBS; i++) {
        char host[64], val[256];
        snprintf(host, sizeof(host), "127.0.0.%d:%d", 1 + i % 2, http);
        int len = snprintf(val, sizeof(val),
                           "{\"job_id\":\"j%d\",\"url\":\"http://%s/p/%d\","
                           "\"type\":\"seo\"}",
                           i, host, i);
        assert_crawllog_ok(crawllog_producer_send(
            prod, "crawl.jobs", CRAWLLOG_PARTITION_ANY, host, strlen(host),
            val, (size_t)len, NULL, 0, NULL));
    }
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    *logp = log;
    return http;
}

/* SIGTERM pid: it must exit 0 within 5 s. */
static void term_ok(pid_t pid)
{
    int st = 0;
    assert_int_equal(kill(pid, SIGTERM), 0);
    for (int i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++) {
        cl_test_sleep_ms(25);
    }
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_commit_only_after_report(void **state)
{
    char err[4300];
    crawllog_t *log = NULL;
    int http = setup_world(state, "100", &log);

    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/report", http);
    cl_test_path(err, sizeof(err), CL_TEST_DIR(state), "consumer.log");
    const char *cargv[] = {"build/examples/crawl-consumer", "-d",
                           data_dir(state), "--workers", "2",
                           "--report-url", url, "--timeout-ms", "400",
                           "--politeness-ms", "0", NULL};
    pid_t cons = kids[1] = spawn_out(cargv, -1, err);

    /* Every report refused: crawled, never committed.  A job's report is
     * tried 4 times (backoff 0.1, 0.2, 0.4 s) before it is put back: wait
     * until both workers gave up on at least one job. */
    for (int i = 0; i < 200 && stat_of(http, "failed") < 8; i++) {
        cl_test_sleep_ms(50);
    }
    assert_true(stat_of(http, "failed") >= 8);
    assert_int_equal(stat_of(http, "reports"), 0);
    assert_int_equal(committed(log), 0);

    /* The sink answers again: everything reported once and committed. */
    free(call(http, "/control", "{\"report_fail_pct\":0}"));
    int64_t deadline = cl_test_mono_ms() + 20000;
    while (committed(log) < JOBS && cl_test_mono_ms() < deadline) {
        cl_test_sleep_ms(50);
    }
    assert_int_equal(committed(log), JOBS);
    assert_int_equal(stat_of(http, "unique"), JOBS);

    /* SIGTERM: finish, leave the group, exit 0. */
    term_ok(cons);
    kids[1] = 0;
    int st = 0;
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_ok(crawllog_group_describe(log, "crawlers", &d));
    assert_int_equal(d->member_count, 0);
    crawllog_group_desc_free(d);
    kill(kids[0], SIGTERM);
    assert_int_equal(waitpid(kids[0], &st, 0), kids[0]);
    kids[0] = 0;
    cl_test_close_verify(log, data_dir(state));
}

/* The renew-identity hook fails (a file says the dependency is down): the
 * breaker opens, the member pauses and commits nothing while staying in
 * the group; once the hook works again a probe closes the breaker and
 * every job is done. */
static void test_renew_hook_breaker(void **state)
{
    char err[4300], down[4300], cmd[4400], url[128];
    crawllog_t *log = NULL;
    int http = setup_world(state, "0", &log);
    cl_test_path(down, sizeof(down), CL_TEST_DIR(state), "tor-down");
    cl_test_write_file(down, "", 0);
    snprintf(cmd, sizeof(cmd), "test ! -e '%s'", down);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/report", http);
    cl_test_path(err, sizeof(err), CL_TEST_DIR(state), "consumer.log");
    const char *cargv[] = {"build/examples/crawl-consumer", "-d",
                           data_dir(state), "--workers", "1",
                           "--report-url", url, "--renew-cmd", cmd,
                           "--renew-every", "1", "--renew-timeout-ms", "500",
                           NULL};
    pid_t cons = kids[1] = spawn_out(cargv, -1, err);
    cl_test_sleep_ms(1500);
    assert_int_equal(committed(log), 0);
    assert_int_equal(stat_of(http, "reports"), 0);
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_ok(crawllog_group_describe(log, "crawlers", &d));
    assert_int_equal(d->member_count, 1); /* paused, not gone */
    crawllog_group_desc_free(d);
    size_t len = 0;
    char *logtext = cl_test_read_file(err, &len);
    assert_non_null(strstr(logtext, "event=breaker_open"));
    assert_non_null(strstr(logtext, "event=paused"));
    free(logtext);

    assert_int_equal(unlink(down), 0); /* the dependency is back */
    int64_t deadline = cl_test_mono_ms() + 20000;
    while (committed(log) < JOBS && cl_test_mono_ms() < deadline) {
        cl_test_sleep_ms(50);
    }
    assert_int_equal(committed(log), JOBS);
    logtext = cl_test_read_file(err, &len);
    assert_non_null(strstr(logtext, "event=breaker_closed"));
    assert_non_null(strstr(logtext, "event=resumed"));
    free(logtext);
    term_ok(cons);
    kids[1] = 0;
    kill(kids[0], SIGTERM);
    waitpid(kids[0], NULL, 0);
    kids[0] = 0;
    cl_test_close_verify(log, data_dir(state));
}

/* --fetcher curl runs the curl binary per URL (found in PATH): here a
 * stand-in script that answers every URL with a fixed page, so the test
 * needs no curl and checks the consumer's side of the contract (the
 * arguments, the body file, the status line it prints). */
static void test_curl_fetcher(void **state)
{
    char err[4300], bin[4300], fake[4400], url[128], path[8192];
    crawllog_t *log = NULL;
    int http = setup_world(state, "0", &log);
    cl_test_path(bin, sizeof(bin), CL_TEST_DIR(state), "bin");
    assert_int_equal(mkdir(bin, 0700), 0);
    snprintf(fake, sizeof(fake), "%s/curl", bin);
    static const char script[] =
        "#!/bin/sh\n"
        "out=; for a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; "
        "prev=$a; url=$a; done\n"
        "printf '<html><title>via curl</title><h1>x</h1></html>' > \"$out\"\n"
        "printf '200 0 %s' \"$url\"\n";
    cl_test_write_file(fake, script, sizeof(script) - 1);
    assert_int_equal(chmod(fake, 0755), 0);
    const char *old = getenv("PATH");
    snprintf(path, sizeof(path), "%s:%s", bin, old ? old : "/usr/bin:/bin");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", path, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/report", http);
    cl_test_path(err, sizeof(err), CL_TEST_DIR(state), "consumer.log");
    const char *cargv[] = {"build/examples/crawl-consumer", "-d",
                           data_dir(state), "--workers", "2", "--report-url",
                           url, "--fetcher", "curl", NULL};
    pid_t cons = kids[1] = spawn_out(cargv, -1, err);
    if (saved) {
        setenv("PATH", saved, 1);
        free(saved);
    }
    int64_t deadline = cl_test_mono_ms() + 20000;
    while (committed(log) < JOBS && cl_test_mono_ms() < deadline) {
        cl_test_sleep_ms(50);
    }
    assert_int_equal(committed(log), JOBS);
    size_t len = 0;
    char *rep = cl_test_read_file(
        cl_test_path(path, sizeof(path), CL_TEST_DIR(state), "reports.jsonl"),
        &len);
    int titles = 0;
    for (const char *q = rep; (q = strstr(q, "\"title\":\"via curl\"")); q++) {
        titles++;
    }
    assert_int_equal(titles, JOBS);
    assert_non_null(strstr(rep, "\"h1_count\":1"));
    free(rep);
    term_ok(cons);
    kids[1] = 0;
    kill(kids[0], SIGTERM);
    waitpid(kids[0], NULL, 0);
    kids[0] = 0;
    cl_test_close_verify(log, data_dir(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_only_after_report,
                                        cl_test_tmpdir_setup, teardown),
        cmocka_unit_test_setup_teardown(test_renew_hook_breaker,
                                        cl_test_tmpdir_setup, teardown),
        cmocka_unit_test_setup_teardown(test_curl_fetcher,
                                        cl_test_tmpdir_setup, teardown),
    };
    return cmocka_run_group_tests_name("crawl_consumer", tests, group_setup,
                                       NULL);
}
