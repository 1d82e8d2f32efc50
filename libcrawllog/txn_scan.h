/*
 * txn_scan.h - the fate finder of transactional batches for readers in
 * read_committed mode and for a migration's copy (layer 2).  See
 * txn_scan.c.
 */
#ifndef CL_TXN_SCAN_H
#define CL_TXN_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct cl_partition;
struct cl_txn_scan;

/* Fates (the first two are the marker types of control.h). */
#define CL_TXN_FATE_ABORT 0  /* == CL_CONTROL_ABORT */
#define CL_TXN_FATE_COMMIT 1 /* == CL_CONTROL_COMMIT */
#define CL_TXN_FATE_OPEN 2   /* no marker yet below the log end */

/* Most markers a scanner remembers (24 bytes each); see txn_scan.c. */
#define CL_TXN_SCAN_MAX_MARKERS 65536

#ifdef CRAWLLOG_TESTING
/* Tests lower it to reach the full-memory path (default the above). */
extern size_t cl_txn_scan_max_markers;
#endif

/* A scanner of part (which must outlive it).  CRAWLLOG_ENOMEM. */
int cl_txn_scan_new(struct cl_txn_scan **sp, struct cl_partition *part,
                    struct cl_err *err);

void cl_txn_scan_free(struct cl_txn_scan *s);

/*
 * The fate of a transactional data batch of producer pid whose last offset
 * is last: the type of the first control batch of pid at an offset > last
 * below the published log end, or CL_TXN_FATE_OPEN.  Callers ask in
 * ascending order of last (a reader); a smaller last than the previous
 * call costs a rescan from last + 1, never a wrong answer.  Markers at or
 * below last are forgotten.  Errors: CRAWLLOG_ECORRUPT (a control batch
 * with a bad CRC or layout, offsets not contiguous, a batch cut short),
 * CRAWLLOG_EOFFSET (last + 1 deleted by retention), CRAWLLOG_EIO,
 * CRAWLLOG_ENOMEM; *fatep is then unchanged and the scanner stays usable.
 */
int cl_txn_scan_fate(struct cl_txn_scan *s, int64_t pid, int64_t last,
                     int *fatep, struct cl_err *err);

/* File reads the scanner did so far (tests: incremental, not quadratic). */
uint64_t cl_txn_scan_reads(const struct cl_txn_scan *s);

/* Markers remembered now (tests: bounded memory). */
size_t cl_txn_scan_markers(const struct cl_txn_scan *s);

#endif /* CL_TXN_SCAN_H */
