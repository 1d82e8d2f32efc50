/*
 * test_cli_mirror.c - tests of the crawllog tool's `mirror` command, file
 * backend to file backend: every record's key (null and empty keys),
 * value (null values), headers (several, duplicate names, null values, in
 * order) and timestamp arrive, partition p into p in order (compared
 * record by record with crawllog_reader); the destination topic is
 * created with the source's partition count, one with fewer partitions is
 * refused (exit 5, nothing copied, nothing committed), one with more is
 * fine; progress is the source group's committed offset (a second run
 * copies only what was appended since; --group, --as); a mirror killed
 * with SIGKILL mid-way and run again leaves every record at least once,
 * in order, with at most one chunk of duplicates; --follow copies appends
 * made while it runs and exits 0 on SIGTERM; usage errors exit 2.
 *
 * Runs the built binary through cli_harness.h (CRAWLLOG_CLI).  Expected
 * records are what this program appended, never what the tool printed.
 */
#include "cli_harness.h"

#define TS_BASE 1600000000000LL

static char dst_path[4200];

static const char *dst_dir(void **state)
{
    return cl_test_path(dst_path, sizeof(dst_path), CL_TEST_DIR(state), "dst");
}

/* Append n records g = from .. from+n-1 to partition p: null keys (g % 5
 * == 0), empty keys (1), keys "k<p>-<g>"; null values (g % 7 == 3), else
 * "v<p>:<g>" with a NUL and a 0xff byte; 0, 1 or 3 headers (a duplicate
 * name, a null value); timestamps TS_BASE + g * 1000 + p; batches of 7. */
static void fill(crawllog_t *log, const char *topic, int32_t p, int from,
                 int n)
{
    crawllog_record_t recs[7];
    crawllog_header_t hdrs[7][3];
    char keys[7][32], vals[7][32], hv[7][32];
    for (int done = 0; done < n;) {
        int k = n - done < 7 ? n - done : 7;
        for (int i = 0; i < k; i++) {
            int g = from + done + i;
            crawllog_record_t *r = &recs[i];
            memset(r, 0, sizeof(*r));
            snprintf(keys[i], sizeof(keys[i]), "k%d-%d", (int)p, g);
            r->key = g % 5 == 0 ? NULL : keys[i];
            r->key_len = g % 5 <= 1 ? 0 : strlen(keys[i]);
            int vl = snprintf(vals[i], sizeof(vals[i]), "v%d:%d", (int)p, g);
            vals[i][vl + 1] = '\0';
            vals[i][vl + 2] = (char)0xff;
            r->value = g % 7 == 3 ? NULL : vals[i];
            r->value_len = g % 7 == 3 ? 0 : (size_t)vl + 3;
            r->timestamp = TS_BASE + (int64_t)g * 1000 + p;
            snprintf(hv[i], sizeof(hv[i]), "x%d", g);
            hdrs[i][0] = (crawllog_header_t){"trace", 5, hv[i], strlen(hv[i])};
            hdrs[i][1] = (crawllog_header_t){"nullv", 5, NULL, 0};
            hdrs[i][2] = (crawllog_header_t){"trace", 5, "y", 1};
            r->headers = g % 3 == 0 ? NULL : hdrs[i];
            r->header_count = g % 3 == 0 ? 0 : g % 3 == 1 ? 1 : 3;
        }
        assert_crawllog_ok_log(log, crawllog_append(log, topic, p, recs,
                                                    (size_t)k,
                                                    CRAWLLOG_SYNC_WRITTEN,
                                                    NULL));
        done += k;
    }
}

static int bytes_equal(const void *a, size_t al, const void *b, size_t bl)
{
    return (a == NULL) == (b == NULL) && al == bl &&
           (al == 0 || memcmp(a, b, al) == 0);
}

/* The two messages are the same record (offsets aside). */
static void check_same(const crawllog_msg_t *a, const crawllog_msg_t *b,
                       int32_t p)
{
    size_t al, bl;
    int64_t off = crawllog_msg_offset(a);
    const void *ak = crawllog_msg_key(a, &al), *bk = crawllog_msg_key(b, &bl);
    cl_test_checkf(bytes_equal(ak, al, bk, bl),
                   "partition %d offset %lld: keys differ", (int)p,
                   (long long)off);
    ak = crawllog_msg_value(a, &al);
    bk = crawllog_msg_value(b, &bl);
    cl_test_checkf(bytes_equal(ak, al, bk, bl),
                   "partition %d offset %lld: values differ", (int)p,
                   (long long)off);
    cl_test_checkf(crawllog_msg_timestamp(a) == crawllog_msg_timestamp(b),
                   "partition %d offset %lld: timestamp %lld, copy %lld",
                   (int)p, (long long)off,
                   (long long)crawllog_msg_timestamp(a),
                   (long long)crawllog_msg_timestamp(b));
    size_t n = crawllog_msg_header_count(a);
    cl_test_checkf(n == crawllog_msg_header_count(b),
                   "partition %d offset %lld: %zu headers, copy %zu", (int)p,
                   (long long)off, n, crawllog_msg_header_count(b));
    for (size_t i = 0; i < n; i++) {
        crawllog_header_t ha, hb;
        assert_crawllog_ok(crawllog_msg_header(a, i, &ha));
        assert_crawllog_ok(crawllog_msg_header(b, i, &hb));
        cl_test_checkf(bytes_equal(ha.name, ha.name_len, hb.name,
                                   hb.name_len) &&
                           bytes_equal(ha.value, ha.value_len, hb.value,
                                       hb.value_len),
                       "partition %d offset %lld: header %zu differs", (int)p,
                       (long long)off, i);
    }
}

/* Partitions 0..parts-1 of name in dst hold exactly the records of topic
 * in src, in order; returns the number of records. */
static int64_t compare_exact(const char *src, const char *topic,
                             const char *dst, const char *name, int32_t parts)
{
    crawllog_t *a = cl_test_open(src, NULL), *b = cl_test_open(dst, NULL);
    int64_t total = 0;
    for (int32_t p = 0; p < parts; p++) {
        crawllog_reader_t *ra = NULL, *rb = NULL;
        assert_crawllog_ok(crawllog_reader_new(&ra, a, topic, p));
        assert_crawllog_ok(crawllog_reader_new(&rb, b, name, p));
        for (int64_t i = 0;; i++) {
            const crawllog_msg_t *ma = NULL, *mb = NULL;
            assert_crawllog_ok(crawllog_reader_next(ra, &ma));
            assert_crawllog_ok(crawllog_reader_next(rb, &mb));
            cl_test_checkf((ma == NULL) == (mb == NULL),
                           "partition %d: source has %s records than the "
                           "copy (record %lld)",
                           (int)p, ma ? "more" : "fewer", (long long)i);
            if (ma == NULL) {
                break;
            }
            check_same(ma, mb, p);
            total++;
        }
        crawllog_reader_destroy(ra);
        crawllog_reader_destroy(rb);
    }
    assert_crawllog_ok(crawllog_close(a));
    assert_crawllog_ok(crawllog_close(b));
    return total;
}

/* The committed offset of group on topic/p in the log at dir. */
static int64_t committed(const char *dir, const char *group,
                         const char *topic, int32_t p)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_conf_t *conf = cl_test_conf("group.id", group, NULL);
    crawllog_consumer_t *c = NULL;
    char err[256];
    int64_t off = -2;
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    assert_crawllog_ok(crawllog_consumer_committed(c, topic, p, &off));
    crawllog_consumer_destroy(c);
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(crawllog_close(log));
    return off;
}

/* Source "t" of 3 partitions: 23, 0 and 9 records. */
static void make_source(void **state)
{
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    cl_test_create_topic(log, "t", 3, NULL);
    fill(log, "t", 0, 0, 23);
    fill(log, "t", 2, 100, 9);
    assert_crawllog_ok(crawllog_close(log));
}

static void expect_summary(const struct run *r, const char *topic, long n,
                           int parts, const char *to, const char *as)
{
    char want[4400];
    snprintf(want, sizeof(want), "mirror %s: %ld records, %d partitions, to %s%s%s\n",
             topic, n, parts, to, as ? " as " : "", as ? as : "");
    if (strcmp(r->out, want) != 0) {
        cl_test_failf_at(__FILE__, __LINE__, "stdout \"%s\", expected \"%s\"",
                         r->out, want);
    }
}

static void test_mirror_copies_records(void **state)
{
    struct run r;
    int32_t n = 0;
    make_source(state);
    CLI(state, &r, NULL, "mirror", "t", "--to", dst_dir(state));
    assert_exit(&r, 0);
    expect_summary(&r, "t", 32, 3, dst_dir(state), NULL);
    assert_string_equal(r.err, "");
    run_free(&r);
    assert_int_equal(compare_exact(data_dir(state), "t", dst_dir(state), "t", 3),
                     32);
    crawllog_t *dst = cl_test_open(dst_dir(state), NULL);
    assert_crawllog_ok(crawllog_topic_describe(dst, "t", &n, NULL));
    assert_int_equal(n, 3);
    assert_crawllog_ok(crawllog_close(dst));
    /* Progress is the default group's committed offsets. */
    assert_int_equal(committed(data_dir(state), "crawllog-mirror.t", "t", 0), 23);
    assert_int_equal(committed(data_dir(state), "crawllog-mirror.t", "t", 2), 9);
}

static void test_mirror_resumes(void **state)
{
    struct run r;
    make_source(state);
    CLI_OK(state, NULL, "mirror", "t", "--to", dst_dir(state), "--chunk", "5");
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    fill(log, "t", 1, 200, 4);
    fill(log, "t", 2, 109, 6);
    assert_crawllog_ok(crawllog_close(log));
    CLI(state, &r, NULL, "mirror", "t", "--to", dst_dir(state), "--progress");
    assert_exit(&r, 0);
    assert_contains(r.out, "mirror t: 10 records, 3 partitions, to ");
    assert_contains(r.out, "  t/0: 0 records, offset 23 -> 23\n");
    assert_contains(r.out, "  t/1: 4 records, offset 0 -> 4\n");
    assert_contains(r.out, "  t/2: 6 records, offset 9 -> 15\n");
    assert_contains(r.err, "mirror t: 10 records copied, committed\n");
    run_free(&r);
    assert_int_equal(compare_exact(data_dir(state), "t", dst_dir(state), "t", 3),
                     42);
    CLI(state, &r, NULL, "mirror", "t", "--to", dst_dir(state));
    assert_exit(&r, 0);
    expect_summary(&r, "t", 0, 3, dst_dir(state), NULL);
    run_free(&r);
}

static void test_mirror_partition_counts(void **state)
{
    struct run r;
    make_source(state);
    crawllog_t *dst = cl_test_open(dst_dir(state), NULL);
    cl_test_create_topic(dst, "t", 2, NULL);
    cl_test_create_topic(dst, "t4", 4, NULL);
    assert_crawllog_ok(crawllog_close(dst));
    CLI(state, &r, NULL, "mirror", "t", "--to", dst_dir(state));
    assert_exit(&r, 5);
    assert_contains(r.err, "crawllog: mirror t: CRAWLLOG_EEXIST: destination ");
    assert_contains(r.err, "topic t has 2 partitions, fewer than the 3 of the "
                           "source topic");
    assert_string_equal(r.out, "");
    run_free(&r);
    dst = cl_test_open(dst_dir(state), NULL);
    for (int32_t p = 0; p < 2; p++) {
        int64_t start = -1, end = -1;
        assert_crawllog_ok(crawllog_partition_offsets(dst, "t", p, &start, &end));
        assert_int_equal(end, 0);
    }
    assert_crawllog_ok(crawllog_close(dst));
    assert_int_equal(committed(data_dir(state), "crawllog-mirror.t", "t", 0), -1);
    /* More partitions are fine: 3 stays empty. */
    CLI(state, &r, NULL, "mirror", "t", "--to", dst_dir(state), "--as", "t4");
    assert_exit(&r, 0);
    expect_summary(&r, "t", 32, 3, dst_dir(state), "t4");
    run_free(&r);
    assert_int_equal(compare_exact(data_dir(state), "t", dst_dir(state), "t4", 3),
                     32);
    dst = cl_test_open(dst_dir(state), NULL);
    int64_t start = -1, end = -1;
    assert_crawllog_ok(crawllog_partition_offsets(dst, "t4", 3, &start, &end));
    assert_int_equal(end, 0);
    assert_crawllog_ok(crawllog_close(dst));
}

/* --as names the copy and the default group; --group replaces it. */
static void test_mirror_as_and_group(void **state)
{
    struct run r;
    make_source(state);
    CLI(state, &r, NULL, "mirror", "t", "--to", data_dir(state), "--as", "copy",
        "--group", "g1");
    assert_exit(&r, 0);
    expect_summary(&r, "t", 32, 3, data_dir(state), "copy");
    run_free(&r);
    assert_int_equal(compare_exact(data_dir(state), "t", data_dir(state),
                                   "copy", 3),
                     32);
    assert_int_equal(committed(data_dir(state), "g1", "t", 0), 23);
    assert_int_equal(committed(data_dir(state), "crawllog-mirror.copy", "t", 0),
                     -1);
    CLI(state, &r, NULL, "mirror", "t", "--to", data_dir(state), "--as", "copy",
        "--group", "g1");
    assert_exit(&r, 0);
    assert_contains(r.out, "mirror t: 0 records");
    run_free(&r);
    /* Another group starts over: everything once more (to another topic). */
    CLI(state, &r, NULL, "mirror", "t", "--to", dst_dir(state), "--as", "copy");
    assert_exit(&r, 0);
    assert_contains(r.out, "mirror t: 32 records");
    run_free(&r);
    assert_int_equal(committed(data_dir(state), "crawllog-mirror.copy", "t", 2),
                     9);
}

static void test_mirror_usage(void **state)
{
    struct run r;
    make_source(state);
    const char *d = dst_dir(state);
    CLI_FAILS_WITH(state, NULL, 2, "mirror needs TOPIC --to LOCATION", "mirror");
    CLI_FAILS_WITH(state, NULL, 2, "mirror needs TOPIC --to LOCATION", "mirror", "t");
    CLI_FAILS_WITH(state, NULL, 2, "bad mirror option '--to'", "mirror", "t", "--to");
    CLI_FAILS_WITH(state, NULL, 2, "bad --chunk '0'", "mirror", "t", "--to", d,
                   "--chunk", "0");
    CLI_FAILS_WITH(state, NULL, 2, "bad mirror option '--frob'", "mirror", "t",
                   "--to", d, "--frob", "1");
    CLI_FAILS_WITH(state, NULL, 2, "unexpected argument 'u'", "mirror", "t", "u",
                   "--to", d);
    CLI_FAILS_WITH(state, NULL, 2, "mirror t onto itself", "mirror", "t", "--to",
                   data_dir(state));
    CLI_FAILS_WITH(state, NULL, 2, "CRAWLLOG_EINVAL", "mirror", "t", "--to", d,
                   "--to-X", "no.such.prop=1");
    CLI_FAILS_WITH(state, NULL, 3, "crawllog: mirror nosuch: CRAWLLOG_ENOTOPIC",
                   "mirror", "nosuch", "--to", d);
    CLI(state, &r, NULL, "mirror", "--help");
    assert_exit(&r, 0);
    assert_contains(r.out, "usage: crawllog [-d SRC] mirror TOPIC --to LOCATION");
    assert_contains(r.out, "at-least-once");
    run_free(&r);
    assert_int_equal(cl_test_exists(d), 0); /* nothing created */
}

/* ---------------------------------------------------------------------- */
/* Running the tool in the background                                      */
/* ---------------------------------------------------------------------- */

/* Read fd until its text contains needle (10 s at most). */
static void wait_text(int fd, const char *needle)
{
    char *buf = calloc(1, 1);
    size_t len = 0;
    int64_t deadline = cl_test_mono_ms() + 10000;
    while (strstr(buf, needle) == NULL) {
        struct pollfd pf = {fd, POLLIN, 0};
        cl_test_checkf(cl_test_mono_ms() < deadline,
                       "no \"%s\" within 10 s; got \"%s\"", needle, buf);
        if (poll(&pf, 1, 100) > 0) {
            cl_test_checkf(drain(fd, &buf, &len), "EOF before \"%s\": \"%s\"",
                           needle, buf);
        }
    }
    free(buf);
}

static int wait_exit(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        cl_test_check(errno == EINTR);
    }
    return status;
}

/* Records in partitions 0..parts-1 of topic at dir. */
static int64_t count_records(const char *dir, const char *topic, int32_t parts)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    int64_t total = 0;
    for (int32_t p = 0; p < parts; p++) {
        int64_t start, end;
        int rc = crawllog_partition_offsets(log, topic, p, &start, &end);
        if (rc == CRAWLLOG_ENOTOPIC) {
            break;
        }
        assert_crawllog_ok(rc);
        total += end - start;
    }
    assert_crawllog_ok(crawllog_close(log));
    return total;
}

#define BIG_PER_PART 20000
#define BIG_CHUNK 10

/* Partition p of the copy is partition p of the source (values "v<p>:<g>",
 * g = 0, 1, ...) with rewinds: every record at least once, in order, and
 * at most BIG_CHUNK duplicates in all.  Returns the duplicates. */
static int64_t check_at_least_once(const char *dst, int32_t parts)
{
    crawllog_t *log = cl_test_open(dst, NULL);
    int64_t dups = 0;
    for (int32_t p = 0; p < parts; p++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m = NULL;
        int next = 0; /* the g expected next */
        assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", p));
        while (crawllog_reader_next(rd, &m) == CRAWLLOG_OK && m != NULL) {
            size_t vl;
            const char *v = crawllog_msg_value(m, &vl);
            int pp = -1, g = -1;
            cl_test_check(v != NULL && sscanf(v, "v%d:%d", &pp, &g) == 2);
            cl_test_checkf(pp == p && g <= next,
                           "partition %d: record %d after %d (a gap or "
                           "reorder)", (int)p, g, next - 1);
            dups += next - g;
            next = g + 1;
        }
        crawllog_reader_destroy(rd);
        cl_test_checkf(next == BIG_PER_PART, "partition %d ends at %d of %d",
                       (int)p, next, BIG_PER_PART);
    }
    assert_crawllog_ok(crawllog_close(log));
    cl_test_checkf(dups <= BIG_CHUNK, "%lld duplicates, more than a chunk",
                   (long long)dups);
    return dups;
}

/* SIGKILL mid-way, run again: every record at least once, in order, at
 * most one chunk twice.  The killed run cannot have finished: with
 * --progress it writes a line per chunk of 10 records to a stderr pipe
 * nobody reads after the first line, so it blocks after ~1500 chunks. */
static void test_mirror_killed_resumes(void **state)
{
    char chunk[16];
    int out, err;
    uint64_t seed = cl_test_seed();
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    cl_test_create_topic(log, "t", 2, NULL);
    for (int32_t p = 0; p < 2; p++) {
        crawllog_record_t recs[500];
        char vals[500][32];
        for (int g = 0; g < BIG_PER_PART; g += 500) {
            for (int i = 0; i < 500; i++) {
                int vl = snprintf(vals[i], sizeof(vals[i]), "v%d:%d", (int)p,
                                  g + i);
                recs[i] = (crawllog_record_t){NULL, 0, vals[i], (size_t)vl + 1,
                                              TS_BASE + g + i, NULL, 0};
            }
            assert_crawllog_ok(crawllog_append(log, "t", p, recs, 500,
                                               CRAWLLOG_SYNC_WRITTEN, NULL));
        }
    }
    assert_crawllog_ok(crawllog_close(log));
    snprintf(chunk, sizeof(chunk), "%d", BIG_CHUNK);
    const char *args[] = {"-d", data_dir(state), "mirror", "t", "--to",
                          dst_dir(state), "--chunk", chunk, "--progress",
                          NULL};
    pid_t pid = cli_spawn(NULL, args, &out, &err);
    wait_text(err, "committed\n");
    cl_test_sleep_ms((long)cl_test_rand_below(&seed, 30));
    assert_int_equal(kill(pid, SIGKILL), 0);
    cl_test_assert_killed_by(wait_exit(pid), SIGKILL);
    close(out);
    close(err);
    int64_t copied = count_records(dst_dir(state), "t", 2);
    print_message("killed after %lld of %d records\n", (long long)copied,
                  2 * BIG_PER_PART);
    assert_true(copied > 0 && copied < 2 * BIG_PER_PART);

    struct run r;
    CLI(state, &r, NULL, "mirror", "t", "--to", dst_dir(state), "--chunk", chunk);
    assert_exit(&r, 0);
    run_free(&r);
    print_message("duplicates: %lld\n",
                  (long long)check_at_least_once(dst_dir(state), 2));
}

/* Wait until partitions 0..parts-1 of topic at dir hold want records. */
static void wait_count(const char *dir, const char *topic, int32_t parts,
                       int64_t want)
{
    int64_t deadline = cl_test_mono_ms() + 20000, n = 0;
    while ((n = count_records(dir, topic, parts)) < want) {
        cl_test_checkf(cl_test_mono_ms() < deadline,
                       "%lld records of %lld after 20 s", (long long)n,
                       (long long)want);
        cl_test_sleep_ms(20);
    }
    assert_int_equal(n, want);
}

static void test_mirror_follow(void **state)
{
    int out, err;
    make_source(state);
    const char *args[] = {"-d", data_dir(state), "mirror", "t", "--to",
                          dst_dir(state), "--follow", NULL};
    pid_t pid = cli_spawn(NULL, args, &out, &err);
    wait_count(dst_dir(state), "t", 3, 32);
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    fill(log, "t", 1, 300, 5);
    fill(log, "t", 0, 23, 3);
    assert_crawllog_ok(crawllog_close(log));
    wait_count(dst_dir(state), "t", 3, 40);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = wait_exit(pid);
    struct run r = {0, calloc(1, 1), 0, calloc(1, 1)};
    size_t elen = 0;
    while (drain(out, &r.out, &r.out_len)) {
    }
    while (drain(err, &r.err, &elen)) {
    }
    close(out);
    close(err);
    cl_test_checkf(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                   "status %d, stderr \"%s\"", status, r.err);
    expect_summary(&r, "t", 40, 3, dst_dir(state), NULL);
    run_free(&r);
    assert_int_equal(compare_exact(data_dir(state), "t", dst_dir(state), "t", 3),
                     40);
    assert_int_equal(committed(data_dir(state), "crawllog-mirror.t", "t", 1), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_mirror_copies_records),
        cl_test_unit_tmpdir(test_mirror_resumes),
        cl_test_unit_tmpdir(test_mirror_partition_counts),
        cl_test_unit_tmpdir(test_mirror_as_and_group),
        cl_test_unit_tmpdir(test_mirror_usage),
        cmocka_unit_test_setup_teardown(test_mirror_killed_resumes,
                                        cl_test_fast_tmpdir_setup,
                                        cl_test_tmpdir_teardown),
        cl_test_unit_tmpdir(test_mirror_follow),
    };
    return cmocka_run_group_tests_name("cli_mirror", tests, group_setup, NULL);
}
