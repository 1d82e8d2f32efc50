/*
 * crawl-consumer - the crawler of the crawl pipeline example: a consumer
 * group member that fetches each job's URL, reports the result to the
 * admin server, and commits only after the report was accepted.
 *
 * What it shows (the motivating system's pains, fixed with libcrawllog):
 *  - a consumer group across threads (--workers N, one crawllog consumer
 *    each) and processes (run it several times): partitions are shared
 *    out and move when a member dies;
 *  - at-least-once: a job's offset is committed only after a 2xx answer to
 *    its report (retried with backoff); if the report keeps failing the
 *    partition is rewound to the job, which is done again later.  Reports
 *    carry topic/partition/offset so the receiver can drop duplicates;
 *  - the retry policy (crawllog_consumer_process: max.attempts with
 *    exponential backoff) and then the dead-letter topic with the reason;
 *  - isolation of a slow external dependency (the Tor IP-renewal outage):
 *    egress through a SOCKS5 proxy and a "renew identity" hook with its
 *    own timeout; when they keep failing a circuit breaker opens, the
 *    member pauses its partitions (it stays in the group, commits nothing
 *    new), probes, and resumes -- it never exits or blocks the group;
 *  - robots.txt (cached per host) and a per-host politeness delay; the
 *    SEO facts of each page (title, description, canonical, h1s, words,
 *    links, status, final URL, response time, bytes);
 *  - SIGTERM / SIGINT: finish the job in hand, leave the group; structured
 *    log lines; --stats: throughput and lag every few seconds.
 *
 * Run it (after crawl-producer filled the topic, and with something that
 * accepts POSTs at the report URL, e.g. examples/crawl-fixture):
 *   build/examples/crawl-consumer -d crawllog-data --group crawlers \
 *       --workers 4 --report-url http://127.0.0.1:8081/report --stats
 *   ... --proxy socks5://127.0.0.1:9050 --renew-cmd 'kill -HUP $(pidof tor)'
 * `make demo` runs the whole pipeline (examples/crawl-demo.c).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crawler.h"
#include "crawllog.h"
#include "seo.h"

#define MAX_WORKERS 64
#define POLL_MAX 8
#define REPORT_TRIES 4

static const char usage[] =
    "usage: crawl-consumer [-d DIR] --report-url URL [--group G] [--topic T]\n"
    "          [--workers N] [--proxy socks5://HOST:PORT] [--fetcher "
    "builtin|curl]\n"
    "          [--timeout-ms MS] [--politeness-ms MS] [--max-attempts N]\n"
    "          [--renew-cmd CMD] [--renew-every N] [--renew-timeout-ms MS]\n"
    "          [--stats] [--exit-when-idle S] [--quiet]\n"
    "  -d DIR, --log LOC  data directory (default ./crawllog-data), or\n"
    "                     kafka://host:port[,host:port] (make kafka build)\n"
    "  --group G          consumer group (default crawlers)\n"
    "  --topic T          jobs topic (default crawl.jobs; dead letters go to\n"
    "                     T.dlt)\n"
    "  --workers N        member threads in this process (default 4)\n"
    "  --report-url URL   where each result is POSTed as JSON; the job is\n"
    "                     committed only after a 2xx answer\n"
    "  --proxy URL        egress through a SOCKS5 proxy (socks5://HOST:PORT)\n"
    "  --fetcher F        builtin (default; http only) or curl (https too)\n"
    "  --timeout-ms MS    per-read and connect timeout (default 1000; the\n"
    "                     whole fetch gets 4x)\n"
    "  --politeness-ms MS gap between two fetches of one host (default 10)\n"
    "  --max-attempts N   fetch attempts before the dead letter (default 3)\n"
    "  --renew-cmd CMD    the renew-identity hook (a shell command), run\n"
    "                     every --renew-every fetches (default 100) within\n"
    "                     --renew-timeout-ms (default 2000)\n"
    "  --stats            throughput and lag every 2 s on stderr\n"
    "  --exit-when-idle S leave once the group's lag was 0 for S seconds\n"
    "  --quiet            no per-job log lines\n";

struct opts {
    const char *dir, *group, *topic, *report_url, *proxy, *renew_cmd;
    int workers, max_attempts, stats, quiet, curl;
    int64_t timeout_ms, politeness_ms, renew_every, renew_timeout_ms;
    int64_t idle_exit_s;
};

struct shared {
    struct opts o;
    crawllog_t *log;
    struct cx_crawler crawler;
    struct cx_http_opts report_http;
    atomic_llong crawled, reported, report_failed, dead, robots, redone;
    atomic_llong last_msg_ms; /* CLOCK_MONOTONIC of the last message */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct worker {
    int id;
    pthread_t th;
    struct shared *sh;
    crawllog_consumer_t *cons;
    int paused;
};

/* What the fetch callback leaves for the handler. */
struct job {
    struct worker *w;
    char id[128], url[2400], type[16];
    struct cx_http_resp resp;
    int have_resp, dependency, robots;
};

static void logf_(const struct worker *w, const char *level, const char *fmt,
                  ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void logf_(const struct worker *w, const char *level, const char *fmt,
                  ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "ts=%lld level=%s pid=%ld worker=%d %s\n",
            (long long)cx_wall_ms(), level, (long)getpid(), w ? w->id : -1,
            line);
}

/* ---- processing one job -------------------------------------------------- */

static int fetch_cb(const crawllog_msg_t *msg, void *opaque, char *reason,
                    size_t reason_size)
{
    struct job *j = opaque;
    (void)msg;
    if (j->have_resp) {
        cx_http_resp_free(&j->resp);
        j->have_resp = 0;
    }
    int rc = cx_crawler_fetch(&j->w->sh->crawler, j->url, &j->resp, reason,
                              reason_size);
    if (rc == CX_FETCH_DEPENDENCY) {
        j->dependency = 1; /* not the job's fault: stop, redo it later */
        return 0;
    } else if (rc == CX_FETCH_ROBOTS) {
        j->robots = 1;
        return 0;
    } else if (rc == CX_FETCH_FAILED) {
        return 1;
    }
    j->have_resp = 1;
    if (j->resp.status >= 500) {
        snprintf(reason, reason_size, "HTTP %d from %s", j->resp.status,
                 j->resp.final_url);
        return 1;
    }
    return 0;
}

/* The report of job j (message msg) as JSON into out. */
static void report_json(const struct job *j, const crawllog_msg_t *msg,
                        int worker, struct cx_json *out)
{
    cx_json_init(out);
    cx_json_open(out);
    cx_json_str(out, "job_id", j->id);
    cx_json_str(out, "url", j->url);
    cx_json_str(out, "type", j->type);
    cx_json_str(out, "topic", crawllog_msg_topic(msg));
    cx_json_int(out, "partition", crawllog_msg_partition(msg));
    cx_json_int(out, "offset", crawllog_msg_offset(msg));
    cx_json_int(out, "worker_pid", (int64_t)getpid());
    cx_json_int(out, "worker", worker);
    if (j->robots) {
        cx_json_str(out, "result", "robots-disallowed");
    } else {
        cx_crawler_result_fields(out, &j->resp);
    }
    cx_json_close(out);
}

/* POST the report with retries and backoff: 1 if a 2xx came back. */
static int send_report(struct worker *w, const struct cx_json *body)
{
    int64_t backoff = 100;
    for (int t = 0; t < REPORT_TRIES && !stop; t++) {
        struct cx_http_resp r;
        int rc = cx_http_post(w->sh->o.report_url, "application/json",
                              body->buf, body->len, &w->sh->report_http, &r);
        int ok = rc == CX_OK && r.status >= 200 && r.status < 300;
        int status = r.status;
        cx_http_resp_free(&r);
        if (ok) {
            return 1;
        }
        if (!w->sh->o.quiet) {
            logf_(w, "warn", "event=report_failed try=%d status=%d", t + 1,
                  status);
        }
        struct timespec ts = {0, (long)backoff * 1000000L};
        nanosleep(&ts, NULL);
        backoff *= 2;
    }
    return 0;
}

/* 1: handled (committed past), 0: to be done again (not committed). */
static int handle(struct worker *w, const crawllog_msg_t *msg)
{
    struct shared *sh = w->sh;
    struct job j;
    size_t vlen = 0;
    const char *v = crawllog_msg_value(msg, &vlen);
    memset(&j, 0, sizeof(j));
    j.w = w;
    if (v == NULL || cx_json_get(v, vlen, "url", j.url, sizeof(j.url)) != 1) {
        if (crawllog_consumer_dead_letter(w->cons, msg, "bad job: no url") !=
            CRAWLLOG_OK) {
            return 0;
        }
        atomic_fetch_add(&sh->dead, 1);
        return 1;
    }
    if (cx_json_get(v, vlen, "job_id", j.id, sizeof(j.id)) != 1) {
        snprintf(j.id, sizeof(j.id), "%s/%d/%lld", crawllog_msg_topic(msg),
                 (int)crawllog_msg_partition(msg),
                 (long long)crawllog_msg_offset(msg));
    }
    if (cx_json_get(v, vlen, "type", j.type, sizeof(j.type)) != 1) {
        snprintf(j.type, sizeof(j.type), "seo");
    }
    int outcome = 0;
    int rc = crawllog_consumer_process(w->cons, msg, fetch_cb, &j, &outcome);
    if (rc != CRAWLLOG_OK) {
        logf_(w, "error", "event=process_error code=%s msg=\"%s\"",
              crawllog_err_name(rc), crawllog_consumer_errmsg(w->cons));
        if (j.have_resp) {
            cx_http_resp_free(&j.resp);
        }
        return 0;
    }
    if (outcome == CRAWLLOG_DEAD_LETTERED) {
        atomic_fetch_add(&sh->dead, 1);
        if (!sh->o.quiet) {
            logf_(w, "warn", "event=dead_lettered url=%s", j.url);
        }
        return 1;
    }
    if (j.dependency) {
        return 0;
    }
    struct cx_json body;
    report_json(&j, msg, w->id, &body);
    if (j.have_resp) {
        cx_http_resp_free(&j.resp);
    }
    int ok = !body.oom && send_report(w, &body);
    cx_json_free(&body);
    if (!ok) {
        atomic_fetch_add(&sh->report_failed, 1);
        return 0;
    }
    rc = crawllog_consumer_commit(w->cons, msg, CRAWLLOG_SYNC_WRITTEN);
    if (rc != CRAWLLOG_OK) {
        /* Lost the partition meanwhile: the new owner redoes the job (the
         * receiver drops the duplicate by topic/partition/offset). */
        logf_(w, "warn", "event=commit_refused code=%s",
              crawllog_err_name(rc));
        return 1;
    }
    atomic_fetch_add(j.robots ? &sh->robots : &sh->crawled, 1);
    atomic_fetch_add(&sh->reported, 1);
    if (!sh->o.quiet) {
        logf_(w, "info", "event=reported url=%s partition=%d offset=%lld",
              j.url, (int)crawllog_msg_partition(msg),
              (long long)crawllog_msg_offset(msg));
    }
    return 1;
}

/* ---- the worker ---------------------------------------------------------- */

/* Pause (or resume) everything this member owns. */
static void set_paused(struct worker *w, int pause)
{
    crawllog_topic_partition_t *list = NULL;
    size_t n = 0;
    if (crawllog_consumer_assignment(w->cons, &list, &n) == CRAWLLOG_OK &&
        n > 0) {
        if (pause) {
            crawllog_consumer_pause(w->cons, list, n);
        } else {
            crawllog_consumer_resume(w->cons, list, n);
        }
    }
    free(list);
    if (pause != w->paused) {
        logf_(w, "info", "event=%s", pause ? "paused" : "resumed");
    }
    w->paused = pause;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    const crawllog_msg_t *msgs[POLL_MAX];
    while (!stop) {
        int open = cx_crawler_probe(&sh->crawler) == CX_BREAKER_OPEN;
        if (open || w->paused) {
            set_paused(w, open); /* again after a rebalance too */
        }
        size_t n = 0;
        int rc = crawllog_consumer_poll(w->cons, 200, msgs, POLL_MAX, &n);
        if (rc != CRAWLLOG_OK) {
            logf_(w, "error", "event=poll_error code=%s msg=\"%s\"",
                  crawllog_err_name(rc), crawllog_consumer_errmsg(w->cons));
            struct timespec ts = {0, 200000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (n > 0) {
            atomic_store(&sh->last_msg_ms, cx_mono_ms());
        }
        /* Partitions rewound in this batch: their later messages wait. */
        int32_t rewound[POLL_MAX];
        const char *rtopic[POLL_MAX];
        size_t nrew = 0;
        for (size_t i = 0; i < n && !stop; i++) {
            int skip = 0;
            for (size_t k = 0; k < nrew && !skip; k++) {
                skip = rewound[k] == crawllog_msg_partition(msgs[i]) &&
                       strcmp(rtopic[k], crawllog_msg_topic(msgs[i])) == 0;
            }
            if (skip) {
                continue;
            }
            if (!handle(w, msgs[i])) {
                crawllog_consumer_seek(w->cons, crawllog_msg_topic(msgs[i]),
                                       crawllog_msg_partition(msgs[i]),
                                       crawllog_msg_offset(msgs[i]));
                rewound[nrew] = crawllog_msg_partition(msgs[i]);
                rtopic[nrew++] = crawllog_msg_topic(msgs[i]);
                atomic_fetch_add(&sh->redone, 1);
                struct timespec ts = {0, 100000000L}; /* no hot loop */
                nanosleep(&ts, NULL);
            }
        }
    }
    return NULL;
}

static int worker_start(struct shared *sh, struct worker *w, int id)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE], client[64], attempts[16], dlt[300];
    crawllog_conf_t *conf = NULL;
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->sh = sh;
    snprintf(client, sizeof(client), "crawler-%ld-%d", (long)getpid(), id);
    snprintf(attempts, sizeof(attempts), "%d", sh->o.max_attempts);
    snprintf(dlt, sizeof(dlt), "%s.dlt", sh->o.topic);
    const char *props[][2] = {
        {"group.id", sh->o.group},       {"client.id", client},
        {"auto.offset.reset", "earliest"}, {"enable.auto.commit", "false"},
        {"max.attempts", attempts},      {"retry.backoff.ms", "50"},
        {"retry.backoff.max.ms", "400"}, {"heartbeat.interval.ms", "100"},
        {"max.poll.interval.ms", "120000"}, {"dead.letter.topic", dlt},
        /* A crashed crawler's partitions move after 6 s on Kafka (whose
         * coordinator only sees missed heartbeats); the file backend sees
         * the death at once and uses this for static members only. */
        {"session.timeout.ms", "6000"},
    };
    int rc = crawllog_conf_new(&conf);
    for (size_t i = 0; rc == 0 && i < sizeof(props) / sizeof(props[0]); i++) {
        rc = crawllog_conf_set(conf, props[i][0], props[i][1], errstr,
                               sizeof(errstr));
    }
    if (rc == 0) {
        rc = crawllog_consumer_new(sh->log, conf, &w->cons, errstr,
                                   sizeof(errstr));
    }
    crawllog_conf_destroy(conf);
    const char *topics[1] = {sh->o.topic};
    if (rc == 0 && (rc = crawllog_consumer_subscribe(w->cons, topics, 1)) != 0) {
        snprintf(errstr, sizeof(errstr), "%s",
                 crawllog_consumer_errmsg(w->cons));
    }
    if (rc == 0 && pthread_create(&w->th, NULL, worker_main, w) != 0) {
        rc = CRAWLLOG_ENOMEM;
        snprintf(errstr, sizeof(errstr), "pthread_create failed");
    }
    if (rc != 0) {
        fprintf(stderr, "crawl-consumer: worker %d: %s: %s\n", id,
                crawllog_err_name(rc), errstr);
        crawllog_consumer_destroy(w->cons);
        w->cons = NULL;
    }
    return rc;
}

/* ---- main ---------------------------------------------------------------- */

static int64_t group_lag(struct shared *sh)
{
    crawllog_group_desc_t *d = NULL;
    int64_t lag = 0;
    if (crawllog_group_describe(sh->log, sh->o.group, &d) != CRAWLLOG_OK) {
        return -1;
    }
    for (size_t i = 0; i < d->partition_count; i++) {
        if (strcmp(d->partitions[i].topic, sh->o.topic) == 0) {
            lag += d->partitions[i].lag > 0 ? d->partitions[i].lag : 0;
        }
    }
    crawllog_group_desc_free(d);
    return lag;
}

static int parse(int argc, char **argv, struct opts *o)
{
    o->dir = "crawllog-data";
    o->group = "crawlers";
    o->topic = "crawl.jobs";
    o->workers = 4;
    o->max_attempts = 3;
    o->timeout_ms = 1000;
    o->politeness_ms = 10;
    o->renew_every = 100;
    o->renew_timeout_ms = 2000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long num = v ? atoll(v) : -1;
        /* argv[i] is never NULL for i < argc.
         * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
        if (strcmp(a, "--stats") == 0) {
            o->stats = 1;
            continue;
        } else if (strcmp(a, "--quiet") == 0) {
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
        } else if (strcmp(a, "--report-url") == 0) {
            o->report_url = v;
        } else if (strcmp(a, "--proxy") == 0) {
            o->proxy = v;
        } else if (strcmp(a, "--renew-cmd") == 0) {
            o->renew_cmd = v;
        } else if (strcmp(a, "--fetcher") == 0 &&
                   (strcmp(v, "curl") == 0 || strcmp(v, "builtin") == 0)) {
            o->curl = v[0] == 'c';
        } else if (strcmp(a, "--workers") == 0 && num >= 1 &&
                   num <= MAX_WORKERS) {
            o->workers = (int)num;
        } else if (strcmp(a, "--max-attempts") == 0 && num >= 1 &&
                   num <= 100) {
            o->max_attempts = (int)num;
        } else if (strcmp(a, "--timeout-ms") == 0 && num >= 1) {
            o->timeout_ms = num;
        } else if (strcmp(a, "--politeness-ms") == 0 && num >= 0) {
            o->politeness_ms = num;
        } else if (strcmp(a, "--renew-every") == 0 && num >= 0) {
            o->renew_every = num;
        } else if (strcmp(a, "--renew-timeout-ms") == 0 && num >= 1) {
            o->renew_timeout_ms = num;
        } else if (strcmp(a, "--exit-when-idle") == 0 && num >= 1) {
            o->idle_exit_s = num;
        } else {
            return -1;
        }
        i++;
    }
    return o->report_url == NULL ? -1 : 0;
}

/* socks5://HOST:PORT into host/port: 0 or -1. */
static int parse_proxy(const char *p, char *host, size_t hsize, int *port)
{
    const char *hp = strncmp(p, "socks5://", 9) == 0    ? p + 9
                     : strncmp(p, "socks5h://", 10) == 0 ? p + 10
                                                         : NULL;
    const char *colon = hp ? strrchr(hp, ':') : NULL;
    if (colon == NULL || (size_t)(colon - hp) >= hsize || colon == hp) {
        return -1;
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    *port = atoi(colon + 1);
    return *port > 0 && *port < 65536 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static struct shared sh;
    static struct worker workers[MAX_WORKERS];
    char errstr[CRAWLLOG_ERRSTR_SIZE], phost[256];
    struct cx_crawler_conf cc;
    memset(&cc, 0, sizeof(cc));
    if (parse(argc, argv, &sh.o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    cc.fetcher = sh.o.curl ? CX_FETCH_CURL : CX_FETCH_BUILTIN;
    cc.http.connect_ms = (int)sh.o.timeout_ms;
    cc.http.read_ms = (int)sh.o.timeout_ms;
    cc.http.total_ms = (int)(4 * sh.o.timeout_ms);
    cc.http.body_max = 2 << 20;
    cc.http.socks5_timeout_ms = (int)sh.o.timeout_ms;
    if (sh.o.proxy != NULL) {
        if (parse_proxy(sh.o.proxy, phost, sizeof(phost),
                        &cc.http.socks5_port) != 0) {
            fprintf(stderr, "crawl-consumer: --proxy %s: not "
                            "socks5://HOST:PORT\n",
                    sh.o.proxy);
            return 2;
        }
        cc.http.socks5_host = phost;
    }
    cc.politeness_ms = sh.o.politeness_ms;
    cc.renew_cmd = sh.o.renew_cmd;
    cc.renew_every = sh.o.renew_every;
    cc.renew_timeout_ms = (int)sh.o.renew_timeout_ms;
    cc.breaker_probe_ms = 500;
    sh.report_http.connect_ms = 1000;
    sh.report_http.read_ms = 2000;
    sh.report_http.total_ms = 4000;
    sh.report_http.max_redirects = -1;
    if (cx_crawler_init(&sh.crawler, &cc) != 0) {
        return 1;
    }
    int rc = crawllog_open(&sh.log, sh.o.dir, NULL, errstr, sizeof(errstr));
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "crawl-consumer: open %s: %s: %s\n", sh.o.dir,
                crawllog_err_name(rc), errstr);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    atomic_store(&sh.last_msg_ms, cx_mono_ms());
    int started = 0;
    for (int i = 0; i < sh.o.workers && rc == 0; i++) {
        if ((rc = worker_start(&sh, &workers[i], i)) == 0) {
            started++;
        }
    }
    logf_(NULL, "info", "event=started workers=%d group=%s topic=%s",
          started, sh.o.group, sh.o.topic);
    int64_t t0 = cx_mono_ms(), last_stats = t0, idle_since = -1;
    long long last_reported = 0;
    while (!stop && rc == 0) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        int64_t now = cx_mono_ms();
        if (sh.o.stats && now - last_stats >= 2000) {
            long long rep = atomic_load(&sh.reported);
            logf_(NULL, "info",
                  "event=stats reported=%lld dead_lettered=%lld "
                  "robots=%lld report_failures=%lld redone=%lld "
                  "rate=%.0f/s lag=%lld breaker=%s",
                  rep, (long long)atomic_load(&sh.dead),
                  (long long)atomic_load(&sh.robots),
                  (long long)atomic_load(&sh.report_failed),
                  (long long)atomic_load(&sh.redone),
                  (double)(rep - last_reported) * 1000.0 /
                      (double)(now - last_stats),
                  (long long)group_lag(&sh),
                  cx_crawler_breaker(&sh.crawler) ? "open" : "closed");
            last_reported = rep;
            last_stats = now;
        }
        if (sh.o.idle_exit_s > 0) {
            int quiet = now - atomic_load(&sh.last_msg_ms) > 500 &&
                        group_lag(&sh) == 0;
            idle_since = quiet ? (idle_since < 0 ? now : idle_since) : -1;
            if (idle_since >= 0 &&
                now - idle_since >= sh.o.idle_exit_s * 1000) {
                stop = 1;
            }
        }
    }
    stop = 1;
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].th, NULL);
        crawllog_consumer_close(workers[i].cons);
        crawllog_consumer_destroy(workers[i].cons);
    }
    fprintf(stderr,
            "crawl-consumer: reported %lld (robots-disallowed %lld), "
            "dead-lettered %lld, report failures %lld, redone %lld, "
            "breaker opened %lld times, %.1f s\n",
            (long long)atomic_load(&sh.reported),
            (long long)atomic_load(&sh.robots),
            (long long)atomic_load(&sh.dead),
            (long long)atomic_load(&sh.report_failed),
            (long long)atomic_load(&sh.redone), (long long)sh.crawler.opened,
            (double)(cx_mono_ms() - t0) / 1000.0);
    int crc = crawllog_close(sh.log);
    cx_crawler_destroy(&sh.crawler);
    return rc != 0 || crc != 0 ? 1 : 0;
}
