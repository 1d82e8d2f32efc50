/*
 * seo.c - the SEO facts of an HTML page (cx_seo_extract) and its links
 * (cx_seo_links): one tolerant pass over arbitrary bytes, modelled on the
 * WHATWG HTML tokenizer (no tree builder).  Part of the crawl pipeline
 * examples, not of libcrawllog.  No global state (thread-safe); the only
 * allocation is a scratch buffer for a long href.
 *
 * Tokens:
 *  - "<" + ASCII letter starts a tag, "</" + letter an end tag; names run
 *    to whitespace, "/" or ">", compared case-insensitively.  Attribute
 *    values: "double", 'single' quoted or bare (to whitespace or ">"); the
 *    first of duplicated attributes wins.  A tag cut off by the end of the
 *    input is dropped, with the rest of the input.
 *  - "<!--" comments end at "-->" or "--!>" ("<!-->", "<!--->" are empty);
 *    "<!", "<?" and "</" + non-letter are bogus comments to the next ">".
 *    Unterminated, they run to the end of input.  Any other "<" is text.
 *  - raw text: the content of script, style, noscript, iframe, noembed,
 *    noframes, xmp, textarea and title is not scanned for tags; it ends at
 *    "</name" + whitespace, "/" or ">" (any case), else at the end of input
 *    (script's "<!--" escape is not modelled).
 *
 * Results:
 *  - title: the first <title>'s content, entities decoded, ASCII
 *    whitespace collapsed to one space and trimmed, NUL as U+FFFD, cut at
 *    a UTF-8 character boundary to fit.
 *  - description: content of the first <meta> named "description" (any
 *    case, surrounding blanks ignored) with a content attribute; decoded
 *    and collapsed like the title.
 *  - canonical: href of the first <link> whose rel has the token
 *    "canonical"; decoded, surrounding whitespace trimmed, not resolved
 *    against the page URL; "" if it does not fit (a cut URL is another).
 *  - h1_count: <h1> start tags; link_count: <a> start tags with an href
 *    (even empty), exactly the hrefs cx_seo_links reports (decoded,
 *    surrounding whitespace trimmed).
 *  - word_count: runs of non-separators in text outside tags, comments and
 *    the raw text of script, style, noscript, iframe, noembed, noframes
 *    and title (textarea and xmp text counts).  Separators: ASCII
 *    whitespace, U+00A0 (raw or as an entity), and every tag or comment
 *    ("<li>a</li><li>b</li>" is two words, "wo<b>rd</b>" too).  Other
 *    entities are text: "a &amp; b" is three words.
 *
 * Entities: &amp; &lt; &gt; &quot; &apos; &nbsp; and a few typographic
 * names (table below), with their ";"; numeric &#N; / &#xH; (";" optional;
 * 0, surrogates and > U+10FFFF as U+FFFD, 0x80-0x9F as windows-1252, as
 * HTML does).  Anything else is kept as written.
 */
#include "seo.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define IS_WS(c)                                                               \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\f' || (c) == '\r')

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}
#define IS_ALPHA(c) ((unsigned)(lower(c) - 'a') < 26u)

/* n bytes at p equal the lower-case ASCII string s, ignoring case. */
static int ieq(const unsigned char *p, size_t n, const char *s)
{
    size_t i = 0;
    for (; i < n && s[i] != '\0'; i++) {
        if (lower(p[i]) != s[i]) {
            return 0;
        }
    }
    return i == n && s[i] == '\0';
}

/* ---------------------------------------------------------------------- */
/* Entities                                                                */
/* ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    uint32_t cp;
} named[] = {
    {"amp", '&'},      {"lt", '<'},        {"gt", '>'},       {"quot", '"'},
    {"apos", '\''},    {"nbsp", 0xA0},     {"copy", 0xA9},    {"reg", 0xAE},
    {"trade", 0x2122}, {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
    {"lsquo", 0x2018}, {"rsquo", 0x2019},  {"ldquo", 0x201C}, {"rdquo", 0x201D},
    {"laquo", 0xAB},   {"raquo", 0xBB},    {"middot", 0xB7},  {"bull", 0x2022},
    {"euro", 0x20AC},  {"times", 0xD7},
};

/* HTML's remapping of numeric references 0x80-0x9F (windows-1252); 0 keeps
 * the code point. */
static const uint16_t cp1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/* p[0] is '&': the length of the reference at p (0: not one) and its code
 * point in *cp. */
static size_t entity(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t i = 1;
    if (n > 2 && p[1] == '#') {
        int hex = p[2] == 'x' || p[2] == 'X';
        uint32_t v = 0;
        size_t digits = 0;
        for (i = hex ? 3 : 2; i < n; i++, digits++) {
            int c = lower(p[i]), d;
            if (c >= '0' && c <= '9') {
                d = c - '0';
            } else if (hex && c >= 'a' && c <= 'f') {
                d = c - 'a' + 10;
            } else {
                break;
            }
            v = v > 0x10FFFF ? v : v * (hex ? 16u : 10u) + (uint32_t)d;
        }
        if (digits == 0) {
            return 0;
        }
        if (i < n && p[i] == ';') {
            i++;
        }
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
            v = 0xFFFD;
        } else if (v >= 0x80 && v <= 0x9F && cp1252[v - 0x80] != 0) {
            v = cp1252[v - 0x80];
        }
        *cp = v;
        return i;
    }
    while (i < n && i < 8 && IS_ALPHA(p[i])) {
        i++;
    }
    if (i == 1 || i >= n || p[i] != ';') {
        return 0;
    }
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        if (strlen(named[k].name) == i - 1 &&
            memcmp(named[k].name, p + 1, i - 1) == 0) {
            *cp = named[k].cp;
            return i + 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Output strings                                                          */
/* ---------------------------------------------------------------------- */

/* A bounded output string (cap >= 1), optionally collapsing whitespace
 * (space: one is pending).  Whole characters are appended; the first that
 * does not fit ends it (full). */
struct sink {
    char *buf;
    size_t cap, len;
    int collapse, space, full;
};

static void sink_put(struct sink *s, const unsigned char *b, size_t n)
{
    if (s->collapse && n == 1 && IS_WS(b[0])) {
        s->space = s->len > 0;
        return;
    }
    size_t need = n + (s->space ? 1 : 0);
    if (s->full || s->len + need >= s->cap) {
        s->full = 1;
        return;
    }
    if (s->space) {
        s->buf[s->len++] = ' ';
        s->space = 0;
    }
    memcpy(s->buf + s->len, b, n);
    s->len += n;
}

static void sink_cp(struct sink *s, uint32_t cp)
{
    unsigned char b[4];
    sink_put(s, b, cx_utf8_encode(cp, b));
}

/* Length of the (possibly invalid) UTF-8 character starting with lead byte
 * c, so that a sink never splits one: 1 for ASCII and stray bytes. */
static size_t char_len(unsigned char c)
{
    return c >= 0xF0 && c <= 0xF4 ? 4
           : c >= 0xE0            ? (c <= 0xEF ? 3 : 1)
           : c >= 0xC2            ? 2
                                  : 1;
}

/* Append n raw bytes, entities decoded, NUL as U+FFFD. */
static void sink_decode(struct sink *s, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && !s->full) {
        uint32_t cp;
        size_t k;
        if (p[i] == '&' && (k = entity(p + i, n - i, &cp)) > 0) {
            sink_cp(s, cp);
            i += k;
        } else if (p[i] == '\0') {
            sink_cp(s, 0xFFFD);
            i++;
        } else {
            k = char_len(p[i]);
            k = k <= n - i ? k : 1;
            for (size_t j = 1; j < k; j++) {
                if ((p[i + j] & 0xC0) != 0x80) {
                    k = 1; /* invalid: the lead byte alone */
                }
            }
            sink_put(s, p + i, k);
            i += k;
        }
    }
    s->buf[s->len] = '\0';
}

/* Decode n bytes at p into buf (cap >= 1 bytes), collapsing whitespace or
 * not; 1 if they did not all fit. */
static int decode_to(char *buf, size_t cap, int collapse,
                     const unsigned char *p, size_t n)
{
    struct sink s = {buf, cap, 0, collapse, 0, 0};
    buf[0] = '\0';
    sink_decode(&s, p, n);
    return s.full;
}

/* ---------------------------------------------------------------------- */
/* Tags                                                                    */
/* ---------------------------------------------------------------------- */

struct span {
    const unsigned char *p;
    size_t n;
    int set;
};

struct tag {
    int end;       /* </name> */
    char name[12]; /* lower case; "" if longer than we care about */
    struct span a_name, a_content, a_rel, a_href;
};

static void keep_attr(struct tag *t, const unsigned char *name, size_t nn,
                      const unsigned char *v, size_t vn)
{
    struct span *sp = ieq(name, nn, "name")      ? &t->a_name
                      : ieq(name, nn, "content") ? &t->a_content
                      : ieq(name, nn, "rel")     ? &t->a_rel
                      : ieq(name, nn, "href")    ? &t->a_href
                                                 : NULL;
    if (sp != NULL && !sp->set) {
        sp->p = v;
        sp->n = vn;
        sp->set = 1;
    }
}

/* Parse the tag at p[i] ('<'); the position after its '>', or 0 if the
 * input ends first. */
static size_t parse_tag(const unsigned char *p, size_t n, size_t i,
                        struct tag *t)
{
    memset(t, 0, sizeof *t);
    i++;
    if (p[i] == '/') {
        t->end = 1;
        i++;
    }
    size_t start = i;
    while (i < n && !IS_WS(p[i]) && p[i] != '/' && p[i] != '>') {
        i++;
    }
    if (i - start < sizeof t->name) {
        for (size_t k = start; k < i; k++) {
            t->name[k - start] = (char)lower(p[k]);
        }
    }
    for (;;) {
        while (i < n && (IS_WS(p[i]) || p[i] == '/')) {
            i++;
        }
        if (i >= n) {
            return 0;
        }
        if (p[i] == '>') {
            return i + 1;
        }
        size_t an = i++; /* a first '=' belongs to the name */
        while (i < n && !IS_WS(p[i]) && p[i] != '/' && p[i] != '>' &&
               p[i] != '=') {
            i++;
        }
        size_t an_len = i - an;
        size_t j = i;
        while (j < n && IS_WS(p[j])) {
            j++;
        }
        if (j >= n || p[j] != '=') {
            keep_attr(t, p + an, an_len, p + an, 0);
            continue; /* no value; i is at what follows the name */
        }
        j++;
        while (j < n && IS_WS(p[j])) {
            j++;
        }
        if (j >= n) {
            return 0;
        }
        if (p[j] == '"' || p[j] == '\'') {
            const unsigned char *q = memchr(p + j + 1, p[j], n - j - 1);
            if (q == NULL) {
                return 0;
            }
            keep_attr(t, p + an, an_len, p + j + 1, (size_t)(q - p) - j - 1);
            i = (size_t)(q - p) + 1;
        } else {
            size_t v = j;
            while (j < n && !IS_WS(p[j]) && p[j] != '>') {
                j++;
            }
            keep_attr(t, p + an, an_len, p + v, j - v);
            i = j;
        }
    }
}

/* The end of the raw text that starts at i inside element name: the
 * position of its "</name" end tag, or n. */
static size_t raw_end(const unsigned char *p, size_t n, size_t i,
                      const char *name)
{
    size_t nl = strlen(name);
    while (i < n) {
        const unsigned char *q = memchr(p + i, '<', n - i);
        if (q == NULL) {
            return n;
        }
        i = (size_t)(q - p);
        if (n - i > nl + 2 && p[i + 1] == '/' && ieq(p + i + 2, nl, name)) {
            unsigned char c = p[i + 2 + nl];
            if (IS_WS(c) || c == '/' || c == '>') {
                return i;
            }
        }
        i++;
    }
    return n;
}

/* ---------------------------------------------------------------------- */
/* The scanner                                                             */
/* ---------------------------------------------------------------------- */

struct scan {
    const unsigned char *p;
    size_t n;
    struct cx_seo *out; /* NULL: links only */
    int (*fn)(void *opaque, const char *href);
    void *opaque;
    int stop, have_title, have_desc, have_canon;
};

static void count_add(int *c)
{
    *c += *c < INT_MAX;
}

static void count_words(struct scan *sc, const unsigned char *p, size_t n)
{
    int in_word = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = 1, e;
        int sep = IS_WS(p[i]);
        if (p[i] == 0xC2 && i + 1 < n && p[i + 1] == 0xA0) {
            sep = 1;
            k = 2;
        } else if (p[i] == '&' && (e = entity(p + i, n - i, &cp)) > 0) {
            sep = cp == 0xA0 || (cp < 0x80 && IS_WS(cp));
            k = e;
        }
        if (sep) {
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            count_add(&sc->out->word_count);
        }
        i += k;
    }
}

static void trim(const unsigned char **p, size_t *n)
{
    while (*n > 0 && IS_WS((*p)[0])) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && IS_WS((*p)[*n - 1])) {
        (*n)--;
    }
}

/* Does the space-separated list sp contain token tok (case-insensitive)? */
static int has_token(struct span sp, const char *tok)
{
    for (size_t i = 0, start = 0; i <= sp.n; i++) {
        if (i == sp.n || IS_WS(sp.p[i])) {
            if (i > start && ieq(sp.p + start, i - start, tok)) {
                return 1;
            }
            start = i + 1;
        }
    }
    return 0;
}

static void on_link(struct scan *sc, struct span href)
{
    if (sc->out != NULL) {
        count_add(&sc->out->link_count);
    }
    if (sc->fn == NULL) {
        return;
    }
    trim(&href.p, &href.n);
    char small[1024], *buf = small;
    size_t cap = href.n * 3 + 1; /* NUL bytes grow to 3 */
    if (href.n > SIZE_MAX / 4 ||
        (cap > sizeof small && (buf = malloc(cap)) == NULL)) {
        return; /* out of memory: this link is not reported */
    }
    decode_to(buf, cap, 0, href.p, href.n);
    sc->stop = sc->fn(sc->opaque, buf) != 0;
    if (buf != small) {
        free(buf);
    }
}

static void on_start_tag(struct scan *sc, const struct tag *t)
{
    struct cx_seo *o = sc->out;
    if (strcmp(t->name, "a") == 0 && t->a_href.set) {
        on_link(sc, t->a_href);
    }
    if (o == NULL) {
        return;
    }
    if (strcmp(t->name, "h1") == 0) {
        count_add(&o->h1_count);
    } else if (strcmp(t->name, "meta") == 0 && !sc->have_desc &&
               t->a_content.set && t->a_name.set) {
        struct span nm = t->a_name;
        trim(&nm.p, &nm.n);
        if (ieq(nm.p, nm.n, "description")) {
            decode_to(o->description, sizeof o->description, 1, t->a_content.p,
                      t->a_content.n);
            sc->have_desc = 1;
        }
    } else if (strcmp(t->name, "link") == 0 && !sc->have_canon &&
               t->a_href.set && t->a_rel.set &&
               has_token(t->a_rel, "canonical")) {
        struct span h = t->a_href;
        trim(&h.p, &h.n);
        if (decode_to(o->canonical, sizeof o->canonical, 0, h.p, h.n)) {
            o->canonical[0] = '\0';
        }
        sc->have_canon = 1;
    }
}

/* Elements whose content is raw text, and whether it counts as words. */
static const struct {
    const char *name;
    int words;
} raw_elems[] = {
    {"script", 0}, {"style", 0},   {"noscript", 0},
    {"iframe", 0}, {"noembed", 0}, {"noframes", 0},
    {"title", 0},  {"xmp", 1},     {"textarea", 1},
};

/* The end of the comment or bogus comment starting at p[i] ('<'). */
static size_t skip_comment(const unsigned char *p, size_t n, size_t i)
{
    if (n - i >= 4 && memcmp(p + i, "<!--", 4) == 0) {
        for (size_t j = i + 2; j + 2 < n; j++) { /* "<!-->" ends at once */
            if (p[j] == '-' && p[j + 1] == '-') {
                if (p[j + 2] == '>') {
                    return j + 3;
                }
                if (j + 3 < n && p[j + 2] == '!' && p[j + 3] == '>') {
                    return j + 4;
                }
            }
        }
        return n;
    }
    const unsigned char *q = memchr(p + i + 1, '>', n - i - 1);
    return q == NULL ? n : (size_t)(q - p) + 1;
}

static void scan(struct scan *sc)
{
    const unsigned char *p = sc->p;
    size_t n = sc->n, i = 0, text = 0;
    while (i < n && !sc->stop) {
        const unsigned char *q = memchr(p + i, '<', n - i);
        if (q == NULL || (size_t)(q - p) + 1 >= n) {
            break; /* a final '<' is text */
        }
        i = (size_t)(q - p);
        unsigned char c1 = p[i + 1];
        size_t next;
        struct tag t;
        int start_tag = 0;
        if (c1 == '!' || c1 == '?' ||
            (c1 == '/' && i + 2 < n && !IS_ALPHA(p[i + 2]))) {
            next = skip_comment(p, n, i);
        } else if (IS_ALPHA(c1) || (c1 == '/' && i + 2 < n)) {
            start_tag = c1 != '/';
            next = parse_tag(p, n, i, &t);
            if (next == 0) { /* cut off: dropped with the rest */
                n = i;
                break;
            }
        } else {
            i++;
            continue;
        }
        if (sc->out != NULL) {
            count_words(sc, p + text, i - text);
        }
        i = text = next;
        if (!start_tag) {
            continue;
        }
        on_start_tag(sc, &t);
        for (size_t k = 0; k < sizeof raw_elems / sizeof raw_elems[0]; k++) {
            if (strcmp(t.name, raw_elems[k].name) != 0) {
                continue;
            }
            size_t end = raw_end(p, n, i, t.name);
            if (sc->out != NULL && raw_elems[k].words) {
                count_words(sc, p + i, end - i);
            } else if (sc->out != NULL && !sc->have_title &&
                       strcmp(t.name, "title") == 0) {
                decode_to(sc->out->title, sizeof sc->out->title, 1, p + i,
                          end - i);
                sc->have_title = 1;
            }
            i = text = end;
            break;
        }
    }
    if (sc->out != NULL && !sc->stop) {
        count_words(sc, p + text, n - text);
    }
}

void cx_seo_extract(const char *html, size_t len, struct cx_seo *out)
{
    if (out == NULL) {
        return;
    }
    memset(out, 0, sizeof *out);
    if (html == NULL) {
        return;
    }
    struct scan sc = {
        (const unsigned char *)html, len, out, NULL, NULL, 0, 0, 0, 0};
    scan(&sc);
}

void cx_seo_links(const char *html, size_t len,
                  int (*fn)(void *opaque, const char *href), void *opaque)
{
    if (html == NULL || fn == NULL) {
        return;
    }
    struct scan sc = {
        (const unsigned char *)html, len, NULL, fn, opaque, 0, 0, 0, 0};
    scan(&sc);
}
