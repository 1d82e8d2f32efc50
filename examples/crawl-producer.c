/*
 * crawl-producer.c - the crawl pipeline's front door: enqueue crawl jobs
 * (URL, type seo | rank, priority 0..9) from lines on stdin or a file, or
 * over HTTP (POST /jobs, answered once the job is acknowledged).
 *
 * What it shows:
 *  - acks 0 | 1 | all with enable.idempotence=true: with acks=all the
 *    offset crawllog_producer_send() returns is on disk, so "202 Accepted"
 *    survives a crash or a power loss - "the admin calls the producer, the
 *    producer answers at once", minus the message loss;
 *  - keys for order: the key is the URL's host[:port], lower-cased, so
 *    murmur2 puts all jobs of a host in one partition (per-host order and
 *    politeness stay with one consumer); --partitioner round_robin sends
 *    NULL keys, which the producer spreads round robin;
 *  - the delivery callback, to learn the partition the producer chose;
 *  - idempotent POSTs: a retry with the same Idempotency-Key header gets
 *    the original topic/partition/offset and enqueues nothing, across
 *    restarts too (kill -9 included).  The key is the job id and the
 *    record header "idempotency-key"; at startup the server rebuilds its
 *    key -> (partition, offset) map by reading each partition from its log
 *    start.  Memory: ~48 bytes plus the key (<= 128 bytes) per keyed job
 *    in the topic; the window is the topic's retention (a retry after its
 *    record was deleted enqueues again).  One server per topic.  With
 *    acks=0 a POST is flushed (written, not synced) before the answer, so
 *    that the answer can carry the offset.
 * Value: JSON {"job_id":"...","url":"...","type":"seo","priority":5,
 * "enqueued_ms":T}; job_id: the Idempotency-Key, else 128 random bits.
 *
 * Build:  make            (this becomes build/examples/crawl-producer)
 * Run:    printf 'https://example.org/ seo 3\nhttps://example.com/ rank\n' |
 *             build/examples/crawl-producer -d ./crawllog-data
 *         build/examples/crawl-producer --file jobs.txt --acks 1 \
 *             --partitioner round_robin
 *         build/examples/crawl-producer --listen 127.0.0.1:8080 &
 *         curl -i -H 'Idempotency-Key: job-42' \
 *             -d '{"url":"https://example.org/","type":"rank","priority":1}' \
 *             http://127.0.0.1:8080/jobs
 *   (twice: the second answer is 200 with the same offset).
 * Input lines: "URL [TYPE [PRIORITY]]"; blank lines and # comments are
 *   skipped; a bad line is reported with its number and skipped (exit 1).
 * Output: "https://example.org/ -> crawl.jobs/5 @0" per job (not with
 *   --quiet or acks=0), then "produced 2 jobs (0 bad lines) to crawl.jobs"
 *   on stderr.  Server: "crawl-producer listening on
 *   http://127.0.0.1:8080/jobs" on stderr (port 0: the port chosen), a
 *   line per request; GET /healthz: 200; SIGTERM / SIGINT: stop accepting,
 *   finish the requests in flight, flush, exit 0.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "crawllog.h"
#include "httpd.h"
#include "seo.h"

#define URL_MAX 2048     /* longest URL accepted */
#define IDEM_KEY_MAX 128 /* longest Idempotency-Key accepted */
#define BODY_MAX 65536   /* largest POST body */
#define READ_TIMEOUT_MS 5000
#define CONN_MAX 64 /* connections served at once */

static const char usage_text[] =
    "usage: crawl-producer [-d DIR] [--topic TOPIC] [--partitions N]\n"
    "                      [--acks 0|1|all] [--partitioner "
    "murmur2|round_robin]\n"
    "                      [--file PATH | --listen HOST:PORT] [--quiet]\n"
    "Enqueue crawl jobs (URL, type seo|rank, priority 0..9) into a topic.\n"
    "  -d DIR, --log LOC  data directory ($CRAWLLOG_DIR, ./crawllog-data), or\n"
    "                     kafka://host:port[,host:port] (make kafka build)\n"
    "  --topic TOPIC      topic (default crawl.jobs)\n"
    "  --partitions N     partitions if the topic is created (default 8)\n"
    "  --acks 0|1|all     acknowledgement level (default all: on disk)\n"
    "  --partitioner P    murmur2 (default): key = the URL's host[:port];\n"
    "                     round_robin: no key, jobs spread evenly\n"
    "  --file PATH        \"URL [TYPE [PRIORITY]]\" lines (default: stdin)\n"
    "  --listen HOST:PORT serve POST /jobs (JSON {\"url\",\"type\",\n"
    "                     \"priority\"}, header Idempotency-Key) on a\n"
    "                     loopback address; port 0: any free port\n"
    "  --quiet            no line per job or request\n"
    "  -h, --help         this text\n"
    "Exit status: 0 ok, 1 error or bad input lines, 2 usage.\n";

static struct {
    const char *dir, *topic, *acks, *file, *listen;
    int32_t partitions;
    int round_robin, quiet;
} g_opt = {NULL, "crawl.jobs", "all", NULL, NULL, 8, 0, 0};

static crawllog_t *g_log;
static crawllog_producer_t *g_prod;
static int32_t g_nparts;
static int g_acks0;
static int g_urandom = -1;
static volatile sig_atomic_t g_stop;
static atomic_long g_sent, g_lost;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- jobs ------------------------------------------------------------ */

struct job {
    char url[URL_MAX], host[URL_MAX]; /* host: the key, host[:port] */
    const char *type;                 /* "seo" or "rank" */
    int priority, has_idem;           /* has_idem: id is the client's key */
    char id[IDEM_KEY_MAX + 1];
};

/* Fill j from the fields (type and prio may be NULL: the defaults).
 * Returns NULL, or why the job is refused. */
static const char *job_parse(struct job *j, const char *url, const char *type,
                             const char *prio)
{
    size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                  : strncasecmp(url, "https://", 8) == 0 ? 8
                                                         : 0;
    memset(j, 0, sizeof(*j));
    if (skip == 0) {
        return "URL must start with http:// or https://";
    }
    if (strlen(url) >= URL_MAX) {
        return "URL too long";
    }
    for (const char *p = url; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            return "URL contains a space or a control character";
        }
    }
    const char *h = url + skip;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n); /* user:password@ is not the host */
    if (at != NULL) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (n == 0 || h[0] == ':') {
        return "URL has no host";
    }
    for (size_t i = 0; i < n; i++) {
        j->host[i] = (char)tolower((unsigned char)h[i]);
    }
    snprintf(j->url, sizeof(j->url), "%s", url);
    if (type != NULL && strcmp(type, "seo") != 0 && strcmp(type, "rank") != 0) {
        return "type must be seo or rank";
    }
    j->type = type != NULL && strcmp(type, "rank") == 0 ? "rank" : "seo";
    j->priority = 5;
    if (prio != NULL) {
        char *end;
        long v = strtol(prio, &end, 10);
        if (end == prio || *end != '\0' || v < 0 || v > 9) {
            return "priority must be an integer 0..9";
        }
        j->priority = (int)v;
    }
    return NULL;
}

/* A random 128-bit job id in hex. */
static int new_job_id(char *out)
{
    unsigned char b[16];
    if (read(g_urandom, b, sizeof(b)) != (ssize_t)sizeof(b)) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(b); i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
    return 0;
}

/* Where the last job of this thread went: set by the delivery callback,
 * which runs in the sending thread (acks=1/all) or in the thread that
 * flushes (acks=0). */
struct report {
    int seen, err;
    int32_t partition;
    int64_t offset;
};
static _Thread_local struct report t_rep;

static void on_delivery(void *opaque, const char *topic, int32_t partition,
                        int64_t offset, int err)
{
    (void)opaque;
    t_rep = (struct report){1, err, partition, offset};
    if (err != CRAWLLOG_OK) {
        atomic_fetch_add(&g_lost, 1);
        fprintf(stderr, "crawl-producer: a job for %s/%d was lost: %s\n",
                topic, (int)partition, crawllog_strerror(err));
    }
}

/* Send one job; *partp, *offp: where it landed (-1 with acks=0 until a
 * flush).  With acks=0 (g_acks0) and flush set, flush it and take both
 * from its delivery report.  Returns a CRAWLLOG_* code. */
static int job_send(const struct job *j, int flush, int32_t *partp,
                    int64_t *offp)
{
    crawllog_header_t hdr = {"idempotency-key", 15, j->id, strlen(j->id)};
    struct timespec ts;
    struct cx_json js;
    int rc;
    clock_gettime(CLOCK_REALTIME, &ts);
    cx_json_init(&js);
    cx_json_open(&js);
    cx_json_str(&js, "job_id", j->id);
    cx_json_str(&js, "url", j->url);
    cx_json_str(&js, "type", j->type);
    cx_json_int(&js, "priority", j->priority);
    cx_json_int(&js, "enqueued_ms",
                (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    cx_json_close(&js);
    memset(&t_rep, 0, sizeof(t_rep));
    rc = js.oom ? CRAWLLOG_ENOMEM
                : crawllog_producer_send(
                      g_prod, g_opt.topic, CRAWLLOG_PARTITION_ANY,
                      g_opt.round_robin ? NULL : j->host,
                      g_opt.round_robin ? 0 : strlen(j->host), js.buf, js.len,
                      j->has_idem ? &hdr : NULL, j->has_idem ? 1 : 0, offp);
    cx_json_free(&js);
    if (rc == CRAWLLOG_OK && g_acks0 && flush &&
        (rc = crawllog_producer_flush(g_prod, -1)) == CRAWLLOG_OK) {
        rc = t_rep.seen ? t_rep.err : CRAWLLOG_EIO;
        *offp = t_rep.offset;
    }
    *partp = t_rep.seen && t_rep.err == 0 ? t_rep.partition : -1;
    if (rc == CRAWLLOG_OK) {
        atomic_fetch_add(&g_sent, 1);
    }
    return rc;
}

static void report_error(const char *what, int rc)
{
    fprintf(stderr, "crawl-producer: %s: %s (%s): %s\n", what,
            crawllog_err_name(rc), crawllog_strerror(rc),
            g_prod != NULL ? crawllog_producer_errmsg(g_prod)
                           : crawllog_errmsg(g_log));
}

/* ---- input mode ------------------------------------------------------- */

static int run_input(void)
{
    const char *name = g_opt.file != NULL ? g_opt.file : "stdin";
    FILE *in = g_opt.file != NULL ? fopen(g_opt.file, "r") : stdin;
    char *line = NULL, where[64];
    size_t cap = 0;
    long lineno = 0, bad = 0;
    int failed = 0, rc;
    if (in == NULL) {
        fprintf(stderr, "crawl-producer: %s: %s\n", name, strerror(errno));
        return 1;
    }
    while (!g_stop && !failed && getline(&line, &cap, in) >= 0) {
        char *save = NULL, *tok[4] = {NULL, NULL, NULL, NULL};
        char *p = line + strspn(line, " \t");
        int ntok = 0;
        struct job j;
        int32_t part;
        int64_t off;
        lineno++;
        p[strcspn(p, "\r\n")] = '\0';
        if (*p == '\0' || *p == '#') {
            continue;
        }
        for (char *t = strtok_r(p, " \t", &save); t != NULL && ntok < 4;
             t = strtok_r(NULL, " \t", &save)) {
            tok[ntok++] = t;
        }
        const char *why = ntok > 3 ? "too many fields (want URL [TYPE "
                                     "[PRIORITY]])"
                          : ntok == 0 ? "no URL"
                                      : job_parse(&j, tok[0], tok[1], tok[2]);
        if (why == NULL && new_job_id(j.id) != 0) {
            why = "cannot read /dev/urandom";
        }
        snprintf(where, sizeof(where), "line %ld", lineno);
        if (why != NULL) {
            fprintf(stderr, "crawl-producer: %s %s: %s\n", name, where, why);
            bad++;
        } else if ((rc = job_send(&j, 0, &part, &off)) != CRAWLLOG_OK) {
            report_error(where, rc);
            failed = 1;
        } else if (!g_opt.quiet && off >= 0) {
            printf("%s -> %s/%d @%lld\n", j.url, g_opt.topic, (int)part,
                   (long long)off);
        }
    }
    if (!g_stop && !failed && ferror(in)) {
        fprintf(stderr, "crawl-producer: %s: %s\n", name, strerror(errno));
        failed = 1;
    }
    free(line);
    fclose(in);
    if ((rc = crawllog_producer_flush(g_prod, -1)) != CRAWLLOG_OK) {
        report_error("flush", rc);
        failed = 1;
    }
    fflush(stdout);
    fprintf(stderr, "produced %ld jobs (%ld bad lines) to %s\n",
            atomic_load(&g_sent) - atomic_load(&g_lost), bad, g_opt.topic);
    return failed || bad > 0 || atomic_load(&g_lost) > 0;
}

/* ---- the idempotency map ---------------------------------------------- */

/* Idempotency-Key -> where its job is: a chained hash table under g_lock.
 * A pending entry is a send in progress (a request with the same key waits
 * on g_cond).  Entries never move: a pointer is valid until removed. */
struct idem {
    struct idem *next;
    int pending;
    int32_t partition;
    int64_t offset;
    char key[];
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t g_send_lock = PTHREAD_MUTEX_INITIALIZER; /* acks=0 */
static struct idem **g_tab;
static size_t g_tabsize, g_count;
static int g_active; /* connections being served, under g_lock */

static struct idem **idem_slot(const char *key)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const char *s = key; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return &g_tab[h & (g_tabsize - 1)];
}

static struct idem *idem_find(const char *key)
{
    struct idem *e = g_tabsize != 0 ? *idem_slot(key) : NULL;
    while (e != NULL && strcmp(e->key, key) != 0) {
        e = e->next;
    }
    return e;
}

/* A new entry for key (pending, at -1 -1), or NULL if out of memory. */
static struct idem *idem_add(const char *key)
{
    size_t len = strlen(key) + 1;
    struct idem *e;
    if (g_count >= g_tabsize) { /* load factor 1: double the table */
        struct idem **old = g_tab, *m;
        size_t oldsize = g_tabsize;
        size_t nsize = oldsize != 0 ? 2 * oldsize : 1024;
        if ((g_tab = calloc(nsize, sizeof(*g_tab))) == NULL) {
            g_tab = old;
            return NULL;
        }
        g_tabsize = nsize;
        for (size_t i = 0; i < oldsize; i++) {
            while ((m = old[i]) != NULL) {
                old[i] = m->next;
                m->next = *idem_slot(m->key);
                *idem_slot(m->key) = m;
            }
        }
        free(old);
    }
    if ((e = malloc(sizeof(*e) + len)) == NULL) {
        return NULL;
    }
    memcpy(e->key, key, len);
    e->pending = 1;
    e->partition = -1;
    e->offset = -1;
    e->next = *idem_slot(key);
    *idem_slot(key) = e;
    g_count++;
    return e;
}

static void idem_remove(struct idem *e)
{
    struct idem **pp = idem_slot(e->key);
    while (*pp != e) {
        pp = &(*pp)->next;
    }
    *pp = e->next;
    g_count--;
    free(e);
}

/* Rebuild the map from the "idempotency-key" headers of the topic's
 * records, each partition read from its log start. */
static int idem_load(void)
{
    int rc = CRAWLLOG_OK;
    for (int32_t p = 0; p < g_nparts && rc == CRAWLLOG_OK; p++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m;
        if ((rc = crawllog_reader_new(&rd, g_log, g_opt.topic, p)) != 0) {
            break;
        }
        while (rc == 0 && (rc = crawllog_reader_next(rd, &m)) == 0 &&
               m != NULL) {
            for (size_t i = 0; i < crawllog_msg_header_count(m); i++) {
                crawllog_header_t h;
                char key[IDEM_KEY_MAX + 1];
                if (crawllog_msg_header(m, i, &h) != 0 || h.name_len != 15 ||
                    memcmp(h.name, "idempotency-key", 15) != 0 ||
                    h.value == NULL || h.value_len > IDEM_KEY_MAX) {
                    continue;
                }
                memcpy(key, h.value, h.value_len);
                key[h.value_len] = '\0';
                struct idem *e = idem_find(key);
                if (e == NULL && (e = idem_add(key)) == NULL) {
                    rc = CRAWLLOG_ENOMEM;
                } else if (e->pending) { /* the first record wins */
                    e->pending = 0;
                    e->partition = p;
                    e->offset = crawllog_msg_offset(m);
                }
            }
        }
        if (rc != 0) {
            fprintf(stderr, "crawl-producer: reading %s/%d: %s\n",
                    g_opt.topic, (int)p, crawllog_reader_errmsg(rd));
        }
        crawllog_reader_destroy(rd);
    }
    return rc;
}

/* ---- server mode ------------------------------------------------------ */

/* Answer js (freed) or {"error":msg} with status. */
static void respond(int fd, int status, struct cx_json *js, const char *msg)
{
    struct cx_json ej;
    if (js == NULL) {
        cx_json_init(js = &ej);
        cx_json_open(js);
        cx_json_str(js, "error", msg);
        cx_json_close(js);
        if (!g_opt.quiet) {
            fprintf(stderr, "crawl-producer: %d %s\n", status, msg);
        }
    }
    cx_httpd_respond(fd, js->oom ? 500 : status, "application/json",
                     js->oom ? "{}" : js->buf, js->oom ? 2 : js->len, NULL);
    cx_json_free(js);
}

/* The job of a POST /jobs body into j: NULL, or why it is refused. */
static const char *job_from_request(struct job *j,
                                    const struct cx_request *req)
{
    char url[2 * URL_MAX], type[32], prio[32], key[4 * IDEM_KEY_MAX];
    int rurl = cx_json_get(req->body, req->body_len, "url", url, sizeof(url));
    int rtype = cx_json_get(req->body, req->body_len, "type", type,
                            sizeof(type));
    int rprio = cx_json_get(req->body, req->body_len, "priority", prio,
                            sizeof(prio));
    const char *why = NULL;
    size_t klen = 0;
    if (cx_httpd_header(req, "Idempotency-Key", key, sizeof(key))) {
        klen = strlen(key);
        for (size_t i = 0; i < klen; i++) {
            klen = key[i] < 0x21 || key[i] > 0x7e ? 0 : klen;
        }
        if (klen == 0 || klen > IDEM_KEY_MAX) {
            return "Idempotency-Key must be 1..128 printable ASCII "
                   "characters";
        }
    }
    if (rurl < 0) {
        return "the body is not a JSON object";
    }
    if (rurl == 0) {
        return "url is missing";
    }
    why = job_parse(j, url, rtype == 1 ? type : NULL, rprio == 1 ? prio : NULL);
    if (why == NULL && klen > 0) {
        memcpy(j->id, key, klen + 1);
        j->has_idem = 1;
    } else if (why == NULL && new_job_id(j->id) != 0) {
        why = "cannot read /dev/urandom";
    }
    return why;
}

/* POST /jobs: check and claim the Idempotency-Key (a request with the
 * same key waits for this one's outcome), send, answer. */
static void handle_job(int fd, const struct cx_request *req)
{
    struct job j;
    struct idem *e = NULL;
    struct cx_json js;
    int32_t part = -1;
    int64_t off = -1;
    int rc = CRAWLLOG_OK, dup = 0;
    const char *why = job_from_request(&j, req);

    if (why != NULL) {
        respond(fd, strncmp(why, "cannot", 6) == 0 ? 500 : 400, NULL, why);
        return;
    }
    if (j.has_idem) {
        pthread_mutex_lock(&g_lock);
        while ((e = idem_find(j.id)) != NULL && e->pending) {
            pthread_cond_wait(&g_cond, &g_lock);
        }
        if (e != NULL) {
            part = e->partition;
            off = e->offset;
            dup = 1;
        } else {
            e = idem_add(j.id);
            rc = e == NULL ? CRAWLLOG_ENOMEM : CRAWLLOG_OK;
        }
        pthread_mutex_unlock(&g_lock);
    }
    if (!dup && rc == CRAWLLOG_OK) {
        /* acks=0: one at a time, so that the flush reports this job */
        if (g_acks0) {
            pthread_mutex_lock(&g_send_lock);
        }
        rc = job_send(&j, 1, &part, &off);
        if (g_acks0) {
            pthread_mutex_unlock(&g_send_lock);
        }
        if (e != NULL) {
            pthread_mutex_lock(&g_lock);
            if (rc == CRAWLLOG_OK) {
                e->partition = part;
                e->offset = off;
                e->pending = 0;
            } else {
                idem_remove(e);
            }
            pthread_cond_broadcast(&g_cond);
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (rc != CRAWLLOG_OK) {
        char msg[CRAWLLOG_ERRSTR_SIZE + 64];
        snprintf(msg, sizeof(msg), "not enqueued: %s: %s",
                 crawllog_err_name(rc), crawllog_producer_errmsg(g_prod));
        respond(fd, 503, NULL, msg);
        return;
    }
    cx_json_init(&js);
    cx_json_open(&js);
    cx_json_str(&js, "topic", g_opt.topic);
    cx_json_int(&js, "partition", part);
    cx_json_int(&js, "offset", off);
    cx_json_str(&js, "job_id", j.id);
    cx_json_bool(&js, "duplicate", dup);
    cx_json_close(&js);
    respond(fd, dup ? 200 : 202, &js, NULL);
    if (!g_opt.quiet) {
        fprintf(stderr, "crawl-producer: %d %s %s -> %s/%d @%lld\n",
                dup ? 200 : 202, j.id, j.url, g_opt.topic, (int)part,
                (long long)off);
    }
}

/* A constant JSON answer. */
#define RESPOND(fd, status, body, extra)                                     \
    cx_httpd_respond((fd), (status), "application/json", (body),            \
                     sizeof(body) - 1, (extra))

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct cx_request req;
    if (cx_httpd_read(fd, &req, BODY_MAX, READ_TIMEOUT_MS) != 0) {
        respond(fd, 400, NULL, "bad, too large or too slow request");
    } else {
        size_t plen = strcspn(req.path, "?");
        if (plen == 5 && strncmp(req.path, "/jobs", 5) == 0) {
            if (strcmp(req.method, "POST") == 0) {
                handle_job(fd, &req);
            } else {
                RESPOND(fd, 405, "{\"error\":\"use POST\"}", "Allow: POST\r\n");
            }
        } else if (plen == 8 && strncmp(req.path, "/healthz", 8) == 0) {
            RESPOND(fd, 200, "{\"status\":\"ok\"}", NULL);
        } else {
            RESPOND(fd, 404, "{\"error\":\"not found\"}", NULL);
        }
    }
    cx_httpd_request_free(&req);
    close(fd);
    pthread_mutex_lock(&g_lock);
    g_active--;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static int run_server(void)
{
    char err[256] = "cannot make the listening socket non-blocking";
    int port = -1, lfd, rc;
    sigset_t block, old;
    if ((rc = idem_load()) != CRAWLLOG_OK) {
        report_error("rebuilding the idempotency keys", rc);
        return 1;
    }
    if ((lfd = cx_httpd_listen(g_opt.listen, &port, err, sizeof(err))) < 0 ||
        fcntl(lfd, F_SETFL, O_NONBLOCK) != 0) {
        fprintf(stderr, "crawl-producer: %s\n", err);
        return 1;
    }
    fprintf(stderr, "crawl-producer: %zu idempotency keys in %s\n"
                    "crawl-producer listening on http://%.*s:%d/jobs\n",
            g_count, g_opt.topic,
            (int)(strrchr(g_opt.listen, ':') - g_opt.listen), g_opt.listen,
            port);
    /* The workers block SIGTERM and SIGINT: they reach this thread. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    while (!g_stop) {
        struct pollfd pfd = {lfd, POLLIN, 0};
        pthread_t th;
        int cfd;
        if (poll(&pfd, 1, 500) <= 0 || (cfd = cx_httpd_accept(lfd)) < 0) {
            continue; /* timeout, signal, or a connection gone already */
        }
        pthread_mutex_lock(&g_lock);
        while (g_active >= CONN_MAX) {
            pthread_cond_wait(&g_cond, &g_lock);
        }
        g_active++;
        pthread_mutex_unlock(&g_lock);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        rc = pthread_create(&th, NULL, conn_main, (void *)(intptr_t)cfd);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            conn_main((void *)(intptr_t)cfd); /* serve it here instead */
        } else {
            pthread_detach(th);
        }
    }
    close(lfd); /* stop accepting, let the requests in flight finish */
    pthread_mutex_lock(&g_lock);
    while (g_active > 0) {
        pthread_cond_wait(&g_cond, &g_lock);
    }
    pthread_mutex_unlock(&g_lock);
    fprintf(stderr, "crawl-producer: stopping: %ld jobs enqueued\n",
            atomic_load(&g_sent));
    return 0;
}

/* ---- main ------------------------------------------------------------- */

static void usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "crawl-producer: %s%s\n%s", msg, arg, usage_text);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    const char *parts = "8", *partitioner = "murmur2", **dst;
    char *end;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (strcmp(a, "--quiet") == 0) {
            g_opt.quiet = 1;
            continue;
        }
        dst = strcmp(a, "-d") == 0 || strcmp(a, "--log") == 0
                  ? &g_opt.dir
              : strcmp(a, "--topic") == 0         ? &g_opt.topic
              : strcmp(a, "--acks") == 0          ? &g_opt.acks
              : strcmp(a, "--file") == 0          ? &g_opt.file
              : strcmp(a, "--listen") == 0        ? &g_opt.listen
              : strcmp(a, "--partitions") == 0    ? &parts
              : strcmp(a, "--partitioner") == 0   ? &partitioner
                                                  : NULL;
        if (dst == NULL) {
            usage_error("unknown argument: ", a);
        }
        if (i + 1 >= argc) {
            usage_error("missing value after ", a);
        }
        *dst = argv[++i];
    }
    long n = strtol(parts, &end, 10);
    if (end == parts || *end != '\0' || n < 1 || n > CRAWLLOG_PARTITIONS_MAX) {
        usage_error("--partitions: 1..10000, not ", parts);
    }
    g_opt.partitions = (int32_t)n;
    g_opt.round_robin = strcmp(partitioner, "round_robin") == 0;
    if (!g_opt.round_robin && strcmp(partitioner, "murmur2") != 0) {
        usage_error("--partitioner: murmur2 or round_robin, not ",
                    partitioner);
    }
    if (strcmp(g_opt.acks, "0") != 0 && strcmp(g_opt.acks, "1") != 0 &&
        strcmp(g_opt.acks, "all") != 0) {
        usage_error("--acks: 0, 1 or all, not ", g_opt.acks);
    }
    g_acks0 = strcmp(g_opt.acks, "0") == 0;
    if (g_opt.file != NULL && g_opt.listen != NULL) {
        usage_error("--file and --listen exclude each other", "");
    }
    /* cx_httpd_listen takes numeric addresses only: a prefix check is
     * enough to refuse all but loopback ones (no authentication here). */
    if (g_opt.listen != NULL && strncmp(g_opt.listen, "127.", 4) != 0 &&
        strncmp(g_opt.listen, "[::1]:", 6) != 0) {
        usage_error("--listen: not a loopback address (127.x.x.x:PORT or "
                    "[::1]:PORT): ",
                    g_opt.listen);
    }
    if (g_opt.dir == NULL && (g_opt.dir = getenv("CRAWLLOG_DIR")) == NULL) {
        g_opt.dir = "./crawllog-data";
    }
}

int main(int argc, char **argv)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf = NULL;
    struct sigaction sa;
    int rc, status = 1;

    parse_args(argc, argv);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: poll and reads return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that went away is not fatal */
    if ((g_urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "crawl-producer: /dev/urandom: %s\n",
                strerror(errno));
        return 1;
    }
    if (crawllog_open(&g_log, g_opt.dir, NULL, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "crawl-producer: open %s: %s\n", g_opt.dir, errstr);
        return 1;
    }
    rc = crawllog_topic_create(g_log, g_opt.topic, g_opt.partitions, NULL);
    if ((rc != CRAWLLOG_OK && rc != CRAWLLOG_EEXIST) ||
        (rc = crawllog_topic_describe(g_log, g_opt.topic, &g_nparts, NULL))) {
        report_error(g_opt.topic, rc);
    } else if ((rc = crawllog_conf_new(&conf)) != 0 ||
               (rc = crawllog_conf_set(conf, "acks", g_opt.acks, errstr,
                                       sizeof(errstr))) != 0 ||
               (rc = crawllog_conf_set(conf, "enable.idempotence", "true",
                                       errstr, sizeof(errstr))) != 0 ||
               (rc = crawllog_producer_new(g_log, conf, &g_prod, errstr,
                                           sizeof(errstr))) != 0 ||
               (rc = crawllog_producer_set_delivery_cb(g_prod, on_delivery,
                                                       NULL)) != 0) {
        fprintf(stderr, "crawl-producer: producer: %s (%s)\n",
                crawllog_err_name(rc), errstr);
    } else {
        status = g_opt.listen != NULL ? run_server() : run_input();
    }
    crawllog_conf_destroy(conf);
    int drc = crawllog_producer_destroy(g_prod); /* flushes acks=0 buffers */
    g_prod = NULL;
    if ((rc = crawllog_close(g_log)) != CRAWLLOG_OK || drc != CRAWLLOG_OK) {
        fprintf(stderr, "crawl-producer: flush and close: %s\n",
                crawllog_strerror(drc != CRAWLLOG_OK ? drc : rc));
        status = 1;
    }
    return status; /* the idempotency map goes with the process */
}
