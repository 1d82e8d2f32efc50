/* bench_crawllog.c - libcrawllog in the peer harness (see README.md, "contract").
 *
 * Public API only (include/crawllog.h), linked against ../../build/libcrawllog.a.
 * One data directory = -d DIR; one topic "bench" with -p partitions; default
 * configuration (log.buffer.bytes = 1 MiB per partition, segment.bytes = 1 GiB).
 * Message = fmt_key()/fmt_value(), partition = part_of(key), record
 * timestamp = time of the append.
 *
 *   W1: one producer.  Each batch of -b messages is routed with part_of() into
 *       per-partition groups and every group is appended with ONE
 *       crawllog_append() (so up to -p appends per batch); the batch is acked
 *       when all of them returned.  Latency sample = one batch.
 *         none   : CRAWLLOG_SYNC_NONE (buffered in the process), one
 *                  crawllog_flush(WRITTEN) at the end, inside the timed phase
 *         batch  : CRAWLLOG_SYNC_WRITTEN, plus crawllog_flush(DURABLE) when
 *                  >= 1 ms passed since the last one (checked per batch)
 *         always : CRAWLLOG_SYNC_DURABLE on every append (one fdatasync per
 *                  partition group: up to -p fdatasyncs per batch)
 *       -o parallel: the groups of a batch are appended concurrently by one
 *       thread per partition (still one producer: the batch is acked when all
 *       returned), so their fdatasyncs overlap - what an application can do
 *       today, as long as the library has no cross-partition group commit.
 *   W2: N messages preloaded (untimed, W1 none), then one consumer reads all
 *       partitions round robin with one crawllog_reader_t each, -b records per
 *       fetch.  NO COMMIT: consumer groups / committed offsets do not exist
 *       yet, so -m has no effect; the output says so in "note".
 *   W3: the main thread sends one message per crawllog_append() (sync per -m:
 *       none -> WRITTEN, since a NONE append is invisible until flushed;
 *       batch -> WRITTEN + flush(DURABLE) every >= 1 ms; always -> DURABLE),
 *       paced at -r for -t s.  A consumer thread with its own reader per
 *       partition polls crawllog_reader_next() and sleeps ~50 us (-o
 *       poll_us=N) when a round over all partitions found nothing: the API
 *       has no blocking wait / notification yet.  Latency = now_ns() -
 *       parse_ts(value) per message.
 *   W4: -n single messages (partition = part_of(key)), each appended with
 *       CRAWLLOG_SYNC_DURABLE; latency per message.
 */
#include "common.h"

#include <pthread.h>
#include <sys/stat.h>

#include "crawllog.h"

#define TOPIC "bench"

static void ckl(crawllog_t *log, int rc, const char *what) {
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "FATAL: %s: %s: %s\n", what, crawllog_err_name(rc),
                log ? crawllog_errmsg(log) : "");
        exit(2);
    }
}

static crawllog_t *open_log(const args_t *a) {
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_t *log = NULL;
    int rc = crawllog_open(&log, a->dir, NULL, errstr, sizeof errstr);
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "FATAL: crawllog_open %s: %s: %s\n", a->dir, crawllog_err_name(rc),
                errstr);
        exit(2);
    }
    ckl(log, crawllog_topic_create(log, TOPIC, a->partitions, NULL), "topic_create");
    return log;
}

/* ---------------- W1 (also the W2 preload) ------------------------------ */

typedef struct {
    int P, batch;
    char *msgs;               /* batch * MSG_PAYLOAD: key then value */
    crawllog_record_t **recs; /* [P][batch] */
    int *cnt;                 /* [P] */
} grp_t;

static void grp_init(grp_t *g, int P, int batch) {
    g->P = P;
    g->batch = batch;
    g->msgs = malloc((size_t)batch * MSG_PAYLOAD);
    g->recs = malloc((size_t)P * sizeof *g->recs);
    g->cnt = calloc((size_t)P, sizeof *g->cnt);
    if (!g->msgs || !g->recs || !g->cnt) die("malloc");
    for (int p = 0; p < P; p++) {
        g->recs[p] = calloc((size_t)batch, sizeof **g->recs);
        if (!g->recs[p]) die("calloc");
    }
}

static void grp_free(grp_t *g) {
    for (int p = 0; p < g->P; p++) free(g->recs[p]);
    free(g->recs);
    free(g->cnt);
    free(g->msgs);
}

/* Formats messages [first, first+n) and routes them into per-partition groups. */
static void grp_fill(grp_t *g, long first, int n) {
    memset(g->cnt, 0, (size_t)g->P * sizeof *g->cnt);
    for (int j = 0; j < n; j++) {
        char *m = g->msgs + (size_t)j * MSG_PAYLOAD;
        uint64_t i = (uint64_t)(first + j);
        fmt_key(m, i);
        fmt_value(m + KEY_LEN, 0, i);
        int p = part_of(m, g->P);
        crawllog_record_t *r = &g->recs[p][g->cnt[p]++];
        r->key = m;
        r->key_len = KEY_LEN;
        r->value = m + KEY_LEN;
        r->value_len = VAL_LEN;
        r->timestamp = -1;
        r->headers = NULL;
        r->header_count = 0;
    }
}

/* -o parallel: one thread per partition appends that partition's group, so
 * the (up to -p) appends of a batch - and their fdatasyncs - run
 * concurrently; the batch is acked when all of them returned. */
typedef struct {
    crawllog_t *log;
    grp_t *g;
    int sync, P;
    long gen;    /* batch generation, bumped by the producer */
    int pending; /* groups of this generation not yet appended */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
} pool_t;

typedef struct {
    pool_t *pool;
    int p;
} worker_t;

static void *pool_worker(void *arg) {
    worker_t *w = arg;
    pool_t *pl = w->pool;
    long seen = 0;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (pl->gen == seen && !pl->stop) pthread_cond_wait(&pl->go, &pl->mu);
        if (pl->stop) break;
        seen = pl->gen;
        pthread_mutex_unlock(&pl->mu);
        if (pl->g->cnt[w->p] > 0)
            ckl(pl->log, crawllog_append(pl->log, TOPIC, w->p, pl->g->recs[w->p],
                                         (size_t)pl->g->cnt[w->p], pl->sync, NULL),
                "append");
        pthread_mutex_lock(&pl->mu);
        if (--pl->pending == 0) pthread_cond_signal(&pl->done);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

static void pool_run(pool_t *pl) {
    pthread_mutex_lock(&pl->mu);
    pl->pending = pl->P;
    pl->gen++;
    pthread_cond_broadcast(&pl->go);
    while (pl->pending > 0) pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
}

/* Produces n messages in batches; returns the number of durable flushes. */
static long produce(crawllog_t *log, const args_t *a, long n, lat_t *lat) {
    int sync = mode_is(a, "always")  ? CRAWLLOG_SYNC_DURABLE
               : mode_is(a, "batch") ? CRAWLLOG_SYNC_WRITTEN
                                     : CRAWLLOG_SYNC_NONE;
    grp_t g;
    grp_init(&g, a->partitions, a->batch);
    pool_t pl = {log, &g, sync, g.P, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER,
                 PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
    int parallel = lat && strstr(a->opt, "parallel") != NULL;
    pthread_t th[256];
    worker_t wk[256];
    for (int p = 0; parallel && p < g.P && p < 256; p++) {
        wk[p] = (worker_t){&pl, p};
        if (pthread_create(&th[p], NULL, pool_worker, &wk[p])) die("pthread_create");
    }
    long flushes = 0;
    uint64_t last_sync = now_ns();
    for (long i = 0; i < n; i += a->batch) {
        int cnt = n - i < a->batch ? (int)(n - i) : a->batch;
        uint64_t bs = now_ns();
        grp_fill(&g, i, cnt);
        if (parallel) pool_run(&pl);
        for (int p = 0; !parallel && p < g.P; p++) {
            if (g.cnt[p] == 0) continue;
            ckl(log, crawllog_append(log, TOPIC, p, g.recs[p], (size_t)g.cnt[p], sync, NULL),
                "append");
        }
        if (mode_is(a, "batch") && now_ns() - last_sync >= 1000000ull) {
            ckl(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE), "flush durable");
            flushes++;
            last_sync = now_ns();
        }
        if (lat) lat_add(lat, now_ns() - bs);
    }
    if (sync == CRAWLLOG_SYNC_NONE) {
        ckl(log, crawllog_flush(log, CRAWLLOG_SYNC_WRITTEN), "flush written");
    } else if (mode_is(a, "batch")) {
        ckl(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE), "flush durable");
        flushes++;
    }
    if (parallel) {
        pthread_mutex_lock(&pl.mu);
        pl.stop = 1;
        pthread_cond_broadcast(&pl.go);
        pthread_mutex_unlock(&pl.mu);
        for (int p = 0; p < g.P; p++) pthread_join(th[p], NULL);
    }
    grp_free(&g);
    return flushes;
}

/* Checks one record read back; adds its key's last digit to *sum. */
static void check_msg(const crawllog_msg_t *m, uint64_t *sum, lat_t *e2e) {
    size_t kl = 0, vl = 0;
    const char *k = crawllog_msg_key(m, &kl);
    const char *v = crawllog_msg_value(m, &vl);
    if (!k || !v || kl != KEY_LEN || vl != VAL_LEN || memcmp(k, "key-", 4) != 0) {
        fprintf(stderr, "FATAL: bad record at offset %lld\n",
                (long long)crawllog_msg_offset(m));
        exit(3);
    }
    *sum += (uint8_t)k[KEY_LEN - 1];
    if (e2e) lat_add(e2e, now_ns() - parse_ts(v));
}

static crawllog_reader_t **readers_new(crawllog_t *log, int P) {
    crawllog_reader_t **rd = calloc((size_t)P, sizeof *rd);
    if (!rd) die("calloc");
    for (int p = 0; p < P; p++) ckl(log, crawllog_reader_new(&rd[p], log, TOPIC, p), "reader_new");
    return rd;
}

static void readers_free(crawllog_reader_t **rd, int P) {
    for (int p = 0; p < P; p++) crawllog_reader_destroy(rd[p]);
    free(rd);
}

/* Reads up to max records from rd; returns how many (0 at the log end). */
static long fetch(crawllog_reader_t *rd, long max, uint64_t *sum, lat_t *e2e) {
    long got = 0;
    while (got < max) {
        const crawllog_msg_t *m = NULL;
        int rc = crawllog_reader_next(rd, &m);
        if (rc != CRAWLLOG_OK) {
            fprintf(stderr, "FATAL: reader_next: %s: %s\n", crawllog_err_name(rc),
                    crawllog_reader_errmsg(rd));
            exit(3);
        }
        if (!m) break;
        check_msg(m, sum, e2e);
        got++;
    }
    return got;
}

/* ---------------- W3 ---------------------------------------------------- */

typedef struct {
    const args_t *a;
    crawllog_t *log;
    long total;
    int producer_done; /* atomic */
    long received;
    long idle_sleeps;
    lat_t e2e;
} w3_t;

static void *w3_consumer(void *arg) {
    w3_t *s = arg;
    int P = s->a->partitions;
    const char *pp = strstr(s->a->opt, "poll_us=");
    long poll_us = pp ? atol(pp + 8) : 50;
    crawllog_reader_t **rd = readers_new(s->log, P);
    uint64_t sum = 0, idle_since = 0;
    while (s->received < s->total) {
        long got = 0;
        for (int p = 0; p < P; p++) got += fetch(rd[p], s->a->batch, &sum, &s->e2e);
        s->received += got;
        if (got) {
            idle_since = 0;
            continue;
        }
        if (__atomic_load_n(&s->producer_done, __ATOMIC_ACQUIRE)) {
            if (!idle_since) idle_since = now_ns();
            if (now_ns() - idle_since > 3000000000ull) break; /* lost messages */
        }
        s->idle_sleeps++;
        if (poll_us > 0) sleep_until_ns(now_ns() + (uint64_t)poll_us * 1000);
    }
    readers_free(rd, P);
    return NULL;
}

static int run_w3(args_t *a, crawllog_t *log) {
    int sync = mode_is(a, "always") ? CRAWLLOG_SYNC_DURABLE : CRAWLLOG_SYNC_WRITTEN;
    w3_t *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    s->a = a;
    s->log = log;
    s->total = (long)((double)a->rate * a->duration);
    lat_init(&s->e2e, (size_t)s->total + 1);
    pthread_t th;
    if (pthread_create(&th, NULL, w3_consumer, s)) die("pthread_create");
    usleep(10000);
    char m[MSG_PAYLOAD];
    crawllog_record_t r = {m, KEY_LEN, m + KEY_LEN, VAL_LEN, -1, NULL, 0};
    uint64_t interval = 1000000000ull / (uint64_t)a->rate;
    uint64_t last_sync = now_ns();
    uint64_t t0 = now_ns();
    for (long i = 0; i < s->total; i++) {
        uint64_t target = t0 + (uint64_t)i * interval;
        if (now_ns() < target) sleep_until_ns(target);
        fmt_key(m, (uint64_t)i);
        fmt_value(m + KEY_LEN, now_ns(), (uint64_t)i);
        ckl(log, crawllog_append(log, TOPIC, part_of(m, a->partitions), &r, 1, sync, NULL),
            "append");
        if (mode_is(a, "batch") && now_ns() - last_sync >= 1000000ull) {
            ckl(log, crawllog_flush(log, CRAWLLOG_SYNC_DURABLE), "flush durable");
            last_sync = now_ns();
        }
    }
    uint64_t t_send = now_ns();
    __atomic_store_n(&s->producer_done, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    if (s->received != s->total) {
        fprintf(stderr, "W3: received %ld of %ld\n", s->received, s->total);
        return 3;
    }
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"target_rate\":%ld,\"received\":%ld,\"idle_sleeps\":%ld,\"note\":\"msg_per_s = "
             "achieved send rate; consumer thread polls crawllog_reader_next and sleeps "
             "~50 us when idle (no blocking wait in the API yet)\"",
             a->rate, s->received, s->idle_sleeps);
    bench_emit(a, s->total, (double)(t_send - t0) / 1e9, MSG_PAYLOAD, &s->e2e, "msg", extra);
    return 0;
}

/* ---------------- main -------------------------------------------------- */

int main(int argc, char **argv) {
    args_t a;
    bench_parse_args(&a, argc, argv);
    a.system = "crawllog";
    if (!a.dir) a.dir = "/tmp/crawllog-peers/crawllog";
    if (a.partitions > 256) a.partitions = 256;
    mkdir(a.dir, 0755);
    int P = a.partitions;
    char extra[512];
    crawllog_t *log = open_log(&a);
    int ret = 0;

    if (!strcmp(a.workload, "W1")) {
        lat_t lat;
        lat_init(&lat, (size_t)(a.msgs / a.batch + 2));
        uint64_t t0 = now_ns();
        long flushes = produce(log, &a, a.msgs, &lat);
        uint64_t t1 = now_ns();
        snprintf(extra, sizeof extra, "\"durable_flushes\":%ld", flushes);
        bench_emit(&a, a.msgs, (double)(t1 - t0) / 1e9, MSG_PAYLOAD, &lat, "batch", extra);
    } else if (!strcmp(a.workload, "W2")) {
        args_t setup = a;
        setup.mode = "none";
        produce(log, &setup, a.msgs, NULL); /* untimed */
        crawllog_reader_t **rd = readers_new(log, P);
        int *done = calloc((size_t)P, sizeof *done);
        if (!done) die("calloc");
        lat_t lat;
        lat_init(&lat, (size_t)(a.msgs / a.batch + 2 * P + 2));
        long total = 0;
        uint64_t sum = 0;
        uint64_t t0 = now_ns();
        for (int live = P; live > 0;) {
            for (int p = 0; p < P; p++) {
                if (done[p]) continue;
                uint64_t s = now_ns();
                long got = fetch(rd[p], a.batch, &sum, NULL);
                if (got == 0) {
                    done[p] = 1;
                    live--;
                    continue;
                }
                total += got;
                lat_add(&lat, now_ns() - s);
            }
        }
        uint64_t t1 = now_ns();
        readers_free(rd, P);
        free(done);
        if (total != a.msgs) {
            fprintf(stderr, "W2: consumed %ld of %ld\n", total, a.msgs);
            ret = 3;
        } else {
            snprintf(extra, sizeof extra,
                     "\"checksum\":%llu,\"note\":\"no commit (consumer groups not "
                     "implemented yet); -m has no effect\"",
                     (unsigned long long)sum);
            bench_emit(&a, total, (double)(t1 - t0) / 1e9, MSG_PAYLOAD, &lat, "batch", extra);
        }
    } else if (!strcmp(a.workload, "W3")) {
        ret = run_w3(&a, log);
    } else if (!strcmp(a.workload, "W4")) {
        a.mode = "always";
        lat_t lat;
        lat_init(&lat, (size_t)a.msgs + 1);
        char m[MSG_PAYLOAD];
        crawllog_record_t r = {m, KEY_LEN, m + KEY_LEN, VAL_LEN, -1, NULL, 0};
        uint64_t t0 = now_ns();
        for (long i = 0; i < a.msgs; i++) {
            uint64_t s = now_ns();
            fmt_key(m, (uint64_t)i);
            fmt_value(m + KEY_LEN, 0, (uint64_t)i);
            ckl(log,
                crawllog_append(log, TOPIC, part_of(m, P), &r, 1, CRAWLLOG_SYNC_DURABLE, NULL),
                "append");
            lat_add(&lat, now_ns() - s);
        }
        uint64_t t1 = now_ns();
        a.batch = 1;
        bench_emit(&a, a.msgs, (double)(t1 - t0) / 1e9, MSG_PAYLOAD, &lat, "msg", NULL);
    } else {
        fprintf(stderr, "unknown workload %s\n", a.workload);
        ret = 1;
    }
    int rc = crawllog_close(log);
    if (rc != CRAWLLOG_OK && ret == 0) {
        fprintf(stderr, "crawllog_close: %s\n", crawllog_err_name(rc));
        ret = 2;
    }
    return ret;
}
