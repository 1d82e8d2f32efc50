/*
 * crawl-demo - the README's main command (`make demo`): the whole crawl
 * pipeline on one machine, with the failures the motivating system had,
 * and a check that nothing was lost.
 *
 * What it does, on the data directory (default ./crawllog-data):
 *  1. starts examples/crawl-fixture on loopback (a generated site on 8
 *     hosts with robots.txt, slow pages, 404/500s and redirect chains, a
 *     report sink that fails some reports, a SOCKS5 proxy);
 *  2. (re)creates the topic crawl.jobs (8 partitions) and produces the
 *     jobs with examples/crawl-producer (acks=all, keyed by host);
 *  3. runs 4 examples/crawl-consumer processes (a consumer group, 2 worker
 *     threads each, egress through the proxy), SIGKILLs one a third of the
 *     way and starts a new one, and stalls the proxy for 3 seconds half way
 *     (the consumers' circuit breakers open, they pause, probe, resume);
 *  4. shows one live progress / lag line, then a summary: jobs produced,
 *     reported (crawled, robots-disallowed), dead-lettered (by reason),
 *     duplicates the sink dropped, wall time, and the `crawllog groups
 *     describe` table.
 * It exits 0 only if every job was reported or dead-lettered (each offset
 * of every partition accounted for, from the sink's records and the
 * dead-letter topic's headers) and no process is left behind.
 *
 * Run: build/examples/crawl-demo [-d DIR|--log LOC] [--jobs N]
 *      [--consumers K]
 * With the Kafka backend (make kafka), LOC kafka://host:port runs the same
 * pipeline on a Kafka cluster, and kafka://mock on an in-process mock
 * cluster (docs/SCALING.md).
 * Logs (each program's stderr, the job list, the sink's records) go to
 * DIR.demo-logs beside the data directory.
 * (the other programs are found next to this one; the crawllog tool at
 * ../crawllog).  The test suite runs it smaller (tests/test_crawl_demo.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crawler.h"
#include "crawllog.h"
#include "http.h"
#include "seo.h"

#define TOPIC "crawl.jobs"
#define DLT "crawl.jobs.dlt"
#define GROUP "crawlers"
#define PARTS 8
#define MAX_PROCS 16
#define DEADLINE_S 90

extern char **environ;

struct demo {
    const char *dir;
    char bindir[PATH_MAX], logs[PATH_MAX];
    int jobs, consumers, tty;
    int http_port, socks_port;
    pid_t fixture, procs[MAX_PROCS];
    int nprocs;
    int64_t t0;
};

static void die(struct demo *d, const char *fmt, const char *arg);

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Start bindir/prog with args (NULL-terminated, after the program name);
 * stdout to out_fd (-1: inherit), stderr to the file errpath (NULL:
 * inherit). */
static pid_t start(struct demo *d, const char *prog, const char *const *args,
                   int out_fd, const char *errpath)
{
    char path[PATH_MAX + 64];
    const char *argv[32];
    int n = 0;
    snprintf(path, sizeof(path), "%s/%s", d->bindir, prog);
    argv[n++] = path;
    for (; args[n - 1] != NULL && n < 31; n++) {
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    }
    if (errpath != NULL) {
        posix_spawn_file_actions_addopen(&fa, 2, errpath,
                                         O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        die(d, "cannot start %s (build it with make)", path);
    }
    return pid;
}

static int wait_exit(pid_t pid, int64_t timeout_ms)
{
    int64_t end = cx_mono_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (w < 0 || cx_mono_ms() > end) {
            return -1;
        }
        sleep_ms(20);
    }
}

/* Stop every child still running. */
static void stop_all(struct demo *d)
{
    for (int i = 0; i < d->nprocs; i++) {
        if (d->procs[i] > 0) {
            kill(d->procs[i], SIGTERM);
            if (wait_exit(d->procs[i], 5000) < 0) {
                kill(d->procs[i], SIGKILL);
                waitpid(d->procs[i], NULL, 0);
            }
            d->procs[i] = 0;
        }
    }
    if (d->fixture > 0) {
        kill(d->fixture, SIGTERM);
        if (wait_exit(d->fixture, 5000) < 0) {
            kill(d->fixture, SIGKILL);
            waitpid(d->fixture, NULL, 0);
        }
        d->fixture = 0;
    }
}

static void die(struct demo *d, const char *fmt, const char *arg)
{
    fprintf(stderr, "crawl-demo: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    stop_all(d);
    exit(1);
}

/* GET or POST a fixture path; the body (malloc'd) or NULL. */
static char *fixture_call(struct demo *d, const char *path, const char *post)
{
    char url[256];
    struct cx_http_resp r;
    struct cx_http_opts o;
    memset(&o, 0, sizeof(o));
    o.total_ms = 10000;
    o.read_ms = 10000;
    o.body_max = 64 << 20;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", d->http_port, path);
    int rc = post ? cx_http_post(url, "application/json", post, strlen(post),
                                 &o, &r)
                  : cx_http_get(url, &o, &r);
    if (rc != CX_OK || r.status != 200) {
        cx_http_resp_free(&r);
        return NULL;
    }
    return r.body; /* ownership passes to the caller */
}

static long long stat_of(const char *json, const char *key)
{
    char v[32];
    return json && cx_json_get(json, strlen(json), key, v, sizeof(v)) == 1
               ? atoll(v)
               : -1;
}

/* Records in every partition of topic (-1 if it does not exist). */
static int64_t topic_records(crawllog_t *log, const char *topic)
{
    int32_t parts = 0;
    int64_t n = 0;
    if (crawllog_topic_describe(log, topic, &parts, NULL) != CRAWLLOG_OK) {
        return 0;
    }
    for (int32_t p = 0; p < parts; p++) {
        int64_t s, e;
        if (crawllog_partition_offsets(log, topic, p, &s, &e) == CRAWLLOG_OK) {
            n += e - s;
        }
    }
    return n;
}

static int64_t lag_of(crawllog_t *log)
{
    crawllog_group_desc_t *g = NULL;
    int64_t lag = 0;
    if (crawllog_group_describe(log, GROUP, &g) != CRAWLLOG_OK) {
        return -1;
    }
    for (size_t i = 0; i < g->partition_count; i++) {
        lag += g->partitions[i].lag > 0 ? g->partitions[i].lag : 0;
    }
    crawllog_group_desc_free(g);
    return lag;
}

/* ---- the accounting ----------------------------------------------------- */

struct account {
    int64_t end[PARTS];        /* log end of each job partition */
    unsigned char *seen[PARTS]; /* per offset: 1 reported, 2 dead-lettered */
    int64_t reported, dead, both, robots;
    char reasons[16][96];
    int64_t reason_count[16];
    int nreasons;
};

static void count_reason(struct account *a, const char *why, size_t len)
{
    char key[96];
    size_t k = 0;
    /* The reason without its URL: "HTTP 500 from http://..." -> "HTTP 500". */
    while (k < len && k < 60 && why[k] != ':' &&
           !(k + 6 <= len && memcmp(why + k, " from ", 6) == 0)) {
        key[k] = why[k];
        k++;
    }
    key[k] = '\0';
    for (int i = 0; i < a->nreasons; i++) {
        if (strcmp(a->reasons[i], key) == 0) {
            a->reason_count[i]++;
            return;
        }
    }
    if (a->nreasons < 16) {
        snprintf(a->reasons[a->nreasons], sizeof(a->reasons[0]), "%s", key);
        a->reason_count[a->nreasons++] = 1;
    }
}

static uint64_t be(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

/* Read the sink's records and the dead letters; 0 if every job offset is
 * accounted for. */
static int account(struct demo *d, crawllog_t *log, struct account *a)
{
    char path[PATH_MAX + 32], line[65536];
    memset(a, 0, sizeof(*a));
    for (int p = 0; p < PARTS; p++) {
        int64_t s;
        crawllog_partition_offsets(log, TOPIC, p, &s, &a->end[p]);
        a->seen[p] = calloc((size_t)a->end[p] + 1, 1);
    }
    snprintf(path, sizeof(path), "%s/reports.jsonl", d->logs);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char v[64], topic[64], res[64];
        size_t len = strlen(line);
        if (cx_json_get(line, len, "topic", topic, sizeof(topic)) != 1 ||
            strcmp(topic, TOPIC) != 0 ||
            cx_json_get(line, len, "partition", v, sizeof(v)) != 1) {
            continue;
        }
        int p = atoi(v);
        if (cx_json_get(line, len, "offset", v, sizeof(v)) != 1 || p < 0 ||
            p >= PARTS) {
            continue;
        }
        int64_t o = atoll(v);
        if (o >= 0 && o < a->end[p] && !(a->seen[p][o] & 1)) {
            a->seen[p][o] |= 1;
            a->reported++;
            if (cx_json_get(line, len, "result", res, sizeof(res)) == 1 &&
                strcmp(res, "robots-disallowed") == 0) {
                a->robots++;
            }
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    for (int32_t p = 0; p < PARTS; p++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m;
        if (crawllog_reader_new(&rd, log, DLT, p) != CRAWLLOG_OK) {
            continue;
        }
        while (crawllog_reader_next(rd, &m) == CRAWLLOG_OK && m != NULL) {
            int64_t op = -1, oo = -1;
            crawllog_header_t h;
            for (size_t i = 0; i < crawllog_msg_header_count(m); i++) {
                if (crawllog_msg_header(m, i, &h) != CRAWLLOG_OK) {
                    continue;
                }
                if (h.name_len == 28 &&
                    memcmp(h.name, "kafka_dlt-original-partition", 28) == 0 &&
                    h.value_len == 4) {
                    op = (int64_t)be(h.value, 4);
                } else if (h.name_len == 25 &&
                           memcmp(h.name, "kafka_dlt-original-offset", 25) ==
                               0 &&
                           h.value_len == 8) {
                    oo = (int64_t)be(h.value, 8);
                } else if (h.name_len == 27 &&
                           memcmp(h.name, "kafka_dlt-exception-message",
                                  27) == 0) {
                    count_reason(a, h.value, h.value_len);
                }
            }
            if (op >= 0 && op < PARTS && oo >= 0 && oo < a->end[op] &&
                !(a->seen[op][oo] & 2)) {
                a->both += a->seen[op][oo] & 1;
                a->seen[op][oo] |= 2;
                a->dead++;
            }
        }
        crawllog_reader_destroy(rd);
    }
    int64_t missing = 0;
    for (int p = 0; p < PARTS; p++) {
        for (int64_t o = 0; o < a->end[p]; o++) {
            missing += a->seen[p][o] == 0;
        }
        free(a->seen[p]);
    }
    return missing == 0 ? 0 : -1;
}

/* ---- the run ------------------------------------------------------------- */

/* The fixture's first stdout line: "fixture http=P socks=Q hosts=N". */
static void start_fixture(struct demo *d)
{
    char reports[PATH_MAX + 32], line[256];
    int pfd[2];
    snprintf(reports, sizeof(reports), "%s/reports.jsonl", d->logs);
    unlink(reports);
    if (pipe(pfd) != 0) {
        die(d, "pipe: %s", strerror(errno));
    }
    char errlog[PATH_MAX + 32];
    snprintf(errlog, sizeof(errlog), "%s/fixture.log", d->logs);
    const char *args[] = {"--hosts", "8", "--pages", "400", "--slow-ms",
                          "1500", "--report-fail-pct", "5", "--reports",
                          reports, NULL};
    d->fixture = start(d, "crawl-fixture", args, pfd[1], errlog);
    close(pfd[1]);
    size_t n = 0;
    while (n < sizeof(line) - 1) {
        ssize_t got = read(pfd[0], line + n, 1);
        if (got <= 0 || line[n] == '\n') {
            break;
        }
        n++;
    }
    line[n] = '\0';
    close(pfd[0]);
    if (sscanf(line, "fixture http=%d socks=%d", &d->http_port,
               &d->socks_port) != 2) {
        die(d, "the fixture did not start (see %s)", errlog);
    }
}

/* Both topics, empty, with PARTS partitions (the dead-letter topic too:
 * a consumer would create it on demand, but a Kafka mock cluster of
 * another process cannot create topics).  A backend that cannot delete a
 * topic (Kafka's mock cluster: ENOTSUP) keeps it: fine when it is new. */
static void fresh_topic(struct demo *d, crawllog_t *log)
{
    const char *topics[] = {TOPIC, DLT};
    crawllog_group_delete(log, GROUP); /* ENOENT the first time */
    for (int i = 0; i < 2; i++) {
        crawllog_topic_delete_flags(log, topics[i], CRAWLLOG_DELETE_FORCE);
        int rc = crawllog_topic_create(log, topics[i], PARTS, NULL);
        int32_t n = 0;
        if (rc == CRAWLLOG_EEXIST &&
            crawllog_topic_describe(log, topics[i], &n, NULL) ==
                CRAWLLOG_OK &&
            n == PARTS) {
            rc = CRAWLLOG_OK;
        }
        if (rc != CRAWLLOG_OK) {
            char msg[CRAWLLOG_ERRSTR_SIZE + 300];
            snprintf(msg, sizeof(msg), "%s: %s", topics[i],
                     crawllog_errmsg(log));
            die(d, "create topic %s", msg);
        }
    }
}

static void produce(struct demo *d)
{
    char q[64], path[PATH_MAX + 32];
    snprintf(q, sizeof(q), "/urls?count=%d&mix=1", d->jobs);
    char *list = fixture_call(d, q, NULL);
    if (list == NULL) {
        die(d, "%s", "the fixture gave no job list");
    }
    snprintf(path, sizeof(path), "%s/jobs.txt", d->logs);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(list, f) < 0 || fclose(f) != 0) {
        die(d, "cannot write %s", path);
    }
    free(list);
    char errlog[PATH_MAX + 32];
    snprintf(errlog, sizeof(errlog), "%s/producer.log", d->logs);
    const char *args[] = {"-d", d->dir, "--topic", TOPIC, "--acks", "all",
                          "--file", path, "--quiet", NULL};
    int st = wait_exit(start(d, "crawl-producer", args, -1, errlog), 60000);
    if (st != 0) {
        die(d, "the producer failed (see %s)", errlog);
    }
}

static void start_consumer(struct demo *d, char (*url)[128],
                           char (*proxy)[64])
{
    char errlog[PATH_MAX + 32];
    snprintf(errlog, sizeof(errlog), "%s/consumer-%d.log", d->logs,
             d->nprocs);
    const char *args[] = {"-d", d->dir, "--group", GROUP, "--topic", TOPIC,
                          "--workers", "2", "--report-url", *url, "--proxy",
                          *proxy, "--timeout-ms", "400", "--politeness-ms",
                          "2", "--quiet", NULL};
    if (d->nprocs < MAX_PROCS) {
        d->procs[d->nprocs++] = start(d, "crawl-consumer", args, -1, errlog);
    }
}

int main(int argc, char **argv)
{
    static struct demo d;
    char url[128], proxy[64], errstr[CRAWLLOG_ERRSTR_SIZE];
    d.dir = "crawllog-data";
    d.jobs = 2000;
    d.consumers = 4;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--log") == 0) &&
            i + 1 < argc) {
            d.dir = argv[++i];
        } else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
            d.jobs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--consumers") == 0 && i + 1 < argc) {
            d.consumers = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: crawl-demo [-d DIR|--log LOC] [--jobs N] "
                            "[--consumers K]\n");
            return 2;
        }
    }
    if (d.jobs < 10 || d.consumers < 2 || d.consumers > 8) {
        fprintf(stderr, "crawl-demo: --jobs >= 10, --consumers 2..8\n");
        return 2;
    }
    char *slash = strrchr(argv[0], '/');
    snprintf(d.bindir, sizeof(d.bindir), "%.*s",
             slash ? (int)(slash - argv[0]) : 1, slash ? argv[0] : ".");
    /* Beside the data directory; for a Kafka location in the current one. */
    snprintf(d.logs, sizeof(d.logs), "%s.demo-logs",
             strstr(d.dir, "://") ? "crawllog-kafka" : d.dir);
    d.tty = isatty(1);
    d.t0 = cx_mono_ms();
    signal(SIGPIPE, SIG_IGN);

    crawllog_t *log = NULL;
    int rc = crawllog_open(&log, d.dir, NULL, errstr, sizeof(errstr));
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "crawl-demo: open %s: %s\n", d.dir, errstr);
        return 1;
    }
    /* What the other programs open: the same (for kafka://mock, the brokers
     * of the mock cluster this process runs). */
    static char where[1024];
    snprintf(where, sizeof(where), "%s", crawllog_location(log));
    d.dir = where;
    mkdir(d.logs, 0755);
    printf("crawl demo: %d jobs, %d crawler processes, data in %s, logs in "
           "%s\n",
           d.jobs, d.consumers, d.dir, d.logs);
    start_fixture(&d);
    fresh_topic(&d, log);
    produce(&d);
    int64_t produced = topic_records(log, TOPIC);
    printf("produced %lld jobs to %s (acks=all, keyed by host) in %.1f s\n",
           (long long)produced, TOPIC,
           (double)(cx_mono_ms() - d.t0) / 1000.0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/report", d.http_port);
    snprintf(proxy, sizeof(proxy), "socks5://127.0.0.1:%d", d.socks_port);
    for (int i = 0; i < d.consumers; i++) {
        start_consumer(&d, &url, &proxy);
    }
    int killed = 0, stalled = 0, done = 0;
    int64_t last_line = 0;
    while (!done) {
        sleep_ms(200);
        char *st = fixture_call(&d, "/stats", NULL);
        long long unique = stat_of(st, "unique");
        long long dups = stat_of(st, "duplicates");
        free(st);
        int64_t dead = topic_records(log, DLT), lag = lag_of(log);
        double el = (double)(cx_mono_ms() - d.t0) / 1000.0;
        long long progress = unique + dead;
        if (!killed && progress * 3 >= produced) {
            kill(d.procs[0], SIGKILL);
            waitpid(d.procs[0], NULL, 0);
            d.procs[0] = 0;
            start_consumer(&d, &url, &proxy);
            killed = 1;
            printf("%s[demo] SIGKILLed crawler 0 at %lld/%lld jobs; started a "
                   "new one\n",
                   d.tty ? "\r\033[K" : "", progress, (long long)produced);
        } else if (!stalled && progress * 2 >= produced) {
            free(fixture_call(&d, "/control", "{\"socks_stall_ms\":3000}"));
            stalled = 1;
            printf("%s[demo] SOCKS5 proxy stalled for 3 s (breakers open, "
                   "partitions paused)\n",
                   d.tty ? "\r\033[K" : "");
        }
        if (d.tty || cx_mono_ms() - last_line >= 2000) {
            printf("%s[demo] %.1f s: reported %lld, dead-lettered %lld, "
                   "duplicates dropped %lld, lag %lld%s",
                   d.tty ? "\r\033[K" : "", el, unique, (long long)dead, dups,
                   (long long)lag, d.tty ? "" : "\n");
            fflush(stdout);
            last_line = cx_mono_ms();
        }
        done = progress >= produced && lag == 0;
        if (el > DEADLINE_S) {
            printf("\n");
            die(&d, "%s", "not done within the deadline");
        }
    }
    printf("%s", d.tty ? "\n" : "");
    /* Let the members finish cleanly (SIGTERM: finish, leave). */
    for (int i = 0; i < d.nprocs; i++) {
        if (d.procs[i] > 0) {
            kill(d.procs[i], SIGTERM);
            int st = wait_exit(d.procs[i], 10000);
            d.procs[i] = st < 0 ? d.procs[i] : 0;
        }
    }
    struct account a;
    int ok = account(&d, log, &a) == 0;
    char *st = fixture_call(&d, "/stats", NULL);
    long long dups = stat_of(st, "duplicates"), failed = stat_of(st, "failed");
    free(st);
    printf("\nsummary\n");
    printf("  jobs produced       %lld\n", (long long)produced);
    printf("  reported            %lld (crawled %lld, robots-disallowed "
           "%lld)\n",
           (long long)a.reported, (long long)(a.reported - a.robots),
           (long long)a.robots);
    printf("  dead-lettered       %lld\n", (long long)a.dead);
    for (int i = 0; i < a.nreasons; i++) {
        printf("    %6lld  %s\n", (long long)a.reason_count[i], a.reasons[i]);
    }
    printf("  duplicates dropped  %lld (reports of jobs redone after a kill "
           "or a lost answer)\n",
           dups);
    printf("  reports refused     %lld (the sink failed them on purpose; "
           "retried)\n",
           failed);
    printf("  wall time           %.1f s\n",
           (double)(cx_mono_ms() - d.t0) / 1000.0);
    printf("  every job reported or dead-lettered: %s\n\n",
           ok ? "yes" : "NO");
    fflush(stdout);
    const char *cli = "../crawllog";
    const char *args[] = {"-d", d.dir, "groups", "describe", GROUP, NULL};
    char cpath[PATH_MAX + 64];
    snprintf(cpath, sizeof(cpath), "%s/%s", d.bindir, cli);
    if (access(cpath, X_OK) == 0) {
        wait_exit(start(&d, cli, args, -1, NULL), 10000);
    }
    stop_all(&d);
    crawllog_close(log);
    return ok ? 0 : 1;
}
