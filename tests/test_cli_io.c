/*
 * test_cli_io.c - tests of the crawllog tool's data commands: `produce`
 * (murmur2 partitions of keys, round robin of keyless lines, --partition,
 * headers, acks, --file, errors naming the topic or line), `consume` and
 * `tail` (every output format and kcat token, start positions by offset,
 * ms and ISO 8601 time, --max, every partition, group members and their
 * commits, following until --max or SIGTERM, a closed output pipe) and
 * `grep` (key, text and hex matches, JSON, grep's exit statuses).
 *
 * Runs the built binary through cli_harness.h; followers run in the
 * background (their pid is kept so that the group teardown can stop one
 * if a test fails halfway).  Records with known timestamps are appended
 * through the library; every expected output is computed here from the
 * inputs (partitions with crawllog_partitioner_murmur2), never taken from
 * the tool.  Output is piped, so stderr must hold no progress line.
 */
#include "cli_harness.h"

#define EXIT_NOTFOUND 3 /* CLI_EXIT_NOTFOUND: no such topic, offset... */

/* The background command, if one runs. */
static pid_t bg_pid = -1;

struct bg {
    pid_t pid;
    int out, err, reaped, status;
};

/* Start "crawllog -d <data> ARGS..." with stdin /dev/null and stdout and
 * stderr piped. */
static void bg_start_at(void **state, struct bg *b, const char *const *args)
{
    const char *pre[] = {"-d", data_dir(state), NULL};
    memset(b, 0, sizeof(*b));
    b->pid = cli_spawn(pre, args, &b->out, &b->err);
    bg_pid = b->pid;
}

#define BG_START(state, b, ...)                                                \
    bg_start_at((state), (b), (const char *const[]){__VA_ARGS__, NULL})

/* 1 once the background command has exited (reaped, status kept). */
static int bg_exited(struct bg *b)
{
    if (!b->reaped && waitpid(b->pid, &b->status, WNOHANG) == b->pid) {
        b->reaped = 1;
        bg_pid = -1;
    }
    return b->reaped;
}

/* Collect its stdout (unless closed: b->out < 0) and stderr to their end,
 * then its exit status (128 + N if killed by signal N), into r. */
static void bg_wait(struct bg *b, struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->out = calloc(1, 1);
    r->err = calloc(1, 1);
    if (b->out < 0) {
        b->out = open("/dev/null", O_RDONLY); /* at its end at once */
    }
    pump(-1, NULL, b->out, b->err, r);
    close(b->out);
    close(b->err);
    while (!b->reaped && waitpid(b->pid, &b->status, 0) < 0) {
        cl_test_check(errno == EINTR);
    }
    bg_pid = -1;
    r->status = WIFEXITED(b->status) ? WEXITSTATUS(b->status)
                                     : 128 + WTERMSIG(b->status);
}

static int io_teardown(void **state)
{
    (void)state;
    if (bg_pid > 0) {
        kill(bg_pid, SIGKILL);
        waitpid(bg_pid, NULL, 0);
        bg_pid = -1;
    }
    return 0;
}

/* Append one record (key / value NULL: null) with a timestamp. */
static void put(crawllog_t *log, const char *topic, int32_t p, const char *key,
                const char *value, size_t vlen, int64_t ts,
                const crawllog_header_t *h, size_t nh)
{
    crawllog_record_t rec = {key, key ? strlen(key) : 0, value, vlen, ts, h,
                             nh};

    assert_crawllog_ok(
        crawllog_append(log, topic, p, &rec, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
}

/* Runs must exit 2 with the usage on stderr and nothing on stdout. */
static void expect_usage(void **state, const char *const (*cases)[8], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *args[12] = {"-d", data_dir(state)};
        struct run r;
        size_t j;

        for (j = 0; cases[i][j] != NULL; j++) {
            args[2 + j] = cases[i][j];
        }
        args[2 + j] = NULL;
        cli_run(&r, "x\n", NULL, args);
        if (r.status != 2 || strstr(r.err, "usage: crawllog") == NULL ||
            r.out[0] != '\0') {
            cl_test_failf_at(__FILE__, __LINE__,
                             "case %zu (%s %s): exit %d\n%s", i, cases[i][0],
                             cases[i][1] ? cases[i][1] : "", r.status, r.err);
        }
        run_free(&r);
    }
}

/* stderr must be exactly one line containing part. */
#define assert_one_line(err, part)                                             \
    do {                                                                       \
        assert_contains((err), (part));                                        \
        assert_ptr_equal(strchr((err), '\n'), (err) + strlen(err) - 1);        \
    } while (0)

/* ---------------------------------------------------------------------- */
/* produce                                                                 */
/* ---------------------------------------------------------------------- */

/* Keyed lines land on murmur2(key) % 4, in their order within a partition;
 * a line without the separator has a null key. */
static void test_produce_keys(void **state)
{
    char in[2048] = "", want[4][1024] = {"", "", "", ""}, line[64];
    struct run r;

    create_topic(state, "t", "4");
    for (int i = 0; i < 40; i++) {
        char key[16];
        int32_t p;

        snprintf(key, sizeof(key), "key-%d", i * 7);
        p = crawllog_partitioner_murmur2("t", key, strlen(key), 4, NULL);
        snprintf(line, sizeof(line), "%s=v%d\n", key, i);
        strcat(in, line);
        snprintf(line, sizeof(line), "%s %d v%d\n", key, (int)strlen(key), i);
        strcat(want[p], line);
    }
    CLI_EXPECT(state, in, 0, "", NULL, "produce", "t", "--key-sep", "=");
    CLI(state, &r, in, "produce", "t", "--key-sep", "=");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "produced 40 records to t\n"); /* no progress */
    run_free(&r);
    for (int p = 0; p < 4; p++) {
        char part[16], twice[2048];

        snprintf(part, sizeof(part), "%d", p);
        snprintf(twice, sizeof(twice), "%s%s", want[p], want[p]);
        CLI_OUT(state, NULL, twice, "consume", "t", part, "--format",
                "%k %K %v");
    }
    create_topic(state, "n", "1");
    CLI_OK(state, "no separator\nempty=\n=empty key\n", "produce", "n",
           "--key-sep", "=");
    CLI_OUT(state, NULL, "-1||no separator\n5|empty|\n0||empty key\n",
            "consume", "n", "--format", "%K|%k|%v");
}

/* Keyless lines go round robin from some partition; --partition and the
 * positional PARTITION put every line in one partition, and the summary
 * then gives the offsets. */
static void test_produce_round_robin(void **state)
{
    char in[256] = "", line[32];
    int32_t first = -1;
    struct run r;
    char *save = NULL, *l;
    int i = 0;

    create_topic(state, "t", "3");
    for (i = 0; i < 9; i++) {
        snprintf(line, sizeof(line), "line%d\n", i);
        strcat(in, line);
    }
    CLI_EXPECT(state, in, 0, "", "produced 9 records to t\n", "produce", "t");
    CLI(state, &r, NULL, "consume", "t", "--format", "%v %p");
    assert_exit(&r, 0);
    i = 0;
    for (l = strtok_r(r.out, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save), i++) {
        int n = -1, p = -1;

        assert_int_equal(sscanf(l, "line%d %d", &n, &p), 2);
        first = n == 0 ? (int32_t)p : first;
    }
    assert_int_equal(i, 9);
    run_free(&r);
    assert_true(first >= 0);
    for (i = 0; i < 3; i++) {
        char part[16], want[64];

        snprintf(part, sizeof(part), "%d", (int)((first + i) % 3));
        snprintf(want, sizeof(want), "line%d\nline%d\nline%d\n", i, i + 3,
                 i + 6);
        CLI_OUT(state, NULL, want, "consume", "t", part, "--format", "raw");
    }
    CLI_EXPECT(state, "a\nb\n", 0, "", "produced 2 records, offsets 3..4\n",
               "produce", "t", "--partition", "2");
    CLI_EXPECT(state, "c\n", 0, "", "produced 1 records, offsets 5..5\n",
               "produce", "t", "2", "--acks", "0");
    CLI_OUT(state, NULL, "a\nb\nc\n", "consume", "t", "2", "--offset", "3",
            "--format", "raw");
    CLI_EXPECT(state, "", 0, "", "produced 0 records to t\n", "produce", "t");
    /* Each run starts at a random partition: 12 one-line runs do not all
     * land on one partition (chance 3 * 3^-12 if they are random). */
    create_topic(state, "r", "3");
    for (i = 0; i < 12; i++) {
        CLI_OK(state, "one\n", "produce", "r");
    }
    CLI(state, &r, NULL, "consume", "r", "--format", "%p");
    assert_int_equal(strlen(r.out), 12 * 2);
    assert_true(strchr(r.out, r.out[0] == '0' ? '1' : '0') != NULL ||
                strchr(r.out, '2') != NULL);
    run_free(&r);
}

/* --header on every record (seen by %h and JSON), --acks all, --file, a
 * tab as --key-sep, long input cut into batches. */
static void test_produce_headers_file(void **state)
{
    char path[4300], want[256];
    struct run r;
    char *save = NULL, *l;
    int n = 0;

    create_topic(state, "t", "1");
    snprintf(path, sizeof(path), "%s/in.txt", CL_TEST_DIR(state));
    cl_test_write_file(path, "k1\tv1\nk2\tv2", 11);
    CLI_EXPECT(state, NULL, 0, "", "produced 2 records, offsets 0..1\n",
               "produce", "t", "0", "--file", path, "--key-sep", "\\t",
               "--header", "trace=abc", "--header", "empty=", "--acks", "all");
    CLI_OUT(state, NULL, "k1 v1 trace=abc,empty=\nk2 v2 trace=abc,empty=\n",
            "consume", "t", "--format", "%k %v %h");
    CLI(state, &r, NULL, "consume", "t", "0", "--format", "json");
    assert_exit(&r, 0);
    for (l = strtok_r(r.out, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save), n++) {
        assert_json(l);
        snprintf(want, sizeof(want), "\"offset\":%d,\"timestamp\":", n);
        assert_contains(l, want);
        snprintf(want, sizeof(want),
                 "\"key\":\"k%d\",\"value\":\"v%d\",\"headers\":[{\"name\":"
                 "\"trace\",\"value\":\"abc\"},{\"name\":\"empty\",\"value\":"
                 "\"\"}]}",
                 n + 1, n + 1);
        assert_contains(l, want);
    }
    assert_int_equal(n, 2);
    run_free(&r);
    /* 2500 lines in batches of 7 (--batch): all there, in order. */
    {
        char *in = malloc(2500 * 8 + 1), *exp = malloc(2500 * 8 + 1);

        assert_non_null(in);
        assert_non_null(exp);
        in[0] = '\0';
        for (int i = 0; i < 2500; i++) {
            sprintf(in + strlen(in), "%d\n", i);
        }
        strcpy(exp, in);
        CLI_EXPECT(state, in, 0, "", "produced 2500 records, offsets 2..2501\n",
                   "produce", "t", "0", "--batch", "7", "--sync", "durable");
        CLI_OUT(state, NULL, exp, "consume", "t", "0", "--offset", "2",
                "--format", "%v");
        free(in);
        free(exp);
    }
}

static void test_produce_errors(void **state)
{
    static const char *const bad[][8] = {
        {"produce", NULL},
        {"produce", "--acks", "1", NULL},
        {"produce", "t", "x", NULL},
        {"produce", "t", "--acks", "2", NULL},
        {"produce", "t", "--acks", "durable", NULL},
        {"produce", "t", "--sync", "all", NULL},
        {"produce", "t", "--header", "novalue", NULL},
        {"produce", "t", "--header", "=v", NULL},
        {"produce", "t", "--partition", "-1", NULL},
        {"produce", "t", "--key-sep", "ab", NULL},
        {"produce", "t", "--batch", "0", NULL},
        {"produce", "t", "--file", NULL},
        {"produce", "t", "--bogus", "1", NULL},
    };
    char path[4300], in[4200];
    struct run r;

    expect_usage(state, bad, sizeof(bad) / sizeof(bad[0]));
    CLI(state, &r, NULL, "produce", "--help");
    assert_exit(&r, 0);
    assert_contains(r.out, "usage: crawllog [-d DIR] produce TOPIC");
    assert_string_equal(r.err, "");
    run_free(&r);
    CLI(state, &r, "x\n", "produce", "nope");
    assert_exit(&r, EXIT_NOTFOUND);
    assert_one_line(r.err, "crawllog: produce nope: CRAWLLOG_ENOTOPIC");
    run_free(&r);
    CLI_OK(state, NULL, "topic", "create", "t", "2", "-c",
           "max.message.bytes=2048");
    CLI(state, &r, "x\n", "produce", "t", "2");
    assert_exit(&r, EXIT_NOTFOUND);
    assert_one_line(r.err, "crawllog: produce t/2: CRAWLLOG_ENOTOPIC");
    run_free(&r);
    snprintf(path, sizeof(path), "%s/missing", CL_TEST_DIR(state));
    CLI(state, &r, NULL, "produce", "t", "--file", path);
    assert_exit(&r, EXIT_NOTFOUND);
    assert_one_line(r.err, path);
    run_free(&r);
    /* Line 3 is larger than max.message.bytes: named, nothing of it. */
    snprintf(in, sizeof(in), "one\ntwo\n%03000d\nfour\n", 0);
    CLI(state, &r, in, "produce", "t", "1");
    assert_exit(&r, 1);
    assert_one_line(r.err, "crawllog: produce t/1 line 3: CRAWLLOG_ETOOBIG");
    assert_contains(r.err, "2 records produced before");
    run_free(&r);
    CLI_OUT(state, NULL, "one\ntwo\n", "consume", "t", "1", "--format", "raw");
}

/* ---------------------------------------------------------------------- */
/* consume                                                                 */
/* ---------------------------------------------------------------------- */

#define T0 1795000000000LL /* record timestamps: T0 + 1000 * i */

/* Topic "f", 2 partitions: f/0 = {k\tey: "v 0" [h=1, n(null)], null key:
 * "" , "x%y": null}, f/1 = {"b": "p1"}. */
static crawllog_t *formats_setup(void **state)
{
    crawllog_header_t h[2] = {{"h", 1, "1", 1}, {"n", 1, NULL, 0}};
    crawllog_t *log = cl_test_open(data_dir(state), NULL);

    cl_test_create_topic(log, "f", 2, NULL);
    put(log, "f", 0, "k\tey", "v 0", 3, T0, h, 2);
    put(log, "f", 0, NULL, "", 0, T0 + 1000, NULL, 0);
    put(log, "f", 0, "x%y", NULL, 0, T0 + 2000, NULL, 0);
    put(log, "f", 1, "b", "p1", 2, T0 + 3000, NULL, 0);
    return log;
}

static void test_consume_formats(void **state)
{
    crawllog_t *log = formats_setup(state);
    char want[1024];
    struct run r;
    char *save = NULL, *l;
    int n = 0;

    snprintf(
        want, sizeof(want),
        "0\t%lld\tk\\x09ey\tv 0\n1\t%lld\t(null)\t\n2\t%lld\tx%%y\t(null)\n",
        T0, T0 + 1000, T0 + 2000);
    CLI_OUT(state, NULL, want, "consume", "f", "0");
    CLI_OUT(state, NULL, want, "consume", "f", "--partition", "0", "--format",
            "text");
    snprintf(want, sizeof(want), "0\t%lld\tb\tp1\n", T0 + 3000);
    CLI_OUT(state, NULL, want, "consume", "f", "--offset", "0", "--max", "4",
            "--format", "text", "--partition", "1");
    CLI_OUT(state, NULL, "v 0\n\n\n", "consume", "f", "0", "--format", "raw");
    /* Every kcat token; raw bytes; a newline added unless FMT ends in one. */
    snprintf(want, sizeof(want),
             "f|0|0|k\tey|v 0|v 0|4|3|h=1,n|%lld|%%\\\n"
             "f|0|1||||-1|0||%lld|%%\\\n"
             "f|0|2|x%%y|||3|-1||%lld|%%\\\n",
             T0, T0 + 1000, T0 + 2000);
    CLI_OUT(state, NULL, want, "consume", "f", "0", "--format",
            "%t|%p|%o|%k|%v|%s|%K|%S|%h|%T|%%\\\\");
    CLI_OUT(state, NULL, "0\t\n1\t\n2\t\n", "consume", "f", "0", "--format",
            "%o\\t");
    CLI_OUT(state, NULL, "[v 0]\r\n", "consume", "f", "0", "--max", "1",
            "--format", "[%v]\\r\\n");
    /* Every partition: PARTITION first in text, each partition in order. */
    CLI(state, &r, NULL, "consume", "f");
    assert_exit(&r, 0);
    snprintf(want, sizeof(want),
             "0\t0\t%lld\tk\\x09ey\tv 0\n0\t1\t%lld\t(null)\t\n"
             "0\t2\t%lld\tx%%y\t(null)\n",
             T0, T0 + 1000, T0 + 2000);
    assert_contains(r.out, want);
    n = (int)strlen(want);
    snprintf(want, sizeof(want), "1\t0\t%lld\tb\tp1\n", T0 + 3000);
    assert_contains(r.out, want);
    assert_int_equal(strlen(r.out), (size_t)n + strlen(want));
    n = 0;
    run_free(&r);
    CLI(state, &r, NULL, "consume", "f", "--format", "json");
    assert_exit(&r, 0);
    assert_string_equal(r.err, "");
    for (l = strtok_r(r.out, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save), n++) {
        assert_json(l);
    }
    assert_int_equal(n, 4);
    run_free(&r);
    snprintf(want, sizeof(want),
             "{\"topic\":\"f\",\"partition\":0,\"offset\":0,\"timestamp\":%lld,"
             "\"key\":\"k\\u0009ey\",\"value\":\"v 0\",\"headers\":[{\"name\":"
             "\"h\",\"value\":\"1\"},{\"name\":\"n\",\"value\":null}]}\n"
             "{\"topic\":\"f\",\"partition\":0,\"offset\":1,\"timestamp\":%lld,"
             "\"key\":null,\"value\":\"\",\"headers\":[]}\n"
             "{\"topic\":\"f\",\"partition\":0,\"offset\":2,\"timestamp\":%lld,"
             "\"key\":\"x%%y\",\"value\":null,\"headers\":[]}\n",
             T0, T0 + 1000, T0 + 2000);
    CLI_OUT(state, NULL, want, "consume", "f", "0", "--format", "json");
    cl_test_close_verify(log, data_dir(state));
}

/* The ms of a local time (what an ISO time without a zone means). */
static int64_t local_ms(int y, int mo, int d, int h, int mi)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}

/* --offset / --from / --from-beginning / --from-time (ms, ISO 8601 in UTC,
 * with an offset, in local time, with ms), --max; errors. */
static void test_consume_start(void **state)
{
    /* 2026-11-24T10:00:00.250Z, computed: days from 1970 to 2026-11-24 */
    const int64_t days = 56 * 365 + 14 /* leap days 1972..2024 */ +
                         (31 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31) + 23;
    const int64_t utc = (days * 86400 + 10 * 3600) * 1000 + 250;
    /* A day later in local time: after utc in every time zone. */
    const int64_t loc = local_ms(2026, 11, 25, 10, 0);
    static const char *const bad[][8] = {
        {"consume", "t", "0", "--from-time", "2026-13-01T10:00", NULL},
        {"consume", "t", "0", "--from-time", "2026-02-29T10:00", NULL},
        {"consume", "t", "0", "--from-time", "2026-11-24T10", NULL},
        {"consume", "t", "0", "--from-time", "2026-11-24T24:00", NULL},
        {"consume", "t", "0", "--from-time", "2026-11-24T10:00:00.Z", NULL},
        {"consume", "t", "0", "--from-time", "2026-11-24T10:00+1", NULL},
        {"consume", "t", "0", "--from-time", "yesterday", NULL},
        {"consume", "t", "0", "--offset", "1", "--from-beginning", NULL},
        {"consume", "t", "--from-time", "1", "--offset", "1", NULL},
        {"consume", "t", "0", "--format", "nope", NULL},
        {"consume", "t", "0", "--format", "%x", NULL},
        {"consume", "t", "0", "--format", "%v\\q", NULL},
        {"consume", "t", "0", "--group", "g", NULL},
        {"consume", NULL},
        {"tail", "t", "--max", "x", NULL},
        {"tail", "t", "1", "2", NULL},
    };
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    const int64_t ts[6] = {utc - 1, utc, utc + 1, loc - 1, loc, loc + 60000};
    char in[64];
    struct run r;

    cl_test_create_topic(log, "t", 2, NULL);
    for (int i = 0; i < 6; i++) {
        snprintf(in, sizeof(in), "r%d", i);
        put(log, "t", 0, NULL, in, strlen(in), ts[i], NULL, 0);
    }
    put(log, "t", 1, NULL, "q0", 2, 1, NULL, 0);
    put(log, "t", 1, NULL, "q1", 2, 2, NULL, 0);
    CLI_OUT(state, NULL, "r3\nr4\n", "consume", "t", "0", "--offset", "3",
            "--max", "2", "--format", "%v");
    CLI_OUT(state, NULL, "r5\n", "consume", "t", "0", "--from", "5", "--format",
            "%v");
    CLI_OUT(state, NULL, "r0\n", "consume", "t", "0", "--from-beginning",
            "--max", "1", "--format", "%v");
    snprintf(in, sizeof(in), "%lld", (long long)utc);
    CLI_OUT(state, NULL, "r1\n", "consume", "t", "0", "--from-time", in,
            "--max", "1", "--format", "%v");
    CLI_OUT(state, NULL, "r1\n", "consume", "t", "0", "--from-time",
            "2026-11-24T10:00:00.250Z", "--max", "1", "--format", "%v");
    CLI_OUT(state, NULL, "r1\n", "consume", "t", "0", "--from-time",
            "2026-11-24T12:30:00.25+02:30", "--max", "1", "--format", "%v");
    CLI_OUT(state, NULL, "r2\n", "consume", "t", "0", "--from-time",
            "2026-11-24 09:00:00.251-0100", "--max", "1", "--format", "%v");
    CLI_OUT(state, NULL, "r4\n", "consume", "t", "0", "--from-time",
            "2026-11-25T10:00", "--max", "1", "--format", "%v");
    CLI_OUT(state, NULL, "r5\n", "consume", "t", "0", "--from-time",
            "2026-11-25T10:00:00.001", "--format", "%v");
    CLI_OUT(state, NULL, "", "consume", "t", "0", "--from-time",
            "2100-01-01T00:00Z");
    /* Every partition from offset 1 (both have it). */
    CLI(state, &r, NULL, "consume", "t", "--offset", "1", "--format", "%v");
    assert_exit(&r, 0);
    assert_int_equal(strlen(r.out), 5 * 3 + 3);
    assert_contains(r.out, "r1\nr2\nr3\nr4\nr5\n");
    assert_contains(r.out, "q1\n");
    run_free(&r);
    /* Offset 3 is past t/1's end (2): named in one line. */
    CLI(state, &r, NULL, "consume", "t", "--offset", "3");
    assert_exit(&r, EXIT_NOTFOUND);
    assert_one_line(r.err,
                    "crawllog: consume t/1 offset 3: CRAWLLOG_EOFFSET: log "
                    "start 0, log end 2");
    assert_string_equal(r.out, "");
    run_free(&r);
    CLI(state, &r, NULL, "consume", "t", "5");
    assert_exit(&r, EXIT_NOTFOUND);
    assert_one_line(r.err, "crawllog: consume t/5: CRAWLLOG_ENOTOPIC");
    run_free(&r);
    CLI(state, &r, NULL, "tail", "nope", "--max", "1");
    assert_exit(&r, EXIT_NOTFOUND);
    assert_one_line(r.err, "crawllog: tail nope: CRAWLLOG_ENOTOPIC");
    run_free(&r);
    expect_usage(state, bad, sizeof(bad) / sizeof(bad[0]));
    for (int i = 0; i < 2; i++) {
        CLI(state, &r, NULL, i ? "tail" : "consume", "--help");
        assert_exit(&r, 0);
        assert_contains(r.out, i ? "tail TOPIC" : "consume TOPIC");
        run_free(&r);
    }
    cl_test_close_verify(log, data_dir(state));
}

/* "groups describe G --json" must show committed offset off for t/p. */
static void expect_committed(void **state, const char *group, int p,
                             long long off)
{
    char want[128];
    struct run r;

    CLI(state, &r, NULL, "groups", "describe", group, "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    snprintf(want, sizeof(want),
             "{\"topic\":\"t\",\"partition\":%d,\"current_offset\":%lld,", p,
             off);
    assert_contains(r.out, want);
    run_free(&r);
}

/* A group member prints what the group has not consumed yet and commits
 * it: a second run prints nothing, new records only the new ones. */
static void test_consume_group(void **state)
{
    crawllog_t *log;
    struct run r;

    create_topic(state, "t", "2");
    CLI_OK(state, "a\nb\nc\n", "produce", "t", "0");
    CLI_OK(state, "d\ne\n", "produce", "t", "1");
    CLI(state, &r, NULL, "consume", "t", "--group", "g", "--format", "%p%v");
    assert_exit(&r, 0);
    assert_int_equal(strlen(r.out), 5 * 3);
    assert_contains(r.out, "0a\n0b\n0c\n");
    assert_contains(r.out, "1d\n1e\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    expect_committed(state, "g", 0, 3);
    expect_committed(state, "g", 1, 2);
    CLI_EXPECT(state, NULL, 0, "", "", "consume", "t", "--group", "g");
    CLI_OK(state, "f\n", "produce", "t", "1");
    CLI_OUT(state, NULL, "f\n", "consume", "t", "--group", "g", "--format",
            "raw");
    expect_committed(state, "g", 1, 3);
    /* --max 1 commits one record: the next run prints the other five. */
    CLI(state, &r, NULL, "consume", "t", "--group", "h", "--max", "1");
    assert_exit(&r, 0);
    assert_int_equal(strchr(r.out, '\n') - r.out + 1, (long)strlen(r.out));
    run_free(&r);
    CLI(state, &r, NULL, "consume", "t", "--group", "h", "--format", "%v");
    assert_exit(&r, 0);
    assert_int_equal(strlen(r.out), 5 * 2);
    run_free(&r);
    /* --offset moves every partition of a new member, whatever was
     * committed; --from-time likewise. */
    CLI(state, &r, NULL, "consume", "t", "--group", "g", "--offset", "2",
        "--format", "%p%v");
    assert_exit(&r, 0);
    assert_int_equal(strlen(r.out), 2 * 3);
    assert_contains(r.out, "0c\n");
    assert_contains(r.out, "1f\n");
    run_free(&r);
    CLI_EXPECT(state, NULL, 0, "", "", "consume", "t", "--group", "g");
    CLI(state, &r, NULL, "consume", "t", "--group", "g", "--from-time", "0",
        "--format", "%v");
    assert_exit(&r, 0);
    assert_int_equal(strlen(r.out), 6 * 2);
    run_free(&r);
    expect_committed(state, "g", 0, 3);
    CLI(state, &r, NULL, "consume", "t", "--group", "g", "--offset", "4");
    assert_exit(&r, EXIT_NOTFOUND);
    assert_contains(r.err, "offset 4: CRAWLLOG_EOFFSET");
    run_free(&r);
    /* A commit made elsewhere is where the member starts; a partition
     * without one starts at the log start. */
    make_orders(state);
    log = cl_test_open(data_dir(state), NULL);
    group_commit(log, "o", "orders", 0, 7);
    CLI(state, &r, NULL, "consume", "orders", "--group", "o", "--format",
        "%p%v");
    assert_exit(&r, 0);
    assert_int_equal(strlen(r.out), 7 * 3);
    assert_contains(r.out, "07\n08\n09\n");
    assert_contains(r.out, "1a\n1b\n1c\n1d\n");
    run_free(&r);
    cl_test_close_verify(log, data_dir(state));
}

/* ---------------------------------------------------------------------- */
/* tail, signals, pipes                                                    */
/* ---------------------------------------------------------------------- */

/* tail --max 3 prints the first three records appended after it started
 * and exits 0.  Batches of three lines are appended until it exits: each
 * batch is one append, so tail starts between two of them and prints one
 * whole batch; the record there before it started is not printed. */
static void test_tail_max(void **state)
{
    int64_t deadline = cl_test_mono_ms() + 20000;
    struct bg b;
    struct run r;

    create_topic(state, "t", "1");
    CLI_OK(state, "old\n", "produce", "t");
    BG_START(state, &b, "tail", "t", "--max", "3", "--format", "%v");
    while (!bg_exited(&b) && cl_test_mono_ms() < deadline) {
        CLI_OK(state, "x1\nx2\nx3\n", "produce", "t", "0");
        cl_test_sleep_ms(50);
    }
    bg_wait(&b, &r);
    assert_exit(&r, 0);
    assert_string_equal(r.out, "x1\nx2\nx3\n");
    assert_string_equal(r.err, "");
    run_free(&r);
}

/* Read b's stdout until it has a newline (or ms have passed). */
static void read_some(struct bg *b, char **outp, size_t *lenp, int64_t ms)
{
    int64_t deadline = cl_test_mono_ms() + ms;

    while (strchr(*outp, '\n') == NULL && cl_test_mono_ms() < deadline) {
        struct pollfd p = {b->out, POLLIN, 0};

        if (poll(&p, 1, 100) > 0 && drain(b->out, outp, lenp) == 0) {
            break;
        }
    }
}

/* The committed offset of t/0 in group (-1: none). */
static int64_t committed_of(crawllog_t *log, const char *group)
{
    crawllog_group_desc_t *d = NULL;
    int64_t off = -1;

    if (crawllog_group_describe(log, group, &d) == CRAWLLOG_OK) {
        for (size_t i = 0; i < d->partition_count; i++) {
            off = d->partitions[i].partition == 0 ? d->partitions[i].committed
                                                  : off;
        }
        crawllog_group_desc_free(d);
    }
    return off;
}

static int64_t end_of(crawllog_t *log)
{
    int64_t start, end;

    assert_crawllog_ok(crawllog_partition_offsets(log, "t", 0, &start, &end));
    return end;
}

/* SIGTERM ends a follower with status 0, and a member has committed what
 * it printed (the offset after the last record printed); so has one
 * killed with SIGKILL: it commits each batch once printed. */
static void test_follow_sigterm(void **state)
{
    crawllog_t *log = cl_test_open(data_dir(state), NULL);

    cl_test_create_topic(log, "t", 1, NULL);
    for (int mode = 0; mode < 3; mode++) {
        char *out = calloc(1, 1), *last, in[32];
        const char *group = mode == 1 ? "g1" : "g2";
        int64_t deadline = cl_test_mono_ms() + 20000;
        long long off = -1;
        size_t len = 0;
        struct bg b;
        struct run r;

        if (mode == 0) {
            BG_START(state, &b, "consume", "t", "-f", "--format", "%o %v");
        } else {
            BG_START(state, &b, "tail", "t", "--group", group, "--format",
                     "%o %v");
        }
        for (int i = 0; strchr(out, '\n') == NULL && i < 200; i++) {
            snprintf(in, sizeof(in), "y%d\n", i);
            CLI_OK(state, in, "produce", "t");
            read_some(&b, &out, &len, 100);
        }
        /* Wait until the member has printed and committed all of it. */
        while (mode > 0 && committed_of(log, group) < end_of(log) &&
               cl_test_mono_ms() < deadline) {
            cl_test_sleep_ms(10);
        }
        kill(b.pid, mode == 2 ? SIGKILL : SIGTERM);
        bg_wait(&b, &r);
        assert_exit(&r, mode == 2 ? 128 + SIGKILL : 0);
        assert_string_equal(r.err, "");
        out = realloc(out, len + r.out_len + 1);
        memcpy(out + len, r.out, r.out_len + 1);
        assert_true(strlen(out) > 0 && out[strlen(out) - 1] == '\n');
        out[strlen(out) - 1] = '\0';
        last = strrchr(out, '\n');
        assert_int_equal(sscanf(last ? last + 1 : out, "%lld y", &off), 1);
        if (mode > 0) {
            expect_committed(state, group, 0, off + 1);
            assert_int_equal(off + 1, end_of(log));
        } else {
            assert_int_equal(strncmp(out, "0 y0", 4), 0); /* from the start */
        }
        free(out);
        run_free(&r);
    }
    cl_test_close_verify(log, data_dir(state));
}

/* The reader of the output goes away (| head): no error, status 0. */
static void test_broken_pipe(void **state)
{
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    crawllog_record_t recs[1000];
    char *out = calloc(1, 1);
    size_t len = 0;
    const char *cmds[][8] = {
        {"consume", "t", "--format", "%v", NULL},
        {"consume", "t", "--group", "g", NULL},
        {"grep", "t", "--contains", "value", NULL},
    };

    cl_test_create_topic(log, "t", 1, NULL);
    memset(recs, 0, sizeof(recs));
    for (int i = 0; i < 1000; i++) {
        recs[i].value = "a value of some forty bytes, to fill pipes";
        recs[i].value_len = strlen(recs[i].value);
        recs[i].timestamp = -1;
    }
    for (int i = 0; i < 20; i++) {
        assert_crawllog_ok(crawllog_append(log, "t", 0, recs, 1000,
                                           CRAWLLOG_SYNC_WRITTEN, NULL));
    }
    for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
        struct bg b;
        struct run r;

        bg_start_at(state, &b, cmds[c]);
        out[0] = '\0';
        len = 0;
        read_some(&b, &out, &len, 20000);
        close(b.out);
        b.out = -1;
        bg_wait(&b, &r);
        assert_exit(&r, 0);
        if (c < 2) {
            assert_string_equal(r.err, "");
        } else {
            assert_null(strstr(r.err, "crawllog:"));
        }
        run_free(&r);
    }
    free(out);
    cl_test_close_verify(log, data_dir(state));
}

/* ---------------------------------------------------------------------- */
/* grep                                                                    */
/* ---------------------------------------------------------------------- */

static void test_grep(void **state)
{
    static const char *const bad[][8] = {
        {"grep", "g", NULL},
        {"grep", NULL},
        {"grep", "g", "--hex", "0g", NULL},
        {"grep", "g", "--hex", "abc", NULL},
        {"grep", "g", "--contains", "", NULL},
        {"grep", "g", "--key", "k", "--max", "0", NULL},
        {"grep", "g", "--key", "k", "--partition", "x", NULL},
        {"grep", "g", "--key", "k", "--from-time", "soon", NULL},
        {"grep", "g", "--key", NULL},
    };
    crawllog_t *log = cl_test_open(data_dir(state), NULL);
    char big[128], want[512];
    struct run r;

    memset(big, 'z', 100);
    memcpy(big + 100, "needle", 7);
    cl_test_create_topic(log, "g", 2, NULL);
    put(log, "g", 0, "k1", "alpha", 5, T0, NULL, 0);
    put(log, "g", 0, "k2", "beta\0\xff", 6, T0 + 1000, NULL, 0);
    put(log, "g", 0, NULL, "gamma alpha", 11, T0 + 2000, NULL, 0);
    put(log, "g", 1, "k1", "delta", 5, T0 + 3000, NULL, 0);
    put(log, "g", 1, "k3", big, 106, T0 + 4000, NULL, 0);
    CLI_EXPECT(state, NULL, 0, "g\t0\t0\tk1\talpha\ng\t1\t0\tk1\tdelta\n",
               "2 matches in 5 records\n", "grep", "g", "--key", "k1");
    CLI_EXPECT(state, NULL, 0,
               "g\t0\t0\tk1\talpha\ng\t0\t2\t(null)\tgamma alpha\n",
               "2 matches in 5 records\n", "grep", "g", "--contains", "alpha");
    CLI_EXPECT(state, NULL, 0, "g\t0\t1\tk2\tbeta\\x00\\xff\n",
               "1 matches in 5 records\n", "grep", "g", "--hex", "00FF");
    snprintf(want, sizeof(want), "g\t1\t1\tk3\t%.64s...(106 bytes)\n", big);
    CLI_OUT(state, NULL, want, "grep", "g", "--contains", "needle");
    CLI_OUT(state, NULL, want, "grep", "g", "--hex", "0x6e6565646c65");
    CLI_EXPECT(state, NULL, 1, "", "0 matches in 5 records\n", "grep", "g",
               "--contains", "omega");
    CLI_EXPECT(state, NULL, 0, "g\t1\t0\tk1\tdelta\n",
               "1 matches in 2 records\n", "grep", "g", "--key", "k1",
               "--partition", "1");
    CLI_OUT(state, NULL, "g\t1\t0\tk1\tdelta\n", "grep", "g", "--key", "k1",
            "--contains", "elt");
    CLI_EXPECT(state, NULL, 0, "g\t0\t0\tk1\talpha\n",
               "1 matches in 1 records\n", "grep", "g", "--key", "k1", "--max",
               "1");
    snprintf(want, sizeof(want), "%lld", T0 + 500);
    CLI_EXPECT(state, NULL, 0, "g\t0\t2\t(null)\tgamma alpha\n",
               "1 matches in 4 records\n", "grep", "g", "--contains", "alpha",
               "--from-time", want);
    snprintf(want, sizeof(want),
             "[{\"topic\":\"g\",\"partition\":0,\"offset\":1,\"timestamp\":"
             "%lld,\"key\":\"k2\",\"value\":\"beta\\u0000\\u00ff\",\"key_len\""
             ":2,\"value_len\":6},\n{\"topic\":\"g\",\"partition\":1,\"offset\""
             ":0,\"timestamp\":%lld,\"key\":\"k1\",\"value\":\"delta\",\"key_"
             "len\":2,\"value_len\":5}]\n",
             T0 + 1000, T0 + 3000);
    CLI(state, &r, NULL, "grep", "g", "--contains", "ta", "--json");
    assert_exit(&r, 0);
    assert_json(r.out);
    assert_string_equal(r.out, want + 0);
    run_free(&r);
    CLI(state, &r, NULL, "grep", "g", "--contains", "ta", "--json", "--key",
        "k9");
    assert_exit(&r, 1);
    assert_string_equal(r.out, "[]\n");
    run_free(&r);
    expect_usage(state, bad, sizeof(bad) / sizeof(bad[0]));
    CLI_EXPECT(state, NULL, EXIT_NOTFOUND, "",
               "crawllog: grep nope: CRAWLLOG_ENOTOPIC", "grep", "nope",
               "--key", "k");
    CLI_EXPECT(state, NULL, EXIT_NOTFOUND, "",
               "crawllog: grep g/2: CRAWLLOG_ENOTOPIC", "grep", "g", "--key",
               "k", "--partition", "2");
    CLI(state, &r, NULL, "grep", "--help");
    assert_exit(&r, 0);
    assert_contains(r.out, "exit status");
    run_free(&r);
    cl_test_close_verify(log, data_dir(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_produce_keys),
        cl_test_unit_tmpdir(test_produce_round_robin),
        cl_test_unit_tmpdir(test_produce_headers_file),
        cl_test_unit_tmpdir(test_produce_errors),
        cl_test_unit_tmpdir(test_consume_formats),
        cl_test_unit_tmpdir(test_consume_start),
        cl_test_unit_tmpdir(test_consume_group),
        cl_test_unit_tmpdir(test_tail_max),
        cl_test_unit_tmpdir(test_follow_sigterm),
        cl_test_unit_tmpdir(test_broken_pipe),
        cl_test_unit_tmpdir(test_grep),
    };
    return cmocka_run_group_tests_name("cli_io", tests, group_setup,
                                       io_teardown);
}
