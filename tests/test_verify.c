/*
 * test_verify.c - crawllog_verify() (libcrawllog/verify.c): a clean data
 * directory passes with no problem and is not changed by the check; each
 * kind of damage (flipped byte, torn tail, bad segment header, missing or
 * wrong index, wrong time index, permissions, symbolic links, leftovers,
 * missing partition, damaged topic.meta, offset gap) is reported naming the
 * damaged file.  Built with -DCRAWLLOG_TESTING.
 *
 * The data is written through the public API only; the damage is done and
 * the files are parsed with plain system calls (helpers.h), so the test
 * does not rely on the modules it checks.
 */
#include "helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOPIC "t"
#define P0 "topics/" TOPIC "/0"
#define NRECORDS 120
#define MAX_SEGS 256

/* What the verify callback saw. */
struct seen {
    size_t calls;
    char text[65536]; /* every problem, one per line */
};

static void collect(void *opaque, const char *problem)
{
    struct seen *s = opaque;
    size_t used = strlen(s->text);
    s->calls++;
    snprintf(s->text + used, sizeof(s->text) - used, "%s\n", problem);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The data directory of a test. */
static const char *data_dir(void **state, char *buf, size_t size)
{
    return cl_test_path(buf, size, CL_TEST_DIR(state), "data");
}

/* Path of rel inside the data directory. */
static const char *dpath(void **state, const char *rel, char *buf, size_t size)
{
    char d[4096];
    return cl_test_path(buf, size, data_dir(state, d, sizeof(d)), rel);
}

/* Path of the file name of partition 0 inside the data directory. */
static const char *p0path(void **state, const char *name, char *buf,
                          size_t size)
{
    char rel[256];
    snprintf(rel, sizeof(rel), P0 "/%s", name);
    return dpath(state, rel, buf, size);
}

/* Create the data: topic "t" with 3 partitions and small segments; 120
 * single-record batches with shuffled timestamps in partition 0 (several
 * segments, several index entries), one batch in partition 1, nothing in
 * partition 2 (but opened by the reopen below). */
static void build(void **state)
{
    char dir[4096];
    char value[200];
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, TOPIC, 3, "segment.bytes", "4096",
                         "index.interval.bytes", "256", NULL);
    memset(value, 'v', sizeof(value));
    for (int i = 0; i < NRECORDS; i++) {
        char key[32];
        crawllog_record_t r = {key,
                               0,
                               value,
                               60 + (size_t)(i % 7) * 10,
                               1700000000000 + (i * 37) % 101,
                               NULL,
                               0};
        r.key_len = (size_t)snprintf(key, sizeof(key), "key-%d", i);
        assert_crawllog_ok_log(
            log,
            crawllog_append(log, TOPIC, 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    }
    crawllog_record_t one = {NULL, 0, "x", 1, -1, NULL, 0};
    assert_crawllog_ok_log(log, crawllog_append(log, TOPIC, 1, &one, 1,
                                                CRAWLLOG_SYNC_WRITTEN, NULL));
    assert_crawllog_ok(crawllog_close(log));
    log = cl_test_open(dir, NULL); /* a reopen */
    assert_crawllog_ok(crawllog_close(log));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the .log files of partition 0, sorted; returns the count. */
static size_t segments(void **state, char names[][64])
{
    char path[4096], *tmp[MAX_SEGS];
    size_t n = 0;
    DIR *d = opendir(dpath(state, P0, path, sizeof(path)));
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".log") == 0) {
            assert_true(n < MAX_SEGS);
            tmp[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(tmp, n, sizeof(*tmp), cmp_str);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], 64, "%s", tmp[i]);
        free(tmp[i]);
    }
    return n;
}

/* Replace the ".log" suffix of a segment name. */
static const char *with_suffix(const char *log_name, const char *sfx, char *buf,
                               size_t size)
{
    snprintf(buf, size, "%.20s%s", log_name, sfx);
    return buf;
}

/* Byte positions of the batches of a .log (at most max); returns count. */
static size_t batch_starts(const char *path, uint32_t *pos, size_t max)
{
    size_t len, n = 0;
    unsigned char *buf = cl_test_read_file(path, &len);
    for (size_t p = 64; p + 12 <= len && n < max; n++) {
        pos[n] = (uint32_t)p;
        p += 12 + be32(buf + p + 8);
    }
    free(buf);
    return n;
}

/* Run verify; returns its code, problems in *s (checked against calls). */
static int verify(void **state, struct seen *s)
{
    char dir[4096], errstr[CRAWLLOG_ERRSTR_SIZE];
    size_t problems = 12345;
    memset(s, 0, sizeof(*s));
    int rc = crawllog_verify(data_dir(state, dir, sizeof(dir)), collect, s,
                             &problems, errstr, sizeof(errstr));
    assert_int_equal(problems, s->calls);
    if (rc == CRAWLLOG_ECORRUPT) {
        assert_true(problems > 0);
        assert_non_null(strstr(errstr, "problem"));
    }
    return rc;
}

/* verify must find problems, one of which contains all of a, b (b may be
 * NULL). */
static void expect_problem(void **state, const char *a, const char *b)
{
    struct seen s;
    assert_crawllog_rc(verify(state, &s), CRAWLLOG_ECORRUPT);
    for (char *line = s.text; *line;) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        if (strstr(line, a) && (b == NULL || strstr(line, b))) {
            return;
        }
        line = nl + 1;
    }
    fail_msg("no problem mentions \"%s\"%s%s; got:\n%s", a, b ? " and " : "",
             b ? b : "", s.text);
}

/* "topics/t/0/<name>: " for the problem text. */
static const char *p0rel(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, P0 "/%s: ", name);
    return buf;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

static void test_verify_clean_is_ok_and_read_only(void **state)
{
    char segs[MAX_SEGS][64], dir[4096], path[4096], name[64];
    struct seen s;
    build(state);
    size_t n = segments(state, segs);
    assert_true(n >= 4); /* several segments ... */
    with_suffix(segs[1], ".index", name, sizeof(name));
    assert_true(cl_test_file_size(p0path(state, name, path, sizeof(path))) >=
                16); /* ... with several index entries */
    struct cl_test_snap *before =
        cl_test_snap_take(data_dir(state, dir, sizeof(dir)));
    assert_crawllog_rc(verify(state, &s), CRAWLLOG_OK);
    assert_int_equal(s.calls, 0);
    assert_dir_unchanged(before, dir);
    /* No callback and no out-pointers is fine too. */
    assert_crawllog_rc(crawllog_verify(dir, NULL, NULL, NULL, NULL, 0),
                       CRAWLLOG_OK);
}

static void test_verify_fresh_topic_is_ok(void **state)
{
    char dir[4096];
    struct seen s;
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    assert_crawllog_ok_log(log, crawllog_topic_create(log, "fresh", 2, NULL));
    assert_crawllog_ok(crawllog_close(log));
    assert_crawllog_rc(verify(state, &s), CRAWLLOG_OK);
}

/* Reopen the log (recovery) and append n more records to partition 0:
 * buffered, or written and followed by crawllog_maintain() if deletedp. */
static void append_more(void **state, int n, int64_t *deletedp)
{
    char dir[4096];
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    for (int i = 0; i < n; i++) {
        crawllog_record_t r = {"k",  1, "again", 5, 1600000000000 + i * 7,
                               NULL, 0};
        assert_crawllog_ok_log(log,
                               crawllog_append(log, TOPIC, 0, &r, 1,
                                               deletedp ? CRAWLLOG_SYNC_WRITTEN
                                                        : CRAWLLOG_SYNC_NONE,
                                               NULL));
    }
    if (deletedp) {
        assert_crawllog_ok_log(log, crawllog_maintain(log, deletedp));
    }
    assert_crawllog_ok(crawllog_close(log));
}

static void test_verify_ok_after_recovery(void **state)
{
    char segs[MAX_SEGS][64], path[4096];
    struct seen s;
    build(state);
    size_t n = segments(state, segs);
    p0path(state, segs[n - 1], path, sizeof(path));
    cl_test_truncate(path, (off_t)cl_test_file_size(path) - 5); /* torn */
    assert_int_equal(
        unlink(dpath(state, P0 "/partition.state", path, sizeof(path))),
        0); /* full rescan */
    append_more(state, 40, NULL);
    assert_crawllog_rc(verify(state, &s), CRAWLLOG_OK);
}

static void test_verify_ok_after_retention(void **state)
{
    char path[4096], dir[4096];
    int64_t deleted = 0;
    struct seen s;
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    cl_test_create_topic(log, TOPIC, 1, "segment.bytes", "4096",
                         "retention.bytes", "9000", NULL);
    assert_crawllog_ok(crawllog_close(log));
    append_more(state, 1500, &deleted);
    assert_true(deleted > 0);
    assert_true(cl_test_exists(
        dpath(state, P0 "/log-start-offset", path, sizeof(path))));
    assert_crawllog_rc(verify(state, &s), CRAWLLOG_OK);
}

static void test_verify_bad_arguments(void **state)
{
    char dir[4096], errstr[CRAWLLOG_ERRSTR_SIZE];
    size_t problems = 7;
    assert_crawllog_rc(
        crawllog_verify(NULL, NULL, NULL, &problems, errstr, sizeof(errstr)),
        CRAWLLOG_EINVAL);
    assert_int_equal(problems, 0);
    cl_test_path(dir, sizeof(dir), CL_TEST_DIR(state), "nope");
    assert_crawllog_rc(
        crawllog_verify(dir, NULL, NULL, &problems, errstr, sizeof(errstr)),
        CRAWLLOG_ENOENT);
    assert_non_null(strstr(errstr, "nope"));
    assert_false(cl_test_exists(dir)); /* nothing created */
}

static void test_verify_flipped_byte_in_middle_batch(void **state)
{
    char segs[MAX_SEGS][64], path[4096], want[256], at[64];
    uint32_t pos[256];
    build(state);
    size_t n = segments(state, segs);
    const char *seg = segs[n / 2];
    size_t nb = batch_starts(p0path(state, seg, path, sizeof(path)), pos, 256);
    assert_true(nb >= 3);
    uint32_t b = pos[nb / 2], e = pos[nb / 2 + 1];
    cl_test_flip_byte(path, e - 2, 0x5a); /* inside the records (CRC) */
    snprintf(at, sizeof(at), "byte %u:", (unsigned)b);
    expect_problem(state, p0rel(seg, want, sizeof(want)), at);
}

static void test_verify_torn_last_batch(void **state)
{
    char segs[MAX_SEGS][64], path[4096], want[256];
    build(state);
    size_t n = segments(state, segs);
    p0path(state, segs[n - 1], path, sizeof(path));
    size_t size = cl_test_file_size(path);
    assert_true(size > 64 + 61);
    cl_test_truncate(path, (off_t)size - 5);
    expect_problem(state, p0rel(segs[n - 1], want, sizeof(want)), "byte ");
}

static void test_verify_bad_segment_header(void **state)
{
    char segs[MAX_SEGS][64], path[4096], want[256];
    build(state);
    assert_true(segments(state, segs) >= 2);
    cl_test_flip_byte(p0path(state, segs[1], path, sizeof(path)), 26, 0x01);
    expect_problem(state, p0rel(segs[1], want, sizeof(want)), "byte 0:");
}

static void test_verify_deleted_index(void **state)
{
    char segs[MAX_SEGS][64], path[4096], want[256], name[64];
    build(state);
    size_t n = segments(state, segs);
    with_suffix(segs[n / 2], ".index", name, sizeof(name));
    assert_int_equal(unlink(p0path(state, name, path, sizeof(path))), 0);
    expect_problem(state, p0rel(name, want, sizeof(want)), "missing");
}

static void test_verify_index_entry_not_at_batch(void **state)
{
    char segs[MAX_SEGS][64], path[4096], want[256], name[64];
    size_t len;
    build(state);
    segments(state, segs);
    with_suffix(segs[1], ".index", name, sizeof(name));
    unsigned char *buf =
        cl_test_read_file(p0path(state, name, path, sizeof(path)), &len);
    assert_true(len >= 16);
    put_be32(buf + 4, be32(buf + 4) + 3); /* still below entry 1 */
    cl_test_write_file(path, buf, len);
    free(buf);
    expect_problem(state, p0rel(name, want, sizeof(want)), "no batch start");
}

static void test_verify_wrong_time_index_entry(void **state)
{
    char segs[MAX_SEGS][64], path[4096], want[256], name[64];
    build(state);
    segments(state, segs);
    with_suffix(segs[1], ".timeindex", name, sizeof(name));
    assert_true(cl_test_file_size(p0path(state, name, path, sizeof(path))) >=
                12);
    /* The lowest byte of the first entry's timestamp. */
    cl_test_flip_byte(path, 7, 0x01);
    expect_problem(state, p0rel(name, want, sizeof(want)), "time ");
}

static void test_verify_world_writable_segment(void **state)
{
    char segs[MAX_SEGS][64], path[4096], want[256];
    build(state);
    segments(state, segs);
    assert_int_equal(chmod(p0path(state, segs[0], path, sizeof(path)), 0666),
                     0);
    expect_problem(state, p0rel(segs[0], want, sizeof(want)), "world-writable");
}

static void test_verify_symlink_partition_dir(void **state)
{
    char from[4096], to[4096];
    build(state);
    cl_test_path(to, sizeof(to), CL_TEST_DIR(state), "moved");
    assert_int_equal(rename(dpath(state, "topics/t/1", from, sizeof(from)), to),
                     0);
    assert_int_equal(symlink(to, from), 0);
    expect_problem(state, "topics/t/1: ", "symbolic link");
}

static void test_verify_stray_tmp_files(void **state)
{
    char path[4096];
    build(state);
    cl_test_write_file(
        dpath(state, "topics/t/topic.meta.tmp.99999.1", path, sizeof(path)),
        "x", 1);
    expect_problem(state, "topics/t/topic.meta.tmp.99999.1: ", "leftover");
    unlink(path);
    cl_test_write_file(
        dpath(state, P0 "/log-start-offset.tmp.4.2", path, sizeof(path)), "",
        0);
    expect_problem(state, P0 "/log-start-offset.tmp.4.2: ", "leftover");
    unlink(path);
    if (!cl_test_exists(dpath(state, "trash", path, sizeof(path)))) {
        assert_int_equal(mkdir(path, 0700), 0); /* made at first delete */
    }
    assert_int_equal(
        mkdir(dpath(state, "trash/old.1.2", path, sizeof(path)), 0700), 0);
    expect_problem(state, "trash/old.1.2: ", "leftover");
}

static void test_verify_root_problems(void **state)
{
    char path[4096], dir[4096];
    build(state);
    cl_test_write_file(dpath(state, "junk", path, sizeof(path)), "j", 1);
    expect_problem(state, "junk: ", "unexpected");
    unlink(path);
    assert_int_equal(chmod(data_dir(state, dir, sizeof(dir)), 0777), 0);
    expect_problem(state, ".: ", "world-writable");
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(unlink(dpath(state, "crawllog.meta", path, sizeof(path))),
                     0);
    expect_problem(state, "crawllog.meta: ", NULL);
}

/* An empty partition directory beyond the count is what an interrupted
 * add_partitions leaves (and reuses): fine.  A non-empty one is not. */
static void test_verify_extra_partition_dir(void **state)
{
    char path[4096];
    struct seen s;
    build(state);
    assert_int_equal(
        mkdir(dpath(state, "topics/t/3", path, sizeof(path)), 0700), 0);
    assert_crawllog_rc(verify(state, &s), CRAWLLOG_OK);
    cl_test_write_file(
        dpath(state, "topics/t/3/partition.state", path, sizeof(path)), "", 0);
    expect_problem(state, "topics/t/3: ", "beyond the partition count 3");
    expect_problem(state, "topics/t/3: ", "no segment");
}

static void test_verify_missing_partition_dir(void **state)
{
    char path[4096];
    build(state);
    cl_test_rmrf(dpath(state, "topics/t/2", path, sizeof(path)));
    expect_problem(state, "topics/t/2: ", "missing");
}

static void test_verify_damaged_topic_meta(void **state)
{
    char path[4096];
    build(state);
    cl_test_flip_byte(dpath(state, "topics/t/topic.meta", path, sizeof(path)),
                      3, 0x20);
    expect_problem(state, "topics/t/topic.meta: ", NULL);
}

static void test_verify_offset_gap(void **state)
{
    char segs[MAX_SEGS][64], path[4096], want[256], name[64];
    static const char *const sfx[] = {".log", ".index", ".timeindex"};
    build(state);
    size_t n = segments(state, segs);
    assert_true(n >= 3);
    for (int i = 0; i < 3; i++) {
        with_suffix(segs[n / 2], sfx[i], name, sizeof(name));
        assert_int_equal(unlink(p0path(state, name, path, sizeof(path))), 0);
    }
    expect_problem(state, p0rel(segs[n / 2 + 1], want, sizeof(want)), "gap");
}

struct prog {
    uint64_t calls, segments, bytes;
};

static void on_progress(void *opaque, uint64_t segments, uint64_t log_bytes)
{
    struct prog *p = opaque;
    assert_true(segments == p->segments + 1 && log_bytes >= p->bytes);
    p->calls++;
    p->segments = segments;
    p->bytes = log_bytes;
}

/* crawllog_verify_progress: one call per segment, with the running count
 * of segments and of .log bytes, which end at what the directory holds. */
static void test_verify_progress(void **state)
{
    char dir[4096], path[4096], segs[MAX_SEGS][64];
    struct prog pr = {0, 0, 0};
    uint64_t bytes = 0;
    size_t problems = 99;
    build(state);
    size_t n = segments(state, segs);
    for (size_t i = 0; i < n; i++) {
        bytes += cl_test_file_size(p0path(state, segs[i], path, sizeof(path)));
    }
    /* partitions 1 and 2: one segment each */
    for (int p = 1; p <= 2; p++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "topics/t/%d/00000000000000000000.log", p);
        bytes += cl_test_file_size(dpath(state, rel, path, sizeof(path)));
    }
    assert_crawllog_ok(crawllog_verify_progress(
        data_dir(state, dir, sizeof(dir)), NULL, on_progress, &pr, &problems,
        NULL, 0));
    assert_int_equal(problems, 0);
    assert_int_equal(pr.calls, n + 2);
    assert_int_equal(pr.bytes, bytes);
}

/* A migrated topic whose old partition lost records below its cut (what a
 * power loss could do without the cut-over's fdatasync). */
static void test_verify_migration_cut(void **state)
{
    char dir[4096], path[4096];
    build(state);
    crawllog_t *log = cl_test_open(data_dir(state, dir, sizeof(dir)), NULL);
    assert_crawllog_ok_log(
        log, crawllog_topic_migrate(log, TOPIC, "t2", 2, NULL, NULL));
    assert_crawllog_ok(crawllog_close(log));
    struct seen s;
    assert_crawllog_rc(verify(state, &s), CRAWLLOG_OK);
    cl_test_truncate(
        dpath(state, "topics/t/1/00000000000000000000.log", path, sizeof(path)),
        64);
    expect_problem(state, "topics/t/1: ", "below the migration's cut.1=1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_verify_clean_is_ok_and_read_only),
        cl_test_unit_tmpdir(test_verify_fresh_topic_is_ok),
        cl_test_unit_tmpdir(test_verify_ok_after_recovery),
        cl_test_unit_tmpdir(test_verify_ok_after_retention),
        cl_test_unit_tmpdir(test_verify_bad_arguments),
        cl_test_unit_tmpdir(test_verify_flipped_byte_in_middle_batch),
        cl_test_unit_tmpdir(test_verify_torn_last_batch),
        cl_test_unit_tmpdir(test_verify_bad_segment_header),
        cl_test_unit_tmpdir(test_verify_deleted_index),
        cl_test_unit_tmpdir(test_verify_index_entry_not_at_batch),
        cl_test_unit_tmpdir(test_verify_wrong_time_index_entry),
        cl_test_unit_tmpdir(test_verify_world_writable_segment),
        cl_test_unit_tmpdir(test_verify_symlink_partition_dir),
        cl_test_unit_tmpdir(test_verify_stray_tmp_files),
        cl_test_unit_tmpdir(test_verify_root_problems),
        cl_test_unit_tmpdir(test_verify_extra_partition_dir),
        cl_test_unit_tmpdir(test_verify_missing_partition_dir),
        cl_test_unit_tmpdir(test_verify_damaged_topic_meta),
        cl_test_unit_tmpdir(test_verify_offset_gap),
        cl_test_unit_tmpdir(test_verify_migration_cut),
        cl_test_unit_tmpdir(test_verify_progress),
    };
    return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
