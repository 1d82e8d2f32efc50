/*
 * test_cli.c - tests of the crawllog command-line tool.
 *
 * Runs the built binary (environment variable CRAWLLOG_CLI, default
 * "build/crawllog", relative to the repository root where
 * tests/run_tests.sh runs) with posix_spawn, feeding stdin and collecting
 * stdout and stderr through pipes, and checks outputs and exit statuses.
 * Each test gets its own temporary directory; the data directory is
 * "<tmp>/data".  Expected outputs are computed here from the inputs, never
 * taken from the tool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crawllog.h"
#include "helpers.h"

extern char **environ;

#define MAX_ARGS 32

/* The result of one run of the tool. */
struct run {
    int status; /* exit status (the test fails if it did not exit) */
    char *out;  /* NUL-terminated stdout */
    size_t out_len;
    char *err; /* NUL-terminated stderr */
};

static const char *cli_path(void)
{
    const char *p = getenv("CRAWLLOG_CLI");

    return p != NULL && p[0] != '\0' ? p : "build/crawllog";
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Append what fd has to *bufp; returns 0 at EOF, 1 if more may come. */
static int drain(int fd, char **bufp, size_t *lenp)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 1;
    }
    if (n <= 0) {
        return 0;
    }
    *bufp = realloc(*bufp, *lenp + (size_t)n + 1);
    cl_test_check(*bufp != NULL);
    memcpy(*bufp + *lenp, chunk, (size_t)n);
    *lenp += (size_t)n;
    (*bufp)[*lenp] = '\0';
    return 1;
}

/* Feed in (may be NULL) to the child's stdin and collect stdout/stderr
 * until both are closed. */
static void pump(int in_fd, const char *in, int out_fd, int err_fd,
                 struct run *r)
{
    size_t in_len = in != NULL ? strlen(in) : 0, in_off = 0, err_len = 0;
    int out_open = 1, err_open = 1;

    while (out_open || err_open) {
        struct pollfd p[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0},
                              {in_fd, POLLOUT, 0}};
        int np = in_fd >= 0 ? 3 : 2, rc = poll(p, (nfds_t)np, 60000);

        cl_test_check(rc > 0 || (rc < 0 && errno == EINTR));
        if (np == 3 && p[2].revents != 0) {
            ssize_t w = write(in_fd, in + in_off, in_len - in_off);

            in_off += w > 0 ? (size_t)w : 0;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
                in_off == in_len) {
                close(in_fd);
                in_fd = -1;
            }
        }
        if (out_open && p[0].revents != 0) {
            out_open = drain(out_fd, &r->out, &r->out_len);
        }
        if (err_open && p[1].revents != 0) {
            err_open = drain(err_fd, &r->err, &err_len);
        }
    }
    if (in_fd >= 0) {
        close(in_fd);
    }
}

static void make_pipe(int fds[2])
{
    cl_test_check(pipe(fds) == 0);
    cl_test_check(fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0);
    cl_test_check(fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0);
}

/* Run the tool with args (NULL-terminated), stdin from in (NULL: empty),
 * CRAWLLOG_DIR=envdir in its environment (NULL: unset). */
static void cli_run(struct run *r, const char *in, const char *envdir,
                    const char *const *args)
{
    const char *argv[MAX_ARGS + 2];
    char *envp[256];
    char envbuf[4200];
    int pin[2], pout[2], perr[2], n = 0, e = 0, i, status;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t def;
    pid_t pid;

    argv[n++] = cli_path();
    for (i = 0; args[i] != NULL && n < MAX_ARGS + 1; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    for (i = 0; environ[i] != NULL && e < 254; i++) {
        if (strncmp(environ[i], "CRAWLLOG_DIR=", 13) != 0) {
            envp[e++] = environ[i];
        }
    }
    if (envdir != NULL) {
        snprintf(envbuf, sizeof(envbuf), "CRAWLLOG_DIR=%s", envdir);
        envp[e++] = envbuf;
    }
    envp[e] = NULL;
    make_pipe(pin);
    make_pipe(pout);
    make_pipe(perr);
    cl_test_check(fcntl(pin[1], F_SETFL, O_NONBLOCK) == 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    posix_spawnattr_init(&attr);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    i = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (i != 0) {
        cl_test_failf_at(__FILE__, __LINE__, "posix_spawn %s: %s (run make cli)",
                         argv[0], strerror(i));
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    memset(r, 0, sizeof(*r));
    r->out = calloc(1, 1);
    r->err = calloc(1, 1);
    pump(in != NULL ? pin[1] : (close(pin[1]), -1), in, pout[0], perr[0], r);
    close(pout[0]);
    close(perr[0]);
    while (waitpid(pid, &status, 0) < 0) {
        cl_test_check(errno == EINTR);
    }
    if (!WIFEXITED(status)) {
        cl_test_failf_at(__FILE__, __LINE__, "crawllog died: status %d\n%s",
                         status, r->err);
    }
    r->status = WEXITSTATUS(status);
}

/* Run "crawllog -d <tmp>/data ARGS..." with stdin IN. */
#define CLI(state, r, in, ...)                                                 \
    cli_run((r), (in), NULL,                                                   \
            (const char *const[]){"-d", data_dir(state), __VA_ARGS__, NULL})

/* The run must have exited with code want; prints its stderr if not. */
#define assert_exit(r, want)                                                   \
    do {                                                                       \
        if ((r)->status != (want)) {                                           \
            cl_test_failf_at(__FILE__, __LINE__,                               \
                             "exit %d, expected %d; stdout:\n%s\nstderr:\n%s", \
                             (r)->status, (want), (r)->out, (r)->err);         \
        }                                                                      \
    } while (0)

#define assert_contains(hay, needle)                                           \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL) {                                 \
            cl_test_failf_at(__FILE__, __LINE__, "\"%s\" not found in:\n%s",   \
                             (needle), (hay));                                 \
        }                                                                      \
    } while (0)

static char data_path[4200];

static const char *data_dir(void **state)
{
    return cl_test_path(data_path, sizeof(data_path), CL_TEST_DIR(state),
                        "data");
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (access(cli_path(), X_OK) != 0) {
        fprintf(stderr, "test_cli: %s: %s (build it with make cli)\n",
                cli_path(), strerror(errno));
        return -1;
    }
    return 0;
}

/* Run "crawllog -d <tmp>/data ARGS..." with stdin IN; it must exit with
 * code want, print exactly out on stdout (NULL: not checked) and err_part
 * somewhere on stderr (NULL: not checked).  Failures name file:line. */
static void cli_expect_at(const char *file, int line, const char *in, int want,
                          const char *out, const char *err_part,
                          const char *const *args)
{
    struct run r;

    cli_run(&r, in, NULL, args);
    if (r.status != want) {
        cl_test_failf_at(file, line,
                         "exit %d, expected %d; stdout:\n%s\n"
                         "stderr:\n%s",
                         r.status, want, r.out, r.err);
    }
    if (out != NULL && strcmp(r.out, out) != 0) {
        cl_test_failf_at(file, line, "stdout \"%s\", expected \"%s\"", r.out,
                         out);
    }
    if (err_part != NULL && strstr(r.err, err_part) == NULL) {
        cl_test_failf_at(file, line, "\"%s\" not found in:\n%s", err_part,
                         r.err);
    }
    run_free(&r);
}

#define CLI_EXPECT(state, in, want, out, err_part, ...)                        \
    cli_expect_at(                                                             \
        __FILE__, __LINE__, (in), (want), (out), (err_part),                   \
        (const char *const[]){"-d", data_dir(state), __VA_ARGS__, NULL})

/* CLI() that must exit 0 (the output is not looked at). */
#define CLI_OK(state, in, ...) CLI_EXPECT(state, in, 0, NULL, NULL, __VA_ARGS__)

/* CLI() that must exit 0 and print exactly out on stdout. */
#define CLI_OUT(state, in, out, ...)                                           \
    CLI_EXPECT(state, in, 0, out, NULL, __VA_ARGS__)

/* CLI() that must exit 1 with err_part on stderr. */
#define CLI_FAILS(state, in, err_part, ...)                                    \
    CLI_EXPECT(state, in, 1, NULL, err_part, __VA_ARGS__)

/* Create topic with the given partition count; must succeed. */
static void create_topic(void **state, const char *topic, const char *parts)
{
    CLI_OK(state, NULL, "topic", "create", topic, parts);
}

/* ---------------------------------------------------------------------- */

static void test_cli_version(void **state)
{
    struct run r;

    CLI(state, &r, NULL, "version");
    assert_exit(&r, 0);
    assert_string_equal(r.out, CRAWLLOG_VERSION_STRING "\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    CLI(state, &r, NULL, "help");
    assert_exit(&r, 0);
    assert_contains(r.out, "usage: crawllog");
    run_free(&r);
    cli_run(&r, NULL, NULL, (const char *const[]){"-h", NULL});
    assert_exit(&r, 0);
    assert_contains(r.out, "add-partitions");
    assert_contains(r.out, "\n  groups list [--json]\n");
    assert_contains(r.out, "\n  groups describe GROUP [--members] [--json]\n");
    assert_contains(r.out, "CURRENT-OFFSET");
    run_free(&r);
    /* Neither opened nor created the data directory. */
    assert_false(cl_test_exists(data_dir(state)));
}

static void test_cli_topic_commands(void **state)
{
    struct run r;

    create_topic(state, "beta", "1");
    create_topic(state, "alpha", "2");
    CLI_OUT(state, NULL, "alpha\nbeta\n", "topic", "list");
    CLI(state, &r, NULL, "topic", "describe", "alpha");
    assert_exit(&r, 0);
    assert_contains(r.out, "partitions: 2\n");
    assert_contains(r.out, "segment.bytes=");
    assert_contains(r.out, "partition 0: start 0 end 0 records 0\n");
    assert_contains(r.out, "partition 1: start 0 end 0 records 0\n");
    assert_null(strstr(r.out, "partition 2:"));
    run_free(&r);
    CLI_OK(state, NULL, "topic", "add-partitions", "alpha", "4");
    CLI(state, &r, NULL, "topic", "describe", "alpha");
    assert_exit(&r, 0);
    assert_contains(r.out, "partitions: 4\n");
    assert_contains(r.out, "partition 3: start 0 end 0 records 0\n");
    run_free(&r);
    CLI_FAILS(state, NULL, "CRAWLLOG_EINVAL", "topic", "add-partitions",
              "alpha", "3");
    CLI_FAILS(state, NULL, "CRAWLLOG_EEXIST", "topic", "create", "alpha", "1");
    CLI_OK(state, NULL, "topic", "delete", "beta");
    CLI(state, &r, NULL, "topic", "list");
    assert_string_equal(r.out, "alpha\n");
    run_free(&r);
    CLI_FAILS(state, NULL, "CRAWLLOG_ENOTOPIC", "topic", "delete", "beta");
    CLI_FAILS(state, NULL, "CRAWLLOG_ENOTOPIC", "topic", "describe", "beta");
}

static void test_cli_topic_overrides(void **state)
{
    struct run r;

    CLI_OK(state, NULL, "topic", "create", "t", "1", "-c",
           "segment.bytes=65536", "-c", "retention.ms=12345");
    CLI(state, &r, NULL, "topic", "describe", "t");
    assert_exit(&r, 0);
    assert_contains(r.out, "segment.bytes=65536\n");
    assert_contains(r.out, "retention.ms=12345\n");
    run_free(&r);
    CLI_FAILS(state, NULL, "segment.bytes", "topic", "create", "u", "1", "-c",
              "segment.bytes=x");
    CLI(state, &r, NULL, "topic", "list");
    assert_string_equal(r.out, "t\n");
    run_free(&r);
}

/* The five input lines and what consuming them must show. */
static const char *const lines5[5] = {"k0|v0", "plain value", "k2|",
                                      "|empty key", "k4|tab\there\\x"};
static const char *const keys5[5] = {"k0", "(null)", "k2", "", "k4"};
static const char *const vals5[5] = {"v0", "plain value", "", "empty key",
                                     "tab\\x09here\\x5cx"};

static char *join_lines(const char *const *l, size_t n, char *buf, size_t sz)
{
    size_t i;

    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        cl_test_check(strlen(buf) + strlen(l[i]) + 2 < sz);
        strcat(buf, l[i]);
        strcat(buf, "\n");
    }
    return buf;
}

static void test_cli_produce_consume(void **state)
{
    struct run r;
    char in[512], want[512];
    char *line, *save = NULL;
    int64_t t0, t1;
    int i = 0;

    create_topic(state, "t", "1");
    t0 = now_ms();
    CLI(state, &r, join_lines(lines5, 5, in, sizeof(in)), "produce", "t", "0",
        "--key-sep", "|", "--batch", "2");
    t1 = now_ms();
    assert_exit(&r, 0);
    assert_contains(r.err, "produced 5 records, offsets 0..4");
    run_free(&r);
    CLI(state, &r, NULL, "consume", "t", "0");
    assert_exit(&r, 0);
    for (line = strtok_r(r.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), i++) {
        char *ts_end = NULL;
        long long ts;
        char *tab1 = strchr(line, '\t');

        assert_true(i < 5);
        assert_non_null(tab1);
        ts = strtoll(tab1 + 1, &ts_end, 10);
        assert_true(ts >= t0 - 1 && ts <= t1 + 1);
        assert_int_equal(*ts_end, '\t');
        snprintf(want, sizeof(want), "%d", i);
        assert_memory_equal(line, want, strlen(want));
        snprintf(want, sizeof(want), "\t%s\t%s", keys5[i], vals5[i]);
        assert_string_equal(ts_end, want);
    }
    assert_int_equal(i, 5);
    run_free(&r);
    /* Without --key-sep the whole line is the value and the key is null. */
    CLI_EXPECT(state, "a|b\n", 0, NULL, "produced 1 records, offsets 5..5",
               "produce", "t", "0", "--sync", "durable");
    CLI_OUT(state, NULL, "a|b\n", "consume", "t", "0", "--from", "5",
            "--format", "raw");
}

static void test_cli_consume_from_max(void **state)
{
    static const char *const vals[6] = {"r0", "r1", "r2", "r3", "r4", "r5"};
    char in[128];

    create_topic(state, "t", "1");
    CLI_OK(state, join_lines(vals, 6, in, sizeof(in)), "produce", "t", "0",
           "--sync", "none");
    CLI_OUT(state, NULL, "r2\nr3\nr4\n", "consume", "t", "0", "--from", "2",
            "--max", "3", "--format", "raw");
    CLI_OUT(state, NULL, "", "consume", "t", "0", "--max", "0");
    CLI_OUT(state, NULL, "", "consume", "t", "0", "--from", "6");
    CLI_FAILS(state, NULL, "CRAWLLOG_EOFFSET", "consume", "t", "0", "--from",
              "7");
    CLI_OUT(state, NULL, "r0\n", "consume", "t", "0", "--from-time", "0",
            "--max", "1", "--format", "raw");
    CLI_OUT(state, NULL, "", "consume", "t", "0", "--from-time",
            "4102444800000"); /* 2100-01-01: after every record */
}

static void test_cli_offsets(void **state)
{
    struct run r;

    create_topic(state, "t", "3");
    CLI_OK(state, "a\nb\n", "produce", "t", "0");
    CLI_EXPECT(state, "c\nd\ne", 0, NULL, "produced 3 records, offsets 0..2",
               "produce", "t", "2"); /* no final newline */
    CLI_OUT(state, NULL, "0 0 2\n1 0 0\n2 0 3\n", "offsets", "t");
    CLI(state, &r, NULL, "topic", "describe", "t");
    assert_contains(r.out, "partition 2: start 0 end 3 records 3\n");
    run_free(&r);
    CLI_FAILS(state, NULL, "CRAWLLOG_ENOTOPIC", "offsets", "nope");
}

static void test_cli_verify(void **state)
{
    struct cl_test_snap *before;
    char seg[4300];
    unsigned char *bytes;
    size_t len, batch, pos;
    struct run r;

    create_topic(state, "t", "1");
    CLI_OK(state, "first record\nsecond record\nthird\nfourth\nfifth\n",
           "produce", "t", "0");
    /* A second batch, so that the damage below is not a torn tail (which
     * recovery on open would truncate). */
    CLI_OK(state, "sixth\n", "produce", "t", "0");
    CLI_OUT(state, NULL, "verify: ok\n", "verify");
    snprintf(seg, sizeof(seg), "%s/topics/t/0/00000000000000000000.log",
             data_dir(state));
    bytes = cl_test_read_file(seg, &len);
    assert_true(len > 64 + 61);
    batch = 12 + ((size_t)bytes[72] << 24 | (size_t)bytes[73] << 16 |
                  (size_t)bytes[74] << 8 | bytes[75]);
    free(bytes);
    assert_true(batch > 61 && 64 + batch <= len);
    pos = 64 + 61 + (batch - 61) / 2;
    cl_test_flip_byte(seg, (off_t)pos, 0x5a);
    before = cl_test_snap_take(data_dir(state));
    CLI(state, &r, NULL, "verify");
    assert_exit(&r, 1);
    assert_contains(r.out, "00000000000000000000.log");
    assert_contains(r.out, "verify: ");
    assert_contains(r.out, " problem");
    assert_null(strstr(r.out, "verify: ok"));
    run_free(&r);
    /* verify changed nothing */
    assert_dir_unchanged(before, data_dir(state));
    CLI(state, &r, NULL, "consume", "t", "0");
    assert_exit(&r, 1);
    assert_contains(r.err, "CRAWLLOG_ECORRUPT");
    assert_contains(r.err, "00000000000000000000.log");
    run_free(&r);
    /* Still there: nothing was repaired. */
    CLI_EXPECT(state, NULL, 1, NULL, NULL, "verify");
}

static void test_cli_errors(void **state)
{
    struct run r;
    char missing[4300];

    CLI_FAILS(state, NULL, "crawllog: topic create bad/name: CRAWLLOG_EINVAL",
              "topic", "create", "bad/name", "1");
    CLI_FAILS(state, "x\n", "CRAWLLOG_ENOTOPIC", "produce", "nope", "0");
    snprintf(missing, sizeof(missing), "%s/missing", CL_TEST_DIR(state));
    cli_run(&r, NULL, NULL,
            (const char *const[]){"-d", missing, "-X", "log.dir.create=false",
                                  "topic", "list", NULL});
    assert_exit(&r, 1);
    assert_contains(r.err, "CRAWLLOG_ENOENT");
    assert_false(cl_test_exists(missing));
    run_free(&r);
    cli_run(&r, NULL, NULL, (const char *const[]){"-d", missing, "verify", NULL});
    assert_exit(&r, 1);
    assert_contains(r.err, "CRAWLLOG_ENOENT");
    assert_false(cl_test_exists(missing));
    run_free(&r);
}

static void test_cli_usage_errors(void **state)
{
    static const char *const bad[][8] = {
        {"frobnicate", NULL},
        {"topic", "create", "t", "abc", NULL},
        {"topic", "create", "t", "12x", NULL},
        {"topic", "create", "t", "", NULL},
        {"topic", "create", "t", "99999999999", NULL},
        {"topic", "add-partitions", "t", "2.5", NULL},
        {"consume", "t", "zero", NULL},
        {"consume", "t", "0", "--max", "-1", NULL},
        {"consume", "t", "0", "--from", "1", "--from-time", "2", NULL},
        {"consume", "t", "0", "--from-time", "2", "--from", "1", NULL},
        {"consume", "t", "0", "--format", "json", NULL},
        {"produce", "t", "0", "--batch", "0", NULL},
        {"produce", "t", "0", "--sync", "maybe", NULL},
        {"produce", "t", "0", "--key-sep", "ab", NULL},
        {"offsets", NULL},
        {"topic", NULL},
        {"-X", "segment.bytes", "conf", NULL},
        {"-q", "version", NULL},
        {"groups", NULL},
        {"groups", "frob", NULL},
        {"groups", "describe", NULL},
        {"groups", "list", "g", NULL},
        {"groups", "list", "--members", NULL},
        {"groups", "describe", "g", "--verbose", NULL},
    };
    struct run r;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[10] = {"-d", data_dir(state)};
        size_t j;

        for (j = 0; bad[i][j] != NULL; j++) {
            args[2 + j] = bad[i][j];
        }
        args[2 + j] = NULL;
        cli_run(&r, NULL, NULL, args);
        if (r.status != 2) {
            cl_test_failf_at(__FILE__, __LINE__, "case %zu (%s %s): exit %d",
                             i, bad[i][0], bad[i][1] ? bad[i][1] : "",
                             r.status);
        }
        assert_contains(r.err, "usage: crawllog");
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    CLI(state, &r, NULL, NULL); /* no command at all */
    assert_exit(&r, 2);
    assert_contains(r.err, "no command");
    run_free(&r);
}

static void test_cli_conf(void **state)
{
    struct run r;

    CLI(state, &r, NULL, "conf");
    assert_exit(&r, 0);
    assert_true(strncmp(r.out, "log.dir.create=", 15) == 0);
    assert_contains(r.out, "\nsegment.bytes=");
    run_free(&r);
    CLI(state, &r, NULL, "-X", "segment.bytes=65536", "-X",
        "log.dir.create=false", "conf");
    assert_exit(&r, 0);
    assert_contains(r.out, "\nsegment.bytes=65536\n");
    assert_contains(r.out, "log.dir.create=false\n");
    run_free(&r);
    CLI(state, &r, NULL, "-X", "no.such.prop=1", "conf");
    assert_exit(&r, 1);
    assert_contains(r.err, "no.such.prop");
    assert_contains(r.err, "CRAWLLOG_EINVAL");
    assert_string_equal(r.out, "");
    run_free(&r);
    CLI_FAILS(state, NULL, "segment.bytes", "-X", "segment.bytes=lots", "topic",
              "list");
    assert_false(cl_test_exists(data_dir(state)));
}

static void test_cli_env_dir(void **state)
{
    struct run r;
    char dir[4300];

    snprintf(dir, sizeof(dir), "%s/envdata", CL_TEST_DIR(state));
    cli_run(&r, NULL, dir,
            (const char *const[]){"topic", "create", "e", "2", NULL});
    assert_exit(&r, 0);
    run_free(&r);
    snprintf(dir, sizeof(dir), "%s/envdata/topics/e", CL_TEST_DIR(state));
    assert_true(cl_test_exists(dir));
    /* -d wins over the environment. */
    snprintf(dir, sizeof(dir), "%s/envdata", CL_TEST_DIR(state));
    create_topic(state, "d", "1");
    cli_run(&r, NULL, dir, (const char *const[]){"topic", "list", NULL});
    assert_string_equal(r.out, "e\n");
    run_free(&r);
}

static void test_cli_maintain(void **state)
{
    char in[16384], line[128];
    struct run r;
    long long start = -1, end = -1, deleted = -1;
    int i;

    CLI_OK(state, NULL, "topic", "create", "t", "1", "-c", "segment.bytes=4096",
           "-c", "retention.ms=1");
    CLI_OUT(state, NULL, "maintain: deleted 0 segments\n", "maintain");
    in[0] = '\0';
    for (i = 0; i < 120; i++) {
        snprintf(line, sizeof(line), "record %03d %s\n", i,
                 "padding padding padding padding padding padding padding");
        strcat(in, line);
    }
    CLI_EXPECT(state, in, 0, NULL, "produced 120 records, offsets 0..119",
               "produce", "t", "0", "--batch", "10");
    nanosleep(&(struct timespec){0, 20000000}, NULL); /* older than 1 ms */
    CLI(state, &r, NULL, "maintain");
    assert_exit(&r, 0);
    assert_int_equal(sscanf(r.out, "maintain: deleted %lld segments",
                            &deleted), 1);
    assert_true(deleted >= 1);
    run_free(&r);
    CLI(state, &r, NULL, "offsets", "t");
    assert_exit(&r, 0);
    assert_int_equal(sscanf(r.out, "0 %lld %lld", &start, &end), 2);
    assert_int_equal(end, 120);
    assert_true(start > 0 && start < 120);
    run_free(&r);
    CLI(state, &r, NULL, "consume", "t", "0", "--max", "1", "--format",
        "raw");
    assert_exit(&r, 0);
    snprintf(line, sizeof(line), "record %03lld ", start);
    assert_memory_equal(r.out, line, strlen(line));
    run_free(&r);
    CLI_OK(state, NULL, "verify");
}

/* ---------------------------------------------------------------------- */
/* groups                                                                  */
/* ---------------------------------------------------------------------- */

/* A minimal RFC 8259 checker: the end of the JSON value at p, or NULL if
 * there is none. */
static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++;
    }
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"') {
        return NULL;
    }
    for (; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) {
            return NULL; /* also the end of the text */
        }
        if (*p != '\\') {
            continue;
        }
        if (*++p == 'u') {
            for (int i = 1; i <= 4; i++) {
                if (!isxdigit((unsigned char)p[i])) {
                    return NULL;
                }
            }
            p += 4;
        } else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL) {
            return NULL;
        }
    }
    return p + 1;
}

static const char *json_digits(const char *p, int need)
{
    const char *s = p;

    while (isdigit((unsigned char)*p)) {
        p++;
    }
    return p == s && need ? NULL : p;
}

static const char *json_number(const char *p)
{
    p += *p == '-';
    if (*p == '0') {
        p++;
    } else if ((p = json_digits(p, 1)) == NULL) {
        return NULL;
    }
    if (*p == '.' && (p = json_digits(p + 1, 1)) == NULL) {
        return NULL;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '+' || *p == '-';
        p = json_digits(p, 1);
    }
    return p;
}

static const char *json_value(const char *p)
{
    static const char *const words[] = {"true", "false", "null"};
    char close;

    p = json_ws(p);
    if (*p == '"') {
        return json_string(p);
    }
    for (size_t i = 0; i < 3; i++) {
        if (strncmp(p, words[i], strlen(words[i])) == 0) {
            return p + strlen(words[i]);
        }
    }
    if (*p != '{' && *p != '[') {
        return json_number(p);
    }
    close = *p == '{' ? '}' : ']';
    p = json_ws(p + 1);
    if (*p == close) {
        return p + 1;
    }
    for (;;) {
        if (close == '}') {
            if ((p = json_string(json_ws(p))) == NULL) {
                return NULL;
            }
            p = json_ws(p);
            if (*p++ != ':') {
                return NULL;
            }
        }
        if ((p = json_value(p)) == NULL) {
            return NULL;
        }
        p = json_ws(p);
        if (*p == close) {
            return p + 1;
        }
        if (*p++ != ',') {
            return NULL;
        }
    }
}

static int json_valid(const char *text)
{
    const char *end = json_value(text);

    return end != NULL && *json_ws(end) == '\0';
}

/* The checker itself: it must be able to say no. */
static void test_cli_json_checker(void **state)
{
    static const char *const good[] = {
        "[]", "{}", " {\"a\":[1,-2.5e+3,\"x\\\"\\u00e9\",true,null]}\n",
        "[\"a\",\"b\"]", "0", "\"a\\\\q\\/\""};
    static const char *const bad[] = {
        "", "[", "[1,]", "{\"a\"}", "{\"a\":}", "{a:1}", "\"\\x41\"",
        "\"\\u12\"", "[01]", "[1.]", "[\"tab\there\"]", "{} {}", "nul",
        "{\"a\":1,}", "[-]"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!json_valid(good[i])) {
            cl_test_failf_at(__FILE__, __LINE__, "rejected: %s", good[i]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (json_valid(bad[i])) {
            cl_test_failf_at(__FILE__, __LINE__, "accepted: %s", bad[i]);
        }
    }
}

#define assert_json(text)                                                      \
    do {                                                                       \
        if (!json_valid(text)) {                                               \
            cl_test_failf_at(__FILE__, __LINE__, "not JSON:\n%s", (text));     \
        }                                                                      \
    } while (0)

/* A consumer of group, not subscribed, commits offset for one partition
 * (allowed while the group has no active member). */
static void group_commit(crawllog_t *log, const char *group, const char *topic,
                         int32_t partition, int64_t offset)
{
    crawllog_conf_t *conf = cl_test_conf("group.id", group, NULL);
    crawllog_topic_partition_t tp = {topic, partition, offset, NULL};
    crawllog_consumer_t *c = NULL;
    char err[256];

    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    assert_crawllog_ok(
        crawllog_consumer_commit_offsets(c, &tp, 1, CRAWLLOG_SYNC_DURABLE));
    crawllog_consumer_destroy(c);
    crawllog_conf_destroy(conf);
}

/* A member of group subscribed to topic, with client.id client. */
static crawllog_consumer_t *group_member(crawllog_t *log, const char *group,
                                         const char *topic, const char *client)
{
    crawllog_conf_t *conf = cl_test_conf("group.id", group, "client.id", client,
                                         "auto.offset.reset", "earliest", NULL);
    crawllog_consumer_t *c = NULL;
    char err[256];

    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    assert_crawllog_ok(crawllog_consumer_subscribe(c, &topic, 1));
    crawllog_conf_destroy(conf);
    return c;
}

/* Poll c until it owns want partitions (5 s at most). */
static void poll_until_owns(crawllog_consumer_t *c, size_t want)
{
    int64_t deadline = cl_test_mono_ms() + 5000;
    crawllog_topic_partition_t *list = NULL;
    const crawllog_msg_t *m[16];
    size_t owned = 0, n;

    while (owned != want && cl_test_mono_ms() < deadline) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 50, m, 16, &n));
        assert_crawllog_ok(crawllog_consumer_assignment(c, &list, &owned));
        free(list);
    }
    assert_int_equal(owned, want);
}

/* Ten records in orders/0, four in orders/1. */
static void make_orders(void **state)
{
    create_topic(state, "orders", "2");
    CLI_OK(state, "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n", "produce", "orders", "0");
    CLI_OK(state, "a\nb\nc\nd\n", "produce", "orders", "1");
}

static void test_cli_groups_list(void **state)
{
    crawllog_t *log;

    /* No group yet (and no groups directory). */
    CLI_OUT(state, NULL, "", "groups", "list");
    CLI_OUT(state, NULL, "[]\n", "groups", "list", "--json");
    create_topic(state, "t", "1");
    CLI_OK(state, "a\nb\n", "produce", "t", "0");
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "beta", "t", 0, 1);
    group_commit(log, "alpha", "t", 0, 2);
    group_commit(log, "a-1.x", "t", 0, 2);
    CLI_OUT(state, NULL, "a-1.x\nalpha\nbeta\n", "groups", "list");
    CLI_OUT(state, NULL, "[\"a-1.x\",\"alpha\",\"beta\"]\n", "groups", "list",
            "--json");
    /* Groups are not topics. */
    CLI_OUT(state, NULL, "t\n", "topic", "list");
    cl_test_close_verify(log, data_dir(state));
}

/* A group with commits and no member: Kafka's table and notice, lag by
 * hand, columns widened by a long topic name; the same as JSON. */
static void test_cli_groups_describe(void **state)
{
    static const char hdr[] =
        "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  "
        "LOG-END-OFFSET  LAG             CONSUMER-ID\n";
    static const char hdr_wide[] =
        "GROUP           TOPIC                    PARTITION  CURRENT-OFFSET  "
        "LOG-END-OFFSET  LAG             CONSUMER-ID\n";
    static const char part0[] =
        "{\"topic\":\"orders\",\"partition\":0,\"current_offset\":6,"
        "\"log_end_offset\":10,\"lag\":4,\"consumer_id\":null,"
        "\"commit_time_ms\":";
    struct run r;
    crawllog_t *log;
    long long commit_ms = -1;
    int64_t before, after;
    const char *at;

    make_orders(state);
    log = cl_test_open(data_dir(state), NULL);
    before = now_ms();
    group_commit(log, "g", "orders", 0, 6);
    after = now_ms();
    CLI(state, &r, NULL, "groups", "describe", "g");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "Consumer group 'g' has no active members.\n");
    assert_string_equal(
        r.out, "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  "
               "LOG-END-OFFSET  LAG             CONSUMER-ID\n"
               "g               orders          0          6               "
               "10              4               -\n");
    assert_memory_equal(r.out, hdr, strlen(hdr));
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--json");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "");
    assert_json(r.out);
    assert_contains(r.out, "{\"group\":\"g\",\"state\":\"Empty\",");
    assert_contains(r.out, "\"members\":[],");
    at = strstr(r.out, part0);
    assert_non_null(at);
    assert_int_equal(sscanf(at + strlen(part0), "%lld}]}\n", &commit_ms), 1);
    assert_true(commit_ms >= before - 1000 && commit_ms <= after + 1000);
    assert_null(strstr(r.out, "\"partition\":1"));
    run_free(&r);
    /* More commits: a second partition, a topic name wider than 15. */
    create_topic(state, "a-rather-long-topic-name", "1");
    group_commit(log, "g", "orders", 1, 1);
    group_commit(log, "g", "a-rather-long-topic-name", 0, 0);
    CLI(state, &r, NULL, "groups", "describe", "g");
    assert_exit(&r, 0);
    assert_string_equal(
        r.out, "GROUP           TOPIC                    PARTITION  "
               "CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID\n"
               "g               a-rather-long-topic-name 0          0      "
               "         0               0               -\n"
               "g               orders                   0          6      "
               "         10              4               -\n"
               "g               orders                   1          1      "
               "         4               3               -\n");
    assert_memory_equal(r.out, hdr_wide, strlen(hdr_wide));
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--members");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "Consumer group 'g' has no active members.\n");
    assert_string_equal(r.out, "GROUP           CONSUMER-ID     PID        "
                               "CLIENT-ID       #PARTITIONS\n");
    run_free(&r);
    cl_test_close_verify(log, data_dir(state));
}

/* A live member owns both partitions: CONSUMER-ID, "-" where nothing is
 * committed, --members, JSON; then a second member makes it rebalance. */
static void test_cli_groups_members(void **state)
{
    crawllog_consumer_t *a, *b;
    char want[1024], mid[256];
    const char *rows[2];
    struct run r;
    crawllog_t *log;

    make_orders(state);
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "g", "orders", 0, 6);
    a = group_member(log, "g", "orders", "lagmon");
    poll_until_owns(a, 2);
    snprintf(mid, sizeof(mid), "%s", crawllog_consumer_member_id(a));
    assert_true(strncmp(mid, "lagmon-", 7) == 0 && strlen(mid) > 15);
    CLI(state, &r, NULL, "groups", "describe", "g");
    assert_exit(&r, 0);
    assert_string_equal(r.err, ""); /* Stable: no notice */
    rows[0] = "g               orders          0          6               "
              "10              4               ";
    rows[1] = "g               orders          1          -               "
              "4               -               ";
    snprintf(want, sizeof(want),
             "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  "
             "LOG-END-OFFSET  LAG             CONSUMER-ID\n%s%s\n%s%s\n",
             rows[0], mid, rows[1], mid);
    assert_string_equal(r.out, want);
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--members");
    assert_exit(&r, 0);
    snprintf(want, sizeof(want),
             "GROUP           %-*s PID        CLIENT-ID       #PARTITIONS\n"
             "g               %s %-10ld lagmon          2\n",
             (int)strlen(mid), "CONSUMER-ID", mid, (long)getpid());
    assert_string_equal(r.out, want);
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "{\"group\":\"g\",\"state\":\"Stable\",");
    assert_null(strstr(r.out, "\"strategy\":\"\""));
    snprintf(want, sizeof(want),
             "\"members\":[{\"member_id\":\"%s\",\"instance_id\":\"\","
             "\"client_id\":\"lagmon\",\"pid\":%ld,\"alive\":true,"
             "\"last_poll_age_ms\":",
             mid, (long)getpid());
    assert_contains(r.out, want);
    assert_contains(r.out, ",\"partitions\":2}],\"partitions\":[");
    snprintf(want, sizeof(want),
             "{\"topic\":\"orders\",\"partition\":1,\"current_offset\":null,"
             "\"log_end_offset\":4,\"lag\":null,\"consumer_id\":\"%s\","
             "\"commit_time_ms\":null}]}\n",
             mid);
    assert_contains(r.out, want);
    run_free(&r);
    /* A second member joins; a keeps its partitions until its next poll,
     * so one of them waits to change owner. */
    b = group_member(log, "g", "orders", "second");
    {
        const crawllog_msg_t *m[4];
        size_t n;

        assert_crawllog_ok(crawllog_consumer_poll(b, 0, m, 4, &n));
        assert_int_equal(n, 0);
    }
    CLI(state, &r, NULL, "groups", "describe", "g");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "Warning: Consumer group 'g' is rebalancing.\n");
    assert_contains(r.out, mid); /* still the owner of both */
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "\"state\":\"PreparingRebalance\"");
    assert_contains(r.out, "\"client_id\":\"second\"");
    run_free(&r);
    crawllog_consumer_destroy(b);
    crawllog_consumer_destroy(a);
    cl_test_close_verify(log, data_dir(state));
}

static void test_cli_groups_not_found(void **state)
{
    crawllog_t *log;

    /* No groups directory at all, then another group only. */
    CLI_EXPECT(state, NULL, 1, "", NULL, "groups", "describe", "nope");
    create_topic(state, "t", "1");
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "other", "t", 0, 0);
    {
        struct run r;

        CLI(state, &r, NULL, "groups", "describe", "nope", "--json");
        assert_exit(&r, 1);
        assert_string_equal(r.err, "crawllog: group \"nope\" not found\n");
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    CLI_FAILS(state, NULL,
              "crawllog: groups describe bad/name: CRAWLLOG_EINVAL", "groups",
              "describe", "bad/name");
    CLI_OK(state, NULL, "groups", "describe", "other");
    cl_test_close_verify(log, data_dir(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_cli_version),
        cl_test_unit_tmpdir(test_cli_topic_commands),
        cl_test_unit_tmpdir(test_cli_topic_overrides),
        cl_test_unit_tmpdir(test_cli_produce_consume),
        cl_test_unit_tmpdir(test_cli_consume_from_max),
        cl_test_unit_tmpdir(test_cli_offsets),
        cl_test_unit_tmpdir(test_cli_verify),
        cl_test_unit_tmpdir(test_cli_errors),
        cl_test_unit_tmpdir(test_cli_usage_errors),
        cl_test_unit_tmpdir(test_cli_conf),
        cl_test_unit_tmpdir(test_cli_env_dir),
        cl_test_unit_tmpdir(test_cli_maintain),
        cl_test_unit_tmpdir(test_cli_json_checker),
        cl_test_unit_tmpdir(test_cli_groups_list),
        cl_test_unit_tmpdir(test_cli_groups_describe),
        cl_test_unit_tmpdir(test_cli_groups_members),
        cl_test_unit_tmpdir(test_cli_groups_not_found),
    };
    return cmocka_run_group_tests_name("cli", tests, group_setup, NULL);
}
