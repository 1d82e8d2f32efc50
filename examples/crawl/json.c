/*
 * json.c - a small JSON writer (one flat object of members, appended to a
 * growing buffer) and reader (cx_json_get: one top-level member of an
 * object text).  Part of the crawl pipeline examples, not of libcrawllog.
 * No global state (thread-safe); a struct cx_json belongs to one thread.
 *
 * Writer (RFC 8259):
 *  - strings: '"' and '\' as \" and \\, the other bytes below 0x20 as
 *    \u00xx (lower-case hex), valid UTF-8 passed through unchanged, and
 *    each maximal invalid UTF-8 subpart (overlong forms, surrogates, above
 *    U+10FFFF, truncated sequences, stray bytes) as one \ufffd; so the
 *    output is always valid UTF-8 JSON;
 *  - numbers: integers exactly; doubles in the shortest of %.15g / %.17g
 *    that reads back equal (NaN and infinities as null, which JSON lacks);
 *  - an allocation failure sets oom and stops appending (buf stays a
 *    NUL-terminated prefix); the caller checks oom once at the end.
 *
 * Reader: validates the whole text (RFC 8259 grammar, at most 64 nested
 * arrays / objects counting the top-level object, UTF-8 strings without
 * raw control bytes, \u escapes with surrogate pairs; a lone surrogate is
 * rejected) and returns the first top-level member whose unescaped key
 * equals key.  Strings are unescaped to UTF-8; numbers, true, false, null
 * and nested objects / arrays are copied as written.  A value longer than
 * out_size - 1 bytes is cut at a UTF-8 character boundary (still found).
 * An escaped \u0000 ends the C string early.
 */
#include "seo.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

/* Validate one UTF-8 character at s (n > 0 bytes): its length, or -k if
 * the first k bytes are a maximal invalid subpart. */
static int utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    int need;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0Fu;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07u;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return -1;
    }
    for (int k = 1; k <= need; k++) {
        if ((size_t)k >= n || s[k] < lo || s[k] > hi) {
            return -k;
        }
        v = v << 6 | (s[k] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

/* ---------------------------------------------------------------------- */
/* Writer                                                                  */
/* ---------------------------------------------------------------------- */

void cx_json_init(struct cx_json *j)
{
    memset(j, 0, sizeof *j);
    j->first = 1;
}

void cx_json_free(struct cx_json *j)
{
    free(j->buf);
    cx_json_init(j);
}

static void put(struct cx_json *j, const char *s, size_t n)
{
    if (j->oom) {
        return;
    }
    if (n >= j->cap - j->len || j->buf == NULL) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap - j->len <= n) {
            if (cap > SIZE_MAX / 2) {
                j->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *nb = realloc(j->buf, cap);
        if (nb == NULL) {
            j->oom = 1;
            return;
        }
        j->buf = nb;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void put_string(struct cx_json *j, const char *v, size_t n)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t i = 0, run = 0;
    put(j, "\"", 1);
    while (i < n) {
        uint32_t cp;
        int k = s[i] >= 0x80 ? utf8_len(s + i, n - i, &cp) : 1;
        if (k > 0 && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\') {
            i += (size_t)k; /* part of a verbatim run */
            continue;
        }
        put(j, v + run, i - run);
        if (k < 0) {
            put(j, "\\ufffd", 6);
            i += (size_t)-k;
        } else if (s[i] == '"' || s[i] == '\\') {
            char esc[2] = {'\\', (char)s[i]};
            put(j, esc, 2);
            i++;
        } else {
            static const char hex[] = "0123456789abcdef";
            char esc[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15]};
            put(j, esc, 6);
            i++;
        }
        run = i;
    }
    put(j, v + run, i - run);
    put(j, "\"", 1);
}

static void member(struct cx_json *j, const char *key)
{
    if (!j->first) {
        put(j, ",", 1);
    }
    j->first = 0;
    put_string(j, key != NULL ? key : "", key != NULL ? strlen(key) : 0);
    put(j, ":", 1);
}

void cx_json_open(struct cx_json *j)
{
    put(j, "{", 1);
    j->first = 1;
}

void cx_json_close(struct cx_json *j)
{
    put(j, "}", 1);
    j->first = 0;
}

void cx_json_str(struct cx_json *j, const char *key, const char *v)
{
    cx_json_strn(j, key, v, v != NULL ? strlen(v) : 0);
}

void cx_json_strn(struct cx_json *j, const char *key, const char *v, size_t len)
{
    member(j, key);
    if (v == NULL) {
        put(j, "null", 4);
    } else {
        put_string(j, v, len);
    }
}

void cx_json_int(struct cx_json *j, const char *key, int64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    member(j, key);
    put(j, b, (size_t)n);
}

void cx_json_num(struct cx_json *j, const char *key, double v)
{
    char b[40];
    member(j, key);
    if (!isfinite(v)) {
        put(j, "null", 4);
        return;
    }
    int n = snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v) {
        n = snprintf(b, sizeof b, "%.17g", v);
    }
    for (int i = 0; i < n; i++) {
        if (b[i] == ',') {
            b[i] = '.'; /* a locale's decimal comma */
        }
    }
    put(j, b, (size_t)n);
}

void cx_json_bool(struct cx_json *j, const char *key, int v)
{
    member(j, key);
    put(j, v ? "true" : "false", v ? 4 : 5);
}

/* ---------------------------------------------------------------------- */
/* Reader                                                                  */
/* ---------------------------------------------------------------------- */

struct parser {
    const unsigned char *s;
    size_t n, i;
};

/* Where an unescaped string goes: compared with key and / or written to a
 * bounded buffer, whole characters only. */
struct dest {
    const char *key; /* NULL: no comparison */
    size_t klen, kpos;
    int kdiff;
    char *buf; /* NULL: not written */
    size_t cap, len;
    int full;
};

static void dest_put(struct dest *d, const unsigned char *b, size_t n)
{
    if (d == NULL) {
        return;
    }
    if (d->key != NULL) {
        if (d->kdiff || n > d->klen - d->kpos ||
            memcmp(d->key + d->kpos, b, n) != 0) {
            d->kdiff = 1;
        } else {
            d->kpos += n;
        }
    }
    if (d->buf != NULL && !d->full) {
        if (n >= d->cap - d->len) {
            d->full = 1;
        } else {
            memcpy(d->buf + d->len, b, n);
            d->len += n;
            d->buf[d->len] = '\0';
        }
    }
}

static void ws(struct parser *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                           p->s[p->i] == '\n' || p->s[p->i] == '\r')) {
        p->i++;
    }
}

static int hex4(struct parser *p, uint32_t *v)
{
    *v = 0;
    if (p->n - p->i < 4) {
        return -1;
    }
    for (int k = 0; k < 4; k++) {
        int c = p->s[p->i++], d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            d = (c | 0x20) - 'a' + 10;
        } else {
            return -1;
        }
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

size_t cx_utf8_encode(uint32_t cp, unsigned char out[4])
{
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t k = n - 1; k > 0; k--, cp >>= 6) {
        out[k] = (unsigned char)(0x80 | (cp & 0x3F));
    }
    out[0] = (unsigned char)(lead[n] | cp);
    return n;
}

static void put_cp(struct dest *d, uint32_t cp)
{
    unsigned char b[4];
    dest_put(d, b, cx_utf8_encode(cp, b));
}

/* A string at p->i ('"'), unescaped into d (may be NULL). */
static int parse_string(struct parser *p, struct dest *d)
{
    p->i++;
    for (;;) {
        if (p->i >= p->n) {
            return -1;
        }
        unsigned char c = p->s[p->i];
        uint32_t cp;
        if (c == '"') {
            p->i++;
            return 0;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c != '\\') {
            int k = utf8_len(p->s + p->i, p->n - p->i, &cp);
            if (k < 0) {
                return -1;
            }
            dest_put(d, p->s + p->i, (size_t)k);
            p->i += (size_t)k;
            continue;
        }
        if (++p->i >= p->n) {
            return -1;
        }
        c = p->s[p->i++];
        static const char esc[] = "\"\\/bfnrt", repl[] = "\"\\/\b\f\n\r\t";
        const char *simple = c != '\0' ? strchr(esc, c) : NULL;
        if (simple != NULL) {
            put_cp(d, (unsigned char)repl[simple - esc]);
            continue;
        }
        if (c != 'u' || hex4(p, &cp) < 0) {
            return -1;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return -1; /* lone low surrogate */
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (p->n - p->i < 2 || p->s[p->i] != '\\' ||
                p->s[p->i + 1] != 'u') {
                return -1;
            }
            p->i += 2;
            if (hex4(p, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                return -1;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        put_cp(d, cp);
    }
}

static size_t digits(struct parser *p)
{
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        p->i++;
    }
    return p->i - start;
}

static int parse_number(struct parser *p)
{
    if (p->s[p->i] == '-') {
        p->i++;
    }
    if (p->i < p->n && p->s[p->i] == '0') {
        p->i++;
    } else if (digits(p) == 0) {
        return -1;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (digits(p) == 0) {
            return -1;
        }
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) {
            p->i++;
        }
        if (digits(p) == 0) {
            return -1;
        }
    }
    return 0;
}

static int parse_value(struct parser *p, int depth);

/* An object or array at p->i; for the top-level object, the first member
 * named key is reported in *vstart / *vend (*found = 1). */
static int parse_container(struct parser *p, int depth, const char *key,
                           size_t *vstart, size_t *vend, int *found)
{
    int obj = p->s[p->i] == '{';
    unsigned char close = obj ? '}' : ']';
    if (depth > JSON_MAX_DEPTH) {
        return -1;
    }
    p->i++;
    ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        struct dest kd = {key, key != NULL ? strlen(key) : 0, 0, 0, NULL, 0, 0,
                          0};
        if (obj) {
            if (p->i >= p->n || p->s[p->i] != '"' ||
                parse_string(p, key != NULL ? &kd : NULL) < 0) {
                return -1;
            }
            ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                return -1;
            }
            p->i++;
            ws(p);
        }
        size_t start = p->i;
        if (parse_value(p, depth) < 0) {
            return -1;
        }
        if (key != NULL && !*found && !kd.kdiff && kd.kpos == kd.klen) {
            *found = 1;
            *vstart = start;
            *vend = p->i;
        }
        ws(p);
        if (p->i >= p->n) {
            return -1;
        }
        if (p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        if (p->s[p->i] != ',') {
            return -1;
        }
        p->i++;
        ws(p);
    }
}

static int parse_value(struct parser *p, int depth)
{
    static const char *const lits[] = {"true", "false", "null"};
    if (p->i >= p->n) {
        return -1;
    }
    unsigned char c = p->s[p->i];
    if (c == '{' || c == '[') {
        return parse_container(p, depth + 1, NULL, NULL, NULL, NULL);
    }
    if (c == '"') {
        return parse_string(p, NULL);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        return parse_number(p);
    }
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (p->n - p->i >= l && memcmp(p->s + p->i, lits[k], l) == 0) {
            p->i += l;
            return 0;
        }
    }
    return -1;
}

int cx_json_get(const char *text, size_t len, const char *key, char *out,
                size_t out_size)
{
    struct parser p = {(const unsigned char *)text, text != NULL ? len : 0, 0};
    size_t vs = 0, ve = 0;
    int found = 0;
    if (out != NULL && out_size > 0) {
        out[0] = '\0';
    }
    ws(&p);
    if (p.i >= p.n || p.s[p.i] != '{' ||
        parse_container(&p, 1, key != NULL ? key : "", &vs, &ve, &found) < 0) {
        return -1;
    }
    ws(&p);
    if (p.i != p.n) {
        return -1;
    }
    if (key == NULL || !found) {
        return 0;
    }
    if (out == NULL || out_size == 0) {
        return 1;
    }
    if (p.s[vs] == '"') {
        struct dest d = {NULL, 0, 0, 0, out, out_size, 0, 0};
        p.i = vs;
        (void)parse_string(&p, &d); /* validated above */
        return 1;
    }
    size_t n = ve - vs;
    if (n >= out_size) { /* cut before a character's first byte */
        n = out_size - 1;
        while (n > 0 && (p.s[vs + n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(out, p.s + vs, n);
    out[n] = '\0';
    return 1;
}
