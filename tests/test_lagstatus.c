/*
 * test_lagstatus.c - Burrow's consumer-lag evaluation rules
 * (libcrawllog/lagstatus.c): every case of the golden-vector file
 * tests/vectors/lagstatus.txt (Burrow's caching_test.go rule tests, the
 * tables of Burrow issue #714, and derived cases: one or more per rule,
 * STOP's boundary and exception, allowed_lag boundaries, incomplete
 * windows, ring wrap-around, min-distance merging, a clock going back,
 * unknown lags, the empty window), then in C: status names, defaults and
 * out-of-range parameters, NULL parameters, a window wrapped many times
 * past CL_LAG_INTERVALS_MAX, `intervals` lowered on a full window, a
 * corrupted window, extreme times (no overflow), group aggregation, and a
 * seeded randomized comparison with a direct reference implementation of
 * the rules written here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lagstatus.h"

/* ---------------------------------------------------------------------- */
/* Golden vectors: tests/vectors/lagstatus.txt                             */
/* ---------------------------------------------------------------------- */

/*
 * The file (format in its header comment) is parsed whole into vcases[]
 * (fixed-size, so a failing assert leaks nothing) and closed before any
 * case runs.
 */

#define VEC_FILE VECTORS_DIR "/lagstatus.txt"
#define VMAX_CASES 64
#define VMAX_OPS 40

enum vop_kind { OP_ADD, OP_WINDOW, OP_EVAL };

struct vop {
    enum vop_kind kind;
    int line;
    struct cl_lag_point pt;                      /* OP_ADD */
    size_t nw;                                   /* OP_WINDOW */
    struct cl_lag_point w[CL_LAG_INTERVALS_MAX]; /* OP_WINDOW */
    int64_t now, lag, head;                      /* OP_EVAL */
    int expect;                                  /* OP_EVAL */
};

struct vcase {
    int line; /* of "case" */
    char name[64];
    char source[CL_TEST_BLOCK_SOURCE_SIZE];
    struct cl_lag_params params;
    size_t nops;
    size_t nevals;
    struct vop ops[VMAX_OPS];
};

static struct vcase vcases[VMAX_CASES];

struct vparser {
    struct cl_test_blocks rd; /* line, source, err */
    size_t n;                 /* cases complete or in progress */
    int in_case;              /* a case block is open */
};

/* A parse error: p->rd.err = "VEC_FILE:<line>: <message>"; -1. */
#define verr(p, ...) cl_test_blocks_errf(&(p)->rd, __VA_ARGS__)

/* A whole decimal int64_t token; -1 if it is not one. */
static int vint(const char *s, int64_t *out)
{
    char *end;
    if (*s == '\0') {
        return -1;
    }
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* An int64_t token, or "-" for dash_value. */
static int vint_or_dash(const char *s, int64_t dash_value, int64_t *out)
{
    if (strcmp(s, "-") == 0) {
        *out = dash_value;
        return 0;
    }
    return vint(s, out);
}

static int vstatus(const char *s)
{
    for (int st = CL_LAG_NOTFOUND; st <= CL_LAG_REWIND; st++) {
        if (strcmp(s, cl_lag_status_name(st)) == 0) {
            return st;
        }
    }
    return -1;
}

/* "key=value": the value if tok starts with key=, else NULL. */
static const char *vkey(const char *tok, const char *key)
{
    size_t n = strlen(key);
    if (strncmp(tok, key, n) == 0 && tok[n] == '=') {
        return tok + n + 1;
    }
    return NULL;
}

/* cl_test_blocks_read() callback, at a blank line or the end of the file:
 * check that the case in progress has an eval; 0 or -1. */
static int vend_case(void *ctx)
{
    struct vparser *p = ctx;
    if (!p->in_case) {
        return 0;
    }
    p->in_case = 0;
    const struct vcase *c = &vcases[p->n - 1];
    if (c->nevals == 0) {
        p->rd.line = c->line;
        return verr(p, "case \"%s\" has no eval line", c->name);
    }
    return 0;
}

static struct vop *vnew_op(struct vparser *p, struct vcase *c,
                           enum vop_kind kind)
{
    if (c->nops >= VMAX_OPS) {
        verr(p, "more than %d lines in case \"%s\"", VMAX_OPS, c->name);
        return NULL;
    }
    struct vop *o = &c->ops[c->nops++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->line = p->rd.line;
    return o;
}

/* cl_test_blocks_read() callback: one line of a case; 0 or -1. */
static int vparse_line(void *ctx, char *buf)
{
    struct vparser *p = ctx;
    char *save = NULL;
    char *kw = strtok_r(buf, " \t", &save);
    char *tok;

    if (strcmp(kw, "case") == 0) {
        if (p->in_case) {
            return verr(p, "\"case\" inside a case (blank line missing?)");
        }
        if (p->rd.source[0] == '\0') {
            return verr(p, "case with no \"# source:\" comment before it");
        }
        if (p->n >= VMAX_CASES) {
            return verr(p, "more than %d cases", VMAX_CASES);
        }
        tok = strtok_r(NULL, " \t", &save);
        if (tok == NULL || strlen(tok) >= sizeof(vcases[0].name) ||
            strtok_r(NULL, " \t", &save) != NULL) {
            return verr(p, "want \"case <name>\"");
        }
        struct vcase *c = &vcases[p->n++];
        memset(c, 0, sizeof(*c));
        c->line = p->rd.line;
        snprintf(c->name, sizeof(c->name), "%s", tok);
        snprintf(c->source, sizeof(c->source), "%s", p->rd.source);
        cl_lag_params_default(&c->params);
        p->in_case = 1;
        return 0;
    }
    if (!p->in_case) {
        return verr(p, "\"%s\" outside a case", kw);
    }
    struct vcase *c = &vcases[p->n - 1];

    if (strcmp(kw, "params") == 0) {
        if (c->nops > 0) {
            return verr(p, "\"params\" must come right after \"case\"");
        }
        while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
            const char *v;
            int64_t x;
            if ((v = vkey(tok, "intervals")) != NULL && vint(v, &x) == 0 &&
                x >= INT32_MIN && x <= INT32_MAX) {
                c->params.intervals = (int)x;
            } else if ((v = vkey(tok, "min_distance_ms")) != NULL &&
                       vint(v, &x) == 0) {
                c->params.min_distance_ms = x;
            } else if ((v = vkey(tok, "allowed_lag")) != NULL &&
                       vint(v, &x) == 0) {
                c->params.allowed_lag = x;
            } else if ((v = vkey(tok, "min_complete")) != NULL) {
                char *end;
                c->params.min_complete = strtod(v, &end);
                if (*v == '\0' || *end != '\0') {
                    return verr(p, "bad min_complete \"%s\"", v);
                }
            } else {
                return verr(p, "bad params token \"%s\"", tok);
            }
        }
        return 0;
    }
    if (strcmp(kw, "add") == 0) {
        struct vop *o = vnew_op(p, c, OP_ADD);
        char *t[3];
        if (o == NULL) {
            return -1;
        }
        for (int i = 0; i < 3; i++) {
            t[i] = strtok_r(NULL, " \t", &save);
        }
        if (t[2] == NULL || strtok_r(NULL, " \t", &save) != NULL ||
            vint(t[0], &o->pt.offset) != 0 || vint(t[1], &o->pt.ts_ms) != 0 ||
            vint_or_dash(t[2], CL_LAG_UNKNOWN, &o->pt.lag) != 0) {
            return verr(p, "want \"add <offset> <ts_ms> <lag|->\"");
        }
        return 0;
    }
    if (strcmp(kw, "window") == 0) {
        struct vop *o = vnew_op(p, c, OP_WINDOW);
        if (o == NULL) {
            return -1;
        }
        tok = strtok_r(NULL, " \t", &save);
        if (tok != NULL && strcmp(tok, "-") == 0) {
            if (strtok_r(NULL, " \t", &save) != NULL) {
                return verr(p, "\"window -\" takes nothing after it");
            }
            return 0;
        }
        for (; tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
            char *s2 = NULL;
            char *a = strtok_r(tok, ":", &s2);
            char *b = strtok_r(NULL, ":", &s2);
            char *l = strtok_r(NULL, ":", &s2);
            if (o->nw >= CL_LAG_INTERVALS_MAX) {
                return verr(p, "more than %d window points",
                            CL_LAG_INTERVALS_MAX);
            }
            struct cl_lag_point *pt = &o->w[o->nw++];
            if (a == NULL || b == NULL || l == NULL ||
                strtok_r(NULL, ":", &s2) != NULL || vint(a, &pt->offset) != 0 ||
                vint(b, &pt->ts_ms) != 0 ||
                vint_or_dash(l, CL_LAG_UNKNOWN, &pt->lag) != 0) {
                return verr(p, "want <offset>:<ts_ms>:<lag|-> points");
            }
        }
        if (o->nw == 0) {
            return verr(p, "window with no point (write \"window -\")");
        }
        return 0;
    }
    if (strcmp(kw, "eval") == 0) {
        struct vop *o = vnew_op(p, c, OP_EVAL);
        int have = 0;
        if (o == NULL) {
            return -1;
        }
        while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
            const char *v;
            if ((v = vkey(tok, "now")) != NULL && !(have & 1) &&
                vint(v, &o->now) == 0) {
                have |= 1;
            } else if ((v = vkey(tok, "lag")) != NULL && !(have & 2) &&
                       vint(v, &o->lag) == 0) {
                have |= 2;
            } else if ((v = vkey(tok, "head")) != NULL && !(have & 4) &&
                       vint_or_dash(v, CL_LAG_HEAD_UNKNOWN, &o->head) == 0) {
                have |= 4;
            } else if ((v = vkey(tok, "expect")) != NULL && !(have & 8) &&
                       (o->expect = vstatus(v)) >= 0) {
                have |= 8;
            } else {
                return verr(p, "bad eval token \"%s\"", tok);
            }
        }
        if (have != 15) {
            return verr(p, "eval wants now=, lag=, head= and expect=");
        }
        c->nevals++;
        return 0;
    }
    return verr(p, "unknown line \"%s\"", kw);
}

static const char *vlag(int64_t lag, char *buf, size_t cap)
{
    if (lag == CL_LAG_UNKNOWN) {
        return "-";
    }
    snprintf(buf, cap, "%lld", (long long)lag);
    return buf;
}

static void vdump_window(const struct cl_lag_window *w)
{
    char lb[32];
    print_error("  window now:");
    for (size_t i = 0; i < cl_lag_window_len(w); i++) {
        const struct cl_lag_point *pt = cl_lag_window_at(w, i);
        print_error(" %lld:%lld:%s", (long long)pt->offset,
                    (long long)pt->ts_ms, vlag(pt->lag, lb, sizeof(lb)));
    }
    print_error("\n");
}

/* Run case c; counts the statuses its evals expect into seen[]. */
static void vrun(const struct vcase *c, size_t seen[7])
{
    struct cl_lag_window w;
    memset(&w, 0xa5, sizeof(w)); /* init must not rely on zeroed memory */
    cl_lag_window_init(&w);
    for (size_t i = 0; i < c->nops; i++) {
        const struct vop *o = &c->ops[i];
        switch (o->kind) {
        case OP_ADD:
            cl_lag_window_add(&w, &c->params, o->pt);
            break;
        case OP_WINDOW: {
            int ok = cl_lag_window_len(&w) == o->nw;
            for (size_t j = 0; ok && j < o->nw; j++) {
                const struct cl_lag_point *pt = cl_lag_window_at(&w, j);
                ok = pt != NULL && pt->offset == o->w[j].offset &&
                     pt->ts_ms == o->w[j].ts_ms && pt->lag == o->w[j].lag;
            }
            if (!ok) {
                vdump_window(&w);
                fail_msg("%s:%d: case \"%s\" (source:%s): window differs",
                         VEC_FILE, o->line, c->name, c->source);
            }
            break;
        }
        case OP_EVAL: {
            int got = cl_lag_evaluate(&w, &c->params, o->now, o->lag, o->head);
            if (got != o->expect) {
                vdump_window(&w);
                fail_msg("%s:%d: case \"%s\" (source:%s): got %s, want %s",
                         VEC_FILE, o->line, c->name, c->source,
                         cl_lag_status_name(got),
                         cl_lag_status_name(o->expect));
            }
            seen[o->expect]++;
            break;
        }
        }
    }
}

static void test_lag_vectors(void **state)
{
    (void)state;
    struct vparser p;
    memset(&p, 0, sizeof(p));
    cl_test_blocks_load(&p.rd, VEC_FILE, vparse_line, vend_case, &p);
    long n = (long)p.n;
    size_t seen[7] = {0}, evals = 0, upstream = 0;
    for (long i = 0; i < n; i++) {
        vrun(&vcases[i], seen);
        evals += vcases[i].nevals;
        if (strstr(vcases[i].source, "(derived)") == NULL &&
            strstr(vcases[i].source, "derived (") == NULL) {
            upstream++;
        }
    }
    fprintf(stderr,
            "  %s: %ld vector cases (%zu from upstream texts), %zu evals "
            "(NOTFOUND %zu, OK %zu, WARN %zu, STOP %zu, STALL %zu, "
            "REWIND %zu)\n",
            VEC_FILE, n, upstream, evals, seen[CL_LAG_NOTFOUND],
            seen[CL_LAG_OK], seen[CL_LAG_WARN], seen[CL_LAG_STOP],
            seen[CL_LAG_STALL], seen[CL_LAG_REWIND]);
    /* The file holds 42 cases, 13 from Burrow's texts, and 67 evals; fewer
     * means it was cut short.  Every partition status must be expected
     * somewhere. */
    assert_true(n >= 42);
    assert_true(upstream >= 13);
    assert_true(evals >= 67);
    for (int st = CL_LAG_NOTFOUND; st <= CL_LAG_REWIND; st++) {
        if (st != CL_LAG_ERR) {
            assert_true(seen[st] >= 2);
        }
    }
    assert_int_equal(seen[CL_LAG_ERR], 0);
}

/* ---------------------------------------------------------------------- */
/* Names, defaults, parameters                                             */
/* ---------------------------------------------------------------------- */

static void test_lag_names(void **state)
{
    (void)state;
    static const char *const want[] = {"NOTFOUND", "OK",    "WARN",  "ERR",
                                       "STOP",     "STALL", "REWIND"};
    assert_int_equal(CL_LAG_NOTFOUND, 0);
    assert_int_equal(CL_LAG_OK, 1);
    assert_int_equal(CL_LAG_WARN, 2);
    assert_int_equal(CL_LAG_ERR, 3);
    assert_int_equal(CL_LAG_STOP, 4);
    assert_int_equal(CL_LAG_STALL, 5);
    assert_int_equal(CL_LAG_REWIND, 6);
    for (int st = 0; st < 7; st++) {
        assert_string_equal(cl_lag_status_name(st), want[st]);
    }
    assert_string_equal(cl_lag_status_name(-1), "UNKNOWN");
    assert_string_equal(cl_lag_status_name(7), "UNKNOWN");
    assert_string_equal(cl_lag_status_name(INT32_MIN), "UNKNOWN");
}

static void test_lag_defaults(void **state)
{
    (void)state;
    struct cl_lag_params p;
    memset(&p, 0x5a, sizeof(p));
    cl_lag_params_default(&p);
    assert_int_equal(p.intervals, 10);
    assert_int_equal(p.min_distance_ms, 0);
    assert_int_equal(p.allowed_lag, 0);
    assert_true(p.min_complete == 0.0);
    assert_true(CL_LAG_INTERVALS_MAX >= p.intervals);
}

/* Add n stalled commits (offset 1000, lag 10) a second apart from ts 1000. */
static void add_stalled(struct cl_lag_window *w, const struct cl_lag_params *p,
                        int n)
{
    for (int i = 0; i < n; i++) {
        struct cl_lag_point pt = {1000, 1000 + 1000 * (int64_t)i, 10};
        cl_lag_window_add(w, p, pt);
    }
}

static void test_lag_null_params(void **state)
{
    (void)state;
    struct cl_lag_window a, b;
    struct cl_lag_params d;
    cl_lag_params_default(&d);
    cl_lag_window_init(&a);
    cl_lag_window_init(&b);
    for (int i = 0; i < 15; i++) {
        struct cl_lag_point pt = {100 + i, 1000 * (int64_t)(i / 2), i % 4};
        cl_lag_window_add(&a, NULL, pt);
        cl_lag_window_add(&b, &d, pt);
    }
    assert_memory_equal(&a, &b, sizeof(a));
    /* Equal times are separate commits with min-distance 0: the newest
     * 10 stay. */
    assert_int_equal(cl_lag_window_len(&a), 10);
    assert_int_equal(cl_lag_window_at(&a, 0)->offset, 105);
    assert_true(cl_lag_window_complete(&a, NULL) == 1.0);
    for (int64_t now = 6000; now < 20000; now += 1000) {
        for (int64_t lag = 0; lag < 4; lag++) {
            assert_int_equal(cl_lag_evaluate(&a, NULL, now, lag, 0),
                             cl_lag_evaluate(&a, &d, now, lag, 0));
            assert_int_equal(
                cl_lag_evaluate(&a, NULL, now, lag, CL_LAG_HEAD_UNKNOWN),
                cl_lag_evaluate(&a, &d, now, lag, CL_LAG_HEAD_UNKNOWN));
        }
    }
    assert_int_equal(cl_lag_evaluate(NULL, NULL, 0, 5, 0), CL_LAG_NOTFOUND);
}

static void test_lag_param_ranges(void **state)
{
    (void)state;
    struct cl_lag_window w;
    struct cl_lag_params p;

    /* intervals < 1: the default 10. */
    cl_lag_params_default(&p);
    p.intervals = 0;
    cl_lag_window_init(&w);
    add_stalled(&w, &p, 12);
    assert_int_equal(cl_lag_window_len(&w), 10);
    p.intervals = -3;
    assert_true(cl_lag_window_complete(&w, &p) == 1.0);
    cl_lag_window_init(&w);
    add_stalled(&w, &p, 5);
    assert_true(cl_lag_window_complete(&w, &p) == 0.5);

    /* intervals above the maximum: the maximum. */
    p.intervals = CL_LAG_INTERVALS_MAX + 100;
    cl_lag_window_init(&w);
    add_stalled(&w, &p, CL_LAG_INTERVALS_MAX + 5);
    assert_int_equal(cl_lag_window_len(&w), CL_LAG_INTERVALS_MAX);
    assert_true(cl_lag_window_complete(&w, &p) == 1.0);
    p.intervals = INT32_MAX;
    assert_true(cl_lag_window_complete(&w, &p) == 1.0);

    /* min_complete: NaN and < 0 are 0, > 1 is 1. */
    cl_lag_params_default(&p);
    cl_lag_window_init(&w);
    add_stalled(&w, &p, 1);
    p.min_complete = NAN;
    assert_int_equal(cl_lag_evaluate(&w, &p, 1000, 10, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_STALL);
    p.min_complete = -0.5;
    assert_int_equal(cl_lag_evaluate(&w, &p, 1000, 10, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_STALL);
    p.min_complete = 7.0;
    assert_int_equal(cl_lag_evaluate(&w, &p, 1000, 10, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_OK);
    add_stalled(&w, &p, 8); /* 9 of 10 */
    assert_int_equal(cl_lag_evaluate(&w, &p, 9000, 10, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_OK);
    add_stalled(&w, &p, 1); /* ts 1000, older than 8000: merged */
    assert_int_equal(cl_lag_window_len(&w), 9);
    cl_lag_window_add(&w, &p, (struct cl_lag_point){1000, 10000, 10});
    assert_int_equal(cl_lag_window_len(&w), 10);
    assert_int_equal(cl_lag_evaluate(&w, &p, 10000, 10, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_STALL);

    /* allowed_lag < 0 is 0. */
    cl_lag_params_default(&p);
    p.allowed_lag = -7;
    cl_lag_window_init(&w);
    add_stalled(&w, &p, 3);
    assert_int_equal(cl_lag_evaluate(&w, &p, 3000, 0, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_OK);
    assert_int_equal(cl_lag_evaluate(&w, &p, 3000, 1, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_STALL);

    /* min_distance_ms < 0 is 0: an equal time opens a new slot. */
    p.min_distance_ms = -1000;
    cl_lag_window_init(&w);
    cl_lag_window_add(&w, &p, (struct cl_lag_point){1, 500, 3});
    cl_lag_window_add(&w, &p, (struct cl_lag_point){2, 500, 2});
    cl_lag_window_add(&w, &p, (struct cl_lag_point){3, 499, 1});
    assert_int_equal(cl_lag_window_len(&w), 2);
    assert_int_equal(cl_lag_window_at(&w, 1)->offset, 3);
    assert_int_equal(cl_lag_window_at(&w, 1)->ts_ms, 500);
    assert_int_equal(cl_lag_window_at(&w, 1)->lag, 1);
}

/* ---------------------------------------------------------------------- */
/* The ring                                                                */
/* ---------------------------------------------------------------------- */

static void test_lag_empty(void **state)
{
    (void)state;
    struct cl_lag_window w;
    memset(&w, 0, sizeof(w)); /* zeroed = empty, as init */
    assert_int_equal(cl_lag_window_len(&w), 0);
    assert_null(cl_lag_window_at(&w, 0));
    assert_true(cl_lag_window_complete(&w, NULL) == 0.0);
    assert_int_equal(cl_lag_evaluate(&w, NULL, 0, 0, 0), CL_LAG_NOTFOUND);
    assert_int_equal(cl_lag_evaluate(&w, NULL, INT64_MAX, INT64_MAX,
                                     CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_NOTFOUND);
    cl_lag_window_add(&w, NULL, (struct cl_lag_point){7, 8, -100});
    assert_int_equal(cl_lag_window_len(&w), 1);
    assert_non_null(cl_lag_window_at(&w, 0));
    assert_null(cl_lag_window_at(&w, 1));
    assert_int_equal(cl_lag_window_at(&w, 0)->lag, CL_LAG_UNKNOWN);
    cl_lag_window_init(&w);
    assert_int_equal(cl_lag_window_len(&w), 0);
}

/* Many times around the ring: the window always holds the newest
 * `intervals` commits, oldest first. */
static void test_lag_wrap_many(void **state)
{
    (void)state;
    static const int ivs[] = {1, 2, 3, 10, CL_LAG_INTERVALS_MAX - 1,
                              CL_LAG_INTERVALS_MAX};
    for (size_t v = 0; v < sizeof(ivs) / sizeof(ivs[0]); v++) {
        struct cl_lag_params p;
        struct cl_lag_window w;
        cl_lag_params_default(&p);
        p.intervals = ivs[v];
        cl_lag_window_init(&w);
        for (int i = 0; i < 5 * CL_LAG_INTERVALS_MAX + 7; i++) {
            struct cl_lag_point pt = {i, 1000 * (int64_t)i, i % 5};
            cl_lag_window_add(&w, &p, pt);
            size_t want = (size_t)(i + 1 < ivs[v] ? i + 1 : ivs[v]);
            assert_int_equal(cl_lag_window_len(&w), want);
            assert_true(w.head < CL_LAG_INTERVALS_MAX);
            for (size_t j = 0; j < want; j++) {
                const struct cl_lag_point *q = cl_lag_window_at(&w, j);
                int64_t o = i + 1 - (int64_t)want + (int64_t)j;
                assert_int_equal(q->offset, o);
                assert_int_equal(q->ts_ms, 1000 * o);
                assert_int_equal(q->lag, o % 5);
            }
        }
        /* The same status as a window built from the kept points only. */
        struct cl_lag_window fresh;
        cl_lag_window_init(&fresh);
        for (size_t j = 0; j < cl_lag_window_len(&w); j++) {
            cl_lag_window_add(&fresh, &p, *cl_lag_window_at(&w, j));
        }
        for (int64_t now = 0; now < 400000; now += 7000) {
            assert_int_equal(cl_lag_evaluate(&w, &p, now, 3, 50),
                             cl_lag_evaluate(&fresh, &p, now, 3, 50));
        }
    }
}

/* `intervals` lowered on a full window: only the newest count, and the
 * next add drops the surplus. */
static void test_lag_intervals_lowered(void **state)
{
    (void)state;
    struct cl_lag_params p;
    struct cl_lag_window w;
    cl_lag_params_default(&p);
    cl_lag_window_init(&w);
    for (int i = 0; i < 10; i++) {
        struct cl_lag_point pt = {1000, 1000 * (int64_t)i, i < 7 ? 0 : 10};
        cl_lag_window_add(&w, &p, pt);
    }
    assert_int_equal(cl_lag_evaluate(&w, &p, 9500, 10, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_OK);
    p.intervals = 3;
    /* Span 7000..9000: now 9500 is within it. */
    assert_int_equal(cl_lag_evaluate(&w, &p, 9500, 10, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_STALL);
    assert_int_equal(cl_lag_evaluate(&w, &p, 11001, 10, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_STOP);
    assert_true(cl_lag_window_complete(&w, &p) == 1.0);
    assert_int_equal(cl_lag_window_len(&w), 10);
    cl_lag_window_add(&w, &p, (struct cl_lag_point){1000, 10000, 10});
    assert_int_equal(cl_lag_window_len(&w), 3);
    assert_int_equal(cl_lag_window_at(&w, 0)->ts_ms, 8000);
    assert_int_equal(cl_lag_window_at(&w, 2)->ts_ms, 10000);
    p.intervals = 20;
    assert_true(cl_lag_window_complete(&w, &p) == 0.15);
}

/* A window whose n and head were overwritten: reads stay in bounds and the
 * next add makes it valid again. */
static void test_lag_corrupt_window(void **state)
{
    (void)state;
    struct cl_lag_window w;
    memset(&w, 0, sizeof(w));
    w.n = 1000;
    w.head = 77;
    assert_int_equal(cl_lag_window_len(&w), CL_LAG_INTERVALS_MAX);
    assert_non_null(cl_lag_window_at(&w, CL_LAG_INTERVALS_MAX - 1));
    assert_null(cl_lag_window_at(&w, CL_LAG_INTERVALS_MAX));
    /* All-zero points: offsets equal, lag 0 -> OK. */
    assert_int_equal(cl_lag_evaluate(&w, NULL, 0, 5, CL_LAG_HEAD_UNKNOWN),
                     CL_LAG_OK);
    cl_lag_window_add(&w, NULL, (struct cl_lag_point){1, 1, 1});
    assert_true(w.n <= CL_LAG_INTERVALS_MAX);
    assert_true(w.head < CL_LAG_INTERVALS_MAX);
    assert_int_equal(cl_lag_window_len(&w), 10);
    assert_int_equal(cl_lag_window_at(&w, 9)->offset, 1);
}

/* Times at the ends of int64_t: differences saturate (UBSan would report an
 * overflow). */
static void test_lag_extreme_times(void **state)
{
    (void)state;
    struct cl_lag_window w;
    const int64_t H = CL_LAG_HEAD_UNKNOWN;

    cl_lag_window_init(&w);
    cl_lag_window_add(&w, NULL, (struct cl_lag_point){5, INT64_MIN, 3});
    /* One point at INT64_MIN, now INT64_MAX: STOP. */
    assert_int_equal(cl_lag_evaluate(&w, NULL, INT64_MAX, 3, H), CL_LAG_STOP);
    assert_int_equal(cl_lag_evaluate(&w, NULL, INT64_MIN, 3, H),
                     CL_LAG_STALL);
    /* INT64_MAX - INT64_MIN: appended (a positive distance). */
    cl_lag_window_add(&w, NULL, (struct cl_lag_point){5, INT64_MAX, 4});
    assert_int_equal(cl_lag_window_len(&w), 2);
    assert_int_equal(cl_lag_evaluate(&w, NULL, INT64_MAX, 4, H),
                     CL_LAG_STALL);
    assert_int_equal(cl_lag_evaluate(&w, NULL, INT64_MIN, 4, H),
                     CL_LAG_STALL);
    assert_int_equal(cl_lag_evaluate(&w, NULL, 0, INT64_MAX, INT64_MIN),
                     CL_LAG_STALL);
    /* INT64_MIN after INT64_MAX: merged (clock went back). */
    cl_lag_window_add(&w, NULL, (struct cl_lag_point){6, INT64_MIN, 2});
    assert_int_equal(cl_lag_window_len(&w), 2);
    assert_int_equal(cl_lag_window_at(&w, 1)->ts_ms, INT64_MAX);
    assert_int_equal(cl_lag_window_at(&w, 1)->offset, 6);
    /* min_distance INT64_MAX: a distance below it merges, one that reaches
     * it (exactly, or saturated) does not. */
    struct cl_lag_params p;
    cl_lag_params_default(&p);
    p.min_distance_ms = INT64_MAX;
    cl_lag_window_init(&w);
    cl_lag_window_add(&w, &p, (struct cl_lag_point){1, 0, 1});
    cl_lag_window_add(&w, &p, (struct cl_lag_point){2, INT64_MAX - 1, 1});
    assert_int_equal(cl_lag_window_len(&w), 1);
    assert_int_equal(cl_lag_window_at(&w, 0)->offset, 2);
    assert_int_equal(cl_lag_window_at(&w, 0)->ts_ms, 0);
    cl_lag_window_add(&w, &p, (struct cl_lag_point){3, INT64_MAX, 1});
    assert_int_equal(cl_lag_window_len(&w), 2);
    cl_lag_window_init(&w);
    cl_lag_window_add(&w, &p, (struct cl_lag_point){1, INT64_MIN, 1});
    cl_lag_window_add(&w, &p, (struct cl_lag_point){2, 1, 1});
    assert_int_equal(cl_lag_window_len(&w), 2);
    /* Offsets at the ends: a rewind INT64_MAX -> INT64_MIN. */
    cl_lag_window_init(&w);
    cl_lag_window_add(&w, NULL, (struct cl_lag_point){INT64_MAX, 0, 0});
    cl_lag_window_add(&w, NULL, (struct cl_lag_point){INT64_MIN, 1, 1});
    assert_int_equal(cl_lag_evaluate(&w, NULL, 1, 1, H), CL_LAG_REWIND);
    assert_int_equal(cl_lag_evaluate(&w, NULL, 1, 1, INT64_MIN), CL_LAG_REWIND);
}

/* ---------------------------------------------------------------------- */
/* Group status                                                            */
/* ---------------------------------------------------------------------- */

static void test_lag_group(void **state)
{
    (void)state;
    enum { NF = CL_LAG_NOTFOUND, OK = CL_LAG_OK, WA = CL_LAG_WARN,
           ER = CL_LAG_ERR, SO = CL_LAG_STOP, SA = CL_LAG_STALL,
           RW = CL_LAG_REWIND };
    static const struct {
        int st[4];
        size_t n;
        int want;
    } cases[] = {
        {{0}, 0, NF},
        {{NF}, 1, NF},
        {{NF, NF, NF}, 3, NF},
        {{OK}, 1, OK},
        {{NF, OK}, 2, OK},
        {{OK, OK, OK}, 3, OK},
        {{OK, WA, OK}, 3, WA},
        {{WA, NF}, 2, WA},
        {{OK, SO}, 2, ER},
        {{SA, OK}, 2, ER},
        {{WA, RW}, 2, ER},
        {{RW, SO, SA}, 3, ER},
        {{ER}, 1, ER},
        {{NF, SO}, 2, ER},
        {{OK, 42}, 2, ER},
        {{-1, OK}, 2, ER},
        {{OK, WA, OK, SA}, 4, ER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = cl_lag_group_status(cases[i].st, cases[i].n);
        if (got != cases[i].want) {
            fail_msg("group case %zu: got %s, want %s", i,
                     cl_lag_status_name(got), cl_lag_status_name(cases[i].want));
        }
    }
    assert_int_equal(cl_lag_group_status(NULL, 0), CL_LAG_NOTFOUND);
    /* Only the first n count. */
    int st[3] = {OK, OK, SO};
    assert_int_equal(cl_lag_group_status(st, 2), CL_LAG_OK);
    assert_int_equal(cl_lag_group_status(st, 3), CL_LAG_ERR);
}

/* ---------------------------------------------------------------------- */
/* Randomized comparison with a direct implementation of the rules         */
/* ---------------------------------------------------------------------- */

/* The rules of lagstatus.h, as written there, on pts[0..k-1] (k >= 1;
 * small values, no overflow). */
static int ref_eval(const struct cl_lag_point *pts, size_t k, int64_t allowed,
                    int64_t now, int64_t cur, int64_t head)
{
    if (cur <= allowed) {
        return CL_LAG_OK;
    }
    const struct cl_lag_point *first = &pts[0], *last = &pts[k - 1];
    if (now - last->ts_ms > last->ts_ms - first->ts_ms &&
        !(head <= last->offset)) {
        return CL_LAG_STOP;
    }
    for (size_t i = 1; i < k; i++) {
        if (pts[i].offset < pts[i - 1].offset) {
            int recovered = 0;
            for (size_t j = i + 1; j < k; j++) {
                recovered |= pts[j].offset >= pts[i - 1].offset;
            }
            if (!recovered) {
                return CL_LAG_REWIND;
            }
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (pts[i].lag != CL_LAG_UNKNOWN && pts[i].lag <= allowed) {
            return CL_LAG_OK;
        }
    }
    int same = 1;
    for (size_t i = 1; i < k; i++) {
        same &= pts[i].offset == pts[0].offset;
    }
    if (same) {
        return CL_LAG_STALL;
    }
    const struct cl_lag_point *prev = NULL;
    for (size_t i = 0; i < k; i++) {
        if (pts[i].lag == CL_LAG_UNKNOWN) {
            continue;
        }
        if (prev != NULL && pts[i].lag < prev->lag) {
            return CL_LAG_OK;
        }
        prev = &pts[i];
    }
    return CL_LAG_WARN;
}

#define RAND_ROUNDS 30000

static void test_lag_random_reference(void **state)
{
    (void)state;
    uint64_t rs = CL_TEST_SEED;
    size_t seen[7] = {0};

    for (int round = 0; round < RAND_ROUNDS; round++) {
        struct cl_lag_params p;
        cl_lag_params_default(&p);
        p.intervals = 1 + (int)cl_test_rand_below(&rs, 12);
        p.allowed_lag = (int64_t)cl_test_rand_below(&rs, 3);
        size_t total = 1 + cl_test_rand_below(&rs, 16);

        /* A commit history: offsets mostly flat or rising, sometimes back;
         * times strictly rising (no merging with min-distance 0). */
        struct cl_lag_point hist[16];
        int64_t off = 100, ts = 0;
        for (size_t i = 0; i < total; i++) {
            uint64_t r = cl_test_rand_below(&rs, 10);
            if (r < 3) {
                /* same offset */
            } else if (r < 8) {
                off += (int64_t)cl_test_rand_below(&rs, 4);
            } else {
                off -= 1 + (int64_t)cl_test_rand_below(&rs, 4);
            }
            ts += 1 + (int64_t)cl_test_rand_below(&rs, 3);
            hist[i].offset = off;
            hist[i].ts_ms = ts;
            hist[i].lag = cl_test_rand_below(&rs, 6) == 0
                              ? CL_LAG_UNKNOWN
                              : (int64_t)cl_test_rand_below(&rs, 5);
        }
        struct cl_lag_window w;
        cl_lag_window_init(&w);
        for (size_t i = 0; i < total; i++) {
            cl_lag_window_add(&w, &p, hist[i]);
        }
        size_t k = total < (size_t)p.intervals ? total : (size_t)p.intervals;
        const struct cl_lag_point *kept = &hist[total - k];
        assert_int_equal(cl_lag_window_len(&w), k);
        for (size_t j = 0; j < k; j++) {
            assert_memory_equal(cl_lag_window_at(&w, j), &kept[j],
                                sizeof(kept[j]));
        }
        for (int e = 0; e < 4; e++) {
            int64_t now = kept[k - 1].ts_ms - 2 +
                          (int64_t)cl_test_rand_below(&rs, 2 * (ts + 2));
            int64_t cur = (int64_t)cl_test_rand_below(&rs, 6) - 1;
            int64_t head = cl_test_rand_below(&rs, 3) == 0
                               ? CL_LAG_HEAD_UNKNOWN
                               : kept[k - 1].offset - 2 +
                                     (int64_t)cl_test_rand_below(&rs, 5);
            int want = ref_eval(kept, k, p.allowed_lag, now, cur, head);
            int got = cl_lag_evaluate(&w, &p, now, cur, head);
            if (got != want) {
                print_error("round %d: intervals %d allowed %lld now %lld "
                            "lag %lld head %lld\n",
                            round, p.intervals, (long long)p.allowed_lag,
                            (long long)now, (long long)cur, (long long)head);
                vdump_window(&w);
                fail_msg("got %s, reference %s", cl_lag_status_name(got),
                         cl_lag_status_name(want));
            }
            seen[got]++;
        }
    }
    fprintf(stderr,
            "  %d random windows x 4: OK %zu, WARN %zu, STOP %zu, STALL %zu, "
            "REWIND %zu\n",
            RAND_ROUNDS, seen[CL_LAG_OK], seen[CL_LAG_WARN],
            seen[CL_LAG_STOP], seen[CL_LAG_STALL], seen[CL_LAG_REWIND]);
    /* The generator must reach every partition status. */
    for (int st = CL_LAG_OK; st <= CL_LAG_REWIND; st++) {
        if (st != CL_LAG_ERR) {
            assert_true(seen[st] >= 100);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lag_vectors),
        cmocka_unit_test(test_lag_names),
        cmocka_unit_test(test_lag_defaults),
        cmocka_unit_test(test_lag_null_params),
        cmocka_unit_test(test_lag_param_ranges),
        cmocka_unit_test(test_lag_empty),
        cmocka_unit_test(test_lag_wrap_many),
        cmocka_unit_test(test_lag_intervals_lowered),
        cmocka_unit_test(test_lag_corrupt_window),
        cmocka_unit_test(test_lag_extreme_times),
        cmocka_unit_test(test_lag_group),
        cmocka_unit_test(test_lag_random_reference),
    };
    return cmocka_run_group_tests_name("lagstatus", tests, NULL, NULL);
}
