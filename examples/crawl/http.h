/*
 * http.h - the crawl examples' HTTP/1.1 client (http.c) and SOCKS5 client
 * connect (socks5.c), on plain POSIX sockets.  Part of the crawl pipeline
 * examples (examples/crawl-*.c), not of libcrawllog.
 *
 * Client: GET / POST of http:// URLs (https:// is refused with CX_EPROTO:
 * the consumer runs `curl` for those with --fetcher curl), one request per
 * connection ("Connection: close"), Content-Length or chunked bodies (no
 * gzip: "Accept-Encoding: identity"), up to max_redirects redirects
 * (301/302/303/307/308; 303 turns POST into GET), connect / per-read /
 * total deadlines (poll), a body cap (the rest is not read: truncated=1).
 * Optional egress through a SOCKS5 proxy (RFC 1928, no auth, the target
 * host name sent to the proxy: ATYP 3), with its own handshake deadline.
 * Thread-safe: no global state.
 */
#ifndef CX_HTTP_H
#define CX_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Error kinds (negative). */
#define CX_OK 0
#define CX_EURL (-1)      /* not an http(s) URL we can parse */
#define CX_ECONNECT (-2)  /* DNS or connect failed */
#define CX_ETIMEOUT (-3)  /* a deadline passed */
#define CX_EPROTO (-4)    /* bad response, too many redirects, https */
#define CX_EPROXY (-5)    /* the SOCKS5 proxy refused or failed */
#define CX_EPROXY_TIMEOUT (-6) /* the proxy handshake timed out */
#define CX_EIO (-7)       /* socket error while sending or reading */
#define CX_ENOMEM (-8)

/* A parsed URL. */
struct cx_url {
    char scheme[8];  /* "http" or "https" */
    char host[256];  /* lower-cased */
    int port;        /* 80 / 443 by default */
    char path[2048]; /* path and query, "/" if empty; no fragment */
};

/* Parse an absolute URL: 0 or CX_EURL. */
int cx_url_parse(const char *url, struct cx_url *u);

/* Resolve ref (absolute, //host/path, /path, relative path, ?query) against
 * base into out (an absolute URL without fragment): 0, or CX_EURL (also if
 * out is too small). */
int cx_url_resolve(const struct cx_url *base, const char *ref, char *out,
                   size_t out_size);

/* Format u back as a URL. */
void cx_url_format(const struct cx_url *u, char *out, size_t out_size);

struct cx_http_opts {
    int connect_ms;         /* per connect (default 3000 if 0) */
    int read_ms;            /* per read (default 5000 if 0) */
    int total_ms;           /* whole request incl. redirects (default 15000) */
    size_t body_max;        /* default 1 MiB if 0 */
    int max_redirects;      /* default 5 if 0; -1: follow none */
    const char *user_agent; /* default "crawllog-crawler/1" */
    const char *socks5_host; /* NULL: direct */
    int socks5_port;
    int socks5_timeout_ms;  /* proxy handshake (default 2000 if 0) */
    const char *extra_headers; /* NULL, or "Name: value\r\n..." */
};

struct cx_http_resp {
    int status;              /* 0 on an error */
    char final_url[2400];    /* after redirects */
    char content_type[128];
    char *body;              /* malloc'd, NUL-terminated; NULL on error */
    size_t body_len;
    int truncated;           /* body_max reached */
    int redirects;
    double elapsed_ms;
    char err[200];           /* why, on an error */
};

/* GET url.  Returns CX_OK with r filled (any HTTP status), or a CX_E*
 * with r->err.  Free with cx_http_resp_free. */
int cx_http_get(const char *url, const struct cx_http_opts *o,
                struct cx_http_resp *r);

/* POST body (content_type) to url; redirects as GET above. */
int cx_http_post(const char *url, const char *content_type, const void *body,
                 size_t len, const struct cx_http_opts *o,
                 struct cx_http_resp *r);

void cx_http_resp_free(struct cx_http_resp *r);

/* socks5.c: a TCP connection to host:port through the SOCKS5 proxy at
 * phost:pport, within timeout_ms (connect + handshake).  Returns the
 * connected fd, or CX_EPROXY / CX_EPROXY_TIMEOUT / CX_ECONNECT with err. */
int cx_socks5_connect(const char *phost, int pport, const char *host,
                      int port, int timeout_ms, char *err, size_t err_size);

/* ------------------------------------------------------------------------
 * Additions (after the original contract; nothing above changed).
 * ------------------------------------------------------------------------ */

/* Error semantics of cx_http_get / cx_http_post.  On every error: status
 * 0, body NULL, err says why, final_url holds the URL being fetched when it
 * happened (e.g. the https URL a redirect led to, for the curl fetcher).
 *   CX_EURL      the URL given cannot be parsed (not http/https, bad port)
 *   CX_ECONNECT  DNS failure, connection refused or unreachable (direct),
 *                or the SOCKS5 proxy itself refuses connections
 *   CX_ETIMEOUT  connect_ms, read_ms (no byte for that long) or total_ms
 *   CX_EPROTO    https; malformed status line; head over 64 KiB; bad chunk
 *                size or framing; bad, conflicting or over-1-PiB Content-
 *                Length; the server closed before the announced end of the
 *                body; too many redirects; unusable Location
 *   CX_EPROXY    the proxy answered but refused (SOCKS5 reply code, in err)
 *                or broke the protocol - the proxy itself is up
 *   CX_EPROXY_TIMEOUT  the proxy did not complete the handshake within
 *                socks5_timeout_ms (accepts but stalls: a Tor outage)
 *   CX_EIO       socket error (reset) while sending or reading
 *   CX_ENOMEM    out of memory
 * A body cut at body_max is not an error: CX_OK with truncated = 1.  Any
 * HTTP status (404, 500, an unfollowed 3xx) is CX_OK.  A zero socks5_port
 * means 1080.  Through a proxy, CX_ECONNECT can only mean that the proxy
 * port itself refused (the target's own failures come back as CX_EPROXY
 * with the reply code): count it, with CX_EPROXY_TIMEOUT, as the proxy
 * being down.  cx_socks5_connect also takes timeout_ms <= 0 as 2000 and
 * pport <= 0 as 1080. */

/* The name of a CX_* code ("CX_ETIMEOUT"; "CX_E?" if unknown), for logs. */
const char *cx_err_name(int rc);

/* http.c: a TCP connection to host:port (getaddrinfo, then each address in
 * turn, non-blocking connects within timeout_ms in all; every address but
 * the last gets at most half of what is left).  Returns the fd (non-
 * blocking, close-on-exec), or CX_ECONNECT (name not resolved, refused,
 * unreachable) / CX_ETIMEOUT (no address answered in time) with err.
 * timeout_ms <= 0 means 3000.  Name resolution itself is not bounded by
 * timeout_ms (resolver settings). */
int cx_tcp_connect(const char *host, int port, int timeout_ms, char *err,
                   size_t err_size);

/* Largest Content-Length or chunk size accepted (1 PiB); more is
 * CX_EPROTO.  Bodies are still cut at body_max. */
#define CX_HTTP_LENGTH_MAX ((uint64_t)1 << 50)

/* http_parse.c: response-head helpers used by http.c (pure functions).
 * cx_http_head_end: the length of the head at buf[0..len) up to and with
 * its blank line (CRLF CRLF, or bare LF LF), searching from offset from
 * (re-scan the last 2 bytes after a read); 0 if not complete yet. */
size_t cx_http_head_end(const char *buf, size_t len, size_t from);

/* cx_http_parse_status: "HTTP/d.d SSS ..." at head -> *status (100..599),
 * 0 or CX_EPROTO. */
int cx_http_parse_status(const char *head, size_t len, int *status);

/* The from-th (0: first) header line called name (case-insensitive) of the
 * response head head[0..len) (status line first, no body), its value with
 * surrounding blanks trimmed copied into out (cut to out_size - 1 bytes).
 * Returns the value's full length (more than out_size - 1: it was cut), or
 * -1 if there is no such header.  Folded continuation lines are ignored. */
long cx_http_header(const char *head, size_t len, const char *name, size_t from,
                    char *out, size_t out_size);

/* A Content-Length value (digits only, at most CX_HTTP_LENGTH_MAX): 0 or
 * CX_EPROTO. */
int cx_http_parse_length(const char *v, uint64_t *n);

/* A chunk-size line line[0..len) without its LF ("1a", "1a;ext", "1a\r"):
 * 0 or CX_EPROTO (no hex digit, junk, more than CX_HTTP_LENGTH_MAX). */
int cx_http_parse_chunk_size(const char *line, size_t len, uint64_t *n);

/* http_parse.c: the request head for method on u: request line, Host
 * (with the port unless default), User-Agent, Accept, "Accept-Encoding:
 * identity", "Connection: close", Content-Type and Content-Length when
 * ctype is not NULL, extra ("Name: value\r\n..."; a missing final CRLF is
 * added), blank line.  Returns a malloc'd string (*out_len bytes), or NULL
 * (out of memory).  The caller rejects CR / LF in user_agent and ctype. */
char *cx_http_format_request(const char *method, const struct cx_url *u,
                             const char *user_agent, const char *ctype,
                             size_t body_len, const char *extra,
                             size_t *out_len);

/* How a response body is framed (cx_http_framing). */
#define CX_BODY_NONE 0    /* 1xx, 204, 304: no body */
#define CX_BODY_LENGTH 1  /* Content-Length bytes */
#define CX_BODY_CHUNKED 2 /* the last Transfer-Encoding is "chunked" */
#define CX_BODY_CLOSE 3   /* until the end of the connection */

/* The framing of the body of a response with head head[0..len) and status
 * (RFC 9112 6.3 for a GET/POST response): a CX_BODY_* (with *length for
 * CX_BODY_LENGTH), or CX_EPROTO with err for a bad, too large or
 * conflicting Content-Length. */
int cx_http_framing(const char *head, size_t len, int status,
                    uint64_t *length, char *err, size_t err_size);

#endif /* CX_HTTP_H */
