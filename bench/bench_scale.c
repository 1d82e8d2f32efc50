/*
 * bench_scale.c - scaling runs of issue 9 through the public API only
 * (include/crawllog.h): partitions, producer threads, consumer processes in
 * one group, message size.  Driven by bench/run_scaling.sh.
 *
 *   build/bench/bench_scale -x produce|consume|raw [-d DIR] [-p P] [-t T]
 *       [-k K] [-s VALUE_BYTES] [-n N | -B TOTAL_BYTES] [-a 0|1|all]
 *       [-b BATCH] [-w WORK_US] [-R RUN] [-S SWEEP]
 *
 * Message: key "key-%012d" (16 bytes, the message's index 0..N-1) and a
 * value of -s bytes (default 100).  -B gives N = B / (16 + s).  One topic
 * "scale" with -p partitions (default 8) and max.message.bytes 64 MiB (so a
 * 1 MiB message fits in one batch).  -b is the messages per
 * crawllog_producer_send_batch() call, default min(1000, max(1, 1 MiB /
 * (16 + s))).  DIR (default /tmp/crawllog-scale) is wiped and created fresh.
 *
 *  produce  -t threads share one crawllog_producer_t (acks = -a, default 1).
 *           Thread i sends its share of N in batches of -b messages, batch j
 *           going to partition j % P (explicit partition, keyed records).
 *           Timed from the start of the threads until every send returned
 *           and crawllog_producer_flush() returned (acks=0 writes there).
 *           Latency: one send_batch call.
 *  consume  Untimed preload of N messages (acks=1 batches of min(-b, N / P)
 *           messages, partitions in turn) by a forked child, so that the
 *           parent stays small.  Then K consumer processes are forked; each
 *           opens its own crawllog_t (no handle crosses a fork), joins group
 *           "g" subscribed to the topic (auto.offset.reset=earliest,
 *           max.poll.records 1000) and pauses what it is assigned until the
 *           start barrier.  join_ms = from the fork until every member has
 *           subscribed, all report the same generation and the P partitions
 *           are spread evenly (P/K or P/K+1 each).  Then the parent releases
 *           them (timing starts; a member sees it within 1 ms, its
 *           join-phase poll timeout): poll up to 1000 messages, check each
 *           (key prefix and length, value length), sleep work_us x messages
 *           when -w (an I/O-bound crawler), commit (CRAWLLOG_SYNC_WRITTEN,
 *           every owned partition) after every poll.  A MAP_SHARED bitmap
 *           of N bits, set after the commit, counts each index consumed
 *           once: unique and duplicates (a message a killed member had not
 *           committed is not a duplicate when it comes again).  The clock
 *           stops when unique reaches N (the member that got there records
 *           the time).  Latency: poll + checks + commit of a poll that
 *           returned messages (the -w sleep is not included).  Exit 3 if
 *           unique < N (no progress for 30 s) or any process failed.
 *           Members exit when the parent is gone.  SCALE_DEBUG=1: one
 *           stderr line per poll and per rebalance event.
 *  raw      The page-cache ceiling for the size sweep: the same records
 *           (8-byte header + key + value) written with plain write(2) in
 *           ~1 MiB writes (max(1 MiB, one record)) to one file per
 *           partition, batches of -b records per partition in turn; then
 *           read back with pread(2) in 1 MiB reads and checked.  Prints TWO
 *           lines (op produce, then op consume), system "raw".  Latency: one
 *           write / one pread.
 *
 * Output: one JSON line per run (two for raw) on stdout, diagnostics on
 * stderr.  Latency percentiles come from a log-linear histogram (32
 * sub-buckets per power of two: +-1.6 %); max is exact.  mb_per_s counts
 * key + value bytes, 1 MB = 1e6 bytes.  peak_rss_kb = max ru_maxrss of the
 * measured processes: produce/raw: the process; consume: the parent and
 * the K consumers (each reports its own RUSAGE_SELF before it exits); the
 * preload child's is reported apart as preload_rss_kb.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crawllog.h"

#define KEY_LEN 16
#define TOPIC "scale"
#define MIB (1024L * 1024L)
#define MAXK 256
#define HSUB 32
#define HBUCKETS (60 * HSUB)
#define POLL_MAX 1000

struct hist {
    _Atomic uint64_t b[HBUCKETS];
    _Atomic uint64_t max;
};

struct opts {
    const char *mode, *dir, *acks, *sweep, *run;
    long parts, threads, consumers, vsize, n, batch, work_us;
};

/* Shared by the parent and its forked children (MAP_SHARED). */
struct shm {
    _Atomic int joined, go, failed; /* go: 1 start, 2 abort */
    _Atomic long unique, dups;
    _Atomic uint64_t t_end, last_progress;
    _Atomic long rss_max, preload_rss;
    struct {
        _Atomic int gen, nparts;
    } m[MAXK];
    struct hist h;
    _Atomic uint64_t bits[]; /* N bits: message index seen */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void fail(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "bench_scale[%d]: %s: %s: %s\n", (int)getpid(), what,
            rc ? crawllog_err_name(rc) : strerror(errno), msg ? msg : "");
    exit(3);
}

static long rss_self_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void atomic_max(_Atomic long *p, long v)
{
    long cur = atomic_load(p);
    while (v > cur && !atomic_compare_exchange_weak(p, &cur, v)) {
    }
}

/* ---- latency histogram -------------------------------------------------- */

static void hist_add(struct hist *h, uint64_t ns)
{
    int idx = (int)ns;
    if (ns >= HSUB) {
        int e = 63 - __builtin_clzll(ns); /* >= 5 */
        idx = (e - 4) * HSUB + (int)((ns >> (e - 5)) - HSUB);
    }
    if (idx >= HBUCKETS) {
        idx = HBUCKETS - 1;
    }
    atomic_fetch_add_explicit(&h->b[idx], 1, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&h->max, memory_order_relaxed);
    while (ns > cur && !atomic_compare_exchange_weak(&h->max, &cur, ns)) {
    }
}

/* Midpoint (in us) of the bucket holding the q-quantile. */
static double hist_q(struct hist *h, double q)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i < HBUCKETS; i++) {
        total += atomic_load(&h->b[i]);
    }
    uint64_t rank = (uint64_t)(q * (double)total + 0.999999);
    rank = rank < 1 ? 1 : rank;
    for (int i = 0; i < HBUCKETS && total > 0; i++) {
        seen += atomic_load(&h->b[i]);
        if (seen >= rank) {
            if (i < HSUB) {
                return (double)i / 1000.0;
            }
            int e = i / HSUB + 4;
            double lo = (double)((uint64_t)(HSUB + i % HSUB) << (e - 5));
            double mid = lo + (double)(1ull << (e - 5)) / 2.0;
            double mx = (double)atomic_load(&h->max);
            return (mid < mx ? mid : mx) / 1000.0; /* never above max */
        }
    }
    return 0.0;
}

/* ---- helpers ------------------------------------------------------------ */

static void make_key(char *key, long i)
{
    memcpy(key, "key-", 4);
    for (int d = KEY_LEN - 1; d >= 4; d--) {
        key[d] = (char)('0' + i % 10);
        i /= 10;
    }
}

/* The index in a key, -1 if it is not "key-" + 12 digits. */
static long key_index(const char *k, size_t len)
{
    if (k == NULL || len != KEY_LEN || memcmp(k, "key-", 4) != 0) {
        return -1;
    }
    long i = 0;
    for (int d = 4; d < KEY_LEN; d++) {
        if (k[d] < '0' || k[d] > '9') {
            return -1;
        }
        i = i * 10 + (k[d] - '0');
    }
    return i;
}

static void set_conf(crawllog_conf_t *c, const char *name, const char *val)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_conf_set(c, name, val, err, sizeof(err));
    if (rc != 0) {
        fail(name, rc, err);
    }
}

static void fresh_dir(const char *dir)
{
    char cmd[8400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) {
        fail("fresh data directory", 0, dir);
    }
}

static crawllog_t *open_log(const char *dir, long parts)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    crawllog_t *log;
    int rc = crawllog_open(&log, dir, NULL, err, sizeof(err));
    if (rc != 0) {
        fail("open", rc, err);
    }
    if (parts > 0) {
        crawllog_conf_t *tc;
        if ((rc = crawllog_conf_new(&tc)) != 0) {
            fail("conf", rc, NULL);
        }
        set_conf(tc, "max.message.bytes", "67108864");
        rc = crawllog_topic_create(log, TOPIC, (int32_t)parts, tc);
        crawllog_conf_destroy(tc);
        if (rc != 0) {
            fail("topic_create", rc, crawllog_errmsg(log));
        }
    }
    return log;
}

static void print_line(const struct opts *o, const char *sys, const char *op,
                       long n, double secs, struct hist *h, double join_ms,
                       long dups, long rss, long preload_rss)
{
    double bytes = (double)n * (double)(KEY_LEN + o->vsize);
    printf("{\"bench\":\"scale\",\"sweep\":\"%s\",\"system\":\"%s\","
           "\"op\":\"%s\",\"partitions\":%ld,\"threads\":%ld,"
           "\"consumers\":%ld,\"work_us\":%ld,\"msg_bytes\":%ld,"
           "\"acks\":\"%s\",\"batch\":%ld,\"msgs\":%ld,\"secs\":%.4f,"
           "\"msg_per_s\":%.1f,\"mb_per_s\":%.2f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"max_us\":%.1f,",
           o->sweep, sys, op, o->parts, o->threads, o->consumers, o->work_us,
           KEY_LEN + o->vsize, o->acks, o->batch, n, secs, (double)n / secs,
           bytes / 1e6 / secs, hist_q(h, 0.50), hist_q(h, 0.99),
           (double)atomic_load(&h->max) / 1000.0);
    if (join_ms >= 0) {
        printf("\"join_ms\":%.1f,", join_ms);
    }
    if (preload_rss >= 0) {
        printf("\"preload_rss_kb\":%ld,", preload_rss);
    }
    printf("\"duplicates\":%ld,\"peak_rss_kb\":%ld,\"run\":\"%s\"}\n", dups,
           rss, o->run);
    fflush(stdout);
}

/* ---- produce ------------------------------------------------------------ */

struct pworker {
    const struct opts *o;
    crawllog_producer_t *prod;
    const char *val;
    long first, n;
    struct hist *h;
};

static void *pwork(void *arg)
{
    struct pworker *w = arg;
    long b = w->o->batch;
    char(*keys)[KEY_LEN] = malloc((size_t)b * KEY_LEN);
    crawllog_record_t *recs = malloc((size_t)b * sizeof(*recs));
    if (keys == NULL || recs == NULL) {
        fail("malloc", CRAWLLOG_ENOMEM, NULL);
    }
    for (long i = 0; i < w->n; i += b) {
        long cnt = w->n - i < b ? w->n - i : b;
        for (long j = 0; j < cnt; j++) {
            make_key(keys[j], w->first + i + j);
            recs[j] = (crawllog_record_t){
                keys[j], KEY_LEN, w->val, (size_t)w->o->vsize, -1, NULL, 0};
        }
        int32_t part = (int32_t)(((w->first + i) / b) % w->o->parts);
        uint64_t t0 = now_ns();
        int rc = crawllog_producer_send_batch(w->prod, TOPIC, part, recs,
                                              (size_t)cnt, NULL);
        if (w->h != NULL) {
            hist_add(w->h, now_ns() - t0);
        }
        if (rc != 0) {
            fail("send_batch", rc, crawllog_producer_errmsg(w->prod));
        }
    }
    free(keys);
    free(recs);
    return NULL;
}

/* Sends N messages with -t threads; h NULL: untimed preload. */
static double produce(const struct opts *o, crawllog_t *log, struct hist *h)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    crawllog_conf_t *conf;
    crawllog_producer_t *prod;
    int rc = crawllog_conf_new(&conf);
    if (rc != 0) {
        fail("conf", rc, NULL);
    }
    set_conf(conf, "acks", h ? o->acks : "1");
    if ((rc = crawllog_producer_new(log, conf, &prod, err, sizeof(err)))) {
        fail("producer_new", rc, err);
    }
    crawllog_conf_destroy(conf);
    char *val = malloc((size_t)o->vsize + 1);
    long T = h ? o->threads : 1;
    struct pworker *w = calloc((size_t)T, sizeof(*w));
    pthread_t *th = calloc((size_t)T, sizeof(*th));
    if (val == NULL || w == NULL || th == NULL) {
        fail("malloc", CRAWLLOG_ENOMEM, NULL);
    }
    memset(val, 'v', (size_t)o->vsize + 1);
    /* Shares in whole batches, so batch j of the run goes to j % P. */
    long nb = (o->n + o->batch - 1) / o->batch, first = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < T; i++) {
        long share = (nb / T + (i < nb % T)) * o->batch;
        share = first + share > o->n ? o->n - first : share;
        w[i] = (struct pworker){o, prod, val, first, share, h};
        first += share;
        if (pthread_create(&th[i], NULL, pwork, &w[i]) != 0) {
            fail("pthread_create", CRAWLLOG_ENOMEM, NULL);
        }
    }
    for (long i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
    }
    if ((rc = crawllog_producer_flush(prod, -1)) != 0) {
        fail("flush", rc, crawllog_producer_errmsg(prod));
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    if ((rc = crawllog_producer_destroy(prod)) != 0) {
        fail("producer_destroy", rc, NULL);
    }
    free(val);
    free(w);
    free(th);
    return secs;
}

/* ---- consume ------------------------------------------------------------ */

struct member {
    crawllog_consumer_t *c;
    int joining;
};

static void on_rebalance(crawllog_consumer_t *c, int event,
                         const crawllog_topic_partition_t *parts, size_t count,
                         void *opaque)
{
    struct member *m = opaque;
    if (getenv("SCALE_DEBUG")) {
        for (size_t i = 0; i < count; i++) {
            fprintf(stderr, "[%d] rebalance event %d: partition %d at %lld\n",
                    (int)getpid(), event, (int)parts[i].partition,
                    (long long)parts[i].offset);
        }
    }
    if (event == CRAWLLOG_REBALANCE_ASSIGNED && m->joining && count > 0) {
        int rc = crawllog_consumer_pause(c, parts, count);
        if (rc != 0) {
            fail("pause", rc, crawllog_consumer_errmsg(c));
        }
    }
}

static void cfail(struct shm *sh, crawllog_consumer_t *c, const char *what,
                  int rc)
{
    atomic_store(&sh->failed, 1);
    if (rc == 0) { /* not an error of the library: said above */
        fprintf(stderr, "bench_scale[%d]: %s\n", (int)getpid(), what);
        exit(3);
    }
    fail(what, rc, c ? crawllog_consumer_errmsg(c) : NULL);
}

/* One consumer process, member number id, forked by parent (it stops
 * when the parent is gone). */
static void consumer_main(const struct opts *o, struct shm *sh, int id,
                          pid_t parent)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    crawllog_t *log = open_log(o->dir, 0);
    crawllog_conf_t *conf;
    struct member mb = {NULL, 1};
    int rc = crawllog_conf_new(&conf);
    if (rc != 0) {
        cfail(sh, NULL, "conf", rc);
    }
    set_conf(conf, "group.id", "g");
    set_conf(conf, "auto.offset.reset", "earliest");
    set_conf(conf, "max.poll.records", "1000");
    set_conf(conf, "enable.auto.commit", "false");
    if ((rc = crawllog_consumer_new(log, conf, &mb.c, err, sizeof(err)))) {
        atomic_store(&sh->failed, 1);
        fail("consumer_new", rc, err);
    }
    crawllog_conf_destroy(conf);
    crawllog_consumer_t *c = mb.c;
    const char *topics[] = {TOPIC};
    if ((rc = crawllog_consumer_set_rebalance_cb(c, on_rebalance, &mb)) ||
        (rc = crawllog_consumer_subscribe(c, topics, 1))) {
        cfail(sh, c, "subscribe", rc);
    }
    atomic_fetch_add(&sh->joined, 1);
    const crawllog_msg_t *msgs[POLL_MAX];
    size_t n = 0;
    while (atomic_load(&sh->go) == 0) { /* join: everything stays paused */
        if (getppid() != parent) {
            cfail(sh, c, "parent gone", 0);
        }
        if ((rc = crawllog_consumer_poll(c, 1, msgs, POLL_MAX, &n))) {
            cfail(sh, c, "poll (join)", rc);
        }
        crawllog_topic_partition_t *list = NULL;
        size_t cnt = 0;
        if ((rc = crawllog_consumer_assignment(c, &list, &cnt))) {
            cfail(sh, c, "assignment", rc);
        }
        if (n > 0) {
            fprintf(stderr,
                    "bench_scale: member %d: %zu messages while "
                    "paused\n",
                    id, n);
            cfail(sh, c, "join", 0);
        }
        atomic_store(&sh->m[id].nparts, (int)cnt);
        atomic_store(&sh->m[id].gen, crawllog_consumer_generation(c));
        if (atomic_load(&sh->go) == 1) { /* resume what we own */
            mb.joining = 0;
            if (cnt > 0 && (rc = crawllog_consumer_resume(c, list, cnt))) {
                cfail(sh, c, "resume", rc);
            }
        }
        free(list);
    }
    if (atomic_load(&sh->go) != 1) {
        _exit(4);
    }
    long total = o->n;
    int debug = getenv("SCALE_DEBUG") != NULL;
    while (atomic_load(&sh->unique) < total && !atomic_load(&sh->failed)) {
        uint64_t t0 = now_ns();
        if ((rc = crawllog_consumer_poll(c, 100, msgs, POLL_MAX, &n))) {
            cfail(sh, c, "poll", rc);
        }
        if (getppid() != parent) {
            cfail(sh, c, "parent gone", 0);
        }
        if (n == 0) {
            if (t0 > atomic_load(&sh->last_progress) + 30000000000ull) {
                fprintf(stderr,
                        "bench_scale: member %d: no progress for 30 "
                        "s (%ld of %ld)\n",
                        id, atomic_load(&sh->unique), total);
                cfail(sh, c, "stalled", 0);
            }
            continue;
        }
        long fresh = 0, dups = 0, idxs[POLL_MAX];
        for (size_t i = 0; i < n; i++) {
            size_t kl = 0, vl = 0;
            const char *k = crawllog_msg_key(msgs[i], &kl);
            const char *v = crawllog_msg_value(msgs[i], &vl);
            long idx = key_index(k, kl);
            if (idx < 0 || idx >= total || v == NULL ||
                vl != (size_t)o->vsize || v[0] != 'v') {
                fprintf(stderr, "bench_scale: bad message %d/%lld\n",
                        (int)crawllog_msg_partition(msgs[i]),
                        (long long)crawllog_msg_offset(msgs[i]));
                cfail(sh, c, "check", 0);
            }
            idxs[i] = idx;
        }
        uint64_t t_work = now_ns();
        if (debug) { /* SCALE_DEBUG=1: one stderr line per poll */
            fprintf(stderr, "m%d t=%.3f n=%zu gen=%d fresh=%ld\n", id,
                    (double)(t_work % 100000000000ull) / 1e9, n,
                    crawllog_consumer_generation(c), fresh);
        }
        if (o->work_us > 0) {
            sleep_ns((uint64_t)o->work_us * 1000u * n);
        }
        uint64_t t_commit = now_ns();
        if ((rc = crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_WRITTEN))) {
            cfail(sh, c, "commit", rc);
        }
        uint64_t t1 = now_ns();
        hist_add(&sh->h, (t_work - t0) + (t1 - t_commit));
        /* Consumed = processed and committed: a message a dead member had
         * not committed yet is not a duplicate when it comes again. */
        for (size_t i = 0; i < n; i++) {
            uint64_t bit = 1ull << (idxs[i] % 64);
            if (atomic_fetch_or(&sh->bits[idxs[i] / 64], bit) & bit) {
                dups++;
            } else {
                fresh++;
            }
        }
        atomic_fetch_add(&sh->dups, dups);
        long u = atomic_fetch_add(&sh->unique, fresh) + fresh;
        atomic_store(&sh->last_progress, t1);
        if (u >= total && u - fresh < total) {
            atomic_store(&sh->t_end, t1);
        }
    }
    if ((rc = crawllog_consumer_close(c)) != 0) {
        cfail(sh, c, "consumer_close", rc);
    }
    crawllog_consumer_destroy(c);
    if ((rc = crawllog_close(log)) != 0) {
        cfail(sh, NULL, "close", rc);
    }
    atomic_max(&sh->rss_max, rss_self_kb());
    fflush(stderr);
    _exit(atomic_load(&sh->failed) ? 3 : 0);
}

/* 1 when every member is in, at one generation, and the P partitions are
 * spread evenly (P / K or P / K + 1 each).  Evenly, not just "adding up to
 * P": cooperative-sticky rebalances in two steps, and after the first one
 * the first member still owns everything. */
static int group_ready(const struct opts *o, struct shm *sh)
{
    if (atomic_load(&sh->joined) < o->consumers) {
        return 0;
    }
    int gen = atomic_load(&sh->m[0].gen);
    long parts = 0, lo = o->parts / o->consumers;
    long hi = lo + (o->parts % o->consumers != 0);
    for (long i = 0; i < o->consumers; i++) {
        long np = atomic_load(&sh->m[i].nparts);
        if (atomic_load(&sh->m[i].gen) != gen || gen < 0 || np < lo ||
            np > hi) {
            return 0;
        }
        parts += np;
    }
    return parts == o->parts;
}

static int run_consume(const struct opts *o)
{
    size_t words = (size_t)(o->n + 63) / 64;
    size_t sz = sizeof(struct shm) + words * sizeof(uint64_t);
    struct shm *sh = mmap(NULL, sz, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        fail("mmap", 0, NULL);
    }
    for (int i = 0; i < MAXK; i++) {
        atomic_store(&sh->m[i].gen, -1);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork(); /* the preload */
    if (pid == 0) {
        /* Batches of at most N / P, so that every partition gets data. */
        struct opts pre = *o;
        long even = (o->n + o->parts - 1) / o->parts;
        pre.batch = even < o->batch ? even : o->batch;
        crawllog_t *log = open_log(o->dir, o->parts);
        produce(&pre, log, NULL);
        int rc = crawllog_close(log);
        atomic_store(&sh->preload_rss, rss_self_kb());
        _exit(rc == 0 ? 0 : 3);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_scale: preload failed\n");
        return 3;
    }
    pid_t kids[MAXK], me = getpid();
    uint64_t t_fork = now_ns();
    for (int i = 0; i < o->consumers; i++) {
        if ((kids[i] = fork()) == 0) {
            consumer_main(o, sh, i, me);
        }
        if (kids[i] < 0) {
            fail("fork", 0, NULL);
        }
    }
    int ok = 1, alive = (int)o->consumers;
    while (!group_ready(o, sh)) {
        pid_t d = waitpid(-1, &st, WNOHANG);
        if (d > 0 || atomic_load(&sh->failed) ||
            now_ns() - t_fork > 120000000000ull) {
            fprintf(stderr, "bench_scale: group never formed\n");
            alive -= d > 0;
            ok = 0;
            atomic_store(&sh->go, 2);
            break;
        }
        sleep_ns(200000);
    }
    uint64_t t0 = now_ns();
    double join_ms = (double)(t0 - t_fork) / 1e6;
    atomic_store(&sh->last_progress, t0);
    if (ok) {
        atomic_store(&sh->go, 1);
    }
    for (int i = 0; i < alive; i++) {
        pid_t d = wait(&st);
        if (d < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            ok = 0;
            fprintf(stderr, "bench_scale: consumer %d ended badly (%d)\n",
                    (int)d, st);
        }
    }
    long unique = atomic_load(&sh->unique), dups = atomic_load(&sh->dups);
    fprintf(stderr,
            "bench_scale: consumed %ld unique + %ld duplicates of "
            "%ld, join %.1f ms\n",
            unique, dups, o->n, join_ms);
    if (!ok || unique < o->n) {
        return 3;
    }
    long rss = atomic_load(&sh->rss_max);
    long self = rss_self_kb();
    double secs = (double)(atomic_load(&sh->t_end) - t0) / 1e9;
    print_line(o, "crawllog", "consume", o->n, secs, &sh->h, join_ms, dups,
               rss > self ? rss : self, atomic_load(&sh->preload_rss));
    munmap(sh, sz);
    return 0;
}

/* ---- raw ceiling -------------------------------------------------------- */

static int run_raw(const struct opts *o)
{
    long rec = 8 + KEY_LEN + o->vsize;
    long cap = rec > MIB ? rec : MIB;
    long P = o->parts;
    int *fd = calloc((size_t)P, sizeof(int));
    long *used = calloc((size_t)P, sizeof(long));
    char **buf = calloc((size_t)P, sizeof(char *));
    struct hist *hw = calloc(1, sizeof(*hw)), *hr = calloc(1, sizeof(*hr));
    if (!fd || !used || !buf || !hw || !hr) {
        fail("malloc", CRAWLLOG_ENOMEM, NULL);
    }
    char path[4200];
    for (long p = 0; p < P; p++) {
        snprintf(path, sizeof(path), "%s/raw-%ld", o->dir, p);
        fd[p] = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
        if (fd[p] < 0 || (buf[p] = malloc((size_t)cap)) == NULL) {
            fail("open raw file", 0, path);
        }
    }
    uint64_t t0 = now_ns();
    for (long i = 0; i <= o->n; i++) {
        long p = (i / o->batch) % P;
        for (long q = 0; q < P; q++) { /* i == n: flush every buffer */
            if ((i < o->n && q != p) || (used[q] + rec <= cap && i < o->n)) {
                continue;
            }
            uint64_t w0 = now_ns();
            if (used[q] > 0 &&
                write(fd[q], buf[q], (size_t)used[q]) != used[q]) {
                fail("write", 0, NULL);
            }
            if (used[q] > 0) {
                hist_add(hw, now_ns() - w0);
            }
            used[q] = 0;
        }
        if (i == o->n) {
            break;
        }
        char *r = buf[p] + used[p];
        uint32_t hdr[2] = {(uint32_t)(KEY_LEN + o->vsize), (uint32_t)i};
        memcpy(r, hdr, 8);
        make_key(r + 8, i);
        memset(r + 8 + KEY_LEN, 'v', (size_t)o->vsize);
        used[p] += rec;
    }
    double wsecs = (double)(now_ns() - t0) / 1e9;
    long rss = rss_self_kb();
    print_line(o, "raw", "produce", o->n, wsecs, hw, -1, 0, rss, -1);
    long seen = 0;
    t0 = now_ns();
    for (long p = 0; p < P; p++) {
        off_t off = 0;
        for (;;) {
            uint64_t r0 = now_ns();
            ssize_t got = pread(fd[p], buf[0], (size_t)cap, off);
            hist_add(hr, now_ns() - r0);
            if (got < 0) {
                fail("pread", 0, NULL);
            }
            long at = 0;
            while (at + rec <= got) {
                uint32_t hdr[2];
                memcpy(hdr, buf[0] + at, 8);
                if (hdr[0] != (uint32_t)(KEY_LEN + o->vsize) ||
                    key_index(buf[0] + at + 8, KEY_LEN) < 0 ||
                    buf[0][at + 8 + KEY_LEN] != 'v') {
                    fail("raw record check", CRAWLLOG_ECORRUPT, NULL);
                }
                seen++;
                at += rec;
            }
            if (got < cap) {
                break;
            }
            off += at;
        }
    }
    double rsecs = (double)(now_ns() - t0) / 1e9;
    if (seen != o->n) {
        fprintf(stderr, "bench_scale: raw read %ld of %ld\n", seen, o->n);
        return 3;
    }
    rss = rss_self_kb();
    print_line(o, "raw", "consume", o->n, rsecs, hr, -1, 0, rss, -1);
    for (long p = 0; p < P; p++) {
        close(fd[p]);
        free(buf[p]);
    }
    free(fd);
    free(used);
    free(buf);
    free(hw);
    free(hr);
    return 0;
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct opts o = {
        "produce", "/tmp/crawllog-scale", "1", "", "0", 8, 1, 1, 100, 100000, 0,
        0};
    long total_bytes = 0;
    int opt;
    while ((opt = getopt(argc, argv, "x:d:p:t:k:s:n:B:a:b:w:R:S:")) != -1) {
        /* clang-format off */
        switch (opt) {
        case 'x': o.mode = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'p': o.parts = atol(optarg); break;
        case 't': o.threads = atol(optarg); break;
        case 'k': o.consumers = atol(optarg); break;
        case 's': o.vsize = atol(optarg); break;
        case 'n': o.n = atol(optarg); break;
        case 'B': total_bytes = atol(optarg); break;
        case 'a': o.acks = optarg; break;
        case 'b': o.batch = atol(optarg); break;
        case 'w': o.work_us = atol(optarg); break;
        case 'R': o.run = optarg; break;
        case 'S': o.sweep = optarg; break;
        default:
            fprintf(stderr, "usage: %s -x produce|consume|raw [-d DIR] [-p P] "
                            "[-t T] [-k K] [-s BYTES] [-n N | -B BYTES] "
                            "[-a 0|1|all] [-b B] [-w US] [-R RUN] "
                            "[-S SWEEP]\n", argv[0]);
            return 2;
        }
        /* clang-format on */
    }
    if (total_bytes > 0 && o.vsize >= 0) {
        o.n = total_bytes / (KEY_LEN + o.vsize);
    }
    if (o.batch == 0) {
        o.batch = MIB / (KEY_LEN + o.vsize);
        o.batch = o.batch < 1 ? 1 : o.batch > 1000 ? 1000 : o.batch;
    }
    if (o.n < 1 || o.parts < 1 || o.threads < 1 || o.threads > 256 ||
        o.consumers < 1 || o.consumers > MAXK || o.vsize < 1 || o.batch < 1 ||
        o.work_us < 0 || o.n > 999999999999L) {
        fprintf(stderr, "bench_scale: bad -n, -p, -t, -k, -s, -b or -w\n");
        return 2;
    }
    fresh_dir(o.dir);
    if (strcmp(o.mode, "raw") == 0) {
        return run_raw(&o);
    }
    if (strcmp(o.mode, "consume") == 0) {
        return run_consume(&o);
    }
    if (strcmp(o.mode, "produce") != 0) {
        fprintf(stderr, "bench_scale: -x produce|consume|raw\n");
        return 2;
    }
    struct hist *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        fail("malloc", CRAWLLOG_ENOMEM, NULL);
    }
    crawllog_t *log = open_log(o.dir, o.parts);
    double secs = produce(&o, log, h);
    int rc = crawllog_close(log);
    if (rc != 0) {
        fail("close", rc, NULL);
    }
    print_line(&o, "crawllog", "produce", o.n, secs, h, -1, 0, rss_self_kb(),
               -1);
    free(h);
    return 0;
}
