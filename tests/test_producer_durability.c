/*
 * test_producer_durability.c - acks=all of crawllog_producer_t survives a
 * power loss, proven with the shadow durable image (libcrawllog/
 * io_shadow.h), and the proof is shown to be able to fail (fsync ablation).
 * Built with -DCRAWLLOG_TESTING.
 *
 * Method (the pattern of test_durability.c):
 *  1. A forked child enables the shadow on <run>/real, opens a log in
 *     <run>/real/data, creates a topic, and sends N messages with an
 *     acks=all producer from one or several threads.  After each
 *     successful send it writes (partition, offset, value) to a pipe (one
 *     fixed-size record per write: atomic).  It then dies by SIGKILL
 *     without destroying the producer or closing the log.
 *  2. The parent builds the CL_SHADOW_DURABLE image (only fsync'd /
 *     fdatasync'd bytes survive) and a fresh child, with a different
 *     CRAWLLOG_BOOT_ID (a simulated reboot), opens it (recovery) and looks
 *     up every acknowledged record: present at its offset, with its value.
 *  3. Ablation: with "seg.append.fdatasync=SKIP:persist" set in the sender
 *     after the topic exists, at least one acknowledged record must be
 *     missing from the image -- proof that the check sees lost data.
 *  4. The producer registry (producers/<name>): three instances of one
 *     producer.id are created, the third sends acks=all, then the power
 *     fails.  In the image a new instance must get a newer epoch than the
 *     durable batch carries, and so may send.  Ablation: with the
 *     registry updates' fdatasync skipped ("prod.update.fsync=SKIP:persist")
 *     the image forgets the later instances and the new one is fenced by its own older
 *     epoch.  The same for the sites that create the file (prod.fsync,
 *     prod.rename, prod.dirsync, prod.mkdir.dirsync).
 * Knob: CL_PD_DEBUG=1 prints how many acked records each image kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
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

#define TOPIC "pd"
#define PARTS 2
#define NMSG 96
#define MAX_THREADS 4

/* One acknowledged send, as written to the pipe. */
struct ack {
    int32_t partition;
    int32_t pad;
    int64_t offset;
    char value[32];
};

/* What the checker reports back. */
struct verdict {
    int open_rc;
    int present; /* acked records found with their value */
    int missing; /* acked records whose offset is past the log end */
    int wrong;   /* a record at an acked offset with another value */
    char why[200];
};

/* ---------------------------------------------------------------------- */
/* The sender child                                                        */
/* ---------------------------------------------------------------------- */

struct sender {
    crawllog_producer_t *prod;
    int id, count, fd;
    int failed; /* the first send error, 0 if none */
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < s->count; i++) {
        struct ack a;
        memset(&a, 0, sizeof(a));
        snprintf(a.value, sizeof(a.value), "thread%d-msg%d", s->id, i);
        int64_t off = -1;
        int32_t part = (int32_t)((s->id + i) % PARTS);
        int rc = crawllog_producer_send(s->prod, TOPIC, part, NULL, 0, a.value,
                                        strlen(a.value), NULL, 0, &off);
        if (rc != 0) {
            s->failed = rc;
            break;
        }
        a.partition = part;
        a.offset = off;
        if (write(s->fd, &a, sizeof(a)) != (ssize_t)sizeof(a)) {
            s->failed = -1;
            break;
        }
    }
    return NULL;
}

/* Exit codes of a sender child that could not run its scenario (it dies by
 * SIGKILL when it could). */
enum { EXIT_SHADOW = 10, EXIT_OPEN, EXIT_TOPIC, EXIT_FP, EXIT_PROD, EXIT_SEND };

/* In a sender child: shadow r->real, open the log, create the topic, then
 * arm fp (if not NULL).  Exits with a code above on failure. */
static crawllog_t *child_setup(const struct cl_test_shadow_run *r,
                               const char *fp)
{
    char data[800], err[256];
    crawllog_t *log = NULL;
    cl_fp_clear();
    if (cl_shadow_enable(r->real, r->shadow) != 0) {
        _exit(EXIT_SHADOW);
    }
    cl_test_path(data, sizeof(data), r->real, "data");
    if (crawllog_open(&log, data, NULL, err, sizeof(err)) != 0) {
        _exit(EXIT_OPEN);
    }
    if (crawllog_topic_create(log, TOPIC, PARTS, NULL) != 0) {
        _exit(EXIT_TOPIC);
    }
    if (fp != NULL && cl_fp_set(fp) != 0) {
        _exit(EXIT_FP);
    }
    return log;
}

static _Noreturn void sender_child(const struct cl_test_shadow_run *r,
                                   int nthreads, int ablate, int fd)
{
    char err[256];
    crawllog_t *log =
        child_setup(r, ablate ? "seg.append.fdatasync=SKIP:persist" : NULL);
    crawllog_producer_t *prod = NULL;
    crawllog_conf_t *conf = NULL;
    if (crawllog_conf_new(&conf) != 0 ||
        crawllog_conf_set(conf, "acks", "all", err, sizeof(err)) != 0 ||
        crawllog_producer_new(log, conf, &prod, err, sizeof(err)) != 0) {
        _exit(EXIT_PROD);
    }
    struct sender s[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        s[i] = (struct sender){prod, i, NMSG / nthreads, fd, 0};
        if (pthread_create(&th[i], NULL, sender_main, &s[i]) != 0) {
            _exit(EXIT_SEND);
        }
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        if (s[i].failed != 0) {
            _exit(EXIT_SEND);
        }
    }
    /* A power loss right after the last ack: no destroy, no close. */
    raise(SIGKILL);
    _exit(EXIT_SEND);
}

/* Run the sender; return the number of acks read into acks[]. */
static size_t run_sender(const struct cl_test_shadow_run *r, int nthreads,
                         int ablate, struct ack *acks, size_t max)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        sender_child(r, nthreads, ablate, p[1]);
    }
    close(p[1]);
    size_t n = 0;
    for (;;) {
        struct ack a;
        ssize_t got = read(p[0], &a, sizeof(a));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        assert_int_equal(got, (ssize_t)sizeof(a));
        assert_true(n < max);
        acks[n++] = a;
    }
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
        fail_msg("sender child: status 0x%x (exit %d)", st,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    return n;
}

/* ---------------------------------------------------------------------- */
/* The checker child                                                       */
/* ---------------------------------------------------------------------- */

struct check_job {
    const char *img;
    const struct ack *acks;
    size_t n;
    int fd;
};

/* Look one ack up in an open log; counts it into v. */
static void check_one(crawllog_t *log, const struct ack *a, struct verdict *v)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *msg = NULL;
    int rc = crawllog_reader_new(&rd, log, TOPIC, a->partition);
    if (rc != 0) {
        v->wrong++;
        snprintf(v->why, sizeof(v->why), "reader_new p%d: %d", a->partition,
                 rc);
        return;
    }
    rc = crawllog_reader_seek(rd, a->offset);
    if (rc == CRAWLLOG_EOFFSET) {
        v->missing++;
    } else if (rc != 0 || (rc = crawllog_reader_next(rd, &msg)) != 0) {
        v->wrong++;
        snprintf(v->why, sizeof(v->why), "p%d@%" PRId64 ": rc %d", a->partition,
                 a->offset, rc);
    } else if (msg == NULL) {
        v->missing++; /* seek to exactly the log end */
    } else {
        size_t len = 0;
        const void *val = crawllog_msg_value(msg, &len);
        if (crawllog_msg_offset(msg) == a->offset && val != NULL &&
            len == strlen(a->value) && memcmp(val, a->value, len) == 0) {
            v->present++;
        } else {
            v->wrong++;
            snprintf(v->why, sizeof(v->why), "p%d@%" PRId64 ": not \"%s\"",
                     a->partition, a->offset, a->value);
        }
    }
    crawllog_reader_destroy(rd);
}

static void check_child(void *arg)
{
    const struct check_job *j = arg;
    struct verdict v;
    crawllog_t *log = NULL;
    memset(&v, 0, sizeof(v));
    v.open_rc =
        cl_test_open_after_power_loss(j->img, &log, v.why, sizeof(v.why));
    if (v.open_rc == 0) {
        for (size_t i = 0; i < j->n; i++) {
            check_one(log, &j->acks[i], &v);
        }
        crawllog_close(log);
    }
    if (write(j->fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
        _exit(3);
    }
}

/* Build the synced-only image of r and check acks against it. */
static void check_image(const struct cl_test_shadow_run *r,
                        const struct ack *acks, size_t n, struct verdict *v)
{
    int p[2];
    assert_int_equal(cl_shadow_image(r->shadow, r->img, CL_SHADOW_DURABLE, 0),
                     0);
    assert_int_equal(pipe(p), 0);
    struct check_job j = {r->img, acks, n, p[1]};
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

static void scenario(void **state, const char *tag, int nthreads, int ablate,
                     struct verdict *v)
{
    struct cl_test_shadow_run r;
    static struct ack acks[NMSG];
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
    size_t n = run_sender(&r, nthreads, ablate, acks, NMSG);
    /* Every send was acknowledged before the power loss. */
    assert_int_equal(n, NMSG);
    check_image(&r, acks, n, v);
    if (v->open_rc != 0) {
        fail_msg("recovery of the image failed: %d (%s)", v->open_rc, v->why);
    }
    /* Nothing is ever corrupted or replaced, even when lost. */
    if (v->wrong != 0) {
        fail_msg("%d wrong records (%s)", v->wrong, v->why);
    }
    assert_int_equal(v->present + v->missing, (int)n);
    if (getenv("CL_PD_DEBUG") != NULL) {
        printf("%s: present %d missing %d\n", tag, v->present, v->missing);
    }
}

/* Every acks=all record survives a power loss. */
static void test_producer_durability_acks_all_survives(void **state)
{
    struct verdict v;
    scenario(state, "single", 1, 0, &v);
    assert_int_equal(v.missing, 0);
    assert_int_equal(v.present, NMSG);
}

/* The same with 4 concurrent senders (group commit). */
static void test_producer_durability_group_commit_survives(void **state)
{
    struct verdict v;
    scenario(state, "group", MAX_THREADS, 0, &v);
    assert_int_equal(v.missing, 0);
    assert_int_equal(v.present, NMSG);
}

/* Ablation: without the fdatasync, acknowledged records are lost -- the
 * check above can fail. */
static void test_producer_durability_ablation_loses_acks(void **state)
{
    struct verdict v;
    scenario(state, "ablate", 1, 1, &v);
    if (v.missing < 1) {
        fail_msg("fdatasync skipped, yet all %d acked records survived",
                 v.present);
    }
}

/* The same ablation with 4 senders. */
static void test_producer_durability_ablation_group_loses_acks(void **state)
{
    struct verdict v;
    scenario(state, "ablate-group", MAX_THREADS, 1, &v);
    if (v.missing < 1) {
        fail_msg("fdatasync skipped, yet all %d acked records survived",
                 v.present);
    }
}

/* ---- the producer registry ---------------------------------------------- */

/* n instances of "reg" are created one after the other (the first
 * creates producers/reg, the others update it) and the last sends; then
 * the power fails.  fp (NULL: none) is armed once the topic exists. */
static _Noreturn void registry_child(const struct cl_test_shadow_run *r,
                                     const char *fp, int n)
{
    char err[256];
    crawllog_t *log = child_setup(r, fp);
    crawllog_producer_t *prod = NULL;
    crawllog_conf_t *conf = NULL;
    if (crawllog_conf_new(&conf) != 0 ||
        crawllog_conf_set(conf, "producer.id", "reg", err, sizeof(err)) != 0) {
        _exit(EXIT_PROD);
    }
    for (int i = 0; i < n; i++) {
        crawllog_producer_destroy(prod);
        if (crawllog_producer_new(log, conf, &prod, err, sizeof(err)) != 0) {
            _exit(EXIT_PROD);
        }
    }
    int64_t off;
    if (crawllog_producer_send(prod, TOPIC, 0, NULL, 0, "x", 1, NULL, 0,
                               &off) != 0) {
        _exit(EXIT_SEND);
    }
    raise(SIGKILL);
    _exit(EXIT_SEND);
}

/* In the image: a new instance of "reg" sends; exit code = its result
 * (0, or 100 minus the error code), 2 if the image does not open, 3 if
 * the send's offset is not 1 (after the durable "x"). */
static void registry_check_child(void *arg)
{
    const char *img = arg;
    char data[800], err[256];
    crawllog_t *log = NULL;
    crawllog_producer_t *prod = NULL;
    crawllog_conf_t *conf = NULL;
    setenv("CRAWLLOG_BOOT_ID", "simulated-reboot-after-power-loss", 1);
    cl_test_path(data, sizeof(data), img, "data");
    if (crawllog_open(&log, data, NULL, err, sizeof(err)) != 0 ||
        crawllog_conf_new(&conf) != 0 ||
        crawllog_conf_set(conf, "producer.id", "reg", err, sizeof(err)) != 0) {
        _exit(2);
    }
    int rc = crawllog_producer_new(log, conf, &prod, err, sizeof(err));
    int64_t off;
    if (rc == 0) {
        rc = crawllog_producer_send(prod, TOPIC, 0, NULL, 0, "y", 1, NULL, 0,
                                    &off);
    }
    if (rc == 0 && off != 1) {
        _exit(3); /* the durable batch of the old instance is gone */
    }
    _exit(rc == 0 ? 0 : 100 - rc);
}

/* The checker's exit code, or minus the exit code of a registry child
 * that failed while alive. */
static int registry_scenario(void **state, const char *tag, const char *fp,
                             int n)
{
    struct cl_test_shadow_run r;
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        registry_child(&r, fp, n);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st)) {
        return -WEXITSTATUS(st);
    }
    cl_test_assert_killed_by(st, SIGKILL);
    assert_int_equal(cl_shadow_image(r.shadow, r.img, CL_SHADOW_DURABLE, 0), 0);
    st = cl_test_fork_run(registry_check_child, r.img);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_producer_durability_registry(void **state)
{
    assert_int_equal(registry_scenario(state, "registry", NULL, 3), 0);
    assert_int_equal(registry_scenario(state, "registry1", NULL, 1), 0);
}

static void test_producer_durability_registry_ablation(void **state)
{
    assert_int_equal(registry_scenario(state, "registry-ablate",
                                       "prod.update.fsync=SKIP:persist", 3),
                     100 - CRAWLLOG_EFENCED);
}

/* The creation of producers/<name> (tmp file, fsync, rename, directory
 * fsync; the producers/ directory itself the first time): each sync
 * skipped loses the file, and a new instance after the power loss fails
 * (test_ablation lists these verdicts). */
static void test_producer_durability_registry_create_ablation(void **state)
{
    /* The file comes back empty: the name is unusable. */
    assert_int_equal(
        registry_scenario(state, "prod-fsync", "prod.fsync=SKIP:persist", 1),
        100 - CRAWLLOG_ECORRUPT);
    /* The file (or producers/) is gone: instance 1 again, epoch 1, below
     * the epoch 3 in the log. */
    assert_int_equal(registry_scenario(state, "prod-dirsync",
                                       "prod.dirsync=SKIP:persist", 3),
                     100 - CRAWLLOG_EFENCED);
    assert_int_equal(registry_scenario(state, "prod-mkdir",
                                       "prod.mkdir.dirsync=SKIP:persist", 3),
                     100 - CRAWLLOG_EFENCED);
    /* ... but with one instance epoch 1 again is harmless: the new
     * instance continues the sequences of the batch in the log. */
    assert_int_equal(registry_scenario(state, "prod-dirsync1",
                                       "prod.dirsync=SKIP:persist", 1),
                     0);
    /* Without the rename the name never appears: seen at once. */
    assert_int_equal(
        registry_scenario(state, "prod-rename", "prod.rename=SKIP:persist", 1),
        -EXIT_PROD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_producer_durability_acks_all_survives),
        cl_test_unit_fp(test_producer_durability_group_commit_survives),
        cl_test_unit_fp(test_producer_durability_ablation_loses_acks),
        cl_test_unit_fp(test_producer_durability_ablation_group_loses_acks),
        cl_test_unit_fp(test_producer_durability_registry),
        cl_test_unit_fp(test_producer_durability_registry_ablation),
        cl_test_unit_fp(test_producer_durability_registry_create_ablation),
    };
    return cmocka_run_group_tests_name("producer_durability", tests, NULL,
                                       NULL);
}
