/*
 * test_fault_group.c - failpoint and allocation-failure sweeps over
 * consumer groups (reliability.md 4.3 T2 and 4.4 T3, SQLite's I/O-error
 * loop).  Built with -DCRAWLLOG_TESTING.
 *
 * Scenarios (the armed call in brackets): group join [subscribe + poll
 * until both partitions deliver], commits [commit_offsets DURABLE and
 * WRITTEN, commit(msg), commit(NULL) of every position], auto-commit
 * [poll with enable.auto.commit, and close], leave [close], rebalance [a
 * second member joins], describe/list/lag [crawllog_group_describe +
 * crawllog_group_list], dead letter [crawllog_consumer_dead_letter],
 * retry policy [crawllog_consumer_process dead-lettering after 2
 * attempts], admin [crawllog_group_set_offsets, crawllog_group_delete].
 *
 * The loop (tests/helpers_fault.c), per scenario: a dry run lists the
 * sites the armed call reaches (cl_fp_site_info) with their hit counts;
 * then for every site,
 * every fault kind that applies (EIO, ENOSPC, EINTR; SHORT(3) for writes;
 * EMFILE and EACCES for opens; EAGAIN for locks) and both modes (once,
 * :persist), k = 1, 2, ... (sampled: 1..4 and the last two hits, unless
 * CL_FAULT_FULL=1): a fresh copy of the prepared directory, arm
 * "site=KIND@k", run, disarm, then check:
 *  - no fault fired -> the call succeeded; EINTR at a wrapper that
 *    retries it -> success; otherwise success or a negative code
 *    consistent with the fault (the errno's code, EIO or ECLOSED);
 *  - (faults off) the handles close, no file descriptor leaked, the
 *    directory reopens, crawllog_verify is clean and the model holds:
 *    committed offsets are the old ones or all the new ones (never a
 *    part), the new ones if the call succeeded; dead letters exist exactly
 *    once (a failed dead_letter is finished by calling it again);
 *  - the group still works: a fresh member resumes at the committed
 *    offsets.
 * The OOM sweep arms "malloc=ENOMEM@k" (once, :persist) over the same
 * scenarios: success or CRAWLLOG_ENOMEM, then the same checks.  Leaks are
 * LSan's job (ASan build).  Prints "fault-group: faults=F recoveries=R
 * violations=V".  CL_TEST_FILTER=pattern runs matching tests only.
 */
#include "helpers.h"
#include "helpers_fault.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "io_failpoint.h"

#define NREC 20 /* records in each partition of "t" */
#define QREC 3  /* records in "q" */

/* ---------------------------------------------------------------------- */
/* Consumers and the model                                                 */
/* ---------------------------------------------------------------------- */

static crawllog_consumer_t *consumer(crawllog_t *log, const char *k1,
                                     const char *v1, const char *k2,
                                     const char *v2)
{
    char err[256];
    crawllog_consumer_t *c = NULL;
    crawllog_conf_t *conf =
        cl_test_conf("group.id", "g", "auto.offset.reset", "earliest", NULL);
    if (k1) {
        assert_crawllog_ok(crawllog_conf_set(conf, k1, v1, err, sizeof(err)));
    }
    if (k2) {
        assert_crawllog_ok(crawllog_conf_set(conf, k2, v2, err, sizeof(err)));
    }
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    if (rc != 0) {
        fail_msg("consumer_new: %s (%s)", crawllog_err_name(rc), err);
    }
    crawllog_conf_destroy(conf);
    return c;
}

static int subscribe(crawllog_consumer_t *c, const char *topic)
{
    const char *topics[] = {topic};
    return crawllog_consumer_subscribe(c, topics, 1);
}

/* Poll until every partition of topic delivered a message (first
 * offsets in first[], -1 none) or a poll fails (its code). */
static int poll_all(crawllog_consumer_t *c, int32_t parts, int64_t *first,
                    const crawllog_msg_t **keep)
{
    for (int32_t p = 0; p < parts; p++) {
        first[p] = -1;
    }
    for (int i = 0; i < 40; i++) {
        const crawllog_msg_t *m[64];
        size_t n = 0;
        int rc = crawllog_consumer_poll(c, 0, m, 64, &n), done = 1;
        if (rc != 0) {
            return rc;
        }
        for (size_t j = 0; j < n; j++) {
            int32_t p = crawllog_msg_partition(m[j]);
            if (p >= 0 && p < parts && first[p] < 0) {
                first[p] = crawllog_msg_offset(m[j]);
                if (keep && p == 0) {
                    *keep = m[j];
                }
            }
        }
        for (int32_t p = 0; p < parts; p++) {
            done &= first[p] >= 0;
        }
        if (done) {
            return 0;
        }
    }
    return CRAWLLOG_ETIMEDOUT;
}

static void joined(struct cl_fault_ctx *c, const char *topic, int32_t parts)
{
    int64_t first[2];
    assert_crawllog_ok(subscribe(c->cons, topic));
    assert_crawllog_ok(poll_all(c->cons, parts, first, &c->msg));
}

static void committed(crawllog_t *log, const char *topic, int64_t *o,
                      int32_t parts)
{
    crawllog_consumer_t *c = consumer(log, NULL, NULL, NULL, NULL);
    for (int32_t p = 0; p < parts; p++) {
        assert_crawllog_ok(crawllog_consumer_committed(c, topic, p, &o[p]));
    }
    crawllog_consumer_destroy(c);
}

/* g's committed offsets of t are (a0, a1), or (b0, b1) (the only choice if
 * the call succeeded); then a new member resumes there. */
static void expect_offsets(struct cl_fault_ctx *c, crawllog_t *log, int64_t a0,
                           int64_t a1, int64_t b0, int64_t b1)
{
    int64_t o[2], first[2];
    committed(log, "t", o, 2);
    if (!((o[0] == b0 && o[1] == b1) ||
          (c->rc != 0 && o[0] == a0 && o[1] == a1))) {
        fail_msg("committed (%" PRId64 ", %" PRId64 "), want (%" PRId64
                 ", %" PRId64 ")%s after rc %s",
                 o[0], o[1], b0, b1, c->rc ? " or the old ones" : "",
                 crawllog_err_name(c->rc));
    }
    crawllog_consumer_t *m = consumer(log, NULL, NULL, NULL, NULL);
    assert_crawllog_ok(subscribe(m, "t"));
    if (o[0] < NREC && o[1] < NREC) {
        assert_crawllog_ok(poll_all(m, 2, first, NULL));
        assert_int_equal(first[0], o[0]);
        assert_int_equal(first[1], o[1]);
    }
    assert_crawllog_ok(crawllog_consumer_close(m));
    crawllog_consumer_destroy(m);
}

static void release(struct cl_fault_ctx *c)
{
    crawllog_consumer_destroy(c->cons);
    crawllog_consumer_destroy(c->cons2);
    c->cons = c->cons2 = NULL;
}

static void check_unchanged(struct cl_fault_ctx *c, crawllog_t *log)
{
    expect_offsets(c, log, 5, 3, 5, 3);
}

/* ---------------------------------------------------------------------- */
/* Scenarios                                                               */
/* ---------------------------------------------------------------------- */

static void pre_consumer(struct cl_fault_ctx *c)
{
    c->cons = consumer(c->log, NULL, NULL, NULL, NULL);
}

static void pre_joined(struct cl_fault_ctx *c)
{
    pre_consumer(c);
    joined(c, "t", 2);
}

static int run_join(struct cl_fault_ctx *c)
{
    int64_t first[2];
    int rc = subscribe(c->cons, "t");
    if (rc == 0) {
        rc = poll_all(c->cons, 2, first, NULL);
    }
    if (rc == 0 && (first[0] != 5 || first[1] != 3)) {
        fail_msg("join [%s]: first offsets %" PRId64 ", %" PRId64 ": want 5, 3",
                 cl_fault.spec, first[0], first[1]);
    }
    return rc;
}

static int run_commit_durable(struct cl_fault_ctx *c)
{
    crawllog_topic_partition_t tp[2] = {{"t", 0, 9, "m"}, {"t", 1, 7, NULL}};
    return crawllog_consumer_commit_offsets(c->cons, tp, 2,
                                            CRAWLLOG_SYNC_DURABLE);
}

static int run_commit_written(struct cl_fault_ctx *c)
{
    crawllog_topic_partition_t tp[2] = {{"t", 0, 9, NULL}, {"t", 1, 7, NULL}};
    return crawllog_consumer_commit_offsets(c->cons, tp, 2,
                                            CRAWLLOG_SYNC_WRITTEN);
}

static void check_commit(struct cl_fault_ctx *c, crawllog_t *log)
{
    expect_offsets(c, log, 5, 3, 9, 7);
}

static int run_commit_msg(struct cl_fault_ctx *c)
{
    assert_int_equal(crawllog_msg_offset(c->msg), 5);
    return crawllog_consumer_commit(c->cons, c->msg, CRAWLLOG_SYNC_DURABLE);
}

static void check_commit_msg(struct cl_fault_ctx *c, crawllog_t *log)
{
    expect_offsets(c, log, 5, 3, 6, 3);
}

static int run_commit_all(struct cl_fault_ctx *c)
{
    return crawllog_consumer_commit(c->cons, NULL, CRAWLLOG_SYNC_WRITTEN);
}

static void check_all(struct cl_fault_ctx *c, crawllog_t *log)
{
    expect_offsets(c, log, 5, 3, NREC, NREC);
}

static void pre_auto(struct cl_fault_ctx *c)
{
    c->cons = consumer(c->log, "enable.auto.commit", "true",
                       "auto.commit.interval.ms", "1");
    joined(c, "t", 2);
    cl_test_sleep_ms(3);
}

static int run_auto_poll(struct cl_fault_ctx *c)
{
    const crawllog_msg_t *m[64];
    size_t n;
    int rc = 0;
    /* The first poll after the interval commits what was delivered. */
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = crawllog_consumer_poll(c->cons, 0, m, 64, &n);
    }
    return rc;
}

static void check_auto_poll(struct cl_fault_ctx *c, crawllog_t *log)
{
    /* Auto-commits are asynchronous: a poll succeeding does not promise
     * one, so either result is fine, never a part. */
    int64_t o[2];
    committed(log, "t", o, 2);
    if (!((o[0] == 5 && o[1] == 3) || (o[0] == NREC && o[1] == NREC))) {
        fail_msg("auto-commit left (%" PRId64 ", %" PRId64 ")", o[0], o[1]);
    }
    c->rc = 1; /* both outcomes allowed by expect_offsets */
    expect_offsets(c, log, 5, 3, NREC, NREC);
}

static int run_close(struct cl_fault_ctx *c)
{
    return crawllog_consumer_close(c->cons);
}

/* Every member is gone once its process closed its handles (a failed
 * leave included: the kernel dropped its liveness lock). */
static void expect_no_member(crawllog_t *log)
{
    crawllog_group_desc_t *d;
    assert_crawllog_ok(crawllog_group_describe(log, "g", &d));
    if (d->member_count != 0) {
        fail_msg("[%s]: %zu member(s) left (%s alive=%d pid=%ld)",
                 cl_fault.spec, d->member_count, d->members[0].member_id,
                 d->members[0].alive, d->members[0].pid);
    }
    crawllog_group_desc_free(d);
}

/* (A failed leave may leave the member's entry until the next member
 * polls, which finds its lock gone: describe alone is read-only.) */
static void check_close(struct cl_fault_ctx *c, crawllog_t *log)
{
    expect_offsets(c, log, 5, 3, NREC, NREC);
    expect_no_member(log);
}

static void check_leave(struct cl_fault_ctx *c, crawllog_t *log)
{
    check_unchanged(c, log);
    expect_no_member(log);
}

static void pre_rebalance(struct cl_fault_ctx *c)
{
    pre_joined(c);
    c->cons2 = consumer(c->log, NULL, NULL, NULL, NULL);
}

/* Partitions owned, or 0 if the assignment cannot be listed (no memory
 * under the OOM sweep: the loop polls on). */
static size_t owned(crawllog_consumer_t *cons)
{
    crawllog_topic_partition_t *list;
    size_t n;
    if (crawllog_consumer_assignment(cons, &list, &n) != 0) {
        return 0;
    }
    free(list);
    return n;
}

static int run_rebalance(struct cl_fault_ctx *c)
{
    int rc = subscribe(c->cons2, "t");
    for (int i = 0; rc == 0 && i < 30; i++) {
        const crawllog_msg_t *m[64];
        size_t n;
        rc = crawllog_consumer_poll(c->cons, 0, m, 64, &n);
        if (rc == 0) {
            rc = crawllog_consumer_poll(c->cons2, i > 3, m, 64, &n);
        }
        if (rc == 0 && owned(c->cons) == 1 && owned(c->cons2) == 1) {
            return 0;
        }
    }
    return rc != 0 ? rc : CRAWLLOG_ETIMEDOUT;
}

static void pre_describe(struct cl_fault_ctx *c)
{
    pre_joined(c);
    assert_crawllog_ok(run_commit_durable(c));
}

static int run_describe(struct cl_fault_ctx *c)
{
    crawllog_group_desc_t *d = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc = crawllog_group_describe(c->log, "g", &d);
    if (rc == 0) {
        assert_int_equal(d->member_count, 1);
        assert_int_equal(d->partition_count, 2);
        assert_int_equal(d->partitions[0].committed, 9);
        assert_int_equal(d->partitions[1].committed, 7);
        assert_int_equal(d->partitions[0].lag, NREC - 9);
        assert_int_equal(d->partitions[1].log_end, NREC);
        crawllog_group_desc_free(d);
        rc = crawllog_group_list(c->log, &names, &n);
    }
    if (rc == 0) {
        assert_int_equal(n, 2);
        assert_string_equal(names[0], "g");
        crawllog_topic_list_free(names, n);
    }
    return rc;
}

static void check_describe(struct cl_fault_ctx *c, crawllog_t *log)
{
    c->rc = 0;
    expect_offsets(c, log, 9, 7, 9, 7);
}

/* -- dead letters -- */

static void pre_dlq(struct cl_fault_ctx *c)
{
    c->cons = consumer(c->log, "max.attempts", "2", "retry.backoff.ms", "0");
    joined(c, "q", 1);
    assert_int_equal(crawllog_msg_offset(c->msg), 0);
}

static int run_dead_letter(struct cl_fault_ctx *c)
{
    return crawllog_consumer_dead_letter(c->cons, c->msg, "bad");
}

static int always_fails(const crawllog_msg_t *msg, void *opaque, char *reason,
                        size_t size)
{
    (void)msg;
    (*(int *)opaque)++;
    snprintf(reason, size, "bad");
    return 1;
}

static int run_process(struct cl_fault_ctx *c)
{
    int outcome = 0, calls = 0;
    int rc = crawllog_consumer_process(c->cons, c->msg, always_fails, &calls,
                                       &outcome);
    if (rc == 0) {
        assert_int_equal(outcome, CRAWLLOG_DEAD_LETTERED);
        assert_int_equal(calls, 2);
    }
    return rc;
}

/* A failed dead_letter is finished by calling it again (the header's
 * promise), on the same handle with faults off. */
static void post_dlq(struct cl_fault_ctx *c)
{
    if (c->rc != 0) {
        int rc = crawllog_consumer_dead_letter(c->cons, c->msg, "bad");
        if (rc != 0) {
            fail_msg("dead_letter again after %s: %s: %s",
                     crawllog_err_name(c->rc), crawllog_err_name(rc),
                     crawllog_consumer_errmsg(c->cons));
        }
    }
    release(c);
}

static void check_dlq(struct cl_fault_ctx *c, crawllog_t *log)
{
    int64_t start, end, o;
    crawllog_reader_t *rd;
    size_t len;
    (void)c;
    assert_crawllog_ok(
        crawllog_partition_offsets(log, "q.dlt", 0, &start, &end));
    assert_int_equal(end - start, 1);
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "q.dlt", 0));
    const crawllog_msg_t *m = cl_test_next_msg(rd);
    const char *v = crawllog_msg_value(m, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "q/0/0", 5);
    crawllog_reader_destroy(rd);
    committed(log, "q", &o, 1);
    assert_int_equal(o, 1);
    assert_crawllog_ok(crawllog_partition_offsets(log, "q", 0, &start, &end));
    assert_int_equal(end, QREC);
}

/* -- admin -- */

static void pre_none(struct cl_fault_ctx *c)
{
    (void)c;
}

static int run_set_offsets(struct cl_fault_ctx *c)
{
    crawllog_topic_partition_t tp[2] = {{"t", 0, 2, NULL}, {"t", 1, 1, NULL}};
    return crawllog_group_set_offsets(c->log, "g", tp, 2);
}

static void check_set_offsets(struct cl_fault_ctx *c, crawllog_t *log)
{
    expect_offsets(c, log, 5, 3, 2, 1);
}

static int run_group_delete(struct cl_fault_ctx *c)
{
    return crawllog_group_delete(c->log, "g2");
}

static void check_group_delete(struct cl_fault_ctx *c, crawllog_t *log)
{
    crawllog_group_desc_t *d = NULL;
    int rc = crawllog_group_describe(log, "g2", &d);
    if (rc == 0) {
        assert_int_not_equal(c->rc, 0);
        assert_int_equal(d->partitions[0].committed, 1);
        crawllog_group_desc_free(d);
    } else {
        assert_int_equal(rc, CRAWLLOG_ENOENT);
    }
    c->rc = 0;
    check_unchanged(c, log);
}

static const struct cl_fault_scenario SC[] = {
    {"join", pre_consumer, run_join, release, check_unchanged, 0},
    {"commit_durable", pre_joined, run_commit_durable, release, check_commit,
     0},
    {"commit_written", pre_joined, run_commit_written, release, check_commit,
     0},
    {"commit_msg", pre_joined, run_commit_msg, release, check_commit_msg, 0},
    {"commit_all", pre_joined, run_commit_all, release, check_all, 0},
    {"auto_commit_poll", pre_auto, run_auto_poll, release, check_auto_poll, 0},
    {"auto_commit_close", pre_auto, run_close, release, check_close, 0},
    {"leave", pre_joined, run_close, release, check_leave, 0},
    {"rebalance", pre_rebalance, run_rebalance, release, check_unchanged, 0},
    {"describe_lag", pre_describe, run_describe, release, check_describe, 0},
    {"dead_letter", pre_dlq, run_dead_letter, post_dlq, check_dlq, 0},
    {"process_retry", pre_dlq, run_process, post_dlq, check_dlq, 0},
    {"set_offsets", pre_none, run_set_offsets, release, check_set_offsets, 0},
    {"group_delete", pre_none, run_group_delete, release, check_group_delete,
     0},
};
#define NSC (sizeof(SC) / sizeof(SC[0]))

/* ---------------------------------------------------------------------- */
/* Fixture and tests                                                       */
/* ---------------------------------------------------------------------- */

static void fill(crawllog_t *log, const char *topic, int32_t p, int n)
{
    for (int i = 0; i < n; i++) {
        char v[32];
        crawllog_record_t r;
        memset(&r, 0, sizeof(r));
        r.value = v;
        r.value_len =
            (size_t)snprintf(v, sizeof(v), "%s/%d/%d", topic, (int)p, i);
        r.timestamp = -1;
        assert_crawllog_ok_log(
            log,
            crawllog_append(log, topic, p, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    }
}

static int group_setup(void **state)
{
    if (cl_fault_setup(state) != 0) {
        return -1;
    }
    crawllog_t *log = cl_fault_open(cl_fault.tmpl, 1);
    cl_test_create_topic(log, "t", 2, NULL);
    cl_test_create_topic(log, "q", 1, NULL);
    fill(log, "t", 0, NREC);
    fill(log, "t", 1, NREC);
    fill(log, "q", 0, QREC);
    crawllog_topic_partition_t g[2] = {{"t", 0, 5, NULL}, {"t", 1, 3, NULL}};
    assert_crawllog_ok(crawllog_group_set_offsets(log, "g", g, 2));
    assert_crawllog_ok(crawllog_group_set_offsets(log, "g2", g, 1));
    g[0].offset = 1;
    assert_crawllog_ok(crawllog_group_set_offsets(log, "g2", g, 1));
    assert_crawllog_ok(crawllog_close(log));
    return 0;
}

static int group_teardown(void **state)
{
    return cl_fault_teardown(state, "fault-group", 1);
}

static void test_fault_group_io(void **state)
{
    (void)state;
    cl_fault_sweep_all(SC, NSC, 1, 0);
}

static void test_fault_group_oom(void **state)
{
    (void)state;
    cl_fault_sweep_all(SC, NSC, 0, 1);
}

/* Library bugs this sweep found, each swept at every k (whatever the
 * sampling): the fault that exposed it.  Flags: the wrapper kinds the
 * site had when found. */
static void test_fault_group_regressions(void **state)
{
    static const struct {
        size_t sc;
        const char *site;
        const struct cl_fault_kind *kd;
        int persist;
        unsigned flags;
    } R[] = {
        /* A poison-pill count failing in poll (group lock) skipped the
         * message at the committed offset: the reader was past it. */
        {0, "group.lock", &CL_FAULT_EIO, 0, CL_FP_SITE_EINTR},
        /* A member-slot lock failing with EIO was reported as EBUSY
         * ("all member slots are taken"). */
        {0, "group.member.lock", &CL_FAULT_EIO, 1, CL_FP_SITE_EINTR},
        /* close with enable.auto.commit: no memory to list the partitions
         * (or a failed auto-commit) returned OK without committing. */
        {6, "malloc", &CL_FAULT_NOMEM, 0, 0},
        /* dead_letter whose final commit was written but not synced: the
         * retry wrote a second dead letter. */
        {10, "offsets.fdatasync", &CL_FAULT_EIO, 0, CL_FP_SITE_NOEINTR},
    };
    int full = cl_fault.full;
    (void)state;
    cl_fault.full = 1;
    for (size_t i = 0; i < sizeof(R) / sizeof(R[0]); i++) {
        cl_fault_sweep_site(&SC[R[i].sc], R[i].site, 0, R[i].flags, R[i].kd,
                            R[i].persist);
    }
    cl_fault.full = full;
    assert_int_equal(cl_fault.violations, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_group_regressions),
        cmocka_unit_test(test_fault_group_io),
        cmocka_unit_test(test_fault_group_oom),
    };
    (void)cl_test_seed();
    if (getenv("CL_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("CL_TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("fault_group", tests, group_setup,
                                       group_teardown);
}
