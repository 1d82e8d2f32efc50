/*
 * httpd.h - the crawl examples' minimal HTTP/1.1 server side (httpd.c):
 * listen on a numeric loopback address, read one request with deadlines,
 * answer it, close.  Used by crawl-producer (POST /jobs) and crawl-fixture
 * (the test site, the report sink).  Part of the crawl pipeline examples,
 * not of libcrawllog.  Thread-safe: no global state.
 */
#ifndef CX_HTTPD_H
#define CX_HTTPD_H

#include <stddef.h>

/* Listen on "HOST:PORT" (numeric IPv4 or [IPv6]; PORT 0: any free one).
 * Returns the listening fd (O_CLOEXEC) and *portp the bound port, or -1
 * with err. */
int cx_httpd_listen(const char *hostport, int *portp, char *err,
                    size_t err_size);

/* One request as read from a connection. */
struct cx_request {
    char method[16];
    char path[2048];      /* path and query as sent */
    char *head;           /* the raw header lines (malloc'd) */
    char *body;           /* malloc'd, NUL-terminated ("" if none) */
    size_t body_len;
};

/* Read one request (Content-Length body, at most body_max bytes) from fd
 * within timeout_ms: 0, or -1 (bad, too big or timed out: answer 400 or
 * just close). */
int cx_httpd_read(int fd, struct cx_request *req, size_t body_max,
                  int timeout_ms);

/* A header's value (case-insensitive name) copied into out: 1 if present,
 * 0 if not. */
int cx_httpd_header(const struct cx_request *req, const char *name,
                    char *out, size_t out_size);

void cx_httpd_request_free(struct cx_request *req);

/* Send a whole response: status line, Content-Type (if not NULL),
 * Content-Length, "Connection: close", extra_headers ("Name: v\r\n"... or
 * NULL), then body.  Returns 0 or -1. */
int cx_httpd_respond(int fd, int status, const char *content_type,
                     const void *body, size_t len, const char *extra_headers);

/* Additions. */

/* accept() a connection on the listening fd lfd, made FD_CLOEXEC; a
 * connection reset before it was accepted (ECONNABORTED) and EINTR are
 * retried.  Returns the fd, or -1 with errno. */
int cx_httpd_accept(int lfd);

#endif /* CX_HTTPD_H */
