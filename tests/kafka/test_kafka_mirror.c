/*
 * test_kafka_mirror.c - `crawllog mirror` across backends, with the
 * kafka-built tool (CRAWLLOG_KAFKA_CLI) against a librdkafka mock cluster
 * of 3 brokers that lives in this test process (the tool connects to its
 * bootstrap list over TCP; the mock cannot CreateTopics, so the Kafka-side
 * topics are created here with rd_kafka_mock_topic_create).
 *
 * Round trip: a data directory's topic T (null and empty keys, null
 * values, binary values, 0/1/3 headers with a duplicate name and a null
 * value, explicit timestamps) is mirrored to kafka://BOOTSTRAPS and back
 * into another directory as T2.  The Kafka copy is read with a plain
 * librdkafka consumer (not through crawllog), the file copy with
 * crawllog_reader, both compared record by record with the source,
 * partition by partition.  Then records are appended to the source and
 * both mirrors run again: exactly the new records travel (the Kafka side's
 * progress is the committed offset of the group crawllog-mirror.T2 on the
 * mock, the file side's crawllog-mirror.T in the source directory).  And a
 * Kafka topic with fewer partitions than the source is refused (exit 5)
 * with nothing produced.
 *
 * Compiled with -DCL_TEST_KAFKA by `make test-kafka` only.
 */
#include "cli_harness.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define TS_BASE 1600000000000LL
#define WAIT_MS 30000

static rd_kafka_t *mock_rk;
static char kafka_loc[1024];

/* Append n records g = from .. from+n-1 to partition p (the same shapes
 * as test_cli_mirror.c: null keys g % 5 == 0, empty keys 1, null values
 * g % 7 == 3, 0/1/3 headers by g % 3, timestamp TS_BASE + g * 1000 + p). */
static void fill(crawllog_t *log, const char *topic, int32_t p, int from,
                 int n)
{
    for (int g = from; g < from + n; g++) {
        crawllog_record_t r;
        crawllog_header_t h[3];
        char key[32], val[32], hv[32];
        int vl = snprintf(val, sizeof(val), "v%d:%d", (int)p, g);
        val[vl + 1] = '\0';
        val[vl + 2] = (char)0xff;
        snprintf(key, sizeof(key), "k%d-%d", (int)p, g);
        snprintf(hv, sizeof(hv), "x%d", g);
        h[0] = (crawllog_header_t){"trace", 5, hv, strlen(hv)};
        h[1] = (crawllog_header_t){"nullv", 5, NULL, 0};
        h[2] = (crawllog_header_t){"trace", 5, "y", 1};
        r.key = g % 5 == 0 ? NULL : key;
        r.key_len = g % 5 <= 1 ? 0 : strlen(key);
        r.value = g % 7 == 3 ? NULL : val;
        r.value_len = g % 7 == 3 ? 0 : (size_t)vl + 3;
        r.timestamp = TS_BASE + (int64_t)g * 1000 + p;
        r.headers = g % 3 == 0 ? NULL : h;
        r.header_count = g % 3 == 0 ? 0 : g % 3 == 1 ? 1 : 3;
        assert_crawllog_ok_log(log, crawllog_append(log, topic, p, &r, 1,
                                                    CRAWLLOG_SYNC_WRITTEN,
                                                    NULL));
    }
}

static int bytes_equal(const void *a, size_t al, const void *b, size_t bl)
{
    return (a == NULL) == (b == NULL) && al == bl &&
           (al == 0 || memcmp(a, b, al) == 0);
}

/* A Kafka message is the source record m. */
static void check_kafka_msg(const crawllog_msg_t *m, const rd_kafka_message_t *k)
{
    size_t len;
    int32_t p = k->partition;
    int64_t off = crawllog_msg_offset(m);
    const void *b = crawllog_msg_key(m, &len);
    cl_test_checkf(bytes_equal(b, len, k->key, k->key_len),
                   "T/%d offset %lld: key differs (kafka %zu bytes, %s)",
                   (int)p, (long long)off, k->key_len,
                   k->key ? "non-null" : "null");
    b = crawllog_msg_value(m, &len);
    cl_test_checkf(bytes_equal(b, len, k->payload, k->len),
                   "T/%d offset %lld: value differs", (int)p, (long long)off);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(k, &tt);
    cl_test_checkf(ts == crawllog_msg_timestamp(m) &&
                       tt == RD_KAFKA_TIMESTAMP_CREATE_TIME,
                   "T/%d offset %lld: timestamp %lld (type %d), source %lld",
                   (int)p, (long long)off, (long long)ts, (int)tt,
                   (long long)crawllog_msg_timestamp(m));
    rd_kafka_headers_t *hdrs = NULL;
    size_t n = crawllog_msg_header_count(m), kn = 0;
    if (rd_kafka_message_headers(k, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        kn = rd_kafka_header_cnt(hdrs);
    }
    cl_test_checkf(kn == n, "T/%d offset %lld: %zu headers, source %zu",
                   (int)p, (long long)off, kn, n);
    for (size_t i = 0; i < n; i++) {
        crawllog_header_t h;
        const char *name = NULL;
        const void *val = NULL;
        size_t vsize = 0;
        assert_crawllog_ok(crawllog_msg_header(m, i, &h));
        cl_test_check(rd_kafka_header_get_all(hdrs, i, &name, &val, &vsize) ==
                      RD_KAFKA_RESP_ERR_NO_ERROR);
        cl_test_checkf(bytes_equal(h.name, h.name_len, name, strlen(name)) &&
                           bytes_equal(h.value, h.value_len, val, vsize),
                       "T/%d offset %lld: header %zu differs (kafka \"%s\")",
                       (int)p, (long long)off, i, name);
    }
}

/* Read partitions 0..parts-1 of topic on the mock with a plain librdkafka
 * consumer, from the beginning to the end, and compare them with the
 * source directory's topic: the same records, in order, nothing more. */
static void check_kafka_copy(const char *src, const char *topic, int32_t parts)
{
    static int round;
    char errstr[512], group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof(group), "mirror-verify-%d", ++round);
    const char *kv[][2] = {{"bootstrap.servers",
                            rd_kafka_mock_cluster_bootstraps(
                                rd_kafka_handle_mock_cluster(mock_rk))},
                           {"group.id", group},
                           {"enable.partition.eof", "true"},
                           {"enable.auto.commit", "false"},
                           {"auto.offset.reset", "earliest"}};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        cl_test_checkf(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr,
                                         sizeof(errstr)) == RD_KAFKA_CONF_OK,
                       "%s: %s", kv[i][0], errstr);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
                                  sizeof(errstr));
    cl_test_checkf(rk != NULL, "rd_kafka_new: %s", errstr);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(parts);
    for (int32_t p = 0; p < parts; p++) {
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    cl_test_check(rd_kafka_assign(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);

    crawllog_t *log = cl_test_open(src, NULL);
    crawllog_reader_t *rd[16] = {NULL};
    int eof[16] = {0}, eofs = 0;
    cl_test_check(parts <= 16);
    for (int32_t p = 0; p < parts; p++) {
        assert_crawllog_ok(crawllog_reader_new(&rd[p], log, topic, p));
    }
    int64_t deadline = cl_test_mono_ms() + WAIT_MS;
    while (eofs < parts) {
        cl_test_checkf(cl_test_mono_ms() < deadline,
                       "%s: only %d of %d partitions read to the end in %d s",
                       topic, eofs, (int)parts, WAIT_MS / 1000);
        rd_kafka_message_t *k = rd_kafka_consumer_poll(rk, 200);
        if (k == NULL) {
            continue;
        }
        int32_t p = k->partition;
        cl_test_check(p >= 0 && p < parts);
        if (k->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs += !eof[p];
            eof[p] = 1;
        } else {
            cl_test_checkf(k->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                           "%s/%d: %s", topic, (int)p,
                           rd_kafka_err2str(k->err));
            const crawllog_msg_t *m = NULL;
            assert_crawllog_ok(crawllog_reader_next(rd[p], &m));
            cl_test_checkf(m != NULL, "%s/%d: kafka has more records than "
                                      "the source (offset %lld)",
                           topic, (int)p, (long long)k->offset);
            check_kafka_msg(m, k);
        }
        rd_kafka_message_destroy(k);
    }
    for (int32_t p = 0; p < parts; p++) {
        const crawllog_msg_t *m = NULL;
        assert_crawllog_ok(crawllog_reader_next(rd[p], &m));
        cl_test_checkf(m == NULL, "%s/%d: kafka lacks source offset %lld",
                       topic, (int)p, (long long)crawllog_msg_offset(m));
        crawllog_reader_destroy(rd[p]);
    }
    assert_crawllog_ok(crawllog_close(log));
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* Partitions 0..parts-1 of name in dst are exactly topic of src. */
static int64_t compare_exact(const char *src, const char *topic,
                             const char *dst, const char *name, int32_t parts)
{
    crawllog_t *a = cl_test_open(src, NULL), *b = cl_test_open(dst, NULL);
    int64_t total = 0;
    for (int32_t p = 0; p < parts; p++) {
        crawllog_reader_t *ra = NULL, *rb = NULL;
        assert_crawllog_ok(crawllog_reader_new(&ra, a, topic, p));
        assert_crawllog_ok(crawllog_reader_new(&rb, b, name, p));
        for (;;) {
            const crawllog_msg_t *ma = NULL, *mb = NULL;
            size_t al, bl;
            assert_crawllog_ok(crawllog_reader_next(ra, &ma));
            assert_crawllog_ok(crawllog_reader_next(rb, &mb));
            cl_test_checkf((ma == NULL) == (mb == NULL),
                           "%s/%d: the copy has %s records", name, (int)p,
                           ma ? "fewer" : "more");
            if (ma == NULL) {
                break;
            }
            int64_t off = crawllog_msg_offset(ma);
            const void *x = crawllog_msg_key(ma, &al), *y = crawllog_msg_key(mb, &bl);
            cl_test_checkf(bytes_equal(x, al, y, bl), "%s/%d @%lld: key",
                           name, (int)p, (long long)off);
            x = crawllog_msg_value(ma, &al);
            y = crawllog_msg_value(mb, &bl);
            cl_test_checkf(bytes_equal(x, al, y, bl), "%s/%d @%lld: value",
                           name, (int)p, (long long)off);
            cl_test_checkf(crawllog_msg_timestamp(ma) ==
                               crawllog_msg_timestamp(mb),
                           "%s/%d @%lld: timestamp", name, (int)p,
                           (long long)off);
            size_t n = crawllog_msg_header_count(ma);
            cl_test_checkf(n == crawllog_msg_header_count(mb),
                           "%s/%d @%lld: header count", name, (int)p,
                           (long long)off);
            for (size_t i = 0; i < n; i++) {
                crawllog_header_t ha, hb;
                assert_crawllog_ok(crawllog_msg_header(ma, i, &ha));
                assert_crawllog_ok(crawllog_msg_header(mb, i, &hb));
                cl_test_checkf(bytes_equal(ha.name, ha.name_len, hb.name,
                                           hb.name_len) &&
                                   bytes_equal(ha.value, ha.value_len,
                                               hb.value, hb.value_len),
                               "%s/%d @%lld: header %zu", name, (int)p,
                               (long long)off, i);
            }
            total++;
        }
        crawllog_reader_destroy(ra);
        crawllog_reader_destroy(rb);
    }
    assert_crawllog_ok(crawllog_close(a));
    assert_crawllog_ok(crawllog_close(b));
    return total;
}

/* Run the tool; it must exit with want; stdout must start with out_prefix
 * (NULL: not checked). */
static void run_tool(const char *const *args, int want, const char *out_prefix,
                     const char *err_part)
{
    struct run r;
    cli_run(&r, NULL, NULL, args);
    assert_exit(&r, want);
    if (out_prefix != NULL && strncmp(r.out, out_prefix, strlen(out_prefix)) != 0) {
        cl_test_failf_at(__FILE__, __LINE__, "stdout \"%s\", expected \"%s...\"",
                         r.out, out_prefix);
    }
    if (err_part != NULL) {
        assert_contains(r.err, err_part);
    }
    run_free(&r);
}

static void test_kafka_mirror_round_trip(void **state)
{
    char src[4200], back[4200], want[6000];
    cl_test_path(src, sizeof(src), CL_TEST_DIR(state), "src");
    cl_test_path(back, sizeof(back), CL_TEST_DIR(state), "back");
    crawllog_t *log = cl_test_open(src, NULL);
    cl_test_create_topic(log, "T", 3, NULL);
    fill(log, "T", 0, 0, 23);
    fill(log, "T", 1, 200, 4);
    fill(log, "T", 2, 100, 9);
    assert_crawllog_ok(crawllog_close(log));

    const char *to_kafka[] = {"-d", src, "mirror", "T", "--to", kafka_loc, NULL};
    const char *from_kafka[] = {"-d", kafka_loc, "mirror", "T", "--to", back,
                                "--as", "T2", NULL};
    snprintf(want, sizeof(want), "mirror T: 36 records, 3 partitions, to %s\n",
             kafka_loc);
    run_tool(to_kafka, 0, want, NULL);
    check_kafka_copy(src, "T", 3);
    snprintf(want, sizeof(want),
             "mirror T: 36 records, 3 partitions, to %s as T2\n", back);
    run_tool(from_kafka, 0, want, NULL);
    assert_int_equal(compare_exact(src, "T", back, "T2", 3), 36);

    /* Resume: only the appended records travel, both ways. */
    log = cl_test_open(src, NULL);
    fill(log, "T", 1, 204, 5);
    fill(log, "T", 0, 23, 2);
    assert_crawllog_ok(crawllog_close(log));
    snprintf(want, sizeof(want), "mirror T: 7 records, 3 partitions, to %s\n",
             kafka_loc);
    run_tool(to_kafka, 0, want, NULL);
    check_kafka_copy(src, "T", 3);
    snprintf(want, sizeof(want),
             "mirror T: 7 records, 3 partitions, to %s as T2\n", back);
    run_tool(from_kafka, 0, want, NULL);
    assert_int_equal(compare_exact(src, "T", back, "T2", 3), 43);
    snprintf(want, sizeof(want), "mirror T: 0 records, 3 partitions, to %s\n",
             kafka_loc);
    run_tool(to_kafka, 0, want, NULL);
}

static void test_kafka_mirror_fewer_partitions(void **state)
{
    char src[4200];
    int64_t lo = -1, hi = -1;
    cl_test_path(src, sizeof(src), CL_TEST_DIR(state), "src");
    crawllog_t *log = cl_test_open(src, NULL);
    cl_test_create_topic(log, "F", 3, NULL);
    fill(log, "F", 1, 0, 3);
    assert_crawllog_ok(crawllog_close(log));
    const char *args[] = {"-d", src, "mirror", "F", "--to", kafka_loc, "--as",
                          "F1", NULL};
    run_tool(args, 5, "", "has 1 partitions, fewer than the 3 of the source");
    assert_int_equal(rd_kafka_query_watermark_offsets(mock_rk, "F1", 0, &lo,
                                                      &hi, 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(hi, 0);
}

/* The mock cluster (3 brokers) with topics T (3 partitions) and F1 (1). */
static int kafka_setup(void **state)
{
    char errstr[512];
    const char *cli = getenv("CRAWLLOG_KAFKA_CLI");
    setenv("CRAWLLOG_CLI", cli != NULL && cli[0] ? cli : "build/kafka/crawllog",
           1);
    if (group_setup(state) != 0) {
        return -1;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "3", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "test.mock.num.brokers: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (mock_rk == NULL) {
        fprintf(stderr, "rd_kafka_new: %s\n", errstr);
        return -1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock_rk);
    if (mc == NULL ||
        rd_kafka_mock_topic_create(mc, "T", 3, 1) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_mock_topic_create(mc, "F1", 1, 1) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "mock cluster: cannot create the topics\n");
        return -1;
    }
    snprintf(kafka_loc, sizeof(kafka_loc), "kafka://%s",
             rd_kafka_mock_cluster_bootstraps(mc));
    return 0;
}

static int kafka_teardown(void **state)
{
    (void)state;
    rd_kafka_destroy(mock_rk);
    mock_rk = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_kafka_mirror_round_trip),
        cl_test_unit_tmpdir(test_kafka_mirror_fewer_partitions),
    };
    return cmocka_run_group_tests_name("kafka_mirror", tests, kafka_setup,
                                       kafka_teardown);
}
