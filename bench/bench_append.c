/*
 * bench_append.c - raw append and sequential read throughput of the storage
 * layer (issue 2's targets), through the public API only.
 *
 * Workload: 116-byte records (16-byte key "key-%012d" + 100-byte value, the
 * peers harness's message), appended with crawllog_append() in batches of
 * -b records (default 1000), round robin over -p partitions (default 8),
 * in one of three sync modes; then every partition is read back from the
 * page cache with a crawllog_reader_t.  Prints one JSON line per phase.
 * Each batch goes whole to one partition, so "durable" costs one fdatasync
 * per batch (the peers harness's W1 splits every batch over 8 partitions).
 *
 *   build/bench/bench_append -m none|written|durable [-n N] [-b B] [-p P]
 *                            [-d DIR] [-B BYTES] [-r]
 *   -B  log.buffer.bytes for "none" (default: the library's default)
 *   -r  also time the sequential read (partition after partition)
 *
 * The data directory (default /tmp/crawllog-bench) is wiped first.
 * Run by hand; see docs/BENCHMARKS.md for figures and the exact commands.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crawllog.h"

#define KEY_LEN 16
#define VAL_LEN 100

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(crawllog_t *log, const char *what, int rc)
{
    fprintf(stderr, "bench_append: %s: %s: %s\n", what,
            crawllog_err_name(rc), log ? crawllog_errmsg(log) : "");
    exit(2);
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s -m none|written|durable [-n N] [-b B] "
                    "[-p P] [-d DIR] [-B BYTES] [-r]\n", prog);
    return 2;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint64_t *lat, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    size_t i = (size_t)(p * (double)(n - 1));
    return (double)lat[i] / 1000.0;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/crawllog-bench", *mode = "written";
    const char *bufbytes = NULL;
    long n = 2000000, batch = 1000, parts = 8;
    int do_read = 0, opt;
    while ((opt = getopt(argc, argv, "m:n:b:p:d:B:r")) != -1) {
        switch (opt) {
        case 'm': mode = optarg; break;
        case 'n': n = atol(optarg); break;
        case 'b': batch = atol(optarg); break;
        case 'p': parts = atol(optarg); break;
        case 'd': dir = optarg; break;
        case 'B': bufbytes = optarg; break;
        case 'r': do_read = 1; break;
        default: return usage(argv[0]);
        }
    }
    int sync = !strcmp(mode, "none")      ? CRAWLLOG_SYNC_NONE
               : !strcmp(mode, "written") ? CRAWLLOG_SYNC_WRITTEN
               : !strcmp(mode, "durable") ? CRAWLLOG_SYNC_DURABLE
                                          : -1;
    if (sync < 0 || n < 1 || batch < 1 || parts < 1 ||
        parts > CRAWLLOG_PARTITIONS_MAX || optind != argc) {
        return usage(argv[0]);
    }
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        return 2;
    }
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    crawllog_t *log;
    crawllog_conf_t *conf;
    int rc = crawllog_conf_new(&conf);
    snprintf(errstr, sizeof(errstr), "%s", crawllog_err_name(rc));
    if (rc == 0 && bufbytes != NULL) {
        /* How much SYNC_NONE buffers per partition before writing. */
        rc = crawllog_conf_set(conf, "log.buffer.bytes", bufbytes, errstr,
                               sizeof(errstr));
    }
    if (rc != 0 ||
        (rc = crawllog_open(&log, dir, conf, errstr, sizeof(errstr))) != 0) {
        fprintf(stderr, "open: %s\n", errstr);
        return 2;
    }
    if ((rc = crawllog_topic_create(log, "bench", (int32_t)parts, NULL)) != 0) {
        die(log, "topic_create", rc);
    }
    crawllog_record_t *recs = calloc((size_t)batch, sizeof(*recs));
    char *keys = malloc((size_t)batch * KEY_LEN);
    char *vals = malloc((size_t)batch * VAL_LEN);
    size_t nb = (size_t)((n + batch - 1) / batch);
    uint64_t *lat = malloc(nb * sizeof(*lat));
    if (recs == NULL || keys == NULL || vals == NULL || lat == NULL) {
        die(log, "malloc", CRAWLLOG_ENOMEM);
    }
    memset(vals, 'v', (size_t)batch * VAL_LEN);
    uint64_t t0 = now_ns();
    long sent = 0;
    for (size_t b = 0; b < nb; b++) {
        long cnt = n - sent < batch ? n - sent : batch;
        for (long i = 0; i < cnt; i++) {
            char *k = keys + i * KEY_LEN;
            long v = sent + i;
            memcpy(k, "key-", 4);
            for (int d = KEY_LEN - 1; d >= 4; d--, v /= 10) {
                k[d] = (char)('0' + v % 10);
            }
            recs[i].key = k;
            recs[i].key_len = KEY_LEN;
            recs[i].value = vals + i * VAL_LEN;
            recs[i].value_len = VAL_LEN;
            recs[i].timestamp = -1;
        }
        uint64_t s = now_ns();
        rc = crawllog_append(log, "bench", (int32_t)(b % (size_t)parts), recs,
                             (size_t)cnt, sync, NULL);
        if (rc != 0) {
            die(log, "append", rc);
        }
        lat[b] = now_ns() - s;
        sent += cnt;
    }
    if (sync == CRAWLLOG_SYNC_NONE &&
        (rc = crawllog_flush(log, CRAWLLOG_SYNC_WRITTEN)) != 0) {
        die(log, "flush", rc);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    qsort(lat, nb, sizeof(*lat), cmp_u64);
    printf("{\"system\":\"crawllog\",\"bench\":\"append\",\"mode\":\"%s\","
           "\"msgs\":%ld,\"batch\":%ld,\"partitions\":%ld,\"secs\":%.3f,"
           "\"msg_per_s\":%.0f,\"mb_per_s\":%.1f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"lat_unit\":\"batch\"}\n",
           mode, n, batch, parts, secs, (double)n / secs,
           (double)n * (KEY_LEN + VAL_LEN) / secs / 1e6, pct(lat, nb, 0.5),
           pct(lat, nb, 0.99));
    if (do_read) {
        long got = 0, bad = 0;
        uint64_t r0 = now_ns();
        for (long p = 0; p < parts; p++) {
            crawllog_reader_t *rd;
            const crawllog_msg_t *m;
            if ((rc = crawllog_reader_new(&rd, log, "bench", (int32_t)p)) != 0) {
                die(log, "reader_new", rc);
            }
            size_t kl, vl;
            while ((rc = crawllog_reader_next(rd, &m)) == 0 && m) {
                got++;
                bad += crawllog_msg_key(m, &kl) == NULL || kl != KEY_LEN ||
                       crawllog_msg_value(m, &vl) == NULL || vl != VAL_LEN;
            }
            if (rc != 0) {
                fprintf(stderr, "read: %s\n", crawllog_reader_errmsg(rd));
                return 2;
            }
            crawllog_reader_destroy(rd);
        }
        double rs = (double)(now_ns() - r0) / 1e9;
        if (got != n || bad != 0) {
            fprintf(stderr, "read %ld of %ld records, %ld malformed\n", got,
                    n, bad);
            return 2;
        }
        printf("{\"system\":\"crawllog\",\"bench\":\"read\",\"mode\":\"%s\","
               "\"msgs\":%ld,\"partitions\":%ld,\"secs\":%.3f,"
               "\"msg_per_s\":%.0f,\"mb_per_s\":%.1f}\n",
               mode, got, parts, rs, (double)got / rs,
               (double)got * (KEY_LEN + VAL_LEN) / rs / 1e6);
    }
    if ((rc = crawllog_close(log)) != 0) {
        fprintf(stderr, "bench_append: close: %s\n", crawllog_err_name(rc));
        return 2;
    }
    crawllog_conf_destroy(conf);
    free(recs);
    free(keys);
    free(vals);
    free(lat);
    return 0;
}
