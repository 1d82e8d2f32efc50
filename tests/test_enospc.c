/*
 * test_enospc.c - reliability test T7 (reliability.md section 4.8): a real
 * ENOSPC from a small filesystem, not a failpoint.
 *
 * Each test forks a child that enters a private mount namespace (as root:
 * unshare CLONE_NEWNS; if that is refused, a user namespace mapping our
 * uid to 0), makes every mount private, mounts a small tmpfs (1 MiB, 4 MiB
 * for commits) on a fresh directory and runs its scenario on a data
 * directory there, through the public API only.  If the namespace or the
 * mount is refused the child exits with T7_SKIP and the parent prints
 * "SKIP: T7 needs a private mount namespace (<why>)" and calls cmocka's
 * skip(): never a silent pass.  The mount goes away with the child.
 *
 * Space is freed with a "spare" file (what an operator deletes), a
 * "ballast" topic deleted through the API, and retention.  Every record's
 * value (and length) is a function of its offset, so any record read can
 * be checked on its own.
 *
 * Asserted (and observed):
 *  - The call that finds the disk full returns CRAWLLOG_ENOSPC and its
 *    errmsg names the place: "topics/t/0/<base>.log: write header: ..."
 *    when a roll cannot create the next segment, "topics/t/0: write: ..."
 *    (the partition, not the segment file) when the batch does not fit,
 *    "groups/g/offsets: grow: ..." for a commit.
 *  - Nothing of a failed batch is visible: the log end stays at the last
 *    acknowledged offset, every acknowledged record reads back (same
 *    handle, after a reopen), nothing follows it, crawllog_verify() is
 *    clean.
 *  - A failed batch write or segment creation is not sticky: the same
 *    (or a larger) batch keeps failing with CRAWLLOG_ENOSPC, not
 *    CRAWLLOG_ECLOSED (RELIABILITY.md G9: only a failed fdatasync - or a
 *    failed undo - poisons a partition; tmpfs never fails either), and
 *    the same handle and producer append again at the next offset once
 *    there is room.  The idempotent producer's sequence does not advance
 *    for a failed batch.  crawllog_close() then returns CRAWLLOG_OK.
 *  - Sticky, observed: a roll whose sealed segment cannot get its time
 *    index entry (test_enospc_seal_full) leaves the partition CRAWLLOG_
 *    ECLOSED until the log is reopened, although no fsync failed.
 *  - crawllog_maintain() cannot run on a full disk (its log-start-offset
 *    checkpoint comes first, G8): CRAWLLOG_ENOSPC, nothing deleted.
 *    Deleting a topic works there (on tmpfs), and once the checkpoint
 *    has a block retention frees space and appends resume.
 *  - A group commit that fails with ENOSPC leaves the committed offset
 *    (crawllog_consumer_committed at once, crawllog_group_describe after
 *    a reopen).  The offsets file grows in 256 KiB steps of zeros: a
 *    commit that cannot write the whole step fails but keeps what it
 *    wrote, so a later (or smaller) commit may fit.
 *
 * The last four tests assert what the library should do and FAIL today:
 * see the "Defects" section.
 */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS, CLONE_NEWUSER */

#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit status of a child that could not get its filesystem. */
#define T7_SKIP 77
#define T7_MAX_BATCHES 20000 /* far more than the filesystem holds */
#define VALUE_MAX 800
#define NOSPC_TEXT "No space left on device"

/* ---------------------------------------------------------------------- */
/* The private tmpfs                                                       */
/* ---------------------------------------------------------------------- */

struct t7_ctx {
    char base[4096];  /* the test's temporary directory */
    char mnt[4200];   /* base/mnt: the tmpfs */
    char data[4300];  /* mnt/data: the data directory */
    char spare[4300]; /* mnt/spare: space to free */
    const char *fs_size;
    void (*scenario)(struct t7_ctx *);
};

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t n = write(fd, text, strlen(text));
    int e = n < 0 ? errno : EIO;
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -e;
}

/* In the child: a private mount namespace, or -1 and the reason in why. */
static int enter_namespace(char *why, size_t size)
{
    if (unshare(CLONE_NEWNS) != 0) {
        int e = errno;
        char map[64];
        long uid = (long)getuid(), gid = (long)getgid();
        if (e != EPERM) {
            snprintf(why, size, "unshare CLONE_NEWNS: %s", strerror(e));
            return -1;
        }
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            snprintf(why, size,
                     "unshare CLONE_NEWNS: %s; with CLONE_NEWUSER: %s",
                     strerror(e), strerror(errno));
            return -1;
        }
        int rc = write_text("/proc/self/setgroups", "deny");
        if (rc == 0 || rc == -ENOENT) {
            snprintf(map, sizeof(map), "0 %ld 1", uid);
            rc = write_text("/proc/self/uid_map", map);
        }
        if (rc == 0) {
            snprintf(map, sizeof(map), "0 %ld 1", gid);
            rc = write_text("/proc/self/gid_map", map);
        }
        if (rc != 0) {
            snprintf(why, size, "user namespace id maps: %s", strerror(-rc));
            return -1;
        }
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(why, size, "making / private: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void child_main(void *arg)
{
    static const int sigs[] = {SIGBUS, SIGSEGV, SIGILL, SIGFPE};
    struct t7_ctx *c = arg;
    char why[4800] = "", opts[64];
    /* cmocka's handlers would longjmp into its runner inside this child: a
     * crash must end the child, for the parent to see the signal. */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        signal(sigs[i], SIG_DFL);
    }
    cl_test_checkf(mkdir(c->mnt, 0700) == 0, "mkdir %s: %s", c->mnt,
                   strerror(errno));
    snprintf(opts, sizeof(opts), "size=%s,mode=0700", c->fs_size);
    int rc = enter_namespace(why, sizeof(why));
    if (rc == 0 && mount("tmpfs", c->mnt, "tmpfs", MS_NOSUID | MS_NODEV,
                         opts) != 0) {
        snprintf(why, sizeof(why), "tmpfs %s on %s: %s", opts, c->mnt,
                 strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        char path[4300];
        cl_test_write_file(cl_test_path(path, sizeof(path), c->base, "skip"),
                           why, strlen(why));
        fflush(stdout);
        fflush(stderr);
        _exit(T7_SKIP);
    }
    c->scenario(c);
}

/* Run scenario in a child on a fresh tmpfs of fs_size; skip() (loudly) if
 * the namespace or the mount is refused. */
static void run_on_tmpfs(void **state, void (*scenario)(struct t7_ctx *),
                         const char *fs_size)
{
    static struct t7_ctx c;
    char path[4300];
    memset(&c, 0, sizeof(c));
    snprintf(c.base, sizeof(c.base), "%s", CL_TEST_DIR(state));
    cl_test_path(c.mnt, sizeof(c.mnt), c.base, "mnt");
    cl_test_path(c.data, sizeof(c.data), c.mnt, "data");
    cl_test_path(c.spare, sizeof(c.spare), c.mnt, "spare");
    c.fs_size = fs_size;
    c.scenario = scenario;
    int status = cl_test_fork_run(child_main, &c);
    if (WIFEXITED(status) && WEXITSTATUS(status) == T7_SKIP) {
        char *why = cl_test_read_file(
            cl_test_path(path, sizeof(path), c.base, "skip"), NULL);
        printf("SKIP: T7 needs a private mount namespace (%s)\n", why);
        free(why);
        skip();
    }
    cl_test_assert_exit_ok(status);
}

static void spare_make(const struct t7_ctx *c, size_t kib)
{
    static const char zeros[65536];
    cl_test_check(kib * 1024 <= sizeof(zeros));
    cl_test_write_file(c->spare, zeros, kib * 1024);
}

static void spare_free(const struct t7_ctx *c)
{
    cl_test_checkf(unlink(c->spare) == 0, "unlink %s: %s", c->spare,
                   strerror(errno));
}

static long free_kib(const struct t7_ctx *c)
{
    struct statvfs sv;
    cl_test_checkf(statvfs(c->mnt, &sv) == 0, "statvfs %s: %s", c->mnt,
                   strerror(errno));
    return (long)(sv.f_bavail * sv.f_frsize / 1024);
}

/* ---------------------------------------------------------------------- */
/* Records and appends                                                     */
/* ---------------------------------------------------------------------- */

static size_t value_len(int64_t off)
{
    return 64 + (size_t)((uint64_t)off * 131u % (VALUE_MAX - 64));
}

/* The value of the record at offset off (value_len(off) bytes). */
static void make_value(char *buf, int64_t off)
{
    int n = snprintf(buf, VALUE_MAX + 1, "%020" PRId64 "|", off);
    for (size_t i = (size_t)n; i < value_len(off); i++) {
        buf[i] = (char)('a' + ((uint64_t)off + i) % 26);
    }
}

static void offsets(crawllog_t *log, const char *topic, int64_t *start,
                    int64_t *end)
{
    assert_crawllog_ok_log(
        log, crawllog_partition_offsets(log, topic, 0, start, end));
}

/* The partition must be exactly [start, end). */
static void expect_offsets(crawllog_t *log, const char *topic, int64_t start,
                           int64_t end)
{
    int64_t s, e;
    offsets(log, topic, &s, &e);
    cl_test_checkf(s == start && e == end,
                   "%s: offsets [%" PRId64 ", %" PRId64 "), want [%" PRId64
                   ", %" PRId64 ")",
                   topic, s, e, start, end);
}

/* Read [from, end) of topic/0 with a new reader, checking every record,
 * then that nothing follows. */
static void read_range(crawllog_t *log, const char *topic, int64_t from,
                       int64_t end)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *msg = NULL;
    char want[VALUE_MAX + 1];
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, topic, 0));
    assert_crawllog_ok(crawllog_reader_seek(rd, from));
    for (int64_t off = from; off < end; off++) {
        size_t len = 0;
        msg = cl_test_next_msg(rd);
        const void *v = crawllog_msg_value(msg, &len);
        make_value(want, off);
        cl_test_checkf(crawllog_msg_offset(msg) == off &&
                           len == value_len(off) && v != NULL &&
                           memcmp(v, want, len) == 0,
                       "%s: record at %" PRId64 " (offset %" PRId64
                       ", %zu bytes) is wrong",
                       topic, off, crawllog_msg_offset(msg), len);
    }
    int rc = crawllog_reader_next(rd, &msg);
    cl_test_checkf(rc == 0 && msg == NULL,
                   "%s: after the last acknowledged offset %" PRId64
                   ": %s, %s",
                   topic, end - 1, crawllog_err_name(rc),
                   msg ? "a record" : "no record");
    crawllog_reader_destroy(rd);
}

/* Append count (1-4) records at *endp as one batch; on success *endp
 * moves past them (the base must be *endp: there is one writer). */
static int append_batch(crawllog_t *log, const char *topic, int64_t *endp,
                        int count, int sync)
{
    static char values[4][VALUE_MAX + 1];
    crawllog_record_t r[4];
    int64_t base = -2;
    for (int j = 0; j < count; j++) {
        make_value(values[j], *endp + j);
        r[j] = (crawllog_record_t){"k", 1, values[j], value_len(*endp + j),
                                   -1, NULL, 0};
    }
    int rc = crawllog_append(log, topic, 0, r, (size_t)count, sync, &base);
    if (rc == 0) {
        cl_test_checkf(base == *endp,
                       "%s: append base %" PRId64 ", want %" PRId64, topic,
                       base, *endp);
        *endp += count;
    } else {
        cl_test_checkf(base == -1, "failed append: base %" PRId64, base);
    }
    return rc;
}

/* rc must be ENOSPC, and msg must name place and say ENOSPC. */
static void expect_enospc(int rc, const char *msg, const char *place)
{
    cl_test_checkf(rc == CRAWLLOG_ENOSPC, "%s, want CRAWLLOG_ENOSPC (%s)",
                   crawllog_err_name(rc), msg);
    cl_test_checkf(strstr(msg, place) != NULL && strstr(msg, NOSPC_TEXT),
                   "message \"%s\" does not name %s and ENOSPC", msg, place);
}

/* Append batches of 1-4 records to topic/0, alternately DURABLE and
 * WRITTEN, until one fails: with ENOSPC naming the partition, and with
 * nothing of it visible.  Returns the batches acknowledged; *failedp
 * (optional) gets the failed batch's record count: a batch at least as
 * large (at the same offset) cannot fit either until space is freed. */
static int fill(crawllog_t *log, const char *topic, int64_t *endp,
                int *failedp)
{
    char part[300];
    int64_t start, e;
    int rc = 0, i, n = 0;
    snprintf(part, sizeof(part), "topics/%s/0", topic);
    offsets(log, topic, &start, &e);
    for (i = 0; i < T7_MAX_BATCHES && rc == 0; i++) {
        n = 1 + i % 4;
        rc = append_batch(log, topic, endp, n,
                          i % 2 ? CRAWLLOG_SYNC_WRITTEN
                                : CRAWLLOG_SYNC_DURABLE);
    }
    printf("%s: full after %d batches, log end %" PRId64 ": %s (%s)\n",
           topic, i - 1, *endp, crawllog_err_name(rc), crawllog_errmsg(log));
    expect_enospc(rc, crawllog_errmsg(log), part);
    expect_offsets(log, topic, start, *endp);
    if (failedp) {
        *failedp = n;
    }
    return i - 1;
}

/* Topic "ballast" (one segment: no roll): kib KiB of it, or (kib 0) as
 * much as fits - 16 KiB records, then smaller ones down to 64 bytes. */
static void ballast(crawllog_t *log, int kib)
{
    static char big[16384];
    memset(big, 'b', sizeof(big));
    cl_test_create_topic(log, "ballast", 1, "segment.bytes", "1048576",
                         NULL);
    for (size_t len = sizeof(big) - 128; len >= 64; len /= 4) {
        int rc = 0;
        for (int i = 0; rc == 0 && (kib == 0 || i < kib / 16); i++) {
            crawllog_record_t r = {NULL, 0, big, len, -1, NULL, 0};
            rc = crawllog_append(log, "ballast", 0, &r, 1,
                                 CRAWLLOG_SYNC_WRITTEN, NULL);
        }
        if (kib > 0) {
            assert_crawllog_ok_log(log, rc);
            return;
        }
        expect_enospc(rc, crawllog_errmsg(log), "topics/ballast/0");
    }
}

/* Topic t: segments of seg_bytes, retention down to 16 KiB. */
static void create_t(crawllog_t *log, const char *seg_bytes)
{
    cl_test_create_topic(log, "t", 1, "segment.bytes", seg_bytes,
                         "segment.index.bytes", "4096", "retention.bytes",
                         "16384", NULL);
}

/* ---------------------------------------------------------------------- */
/* Appends                                                                 */
/* ---------------------------------------------------------------------- */

static void scenario_append(struct t7_ctx *c, const char *seg_bytes)
{
    crawllog_t *log = cl_test_open(c->data, NULL);
    int64_t start, end = 0, e2, deleted = -1;
    int failed = 0;
    spare_make(c, 64);
    ballast(log, 128);
    create_t(log, seg_bytes);
    fill(log, "t", &end, &failed);
    if (strcmp(seg_bytes, "8192") != 0) {
        /* Large segments: the batch itself did not fit (its partial write
         * was undone).  Small ones may end at a roll or a write. */
        const char *m = crawllog_errmsg(log);
        cl_test_checkf(strstr(m, ": write: ") && !strstr(m, "header"),
                       "not a failed batch write: %s", m);
    }
    /* Still full: the same batch and a larger one, in both modes, keep
     * failing with ENOSPC (not ECLOSED), nothing becomes visible.  (A
     * smaller batch may still fit into the active segment.) */
    for (int k = 0; k < 6; k++) {
        int rc = append_batch(log, "t", &end, k < 2 ? failed : 4,
                              k % 2 ? CRAWLLOG_SYNC_WRITTEN
                                    : CRAWLLOG_SYNC_DURABLE);
        expect_enospc(rc, crawllog_errmsg(log), "topics/t/0");
        expect_offsets(log, "t", 0, end);
    }
    read_range(log, "t", 0, end);
    /* Retention cannot run on a full disk: the log-start checkpoint comes
     * first and needs a block.  It deletes nothing and changes nothing. */
    int rc = crawllog_maintain(log, &deleted);
    printf("maintain on a full disk: %s, %" PRId64 " deleted (%s)\n",
           crawllog_err_name(rc), deleted, crawllog_errmsg(log));
    expect_enospc(rc, crawllog_errmsg(log), "log-start-offset");
    expect_offsets(log, "t", 0, end);
    read_range(log, "t", 0, end);
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);

    /* The operator frees 64 KiB (crawllog_open needs some:
     * test_enospc_reopen_full): everything acknowledged is there, and
     * appends go on at the next offset. */
    spare_free(c);
    log = cl_test_open(c->data, NULL);
    expect_offsets(log, "t", 0, end);
    read_range(log, "t", 0, end);
    cl_test_checkf(fill(log, "t", &end, NULL) > 0,
                   "nothing appended in the freed 64 KiB");
    read_range(log, "t", 0, end);

    /* Full again.  Deleting a topic works on a full disk (it frees little
     * while this handle holds it: test_enospc_delete_frees), enough for
     * the checkpoint: retention then frees t's old segments. */
    long before = free_kib(c);
    assert_crawllog_ok_log(log, crawllog_topic_delete(log, "ballast"));
    printf("delete ballast: %ld KiB free before, %ld after\n", before,
           free_kib(c));
    assert_crawllog_ok_log(log, crawllog_maintain(log, &deleted));
    offsets(log, "t", &start, &e2);
    printf("retention: %" PRId64 " segments deleted, t now [%" PRId64
           ", %" PRId64 ")\n",
           deleted, start, e2);
    cl_test_checkf(deleted > 0 && start > 0 && e2 == end,
                   "retention: %" PRId64 " deleted, [%" PRId64 ", %" PRId64
                   ")",
                   deleted, start, e2);
    read_range(log, "t", start, end);
    /* Appends resume at the next offset, until the disk is full again. */
    cl_test_checkf(fill(log, "t", &end, NULL) > 0,
                   "nothing appended after retention");
    read_range(log, "t", start, end);
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);
    log = cl_test_open(c->data, NULL);
    expect_offsets(log, "t", start, end);
    read_range(log, "t", start, end);
    assert_crawllog_ok(crawllog_close(log));
}

static void scenario_append_rolls(struct t7_ctx *c)
{
    scenario_append(c, "8192");
}

static void scenario_append_writes(struct t7_ctx *c)
{
    scenario_append(c, "262144");
}

/* 8 KiB segments: the disk fills at a roll or at a batch write. */
static void test_enospc_append_rolls(void **state)
{
    run_on_tmpfs(state, scenario_append_rolls, "1m");
}

/* 256 KiB segments: the disk fills at a batch write. */
static void test_enospc_append_writes(void **state)
{
    run_on_tmpfs(state, scenario_append_writes, "1m");
}

/* A roll on a full disk that fails where the sealed segment gets its time
 * index entry (its empty .timeindex needs a block).  Observed: the
 * partition is then marked failed as after a failed fdatasync - every
 * later append is CRAWLLOG_ECLOSED, even with room, until the log is
 * reopened - although no fsync failed (crawllog.h documents ECLOSED as
 * "an earlier fsync of this partition failed").  Asserted: the ENOSPC
 * names the .timeindex; with room the append works or is ECLOSED, and
 * after a reopen it works at the next offset; verify is clean. */
static void scenario_seal_full(struct t7_ctx *c)
{
    static char v[2500];
    crawllog_t *log = cl_test_open(c->data, NULL);
    crawllog_record_t r = {NULL, 0, v, sizeof(v), -1, NULL, 0};
    int64_t base = -1;
    memset(v, 's', sizeof(v));
    spare_make(c, 64);
    /* 4 KiB segments without index entries: one batch per segment. */
    cl_test_create_topic(log, "s", 1, "segment.bytes", "4096",
                         "index.interval.bytes", "1048576", NULL);
    assert_crawllog_ok_log(log, crawllog_append(log, "s", 0, &r, 1,
                                                CRAWLLOG_SYNC_DURABLE, NULL));
    ballast(log, 0);
    int rc = crawllog_append(log, "s", 0, &r, 1, CRAWLLOG_SYNC_DURABLE, &base);
    printf("roll on a full disk: %s (%s)\n", crawllog_err_name(rc),
           crawllog_errmsg(log));
    expect_enospc(rc, crawllog_errmsg(log), ".timeindex");
    spare_free(c);
    rc = crawllog_append(log, "s", 0, &r, 1, CRAWLLOG_SYNC_DURABLE, &base);
    printf("the same append with 64 KiB free: %s (%s)\n",
           crawllog_err_name(rc), crawllog_errmsg(log));
    cl_test_checkf(rc == 0 || rc == CRAWLLOG_ECLOSED,
                   "append after freeing space: %s (%s)",
                   crawllog_err_name(rc), crawllog_errmsg(log));
    if (rc == CRAWLLOG_ECLOSED) {
        assert_crawllog_ok(crawllog_close(log));
        log = cl_test_open(c->data, NULL);
        assert_crawllog_ok_log(log, crawllog_append(log, "s", 0, &r, 1,
                                                    CRAWLLOG_SYNC_DURABLE,
                                                    &base));
    }
    cl_test_checkf(base == 1, "base %" PRId64 ", want 1", base);
    expect_offsets(log, "s", 0, 2);
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);
}

static void test_enospc_seal_full(void **state)
{
    run_on_tmpfs(state, scenario_seal_full, "1m");
}

/* ---------------------------------------------------------------------- */
/* Producer                                                                */
/* ---------------------------------------------------------------------- */

static crawllog_producer_t *producer(crawllog_t *log, const char *acks)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_producer_t *p = NULL;
    crawllog_conf_t *conf = cl_test_conf("acks", acks, NULL);
    int rc = crawllog_producer_new(log, conf, &p, err, sizeof(err));
    cl_test_checkf(rc == 0, "producer_new: %s (%s)", crawllog_err_name(rc),
                   err);
    crawllog_conf_destroy(conf);
    return p;
}

/* Send to t/0 at *endp one record (n 1) or a batch of n (all or none). */
static int send_at(crawllog_producer_t *p, int64_t *endp, int n)
{
    static char values[3][VALUE_MAX + 1];
    crawllog_record_t r[3];
    int64_t base = -2;
    int rc;
    for (int j = 0; j < n; j++) {
        make_value(values[j], *endp + j);
        r[j] = (crawllog_record_t){NULL, 0, values[j], value_len(*endp + j),
                                   -1, NULL, 0};
    }
    if (n == 1) {
        rc = crawllog_producer_send(p, "t", 0, NULL, 0, values[0],
                                    value_len(*endp), NULL, 0, &base);
    } else {
        rc = crawllog_producer_send_batch(p, "t", 0, r, (size_t)n, &base);
    }
    if (rc == 0) {
        cl_test_checkf(base == *endp, "producer: offset %" PRId64
                       ", want %" PRId64, base, *endp);
        *endp += n;
    }
    return rc;
}

/* The producer's next sequence on t/0 must be want. */
static void expect_seq(crawllog_producer_t *p, int32_t want)
{
    int32_t seq = -1;
    assert_crawllog_ok(crawllog_producer_next_sequence(p, "t", 0, &seq));
    cl_test_checkf(seq == want, "next sequence %" PRId32 ", %" PRId32
                   " records acknowledged", seq, want);
}

static void scenario_producer(struct t7_ctx *c)
{
    crawllog_t *log = cl_test_open(c->data, NULL);
    crawllog_producer_t *all = producer(log, "all");
    crawllog_producer_t *one = producer(log, "1");
    int64_t end = 0;
    int32_t acked_all = 0;
    int rc = 0, i, n = 0;
    spare_make(c, 64);
    ballast(log, 128);
    create_t(log, "8192");
    for (i = 0; i < T7_MAX_BATCHES && rc == 0; i++) {
        n = i % 3 == 2 ? 3 : 1;
        rc = send_at(all, &end, n);
        acked_all += rc == 0 ? n : 0;
    }
    printf("acks=all: full after %d sends, log end %" PRId64 ": %s (%s)\n",
           i - 1, end, crawllog_err_name(rc), crawllog_producer_errmsg(all));
    expect_enospc(rc, crawllog_producer_errmsg(all), "topics/t/0");
    expect_offsets(log, "t", 0, end);
    expect_seq(all, acked_all);
    /* The same send again, then 3-record batches (at least as large),
     * acks=all and acks=1: ENOSPC again, not ECLOSED. */
    for (int k = 0; k < 4; k++) {
        crawllog_producer_t *p = k % 2 ? one : all;
        rc = send_at(p, &end, k == 0 ? n : 3);
        expect_enospc(rc, crawllog_producer_errmsg(p), "topics/t/0");
        expect_offsets(log, "t", 0, end);
    }
    read_range(log, "t", 0, end);
    /* Room again: the same producers go on at the next offsets, and the
     * failed batches used no sequence numbers. */
    spare_free(c);
    for (int k = 0; k < 6; k++) {
        crawllog_producer_t *p = k % 2 ? one : all;
        int m = k < 3 ? 1 : 3;
        rc = send_at(p, &end, m);
        cl_test_checkf(rc == 0, "send after freeing space: %s (%s)",
                       crawllog_err_name(rc), crawllog_producer_errmsg(p));
        acked_all += p == all ? m : 0;
    }
    expect_seq(all, acked_all);
    read_range(log, "t", 0, end);
    assert_crawllog_ok(crawllog_producer_destroy(all));
    assert_crawllog_ok(crawllog_producer_destroy(one));
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);
    log = cl_test_open(c->data, NULL);
    expect_offsets(log, "t", 0, end);
    read_range(log, "t", 0, end);
    assert_crawllog_ok(crawllog_close(log));
}

static void test_enospc_producer(void **state)
{
    run_on_tmpfs(state, scenario_producer, "1m");
}

/* ---------------------------------------------------------------------- */
/* Group commits                                                           */
/* ---------------------------------------------------------------------- */

static crawllog_consumer_t *consumer(crawllog_t *log, const char *group)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_consumer_t *cons = NULL;
    crawllog_conf_t *conf = cl_test_conf("group.id", group,
                                         "auto.offset.reset", "earliest",
                                         NULL);
    int rc = crawllog_consumer_new(log, conf, &cons, err, sizeof(err));
    cl_test_checkf(rc == 0, "consumer_new: %s (%s)", crawllog_err_name(rc),
                   err);
    crawllog_conf_destroy(conf);
    return cons;
}

static int commit(crawllog_consumer_t *cons, int64_t off, const char *meta,
                  int sync)
{
    crawllog_topic_partition_t tp = {"t", 0, off, meta};
    return crawllog_consumer_commit_offsets(cons, &tp, 1, sync);
}

/* t/0's committed offset must be want, as the consumer reads it and as
 * crawllog_group_describe reads it (log NULL: not that). */
static void expect_committed(crawllog_t *log, crawllog_consumer_t *cons,
                             int64_t want)
{
    crawllog_group_desc_t *d = NULL;
    int64_t off = -5, desc = want;
    int rc = crawllog_consumer_committed(cons, "t", 0, &off);
    cl_test_checkf(rc == 0 && off == want,
                   "committed: %s, %" PRId64 ", want %" PRId64,
                   crawllog_err_name(rc), off, want);
    if (log != NULL) {
        assert_crawllog_ok_log(log, crawllog_group_describe(log, "g", &d));
        desc = -5;
        for (size_t i = 0; i < d->partition_count; i++) {
            if (strcmp(d->partitions[i].topic, "t") == 0 &&
                d->partitions[i].partition == 0) {
                desc = d->partitions[i].committed;
            }
        }
        crawllog_group_desc_free(d);
    }
    cl_test_checkf(desc == want, "described: %" PRId64 ", want %" PRId64,
                   desc, want);
}

static void scenario_commit(struct t7_ctx *c)
{
    static char meta[3001];
    crawllog_t *log = cl_test_open(c->data, NULL);
    int64_t good = 1;
    int rc = 0, k, fails = 0, failures = 0;
    memset(meta, 'm', sizeof(meta) - 1);
    create_t(log, "8192");
    crawllog_consumer_t *cons = consumer(log, "g");
    spare_make(c, 64);
    /* The first commit creates the offsets file (grown ahead of use). */
    assert_crawllog_ok(commit(cons, good, NULL, CRAWLLOG_SYNC_DURABLE));
    ballast(log, 0);
    /* Commits (3000 bytes of metadata, or none) until the offsets file
     * cannot grow.  A failed commit may have grown the file by part of a
     * chunk of zeros, so a later one can fit: every success must move the
     * committed offset, every failure leave it.  Three failures in a row
     * end it. */
    for (k = 0; k < T7_MAX_BATCHES && fails < 3; k++) {
        rc = commit(cons, good + 1, k % 3 ? meta : NULL,
                    k % 2 ? CRAWLLOG_SYNC_WRITTEN : CRAWLLOG_SYNC_DURABLE);
        if (rc == 0) {
            good++;
            fails = 0;
        } else {
            if (failures++ == 0) {
                printf("commits: first failure after %d: %s (%s)\n", k,
                       crawllog_err_name(rc), crawllog_consumer_errmsg(cons));
            }
            expect_enospc(rc, crawllog_consumer_errmsg(cons),
                          "groups/g/offsets");
            fails++;
        }
        expect_committed(NULL, cons, good);
    }
    printf("commits: %d calls, %d failed, committed %" PRId64 "\n", k,
           failures, good);
    cl_test_checkf(fails == 3, "the offsets file never filled up");
    expect_committed(log, cons, good);
    assert_crawllog_ok(crawllog_consumer_close(cons));
    crawllog_consumer_destroy(cons);
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);
    spare_free(c); /* crawllog_open needs room: test_enospc_reopen_full */
    log = cl_test_open(c->data, NULL);
    cons = consumer(log, "g");
    expect_committed(log, cons, good);
    /* Room again (64 KiB): commits work.  The file grows in 256 KiB steps;
     * a commit that cannot write the whole step fails with ENOSPC but
     * keeps the zeros it wrote, so the next one fits. */
    for (k = 0; k < 3; k++) {
        rc = commit(cons, good + 1, meta, CRAWLLOG_SYNC_DURABLE);
        printf("commit with 64 KiB free: %s\n", crawllog_err_name(rc));
        if (rc == 0) {
            break;
        }
        expect_enospc(rc, crawllog_consumer_errmsg(cons), "groups/g/offsets");
        expect_committed(log, cons, good);
    }
    cl_test_checkf(rc == 0, "commit after freeing space: %s (%s)",
                   crawllog_err_name(rc), crawllog_consumer_errmsg(cons));
    expect_committed(log, cons, good + 1);
    crawllog_consumer_destroy(cons);
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);
}

/* 4 MiB: the group's lag.history (1 MiB, mapped) must fit, see
 * test_enospc_first_commit. */
static void test_enospc_commit(void **state)
{
    run_on_tmpfs(state, scenario_commit, "4m");
}

/* ---------------------------------------------------------------------- */
/* Defects: what the library should do on a full disk and does not yet.    */
/* These tests fail until it does.                                         */
/* ---------------------------------------------------------------------- */

/* crawllog_open of a data directory that filled up must work (verify is
 * clean): it is the only way to read it or delete a topic.  It failed
 * until segment.c's recovery took a full disk while re-adding index
 * entries as "leave them out":
 * an index entry that could not be written while the disk was full is
 * skipped by the append (by design: indexes are derived data), but
 * recovery at open re-added it and failed the whole open when that write
 * fails: CRAWLLOG_ENOSPC "<base>.timeindex: write" (or .index).  Set up:
 * t's first segment stays in its first 4 KiB block (no index entry yet),
 * ballast fills the disk, 4 KiB are freed, and t takes them: its .log
 * gets its second block, its first index entry (due after 4096 bytes)
 * finds no room. */
static void scenario_reopen_full(struct t7_ctx *c)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", seg[4400];
    crawllog_t *log = cl_test_open(c->data, NULL);
    int64_t end = 0;
    spare_make(c, 4);
    create_t(log, "8192");
    cl_test_path(seg, sizeof(seg), c->data,
                 "topics/t/0/00000000000000000000.log");
    do { /* the segment file is created by the first append */
        assert_crawllog_ok_log(log, append_batch(log, "t", &end, 1,
                                                 CRAWLLOG_SYNC_DURABLE));
    } while (cl_test_file_size(seg) < 3000);
    ballast(log, 0);
    spare_free(c);
    fill(log, "t", &end, NULL);
    cl_test_checkf(cl_test_file_size(seg) > 4096 + 1000,
                   "t's segment did not grow past its first index entry");
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);
    log = NULL;
    int rc = crawllog_open(&log, c->data, NULL, errstr, sizeof(errstr));
    cl_test_checkf(rc == 0, "crawllog_open of the full data directory: %s "
                   "(%s)", crawllog_err_name(rc), errstr);
    expect_offsets(log, "t", 0, end);
    read_range(log, "t", 0, end);
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);
}

static void test_enospc_reopen_full(void **state)
{
    run_on_tmpfs(state, scenario_reopen_full, "1m");
}

/* Deleting a topic on a full disk must give its space back, to this
 * handle's appends too.  NOT FIXED YET (docs/RELIABILITY.md known limits):
 * the handle keeps the deleted topic's partitions (and their open segment
 * files) until crawllog_close, so 4 KiB of 128 come back.  Built and run
 * only with -DCL_KNOWN_BUGS until the fix lands. */
static void scenario_delete_frees(struct t7_ctx *c)
{
    crawllog_t *log = cl_test_open(c->data, NULL);
    int64_t end = 0;
    int failed = 0;
    ballast(log, 128);
    create_t(log, "8192");
    fill(log, "t", &end, &failed);
    long before = free_kib(c);
    assert_crawllog_ok_log(log, crawllog_topic_delete(log, "ballast"));
    long after = free_kib(c);
    cl_test_checkf(after - before >= 112,
                   "crawllog_topic_delete freed %ld KiB of the 128 KiB "
                   "topic",
                   after - before);
    int rc = append_batch(log, "t", &end, failed, CRAWLLOG_SYNC_DURABLE);
    cl_test_checkf(rc == 0, "append after the delete: %s (%s)",
                   crawllog_err_name(rc), crawllog_errmsg(log));
    read_range(log, "t", 0, end);
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(c->data);
}

static void test_enospc_delete_frees(void **state)
{
    run_on_tmpfs(state, scenario_delete_frees, "1m");
}

/* A group's first commit with less room than its lag history: it may
 * fail, the process must not die.  Dies today of SIGBUS: lag.history is
 * a sparse 1 MiB file mapped MAP_SHARED; the first commit's reset reads
 * every slot, and on tmpfs even reading a hole of a shared mapping
 * allocates the page (on a disk filesystem the write to a new slot's
 * page does). */
static void scenario_first_commit(struct t7_ctx *c)
{
    crawllog_t *log = cl_test_open(c->data, NULL);
    int64_t end = 0;
    create_t(log, "8192");
    assert_crawllog_ok(append_batch(log, "t", &end, 4, CRAWLLOG_SYNC_DURABLE));
    crawllog_consumer_t *cons = consumer(log, "g");
    printf("first commit of group g, %ld KiB free\n", free_kib(c));
    int rc = commit(cons, 1, NULL, CRAWLLOG_SYNC_DURABLE);
    cl_test_checkf(rc == 0 || rc == CRAWLLOG_ENOSPC, "first commit: %s (%s)",
                   crawllog_err_name(rc), crawllog_consumer_errmsg(cons));
    crawllog_consumer_destroy(cons);
    assert_crawllog_ok(crawllog_close(log));
}

static void test_enospc_first_commit(void **state)
{
    run_on_tmpfs(state, scenario_first_commit, "1m");
}

/* A consumer joining a new group with 16 KiB free (its offsets file fits,
 * not its group.state): errors, no crash.  Dies today of SIGBUS: the
 * 424 KiB group.state is created sparse, mapped MAP_SHARED, and reset
 * with a memset of the whole mapping (group.c reset_state) at the join;
 * the same on ext4. */
static void scenario_subscribe_full(struct t7_ctx *c)
{
    const char *topics[] = {"t"};
    const crawllog_msg_t *msgs[8];
    crawllog_t *log = cl_test_open(c->data, NULL);
    int64_t end = 0;
    size_t got = 0, n = 0;
    spare_make(c, 16);
    create_t(log, "8192");
    fill(log, "t", &end, NULL);
    spare_free(c);
    crawllog_consumer_t *cons = consumer(log, "g2");
    int rc = crawllog_consumer_subscribe(cons, topics, 1);
    cl_test_checkf(rc == 0 || rc == CRAWLLOG_ENOSPC, "subscribe: %s (%s)",
                   crawllog_err_name(rc), crawllog_consumer_errmsg(cons));
    for (int i = 0; rc == 0 && i < 50 && got < (size_t)end; i++) {
        rc = crawllog_consumer_poll(cons, 10, msgs, 8, &n);
        got += n;
    }
    cl_test_checkf(rc == 0 || rc == CRAWLLOG_ENOSPC, "poll: %s (%s)",
                   crawllog_err_name(rc), crawllog_consumer_errmsg(cons));
    crawllog_consumer_destroy(cons);
    assert_crawllog_ok(crawllog_close(log));
}

static void test_enospc_subscribe_full(void **state)
{
    run_on_tmpfs(state, scenario_subscribe_full, "1m");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_enospc_append_rolls),
        cl_test_unit_tmpdir(test_enospc_append_writes),
        cl_test_unit_tmpdir(test_enospc_seal_full),
        cl_test_unit_tmpdir(test_enospc_producer),
        cl_test_unit_tmpdir(test_enospc_commit),
        cl_test_unit_tmpdir(test_enospc_reopen_full),
        cl_test_unit_tmpdir(test_enospc_delete_frees),
        cl_test_unit_tmpdir(test_enospc_first_commit),
        cl_test_unit_tmpdir(test_enospc_subscribe_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
