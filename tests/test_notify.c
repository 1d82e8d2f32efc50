/*
 * test_notify.c - doorbells and watches (notify.c): slot claims (distinct
 * across threads, reused after release, freed by the kernel when the
 * claiming process is killed, all CL_NOTIFY_SLOTS then CRAWLLOG_EBUSY),
 * rings waking a waiter in another thread and in another process, the
 * watch bookkeeping (idempotent add/remove, stale registrations taken over,
 * sweep of dead slots), the wake-up protocol under a 100k-round ping-pong
 * with no lost wake-up, and end to end: a reader waiting on a partition's
 * watch woken by crawllog_append from another process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawllog.h"
#include "helpers.h"
#include "io.h"
#include "log.h"
#include "notify.h"
#include "partition.h"

#define MS 1000000LL
#define SEC (1000 * MS)

/* ---- helpers ------------------------------------------------------------ */

struct nfix {
    int rootfd;
    struct cl_notify *n;
};

static void nfix_open(struct nfix *f, const char *dir)
{
    struct cl_err err = {{0}};
    f->rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cl_test_checkf(f->rootfd >= 0, "open %s: %s", dir, strerror(errno));
    int rc = cl_notify_open(&f->n, f->rootfd, 0600, &err);
    cl_test_checkf(rc == 0, "cl_notify_open: %s", err.msg);
}

static void nfix_close(struct nfix *f)
{
    cl_notify_close(f->n);
    close(f->rootfd);
}

static int claim(struct cl_notify *n)
{
    struct cl_err err = {{0}};
    int slot;
    int rc = cl_notify_claim(n, &slot, &err);
    cl_test_checkf(rc == 0, "cl_notify_claim: %s %s", crawllog_err_name(rc),
                   err.msg);
    cl_test_check(slot >= 0 && slot < CL_NOTIFY_SLOTS);
    return slot;
}

/* 1 if some open file description holds slot's byte (probed through a
 * description of our own, which conflicts with every claim). */
static int slot_held(const char *dir, int slot)
{
    char path[4200];
    int fd = open(cl_test_path(path, sizeof(path), dir, CL_NOTIFY_NAME),
                  O_RDWR | O_CLOEXEC);
    cl_test_checkf(fd >= 0, "open %s: %s", path, strerror(errno));
    int held = cl_io_ofd_held(fd, (uint64_t)slot);
    close(fd);
    cl_test_checkf(held == 0 || held == 1, "ofd_held: %d", held);
    return held;
}

static void read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, (char *)buf + got, len - got);
        cl_test_checkf(r > 0 || (r < 0 && errno == EINTR), "read: %s",
                       r == 0 ? "EOF" : strerror(errno));
        got += r > 0 ? (size_t)r : 0;
    }
}

/* In a forked child: wait for the parent's SIGKILL, but never outlive a
 * parent that failed before sending it by more than a minute. */
static _Noreturn void hold_until_killed(void)
{
    alarm(60);
    for (;;) {
        pause();
    }
}

/* Wait until slot's doorbell leaves seen (re-waiting after spurious
 * returns) or limit_ns passed; returns the time waited. */
static int64_t wait_moved(struct cl_notify *n, int slot, uint32_t seen,
                          int64_t limit_ns)
{
    int64_t t0 = cl_io_mono_ns(), dt = 0;
    while (cl_notify_seq(n, slot) == seen && dt < limit_ns) {
        cl_notify_wait(n, slot, seen, limit_ns - dt);
        dt = cl_io_mono_ns() - t0;
    }
    return cl_io_mono_ns() - t0;
}

/* ---- claims ------------------------------------------------------------- */

#define CLAIM_THREADS 8
#define CLAIMS_PER_THREAD 16

struct claim_arg {
    struct cl_notify *n;
    int slots[CLAIMS_PER_THREAD];
    int rc;
};

static void *claim_thread(void *p)
{
    struct claim_arg *a = p;
    struct cl_err err = {{0}};
    for (int i = 0; i < CLAIMS_PER_THREAD && a->rc == 0; i++) {
        a->rc = cl_notify_claim(a->n, &a->slots[i], &err);
    }
    return NULL;
}

/* Threads of one process get distinct slots, each really locked in the
 * file; released slots are free again. */
static void test_claim_distinct_threads(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct nfix f;
    struct claim_arg args[CLAIM_THREADS];
    pthread_t th[CLAIM_THREADS];
    int seen[CL_NOTIFY_SLOTS] = {0};
    nfix_open(&f, dir);
    for (int t = 0; t < CLAIM_THREADS; t++) {
        args[t].n = f.n;
        args[t].rc = 0;
        assert_int_equal(pthread_create(&th[t], NULL, claim_thread, &args[t]),
                         0);
    }
    for (int t = 0; t < CLAIM_THREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
    }
    for (int t = 0; t < CLAIM_THREADS; t++) {
        assert_crawllog_ok(args[t].rc);
        for (int i = 0; i < CLAIMS_PER_THREAD; i++) {
            int s = args[t].slots[i];
            assert_true(s >= 0 && s < CL_NOTIFY_SLOTS);
            assert_int_equal(seen[s], 0);
            seen[s] = 1;
            assert_int_equal(slot_held(dir, s), 1);
        }
    }
    /* The lowest free slots were taken: exactly 0 .. total-1. */
    for (int s = 0; s < CLAIM_THREADS * CLAIMS_PER_THREAD; s++) {
        assert_int_equal(seen[s], 1);
    }
    assert_int_equal(slot_held(dir, CLAIM_THREADS * CLAIMS_PER_THREAD), 0);
    for (int t = 0; t < CLAIM_THREADS; t++) {
        for (int i = 0; i < CLAIMS_PER_THREAD; i++) {
            cl_notify_release(f.n, args[t].slots[i]);
            assert_int_equal(slot_held(dir, args[t].slots[i]), 0);
        }
    }
    nfix_close(&f);
}

/* A released slot is the next one claimed; two handles of one process
 * (two crawllog_t) conflict like two processes. */
static void test_claim_reuse_after_release(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct nfix f, g;
    nfix_open(&f, dir);
    nfix_open(&g, dir);
    int a = claim(f.n), b = claim(f.n), c = claim(f.n);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(c, 2);
    int d = claim(g.n); /* another description: skips f's slots */
    assert_int_equal(d, 3);
    cl_notify_release(f.n, b);
    assert_int_equal(slot_held(dir, b), 0);
    assert_int_equal(claim(g.n), b);
    assert_int_equal(claim(f.n), 4);
    cl_notify_release(f.n, a);
    assert_int_equal(claim(f.n), a);
    cl_notify_release(f.n, 1000); /* not ours: ignored */
    cl_notify_release(f.n, -1);
    assert_int_equal(slot_held(dir, b), 1);
    /* close releases what is still claimed */
    nfix_close(&f);
    assert_int_equal(slot_held(dir, a), 0);
    assert_int_equal(slot_held(dir, c), 0);
    assert_int_equal(slot_held(dir, d), 1);
    nfix_close(&g);
    assert_int_equal(slot_held(dir, d), 0);
    assert_int_equal(slot_held(dir, b), 0);
}

/* A child that claims a slot and is killed with SIGKILL frees it (the
 * kernel drops its lock); the slot the parent holds, whose description
 * the child shared, stays held.  Then every slot can be claimed, and one
 * more is CRAWLLOG_EBUSY. */
static void test_claim_freed_by_sigkill(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct nfix f;
    struct cl_err err = {{0}};
    int pfd[2], mine, theirs, other;
    nfix_open(&f, dir);
    mine = claim(f.n);
    assert_int_equal(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        int s = claim(f.n);
        if (write(pfd[1], &s, sizeof(s)) != (ssize_t)sizeof(s)) {
            _exit(3);
        }
        hold_until_killed();
    }
    close(pfd[1]);
    read_full(pfd[0], &theirs, sizeof(theirs));
    close(pfd[0]);
    assert_int_not_equal(theirs, mine);
    assert_int_equal(slot_held(dir, theirs), 1);
    other = claim(f.n);
    assert_int_not_equal(other, theirs);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    cl_test_assert_killed_by(status, SIGKILL);
    assert_int_equal(slot_held(dir, theirs), 0);
    assert_int_equal(slot_held(dir, mine), 1);
    /* The lowest free slot is the dead child's. */
    assert_int_equal(claim(f.n), theirs);
    /* Every slot can be claimed (three are ours already): one descriptor
     * each, more than a default soft limit of 1024. */
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < CL_NOTIFY_SLOTS + 64) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
                              rl.rlim_max > CL_NOTIFY_SLOTS + 64
                          ? CL_NOTIFY_SLOTS + 64
                          : rl.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < CL_NOTIFY_SLOTS + 64) {
        print_message("RLIMIT_NOFILE hard limit %llu: not claiming every "
                      "slot\n",
                      (unsigned long long)rl.rlim_max);
        nfix_close(&f);
        return;
    }
    int got = 3, slot, rc;
    while ((rc = cl_notify_claim(f.n, &slot, &err)) == 0) {
        got++;
    }
    assert_crawllog_rc(rc, CRAWLLOG_EBUSY);
    assert_int_equal(got, CL_NOTIFY_SLOTS);
    for (int s = 0; s < CL_NOTIFY_SLOTS; s++) {
        cl_notify_release(f.n, s);
    }
    assert_int_equal(claim(f.n), 0);
    nfix_close(&f);
}

/* ---- rings -------------------------------------------------------------- */

struct ringer {
    struct cl_notify *n;
    int slot;
    long delay_ms;
};

static void *ring_thread(void *p)
{
    struct ringer *r = p;
    cl_test_sleep_ms(r->delay_ms);
    cl_notify_ring(r->n, r->slot);
    return NULL;
}

/* Without a ring a wait sleeps its timeout; a ring from another thread
 * ends a 10 s wait at once. */
static void test_ring_wakes_thread(void **state)
{
    struct nfix f;
    pthread_t th;
    nfix_open(&f, CL_TEST_DIR(state));
    int s = claim(f.n);
    uint32_t seen = cl_notify_seq(f.n, s);
    int64_t t0 = cl_io_mono_ns();
    cl_notify_wait(f.n, s, seen, 50 * MS);
    int64_t dt = cl_io_mono_ns() - t0;
    assert_true(dt >= 40 * MS); /* it slept (no ring) */
    assert_int_equal(cl_notify_seq(f.n, s), seen);
    /* A wait on a value that moved returns at once. */
    t0 = cl_io_mono_ns();
    cl_notify_wait(f.n, s, seen + 1, 10 * SEC);
    assert_true(cl_io_mono_ns() - t0 < 2 * SEC);

    struct ringer r = {f.n, s, 100};
    assert_int_equal(pthread_create(&th, NULL, ring_thread, &r), 0);
    dt = wait_moved(f.n, s, seen, 10 * SEC);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(cl_notify_seq(f.n, s), seen + 1);
    print_message("thread ring woke the waiter after %.1f ms\n",
                  (double)dt / MS);
    assert_true(dt >= 80 * MS); /* it waited for the ring */
    assert_true(dt < 2 * SEC);  /* and did not sleep out its timeout */
    cl_notify_release(f.n, s);
    nfix_close(&f);
}

/* A ring from another process (its own crawllog.notify mapping) wakes a
 * waiter of this one. */
static void test_ring_wakes_process(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct nfix f;
    nfix_open(&f, dir);
    int s = claim(f.n);
    uint32_t seen = cl_notify_seq(f.n, s);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct nfix g;
        nfix_open(&g, dir);
        cl_test_sleep_ms(100);
        cl_notify_ring(g.n, s);
        nfix_close(&g);
        _exit(0);
    }
    int64_t dt = wait_moved(f.n, s, seen, 10 * SEC);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    cl_test_assert_exit_ok(status);
    assert_int_equal(cl_notify_seq(f.n, s), seen + 1);
    print_message("process ring woke the waiter after %.1f ms\n",
                  (double)dt / MS);
    assert_true(dt >= 80 * MS);
    assert_true(dt < 2 * SEC);
    cl_notify_release(f.n, s);
    nfix_close(&f);
}

/* ---- watches ------------------------------------------------------------ */

/* add/remove are idempotent and keep nwait == set bits; ring rings exactly
 * the registered slots, and nothing when nwait is 0; a registration left
 * by a dead owner is taken over, not counted twice. */
static void test_watch_bookkeeping(void **state)
{
    struct nfix f;
    nfix_open(&f, CL_TEST_DIR(state));
    struct cl_watch *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    uint32_t s3 = cl_notify_seq(f.n, 3), s4 = cl_notify_seq(f.n, 4);
    uint32_t s700 = cl_notify_seq(f.n, 700);

    cl_watch_add(w, 3);
    assert_int_equal(atomic_load(&w->nwait), 1);
    cl_watch_add(w, 3);
    assert_int_equal(atomic_load(&w->nwait), 1);
    cl_watch_add(w, 700);
    assert_int_equal(atomic_load(&w->nwait), 2);
    assert_true(atomic_load(&w->mask[0]) == (uint64_t)1 << 3);
    assert_true(atomic_load(&w->mask[700 / 64]) == (uint64_t)1 << (700 % 64));
    cl_watch_ring(f.n, w);
    assert_int_equal(cl_notify_seq(f.n, 3), s3 + 1);
    assert_int_equal(cl_notify_seq(f.n, 700), s700 + 1);
    assert_int_equal(cl_notify_seq(f.n, 4), s4);
    cl_watch_ring(NULL, w); /* no doorbells: nothing, no crash */

    cl_watch_remove(w, 3);
    assert_int_equal(atomic_load(&w->nwait), 1);
    cl_watch_remove(w, 3);
    assert_int_equal(atomic_load(&w->nwait), 1);
    cl_watch_remove(w, 700);
    assert_int_equal(atomic_load(&w->nwait), 0);
    assert_true(atomic_load(&w->mask[0]) == 0);
    assert_true(atomic_load(&w->mask[700 / 64]) == 0);

    /* nwait 0 is trusted: a bit alone is not rung (the fast path). */
    atomic_store(&w->mask[0], (uint64_t)1 << 4);
    cl_watch_ring(f.n, w);
    assert_int_equal(cl_notify_seq(f.n, 4), s4);

    /* A dead owner's registration of slot 4 (bit + count) is taken over
     * by the slot's next owner. */
    atomic_store(&w->nwait, 1);
    cl_watch_add(w, 4);
    assert_int_equal(atomic_load(&w->nwait), 1);
    cl_watch_ring(f.n, w);
    assert_int_equal(cl_notify_seq(f.n, 4), s4 + 1);
    cl_watch_remove(w, 4);
    assert_int_equal(atomic_load(&w->nwait), 0);
    assert_true(atomic_load(&w->mask[0]) == 0);
    free(w);
    nfix_close(&f);
}

/* cl_watch_sweep removes the registrations of slots nobody holds and
 * keeps those held by this handle, by another handle and by another
 * process. */
static void test_watch_sweep(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct nfix f, g;
    int pfd[2], child_slot;
    nfix_open(&f, dir);
    nfix_open(&g, dir);
    struct cl_watch *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    int a = claim(f.n), b = claim(g.n);
    assert_int_equal(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        int s = claim(f.n);
        if (write(pfd[1], &s, sizeof(s)) != (ssize_t)sizeof(s)) {
            _exit(3);
        }
        hold_until_killed();
    }
    close(pfd[1]);
    read_full(pfd[0], &child_slot, sizeof(child_slot));
    close(pfd[0]);
    int dead = 900; /* never claimed */
    cl_watch_add(w, a);
    cl_watch_add(w, b);
    cl_watch_add(w, child_slot);
    cl_watch_add(w, dead);
    assert_int_equal(atomic_load(&w->nwait), 4);
    cl_watch_sweep(f.n, w);
    assert_int_equal(atomic_load(&w->nwait), 3);
    assert_true(atomic_load(&w->mask[dead / 64]) == 0);
    assert_true(atomic_load(&w->mask[0]) ==
                (((uint64_t)1 << a) | ((uint64_t)1 << b) |
                 ((uint64_t)1 << child_slot)));
    /* The child dies registered: the next sweep removes it. */
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    cl_watch_sweep(g.n, w);
    assert_int_equal(atomic_load(&w->nwait), 2);
    assert_true(atomic_load(&w->mask[0]) ==
                (((uint64_t)1 << a) | ((uint64_t)1 << b)));
    assert_int_equal(slot_held(dir, dead), 0); /* the sweep let go */
    cl_watch_remove(w, a);
    cl_watch_remove(w, b);
    assert_int_equal(atomic_load(&w->nwait), 0);
    cl_watch_sweep(f.n, w); /* empty: nothing to do */
    free(w);
    nfix_close(&g);
    nfix_close(&f);
}

/* ---- the protocol: ping-pong without a lost wake-up --------------------- */

#define PINGS 100000
#define LOST_NS (5 * SEC) /* a wait this long means a lost wake-up */

struct pingpong {
    struct cl_notify *n;
    struct cl_watch *wping, *wpong; /* what each side waits on */
    _Atomic uint64_t ping, pong;
    int slot_a, slot_b;
    _Atomic int lost;
    _Atomic uint64_t sleeps;
};

/* The waiter's side of notify.h: until *v >= want. */
static int wait_value(struct pingpong *pp, int slot, struct cl_watch *w,
                      _Atomic uint64_t *v, uint64_t want)
{
    for (;;) {
        uint32_t seen = cl_notify_seq(pp->n, slot);
        cl_watch_add(w, slot);
        if (atomic_load(v) >= want) {
            cl_watch_remove(w, slot);
            return 0;
        }
        int64_t t0 = cl_io_mono_ns();
        cl_notify_wait(pp->n, slot, seen, LOST_NS);
        int64_t dt = cl_io_mono_ns() - t0;
        cl_watch_remove(w, slot);
        atomic_fetch_add(&pp->sleeps, 1);
        if (dt >= LOST_NS && atomic_load(v) < want) {
            atomic_store(&pp->lost, 1);
            return -1;
        }
    }
}

static void *pong_thread(void *p)
{
    struct pingpong *pp = p;
    for (uint64_t i = 1; i <= PINGS; i++) {
        if (wait_value(pp, pp->slot_b, pp->wping, &pp->ping, i) != 0) {
            return NULL;
        }
        atomic_store_explicit(&pp->pong, i, memory_order_release);
        cl_watch_ring(pp->n, pp->wpong);
    }
    return NULL;
}

static void test_watch_protocol_no_lost_wakeup(void **state)
{
    struct nfix f;
    pthread_t th;
    nfix_open(&f, CL_TEST_DIR(state));
    struct pingpong *pp = calloc(1, sizeof(*pp));
    assert_non_null(pp);
    pp->wping = calloc(1, sizeof(struct cl_watch));
    pp->wpong = calloc(1, sizeof(struct cl_watch));
    assert_non_null(pp->wping);
    assert_non_null(pp->wpong);
    pp->n = f.n;
    pp->slot_a = claim(f.n);
    pp->slot_b = claim(f.n);
    int64_t t0 = cl_io_mono_ns();
    assert_int_equal(pthread_create(&th, NULL, pong_thread, pp), 0);
    for (uint64_t i = 1; i <= PINGS; i++) {
        atomic_store_explicit(&pp->ping, i, memory_order_release);
        cl_watch_ring(pp->n, pp->wping);
        if (wait_value(pp, pp->slot_a, pp->wpong, &pp->pong, i) != 0) {
            break;
        }
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    int64_t dt = cl_io_mono_ns() - t0;
    print_message("%d round trips in %.0f ms (%.2f us each), %llu sleeps\n",
                  PINGS, (double)dt / MS, (double)dt / 1000 / PINGS,
                  (unsigned long long)atomic_load(&pp->sleeps));
    assert_int_equal(atomic_load(&pp->lost), 0);
    assert_true(atomic_load(&pp->pong) == PINGS);
    assert_true(atomic_load(&pp->sleeps) > 0); /* it did sleep */
    assert_int_equal(atomic_load(&pp->wping->nwait), 0);
    assert_int_equal(atomic_load(&pp->wpong->nwait), 0);
    cl_notify_release(f.n, pp->slot_a);
    cl_notify_release(f.n, pp->slot_b);
    free(pp->wping);
    free(pp->wpong);
    free(pp);
    nfix_close(&f);
}

/* ---- end to end: crawllog_append in another process wakes a reader ------ */

static void append_one(const char *dir, const char *value)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_record_t rec = {0};
    int64_t base;
    rec.value = value;
    rec.value_len = strlen(value);
    rec.timestamp = -1;
    assert_crawllog_ok_log(log, crawllog_append(log, "t", 0, &rec, 1,
                                                CRAWLLOG_SYNC_WRITTEN, &base));
    assert_crawllog_ok(crawllog_close(log));
}

/* The reader side of notify.h on a partition: until the log end passes
 * `after`; returns the time waited. */
static int64_t wait_log_end(struct cl_notify *n, int slot,
                            struct cl_partition *part, int64_t after,
                            int64_t *endp)
{
    struct cl_watch *w = cl_partition_watch(part);
    struct cl_err err = {{0}};
    int64_t t0 = cl_io_mono_ns();
    for (;;) {
        uint32_t seen = cl_notify_seq(n, slot);
        cl_watch_add(w, slot);
        assert_crawllog_ok(cl_partition_offsets(part, NULL, endp, &err));
        if (*endp > after || cl_io_mono_ns() - t0 >= 10 * SEC) {
            cl_watch_remove(w, slot);
            return cl_io_mono_ns() - t0;
        }
        cl_notify_wait(n, slot, seen, 10 * SEC);
        cl_watch_remove(w, slot);
    }
}

static void test_append_in_other_process_wakes_reader(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct cl_err err = {{0}};
    struct cl_partition *part;
    char path[4200];
    int64_t end;
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    assert_int_equal(cl_test_file_size(cl_test_path(path, sizeof(path), dir,
                                                    CL_NOTIFY_NAME)),
                     CL_NOTIFY_SIZE);
    assert_crawllog_ok(cl_log_partition(log, "t", 0, &part, &err));
    struct cl_notify *n = cl_log_notify(log);
    assert_non_null(n);
    int slot = claim(n);

    for (int round = 0; round < 3; round++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            cl_test_sleep_ms(100);
            append_one(dir, "hello");
            _exit(0);
        }
        int64_t dt = wait_log_end(n, slot, part, round, &end);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        cl_test_assert_exit_ok(status);
        print_message("append in another process woke the reader after "
                      "%.1f ms\n",
                      (double)dt / MS);
        assert_int_equal(end, round + 1);
        assert_true(dt >= 80 * MS);
        assert_true(dt < 2 * SEC);
    }
    assert_int_equal(atomic_load(&cl_partition_watch(part)->nwait), 0);
    cl_notify_release(n, slot);
    cl_test_close_verify(log, dir); /* crawllog.notify is a known entry */
}

/* A reader killed while registered leaves a stale bit; reopening the
 * partition in a new handle sweeps it away. */
static void test_dead_reader_swept_at_open(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct cl_err err = {{0}};
    struct cl_partition *part;
    int pfd[2], slot;
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    assert_crawllog_ok(crawllog_close(log));
    assert_int_equal(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct cl_err cerr = {{0}};
        struct cl_partition *cpart;
        crawllog_t *clog = cl_test_open(dir, NULL);
        cl_test_check(cl_log_partition(clog, "t", 0, &cpart, &cerr) == 0);
        int s = claim(cl_log_notify(clog));
        cl_watch_add(cl_partition_watch(cpart), s);
        if (write(pfd[1], &s, sizeof(s)) != (ssize_t)sizeof(s)) {
            _exit(3);
        }
        hold_until_killed();
    }
    close(pfd[1]);
    read_full(pfd[0], &slot, sizeof(slot));
    close(pfd[0]);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    log = cl_test_open(dir, NULL);
    assert_crawllog_ok(cl_log_partition(log, "t", 0, &part, &err));
    struct cl_watch *w = cl_partition_watch(part);
    assert_int_equal(atomic_load(&w->nwait), 0);
    assert_true(atomic_load(&w->mask[slot / 64]) == 0);
    cl_test_close_verify(log, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_claim_distinct_threads),
        cl_test_unit_tmpdir(test_claim_reuse_after_release),
        cl_test_unit_tmpdir(test_claim_freed_by_sigkill),
        cl_test_unit_tmpdir(test_ring_wakes_thread),
        cl_test_unit_tmpdir(test_ring_wakes_process),
        cl_test_unit_tmpdir(test_watch_bookkeeping),
        cl_test_unit_tmpdir(test_watch_sweep),
        cl_test_unit_tmpdir(test_watch_protocol_no_lost_wakeup),
        cl_test_unit_tmpdir(test_append_in_other_process_wakes_reader),
        cl_test_unit_tmpdir(test_dead_reader_swept_at_open),
    };
    return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
