/*
 * test_migrate_durability.c - the cut-over of a topic migration (migrate.c
 * cutover_locked, docs/MIGRATION.md step 3) makes every record of <old>
 * below cut.<p> durable, proven with the shadow durable image (libcrawllog/
 * io_shadow.h), and the proof is shown to be able to fail (fsync ablation).
 * Built with -DCRAWLLOG_TESTING.
 *
 * Why it matters: after the cut-over consumer groups read <old> up to
 * cut.<p> and skip the copies in <new> below start.<q>, so a record of
 * <old> appended with CRAWLLOG_SYNC_WRITTEN (not durable by itself) that a
 * power loss took away after the cut-over would never be delivered.
 *
 * Method (the pattern of test_producer_durability.c):
 *  1. A child (cl_test_fork_start) enables the shadow on <run>/real, opens
 *     a log in <run>/real/data, creates "old" (PARTS partitions), appends
 *     NREC records to each with CRAWLLOG_SYNC_WRITTEN (batches of a keyed
 *     and a keyless record; old partition p offset i has value "p<p>-r<i>"),
 *     has group GROUP commit offsets on "old" (so the migration stays in
 *     state redirect, GROUP pending), optionally arms the ablation, migrates
 *     "old" to "new" (NNEW partitions), writes the migration's cut[] to a
 *     pipe and dies by SIGKILL without closing the log (a power loss).
 *  2. The parent builds the CL_SHADOW_DURABLE image; a fresh child with
 *     another CRAWLLOG_BOOT_ID (a simulated reboot) opens it (recovery) and
 *     reports each old partition's log end and how many records below
 *     cut[p] read back intact at their offsets, the migration file (state,
 *     cut[], pending group) and which records "new" holds (each once).
 *  3. Ablation: with ABLATE_FP armed just before the migration, at least
 *     one old partition must end below its cut in the image (in fact all
 *     end at 0: nothing else makes <old>'s WRITTEN records durable).
 * Knob: CL_MD_DEBUG=1 prints each image's old log ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawllog.h"
#include "helpers.h"
#include "io.h"
#include "io_shadow.h"

#define PARTS 3
#define NNEW 2
#define NREC 36 /* records per old partition (even: batches of two) */
#define GROUP "g"
#define ABLATE_FP "migrate.cut.fdatasync=SKIP:persist"

/* What the migrating child reports through the pipe. */
struct cutrep {
    int64_t cut[PARTS];
    int32_t state;
    int32_t pending; /* 1: GROUP is the one pending group */
};

/* What the checker reports back. */
struct verdict {
    int open_rc;
    int64_t end[PARTS]; /* log end of old partition p in the image */
    int kept[PARTS];    /* records below cut[p] read back intact */
    int wrong;          /* records read with another offset/key/value */
    int mig_rc, mig_state, mig_cut_same;
    int mig_pending; /* 1: GROUP is the one pending group */
    /* "new": distinct old records found, found twice, foreign records */
    int new_found, new_dup, new_bad;
    char why[200];
};

/* Old partition p, offset i: keyed ("k<p>-<i % 5>") when i is even. */
static void rec_key(char *buf, size_t size, int32_t p, int64_t i)
{
    snprintf(buf, size, "k%d-%d", (int)p, (int)(i % 5));
}

static void rec_value(char *buf, size_t size, int32_t p, int64_t i)
{
    snprintf(buf, size, "p%d-r%d", (int)p, (int)i);
}

/* ---------------------------------------------------------------------- */
/* The migrating child                                                     */
/* ---------------------------------------------------------------------- */

struct migrate_job {
    const struct cl_test_shadow_run *r;
    int ablate, fd;
};

/* Group GROUP commits offsets (durably) on every old partition, so the
 * migration stays in state redirect with GROUP pending: GROUP is to read
 * <old> up to the cut (step 4). */
static void commit_group(crawllog_t *log)
{
    char err[256];
    crawllog_consumer_t *c = NULL;
    crawllog_conf_t *conf = cl_test_conf("group.id", GROUP, NULL);
    crawllog_topic_partition_t tp[PARTS];
    for (int32_t p = 0; p < PARTS; p++) {
        tp[p] = (crawllog_topic_partition_t){"old", p, NREC / 2, NULL};
    }
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    cl_test_checkf(rc == 0, "consumer_new: %d (%s)", rc, err);
    assert_crawllog_ok(crawllog_consumer_assign(c, tp, PARTS));
    assert_crawllog_ok(
        crawllog_consumer_commit_offsets(c, tp, PARTS, CRAWLLOG_SYNC_DURABLE));
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    crawllog_conf_destroy(conf);
}

/* Made by cl_test_fork_start: its checks end it with an exit status; a
 * successful run ends with SIGKILL. */
static void migrate_child(void *arg)
{
    const struct migrate_job *j = arg;
    char data[800];
    cl_fp_clear();
    cl_test_check(cl_shadow_enable(j->r->real, j->r->shadow) == 0);
    cl_test_path(data, sizeof(data), j->r->real, "data");
    crawllog_t *log = cl_test_open(data, NULL);
    cl_test_create_topic(log, "old", PARTS, NULL);
    for (int32_t p = 0; p < PARTS; p++) {
        for (int64_t i = 0; i < NREC; i += 2) {
            char key[16], v0[24], v1[24];
            rec_key(key, sizeof(key), p, i);
            rec_value(v0, sizeof(v0), p, i);
            rec_value(v1, sizeof(v1), p, i + 1);
            crawllog_record_t recs[2] = {
                {key, strlen(key), v0, strlen(v0), -1, NULL, 0},
                {NULL, 0, v1, strlen(v1), -1, NULL, 0},
            };
            int64_t base = -1;
            assert_crawllog_ok(crawllog_append(log, "old", p, recs, 2,
                                               CRAWLLOG_SYNC_WRITTEN, &base));
            cl_test_check(base == i);
        }
    }
    commit_group(log);
    cl_test_check(!j->ablate || cl_fp_set(ABLATE_FP) == 0);
    assert_crawllog_ok_log(
        log, crawllog_topic_migrate(log, "old", "new", NNEW, NULL, NULL));
    crawllog_migration_t *info = NULL;
    assert_crawllog_ok(crawllog_topic_migration(log, "old", &info));
    cl_test_check(info->old_partitions == PARTS);
    struct cutrep rep;
    memset(&rep, 0, sizeof(rep));
    rep.state = (int32_t)info->state;
    rep.pending = info->pending_group_count == 1 &&
                  strcmp(info->pending_groups[0], GROUP) == 0;
    for (int32_t p = 0; p < PARTS; p++) {
        rep.cut[p] = info->cut[p];
    }
    crawllog_migration_free(info);
    cl_test_check(write(j->fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep));
    /* A power loss right after the cut-over: no close. */
    raise(SIGKILL);
}

static void run_migrate(const struct cl_test_shadow_run *r, int ablate,
                        struct cutrep *rep)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct migrate_job j = {r, ablate, p[1]};
    pid_t pid = cl_test_fork_start(migrate_child, &j);
    close(p[1]);
    ssize_t got;
    do {
        got = read(p[0], rep, sizeof(*rep));
    } while (got < 0 && errno == EINTR);
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    cl_test_assert_killed_by(st, SIGKILL);
    assert_int_equal(got, (ssize_t)sizeof(*rep));
}

/* ---------------------------------------------------------------------- */
/* The checker child                                                       */
/* ---------------------------------------------------------------------- */

struct check_job {
    const char *img;
    const struct cutrep *rep;
    int fd;
};

static int msg_is(const crawllog_msg_t *msg, const char *want, int value)
{
    size_t len = 0;
    const void *b =
        value ? crawllog_msg_value(msg, &len) : crawllog_msg_key(msg, &len);
    return want == NULL
               ? b == NULL
               : b != NULL && len == strlen(want) && memcmp(b, want, len) == 0;
}

/* Read old partition p from its start up to cut (or its end). */
static void check_old(crawllog_t *log, int32_t p, int64_t cut,
                      struct verdict *v)
{
    crawllog_reader_t *rd = NULL;
    int rc = crawllog_partition_offsets(log, "old", p, NULL, &v->end[p]);
    if (rc == 0) {
        rc = crawllog_reader_new(&rd, log, "old", p);
    }
    for (int64_t i = 0; rc == 0 && i < cut; i++) {
        const crawllog_msg_t *msg = NULL;
        char key[16], val[24];
        if ((rc = crawllog_reader_next(rd, &msg)) != 0 || msg == NULL) {
            break; /* the end: lost records are counted by the caller */
        }
        rec_key(key, sizeof(key), p, i);
        rec_value(val, sizeof(val), p, i);
        if (crawllog_msg_offset(msg) != i || !msg_is(msg, val, 1) ||
            !msg_is(msg, i % 2 == 0 ? key : NULL, 0)) {
            v->wrong++;
            snprintf(v->why, sizeof(v->why), "old p%d@%" PRId64 ": not %s",
                     (int)p, i, val);
            break;
        }
        v->kept[p]++;
    }
    if (rc != 0) {
        v->wrong++;
        snprintf(v->why, sizeof(v->why), "old p%d: rc %d", (int)p, rc);
    }
    crawllog_reader_destroy(rd);
}

/* Every record of "new" must be a distinct old record (by its value). */
static void check_new(crawllog_t *log, struct verdict *v)
{
    static unsigned char seen[PARTS][NREC];
    memset(seen, 0, sizeof(seen));
    for (int32_t q = 0; q < NNEW; q++) {
        crawllog_reader_t *rd = NULL;
        int rc = crawllog_reader_new(&rd, log, "new", q);
        for (;;) {
            const crawllog_msg_t *msg = NULL;
            if (rc != 0 || (rc = crawllog_reader_next(rd, &msg)) != 0 ||
                msg == NULL) {
                break;
            }
            size_t len = 0;
            const char *b = crawllog_msg_value(msg, &len);
            char val[24];
            int p = -1, i = -1, n = 0;
            if (b != NULL && len < sizeof(val)) {
                memcpy(val, b, len);
                val[len] = '\0';
                if (sscanf(val, "p%d-r%d%n", &p, &i, &n) != 2 ||
                    (size_t)n != len) {
                    p = -1;
                }
            }
            if (p < 0 || p >= PARTS || i < 0 || i >= NREC) {
                v->new_bad++;
            } else if (seen[p][i]++) {
                v->new_dup++;
            } else {
                v->new_found++;
            }
        }
        if (rc != 0) {
            v->new_bad++;
            snprintf(v->why, sizeof(v->why), "new p%d: rc %d", (int)q, rc);
        }
        crawllog_reader_destroy(rd);
    }
}

static void check_child(void *arg)
{
    const struct check_job *j = arg;
    struct verdict v;
    crawllog_t *log = NULL;
    memset(&v, 0, sizeof(v));
    v.mig_state = -1;
    v.open_rc =
        cl_test_open_after_power_loss(j->img, &log, v.why, sizeof(v.why));
    if (v.open_rc == 0) {
        for (int32_t p = 0; p < PARTS; p++) {
            check_old(log, p, j->rep->cut[p], &v);
        }
        crawllog_migration_t *info = NULL;
        v.mig_rc = crawllog_topic_migration(log, "old", &info);
        if (v.mig_rc == 0) {
            v.mig_state = (int)info->state;
            v.mig_cut_same = info->old_partitions == PARTS && info->cut != NULL;
            for (int32_t p = 0; v.mig_cut_same && p < PARTS; p++) {
                v.mig_cut_same = info->cut[p] == j->rep->cut[p];
            }
            v.mig_pending = info->pending_group_count == 1 &&
                            strcmp(info->pending_groups[0], GROUP) == 0;
            crawllog_migration_free(info);
        }
        check_new(log, &v);
        crawllog_close(log);
    }
    if (write(j->fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
        _exit(3);
    }
}

static void check_image(const struct cl_test_shadow_run *r,
                        const struct cutrep *rep, struct verdict *v)
{
    int p[2];
    assert_int_equal(cl_shadow_image(r->shadow, r->img, CL_SHADOW_DURABLE, 0),
                     0);
    assert_int_equal(pipe(p), 0);
    struct check_job j = {r->img, rep, p[1]};
    int st = cl_test_fork_run(check_child, &j);
    close(p[1]);
    ssize_t got = read(p[0], v, sizeof(*v));
    close(p[0]);
    cl_test_assert_exit_ok(st);
    assert_int_equal(got, (ssize_t)sizeof(*v));
    v->why[sizeof(v->why) - 1] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

/* Migrate, lose the power, check the image; returns how many old
 * partitions end below their cut there. */
static int scenario(void **state, const char *tag, int ablate)
{
    struct cl_test_shadow_run r;
    struct cutrep rep;
    struct verdict v;
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
    run_migrate(&r, ablate, &rep);
    /* Nothing appended during the migration: the cut is the log end. */
    assert_int_equal(rep.state, CRAWLLOG_MIGRATION_REDIRECT);
    assert_true(rep.pending);
    for (int32_t p = 0; p < PARTS; p++) {
        assert_int_equal(rep.cut[p], NREC);
    }
    check_image(&r, &rep, &v);
    if (v.open_rc != 0) {
        fail_msg("recovery of the image failed: %d (%s)", v.open_rc, v.why);
    }
    /* Whatever survives is intact: lost records are missing, not wrong. */
    if (v.wrong != 0) {
        fail_msg("%d wrong old records (%s)", v.wrong, v.why);
    }
    /* The migration file and the copies were made durable on their own. */
    assert_int_equal(v.mig_rc, 0);
    assert_int_equal(v.mig_state, CRAWLLOG_MIGRATION_REDIRECT);
    assert_true(v.mig_cut_same);
    assert_true(v.mig_pending);
    if (v.new_bad != 0 || v.new_dup != 0) {
        fail_msg("\"new\": %d foreign, %d duplicate records (%s)", v.new_bad,
                 v.new_dup, v.why);
    }
    assert_int_equal(v.new_found, PARTS * NREC);
    int short_parts = 0;
    for (int32_t p = 0; p < PARTS; p++) {
        /* Recovery keeps a prefix: what is below the end reads back. */
        int64_t below = v.end[p] < rep.cut[p] ? v.end[p] : rep.cut[p];
        assert_int_equal(v.kept[p], below);
        short_parts += v.end[p] < rep.cut[p];
        if (getenv("CL_MD_DEBUG") != NULL) {
            printf("%s: old p%d end %" PRId64 " cut %" PRId64 "\n", tag, (int)p,
                   v.end[p], rep.cut[p]);
        }
    }
    return short_parts;
}

/* Every old record below cut.<p>, appended WRITTEN only, survives a power
 * loss right after the cut-over. */
static void test_cutover_sync_keeps_old(void **state)
{
    int short_parts = scenario(state, "keep", 0);
    if (short_parts != 0) {
        fail_msg("%d old partitions end below their cut after a power loss",
                 short_parts);
    }
}

/* Ablation: without the cut-over's fdatasync, old records below the cut
 * are lost -- the check above can fail. */
static void test_cutover_sync_ablation_loses_old(void **state)
{
    int short_parts = scenario(state, "ablate", 1);
    if (short_parts < 1) {
        fail_msg("%s: yet every old partition kept its records up to the cut",
                 ABLATE_FP);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_cutover_sync_keeps_old),
        cl_test_unit_fp(test_cutover_sync_ablation_loses_old),
    };
    return cmocka_run_group_tests_name("migrate_durability", tests, NULL, NULL);
}
