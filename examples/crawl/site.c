/*
 * site.c - the content of crawl-fixture (site.h): the generated test site,
 * the /urls job list and the report sink, without any socket.
 *
 * Site: every page is generated on request from a splitmix64 stream
 * seeded with (seed, host, page), so the site needs no memory and is the
 * same for the same seed.  Sink: one mutex guards the counters, the
 * PRNG that decides which reports fail, the (topic, partition, offset)
 * hash table that finds duplicates, and the appends to the reports file.
 *
 * Part of the crawl pipeline examples, not of libcrawllog.
 */
#include "site.h"
#include "seo.h" /* cx_json_get */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Seeded randomness and a growing text buffer                             */
/* ---------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* splitmix64: the next value of the stream *s. */
static uint64_t rnd(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return mix64(*s);
}

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void bprintf(struct buf *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void bprintf(struct buf *b, const char *fmt, ...)
{
    for (int pass = 0; pass < 2 && !b->oom; pass++) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len <= (size_t)n) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* ---------------------------------------------------------------------- */
/* The site                                                                */
/* ---------------------------------------------------------------------- */

static const char *const words[] = {
    "crawl",   "log",    "partition", "offset",  "consumer", "producer",
    "segment", "index",  "record",    "replica", "topic",    "lag",
    "replay",  "commit", "batch",     "fetch",   "robots",   "sitemap",
    "anchor",  "title",  "canonical", "meta",    "heading",  "link",
    "page",    "host",   "seed",      "queue",   "retry",    "backoff",
    "proxy",   "report",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* A decimal number without sign or leading zero, followed by end or by
 * stop: its value (< limit), or -1. */
static long parse_num(const char *s, char stop, const char **rest, long limit)
{
    long v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9')) {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        long d = *p - '0';
        if (d >= limit || v > (limit - 1 - d) / 10) {
            return -1; /* v * 10 + d >= limit */
        }
        v = v * 10 + d;
    }
    if (*p != '\0' && *p != stop) {
        return -1;
    }
    if (rest != NULL) {
        *rest = p;
    }
    return v;
}

static void set_page(struct cx_site_resp *r, int status, struct buf *b)
{
    if (b->oom) { /* a partial page: none */
        free(b->p);
        b->p = NULL;
        b->len = 0;
    }
    r->status = status;
    r->content_type = "text/html; charset=utf-8";
    r->body = b->p;
    r->len = b->len;
}

static void set_text(struct cx_site_resp *r, int status, const char *text)
{
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    r->body = strdup(text);
    r->len = r->body ? strlen(text) : 0;
}

/* A small page for /slow/ and /private/. */
static void simple_page(struct cx_site_resp *r, const char *what, int host,
                        long i)
{
    struct buf b = {0};
    bprintf(&b,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
            "<title>%s page %ld on host %d</title>\n</head><body>\n"
            "<h1>%s page %ld on host %d</h1>\n<p>Nothing to see here.</p>\n"
            "</body></html>\n",
            what, i, host, what, i, host);
    set_page(r, 200, &b);
}

/* The href of one link of a page, drawn from the page's stream. */
static void link_target(const struct cx_site *s, int host, uint64_t *st,
                        char *href, size_t size)
{
    unsigned u = (unsigned)(rnd(st) % 100);
    long j = (long)(rnd(st) % (uint64_t)s->pages);
    if (u < 65) {
        snprintf(href, size, "/p/%ld", j);
    } else if (u < 75 && s->hosts > 1) {
        int off = 1 + (int)(rnd(st) % (uint64_t)(s->hosts - 1));
        int other = 1 + (host - 1 + off) % s->hosts; /* not host */
        snprintf(href, size, "http://127.0.0.%d:%d/p/%ld", other, s->port, j);
    } else if (u < 81) {
        snprintf(href, size, "/private/%ld", j);
    } else if (u < 87) {
        snprintf(href, size, "/missing/%ld", j);
    } else if (u < 93) {
        snprintf(href, size, "/redirect/%d/%ld", 1 + (int)(rnd(st) % 3), j);
    } else if (u < 96) {
        snprintf(href, size, "/slow/%ld", j);
    } else {
        snprintf(href, size, "%ld", j); /* relative to /p/<i>: /p/<j> */
    }
}

static void page(const struct cx_site *s, int host, long i,
                 struct cx_site_resp *r)
{
    uint64_t st = mix64(s->seed ^ mix64(((uint64_t)host << 32) ^ (uint64_t)i));
    int nwords = 50 + (int)(rnd(&st) % 350);
    int nlinks = 5 + (int)(rnd(&st) % 16);
    const char *topic1 = words[rnd(&st) % NWORDS];
    const char *topic2 = words[rnd(&st) % NWORDS];
    struct buf b = {0};

    bprintf(&b,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
            "<title>Page %ld on host %d</title>\n"
            "<meta name=\"description\" content=\"Page %ld of host %d of the "
            "crawl fixture: %d words about %s and %s.\">\n"
            "<link rel=\"canonical\" href=\"http://127.0.0.%d:%d/p/%ld\">\n"
            "</head><body>\n<h1>Page %ld on host %d</h1>\n<p>",
            i, host, i, host, nwords, topic1, topic2, host, s->port, i, i,
            host);
    for (int w = 0; w < nwords; w++) {
        int para = w > 0 && rnd(&st) % 25 == 0;
        bprintf(&b, "%s%s",
                w == 0 ? ""
                : para ? "</p>\n<p>"
                       : " ",
                words[rnd(&st) % NWORDS]);
    }
    bprintf(&b, "</p>\n<ul>\n");
    for (int l = 0; l < nlinks; l++) {
        char href[128];
        link_target(s, host, &st, href, sizeof(href));
        bprintf(&b, "<li><a href=\"%s\">link %d</a></li>\n", href, l);
    }
    bprintf(&b, "</ul>\n</body></html>\n");
    set_page(r, 200, &b);
}

int cx_site_get(const struct cx_site *s, int host, const char *path,
                struct cx_site_resp *r)
{
    char p[2048];
    const char *rest;
    long i, k;

    memset(r, 0, sizeof(*r));
    snprintf(p, sizeof(p), "%s", path);
    p[strcspn(p, "?#")] = '\0';

    if (strcmp(p, "/robots.txt") == 0) {
        set_text(r, 200,
                 "User-agent: *\nDisallow: /private/\n"
                 "Crawl-delay: 0.01\n");
    } else if (strncmp(p, "/p/", 3) == 0 &&
               (i = parse_num(p + 3, '\0', NULL, s->pages)) >= 0) {
        page(s, host, i, r);
    } else if (strncmp(p, "/slow/", 6) == 0 &&
               (i = parse_num(p + 6, '\0', NULL, s->pages)) >= 0) {
        simple_page(r, "Slow", host, i);
        r->delay_ms = s->slow_ms;
    } else if (strncmp(p, "/private/", 9) == 0 &&
               (i = parse_num(p + 9, '\0', NULL, s->pages)) >= 0) {
        simple_page(r, "Private", host, i);
    } else if (strncmp(p, "/error/", 7) == 0 &&
               parse_num(p + 7, '\0', NULL, 1000000000L) >= 0) {
        set_text(r, 500, "internal server error (on purpose)\n");
    } else if (strncmp(p, "/redirect/", 10) == 0 &&
               (k = parse_num(p + 10, '/', &rest, 21)) >= 1 && *rest == '/' &&
               (i = parse_num(rest + 1, '\0', NULL, s->pages)) >= 0) {
        if (k > 1) {
            snprintf(r->headers, sizeof(r->headers),
                     "Location: http://127.0.0.%d:%d/redirect/%ld/%ld\r\n",
                     host, s->port, k - 1, i);
        } else {
            snprintf(r->headers, sizeof(r->headers),
                     "Location: http://127.0.0.%d:%d/p/%ld\r\n", host, s->port,
                     i);
        }
        set_text(r, 302, "redirect\n");
    } else {
        set_text(r, 404, "not found\n"); /* /missing/<i> among others */
    }
    return r->body == NULL ? -1 : 0;
}

void cx_site_resp_free(struct cx_site_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Query parameter name of query ("a=1&b=2", or NULL) as a number below
 * limit: 0 (def if absent), -1 if not such a number. */
static int query_num(const char *query, const char *name, long def, long limit,
                     long *out)
{
    size_t nlen = strlen(name);
    *out = def;
    for (const char *p = query; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&');
        if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            *out = parse_num(p + nlen + 1, '&', NULL, limit);
            if (*out < 0) {
                return -1;
            }
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

int cx_site_urls(const struct cx_site *s, const char *query, char **body,
                 size_t *lenp)
{
    long count, mix;
    struct buf b = {0};

    *body = NULL;
    *lenp = 0;
    if (query_num(query, "count", 100, CX_SITE_URLS_MAX + 1, &count) != 0 ||
        query_num(query, "mix", 1, 2, &mix) != 0) {
        return 400;
    }
    bprintf(&b, "%s", ""); /* an empty list is "" */
    for (long j = 0; j < count && !b.oom; j++) {
        int host = 1 + (int)(j % s->hosts);
        long i = (j / s->hosts) % s->pages;
        unsigned u = mix ? (unsigned)(mix64(s->seed ^ 0x75726c73ULL ^
                                            mix64((uint64_t)j)) %
                                      100)
                         : 100;
        char path[64];
        if (u < 2) {
            snprintf(path, sizeof(path), "/slow/%ld", i);
        } else if (u < 5) {
            snprintf(path, sizeof(path), "/missing/%ld", i);
        } else if (u < 7) {
            snprintf(path, sizeof(path), "/error/%ld", i);
        } else if (u < 11) {
            snprintf(path, sizeof(path), "/redirect/%u/%ld", 1 + u % 3, i);
        } else if (u < 14) {
            snprintf(path, sizeof(path), "/private/%ld", i);
        } else {
            snprintf(path, sizeof(path), "/p/%ld", i);
        }
        bprintf(&b, "http://127.0.0.%d:%d%s %s\n", host, s->port, path,
                j % 2 ? "rank" : "seo");
    }
    if (b.oom) {
        free(b.p);
        return 500;
    }
    *body = b.p;
    *lenp = b.len;
    return 200;
}

/* ---------------------------------------------------------------------- */
/* The report sink                                                         */
/* ---------------------------------------------------------------------- */

/* The integer member key (0 <= value <= max): 1 and *v, 0 absent, -1 bad. */
static int json_int(const char *text, size_t len, const char *key, long max,
                    long *v)
{
    char val[32];
    int rc = cx_json_get(text, len, key, val, sizeof(val));
    if (rc != 1) {
        return rc;
    }
    long n = parse_num(val, '\0', NULL, max + 1);
    if (n < 0) {
        return -1;
    }
    *v = n;
    return 1;
}

struct entry {
    struct entry *next;
    uint64_t hash;
    long partition, offset, count;
    char topic[];
};

struct cx_sink {
    pthread_mutex_t mu;
    int fd; /* the reports file, or -1 */
    int fail_pct;
    uint64_t rng;
    long reports, unique, failed, bad;
    struct entry **buckets;
    size_t nbuckets; /* a power of 2 */
};

struct cx_sink *cx_sink_new(const char *reports_path, int fail_pct,
                            uint64_t seed, char *err, size_t err_size)
{
    struct cx_sink *k = calloc(1, sizeof(*k));
    if (k == NULL || (k->buckets = calloc(1024, sizeof(*k->buckets))) == NULL) {
        snprintf(err, err_size, "out of memory");
        free(k);
        return NULL;
    }
    k->nbuckets = 1024;
    k->fd = -1;
    k->fail_pct = fail_pct;
    k->rng = mix64(seed ^ 0x73696e6bULL);
    if (reports_path != NULL) {
        k->fd =
            open(reports_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (k->fd < 0) {
            snprintf(err, err_size, "cannot open %s: %s", reports_path,
                     strerror(errno));
            free(k->buckets);
            free(k);
            return NULL;
        }
    }
    pthread_mutex_init(&k->mu, NULL);
    return k;
}

void cx_sink_free(struct cx_sink *k)
{
    if (k == NULL) {
        return;
    }
    for (size_t b = 0; b < k->nbuckets; b++) {
        for (struct entry *e = k->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(k->buckets);
    if (k->fd >= 0) {
        close(k->fd);
    }
    pthread_mutex_destroy(&k->mu);
    free(k);
}

/* Append body as one line (line breaks turned into spaces). */
static int append_line(int fd, const char *body, size_t len)
{
    char *line = malloc(len + 1);
    if (line == NULL) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        line[i] = (char)(body[i] == '\n' || body[i] == '\r' ? ' ' : body[i]);
    }
    line[len] = '\n';
    size_t done = 0;
    while (done < len + 1) {
        ssize_t w = write(fd, line + done, len + 1 - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            free(line);
            return -1;
        }
        done += (size_t)w;
    }
    free(line);
    return 0;
}

/* Count one (topic, partition, offset) under k->mu: 0, or -1 (memory). */
static int count_key(struct cx_sink *k, const char *topic, long partition,
                     long offset)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *c = topic; *c != '\0'; c++) {
        h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
    }
    h = mix64(h ^ mix64((uint64_t)partition) ^ ((uint64_t)offset << 1));
    struct entry **bucket = &k->buckets[h & (k->nbuckets - 1)];
    for (struct entry *e = *bucket; e != NULL; e = e->next) {
        if (e->hash == h && e->partition == partition && e->offset == offset &&
            strcmp(e->topic, topic) == 0) {
            e->count++;
            return 0;
        }
    }
    size_t tlen = strlen(topic);
    struct entry *e = malloc(sizeof(*e) + tlen + 1);
    if (e == NULL) {
        return -1;
    }
    e->hash = h;
    e->partition = partition;
    e->offset = offset;
    e->count = 1;
    memcpy(e->topic, topic, tlen + 1);
    e->next = *bucket;
    *bucket = e;
    k->unique++;
    if ((size_t)k->unique > k->nbuckets) { /* grow: rehash into 2x */
        size_t nb = k->nbuckets * 2;
        struct entry **b = calloc(nb, sizeof(*b));
        if (b != NULL) {
            for (size_t i = 0; i < k->nbuckets; i++) {
                for (struct entry *x = k->buckets[i], *next; x; x = next) {
                    next = x->next;
                    x->next = b[x->hash & (nb - 1)];
                    b[x->hash & (nb - 1)] = x;
                }
            }
            free(k->buckets);
            k->buckets = b;
            k->nbuckets = nb;
        }
    }
    return 0;
}

int cx_sink_report(struct cx_sink *k, const char *body, size_t len)
{
    char topic[256], job[8];
    long partition, offset;
    if (cx_json_get(body, len, "topic", topic, sizeof(topic)) != 1 ||
        topic[0] == '\0' ||
        cx_json_get(body, len, "job_id", job, sizeof(job)) != 1 ||
        json_int(body, len, "partition", 1000000000L, &partition) != 1 ||
        json_int(body, len, "offset", 999999999999999999L, &offset) != 1) {
        pthread_mutex_lock(&k->mu);
        k->bad++;
        pthread_mutex_unlock(&k->mu);
        return 400;
    }
    int status = 200;
    pthread_mutex_lock(&k->mu);
    if (rnd(&k->rng) % 100 < (uint64_t)k->fail_pct) {
        k->failed++;
        status = 503;
    } else if ((k->fd >= 0 && append_line(k->fd, body, len) != 0) ||
               count_key(k, topic, partition, offset) != 0) {
        status = 500;
    } else {
        k->reports++;
    }
    pthread_mutex_unlock(&k->mu);
    return status;
}

/* POST /control: 200 (applied) or 400 (nothing applied). */
static int sink_control(struct cx_sink *k, const char *body, size_t len,
                        long *stall_ms)
{
    long pct = -1, ms = -1;
    int a = json_int(body, len, "report_fail_pct", 100, &pct);
    int b = json_int(body, len, "socks_stall_ms", 3600000L, &ms);
    if (a < 0 || b < 0 || (a == 0 && b == 0)) {
        return 400;
    }
    if (a == 1) {
        pthread_mutex_lock(&k->mu);
        k->fail_pct = (int)pct;
        pthread_mutex_unlock(&k->mu);
    }
    *stall_ms = b == 1 ? ms : -1;
    return 200;
}

void cx_sink_stats(struct cx_sink *k, const char *extra, char *out,
                   size_t out_size)
{
    pthread_mutex_lock(&k->mu);
    snprintf(out, out_size,
             "{\"reports\":%ld,\"unique\":%ld,\"duplicates\":%ld,"
             "\"failed\":%ld,\"bad\":%ld,\"report_fail_pct\":%d%s%s}",
             k->reports, k->unique, k->reports - k->unique, k->failed, k->bad,
             k->fail_pct, extra && *extra ? "," : "", extra ? extra : "");
    pthread_mutex_unlock(&k->mu);
}

static void set_json(struct cx_site_resp *r, const char *json)
{
    set_text(r, 200, json);
    r->content_type = "application/json";
}

int cx_sink_api(struct cx_sink *k, const struct cx_site *s, const char *method,
                const char *target, const char *body, size_t len,
                const char *extra, long *stall_ms, struct cx_site_resp *r)
{
    size_t plen = strcspn(target, "?");
    const char *query = target[plen] == '?' ? target + plen + 1 : NULL;
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char json[1024];
    int st;

    memset(r, 0, sizeof(*r));
    *stall_ms = -1;
#define IS(p) (plen == sizeof(p) - 1 && memcmp(target, p, plen) == 0)
    if (!IS("/urls") && !IS("/stats") && !IS("/report") && !IS("/control")) {
        return 0;
    }
    if ((IS("/urls") || IS("/stats")) && !get) {
        set_text(r, 405, "GET only\n");
        snprintf(r->headers, sizeof(r->headers), "Allow: GET\r\n");
    } else if ((IS("/report") || IS("/control")) && !post) {
        set_text(r, 405, "POST only\n");
        snprintf(r->headers, sizeof(r->headers), "Allow: POST\r\n");
    } else if (IS("/urls")) {
        st = cx_site_urls(s, query, &r->body, &r->len);
        if (st == 200) {
            r->status = 200;
            r->content_type = "text/plain; charset=utf-8";
        } else {
            set_text(r, st,
                     st == 400 ? "want /urls?count=N&mix=0|1 "
                                 "(N <= 100000)\n"
                               : "out of memory\n");
        }
    } else if (IS("/stats")) {
        cx_sink_stats(k, extra, json, sizeof(json));
        set_json(r, json);
    } else if (IS("/report")) {
        st = cx_sink_report(k, body, len);
        set_text(r, st,
                 st == 200   ? "recorded\n"
                 : st == 503 ? "failing on purpose\n"
                 : st == 400 ? "want a JSON object with job_id, "
                               "topic, partition and offset\n"
                             : "cannot record\n");
    } else if (sink_control(k, body, len, stall_ms) != 200) {
        set_text(r, 400,
                 "want {\"report_fail_pct\":0-100} and/or "
                 "{\"socks_stall_ms\":0-3600000}\n");
    } else {
        pthread_mutex_lock(&k->mu);
        snprintf(json, sizeof(json),
                 "{\"report_fail_pct\":%d,"
                 "\"socks_stall_ms\":%ld}",
                 k->fail_pct, *stall_ms);
        pthread_mutex_unlock(&k->mu);
        set_json(r, json);
    }
#undef IS
    return 1;
}
