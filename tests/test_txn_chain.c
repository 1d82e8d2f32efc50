/*
 * test_txn_chain.c - two exactly-once stages chained through a
 * transactional topic, each in its own process, running at the same time
 * (issue 10, public API only): stage 1 reads "in" (group s1) and writes
 * "mid"; stage 2 reads "mid" with a read_committed consumer (group s2)
 * and writes "final".  Both commit their input offsets in their
 * transactions and abort every few transactions on purpose (then seek
 * back to the committed offsets and redo the work), so "mid" holds
 * aborted copies of records next to the committed ones and open
 * transactions while stage 2 polls it.  Stage 2 checks that its consumer
 * never delivers a record of "mid" twice (outside its own aborted
 * transactions); at the end "final" holds in read_committed every input
 * exactly once, "mid" in read_uncommitted holds more (the aborted
 * copies), and both groups show lag 0 (none left behind a marker).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawllog.h"
#include "helpers.h"
#include "test_txn_util.h"

#define PARTS 2
#define PER_PART 30
#define TOTAL (PARTS * PER_PART)

struct stage {
    const char *dir, *group, *txid, *from, *to;
    int abort_every; /* abort transaction number k*abort_every - 1 */
    int dedup;       /* stage 2: judge what the consumer delivers */
};

static crawllog_consumer_t *stage_consumer(crawllog_t *log,
                                           const struct stage *s)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf =
        cl_test_conf("group.id", s->group, "auto.offset.reset", "earliest",
                     "isolation.level", "read_committed",
                     "heartbeat.interval.ms", "20", NULL);
    crawllog_consumer_t *c = NULL;
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    crawllog_conf_destroy(conf);
    cl_test_checkf(rc == 0, "consumer_new: %s", err);
    cl_test_check(crawllog_consumer_subscribe(c, &s->from, 1) == 0);
    return c;
}

static int64_t committed_in(crawllog_consumer_t *c, const char *topic,
                            int32_t p)
{
    int64_t off = -2;
    cl_test_check(crawllog_consumer_committed(c, topic, p, &off) == 0);
    return off;
}

/* Index of value "v<p>.<off>" in [0, TOTAL). */
static int index_of(const crawllog_msg_t *m)
{
    size_t len = 0;
    const char *v = crawllog_msg_value(m, &len);
    char buf[32];
    int p = -1, off = -1;
    cl_test_check(len < sizeof(buf));
    memcpy(buf, v, len);
    buf[len] = '\0';
    cl_test_checkf(sscanf(buf, "v%d.%d", &p, &off) == 2 && p >= 0 &&
                       p < PARTS && off >= 0 && off < PER_PART,
                   "bad value \"%s\"", buf);
    return p * PER_PART + off;
}

static void stage_child(void *arg)
{
    const struct stage *s = arg;
    crawllog_t *log = cl_test_open(s->dir, NULL);
    crawllog_producer_t *prod = producer(log, s->txid, NULL);
    crawllog_consumer_t *c = stage_consumer(log, s);
    char done[TOTAL]; /* stage 2: delivered and committed */
    int ndone = 0, txns = 0;
    memset(done, 0, sizeof(done));
    int64_t deadline = cl_test_mono_ms() + 30000;
    for (;;) {
        const crawllog_msg_t *msgs[4];
        size_t n = 0;
        int rc = crawllog_consumer_poll(c, 20, msgs, 4, &n);
        cl_test_checkf(rc == 0, "%s poll: %s: %s", s->group,
                       crawllog_err_name(rc), crawllog_consumer_errmsg(c));
        if (n > 0) {
            int64_t next[PARTS] = {-1, -1};
            int idx[4];
            P_OK(prod, crawllog_txn_begin(prod));
            for (size_t i = 0; i < n; i++) {
                int32_t p = crawllog_msg_partition(msgs[i]);
                char v[32];
                if (s->dedup) {
                    size_t len = 0;
                    const char *mv = crawllog_msg_value(msgs[i], &len);
                    idx[i] = index_of(msgs[i]);
                    cl_test_checkf(!done[idx[i]],
                                   "%s: read_committed delivered %.*s "
                                   "again at %s/%d offset %lld",
                                   s->group, (int)len, mv, s->from, (int)p,
                                   (long long)crawllog_msg_offset(msgs[i]));
                    snprintf(v, sizeof(v), "%.*s", (int)len, mv);
                } else {
                    snprintf(v, sizeof(v), "v%d.%lld", (int)p,
                             (long long)crawllog_msg_offset(msgs[i]));
                }
                P_OK(prod, send_s(prod, s->to, p, v));
                next[p] = crawllog_msg_offset(msgs[i]) + 1;
            }
            crawllog_topic_partition_t tps[PARTS];
            size_t ntp = 0;
            for (int32_t p = 0; p < PARTS; p++) {
                if (next[p] >= 0) {
                    crawllog_topic_partition_t tp = {s->from, p, next[p], NULL};
                    tps[ntp++] = tp;
                }
            }
            crawllog_group_metadata_t *md = NULL;
            cl_test_check(crawllog_consumer_group_metadata(c, &md) == 0);
            P_OK(prod, crawllog_txn_send_offsets(prod, md, tps, ntp));
            crawllog_group_metadata_destroy(md);
            if (++txns % s->abort_every == 0) {
                P_OK(prod, crawllog_txn_abort(prod));
                for (int32_t p = 0; p < PARTS; p++) {
                    int64_t off = committed_in(c, s->from, p);
                    rc = crawllog_consumer_seek(
                        c, s->from, p,
                        off < 0 ? CRAWLLOG_OFFSET_BEGINNING : off);
                    cl_test_checkf(rc == 0, "seek: %s", crawllog_err_name(rc));
                }
            } else {
                P_OK(prod, crawllog_txn_commit(prod));
                for (size_t i = 0; s->dedup && i < n; i++) {
                    done[idx[i]] = 1;
                    ndone++;
                }
            }
        }
        int finished;
        if (s->dedup) {
            finished = ndone == TOTAL;
        } else {
            finished = 1;
            for (int32_t p = 0; p < PARTS; p++) {
                finished &= committed_in(c, s->from, p) == PER_PART;
            }
        }
        if (finished) {
            break;
        }
        cl_test_checkf(cl_test_mono_ms() < deadline,
                       "%s: not finished after 30 s (%d of %d)", s->group,
                       ndone, TOTAL);
    }
    cl_test_check(crawllog_producer_destroy(prod) == 0);
    crawllog_consumer_destroy(c);
    cl_test_check(crawllog_close(log) == 0);
}

/* Run both stages to the end in dir; the log, open. */
static crawllog_t *run_chain(const char *dir)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "in", PARTS, NULL);
    cl_test_create_topic(log, "mid", PARTS, NULL);
    cl_test_create_topic(log, "final", PARTS, NULL);
    for (int32_t p = 0; p < PARTS; p++) {
        for (int i = 0; i < PER_PART; i++) {
            append_s(log, "in", p, "job");
        }
    }
    struct stage s1 = {dir, "s1", "s1-p", "in", "mid", 4, 0};
    struct stage s2 = {dir, "s2", "s2-p", "mid", "final", 5, 1};
    pid_t p2 = cl_test_fork_start(stage_child, &s2);
    pid_t p1 = cl_test_fork_start(stage_child, &s1);
    int st1 = 0, st2 = 0;
    assert_int_equal(waitpid(p1, &st1, 0), p1);
    assert_int_equal(waitpid(p2, &st2, 0), p2);
    cl_test_assert_exit_ok(st1);
    cl_test_assert_exit_ok(st2);
    return log;
}

static void test_two_stage_chain(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = run_chain(dir);
    /* Every input exactly once in "final"; aborted copies in "mid". */
    char seen[TOTAL];
    memset(seen, 0, sizeof(seen));
    size_t mid_ru = 0;
    for (int32_t p = 0; p < PARTS; p++) {
        struct seen *s = malloc(sizeof(*s));
        assert_non_null(s);
        read_all(log, "final", p, RC, s);
        assert_int_equal(s->pos, end_of(log, "final", p));
        for (size_t i = 0; i < s->n; i++) {
            int vp = -1, off = -1;
            assert_int_equal(sscanf(s->val[i], "v%d.%d", &vp, &off), 2);
            assert_int_equal(vp, p);
            assert_true(off >= 0 && off < PER_PART);
            assert_false(seen[vp * PER_PART + off]);
            seen[vp * PER_PART + off] = 1;
        }
        read_all(log, "mid", p, RU, s);
        mid_ru += s->n;
        free(s);
    }
    for (int i = 0; i < TOTAL; i++) {
        assert_true(seen[i]);
    }
    assert_true(mid_ru > TOTAL);
    print_message("mid: %zu records written for %d inputs\n", mid_ru, TOTAL);
    cl_test_close_verify(log, dir);
}

static void test_chain_no_lag_behind_markers(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = run_chain(dir);
    /* No permanent lag of 1 behind the last marker of "mid" (stage 2
     * committed the offset after its last record, a marker follows). */
    static const char *const groups[] = {"s1", "s2"};
    char bad[1024] = "";
    for (int g = 0; g < 2; g++) {
        crawllog_group_desc_t *d = NULL;
        assert_crawllog_ok(crawllog_group_describe(log, groups[g], &d));
        assert_int_equal(d->partition_count, PARTS);
        for (size_t i = 0; i < d->partition_count; i++) {
            const crawllog_group_partition_t *gp = &d->partitions[i];
            size_t used = strlen(bad);
            if (gp->lag != 0 && used < sizeof(bad)) {
                snprintf(bad + used, sizeof(bad) - used,
                         "\n  group %s %s/%d: committed %lld, log end %lld, "
                         "lag %lld",
                         groups[g], gp->topic, (int)gp->partition,
                         (long long)gp->committed, (long long)gp->log_end,
                         (long long)gp->lag);
            }
        }
        crawllog_group_desc_free(d);
    }
    cl_test_close_verify(log, dir);
    if (bad[0] != '\0') {
        fail_msg("lag left behind transaction markers:%s", bad);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_stage_chain,
                                        cl_test_fast_tmpdir_setup,
                                        cl_test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_chain_no_lag_behind_markers,
                                        cl_test_fast_tmpdir_setup,
                                        cl_test_tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
