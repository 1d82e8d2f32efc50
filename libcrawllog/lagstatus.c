/*
 * lagstatus.c - consumer-lag status of a partition and of a group, by
 * Burrow's evaluation rules (layer 3, pure).
 *
 * Sources: kafka-reference.md 6.4 "Lag monitoring tools"; Burrow
 * (linkedin/Burrow) core/internal/evaluator/caching.go (the rules),
 * core/internal/storage/inmemory.go (the window, min-distance merging),
 * the wiki page "Consumer Lag Evaluation Rules", issue #714 / PR #716
 * (REWIND unless recovered, checked ahead of the zero-lag rule), PR #338
 * (the STOP exception from recent broker offsets).  The rules are stated
 * in lagstatus.h (cl_lag_evaluate); what follows is how the gaps between
 * the sources were filled.
 *
 *  - Order of the rules: current lag within allowed_lag -> OK; STOP; REWIND;
 *    then STALL and WARN only when no stored lag is within allowed_lag.
 *    This is Burrow after PR #716 (STOP first since #290, as the commit
 *    history may be old; REWIND ahead of the zero-lag rule since #716).
 *  - REWIND: every decrease in the window is checked (kafka-reference.md
 *    6.4: "some commit offset is lower than the one before it, and no later
 *    commit has recovered to the pre-rewind offset").  PR #716 looks at the
 *    first decrease only, so a second, unrecovered rewind after a recovered
 *    one is REWIND here and not in Burrow.  "Recovered" is >= (issue #714:
 *    back at 30 after 30 -> 20 is recovered).
 *  - Lags not known when committed (CL_LAG_UNKNOWN, Burrow's nil Lag) are
 *    skipped by the "lag never within allowed_lag" and "lag never
 *    decreases" rules, as in Burrow; a window with no known lag therefore
 *    reaches STALL / WARN on its offsets alone.
 *  - The stored window lags compare with allowed_lag as the current lag
 *    does: a lag equal to allowed_lag counts as caught up.
 *  - Empty window: NOTFOUND (Burrow has no partition entry before the first
 *    commit).  Incomplete window (filled fraction below min_complete): OK,
 *    as Burrow; with the default min_complete 0 the rules always run, even
 *    on one point (whose span is 0, so any later `now` makes it STOP unless
 *    the consumer was caught up recently or the current lag is allowed).
 *  - Clock going backwards: a commit older than the newest stored one is
 *    merged into it (Burrow's min-distance test, a negative distance being
 *    below any min-distance), keeping the stored time, so the window's
 *    times never decrease.  A `now` before the newest commit never makes
 *    STOP.  Time differences saturate instead of overflowing.
 *  - Group: NOTFOUND partitions are skipped, and a group with none else is
 *    NOTFOUND (Burrow starts a found group at OK).
 *
 * Owns nothing on disk.
 * Invariants of a window (kept by cl_lag_window_add from a zeroed or
 * cl_lag_window_init'ed struct): n <= CL_LAG_INTERVALS_MAX, head <
 * CL_LAG_INTERVALS_MAX, ts_ms non-decreasing from oldest to newest, lag
 * >= 0 or CL_LAG_UNKNOWN.  The readers do not rely on them to stay in
 * bounds (n and head are reduced into range).
 * Locks: none; a window is a value, its owner serializes access to it.
 */
#include <math.h>
#include <string.h>

#include "lagstatus.h"

#define CAP ((uint32_t)CL_LAG_INTERVALS_MAX)

/* Effective parameters: p (or the defaults) with out-of-range values
 * replaced as lagstatus.h says. */
struct eff {
    uint32_t intervals;
    int64_t min_distance_ms;
    int64_t allowed_lag;
    double min_complete;
};

static struct eff eff_params(const struct cl_lag_params *p)
{
    struct cl_lag_params d;
    if (p == NULL) {
        cl_lag_params_default(&d);
        p = &d;
    }
    struct eff e;
    if (p->intervals < 1) {
        e.intervals = CL_LAG_INTERVALS_DEFAULT;
    } else if ((unsigned)p->intervals > CAP) {
        e.intervals = CAP;
    } else {
        e.intervals = (uint32_t)p->intervals;
    }
    e.min_distance_ms = p->min_distance_ms < 0 ? 0 : p->min_distance_ms;
    e.allowed_lag = p->allowed_lag < 0 ? 0 : p->allowed_lag;
    e.min_complete = p->min_complete;
    if (isnan(e.min_complete) || e.min_complete < 0.0) {
        e.min_complete = 0.0;
    } else if (e.min_complete > 1.0) {
        e.min_complete = 1.0;
    }
    return e;
}

/* a - b, saturated to the int64_t range. */
static int64_t sat_sub(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b) {
        return INT64_MAX;
    }
    if (b > 0 && a < INT64_MIN + b) {
        return INT64_MIN;
    }
    return a - b;
}

static uint32_t win_len(const struct cl_lag_window *w)
{
    return w->n > CAP ? CAP : w->n;
}

/* Slot of point i (0 = oldest). */
static uint32_t win_slot(const struct cl_lag_window *w, uint32_t i)
{
    return (w->head % CAP + i) % CAP;
}

void cl_lag_params_default(struct cl_lag_params *p)
{
    p->intervals = CL_LAG_INTERVALS_DEFAULT;
    p->min_distance_ms = 0;
    p->allowed_lag = 0;
    p->min_complete = 0.0;
}

void cl_lag_window_init(struct cl_lag_window *w)
{
    memset(w, 0, sizeof(*w));
}

size_t cl_lag_window_len(const struct cl_lag_window *w)
{
    return win_len(w);
}

const struct cl_lag_point *cl_lag_window_at(const struct cl_lag_window *w,
                                            size_t i)
{
    if (i >= win_len(w)) {
        return NULL;
    }
    return &w->p[win_slot(w, (uint32_t)i)];
}

void cl_lag_window_add(struct cl_lag_window *w, const struct cl_lag_params *p,
                       struct cl_lag_point pt)
{
    struct eff e = eff_params(p);
    uint32_t n = win_len(w);

    w->head %= CAP;
    w->n = n;
    if (pt.lag < 0) {
        pt.lag = CL_LAG_UNKNOWN;
    }
    if (n > 0) {
        struct cl_lag_point *last = &w->p[win_slot(w, n - 1)];
        /* min_distance_ms >= 0, so an older pt always merges. */
        if (sat_sub(pt.ts_ms, last->ts_ms) < e.min_distance_ms) {
            /* Merge into the newest point; it keeps its time (otherwise a
             * consumer committing more often than min_distance would never
             * open a new slot). */
            last->offset = pt.offset;
            last->lag = pt.lag;
            return;
        }
    }
    /* Make room for one: keep at most intervals - 1. */
    while (n >= e.intervals) {
        w->head = (w->head + 1) % CAP;
        n--;
    }
    w->p[win_slot(w, n)] = pt;
    w->n = n + 1;
}

double cl_lag_window_complete(const struct cl_lag_window *w,
                              const struct cl_lag_params *p)
{
    struct eff e = eff_params(p);
    uint32_t n = win_len(w);
    if (n > e.intervals) {
        n = e.intervals;
    }
    return (double)n / (double)e.intervals;
}

/* The rules on pts[0..k-1] (oldest first, k >= 1). */
static int rules(const struct cl_lag_point *const *pts, uint32_t k,
                 const struct eff *e, int64_t now_ms, int64_t current_lag,
                 int64_t recent_min_head)
{
    const struct cl_lag_point *first = pts[0], *last = pts[k - 1];

    if (current_lag <= e->allowed_lag) {
        return CL_LAG_OK;
    }

    /* STOP: silent for longer than the window spans, and the log end was
     * not at (or below) the last commit recently. */
    if (sat_sub(now_ms, last->ts_ms) > sat_sub(last->ts_ms, first->ts_ms) &&
        !(recent_min_head <= last->offset)) {
        return CL_LAG_STOP;
    }

    /* REWIND: a decrease at i (offset[i] < offset[i-1]) is recovered when
     * some later offset is >= offset[i-1]; walk from the newest point
     * keeping the largest offset at or after i.  (Over all decreases this
     * comes to: some decrease starts above the newest offset.) */
    int64_t later_max = last->offset;
    for (uint32_t i = k - 1; i >= 1; i--) {
        if (pts[i]->offset > later_max) {
            later_max = pts[i]->offset;
        }
        if (pts[i]->offset < pts[i - 1]->offset &&
            later_max < pts[i - 1]->offset) {
            return CL_LAG_REWIND;
        }
    }

    /* STALL / WARN only if no known stored lag is within allowed_lag. */
    for (uint32_t i = 0; i < k; i++) {
        if (pts[i]->lag >= 0 && pts[i]->lag <= e->allowed_lag) {
            return CL_LAG_OK;
        }
    }
    int same = 1;
    for (uint32_t i = 1; i < k && same; i++) {
        same = pts[i]->offset == first->offset;
    }
    if (same) {
        return CL_LAG_STALL;
    }
    int64_t prev = CL_LAG_UNKNOWN;
    for (uint32_t i = 0; i < k; i++) {
        if (pts[i]->lag < 0) {
            continue;
        }
        if (prev >= 0 && pts[i]->lag < prev) {
            return CL_LAG_OK;
        }
        prev = pts[i]->lag;
    }
    return CL_LAG_WARN;
}

int cl_lag_evaluate(const struct cl_lag_window *w,
                    const struct cl_lag_params *p, int64_t now_ms,
                    int64_t current_lag, int64_t recent_min_head)
{
    if (w == NULL || win_len(w) == 0) {
        return CL_LAG_NOTFOUND;
    }
    struct eff e = eff_params(p);
    uint32_t n = win_len(w);
    uint32_t k = n < e.intervals ? n : e.intervals;

    if (k == 0) {
        return CL_LAG_NOTFOUND; /* not reached: n >= 1, intervals >= 1 */
    }
    if ((double)k / (double)e.intervals < e.min_complete) {
        return CL_LAG_OK;
    }
    const struct cl_lag_point *pts[CL_LAG_INTERVALS_MAX];
    for (uint32_t i = 0; i < k; i++) {
        pts[i] = &w->p[win_slot(w, n - k + i)];
    }
    return rules(pts, k, &e, now_ms, current_lag, recent_min_head);
}

int cl_lag_group_status(const int *st, size_t n)
{
    int worst = CL_LAG_NOTFOUND;
    for (size_t i = 0; i < n; i++) {
        int s = st[i];
        if (s == CL_LAG_NOTFOUND) {
            continue;
        }
        if (s < CL_LAG_OK || s > CL_LAG_ERR) {
            s = CL_LAG_ERR; /* STOP, STALL, REWIND, or not a status */
        }
        if (s > worst) {
            worst = s;
        }
    }
    return worst;
}

const char *cl_lag_status_name(int st)
{
    static const char *const names[] = {"NOTFOUND", "OK",    "WARN",  "ERR",
                                        "STOP",     "STALL", "REWIND"};
    if (st < 0 || st >= (int)(sizeof(names) / sizeof(names[0]))) {
        return "UNKNOWN";
    }
    return names[st];
}
