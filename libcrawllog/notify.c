/*
 * notify.c - doorbells: wake a waiter of another thread or process within
 * microseconds of a change, without sleep-polling.
 *
 * On disk: <data dir>/crawllog.notify, CL_NOTIFY_SIZE bytes (CL_NOTIFY_SLOTS
 * 64-byte lines; bytes [64*i, 64*i+4) are the 32-bit doorbell of slot i, in
 * host order, the rest is zero).  Machine-local and never fsync'd: its
 * content means nothing after a reboot.  Created (and grown) by every
 * crawllog_open, mapped MAP_SHARED, so the futex words are shared between
 * processes (non-private futexes keyed by the file page).
 *
 * Slots: a waiter claims slot i by holding an OFD write lock on byte i of
 * the file through an open file description of its own (one open() per
 * claim), so claims of threads of one process conflict like those of
 * different processes, and the kernel frees the slot when the last
 * descriptor of that description closes - when the process dies.  Claims
 * take the lowest free slot.
 *
 * Watches (struct cl_watch, in the state file of what is waited on): a
 * count nwait and one bit per slot.  Invariant: nwait >= popcount(mask).
 * add increments nwait before setting the bit, remove clears the bit
 * before decrementing; each changes nwait only if it changed the bit (add
 * undoes its increment when the bit was already set), so a registration
 * left by a dead process is taken over, not counted twice, and nwait is
 * bounded.  A process killed between the two steps leaves nwait one too
 * high: harmless (a writer scans the masks for nothing).  The wake-up
 * protocol and its fences are described in notify.h.
 *
 * Stale registrations (a waiter killed while registered) make writers ring
 * a slot nobody waits on until cl_watch_sweep removes them (partition
 * open) or the slot's next owner registers and unregisters there.
 *
 * Locks: n->lock guards n->fds (the claims of this process) and is held
 * across a claim, a release and a sweep.  The doorbells and watches are
 * lock-free atomics.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"
#include "notify.h"

_Static_assert(CL_NOTIFY_SLOTS % 64 == 0, "whole mask words");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "futex words are 32-bit");
_Static_assert(sizeof(struct cl_watch) == 8 + 8 * CL_NOTIFY_WORDS,
               "struct cl_watch has no hidden padding");

struct cl_notify {
    pthread_mutex_t lock;        /* guards fds */
    int rootfd;                  /* the data directory (not owned) */
    int fd;                      /* the file, for the mapping */
    dev_t dev;                   /* its identity: claims reopen it by */
    ino_t ino;                   /* name and must find the same file */
    unsigned char *base;         /* the mapping, CL_NOTIFY_SIZE bytes */
    int fds[CL_NOTIFY_SLOTS];    /* claim descriptor per slot, -1: none */
};

static _Atomic uint32_t *bell(struct cl_notify *n, int slot)
{
    return (_Atomic uint32_t *)(void *)(n->base +
                                        (size_t)slot * CL_NOTIFY_LINE);
}

int cl_notify_open(struct cl_notify **np, int rootfd, unsigned fmode,
                   struct cl_err *err)
{
    struct stat st;
    void *addr = NULL;
    *np = NULL;
    struct cl_notify *n = cl_io_calloc(1, sizeof(*n));
    if (n == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    int fd = cl_io_openat("notify.open", rootfd, CL_NOTIFY_NAME,
                          O_RDWR | O_CREAT, (mode_t)fmode);
    if (fd < 0) {
        cl_io_free(n);
        return cl_err_sys(err, -fd, CL_NOTIFY_NAME, "open");
    }
    int rc = cl_io_fstat("notify.stat", fd, &st);
    if (rc == 0 && !S_ISREG(st.st_mode)) {
        rc = -EINVAL;
    }
    /* Growing a short file is safe without a lock: ftruncate to the same
     * size from two processes leaves the (zero) contents alone. */
    if (rc == 0 && st.st_size < CL_NOTIFY_SIZE) {
        rc = cl_io_ftruncate("notify.truncate", fd, CL_NOTIFY_SIZE);
    }
    /* Blocks reserved (when some are missing: a file just grown, or one
     * left sparse): a full disk is ENOSPC here, never SIGBUS. */
    if (rc == 0 && (uint64_t)st.st_blocks * 512 < CL_NOTIFY_SIZE) {
        rc = cl_io_fallocate("notify.reserve", fd, CL_NOTIFY_SIZE);
    }
    if (rc == 0) {
        rc = cl_io_mmap_shared("notify.mmap", fd, CL_NOTIFY_SIZE, &addr);
    }
    if (rc < 0) {
        cl_io_close(fd);
        cl_io_free(n);
        return cl_err_sys(err, -rc, CL_NOTIFY_NAME, "map");
    }
    pthread_mutex_init(&n->lock, NULL);
    n->rootfd = rootfd;
    n->fd = fd;
    n->dev = st.st_dev;
    n->ino = st.st_ino;
    n->base = addr;
    for (int i = 0; i < CL_NOTIFY_SLOTS; i++) {
        n->fds[i] = -1;
    }
    *np = n;
    return 0;
}

void cl_notify_close(struct cl_notify *n)
{
    if (n == NULL) {
        return;
    }
    for (int i = 0; i < CL_NOTIFY_SLOTS; i++) {
        if (n->fds[i] >= 0) {
            cl_io_close(n->fds[i]); /* drops its lock */
        }
    }
    cl_io_munmap(n->base, CL_NOTIFY_SIZE);
    cl_io_close(n->fd);
    pthread_mutex_destroy(&n->lock);
    cl_io_free(n);
}

/* A new open file description of the mapped file (n->lock held). */
static int reopen(struct cl_notify *n, const char *site, int *fdp,
                  struct cl_err *err)
{
    struct stat st;
    int fd = cl_io_openat(site, n->rootfd, CL_NOTIFY_NAME, O_RDWR, 0);
    if (fd < 0) {
        return cl_err_sys(err, -fd, CL_NOTIFY_NAME, "open");
    }
    int rc = cl_io_fstat("notify.claim.stat", fd, &st);
    if (rc < 0) {
        cl_io_close(fd);
        return cl_err_sys(err, -rc, CL_NOTIFY_NAME, "fstat");
    }
    if (st.st_dev != n->dev || st.st_ino != n->ino) {
        cl_io_close(fd);
        return cl_errf(err, CRAWLLOG_EIO,
                       "%s: replaced while the log is open", CL_NOTIFY_NAME);
    }
    *fdp = fd;
    return 0;
}

int cl_notify_claim(struct cl_notify *n, int *slotp, struct cl_err *err)
{
    int fd = -1;
    *slotp = -1;
    pthread_mutex_lock(&n->lock);
    int rc = reopen(n, "notify.claim.open", &fd, err);
    for (int i = 0; rc == 0 && i < CL_NOTIFY_SLOTS; i++) {
        if (n->fds[i] >= 0) {
            continue; /* ours already */
        }
        int lrc = cl_io_ofd_lock("notify.claim.lock", fd, (uint64_t)i, 0);
        if (lrc == 0) {
            n->fds[i] = fd;
            *slotp = i;
            pthread_mutex_unlock(&n->lock);
            return 0;
        }
        if (lrc != -EWOULDBLOCK) {
            rc = cl_err_sys(err, -lrc, CL_NOTIFY_NAME, "lock slot");
        }
    }
    if (rc == 0) {
        rc = cl_errf(err, CRAWLLOG_EBUSY, "%s: all %d slots are taken",
                     CL_NOTIFY_NAME, CL_NOTIFY_SLOTS);
    }
    if (fd >= 0) {
        cl_io_close(fd);
    }
    pthread_mutex_unlock(&n->lock);
    return rc;
}

void cl_notify_release(struct cl_notify *n, int slot)
{
    if (slot < 0 || slot >= CL_NOTIFY_SLOTS) {
        return;
    }
    pthread_mutex_lock(&n->lock);
    int fd = n->fds[slot];
    n->fds[slot] = -1;
    pthread_mutex_unlock(&n->lock);
    if (fd >= 0) {
        /* Unlock explicitly: a forked child may share the description. */
        cl_io_ofd_unlock(fd, (uint64_t)slot);
        cl_io_close(fd);
    }
}

uint32_t cl_notify_seq(struct cl_notify *n, int slot)
{
    return atomic_load(bell(n, slot));
}

void cl_notify_wait(struct cl_notify *n, int slot, uint32_t seen,
                    int64_t timeout_ns)
{
    cl_io_futex_wait((const void *)bell(n, slot), seen, timeout_ns);
}

void cl_notify_ring(struct cl_notify *n, int slot)
{
    atomic_fetch_add(bell(n, slot), 1);
    cl_io_futex_wake((const void *)bell(n, slot));
}

void cl_watch_add(struct cl_watch *w, int slot)
{
    uint64_t bit = (uint64_t)1 << (slot % 64);
    atomic_fetch_add(&w->nwait, 1);
    uint64_t old = atomic_fetch_or(&w->mask[slot / 64], bit);
    if (old & bit) {
        atomic_fetch_sub(&w->nwait, 1); /* already counted */
    }
    /* Pairs with the fence of cl_watch_ring: the caller's re-check of its
     * condition comes after this. */
    atomic_thread_fence(memory_order_seq_cst);
}

void cl_watch_remove(struct cl_watch *w, int slot)
{
    uint64_t bit = (uint64_t)1 << (slot % 64);
    uint64_t old = atomic_fetch_and(&w->mask[slot / 64], ~bit);
    if (old & bit) {
        atomic_fetch_sub(&w->nwait, 1);
    }
}

void cl_watch_ring(struct cl_notify *n, struct cl_watch *w)
{
    /* The change was published before: order that store before the load
     * of nwait (store-load, so a full fence). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->nwait, memory_order_relaxed) == 0 ||
        n == NULL) {
        return;
    }
    for (int i = 0; i < CL_NOTIFY_WORDS; i++) {
        uint64_t m = atomic_load(&w->mask[i]);
        while (m != 0) {
            int b = __builtin_ctzll(m);
            m &= m - 1;
            cl_notify_ring(n, i * 64 + b);
        }
    }
}

void cl_watch_sweep(struct cl_notify *n, struct cl_watch *w)
{
    int fd = -1;
    struct cl_err err;
    if (n == NULL || atomic_load(&w->nwait) == 0) {
        return;
    }
    pthread_mutex_lock(&n->lock);
    for (int i = 0; i < CL_NOTIFY_WORDS; i++) {
        uint64_t m = atomic_load(&w->mask[i]);
        while (m != 0) {
            int slot = i * 64 + __builtin_ctzll(m);
            m &= m - 1;
            if (n->fds[slot] >= 0) {
                continue; /* claimed by this process */
            }
            /* A description of our own, not shared with a forked process,
             * so that holding the lock proves nobody else has the slot. */
            if (fd < 0 && reopen(n, "notify.sweep.open", &fd, &err) != 0) {
                goto out;
            }
            if (cl_io_ofd_lock("notify.sweep.lock", fd, (uint64_t)slot, 0) ==
                0) {
                cl_watch_remove(w, slot); /* its owner is gone */
                cl_io_ofd_unlock(fd, (uint64_t)slot);
            }
        }
    }
out:
    if (fd >= 0) {
        cl_io_close(fd);
    }
    pthread_mutex_unlock(&n->lock);
}
