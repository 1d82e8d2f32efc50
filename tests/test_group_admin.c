/*
 * test_group_admin.c - crawllog_group_delete and crawllog_group_set_offsets
 * (group_admin.c): offsets set on a new group and read back by describe
 * and by a consumer, removal, all-or-nothing lists, refusal while a member
 * is active (in this process or another) or a static member is away,
 * deletion (gone from list and describe, directory removed, a later
 * consumer starts fresh), handles that had the group open before its
 * deletion (a standalone committer, an expelled member, a closed consumer,
 * a raw handle), failpoint and crash sweeps (the group is as before or
 * fully changed, verify stays clean), and power-loss images with fsync
 * ablation.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "group.h"
#include "helpers.h"
#include "io.h"
#include "io_shadow.h"
#include "offsets.h"

#define TOPIC "t"
#define GROUP "g"
#define NREC 10

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

static void produce(crawllog_t *log, int32_t p, int n)
{
    for (int i = 0; i < n; i++) {
        crawllog_record_t r = {NULL, 0, "v", 1, -1, NULL, 0};
        assert_crawllog_ok_log(log, crawllog_append(log, TOPIC, p, &r, 1,
                                                    CRAWLLOG_SYNC_WRITTEN,
                                                    NULL));
    }
}

/* A log in dir with topic TOPIC: 2 partitions of NREC records. */
static crawllog_t *setup(const char *dir)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    produce(log, 0, NREC);
    produce(log, 1, NREC);
    return log;
}

static int set2(crawllog_t *log, const char *group, int64_t o0, int64_t o1)
{
    crawllog_topic_partition_t tp[2] = {{TOPIC, 0, o0, NULL},
                                        {TOPIC, 1, o1, NULL}};
    return crawllog_group_set_offsets(log, group, tp, 2);
}

/* What crawllog_group_describe says about TOPIC's partitions: its code,
 * committed offsets (-1: none) and lag statuses. */
struct view {
    int rc;
    int64_t committed[2];
    char status[2][16];
    size_t members;
};

static struct view describe(crawllog_t *log, const char *group)
{
    struct view v = {0, {-1, -1}, {"", ""}, 0};
    crawllog_group_desc_t *d = NULL;
    v.rc = crawllog_group_describe(log, group, &d);
    for (size_t i = 0; v.rc == 0 && i < d->partition_count; i++) {
        const crawllog_group_partition_t *p = &d->partitions[i];
        if (strcmp(p->topic, TOPIC) == 0 && p->partition >= 0 &&
            p->partition < 2) {
            v.committed[p->partition] = p->committed;
            snprintf(v.status[p->partition], sizeof(v.status[0]), "%s",
                     p->status);
        }
    }
    v.members = v.rc == 0 ? d->member_count : 0;
    crawllog_group_desc_free(d);
    return v;
}

/* The committed offsets, which must be readable. */
static void expect_committed(crawllog_t *log, const char *group, int64_t o0,
                             int64_t o1)
{
    struct view v = describe(log, group);
    assert_crawllog_ok_log(log, v.rc);
    assert_int_equal(v.committed[0], o0);
    assert_int_equal(v.committed[1], o1);
}

static int listed(crawllog_t *log, const char *group)
{
    char **names = NULL;
    size_t n = 0;
    int found = 0;
    assert_crawllog_ok_log(log, crawllog_group_list(log, &names, &n));
    for (size_t i = 0; i < n; i++) {
        found |= strcmp(names[i], group) == 0;
    }
    crawllog_topic_list_free(names, n);
    return found;
}

static int group_dir_exists(const char *dir, const char *group)
{
    char rel[300], path[4500];
    snprintf(rel, sizeof(rel), "groups/%s", group);
    return cl_test_exists(cl_test_path(path, sizeof(path), dir, rel));
}

struct member {
    crawllog_consumer_t *c;
    int lost;
};

static void on_rebalance(crawllog_consumer_t *c, int event,
                         const crawllog_topic_partition_t *parts, size_t n,
                         void *opaque)
{
    (void)c;
    (void)parts;
    (void)n;
    ((struct member *)opaque)->lost += event == CRAWLLOG_REBALANCE_LOST;
}

/* A consumer of group with the "name", "value", ... properties (NULL
 * ended) and auto.offset.reset=earliest unless given. */
static crawllog_consumer_t *consumer(crawllog_t *log, const char *group, ...)
{
    char err[256];
    va_list ap;
    crawllog_consumer_t *c = NULL;
    crawllog_conf_t *conf = cl_test_conf("group.id", group,
                                         "auto.offset.reset", "earliest",
                                         NULL);
    va_start(ap, group);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
        const char *val = va_arg(ap, const char *);
        cl_test_check(crawllog_conf_set(conf, k, val, err, sizeof(err)) == 0);
    }
    va_end(ap);
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    cl_test_checkf(rc == 0, "consumer_new: %s (%s)", crawllog_err_name(rc),
                   err);
    crawllog_conf_destroy(conf);
    return c;
}

static void subscribe(crawllog_consumer_t *c)
{
    const char *topics[] = {TOPIC};
    int rc = crawllog_consumer_subscribe(c, topics, 1);
    cl_test_checkf(rc == 0, "subscribe: %s: %s", crawllog_err_name(rc),
                   crawllog_consumer_errmsg(c));
}

/* Poll until both partitions handed out a message (3 s at most): the
 * first offset of each in first[] (-1: none). */
static void first_offsets(crawllog_consumer_t *c, int64_t first[2])
{
    int64_t deadline = cl_test_mono_ms() + 3000;
    first[0] = first[1] = -1;
    while ((first[0] < 0 || first[1] < 0) && cl_test_mono_ms() < deadline) {
        const crawllog_msg_t *m[32];
        size_t n = 0;
        int rc = crawllog_consumer_poll(c, 20, m, 32, &n);
        cl_test_checkf(rc == 0, "poll: %s: %s", crawllog_err_name(rc),
                       crawllog_consumer_errmsg(c));
        for (size_t i = 0; i < n; i++) {
            int32_t p = crawllog_msg_partition(m[i]);
            if (p >= 0 && p < 2 && first[p] < 0) {
                first[p] = crawllog_msg_offset(m[i]);
            }
        }
    }
}

/* A standalone consumer (assign, no membership) commits o0, o1. */
static void standalone_commit(crawllog_consumer_t *c, int64_t o0, int64_t o1)
{
    crawllog_topic_partition_t tp[2] = {{TOPIC, 0, o0, NULL},
                                        {TOPIC, 1, o1, NULL}};
    int rc = crawllog_consumer_commit_offsets(c, tp, 2, CRAWLLOG_SYNC_DURABLE);
    cl_test_checkf(rc == 0, "commit: %s: %s", crawllog_err_name(rc),
                   crawllog_consumer_errmsg(c));
}

static crawllog_consumer_t *standalone(crawllog_t *log, const char *group)
{
    crawllog_consumer_t *c = consumer(log, group, NULL);
    crawllog_topic_partition_t tp[2] = {
        {TOPIC, 0, CRAWLLOG_OFFSET_COMMITTED, NULL},
        {TOPIC, 1, CRAWLLOG_OFFSET_COMMITTED, NULL}};
    assert_crawllog_ok(crawllog_consumer_assign(c, tp, 2));
    return c;
}

static void expect_errmsg(crawllog_t *log, const char *part)
{
    if (strstr(crawllog_errmsg(log), part) == NULL) {
        fail_msg("errmsg \"%s\" does not mention \"%s\"", crawllog_errmsg(log),
                 part);
    }
}

/* ---------------------------------------------------------------------- */
/* Setting offsets                                                         */
/* ---------------------------------------------------------------------- */

static void test_set_offsets_new_group(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup(dir);
    assert_false(listed(log, GROUP));
    crawllog_topic_partition_t tp[2] = {{TOPIC, 0, 3, "m3"},
                                        {TOPIC, 1, 7, NULL}};
    assert_crawllog_ok_log(log, crawllog_group_set_offsets(log, GROUP, tp, 2));
    assert_true(listed(log, GROUP));
    struct view v = describe(log, GROUP);
    assert_crawllog_ok(v.rc);
    assert_int_equal(v.committed[0], 3);
    assert_int_equal(v.committed[1], 7);
    assert_int_equal((int)v.members, 0);
    /* The metadata went into the same record. */
    char gdir[4500];
    struct cl_offsets *o = NULL;
    struct cl_offset_entry e;
    struct cl_err err;
    int dfd = open(cl_test_path(gdir, sizeof(gdir), dir, "groups/" GROUP),
                   O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(cl_offsets_open(&o, dfd, "groups/" GROUP, 0600, &err), 0);
    assert_true(cl_offsets_get(o, TOPIC, 0, &e));
    assert_string_equal(e.metadata, "m3");
    cl_offsets_close(o);
    close(dfd);
    /* A member of the group starts at them. */
    int64_t first[2];
    crawllog_consumer_t *c = consumer(log, GROUP, NULL);
    subscribe(c);
    first_offsets(c, first);
    assert_int_equal(first[0], 3);
    assert_int_equal(first[1], 7);
    crawllog_consumer_destroy(c);
    /* A negative offset removes one: that partition starts from
     * auto.offset.reset again, the other is untouched. */
    crawllog_topic_partition_t rm = {TOPIC, 0, -1, "ignored"};
    assert_crawllog_ok_log(log, crawllog_group_set_offsets(log, GROUP, &rm, 1));
    expect_committed(log, GROUP, -1, 7);
    c = consumer(log, GROUP, NULL);
    subscribe(c);
    first_offsets(c, first);
    assert_int_equal(first[0], 0);
    assert_int_equal(first[1], 7);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, dir);
}

static void test_set_offsets_all_or_nothing(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup(dir);
    assert_crawllog_ok_log(log, set2(log, GROUP, 2, 4));
    char meta[CL_OFFSETS_META_MAX + 1];
    memset(meta, 'm', sizeof(meta) - 1);
    meta[sizeof(meta) - 1] = '\0';
    struct {
        crawllog_topic_partition_t tp[3];
        const char *says;
    } bad[] = {
        {{{TOPIC, 0, 5, NULL}, {"no/slash", 0, 5, NULL}, {TOPIC, 1, 5, NULL}},
         "list[1]"},
        {{{TOPIC, 0, 5, NULL}, {TOPIC, 1, 5, NULL}, {NULL, 0, 5, NULL}},
         "list[2]"},
        {{{TOPIC, 0, 5, NULL}, {TOPIC, -1, 5, NULL}, {TOPIC, 1, 5, NULL}},
         "partition -1"},
        {{{TOPIC, 0, 5, NULL}, {TOPIC, 1, 5, NULL}, {TOPIC, 10000, 5, NULL}},
         "partition 10000"},
        {{{TOPIC, 0, 5, meta}, {TOPIC, 1, 5, NULL}, {TOPIC, 1, 6, NULL}},
         "metadata"},
    };
    struct cl_test_snap *before = cl_test_snap_take(dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_crawllog_rc_log(
            log, crawllog_group_set_offsets(log, GROUP, bad[i].tp, 3),
            CRAWLLOG_EINVAL);
        expect_errmsg(log, "group " GROUP);
        expect_errmsg(log, bad[i].says);
        /* Nor is a group created for a bad list. */
        assert_crawllog_rc(crawllog_group_set_offsets(log, "h", bad[i].tp, 3),
                           CRAWLLOG_EINVAL);
    }
    crawllog_topic_partition_t ok = {TOPIC, 0, 5, NULL};
    assert_crawllog_rc(crawllog_group_set_offsets(log, GROUP, &ok, 0),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_group_set_offsets(log, GROUP, NULL, 1),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_group_set_offsets(log, NULL, &ok, 1),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_group_set_offsets(log, "../x", &ok, 1),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_group_set_offsets(NULL, GROUP, &ok, 1),
                       CRAWLLOG_EINVAL);
    assert_dir_unchanged(before, dir);
    expect_committed(log, GROUP, 2, 4);
    assert_false(listed(log, "h"));
    /* A partition listed twice gets its last entry. */
    crawllog_topic_partition_t twice[2] = {{TOPIC, 0, 5, NULL},
                                           {TOPIC, 0, 6, NULL}};
    assert_crawllog_ok_log(log,
                           crawllog_group_set_offsets(log, GROUP, twice, 2));
    expect_committed(log, GROUP, 6, 4);
    cl_test_close_verify(log, dir);
}

/* The lag history of the changed partitions is emptied: an operator's
 * rewind is not the consumers' REWIND. */
static void test_set_offsets_resets_lag_history(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup(dir);
    crawllog_consumer_t *c = standalone(log, GROUP);
    standalone_commit(c, 4, 4);
    standalone_commit(c, 8, 8);
    crawllog_consumer_destroy(c);
    struct view v = describe(log, GROUP);
    assert_string_not_equal(v.status[0], "NOTFOUND");
    assert_string_not_equal(v.status[1], "NOTFOUND");
    crawllog_topic_partition_t back = {TOPIC, 0, 1, NULL};
    assert_crawllog_ok_log(log, crawllog_group_set_offsets(log, GROUP, &back,
                                                           1));
    v = describe(log, GROUP);
    assert_string_equal(v.status[0], "NOTFOUND");
    assert_string_not_equal(v.status[1], "NOTFOUND");
    /* The next commit starts a new window: no REWIND either. */
    c = standalone(log, GROUP);
    standalone_commit(c, 2, 8);
    crawllog_consumer_destroy(c);
    v = describe(log, GROUP);
    assert_string_not_equal(v.status[0], "NOTFOUND");
    assert_string_not_equal(v.status[0], "REWIND");
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* Refused while the group has a member                                    */
/* ---------------------------------------------------------------------- */

static void test_busy_while_member_active(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup(dir);
    assert_crawllog_ok_log(log, set2(log, GROUP, 1, 1));
    crawllog_consumer_t *c = consumer(log, GROUP, NULL);
    subscribe(c);
    int64_t first[2];
    first_offsets(c, first);
    assert_crawllog_rc_log(log, set2(log, GROUP, 5, 5), CRAWLLOG_EBUSY);
    expect_errmsg(log, "groups/" GROUP);
    expect_errmsg(log, "not empty");
    assert_crawllog_rc_log(log, crawllog_group_delete(log, GROUP),
                           CRAWLLOG_EBUSY);
    expect_errmsg(log, "not empty");
    assert_true(listed(log, GROUP));
    expect_committed(log, GROUP, 1, 1);
    /* Once it left: both allowed. */
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    assert_crawllog_ok_log(log, set2(log, GROUP, 5, 5));
    expect_committed(log, GROUP, 5, 5);
    assert_crawllog_ok_log(log, crawllog_group_delete(log, GROUP));
    assert_false(listed(log, GROUP));
    cl_test_close_verify(log, dir);
}

static void test_busy_while_static_member_away(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup(dir);
    crawllog_consumer_t *c = consumer(log, GROUP, "group.instance.id", "a",
                                      "session.timeout.ms", "600", NULL);
    subscribe(c);
    int64_t first[2];
    first_offsets(c, first);
    int64_t left = cl_test_mono_ms();
    crawllog_consumer_destroy(c); /* away: may come back within 600 ms */
    assert_crawllog_rc_log(log, set2(log, GROUP, 5, 5), CRAWLLOG_EBUSY);
    expect_errmsg(log, "static member away");
    assert_crawllog_rc_log(log, crawllog_group_delete(log, GROUP),
                           CRAWLLOG_EBUSY);
    int rc;
    while ((rc = set2(log, GROUP, 5, 5)) == CRAWLLOG_EBUSY &&
           cl_test_mono_ms() < left + 5000) {
        cl_test_sleep_ms(20);
    }
    assert_crawllog_ok_log(log, rc);
    assert_true(cl_test_mono_ms() - left >= 600);
    expect_committed(log, GROUP, 5, 5);
    assert_crawllog_ok_log(log, crawllog_group_delete(log, GROUP));
    cl_test_close_verify(log, dir);
}

/* A member in another process: refused while it lives; once it died (its
 * liveness lock dropped by the kernel) it is swept and both go through. */
struct member_job {
    const char *dir;
    int ready_fd;
};

static void member_child(void *arg)
{
    const struct member_job *j = arg;
    crawllog_t *log = cl_test_open(j->dir, NULL);
    crawllog_consumer_t *c = consumer(log, GROUP, NULL);
    subscribe(c);
    int64_t first[2];
    first_offsets(c, first);
    cl_test_check(write(j->ready_fd, "j", 1) == 1);
    for (;;) { /* a live member, until SIGKILLed */
        const crawllog_msg_t *m[8];
        size_t n;
        cl_test_check(crawllog_consumer_poll(c, 50, m, 8, &n) == 0);
    }
}

static void test_busy_member_in_other_process(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup(dir);
    assert_crawllog_ok_log(log, set2(log, GROUP, 1, 1));
    int p[2];
    char b;
    assert_int_equal(pipe(p), 0);
    struct member_job j = {dir, p[1]};
    pid_t pid = cl_test_fork_start(member_child, &j);
    close(p[1]);
    assert_int_equal(read(p[0], &b, 1), 1);
    close(p[0]);
    char pidtext[32];
    snprintf(pidtext, sizeof(pidtext), "pid %ld", (long)pid);
    assert_crawllog_rc_log(log, crawllog_group_delete(log, GROUP),
                           CRAWLLOG_EBUSY);
    expect_errmsg(log, pidtext);
    assert_crawllog_rc_log(log, set2(log, GROUP, 5, 5), CRAWLLOG_EBUSY);
    assert_int_equal(describe(log, GROUP).members, 1);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    cl_test_assert_killed_by(st, SIGKILL);
    assert_crawllog_ok_log(log, set2(log, GROUP, 5, 5));
    expect_committed(log, GROUP, 5, 5);
    assert_crawllog_ok_log(log, crawllog_group_delete(log, GROUP));
    assert_false(group_dir_exists(dir, GROUP));
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* Delete                                                                  */
/* ---------------------------------------------------------------------- */

static void test_delete(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    char path[4500];
    crawllog_t *log = setup(dir);
    crawllog_consumer_t *c = standalone(log, GROUP);
    standalone_commit(c, 5, 6); /* offsets and lag history */
    crawllog_consumer_destroy(c);
    assert_true(cl_test_exists(
        cl_test_path(path, sizeof(path), dir, "groups/g/lag.history")));
    assert_crawllog_ok_log(log, crawllog_group_delete(log, GROUP));
    assert_false(listed(log, GROUP));
    assert_crawllog_rc(describe(log, GROUP).rc, CRAWLLOG_ENOENT);
    assert_false(group_dir_exists(dir, GROUP));
    cl_test_path(path, sizeof(path), dir, "trash");
    assert_true(!cl_test_exists(path) || cl_test_count_entries(path) == 0);
    /* Gone: a second delete, or one of a group never made. */
    assert_crawllog_rc_log(log, crawllog_group_delete(log, GROUP),
                           CRAWLLOG_ENOENT);
    expect_errmsg(log, "groups/" GROUP);
    assert_crawllog_rc(crawllog_group_delete(log, "never"), CRAWLLOG_ENOENT);
    assert_crawllog_rc(crawllog_group_delete(log, "../x"), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_group_delete(log, NULL), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_group_delete(NULL, GROUP), CRAWLLOG_EINVAL);
    /* A consumer subscribing now starts fresh (auto.offset.reset). */
    int64_t first[2];
    c = consumer(log, GROUP, NULL);
    subscribe(c);
    first_offsets(c, first);
    assert_int_equal(first[0], 0);
    assert_int_equal(first[1], 0);
    assert_true(listed(log, GROUP));
    expect_committed(log, GROUP, -1, -1);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, dir);
}

/* A member that joined, read both partitions from (o0, o1), then stopped
 * polling for longer than its max.poll.interval.ms: no longer a member. */
static void expelled(crawllog_t *log, struct member *m, int64_t o0,
                     int64_t o1)
{
    int64_t first[2];
    m->lost = 0;
    m->c = consumer(log, GROUP, "max.poll.interval.ms", "200", NULL);
    assert_crawllog_ok(crawllog_consumer_set_rebalance_cb(m->c, on_rebalance,
                                                          m));
    subscribe(m->c);
    first_offsets(m->c, first);
    assert_int_equal(first[0], o0);
    assert_int_equal(first[1], o1);
    cl_test_sleep_ms(300);
}

/* Its next poll loses its partitions and joins the fresh group, where they
 * start at (o0, o1). */
static void rejoins(struct member *m, int64_t o0, int64_t o1)
{
    int64_t first[2];
    first_offsets(m->c, first);
    assert_int_equal(m->lost, 1);
    assert_int_equal(first[0], o0);
    assert_int_equal(first[1], o1);
}

/* Consumers that had the group open when it was deleted - a standalone
 * committer, members expelled (max.poll.interval.ms) just before, a closed
 * one - go on with a fresh group, the same one as newcomers. */
static void test_delete_with_open_handles(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup(dir);
    crawllog_consumer_t *solo = standalone(log, GROUP);
    standalone_commit(solo, 5, 5);
    crawllog_consumer_t *closed = standalone(log, GROUP);
    standalone_commit(closed, 5, 5);
    assert_crawllog_ok(crawllog_consumer_close(closed));
    struct member a, b = {NULL, 0}, x;
    expelled(log, &a, 5, 5);
    assert_crawllog_ok_log(log, crawllog_group_delete(log, GROUP));
    assert_false(group_dir_exists(dir, GROUP));
    /* The standalone consumer's next commit goes to a fresh group. */
    crawllog_topic_partition_t tp = {TOPIC, 0, 8, NULL};
    assert_crawllog_ok(crawllog_consumer_commit_offsets(
        solo, &tp, 1, CRAWLLOG_SYNC_DURABLE));
    expect_committed(log, GROUP, 8, -1);
    crawllog_consumer_destroy(solo);
    /* The expelled member polls: it joins that group, from 8 and 0. */
    rejoins(&a, 8, 0);
    /* A newcomer joins the same group: one of the two partitions each. */
    b.c = consumer(log, GROUP, NULL);
    subscribe(b.c);
    int64_t deadline = cl_test_mono_ms() + 3000;
    int owned = 0;
    while (owned != 2 && cl_test_mono_ms() < deadline) {
        crawllog_group_desc_t *d = NULL;
        const crawllog_msg_t *m[8];
        size_t n;
        assert_crawllog_ok(crawllog_consumer_poll(a.c, 10, m, 8, &n));
        assert_crawllog_ok(crawllog_consumer_poll(b.c, 10, m, 8, &n));
        assert_crawllog_ok(crawllog_group_describe(log, GROUP, &d));
        assert_int_equal((int)d->member_count, 2);
        owned = (d->members[0].partitions == 1) +
                (d->members[1].partitions == 1);
        crawllog_group_desc_free(d);
    }
    assert_int_equal(owned, 2);
    crawllog_consumer_destroy(a.c);
    crawllog_consumer_destroy(b.c);
    /* An expelled member that commits before it polls: refused, and
     * nothing lands in the fresh group; then it joins it. */
    expelled(log, &x, 8, 0);
    assert_crawllog_ok_log(log, crawllog_group_delete(log, GROUP));
    tp.offset = 1;
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           x.c, &tp, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EGENERATION);
    expect_committed(log, GROUP, -1, -1);
    rejoins(&x, 0, 0);
    crawllog_consumer_destroy(x.c);
    crawllog_consumer_destroy(closed);
    cl_test_close_verify(log, dir);
}

/* A static member that stopped polling: swept to "away" (it may come
 * back: refused), then gone for good after session.timeout.ms; its next
 * poll joins a fresh group. */
static void test_delete_after_static_member_gone(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup(dir);
    struct member s = {NULL, 0};
    s.c = consumer(log, GROUP, "group.instance.id", "s",
                   "max.poll.interval.ms", "100", "session.timeout.ms", "100",
                   NULL);
    assert_crawllog_ok(crawllog_consumer_set_rebalance_cb(s.c, on_rebalance,
                                                          &s));
    subscribe(s.c);
    int64_t first[2];
    first_offsets(s.c, first);
    crawllog_topic_partition_t tp = {TOPIC, 0, 4, NULL};
    assert_crawllog_ok(crawllog_consumer_commit_offsets(
        s.c, &tp, 1, CRAWLLOG_SYNC_DURABLE));
    cl_test_sleep_ms(150);
    assert_crawllog_rc_log(log, crawllog_group_delete(log, GROUP),
                           CRAWLLOG_EBUSY);
    expect_errmsg(log, "static member away");
    cl_test_sleep_ms(150);
    assert_crawllog_ok_log(log, crawllog_group_delete(log, GROUP));
    rejoins(&s, 0, 0);
    expect_committed(log, GROUP, -1, -1);
    crawllog_consumer_destroy(s.c);
    cl_test_close_verify(log, dir);
}

/* The library's own handle on the state (group.c): a lock taken through a
 * handle opened before the deletion fails, also when the directory was
 * moved away by other means (a handle that opened the directory just
 * before a deletion and created its files after the rename). */
static void test_old_handle_sees_deletion(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    char from[4500], to[4500];
    struct cl_group h;
    struct cl_err err;
    crawllog_t *log = setup(dir);
    assert_crawllog_ok_log(log, set2(log, GROUP, 1, 1));
    assert_int_equal(cl_group_open(&h, log, GROUP, 0, &err), 0);
    assert_crawllog_ok_log(log, crawllog_group_delete(log, GROUP));
    assert_true(cl_group_retired(&h));
    assert_int_equal(cl_group_lock(&h, &err), CRAWLLOG_ENOENT);
    cl_group_close(&h);

    assert_crawllog_ok_log(log, set2(log, GROUP, 1, 1));
    assert_int_equal(cl_group_open(&h, log, GROUP, 0, &err), 0);
    assert_int_equal(cl_group_lock(&h, &err), 0); /* live */
    cl_group_unlock(&h);
    assert_int_equal(rename(cl_test_path(from, sizeof(from), dir, "groups/g"),
                            cl_test_path(to, sizeof(to), dir, "moved")),
                     0);
    assert_false(cl_group_retired(&h));
    assert_int_equal(cl_group_lock(&h, &err), CRAWLLOG_ENOENT);
    assert_true(cl_group_retired(&h));
    cl_group_close(&h);
    cl_test_rmrf(to);
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* Failpoint and crash sweeps                                              */
/* ---------------------------------------------------------------------- */

/* The template group: committed 2 and 4, with a lag history. */
#define OLD0 2
#define OLD1 4

struct scenario {
    const char *name;
    const char *group;
    int (*run)(crawllog_t *log);
    /* rc: the call's code (1: not known, the process was killed) */
    void (*check)(crawllog_t *log, const char *dir, int rc);
};

static int run_set(crawllog_t *log)
{
    crawllog_topic_partition_t tp[2] = {{TOPIC, 0, 9, "reset"},
                                        {TOPIC, 1, -1, NULL}};
    return crawllog_group_set_offsets(log, GROUP, tp, 2);
}

static void check_set(crawllog_t *log, const char *dir, int rc)
{
    (void)dir;
    struct view v = describe(log, GROUP);
    assert_crawllog_ok(v.rc);
    int now = v.committed[0] == 9 && v.committed[1] == -1;
    if (!now && (rc == 0 || v.committed[0] != OLD0 ||
                 v.committed[1] != OLD1)) {
        fail_msg("set: rc %d, committed %lld %lld", rc,
                 (long long)v.committed[0], (long long)v.committed[1]);
    }
    /* With the new offsets, the changed partition's history is gone. */
    assert_int_equal(strcmp(v.status[0], "NOTFOUND") == 0, now);
}

static int run_set_new(crawllog_t *log)
{
    return set2(log, "h", 9, 3);
}

static void check_set_new(crawllog_t *log, const char *dir, int rc)
{
    (void)dir;
    struct view v = describe(log, "h");
    if (v.rc == CRAWLLOG_ENOENT && rc != 0) {
        return; /* not created */
    }
    assert_crawllog_ok(v.rc);
    int now = v.committed[0] == 9 && v.committed[1] == 3;
    if (!now && (rc == 0 || v.committed[0] != -1 || v.committed[1] != -1)) {
        fail_msg("set new: rc %d, committed %lld %lld", rc,
                 (long long)v.committed[0], (long long)v.committed[1]);
    }
}

static int run_delete(crawllog_t *log)
{
    return crawllog_group_delete(log, GROUP);
}

static void check_delete(crawllog_t *log, const char *dir, int rc)
{
    struct view v = describe(log, GROUP);
    if (v.rc == CRAWLLOG_ENOENT) {
        assert_false(group_dir_exists(dir, GROUP));
        assert_false(listed(log, GROUP));
        return;
    }
    assert_true(rc != 0);
    assert_crawllog_ok(v.rc);
    assert_int_equal(v.committed[0], OLD0);
    assert_int_equal(v.committed[1], OLD1);
}

static const struct scenario SCENARIOS[] = {
    {"set_offsets", GROUP, run_set, check_set},
    {"set_offsets (new group)", "h", run_set_new, check_set_new},
    {"delete", GROUP, run_delete, check_delete},
};

static void make_template(const char *tmpl)
{
    crawllog_t *log = setup(tmpl);
    crawllog_consumer_t *c = standalone(log, GROUP);
    standalone_commit(c, OLD0, OLD1);
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_close(log));
}

static int count_fds(void)
{
    return (int)cl_test_count_entries("/proc/self/fd");
}

/* After a call (rc) in work: close, reopen (the clean-up at open finishes
 * a removal cut short), check, close, verify. */
static void after(const struct scenario *sc, crawllog_t *log,
                  const char *work, int rc, int fds)
{
    if (log != NULL) {
        assert_crawllog_ok(crawllog_close(log));
    }
    assert_int_equal(count_fds(), fds);
    log = cl_test_open(work, NULL);
    sc->check(log, work, rc);
    cl_test_close_verify(log, work);
}

struct crash_job {
    const char *work;
    const struct scenario *sc;
    char spec[64];
};

static void crash_child(void *arg)
{
    const struct crash_job *j = arg;
    crawllog_t *log = cl_test_open(j->work, NULL);
    cl_test_check(cl_fp_set(j->spec) == 0);
    int rc = j->sc->run(log);
    cl_fp_clear();
    cl_test_checkf(rc == 0, "%s: %s", j->sc->name, crawllog_errmsg(log));
    crawllog_close(log);
}

/* kind "EIO": the k-th failpoint hit of the call fails (any site, malloc
 * included), for k = 1, 2, ... until the call runs out of hits; "CRASH":
 * the process is killed there (in a child).  Returns the points swept. */
static int sweep(const char *base, const struct scenario *sc,
                 const char *kind)
{
    char tmpl[4500], work[4500];
    cl_test_path(tmpl, sizeof(tmpl), base, "tmpl");
    cl_test_path(work, sizeof(work), base, "work");
    make_template(tmpl);
    int crash = strcmp(kind, "CRASH") == 0;
    for (int k = 1; k < 1000; k++) {
        cl_test_rmrf(work);
        cl_test_copy_tree(tmpl, work);
        int fds = count_fds(), rc = 1, fired;
        crawllog_t *log = NULL;
        if (crash) {
            struct crash_job j = {work, sc, ""};
            snprintf(j.spec, sizeof(j.spec), "*=CRASH@%d", k);
            int st = cl_test_fork_run(crash_child, &j);
            fired = WIFSIGNALED(st);
            if (!fired) {
                cl_test_assert_exit_ok(st);
                rc = 0;
            }
        } else {
            char spec[64];
            log = cl_test_open(work, NULL);
            snprintf(spec, sizeof(spec), "*=%s@%d", kind, k);
            cl_fp_clear();
            assert_int_equal(cl_fp_set(spec), 0);
            rc = sc->run(log);
            fired = cl_fp_hits_total() + cl_fp_hits("malloc") >= (uint64_t)k;
            cl_fp_clear();
            if (rc != 0 && (!fired || rc >= 0 ||
                            strcmp(crawllog_err_name(rc),
                                   "CRAWLLOG_EUNKNOWN") == 0)) {
                fail_msg("%s with %s: %d: %s", sc->name, spec, rc,
                         crawllog_errmsg(log));
            }
            char g1[64], g2[64];
            snprintf(g1, sizeof(g1), "group %s", sc->group);
            snprintf(g2, sizeof(g2), "groups/%s", sc->group);
            if (rc != 0 && strstr(crawllog_errmsg(log), g1) == NULL &&
                strstr(crawllog_errmsg(log), g2) == NULL) {
                fail_msg("%s with %s: errmsg \"%s\" does not name the group",
                         sc->name, spec, crawllog_errmsg(log));
            }
        }
        after(sc, log, work, rc, fds);
        if (!fired) {
            cl_test_rmrf(tmpl);
            cl_test_rmrf(work);
            return k - 1;
        }
    }
    fail_msg("%s: still failing at k = 1000", sc->name);
    return -1;
}

static void test_fault_sweep(void **state)
{
    for (size_t i = 0; i < sizeof(SCENARIOS) / sizeof(SCENARIOS[0]); i++) {
        int points = sweep(CL_TEST_DIR(state), &SCENARIOS[i], "EIO");
        print_message("%s: %d failure points\n", SCENARIOS[i].name, points);
        assert_true(points >= 10);
    }
}

static void test_crash_sweep(void **state)
{
    for (size_t i = 0; i < sizeof(SCENARIOS) / sizeof(SCENARIOS[0]); i++) {
        int points = sweep(CL_TEST_DIR(state), &SCENARIOS[i], "CRASH");
        print_message("%s: %d crash points\n", SCENARIOS[i].name, points);
        assert_true(points >= 10);
    }
}

/* ---------------------------------------------------------------------- */
/* Power loss                                                              */
/* ---------------------------------------------------------------------- */

struct pl_job {
    const struct cl_test_shadow_run *r;
    int del;             /* 0: set offsets 7, 8; 1: delete */
    const char *ablate;  /* failpoint spec armed for the call, or NULL */
    int fd;              /* checker: where its verdict goes */
};

/* Set offsets 2, 4 (the state before), then the call; then the power
 * fails (SIGKILL, no close). */
static void pl_child(void *arg)
{
    const struct pl_job *j = arg;
    char data[800];
    cl_fp_clear();
    cl_test_check(cl_shadow_enable(j->r->real, j->r->shadow) == 0);
    crawllog_t *log = setup(cl_test_path(data, sizeof(data), j->r->real,
                                         "data"));
    cl_test_check(set2(log, GROUP, 2, 4) == 0);
    cl_test_check(j->ablate == NULL || cl_fp_set(j->ablate) == 0);
    cl_test_check((j->del ? crawllog_group_delete(log, GROUP)
                          : set2(log, GROUP, 7, 8)) == 0);
    raise(SIGKILL);
}

static void pl_check_child(void *arg)
{
    const struct pl_job *j = arg;
    crawllog_t *log = NULL;
    char why[256];
    struct view v = {-1, {-1, -1}, {"", ""}, 0};
    if (cl_test_open_after_power_loss(j->r->img, &log, why, sizeof(why)) ==
        0) {
        v = describe(log, GROUP);
        crawllog_close(log);
    }
    cl_test_check(write(j->fd, &v, sizeof(v)) == (ssize_t)sizeof(v));
}

/* The call, a power loss, and what the durable image holds. */
static struct view pl_run(const char *base, const char *tag, int del,
                          const char *ablate)
{
    struct cl_test_shadow_run r;
    struct pl_job j = {&r, del, ablate, -1};
    struct view v;
    int p[2];
    cl_test_shadow_run_init(&r, base, tag);
    int st = cl_test_fork_run(pl_child, &j);
    cl_test_assert_killed_by(st, SIGKILL);
    assert_int_equal(cl_shadow_image(r.shadow, r.img, CL_SHADOW_DURABLE, 0), 0);
    assert_int_equal(pipe(p), 0);
    j.fd = p[1];
    cl_test_assert_exit_ok(cl_test_fork_run(pl_check_child, &j));
    close(p[1]);
    assert_int_equal(read(p[0], &v, sizeof(v)), (ssize_t)sizeof(v));
    close(p[0]);
    return v;
}

static void test_power_loss(void **state)
{
    const char *base = CL_TEST_DIR(state);
    struct view v = pl_run(base, "set", 0, NULL);
    assert_crawllog_ok(v.rc);
    assert_int_equal(v.committed[0], 7);
    assert_int_equal(v.committed[1], 8);
    v = pl_run(base, "delete", 1, NULL);
    assert_crawllog_rc(v.rc, CRAWLLOG_ENOENT);
    /* Ablation: without its fdatasync the offsets set are lost; without
     * the directory fsyncs after the rename the group comes back. */
    v = pl_run(base, "set-ablated", 0, "offsets.fdatasync=SKIP:persist");
    assert_crawllog_ok(v.rc);
    assert_int_equal(v.committed[0], 2);
    assert_int_equal(v.committed[1], 4);
    v = pl_run(base, "delete-ablated", 1, "topic.fsync=SKIP:persist");
    assert_crawllog_ok(v.rc);
    assert_int_equal(v.committed[0], 2);
}

/* A failed test may leave failpoints armed or the shadow enabled. */
static int fp_setup(void **state)
{
    cl_fp_clear();
    return cl_test_fast_tmpdir_setup(state);
}

static int fp_teardown(void **state)
{
    cl_fp_clear();
    cl_shadow_disable();
    return cl_test_tmpdir_teardown(state);
}

#define T_FP(f) cmocka_unit_test_setup_teardown(f, fp_setup, fp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_set_offsets_new_group),
        cl_test_unit_tmpdir(test_set_offsets_all_or_nothing),
        cl_test_unit_tmpdir(test_set_offsets_resets_lag_history),
        cl_test_unit_tmpdir(test_busy_while_member_active),
        cl_test_unit_tmpdir(test_busy_while_static_member_away),
        cl_test_unit_tmpdir(test_busy_member_in_other_process),
        cl_test_unit_tmpdir(test_delete),
        cl_test_unit_tmpdir(test_delete_with_open_handles),
        cl_test_unit_tmpdir(test_delete_after_static_member_gone),
        cl_test_unit_tmpdir(test_old_handle_sees_deletion),
        T_FP(test_fault_sweep),
        T_FP(test_crash_sweep),
        T_FP(test_power_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
