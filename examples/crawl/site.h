/*
 * site.h - what crawl-fixture (examples/crawl-fixture.c) serves, without
 * the sockets (site.c): the generated test site of every host, the job
 * list of GET /urls, and the report sink behind POST /report, GET /stats
 * and POST /control.  Part of the crawl pipeline examples, not of
 * libcrawllog.
 *
 * Host numbers are the last byte of the address: host h is 127.0.0.h,
 * 1 <= h <= hosts.  Everything the site serves is a pure function of
 * (struct cx_site, host, path): the same seed gives the same site.
 */
#ifndef CX_SITE_H
#define CX_SITE_H

#include <stddef.h>
#include <stdint.h>

#define CX_SITE_HOSTS_MAX 254
#define CX_SITE_URLS_MAX 100000 /* jobs in one GET /urls */

struct cx_site {
    int hosts;     /* 127.0.0.1 .. 127.0.0.<hosts> */
    int pages;     /* /p/0 .. /p/<pages - 1> on every host */
    int port;      /* the site's port, the same on every host */
    int slow_ms;   /* delay of /slow/<i> */
    uint64_t seed; /* of the page contents and the /urls mix */
};

/* One answer of the site. */
struct cx_site_resp {
    int status;
    const char *content_type; /* a static string */
    char *body;               /* malloc'd (free with cx_site_resp_free) */
    size_t len;
    char headers[2400]; /* extra header lines ("Location: ...\r\n") */
    int delay_ms;       /* answer only after this long (/slow/) */
};

/* The answer to GET path (query allowed, ignored) on host h:
 *   /robots.txt          User-agent: * / Disallow: /private/ /
 *                        Crawl-delay: 0.01
 *   /p/<i>               200 HTML page: title "Page <i> on host <h>", meta
 *                        description, canonical, one <h1>, seeded words
 *                        and 5-20 links (other pages, some /private/,
 *                        /missing/, /slow/, /redirect/, other hosts)
 *   /slow/<i>            200 HTML after slow_ms (delay_ms)
 *   /private/<i>         200 HTML (robots.txt forbids it)
 *   /missing/<i>         404
 *   /error/<i>           500
 *   /redirect/<k>/<i>    302 to /redirect/<k-1>/<i>, .../redirect/1/<i>
 *                        302 to /p/<i> (absolute Location; 1 <= k <= 20)
 *   anything else        404 (also i >= pages)
 * Returns 0, or -1 if out of memory. */
int cx_site_get(const struct cx_site *s, int host, const char *path,
                struct cx_site_resp *r);
void cx_site_resp_free(struct cx_site_resp *r);

/* GET /urls?count=N&mix=M (query "count=N&mix=M" or NULL; N at most
 * CX_SITE_URLS_MAX, default 100; M 0 or 1, default 1): N lines
 * "URL TYPE\n", TYPE "seo" on even line numbers j and "rank" on odd ones,
 * line j on host 1 + j % hosts; /p/ pages, and with mix a seeded few
 * /slow/, /missing/, /error/, /redirect/ and /private/ URLs.  Returns 200
 * with *body (malloc'd) and *lenp, 400 for a bad query, 500 if out of
 * memory. */
int cx_site_urls(const struct cx_site *s, const char *query, char **body,
                 size_t *lenp);

/* The report sink.  Thread-safe (one mutex). */
struct cx_sink;

/* reports_path: the file each accepted report is appended to as a line
 * (NULL: none).  fail_pct: the share of reports refused with 503, drawn
 * from a PRNG seeded with seed.  NULL with err on failure. */
struct cx_sink *cx_sink_new(const char *reports_path, int fail_pct,
                            uint64_t seed, char *err, size_t err_size);
void cx_sink_free(struct cx_sink *k);

/* POST /report with a JSON object with at least "job_id", "topic"
 * (string), "partition" and "offset" (integers >= 0).  Returns the HTTP
 * status to answer: 200 recorded (appended, counted per topic, partition
 * and offset), 503 refused on purpose (counted as failed), 400 not such a
 * JSON object, 500 the reports file could not be written. */
int cx_sink_report(struct cx_sink *k, const char *body, size_t len);

/* GET /stats: {"reports":N,"unique":U,"duplicates":D,"failed":F,
 * "bad":B,"report_fail_pct":P} (duplicates = reports - unique; bad:
 * answered 400) into out, with the JSON members extra ("\"a\":1,..." or
 * NULL) before the closing brace. */
void cx_sink_stats(struct cx_sink *k, const char *extra, char *out,
                   size_t out_size);

/* 127.0.0.1's own endpoints, for the request method target (path and
 * query) with its body: 0 if target's path is none of them, else 1 with
 * the answer in r (free with cx_site_resp_free; r->body NULL if out of
 * memory: answer 500).  A wrong method gets 405.
 *   GET /urls?...    cx_site_urls
 *   POST /report     cx_sink_report
 *   GET /stats       cx_sink_stats(k, extra, ...)
 *   POST /control    {"report_fail_pct":0-100} and / or
 *                    {"socks_stall_ms":0-3600000}: applies the first, and
 *                    puts the second in *stall_ms (else -1) for the caller
 *                    (the proxy) to apply; answers {"report_fail_pct":P,
 *                    "socks_stall_ms":MS or -1}, or 400 (nothing applied)
 */
int cx_sink_api(struct cx_sink *k, const struct cx_site *s, const char *method,
                const char *target, const char *body, size_t len,
                const char *extra, long *stall_ms, struct cx_site_resp *r);

#endif /* CX_SITE_H */
