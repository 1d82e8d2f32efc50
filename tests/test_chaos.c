/*
 * test_chaos.c - reliability plan T6: multi-process kill -9 chaos with a
 * Jepsen-style checker (reliability.md §4.7, at-least-once window §4.0).
 *
 * A driver forks 3 producers and 5 consumers on one data directory: topic
 * "chaos", 4 partitions, 64 KiB segments, max.message.bytes 8192,
 * retention off (the checker needs every record).
 *  - p0: acks=all, producer.id "chaos-p0", explicit sequences
 *    (crawllog_producer_send_sequenced); p1: acks=all, anonymous id,
 *    automatic sequences; p2: acks=1, producer.id "chaos-p2", sequenced.
 *    All idempotent.  Batches of 1-4 records; 1 send in 40 is one record
 *    above max.message.bytes (CRAWLLOG_ETOOBIG: a definite failure).  A
 *    restarted producer first re-sends its last unanswered send: with its
 *    sequence (sequenced producers: idempotence must not write it twice),
 *    or as a plain new send (p1: a duplicate is then allowed).
 *  - 3 members of group g1 and 2 of g2, cooperative-sticky, manual
 *    commits (a random subset of polls, WRITTEN or DURABLE), a commit of
 *    what was processed in the revoke callback, max.deliveries=0.
 * Every value is "<id as 16 hex digits>:<filler made from the id>", so a
 * record is checked byte for byte without trusting the library.
 *
 * Each child journals what it did (grammar in tests/chaos_check.h).
 * Every U(20,500) ms the driver SIGKILLs a random child and restarts it;
 * with p=0.1 it kills all of them instead.  Each such event is one
 * iteration.  Every CL_CHAOS_ROUND (50) iterations, and at the end, it
 * quiesces: producers stop (stop file), both groups must commit every
 * partition up to its log end (liveness, CL_CHAOS_LIVENESS_MS, 5 s), the
 * consumers are SIGKILLed, the directory is opened once (recovery) and
 * drained from offset 0, crawllog_verify must be clean, and the checker
 * runs over the round's journals (then deleted).  Every
 * CL_CHAOS_DIR_ROUNDS (20) rounds a fresh data directory is used.
 *
 * The checker (tests/chaos_check.h) reports lost, inconsistent,
 * duplicate, aborted-read, nonmonotonic-poll, poll-skip, group-duplicate,
 * commit-regression, double-owner and liveness violations; unit cases
 * feed it synthetic journals with each violation and one clean journal.
 *
 * Environment: CL_CHAOS_ITERS (default 30, < 20 s), SEED=N (replays
 * the random choices, not the timing), CL_CHAOS_ROUND,
 * CL_CHAOS_LIVENESS_MS, CL_CHAOS_DIR_ROUNDS, CL_TEST_KEEP (keep the
 * directory), CL_TEST_FILTER, TMPDIR (the data and journals; on a disk
 * more kills land in an fsync than on /dev/shm).  Output: "chaos:
 * SEED=<n> iters=<k>" first, a summary line last.  CI: 300 iterations
 * under ASan (build/asan, make test-asan-programs); soak: 10000
 * (tests/tools/soak.sh).
 */
#include "helpers.h"
#include "chaos_check.h"

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

#define TOPIC "chaos"
#define NPROD 3
#define NCHILD 8
#define POLL_MAX 64

static const int GSIZE[NGROUP] = {3, 2};

/* ---- Children ---------------------------------------------------------- */

struct child_arg {
    const char *data, *jdir, *stop;
    int g, slot, inc; /* g = -1: producer */
    int round;
    uint64_t seed;
};

static crawllog_conf_t *prod_conf(int slot)
{
    char pid[32];
    snprintf(pid, sizeof(pid), "chaos-p%d", slot);
    return cl_test_conf("acks", slot == 2 ? "1" : "all", "enable.idempotence",
                        "true", "producer.id", slot == 1 ? "" : pid, NULL);
}

struct pending {
    int have, n, p, big;
    int32_t seq;
    uint64_t id;
};

/* Send (or re-send) a batch, journal the outcome; returns 1 if acked. */
static int prod_send(crawllog_producer_t *prod, int fd, const struct pending *s)
{
    static char bufs[4][BIG_LEN + 32];
    crawllog_record_t recs[4];
    memset(recs, 0, sizeof(recs));
    for (int i = 0; i < s->n; i++) {
        recs[i].value = bufs[i];
        recs[i].value_len =
            payload(s->id + (uint64_t)i, s->big, bufs[i], sizeof(bufs[i]));
        recs[i].timestamp = -1;
    }
    int64_t base = -1;
    int dup = 0, rc;
    if (s->seq >= 0) {
        rc = crawllog_producer_send_sequenced(prod, TOPIC, s->p, s->seq, recs,
                                              (size_t)s->n, &base, &dup);
    } else {
        rc = crawllog_producer_send_batch(prod, TOPIC, s->p, recs, (size_t)s->n,
                                          &base);
    }
    if (rc != 0) {
        int definite = rc == CRAWLLOG_ETOOBIG || rc == CRAWLLOG_EINVAL;
        jline(fd, "ERR %" PRIx64 " %s %d\n", s->id, crawllog_err_name(rc),
              definite);
        cl_test_checkf(rc == CRAWLLOG_ETOOBIG && s->big, "send: %s: %s",
                       crawllog_err_name(rc), crawllog_producer_errmsg(prod));
        return 0;
    }
    cl_test_checkf(base >= 0, "send: offset %" PRId64 " (duplicate %d)", base,
                   dup);
    char acks[256];
    size_t len = 0;
    for (int i = 0; i < s->n; i++) {
        len += (size_t)snprintf(acks + len, sizeof(acks) - len,
                                "ACK %" PRIx64 " %d %" PRId64 "\n",
                                s->id + (uint64_t)i, s->p, base + i);
    }
    jline(fd, "%s", acks); /* one write: the batch's acks together */
    return 1;
}

/* The last SEND/RETRY of the journal without an answer, and the next id. */
static void prod_scan(const char *path, struct pending *last, uint64_t *next)
{
    char *buf = cl_test_read_file(path, NULL);
    char *save = NULL;
    memset(last, 0, sizeof(*last));
    for (char *l = strtok_r(buf, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        struct pending s = {1, 0, 0, 0, -1, 0};
        char kind[8];
        uint64_t id;
        if (strstr(l, "#TORN") != NULL ||
            sscanf(l, "%7s %" SCNx64, kind, &id) != 2) {
            continue;
        }
        if ((strcmp(kind, "SEND") == 0 || strcmp(kind, "RETRY") == 0) &&
            sscanf(l, "%*s %" SCNx64 " %d %d %" SCNd32 " %d", &s.id, &s.n, &s.p,
                   &s.seq, &s.big) == 5) {
            *last = s;
            *next = id + (uint64_t)s.n > *next ? id + (uint64_t)s.n : *next;
        } else if ((strcmp(kind, "ACK") == 0 || strcmp(kind, "ERR") == 0) &&
                   last->have && id == last->id) {
            last->have = 0;
        }
    }
    free(buf);
}

static void producer_child(void *arg)
{
    const struct child_arg *a = arg;
    char path[4400];
    snprintf(path, sizeof(path), "%s/p%d.log", a->jdir, a->slot);
    int fd = jopen(path);
    struct pending s;
    uint64_t next =
        ((uint64_t)(a->slot + 1) << 56) | ((uint64_t)a->round << 32);
    prod_scan(path, &s, &next);
    jline(fd, "START P %d %d %ld %" PRId64 "\n", a->slot, a->inc,
          (long)getpid(), now_ns());
    crawllog_t *log = cl_test_open(a->data, NULL);
    crawllog_conf_t *conf = prod_conf(a->slot);
    crawllog_producer_t *prod = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_producer_new(log, conf, &prod, es, sizeof(es));
    cl_test_checkf(rc == 0, "producer_new: %s: %s", crawllog_err_name(rc), es);
    crawllog_conf_destroy(conf);
    if (s.have) { /* killed before the answer: re-send it */
        if (a->slot == 1) {
            s.seq = -1;
        }
        jline(fd, "RETRY %" PRIx64 " %d %d %" PRId32 " %d\n", s.id, s.n, s.p,
              s.seq, s.big);
        prod_send(prod, fd, &s);
    }
    int32_t seq[NPART];
    for (int p = 0; p < NPART; p++) {
        seq[p] = -1;
        if (a->slot != 1) {
            rc = crawllog_producer_next_sequence(prod, TOPIC, p, &seq[p]);
            cl_test_checkf(rc == 0, "next_sequence: %s", crawllog_err_name(rc));
        }
    }
    uint64_t rng = a->seed;
    while (!cl_test_exists(a->stop)) {
        s.have = 1;
        s.id = next;
        s.p = (int)cl_test_rand_below(&rng, NPART);
        s.big = cl_test_rand_below(&rng, 40) == 0;
        s.n = s.big || cl_test_rand_below(&rng, 4)
                  ? 1
                  : 2 + (int)cl_test_rand_below(&rng, 3);
        s.seq = seq[s.p];
        next += (uint64_t)s.n;
        jline(fd, "SEND %" PRIx64 " %d %d %" PRId32 " %d\n", s.id, s.n, s.p,
              s.seq, s.big);
        if (prod_send(prod, fd, &s) && s.seq >= 0) {
            seq[s.p] += s.n;
        }
        cl_test_sleep_ms(1 + (long)cl_test_rand_below(&rng, 6));
    }
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    assert_crawllog_ok(crawllog_close(log));
    close(fd);
}

struct cons_state {
    int fd, g;
    crawllog_consumer_t *c;
    int64_t next[NPART], done[NPART]; /* polled up to / committed by me */
};

/* Commit next[p] of every partition in want (-1: all) that has
 * uncommitted deliveries; journal the outcome. */
static void cons_commit(struct cons_state *cs, const int *want, int sync)
{
    crawllog_topic_partition_t tp[NPART];
    size_t n = 0;
    for (int p = 0; p < NPART; p++) {
        if ((want == NULL || want[p]) && cs->next[p] > cs->done[p]) {
            tp[n] = (crawllog_topic_partition_t){TOPIC, p, cs->next[p], NULL};
            n++;
        }
    }
    if (n == 0) {
        return;
    }
    int rc = crawllog_consumer_commit_offsets(cs->c, tp, n, sync);
    int32_t gen = crawllog_consumer_generation(cs->c);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            jline(cs->fd, "COMMIT %d %d %" PRId64 " %" PRId32 " %" PRId64 "\n",
                  cs->g, (int)tp[i].partition, tp[i].offset, gen, now_ns());
            cs->done[tp[i].partition] = tp[i].offset;
        } else {
            jline(cs->fd, "CFAIL %d %d %" PRId64 " %s %" PRId64 "\n", cs->g,
                  (int)tp[i].partition, tp[i].offset, crawllog_err_name(rc),
                  now_ns());
        }
    }
    cl_test_checkf(rc == 0 || rc == CRAWLLOG_EGENERATION, "commit: %s: %s",
                   crawllog_err_name(rc), crawllog_consumer_errmsg(cs->c));
}

static void rebalance_cb(crawllog_consumer_t *c, int event,
                         const crawllog_topic_partition_t *parts, size_t count,
                         void *opaque)
{
    struct cons_state *cs = opaque;
    int want[NPART] = {0};
    for (size_t i = 0; i < count; i++) {
        cl_test_check(parts[i].partition >= 0 && parts[i].partition < NPART);
        want[parts[i].partition] = 1;
    }
    if (event == CRAWLLOG_REBALANCE_REVOKED) {
        cons_commit(cs, want, CRAWLLOG_SYNC_DURABLE);
    }
    for (size_t i = 0; i < count; i++) {
        int p = parts[i].partition;
        if (event == CRAWLLOG_REBALANCE_ASSIGNED) {
            int64_t off = -2;
            if (crawllog_consumer_committed(c, TOPIC, p, &off) != 0) {
                off = -2; /* unknown */
            }
            cs->next[p] = cs->done[p] = off;
            jline(cs->fd, "ASSIGN %d %d %" PRId32 " %" PRId64 " %" PRId64 "\n",
                  cs->g, p, crawllog_consumer_generation(c), off, now_ns());
        } else {
            cs->next[p] = cs->done[p] = -1;
            jline(cs->fd, "%s %d %d %" PRId64 "\n",
                  event == CRAWLLOG_REBALANCE_REVOKED ? "REVOKE" : "LOST",
                  cs->g, p, now_ns());
        }
    }
}

static void consumer_child(void *arg)
{
    const struct child_arg *a = arg;
    char path[4400], client[32], es[CRAWLLOG_ERRSTR_SIZE];
    snprintf(path, sizeof(path), "%s/c%d-%d.log", a->jdir, a->g, a->slot);
    struct cons_state cs = {jopen(path), a->g, NULL, {0}, {0}};
    for (int p = 0; p < NPART; p++) {
        cs.next[p] = cs.done[p] = -1;
    }
    jline(cs.fd, "START C %d %d %d %ld %" PRId64 "\n", a->g, a->slot, a->inc,
          (long)getpid(), now_ns());
    crawllog_t *log = cl_test_open(a->data, NULL);
    snprintf(client, sizeof(client), "%s-%d", GNAME[a->g], a->slot);
    crawllog_conf_t *conf = cl_test_conf(
        "group.id", GNAME[a->g], "client.id", client, "auto.offset.reset",
        "earliest", "enable.auto.commit", "false", "heartbeat.interval.ms",
        "50", "max.deliveries", "0", NULL);
    int rc = crawllog_consumer_new(log, conf, &cs.c, es, sizeof(es));
    cl_test_checkf(rc == 0, "consumer_new: %s: %s", crawllog_err_name(rc), es);
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(
        crawllog_consumer_set_rebalance_cb(cs.c, rebalance_cb, &cs));
    const char *topics[] = {TOPIC};
    rc = crawllog_consumer_subscribe(cs.c, topics, 1);
    cl_test_checkf(rc == 0, "subscribe: %s", crawllog_err_name(rc));
    uint64_t rng = a->seed;
    for (;;) { /* until SIGKILL */
        const crawllog_msg_t *msgs[POLL_MAX];
        size_t n = 0;
        rc = crawllog_consumer_poll(cs.c, 100, msgs, POLL_MAX, &n);
        cl_test_checkf(rc == 0, "poll: %s: %s", crawllog_err_name(rc),
                       crawllog_consumer_errmsg(cs.c));
        int32_t gen = crawllog_consumer_generation(cs.c);
        for (size_t i = 0; i < n; i++) {
            int p = crawllog_msg_partition(msgs[i]);
            int64_t off = crawllog_msg_offset(msgs[i]);
            size_t vl = 0;
            const void *v = crawllog_msg_value(msgs[i], &vl);
            cl_test_check(p >= 0 && p < NPART);
            jline(cs.fd,
                  "POLL %d %" PRIx64 " %d %" PRId64 " %" PRId32 " %" PRId64
                  "\n",
                  a->g, payload_id(v, vl), p, off, gen, now_ns());
            cs.next[p] = off + 1;
        }
        if (n > 0 && cl_test_rand_below(&rng, 4) == 0) {
            cl_test_sleep_ms(1 + (long)cl_test_rand_below(&rng, 5)); /* work */
        }
        if (n == 0 || cl_test_rand_below(&rng, 10) < 6) {
            cons_commit(&cs, NULL,
                        cl_test_rand_below(&rng, 2) ? CRAWLLOG_SYNC_DURABLE
                                                    : CRAWLLOG_SYNC_WRITTEN);
        }
    }
}

/* ---- Driver ------------------------------------------------------------ */

struct run {
    char dir[4200], data[4300], jdir[4300], stop[4400];
    struct child_arg arg[NCHILD];
    pid_t pid[NCHILD];
    int dfd; /* driver journal */
    uint64_t rng;
    long kills, restarts, rounds, acked, polls, commits, torn, redeliv;
    long retried, failed;
};

static long env_long(const char *name, long def)
{
    const char *s = getenv(name);
    return s != NULL && *s != '\0' ? strtol(s, NULL, 0) : def;
}

static void start_child(struct run *r, int i)
{
    struct child_arg *a = &r->arg[i];
    a->seed = cl_test_rand(&r->rng);
    r->pid[i] =
        cl_test_kids_spawn(a->g < 0 ? producer_child : consumer_child, a);
}

static void kill_child(struct run *r, int i)
{
    const struct child_arg *a = &r->arg[i];
    if (a->g >= 0) {
        jline(r->dfd, "KILL %d %d %d %" PRId64 "\n", a->g, a->slot, a->inc,
              now_ns());
    }
    assert_int_equal(kill(r->pid[i], SIGKILL), 0);
    int st = cl_test_kids_reap(r->pid[i], 20000);
    if (!WIFSIGNALED(st)) {
        fail_msg("chaos: child %d (%s slot %d) ended on its own before its "
                 "SIGKILL (status 0x%x): see its message above",
                 i, a->g < 0 ? "producer" : GNAME[a->g], a->slot, st);
    }
    r->pid[i] = 0;
    r->kills++;
}

static void restart_child(struct run *r, int i)
{
    r->arg[i].inc++;
    start_child(r, i);
    r->restarts++;
}

static int groups_caught_up(crawllog_t *log, int show)
{
    int ok = 1;
    for (int g = 0; g < NGROUP; g++) {
        crawllog_group_desc_t *d = NULL;
        if (crawllog_group_describe(log, GNAME[g], &d) != 0) {
            ok = 0;
            continue;
        }
        for (int p = 0; p < NPART; p++) {
            int64_t end = -1, com = -1;
            assert_crawllog_ok(
                crawllog_partition_offsets(log, TOPIC, p, NULL, &end));
            for (size_t i = 0; i < d->partition_count; i++) {
                if (d->partitions[i].partition == p) {
                    com = d->partitions[i].committed;
                }
            }
            if (com != end && (com != -1 || end != 0)) {
                ok = 0;
                if (show) {
                    fprintf(stderr,
                            "chaos: %s p%d committed %" PRId64
                            " log end %" PRId64 "\n",
                            GNAME[g], p, com, end);
                }
            }
        }
        crawllog_group_desc_free(d);
    }
    return ok;
}

static void new_data_dir(struct run *r)
{
    cl_test_rmrf(r->data);
    crawllog_t *log = cl_test_open(r->data, NULL);
    cl_test_create_topic(log, TOPIC, NPART, "segment.bytes", "65536",
                         "max.message.bytes", "8192", "retention.ms", "-1",
                         "retention.bytes", "-1", NULL);
    assert_crawllog_ok(crawllog_close(log));
}

static void begin_round(struct run *r, const struct chk *carry)
{
    snprintf(r->jdir, sizeof(r->jdir), "%s/r%ld", r->dir, r->rounds);
    assert_int_equal(mkdir(r->jdir, 0700), 0);
    char path[4400];
    snprintf(path, sizeof(path), "%s/driver.log", r->jdir);
    r->dfd = jopen(path);
    for (int g = 0; carry != NULL && g < NGROUP; g++) {
        for (int p = 0; p < NPART; p++) { /* groups were caught up */
            int64_t end = (int64_t)carry->prev[p].n;
            if (end > 0) {
                jline(r->dfd, "COMMIT %d %d %" PRId64 " -1 %" PRId64 "\n", g, p,
                      end, now_ns());
            }
        }
    }
    for (int i = 0; i < NCHILD; i++) {
        r->arg[i].round = (int)r->rounds;
        r->arg[i].jdir = r->jdir;
        start_child(r, i);
    }
}

static void feed_file(struct chk *ck, const char *path, int driver)
{
    if (!cl_test_exists(path)) {
        return;
    }
    char *buf = cl_test_read_file(path, NULL);
    chk_text(ck, buf, driver);
    free(buf);
}

/* Stop, drain, verify and check one round; returns its violations. */
static size_t end_round(struct run *r, struct chk *ck)
{
    cl_test_write_file(r->stop, "", 0);
    for (int i = 0; i < NPROD; i++) {
        cl_test_assert_exit_ok(cl_test_kids_reap(r->pid[i], 60000));
        r->pid[i] = 0;
    }
    int64_t t0 = cl_test_mono_ms();
    int64_t live_ms = env_long("CL_CHAOS_LIVENESS_MS", 5000);
    crawllog_t *log = cl_test_open(r->data, NULL);
    while (!groups_caught_up(log, 0) && cl_test_mono_ms() - t0 < live_ms) {
        cl_test_kids_sleep(20);
    }
    int caught = groups_caught_up(log, 1);
    int64_t catch_ms = cl_test_mono_ms() - t0;
    assert_crawllog_ok(crawllog_close(log));
    for (int i = NPROD; i < NCHILD; i++) {
        kill_child(r, i);
        r->kills--; /* the quiesce's kills are not iterations */
    }
    close(r->dfd);
    assert_int_equal(unlink(r->stop), 0);
    log = cl_test_open(r->data, NULL); /* recovery, as a restart does */
    for (int p = 0; p < NPART; p++) {
        crawllog_reader_t *rd = NULL;
        assert_crawllog_ok(crawllog_reader_new(&rd, log, TOPIC, p));
        for (;;) {
            const crawllog_msg_t *m = NULL;
            assert_crawllog_ok(crawllog_reader_next(rd, &m));
            if (m == NULL) {
                break;
            }
            size_t vl = 0;
            const void *v = crawllog_msg_value(m, &vl);
            chk_drain(ck, p, crawllog_msg_offset(m), payload_id(v, vl));
        }
        crawllog_reader_destroy(rd);
    }
    assert_crawllog_ok(crawllog_close(log));
    size_t problems = 0;
    char es[CRAWLLOG_ERRSTR_SIZE];
    int vrc = crawllog_verify(r->data, NULL, NULL, &problems, es, sizeof(es));
    if (vrc != 0 || problems != 0) {
        fprintf(stderr, "chaos: verify: %s, %zu problems\n",
                crawllog_err_name(vrc), problems);
        cl_test_expect_verify_clean(r->data); /* prints them, fails */
    }
    char path[4400];
    snprintf(path, sizeof(path), "%s/driver.log", r->jdir);
    feed_file(ck, path, 1);
    for (int i = 0; i < NCHILD; i++) {
        const struct child_arg *a = &r->arg[i];
        if (a->g < 0) {
            snprintf(path, sizeof(path), "%s/p%d.log", r->jdir, a->slot);
        } else {
            snprintf(path, sizeof(path), "%s/c%d-%d.log", r->jdir, a->g,
                     a->slot);
        }
        feed_file(ck, path, 0);
    }
    chk_run(ck, 1);
    size_t bad = chk_total(ck);
    size_t recs = 0;
    for (int p = 0; p < NPART; p++) {
        recs += ck->dr[p].n;
    }
    size_t segs = 0;
    for (int p = 0; p < NPART; p++) {
        struct cl_test_seglist *sl = cl_test_segments(r->data, TOPIC, p);
        segs += sl->n;
        free(sl);
    }
    print_message("chaos: round %ld: kills=%ld records=%zu segments=%zu "
                  "acked=%zu polls=%zu commits=%zu redeliveries=%zu "
                  "retried=%zu (twice in the log: %zu) failed=%zu "
                  "ambiguous=%zu+%zu (visible+not) caught up in %" PRId64
                  " ms%s, violations=%zu\n",
                  r->rounds, r->kills, recs, segs, ck->acked, ck->polls,
                  ck->commits, ck->redeliv, ck->retried, ck->dup_ok, ck->failed,
                  ck->amb_in, ck->amb_out, catch_ms,
                  caught ? "" : " (NOT caught up)", bad);
    r->retried += (long)ck->retried;
    r->failed += (long)ck->failed;
    r->acked += (long)ck->acked;
    r->polls += (long)ck->polls;
    r->commits += (long)ck->commits;
    r->torn += (long)ck->torn;
    r->redeliv += (long)ck->redeliv;
    if (bad == 0) {
        cl_test_rmrf(r->jdir);
    } else {
        fprintf(stderr,
                "chaos: journals kept in %s (set CL_TEST_KEEP=1 to "
                "keep the directory)\n",
                r->jdir);
    }
    r->rounds++;
    return bad;
}

static void test_chaos(void **state)
{
    struct run *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    long iters = env_long("CL_CHAOS_ITERS", 30);
    long per_round = env_long("CL_CHAOS_ROUND", 50);
    long dir_rounds = env_long("CL_CHAOS_DIR_ROUNDS", 20);
    uint64_t seed = cl_test_seed();
    printf("chaos: SEED=%" PRIu64 " iters=%ld\n", seed, iters);
    r->rng = seed;
    snprintf(r->dir, sizeof(r->dir), "%s", CL_TEST_DIR(state));
    snprintf(r->data, sizeof(r->data), "%s/data", r->dir);
    snprintf(r->stop, sizeof(r->stop), "%s/stop", r->dir);
    for (int i = 0; i < NCHILD; i++) {
        struct child_arg *a = &r->arg[i];
        a->data = r->data;
        a->stop = r->stop;
        a->g = i < NPROD ? -1 : i < NPROD + GSIZE[0] ? 0 : 1;
        a->slot = i < NPROD              ? i
                  : i < NPROD + GSIZE[0] ? i - NPROD
                                         : i - NPROD - GSIZE[0];
    }
    struct chk ck;
    memset(&ck, 0, sizeof(ck));
    int64_t t0 = cl_test_mono_ms();
    size_t bad = 0;
    new_data_dir(r);
    begin_round(r, NULL);
    long in_round = 0;
    while (bad == 0 && r->kills < iters) {
        cl_test_kids_sleep(20 + (int64_t)cl_test_rand_below(&r->rng, 481));
        if (cl_test_rand_below(&r->rng, 10) == 0) {
            for (int i = 0; i < NCHILD; i++) {
                kill_child(r, i);
            }
            r->kills -= NCHILD - 1; /* one iteration */
            for (int i = 0; i < NCHILD; i++) {
                restart_child(r, i);
            }
        } else {
            int i = (int)cl_test_rand_below(&r->rng, NCHILD);
            kill_child(r, i);
            restart_child(r, i);
        }
        if (++in_round == per_round || r->kills >= iters) {
            in_round = 0;
            bad += end_round(r, &ck);
            int fresh = dir_rounds > 0 && r->rounds % dir_rounds == 0;
            chk_reset(&ck, !fresh);
            if (fresh) {
                new_data_dir(r);
            }
            if (bad == 0 && r->kills < iters) {
                begin_round(r, fresh ? NULL : &ck);
            }
        }
    }
    chk_reset(&ck, 0);
    printf("chaos: iterations=%ld kills=%ld restarts=%ld rounds=%ld "
           "acked=%ld polled=%ld commits=%ld redeliveries=%ld retried=%ld "
           "failed=%ld torn_lines=%ld verify=ok violations=%zu seconds=%.1f "
           "seed=%" PRIu64 "\n",
           iters, r->kills, r->restarts, r->rounds, r->acked, r->polls,
           r->commits, r->redeliv, r->retried, r->failed, r->torn, bad,
           (double)(cl_test_mono_ms() - t0) / 1000.0, seed);
    free(r);
    assert_int_equal(bad, 0);
}

/* ---- The checker on synthetic journals --------------------------------- */

/* A clean round: p0 holds ids 1, 2, 3 (2 and 3 one batch); id 4 failed
 * definitely; g1 reads it all in one session; g2's first session is
 * killed after polling id 3 uncommitted, the next re-reads it. */
static const char P_OK[] = "START P 0 0 100 1\nSEND 1 1 0 -1 0\nACK 1 0 0\n"
                           "SEND 2 2 0 -1 0\nACK 2 0 1\nACK 3 0 2\n"
                           "SEND 4 1 1 -1 1\nERR 4 CRAWLLOG_ETOOBIG 1\n";
static const char G1_OK[] = "START C 0 0 0 200 1\nASSIGN 0 0 1 -1 10\n"
                            "POLL 0 1 0 0 1 11\nPOLL 0 2 0 1 1 12\n"
                            "COMMIT 0 0 2 1 13\nPOLL 0 3 0 2 1 14\n"
                            "COMMIT 0 0 3 1 15\n";
static const char G2_OK[] = "START C 1 0 0 300 1\nASSIGN 1 0 1 -1 10\n"
                            "POLL 1 1 0 0 1 11\nPOLL 1 2 0 1 1 12\n"
                            "COMMIT 1 0 2 1 13\nPOLL 1 3 0 2 1 14\n"
                            "START C 1 0 1 301 21\nASSIGN 1 0 2 2 25\n"
                            "POLL 1 3 0 2 2 26\nCOMMIT 1 0 3 2 27\n";
static const char D_OK[] = "KILL 1 0 0 20\n";

struct scase {
    const char *prod, *g1, *g2, *drv;
    uint64_t drain[8]; /* p0's ids by offset, up to a 0 */
    int liveness;
};

/* sc->prod: a second producer journal, besides P_OK. */
static void run_case(const struct scase *sc, struct chk *ck)
{
    const char *files[5] = {sc->drv ? sc->drv : D_OK, P_OK,
                            sc->prod ? sc->prod : "", sc->g1 ? sc->g1 : G1_OK,
                            sc->g2 ? sc->g2 : G2_OK};
    memset(ck, 0, sizeof(*ck));
    for (int o = 0; o < 8 && sc->drain[o] != 0; o++) {
        chk_drain(ck, 0, o, sc->drain[o]);
    }
    for (int f = 0; f < 5; f++) {
        char *t = strdup(files[f]);
        assert_non_null(t);
        chk_text(ck, t, f == 0);
        free(t);
    }
    chk_run(ck, sc->liveness);
}

/* Exactly n violations, all of kind (-1: none). */
static void expect_only(const struct scase *sc, int kind, size_t n)
{
    struct chk ck;
    run_case(sc, &ck);
    for (int k = 0; k < V_N; k++) {
        if (ck.v[k] != (k == kind ? n : 0)) {
            fail_msg("%s: %zu violations, %zu expected", VNAME[k], ck.v[k],
                     k == kind ? n : (size_t)0);
        }
    }
    assert_int_equal(ck.torn, 0);
    chk_reset(&ck, 0);
}

#define DR3                                                                    \
    {                                                                          \
        1, 2, 3, 0                                                             \
    }

static void test_checker_clean(void **state)
{
    (void)state;
    const struct scase sc = {NULL, NULL, NULL, NULL, DR3, 1};
    expect_only(&sc, -1, 0);
    struct chk ck;
    run_case(&sc, &ck);
    assert_int_equal(ck.acked, 3);
    assert_int_equal(ck.polls, 7);
    assert_int_equal(ck.redeliv, 1);
    chk_reset(&ck, 0);
    /* Lines cut by a SIGKILL (wrong offsets if they were read) */
    const struct scase torn = {
        "ACK 1 0 7#TORN\nACK 2 0 9", NULL, NULL, NULL, DR3, 1};
    run_case(&torn, &ck);
    assert_int_equal(ck.torn, 2);
    assert_int_equal(chk_total(&ck), 0);
    chk_reset(&ck, 0);
}

static void test_checker_lost(void **state)
{
    (void)state;
    const struct scase sc = {
        "SEND 5 1 0 -1 0\nACK 5 0 3\n", NULL, NULL, NULL, DR3, 0};
    expect_only(&sc, V_LOST, 1);
}

static void test_checker_inconsistent(void **state)
{
    (void)state;
    const struct scase ack = {
        "SEND 5 1 0 -1 0\nACK 5 0 1\n", NULL, NULL, NULL, {1, 2, 3, 5, 0}, 0};
    expect_only(&ack, V_INCONS, 1); /* acked at 1, which holds id 2 */
    const struct scase poll = {NULL,
                               "START C 0 0 0 200 1\nASSIGN 0 0 1 -1 10\n"
                               "POLL 0 1 0 0 1 11\nPOLL 0 3 0 1 1 12\n",
                               NULL,
                               NULL,
                               DR3,
                               0};
    expect_only(&poll, V_INCONS, 1); /* polled id 3 at offset 1 */
}

static void test_checker_duplicate(void **state)
{
    (void)state;
    const struct scase sc = {NULL, NULL, NULL, NULL, {1, 2, 3, 2, 0}, 0};
    expect_only(&sc, V_DUP, 1);
    const struct scase retried = {
        "RETRY 2 1 0 -1 0\nACK 2 0 3\n", NULL, NULL, NULL, {1, 2, 3, 2, 0}, 0};
    expect_only(&retried, -1, 0); /* a plain re-send may be written twice */
    const struct scase seq = {
        "RETRY 2 1 0 5 0\nACK 2 0 3\n", NULL, NULL, NULL, {1, 2, 3, 2, 0}, 0};
    expect_only(&seq, V_DUP, 1); /* one with its sequence: idempotence */
}

static void test_checker_aborted(void **state)
{
    (void)state;
    const struct scase failed = {NULL, NULL, NULL, NULL, {1, 2, 3, 4, 0}, 0};
    expect_only(&failed, V_ABORTED, 1);
    const struct scase phantom = {NULL, NULL, NULL, NULL, {1, 2, 3, 9, 0}, 0};
    expect_only(&phantom, V_ABORTED, 1);
}

static void test_checker_nonmonotonic(void **state)
{
    (void)state;
    const struct scase sc = {NULL,
                             "START C 0 0 0 200 1\nASSIGN 0 0 1 -1 10\n"
                             "POLL 0 1 0 0 1 11\nPOLL 0 2 0 1 1 12\n"
                             "POLL 0 1 0 0 1 13\nPOLL 0 2 0 1 1 14\n"
                             "POLL 0 3 0 2 1 15\nCOMMIT 0 0 3 1 16\n",
                             NULL,
                             NULL,
                             DR3,
                             1};
    expect_only(&sc, V_NONMONO, 1);
}

static void test_checker_poll_skip(void **state)
{
    (void)state;
    const struct scase sc = {NULL,
                             "START C 0 0 0 200 1\nASSIGN 0 0 1 -1 10\n"
                             "POLL 0 1 0 0 1 11\nPOLL 0 3 0 2 1 14\n",
                             NULL,
                             NULL,
                             DR3,
                             0};
    expect_only(&sc, V_SKIP, 1);
    const struct scase start = {NULL,
                                NULL,
                                "START C 1 0 0 300 1\nASSIGN 1 0 1 -1 10\n"
                                "POLL 1 2 0 1 1 12\n",
                                NULL,
                                DR3,
                                0};
    expect_only(&start, V_SKIP, 1); /* an epoch starting past its commit */
}

static void test_checker_group_duplicate(void **state)
{
    (void)state; /* id 2 again after g2 committed 2 (committed unknown) */
    const struct scase sc = {NULL,
                             NULL,
                             "START C 1 0 0 300 1\nASSIGN 1 0 1 -1 10\n"
                             "POLL 1 1 0 0 1 11\nPOLL 1 2 0 1 1 12\n"
                             "COMMIT 1 0 2 1 13\nPOLL 1 3 0 2 1 14\n"
                             "START C 1 0 1 301 21\nASSIGN 1 0 2 -2 25\n"
                             "POLL 1 2 0 1 2 26\nPOLL 1 3 0 2 2 27\n",
                             NULL,
                             DR3,
                             1};
    expect_only(&sc, V_GDUP, 1);
}

static void test_checker_commit_regression(void **state)
{
    (void)state;
    const struct scase back = {NULL,
                               NULL,
                               "START C 1 0 0 300 1\n"
                               "ASSIGN 1 0 1 -1 10\nPOLL 1 1 0 0 1 11\n"
                               "POLL 1 2 0 1 1 12\nPOLL 1 3 0 2 1 14\n"
                               "COMMIT 1 0 3 1 15\nCOMMIT 1 0 1 1 16\n",
                               NULL,
                               DR3,
                               1};
    expect_only(&back, V_REGRESS, 1);
    const struct scase lost = {NULL,
                               NULL,
                               "START C 1 0 0 300 1\n"
                               "ASSIGN 1 0 1 -1 10\nPOLL 1 1 0 0 1 11\n"
                               "COMMIT 1 0 1 1 12\nSTART C 1 0 1 301 21\n"
                               "ASSIGN 1 0 2 -1 25\nPOLL 1 1 0 0 2 26\n"
                               "POLL 1 2 0 1 2 27\nPOLL 1 3 0 2 2 28\n",
                               NULL,
                               DR3,
                               1};
    struct chk ck; /* the new owner starts below the commit: the commit
                      was lost (and id 1 is delivered again) */
    run_case(&lost, &ck);
    assert_int_equal(ck.v[V_REGRESS], 1);
    assert_int_equal(ck.v[V_GDUP], 1);
    assert_int_equal(chk_total(&ck), 2);
    chk_reset(&ck, 0);
}

static void test_checker_double_owner(void **state)
{
    (void)state; /* the second session owns p0 before the first is killed */
    const struct scase sc = {NULL,
                             NULL,
                             "START C 1 0 0 300 1\nASSIGN 1 0 1 -1 10\n"
                             "POLL 1 1 0 0 1 11\nPOLL 1 2 0 1 1 12\n"
                             "COMMIT 1 0 2 1 13\nSTART C 1 0 1 301 14\n"
                             "ASSIGN 1 0 2 2 15\nPOLL 1 3 0 2 2 16\n"
                             "COMMIT 1 0 3 2 17\n",
                             NULL,
                             DR3,
                             1};
    expect_only(&sc, V_DOUBLE, 1);
    const struct scase revoked = {NULL,
                                  NULL,
                                  "START C 1 0 0 300 1\nASSIGN 1 0 1 -1 10\n"
                                  "POLL 1 1 0 0 1 11\nREVOKE 1 0 12\n"
                                  "POLL 1 2 0 1 1 13\n",
                                  "KILL 1 0 0 20\n",
                                  DR3,
                                  0};
    expect_only(&revoked, V_DOUBLE, 1); /* polled after its revoke */
}

static void test_checker_liveness(void **state)
{
    (void)state;
    const struct scase sc = {NULL,
                             NULL,
                             "START C 1 0 0 300 1\nASSIGN 1 0 1 -1 10\n"
                             "POLL 1 1 0 0 1 11\nPOLL 1 2 0 1 1 12\n"
                             "COMMIT 1 0 2 1 13\nSTART C 1 0 1 301 21\n"
                             "ASSIGN 1 0 2 2 25\n",
                             NULL,
                             DR3,
                             1};
    expect_only(&sc, V_LIVE, 1);
}

/* Rounds: an allowed duplicate of an earlier round is not reported
 * again; the earlier rounds' log must stay as it was. */
static void test_checker_rounds(void **state)
{
    (void)state;
    static const uint64_t dr[3][5] = {
        {1, 2, 3, 2}, {1, 2, 3, 2, 7}, {1, 5, 3, 2, 7}};
    static const char *const jr[3] = {
        ("SEND 1 3 0 -1 0\nRETRY 2 1 0 -1 0\nACK 1 0 0\nACK 2 0 3\n"
         "ACK 3 0 2\n"),
        "SEND 7 1 0 -1 0\nACK 7 0 4\n", ""};
    struct chk ck;
    memset(&ck, 0, sizeof(ck));
    for (int pass = 0; pass < 3; pass++) {
        for (int o = 0; o < 5 && dr[pass][o] != 0; o++) {
            chk_drain(&ck, 0, o, dr[pass][o]);
        }
        char *text = strdup(jr[pass]);
        assert_non_null(text);
        chk_text(&ck, text, 0);
        free(text);
        chk_run(&ck, 0);
        assert_int_equal(chk_total(&ck), pass == 2 ? 1 : 0);
        assert_int_equal(ck.v[V_INCONS], pass == 2 ? 1 : 0); /* p0@1 */
        chk_reset(&ck, 1);
    }
    chk_reset(&ck, 0);
}

static void test_checker_payload(void **state)
{
    (void)state;
    char buf[BIG_LEN + 32];
    size_t len = payload(0x0100000000000007ULL, 0, buf, sizeof(buf));
    assert_int_equal(payload_id(buf, len), 0x0100000000000007ULL);
    buf[len - 1] ^= 1;
    assert_int_equal(payload_id(buf, len), 0);
    len = payload(5, 1, buf, sizeof(buf));
    assert_int_equal(len, BIG_LEN);
    assert_int_equal(payload_id(buf, len), 5);
}

static int teardown(void **state)
{
    cl_test_kids_kill_all();
    return cl_test_tmpdir_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_payload),
        cmocka_unit_test(test_checker_clean),
        cmocka_unit_test(test_checker_lost),
        cmocka_unit_test(test_checker_inconsistent),
        cmocka_unit_test(test_checker_duplicate),
        cmocka_unit_test(test_checker_aborted),
        cmocka_unit_test(test_checker_nonmonotonic),
        cmocka_unit_test(test_checker_poll_skip),
        cmocka_unit_test(test_checker_group_duplicate),
        cmocka_unit_test(test_checker_commit_regression),
        cmocka_unit_test(test_checker_double_owner),
        cmocka_unit_test(test_checker_liveness),
        cmocka_unit_test(test_checker_rounds),
        cmocka_unit_test_setup_teardown(test_chaos, cl_test_tmpdir_setup,
                                        teardown),
    };
    if (getenv("CL_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("CL_TEST_FILTER"));
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
