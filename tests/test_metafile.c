/*
 * test_metafile.c - checksummed metadata files (libcrawllog/metafile.c):
 * round trip, the exact bytes on disk, every single-byte flip and every
 * truncation, version and kind checks, failpoints at each write site,
 * symbolic links, non-regular files, and the stale-tmp cleanup.  Built with
 * -DCRAWLLOG_TESTING.
 *
 * Expected file bytes are built here by hand (with cl_crc32c, which has its
 * own vector tests), never by the writer under test.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "io.h"
#include "metafile.h"

#define KIND "crawllog-test"
#define NAME "test.meta"
#define REL "sub/test.meta"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

static int open_dir(void **state)
{
    int fd = open(CL_TEST_DIR(state), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static char *file_path(void **state, char *buf, size_t size)
{
    return cl_test_path(buf, size, CL_TEST_DIR(state), NAME);
}

/* "<kind> <version>\n<body>crc32c=<crc>\n", built independently. */
static size_t build(char *out, size_t size, const char *head, const char *body)
{
    int n = snprintf(out, size, "%s\n%s", head, body);
    assert_true(n > 0 && (size_t)n + 17 < size);
    n += snprintf(out + n, size - (size_t)n, "crc32c=%08lx\n",
                  (unsigned long)cl_crc32c(0, out, (size_t)n));
    return (size_t)n;
}

/* Read NAME, expect rc; on success compare the body. */
static void expect_read(int dirfd, int rc, const char *want_body)
{
    struct cl_err err = {""};
    char *body = (char *)"sentinel";

    assert_crawllog_rc(cl_metafile_read(dirfd, NAME, REL, KIND, &body, &err),
                       rc);
    if (rc == 0) {
        assert_non_null(body);
        assert_string_equal(body, want_body);
        cl_io_free(body);
    } else {
        assert_null(body);
        assert_non_null(strstr(err.msg, REL));
    }
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

static void test_metafile_round_trip(void **state)
{
    struct cl_err err = {""};
    char path[4096], want[256];
    int fd = open_dir(state);
    size_t len = 0, wlen;
    char *bytes;
    struct stat st;
    mode_t mask = umask(0);

    umask(mask);
    assert_crawllog_ok(
        cl_metafile_write(fd, NAME, REL, KIND, "a=1\nb=-5\n", 0640, &err));
    /* The exact bytes, built by hand. */
    wlen = build(want, sizeof want, KIND " 1", "a=1\nb=-5\n");
    bytes = cl_test_read_file(file_path(state, path, sizeof path), &len);
    assert_int_equal(len, wlen);
    assert_memory_equal(bytes, want, wlen);
    free(bytes);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640 & ~mask);
    expect_read(fd, 0, "a=1\nb=-5\n");
    assert_int_equal(cl_test_count_entries(CL_TEST_DIR(state)), 1);

    /* Replace, then an empty body. */
    assert_crawllog_ok(
        cl_metafile_write(fd, NAME, REL, KIND, "c=3\n", 0600, &err));
    expect_read(fd, 0, "c=3\n");
    assert_crawllog_ok(cl_metafile_write(fd, NAME, REL, KIND, "", 0600, &err));
    expect_read(fd, 0, "");
    assert_int_equal(cl_test_count_entries(CL_TEST_DIR(state)), 1);
    close(fd);
}

static void test_metafile_reads_hand_built_file(void **state)
{
    char path[4096], buf[256];
    size_t n = build(buf, sizeof buf, KIND " 1", "x=42\ny=0\n");
    int fd = open_dir(state);
    char *body = NULL;
    struct cl_err err = {""};
    int64_t v = 0;

    cl_test_write_file(file_path(state, path, sizeof path), buf, n);
    assert_crawllog_ok(cl_metafile_read(fd, NAME, REL, KIND, &body, &err));
    assert_string_equal(body, "x=42\ny=0\n");
    assert_crawllog_ok(cl_metafile_get_int(body, "x", &v));
    assert_int_equal(v, 42);
    cl_io_free(body);
    close(fd);
}

static void test_metafile_get_int_strict(void **state)
{
    int64_t v = 7;

    (void)state;
    assert_crawllog_ok(cl_metafile_get_int("a=1\nb=-5\n", "b", &v));
    assert_int_equal(v, -5);
    assert_crawllog_ok(cl_metafile_get_int("k=9223372036854775807", "k", &v));
    assert_true(v == INT64_MAX);
    assert_crawllog_ok(
        cl_metafile_get_int("k=-9223372036854775808\n", "k", &v));
    assert_true(v == INT64_MIN);
    v = 7;
    assert_crawllog_rc(cl_metafile_get_int("ab=1\n", "a", &v), CRAWLLOG_ENOENT);
    assert_crawllog_rc(cl_metafile_get_int("", "a", &v), CRAWLLOG_ENOENT);
    assert_crawllog_rc(cl_metafile_get_int("xa=1\n", "a", &v), CRAWLLOG_ENOENT);
    assert_int_equal(v, 7);
    static const char *const bad[] = {
        "a=\n",
        "a=1x\n",
        "a= 1\n",
        "a=+1\n",
        "a=-\n",
        "a=1\na=1\n",
        "a\n",
        "a=0x10\n",
        "a=1.5\n",
        "a=9223372036854775808\n",
        "a=-9223372036854775809\n",
        "a=99999999999999999999\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_crawllog_rc(cl_metafile_get_int(bad[i], "a", &v),
                           CRAWLLOG_ECORRUPT);
    }
    assert_int_equal(v, 7);
}

/* Every byte xor'ed with each of several masks: always ECORRUPT. */
static void test_metafile_every_byte_flip_is_corrupt(void **state)
{
    static const unsigned char masks[] = {0x01, 0x02, 0x04, 0x08, 0x10,
                                          0x20, 0x40, 0x80, 0xff};
    struct cl_err err = {""};
    char path[4096];
    int fd = open_dir(state);
    size_t len = 0;
    char *orig;

    assert_crawllog_ok(cl_metafile_write(
        fd, NAME, REL, KIND, "partitions=3\nsegment.bytes=1024\n", 0600, &err));
    orig = cl_test_read_file(file_path(state, path, sizeof path), &len);
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            cl_test_write_file(path, orig, len);
            cl_test_flip_byte(path, (off_t)i, masks[m]);
            expect_read(fd, CRAWLLOG_ECORRUPT, NULL);
        }
    }
    cl_test_write_file(path, orig, len);
    expect_read(fd, 0, "partitions=3\nsegment.bytes=1024\n");
    free(orig);
    close(fd);
}

static void test_metafile_every_truncation_is_corrupt(void **state)
{
    struct cl_err err = {""};
    char path[4096];
    int fd = open_dir(state);
    size_t len = 0;
    char *orig;

    assert_crawllog_ok(
        cl_metafile_write(fd, NAME, REL, KIND, "a=1\nbb=22\n", 0600, &err));
    orig = cl_test_read_file(file_path(state, path, sizeof path), &len);
    for (size_t cut = 0; cut < len; cut++) {
        cl_test_write_file(path, orig, len);
        cl_test_truncate(path, (off_t)cut);
        expect_read(fd, CRAWLLOG_ECORRUPT, NULL);
    }
    /* Extra bytes after the crc line are damage too. */
    cl_test_write_file(path, orig, len);
    cl_test_truncate(path, (off_t)len + 1);
    expect_read(fd, CRAWLLOG_ECORRUPT, NULL);
    free(orig);
    close(fd);
}

/* Intact checksums around headers and lines that are wrong. */
static void test_metafile_version_and_kind(void **state)
{
    static const struct {
        const char *head, *body;
        int rc;
    } cases[] = {
        {KIND " 2", "a=1\n", CRAWLLOG_EVERSION},
        {KIND " 0", "a=1\n", CRAWLLOG_EVERSION},
        {KIND " 10", "", CRAWLLOG_EVERSION},
        {KIND " 1", "a=1\n", 0},
        {"crawllog-other 1", "a=1\n", CRAWLLOG_ECORRUPT},
        {KIND "x 1", "a=1\n", CRAWLLOG_ECORRUPT},
        {KIND, "a=1\n", CRAWLLOG_ECORRUPT},
        {KIND " ", "a=1\n", CRAWLLOG_ECORRUPT},
        {KIND " 1x", "a=1\n", CRAWLLOG_ECORRUPT},
        {KIND " -1", "a=1\n", CRAWLLOG_ECORRUPT},
        {KIND "  1", "a=1\n", CRAWLLOG_ECORRUPT},
    };
    char path[4096], buf[256];
    int fd = open_dir(state);

    file_path(state, path, sizeof path);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = build(buf, sizeof buf, cases[i].head, cases[i].body);
        cl_test_write_file(path, buf, n);
        expect_read(fd, cases[i].rc, cases[i].body);
    }
    /* Uppercase hex digits in the crc line (a body whose crc has a
     * letter is searched for, so the case is never vacuous). */
    {
        char body[16];
        size_t n = 0;
        for (int v = 0; v < 100; v++) {
            snprintf(body, sizeof body, "a=%d\n", v);
            n = build(buf, sizeof buf, KIND " 1", body);
            if (strpbrk(buf + n - 9, "abcdef") != NULL) {
                break;
            }
        }
        assert_non_null(strpbrk(buf + n - 9, "abcdef"));
        for (size_t j = n - 9; j < n - 1; j++) {
            if (buf[j] >= 'a' && buf[j] <= 'f') {
                buf[j] = (char)(buf[j] - 'a' + 'A');
            }
        }
        cl_test_write_file(path, buf, n);
        expect_read(fd, CRAWLLOG_ECORRUPT, NULL);
    }
    /* A NUL byte covered by a valid checksum. */
    {
        char raw[64] = KIND " 1\na=1\n";
        size_t n = strlen(raw);
        raw[n - 2] = '\0';
        n += (size_t)snprintf(raw + n, sizeof raw - n, "crc32c=%08lx\n",
                              (unsigned long)cl_crc32c(0, raw, n));
        cl_test_write_file(path, raw, n);
        expect_read(fd, CRAWLLOG_ECORRUPT, NULL);
    }
    /* No crc line at all. */
    cl_test_write_file(path, KIND " 1\na=1\n", strlen(KIND " 1\na=1\n"));
    expect_read(fd, CRAWLLOG_ECORRUPT, NULL);
    close(fd);
}

static void test_metafile_not_a_regular_file(void **state)
{
    char path[4096];
    int fd = open_dir(state);
    char *big;

    file_path(state, path, sizeof path);
    expect_read(fd, CRAWLLOG_ENOENT, NULL);
    assert_int_equal(mkdir(path, 0700), 0);
    expect_read(fd, CRAWLLOG_ECORRUPT, NULL);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_read(fd, CRAWLLOG_ECORRUPT, NULL);
    assert_int_equal(unlink(path), 0);
    /* Exactly at the size limit: fine; one byte more: corrupt. */
    big = malloc(CL_METAFILE_MAX + 64);
    assert_non_null(big);
    for (size_t size = CL_METAFILE_MAX; size <= CL_METAFILE_MAX + 1; size++) {
        struct cl_err err = {""};
        char *body = NULL;
        memset(big, 'x', size);
        memcpy(big, KIND " 1\nx=", strlen(KIND " 1\nx="));
        big[size - 17] = '\n';
        snprintf(big + size - 16, 18, "crc32c=%08lx\n",
                 (unsigned long)cl_crc32c(0, big, size - 16));
        cl_test_write_file(path, big, size);
        assert_crawllog_rc(cl_metafile_read(fd, NAME, REL, KIND, &body, &err),
                           size == CL_METAFILE_MAX ? 0 : CRAWLLOG_ECORRUPT);
        if (body != NULL) {
            assert_int_equal(strlen(body), size - 16 - strlen(KIND " 1\n"));
            cl_io_free(body);
        }
    }
    free(big);
    close(fd);
}

/* One failpoint at each write site: error, message, old file, no tmp. */
static void test_metafile_failpoint_each_site(void **state)
{
    static const char *const sites[] = {"meta.open", "meta.write", "meta.fsync",
                                        "meta.rename", "meta.dirsync"};
    static const struct {
        const char *err;
        int rc;
    } kinds[] = {{"EIO", CRAWLLOG_EIO}, {"ENOSPC", CRAWLLOG_ENOSPC}};
    int fd = open_dir(state);

    for (size_t s = 0; s < sizeof sites / sizeof sites[0]; s++) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            struct cl_err err = {""};
            char spec[64];
            int dirsync = strcmp(sites[s], "meta.dirsync") == 0;

            assert_crawllog_ok(
                cl_metafile_write(fd, NAME, REL, KIND, "v=old\n", 0600, &err));
            snprintf(spec, sizeof spec, "%s=%s", sites[s], kinds[k].err);
            cl_fp_clear();
            assert_int_equal(cl_fp_set(spec), 0);
            assert_crawllog_rc(
                cl_metafile_write(fd, NAME, REL, KIND, "v=new\n", 0600, &err),
                kinds[k].rc);
            assert_int_equal(cl_fp_hits(sites[s]), 1);
            cl_fp_clear();
            assert_non_null(strstr(err.msg, REL));
            assert_int_equal(cl_test_count_entries(CL_TEST_DIR(state)), 1);
            /* Only the directory fsync comes after the rename. */
            expect_read(fd, 0, dirsync ? "v=new\n" : "v=old\n");
        }
    }
    close(fd);
}

static void test_metafile_failpoint_read_and_tmp_collision(void **state)
{
    struct cl_err err = {""};
    int fd = open_dir(state);
    char *body = NULL;

    assert_crawllog_ok(
        cl_metafile_write(fd, NAME, REL, KIND, "a=1\n", 0600, &err));
    for (int k = 1; k <= 3; k++) {
        char spec[64];
        snprintf(spec, sizeof spec, "meta.read=EIO@%d", k);
        assert_int_equal(cl_fp_set(spec), 0);
        assert_crawllog_rc(cl_metafile_read(fd, NAME, REL, KIND, &body, &err),
                           CRAWLLOG_EIO);
        assert_null(body);
        cl_fp_clear();
    }
    /* A taken tmp name (EEXIST) is retried with the next counter ... */
    assert_int_equal(cl_fp_set("meta.open=EEXIST@1"), 0);
    assert_crawllog_ok(
        cl_metafile_write(fd, NAME, REL, KIND, "a=2\n", 0600, &err));
    assert_int_equal(cl_fp_hits("meta.open"), 2);
    cl_fp_clear();
    expect_read(fd, 0, "a=2\n");
    /* ... but not forever. */
    assert_int_equal(cl_fp_set("meta.open=EEXIST:persist"), 0);
    assert_crawllog_rc(
        cl_metafile_write(fd, NAME, REL, KIND, "a=3\n", 0600, &err),
        CRAWLLOG_EEXIST);
    cl_fp_clear();
    expect_read(fd, 0, "a=2\n");
    assert_int_equal(cl_test_count_entries(CL_TEST_DIR(state)), 1);
    close(fd);
}

static void test_metafile_symlink_refused(void **state)
{
    struct cl_err err = {""};
    char path[4096], target[4096], buf[128];
    int fd = open_dir(state);
    size_t n = build(buf, sizeof buf, KIND " 1", "t=1\n");
    char *body = NULL, *after;
    size_t len = 0;
    struct stat st;

    cl_test_path(target, sizeof target, CL_TEST_DIR(state), "target");
    cl_test_write_file(target, buf, n);
    assert_int_equal(symlink("target", file_path(state, path, sizeof path)), 0);
    assert_crawllog_rc(cl_metafile_read(fd, NAME, REL, KIND, &body, &err),
                       CRAWLLOG_ELOOP);
    assert_null(body);
    assert_non_null(strstr(err.msg, REL));
    /* Writing replaces the link itself; the target stays as it was. */
    assert_crawllog_ok(
        cl_metafile_write(fd, NAME, REL, KIND, "t=2\n", 0600, &err));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    after = cl_test_read_file(target, &len);
    assert_int_equal(len, n);
    assert_memory_equal(after, buf, n);
    free(after);
    expect_read(fd, 0, "t=2\n");
    close(fd);
}

static void test_metafile_cleanup_removes_dead_tmp_only(void **state)
{
    struct cl_err err = {""};
    char path[4096], name[128];
    long dead = cl_test_dead_pid(), self = (long)getpid();
    int fd = open_dir(state);
    struct {
        char name[128];
        int removed;
        int dir;
    } ents[8];
    size_t n = 0;

#define ENT(rm, isdir, ...)                                                    \
    do {                                                                       \
        snprintf(ents[n].name, sizeof ents[n].name, __VA_ARGS__);              \
        ents[n].removed = (rm);                                                \
        ents[n].dir = (isdir);                                                 \
        n++;                                                                   \
    } while (0)
    ENT(1, 0, "topic.meta.tmp.%ld.3", dead);
    ENT(1, 0, "crawllog.meta.tmp.%ld.0", dead);
    ENT(0, 0, "topic.meta.tmp.%ld.4", self);
    ENT(0, 0, "topic.meta.tmp.x%ld.1", dead);
    ENT(0, 0, "topic.meta.tmp.%ld", dead);
    ENT(0, 0, "topic.meta.%ld.1", dead);
    ENT(0, 1, "dir.tmp.%ld.1", dead);
    ENT(0, 0, ".tmp.%ld.1", dead);
#undef ENT
    for (size_t i = 0; i < n; i++) {
        cl_test_path(path, sizeof path, CL_TEST_DIR(state), ents[i].name);
        if (ents[i].dir) {
            assert_int_equal(mkdir(path, 0700), 0);
        } else {
            cl_test_write_file(path, "x", 1);
        }
    }
    /* A dangling symlink of a dead pid's tmp name is removed too. */
    snprintf(name, sizeof name, "link.tmp.%ld.9", dead);
    assert_int_equal(symlinkat("/nonexistent/x", fd, name), 0);
    assert_crawllog_ok(cl_metafile_cleanup_tmp(fd, &err));
    for (size_t i = 0; i < n; i++) {
        cl_test_path(path, sizeof path, CL_TEST_DIR(state), ents[i].name);
        assert_int_equal(cl_test_exists(path), !ents[i].removed);
    }
    cl_test_path(path, sizeof path, CL_TEST_DIR(state), name);
    assert_int_equal(cl_test_exists(path), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_metafile_round_trip),
        cl_test_unit_fp(test_metafile_reads_hand_built_file),
        cl_test_unit_fp(test_metafile_get_int_strict),
        cl_test_unit_fp(test_metafile_every_byte_flip_is_corrupt),
        cl_test_unit_fp(test_metafile_every_truncation_is_corrupt),
        cl_test_unit_fp(test_metafile_version_and_kind),
        cl_test_unit_fp(test_metafile_not_a_regular_file),
        cl_test_unit_fp(test_metafile_failpoint_each_site),
        cl_test_unit_fp(test_metafile_failpoint_read_and_tmp_collision),
        cl_test_unit_fp(test_metafile_symlink_refused),
        cl_test_unit_fp(test_metafile_cleanup_removes_dead_tmp_only),
    };
    return cmocka_run_group_tests_name("metafile", tests, NULL, NULL);
}
