/*
 * http.c - the crawl examples' HTTP/1.1 client (see http.h): GET and POST
 * of http:// URLs over plain POSIX sockets, directly or through a SOCKS5
 * proxy (socks5.c).  URL and response-head parsing live in http_parse.c.
 *
 * Usage:
 *     struct cx_http_opts o = {0};       // zeros: the defaults of http.h
 *     o.read_ms = 2000;
 *     struct cx_http_resp r;
 *     int rc = cx_http_get("http://example.org/", &o, &r);
 *     if (rc == CX_OK)
 *         use(r.status, r.final_url, r.content_type, r.body, r.body_len);
 *     else
 *         log("%s: %s (last URL %s)", cx_err_name(rc), r.err, r.final_url);
 *     cx_http_resp_free(&r);
 *
 * One request per connection ("Connection: close").  The response head
 * must fit in 64 KiB; the body is framed by chunked transfer coding, else
 * Content-Length, else the end of the connection (cx_http_framing); 1xx
 * interim responses are skipped.  Deadlines: connect_ms per connect,
 * read_ms per wait on the socket, reading or sending, total_ms for the whole
 * call, redirects included.  Redirect responses that are followed are not
 * read past their head.  Error semantics: see the end of http.h.
 * Thread-safe: no global state (the resolver and strerror_r are).  SIGPIPE
 * is never raised (MSG_NOSIGNAL).
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX (64 * 1024) /* response head limit; also the read buffer */
#define CHUNK_LINE_MAX 4096  /* a chunk-size line (with extensions) */
#define URL_BUF 4096

#if defined(__GNUC__) || defined(__clang__)
#define CX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CX_PRINTF(a, b)
#endif

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Milliseconds until deadline, rounded up, at least 0. */
static int ms_until(double deadline)
{
    double left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > 1e9 ? 1000000000 : (int)left + 1;
}

static void CX_PRINTF(3, 4) set_err(char *err, size_t n, const char *fmt, ...)
{
    if (err == NULL || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static const char *errtext(int e, char *buf, size_t n)
{
    if (strerror_r(e, buf, n) != 0)
        snprintf(buf, n, "errno %d", e);
    return buf;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- Connect ---- */

/* One non-blocking connect within ms: 0 (connected), CX_ETIMEOUT, or
 * CX_ECONNECT with errno set. */
static int connect_one(int fd, const struct addrinfo *ai, int ms)
{
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return CX_ECONNECT;
    double deadline = now_ms() + ms;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int pr;
    do {
        pr = poll(&p, 1, ms_until(deadline));
    } while (pr < 0 && errno == EINTR);
    if (pr == 0)
        return CX_ETIMEOUT;
    if (pr < 0)
        return CX_ECONNECT;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
        return CX_ECONNECT;
    if (soerr != 0) {
        errno = soerr;
        return CX_ECONNECT;
    }
    return 0;
}

int cx_tcp_connect(const char *host, int port, int timeout_ms, char *err,
                   size_t err_size)
{
    double deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 3000);
    char ps[16], eb[128], addr[64];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0) {
        set_err(err, err_size, "resolve %s: %s", host,
                g == EAI_SYSTEM ? errtext(errno, eb, sizeof eb)
                                : gai_strerror(g));
        return CX_ECONNECT;
    }
    int fd = -1, timed_out = 0;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int left = ms_until(deadline);
        if (left == 0) {
            timed_out = 1;
            set_err(err, err_size, "connect %s port %d: no time left", host,
                    port);
            break;
        }
        if (ai->ai_next != NULL && left > 1)
            left /= 2; /* leave time for the other addresses */
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0,
                        NI_NUMERICHOST) != 0)
            snprintf(addr, sizeof addr, "%s", host);
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        int rc = CX_ECONNECT;
        if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 &&
            set_nonblock(fd) == 0)
            rc = connect_one(fd, ai, left);
        if (rc == 0)
            break;
        if (rc == CX_ETIMEOUT) {
            timed_out = 1;
            set_err(err, err_size,
                    "connect %s port %d (%s): no answer in %d ms", host, port,
                    addr, left);
        } else {
            set_err(err, err_size, "connect %s port %d (%s): %s", host, port,
                    addr, errtext(errno, eb, sizeof eb));
        }
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        return fd;
    return timed_out ? CX_ETIMEOUT : CX_ECONNECT;
}

/* ---- Connection I/O with deadlines ---- */

struct conn {
    int fd;
    char *buf; /* HEAD_MAX bytes; unread data is buf[pos..len) */
    size_t pos, len;
    int read_ms, total_ms;
    double deadline; /* of the whole call */
    char *err;
    size_t err_size;
};

/* Wait until fd is ready for ev, within read_ms and the total deadline. */
static int conn_wait(struct conn *c, short ev, const char *what)
{
    for (;;) {
        int t = c->read_ms, total = 0, left = ms_until(c->deadline);
        if (left <= t) {
            t = left;
            total = 1;
        }
        struct pollfd p = {.fd = c->fd, .events = ev};
        int r = t > 0 ? poll(&p, 1, t) : 0;
        if (r > 0)
            return CX_OK; /* errors and hang-ups show in the next call */
        if (r == 0) {
            if (total)
                set_err(c->err, c->err_size,
                        "total deadline of %d ms passed while %s", c->total_ms,
                        what);
            else
                set_err(c->err, c->err_size, "no progress in %d ms while %s",
                        c->read_ms, what);
            return CX_ETIMEOUT;
        }
        if (errno != EINTR) {
            char eb[128];
            set_err(c->err, c->err_size, "poll: %s",
                    errtext(errno, eb, sizeof eb));
            return CX_EIO;
        }
    }
}

static int conn_send(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        int rc = conn_wait(c, POLLOUT, "sending the request");
        if (rc != CX_OK)
            return rc;
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                   errno != EINTR) {
            char eb[128];
            set_err(c->err, c->err_size, "send: %s",
                    errtext(errno, eb, sizeof eb));
            return CX_EIO;
        }
    }
    return CX_OK;
}

/* Move the unread bytes to the start of buf. */
static void compact(struct conn *c)
{
    memmove(c->buf, c->buf + c->pos, c->len - c->pos);
    c->len -= c->pos;
    c->pos = 0;
}

/* Read more into buf (moving the unread bytes to its start first): the
 * count of new bytes, > 0; 0 at the end of the stream; or a CX_E*. */
static int conn_fill(struct conn *c, const char *what)
{
    compact(c);
    if (c->len >= HEAD_MAX)
        return CX_ENOMEM; /* callers never let this happen */
    for (;;) {
        int rc = conn_wait(c, POLLIN, what);
        if (rc != CX_OK)
            return rc;
        ssize_t n = recv(c->fd, c->buf + c->len, HEAD_MAX - c->len, 0);
        if (n >= 0) {
            c->len += (size_t)n;
            return (int)n;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            char eb[128];
            set_err(c->err, c->err_size, "recv while %s: %s", what,
                    errtext(errno, eb, sizeof eb));
            return CX_EIO;
        }
    }
}

/* Read a response head into buf[0..*hlen) (pos is then *hlen). */
static int read_head(struct conn *c, size_t *hlen)
{
    compact(c);
    size_t scan = 0;
    for (;;) {
        size_t end = cx_http_head_end(c->buf, c->len, scan);
        if (end > 0) {
            *hlen = c->pos = end;
            return CX_OK;
        }
        scan = c->len >= 2 ? c->len - 2 : 0;
        if (c->len >= HEAD_MAX) {
            set_err(c->err, c->err_size,
                    "response header section larger than %d KiB",
                    HEAD_MAX / 1024);
            return CX_EPROTO;
        }
        int n = conn_fill(c, "reading the response head");
        if (n < 0)
            return n;
        if (n == 0) {
            set_err(c->err, c->err_size,
                    c->len == 0 ? "connection closed before any response"
                                : "connection closed inside the response "
                                  "head");
            return CX_EPROTO;
        }
    }
}

/* ---- Body ---- */

struct body {
    char *p;
    size_t len, cap, max;
    int truncated;
};

/* Append what body_max allows of d[0..n): CX_OK, 1 when the cap cut it
 * (truncated set), or CX_ENOMEM. */
static int body_add(struct body *b, const char *d, size_t n)
{
    size_t take = n;
    if (take > b->max - b->len)
        take = b->max - b->len;
    if (b->len + take + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + take + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        char *np = realloc(b->p, cap);
        if (np == NULL)
            return CX_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, take);
    b->len += take;
    if (take < n) {
        b->truncated = 1;
        return 1;
    }
    return CX_OK;
}

/* Read exactly n body bytes into b: CX_OK, 1 (cap reached), or a CX_E*. */
static int read_fixed(struct conn *c, struct body *b, uint64_t n)
{
    while (n > 0) {
        if (c->pos == c->len) {
            int r = conn_fill(c, "reading the body");
            if (r < 0)
                return r;
            if (r == 0) {
                set_err(c->err, c->err_size,
                        "connection closed %llu bytes before the end of "
                        "the body",
                        (unsigned long long)n);
                return CX_EPROTO;
            }
        }
        size_t take = c->len - c->pos;
        if ((uint64_t)take > n)
            take = (size_t)n;
        int rc = body_add(b, c->buf + c->pos, take);
        if (rc != CX_OK)
            return rc;
        c->pos += take;
        n -= take;
    }
    return CX_OK;
}

/* One line (without its LF) of at most CHUNK_LINE_MAX bytes: *line points
 * into buf, valid until the next read. */
static int read_line(struct conn *c, const char **line, size_t *len)
{
    for (;;) {
        const char *s = c->buf + c->pos;
        const char *lf = memchr(s, '\n', c->len - c->pos);
        if (lf != NULL) {
            *line = s;
            *len = (size_t)(lf - s);
            c->pos += *len + 1;
            return CX_OK;
        }
        if (c->len - c->pos > CHUNK_LINE_MAX) {
            set_err(c->err, c->err_size, "chunk-size line too long");
            return CX_EPROTO;
        }
        int r = conn_fill(c, "reading the chunked body");
        if (r < 0)
            return r;
        if (r == 0) {
            set_err(c->err, c->err_size,
                    "connection closed inside the chunked body");
            return CX_EPROTO;
        }
    }
}

static int read_chunked(struct conn *c, struct body *b)
{
    const char *line;
    size_t ll;
    for (;;) {
        uint64_t n;
        int rc = read_line(c, &line, &ll);
        if (rc != CX_OK)
            return rc;
        if (cx_http_parse_chunk_size(line, ll, &n) != CX_OK) {
            set_err(c->err, c->err_size, "bad chunk size line \"%.*s\"",
                    (int)(ll < 40 ? ll : 40), line);
            return CX_EPROTO;
        }
        if (n == 0)
            return CX_OK; /* trailers are not needed: we close */
        rc = read_fixed(c, b, n);
        if (rc != CX_OK)
            return rc;
        rc = read_line(c, &line, &ll);
        if (rc != CX_OK)
            return rc;
        if (ll > 1 || (ll == 1 && line[0] != '\r')) {
            set_err(c->err, c->err_size, "chunk data not followed by CRLF");
            return CX_EPROTO;
        }
    }
}

static int read_to_close(struct conn *c, struct body *b)
{
    for (;;) {
        if (c->pos < c->len) {
            int rc = body_add(b, c->buf + c->pos, c->len - c->pos);
            c->pos = c->len;
            if (rc != CX_OK)
                return rc;
        }
        int r = conn_fill(c, "reading the body");
        if (r <= 0)
            return r;
    }
}

/* Read the body that the head buf[0..hlen) announces into r. */
static int read_body(struct conn *c, size_t hlen, int status, size_t max,
                     struct cx_http_resp *r)
{
    struct body b = {.max = max};
    uint64_t n = 0;
    int f = cx_http_framing(c->buf, hlen, status, &n, c->err, c->err_size);
    int rc = f;
    if (f == CX_BODY_NONE)
        rc = CX_OK;
    else if (f == CX_BODY_CHUNKED)
        rc = read_chunked(c, &b);
    else if (f == CX_BODY_CLOSE)
        rc = read_to_close(c, &b);
    else if (f == CX_BODY_LENGTH)
        rc = read_fixed(c, &b, n > max ? max : n);
    if (rc == CX_OK && f == CX_BODY_LENGTH && n > max)
        b.truncated = 1;
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    if (b.p == NULL && (b.p = malloc(1)) == NULL)
        return CX_ENOMEM;
    b.p[b.len] = '\0';
    r->body = b.p;
    r->body_len = b.len;
    r->truncated = b.truncated;
    return CX_OK;
}

/* ---- Requests ---- */

struct req {
    const char *method;
    const char *ctype; /* POST only */
    const void *body;
    size_t len;
};

static int has_crlf(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* Connect (directly or through the proxy) and send the request. */
static int open_and_send(struct conn *c, const struct cx_url *u,
                         const struct req *q, const struct cx_http_opts *o)
{
    int proxy = o->socks5_host != NULL, left = ms_until(c->deadline);
    int lim = proxy ? o->socks5_timeout_ms : o->connect_ms;
    int t = lim < left ? lim : left;
    if (left <= 0) { /* (a 0 timeout would mean "the default" below) */
        set_err(c->err, c->err_size, "total deadline of %d ms passed",
                c->total_ms);
        return CX_ETIMEOUT;
    }
    c->fd = proxy ? cx_socks5_connect(o->socks5_host, o->socks5_port, u->host,
                                      u->port, t, c->err, c->err_size)
                  : cx_tcp_connect(u->host, u->port, t, c->err, c->err_size);
    if (c->fd == CX_EPROXY_TIMEOUT && t < lim)
        c->fd = CX_ETIMEOUT; /* the total deadline, not the proxy */
    if (c->fd == CX_ETIMEOUT && t < lim)
        set_err(c->err, c->err_size,
                "total deadline of %d ms passed while connecting%s",
                c->total_ms, proxy ? " through the proxy" : "");
    if (c->fd >= 0 && proxy && set_nonblock(c->fd) != 0) {
        close(c->fd);
        c->fd = CX_EIO;
        set_err(c->err, c->err_size, "fcntl on the proxied socket failed");
    }
    if (c->fd < 0)
        return c->fd;

    size_t hl;
    char *head = cx_http_format_request(q->method, u, o->user_agent, q->ctype,
                                        q->len, o->extra_headers, &hl);
    if (head == NULL)
        return CX_ENOMEM;
    int rc = conn_send(c, head, hl);
    free(head);
    if (rc == CX_OK && q->ctype != NULL && q->len > 0)
        rc = conn_send(c, q->body, q->len);
    return rc;
}

/* Read the final (non-1xx) response head: *hlen, *status. */
static int read_final_head(struct conn *c, size_t *hlen, int *status)
{
    for (;;) {
        int rc = read_head(c, hlen);
        if (rc != CX_OK)
            return rc;
        if (cx_http_parse_status(c->buf, *hlen, status) != CX_OK) {
            size_t sl = strcspn(c->buf, "\r\n"); /* the head ends in LF */
            set_err(c->err, c->err_size, "bad status line \"%.*s\"",
                    (int)(sl < 60 ? sl : 60), c->buf);
            return CX_EPROTO;
        }
        if (*status == 101) {
            set_err(c->err, c->err_size, "unexpected 101 response");
            return CX_EPROTO;
        }
        if (*status >= 200)
            return CX_OK;
    }
}

/* One request to cur.  On a redirect to follow: 1, with cur the next URL
 * and q adjusted; else the final CX_OK / CX_E* with r filled. */
static int one_hop(struct conn *c, char *cur, size_t cur_size, struct req *q,
                   const struct cx_http_opts *o, struct cx_http_resp *r)
{
    struct cx_url u;
    size_t hlen = 0;
    int status = 0, rc;
    char loc[URL_BUF];
    snprintf(r->final_url, sizeof r->final_url, "%s", cur);
    if (cx_url_parse(cur, &u) != CX_OK) {
        set_err(c->err, c->err_size, "cannot parse URL \"%.100s\"", cur);
        return CX_EURL;
    }
    cx_url_format(&u, r->final_url, sizeof r->final_url);
    if (strcmp(u.scheme, "https") == 0) {
        set_err(c->err, c->err_size, "https needs --fetcher curl");
        return CX_EPROTO;
    }
    c->pos = c->len = 0;
    if ((rc = open_and_send(c, &u, q, o)) != CX_OK ||
        (rc = read_final_head(c, &hlen, &status)) != CX_OK)
        return rc;
    int redir = status == 301 || status == 302 || status == 303 ||
                status == 307 || status == 308;
    long ll = redir && o->max_redirects > 0
                  ? cx_http_header(c->buf, hlen, "Location", 0, loc, sizeof loc)
                  : -1;
    if (ll < 0) { /* the final response */
        cx_http_header(c->buf, hlen, "Content-Type", 0, r->content_type,
                       sizeof r->content_type);
        rc = read_body(c, hlen, status, o->body_max, r);
        if (rc == CX_OK)
            r->status = status;
        return rc;
    }
    if (r->redirects >= o->max_redirects) {
        set_err(c->err, c->err_size, "too many redirects (over %d)",
                o->max_redirects);
        return CX_EPROTO;
    }
    if ((size_t)ll >= sizeof loc ||
        cx_url_resolve(&u, loc, cur, cur_size) != CX_OK) {
        set_err(c->err, c->err_size, "bad redirect Location \"%.80s\"", loc);
        return CX_EPROTO;
    }
    r->redirects++;
    if (status == 303 ||
        ((status == 301 || status == 302) && q->ctype != NULL)) {
        q->method = "GET"; /* as browsers do */
        q->ctype = NULL;
        q->body = NULL;
        q->len = 0;
    }
    return 1;
}

static int http_do(const char *url, struct req q, const struct cx_http_opts *in,
                   struct cx_http_resp *r)
{
    double start = now_ms();
    memset(r, 0, sizeof *r);
    struct cx_http_opts o = {0};
    if (in != NULL)
        o = *in;
    o.connect_ms = o.connect_ms > 0 ? o.connect_ms : 3000;
    o.read_ms = o.read_ms > 0 ? o.read_ms : 5000;
    o.total_ms = o.total_ms > 0 ? o.total_ms : 15000;
    o.body_max = o.body_max > 0 ? o.body_max : 1024 * 1024;
    if (o.body_max > SIZE_MAX / 4)
        o.body_max = SIZE_MAX / 4;
    o.max_redirects = o.max_redirects == 0 ? 5 : o.max_redirects;
    o.user_agent = o.user_agent ? o.user_agent : "crawllog-crawler/1";
    o.socks5_timeout_ms = o.socks5_timeout_ms > 0 ? o.socks5_timeout_ms : 2000;

    struct conn c = {.fd = -1,
                     .read_ms = o.read_ms,
                     .total_ms = o.total_ms,
                     .deadline = start + o.total_ms,
                     .err = r->err,
                     .err_size = sizeof r->err};
    char cur[sizeof r->final_url];
    int rc = 1;
    if (has_crlf(o.user_agent) || has_crlf(q.ctype)) {
        set_err(r->err, sizeof r->err, "CR or LF in a request header value");
        rc = CX_EPROTO;
    } else if (url == NULL || strlen(url) >= sizeof cur) {
        set_err(r->err, sizeof r->err, "URL missing or too long");
        rc = CX_EURL;
    } else if ((c.buf = malloc(HEAD_MAX)) == NULL) {
        rc = CX_ENOMEM;
    } else {
        snprintf(cur, sizeof cur, "%s", url);
    }
    while (rc == 1) {
        rc = one_hop(&c, cur, sizeof cur, &q, &o, r);
        if (c.fd >= 0)
            close(c.fd);
        c.fd = -1;
    }
    free(c.buf);
    if (rc != CX_OK) {
        if (rc == CX_ENOMEM && r->err[0] == '\0')
            set_err(r->err, sizeof r->err, "out of memory");
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
        r->status = 0;
    } else {
        r->err[0] = '\0';
    }
    r->elapsed_ms = now_ms() - start;
    return rc;
}

int cx_http_get(const char *url, const struct cx_http_opts *o,
                struct cx_http_resp *r)
{
    struct req q = {.method = "GET"};
    return http_do(url, q, o, r);
}

int cx_http_post(const char *url, const char *content_type, const void *body,
                 size_t len, const struct cx_http_opts *o,
                 struct cx_http_resp *r)
{
    struct req q = {.method = "POST",
                    .ctype = content_type ? content_type
                                          : "application/octet-stream",
                    .body = body,
                    .len = body ? len : 0};
    return http_do(url, q, o, r);
}

void cx_http_resp_free(struct cx_http_resp *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}
