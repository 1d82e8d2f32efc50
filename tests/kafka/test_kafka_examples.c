/*
 * test_kafka_examples.c - the example programs, unchanged, on the Kafka
 * backend: the kafka-built binaries (CRAWLLOG_KAFKA_EXAMPLES, default
 * build/kafka/examples) run as separate processes against a librdkafka
 * mock cluster that lives in this test process (they reach it through
 * its bootstrap list, "kafka://127.0.0.1:P1,..."; that mock cannot
 * CreateTopics, so the topics are created here first), and crawl-demo
 * against its own in-process cluster ("--log kafka://mock": it hands the
 * cluster's brokers to the producer and crawler processes it starts).
 *
 *  - log_basics: append, read back, the log end;
 *  - producer then consumer_group: every record the producer delivered is
 *    printed by the group member, which leaves cleanly on SIGINT;
 *  - idempotent_producer: refused with CRAWLLOG_ENOTSUP (application-given
 *    sequences are a file-backend feature, docs/SCALING.md), saying why;
 *  - crawl-demo: the whole crawl pipeline (fixture site, producer, two
 *    crawler processes, one SIGKILLed and replaced, a proxy stall) ends
 *    with every job reported or dead-lettered.
 *
 * Compiled with -DCL_TEST_KAFKA by `make test-kafka` only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "helpers.h"

static rd_kafka_t *mock_rk;
static char loc[1024]; /* kafka://<the mock's brokers> */

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The absolute path of example name. */
static void example(char *out, size_t size, const char *name)
{
    const char *dir = getenv("CRAWLLOG_KAFKA_EXAMPLES");
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    dir = dir != NULL && dir[0] ? dir : "build/kafka/examples";
    snprintf(out, size, "%s%s%s/%s", dir[0] == '/' ? "" : cwd,
             dir[0] == '/' ? "" : "/", dir, name);
    if (access(out, X_OK) != 0) {
        fail_msg("%s: not built (make kafka)", out);
    }
}

/* Start argv in directory cwd with stdout and stderr to file out. */
static pid_t start(const char *cwd, const char *out, char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || chdir(cwd) != 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(126);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Its exit status, or fail after ms (the process is killed). */
static int wait_exit(pid_t pid, int64_t ms, const char *what)
{
    int64_t end = mono_ms() + ms;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (mono_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fail_msg("%s: still running after %lld ms", what, (long long)ms);
        }
        nap_ms(20);
    }
}

/* The whole file (malloc'd, NUL-terminated; "" if missing). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while (f != NULL) {
        if (len + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    if (f != NULL) {
        fclose(f);
    }
    buf[len] = '\0';
    return buf;
}

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

static void dump_on_failure(const char *path)
{
    char *t = slurp(path);
    print_message("---- %s ----\n%s\n----\n", path, t);
    free(t);
}

static int group_setup(void **state)
{
    char errstr[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "test.mock.num.brokers", "3", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(c, "log_level", "0", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(c);
        return -1;
    }
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
    if (mock_rk == NULL) {
        return -1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock_rk);
    if (mc == NULL ||
        rd_kafka_mock_topic_create(mc, "crawl", 4, 1) != 0 ||
        rd_kafka_mock_topic_create(mc, "urls", 2, 1) != 0 ||
        rd_kafka_mock_topic_create(mc, "jobs", 1, 1) != 0) {
        return -1;
    }
    snprintf(loc, sizeof(loc), "kafka://%s",
             rd_kafka_mock_cluster_bootstraps(mc));
    return cl_test_tmpdir_setup(state);
}

static int group_teardown(void **state)
{
    rd_kafka_destroy(mock_rk);
    return cl_test_tmpdir_teardown(state);
}

static void test_log_basics(void **state)
{
    char prog[PATH_MAX + 64], out[PATH_MAX + 64];
    example(prog, sizeof(prog), "log_basics");
    snprintf(out, sizeof(out), "%s/log_basics.out", CL_TEST_DIR(state));
    char *argv[] = {prog, loc, NULL};
    int st = wait_exit(start(CL_TEST_DIR(state), out, argv), 60000,
                       "log_basics");
    char *t = slurp(out);
    if (st != 0 || strstr(t, "log end offset 3 (appended at 0)") == NULL) {
        dump_on_failure(out);
    }
    assert_int_equal(st, 0);
    assert_non_null(strstr(t, "urls/0 @2: https://example.org/2"));
    assert_non_null(strstr(t, "log end offset 3 (appended at 0)"));
    free(t);
}

static void test_producer_then_group_member(void **state)
{
    char prog[PATH_MAX + 64], out[PATH_MAX + 64], cout[PATH_MAX + 64];
    example(prog, sizeof(prog), "producer");
    snprintf(out, sizeof(out), "%s/producer.out", CL_TEST_DIR(state));
    char *pargv[] = {prog, loc, "crawl", NULL};
    int st = wait_exit(start(CL_TEST_DIR(state), out, pargv), 60000,
                       "producer");
    char *t = slurp(out);
    if (st != 0) {
        dump_on_failure(out);
    }
    assert_int_equal(st, 0);
    assert_non_null(strstr(t, "done: 10 delivered"));
    free(t);

    /* The member prints one "crawl/P @O key=..." line per message; stop it
     * (SIGINT) once all 10 are there: it must commit, revoke and leave. */
    char cprog[PATH_MAX + 64];
    example(cprog, sizeof(cprog), "consumer_group");
    snprintf(cout, sizeof(cout), "%s/member.out", CL_TEST_DIR(state));
    char *cargv[] = {cprog, loc, "crawl", "crawlers", NULL};
    pid_t pid = start(CL_TEST_DIR(state), cout, cargv);
    int64_t end = mono_ms() + 60000;
    size_t seen = 0;
    while (mono_ms() < end) {
        t = slurp(cout);
        seen = count_of(t, " key=");
        free(t);
        if (seen >= 10) {
            break;
        }
        nap_ms(100);
    }
    kill(pid, SIGINT);
    st = wait_exit(pid, 30000, "consumer_group");
    t = slurp(cout);
    if (st != 0 || seen != 10) {
        dump_on_failure(cout);
    }
    assert_int_equal(st, 0);
    assert_int_equal(count_of(t, " key="), 10);
    assert_non_null(strstr(t, "assigned [crawl/0"));
    assert_non_null(strstr(t, "left the group"));
    free(t);
}

static void test_idempotent_producer_not_supported(void **state)
{
    char prog[PATH_MAX + 64], out[PATH_MAX + 64], in[PATH_MAX + 64];
    example(prog, sizeof(prog), "idempotent_producer");
    snprintf(out, sizeof(out), "%s/idem.out", CL_TEST_DIR(state));
    snprintf(in, sizeof(in), "%s/jobs.txt", CL_TEST_DIR(state));
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs("http://a/1\nhttp://a/2\n", f);
    assert_int_equal(fclose(f), 0);
    char *argv[] = {prog, loc, in, NULL};
    int st = wait_exit(start(CL_TEST_DIR(state), out, argv), 60000,
                       "idempotent_producer");
    char *t = slurp(out);
    if (st == 0 || strstr(t, "CRAWLLOG_ENOTSUP") == NULL) {
        dump_on_failure(out);
    }
    assert_int_not_equal(st, 0);
    assert_non_null(strstr(t, "CRAWLLOG_ENOTSUP"));
    assert_non_null(strstr(t, "not supported by the Kafka backend"));
    free(t);
}

static void test_crawl_demo_on_mock_cluster(void **state)
{
    char prog[PATH_MAX + 64], out[PATH_MAX + 64];
    example(prog, sizeof(prog), "crawl-demo");
    snprintf(out, sizeof(out), "%s/demo.out", CL_TEST_DIR(state));
    char *argv[] = {prog, "--log", "kafka://mock", "--jobs", "120",
                    "--consumers", "2", NULL};
    int st = wait_exit(start(CL_TEST_DIR(state), out, argv), 150000,
                       "crawl-demo");
    char *t = slurp(out);
    if (st != 0) {
        dump_on_failure(out);
    }
    assert_int_equal(st, 0);
    assert_non_null(strstr(t, "every job reported or dead-lettered: yes"));
    assert_non_null(strstr(t, "SIGKILLed crawler 0"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_basics),
        cmocka_unit_test(test_producer_then_group_member),
        cmocka_unit_test(test_idempotent_producer_not_supported),
        cmocka_unit_test(test_crawl_demo_on_mock_cluster),
    };
    return cmocka_run_group_tests_name("kafka_examples", tests, group_setup,
                                       group_teardown);
}
