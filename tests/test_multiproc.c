/*
 * test_multiproc.c - several processes on one data directory: concurrent
 * appends to one partition (offsets contiguous, batches never interleaved,
 * each process's records exactly once and in its order, segment rolls made
 * by different processes), readers that follow appends of other processes
 * without reopening, kill -9 chaos with an ack journal over a pipe (plus
 * writers that kill themselves at failpoint crash points: torn writes,
 * rolls cut short), a roll cut short by kill -9 while another process goes
 * on appending, a topic deleted (and re-created) under another process,
 * and partitions added by another process.  Built with -DCRAWLLOG_TESTING.
 *
 * Every child opens its own crawllog_t after fork() (a handle is never used
 * across fork).  Children report failures with CHILD_CHECK (print, then
 * _exit(CL_TEST_CHILD_FAILED)); cmocka asserts are used in the parent only.
 * Every child the parent starts is recorded, and the teardown SIGKILLs and
 * reaps whatever is left, so a failing test leaves no process behind.
 * SEED=N replays a run; CL_TEST_FILTER=pattern runs only matching tests.
 */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h" /* cl_fp_set: failpoints (-DCRAWLLOG_TESTING) */

#define SEG_BYTES "8192"
#define VAL_LEN 48
#define VAL_MAGIC 0xC1A0C1A0u
#define MAX_BATCH 20
#define MAX_CHILDREN 16
#define WAIT_MS 60000

/* ---------------------------------------------------------------------- */
/* Children                                                                */
/* ---------------------------------------------------------------------- */

/* A failed check in a child made here: print and leave with status 99. */
#define CHILD_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: child %ld: check failed: %s\n", __FILE__, \
                    __LINE__, (long)getpid(), #cond);                          \
            child_die();                                                       \
        }                                                                      \
    } while (0)

/* expr (a library call on log) must return want. */
#define CHILD_RC(log, expr, want)                                              \
    do {                                                                       \
        int child_rc_ = (expr);                                                \
        if (child_rc_ != (want)) {                                             \
            fprintf(stderr,                                                    \
                    "%s:%d: child %ld: %s returned %s, expected %s (%s)\n",    \
                    __FILE__, __LINE__, (long)getpid(), #expr,                 \
                    crawllog_err_name(child_rc_), crawllog_err_name(want),     \
                    (log) ? crawllog_errmsg(log) : "");                        \
            child_die();                                                       \
        }                                                                      \
    } while (0)

static _Noreturn void child_die(void)
{
    fflush(stdout);
    fflush(stderr);
    _exit(CL_TEST_CHILD_FAILED);
}

static pid_t children[MAX_CHILDREN];
static size_t nchildren;

/* fork(); the child runs fn(arg) and _exit(0)s. */
static pid_t spawn(void (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn(arg);
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    for (size_t i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] == 0) {
            children[i] = pid;
            if (i >= nchildren) {
                nchildren = i + 1;
            }
            return pid;
        }
    }
    kill(pid, SIGKILL);
    fail_msg("too many children");
    return -1;
}

static void forget_child(pid_t pid)
{
    for (size_t i = 0; i < nchildren; i++) {
        if (children[i] == pid) {
            children[i] = 0;
        }
    }
}

static void kill_all_children(void)
{
    for (size_t i = 0; i < nchildren; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR) {
            }
            children[i] = 0;
        }
    }
    nchildren = 0;
}

/* Wait for pid (at most timeout_ms) and return its status. */
static int wait_child(pid_t pid, int64_t timeout_ms)
{
    int64_t deadline = cl_test_mono_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            forget_child(pid);
            return status;
        }
        assert_true(r == 0 || errno == EINTR);
        if (cl_test_mono_ms() > deadline) {
            kill_all_children();
            fail_msg("child %ld did not end within %lld ms", (long)pid,
                     (long long)timeout_ms);
        }
        cl_test_sleep_ms(2);
    }
}

/* ---------------------------------------------------------------------- */
/* Pipes for synchronisation and ack journals                              */
/* ---------------------------------------------------------------------- */

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        CHILD_CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void send_byte(int fd, char c)
{
    write_all(fd, &c, 1);
}

/* Read one byte within timeout_ms: the byte, or -1 on timeout or EOF. */
static int recv_byte(int fd, int timeout_ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    int64_t deadline = cl_test_mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - cl_test_mono_ms());
        if (left < 0) {
            return -1;
        }
        int r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        unsigned char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n == 1 ? c : -1;
    }
}

/* In a child: wait for byte c from the parent, or die. */
static void child_expect(int fd, char c)
{
    int got = recv_byte(fd, WAIT_MS);
    if (got != c) {
        fprintf(stderr, "child %ld: expected '%c' from the parent, got %d\n",
                (long)getpid(), c, got);
        child_die();
    }
}

/* In the parent: wait for byte c from a child, or fail the test. */
static void parent_expect(int fd, char c)
{
    int got = recv_byte(fd, WAIT_MS);
    if (got != c) {
        kill_all_children();
        fail_msg("expected '%c' from the child, got %d", c, got);
    }
}

/* One acknowledged append, as a writer child reports it (<= PIPE_BUF, so
 * each write() is atomic even with several writers on one pipe). */
struct ack {
    uint32_t writer, gen, batch, n;
    int32_t partition;
    uint32_t pad;
    int64_t base;
};

struct acks {
    struct ack *v;
    size_t n, cap;
};

static void acks_push(struct acks *a, const struct ack *x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->v = realloc(a->v, a->cap * sizeof(*a->v));
        assert_non_null(a->v);
    }
    a->v[a->n++] = *x;
}

/* Read whole acks from fd until it would block (nonblocking fd) or EOF;
 * returns 1 at EOF.  Partial acks are kept in *part / *partlen. */
static int acks_drain(int fd, struct acks *a, unsigned char *part,
                      size_t *partlen)
{
    for (;;) {
        ssize_t n = read(fd, part + *partlen, sizeof(struct ack) - *partlen);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        assert_true(n >= 0);
        if (n == 0) {
            assert_int_equal(*partlen, 0);
            return 1;
        }
        *partlen += (size_t)n;
        if (*partlen == sizeof(struct ack)) {
            struct ack x;
            memcpy(&x, part, sizeof(x));
            acks_push(a, &x);
            *partlen = 0;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Records                                                                 */
/* ---------------------------------------------------------------------- */

/* What a record's value says about where it came from. */
struct rec {
    int64_t off;
    uint32_t writer, gen, batch, idx, n, seq;
};

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static unsigned char pattern_byte(uint32_t writer, uint32_t seq, size_t i)
{
    return (unsigned char)(writer * 31u + seq * 7u + (uint32_t)i);
}

struct batch {
    unsigned char vals[MAX_BATCH][VAL_LEN];
    crawllog_record_t recs[MAX_BATCH];
    uint32_t n;
};

/* Fill b with n records of (writer, gen, batch); *seq counts records. */
static void make_batch(struct batch *b, uint32_t writer, uint32_t gen,
                       uint32_t batch, uint32_t n, uint32_t *seq)
{
    memset(b->recs, 0, sizeof(b->recs));
    b->n = n;
    for (uint32_t i = 0; i < n; i++) {
        unsigned char *v = b->vals[i];
        uint32_t s = (*seq)++;
        put32(v, VAL_MAGIC);
        put32(v + 4, writer);
        put32(v + 8, gen);
        put32(v + 12, batch);
        put32(v + 16, i);
        put32(v + 20, n);
        put32(v + 24, s);
        for (size_t k = 28; k < VAL_LEN; k++) {
            v[k] = pattern_byte(writer, s, k);
        }
        b->recs[i].value = v;
        b->recs[i].value_len = VAL_LEN;
        b->recs[i].timestamp = -1;
    }
}

/* Decode a value written by make_batch; 0 if it is not one. */
static int decode(const unsigned char *v, size_t len, struct rec *r)
{
    if (v == NULL || len != VAL_LEN || get32(v) != VAL_MAGIC) {
        return 0;
    }
    r->writer = get32(v + 4);
    r->gen = get32(v + 8);
    r->batch = get32(v + 12);
    r->idx = get32(v + 16);
    r->n = get32(v + 20);
    r->seq = get32(v + 24);
    for (size_t k = 28; k < VAL_LEN; k++) {
        if (v[k] != pattern_byte(r->writer, r->seq, k)) {
            return 0;
        }
    }
    return r->idx < r->n && r->n <= MAX_BATCH;
}

/* Read every record of topic/partition from offset 0 (parent only). */
static struct rec *read_all(crawllog_t *log, const char *topic, int32_t p,
                            size_t *countp)
{
    crawllog_reader_t *rd;
    const crawllog_msg_t *m;
    size_t n = 0, cap = 1024;
    struct rec *v = malloc(cap * sizeof(*v));
    assert_non_null(v);
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, topic, p));
    for (;;) {
        int rc = crawllog_reader_next(rd, &m);
        if (rc != 0) {
            fail_msg("reader_next %s/%d at %lld: %s: %s", topic, (int)p,
                     (long long)crawllog_reader_position(rd),
                     crawllog_err_name(rc), crawllog_reader_errmsg(rd));
        }
        if (m == NULL) {
            break;
        }
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof(*v));
            assert_non_null(v);
        }
        size_t len;
        const void *val = crawllog_msg_value(m, &len);
        if (!decode(val, len, &v[n])) {
            fail_msg("%s/%d offset %lld: value is not a test record", topic,
                     (int)p, (long long)crawllog_msg_offset(m));
        }
        v[n].off = crawllog_msg_offset(m);
        n++;
    }
    crawllog_reader_destroy(rd);
    *countp = n;
    return v;
}

/* ---------------------------------------------------------------------- */
/* Setup                                                                   */
/* ---------------------------------------------------------------------- */

static int setup(void **state)
{
    nchildren = 0;
    memset(children, 0, sizeof(children));
    return cl_test_tmpdir_setup(state);
}

static int teardown(void **state)
{
    kill_all_children();
    return cl_test_tmpdir_teardown(state);
}

static char g_logdir[4200];

static crawllog_t *open_log(const char *dir)
{
    crawllog_conf_t *conf = cl_test_conf("log.dir.create", "true", NULL);
    crawllog_t *log = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_open(&log, dir, conf, errstr, sizeof(errstr));
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        fprintf(stderr, "crawllog_open %s: %s: %s\n", dir,
                crawllog_err_name(rc), errstr);
        return NULL;
    }
    return log;
}

/* Parent: open the data dir and create topics before any fork. */
static void create_topic(const char *dir, const char *topic, int32_t parts)
{
    crawllog_t *log = open_log(dir);
    assert_non_null(log);
    cl_test_create_topic(log, topic, parts, "segment.bytes", SEG_BYTES, NULL);
    assert_crawllog_ok(crawllog_close(log));
}

static size_t count_segments(const char *dir, const char *topic, int32_t p)
{
    char path[4400];
    size_t n = 0;
    snprintf(path, sizeof(path), "%s/topics/%s/%d", dir, topic, (int)p);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".log") == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Concurrent appenders                                                    */
/* ---------------------------------------------------------------------- */

struct writer_arg {
    const char *dir;
    const char *topic;
    int32_t partitions;
    uint32_t id, gen;
    uint32_t batches;   /* 0: until killed */
    int ack_fd;         /* write end of the ack pipe */
    int close_fd;       /* another fd to close in the child, or -1 */
    uint64_t seed;
    const char *crash;  /* failpoint spec to arm after open, or NULL */
};

static void writer_main(void *opaque)
{
    struct writer_arg *a = opaque;
    static struct batch b;
    uint64_t rng = a->seed ^ ((uint64_t)a->id << 32) ^ a->gen;
    uint32_t seq = 0;
    if (a->close_fd >= 0) {
        close(a->close_fd);
    }
    crawllog_t *log = open_log(a->dir);
    CHILD_CHECK(log != NULL);
    if (a->crash) {
        CHILD_CHECK(cl_fp_set(a->crash) == 0);
    }
    for (uint32_t bi = 0; a->batches == 0 || bi < a->batches; bi++) {
        uint32_t n = 1 + (uint32_t)cl_test_rand_below(&rng, MAX_BATCH);
        int sync = cl_test_rand_below(&rng, 2) ? CRAWLLOG_SYNC_DURABLE
                                               : CRAWLLOG_SYNC_WRITTEN;
        int32_t p = (int32_t)cl_test_rand_below(&rng,
                                                (uint64_t)a->partitions);
        int64_t base = -1;
        make_batch(&b, a->id, a->gen, bi, n, &seq);
        CHILD_RC(log, crawllog_append(log, a->topic, p, b.recs, n, sync, &base),
                 CRAWLLOG_OK);
        CHILD_CHECK(base >= 0);
        struct ack x = {a->id, a->gen, bi, n, p, 0, base};
        write_all(a->ack_fd, &x, sizeof(x));
    }
    CHILD_RC(log, crawllog_close(log), CRAWLLOG_OK);
}

/* One batch found in the log. */
struct found {
    uint32_t writer, gen, batch, n;
    int32_t partition;
    int64_t start;
};

struct founds {
    struct found *v;
    size_t n, cap;
};

static int found_cmp(const void *pa, const void *pb)
{
    const struct found *a = pa, *b = pb;
    if (a->writer != b->writer) {
        return a->writer < b->writer ? -1 : 1;
    }
    if (a->gen != b->gen) {
        return a->gen < b->gen ? -1 : 1;
    }
    if (a->batch != b->batch) {
        return a->batch < b->batch ? -1 : 1;
    }
    return 0;
}

/* Check that v (one partition, read from offset 0) is contiguous from 0
 * and made of whole, uninterleaved batches, and add them to f. */
static void check_batches(const struct rec *v, size_t n, int32_t p,
                          struct founds *f)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].off, (int64_t)i);
    }
    for (size_t i = 0; i < n;) {
        const struct rec *r = &v[i];
        if (r->idx != 0 || i + r->n > n) {
            fail_msg("offset %zu: batch (w%u g%u b%u) starts at record %u "
                     "of %u or is cut off at the log end",
                     i, r->writer, r->gen, r->batch, r->idx, r->n);
        }
        for (uint32_t j = 1; j < r->n; j++) {
            const struct rec *q = &v[i + j];
            if (q->writer != r->writer || q->gen != r->gen ||
                q->batch != r->batch || q->idx != j || q->seq != r->seq + j) {
                fail_msg("offset %zu: record of (w%u g%u b%u #%u) inside "
                         "batch (w%u g%u b%u) at %zu",
                         i + j, q->writer, q->gen, q->batch, q->idx,
                         r->writer, r->gen, r->batch, i);
            }
        }
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 1024;
            f->v = realloc(f->v, f->cap * sizeof(*f->v));
            assert_non_null(f->v);
        }
        f->v[f->n++] = (struct found){r->writer, r->gen, r->batch, r->n, p,
                                      (int64_t)i};
        i += r->n;
    }
}

#define MAX_PARTS 4

/* Sort f; no batch may appear twice (in one partition or across them), and
 * one writer process's batches are in its order within each partition. */
static void founds_finish(struct founds *f)
{
    int64_t last[MAX_PARTS];
    qsort(f->v, f->n, sizeof(*f->v), found_cmp);
    for (size_t i = 0; i < f->n; i++) {
        const struct found *a = &f->v[i - (i > 0)], *b = &f->v[i];
        if (i > 0 && found_cmp(a, b) == 0) {
            fail_msg("batch (w%u g%u b%u) appears twice: at %d/%lld and "
                     "%d/%lld",
                     a->writer, a->gen, a->batch, (int)a->partition,
                     (long long)a->start, (int)b->partition,
                     (long long)b->start);
        }
        if (i == 0 || a->writer != b->writer || a->gen != b->gen) {
            for (int p = 0; p < MAX_PARTS; p++) {
                last[p] = -1;
            }
        }
        assert_true(b->partition >= 0 && b->partition < MAX_PARTS);
        if (b->start <= last[b->partition]) {
            fail_msg("batch (w%u g%u b%u) at %d/%lld is before an earlier "
                     "batch of its writer",
                     b->writer, b->gen, b->batch, (int)b->partition,
                     (long long)b->start);
        }
        last[b->partition] = b->start;
    }
}

/* The acknowledged batch x must be in f at its acked place. */
static void check_acked(const struct founds *f, const struct ack *x)
{
    struct found key = {x->writer, x->gen, x->batch, 0, 0, 0};
    const struct found *hit =
        bsearch(&key, f->v, f->n, sizeof(*f->v), found_cmp);
    if (hit == NULL || hit->start != x->base ||
        hit->partition != x->partition || hit->n != x->n) {
        fail_msg("acked batch (w%u g%u b%u, %u records) at %d/%lld is %s "
                 "%d/%lld",
                 x->writer, x->gen, x->batch, x->n, (int)x->partition,
                 (long long)x->base, hit ? "at" : "missing",
                 hit ? (int)hit->partition : -1,
                 hit ? (long long)hit->start : -1LL);
    }
}

/* Start nw writers, each appending batches batches, and collect acks. */
static void run_writers(const char *dir, const char *topic, uint32_t nw,
                        uint32_t batches, struct acks *acks)
{
    int fds[2];
    pid_t pids[MAX_CHILDREN];
    struct writer_arg args[MAX_CHILDREN];
    unsigned char part[sizeof(struct ack)];
    size_t partlen = 0;
    assert_int_equal(pipe(fds), 0);
    for (uint32_t w = 0; w < nw; w++) {
        args[w] = (struct writer_arg){dir, topic, 1, w, 0, batches, fds[1],
                                      fds[0], CL_TEST_SEED, NULL};
        pids[w] = spawn(writer_main, &args[w]);
    }
    close(fds[1]);
    int64_t deadline = cl_test_mono_ms() + WAIT_MS;
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int r = poll(&pfd, 1, 100);
        assert_true(r >= 0 || errno == EINTR);
        if (r > 0) {
            /* Blocking fd: read one ack at a time. */
            ssize_t got = read(fds[0], part + partlen,
                               sizeof(part) - partlen);
            assert_true(got >= 0);
            if (got == 0) {
                break;
            }
            partlen += (size_t)got;
            if (partlen == sizeof(part)) {
                struct ack x;
                memcpy(&x, part, sizeof(x));
                acks_push(acks, &x);
                partlen = 0;
            }
        }
        if (cl_test_mono_ms() > deadline) {
            kill_all_children();
            fail_msg("writers did not finish within %d ms", WAIT_MS);
        }
    }
    close(fds[0]);
    assert_int_equal(partlen, 0);
    for (uint32_t w = 0; w < nw; w++) {
        cl_test_assert_exit_ok(wait_child(pids[w], WAIT_MS));
    }
}

static void concurrent_appends(void **state, uint32_t nw, uint32_t batches)
{
    struct acks acks = {0};
    struct founds f = {0};
    size_t n;
    cl_test_path(g_logdir, sizeof(g_logdir), CL_TEST_DIR(state), "log");
    create_topic(g_logdir, "mp", 1);
    run_writers(g_logdir, "mp", nw, batches, &acks);
    assert_int_equal(acks.n, (size_t)nw * batches);

    crawllog_t *log = open_log(g_logdir);
    assert_non_null(log);
    struct rec *v = read_all(log, "mp", 0, &n);
    check_batches(v, n, 0, &f);
    founds_finish(&f);
    size_t expect = 0;
    for (size_t i = 0; i < acks.n; i++) {
        expect += acks.v[i].n;
        check_acked(&f, &acks.v[i]);
    }
    assert_int_equal(f.n, acks.n);
    assert_int_equal(n, expect);
    /* Each writer's records once, in its order (seq ascending by 1). */
    for (uint32_t w = 0; w < nw; w++) {
        uint32_t next = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].writer == w) {
                assert_int_equal(v[i].seq, next);
                next++;
            }
        }
    }
    int64_t start, end;
    assert_crawllog_ok_log(log,
                           crawllog_partition_offsets(log, "mp", 0, &start,
                                                      &end));
    assert_int_equal(start, 0);
    assert_int_equal(end, (int64_t)n);
    size_t segs = count_segments(g_logdir, "mp", 0);
    print_message("%u writers: %zu records in %zu batches, %zu segments\n",
                  nw, n, acks.n, segs);
    assert_true(segs >= 4); /* rolls happened while they raced */
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(g_logdir);
    free(v);
    free(acks.v);
    free(f.v);
}

static void test_multiproc_two_writers_one_partition(void **state)
{
    concurrent_appends(state, 2, 60);
}

static void test_multiproc_four_writers_one_partition(void **state)
{
    concurrent_appends(state, 4, 40);
}

/* ---------------------------------------------------------------------- */
/* A reader in another process follows new appends                         */
/* ---------------------------------------------------------------------- */

#define FOLLOW_N 300

struct follow_arg {
    const char *dir;
    int ready_fd;
    int go_fd;
};

static void follower_main(void *opaque)
{
    struct follow_arg *a = opaque;
    crawllog_reader_t *rd;
    const crawllog_msg_t *m;
    crawllog_t *log = open_log(a->dir);
    CHILD_CHECK(log != NULL);
    CHILD_RC(log, crawllog_reader_new(&rd, log, "follow", 0), CRAWLLOG_OK);
    CHILD_RC(log, crawllog_reader_next(rd, &m), CRAWLLOG_OK);
    CHILD_CHECK(m == NULL); /* nothing yet */
    send_byte(a->ready_fd, 'R');
    uint32_t seen = 0;
    int64_t deadline = cl_test_mono_ms() + 30000;
    while (seen < FOLLOW_N) {
        int rc = crawllog_reader_next(rd, &m);
        if (rc != 0) {
            fprintf(stderr, "follower: %s: %s\n", crawllog_err_name(rc),
                    crawllog_reader_errmsg(rd));
        }
        CHILD_CHECK(rc == 0);
        if (m == NULL) {
            CHILD_CHECK(cl_test_mono_ms() < deadline);
            cl_test_sleep_ms(1);
            continue;
        }
        struct rec r;
        size_t len;
        const void *val = crawllog_msg_value(m, &len);
        CHILD_CHECK(decode(val, len, &r));
        CHILD_CHECK(crawllog_msg_offset(m) == (int64_t)seen);
        CHILD_CHECK(r.seq == seen);
        seen++;
    }
    CHILD_RC(log, crawllog_reader_next(rd, &m), CRAWLLOG_OK);
    CHILD_CHECK(m == NULL);
    crawllog_reader_destroy(rd);
    CHILD_RC(log, crawllog_close(log), CRAWLLOG_OK);
}

static void slow_writer_main(void *opaque)
{
    struct follow_arg *a = opaque;
    static struct batch b;
    uint64_t rng = CL_TEST_SEED ^ 0x5eed;
    uint32_t seq = 0;
    child_expect(a->go_fd, 'G');
    crawllog_t *log = open_log(a->dir);
    CHILD_CHECK(log != NULL);
    for (uint32_t bi = 0; seq < FOLLOW_N; bi++) {
        uint32_t n = 1 + (uint32_t)cl_test_rand_below(&rng, 7);
        if (seq + n > FOLLOW_N) {
            n = FOLLOW_N - seq;
        }
        make_batch(&b, 0, 0, bi, n, &seq);
        CHILD_RC(log,
                 crawllog_append(log, "follow", 0, b.recs, n,
                                 CRAWLLOG_SYNC_WRITTEN, NULL),
                 CRAWLLOG_OK);
        cl_test_sleep_ms((long)cl_test_rand_below(&rng, 3));
    }
    CHILD_RC(log, crawllog_close(log), CRAWLLOG_OK);
}

static void test_multiproc_reader_follows_other_process(void **state)
{
    int ready[2], go[2];
    cl_test_path(g_logdir, sizeof(g_logdir), CL_TEST_DIR(state), "log");
    create_topic(g_logdir, "follow", 1);
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    struct follow_arg a = {g_logdir, ready[1], go[0]};
    pid_t rpid = spawn(follower_main, &a);
    pid_t wpid = spawn(slow_writer_main, &a);
    parent_expect(ready[0], 'R');
    send_byte(go[1], 'G');
    cl_test_assert_exit_ok(wait_child(wpid, WAIT_MS));
    cl_test_assert_exit_ok(wait_child(rpid, WAIT_MS));
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    assert_true(count_segments(g_logdir, "follow", 0) >= 2);
}

/* ---------------------------------------------------------------------- */
/* kill -9 chaos                                                           */
/* ---------------------------------------------------------------------- */

#define CHAOS_WRITERS 3
#define CHAOS_KILLS 20
#define CHAOS_MS 10000
#define CHAOS_PARTS 2

/* Points where a restarted chaos writer may kill itself (raise(SIGKILL)
 * from a failpoint): torn batch writes, deaths between the write and its
 * publication or its fdatasync, torn index entries, rolls cut short. */
static const char *const CRASH_POINTS[] = {
    "seg.append.write=CRASH(30)", "seg.append.write=CRASH",
    "seg.append.fdatasync=CRASH", "idx.write=CRASH(3)",
    "seg.roll.fsync=CRASH",       "seg.create.write=CRASH(20)",
    "seg.roll.dirsync=CRASH",
};
#define NCRASH (sizeof(CRASH_POINTS) / sizeof(CRASH_POINTS[0]))

struct chaos {
    const char *dir;
    uint64_t rng;
    unsigned self_kills;
    char crash[CHAOS_WRITERS][64];
    struct acks acks;
    unsigned char part[sizeof(struct ack)];
    size_t partlen;
    int fds[2];
    pid_t pids[CHAOS_WRITERS];
    uint32_t gens[CHAOS_WRITERS];
    struct writer_arg args[CHAOS_WRITERS];
};

/* Start writer w; a restarted one arms a crash point half of the time. */
static void chaos_start(struct chaos *c, uint32_t w)
{
    const char *crash = NULL;
    if (c->gens[w] > 0 && cl_test_rand_below(&c->rng, 2)) {
        snprintf(c->crash[w], sizeof(c->crash[w]), "%s@%u",
                 CRASH_POINTS[cl_test_rand_below(&c->rng, NCRASH)],
                 1 + (unsigned)cl_test_rand_below(&c->rng, 40));
        crash = c->crash[w];
    }
    c->args[w] = (struct writer_arg){c->dir, "chaos", CHAOS_PARTS, w,
                                     c->gens[w], 0, c->fds[1], c->fds[0],
                                     CL_TEST_SEED, crash};
    c->pids[w] = spawn(writer_main, &c->args[w]);
}

static void chaos_check_killed(struct chaos *c, uint32_t w, int status)
{
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        kill_all_children();
        fail_msg("writer %u (gen %u) ended by itself: status 0x%x", w,
                 c->gens[w], (unsigned)status);
    }
}

/* Restart writers that killed themselves at their crash point. */
static void chaos_reap(struct chaos *c)
{
    for (uint32_t w = 0; w < CHAOS_WRITERS; w++) {
        int status;
        if (waitpid(c->pids[w], &status, WNOHANG) == c->pids[w]) {
            forget_child(c->pids[w]);
            chaos_check_killed(c, w, status);
            c->self_kills++;
            c->gens[w]++;
            chaos_start(c, w);
        }
    }
}

/* Kill writer w with SIGKILL; it must not have died on its own. */
static void chaos_kill(struct chaos *c, uint32_t w)
{
    kill(c->pids[w], SIGKILL);
    chaos_check_killed(c, w, wait_child(c->pids[w], WAIT_MS));
}

/* Sleep about ms while collecting acks. */
static void chaos_pause(struct chaos *c, long ms)
{
    int64_t until = cl_test_mono_ms() + ms;
    while (cl_test_mono_ms() < until) {
        struct pollfd pfd = {c->fds[0], POLLIN, 0};
        int r = poll(&pfd, 1, 5);
        assert_true(r >= 0 || errno == EINTR);
        acks_drain(c->fds[0], &c->acks, c->part, &c->partlen);
        chaos_reap(c);
    }
}

static void chaos_check(struct chaos *c)
{
    struct founds f = {0};
    size_t total = 0;
    crawllog_t *log = open_log(c->dir);
    assert_non_null(log);
    for (int32_t p = 0; p < CHAOS_PARTS; p++) {
        size_t n;
        struct rec *v = read_all(log, "chaos", p, &n);
        check_batches(v, n, p, &f);
        total += n;
        int64_t start, end;
        assert_crawllog_ok_log(log, crawllog_partition_offsets(
                                        log, "chaos", p, &start, &end));
        assert_int_equal(start, 0);
        assert_int_equal(end, (int64_t)n);
        free(v);
    }
    founds_finish(&f);
    for (size_t i = 0; i < c->acks.n; i++) {
        check_acked(&f, &c->acks.v[i]);
    }
    print_message("chaos: %zu acked batches; log holds %zu batches, %zu "
                  "records\n",
                  c->acks.n, f.n, total);
    assert_true(c->acks.n >= 50);
    assert_crawllog_ok(crawllog_close(log));
    free(f.v);
}

static void test_multiproc_kill9_chaos(void **state)
{
    static struct chaos c;
    uint64_t rng = CL_TEST_SEED ^ 0xc4a05;
    memset(&c, 0, sizeof(c));
    c.rng = CL_TEST_SEED ^ 0xc4a5e;
    cl_test_path(g_logdir, sizeof(g_logdir), CL_TEST_DIR(state), "log");
    c.dir = g_logdir;
    create_topic(g_logdir, "chaos", CHAOS_PARTS);
    assert_int_equal(pipe(c.fds), 0);
    int fl = fcntl(c.fds[0], F_GETFL);
    assert_int_equal(fcntl(c.fds[0], F_SETFL, fl | O_NONBLOCK), 0);
    for (uint32_t w = 0; w < CHAOS_WRITERS; w++) {
        chaos_start(&c, w);
    }
    int64_t t0 = cl_test_mono_ms();
    int kills = 0;
    while (kills < CHAOS_KILLS && cl_test_mono_ms() - t0 < CHAOS_MS) {
        chaos_pause(&c, 20 + (long)cl_test_rand_below(&rng, 300));
        uint32_t w = (uint32_t)cl_test_rand_below(&rng, CHAOS_WRITERS);
        chaos_kill(&c, w);
        kills++;
        c.gens[w]++;
        chaos_start(&c, w);
    }
    chaos_pause(&c, 50);
    for (uint32_t w = 0; w < CHAOS_WRITERS; w++) {
        chaos_kill(&c, w);
    }
    close(c.fds[1]);
    fl = fcntl(c.fds[0], F_GETFL);
    assert_int_equal(fcntl(c.fds[0], F_SETFL, fl & ~O_NONBLOCK), 0);
    assert_int_equal(acks_drain(c.fds[0], &c.acks, c.part, &c.partlen), 1);
    close(c.fds[0]);
    print_message("chaos: %d kills and %u deaths at crash points in %lld "
                  "ms\n",
                  kills, c.self_kills, (long long)(cl_test_mono_ms() - t0));
    assert_true(kills >= 5);
    chaos_check(&c);
    cl_test_expect_verify_clean(g_logdir);
    free(c.acks.v);
}

/* ---------------------------------------------------------------------- */
/* Topic deleted, partitions added, by another process                     */
/* ---------------------------------------------------------------------- */

struct duo {
    const char *dir;
    int to_child[2];
    int to_parent[2];
};

static void one_record(crawllog_record_t *r, const char *val)
{
    memset(r, 0, sizeof(*r));
    r->value = val;
    r->value_len = strlen(val);
    r->timestamp = -1;
}

/* In a child: one_record(r, val), appended to topic/p with sync, which
 * must succeed; returns the base offset. */
static int64_t child_append(crawllog_t *log, const char *topic, int32_t p,
                            crawllog_record_t *r, const char *val, int sync)
{
    int64_t base = -1;
    one_record(r, val);
    CHILD_RC(log, crawllog_append(log, topic, p, r, 1, sync, &base),
             CRAWLLOG_OK);
    return base;
}

static void deleted_child(void *opaque)
{
    struct duo *d = opaque;
    crawllog_record_t r;
    int64_t base, start, end;
    char path[4400];
    struct stat st;
    crawllog_t *log = open_log(d->dir);
    CHILD_CHECK(log != NULL);
    base = child_append(log, "gone", 0, &r, "old", CRAWLLOG_SYNC_WRITTEN);
    CHILD_CHECK(base == 0);
    send_byte(d->to_parent[1], 'A');
    child_expect(d->to_child[0], 'D'); /* the parent deleted "gone" */
    one_record(&r, "lost");
    CHILD_RC(log,
             crawllog_append(log, "gone", 0, &r, 1, CRAWLLOG_SYNC_DURABLE,
                             &base),
             CRAWLLOG_ENOTOPIC);
    CHILD_CHECK(base == -1);
    CHILD_RC(log, crawllog_append(log, "gone", 0, &r, 1,
                                  CRAWLLOG_SYNC_WRITTEN, NULL),
             CRAWLLOG_ENOTOPIC);
    CHILD_RC(log, crawllog_partition_offsets(log, "gone", 0, &start, &end),
             CRAWLLOG_ENOTOPIC);
    snprintf(path, sizeof(path), "%s/topics/gone", d->dir);
    CHILD_CHECK(stat(path, &st) != 0 && errno == ENOENT);
    send_byte(d->to_parent[1], 'B');
    child_expect(d->to_child[0], 'C'); /* the parent re-created it */
    base = child_append(log, "gone", 0, &r, "new", CRAWLLOG_SYNC_WRITTEN);
    CHILD_CHECK(base == 0);
    CHILD_RC(log, crawllog_partition_offsets(log, "gone", 0, &start, &end),
             CRAWLLOG_OK);
    CHILD_CHECK(start == 0 && end == 1);
    CHILD_RC(log, crawllog_close(log), CRAWLLOG_OK);
}

static void duo_open(struct duo *d)
{
    assert_int_equal(pipe(d->to_child), 0);
    assert_int_equal(pipe(d->to_parent), 0);
}

static void duo_close(struct duo *d)
{
    close(d->to_child[0]);
    close(d->to_child[1]);
    close(d->to_parent[0]);
    close(d->to_parent[1]);
}

/* In the parent: the data directory with topic (one partition), the pipes
 * of d and a child running fn(d), which has sent its 'A'; returns the
 * child's pid. */
static pid_t duo_start(void **state, struct duo *d, const char *topic,
                       void (*fn)(void *))
{
    cl_test_path(g_logdir, sizeof(g_logdir), CL_TEST_DIR(state), "log");
    d->dir = g_logdir;
    create_topic(g_logdir, topic, 1);
    duo_open(d);
    pid_t pid = spawn(fn, d);
    parent_expect(d->to_parent[0], 'A');
    return pid;
}

/* In the parent, after the child: close log and the pipes, then verify. */
static void duo_finish(struct duo *d, crawllog_t *log)
{
    assert_crawllog_ok(crawllog_close(log));
    duo_close(d);
    cl_test_expect_verify_clean(g_logdir);
}

static void test_multiproc_topic_deleted_by_other_process(void **state)
{
    struct duo d;
    const crawllog_msg_t *m;
    crawllog_reader_t *rd;
    size_t len;
    pid_t pid = duo_start(state, &d, "gone", deleted_child);
    crawllog_t *log = open_log(g_logdir);
    assert_non_null(log);
    assert_crawllog_ok_log(log, crawllog_topic_delete(log, "gone"));
    send_byte(d.to_child[1], 'D');
    parent_expect(d.to_parent[0], 'B');
    assert_crawllog_ok_log(log, crawllog_topic_create(log, "gone", 1, NULL));
    send_byte(d.to_child[1], 'C');
    cl_test_assert_exit_ok(wait_child(pid, WAIT_MS));
    /* The new topic holds exactly the child's one new record. */
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, "gone", 0));
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_non_null(m);
    assert_int_equal(crawllog_msg_offset(m), 0);
    const char *val = crawllog_msg_value(m, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(val, "new", 3);
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m);
    crawllog_reader_destroy(rd);
    duo_finish(&d, log);
}

static void grown_child(void *opaque)
{
    struct duo *d = opaque;
    crawllog_record_t r;
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m;
    int64_t base;
    int32_t parts;
    crawllog_t *log = open_log(d->dir);
    CHILD_CHECK(log != NULL);
    child_append(log, "grow", 0, &r, "p0", CRAWLLOG_SYNC_WRITTEN);
    CHILD_RC(log, crawllog_append(log, "grow", 1, &r, 1,
                                  CRAWLLOG_SYNC_WRITTEN, &base),
             CRAWLLOG_ENOTOPIC);
    CHILD_RC(log, crawllog_reader_new(&rd, log, "grow", 2),
             CRAWLLOG_ENOTOPIC);
    send_byte(d->to_parent[1], 'A');
    child_expect(d->to_child[0], 'G'); /* the parent added partitions */
    CHILD_RC(log, crawllog_topic_describe(log, "grow", &parts, NULL),
             CRAWLLOG_OK);
    CHILD_CHECK(parts == 3);
    base = child_append(log, "grow", 1, &r, "p1", CRAWLLOG_SYNC_DURABLE);
    CHILD_CHECK(base == 0);
    base = child_append(log, "grow", 2, &r, "p2", CRAWLLOG_SYNC_WRITTEN);
    CHILD_CHECK(base == 0);
    CHILD_RC(log, crawllog_reader_new(&rd, log, "grow", 2), CRAWLLOG_OK);
    CHILD_RC(log, crawllog_reader_next(rd, &m), CRAWLLOG_OK);
    CHILD_CHECK(m != NULL && crawllog_msg_offset(m) == 0);
    crawllog_reader_destroy(rd);
    CHILD_RC(log, crawllog_append(log, "grow", 3, &r, 1,
                                  CRAWLLOG_SYNC_WRITTEN, &base),
             CRAWLLOG_ENOTOPIC);
    CHILD_RC(log, crawllog_close(log), CRAWLLOG_OK);
}

static void expect_one(crawllog_t *log, int32_t p, const char *val)
{
    int64_t start, end;
    size_t len;
    const crawllog_msg_t *m;
    crawllog_reader_t *rd;
    assert_crawllog_ok_log(log,
                           crawllog_partition_offsets(log, "grow", p, &start,
                                                      &end));
    assert_int_equal(start, 0);
    assert_int_equal(end, 1);
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, "grow", p));
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_non_null(m);
    const char *v = crawllog_msg_value(m, &len);
    assert_int_equal(len, strlen(val));
    assert_memory_equal(v, val, len);
    crawllog_reader_destroy(rd);
}

static void test_multiproc_partitions_added_by_other_process(void **state)
{
    struct duo d;
    pid_t pid = duo_start(state, &d, "grow", grown_child);
    crawllog_t *log = open_log(g_logdir);
    assert_non_null(log);
    assert_crawllog_ok_log(log, crawllog_topic_add_partitions(log, "grow", 3));
    send_byte(d.to_child[1], 'G');
    cl_test_assert_exit_ok(wait_child(pid, WAIT_MS));
    expect_one(log, 0, "p0");
    expect_one(log, 1, "p1");
    expect_one(log, 2, "p2");
    duo_finish(&d, log);
}

/* ---------------------------------------------------------------------- */
/* A roll cut short by kill -9                                             */
/* ---------------------------------------------------------------------- */

#define BIG_LEN 1000

static void append_sized(crawllog_t *log, size_t len, int64_t want_base)
{
    static char buf[BIG_LEN];
    crawllog_record_t r;
    int64_t base = -1;
    memset(buf, 'a' + (int)(want_base % 26), sizeof(buf));
    memset(&r, 0, sizeof(r));
    r.value = buf;
    r.value_len = len;
    r.timestamp = -1;
    CHILD_RC(log, crawllog_append(log, "roll", 0, &r, 1,
                                  CRAWLLOG_SYNC_WRITTEN, &base),
             CRAWLLOG_OK);
    CHILD_CHECK(base == want_base);
}

/* Opens the partition, lets the parent append three ~1 KiB batches that
 * fill most of a 4 KiB segment, then appends a fourth, which rolls and dies
 * after creating the new segment, before publishing it. */
static void dying_roller(void *opaque)
{
    struct duo *d = opaque;
    int64_t end;
    crawllog_t *log = open_log(d->dir);
    CHILD_CHECK(log != NULL);
    CHILD_RC(log, crawllog_partition_offsets(log, "roll", 0, NULL, &end),
             CRAWLLOG_OK);
    send_byte(d->to_parent[1], 'O');
    child_expect(d->to_child[0], 'P');
    CHILD_CHECK(cl_fp_set("seg.roll.dirsync=CRASH") == 0);
    append_sized(log, BIG_LEN, 3);
    fprintf(stderr, "dying_roller: the roll did not crash\n");
    child_die();
}

static void test_multiproc_dead_roll_is_undone(void **state)
{
    char orphan[4400];
    crawllog_conf_t *tconf;
    struct duo d;
    cl_test_path(g_logdir, sizeof(g_logdir), CL_TEST_DIR(state), "log");
    d.dir = g_logdir;
    crawllog_t *log = open_log(g_logdir);
    assert_non_null(log);
    assert_crawllog_ok(crawllog_conf_new(&tconf));
    assert_crawllog_ok(
        crawllog_conf_set(tconf, "segment.bytes", "4096", NULL, 0));
    assert_crawllog_ok_log(log, crawllog_topic_create(log, "roll", 1, tconf));
    crawllog_conf_destroy(tconf);
    duo_open(&d);
    pid_t pid = spawn(dying_roller, &d);
    parent_expect(d.to_parent[0], 'O');
    for (int64_t i = 0; i < 3; i++) {
        append_sized(log, BIG_LEN, i);
    }
    send_byte(d.to_child[1], 'P');
    cl_test_assert_killed_by(wait_child(pid, WAIT_MS), SIGKILL);
    duo_close(&d);
    snprintf(orphan, sizeof(orphan),
             "%s/topics/roll/0/00000000000000000003.log", g_logdir);
    assert_true(cl_test_exists(orphan)); /* the roll got that far */

    /* A small batch still fits the old segment, the next big one rolls at
     * another offset. */
    append_sized(log, 10, 3);
    append_sized(log, BIG_LEN, 4);
    append_sized(log, BIG_LEN, 5);
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(g_logdir);

    log = open_log(g_logdir);
    assert_non_null(log);
    for (int64_t off = 5; off >= 0; off--) {
        crawllog_reader_t *rd;
        const crawllog_msg_t *m;
        size_t len;
        assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, "roll", 0));
        assert_crawllog_ok(crawllog_reader_seek(rd, off));
        for (int64_t o = off; o <= 5; o++) {
            assert_crawllog_ok(crawllog_reader_next(rd, &m));
            assert_non_null(m);
            assert_int_equal(crawllog_msg_offset(m), o);
            const char *v = crawllog_msg_value(m, &len);
            assert_int_equal(len, o == 3 ? 10 : BIG_LEN);
            assert_int_equal(v[0], 'a' + (int)o);
        }
        assert_crawllog_ok(crawllog_reader_next(rd, &m));
        assert_null(m);
        crawllog_reader_destroy(rd);
    }
    assert_crawllog_ok(crawllog_close(log));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_multiproc_two_writers_one_partition),
        T(test_multiproc_four_writers_one_partition),
        T(test_multiproc_reader_follows_other_process),
        T(test_multiproc_kill9_chaos),
        T(test_multiproc_dead_roll_is_undone),
        T(test_multiproc_topic_deleted_by_other_process),
        T(test_multiproc_partitions_added_by_other_process),
    };
#undef T
    (void)cl_test_seed();
    if (getenv("CL_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("CL_TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("multiproc", tests, NULL, NULL);
}
