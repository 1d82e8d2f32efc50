/*
 * test_group.c - consumer groups inside one process: members in one thread
 * (stepped by hand, deterministic) and in many threads.  Rebalances with
 * each strategy, the rebalance callback, two-phase ownership transfer,
 * stale-generation (lost ownership) commits refused, max.poll.interval
 * expulsion, static membership, strategy mismatch, partitions added to a
 * subscribed topic, a topic created after the subscription, and a threaded
 * group consuming everything exactly once per commit window.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define TOPIC "t"
#define MAXP 16

struct member {
    crawllog_consumer_t *c;
    int owned[MAXP];       /* from the callbacks */
    int assigned_events, revoked_events, lost_events;
    int revoked_count;     /* partitions in revoke events */
    int commit_on_revoke;
};

static void on_rebalance(crawllog_consumer_t *c, int event,
                         const crawllog_topic_partition_t *parts,
                         size_t count, void *opaque)
{
    struct member *m = opaque;
    for (size_t i = 0; i < count; i++) {
        int32_t p = parts[i].partition;
        if (p < 0 || p >= MAXP || strcmp(parts[i].topic, TOPIC) != 0) {
            continue;
        }
        if (event == CRAWLLOG_REBALANCE_ASSIGNED) {
            m->owned[p] = 1;
        } else {
            m->owned[p] = 0;
        }
    }
    if (event == CRAWLLOG_REBALANCE_ASSIGNED) {
        m->assigned_events++;
    } else if (event == CRAWLLOG_REBALANCE_REVOKED) {
        m->revoked_events++;
        m->revoked_count += (int)count;
        if (m->commit_on_revoke) {
            /* Commit inside the callback: still the owner. */
            int rc = crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_DURABLE);
            if (rc != 0) {
                fail_msg("commit in revoke: %s: %s", crawllog_err_name(rc),
                         crawllog_consumer_errmsg(c));
            }
        }
    } else {
        m->lost_events++;
    }
}

static void member_new(struct member *m, crawllog_t *log, const char *topic,
                       ...)
{
    va_list ap;
    char err[256];
    memset(m, 0, sizeof(*m));
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", "auto.offset.reset",
                                         "earliest", NULL);
    va_start(ap, topic);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
        const char *v = va_arg(ap, const char *);
        assert_crawllog_ok(crawllog_conf_set(conf, k, v, err, sizeof(err)));
    }
    va_end(ap);
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &m->c, err,
                                             sizeof(err)));
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(crawllog_consumer_set_rebalance_cb(m->c, on_rebalance,
                                                          m));
    const char *topics[] = {topic};
    int rc = crawllog_consumer_subscribe(m->c, topics, 1);
    if (rc != 0) {
        fail_msg("subscribe: %s: %s", crawllog_err_name(rc),
                 crawllog_consumer_errmsg(m->c));
    }
}

/* One poll (timeout 0); messages are counted into *got if given. */
static void step(struct member *m, size_t *got)
{
    const crawllog_msg_t *msgs[64];
    size_t n = 0;
    int rc = crawllog_consumer_poll(m->c, 0, msgs, 64, &n);
    if (rc != 0) {
        fail_msg("poll: %s: %s", crawllog_err_name(rc),
                 crawllog_consumer_errmsg(m->c));
    }
    if (got) {
        *got += n;
    }
}

static int count_owned(const struct member *m)
{
    int n = 0;
    for (int p = 0; p < MAXP; p++) {
        n += m->owned[p];
    }
    return n;
}

/* The consumer's own view must agree with the callbacks. */
static void check_assignment(struct member *m)
{
    crawllog_topic_partition_t *list;
    size_t n;
    assert_crawllog_ok(crawllog_consumer_assignment(m->c, &list, &n));
    assert_int_equal((int)n, count_owned(m));
    for (size_t i = 0; i < n; i++) {
        assert_true(m->owned[list[i].partition]);
    }
    free(list);
}

/* Step every member until the union of their ownership covers nparts
 * partitions exactly once and the counts are as balanced as wanted. */
static void settle(struct member *ms, int nm, int nparts, int64_t max_ms)
{
    int64_t deadline = cl_test_mono_ms() + max_ms;
    for (;;) {
        for (int i = 0; i < nm; i++) {
            if (ms[i].c != NULL) {
                step(&ms[i], NULL);
            }
        }
        int covered = 1, lo = 1 << 30, hi = 0, live = 0;
        for (int p = 0; p < nparts; p++) {
            int owners = 0;
            for (int i = 0; i < nm; i++) {
                owners += ms[i].c != NULL && ms[i].owned[p];
            }
            covered &= owners == 1;
        }
        for (int i = 0; i < nm; i++) {
            if (ms[i].c != NULL) {
                live++;
                lo = count_owned(&ms[i]) < lo ? count_owned(&ms[i]) : lo;
                hi = count_owned(&ms[i]) > hi ? count_owned(&ms[i]) : hi;
            }
        }
        if (covered && (live == 0 || hi - lo <= 1)) {
            return;
        }
        if (cl_test_mono_ms() > deadline) {
            fail_msg("group did not settle in %lld ms", (long long)max_ms);
        }
        cl_test_sleep_ms(5);
    }
}

static void test_cooperative_two_members(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 4, NULL);
    struct member ms[2];
    member_new(&ms[0], log, TOPIC, NULL);
    settle(ms, 1, 4, 2000);
    assert_int_equal(count_owned(&ms[0]), 4);
    int32_t gen1 = crawllog_consumer_generation(ms[0].c);
    assert_true(gen1 > 0);
    assert_true(strlen(crawllog_consumer_member_id(ms[0].c)) > 9);
    member_new(&ms[1], log, TOPIC, NULL);
    settle(ms, 2, 4, 2000);
    assert_int_equal(count_owned(&ms[0]), 2);
    assert_int_equal(count_owned(&ms[1]), 2);
    /* Cooperative: the first member revoked only the two that moved. */
    assert_int_equal(ms[0].revoked_count, 2);
    assert_int_equal(ms[0].lost_events, 0);
    assert_true(crawllog_consumer_generation(ms[0].c) > gen1);
    check_assignment(&ms[0]);
    check_assignment(&ms[1]);
    /* The group as described. */
    crawllog_group_desc_t *d;
    assert_crawllog_ok(crawllog_group_describe(log, "g", &d));
    assert_string_equal(d->state, "Stable");
    assert_string_equal(d->strategy, "cooperative-sticky");
    assert_int_equal(d->member_count, 2);
    assert_int_equal(d->partition_count, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(d->partitions[i].member_id);
    }
    assert_int_equal(d->members[0].partitions + d->members[1].partitions, 4);
    crawllog_group_desc_free(d);
    /* One leaves: the other gets everything back. */
    crawllog_consumer_destroy(ms[1].c);
    ms[1].c = NULL;
    settle(ms, 2, 4, 2000);
    assert_int_equal(count_owned(&ms[0]), 4);
    crawllog_consumer_destroy(ms[0].c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_eager_range_revokes_all(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 4, NULL);
    struct member ms[2];
    member_new(&ms[0], log, TOPIC, "partition.assignment.strategy", "range",
               NULL);
    settle(ms, 1, 4, 2000);
    member_new(&ms[1], log, TOPIC, "partition.assignment.strategy", "range",
               NULL);
    settle(ms, 2, 4, 2000);
    /* Eager: all four revoked, then two assigned again. */
    assert_int_equal(ms[0].revoked_count, 4);
    /* range over sorted member ids: contiguous halves. */
    assert_true((ms[0].owned[0] && ms[0].owned[1]) ||
                (ms[0].owned[2] && ms[0].owned[3]));
    /* A member with another strategy cannot join. */
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", NULL);
    crawllog_consumer_t *c3;
    char err[256];
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c3, err, sizeof(err)));
    const char *topics[] = {TOPIC};
    assert_crawllog_rc(crawllog_consumer_subscribe(c3, topics, 1),
                       CRAWLLOG_EINVAL);
    assert_non_null(strstr(crawllog_consumer_errmsg(c3), "range"));
    crawllog_consumer_destroy(c3);
    crawllog_conf_destroy(conf);
    crawllog_consumer_destroy(ms[0].c);
    crawllog_consumer_destroy(ms[1].c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_commit_on_revoke_and_stale_commit(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < 10; i++) {
            crawllog_record_t r = {NULL, 0, "v", 1, -1, NULL, 0};
            assert_crawllog_ok(crawllog_append(log, TOPIC, p, &r, 1,
                                               CRAWLLOG_SYNC_WRITTEN, NULL));
        }
    }
    struct member ms[2];
    member_new(&ms[0], log, TOPIC, NULL);
    ms[0].commit_on_revoke = 1;
    size_t got = 0;
    int64_t deadline = cl_test_mono_ms() + 3000;
    while (got < 20 && cl_test_mono_ms() < deadline) {
        step(&ms[0], &got);
    }
    assert_int_equal(got, 20);
    member_new(&ms[1], log, TOPIC, NULL);
    settle(ms, 2, 2, 2000);
    /* The partition that moved was committed in the revoke callback at its
     * position: the new owner starts there, nothing is redelivered. */
    int moved = ms[1].owned[0] ? 0 : 1;
    int64_t off;
    assert_crawllog_ok(crawllog_consumer_committed(ms[1].c, TOPIC, moved,
                                                   &off));
    assert_int_equal(off, 10);
    size_t got1 = 0;
    step(&ms[1], &got1);
    assert_int_equal(got1, 0);
    /* A commit for the partition the first member gave up is refused
     * (stale generation) and does not move the offset. */
    crawllog_topic_partition_t stale = {TOPIC, moved, 3, NULL};
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           ms[0].c, &stale, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EGENERATION);
    assert_non_null(strstr(crawllog_consumer_errmsg(ms[0].c), "not owned"));
    /* All or nothing: with one owned and one not, neither is committed. */
    crawllog_topic_partition_t mixed[2] = {{TOPIC, 1 - moved, 4, NULL},
                                           {TOPIC, moved, 4, NULL}};
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           ms[0].c, mixed, 2, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EGENERATION);
    assert_crawllog_ok(crawllog_consumer_committed(ms[1].c, TOPIC, moved,
                                                   &off));
    assert_int_equal(off, 10);
    assert_crawllog_ok(crawllog_consumer_committed(ms[1].c, TOPIC, 1 - moved,
                                                   &off));
    assert_int_equal(off, 10);
    /* A consumer without a subscription cannot commit for a live group. */
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", NULL);
    crawllog_consumer_t *admin;
    char err[256];
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &admin, err,
                                             sizeof(err)));
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           admin, &stale, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EGENERATION);
    crawllog_consumer_destroy(admin);
    crawllog_conf_destroy(conf);
    crawllog_consumer_destroy(ms[0].c);
    crawllog_consumer_destroy(ms[1].c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_max_poll_interval_expels(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 4, NULL);
    struct member ms[2];
    member_new(&ms[0], log, TOPIC, "max.poll.interval.ms", "300", NULL);
    member_new(&ms[1], log, TOPIC, NULL);
    settle(ms, 2, 4, 2000);
    int owned0 = -1;
    for (int p = 0; p < 4; p++) {
        if (ms[0].owned[p]) {
            owned0 = p;
        }
    }
    assert_true(owned0 >= 0);
    /* Member 0 stops polling; member 1 keeps polling and takes over. */
    int64_t deadline = cl_test_mono_ms() + 3000;
    while (count_owned(&ms[1]) < 4 && cl_test_mono_ms() < deadline) {
        step(&ms[1], NULL);
        cl_test_sleep_ms(10);
    }
    assert_int_equal(count_owned(&ms[1]), 4);
    /* Its commits are refused now. */
    crawllog_topic_partition_t tp = {TOPIC, owned0, 0, NULL};
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           ms[0].c, &tp, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EGENERATION);
    /* Its next poll reports the loss and rejoins. */
    step(&ms[0], NULL);
    assert_int_equal(ms[0].lost_events, 1);
    settle(ms, 2, 4, 3000);
    assert_int_equal(count_owned(&ms[0]), 2);
    crawllog_consumer_destroy(ms[0].c);
    crawllog_consumer_destroy(ms[1].c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_static_membership(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 4, NULL);
    struct member ms[2];
    member_new(&ms[0], log, TOPIC, "group.instance.id", "a",
               "session.timeout.ms", "1500", NULL);
    member_new(&ms[1], log, TOPIC, "group.instance.id", "b",
               "session.timeout.ms", "1500", NULL);
    settle(ms, 2, 4, 2000);
    int before[MAXP];
    memcpy(before, ms[0].owned, sizeof(before));
    int32_t gen = crawllog_consumer_generation(ms[1].c);
    /* "a" restarts: while it is away its partitions stay unowned... */
    crawllog_consumer_destroy(ms[0].c);
    ms[0].c = NULL;
    for (int i = 0; i < 10; i++) {
        step(&ms[1], NULL);
        cl_test_sleep_ms(10);
    }
    assert_int_equal(count_owned(&ms[1]), 2);
    /* ...and come back to the new instance, without a rebalance. */
    member_new(&ms[0], log, TOPIC, "group.instance.id", "a",
               "session.timeout.ms", "1500", NULL);
    settle(ms, 2, 4, 2000);
    assert_memory_equal(before, ms[0].owned, sizeof(before));
    step(&ms[1], NULL);
    assert_int_equal(crawllog_consumer_generation(ms[1].c), gen);
    assert_int_equal(ms[1].revoked_events, 0);
    /* A second live instance "a" fences the first. */
    struct member dup;
    member_new(&dup, log, TOPIC, "group.instance.id", "a",
               "session.timeout.ms", "1500", NULL);
    const crawllog_msg_t *m[4];
    size_t n;
    int rc = CRAWLLOG_OK;
    for (int i = 0; i < 50 && rc == CRAWLLOG_OK; i++) {
        rc = crawllog_consumer_poll(ms[0].c, 0, m, 4, &n);
        step(&dup, NULL);
    }
    assert_int_equal(rc, CRAWLLOG_EFENCED);
    assert_crawllog_rc(crawllog_consumer_poll(ms[0].c, 0, m, 4, &n),
                       CRAWLLOG_EFENCED);
    crawllog_consumer_destroy(ms[0].c);
    ms[0] = dup;
    assert_crawllog_ok(crawllog_consumer_set_rebalance_cb(ms[0].c, on_rebalance,
                                                          &ms[0]));
    /* Away longer than session.timeout.ms: the partitions move. */
    crawllog_consumer_destroy(ms[0].c);
    ms[0].c = NULL;
    settle(ms, 2, 4, 4000);
    assert_int_equal(count_owned(&ms[1]), 4);
    crawllog_consumer_destroy(ms[1].c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_partitions_added_and_late_topic(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    struct member ms[1];
    member_new(&ms[0], log, TOPIC, NULL);
    settle(ms, 1, 2, 2000);
    assert_crawllog_ok(crawllog_topic_add_partitions(log, TOPIC, 5));
    settle(ms, 1, 5, 3000);
    assert_int_equal(count_owned(&ms[0]), 5);
    crawllog_consumer_destroy(ms[0].c);
    /* Subscribing to a topic that does not exist yet. */
    struct member late;
    memset(&late, 0, sizeof(late));
    crawllog_conf_t *conf = cl_test_conf("group.id", "g2", NULL);
    char err[256];
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &late.c, err,
                                             sizeof(err)));
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(crawllog_consumer_set_rebalance_cb(late.c, on_rebalance,
                                                          &late));
    const char *topics[] = {"later"};
    assert_crawllog_ok(crawllog_consumer_subscribe(late.c, topics, 1));
    step(&late, NULL);
    assert_int_equal(count_owned(&late), 0);
    cl_test_create_topic(log, "later", 3, NULL);
    int64_t deadline = cl_test_mono_ms() + 3000;
    while (late.assigned_events == 0 && cl_test_mono_ms() < deadline) {
        step(&late, NULL);
        cl_test_sleep_ms(10);
    }
    crawllog_topic_partition_t *list;
    size_t n;
    assert_crawllog_ok(crawllog_consumer_assignment(late.c, &list, &n));
    assert_int_equal(n, 3);
    free(list);
    /* The topic is deleted under the member: polls go on without an
     * error, and the partitions are revoked at the next check. */
    assert_crawllog_ok(crawllog_topic_delete(log, "later"));
    deadline = cl_test_mono_ms() + 3000;
    do {
        step(&late, NULL);
        assert_crawllog_ok(crawllog_consumer_assignment(late.c, &list, &n));
        free(list);
        cl_test_sleep_ms(10);
    } while (n > 0 && cl_test_mono_ms() < deadline);
    assert_int_equal(n, 0);
    crawllog_consumer_destroy(late.c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* ---- threads ------------------------------------------------------------ */

#define T_PARTS 8
#define T_MSGS 4000
#define T_THREADS 4

struct tshared {
    crawllog_t *log;
    _Atomic int seen[T_PARTS][T_MSGS];  /* deliveries per offset */
    _Atomic int holder[T_PARTS];       /* thread delivering, -1 */
    _Atomic int stop;
    _Atomic long total;
};

struct targ {
    struct tshared *sh;
    int id;
};

/* Revoked partitions stop being "held" before the group can give them to
 * another member (the callback runs before the release). */
static void thread_rebalance(crawllog_consumer_t *c, int event,
                             const crawllog_topic_partition_t *parts,
                             size_t count, void *opaque)
{
    struct targ *ta = opaque;
    (void)c;
    if (event == CRAWLLOG_REBALANCE_ASSIGNED) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        int me = ta->id;
        if (parts[i].partition >= 0 && parts[i].partition < T_PARTS) {
            atomic_compare_exchange_strong(&ta->sh->holder[parts[i].partition],
                                           &me, -1);
        }
    }
}

static void *group_thread(void *arg)
{
    struct targ *ta = arg;
    struct tshared *sh = ta->sh;
    crawllog_conf_t *conf = NULL;
    char err[256];
    int rc = crawllog_conf_new(&conf);
    rc |= crawllog_conf_set(conf, "group.id", "tg", err, sizeof(err));
    rc |= crawllog_conf_set(conf, "auto.offset.reset", "earliest", err,
                            sizeof(err));
    crawllog_consumer_t *c = NULL;
    rc |= crawllog_consumer_new(sh->log, conf, &c, err, sizeof(err));
    crawllog_conf_destroy(conf);
    cl_test_thread_check(rc == 0, "consumer_new: %s", err);
    const char *topics[] = {TOPIC};
    crawllog_consumer_set_rebalance_cb(c, thread_rebalance, ta);
    rc = crawllog_consumer_subscribe(c, topics, 1);
    cl_test_thread_check(rc == 0, "subscribe: %s", crawllog_err_name(rc));
    while (!atomic_load(&sh->stop)) {
        const crawllog_msg_t *m[50];
        size_t n = 0;
        rc = crawllog_consumer_poll(c, 50, m, 50, &n);
        cl_test_thread_check(rc == 0, "poll: %s %s", crawllog_err_name(rc),
                             crawllog_consumer_errmsg(c));
        for (size_t i = 0; i < n; i++) {
            int32_t p = crawllog_msg_partition(m[i]);
            int64_t o = crawllog_msg_offset(m[i]);
            cl_test_thread_check(p >= 0 && p < T_PARTS && o >= 0 &&
                                     o < T_MSGS,
                                 "bad message %d/%lld", (int)p, (long long)o);
            int expect = -1;
            /* No two threads deliver one partition at the same time. */
            if (!atomic_compare_exchange_strong(&sh->holder[p], &expect,
                                                ta->id)) {
                cl_test_thread_check(expect == ta->id,
                                     "partition %d held by %d and %d",
                                     (int)p, expect, ta->id);
            }
            if (atomic_fetch_add(&sh->seen[p][o], 1) == 0) {
                atomic_fetch_add(&sh->total, 1);
            }
        }
        /* Nobody expels anyone here: every commit must be accepted. */
        rc = crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_WRITTEN);
        cl_test_thread_check(rc == 0, "commit: %s %s", crawllog_err_name(rc),
                             crawllog_consumer_errmsg(c));
    }
    crawllog_consumer_destroy(c); /* revokes: the callback clears marks */
    return NULL;
}

static void test_threads_group(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, T_PARTS, NULL);
    struct tshared *sh = calloc(1, sizeof(*sh));
    assert_non_null(sh);
    sh->log = log;
    for (int p = 0; p < T_PARTS; p++) {
        atomic_store(&sh->holder[p], -1);
    }
    pthread_t th[T_THREADS];
    struct targ ta[T_THREADS];
    for (int i = 0; i < T_THREADS; i++) {
        ta[i] = (struct targ){sh, i};
        assert_int_equal(pthread_create(&th[i], NULL, group_thread, &ta[i]),
                         0);
    }
    for (int o = 0; o < T_MSGS; o++) {
        for (int p = 0; p < T_PARTS; p++) {
            crawllog_record_t r = {NULL, 0, "x", 1, -1, NULL, 0};
            assert_crawllog_ok(crawllog_append(log, TOPIC, p, &r, 1,
                                               CRAWLLOG_SYNC_WRITTEN, NULL));
        }
    }
    int64_t deadline = cl_test_mono_ms() + 20000;
    while (atomic_load(&sh->total) < (long)T_PARTS * T_MSGS &&
           cl_test_mono_ms() < deadline) {
        cl_test_sleep_ms(10);
    }
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < T_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
    }
    assert_int_equal(atomic_load(&sh->total), (long)T_PARTS * T_MSGS);
    /* Committed offsets: everything (the members committed after each
     * poll and on revoke through close). */
    crawllog_group_desc_t *d;
    assert_crawllog_ok(crawllog_group_describe(log, "tg", &d));
    assert_int_equal(d->member_count, 0);
    long dups = 0;
    for (size_t i = 0; i < d->partition_count; i++) {
        assert_int_equal(d->partitions[i].committed, T_MSGS);
        assert_int_equal(d->partitions[i].lag, 0);
    }
    for (int p = 0; p < T_PARTS; p++) {
        for (int o = 0; o < T_MSGS; o++) {
            dups += atomic_load(&sh->seen[p][o]) - 1;
        }
    }
    print_message("threads group: %ld duplicate deliveries of %d\n", dups,
                  T_PARTS * T_MSGS);
    crawllog_group_desc_free(d);
    free(sh);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_cooperative_two_members),
        cl_test_unit_tmpdir(test_eager_range_revokes_all),
        cl_test_unit_tmpdir(test_commit_on_revoke_and_stale_commit),
        cl_test_unit_tmpdir(test_max_poll_interval_expels),
        cl_test_unit_tmpdir(test_static_membership),
        cl_test_unit_tmpdir(test_partitions_added_and_late_topic),
        cl_test_unit_tmpdir(test_threads_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
