/*
 * notify.h - wake-ups across threads and processes: doorbells (layer 2).
 * See notify.c.
 *
 * <data dir>/crawllog.notify holds CL_NOTIFY_SLOTS doorbells (32-bit futex
 * words, one per 64-byte line).  A waiter (a consumer) claims a free slot
 * for its lifetime: an OFD lock on byte `slot` of the file marks the slot
 * taken, and the kernel drops it when the process dies.  Before sleeping
 * the waiter registers its slot in the watch masks of what it waits for
 * (partitions: cl_pstate_watch; a group's state) and re-checks its
 * condition; a writer that changed something rings every registered slot
 * (bump the word, FUTEX_WAKE).  No fixed sleep-polling anywhere.
 *
 * Ordering (no lost wake-up):
 *   waiter: seen = cl_notify_seq(n, slot);
 *           cl_watch_add(w, slot);          (ends with a seq_cst fence)
 *           if (condition) { cl_watch_remove(w, slot); done; }
 *           cl_notify_wait(n, slot, seen, timeout); cl_watch_remove(...);
 *           loop (a return from wait proves nothing: re-check).
 *   writer: publish the change (any atomic store, release is enough);
 *           cl_watch_ring(n, w)             (starts with a seq_cst fence,
 *                                            then loads nwait).
 * The two fences make it a Dekker pair: either the writer sees the
 * registration (and rings after the waiter read seen, so the futex word no
 * longer equals seen), or the waiter's re-check sees the change.
 */
#ifndef CL_NOTIFY_H
#define CL_NOTIFY_H

#include <stdatomic.h>
#include <stdint.h>

#include "errors.h"

#define CL_NOTIFY_NAME "crawllog.notify"
#define CL_NOTIFY_SLOTS 1024
#define CL_NOTIFY_WORDS (CL_NOTIFY_SLOTS / 64)
#define CL_NOTIFY_LINE 64 /* bytes per doorbell */
#define CL_NOTIFY_SIZE (CL_NOTIFY_SLOTS * CL_NOTIFY_LINE)

struct cl_notify; /* one per crawllog_t: the mapped doorbell file */

/* A set of waiting slots, embedded in a shared mapping (partition.state,
 * a group's state): a count of registered waiters (so a writer with no
 * waiter pays one fence and one atomic load) and one bit per slot.  All
 * zero: nobody waits.  nwait >= the number of set bits at all times (a
 * process killed inside add or remove can leave it one too high, never too
 * low), so nwait == 0 really means "no bit set". */
struct cl_watch {
    _Atomic uint32_t nwait;
    uint32_t pad;
    _Atomic uint64_t mask[CL_NOTIFY_WORDS];
};

/* Open (create, grow to CL_NOTIFY_SIZE) and map <rootfd>/crawllog.notify;
 * rootfd must stay open until cl_notify_close (claims reopen the file). */
int cl_notify_open(struct cl_notify **np, int rootfd, unsigned fmode,
                   struct cl_err *err);
/* Releases every slot still claimed; accepts NULL. */
void cl_notify_close(struct cl_notify *n);

/* Claim a free slot for a waiter (its own open file description of the
 * doorbell file holds the lock, so threads of one process get distinct
 * slots).  The lowest free slot is taken, so the slots of dead processes
 * are reused first.  CRAWLLOG_EBUSY when all CL_NOTIFY_SLOTS are taken.
 * After fork() the child shares the claims it inherited (do not release
 * them there); its own claims are its own. */
int cl_notify_claim(struct cl_notify *n, int *slotp, struct cl_err *err);
/* Release a claimed slot; remove it from every watch first. */
void cl_notify_release(struct cl_notify *n, int slot);

/* The doorbell's current value: read it BEFORE registering / checking the
 * condition. */
uint32_t cl_notify_seq(struct cl_notify *n, int slot);

/* Sleep until the doorbell moves away from seen, or timeout_ns (< 0:
 * none).  Spurious returns are allowed; callers re-check. */
void cl_notify_wait(struct cl_notify *n, int slot, uint32_t seen,
                    int64_t timeout_ns);

/* Ring one slot (bump + wake). */
void cl_notify_ring(struct cl_notify *n, int slot);

/* Register / unregister slot in w.  Both are idempotent: adding a slot
 * whose bit is already set (a dead former owner's registration) and
 * removing one that is not set leave nwait unchanged. */
void cl_watch_add(struct cl_watch *w, int slot);
void cl_watch_remove(struct cl_watch *w, int slot);

/* Ring every slot registered in w (after publishing the change).  n NULL:
 * nothing. */
void cl_watch_ring(struct cl_notify *n, struct cl_watch *w);

/* Remove from w the registrations of slots nobody holds (waiters that died
 * registered), so that writers stop ringing them.  Each stale slot is
 * locked while its bit is cleared, so a live claimer cannot be removed.
 * Best effort (errors are ignored); cheap when w is empty. */
void cl_watch_sweep(struct cl_notify *n, struct cl_watch *w);

#endif /* CL_NOTIFY_H */
