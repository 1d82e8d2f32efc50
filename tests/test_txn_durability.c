/*
 * test_txn_durability.c - transactions across a power loss, proven with
 * the shadow durable image (libcrawllog/io_shadow.h), and each proof shown
 * to be able to fail by skipping the sync it relies on.
 * Built with -DCRAWLLOG_TESTING.
 *
 * A writer child enables the shadow on <run>/real, opens a log there,
 * fills "in" (durably), and runs one transaction of a transactional
 * producer with acks=1 (so only the commit makes anything durable): 3
 * records to each of out/0 and out/1, the group offset of in/0 staged,
 * commit.  It reports the commit's result through a pipe and dies by
 * SIGKILL (nothing closed).  Or, for the sweep, it is killed by a CRASH
 * failpoint at the k-th hit of a sync site inside the commit.  The parent
 * builds the CL_SHADOW_DURABLE image (only synced bytes and names
 * survive); a checker child opens it as after a reboot, creates a new
 * instance of the transactional.id (which finishes what was left) and
 * counts what a read_committed reader sees:
 *  - an acknowledged commit survives whole: 6 records, offset moved
 *    (ablation: the partitions' fdatasync skipped loses it);
 *  - at every crash point the transaction is all or nothing, and the
 *    group offset moved exactly when the records are visible (ablation:
 *    without the fsync of the PREPARE_COMMIT state - the decision - a
 *    crash between two partitions' markers leaves the transaction half
 *    visible after recovery - the decision is written in place into the
 *    state file's other slot, then fdatasync'd, FORMAT section 11; the
 *    creation of the state file and its slots are proven in
 *    test_txn_file).
 */
#include "helpers.h"
#include "io.h"
#include "io_shadow.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TXID "eos"
#define PER_PART 3
#define STAGED 2 /* the offset of in/0 the transaction commits */

struct writer {
    const struct cl_test_shadow_run *r;
    const char *fp; /* armed around the commit only (NULL: none) */
    int fd;         /* pipe: the commit's result */
};

static void writer_child(void *arg)
{
    const struct writer *w = arg;
    char data[800], err[256];
    crawllog_t *log = NULL;
    crawllog_producer_t *p = NULL;
    crawllog_consumer_t *cons = NULL;
    crawllog_group_metadata_t *md = NULL;
    crawllog_record_t jobs[4];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 4; i++) {
        jobs[i].value = "job";
        jobs[i].value_len = 3;
        jobs[i].timestamp = -1;
    }
    cl_test_check(cl_shadow_enable(w->r->real, w->r->shadow) == 0);
    cl_test_path(data, sizeof(data), w->r->real, "data");
    crawllog_conf_t *lc = cl_test_conf("log.flush.parallelism", "1", NULL);
    cl_test_check(crawllog_open(&log, data, lc, err, sizeof(err)) == 0);
    cl_test_check(crawllog_topic_create(log, "in", 1, NULL) == 0);
    cl_test_check(crawllog_topic_create(log, "out", 2, NULL) == 0);
    cl_test_check(crawllog_append(log, "in", 0, jobs, 4,
                                  CRAWLLOG_SYNC_DURABLE, NULL) == 0);
    crawllog_conf_t *pc =
        cl_test_conf("transactional.id", TXID, "acks", "1", NULL);
    crawllog_conf_t *cc = cl_test_conf("group.id", "g", NULL);
    cl_test_check(crawllog_producer_new(log, pc, &p, err, sizeof(err)) == 0);
    cl_test_check(crawllog_consumer_new(log, cc, &cons, err, sizeof(err)) ==
                  0);
    cl_test_check(crawllog_txn_begin(p) == 0);
    for (int32_t part = 0; part < 2; part++) {
        for (int i = 0; i < PER_PART; i++) {
            cl_test_check(crawllog_producer_send(p, "out", part, NULL, 0,
                                                 "res", 3, NULL, 0,
                                                 NULL) == 0);
        }
    }
    crawllog_topic_partition_t tp = {"in", 0, STAGED, NULL};
    cl_test_check(crawllog_consumer_group_metadata(cons, &md) == 0);
    cl_test_check(crawllog_txn_send_offsets(p, md, &tp, 1) == 0);
    if (w->fp != NULL) {
        cl_test_check(cl_fp_set(w->fp) == 0);
    }
    int rc = crawllog_txn_commit(p);
    cl_fp_clear();
    cl_test_check(write(w->fd, &rc, sizeof(rc)) == (ssize_t)sizeof(rc));
    raise(SIGKILL); /* the power fails right after the answer */
}

struct outcome {
    int open_rc, records, offset;
};

struct checker {
    const char *img;
    int fd;
};

static void checker_child(void *arg)
{
    const struct checker *c = arg;
    struct outcome o = {0, 0, -1};
    char why[256], err[256];
    crawllog_t *log = NULL;
    o.open_rc = cl_test_open_after_power_loss(c->img, &log, why, sizeof(why));
    if (o.open_rc == 0) {
        crawllog_conf_t *pc = cl_test_conf("transactional.id", TXID, NULL);
        crawllog_conf_t *cc = cl_test_conf("group.id", "g", NULL);
        crawllog_producer_t *p = NULL;
        crawllog_consumer_t *cons = NULL;
        int64_t off = -1;
        /* The topics may not exist in an early image. */
        if (crawllog_producer_new(log, pc, &p, err, sizeof(err)) == 0) {
            crawllog_producer_destroy(p);
        }
        for (int32_t part = 0; part < 2; part++) {
            crawllog_reader_t *rd = NULL;
            const crawllog_msg_t *m = NULL;
            if (crawllog_reader_new(&rd, log, "out", part) != 0) {
                continue;
            }
            while (crawllog_reader_next(rd, &m) == 0 && m != NULL) {
                o.records++;
            }
            crawllog_reader_destroy(rd);
        }
        cl_test_check(crawllog_consumer_new(log, cc, &cons, err,
                                            sizeof(err)) == 0);
        cl_test_check(crawllog_consumer_committed(cons, "in", 0, &off) == 0);
        o.offset = (int)off;
        crawllog_consumer_destroy(cons);
        crawllog_close(log);
    }
    cl_test_check(write(c->fd, &o, sizeof(o)) == (ssize_t)sizeof(o));
}

/* One run: the writer (fp armed around the commit), then the image's
 * outcome.  *rcp: the commit's result, or 1 if the writer died first. */
static struct outcome run(void **state, const char *tag, const char *fp,
                          int *rcp)
{
    struct cl_test_shadow_run r;
    struct outcome o;
    int p[2], q[2];
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
    assert_int_equal(pipe(p), 0);
    struct writer w = {&r, fp, p[1]};
    int st = cl_test_fork_run(writer_child, &w);
    close(p[1]);
    if (read(p[0], rcp, sizeof(*rcp)) != (ssize_t)sizeof(*rcp)) {
        *rcp = 1; /* killed inside the commit */
    }
    close(p[0]);
    cl_test_assert_killed_by(st, SIGKILL);
    assert_int_equal(cl_shadow_image(r.shadow, r.img, CL_SHADOW_DURABLE, 0),
                     0);
    assert_int_equal(pipe(q), 0);
    struct checker c = {r.img, q[1]};
    st = cl_test_fork_run(checker_child, &c);
    close(q[1]);
    assert_int_equal(read(q[0], &o, sizeof(o)), (ssize_t)sizeof(o));
    close(q[0]);
    cl_test_assert_exit_ok(st);
    cl_test_rmrf(r.dir);
    return o;
}

/* 0 if o is all-or-nothing with agreeing offsets, else 1 (printed). */
static int broken(const char *fp, const struct outcome *o)
{
    int all = o->records == 2 * PER_PART;
    if (o->open_rc != 0 || (o->records != 0 && !all) ||
        (all != (o->offset == STAGED))) {
        printf("  %s: open %d, %d records, offset %d\n", fp ? fp : "-",
               o->open_rc, o->records, o->offset);
        return 1;
    }
    return 0;
}

static void test_txn_durability_commit_survives(void **state)
{
    int rc = -1;
    struct outcome o = run(state, "plain", NULL, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(o.open_rc, 0);
    assert_int_equal(o.records, 2 * PER_PART);
    assert_int_equal(o.offset, STAGED);
}

/* Without the partitions' fdatasync the acknowledged commit is lost (in
 * part or whole): the check above can fail. */
static void test_txn_durability_ablation_data_sync(void **state)
{
    int rc = -1;
    struct outcome o =
        run(state, "ablate", "seg.append.fdatasync=SKIP:persist", &rc);
    assert_int_equal(rc, 0);
    if (o.records == 2 * PER_PART) {
        fail_msg("data fdatasync skipped, yet the committed records "
                 "survived");
    }
}

/* A power loss at every sync of the commit: all or nothing.  With skip
 * (the decision's fsync skipped) at least one point must break it. */
static int sweep(void **state, const char *skip)
{
    static const char *const sites[] = {
        "seg.append.fdatasync", "txn.fsync", "txn.dirsync",
        "txn.slot.fdatasync", "txn.slot.write", "offsets.fdatasync"};
    int bad = 0, points = 0;
    for (size_t s = 0; s < sizeof(sites) / sizeof(sites[0]); s++) {
        for (int k = 1; k <= 6; k++) {
            char fp[160];
            int rc = -1;
            snprintf(fp, sizeof(fp), "%s=CRASH@%d%s%s", sites[s], k,
                     skip ? ";" : "", skip ? skip : "");
            struct outcome o = run(state, "sweep", fp, &rc);
            if (rc != 1) {
                break; /* the commit ended before hit k: site done */
            }
            points++;
            bad += broken(fp, &o);
        }
    }
    printf("txn power-loss sweep%s: %d crash points, %d broken\n",
           skip ? " (ablated)" : "", points, bad);
    assert_true(points >= 5);
    return bad;
}

static void test_txn_durability_sweep(void **state)
{
    assert_int_equal(sweep(state, NULL), 0);
}

static void test_txn_durability_ablation_decision(void **state)
{
    if (sweep(state, "txn.slot.fdatasync=SKIP:persist") == 0) {
        fail_msg("decision fsync skipped, yet no crash point left the "
                 "transaction half visible");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_txn_durability_commit_survives),
        cl_test_unit_fp(test_txn_durability_ablation_data_sync),
        cl_test_unit_fp(test_txn_durability_sweep),
        cl_test_unit_fp(test_txn_durability_ablation_decision),
    };
    return cmocka_run_group_tests_name("txn_durability", tests, NULL, NULL);
}
