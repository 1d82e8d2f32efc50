/*
 * test_migrate_groups.c - topic migration with consumer groups reading
 * through it (docs/MIGRATION.md, steps 4 and 5: groups switch from <old>
 * to <new>, then the migration is done), Jepsen-style, across processes:
 * 12 -> 3 and 3 -> 12 partitions under concurrent producers and two
 * groups, with a SIGKILL of the migration during its cut-over and of a
 * member of each group: per-key order, no loss, no committed redelivery.
 *
 * Processes (cl_test_fork_start; each with its own crawllog_t on one data
 * directory, each writing its own history file with one write(2) per line
 * on an O_APPEND descriptor, so a line survives a SIGKILL of its writer):
 *  - the parent pre-fills "old" (M partitions) with PRE_SEQ records of
 *    every key, then 2 producers (acks=all, idempotent) send to "old" with
 *    the key (murmur2 partition) until a stop file appears; producer i
 *    owns keys "p<i>k<j>", j < NKEY, and the value is "<key> <seq>", seq
 *    counting up from 0 per key.  After each acknowledged send the
 *    history gets "<key> <seq>" (files p0.log, p1.log, pre.log).
 *  - groups "ga" and "gb", 2 members each, subscribed to "old", manual
 *    commits: for each message "D <ns> <topic> <p> <off> <key> <seq>";
 *    for the last message of each partition in a poll's batch, then
 *    "S <ns> <topic> <p> <off+1>", a durable commit of the message (which
 *    covers the batch's earlier ones: a kill in between redelivers them),
 *    then "C ..." (committed) or "F ... <error>" (refused with
 *    CRAWLLOG_EGENERATION: the member no longer owns the partition).
 *    Times are CLOCK_MONOTONIC ns, one clock for every process.  Files
 *    c-<group>-<member>-<incarnation>.log.
 *  - the migration "old" -> "new" (N partitions) in a child that arms a
 *    CRASH failpoint when its progress callback reports the cut-over: a
 *    SIGKILL at the 40th I/O operation after it for 12 -> 3 (while the old
 *    partitions are being fenced: stale fences, state still "copying"),
 *    at the 60th for 3 -> 12 (mostly after the file says "redirect",
 *    before the partitions are marked; the output tells which).  Right
 *    after, a member of ga is killed and restarted; then a second child
 *    migrates to completion.  gb stops polling (a pause file) 200 ms
 *    before the first migration and resumes after the second: it has a
 *    backlog on "old" to finish before it may read "new"; 0-150 ms after
 *    it resumes a member of gb is killed and restarted.
 * The producers run ~1 s more and stop; each group must then have
 * committed every partition of "new" up to its log end (watched with
 * crawllog_group_describe); the members stop once idle.
 *
 * Checker, per group, from the histories and crawllog_topic_migration():
 *  - no loss: every acknowledged (key, seq) was delivered;
 *  - nothing delivered that was not acknowledged;
 *  - no committed redelivery: no delivery of a (key, seq) after the C line
 *    of a commit past one of its offsets (same topic and partition);
 *  - no delivery of "new" below start[q], none of "old" at or past cut[p];
 *  - per-key order: a record of a key delivered from "new" comes after
 *    the S line of a successful commit covering each record of that key
 *    delivered from "old"; the first deliveries of a key's records come
 *    in seq order; within one process a partition's offsets increase
 *    (until a failed commit, after which it may be re-read);
 *  - the migration ends in state CRAWLLOG_MIGRATION_DONE.
 * Children are recorded and the teardown SIGKILLs and reaps what is left.
 * SEED=N replays the random timings and the killed members.
 */
#include "helpers.h"
#include "io.h" /* cl_fp_set: the crash failpoint of the migration child */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* 1: the scenario migrates.  0: the same scenario without the migration
 * calls and their checks (to validate producers, consumers and checker). */
#define MIGRATE 1

#define NPROD 2
#define NKEY 16 /* keys per producer */
#define KEYS (NPROD * NKEY)
#define PRE_SEQ 10   /* pre-filled records per key */
#define MAXSEQ 16384 /* seq bound per key (checked) */
#define NCONS 2      /* members per group */
#define POLL_MAX 64
#define NTP 32 /* topic (0: old, 1: new) * 16 + partition */
#define NSHOW 5 /* violations printed per group */

static const char *const GROUPS[2] = {"ga", "gb"};

/* ---------------------------------------------------------------------- */
/* Shared                                                                  */
/* ---------------------------------------------------------------------- */

struct run {
    char data[4200], logs[4200], pstop[4300], cstop[4300], gbpause[4300];
    int32_t m, n;
    pid_t prod[NPROD];
    pid_t cons[2][NCONS];
    int inc[2][NCONS]; /* incarnation of each member */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int open_out(const char *dir, const char *name)
{
    char path[4400];
    cl_test_path(path, sizeof(path), dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cl_test_checkf(fd >= 0, "open %s: %s", path, strerror(errno));
    return fd;
}

static void out_line(int fd, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* One line, one write(2): whole or absent after a SIGKILL. */
static void out_line(int fd, const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cl_test_check(len > 0 && (size_t)len < sizeof(buf));
    ssize_t w;
    do {
        w = write(fd, buf, (size_t)len);
    } while (w < 0 && errno == EINTR);
    cl_test_checkf(w == len, "history write: %s", strerror(errno));
}

static crawllog_producer_t *new_producer(crawllog_t *log)
{
    crawllog_conf_t *conf =
        cl_test_conf("acks", "all", "enable.idempotence", "true", NULL);
    crawllog_producer_t *prod = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_producer_new(log, conf, &prod, es, sizeof(es));
    cl_test_checkf(rc == 0, "producer_new: %s: %s", crawllog_err_name(rc), es);
    crawllog_conf_destroy(conf);
    return prod;
}

/* Send (key p<i>k<j>, seq) to "old" and, once acknowledged, log it. */
static void send_logged(crawllog_producer_t *prod, int fd, int i, int j,
                        int seq)
{
    char key[16], val[32];
    snprintf(key, sizeof(key), "p%dk%d", i, j);
    snprintf(val, sizeof(val), "%s %d", key, seq);
    int64_t off = -1;
    int rc =
        crawllog_producer_send(prod, "old", CRAWLLOG_PARTITION_ANY, key,
                               strlen(key), val, strlen(val), NULL, 0, &off);
    cl_test_checkf(rc == 0 && off >= 0, "send %s: %s: %s", val,
                   crawllog_err_name(rc), crawllog_producer_errmsg(prod));
    out_line(fd, "%s %d\n", key, seq);
}

/* ---------------------------------------------------------------------- */
/* Children                                                                */
/* ---------------------------------------------------------------------- */

struct prod_arg {
    const struct run *r;
    int id;
    uint64_t seed;
};

static void producer_child(void *arg)
{
    const struct prod_arg *a = arg;
    char name[32];
    snprintf(name, sizeof(name), "p%d.log", a->id);
    int fd = open_out(a->r->logs, name);
    crawllog_t *log = cl_test_open(a->r->data, NULL);
    crawllog_producer_t *prod = new_producer(log);
    int seq[NKEY];
    for (int j = 0; j < NKEY; j++) {
        seq[j] = PRE_SEQ;
    }
    uint64_t rng = a->seed;
    while (!cl_test_exists(a->r->pstop)) {
        int j = (int)cl_test_rand_below(&rng, NKEY);
        send_logged(prod, fd, a->id, j, seq[j]++);
        cl_test_sleep_ms(1);
    }
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    assert_crawllog_ok(crawllog_close(log));
    close(fd);
}

struct cons_arg {
    const struct run *r;
    int g, idx, inc;
};

static int topic_index(const char *topic)
{
    return strcmp(topic, "old") == 0 ? 0 : strcmp(topic, "new") == 0 ? 1 : -1;
}

/* 1 if no later message of msgs[0..n) is of msgs[i]'s partition. */
static int last_of_partition(const crawllog_msg_t *const *msgs, size_t n,
                             size_t i)
{
    for (size_t k = i + 1; k < n; k++) {
        if (crawllog_msg_partition(msgs[k]) ==
                crawllog_msg_partition(msgs[i]) &&
            strcmp(crawllog_msg_topic(msgs[k]), crawllog_msg_topic(msgs[i])) ==
                0) {
            return 0;
        }
    }
    return 1;
}

static void consumer_child(void *arg)
{
    const struct cons_arg *a = arg;
    const char *group = GROUPS[a->g];
    char name[64], err[256];
    snprintf(name, sizeof(name), "c-%s-%d-%d.log", group, a->idx, a->inc);
    int fd = open_out(a->r->logs, name);
    crawllog_t *log = cl_test_open(a->r->data, NULL);
    crawllog_conf_t *conf = cl_test_conf(
        "group.id", group, "auto.offset.reset", "earliest",
        "enable.auto.commit", "false", "heartbeat.interval.ms", "50", NULL);
    crawllog_consumer_t *c = NULL;
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    cl_test_checkf(rc == 0, "consumer_new: %s: %s", crawllog_err_name(rc), err);
    crawllog_conf_destroy(conf);
    const char *topics[] = {"old"};
    rc = crawllog_consumer_subscribe(c, topics, 1);
    cl_test_checkf(rc == 0, "subscribe: %s: %s", crawllog_err_name(rc),
                   crawllog_consumer_errmsg(c));
    int64_t busy_ms = cl_test_mono_ms();
    for (;;) {
        const crawllog_msg_t *msgs[POLL_MAX];
        size_t n = 0;
        if (a->g == 1 && cl_test_exists(a->r->gbpause)) {
            cl_test_sleep_ms(5); /* gb falls behind: a backlog at the cut */
            continue;
        }
        rc = crawllog_consumer_poll(c, 50, msgs, POLL_MAX, &n);
        cl_test_checkf(rc == 0, "%s: poll: %s: %s", name, crawllog_err_name(rc),
                       crawllog_consumer_errmsg(c));
        if (n == 0) {
            if (cl_test_mono_ms() - busy_ms >= 300 &&
                cl_test_exists(a->r->cstop)) {
                break;
            }
            continue;
        }
        int failed[NTP] = {0}; /* partitions whose commit was refused */
        int slept = 0;
        for (size_t i = 0; i < n; i++) {
            const char *topic = crawllog_msg_topic(msgs[i]);
            int32_t p = crawllog_msg_partition(msgs[i]);
            int64_t off = crawllog_msg_offset(msgs[i]);
            int t = topic_index(topic);
            cl_test_checkf(t >= 0 && p >= 0 && p < 16, "%s: message of %s/%d",
                           name, topic, (int)p);
            if (failed[t * 16 + p]) {
                continue; /* not ours any more: skip, re-read if it is */
            }
            size_t kl = 0, vl = 0;
            const char *k = crawllog_msg_key(msgs[i], &kl);
            const char *v = crawllog_msg_value(msgs[i], &vl);
            char val[32], key[16];
            int seq = -1;
            cl_test_check(v != NULL && vl < sizeof(val));
            memcpy(val, v, vl);
            val[vl] = '\0';
            cl_test_checkf(sscanf(val, "%15s %d", key, &seq) == 2 &&
                               k != NULL && kl == strlen(key) &&
                               memcmp(k, key, kl) == 0,
                           "%s: %s/%d@%" PRId64 ": bad record \"%s\"", name,
                           topic, (int)p, off, val);
            out_line(fd, "D %" PRId64 " %s %d %" PRId64 " %s %d\n", now_ns(),
                     topic, (int)p, off, key, seq);
            if (!last_of_partition(msgs, n, i)) {
                continue; /* the partition's last message commits them all:
                             a kill before it makes redeliveries */
            }
            if (!slept) {
                /* "Processing" the batch: a kill now finds handed-out,
                 * uncommitted messages (the at-least-once window). */
                struct timespec work = {0, 3 * 1000000L};
                nanosleep(&work, NULL);
                slept = 1;
            }
            out_line(fd, "S %" PRId64 " %s %d %" PRId64 "\n", now_ns(), topic,
                     (int)p, off + 1);
            rc = crawllog_consumer_commit(c, msgs[i], CRAWLLOG_SYNC_DURABLE);
            if (rc == 0) {
                out_line(fd, "C %" PRId64 " %s %d %" PRId64 "\n", now_ns(),
                         topic, (int)p, off + 1);
                continue;
            }
            cl_test_checkf(rc == CRAWLLOG_EGENERATION, "%s: commit: %s: %s",
                           name, crawllog_err_name(rc),
                           crawllog_consumer_errmsg(c));
            out_line(fd, "F %" PRId64 " %s %d %" PRId64 " %s\n", now_ns(),
                     topic, (int)p, off + 1, crawllog_err_name(rc));
            failed[t * 16 + p] = 1;
            (void)crawllog_consumer_seek(c, topic, p, off); /* if still ours */
        }
        busy_ms = cl_test_mono_ms();
    }
    rc = crawllog_consumer_close(c);
    cl_test_checkf(rc == 0, "%s: close: %s: %s", name, crawllog_err_name(rc),
                   crawllog_consumer_errmsg(c));
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_close(log));
    close(fd);
}

struct mig_arg {
    const struct run *r;
    const char *crash; /* failpoint spec armed at the cut-over; NULL: none */
};

static void mig_progress(void *opaque, const crawllog_migrate_progress_t *p)
{
    const struct mig_arg *a = opaque;
    if (p->cutover == 1 && a->crash != NULL) {
        cl_test_check(cl_fp_set(a->crash) == 0);
    }
}

static void migrate_child(void *arg)
{
    const struct mig_arg *a = arg;
    crawllog_t *log = cl_test_open(a->r->data, NULL);
    int rc = crawllog_topic_migrate(log, "old", "new", a->r->n, mig_progress,
                                    (void *)a);
    cl_test_checkf(rc == 0, "migrate: %s: %s", crawllog_err_name(rc),
                   crawllog_errmsg(log));
    cl_test_checkf(a->crash == NULL, "migration survived %s", a->crash);
    assert_crawllog_ok(crawllog_close(log));
}

/* ---------------------------------------------------------------------- */
/* Checker                                                                 */
/* ---------------------------------------------------------------------- */

struct dl { /* a D line */
    int64_t t, off;
    int32_t tp, key, seq, proc;
};

struct cm { /* a successful (or possibly successful) commit: S then C */
    int64_t s_t, c_t, off; /* c_t INT64_MAX: unknown (member killed) */
    int32_t tp, proc;
    int dangling; /* S line without C or F: the member was killed */
};

struct gstate {
    const char *group;
    struct dl *d;
    size_t nd, capd;
    struct cm *c;
    size_t nc, capc;
    int64_t *suf_s, *suf_c; /* per sorted commit: min over its tp above */
    size_t fails, viol, procs;
};

static void viol(struct gstate *g, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void viol(struct gstate *g, const char *fmt, ...)
{
    if (g->viol++ < NSHOW) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        print_error("group %s: %s\n", g->group, buf);
    }
}

static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return arr;
    }
    *cap = *cap ? *cap * 2 : 1024;
    void *p = realloc(arr, *cap * elem);
    assert_non_null(p);
    return p;
}

/* acked[key * MAXSEQ + seq]: 1 if acknowledged. */
static size_t read_acked(const char *logs, unsigned char *acked)
{
    static const char *const files[] = {"pre.log", "p0.log", "p1.log"};
    size_t n = 0;
    for (size_t f = 0; f < 3; f++) {
        char path[4400];
        cl_test_path(path, sizeof(path), logs, files[f]);
        char *buf = cl_test_read_file(path, NULL);
        char *save = NULL;
        for (char *l = strtok_r(buf, "\n", &save); l != NULL;
             l = strtok_r(NULL, "\n", &save)) {
            int i, j, seq;
            if (sscanf(l, "p%dk%d %d", &i, &j, &seq) != 3 || i < 0 ||
                i >= NPROD || j < 0 || j >= NKEY || seq < 0 || seq >= MAXSEQ ||
                acked[(i * NKEY + j) * MAXSEQ + seq]) {
                fail_msg("%s: bad or repeated line \"%s\"", path, l);
            }
            acked[(i * NKEY + j) * MAXSEQ + seq] = 1;
            n++;
        }
        free(buf);
    }
    return n;
}

static void parse_member(struct gstate *g, const char *path, int proc)
{
    char *buf = cl_test_read_file(path, NULL);
    int64_t last[NTP];
    struct cm s = {0, 0, 0, 0, 0, 0};
    int have_s = 0;
    for (int i = 0; i < NTP; i++) {
        last[i] = -1;
    }
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        char kind, topic[8];
        int64_t t, off;
        int p, ki = 0, kj = 0, seq = 0, got;
        if (l[0] == 'D') {
            got = sscanf(l, "%c %" SCNd64 " %7s %d %" SCNd64 " p%dk%d %d",
                         &kind, &t, topic, &p, &off, &ki, &kj, &seq) -
                  3;
        } else {
            got = sscanf(l, "%c %" SCNd64 " %7s %d %" SCNd64, &kind, &t, topic,
                         &p, &off);
        }
        int ti = got == 5 ? topic_index(topic) : -1;
        if (ti < 0 || p < 0 || p >= 16 || ki < 0 || ki >= NPROD || kj < 0 ||
            kj >= NKEY || seq < 0 || seq >= MAXSEQ) {
            fail_msg("%s: bad line \"%s\"", path, l);
        }
        int32_t tp = ti * 16 + p;
        if (kind == 'D') {
            if (off <= last[tp]) {
                viol(g, "%s: %s/%d offset %" PRId64 " delivered after %" PRId64,
                     path, topic, p, off, last[tp]);
            }
            last[tp] = off;
            g->d = grow(g->d, &g->capd, g->nd + 1, sizeof(*g->d));
            g->d[g->nd++] = (struct dl){t, off, tp, ki * NKEY + kj, seq, proc};
        } else if (kind == 'S' && !have_s) {
            s = (struct cm){t, INT64_MAX, off, tp, proc, 1};
            have_s = 1;
        } else if ((kind == 'C' || kind == 'F') && have_s && s.tp == tp &&
                   s.off == off) {
            have_s = 0;
            if (kind == 'F') {
                g->fails++;
                last[tp] = -1; /* refused: the partition may be re-read */
                continue;
            }
            s.c_t = t;
            s.dangling = 0;
            g->c = grow(g->c, &g->capc, g->nc + 1, sizeof(*g->c));
            g->c[g->nc++] = s;
        } else {
            fail_msg("%s: unexpected line \"%s\"", path, l);
        }
    }
    if (have_s) { /* killed between S and its outcome */
        g->c = grow(g->c, &g->capc, g->nc + 1, sizeof(*g->c));
        g->c[g->nc++] = s;
    }
    free(buf);
}

static void read_group(struct gstate *g, const char *logs)
{
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "c-%s-", g->group);
    DIR *dir = opendir(logs);
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char path[4400];
            cl_test_path(path, sizeof(path), logs, e->d_name);
            parse_member(g, path, (int)g->procs++);
        }
    }
    closedir(dir);
}

static int cmp_dl(const void *a, const void *b)
{
    const struct dl *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    if (x->seq != y->seq) {
        return x->seq < y->seq ? -1 : 1;
    }
    return x->t < y->t ? -1 : x->t > y->t;
}

static int cmp_cm(const void *a, const void *b)
{
    const struct cm *x = a, *y = b;
    if (x->tp != y->tp) {
        return x->tp < y->tp ? -1 : 1;
    }
    return x->off < y->off ? -1 : x->off > y->off;
}

/* A commit whose member died before its outcome took effect unless
 * another member later re-read the partition below its offset (a new
 * owner starts at the committed offset).  Then index the commits. */
static void index_commits(struct gstate *g)
{
    for (size_t i = 0; i < g->nc; i++) {
        struct cm *c = &g->c[i];
        for (size_t j = 0; c->dangling && j < g->nd; j++) {
            const struct dl *d = &g->d[j];
            if (d->proc != c->proc && d->tp == c->tp && d->off < c->off &&
                d->t > c->s_t) {
                c->s_t = INT64_MAX; /* did not take effect */
                c->dangling = 0;
            }
        }
    }
    qsort(g->c, g->nc, sizeof(*g->c), cmp_cm);
    g->suf_s = calloc(g->nc + 1, sizeof(int64_t));
    g->suf_c = calloc(g->nc + 1, sizeof(int64_t));
    assert_true(g->suf_s != NULL && g->suf_c != NULL);
    for (size_t i = g->nc; i-- > 0;) {
        int same = i + 1 < g->nc && g->c[i + 1].tp == g->c[i].tp;
        int64_t s = g->c[i].s_t, c = g->c[i].c_t;
        g->suf_s[i] = same && g->suf_s[i + 1] < s ? g->suf_s[i + 1] : s;
        g->suf_c[i] = same && g->suf_c[i + 1] < c ? g->suf_c[i + 1] : c;
    }
}

/* Earliest S and C times of the group's commits of tp past off (a commit
 * of off + 1 or more covers the record at off); INT64_MAX if none. */
static void covering(const struct gstate *g, int32_t tp, int64_t off,
                     int64_t *s_min, int64_t *c_min)
{
    size_t lo = 0, hi = g->nc;
    while (lo < hi) { /* first commit > (tp, off) */
        size_t mid = (lo + hi) / 2;
        const struct cm *c = &g->c[mid];
        if (c->tp < tp || (c->tp == tp && c->off <= off)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    int found = lo < g->nc && g->c[lo].tp == tp;
    *s_min = found ? g->suf_s[lo] : INT64_MAX;
    *c_min = found ? g->suf_c[lo] : INT64_MAX;
}

static const char *tpname(int32_t tp, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%d", tp < 16 ? "old" : "new", (int)(tp % 16));
    return buf;
}

static void check_group(struct gstate *g, const unsigned char *acked,
                        size_t nacked, const crawllog_migration_t *mi,
                        int64_t t0)
{
    int64_t *first = calloc((size_t)KEYS * MAXSEQ, sizeof(int64_t));
    int64_t need[KEYS] = {0}; /* a key's records of new: after this time */
    size_t redeliveries = 0, from_new = 0;
    int64_t new_t = INT64_MAX; /* first delivery from new */
    char b1[16];
    assert_non_null(first);
    index_commits(g);
    qsort(g->d, g->nd, sizeof(*g->d), cmp_dl);
    for (size_t i = 0, j; i < g->nd; i = j) {
        const struct dl *d = &g->d[i];
        int64_t tc = INT64_MAX;
        for (j = i; j < g->nd && g->d[j].key == d->key && g->d[j].seq == d->seq;
             j++) {
            int64_t s_min, c_min;
            covering(g, g->d[j].tp, g->d[j].off, &s_min, &c_min);
            tc = c_min < tc ? c_min : tc;
            if (g->d[j].tp < 16 && s_min > need[d->key]) {
                need[d->key] = s_min;
            }
        }
        if (!acked[d->key * MAXSEQ + d->seq]) {
            viol(g, "p%dk%d %d delivered (%s@%" PRId64 ") but never acked",
                 d->key / NKEY, d->key % NKEY, d->seq,
                 tpname(d->tp, b1, sizeof(b1)), d->off);
        }
        first[d->key * MAXSEQ + d->seq] = d->t;
        redeliveries += j - i - 1;
        for (size_t k = i; k < j; k++) {
            if (g->d[k].t > tc) {
                viol(g,
                     "p%dk%d %d redelivered (%s@%" PRId64 ", t=%" PRId64
                     ") after a commit past it (t=%" PRId64 ")",
                     d->key / NKEY, d->key % NKEY, d->seq,
                     tpname(g->d[k].tp, b1, sizeof(b1)), g->d[k].off, g->d[k].t,
                     tc);
            }
        }
    }
    for (size_t i = 0; i < g->nd; i++) {
        const struct dl *d = &g->d[i];
        int32_t p = d->tp % 16;
        if (d->tp >= 16) {
            from_new++;
            new_t = d->t < new_t ? d->t : new_t;
            if (d->t <= need[d->key]) {
                viol(g,
                     "p%dk%d %d delivered from new/%d@%" PRId64 " before "
                     "the key's records of old were committed",
                     d->key / NKEY, d->key % NKEY, d->seq, (int)p, d->off);
            }
        }
        if (mi == NULL) {
            continue;
        }
        if (d->tp >= 16 && (p >= mi->partitions || d->off < mi->start[p])) {
            viol(g, "new/%d@%" PRId64 " delivered: below start %" PRId64,
                 (int)p, d->off, p < mi->partitions ? mi->start[p] : -1);
        }
        if (d->tp < 16 && (p >= mi->old_partitions || d->off >= mi->cut[p])) {
            viol(g, "old/%d@%" PRId64 " delivered: at or past the cut", (int)p,
                 d->off);
        }
    }
    for (int k = 0; k < KEYS; k++) {
        int64_t prev = 0;
        for (int s = 0; s < MAXSEQ; s++) {
            int64_t t = first[k * MAXSEQ + s];
            if (acked[k * MAXSEQ + s] && t == 0) {
                viol(g, "p%dk%d %d acked, never delivered: lost", k / NKEY,
                     k % NKEY, s);
            }
            if (t != 0 && t < prev) {
                viol(g, "p%dk%d %d first delivered before an earlier seq",
                     k / NKEY, k % NKEY, s);
            }
            prev = t != 0 ? t : prev;
        }
    }
    if (mi != NULL && from_new == 0) {
        viol(g, "nothing delivered from new");
    }
    print_message("group %s: %zu records acked, %zu deliveries (%zu from "
                  "new, the first %+.0f ms after the migration ended), %zu "
                  "redeliveries, %zu commits (%zu refused), %zu histories, "
                  "%zu violations\n",
                  g->group, nacked, g->nd, from_new,
                  from_new ? (double)(new_t - t0) / 1e6 : 0.0, redeliveries,
                  g->nc, g->fails, g->procs, g->viol);
    free(first);
}

/* ---------------------------------------------------------------------- */
/* Parent                                                                  */
/* ---------------------------------------------------------------------- */

static void start_member(struct run *r, int g, int i)
{
    struct cons_arg a = {r, g, i, r->inc[g][i]};
    r->cons[g][i] = cl_test_kids_spawn(consumer_child, &a);
}

static void restart_member(struct run *r, int g, int i)
{
    assert_int_equal(kill(r->cons[g][i], SIGKILL), 0);
    cl_test_assert_killed_by(cl_test_kids_reap(r->cons[g][i], 2000), SIGKILL);
    r->inc[g][i]++;
    start_member(r, g, i);
}

static void touch(const char *path)
{
    cl_test_write_file(path, "", 0);
}

/* 1 if every partition of topic (parts) is committed by group up to its
 * log end; with show, print the group's partitions. */
static int drained(crawllog_t *log, const char *group, const char *topic,
                   int32_t parts, int show)
{
    crawllog_group_desc_t *desc = NULL;
    int rc = crawllog_group_describe(log, group, &desc);
    if (rc != 0) {
        return 0;
    }
    int done = 0;
    for (int32_t q = 0; q < parts; q++) {
        int64_t end = -1;
        assert_crawllog_ok(
            crawllog_partition_offsets(log, topic, q, NULL, &end));
        for (size_t i = 0; i < desc->partition_count; i++) {
            const crawllog_group_partition_t *gp = &desc->partitions[i];
            if (strcmp(gp->topic, topic) == 0 && gp->partition == q &&
                gp->committed == end && gp->log_end == end && gp->lag == 0) {
                done++;
            }
        }
    }
    for (size_t i = 0; show && i < desc->partition_count; i++) {
        const crawllog_group_partition_t *gp = &desc->partitions[i];
        print_error("  %s %s/%d committed %" PRId64 " log end %" PRId64 "\n",
                    group, gp->topic, (int)gp->partition, gp->committed,
                    gp->log_end);
    }
    crawllog_group_desc_free(desc);
    return done == parts;
}

static void scenario(void **state, int32_t m, int32_t n, const char *crash)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    r.m = m;
    r.n = n;
    cl_test_path(r.data, sizeof(r.data), CL_TEST_DIR(state), "data");
    cl_test_path(r.logs, sizeof(r.logs), CL_TEST_DIR(state), "logs");
    snprintf(r.pstop, sizeof(r.pstop), "%s/stop.producers", r.logs);
    snprintf(r.cstop, sizeof(r.cstop), "%s/stop.consumers", r.logs);
    snprintf(r.gbpause, sizeof(r.gbpause), "%s/pause.gb", r.logs);
    assert_int_equal(mkdir(r.logs, 0700), 0);
    uint64_t rng = CL_TEST_SEED ^ ((uint64_t)m << 32 | (uint64_t)n);

    /* 1. "old", pre-filled (and logged as acknowledged). */
    crawllog_conf_t *conf = cl_test_conf("log.dir.create", "true", NULL);
    crawllog_t *log = cl_test_open(r.data, conf);
    crawllog_conf_destroy(conf);
    cl_test_create_topic(log, "old", m, NULL);
    crawllog_producer_t *prod = new_producer(log);
    int fd = open_out(r.logs, "pre.log");
    for (int s = 0; s < PRE_SEQ; s++) {
        for (int k = 0; k < KEYS; k++) {
            send_logged(prod, fd, k / NKEY, k % NKEY, s);
        }
    }
    close(fd);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    assert_crawllog_ok(crawllog_close(log)); /* no handle across forks */

    /* 2-3. Members, then producers. */
    for (int g = 0; g < 2; g++) {
        for (int i = 0; i < NCONS; i++) {
            start_member(&r, g, i);
        }
    }
    for (int i = 0; i < NPROD; i++) {
        struct prod_arg a = {&r, i, cl_test_rand(&rng)};
        r.prod[i] = cl_test_kids_spawn(producer_child, &a);
    }
    cl_test_kids_sleep(300 + (int64_t)cl_test_rand_below(&rng, 300));
    /* gb stops polling: at the cut-over it is behind on "old". */
    touch(r.gbpause);
    cl_test_kids_sleep(200);

    /* 4. Migration killed in its cut-over, a member of ga killed; the
     *    migration again, to the end; gb resumes, must finish its backlog
     *    on "old" before it reads "new", and a member of gb is killed
     *    during that drain or the switch. */
#if MIGRATE
    struct mig_arg ma = {&r, crash};
    cl_test_assert_killed_by(cl_test_kids_reap(cl_test_kids_spawn(migrate_child, &ma), 10000), SIGKILL);
    log = cl_test_open(r.data, NULL);
    crawllog_migration_t *crashed = NULL;
    assert_crawllog_ok(crawllog_topic_migration(log, "old", &crashed));
    print_message("migration %d -> %d killed in its cut-over (%s): state "
                  "%s\n",
                  (int)m, (int)n, crash,
                  crashed->state == CRAWLLOG_MIGRATION_COPYING ? "copying"
                                                               : "redirect");
    crawllog_migration_free(crashed);
    assert_crawllog_ok(crawllog_close(log));
#else
    (void)crash;
    (void)migrate_child;
#endif
    restart_member(&r, 0, (int)cl_test_rand_below(&rng, NCONS));
#if MIGRATE
    ma.crash = NULL;
    cl_test_assert_exit_ok(cl_test_kids_reap(cl_test_kids_spawn(migrate_child, &ma), 10000));
#endif
    int64_t t0 = now_ns();
    assert_int_equal(unlink(r.gbpause), 0);
    cl_test_kids_sleep((int64_t)cl_test_rand_below(&rng, 150)); /* switch */
    restart_member(&r, 1, (int)cl_test_rand_below(&rng, NCONS));
    print_message("a member of gb killed %.0f ms after the migration "
                  "ended\n",
                  (double)(now_ns() - t0) / 1e6);

    /* 5. Producers on for ~1 s, then stopped; the groups drain "new". */
    cl_test_kids_sleep(1000);
    touch(r.pstop);
    for (int i = 0; i < NPROD; i++) {
        cl_test_assert_exit_ok(cl_test_kids_reap(r.prod[i], 5000));
    }
    log = cl_test_open(r.data, NULL);
    const char *topic = MIGRATE ? "new" : "old";
    int32_t parts = MIGRATE ? n : m;
    int64_t deadline = cl_test_mono_ms() + 10000;
    for (int g = 0; g < 2; g++) {
        while (!drained(log, GROUPS[g], topic, parts, 0)) {
            if (cl_test_mono_ms() > deadline) {
                (void)drained(log, GROUPS[g], topic, parts, 1);
                fail_msg("group %s did not commit all of %s within 10 s",
                         GROUPS[g], topic);
            }
            cl_test_kids_check_running();
            cl_test_sleep_ms(20);
        }
    }
    touch(r.cstop);
    for (int g = 0; g < 2; g++) {
        for (int i = 0; i < NCONS; i++) {
            cl_test_assert_exit_ok(cl_test_kids_reap(r.cons[g][i], 5000));
        }
    }

    /* 6. Check each group's histories. */
    crawllog_migration_t *mi = NULL;
    assert_crawllog_ok(crawllog_topic_migration(log, "old", &mi));
    unsigned char *acked = calloc((size_t)KEYS * MAXSEQ, 1);
    assert_non_null(acked);
    size_t nacked = read_acked(r.logs, acked);
    size_t bad = 0;
    for (int g = 0; g < 2; g++) {
        struct gstate gs;
        memset(&gs, 0, sizeof(gs));
        gs.group = GROUPS[g];
        read_group(&gs, r.logs);
        check_group(&gs, acked, nacked, MIGRATE ? mi : NULL, t0);
        bad += gs.viol;
        free(gs.d);
        free(gs.c);
        free(gs.suf_s);
        free(gs.suf_c);
    }
    free(acked);
    crawllog_migration_state_t st = mi->state;
    crawllog_migration_free(mi);
    assert_crawllog_ok(crawllog_close(log));
    assert_int_equal(bad, 0);
    if (MIGRATE) {
        assert_int_equal(st, CRAWLLOG_MIGRATION_DONE);
    }
}

static void test_groups_12_to_3(void **state)
{
    scenario(state, 12, 3, "*=CRASH@40");
}

static void test_groups_3_to_12(void **state)
{
    scenario(state, 3, 12, "*=CRASH@60");
}

static int teardown(void **state)
{
    cl_test_kids_kill_all();
    return cl_test_tmpdir_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_groups_12_to_3,
                                        cl_test_fast_tmpdir_setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_3_to_12,
                                        cl_test_fast_tmpdir_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
