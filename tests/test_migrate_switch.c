/*
 * test_migrate_switch.c - step 4 and 5 of a topic migration
 * (docs/MIGRATION.md): consumer groups subscribed to <old> finish it up to
 * the cut-over and switch to <new> by themselves; the migration becomes
 * done when every group that committed on <old> has switched, and only
 * then can <old> be deleted without --force.
 *
 * Single process (one or two consumers polled in turn); the multi-process
 * run with producers, two groups and SIGKILLs is test_migrate_groups.c.
 * Records carry "key:seq" values, seq counting per key from 0, so per-key
 * order and exactly-once delivery can be checked from what a group is
 * handed out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crawllog.h"
#include "helpers.h"

#define NKEYS 8
#define MAXREC 512

/* What a group was handed out. */
struct seen {
    int next[NKEYS];         /* next seq expected per key */
    int count;
    int from_old, from_new;
    int revoked_old, lost, assigned_new;
};

struct world {
    crawllog_t *log;
    crawllog_producer_t *prod;
    int sent[NKEYS];         /* records sent per key */
    int total;
};

static void send_n(struct world *w, int n)
{
    for (int i = 0; i < n; i++) {
        int k = (w->total * 7 + i) % NKEYS;
        char key[16], val[32];
        snprintf(key, sizeof(key), "k%d", k);
        int vlen = snprintf(val, sizeof(val), "k%d:%d", k, w->sent[k]);
        assert_crawllog_ok(crawllog_producer_send(
            w->prod, "old", CRAWLLOG_PARTITION_ANY, key, strlen(key), val,
            (size_t)vlen, NULL, 0, NULL));
        w->sent[k]++;
    }
    w->total += n;
}

static void world_open(struct world *w, const char *dir, int32_t m)
{
    char err[256];
    memset(w, 0, sizeof(*w));
    w->log = cl_test_open(dir, NULL);
    cl_test_create_topic(w->log, "old", m, NULL);
    crawllog_conf_t *conf = cl_test_conf("acks", "1", "partitioner",
                                         "murmur2_random", NULL);
    assert_int_equal(crawllog_producer_new(w->log, conf, &w->prod, err,
                                           sizeof(err)),
                     0);
    crawllog_conf_destroy(conf);
}

static void world_close(struct world *w)
{
    assert_crawllog_ok(crawllog_producer_destroy(w->prod));
    assert_crawllog_ok(crawllog_close(w->log));
}

static void on_rebalance(crawllog_consumer_t *cons, int event,
                         const crawllog_topic_partition_t *parts, size_t n,
                         void *opaque)
{
    struct seen *s = opaque;
    (void)cons;
    for (size_t i = 0; i < n; i++) {
        if (event == CRAWLLOG_REBALANCE_REVOKED &&
            strcmp(parts[i].topic, "old") == 0) {
            s->revoked_old++;
        } else if (event == CRAWLLOG_REBALANCE_LOST) {
            s->lost++;
        } else if (event == CRAWLLOG_REBALANCE_ASSIGNED &&
                   strcmp(parts[i].topic, "new") == 0) {
            s->assigned_new++;
        }
    }
}

static crawllog_consumer_t *member(crawllog_t *log, const char *group,
                                   const char *reset, struct seen *s)
{
    char err[256];
    crawllog_consumer_t *c = NULL;
    crawllog_conf_t *conf =
        cl_test_conf("group.id", group, "auto.offset.reset", reset,
                     "heartbeat.interval.ms", "20", NULL);
    assert_int_equal(crawllog_consumer_new(log, conf, &c, err, sizeof(err)),
                     0);
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(crawllog_consumer_set_rebalance_cb(c, on_rebalance, s));
    const char *topics[1] = {"old"};
    assert_crawllog_ok(crawllog_consumer_subscribe(c, topics, 1));
    return c;
}

/* Check one handed-out message against s (per-key order, no duplicate)
 * and, if start is not NULL, that nothing of <new> below start[q] comes. */
static void take(struct seen *s, const crawllog_msg_t *msg,
                 const crawllog_migration_t *mig)
{
    size_t vlen = 0;
    const char *v = crawllog_msg_value(msg, &vlen);
    char buf[32];
    int k = -1, seq = -1;
    assert_true(vlen < sizeof(buf));
    memcpy(buf, v, vlen);
    buf[vlen] = '\0';
    assert_int_equal(sscanf(buf, "k%d:%d", &k, &seq), 2);
    assert_true(k >= 0 && k < NKEYS);
    if (seq != s->next[k]) {
        fail_msg("key k%d: seq %d handed out, %d expected (%s/%d@%" PRId64
                 ")",
                 k, seq, s->next[k], crawllog_msg_topic(msg),
                 (int)crawllog_msg_partition(msg), crawllog_msg_offset(msg));
    }
    s->next[k]++;
    s->count++;
    if (strcmp(crawllog_msg_topic(msg), "new") == 0) {
        s->from_new++;
        if (mig != NULL) {
            assert_true(crawllog_msg_offset(msg) >=
                        mig->start[crawllog_msg_partition(msg)]);
        }
    } else {
        s->from_old++;
    }
}

/* Poll c (committing each message) until want messages in total were
 * taken, or fail after a deadline.  Returns how many this call took. */
static int consume(crawllog_consumer_t *c, struct seen *s, int want,
                   const crawllog_migration_t *mig)
{
    int took = 0;
    for (int round = 0; s->count < want && round < 400; round++) {
        const crawllog_msg_t *msgs[16];
        size_t n = 0;
        size_t max = (size_t)(want - s->count) < 16 ? (size_t)(want - s->count)
                                                     : 16;
        assert_crawllog_ok(crawllog_consumer_poll(c, 20, msgs, max, &n));
        for (size_t i = 0; i < n; i++) {
            take(s, msgs[i], mig);
            assert_crawllog_ok(
                crawllog_consumer_commit(c, msgs[i], CRAWLLOG_SYNC_WRITTEN));
            took++;
        }
    }
    assert_int_equal(s->count, want);
    return took;
}

/* Poll c a few times, expecting nothing. */
static void idle(crawllog_consumer_t *c, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        const crawllog_msg_t *msgs[4];
        size_t n = 0;
        assert_crawllog_ok(crawllog_consumer_poll(c, 10, msgs, 4, &n));
        assert_int_equal(n, 0);
    }
}

static crawllog_migration_state_t state_of(crawllog_t *log,
                                           crawllog_migration_t **mp)
{
    crawllog_migration_t *m = NULL;
    assert_crawllog_ok(crawllog_topic_migration(log, "old", &m));
    crawllog_migration_state_t st = m->state;
    if (mp != NULL) {
        *mp = m;
    } else {
        crawllog_migration_free(m);
    }
    return st;
}

/* A group half way through <old> at the cut-over: it gets the rest of
 * <old>, then only what was appended after the cut (from <new>), per-key
 * order kept, nothing twice; its old partitions are revoked (not lost);
 * the migration is then done and <old> can be deleted. */
static void drain_and_switch(void **state, int32_t m, int32_t n)
{
    struct world w;
    struct seen s = {{0}, 0, 0, 0, 0, 0, 0};
    world_open(&w, CL_TEST_DIR(state), m);
    send_n(&w, 120);
    crawllog_consumer_t *c = member(w.log, "g", "earliest", &s);
    consume(c, &s, 50, NULL);

    assert_crawllog_ok_log(w.log, crawllog_topic_migrate(w.log, "old", "new",
                                                         n, NULL, NULL));
    crawllog_migration_t *mig = NULL;
    assert_int_equal(state_of(w.log, &mig), CRAWLLOG_MIGRATION_REDIRECT);
    assert_int_equal(mig->pending_group_count, 1);
    assert_string_equal(mig->pending_groups[0], "g");
    /* Refused while g has not switched. */
    assert_crawllog_rc(crawllog_topic_delete(w.log, "old"), CRAWLLOG_EBUSY);

    send_n(&w, 40); /* redirected to <new> */
    /* Past a heartbeat: the first poll runs the migration check while 70
     * records of <old> are still to be handed out. */
    struct timespec pause = {0, 60 * 1000000L};
    nanosleep(&pause, NULL);
    consume(c, &s, 160, mig);
    assert_int_equal(s.from_old, 120);
    assert_int_equal(s.from_new, 40);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.revoked_old, m);
    assert_int_equal(s.assigned_new, n);
    idle(c, 3);
    assert_int_equal(state_of(w.log, NULL), CRAWLLOG_MIGRATION_DONE);

    /* The group's committed offsets: every old partition at its cut. */
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_ok(crawllog_group_describe(w.log, "g", &d));
    int old_rows = 0;
    for (size_t i = 0; i < d->partition_count; i++) {
        const crawllog_group_partition_t *p = &d->partitions[i];
        if (strcmp(p->topic, "old") == 0) {
            assert_int_equal(p->committed, mig->cut[p->partition]);
            old_rows++;
        } else {
            assert_int_equal(p->lag, 0);
        }
    }
    assert_int_equal(old_rows, m);
    crawllog_group_desc_free(d);

    /* A member joining later, subscribed to <old>, reads <new>. */
    struct seen s2 = {{0}, 0, 0, 0, 0, 0, 0};
    crawllog_consumer_t *c2 = member(w.log, "g", "earliest", &s2);
    for (int i = 0; i < 20; i++) {
        const crawllog_msg_t *msgs[4];
        size_t got = 0;
        assert_crawllog_ok(crawllog_consumer_poll(c, 5, msgs, 4, &got));
        assert_crawllog_ok(crawllog_consumer_poll(c2, 5, msgs, 4, &got));
        assert_int_equal(got, 0);
    }
    crawllog_topic_partition_t *as = NULL;
    size_t nas = 0;
    assert_crawllog_ok(crawllog_consumer_assignment(c2, &as, &nas));
    assert_true(nas > 0);
    for (size_t i = 0; i < nas; i++) {
        assert_string_equal(as[i].topic, "new");
    }
    free(as);
    assert_crawllog_ok(crawllog_consumer_close(c2));
    crawllog_consumer_destroy(c2);
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    crawllog_migration_free(mig);

    assert_crawllog_ok(crawllog_topic_delete(w.log, "old"));
    world_close(&w);
}

static void test_switch_12_to_3(void **state)
{
    drain_and_switch(state, 12, 3);
}

static void test_switch_3_to_12(void **state)
{
    drain_and_switch(state, 3, 12);
}

/* Groups that never committed on <old>: one created after the cut-over
 * starts on <new> directly (earliest: everything, in per-key order, from
 * the copies); a member that was subscribed at the cut-over with
 * auto.offset.reset=latest and got nothing commits the cut of its empty
 * partitions, switches, and gets exactly what was appended after the
 * cut-over. */
static void test_untouched_groups(void **state)
{
    struct world w;
    struct seen sl = {{0}, 0, 0, 0, 0, 0, 0};
    world_open(&w, CL_TEST_DIR(state), 4);
    send_n(&w, 60);
    int pre_cut[NKEYS];
    memcpy(pre_cut, w.sent, sizeof(pre_cut));
    crawllog_consumer_t *late = member(w.log, "lat", "latest", &sl);
    idle(late, 3);
    assert_crawllog_ok_log(w.log, crawllog_topic_migrate(w.log, "old", "new",
                                                         2, NULL, NULL));
    /* No group committed on <old>: done at once. */
    assert_int_equal(state_of(w.log, NULL), CRAWLLOG_MIGRATION_DONE);
    send_n(&w, 30);
    crawllog_migration_t *mig = NULL;
    state_of(w.log, &mig);
    /* "lat" only sees post-cut records: seqs continue from the cut. */
    memcpy(sl.next, pre_cut, sizeof(sl.next));
    sl.count = 60;
    consume(late, &sl, 90, mig);
    assert_int_equal(sl.from_new, 30);
    assert_int_equal(sl.from_old, 0);
    assert_int_equal(sl.lost, 0);

    struct seen se = {{0}, 0, 0, 0, 0, 0, 0};
    crawllog_consumer_t *fresh = member(w.log, "fresh", "earliest", &se);
    consume(fresh, &se, 90, NULL);
    assert_int_equal(se.from_new, 90);
    assert_int_equal(se.revoked_old, 0);
    idle(fresh, 2);
    crawllog_migration_free(mig);
    assert_crawllog_ok(crawllog_consumer_close(late));
    crawllog_consumer_destroy(late);
    assert_crawllog_ok(crawllog_consumer_close(fresh));
    crawllog_consumer_destroy(fresh);
    world_close(&w);
}

/* m partitions, nrec records, a member of group consuming ntake of them
 * and leaving, then the migration to n partitions. */
static void offline_then_migrate(void **state, struct world *w,
                                 struct seen *s, const char *group,
                                 int32_t m, int nrec, int ntake, int32_t n)
{
    world_open(w, CL_TEST_DIR(state), m);
    send_n(w, nrec);
    crawllog_consumer_t *c = member(w->log, group, "earliest", s);
    consume(c, s, ntake, NULL);
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    assert_crawllog_ok_log(w->log, crawllog_topic_migrate(w->log, "old", "new",
                                                          n, NULL, NULL));
}

/* A group that committed on <old> and has no running member keeps the
 * migration in redirect (and <old> undeletable without force); its member
 * coming back finishes <old> and switches, which makes it done. */
static void test_offline_group(void **state)
{
    struct world w;
    struct seen s = {{0}, 0, 0, 0, 0, 0, 0};
    offline_then_migrate(state, &w, &s, "off", 3, 30, 10, 5);
    send_n(&w, 10);
    /* Resuming re-checks the groups: still pending. */
    assert_crawllog_ok(
        crawllog_topic_migrate(w.log, "old", "new", 5, NULL, NULL));
    crawllog_migration_t *mig = NULL;
    assert_int_equal(state_of(w.log, &mig), CRAWLLOG_MIGRATION_REDIRECT);
    assert_int_equal(mig->pending_group_count, 1);
    assert_crawllog_rc(crawllog_topic_delete(w.log, "old"), CRAWLLOG_EBUSY);
    assert_crawllog_rc(crawllog_topic_delete_flags(w.log, "old", 8),
                       CRAWLLOG_EINVAL);

    crawllog_consumer_t *c = member(w.log, "off", "earliest", &s);
    consume(c, &s, 40, mig);
    assert_int_equal(s.from_old, 30);
    assert_int_equal(s.from_new, 10);
    idle(c, 3);
    assert_int_equal(state_of(w.log, NULL), CRAWLLOG_MIGRATION_DONE);
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    crawllog_migration_free(mig);
    assert_crawllog_ok(crawllog_topic_delete(w.log, "old"));
    world_close(&w);
}

/* --force deletes a topic whose migration is not done. */
static void test_force_delete(void **state)
{
    struct world w;
    struct seen s = {{0}, 0, 0, 0, 0, 0, 0};
    offline_then_migrate(state, &w, &s, "fd", 2, 10, 4, 3);
    assert_crawllog_rc(crawllog_topic_delete(w.log, "old"), CRAWLLOG_EBUSY);
    assert_crawllog_ok(
        crawllog_topic_delete_flags(w.log, "old", CRAWLLOG_DELETE_FORCE));
    assert_crawllog_rc(crawllog_topic_delete(w.log, "old"),
                       CRAWLLOG_ENOTOPIC);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_switch_12_to_3),
        cl_test_unit_tmpdir(test_switch_3_to_12),
        cl_test_unit_tmpdir(test_untouched_groups),
        cl_test_unit_tmpdir(test_offline_group),
        cl_test_unit_tmpdir(test_force_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
