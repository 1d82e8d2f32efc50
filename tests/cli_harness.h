/*
 * cli_harness.h - the harness of the crawllog CLI tests (test_cli.c,
 * test_cli_ops.c): included by each of those programs (all static).
 *
 * Runs the built binary (environment variable CRAWLLOG_CLI, default
 * "build/crawllog", relative to the repository root where
 * tests/run_tests.sh runs) with posix_spawn, feeding stdin and collecting
 * stdout and stderr through pipes; CLI*() macros check outputs and exit
 * statuses.  Each test gets its own temporary directory; the data
 * directory is "<tmp>/data".  Also: a minimal JSON checker (assert_json),
 * a standalone group commit and the "orders" topic most tests use.
 * Everything is static inline: a program need not use all of it.
 */
#ifndef CL_TEST_CLI_HARNESS_H
#define CL_TEST_CLI_HARNESS_H

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

static inline const char *cli_path(void)
{
    const char *p = getenv("CRAWLLOG_CLI");

    return p != NULL && p[0] != '\0' ? p : "build/crawllog";
}

/* Wall-clock milliseconds (inline: not every test program uses it). */
static inline int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Append what fd has to *bufp; returns 0 at EOF, 1 if more may come. */
static inline int drain(int fd, char **bufp, size_t *lenp)
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
static inline void pump(int in_fd, const char *in, int out_fd, int err_fd,
                 struct run *r)
{
    size_t in_len = in != NULL ? strlen(in) : 0, in_off = 0, err_len = 0;
    int out_open = 1, err_open = 1;

    while (out_open || err_open) {
        struct pollfd p[3] = {
            {out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
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

static inline void make_pipe(int fds[2])
{
    cl_test_check(pipe(fds) == 0);
    cl_test_check(fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0);
    cl_test_check(fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0);
}

/* Start the tool with pre (NULL-terminated, may be NULL) then args
 * (NULL-terminated) in the background: stdin /dev/null, SIGPIPE at its
 * default, stdout and stderr pipes (*outp, *errp, read ends). */
static inline pid_t cli_spawn(const char *const *pre, const char *const *args,
                              int *outp, int *errp)
{
    const char *argv[MAX_ARGS + 8];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int pout[2], perr[2], n = 0, rc;
    sigset_t def;
    pid_t pid;

    argv[n++] = cli_path();
    for (int i = 0; pre != NULL && pre[i] != NULL && n < 4; i++) {
        argv[n++] = pre[i];
    }
    for (int i = 0; args[i] != NULL && n < MAX_ARGS + 7; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    make_pipe(pout);
    make_pipe(perr);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    posix_spawnattr_init(&attr);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    cl_test_checkf(rc == 0, "posix_spawn %s: %s", argv[0], strerror(rc));
    close(pout[1]);
    close(perr[1]);
    *outp = pout[0];
    *errp = perr[0];
    return pid;
}

/* Run the tool with args (NULL-terminated), stdin from in (NULL: empty),
 * CRAWLLOG_DIR=envdir in its environment (NULL: unset). */
static inline void cli_run(struct run *r, const char *in, const char *envdir,
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
        cl_test_failf_at(__FILE__, __LINE__,
                         "posix_spawn %s: %s (run make cli)", argv[0],
                         strerror(i));
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

static inline const char *data_dir(void **state)
{
    return cl_test_path(data_path, sizeof(data_path), CL_TEST_DIR(state),
                        "data");
}

static inline int group_setup(void **state)
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

/* CLI() that must exit with status code (CLI_EXIT_* in docs/CLI.md: 2
 * usage, 3 not found, 4 damaged, 5 refused) and err_part on stderr. */
#define CLI_FAILS_WITH(state, in, code, err_part, ...)                         \
    CLI_EXPECT(state, in, code, NULL, err_part, __VA_ARGS__)

/* Create topic with the given partition count; must succeed. */
static inline void create_topic(void **state, const char *topic, const char *parts)
{
    CLI_OK(state, NULL, "topic", "create", topic, parts);
}

/* ---------------------------------------------------------------------- */
/* JSON, groups, orders                                                    */
/* ---------------------------------------------------------------------- */

/* A minimal RFC 8259 checker: the end of the JSON value at p, or NULL if
 * there is none. */
static inline const char *json_value(const char *p);

static inline const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++;
    }
    return p;
}

static inline const char *json_string(const char *p)
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

static inline const char *json_digits(const char *p, int need)
{
    const char *s = p;

    while (isdigit((unsigned char)*p)) {
        p++;
    }
    return p == s && need ? NULL : p;
}

static inline const char *json_number(const char *p)
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

static inline const char *json_value(const char *p)
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

static inline int json_valid(const char *text)
{
    const char *end = json_value(text);

    return end != NULL && *json_ws(end) == '\0';
}

#define assert_json(text)                                                      \
    do {                                                                       \
        if (!json_valid(text)) {                                               \
            cl_test_failf_at(__FILE__, __LINE__, "not JSON:\n%s", (text));     \
        }                                                                      \
    } while (0)

/* A consumer of group, not subscribed, commits offset for one partition
 * (allowed while the group has no active member). */
static inline void group_commit(crawllog_t *log, const char *group, const char *topic,
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

/* Ten records in orders/0, four in orders/1. */
static inline void make_orders(void **state)
{
    create_topic(state, "orders", "2");
    CLI_OK(state, "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n", "produce", "orders", "0");
    CLI_OK(state, "a\nb\nc\nd\n", "produce", "orders", "1");
}

#endif /* CL_TEST_CLI_HARNESS_H */
