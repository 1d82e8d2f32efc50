/*
 * robots.c - robots.txt for one user agent (RFC 9309, as Google's parser
 * reads it).  Part of the crawl pipeline examples, not of libcrawllog.
 * A parsed struct cx_robots is immutable: cx_robots_allowed and
 * cx_robots_crawl_delay_ms may be called from any number of threads.
 *
 * Parsing:
 *  - at most the first 500 KiB are read (RFC 9309 section 2.5); a line cut
 *    by that limit is dropped, so a cut rule cannot widen its meaning;
 *  - a UTF-8 BOM is skipped; lines end at LF, CR or CRLF; "#" starts a
 *    comment; lines are "key: value" (keys case-insensitive; like Google, a
 *    missing ":" is accepted when the line is exactly two words); unknown
 *    keys and garbage lines are ignored;
 *  - a group is one or more User-agent lines followed by rules (Allow,
 *    Disallow, Crawl-delay); a User-agent line after rules starts a new
 *    group; rules before any User-agent line are ignored.  Sitemap and
 *    unknown lines do not end the User-agent lines of a group;
 *  - the agent matched is the product token of user_agent, its leading
 *    [A-Za-z_-] characters ("crawllog-crawler/1" is "crawllog-crawler"),
 *    compared case-insensitively with the same prefix of each User-agent
 *    value.  All groups naming it are merged; if none does (no group at
 *    all, even an empty one), the "*" groups are merged instead;
 *  - an empty Allow or Disallow is no rule (empty Disallow: all allowed);
 *  - Crawl-delay: the first valid one of the selected groups, decimal
 *    seconds with an optional fraction ("0.5"), truncated to milliseconds
 *    and capped at 10^9 s; anything else is ignored.
 *
 * Matching (cx_robots_allowed): "*" matches any run of characters and a
 * final "$" anchors the pattern to the end of the path; elsewhere "$" is a
 * literal.  A pattern otherwise matches a prefix of the path.  The longest
 * matching pattern (in bytes, after normalisation) wins, Allow on a tie;
 * no match means allowed.  "/robots.txt" is always allowed.  The fragment
 * of the path is ignored.
 *
 * Percent-encoding (RFC 9309 section 2.2.2, kept simple): patterns and
 * paths are normalised the same way before comparing: "%XX" of an
 * unreserved character (ALPHA DIGIT - . _ ~) is decoded, other "%XX" get
 * upper-case hex digits, and bytes that cannot appear raw in a URI
 * (controls, space, 0x7F and above) are percent-encoded.  Nothing else is
 * decoded: "%2F" does not match "/".
 *
 * Cost: matching is linear, O(path + pattern) per rule (leftmost
 * segment search with Knuth-Morris-Pratt), so a hostile file of long
 * "*" patterns cannot stall a check: at most a few ms for 500 KiB.
 */
#include "seo.h"

#include <stdlib.h>
#include <string.h>

#define ROBOTS_MAX (500 * 1024)
#define DELAY_MAX_S 1000000000LL

struct rule {
    char *pat; /* normalised, NUL-terminated */
    size_t len;
    int allow;
};

struct rules {
    struct rule *v;
    size_t n, cap;
    int64_t delay_ms;
};

struct cx_robots {
    struct rules r;
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}
static int is_sp(int c)
{
    return c == ' ' || c == '\t';
}

static int hexval(int c)
{
    c = lower(c);
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

static int unreserved(int c)
{
    return (lower(c) >= 'a' && lower(c) <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Normalise n bytes of s (see the header comment) into a new string. */
static char *normalise(const char *s, size_t n, size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n > (SIZE_MAX - 1) / 3) {
        return NULL;
    }
    char *o = malloc(n * 3 + 1);
    if (o == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int h, l;
        if (c == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0) {
            int v = h * 16 + l;
            if (unreserved(v)) {
                o[k++] = (char)v;
            } else {
                o[k++] = '%';
                o[k++] = hex[h];
                o[k++] = hex[l];
            }
            i += 2;
        } else if (c <= 0x20 || c >= 0x7F) {
            o[k++] = '%';
            o[k++] = hex[c >> 4];
            o[k++] = hex[c & 15];
        } else {
            o[k++] = (char)c;
        }
    }
    o[k] = '\0';
    *out_len = k;
    return o;
}

/* Knuth-Morris-Pratt: the end of the leftmost occurrence of seg (m > 0
 * bytes) in s[from, n), or NOPE; fail is scratch of at least n entries. */
#define NOPE ((size_t)-1)
static size_t find(const char *s, size_t n, size_t from, const char *seg,
                   size_t m, size_t *fail)
{
    if (m > n - from) {
        return NOPE;
    }
    fail[0] = 0;
    for (size_t i = 1, k = 0; i < m; i++) {
        while (k > 0 && seg[i] != seg[k]) {
            k = fail[k - 1];
        }
        k += seg[i] == seg[k];
        fail[i] = k;
    }
    for (size_t i = from, k = 0; i < n; i++) {
        while (k > 0 && s[i] != seg[k]) {
            k = fail[k - 1];
        }
        k += s[i] == seg[k];
        if (k == m) {
            return i + 1;
        }
    }
    return NOPE;
}

/* Does pattern p (pn bytes) match path s: "*" any run, a final "$" the
 * end, else a prefix?  With "*" the only wildcard, placing each segment
 * between stars at its leftmost occurrence is exact; O(sn + pn). */
static int match(const char *s, size_t sn, const char *p, size_t pn,
                 size_t *fail)
{
    int anchored = pn > 0 && p[pn - 1] == '$';
    if (anchored) {
        pn--;
    }
    const char *star = memchr(p, '*', pn);
    size_t m = star != NULL ? (size_t)(star - p) : pn;
    if (m > sn || memcmp(s, p, m) != 0) {
        return 0;
    }
    if (star == NULL) {
        return !anchored || m == sn;
    }
    size_t pos = m, pi = m + 1;
    while (pi < pn && (star = memchr(p + pi, '*', pn - pi)) != NULL) {
        m = (size_t)(star - (p + pi));
        if (m > 0 && (pos = find(s, sn, pos, p + pi, m, fail)) == NOPE) {
            return 0;
        }
        pi += m + 1;
    }
    m = pn - pi; /* the last segment */
    if (anchored) {
        return sn - pos >= m && memcmp(s + sn - m, p + pi, m) == 0;
    }
    return m == 0 || find(s, sn, pos, p + pi, m, fail) != NOPE;
}

/* The product token: the leading [A-Za-z_-] characters of s (n bytes). */
static size_t token_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && ((lower(s[i]) >= 'a' && lower(s[i]) <= 'z') ||
                     s[i] == '-' || s[i] == '_')) {
        i++;
    }
    return i;
}

static int add_rule(struct rules *r, const char *v, size_t n, int allow)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct rule *nv = realloc(r->v, cap * sizeof *nv);
        if (nv == NULL) {
            return -1;
        }
        r->v = nv;
        r->cap = cap;
    }
    struct rule ru = {NULL, 0, allow};
    ru.pat = normalise(v, n, &ru.len);
    if (ru.pat == NULL) {
        return -1;
    }
    r->v[r->n++] = ru;
    return 0;
}

static void free_rules(struct rules *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].pat);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Crawl-delay value: ms, or -1 if not a non-negative decimal number. */
static int64_t parse_delay(const char *v, size_t n)
{
    int64_t s = 0, ms = 0;
    size_t i = 0, digits = 0;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
        s = s < DELAY_MAX_S ? s * 10 + (v[i] - '0') : DELAY_MAX_S;
    }
    if (i < n && v[i] == '.') {
        int64_t scale = 100;
        for (i++; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
            ms += (v[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (digits == 0 || i != n) {
        return -1;
    }
    return (s < DELAY_MAX_S ? s : DELAY_MAX_S) * 1000 + ms;
}

enum key { K_NONE, K_AGENT, K_ALLOW, K_DISALLOW, K_DELAY, K_OTHER };

static enum key parse_key(const char *k, size_t n)
{
    static const struct {
        const char *name;
        enum key key;
    } keys[] = {
        {"user-agent", K_AGENT},  {"useragent", K_AGENT},
        {"user agent", K_AGENT},  {"allow", K_ALLOW},
        {"disallow", K_DISALLOW}, {"dissallow", K_DISALLOW},
        {"dissalow", K_DISALLOW}, {"disalow", K_DISALLOW},
        {"crawl-delay", K_DELAY}, {"crawldelay", K_DELAY},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *name = keys[i].name;
        if (strlen(name) != n) {
            continue;
        }
        size_t j = 0;
        while (j < n && lower(k[j]) == name[j]) {
            j++;
        }
        if (j == n) {
            return keys[i].key;
        }
    }
    return K_OTHER;
}

/* Split a line (comment and surrounding blanks already removed) into key
 * and value; K_NONE if it is not a record. */
static enum key split_line(const char *s, size_t n, const char **val,
                           size_t *vn)
{
    const char *colon = memchr(s, ':', n);
    size_t kn;
    if (colon != NULL) {
        kn = (size_t)(colon - s);
        *val = colon + 1;
        *vn = n - kn - 1;
    } else { /* "key value", exactly two words */
        kn = 0;
        while (kn < n && !is_sp(s[kn])) {
            kn++;
        }
        size_t v = kn;
        while (v < n && is_sp(s[v])) {
            v++;
        }
        if (v == kn || v == n) {
            return K_NONE;
        }
        for (size_t j = v; j < n; j++) {
            if (is_sp(s[j])) {
                return K_NONE;
            }
        }
        *val = s + v;
        *vn = n - v;
    }
    while (kn > 0 && is_sp(s[kn - 1])) {
        kn--;
    }
    while (*vn > 0 && is_sp((*val)[0])) {
        (*val)++;
        (*vn)--;
    }
    return kn == 0 ? K_NONE : parse_key(s, kn);
}

struct cx_robots *cx_robots_parse(const char *txt, size_t len,
                                  const char *user_agent)
{
    struct cx_robots *res = calloc(1, sizeof *res);
    struct rules spec = {NULL, 0, 0, -1}, glob = {NULL, 0, 0, -1};
    if (res == NULL) {
        return NULL;
    }
    res->r.delay_ms = -1;
    if (txt == NULL) {
        return res;
    }
    const char *ua = user_agent != NULL ? user_agent : "";
    size_t ua_len = token_len(ua, strlen(ua));
    int in_agents = 0, cur_spec = 0, cur_glob = 0, seen_spec = 0;
    size_t i = 0;
    if (len > ROBOTS_MAX + 1) {
        len = ROBOTS_MAX + 1; /* enough to see whether a line is cut */
    }
    if (len >= 3 && memcmp(txt, "\xEF\xBB\xBF", 3) == 0) {
        i = 3;
    }
    while (i < len) {
        size_t e = i;
        while (e < len && txt[e] != '\n' && txt[e] != '\r') {
            e++;
        }
        size_t next = e + 1;
        if (e > ROBOTS_MAX) {
            break; /* the line reaches past the cap */
        }
        const char *s = txt + i;
        const char *hash = memchr(s, '#', e - i);
        size_t n = hash != NULL ? (size_t)(hash - s) : e - i;
        while (n > 0 && is_sp(s[0])) {
            s++;
            n--;
        }
        while (n > 0 && is_sp(s[n - 1])) {
            n--;
        }
        i = next;
        const char *v = NULL;
        size_t vn = 0;
        enum key k = n > 0 ? split_line(s, n, &v, &vn) : K_NONE;
        int rc = 0;
        switch (k) {
        case K_AGENT:
            if (!in_agents) {
                cur_spec = cur_glob = 0;
                in_agents = 1;
            }
            if (vn >= 1 && v[0] == '*' && (vn == 1 || is_sp(v[1]))) {
                cur_glob = 1;
            } else {
                size_t tl = token_len(v, vn), j = 0;
                while (j < tl && j < ua_len && lower(v[j]) == lower(ua[j])) {
                    j++;
                }
                if (tl > 0 && tl == ua_len && j == tl) {
                    cur_spec = seen_spec = 1;
                }
            }
            break;
        case K_ALLOW:
        case K_DISALLOW:
            in_agents = 0;
            if (vn == 0) {
                break;
            }
            if (cur_spec) {
                rc |= add_rule(&spec, v, vn, k == K_ALLOW);
            }
            if (cur_glob) {
                rc |= add_rule(&glob, v, vn, k == K_ALLOW);
            }
            break;
        case K_DELAY: {
            in_agents = 0;
            int64_t d = parse_delay(v, vn);
            if (d >= 0 && cur_spec && spec.delay_ms < 0) {
                spec.delay_ms = d;
            }
            if (d >= 0 && cur_glob && glob.delay_ms < 0) {
                glob.delay_ms = d;
            }
            break;
        }
        default:
            break;
        }
        if (rc != 0) {
            free_rules(&spec);
            free_rules(&glob);
            free(res);
            return NULL;
        }
        if (next < len && txt[e] == '\r' && txt[next] == '\n') {
            i = next + 1;
        }
    }
    if (seen_spec) {
        res->r = spec;
        free_rules(&glob);
    } else {
        res->r = glob;
        free_rules(&spec);
    }
    return res;
}

int cx_robots_allowed(const struct cx_robots *r, const char *path)
{
    if (r == NULL || path == NULL) {
        return 1;
    }
    size_t pn = strcspn(path, "#");
    if (pn == 0) {
        path = "/";
        pn = 1;
    }
    if (pn == 11 && memcmp(path, "/robots.txt", 11) == 0) {
        return 1;
    }
    if (r->r.n == 0) {
        return 1;
    }
    size_t sn;
    char *s = normalise(path, pn, &sn);
    size_t *fail = s != NULL ? malloc(sn * sizeof *fail) : NULL;
    if (fail == NULL) {
        free(s);
        return 0; /* out of memory: fail closed */
    }
    size_t best_allow = 0, best_dis = 0;
    int any_allow = 0, any_dis = 0;
    for (size_t i = 0; i < r->r.n; i++) {
        const struct rule *ru = &r->r.v[i];
        size_t *best = ru->allow ? &best_allow : &best_dis;
        int *any = ru->allow ? &any_allow : &any_dis;
        if ((!*any || ru->len > *best) &&
            match(s, sn, ru->pat, ru->len, fail)) {
            *best = ru->len;
            *any = 1;
        }
    }
    free(fail);
    free(s);
    return !any_dis || (any_allow && best_allow >= best_dis);
}

int64_t cx_robots_crawl_delay_ms(const struct cx_robots *r)
{
    return r == NULL ? -1 : r->r.delay_ms;
}

void cx_robots_free(struct cx_robots *r)
{
    if (r != NULL) {
        free_rules(&r->r);
        free(r);
    }
}
