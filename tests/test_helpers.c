/*
 * test_helpers.c - the shared test helpers themselves (tests/helpers.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static void test_helpers_tmpdir_is_fresh_and_removed(void **state)
{
    void *st = NULL;
    char path[4096], sub[4096], f[4096];
    struct stat sb;

    (void)state;
    assert_int_equal(cl_test_tmpdir_setup(&st), 0);
    snprintf(path, sizeof(path), "%s", CL_TEST_DIR(&st));
    assert_non_null(strstr(path, "crawllog-test-"));
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* Make removal hard: nested dirs without permissions. */
    cl_test_path(sub, sizeof(sub), path, "a");
    assert_int_equal(mkdir(sub, 0700), 0);
    cl_test_path(f, sizeof(f), sub, "b");
    assert_int_equal(mkdir(f, 0700), 0);
    cl_test_path(f, sizeof(f), f, "file");
    cl_test_write_file(f, "x", 1);
    cl_test_path(f, sizeof(f), sub, "b");
    assert_int_equal(chmod(f, 0), 0);
    assert_int_equal(chmod(sub, 0), 0);
    cl_test_path(f, sizeof(f), path, "link");
    assert_int_equal(symlink("/etc/passwd", f), 0);
    assert_int_equal(cl_test_tmpdir_teardown(&st), 0);
    assert_null(st);
    assert_int_equal(lstat(path, &sb), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(lstat("/etc/passwd", &sb), 0); /* link not followed */
}

static void test_helpers_file_round_trip(void **state)
{
    char p[4096];
    size_t len = 0;
    unsigned char *buf;

    cl_test_path(p, sizeof(p), CL_TEST_DIR(state), "f");
    cl_test_write_file(p, "hello", 5);
    assert_int_equal(cl_test_file_size(p), 5);
    buf = cl_test_read_file(p, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(buf[5], 0);
    free(buf);
    cl_test_flip_byte(p, 1, 0x20);
    buf = cl_test_read_file(p, NULL);
    assert_string_equal((char *)buf, "hEllo");
    free(buf);
    cl_test_truncate(p, 2);
    assert_int_equal(cl_test_file_size(p), 2);
    cl_test_truncate(p, 4);
    buf = cl_test_read_file(p, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "hE\0\0", 4);
    free(buf);
    assert_true(cl_test_exists(p));
    cl_test_path(p, sizeof(p), CL_TEST_DIR(state), "missing");
    assert_false(cl_test_exists(p));
}

static void test_helpers_snapshot_detects_changes(void **state)
{
    const char *d = CL_TEST_DIR(state);
    char p[4096], diff[1024];
    struct cl_test_snap *a, *b;

    cl_test_path(p, sizeof(p), d, "f");
    cl_test_write_file(p, "abc", 3);
    a = cl_test_snap_take(d);
    b = cl_test_snap_take(d);
    assert_int_equal(cl_test_snap_count(a), 2);
    assert_true(cl_test_snap_equal(a, b, diff, sizeof(diff)));
    assert_string_equal(diff, "");
    cl_test_snap_free(b);

    /* Same size, different content, mtime restored: still detected. */
    {
        struct stat st;
        struct timespec ts[2];
        assert_int_equal(stat(p, &st), 0);
        cl_test_flip_byte(p, 0, 1);
        ts[0] = st.st_atim;
        ts[1] = st.st_mtim;
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    }
    b = cl_test_snap_take(d);
    assert_false(cl_test_snap_equal(a, b, diff, sizeof(diff)));
    assert_non_null(strstr(diff, "changed: f (content)"));
    cl_test_snap_free(b);

    cl_test_path(p, sizeof(p), d, "g");
    cl_test_write_file(p, "", 0);
    b = cl_test_snap_take(d);
    assert_false(cl_test_snap_equal(a, b, diff, sizeof(diff)));
    assert_non_null(strstr(diff, "added: g"));
    assert_false(cl_test_snap_equal(b, a, diff, sizeof(diff)));
    assert_non_null(strstr(diff, "removed: g"));
    cl_test_snap_free(b);

    assert_int_equal(chmod(p, 0644), 0);
    cl_test_snap_free(a);
    a = cl_test_snap_take(d);
    assert_int_equal(chmod(p, 0600), 0);
    b = cl_test_snap_take(d);
    assert_false(cl_test_snap_equal(a, b, diff, 8)); /* tiny diff buffer */
    assert_true(strlen(diff) < 8);
    cl_test_snap_free(a);
    cl_test_snap_free(b);

    cl_test_path(p, sizeof(p), d, "nonexistent");
    a = cl_test_snap_take(p);
    assert_int_equal(cl_test_snap_count(a), 0);
    cl_test_snap_free(a);
}

static void child_ok(void *arg)
{
    int *p = arg;
    cl_test_check(*p == 42);
}

static void child_bad(void *arg)
{
    int *p = arg;
    cl_test_check(*p == 43);
}

static void child_kill(void *arg)
{
    (void)arg;
    raise(SIGKILL);
}

static void child_rc(void *arg)
{
    (void)arg;
    assert_crawllog_ok(CRAWLLOG_EIO);
}

static void test_helpers_fork_run(void **state)
{
    int v = 42;
    int st;

    (void)state;
    st = cl_test_fork_run(child_ok, &v);
    cl_test_assert_exit_ok(st);
    st = cl_test_fork_run(child_bad, &v);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), CL_TEST_CHILD_FAILED);
    st = cl_test_fork_run(child_kill, &v);
    cl_test_assert_killed_by(st, SIGKILL);
    st = cl_test_fork_run(child_rc, &v);
    assert_int_equal(WEXITSTATUS(st), CL_TEST_CHILD_FAILED);
    assert_false(cl_test_in_child());
}

static void test_helpers_rand_is_xorshift64star(void **state)
{
    uint64_t s = 1, s2;
    uint64_t seed = cl_test_seed();

    (void)state;
    /* Reference values computed independently (xorshift64*, state 1). */
    assert_true(cl_test_rand(&s) == 0x47e4ce4b896cdd1dULL);
    assert_true(s == 0x2000001ULL);
    assert_true(cl_test_seed() == seed);
    s = 0;
    s2 = 0;
    assert_true(cl_test_rand(&s) == cl_test_rand(&s2));
    assert_true(s != 0);
    for (int i = 0; i < 1000; i++) {
        assert_true(cl_test_rand_below(&s, 7) < 7);
    }
}

static void test_helpers_rc_macros(void **state)
{
    (void)state;
    assert_crawllog_ok(CRAWLLOG_OK);
    assert_crawllog_rc(CRAWLLOG_EINVAL, CRAWLLOG_EINVAL);
}

/* "<8 hex digits> <input>": the expected value, then the input field. */
static const char *hex8_prefix(const char *line, struct cl_test_vector *v)
{
    char *end;
    unsigned long x = strtoul(line, &end, 16);

    if (end != line + 8 || *end != ' ') {
        return NULL;
    }
    v->expected = (uint32_t)x;
    return end + 1;
}

static void test_helpers_vectors_load(void **state)
{
    static const char good[] = "# comment\n\n0000000a hex:0aFf\n"
                               "ffffffff ascii:a b\n00000000 hex:";
    static const char *const bad[] = {"00000001 hex:0\n", "00000001 hex:0g\n",
                                      "00000001 ascii\n", "1 hex:00\n"};
    static struct cl_test_vectors vs = {.prefix = hex8_prefix};
    char p[4096];

    vs.path = cl_test_path(p, sizeof(p), CL_TEST_DIR(state), "v.txt");
    cl_test_write_file(p, good, strlen(good));
    assert_int_equal(cl_test_vectors_load(&vs), 0);
    assert_int_equal(vs.n, 3);
    assert_int_equal(vs.v[0].line, 3);
    assert_int_equal(vs.v[0].expected, 10);
    assert_int_equal(vs.v[0].len, 2);
    assert_memory_equal(vs.v[0].data, "\x0a\xff", 2);
    assert_int_equal(vs.v[1].line, 4);
    assert_int_equal(vs.v[1].expected, 0xffffffffu);
    assert_int_equal(vs.v[1].len, 3);
    assert_memory_equal(vs.v[1].data, "a b", 3);
    assert_int_equal(vs.v[2].line, 5); /* no final newline */
    assert_int_equal(vs.v[2].len, 0);
    assert_int_equal(cl_test_vectors_free(&vs), 0);
    assert_int_equal(vs.n, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cl_test_write_file(p, bad[i], strlen(bad[i]));
        assert_int_equal(cl_test_vectors_load(&vs), -1);
        assert_int_equal(vs.n, 0);
    }
    cl_test_path(p, sizeof(p), CL_TEST_DIR(state), "missing.txt"); /* vs.path */
    assert_int_equal(cl_test_vectors_load(&vs), -1);
    assert_int_equal(cl_test_hexval('F'), 15);
    assert_int_equal(cl_test_hexval('g'), -1);
}

static void copy_fifo(void *arg)
{
    const char *d = arg;
    char a[4096], b[4096];

    cl_test_path(a, sizeof(a), d, "fifo");
    cl_test_path(b, sizeof(b), d, "fifo2");
    cl_test_check(mkfifo(a, 0600) == 0);
    cl_test_copy_tree(a, b);
}

static void test_helpers_copy_tree_and_count(void **state)
{
    const char *d = CL_TEST_DIR(state);
    char src[4096], dst[4096], p[4096];
    struct stat st;
    void *buf;
    mode_t um = umask(0);

    umask(um);
    cl_test_path(src, sizeof(src), d, "src");
    cl_test_path(dst, sizeof(dst), d, "dst");
    assert_int_equal(mkdir(src, 0750), 0);
    cl_test_write_file(cl_test_path(p, sizeof(p), src, "f"), "data", 4);
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(mkdir(cl_test_path(p, sizeof(p), src, "sub"), 0700), 0);
    cl_test_write_file(cl_test_path(p, sizeof(p), src, "sub/g"), "", 0);
    cl_test_copy_tree(src, dst);
    assert_int_equal(cl_test_count_entries(dst), 2);
    assert_int_equal(
        cl_test_count_entries(cl_test_path(p, sizeof(p), dst, "sub")), 1);
    buf = cl_test_read_file(cl_test_path(p, sizeof(p), dst, "f"), NULL);
    assert_string_equal((char *)buf, "data");
    free(buf);
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(lstat(dst, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750 & ~um);
    /* Anything but directories and regular files fails. */
    assert_int_equal(WEXITSTATUS(cl_test_fork_run(copy_fifo, (void *)d)),
                     CL_TEST_CHILD_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers_tmpdir_is_fresh_and_removed),
        cl_test_unit_tmpdir(test_helpers_file_round_trip),
        cl_test_unit_tmpdir(test_helpers_snapshot_detects_changes),
        cmocka_unit_test(test_helpers_fork_run),
        cmocka_unit_test(test_helpers_rand_is_xorshift64star),
        cmocka_unit_test(test_helpers_rc_macros),
        cl_test_unit_tmpdir(test_helpers_vectors_load),
        cl_test_unit_tmpdir(test_helpers_copy_tree_and_count),
    };
    return cmocka_run_group_tests_name("helpers", tests, NULL, NULL);
}
