/*
 * pstate.c - a partition's shared state file, partition.state.
 *
 * On disk: <partition dir>/partition.state, CL_PSTATE_SIZE bytes, holding a
 * struct cl_pstate_shm in host byte order.  It is a cache, not a source of
 * truth: it is never fsync'd and never needed for durability.  It serves
 * three purposes:
 *   1. flock() on it is the cross-process append lock of the partition
 *      (flock belongs to the open file description, so closing another fd
 *      of the same file does not drop it - unlike POSIX record locks);
 *   2. mapped MAP_SHARED, it lets every process see the log end offset, the
 *      active segment and rolls without re-reading the directory;
 *   3. its watch field says which consumers (doorbell slots of
 *      crawllog.notify) sleep until the log end or start moves, so that the
 *      writer can wake them (partition.c rings after publishing);
 *   4. its migration word tells every process that has the partition open
 *      that the topic is being cut over or was migrated (migrate.c).
 *
 * Invariants: only a lock holder writes it, except the watch field (the
 * doorbell slots of waiting consumers, notify.h), which waiters change
 * with atomics and no lock.  next_offset is stored last, with release
 * order, after the batch bytes are in the file, so a reader that loads it
 * with acquire order can read every batch below it.  A lock
 * holder that finds the file's size different from active_size knows a
 * writer died between write and publish, and recovers the tail.
 *
 * The state records the kernel boot id.  A state from another boot (or a
 * fresh or damaged file) is rebuilt from the segment files with a full
 * recovery scan of the active segment, because after a power loss unsynced
 * writes may have reached the disk in any order.  synced_base/synced_size
 * (with their own CRC, since a torn 4 KiB page is possible) say how much of
 * the active segment was fdatasync'd; damage below that is corruption.
 *
 * Locks: the caller holds the partition mutex around lock/unlock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "io.h"
#include "pstate.h"

_Static_assert(sizeof(struct cl_pstate_shm) <= CL_PSTATE_SIZE,
               "state fits in its file");
_Static_assert(offsetof(struct cl_pstate_shm, pad3) == 168 &&
                   offsetof(struct cl_pstate_shm, watch) ==
                       CL_PSTATE_WATCH_OFF &&
                   offsetof(struct cl_pstate_shm, migration) == 392,
               "docs/FORMAT.md section 6 offsets");

int cl_pstate_open(struct cl_pstate *ps, int dirfd, const char *reldir,
                   unsigned fmode, struct cl_err *err)
{
    struct stat st;
    void *addr;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", reldir, CL_PSTATE_NAME);
    ps->fd = -1;
    ps->shm = NULL;
    int fd = cl_io_openat("state.open", dirfd, CL_PSTATE_NAME,
                          O_RDWR | O_CREAT, (mode_t)fmode);
    if (fd < 0) {
        return cl_err_sys(err, -fd, path, "open");
    }
    int rc = cl_io_fstat("state.stat", fd, &st);
    if (rc == 0 && !S_ISREG(st.st_mode)) {
        rc = -EINVAL;
    }
    /* Growing a short file is safe without the lock: ftruncate to the same
     * size from two processes leaves the (zero) contents alone. */
    if (rc == 0 && st.st_size < CL_PSTATE_SIZE) {
        rc = cl_io_ftruncate("state.truncate", fd, CL_PSTATE_SIZE);
    }
    /* Blocks reserved (when some are missing: a file just grown, or one
     * left sparse): a full disk is ENOSPC here, never SIGBUS. */
    if (rc == 0 && (uint64_t)st.st_blocks * 512 < CL_PSTATE_SIZE) {
        rc = cl_io_fallocate("state.reserve", fd, CL_PSTATE_SIZE);
    }
    if (rc == 0) {
        rc = cl_io_mmap_shared("state.mmap", fd, CL_PSTATE_SIZE, &addr);
    }
    if (rc != 0) { /* cl_io_*: 0 or -errno */
        cl_io_close(fd);
        return cl_err_sys(err, -rc, path, "map");
    }
    ps->fd = fd;
    ps->shm = addr;
    return 0;
}

void cl_pstate_close(struct cl_pstate *ps)
{
    if (ps->shm) {
        cl_io_munmap(ps->shm, CL_PSTATE_SIZE);
    }
    if (ps->fd >= 0) {
        cl_io_close(ps->fd);
    }
    ps->shm = NULL;
    ps->fd = -1;
}

int cl_pstate_lock(struct cl_pstate *ps, const char *reldir,
                   struct cl_err *err)
{
    int rc = cl_io_lock("state.lock", ps->fd, 1, 1);
    if (rc < 0) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", reldir, CL_PSTATE_NAME);
        return cl_err_sys(err, -rc, path, "flock");
    }
    return 0;
}

void cl_pstate_unlock(struct cl_pstate *ps)
{
    cl_io_unlock(ps->fd);
}

static char boot_id_cache[CL_BOOT_ID_SIZE];
static pthread_once_t boot_id_once = PTHREAD_ONCE_INIT;

static void boot_id_load(void)
{
    if (cl_io_boot_id(boot_id_cache, sizeof(boot_id_cache)) != 0) {
        /* No boot id: never trust a state from an earlier run. */
        memset(boot_id_cache, 0, sizeof(boot_id_cache));
    }
}

/* The boot id is read once per process: it cannot change while we run. */
static void boot_id(char *out)
{
    pthread_once(&boot_id_once, boot_id_load);
    memset(out, 0, CL_BOOT_ID_SIZE);
    memcpy(out, boot_id_cache, CL_BOOT_ID_SIZE);
}

int cl_pstate_valid(const struct cl_pstate *ps)
{
    char id[CL_BOOT_ID_SIZE];
    const struct cl_pstate_shm *s = ps->shm;
    if (memcmp(s->magic, CL_PSTATE_MAGIC, 8) != 0 ||
        s->version != CL_PSTATE_VERSION) {
        return 0;
    }
    boot_id(id);
    return id[0] != '\0' && memcmp(id, s->boot_id, CL_BOOT_ID_SIZE) == 0;
}

static uint32_t synced_crc(int64_t base, uint64_t size)
{
    uint8_t b[16];
    memcpy(b, &base, 8);
    memcpy(b + 8, &size, 8);
    return cl_crc32c(0, b, sizeof(b));
}

uint64_t cl_pstate_synced(const struct cl_pstate *ps, int64_t base)
{
    const struct cl_pstate_shm *s = ps->shm;
    if (memcmp(s->magic, CL_PSTATE_MAGIC, 8) != 0 ||
        s->version != CL_PSTATE_VERSION || s->synced_base != base ||
        s->synced_crc != synced_crc(s->synced_base, s->synced_size)) {
        return 0;
    }
    return s->synced_size;
}

void cl_pstate_set_synced(struct cl_pstate *ps, int64_t base, uint64_t size)
{
    struct cl_pstate_shm *s = ps->shm;
    s->synced_base = base;
    s->synced_size = size;
    s->synced_crc = synced_crc(base, size);
}

void cl_pstate_stamp(struct cl_pstate *ps)
{
    struct cl_pstate_shm *s = ps->shm;
    memcpy(s->magic, CL_PSTATE_MAGIC, 8);
    s->version = CL_PSTATE_VERSION;
    boot_id(s->boot_id);
}

void cl_pstate_watch(struct cl_pstate *ps, int slot)
{
    cl_watch_add(&ps->shm->watch, slot);
}

void cl_pstate_unwatch(struct cl_pstate *ps, int slot)
{
    cl_watch_remove(&ps->shm->watch, slot);
}

void cl_pstate_reset_watch(struct cl_pstate *ps)
{
    /* Stores only where needed: keep a clean page clean. */
    struct cl_watch *w = &ps->shm->watch;
    for (int i = 0; i < CL_NOTIFY_WORDS; i++) {
        if (atomic_load(&w->mask[i]) != 0) {
            atomic_store(&w->mask[i], 0);
        }
    }
    if (atomic_load(&w->nwait) != 0) {
        atomic_store(&w->nwait, 0);
    }
}

int cl_pstate_unlinked(const struct cl_pstate *ps)
{
    struct stat st;
    return cl_io_fstat("state.stat", ps->fd, &st) == 0 && st.st_nlink == 0;
}
