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
 *         always : CRAWLLOG_SYNC_WRITTEN appends, then ONE
 *                  crawllog_flush(DURABLE) per batch (the batch is group-
 *                  committed: the library fdatasyncs the up to -p partition
 *                  files concurrently, log.flush.parallelism = 8); the
 *                  batch is acked when the flush returned
 *       -o per_append (always): CRAWLLOG_SYNC_DURABLE on every append instead,
 *       i.e. up to -p fdatasyncs one after the other per batch (the mapping
 *       before issue 9).
 *       -o flushpar=N: log.flush.parallelism = N (default 8; 1 = the
 *       partitions of a durable flush synced one after the other).
 *       -o parallel (always): DURABLE appends of a batch issued concurrently by
 *       one application thread per partition (what an application had to do
 *       before the library synced a flush's partitions concurrently).
 *   W2: N messages preloaded (untimed, W1 none), then ONE consumer,
 *       group.id "g", subscribed to the topic (crawllog_consumer_subscribe;
 *       -o assign: crawllog_consumer_assign of all partitions from
 *       CRAWLLOG_OFFSET_BEGINNING instead, still committing as group "g"),
 *       auto.offset.reset=earliest, max.poll.records = -b.  Loop:
 *       crawllog_consumer_poll(-b), check every message (key/value shape,
 *       checksum of the keys' last digits), crawllog_consumer_commit(c, NULL,
 *       sync) = every owned partition at its position:
 *         none   : CRAWLLOG_SYNC_WRITTEN (in the offsets file, no fsync
 *                  asked for; the library still fdatasyncs every 64 KiB it
 *                  grows the offsets file by)
 *         batch  : WRITTEN, but DURABLE when >= 1 ms passed since the last
 *                  durable commit (the commit itself is the durable one)
 *         always : CRAWLLOG_SYNC_DURABLE (fdatasync'd before the next poll)
 *       Latency sample = one poll + its commit.  Exactly N messages must
 *       arrive, and the committed offsets must add up to N (exit 3 if not).
 *   W3: the producer (main thread) sends one message per crawllog_append()
 *       with CRAWLLOG_SYNC_WRITTEN (a NONE append is invisible until
 *       flushed), paced at -r for -t s.  In batch/always an acker thread of
 *       the producer process makes the writes durable with
 *       crawllog_flush(DURABLE), every >= 1 ms (batch) or back to back
 *       (always: continuous group commit, like Redis' appendfsync always
 *       per event-loop turn); a message is acked when a flush that started
 *       after its append returned, reported as ack_p50/p99/p999_us.  (Before
 *       issue 9 the producer called the flush itself every 1 ms, so paced
 *       sends queued behind the 8 serial fdatasyncs, and `always` appended
 *       DURABLE per message, which caps the rate at one fdatasync per
 *       message, ~5 k/s.)  The consumer is a
 *       separate PROCESS (forked before the parent opens the log; it opens
 *       its own handle) - or with -o thread a thread sharing the parent's
 *       handle - with a subscribed group "g" consumer (as W2) that blocks in
 *       crawllog_consumer_poll(timeout 1 s): the library wakes it through its
 *       futex doorbell when any process appends, no sleep-polling here.  It
 *       commits (WRITTEN) after every poll that returned messages, like the
 *       peers' consumers.  The producer starts once the consumer owns every
 *       partition (run.sh also runs the -o thread variant, W3 none).
 *       Latency = now_ns() - parse_ts(value) per message,
 *       written by the consumer into a MAP_SHARED array the parent reads
 *       after waitpid() and reports with bench_emit().
 *   W4: -n single messages (partition = part_of(key)), each appended with
 *       CRAWLLOG_SYNC_DURABLE; latency per message.
 */
#include "common.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "crawllog.h"

#define TOPIC "bench"

static void ckl(crawllog_t *log, int rc, const char *what) {
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "FATAL: %s: %s: %s\n", what, crawllog_err_name(rc),
                log ? crawllog_errmsg(log) : "");
        exit(2);
    }
}

/* Opens -d; with create, also creates the topic (W3's consumer process opens
 * the directory after the parent created it). */
static crawllog_t *open_log(const args_t *a, int create) {
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_t *log = NULL;
    crawllog_conf_t *conf = NULL;
    const char *fp = strstr(a->opt, "flushpar=");
    if (fp) { /* -o flushpar=N: log.flush.parallelism */
        char val[16];
        snprintf(val, sizeof val, "%d", atoi(fp + 9));
        if (crawllog_conf_new(&conf) != CRAWLLOG_OK ||
            crawllog_conf_set(conf, "log.flush.parallelism", val, errstr, sizeof errstr) !=
                CRAWLLOG_OK) {
            fprintf(stderr, "FATAL: log.flush.parallelism=%s: %s\n", val, errstr);
            exit(2);
        }
    }
    int rc = crawllog_open(&log, a->dir, conf, errstr, sizeof errstr);
    crawllog_conf_destroy(conf);
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "FATAL: crawllog_open %s: %s: %s\n", a->dir, crawllog_err_name(rc),
                errstr);
        exit(2);
    }
    if (create)
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
    int per_append = lat && strstr(a->opt, "per_append") != NULL;
    int group_commit = mode_is(a, "always") && !per_append &&
                       strstr(a->opt, "parallel") == NULL;
    int sync = group_commit                   ? CRAWLLOG_SYNC_WRITTEN
               : mode_is(a, "always")        ? CRAWLLOG_SYNC_DURABLE
               : mode_is(a, "batch")         ? CRAWLLOG_SYNC_WRITTEN
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
        if (group_commit ||
            (mode_is(a, "batch") && now_ns() - last_sync >= 1000000ull)) {
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

/* ---------------- consumers (W2, W3) ------------------------------------ */

static void ckc(crawllog_consumer_t *c, int rc, const char *what) {
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "FATAL: %s: %s: %s\n", what, crawllog_err_name(rc),
                c ? crawllog_consumer_errmsg(c) : "");
        exit(3);
    }
}

/* A consumer of group "g" on TOPIC, max.poll.records = -b, starting at the
 * beginning of a partition without a committed offset.  assign: no
 * membership, all partitions assigned from CRAWLLOG_OFFSET_BEGINNING. */
static crawllog_consumer_t *consumer_open(crawllog_t *log, const args_t *a, int assign) {
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", maxrec[32];
    snprintf(maxrec, sizeof maxrec, "%d", a->batch);
    const char *props[][2] = {
        {"group.id", "g"}, {"auto.offset.reset", "earliest"}, {"max.poll.records", maxrec}};
    crawllog_conf_t *conf = NULL;
    if (crawllog_conf_new(&conf) != CRAWLLOG_OK) die("crawllog_conf_new");
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        if (crawllog_conf_set(conf, props[i][0], props[i][1], errstr, sizeof errstr) !=
            CRAWLLOG_OK) {
            fprintf(stderr, "FATAL: conf %s=%s: %s\n", props[i][0], props[i][1], errstr);
            exit(2);
        }
    }
    crawllog_consumer_t *c = NULL;
    int rc = crawllog_consumer_new(log, conf, &c, errstr, sizeof errstr);
    crawllog_conf_destroy(conf);
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "FATAL: consumer_new: %s: %s\n", crawllog_err_name(rc), errstr);
        exit(2);
    }
    if (assign) {
        crawllog_topic_partition_t *tp = calloc((size_t)a->partitions, sizeof *tp);
        if (!tp) die("calloc");
        for (int p = 0; p < a->partitions; p++)
            tp[p] = (crawllog_topic_partition_t){TOPIC, p, CRAWLLOG_OFFSET_BEGINNING, NULL};
        ckc(c, crawllog_consumer_assign(c, tp, (size_t)a->partitions), "assign");
        free(tp);
    } else {
        const char *topics[] = {TOPIC};
        ckc(c, crawllog_consumer_subscribe(c, topics, 1), "subscribe");
    }
    return c;
}

static void consumer_done(crawllog_consumer_t *c) {
    ckc(c, crawllog_consumer_close(c), "consumer_close");
    crawllog_consumer_destroy(c);
}

/* Checks one message; adds its key's last digit to *sum; returns the value. */
static const char *check_msg(const crawllog_msg_t *m, uint64_t *sum) {
    size_t kl = 0, vl = 0;
    const char *k = crawllog_msg_key(m, &kl);
    const char *v = crawllog_msg_value(m, &vl);
    if (!k || !v || kl != KEY_LEN || vl != VAL_LEN || memcmp(k, "key-", 4) != 0) {
        fprintf(stderr, "FATAL: bad record at %d/%lld\n", (int)crawllog_msg_partition(m),
                (long long)crawllog_msg_offset(m));
        exit(3);
    }
    *sum += (uint8_t)k[KEY_LEN - 1];
    return v;
}

/* Sum of the group's committed offsets over all partitions (-1 if one has
 * none): the number of messages committed, since every partition starts
 * at offset 0. */
static long committed_total(crawllog_consumer_t *c, int P) {
    long t = 0;
    for (int p = 0; p < P; p++) {
        int64_t off = -1;
        ckc(c, crawllog_consumer_committed(c, TOPIC, p, &off), "committed");
        if (off < 0) return -1;
        t += (long)off;
    }
    return t;
}

/* ---------------- W2 ---------------------------------------------------- */

static int run_w2(args_t *a, crawllog_t *log) {
    args_t setup = *a;
    setup.mode = "none";
    produce(log, &setup, a->msgs, NULL); /* untimed */
    int assign = strstr(a->opt, "assign") != NULL;
    crawllog_consumer_t *c = consumer_open(log, a, assign);
    const crawllog_msg_t **msgs = calloc((size_t)a->batch, sizeof *msgs);
    if (!msgs) die("calloc");
    int always = mode_is(a, "always"), batch = mode_is(a, "batch");
    lat_t lat;
    lat_init(&lat, (size_t)(a->msgs / a->batch + 16));
    long total = 0, polls = 0, durable = 0;
    int idle = 0;
    uint64_t sum = 0;
    uint64_t t0 = now_ns(), last_durable = t0;
    while (total < a->msgs) {
        uint64_t s = now_ns();
        size_t n = 0;
        ckc(c, crawllog_consumer_poll(c, 1000, msgs, (size_t)a->batch, &n), "poll");
        polls++;
        if (n == 0) {
            if (++idle >= 3) break; /* 3 s without a message: some are missing */
            continue;
        }
        idle = 0;
        for (size_t i = 0; i < n; i++) check_msg(msgs[i], &sum);
        total += (long)n;
        int dur = always || (batch && s - last_durable >= 1000000ull);
        ckc(c, crawllog_consumer_commit(c, NULL, dur ? CRAWLLOG_SYNC_DURABLE : CRAWLLOG_SYNC_WRITTEN),
            "commit");
        if (dur) {
            durable++;
            last_durable = now_ns();
        }
        lat_add(&lat, now_ns() - s);
    }
    uint64_t t1 = now_ns();
    long committed = committed_total(c, a->partitions);
    consumer_done(c);
    free(msgs);
    if (total != a->msgs || committed != a->msgs) {
        fprintf(stderr, "W2: consumed %ld, committed %ld, of %ld\n", total, committed, a->msgs);
        free(lat.v);
        return 3;
    }
    char extra[640];
    snprintf(extra, sizeof extra,
             "\"checksum\":%llu,\"polls\":%ld,\"durable_commits\":%ld,\"note\":\"one consumer "
             "of group g (%s), commit of all owned partitions after every poll: none=WRITTEN, "
             "batch=DURABLE if >=1 ms since the last durable one else WRITTEN, always=DURABLE\"",
             (unsigned long long)sum, polls, durable, assign ? "assign" : "subscribe");
    bench_emit(a, total, (double)(t1 - t0) / 1e9, MSG_PAYLOAD, &lat, "batch", extra);
    free(lat.v);
    return 0;
}

/* ---------------- W3 ---------------------------------------------------- */

/* Filled by the consumer (thread or process), read by the producer after
 * the consumer finished.  MAP_SHARED | MAP_ANONYMOUS, so a forked child
 * writes into the parent's memory. */
typedef struct {
    long total;    /* messages the producer sends */
    long received; /* latency samples in lat[] */
    long polls, commits, empty_polls;
    uint64_t sum;
    uint64_t lat[]; /* [total] receive - send, ns */
} w3_shm_t;

typedef struct {
    const args_t *a;
    crawllog_t *log; /* thread: the producer's handle; process: NULL */
    w3_shm_t *sh;
    int ready_fd; /* one byte written once the consumer owns every partition */
} w3_ctx_t;

/* Polls (timeout 0: runs the group sync and resolves the start positions)
 * until the consumer owns all -p partitions at known positions. */
static void w3_wait_assigned(crawllog_consumer_t *c, const crawllog_msg_t **msgs, int P,
                             int batch) {
    uint64_t give_up = now_ns() + 10000000000ull;
    for (;;) {
        size_t n = 0, cnt = 0, known = 0;
        ckc(c, crawllog_consumer_poll(c, 0, msgs, (size_t)batch, &n), "poll");
        if (n) {
            fprintf(stderr, "FATAL: W3: message before the producer started\n");
            exit(3);
        }
        crawllog_topic_partition_t *list = NULL;
        ckc(c, crawllog_consumer_assignment(c, &list, &cnt), "assignment");
        for (size_t i = 0; i < cnt; i++) known += list[i].offset >= 0;
        free(list);
        if ((int)cnt == P && (int)known == P) return;
        if (now_ns() > give_up) {
            fprintf(stderr, "FATAL: W3: consumer got %zu of %d partitions\n", cnt, P);
            exit(3);
        }
        sleep_until_ns(now_ns() + 1000000ull); /* setup only, untimed */
    }
}

static void w3_consume(w3_ctx_t *x) {
    const args_t *a = x->a;
    w3_shm_t *sh = x->sh;
    crawllog_consumer_t *c = consumer_open(x->log, a, 0);
    const crawllog_msg_t **msgs = calloc((size_t)a->batch, sizeof *msgs);
    if (!msgs) die("calloc");
    w3_wait_assigned(c, msgs, a->partitions, a->batch);
    if (write(x->ready_fd, "r", 1) != 1) die("write ready");
    int idle = 0;
    while (sh->received < sh->total) {
        size_t n = 0;
        ckc(c, crawllog_consumer_poll(c, 1000, msgs, (size_t)a->batch, &n), "poll");
        sh->polls++;
        if (n == 0) {
            sh->empty_polls++;
            if (++idle >= 5) break; /* 5 s without a message: some are lost */
            continue;
        }
        idle = 0;
        for (size_t i = 0; i < n; i++) {
            const char *v = check_msg(msgs[i], &sh->sum);
            if (sh->received < sh->total) sh->lat[sh->received] = now_ns() - parse_ts(v);
            sh->received++;
        }
        ckc(c, crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_WRITTEN), "commit");
        sh->commits++;
    }
    consumer_done(c);
    free(msgs);
}

static void *w3_thread(void *arg) {
    w3_consume(arg);
    return NULL;
}

/* W3 batch/always: the producer appends WRITTEN (the consumer sees each
 * message as soon as it is written, like a Kafka consumer reading up to the
 * high watermark), and an acker thread of the producer process makes the
 * writes durable with crawllog_flush(DURABLE): every >= 1 ms (batch) or
 * back to back, as soon as the previous flush returned (always = continuous
 * group commit: one flush covers every message written before it started).
 * A message is acknowledged when a flush that started after its append
 * returned; ack latency = that moment - its send time. */
typedef struct {
    crawllog_t *log;
    int always;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long sent;   /* messages appended (under mu) */
    int stop;    /* producer finished (under mu) */
    uint64_t *send_ts; /* [total] send time of message i */
    lat_t ack;
    long flushes;
} acker_t;

static void *acker_main(void *arg) {
    acker_t *k = arg;
    long acked = 0;
    uint64_t last = 0;
    for (;;) {
        pthread_mutex_lock(&k->mu);
        while (k->sent == acked && !k->stop) pthread_cond_wait(&k->cv, &k->mu);
        long n = k->sent;
        int stop = k->stop;
        pthread_mutex_unlock(&k->mu);
        if (n == acked && stop) break;
        if (!k->always && now_ns() < last + 1000000ull) sleep_until_ns(last + 1000000ull);
        last = now_ns();
        pthread_mutex_lock(&k->mu);
        n = k->sent; /* everything appended before the flush starts */
        pthread_mutex_unlock(&k->mu);
        ckl(k->log, crawllog_flush(k->log, CRAWLLOG_SYNC_DURABLE), "flush durable");
        k->flushes++;
        uint64_t t = now_ns();
        for (long i = acked; i < n; i++) lat_add(&k->ack, t - k->send_ts[i]);
        acked = n;
    }
    return NULL;
}

/* W3 opens the log itself: in process mode the consumer is forked before
 * the parent opens anything (no handle may cross a fork()). */
static int run_w3(args_t *a) {
    int thread = strstr(a->opt, "thread") != NULL;
    long total = (long)((double)a->rate * a->duration);
    size_t shsz = sizeof(w3_shm_t) + (size_t)(total + 1) * sizeof(uint64_t);
    w3_shm_t *sh = mmap(NULL, shsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) die("mmap");
    sh->total = total;
    int rp[2], gp[2]; /* rp: consumer -> producer "ready"; gp: producer -> child "go" */
    if (pipe(rp) || pipe(gp)) die("pipe");
    w3_ctx_t x = {a, NULL, sh, rp[1]};
    pid_t pid = -1;
    pthread_t th;
    if (!thread) {
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) { /* the consumer process */
            close(rp[0]);
            close(gp[1]);
            char b;
            if (read(gp[0], &b, 1) != 1) _exit(2); /* the parent failed to create the topic */
            x.log = open_log(a, 0);
            w3_consume(&x);
            int rc = crawllog_close(x.log);
            _exit(rc == CRAWLLOG_OK ? 0 : 2);
        }
    }
    close(gp[0]);
    crawllog_t *log = open_log(a, 1);
    if (thread) {
        x.log = log;
        if (pthread_create(&th, NULL, w3_thread, &x)) die("pthread_create");
    } else {
        close(rp[1]); /* EOF on rp[0] if the child dies before it is ready */
        if (write(gp[1], "g", 1) != 1) die("write go");
    }
    close(gp[1]);
    char b;
    if (read(rp[0], &b, 1) != 1) {
        fprintf(stderr, "W3: the consumer failed before it was ready\n");
        if (pid > 0) waitpid(pid, NULL, 0);
        return 3;
    }
    char m[MSG_PAYLOAD];
    crawllog_record_t r = {m, KEY_LEN, m + KEY_LEN, VAL_LEN, -1, NULL, 0};
    uint64_t interval = 1000000000ull / (uint64_t)a->rate;
    int durable = !mode_is(a, "none");
    acker_t k;
    memset(&k, 0, sizeof k);
    pthread_t kth;
    if (durable) {
        k.log = log;
        k.always = mode_is(a, "always");
        pthread_mutex_init(&k.mu, NULL);
        pthread_cond_init(&k.cv, NULL);
        k.send_ts = malloc((size_t)(total + 1) * sizeof *k.send_ts);
        if (!k.send_ts) die("malloc");
        lat_init(&k.ack, (size_t)total + 1);
        if (pthread_create(&kth, NULL, acker_main, &k)) die("pthread_create");
    }
    uint64_t t0 = now_ns();
    for (long i = 0; i < total; i++) {
        uint64_t target = t0 + (uint64_t)i * interval;
        if (now_ns() < target) sleep_until_ns(target);
        uint64_t ts = now_ns();
        fmt_key(m, (uint64_t)i);
        fmt_value(m + KEY_LEN, ts, (uint64_t)i);
        ckl(log,
            crawllog_append(log, TOPIC, part_of(m, a->partitions), &r, 1,
                            CRAWLLOG_SYNC_WRITTEN, NULL),
            "append");
        if (durable) {
            k.send_ts[i] = ts;
            pthread_mutex_lock(&k.mu);
            k.sent = i + 1;
            pthread_cond_signal(&k.cv);
            pthread_mutex_unlock(&k.mu);
        }
    }
    uint64_t t_send = now_ns();
    if (durable) {
        pthread_mutex_lock(&k.mu);
        k.stop = 1;
        pthread_cond_signal(&k.cv);
        pthread_mutex_unlock(&k.mu);
        pthread_join(kth, NULL);
    }
    int ok = 1;
    if (thread) {
        pthread_join(th, NULL);
    } else {
        int st = 0;
        if (waitpid(pid, &st, 0) != pid) die("waitpid");
        ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    close(rp[0]);
    int rc = crawllog_close(log);
    if (!ok || rc != CRAWLLOG_OK || sh->received != total) {
        fprintf(stderr, "W3: received %ld of %ld (consumer %s, close %s)\n", sh->received, total,
                ok ? "ok" : "failed", crawllog_err_name(rc));
        munmap(sh, shsz);
        return 3;
    }
    lat_t lat = {sh->lat, (size_t)sh->received, (size_t)total + 1};
    char extra[1024], acks[256] = "";
    if (durable) {
        lat_sort(&k.ack);
        snprintf(acks, sizeof acks,
                 "\"ack_p50_us\":%.1f,\"ack_p99_us\":%.1f,\"ack_p999_us\":%.1f,"
                 "\"acked\":%zu,\"durable_flushes\":%ld,",
                 lat_pct_us(&k.ack, 0.50), lat_pct_us(&k.ack, 0.99), lat_pct_us(&k.ack, 0.999),
                 k.ack.n, k.flushes);
        if ((long)k.ack.n != total) {
            fprintf(stderr, "W3: %zu of %ld messages acked\n", k.ack.n, total);
            munmap(sh, shsz);
            return 3;
        }
    }
    snprintf(extra, sizeof extra,
             "\"target_rate\":%ld,\"received\":%ld,\"consumer\":\"%s\",\"polls\":%ld,"
             "\"empty_polls\":%ld,\"commits\":%ld,\"checksum\":%llu,%s\"note\":\"msg_per_s = "
             "achieved send rate; lat = receive-send; group consumer in another %s blocked in "
             "crawllog_consumer_poll (futex doorbell), commit WRITTEN per poll; appends WRITTEN%s\"",
             a->rate, sh->received, thread ? "thread" : "process", sh->polls, sh->empty_polls,
             sh->commits, (unsigned long long)sh->sum, acks, thread ? "thread" : "process",
             !durable ? ""
             : k.always ? ", acked by an acker thread's back-to-back crawllog_flush(DURABLE) "
                          "(ack_* = send to durable)"
                        : ", acked by an acker thread's crawllog_flush(DURABLE) every >= 1 ms "
                          "(ack_* = send to durable)");
    bench_emit(a, total, (double)(t_send - t0) / 1e9, MSG_PAYLOAD, &lat, "msg", extra);
    if (durable) {
        free(k.send_ts);
        free(k.ack.v);
    }
    munmap(sh, shsz);
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
    if (!strcmp(a.workload, "W3")) return run_w3(&a);
    int P = a.partitions;
    char extra[512];
    crawllog_t *log = open_log(&a, 1);
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
        ret = run_w2(&a, log);
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
