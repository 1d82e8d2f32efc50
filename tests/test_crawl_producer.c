/*
 * test_crawl_producer.c - tests of the crawl-producer example
 * (examples/crawl-producer.c), run as a program: the built
 * build/examples/crawl-producer (environment variable CRAWL_PRODUCER
 * overrides; build it with make examples).
 *
 * Input mode: jobs land in the topic keyed by host with the murmur2
 * partition computed here (crawllog_partitioner_murmur2), their JSON values
 * carry the fields, bad lines are reported with their numbers and exit 1;
 * round_robin spreads keyless jobs; usage errors exit 2.  Server mode:
 * POST /jobs over a raw socket (no dependency on the examples' HTTP
 * client): 202 with the partition/offset a reader finds, a retry with the
 * same Idempotency-Key gets the same answer and enqueues nothing - also
 * after kill -9 and a restart, and from concurrent clients; bad requests
 * are 400; SIGTERM exits 0.
 *
 * Runs the binary through cli_harness.h (posix_spawn, pipes), with
 * CRAWLLOG_CLI pointing at it; the server runs in the background with its
 * stderr in a file of the test directory, killed by the teardown if a test
 * fails halfway.
 */
#include "cli_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "seo.h"

#define TOPIC "jobs"

static const char *prog_path(void)
{
    const char *p = getenv("CRAWL_PRODUCER");
    return p != NULL && p[0] != '\0' ? p : "build/examples/crawl-producer";
}

static int producer_group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (setenv("CRAWLLOG_CLI", prog_path(), 1) != 0 ||
        access(prog_path(), X_OK) != 0) {
        fprintf(stderr, "test_crawl_producer: %s: %s (build it with make "
                        "examples)\n",
                prog_path(), strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- reading the topic back ---------------------------------------- */

struct rec {
    int32_t partition;
    int64_t offset;
    int has_key;
    char key[256];
    char value[1024];
    char idem[256]; /* the "idempotency-key" header, "" if none */
    size_t nheaders;
};

/* Every record of TOPIC in <tmp>/data, partition by partition; returns
 * how many (at most max), *partsp the partition count. */
static size_t read_all(void **state, struct rec *out, size_t max,
                       int32_t *partsp)
{
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    size_t n = 0;
    int32_t parts;
    assert_crawllog_ok(crawllog_topic_describe(log, TOPIC, &parts, NULL));
    for (int32_t p = 0; p < parts; p++) {
        crawllog_reader_t *rd;
        const crawllog_msg_t *m;
        assert_crawllog_ok(crawllog_reader_new(&rd, log, TOPIC, p));
        while (crawllog_reader_next(rd, &m) == CRAWLLOG_OK && m != NULL) {
            struct rec *r = &out[n];
            size_t klen, vlen;
            const void *k = crawllog_msg_key(m, &klen);
            const void *v = crawllog_msg_value(m, &vlen);
            cl_test_check(n < max && klen < sizeof(r->key) &&
                          vlen < sizeof(r->value));
            memset(r, 0, sizeof(*r));
            r->partition = p;
            r->offset = crawllog_msg_offset(m);
            r->has_key = k != NULL;
            memcpy(r->key, k != NULL ? k : "", klen);
            memcpy(r->value, v, vlen);
            r->nheaders = crawllog_msg_header_count(m);
            for (size_t i = 0; i < r->nheaders; i++) {
                crawllog_header_t h;
                assert_crawllog_ok(crawllog_msg_header(m, i, &h));
                if (h.name_len == 15 &&
                    memcmp(h.name, "idempotency-key", 15) == 0) {
                    cl_test_check(h.value_len < sizeof(r->idem));
                    memcpy(r->idem, h.value, h.value_len);
                }
            }
            n++;
        }
        crawllog_reader_destroy(rd);
    }
    assert_crawllog_ok(crawllog_close(log));
    if (partsp != NULL) {
        *partsp = parts;
    }
    return n;
}

/* Member key of the JSON object text, which must be there. */
static const char *jget(const char *text, const char *key, char *buf,
                        size_t size)
{
    int rc = cx_json_get(text, strlen(text), key, buf, size);
    cl_test_checkf(rc == 1, "no \"%s\" (%d) in %s", key, rc, text);
    return buf;
}

static long long jnum(const char *text, const char *key)
{
    char buf[64];
    return strtoll(jget(text, key, buf, sizeof(buf)), NULL, 10);
}

/* The record whose value's url is url (exactly one). */
static const struct rec *find_url(const struct rec *recs, size_t n,
                                  const char *url)
{
    const struct rec *found = NULL;
    char buf[512];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(jget(recs[i].value, "url", buf, sizeof(buf)), url) == 0) {
            cl_test_checkf(found == NULL, "%s enqueued twice", url);
            found = &recs[i];
        }
    }
    cl_test_checkf(found != NULL, "%s not in the topic", url);
    return found;
}

/* ---- input mode ----------------------------------------------------- */

static void test_stdin_murmur2(void **state)
{
    static const struct {
        const char *url, *host, *type;
        int priority;
    } jobs[] = {
        {"https://Example.ORG/a", "example.org", "seo", 3},
        {"http://example.com:8080/b?x=1", "example.com:8080", "rank", 5},
        {"https://example.org/c", "example.org", "seo", 5},
        {"https://user:pw@Shop.Example.NET/x", "shop.example.net", "rank", 0},
    };
    struct rec recs[16];
    struct run r;
    char buf[256];
    int64_t t0 = now_ms();
    int32_t parts;

    CLI(state, &r,
        "# crawl jobs\n\nhttps://Example.ORG/a seo 3\n"
        "  http://example.com:8080/b?x=1\trank\n"
        "https://example.org/c\n"
        "https://user:pw@Shop.Example.NET/x rank 0\r\n",
        "--topic", TOPIC, "--partitions", "4");
    assert_exit(&r, 0);
    assert_contains(r.err, "produced 4 jobs (0 bad lines) to jobs");
    assert_contains(r.out, "https://example.org/c -> jobs/");
    run_free(&r);
    int64_t t1 = now_ms();

    assert_int_equal(read_all(state, recs, 16, &parts), 4);
    assert_int_equal(parts, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct rec *x = find_url(recs, 4, jobs[i].url);
        const char *h = jobs[i].host;
        assert_true(x->has_key);
        assert_string_equal(x->key, h);
        assert_int_equal(x->partition, crawllog_partitioner_murmur2(
                                           TOPIC, h, strlen(h), 4, NULL));
        assert_string_equal(jget(x->value, "type", buf, sizeof(buf)),
                            jobs[i].type);
        assert_int_equal(jnum(x->value, "priority"), jobs[i].priority);
        jget(x->value, "job_id", buf, sizeof(buf));
        assert_int_equal(strlen(buf), 32);
        assert_int_equal(strspn(buf, "0123456789abcdef"), 32);
        assert_true(jnum(x->value, "enqueued_ms") >= t0);
        assert_true(jnum(x->value, "enqueued_ms") <= t1);
        assert_int_equal(x->nheaders, 0);
    }
    /* Ids differ; a host's jobs keep their order in its partition. */
    char id2[64];
    assert_string_not_equal(jget(recs[0].value, "job_id", buf, sizeof(buf)),
                            jget(recs[1].value, "job_id", id2, sizeof(id2)));
    assert_true(find_url(recs, 4, "https://Example.ORG/a")->offset <
                find_url(recs, 4, "https://example.org/c")->offset);
}

static void test_stdin_bad_lines(void **state)
{
    struct rec recs[8];
    struct run r;

    CLI(state, &r,
        "https://good.example/1\n"
        "ftp://bad.example/\n"
        "https://bad.example/ crawl\n"
        "https://bad.example/ seo 10\n"
        "https://bad.example/ seo 1 more\n"
        "https://bad.example/ rank x\n"
        "# comment\n"
        "http://\n"
        "https://good.example/2 rank 9\n",
        "--topic", TOPIC, "--quiet");
    assert_exit(&r, 1);
    assert_contains(r.err, "stdin line 2: URL must start with http://");
    assert_contains(r.err, "stdin line 3: type must be seo or rank");
    assert_contains(r.err, "stdin line 4: priority must be an integer 0..9");
    assert_contains(r.err, "stdin line 5: too many fields");
    assert_contains(r.err, "stdin line 6: priority");
    assert_contains(r.err, "stdin line 8: URL has no host");
    assert_null(strstr(r.err, "line 1:"));
    assert_null(strstr(r.err, "line 9:"));
    assert_contains(r.err, "produced 2 jobs (6 bad lines) to jobs");
    assert_string_equal(r.out, ""); /* --quiet */
    run_free(&r);
    assert_int_equal(read_all(state, recs, 8, NULL), 2);
    find_url(recs, 2, "https://good.example/1");
    assert_int_equal(jnum(find_url(recs, 2, "https://good.example/2")->value,
                          "priority"),
                     9);
}

/* Same host eight times: round_robin spreads them 2 per partition with no
 * key (acks=0, from a file); murmur2 puts them all on the host's one. */
static void test_round_robin_file(void **state)
{
    char path[4200], lines[512] = "";
    struct rec recs[32];
    size_t counts[4] = {0};
    struct run r;
    int32_t want = crawllog_partitioner_murmur2(TOPIC, "same.example", 12, 4,
                                                NULL);

    for (int i = 0; i < 8; i++) {
        snprintf(lines + strlen(lines), sizeof(lines) - strlen(lines),
                 "https://same.example/%d rank %d\n", i, i);
    }
    cl_test_path(path, sizeof(path), CL_TEST_DIR(state), "jobs.txt");
    cl_test_write_file(path, lines, strlen(lines));
    CLI(state, &r, NULL, "--topic", TOPIC, "--partitions", "4",
        "--partitioner", "round_robin", "--acks", "0", "--file", path);
    assert_exit(&r, 0);
    assert_contains(r.err, "produced 8 jobs (0 bad lines)");
    run_free(&r);
    assert_int_equal(read_all(state, recs, 32, NULL), 8);
    for (size_t i = 0; i < 8; i++) {
        assert_false(recs[i].has_key);
        counts[recs[i].partition]++;
    }
    for (size_t p = 0; p < 4; p++) {
        assert_int_equal(counts[p], 2);
    }

    CLI(state, &r, NULL, "--topic", TOPIC, "--acks", "1", "--file", path);
    assert_exit(&r, 0);
    assert_contains(r.out, "https://same.example/7 -> jobs/");
    run_free(&r);
    assert_int_equal(read_all(state, recs, 32, NULL), 16);
    size_t keyed = 0;
    for (size_t i = 0; i < 16; i++) {
        if (recs[i].has_key) {
            keyed++;
            assert_string_equal(recs[i].key, "same.example");
            assert_int_equal(recs[i].partition, want);
        }
    }
    assert_int_equal(keyed, 8);
}

static void test_usage(void **state)
{
    CLI_FAILS_WITH(state, NULL, 2, "--acks: 0, 1 or all", "--acks", "2");
    CLI_FAILS_WITH(state, NULL, 2, "--partitioner", "--partitioner", "x");
    CLI_FAILS_WITH(state, NULL, 2, "exclude each other", "--file", "f",
                   "--listen", "127.0.0.1:0");
    CLI_FAILS_WITH(state, NULL, 2, "not a loopback address", "--listen",
                   "0.0.0.0:0");
    CLI_FAILS_WITH(state, NULL, 2, "unknown argument", "--bogus");
    CLI_FAILS(state, NULL, "no-such-file", "--file", "no-such-file");
    CLI_EXPECT(state, NULL, 0, NULL, NULL, "--help");
}

/* ---- server mode ------------------------------------------------------ */

static pid_t srv_pid = -1;
static char srv_log[4200];

/* Start the server on 127.0.0.1:0 (stderr appended to srv_log); returns
 * its port, read from the listening line. */
static int srv_start(void **state)
{
    const char *argv[] = {prog_path(), "-d", data_dir(state), "--topic",
                          TOPIC, "--partitions", "4", "--listen",
                          "127.0.0.1:0", NULL};
    posix_spawn_file_actions_t fa;
    size_t had = 0;
    int rc;

    cl_test_path(srv_log, sizeof(srv_log), CL_TEST_DIR(state), "srv.err");
    if (cl_test_exists(srv_log)) {
        had = cl_test_file_size(srv_log);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, srv_log,
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    rc = posix_spawn(&srv_pid, argv[0], &fa, NULL, (char *const *)argv,
                     environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    for (int64_t end = cl_test_mono_ms() + 20000; cl_test_mono_ms() < end;) {
        char *text = cl_test_exists(srv_log)
                         ? cl_test_read_file(srv_log, NULL)
                         : calloc(1, had + 1);
        const char *l = strstr(text + had, "listening on http://127.0.0.1:");
        int port = l != NULL ? atoi(l + 30) : 0;
        free(text);
        if (port > 0) {
            return port;
        }
        cl_test_sleep_ms(20);
    }
    fail_msg("no listening line in %s", srv_log);
    return -1;
}

/* Signal the server and return its wait status. */
static int srv_stop(int sig)
{
    int status;
    kill(srv_pid, sig);
    while (waitpid(srv_pid, &status, 0) < 0) {
        cl_test_check(errno == EINTR);
    }
    srv_pid = -1;
    return status;
}

static int srv_teardown(void **state)
{
    if (srv_pid > 0) {
        srv_stop(SIGKILL);
    }
    return cl_test_tmpdir_teardown(state);
}

/* One request over a raw socket: the status, the body in body (NUL-
 * terminated), or -1.  No cmocka call: runs in threads too. */
static int http(int port, const char *method, const char *key,
                const char *json, char *body, size_t size)
{
    struct sockaddr_in sa;
    char req[2048], resp[4096];
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1, n;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    n = snprintf(req, sizeof(req),
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "\r\n%s",
                 method, json != NULL ? "/jobs" : "/healthz",
                 key != NULL ? "Idempotency-Key: " : "", key ? key : "",
                 key != NULL ? "\r\n" : "", json ? strlen(json) : 0,
                 json ? json : "");
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, req, (size_t)n) != n) {
        goto out;
    }
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t got;
        if (poll(&p, 1, 20000) <= 0 || len == sizeof(resp) - 1 ||
            (got = read(fd, resp + len, sizeof(resp) - 1 - len)) < 0) {
            goto out;
        }
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    resp[len] = '\0';
    const char *b = strstr(resp, "\r\n\r\n");
    if (strncmp(resp, "HTTP/1.1 ", 9) == 0 && b != NULL) {
        status = atoi(resp + 9);
        snprintf(body, size, "%s", b + 4);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return status;
}

/* How many records the topic holds (all partitions). */
static int64_t topic_count(void **state)
{
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    int64_t total = 0, start, end;
    for (int32_t p = 0; p < 4; p++) {
        assert_crawllog_ok(
            crawllog_partition_offsets(log, TOPIC, p, &start, &end));
        total += end - start;
    }
    assert_crawllog_ok(crawllog_close(log));
    return total;
}

/* POST job with key; the answer must have status want and point at a
 * record of url (with that job id and header): returns its offset, the
 * partition in *partp. */
static int64_t post_job(void **state, int port, const char *key,
                        const char *url, int want, int32_t *partp)
{
    char json[512], body[1024], buf[256];
    struct rec recs[64];
    size_t n;
    snprintf(json, sizeof(json), "{\"url\":\"%s\",\"type\":\"rank\"}", url);
    assert_int_equal(http(port, "POST", key, json, body, sizeof(body)), want);
    assert_json(body);
    assert_string_equal(jget(body, "topic", buf, sizeof(buf)), TOPIC);
    int32_t part = (int32_t)jnum(body, "partition");
    int64_t off = jnum(body, "offset");
    n = read_all(state, recs, 64, NULL);
    const struct rec *x = find_url(recs, n, url);
    assert_int_equal(x->partition, part);
    assert_int_equal(x->offset, off);
    assert_string_equal(jget(x->value, "type", buf, sizeof(buf)), "rank");
    assert_string_equal(jget(body, "job_id", buf, sizeof(buf)),
                        jget(x->value, "job_id", json, sizeof(json)));
    assert_string_equal(x->idem, key != NULL ? key : "");
    assert_string_equal(jget(body, "duplicate", buf, sizeof(buf)),
                        want == 200 ? "true" : "false");
    *partp = part;
    return off;
}

struct racer {
    int port, status;
    char body[512];
};

static void *race_main(void *arg)
{
    struct racer *r = arg;
    r->status = http(r->port, "POST", "race-key",
                     "{\"url\":\"https://race.example/\"}", r->body,
                     sizeof(r->body));
    return NULL;
}

static void test_server(void **state)
{
    char body[1024];
    int32_t p1, p2, p3;
    int port = srv_start(state), status;
    int64_t off, total;

    assert_int_equal(http(port, "GET", NULL, NULL, body, sizeof(body)), 200);
    post_job(state, port, NULL, "https://a.example/1", 202, &p1);
    off = post_job(state, port, "retry-1", "https://b.example/2", 202, &p1);
    assert_int_equal(p1, crawllog_partitioner_murmur2(TOPIC, "b.example", 9,
                                                      4, NULL));
    total = topic_count(state);
    assert_int_equal(total, 2);

    /* A retry: the original answer, nothing new. */
    assert_int_equal(
        post_job(state, port, "retry-1", "https://b.example/2", 200, &p2),
        off);
    assert_int_equal(p2, p1);

    /* Bad requests: 400 with a JSON error, nothing enqueued. */
    static const char *const bad[] = {
        "{\"url\":\"https://c.example/\"",
        "[1,2]",
        "{\"type\":\"seo\"}",
        "{\"url\":\"mailto:x@y\"}",
        "{\"url\":\"https://c.example/\",\"type\":\"crawl\"}",
        "{\"url\":\"https://c.example/\",\"priority\":12}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256];
        status = http(port, "POST", NULL, bad[i], body, sizeof(body));
        cl_test_checkf(status == 400, "%s: %d %s", bad[i], status, body);
        assert_json(body);
        jget(body, "error", err, sizeof(err));
    }
    assert_int_equal(http(port, "POST", "bad key", "{\"url\":\"https://c.x/\"}",
                          body, sizeof(body)),
                     400);
    assert_int_equal(topic_count(state), total);

    /* kill -9, restart: the key is still known. */
    assert_true(WIFSIGNALED(srv_stop(SIGKILL)));
    port = srv_start(state);
    assert_int_equal(
        post_job(state, port, "retry-1", "https://b.example/2", 200, &p2),
        off);
    assert_int_equal(p2, p1);
    assert_int_equal(topic_count(state), total);
    post_job(state, port, "retry-2", "https://d.example/3", 202, &p3);
    assert_int_equal(topic_count(state), ++total);

    /* Concurrent POSTs with one key: one job, one offset for all. */
    struct racer racers[8];
    pthread_t th[8];
    char a[64], b[64];
    for (int i = 0; i < 8; i++) {
        racers[i].port = port;
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &racers[i]),
                         0);
    }
    int accepted = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        cl_test_checkf(racers[i].status == 202 || racers[i].status == 200,
                       "status %d", racers[i].status);
        accepted += racers[i].status == 202;
        assert_string_equal(jget(racers[i].body, "offset", a, sizeof(a)),
                            jget(racers[0].body, "offset", b, sizeof(b)));
    }
    assert_int_equal(accepted, 1);
    assert_int_equal(topic_count(state), ++total);

    /* SIGTERM: a clean exit 0. */
    status = srv_stop(SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char *log = cl_test_read_file(srv_log, NULL);
    assert_contains(log, "crawl-producer: stopping: 2 jobs enqueued");
    free(log);
    cl_test_close_verify(cl_test_open(data_dir(state), NULL),
                         data_dir(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_stdin_murmur2),
        cl_test_unit_tmpdir(test_stdin_bad_lines),
        cl_test_unit_tmpdir(test_round_robin_file),
        cl_test_unit_tmpdir(test_usage),
        cmocka_unit_test_setup_teardown(test_server, cl_test_tmpdir_setup,
                                        srv_teardown),
    };
    return cmocka_run_group_tests_name("crawl_producer", tests,
                                       producer_group_setup, NULL);
}
