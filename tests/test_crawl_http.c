/*
 * test_crawl_http.c - the crawl examples' HTTP client and SOCKS5 connect
 * (examples/crawl/http.c, http_parse.c, socks5.c).
 *
 * URLs against the RFC 3986 section 5.4 examples, the response-head
 * helpers, then requests to small servers run in threads of the test on
 * 127.0.0.1: all body framings, redirects, the body cap, deadlines, a
 * closed port, hostile servers, and SOCKS5 proxies written here (relaying
 * with exact handshake checks, stalling: the "Tor outage", refusing).
 * Nothing here uses examples/crawl/httpd.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "http.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* rc must be want; print r's err and status otherwise. */
#define assert_cx(rc, want, r)                                                 \
    do {                                                                       \
        int cx_rc_ = (rc);                                                     \
        if (cx_rc_ != (want))                                                  \
            cl_test_failf_at(__FILE__, __LINE__,                               \
                             "%s: got %s, want %s (err \"%s\", status %d)",    \
                             #rc, cx_err_name(cx_rc_), cx_err_name(want),      \
                             (r)->err, (r)->status);                           \
    } while (0)

/* ---- URLs ---- */

static void check_resolve(const struct cx_url *base, const char *ref,
                          const char *want)
{
    char out[2400] = "";
    int rc = cx_url_resolve(base, ref, out, sizeof out);
    if (want == NULL ? rc != CX_EURL : rc != CX_OK || strcmp(out, want) != 0)
        cl_test_failf_at(__FILE__, __LINE__, "\"%s\" -> \"%s\" (%s), want %s",
                         ref, out, cx_err_name(rc), want ? want : "CX_EURL");
}

static void test_url_resolve_rfc3986(void **state)
{
    (void)state;
    struct cx_url b;
    assert_int_equal(cx_url_parse("http://a/b/c/d;p?q", &b), CX_OK);
    /* clang-format off */
    static const char *const v[][2] = {
        /* RFC 3986 5.4.1 normal examples (fragments dropped) */
        {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"}, {"//g", "http://g/"},
        {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q"}, {"g#s", "http://a/b/c/g"},
        {"g?y#s", "http://a/b/c/g?y"}, {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"}, {"g;x?y#s", "http://a/b/c/g;x?y"},
        {"", "http://a/b/c/d;p?q"}, {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"}, {"..", "http://a/b/"}, {"../", "http://a/b/"},
        {"../g", "http://a/b/g"}, {"../..", "http://a/"},
        {"../../", "http://a/"}, {"../../g", "http://a/g"},
        /* 5.4.2 abnormal examples */
        {"../../../g", "http://a/g"}, {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"}, {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."}, {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."}, {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"}, {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"}, {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"}, {"g#s/../x", "http://a/b/c/g"},
        /* crawler extras */
        {"HTTP://Other.EXAMPLE:80/x", "http://other.example/x"},
        {"https://h:8443", "https://h:8443/"},
        {"  g h\t\n ", "http://a/b/c/g%20h"}, {"//u:p@h:81/p", "http://h:81/p"},
    };
    /* clang-format on */
    for (size_t i = 0; i < NELEM(v); i++)
        check_resolve(&b, v[i][0], v[i][1]);
    check_resolve(&b, "g:h", NULL); /* a scheme we do not fetch */
    check_resolve(&b, "mailto:x@y", NULL);
    check_resolve(&b, "javascript:void(0)", NULL);
    check_resolve(&b, "http://h:99999/", NULL);
    char small[16];
    assert_int_equal(cx_url_resolve(&b, "/a-long-path", small, sizeof small),
                     CX_EURL);
}

static void test_url_parse_format(void **state)
{
    (void)state;
    struct cx_url u;
    char out[2400];
    assert_int_equal(cx_url_parse("HTTP://WWW.Example.COM:8080", &u), CX_OK);
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "www.example.com");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/");
    assert_int_equal(cx_url_parse("http://h/a/./b/../c?q=1/../x#frag", &u),
                     CX_OK);
    assert_string_equal(u.path, "/a/c?q=1/../x");
    assert_int_equal(u.port, 80);
    assert_int_equal(cx_url_parse("https://h:443?x", &u), CX_OK);
    cx_url_format(&u, out, sizeof out);
    assert_string_equal(out, "https://h/?x");
    assert_int_equal(cx_url_parse("http://[::1]:8080/x", &u), CX_OK);
    assert_string_equal(u.host, "::1");
    cx_url_format(&u, out, sizeof out);
    assert_string_equal(out, "http://[::1]:8080/x");
    assert_int_equal(cx_url_parse("http://h:80/\"<x>", &u), CX_OK);
    cx_url_format(&u, out, sizeof out);
    assert_string_equal(out, "http://h/%22%3Cx%3E");
    static const char *const bad[] = {
        "ftp://h/",          "http://",      "http:///x", "http://h:0/",
        "http://h:x/",       "h/path",       "http:/h/",  "http://h h/",
        "http://h\xc3\xa9/", "http://[::1/", "//h/",      "",
    };
    for (size_t i = 0; i < NELEM(bad); i++)
        if (cx_url_parse(bad[i], &u) != CX_EURL)
            fail_msg("\"%s\" parsed", bad[i]);
    char longurl[3000] = "http://h/";
    memset(longurl + 9, 'a', 2100);
    assert_int_equal(cx_url_parse(longurl, &u), CX_EURL);
}

static void test_head_helpers(void **state)
{
    (void)state;
    const char h[] = "HTTP/1.1 200 OK\r\ncontent-TYPE:  text/html \r\n"
                     "X-A: Content-Length: 9\r\nContent-Length: 12\r\n"
                     " folded: 1\r\nContent-Length:12\r\n\r\nbody";
    size_t hl = cx_http_head_end(h, sizeof h - 1, 0);
    assert_int_equal(hl, sizeof h - 1 - 4);
    assert_int_equal(cx_http_head_end(h, hl - 1, 0), 0);
    assert_int_equal(cx_http_head_end("HTTP/1.0 200 OK\n\nx", 18, 0), 17);
    int st = 0;
    assert_int_equal(cx_http_parse_status(h, hl, &st), CX_OK);
    assert_int_equal(st, 200);
    char v[8], e[100];
    assert_int_equal(cx_http_header(h, hl, "Content-Type", 0, v, 8), 9);
    assert_string_equal(v, "text/ht"); /* cut to 7 bytes */
    assert_int_equal(cx_http_header(h, hl, "folded", 0, v, 8), -1);
    assert_int_equal(cx_http_header(h, hl, "content-length", 1, v, 8), 2);
    assert_int_equal(cx_http_header(h, hl, "content-length", 2, v, 8), -1);
    uint64_t n = 0;
    assert_int_equal(cx_http_framing(h, hl, 200, &n, e, 99), CX_BODY_LENGTH);
    assert_int_equal(n, 12);
    assert_int_equal(cx_http_framing(h, hl, 304, &n, e, 99), CX_BODY_NONE);
    const char c[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                     "Transfer-Encoding: gzip, Chunked\r\n\r\n";
    assert_int_equal(cx_http_framing(c, sizeof c - 1, 200, &n, e, 99),
                     CX_BODY_CHUNKED);
    static const char *const lens[] = {"",    "-1",   "+5",
                                       "5 5", "0x10", "1125899906842625"};
    for (size_t i = 0; i < NELEM(lens); i++)
        if (cx_http_parse_length(lens[i], &n) != CX_EPROTO)
            fail_msg("Content-Length \"%s\" accepted", lens[i]);
    assert_int_equal(cx_http_parse_length("1125899906842624", &n), CX_OK);
    static const char *const okc[] = {"1a", "1A;x=y", "0001a\r", "1a ;x"};
    for (size_t i = 0; i < NELEM(okc); i++) {
        n = 0;
        if (cx_http_parse_chunk_size(okc[i], strlen(okc[i]), &n) || n != 26)
            fail_msg("chunk size \"%s\" -> %d", okc[i], (int)n);
    }
    static const char *const badc[] = {"",      "zz",  "-1",
                                       "1a\rx", "1 a", "4000000000001"};
    for (size_t i = 0; i < NELEM(badc); i++)
        if (cx_http_parse_chunk_size(badc[i], strlen(badc[i]), &n) != CX_EPROTO)
            fail_msg("chunk size \"%s\" accepted", badc[i]);
}

/* ---- In-test servers ---- */

/* What a server does per connection: a mode (M_*, P_*), or with M_CANNED
 * send canned, then fill bytes of 'x', then (wait) stall until stopped. */
struct spec {
    int mode;
    const char *canned;
    size_t fill;
    int wait;
    int target_port; /* proxies: where to relay */
};

/* A server thread: accepts on 127.0.0.1:port and runs fn per connection,
 * one at a time, until srv_stop.  Fields other than the atomics are
 * written by the thread and read by the test after the join. */
struct srv {
    int lfd, port;
    pthread_t th;
    void (*fn)(struct srv *s, int fd);
    struct spec sp;
    atomic_int stop;
    atomic_int conns;
    char log[1024];  /* "METHOD PATH\n" per HTTP request */
    char req[8192];  /* the last request, in full */
    char proxy[256]; /* proxies: the CONNECT target ("host:port") */
    int proxy_ok;    /* proxies: greeting and CONNECT exactly as expected */
};

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->conns, 1);
        s->fn(s, fd);
        close(fd);
    }
    return NULL;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void srv_start(struct srv *s, void (*fn)(struct srv *, int),
                      struct spec sp)
{
    memset(s, 0, sizeof *s);
    s->sp = sp;
    atomic_init(&s->stop, 0);
    atomic_init(&s->conns, 0);
    s->fn = fn;
    s->lfd = listen_any(&s->port);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
    atomic_store(&s->stop, 1);
    assert_int_equal(pthread_join(s->th, NULL), 0);
    close(s->lfd);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal only makes it shorter */
}

/* Block until the test stops the server (a stalled peer). */
static void wait_stop(struct srv *s)
{
    while (!atomic_load(&s->stop))
        sleep_ms(5);
}

/* Send everything, ignoring a client that went away. */
#define PUTS(fd, s) put(fd, s, strlen(s))
static void put(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

/* Read exactly n bytes within 3 s: 0, or -1. */
static int get(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 3000) <= 0)
            return -1;
        ssize_t k = recv(fd, c, n, 0);
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Read one request (head and Content-Length body) into s->req; log its
 * request line; put the path into path. */
static void read_req(struct srv *s, int fd, char path[1024])
{
    size_t len = 0, cap = sizeof s->req - 1, body = 0;
    char *end = NULL, method[16] = "";
    s->req[0] = path[0] = '\0';
    while (len < cap && (end = strstr(s->req, "\r\n\r\n")) == NULL &&
           get(fd, s->req + len, 1) == 0)
        s->req[++len] = '\0';
    const char *cl = strstr(s->req, "Content-Length: ");
    if (cl != NULL)
        body = (size_t)atol(cl + 16);
    if (end == NULL || body > cap - len || get(fd, s->req + len, body) != 0 ||
        sscanf(s->req, "%15s %1023s", method, path) != 2)
        return;
    s->req[len + body] = '\0';
    size_t ll = strlen(s->log);
    snprintf(s->log + ll, sizeof s->log - ll, "%s %s\n", method, path);
}

enum { M_CANNED, M_CHUNKED, M_ROUTES, M_DRIP };

#define H200 "HTTP/1.1 200 OK\r\n"
#define CHUNKED H200 "Transfer-Encoding: chunked\r\n\r\n"
#define OK_CL(n) H200 "Content-Length: " #n "\r\n\r\n"
#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define CLOSE_HEAD "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"

static void routes(struct srv *s, int fd, const char *path)
{
    static const char *const r[][2] = {
        {"/a", "301 Moved\r\nLocation: /b\r\nContent-Length: 3\r\n\r\nabc"},
        {"/b", "302 Found\r\nlocation:  c?x=1#frag\r\n\r\n"},
        {"/d", "200 OK\r\nContent-Length: 4\r\n\r\ndone"},
        {"/form", "303 See Other\r\nLocation: /echo\r\n\r\n"},
        {"/keep", "307 Temporary\r\nLocation: /echo\r\n\r\n"},
        {"/moved", "301 Moved\r\nLocation: /echo\r\n\r\n"},
        {"/loop", "302 Found\r\nLocation: /loop\r\n\r\n"},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        if (strcmp(path, r[i][0]) == 0) {
            PUTS(fd, "HTTP/1.1 ");
            PUTS(fd, r[i][1]);
            return;
        }
    }
    if (strcmp(path, "/c?x=1") == 0) { /* an absolute Location */
        snprintf(buf, sizeof buf,
                 "HTTP/1.1 307 Temporary\r\nLocation: http://127.0.0.1:%d/d"
                 "\r\n\r\n",
                 s->port);
        PUTS(fd, buf);
    } else { /* the request itself as the body */
        snprintf(buf, sizeof buf, H200 "Content-Length: %zu\r\n\r\n",
                 strlen(s->req));
        PUTS(fd, buf);
        PUTS(fd, s->req);
    }
}

static void http_fn(struct srv *s, int fd)
{
    char path[1024], buf[4096];
    read_req(s, fd, path);
    if (s->sp.mode == M_CHUNKED) { /* in pieces, split inside sizes, CRLFs */
        static const char *const parts[] = {
            CHUNKED "5\r", "\nhel", "lo\r\n1;name=val\r\n \r\n00",
            "05\r\nworld\r", "\n0\r\nX-Trailer: 1\r\n\r\n"};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            PUTS(fd, parts[i]);
            sleep_ms(3);
        }
    } else if (s->sp.mode == M_ROUTES) {
        routes(s, fd, path);
    } else if (s->sp.mode == M_DRIP) { /* a byte per 50 ms: reads are quick */
        PUTS(fd, OK_CL(1000));
        while (!atomic_load(&s->stop) && send(fd, "z", 1, MSG_NOSIGNAL) == 1)
            sleep_ms(50);
    } else {
        PUTS(fd, s->sp.canned);
        memset(buf, 'x', sizeof buf);
        for (size_t n = s->sp.fill; n > 0;) {
            size_t k = n < sizeof buf ? n : sizeof buf;
            put(fd, buf, k); /* a peer that left makes this quick */
            n -= k;
        }
        if (s->sp.wait)
            wait_stop(s);
    }
}

static char base_url[64];

static const char *url_of(const struct srv *s, const char *path)
{
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d%s", s->port, path);
    return base_url;
}

/* GET path from a server doing sp: the rc of cx_http_get. */
static int get_sp(struct spec sp, const char *path,
                  const struct cx_http_opts *o, struct cx_http_resp *r,
                  struct srv *s)
{
    srv_start(s, http_fn, sp);
    int rc = cx_http_get(url_of(s, path), o, r);
    srv_stop(s);
    return rc;
}

static const struct spec routes_sp = {.mode = M_ROUTES};
#define RESP_CL                                                                \
    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=x\r\n"                \
    "Content-Length: 11\r\n\r\nhello world"
/* an interim 100, names in odd cases, a decoy inside a value */
#define RESP_CASE                                                              \
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n"                  \
    "X-Other: Content-Length: 99\r\ncontent-LENGTH: 5\r\n"                     \
    "CONTENT-type:   text/plain  \r\n\r\nnope!"

static int get_canned(const char *canned, size_t fill,
                      const struct cx_http_opts *o, struct cx_http_resp *r,
                      struct srv *s)
{
    return get_sp((struct spec){.canned = canned, .fill = fill}, "/", o, r, s);
}

/* ---- HTTP ---- */

static void test_request_format(void **state)
{
    (void)state;
    struct srv s;
    struct cx_http_resp r;
    struct cx_http_opts o = {.user_agent = "test-agent/2",
                             .extra_headers = "X-One: 1\r\nX-Two: 2"};
    assert_cx(
        get_sp((struct spec){.canned = RESP_CL}, "/p/a?q=1#frag", &o, &r, &s),
        CX_OK, &r);
    assert_string_equal(r.err, "");
    assert_true(r.elapsed_ms >= 0 && r.elapsed_ms < 2000);
    char want[128];
    snprintf(want, sizeof want,
             "GET /p/a?q=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", s.port);
    assert_memory_equal(s.req, want, strlen(want));
    assert_non_null(strstr(s.req, "\r\nUser-Agent: test-agent/2\r\n"));
    assert_non_null(strstr(s.req, "\r\nAccept-Encoding: identity\r\n"));
    assert_non_null(strstr(s.req, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(s.req, "\r\nX-One: 1\r\nX-Two: 2\r\n\r\n"));
    assert_null(strstr(s.req, "Content-Length"));
    cx_http_resp_free(&r);
    assert_null(r.body);
    cx_http_resp_free(&r); /* twice is fine */
}

/* Content-Length, chunked (in pieces), read-until-close, odd name cases;
 * a 302 without Location is an answer. */
static void test_get_bodies(void **state)
{
    (void)state;
    static const struct {
        struct spec sp;
        int status;
        size_t len;
        const char *body, *ctype; /* body NULL: all 'x' */
    } v[] = {
        /* clang-format off */
        {{.canned = RESP_CL}, 200, 11, "hello world", "text/html; charset=x"},
        {{.mode = M_CHUNKED}, 200, 11, "hello world", ""},
        {{.canned = CLOSE_HEAD, .fill = 99999}, 200, 99999, NULL, "text/plain"},
        {{.canned = RESP_CASE}, 404, 5, "nope!", "text/plain"},
        {{.canned = "HTTP/1.1 302 Found\r\n\r\nhi"}, 302, 2, "hi", ""},
        /* clang-format on */
    };
    for (size_t i = 0; i < NELEM(v); i++) {
        struct srv s;
        struct cx_http_resp r;
        assert_cx(get_sp(v[i].sp, "/", NULL, &r, &s), CX_OK, &r);
        assert_int_equal(r.status, v[i].status);
        assert_int_equal(r.body_len, v[i].len);
        assert_int_equal(strlen(r.body), v[i].len);
        if (v[i].body != NULL)
            assert_string_equal(r.body, v[i].body);
        else
            assert_int_equal(strspn(r.body, "x"), v[i].len);
        assert_string_equal(r.content_type, v[i].ctype);
        assert_int_equal(r.truncated, 0);
        assert_int_equal(r.redirects, 0);
        cx_http_resp_free(&r);
    }
}

static void test_redirects(void **state)
{
    (void)state;
    struct srv s;
    struct cx_http_resp r;
    char want[256];
    assert_cx(get_sp(routes_sp, "/a", NULL, &r, &s), CX_OK, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "done");
    assert_int_equal(r.redirects, 3);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/d", s.port);
    assert_string_equal(r.final_url, want);
    assert_string_equal(s.log, "GET /a\nGET /b\nGET /c?x=1\nGET /d\n");
    cx_http_resp_free(&r);
    /* max_redirects -1: the 301 itself, with its body */
    struct cx_http_opts o = {.max_redirects = -1};
    assert_cx(get_sp(routes_sp, "/a", &o, &r, &s), CX_OK, &r);
    assert_int_equal(r.status, 301);
    assert_string_equal(r.body, "abc");
    assert_int_equal(r.redirects, 0);
    cx_http_resp_free(&r);
    /* a loop: max_redirects followed, then CX_EPROTO */
    o.max_redirects = 2;
    assert_cx(get_sp(routes_sp, "/loop", &o, &r, &s), CX_EPROTO, &r);
    assert_int_equal(atomic_load(&s.conns), 3);
    assert_int_equal(r.redirects, 2);
    assert_non_null(strstr(r.err, "redirects"));
    assert_null(r.body);
    assert_int_equal(r.status, 0);
    assert_cx(get_sp(routes_sp, "/loop", NULL, &r, &s), CX_EPROTO, &r);
    assert_int_equal(atomic_load(&s.conns), 6); /* default: 5 */
    /* to https: refused, final_url says where (for the curl fetcher) */
    assert_cx(get_canned("HTTP/1.1 302 Found\r\nLocation: "
                         "https://Example.ORG/x\r\n\r\n",
                         0, NULL, &r, &s),
              CX_EPROTO, &r);
    assert_string_equal(r.err, "https needs --fetcher curl");
    assert_string_equal(r.final_url, "https://example.org/x");
    assert_int_equal(r.redirects, 1);
    assert_cx(cx_http_get("https://example.org/", NULL, &r), CX_EPROTO, &r);
    assert_non_null(strstr(r.err, "curl"));
    assert_cx(cx_http_get("ftp://example.org/", NULL, &r), CX_EURL, &r);
    assert_cx(cx_http_get(NULL, NULL, &r), CX_EURL, &r);
}

static int post(struct srv *s, const char *path, const char *ctype,
                struct cx_http_resp *r)
{
    return cx_http_post(url_of(s, path), ctype, "a=1&b=2", 7, NULL, r);
}

static void test_post_redirects(void **state)
{
    (void)state;
    static struct srv s; /* outlives a failed assert while it runs */
    struct cx_http_resp r;
    srv_start(&s, http_fn, routes_sp);
    /* 303: GET, no body */
    assert_cx(post(&s, "/form", "application/x-www-form-urlencoded", &r), CX_OK,
              &r);
    assert_int_equal(r.redirects, 1);
    assert_memory_equal(r.body, "GET /echo HTTP/1.1\r\n", 20);
    assert_null(strstr(r.body, "Content-Length"));
    assert_null(strstr(r.body, "a=1"));
    cx_http_resp_free(&r);
    /* 307: POST again, same body */
    assert_cx(post(&s, "/keep", "text/plain", &r), CX_OK, &r);
    assert_memory_equal(r.body, "POST /echo HTTP/1.1\r\n", 21);
    assert_non_null(strstr(r.body, "\r\nContent-Type: text/plain\r\n"));
    assert_non_null(strstr(r.body, "\r\nContent-Length: 7\r\n"));
    assert_non_null(strstr(r.body, "\r\n\r\na=1&b=2"));
    cx_http_resp_free(&r);
    /* 301 after POST: GET, as browsers do */
    assert_cx(post(&s, "/moved", "text/plain", &r), CX_OK, &r);
    assert_memory_equal(r.body, "GET /echo HTTP/1.1\r\n", 20);
    cx_http_resp_free(&r);
    /* a header value with CR LF is refused before any I/O */
    assert_cx(post(&s, "/x", "a\r\nX-Evil: 1", &r), CX_EPROTO, &r);
    srv_stop(&s);
    assert_string_equal(s.log, "POST /form\nGET /echo\nPOST /keep\n"
                               "POST /echo\nPOST /moved\nGET /echo\n");
}

static void test_body_cap(void **state)
{
    (void)state;
    struct srv s;
    struct cx_http_resp r;
    struct cx_http_opts o = {.body_max = 100};
    const char *heads[] = {OK_CL(1000), CLOSE_HEAD};
    for (int i = 0; i < 2; i++) {
        assert_cx(get_canned(heads[i], 1000, &o, &r, &s), CX_OK, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.truncated, 1);
        assert_int_equal(r.body_len, 100);
        assert_int_equal(strlen(r.body), 100);
        cx_http_resp_free(&r);
    }
    /* exactly body_max bytes (two chunks, 60 + 40): not truncated */
    char resp[300];
    snprintf(resp, sizeof resp,
             CHUNKED "3c\r\n%.60s\r\n28\r\n%.40s\r\n0\r\n\r\n", X100, X100);
    assert_cx(get_canned(resp, 0, &o, &r, &s), CX_OK, &r);
    assert_int_equal(r.body_len, 100);
    assert_int_equal(r.truncated, 0);
    cx_http_resp_free(&r);
    o.body_max = 99;
    assert_cx(get_canned(resp, 0, &o, &r, &s), CX_OK, &r);
    assert_int_equal(r.body_len, 99);
    assert_int_equal(r.truncated, 1);
    assert_int_equal(strspn(r.body, "x"), 99);
    cx_http_resp_free(&r);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_timeouts(void **state)
{
    (void)state;
    struct srv s;
    struct cx_http_resp r;
    struct cx_http_opts o = {.read_ms = 300};
    const char *canned[] = {"", OK_CL(10) "abc"}; /* then silence */
    for (int i = 0; i < 2; i++) {
        double t0 = mono_ms();
        struct spec sp = {.canned = canned[i], .wait = 1};
        assert_cx(get_sp(sp, "/", &o, &r, &s), CX_ETIMEOUT, &r);
        double took = mono_ms() - t0;
        assert_true(r.elapsed_ms >= 290 && r.elapsed_ms < 600);
        assert_true(took < 700);
        assert_null(r.body);
        assert_non_null(strstr(r.err, "300 ms"));
    }
    /* a byte every 50 ms never trips read_ms but does trip total_ms */
    o.read_ms = 1000;
    o.total_ms = 400;
    assert_cx(get_sp((struct spec){.mode = M_DRIP}, "/", &o, &r, &s),
              CX_ETIMEOUT, &r);
    assert_true(r.elapsed_ms >= 390 && r.elapsed_ms < 800);
    assert_non_null(strstr(r.err, "total"));
}

/* A port nothing listens on (it was just released). */
static int closed_port(void)
{
    int port;
    close(listen_any(&port));
    return port;
}

static void test_connect_refused(void **state)
{
    (void)state;
    int port = closed_port();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    struct cx_http_resp r;
    assert_cx(cx_http_get(url, NULL, &r), CX_ECONNECT, &r);
    assert_non_null(strstr(r.err, "refused"));
    assert_true(r.elapsed_ms < 1000);
}

static void test_hostile_servers(void **state)
{
    (void)state;
    static const struct {
        const char *canned;
        size_t fill;
        const char *err; /* in r.err */
    } v[] = {
        /* clang-format off */
        {H200 "X-Junk: ", 1 << 20, "64 KiB"},
        {CHUNKED "zz\r\nhello\r\n0\r\n\r\n", 0, "chunk size"},
        {CHUNKED "fffffffffffff\r\nhello\r\n0\r\n\r\n", 0, "chunk size"},
        {CHUNKED "5\r\nhelloXX0\r\n\r\n", 0, "CRLF"},
        {CHUNKED "5\r\nhel", 0, "closed"},
        {OK_CL(99999999999999999999999999) "hello", 0, "Content-Length"},
        {OK_CL(-1), 0, "Content-Length"},
        {H200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, "conflict"},
        {OK_CL(100) "only this", 0, "closed"},
        {"SSH-2.0-OpenSSH_9.2\r\n\r\n", 0, "status line"},
        {"HTTP/1.1 099 Low\r\n\r\n", 0, "status line"},
        {"HTTP/1.1 20 OK\r\n\r\n", 0, "status line"},
        {"HTTP/1.1 2000 OK\r\n\r\n", 0, "status line"},
        {"HTTP/1.1 101 Switching\r\n\r\n", 0, "101"},
        {H200 "Content-", 0, "inside the response head"},
        {"", 0, "before any response"},
        /* clang-format on */
    };
    for (size_t i = 0; i < NELEM(v); i++) {
        struct srv s;
        struct cx_http_resp r;
        struct cx_http_opts o = {.read_ms = 2000};
        int rc = get_canned(v[i].canned, v[i].fill, &o, &r, &s);
        if (rc != CX_EPROTO || strstr(r.err, v[i].err) == NULL)
            fail_msg("case %zu: %s \"%s\", want CX_EPROTO \"...%s...\"", i,
                     cx_err_name(rc), r.err, v[i].err);
        assert_null(r.body);
        assert_int_equal(r.status, 0);
    }
}

/* ---- SOCKS5 ---- */

enum { P_V4, P_NAME, P_V6, P_STALL1, P_STALL2, P_REFUSE, P_AUTH, P_CLOSE };

/* Copy both ways until one side closes. */
static void relay(int a, int b)
{
    char buf[4096];
    for (;;) {
        struct pollfd p[2] = {{.fd = a, .events = POLLIN},
                              {.fd = b, .events = POLLIN}};
        if (poll(p, 2, 3000) <= 0)
            return;
        for (int i = 0; i < 2; i++) {
            if (p[i].revents == 0)
                continue;
            ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
            if (n <= 0)
                return;
            put(p[1 - i].fd, buf, (size_t)n);
        }
    }
}

#define LIT(s)                                                                 \
    {                                                                          \
        s, sizeof s - 1                                                        \
    }

static void proxy_fn(struct srv *s, int fd)
{
    static const struct {
        const char *p;
        size_t n;
    } rep[] = {
        [P_V4] = LIT("\x05\x00\x00\x01\x7f\x00\x00\x01\x12\x34"),
        [P_NAME] = LIT("\x05\x00\x00\x03\x09proxy.lan\x12\x34"),
        [P_V6] = LIT("\x05\x00\x00\x04"
                     "0123456789abcdef"
                     "\x12\x34"),
        [P_REFUSE] = LIT("\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00"),
    };
    unsigned char b[300];
    int m = s->sp.mode, t = -1;
    if (m == P_STALL1)
        wait_stop(s);
    if (m == P_STALL1 || get(fd, b, 3) != 0 || memcmp(b, "\x05\x01", 3) != 0)
        return; /* the exact greeting: version 5, 1 method, no auth */
    put(fd, m == P_AUTH ? "\x05\xff" : "\x05\x00", 2);
    if (m == P_AUTH || get(fd, b, 5) != 0 ||
        memcmp(b, "\x05\x01\x00\x03", 4) != 0 ||
        get(fd, b + 5, (size_t)b[4] + 2) != 0)
        return; /* CONNECT, a host name, its length, the port */
    int port = b[5 + b[4]] << 8 | b[6 + b[4]];
    snprintf(s->proxy, sizeof s->proxy, "%.*s:%d", b[4], (char *)b + 5, port);
    s->proxy_ok = 1;
    if (m == P_STALL2)
        wait_stop(s);
    if (m <= P_V6) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)s->sp.target_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        t = socket(AF_INET, SOCK_STREAM, 0);
        if (t >= 0 && connect(t, (struct sockaddr *)&a, sizeof a) != 0) {
            close(t);
            t = -1;
        }
        m = t < 0 ? P_REFUSE : m;
    }
    if (m <= P_REFUSE)
        put(fd, rep[m].p, rep[m].n);
    if (t >= 0) {
        relay(fd, t);
        close(t);
    }
}

static void test_socks5_relay(void **state)
{
    (void)state;
    int modes[] = {P_V4, P_NAME, P_V6};
    for (int i = 0; i < 3; i++) {
        struct srv web, proxy;
        srv_start(&web, http_fn, (struct spec){.canned = RESP_CL});
        srv_start(&proxy, proxy_fn,
                  (struct spec){.mode = modes[i], .target_port = web.port});
        struct cx_http_opts o = {.socks5_host = "127.0.0.1",
                                 .socks5_port = proxy.port};
        char url[64], want[64];
        snprintf(url, sizeof url, "http://Target.ONION:%d/x", web.port);
        struct cx_http_resp r;
        int rc = cx_http_get(url, &o, &r);
        srv_stop(&proxy);
        srv_stop(&web);
        assert_cx(rc, CX_OK, &r);
        assert_string_equal(r.body, "hello world");
        assert_int_equal(proxy.proxy_ok, 1);
        snprintf(want, sizeof want, "target.onion:%d", web.port);
        assert_string_equal(proxy.proxy, want); /* the name, not an address */
        snprintf(want, sizeof want, "GET /x HTTP/1.1\r\nHost: target.onion:%d",
                 web.port);
        assert_memory_equal(web.req, want, strlen(want));
        cx_http_resp_free(&r);
    }
}

static void test_socks5_failures(void **state)
{
    (void)state;
    static const struct {
        int mode, rc; /* mode -1: nothing listens on the proxy port */
        const char *err;
        int total_ms, socks5_ms;
    } v[] = {
        /* clang-format off */
        {P_STALL1, CX_EPROXY_TIMEOUT, "greeting", 0, 300},
        {P_STALL2, CX_EPROXY_TIMEOUT, "CONNECT reply", 0, 300},
        {P_STALL2, CX_ETIMEOUT, "total deadline", 300, 5000}, /* total_ms */
        {P_REFUSE, CX_EPROXY, "connection refused", 0, 300},
        {P_AUTH, CX_EPROXY, "unauthenticated", 0, 300},
        {P_CLOSE, CX_EPROXY, "closed", 0, 300},
        {-1, CX_ECONNECT, "refused", 0, 300},
        /* clang-format on */
    };
    struct srv s5;
    for (size_t i = 0; i < NELEM(v); i++) {
        if (v[i].mode >= 0)
            srv_start(&s5, proxy_fn, (struct spec){.mode = v[i].mode});
        struct cx_http_opts o = {.socks5_host = "127.0.0.1",
                                 .total_ms = v[i].total_ms,
                                 .socks5_timeout_ms = v[i].socks5_ms};
        o.socks5_port = v[i].mode >= 0 ? s5.port : closed_port();
        struct cx_http_resp r;
        double t0 = mono_ms();
        int rc = cx_http_get("http://example.onion/", &o, &r);
        double took = mono_ms() - t0;
        if (v[i].mode >= 0)
            srv_stop(&s5);
        if (rc != v[i].rc || strstr(r.err, v[i].err) == NULL)
            fail_msg("case %zu: %s \"%s\", want %s \"...%s...\"", i,
                     cx_err_name(rc), r.err, cx_err_name(v[i].rc), v[i].err);
        assert_true(took < 600);
        if (rc == CX_EPROXY_TIMEOUT || rc == CX_ETIMEOUT)
            assert_true(r.elapsed_ms >= 290);
        assert_null(r.body);
    }
    char err[200], longname[300] = "";
    srv_start(&s5, proxy_fn, (struct spec){.mode = P_REFUSE});
    int rc = cx_socks5_connect("127.0.0.1", s5.port, "h", 80, 0, err, 200);
    srv_stop(&s5); /* timeout 0 is the default 2000, not "no time" */
    assert_int_equal(rc, CX_EPROXY);
    memset(longname, 'a', 299);
    assert_int_equal(
        cx_socks5_connect("127.0.0.1", 1, longname, 80, 300, err, sizeof err),
        CX_EPROXY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_resolve_rfc3986),
        cmocka_unit_test(test_url_parse_format),
        cmocka_unit_test(test_head_helpers),
        cmocka_unit_test(test_request_format),
        cmocka_unit_test(test_get_bodies),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_post_redirects),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_hostile_servers),
        cmocka_unit_test(test_socks5_relay),
        cmocka_unit_test(test_socks5_failures),
    };
    return cmocka_run_group_tests_name("crawl_http", tests, NULL, NULL);
}
