/*
 * test_conf.c - configuration: defaults, parsing, bounds, dumps, topic
 * merge, metadata text and the generated documentation.
 *
 * Expected values are written out literally here (from the property list
 * in the design), never read back from conf.c's table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "io.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    enum cl_conf_key key;
    const char *name;
    int64_t def;          /* as cl_conf_int() returns it */
    const char *def_text; /* as crawllog_conf_get() returns it */
    int topic;
} expected[] = {
    {CL_CONF_BACKEND, "backend", 0, "file", 0},
    {CL_CONF_LOG_DIR_CREATE, "log.dir.create", 1, "true", 0},
    {CL_CONF_LOG_DIR_MODE, "log.dir.mode", 0700, "0700", 0},
    {CL_CONF_LOG_FILE_MODE, "log.file.mode", 0600, "0600", 0},
    {CL_CONF_LOG_BUFFER_BYTES, "log.buffer.bytes", 1048576, "1048576", 0},
    {CL_CONF_LOG_FLUSH_PARALLELISM, "log.flush.parallelism", 8, "8", 0},
    {CL_CONF_SEGMENT_BYTES, "segment.bytes", 1073741824, "1073741824", 1},
    {CL_CONF_SEGMENT_MS, "segment.ms", 604800000, "604800000", 1},
    {CL_CONF_RETENTION_MS, "retention.ms", 604800000, "604800000", 1},
    {CL_CONF_RETENTION_BYTES, "retention.bytes", -1, "-1", 1},
    {CL_CONF_INDEX_INTERVAL_BYTES, "index.interval.bytes", 4096, "4096", 1},
    /* 10485760 rounded down to a multiple of 12 */
    {CL_CONF_SEGMENT_INDEX_BYTES, "segment.index.bytes", 10485756,
     "10485760", 1},
    {CL_CONF_MAX_MESSAGE_BYTES, "max.message.bytes", 1048588, "1048588", 1},
    /* producer scope (issue 3) */
    {CL_CONF_ACKS, "acks", 2, "all", 0},
    {CL_CONF_LINGER_MS, "linger.ms", 5, "5", 0},
    {CL_CONF_BATCH_SIZE, "batch.size", 16384, "16384", 0},
    {CL_CONF_PARTITIONER, "partitioner", 0, "round_robin", 0},
    {CL_CONF_ENABLE_IDEMPOTENCE, "enable.idempotence", 1, "true", 0},
    {CL_CONF_PRODUCER_ID, "producer.id", 0, "", 0}, /* a name: "" unset */
    /* transactions (issue 10) */
    {CL_CONF_TRANSACTIONAL_ID, "transactional.id", 0, "", 0},
    {CL_CONF_TRANSACTION_TIMEOUT_MS, "transaction.timeout.ms", 60000, "60000",
     0},
    /* consumer scope (issue 4) */
    {CL_CONF_GROUP_ID, "group.id", 0, "", 0},
    {CL_CONF_GROUP_INSTANCE_ID, "group.instance.id", 0, "", 0},
    {CL_CONF_CLIENT_ID, "client.id", 0, "", 0},
    {CL_CONF_AUTO_OFFSET_RESET, "auto.offset.reset", 1, "latest", 0},
    {CL_CONF_ENABLE_AUTO_COMMIT, "enable.auto.commit", 0, "false", 0},
    {CL_CONF_AUTO_COMMIT_INTERVAL_MS, "auto.commit.interval.ms", 5000, "5000",
     0},
    {CL_CONF_MAX_POLL_INTERVAL_MS, "max.poll.interval.ms", 300000, "300000",
     0},
    {CL_CONF_SESSION_TIMEOUT_MS, "session.timeout.ms", 45000, "45000", 0},
    {CL_CONF_HEARTBEAT_INTERVAL_MS, "heartbeat.interval.ms", 100, "100", 0},
    {CL_CONF_PARTITION_ASSIGNMENT_STRATEGY, "partition.assignment.strategy",
     2, "cooperative-sticky", 0},
    {CL_CONF_MAX_POLL_RECORDS, "max.poll.records", 500, "500", 0},
    {CL_CONF_MAX_PARTITION_FETCH_BYTES, "max.partition.fetch.bytes", 1048576,
     "1048576", 0},
    {CL_CONF_DEAD_LETTER_TOPIC, "dead.letter.topic", 0, "", 0},
    {CL_CONF_MAX_DELIVERIES, "max.deliveries", 5, "5", 0},
    {CL_CONF_MAX_ATTEMPTS, "max.attempts", 3, "3", 0},
    {CL_CONF_RETRY_BACKOFF_MS, "retry.backoff.ms", 100, "100", 0},
    {CL_CONF_RETRY_BACKOFF_MAX_MS, "retry.backoff.max.ms", 10000, "10000", 0},
    {CL_CONF_ISOLATION_LEVEL, "isolation.level", 1, "read_committed", 0},
};

#define DEFAULT_PRODUCER_TEXT                                                  \
    "acks=all\n"                                                               \
    "linger.ms=5\n"                                                            \
    "batch.size=16384\n"                                                       \
    "partitioner=round_robin\n"                                                \
    "enable.idempotence=true\n"                                                \
    "producer.id=\n"                                                           \
    "transactional.id=\n"                                                      \
    "transaction.timeout.ms=60000\n"

#define DEFAULT_CONSUMER_TEXT                                                  \
    "group.id=\n"                                                              \
    "group.instance.id=\n"                                                     \
    "client.id=\n"                                                             \
    "auto.offset.reset=latest\n"                                               \
    "enable.auto.commit=false\n"                                               \
    "auto.commit.interval.ms=5000\n"                                           \
    "max.poll.interval.ms=300000\n"                                            \
    "session.timeout.ms=45000\n"                                               \
    "heartbeat.interval.ms=100\n"                                              \
    "partition.assignment.strategy=cooperative-sticky\n"                       \
    "max.poll.records=500\n"                                                   \
    "max.partition.fetch.bytes=1048576\n"                                      \
    "dead.letter.topic=\n"                                                     \
    "max.deliveries=5\n"                                                       \
    "max.attempts=3\n"                                                         \
    "retry.backoff.ms=100\n"                                                   \
    "retry.backoff.max.ms=10000\n"                                             \
    "isolation.level=read_committed\n"

/* The topic properties at their defaults, as dumped. */
#define DEFAULT_TOPIC_TEXT                                                     \
    "segment.bytes=1073741824\n"                                               \
    "segment.ms=604800000\n"                                                   \
    "retention.ms=604800000\n"                                                 \
    "retention.bytes=-1\n"                                                     \
    "index.interval.bytes=4096\n"                                              \
    "segment.index.bytes=10485760\n"                                           \
    "max.message.bytes=1048588\n"

static const char default_dump[] =
    "backend=file\n"
    "log.dir.create=true\n"
    "log.dir.mode=0700\n"
    "log.file.mode=0600\n"
    "log.buffer.bytes=1048576\nlog.flush.parallelism=8\n" DEFAULT_TOPIC_TEXT DEFAULT_PRODUCER_TEXT
        DEFAULT_CONSUMER_TEXT;

static const char default_topic_text[] = DEFAULT_TOPIC_TEXT;

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

static crawllog_conf_t *new_conf(void)
{
    crawllog_conf_t *conf = NULL;
    assert_int_equal(crawllog_conf_new(&conf), CRAWLLOG_OK);
    assert_non_null(conf);
    return conf;
}

static void set_ok(crawllog_conf_t *conf, const char *name, const char *val)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_conf_set(conf, name, val, errstr, sizeof(errstr));
    if (rc != CRAWLLOG_OK) {
        fail_msg("set %s=%s: %s (%s)", name, val, crawllog_err_name(rc),
                 errstr);
    }
}

static void set_bad(crawllog_conf_t *conf, const char *name, const char *val)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "untouched";
    int rc = crawllog_conf_set(conf, name, val, errstr, sizeof(errstr));
    if (rc != CRAWLLOG_EINVAL) {
        fail_msg("set %s=\"%s\" gave %s, want CRAWLLOG_EINVAL", name, val,
                 crawllog_err_name(rc));
    }
    /* The message names the property. */
    if (strstr(errstr, name) == NULL || strlen(errstr) == 0) {
        fail_msg("set %s=\"%s\": message \"%s\" does not name it", name, val,
                 errstr);
    }
}

static void get_is(const crawllog_conf_t *conf, const char *name,
                   const char *want)
{
    char buf[64];
    size_t size = sizeof(buf);
    assert_int_equal(crawllog_conf_get(conf, name, buf, &size), CRAWLLOG_OK);
    assert_string_equal(buf, want);
    assert_int_equal(size, strlen(want) + 1);
}

/* set_ok(conf, name, val), then get_is(conf, name, shown). */
static void set_shows(crawllog_conf_t *conf, const char *name, const char *val,
                      const char *shown)
{
    set_ok(conf, name, val);
    get_is(conf, name, shown);
}

static char *dump(const crawllog_conf_t *conf)
{
    char *text = NULL;
    assert_int_equal(crawllog_conf_dump(conf, &text), CRAWLLOG_OK);
    assert_non_null(text);
    return text;
}

/* dump(conf) must still be before (a dump taken earlier, freed here). */
static void expect_dump(const crawllog_conf_t *conf, char *before)
{
    char *after = dump(conf);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* ---------------------------------------------------------------------- */
/* Defaults, set and get                                                   */
/* ---------------------------------------------------------------------- */

static void test_conf_defaults(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    assert_int_equal(ARRAY_LEN(expected), CL_CONF__COUNT);
    for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
        enum cl_conf_key k = expected[i].key;
        assert_string_equal(cl_conf_name(k), expected[i].name);
        assert_true(cl_conf_int(conf, k) == expected[i].def);
        assert_true(cl_conf_int(NULL, k) == expected[i].def);
        assert_int_equal(cl_conf_is_set(conf, k), 0);
        assert_int_equal(cl_conf_is_set(NULL, k), 0);
        assert_int_equal(cl_conf_is_topic(k), expected[i].topic);
        get_is(conf, expected[i].name, expected[i].def_text);
    }
    crawllog_conf_destroy(conf);
    crawllog_conf_destroy(NULL);
}

static void test_conf_set_get_round_trip(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    set_shows(conf, "log.dir.create", "false", "false");
    assert_true(cl_conf_int(conf, CL_CONF_LOG_DIR_CREATE) == 0);
    set_shows(conf, "log.dir.create", "1", "true");
    set_shows(conf, "log.dir.create", "0", "false");
    set_ok(conf, "log.dir.create", "true");
    assert_true(cl_conf_int(conf, CL_CONF_LOG_DIR_CREATE) == 1);

    set_shows(conf, "log.dir.mode", "750", "0750");
    assert_true(cl_conf_int(conf, CL_CONF_LOG_DIR_MODE) == 0750);
    set_shows(conf, "log.file.mode", "0640", "0640");
    assert_true(cl_conf_int(conf, CL_CONF_LOG_FILE_MODE) == 0640);
    set_shows(conf, "log.file.mode", "00644", "0644");

    set_shows(conf, "segment.bytes", "1048576", "1048576");
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_BYTES) == 1048576);
    assert_int_equal(cl_conf_is_set(conf, CL_CONF_SEGMENT_BYTES), 1);
    assert_int_equal(cl_conf_is_set(conf, CL_CONF_SEGMENT_MS), 0);

    set_shows(conf, "retention.ms", "-1", "-1");
    set_shows(conf, "retention.bytes", "0000123", "123");
    set_ok(conf, "segment.ms", "9223372036854775807");
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_MS) == INT64_MAX);

    /* segment.index.bytes is shown as set, used rounded down to 12s. */
    set_shows(conf, "segment.index.bytes", "4096", "4096");
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_INDEX_BYTES) == 4092);
    set_ok(conf, "segment.index.bytes", "12000");
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_INDEX_BYTES) == 12000);
    set_ok(conf, "segment.index.bytes", "12011");
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_INDEX_BYTES) == 12000);

    /* A successful set clears errstr. */
    char errstr[64] = "old";
    assert_int_equal(crawllog_conf_set(conf, "segment.ms", "5", errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_OK);
    assert_string_equal(errstr, "");
    /* errstr is optional. */
    assert_int_equal(crawllog_conf_set(conf, "segment.ms", "6", NULL, 0),
                     CRAWLLOG_OK);
    assert_int_equal(crawllog_conf_set(conf, "segment.ms", "x", NULL, 0),
                     CRAWLLOG_EINVAL);
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_MS) == 6);
    crawllog_conf_destroy(conf);
}

static void test_conf_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *name, *below, *min, *max, *above;
    } b[] = {
        {"log.buffer.bytes", "-1", "0", "1073741824", "1073741825"},
        {"log.flush.parallelism", "0", "1", "64", "65"},
        {"segment.bytes", "4095", "4096", "2147483647", "2147483648"},
        {"segment.ms", "0", "1", "9223372036854775807",
         "9223372036854775808"},
        {"retention.ms", "-2", "-1", "9223372036854775807",
         "9223372036854775808"},
        {"retention.bytes", "-2", "-1", "9223372036854775807",
         "9223372036854775808"},
        {"index.interval.bytes", "-1", "0", "2147483647", "2147483648"},
        {"segment.index.bytes", "4095", "4096", "2147483647", "2147483648"},
        {"max.message.bytes", "63", "64", "2147483647", "2147483648"},
        /* Modes: 0777 and 0776 are world-writable, so 0775 is the top. */
        {"log.dir.mode", "0677", "0700", "0775", "01000"},
        {"log.file.mode", "0577", "0600", "0775", "01000"},
        {"log.dir.create", "-1", "0", "1", "2"},
    };
    crawllog_conf_t *conf = new_conf();
    for (size_t i = 0; i < ARRAY_LEN(b); i++) {
        set_bad(conf, b[i].name, b[i].below);
        set_ok(conf, b[i].name, b[i].min);
        set_ok(conf, b[i].name, b[i].max);
        set_bad(conf, b[i].name, b[i].above);
    }
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_int_equal(crawllog_conf_set(conf, "segment.bytes", "12", errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    assert_string_equal(errstr, "segment.bytes: 12 is below the minimum 4096");
    assert_int_equal(crawllog_conf_set(conf, "max.message.bytes",
                                       "2147483648", errstr, sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    assert_string_equal(
        errstr, "max.message.bytes: 2147483648 is above the maximum 2147483647");
    assert_int_equal(crawllog_conf_set(conf, "segment.ms",
                                       "-9223372036854775808", errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    assert_string_equal(
        errstr, "segment.ms: -9223372036854775808 is below the minimum 1");
    crawllog_conf_destroy(conf);
}

static void test_conf_modes(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    static const char *const bad_dir[] = {"0777", "0772", "0702", "0707",
                                          "0600", "0", "04700", "02700",
                                          "01700", "0x1c0", "448", "rwx",
                                          "-0700", "0700 ", ""};
    for (size_t i = 0; i < ARRAY_LEN(bad_dir); i++) {
        set_bad(conf, "log.dir.mode", bad_dir[i]);
    }
    static const char *const bad_file[] = {"0666", "0622", "0400", "0200",
                                           "0000", "0500", "04600", "0608",
                                           "0x180", "777777777777777777777"};
    for (size_t i = 0; i < ARRAY_LEN(bad_file); i++) {
        set_bad(conf, "log.file.mode", bad_file[i]);
    }
    static const char *const good_dir[] = {"0700", "700", "0750", "0755",
                                           "0770", "0705", "0711"};
    for (size_t i = 0; i < ARRAY_LEN(good_dir); i++) {
        set_ok(conf, "log.dir.mode", good_dir[i]);
    }
    static const char *const good_file[] = {"0600", "600", "0640", "0644",
                                            "0660", "0664", "0700"};
    for (size_t i = 0; i < ARRAY_LEN(good_file); i++) {
        set_ok(conf, "log.file.mode", good_file[i]);
    }
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_int_equal(crawllog_conf_set(conf, "log.dir.mode", "0777", errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    assert_non_null(strstr(errstr, "world-writable"));
    crawllog_conf_destroy(conf);
}

static void test_conf_malformed_values(void **state)
{
    (void)state;
    static const char *const bad_int[] = {
        "12x", "", " 1", "1 ", "0x10", "99999999999999999999", "+1", "1.5",
        "1e3", "--1", "-", "- 1", "1,000", "1_000", "\t1", "1\n", "one",
        "-99999999999999999999", "18446744073709551616", "\xd9\xa1",
    };
    crawllog_conf_t *conf = new_conf();
    set_ok(conf, "segment.bytes", "8192");
    for (size_t i = 0; i < ARRAY_LEN(bad_int); i++) {
        set_bad(conf, "segment.bytes", bad_int[i]);
        set_bad(conf, "retention.ms", bad_int[i]);
    }
    static const char *const bad_bool[] = {"yes", "no", "TRUE", "False", "",
                                           " true", "true ", "2", "01", "t",
                                           "on"};
    for (size_t i = 0; i < ARRAY_LEN(bad_bool); i++) {
        set_bad(conf, "log.dir.create", bad_bool[i]);
    }
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    crawllog_conf_set(conf, "segment.bytes", "12x", errstr, sizeof(errstr));
    assert_string_equal(errstr,
                        "segment.bytes: \"12x\" is not a decimal integer");
    /* A huge value is quoted only in part. */
    char huge[1000];
    memset(huge, '7', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(crawllog_conf_set(conf, "segment.bytes", huge, errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    assert_true(strlen(errstr) < 200);
    get_is(conf, "segment.bytes", "8192");
    crawllog_conf_destroy(conf);
}

static void test_conf_unknown_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "x", "", "segment.byte", "segment.bytes ", " segment.bytes",
        "SEGMENT.BYTES", "segment_bytes", "segment.bytes=1", "log.dir",
        "log.dirs", "retention", "auto.offset.resets",
    };
    crawllog_conf_t *conf = new_conf();
    char *before = dump(conf);
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char errstr[CRAWLLOG_ERRSTR_SIZE];
        char want[CRAWLLOG_ERRSTR_SIZE];
        assert_int_equal(crawllog_conf_set(conf, names[i], "1", errstr,
                                           sizeof(errstr)),
                         CRAWLLOG_EINVAL);
        snprintf(want, sizeof(want), "no such property \"%s\"", names[i]);
        assert_string_equal(errstr, want);
        char buf[32];
        size_t size = sizeof(buf);
        assert_int_equal(crawllog_conf_get(conf, names[i], buf, &size),
                         CRAWLLOG_EINVAL);
    }
    expect_dump(conf, before);
    crawllog_conf_destroy(conf);
}

static void test_conf_unchanged_after_failed_set(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    set_ok(conf, "segment.bytes", "8192");
    set_ok(conf, "log.file.mode", "0640");
    char *before = dump(conf);
    set_bad(conf, "segment.bytes", "12");
    set_bad(conf, "segment.bytes", "12x");
    set_bad(conf, "log.file.mode", "0666");
    set_bad(conf, "segment.ms", "0");
    set_bad(conf, "retention.bytes", "");
    expect_dump(conf, before);
    assert_int_equal(cl_conf_is_set(conf, CL_CONF_SEGMENT_MS), 0);
    assert_int_equal(cl_conf_is_set(conf, CL_CONF_RETENTION_BYTES), 0);
    assert_int_equal(cl_conf_is_set(conf, CL_CONF_SEGMENT_BYTES), 1);
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_BYTES) == 8192);
    crawllog_conf_destroy(conf);
}

static void test_conf_null_arguments(void **state)
{
    (void)state;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    crawllog_conf_t *conf = new_conf();
    assert_int_equal(crawllog_conf_new(NULL), CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_conf_set(NULL, "segment.ms", "1", errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    assert_true(strlen(errstr) > 0);
    assert_int_equal(crawllog_conf_set(conf, NULL, "1", errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_conf_set(conf, "segment.ms", NULL, errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    /* A tiny errstr is truncated, never overrun. */
    char tiny[8];
    memset(tiny, 'Z', sizeof(tiny));
    assert_int_equal(crawllog_conf_set(conf, "segment.bytes", "1", tiny, 5),
                     CRAWLLOG_EINVAL);
    assert_string_equal(tiny, "segm");
    assert_int_equal(tiny[5], 'Z');

    char *text = (char *)"sentinel";
    assert_int_equal(crawllog_conf_dump(NULL, &text), CRAWLLOG_EINVAL);
    assert_null(text);
    assert_int_equal(crawllog_conf_dump(conf, NULL), CRAWLLOG_EINVAL);
    crawllog_conf_t *dst = conf;
    assert_int_equal(crawllog_conf_dup(&dst, NULL), CRAWLLOG_EINVAL);
    assert_null(dst);
    assert_int_equal(crawllog_conf_dup(NULL, conf), CRAWLLOG_EINVAL);
    size_t size = 8;
    char buf[8];
    assert_int_equal(crawllog_conf_get(NULL, "segment.ms", buf, &size),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_conf_get(conf, NULL, buf, &size),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_conf_get(conf, "segment.ms", buf, NULL),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_conf_get(conf, "segment.ms", NULL, &size),
                     CRAWLLOG_EINVAL);
    crawllog_conf_destroy(conf);
}

static void test_conf_get_buffer_sizes(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    char buf[16];
    /* "604800000" needs 10 bytes. */
    size_t size = 0;
    assert_int_equal(crawllog_conf_get(conf, "segment.ms", NULL, &size),
                     CRAWLLOG_ETOOBIG);
    assert_int_equal(size, 10);
    memset(buf, 'Z', sizeof(buf));
    size = 9;
    assert_int_equal(crawllog_conf_get(conf, "segment.ms", buf, &size),
                     CRAWLLOG_ETOOBIG);
    assert_int_equal(size, 10);
    assert_int_equal(buf[0], 'Z');
    size = 10;
    assert_int_equal(crawllog_conf_get(conf, "segment.ms", buf, &size),
                     CRAWLLOG_OK);
    assert_string_equal(buf, "604800000");
    assert_int_equal(size, 10);
    assert_int_equal(buf[10], 'Z');
    crawllog_conf_destroy(conf);
}

static void test_conf_dup_independent(void **state)
{
    (void)state;
    crawllog_conf_t *a = new_conf();
    set_ok(a, "segment.bytes", "8192");
    crawllog_conf_t *b = NULL;
    assert_int_equal(crawllog_conf_dup(&b, a), CRAWLLOG_OK);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    get_is(b, "segment.bytes", "8192");
    assert_int_equal(cl_conf_is_set(b, CL_CONF_SEGMENT_BYTES), 1);
    set_ok(b, "segment.bytes", "16384");
    set_ok(a, "retention.ms", "5");
    get_is(a, "segment.bytes", "8192");
    get_is(b, "segment.bytes", "16384");
    get_is(b, "retention.ms", "604800000");
    assert_int_equal(cl_conf_is_set(b, CL_CONF_RETENTION_MS), 0);
    crawllog_conf_destroy(a);
    get_is(b, "segment.bytes", "16384");
    crawllog_conf_destroy(b);
}

static void test_conf_dump_contents(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    char *text = dump(conf);
    assert_string_equal(text, default_dump);
    free(text); /* the header says free(): check it is malloc'd */
    set_ok(conf, "log.dir.create", "false");
    set_ok(conf, "log.file.mode", "640");
    set_ok(conf, "retention.bytes", "1000000");
    text = dump(conf);
    assert_string_equal(text, "backend=file\n"
                              "log.dir.create=false\n"
                              "log.dir.mode=0700\n"
                              "log.file.mode=0640\n"
                              "log.buffer.bytes=1048576\n"
                              "log.flush.parallelism=8\n"
                              "segment.bytes=1073741824\n"
                              "segment.ms=604800000\n"
                              "retention.ms=604800000\n"
                              "retention.bytes=1000000\n"
                              "index.interval.bytes=4096\n"
                              "segment.index.bytes=10485760\n"
                              "max.message.bytes=1048588\n"
                              DEFAULT_PRODUCER_TEXT DEFAULT_CONSUMER_TEXT);
    free(text);
    crawllog_conf_destroy(conf);
}

/* ---------------------------------------------------------------------- */
/* Topic confs                                                             */
/* ---------------------------------------------------------------------- */

static void test_conf_merge_precedence(void **state)
{
    (void)state;
    crawllog_conf_t *log = new_conf();
    crawllog_conf_t *topic = new_conf();
    set_ok(log, "segment.bytes", "8192");
    set_ok(log, "retention.ms", "1000");
    set_ok(log, "log.dir.mode", "0750");
    set_ok(topic, "segment.bytes", "16384");
    set_ok(topic, "max.message.bytes", "4096");

    crawllog_conf_t *eff = NULL;
    assert_int_equal(cl_conf_merge_topic(&eff, log, topic), 0);
    assert_non_null(eff);
    assert_true(cl_conf_int(eff, CL_CONF_SEGMENT_BYTES) == 16384);    /* topic */
    assert_true(cl_conf_int(eff, CL_CONF_MAX_MESSAGE_BYTES) == 4096); /* topic */
    assert_true(cl_conf_int(eff, CL_CONF_RETENTION_MS) == 1000);      /* log */
    assert_true(cl_conf_int(eff, CL_CONF_SEGMENT_MS) == 604800000);   /* default */
    assert_true(cl_conf_int(eff, CL_CONF_LOG_DIR_MODE) == 0750);      /* log */
    assert_int_equal(cl_conf_is_set(eff, CL_CONF_SEGMENT_BYTES), 1);
    assert_int_equal(cl_conf_is_set(eff, CL_CONF_RETENTION_MS), 1);
    assert_int_equal(cl_conf_is_set(eff, CL_CONF_SEGMENT_MS), 0);
    /* Inputs are untouched. */
    assert_true(cl_conf_int(log, CL_CONF_SEGMENT_BYTES) == 8192);
    assert_int_equal(cl_conf_is_set(log, CL_CONF_MAX_MESSAGE_BYTES), 0);
    crawllog_conf_destroy(eff);

    /* A LOG-scope key on the topic conf does not leak into the result. */
    set_ok(topic, "log.dir.mode", "0700");
    assert_int_equal(cl_conf_merge_topic(&eff, log, topic), 0);
    assert_true(cl_conf_int(eff, CL_CONF_LOG_DIR_MODE) == 0750);
    crawllog_conf_destroy(eff);

    assert_int_equal(cl_conf_merge_topic(&eff, NULL, topic), 0);
    assert_true(cl_conf_int(eff, CL_CONF_SEGMENT_BYTES) == 16384);
    assert_true(cl_conf_int(eff, CL_CONF_RETENTION_MS) == 604800000);
    assert_true(cl_conf_int(eff, CL_CONF_LOG_DIR_MODE) == 0700);
    crawllog_conf_destroy(eff);

    assert_int_equal(cl_conf_merge_topic(&eff, log, NULL), 0);
    assert_true(cl_conf_int(eff, CL_CONF_SEGMENT_BYTES) == 8192);
    crawllog_conf_destroy(eff);

    assert_int_equal(cl_conf_merge_topic(&eff, NULL, NULL), 0);
    char *text = dump(eff);
    assert_string_equal(text, default_dump);
    free(text);
    crawllog_conf_destroy(eff);
    crawllog_conf_destroy(log);
    crawllog_conf_destroy(topic);
}

static void test_conf_topic_serialize_round_trip(void **state)
{
    (void)state;
    char *text = NULL;
    assert_int_equal(cl_conf_topic_serialize(NULL, &text), 0);
    assert_string_equal(text, default_topic_text);
    free(text);

    crawllog_conf_t *conf = new_conf();
    set_ok(conf, "segment.bytes", "8192");
    set_ok(conf, "retention.bytes", "-1");
    set_ok(conf, "segment.index.bytes", "4097");
    set_ok(conf, "log.dir.mode", "0750"); /* LOG scope: not serialised */
    assert_int_equal(cl_conf_topic_serialize(conf, &text), 0);
    assert_string_equal(text, "segment.bytes=8192\n"
                              "segment.ms=604800000\n"
                              "retention.ms=604800000\n"
                              "retention.bytes=-1\n"
                              "index.interval.bytes=4096\n"
                              "segment.index.bytes=4097\n"
                              "max.message.bytes=1048588\n");

    crawllog_conf_t *back = new_conf();
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_int_equal(
        cl_conf_topic_parse(back, text, strlen(text), errstr, sizeof(errstr)),
        0);
    for (int k = 0; k < CL_CONF__COUNT; k++) {
        if (cl_conf_is_topic((enum cl_conf_key)k)) {
            assert_true(cl_conf_int(back, (enum cl_conf_key)k) ==
                        cl_conf_int(conf, (enum cl_conf_key)k));
            assert_int_equal(cl_conf_is_set(back, (enum cl_conf_key)k), 1);
        } else {
            assert_int_equal(cl_conf_is_set(back, (enum cl_conf_key)k), 0);
        }
    }
    char *again = NULL;
    assert_int_equal(cl_conf_topic_serialize(back, &again), 0);
    assert_string_equal(again, text);
    free(again);
    free(text);
    crawllog_conf_destroy(back);
    crawllog_conf_destroy(conf);
}

static void test_conf_topic_parse_lenient_forms(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    /* Blank lines, no final newline, a subset of properties. */
    static const char text[] = "\nsegment.bytes=8192\n\nretention.ms=-1";
    assert_int_equal(cl_conf_topic_parse(conf, text, strlen(text), errstr,
                                         sizeof(errstr)),
                     0);
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_BYTES) == 8192);
    assert_true(cl_conf_int(conf, CL_CONF_RETENTION_MS) == -1);
    assert_int_equal(cl_conf_is_set(conf, CL_CONF_SEGMENT_MS), 0);
    /* Only len bytes count: the rest of the buffer is not read. */
    static const char cut[] = "segment.ms=77garbage";
    assert_int_equal(cl_conf_topic_parse(conf, cut, 13, errstr,
                                         sizeof(errstr)),
                     0);
    assert_true(cl_conf_int(conf, CL_CONF_SEGMENT_MS) == 77);
    assert_int_equal(cl_conf_topic_parse(conf, "", 0, errstr, sizeof(errstr)),
                     0);
    crawllog_conf_destroy(conf);
}

static void test_conf_topic_parse_rejects_corrupt_lines(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        const char *want_prefix;
    } bad[] = {
        {"segment.bytes=8192\nbogus=1\n", 0, "line 2: no such property"},
        {"segment.bytes=8192\nlog.dir.mode=0700\n", 0,
         "line 2: not a topic property"},
        {"segment.bytes=12\n", 0, "line 1: segment.bytes: 12 is below"},
        {"segment.ms=\n", 0, "line 1: segment.ms: \"\" is not"},
        {"segment.ms=1x\n", 0, "line 1: segment.ms: \"1x\" is not"},
        {"\n\nsegment.ms\n", 0, "line 3: no '='"},
        {"segment.ms=1\nsegment.ms=2\n", 0, "line 2: \"segment.ms\" repeated"},
        {"segment.ms=1\r\n", 0, "line 1: segment.ms:"},
        {" segment.ms=1\n", 0, "line 1: no such property"},
        {"segment.ms =1\n", 0, "line 1: no such property"},
        {"=1\n", 0, "line 1: no such property"},
        {"segment.ms=1\0\n", 14, "line 1: malformed"},
        {"segment.ms=1\nretention.bytes=99999999999999999999\n", 0,
         "line 2: retention.bytes:"},
    };
    crawllog_conf_t *conf = new_conf();
    set_ok(conf, "segment.ms", "5");
    char *before = dump(conf);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        int rc = cl_conf_topic_parse(conf, bad[i].text, len, errstr,
                                     sizeof(errstr));
        if (rc != CRAWLLOG_ECORRUPT ||
            strncmp(errstr, bad[i].want_prefix,
                    strlen(bad[i].want_prefix)) != 0) {
            fail_msg("case %zu: rc %s, message \"%s\", want \"%s...\"", i,
                     crawllog_err_name(rc), errstr, bad[i].want_prefix);
        }
    }
    /* A very long line is rejected without overrunning anything. */
    char *longline = malloc(5000);
    assert_non_null(longline);
    memset(longline, 'a', 4999);
    longline[4999] = '\0';
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_int_equal(cl_conf_topic_parse(conf, longline, 4999, errstr,
                                         sizeof(errstr)),
                     CRAWLLOG_ECORRUPT);
    longline[10] = '=';
    assert_int_equal(cl_conf_topic_parse(conf, longline, 4999, errstr,
                                         sizeof(errstr)),
                     CRAWLLOG_ECORRUPT);
    free(longline);
    expect_dump(conf, before);
    crawllog_conf_destroy(conf);
}

static void test_conf_check_topic_only(void **state)
{
    (void)state;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_int_equal(cl_conf_check_topic_only(NULL, errstr, sizeof(errstr)),
                     0);
    crawllog_conf_t *conf = new_conf();
    assert_int_equal(cl_conf_check_topic_only(conf, errstr, sizeof(errstr)),
                     0);
    set_ok(conf, "segment.bytes", "8192");
    set_ok(conf, "retention.bytes", "10");
    assert_int_equal(cl_conf_check_topic_only(conf, errstr, sizeof(errstr)),
                     0);
    static const char *const log_keys[] = {"log.dir.create", "log.dir.mode",
                                           "log.file.mode",
                                           "log.buffer.bytes"};
    static const char *const values[] = {"true", "0700", "0600", "100"};
    for (size_t i = 0; i < ARRAY_LEN(log_keys); i++) {
        crawllog_conf_t *c = NULL;
        assert_int_equal(crawllog_conf_dup(&c, conf), CRAWLLOG_OK);
        set_ok(c, log_keys[i], values[i]); /* even the default value */
        assert_int_equal(cl_conf_check_topic_only(c, errstr, sizeof(errstr)),
                         CRAWLLOG_EINVAL);
        assert_non_null(strstr(errstr, log_keys[i]));
        assert_int_equal(cl_conf_check_topic_only(c, NULL, 0),
                         CRAWLLOG_EINVAL);
        crawllog_conf_destroy(c);
    }
    crawllog_conf_destroy(conf);
}

/* ---------------------------------------------------------------------- */
/* Documentation and allocation failures                                   */
/* ---------------------------------------------------------------------- */

/* producer.id: a name kept in the conf (copied by dup), "" when unset. */
static void test_conf_name_property(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    assert_string_equal(cl_conf_str(conf, CL_CONF_PRODUCER_ID), "");
    assert_string_equal(cl_conf_str(NULL, CL_CONF_PRODUCER_ID), "");
    set_shows(conf, "producer.id", "crawler-1.eu_west", "crawler-1.eu_west");
    assert_string_equal(cl_conf_str(conf, CL_CONF_PRODUCER_ID),
                        "crawler-1.eu_west");
    char longest[CRAWLLOG_TOPIC_NAME_MAX + 2];
    memset(longest, 'n', CRAWLLOG_TOPIC_NAME_MAX);
    longest[CRAWLLOG_TOPIC_NAME_MAX] = '\0';
    set_ok(conf, "producer.id", longest);
    char buf[CRAWLLOG_TOPIC_NAME_MAX + 1];
    size_t size = sizeof(buf) - 1;
    assert_int_equal(crawllog_conf_get(conf, "producer.id", buf, &size),
                     CRAWLLOG_ETOOBIG);
    assert_int_equal(size, sizeof(buf));
    assert_int_equal(crawllog_conf_get(conf, "producer.id", buf, &size), 0);
    assert_string_equal(buf, longest);
    crawllog_conf_t *copy = NULL;
    assert_int_equal(crawllog_conf_dup(&copy, conf), 0);
    assert_string_equal(cl_conf_str(copy, CL_CONF_PRODUCER_ID), longest);
    crawllog_conf_destroy(copy);
    /* Refused values leave the conf unchanged. */
    longest[CRAWLLOG_TOPIC_NAME_MAX] = 'n';
    longest[CRAWLLOG_TOPIC_NAME_MAX + 1] = '\0';
    const char *bad[] = {longest, "a/b", "..", ".", "sp ace", "\xc3\xa9"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char errstr[CRAWLLOG_ERRSTR_SIZE];
        assert_int_equal(crawllog_conf_set(conf, "producer.id", bad[i], errstr,
                                           sizeof(errstr)),
                         CRAWLLOG_EINVAL);
        assert_non_null(strstr(errstr, "producer.id"));
    }
    assert_int_equal(strlen(cl_conf_str(conf, CL_CONF_PRODUCER_ID)),
                     CRAWLLOG_TOPIC_NAME_MAX);
    set_shows(conf, "producer.id", "", "");
    crawllog_conf_destroy(conf);
}

/* ---------------------------------------------------------------------- */
/* Backend and kafka.* pass-through                                        */
/* ---------------------------------------------------------------------- */

static void test_conf_backend_and_kafka_passthrough(void **state)
{
    (void)state;
    crawllog_conf_t *conf = new_conf();
    assert_true(cl_conf_int(conf, CL_CONF_BACKEND) == CL_CONF_BACKEND_FILE);
    set_shows(conf, "backend", "kafka", "kafka");
    assert_true(cl_conf_int(conf, CL_CONF_BACKEND) == CL_CONF_BACKEND_KAFKA);
    set_bad(conf, "backend", "redis");

    /* Kept verbatim, in the order first set; a second set replaces. */
    assert_int_equal(cl_conf_kafka_count(conf), 0);
    set_shows(conf, "kafka.security.protocol", "SASL_SSL", "SASL_SSL");
    set_shows(conf, "kafka.bootstrap.servers", "a:9092,b:9092",
              "a:9092,b:9092");
    set_shows(conf, "kafka.security.protocol", "SSL", "SSL");
    assert_int_equal(cl_conf_kafka_count(conf), 2);
    const char *name = NULL, *value = NULL;
    cl_conf_kafka_at(conf, 0, &name, &value);
    assert_string_equal(name, "security.protocol");
    assert_string_equal(value, "SSL");
    cl_conf_kafka_at(conf, 1, &name, &value);
    assert_string_equal(name, "bootstrap.servers");
    assert_string_equal(value, "a:9092,b:9092");

    /* Dumped after the table, copied by dup. */
    char *text = dump(conf);
    assert_non_null(strstr(text, "\nkafka.security.protocol=SSL\n"
                                 "kafka.bootstrap.servers=a:9092,b:9092\n"));
    crawllog_conf_t *copy = NULL;
    assert_int_equal(crawllog_conf_dup(&copy, conf), CRAWLLOG_OK);
    expect_dump(copy, text);
    crawllog_conf_destroy(copy);

    /* Refused, naming the property, leaving the conf unchanged. */
    char *before = dump(conf);
    set_bad(conf, "kafka.", "x");
    set_bad(conf, "kafka.Security.Protocol", "x");
    set_bad(conf, "kafka.a b", "x");
    char longname[CL_CONF_KAFKA_NAME_MAX + 8];
    memset(longname, 'a', sizeof(longname) - 1);
    memcpy(longname, "kafka.", 6);
    longname[sizeof(longname) - 1] = '\0';
    set_bad(conf, longname, "x");
    char *longval = malloc(CL_CONF_KAFKA_VALUE_MAX + 2);
    assert_non_null(longval);
    memset(longval, 'v', CL_CONF_KAFKA_VALUE_MAX + 1);
    longval[CL_CONF_KAFKA_VALUE_MAX + 1] = '\0';
    set_bad(conf, "kafka.sasl.password", longval);
    longval[CL_CONF_KAFKA_VALUE_MAX] = '\0'; /* the longest allowed */
    expect_dump(conf, before);
    set_ok(conf, "kafka.sasl.password", longval);
    char *buf = malloc(CL_CONF_KAFKA_VALUE_MAX + 1);
    assert_non_null(buf);
    size_t size = CL_CONF_KAFKA_VALUE_MAX + 1;
    assert_int_equal(crawllog_conf_get(conf, "kafka.sasl.password", buf, &size),
                     CRAWLLOG_OK);
    assert_string_equal(buf, longval);
    size = 4;
    assert_int_equal(crawllog_conf_get(conf, "kafka.sasl.password", buf, &size),
                     CRAWLLOG_ETOOBIG);
    assert_int_equal(size, CL_CONF_KAFKA_VALUE_MAX + 1);
    assert_int_equal(crawllog_conf_get(conf, "kafka.not.set", buf, &size),
                     CRAWLLOG_EINVAL);
    free(buf);
    free(longval);

    /* At most CL_CONF_KAFKA_MAX of them. */
    for (size_t i = cl_conf_kafka_count(conf); i < CL_CONF_KAFKA_MAX; i++) {
        char n[32];
        snprintf(n, sizeof(n), "kafka.p%zu", i);
        set_ok(conf, n, "1");
    }
    set_bad(conf, "kafka.one.too.many", "1");
    set_ok(conf, "kafka.p5", "2"); /* replacing one is fine */
    assert_int_equal(cl_conf_kafka_count(conf), CL_CONF_KAFKA_MAX);
    crawllog_conf_destroy(conf);
}

static void test_conf_markdown(void **state)
{
    (void)state;
    char *md = NULL;
    assert_int_equal(cl_conf_markdown(&md), 0);
    assert_non_null(md);
    assert_memory_equal(md, "# ", 2);
    assert_non_null(strstr(md, "make docs"));
    size_t rows = 0;
    for (const char *p = md; (p = strstr(p, "\n| `")) != NULL; p++) {
        rows++;
    }
    assert_int_equal(rows, ARRAY_LEN(expected));
    for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
        char cell[64];
        snprintf(cell, sizeof(cell), "| `%s` |", expected[i].name);
        assert_non_null(strstr(md, cell));
    }
    assert_non_null(strstr(md, "| `segment.bytes` | int64 | `1073741824` | "
                               "4096 .. 2147483647 | topic |"));
    assert_non_null(strstr(md, "| `log.dir.create` | bool | `true` |"));
    assert_non_null(strstr(md, "| `log.file.mode` | mode | `0600` |"));
    assert_non_null(strstr(md, "| `retention.bytes` | int64 | `-1` | -1 .. "
                               "9223372036854775807 | topic |"));
    assert_int_equal(md[strlen(md) - 1], '\n');
    free(md);
}

static void test_conf_allocation_failures(void **state)
{
    (void)state;
    crawllog_conf_t *conf = NULL;
    assert_int_equal(cl_fp_set("malloc=ENOMEM"), 0);
    assert_int_equal(crawllog_conf_new(&conf), CRAWLLOG_ENOMEM);
    assert_null(conf);
    cl_fp_clear();

    conf = new_conf();
    int failed = 0, succeeded = 0;
    for (int k = 1; k <= 20; k++) {
        char spec[32];
        snprintf(spec, sizeof(spec), "malloc=ENOMEM@%d", k);
        assert_int_equal(cl_fp_set(spec), 0);
        char *md = (char *)"sentinel";
        int rc = cl_conf_markdown(&md);
        if (rc == 0) {
            assert_non_null(md);
            free(md);
            succeeded++;
        } else {
            assert_int_equal(rc, CRAWLLOG_ENOMEM);
            assert_null(md);
            failed++;
        }
        char *text = (char *)"sentinel";
        rc = crawllog_conf_dump(conf, &text);
        assert_true(rc == 0 || (rc == CRAWLLOG_ENOMEM && text == NULL));
        free(rc == 0 ? text : NULL);
        crawllog_conf_t *eff = conf;
        rc = cl_conf_merge_topic(&eff, conf, conf);
        assert_true(rc == 0 || (rc == CRAWLLOG_ENOMEM && eff == NULL));
        crawllog_conf_destroy(rc == 0 ? eff : NULL);
        cl_fp_clear();
    }
    assert_true(failed >= 1);
    assert_true(succeeded >= 1);
    crawllog_conf_destroy(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_defaults),
        cmocka_unit_test(test_conf_set_get_round_trip),
        cmocka_unit_test(test_conf_bounds),
        cmocka_unit_test(test_conf_modes),
        cmocka_unit_test(test_conf_malformed_values),
        cmocka_unit_test(test_conf_unknown_names),
        cmocka_unit_test(test_conf_unchanged_after_failed_set),
        cmocka_unit_test(test_conf_null_arguments),
        cmocka_unit_test(test_conf_get_buffer_sizes),
        cmocka_unit_test(test_conf_dup_independent),
        cmocka_unit_test(test_conf_dump_contents),
        cmocka_unit_test(test_conf_merge_precedence),
        cmocka_unit_test(test_conf_topic_serialize_round_trip),
        cmocka_unit_test(test_conf_topic_parse_lenient_forms),
        cmocka_unit_test(test_conf_topic_parse_rejects_corrupt_lines),
        cmocka_unit_test(test_conf_check_topic_only),
        cmocka_unit_test(test_conf_name_property),
        cmocka_unit_test(test_conf_backend_and_kafka_passthrough),
        cmocka_unit_test(test_conf_markdown),
        cmocka_unit_test(test_conf_allocation_failures),
    };
    return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
