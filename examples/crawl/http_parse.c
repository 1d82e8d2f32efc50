/*
 * http_parse.c - the pure parsing half of the crawl examples' HTTP client
 * (http.h): URLs (parse, resolve a reference against a base, format) and
 * the pieces of an HTTP/1.1 response head (its end, status line, header
 * lookup, Content-Length and chunk-size values, body framing), and the
 * request head (cx_http_format_request).  No I/O, no allocation, no global
 * state: every function is thread-safe and works on caller buffers (but
 * cx_http_format_request, which returns a malloc'd string).
 *
 * URLs follow RFC 3986 where a crawler needs it: the scheme and host are
 * lower-cased, the default port is dropped when formatting, the fragment is
 * discarded, dot segments are removed from the path (never from the query),
 * and bytes that cannot appear in a request line (spaces, controls, non-
 * ASCII, '"', '<', '>', '\\', '^', '`', '{', '|', '}') are percent-encoded;
 * tabs and line breaks are dropped and surrounding whitespace trimmed, as
 * browsers do with href values.  Only http and https URLs are accepted;
 * host names must be ASCII (no IDN conversion), user:password@ is dropped,
 * IPv6 literals go in brackets ("http://[::1]:8080/").
 *
 * Usage: see http.h; cx_http_get / cx_http_post (http.c) use these, and so
 * may any example that has to normalise links (e.g. the HTML extractor).
 */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX 4096 /* a working buffer: longer inputs are CX_EURL */

/* Copy s[0..n) into out (cap bytes) without tabs / CR / LF and without
 * leading / trailing spaces and controls.  -1 if it does not fit. */
static int clean_ref(const char *s, size_t n, char *out, size_t cap)
{
    while (n > 0 && (unsigned char)s[0] <= ' ') {
        s++;
        n--;
    }
    while (n > 0 && (unsigned char)s[n - 1] <= ' ')
        n--;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
            continue;
        if (o + 1 >= cap)
            return -1;
        out[o++] = s[i];
    }
    out[o] = '\0';
    return 0;
}

static int needs_escape(unsigned char c)
{
    return c <= ' ' || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL;
}

/* Append s[0..n) to out (at *o, cap bytes), percent-encoding what cannot go
 * on a request line.  -1 if it does not fit. */
static int append_escaped(char *out, size_t cap, size_t *o, const char *s,
                          size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (needs_escape(c)) {
            if (*o + 3 >= cap)
                return -1;
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        } else {
            if (*o + 1 >= cap)
                return -1;
            out[(*o)++] = (char)c;
        }
    }
    out[*o] = '\0';
    return 0;
}

/* RFC 3986 5.2.4 remove_dot_segments, in place on a NUL-terminated path
 * (no query).  The output never grows, so one buffer does. */
static void remove_dots(char *p)
{
    char *in = p, *out = p;
    /* A matched strncmp prefix is inside the string (clang does not model
     * strncmp).  NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Branch) */
    while (*in) {
        if (strncmp(in, "../", 3) == 0) {
            in += 3;
        } else if (strncmp(in, "./", 2) == 0) {
            in += 2;
        } else if (strncmp(in, "/./", 3) == 0) {
            in += 2;
        } else if (strcmp(in, "/.") == 0) {
            in[1] = '\0'; /* "/" remains */
        } else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
            /* in matched "/..": in[3] is its NUL or '/'.
             * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
            if (in[3] == '/') {
                in += 3;
            } else {
                in += 2;
                in[0] = '/'; /* "/.." becomes "/" */
            }
            while (out > p && *--out != '/') {
            }
        } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
            in += strlen(in);
        } else {
            do {
                *out++ = *in++;
            } while (*in && *in != '/');
        }
    }
    *out = '\0';
}

/* ASCII classes (isalpha / isalnum depend on the locale). */
static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(int c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* Length of a scheme ("http:" -> 4) at the start of s, or 0. */
static size_t scheme_len(const char *s)
{
    if (!is_alpha((unsigned char)s[0]))
        return 0;
    size_t i = 1;
    while (is_alnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
           s[i] == '.')
        i++;
    return s[i] == ':' ? i : 0;
}

/* Parse "host[:port]" / "[v6][:port]" (userinfo already removed). */
static int parse_authority(const char *a, size_t n, struct cx_url *u)
{
    const char *host = a, *port = NULL;
    size_t hlen;
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (close == NULL)
            return CX_EURL;
        host = a + 1;
        hlen = (size_t)(close - host);
        size_t rest = n - (size_t)(close + 1 - a);
        if (rest > 0) {
            if (close[1] != ':')
                return CX_EURL;
            port = close + 2;
        }
        for (size_t i = 0; i < hlen; i++)
            if (!isxdigit((unsigned char)host[i]) && host[i] != ':' &&
                host[i] != '.')
                return CX_EURL;
    } else {
        const char *colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
        if (colon)
            port = colon + 1;
        for (size_t i = 0; i < hlen; i++) { /* ASCII names only */
            unsigned char c = (unsigned char)host[i];
            if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
                return CX_EURL;
        }
    }
    if (hlen == 0 || hlen >= sizeof u->host)
        return CX_EURL;
    for (size_t i = 0; i < hlen; i++)
        u->host[i] = (char)tolower((unsigned char)host[i]);
    u->host[hlen] = '\0';
    if (port != NULL && port < a + n) {
        long v = 0;
        for (const char *p = port; p < a + n; p++) {
            if (!isdigit((unsigned char)*p) || v > 65535)
                return CX_EURL;
            v = v * 10 + (*p - '0');
        }
        if (v < 1 || v > 65535)
            return CX_EURL;
        u->port = (int)v;
    }
    return CX_OK;
}

/* Parse a cleaned absolute URL. */
static int parse_clean(const char *s, struct cx_url *u)
{
    memset(u, 0, sizeof *u);
    size_t sl = scheme_len(s);
    if (sl == 0 || sl >= sizeof u->scheme || strncmp(s + sl, "://", 3) != 0)
        return CX_EURL;
    for (size_t i = 0; i < sl; i++)
        u->scheme[i] = (char)tolower((unsigned char)s[i]);
    if (strcmp(u->scheme, "http") == 0)
        u->port = 80;
    else if (strcmp(u->scheme, "https") == 0)
        u->port = 443;
    else
        return CX_EURL;
    const char *a = s + sl + 3;
    size_t alen = strcspn(a, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (a[i] == '@')
            at = a + i; /* drop user:password@ */
    const char *host = at ? at + 1 : a;
    int rc = parse_authority(host, (size_t)(a + alen - host), u);
    if (rc != CX_OK)
        return rc;
    const char *p = a + alen;
    size_t plen = strcspn(p, "#");
    size_t qoff = strcspn(p, "?#"); /* path part is p[0..qoff) */
    char path[URL_MAX];
    size_t o = 0;
    if (qoff == 0 || p[0] != '/')
        path[o++] = '/';
    if (append_escaped(path, sizeof path, &o, p, qoff) != 0)
        return CX_EURL;
    remove_dots(path);
    o = strlen(path);
    if (append_escaped(path, sizeof path, &o, p + qoff, plen - qoff) != 0 ||
        o >= sizeof u->path)
        return CX_EURL;
    memcpy(u->path, path, o + 1);
    return CX_OK;
}

int cx_url_parse(const char *url, struct cx_url *u)
{
    char buf[URL_MAX];
    if (url == NULL || clean_ref(url, strlen(url), buf, sizeof buf) != 0)
        return CX_EURL;
    return parse_clean(buf, u);
}

void cx_url_format(const struct cx_url *u, char *out, size_t out_size)
{
    int dflt = (strcmp(u->scheme, "http") == 0 && u->port == 80) ||
               (strcmp(u->scheme, "https") == 0 && u->port == 443);
    int v6 = strchr(u->host, ':') != NULL;
    char port[16] = "";
    if (!dflt)
        snprintf(port, sizeof port, ":%d", u->port);
    snprintf(out, out_size, "%s://%s%s%s%s%s", u->scheme, v6 ? "[" : "",
             u->host, v6 ? "]" : "", port, u->path[0] ? u->path : "/");
}

int cx_url_resolve(const struct cx_url *base, const char *ref, char *out,
                   size_t out_size)
{
    char r[URL_MAX], t[2 * URL_MAX + 16];
    struct cx_url u;
    if (ref == NULL || clean_ref(ref, strlen(ref), r, sizeof r) != 0)
        return CX_EURL;
    r[strcspn(r, "#")] = '\0';
    int rc;
    if (scheme_len(r) > 0) {
        rc = parse_clean(r, &u);
    } else if (r[0] == '/' && r[1] == '/') {
        snprintf(t, sizeof t, "%s:%s", base->scheme, r);
        rc = parse_clean(t, &u);
    } else {
        u = *base;
        const char *bq = strchr(base->path, '?');
        size_t bplen = bq ? (size_t)(bq - base->path) : strlen(base->path);
        size_t rq = strcspn(r, "?");
        if (r[0] == '\0') {
            snprintf(t, sizeof t, "%s", base->path);
        } else if (r[0] == '/') {
            snprintf(t, sizeof t, "%s", r);
        } else if (r[0] == '?') {
            snprintf(t, sizeof t, "%.*s%s", (int)bplen, base->path, r);
        } else {
            /* merge: the base path up to its last '/', then the ref */
            size_t dir = bplen;
            while (dir > 0 && base->path[dir - 1] != '/')
                dir--;
            if (dir == 0)
                snprintf(t, sizeof t, "/%s", r);
            else
                snprintf(t, sizeof t, "%.*s%s", (int)dir, base->path, r);
            rq += strlen(t) - strlen(r);
        }
        if (r[0] != '\0' && r[0] != '?') {
            /* remove dot segments from the path part only */
            char q[URL_MAX];
            if (strlen(t + rq) >= sizeof q)
                return CX_EURL;
            strcpy(q, t + rq);
            t[rq] = '\0';
            remove_dots(t);
            if (strlen(t) + strlen(q) + 1 > sizeof t)
                return CX_EURL;
            strcat(t, q);
        }
        char p[sizeof u.path];
        size_t o = 0;
        if (t[0] != '/')
            p[o++] = '/';
        if (append_escaped(p, sizeof p, &o, t, strlen(t)) != 0)
            return CX_EURL;
        memcpy(u.path, p, o + 1);
        rc = CX_OK;
    }
    if (rc != CX_OK)
        return rc;
    char f[sizeof u.path + 300];
    cx_url_format(&u, f, sizeof f);
    if (strlen(f) >= out_size)
        return CX_EURL;
    memcpy(out, f, strlen(f) + 1);
    return CX_OK;
}

/* ------------------------------------------------------------------------ */
/* Request                                                                  */
/* ------------------------------------------------------------------------ */

char *cx_http_format_request(const char *method, const struct cx_url *u,
                             const char *user_agent, const char *ctype,
                             size_t body_len, const char *extra,
                             size_t *out_len)
{
    char host[300], clen[64] = "";
    int v6 = strchr(u->host, ':') != NULL;
    int dflt = u->port == (strcmp(u->scheme, "https") == 0 ? 443 : 80);
    snprintf(host, sizeof host, "%s%s%s", v6 ? "[" : "", u->host,
             v6 ? "]" : "");
    if (!dflt)
        snprintf(host + strlen(host), sizeof host - strlen(host), ":%d",
                 u->port);
    if (ctype != NULL)
        snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", body_len);
    extra = extra ? extra : "";
    size_t el = strlen(extra);
    int crlf = el > 0 && extra[el - 1] != '\n';
    size_t cap = strlen(method) + strlen(u->path) + strlen(host) +
                 strlen(user_agent) + el + (ctype ? strlen(ctype) : 0) + 256;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    int n = snprintf(out, cap,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                     "Accept: */*\r\nAccept-Encoding: identity\r\n"
                     "Connection: close\r\n%s%s%s%s%s%s\r\n",
                     method, u->path, host, user_agent,
                     ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", clen, extra, crlf ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)n;
    return out;
}

/* ------------------------------------------------------------------------ */
/* Response head                                                            */
/* ------------------------------------------------------------------------ */

size_t cx_http_head_end(const char *buf, size_t len, size_t from)
{
    for (size_t i = from; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

int cx_http_parse_status(const char *head, size_t len, int *status)
{
    /* "HTTP/d.d SSS[ reason]" */
    if (len < 12 || memcmp(head, "HTTP/", 5) != 0 ||
        !isdigit((unsigned char)head[5]) || head[6] != '.' ||
        !isdigit((unsigned char)head[7]) || head[8] != ' ')
        return CX_EPROTO;
    int v = 0;
    for (int i = 9; i < 12; i++) {
        if (!isdigit((unsigned char)head[i]))
            return CX_EPROTO;
        v = v * 10 + (head[i] - '0');
    }
    if (len > 12 && head[12] != ' ' && head[12] != '\r' && head[12] != '\n')
        return CX_EPROTO;
    if (v < 100 || v > 599)
        return CX_EPROTO;
    *status = v;
    return CX_OK;
}

long cx_http_header(const char *head, size_t len, const char *name, size_t from,
                    char *out, size_t out_size)
{
    size_t nlen = strlen(name);
    const char *end = head + len;
    const char *line = memchr(head, '\n', len); /* skip the status line */
    size_t seen = 0;
    while (line != NULL && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        const char *le = eol ? eol : end;
        if ((size_t)(le - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0 && seen++ == from) {
            const char *v = line + nlen + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v &&
                   (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
                ve--;
            size_t vlen = (size_t)(ve - v);
            if (out_size > 0) {
                size_t c = vlen < out_size - 1 ? vlen : out_size - 1;
                memcpy(out, v, c);
                out[c] = '\0';
            }
            return (long)vlen;
        }
        line = eol;
    }
    return -1;
}

int cx_http_parse_length(const char *v, uint64_t *n)
{
    uint64_t x = 0;
    if (!isdigit((unsigned char)*v))
        return CX_EPROTO;
    for (; isdigit((unsigned char)*v); v++) {
        x = x * 10 + (uint64_t)(*v - '0'); /* x <= MAX before: no wrap */
        if (x > CX_HTTP_LENGTH_MAX)
            return CX_EPROTO;
    }
    if (*v != '\0')
        return CX_EPROTO;
    *n = x;
    return CX_OK;
}

int cx_http_parse_chunk_size(const char *line, size_t len, uint64_t *n)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; i < len && isxdigit((unsigned char)line[i]); i++) {
        int c = tolower((unsigned char)line[i]);
        x = x * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
        if (x > CX_HTTP_LENGTH_MAX)
            return CX_EPROTO;
    }
    if (i == 0)
        return CX_EPROTO;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    /* then nothing, a chunk extension, or the CR of the CRLF */
    if (i < len && line[i] != ';' && !(line[i] == '\r' && i + 1 == len))
        return CX_EPROTO;
    *n = x;
    return CX_OK;
}

int cx_http_framing(const char *head, size_t len, int status, uint64_t *length,
                    char *err, size_t err_size)
{
    char v[256];
    long te = -1;
    if (status < 200 || status == 204 || status == 304)
        return CX_BODY_NONE;
    for (size_t i = 0;; i++) { /* the last Transfer-Encoding counts */
        long l = cx_http_header(head, len, "Transfer-Encoding", i, v, sizeof v);
        if (l < 0)
            break;
        te = l;
    }
    if (te >= 0) {
        const char *last = strrchr(v, ',');
        last = last ? last + 1 : v;
        while (*last == ' ' || *last == '\t')
            last++;
        return strcasecmp(last, "chunked") == 0 ? CX_BODY_CHUNKED
                                                : CX_BODY_CLOSE;
    }
    int found = 0;
    for (size_t i = 0;; i++) { /* repeated values must agree */
        uint64_t n;
        long l = cx_http_header(head, len, "Content-Length", i, v, sizeof v);
        if (l < 0)
            break;
        if ((size_t)l >= sizeof v || cx_http_parse_length(v, &n) != CX_OK) {
            snprintf(err, err_size, "bad Content-Length \"%.40s\"", v);
            return CX_EPROTO;
        }
        if (found && n != *length) {
            snprintf(err, err_size, "conflicting Content-Length headers");
            return CX_EPROTO;
        }
        *length = n;
        found = 1;
    }
    return found ? CX_BODY_LENGTH : CX_BODY_CLOSE;
}

const char *cx_err_name(int rc)
{
    switch (rc) {
    case CX_OK:
        return "CX_OK";
    case CX_EURL:
        return "CX_EURL";
    case CX_ECONNECT:
        return "CX_ECONNECT";
    case CX_ETIMEOUT:
        return "CX_ETIMEOUT";
    case CX_EPROTO:
        return "CX_EPROTO";
    case CX_EPROXY:
        return "CX_EPROXY";
    case CX_EPROXY_TIMEOUT:
        return "CX_EPROXY_TIMEOUT";
    case CX_EIO:
        return "CX_EIO";
    case CX_ENOMEM:
        return "CX_ENOMEM";
    default:
        return "CX_E?";
    }
}
