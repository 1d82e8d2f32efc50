/*
 * lagstore.h - a consumer group's history of commit points, the
 * machine-local cache groups/<group>/lag.history (layer 2).  See
 * lagstore.c and docs/FORMAT.md section 10.
 *
 * Per (topic, partition) the store keeps the last CL_LAGSTORE_POINTS
 * commits as {committed offset, commit time, log end then - offset}: the
 * window lagstatus.c evaluates by Burrow's rules.  It is a cache, never
 * fsync'd and never needed for correctness: a file from another boot, of
 * another layout, or damaged, is reset by the next writer, and readers
 * see it as empty until then.
 */
#ifndef CL_LAGSTORE_H
#define CL_LAGSTORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "lagstatus.h"

#define CL_LAGSTORE_NAME "lag.history"
#define CL_LAGSTORE_MAGIC "CLLAGHS1"
#define CL_LAGSTORE_VERSION 1
#define CL_LAGSTORE_SLOTS 2048      /* (topic, partition) entries */
#define CL_LAGSTORE_POINTS 10       /* = CL_LAG_INTERVALS_DEFAULT */
#define CL_LAGSTORE_NAME_WORDS 32   /* 256 bytes of topic name */
#define CL_LAGSTORE_BOOT_SIZE 48
#define CL_LAGSTORE_HDR_SIZE 128

_Static_assert(CL_LAGSTORE_POINTS == CL_LAG_INTERVALS_DEFAULT,
               "a slot holds one default window");

/* One commit point, as stored (host order). */
struct cl_lagstore_point {
    _Atomic int64_t offset;
    _Atomic int64_t ts_ms;
    _Atomic int64_t lag;          /* >= 0, or CL_LAG_UNKNOWN */
};

/* One (topic, partition).  Every field is an atomic so that lock-free
 * readers race with nobody (the seqlock tells them a copy was torn). */
struct cl_lagstore_slot {
    _Atomic uint32_t seq;         /* seqlock: odd while a writer updates */
    _Atomic uint32_t hash;        /* of (topic, partition) */
    _Atomic int32_t partition;
    _Atomic uint32_t n;           /* points stored, 0..CL_LAGSTORE_POINTS */
    _Atomic uint64_t stamp;       /* header clock at its last record;
                                     0: free slot */
    _Atomic uint64_t name[CL_LAGSTORE_NAME_WORDS]; /* topic, NUL-padded */
    struct cl_lagstore_point p[CL_LAGSTORE_POINTS]; /* oldest first */
};

struct cl_lagstore_hdr {
    char magic[8];                /* CL_LAGSTORE_MAGIC */
    _Atomic uint32_t version;     /* CL_LAGSTORE_VERSION, stored last */
    uint32_t nslots;              /* CL_LAGSTORE_SLOTS */
    uint32_t slot_size;           /* sizeof(struct cl_lagstore_slot) */
    uint32_t npoints;             /* CL_LAGSTORE_POINTS */
    char boot_id[CL_LAGSTORE_BOOT_SIZE]; /* boot the file was reset in */
    _Atomic uint64_t clock;       /* records made since the reset */
    uint8_t pad[CL_LAGSTORE_HDR_SIZE - 80];
};

#define CL_LAGSTORE_SIZE                                                      \
    ((CL_LAGSTORE_HDR_SIZE +                                                  \
      CL_LAGSTORE_SLOTS * sizeof(struct cl_lagstore_slot) + 4095) &           \
     ~(size_t)4095)

struct cl_lagstore; /* one per user (consumer, describe call) */

/*
 * Open <dirfd>/lag.history (dirfd: the group directory; reldir
 * "groups/<group>" names it in messages) and map it MAP_SHARED.  create:
 * create it (mode fmode) and grow it to CL_LAGSTORE_SIZE if needed - what
 * a writer does; 0: open an existing file only (CRAWLLOG_ENOENT if there
 * is none or it is shorter than CL_LAGSTORE_SIZE), for read-only users.
 * Reads the kernel boot id once.  Failpoint sites "lagstore.*".
 */
int cl_lagstore_open(struct cl_lagstore **sp, int dirfd, const char *reldir,
                     int create, unsigned fmode, struct cl_err *err);
void cl_lagstore_close(struct cl_lagstore *s); /* accepts NULL */

/*
 * With the group's lock held (cl_group_lock: writers exclude each other
 * through it, in every process): add the commit of offset at ts_ms (wall
 * clock, ms) to (topic, partition)'s window, with lag = head - offset
 * clamped to >= 0 (head: the partition's log end when committed; head < 0:
 * not known, stored as CL_LAG_UNKNOWN).  Merging and dropping follow
 * cl_lag_window_add with the default parameters (a commit older than the
 * newest point replaces it; at most CL_LAGSTORE_POINTS kept).  A store
 * that is not valid for this boot is reset first.  A new key takes a free
 * slot; when none is left, the slot updated least recently is evicted
 * (its history is lost).  No system call.  0, or CRAWLLOG_EINVAL (topic
 * NULL, empty or longer than 255 bytes; nothing stored).
 */
int cl_lagstore_record(struct cl_lagstore *s, const char *topic,
                       int32_t partition, int64_t offset, int64_t ts_ms,
                       int64_t head);

/*
 * (topic, partition)'s window into *out (always initialised; points
 * oldest first; use it with cl_lag_evaluate and default parameters): 1 if
 * found, 0 if not (never recorded, evicted, store reset or not valid for
 * this boot).  Needs no lock: a seqlock per slot makes the copy
 * consistent, retried while a writer is mid-update; a slot that stays
 * mid-update (its writer died; the next writer repairs it) reads as not
 * found.  Races with a whole-store reset (once per boot) or an eviction
 * may also give "not found": only monitoring is affected, never commits.
 * Holding the group lock gives an exact answer.  No system call.
 */
int cl_lagstore_lookup(struct cl_lagstore *s, const char *topic,
                       int32_t partition, struct cl_lag_window *out);

/*
 * With the group's lock held: forget (topic, partition)'s window - its
 * committed offset was set by an operator (crawllog_group_set_offsets), so
 * the old points no longer describe the consumer (a reset below them would
 * read as REWIND).  The slot keeps its key, with no point (slots are freed
 * only by a reset of the whole table, so probes stay correct): lookups
 * find an empty window, NOTFOUND, until the next record.  Nothing to do if
 * the key is not stored or the store is not valid for this boot.  No
 * system call.
 */
void cl_lagstore_forget(struct cl_lagstore *s, const char *topic,
                        int32_t partition);

#endif /* CL_LAGSTORE_H */
