/*
 * test_cli_ops.c - tests of the crawllog tool's operations commands:
 * `lag check` (exit codes and lines for fine, lag, stall and Burrow-status
 * breaches, unknown groups), `metrics` (the series and their values
 * computed by hand, a checker of the exposition format, the HTTP server
 * over a real socket) and `dlq list / show / replay` on dead letters made
 * with crawllog_consumer_dead_letter().
 *
 * Runs the built binary through cli_harness.h; the metrics server runs in
 * the background (its pid is kept so that the group teardown can stop it
 * if a test fails halfway).  Expected outputs are computed here from the
 * inputs, never taken from the tool.
 */
#include "cli_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The background metrics server, if one runs. */
static pid_t server_pid = -1;

/* Sleep ms milliseconds. */
static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        continue;
    }
}

/* ---------------------------------------------------------------------- */
/* lag check                                                               */
/* ---------------------------------------------------------------------- */

/* orders (10 + 4 records); group g has caught up with both partitions; then
 * three more records make orders/0 lag by 3 (status OK: the commit had no
 * lag, so Burrow's rules see nothing wrong). */
static crawllog_t *lag_setup(void **state)
{
    crawllog_t *log;

    make_orders(state);
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "g", "orders", 0, 10);
    group_commit(log, "g", "orders", 1, 4);
    CLI_OUT(state, NULL,
            "OK: group g: 2 partitions, total lag 0, max lag 0, status OK\n",
            "lag", "check", "--group", "g", "--max-lag", "0",
            "--max-stall-seconds", "0");
    CLI_OK(state, "x\ny\nz\n", "produce", "orders", "0");
    return log;
}

static void test_lag_check_fine_and_lag(void **state)
{
    crawllog_t *log = lag_setup(state);
    struct run r;

    CLI_OUT(state, NULL,
            "OK: group g: 2 partitions, total lag 3, max lag 3, status OK\n",
            "lag", "check", "--group", "g", "--max-lag", "3");
    CLI_OUT(state, NULL,
            "OK: group g: 2 partitions, total lag 3, max lag 3, status OK\n",
            "lag", "check", "--group", "g", "--max-stall-seconds", "3600");
    CLI_EXPECT(state, NULL, 1,
               "BREACH: group g: 1 of 2 partitions breached, total lag 3, "
               "max lag 3, status OK\norders/0: lag 3 > 2\n",
               "", "lag", "check", "--group", "g", "--max-lag", "2");
    CLI(state, &r, NULL, "lag", "check", "--group", "g", "--max-lag", "2",
        "--json");
    assert_exit(&r, 1);
    assert_json(r.out);
    assert_contains(r.out, "{\"group\":\"g\",\"result\":\"BREACH\","
                           "\"partitions_checked\":2,\"partitions_breached\":"
                           "1,\"total_lag\":3,\"max_lag\":3,");
    assert_contains(r.out, "{\"topic\":\"orders\",\"partition\":0,"
                           "\"current_offset\":10,\"log_end_offset\":13,"
                           "\"lag\":3,\"commit_age_ms\":");
    assert_contains(r.out, "\"status\":\"OK\",\"breached\":true,"
                           "\"reason\":\"lag 3 > 2\"}");
    assert_contains(r.out, "\"breached\":false,\"reason\":null}]}\n");
    run_free(&r);
    cl_test_close_verify(log, data_dir(state));
}

/* The last commit of orders/0 ages past --max-stall-seconds while it lags;
 * orders/1 (no lag) never stalls. */
static void test_lag_check_stall(void **state)
{
    crawllog_t *log = lag_setup(state);
    long long secs = -1;
    struct run r;
    const char *line;

    sleep_ms(1100);
    CLI(state, &r, NULL, "lag", "check", "--group", "g", "--max-stall-seconds",
        "1");
    assert_exit(&r, 1);
    line = strstr(r.out, "\norders/0: no commit for ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "\norders/0: no commit for %lld s", &secs),
                     1);
    assert_true(secs >= 1 && secs < 60);
    assert_contains(line, " s with lag 3\n");
    assert_null(strstr(r.out, "orders/1"));
    assert_true(strncmp(r.out, "BREACH: group g: 1 of 2 partitions", 34) == 0);
    run_free(&r);
    CLI_EXPECT(state, NULL, 0, NULL, "", "lag", "check", "--group", "g",
               "--max-stall-seconds", "60");
    cl_test_close_verify(log, data_dir(state));
}

/* A single commit that lagged, then silence: Burrow's STOP, a breach by
 * itself (unless --no-status), and named after a stall. */
static void test_lag_check_status(void **state)
{
    crawllog_t *log;

    make_orders(state);
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "stopped", "orders", 0, 4);
    sleep_ms(20);
    CLI_EXPECT(state, NULL, 1,
               "BREACH: group stopped: 1 of 1 partitions breached, total lag "
               "6, max lag 6, status ERR\norders/0: status STOP (lag 6)\n",
               "", "lag", "check", "--group", "stopped");
    CLI_EXPECT(state, NULL, 0,
               "OK: group stopped: 1 partitions, total lag 6, max lag 6, "
               "status ERR\n",
               "", "lag", "check", "--group", "stopped", "--no-status");
    CLI_EXPECT(state, NULL, 1,
               "BREACH: group stopped: 1 of 1 partitions breached, total lag "
               "6, max lag 6, status ERR\norders/0: lag 6 > 5; no commit for "
               "0 s with lag 6 (STOP)\n",
               "", "lag", "check", "--group", "stopped", "--max-lag", "5",
               "--max-stall-seconds", "0");
    cl_test_close_verify(log, data_dir(state));
}

static void test_lag_check_errors(void **state)
{
    static const char *const bad[][8] = {
        {"lag", NULL},
        {"lag", "frob", NULL},
        {"lag", "check", NULL},
        {"lag", "check", "--group", NULL},
        {"lag", "check", "--group", "g", "--max-lag", "x", NULL},
        {"lag", "check", "--group", "g", "--max-lag", "-1", NULL},
        {"lag", "check", "--group", "g", "--max-stall-seconds", NULL},
        {"lag", "check", "--group", "g", "--verbose", NULL},
    };
    struct run r;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[12] = {"-d", data_dir(state)};
        size_t j;

        for (j = 0; bad[i][j] != NULL; j++) {
            args[2 + j] = bad[i][j];
        }
        args[2 + j] = NULL;
        cli_run(&r, NULL, NULL, args);
        if (r.status != 2 || strstr(r.err, "usage: crawllog") == NULL) {
            cl_test_failf_at(__FILE__, __LINE__, "case %zu: exit %d\n%s", i,
                             r.status, r.err);
        }
        run_free(&r);
    }
    CLI(state, &r, NULL, "lag", "check", "--help");
    assert_exit(&r, 0);
    assert_contains(r.out, "3 UNKNOWN");
    run_free(&r);
    /* Unknown group: UNKNOWN (3), not a breach. */
    create_topic(state, "t", "1");
    CLI(state, &r, NULL, "lag", "check", "--group", "nope");
    assert_exit(&r, 3);
    assert_string_equal(r.err, "crawllog: group \"nope\" not found\n");
    assert_string_equal(r.out, "");
    run_free(&r);
    CLI_EXPECT(state, NULL, 3, "", "CRAWLLOG_EINVAL", "lag", "check", "--group",
               "bad/name");
}

/* ---------------------------------------------------------------------- */
/* metrics                                                                 */
/* ---------------------------------------------------------------------- */

static int name_char(int c, int first)
{
    return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

/* The end of a metric (colon 1) or label name at p, or NULL. */
static const char *expo_name(const char *p, int colon)
{
    const char *s = p;

    while (name_char((unsigned char)*p, p == s) && (colon || *p != ':')) {
        p++;
    }
    return p == s ? NULL : p;
}

/* {labels} at p: the end, or NULL. */
static const char *expo_labels(const char *p)
{
    if (*p++ != '{') {
        return NULL;
    }
    while (*p != '}') {
        if ((p = expo_name(p, 0)) == NULL || *p++ != '=' || *p++ != '"') {
            return NULL;
        }
        for (; *p != '"'; p++) {
            if (*p == '\n' || *p == '\0' ||
                (*p == '\\' && (++p, *p != '\\' && *p != '"' && *p != 'n'))) {
                return NULL;
            }
        }
        p++;
        if (*p == ',') {
            p++;
        } else if (*p != '}') {
            return NULL;
        }
    }
    return p + 1;
}

/* Text format 0.0.4 as crawllog writes it: every line "# HELP name text",
 * "# TYPE name gauge|counter|untyped" (before the family's samples, once)
 * or a sample "name{labels} value" of the family last declared, each
 * ending in '\n'.  NULL if valid, else the first bad line. */
static const char *expo_bad_line(const char *text)
{
    char family[256] = "", typed[256] = "";
    const char *line = text, *p, *nl;

    if (text[0] == '\0') {
        return "(empty)";
    }
    for (; *line != '\0'; line = nl + 1) {
        char *end;

        if ((nl = strchr(line, '\n')) == NULL) {
            return line;
        }
        if (strncmp(line, "# HELP ", 7) == 0 ||
            strncmp(line, "# TYPE ", 7) == 0) {
            int type = line[2] == 'T';

            p = expo_name(line + 7, 1);
            if (p == NULL || *p != ' ' || (size_t)(p - line - 7) >= 256) {
                return line;
            }
            snprintf(family, sizeof(family), "%.*s", (int)(p - line - 7),
                     line + 7);
            if (type && (strcmp(family, typed) == 0 ||
                         !(strncmp(p, " gauge\n", 7) == 0 ||
                           strncmp(p, " counter\n", 9) == 0 ||
                           strncmp(p, " untyped\n", 9) == 0))) {
                return line;
            }
            if (type) {
                snprintf(typed, sizeof(typed), "%s", family);
            }
            continue;
        }
        p = expo_name(line, 1);
        if (p == NULL || strcmp(family, typed) != 0 ||
            (size_t)(p - line) != strlen(family) ||
            strncmp(line, family, strlen(family)) != 0) {
            return line;
        }
        if (*p == '{' && (p = expo_labels(p)) == NULL) {
            return line;
        }
        if (*p++ != ' ' || *p == ' ' || *p == '\n') {
            return line;
        }
        errno = 0;
        strtod(p, &end);
        if (end == p || end != nl || errno != 0) {
            return line;
        }
    }
    return NULL;
}

#define assert_exposition(text)                                                \
    do {                                                                       \
        const char *bad_ = expo_bad_line(text);                                \
        if (bad_ != NULL) {                                                    \
            cl_test_failf_at(__FILE__, __LINE__, "bad exposition line: %.80s", \
                             bad_);                                            \
        }                                                                      \
    } while (0)

/* The line "series value" must be in text. */
#define assert_sample(text, series, value)                                     \
    do {                                                                       \
        char want_[512];                                                       \
        snprintf(want_, sizeof(want_), "\n%s %s\n", (series), (value));        \
        assert_contains((text), want_);                                        \
    } while (0)

/* The checker must be able to say no. */
static void test_metrics_checker(void **state)
{
    static const char *const good[] = {
        "# HELP a x\n# TYPE a gauge\na 1\n",
        ("# HELP a_b x y\n# TYPE a_b gauge\na_b{l=\"v\",m=\"\\\"\\\\\\n\"} "
         "-1.5e3\n"),
        "# TYPE a gauge\n# HELP a help\na{x=\"1\"} 0\na{x=\"2\"} 2\n"};
    static const char *const bad[] = {"",
                                      "# TYPE a gauge\na 1",
                                      "a 1\n",
                                      "# TYPE a gauge\nb 1\n",
                                      "# TYPE a gauge\na{l=v} 1\n",
                                      "# TYPE a gauge\na{l=\"v} 1\n",
                                      "# TYPE a gauge\na{l=\"\\x\"} 1\n",
                                      "# TYPE a gauge\na{1l=\"v\"} 1\n",
                                      "# TYPE a gauge\na{l=\"v\"}1\n",
                                      "# TYPE a gauge\na 1x\n",
                                      "# TYPE a gauge\na \n",
                                      "# TYPE a weird\na 1\n",
                                      "# TYPE a gauge\n# TYPE a gauge\na 1\n",
                                      "# TYPE 9a gauge\n9a 1\n",
                                      "# TYPE a gauge\n# TYPE b gauge\na 1\n",
                                      "#TYPE a gauge\na 1\n"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (expo_bad_line(good[i]) != NULL) {
            cl_test_failf_at(__FILE__, __LINE__, "rejected: %s", good[i]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (expo_bad_line(bad[i]) == NULL) {
            cl_test_failf_at(__FILE__, __LINE__, "accepted: %s", bad[i]);
        }
    }
}

/* orders (10 + 4); orders.dlt with 2 + 1 records; group g committed
 * orders/0 at 6 (lag 4) only, some time ago. */
static crawllog_t *metrics_setup(void **state)
{
    crawllog_t *log;

    make_orders(state);
    create_topic(state, "orders.dlt", "2");
    CLI_OK(state, "a\nb\n", "produce", "orders.dlt", "0");
    CLI_OK(state, "c\n", "produce", "orders.dlt", "1");
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "g", "orders", 0, 6);
    sleep_ms(20);
    return log;
}

/* What both the printed and the served exposition must hold. */
static void check_metrics(const char *out, int64_t commit_before)
{
    static const char *const states[] = {"OK",    "WARN",   "STOP",
                                         "STALL", "REWIND", "NOTFOUND"};
    static const char age[] = "\ncrawllog_consumergroup_commit_age_seconds{"
                              "group=\"g\",topic=\"orders\",partition=\"0\"} ";
    const char *at;
    double secs = -1;
    char series[256];
    size_t i;

    assert_exposition(out);
    assert_sample(out, "crawllog_consumergroup_members{group=\"g\"}", "0");
    assert_sample(out,
                  "crawllog_consumergroup_lag{group=\"g\",topic=\"orders\","
                  "partition=\"0\"}",
                  "4");
    assert_sample(out, "crawllog_consumergroup_lag_sum{group=\"g\"}", "4");
    assert_sample(out,
                  "crawllog_consumergroup_current_offset{group=\"g\","
                  "topic=\"orders\",partition=\"0\"}",
                  "6");
    /* Never committed: no lag, offset or age. */
    assert_null(strstr(out, "group=\"g\",topic=\"orders\",partition=\"1\"}"));
    at = strstr(out, age);
    assert_non_null(at);
    assert_int_equal(sscanf(at + strlen(age), "%lf", &secs), 1);
    assert_true(secs >= 0.02 - 0.001);
    assert_true(secs * 1000 <= (double)(now_ms() - commit_before) + 1);
    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        snprintf(series, sizeof(series),
                 "crawllog_consumergroup_status{group=\"g\",topic=\"orders\","
                 "partition=\"0\",status=\"%s\"}",
                 states[i]);
        /* One commit that lagged, then silence: Burrow's STOP. */
        assert_sample(out, series, strcmp(states[i], "STOP") == 0 ? "1" : "0");
    }
    assert_sample(out,
                  "crawllog_consumergroup_lag_status{group=\"g\","
                  "status=\"ERR\"}",
                  "1");
    assert_sample(out,
                  "crawllog_consumergroup_lag_status{group=\"g\","
                  "status=\"OK\"}",
                  "0");
    assert_sample(out,
                  "crawllog_partition_log_end_offset{topic=\"orders\","
                  "partition=\"0\"}",
                  "10");
    assert_sample(out,
                  "crawllog_partition_log_end_offset{topic=\"orders\","
                  "partition=\"1\"}",
                  "4");
    assert_sample(out,
                  "crawllog_partition_log_start_offset{topic=\"orders.dlt\","
                  "partition=\"1\"}",
                  "0");
    assert_sample(out, "crawllog_deadletter_messages{topic=\"orders.dlt\"}",
                  "3");
    assert_null(strstr(out, "crawllog_deadletter_messages{topic=\"orders\"}"));
    assert_contains(out, "# TYPE crawllog_consumergroup_lag gauge\n");
    assert_contains(out, "# HELP crawllog_consumergroup_lag ");
}

static void test_metrics_print(void **state)
{
    int64_t before = now_ms();
    crawllog_t *log = metrics_setup(state);
    struct run r;

    CLI(state, &r, NULL, "metrics");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "");
    check_metrics(r.out, before);
    run_free(&r);
    CLI_EXPECT(state, NULL, 2, "", "usage: crawllog", "metrics", "--frob");
    CLI_EXPECT(state, NULL, 2, "", "--allow-remote needs --listen", "metrics",
               "--allow-remote");
    CLI_EXPECT(state, NULL, 2, "", "not a loopback address", "metrics",
               "--listen", "0.0.0.0:0");
    CLI_EXPECT(state, NULL, 2, "", "bad --listen", "metrics", "--listen",
               "127.0.0.1");
    CLI_EXPECT(state, NULL, 2, "", "bad --listen address", "metrics",
               "--listen", "localhost:80");
    cl_test_close_verify(log, data_dir(state));
}

/* Start "crawllog -d DATA metrics --listen 127.0.0.1:0" in the background;
 * returns the port it prints.  *errfd: its stderr. */
static int server_start(void **state, int *errfd)
{
    const char *argv[] = {cli_path(), "-d",       data_dir(state),
                          "metrics",  "--listen", "127.0.0.1:0",
                          NULL};
    posix_spawn_file_actions_t fa;
    char *err = calloc(1, 1);
    size_t len = 0;
    int perr[2], port = -1, rc;
    int64_t deadline = cl_test_mono_ms() + 20000;
    const char *at;
    static const char listening[] =
        "crawllog: metrics: listening on http://127.0.0.1:";

    make_pipe(perr);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    rc = posix_spawn(&server_pid, argv[0], &fa, NULL, (char *const *)argv,
                     environ);
    posix_spawn_file_actions_destroy(&fa);
    close(perr[1]);
    assert_int_equal(rc, 0);
    while (strchr(err, '\n') == NULL && cl_test_mono_ms() < deadline) {
        struct pollfd p = {perr[0], POLLIN, 0};

        if (poll(&p, 1, 1000) > 0 && drain(perr[0], &err, &len) == 0) {
            break;
        }
    }
    at = strstr(err, listening);
    if (at == NULL ||
        sscanf(at + strlen(listening), "%d/metrics\n", &port) != 1) {
        cl_test_failf_at(__FILE__, __LINE__, "no address on stderr: %s", err);
    }
    free(err);
    *errfd = perr[0];
    return port;
}

/* Send req to 127.0.0.1:port; the whole response (malloc'd). */
static char *http_get(int port, const char *req)
{
    struct sockaddr_in sa;
    char *resp = calloc(1, 1);
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cl_test_check(fd >= 0 && resp != NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cl_test_check(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    cl_test_check(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    while (drain(fd, &resp, &len)) {
        continue;
    }
    close(fd);
    return resp;
}

static void test_metrics_listen(void **state)
{
    int64_t before = now_ms();
    crawllog_t *log = metrics_setup(state);
    char *resp, *body;
    long long clen = -1;
    int errfd, port, status;
    const char *cl;

    port = server_start(state, &errfd);
    resp = http_get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_contains(resp, "\r\nContent-Type: text/plain; version=0.0.4");
    assert_contains(resp, "\r\nConnection: close\r\n");
    body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    cl = strstr(resp, "\r\nContent-Length: ");
    assert_true(cl != NULL && cl < body);
    assert_int_equal(sscanf(cl, "\r\nContent-Length: %lld", &clen), 1);
    assert_int_equal(clen, (long long)strlen(body));
    check_metrics(body, before);
    free(resp);
    /* New data shows in the next scrape. */
    CLI_OK(state, "d\n", "produce", "orders.dlt", "1");
    resp = http_get(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_contains(resp, "\ncrawllog_deadletter_messages{topic=\"orders.dlt\"}"
                          " 4\n");
    free(resp);
    resp = http_get(port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    free(resp);
    resp = http_get(port, "POST /metrics HTTP/1.1\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 405 ", 13) == 0);
    free(resp);
    resp = http_get(port, "nonsense\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 400 ", 13) == 0);
    free(resp);
    /* SIGTERM: a clean exit. */
    assert_int_equal(kill(server_pid, SIGTERM), 0);
    assert_int_equal(waitpid(server_pid, &status, 0), server_pid);
    server_pid = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(errfd);
    cl_test_close_verify(log, data_dir(state));
}

/* ---------------------------------------------------------------------- */
/* dlq                                                                     */
/* ---------------------------------------------------------------------- */

#define LONG_VALUE_LEN 100
#define PREVIEW_LEN_FOR_TEST 64 /* dlq show cuts key and value there */

/* jobs (2 partitions): jobs/1 gets records 0..5, key "k<i>", value
 * "job-<i>" (record 3: 100 'v's), timestamp 1000 + i, header trace=t<i>. */
static void jobs_fill(crawllog_t *log)
{
    char v[LONG_VALUE_LEN], k[8], t[8];
    int i;

    cl_test_create_topic(log, "jobs", 2, NULL);
    for (i = 0; i < 6; i++) {
        int vlen =
            i == 3 ? LONG_VALUE_LEN : snprintf(v, sizeof(v), "job-%d", i);
        crawllog_header_t h = {"trace", 5, t, 2};
        crawllog_record_t r = {k, 2, v, (size_t)vlen, 1000 + i, &h, 1};

        if (i == 3) {
            memset(v, 'v', sizeof(v));
        }
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(t, sizeof(t), "t%d", i);
        assert_crawllog_ok(crawllog_append(log, "jobs", 1, &r, 1,
                                           CRAWLLOG_SYNC_WRITTEN, NULL));
    }
}

/* As group "workers", dead-letter jobs/1 offset offs[i] with reasons[i]. */
static void dead_letter(crawllog_t *log, const int64_t *offs,
                        const char *const *reasons, size_t n)
{
    crawllog_conf_t *conf = cl_test_conf("group.id", "workers",
                                         "auto.offset.reset", "earliest", NULL);
    crawllog_topic_partition_t tp = {"jobs", 1, CRAWLLOG_OFFSET_COMMITTED,
                                     NULL};
    const crawllog_msg_t *m[1];
    crawllog_consumer_t *c = NULL;
    char err[256];
    size_t i = 0, got;
    int tries = 0;

    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(crawllog_consumer_assign(c, &tp, 1));
    while (i < n && tries++ < 200) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 100, m, 1, &got));
        if (got == 1 && crawllog_msg_offset(m[0]) == offs[i]) {
            assert_crawllog_ok(
                crawllog_consumer_dead_letter(c, m[0], reasons[i++]));
        }
    }
    assert_int_equal(i, n);
    crawllog_consumer_destroy(c);
}

static const int64_t dead_offs[3] = {1, 2, 3};
static const char *const dead_reasons[3] = {"timeout: upstream", "parse error",
                                            "timeout: again"};

static void test_dlq_list_show(void **state)
{
    char row[512], vs[LONG_VALUE_LEN + 1];
    crawllog_t *log;
    struct run r;

    CLI_OUT(state, NULL, "", "dlq", "list");
    CLI_OUT(state, NULL, "[]\n", "dlq", "list", "--json");
    log = cl_test_open(data_dir(state), NULL);
    jobs_fill(log);
    dead_letter(log, dead_offs, dead_reasons, 3);
    CLI_OUT(state, NULL, "jobs.dlt 3\n", "dlq", "list");
    CLI_OUT(state, NULL,
            "[{\"topic\":\"jobs.dlt\",\"partitions\":2,\"messages\":3}]\n",
            "dlq", "list", "--json");
    CLI(state, &r, NULL, "dlq", "show", "jobs.dlt");
    assert_exit(&r, 0);
    memset(vs, 'v', PREVIEW_LEN_FOR_TEST);
    vs[PREVIEW_LEN_FOR_TEST] = '\0';
    snprintf(row, sizeof(row),
             "PARTITION\tOFFSET\tORIGINAL\tTIMESTAMP\tATTEMPTS\tGROUP\t"
             "REASON\tKEY\tVALUE\n"
             "1\t0\tjobs/1/1\t1001\t1\tworkers\ttimeout: upstream\tk1\tjob-1\n"
             "1\t1\tjobs/1/2\t1002\t1\tworkers\tparse error\tk2\tjob-2\n"
             "1\t2\tjobs/1/3\t1003\t1\tworkers\ttimeout: again\tk3\t%s"
             "...(100 bytes)\n",
             vs);
    assert_string_equal(r.out, row);
    run_free(&r);
    CLI(state, &r, NULL, "dlq", "show", "jobs.dlt", "--max", "1");
    assert_exit(&r, 0);
    assert_contains(r.out, "\ttimeout: upstream\t");
    assert_null(strstr(r.out, "parse error"));
    run_free(&r);
    CLI(state, &r, NULL, "dlq", "show", "jobs.dlt", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "{\"partition\":1,\"offset\":1,\"timestamp\":");
    assert_contains(r.out, ",\"original_topic\":\"jobs\","
                           "\"original_partition\":1,\"original_offset\":2,"
                           "\"original_timestamp\":1002,\"attempts\":1,"
                           "\"group\":\"workers\",\"reason\":\"parse error\","
                           "\"key\":\"k2\",\"value\":\"job-2\","
                           "\"key_len\":2,\"value_len\":5}");
    assert_contains(r.out, ",\"value_len\":100}]\n");
    run_free(&r);
    /* A plain topic: no DLT headers, "-". */
    CLI_OUT(state, NULL,
            "PARTITION\tOFFSET\tORIGINAL\tTIMESTAMP\tATTEMPTS\tGROUP\t"
            "REASON\tKEY\tVALUE\n1\t0\t-\t-\t-\t-\t-\tk0\tjob-0\n",
            "dlq", "show", "jobs", "--max", "1");
    CLI_FAILS_WITH(state, NULL, 3, "crawllog: dlq show nope: CRAWLLOG_ENOTOPIC", "dlq",
              "show", "nope");
    CLI_EXPECT(state, NULL, 2, "", "usage: crawllog", "dlq", "show");
    CLI_EXPECT(state, NULL, 2, "", "usage: crawllog", "dlq", "show", "jobs.dlt",
               "--max", "x");
    CLI_EXPECT(state, NULL, 2, "", "usage: crawllog", "dlq", "frob");
    CLI_EXPECT(state, NULL, 0, NULL, "", "dlq", "show", "--help");
    cl_test_close_verify(log, data_dir(state));
}

/* Every record of topic (3 partitions): "P/O key value replayed-from"
 * lines, checking that no kafka_dlt-* / crawllog_dlt-* header but
 * replayed-from is left and the original trace header is. */
static void read_replayed(crawllog_t *log, char *out, size_t size)
{
    int32_t p;

    out[0] = '\0';
    for (p = 0; p < 3; p++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m;

        assert_crawllog_ok(crawllog_reader_new(&rd, log, "retry", p));
        while (crawllog_reader_next(rd, &m) == CRAWLLOG_OK && m != NULL) {
            char from[64] = "", trace[8] = "";
            const void *k, *v;
            size_t klen, vlen, i, len = strlen(out);
            crawllog_header_t h;

            for (i = 0; i < crawllog_msg_header_count(m); i++) {
                assert_crawllog_ok(crawllog_msg_header(m, i, &h));
                if (h.name_len == 26 &&
                    memcmp(h.name, "crawllog_dlt-replayed-from", 26) == 0) {
                    snprintf(from, sizeof(from), "%.*s", (int)h.value_len,
                             (const char *)h.value);
                } else if (h.name_len == 5 && memcmp(h.name, "trace", 5) == 0) {
                    snprintf(trace, sizeof(trace), "%.*s", (int)h.value_len,
                             (const char *)h.value);
                } else {
                    cl_test_failf_at(__FILE__, __LINE__, "header %.*s left",
                                     (int)h.name_len, h.name);
                }
            }
            k = crawllog_msg_key(m, &klen);
            v = crawllog_msg_value(m, &vlen);
            /* Keyed: Kafka's murmur2 partition, as the producer does. */
            assert_int_equal(
                crawllog_partitioner_murmur2("retry", k, klen, 3, NULL), p);
            snprintf(out + len, size - len, "%d/%lld %.*s %.*s %s %s\n", (int)p,
                     (long long)crawllog_msg_offset(m), (int)klen,
                     (const char *)k, vlen > 8 ? 8 : (int)vlen, (const char *)v,
                     trace, from);
        }
        crawllog_reader_destroy(rd);
    }
}

/* The line "replayed jobs.dlt/1/<dlt_off> -> retry/P/O" for key, where P
 * is the key's partition and O counted in next[P]. */
static void replay_line(char *buf, size_t size, int dlt_off, const char *key,
                        int64_t *next)
{
    int32_t p =
        crawllog_partitioner_murmur2("retry", key, strlen(key), 3, NULL);
    size_t len = strlen(buf);

    snprintf(buf + len, size - len, "replayed jobs.dlt/1/%d -> retry/%d/%lld\n",
             dlt_off, (int)p, (long long)next[p]++);
}

static void test_dlq_replay(void **state)
{
    static const int64_t four[1] = {4};
    static const char *const reason4[1] = {"timeout: third"};
    char want[1024] = "", got[1024], more[1024];
    int64_t next[3] = {0, 0, 0};
    crawllog_t *log = cl_test_open(data_dir(state), NULL);

    jobs_fill(log);
    dead_letter(log, dead_offs, dead_reasons, 3);
    create_topic(state, "retry", "3");
    /* Usage and lookup errors. */
    CLI_EXPECT(state, NULL, 2, "", "needs --to", "dlq", "replay", "jobs.dlt");
    CLI_EXPECT(state, NULL, 2, "", "not be the DLT", "dlq", "replay",
               "jobs.dlt", "--to", "jobs.dlt");
    CLI_EXPECT(state, NULL, 2, "", "usage: crawllog", "dlq", "replay",
               "jobs.dlt", "--to", "retry", "--from-offset", "5", "--to-offset",
               "2");
    CLI_FAILS_WITH(state, NULL, 3, "--to nope: CRAWLLOG_ENOTOPIC", "dlq", "replay",
              "jobs.dlt", "--to", "nope");
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_ENOTOPIC", "dlq", "replay", "nope.dlt",
              "--to", "retry");
    /* Dry runs write nothing. */
    CLI_OUT(state, NULL,
            "would replay jobs.dlt/1/0\nwould replay jobs.dlt/1/2\n"
            "would replay 2 dead letters from jobs.dlt to retry, 1 skipped "
            "by the filters, 0 handled by earlier runs (dry run: nothing "
            "written)\n",
            "dlq", "replay", "jobs.dlt", "--to", "retry", "--reason", "timeout",
            "--dry-run");
    CLI_OUT(state, NULL,
            "would replay jobs.dlt/1/1\n"
            "would replay 1 dead letter from jobs.dlt to retry, 1 skipped "
            "by the filters, 0 handled by earlier runs (dry run: nothing "
            "written)\n",
            "dlq", "replay", "jobs.dlt", "--to", "retry", "--from-offset", "1",
            "--to-offset", "1", "--dry-run");
    CLI_OUT(state, NULL,
            "would replay 0 dead letters from jobs.dlt to retry, 0 skipped "
            "by the filters, 0 handled by earlier runs (dry run: nothing "
            "written)\n",
            "dlq", "replay", "jobs.dlt", "--to", "retry", "--partition", "0",
            "--dry-run");
    CLI_OUT(state, NULL, "0 0 0\n1 0 0\n2 0 0\n", "offsets", "retry");
    CLI_OUT(state, NULL, "workers\n", "groups", "list");
    /* The real run: the two timeouts, once. */
    replay_line(want, sizeof(want), 0, "k1", next);
    replay_line(want, sizeof(want), 2, "k3", next);
    strcat(want, "replayed 2 dead letters from jobs.dlt to retry, 1 skipped "
                 "by the filters, 0 handled by earlier runs\n");
    CLI_OUT(state, NULL, want, "dlq", "replay", "jobs.dlt", "--to", "retry",
            "--reason", "timeout");
    read_replayed(log, got, sizeof(got));
    want[0] = '\0';
    {
        int32_t p1 = crawllog_partitioner_murmur2("retry", "k1", 2, 3, NULL);
        int32_t p3 = crawllog_partitioner_murmur2("retry", "k3", 2, 3, NULL);
        char l1[128], l3[128];

        snprintf(l1, sizeof(l1), "%d/0 k1 job-1 t1 jobs.dlt/1/0\n", (int)p1);
        snprintf(l3, sizeof(l3), "%d/%d k3 vvvvvvvv t3 jobs.dlt/1/2\n", (int)p3,
                 p1 == p3);
        snprintf(want, sizeof(want), "%s%s", p1 <= p3 ? l1 : l3,
                 p1 <= p3 ? l3 : l1);
    }
    assert_string_equal(got, want);
    /* Again: nothing (the parse error was skipped past too). */
    CLI_OUT(state, NULL,
            "replayed 0 dead letters from jobs.dlt to retry, 0 skipped by "
            "the filters, 3 handled by earlier runs\n",
            "dlq", "replay", "jobs.dlt", "--to", "retry", "--reason",
            "timeout");
    CLI_OUT(state, NULL,
            "replayed 0 dead letters from jobs.dlt to retry, 0 skipped by "
            "the filters, 3 handled by earlier runs\n",
            "dlq", "replay", "jobs.dlt", "--to", "retry");
    read_replayed(log, more, sizeof(more));
    assert_string_equal(more, got);
    /* A new dead letter: only it is replayed. */
    dead_letter(log, four, reason4, 1);
    want[0] = '\0';
    replay_line(want, sizeof(want), 3, "k4", next);
    strcat(want, "replayed 1 dead letter from jobs.dlt to retry, 0 skipped "
                 "by the filters, 3 handled by earlier runs\n");
    CLI_OUT(state, NULL, want, "dlq", "replay", "jobs.dlt", "--to", "retry");
    read_replayed(log, more, sizeof(more));
    assert_int_equal(strlen(more), strlen(got) + strlen("0/0 k4 job-4 t4 "
                                                        "jobs.dlt/1/3\n"));
    assert_contains(more, " k4 job-4 t4 jobs.dlt/1/3\n");
    CLI_OUT(state, NULL, "crawllog.replay.jobs.dlt\nworkers\n", "groups",
            "list");
    {
        crawllog_group_desc_t *d = NULL;

        assert_crawllog_ok(
            crawllog_group_describe(log, "crawllog.replay.jobs.dlt", &d));
        assert_int_equal(d->partition_count, 1);
        assert_string_equal(d->partitions[0].topic, "jobs.dlt");
        assert_int_equal(d->partitions[0].partition, 1);
        assert_int_equal(d->partitions[0].committed, 4);
        crawllog_group_desc_free(d);
    }
    cl_test_close_verify(log, data_dir(state));
}

static int ops_teardown(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
    return 0;
}

/* A replay that died between a copy and its commit: the next run finds
 * the copy (by its replayed-from header) and commits past it instead of
 * copying the dead letter again. */
static void test_dlq_replay_interrupted(void **state)
{
    char want[1024] = "";
    int64_t next[3] = {0, 0, 0};
    crawllog_t *log = cl_test_open(data_dir(state), NULL);

    jobs_fill(log);
    dead_letter(log, dead_offs, dead_reasons, 3);
    create_topic(state, "retry", "3");
    /* The interrupted run's copy of jobs.dlt/1/0, never committed. */
    int32_t p1 = crawllog_partitioner_murmur2("retry", "k1", 2, 3, NULL);
    crawllog_header_t h = {"crawllog_dlt-replayed-from", 26, "jobs.dlt/1/0",
                           12};
    crawllog_record_t copy = {"k1", 2, "job-1", 5, -1, &h, 1};
    assert_crawllog_ok(crawllog_append(log, "retry", p1, &copy, 1,
                                       CRAWLLOG_SYNC_DURABLE, NULL));
    snprintf(want, sizeof(want),
             "replayed jobs.dlt/1/0 -> retry/%d/0 (by an interrupted run)\n",
             (int)p1);
    next[p1]++;
    replay_line(want, sizeof(want), 2, "k3", next);
    strcat(want, "replayed 2 dead letters from jobs.dlt to retry, 1 skipped "
                 "by the filters, 0 handled by earlier runs\n");
    CLI_OUT(state, NULL, want, "dlq", "replay", "jobs.dlt", "--to", "retry",
            "--reason", "timeout");
    int64_t total = 0;
    for (int32_t q = 0; q < 3; q++) {
        int64_t start, end;
        assert_crawllog_ok(
            crawllog_partition_offsets(log, "retry", q, &start, &end));
        total += end - start;
    }
    assert_int_equal(total, 2); /* the interrupted copy + jobs.dlt/1/2 */
    cl_test_close_verify(log, data_dir(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_lag_check_fine_and_lag),
        cl_test_unit_tmpdir(test_lag_check_stall),
        cl_test_unit_tmpdir(test_lag_check_status),
        cl_test_unit_tmpdir(test_lag_check_errors),
        cl_test_unit_tmpdir(test_metrics_checker),
        cl_test_unit_tmpdir(test_metrics_print),
        cl_test_unit_tmpdir(test_metrics_listen),
        cl_test_unit_tmpdir(test_dlq_list_show),
        cl_test_unit_tmpdir(test_dlq_replay),
        cl_test_unit_tmpdir(test_dlq_replay_interrupted),
    };
    return cmocka_run_group_tests_name("cli_ops", tests, group_setup,
                                       ops_teardown);
}
