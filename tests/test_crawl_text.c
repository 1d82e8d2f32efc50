/*
 * test_crawl_text.c - the crawl examples' text code (examples/crawl/seo.c,
 * robots.c, json.c): SEO facts of a realistic page and of hostile
 * fragments, links, robots.txt per RFC 9309 / Google's documented examples,
 * the JSON writer byte for byte, the reader's validation and round trips,
 * and a seeded fuzz loop (random bytes and mutations) checking invariants.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "seo.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/* Links joined with '|', at most max of them (0: all). */
struct links {
    char buf[4096];
    int n, max;
};

static int collect(void *opaque, const char *href)
{
    struct links *l = opaque;
    size_t len = strlen(l->buf);
    snprintf(l->buf + len, sizeof l->buf - len, "%s%s", l->n ? "|" : "", href);
    l->n++;
    return l->max != 0 && l->n >= l->max;
}

/* Is s (n bytes) valid UTF-8? */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        if (k == 0 || k > n - i) {
            return 0;
        }
        uint32_t cp = k == 1 ? c : c & (0x7Fu >> k);
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (s[i + j] & 0x3Fu);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += k;
    }
    return 1;
}

/* ---------------------------------------------------------------------- */
/* SEO                                                                     */
/* ---------------------------------------------------------------------- */

static const char page[] =
    "<!DOCTYPE html>\n<HTML lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<TITLE>  Caf\xC3\xA9 &amp; Bar\n   | Best   coffee </TITLE>\n"
    "<meta content=\"Fresh &quot;beans&quot;  daily.\" name=\"Description\">\n"
    "<meta name=\"description\" content=\"second, ignored\">\n"
    "<link rel=\"stylesheet\" href=\"/s.css\">\n"
    "<link href=\"https://example.com/?a=1&amp;b=2\" REL=\"canonical\">\n"
    "<script type=\"text/javascript\">var s = \"<title>nope</title>"
    "<a href='/js'>\"; if (a < b) {}</script>\n"
    "<style>h1 { color: red } /* <h1> */</style>\n</head>\n"
    "<body class=home>\n<!-- <h1>commented</h1> <a href=\"/c\">c</a> -->\n"
    "<h1 class=\"x\">Welcome home</h1>\n"
    "<p>Fresh coffee, every&nbsp;day. <a href=\"/menu\">Our menu</a> and "
    "<A HREF='/about?x=1&amp;y=2'>about us</A>.</p>\n"
    "<a name=\"anchor\">no link</a>\n<ul><li>one</li><li>two</li></ul>\n"
    "<noscript><a href=\"/nojs\">enable js</a></noscript>\n"
    "<H1>Second</H1>\n<a href = /contact >Contact</a>\n</body></html>\n";

static void test_seo_realistic_page(void **state)
{
    (void)state;
    struct cx_seo s;
    cx_seo_extract(page, sizeof page - 1, &s);
    assert_string_equal(s.title, "Caf\xC3\xA9 & Bar | Best coffee");
    assert_string_equal(s.description, "Fresh \"beans\" daily.");
    assert_string_equal(s.canonical, "https://example.com/?a=1&b=2");
    assert_int_equal(s.h1_count, 2);
    assert_int_equal(s.link_count, 3);
    /* Welcome home | Fresh coffee, every day. | Our menu | and | about us
     * | . | no link | one | two | Second | Contact */
    assert_int_equal(s.word_count, 18);

    struct links l = {"", 0, 0};
    cx_seo_links(page, sizeof page - 1, collect, &l);
    assert_string_equal(l.buf, "/menu|/about?x=1&y=2|/contact");
    struct links one = {"", 0, 2}; /* the callback stops the scan */
    cx_seo_links(page, sizeof page - 1, collect, &one);
    assert_string_equal(one.buf, "/menu|/about?x=1&y=2");
}

struct seo_case {
    const char *html;
    size_t len; /* 0: strlen */
    const char *title, *desc, *canon, *links;
    int h1, words;
};

static const struct seo_case seo_cases[] = {
    {"", 0, "", "", "", "", 0, 0},
    {"<", 0, "", "", "", "", 0, 1},
    {"a < b <3 c<", 0, "", "", "", "", 0, 5},
    {"<title>a", 0, "a", "", "", "", 0, 0},
    {"<title", 0, "", "", "", "", 0, 0},
    {"x <title id='a", 0, "", "", "", "", 0, 1},
    {"<TITLE>Up</TiTlE >", 0, "Up", "", "", "", 0, 0},
    {"<title>  a \n\t b  </title><title>second</title>", 0, "a b", "", "", "",
     0, 0},
    {"<title>a <b>x</b></title y>", 0, "a <b>x</b>", "", "", "", 0, 0},
    {"<title>a</titlex></title>", 0, "a</titlex>", "", "", "", 0, 0},
    {"<title>a\0b</title>", 18, "a\xEF\xBF\xBD\x62", "", "", "", 0, 0},
    {"<title>&#x1F600;&#150;&#0;&bogus;&amp</title>", 0,
     "\xF0\x9F\x98\x80\xE2\x80\x93\xEF\xBF\xBD&bogus;&amp", "", "", "", 0, 0},
    {"<title>&#65&#x42;&#xD800;&#99999999;</title>", 0,
     "AB\xEF\xBF\xBD\xEF\xBF\xBD", "", "", "", 0, 0},
    {"<!-- <title>x</title>", 0, "", "", "", "", 0, 0},
    {"<!-- a -- b --!> <title>t</title>", 0, "t", "", "", "", 0, 0},
    {"<!-->a<!--->b", 0, "", "", "", "", 0, 2},
    {"<script><title>x</title><h1></script><title>y</title>", 0, "y", "", "",
     "", 0, 0},
    {"<SCRIPT>a</scriptx>b</SCRIPT >c", 0, "", "", "", "", 0, 1},
    {"<script>unterminated <h1><a href=x>", 0, "", "", "", "", 0, 0},
    {"<style>x y</style>z", 0, "", "", "", "", 0, 1},
    {"<noscript>x <a href=n>y</a></noscript>", 0, "", "", "", "", 0, 0},
    {"<textarea><b>x y</b></textarea>", 0, "", "", "", "", 0, 2},
    {"<meta content='d' NAME=Description>", 0, "", "d", "", "", 0, 0},
    {"<meta name=\" description \" content=\"a &amp;\n b\">", 0, "", "a & b",
     "", "", 0, 0},
    {"<meta name=keywords content=k><meta name=description>", 0, "", "", "", "",
     0, 0},
    {"<meta name=\"description\" content=\"unterminated>", 0, "", "", "", "", 0,
     0},
    {"<link href=\"/c?a=1&amp;b=2\" rel=\"alternate CANONICAL\">", 0, "", "",
     "/c?a=1&b=2", "", 0, 0},
    {"<link rel=canonical href=\"  /x \">", 0, "", "", "/x", "", 0, 0},
    {"<link rel=canonicalx href=/x><link rel=canonical>", 0, "", "", "", "", 0,
     0},
    {"<a href=\"x>y\">", 0, "", "", "", "x>y", 0, 0},
    {"<a title='>' href=u>", 0, "", "", "", "u", 0, 0},
    {"<a href>e</a><a name=x>n</a><a href=''>", 0, "", "", "", "|", 0, 2},
    {"<a href=1 HREF=2 href=3>", 0, "", "", "", "1", 0, 0},
    {"<a href=\" \n/sp &amp;x\t\">", 0, "", "", "", "/sp &x", 0, 0},
    {"<a/href=s><a\thref\n=\n\"t\"/>", 0, "", "", "", "s|t", 0, 0},
    {"<a href=\"unterminated", 0, "", "", "", "", 0, 0},
    {"<abbr href=no><area href=no>", 0, "", "", "", "", 0, 0},
    {"<h1 class=x><H1></h1><h1/><h10><h2>", 0, "", "", "", "", 3, 0},
    {"one two  three\n", 0, "", "", "", "", 0, 3},
    {"<p>a</p><p>b</p>wo<b>rd</b>", 0, "", "", "", "", 0, 4},
    {"a&nbsp;b&#160;c\xC2\xA0\x64", 0, "", "", "", "", 0, 4},
    {"a &amp; b &lt;", 0, "", "", "", "", 0, 4},
    {"x<!-- y -->z<?php q ?>w</ >v<!doctype html>u", 0, "", "", "", "", 0, 5},
    {"a</>b</", 0, "", "", "", "", 0, 2},
    {"\0\0 \0", 4, "", "", "", "", 0, 2},
};

static void test_seo_hostile_fragments(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(seo_cases); i++) {
        const struct seo_case *c = &seo_cases[i];
        size_t len = c->len ? c->len : strlen(c->html);
        struct cx_seo s;
        struct links l = {"", 0, 0};
        cx_seo_extract(c->html, len, &s);
        cx_seo_links(c->html, len, collect, &l);
        if (strcmp(s.title, c->title) != 0 ||
            strcmp(s.description, c->desc) != 0 ||
            strcmp(s.canonical, c->canon) != 0 || s.h1_count != c->h1 ||
            s.word_count != c->words || strcmp(l.buf, c->links) != 0 ||
            s.link_count != l.n) {
            fail_msg("case %zu: title '%s' desc '%s' canon '%s' h1 %d "
                     "words %d links '%s' (%d, counted %d)",
                     i, s.title, s.description, s.canonical, s.h1_count,
                     s.word_count, l.buf, l.n, s.link_count);
        }
    }
}

static int href_len(void *opaque, const char *href)
{
    *(size_t *)opaque = strlen(href);
    return 1;
}

static void test_seo_truncation(void **state)
{
    (void)state;
    /* A title of 600 two-byte characters: cut at a character boundary. */
    char html[2048] = "<title>";
    for (int i = 0; i < 600; i++) {
        strcat(html, "\xC3\xA9");
    }
    strcat(html, "</title>");
    struct cx_seo s;
    cx_seo_extract(html, strlen(html), &s);
    assert_int_equal(strlen(s.title), 510);
    assert_true(valid_utf8((const unsigned char *)s.title, 510));

    /* Three-byte characters after one ASCII byte: 1 + 3 * 170 = 511. */
    strcpy(html, "<title>x");
    for (int i = 0; i < 300; i++) {
        strcat(html, "\xE2\x82\xAC");
    }
    cx_seo_extract(html, strlen(html), &s);
    assert_int_equal(strlen(s.title), 511);
    strcpy(html, "<title>xy");
    for (int i = 0; i < 300; i++) {
        strcat(html, "\xE2\x82\xAC");
    }
    cx_seo_extract(html, strlen(html), &s);
    assert_int_equal(strlen(s.title), 509);
    assert_true(valid_utf8((const unsigned char *)s.title, 509));

    /* A canonical URL that does not fit is left out, not cut. */
    size_t n = 5000;
    char *big = malloc(n + 128);
    assert_non_null(big);
    int k = snprintf(big, 64, "<link rel=canonical href=/");
    memset(big + k, 'a', n);
    strcpy(big + k + n, "><a href=/");
    memset(big + k + n + 10, 'b', 40);
    strcpy(big + k + n + 50, ">");
    cx_seo_extract(big, strlen(big), &s);
    assert_string_equal(s.canonical, "");
    assert_int_equal(s.link_count, 1);
    /* A long href is reported whole: "/" and n times 'a'. */
    memcpy(big + k - 9, "<a href=/", 9);
    size_t got = 0;
    cx_seo_links(big + k - 9, strlen(big + k - 9), href_len, &got);
    assert_int_equal(got, n + 1);
    free(big);

    cx_seo_extract(NULL, 10, &s);
    assert_int_equal(s.word_count, 0);
    cx_seo_extract("x", 1, NULL);
}

/* ---------------------------------------------------------------------- */
/* robots.txt                                                              */
/* ---------------------------------------------------------------------- */

#define UA "crawllog-crawler/1.0 (+https://example.com/bot)"
#define ALL "User-agent: *\n"
#define OURS "User-agent: crawllog-crawler\n"

struct robots_case {
    const char *txt, *ua, *path;
    int allowed;
};

/* Two groups; three groups of which two are ours (merged). */
#define TWO ALL "Disallow: /\n\n" OURS "Disallow: /private"
#define MERGED                                                                 \
    OURS "Disallow: /a\nUser-agent: b\nDisallow: /b\n" OURS "Disallow: /c"

static const struct robots_case robots_cases[] = {
    /* Google's documented precedence examples (longest match, ties). */
    {ALL "allow: /p\ndisallow: /", UA, "/page", 1},
    {ALL "allow: /folder\ndisallow: /folder", UA, "/folder/page", 1},
    {ALL "allow: /page\ndisallow: /*.htm", UA, "/page.htm", 0},
    {ALL "allow: /page\ndisallow: /*.ph", UA, "/page.php", 1},
    {ALL "allow: /$\ndisallow: /", UA, "/", 1},
    {ALL "allow: /$\ndisallow: /", UA, "/page.htm", 0},
    /* Wildcards and the end anchor. */
    {ALL "disallow: /fish*", UA, "/fish.html", 0},
    {ALL "disallow: /fish*", UA, "/Fish.asp", 1},
    {ALL "disallow: /fish/", UA, "/fish", 1},
    {ALL "disallow: /fish/", UA, "/fish/salmon", 0},
    {ALL "disallow: /*.php", UA, "/index.php?x=1", 0},
    {ALL "disallow: /*.php", UA, "/folder/a.php/", 0},
    {ALL "disallow: /*.php", UA, "/windows.PHP", 1},
    {ALL "disallow: /*.php$", UA, "/a.php", 0},
    {ALL "disallow: /*.php$", UA, "/a.php?q", 1},
    {ALL "disallow: /fish*.php", UA, "/fishheads/c.php?x", 0},
    {ALL "disallow: /a$b", UA, "/a$bc", 0},
    {ALL "disallow: /a*b*c*d$", UA, "/aXbYcZdd", 0},
    {ALL "disallow: /a*b*c*d$", UA, "/aXbYcZdZ", 1},
    {ALL "disallow: *", UA, "/x", 0},
    {ALL "disallow: /$", UA, "/", 0},
    /* Empty rules, no rules, /robots.txt, fragments. */
    {ALL "disallow:", UA, "/x", 1},
    {ALL "disallow: /\nallow:", UA, "/x", 0},
    {"", UA, "/x", 1},
    {ALL "disallow: /", UA, "/robots.txt", 1},
    {ALL "disallow: /", UA, "", 0},
    {ALL "disallow: /a#b", UA, "/a#x", 0},
    /* Group selection. */
    {TWO, UA, "/", 1},
    {TWO, UA, "/private/x", 0},
    {TWO, "otherbot/2", "/", 0},
    {ALL "Disallow: /\nUser-Agent: CrawlLog-Crawler\n", UA, "/", 1},
    {"User-agent: crawllog\nDisallow: /", UA, "/", 1},
    {"User-agent: crawllog-crawler/2.0\nDisallow: /", UA, "/", 0},
    {"User-agent: crawllog-crawler-x\nDisallow: /", UA, "/", 1},
    {"User-agent: a\nuser-agent: crawllog-crawler\nDisallow: /b", UA, "/b", 0},
    {MERGED, UA, "/c", 0},
    {MERGED, UA, "/b", 1},
    {OURS "Sitemap: /s.xml\nUser-agent: b\nDisallow: /x", UA, "/x", 0},
    {"Disallow: /\nUser-agent: *\nDisallow: /x", UA, "/", 1},
    {"User-agent: * \nDisallow: /", NULL, "/a", 0},
    {"User-agent: *bot\nDisallow: /", UA, "/a", 1},
    /* Syntax: comments, CR / CRLF, BOM, missing colon, case of keys. */
    {"\xEF\xBB\xBFUser-agent: * # all\r\nDisallow: /a # x\r\n", UA, "/a", 0},
    {"\xEF\xBB\xBFUser-agent: * # all\r\nDisallow: /a # x\r\n", UA, "/b", 1},
    {"User-agent: *\rDisallow: /a\r", UA, "/a/", 0},
    {"User-agent *\nDisallow /b", UA, "/b", 0},
    {"User-agent *\nDisallow /b c", UA, "/b", 1},
    {"USER-AGENT:*\nDISALLOW:/b", UA, "/b", 0},
    {ALL "  Disallow  :  /b  \n", UA, "/b", 0},
    {ALL "Disalow: /b\n", UA, "/b", 0},
    {ALL "Noindex: /b\nFoo\n:\n::::\nDisallow /c d e\n", UA, "/b", 1},
    /* Percent-encoding. */
    {ALL "Disallow: /%7Ea", UA, "/~a", 0},
    {ALL "Disallow: /~b", UA, "/%7eb", 0},
    {ALL "Disallow: /a%2fb", UA, "/a/b", 1},
    {ALL "Disallow: /a%2fb", UA, "/a%2Fb", 0},
    {ALL "Disallow: /\xC3\xBC", UA, "/%c3%bc", 0},
    {ALL "Disallow: /%C3%BC", UA, "/\xC3\xBC/x", 0},
    {ALL "Disallow: /a b", UA, "/a%20b", 0},
    /* Garbage. */
    {"<html><body>Not found</body></html>\n", UA, "/x", 1},
    {"\x01\x02\xFF\xFE:::\n#####\nDisallow: /\n", UA, "/x", 1},
};

static int allowed_in(const char *txt, size_t len, const char *ua,
                      const char *path)
{
    struct cx_robots *r = cx_robots_parse(txt, len, ua);
    assert_non_null(r);
    int a = cx_robots_allowed(r, path);
    cx_robots_free(r);
    return a;
}

static void test_robots_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(robots_cases); i++) {
        const struct robots_case *c = &robots_cases[i];
        int got = allowed_in(c->txt, strlen(c->txt), c->ua, c->path);
        if (got != c->allowed) {
            fail_msg("case %zu: %s -> %d, want %d", i, c->path, got,
                     c->allowed);
        }
    }
    assert_int_equal(cx_robots_allowed(NULL, "/x"), 1);
    assert_int_equal(cx_robots_crawl_delay_ms(NULL), -1);
    cx_robots_free(NULL);
}

static const struct {
    const char *txt, *ua;
    int64_t ms;
} delay_cases[] = {
    {ALL "Disallow: /", UA, -1},
    {ALL "Crawl-delay: 10", UA, 10000},
    {ALL "Crawl-delay: 2.5", UA, 2500},
    {ALL "Crawl-delay: .25", UA, 250},
    {ALL "crawl-delay: 0.0019", UA, 1},
    {ALL "Crawl-delay: 0", UA, 0},
    {ALL "Crawl-delay: -1", UA, -1},
    {ALL "Crawl-delay: abc", UA, -1},
    {ALL "Crawl-delay: 5s", UA, -1},
    {ALL "Crawl-delay: .", UA, -1},
    {ALL "Crawl-delay: x\nCrawl-delay: 3", UA, 3000},
    {ALL "Crawl-delay: 99999999999999999999999", UA, 1000000000LL * 1000},
    {ALL "Crawl-delay: 1\n" OURS "Crawl-delay: 4", UA, 4000},
    {ALL "Crawl-delay: 1\n" OURS "Disallow: /x", UA, -1},
    {ALL "Crawl-delay: 1\n" OURS "Crawl-delay: 4", "other", 1000},
};

static void test_robots_crawl_delay(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(delay_cases); i++) {
        const char *txt = delay_cases[i].txt;
        struct cx_robots *r =
            cx_robots_parse(txt, strlen(txt), delay_cases[i].ua);
        assert_non_null(r);
        int64_t d = cx_robots_crawl_delay_ms(r);
        cx_robots_free(r);
        if (d != delay_cases[i].ms) {
            fail_msg("case %zu: %lld ms", i, (long long)d);
        }
    }
}

/* Reference matcher (dynamic programming): does pattern p ("*" any run, a
 * final "$" the end) match a prefix of s (the whole of s with "$")? */
static int ref_match(const char *s, const char *p)
{
    size_t sn = strlen(s), pn = strlen(p);
    int anchored = pn > 0 && p[pn - 1] == '$';
    unsigned char dp[64] = {1}, nd[64];
    assert_true(sn < sizeof dp);
    pn -= (size_t)anchored;
    for (size_t i = 0; i < pn; i++) {
        unsigned char any = 0;
        for (size_t j = 0; j <= sn; j++) {
            any |= dp[j];
            nd[j] = p[i] == '*' ? any : j > 0 && dp[j - 1] && s[j - 1] == p[i];
        }
        memcpy(dp, nd, sn + 1);
    }
    if (anchored) {
        return dp[sn];
    }
    for (size_t j = 0; j <= sn; j++) {
        if (dp[j]) {
            return 1;
        }
    }
    return 0;
}

static void test_robots_matcher_vs_reference(void **state)
{
    (void)state;
    uint64_t rs = CL_TEST_SEED;
    for (int it = 0; it < 20000; it++) {
        char pat[16] = "/", path[16] = "/", txt[64];
        size_t pl = 1 + cl_test_rand_below(&rs, 9);
        size_t sl = 1 + cl_test_rand_below(&rs, 11);
        for (size_t i = 1; i < pl; i++) {
            pat[i] = "ab*"[cl_test_rand_below(&rs, 3)];
        }
        if (cl_test_rand_below(&rs, 3) == 0) {
            pat[pl++] = '$';
        }
        for (size_t i = 1; i < sl; i++) {
            path[i] = "ab"[cl_test_rand_below(&rs, 2)];
        }
        snprintf(txt, sizeof txt, "User-agent: *\nDisallow: %s\n", pat);
        int got = allowed_in(txt, strlen(txt), UA, path);
        if (got != !ref_match(path, pat)) {
            fail_msg("pattern %s path %s: allowed %d", pat, path, got);
        }
    }

    /* Hostile: 500 KiB of long "*" patterns against a long path stay fast
     * (a backtracking matcher takes seconds here). */
    size_t cap = 500 * 1024, n = 0;
    char *txt = malloc(cap + 4096), path[2048];
    assert_non_null(txt);
    n += (size_t)sprintf(txt, "User-agent: *\n");
    while (n < cap - 2100) {
        n += (size_t)sprintf(txt + n, "Disallow: /*");
        memset(txt + n, 'a', 2000);
        n += 2000;
        n += (size_t)sprintf(txt + n, "b\n");
    }
    path[0] = '/';
    memset(path + 1, 'a', sizeof path - 2);
    path[sizeof path - 1] = '\0';
    struct cx_robots *r = cx_robots_parse(txt, n, UA);
    assert_non_null(r);
    int64_t t0 = cl_test_mono_ms();
    assert_int_equal(cx_robots_allowed(r, path), 1);
    path[sizeof path - 2] = 'b';
    assert_int_equal(cx_robots_allowed(r, path), 0);
    assert_true(cl_test_mono_ms() - t0 < 1000);
    cx_robots_free(r);
    free(txt);
}

/* A robots.txt of 500 KiB + some: "User-agent: *", "Disallow: /a",
 * comment lines up to byte at, then tail. */
static char *capped(size_t at, const char *tail, size_t *len)
{
    size_t tl = strlen(tail);
    char *txt = malloc(at + tl + 1);
    assert_non_null(txt);
    static const char head[] = "User-agent: *\nDisallow: /a\n#";
    memcpy(txt, head, sizeof head - 1);
    memset(txt + sizeof head - 1, '#', at - sizeof head);
    txt[at - 1] = '\n';
    memcpy(txt + at, tail, tl + 1);
    *len = at + tl;
    return txt;
}

static void test_robots_size_cap(void **state)
{
    (void)state;
    const size_t cap = 500 * 1024;
    size_t len;
    /* The cap falls right after "Disallow: /": the line is dropped, not
     * read as "Disallow: /". */
    char *txt = capped(cap - 25, "Disallow: /q2\nDisallow: /bb\n", &len);
    assert_int_equal(strstr(txt, "/bb") - txt, (ptrdiff_t)cap - 1);
    assert_int_equal(allowed_in(txt, len, UA, "/a"), 0);
    assert_int_equal(allowed_in(txt, len, UA, "/q2"), 0);
    assert_int_equal(allowed_in(txt, len, UA, "/bb"), 1);
    assert_int_equal(allowed_in(txt, len, UA, "/x"), 1);
    free(txt);
    /* A line whose end of line is the first byte past the cap is whole. */
    txt = capped(cap - 13, "Disallow: /cc\nDisallow: /dd\n", &len);
    assert_int_equal(txt[cap], '\n');
    assert_int_equal(allowed_in(txt, len, UA, "/cc"), 0);
    assert_int_equal(allowed_in(txt, len, UA, "/dd"), 1);
    assert_int_equal(allowed_in(txt, cap + 1, UA, "/cc"), 0);
    assert_int_equal(allowed_in(txt, cap, UA, "/cc"), 0); /* ends the file */
    free(txt);

    struct cx_robots *e = cx_robots_parse(NULL, 5, UA);
    assert_non_null(e);
    assert_int_equal(cx_robots_allowed(e, "/"), 1);
    cx_robots_free(e);
}

/* ---------------------------------------------------------------------- */
/* JSON                                                                    */
/* ---------------------------------------------------------------------- */

static void test_json_writer_exact(void **state)
{
    (void)state;
    struct cx_json j;
    cx_json_init(&j);
    cx_json_open(&j);
    cx_json_str(&j, "s", "a\"b\\c/\n\t\x01\x1f\x7f");
    cx_json_str(&j, "utf8", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    cx_json_str(&j, "bad",
                "\xFF|\xC0\xAF|\xED\xA0\x80|\xF4\x90\x80\x80|"
                "\xC3|\xE2\x82");
    cx_json_strn(&j, "nul", "a\0b", 3);
    cx_json_str(&j, "null", NULL);
    cx_json_str(&j, "k\"\n", "");
    cx_json_int(&j, "min", INT64_MIN);
    cx_json_int(&j, "max", INT64_MAX);
    cx_json_num(&j, "d", 0.1);
    cx_json_num(&j, "e", 1e300);
    cx_json_num(&j, "third", 1.0 / 3);
    cx_json_num(&j, "nan", NAN);
    cx_json_num(&j, "inf", -INFINITY);
    cx_json_bool(&j, "t", 1);
    cx_json_bool(&j, "f", 0);
    cx_json_close(&j);
    assert_false(j.oom);
    assert_string_equal(
        j.buf, "{\"s\":\"a\\\"b\\\\c/\\u000a\\u0009\\u0001\\u001f\x7f\","
               "\"utf8\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\","
               "\"bad\":\"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
               "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd|\\ufffd\","
               "\"nul\":\"a\\u0000b\",\"null\":null,\"k\\\"\\u000a\":\"\","
               "\"min\":-9223372036854775808,\"max\":9223372036854775807,"
               "\"d\":0.1,\"e\":1e+300,\"third\":0.33333333333333331,"
               "\"nan\":null,\"inf\":null,\"t\":true,\"f\":false}");
    assert_int_equal(j.len, strlen(j.buf));

    char out[64];
    assert_int_equal(cx_json_get(j.buf, j.len, "third", out, sizeof out), 1);
    assert_true(strtod(out, NULL) == 1.0 / 3);
    cx_json_free(&j);
    assert_null(j.buf);
    /* An empty object and a reused writer. */
    cx_json_open(&j);
    cx_json_close(&j);
    assert_string_equal(j.buf, "{}");
    cx_json_free(&j);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    static const char *const vals[] = {
        "",
        "plain",
        "quote\" back\\ slash/",
        "ctl \x01\x02\n\r\t\x1f end",
        "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
        "{\"not\":\"an object\"}",
        "[1,2]",
        "\\u0041",
    };
    struct cx_json j;
    cx_json_init(&j);
    cx_json_open(&j);
    char key[16];
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        snprintf(key, sizeof key, "k%zu", i);
        cx_json_str(&j, key, vals[i]);
    }
    cx_json_int(&j, "n", -42);
    cx_json_close(&j);
    char out[256];
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        snprintf(key, sizeof key, "k%zu", i);
        assert_int_equal(cx_json_get(j.buf, j.len, key, out, sizeof out), 1);
        assert_string_equal(out, vals[i]);
    }
    assert_int_equal(cx_json_get(j.buf, j.len, "n", out, sizeof out), 1);
    assert_string_equal(out, "-42");
    assert_int_equal(cx_json_get(j.buf, j.len, "k", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(cx_json_get(j.buf, j.len, "k00", out, sizeof out), 0);
    cx_json_free(&j);
}

static void test_json_get_values(void **state)
{
    (void)state;
    static const char doc[] =
        " {\"a\" : {\"x\": [1, {\"a\": 2}], \"y\": \"}\"} ,\n"
        "\"b\":[ ],\"num\":-1.5e+3,\"z\":0,\"t\":true,\"n\":null,"
        "\"esc\":\"\\u00e9\\ud83d\\ude00\\n\\/\\\"\\b\\f\\r\\t\\\\\","
        "\"\\u0061\\u0062\":\"ab\",\"dup\":1,\"dup\":2,\"\":\"empty\","
        "\"long\":\"\xC3\xA9\xC3\xA9\xC3\xA9\"} \r\n";
    static const struct {
        const char *key;
        size_t size;
        int rc;
        const char *out;
    } cases[] = {
        {"a", 64, 1, "{\"x\": [1, {\"a\": 2}], \"y\": \"}\"}"},
        {"x", 64, 0, ""},
        {"b", 64, 1, "[ ]"},
        {"num", 64, 1, "-1.5e+3"},
        {"z", 64, 1, "0"},
        {"t", 64, 1, "true"},
        {"n", 64, 1, "null"},
        {"esc", 64, 1, "\xC3\xA9\xF0\x9F\x98\x80\n/\"\b\f\r\t\\"},
        {"ab", 64, 1, "ab"},
        {"dup", 64, 1, "1"},
        {"", 64, 1, "empty"},
        /* Cut at a character boundary; found all the same. */
        {"long", 6, 1, "\xC3\xA9\xC3\xA9"},
        {"long", 2, 1, ""},
        {"a", 4, 1, "{\"x"},
    };
    char out[64];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int rc =
            cx_json_get(doc, sizeof doc - 1, cases[i].key, out, cases[i].size);
        if (rc != cases[i].rc || strcmp(out, cases[i].out) != 0) {
            fail_msg("case %zu (%s): %d '%s'", i, cases[i].key, rc, out);
        }
    }
    static const char arr[] = "{\"a\":[\"\xE2\x82\xAC\"]}";
    assert_int_equal(cx_json_get(arr, sizeof arr - 1, "a", out, 5), 1);
    assert_string_equal(out, "[\"");
    assert_int_equal(cx_json_get(doc, sizeof doc - 1, "a", NULL, 0), 1);
    assert_int_equal(cx_json_get(doc, sizeof doc - 1, "missing", NULL, 0), 0);
    assert_int_equal(cx_json_get("{}", 2, "a", out, sizeof out), 0);
    assert_int_equal(
        cx_json_get("{\"a\":\"\\u0000x\"}", 15, "a", out, sizeof out), 1);
    assert_int_equal(out[0], '\0');
}

/* clang-format off */
static const char *const bad_json[] = {
    "", " ", "[]", "\"a\"", "1", "null", "{", "}", "{\"a\":1,}",
    "{\"a\":[1,]}", "{,}", "{\"a\"}", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
    "{a:1}", "{'a':1}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
    "{\"a\":\"\\u12g4\"}", "{\"a\":\"abc}", "{\"a\":\"abc\\\"}", "{\"a\":01}",
    "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":+1}", "{\"a\":1e}",
    "{\"a\":1e+}", "{\"a\":0x1}", "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}",
    "{\"a\":NaN}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud800x\"}", "{\"a\":1} x",
    "{\"a\":1}{}", "{\"a\":\"\x01\"}", "{\"a\":\"\n\"}", "{\"a\":\"\xFF\"}",
    "{\"a\":\"\xC0\xAF\"}", "{\"a\":\"\xED\xA0\x80\"}", "{\"a\":\"\xE2\x82\"}",
    "\xEF\xBB\xBF{}", "{\"a\":[1 2]}", "{\"a\":{\"b\"}}", "{\"a\":[}",
    "{\"a\":]}", "{\"a\":1x\"b\":2}", "{\"b\":[1x2],\"a\":1}", "{\"a\":1}\f",
};
/* clang-format on */

static void test_json_invalid_rejected(void **state)
{
    (void)state;
    char out[32];
    for (size_t i = 0; i < ARRAY_LEN(bad_json); i++) {
        strcpy(out, "junk");
        int rc =
            cx_json_get(bad_json[i], strlen(bad_json[i]), "a", out, sizeof out);
        if (rc != -1 || out[0] != '\0') {
            fail_msg("case %zu (%s): %d '%s'", i, bad_json[i], rc, out);
        }
    }
    assert_int_equal(cx_json_get("{\"a\":1}\0", 8, "a", out, sizeof out), -1);
    assert_int_equal(cx_json_get("{\"a\":1}", 6, "a", out, sizeof out), -1);
    assert_int_equal(cx_json_get(NULL, 0, "a", out, sizeof out), -1);

    /* Depth: the top-level object and 63 arrays are fine, 64 are not. */
    char deep[256];
    for (int depth = 64; depth <= 65; depth++) {
        int n = 0;
        n += sprintf(deep + n, "{\"a\":");
        for (int d = 1; d < depth; d++) {
            deep[n++] = '[';
        }
        for (int d = 1; d < depth; d++) {
            deep[n++] = ']';
        }
        deep[n++] = '}';
        int rc = cx_json_get(deep, (size_t)n, "a", out, sizeof out);
        assert_int_equal(rc, depth == 64 ? 1 : -1);
    }
}

/* ---------------------------------------------------------------------- */
/* Fuzz                                                                    */
/* ---------------------------------------------------------------------- */

static const char robots_seed[] =
    "User-agent: *\nDisallow: /a*b$\nAllow: /a/%7e\nCrawl-delay: 1.5\n"
    "User-agent: crawllog-crawler\nDisallow: /p\n# c\r\n";
static const char json_seed[] =
    "{\"a\":{\"x\":[1,-2.5e3,\"\\ud83d\\ude00\"]},\"b\":\"s\\n\",\"c\":true}";

static void mutate(uint64_t *rs, char *buf, size_t *len, size_t cap)
{
    static const char toks[][8] = {
        "<", ">",   "\"", "'", "&", "&#x", "<!--", "-->", "</",   "*",
        "$", "\\u", "\\", "{", "[", ":",   "\n",   "%",   "\xC3", "\0"};
    int edits = 1 + (int)cl_test_rand_below(rs, 8);
    for (int e = 0; e < edits; e++) {
        size_t at = *len ? cl_test_rand_below(rs, *len) : 0;
        switch (cl_test_rand_below(rs, 4)) {
        case 0: /* flip a byte */
            if (*len) {
                buf[at] = (char)cl_test_rand(rs);
            }
            break;
        case 1: /* cut */
            *len = at;
            break;
        case 2: { /* insert a token */
            const char *t = toks[cl_test_rand_below(rs, ARRAY_LEN(toks))];
            size_t tl = t[0] ? strlen(t) : 1;
            if (*len + tl <= cap) {
                memmove(buf + at + tl, buf + at, *len - at);
                memcpy(buf + at, t, tl);
                *len += tl;
            }
            break;
        }
        default: /* duplicate a slice */
            if (*len && *len * 2 <= cap) {
                size_t n = cl_test_rand_below(rs, *len - at) + 1;
                memmove(buf + at + n, buf + at, *len - at);
                *len += n;
            }
            break;
        }
    }
}

static int count_link(void *opaque, const char *href)
{
    (void)href;
    ++*(int *)opaque;
    return 0;
}

static void check_field(const char *s, size_t size, int collapsed)
{
    size_t n = strnlen(s, size);
    assert_true(n < size);
    if (collapsed && n > 0) {
        assert_true(s[0] != ' ' && s[n - 1] != ' ');
        assert_null(strstr(s, "  "));
    }
}

static void test_fuzz(void **state)
{
    static const char markup[] = "<>/!-\"'=&#;*$%{}[]:,\\ \n"; /* and NUL */
    (void)state;
    uint64_t rs = CL_TEST_SEED;
    enum { CAP = 8192 };
    char *buf = malloc(CAP), *out = malloc(CAP);
    assert_non_null(buf);
    assert_non_null(out);
    for (int it = 0; it < 20000; it++) {
        size_t len;
        int kind = (int)cl_test_rand_below(&rs, 4);
        if (kind == 0) { /* random bytes, biased towards markup */
            len = cl_test_rand_below(&rs, 512);
            for (size_t i = 0; i < len; i++) {
                buf[i] = cl_test_rand_below(&rs, 4) == 0
                             ? markup[cl_test_rand_below(&rs, sizeof markup)]
                             : (char)cl_test_rand(&rs);
            }
        } else {
            const char *s = kind == 1   ? page
                            : kind == 2 ? robots_seed
                                        : json_seed;
            len = strlen(s);
            memcpy(buf, s, len);
            mutate(&rs, buf, &len, CAP);
        }
        struct cx_seo s;
        int links = 0;
        cx_seo_extract(buf, len, &s);
        cx_seo_links(buf, len, count_link, &links);
        assert_int_equal(links, s.link_count);
        check_field(s.title, sizeof s.title, 1);
        check_field(s.description, sizeof s.description, 1);
        check_field(s.canonical, sizeof s.canonical, 0);
        assert_true(s.word_count >= 0 && s.h1_count >= 0);

        struct cx_robots *r = cx_robots_parse(buf, len, UA);
        assert_non_null(r);
        static const char *const paths[] = {"/", "/a/b", "/p?q=1",
                                            "/a%7e/\xC3\xA9", "/robots.txt"};
        for (size_t p = 0; p < ARRAY_LEN(paths); p++) {
            int a = cx_robots_allowed(r, paths[p]);
            assert_true(a == 0 || a == 1);
        }
        assert_true(cx_robots_crawl_delay_ms(r) >= -1);
        cx_robots_free(r);

        int rc = cx_json_get(buf, len, "a", out, (size_t)(it % 64) + 1);
        assert_true(rc >= -1 && rc <= 1);
        assert_true(strlen(out) <= (size_t)(it % 64));

        /* Whatever the bytes, the writer makes JSON the reader accepts. */
        struct cx_json j;
        cx_json_init(&j);
        cx_json_open(&j);
        cx_json_strn(&j, "a", buf, len < 600 ? len : 600);
        cx_json_close(&j);
        assert_false(j.oom);
        assert_true(valid_utf8((const unsigned char *)j.buf, j.len));
        assert_int_equal(cx_json_get(j.buf, j.len, "a", out, CAP), 1);
        if (len < 600 && memchr(buf, '\0', len) == NULL &&
            valid_utf8((const unsigned char *)buf, len)) {
            assert_int_equal(strlen(out), len);
            assert_memory_equal(out, buf, len);
        }
        cx_json_free(&j);
    }
    free(buf);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seo_realistic_page),
        cmocka_unit_test(test_seo_hostile_fragments),
        cmocka_unit_test(test_seo_truncation),
        cmocka_unit_test(test_robots_rules),
        cmocka_unit_test(test_robots_crawl_delay),
        cmocka_unit_test(test_robots_size_cap),
        cmocka_unit_test(test_robots_matcher_vs_reference),
        cmocka_unit_test(test_json_writer_exact),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_get_values),
        cmocka_unit_test(test_json_invalid_rejected),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests_name("crawl_text", tests, NULL, NULL);
}
