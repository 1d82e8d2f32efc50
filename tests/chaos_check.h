/*
 * chaos_check.h - the Jepsen-style checker of test_chaos.c (reliability
 * plan T6, reliability.md §4.7): journals of producers, consumers and the
 * driver, plus the drained log, in; violations per kind out; and the
 * journal and payload helpers the children use.  Header-only (static
 * inline), included by test_chaos.c only (split out to keep each file
 * under 1000 lines).
 *
 * Journals (one write(2) per line on O_APPEND; a line cut by SIGKILL -
 * a last line without its newline, or one the next opener ended with
 * "#TORN" - is skipped and counted as torn), times are CLOCK_MONOTONIC ns:
 *   producers  START P slot inc pid t | SEND id n p seq big |
 *              RETRY id n p seq big | ACK id p off | ERR id code definite
 *   consumers  START C g slot inc pid t | ASSIGN g p gen committed t |
 *              REVOKE g p t | LOST g p t | POLL g id p off gen t |
 *              COMMIT g p off gen t | CFAIL g p off code t
 *   driver     KILL g slot inc t (before a consumer's SIGKILL) |
 *              COMMIT g p off -1 t (committed offsets carried from the
 *              previous round)
 * Violations, counted per kind (the first 5 of each printed):
 *  lost               an acked id is not in the drained log;
 *  inconsistent       ACK, POLL and drain disagree on what (p, off)
 *                     holds; a payload that is not its id's; the earlier
 *                     rounds' log changed;
 *  duplicate          an id at two offsets, unless it was re-sent without
 *                     its sequence (RETRY with seq -1);
 *  aborted-read       an id that failed definitely, or was never sent, is
 *                     visible (drain or poll);
 *  nonmonotonic-poll  one session polls an offset of a partition at or
 *                     below one it polled before (no failed commit since);
 *  poll-skip          an assignment epoch does not start at the committed
 *                     offset read at ASSIGN, or skips an offset;
 *  group-duplicate    a delivery below a commit of the group logged before
 *                     it (outside the at-least-once window);
 *  commit-regression  a commit, or the committed offset a new owner starts
 *                     from, below a commit logged before it;
 *  double-owner       two sessions' ownership intervals of (g, p) overlap
 *                     (from the ASSIGN line, written after acquisition, to
 *                     the REVOKE line, written before release, or to the
 *                     driver's KILL line); a poll or an accepted commit of
 *                     a partition the session does not own;
 *  liveness           an acked id not polled by each group at quiesce.
 * Why log times can be compared across processes: a COMMIT line is
 * written after the commit returned and a POLL line after the poll
 * returned, by the process that made the call; a new owner acquires only
 * after the old one's REVOKE line or its death (after the KILL line).
 * Ids are checked per round (between two quiesces): the round's journals
 * and its drain are fed; the drain of the earlier rounds is kept (prev)
 * and must not change.
 */
#ifndef CL_TEST_CHAOS_CHECK_H
#define CL_TEST_CHAOS_CHECK_H

#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NPART 4      /* partitions of the topic */
#define NGROUP 2     /* consumer groups */
#define NSHOW 5      /* violations printed per kind */
#define BIG_LEN 9000 /* the value of a record that is too big */

static const char *const GNAME[NGROUP] = {"g1", "g2"};

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* ---------------------------------------------------------------------- */
/* Journals and payloads                                                   */
/* ---------------------------------------------------------------------- */
static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void jline(int fd, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* One line, one write(2): whole, or cut at most (then skipped). */
static inline void jline(int fd, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cl_test_check(len > 0 && (size_t)len < sizeof(buf));
    ssize_t w;
    do {
        w = write(fd, buf, (size_t)len);
    } while (w < 0 && errno == EINTR);
    cl_test_checkf(w == len, "journal write: %s", strerror(errno));
}

/* Open a journal for appending; a line cut by an earlier SIGKILL is ended
 * first and marked, so that it stays one line, which is skipped. */
static inline int jopen(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0600);
    cl_test_checkf(fd >= 0, "open %s: %s", path, strerror(errno));
    off_t end = lseek(fd, 0, SEEK_END);
    char c = '\n';
    if (end > 0 && pread(fd, &c, 1, end - 1) == 1 && c != '\n') {
        jline(fd, "#TORN\n"); /* the checker skips the line */
    }
    return fd;
}

/* The value of id: "<16 hex>:" and a filler made from the id. */
static inline size_t payload(uint64_t id, int big, char *buf, size_t size)
{
    size_t len = big ? BIG_LEN : 40 + (size_t)(mix(id) % 260);
    cl_test_check(len < size);
    snprintf(buf, size, "%016" PRIx64 ":", id);
    for (size_t i = 17; i < len; i++) {
        buf[i] = (char)('a' + (mix(id) + i * 7) % 26);
    }
    return len;
}

/* The id of a value, 0 if it is not exactly payload(id). */
static inline uint64_t payload_id(const void *v, size_t len)
{
    char buf[BIG_LEN + 32], hex[17];
    if (v == NULL || len < 17 || len > BIG_LEN) {
        return 0;
    }
    memcpy(hex, v, 16);
    hex[16] = '\0';
    uint64_t id = strtoull(hex, NULL, 16);
    size_t want = payload(id, len == BIG_LEN, buf, sizeof(buf));
    return want == len && memcmp(buf, v, len) == 0 ? id : 0;
}

/* ---------------------------------------------------------------------- */
/* Checker                                                                 */
/* ---------------------------------------------------------------------- */

enum {
    V_LOST,
    V_INCONS,
    V_DUP,
    V_ABORTED,
    V_NONMONO,
    V_SKIP,
    V_GDUP,
    V_REGRESS,
    V_DOUBLE,
    V_LIVE,
    V_N
};
static const char *const VNAME[V_N] = {"lost",
                                       "inconsistent",
                                       "duplicate",
                                       "aborted-read",
                                       "nonmonotonic-poll",
                                       "poll-skip",
                                       "group-duplicate",
                                       "commit-regression",
                                       "double-owner",
                                       "liveness"};

#define F_USED 1u
#define F_SENT 2u
#define F_ACKED 4u
#define F_ERRDEF 8u
#define F_RETRIED 16u

struct idi {
    uint64_t id;
    int64_t ack_off, dr_off;
    int32_t ack_p, dr_p;
    uint32_t flags, ndrain, polled; /* polled: bit per group */
    uint32_t nnew; /* copies past the previous rounds' log end */
};

enum { E_POLL, E_ASSIGN, E_COMMIT };
struct ev {
    int64_t t, off;
    uint64_t id;
    int32_t g, p, kind, sess;
};

struct own {
    int64_t a, e;
    int32_t g, p, sess;
};

struct sess {
    int g, slot, inc;
    int64_t kill;
};

struct vec { /* a growable array */
    void *v;
    size_t n, cap;
};

struct chk {
    struct idi *tab;
    size_t cap, nid;
    struct vec ev, own, ss;
    struct vec dr[NPART], prev[NPART]; /* uint64_t ids by offset */
    size_t v[V_N];
    size_t acked, polls, commits, torn, redeliv, cfails;
    /* ids re-sent, written twice by a plain re-send, failed definitely,
     * unanswered (ambiguous) and then visible / not visible */
    size_t retried, dup_ok, failed, amb_in, amb_out;
};

static inline void *vpush(struct vec *a, size_t elem)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        void *p = realloc(a->v, a->cap * elem);
        assert_non_null(p);
        a->v = p;
    }
    void *slot = (char *)a->v + a->n++ * elem;
    memset(slot, 0, elem);
    return slot;
}

#define VAT(a, T, i) (((T *)(a).v)[i])

static inline void viol(struct chk *ck, int kind, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static inline void viol(struct chk *ck, int kind, const char *fmt, ...)
{
    if (ck->v[kind]++ < NSHOW) {
        char buf[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        fprintf(stderr, "chaos: VIOLATION %s: %s\n", VNAME[kind], buf);
    }
}

static inline struct idi *idget(struct chk *ck, uint64_t id)
{
    if (2 * (ck->nid + 1) > ck->cap) {
        struct idi *old = ck->tab;
        size_t ocap = ck->cap;
        ck->cap = ocap ? ocap * 2 : 4096;
        ck->tab = calloc(ck->cap, sizeof(*ck->tab));
        assert_non_null(ck->tab);
        ck->nid = 0;
        for (size_t i = 0; i < ocap; i++) {
            if (old[i].flags & F_USED) {
                *idget(ck, old[i].id) = old[i];
            }
        }
        free(old);
    }
    size_t i = (size_t)mix(id) & (ck->cap - 1);
    while ((ck->tab[i].flags & F_USED) && ck->tab[i].id != id) {
        i = (i + 1) & (ck->cap - 1);
    }
    if (!(ck->tab[i].flags & F_USED)) {
        ck->tab[i] = (struct idi){id, -1, -1, -1, -1, F_USED, 0, 0, 0};
        ck->nid++;
    }
    return &ck->tab[i];
}

static inline int sess_get(struct chk *ck, int g, int slot, int inc)
{
    for (size_t i = 0; i < ck->ss.n; i++) {
        struct sess *s = &VAT(ck->ss, struct sess, i);
        if (s->g == g && s->slot == slot && s->inc == inc) {
            return (int)i;
        }
    }
    struct sess *s = vpush(&ck->ss, sizeof(*s));
    *s = (struct sess){g, slot, inc, INT64_MAX};
    return (int)(ck->ss.n - 1);
}

static inline void push_ev(struct chk *ck, int kind, int g, int p, int64_t off,
                           uint64_t id, int64_t t, int sess)
{
    struct ev *e = vpush(&ck->ev, sizeof(*e));
    *e = (struct ev){t, off, id, g, p, kind, sess};
}

/* Per-journal parsing state of one consumer session. */
struct cur {
    int sess;
    int64_t last[NPART], expect[NPART];
    long own[NPART]; /* index into ck->own, -1 if not owned */
};

static inline void cur_end(struct chk *ck, struct cur *c)
{
    for (int p = 0; p < NPART; p++) {
        if (c->own[p] >= 0) {
            VAT(ck->own, struct own, c->own[p]).e =
                c->sess >= 0 ? VAT(ck->ss, struct sess, c->sess).kill
                             : INT64_MAX;
        }
        c->own[p] = -1;
        c->last[p] = c->expect[p] = -1;
    }
}

static inline int okp(int g, int p)
{
    return g >= 0 && g < NGROUP && p >= 0 && p < NPART;
}

/* One line of a journal (driver: 1 for the driver's file). */
static inline void chk_line(struct chk *ck, struct cur *c, char *l, int driver)
{
    char k[8];
    uint64_t id;
    int g = 0, p = 0, n = 0, seq = 0, big = 0, slot = 0, inc = 0, def = 0;
    int gen = 0;
    int64_t off = 0, t = 0, cm = 0;
    char code[40];
    if (sscanf(l, "%7s", k) != 1 || strstr(l, "#TORN") != NULL) {
        ck->torn++; /* cut by a SIGKILL, then ended by the next opener */
        return;
    }
    if (strcmp(k, "START") == 0 && l[6] == 'C' &&
        sscanf(l, "START C %d %d %d %*d %" SCNd64, &g, &slot, &inc, &t) == 4) {
        cur_end(ck, c);
        c->sess = sess_get(ck, g, slot, inc);
    } else if (strcmp(k, "START") == 0 && l[6] == 'P') {
    } else if ((strcmp(k, "SEND") == 0 || strcmp(k, "RETRY") == 0) &&
               sscanf(l, "%*s %" SCNx64 " %d %d %d %d", &id, &n, &p, &seq,
                      &big) == 5) {
        for (int i = 0; i < n; i++) {
            /* a re-send with its sequence must not be written twice */
            idget(ck, id + (uint64_t)i)->flags |=
                F_SENT | (k[0] == 'R' && seq < 0 ? F_RETRIED : 0);
        }
    } else if (strcmp(k, "ACK") == 0 &&
               sscanf(l, "ACK %" SCNx64 " %d %" SCNd64, &id, &p, &off) == 3) {
        struct idi *d = idget(ck, id);
        ck->acked += !(d->flags & F_ACKED);
        d->flags |= F_ACKED;
        d->ack_p = p;
        d->ack_off = off;
    } else if (strcmp(k, "ERR") == 0 &&
               sscanf(l, "ERR %" SCNx64 " %39s %d", &id, code, &def) == 3) {
        idget(ck, id)->flags |= def ? F_ERRDEF : 0;
    } else if (strcmp(k, "KILL") == 0 &&
               sscanf(l, "KILL %d %d %d %" SCNd64, &g, &slot, &inc, &t) == 4) {
        int si = sess_get(ck, g, slot, inc); /* may move ck->ss.v */
        VAT(ck->ss, struct sess, si).kill = t;
    } else if (strcmp(k, "ASSIGN") == 0 && !driver &&
               sscanf(l, "ASSIGN %d %d %d %" SCNd64 " %" SCNd64, &g, &p, &gen,
                      &cm, &t) == 5 &&
               okp(g, p)) {
        if (c->own[p] >= 0) {
            VAT(ck->own, struct own, c->own[p]).e = t;
        }
        struct own *o = vpush(&ck->own, sizeof(*o));
        *o = (struct own){t, INT64_MAX, g, p, c->sess};
        c->own[p] = (long)ck->own.n - 1;
        c->expect[p] = cm >= 0 ? cm : cm == -1 ? 0 : -1;
        if (cm >= -1) {
            push_ev(ck, E_ASSIGN, g, p, cm < 0 ? 0 : cm, 0, t, c->sess);
        }
    } else if ((strcmp(k, "REVOKE") == 0 || strcmp(k, "LOST") == 0) &&
               sscanf(l, "%*s %d %d %" SCNd64, &g, &p, &t) == 3 && okp(g, p)) {
        if (c->own[p] >= 0) {
            VAT(ck->own, struct own, c->own[p]).e = t;
        }
        c->own[p] = -1;
        c->expect[p] = -1;
    } else if (strcmp(k, "POLL") == 0 && !driver &&
               sscanf(l, "POLL %d %" SCNx64 " %d %" SCNd64 " %d %" SCNd64, &g,
                      &id, &p, &off, &gen, &t) == 6 &&
               okp(g, p)) {
        ck->polls++;
        if (off <= c->last[p]) {
            viol(ck, V_NONMONO,
                 "%s p%d: offset %" PRId64 " polled after %" PRId64
                 " in one session (%s)",
                 GNAME[g], p, off, c->last[p], l);
        }
        c->last[p] = off;
        if (c->own[p] < 0) {
            viol(ck, V_DOUBLE, "%s p%d: polled while not the owner (%s)",
                 GNAME[g], p, l);
        } else if (c->expect[p] >= 0 && off > c->expect[p]) {
            viol(ck, V_SKIP,
                 "%s p%d: offset %" PRId64 " polled, %" PRId64
                 " expected in this assignment (%s)",
                 GNAME[g], p, off, c->expect[p], l);
        }
        c->expect[p] = c->own[p] >= 0 ? off + 1 : -1;
        push_ev(ck, E_POLL, g, p, off, id, t, c->sess);
        struct idi *d = idget(ck, id);
        ck->redeliv += (d->polled >> g) & 1u;
        d->polled |= 1u << g;
    } else if (strcmp(k, "COMMIT") == 0 &&
               sscanf(l, "COMMIT %d %d %" SCNd64 " %d %" SCNd64, &g, &p, &off,
                      &gen, &t) == 5 &&
               okp(g, p)) {
        ck->commits += !driver;
        if (!driver && c->own[p] < 0) {
            viol(ck, V_DOUBLE, "%s p%d: commit accepted from a non-owner (%s)",
                 GNAME[g], p, l);
        }
        push_ev(ck, E_COMMIT, g, p, off, 0, t, driver ? -1 : c->sess);
    } else if (strcmp(k, "CFAIL") == 0 &&
               sscanf(l, "CFAIL %d %d", &g, &p) == 2 && okp(g, p)) {
        ck->cfails++;
        c->last[p] = c->expect[p] = -1; /* may be re-read */
    } else {
        ck->torn++;
    }
}

/* A whole journal (text, modified in place). */
static inline void chk_text(struct chk *ck, char *text, int driver)
{
    struct cur c = {-1, {0}, {0}, {0}};
    for (int p = 0; p < NPART; p++) {
        c.own[p] = -1;
        c.last[p] = c.expect[p] = -1;
    }
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] != '\n') { /* a last line cut by SIGKILL */
        char *nl = strrchr(text, '\n');
        *(nl != NULL ? nl + 1 : text) = '\0';
        ck->torn++;
    }
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        chk_line(ck, &c, l, driver);
    }
    cur_end(ck, &c);
}

/* One record of the drain: offset off of p holds id (0: bad payload). */
static inline void chk_drain(struct chk *ck, int p, int64_t off, uint64_t id)
{
    assert_int_equal((int64_t)ck->dr[p].n, off);
    *(uint64_t *)vpush(&ck->dr[p], sizeof(uint64_t)) = id;
    if (id == 0) {
        viol(ck, V_INCONS, "p%d@%" PRId64 ": payload does not match its id", p,
             off);
        return;
    }
    struct idi *d = idget(ck, id);
    if (d->ndrain++ == 0) {
        d->dr_p = p;
        d->dr_off = off;
    }
    d->nnew += (size_t)off >= ck->prev[p].n; /* earlier ones were checked */
}

static inline uint64_t drain_at(const struct chk *ck, int p, int64_t off)
{
    return p >= 0 && p < NPART && off >= 0 && (size_t)off < ck->dr[p].n
               ? VAT(ck->dr[p], uint64_t, off)
               : 0;
}

static inline int cmp_own(const void *a, const void *b)
{
    const struct own *x = a, *y = b;
    if (x->g != y->g || x->p != y->p) {
        return x->g != y->g ? x->g - y->g : x->p - y->p;
    }
    return x->a < y->a ? -1 : x->a > y->a;
}

static inline int cmp_ev(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->g != y->g || x->p != y->p) {
        return x->g != y->g ? x->g - y->g : x->p - y->p;
    }
    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    return x->kind - y->kind; /* polls first: lenient at equal times */
}

/* Everything after the journals and the drain were fed. */
static inline void chk_run(struct chk *ck, int liveness)
{
    for (int p = 0; p < NPART; p++) { /* the previous rounds' log stays */
        for (size_t o = 0; o < ck->prev[p].n; o++) {
            uint64_t was = VAT(ck->prev[p], uint64_t, o);
            if (drain_at(ck, p, (int64_t)o) != was) {
                viol(ck, o < ck->dr[p].n ? V_INCONS : V_LOST,
                     "p%d@%zu held %" PRIx64
                     " in the previous round, now %" PRIx64,
                     p, o, was, drain_at(ck, p, (int64_t)o));
            }
        }
    }
    for (size_t i = 0; i < ck->cap; i++) {
        const struct idi *d = &ck->tab[i];
        if (!(d->flags & F_USED)) {
            continue;
        }
        if ((d->flags & F_ACKED) && d->ndrain == 0) {
            viol(ck, V_LOST,
                 "id %" PRIx64 " acked at p%d@%" PRId64 ", not in the log",
                 d->id, d->ack_p, d->ack_off);
        } else if ((d->flags & F_ACKED) &&
                   drain_at(ck, d->ack_p, d->ack_off) != d->id) {
            viol(ck, V_INCONS,
                 "id %" PRIx64 " acked at p%d@%" PRId64 " which holds %" PRIx64,
                 d->id, d->ack_p, d->ack_off,
                 drain_at(ck, d->ack_p, d->ack_off));
        }
        ck->retried += (d->flags & F_RETRIED) != 0;
        ck->dup_ok += d->ndrain > 1 && d->nnew > 0 && (d->flags & F_RETRIED);
        ck->failed += (d->flags & F_ERRDEF) != 0;
        if ((d->flags & (F_SENT | F_ACKED | F_ERRDEF)) == F_SENT) {
            ck->amb_in += d->ndrain > 0;
            ck->amb_out += d->ndrain == 0;
        }
        if (d->ndrain > 1 && d->nnew > 0 && !(d->flags & F_RETRIED)) {
            viol(ck, V_DUP,
                 "id %" PRIx64 " at %u offsets, the first p%d@%" PRId64, d->id,
                 d->ndrain, d->dr_p, d->dr_off);
        }
        if ((d->flags & F_ERRDEF) && (d->ndrain > 0 || d->polled)) {
            viol(ck, V_ABORTED,
                 "id %" PRIx64 " failed definitely but is "
                 "visible (p%d@%" PRId64 ", polled by %u groups)",
                 d->id, d->dr_p, d->dr_off, d->polled);
        }
        if (!(d->flags & F_SENT) && d->ndrain > 0 &&
            (size_t)d->dr_off >= ck->prev[d->dr_p].n) {
            viol(ck, V_ABORTED,
                 "id %" PRIx64 " at p%d@%" PRId64 " was never sent", d->id,
                 d->dr_p, d->dr_off);
        }
        for (int g = 0; liveness && g < NGROUP; g++) {
            if ((d->flags & F_ACKED) && !((d->polled >> g) & 1u)) {
                viol(ck, V_LIVE,
                     "id %" PRIx64 " (p%d@%" PRId64 ") acked, "
                     "never polled by %s",
                     d->id, d->ack_p, d->ack_off, GNAME[g]);
            }
        }
    }
    struct own *ow = ck->own.v;
    if (ck->own.n > 0) { /* qsort(NULL, 0) is undefined */
        qsort(ow, ck->own.n, sizeof(*ow), cmp_own);
    }
    for (size_t i = 0, j = 0; i < ck->own.n; i++) {
        if (i > 0 && (ow[i].g != ow[j].g || ow[i].p != ow[j].p)) {
            j = i; /* j: the interval ending last so far */
        } else if (i > j && ow[i].a < ow[j].e && ow[i].sess != ow[j].sess) {
            viol(ck, V_DOUBLE,
                 "%s p%d: owned by sessions %d (from %" PRId64 " to %" PRId64
                 ") and %d (from %" PRId64 ")",
                 GNAME[ow[i].g], ow[i].p, ow[j].sess, ow[j].a, ow[j].e,
                 ow[i].sess, ow[i].a);
        }
        j = ow[i].e > ow[j].e ? i : j;
    }
    struct ev *ev = ck->ev.v;
    if (ck->ev.n > 0) {
        qsort(ev, ck->ev.n, sizeof(*ev), cmp_ev);
    }
    int64_t cmax = -1;
    for (size_t i = 0; i < ck->ev.n; i++) {
        const struct ev *e = &ev[i];
        if (i > 0 && (e->g != ev[i - 1].g || e->p != ev[i - 1].p)) {
            cmax = -1;
        }
        if (e->kind == E_POLL && e->off < cmax) {
            viol(ck, V_GDUP,
                 "%s p%d@%" PRId64 " (id %" PRIx64 ") polled at "
                 "t=%" PRId64 " after a commit of %" PRId64,
                 GNAME[e->g], e->p, e->off, e->id, e->t, cmax);
        } else if (e->kind != E_POLL && e->off < cmax) {
            viol(ck, V_REGRESS,
                 "%s p%d: %s %" PRId64 " at t=%" PRId64
                 " after a commit of %" PRId64,
                 GNAME[e->g], e->p,
                 e->kind == E_ASSIGN ? "assigned at committed" : "commit",
                 e->off, e->t, cmax);
        }
        if (e->kind == E_POLL && drain_at(ck, e->p, e->off) != e->id) {
            viol(ck, V_INCONS,
                 "%s polled %" PRIx64 " at p%d@%" PRId64
                 ", the log holds %" PRIx64,
                 GNAME[e->g], e->id, e->p, e->off, drain_at(ck, e->p, e->off));
        }
        if (e->kind == E_COMMIT && e->off > cmax) {
            cmax = e->off;
        }
    }
}

static inline size_t chk_total(const struct chk *ck)
{
    size_t n = 0;
    for (int k = 0; k < V_N; k++) {
        n += ck->v[k];
    }
    return n;
}

/* Forget the round, keeping its drain as the next round's "prev". */
static inline void chk_reset(struct chk *ck, int keep_drain)
{
    free(ck->tab);
    free(ck->ev.v);
    free(ck->own.v);
    free(ck->ss.v);
    for (int p = 0; p < NPART; p++) {
        free(ck->prev[p].v);
        ck->prev[p] = keep_drain ? ck->dr[p] : (struct vec){NULL, 0, 0};
        if (!keep_drain) {
            free(ck->dr[p].v);
        }
    }
    struct vec prev[NPART];
    memcpy(prev, ck->prev, sizeof(prev));
    memset(ck, 0, sizeof(*ck));
    memcpy(ck->prev, prev, sizeof(prev));
}

#endif /* CL_TEST_CHAOS_CHECK_H */
