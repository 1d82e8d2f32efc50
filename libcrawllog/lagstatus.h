/*
 * lagstatus.h - Burrow's consumer-lag evaluation rules (layer 3, pure).
 * See lagstatus.c for the rules, their sources and the choices made where
 * the sources leave a gap.  No I/O, no allocation, no locks: a window is a
 * plain value owned (and, if shared, locked) by the caller.
 *
 * Use: per (group, partition) keep one struct cl_lag_window (all-zero is
 * the empty window); for every commit of that partition call
 * cl_lag_window_add() with {offset, commit time, log end at that time -
 * offset}; to report, call cl_lag_evaluate() with the time now, the lag now
 * and the smallest log-end offset seen recently, then cl_lag_group_status()
 * over the group's partitions.
 */
#ifndef CL_LAGSTATUS_H
#define CL_LAGSTATUS_H

#include <stddef.h>
#include <stdint.h>

/* Partition / group status.  The numbers are Burrow's StatusConstant. */
enum cl_lag_status {
    CL_LAG_NOTFOUND = 0, /* no commit stored (partition) / none (group) */
    CL_LAG_OK = 1,
    CL_LAG_WARN = 2,     /* lag never within allowed_lag and never shrinks */
    CL_LAG_ERR = 3,      /* group only: some partition is STOP/STALL/REWIND */
    CL_LAG_STOP = 4,     /* commits stopped for longer than the window spans */
    CL_LAG_STALL = 5,    /* committing, but always the same offset, lagging */
    CL_LAG_REWIND = 6    /* offset went back and has not come back since */
};

/* Slots of a window's storage: the largest usable `intervals`. */
#define CL_LAG_INTERVALS_MAX 32
/* Burrow's defaults (storage "intervals" 10; "min-distance", evaluator
 * "allowed-lag" and "minimum-complete" read with no default set: 0). */
#define CL_LAG_INTERVALS_DEFAULT 10

/* cl_lag_point.lag of a commit made while the log end was not known
 * (Burrow's nil Lag): every negative lag given to cl_lag_window_add() is
 * stored as this, and the lag rules skip such points. */
#define CL_LAG_UNKNOWN ((int64_t)-1)
/* recent_min_head of cl_lag_evaluate() when no log end was seen recently. */
#define CL_LAG_HEAD_UNKNOWN INT64_MAX

/* One stored commit. */
struct cl_lag_point {
    int64_t offset; /* the committed offset */
    int64_t ts_ms;  /* when it was committed (ms, any epoch, one per window) */
    int64_t lag;    /* log end then - offset, clamped to >= 0;
                     * CL_LAG_UNKNOWN if the log end was not known */
};

/* The last `intervals` commits of one partition, a ring: point i (0 =
 * oldest) is p[(head + i) % CL_LAG_INTERVALS_MAX], i < n.  A zeroed struct
 * is the empty window.  Read it with cl_lag_window_at(). */
struct cl_lag_window {
    struct cl_lag_point p[CL_LAG_INTERVALS_MAX];
    uint32_t n;    /* points stored, <= CL_LAG_INTERVALS_MAX */
    uint32_t head; /* slot of the oldest point, < CL_LAG_INTERVALS_MAX */
};

struct cl_lag_params {
    int intervals;           /* window length in commits; < 1: the default
                              * (10), > CL_LAG_INTERVALS_MAX: the maximum */
    int64_t min_distance_ms; /* a commit less than this after the newest
                              * stored one replaces it (keeping the stored
                              * time); < 0 is taken as 0.  Default 0 */
    int64_t allowed_lag;     /* lag up to this counts as caught up; < 0 is
                              * taken as 0.  Default 0 */
    double min_complete;     /* fraction (0..1) of the `intervals` slots
                              * that must be filled before the rules run;
                              * below it the partition is OK.  NaN or < 0
                              * is taken as 0, > 1 as 1.  Default 0 */
};

/* Fill *p with the defaults above. */
void cl_lag_params_default(struct cl_lag_params *p);

/* Empty *w (the same as zeroing it). */
void cl_lag_window_init(struct cl_lag_window *w);

/*
 * Add the commit pt to w.  p NULL means the defaults.
 *  - If w holds a point and pt.ts_ms - newest.ts_ms < min_distance_ms
 *    (which includes a pt older than the newest, whatever min_distance_ms:
 *    a clock that went backwards), pt replaces the newest point's offset
 *    and lag and the newest point keeps its time (Burrow's
 *    mergeFrequentCommitIntoPrevious).  Stored times therefore never
 *    decrease from oldest to newest.
 *  - Otherwise pt is appended; if w already holds `intervals` points (or
 *    more, after `intervals` was lowered), the oldest are dropped so that
 *    it then holds `intervals`.
 * A negative pt.lag is stored as CL_LAG_UNKNOWN.
 */
void cl_lag_window_add(struct cl_lag_window *w, const struct cl_lag_params *p,
                       struct cl_lag_point pt);

/* Points stored in w (0 .. CL_LAG_INTERVALS_MAX). */
size_t cl_lag_window_len(const struct cl_lag_window *w);

/* Point i of w, 0 = oldest; NULL if i >= cl_lag_window_len(w). */
const struct cl_lag_point *cl_lag_window_at(const struct cl_lag_window *w,
                                            size_t i);

/* Burrow's per-partition "complete": the fraction of the `intervals` slots
 * filled, min(len, intervals) / intervals, in 0..1.  p NULL: defaults. */
double cl_lag_window_complete(const struct cl_lag_window *w,
                              const struct cl_lag_params *p);

/*
 * Status of one partition (a CL_LAG_* value, never CL_LAG_ERR).
 *   w               its window (only the newest `intervals` points count);
 *   p               NULL: defaults;
 *   now_ms          the time now, on the points' clock;
 *   current_lag     log end now - last committed offset (<= allowed_lag,
 *                   negative included: OK);
 *   recent_min_head the smallest log-end offset seen recently (Burrow keeps
 *                   the last `intervals` broker offsets), or
 *                   CL_LAG_HEAD_UNKNOWN.
 * In order (the first that applies):
 *   empty window -> NOTFOUND;
 *   filled fraction < min_complete -> OK;
 *   current_lag <= allowed_lag -> OK;
 *   now - newest.ts > newest.ts - oldest.ts, unless recent_min_head <=
 *     newest.offset -> STOP;
 *   a point's offset below the one before it, and no later point's
 *     offset back at (>=) that one -> REWIND;
 *   if every point with a known lag has lag > allowed_lag:
 *     all offsets equal -> STALL;
 *     no known lag below the previous known lag -> WARN;
 *   -> OK.
 * Differences of times saturate (no overflow for any int64_t input).
 */
int cl_lag_evaluate(const struct cl_lag_window *w,
                    const struct cl_lag_params *p, int64_t now_ms,
                    int64_t current_lag, int64_t recent_min_head);

/* Status of a group from its partitions' statuses (st[0..n-1]): the worst,
 * with STOP, STALL and REWIND counted as ERR (Burrow).  NOTFOUND entries
 * are skipped; n == 0 or all NOTFOUND -> NOTFOUND.  A value that is no
 * CL_LAG_* counts as ERR.  st may be NULL when n == 0. */
int cl_lag_group_status(const int *st, size_t n);

/* "NOTFOUND", "OK", "WARN", "ERR", "STOP", "STALL", "REWIND" (Burrow's
 * strings); "UNKNOWN" for any other value. */
const char *cl_lag_status_name(int st);

#endif /* CL_LAGSTATUS_H */
