/*
 * test_topic.c - topics on disk (libcrawllog/topic.c): create, list, read
 * metadata, add partitions, delete; name validation that writes nothing;
 * failpoint sweeps (fail the k-th I/O or allocation, k = 1, 2, ... until the
 * call succeeds) over create, delete and add_partitions, checking after each
 * that the topic is either absent or complete and that cleanup leaves no
 * staging or trash leftovers; symbolic links; corrupt metadata; cleanup of
 * dead processes' leftovers.  Built with -DCRAWLLOG_TESTING.
 *
 * The on-disk state is checked with plain system calls (helpers.h), not
 * through the module under test.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "metafile.h"
#include "topic.h"

#define DMODE 0755u
#define FMODE 0644u
#define SEG_BYTES "65536"

/* Upper bound on sweep iterations (a create of 3 partitions needs < 100). */
#define SWEEP_MAX 2000

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/* mkdir <test dir>/<sub> (if missing) and open it; path into buf. */
static int open_root(void **state, const char *sub, char *buf, size_t size)
{
    int fd;

    cl_test_path(buf, size, CL_TEST_DIR(state), sub);
    if (mkdir(buf, 0700) != 0) {
        assert_int_equal(errno, EEXIST);
    }
    fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* A conf with one override, to see it persisted. */
static crawllog_conf_t *make_conf(void)
{
    crawllog_conf_t *conf = NULL;

    assert_crawllog_ok(crawllog_conf_new(&conf));
    assert_crawllog_ok(
        crawllog_conf_set(conf, "segment.bytes", SEG_BYTES, NULL, 0));
    return conf;
}

static void assert_conf_value(const crawllog_conf_t *conf, const char *name,
                              const char *want)
{
    char buf[64];
    size_t size = sizeof buf;

    assert_non_null(conf);
    assert_crawllog_ok(crawllog_conf_get(conf, name, buf, &size));
    assert_string_equal(buf, want);
}

/* Entries of root/rel (0 if it does not exist). */
static size_t count_entries(const char *root, const char *rel)
{
    char path[4096];

    cl_test_path(path, sizeof path, root, rel);
    return cl_test_exists(path) ? cl_test_count_entries(path) : 0;
}

static int is_dir(const char *root, const char *rel)
{
    char path[4096];
    struct stat st;

    return lstat(cl_test_path(path, sizeof path, root, rel), &st) == 0 &&
           S_ISDIR(st.st_mode);
}

/* The topic exists whole: metadata readable with n partitions and the
 * override, exactly dirs 0..n-1 plus topic.meta. */
static void assert_complete(int rootfd, const char *root, const char *name,
                            int32_t n)
{
    struct cl_topic_meta meta;
    struct cl_err err = {""};
    char rel[512];

    assert_crawllog_ok(cl_topic_meta_read(rootfd, name, &meta, &err));
    assert_int_equal(meta.partitions, n);
    assert_conf_value(meta.conf, "segment.bytes", SEG_BYTES);
    cl_topic_meta_free(&meta);
    for (int32_t p = 0; p < n; p++) {
        snprintf(rel, sizeof rel, "topics/%s/%d", name, (int)p);
        assert_true(is_dir(root, rel));
    }
    snprintf(rel, sizeof rel, "topics/%s", name);
    assert_int_equal(count_entries(root, rel), (size_t)n + 1);
}

static void assert_absent(int rootfd, const char *root, const char *name)
{
    struct cl_topic_meta meta;
    struct cl_err err = {""};
    char rel[512], path[4096];

    assert_crawllog_rc(cl_topic_meta_read(rootfd, name, &meta, &err),
                       CRAWLLOG_ENOTOPIC);
    assert_null(meta.conf);
    snprintf(rel, sizeof rel, "topics/%s", name);
    assert_false(cl_test_exists(cl_test_path(path, sizeof path, root, rel)));
}

/* Exactly the names want[0..n) from cl_topic_list. */
static void assert_list(int rootfd, const char *const *want, size_t n)
{
    struct cl_err err = {""};
    char **names = (char **)&err;
    size_t count = 99;

    assert_crawllog_ok(cl_topic_list(rootfd, &names, &count, &err));
    assert_int_equal(count, n);
    if (n == 0) {
        assert_null(names);
    }
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(names[i], want[i]);
    }
    cl_io_listdir_free(names, count);
}

/* Arm "*=EIO@k" (with :persist if asked) with fresh hit counts. */
static void arm(uint64_t k, int persist)
{
    char spec[64];

    cl_fp_clear();
    snprintf(spec, sizeof spec, "*=EIO@%llu%s", (unsigned long long)k,
             persist ? ":persist" : "");
    assert_int_equal(cl_fp_set(spec), 0);
}

/* Disarm; returns how many failpoint hits (I/O and allocations) the call
 * made, so a sweep knows when k went past the last one. */
static uint64_t disarm(void)
{
    uint64_t hits = cl_fp_hits_total() + cl_fp_hits("malloc");

    cl_fp_clear();
    return hits;
}

/* ---------------------------------------------------------------------- */
/* Basic operations                                                        */
/* ---------------------------------------------------------------------- */

static void test_topic_create_read_list_delete(void **state)
{
    static const char *const both[] = {"a.b-c_1", "crawl"};
    static const char *const one[] = {"a.b-c_1"};
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    char root[4096];
    int rootfd = open_root(state, "r", root, sizeof root), fd = -5;

    assert_list(rootfd, NULL, 0); /* no topics/ yet */
    assert_crawllog_ok(
        cl_topic_create(rootfd, "crawl", 3, conf, DMODE, FMODE, &err));
    assert_complete(rootfd, root, "crawl", 3);
    assert_crawllog_ok(
        cl_topic_create(rootfd, "a.b-c_1", 1, conf, DMODE, FMODE, &err));
    assert_list(rootfd, both, 2);
    assert_int_equal(count_entries(root, "staging"), 0);
    assert_int_equal(count_entries(root, "topics"), 2);

    assert_crawllog_ok(cl_topic_open_dir(rootfd, "crawl", &fd, &err));
    assert_true(fd >= 0);
    assert_true(faccessat(fd, CL_TOPIC_META_NAME, F_OK, 0) == 0);
    close(fd);

    assert_crawllog_ok(cl_topic_delete(rootfd, "crawl", &err));
    assert_absent(rootfd, root, "crawl");
    assert_list(rootfd, one, 1);
    assert_int_equal(count_entries(root, "trash"), 0);
    assert_complete(rootfd, root, "a.b-c_1", 1);

    assert_crawllog_rc(cl_topic_delete(rootfd, "crawl", &err),
                       CRAWLLOG_ENOTOPIC);
    assert_non_null(strstr(err.msg, "crawl"));
    assert_crawllog_rc(cl_topic_open_dir(rootfd, "crawl", &fd, &err),
                       CRAWLLOG_ENOTOPIC);
    assert_int_equal(fd, -1);
    crawllog_conf_destroy(conf);
    close(rootfd);
}

static void test_topic_partition_bounds_and_long_name(void **state)
{
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    char root[4096], name[CRAWLLOG_TOPIC_NAME_MAX + 1];
    int rootfd = open_root(state, "r", root, sizeof root);

    /* The longest name: its trash entry must still fit NAME_MAX. */
    memset(name, 'n', CRAWLLOG_TOPIC_NAME_MAX);
    name[CRAWLLOG_TOPIC_NAME_MAX] = '\0';
    assert_crawllog_ok(
        cl_topic_create(rootfd, name, 2, conf, DMODE, FMODE, &err));
    assert_complete(rootfd, root, name, 2);
    assert_crawllog_ok(
        cl_topic_add_partitions(rootfd, name, 3, DMODE, FMODE, &err));
    assert_complete(rootfd, root, name, 3);
    assert_crawllog_ok(cl_topic_delete(rootfd, name, &err));
    assert_absent(rootfd, root, name);
    assert_int_equal(count_entries(root, "trash"), 0);

    /* The largest partition count. */
    assert_crawllog_ok(cl_topic_create(rootfd, "big", CRAWLLOG_PARTITIONS_MAX,
                                       conf, DMODE, FMODE, &err));
    assert_complete(rootfd, root, "big", CRAWLLOG_PARTITIONS_MAX);
    assert_crawllog_rc(cl_topic_add_partitions(rootfd, "big",
                                               CRAWLLOG_PARTITIONS_MAX + 1,
                                               DMODE, FMODE, &err),
                       CRAWLLOG_EINVAL);
    assert_crawllog_ok(cl_topic_delete(rootfd, "big", &err));
    assert_absent(rootfd, root, "big");
    crawllog_conf_destroy(conf);
    close(rootfd);
}

static void test_topic_add_partitions(void **state)
{
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    char root[4096], path[4096];
    int rootfd = open_root(state, "r", root, sizeof root);

    assert_crawllog_ok(
        cl_topic_create(rootfd, "t", 2, conf, DMODE, FMODE, &err));
    assert_crawllog_ok(
        cl_topic_add_partitions(rootfd, "t", 5, DMODE, FMODE, &err));
    assert_complete(rootfd, root, "t", 5);
    assert_crawllog_rc(
        cl_topic_add_partitions(rootfd, "t", 5, DMODE, FMODE, &err),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        cl_topic_add_partitions(rootfd, "t", 3, DMODE, FMODE, &err),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        cl_topic_add_partitions(rootfd, "t", 0, DMODE, FMODE, &err),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        cl_topic_add_partitions(rootfd, "nope", 9, DMODE, FMODE, &err),
        CRAWLLOG_ENOTOPIC);
    assert_complete(rootfd, root, "t", 5);

    /* An empty leftover dir (crash before the metadata rewrite) is fine. */
    assert_int_equal(
        mkdir(cl_test_path(path, sizeof path, root, "topics/t/5"), 0700), 0);
    assert_crawllog_ok(
        cl_topic_add_partitions(rootfd, "t", 7, DMODE, FMODE, &err));
    assert_complete(rootfd, root, "t", 7);

    /* A leftover that holds data is not silently adopted. */
    assert_int_equal(
        mkdir(cl_test_path(path, sizeof path, root, "topics/t/7"), 0700), 0);
    cl_test_write_file(cl_test_path(path, sizeof path, root,
                                    "topics/t/7/00000000000000000000.log"),
                       "x", 1);
    assert_crawllog_rc(
        cl_topic_add_partitions(rootfd, "t", 8, DMODE, FMODE, &err),
        CRAWLLOG_ECORRUPT);
    assert_non_null(strstr(err.msg, "topics/t/7"));
    {
        struct cl_topic_meta meta;
        assert_crawllog_ok(cl_topic_meta_read(rootfd, "t", &meta, &err));
        assert_int_equal(meta.partitions, 7);
        cl_topic_meta_free(&meta);
    }
    crawllog_conf_destroy(conf);
    close(rootfd);
}

static void test_topic_create_existing_is_untouched(void **state)
{
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    char root[4096], path[4096];
    int rootfd = open_root(state, "r", root, sizeof root);
    struct cl_test_snap *before, *after;

    assert_crawllog_ok(
        cl_topic_create(rootfd, "t", 2, conf, DMODE, FMODE, &err));
    cl_test_write_file(cl_test_path(path, sizeof path, root,
                                    "topics/t/0/00000000000000000000.log"),
                       "data", 4);
    before = cl_test_snap_take(cl_test_path(path, sizeof path, root, "topics"));
    assert_crawllog_rc(
        cl_topic_create(rootfd, "t", 5, conf, DMODE, FMODE, &err),
        CRAWLLOG_EEXIST);
    assert_non_null(strstr(err.msg, "\"t\" already exists"));
    after = cl_test_snap_take(path);
    assert_snap_equal(before, after);
    cl_test_snap_free(after);
    assert_int_equal(count_entries(root, "staging"), 0);

    /* Something else already under the name counts as existing too. */
    cl_test_write_file(cl_test_path(path, sizeof path, root, "topics/f"), "x",
                       1);
    assert_crawllog_rc(
        cl_topic_create(rootfd, "f", 1, conf, DMODE, FMODE, &err),
        CRAWLLOG_EEXIST);
    assert_int_equal(cl_test_file_size(path), 1);
    assert_int_equal(count_entries(root, "staging"), 0);
    cl_test_snap_free(before);
    crawllog_conf_destroy(conf);
    close(rootfd);
}

static void test_topic_bad_names_change_nothing(void **state)
{
    static const char *const bad[] = {
        "",    ".",      "..",     "../x",     "a/b",   "/abs",
        "x\n", "a b",    "%2e%2e", "\xc3\xa9", "tab\t", "a\\b",
        "*",   "name:1", "..\\..", "-\x01",    "x/..",  "./x",
    };
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    char root[4096], longname[CRAWLLOG_TOPIC_NAME_MAX + 2];
    int rootfd = open_root(state, "r", root, sizeof root), fd = 0;
    struct cl_test_snap *before;
    struct cl_topic_meta meta;

    assert_crawllog_ok(
        cl_topic_create(rootfd, "keep", 1, conf, DMODE, FMODE, &err));
    assert_crawllog_ok(cl_topic_delete(rootfd, "keep", &err));
    assert_crawllog_ok(
        cl_topic_create(rootfd, "keep", 1, conf, DMODE, FMODE, &err));
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    before = cl_test_snap_take(root);
    for (size_t i = 0; i <= sizeof bad / sizeof bad[0] + 1; i++) {
        const char *name = i < sizeof bad / sizeof bad[0]    ? bad[i]
                           : i == sizeof bad / sizeof bad[0] ? longname
                                                             : NULL;
        assert_crawllog_rc(
            cl_topic_create(rootfd, name, 1, conf, DMODE, FMODE, &err),
            CRAWLLOG_EINVAL);
        assert_crawllog_rc(cl_topic_delete(rootfd, name, &err),
                           CRAWLLOG_EINVAL);
        assert_crawllog_rc(
            cl_topic_add_partitions(rootfd, name, 2, DMODE, FMODE, &err),
            CRAWLLOG_EINVAL);
        assert_crawllog_rc(cl_topic_meta_read(rootfd, name, &meta, &err),
                           CRAWLLOG_EINVAL);
        assert_crawllog_rc(cl_topic_open_dir(rootfd, name, &fd, &err),
                           CRAWLLOG_EINVAL);
    }
    /* Bad partition counts and a missing conf: nothing written either. */
    assert_crawllog_rc(
        cl_topic_create(rootfd, "fresh", 0, conf, DMODE, FMODE, &err),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        cl_topic_create(rootfd, "fresh", -1, conf, DMODE, FMODE, &err),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(cl_topic_create(rootfd, "fresh",
                                       CRAWLLOG_PARTITIONS_MAX + 1, conf, DMODE,
                                       FMODE, &err),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        cl_topic_create(rootfd, "fresh", 1, NULL, DMODE, FMODE, &err),
        CRAWLLOG_EINVAL);
    assert_dir_unchanged(before, root);

    /* And in a root that has nothing at all yet. */
    close(rootfd);
    rootfd = open_root(state, "empty", root, sizeof root);
    assert_crawllog_rc(
        cl_topic_create(rootfd, "../x", 1, conf, DMODE, FMODE, &err),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        cl_topic_create(rootfd, "ok", 0, conf, DMODE, FMODE, &err),
        CRAWLLOG_EINVAL);
    assert_int_equal(count_entries(root, "."), 0);
    crawllog_conf_destroy(conf);
    close(rootfd);
}

static void test_topic_list_skips_junk(void **state)
{
    static const char *const want[] = {"...", "good"};
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    char root[4096], path[4096];
    int rootfd = open_root(state, "r", root, sizeof root);

    assert_crawllog_ok(
        cl_topic_create(rootfd, "good", 1, conf, DMODE, FMODE, &err));
    assert_crawllog_ok(
        cl_topic_create(rootfd, "...", 1, conf, DMODE, FMODE, &err));
    cl_test_write_file(cl_test_path(path, sizeof path, root, "topics/afile"),
                       "x", 1);
    assert_int_equal(
        mkdir(cl_test_path(path, sizeof path, root, "topics/bad name"), 0700),
        0);
    assert_int_equal(
        symlink("good", cl_test_path(path, sizeof path, root, "topics/link")),
        0);
    assert_list(rootfd, want, 2);
    crawllog_conf_destroy(conf);
    close(rootfd);
}

/* ---------------------------------------------------------------------- */
/* Failpoint sweeps                                                        */
/* ---------------------------------------------------------------------- */

/* After a (possibly failed) create of "swept" with 3 partitions: absent or
 * complete; returns 1 if complete. */
static int check_after_create(int rootfd, const char *root)
{
    char path[4096];

    if (cl_test_exists(cl_test_path(path, sizeof path, root, "topics/swept"))) {
        assert_complete(rootfd, root, "swept", 3);
        return 1;
    }
    assert_absent(rootfd, root, "swept");
    return 0;
}

static void sweep_create(void **state, int persist)
{
    crawllog_conf_t *conf = make_conf();
    int failed_absent = 0, failed_complete = 0, done = 0;

    for (uint64_t k = 1; k <= SWEEP_MAX && !done; k++) {
        struct cl_err err = {""};
        char root[4096];
        int rootfd = open_root(state, "sweep", root, sizeof root), rc;
        uint64_t hits;

        arm(k, persist);
        rc = cl_topic_create(rootfd, "swept", 3, conf, DMODE, FMODE, &err);
        hits = disarm();
        done = k > hits;
        if (rc == 0) {
            assert_true(done); /* only an unfailed run may succeed */
            assert_complete(rootfd, root, "swept", 3);
        } else {
            assert_false(done);
            assert_true(err.msg[0] != '\0');
            if (check_after_create(rootfd, root)) {
                failed_complete++;
            } else {
                failed_absent++;
            }
        }
        if (!persist) {
            /* A single fault cleans up after itself. */
            assert_int_equal(count_entries(root, "staging"), 0);
            assert_crawllog_ok(cl_topic_cleanup(rootfd, &err));
            assert_int_equal(count_entries(root, "trash"), 0);
            /* Nothing left blocks a retry. */
            int exists = is_dir(root, "topics/swept");
            assert_crawllog_rc(
                cl_topic_create(rootfd, "swept", 3, conf, DMODE, FMODE, &err),
                exists ? CRAWLLOG_EEXIST : 0);
            check_after_create(rootfd, root);
        }
        close(rootfd);
        cl_test_rmrf(root);
    }
    assert_true(done);
    assert_true(failed_absent > 10);
    assert_true(failed_complete >= 1); /* the final fsync of topics/ */
    crawllog_conf_destroy(conf);
}

static void test_topic_create_failpoint_sweep(void **state)
{
    sweep_create(state, 0);
}

static void test_topic_create_failpoint_sweep_persistent(void **state)
{
    sweep_create(state, 1);
}

static void test_topic_delete_failpoint_sweep(void **state)
{
    crawllog_conf_t *conf = make_conf();
    int failed_present = 0, swallowed = 0, done = 0;

    for (uint64_t k = 1; k <= SWEEP_MAX && !done; k++) {
        struct cl_err err = {""};
        char root[4096], path[4096];
        int rootfd = open_root(state, "sweep", root, sizeof root), rc;
        struct cl_test_snap *before, *after;
        uint64_t hits;

        assert_crawllog_ok(
            cl_topic_create(rootfd, "victim", 3, conf, DMODE, FMODE, &err));
        cl_test_write_file(
            cl_test_path(path, sizeof path, root,
                         "topics/victim/1/00000000000000000000.log"),
            "records", 7);
        cl_test_path(path, sizeof path, root, "topics/victim");
        before = cl_test_snap_take(path);
        arm(k, 0);
        rc = cl_topic_delete(rootfd, "victim", &err);
        hits = disarm();
        done = k > hits;
        if (cl_test_exists(path)) {
            /* Failed before the rename: the topic is exactly as it was. */
            assert_int_not_equal(rc, 0);
            after = cl_test_snap_take(path);
            assert_snap_equal(before, after);
            cl_test_snap_free(after);
            assert_complete(rootfd, root, "victim", 3);
            failed_present++;
        } else {
            assert_absent(rootfd, root, "victim");
            swallowed += rc == 0 && count_entries(root, "trash") > 0;
        }
        cl_test_snap_free(before);
        assert_crawllog_ok(cl_topic_cleanup(rootfd, &err));
        assert_int_equal(count_entries(root, "trash"), 0);
        assert_int_equal(count_entries(root, "staging"), 0);
        int present = cl_test_exists(path);
        assert_crawllog_rc(cl_topic_delete(rootfd, "victim", &err),
                           present ? 0 : CRAWLLOG_ENOTOPIC);
        assert_absent(rootfd, root, "victim");
        close(rootfd);
        cl_test_rmrf(root);
    }
    assert_true(done);
    assert_true(failed_present > 3);
    assert_true(swallowed > 3); /* removal failures left for cleanup */
    crawllog_conf_destroy(conf);
}

static void test_topic_add_partitions_failpoint_sweep(void **state)
{
    crawllog_conf_t *conf = make_conf();
    int done = 0;

    for (uint64_t k = 1; k <= SWEEP_MAX && !done; k++) {
        struct cl_err err = {""};
        struct cl_topic_meta meta;
        char root[4096];
        int rootfd = open_root(state, "sweep", root, sizeof root), rc;
        uint64_t hits;

        assert_crawllog_ok(
            cl_topic_create(rootfd, "t", 2, conf, DMODE, FMODE, &err));
        arm(k, 0);
        rc = cl_topic_add_partitions(rootfd, "t", 4, DMODE, FMODE, &err);
        hits = disarm();
        done = k > hits;
        assert_int_equal(rc == 0, done);
        assert_crawllog_ok(cl_topic_meta_read(rootfd, "t", &meta, &err));
        /* Every partition the metadata names exists. */
        for (int32_t p = 0; p < meta.partitions; p++) {
            char rel[64];
            snprintf(rel, sizeof rel, "topics/t/%d", (int)p);
            assert_true(is_dir(root, rel));
        }
        assert_true(meta.partitions == 2 || meta.partitions == 4);
        /* A retry completes what a failure left. */
        assert_crawllog_rc(
            cl_topic_add_partitions(rootfd, "t", 4, DMODE, FMODE, &err),
            meta.partitions == 4 ? CRAWLLOG_EINVAL : 0);
        cl_topic_meta_free(&meta);
        assert_crawllog_ok(cl_topic_cleanup(rootfd, &err));
        assert_complete(rootfd, root, "t", 4);
        close(rootfd);
        cl_test_rmrf(root);
    }
    assert_true(done);
    crawllog_conf_destroy(conf);
}

/* ---------------------------------------------------------------------- */
/* Symbolic links, corruption, cleanup                                     */
/* ---------------------------------------------------------------------- */

static void test_topic_symlinks_refused(void **state)
{
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    struct cl_topic_meta meta;
    char out[4096], root[4096], path[4096], target[4096];
    int outfd = open_root(state, "outside", out, sizeof out);
    int rootfd = open_root(state, "r", root, sizeof root), fd = 0;
    struct cl_test_snap *before;

    assert_crawllog_ok(
        cl_topic_create(outfd, "real", 2, conf, DMODE, FMODE, &err));
    cl_test_path(target, sizeof target, out, "topics/real");
    before = cl_test_snap_take(out);

    /* topics/evil -> outside/topics/real */
    assert_int_equal(
        mkdir(cl_test_path(path, sizeof path, root, "topics"), 0700), 0);
    assert_int_equal(
        symlink(target, cl_test_path(path, sizeof path, root, "topics/evil")),
        0);
    assert_crawllog_rc(cl_topic_meta_read(rootfd, "evil", &meta, &err),
                       CRAWLLOG_ELOOP);
    assert_crawllog_rc(cl_topic_open_dir(rootfd, "evil", &fd, &err),
                       CRAWLLOG_ELOOP);
    assert_crawllog_rc(cl_topic_delete(rootfd, "evil", &err), CRAWLLOG_ELOOP);
    assert_crawllog_rc(
        cl_topic_add_partitions(rootfd, "evil", 5, DMODE, FMODE, &err),
        CRAWLLOG_ELOOP);
    assert_crawllog_rc(
        cl_topic_create(rootfd, "evil", 1, conf, DMODE, FMODE, &err),
        CRAWLLOG_EEXIST);
    assert_list(rootfd, NULL, 0);
    assert_crawllog_ok(cl_topic_cleanup(rootfd, &err));
    assert_true(cl_test_file_size(path) > 0); /* the link is still there */

    /* trash/ itself a link: delete refuses before moving anything. */
    assert_crawllog_ok(
        cl_topic_create(rootfd, "t", 1, conf, DMODE, FMODE, &err));
    assert_int_equal(
        symlink(target, cl_test_path(path, sizeof path, root, "trash")), 0);
    assert_crawllog_rc(cl_topic_delete(rootfd, "t", &err), CRAWLLOG_ELOOP);
    assert_complete(rootfd, root, "t", 1);
    assert_int_equal(unlink(path), 0);

    /* Links inside a deleted topic and in trash/ are removed, not followed. */
    assert_int_equal(symlink(target, cl_test_path(path, sizeof path, root,
                                                  "topics/t/0/dirlink")),
                     0);
    {
        char file[4096];
        cl_test_path(file, sizeof file, target, CL_TOPIC_META_NAME);
        assert_int_equal(symlink(file, cl_test_path(path, sizeof path, root,
                                                    "topics/t/0/filelink")),
                         0);
    }
    assert_crawllog_ok(cl_topic_delete(rootfd, "t", &err));
    assert_absent(rootfd, root, "t");
    assert_int_equal(
        symlink(target, cl_test_path(path, sizeof path, root, "trash/junk")),
        0);
    assert_crawllog_ok(cl_topic_cleanup(rootfd, &err));
    assert_int_equal(count_entries(root, "trash"), 0);
    close(rootfd);

    /* topics/ itself a link. */
    rootfd = open_root(state, "r2", root, sizeof root);
    cl_test_path(target, sizeof target, out, "topics");
    assert_int_equal(
        symlink(target, cl_test_path(path, sizeof path, root, "topics")), 0);
    assert_crawllog_rc(cl_topic_meta_read(rootfd, "real", &meta, &err),
                       CRAWLLOG_ELOOP);
    assert_crawllog_rc(cl_topic_delete(rootfd, "real", &err), CRAWLLOG_ELOOP);
    assert_crawllog_rc(
        cl_topic_create(rootfd, "new", 1, conf, DMODE, FMODE, &err),
        CRAWLLOG_ELOOP);
    assert_int_equal(count_entries(root, "staging"), 0);
    {
        char **names = (char **)&err;
        size_t count = 5;
        assert_crawllog_rc(cl_topic_list(rootfd, &names, &count, &err),
                           CRAWLLOG_ELOOP);
        assert_null(names);
        assert_int_equal(count, 0);
    }
    assert_dir_unchanged(before, out);
    crawllog_conf_destroy(conf);
    close(rootfd);
    close(outfd);
}

static void write_meta(int rootfd, const char *body)
{
    struct cl_err err = {""};
    int fd = -1;

    assert_crawllog_ok(cl_topic_open_dir(rootfd, "t", &fd, &err));
    assert_crawllog_ok(cl_metafile_write(fd, CL_TOPIC_META_NAME, "m",
                                         CL_TOPIC_META_KIND, body, 0600, &err));
    close(fd);
}

static void test_topic_meta_corrupt(void **state)
{
    static const char *const bad[] = {
        "segment.bytes=65536\n",
        "partitions=0\n",
        "partitions=10001\n",
        "partitions=-1\n",
        "partitions=2x\n",
        "partitions=2\npartitions=2\n",
        "partitions=2\nbogus.key=1\n",
        "partitions=2\nsegment.bytes=12\n",
        "partitions=2\nlog.dir.create=true\n",
        "partitions=2\nsegment.bytes\n",
    };
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    struct cl_topic_meta meta;
    char root[4096], path[4096];
    int rootfd = open_root(state, "r", root, sizeof root);

    assert_crawllog_ok(
        cl_topic_create(rootfd, "t", 2, conf, DMODE, FMODE, &err));
    cl_test_path(path, sizeof path, root, "topics/t/" CL_TOPIC_META_NAME);
    cl_test_flip_byte(path, 3, 0x01);
    assert_crawllog_rc(cl_topic_meta_read(rootfd, "t", &meta, &err),
                       CRAWLLOG_ECORRUPT);
    assert_non_null(strstr(err.msg, "topics/t/topic.meta"));
    assert_null(meta.conf);
    assert_crawllog_rc(
        cl_topic_add_partitions(rootfd, "t", 3, DMODE, FMODE, &err),
        CRAWLLOG_ECORRUPT);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_meta(rootfd, bad[i]);
        assert_crawllog_rc(cl_topic_meta_read(rootfd, "t", &meta, &err),
                           CRAWLLOG_ECORRUPT);
        assert_non_null(strstr(err.msg, "topics/t/topic.meta"));
        assert_null(meta.conf);
    }
    /* Only a partition count: every property takes its default. */
    write_meta(rootfd, "partitions=2\n");
    assert_crawllog_ok(cl_topic_meta_read(rootfd, "t", &meta, &err));
    assert_int_equal(meta.partitions, 2);
    assert_conf_value(meta.conf, "segment.bytes", "1073741824");
    cl_topic_meta_free(&meta);
    assert_null(meta.conf);
    /* Missing metadata in an existing topic dir is damage. */
    assert_int_equal(unlink(path), 0);
    assert_crawllog_rc(cl_topic_meta_read(rootfd, "t", &meta, &err),
                       CRAWLLOG_ECORRUPT);
    assert_non_null(strstr(err.msg, "topics/t/topic.meta: missing"));
    crawllog_conf_destroy(conf);
    close(rootfd);
}

static void test_topic_cleanup_leftovers(void **state)
{
    crawllog_conf_t *conf = make_conf();
    struct cl_err err = {""};
    char root[4096], path[4096], rel[256], mine[64], deadtmp[256], mytmp[256];
    long dead = cl_test_dead_pid(), self = (long)getpid();
    int rootfd = open_root(state, "r", root, sizeof root);

    assert_crawllog_ok(
        cl_topic_create(rootfd, "t", 2, conf, DMODE, FMODE, &err));
    /* staging: a dead process's half-built topic, ours, and junk. */
    snprintf(rel, sizeof rel, "staging/%ld.1.abcd", dead);
    assert_int_equal(mkdir(cl_test_path(path, sizeof path, root, rel), 0700),
                     0);
    snprintf(rel, sizeof rel, "staging/%ld.1.abcd/0", dead);
    assert_int_equal(mkdir(cl_test_path(path, sizeof path, root, rel), 0700),
                     0);
    snprintf(rel, sizeof rel, "staging/%ld.1.abcd/0/f", dead);
    cl_test_write_file(cl_test_path(path, sizeof path, root, rel), "x", 1);
    snprintf(mine, sizeof mine, "%ld.2.ef", self);
    snprintf(rel, sizeof rel, "staging/%s", mine);
    assert_int_equal(mkdir(cl_test_path(path, sizeof path, root, rel), 0700),
                     0);
    assert_int_equal(
        mkdir(cl_test_path(path, sizeof path, root, "staging/notapid"), 0700),
        0);
    /* trash: a partly removed topic and a stray file. */
    assert_int_equal(
        mkdir(cl_test_path(path, sizeof path, root, "trash"), 0700), 0);
    assert_int_equal(
        mkdir(cl_test_path(path, sizeof path, root, "trash/x.1.2"), 0700), 0);
    assert_int_equal(
        mkdir(cl_test_path(path, sizeof path, root, "trash/x.1.2/0"), 0700), 0);
    cl_test_write_file(
        cl_test_path(path, sizeof path, root, "trash/x.1.2/0/seg.log"), "x", 1);
    cl_test_write_file(cl_test_path(path, sizeof path, root, "trash/stray"),
                       "x", 1);
    /* Stale metadata tmp files in a topic dir. */
    snprintf(deadtmp, sizeof deadtmp, "topics/t/topic.meta.tmp.%ld.0", dead);
    cl_test_write_file(cl_test_path(path, sizeof path, root, deadtmp), "x", 1);
    snprintf(mytmp, sizeof mytmp, "topics/t/topic.meta.tmp.%ld.1", self);
    cl_test_write_file(cl_test_path(path, sizeof path, root, mytmp), "x", 1);

    assert_crawllog_ok(cl_topic_cleanup(rootfd, &err));
    assert_int_equal(count_entries(root, "staging"), 2);
    snprintf(rel, sizeof rel, "staging/%s", mine);
    assert_true(is_dir(root, rel));
    assert_true(is_dir(root, "staging/notapid"));
    assert_int_equal(count_entries(root, "trash"), 0);
    assert_false(
        cl_test_exists(cl_test_path(path, sizeof path, root, deadtmp)));
    assert_true(cl_test_exists(cl_test_path(path, sizeof path, root, mytmp)));
    assert_int_equal(unlink(path), 0);
    assert_complete(rootfd, root, "t", 2);
    /* An empty root is fine. */
    close(rootfd);
    rootfd = open_root(state, "empty", root, sizeof root);
    assert_crawllog_ok(cl_topic_cleanup(rootfd, &err));
    assert_int_equal(count_entries(root, "."), 0);
    crawllog_conf_destroy(conf);
    close(rootfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_topic_create_read_list_delete),
        cl_test_unit_fp(test_topic_partition_bounds_and_long_name),
        cl_test_unit_fp(test_topic_add_partitions),
        cl_test_unit_fp(test_topic_create_existing_is_untouched),
        cl_test_unit_fp(test_topic_bad_names_change_nothing),
        cl_test_unit_fp(test_topic_list_skips_junk),
        cl_test_unit_fp(test_topic_create_failpoint_sweep),
        cl_test_unit_fp(test_topic_create_failpoint_sweep_persistent),
        cl_test_unit_fp(test_topic_delete_failpoint_sweep),
        cl_test_unit_fp(test_topic_add_partitions_failpoint_sweep),
        cl_test_unit_fp(test_topic_symlinks_refused),
        cl_test_unit_fp(test_topic_meta_corrupt),
        cl_test_unit_fp(test_topic_cleanup_leftovers),
    };
    return cmocka_run_group_tests_name("topic", tests, NULL, NULL);
}
