/*
 * assignor.c - partition assignors of a consumer group (layer 3, pure).
 *
 * Computes which member of a group consumes which partition, by Kafka's
 * rules (kafka-reference.md 4.2): "range", "roundrobin" and the placement
 * of "cooperative-sticky".  The two-phase revocation of the cooperative
 * protocol (a partition changing owner is first only revoked) is the group
 * protocol's business, not this module's: cl_asg_assign returns the final
 * target placement.
 *
 * On disk: nothing.  No locks, no global state; scratch memory comes from
 * cl_io_malloc and is freed before returning.
 *
 * Invariants: the result is a function of the inputs' contents only, not
 * of the order of the members array (members are sorted by Kafka's
 * MemberInfo order, ties broken by member_id; members that still compare
 * equal are rejected) nor of the order of the topics array (topics are
 * taken in name order).  Every partition of a topic with at least one
 * subscriber goes to exactly one member subscribing to that topic; the
 * partitions of other topics get -1.
 *
 * Internally members are handled by their rank in the sorted order and
 * subscriptions are re-expressed as bitmasks over topic name ranks (bit r =
 * the r-th topic by name), so "the highest set bit" is "the last topic by
 * name".
 *
 * Sticky placement (balance first, then stickiness; see cl_asg_assign):
 *   1. keep: each owned partition stays with its owner when the owner
 *      subscribes to its topic.  When every member with a non-empty
 *      subscription (topics without partitions do not count) subscribes
 *      to the same topics (Kafka's "all subscriptions equal" case), a
 *      member keeps at most ceil(partitions / members) of them, its lowest
 *      by (topic name, partition); with differing subscriptions nothing is
 *      capped (a member may be the only one able to take a topic).
 *   2. fill: each unassigned partition, in (topic name, partition) order,
 *      goes to the subscribing member with the fewest partitions (ties: the
 *      member order).  With nothing owned and equal subscriptions this is
 *      exactly roundrobin.
 *   3. balance: while some member D holds a partition of a topic that a
 *      member R with at least 2 fewer partitions subscribes to, D (the most
 *      loaded such donor; ties: the later member) gives R (the least loaded
 *      such receiver; ties: the earlier member) its last such partition by
 *      (topic name, partition).  Each move lowers the sum of squared
 *      counts by at least 2, so this ends; when it ends Kafka's balance
 *      rule holds.
 *   With equal subscriptions this keeps the largest possible number of
 *   owned partitions; with differing ones it is a heuristic (as Kafka's).
 *
 * Cost (M members, P partitions, T <= 64 topics): sorting O(M log M +
 * T log T); range O(P + T*M); roundrobin O(P*M) worst case (skips of
 * non-subscribers), O(P + M) with equal subscriptions; sticky keep O(P),
 * fill O(T*M + P log M) (a heap per topic), balance O(M) per move with
 * equal subscriptions and O(M^2) per move with differing ones (plus a scan
 * of the donor's partitions of one topic, amortised by a per-(member,
 * topic) cursor).  Moves are bounded by half the sum of squared counts
 * after the fill; with equal subscriptions a receiver never gives a
 * partition away again, so there are fewer moves than partitions.
 * Measured: 29 members x 4096 partitions well under 1 ms; 1000 x 100000
 * about 10 ms (about 100 ms when one member with a different subscription
 * owns everything and gives ~50000 partitions away).  Memory O(M*T + M).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assignor.h"
#include "io.h"

static const char *const asg_names[] = {"range", "roundrobin",
                                        "cooperative-sticky"};
#define ASG_NSTRATEGIES (sizeof(asg_names) / sizeof(asg_names[0]))

int cl_asg_parse(const char *name)
{
    if (name == NULL) {
        return -1;
    }
    for (size_t i = 0; i < ASG_NSTRATEGIES; i++) {
        if (strcmp(name, asg_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *cl_asg_name(int strategy)
{
    if (strategy < 0 || (size_t)strategy >= ASG_NSTRATEGIES) {
        return "unknown";
    }
    return asg_names[strategy];
}

int cl_asg_cooperative(int strategy)
{
    return strategy == CL_ASG_COOPERATIVE_STICKY;
}

/* ---------------------------------------------------------------------- */
/* Ordering                                                                */
/* ---------------------------------------------------------------------- */

struct asg_mref {
    const struct cl_asg_member *m;
    size_t idx; /* index into the caller's members array */
};

static int asg_is_static(const struct cl_asg_member *m)
{
    return m->instance_id != NULL && m->instance_id[0] != '\0';
}

/* Kafka's MemberInfo.compareTo, then member_id for equal instance ids. */
static int asg_member_cmp(const struct cl_asg_member *x,
                          const struct cl_asg_member *y)
{
    int xs = asg_is_static(x);
    int ys = asg_is_static(y);
    if (xs && ys) {
        int c = strcmp(x->instance_id, y->instance_id);
        if (c != 0) {
            return c;
        }
    } else if (xs) {
        return -1;
    } else if (ys) {
        return 1;
    }
    return strcmp(x->member_id, y->member_id);
}

static int asg_mref_cmp(const void *a, const void *b)
{
    const struct asg_mref *x = a;
    const struct asg_mref *y = b;
    return asg_member_cmp(x->m, y->m);
}

struct asg_tref {
    const char *name;
    size_t idx;
};

static int asg_tref_cmp(const void *a, const void *b)
{
    const struct asg_tref *x = a;
    const struct asg_tref *y = b;
    return strcmp(x->name, y->name);
}

/* ---------------------------------------------------------------------- */
/* Shared state of one computation                                          */
/* ---------------------------------------------------------------------- */

struct asg {
    size_t nm;                         /* members */
    size_t nt;                         /* topics */
    size_t base[CL_ASG_MAX_TOPICS];    /* by caller topic index */
    size_t parts[CL_ASG_MAX_TOPICS];   /* by name rank */
    size_t tbase[CL_ASG_MAX_TOPICS];   /* by name rank: global base */
    uint64_t anysub;                   /* name-rank bits with a subscriber */
    uint64_t live;                     /* name-rank bits with partitions */
    size_t *midx;                      /* rank -> caller member index */
    uint64_t *sub;                     /* rank -> name-rank topic bits,
                                        * topics without partitions left
                                        * out */
};

static int asg_highest_bit(uint64_t v)
{
    int b = 63;
    while (((v >> b) & 1u) == 0) {
        b--;
    }
    return b;
}

/* ---------------------------------------------------------------------- */
/* range                                                                   */
/* ---------------------------------------------------------------------- */

static void asg_range(const struct asg *a, int32_t *target)
{
    for (size_t r = 0; r < a->nt; r++) {
        uint64_t bit = (uint64_t)1 << r;
        size_t n = a->parts[r];
        size_t k = 0;
        if (n == 0 || (a->anysub & bit) == 0) {
            continue;
        }
        for (size_t j = 0; j < a->nm; j++) {
            k += (a->sub[j] & bit) != 0;
        }
        size_t q = n / k;
        size_t rem = n % k;
        size_t i = 0;
        for (size_t j = 0; j < a->nm; j++) {
            if ((a->sub[j] & bit) == 0) {
                continue;
            }
            size_t start = q * i + (i < rem ? i : rem);
            size_t len = q + (i < rem ? 1 : 0);
            for (size_t p = start; p < start + len; p++) {
                target[a->tbase[r] + p] = (int32_t)j;
            }
            i++;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* roundrobin                                                              */
/* ---------------------------------------------------------------------- */

static void asg_roundrobin(const struct asg *a, int32_t *target)
{
    size_t pos = 0;
    for (size_t r = 0; r < a->nt; r++) {
        uint64_t bit = (uint64_t)1 << r;
        if ((a->anysub & bit) == 0) {
            continue;
        }
        for (size_t p = 0; p < a->parts[r]; p++) {
            while ((a->sub[pos] & bit) == 0) {
                pos = pos + 1 == a->nm ? 0 : pos + 1;
            }
            target[a->tbase[r] + p] = (int32_t)pos;
            pos = pos + 1 == a->nm ? 0 : pos + 1;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* sticky                                                                  */
/* ---------------------------------------------------------------------- */

struct asg_sticky {
    const struct asg *a;
    int32_t *target;   /* by global partition: member rank or -1 */
    size_t *cnt;       /* by rank: partitions held */
    size_t *held;      /* [rank * nt + topic rank]: partitions held */
    int32_t *cur;      /* same shape: no held partition above it (-1) */
    uint64_t *hmask;   /* by rank: topic ranks with held[] > 0 */
    size_t *heap;      /* fill: min-heap of ranks by (cnt, rank) */
    size_t *ord;       /* balance: ranks sorted by (cnt, rank) */
    size_t *pos;       /* balance: rank -> index in ord */
};

static void asg_give(struct asg_sticky *s, size_t m, size_t r, size_t p)
{
    size_t k = m * s->a->nt + r;
    s->target[s->a->tbase[r] + p] = (int32_t)m;
    s->cnt[m]++;
    s->held[k]++;
    s->hmask[m] |= (uint64_t)1 << r;
    if ((int32_t)p > s->cur[k]) {
        s->cur[k] = (int32_t)p;
    }
}

/* (cnt, rank) of x below that of y. */
static int asg_less(const struct asg_sticky *s, size_t x, size_t y)
{
    /* x < y compares ranks, it is no bounds check: */
    /* cppcheck-suppress arrayIndexThenCheck */
    return s->cnt[x] < s->cnt[y] || (s->cnt[x] == s->cnt[y] && x < y);
}

static void asg_heap_down(struct asg_sticky *s, size_t n, size_t i)
{
    size_t *h = s->heap;
    for (;;) {
        size_t l = 2 * i + 1;
        size_t best = i;
        if (l < n && asg_less(s, h[l], h[best])) {
            best = l;
        }
        if (l + 1 < n && asg_less(s, h[l + 1], h[best])) {
            best = l + 1;
        }
        if (best == i) {
            return;
        }
        size_t tmp = h[i];
        h[i] = h[best];
        h[best] = tmp;
        i = best;
    }
}

/* Phase 2: unassigned partitions, in (topic name, partition) order, to the
 * subscriber with the fewest partitions.  Only this topic's assignments
 * change counts while a topic is filled, so one heap per topic suffices. */
static void asg_fill(struct asg_sticky *s)
{
    const struct asg *a = s->a;
    for (size_t r = 0; r < a->nt; r++) {
        uint64_t bit = (uint64_t)1 << r;
        size_t n = 0;
        if (a->parts[r] == 0 || (a->anysub & bit) == 0) {
            continue;
        }
        for (size_t j = 0; j < a->nm; j++) {
            if (a->sub[j] & bit) {
                s->heap[n++] = j;
            }
        }
        for (size_t i = n / 2; i-- > 0;) {
            asg_heap_down(s, n, i);
        }
        for (size_t p = 0; p < a->parts[r]; p++) {
            if (s->target[a->tbase[r] + p] >= 0) {
                continue;
            }
            asg_give(s, s->heap[0], r, p);
            asg_heap_down(s, n, 0);
        }
    }
}

/* Keep ord sorted after cnt[m] changed by one. */
static void asg_reposition(struct asg_sticky *s, size_t m, size_t n)
{
    size_t i = s->pos[m];
    while (i > 0 && asg_less(s, m, s->ord[i - 1])) {
        s->ord[i] = s->ord[i - 1];
        s->pos[s->ord[i]] = i;
        i--;
    }
    while (i + 1 < n && asg_less(s, s->ord[i + 1], m)) {
        s->ord[i] = s->ord[i + 1];
        s->pos[s->ord[i]] = i;
        i++;
    }
    s->ord[i] = m;
    s->pos[m] = i;
}

/* Move donor d's last partition (by topic name, partition) among the
 * topics in allowed to receiver rcv. */
static void asg_move(struct asg_sticky *s, size_t d, size_t rcv,
                     uint64_t allowed)
{
    const struct asg *a = s->a;
    size_t r = (size_t)asg_highest_bit(allowed);
    size_t k = d * a->nt + r;
    int32_t p = s->cur[k];
    while (s->target[a->tbase[r] + (size_t)p] != (int32_t)d) {
        p--; /* held[k] > 0: a partition of d lies at or below cur */
    }
    s->cur[k] = p - 1;
    s->cnt[d]--;
    if (--s->held[k] == 0) {
        s->hmask[d] &= ~((uint64_t)1 << r);
    }
    asg_give(s, rcv, r, (size_t)p);
}

/* Phase 3.  ord holds the n members with a non-empty subscription. */
static void asg_balance(struct asg_sticky *s, size_t n)
{
    for (;;) {
        int moved = 0;
        for (size_t di = n; di-- > 1 && !moved;) {
            size_t d = s->ord[di];
            if (s->cnt[d] < s->cnt[s->ord[0]] + 2) {
                break; /* nobody has 2 fewer than d, nor than any later d */
            }
            for (size_t ri = 0; ri < di; ri++) {
                size_t rcv = s->ord[ri];
                if (s->cnt[rcv] + 2 > s->cnt[d]) {
                    break;
                }
                uint64_t allowed = s->hmask[d] & s->a->sub[rcv];
                if (allowed != 0) {
                    asg_move(s, d, rcv, allowed);
                    asg_reposition(s, d, n);
                    asg_reposition(s, rcv, n);
                    moved = 1;
                    break;
                }
            }
        }
        if (!moved) {
            return;
        }
    }
}

struct asg_kv {
    size_t cnt;
    size_t rank;
};

static int asg_kv_cmp(const void *x, const void *y)
{
    const struct asg_kv *a = x;
    const struct asg_kv *b = y;
    if (a->cnt != b->cnt) {
        return a->cnt < b->cnt ? -1 : 1;
    }
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static int asg_sticky(const struct asg *a, const int32_t *owned,
                      const size_t *rank, int32_t *target,
                      struct cl_err *err)
{
    struct asg_sticky s = {.a = a, .target = target};
    struct asg_kv *kv = NULL;
    size_t nm = a->nm;
    size_t ne = 0;
    size_t cap = SIZE_MAX;
    int rc = 0;

    /* nm <= INT32_MAX and nt <= 64: nm * nt only overflows a 32-bit
     * size_t, where the allocation could not succeed anyway. */
    size_t nmt = a->nt != 0 && nm > SIZE_MAX / a->nt ? SIZE_MAX
                                                      : nm * a->nt;
    s.cnt = cl_io_calloc(nm, sizeof(*s.cnt));
    s.held = cl_io_calloc(nmt, sizeof(*s.held));
    s.cur = cl_io_calloc(nmt, sizeof(*s.cur));
    s.hmask = cl_io_calloc(nm, sizeof(*s.hmask));
    s.heap = cl_io_calloc(nm, sizeof(*s.heap));
    s.ord = cl_io_calloc(nm, sizeof(*s.ord));
    s.pos = cl_io_calloc(nm, sizeof(*s.pos));
    if (s.cnt == NULL || s.held == NULL || s.cur == NULL ||
        s.hmask == NULL || s.heap == NULL || s.ord == NULL ||
        s.pos == NULL) {
        rc = cl_errf(err, CRAWLLOG_ENOMEM,
                     "assignor: out of memory (sticky, %zu members, %zu "
                     "topics)",
                     nm, a->nt);
        goto out;
    }
    for (size_t k = 0; k < nmt; k++) {
        s.cur[k] = -1;
    }

    /* Members with a non-empty subscription; are they all equal? */
    int equal = 1;
    uint64_t first = 0;
    for (size_t j = 0; j < nm; j++) {
        if (a->sub[j] == 0) {
            continue;
        }
        if (ne == 0) {
            first = a->sub[j];
        } else if (a->sub[j] != first) {
            equal = 0;
        }
        s.ord[ne++] = j; /* sorted by count before phase 3 */
    }
    if (ne == 0) {
        goto out;
    }
    if (equal) {
        size_t total = 0;
        for (size_t r = 0; r < a->nt; r++) {
            if (first & ((uint64_t)1 << r)) {
                total += a->parts[r];
            }
        }
        cap = total / ne + (total % ne != 0);
    }

    /* 1. keep */
    if (owned != NULL) {
        for (size_t r = 0; r < a->nt; r++) {
            for (size_t p = 0; p < a->parts[r]; p++) {
                int32_t o = owned[a->tbase[r] + p];
                if (o < 0) {
                    continue;
                }
                size_t m = rank[o];
                if ((a->sub[m] & ((uint64_t)1 << r)) == 0 ||
                    s.cnt[m] >= cap) {
                    continue;
                }
                asg_give(&s, m, r, p);
            }
        }
    }

    /* 2. fill */
    asg_fill(&s);

    /* 3. balance */
    kv = cl_io_calloc(ne, sizeof(*kv));
    if (kv == NULL) {
        rc = cl_errf(err, CRAWLLOG_ENOMEM,
                     "assignor: out of memory (sticky, %zu members)", nm);
        goto out;
    }
    for (size_t i = 0; i < ne; i++) {
        kv[i].cnt = s.cnt[s.ord[i]];
        kv[i].rank = s.ord[i];
    }
    qsort(kv, ne, sizeof(kv[0]), asg_kv_cmp);
    for (size_t i = 0; i < ne; i++) {
        s.ord[i] = kv[i].rank;
        s.pos[kv[i].rank] = i;
    }
    asg_balance(&s, ne);

out:
    cl_io_free(s.cnt);
    cl_io_free(s.held);
    cl_io_free(s.cur);
    cl_io_free(s.hmask);
    cl_io_free(s.heap);
    cl_io_free(s.ord);
    cl_io_free(s.pos);
    cl_io_free(kv);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Entry point                                                             */
/* ---------------------------------------------------------------------- */

int cl_asg_assign(int strategy, const struct cl_asg_member *members,
                  size_t nmembers, const struct cl_asg_topic *topics,
                  size_t ntopics, const int32_t *owned, int32_t *target,
                  struct cl_err *err)
{
    struct asg a;
    struct asg_tref tref[CL_ASG_MAX_TOPICS];
    struct asg_mref *mref = NULL;
    size_t *rank = NULL;
    size_t total = 0;
    int rc = 0;

    if (strategy < 0 || (size_t)strategy >= ASG_NSTRATEGIES) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "assignor: unknown strategy %d (want 0..%zu)",
                       strategy, ASG_NSTRATEGIES - 1);
    }
    if (ntopics > CL_ASG_MAX_TOPICS) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "assignor: %zu topics, at most %d per group",
                       ntopics, CL_ASG_MAX_TOPICS);
    }
    if ((ntopics > 0 && topics == NULL) ||
        (nmembers > 0 && members == NULL)) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "assignor: NULL %s array",
                       topics == NULL && ntopics > 0 ? "topics" : "members");
    }
    if (nmembers > (size_t)INT32_MAX) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "assignor: %zu members, at most %d", nmembers,
                       INT32_MAX);
    }
    for (size_t t = 0; t < ntopics; t++) {
        if (topics[t].name == NULL || topics[t].name[0] == '\0') {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "assignor: topics[%zu]: %s name", t,
                           topics[t].name == NULL ? "NULL" : "empty");
        }
        if (topics[t].partitions < 0) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "assignor: topic \"%s\": negative partition "
                           "count %d",
                           topics[t].name, (int)topics[t].partitions);
        }
        if (total > SIZE_MAX - (size_t)topics[t].partitions) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "assignor: too many partitions in total");
        }
        a.base[t] = total;
        total += (size_t)topics[t].partitions;
        tref[t].name = topics[t].name;
        tref[t].idx = t;
    }
    for (size_t j = 0; j < nmembers; j++) {
        if (members[j].member_id == NULL ||
            members[j].member_id[0] == '\0') {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "assignor: members[%zu]: %s member_id", j,
                           members[j].member_id == NULL ? "NULL" : "empty");
        }
    }
    if (total > 0 && target == NULL) {
        return cl_errf(err, CRAWLLOG_EINVAL, "assignor: NULL target array");
    }
    if (strategy == CL_ASG_COOPERATIVE_STICKY && owned != NULL) {
        for (size_t g = 0; g < total; g++) {
            if (owned[g] < -1 || (owned[g] >= 0 &&
                                  (size_t)owned[g] >= nmembers)) {
                return cl_errf(err, CRAWLLOG_EINVAL,
                               "assignor: owned[%zu] = %d: not -1 nor a "
                               "member index (%zu members)",
                               g, (int)owned[g], nmembers);
            }
        }
    }

    /* Topics by name. */
    qsort(tref, ntopics, sizeof(tref[0]), asg_tref_cmp);
    a.nm = nmembers;
    a.nt = ntopics;
    a.anysub = 0;
    a.live = 0;
    uint8_t trank[CL_ASG_MAX_TOPICS];
    for (size_t r = 0; r < ntopics; r++) {
        if (r > 0 && strcmp(tref[r - 1].name, tref[r].name) == 0) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "assignor: topic \"%s\" listed twice",
                           tref[r].name);
        }
        size_t t = tref[r].idx;
        trank[t] = (uint8_t)r;
        a.parts[r] = (size_t)topics[t].partitions;
        a.tbase[r] = a.base[t];
        if (a.parts[r] > 0) {
            a.live |= (uint64_t)1 << r;
        }
    }
    for (size_t g = 0; g < total; g++) {
        target[g] = -1;
    }

    /* Members by MemberInfo order. */
    mref = cl_io_calloc(nmembers, sizeof(*mref));
    a.midx = cl_io_calloc(nmembers, sizeof(*a.midx));
    a.sub = cl_io_calloc(nmembers, sizeof(*a.sub));
    rank = cl_io_calloc(nmembers, sizeof(*rank));
    if (mref == NULL || a.midx == NULL || a.sub == NULL || rank == NULL) {
        rc = cl_errf(err, CRAWLLOG_ENOMEM,
                     "assignor: out of memory (%zu members)", nmembers);
        goto out;
    }
    for (size_t j = 0; j < nmembers; j++) {
        mref[j].m = &members[j];
        mref[j].idx = j;
    }
    qsort(mref, nmembers, sizeof(mref[0]), asg_mref_cmp);
    for (size_t i = 0; i < nmembers; i++) {
        if (i > 0 && asg_member_cmp(mref[i - 1].m, mref[i].m) == 0) {
            rc = cl_errf(err, CRAWLLOG_EINVAL,
                         "assignor: member \"%s\" (instance \"%s\") listed "
                         "twice",
                         mref[i].m->member_id,
                         asg_is_static(mref[i].m) ? mref[i].m->instance_id
                                                  : "");
            goto out;
        }
        uint64_t sub = 0;
        for (size_t t = 0; t < ntopics; t++) {
            if ((mref[i].m->topics >> t) & 1u) {
                sub |= (uint64_t)1 << trank[t];
            }
        }
        a.midx[i] = mref[i].idx;
        a.sub[i] = sub & a.live;
        a.anysub |= sub;
        rank[mref[i].idx] = i;
    }

    switch (strategy) {
    case CL_ASG_RANGE:
        asg_range(&a, target);
        break;
    case CL_ASG_ROUNDROBIN:
        asg_roundrobin(&a, target);
        break;
    default:
        rc = asg_sticky(&a, owned, rank, target, err);
        break;
    }
    if (rc == 0) {
        for (size_t g = 0; g < total; g++) {
            if (target[g] >= 0) {
                target[g] = (int32_t)a.midx[target[g]];
            }
        }
    } else {
        for (size_t g = 0; g < total; g++) {
            target[g] = -1;
        }
    }

out:
    cl_io_free(mref);
    cl_io_free(a.midx);
    cl_io_free(a.sub);
    cl_io_free(rank);
    return rc;
}
