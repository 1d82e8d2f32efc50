/*
 * test_cli_admin.c - tests of the crawllog tool's operator commands that
 * change or inspect a data directory at a low level: `groups delete`,
 * `groups reset-offsets` (Kafka's semantics: a plan unless --execute,
 * offsets kept within the log, refused while the group has members),
 * `dump` (batch headers, CRCs, producer ids; exit 4 on a damaged batch),
 * `stats` and `retention run`; and the progress line of long commands: on
 * a terminal (a pseudo-terminal here) and never when piped.
 *
 * Runs the built binary through cli_harness.h.  Expected values are
 * computed here from the inputs and the files, never copied from the
 * tool's output.
 */
/* posix_openpt / grantpt / unlockpt / ptsname: a terminal for the progress
 * line test. */
#define _XOPEN_SOURCE 700
#include "cli_harness.h"

#include <sys/stat.h>

/* The committed offset of group on topic/p as `groups describe --json`
 * shows it ("current_offset"), -1 if none or no such row. */
static int64_t committed_via_cli(void **state, const char *group,
                                 const char *topic, int p)
{
    struct run r;
    char key[256];
    long long v = -1;
    CLI(state, &r, NULL, "groups", "describe", group, "--json");
    if (r.status != 0) {
        run_free(&r);
        return -1;
    }
    snprintf(key, sizeof(key),
             "{\"topic\":\"%s\",\"partition\":%d,\"current_offset\":", topic,
             p);
    const char *at = strstr(r.out, key);
    if (at != NULL && sscanf(at + strlen(key), "%lld", &v) != 1) {
        v = -1;
    }
    run_free(&r);
    return at ? (int64_t)v : -1;
}

static void test_reset_offsets(void **state)
{
    struct run r;
    make_orders(state); /* orders/0: 10 records, orders/1: 4 */
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "g", "orders", 0, 7);
    assert_crawllog_ok(crawllog_close(log));

    /* A plan by default: printed, nothing changed. */
    CLI(state, &r, NULL, "groups", "reset-offsets", "g", "--topic", "orders",
        "--to-earliest");
    assert_exit(&r, 0);
    assert_contains(r.out, "GROUP           TOPIC           PARTITION  "
                           "NEW-OFFSET\n");
    assert_contains(r.out, "g               orders          0          0\n");
    assert_contains(r.out, "g               orders          1          0\n");
    assert_contains(r.err, "dry run");
    run_free(&r);
    assert_int_equal(committed_via_cli(state, "g", "orders", 0), 7);

    /* --shift-by from the committed offset, kept within the log. */
    CLI(state, &r, NULL, "groups", "reset-offsets", "g", "--topic",
        "orders:0", "--shift-by", "-3", "--execute", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "\"current_offset\":7,\"new_offset\":4}");
    run_free(&r);
    assert_int_equal(committed_via_cli(state, "g", "orders", 0), 4);
    CLI_OK(state, NULL, "groups", "reset-offsets", "g", "--topic", "orders:0",
           "--shift-by", "100", "--execute");
    assert_int_equal(committed_via_cli(state, "g", "orders", 0), 10);
    CLI_OK(state, NULL, "groups", "reset-offsets", "g", "--topic",
           "orders:0,1", "--to-offset", "2", "--execute");
    assert_int_equal(committed_via_cli(state, "g", "orders", 0), 2);
    assert_int_equal(committed_via_cli(state, "g", "orders", 1), 2);
    /* --to-latest over the topics the group has offsets for. */
    CLI_OK(state, NULL, "groups", "reset-offsets", "g", "--all-topics",
           "--to-latest", "--execute");
    assert_int_equal(committed_via_cli(state, "g", "orders", 0), 10);
    assert_int_equal(committed_via_cli(state, "g", "orders", 1), 4);
    /* --to-time: the records' timestamps are "now" at produce time; a time
     * before them all gives the log start, one in the future the end. */
    CLI_OK(state, NULL, "groups", "reset-offsets", "g", "--topic", "orders",
           "--to-time", "2001-01-01T00:00Z", "--execute");
    assert_int_equal(committed_via_cli(state, "g", "orders", 0), 0);
    CLI_OK(state, NULL, "groups", "reset-offsets", "g", "--topic", "orders",
           "--to-time", "2999-01-01T00:00:00+02:00", "--execute");
    assert_int_equal(committed_via_cli(state, "g", "orders", 1), 4);

    /* A member makes it refuse (exit 5), naming the group. */
    log = cl_test_open(data_dir(state), NULL);
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", NULL);
    crawllog_consumer_t *c = NULL;
    char err[256];
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    crawllog_conf_destroy(conf);
    const char *topics[1] = {"orders"};
    assert_crawllog_ok(crawllog_consumer_subscribe(c, topics, 1));
    CLI_FAILS_WITH(state, NULL, 5, "CRAWLLOG_EBUSY", "groups", "reset-offsets",
                   "g", "--topic", "orders", "--to-earliest", "--execute");
    CLI_FAILS_WITH(state, NULL, 5, "CRAWLLOG_EBUSY", "groups", "delete", "g");
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_close(log));

    /* Usage and lookups. */
    CLI_EXPECT(state, NULL, 2, "", "needs --to-earliest", "groups",
               "reset-offsets", "g", "--topic", "orders");
    CLI_EXPECT(state, NULL, 2, "", "needs --topic", "groups",
               "reset-offsets", "g", "--to-latest");
    CLI_EXPECT(state, NULL, 2, "", "bad value for --to-time", "groups",
               "reset-offsets", "g", "--topic", "orders", "--to-time",
               "yesterday");
    CLI_EXPECT(state, NULL, 2, "", "one --to-", "groups", "reset-offsets", "g",
               "--topic", "orders", "--to-latest", "--to-earliest");
    CLI_FAILS_WITH(state, NULL, 3, "has no partition 9", "groups",
                   "reset-offsets", "g", "--topic", "orders:9",
                   "--to-latest");
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_ENOTOPIC", "groups",
                   "reset-offsets", "g", "--topic", "nope", "--to-latest");
}

static void test_groups_delete(void **state)
{
    make_orders(state);
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "old-group", "orders", 1, 2);
    assert_crawllog_ok(crawllog_close(log));
    CLI_OUT(state, NULL, "old-group\n", "groups", "list");
    CLI_OUT(state, NULL,
            "Deletion of requested consumer groups ('old-group') was "
            "successful.\n",
            "groups", "delete", "old-group");
    CLI_OUT(state, NULL, "", "groups", "list");
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_ENOENT", "groups", "delete",
                   "old-group");
    CLI_EXPECT(state, NULL, 2, "", "groups delete needs GROUP", "groups",
               "delete");
    CLI_OUT(state, NULL, "verify: ok\n", "verify");
}

/* Everything dump prints for orders/0, checked against the batches as
 * the public inspection API reports them. */
struct expect {
    char text[8192];
};

static int expect_batch(void *opaque, const crawllog_batch_info_t *b)
{
    struct expect *e = opaque;
    size_t len = strlen(e->text);
    snprintf(e->text + len, sizeof(e->text) - len,
             "partition: 0 segment: %lld position: %llu baseOffset: %lld "
             "lastOffset: %lld count: %d producerId: %lld producerEpoch: %d "
             "baseSequence: %d isTransactional: false isControl: false "
             "CreateTime: %lld maxTimestamp: %lld size: %u magic: 2 "
             "compresscodec: none crc: 0x%08x isvalid: true\n",
             (long long)b->segment_base, (unsigned long long)b->position,
             (long long)b->base_offset, (long long)b->last_offset,
             (int)b->record_count, (long long)b->producer_id,
             (int)b->producer_epoch, (int)b->base_sequence,
             (long long)b->first_timestamp, (long long)b->max_timestamp,
             (unsigned)b->size, (unsigned)b->crc);
    return 0;
}

static void test_dump(void **state)
{
    struct run r;
    struct expect e;
    e.text[0] = '\0';
    make_orders(state);
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    assert_crawllog_ok(
        crawllog_partition_batches(log, "orders", 0, 0, expect_batch, &e));
    assert_crawllog_ok(crawllog_close(log));
    assert_true(strlen(e.text) > 0);
    CLI(state, &r, NULL, "dump", "orders", "0");
    assert_exit(&r, 0);
    assert_string_equal(r.out, e.text);
    assert_contains(r.err, "dump: ");
    assert_contains(r.err, " records");
    run_free(&r);
    CLI(state, &r, NULL, "dump", "orders", "--json");
    assert_exit(&r, 0);
    for (char *line = r.out; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        assert_json(line);
        line = nl + 1;
    }
    run_free(&r);
    CLI_FAILS_WITH(state, NULL, 3, "has no partition 7", "dump", "orders",
                   "7");
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_ENOTOPIC", "dump", "nope");
    CLI_EXPECT(state, NULL, 2, "", "dump needs TOPIC", "dump");

    /* A flipped byte inside a sealed segment's first batch (crawllog_open
     * only checks the active segment's tail): isvalid false, the walk goes
     * on to the later batches, exit 4. */
    char seg[4300], big[1601];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    CLI_OK(state, NULL, "topics", "create", "small", "1", "-c",
           "segment.bytes=4096");
    for (int i = 0; i < 6; i++) {
        CLI_OK(state, big, "produce", "small", "0");
    }
    cl_test_path(seg, sizeof(seg), data_dir(state),
                 "topics/small/0/00000000000000000000.log");
    cl_test_flip_byte(seg, 64 + 61 + 2, 0x40);
    CLI(state, &r, NULL, "dump", "small", "0");
    assert_exit(&r, 4);
    assert_contains(r.out, "baseOffset: 0 ");
    assert_contains(r.out, "isvalid: false\n");
    assert_contains(r.out, "baseOffset: 5 ");
    assert_contains(r.err, "6 batches, 6 records, damaged batches found");
    run_free(&r);
}

static void test_stats_and_retention(void **state)
{
    struct run r;
    char want[256];
    make_orders(state);
    create_topic(state, "empty", "3");
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "g", "orders", 0, 4);
    uint64_t bytes = 0;
    int64_t segs = 0;
    for (int32_t p = 0; p < 2; p++) {
        crawllog_segment_info_t *si = NULL;
        size_t n = 0;
        assert_crawllog_ok(
            crawllog_partition_segments(log, "orders", p, &si, &n));
        for (size_t i = 0; i < n; i++) {
            bytes += si[i].log_bytes + si[i].index_bytes +
                     si[i].timeindex_bytes;
        }
        segs += (int64_t)n;
        free(si);
    }
    assert_crawllog_ok(crawllog_close(log));
    CLI(state, &r, NULL, "stats");
    assert_exit(&r, 0);
    snprintf(want, sizeof(want),
             "topic orders: partitions 2 records 14 segments %lld bytes "
             "%llu\n",
             (long long)segs, (unsigned long long)bytes);
    assert_contains(r.out, want);
    assert_contains(r.out, "topic empty: partitions 3 records 0 segments 3 "
                           "bytes 192\n");
    /* g committed 4 of orders/0's 10: lag 6. */
    assert_contains(r.out, "groups: 1, summed lag 6\n");
    run_free(&r);
    CLI(state, &r, NULL, "stats", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "\"group_lag\":6}");
    run_free(&r);
    CLI_OUT(state, NULL, "retention: deleted 0 segments\n", "retention",
            "run");
    CLI_EXPECT(state, NULL, 2, "", "retention run takes no arguments",
               "retention", "now");
}

/* Run "crawllog -d DATA args..." with stderr on a pseudo-terminal and
 * stdout to /dev/null; return what the terminal got (malloc'd). */
static char *run_on_tty(void **state, const char *const *args, int *statusp)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
    assert_true(sl >= 0);
    const char *argv[16] = {cli_path(), "-d", data_dir(state)};
    size_t n = 3;
    for (size_t i = 0; args[i] != NULL && n < 15; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sl, 2);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, cli_path(), &fa, NULL,
                                 (char *const *)argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    close(sl);
    char *out = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        char buf[4096];
        ssize_t got = read(m, buf, sizeof(buf));
        if (got <= 0) { /* EIO once the child closed the terminal */
            break;
        }
        if (len + (size_t)got + 1 > cap) {
            cap = 2 * (len + (size_t)got + 1);
            out = realloc(out, cap);
            assert_non_null(out);
        }
        memcpy(out + len, buf, (size_t)got);
        len += (size_t)got;
    }
    close(m);
    assert_int_equal(waitpid(pid, statusp, 0), pid);
    if (out == NULL) {
        out = calloc(1, 1);
    } else {
        out[len] = '\0';
    }
    return out;
}

static void test_progress_only_on_a_terminal(void **state)
{
    struct run r;
    int status = 0;
    make_orders(state);
    static const char *const verify[] = {"verify", NULL};
    char *tty = run_on_tty(state, verify, &status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(tty, "\rverify: "));
    assert_non_null(strstr(tty, " segments/s"));
    free(tty);
    static const char *const dump[] = {"dump", "orders", NULL};
    tty = run_on_tty(state, dump, &status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(tty, "\rdump: "));
    assert_non_null(strstr(tty, "ETA "));
    free(tty);
    /* Piped: nothing but the results. */
    CLI(state, &r, NULL, "verify");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "");
    run_free(&r);
    CLI(state, &r, NULL, "dump", "orders");
    assert_exit(&r, 0);
    assert_null(strstr(r.err, "\r"));
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_reset_offsets),
        cl_test_unit_tmpdir(test_groups_delete),
        cl_test_unit_tmpdir(test_dump),
        cl_test_unit_tmpdir(test_stats_and_retention),
        cl_test_unit_tmpdir(test_progress_only_on_a_terminal),
    };
    return cmocka_run_group_tests_name("cli_admin", tests, group_setup, NULL);
}
