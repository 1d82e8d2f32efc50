/*
 * prodid.c - producer identities and the registry of named producers
 * (layer 2).
 *
 * An idempotent producer writes a producerId (int64) and producerEpoch
 * (int16) into every batch (Kafka's InitProducerId, without a broker):
 *  - anonymous (producer.id ""): a random 63-bit id, epoch 0, nothing on
 *    disk; its sequences live as long as the producer;
 *  - named: <data dir>/producers/<name> holds the id and how many
 *    instances of the name were created; each new instance takes the next
 *    count (durably, before crawllog_producer_new returns) and writes
 *    epoch = count & 0x7fff.  An older live instance is fenced (idem.c):
 *    it sees the file's live word change under the partition lock, and a
 *    partition that has a newer epoch refuses its batches.
 *
 * On disk, producers/<name> (4096 bytes, FORMAT.md section 7):
 *   byte 0 and byte 512: two slots, each 40 bytes, big-endian:
 *     magic "CLPRODID" | version u32 (1) | reserved u32 (0) |
 *     instance u64 | producerId i64 | CRC-32C u32 of bytes [0, 36)
 *   byte 1024: live word, u32 in host order, the newest instance's count
 *     (machine-local cache, not relied on for durability)
 * The valid slot with the larger instance count is current; an update
 * writes the other slot and fdatasyncs it, so a torn write leaves the
 * previous slot (LMDB's two meta pages).  The file is created whole as
 * "~tmp.<pid>.0", fsync'd and renamed into place, then the directory is
 * fsync'd.  '~' is not a name character, so no producer.id can look like
 * a temp name (a name-derived temp name could: "x.tmp.<pid>.0" is a valid
 * producer.id) and the temp name's length does not depend on the name;
 * the start-up clean-up removes only "~tmp.<dead pid>.<n>".
 *
 * Invariants: an instance count is never handed out twice, even across
 * crashes (it is durable before use) or after bit rot in a slot (the
 * count the damaged slot may have held is skipped); the file never lacks
 * a valid slot.
 *
 * Locks: flock of the producers/ directory (its own open file description)
 * around every create and update, so processes and threads that create
 * producers of one name are serialised.  Nothing is locked afterwards:
 * the live word is read with an atomic load.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "crc32c.h"
#include "io.h"
#include "prodid.h"

#define CRC_OFF 36

/* Temp files of producers/: "~tmp.<pid>.0" ('~' is not a name char). */
#define TMP_PREFIX "~tmp."

_Static_assert(CL_PRODID_SLOT_SIZE == CRC_OFF + 4, "slot layout");

void cl_prodid_slot_encode(uint8_t *out, uint64_t instance, int64_t pid)
{
    memcpy(out, CL_PRODID_MAGIC, 8);
    cl_put_u32(out + 8, CL_PRODID_VERSION);
    cl_put_u32(out + 12, 0);
    cl_put_u64(out + 16, instance);
    cl_put_i64(out + 24, pid);
    cl_put_u32(out + 32, 0); /* reserved */
    cl_put_u32(out + CRC_OFF, cl_crc32c(0, out, CRC_OFF));
}

int cl_prodid_slot_decode(const uint8_t *in, uint64_t *instancep,
                          int64_t *pidp, int *emptyp)
{
    static const uint8_t zero[CL_PRODID_SLOT_SIZE];
    *emptyp = memcmp(in, zero, sizeof(zero)) == 0;
    if (memcmp(in, CL_PRODID_MAGIC, 8) != 0 ||
        cl_get_u32(in + 8) != CL_PRODID_VERSION ||
        cl_get_u32(in + CRC_OFF) != cl_crc32c(0, in, CRC_OFF) ||
        cl_get_i64(in + 24) < 0) {
        return CRAWLLOG_ECORRUPT;
    }
    *instancep = cl_get_u64(in + 16);
    *pidp = cl_get_i64(in + 24);
    return 0;
}

/* FNV-1a 64 of the name, as the id a new name gets. */
static int64_t name_pid(const char *name)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h = (h ^ *p) * 0x100000001b3u;
    }
    return (int64_t)(h & (uint64_t)INT64_MAX);
}

static int sys(struct cl_err *err, int rc, const char *name, const char *op)
{
    char rel[300];
    snprintf(rel, sizeof(rel), CL_PRODID_DIR "/%s", name);
    return cl_err_sys(err, -rc, rel, op);
}

/* Create producers/<name> with instance 1 (directory locked). */
static int create_file(int dfd, const char *name, unsigned fmode,
                       int64_t pid, struct cl_err *err)
{
    char tmp[64];
    uint8_t page[CL_PRODID_FILE_SIZE] = {0};
    /* One temp name per process is enough: creates are serialised by the
     * directory lock. */
    snprintf(tmp, sizeof(tmp), TMP_PREFIX "%ld.0", (long)getpid());
    cl_prodid_slot_encode(page, 1, pid);
    /* O_EXCL: a name already there (a crash's leftover, or a link someone
     * planted) is removed, never opened: its target is not touched. */
    int fd = cl_io_openat("prod.create", dfd, tmp, O_RDWR | O_CREAT | O_EXCL,
                          fmode);
    if (fd == -EEXIST &&
        cl_io_unlinkat("prod.unlink", dfd, tmp, 0) == 0) {
        fd = cl_io_openat("prod.create", dfd, tmp, O_RDWR | O_CREAT | O_EXCL,
                          fmode);
    }
    if (fd < 0) {
        return sys(err, fd, name, "create");
    }
    int rc = cl_io_pwrite_all("prod.write", fd, page, sizeof(page), 0);
    const char *op = "write";
    if (rc == 0 && (rc = cl_io_fsync("prod.fsync", fd)) != 0) {
        op = "fsync";
    }
    if (rc == 0 &&
        (rc = cl_io_renameat("prod.rename", dfd, tmp, dfd, name)) != 0) {
        op = "rename";
    }
    cl_io_close(fd);
    if (rc != 0) {
        (void)cl_io_unlinkat("prod.unlink", dfd, tmp, 0);
        return sys(err, rc, name, op);
    }
    rc = cl_io_fsync("prod.dirsync", dfd);
    return rc != 0 ? sys(err, rc, name, "fsync directory") : 0;
}

/* Take the next instance of an existing file (directory locked). */
static int next_instance(struct cl_prodid *id, const char *name,
                         struct cl_err *err)
{
    uint8_t page[CL_PRODID_LIVE_OFF];
    ssize_t n = cl_io_pread_all("prod.read", id->fd, page, sizeof(page), 0);
    if (n < 0) {
        return sys(err, (int)n, name, "read");
    }
    if ((size_t)n < sizeof(page)) {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       CL_PRODID_DIR "/%s: %zd bytes, not a producer file",
                       name, n);
    }
    uint64_t inst[2] = {0, 0};
    int64_t pid[2] = {-1, -1};
    int ok[2], empty[2];
    for (int s = 0; s < 2; s++) {
        ok[s] = cl_prodid_slot_decode(page + 512 * s, &inst[s], &pid[s],
                                      &empty[s]) == 0;
    }
    if (!ok[0] && !ok[1]) {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       CL_PRODID_DIR "/%s: no valid slot at bytes 0 and 512",
                       name);
    }
    int cur = !ok[1] || (ok[0] && inst[0] >= inst[1]) ? 0 : 1;
    if (inst[cur] >= UINT32_MAX - 1) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       CL_PRODID_DIR "/%s: instance count exhausted", name);
    }
    id->pid = pid[cur];
    /* A damaged other slot may have held the newest instance (cur + 1),
     * whose epoch can be in the log: skip it, or this instance would
     * share that epoch and not fence it (G13).  Both slots are written
     * from instance 2 on, so an empty one beside instance > 1 was
     * zeroed. */
    int lost = !ok[1 - cur] && (!empty[1 - cur] || inst[cur] > 1);
    id->instance = (uint32_t)inst[cur] + 1 + (uint32_t)lost;
    uint8_t slot[CL_PRODID_SLOT_SIZE];
    cl_prodid_slot_encode(slot, id->instance, id->pid);
    int rc = cl_io_pwrite_all("prod.write", id->fd, slot, sizeof(slot),
                              (uint64_t)512 * (uint64_t)(1 - cur));
    if (rc == 0) {
        rc = cl_io_fdatasync("prod.update.fsync", id->fd);
    }
    return rc != 0 ? sys(err, rc, name, "update") : 0;
}

/* The pid of a temp name "~tmp.<pid>.<n>", or 0 for any other name. */
static long tmp_pid(const char *name)
{
    const char *p = name + sizeof(TMP_PREFIX) - 1;
    long pid = 0;
    if (strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) != 0) {
        return 0;
    }
    for (; *p >= '0' && *p <= '9' && pid < 100000000L; p++) {
        pid = pid * 10 + (*p - '0');
    }
    return *p == '.' ? pid : 0;
}

/* Remove the temp files of dead processes (directory locked). */
static int cleanup_tmp(int dfd, struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0;
    int rc = cl_io_listdir("prod.cleanup.list", dfd, &names, &count);
    if (rc != 0) {
        return cl_err_sys(err, -rc, CL_PRODID_DIR, "list directory");
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        long pid = tmp_pid(names[i]);
        if (pid > 0 && !cl_io_pid_alive(pid)) {
            rc = cl_io_unlinkat("prod.cleanup.unlink", dfd, names[i], 0);
            if (rc != 0 && rc != -ENOENT) {
                char rel[300];
                snprintf(rel, sizeof(rel), CL_PRODID_DIR "/%s", names[i]);
                rc = cl_err_sys(err, -rc, rel, "remove stale temporary");
            } else {
                rc = 0;
            }
        }
    }
    cl_io_listdir_free(names, count);
    return rc;
}

/* Open (or create) producers/<name> and take an instance. */
static int acquire_named(struct cl_prodid *id, int dfd, const char *name,
                         unsigned fmode, struct cl_err *err)
{
    int rc = cleanup_tmp(dfd, err);
    if (rc != 0) {
        return rc;
    }
    id->fd = cl_io_openat("prod.open", dfd, name, O_RDWR, 0);
    if (id->fd == -ENOENT) {
        id->pid = name_pid(name);
        id->instance = 1;
        if ((rc = create_file(dfd, name, fmode, id->pid, err)) != 0) {
            return rc;
        }
        id->fd = cl_io_openat("prod.open", dfd, name, O_RDWR, 0);
        if (id->fd < 0) {
            return sys(err, id->fd, name, "open");
        }
    } else if (id->fd < 0) {
        return sys(err, id->fd, name, "open");
    } else if ((rc = next_instance(id, name, err)) != 0) {
        return rc;
    }
    rc = cl_io_mmap_shared("prod.mmap", id->fd, CL_PRODID_FILE_SIZE,
                           &id->map);
    if (rc != 0) {
        return sys(err, rc, name, "mmap");
    }
    _Atomic uint32_t *live =
        (_Atomic uint32_t *)((uint8_t *)id->map + CL_PRODID_LIVE_OFF);
    atomic_store_explicit(live, id->instance, memory_order_release);
    id->live = live;
    id->epoch = (int16_t)(id->instance & 0x7fff);
    return 0;
}

int cl_prodid_acquire(struct cl_prodid *id, int rootfd, const char *name,
                      unsigned dmode, unsigned fmode, struct cl_err *err)
{
    memset(id, 0, sizeof(*id));
    id->fd = -1;
    if (name == NULL || name[0] == '\0') {
        uint64_t r;
        int rc = cl_io_random(&r, sizeof(r));
        if (rc != 0) {
            return cl_err_sys(err, -rc, "getrandom", "producer id");
        }
        id->pid = (int64_t)(r & (uint64_t)INT64_MAX);
        return 0;
    }
    int rc = cl_io_mkdirat("prod.mkdir", rootfd, CL_PRODID_DIR, dmode);
    if (rc == 0 && (rc = cl_io_fsync("prod.mkdir.dirsync", rootfd)) != 0) {
        return cl_err_sys(err, -rc, ".", "fsync directory");
    }
    if (rc != 0 && rc != -EEXIST) {
        return cl_err_sys(err, -rc, CL_PRODID_DIR, "mkdir");
    }
    int dfd = cl_io_openat("prod.dir.open", rootfd, CL_PRODID_DIR,
                           O_RDONLY | O_DIRECTORY, 0);
    if (dfd < 0) {
        return cl_err_sys(err, -dfd, CL_PRODID_DIR, "open");
    }
    rc = cl_io_lock("prod.lock", dfd, 1, 1);
    if (rc != 0) {
        cl_io_close(dfd);
        return cl_err_sys(err, -rc, CL_PRODID_DIR, "lock");
    }
    rc = acquire_named(id, dfd, name, fmode, err);
    cl_io_unlock(dfd);
    cl_io_close(dfd);
    if (rc != 0) {
        cl_prodid_release(id);
    }
    return rc;
}

int cl_prodid_cleanup(int rootfd, struct cl_err *err)
{
    int dfd = cl_io_openat("prod.dir.open", rootfd, CL_PRODID_DIR,
                           O_RDONLY | O_DIRECTORY, 0);
    if (dfd == -ENOENT) {
        return 0;
    }
    if (dfd < 0) {
        return cl_err_sys(err, -dfd, CL_PRODID_DIR, "open");
    }
    int rc = cl_io_lock("prod.lock", dfd, 1, 1);
    if (rc != 0) {
        cl_io_close(dfd);
        return cl_err_sys(err, -rc, CL_PRODID_DIR, "lock");
    }
    rc = cleanup_tmp(dfd, err);
    cl_io_unlock(dfd);
    cl_io_close(dfd);
    return rc;
}

void cl_prodid_release(struct cl_prodid *id)
{
    cl_io_munmap(id->map, CL_PRODID_FILE_SIZE);
    if (id->fd >= 0) {
        cl_io_close(id->fd);
    }
    id->map = NULL;
    id->live = NULL;
    id->fd = -1;
}
