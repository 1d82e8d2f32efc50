/*
 * httpd.c - the crawl examples' minimal HTTP/1.1 server side (httpd.h):
 * a listening socket on a numeric address, one request read under a single
 * deadline (poll before every read), a whole response sent with
 * MSG_NOSIGNAL.  One request per connection ("Connection: close"); request
 * bodies only with Content-Length (a chunked one is refused).  No global
 * state: safe from any number of threads.
 *
 * Part of the crawl pipeline examples (examples/crawl-*.c), not of
 * libcrawllog: plain POSIX sockets.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Limit of the request line plus headers. */
#define HEAD_MAX (64 * 1024)

static void set_err(char *err, size_t err_size, const char *what,
                    const char *hostport, int errnum)
{
    if (err != NULL && err_size > 0) {
        if (errnum != 0) {
            snprintf(err, err_size, "%s %s: %s", what, hostport,
                     strerror(errnum));
        } else {
            snprintf(err, err_size, "%s %s", what, hostport);
        }
    }
}

static int set_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/* "HOST:PORT" or "[V6]:PORT" into a socket address; 0 or -1. */
static int parse_hostport(const char *hostport, struct sockaddr_storage *ss,
                          socklen_t *lenp)
{
    char host[64];
    const char *colon;
    const char *h = hostport;
    size_t hlen;

    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (close == NULL || close[1] != ':') {
            return -1;
        }
        h = hostport + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (colon == NULL) {
            return -1;
        }
        hlen = (size_t)(colon - hostport);
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
        port < 0 || port > 65535) {
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (hostport[0] != '[' && inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *lenp = sizeof(*a4);
        return 0;
    }
    if (hostport[0] == '[' && inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *lenp = sizeof(*a6);
        return 0;
    }
    return -1;
}

int cx_httpd_listen(const char *hostport, int *portp, char *err,
                    size_t err_size)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;

    if (hostport == NULL || parse_hostport(hostport, &ss, &len) != 0) {
        if (err != NULL && err_size > 0) {
            snprintf(err, err_size,
                     "bad listen address \"%s\": want IPv4:PORT or "
                     "[IPv6]:PORT",
                     hostport ? hostport : "(null)");
        }
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || set_cloexec(fd) != 0) {
        set_err(err, err_size, "socket for", hostport, errno);
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        set_err(err, err_size, "cannot listen on", hostport, e);
        close(fd);
        return -1;
    }
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        set_err(err, err_size, "getsockname for", hostport, errno);
        close(fd);
        return -1;
    }
    if (portp != NULL) {
        *portp = ss.ss_family == AF_INET
                     ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                     : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

int cx_httpd_accept(int lfd)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0) {
            if (set_cloexec(fd) != 0) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
            }
            return fd;
        }
        /* A connection reset before it was accepted: take the next. */
        if (errno != EINTR && errno != ECONNABORTED) {
            return -1;
        }
    }
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what is there (at most cap bytes) before the deadline: > 0 bytes,
 * 0 end of stream, -1 error or timed out. */
static ssize_t read_some(int fd, char *buf, size_t cap, long long deadline)
{
    for (;;) {
        long long left = deadline - mono_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n < 0 && errno != EINTR) {
            return -1;
        }
        if (n <= 0) {
            continue;
        }
        ssize_t r = recv(fd, buf, cap, 0);
        if (r >= 0) {
            return r;
        }
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        }
    }
}

/* The end of the header section in buf[0..len): the offset just past the
 * blank line (CRLF CRLF, or bare LF LF from a sloppy client), or 0. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        if (buf[i + 1] == '\n') {
            return i + 2;
        }
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

/* Split the request line "METHOD SP TARGET SP HTTP/1.x" into req. */
static int parse_request_line(const char *line, size_t len,
                              struct cx_request *req)
{
    const char *sp1 = memchr(line, ' ', len);
    if (sp1 == NULL) {
        return -1;
    }
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', len - (size_t)(target - line));
    if (sp2 == NULL) {
        return -1;
    }
    size_t mlen = (size_t)(sp1 - line);
    size_t tlen = (size_t)(sp2 - target);
    size_t vlen = len - (size_t)(sp2 + 1 - line);
    if (mlen == 0 || mlen >= sizeof(req->method) || tlen == 0 ||
        tlen >= sizeof(req->path) || vlen != 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9') {
        return -1;
    }
    for (size_t i = 0; i < mlen; i++) {
        if (line[i] < 'A' || line[i] > 'Z') {
            return -1;
        }
    }
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= ' ' || c == 0x7f) {
            return -1;
        }
    }
    memcpy(req->method, line, mlen);
    req->method[mlen] = '\0';
    memcpy(req->path, target, tlen);
    req->path[tlen] = '\0';
    return 0;
}

/* The Content-Length of req (0 if none): 0, or -1 if invalid, repeated
 * with another value, or the body is chunked. */
static int content_length(const struct cx_request *req, size_t *lenp)
{
    char v[64];
    *lenp = 0;
    if (cx_httpd_header(req, "Transfer-Encoding", v, sizeof(v))) {
        return -1;
    }
    int found = 0;
    const char *p = req->head;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        static const char name[] = "content-length:";
        if (n > sizeof(name) - 1 &&
            strncasecmp(p, name, sizeof(name) - 1) == 0) {
            const char *s = p + sizeof(name) - 1;
            const char *e = p + n;
            while (s < e && (*s == ' ' || *s == '\t')) {
                s++;
            }
            while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
                e--;
            }
            if (s == e || e - s > 18) {
                return -1;
            }
            size_t val = 0;
            for (const char *d = s; d < e; d++) {
                if (*d < '0' || *d > '9') {
                    return -1;
                }
                val = val * 10 + (size_t)(*d - '0');
            }
            if (found && val != *lenp) {
                return -1;
            }
            found = 1;
            *lenp = val;
        }
        if (eol == NULL) {
            break;
        }
        p = eol + 1;
    }
    return 0;
}

int cx_httpd_read(int fd, struct cx_request *req, size_t body_max,
                  int timeout_ms)
{
    long long deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    char *buf = malloc(HEAD_MAX);
    size_t len = 0, hend = 0;

    memset(req, 0, sizeof(*req));
    if (buf == NULL) {
        return -1;
    }
    while ((hend = head_end(buf, len)) == 0) {
        if (len == HEAD_MAX) {
            goto fail; /* header section too large */
        }
        ssize_t r = read_some(fd, buf + len, HEAD_MAX - len, deadline);
        if (r <= 0) {
            goto fail;
        }
        len += (size_t)r;
    }

    /* Request line, then the header lines up to (not incl.) the blank one. */
    char *eol = memchr(buf, '\n', hend);
    size_t llen = (size_t)(eol - buf);
    if (llen > 0 && buf[llen - 1] == '\r') {
        llen--;
    }
    if (parse_request_line(buf, llen, req) != 0) {
        goto fail;
    }
    size_t hstart = (size_t)(eol + 1 - buf);
    size_t hlen = hend - hstart;
    hlen -= (hlen >= 2 && buf[hend - 2] == '\r') ? 2 : 1; /* blank line */
    req->head = malloc(hlen + 1);
    if (req->head == NULL) {
        goto fail;
    }
    memcpy(req->head, buf + hstart, hlen);
    req->head[hlen] = '\0';
    if (memchr(req->head, '\0', hlen) != NULL) {
        goto fail; /* a NUL byte in a header */
    }

    size_t blen;
    if (content_length(req, &blen) != 0 || blen > body_max) {
        goto fail;
    }
    req->body = malloc(blen + 1);
    if (req->body == NULL) {
        goto fail;
    }
    size_t have = len - hend;
    if (have > blen) {
        have = blen; /* a pipelined next request: not ours */
    }
    memcpy(req->body, buf + hend, have);
    while (have < blen) {
        ssize_t r = read_some(fd, req->body + have, blen - have, deadline);
        if (r <= 0) {
            goto fail;
        }
        have += (size_t)r;
    }
    req->body[blen] = '\0';
    req->body_len = blen;
    free(buf);
    return 0;

fail:
    free(buf);
    cx_httpd_request_free(req);
    return -1;
}

int cx_httpd_header(const struct cx_request *req, const char *name, char *out,
                    size_t out_size)
{
    size_t nlen = strlen(name);
    const char *p = req->head;

    if (out != NULL && out_size > 0) {
        out[0] = '\0';
    }
    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *s = p + nlen + 1;
            const char *e = p + n;
            while (s < e && (*s == ' ' || *s == '\t')) {
                s++;
            }
            while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
                e--;
            }
            if (out != NULL && out_size > 0) {
                size_t vlen = (size_t)(e - s);
                if (vlen >= out_size) {
                    vlen = out_size - 1;
                }
                memcpy(out, s, vlen);
                out[vlen] = '\0';
            }
            return 1;
        }
        p = eol ? eol + 1 : NULL;
    }
    return 0;
}

void cx_httpd_request_free(struct cx_request *req)
{
    if (req == NULL) {
        return;
    }
    free(req->head);
    free(req->body);
    req->head = NULL;
    req->body = NULL;
    req->body_len = 0;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

/* How long one send may make no progress before the response is given up
 * (a peer that does not read). */
#define SEND_STALL_MS 30000

int cx_httpd_respond(int fd, int status, const char *content_type,
                     const void *body, size_t len, const char *extra_headers)
{
    char head[1024];
    int n = snprintf(
        head, sizeof(head),
        "HTTP/1.1 %d %s\r\n%s%s%s"
        "Content-Length: %zu\r\nConnection: close\r\n",
        status, status_text(status), content_type ? "Content-Type: " : "",
        content_type ? content_type : "", content_type ? "\r\n" : "", len);
    if (n < 0 || (size_t)n >= sizeof(head)) {
        return -1;
    }
    const char *extra = extra_headers ? extra_headers : "";
    struct iovec iov[4] = {
        {.iov_base = head, .iov_len = (size_t)n},
        {.iov_base = (void *)extra, .iov_len = strlen(extra)},
        {.iov_base = (void *)"\r\n", .iov_len = 2},
        {.iov_base = (void *)body, .iov_len = body ? len : 0},
    };
    if (body == NULL && len != 0) {
        return -1;
    }
    int i = 0;
    while (i < 4) {
        if (iov[i].iov_len == 0) {
            i++;
            continue;
        }
        struct msghdr mh = {.msg_iov = &iov[i], .msg_iovlen = (size_t)(4 - i)};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                if (poll(&p, 1, SEND_STALL_MS) <= 0) {
                    return -1;
                }
                continue;
            }
            return -1;
        }
        size_t left = (size_t)w;
        while (i < 4 && left >= iov[i].iov_len) {
            left -= iov[i].iov_len;
            iov[i].iov_len = 0;
            i++;
        }
        if (i < 4) {
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
    }
    return 0;
}
