/*
 * pstate.h - a partition's shared state file: the cross-process append lock
 * and a memory-mapped cache of the partition's tail (layer 2).
 * See pstate.c.
 */
#ifndef CL_PSTATE_H
#define CL_PSTATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "errors.h"
#include "notify.h"

#define CL_PSTATE_NAME "partition.state"
#define CL_PSTATE_SIZE 4096
#define CL_PSTATE_MAGIC "CLPSTATE"
#define CL_PSTATE_VERSION 1
#define CL_BOOT_ID_SIZE 48
#define CL_PSTATE_WATCH_OFF 256   /* offset of watch in the file */

/* Shared by every process that has the partition open (MAP_SHARED).  Only a
 * holder of the lock writes, except watch (waiters, with atomics); readers
 * load the atomics without the lock. */
struct cl_pstate_shm {
    char magic[8];                /* CL_PSTATE_MAGIC when initialised */
    uint32_t version;             /* CL_PSTATE_VERSION */
    uint32_t pad0;
    char boot_id[CL_BOOT_ID_SIZE]; /* kernel boot the state was built in */
    _Atomic int64_t next_offset;  /* log end offset, published last */
    _Atomic int64_t log_start;    /* log start offset */
    _Atomic uint64_t change_seq;  /* bumped on roll, retention, recovery */
    int64_t active_base;          /* base offset of the active segment */
    uint64_t active_size;         /* its bytes holding complete batches */
    int64_t max_ts;               /* its largest timestamp, -1 if none */
    uint32_t max_ts_rel;          /* relative offset that set max_ts */
    uint32_t pad1;
    uint64_t idx_n;               /* entries in its .index */
    uint64_t tidx_n;              /* entries in its .timeindex */
    int64_t synced_base;          /* segment synced_size refers to */
    uint64_t synced_size;         /* its bytes known to be fdatasync'd */
    uint32_t synced_crc;          /* CRC-32C of synced_base, synced_size */
    uint32_t pad2;
    int64_t roll_pending;         /* 1 + base of a roll being made, 0: none */
    uint8_t pad3[CL_PSTATE_WATCH_OFF - 168];
    struct cl_watch watch;        /* consumers waiting for appends (its own
                                     cache lines; zeros: nobody waits) */
    _Atomic uint32_t migration;   /* CL_PSTATE_MIG_*: the topic's migration
                                     (migrate.c); written under the lock */
};

/* Values of cl_pstate_shm.migration.  Appends check it under the lock and
 * hand a write to a partition where it is not NONE to the redirect hook
 * (partition.h).  The migration file topics/<t>/migration is the truth;
 * this is the machine-local signal to processes that loaded the topic
 * before its cut-over. */
#define CL_PSTATE_MIG_NONE 0
#define CL_PSTATE_MIG_FENCED 1   /* a cut-over is copying the tail: wait */
#define CL_PSTATE_MIG_REDIRECT 2 /* cut over: appends go to the target */

struct cl_pstate {
    int fd;                       /* the state file; flock'd for appends */
    struct cl_pstate_shm *shm;    /* its mapping */
};

/* Open (create) and map <dirfd>/partition.state. */
int cl_pstate_open(struct cl_pstate *ps, int dirfd, const char *reldir,
                   unsigned fmode, struct cl_err *err);
void cl_pstate_close(struct cl_pstate *ps);

/* Take / release the exclusive cross-process lock (blocking).  Threads of
 * one process are excluded by the partition mutex, taken first. */
int cl_pstate_lock(struct cl_pstate *ps, const char *reldir,
                   struct cl_err *err);
void cl_pstate_unlock(struct cl_pstate *ps);

/* With the lock held: 1 if the state was built in this boot and can be
 * trusted as a cache of the files, 0 if it must be rebuilt (new file, other
 * version, or a reboot since - then unsynced data may be torn anywhere). */
int cl_pstate_valid(const struct cl_pstate *ps);

/* With the lock held: bytes of segment `base` known durable (0 if the
 * record is missing or damaged). */
uint64_t cl_pstate_synced(const struct cl_pstate *ps, int64_t base);

/* With the lock held: record that [0, size) of segment base is durable. */
void cl_pstate_set_synced(struct cl_pstate *ps, int64_t base, uint64_t size);

/* With the lock held: mark the state as built in this boot. */
void cl_pstate_stamp(struct cl_pstate *ps);

/* Register / unregister a waiter's doorbell slot in the partition's watch
 * (no lock: see notify.h for the protocol). */
void cl_pstate_watch(struct cl_pstate *ps, int slot);
void cl_pstate_unwatch(struct cl_pstate *ps, int slot);

/* With the lock held, when the state is rebuilt (cl_pstate_valid() was 0):
 * forget every registration.  Safe then: nobody registers before the
 * state has been stamped in this boot, so these are from an earlier boot
 * or garbage. */
void cl_pstate_reset_watch(struct cl_pstate *ps);

/* 1 if the state file has been unlinked (the topic was deleted). */
int cl_pstate_unlinked(const struct cl_pstate *ps);

/* The migration word (any time) / set it (with the lock held). */
static inline uint32_t cl_pstate_migration(const struct cl_pstate *ps)
{
    return atomic_load_explicit(&ps->shm->migration, memory_order_acquire);
}
static inline void cl_pstate_set_migration(struct cl_pstate *ps, uint32_t v)
{
    atomic_store_explicit(&ps->shm->migration, v, memory_order_release);
}

#endif /* CL_PSTATE_H */
