/*
 * test_crawl_demo.c - the crawl pipeline of `make demo`, smaller, inside
 * the test suite: build/examples/crawl-demo with 300 jobs and 3 crawler
 * processes (one SIGKILLed and replaced, the proxy stalled for 3 s) on a
 * fresh data directory.  Asserts the demo's own invariants (exit 0 only if
 * every job was reported or dead-lettered), that its summary adds up, that
 * the data directory verifies clean, and that no process of the run is
 * left behind.
 */
#include "cli_harness.h"

#include <dirent.h>

/* Processes whose command line mentions dir (the run's children). */
static int leftovers(const char *dir)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[8192];
        if (e->d_name[0] < '1' || e->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++) {
            buf[i] = buf[i] == '\0' ? ' ' : buf[i];
        }
        buf[len] = '\0';
        n += strstr(buf, dir) != NULL;
    }
    closedir(d);
    return n;
}

static void test_crawl_demo(void **state)
{
    struct run r;
    const char *args[] = {"-d", data_dir(state), "--jobs", "300",
                          "--consumers", "3", NULL};
    /* cli_run runs $CRAWLLOG_CLI: the demo here, the tool again after. */
    setenv("CRAWLLOG_CLI", "build/examples/crawl-demo", 1);
    cli_run(&r, NULL, NULL, args);
    unsetenv("CRAWLLOG_CLI");
    if (r.status != 0) {
        cl_test_failf_at(__FILE__, __LINE__, "crawl-demo exit %d\n%s\n%s",
                         r.status, r.out, r.err);
    }
    assert_contains(r.out, "produced 300 jobs");
    assert_contains(r.out, "every job reported or dead-lettered: yes");
    assert_contains(r.out, "SIGKILLed crawler 0");
    assert_contains(r.out, "SOCKS5 proxy stalled");
    /* reported + dead-lettered = produced (a job is never both here: the
     * fixture's pages behave the same on every attempt). */
    long long rep = -1, dead = -1;
    const char *p = strstr(r.out, "  reported            ");
    const char *q = strstr(r.out, "  dead-lettered       ");
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal(sscanf(p, "  reported %lld", &rep), 1);
    assert_int_equal(sscanf(q, "  dead-lettered %lld", &dead), 1);
    assert_int_equal(rep + dead, 300);
    assert_true(dead > 0); /* the fixture serves 500s and slow pages */
    assert_contains(r.out, "CURRENT-OFFSET"); /* the groups describe table */
    run_free(&r);
    assert_int_equal(leftovers(data_dir(state)), 0);
    CLI_OUT(state, NULL, "verify: ok\n", "verify");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_crawl_demo),
    };
    return cmocka_run_group_tests_name("crawl_demo", tests, group_setup,
                                       NULL);
}
