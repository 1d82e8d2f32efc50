/*
 * cli_util.c - helpers shared by the commands of the crawllog tool: error
 * and usage reporting with exit-status classes, strict integer parsing,
 * opening the log, JSON and text escaping, the clock, a progress line for
 * terminals, and a tiny HTTP/1.1 server (cli_http_serve).
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk.  No state except what struct cli holds and the
 * server's stop flag; no locks (the tool is single-threaded).
 *
 * The HTTP server: plain sockets, bound to the one address given (loopback
 * only unless allowed), one connection at a time, the request head read
 * with a 5 s timeout per read and 10 s in all, the response sent with a 5 s
 * timeout and "Connection: close".  GET and HEAD of the one path answer 200
 * with the body callback's bytes (500 if it fails), other paths 404, other
 * methods 405.  SIGINT and SIGTERM are blocked except inside pselect(), so
 * a signal never cuts a response short and always ends the loop.
 *
 * Invariants: the escapers never emit a raw control byte (JSON output stays
 * valid ASCII, text output keeps its tab/newline structure); the server
 * never binds more than the one address it was given.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define HTTP_IO_TIMEOUT_S 5
#define HTTP_REQUEST_TIMEOUT_MS 10000
#define HTTP_REQUEST_MAX 8192

int cli_usage(const char *usage, const char *fmt, const char *arg)
{
    fputs("crawllog: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    fputs(usage, stderr);
    return CLI_EXIT_USAGE;
}

int cli_is_help(const char *arg)
{
    return arg != NULL &&
           (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0);
}

int cli_help(const char *usage)
{
    fputs(usage, stdout);
    return 0;
}

int cli_exit_code(int rc)
{
    switch (rc) {
    case CRAWLLOG_OK:
        return CLI_EXIT_OK;
    case CRAWLLOG_ENOTOPIC:
    case CRAWLLOG_ENOENT:
    case CRAWLLOG_EPARTITION:
    case CRAWLLOG_EOFFSET:
        return CLI_EXIT_NOTFOUND;
    case CRAWLLOG_ECORRUPT:
    case CRAWLLOG_EVERSION:
        return CLI_EXIT_DAMAGED;
    case CRAWLLOG_EEXIST:
    case CRAWLLOG_EBUSY:
    case CRAWLLOG_EFENCED:
    case CRAWLLOG_EGENERATION:
        return CLI_EXIT_REFUSED;
    case CRAWLLOG_EINVAL:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_ERROR;
    }
}

int cli_fail(const char *what, const char *arg, int rc, const char *detail)
{
    if (detail == NULL || detail[0] == '\0') {
        detail = crawllog_strerror(rc);
    }
    fprintf(stderr, "crawllog: %s%s%s: %s: %s\n", what, arg ? " " : "",
            arg ? arg : "", crawllog_err_name(rc), detail);
    return cli_exit_code(rc);
}

int cli_fail_log(struct cli *c, const char *what, const char *arg, int rc)
{
    return cli_fail(what, arg, rc, crawllog_errmsg(c->log));
}

int cli_conf_set_spec(crawllog_conf_t *conf, const char *opt,
                      const char *spec, const char *usage)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", name[256];
    const char *eq = strchr(spec, '=');
    if (eq == NULL || eq == spec || (size_t)(eq - spec) >= sizeof(name)) {
        return cli_usage(usage, "%s needs prop=value", opt);
    }
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    int rc = crawllog_conf_set(conf, name, eq + 1, errstr, sizeof(errstr));
    return rc == CRAWLLOG_OK ? 0 : cli_fail(opt, spec, rc, errstr);
}

int cli_print_conf(const crawllog_conf_t *conf, const char *prefix, int json)
{
    char *text = NULL, *line, *nl;
    int rc = crawllog_conf_dump(conf, &text), first = 1;
    if (rc != CRAWLLOG_OK) {
        return cli_fail("conf dump", NULL, rc, NULL);
    }
    for (line = text; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *eq = memchr(line, '=', len);
        if (json && eq != NULL) {
            fputs(first ? "" : ",", stdout);
            cli_json_bytes(stdout, line, (size_t)(eq - line));
            putchar(':');
            cli_json_bytes(stdout, eq + 1, len - (size_t)(eq - line) - 1);
            first = 0;
        } else if (!json) {
            printf("%s%.*s\n", prefix, (int)len, line);
        }
        if (nl == NULL) {
            break;
        }
    }
    free(text);
    return 0;
}

int cli_print_names(struct cli *c, const char *what,
                    int (*list)(crawllog_t *, char ***, size_t *), int json)
{
    char **names = NULL;
    size_t n = 0;
    int rc = list(c->log, &names, &n);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, what, NULL, rc);
    }
    for (size_t i = 0; i < n; i++) {
        if (json) {
            fputs(i == 0 ? "[" : ",", stdout);
            cli_json_str(stdout, names[i]);
        } else {
            printf("%s\n", names[i]);
        }
    }
    if (json) {
        puts(n == 0 ? "[]" : "]");
    }
    crawllog_topic_list_free(names, n);
    return 0;
}

int cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || !((s[0] >= '0' && s[0] <= '9') || s[0] == '-')) {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int cli_open(struct cli *c)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = CRAWLLOG_OK;

    if (c->log == NULL) {
        rc = crawllog_open(&c->log, c->dir, c->conf, errstr, sizeof(errstr));
    }
    return rc == CRAWLLOG_OK ? 0 : cli_fail("open", c->dir, rc, errstr);
}

void cli_json_bytes(FILE *f, const void *p, size_t len)
{
    const unsigned char *b = p;
    size_t i;

    if (b == NULL) {
        fputs("null", f);
        return;
    }
    putc('"', f);
    for (i = 0; i < len; i++) {
        if (b[i] == '"' || b[i] == '\\') {
            fprintf(f, "\\%c", b[i]);
        } else if (b[i] < 0x20 || b[i] > 0x7e) {
            fprintf(f, "\\u%04x", b[i]);
        } else {
            putc(b[i], f);
        }
    }
    putc('"', f);
}

void cli_json_str(FILE *f, const char *s)
{
    cli_json_bytes(f, s, s != NULL ? strlen(s) : 0);
}

void cli_print_escaped(FILE *f, const void *p, size_t len)
{
    const unsigned char *b = p;
    size_t i;

    if (b == NULL) {
        fputs("(null)", f);
        return;
    }
    for (i = 0; i < len; i++) {
        if (b[i] < 0x20 || b[i] > 0x7e || b[i] == '\\') {
            fprintf(f, "\\x%02x", b[i]);
        } else {
            putc(b[i], f);
        }
    }
}

int64_t cli_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------- */
/* A tiny HTTP/1.1 server                                                  */
/* ---------------------------------------------------------------------- */

volatile sig_atomic_t cli_stop_signal;

void cli_on_stop(int sig)
{
    if (cli_stop_signal) {
        signal(sig, SIG_DFL); /* a second signal: die now */
        raise(sig);
    }
    cli_stop_signal = sig;
}

/* Resolve "HOST:PORT" / "[HOST]:PORT" (numeric only) into *ai.  Returns 0,
 * or CLI_EXIT_USAGE / 1 after reporting. */
static int listen_addr(const struct cli_http *h, const char *spec,
                       int allow_remote, struct addrinfo **ai)
{
    struct addrinfo hints;
    char host[128];
    const char *colon, *hs = spec;
    size_t hlen;
    int rc, loopback;

    if (spec[0] == '[') {
        colon = strstr(spec, "]:");
        hs = spec + 1;
        hlen = colon != NULL ? (size_t)(colon - hs) : 0;
        colon = colon != NULL ? colon + 1 : NULL;
    } else {
        colon = strrchr(spec, ':');
        hlen = colon != NULL ? (size_t)(colon - spec) : 0;
    }
    if (colon == NULL || hlen == 0 || hlen >= sizeof(host) ||
        colon[1] == '\0') {
        return cli_usage(h->usage, "bad --listen '%s' (HOST:PORT)", spec);
    }
    memcpy(host, hs, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, colon + 1, &hints, ai)) != 0) {
        fprintf(stderr, "crawllog: %s: bad --listen address '%s': %s\n", h->who,
                spec, gai_strerror(rc));
        return CLI_EXIT_USAGE;
    }
    if ((*ai)->ai_family == AF_INET) {
        const struct sockaddr_in *in = (void *)(*ai)->ai_addr;

        loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else {
        const struct sockaddr_in6 *in6 = (void *)(*ai)->ai_addr;
        const struct in6_addr *a = &in6->sin6_addr;

        loopback = IN6_IS_ADDR_LOOPBACK(a) ||
                   (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    if (!loopback && !allow_remote) {
        freeaddrinfo(*ai);
        *ai = NULL;
        fprintf(stderr,
                "crawllog: %s: %s is not a loopback address: add "
                "--allow-remote to serve it\n",
                h->who, host);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Send all of buf; 0 or -1. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        } else if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void respond(int fd, const char *status, const char *type,
                    const char *body, size_t len, int head)
{
    char hdr[512];
    int n =
        snprintf(hdr, sizeof(hdr),
                 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: "
                 "%zu\r\nConnection: close\r\n%s\r\n",
                 status, type, len,
                 strncmp(status, "405", 3) == 0 ? "Allow: GET, HEAD\r\n" : "");

    if (send_all(fd, hdr, (size_t)n) == 0 && !head) {
        send_all(fd, body, len);
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the request head (up to the empty line).  Returns its length, 0 if
 * the client sent nothing, -1 if it did not finish in time, -2 too big. */
static int read_request(int fd, char *req, size_t size)
{
    int64_t deadline = mono_ms() + HTTP_REQUEST_TIMEOUT_MS;
    size_t len = 0;

    req[0] = '\0';
    while (strstr(req, "\r\n\r\n") == NULL && strstr(req, "\n\n") == NULL) {
        ssize_t n;

        if (len + 1 >= size) {
            return -2;
        } else if (mono_ms() > deadline) {
            return -1;
        }
        n = recv(fd, req + len, size - 1 - len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        } else if (n <= 0) {
            return len == 0 ? 0 : -1;
        }
        len += (size_t)n;
        req[len] = '\0';
    }
    return (int)len;
}

/* Answer one request on fd. */
static void serve(const struct cli_http *h, int fd)
{
    static const char text[] = "text/plain; charset=utf-8";
    struct timeval tv = {HTTP_IO_TIMEOUT_S, 0};
    char req[HTTP_REQUEST_MAX], *method, *target, *version, *save = NULL;
    char *body = NULL;
    size_t len = 0;
    int n, head;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if ((n = read_request(fd, req, sizeof(req))) == 0 || n == -1) {
        return; /* nothing, or too slow: just close */
    } else if (n == -2) {
        respond(fd, "431 Request Header Fields Too Large", text,
                "request too large\n", 18, 0);
        return;
    }
    method = strtok_r(req, " ", &save);
    target = strtok_r(NULL, " ", &save);
    version = strtok_r(NULL, "\r\n", &save);
    if (method == NULL || target == NULL || version == NULL ||
        strncmp(version, "HTTP/1.", 7) != 0 || target[0] != '/') {
        respond(fd, "400 Bad Request", text, "bad request\n", 12, 0);
        return;
    }
    head = strcmp(method, "HEAD") == 0;
    target[strcspn(target, "?")] = '\0';
    if (!head && strcmp(method, "GET") != 0) {
        respond(fd, "405 Method Not Allowed", text, "method not allowed\n", 19,
                0);
    } else if (strcmp(target, h->path) != 0) {
        respond(fd, "404 Not Found", text, "not found\n", 10, head);
    } else if (h->body(h->opaque, &body, &len) != 0) {
        respond(fd, "500 Internal Server Error", text, "failed\n", 7, head);
    } else {
        respond(fd, "200 OK", h->content_type, body, len, head);
    }
    free(body);
}

/* Print the bound address on stderr. */
static void print_bound(const struct cli_http *h, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[128] = "?", port[16] = "?";
    int v6;

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
    }
    v6 = ss.ss_family == AF_INET6;
    fprintf(stderr, "crawllog: %s: listening on http://%s%s%s:%s%s\n", h->who,
            v6 ? "[" : "", host, v6 ? "]" : "", port, h->path);
}

/* Accept and serve until SIGINT / SIGTERM.  fd: the listening socket. */
static int serve_loop(const struct cli_http *h, int fd,
                      const sigset_t *wait_mask)
{
    while (!cli_stop_signal) {
        fd_set rd;
        int cfd;

        FD_ZERO(&rd);
        FD_SET(fd, &rd);
        if (pselect(fd + 1, &rd, NULL, NULL, NULL, wait_mask) < 0) {
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "crawllog: %s: pselect: %s\n", h->who,
                    strerror(errno));
            return 1;
        }
        cfd = accept(fd, NULL, NULL);
        if (cfd < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK &&
                errno != ECONNABORTED) {
                fprintf(stderr, "crawllog: %s: accept: %s\n", h->who,
                        strerror(errno));
                nanosleep(&(struct timespec){0, 100000000}, NULL);
            }
            continue;
        }
        fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) & ~O_NONBLOCK);
        serve(h, cfd);
        shutdown(cfd, SHUT_WR);
        close(cfd);
    }
    fprintf(stderr, "crawllog: %s: stopped by signal %d\n", h->who,
            (int)cli_stop_signal);
    return 0;
}

int cli_http_serve(const struct cli_http *h, const char *spec, int allow_remote)
{
    struct addrinfo *ai = NULL;
    struct sigaction sa;
    sigset_t block, old, wait_mask;
    int fd, one = 1, st;

    if ((st = listen_addr(h, spec, allow_remote, &ai)) != 0) {
        return st;
    }
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        fprintf(stderr, "crawllog: %s: listen on %s: %s\n", h->who, spec,
                strerror(errno));
        freeaddrinfo(ai);
        if (fd >= 0) {
            close(fd);
        }
        return 1;
    }
    freeaddrinfo(ai);
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = cli_on_stop; /* no SA_RESTART: pselect returns EINTR */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    wait_mask = old;
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    print_bound(h, fd);
    st = serve_loop(h, fd, &wait_mask);
    close(fd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return st;
}

/* ---------------------------------------------------------------------- */
/* Progress line                                                           */
/* ---------------------------------------------------------------------- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(struct cli_progress *p, const char *what,
                        const char *unit)
{
    memset(p, 0, sizeof(*p));
    p->what = what;
    p->unit = unit;
    p->tty = isatty(2);
    p->t0 = mono_s();
}

void cli_progress_update(struct cli_progress *p, int64_t done, int64_t total)
{
    double now = mono_s(), el = now - p->t0;
    char eta[32] = "-", pct[16] = "";
    if (!p->tty || now - p->last < 0.1) {
        return;
    }
    p->last = now;
    double rate = el > 0.05 ? (double)done / el : 0.0;
    if (total > 0) {
        snprintf(pct, sizeof(pct), "%5.1f%% ",
                 100.0 * (double)(done < total ? done : total) /
                     (double)total);
        if (rate > 0 && total >= done) {
            long sec = (long)((double)(total - done) / rate + 0.5);
            snprintf(eta, sizeof(eta), "%ld:%02ld", sec / 60, sec % 60);
        }
    }
    fprintf(stderr, "\r%s: %s%lld", p->what, pct, (long long)done);
    if (total > 0) {
        fprintf(stderr, "/%lld", (long long)total);
    }
    fprintf(stderr, " %s, %.0f %s/s%s%s\033[K", p->unit, rate, p->unit,
            total > 0 ? ", ETA " : "", total > 0 ? eta : "");
    p->shown = 1;
}

void cli_progress_end(struct cli_progress *p)
{
    if (p->shown) {
        fputs("\r\033[K", stderr);
        p->shown = 0;
    }
}
