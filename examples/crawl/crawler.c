/*
 * crawler.c - the crawl consumer's fetching policy: robots.txt per host
 * (cached for robots_ttl_ms; a 4xx means "no rules", an error or a 5xx
 * allows for a short while and is asked again soon), a politeness slot per
 * host (politeness_ms, or the site's Crawl-delay if longer), the built-in
 * HTTP client or the curl binary (https; posix_spawn, no linking), the
 * "renew identity" hook (a shell command run every renew_every fetches,
 * killed after renew_timeout_ms), and a circuit breaker around those two
 * external dependencies: breaker_failures consecutive proxy or hook
 * failures open it; while open the consumer pauses its partitions and
 * cx_crawler_probe tries a CONNECT through the proxy (and the hook) every
 * breaker_probe_ms until one works.  A dependency failure is never the
 * job's fault: the consumer redoes the job later instead of counting an
 * attempt.
 *
 * Threads: one struct cx_crawler is shared by all workers; lock guards the
 * host table, the breaker and the fetch counter, and is never held while
 * fetching, sleeping or running the hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crawler.h"
#include "seo.h"

extern char **environ;

struct cx_host {
    char key[300]; /* scheme://host:port */
    struct cx_robots *robots;
    int64_t robots_until; /* 0: never fetched */
    int loading;          /* a worker is fetching its robots.txt */
    int64_t next_fetch;   /* politeness: earliest next fetch (mono ms) */
    int64_t delay_ms;     /* politeness gap for this host */
    struct cx_host *next;
};

int64_t cx_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cx_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0) {
        return;
    }
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int cx_crawler_init(struct cx_crawler *c, const struct cx_crawler_conf *conf)
{
    memset(c, 0, sizeof(*c));
    c->conf = *conf;
    if (c->conf.breaker_failures <= 0) {
        c->conf.breaker_failures = 3;
    }
    if (c->conf.breaker_probe_ms <= 0) {
        c->conf.breaker_probe_ms = 1000;
    }
    if (c->conf.robots_ttl_ms <= 0) {
        c->conf.robots_ttl_ms = 300000;
    }
    if (c->conf.renew_timeout_ms <= 0) {
        c->conf.renew_timeout_ms = 2000;
    }
    return pthread_mutex_init(&c->lock, NULL) == 0 ? 0 : -1;
}

void cx_crawler_destroy(struct cx_crawler *c)
{
    while (c->hosts != NULL) {
        struct cx_host *h = c->hosts;
        c->hosts = h->next;
        cx_robots_free(h->robots);
        free(h);
    }
    pthread_mutex_destroy(&c->lock);
}

/* The host entry of u (lock held); NULL if out of memory. */
static struct cx_host *host_of(struct cx_crawler *c, const struct cx_url *u)
{
    char key[300];
    snprintf(key, sizeof(key), "%s://%s:%d", u->scheme, u->host, u->port);
    for (struct cx_host *h = c->hosts; h != NULL; h = h->next) {
        if (strcmp(h->key, key) == 0) {
            return h;
        }
    }
    struct cx_host *h = calloc(1, sizeof(*h));
    if (h != NULL) {
        snprintf(h->key, sizeof(h->key), "%s", key);
        h->delay_ms = c->conf.politeness_ms;
        h->next = c->hosts;
        c->hosts = h;
    }
    return h;
}

/* ---- the breaker --------------------------------------------------------- */

static void dependency_failed(struct cx_crawler *c, const struct cx_url *u)
{
    pthread_mutex_lock(&c->lock);
    if (u != NULL) {
        snprintf(c->probe_host, sizeof(c->probe_host), "%s", u->host);
        c->probe_port = u->port;
    }
    if (c->breaker == CX_BREAKER_CLOSED &&
        ++c->dep_failures >= c->conf.breaker_failures) {
        c->breaker = CX_BREAKER_OPEN;
        c->next_probe_ms = cx_mono_ms() + c->conf.breaker_probe_ms;
        c->opened++;
        fprintf(stderr,
                "ts=%lld level=warn event=breaker_open failures=%d "
                "msg=\"egress dependency down: pausing partitions\"\n",
                (long long)cx_wall_ms(), c->dep_failures);
    }
    pthread_mutex_unlock(&c->lock);
}

static void dependency_ok(struct cx_crawler *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->breaker == CX_BREAKER_CLOSED) {
        c->dep_failures = 0;
    }
    pthread_mutex_unlock(&c->lock);
}

int cx_crawler_breaker(struct cx_crawler *c)
{
    pthread_mutex_lock(&c->lock);
    int st = c->breaker;
    pthread_mutex_unlock(&c->lock);
    return st;
}

/* ---- the renew hook ------------------------------------------------------ */

/* Run the hook: 0 if it exited 0 in time, -1 if not (killed on timeout). */
static int run_hook(struct cx_crawler *c)
{
    char *argv[] = {"/bin/sh", "-c", (char *)c->conf.renew_cmd, NULL};
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        return -1;
    }
    int64_t deadline = cx_mono_ms() + c->conf.renew_timeout_ms;
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        }
        if (w < 0 && errno != EINTR) {
            return -1;
        }
        if (cx_mono_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            fprintf(stderr,
                    "ts=%lld level=warn event=renew_timeout timeout_ms=%d\n",
                    (long long)cx_wall_ms(), c->conf.renew_timeout_ms);
            return -1;
        }
        sleep_ms(5);
    }
}

int cx_crawler_probe(struct cx_crawler *c)
{
    char host[256], err[160];
    pthread_mutex_lock(&c->lock);
    int64_t now = cx_mono_ms();
    if (c->breaker != CX_BREAKER_OPEN || now < c->next_probe_ms) {
        int st = c->breaker;
        pthread_mutex_unlock(&c->lock);
        return st;
    }
    c->next_probe_ms = now + c->conf.breaker_probe_ms;
    snprintf(host, sizeof(host), "%s", c->probe_host);
    int port = c->probe_port;
    pthread_mutex_unlock(&c->lock);

    int ok = 1;
    if (c->conf.http.socks5_host != NULL && host[0] != '\0') {
        int fd = cx_socks5_connect(c->conf.http.socks5_host,
                                   c->conf.http.socks5_port, host, port,
                                   c->conf.http.socks5_timeout_ms, err,
                                   sizeof(err));
        ok = fd >= 0;
        if (fd >= 0) {
            close(fd);
        }
    }
    if (ok && c->conf.renew_cmd != NULL) {
        ok = run_hook(c) == 0;
    }
    pthread_mutex_lock(&c->lock);
    if (ok && c->breaker == CX_BREAKER_OPEN) {
        c->breaker = CX_BREAKER_CLOSED;
        c->dep_failures = 0;
        c->closed++;
        fprintf(stderr,
                "ts=%lld level=info event=breaker_closed msg=\"egress "
                "dependency back: resuming partitions\"\n",
                (long long)cx_wall_ms());
    }
    int st = c->breaker;
    pthread_mutex_unlock(&c->lock);
    return st;
}

/* ---- fetchers ------------------------------------------------------------ */

/* GET url with the system curl binary (https, or --fetcher curl). */
static int curl_get(struct cx_crawler *c, const char *url,
                    struct cx_http_resp *r)
{
    char tmpl[] = "/tmp/crawl-curl-XXXXXX", maxt[32], cont[32], redirs[16];
    char proxy[300], meta[600];
    const struct cx_http_opts *o = &c->conf.http;
    int fd = mkstemp(tmpl), pfd[2];
    memset(r, 0, sizeof(*r));
    if (fd < 0 || pipe(pfd) != 0) {
        snprintf(r->err, sizeof(r->err), "curl: temp file: %s",
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmpl);
        }
        return CX_EIO;
    }
    snprintf(maxt, sizeof(maxt), "%.3f",
             (o->total_ms > 0 ? o->total_ms : 15000) / 1000.0);
    snprintf(cont, sizeof(cont), "%.3f",
             (o->connect_ms > 0 ? o->connect_ms : 3000) / 1000.0);
    snprintf(redirs, sizeof(redirs), "%d",
             o->max_redirects > 0 ? o->max_redirects : 5);
    const char *argv[24] = {"curl", "-sS", "-L", "--max-redirs", redirs,
                            "--max-time", maxt, "--connect-timeout", cont,
                            "-A", o->user_agent ? o->user_agent
                                                : "crawllog-crawler/1",
                            "-o", tmpl, "-w",
                            "%{http_code} %{num_redirects} %{url_effective}"};
    int n = 15;
    if (o->socks5_host != NULL) {
        snprintf(proxy, sizeof(proxy), "socks5h://%s:%d", o->socks5_host,
                 o->socks5_port);
        argv[n++] = "-x";
        argv[n++] = proxy;
    }
    argv[n++] = url;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int64_t t0 = cx_mono_ms();
    int rc = posix_spawnp(&pid, "curl", &fa, NULL, (char *const *)argv,
                          environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    size_t mlen = 0;
    ssize_t got;
    while (rc == 0 && (got = read(pfd[0], meta + mlen,
                                  sizeof(meta) - 1 - mlen)) != 0) {
        if (got < 0 && errno != EINTR) {
            break;
        }
        mlen += got > 0 ? (size_t)got : 0;
        if (mlen >= sizeof(meta) - 1) {
            break;
        }
    }
    meta[mlen] = '\0';
    close(pfd[0]);
    int status = 0;
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    r->elapsed_ms = (double)(cx_mono_ms() - t0);
    int code = rc != 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0 ||
        sscanf(meta, "%d %d %2399s", &r->status, &r->redirects,
               r->final_url) < 2) {
        close(fd);
        unlink(tmpl);
        snprintf(r->err, sizeof(r->err), "curl exit %d", code);
        r->status = 0;
        /* 5: proxy not resolved, 97: proxy handshake */
        return o->socks5_host != NULL && (code == 5 || code == 97)
                   ? CX_EPROXY
               : code == 28 ? CX_ETIMEOUT
                            : CX_ECONNECT;
    }
    size_t cap = o->body_max > 0 ? o->body_max : 1 << 20;
    r->body = malloc(cap + 1);
    r->body_len = 0;
    while (r->body != NULL && r->body_len < cap &&
           (got = read(fd, r->body + r->body_len, cap - r->body_len)) > 0) {
        r->body_len += (size_t)got;
    }
    if (r->body != NULL) {
        r->body[r->body_len] = '\0';
        char extra;
        r->truncated = r->body_len == cap && read(fd, &extra, 1) == 1;
    }
    close(fd);
    unlink(tmpl);
    return r->body != NULL ? CX_OK : CX_ENOMEM;
}

static int fetch_raw(struct cx_crawler *c, const char *url,
                     struct cx_http_resp *r)
{
    if (c->conf.fetcher == CX_FETCH_CURL || strncmp(url, "https:", 6) == 0) {
        return curl_get(c, url, r);
    }
    return cx_http_get(url, &c->conf.http, r);
}

/* A failure of the egress path, not of the target: the proxy stalls, its
 * port refuses (through a proxy CX_ECONNECT can only mean that), or it
 * fails in general.  A SOCKS reply about the target (0x03 network or 0x04
 * host unreachable, 0x05 connection refused) is the target's failure. */
static int is_dependency(const struct cx_crawler *c, int rc, const char *err)
{
    if (rc == CX_EPROXY_TIMEOUT) {
        return 1;
    }
    if (c->conf.http.socks5_host == NULL) {
        return 0;
    }
    return rc == CX_ECONNECT ||
           (rc == CX_EPROXY && strstr(err, "reply 0x03") == NULL &&
            strstr(err, "reply 0x04") == NULL &&
            strstr(err, "reply 0x05") == NULL);
}

/* ---- robots and politeness ----------------------------------------------- */

/* Make sure h's robots.txt is loaded; CX_FETCH_DEPENDENCY if the proxy
 * failed while fetching it, else 0. */
static int load_robots(struct cx_crawler *c, const struct cx_url *u)
{
    for (int waited = 0;; waited++) {
        pthread_mutex_lock(&c->lock);
        struct cx_host *h = host_of(c, u);
        int64_t now = cx_mono_ms();
        if (h == NULL || now < h->robots_until) {
            pthread_mutex_unlock(&c->lock);
            return 0;
        }
        if (h->loading && waited < 1000) {
            pthread_mutex_unlock(&c->lock);
            sleep_ms(5); /* another worker is fetching it */
            continue;
        }
        h->loading = 1;
        pthread_mutex_unlock(&c->lock);

        char url[2400];
        struct cx_url ru = *u;
        struct cx_http_resp r;
        snprintf(ru.path, sizeof(ru.path), "/robots.txt");
        cx_url_format(&ru, url, sizeof(url));
        int rc = fetch_raw(c, url, &r);
        int dep = rc != CX_OK && is_dependency(c, rc, r.err);
        struct cx_robots *rob = NULL;
        int64_t ttl = c->conf.robots_ttl_ms;
        if (rc == CX_OK && r.status >= 200 && r.status < 300) {
            rob = cx_robots_parse(r.body, r.body_len,
                                  c->conf.http.user_agent
                                      ? c->conf.http.user_agent
                                      : "crawllog-crawler/1");
        } else if (rc != CX_OK || r.status >= 500) {
            ttl = 5000; /* unreachable: allow for now, ask again soon */
        }
        cx_http_resp_free(&r);
        pthread_mutex_lock(&c->lock);
        cx_robots_free(h->robots);
        h->robots = rob;
        h->loading = 0;
        h->robots_until = dep ? 0 : cx_mono_ms() + ttl;
        int64_t delay = cx_robots_crawl_delay_ms(rob);
        h->delay_ms = delay > c->conf.politeness_ms ? delay
                                                    : c->conf.politeness_ms;
        pthread_mutex_unlock(&c->lock);
        if (dep) {
            dependency_failed(c, u);
            return CX_FETCH_DEPENDENCY;
        }
        return 0;
    }
}

static int robots_allow(struct cx_crawler *c, const struct cx_url *u)
{
    pthread_mutex_lock(&c->lock);
    struct cx_host *h = host_of(c, u);
    int ok = h == NULL || cx_robots_allowed(h->robots, u->path);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* Wait for u's host's next politeness slot and take it. */
static void polite_wait(struct cx_crawler *c, const struct cx_url *u)
{
    pthread_mutex_lock(&c->lock);
    struct cx_host *h = host_of(c, u);
    int64_t now = cx_mono_ms(), slot = now;
    if (h != NULL) {
        slot = h->next_fetch > now ? h->next_fetch : now;
        h->next_fetch = slot + h->delay_ms;
    }
    pthread_mutex_unlock(&c->lock);
    sleep_ms(slot - now);
}

/* ---- the fetch ----------------------------------------------------------- */

int cx_crawler_fetch(struct cx_crawler *c, const char *url,
                     struct cx_http_resp *r, char *why, size_t why_size)
{
    struct cx_url u;
    memset(r, 0, sizeof(*r));
    if (cx_url_parse(url, &u) != CX_OK) {
        snprintf(why, why_size, "not an http(s) URL");
        return CX_FETCH_FAILED;
    }
    if (c->conf.renew_cmd != NULL && c->conf.renew_every > 0) {
        pthread_mutex_lock(&c->lock);
        int due = ++c->fetches % c->conf.renew_every == 0;
        pthread_mutex_unlock(&c->lock);
        if (due && run_hook(c) != 0) {
            snprintf(why, why_size, "renew identity hook failed or timed out");
            dependency_failed(c, &u);
            return CX_FETCH_DEPENDENCY;
        }
    }
    if (load_robots(c, &u) == CX_FETCH_DEPENDENCY) {
        snprintf(why, why_size, "proxy failed while fetching robots.txt");
        return CX_FETCH_DEPENDENCY;
    }
    if (!robots_allow(c, &u)) {
        snprintf(why, why_size, "disallowed by robots.txt");
        return CX_FETCH_ROBOTS;
    }
    polite_wait(c, &u);
    int rc = fetch_raw(c, url, r);
    if (rc != CX_OK && is_dependency(c, rc, r->err)) {
        snprintf(why, why_size, "proxy: %s", r->err);
        cx_http_resp_free(r);
        dependency_failed(c, &u);
        return CX_FETCH_DEPENDENCY;
    }
    dependency_ok(c);
    if (rc != CX_OK) {
        snprintf(why, why_size, "%s", r->err[0] ? r->err : "fetch failed");
        cx_http_resp_free(r);
        return CX_FETCH_FAILED;
    }
    return CX_FETCHED;
}

void cx_crawler_result_fields(struct cx_json *out,
                              const struct cx_http_resp *resp)
{
    struct cx_seo seo;
    cx_seo_extract(resp->body ? resp->body : "", resp->body_len, &seo);
    cx_json_str(out, "result", "crawled");
    cx_json_int(out, "status", resp->status);
    cx_json_str(out, "final_url", resp->final_url);
    cx_json_str(out, "title", seo.title);
    cx_json_str(out, "description", seo.description);
    cx_json_str(out, "canonical", seo.canonical);
    cx_json_int(out, "h1_count", seo.h1_count);
    cx_json_int(out, "word_count", seo.word_count);
    cx_json_int(out, "link_count", seo.link_count);
    cx_json_num(out, "response_ms", resp->elapsed_ms);
    cx_json_int(out, "bytes", (int64_t)resp->body_len);
    cx_json_bool(out, "truncated", resp->truncated);
}
