/*
 * crawl-eos - the crawler of the crawl pipeline, exactly-once: each job of
 * the jobs topic is crawled and its result written to the topic
 * crawl.results, and the job's offset is committed IN THE SAME
 * TRANSACTION as the result.  Kill it anywhere (kill -9, power loss),
 * restart it, and a read_committed reader of crawl.results sees exactly
 * one result per job: never a lost job, never a duplicate.
 *
 * Compare examples/crawl-consumer.c (at-least-once): there the result is
 * POSTed and then the offset committed, two steps, so a crash between
 * them repeats the job and the receiver has to drop the duplicate.  Here
 * both steps are one atomic commit in the log, Kafka's consume-transform-
 * produce loop (KIP-98 / KIP-447):
 *
 *   producer with transactional.id (a stable name per worker: a restarted
 *   worker fences its old self and aborts what it left open)
 *   consumer in the group, isolation.level=read_committed
 *   loop:
 *     poll up to --batch jobs
 *     crawllog_txn_begin
 *     for each job: crawl it, send its result to crawl.results
 *     crawllog_txn_send_offsets(group metadata, each partition's last
 *                               job offset + 1)
 *     crawllog_txn_commit            (results and offsets: all or nothing)
 *   a failed step (a result that cannot be written, the egress proxy
 *   down, the group moved on) -> crawllog_txn_abort and seek back: the
 *   jobs are done again, their aborted results stay invisible;
 *   CRAWLLOG_EFENCED (a newer instance of this worker took over) -> exit.
 *
 * What is exactly-once here: what goes into the log (results, offsets).
 * A side effect outside it (an HTTP report, an e-mail) is not undone by an
 * abort: make it idempotent, or derive it from crawl.results.
 *
 * A job whose fetch keeps failing (--max-attempts) still gets a result,
 * "failed" with the reason: every job has exactly one.  (crawl-consumer
 * dead-letters such a job instead; a dead letter is written outside the
 * transaction, so it would not be exactly-once.)  One consumer and one
 * producer per process; run one process per worker, each with its own
 * --worker name (or --instance), and the group shares the partitions out.
 * A fenced process learns it at its next transaction step: one that owns
 * no partition any more just idles until stopped.
 *
 * Run it (after crawl-producer filled crawl.jobs; crawl-fixture serves a
 * test site on loopback), then read the results as any read_committed
 * consumer does (the crawllog tool's default):
 *   build/examples/crawl-eos -d crawllog-data --instance 0 --batch 10 &
 *   build/examples/crawl-eos -d crawllog-data --instance 1 --batch 10 &
 *   build/crawllog -d crawllog-data consume crawl.results --format raw
 * tests/test_crawl_eos.c kills it (mid-transaction, and with failpoints
 * at points spread over a transaction's steps) and checks the results.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crawler.h"
#include "crawllog.h"
#include "seo.h"

#define BATCH_MAX 256
#define EXIT_FENCED 3

static const char usage[] =
    "usage: crawl-eos [-d DIR] [--group G] [--topic T] [--results T]\n"
    "          [--worker NAME | --instance I] [--batch N]\n"
    "          [--proxy socks5://HOST:PORT] [--fetcher builtin|curl]\n"
    "          [--timeout-ms MS] [--politeness-ms MS] [--max-attempts N]\n"
    "          [--abort-every N] [--exit-when-idle S] [--quiet]\n"
    "  -d DIR, --log LOC  data directory (default ./crawllog-data), or\n"
    "                     kafka://host:port[,host:port] (make kafka build)\n"
    "  --group G          consumer group (default crawlers-eos)\n"
    "  --topic T          jobs topic (default crawl.jobs)\n"
    "  --results T        results topic (default crawl.results; created\n"
    "                     with the jobs topic's partition count)\n"
    "  --worker NAME      this worker's stable name, its transactional.id:\n"
    "                     a restart under the same name fences the old\n"
    "                     process and aborts its open transaction (default\n"
    "                     G-I)\n"
    "  --instance I       instance number in the default name (default 0)\n"
    "  --batch N          jobs per transaction (default 1, at most 256)\n"
    "  --proxy URL        egress through a SOCKS5 proxy (socks5://HOST:PORT)\n"
    "  --fetcher F        builtin (default; http only) or curl (https too)\n"
    "  --timeout-ms MS    per-read and connect timeout (default 1000; the\n"
    "                     whole fetch gets 4x)\n"
    "  --politeness-ms MS gap between two fetches of one host (default 10)\n"
    "  --max-attempts N   fetch attempts before the result is \"failed\"\n"
    "                     (default 3)\n"
    "  --abort-every N    demo (N >= 2): abort every Nth transaction, as if\n"
    "                     its results could not be written; its jobs are\n"
    "                     redone in the next one\n"
    "  --exit-when-idle S leave once no job came for S seconds (0.5: half\n"
    "                     a second) and the group's lag is 0\n"
    "  --quiet            no per-transaction log lines\n"
    "Exit status: 0 after SIGTERM / SIGINT / --exit-when-idle, 3 if fenced\n"
    "by a newer instance of the worker, 1 on other errors, 2 bad usage.\n";

struct opts {
    const char *dir, *group, *topic, *results, *worker, *instance, *proxy;
    int batch, max_attempts, quiet, curl;
    int64_t timeout_ms, politeness_ms, abort_every, idle_exit_ms;
};

/* Everything the worker holds. */
struct eos {
    struct opts o;
    char worker[200];
    crawllog_t *log;
    crawllog_consumer_t *cons;
    crawllog_producer_t *prod;
    struct cx_crawler crawler;
    long long txns, committed_jobs, aborted, failed_jobs;
};

/* A partition of the batch: where its jobs start (to seek back after an
 * abort) and the offset to commit (its last job + 1). */
struct part {
    const char *topic;
    int32_t partition;
    int64_t first, next;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void logf_(const char *level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void logf_(const char *level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "ts=%lld level=%s pid=%ld %s\n", (long long)cx_wall_ms(),
            level, (long)getpid(), line);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- one job: crawl, then its result record ------------------------------ */

/* Crawl the job in msg and build its result (JSON) into out.  Returns 0,
 * or -1 if the egress dependency is down (not the job's fault: the
 * transaction is aborted and the job done later). */
static int crawl_job(struct eos *e, const crawllog_msg_t *msg,
                     struct cx_json *out)
{
    char id[128] = "", url[2400] = "", type[16] = "seo", why[256] = "";
    size_t vlen = 0;
    const char *v = crawllog_msg_value(msg, &vlen);
    int have_url = v && cx_json_get(v, vlen, "url", url, sizeof(url)) == 1;
    if (v == NULL || cx_json_get(v, vlen, "job_id", id, sizeof(id)) != 1) {
        snprintf(id, sizeof(id), "%s/%d/%lld", crawllog_msg_topic(msg),
                 (int)crawllog_msg_partition(msg),
                 (long long)crawllog_msg_offset(msg));
    }
    if (v != NULL) {
        cx_json_get(v, vlen, "type", type, sizeof(type));
    }
    struct cx_http_resp resp;
    int rc = CX_FETCH_FAILED;
    memset(&resp, 0, sizeof(resp));
    snprintf(why, sizeof(why), "bad job: no url");
    for (int t = 0; have_url && t < e->o.max_attempts && !stop; t++) {
        if (t > 0) {
            sleep_ms(50L << (t - 1)); /* backoff 50, 100, 200 ms ... */
        }
        rc = cx_crawler_fetch(&e->crawler, url, &resp, why, sizeof(why));
        if (rc == CX_FETCHED && resp.status >= 500) {
            snprintf(why, sizeof(why), "HTTP %d from %.200s", resp.status,
                     resp.final_url);
            cx_http_resp_free(&resp);
            rc = CX_FETCH_FAILED;
        }
        if (rc != CX_FETCH_FAILED) {
            break;
        }
    }
    if (rc == CX_FETCH_DEPENDENCY || (rc == CX_FETCH_FAILED && stop)) {
        return -1;
    }
    cx_json_init(out);
    cx_json_open(out);
    cx_json_str(out, "job_id", id);
    cx_json_str(out, "url", url);
    cx_json_str(out, "type", type);
    cx_json_str(out, "topic", crawllog_msg_topic(msg));
    cx_json_int(out, "partition", crawllog_msg_partition(msg));
    cx_json_int(out, "offset", crawllog_msg_offset(msg));
    cx_json_str(out, "worker", e->worker);
    if (rc == CX_FETCH_ROBOTS) {
        cx_json_str(out, "result", "robots-disallowed");
    } else if (rc == CX_FETCH_FAILED) {
        cx_json_str(out, "result", "failed");
        cx_json_str(out, "reason", why);
        e->failed_jobs++;
    } else {
        cx_crawler_result_fields(out, &resp);
        cx_http_resp_free(&resp);
    }
    cx_json_close(out);
    return 0;
}

/* Crawl the job and send its result inside the open transaction, keyed
 * like the job (crawl-producer keys jobs by host, so a host's results
 * share a partition too).  0 or an error. */
static int do_job(struct eos *e, const crawllog_msg_t *msg)
{
    struct cx_json res;
    if (crawl_job(e, msg, &res) != 0) {
        return CRAWLLOG_EIO; /* dependency down: abort, redo later */
    }
    if (res.oom) {
        cx_json_free(&res);
        return CRAWLLOG_ENOMEM;
    }
    size_t klen = 0;
    const void *key = crawllog_msg_key(msg, &klen);
    int rc =
        crawllog_producer_send(e->prod, e->o.results, CRAWLLOG_PARTITION_ANY,
                               key, klen, res.buf, res.len, NULL, 0, NULL);
    cx_json_free(&res);
    return rc;
}

/* ---- one transaction ------------------------------------------------------ */

/* The batch's partitions, in parts (at most n). */
static size_t batch_parts(const crawllog_msg_t **msgs, size_t n,
                          struct part *parts)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = crawllog_msg_topic(msgs[i]);
        int32_t p = crawllog_msg_partition(msgs[i]);
        int64_t off = crawllog_msg_offset(msgs[i]);
        size_t k = 0;
        while (k < np &&
               !(parts[k].partition == p && strcmp(parts[k].topic, t) == 0)) {
            k++;
        }
        if (k == np) {
            parts[np++] = (struct part){t, p, off, off + 1};
        }
        parts[k].next = off + 1; /* poll gives offsets in order */
    }
    return np;
}

/* The group's offsets past the batch join the transaction. */
static int send_offsets(struct eos *e, const struct part *parts, size_t np)
{
    crawllog_topic_partition_t offs[BATCH_MAX];
    crawllog_group_metadata_t *md = NULL;
    for (size_t k = 0; k < np; k++) {
        offs[k] = (crawllog_topic_partition_t){
            parts[k].topic, parts[k].partition, parts[k].next, NULL};
    }
    int rc = crawllog_consumer_group_metadata(e->cons, &md);
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_txn_send_offsets(e->prod, md, offs, np);
    }
    crawllog_group_metadata_destroy(md);
    return rc;
}

/* What run_txn() did. */
enum txn_outcome {
    TXN_COMMITTED,
    TXN_ABORTED, /* the partitions are rewound: the jobs come again */
    TXN_FENCED,  /* a newer instance of this worker took over */
    TXN_FATAL,   /* an I/O error: the next start of the worker finishes
                    the transaction */
};

/* Run the jobs msgs[0..n-1] as one transaction. */
static enum txn_outcome run_txn(struct eos *e, const crawllog_msg_t **msgs,
                                size_t n)
{
    struct part parts[BATCH_MAX];
    size_t np = batch_parts(msgs, n, parts);
    const char *step = "begin";
    int rc = crawllog_txn_begin(e->prod);
    for (size_t i = 0; rc == CRAWLLOG_OK && i < n; i++) {
        step = "job";
        rc = do_job(e, msgs[i]);
    }
    e->txns++;
    if (rc == CRAWLLOG_OK && e->o.abort_every > 0 &&
        e->txns % e->o.abort_every == 0) {
        step = "demo";
        rc = CRAWLLOG_EIO; /* --abort-every: as if a result failed */
    }
    if (rc == CRAWLLOG_OK) {
        step = "send_offsets";
        rc = send_offsets(e, parts, np);
    }
    if (rc == CRAWLLOG_OK) {
        step = "commit";
        rc = crawllog_txn_commit(e->prod);
        if (rc == CRAWLLOG_OK) {
            e->committed_jobs += (long long)n;
            if (!e->o.quiet) {
                logf_("info",
                      "event=committed jobs=%zu partitions=%zu "
                      "partition=%d next_offset=%lld",
                      n, np, (int)parts[0].partition, (long long)parts[0].next);
            }
            return TXN_COMMITTED;
        }
        /* After an I/O error the commit may have been decided or not:
         * the next instance of this worker finishes it either way. */
        if (rc != CRAWLLOG_EABORT && rc != CRAWLLOG_EGENERATION &&
            rc != CRAWLLOG_EFENCED) {
            logf_("error", "event=commit_failed code=%s msg=\"%s\"",
                  crawllog_err_name(rc), crawllog_producer_errmsg(e->prod));
            return TXN_FATAL;
        }
    }
    /* Abort: nothing of it becomes visible; the jobs are done again. */
    if (rc != CRAWLLOG_EFENCED) {
        logf_("warn", "event=aborting step=%s code=%s", step,
              crawllog_err_name(rc));
        rc = crawllog_txn_abort(e->prod);
    }
    if (rc == CRAWLLOG_EFENCED) {
        logf_("error",
              "event=fenced worker=%s msg=\"a newer instance of "
              "this worker took over: exiting\"",
              e->worker);
        return TXN_FENCED;
    }
    if (rc != CRAWLLOG_OK) {
        logf_("error", "event=abort_failed code=%s msg=\"%s\"",
              crawllog_err_name(rc), crawllog_producer_errmsg(e->prod));
        return TXN_FATAL;
    }
    e->aborted++;
    for (size_t k = 0; k < np; k++) {
        /* Not owned any more (the group moved on)?  Then the new owner
         * starts from the committed offset anyway. */
        crawllog_consumer_seek(e->cons, parts[k].topic, parts[k].partition,
                               parts[k].first);
    }
    return TXN_ABORTED;
}

/* ---- setup ---------------------------------------------------------------- */

static int64_t group_lag(struct eos *e)
{
    crawllog_group_desc_t *d = NULL;
    int64_t lag = 0;
    if (crawllog_group_describe(e->log, e->o.group, &d) != CRAWLLOG_OK) {
        return -1;
    }
    for (size_t i = 0; i < d->partition_count; i++) {
        if (strcmp(d->partitions[i].topic, e->o.topic) == 0) {
            lag += d->partitions[i].lag > 0 ? d->partitions[i].lag : 0;
        }
    }
    crawllog_group_desc_free(d);
    return lag;
}

/* conf with the given properties (NULL-terminated name, value pairs). */
static crawllog_conf_t *make_conf(const char *const *kv, char *errstr,
                                  size_t size)
{
    crawllog_conf_t *conf = NULL;
    if (crawllog_conf_new(&conf) != CRAWLLOG_OK) {
        snprintf(errstr, size, "out of memory");
        return NULL;
    }
    for (; kv[0] != NULL; kv += 2) {
        if (crawllog_conf_set(conf, kv[0], kv[1], errstr, size) != 0) {
            crawllog_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

/* The results topic (as many partitions as the jobs topic), the
 * transactional producer and the consumer.  0 or an error. */
static int setup(struct eos *e, char *errstr, size_t size)
{
    int32_t parts = 0;
    int rc = crawllog_topic_describe(e->log, e->o.topic, &parts, NULL);
    if (rc != CRAWLLOG_OK) {
        snprintf(errstr, size, "jobs topic %s: %s", e->o.topic,
                 crawllog_err_name(rc));
        return rc;
    }
    rc = crawllog_topic_create(e->log, e->o.results, parts, NULL);
    if (rc != CRAWLLOG_OK && rc != CRAWLLOG_EEXIST) {
        snprintf(errstr, size, "create %s: %s", e->o.results,
                 crawllog_errmsg(e->log));
        return rc;
    }
    /* The transactional producer.  Creating it fences any older process
     * of this worker and finishes the transaction that one left open. */
    const char *pkv[] = {"transactional.id", e->worker, "acks", "1", NULL};
    crawllog_conf_t *conf = make_conf(pkv, errstr, size);
    rc = conf ? crawllog_producer_new(e->log, conf, &e->prod, errstr, size)
              : CRAWLLOG_EINVAL;
    crawllog_conf_destroy(conf);
    if (rc != CRAWLLOG_OK) {
        return rc;
    }
    /* clang-format off */
    const char *ckv[] = {"group.id", e->o.group,
                         "client.id", e->worker,
                         "isolation.level", "read_committed",
                         "auto.offset.reset", "earliest",
                         "enable.auto.commit", "false",
                         "heartbeat.interval.ms", "100",
                         "max.poll.interval.ms", "300000",
                         NULL};
    /* clang-format on */
    char batch[16];
    snprintf(batch, sizeof(batch), "%d", e->o.batch);
    conf = make_conf(ckv, errstr, size);
    if (conf != NULL &&
        crawllog_conf_set(conf, "max.poll.records", batch, errstr, size) != 0) {
        crawllog_conf_destroy(conf);
        conf = NULL;
    }
    rc = conf ? crawllog_consumer_new(e->log, conf, &e->cons, errstr, size)
              : CRAWLLOG_EINVAL;
    crawllog_conf_destroy(conf);
    const char *topics[1] = {e->o.topic};
    if (rc == CRAWLLOG_OK &&
        (rc = crawllog_consumer_subscribe(e->cons, topics, 1)) != 0) {
        snprintf(errstr, size, "%s", crawllog_consumer_errmsg(e->cons));
    }
    return rc;
}

static int parse(int argc, char **argv, struct opts *o)
{
    o->dir = "crawllog-data";
    o->group = "crawlers-eos";
    o->topic = "crawl.jobs";
    o->results = "crawl.results";
    o->instance = "0";
    o->batch = 1;
    o->max_attempts = 3;
    o->timeout_ms = 1000;
    o->politeness_ms = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long num = v ? atoll(v) : -1;
        /* argv[i] is never NULL for i < argc.
         * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            continue;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (v == NULL) {
            return -1;
        } else if (strcmp(a, "-d") == 0 || strcmp(a, "--log") == 0) {
            o->dir = v;
        } else if (strcmp(a, "--group") == 0) {
            o->group = v;
        } else if (strcmp(a, "--topic") == 0) {
            o->topic = v;
        } else if (strcmp(a, "--results") == 0) {
            o->results = v;
        } else if (strcmp(a, "--worker") == 0) {
            o->worker = v;
        } else if (strcmp(a, "--instance") == 0) {
            o->instance = v;
        } else if (strcmp(a, "--proxy") == 0) {
            o->proxy = v;
        } else if (strcmp(a, "--fetcher") == 0 &&
                   (strcmp(v, "curl") == 0 || strcmp(v, "builtin") == 0)) {
            o->curl = v[0] == 'c';
        } else if (strcmp(a, "--batch") == 0 && num >= 1 && num <= BATCH_MAX) {
            o->batch = (int)num;
        } else if (strcmp(a, "--max-attempts") == 0 && num >= 1 && num <= 100) {
            o->max_attempts = (int)num;
        } else if (strcmp(a, "--timeout-ms") == 0 && num >= 1) {
            o->timeout_ms = num;
        } else if (strcmp(a, "--politeness-ms") == 0 && num >= 0) {
            o->politeness_ms = num;
        } else if (strcmp(a, "--abort-every") == 0 && num >= 2) {
            o->abort_every = num;
        } else if (strcmp(a, "--exit-when-idle") == 0 && atof(v) > 0) {
            o->idle_exit_ms = (int64_t)(atof(v) * 1000.0);
        } else {
            return -1;
        }
        i++;
    }
    return 0;
}

/* socks5://HOST:PORT into host/port: 0 or -1. */
static int parse_proxy(const char *p, char *host, size_t hsize, int *port)
{
    const char *hp = strncmp(p, "socks5://", 9) == 0 ? p + 9 : NULL;
    const char *colon = hp ? strrchr(hp, ':') : NULL;
    if (colon == NULL || colon == hp || (size_t)(colon - hp) >= hsize) {
        return -1;
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    *port = atoi(colon + 1);
    return *port > 0 && *port < 65536 ? 0 : -1;
}

static int crawler_init(struct eos *e, char *phost, size_t hsize)
{
    struct cx_crawler_conf cc;
    memset(&cc, 0, sizeof(cc));
    cc.fetcher = e->o.curl ? CX_FETCH_CURL : CX_FETCH_BUILTIN;
    cc.http.connect_ms = (int)e->o.timeout_ms;
    cc.http.read_ms = (int)e->o.timeout_ms;
    cc.http.total_ms = (int)(4 * e->o.timeout_ms);
    cc.http.body_max = 2 << 20;
    cc.http.socks5_timeout_ms = (int)e->o.timeout_ms;
    if (e->o.proxy != NULL) {
        if (parse_proxy(e->o.proxy, phost, hsize, &cc.http.socks5_port) != 0) {
            fprintf(stderr, "crawl-eos: --proxy %s: not socks5://HOST:PORT\n",
                    e->o.proxy);
            return -1;
        }
        cc.http.socks5_host = phost;
    }
    cc.politeness_ms = e->o.politeness_ms;
    cc.breaker_probe_ms = 500;
    return cx_crawler_init(&e->crawler, &cc);
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static struct eos e;
    static char phost[256];
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    if (parse(argc, argv, &e.o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    if (e.o.worker != NULL) {
        snprintf(e.worker, sizeof(e.worker), "%s", e.o.worker);
    } else {
        snprintf(e.worker, sizeof(e.worker), "%s-%s", e.o.group, e.o.instance);
    }
    if (crawler_init(&e, phost, sizeof(phost)) != 0) {
        return 2;
    }
    int rc = crawllog_open(&e.log, e.o.dir, NULL, errstr, sizeof(errstr));
    if (rc == CRAWLLOG_OK) {
        rc = setup(&e, errstr, sizeof(errstr));
    }
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "crawl-eos: %s: %s: %s\n", e.o.dir,
                crawllog_err_name(rc), errstr);
        crawllog_consumer_destroy(e.cons);
        crawllog_producer_destroy(e.prod);
        crawllog_close(e.log);
        cx_crawler_destroy(&e.crawler);
        return rc == CRAWLLOG_EFENCED ? EXIT_FENCED : 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    logf_("info",
          "event=started worker=%s group=%s topic=%s results=%s "
          "batch=%d",
          e.worker, e.o.group, e.o.topic, e.o.results, e.o.batch);

    int status = 0;
    int64_t t0 = cx_mono_ms(), last_msg = t0;
    while (!stop) {
        const crawllog_msg_t *msgs[BATCH_MAX];
        size_t n = 0;
        if (cx_crawler_probe(&e.crawler) == CX_BREAKER_OPEN) {
            sleep_ms(100); /* the proxy is down: wait for a probe */
            continue;
        }
        rc = crawllog_consumer_poll(e.cons, 200, msgs, (size_t)e.o.batch, &n);
        if (rc != CRAWLLOG_OK) {
            logf_("error", "event=poll_error code=%s msg=\"%s\"",
                  crawllog_err_name(rc), crawllog_consumer_errmsg(e.cons));
            sleep_ms(200);
            continue;
        }
        int64_t now = cx_mono_ms();
        if (n > 0) {
            last_msg = now;
            enum txn_outcome r = run_txn(&e, msgs, n);
            if (r == TXN_FENCED || r == TXN_FATAL) {
                status = r == TXN_FENCED ? EXIT_FENCED : 1;
                break;
            }
            if (r == TXN_ABORTED) {
                sleep_ms(100); /* no hot loop on a failing step */
            }
        } else if (e.o.idle_exit_ms > 0 && now - last_msg >= e.o.idle_exit_ms &&
                   group_lag(&e) == 0) {
            break;
        }
    }
    crawllog_consumer_close(e.cons);
    crawllog_consumer_destroy(e.cons);
    crawllog_producer_destroy(e.prod); /* aborts an open transaction */
    fprintf(stderr,
            "crawl-eos: worker %s: %lld jobs committed in %lld "
            "transactions (%lld aborted), %lld failed jobs, %.1f s\n",
            e.worker, e.committed_jobs, e.txns - e.aborted, e.aborted,
            e.failed_jobs, (double)(cx_mono_ms() - t0) / 1000.0);
    int crc = crawllog_close(e.log);
    cx_crawler_destroy(&e.crawler);
    return status != 0 ? status : crc != 0 ? 1 : 0;
}
