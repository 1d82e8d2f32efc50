/*
 * test_conformance.c - the public API contract both backends honour.
 *
 * One program, two builds (conformance_util.h): `make test` runs it on the
 * file backend (a fresh data directory per test), `make test-kafka` with
 * -DCL_TEST_KAFKA on librdkafka's mock cluster ("kafka://mock", a new
 * cluster per crawllog_open).  Same test bodies.  #ifdef CL_TEST_KAFKA
 * appears only (a) where a call is CRAWLLOG_ENOTSUP on Kafka (asserted),
 * (b) in timing (CT_WAIT_MS / CT_SETTLE_MS; the END-offset start is
 * resolved asynchronously by librdkafka), (c) where Kafka itself differs:
 * an acks=0 delivery report has no offset (the broker does not answer),
 * and (d) in two marked places of the transaction test where librdkafka
 * 2.0.2's mock cluster is not a broker: its Fetch returns no
 * aborted-transaction list and its TxnOffsetCommit stores nothing
 * (rdkafka_mock_handlers.c), so "abort is invisible to read_committed"
 * and "send_offsets commits the group" are checked on the file backend
 * only (a real broker honours both).  Two more mock traits shape the
 * fixtures for both builds: the mock returns one batch per fetch (fill()
 * writes one batch, so a poll can see several messages at once), and it
 * rebalances after a LeaveGroup only when the member's session expires
 * (group members use session.timeout.ms=6000).
 *
 * Topics, acks levels and offsets, per-partition order, keyed records on
 * Kafka's murmur2 partition, keyless round robin, custom partitioner,
 * headers/timestamps/null and empty keys and values, readers, consumer
 * assign/poll/commit/committed/position/seek/pause/resume, group
 * subscription and rebalance callback, dead letters, process() retries,
 * group_describe lag, transactions, and the backend-specific calls.
 */
#include "conformance_util.h"

/* ---------------------------------------------------------------------- */
/* Topics                                                                  */
/* ---------------------------------------------------------------------- */

static void test_topics(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, "zeta", 3);
    ct_topic(log, "alpha", 1);
    assert_crawllog_rc_log(log, crawllog_topic_create(log, "zeta", 3, NULL),
                           CRAWLLOG_EEXIST);
    assert_crawllog_rc(crawllog_topic_create(log, "bad/name", 1, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_create(log, "nopart", 0, NULL),
                       CRAWLLOG_EINVAL);

    char **names = NULL;
    size_t n = 0;
    assert_crawllog_ok_log(log, crawllog_topic_list(log, &names, &n));
    int seen_a = 0, seen_z = 0;
    for (size_t i = 0; i < n; i++) {
        seen_a += strcmp(names[i], "alpha") == 0;
        seen_z += strcmp(names[i], "zeta") == 0;
        if (i > 0 && strcmp(names[i - 1], names[i]) >= 0) {
            fail_msg("topic list not sorted: %s, %s", names[i - 1], names[i]);
        }
        assert_int_not_equal(strcmp(names[i], "nopart"), 0);
    }
    crawllog_topic_list_free(names, n);
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_z, 1);

    int32_t parts = -1;
    assert_crawllog_ok_log(log,
                           crawllog_topic_describe(log, "zeta", &parts, NULL));
    assert_int_equal(parts, 3);
    assert_crawllog_ok_log(log,
                           crawllog_topic_describe(log, "alpha", &parts, NULL));
    assert_int_equal(parts, 1);
    assert_crawllog_rc_log(
        log, crawllog_topic_describe(log, "missing", &parts, NULL),
        CRAWLLOG_ENOTOPIC);

    int64_t start = -5, end = -5;
    assert_crawllog_ok_log(
        log, crawllog_partition_offsets(log, "zeta", 2, &start, &end));
    assert_int_equal(start, 0);
    assert_int_equal(end, 0);
    assert_int_not_equal(
        crawllog_partition_offsets(log, "zeta", 3, &start, &end), 0);

    /* crawllog_append: a synchronous batch at consecutive offsets. */
    crawllog_record_t recs[3] = {{"a", 1, "1", 1, -1, NULL, 0},
                                 {"b", 1, "2", 1, -1, NULL, 0},
                                 {"c", 1, "3", 1, -1, NULL, 0}};
    int64_t base = -5;
    assert_crawllog_ok_log(log, crawllog_append(log, "zeta", 2, recs, 3,
                                                CRAWLLOG_SYNC_DURABLE, &base));
    assert_int_equal(base, 0);
    assert_crawllog_ok_log(log, crawllog_append(log, "zeta", 2, recs, 1,
                                                CRAWLLOG_SYNC_WRITTEN, &base));
    assert_int_equal(base, 3);
    assert_crawllog_ok(crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
    assert_int_equal(ct_end(log, "zeta", 2), 4);
    assert_int_equal(ct_end(log, "zeta", 0), 0);
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Producer                                                                */
/* ---------------------------------------------------------------------- */

static void test_acks_levels(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 2);
    struct reports r = {0};
    crawllog_producer_t *p0 = ct_producer(log, "acks", "0", NULL);
    assert_crawllog_ok(crawllog_producer_set_delivery_cb(p0, on_delivery, &r));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ct_send(p0, T, 1, "k", "acks0"), -1);
    }
    assert_crawllog_ok(crawllog_producer_flush(p0, 10000));
    assert_int_equal(r.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r.err[i], 0);
        assert_int_equal(r.partition[i], 1);
#ifdef CL_TEST_KAFKA
        /* Kafka's acks=0: the broker sends no response, so no offset. */
        assert_int_equal(r.offset[i], -1);
#else
        assert_int_equal(r.offset[i], i);
#endif
    }
    assert_crawllog_ok(crawllog_producer_destroy(p0));
    assert_int_equal(r.n, 5); /* nothing reported twice */

    crawllog_producer_t *p1 = ct_producer(log, "acks", "1", NULL);
    crawllog_producer_t *pa = ct_producer(log, "acks", "all", NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ct_send(p1, T, 1, NULL, "acks1"), 5 + i);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ct_send(pa, T, 1, NULL, "acksall"), 8 + i);
    }
    crawllog_record_t recs[3] = {{NULL, 0, "b0", 2, -1, NULL, 0},
                                 {NULL, 0, "b1", 2, -1, NULL, 0},
                                 {NULL, 0, "b2", 2, -1, NULL, 0}};
    int64_t base = -5;
    assert_crawllog_ok(crawllog_producer_send_batch(pa, T, 1, recs, 3, &base));
    assert_int_equal(base, 11);
    assert_crawllog_rc(
        crawllog_producer_send(pa, T, 7, NULL, 0, "x", 1, NULL, 0, NULL),
        CRAWLLOG_EPARTITION);
    assert_int_not_equal(crawllog_producer_send(pa, "no.such.topic", 0, NULL, 0,
                                                "x", 1, NULL, 0, NULL),
                         0);
    assert_crawllog_ok(crawllog_producer_destroy(p1));
    assert_crawllog_ok(crawllog_producer_destroy(pa));
    assert_int_equal(ct_end(log, T, 1), 14);
    assert_int_equal(ct_end(log, T, 0), 0);

    /* What was acknowledged is what a reader sees, in order. */
    struct ct_msg m[16];
    assert_int_equal(ct_read_all(log, T, 1, m, 16), 14);
    assert_string_equal(m[0].value, "acks0");
    assert_string_equal(m[5].value, "acks1");
    assert_string_equal(m[8].value, "acksall");
    assert_string_equal(m[13].value, "b2");
    for (int i = 0; i < 14; i++) {
        assert_int_equal(m[i].offset, i);
    }
    ct_close(log);
}

static void test_partition_order(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 3);
    crawllog_producer_t *p = ct_producer(log, "acks", "0", NULL);
    char v[16];
    for (int i = 0; i < 60; i++) {
        snprintf(v, sizeof(v), "v%03d", i);
        ct_send(p, T, i % 3, NULL, v);
    }
    assert_crawllog_ok(crawllog_producer_flush(p, 10000));
    assert_crawllog_ok(crawllog_producer_destroy(p));
    for (int32_t part = 0; part < 3; part++) {
        struct ct_msg m[32];
        assert_int_equal(ct_read_all(log, T, part, m, 32), 20);
        for (int i = 0; i < 20; i++) {
            snprintf(v, sizeof(v), "v%03d", i * 3 + part);
            assert_int_equal(m[i].offset, i);
            assert_string_equal(m[i].value, v);
        }
    }
    ct_close(log);
}

static void test_keyed_murmur2(void **state)
{
    /* Kafka's Utils.murmur2("foobar") (tests/vectors/murmur2.txt). */
    assert_int_equal(crawllog_murmur2("foobar", 6), 0xd0e47bbeu);
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 6);
    crawllog_producer_t *p = ct_producer(log, "acks", "1", NULL);
    int want[40], used[6] = {0};
    char key[16];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        want[i] = crawllog_partitioner_murmur2(T, key, strlen(key), 6, NULL);
        assert_int_equal(
            want[i],
            (int)((crawllog_murmur2(key, strlen(key)) & 0x7fffffffu) % 6u));
        used[want[i]] = 1;
        ct_send(p, T, CRAWLLOG_PARTITION_ANY, key, "v");
    }
    /* An empty key is a key: hashed, not round-robin. */
    int32_t pe = crawllog_partitioner_murmur2(T, "", 0, 6, NULL);
    int64_t before = ct_end(log, T, pe);
    assert_crawllog_ok(crawllog_producer_send(p, T, CRAWLLOG_PARTITION_ANY, "",
                                              0, "empty", 5, NULL, 0, NULL));
    assert_int_equal(ct_end(log, T, pe), before + 1);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    int nused = 0;
    for (int i = 0; i < 6; i++) {
        nused += used[i];
    }
    assert_true(nused >= 4); /* the fixed keys spread */

    int found[40] = {0};
    for (int32_t part = 0; part < 6; part++) {
        struct ct_msg m[48];
        size_t n = ct_read_all(log, T, part, m, 48);
        for (size_t i = 0; i < n; i++) {
            int k = -1;
            if (m[i].key_len == 0) {
                assert_int_equal(part, pe);
                continue;
            }
            assert_int_equal(sscanf(m[i].key, "key-%d", &k), 1);
            assert_true(k >= 0 && k < 40);
            assert_int_equal(part, want[k]);
            found[k]++;
        }
    }
    for (int i = 0; i < 40; i++) {
        assert_int_equal(found[i], 1);
    }
    ct_close(log);
}

static void test_keyless_round_robin(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 4);
    crawllog_producer_t *p = ct_producer(log, "acks", "all", NULL);
    for (int i = 0; i < 12; i++) {
        ct_send(p, T, CRAWLLOG_PARTITION_ANY, NULL, "rr");
    }
    assert_crawllog_ok(crawllog_producer_destroy(p));
    for (int32_t part = 0; part < 4; part++) {
        assert_int_equal(ct_end(log, T, part), 3);
    }
    ct_close(log);
}

static void test_custom_partitioner(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 4);
    crawllog_producer_t *p = ct_producer(log, "acks", "1", NULL);
    int32_t choice = -1; /* the last partition */
    custom_calls = 0;
    assert_crawllog_ok(
        crawllog_producer_set_partitioner(p, custom_part, &choice));
    ct_send(p, T, CRAWLLOG_PARTITION_ANY, "a", "1");
    ct_send(p, T, CRAWLLOG_PARTITION_ANY, NULL, "2");
    ct_send(p, T, CRAWLLOG_PARTITION_ANY, "", "3");
    assert_int_equal(custom_calls, 3);
    ct_send(p, T, 0, "a", "explicit wins");
    assert_int_equal(custom_calls, 3);
    assert_int_equal(ct_end(log, T, 3), 3);
    assert_int_equal(ct_end(log, T, 0), 1);
    choice = 99; /* out of range: refused, never a modulo */
    assert_crawllog_rc(crawllog_producer_send(p, T, CRAWLLOG_PARTITION_ANY, "a",
                                              1, "x", 1, NULL, 0, NULL),
                       CRAWLLOG_EPARTITION);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    for (int32_t part = 0; part < 4; part++) {
        assert_int_equal(ct_end(log, T, part), part == 3   ? 3
                                               : part == 0 ? 1
                                                           : 0);
    }
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Round trip of record fields                                             */
/* ---------------------------------------------------------------------- */

static void test_record_roundtrip(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 1);
    crawllog_producer_t *p = ct_producer(log, "acks", "all", NULL);
    crawllog_header_t hs[2] = {{"trace", 5, "abc", 3}, {"hnull", 5, NULL, 0}};
    crawllog_record_t recs[5] = {
        {"k1", 2, "v1", 2, RT_TS, hs, 2}, {NULL, 0, "v2", 2, -1, NULL, 0},
        {"k3", 2, NULL, 0, -1, NULL, 0},  {"k4", 2, "", 0, -1, NULL, 0},
        {"", 0, "v5", 2, -1, NULL, 0},
    };
    int64_t t0 = cl_test_now_ms();
    for (int i = 0; i < 5; i++) {
        int64_t off = -5;
        assert_crawllog_ok(
            crawllog_producer_send_record(p, T, 0, &recs[i], &off));
        assert_int_equal(off, i);
    }
    int64_t t1 = cl_test_now_ms();
    assert_crawllog_ok(crawllog_producer_destroy(p));

    struct ct_msg m[8];
    assert_int_equal(ct_read_all(log, T, 0, m, 8), 5);
    check_roundtrip(m, t0, t1);
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, T, 0));
    check_headers(cl_test_next_msg(rd));
    crawllog_reader_destroy(rd);

    crawllog_consumer_t *c = ct_consumer(log, NULL);
    ct_assign1(c, T, 0, CRAWLLOG_OFFSET_BEGINNING);
    assert_int_equal(ct_collect(c, m, 8, 5), 5);
    check_roundtrip(m, t0, t1);
    assert_string_equal(m[0].topic, T);
    assert_int_equal(m[0].partition, 0);
    /* Headers through the consumer: seek back and look at the view. */
    ct_cons_ok(c, crawllog_consumer_seek(c, T, 0, 0));
    const crawllog_msg_t *mv[1];
    size_t n = 0;
    int64_t deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (n == 0 && cl_test_mono_ms() < deadline) {
        ct_cons_ok(c, crawllog_consumer_poll(c, 100, mv, 1, &n));
    }
    assert_int_equal(n, 1);
    assert_int_equal(crawllog_msg_offset(mv[0]), 0);
    check_headers(mv[0]);
    crawllog_consumer_destroy(c);
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Reader                                                                  */
/* ---------------------------------------------------------------------- */

static void test_reader(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 2);
    crawllog_producer_t *p = ct_producer(log, "acks", "1", NULL);
    char v[16];
    for (int i = 0; i < 5; i++) {
        snprintf(v, sizeof(v), "r%d", i);
        ct_send(p, T, 1, NULL, v);
    }
    crawllog_reader_t *rd = NULL;
    assert_crawllog_rc(crawllog_reader_new(&rd, log, "missing", 0),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_ok(crawllog_reader_new(&rd, log, T, 1));
    for (int i = 0; i < 5; i++) {
        const crawllog_msg_t *m = cl_test_next_msg(rd);
        size_t len = 0;
        snprintf(v, sizeof(v), "r%d", i);
        assert_int_equal(crawllog_msg_offset(m), i);
        assert_memory_equal(crawllog_msg_value(m, &len), v, 2);
    }
    const crawllog_msg_t *m = (const crawllog_msg_t *)1;
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m); /* the end */
    assert_int_equal(crawllog_reader_position(rd), 5);
    ct_send(p, T, 1, NULL, "later");
    m = reader_wait(rd);
    assert_int_equal(crawllog_msg_offset(m), 5);
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m);
    assert_crawllog_ok(crawllog_reader_seek(rd, 2));
    m = cl_test_next_msg(rd);
    assert_int_equal(crawllog_msg_offset(m), 2);
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    /* An empty partition: the end at once. */
    assert_crawllog_ok(crawllog_reader_new(&rd, log, T, 0));
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m);
    crawllog_reader_destroy(rd);
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Consumer: assign, poll, commit, position, seek, pause                   */
/* ---------------------------------------------------------------------- */

static void test_assign_offsets(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 1);
    fill(log, 0, 5, "a");
    struct ct_msg m[16];

    crawllog_consumer_t *c = ct_consumer(log, NULL);
    ct_assign1(c, T, 0, CRAWLLOG_OFFSET_BEGINNING);
    assert_int_equal(ct_collect(c, m, 16, 5), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(m[i].offset, i);
    }
    ct_expect_nothing(c);
    crawllog_consumer_destroy(c);

    c = ct_consumer(log, NULL);
    ct_assign1(c, T, 0, 3);
    assert_int_equal(ct_collect(c, m, 16, 2), 2);
    assert_int_equal(m[0].offset, 3);
    assert_int_equal(m[1].offset, 4);
    crawllog_consumer_destroy(c);

    /* max: never more than asked for; the 5 come in 3 polls or more. */
    c = ct_consumer(log, NULL);
    ct_assign1(c, T, 0, CRAWLLOG_OFFSET_BEGINNING);
    size_t total = 0, full = 0;
    int64_t deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (total < 5 && cl_test_mono_ms() < deadline) {
        size_t k = ct_poll(c, 100, &m[total], 2);
        full += k == 2;
        total += k;
    }
    assert_int_equal(total, 5);
    assert_true(full >= 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(m[i].offset, i);
    }
    crawllog_consumer_destroy(c);

    /* END: only what is appended after the start is resolved.  Append
     * one record per round until one arrives: the first one delivered is
     * a new one (offset >= 5), never an old one. */
    c = ct_consumer(log, NULL);
    ct_assign1(c, T, 0, CRAWLLOG_OFFSET_END);
    ct_expect_nothing(c);
    crawllog_producer_t *p = ct_producer(log, "acks", "1", NULL);
    size_t n = 0;
    deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (n == 0 && cl_test_mono_ms() < deadline) {
        ct_send(p, T, 0, NULL, "new");
        n = ct_poll(c, 200, m, 16);
    }
    assert_true(n >= 1);
    assert_true(m[0].offset >= 5);
    assert_string_equal(m[0].value, "new");
#ifndef CL_TEST_KAFKA
    assert_int_equal(m[0].offset, 5); /* resolved at assign: synchronous */
#endif
    assert_crawllog_ok(crawllog_producer_destroy(p));
    crawllog_consumer_destroy(c);
    ct_close(log);
}

static void test_commit_position_seek(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 2);
    fill(log, 0, 5, "p0-");
    fill(log, 1, 3, "p1-");
    crawllog_consumer_t *c = ct_consumer(log, "group.id", "g", NULL);
    crawllog_consumer_t *peer = ct_consumer(log, "group.id", "g", NULL);
    crawllog_consumer_t *other = ct_consumer(log, "group.id", "h", NULL);
    assert_int_equal(ct_committed(peer, T, 0), -1);
    ct_assign1(c, T, 0, CRAWLLOG_OFFSET_BEGINNING);

    /* commit(msg): the message's offset + 1. */
    const crawllog_msg_t *mv[1];
    size_t n = 0;
    int64_t deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (n == 0 && cl_test_mono_ms() < deadline) {
        ct_cons_ok(c, crawllog_consumer_poll(c, 100, mv, 1, &n));
    }
    assert_int_equal(n, 1);
    assert_int_equal(crawllog_msg_offset(mv[0]), 0);
    ct_cons_ok(c, crawllog_consumer_commit(c, mv[0], CRAWLLOG_SYNC_DURABLE));
    assert_int_equal(ct_committed(peer, T, 0), 1);
    assert_int_equal(ct_committed(c, T, 0), 1);

    /* commit(NULL): the positions. */
    struct ct_msg m[16];
    assert_int_equal(ct_collect(c, m, 16, 4), 4);
    assert_int_equal(m[0].offset, 1);
    int64_t pos = -5;
    ct_cons_ok(c, crawllog_consumer_position(c, T, 0, &pos));
    assert_int_equal(pos, 5);
    ct_cons_ok(c, crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_WRITTEN));
    assert_int_equal(ct_committed(peer, T, 0), 5);

    /* commit_offsets: any partition, the NEXT offset to read. */
    crawllog_topic_partition_t off = {T, 1, 2, NULL};
    ct_cons_ok(
        c, crawllog_consumer_commit_offsets(c, &off, 1, CRAWLLOG_SYNC_DURABLE));
    assert_int_equal(ct_committed(peer, T, 1), 2);
    assert_int_equal(ct_committed(other, T, 1), -1); /* another group */

    /* seek: back to 1; the next poll starts there. */
    ct_cons_ok(c, crawllog_consumer_seek(c, T, 0, 1));
    assert_int_equal(ct_collect(c, m, 16, 4), 4);
    assert_int_equal(m[0].offset, 1);
    assert_int_equal(m[3].offset, 4);
    ct_cons_ok(c, crawllog_consumer_position(c, T, 0, &pos));
    assert_int_equal(pos, 5);
    assert_crawllog_rc(crawllog_consumer_seek(c, T, 1, 0), CRAWLLOG_ENOTOPIC);
    crawllog_consumer_destroy(c);

    /* A new member of g starting from the committed offsets: p0 is done,
     * p1 resumes at 2. */
    crawllog_topic_partition_t tp[2] = {
        {T, 0, CRAWLLOG_OFFSET_COMMITTED, NULL},
        {T, 1, CRAWLLOG_OFFSET_COMMITTED, NULL}};
    ct_assign(peer, tp, 2);
    assert_int_equal(ct_collect(peer, m, 16, 1), 1);
    assert_int_equal(m[0].partition, 1);
    assert_int_equal(m[0].offset, 2);
    assert_string_equal(m[0].value, "p1-2");
    ct_expect_nothing(peer);
    crawllog_topic_partition_t *list = NULL;
    size_t count = 0;
    ct_cons_ok(peer, crawllog_consumer_assignment(peer, &list, &count));
    assert_int_equal(count, 2);
    free(list);
    crawllog_consumer_destroy(peer);
    crawllog_consumer_destroy(other);
    ct_close(log);
}

static void test_pause_resume(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 2);
    fill(log, 0, 3, "p0-");
    fill(log, 1, 3, "p1-");
    crawllog_consumer_t *c = ct_consumer(log, NULL);
    crawllog_topic_partition_t tp[2] = {
        {T, 0, CRAWLLOG_OFFSET_BEGINNING, NULL},
        {T, 1, CRAWLLOG_OFFSET_BEGINNING, NULL}};
    ct_assign(c, tp, 2);
    crawllog_topic_partition_t p0 = {T, 0, -1, NULL};
    crawllog_topic_partition_t bad = {T, 5, -1, NULL};
    assert_crawllog_rc(crawllog_consumer_pause(c, &bad, 1), CRAWLLOG_ENOTOPIC);
    ct_cons_ok(c, crawllog_consumer_pause(c, &p0, 1));
    struct ct_msg m[16];
    assert_int_equal(ct_collect(c, m, 16, 3), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(m[i].partition, 1);
    }
    ct_expect_nothing(c); /* p0 stays paused */
    ct_cons_ok(c, crawllog_consumer_resume(c, &p0, 1));
    assert_int_equal(ct_collect(c, m, 16, 3), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(m[i].partition, 0);
        assert_int_equal(m[i].offset, i);
    }
    crawllog_consumer_destroy(c);
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Subscription and rebalance                                              */
/* ---------------------------------------------------------------------- */

static void test_subscribe_split(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 4);
    for (int32_t p = 0; p < 4; p++) {
        fill(log, p, 1, "s");
    }
    struct member a, b;
    struct ct_msg m[64];
    member_start(&a, log);
    member_start(&b, log);
    int64_t deadline = cl_test_mono_ms() + CT_WAIT_MS;
    int split = 0;
    while (!split && cl_test_mono_ms() < deadline) {
        ct_poll(a.c, 50, m, 64);
        ct_poll(b.c, 50, m, 64);
        int overlap = 0;
        for (int p = 0; p < 4; p++) {
            overlap += a.owned[p] && b.owned[p];
        }
        split = owned(&a) >= 1 && owned(&b) >= 1 &&
                owned(&a) + owned(&b) == 4 && overlap == 0;
    }
    if (!split) {
        fail_msg("no split of 4 partitions in %d ms: a owns %d, b owns %d",
                 CT_WAIT_MS, owned(&a), owned(&b));
    }
    assert_int_equal(a.bad + b.bad, 0);
    assert_true(a.assigned_events >= 1 && b.assigned_events >= 1);
    check_assignment(&a);
    check_assignment(&b);
    assert_true(strlen(crawllog_consumer_member_id(a.c)) > 0);
    assert_string_not_equal(crawllog_consumer_member_id(a.c),
                            crawllog_consumer_member_id(b.c));

    /* b leaves: a gets all four. */
    ct_cons_ok(b.c, crawllog_consumer_close(b.c));
    crawllog_consumer_destroy(b.c);
    deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (owned(&a) < 4 && cl_test_mono_ms() < deadline) {
        ct_poll(a.c, 100, m, 64);
    }
    assert_int_equal(owned(&a), 4);
    assert_int_equal(a.bad, 0);
    check_assignment(&a);
    crawllog_consumer_destroy(a.c);
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Dead letters and process()                                              */
/* ---------------------------------------------------------------------- */

static void test_dead_letter(void **state)
{
    crawllog_t *log = ct_open(state);
    fill_jobs(log, 3);
    crawllog_consumer_t *c = ct_consumer(log, "group.id", "g", NULL);
    ct_assign1(c, JOBS, 1, CRAWLLOG_OFFSET_COMMITTED);
    const crawllog_msg_t *m = next_view(c);
    assert_int_equal(crawllog_msg_offset(m), 0);
    m = next_view(c);
    assert_int_equal(crawllog_msg_offset(m), 1);
    ct_cons_ok(c, crawllog_consumer_dead_letter(c, m, "boom"));
    assert_int_equal(ct_committed(c, JOBS, 1), 2);
    int32_t parts = 0;
    assert_crawllog_ok_log(log,
                           crawllog_topic_describe(log, DLT, &parts, NULL));
    assert_int_equal(parts, 2); /* the source's partition count */
    assert_int_equal(ct_end(log, DLT, 1), 1);
    assert_int_equal(ct_end(log, DLT, 0), 0);
    check_dead_letter(log, 0, 1, "boom", 1);
    crawllog_consumer_destroy(c);
    ct_close(log);
}

static void test_process_retry(void **state)
{
    crawllog_t *log = ct_open(state);
    fill_jobs(log, 2);
    crawllog_consumer_t *c = ct_consumer(log, "group.id", "g", "max.attempts",
                                         "3", "retry.backoff.ms", "10",
                                         "retry.backoff.max.ms", "15", NULL);
    ct_assign1(c, JOBS, 1, CRAWLLOG_OFFSET_COMMITTED);
    const crawllog_msg_t *m = next_view(c);
    struct proc pr = {0, -1}; /* always fails */
    int outcome = 0;
    int64_t t0 = cl_test_mono_ms();
    ct_cons_ok(c, crawllog_consumer_process(c, m, proc_fn, &pr, &outcome));
    int64_t waited = cl_test_mono_ms() - t0;
    assert_int_equal(outcome, CRAWLLOG_DEAD_LETTERED);
    assert_int_equal(pr.calls, 3);
    assert_true(waited >= 10 + 15); /* 10, then doubled but capped at 15 */
    assert_int_equal(ct_committed(c, JOBS, 1), 1);
    check_dead_letter(log, 0, 0, "attempt 3 failed", 3);

    m = next_view(c);
    assert_int_equal(crawllog_msg_offset(m), 1);
    pr = (struct proc){0, 1}; /* fails once, then succeeds */
    ct_cons_ok(c, crawllog_consumer_process(c, m, proc_fn, &pr, &outcome));
    assert_int_equal(outcome, CRAWLLOG_PROCESSED);
    assert_int_equal(pr.calls, 2);
    assert_int_equal(ct_committed(c, JOBS, 1), 1); /* success: no commit */
    assert_int_equal(ct_end(log, DLT, 1), 1);
    crawllog_consumer_destroy(c);
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Group description                                                       */
/* ---------------------------------------------------------------------- */

static void test_group_describe(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 2);
    fill(log, 0, 5, "x");
    fill(log, 1, 3, "y");
    crawllog_consumer_t *c = ct_consumer(log, "group.id", "g", NULL);
    crawllog_topic_partition_t offs[2] = {{T, 0, 2, NULL}, {T, 1, 3, NULL}};
    ct_cons_ok(
        c, crawllog_consumer_commit_offsets(c, offs, 2, CRAWLLOG_SYNC_DURABLE));
    crawllog_consumer_destroy(c);
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_ok_log(log, crawllog_group_describe(log, "g", &d));
    assert_string_equal(d->group, "g");
    int seen = 0;
    for (size_t i = 0; i < d->partition_count; i++) {
        const crawllog_group_partition_t *gp = &d->partitions[i];
        if (strcmp(gp->topic, T) != 0) {
            continue;
        }
        seen |= 1 << gp->partition;
        assert_int_equal(gp->committed, gp->partition == 0 ? 2 : 3);
        assert_int_equal(gp->log_end, gp->partition == 0 ? 5 : 3);
        assert_int_equal(gp->lag, gp->partition == 0 ? 3 : 0);
    }
    assert_int_equal(seen, 3);
    crawllog_group_desc_free(d);
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Transactions                                                            */
/* ---------------------------------------------------------------------- */

static void test_transactions(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 1);
    ct_topic(log, "in", 1);
    crawllog_producer_t *p = ct_producer(log, "transactional.id", "tx", NULL);
    assert_crawllog_rc(crawllog_txn_commit(p), CRAWLLOG_EMISUSE);
    txn_ok(p, crawllog_txn_begin(p), "begin");
    assert_crawllog_rc(crawllog_txn_begin(p), CRAWLLOG_EMISUSE);
    ct_send(p, T, 0, NULL, "c0");
    ct_send(p, T, 0, NULL, "c1");
    txn_ok(p, crawllog_txn_commit(p), "commit");
    txn_ok(p, crawllog_txn_begin(p), "begin");
    ct_send(p, T, 0, NULL, "a0");
    ct_send(p, T, 0, NULL, "a1");
    txn_ok(p, crawllog_txn_abort(p), "abort");
    txn_ok(p, crawllog_txn_begin(p), "begin");
    ct_send(p, T, 0, NULL, "c2");
    txn_ok(p, crawllog_txn_commit(p), "commit");

    char seen[256];
    txn_values(log, "read_uncommitted", seen, sizeof(seen));
    assert_string_equal(seen, "c0,c1,a0,a1,c2");
    txn_values(log, "read_committed", seen, sizeof(seen));
#ifndef CL_TEST_KAFKA
    assert_string_equal(seen, "c0,c1,c2");
#else
    /* The mock's Fetch has no aborted-transaction list (see the top). */
    assert_true(strcmp(seen, "c0,c1,c2") == 0 ||
                strcmp(seen, "c0,c1,a0,a1,c2") == 0);
#endif

    /* send_offsets: the group's offsets commit with the transaction. */
    crawllog_producer_t *in = ct_producer(log, "acks", "all", NULL);
    for (int i = 0; i < 3; i++) {
        ct_send(in, "in", 0, NULL, "input");
    }
    assert_crawllog_ok(crawllog_producer_destroy(in));
    crawllog_consumer_t *c = ct_consumer(log, "group.id", "eos", NULL);
    crawllog_consumer_t *peer = ct_consumer(log, "group.id", "eos", NULL);
    ct_assign1(c, "in", 0, CRAWLLOG_OFFSET_COMMITTED);
    struct ct_msg m[8];
    assert_int_equal(ct_collect(c, m, 8, 3), 3);
    crawllog_group_metadata_t *md = NULL;
    ct_cons_ok(c, crawllog_consumer_group_metadata(c, &md));
    crawllog_topic_partition_t off = {"in", 0, 3, NULL};
    txn_ok(p, crawllog_txn_begin(p), "begin");
    ct_send(p, T, 0, NULL, "out");
    txn_ok(p, crawllog_txn_send_offsets(p, md, &off, 1), "send_offsets");
    txn_ok(p, crawllog_txn_commit(p), "commit");
#ifndef CL_TEST_KAFKA /* the mock's TxnOffsetCommit stores nothing */
    assert_int_equal(ct_committed(peer, "in", 0), 3);
#endif
    off.offset = 1; /* an aborted transaction's offsets never commit */
    txn_ok(p, crawllog_txn_begin(p), "begin");
    txn_ok(p, crawllog_txn_send_offsets(p, md, &off, 1), "send_offsets");
    txn_ok(p, crawllog_txn_abort(p), "abort");
#ifndef CL_TEST_KAFKA
    assert_int_equal(ct_committed(peer, "in", 0), 3);
#else
    assert_int_not_equal(ct_committed(peer, "in", 0), 1);
#endif
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(peer);
    crawllog_consumer_destroy(c);
    txn_ok(p, crawllog_producer_destroy(p), "destroy");
    ct_close(log);
}

/* ---------------------------------------------------------------------- */
/* Backend-specific calls: ENOTSUP on Kafka, exercised lightly on files    */
/* ---------------------------------------------------------------------- */

static void test_backend_log_calls(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 1);
    ct_topic(log, "gone", 1);
    fill(log, 0, 2, "b");
    int64_t deleted = -5;
    BACKEND_RC(crawllog_maintain(log, &deleted), CRAWLLOG_OK);
#ifdef CL_TEST_KAFKA
    assert_non_null(strstr(crawllog_errmsg(log), "crawllog_maintain"));
    assert_non_null(strstr(crawllog_errmsg(log), "Kafka"));
#else
    assert_int_equal(deleted, 0);
#endif
    crawllog_segment_info_t *segs = NULL;
    size_t nsegs = 0;
    BACKEND_RC(crawllog_partition_segments(log, T, 0, &segs, &nsegs),
               CRAWLLOG_OK);
#ifndef CL_TEST_KAFKA
    assert_int_equal(nsegs, 1);
#endif
    free(segs);
    int batches = 0;
    BACKEND_RC(crawllog_partition_batches(log, T, 0, 0, count_batch, &batches),
               CRAWLLOG_OK);
    assert_int_equal(batches, CT_KAFKA_OR(0, 1));
    int finished = -5;
    BACKEND_RC(crawllog_txn_recover(log, &finished), CRAWLLOG_OK);
    BACKEND_RC(crawllog_topic_migrate(log, T, "t2", 2, NULL, NULL),
               CRAWLLOG_OK);
    BACKEND_RC(crawllog_topic_delete(log, "gone"), CRAWLLOG_OK);
    int32_t parts = 0;
    assert_crawllog_rc(crawllog_topic_describe(log, "gone", &parts, NULL),
                       CT_KAFKA_OR(CRAWLLOG_OK, CRAWLLOG_ENOTOPIC));
    char **names = NULL;
    size_t n = 0;
    crawllog_consumer_t *c = ct_consumer(log, "group.id", "g", NULL);
    crawllog_topic_partition_t off = {T, 0, 1, NULL};
    ct_cons_ok(
        c, crawllog_consumer_commit_offsets(c, &off, 1, CRAWLLOG_SYNC_DURABLE));
    crawllog_consumer_destroy(c);
    BACKEND_RC(crawllog_group_list(log, &names, &n), CRAWLLOG_OK);
#ifndef CL_TEST_KAFKA
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "g");
#endif
    crawllog_topic_list_free(names, n);
    ct_close(log);

#ifdef CL_TEST_KAFKA
    assert_crawllog_rc(crawllog_verify(CT_LOCATION, NULL, NULL, NULL, NULL, 0),
                       CRAWLLOG_ENOTSUP);
#else
    size_t problems = 9;
    assert_crawllog_ok(
        crawllog_verify(CL_TEST_DIR(state), NULL, NULL, &problems, NULL, 0));
    assert_int_equal(problems, 0);
#endif
}

static void test_backend_producer_reader(void **state)
{
    crawllog_t *log = ct_open(state);
    ct_topic(log, T, 1);
    crawllog_producer_t *p = ct_producer(log, "acks", "all", NULL);
    ct_send(p, T, 0, NULL, "x");
    int32_t seq = -5;
    BACKEND_RC(crawllog_producer_next_sequence(p, T, 0, &seq), CRAWLLOG_OK);
#ifndef CL_TEST_KAFKA
    assert_int_equal(seq, 1);
#endif
    crawllog_record_t r = {NULL, 0, "s", 1, -1, NULL, 0};
    int64_t base = -5;
    int dup = -1;
    BACKEND_RC(crawllog_producer_send_sequenced(p, T, 0, 1, &r, 1, &base, &dup),
               CRAWLLOG_OK);
#ifndef CL_TEST_KAFKA
    assert_int_equal(base, 1);
    assert_int_equal(dup, 0);
#endif
    int64_t pid = -5;
    int16_t epoch = -5;
    BACKEND_RC(crawllog_producer_identity(p, &pid, &epoch), CRAWLLOG_OK);
#ifndef CL_TEST_KAFKA
    assert_true(pid >= 0);
#endif
    assert_crawllog_ok(crawllog_producer_destroy(p));

    /* A durable producer id is a file-backend feature. */
    crawllog_conf_t *conf = cl_test_conf("producer.id", "named", NULL);
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    p = NULL;
    BACKEND_RC(crawllog_producer_new(log, conf, &p, err, sizeof(err)),
               CRAWLLOG_OK);
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(crawllog_producer_destroy(p));

    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, T, 0));
    const void *buf = NULL;
    size_t len = 0;
    BACKEND_RC(crawllog_reader_fetch(rd, 1 << 20, &buf, &len), CRAWLLOG_OK);
#ifndef CL_TEST_KAFKA
    assert_non_null(buf);
    assert_true(len > 61); /* at least one RecordBatch v2 header */
#endif
    crawllog_reader_destroy(rd);
    ct_close(log);
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(crawllog_strerror(CRAWLLOG_ENOTSUP),
                        "not supported by this backend");
    assert_string_equal(crawllog_err_name(CRAWLLOG_ENOTSUP),
                        "CRAWLLOG_ENOTSUP");
    assert_int_equal(CRAWLLOG_ENOTSUP, -24);
    crawllog_t *log = NULL;
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
#ifdef CL_TEST_KAFKA
    /* A Kafka log: errmsg names the unsupported call. */
    log = ct_open(state);
    assert_string_equal(crawllog_errmsg(log), "");
    assert_crawllog_rc(crawllog_maintain(log, NULL), CRAWLLOG_ENOTSUP);
    assert_non_null(
        strstr(crawllog_errmsg(log), "not supported by the Kafka backend"));
    ct_close(log);
#else
    /* A library built without the backend refuses kafka:// locations. */
    assert_crawllog_rc(
        crawllog_open(&log, "kafka://mock", NULL, err, sizeof(err)),
        CRAWLLOG_ENOTSUP);
    assert_null(log);
    assert_true(strlen(err) > 0);
#endif
    (void)err;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_topics),
        cl_test_unit_tmpdir(test_acks_levels),
        cl_test_unit_tmpdir(test_partition_order),
        cl_test_unit_tmpdir(test_keyed_murmur2),
        cl_test_unit_tmpdir(test_keyless_round_robin),
        cl_test_unit_tmpdir(test_custom_partitioner),
        cl_test_unit_tmpdir(test_record_roundtrip),
        cl_test_unit_tmpdir(test_reader),
        cl_test_unit_tmpdir(test_assign_offsets),
        cl_test_unit_tmpdir(test_commit_position_seek),
        cl_test_unit_tmpdir(test_pause_resume),
        cl_test_unit_tmpdir(test_subscribe_split),
        cl_test_unit_tmpdir(test_dead_letter),
        cl_test_unit_tmpdir(test_process_retry),
        cl_test_unit_tmpdir(test_group_describe),
        cl_test_unit_tmpdir(test_transactions),
        cl_test_unit_tmpdir(test_backend_log_calls),
        cl_test_unit_tmpdir(test_backend_producer_reader),
        cl_test_unit_tmpdir(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
