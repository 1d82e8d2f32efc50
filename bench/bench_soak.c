/*
 * bench_soak.c - a retention-bounded soak at a fixed rate (issue 9): does
 * end-to-end latency, memory, file descriptors and disk use stay flat over
 * an hour of steady traffic while retention deletes segments underneath a
 * live consumer group?
 *
 * Processes.  The parent forks ONE consumer process before it opens the log
 * (no crawllog_t crosses a fork), then creates topic "soak" (-p partitions,
 * segment.bytes -S, retention.bytes -R per partition) and becomes the
 * producer.  The consumer opens its own handle, joins group "soak"
 * subscribed to the topic (auto.offset.reset=earliest, max.poll.records
 * 1000), and once it owns every partition tells the parent to start.  It
 * then loops: crawllog_consumer_poll (timeout 100 ms, up to 1000 messages),
 * latency = CLOCK_MONOTONIC now - the send time in the first 8 bytes of the
 * value, per-partition offset check (each offset must be the previous + 1;
 * a jump is a retention jump if everything before the new offset is gone
 * from the log - the log start is now at or past it - else a gap; an offset
 * not above the previous one is a dup), then crawllog_consumer_commit(NULL,
 * CRAWLLOG_SYNC_WRITTEN) after every poll that returned messages.
 *
 * Producer.  One crawllog_producer_send per message (acks -a), keyed
 * ("key-%012d", 16 bytes: murmur2 partition), value -s bytes = send time
 * (ns) | sequence | filler, paced on an absolute schedule (message i at
 * t0 + i / rate, clock_nanosleep TIMER_ABSTIME; a late pacer catches up).
 * The pacer sleeps until the next message's time rounded up to a -T us
 * grid (default 1000; 0 = one sleep per message) and then sends every
 * message that is due: on a 2-vCPU VM one sleep per message at 5000 msg/s
 * cost the producer ~20 % of a core (the wakeups), the 1 ms grid ~7 %.
 * Every -m seconds it calls crawllog_maintain (the library enforces
 * retention only there; its time is reported as maintain_max_ms, the
 * producer sends nothing meanwhile) and adds up the segments deleted.
 * Between two calls a partition grows by rate * -m / partitions bytes:
 * keep that below one segment, or disk_bytes may pass the bound below.
 *
 * Shared memory (MAP_SHARED | MAP_ANONYMOUS, made before the fork): the
 * consumer adds each latency to a cumulative log-bucketed histogram (1 us ..
 * 10 s, 16 buckets per power of two: < 6 % error) of atomic counters, plus
 * counters (consumed, gaps, dups, retention jumps) and an atomic interval
 * maximum; the parent diffs the histogram against its previous snapshot and
 * exchanges the maximum with 0 at each report, so no sample is lost or
 * counted twice.
 *
 * Output (stdout, one JSON line per -i seconds, from the parent):
 *   {"bench":"soak","t_s","produced","consumed","interval_rate",
 *    "send_behind_ms" (worst pacer lateness in the interval), "p50_us",
 *    "p99_us","p999_us","max_us" (end to end, this interval), "send_p99_us"
 *    (crawllog_producer_send call), "rss_kb_producer","rss_kb_consumer"
 *    (VmRSS), "fds_producer","fds_consumer" (/proc/<pid>/fd), "disk_bytes"
 *    (sum of st_blocks * 512 under -d), "segments" (*.log files), "lag"
 *    (produced - consumed - skipped by retention), "deleted" (segments
 *    deleted by crawllog_maintain so far), "maintain_max_ms" (its slowest
 *    call in the interval), "cpu_pct_producer",
 *    "cpu_pct_consumer" (this interval, of one core), "jumps","gaps","dups"}
 * After -t seconds the producer stops (acks=0: flush), waits up to 30 s for
 * the consumer to catch up, stops it, and prints a summary line
 *   {"bench":"soak","summary":true,"secs","msgs","rate","p50_us_first",
 *    "p50_us_last","p99_us_first","p99_us_last" (medians of the interval
 *    values over the first and the last 10 % of the intervals, the first
 *    interval skipped as warm-up), "rss_kb_producer_first/last",
 *    "rss_kb_consumer_first/last", "fds_*_first/last", "disk_bytes_max",
 *    "disk_bound","segments_deleted","gaps","dups","jumps","max_behind_s",
 *    "cpu_pct_producer","cpu_pct_consumer" (averages),"fails":[...],
 *    "verdict":"flat"|"NOT flat"}
 * flat = for both processes RSS last <= first * 1.10 + 2 MiB and fds last
 * <= first + 2 (the producer's counted without 3 per segment - .log,
 * .index, .timeindex - since it holds every live segment open and their
 * number moves with each roll and deletion: fds_producer_nonseg_*);
 * p50 last <= 1.5 * first + 20 us; p99 last <= 2 * first +
 * 200 us; disk_bytes_max <= (retention + 2 segments) * partitions * 1.2;
 * no gap or dup (retention jumps are reported, and allowed); the consumer
 * never more than -L seconds behind (interval max latency, and lag / rate).
 * Exit 0 if flat, 1 if not, 2 on an error.  Diagnostics go to stderr.
 * SIGINT/SIGTERM end the run early (summary over what ran).
 *
 *   build/bench/bench_soak [-d DIR] [-t secs] [-r msgs/s] [-s value bytes]
 *       [-p partitions] [-i report secs] [-a 0|1|all] [-R retention bytes]
 *       [-S segment bytes] [-m maintain secs] [-L max behind secs]
 *       [-T pacer tick us]
 *
 * Defaults: /tmp/crawllog-soak (wiped first; refused if it exists and is
 * not a crawllog data directory), 3600 s, 5000 msg/s, 1000-byte values,
 * 8 partitions, 10 s, acks 1, 32 MiB, 4 MiB, 5 s, 10 s, 1000 us.  At the
 * defaults * the log grows ~5.5 MB/s (~0.7 MB/s per partition): a segment rolls every
 * ~6 s per partition and each partition keeps ~50 s, so retention deletes
 * ~4500 segments an hour.  bench/run_soak.sh wraps it.
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crawllog.h"

#define TOPIC "soak"
#define GROUP "soak"
#define KEY_LEN 16
#define MAX_POLL 1000
#define MAX_PARTS 1024
#define CATCHUP_SECS 30

/* ---- histogram: 0 = below 1024 ns, then 16 buckets per power of two up to
 * 2^34 ns (17 s; larger values land in the last bucket). */
#define H_SUB 16
#define H_NB ((34 - 10) * H_SUB + 1)

static int h_idx(uint64_t v)
{
    if (v < 1024) {
        return 0;
    }
    if (v >= (1ull << 34)) {
        v = (1ull << 34) - 1;
    }
    int e = 63 - __builtin_clzll(v);
    return (e - 10) * H_SUB + (int)((v >> (e - 4)) & (H_SUB - 1)) + 1;
}

/* The middle of bucket i, in us. */
static double h_mid_us(int i)
{
    if (i == 0) {
        return 0.5;
    }
    int e = (i - 1) / H_SUB + 10, sub = (i - 1) % H_SUB;
    double lo = (double)((uint64_t)(H_SUB + sub) << (e - 4));
    return (lo + (double)(1ull << (e - 4)) / 2) / 1000.0;
}

static double h_pct(const uint64_t *h, double q)
{
    uint64_t total = 0, cum = 0;
    for (int i = 0; i < H_NB; i++) {
        total += h[i];
    }
    if (total == 0) {
        return 0;
    }
    uint64_t want = (uint64_t)(q * (double)total);
    want = want < 1 ? 1 : want > total ? total : want;
    for (int i = 0; i < H_NB; i++) {
        cum += h[i];
        if (cum >= want) {
            return h_mid_us(i);
        }
    }
    return h_mid_us(H_NB - 1);
}

/* ---- shared between the consumer (writer) and the parent (reader) ---- */
struct shm {
    _Atomic uint64_t hist[H_NB]; /* cumulative end-to-end latencies */
    _Atomic uint64_t max_ns;     /* since the parent last took it */
    _Atomic uint64_t consumed, skipped, jumps, gaps, dups, polls, commits;
    _Atomic int stop, failed;
};

struct opts {
    const char *dir, *acks;
    long secs, rate, vsize, parts, report, maint, behind, tick;
    long long retention, segment;
};

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000ull),
                          (long)(t % 1000000000ull)};
    (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void make_key(char *key, uint64_t i)
{
    memcpy(key, "key-", 4);
    for (int d = KEY_LEN - 1; d >= 4; d--) {
        key[d] = (char)('0' + i % 10);
        i /= 10;
    }
}

static void set_conf(crawllog_conf_t *conf, const char *k, const char *v)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    if (crawllog_conf_set(conf, k, v, err, sizeof err) != CRAWLLOG_OK) {
        fprintf(stderr, "bench_soak: conf %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static crawllog_t *open_log(const char *dir)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_t *log = NULL;
    int rc = crawllog_open(&log, dir, NULL, err, sizeof err);
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "bench_soak: open %s: %s: %s\n", dir,
                crawllog_err_name(rc), err);
        exit(2);
    }
    return log;
}

/* ---- /proc and du ------------------------------------------------------ */

static long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static long proc_fds(pid_t pid)
{
    char path[64];
    long n = 0;
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return pid == getpid() ? n - 1 : n; /* not the one reading it */
}

/* utime + stime of pid, in seconds. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                   "%*u %lu %lu", &ut, &st) != 2) {
        return 0;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t g_du_bytes, g_du_segs;
static int du_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)flag;
    size_t n = strlen(path);
    g_du_bytes += (uint64_t)st->st_blocks * 512;
    g_du_segs += S_ISREG(st->st_mode) && n > 4 &&
                 strcmp(path + n - 4, ".log") == 0 && ftw->level > 0;
    return 0;
}

static void du(const char *dir, uint64_t *bytes, uint64_t *segs)
{
    g_du_bytes = g_du_segs = 0;
    nftw(dir, du_cb, 32, FTW_PHYS); /* files vanish under retention: fine */
    *bytes = g_du_bytes;
    *segs = g_du_segs;
}

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Wipes dir, refusing one that is not a crawllog data directory. */
static void wipe(const char *dir)
{
    struct stat st;
    char sub[4200];
    if (lstat(dir, &st) != 0) {
        return;
    }
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    }
    if (d) {
        closedir(d);
    }
    snprintf(sub, sizeof sub, "%s/topics", dir);
    if (!S_ISDIR(st.st_mode) || (entries > 0 && lstat(sub, &st) != 0)) {
        fprintf(stderr, "bench_soak: %s exists and is not a crawllog data "
                        "directory: not wiping it\n", dir);
        exit(2);
    }
    if (nftw(dir, rm_cb, 32, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "bench_soak: cannot wipe %s: %s\n", dir,
                strerror(errno));
        exit(2);
    }
}

/* ---- the consumer process ---------------------------------------------- */

static void cons_fail(struct shm *sh, crawllog_consumer_t *c, int rc,
                      const char *what)
{
    fprintf(stderr, "bench_soak: consumer: %s: %s: %s\n", what,
            crawllog_err_name(rc), c ? crawllog_consumer_errmsg(c) : "");
    atomic_store(&sh->failed, 1);
    _exit(2);
}

/* Polls (timeout 0) until the member owns all partitions at known
 * positions; 30 s at most. */
static void cons_wait_assigned(struct shm *sh, crawllog_consumer_t *c,
                               const crawllog_msg_t **msgs, long parts)
{
    uint64_t give_up = now_ns() + 30000000000ull;
    for (;;) {
        size_t n = 0, cnt = 0, known = 0;
        int rc = crawllog_consumer_poll(c, 0, msgs, MAX_POLL, &n);
        if (rc != CRAWLLOG_OK || n != 0) {
            cons_fail(sh, c, rc, n ? "message before the start" : "poll");
        }
        crawllog_topic_partition_t *list = NULL;
        rc = crawllog_consumer_assignment(c, &list, &cnt);
        if (rc != CRAWLLOG_OK) {
            cons_fail(sh, c, rc, "assignment");
        }
        for (size_t i = 0; i < cnt; i++) {
            known += list[i].offset >= 0;
        }
        free(list);
        if ((long)cnt == parts && (long)known == parts) {
            return;
        }
        if (now_ns() > give_up) {
            cons_fail(sh, c, CRAWLLOG_ETIMEDOUT, "assignment");
        }
        sleep_until(now_ns() + 1000000ull);
    }
}

static int consumer_main(const struct opts *o, struct shm *sh, int go_fd,
                         int ready_fd, pid_t parent)
{
    char b, err[CRAWLLOG_ERRSTR_SIZE] = "";
    signal(SIGINT, SIG_IGN); /* the parent stops us through sh->stop */
    signal(SIGTERM, SIG_IGN);
    if (read(go_fd, &b, 1) != 1) {
        _exit(2); /* the parent failed before creating the topic */
    }
    crawllog_t *log = open_log(o->dir);
    crawllog_conf_t *conf = NULL;
    crawllog_consumer_t *c = NULL;
    if (crawllog_conf_new(&conf) != CRAWLLOG_OK) {
        cons_fail(sh, NULL, CRAWLLOG_ENOMEM, "conf");
    }
    set_conf(conf, "group.id", GROUP);
    set_conf(conf, "auto.offset.reset", "earliest");
    set_conf(conf, "max.poll.records", "1000");
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof err);
    crawllog_conf_destroy(conf);
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "bench_soak: consumer_new: %s\n", err);
        cons_fail(sh, NULL, rc, "consumer_new");
    }
    const char *topics[] = {TOPIC};
    if ((rc = crawllog_consumer_subscribe(c, topics, 1)) != CRAWLLOG_OK) {
        cons_fail(sh, c, rc, "subscribe");
    }
    const crawllog_msg_t **msgs = calloc(MAX_POLL, sizeof *msgs);
    int64_t *next = calloc((size_t)o->parts, sizeof *next);
    if (msgs == NULL || next == NULL) {
        cons_fail(sh, c, CRAWLLOG_ENOMEM, "calloc");
    }
    cons_wait_assigned(sh, c, msgs, o->parts);
    if (write(ready_fd, "r", 1) != 1) {
        cons_fail(sh, c, CRAWLLOG_EIO, "write ready");
    }
    long reported = 0;
    while (!atomic_load(&sh->stop)) {
        size_t n = 0;
        rc = crawllog_consumer_poll(c, 100, msgs, MAX_POLL, &n);
        if (rc != CRAWLLOG_OK) {
            cons_fail(sh, c, rc, "poll");
        }
        atomic_fetch_add_explicit(&sh->polls, 1, memory_order_relaxed);
        if (getppid() != parent) {
            fprintf(stderr, "bench_soak: consumer: the producer died\n");
            _exit(2);
        }
        if (n == 0) {
            continue;
        }
        uint64_t now = now_ns(), mx = 0, skipped = 0;
        for (size_t i = 0; i < n; i++) {
            size_t kl = 0, vl = 0;
            const char *k = crawllog_msg_key(msgs[i], &kl);
            const char *v = crawllog_msg_value(msgs[i], &vl);
            int32_t p = crawllog_msg_partition(msgs[i]);
            int64_t off = crawllog_msg_offset(msgs[i]);
            if (!k || !v || kl != KEY_LEN || vl != (size_t)o->vsize ||
                memcmp(k, "key-", 4) != 0 || p < 0 || p >= o->parts) {
                fprintf(stderr, "bench_soak: consumer: bad record %d/%lld\n",
                        (int)p, (long long)off);
                cons_fail(sh, c, CRAWLLOG_ECORRUPT, "check");
            }
            uint64_t sent;
            memcpy(&sent, v, sizeof sent);
            uint64_t lat = now > sent ? now - sent : 0;
            mx = lat > mx ? lat : mx;
            atomic_fetch_add_explicit(&sh->hist[h_idx(lat)], 1,
                                      memory_order_relaxed);
            if (off > next[p]) {
                int64_t start = -1, end = -1;
                rc = crawllog_partition_offsets(log, TOPIC, p, &start, &end);
                if (rc == CRAWLLOG_OK && start >= off) {
                    skipped += (uint64_t)(off - next[p]);
                    atomic_fetch_add(&sh->jumps, 1);
                } else {
                    atomic_fetch_add(&sh->gaps, 1);
                }
                if (reported++ < 20) {
                    fprintf(stderr, "bench_soak: consumer: partition %d: "
                            "offset %lld after %lld (log start %lld): %s\n",
                            (int)p, (long long)off, (long long)next[p] - 1,
                            (long long)start, rc == CRAWLLOG_OK &&
                            start >= off ? "retention jump" : "GAP");
                }
            } else if (off < next[p]) {
                atomic_fetch_add(&sh->dups, 1);
                if (reported++ < 20) {
                    fprintf(stderr, "bench_soak: consumer: partition %d: "
                            "DUP offset %lld after %lld\n", (int)p,
                            (long long)off, (long long)next[p] - 1);
                }
            }
            next[p] = off + 1 > next[p] ? off + 1 : next[p];
        }
        uint64_t old = atomic_load_explicit(&sh->max_ns, memory_order_relaxed);
        while (mx > old && !atomic_compare_exchange_weak(&sh->max_ns, &old, mx)) {
        }
        atomic_fetch_add(&sh->skipped, skipped);
        atomic_fetch_add(&sh->consumed, (uint64_t)n);
        rc = crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_WRITTEN);
        if (rc != CRAWLLOG_OK) {
            cons_fail(sh, c, rc, "commit");
        }
        atomic_fetch_add_explicit(&sh->commits, 1, memory_order_relaxed);
    }
    rc = crawllog_consumer_close(c);
    crawllog_consumer_destroy(c);
    free(msgs);
    free(next);
    int rc2 = crawllog_close(log);
    return rc == CRAWLLOG_OK && rc2 == CRAWLLOG_OK ? 0 : 2;
}

/* ---- the producer (parent) --------------------------------------------- */

struct row {
    double p50, p99, rss_p, rss_c, fds_p, fds_c, behind_s, cpu_p, cpu_c;
    double fds_pa; /* fds_p - 3 per segment (.log, .index, .timeindex) */
};

struct prod_state {
    const struct opts *o;
    struct shm *sh;
    pid_t child;
    uint64_t t0, last_t, last_produced, send_hist[H_NB], prev_hist[H_NB];
    uint64_t behind_ns, disk_max, deleted, maint_ns; /* maint: max call */
    double first_delete_s; /* when maintain first deleted (-1: never) */
    double last_cpu_p, last_cpu_c;
    struct row *rows;
    size_t nrows, cap;
};

static void report(struct prod_state *s, uint64_t now, uint64_t produced)
{
    const struct opts *o = s->o;
    uint64_t cur[H_NB], iv[H_NB], disk, segs;
    for (int i = 0; i < H_NB; i++) {
        cur[i] = atomic_load_explicit(&s->sh->hist[i], memory_order_relaxed);
        iv[i] = cur[i] - s->prev_hist[i];
        s->prev_hist[i] = cur[i];
    }
    double max_us = (double)atomic_exchange(&s->sh->max_ns, 0) / 1000.0;
    uint64_t consumed = atomic_load(&s->sh->consumed);
    uint64_t skipped = atomic_load(&s->sh->skipped);
    double dt = (double)(now - s->last_t) / 1e9;
    double rate = dt > 0 ? (double)(produced - s->last_produced) / dt : 0;
    double cpu_p = proc_cpu_s(getpid()), cpu_c = proc_cpu_s(s->child);
    struct row r = {h_pct(iv, 0.50), h_pct(iv, 0.99),
                    (double)proc_rss_kb(getpid()), (double)proc_rss_kb(s->child),
                    (double)proc_fds(getpid()), (double)proc_fds(s->child), 0,
                    dt > 0 ? 100 * (cpu_p - s->last_cpu_p) / dt : 0,
                    dt > 0 ? 100 * (cpu_c - s->last_cpu_c) / dt : 0, 0};
    long long lag = (long long)produced - (long long)(consumed + skipped);
    r.behind_s = max_us / 1e6;
    if ((double)lag / (double)o->rate > r.behind_s) {
        r.behind_s = (double)lag / (double)o->rate;
    }
    du(o->dir, &disk, &segs);
    r.fds_pa = r.fds_p - 3 * (double)segs;
    s->disk_max = disk > s->disk_max ? disk : s->disk_max;
    printf("{\"bench\":\"soak\",\"t_s\":%.1f,\"produced\":%llu,\"consumed\":%llu,"
           "\"interval_rate\":%.1f,\"send_behind_ms\":%.3f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"send_p99_us\":%.1f,\"rss_kb_producer\":%.0f,"
           "\"rss_kb_consumer\":%.0f,\"fds_producer\":%.0f,"
           "\"fds_consumer\":%.0f,\"disk_bytes\":%llu,\"segments\":%llu,"
           "\"lag\":%lld,\"deleted\":%llu,\"maintain_max_ms\":%.1f,\"cpu_pct_producer\":%.1f,"
           "\"cpu_pct_consumer\":%.1f,\"jumps\":%llu,\"gaps\":%llu,"
           "\"dups\":%llu}\n",
           (double)(now - s->t0) / 1e9, (unsigned long long)produced,
           (unsigned long long)consumed, rate, (double)s->behind_ns / 1e6,
           r.p50, r.p99, h_pct(iv, 0.999), max_us, h_pct(s->send_hist, 0.99),
           r.rss_p, r.rss_c, r.fds_p, r.fds_c, (unsigned long long)disk,
           (unsigned long long)segs, lag, (unsigned long long)s->deleted,
           (double)s->maint_ns / 1e6,
           r.cpu_p, r.cpu_c, (unsigned long long)atomic_load(&s->sh->jumps),
           (unsigned long long)atomic_load(&s->sh->gaps),
           (unsigned long long)atomic_load(&s->sh->dups));
    fflush(stdout);
    if (s->nrows == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        struct row *nr = realloc(s->rows, s->cap * sizeof *nr);
        if (nr == NULL) {
            fprintf(stderr, "bench_soak: out of memory\n");
            exit(2);
        }
        s->rows = nr;
    }
    s->rows[s->nrows++] = r;
    memset(s->send_hist, 0, sizeof s->send_hist);
    s->behind_ns = 0;
    s->maint_ns = 0;
    s->last_t = now;
    s->last_produced = produced;
    s->last_cpu_p = cpu_p;
    s->last_cpu_c = cpu_c;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of field (byte offset) over rows [from, from + k). */
static double med(const struct row *rows, size_t from, size_t k, size_t field)
{
    double *v = malloc(k * sizeof *v);
    if (v == NULL) {
        return 0;
    }
    for (size_t i = 0; i < k; i++) {
        memcpy(&v[i], (const char *)&rows[from + i] + field, sizeof(double));
    }
    qsort(v, k, sizeof(double), cmp_d);
    double m = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    free(v);
    return m;
}

static int summary(struct prod_state *s, double secs, uint64_t msgs)
{
    const struct opts *o = s->o;
    size_t n = s->nrows > 1 ? s->nrows - 1 : s->nrows;
    const struct row *rows = s->rows + (s->nrows - n);
    size_t k = (size_t)((double)n * 0.1 + 0.5);
    k = k < 1 ? 1 : k;
    char fails[512] = "";
    double f[10], l[10], max_behind = 0, cpu_p = 0, cpu_c = 0;
    static const size_t fld[] = {
        offsetof(struct row, p50), offsetof(struct row, p99),
        offsetof(struct row, rss_p), offsetof(struct row, rss_c),
        offsetof(struct row, fds_p), offsetof(struct row, fds_c),
        offsetof(struct row, fds_pa)};
    if (n == 0) {
        fprintf(stderr, "bench_soak: no interval was reported\n");
        return 2;
    }
    for (size_t i = 0; i < 7; i++) {
        f[i] = med(rows, 0, k, fld[i]);
        l[i] = med(rows, n - k, k, fld[i]);
    }
    for (size_t i = 0; i < s->nrows; i++) {
        max_behind = s->rows[i].behind_s > max_behind ? s->rows[i].behind_s
                                                      : max_behind;
        cpu_p += s->rows[i].cpu_p / (double)s->nrows;
        cpu_c += s->rows[i].cpu_c / (double)s->nrows;
    }
    double bound = (double)(o->retention + 2 * o->segment) * (double)o->parts * 1.2;
    uint64_t gaps = atomic_load(&s->sh->gaps), dups = atomic_load(&s->sh->dups);
#define FAIL(cond, name)                                                     \
    if (cond) {                                                              \
        snprintf(fails + strlen(fails), sizeof fails - strlen(fails),        \
                 "%s\"%s\"", fails[0] ? "," : "", name);                     \
    }
    FAIL(l[2] > f[2] * 1.10 + 2048, "rss_producer");
    FAIL(l[3] > f[3] * 1.10 + 2048, "rss_consumer");
    FAIL(l[6] > f[6] + 2, "fds_producer");
    FAIL(l[5] > f[5] + 2, "fds_consumer");
    FAIL(l[0] > 1.5 * f[0] + 20, "p50");
    FAIL(l[1] > 2 * f[1] + 200, "p99");
    FAIL((double)s->disk_max > bound, "disk");
    FAIL(gaps > 0, "gaps");
    FAIL(dups > 0, "dups");
    FAIL(max_behind > (double)o->behind, "behind");
    FAIL(atomic_load(&s->sh->consumed) + atomic_load(&s->sh->skipped) != msgs,
         "not_all_consumed");
#undef FAIL
    printf("{\"bench\":\"soak\",\"summary\":true,\"secs\":%.1f,\"msgs\":%llu,"
           "\"rate\":%.1f,\"consumed\":%llu,\"intervals\":%zu,\"window\":%zu,"
           "\"p50_us_first\":%.1f,\"p50_us_last\":%.1f,\"p99_us_first\":%.1f,"
           "\"p99_us_last\":%.1f,\"rss_kb_producer_first\":%.0f,"
           "\"rss_kb_producer_last\":%.0f,\"rss_kb_consumer_first\":%.0f,"
           "\"rss_kb_consumer_last\":%.0f,\"fds_producer_first\":%.0f,"
           "\"fds_producer_last\":%.0f,\"fds_consumer_first\":%.0f,"
           "\"fds_consumer_last\":%.0f,\"fds_producer_nonseg_first\":%.0f,"
           "\"fds_producer_nonseg_last\":%.0f,\"disk_bytes_max\":%llu,"
           "\"disk_bound\":%.0f,\"segments_deleted\":%llu,\"first_delete_s\":%.1f,\"gaps\":%llu,"
           "\"dups\":%llu,\"jumps\":%llu,\"skipped\":%llu,\"max_behind_s\":%.3f,"
           "\"cpu_pct_producer\":%.1f,\"cpu_pct_consumer\":%.1f,"
           "\"polls\":%llu,\"commits\":%llu,\"acks\":\"%s\",\"fails\":[%s],"
           "\"verdict\":\"%s\"}\n",
           secs, (unsigned long long)msgs, secs > 0 ? (double)msgs / secs : 0,
           (unsigned long long)atomic_load(&s->sh->consumed), s->nrows, k,
           f[0], l[0], f[1], l[1], f[2], l[2], f[3], l[3], f[4], l[4], f[5],
           l[5], f[6], l[6], (unsigned long long)s->disk_max, bound,
           (unsigned long long)s->deleted, s->first_delete_s,
           (unsigned long long)gaps,
           (unsigned long long)dups,
           (unsigned long long)atomic_load(&s->sh->jumps),
           (unsigned long long)atomic_load(&s->sh->skipped), max_behind, cpu_p,
           cpu_c, (unsigned long long)atomic_load(&s->sh->polls),
           (unsigned long long)atomic_load(&s->sh->commits), o->acks, fails,
           fails[0] ? "NOT flat" : "flat");
    fflush(stdout);
    return fails[0] ? 1 : 0;
}

static void prod_fail(crawllog_t *log, crawllog_producer_t *prod, int rc,
                      const char *what, pid_t child)
{
    fprintf(stderr, "bench_soak: %s: %s: %s\n", what, crawllog_err_name(rc),
            prod ? crawllog_producer_errmsg(prod) : log ? crawllog_errmsg(log) : "");
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    exit(2);
}

static crawllog_producer_t *setup(const struct opts *o, crawllog_t *log, pid_t child)
{
    char num[32], err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf = NULL;
    crawllog_producer_t *prod = NULL;
    if (crawllog_conf_new(&conf) != CRAWLLOG_OK) {
        prod_fail(log, NULL, CRAWLLOG_ENOMEM, "conf", child);
    }
    snprintf(num, sizeof num, "%lld", o->segment);
    set_conf(conf, "segment.bytes", num);
    snprintf(num, sizeof num, "%lld", o->retention);
    set_conf(conf, "retention.bytes", num);
    int rc = crawllog_topic_create(log, TOPIC, (int32_t)o->parts, conf);
    crawllog_conf_destroy(conf);
    if (rc != CRAWLLOG_OK) {
        prod_fail(log, NULL, rc, "topic_create", child);
    }
    if (crawllog_conf_new(&conf) != CRAWLLOG_OK) {
        prod_fail(log, NULL, CRAWLLOG_ENOMEM, "conf", child);
    }
    set_conf(conf, "acks", o->acks);
    rc = crawllog_producer_new(log, conf, &prod, err, sizeof err);
    crawllog_conf_destroy(conf);
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "bench_soak: producer_new: %s\n", err);
        prod_fail(log, NULL, rc, "producer_new", child);
    }
    return prod;
}

static int child_gone(pid_t child, int *status)
{
    return waitpid(child, status, WNOHANG) == child;
}

static int run(const struct opts *o, struct shm *sh, pid_t child, int go_fd,
               int ready_fd)
{
    struct prod_state s = {.o = o, .sh = sh, .child = child, .first_delete_s = -1};
    crawllog_t *log = open_log(o->dir);
    crawllog_producer_t *prod = setup(o, log, child);
    char b, key[KEY_LEN], *val = malloc((size_t)o->vsize);
    int cstatus = 0, cdone = 0, ret = 0;
    if (val == NULL || write(go_fd, "g", 1) != 1) {
        prod_fail(log, prod, CRAWLLOG_EIO, "start the consumer", child);
    }
    if (read(ready_fd, &b, 1) != 1) {
        fprintf(stderr, "bench_soak: the consumer failed before it was ready\n");
        waitpid(child, NULL, 0);
        return 2;
    }
    memset(val, 'v', (size_t)o->vsize);
    uint64_t i = 0, iv = (uint64_t)o->report * 1000000000ull;
    uint64_t mv = (uint64_t)o->maint * 1000000000ull;
    uint64_t tick = (uint64_t)o->tick * 1000ull;
    s.t0 = s.last_t = now_ns();
    s.last_cpu_p = proc_cpu_s(getpid());
    s.last_cpu_c = proc_cpu_s(child);
    uint64_t t_end = s.t0 + (uint64_t)o->secs * 1000000000ull;
    uint64_t next_rep = s.t0 + iv, next_maint = s.t0 + mv;
    while (!g_stop) {
        uint64_t now = now_ns();
        if (now >= next_rep) {
            report(&s, now, i);
            next_rep += iv;
            if ((cdone = child_gone(child, &cstatus)) || atomic_load(&sh->failed)) {
                fprintf(stderr, "bench_soak: the consumer died\n");
                ret = 2;
                break;
            }
            continue;
        }
        if (now >= next_maint) {
            int64_t del = 0;
            int rc = crawllog_maintain(log, &del);
            uint64_t took = now_ns() - now;
            s.maint_ns = took > s.maint_ns ? took : s.maint_ns;
            if (rc != CRAWLLOG_OK) {
                prod_fail(log, prod, rc, "maintain", child);
            }
            s.deleted += (uint64_t)del;
            if (del > 0 && s.first_delete_s < 0) {
                s.first_delete_s = (double)(now - s.t0) / 1e9;
            }
            next_maint += mv;
            continue;
        }
        if (now >= t_end) {
            break;
        }
        uint64_t target = s.t0 + i * 1000000000ull / (uint64_t)o->rate;
        if (now < target) {
            uint64_t wake = target; /* rounded up to the -T tick grid */
            if (tick > 1) {
                wake = s.t0 + (target - s.t0 + tick - 1) / tick * tick;
            }
            wake = wake < next_rep ? wake : next_rep;
            wake = wake < next_maint ? wake : next_maint;
            sleep_until(wake < t_end ? wake : t_end);
            continue;
        }
        s.behind_ns = now - target > s.behind_ns ? now - target : s.behind_ns;
        make_key(key, i);
        uint64_t t1 = now_ns();
        memcpy(val, &t1, sizeof t1);
        memcpy(val + 8, &i, sizeof i);
        int rc = crawllog_producer_send(prod, TOPIC, CRAWLLOG_PARTITION_ANY, key,
                                        KEY_LEN, val, (size_t)o->vsize, NULL, 0,
                                        NULL);
        s.send_hist[h_idx(now_ns() - t1)]++;
        if (rc != CRAWLLOG_OK) {
            prod_fail(log, prod, rc, "send", child);
        }
        i++;
    }
    uint64_t t_stop = now_ns();
    int rc = crawllog_producer_flush(prod, -1);
    if (rc != CRAWLLOG_OK) {
        prod_fail(log, prod, rc, "flush", child);
    }
    if (ret == 0 && t_stop - s.last_t > 500000000ull) {
        report(&s, t_stop, i); /* the last, partial interval */
    }
    double secs = (double)(t_stop - s.t0) / 1e9;
    /* Wait for the consumer to catch up (bounded), then stop it. */
    uint64_t give_up = now_ns() + CATCHUP_SECS * 1000000000ull;
    while (ret == 0 && atomic_load(&sh->consumed) + atomic_load(&sh->skipped) < i &&
           now_ns() < give_up && !(cdone = child_gone(child, &cstatus))) {
        sleep_until(now_ns() + 10000000ull);
    }
    atomic_store(&sh->stop, 1);
    give_up = now_ns() + 10000000000ull;
    while (!cdone && !(cdone = child_gone(child, &cstatus)) && now_ns() < give_up) {
        sleep_until(now_ns() + 10000000ull);
    }
    if (!cdone) {
        fprintf(stderr, "bench_soak: the consumer did not stop: killing it\n");
        kill(child, SIGKILL);
        waitpid(child, &cstatus, 0);
    }
    if (!WIFEXITED(cstatus) || WEXITSTATUS(cstatus) != 0) {
        fprintf(stderr, "bench_soak: the consumer failed (status %d)\n", cstatus);
        ret = 2;
    }
    if ((rc = crawllog_producer_destroy(prod)) != CRAWLLOG_OK ||
        (rc = crawllog_close(log)) != CRAWLLOG_OK) {
        fprintf(stderr, "bench_soak: close: %s\n", crawllog_err_name(rc));
        ret = 2;
    }
    free(val);
    int v = summary(&s, secs, i);
    free(s.rows);
    return ret ? ret : v;
}

static long num(const char *s, const char *what, long long lo)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > INT32_MAX * 1024ll) {
        fprintf(stderr, "bench_soak: bad %s: %s\n", what, s);
        exit(2);
    }
    return (long)v;
}

int main(int argc, char **argv)
{
    struct opts o = {"/tmp/crawllog-soak", "1", 3600, 5000, 1000, 8, 10, 5, 10,
                     1000, 32ll << 20, 4ll << 20};
    int c;
    while ((c = getopt(argc, argv, "d:t:r:s:p:i:a:R:S:m:L:T:")) != -1) {
        switch (c) {
        case 'd': o.dir = optarg; break;
        case 't': o.secs = num(optarg, "-t", 1); break;
        case 'r': o.rate = num(optarg, "-r", 1); break;
        case 's': o.vsize = num(optarg, "-s", 16); break;
        case 'p': o.parts = num(optarg, "-p", 1); break;
        case 'i': o.report = num(optarg, "-i", 1); break;
        case 'a': o.acks = optarg; break;
        case 'R': o.retention = num(optarg, "-R", 0); break;
        case 'S': o.segment = num(optarg, "-S", 4096); break;
        case 'm': o.maint = num(optarg, "-m", 1); break;
        case 'L': o.behind = num(optarg, "-L", 1); break;
        case 'T': o.tick = num(optarg, "-T", 0); break;
        default:
            fprintf(stderr, "usage: %s [-d DIR] [-t secs] [-r msgs/s] "
                    "[-s value bytes] [-p partitions] [-i report secs] "
                    "[-a 0|1|all] [-R retention bytes] [-S segment bytes] "
                    "[-m maintain secs] [-L max behind secs] [-T tick us]\n", argv[0]);
            return 2;
        }
    }
    if (o.parts > MAX_PARTS || (strcmp(o.acks, "0") && strcmp(o.acks, "1") &&
                                strcmp(o.acks, "all"))) {
        fprintf(stderr, "bench_soak: -p at most %d, -a 0, 1 or all\n", MAX_PARTS);
        return 2;
    }
    double per_part = (double)o.rate * (double)(o.vsize + KEY_LEN + 75) / (double)o.parts;
    fprintf(stderr, "bench_soak: %ld msg/s of %ld bytes over %ld partitions for "
            "%ld s: ~%.0f KB/s per partition, a %lld-byte segment every ~%.1f s "
            "per partition, retention %lld bytes (~%.0f s), ~%.0f deletions "
            "expected\n", o.rate, o.vsize + KEY_LEN, o.parts, o.secs,
            per_part / 1e3, o.segment, (double)o.segment / per_part, o.retention,
            (double)o.retention / per_part,
            (double)o.parts * ((double)o.secs * per_part - (double)o.retention) /
                (double)o.segment);
    wipe(o.dir);
    struct shm *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int gp[2], rp[2]; /* gp: parent -> child "go"; rp: child -> parent "ready" */
    if (sh == MAP_FAILED || pipe(gp) || pipe(rp)) {
        fprintf(stderr, "bench_soak: mmap/pipe: %s\n", strerror(errno));
        return 2;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), child = fork();
    if (child < 0) {
        fprintf(stderr, "bench_soak: fork: %s\n", strerror(errno));
        return 2;
    }
    if (child == 0) {
        close(gp[1]);
        close(rp[0]);
        /* exit, not _exit: stdio was flushed before the fork, and leak
         * checkers run at exit. */
        exit(consumer_main(&o, sh, gp[0], rp[1], parent));
    }
    close(gp[0]);
    close(rp[1]); /* EOF on rp[0] if the child dies before it is ready */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int ret = run(&o, sh, child, gp[1], rp[0]);
    close(gp[1]);
    close(rp[0]);
    munmap(sh, sizeof *sh);
    return ret;
}
