/*
 * test_cli_migrate.c - tests of the crawllog tool's topic-migration
 * commands: `topics migrate` (the plan of --dry-run, the migration and its
 * summary, quiet stderr when piped), `topics migration` (text and --json:
 * state, cut and start offsets, pending consumer groups) and `topic
 * delete` refusing a topic being migrated unless --force.
 *
 * Runs the built binary through cli_harness.h.  Expected numbers are
 * computed here from the inputs (and the library's murmur2 partitioner),
 * never taken from the tool.
 */
#include "cli_harness.h"

/* Records per new partition when orders' keyless records (10 in orders/0,
 * 4 in orders/1, see make_orders) go to p % n. */
static void expected_plan(int32_t n, int64_t *per_new)
{
    memset(per_new, 0, sizeof(*per_new) * (size_t)n);
    per_new[0 % n] += 10;
    per_new[1 % n] += 4;
}

static void test_cli_migrate_dry_run(void **state)
{
    struct run r;
    int64_t per_new[3];
    char line[128];
    make_orders(state);
    CLI(state, &r, NULL, "topics", "migrate", "orders", "orders2",
        "--partitions", "3", "--dry-run");
    assert_exit(&r, 0);
    assert_contains(r.out, "plan: migrate topic orders (2 partitions) to "
                           "orders2 (3 partitions)\n");
    assert_contains(r.out, "  orders/0: 10 records -> 0:10\n");
    assert_contains(r.out, "  orders/1: 4 records -> 1:4\n");
    expected_plan(3, per_new);
    for (int q = 0; q < 3; q++) {
        snprintf(line, sizeof(line), "  orders2/%d: %lld records\n", q,
                 (long long)per_new[q]);
        assert_contains(r.out, line);
    }
    assert_contains(r.out, "total: 14 records to copy");
    assert_string_equal(r.err, "");
    run_free(&r);
    /* Nothing changed: no topic orders2, no migration. */
    CLI_OUT(state, NULL, "orders\n", "topic", "list");
    CLI_OUT(state, NULL, "topic orders: no migration\n", "topics",
            "migration", "orders");
}

/* A group that committed on orders keeps the migration pending: status,
 * JSON, delete refused, --force. */
static void test_cli_migrate_pending_group(void **state)
{
    struct run r;
    make_orders(state);
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "billing", "orders", 0, 3);
    assert_crawllog_ok(crawllog_close(log));

    CLI(state, &r, NULL, "topics", "migrate", "orders", "orders2",
        "--partitions", "3");
    assert_exit(&r, 0);
    assert_contains(r.out, "migrated topic orders to orders2 (3 partitions): "
                           "14 records copied");
    assert_contains(r.out, "consumer groups still reading orders: billing\n");
    assert_string_equal(r.err, ""); /* piped: no progress bar */
    run_free(&r);

    CLI(state, &r, NULL, "topics", "migration", "orders");
    assert_exit(&r, 0);
    assert_contains(r.out, "topic orders: migration to orders2 (3 "
                           "partitions), state redirect, 14 records copied\n");
    assert_contains(r.out, "cut orders/0 10\n");
    assert_contains(r.out, "cut orders/1 4\n");
    assert_contains(r.out, "start orders2/0 ");
    assert_contains(r.out, "consumer groups still reading orders: billing\n");
    run_free(&r);

    CLI(state, &r, NULL, "topics", "migration", "orders", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "\"state\":\"redirect\"");
    assert_contains(r.out, "\"target\":\"orders2\"");
    assert_contains(r.out, "\"cut\":[10,4]");
    assert_contains(r.out, "\"pending_groups\":[\"billing\"]");
    run_free(&r);

    CLI_FAILS_WITH(state, NULL, 5, "is being migrated to orders2", "topic", "delete",
              "orders");
    CLI_OK(state, NULL, "topic", "list"); /* still there */
    CLI_OUT(state, NULL, "orders\norders2\n", "topic", "list");
    CLI_OUT(state, NULL, "deleted topic orders\n", "topic", "delete",
            "orders", "--force");
    CLI_OUT(state, NULL, "orders2\n", "topic", "list");
}

/* Without groups the migration is done at once and orders deletable. */
static void test_cli_migrate_done(void **state)
{
    struct run r;
    make_orders(state);
    CLI(state, &r, NULL, "topics", "migrate", "orders", "orders1",
        "--partitions", "1");
    assert_exit(&r, 0);
    assert_contains(r.out,
                    "every consumer group has switched: orders can be "
                    "deleted\n");
    run_free(&r);
    CLI(state, &r, NULL, "topics", "migration", "orders", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_contains(r.out, "\"state\":\"done\"");
    assert_contains(r.out, "\"pending_groups\":[]");
    run_free(&r);
    /* Appends to orders now land in orders1. */
    CLI_OK(state, "late\n", "produce", "orders", "1");
    CLI(state, &r, NULL, "offsets", "orders1");
    assert_exit(&r, 0);
    assert_string_equal(r.out, "0 0 15\n");
    run_free(&r);
    CLI_OUT(state, NULL, "deleted topic orders\n", "topic", "delete",
            "orders");
}

static void test_cli_migrate_usage(void **state)
{
    struct run r;
    make_orders(state);
    CLI_EXPECT(state, NULL, 2, NULL, "topics migrate needs OLD NEW", "topics",
               "migrate", "orders");
    CLI_EXPECT(state, NULL, 2, NULL, "bad --partitions", "topics", "migrate",
               "orders", "o2", "--partitions", "0");
    CLI_EXPECT(state, NULL, 2, NULL, "topics migration needs OLD", "topics",
               "migration");
    CLI_EXPECT(state, NULL, 2, NULL, "bad argument", "topics", "migration",
               "orders", "--frob");
    CLI_EXPECT(state, NULL, 2, NULL, "bad topics option", "topic", "delete",
               "orders", "--frce");
    CLI_FAILS_WITH(state, NULL, 3, "CRAWLLOG_ENOTOPIC", "topics", "migration",
              "nosuch");
    CLI_FAILS_WITH(state, NULL, 2, "CRAWLLOG_EINVAL", "topics", "migrate", "orders",
              "orders", "--partitions", "2");
    CLI(state, &r, NULL, "topics", "migration", "--help");
    assert_exit(&r, 0);
    assert_contains(r.out, "usage: crawllog [-d DIR] topics migration OLD");
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_cli_migrate_dry_run),
        cl_test_unit_tmpdir(test_cli_migrate_pending_group),
        cl_test_unit_tmpdir(test_cli_migrate_done),
        cl_test_unit_tmpdir(test_cli_migrate_usage),
    };
    return cmocka_run_group_tests_name("cli_migrate", tests, group_setup,
                                       NULL);
}
