/*
 * socks5.c - cx_socks5_connect (http.h): a TCP connection to host:port
 * through a SOCKS5 proxy (RFC 1928), e.g. Tor's SocksPort, for the crawl
 * examples' HTTP client.
 *
 * Usage:
 *     char err[200];
 *     int fd = cx_socks5_connect("127.0.0.1", 9050, "example.onion", 80,
 *                                2000, err, sizeof err);
 *     if (fd < 0) ... fd is CX_EPROXY, CX_EPROXY_TIMEOUT or CX_ECONNECT
 *     else ... speak HTTP on fd, then close it
 *
 * The handshake: greeting offering only "no authentication" (05 01 00),
 * then CONNECT with the host *name* (ATYP 3: the proxy resolves it, so no
 * DNS leaks and .onion names work) and the port in network order, then the
 * reply, read exactly (its BND.ADDR of any type included) so that no byte
 * of the tunnelled stream is consumed.  The whole of it (proxy connect
 * included) runs within timeout_ms.
 *
 * Errors:
 *   CX_ECONNECT        the proxy itself cannot be reached (refused, DNS)
 *   CX_EPROXY_TIMEOUT  the proxy did not connect or answer in time: it
 *                      accepted but stalls (a Tor without circuits does
 *                      this) - the "proxy outage" signal
 *   CX_EPROXY          the proxy answered but refused (reply code != 0,
 *                      named in err, e.g. "host unreachable"), wants
 *                      authentication, closed the connection, or spoke
 *                      something else than SOCKS5
 * The returned fd is in blocking mode, close-on-exec.  timeout_ms <= 0
 * means 2000 and pport <= 0 means 1080, as in cx_http_opts.  Thread-safe.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One step of the handshake on a non-blocking fd. */
struct step {
    int fd;
    double deadline;
    int timeout_ms;
    const char *proxy; /* "host:port", for messages */
    char *err;
    size_t err_size;
};

/* Send or receive exactly n bytes before the deadline: CX_OK,
 * CX_EPROXY_TIMEOUT, or CX_EPROXY (closed, reset). */
static int xfer(struct step *s, int out, void *buf, size_t n, const char *what)
{
    unsigned char *p = buf;
    while (n > 0) {
        double left = s->deadline - now_ms();
        struct pollfd pf = {.fd = s->fd, .events = out ? POLLOUT : POLLIN};
        int ms = left <= 0 ? 0 : left > 1e9 ? 1000000000 : (int)left + 1;
        int r = ms > 0 ? poll(&pf, 1, ms) : 0;
        if (r == 0) {
            snprintf(s->err, s->err_size, "SOCKS5 proxy %s: no %s within %d ms",
                     s->proxy, what, s->timeout_ms);
            return CX_EPROXY_TIMEOUT;
        }
        ssize_t k = -1;
        if (r > 0)
            k = out ? send(s->fd, p, n, MSG_NOSIGNAL) : recv(s->fd, p, n, 0);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k == 0) {
            snprintf(s->err, s->err_size,
                     "SOCKS5 proxy %s: connection closed before the %s",
                     s->proxy, what);
            return CX_EPROXY;
        } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            char eb[128];
            if (strerror_r(errno, eb, sizeof eb) != 0)
                snprintf(eb, sizeof eb, "errno %d", errno);
            snprintf(s->err, s->err_size, "SOCKS5 proxy %s: %s: %s", s->proxy,
                     what, eb);
            return CX_EPROXY;
        }
    }
    return CX_OK;
}

static const char *reply_text(int rep)
{
    static const char *const t[] = {
        "succeeded",
        "general SOCKS server failure",
        "connection not allowed by ruleset",
        "network unreachable",
        "host unreachable",
        "connection refused",
        "TTL expired",
        "command not supported",
        "address type not supported",
    };
    return rep >= 0 && rep < (int)(sizeof t / sizeof t[0]) ? t[rep]
                                                           : "unassigned";
}

/* The handshake proper on the connected fd. */
static int handshake(struct step *s, const char *host, int port)
{
    unsigned char b[4 + 1 + 255 + 2];
    int rc;
    /* greeting: version 5, one method, 0 = no authentication */
    b[0] = 5;
    b[1] = 1;
    b[2] = 0;
    if ((rc = xfer(s, 1, b, 3, "send of the greeting")) != CX_OK ||
        (rc = xfer(s, 0, b, 2, "greeting answer")) != CX_OK)
        return rc;
    if (b[0] != 5) {
        snprintf(s->err, s->err_size,
                 "SOCKS5 proxy %s: not SOCKS5 (version byte 0x%02x)", s->proxy,
                 b[0]);
        return CX_EPROXY;
    }
    if (b[1] != 0) {
        snprintf(s->err, s->err_size,
                 "SOCKS5 proxy %s: refuses unauthenticated use (method "
                 "0x%02x)",
                 s->proxy, b[1]);
        return CX_EPROXY;
    }
    /* CONNECT, ATYP 3: length-prefixed host name, port big-endian */
    size_t hl = strlen(host);
    b[0] = 5;
    b[1] = 1;
    b[2] = 0;
    b[3] = 3;
    b[4] = (unsigned char)hl;
    memcpy(b + 5, host, hl);
    b[5 + hl] = (unsigned char)(port >> 8);
    b[6 + hl] = (unsigned char)(port & 0xff);
    if ((rc = xfer(s, 1, b, 7 + hl, "send of the CONNECT request")) != CX_OK ||
        (rc = xfer(s, 0, b, 4, "CONNECT reply")) != CX_OK)
        return rc;
    if (b[0] != 5) {
        snprintf(s->err, s->err_size,
                 "SOCKS5 proxy %s: bad reply version 0x%02x", s->proxy, b[0]);
        return CX_EPROXY;
    }
    if (b[1] != 0) {
        snprintf(s->err, s->err_size,
                 "SOCKS5 proxy %s: CONNECT %s port %d refused: reply 0x%02x "
                 "(%s)",
                 s->proxy, host, port, b[1], reply_text(b[1]));
        return CX_EPROXY;
    }
    /* BND.ADDR and BND.PORT: read and ignore */
    size_t rest;
    if (b[3] == 1) {
        rest = 4 + 2;
    } else if (b[3] == 4) {
        rest = 16 + 2;
    } else if (b[3] == 3) {
        if ((rc = xfer(s, 0, b, 1, "CONNECT reply address")) != CX_OK)
            return rc;
        rest = (size_t)b[0] + 2;
    } else {
        snprintf(s->err, s->err_size,
                 "SOCKS5 proxy %s: bad address type 0x%02x in the reply",
                 s->proxy, b[3]);
        return CX_EPROXY;
    }
    return xfer(s, 0, b, rest, "CONNECT reply address");
}

int cx_socks5_connect(const char *phost, int pport, const char *host, int port,
                      int timeout_ms, char *err, size_t err_size)
{
    char proxy[300];
    timeout_ms = timeout_ms > 0 ? timeout_ms : 2000; /* as cx_http_opts */
    pport = pport > 0 ? pport : 1080;
    snprintf(proxy, sizeof proxy, "%s:%d", phost ? phost : "?", pport);
    if (phost == NULL || host == NULL || strlen(host) == 0 ||
        strlen(host) > 255 || port < 1 || port > 65535) {
        snprintf(err, err_size, "SOCKS5 proxy %s: bad target %s port %d", proxy,
                 host ? host : "(null)", port);
        return CX_EPROXY;
    }
    double start = now_ms();
    char why[200] = "";
    int fd = cx_tcp_connect(phost, pport, timeout_ms, why, sizeof why);
    if (fd == CX_ETIMEOUT) {
        snprintf(err, err_size, "SOCKS5 proxy %s: connect timed out (%d ms)",
                 proxy, timeout_ms);
        return CX_EPROXY_TIMEOUT;
    }
    if (fd < 0) {
        snprintf(err, err_size, "SOCKS5 proxy %s: %s", proxy, why);
        return CX_ECONNECT;
    }
    struct step s = {.fd = fd,
                     .deadline = start + timeout_ms,
                     .timeout_ms = timeout_ms,
                     .proxy = proxy,
                     .err = err,
                     .err_size = err_size};
    int rc = handshake(&s, host, port);
    int fl = fcntl(fd, F_GETFL);
    if (rc == CX_OK && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)) {
        snprintf(err, err_size, "SOCKS5 proxy %s: fcntl failed", proxy);
        rc = CX_EPROXY;
    }
    if (rc != CX_OK) {
        close(fd);
        return rc;
    }
    return fd;
}
