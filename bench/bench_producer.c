/*
 * bench_producer.c - producer throughput and latency (issue 3's targets),
 * through the public API only.
 *
 * Workload: 116-byte messages (16-byte key "key-%012d" + 100-byte value,
 * the peers harness's message) sent with crawllog_producer_send(), keyed
 * (murmur2 over -p partitions, default 8), one message per call, by -t
 * threads (default 1) sharing one producer with acks = -a (0, 1 or all).
 * With -b B, each call is crawllog_producer_send_batch() of B messages to
 * one partition (partitions taken in turn).  acks=0 ends with a flush
 * (included in the time).  -I false turns idempotence off.  Prints one
 * JSON line: messages, seconds, msg/s and the per-call latency p50/p99 in
 * us (for single acks=0 sends from a 1-in-64 sample).
 *
 *   build/bench/bench_producer -a 0|1|all [-n N] [-t T] [-p P] [-b B]
 *                              [-d DIR] [-L linger.ms] [-S batch.size]
 *                              [-I true|false]
 *
 * The data directory (default /tmp/crawllog-bench-producer) is wiped
 * first.  Run by hand.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "crawllog.h"

#define KEY_LEN 16
#define VAL_LEN 100

struct worker {
    crawllog_producer_t *prod;
    long batch;    /* messages per call (1: crawllog_producer_send) */
    long parts;
    long first, n;
    long every;    /* time one send in every this many */
    uint64_t *lat; /* n / every latencies in ns */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "bench_producer: %s: %s: %s\n", what,
            crawllog_err_name(rc), msg);
    exit(2);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* "key-%012ld" without stdio (snprintf would cost as much as a send). */
static void make_key(char *key, long i)
{
    memcpy(key, "key-", 4);
    for (int d = KEY_LEN - 1; d >= 4; d--) {
        key[d] = (char)('0' + i % 10);
        i /= 10;
    }
}

/* Calls of w->batch records, each to the next partition in turn. */
static void *work_batches(struct worker *w)
{
    char(*keys)[KEY_LEN + 1] = malloc((size_t)w->batch * sizeof(*keys));
    crawllog_record_t *recs = malloc((size_t)w->batch * sizeof(*recs));
    char val[VAL_LEN];
    memset(val, 'v', sizeof(val));
    if (keys == NULL || recs == NULL) {
        die("malloc", CRAWLLOG_ENOMEM, "");
    }
    for (long c = 0; c < w->n / w->batch; c++) {
        for (long j = 0; j < w->batch; j++) {
            make_key(keys[j], w->first + c * w->batch + j);
            recs[j] = (crawllog_record_t){keys[j], KEY_LEN, val, VAL_LEN, -1,
                                          NULL, 0};
        }
        uint64_t t0 = now_ns();
        int rc = crawllog_producer_send_batch(
            w->prod, "bench", (int32_t)((w->first / w->batch + c) % w->parts),
            recs, (size_t)w->batch, NULL);
        w->lat[c] = now_ns() - t0;
        if (rc != 0) {
            die("send_batch", rc, crawllog_producer_errmsg(w->prod));
        }
    }
    free(keys);
    free(recs);
    return NULL;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    char key[KEY_LEN + 1], val[VAL_LEN];
    if (w->batch > 1) {
        return work_batches(w);
    }
    memset(val, 'v', sizeof(val));
    for (long i = 0; i < w->n; i++) {
        make_key(key, w->first + i);
        int timed = i % w->every == 0;
        uint64_t t0 = timed ? now_ns() : 0;
        int rc = crawllog_producer_send(w->prod, "bench",
                                        CRAWLLOG_PARTITION_ANY, key, KEY_LEN,
                                        val, VAL_LEN, NULL, 0, NULL);
        if (timed) {
            w->lat[i / w->every] = now_ns() - t0;
        }
        if (rc != 0) {
            die("send", rc, crawllog_producer_errmsg(w->prod));
        }
    }
    return NULL;
}

static void set(crawllog_conf_t *conf, const char *name, const char *value)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_conf_set(conf, name, value, errstr, sizeof(errstr));
    if (rc != 0) {
        die(name, rc, errstr);
    }
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/crawllog-bench-producer", *acks = "all";
    const char *linger = "5", *bsize = "16384", *idem = "true";
    long n = 100000, threads = 1, parts = 8, batch = 1;
    int opt;
    while ((opt = getopt(argc, argv, "a:n:t:p:b:d:L:S:I:")) != -1) {
        switch (opt) {
        case 'a': acks = optarg; break;
        case 'n': n = atol(optarg); break;
        case 't': threads = atol(optarg); break;
        case 'p': parts = atol(optarg); break;
        case 'd': dir = optarg; break;
        case 'L': linger = optarg; break;
        case 'S': bsize = optarg; break;
        case 'b': batch = atol(optarg); break;
        case 'I': idem = optarg; break;
        default:
            fprintf(stderr, "usage: %s -a 0|1|all [-n N] [-t T] [-p P] "
                            "[-d DIR] [-L ms] [-S bytes]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || threads < 1 || threads > 256 || parts < 1 || batch < 1) {
        fprintf(stderr, "bench_producer: bad -n, -t, -p or -b\n");
        return 2;
    }
    char cmd[4200], errstr[CRAWLLOG_ERRSTR_SIZE];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        return 2;
    }
    crawllog_t *log;
    crawllog_conf_t *conf;
    crawllog_producer_t *prod;
    int rc = crawllog_open(&log, dir, NULL, errstr, sizeof(errstr));
    if (rc != 0) {
        die("open", rc, errstr);
    }
    if ((rc = crawllog_topic_create(log, "bench", (int32_t)parts, NULL))) {
        die("topic", rc, crawllog_errmsg(log));
    }
    if ((rc = crawllog_conf_new(&conf)) != 0) {
        die("conf", rc, "");
    }
    set(conf, "acks", acks);
    set(conf, "linger.ms", linger);
    set(conf, "batch.size", bsize);
    set(conf, "enable.idempotence", idem);
    rc = crawllog_producer_new(log, conf, &prod, errstr, sizeof(errstr));
    if (rc != 0) {
        die("producer", rc, errstr);
    }
    crawllog_conf_destroy(conf);

    /* acks=0 sends take well under a microsecond: time a sample only. */
    long every = batch > 1 ? batch : strcmp(acks, "0") == 0 ? 64 : 1;
    long per = n / threads / every * every;
    n = per * threads;
    if (n < 1) {
        fprintf(stderr, "bench_producer: -n too small\n");
        return 2;
    }
    long nlat = n / every;
    uint64_t *lat = malloc((size_t)nlat * sizeof(*lat));
    struct worker *w = calloc((size_t)threads, sizeof(*w));
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    if (lat == NULL || w == NULL || th == NULL) {
        die("malloc", CRAWLLOG_ENOMEM, "");
    }
    uint64_t t0 = now_ns();
    for (long i = 0; i < threads; i++) {
        w[i] = (struct worker){prod, batch, parts, i * per, per, every,
                               lat + i * (per / every)};
        if (pthread_create(&th[i], NULL, work, &w[i]) != 0) {
            die("pthread_create", CRAWLLOG_ENOMEM, "");
        }
    }
    for (long i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
    }
    if ((rc = crawllog_producer_flush(prod, -1)) != 0) {
        die("flush", rc, crawllog_producer_errmsg(prod));
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    qsort(lat, (size_t)nlat, sizeof(*lat), cmp_u64);
    struct rusage ru; /* peak RSS (kB); no children are forked */
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"bench\":\"producer\",\"acks\":\"%s\",\"threads\":%ld,"
           "\"partitions\":%ld,\"batch\":%ld,\"idempotence\":%s,"
           "\"messages\":%ld,\"seconds\":%.3f,"
           "\"msg_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"peak_rss_kb\":%ld}\n",
           acks, threads, parts, batch, idem, n, secs, (double)n / secs,
           (double)lat[(size_t)((double)(nlat - 1) * 0.50)] / 1000.0,
           (double)lat[(size_t)((double)(nlat - 1) * 0.99)] / 1000.0,
           ru.ru_maxrss);
    if ((rc = crawllog_producer_destroy(prod)) != 0 ||
        (rc = crawllog_close(log)) != 0) {
        die("close", rc, "");
    }
    free(lat);
    free(w);
    free(th);
    return 0;
}
