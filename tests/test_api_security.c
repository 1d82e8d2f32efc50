/*
 * test_api_security.c - hostile input from the file system's point of view
 * (reliability.md 4.11, T10), through the public API only: topic names that
 * try to escape or confuse (every API call refuses them with
 * CRAWLLOG_EINVAL and nothing on disk changes), names that look odd but are
 * valid, symbolic links planted anywhere below the data directory (refused,
 * and the link's target - a canary outside - is never touched), the
 * permission bits of everything created under two umasks, and the checks on
 * the data directory and its parent.
 */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 INT64_C(1700000000000)

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/* <test dir>/data and <test dir>/outside (a canary the library must never
 * touch). */
struct dirs {
    char data[4096];
    char outside[4096];
};

static void dirs_init(void **state, struct dirs *d)
{
    cl_test_path(d->data, sizeof(d->data), CL_TEST_DIR(state), "data");
    cl_test_path(d->outside, sizeof(d->outside), CL_TEST_DIR(state),
                 "outside");
}

/* Open must fail with want; returns nothing, checks log stayed NULL. */
static void open_fails(const char *dir, const crawllog_conf_t *conf, int want)
{
    crawllog_t *log = (crawllog_t *)(uintptr_t)1;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_open(&log, dir, conf, errstr, sizeof(errstr));
    if (rc != want) {
        crawllog_close(rc == 0 ? log : NULL);
        cl_test_failf_at(__FILE__, __LINE__,
                         "crawllog_open %s gave %s (%s), expected %s", dir,
                         crawllog_err_name(rc), errstr,
                         crawllog_err_name(want));
    }
    assert_null(log);
    assert_true(errstr[0] != '\0');
}

/* Append n one-record batches to topic/partition; values "v<i>". */
static void append_n(crawllog_t *log, const char *topic, int32_t partition,
                     int n, size_t vlen)
{
    static char value[8192];
    assert_true(vlen <= sizeof(value));
    for (int i = 0; i < n; i++) {
        crawllog_record_t r;
        memset(&r, 0, sizeof(r));
        memset(value, 'a' + i % 26, vlen);
        r.value = value;
        r.value_len = vlen;
        r.timestamp = T0 + i;
        assert_crawllog_ok_log(log, crawllog_append(log, topic, partition,
                                                    &r, 1,
                                                    CRAWLLOG_SYNC_WRITTEN,
                                                    NULL));
    }
}

/* Number of records readable from topic/partition (checks the values). */
static int64_t count_records(crawllog_t *log, const char *topic,
                             int32_t partition)
{
    crawllog_reader_t *rd;
    const crawllog_msg_t *msg;
    int64_t n = 0;
    assert_crawllog_ok_log(log,
                           crawllog_reader_new(&rd, log, topic, partition));
    for (;;) {
        assert_crawllog_ok(crawllog_reader_next(rd, &msg));
        if (msg == NULL) {
            break;
        }
        assert_int_equal(crawllog_msg_offset(msg), n);
        n++;
    }
    crawllog_reader_destroy(rd);
    return n;
}

/* Like count_records, but returns a read error instead of failing. */
static int read_all(crawllog_t *log, const char *topic, int32_t partition)
{
    crawllog_reader_t *rd;
    const crawllog_msg_t *msg;
    int n = 0;
    int rc = crawllog_reader_new(&rd, log, topic, partition);
    while (rc == 0) {
        rc = crawllog_reader_next(rd, &msg);
        if (rc == 0 && msg == NULL) {
            break;
        }
        if (rc == 0) {
            assert_int_equal(crawllog_msg_offset(msg), n);
            n++;
        }
    }
    crawllog_reader_destroy(rd);
    return rc != 0 ? rc : n;
}

/* A data dir with topic "t" (2 partitions, small segments) holding data
 * in several segments of partition 0 and one of partition 1. */
static void make_populated(const char *dir)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 2, "segment.bytes", "4096",
                         "index.interval.bytes", "100", NULL);
    append_n(log, "t", 0, 30, 300);
    append_n(log, "t", 1, 3, 10);
    assert_crawllog_ok(crawllog_close(log));
}

/* Replace path (file or tree) by a symlink to target. */
static void replace_by_symlink(const char *path, const char *target)
{
    cl_test_rmrf(path);
    if (symlink(target, path) != 0) {
        cl_test_failf_at(__FILE__, __LINE__, "symlink %s -> %s: %s", path,
                         target, strerror(errno));
    }
}

/* Populate data/ (make_populated), copy data/<rel> to outside/<name> (a
 * canary) and replace data/<rel> by a symlink to the copy.  Returns a
 * snapshot of outside/ taken then. */
static struct cl_test_snap *link_outside(const struct dirs *d, const char *rel,
                                         const char *name)
{
    char path[8192], target[8192];
    make_populated(d->data);
    cl_test_check(mkdir(d->outside, 0700) == 0);
    cl_test_path(path, sizeof(path), d->data, rel);
    cl_test_path(target, sizeof(target), d->outside, name);
    cl_test_copy_tree(path, target);
    replace_by_symlink(path, target);
    return cl_test_snap_take(d->outside);
}

/* rc must be one of the two refusals of a symlinked topic or partition. */
#define assert_refused(expr)                                                   \
    do {                                                                       \
        int refused_rc_ = (expr);                                              \
        if (refused_rc_ != CRAWLLOG_ELOOP &&                                   \
            refused_rc_ != CRAWLLOG_ENOTOPIC) {                                \
            cl_test_failf_at(__FILE__, __LINE__,                               \
                             "%s gave %s, expected CRAWLLOG_ELOOP or "         \
                             "CRAWLLOG_ENOTOPIC",                              \
                             #expr, crawllog_err_name(refused_rc_));           \
        }                                                                      \
    } while (0)

/* ---------------------------------------------------------------------- */
/* Topic names                                                             */
/* ---------------------------------------------------------------------- */

static char name_250[251], name_300[301], name_249[250];

static const char *const hostile[] = {
    "", ".", "..", "../x", "../../etc/passwd", "./x", "x/..", "a/b", "/abs",
    "/", "t/0", "t/../t", "..\\x", "a\\b", "\\", name_250, name_300,
    "\xc0\xae\xc0\xae",          /* overlong UTF-8 ".." */
    "\xc0\xaf",                  /* overlong UTF-8 "/" */
    "\xe0\x80\xae",              /* 3-byte overlong "." */
    "\xef\xbc\x8f",              /* fullwidth solidus */
    "\xe2\x80\xae" "abc",        /* right-to-left override */
    "caf\xc3\xa9", "\xff", "\x80", "%2e%2e", "%2f", "a%2fb", "%00", " ",
    "  ", "a b", " a", "a ", "\t", "a\tb", "\n", "a\n", "\r", "\x01",
    "\x7f", "a:b", ":", "*", "?", "a*", "a?b", "[a]", "{a}", "a|b", "a;b",
    "a&b", "$HOME", "`id`", "'a'", "\"a\"", "<a>", "a>b", "a,b", "a=b",
    "a+b", "a@b", "a#b", "a!b", "~", "~root", "a~", "a^b", "(a)",
};

static void init_names(void)
{
    memset(name_250, 'n', 250);
    name_250[250] = '\0';
    memset(name_300, 'x', 300);
    name_300[300] = '\0';
    memset(name_249, 'v', 249);
    name_249[249] = '\0';
}

/* Every call that takes a topic name refuses t with CRAWLLOG_EINVAL. */
static void all_calls_refuse(crawllog_t *log, const char *t)
{
    crawllog_reader_t *rd;
    crawllog_conf_t *conf;
    crawllog_record_t r;
    int64_t s, e;
    int32_t np;
    memset(&r, 0, sizeof(r));
    r.value = "x";
    r.value_len = 1;
    assert_crawllog_rc_log(log, crawllog_topic_create(log, t, 1, NULL),
                           CRAWLLOG_EINVAL);
    for (int sync = CRAWLLOG_SYNC_NONE; sync <= CRAWLLOG_SYNC_DURABLE;
         sync++) {
        assert_crawllog_rc_log(log, crawllog_append(log, t, 0, &r, 1, sync,
                                                    NULL),
                               CRAWLLOG_EINVAL);
    }
    assert_crawllog_rc_log(log, crawllog_topic_describe(log, t, &np, &conf),
                           CRAWLLOG_EINVAL);
    assert_null(conf);
    assert_crawllog_rc_log(log, crawllog_topic_delete(log, t),
                           CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(log, crawllog_topic_add_partitions(log, t, 3),
                           CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(log, crawllog_partition_offsets(log, t, 0, &s, &e),
                           CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(log, crawllog_reader_new(&rd, log, t, 0),
                           CRAWLLOG_EINVAL);
    assert_null(rd);
}

/* Each hostile name, and NULL, is refused by every call, and neither the
 * data directory nor its parent changes (an existing topic "t" and its
 * data included). */
static void test_api_security_hostile_topic_names(void **state)
{
    struct dirs d;
    init_names();
    dirs_init(state, &d);
    size_t n = sizeof(hostile) / sizeof(hostile[0]);
    assert_true(n >= 50);
    make_populated(d.data);
    crawllog_t *log = cl_test_open(d.data, NULL);
    struct cl_test_snap *before = cl_test_snap_take(CL_TEST_DIR(state));
    for (size_t i = 0; i < n; i++) {
        all_calls_refuse(log, hostile[i]);
    }
    all_calls_refuse(log, NULL);
    /* Nothing was buffered by the SYNC_NONE attempts either. */
    assert_crawllog_ok(crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
    struct cl_test_snap *after = cl_test_snap_take(CL_TEST_DIR(state));
    assert_snap_equal(before, after);
    cl_test_snap_free(after);
    /* Only "t" exists, with its data. */
    char **names;
    size_t count;
    assert_crawllog_ok(crawllog_topic_list(log, &names, &count));
    assert_int_equal(count, 1);
    assert_string_equal(names[0], "t");
    crawllog_topic_list_free(names, count);
    assert_int_equal(count_records(log, "t", 0), 30);
    assert_crawllog_ok(crawllog_close(log));
    assert_dir_unchanged(before, CL_TEST_DIR(state));
}

/* Odd-looking names that are valid ([A-Za-z0-9._-]{1,249}, not . or ..)
 * work end to end, live exactly at topics/<name>, survive a reopen (its
 * clean-up of leftovers included) and leave a clean directory. */
static void test_api_security_odd_valid_names(void **state)
{
    static const char *const names[] = {
        "-lead", "...", "topics", "staging", "trash", "crawllog.meta",
        "crawllog.lock", "a.tmp.1.2", "x.tmp.99999999.1", "_", "-", "..a",
        "a..", "A-Z_0.9", name_249, "0", "00000000000000000000.log",
    };
    const size_t n = sizeof(names) / sizeof(names[0]);
    struct dirs d;
    char path[8192], rel[512];
    init_names();
    dirs_init(state, &d);
    crawllog_t *log = cl_test_open(d.data, NULL);
    for (size_t i = 0; i < n; i++) {
        assert_crawllog_ok_log(log, crawllog_topic_create(log, names[i], 1,
                                                          NULL));
        append_n(log, names[i], 0, (int)i + 1, 5);
        snprintf(rel, sizeof(rel), "topics/%s/0", names[i]);
        assert_true(cl_test_exists(cl_test_path(path, sizeof(path), d.data,
                                                rel)));
    }
    assert_crawllog_ok(crawllog_close(log));
    log = cl_test_open(d.data, NULL);
    char **list;
    size_t count;
    assert_crawllog_ok(crawllog_topic_list(log, &list, &count));
    assert_int_equal(count, n);
    crawllog_topic_list_free(list, count);
    for (size_t i = 0; i < n; i++) {
        int32_t np = 0;
        assert_crawllog_ok_log(log, crawllog_topic_describe(log, names[i],
                                                            &np, NULL));
        assert_int_equal(np, 1);
        assert_int_equal(count_records(log, names[i], 0), (int64_t)i + 1);
    }
    cl_test_close_verify(log, d.data);
    /* Deleting one of them removes exactly that one. */
    log = cl_test_open(d.data, NULL);
    assert_crawllog_ok_log(log, crawllog_topic_delete(log, "topics"));
    assert_crawllog_ok(crawllog_topic_list(log, &list, &count));
    assert_int_equal(count, n - 1);
    crawllog_topic_list_free(list, count);
    assert_int_equal(count_records(log, "-lead", 0), 1);
    assert_crawllog_ok(crawllog_close(log));
}

/* ---------------------------------------------------------------------- */
/* Symbolic links                                                          */
/* ---------------------------------------------------------------------- */

/* topics/t is a symlink to a copy of a real topic outside: nothing
 * reaches through it, and the copy is untouched (mtimes included). */
static void test_api_security_symlink_topic_dir(void **state)
{
    struct dirs d;
    crawllog_reader_t *rd;
    crawllog_record_t r = {NULL, 0, "x", 1, 0, NULL, 0};
    int64_t s, e;
    dirs_init(state, &d);
    struct cl_test_snap *before = link_outside(&d, "topics/t", "t");

    crawllog_t *log = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_open(&log, d.data, NULL, errstr, sizeof(errstr));
    if (rc == 0) {
        assert_refused(crawllog_append(log, "t", 0, &r, 1,
                                       CRAWLLOG_SYNC_WRITTEN, NULL));
        assert_refused(crawllog_append(log, "t", 1, &r, 1,
                                       CRAWLLOG_SYNC_DURABLE, NULL));
        assert_refused(crawllog_topic_describe(log, "t", NULL, NULL));
        assert_refused(crawllog_reader_new(&rd, log, "t", 0));
        assert_refused(crawllog_partition_offsets(log, "t", 0, &s, &e));
        assert_refused(crawllog_topic_add_partitions(log, "t", 4));
        rc = crawllog_topic_delete(log, "t");
        assert_true(rc == CRAWLLOG_ELOOP || rc == CRAWLLOG_ENOTOPIC ||
                    rc == CRAWLLOG_OK);
        rc = crawllog_topic_create(log, "t", 1, NULL);
        assert_true(rc == CRAWLLOG_EEXIST || rc == CRAWLLOG_ELOOP ||
                    rc == CRAWLLOG_OK);
        crawllog_close(log);
    } else {
        assert_crawllog_rc(rc, CRAWLLOG_ELOOP);
        assert_non_null(strstr(errstr, "t"));
    }
    assert_dir_unchanged(before, d.outside);
}

/* One file or directory below a partition replaced by a symlink to an
 * outside copy (or to an outside file for index files): the open or the
 * first use of the partition is refused, or - for derived files only - the
 * file is rebuilt in place; the target never changes. */
struct link_case {
    const char *rel;   /* below data/ */
    int derived;       /* an index: may be rebuilt instead of refused */
};

static void symlink_case(void **state, const struct link_case *lc)
{
    struct dirs d;
    crawllog_record_t r = {NULL, 0, "y", 1, 0, NULL, 0};
    dirs_init(state, &d);
    cl_test_rmrf(d.data);
    cl_test_rmrf(d.outside);
    struct cl_test_snap *before = link_outside(&d, lc->rel, "target");

    crawllog_t *log = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_open(&log, d.data, NULL, errstr, sizeof(errstr));
    if (rc == 0) {
        int32_t part = strstr(lc->rel, "/1") ? 1 : 0;
        rc = crawllog_append(log, "t", part, &r, 1, CRAWLLOG_SYNC_WRITTEN,
                             NULL);
        if (rc == 0) {
            /* Only a derived file (an index of a sealed segment, not read
             * by an append) may be left alone, or rebuilt in place. */
            if (!lc->derived) {
                fail_msg("%s as a symlink: append succeeded", lc->rel);
            }
            rc = read_all(log, "t", part);
            if (rc != (part ? 4 : 31) && rc != CRAWLLOG_ELOOP) {
                fail_msg("%s as a symlink: reading gave %d", lc->rel, rc);
            }
        } else {
            assert_true(rc == CRAWLLOG_ELOOP || rc == CRAWLLOG_ECORRUPT ||
                        rc == CRAWLLOG_ENOTOPIC);
        }
        crawllog_close(log);
    } else if (rc != CRAWLLOG_ELOOP && rc != CRAWLLOG_ECORRUPT) {
        fail_msg("%s as a symlink: open gave %s (%s)", lc->rel,
                 crawllog_err_name(rc), errstr);
    }
    struct cl_test_snap *after = cl_test_snap_take(d.outside);
    char diff[4096];
    if (!cl_test_snap_equal(before, after, diff, sizeof(diff))) {
        fail_msg("%s as a symlink: the target changed:\n%s", lc->rel, diff);
    }
    cl_test_snap_free(after);
    cl_test_snap_free(before);
}

static void test_api_security_symlinks_below_topic(void **state)
{
    static const struct link_case cases[] = {
        {"topics/t/0", 0},
        {"topics/t/1", 0},
        {"topics/t/0/00000000000000000000.log", 0},
        {"topics/t/1/00000000000000000000.log", 0},
        {"topics/t/0/00000000000000000000.index", 1},
        {"topics/t/0/00000000000000000000.timeindex", 1},
        {"topics/t/1/00000000000000000000.index", 1},
        {"topics/t/1/00000000000000000000.timeindex", 1},
        {"topics/t/0/partition.state", 0},
        {"topics/t/1/partition.state", 0},
        {"topics/t/topic.meta", 0},
        {"crawllog.meta", 0},
        {"crawllog.lock", 0},
        {"topics", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        symlink_case(state, &cases[i]);
    }
}

/* The active segment's index files of partition 0 as symlinks (the
 * active one is recovered, so it must be refused or rebuilt). */
static void test_api_security_symlink_active_index(void **state)
{
    struct dirs d;
    char pdir[8192];
    dirs_init(state, &d);
    make_populated(d.data);
    cl_test_path(pdir, sizeof(pdir), d.data, "topics/t/0");
    /* The last .log of partition 0 is the active segment. */
    DIR *dh = opendir(pdir);
    assert_non_null(dh);
    struct dirent *de;
    char last[256] = "";
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".log") == 0 &&
            strcmp(de->d_name, last) > 0) {
            snprintf(last, sizeof(last), "%s", de->d_name);
        }
    }
    closedir(dh);
    assert_true(strcmp(last, "00000000000000000000.log") > 0);
    static char rel[2][128];
    static struct link_case cases[2];
    snprintf(rel[0], sizeof(rel[0]), "topics/t/0/%.20s.index", last);
    snprintf(rel[1], sizeof(rel[1]), "topics/t/0/%.20s.timeindex", last);
    for (int i = 0; i < 2; i++) {
        cases[i].rel = rel[i];
        cases[i].derived = 1;
        symlink_case(state, &cases[i]);
    }
}

/* Plant dangling symlinks to target at topic.meta.tmp.<pid>.<k> for every
 * k < 4096 with k % 32 != gap (gap -1: all of them). */
static void plant_tmp_links(const char *tdir, const char *target, int gap)
{
    char link[8192];
    for (int k = 0; k < 4096; k++) {
        char name[128];
        snprintf(name, sizeof(name), "topic.meta.tmp.%ld.%d",
                 (long)getpid(), k);
        cl_test_path(link, sizeof(link), tdir, name);
        unlink(link);
        if (k % 32 != gap) {
            cl_test_check(symlink(target, link) == 0);
        }
    }
}

/* Dangling symlinks where the library writes its temporary files
 * (topic.meta.tmp.<pid>.<n>): they are never followed, so the target is
 * never created.  With every candidate name taken the update fails and
 * changes nothing; with a free name among the library's tries it succeeds.
 * (The process has written far fewer than 4096 metadata files, so the
 * counter is inside the planted range.) */
static void test_api_security_dangling_tmp_symlinks(void **state)
{
    struct dirs d;
    char tdir[8192], target[8192];
    int32_t np = 0;
    dirs_init(state, &d);
    crawllog_t *log = cl_test_open(d.data, NULL);
    assert_crawllog_ok_log(log, crawllog_topic_create(log, "t", 1, NULL));
    cl_test_check(mkdir(d.outside, 0700) == 0);
    cl_test_path(tdir, sizeof(tdir), d.data, "topics/t");
    cl_test_path(target, sizeof(target), d.outside, "planted");

    plant_tmp_links(tdir, target, -1);
    assert_true(crawllog_topic_add_partitions(log, "t", 2) != CRAWLLOG_OK);
    assert_false(cl_test_exists(target));
    assert_crawllog_ok(crawllog_topic_describe(log, "t", &np, NULL));
    assert_int_equal(np, 1);

    plant_tmp_links(tdir, target, 31);
    assert_crawllog_ok_log(log, crawllog_topic_add_partitions(log, "t", 2));
    assert_false(cl_test_exists(target));
    assert_crawllog_ok(crawllog_topic_describe(log, "t", &np, NULL));
    assert_int_equal(np, 2);
    append_n(log, "t", 1, 2, 4);
    assert_int_equal(count_records(log, "t", 1), 2);
    crawllog_close(log);
    assert_false(cl_test_exists(target));
}

/* The data directory itself may be reached through a symlink. */
static void test_api_security_symlinked_root_allowed(void **state)
{
    struct dirs d;
    char link[8192];
    dirs_init(state, &d);
    make_populated(d.data);
    cl_test_path(link, sizeof(link), CL_TEST_DIR(state), "link");
    cl_test_check(symlink(d.data, link) == 0);
    crawllog_t *log = cl_test_open(link, NULL);
    append_n(log, "t", 0, 2, 10);
    assert_int_equal(count_records(log, "t", 0), 32);
    assert_crawllog_ok(crawllog_close(log));
    /* A trailing slash is the same directory. */
    char slash[8300];
    snprintf(slash, sizeof(slash), "%s/", link);
    log = cl_test_open(slash, NULL);
    assert_int_equal(count_records(log, "t", 0), 32);
    assert_crawllog_ok(crawllog_close(log));
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

/* ---------------------------------------------------------------------- */
/* Permissions                                                             */
/* ---------------------------------------------------------------------- */

/* Every directory below (and including) dir has mode dmode, every regular
 * file fmode; nothing is world-writable or a symlink. */
static void check_modes(const char *dir, mode_t dmode, mode_t fmode,
                        int *nfiles)
{
    struct stat st;
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    if ((st.st_mode & 07777) != dmode) {
        fail_msg("%s: mode %04o, expected %04o", dir,
                 (unsigned)(st.st_mode & 07777), (unsigned)dmode);
    }
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        char p[8192];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        cl_test_path(p, sizeof(p), dir, de->d_name);
        assert_int_equal(lstat(p, &st), 0);
        assert_false(st.st_mode & S_IWOTH);
        if (S_ISDIR(st.st_mode)) {
            check_modes(p, dmode, fmode, nfiles);
        } else if (S_ISREG(st.st_mode)) {
            if ((st.st_mode & 07777) != fmode) {
                fail_msg("%s: mode %04o, expected %04o", p,
                         (unsigned)(st.st_mode & 07777), (unsigned)fmode);
            }
            (*nfiles)++;
        } else {
            fail_msg("%s: unexpected file type %o", p,
                     (unsigned)(st.st_mode & S_IFMT));
        }
    }
    closedir(dh);
}

/* Create everything the library makes (data dir, metadata, topics,
 * partitions, segments after a roll, indexes, state, checkpoints) under
 * umask um with conf modes (NULL: defaults), then check the modes. */
static void modes_case(void **state, mode_t um, const char *dmode_s,
                       const char *fmode_s, mode_t dmode, mode_t fmode)
{
    struct dirs d;
    crawllog_conf_t *conf = NULL, *tc;
    dirs_init(state, &d);
    cl_test_rmrf(d.data);
    if (dmode_s) {
        conf = cl_test_conf("log.dir.mode", dmode_s, "log.file.mode", fmode_s,
                            NULL);
    }
    mode_t old = umask(um);
    crawllog_t *log = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_open(&log, d.data, conf, errstr, sizeof(errstr));
    if (rc == 0) {
        rc = crawllog_conf_new(&tc);
    }
    if (rc == 0) {
        crawllog_conf_set(tc, "segment.bytes", "4096", NULL, 0);
        crawllog_conf_set(tc, "retention.bytes", "4096", NULL, 0);
        rc = crawllog_topic_create(log, "t", 2, tc);
        crawllog_conf_destroy(tc);
    }
    for (int i = 0; rc == 0 && i < 40; i++) {
        char v[300];
        crawllog_record_t r;
        memset(&r, 0, sizeof(r));
        memset(v, 'm', sizeof(v));
        r.value = v;
        r.value_len = sizeof(v);
        rc = crawllog_append(log, "t", i % 2, &r, 1,
                             i % 3 ? CRAWLLOG_SYNC_WRITTEN
                                   : CRAWLLOG_SYNC_DURABLE,
                             NULL);
    }
    int64_t deleted = 0;
    if (rc == 0) {
        rc = crawllog_maintain(log, &deleted); /* writes log-start-offset */
    }
    if (rc == 0) {
        rc = crawllog_topic_create(log, "u", 1, NULL);
    }
    if (rc == 0) {
        rc = crawllog_topic_add_partitions(log, "u", 3);
    }
    if (rc == 0) {
        rc = crawllog_topic_delete(log, "u");
    }
    umask(old);
    if (rc != 0) {
        fail_msg("umask %03o: %s: %s%s", (unsigned)um, crawllog_err_name(rc),
                 errstr, log ? crawllog_errmsg(log) : "");
    }
    assert_true(deleted > 0);
    assert_crawllog_ok(crawllog_close(log));
    crawllog_conf_destroy(conf);
    int nfiles = 0;
    check_modes(d.data, dmode, fmode, &nfiles);
    assert_true(nfiles >= 10);
}

static void test_api_security_modes_default(void **state)
{
    modes_case(state, 0, NULL, NULL, 0700, 0600);
    modes_case(state, 077, NULL, NULL, 0700, 0600);
    modes_case(state, 022, NULL, NULL, 0700, 0600);
}

static void test_api_security_modes_configured(void **state)
{
    modes_case(state, 0, "0750", "0640", 0750, 0640);
    modes_case(state, 077, "0750", "0640", 0750, 0640);
    modes_case(state, 027, "0755", "0644", 0755, 0644);
}

/* World-writable modes cannot even be configured. */
static void test_api_security_world_writable_modes_rejected(void **state)
{
    static const char *const bad[] = {"0777", "0702", "0772", "0707"};
    crawllog_conf_t *conf;
    (void)state;
    assert_crawllog_ok(crawllog_conf_new(&conf));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_crawllog_rc(crawllog_conf_set(conf, "log.dir.mode", bad[i],
                                             NULL, 0),
                           CRAWLLOG_EINVAL);
        assert_crawllog_rc(crawllog_conf_set(conf, "log.file.mode", bad[i],
                                             NULL, 0),
                           CRAWLLOG_EINVAL);
    }
    crawllog_conf_destroy(conf);
}

/* ---------------------------------------------------------------------- */
/* The data directory and its parent                                       */
/* ---------------------------------------------------------------------- */

static void test_api_security_world_writable_root(void **state)
{
    struct dirs d;
    dirs_init(state, &d);
    make_populated(d.data);
    cl_test_check(chmod(d.data, 0777) == 0);
    struct cl_test_snap *before = cl_test_snap_take(CL_TEST_DIR(state));
    open_fails(d.data, NULL, CRAWLLOG_EPERM);
    cl_test_check(chmod(d.data, 0702) == 0);
    open_fails(d.data, NULL, CRAWLLOG_EPERM);
    /* Even with the sticky bit the data dir itself may not be writable by
     * all. */
    cl_test_check(chmod(d.data, 01777) == 0);
    open_fails(d.data, NULL, CRAWLLOG_EPERM);
    cl_test_check(chmod(d.data, 0777) == 0);
    assert_dir_unchanged(before, CL_TEST_DIR(state));
    cl_test_check(chmod(d.data, 0700) == 0);
    crawllog_t *log = cl_test_open(d.data, NULL);
    assert_int_equal(count_records(log, "t", 0), 30);
    assert_crawllog_ok(crawllog_close(log));
}

static void test_api_security_parent_permissions(void **state)
{
    char parent[4096], data[8192];
    cl_test_path(parent, sizeof(parent), CL_TEST_DIR(state), "parent");
    cl_test_path(data, sizeof(data), parent, "data");
    cl_test_check(mkdir(parent, 0700) == 0);

    /* World-writable without the sticky bit: refused, nothing created. */
    cl_test_check(chmod(parent, 0777) == 0);
    struct cl_test_snap *before = cl_test_snap_take(parent);
    open_fails(data, NULL, CRAWLLOG_EPERM);
    assert_dir_unchanged(before, parent);
    assert_false(cl_test_exists(data));

    /* With the sticky bit (like /tmp): fine. */
    cl_test_check(chmod(parent, 01777) == 0);
    make_populated(data);
    crawllog_t *log = cl_test_open(data, NULL);
    assert_int_equal(count_records(log, "t", 0), 30);
    assert_crawllog_ok(crawllog_close(log));

    /* An existing data dir under a parent that became world-writable. */
    cl_test_check(chmod(parent, 0777) == 0);
    before = cl_test_snap_take(parent);
    open_fails(data, NULL, CRAWLLOG_EPERM);
    assert_dir_unchanged(before, parent);
    cl_test_check(chmod(parent, 0700) == 0);
    log = cl_test_open(data, NULL);
    assert_crawllog_ok(crawllog_close(log));
}

/* log.dir.create=false: a missing directory is ENOENT and nothing is
 * created; an existing one opens. */
static void test_api_security_no_create(void **state)
{
    struct dirs d;
    dirs_init(state, &d);
    crawllog_conf_t *conf = cl_test_conf("log.dir.create", "false", NULL);
    struct cl_test_snap *before = cl_test_snap_take(CL_TEST_DIR(state));
    open_fails(d.data, conf, CRAWLLOG_ENOENT);
    char deep[8192];
    cl_test_path(deep, sizeof(deep), d.data, "a/b");
    open_fails(deep, conf, CRAWLLOG_ENOENT);
    assert_dir_unchanged(before, CL_TEST_DIR(state));
    make_populated(d.data);
    crawllog_t *log = cl_test_open(d.data, conf);
    assert_int_equal(count_records(log, "t", 0), 30);
    assert_crawllog_ok(crawllog_close(log));
    crawllog_conf_destroy(conf);
}

/* A regular file, or a symlink to one, where the data directory should be:
 * refused, and the file is left alone. */
static void test_api_security_root_not_a_directory(void **state)
{
    struct dirs d;
    char link[8192];
    dirs_init(state, &d);
    cl_test_write_file(d.data, "not a dir", 9);
    cl_test_path(link, sizeof(link), CL_TEST_DIR(state), "link");
    cl_test_check(symlink(d.data, link) == 0);
    struct cl_test_snap *before = cl_test_snap_take(CL_TEST_DIR(state));
    crawllog_t *log = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_open(&log, d.data, NULL, errstr, sizeof(errstr));
    assert_true(rc != 0);
    assert_null(log);
    rc = crawllog_open(&log, link, NULL, errstr, sizeof(errstr));
    assert_true(rc != 0);
    assert_null(log);
    assert_dir_unchanged(before, CL_TEST_DIR(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_api_security_hostile_topic_names),
        cl_test_unit_tmpdir(test_api_security_odd_valid_names),
        cl_test_unit_tmpdir(test_api_security_symlink_topic_dir),
        cl_test_unit_tmpdir(test_api_security_symlinks_below_topic),
        cl_test_unit_tmpdir(test_api_security_symlink_active_index),
        cl_test_unit_tmpdir(test_api_security_dangling_tmp_symlinks),
        cl_test_unit_tmpdir(test_api_security_symlinked_root_allowed),
        cl_test_unit_tmpdir(test_api_security_modes_default),
        cl_test_unit_tmpdir(test_api_security_modes_configured),
        cl_test_unit_tmpdir(test_api_security_world_writable_modes_rejected),
        cl_test_unit_tmpdir(test_api_security_world_writable_root),
        cl_test_unit_tmpdir(test_api_security_parent_permissions),
        cl_test_unit_tmpdir(test_api_security_no_create),
        cl_test_unit_tmpdir(test_api_security_root_not_a_directory),
    };
    return cmocka_run_group_tests_name("api_security", tests, NULL, NULL);
}
