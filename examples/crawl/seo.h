/*
 * seo.h - what the crawl examples extract from a page (seo.c), parse in
 * robots.txt (robots.c) and write / read as JSON (json.c).  Pure functions
 * on bytes, no I/O, thread-safe.  Part of the crawl pipeline examples, not
 * of libcrawllog.
 */
#ifndef CX_SEO_H
#define CX_SEO_H

#include <stddef.h>
#include <stdint.h>

/* SEO facts of an HTML page (tolerant tag scanner, not a full parser:
 * case-insensitive tags and attributes, quoted or bare attribute values,
 * comments and <script>/<style> contents skipped, the common entities
 * &amp; &lt; &gt; &quot; &#39; &nbsp; decoded in title/description). */
struct cx_seo {
    char title[512];       /* <title> text, whitespace collapsed; "" none */
    char description[1024];/* <meta name="description" content=...> */
    char canonical[2048];  /* <link rel="canonical" href=...>, as written */
    int h1_count;
    int word_count;        /* words of the visible text (outside tags,
                              script and style) */
    int link_count;        /* <a href=...> */
};
void cx_seo_extract(const char *html, size_t len, struct cx_seo *out);

/* Call fn for each <a href=...> value (as written, entities decoded),
 * in order; stop if it returns non-zero. */
void cx_seo_links(const char *html, size_t len,
                  int (*fn)(void *opaque, const char *href), void *opaque);

/* robots.txt rules for one user agent (the group naming it, else "*"):
 * Allow/Disallow path prefixes ("*" and "$" wildcards as Google's), the
 * longest match wins, Allow on a tie; Crawl-delay in ms (-1 none). */
struct cx_robots;
struct cx_robots *cx_robots_parse(const char *txt, size_t len,
                                  const char *user_agent);
/* 1 if path (with query) may be fetched.  NULL robots: everything. */
int cx_robots_allowed(const struct cx_robots *r, const char *path);
int64_t cx_robots_crawl_delay_ms(const struct cx_robots *r);
void cx_robots_free(struct cx_robots *r);

/* The UTF-8 bytes of code point cp (< 0x110000) in out: how many (json.c). */
size_t cx_utf8_encode(uint32_t cp, unsigned char out[4]);

/* JSON.  Writer: appends to a growing buffer. */
struct cx_json {
    char *buf;
    size_t len, cap;
    int first; /* no comma before the next member */
    int oom;   /* an allocation failed: buf is incomplete */
};
void cx_json_init(struct cx_json *j);
void cx_json_free(struct cx_json *j);
void cx_json_open(struct cx_json *j);  /* { */
void cx_json_close(struct cx_json *j); /* } */
void cx_json_str(struct cx_json *j, const char *key, const char *v); /* v NULL: null */
void cx_json_strn(struct cx_json *j, const char *key, const char *v,
                  size_t len);
void cx_json_int(struct cx_json *j, const char *key, int64_t v);
void cx_json_num(struct cx_json *j, const char *key, double v);
void cx_json_bool(struct cx_json *j, const char *key, int v);

/* Reader: the value of top-level member key of a JSON object text, as a
 * string (strings unescaped, \uXXXX to UTF-8; numbers and literals as
 * written) into out: 1 found, 0 absent, -1 text is not a valid JSON object
 * (checked whole). */
int cx_json_get(const char *text, size_t len, const char *key, char *out,
                size_t out_size);

/* Details callers may rely on (the header comments of seo.c, robots.c and
 * json.c have the rest):
 *  - word_count separators are ASCII whitespace, U+00A0 and every tag or
 *    comment; text in script, style, noscript, iframe, noembed, noframes
 *    and title does not count.  Hrefs and canonical are entity-decoded and
 *    trimmed; a canonical longer than its buffer is "" (not cut).
 *  - cx_robots_parse returns NULL only when out of memory (then
 *    cx_robots_allowed(NULL, ...) allows everything); it reads at most
 *    500 KiB.  Patterns and paths are compared after normalising
 *    percent-encoding (%XX of unreserved characters decoded, other hex
 *    upper-cased, non-ASCII bytes encoded).  cx_robots_allowed returns 0
 *    if it runs out of memory.
 *  - cx_json_get: a value longer than out_size - 1 is cut at a UTF-8
 *    boundary (still 1); the first of duplicated keys wins; at most 64
 *    nested containers; invalid UTF-8 and lone surrogates make the text
 *    invalid (-1).  The writer emits \ufffd for invalid UTF-8 input. */

#endif /* CX_SEO_H */
