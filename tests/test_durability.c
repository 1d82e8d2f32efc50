/*
 * test_durability.c - power-loss durability of libcrawllog, proven with the
 * shadow durable image (libcrawllog/io_shadow.c), and fsync ablation.
 * Built with -DCRAWLLOG_TESTING.
 *
 * Method (reliability.md sections 2, 4.1 items 2-3 and 4.6):
 *  1. A forked child enables the shadow on <run>/real, runs a scenario
 *     through the public API (data directory <run>/real/data) and writes
 *     an ack journal to a pipe: one line per acknowledged call (topic
 *     created, batch appended at offset X with sync mode M, log start moved
 *     to S, ...).  It never closes the log: it ends with SIGKILL, either at
 *     the end of the scenario or earlier at a CRASH failpoint.
 *  2. The parent builds images from the shadow -- (a) only what was
 *     fsync'd/fdatasync'd, (b) every write, (c) (a) plus a random prefix of
 *     each file's unsynced appends -- and a fresh child opens each with
 *     crawllog_open (recovery): (a), (b) and (c) after a simulated reboot
 *     (CRAWLLOG_BOOT_ID: a power loss), and (b) also in the same boot (only
 *     the process died).  The child checks the oracles:
 *      - every acknowledged topic exists with at least the acknowledged
 *        partition count; every acknowledged deletion stays deleted;
 *      - in each partition, every acknowledged record at or below the
 *        highest DURABLE-acknowledged offset is present with its offset and
 *        value (a DURABLE ack makes the partition's whole prefix durable:
 *        segment n is synced before n+1 is created); in image (b) every
 *        acknowledged record is;
 *      - offsets are contiguous from the log start; every record present is
 *        one the child attempted, intact, at most once, in its partition;
 *      - the log start never goes below an acknowledged retention start,
 *        nor above what retention could have reached;
 *      - after open + close, crawllog_verify finds no problem.
 *  3. Fsync ablation (SQLite-style mutation testing of durability): each
 *     sync and rename site the library relies on is rerun with
 *     "SITE=SKIP@k:persist" (pretend success, do nothing: see io.h) from a
 *     chosen phase of the scenario on, and the data oracles must then FAIL
 *     -- proof that the test sees the loss and that the call is needed.
 *     Sites whose ablation loses no data are listed below with the reason,
 *     and the test asserts that they really lose none.
 *  4. Crash-point sweeps (CRASH at the k-th I/O operation, k spread over a
 *     dry run's count), torn appends (CRASH(n)), and a double crash whose
 *     second process dies inside recovery: no oracle may fail.
 *
 * Knobs: SEED=N replays a run; CL_TEST_KEEP=1 keeps the run directories;
 * CL_DURABILITY_FULL=1 crashes at EVERY operation of every scenario (about
 * 1,900 crash points, 4 recoveries each: ~12 s with TMPDIR=/dev/shm, ~5 min
 * on a disk, since the children really fsync); CL_DURABILITY_PER_CALL=1
 * prints the per-call ablation table.
 *
 * Every site the library passes to cl_io_fsync / cl_io_fdatasync, plus the
 * renames that publish durable state, and its verdict (ablation table at
 * the end of the file):
 *   seg.append.fdatasync  NEEDED: an ack is durable only after it.
 *   seg.roll.dirsync      NEEDED: the name of a new segment, and of the
 *                         first segment of a partition, is durable only
 *                         after it (skipping only the roll calls, from the
 *                         2nd hit, loses the records of later segments).
 *   seg.roll.fsync        NEEDED: WRITTEN records sealed into an older
 *                         segment vanish below a later DURABLE ack (the
 *                         prefix rule), leaving an offset gap.
 *   meta.fsync            NEEDED: a renamed-in metafile would be empty
 *                         (crawllog.meta, topic.meta, log-start-offset).
 *   meta.rename           NEEDED (rename): the metafile never appears.
 *   meta.dirsync          NEEDED for add_partitions' topic.meta, whose
 *                         directory nothing syncs later (the new partitions
 *                         are lost).  Its other calls are covered by a
 *                         later fsync of the same directory (the root's by
 *                         topic creation, staging's by fill_staging, the
 *                         partition's by retention's seg.delete.dirsync).
 *   topic.fsync           NEEDED for creation (staging tree, topics/) and
 *                         for deletion (a deleted topic comes back).  Per
 *                         call: the fsyncs of the new, still EMPTY
 *                         partition directories and of trash/ lose nothing
 *                         on their own (an empty directory has no entries
 *                         to persist; trash/ leftovers are cleaned at open).
 *   topic.rename          NEEDED (rename): the topic never appears.
 *   log.mkdir.dirsync     NEEDED: the data directory itself vanishes.
 *   idx.fsync             NOT NEEDED FOR DATA (indexes are derived: a short
 *                         or empty index is scanned around), but NEEDED for
 *                         index integrity: without it a sealed segment's
 *                         index can be torn after a power loss, recovery
 *                         only repairs the active segment's, and
 *                         crawllog_verify then reports it.
 *   seg.create.fsync      NOT NEEDED: a new segment's header becomes
 *                         durable with the next fdatasync of that file
 *                         (every durable append, and the seal before any
 *                         later segment exists), and recovery rewrites the
 *                         header of a header-less LAST segment.  Cheap
 *                         belt and braces.
 *   seg.delete.dirsync    NOT NEEDED (retention): log-start-offset is made
 *                         durable before the unlinks, and recovery deletes
 *                         segments below it again.
 *   seg.recover.fsync     NOT NEEDED for acked data: an un-persisted
 *                         truncation of a torn tail only brings the torn
 *                         tail back (truncated again), and the next durable
 *                         append's fdatasync covers the truncation anyway.
 *                         (Its other job, making page-cache-only data that
 *                         a same-boot recovery read durable, cannot show in
 *                         a power-loss image.)
 * Sync sites outside the storage core are ablated by their own programs:
 * offsets.* (test_offsets), prod.update.fsync (test_producer_durability),
 * migrate.cut.fdatasync (test_migrate_durability: NEEDED, records of <old>
 * below a migration's cut would be lost).
 * Limits of the model: names become durable per directory in one step, so
 * orderings inside one directory (log-start-offset renamed before
 * retention's unlinks) cannot be violated here; and a single end-of-run
 * power loss only shows the LAST of several syncs of one file or directory
 * as needed (test_durability_ablate_per_call, opt-in, prints per call).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* This binary, for the CRAWLLOG_SHADOW re-exec test. */
static const char *self_path = "/proc/self/exe";

/* ---------------------------------------------------------------------- */
/* Small file helpers (raw syscalls: independent of the code under test)   */
/* ---------------------------------------------------------------------- */

/* snprintf for paths; a path that does not fit aborts (also in a child). */
static char *pathf(char *buf, size_t size, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static char *pathf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long: %s\n", buf);
        abort();
    }
    return buf;
}

static void mkdir_or_fail(const char *path)
{
    if (mkdir(path, 0700) != 0) {
        fail_msg("mkdir %s: %s", path, strerror(errno));
    }
}

/* Content of dir/rel as a NUL-terminated malloc'd string ("" if absent),
 * or NULL if it does not exist. */
static char *slurp(const char *dir, const char *rel, size_t *lenp)
{
    char path[1024];
    pathf(path, sizeof(path), "%s/%s", dir, rel);
    if (!cl_test_exists(path)) {
        return NULL;
    }
    return cl_test_read_file(path, lenp);
}

/* ---------------------------------------------------------------------- */
/* The simulator itself (unit tests of the model, through cl_io_*)         */
/* ---------------------------------------------------------------------- */

struct sim {
    char real[600], shadow[600], img[600];
    int rootfd;
    int n; /* images built */
};

static void sim_start(struct sim *s, const char *base)
{
    pathf(s->real, sizeof(s->real), "%s/real", base);
    pathf(s->shadow, sizeof(s->shadow), "%s/shadow", base);
    if (!cl_test_exists(s->real)) {
        mkdir_or_fail(s->real);
    }
    assert_int_equal(cl_shadow_enable(s->real, s->shadow), 0);
    s->rootfd = cl_io_open("t.open", s->real, O_RDONLY | O_DIRECTORY, 0);
    assert_true(s->rootfd >= 0);
    s->n = 0;
}

static const char *sim_image(struct sim *s, const char *base, int mode,
                             uint64_t seed)
{
    pathf(s->img, sizeof(s->img), "%s/img%d", base, s->n++);
    assert_int_equal(cl_shadow_image(s->shadow, s->img, mode, seed), 0);
    return s->img;
}

static void sim_stop(struct sim *s)
{
    cl_io_close(s->rootfd);
    cl_shadow_disable();
}

static int create_at(int dirfd, const char *name)
{
    int fd =
        cl_io_openat("t.create", dirfd, name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    return fd;
}

static void test_durability_shadow_content_needs_file_sync(void **state)
{
    const char *base = CL_TEST_DIR(state);
    struct sim s;
    size_t len;
    sim_start(&s, base);
    int fd = create_at(s.rootfd, "f");
    assert_int_equal(cl_io_pwrite_all("t.w", fd, "hello", 5, 0), 0);
    assert_int_equal(cl_io_fsync("t.dirsync", s.rootfd), 0);
    /* The name is durable, the content is not. */
    char *c = slurp(sim_image(&s, base, CL_SHADOW_DURABLE, 0), "f", &len);
    assert_non_null(c);
    assert_int_equal(len, 0);
    free(c);
    assert_int_equal(cl_io_fdatasync("t.sync", fd), 0);
    assert_int_equal(cl_io_pwrite_all("t.w", fd, " world", 6, 5), 0);
    c = slurp(sim_image(&s, base, CL_SHADOW_DURABLE, 0), "f", &len);
    assert_string_equal(c, "hello");
    free(c);
    c = slurp(sim_image(&s, base, CL_SHADOW_ALL, 0), "f", &len);
    assert_string_equal(c, "hello world");
    free(c);
    /* Torn: "hello" plus some prefix of " world"; over seeds, both ends. */
    int saw_short = 0, saw_long = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        c = slurp(sim_image(&s, base, CL_SHADOW_TORN, seed), "f", &len);
        assert_true(len >= 5 && len <= 11);
        assert_memory_equal(c, "hello world", len);
        saw_short |= len < 11;
        saw_long |= len > 5;
        free(c);
    }
    assert_true(saw_short && saw_long);
    /* A SKIPped sync records nothing. */
    assert_int_equal(cl_fp_set("t.sync=SKIP"), 0);
    assert_int_equal(cl_io_fdatasync("t.sync", fd), 0);
    cl_fp_clear();
    c = slurp(sim_image(&s, base, CL_SHADOW_DURABLE, 0), "f", &len);
    assert_string_equal(c, "hello");
    free(c);
    cl_io_close(fd);
    sim_stop(&s);
}

static void test_durability_shadow_names_need_dir_sync(void **state)
{
    const char *base = CL_TEST_DIR(state);
    struct sim s;
    char p[700];
    sim_start(&s, base);
    int fd = create_at(s.rootfd, "f");
    assert_int_equal(cl_io_fdatasync("t.sync", fd), 0);
    assert_int_equal(cl_io_mkdirat("t.mkdir", s.rootfd, "d", 0700), 0);
    int dfd = cl_io_openat("t.open", s.rootfd, "d", O_RDONLY | O_DIRECTORY, 0);
    assert_true(dfd >= 0);
    int gfd = create_at(dfd, "g");
    assert_int_equal(cl_io_fdatasync("t.sync", gfd), 0);
    /* Nothing: the root was never fsync'd since "f" and "d" appeared. */
    const char *img = sim_image(&s, base, CL_SHADOW_DURABLE, 0);
    assert_false(cl_test_exists(cl_test_path(p, sizeof(p), img, "f")));
    assert_false(cl_test_exists(cl_test_path(p, sizeof(p), img, "d")));
    /* Root synced: f and an EMPTY d (d itself never fsync'd). */
    assert_int_equal(cl_io_fsync("t.dirsync", s.rootfd), 0);
    img = sim_image(&s, base, CL_SHADOW_DURABLE, 0);
    assert_true(cl_test_exists(cl_test_path(p, sizeof(p), img, "f")));
    assert_true(cl_test_exists(cl_test_path(p, sizeof(p), img, "d")));
    assert_false(cl_test_exists(cl_test_path(p, sizeof(p), img, "d/g")));
    assert_int_equal(cl_io_fsync("t.dirsync", dfd), 0);
    img = sim_image(&s, base, CL_SHADOW_DURABLE, 0);
    assert_true(cl_test_exists(cl_test_path(p, sizeof(p), img, "d/g")));
    /* A rename is durable only with the directory sync. */
    assert_int_equal(cl_io_renameat("t.ren", s.rootfd, "f", s.rootfd, "h"), 0);
    img = sim_image(&s, base, CL_SHADOW_DURABLE, 0);
    assert_true(cl_test_exists(cl_test_path(p, sizeof(p), img, "f")));
    assert_false(cl_test_exists(cl_test_path(p, sizeof(p), img, "h")));
    assert_int_equal(cl_io_fsync("t.dirsync", s.rootfd), 0);
    img = sim_image(&s, base, CL_SHADOW_DURABLE, 0);
    assert_false(cl_test_exists(cl_test_path(p, sizeof(p), img, "f")));
    assert_true(cl_test_exists(cl_test_path(p, sizeof(p), img, "h")));
    cl_io_close(gfd);
    cl_io_close(dfd);
    cl_io_close(fd);
    sim_stop(&s);
}

/* A directory's entries belong to its inode: a synced tree renamed
 * elsewhere keeps them; a re-created name never shows old content. */
static void test_durability_shadow_rename_dir_and_recreate(void **state)
{
    const char *base = CL_TEST_DIR(state);
    struct sim s;
    char p[700];
    size_t len;
    sim_start(&s, base);
    assert_int_equal(cl_io_mkdirat("t.mkdir", s.rootfd, "stage", 0700), 0);
    int dfd =
        cl_io_openat("t.open", s.rootfd, "stage", O_RDONLY | O_DIRECTORY, 0);
    int fd = create_at(dfd, "meta");
    assert_int_equal(cl_io_pwrite_all("t.w", fd, "v1", 2, 0), 0);
    assert_int_equal(cl_io_fsync("t.sync", fd), 0);
    assert_int_equal(cl_io_fsync("t.dirsync", dfd), 0);
    assert_int_equal(
        cl_io_renameat("t.ren", s.rootfd, "stage", s.rootfd, "topic"), 0);
    assert_int_equal(cl_io_fsync("t.dirsync", s.rootfd), 0);
    const char *img = sim_image(&s, base, CL_SHADOW_DURABLE, 0);
    char *c = slurp(img, "topic/meta", &len);
    assert_non_null(c);
    assert_string_equal(c, "v1");
    free(c);
    assert_false(cl_test_exists(cl_test_path(p, sizeof(p), img, "stage")));
    /* Unlink and re-create (the inode number may be reused): the new file
     * has no durable content; the old one had. */
    cl_io_close(fd);
    assert_int_equal(cl_io_unlinkat("t.unl", dfd, "meta", 0), 0);
    fd = create_at(dfd, "meta");
    assert_int_equal(cl_io_pwrite_all("t.w", fd, "v2", 2, 0), 0);
    assert_int_equal(cl_io_fsync("t.dirsync", dfd), 0);
    c = slurp(sim_image(&s, base, CL_SHADOW_DURABLE, 0), "topic/meta", &len);
    assert_non_null(c);
    assert_int_equal(len, 0);
    free(c);
    cl_io_close(fd);
    cl_io_close(dfd);
    sim_stop(&s);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

/* Files present when the shadow is first set up count as durable; the
 * shadow never records anything outside the real root. */
static void test_durability_shadow_baseline_and_scope(void **state)
{
    const char *base = CL_TEST_DIR(state);
    char p[700], out[700];
    size_t len;
    pathf(p, sizeof(p), "%s/real", base);
    mkdir_or_fail(p);
    pathf(p, sizeof(p), "%s/real/sub", base);
    mkdir_or_fail(p);
    pathf(p, sizeof(p), "%s/real/sub/old", base);
    cl_test_write_file(p, "kept", 4);
    pathf(p, sizeof(p), "%s/outside", base);
    mkdir_or_fail(p);
    struct sim s;
    sim_start(&s, base);
    pathf(out, sizeof(out), "%s/.inodes", s.shadow);
    size_t records = count_entries(out);
    assert_true(records >= 1); /* sub/old */
    int ofd = cl_io_open("t.open", p, O_RDONLY | O_DIRECTORY, 0);
    int fd = create_at(ofd, "x");
    assert_int_equal(cl_io_fsync("t.sync", fd), 0);
    assert_int_equal(cl_io_fsync("t.dirsync", ofd), 0);
    cl_io_close(fd);
    cl_io_close(ofd);
    assert_int_equal(count_entries(out), records); /* nothing recorded */
    const char *img = sim_image(&s, base, CL_SHADOW_DURABLE, 0);
    char *c = slurp(img, "sub/old", &len);
    assert_non_null(c);
    assert_string_equal(c, "kept");
    free(c);
    /* A shadow root of another real root is refused. */
    assert_int_equal(cl_shadow_enable(p, s.shadow), -EINVAL);
    /* The shadow may not live inside the real root. */
    pathf(out, sizeof(out), "%s/real/sh", base);
    assert_int_equal(cl_shadow_enable(s.real, out), -EINVAL);
    sim_stop(&s);
}

/* CRAWLLOG_SHADOW enables the shadow in an exec'd process. */
static void test_durability_shadow_env_var(void **state)
{
    const char *base = CL_TEST_DIR(state);
    char real[700], shadow[700], env[1500], img[700];
    size_t len;
    pathf(real, sizeof(real), "%s/real", base);
    pathf(shadow, sizeof(shadow), "%s/shadow", base);
    pathf(img, sizeof(img), "%s/img", base);
    mkdir_or_fail(real);
    snprintf(env, sizeof(env), "%s:%s", real, shadow);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("CRAWLLOG_SHADOW", env, 1);
        execl(self_path, self_path, "--shadow-env-child", real, (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    cl_test_assert_exit_ok(st);
    assert_int_equal(cl_shadow_image(shadow, img, CL_SHADOW_DURABLE, 0), 0);
    char *c = slurp(img, "envfile", &len);
    assert_non_null(c);
    assert_string_equal(c, "from env");
    free(c);
}

/* The exec'd side of the test above. */
static int shadow_env_child(const char *real)
{
    int dfd = cl_io_open("t.open", real, O_RDONLY | O_DIRECTORY, 0);
    int fd = dfd < 0 ? -1
                     : cl_io_openat("t.create", dfd, "envfile",
                                    O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || cl_io_pwrite_all("t.w", fd, "from env", 8, 0) != 0 ||
        cl_io_fdatasync("t.sync", fd) != 0 ||
        cl_io_fsync("t.dirsync", dfd) != 0) {
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Records: self-describing values                                         */
/* ---------------------------------------------------------------------- */

#define VALUE_MAX 512

/* "<topic>|<part>|<seq>|" then a fill derived from seq: any damage, a
 * record in the wrong partition or one never attempted is recognizable. */
static size_t make_value(char *buf, const char *topic, int part, uint64_t seq)
{
    int n = snprintf(buf, VALUE_MAX, "%s|%d|%" PRIu64 "|", topic, part, seq);
    size_t len = (size_t)n + 8 + (size_t)((seq * 131) % 200);
    for (size_t i = (size_t)n; i < len; i++) {
        buf[i] = (char)('a' + (seq * 7 + i * 13) % 26);
    }
    return len;
}

/* Parse and re-derive a value; 0 if intact. */
static int parse_value(const void *v, size_t len, char *topic, int *part,
                       uint64_t *seq)
{
    char buf[VALUE_MAX + 1], expect[VALUE_MAX];
    unsigned long long s;
    if (v == NULL || len == 0 || len > VALUE_MAX) {
        return -1;
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (sscanf(buf, "%31[^|]|%d|%llu|", topic, part, &s) != 3) {
        return -1;
    }
    *seq = s;
    size_t elen = make_value(expect, topic, *part, *seq);
    return elen == len && memcmp(expect, buf, len) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* The child: scenarios through the public API, with an ack journal        */
/* ---------------------------------------------------------------------- */

enum scenario {
    S_SINGLE,    /* durable appends into one segment */
    S_ROLLS,     /* WRITTEN and DURABLE appends across segment rolls */
    S_TOPIC,     /* topic creation, then durable appends */
    S_RETENTION, /* retention deletes segments, appends go on */
    S_ADDPART,   /* add_partitions, then appends to the new partitions */
    S_DELETE,    /* a topic deletion */
    S_RECOVER    /* stage 2 of a double crash: recover a torn image */
};

struct run_opts {
    enum scenario scen;
    const char *fp_spec; /* applied by the child at phase fp_phase */
    int fp_phase;
    const char *count_site; /* child reports this site's hits ("H") */
    uint64_t seq_base;      /* first record sequence number */
};

/* Phases at which a failpoint spec may start: 0 before crawllog_open, 1
 * right after it, 2 (and up) at the scenario's main event: the first
 * maintain of S_RETENTION (3, 4, 5: the later ones), the add_partitions of
 * S_ADDPART, the deletion of S_DELETE. */

struct child {
    const struct run_opts *o;
    char data[700];
    int jfd;
    uint64_t seq;
    crawllog_t *log;
};

static void jprintf(struct child *c, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void jprintf(struct child *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0 && write(c->jfd, line, (size_t)n) != n) {
        _exit(4);
    }
}

/* Journal the end of the child's run and die without closing the log. */
static _Noreturn void child_end(struct child *c, int ended)
{
    if (c->o->count_site != NULL) {
        jprintf(c, "H %" PRIu64 "\n", cl_fp_hits(c->o->count_site));
    }
    jprintf(c, "N %" PRIu64 "\n", cl_fp_hits_total() + cl_fp_hits("malloc"));
    if (ended) {
        jprintf(c, "E\n");
    }
    raise(SIGKILL);
    _exit(5);
}

static _Noreturn void child_fail(struct child *c, const char *what, int rc)
{
    jprintf(c, "F %s: %s: %s\n", what, crawllog_err_name(rc),
            c->log != NULL ? crawllog_errmsg(c->log) : "");
    child_end(c, 0);
}

static void phase(struct child *c, int n)
{
    if (c->o->fp_spec != NULL && c->o->fp_phase == n &&
        cl_fp_set(c->o->fp_spec) != 0) {
        child_fail(c, "bad failpoint spec", CRAWLLOG_EINVAL);
    }
}

/* Open the log; phase 1 starts right after. */
static void c_open(struct child *c)
{
    char err[256] = "";
    int rc = crawllog_open(&c->log, c->data, NULL, err, sizeof(err));
    if (rc != 0) {
        jprintf(c, "F open: %s: %s\n", crawllog_err_name(rc), err);
        child_end(c, 0);
    }
    phase(c, 1);
}

/* Create topic with partitions and optional "name=value" overrides. */
static void c_topic(struct child *c, const char *topic, int parts,
                    const char *const *props)
{
    crawllog_conf_t *conf = NULL;
    int rc = crawllog_conf_new(&conf);
    for (size_t i = 0; rc == 0 && props != NULL && props[i] != NULL; i += 2) {
        rc = crawllog_conf_set(conf, props[i], props[i + 1], NULL, 0);
    }
    if (rc == 0) {
        rc = crawllog_topic_create(c->log, topic, parts, conf);
    }
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        child_fail(c, "topic_create", rc);
    }
    jprintf(c, "T %s %d\n", topic, parts);
}

/* Append one batch of n records; journal the attempt and the ack. */
static void c_append(struct child *c, const char *topic, int part, int n,
                     int sync)
{
    char vals[4][VALUE_MAX], keys[4][32];
    crawllog_record_t recs[4];
    int64_t off = -1;
    memset(recs, 0, sizeof(recs));
    for (int i = 0; i < n; i++) {
        uint64_t seq = c->seq + (uint64_t)i;
        recs[i].key = keys[i];
        recs[i].key_len =
            (size_t)snprintf(keys[i], sizeof(keys[i]), "k%" PRIu64, seq);
        recs[i].value = vals[i];
        recs[i].value_len = make_value(vals[i], topic, part, seq);
        recs[i].timestamp = -1;
    }
    jprintf(c, "W %s %d %" PRIu64 " %d\n", topic, part, c->seq, n);
    int rc = crawllog_append(c->log, topic, part, recs, (size_t)n, sync, &off);
    if (rc != 0) {
        child_fail(c, "append", rc);
    }
    jprintf(c, "A %s %d %" PRIu64 " %" PRId64 " %d %c\n", topic, part, c->seq,
            off, n, sync == CRAWLLOG_SYNC_DURABLE ? 'D' : 'W');
    c->seq += (uint64_t)n;
}

static void scen_single(struct child *c)
{
    c_open(c);
    c_topic(c, "s1", 1, NULL);
    for (int i = 0; i < 16; i++) {
        c_append(c, "s1", 0, 1 + i % 3, CRAWLLOG_SYNC_DURABLE);
    }
}

static const char *const small_segments[] = {
    "segment.bytes", "4096", "index.interval.bytes", "256", NULL};

/* Mostly WRITTEN appends with a DURABLE one every fifth: rolls happen
 * between them, so WRITTEN records end up in sealed segments below a
 * durable ack. */
static void scen_rolls(struct child *c)
{
    c_open(c);
    c_topic(c, "s2", 1, small_segments);
    for (int i = 0; i < 60; i++) {
        c_append(c, "s2", 0, 1 + i % 2,
                 i % 5 == 4 ? CRAWLLOG_SYNC_DURABLE : CRAWLLOG_SYNC_WRITTEN);
    }
}

static void scen_topic(struct child *c)
{
    c_open(c);
    c_topic(c, "s3", 3, NULL);
    for (int p = 0; p < 3; p++) {
        c_append(c, "s3", p, 2, CRAWLLOG_SYNC_DURABLE);
    }
}

static void c_maintain(struct child *c, const char *topic)
{
    int64_t start, end, deleted;
    int rc = crawllog_partition_offsets(c->log, topic, 0, &start, &end);
    if (rc != 0) {
        child_fail(c, "offsets", rc);
    }
    jprintf(c, "M %s 0 %" PRId64 "\n", topic, end);
    if ((rc = crawllog_maintain(c->log, &deleted)) != 0) {
        child_fail(c, "maintain", rc);
    }
    if ((rc = crawllog_partition_offsets(c->log, topic, 0, &start, &end))) {
        child_fail(c, "offsets", rc);
    }
    jprintf(c, "S %s 0 %" PRId64 "\n", topic, start);
}

static void scen_retention(struct child *c)
{
    static const char *const props[] = {"segment.bytes",
                                        "4096",
                                        "retention.bytes",
                                        "8192",
                                        "index.interval.bytes",
                                        "256",
                                        NULL};
    c_open(c);
    c_topic(c, "s4", 1, props);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 14; i++) {
            c_append(c, "s4", 0, 1 + i % 2, CRAWLLOG_SYNC_DURABLE);
        }
        phase(c, 2 + round);
        c_maintain(c, "s4");
    }
    c_append(c, "s4", 0, 1, CRAWLLOG_SYNC_DURABLE);
}

static void scen_addpart(struct child *c)
{
    c_open(c);
    c_topic(c, "s5", 1, NULL);
    c_append(c, "s5", 0, 1, CRAWLLOG_SYNC_DURABLE);
    phase(c, 2);
    int rc = crawllog_topic_add_partitions(c->log, "s5", 3);
    if (rc != 0) {
        child_fail(c, "add_partitions", rc);
    }
    jprintf(c, "P s5 3\n");
    for (int p = 0; p < 3; p++) {
        c_append(c, "s5", p, 2, CRAWLLOG_SYNC_DURABLE);
    }
}

static void scen_delete(struct child *c)
{
    c_open(c);
    c_topic(c, "s6a", 1, NULL);
    c_topic(c, "s6b", 1, NULL);
    c_append(c, "s6a", 0, 2, CRAWLLOG_SYNC_DURABLE);
    c_append(c, "s6b", 0, 2, CRAWLLOG_SYNC_DURABLE);
    phase(c, 2);
    jprintf(c, "d s6a\n");
    int rc = crawllog_topic_delete(c->log, "s6a");
    if (rc != 0) {
        child_fail(c, "topic_delete", rc);
    }
    jprintf(c, "D s6a\n");
    c_append(c, "s6b", 0, 1, CRAWLLOG_SYNC_DURABLE);
}

/* Stage 2 of a double crash: open (recovering) what stage 1's crash left,
 * append more. */
static void scen_recover(struct child *c)
{
    c_open(c);
    for (int i = 0; i < 6; i++) {
        c_append(c, "s1", 0, 1 + i % 2, CRAWLLOG_SYNC_DURABLE);
    }
}

static _Noreturn void child_main(const struct run_opts *o, const char *real,
                                 const char *shadow, int jfd)
{
    static void (*const scen[])(struct child *) = {
        scen_single,  scen_rolls,  scen_topic,  scen_retention,
        scen_addpart, scen_delete, scen_recover};
    struct child c;
    memset(&c, 0, sizeof(c));
    c.o = o;
    c.jfd = jfd;
    c.seq = o->seq_base;
    pathf(c.data, sizeof(c.data), "%s/data", real);
    cl_fp_clear();
    int rc = cl_shadow_enable(real, shadow);
    if (rc != 0) {
        jprintf(&c, "F shadow_enable: %s\n", strerror(-rc));
        child_end(&c, 0);
    }
    phase(&c, 0);
    scen[o->scen](&c);
    child_end(&c, 1);
}

/* ---------------------------------------------------------------------- */
/* The parent: run a child, parse its journal                              */
/* ---------------------------------------------------------------------- */

#define MAX_TOPICS 8
#define MAX_PARTS 4
#define MAX_RECS 2048

struct m_part {
    int64_t acked_start; /* last acknowledged retention start */
    int64_t start_bound; /* largest start retention could have reached */
};

struct m_topic {
    char name[32];
    int parts;    /* acknowledged partition count */
    int deleted;  /* deletion acknowledged */
    int deleting; /* deletion attempted: the topic may be gone */
    struct m_part p[MAX_PARTS];
};

struct m_rec { /* one acknowledged record */
    int t, part;
    uint64_t seq;
    int64_t off;
    char sync; /* 'D' or 'W' */
};

struct model {
    struct m_topic topics[MAX_TOPICS];
    int ntopics;
    struct m_rec recs[MAX_RECS]; /* ascending seq */
    size_t nrecs;
    uint64_t attempt_lo, attempt_hi; /* attempted seqs: [lo, hi) */
    int ended;                       /* "E" seen */
    uint64_t ops, site_hits;
    char fail[300]; /* the child's "F" line */
};

static int m_topic_index(struct model *m, const char *name, int add)
{
    for (int i = 0; i < m->ntopics; i++) {
        if (strcmp(m->topics[i].name, name) == 0) {
            return i;
        }
    }
    if (!add || m->ntopics == MAX_TOPICS) {
        return -1;
    }
    struct m_topic *t = &m->topics[m->ntopics];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    return m->ntopics++;
}

static void m_ack(struct model *m, const char *topic, int part, uint64_t seq,
                  int64_t off, int n, char sync)
{
    int t = m_topic_index(m, topic, 1);
    assert_true(t >= 0 && part >= 0 && part < MAX_PARTS);
    for (int i = 0; i < n; i++) {
        assert_true(m->nrecs < MAX_RECS);
        struct m_rec *r = &m->recs[m->nrecs++];
        r->t = t;
        r->part = part;
        r->seq = seq + (uint64_t)i;
        r->off = off + i;
        r->sync = sync;
    }
}

/*
 * Apply one journal line to the model.  The child's journal:
 *   T <topic> <n>             topic created with n partitions (acked)
 *   P <topic> <n>             partition count raised to n (acked)
 *   d <topic>                 deletion attempted;  D <topic>  acked
 *   W <topic> <p> <seq> <n>   append of records seq..seq+n-1 attempted
 *   A <topic> <p> <seq> <off> <n> <D|W>
 *                             ... acked at offsets off..off+n-1, with
 *                             SYNC_DURABLE (D) or SYNC_WRITTEN (W)
 *   M <topic> <p> <end>       retention about to run: start <= end
 *   S <topic> <p> <start>     retention done: start acked
 *   H <hits>  N <ops>         hits of the watched site / of all sites
 *   F <why>                   the child stopped on an error;  E  the end
 */
static void m_line(struct model *m, const char *line)
{
    char topic[64];
    int part, n;
    unsigned long long seq, v;
    long long off;
    char sync;
    struct m_topic *t;
    if (sscanf(line, "T %63s %d", topic, &n) == 2 ||
        sscanf(line, "P %63s %d", topic, &n) == 2) {
        t = &m->topics[m_topic_index(m, topic, 1)];
        t->parts = n > t->parts ? n : t->parts;
    } else if (sscanf(line, "D %63s", topic) == 1) {
        m->topics[m_topic_index(m, topic, 1)].deleted = 1;
    } else if (sscanf(line, "d %63s", topic) == 1) {
        m->topics[m_topic_index(m, topic, 1)].deleting = 1;
    } else if (sscanf(line, "W %63s %d %llu %d", topic, &part, &seq, &n) == 4) {
        if (m->attempt_hi == 0 && m->attempt_lo == 0) {
            m->attempt_lo = seq;
        }
        m->attempt_hi = seq + (unsigned long long)n;
    } else if (sscanf(line, "A %63s %d %llu %lld %d %c", topic, &part, &seq,
                      &off, &n, &sync) == 6) {
        m_ack(m, topic, part, seq, off, n, sync);
    } else if (sscanf(line, "M %63s %d %lld", topic, &part, &off) == 3) {
        t = &m->topics[m_topic_index(m, topic, 1)];
        t->p[part].start_bound =
            off > t->p[part].start_bound ? off : t->p[part].start_bound;
    } else if (sscanf(line, "S %63s %d %lld", topic, &part, &off) == 3) {
        m->topics[m_topic_index(m, topic, 1)].p[part].acked_start = off;
    } else if (sscanf(line, "N %llu", &v) == 1) {
        m->ops = v;
    } else if (sscanf(line, "H %llu", &v) == 1) {
        m->site_hits = v;
    } else if (strcmp(line, "E") == 0) {
        m->ended = 1;
    } else if (line[0] == 'F') {
        snprintf(m->fail, sizeof(m->fail), "%s", line);
    } else {
        fail_msg("bad journal line \"%s\"", line);
    }
}

/* Fork the child, read its journal into m (which may already hold an
 * earlier stage's), reap it. */
static void run_child(const struct run_opts *o, const char *real,
                      const char *shadow, struct model *m)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_main(o, real, shadow, p[1]);
    }
    close(p[1]);
    m->ended = 0;
    m->fail[0] = '\0';
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
        ssize_t n = read(p[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    close(p[0]);
    buf[len] = '\0';
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* A child always ends by SIGKILL (its own, or a CRASH failpoint). */
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
        fail_msg("child ended with status 0x%x; journal:\n%s", st, buf);
    }
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        m_line(m, l);
    }
    free(buf);
}

/* ---------------------------------------------------------------------- */
/* The oracle                                                              */
/* ---------------------------------------------------------------------- */

struct verdict {
    char why[600];    /* first data/metadata violation, "" if none */
    char verify[600]; /* first crawllog_verify problem after recovery */
};

#define VIOLATION(v, ...)                                                      \
    do {                                                                       \
        if ((v)->why[0] == '\0') {                                             \
            snprintf((v)->why, sizeof((v)->why), __VA_ARGS__);                 \
        }                                                                      \
    } while (0)

static const struct m_rec *m_find(const struct model *m, uint64_t seq)
{
    size_t lo = 0, hi = m->nrecs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->recs[mid].seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < m->nrecs && m->recs[lo].seq == seq ? &m->recs[lo] : NULL;
}

/* Read the partition from its log start; check each record.  seen[i] is
 * set for every acknowledged record m->recs[i] found. */
static void read_partition(crawllog_t *log, const struct model *m, int t,
                           int part, int64_t start, unsigned char *seen,
                           struct verdict *v)
{
    const char *name = m->topics[t].name;
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *msg;
    int64_t expect = start;
    int rc = crawllog_reader_new(&rd, log, name, part);
    if (rc != 0) {
        VIOLATION(v, "%s/%d: reader_new: %s", name, part,
                  crawllog_err_name(rc));
        return;
    }
    while ((rc = crawllog_reader_next(rd, &msg)) == 0 && msg != NULL) {
        char topic[32];
        int p;
        uint64_t seq;
        size_t len;
        const void *val = crawllog_msg_value(msg, &len);
        int64_t off = crawllog_msg_offset(msg);
        if (off != expect) {
            VIOLATION(
                v, "%s/%d: offset %" PRId64 " where %" PRId64 " was expected",
                name, part, off, expect);
            break;
        }
        expect++;
        if (parse_value(val, len, topic, &p, &seq) != 0 ||
            strcmp(topic, name) != 0 || p != part || seq < m->attempt_lo ||
            seq >= m->attempt_hi) {
            VIOLATION(v,
                      "%s/%d: offset %" PRId64 ": a record never "
                      "appended here",
                      name, part, off);
            break;
        }
        const struct m_rec *r = m_find(m, seq);
        if (r != NULL && r->off != off) {
            VIOLATION(v,
                      "%s/%d: acked seq %" PRIu64 " at offset %" PRId64
                      ", acked at %" PRId64,
                      name, part, seq, off, r->off);
        }
        if (r != NULL && seen[r - m->recs]++) {
            VIOLATION(v, "%s/%d: seq %" PRIu64 " twice", name, part, seq);
        }
    }
    if (rc != 0) {
        VIOLATION(v, "%s/%d: reader_next at %" PRId64 ": %s: %s", name, part,
                  expect, crawllog_err_name(rc), crawllog_reader_errmsg(rd));
    }
    crawllog_reader_destroy(rd);
}

static void check_partition(crawllog_t *log, const struct model *m, int t,
                            int part, int all_writes, unsigned char *seen,
                            struct verdict *v)
{
    const struct m_topic *mt = &m->topics[t];
    const struct m_part *mp = &mt->p[part];
    int64_t start, end, dmax = -1;
    int rc = crawllog_partition_offsets(log, mt->name, part, &start, &end);
    if (rc != 0) {
        VIOLATION(v, "%s/%d: offsets: %s: %s", mt->name, part,
                  crawllog_err_name(rc), crawllog_errmsg(log));
        return;
    }
    int64_t bound =
        mp->start_bound > mp->acked_start ? mp->start_bound : mp->acked_start;
    if (start < mp->acked_start || start > bound) {
        VIOLATION(v,
                  "%s/%d: log start %" PRId64 " outside [%" PRId64 ", %" PRId64
                  "]",
                  mt->name, part, start, mp->acked_start, bound);
    }
    read_partition(log, m, t, part, start, seen, v);
    for (size_t i = 0; i < m->nrecs; i++) {
        const struct m_rec *r = &m->recs[i];
        if (r->t == t && r->part == part && r->sync == 'D' && r->off > dmax) {
            dmax = r->off;
        }
    }
    for (size_t i = 0; i < m->nrecs; i++) {
        const struct m_rec *r = &m->recs[i];
        if (r->t == t && r->part == part && r->off >= start &&
            (r->off <= dmax || all_writes) && !seen[i]) {
            VIOLATION(v,
                      "%s/%d: acked record seq %" PRIu64 " offset %" PRId64
                      " (%s) is missing; log [%" PRId64 ", %" PRId64 ")",
                      mt->name, part, r->seq, r->off,
                      r->sync == 'D' ? "durable" : "written", start, end);
            return;
        }
    }
}

static void check_topics(crawllog_t *log, const struct model *m, int all_writes,
                         struct verdict *v)
{
    unsigned char *seen = calloc(m->nrecs + 1, 1);
    cl_test_check(seen != NULL);
    for (int t = 0; t < m->ntopics && v->why[0] == '\0'; t++) {
        const struct m_topic *mt = &m->topics[t];
        int32_t parts = 0;
        int rc = crawllog_topic_describe(log, mt->name, &parts, NULL);
        if (mt->deleted) {
            if (rc != CRAWLLOG_ENOTOPIC) {
                VIOLATION(v, "deleted topic %s is back (%s)", mt->name,
                          crawllog_err_name(rc));
            }
            continue;
        }
        if (mt->parts == 0 || (mt->deleting && rc == CRAWLLOG_ENOTOPIC)) {
            continue; /* creation not acked, or deletion in flight */
        }
        if (rc != 0 || parts < mt->parts) {
            VIOLATION(v, "acked topic %s: describe %s, %d partitions of %d",
                      mt->name, crawllog_err_name(rc), (int)parts, mt->parts);
            continue;
        }
        for (int p = 0; p < mt->parts && v->why[0] == '\0'; p++) {
            check_partition(log, m, t, p, all_writes, seen, v);
        }
    }
    free(seen);
}

/* Recover the data directory of an image and check every oracle. */
static void check_image(const char *img, const struct model *m, int all_writes,
                        struct verdict *v)
{
    char data[700], err[512] = "";
    crawllog_conf_t *conf = NULL;
    crawllog_t *log = NULL;
    size_t problems = 0;
    v->why[0] = '\0';
    v->verify[0] = '\0';
    pathf(data, sizeof(data), "%s/data", img);
    assert_crawllog_ok(crawllog_conf_new(&conf));
    assert_crawllog_ok(
        crawllog_conf_set(conf, "log.dir.create", "false", NULL, 0));
    int rc = crawllog_open(&log, data, conf, err, sizeof(err));
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        if (rc != CRAWLLOG_ENOENT || m->ntopics > 0) {
            VIOLATION(v, "open: %s: %s", crawllog_err_name(rc), err);
        }
        return;
    }
    check_topics(log, m, all_writes, v);
    rc = crawllog_close(log);
    if (rc != 0) {
        VIOLATION(v, "close: %s", crawllog_err_name(rc));
    }
    rc = crawllog_verify(data, NULL, NULL, &problems, err, sizeof(err));
    if (rc != 0) {
        snprintf(v->verify, sizeof(v->verify),
                 "verify after recovery: %zu problem(s): %s", problems, err);
    }
}

/* ---------------------------------------------------------------------- */
/* Runs                                                                    */
/* ---------------------------------------------------------------------- */

struct run {
    char dir[700], real[720], shadow[720];
    struct model m;
};

static unsigned run_counter;

/* A fresh <base>/runN with real/ (the shadow's real root). */
static void run_init(struct run *r, const char *base)
{
    memset(r, 0, sizeof(*r));
    pathf(r->dir, sizeof(r->dir), "%s/run%u", base, run_counter++);
    pathf(r->real, sizeof(r->real), "%s/real", r->dir);
    pathf(r->shadow, sizeof(r->shadow), "%s/shadow", r->dir);
    mkdir_or_fail(r->dir);
    mkdir_or_fail(r->real);
}

static void run_done(struct run *r)
{
    if (getenv("CL_TEST_KEEP") == NULL) {
        cl_test_rmrf(r->dir);
    }
}

/* Build image mode of r (as <dir>/img-<tag>) and check it. */
/*
 * The images a run is checked on: a shadow image mode, and whether the
 * recovery runs in a new boot (a power loss: the partition.state cache,
 * which records the boot id, must not be trusted) or in the same one (only
 * the process died: every write is in the page cache, image (b)).  A
 * different boot is simulated with CRAWLLOG_BOOT_ID (see cl_io_boot_id),
 * which only takes effect in a process that has not read the boot id yet:
 * so this parent process never opens a log itself; every scenario and
 * every check runs in a fresh child.
 */
enum img { IMG_DURABLE, IMG_ALL_SAME_BOOT, IMG_ALL_REBOOT, IMG_TORN, IMG_N };

struct check_job {
    const char *img;
    const struct model *m;
    int all_writes;
    int reboot;
    int fd; /* pipe for the verdict */
};

static void check_child(void *arg)
{
    const struct check_job *j = arg;
    struct verdict v;
    if (j->reboot) {
        setenv("CRAWLLOG_BOOT_ID", "simulated-reboot-after-power-loss", 1);
    }
    check_image(j->img, j->m, j->all_writes, &v);
    if (write(j->fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
        _exit(3);
    }
}

/* Build image kind img of r and check it (in a child). */
static void run_check(struct run *r, enum img img, uint64_t seed,
                      struct verdict *v)
{
    static const char *const tags[] = {"durable", "all", "all-reboot", "torn"};
    static const int modes[] = {CL_SHADOW_DURABLE, CL_SHADOW_ALL, CL_SHADOW_ALL,
                                CL_SHADOW_TORN};
    char dir[800];
    int p[2];
    pathf(dir, sizeof(dir), "%s/img-%s-%" PRIu64, r->dir, tags[img], seed);
    assert_int_equal(cl_shadow_image(r->shadow, dir, modes[img], seed), 0);
    assert_int_equal(pipe(p), 0);
    struct check_job j = {dir, &r->m, modes[img] == CL_SHADOW_ALL,
                          img != IMG_ALL_SAME_BOOT, p[1]};
    int st = cl_test_fork_run(check_child, &j);
    close(p[1]);
    ssize_t n = read(p[0], v, sizeof(*v));
    close(p[0]);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || n != (ssize_t)sizeof(*v)) {
        snprintf(v->why, sizeof(v->why), "the checker died (status 0x%x)", st);
        v->verify[0] = '\0';
    }
}

/* Run a scenario and require every oracle to hold in every image kind.
 * With expect_end the child must also have finished cleanly. */
static void run_clean(const char *base, const struct run_opts *o,
                      int expect_end, uint64_t seed)
{
    struct run r;
    struct verdict v;
    run_init(&r, base);
    run_child(o, r.real, r.shadow, &r.m);
    if (expect_end && (!r.m.ended || r.m.fail[0] != '\0')) {
        fail_msg("scenario %d did not finish: %s", (int)o->scen, r.m.fail);
    }
    for (enum img img = IMG_DURABLE; img < IMG_N; img++) {
        run_check(&r, img, seed, &v);
        if (v.why[0] != '\0' || v.verify[0] != '\0') {
            fail_msg("scenario %d, spec \"%s\", image kind %d (seed %" PRIu64
                     "): %s%s\n(run directory %s; CL_TEST_KEEP=1 keeps it)",
                     (int)o->scen, o->fp_spec ? o->fp_spec : "", (int)img, seed,
                     v.why, v.verify, r.dir);
        }
    }
    run_done(&r);
}

/* ---------------------------------------------------------------------- */
/* Scenario tests: no fault, all three images                              */
/* ---------------------------------------------------------------------- */

static void clean_scenario(void **state, enum scenario s)
{
    struct run_opts o = {s, NULL, 0, NULL, 0};
    run_clean(CL_TEST_DIR(state), &o, 1, CL_TEST_SEED);
}

static void test_durability_single_segment(void **state)
{
    clean_scenario(state, S_SINGLE);
}

static void test_durability_segment_rolls(void **state)
{
    clean_scenario(state, S_ROLLS);
}

static void test_durability_topic_creation(void **state)
{
    clean_scenario(state, S_TOPIC);
}

static void test_durability_retention(void **state)
{
    clean_scenario(state, S_RETENTION);
}

static void test_durability_add_partitions(void **state)
{
    clean_scenario(state, S_ADDPART);
}

static void test_durability_topic_deletion(void **state)
{
    clean_scenario(state, S_DELETE);
}

/* ---------------------------------------------------------------------- */
/* Crash-point sweeps                                                      */
/* ---------------------------------------------------------------------- */

/* Dry-run scenario s to count its I/O operations N, then crash the child
 * at `points` operations spread over 1..N (with a seeded jitter) and check
 * every image of every crash.  CL_DURABILITY_FULL=1 crashes at every one
 * of the N operations instead (a soak: minutes, not seconds). */
static void crash_sweep(void **state, enum scenario s, int points)
{
    const char *base = CL_TEST_DIR(state);
    struct run_opts o = {s, NULL, 0, NULL, 0};
    struct run dry;
    char spec[64];
    uint64_t rng = CL_TEST_SEED ^ (uint64_t)s;
    run_init(&dry, base);
    run_child(&o, dry.real, dry.shadow, &dry.m);
    if (!dry.m.ended || dry.m.fail[0] != '\0') {
        fail_msg("dry run of scenario %d failed: %s", (int)s, dry.m.fail);
    }
    uint64_t n = dry.m.ops;
    run_done(&dry);
    if (getenv("CL_DURABILITY_FULL") != NULL) {
        points = (int)n;
    }
    assert_true(n >= (uint64_t)points);
    printf("crash sweep, scenario %d: %d crash points over %" PRIu64
           " operations\n",
           (int)s, points, n);
    for (int i = 0; i < points; i++) {
        uint64_t step = n / (uint64_t)points;
        uint64_t k = 1 + (uint64_t)i * step + cl_test_rand_below(&rng, step);
        snprintf(spec, sizeof(spec), "*=CRASH@%" PRIu64, k);
        o.fp_spec = spec;
        run_clean(base, &o, 0, cl_test_rand(&rng));
    }
}

static void test_durability_crash_sweep_single(void **state)
{
    crash_sweep(state, S_SINGLE, 16);
}

static void test_durability_crash_sweep_rolls(void **state)
{
    crash_sweep(state, S_ROLLS, 16);
}

static void test_durability_crash_sweep_topic(void **state)
{
    crash_sweep(state, S_TOPIC, 12);
}

static void test_durability_crash_sweep_retention(void **state)
{
    crash_sweep(state, S_RETENTION, 16);
}

static void test_durability_crash_sweep_addpart_delete(void **state)
{
    crash_sweep(state, S_ADDPART, 8);
    crash_sweep(state, S_DELETE, 8);
}

/* Torn appends: the k-th batch write stops after a random byte count and
 * the process dies. */
static void test_durability_torn_append(void **state)
{
    char spec[96];
    uint64_t rng = CL_TEST_SEED;
    for (int i = 0; i < 10; i++) {
        uint64_t k = 1 + cl_test_rand_below(&rng, 70);
        uint64_t n = 1 + cl_test_rand_below(&rng, 300);
        snprintf(spec, sizeof(spec),
                 "seg.append.write=CRASH(%" PRIu64 ")@%" PRIu64, n, k);
        struct run_opts o = {S_ROLLS, spec, 0, NULL, 0};
        run_clean(CL_TEST_DIR(state), &o, 0, cl_test_rand(&rng));
    }
}

/* Double crash: stage 1 dies in the middle of an append (torn write) and
 * everything it wrote persists (image b); stage 2 recovers that image under
 * a new shadow, appends, and dies at a crash point -- also inside the
 * recovery itself.  Every ack of both stages must survive. */
static void double_crash(const char *base, const char *stage2_spec,
                         const char *count_site, struct verdict *v,
                         uint64_t *hitsp)
{
    struct run_opts o1 = {S_SINGLE, "seg.append.write=CRASH(45)@9", 0, NULL, 0};
    struct run_opts o2 = {S_RECOVER, stage2_spec, 0, count_site, 1000000};
    struct run r1, r2;
    run_init(&r1, base);
    run_child(&o1, r1.real, r1.shadow, &r1.m);
    assert_false(r1.m.ended);
    run_init(&r2, base);
    /* Stage 2's real root is stage 1's image (b); its journal adds to
     * stage 1's model. */
    rmdir(r2.real);
    assert_int_equal(cl_shadow_image(r1.shadow, r2.real, CL_SHADOW_ALL, 0), 0);
    r2.m = r1.m;
    run_child(&o2, r2.real, r2.shadow, &r2.m);
    *hitsp = r2.m.site_hits;
    v->why[0] = '\0';
    v->verify[0] = '\0';
    for (enum img img = IMG_DURABLE; img < IMG_N; img++) {
        if (v->why[0] == '\0' && v->verify[0] == '\0') {
            run_check(&r2, img, 7, v);
        }
    }
    run_done(&r1);
    run_done(&r2);
}

static void test_durability_double_crash(void **state)
{
    char spec[64];
    struct verdict v;
    uint64_t hits;
    double_crash(CL_TEST_DIR(state), NULL, NULL, &v, &hits);
    if (v.why[0] != '\0' || v.verify[0] != '\0') {
        fail_msg("double crash: %s%s", v.why, v.verify);
    }
    for (int k = 1; k <= 40; k += 3) {
        snprintf(spec, sizeof(spec), "*=CRASH@%d", k);
        double_crash(CL_TEST_DIR(state), spec, NULL, &v, &hits);
        if (v.why[0] != '\0' || v.verify[0] != '\0') {
            fail_msg("double crash, stage 2 %s: %s%s", spec, v.why, v.verify);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Fsync ablation                                                          */
/* ---------------------------------------------------------------------- */

enum expect {
    LOSS,       /* skipping the site must make an oracle fail in image (a) */
    INDEX_ONLY, /* no data oracle may fail, but verify must in image (c):
                 * the site guards derived data only */
    NOTHING     /* every oracle must still hold in images (a) and (c) */
};

struct ablation {
    const char *site;
    enum scenario scen;
    int phase;     /* when the child starts skipping the site */
    int first_hit; /* ... from this hit of the site on (1: every call) */
    enum expect expect;
};

/* Check image (a), then up to `seeds` torn images (c), until a data
 * oracle fails: the first data violation and the first verify problem
 * seen go to *out. */
static void ablation_images(struct run *r, int seeds, struct verdict *out)
{
    struct verdict v;
    out->why[0] = out->verify[0] = '\0';
    for (int i = 0; i <= seeds && out->why[0] == '\0'; i++) {
        run_check(r, i == 0 ? IMG_DURABLE : IMG_TORN,
                  CL_TEST_SEED + (uint64_t)i, &v);
        memcpy(out->why, v.why, sizeof(v.why));
        if (out->verify[0] == '\0') {
            memcpy(out->verify, v.verify, sizeof(v.verify));
        }
    }
}

/* Rerun a scenario with every call of a site (from a phase on) SKIPped and
 * check the images against the expectation. */
static void ablate(void **state, const struct ablation *a)
{
    char spec[96];
    struct run r;
    struct verdict v;
    snprintf(spec, sizeof(spec), "%s=SKIP@%d:persist", a->site, a->first_hit);
    struct run_opts o = {a->scen, spec, a->phase, a->site, 0};
    r.m.fail[0] = '\0';
    if (a->scen == S_RECOVER) {
        uint64_t hits = 0;
        double_crash(CL_TEST_DIR(state), spec, a->site, &v, &hits);
        assert_true(hits > 0);
    } else {
        run_init(&r, CL_TEST_DIR(state));
        run_child(&o, r.real, r.shadow, &r.m);
        if (r.m.site_hits == 0) {
            fail_msg("%s: the scenario never reached the site (%s)", a->site,
                     r.m.fail);
        }
        ablation_images(&r, a->expect == LOSS ? 1 : 8, &v);
        run_done(&r);
    }
    int lost = v.why[0] != '\0', vbad = v.verify[0] != '\0';
    if (a->expect == LOSS && !lost) {
        fail_msg("skipping %s lost nothing in scenario %d: the test is too "
                 "weak or the call is not needed",
                 a->site, (int)a->scen);
    }
    if (a->expect != LOSS && lost) {
        fail_msg("skipping %s (listed as not needed for data) lost data in "
                 "scenario %d: %s",
                 a->site, (int)a->scen, v.why);
    }
    if (a->expect == INDEX_ONLY && !vbad) {
        fail_msg("skipping %s left every index intact: listed as needed for "
                 "index integrity",
                 a->site);
    }
    if (a->expect == NOTHING && vbad) {
        fail_msg("skipping %s (listed as not needed) broke scenario %d: %s",
                 a->site, (int)a->scen, v.verify);
    }
    printf("ablation %s (scenario %d, phase %d, from hit %d): %s\n", a->site,
           (int)a->scen, a->phase, a->first_hit,
           a->expect == NOTHING ? "no loss, as expected"
           : lost               ? v.why
                                : v.verify);
    if (r.m.fail[0] != '\0') {
        printf("  (the child stopped early: %s)\n", r.m.fail);
    }
}

#define ABLATE(fn, site, scen, phase, first_hit, expect)                       \
    static void test_durability_ablate_##fn(void **state)                      \
    {                                                                          \
        static const struct ablation a = {site, scen, phase, first_hit,        \
                                          expect};                             \
        ablate(state, &a);                                                     \
    }

/* The first segment of a partition is created (and its directory synced
 * with seg.roll.dirsync) when the partition is first opened; the rolls
 * variant skips only the later calls, the rolls proper. */
ABLATE(seg_append_fdatasync, "seg.append.fdatasync", S_SINGLE, 0, 1, LOSS)
ABLATE(seg_roll_dirsync_first, "seg.roll.dirsync", S_SINGLE, 0, 1, LOSS)
ABLATE(seg_roll_dirsync_rolls, "seg.roll.dirsync", S_ROLLS, 0, 2, LOSS)
ABLATE(seg_roll_fsync, "seg.roll.fsync", S_ROLLS, 0, 1, LOSS)
ABLATE(meta_fsync_root, "meta.fsync", S_SINGLE, 0, 1, LOSS)
ABLATE(meta_fsync_topic, "meta.fsync", S_TOPIC, 1, 1, LOSS)
ABLATE(meta_fsync_log_start, "meta.fsync", S_RETENTION, 2, 1, LOSS)
ABLATE(meta_rename, "meta.rename", S_TOPIC, 1, 1, LOSS)
ABLATE(meta_dirsync, "meta.dirsync", S_ADDPART, 2, 1, LOSS)
ABLATE(topic_fsync_create, "topic.fsync", S_TOPIC, 1, 1, LOSS)
ABLATE(topic_fsync_delete, "topic.fsync", S_DELETE, 2, 1, LOSS)
ABLATE(topic_rename, "topic.rename", S_TOPIC, 1, 1, LOSS)
ABLATE(log_mkdir_dirsync, "log.mkdir.dirsync", S_SINGLE, 0, 1, LOSS)
ABLATE(idx_fsync, "idx.fsync", S_ROLLS, 0, 1, INDEX_ONLY)
ABLATE(seg_create_fsync, "seg.create.fsync", S_ROLLS, 0, 1, NOTHING)
ABLATE(seg_delete_dirsync, "seg.delete.dirsync", S_RETENTION, 0, 1, NOTHING)
ABLATE(seg_recover_fsync, "seg.recover.fsync", S_RECOVER, 0, 1, NOTHING)

/*
 * Opt-in (CL_DURABILITY_PER_CALL=1): skip ONE call of a site at a time
 * (SITE=SKIP@k) and print which calls lose data on their own.  Calls whose
 * single skip loses nothing are covered by a later sync of the same file or
 * directory in that scenario; this table is evidence for reviews, not an
 * assertion (the persist ablations above are the assertions).
 */
static void test_durability_ablate_per_call(void **state)
{
    static const struct {
        const char *site;
        enum scenario scen;
    } rows[] = {
        {"topic.fsync", S_TOPIC},          {"topic.fsync", S_DELETE},
        {"meta.fsync", S_ADDPART},         {"meta.dirsync", S_ADDPART},
        {"seg.roll.dirsync", S_ROLLS},     {"seg.roll.fsync", S_ROLLS},
        {"seg.append.fdatasync", S_ROLLS}, {"idx.fsync", S_ROLLS},
        {"log.mkdir.dirsync", S_SINGLE},
    };
    if (getenv("CL_DURABILITY_PER_CALL") == NULL) {
        skip();
    }
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct run_opts o = {rows[i].scen, NULL, 0, rows[i].site, 0};
        struct run r;
        struct verdict v;
        char spec[96];
        run_init(&r, CL_TEST_DIR(state));
        run_child(&o, r.real, r.shadow, &r.m);
        uint64_t n = r.m.site_hits;
        run_done(&r);
        for (uint64_t k = 1; k <= n; k++) {
            snprintf(spec, sizeof(spec), "%s=SKIP@%" PRIu64, rows[i].site, k);
            o.fp_spec = spec;
            run_init(&r, CL_TEST_DIR(state));
            run_child(&o, r.real, r.shadow, &r.m);
            ablation_images(&r, 2, &v);
            run_done(&r);
            printf("per-call %-20s scenario %d call %2" PRIu64 "/%" PRIu64
                   ": %s\n",
                   rows[i].site, (int)rows[i].scen, k, n,
                   v.why[0]      ? v.why
                   : v.verify[0] ? v.verify
                                 : "no loss");
        }
    }
}

/* A failed test may leave the shadow enabled or failpoints set in this
 * process: reset both. */
static int teardown(void **state)
{
    cl_shadow_disable();
    cl_fp_clear();
    return cl_test_tmpdir_teardown(state);
}

int main(int argc, char **argv)
{
    if (argc >= 1 && argv[0] != NULL && strchr(argv[0], '/') != NULL) {
        self_path = argv[0];
    }
    if (argc == 3 && strcmp(argv[1], "--shadow-env-child") == 0) {
        return shadow_env_child(argv[2]);
    }
#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, cl_test_tmpdir_setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_durability_shadow_content_needs_file_sync),
        T(test_durability_shadow_names_need_dir_sync),
        T(test_durability_shadow_rename_dir_and_recreate),
        T(test_durability_shadow_baseline_and_scope),
        T(test_durability_shadow_env_var),
        T(test_durability_single_segment),
        T(test_durability_segment_rolls),
        T(test_durability_topic_creation),
        T(test_durability_retention),
        T(test_durability_add_partitions),
        T(test_durability_topic_deletion),
        T(test_durability_crash_sweep_single),
        T(test_durability_crash_sweep_rolls),
        T(test_durability_crash_sweep_topic),
        T(test_durability_crash_sweep_retention),
        T(test_durability_crash_sweep_addpart_delete),
        T(test_durability_torn_append),
        T(test_durability_double_crash),
        T(test_durability_ablate_seg_append_fdatasync),
        T(test_durability_ablate_seg_roll_dirsync_first),
        T(test_durability_ablate_seg_roll_dirsync_rolls),
        T(test_durability_ablate_seg_roll_fsync),
        T(test_durability_ablate_meta_fsync_root),
        T(test_durability_ablate_meta_fsync_topic),
        T(test_durability_ablate_meta_fsync_log_start),
        T(test_durability_ablate_meta_rename),
        T(test_durability_ablate_meta_dirsync),
        T(test_durability_ablate_topic_fsync_create),
        T(test_durability_ablate_topic_fsync_delete),
        T(test_durability_ablate_topic_rename),
        T(test_durability_ablate_log_mkdir_dirsync),
        T(test_durability_ablate_idx_fsync),
        T(test_durability_ablate_seg_create_fsync),
        T(test_durability_ablate_seg_delete_dirsync),
        T(test_durability_ablate_seg_recover_fsync),
        T(test_durability_ablate_per_call),
    };
#undef T
    return cmocka_run_group_tests_name("durability", tests, NULL, NULL);
}
