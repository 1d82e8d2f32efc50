/*
 * test_crawl_fixture.c - tests of the crawl pipeline's test fixture,
 * build/examples/crawl-fixture (examples/crawl-fixture.c, with
 * examples/crawl/site.c and httpd.c): the generated site on 127.0.0.1 ..
 * 127.0.0.4, /urls, the report sink (duplicates, failures on demand), the
 * SOCKS5 proxy (relay, refusals, stalls) and a clean SIGTERM.
 *
 * It runs as a child (posix_spawn of $CRAWL_FIXTURE, default
 * build/examples/crawl-fixture, which `make` builds), spoken to with raw
 * sockets (not the examples' own HTTP client).  One fixture serves the
 * group; the sink's tests use differences of /stats, so order is free.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

extern char **environ;

#define IO_MS 5000 /* deadline of any single exchange */

struct fixture {
    pid_t pid;
    int http, socks, hosts;
    char err_path[4200]; /* its stderr */
};

static struct fixture g_fx; /* the group's fixture */
static char g_dir[4096];    /* the group's temporary directory */
static pid_t g_pids[8];     /* every fixture started, for the teardown */

/* Start the fixture ($CRAWL_FIXTURE, default build/examples/crawl-fixture)
 * with args, its stderr into err_name in the group directory.  With
 * want_line, read the ports line into f (the test fails without it). */
static void fixture_spawn(struct fixture *f, const char *const *args,
                          const char *err_name, int want_line)
{
    const char *path = getenv("CRAWL_FIXTURE");
    const char *argv[24];
    char line[256];
    size_t n = 0, len = 0;
    int pfd[2];
    posix_spawn_file_actions_t fa;

    path =
        path != NULL && *path != '\0' ? path : "build/examples/crawl-fixture";
    if (access(path, X_OK) != 0) {
        fail_msg("%s: %s: build it first (`make` builds every example), or "
                 "set CRAWL_FIXTURE",
                 path, strerror(errno));
    }
    for (argv[0] = path; args[n] != NULL && n < 22; n++) {
        argv[n + 1] = args[n];
    }
    argv[n + 1] = NULL;
    memset(f, 0, sizeof(*f));
    cl_test_path(f->err_path, sizeof(f->err_path), g_dir, err_name);
    assert_int_equal(pipe(pfd), 0);
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC); /* the child has only its fd 1 */
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, f->err_path,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = posix_spawn(&f->pid, path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    for (size_t i = 0; e == 0 && i < 8; i++) {
        if (g_pids[i] == 0) {
            g_pids[i] = f->pid;
            break;
        }
    }
    int64_t deadline = cl_test_mono_ms() + IO_MS;
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    while (e == 0 && want_line && len + 1 < sizeof(line) &&
           cl_test_mono_ms() < deadline) {
        if (poll(&p, 1, 100) > 0 &&
            (read(pfd[0], line + len, 1) != 1 || line[len++] == '\n')) {
            break;
        }
    }
    close(pfd[0]);
    line[len] = '\0';
    if (e != 0) {
        fail_msg("posix_spawn %s: %s", path, strerror(e));
    }
    if (want_line && sscanf(line, "fixture http=%d socks=%d hosts=%d", &f->http,
                            &f->socks, &f->hosts) != 3) {
        fail_msg("no ports line from %s (got \"%s\"); its stderr:\n%s", path,
                 line, (char *)cl_test_read_file(f->err_path, NULL));
    }
}

/* Wait up to ms for pid to end: its wait status, or -1. */
static int reap(pid_t pid, int64_t ms)
{
    int64_t deadline = cl_test_mono_ms() + ms;
    int st;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (cl_test_mono_ms() > deadline) {
            return -1;
        }
        cl_test_sleep_ms(5);
    }
    for (size_t i = 0; i < 8; i++) {
        g_pids[i] = g_pids[i] == pid ? 0 : g_pids[i];
    }
    return st;
}

/* SIGTERM: the wait status, or -1 if still running 2 s later. */
static int fixture_stop(const struct fixture *f)
{
    return kill(f->pid, SIGTERM) == 0 ? reap(f->pid, 2000) : -1;
}

/* --- A tiny client --- */

/* A connection to ip:port: the fd, or -1 with errno (if !must). */
static int tcp_connect_opt(const char *ip, int port, int must)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), e;
    assert_true(fd >= 0 && inet_pton(AF_INET, ip, &a.sin_addr) == 1);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        e = errno;
        close(fd);
        if (must) {
            fail_msg("connect %s:%d: %s", ip, port, strerror(e));
        }
        errno = e;
        return -1;
    }
    return fd;
}

static int tcp_connect(const char *ip, int port)
{
    return tcp_connect_opt(ip, port, 1);
}

static void send_bytes(int fd, const void *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w <= 0 && errno != EINTR) {
            fail_msg("send: %s", strerror(errno));
        }
        buf = (const char *)buf + (w > 0 ? w : 0);
        len -= w > 0 ? (size_t)w : 0;
    }
}

/* Read up to n bytes within ms: the count (< n: end of stream, timeout). */
static size_t recv_upto(int fd, void *buf, size_t n, int ms)
{
    size_t got = 0;
    int64_t deadline = cl_test_mono_ms() + ms;
    while (got < n) {
        int64_t left = deadline - cl_test_mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0 ||
            (r = recv(fd, (char *)buf + got, n - got, 0)) <= 0) {
            break;
        }
        got += (size_t)r;
    }
    return got;
}

struct resp {
    int status;
    char *raw;  /* the whole response, NUL-terminated */
    char *body; /* in raw */
};

/* Send method path (with body if not NULL) to host ip on the connected fd
 * (a tunnel, or a connection to the fixture), then read the response to
 * its end (the server closes) and close fd. */
static void http_on(int fd, const char *ip, const char *method,
                    const char *path, const char *body, struct resp *r)
{
    size_t cap = 1 << 16, len = 0;
    char *raw = malloc(cap + 1);
    assert_non_null(raw);
    int n =
        snprintf(raw, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, ip);
    n += body ? snprintf(raw + n, cap - (size_t)n,
                         "Content-Length: %zu\r\n\r\n%s", strlen(body), body)
              : snprintf(raw + n, cap - (size_t)n, "\r\n");
    send_bytes(fd, raw, (size_t)n);
    while ((len += recv_upto(fd, raw + len, cap - len, IO_MS)) == cap) {
        raw = realloc(raw, (cap *= 2) + 1);
        assert_non_null(raw);
    }
    close(fd);
    raw[len] = '\0';
    r->raw = raw;
    char *end = strstr(raw, "\r\n\r\n");
    if (sscanf(raw, "HTTP/1.1 %d ", &r->status) != 1 || end == NULL) {
        fail_msg("%s %s: not an HTTP response: \"%.200s\"", method, path, raw);
    }
    r->body = end + 4;
    size_t blen = len - (size_t)(r->body - raw);
    const char *cl = strstr(raw, "\r\nContent-Length: ");
    if (cl == NULL || cl > end || strtoul(cl + 18, NULL, 10) != blen) {
        fail_msg("%s %s: a body of %zu bytes, not as Content-Length says",
                 method, path, blen);
    }
}

static void http(const char *ip, const char *method, const char *path,
                 const char *body, struct resp *r)
{
    http_on(tcp_connect(ip, g_fx.http), ip, method, path, body, r);
}

static void resp_free(struct resp *r)
{
    free(r->raw);
    r->raw = r->body = NULL;
}

/* The status of method path on ip, which must be want if want != 0. */
static int expect(const char *ip, const char *method, const char *path,
                  const char *body, int want)
{
    struct resp r;
    http(ip, method, path, body, &r);
    resp_free(&r);
    if (want != 0 && r.status != want) {
        fail_msg("%s %s%s: %d, expected %d", method, ip, path, r.status, want);
    }
    return r.status;
}

/* Member key of GET /stats. */
static long stat_of(const char *key)
{
    struct resp r;
    char pat[64];
    http("127.0.0.1", "GET", "/stats", NULL, &r);
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(r.body, pat);
    if (r.status != 200 || p == NULL) {
        fail_msg("no %s in /stats %d %s", pat, r.status, r.body);
    }
    long v = strtol(p + strlen(pat), NULL, 10);
    resp_free(&r);
    return v;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

/* A connection to the SOCKS5 proxy on port, past the greeting. */
static int socks_greet(int port)
{
    int fd = tcp_connect("127.0.0.1", port);
    unsigned char b[2];
    send_bytes(fd, "\x05\x01\x00", 3);
    assert_int_equal(recv_upto(fd, b, 2, IO_MS), 2);
    assert_memory_equal(b, "\x05\x00", 2);
    return fd;
}

/* A request cmd for host (atyp 1: dotted IPv4, 3: a name, 4: 16 bytes)
 * and port; the reply code, after checking the reply's form. */
static int socks_request(int fd, int cmd, int atyp, const char *host, int port)
{
    unsigned char req[300] = {5, (unsigned char)cmd, 0, (unsigned char)atyp};
    size_t n = 4, alen = atyp == 1 ? 4 : atyp == 4 ? 16 : strlen(host);
    if (atyp == 1) {
        assert_int_equal(inet_pton(AF_INET, host, req + n), 1);
    } else {
        req[n] = (unsigned char)alen;
        memcpy(req + n + (atyp == 3), host, alen);
        n += atyp == 3;
    }
    n += alen;
    req[n++] = (unsigned char)(port >> 8);
    req[n++] = (unsigned char)port;
    send_bytes(fd, req, n);
    unsigned char rep[10];
    assert_int_equal(recv_upto(fd, rep, 10, IO_MS), 10);
    assert_int_equal(rep[0], 5);
    assert_int_equal(rep[3], 1);
    return rep[1];
}

/* --- The site --- */

/* GET ip path must answer status, with want (a printf format of the
 * site's port) in its head or body, or as its whole body if exact. */
static const struct {
    const char *ip, *path;
    int status, exact;
    const char *want;
} site_cases[] = {
    {"127.0.0.1", "/robots.txt", 200, 1,
     "User-agent: *\nDisallow: /private/\nCrawl-delay: 0.01\n"},
    {"127.0.0.4", "/robots.txt", 200, 0,
     "\r\nContent-Type: text/plain; charset=utf-8\r\n"},
    {"127.0.0.2", "/redirect/3/9", 302, 0,
     "\r\nLocation: http://127.0.0.2:%d/redirect/2/9\r\n"},
    {"127.0.0.2", "/redirect/2/9", 302, 0,
     "\r\nLocation: http://127.0.0.2:%d/redirect/1/9\r\n"},
    {"127.0.0.2", "/redirect/1/9", 302, 0,
     "\r\nLocation: http://127.0.0.2:%d/p/9\r\n"},
    {"127.0.0.2", "/p/9", 200, 0, "<title>Page 9 on host 2</title>"},
    {"127.0.0.4", "/private/3", 200, 0, "<title>Private page 3 on host 4"},
    {"127.0.0.2", "/p/49?x=1", 200, 0, "<title>Page 49 on host 2</title>"},
    {"127.0.0.3", "/p/7", 200, 0, "\r\nContent-Type: text/html; charset=utf-8"},
    {"127.0.0.3", "/p/7", 200, 0, "<title>Page 7 on host 3</title>"},
    {"127.0.0.3", "/p/7", 200, 0, "<meta name=\"description\" content=\"Page"},
    {"127.0.0.3", "/p/7", 200, 0,
     "<link rel=\"canonical\" href=\"http://127.0.0.3:%d/p/7\">"},
    {"127.0.0.2", "/error/3", 500, 0, ""},
};

/* 404 on 127.0.0.2 (--pages 50; at most 20 hops; /urls, /stats: .1 only) */
static const char *const not_found[] = {
    "/missing/3", "/",        "/p/50",     "/p/007",        "/p/x",
    "/p/1/2",     "/slow/50", "/private/", "/redirect/0/1", "/redirect/21/1",
    "/urls",      "/stats",
};

/* The site_cases, the not_found paths, then the links of 50 pages and a
 * slow page. */
static void test_site(void **state)
{
    (void)state;
    struct resp r;
    char want[256];
    for (size_t i = 0; i < sizeof(site_cases) / sizeof(site_cases[0]); i++) {
        http(site_cases[i].ip, "GET", site_cases[i].path, NULL, &r);
        snprintf(want, sizeof(want), site_cases[i].want, g_fx.http);
        if (r.status != site_cases[i].status ||
            (site_cases[i].exact ? strcmp(r.body, want) != 0
                                 : strstr(r.raw, want) == NULL)) {
            fail_msg("GET %s%s: want %d and \"%s\", got:\n%s", site_cases[i].ip,
                     site_cases[i].path, site_cases[i].status, want, r.raw);
        }
        resp_free(&r);
    }
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        expect("127.0.0.2", "GET", not_found[i], NULL, 404);
    }
    expect("127.0.0.2", "POST", "/p/1", "{}", 405);

    /* One <h1>, 5-20 links a page; over the 50 pages, every kind. */
    assert_int_equal(g_fx.hosts, 4);
    static const char *const kinds[] = {
        "<a href=\"/p/",    "<a href=\"/private/",  "<a href=\"/missing/",
        "<a href=\"/slow/", "<a href=\"/redirect/", "<a href=\"http://",
        "<a href=\"1", /* relative: /p/1... */
    };
    size_t seen[7] = {0};
    for (int i = 0; i < 50; i++) {
        snprintf(want, sizeof(want), "/p/%d", i);
        http("127.0.0.2", "GET", want, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(count_of(r.body, "<h1>"), 1);
        assert_in_range(count_of(r.body, "<a href="), 5, 20);
        for (size_t k = 0; k < 7; k++) {
            seen[k] += count_of(r.body, kinds[k]);
        }
        assert_null(strstr(r.body, "<a href=\"http://127.0.0.2:")); /* self */
        resp_free(&r);
    }
    for (size_t k = 0; k < 7; k++) {
        if (seen[k] == 0) {
            fail_msg("no %s link in 50 pages", kinds[k]);
        }
    }
    int64_t t0 = cl_test_mono_ms(); /* --slow-ms 300 */
    expect("127.0.0.3", "GET", "/slow/2", NULL, 200);
    assert_in_range(cl_test_mono_ms() - t0, 290, 3000);
}

static void test_urls(void **state)
{
    (void)state;
    struct resp r, again;
    size_t per_host[5] = {0}, other = 0;
    char *save = NULL;
    int j = 0;

    http("127.0.0.1", "GET", "/urls?count=200&mix=1", NULL, &r);
    http("127.0.0.1", "GET", "/urls?mix=1&count=200", NULL, &again);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, again.body); /* seeded */
    resp_free(&again);
    assert_int_equal(count_of(r.body, "\n"), 200);
    for (char *line = strtok_r(r.body, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), j++) {
        int host, port, n = 0;
        char path[128], type[16];
        if (sscanf(line, "http://127.0.0.%d:%d%127s %15s%n", &host, &port, path,
                   type, &n) != 4 ||
            line[n] != '\0' || port != g_fx.http || host < 1 || host > 4 ||
            strcmp(type, j % 2 ? "rank" : "seo") != 0 ||
            strtol(strrchr(path, '/') + 1, NULL, 10) >= 50) {
            fail_msg("bad /urls line %d: \"%s\"", j, line);
        }
        per_host[host]++;
        other += strncmp(path, "/p/", 3) != 0;
    }
    resp_free(&r);
    assert_int_equal(j, 200);
    for (int h = 1; h <= 4; h++) {
        assert_int_equal(per_host[h], 50);
    }
    assert_in_range(other, 5, 80); /* a mix, mostly /p/ */

    http("127.0.0.1", "GET", "/urls?count=100&mix=0", NULL, &r);
    assert_int_equal(count_of(r.body, "\n"), 100);
    assert_int_equal(count_of(r.body, "/p/"), 100);
    resp_free(&r);
    expect("127.0.0.1", "GET", "/urls?count=x", NULL, 400);
    expect("127.0.0.1", "GET", "/urls?count=100001", NULL, 400);
    expect("127.0.0.1", "GET", "/urls?mix=2", NULL, 400);
    expect("127.0.0.3", "GET", "/urls?count=5", NULL, 404); /* .1 only */
}

/* --- The report sink --- */

/* POST to 127.0.0.1: the status. */
static int post(const char *path, const char *body)
{
    return expect("127.0.0.1", "POST", path, body, 0);
}

static void test_report_counts_duplicates(void **state)
{
    (void)state;
    char path[4200], tail[1024];
    size_t len;
    assert_int_equal(post("/control", "{\"report_fail_pct\":0}"), 200);
    long reports = stat_of("reports"), unique = stat_of("unique");
    long dups = stat_of("duplicates"), bad = stat_of("bad");

    const char *a = "{\"job_id\":\"j1\",\"topic\":\"urls\",\"partition\":2,"
                    "\"offset\":40,\"status\":200}";
    const char *b = "{\"job_id\":\"j2\",\"topic\":\"urls\",\"partition\":2,"
                    "\"offset\":41}";
    const char *c = "{\n  \"offset\": 40, \"partition\": 3,\n"
                    "  \"topic\": \"urls\", \"job_id\": 3\n}";
    assert_int_equal(post("/report", a), 200);
    assert_int_equal(post("/report", b), 200);
    assert_int_equal(post("/report", a), 200); /* a redelivery */
    assert_int_equal(post("/report", c), 200); /* another partition */
    assert_int_equal(stat_of("reports"), reports + 4);
    assert_int_equal(stat_of("unique"), unique + 3);
    assert_int_equal(stat_of("duplicates"), dups + 1);

    /* Not reports (no offset, no job_id, negative, cut): not counted. */
    static const char *const bad_reports[] = {
        "{\"job_id\":1,\"topic\":\"u\",\"partition\":0}",
        "{\"topic\":\"u\",\"partition\":0,\"offset\":1}",
        "{\"job_id\":1,\"topic\":\"u\",\"partition\":-1,\"offset\":0}",
        "{\"job_id\":1,\"topic\":\"u\",\"partition\":0,\"offset\":1"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(post("/report", bad_reports[i]), 400);
    }
    assert_int_equal(stat_of("reports"), reports + 4);
    assert_int_equal(stat_of("bad"), bad + 4);
    expect("127.0.0.1", "GET", "/report", NULL, 405);
    expect("127.0.0.2", "GET", "/stats", NULL, 404);

    /* The reports file: one line per recorded report, the four last. */
    char *text = cl_test_read_file(
        cl_test_path(path, sizeof(path), g_dir, "reports.jsonl"), &len);
    assert_int_equal(count_of(text, "\n"), (size_t)(reports + 4));
    snprintf(tail, sizeof(tail), "%s\n%s\n%s\n%s\n", a, b, a,
             "{   \"offset\": 40, \"partition\": 3,   \"topic\": \"urls\", "
             "\"job_id\": 3 }");
    assert_string_equal(text + len - strlen(tail), tail);
    free(text);
}

/* Failures on demand (/control): --report-fail-pct's share answered 503,
 * counted as failed, not recorded. */
static void test_report_fail_pct(void **state)
{
    (void)state;
    long reports = stat_of("reports"), failed = stat_of("failed");
    long ok = 0, refused = 0;
    char body[160];

    assert_int_equal(post("/control", "{\"report_fail_pct\":50}"), 200);
    assert_int_equal(stat_of("report_fail_pct"), 50);
    for (int i = 0; i < 200; i++) {
        snprintf(body, sizeof(body),
                 "{\"job_id\":\"f%d\",\"topic\":\"pct\",\"partition\":0,"
                 "\"offset\":%d}",
                 i, i);
        int st = post("/report", body);
        assert_true(st == 200 || st == 503);
        ok += st == 200;
        refused += st == 503;
    }
    assert_in_range(refused, 60, 140);
    assert_int_equal(stat_of("failed"), failed + refused);
    assert_int_equal(stat_of("reports"), reports + ok);

    assert_int_equal(post("/control", "{\"report_fail_pct\":100}"), 200);
    for (int i = 0; i < 20; i++) {
        if (i == 10) {
            assert_int_equal(post("/control", "{\"report_fail_pct\":0}"), 200);
        }
        assert_int_equal(post("/report", body), i < 10 ? 503 : 200);
    }
    assert_int_equal(stat_of("failed"), failed + refused + 10);

    /* Bad control bodies change nothing. */
    assert_int_equal(post("/control", "{\"report_fail_pct\":101}"), 400);
    assert_int_equal(post("/control", "{\"report_fail_pct\":\"x\"}"), 400);
    assert_int_equal(post("/control", "{\"socks_stall_ms\":-5}"), 400);
    assert_int_equal(post("/control", "{\"report_fail_pct\":5,"), 400);
    assert_int_equal(post("/control", "{}"), 400);
    assert_int_equal(stat_of("report_fail_pct"), 0);
}

/* --- The SOCKS5 proxy --- */

static void test_socks_relay(void **state)
{
    (void)state;
    struct resp r;
    long connects = stat_of("socks_connects");
    /* Relayed (0) for 127/8 as IPv4 or name; not loopback (2), IPv6 (8),
     * BIND (7), nobody listening (5). */
    static const struct {
        int cmd, atyp, port, rep;
        const char *host;
    } cases[] = {
        {1, 1, 0, 0, "127.0.0.3"},    {1, 3, 0, 0, "127.0.0.2"},
        {1, 3, 0, 0, "localhost"},    {1, 1, 80, 2, "10.0.0.1"},
        {1, 3, 80, 2, "example.com"}, {1, 4, 80, 8, "0123456789abcdef"},
        {2, 1, 80, 7, "127.0.0.1"},   {1, 1, 1, 5, "127.0.0.1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = socks_greet(g_fx.socks);
        int port = cases[i].port ? cases[i].port : g_fx.http;
        assert_int_equal(
            socks_request(fd, cases[i].cmd, cases[i].atyp, cases[i].host, port),
            cases[i].rep);
        if (cases[i].rep != 0) {
            close(fd);
            continue;
        }
        http_on(fd, cases[i].host, "GET", "/p/1", NULL, &r);
        assert_non_null(strstr(r.body, "<title>Page 1 on host "));
        resp_free(&r);
    }
    assert_int_equal(stat_of("socks_connects"), connects + 3);

    /* Only username/password offered: no acceptable method. */
    int fd = tcp_connect("127.0.0.1", g_fx.socks);
    unsigned char b[3];
    send_bytes(fd, "\x05\x01\x02", 3);
    assert_int_equal(recv_upto(fd, b, 3, IO_MS), 2);
    assert_memory_equal(b, "\x05\xff", 2);
    close(fd);
}

static void test_socks_stall(void **state)
{
    (void)state;
    unsigned char b[2];
    struct resp r;

    assert_int_equal(post("/control", "{\"socks_stall_ms\":700}"), 200);
    int64_t t0 = cl_test_mono_ms();
    assert_in_range(stat_of("socks_stall_ms"), 500, 700);
    int fd = tcp_connect("127.0.0.1", g_fx.socks); /* accepted... */
    send_bytes(fd, "\x05\x01\x00", 3);
    assert_int_equal(recv_upto(fd, b, 2, 400), 0); /* ...but no answer */
    assert_int_equal(recv_upto(fd, b, 2, 3000), 2);
    assert_in_range(cl_test_mono_ms() - t0, 650, 2500); /* after ~700 ms */
    assert_memory_equal(b, "\x05\x00", 2);
    assert_int_equal(socks_request(fd, 1, 1, "127.0.0.4", g_fx.http), 0);
    http_on(fd, "127.0.0.4", "GET", "/p/2", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* Works again at once; a long stall ended early by /control. */
    int64_t t1 = cl_test_mono_ms();
    close(socks_greet(g_fx.socks));
    assert_true(cl_test_mono_ms() - t1 < 500);
    assert_int_equal(post("/control", "{\"socks_stall_ms\":60000}"), 200);
    fd = tcp_connect("127.0.0.1", g_fx.socks);
    send_bytes(fd, "\x05\x01\x00", 3);
    assert_int_equal(recv_upto(fd, b, 2, 300), 0);
    assert_int_equal(post("/control", "{\"socks_stall_ms\":0}"), 200);
    t1 = cl_test_mono_ms();
    assert_int_equal(recv_upto(fd, b, 2, 2000), 2);
    assert_true(cl_test_mono_ms() - t1 < 1000);
    close(fd);
}

/* --- Robustness, shutdown, command line --- */

static void test_hostile_clients(void **state)
{
    (void)state;
    int idle[20];
    char out[64], *junk = malloc(70 * 1024 + 1);

    for (int i = 0; i < 20; i++) { /* connected, silent or half a request */
        idle[i] = tcp_connect(i % 2 ? "127.0.0.2" : "127.0.0.1", g_fx.http);
    }
    send_bytes(idle[1], "GET /p/1 HTTP/1.1\r\nHost: x", 26);
    assert_non_null(junk); /* 70 KiB of headers */
    memset(junk, 'a', 70 * 1024);
    memcpy(junk, "GET /p/1 HTTP/1.1\r\nX-Junk: ", 27);
    junk[70 * 1024] = '\0';
    const char *const bad[] = {
        "HELLO\r\n\r\n",
        "POST /report HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n",
        "POST /report HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\n{}\r\n0\r\n\r\n",
        junk,
    };
    for (size_t i = 0; i < 4; i++) {
        int fd = tcp_connect("127.0.0.1", g_fx.http);
        send(fd, bad[i], strlen(bad[i]), MSG_NOSIGNAL); /* may be cut off */
        out[recv_upto(fd, out, sizeof(out) - 1, IO_MS)] = '\0';
        close(fd);
        /* 400; the junk may also be cut off by a close (a reset). */
        if (strncmp(out, "HTTP/1.1 400 ", 13) != 0 && (i < 3 || *out)) {
            fail_msg("bad request %zu: answered \"%s\"", i, out);
        }
    }
    free(junk);
    /* Meanwhile everyone else is served at once. */
    int64_t t0 = cl_test_mono_ms();
    expect("127.0.0.2", "GET", "/p/3", NULL, 200);
    expect("127.0.0.1", "GET", "/robots.txt", NULL, 200);
    assert_true(cl_test_mono_ms() - t0 < 1000);
    for (int i = 0; i < 20; i++) {
        close(idle[i]);
    }
}

/* SIGTERM ends it at once, whatever its connections are doing: an idle
 * one, a slow page being waited for, a live tunnel, a stalled greeting. */
static void test_sigterm_with_busy_connections(void **state)
{
    (void)state;
    struct fixture f;
    struct resp r;
    unsigned char b[16];
    static const char *const args[] = {"--hosts", "2", "--slow-ms", "20000",
                                       NULL};
    fixture_spawn(&f, args, "sigterm.stderr", 1);
    assert_int_equal(f.hosts, 2);

    int fds[4] = {tcp_connect("127.0.0.2", f.http),
                  tcp_connect("127.0.0.1", f.http), socks_greet(f.socks), -1};
    send_bytes(fds[1], "GET /slow/1 HTTP/1.1\r\n\r\n", 24);
    assert_int_equal(socks_request(fds[2], 1, 1, "127.0.0.2", f.http), 0);
    http_on(tcp_connect("127.0.0.1", f.http), "127.0.0.1", "POST", "/control",
            "{\"socks_stall_ms\":20000}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    fds[3] = tcp_connect("127.0.0.1", f.socks);
    send_bytes(fds[3], "\x05\x01\x00", 3);
    cl_test_sleep_ms(100); /* let every connection reach its wait */

    int st = fixture_stop(&f);
    if (st == -1) {
        fail_msg("crawl-fixture did not exit within 2 s of SIGTERM");
    }
    cl_test_assert_exit_ok(st);
    /* Every connection was closed, every listening socket too. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(recv_upto(fds[i], b, sizeof(b), 1000), 0);
        close(fds[i]);
    }
    static const char *const ips[] = {"127.0.0.1", "127.0.0.2", "127.0.0.1"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tcp_connect_opt(ips[i], i < 2 ? f.http : f.socks, 0),
                         -1);
        assert_int_equal(errno, ECONNREFUSED);
    }
    char *err = cl_test_read_file(f.err_path, NULL);
    assert_non_null(strstr(err, "crawl-fixture: stopped (signal 15)"));
    free(err);
}

/* Bad options exit 2; a port in use (the group fixture's) exits 1. */
static void test_command_line(void **state)
{
    (void)state;
    struct fixture f;
    char port[16];
    snprintf(port, sizeof(port), "%d", g_fx.http);
    const char *const runs[][3] = {
        {"--hosts", "255", NULL}, {"--pages", "x", NULL},
        {"--bogus", "1", NULL},   {"--report-fail-pct", NULL},
        {"--port", port, NULL},
    };
    for (size_t i = 0; i < 5; i++) {
        fixture_spawn(&f, runs[i], "cli.stderr", 0);
        int st = reap(f.pid, IO_MS);
        assert_true(st != -1 && WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), i < 4 ? 2 : 1);
    }
    char *err = cl_test_read_file(f.err_path, NULL);
    assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
    free(err);
}

static int group_setup(void **state)
{
    char reports[4200];
    if (cl_test_tmpdir_setup(state) != 0) {
        return -1;
    }
    snprintf(g_dir, sizeof(g_dir), "%s", CL_TEST_DIR(state));
    cl_test_path(reports, sizeof(reports), g_dir, "reports.jsonl");
    const char *const args[] = {"--hosts",   "4",     "--pages", "50",
                                "--slow-ms", "300",   "--seed",  "7",
                                "--reports", reports, NULL};
    fixture_spawn(&g_fx, args, "fixture.stderr", 1);
    return 0;
}

/* Stop the group's fixture (SIGTERM: exit 0 within 2 s), kill whatever a
 * failed test left, and check that no child process is left. */
static int group_teardown(void **state)
{
    int st = g_fx.pid > 0 ? fixture_stop(&g_fx) : 0;
    int rc = st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ? -1 : 0;
    if (rc != 0) {
        fprintf(stderr, "crawl-fixture: no exit 0 on SIGTERM (%d)\n", st);
    }
    for (size_t i = 0; i < 8; i++) {
        if (g_pids[i] > 0) {
            kill(g_pids[i], SIGKILL);
            reap(g_pids[i], 2000);
        }
    }
    if (waitpid(-1, &st, WNOHANG) != -1 || errno != ECHILD) {
        fprintf(stderr, "a child process is left\n");
        rc = -1;
    }
    cl_test_tmpdir_teardown(state);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_site),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_report_counts_duplicates),
        cmocka_unit_test(test_report_fail_pct),
        cmocka_unit_test(test_socks_relay),
        cmocka_unit_test(test_socks_stall),
        cmocka_unit_test(test_hostile_clients),
        cmocka_unit_test(test_sigterm_with_busy_connections),
        cmocka_unit_test(test_command_line),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
