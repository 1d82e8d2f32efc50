/*
 * test_cli.c - tests of the crawllog command-line tool: topics, produce,
 * consume, offsets, verify, conf, maintain, groups.  (lag check, metrics
 * and dlq are in test_cli_ops.c.)
 *
 * Runs the built binary through the harness of cli_harness.h and checks
 * outputs and exit statuses.  Each test gets its own temporary directory;
 * the data directory is "<tmp>/data".  Expected outputs are computed here
 * from the inputs, never taken from the tool.
 */
#include "cli_harness.h"

/* ---------------------------------------------------------------------- */

static void test_cli_version(void **state)
{
    struct run r;

    CLI(state, &r, NULL, "version");
    assert_exit(&r, 0);
    assert_string_equal(r.out, CRAWLLOG_VERSION_STRING "\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    CLI(state, &r, NULL, "help");
    assert_exit(&r, 0);
    assert_contains(r.out, "usage: crawllog");
    run_free(&r);
    cli_run(&r, NULL, NULL, (const char *const[]){"-h", NULL});
    assert_exit(&r, 0);
    assert_contains(r.out, "\n  topics create|list|describe|delete|"
                           "add-partitions|migrate|migration\n");
    assert_contains(r.out, "\n  groups list|describe|delete|reset-offsets\n");
    assert_contains(r.out, "\n  lag check ");
    assert_contains(r.out, "\n  metrics ");
    assert_contains(r.out, "\n  dlq list|show|replay\n");
    assert_contains(r.out, "\n  consume TOPIC ");
    assert_contains(r.out, "\n  dump TOPIC ");
    assert_contains(r.out, "\nexit status: 0 ok, 1 error, 2 usage, 3 not found");
    run_free(&r);
    /* Each command explains itself (docs/CLI.md holds the same texts). */
    CLI(state, &r, NULL, "groups", "--help");
    assert_exit(&r, 0);
    assert_contains(r.out, "\n  describe GROUP [--members] [--json]\n");
    assert_contains(r.out, "CURRENT-OFFSET");
    run_free(&r);
    /* Neither opened nor created the data directory. */
    assert_false(cl_test_exists(data_dir(state)));
}

static void test_cli_topic_commands(void **state)
{
    struct run r;

    create_topic(state, "beta", "1");
    create_topic(state, "alpha", "2");
    CLI_OUT(state, NULL, "alpha\nbeta\n", "topic", "list");
    CLI(state, &r, NULL, "topic", "describe", "alpha");
    assert_exit(&r, 0);
    assert_contains(r.out, "partitions: 2\n");
    assert_contains(r.out, "segment.bytes=");
    /* An empty segment: its 64-byte header, empty indexes. */
    assert_contains(r.out,
                    "partition 0: start 0 end 0 records 0 segments 1 bytes 64\n");
    assert_contains(r.out,
                    "partition 1: start 0 end 0 records 0 segments 1 bytes 64\n");
    assert_null(strstr(r.out, "partition 2:"));
    run_free(&r);
    CLI_OK(state, NULL, "topic", "add-partitions", "alpha", "4");
    CLI(state, &r, NULL, "topic", "describe", "alpha");
    assert_exit(&r, 0);
    assert_contains(r.out, "partitions: 4\n");
    assert_contains(r.out,
                    "partition 3: start 0 end 0 records 0 segments 1 bytes 64\n");
    run_free(&r);
    CLI_FAILS_WITH(state, NULL, 2, "CRAWLLOG_EINVAL", "topic", "add-partitions",
              "alpha", "3");
    CLI_FAILS_WITH(state, NULL, 5, "CRAWLLOG_EEXIST", "topic", "create",
                   "alpha", "1");
    CLI_OK(state, NULL, "topic", "delete", "beta");
    CLI(state, &r, NULL, "topic", "list");
    assert_string_equal(r.out, "alpha\n");
    run_free(&r);
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_ENOTOPIC", "topic", "delete",
                   "beta");
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_ENOTOPIC", "topic", "describe",
                   "beta");
}

static void test_cli_topic_overrides(void **state)
{
    struct run r;

    CLI_OK(state, NULL, "topic", "create", "t", "1", "-c",
           "segment.bytes=65536", "-c", "retention.ms=12345");
    CLI(state, &r, NULL, "topic", "describe", "t");
    assert_exit(&r, 0);
    assert_contains(r.out, "segment.bytes=65536\n");
    assert_contains(r.out, "retention.ms=12345\n");
    run_free(&r);
    CLI_FAILS_WITH(state, NULL, 2, "segment.bytes", "topic", "create", "u", "1", "-c",
              "segment.bytes=x");
    CLI(state, &r, NULL, "topic", "list");
    assert_string_equal(r.out, "t\n");
    run_free(&r);
}

/* The five input lines and what consuming them must show. */
static const char *const lines5[5] = {"k0|v0", "plain value", "k2|",
                                      "|empty key", "k4|tab\there\\x"};
static const char *const keys5[5] = {"k0", "(null)", "k2", "", "k4"};
static const char *const vals5[5] = {"v0", "plain value", "", "empty key",
                                     "tab\\x09here\\x5cx"};

static char *join_lines(const char *const *l, size_t n, char *buf, size_t sz)
{
    size_t i;

    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        cl_test_check(strlen(buf) + strlen(l[i]) + 2 < sz);
        strcat(buf, l[i]);
        strcat(buf, "\n");
    }
    return buf;
}

static void test_cli_produce_consume(void **state)
{
    struct run r;
    char in[512], want[512];
    char *line, *save = NULL;
    int64_t t0, t1;
    int i = 0;

    create_topic(state, "t", "1");
    t0 = now_ms();
    CLI(state, &r, join_lines(lines5, 5, in, sizeof(in)), "produce", "t", "0",
        "--key-sep", "|", "--batch", "2");
    t1 = now_ms();
    assert_exit(&r, 0);
    assert_contains(r.err, "produced 5 records, offsets 0..4");
    run_free(&r);
    CLI(state, &r, NULL, "consume", "t", "0");
    assert_exit(&r, 0);
    for (line = strtok_r(r.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), i++) {
        char *ts_end = NULL;
        long long ts;
        char *tab1 = strchr(line, '\t');

        assert_true(i < 5);
        assert_non_null(tab1);
        ts = strtoll(tab1 + 1, &ts_end, 10);
        assert_true(ts >= t0 - 1 && ts <= t1 + 1);
        assert_int_equal(*ts_end, '\t');
        snprintf(want, sizeof(want), "%d", i);
        assert_memory_equal(line, want, strlen(want));
        snprintf(want, sizeof(want), "\t%s\t%s", keys5[i], vals5[i]);
        assert_string_equal(ts_end, want);
    }
    assert_int_equal(i, 5);
    run_free(&r);
    /* Without --key-sep the whole line is the value and the key is null. */
    CLI_EXPECT(state, "a|b\n", 0, NULL, "produced 1 records, offsets 5..5",
               "produce", "t", "0", "--sync", "durable");
    CLI_OUT(state, NULL, "a|b\n", "consume", "t", "0", "--from", "5",
            "--format", "raw");
}

static void test_cli_consume_from_max(void **state)
{
    static const char *const vals[6] = {"r0", "r1", "r2", "r3", "r4", "r5"};
    char in[128];

    create_topic(state, "t", "1");
    CLI_OK(state, join_lines(vals, 6, in, sizeof(in)), "produce", "t", "0",
           "--sync", "none");
    CLI_OUT(state, NULL, "r2\nr3\nr4\n", "consume", "t", "0", "--from", "2",
            "--max", "3", "--format", "raw");
    CLI_OUT(state, NULL, "", "consume", "t", "0", "--max", "0");
    CLI_OUT(state, NULL, "", "consume", "t", "0", "--from", "6");
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_EOFFSET", "consume", "t", "0", "--from",
              "7");
    CLI_OUT(state, NULL, "r0\n", "consume", "t", "0", "--from-time", "0",
            "--max", "1", "--format", "raw");
    CLI_OUT(state, NULL, "", "consume", "t", "0", "--from-time",
            "4102444800000"); /* 2100-01-01: after every record */
}

static void test_cli_offsets(void **state)
{
    struct run r;

    create_topic(state, "t", "3");
    CLI_OK(state, "a\nb\n", "produce", "t", "0");
    CLI_EXPECT(state, "c\nd\ne", 0, NULL, "produced 3 records, offsets 0..2",
               "produce", "t", "2"); /* no final newline */
    CLI_OUT(state, NULL, "0 0 2\n1 0 0\n2 0 3\n", "offsets", "t");
    /* describe: sizes as the files have them, per segment with
     * --segments, and as JSON. */
    char seg[4300], line[256];
    unsigned long long bytes = 0;
    static const char *const sfx[] = {"log", "index", "timeindex"};
    size_t sizes[3];
    for (int k = 0; k < 3; k++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "topics/t/2/00000000000000000000.%s",
                 sfx[k]);
        cl_test_path(seg, sizeof(seg), data_dir(state), rel);
        sizes[k] = cl_test_exists(seg) ? cl_test_file_size(seg) : 0;
        bytes += sizes[k];
    }
    CLI(state, &r, NULL, "topics", "describe", "t", "--segments");
    assert_exit(&r, 0);
    snprintf(line, sizeof(line),
             "partition 2: start 0 end 3 records 3 segments 1 bytes %llu\n",
             bytes);
    assert_contains(r.out, line);
    snprintf(line, sizeof(line),
             "  segment 00000000000000000000: offsets 0..3 log %zu index %zu "
             "timeindex %zu max-timestamp ",
             sizes[0], sizes[1], sizes[2]);
    assert_contains(r.out, line);
    assert_contains(r.out, " (active)\n");
    run_free(&r);
    CLI(state, &r, NULL, "topics", "describe", "t", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    snprintf(line, sizeof(line),
             "{\"partition\":2,\"start\":0,\"end\":3,\"records\":3,"
             "\"bytes\":%llu,\"segments\":[{\"base_offset\":0,"
             "\"next_offset\":3,\"log_bytes\":%zu,",
             bytes, sizes[0]);
    assert_contains(r.out, line);
    assert_contains(r.out, "\"segment.bytes\":\"");
    run_free(&r);
    CLI(state, &r, NULL, "offsets", "t", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_string_equal(r.out, "[{\"partition\":0,\"start\":0,\"end\":2},"
                               "{\"partition\":1,\"start\":0,\"end\":0},"
                               "{\"partition\":2,\"start\":0,\"end\":3}]\n");
    run_free(&r);
    CLI(state, &r, NULL, "topics", "list", "--json");
    assert_string_equal(r.out, "[\"t\"]\n");
    run_free(&r);
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_ENOTOPIC", "offsets", "nope");
}

static void test_cli_verify(void **state)
{
    struct cl_test_snap *before;
    char seg[4300];
    unsigned char *bytes;
    size_t len, batch, pos;
    struct run r;

    create_topic(state, "t", "1");
    CLI_OK(state, "first record\nsecond record\nthird\nfourth\nfifth\n",
           "produce", "t", "0");
    /* A second batch, so that the damage below is not a torn tail (which
     * recovery on open would truncate). */
    CLI_OK(state, "sixth\n", "produce", "t", "0");
    CLI_OUT(state, NULL, "verify: ok\n", "verify");
    snprintf(seg, sizeof(seg), "%s/topics/t/0/00000000000000000000.log",
             data_dir(state));
    bytes = cl_test_read_file(seg, &len);
    assert_true(len > 64 + 61);
    batch = 12 + ((size_t)bytes[72] << 24 | (size_t)bytes[73] << 16 |
                  (size_t)bytes[74] << 8 | bytes[75]);
    free(bytes);
    assert_true(batch > 61 && 64 + batch <= len);
    pos = 64 + 61 + (batch - 61) / 2;
    cl_test_flip_byte(seg, (off_t)pos, 0x5a);
    before = cl_test_snap_take(data_dir(state));
    CLI(state, &r, NULL, "verify");
    assert_exit(&r, 4);
    assert_contains(r.out, "00000000000000000000.log");
    assert_contains(r.out, "verify: ");
    assert_contains(r.out, " problem");
    assert_null(strstr(r.out, "verify: ok"));
    run_free(&r);
    /* verify changed nothing */
    assert_dir_unchanged(before, data_dir(state));
    CLI(state, &r, NULL, "consume", "t", "0");
    assert_exit(&r, 4);
    assert_contains(r.err, "CRAWLLOG_ECORRUPT");
    assert_contains(r.err, "00000000000000000000.log");
    run_free(&r);
    /* Still there: nothing was repaired. */
    CLI_EXPECT(state, NULL, 4, NULL, NULL, "verify");
}

static void test_cli_errors(void **state)
{
    struct run r;
    char missing[4300];

    CLI_FAILS_WITH(state, NULL, 2,
                   "crawllog: topics create bad/name: CRAWLLOG_EINVAL", "topic",
                   "create", "bad/name", "1");
    CLI_FAILS_WITH(state, "x\n", 3, "CRAWLLOG_ENOTOPIC", "produce", "nope",
                   "0");
    snprintf(missing, sizeof(missing), "%s/missing", CL_TEST_DIR(state));
    cli_run(&r, NULL, NULL,
            (const char *const[]){"-d", missing, "-X", "log.dir.create=false",
                                  "topic", "list", NULL});
    assert_exit(&r, 3);
    assert_contains(r.err, "CRAWLLOG_ENOENT");
    assert_false(cl_test_exists(missing));
    run_free(&r);
    cli_run(&r, NULL, NULL,
            (const char *const[]){"-d", missing, "verify", NULL});
    assert_exit(&r, 3);
    assert_contains(r.err, "CRAWLLOG_ENOENT");
    assert_false(cl_test_exists(missing));
    run_free(&r);
}

static void test_cli_usage_errors(void **state)
{
    static const char *const bad[][8] = {
        {"frobnicate", NULL},
        {"topic", "create", "t", "abc", NULL},
        {"topic", "create", "t", "12x", NULL},
        {"topic", "create", "t", "", NULL},
        {"topic", "create", "t", "99999999999", NULL},
        {"topic", "add-partitions", "t", "2.5", NULL},
        {"consume", "t", "zero", NULL},
        {"consume", "t", "0", "--max", "-1", NULL},
        {"consume", "t", "0", "--from", "1", "--from-time", "2", NULL},
        {"consume", "t", "0", "--from-time", "2", "--from", "1", NULL},
        {"consume", "t", "0", "--format", "%", NULL},
        {"produce", "t", "0", "--batch", "0", NULL},
        {"produce", "t", "0", "--sync", "maybe", NULL},
        {"produce", "t", "0", "--key-sep", "ab", NULL},
        {"offsets", NULL},
        {"topic", NULL},
        {"-X", "segment.bytes", "conf", NULL},
        {"-q", "version", NULL},
        {"groups", NULL},
        {"groups", "frob", NULL},
        {"groups", "describe", NULL},
        {"groups", "list", "g", NULL},
        {"groups", "list", "--members", NULL},
        {"groups", "describe", "g", "--verbose", NULL},
    };
    struct run r;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[10] = {"-d", data_dir(state)};
        size_t j;

        for (j = 0; bad[i][j] != NULL; j++) {
            args[2 + j] = bad[i][j];
        }
        args[2 + j] = NULL;
        cli_run(&r, NULL, NULL, args);
        if (r.status != 2) {
            cl_test_failf_at(__FILE__, __LINE__, "case %zu (%s %s): exit %d", i,
                             bad[i][0], bad[i][1] ? bad[i][1] : "", r.status);
        }
        assert_contains(r.err, "usage: crawllog");
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    CLI(state, &r, NULL, NULL); /* no command at all */
    assert_exit(&r, 2);
    assert_contains(r.err, "no command");
    run_free(&r);
}

static void test_cli_conf(void **state)
{
    struct run r;

    CLI(state, &r, NULL, "conf");
    assert_exit(&r, 0);
    assert_true(strncmp(r.out, "backend=file\nlog.dir.create=", 28) == 0);
    assert_contains(r.out, "\nsegment.bytes=");
    run_free(&r);
    CLI(state, &r, NULL, "-X", "segment.bytes=65536", "-X",
        "log.dir.create=false", "conf");
    assert_exit(&r, 0);
    assert_contains(r.out, "\nsegment.bytes=65536\n");
    assert_contains(r.out, "log.dir.create=false\n");
    run_free(&r);
    CLI(state, &r, NULL, "-X", "segment.bytes=65536", "conf", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "\"segment.bytes\":\"65536\"");
    run_free(&r);
    CLI(state, &r, NULL, "-X", "no.such.prop=1", "conf");
    assert_exit(&r, 2);
    assert_contains(r.err, "no.such.prop");
    assert_contains(r.err, "CRAWLLOG_EINVAL");
    assert_string_equal(r.out, "");
    run_free(&r);
    CLI_FAILS_WITH(state, NULL, 2, "segment.bytes", "-X", "segment.bytes=lots",
                   "topic", "list");
    assert_false(cl_test_exists(data_dir(state)));
}

static void test_cli_env_dir(void **state)
{
    struct run r;
    char dir[4300];

    snprintf(dir, sizeof(dir), "%s/envdata", CL_TEST_DIR(state));
    cli_run(&r, NULL, dir,
            (const char *const[]){"topic", "create", "e", "2", NULL});
    assert_exit(&r, 0);
    run_free(&r);
    snprintf(dir, sizeof(dir), "%s/envdata/topics/e", CL_TEST_DIR(state));
    assert_true(cl_test_exists(dir));
    /* -d wins over the environment. */
    snprintf(dir, sizeof(dir), "%s/envdata", CL_TEST_DIR(state));
    create_topic(state, "d", "1");
    cli_run(&r, NULL, dir, (const char *const[]){"topic", "list", NULL});
    assert_string_equal(r.out, "e\n");
    run_free(&r);
}

static void test_cli_maintain(void **state)
{
    char in[16384], line[128];
    struct run r;
    long long start = -1, end = -1, deleted = -1;
    int i;

    CLI_OK(state, NULL, "topic", "create", "t", "1", "-c", "segment.bytes=4096",
           "-c", "retention.ms=1");
    CLI_OUT(state, NULL, "retention: deleted 0 segments\n", "retention", "run");
    CLI_OUT(state, NULL, "retention: deleted 0 segments\n", "maintain");
    in[0] = '\0';
    for (i = 0; i < 120; i++) {
        snprintf(line, sizeof(line), "record %03d %s\n", i,
                 "padding padding padding padding padding padding padding");
        strcat(in, line);
    }
    CLI_EXPECT(state, in, 0, NULL, "produced 120 records, offsets 0..119",
               "produce", "t", "0", "--batch", "10");
    nanosleep(&(struct timespec){0, 20000000}, NULL); /* older than 1 ms */
    CLI(state, &r, NULL, "retention", "run");
    assert_exit(&r, 0);
    assert_int_equal(sscanf(r.out, "retention: deleted %lld segments", &deleted),
                     1);
    assert_true(deleted >= 1);
    run_free(&r);
    CLI(state, &r, NULL, "offsets", "t");
    assert_exit(&r, 0);
    assert_int_equal(sscanf(r.out, "0 %lld %lld", &start, &end), 2);
    assert_int_equal(end, 120);
    assert_true(start > 0 && start < 120);
    run_free(&r);
    CLI(state, &r, NULL, "consume", "t", "0", "--max", "1", "--format", "raw");
    assert_exit(&r, 0);
    snprintf(line, sizeof(line), "record %03lld ", start);
    assert_memory_equal(r.out, line, strlen(line));
    run_free(&r);
    CLI_OK(state, NULL, "verify");
}

/* ---------------------------------------------------------------------- */
/* groups                                                                  */
/* ---------------------------------------------------------------------- */

/* The checker itself: it must be able to say no. */
static void test_cli_json_checker(void **state)
{
    static const char *const good[] = {
        "[]",
        "{}",
        " {\"a\":[1,-2.5e+3,\"x\\\"\\u00e9\",true,null]}\n",
        "[\"a\",\"b\"]",
        "0",
        "\"a\\\\q\\/\""};
    static const char *const bad[] = {"",
                                      "[",
                                      "[1,]",
                                      "{\"a\"}",
                                      "{\"a\":}",
                                      "{a:1}",
                                      "\"\\x41\"",
                                      "\"\\u12\"",
                                      "[01]",
                                      "[1.]",
                                      "[\"tab\there\"]",
                                      "{} {}",
                                      "nul",
                                      "{\"a\":1,}",
                                      "[-]"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!json_valid(good[i])) {
            cl_test_failf_at(__FILE__, __LINE__, "rejected: %s", good[i]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (json_valid(bad[i])) {
            cl_test_failf_at(__FILE__, __LINE__, "accepted: %s", bad[i]);
        }
    }
}

/* A member of group subscribed to topic, with client.id client. */
static crawllog_consumer_t *group_member(crawllog_t *log, const char *group,
                                         const char *topic, const char *client)
{
    crawllog_conf_t *conf = cl_test_conf("group.id", group, "client.id", client,
                                         "auto.offset.reset", "earliest", NULL);
    crawllog_consumer_t *c = NULL;
    char err[256];

    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    assert_crawllog_ok(crawllog_consumer_subscribe(c, &topic, 1));
    crawllog_conf_destroy(conf);
    return c;
}

/* Poll c until it owns want partitions (5 s at most). */
static void poll_until_owns(crawllog_consumer_t *c, size_t want)
{
    int64_t deadline = cl_test_mono_ms() + 5000;
    crawllog_topic_partition_t *list = NULL;
    const crawllog_msg_t *m[16];
    size_t owned = 0, n;

    while (owned != want && cl_test_mono_ms() < deadline) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 50, m, 16, &n));
        assert_crawllog_ok(crawllog_consumer_assignment(c, &list, &owned));
        free(list);
    }
    assert_int_equal(owned, want);
}

static void test_cli_groups_list(void **state)
{
    crawllog_t *log;

    /* No group yet (and no groups directory). */
    CLI_OUT(state, NULL, "", "groups", "list");
    CLI_OUT(state, NULL, "[]\n", "groups", "list", "--json");
    create_topic(state, "t", "1");
    CLI_OK(state, "a\nb\n", "produce", "t", "0");
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "beta", "t", 0, 1);
    group_commit(log, "alpha", "t", 0, 2);
    group_commit(log, "a-1.x", "t", 0, 2);
    CLI_OUT(state, NULL, "a-1.x\nalpha\nbeta\n", "groups", "list");
    CLI_OUT(state, NULL, "[\"a-1.x\",\"alpha\",\"beta\"]\n", "groups", "list",
            "--json");
    /* Groups are not topics. */
    CLI_OUT(state, NULL, "t\n", "topic", "list");
    cl_test_close_verify(log, data_dir(state));
}

/* A group with commits and no member: Kafka's table and notice, lag by
 * hand, columns widened by a long topic name; the same as JSON. */
static void test_cli_groups_describe(void **state)
{
    static const char hdr[] =
        "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  "
        "LOG-END-OFFSET  LAG             CONSUMER-ID\n";
    static const char hdr_wide[] =
        "GROUP           TOPIC                    PARTITION  CURRENT-OFFSET  "
        "LOG-END-OFFSET  LAG             CONSUMER-ID\n";
    static const char part0[] =
        "{\"topic\":\"orders\",\"partition\":0,\"current_offset\":6,"
        "\"log_end_offset\":10,\"lag\":4,\"consumer_id\":null,"
        "\"commit_time_ms\":";
    struct run r;
    crawllog_t *log;
    long long commit_ms = -1;
    int64_t before, after;
    const char *at;

    make_orders(state);
    log = cl_test_open(data_dir(state), NULL);
    before = now_ms();
    group_commit(log, "g", "orders", 0, 6);
    after = now_ms();
    CLI(state, &r, NULL, "groups", "describe", "g");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "Consumer group 'g' has no active members.\n");
    assert_string_equal(
        r.out, "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  "
               "LOG-END-OFFSET  LAG             CONSUMER-ID\n"
               "g               orders          0          6               "
               "10              4               -\n");
    assert_memory_equal(r.out, hdr, strlen(hdr));
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--json");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "");
    assert_json(r.out);
    assert_contains(r.out, "{\"group\":\"g\",\"state\":\"Empty\",");
    assert_contains(r.out, "\"members\":[],");
    at = strstr(r.out, part0);
    assert_non_null(at);
    assert_int_equal(sscanf(at + strlen(part0), "%lld}]}\n", &commit_ms), 1);
    assert_true(commit_ms >= before - 1000 && commit_ms <= after + 1000);
    assert_null(strstr(r.out, "\"partition\":1"));
    run_free(&r);
    /* More commits: a second partition, a topic name wider than 15. */
    create_topic(state, "a-rather-long-topic-name", "1");
    group_commit(log, "g", "orders", 1, 1);
    group_commit(log, "g", "a-rather-long-topic-name", 0, 0);
    CLI(state, &r, NULL, "groups", "describe", "g");
    assert_exit(&r, 0);
    assert_string_equal(
        r.out, "GROUP           TOPIC                    PARTITION  "
               "CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID\n"
               "g               a-rather-long-topic-name 0          0      "
               "         0               0               -\n"
               "g               orders                   0          6      "
               "         10              4               -\n"
               "g               orders                   1          1      "
               "         4               3               -\n");
    assert_memory_equal(r.out, hdr_wide, strlen(hdr_wide));
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--members");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "Consumer group 'g' has no active members.\n");
    assert_string_equal(r.out, "GROUP           CONSUMER-ID     PID        "
                               "CLIENT-ID       #PARTITIONS\n");
    run_free(&r);
    cl_test_close_verify(log, data_dir(state));
}

/* A live member owns both partitions: CONSUMER-ID, "-" where nothing is
 * committed, --members, JSON; then a second member makes it rebalance. */
static void test_cli_groups_members(void **state)
{
    crawllog_consumer_t *a, *b;
    char want[1024], mid[256];
    const char *rows[2];
    struct run r;
    crawllog_t *log;

    make_orders(state);
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "g", "orders", 0, 6);
    a = group_member(log, "g", "orders", "lagmon");
    poll_until_owns(a, 2);
    snprintf(mid, sizeof(mid), "%s", crawllog_consumer_member_id(a));
    assert_true(strncmp(mid, "lagmon-", 7) == 0 && strlen(mid) > 15);
    CLI(state, &r, NULL, "groups", "describe", "g");
    assert_exit(&r, 0);
    assert_string_equal(r.err, ""); /* Stable: no notice */
    rows[0] = "g               orders          0          6               "
              "10              4               ";
    rows[1] = "g               orders          1          -               "
              "4               -               ";
    snprintf(want, sizeof(want),
             "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  "
             "LOG-END-OFFSET  LAG             CONSUMER-ID\n%s%s\n%s%s\n",
             rows[0], mid, rows[1], mid);
    assert_string_equal(r.out, want);
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--members");
    assert_exit(&r, 0);
    snprintf(want, sizeof(want),
             "GROUP           %-*s PID        CLIENT-ID       #PARTITIONS\n"
             "g               %s %-10ld lagmon          2\n",
             (int)strlen(mid), "CONSUMER-ID", mid, (long)getpid());
    assert_string_equal(r.out, want);
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "{\"group\":\"g\",\"state\":\"Stable\",");
    assert_null(strstr(r.out, "\"strategy\":\"\""));
    snprintf(want, sizeof(want),
             "\"members\":[{\"member_id\":\"%s\",\"instance_id\":\"\","
             "\"client_id\":\"lagmon\",\"pid\":%ld,\"alive\":true,"
             "\"last_poll_age_ms\":",
             mid, (long)getpid());
    assert_contains(r.out, want);
    assert_contains(r.out, ",\"partitions\":2}],\"partitions\":[");
    snprintf(want, sizeof(want),
             "{\"topic\":\"orders\",\"partition\":1,\"current_offset\":null,"
             "\"log_end_offset\":4,\"lag\":null,\"consumer_id\":\"%s\","
             "\"commit_time_ms\":null}]}\n",
             mid);
    assert_contains(r.out, want);
    run_free(&r);
    /* A second member joins; a keeps its partitions until its next poll,
     * so one of them waits to change owner. */
    b = group_member(log, "g", "orders", "second");
    {
        const crawllog_msg_t *m[4];
        size_t n;

        assert_crawllog_ok(crawllog_consumer_poll(b, 0, m, 4, &n));
        assert_int_equal(n, 0);
    }
    CLI(state, &r, NULL, "groups", "describe", "g");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "Warning: Consumer group 'g' is rebalancing.\n");
    assert_contains(r.out, mid); /* still the owner of both */
    run_free(&r);
    CLI(state, &r, NULL, "groups", "describe", "g", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "\"state\":\"PreparingRebalance\"");
    assert_contains(r.out, "\"client_id\":\"second\"");
    run_free(&r);
    crawllog_consumer_destroy(b);
    crawllog_consumer_destroy(a);
    cl_test_close_verify(log, data_dir(state));
}

static void test_cli_groups_not_found(void **state)
{
    crawllog_t *log;

    /* No groups directory at all, then another group only. */
    CLI_EXPECT(state, NULL, 3, "", NULL, "groups", "describe", "nope");
    create_topic(state, "t", "1");
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "other", "t", 0, 0);
    {
        struct run r;

        CLI(state, &r, NULL, "groups", "describe", "nope", "--json");
        assert_exit(&r, 3);
        assert_string_equal(r.err, "crawllog: group \"nope\" not found\n");
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    CLI_FAILS_WITH(state, NULL, 2,
                   "crawllog: groups describe bad/name: CRAWLLOG_EINVAL",
                   "groups", "describe", "bad/name");
    CLI_OK(state, NULL, "groups", "describe", "other");
    cl_test_close_verify(log, data_dir(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_cli_version),
        cl_test_unit_tmpdir(test_cli_topic_commands),
        cl_test_unit_tmpdir(test_cli_topic_overrides),
        cl_test_unit_tmpdir(test_cli_produce_consume),
        cl_test_unit_tmpdir(test_cli_consume_from_max),
        cl_test_unit_tmpdir(test_cli_offsets),
        cl_test_unit_tmpdir(test_cli_verify),
        cl_test_unit_tmpdir(test_cli_errors),
        cl_test_unit_tmpdir(test_cli_usage_errors),
        cl_test_unit_tmpdir(test_cli_conf),
        cl_test_unit_tmpdir(test_cli_env_dir),
        cl_test_unit_tmpdir(test_cli_maintain),
        cl_test_unit_tmpdir(test_cli_json_checker),
        cl_test_unit_tmpdir(test_cli_groups_list),
        cl_test_unit_tmpdir(test_cli_groups_describe),
        cl_test_unit_tmpdir(test_cli_groups_members),
        cl_test_unit_tmpdir(test_cli_groups_not_found),
    };
    return cmocka_run_group_tests_name("cli", tests, group_setup, NULL);
}
