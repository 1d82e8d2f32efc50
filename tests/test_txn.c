/*
 * test_txn.c - issue 10's exactly-once claims through the public API only
 * (crawllog_txn_*, transactional.id, isolation.level,
 * crawllog_consumer_group_metadata, crawllog_reader_set_isolation):
 *  - a commit makes the records of several topics and partitions visible
 *    to read_committed together with the group's offsets; before it
 *    nothing is (read_uncommitted sees everything at once); positions and
 *    lag end past the markers;
 *  - an abort: records invisible to read_committed, visible to
 *    read_uncommitted, offsets unchanged, positions past the markers;
 *  - zombie fencing in one process (whatever call the zombie makes next)
 *    and across processes (fork, both ways): the old instance's calls are
 *    CRAWLLOG_EFENCED, its records aborted, and neither its calls nor its
 *    destroy write a marker that would end the new instance's
 *    transaction;
 *  - misuse: EMISUSE out of order, EINVAL arguments and confs, EABORT
 *    after a failed send, EGENERATION of a member that left the group.
 * Crashes, timeouts and pending offsets: test_txn_recover.c; concurrent
 * producers: test_txn_concurrent.c; acks=0 producers: test_txn_acks0.c;
 * two chained stages: test_txn_chain.c; kill -9 at every step:
 * test_txn_crash.c.  Helpers: test_txn_util.h.
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
#include "io.h"
#include "test_txn_util.h"

static void test_commit_all_or_nothing(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    crawllog_producer_t *p = producer(log, "tx1", NULL);

    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "a0"));
    P_OK(p, send_s(p, "out", 0, "a1"));
    P_OK(p, send_s(p, "out", 1, "b0"));
    P_OK(p, send_s(p, "out2", 0, "c0"));
    crawllog_topic_partition_t tps[2] = {{"in", 0, 2, NULL},
                                         {"in", 0, 3, "meta"}};
    P_OK(p, crawllog_txn_send_offsets(p, md, tps, 2));
    /* Open: nothing for read_committed (stopped at the first record),
     * everything for read_uncommitted, no offset moved. */
    expect_read(log, "out", 0, RC, "", 0);
    expect_read(log, "out", 1, RC, "", 0);
    expect_read(log, "out2", 0, RC, "", 0);
    expect_read(log, "out", 0, RU, "a0,a1", -1);
    expect_read(log, "out", 1, RU, "b0", -1);
    expect_read(log, "out2", 0, RU, "c0", -1);
    assert_int_equal(committed(log, "g", "in", 0), -1);
    /* A read_committed consumer (the default level) gets nothing either. */
    crawllog_consumer_t *rc_cons = consumer(log, NULL, NULL);
    crawllog_topic_partition_t out_tp[3] = {
        {"out", 0, CRAWLLOG_OFFSET_BEGINNING, NULL},
        {"out", 1, CRAWLLOG_OFFSET_BEGINNING, NULL},
        {"out2", 0, CRAWLLOG_OFFSET_BEGINNING, NULL}};
    assert_crawllog_ok(crawllog_consumer_assign(rc_cons, out_tp, 3));
    const crawllog_msg_t *msgs[16];
    size_t n = 0;
    assert_crawllog_ok(crawllog_consumer_poll(rc_cons, 50, msgs, 16, &n));
    assert_int_equal(n, 0);
    /* A read_uncommitted consumer gets all four at once. */
    crawllog_consumer_t *ru_cons = consumer(log, NULL, "read_uncommitted");
    assert_crawllog_ok(crawllog_consumer_assign(ru_cons, out_tp, 3));
    size_t ru_got = 0;
    for (int i = 0; i < 100 && ru_got < 4; i++) {
        assert_crawllog_ok(crawllog_consumer_poll(ru_cons, 20, msgs, 16, &n));
        ru_got += n;
    }
    assert_int_equal(ru_got, 4);
    crawllog_consumer_destroy(ru_cons);

    P_OK(p, crawllog_txn_commit(p));
    /* Everything at once, markers passed, the offset (the later entry of
     * the same partition won) committed with them. */
    expect_read(log, "out", 0, RC, "a0,a1", -1);
    expect_read(log, "out", 1, RC, "b0", -1);
    expect_read(log, "out2", 0, RC, "c0", -1);
    assert_int_equal(end_of(log, "out", 0), 3); /* 2 records + marker */
    assert_int_equal(end_of(log, "out", 1), 2);
    assert_int_equal(end_of(log, "out2", 0), 2);
    assert_int_equal(committed(log, "g", "in", 0), 3);
    size_t got = 0;
    for (int i = 0; i < 100 && got < 4; i++) {
        assert_crawllog_ok(crawllog_consumer_poll(rc_cons, 20, msgs, 16, &n));
        got += n;
    }
    assert_int_equal(got, 4);
    assert_crawllog_ok(crawllog_consumer_poll(rc_cons, 20, msgs, 16, &n));
    assert_int_equal(n, 0);
    /* Positions past the markers: no lag of 1 left behind. */
    int64_t pos = -1;
    assert_crawllog_ok(crawllog_consumer_position(rc_cons, "out", 0, &pos));
    assert_int_equal(pos, 3);
    assert_crawllog_ok(crawllog_consumer_position(rc_cons, "out", 1, &pos));
    assert_int_equal(pos, 2);
    crawllog_consumer_destroy(rc_cons);

    /* The next transaction of the same producer. */
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 1, "b1"));
    P_OK(p, offsets1(p, md, "in", 0, 6));
    expect_read(log, "out", 1, RC, "b0", 2);
    P_OK(p, crawllog_txn_commit(p));
    expect_read(log, "out", 1, RC, "b0,b1", -1);
    assert_int_equal(committed(log, "g", "in", 0), 6);
    /* The lag of a read_committed group reading the outputs ends at 0. */
    crawllog_consumer_t *oc = consumer(log, "og", NULL);
    crawllog_topic_partition_t og_tp[2] = {
        {"out", 0, CRAWLLOG_OFFSET_COMMITTED, NULL},
        {"out", 1, CRAWLLOG_OFFSET_COMMITTED, NULL}};
    assert_crawllog_ok(crawllog_consumer_assign(oc, og_tp, 2));
    got = 0;
    for (int i = 0; i < 100 && got < 4; i++) {
        assert_crawllog_ok(crawllog_consumer_poll(oc, 20, msgs, 16, &n));
        got += n;
    }
    assert_int_equal(got, 4);
    assert_crawllog_ok(crawllog_consumer_poll(oc, 20, msgs, 16, &n));
    assert_int_equal(n, 0);
    assert_crawllog_ok(
        crawllog_consumer_commit(oc, NULL, CRAWLLOG_SYNC_DURABLE));
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_ok(crawllog_group_describe(log, "og", &d));
    for (size_t i = 0; i < d->partition_count; i++) {
        assert_int_equal(d->partitions[i].lag, 0);
    }
    crawllog_group_desc_free(d);
    crawllog_consumer_destroy(oc);

    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, dir);
}

/* Offsets without records: a transaction that produced nothing (every
 * input filtered out) still commits its input offsets; destroying a
 * producer with a transaction open aborts it at once. */
static void test_offsets_only_and_destroy(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    crawllog_producer_t *p = producer(log, "oo", NULL);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, offsets1(p, md, "in", 0, 4));
    assert_int_equal(committed(log, "g", "in", 0), -1);
    P_OK(p, crawllog_txn_commit(p));
    assert_int_equal(committed(log, "g", "in", 0), 4);
    assert_int_equal(end_of(log, "out", 0), 0); /* no partition, no marker */
    /* Destroyed while open: aborted (a marker), offsets unchanged. */
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "d0"));
    P_OK(p, offsets1(p, md, "in", 0, 6));
    assert_crawllog_ok(crawllog_producer_destroy(p));
    assert_int_equal(end_of(log, "out", 0), 2);
    expect_read(log, "out", 0, RC, "", 2);
    expect_read(log, "out", 0, RU, "d0", 2);
    assert_int_equal(committed(log, "g", "in", 0), 4);
    /* The next instance has nothing left to finish. */
    p = producer(log, "oo", NULL);
    assert_int_equal(end_of(log, "out", 0), 2);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, dir);
}

static void test_abort_invisible(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    crawllog_producer_t *p = producer(log, "tx2", NULL);

    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "k0"));
    P_OK(p, send_s(p, "out", 0, "k1"));
    P_OK(p, offsets1(p, md, "in", 0, 2));
    P_OK(p, crawllog_txn_commit(p)); /* out/0: 0-1 data, 2 marker */
    assert_int_equal(committed(log, "g", "in", 0), 2);

    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "x0"));
    P_OK(p, send_s(p, "out", 0, "x1"));
    P_OK(p, send_s(p, "out", 1, "x2"));
    P_OK(p, offsets1(p, md, "in", 0, 5));
    P_OK(p, crawllog_txn_abort(p)); /* out/0: 3-4 data, 5 marker */
    expect_read(log, "out", 0, RC, "k0,k1", 6);
    expect_read(log, "out", 0, RU, "k0,k1,x0,x1", 6);
    expect_read(log, "out", 1, RC, "", 2);
    expect_read(log, "out", 1, RU, "x2", 2);
    assert_int_equal(end_of(log, "out", 0), 6);
    assert_int_equal(end_of(log, "out", 1), 2);
    assert_int_equal(committed(log, "g", "in", 0), 2);

    /* A reader seeked into the aborted records skips them. */
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "out", 0));
    assert_crawllog_ok(crawllog_reader_seek(rd, 4));
    const crawllog_msg_t *m = NULL;
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m);
    assert_int_equal(crawllog_reader_position(rd), 6);
    /* Plain records after the aborted ones come through; a later
     * transaction too. */
    append_s(log, "out", 0, "plain"); /* 6 */
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_non_null(m);
    assert_int_equal(crawllog_msg_offset(m), 6);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "k2")); /* 7 */
    P_OK(p, offsets1(p, md, "in", 0, 3));
    P_OK(p, crawllog_txn_commit(p)); /* 8 marker */
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_non_null(m);
    assert_int_equal(crawllog_msg_offset(m), 7);
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m);
    assert_int_equal(crawllog_reader_position(rd), 9);
    crawllog_reader_destroy(rd);
    expect_read(log, "out", 0, RC, "k0,k1,plain,k2", 9);
    assert_int_equal(committed(log, "g", "in", 0), 3);
    /* An abort with nothing sent writes nothing. */
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, crawllog_txn_abort(p));
    assert_int_equal(end_of(log, "out", 0), 9);

    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, dir);
}

/* ---- zombie fencing ----------------------------------------------------- */

/* In one process, for each call the zombie makes next. */
static void test_fencing_same_process(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    static const char *const calls[] = {"send", "send_offsets", "commit",
                                        "abort", "begin"};
    for (int v = 0; v < 5; v++) {
        char topic[16], id[16];
        snprintf(topic, sizeof(topic), "f%d", v);
        snprintf(id, sizeof(id), "fz%d", v);
        cl_test_create_topic(log, topic, 1, NULL);
        crawllog_producer_t *a = producer(log, id, NULL);
        P_OK(a, crawllog_txn_begin(a));
        P_OK(a, send_s(a, topic, 0, "a0"));
        P_OK(a, send_s(a, topic, 0, "a1"));
        if (v == 4) {
            P_OK(a, crawllog_txn_commit(a)); /* closed before the fence */
        }
        crawllog_producer_t *b = producer(log, id, NULL);
        /* b aborted a's open transaction (v < 4): a marker follows. */
        expect_read(log, topic, 0, RC, v == 4 ? "a0,a1" : "", -1);
        expect_read(log, topic, 0, RU, "a0,a1", -1);
        assert_int_equal(end_of(log, topic, 0), 3);
        /* b has a transaction open when the zombie acts. */
        P_OK(b, crawllog_txn_begin(b));
        P_OK(b, send_s(b, topic, 0, "b0"));
        int rc;
        switch (v) {
        case 0:
            rc = send_s(a, topic, 0, "a2");
            break;
        case 1:
            rc = offsets1(a, md, "in", 0, 4);
            break;
        case 2:
            rc = crawllog_txn_commit(a);
            break;
        case 3:
            rc = crawllog_txn_abort(a);
            break;
        default:
            rc = crawllog_txn_begin(a);
            break;
        }
        if (rc != CRAWLLOG_EFENCED) {
            fail_msg("zombie %s: %s, expected CRAWLLOG_EFENCED", calls[v],
                     crawllog_err_name(rc));
        }
        /* Final: every later call too. */
        assert_crawllog_rc(send_s(a, topic, 0, "a3"), CRAWLLOG_EFENCED);
        assert_crawllog_rc(crawllog_txn_commit(a), CRAWLLOG_EFENCED);
        /* The zombie's end (its destroy may try an abort) must not end
         * b's open transaction: no marker of the shared producer id. */
        crawllog_producer_destroy(a);
        assert_int_equal(end_of(log, topic, 0), 4);
        expect_read(log, topic, 0, RC, v == 4 ? "a0,a1" : "", 3);
        P_OK(b, crawllog_txn_commit(b));
        expect_read(log, topic, 0, RC, v == 4 ? "a0,a1,b0" : "b0", -1);
        expect_read(log, topic, 0, RU, "a0,a1,b0", -1);
        assert_int_equal(committed(log, "g", "in", 0), -1);
        assert_crawllog_ok(crawllog_producer_destroy(b));
    }
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, dir);
}

struct fence_arg {
    const char *dir;
    int to_child[2], to_parent[2]; /* pipes */
};

static void wait_byte(int fd)
{
    char ch;
    cl_test_check(read(fd, &ch, 1) == 1);
}

static void send_byte(int fd)
{
    cl_test_check(write(fd, "x", 1) == 1);
}

/* The new instance in a child: fences the parent's producer, commits one
 * record of its own. */
static void new_instance_child(void *arg)
{
    const struct fence_arg *a = arg;
    crawllog_t *log = cl_test_open(a->dir, NULL);
    crawllog_producer_t *b = producer(log, "fx", NULL);
    P_OK(b, crawllog_txn_begin(b));
    P_OK(b, send_s(b, "out", 0, "b0"));
    P_OK(b, crawllog_txn_commit(b));
    cl_test_check(crawllog_producer_destroy(b) == 0);
    cl_test_check(crawllog_close(log) == 0);
}

/* The zombie in a child: sends, lets the parent fence it, then finds its
 * calls refused. */
static void zombie_child(void *arg)
{
    struct fence_arg *a = arg;
    crawllog_t *log = cl_test_open(a->dir, NULL);
    crawllog_producer_t *z = producer(log, "fy", NULL);
    P_OK(z, crawllog_txn_begin(z));
    P_OK(z, send_s(z, "out", 1, "z0"));
    send_byte(a->to_parent[1]);
    wait_byte(a->to_child[0]);
    P_RC(z, send_s(z, "out", 1, "z1"), CRAWLLOG_EFENCED);
    P_RC(z, crawllog_txn_commit(z), CRAWLLOG_EFENCED);
    P_RC(z, crawllog_txn_abort(z), CRAWLLOG_EFENCED);
    crawllog_producer_destroy(z);
    cl_test_check(crawllog_close(log) == 0);
}

static void test_fencing_other_process(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    struct fence_arg a;
    memset(&a, 0, sizeof(a));
    a.dir = dir;
    /* The zombie is here, the new instance in a child. */
    crawllog_producer_t *z = producer(log, "fx", NULL);
    P_OK(z, crawllog_txn_begin(z));
    P_OK(z, send_s(z, "out", 0, "z0"));
    P_OK(z, send_s(z, "out", 0, "z1"));
    cl_test_assert_exit_ok(cl_test_fork_run(new_instance_child, &a));
    expect_read(log, "out", 0, RC, "b0", -1);
    P_RC(z, send_s(z, "out", 0, "z2"), CRAWLLOG_EFENCED);
    P_RC(z, crawllog_txn_commit(z), CRAWLLOG_EFENCED);
    crawllog_producer_destroy(z);
    expect_read(log, "out", 0, RC, "b0", -1);
    expect_read(log, "out", 0, RU, "z0,z1,b0", -1);

    /* The zombie in a child, the new instance here. */
    assert_int_equal(pipe(a.to_child), 0);
    assert_int_equal(pipe(a.to_parent), 0);
    pid_t pid = cl_test_fork_start(zombie_child, &a);
    wait_byte(a.to_parent[0]);
    crawllog_producer_t *b = producer(log, "fy", NULL);
    expect_read(log, "out", 1, RC, "", -1); /* z0 aborted by b */
    P_OK(b, crawllog_txn_begin(b));
    P_OK(b, send_s(b, "out", 1, "b1"));
    send_byte(a.to_child[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    cl_test_assert_exit_ok(status);
    P_OK(b, crawllog_txn_commit(b));
    expect_read(log, "out", 1, RC, "b1", -1);
    expect_read(log, "out", 1, RU, "z0,b1", -1);
    for (int i = 0; i < 2; i++) {
        close(a.to_child[i]);
        close(a.to_parent[i]);
    }
    assert_crawllog_ok(crawllog_producer_destroy(b));
    cl_test_close_verify(log, dir);
}

/* ---- misuse --------------------------------------------------------------- */

static void test_misuse(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    /* Not transactional. */
    crawllog_producer_t *np = producer(log, NULL, NULL);
    P_RC(np, crawllog_txn_begin(np), CRAWLLOG_EMISUSE);
    P_RC(np, crawllog_txn_commit(np), CRAWLLOG_EMISUSE);
    P_RC(np, crawllog_txn_abort(np), CRAWLLOG_EMISUSE);
    P_RC(np, offsets1(np, md, "in", 0, 1), CRAWLLOG_EMISUSE);
    assert_crawllog_ok(crawllog_producer_destroy(np));

    crawllog_producer_t *p = producer(log, "mx", NULL);
    /* Out of order. */
    P_RC(p, send_s(p, "out", 0, "nope"), CRAWLLOG_EMISUSE);
    crawllog_record_t r = {NULL, 0, "nope", 4, -1, NULL, 0};
    int64_t off = 0;
    P_RC(p, crawllog_producer_send_batch(p, "out", 0, &r, 1, &off),
         CRAWLLOG_EMISUSE);
    assert_int_equal(end_of(log, "out", 0), 0);
    P_RC(p, crawllog_txn_commit(p), CRAWLLOG_EMISUSE);
    P_RC(p, crawllog_txn_abort(p), CRAWLLOG_EMISUSE);
    P_RC(p, offsets1(p, md, "in", 0, 1), CRAWLLOG_EMISUSE);
    P_OK(p, crawllog_txn_begin(p));
    P_RC(p, crawllog_txn_begin(p), CRAWLLOG_EMISUSE);
    /* Bad offsets arguments. */
    P_RC(p, crawllog_txn_send_offsets(p, NULL, NULL, 0), CRAWLLOG_EINVAL);
    crawllog_topic_partition_t tp = {"in", 0, 1, NULL};
    P_RC(p, crawllog_txn_send_offsets(p, NULL, &tp, 1), CRAWLLOG_EINVAL);
    P_RC(p, crawllog_txn_send_offsets(p, md, &tp, 0), CRAWLLOG_EINVAL);
    P_RC(p, offsets1(p, md, "in", 0, -1), CRAWLLOG_EINVAL);
    /* One group per transaction. */
    crawllog_consumer_t *c2 = member(log, "g2", "in", 1);
    crawllog_group_metadata_t *md2 = metadata(c2);
    P_OK(p, offsets1(p, md2, "in", 0, 1));
    P_RC(p, offsets1(p, md, "in", 0, 1), CRAWLLOG_EINVAL);
    P_OK(p, crawllog_txn_abort(p));
    assert_int_equal(committed(log, "g2", "in", 0), -1);
    crawllog_group_metadata_destroy(md2);
    crawllog_consumer_destroy(c2);
    P_OK(p, crawllog_txn_begin(p));
    /* The transaction is still usable after refused calls. */
    P_OK(p, send_s(p, "out", 0, "m0"));
    P_OK(p, offsets1(p, md, "in", 0, 1));
    P_OK(p, crawllog_txn_commit(p));
    expect_read(log, "out", 0, RC, "m0", -1);
    assert_int_equal(committed(log, "g", "in", 0), 1);

    assert_crawllog_ok(crawllog_producer_destroy(p));

    /* transactional.id and another producer.id. */
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf =
        cl_test_conf("transactional.id", "ty", "producer.id", "other", NULL);
    crawllog_producer_t *bad = NULL;
    assert_crawllog_rc(crawllog_producer_new(log, conf, &bad, err, sizeof(err)),
                       CRAWLLOG_EINVAL);
    assert_null(bad);
    crawllog_conf_destroy(conf);
    crawllog_producer_t *same = producer(log, "ty", "producer.id", "ty", NULL);
    assert_crawllog_ok(crawllog_producer_destroy(same));
    /* Group metadata needs a group. */
    crawllog_consumer_t *nog = consumer(log, NULL, NULL);
    crawllog_group_metadata_t *nomd = NULL;
    assert_crawllog_rc(crawllog_consumer_group_metadata(nog, &nomd),
                       CRAWLLOG_EINVAL);
    assert_null(nomd);
    crawllog_consumer_destroy(nog);
    /* Unknown isolation levels. */
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "out", 0));
    assert_crawllog_rc(crawllog_reader_set_isolation(rd, 2), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_reader_set_isolation(rd, -1), CRAWLLOG_EINVAL);
    crawllog_reader_destroy(rd);
    conf = NULL;
    assert_crawllog_ok(crawllog_conf_new(&conf));
    assert_crawllog_rc(
        crawllog_conf_set(conf, "isolation.level", "dirty", err, sizeof(err)),
        CRAWLLOG_EINVAL);
    crawllog_conf_destroy(conf);

    crawllog_group_metadata_destroy(md);
    crawllog_group_metadata_destroy(NULL);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, dir);
}

/* A send that fails inside a transaction dooms it: commit refuses with
 * CRAWLLOG_EABORT and moves nothing, abort works, the next one commits.
 * Failures before anything is written (unknown topic, partition out of
 * range) and of the write itself (EIO injected). */
static void test_failed_send_dooms(void **state)
{
    static const char *const kinds[] = {
        "unknown topic", "partition out of range", "write error"};
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    crawllog_producer_t *p = producer(log, "dx", NULL);
    int64_t done = 0; /* committed offset of in/0 */
    for (int kind = 0; kind < 3; kind++) {
        print_message("failed send: %s\n", kinds[kind]);
        int64_t end0 = end_of(log, "out", 0);
        P_OK(p, crawllog_txn_begin(p));
        P_OK(p, send_s(p, "out", 0, "doomed"));
        int rc;
        if (kind == 0) {
            rc = send_s(p, "nosuchtopic", 0, "x");
            assert_int_equal(rc, CRAWLLOG_ENOTOPIC);
        } else if (kind == 1) {
            rc = send_s(p, "out", 7, "x");
            assert_int_equal(rc, CRAWLLOG_EPARTITION);
        } else {
            assert_int_equal(cl_fp_set("seg.append.write=EIO"), 0);
            rc = send_s(p, "out", 1, "x");
            cl_fp_clear();
            assert_int_equal(rc, CRAWLLOG_EIO);
        }
        rc = offsets1(p, md, "in", 0, done + 2); /* staged or refused */
        if (rc != CRAWLLOG_OK && rc != CRAWLLOG_EABORT) {
            fail_msg("send_offsets in a doomed transaction: %s",
                     crawllog_err_name(rc));
        }
        rc = crawllog_txn_commit(p);
        if (rc != CRAWLLOG_EABORT) {
            fail_msg("%s: commit of a doomed transaction returned %s, "
                     "expected CRAWLLOG_EABORT",
                     kinds[kind], crawllog_err_name(rc));
        }
        assert_int_equal(committed(log, "g", "in", 0), done ? done : -1);
        P_OK(p, crawllog_txn_abort(p));
        struct seen *s = malloc(sizeof(*s));
        assert_non_null(s);
        read_all(log, "out", 0, RC, s);
        assert_int_equal(s->pos, end_of(log, "out", 0));
        for (size_t i = 0; i < s->n; i++) {
            assert_string_not_equal(s->val[i], "doomed");
        }
        free(s);
        assert_true(end_of(log, "out", 0) == end0 + 2); /* data + marker */
        assert_int_equal(committed(log, "g", "in", 0), done ? done : -1);
        /* The next transaction works. */
        P_OK(p, crawllog_txn_begin(p));
        P_OK(p, send_s(p, "out", 0, "ok"));
        P_OK(p, offsets1(p, md, "in", 0, ++done));
        P_OK(p, crawllog_txn_commit(p));
        assert_int_equal(committed(log, "g", "in", 0), done);
    }
    expect_read(log, "out", 0, RC, "ok,ok,ok", -1);
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, dir);
}

/* A member that left the group cannot commit offsets through a
 * transaction. */
static void test_stale_generation(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 2);
    crawllog_consumer_t *c1 = member(log, "g", "in", 2);
    crawllog_group_metadata_t *md1 = metadata(c1);
    crawllog_consumer_destroy(c1); /* leaves */
    crawllog_consumer_t *c2 = member(log, "g", "in", 2);
    crawllog_producer_t *p = producer(log, "gx", NULL);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "g0"));
    P_RC(p, offsets1(p, md1, "in", 0, 1), CRAWLLOG_EGENERATION);
    int rc = crawllog_txn_commit(p);
    if (rc != CRAWLLOG_EGENERATION && rc != CRAWLLOG_EABORT) {
        fail_msg("commit after a stale send_offsets: %s, expected "
                 "CRAWLLOG_EGENERATION or CRAWLLOG_EABORT",
                 crawllog_err_name(rc));
    }
    expect_read(log, "out", 0, RC, "", 0);
    P_OK(p, crawllog_txn_abort(p));
    expect_read(log, "out", 0, RC, "", -1);
    assert_int_equal(committed(log, "g", "in", 0), -1);
    /* The live member's metadata works. */
    crawllog_group_metadata_t *md2 = metadata(c2);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "g1"));
    P_OK(p, offsets1(p, md2, "in", 0, 1));
    P_OK(p, crawllog_txn_commit(p));
    expect_read(log, "out", 0, RC, "g1", -1);
    assert_int_equal(committed(log, "g", "in", 0), 1);
    crawllog_group_metadata_destroy(md1);
    crawllog_group_metadata_destroy(md2);
    crawllog_consumer_destroy(c2);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, dir);
}

/* KIP-447's check is ownership, not the generation: a member that still
 * owns its partitions commits through a rebalance caused by another
 * member joining; once it gave a partition up, offsets for it are
 * refused. */
static void test_rebalance_keeps_owned(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    const char *topic = "in";
    crawllog_t *log = setup_log(dir, 2);
    crawllog_consumer_t *c1 = member(log, "g", "in", 2);
    crawllog_group_metadata_t *md1 = metadata(c1);
    crawllog_producer_t *p = producer(log, "rk", NULL);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "k0"));
    P_OK(p, offsets1(p, md1, "in", 0, 2));
    /* c2 joins: a new generation, c1 keeps in/0 until it polls. */
    int32_t gen = crawllog_consumer_generation(c1);
    crawllog_consumer_t *c2 = consumer(log, "g", NULL);
    assert_crawllog_ok(crawllog_consumer_subscribe(c2, &topic, 1));
    const crawllog_msg_t *msgs[8];
    size_t n = 0;
    assert_crawllog_ok(crawllog_consumer_poll(c2, 50, msgs, 8, &n));
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_ok(crawllog_group_describe(log, "g", &d));
    assert_true(d->generation > gen);
    crawllog_group_desc_free(d);
    P_OK(p, crawllog_txn_commit(p));
    expect_read(log, "out", 0, RC, "k0", -1);
    assert_int_equal(committed(log, "g", "in", 0), 2);
    /* Both poll until c2 owns a partition: c1 gave one up. */
    int64_t deadline = cl_test_mono_ms() + 10000;
    int32_t moved = -1;
    while (moved < 0 && cl_test_mono_ms() < deadline) {
        crawllog_topic_partition_t *list = NULL;
        size_t cnt = 0;
        assert_crawllog_ok(crawllog_consumer_poll(c1, 10, msgs, 8, &n));
        assert_crawllog_ok(crawllog_consumer_poll(c2, 10, msgs, 8, &n));
        assert_crawllog_ok(crawllog_consumer_assignment(c2, &list, &cnt));
        if (cnt == 1) {
            moved = list[0].partition;
        }
        free(list);
    }
    assert_true(moved >= 0);
    crawllog_group_metadata_destroy(md1);
    md1 = metadata(c1);
    P_OK(p, crawllog_txn_begin(p));
    P_RC(p, offsets1(p, md1, "in", moved, 3), CRAWLLOG_EGENERATION);
    P_OK(p, crawllog_txn_abort(p));
    assert_int_equal(committed(log, "g", "in", moved), moved == 0 ? 2 : -1);
    crawllog_group_metadata_destroy(md1);
    crawllog_consumer_destroy(c2);
    crawllog_consumer_destroy(c1);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_commit_all_or_nothing), T(test_offsets_only_and_destroy),
        T(test_abort_invisible),       T(test_fencing_same_process),
        T(test_fencing_other_process), T(test_misuse),
        T(test_failed_send_dooms),     T(test_stale_generation),
        T(test_rebalance_keeps_owned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
