/*
 * crawl-fixture.c - the web, the results API and the egress proxy of the
 * crawl pipeline demo, all on loopback, for the demo and the tests:
 *
 *  - a generated test site on the SAME port of 127.0.0.1 .. 127.0.0.N
 *    (Linux routes all of 127/8 to lo: N distinct URL hosts, so that
 *    per-host partitioning spreads the jobs): robots.txt, thousands of
 *    pages with titles and links, slow pages, 404s, 500s, redirect chains
 *    (examples/crawl/site.h lists the paths);
 *  - on 127.0.0.1 only: GET /urls?count=N&mix=0|1 (a job list "URL TYPE"
 *    for the producer), and the report sink: POST /report (a JSON result:
 *    503 for --report-fail-pct percent of them, else appended to --reports
 *    FILE and counted per topic/partition/offset), GET /stats, and POST
 *    /control {"report_fail_pct":N} and / or {"socks_stall_ms":MS};
 *  - a SOCKS5 proxy (RFC 1928, no auth, CONNECT to 127.0.0.0/8 only) that
 *    can be told to stall: it then reads greetings but does not answer
 *    until the stall ends, the outage a consumer's circuit breaker sees.
 *
 * Build:  make            (this becomes build/examples/crawl-fixture)
 * Run:    build/examples/crawl-fixture [--hosts N] [--pages N] [--port P]
 *             [--socks-port P] [--report-fail-pct N] [--reports FILE]
 *             [--seed S] [--slow-ms MS]
 * Output: first line (flushed) "fixture http=<port> socks=<port> hosts=<N>";
 *         then it serves until SIGTERM or SIGINT, and exits 0 with every
 *         thread joined and every socket closed (final stats on stderr).
 * Try:    curl http://127.0.0.2:<port>/p/7
 *         curl 'http://127.0.0.1:<port>/urls?count=20'
 *         curl --socks5 127.0.0.1:<socks> http://127.0.0.3:<port>/robots.txt
 *         curl -d '{"socks_stall_ms":5000}' http://127.0.0.1:<port>/control
 *
 * Threads: one accept thread polls every listening socket; each connection
 * gets a thread of its own (at most CONN_MAX at a time; beyond, a
 * connection is closed at once).  Every wait also polls a stop pipe, and
 * at shutdown the clients' sockets are shut down, so no thread outlives a
 * SIGTERM by more than a moment: reads have deadlines, relays an idle
 * timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "site.h"

#define CONN_MAX 512          /* connections served at a time */
#define READ_TIMEOUT_MS 10000 /* one HTTP request, or a SOCKS handshake */
#define BODY_MAX (1 << 20)    /* of a request */
#define CONNECT_MS 3000       /* the proxy's connect to its target */
#define RELAY_IDLE_MS 60000   /* a relay with no traffic is closed */

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_DONE };

struct fixture;

/* A connection and its thread. */
struct slot {
    struct fixture *fx;
    pthread_t th;
    enum slot_state state; /* BUSY: th runs; DONE: th ended, to join */
    int fd;                /* the client */
    int fd2;               /* the proxy's target connection, or -1 */
    int host;              /* the HTTP host (127.0.0.<host>); 0: SOCKS */
};

struct fixture {
    struct cx_site site;
    struct cx_sink *sink;
    int lfds[CX_SITE_HOSTS_MAX + 1]; /* HTTP of host 1..N, then SOCKS */
    int nlfds;
    int socks_port;
    int stop[2];           /* a pipe, readable once stopping */
    pthread_attr_t attr;   /* of connection threads */
    pthread_mutex_t mu;    /* the slots, stall_until and counters */
    long long stall_until; /* CLOCK_MONOTONIC ms */
    long socks_accepted, socks_connects, refused;
    struct slot slots[CONN_MAX];
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait ms (at most) for the stop pipe: 1 if stopping, else 0. */
static int wait_stop(struct fixture *fx, long long ms)
{
    struct pollfd p = {.fd = fx->stop[0], .events = POLLIN};
    int n = poll(&p, 1, ms < 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms);
    return n > 0;
}

static int set_flags(int fd, int add, int remove)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, (fl | add) & ~remove);
}

/* ---------------------------------------------------------------------- */
/* HTTP: the site, /urls and the report sink                               */
/* ---------------------------------------------------------------------- */

/* The proxy's counters, as JSON members for /stats. */
static void proxy_stats(struct fixture *fx, char *out, size_t size)
{
    pthread_mutex_lock(&fx->mu);
    long long left = fx->stall_until - mono_ms();
    snprintf(out, size,
             "\"socks_stall_ms\":%lld,\"socks_accepted\":%ld,"
             "\"socks_connects\":%ld,\"refused_connections\":%ld",
             left > 0 ? left : 0, fx->socks_accepted, fx->socks_connects,
             fx->refused);
    pthread_mutex_unlock(&fx->mu);
}

static void serve_http(struct slot *sl)
{
    struct fixture *fx = sl->fx;
    struct cx_request req;
    struct cx_site_resp r;
    char extra[256];
    long stall_ms = -1;

    if (cx_httpd_read(sl->fd, &req, BODY_MAX, READ_TIMEOUT_MS) != 0) {
        cx_httpd_respond(sl->fd, 400, "text/plain", "bad request\n", 12,
                         NULL); /* best effort */
        return;
    }
    proxy_stats(fx, extra, sizeof(extra));
    if (sl->host == 1 &&
        cx_sink_api(fx->sink, &fx->site, req.method, req.path, req.body,
                    req.body_len, extra, &stall_ms, &r)) {
        if (stall_ms >= 0) {
            pthread_mutex_lock(&fx->mu);
            fx->stall_until = mono_ms() + stall_ms;
            pthread_mutex_unlock(&fx->mu);
        }
    } else if (strcmp(req.method, "GET") != 0) {
        memset(&r, 0, sizeof(r));
        cx_httpd_respond(sl->fd, 405, "text/plain", "GET only\n", 9,
                         "Allow: GET\r\n");
    } else {
        cx_site_get(&fx->site, sl->host, req.path, &r); /* -1: body NULL */
    }
    if (r.status != 0 && r.body == NULL) {
        cx_httpd_respond(sl->fd, 500, "text/plain", "out of memory\n", 14,
                         NULL);
    } else if (r.status != 0 &&
               (r.delay_ms <= 0 || !wait_stop(fx, r.delay_ms))) {
        cx_httpd_respond(sl->fd, r.status, r.content_type, r.body, r.len,
                         r.headers[0] ? r.headers : NULL);
    }
    cx_site_resp_free(&r);
    cx_httpd_request_free(&req);
}

/* ---------------------------------------------------------------------- */
/* SOCKS5                                                                  */
/* ---------------------------------------------------------------------- */

/* Read exactly n bytes before the deadline: 0, or -1 (closed, error, timed
 * out, stopping). */
static int read_exact(struct fixture *fx, int fd, void *buf, size_t n,
                      long long deadline)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                              {.fd = fx->stop[0], .events = POLLIN}};
        long long left = deadline - mono_ms();
        if (left <= 0 || (poll(p, 2, (int)left) < 0 && errno != EINTR) ||
            p[1].revents != 0) {
            return -1;
        }
        if (p[0].revents == 0) {
            continue;
        }
        ssize_t r = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN &&
                       errno != EWOULDBLOCK)) {
            return -1;
        }
        got += r > 0 ? (size_t)r : 0;
    }
    return 0;
}

static void send_all(int fd, const void *buf, size_t n)
{
    /* Handshake replies: a few bytes into an empty socket buffer. */
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        buf = (const char *)buf + w;
        n -= (size_t)w;
    }
}

/* A reply with code rep and the bound address of fd2 (zeros if -1). */
static void socks_reply(int fd, int rep, int fd2)
{
    unsigned char b[10] = {5, (unsigned char)rep, 0, 1};
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    if (fd2 >= 0 && getsockname(fd2, (struct sockaddr *)&a, &len) == 0) {
        memcpy(b + 4, &a.sin_addr, 4);
        memcpy(b + 8, &a.sin_port, 2);
    }
    send_all(fd, b, sizeof(b));
}

/* While the proxy is stalled: wait, watching for the client closing.
 * 0 when the stall is over, -1 if the client left or we stop. */
static int stall_wait(struct slot *sl)
{
    struct fixture *fx = sl->fx;
    int pending = 0; /* the client sent more: cannot watch for its close */
    for (;;) {
        pthread_mutex_lock(&fx->mu);
        long long left = fx->stall_until - mono_ms();
        pthread_mutex_unlock(&fx->mu);
        if (left <= 0) {
            return 0;
        }
        /* Short polls: a /control that ends the stall applies at once. */
        struct pollfd p[2] = {{.fd = fx->stop[0], .events = POLLIN},
                              {.fd = pending ? -1 : sl->fd, .events = POLLIN}};
        if (poll(p, 2, left > 50 ? 50 : (int)left) > 0) {
            if (p[0].revents != 0) {
                return -1;
            }
            char c;
            ssize_t r = recv(sl->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                           errno != EINTR)) {
                return -1;
            }
            pending = r > 0;
        }
    }
}

/* Connect to 127/8 addr within CONNECT_MS: the fd (also in sl->fd2), or
 * -1 with *rep the SOCKS reply code. */
static int socks_connect(struct slot *sl, const struct sockaddr_in *addr,
                         int *rep)
{
    struct fixture *fx = sl->fx;
    int u = socket(AF_INET, SOCK_STREAM, 0);
    *rep = 1;
    if (u < 0) {
        return -1;
    }
    pthread_mutex_lock(&fx->mu);
    sl->fd2 = u; /* closed with the slot; shut down at stop */
    pthread_mutex_unlock(&fx->mu);
    if (fcntl(u, F_SETFD, FD_CLOEXEC) != 0 || set_flags(u, O_NONBLOCK, 0)) {
        return -1;
    }
    if (connect(u, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
        if (errno != EINPROGRESS) {
            *rep = errno == ECONNREFUSED ? 5 : 4;
            return -1;
        }
        struct pollfd p[2] = {{.fd = u, .events = POLLOUT},
                              {.fd = fx->stop[0], .events = POLLIN}};
        int err = 0;
        socklen_t len = sizeof(err);
        int n = poll(p, 2, CONNECT_MS);
        if (n <= 0 || p[1].revents != 0) {
            *rep = 4; /* host unreachable: timed out */
            return -1;
        }
        if (getsockopt(u, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            *rep = err == ECONNREFUSED ? 5 : 4;
            return -1;
        }
    }
    return u;
}

struct dir {
    int from, to; /* indexes into the pollfd array */
    size_t len, off;
    int eof, shut; /* from ended; to shut down for writing */
    char buf[16384];
};

/* Copy both ways between fds[0] and fds[1] until both directions ended,
 * an error, RELAY_IDLE_MS without traffic, or stop. */
static void relay(struct fixture *fx, int c, int u)
{
    int fds[2] = {c, u};
    static const struct dir zero;
    struct dir d[2] = {zero, zero};
    d[0].from = d[1].to = 0;
    d[0].to = d[1].from = 1;
    while (!(d[0].shut && d[1].shut)) {
        struct pollfd p[3] = {
            {.fd = c}, {.fd = u}, {.fd = fx->stop[0], .events = POLLIN}};
        for (int k = 0; k < 2; k++) {
            if (d[k].len == d[k].off && !d[k].eof) {
                p[d[k].from].events |= POLLIN;
            }
            if (d[k].len > d[k].off) {
                p[d[k].to].events |= POLLOUT;
            }
        }
        for (int k = 0; k < 2; k++) {
            p[k].fd = p[k].events != 0 ? fds[k] : -1; /* no hang-up spin */
        }
        int n = poll(p, 3, RELAY_IDLE_MS);
        if (n == 0 || (n < 0 && errno != EINTR) || p[2].revents != 0) {
            return;
        }
        for (int k = 0; k < 2 && n > 0; k++) {
            struct dir *x = &d[k];
            if ((p[x->from].revents & (POLLIN | POLLHUP | POLLERR)) &&
                x->len == x->off && !x->eof) {
                ssize_t r =
                    recv(fds[x->from], x->buf, sizeof(x->buf), MSG_DONTWAIT);
                if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                    errno != EINTR) {
                    return;
                }
                x->eof = r == 0;
                x->len = r > 0 ? (size_t)r : 0;
                x->off = 0;
            } else if ((p[x->to].revents & (POLLOUT | POLLHUP | POLLERR)) &&
                       x->len > x->off) {
                ssize_t w = send(fds[x->to], x->buf + x->off, x->len - x->off,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                    errno != EINTR) {
                    return;
                }
                x->off += w > 0 ? (size_t)w : 0;
            }
            if (x->eof && x->len == x->off && !x->shut) {
                shutdown(fds[x->to], SHUT_WR);
                x->shut = 1;
            }
        }
    }
}

static void serve_socks(struct slot *sl)
{
    struct fixture *fx = sl->fx;
    unsigned char b[262];
    long long deadline = mono_ms() + READ_TIMEOUT_MS;

    /* Greeting: VER NMETHODS METHODS... */
    if (read_exact(fx, sl->fd, b, 2, deadline) != 0 || b[0] != 5 ||
        read_exact(fx, sl->fd, b + 2, b[1], deadline) != 0 ||
        stall_wait(sl) != 0) {
        return;
    }
    if (memchr(b + 2, 0, b[1]) == NULL) {
        send_all(sl->fd, "\x05\xff", 2); /* no acceptable method */
        return;
    }
    send_all(sl->fd, "\x05\x00", 2);

    /* Request: VER CMD RSV ATYP DST.ADDR DST.PORT */
    deadline = mono_ms() + READ_TIMEOUT_MS;
    if (read_exact(fx, sl->fd, b, 4, deadline) != 0 || b[0] != 5) {
        return;
    }
    int cmd = b[1], atyp = b[3];
    struct sockaddr_in addr = {.sin_family = AF_INET};
    char name[256];
    unsigned char port[2];
    if (atyp == 1) {
        if (read_exact(fx, sl->fd, &addr.sin_addr, 4, deadline) != 0) {
            return;
        }
    } else if (atyp == 3) {
        if (read_exact(fx, sl->fd, b, 1, deadline) != 0 ||
            read_exact(fx, sl->fd, name, b[0], deadline) != 0) {
            return;
        }
        name[b[0]] = '\0';
        if (strcmp(name, "localhost") == 0) {
            snprintf(name, sizeof(name), "127.0.0.1");
        }
        if (inet_pton(AF_INET, name, &addr.sin_addr) != 1) {
            addr.sin_addr.s_addr = 0; /* a name: never resolved, refused */
        }
    } else {
        socks_reply(sl->fd, 8, -1); /* address type not supported */
        return;
    }
    if (read_exact(fx, sl->fd, port, 2, deadline) != 0) {
        return;
    }
    memcpy(&addr.sin_port, port, 2);
    if (cmd != 1) {
        socks_reply(sl->fd, 7, -1); /* command not supported */
        return;
    }
    if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
        socks_reply(sl->fd, 2, -1); /* not allowed: loopback only */
        return;
    }
    int rep;
    int u = socks_connect(sl, &addr, &rep);
    if (u < 0) {
        socks_reply(sl->fd, rep, -1);
        return;
    }
    pthread_mutex_lock(&fx->mu);
    fx->socks_connects++;
    pthread_mutex_unlock(&fx->mu);
    socks_reply(sl->fd, 0, u);
    relay(fx, sl->fd, u);
}

/* ---------------------------------------------------------------------- */
/* Connections, the accept thread                                          */
/* ---------------------------------------------------------------------- */

static void *conn_main(void *arg)
{
    struct slot *sl = arg;
    struct fixture *fx = sl->fx;

    if (sl->host > 0) {
        serve_http(sl);
    } else {
        serve_socks(sl);
    }
    pthread_mutex_lock(&fx->mu);
    close(sl->fd);
    if (sl->fd2 >= 0) {
        close(sl->fd2);
    }
    sl->fd = sl->fd2 = -1;
    sl->state = SLOT_DONE;
    pthread_mutex_unlock(&fx->mu);
    return NULL;
}

/* Serve fd in a new thread: 0, or -1 (every slot busy or no thread). */
static int conn_start(struct fixture *fx, int fd, int host)
{
    struct slot *free_slot = NULL;
    int rc = -1;

    pthread_mutex_lock(&fx->mu);
    for (int i = 0; i < CONN_MAX; i++) {
        struct slot *sl = &fx->slots[i];
        if (sl->state == SLOT_DONE) { /* ended: joins at once */
            pthread_join(sl->th, NULL);
            sl->state = SLOT_FREE;
        }
        if (sl->state == SLOT_FREE && free_slot == NULL) {
            free_slot = sl;
        }
    }
    if (free_slot != NULL) {
        *free_slot = (struct slot){
            .fx = fx, .state = SLOT_BUSY, .fd = fd, .fd2 = -1, .host = host};
        /* Under the mutex: the thread cannot mark itself DONE (to be
         * joined) before th is stored. */
        if (pthread_create(&free_slot->th, &fx->attr, conn_main, free_slot) ==
            0) {
            rc = 0;
        } else {
            free_slot->state = SLOT_FREE;
        }
    }
    if (rc != 0) {
        fx->refused++;
    } else if (host == 0) {
        fx->socks_accepted++;
    }
    pthread_mutex_unlock(&fx->mu);
    return rc;
}

static void *accept_main(void *arg)
{
    struct fixture *fx = arg;
    struct pollfd p[CX_SITE_HOSTS_MAX + 2];

    for (int i = 0; i < fx->nlfds; i++) {
        p[i] = (struct pollfd){.fd = fx->lfds[i], .events = POLLIN};
    }
    p[fx->nlfds] = (struct pollfd){.fd = fx->stop[0], .events = POLLIN};
    for (;;) {
        int n = poll(p, (nfds_t)fx->nlfds + 1, -1);
        if (n < 0 && errno != EINTR) {
            perror("crawl-fixture: poll");
            wait_stop(fx, 100);
        }
        if (p[fx->nlfds].revents != 0) {
            return NULL;
        }
        for (int i = 0; i < fx->nlfds && n > 0; i++) {
            if (p[i].revents == 0) {
                continue;
            }
            int fd = cx_httpd_accept(fx->lfds[i]);
            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                    errno == ENOMEM) {
                    wait_stop(fx, 50); /* out of fds: let some close */
                }
                continue;
            }
            /* The last listener is the proxy's; others are host i + 1. */
            int host = i == fx->nlfds - 1 ? 0 : i + 1;
            if (set_flags(fd, 0, O_NONBLOCK) != 0 ||
                conn_start(fx, fd, host) != 0) {
                close(fd);
            }
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Command line, start, stop                                               */
/* ---------------------------------------------------------------------- */

static const char usage[] =
    "usage: crawl-fixture [--hosts N] [--pages N] [--port P] [--socks-port P]\n"
    "           [--report-fail-pct N] [--reports FILE] [--seed S] "
    "[--slow-ms MS]\n"
    "  --hosts N            serve 127.0.0.1 .. 127.0.0.N (1-254, default 8)\n"
    "  --pages N            pages /p/0 .. /p/N-1 per host (default 1000)\n"
    "  --port P             the site's port on every host (default 0: any)\n"
    "  --socks-port P       the SOCKS5 proxy's port (default 0: any)\n"
    "  --report-fail-pct N  answer 503 to N% of the reports (default 0)\n"
    "  --reports FILE       append each recorded report to FILE\n"
    "  --seed S             of the site and the failures (default 1)\n"
    "  --slow-ms MS         delay of /slow/ pages (default 2000)\n"
    "Prints \"fixture http=<port> socks=<port> hosts=<N>\", then serves until\n"
    "SIGTERM or SIGINT.\n";

/* Options: 0, or 2 after a message (usage error). */
static int parse_args(int argc, char **argv, struct fixture *fx, int *port,
                      int *fail_pct, const char **reports)
{
    static const struct {
        const char *name;
        long min, max;
    } opts[] = {
        {"--hosts", 1, CX_SITE_HOSTS_MAX},
        {"--pages", 1, 100000000},
        {"--port", 0, 65535},
        {"--socks-port", 0, 65535},
        {"--report-fail-pct", 0, 100},
        {"--slow-ms", 0, 600000},
    };
    long vals[6] = {8, 1000, 0, 0, 0, 2000};

    fx->site.seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr,
                    "crawl-fixture: unknown option or missing value: "
                    "%s\n%s",
                    a, usage);
            return 2;
        }
        const char *v = argv[++i];
        char *end;
        errno = 0;
        if (strcmp(a, "--reports") == 0) {
            *reports = v;
            continue;
        }
        if (strcmp(a, "--seed") == 0) {
            fx->site.seed = strtoull(v, &end, 0);
            if (*v < '0' || *v > '9' || *end != '\0' || errno != 0) {
                fprintf(stderr, "crawl-fixture: bad --seed %s\n", v);
                return 2;
            }
            continue;
        }
        size_t k = 0;
        while (k < 6 && strcmp(a, opts[k].name) != 0) {
            k++;
        }
        if (k == 6) {
            fprintf(stderr, "crawl-fixture: unknown option %s\n%s", a, usage);
            return 2;
        }
        vals[k] = strtol(v, &end, 10);
        if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 ||
            vals[k] < opts[k].min || vals[k] > opts[k].max) {
            fprintf(stderr, "crawl-fixture: %s wants %ld..%ld, not %s\n", a,
                    opts[k].min, opts[k].max, v);
            return 2;
        }
    }
    fx->site.hosts = (int)vals[0];
    fx->site.pages = (int)vals[1];
    *port = (int)vals[2];
    fx->socks_port = (int)vals[3];
    *fail_pct = (int)vals[4];
    fx->site.slow_ms = (int)vals[5];
    return 0;
}

static void close_listeners(struct fixture *fx)
{
    for (int i = 0; i < fx->nlfds; i++) {
        close(fx->lfds[i]);
    }
    fx->nlfds = 0;
}

/* Listen on port of 127.0.0.1 .. 127.0.0.<hosts> (port 0: one that is
 * free on all of them), then on the proxy's port: 0, or -1 with err. */
static int listen_all(struct fixture *fx, int want, char *err, size_t size)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int port = want;
        for (int h = 1; h <= fx->site.hosts; h++) {
            char hp[32];
            int got;
            snprintf(hp, sizeof(hp), "127.0.0.%d:%d", h, port);
            int fd = cx_httpd_listen(hp, &got, err, size);
            if (fd < 0) {
                break;
            }
            fx->lfds[fx->nlfds++] = fd;
            port = got; /* 127.0.0.1 chose it; the others follow */
        }
        if (fx->nlfds == fx->site.hosts) {
            fx->site.port = port;
            break;
        }
        close_listeners(fx);
        if (want != 0) {
            return -1; /* a fixed port: no second try */
        }
    }
    if (fx->nlfds == 0) {
        return -1;
    }
    char hp[32];
    snprintf(hp, sizeof(hp), "127.0.0.1:%d", fx->socks_port);
    int fd = cx_httpd_listen(hp, &fx->socks_port, err, size);
    if (fd < 0) {
        close_listeners(fx);
        return -1;
    }
    fx->lfds[fx->nlfds++] = fd;
    for (int i = 0; i < fx->nlfds; i++) {
        if (set_flags(fx->lfds[i], O_NONBLOCK, 0) != 0) {
            snprintf(err, size, "fcntl: %s", strerror(errno));
            close_listeners(fx);
            return -1;
        }
    }
    return 0;
}

/* Stop: the accept thread, then every connection (sockets shut down so
 * that blocked reads and sends return), joining every thread. */
static void stop_all(struct fixture *fx, pthread_t acceptor)
{
    while (write(fx->stop[1], "x", 1) < 0 && errno == EINTR) {
    }
    pthread_join(acceptor, NULL);
    pthread_mutex_lock(&fx->mu);
    for (int i = 0; i < CONN_MAX; i++) {
        struct slot *sl = &fx->slots[i];
        if (sl->state == SLOT_BUSY) {
            shutdown(sl->fd, SHUT_RDWR);
            if (sl->fd2 >= 0) {
                shutdown(sl->fd2, SHUT_RDWR);
            }
        }
    }
    pthread_mutex_unlock(&fx->mu);
    for (int i = 0; i < CONN_MAX; i++) {
        pthread_mutex_lock(&fx->mu);
        enum slot_state st = fx->slots[i].state;
        pthread_mutex_unlock(&fx->mu);
        if (st != SLOT_FREE) {
            pthread_join(fx->slots[i].th, NULL);
            fx->slots[i].state = SLOT_FREE;
        }
    }
}

int main(int argc, char **argv)
{
    static struct fixture fx;
    const char *reports = NULL;
    int port, fail_pct, sig = 0, rc = 1;
    char err[300] = "";
    sigset_t set;

    if (parse_args(argc, argv, &fx, &port, &fail_pct, &reports) != 0) {
        return 2;
    }
    /* Every thread inherits the blocked set; main takes them in sigwait. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (pipe(fx.stop) != 0) {
        perror("crawl-fixture: pipe");
        return 1;
    }
    fcntl(fx.stop[0], F_SETFD, FD_CLOEXEC);
    fcntl(fx.stop[1], F_SETFD, FD_CLOEXEC);
    pthread_mutex_init(&fx.mu, NULL);
    pthread_attr_init(&fx.attr);
    pthread_attr_setstacksize(&fx.attr, 256 * 1024);
    fx.sink = cx_sink_new(reports, fail_pct, fx.site.seed, err, sizeof(err));
    if (fx.sink == NULL || listen_all(&fx, port, err, sizeof(err)) != 0) {
        fprintf(stderr, "crawl-fixture: %s\n", err);
        goto out;
    }
    pthread_t acceptor;
    int e = pthread_create(&acceptor, NULL, accept_main, &fx);
    if (e != 0) {
        fprintf(stderr, "crawl-fixture: thread: %s\n", strerror(e));
        close_listeners(&fx);
        goto out;
    }
    printf("fixture http=%d socks=%d hosts=%d\n", fx.site.port, fx.socks_port,
           fx.site.hosts);
    fflush(stdout);

    while (sigwait(&set, &sig) != 0) {
    }
    stop_all(&fx, acceptor);
    close_listeners(&fx);
    char extra[256], stats[768];
    proxy_stats(&fx, extra, sizeof(extra));
    cx_sink_stats(fx.sink, extra, stats, sizeof(stats));
    fprintf(stderr, "crawl-fixture: stopped (signal %d): %s\n", sig, stats);
    rc = 0;
out:
    cx_sink_free(fx.sink);
    pthread_attr_destroy(&fx.attr);
    pthread_mutex_destroy(&fx.mu);
    close(fx.stop[0]);
    close(fx.stop[1]);
    return rc;
}
