/*
 * test_hostile_fs.c - T10 (reliability.md 4.11), the file system side,
 * beyond test_api_security.c (which covers symlinks at topics, partitions,
 * segments, indexes, partition.state, topic.meta, crawllog.meta and
 * crawllog.lock, dangling topic.meta tmp links, a symlinked root, the
 * modes of topic files, and a world-writable data directory or parent):
 *  - scenarios 1 and 5 for the group directories and files, the producer
 *    registry, crawllog.notify, trash/ and staging/; dangling symlinks
 *    where a fresh data directory's files and a producer's tmp file will be
 *    created, and as the root argument;
 *  - scenario 4 for groups/<g>/offsets.tmp (a dangling symlink, then a
 *    hard link, planted before a compaction);
 *  - scenario 6: hard links from files the library writes in place to an
 *    outside file, and one planted at a producer's tmp name;
 *  - the modes of everything created (groups, producers, notify, dead
 *    letters, migrations, trash/ and staging/ included) under umask 000
 *    and 077, default and configured; a data directory owned by another
 *    uid;
 *  - scenario 8: a thread swapping a partition directory with a symlink
 *    while the log is opened and appended to (0.3 s; CL_SOAK=1: 10 s).
 * Every check is strict (the deviations found earlier are fixed).
 */
#include "hostile.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>


/* ---------------------------------------------------------------------- */
/* Symbolic and hard links                                                 */
/* ---------------------------------------------------------------------- */

/* A fresh populate()d data/, with data/<rel> copied to outside/target and
 * replaced by a symlink (hard: a hard link) to the copy.  Returns a
 * snapshot of outside/. */
static struct cl_test_snap *plant(const struct dirs *d, const char *rel,
                                  int hard)
{
    char path[8192], target[8192];
    cl_test_rmrf(d->data);
    cl_test_rmrf(d->outside);
    populate(d->data);
    cl_test_check(mkdir(d->outside, 0700) == 0);
    cl_test_path(path, sizeof(path), d->data, rel);
    cl_test_path(target, sizeof(target), d->outside, "target");
    cl_test_copy_tree(path, target);
    cl_test_rmrf(path);
    int rc = hard ? link(target, path) : symlink(target, path);
    cl_test_checkf(rc == 0, "link %s: %s", path, strerror(errno));
    return cl_test_snap_take(d->outside);
}

static void assert_outside_unchanged(struct cl_test_snap *before,
                                     const struct dirs *d, const char *rel)
{
    char diff[4096];
    struct cl_test_snap *after = cl_test_snap_take(d->outside);
    if (!cl_test_snap_equal(before, after, diff, sizeof(diff))) {
        fail_msg("%s: the outside target changed:\n%s", rel, diff);
    }
    cl_test_snap_free(after);
    cl_test_snap_free(before);
}

/* One group, producer or root file or directory as a symlink (see
 * test_hostile_symlinks). */
static void symlink_case(void **state, const char *rel)
{
    struct dirs d;
    dirs_init(state, &d);
    struct cl_test_snap *before = plant(&d, rel, 0);
    int lag = strstr(rel, "lag.history") != NULL;
    int grp = strncmp(rel, "groups", 6) == 0 && !lag;
    int prod = strncmp(rel, "producers", 9) == 0;
    crawllog_t *log = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_open(&log, d.data, NULL, es, sizeof(es));
    if (!grp && !prod && !lag) {
        if (rc != CRAWLLOG_ELOOP) {
            crawllog_close(log);
            fail_msg("%s: open gave %s (%s)", rel, crawllog_err_name(rc), es);
        }
        assert_outside_unchanged(before, &d, rel);
        return;
    }
    assert_crawllog_ok(rc);
    /* Group files: refused, and never read through (the copy says 4). */
    int64_t off = described_offset(log, "g", "t", &rc);
    assert_crawllog_rc(rc, grp ? CRAWLLOG_ELOOP : CRAWLLOG_OK);
    assert_true(off == (grp ? -1 : 4));
    crawllog_topic_partition_t tp = {"t", 0, 5, NULL};
    rc = crawllog_group_set_offsets(log, "g", &tp, 1);
    assert_true(rc == CRAWLLOG_ELOOP || (!grp && rc == CRAWLLOG_OK));
    crawllog_consumer_t *c = consumer(log, "g");
    const char *topics[] = {"t"};
    assert_crawllog_rc(crawllog_consumer_subscribe(c, topics, 1),
                       grp ? CRAWLLOG_ELOOP : CRAWLLOG_OK);
    crawllog_consumer_destroy(c);
    c = consumer(log, "g");
    tp.offset = 6;
    rc = crawllog_consumer_commit_offsets(c, &tp, 1, CRAWLLOG_SYNC_DURABLE);
    assert_crawllog_rc(rc, grp ? CRAWLLOG_ELOOP : CRAWLLOG_OK);
    crawllog_consumer_destroy(c);
    /* Producer files: refused. */
    crawllog_producer_t *p = producer_rc(log, "pp", "1", &rc);
    crawllog_producer_destroy(p);
    assert_crawllog_rc(rc, prod ? CRAWLLOG_ELOOP : CRAWLLOG_OK);
    p = producer_rc(log, "qq", "1", &rc);
    crawllog_producer_destroy(p);
    if (strcmp(rel, "producers") == 0) {
        assert_true(rc != CRAWLLOG_OK);
    } else {
        assert_crawllog_ok(rc);
    }
    /* Deleting a symlinked group removes at most the link. */
    rc = crawllog_group_delete(log, "g");
    assert_true(rc == CRAWLLOG_OK || rc == CRAWLLOG_ELOOP ||
                rc == CRAWLLOG_ENOENT);
    crawllog_close(log);
    assert_outside_unchanged(before, &d, rel);
}

/* Scenarios 1 and 5 for the files test_api_security.c does not cover:
 * the group directories and files, the producer registry, crawllog.notify
 * (a lock-like shared mapping), trash/ and staging/. */
static void test_hostile_symlinks(void **state)
{
    static const char *const rels[] = {
        "groups",
        "groups/g",
        "groups/g/offsets",
        "groups/g/group.state",
        "groups/g/lag.history",
        "producers",
        "producers/pp",
        "crawllog.notify",
        "trash",
        "staging",
    };
    for (size_t i = 0; i < ARRAY_LEN(rels); i++) {
        symlink_case(state, rels[i]);
    }
}

/* Dangling symlinks where a fresh data directory's files will be created
 * (O_CREAT through a link would create the target), and where a new
 * producer's tmp file will be: refused, the targets are never created. */
static void test_hostile_dangling_symlinks(void **state)
{
    static const char *const rels[] = {"crawllog.lock", "crawllog.meta",
                                       "crawllog.notify", "topics"};
    struct dirs d;
    char path[8192], target[8192];
    dirs_init(state, &d);
    cl_test_check(mkdir(d.outside, 0700) == 0);
    cl_test_path(target, sizeof(target), d.outside, "planted");
    for (size_t i = 0; i < ARRAY_LEN(rels); i++) {
        cl_test_rmrf(d.data);
        cl_test_check(mkdir(d.data, 0700) == 0);
        cl_test_check(symlink(target, cl_test_path(path, sizeof(path), d.data,
                                                   rels[i])) == 0);
        crawllog_t *log = NULL;
        char es[CRAWLLOG_ERRSTR_SIZE] = "";
        int rc = crawllog_open(&log, d.data, NULL, es, sizeof(es));
        if (rc != CRAWLLOG_ELOOP) {
            crawllog_close(log);
            fail_msg("%s: open gave %s (%s)", rels[i], crawllog_err_name(rc),
                     es);
        }
        assert_false(cl_test_exists(target));
    }
    cl_test_rmrf(d.data);
    crawllog_t *log = cl_test_open(d.data, NULL);
    crawllog_producer_destroy(producer(log, "pp", "1"));
    char rel[128];
    snprintf(rel, sizeof(rel), "producers/~tmp.%ld.0", (long)getpid());
    cl_test_check(
        symlink(target, cl_test_path(path, sizeof(path), d.data, rel)) == 0);
    int rc;
    crawllog_producer_destroy(producer_rc(log, "qq", "1", &rc));
    assert_false(cl_test_exists(target));
    assert_crawllog_ok(crawllog_close(log));
    /* A dangling symlink as the root argument is not created through. */
    cl_test_path(path, sizeof(path), CL_TEST_DIR(state), "rootlink");
    cl_test_check(symlink(target, path) == 0);
    log = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE];
    assert_true(crawllog_open(&log, path, NULL, es, sizeof(es)) != 0);
    assert_null(log);
    assert_int_equal(cl_test_count_entries(d.outside), 0);
}

/* Scenario 4 for offsets.tmp, the fixed name of a group's compaction: a
 * dangling symlink, then a hard link to an outside file, planted there
 * before a compaction.  The compaction happens (offsets is replaced), the
 * planted name is removed or left alone, never written through. */
static void test_hostile_offsets_tmp_planted(void **state)
{
    static char meta[4000];
    crawllog_topic_partition_t list[50];
    struct dirs d;
    char tmp[8192], offs[8192], planted[8192], canary[8192];
    struct stat st;
    dirs_init(state, &d);
    populate(d.data);
    cl_test_check(mkdir(d.outside, 0700) == 0);
    cl_test_path(tmp, sizeof(tmp), d.data, "groups/g/offsets.tmp");
    cl_test_path(offs, sizeof(offs), d.data, "groups/g/offsets");
    cl_test_path(planted, sizeof(planted), d.outside, "planted");
    cl_test_path(canary, sizeof(canary), d.outside, "canary");
    cl_test_write_file(canary, "canary", 6);
    memset(meta, 'm', sizeof(meta) - 1);
    for (int hard = 0; hard < 2; hard++) {
        cl_test_rmrf(tmp);
        cl_test_check((hard ? link(canary, tmp) : symlink(planted, tmp)) == 0);
        struct sig before = file_sig(canary);
        cl_test_check(stat(offs, &st) == 0);
        ino_t ino = st.st_ino;
        crawllog_t *log = cl_test_open(d.data, NULL);
        int64_t k = 0;
        for (; k < 200 && stat(offs, &st) == 0 && st.st_ino == ino; k++) {
            for (int i = 0; i < 50; i++) {
                list[i] = (crawllog_topic_partition_t){"t", i, k, meta};
            }
            assert_crawllog_ok_log(
                log, crawllog_group_set_offsets(log, "g", list, 50));
        }
        assert_true(st.st_ino != ino); /* compacted */
        int rc;
        assert_true(described_offset(log, "g", "t", &rc) == k - 1);
        assert_crawllog_ok(rc);
        assert_crawllog_ok(crawllog_close(log));
        assert_false(cl_test_exists(planted));
        assert_true(sig_equal(before, file_sig(canary)));
        assert_int_equal(cl_test_count_entries(d.outside), 1);
        /* The planted name was removed, or left as it was. */
        assert_true(lstat(tmp, &st) != 0 ||
                    (hard ? st.st_nlink == 2 : S_ISLNK(st.st_mode)));
    }
}

/* Scenario 6: a file the library writes in place is a hard link to an
 * outside file (the same inode).  Writing to it changes the outside file:
 * the library should refuse such a file (link count > 1).  Also a hard
 * link planted at a new producer's tmp name. */
static void test_hostile_hard_links(void **state)
{
    static const char *const rels[] = {
        "topics/t/0/00000000000000000000.log",
        "topics/t/0/partition.state",
        "crawllog.notify",
        "groups/g/offsets",
        "groups/g/group.state",
        "groups/g/lag.history",
        "producers/pp",
    };
    struct dirs d;
    char path[8192], canary[8192], note[512];
    dirs_init(state, &d);
    for (size_t i = 0; i < ARRAY_LEN(rels); i++) {
        cl_test_snap_free(plant(&d, rels[i], 1));
        cl_test_path(canary, sizeof(canary), d.outside, "target");
        struct sig before = file_sig(canary);
        crawllog_t *log = NULL;
        char es[CRAWLLOG_ERRSTR_SIZE] = "";
        int rc = crawllog_open(&log, d.data, NULL, es, sizeof(es));
        if (rc == 0) {
            crawllog_producer_t *p = producer_rc(log, "pp", "1", &rc);
            for (int k = 0; rc == 0 && k < 2; k++) {
                rc = crawllog_producer_send(p, "t", 0, NULL, 0, "w", 1, NULL, 0,
                                            NULL);
            }
            crawllog_producer_destroy(p);
            crawllog_consumer_t *c = consumer(log, "g");
            const char *topics[] = {"t"};
            const crawllog_msg_t *msgs[8];
            size_t n = 0;
            rc = crawllog_consumer_subscribe(c, topics, 1);
            for (int k = 0; rc == 0 && k < 20 && n == 0; k++) {
                rc = crawllog_consumer_poll(c, 10, msgs, 8, &n);
            }
            if (rc == 0 && n > 0) {
                (void)crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_DURABLE);
            }
            crawllog_consumer_destroy(c);
            crawllog_close(log);
        }
        snprintf(note, sizeof(note),
                 "%s as a hard link to an outside file: "
                 "the outside file is written",
                 rels[i]);
        if (!sig_equal(before, file_sig(canary))) { /* fixed: always strict */
            fail_msg("%s", note);
        }
    }
    /* producers/~tmp.<pid>.0 planted as a hard link. */
    cl_test_path(canary, sizeof(canary), d.outside, "canary");
    cl_test_write_file(canary, "canary", 6);
    struct sig before = file_sig(canary);
    snprintf(note, sizeof(note), "producers/~tmp.%ld.0", (long)getpid());
    cl_test_check(
        link(canary, cl_test_path(path, sizeof(path), d.data, note)) == 0);
    crawllog_t *log = cl_test_open(d.data, NULL);
    int rc;
    crawllog_producer_destroy(producer_rc(log, "qq", "1", &rc));
    assert_crawllog_ok(crawllog_close(log));
    if (!sig_equal(before, file_sig(canary))) { /* fixed: always strict */
        fail_msg("a new producer's tmp file producers/~tmp.<pid>.0 was "
                 "opened through a planted hard link: its target changed");
    }
}

/* ---------------------------------------------------------------------- */
/* Permissions                                                             */
/* ---------------------------------------------------------------------- */

struct modes_case {
    const char *data;
    mode_t umask, dmode, fmode;
    const char *dmode_s, *fmode_s; /* NULL: defaults */
};

/* Every entry below dir: a directory of mode dmode or a regular file of
 * mode fmode, owned by us; counts the files.  Safe in a child. */
static void walk_modes(const char *dir, const struct modes_case *mc,
                       int *nfiles)
{
    struct stat st;
    DIR *dh = opendir(dir);
    cl_test_checkf(dh != NULL, "opendir %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        char p[8192];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        cl_test_path(p, sizeof(p), dir, de->d_name);
        cl_test_check(lstat(p, &st) == 0);
        mode_t want = S_ISDIR(st.st_mode) ? mc->dmode : mc->fmode;
        cl_test_checkf(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode),
                       "%s: file type %o", p, (unsigned)(st.st_mode & S_IFMT));
        cl_test_checkf((st.st_mode & 07777) == want && st.st_uid == geteuid(),
                       "umask %03o: %s: mode %04o uid %ld, expected %04o",
                       (unsigned)mc->umask, p, (unsigned)(st.st_mode & 07777),
                       (long)st.st_uid, (unsigned)want);
        if (S_ISDIR(st.st_mode)) {
            walk_modes(p, mc, nfiles);
        } else {
            (*nfiles)++;
        }
    }
    closedir(dh);
}

/* In a child (the umask is the process's): make every kind of file under
 * mc->umask, then check every mode. */
static void modes_child(void *arg)
{
    const struct modes_case *mc = arg;
    umask(mc->umask);
    cl_test_rmrf(mc->data);
    crawllog_conf_t *conf = NULL;
    if (mc->dmode_s != NULL) {
        conf = cl_test_conf("log.dir.mode", mc->dmode_s, "log.file.mode",
                            mc->fmode_s, NULL);
    }
    crawllog_t *log = cl_test_open(mc->data, conf);
    crawllog_conf_destroy(conf);
    populate_log(log);
    cl_test_check(dead_letter_first(log, "t", "") == 0);
    set_offset(log, "g2", "t", 1);
    assert_crawllog_ok(crawllog_group_delete(log, "g2"));
    assert_crawllog_ok(crawllog_topic_migrate(log, "t", "t2", 3, NULL, NULL));
    int64_t deleted;
    assert_crawllog_ok(crawllog_maintain(log, &deleted));
    assert_crawllog_ok(crawllog_close(log));
    static const char *const must[] = {
        "crawllog.notify",
        "crawllog.lock",
        "groups/g/offsets",
        "groups/g/group.state",
        "groups/g/lag.history",
        "producers/pp",
        "topics/t/migration",
        "topics/t.dlt/0",
        "topics/t/0/partition.state",
        "trash",
        "staging",
    };
    char path[8192];
    for (size_t i = 0; i < ARRAY_LEN(must); i++) {
        cl_test_checkf(
            cl_test_exists(cl_test_path(path, sizeof(path), mc->data, must[i])),
            "%s missing", must[i]);
    }
    struct stat st;
    cl_test_check(stat(mc->data, &st) == 0 &&
                  (st.st_mode & 07777) == mc->dmode);
    int nfiles = 0;
    walk_modes(mc->data, mc, &nfiles);
    cl_test_check(nfiles >= 20);
}

/* Every file and directory the library creates - topics, partitions,
 * segments, indexes, state, crawllog.meta/lock/notify, groups (offsets,
 * group.state, lag.history), producers, dead-letter topics, migrations,
 * trash/ and staging/ - has exactly log.dir.mode / log.file.mode (0700 /
 * 0600 by default) under umask 000 and 077, and nothing is world-writable
 * (no mode can be: test_api_security). */
static void test_hostile_modes(void **state)
{
    struct dirs d;
    dirs_init(state, &d);
    const struct modes_case cases[] = {
        {d.data, 0, 0700, 0600, NULL, NULL},
        {d.data, 077, 0700, 0600, NULL, NULL},
        {d.data, 0, 0750, 0640, "0750", "0640"},
        {d.data, 077, 0770, 0660, "0770", "0660"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        cl_test_assert_exit_ok(
            cl_test_fork_run(modes_child, (void *)&cases[i]));
    }
}

/* A data directory owned by another uid (root only): refused with
 * CRAWLLOG_EPERM naming the owner (files created in it would be unreadable
 * by that owner), unless log.dir.mode / log.file.mode share it with the
 * group.  Either way nothing of the directory's owner or mode changes. */
static void test_hostile_foreign_owner(void **state)
{
    struct dirs d;
    struct stat st;
    dirs_init(state, &d);
    if (geteuid() != 0) {
        printf("SKIP: not root, cannot chown\n");
        skip();
    }
    populate(d.data);
    cl_test_check(chown(d.data, 65534, 65534) == 0);
    crawllog_t *log = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_open(&log, d.data, NULL, es, sizeof(es));
    if (rc == 0) {
        crawllog_close(log);
        fail_msg("open of a directory owned by uid 65534 succeeded");
    }
    assert_crawllog_rc(rc, CRAWLLOG_EPERM);
    assert_non_null(strstr(es, "owned by uid 65534"));
    cl_test_check(stat(d.data, &st) == 0);
    assert_int_equal(st.st_uid, 65534);
    assert_int_equal(st.st_mode & 07777, 0700);
    /* Shared with the group: opened. */
    crawllog_conf_t *conf = cl_test_conf("log.dir.mode", "0770",
                                         "log.file.mode", "0660", NULL);
    log = cl_test_open(d.data, conf);
    assert_crawllog_ok(crawllog_close(log));
    crawllog_conf_destroy(conf);
    /* One of the two modes alone does not share it. */
    conf = cl_test_conf("log.dir.mode", "0770", NULL);
    log = NULL;
    assert_crawllog_rc(crawllog_open(&log, d.data, conf, es, sizeof(es)),
                       CRAWLLOG_EPERM);
    crawllog_conf_destroy(conf);
    cl_test_check(stat(d.data, &st) == 0);
    assert_int_equal(st.st_uid, 65534);
}

/* ---------------------------------------------------------------------- */
/* Scenario 8: swapping a partition directory with a symlink               */
/* ---------------------------------------------------------------------- */

struct swapper {
    char part[4096], hold[4200], evil[4096];
    atomic_int stop;
    atomic_long swaps;
    int failed; /* written by the thread, read after the join */
};

/* Swap topics/t/0 with a symlink to an outside copy and back, until
 * stop. */
static void *swap_thread(void *arg)
{
    struct swapper *s = arg;
    while (!atomic_load(&s->stop)) {
        if (rename(s->part, s->hold) != 0) {
            continue; /* momentarily missing: try again */
        }
        if (symlink(s->evil, s->part) == 0) {
            sched_yield();
            (void)unlink(s->part);
        }
        if (rename(s->hold, s->part) != 0) {
            s->failed = errno; /* something took the name: stop */
            break;
        }
        atomic_fetch_add(&s->swaps, 1);
        sched_yield(); /* the real directory too gets a turn */
    }
    return NULL;
}

/* One acked append of the race: its offset and value number. */
struct acked {
    int64_t offset;
    long k;
};

/* Opens, appends and closes while swap_thread swaps topics/t/0 with a
 * symlink to an outside copy for 0.3 s (CL_SOAK=1: 10 s).  Any call may
 * fail (ELOOP, ENOTOPIC, ECORRUPT...), but the outside copy never changes
 * and every acked append is afterwards in the real partition at its
 * offset. */
static void test_hostile_swap_race(void **state)
{
    struct dirs d;
    static struct swapper s;
    dirs_init(state, &d);
    memset(&s, 0, sizeof(s));
    crawllog_t *log = cl_test_open(d.data, NULL);
    cl_test_create_topic(log, "r", 1, "segment.bytes", "4096", NULL);
    crawllog_record_t r0 = rec("seed");
    for (int i = 0; i < 6; i++) {
        assert_crawllog_ok(
            crawllog_append(log, "r", 0, &r0, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    }
    assert_crawllog_ok(crawllog_close(log));
    cl_test_check(mkdir(d.outside, 0700) == 0);
    cl_test_path(s.part, sizeof(s.part), d.data, "topics/r/0");
    snprintf(s.hold, sizeof(s.hold), "%s.hold", s.part);
    cl_test_path(s.evil, sizeof(s.evil), d.outside, "evil");
    cl_test_copy_tree(s.part, s.evil);
    struct cl_test_snap *before = cl_test_snap_take(d.outside);
    const int64_t ms = getenv("CL_SOAK") ? 10000 : 300;
    const size_t cap = (size_t)1 << 18;
    struct acked *acked = calloc(cap, sizeof(*acked));
    assert_non_null(acked);
    size_t nacked = 0;
    long k = 0, opens = 0, enotdir = 0, codes[32] = {0}; /* by -code */
    static char first[32][CRAWLLOG_ERRSTR_SIZE + 16];    /* first message */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, swap_thread, &s), 0);
    int64_t end = cl_test_mono_ms() + ms;
    while (cl_test_mono_ms() < end && nacked + 8 < cap) {
        char es[CRAWLLOG_ERRSTR_SIZE];
        log = NULL;
        int rc = crawllog_open(&log, d.data, NULL, es, sizeof(es));
        opens++;
        for (int j = 0; rc == 0 && j < 8; j++, k++) {
            char v[32];
            int64_t off = -1;
            snprintf(v, sizeof(v), "race-%ld", k);
            crawllog_record_t r = rec(v);
            rc = crawllog_append(log, "r", 0, &r, 1, CRAWLLOG_SYNC_WRITTEN,
                                 &off);
            if (rc == 0) {
                acked[nacked++] = (struct acked){off, k};
            }
        }
        const char *msg = log ? crawllog_errmsg(log) : es;
        if (rc == CRAWLLOG_EIO && strstr(msg, "Not a directory") != NULL) {
            if (enotdir++ == 0) {
                printf("ENOTDIR: %s\n", msg);
            }
        } else if (rc != 0 && codes[-rc & 31]++ == 0) {
            snprintf(first[-rc & 31], sizeof(first[0]), "%s", msg);
        }
        crawllog_close(log);
    }
    atomic_store(&s.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    printf("swap race: %ld ms, %ld swaps, %ld opens, %zu acked; failures:",
           (long)ms, atomic_load(&s.swaps), opens, nacked);
    for (int i = 1; i < 32; i++) {
        if (codes[i] > 0) {
            printf(" %s %ld (%s)", crawllog_err_name(-i), codes[i], first[i]);
        }
    }
    printf(" ENOTDIR as CRAWLLOG_EIO %ld\n", enotdir);
    if (enotdir > 0) { /* a symlinked directory must read as ELOOP */
        fail_msg("%ld refusals were CRAWLLOG_EIO (ENOTDIR)", enotdir);
    }
    /* A refusal is fine; anything else means the swap confused it. */
    for (int i = 1; i < 32; i++) {
        if (codes[i] > 0 && -i != CRAWLLOG_ELOOP && -i != CRAWLLOG_ENOTOPIC &&
            -i != CRAWLLOG_ECORRUPT && -i != CRAWLLOG_ENOENT) {
            fail_msg("unexpected failure %s", crawllog_err_name(-i));
        }
    }
    if (s.failed) {
        fail_msg("the partition directory could not be put back: %s",
                 strerror(s.failed));
    }
    assert_true(atomic_load(&s.swaps) > 0);
    assert_true(nacked > 0);
    assert_outside_unchanged(before, &d, "topics/r/0");
    /* The real partition holds the 6 seed records, then exactly the
     * acked appends, in order (a refused one wrote nothing). */
    log = cl_test_open(d.data, NULL);
    crawllog_reader_t *rd;
    const crawllog_msg_t *msg;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "r", 0));
    assert_crawllog_ok(crawllog_reader_seek(rd, 6));
    for (size_t i = 0; i < nacked; i++) {
        char v[32];
        size_t len;
        assert_crawllog_ok(crawllog_reader_next(rd, &msg));
        assert_non_null(msg);
        assert_true(crawllog_msg_offset(msg) == acked[i].offset);
        snprintf(v, sizeof(v), "race-%ld", acked[i].k);
        const void *val = crawllog_msg_value(msg, &len);
        assert_true(len == strlen(v) && memcmp(val, v, len) == 0);
    }
    assert_crawllog_ok(crawllog_reader_next(rd, &msg));
    assert_null(msg);
    crawllog_reader_destroy(rd);
    free(acked);
    cl_test_close_verify(log, d.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HOSTILE_TEST(test_hostile_symlinks),
        HOSTILE_TEST(test_hostile_dangling_symlinks),
        HOSTILE_TEST(test_hostile_offsets_tmp_planted),
        HOSTILE_TEST(test_hostile_hard_links),
        HOSTILE_TEST(test_hostile_modes),
        HOSTILE_TEST(test_hostile_foreign_owner),
        HOSTILE_TEST(test_hostile_swap_race),
    };
    return cmocka_run_group_tests_name("hostile_fs", tests, NULL, NULL);
}
