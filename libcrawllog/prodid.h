/*
 * prodid.h - producer identities: the numeric producer id and epoch of an
 * idempotent producer, and the registry of named ones (layer 2).
 * See prodid.c.
 */
#ifndef CL_PRODID_H
#define CL_PRODID_H

#include <stdatomic.h>
#include <stdint.h>

#include "errors.h"

#define CL_PRODID_DIR "producers"
#define CL_PRODID_FILE_SIZE 4096
#define CL_PRODID_SLOT_SIZE 40
#define CL_PRODID_MAGIC "CLPRODID"
#define CL_PRODID_VERSION 1
#define CL_PRODID_LIVE_OFF 1024

struct cl_prodid {
    int64_t pid;                   /* producerId written into batches */
    int16_t epoch;                 /* producerEpoch: instance & 0x7fff */
    uint32_t instance;             /* instances of the name so far */
    int fd;                        /* producers/<name>, -1: anonymous */
    void *map;                     /* its mapping (CL_PRODID_FILE_SIZE) */
    const _Atomic uint32_t *live;  /* newest instance (NULL: anonymous) */
};

/* Become the newest instance of producer name below the data directory
 * rootfd ("" or NULL: a fresh anonymous id, nothing on disk).  The
 * instance count is durable before this returns; the previous instance
 * sees *live change and is fenced. */
int cl_prodid_acquire(struct cl_prodid *id, int rootfd, const char *name,
                      unsigned dmode, unsigned fmode, struct cl_err *err);

void cl_prodid_release(struct cl_prodid *id);

/* Remove the registry temp files of dead processes (producers/~tmp.*),
 * under the producers/ lock; nothing to do if there is no producers/.
 * Called by crawllog_open (best effort), so a crash's leftover does not
 * wait for the next named producer (crawllog_verify reports leftovers). */
int cl_prodid_cleanup(int rootfd, struct cl_err *err);

/* Encode / decode one registry slot (exposed for tests and verify).
 * decode: 0, or CRAWLLOG_ECORRUPT (also an all-zero slot: *emptyp = 1). */
void cl_prodid_slot_encode(uint8_t *out, uint64_t instance, int64_t pid);
int cl_prodid_slot_decode(const uint8_t *in, uint64_t *instancep,
                          int64_t *pidp, int *emptyp);

#endif /* CL_PRODID_H */
