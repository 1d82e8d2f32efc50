/*
 * crawler.h - the crawl consumer's fetching policy (crawler.c): robots.txt
 * per host (cached), a politeness delay per host, the two fetchers (the
 * built-in HTTP client, or the system curl binary for https), the circuit
 * breaker that isolates an external dependency (the SOCKS5 egress proxy and
 * the "renew identity" hook: the motivating system's Tor outage), and the
 * renew hook itself.  Shared by the consumer's worker threads: every
 * function is thread-safe.  Part of the crawl pipeline examples, not of
 * libcrawllog.
 */
#ifndef CX_CRAWLER_H
#define CX_CRAWLER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define CX_FETCH_BUILTIN 0
#define CX_FETCH_CURL 1

/* What a crawler is configured with (set before cx_crawler_init). */
struct cx_crawler_conf {
    int fetcher;              /* CX_FETCH_* */
    struct cx_http_opts http; /* timeouts, body cap, proxy */
    int64_t politeness_ms;    /* minimum gap between two fetches of a host */
    int64_t robots_ttl_ms;    /* how long a robots.txt stays cached */
    const char *renew_cmd;    /* NULL: no hook; run with /bin/sh -c */
    int64_t renew_every;      /* run the hook every N fetches (0: never) */
    int renew_timeout_ms;     /* the hook's deadline (killed after it) */
    int breaker_failures;     /* consecutive dependency failures that open
                                 the breaker (default 3) */
    int breaker_probe_ms;     /* gap between probes while open (1000) */
};

/* The breaker's states. */
#define CX_BREAKER_CLOSED 0
#define CX_BREAKER_OPEN 1

struct cx_host; /* per-host state (robots, next fetch time) */

struct cx_crawler {
    struct cx_crawler_conf conf;
    pthread_mutex_t lock; /* hosts, breaker, renew counter */
    struct cx_host *hosts;
    int breaker;            /* CX_BREAKER_* */
    int dep_failures;       /* consecutive, while closed */
    int64_t next_probe_ms;  /* while open */
    char probe_host[256];   /* a host to CONNECT to when probing */
    int probe_port;
    int64_t fetches;        /* for renew_every */
    int64_t opened, closed; /* breaker transitions (stats) */
};

int cx_crawler_init(struct cx_crawler *c, const struct cx_crawler_conf *conf);
void cx_crawler_destroy(struct cx_crawler *c);

/* Outcome of cx_crawler_fetch. */
#define CX_FETCHED 0       /* r holds an HTTP response (any status) */
#define CX_FETCH_FAILED 1  /* the target failed (timeout, connect, 5xx is
                              still FETCHED): retry, then dead-letter */
#define CX_FETCH_DEPENDENCY 2 /* the proxy or the renew hook failed: not
                                 the job's fault; redo it later */
#define CX_FETCH_ROBOTS 3  /* robots.txt forbids the URL */

/* Fetch url politely: robots.txt of its host (fetched through the same
 * path, cached), then wait for the host's politeness slot, then GET.
 * Runs the renew hook first when it is due.  why gets the reason of a
 * failure.  Records dependency failures and successes in the breaker. */
int cx_crawler_fetch(struct cx_crawler *c, const char *url,
                     struct cx_http_resp *r, char *why, size_t why_size);

/* The breaker: CX_BREAKER_OPEN while the dependency is considered down.
 * While open, cx_crawler_probe (call it from the poll loop) tries the
 * proxy at most every breaker_probe_ms and closes the breaker when a
 * CONNECT through it succeeds (and the renew hook, if any, runs in time);
 * returns the state after the probe. */
int cx_crawler_breaker(struct cx_crawler *c);
int cx_crawler_probe(struct cx_crawler *c);

/* Milliseconds on CLOCK_MONOTONIC / the wall clock. */
/* The fields of a crawled page's result record (status, final URL, the
 * SEO fields of its body, response time, size, truncation) into out, an
 * open JSON object: shared by crawl-consumer and crawl-eos. */
struct cx_json;
void cx_crawler_result_fields(struct cx_json *out,
                              const struct cx_http_resp *resp);

int64_t cx_mono_ms(void);
int64_t cx_wall_ms(void);

#endif /* CX_CRAWLER_H */
