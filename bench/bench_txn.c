/*
 * bench_txn.c - issue 10's benchmark: consume-transform-produce with and
 * without transactions, through the public API only (include/crawllog.h).
 * Driven by bench/run_txn.sh.
 *
 *   build/bench/bench_txn -x plain|txn [-d DIR] [-n M] [-p P] [-s VALUE]
 *       [-b UNIT] [-a 1|all] [-R RUN] [-S SWEEP]
 *
 * Setup (untimed, in a forked child so that the measured process stays
 * small): DIR (default /tmp/crawllog-txn) wiped, topics "in" and "out" of
 * -p partitions (default 4), M messages (-n, default 200000) appended to
 * "in": key "key-%012d" (16 bytes), a lower-case value of -s bytes
 * (default 100), batches of 1000 to partition j % P; made durable; sync.
 *
 * The pipeline (one process, one thread): a consumer in group "bench"
 * (subscribed to "in", isolation.level=read_committed, max.poll.records
 * 1000) -> transform (the value upper-cased) -> a producer (acks -a,
 * default all) sending each poll's records of a partition as one
 * crawllog_producer_send_batch() to the same partition of "out" (same
 * key).  The unit of work is -b messages (default 1000; polls ask for at
 * most what the unit still needs):
 *   plain  at the end of a unit: with acks=1, crawllog_flush(DURABLE)
 *          (the unit's records durable first); then
 *          crawllog_consumer_commit_offsets(the unit's partitions,
 *          CRAWLLOG_SYNC_DURABLE).  At-least-once: a crash repeats at
 *          most one unit.
 *   txn    the producer has transactional.id "bench-txn"; a unit is
 *          crawllog_txn_begin -> the sends -> crawllog_txn_send_offsets
 *          (crawllog_consumer_group_metadata) -> crawllog_txn_commit.
 *          Exactly-once.  Commit makes everything durable whatever acks.
 * So both modes make a unit's output durable before its input offsets are
 * durably committed, once per -b messages: the same durable work per
 * unit, plus the transaction's own (state file, markers).
 *
 * Timed from the first poll that returned messages (the group join before
 * it is not) until the last unit committed.  Latencies, exact, over the
 * units: commit_p50/p99/max_us = the end of a unit - plain: flush
 * (acks=1) + commit_offsets; txn: send_offsets + commit;
 * txn_commit_p50_us = crawllog_txn_commit() alone (0 for plain);
 * unit_p50/p99_us = a whole unit, from its first poll to its end.  Then (untimed) checks: a
 * read_committed reader of every "out" partition counts M records with
 * upper-cased values, and the group's committed offsets sum to M; the run
 * fails (exit 3) otherwise.
 *
 * Output: one JSON line on stdout ("bench":"txn"), diagnostics on stderr.
 * peak_rss_kb = ru_maxrss of the pipeline process (the preload child's is
 * preload_rss_kb).
 */
#define _DEFAULT_SOURCE /* sync() */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crawllog.h"

#define KEY_LEN 16
#define POLL_MAX 1000
#define PARTS_MAX 256
#define STALL_S 30

struct opts {
    const char *mode, *dir, *acks, *sweep, *run;
    long parts, vsize, n, unit;
    int txn;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "bench_txn[%d]: %s: %s: %s\n", (int)getpid(), what,
            rc ? crawllog_err_name(rc) : strerror(errno), msg ? msg : "");
    exit(3);
}

static void set_conf(crawllog_conf_t *c, const char *name, const char *val)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_conf_set(c, name, val, err, sizeof(err));
    if (rc != 0) {
        fail(name, rc, err);
    }
}

static crawllog_t *open_log(const char *dir)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    crawllog_t *log;
    int rc = crawllog_open(&log, dir, NULL, err, sizeof(err));
    if (rc != 0) {
        fail("open", rc, err);
    }
    return log;
}

static long rss_self_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- setup: the input topic ---------------------------------------------- */

static void make_key(char *key, long i)
{
    memcpy(key, "key-", 4);
    for (int d = KEY_LEN - 1; d >= 4; d--) {
        key[d] = (char)('0' + i % 10);
        i /= 10;
    }
}

/* In a child: fresh DIR, topics in/out, M messages in "in".  Returns the
 * child's peak RSS (KiB). */
static long preload(const struct opts *o)
{
    char cmd[8400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", o->dir, o->dir);
    if (system(cmd) != 0) {
        fail("fresh data directory", 0, o->dir);
    }
    int pfd[2];
    if (pipe(pfd) != 0) {
        fail("pipe", 0, NULL);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fail("fork", 0, NULL);
    }
    if (pid > 0) {
        long rss = 0;
        int st = 0;
        close(pfd[1]);
        if (read(pfd[0], &rss, sizeof(rss)) != (ssize_t)sizeof(rss) ||
            waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0) {
            fail("preload", 0, "the preload child failed");
        }
        close(pfd[0]);
        sync(); /* no dirty pages of the preload in the timed part */
        return rss;
    }
    close(pfd[0]);
    crawllog_t *log = open_log(o->dir);
    int rc;
    if ((rc = crawllog_topic_create(log, "in", (int32_t)o->parts, NULL)) != 0 ||
        (rc = crawllog_topic_create(log, "out", (int32_t)o->parts, NULL)) !=
            0) {
        fail("topic_create", rc, crawllog_errmsg(log));
    }
    enum { B = 1000 };
    static crawllog_record_t recs[B];
    static char keys[B][KEY_LEN];
    char *vals = malloc((size_t)B * (size_t)o->vsize + 1);
    if (vals == NULL) {
        fail("malloc", 0, NULL);
    }
    for (long i = 0, j = 0; i < o->n; j++) {
        long k = 0;
        for (; k < B && i < o->n; k++, i++) {
            char *v = vals + k * o->vsize;
            make_key(keys[k], i);
            for (long c = 0; c < o->vsize; c++) {
                v[c] = (char)('a' + (i + c) % 26);
            }
            memset(&recs[k], 0, sizeof(recs[k]));
            recs[k].key = keys[k];
            recs[k].key_len = KEY_LEN;
            recs[k].value = v;
            recs[k].value_len = (size_t)o->vsize;
            recs[k].timestamp = -1;
        }
        rc = crawllog_append(log, "in", (int32_t)(j % o->parts), recs,
                             (size_t)k, CRAWLLOG_SYNC_WRITTEN, NULL);
        if (rc != 0) {
            fail("preload append", rc, crawllog_errmsg(log));
        }
    }
    if ((rc = crawllog_flush(log, CRAWLLOG_SYNC_DURABLE)) != 0 ||
        (rc = crawllog_close(log)) != 0) {
        fail("preload flush", rc, NULL);
    }
    free(vals);
    long rss = rss_self_kb();
    if (write(pfd[1], &rss, sizeof(rss)) != (ssize_t)sizeof(rss)) {
        _exit(3);
    }
    _exit(0);
}

/* ---- the pipeline --------------------------------------------------------- */

struct pipe_state {
    const struct opts *o;
    crawllog_t *log;
    crawllog_consumer_t *cons;
    crawllog_producer_t *prod;
    int64_t next[PARTS_MAX]; /* next input offset per partition, this unit */
    int touched[PARTS_MAX];
    double *lat_us;    /* per unit: its end (see the header) */
    double *commit_us; /* per unit, txn: crawllog_txn_commit() alone */
    double *unit_us;   /* per unit: first poll that fed it .. its end */
    uint64_t unit_t0;
    long units;
    int open; /* txn: a transaction is open */
};

static void clients_new(struct pipe_state *s)
{
    const struct opts *o = s->o;
    char err[CRAWLLOG_ERRSTR_SIZE];
    crawllog_conf_t *c;
    int rc = crawllog_conf_new(&c);
    if (rc != 0) {
        fail("conf", rc, NULL);
    }
    set_conf(c, "acks", o->acks);
    if (o->txn) {
        set_conf(c, "transactional.id", "bench-txn");
    }
    if ((rc = crawllog_producer_new(s->log, c, &s->prod, err, sizeof(err))) !=
        0) {
        fail("producer_new", rc, err);
    }
    crawllog_conf_destroy(c);
    if ((rc = crawllog_conf_new(&c)) != 0) {
        fail("conf", rc, NULL);
    }
    set_conf(c, "group.id", "bench");
    set_conf(c, "auto.offset.reset", "earliest");
    set_conf(c, "enable.auto.commit", "false");
    set_conf(c, "isolation.level", "read_committed");
    set_conf(c, "max.poll.records", "1000");
    set_conf(c, "max.poll.interval.ms", "600000");
    if ((rc = crawllog_consumer_new(s->log, c, &s->cons, err, sizeof(err))) !=
        0) {
        fail("consumer_new", rc, err);
    }
    crawllog_conf_destroy(c);
    const char *topics[1] = {"in"};
    if ((rc = crawllog_consumer_subscribe(s->cons, topics, 1)) != 0) {
        fail("subscribe", rc, crawllog_consumer_errmsg(s->cons));
    }
}

/* Upper-case the polled messages and send them: one batch per run of
 * consecutive messages of a partition. */
static void transform_send(struct pipe_state *s, const crawllog_msg_t **msgs,
                           size_t n, char *buf)
{
    static crawllog_record_t recs[POLL_MAX];
    size_t i = 0;
    char *b = buf;
    while (i < n) {
        int32_t p = crawllog_msg_partition(msgs[i]);
        size_t k = 0;
        for (; i < n && crawllog_msg_partition(msgs[i]) == p; i++, k++) {
            size_t klen = 0, vlen = 0;
            const char *key = crawllog_msg_key(msgs[i], &klen);
            const char *val = crawllog_msg_value(msgs[i], &vlen);
            for (size_t c = 0; c < vlen; c++) {
                char ch = val[c];
                b[c] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
            }
            memset(&recs[k], 0, sizeof(recs[k]));
            recs[k].key = key;
            recs[k].key_len = klen;
            recs[k].value = b;
            recs[k].value_len = vlen;
            recs[k].timestamp = -1;
            b += vlen;
            s->next[p] = crawllog_msg_offset(msgs[i]) + 1;
            s->touched[p] = 1;
        }
        int rc = crawllog_producer_send_batch(s->prod, "out", p, recs, k, NULL);
        if (rc != 0) {
            fail("send_batch", rc, crawllog_producer_errmsg(s->prod));
        }
    }
}

/* End of a unit: its offsets committed (and, txn, the transaction). */
static void end_unit(struct pipe_state *s)
{
    crawllog_topic_partition_t list[PARTS_MAX];
    size_t cnt = 0;
    for (int32_t p = 0; p < (int32_t)s->o->parts; p++) {
        if (s->touched[p]) {
            list[cnt++] =
                (crawllog_topic_partition_t){"in", p, s->next[p], NULL};
            s->touched[p] = 0;
        }
    }
    uint64_t t = now_ns();
    int rc = 0;
    if (s->o->txn) {
        crawllog_group_metadata_t *md = NULL;
        if ((rc = crawllog_consumer_group_metadata(s->cons, &md)) != 0 ||
            (rc = crawllog_txn_send_offsets(s->prod, md, list, cnt)) != 0) {
            fail("send_offsets", rc, crawllog_producer_errmsg(s->prod));
        }
        crawllog_group_metadata_destroy(md);
        uint64_t tc = now_ns();
        if ((rc = crawllog_txn_commit(s->prod)) != 0) {
            fail("txn_commit", rc, crawllog_producer_errmsg(s->prod));
        }
        s->commit_us[s->units] = (double)(now_ns() - tc) / 1000.0;
        s->open = 0;
    } else {
        if (strcmp(s->o->acks, "all") != 0 &&
            (rc = crawllog_flush(s->log, CRAWLLOG_SYNC_DURABLE)) != 0) {
            fail("flush", rc, crawllog_errmsg(s->log));
        }
        if ((rc = crawllog_consumer_commit_offsets(
                 s->cons, list, cnt, CRAWLLOG_SYNC_DURABLE)) != 0) {
            fail("commit_offsets", rc, crawllog_consumer_errmsg(s->cons));
        }
    }
    uint64_t end = now_ns();
    s->lat_us[s->units] = (double)(end - t) / 1000.0;
    s->unit_us[s->units++] = (double)(end - s->unit_t0) / 1000.0;
}

/* The timed loop; returns its seconds. */
static double run_pipeline(struct pipe_state *s)
{
    const struct opts *o = s->o;
    const crawllog_msg_t *msgs[POLL_MAX];
    char *buf = malloc((size_t)POLL_MAX * (size_t)o->vsize + 1);
    if (buf == NULL) {
        fail("malloc", 0, NULL);
    }
    long done = 0, in_unit = 0;
    uint64_t t0 = 0, last = now_ns();
    while (done < o->n) {
        long want = o->unit - in_unit;
        size_t n = 0;
        if (in_unit == 0) {
            s->unit_t0 = now_ns(); /* includes the wait of the poll */
        }
        if (o->txn && !s->open) {
            int rc = crawllog_txn_begin(s->prod);
            if (rc != 0) {
                fail("txn_begin", rc, crawllog_producer_errmsg(s->prod));
            }
            s->open = 1;
        }
        int rc = crawllog_consumer_poll(
            s->cons, 100, msgs, (size_t)(want < POLL_MAX ? want : POLL_MAX),
            &n);
        if (rc != 0) {
            fail("poll", rc, crawllog_consumer_errmsg(s->cons));
        }
        if (n == 0) {
            if (now_ns() - last > (uint64_t)STALL_S * 1000000000u) {
                fail("pipeline", 0, "no message for 30 s");
            }
            continue;
        }
        if (t0 == 0) {
            t0 = now_ns();
        }
        last = now_ns();
        transform_send(s, msgs, n, buf);
        done += (long)n;
        in_unit += (long)n;
        if (in_unit >= o->unit || done >= o->n) {
            end_unit(s);
            in_unit = 0;
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    free(buf);
    return secs;
}

/* The checks: M upper-case records in "out" (read_committed) and the
 * group's offsets at M. */
static void verify(struct pipe_state *s)
{
    long count = 0, committed = 0;
    for (int32_t p = 0; p < (int32_t)s->o->parts; p++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m = NULL;
        int rc = crawllog_reader_new(&rd, s->log, "out", p);
        if (rc != 0 || (rc = crawllog_reader_set_isolation(
                            rd, CRAWLLOG_READ_COMMITTED)) != 0) {
            fail("reader", rc, NULL);
        }
        while ((rc = crawllog_reader_next(rd, &m)) == 0 && m != NULL) {
            size_t vlen = 0;
            const char *v = crawllog_msg_value(m, &vlen);
            if (vlen != (size_t)s->o->vsize ||
                (vlen > 0 && (v[0] < 'A' || v[0] > 'Z'))) {
                fail("verify", 0, "an output value is not the transform");
            }
            count++;
        }
        if (rc != 0) {
            fail("reader_next", rc, crawllog_reader_errmsg(rd));
        }
        crawllog_reader_destroy(rd);
        int64_t off = -1;
        if ((rc = crawllog_consumer_committed(s->cons, "in", p, &off)) != 0) {
            fail("committed", rc, NULL);
        }
        committed += off > 0 ? (long)off : 0;
    }
    if (count != s->o->n || committed != s->o->n) {
        fprintf(stderr,
                "bench_txn: out has %ld committed records, group "
                "offsets sum %ld, want %ld\n",
                count, committed, s->o->n);
        exit(3);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const double *v, long n, double q)
{
    if (n == 0) {
        return 0.0;
    }
    long i = (long)(q * (double)n + 0.999999) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static void usage(void)
{
    fputs("usage: bench_txn -x plain|txn [-d DIR] [-n M] [-p P] [-s VALUE] "
          "[-b UNIT] [-a 1|all] [-R RUN] [-S SWEEP]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = {
        NULL, "/tmp/crawllog-txn", "all", "-", "1", 4, 100, 200000, 1000, 0};
    int opt;
    while ((opt = getopt(argc, argv, "x:d:n:p:s:b:a:R:S:")) != -1) {
        switch (opt) {
        case 'x':
            o.mode = optarg;
            break;
        case 'd':
            o.dir = optarg;
            break;
        case 'n':
            o.n = atol(optarg);
            break;
        case 'p':
            o.parts = atol(optarg);
            break;
        case 's':
            o.vsize = atol(optarg);
            break;
        case 'b':
            o.unit = atol(optarg);
            break;
        case 'a':
            o.acks = optarg;
            break;
        case 'R':
            o.run = optarg;
            break;
        case 'S':
            o.sweep = optarg;
            break;
        default:
            usage();
        }
    }
    if (o.mode == NULL ||
        (strcmp(o.mode, "plain") != 0 && strcmp(o.mode, "txn") != 0) ||
        o.n < 1 || o.parts < 1 || o.parts > PARTS_MAX || o.vsize < 1 ||
        o.unit < 1 ||
        (strcmp(o.acks, "1") != 0 && strcmp(o.acks, "all") != 0)) {
        usage();
    }
    o.txn = strcmp(o.mode, "txn") == 0;
    long preload_rss = preload(&o);

    struct pipe_state s;
    memset(&s, 0, sizeof(s));
    s.o = &o;
    size_t nunits = (size_t)(o.n / o.unit + 2);
    s.lat_us = calloc(nunits, sizeof(double));
    s.commit_us = calloc(nunits, sizeof(double));
    s.unit_us = calloc(nunits, sizeof(double));
    if (s.lat_us == NULL || s.commit_us == NULL || s.unit_us == NULL) {
        fail("malloc", 0, NULL);
    }
    s.log = open_log(o.dir);
    clients_new(&s);
    double secs = run_pipeline(&s);
    long rss = rss_self_kb();
    verify(&s);
    int rc = crawllog_consumer_close(s.cons);
    crawllog_consumer_destroy(s.cons);
    if (rc != 0 || (rc = crawllog_producer_destroy(s.prod)) != 0 ||
        (rc = crawllog_close(s.log)) != 0) {
        fail("close", rc, NULL);
    }
    qsort(s.lat_us, (size_t)s.units, sizeof(double), cmp_double);
    qsort(s.commit_us, (size_t)s.units, sizeof(double), cmp_double);
    qsort(s.unit_us, (size_t)s.units, sizeof(double), cmp_double);
    printf("{\"bench\":\"txn\",\"sweep\":\"%s\",\"run\":%s,\"mode\":\"%s\","
           "\"acks\":\"%s\",\"unit\":%ld,\"partitions\":%ld,"
           "\"msg_bytes\":%ld,\"msgs\":%ld,\"units\":%ld,\"secs\":%.4f,"
           "\"msg_per_s\":%.1f,\"commit_p50_us\":%.1f,\"commit_p99_us\":%.1f,"
           "\"commit_max_us\":%.1f,\"txn_commit_p50_us\":%.1f,"
           "\"unit_p50_us\":%.1f,\"unit_p99_us\":%.1f,\"peak_rss_kb\":%ld,"
           "\"preload_rss_kb\":%ld}\n",
           o.sweep, o.run, o.mode, o.acks, o.unit, o.parts, KEY_LEN + o.vsize,
           o.n, s.units, secs, (double)o.n / secs,
           quantile(s.lat_us, s.units, 0.50), quantile(s.lat_us, s.units, 0.99),
           s.units ? s.lat_us[s.units - 1] : 0.0,
           quantile(s.commit_us, s.units, 0.50),
           quantile(s.unit_us, s.units, 0.50),
           quantile(s.unit_us, s.units, 0.99), rss, preload_rss);
    free(s.lat_us);
    free(s.commit_us);
    free(s.unit_us);
    return 0;
}
