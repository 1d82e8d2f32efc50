/*
 * cli_format.c - how the crawllog tool reads times and prints records:
 * cli_parse_time (ms since the epoch or ISO 8601, for --from-time and
 * --to-time), the record formats of consume / tail (text, raw, json, and
 * kcat-style format strings), and flushing stdout with a closed pipe
 * taken as the end of the output.
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk.  No state; no locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---------------------------------------------------------------------- */
/* Times                                                                   */
/* ---------------------------------------------------------------------- */

/* The decimal number of the n digits at s. */
static int num(const char *s, int n)
{
    int v = 0;

    while (n-- > 0) {
        v = v * 10 + (*s++ - '0');
    }
    return v;
}

/* 1 if s starts like tmpl: '9' a digit, 'T' a 'T' or a space, other
 * characters themselves. */
static int like(const char *s, const char *tmpl)
{
    for (; *tmpl != '\0'; s++, tmpl++) {
        if (*tmpl == '9' ? *s < '0' || *s > '9'
                         : *s != *tmpl && !(*tmpl == 'T' && *s == ' ')) {
            return 0;
        }
    }
    return 1;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;

    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

int cli_parse_time(const char *s, int64_t *msp)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec = 0, ms = 0, nd = 0, tz = 0, utc = 0;
    const char *p;
    int64_t secs;
    struct tm tm;

    if (s != NULL && s[0] >= '0' && s[0] <= '9' && strchr(s, '-') == NULL) {
        return cli_parse_int(s, 0, INT64_MAX, msp);
    } else if (s == NULL || !like(s, "9999-99-99T99:99")) {
        return -1;
    }
    y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
    h = num(s + 11, 2), mi = num(s + 14, 2);
    p = s + 16;
    if (like(p, ":99")) {
        sec = num(p + 1, 2);
        p += 3;
        if (*p == '.') {
            for (p++; *p >= '0' && *p <= '9'; p++, nd++) {
                ms = nd < 3 ? ms * 10 + (*p - '0') : ms;
            }
            if (nd == 0) {
                return -1;
            }
            for (; nd < 3; nd++) {
                ms *= 10; /* .5 is 500 ms */
            }
        }
    }
    if (*p == 'Z') {
        utc = 1;
        p++;
    } else if ((*p == '+' || *p == '-') &&
               (like(p + 1, "99:99") || like(p + 1, "9999"))) {
        int th = num(p + 1, 2), tmin = num(p + (p[3] == ':' ? 4 : 3), 2);

        if (th > 23 || tmin > 59) {
            return -1;
        }
        tz = (*p == '-' ? -1 : 1) * (th * 60 + tmin);
        utc = 1;
        p += p[3] == ':' ? 6 : 5;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400))) ||
        h > 23 || mi > 59 || sec > 59) {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;
    secs = utc ? days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
                     (int64_t)tz * 60
               : (int64_t)mktime(&tm);
    if (secs < 0) {
        return -1;
    }
    *msp = secs * 1000 + ms;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Output                                                                  */
/* ---------------------------------------------------------------------- */

/* Flush stdout: 0; 1 if the reader went away (EPIPE; stdout then goes to
 * /dev/null, so that later flushes succeed); -1 on another error
 * (reported). */
int cli_stdout_flush(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout)) {
        return 0;
    }
    if (errno == EPIPE) {
        int fd = open("/dev/null", O_WRONLY);

        if (fd >= 0) {
            dup2(fd, 1);
            close(fd);
        }
        clearerr(stdout);
        return 1;
    }
    fprintf(stderr, "crawllog: writing stdout: %s\n", strerror(errno));
    clearerr(stdout);
    return -1;
}

/* FMT checked: 0 if every % and \ is known (*nlp: FMT ends with a
 * newline), -1 if not. */
static int check_custom(const char *f, int *nlp)
{
    *nlp = 0;
    for (; *f != '\0'; f++) {
        if (*f == '%' || *f == '\\') {
            const char *ok = *f == '%' ? "tpokvsKShT%" : "ntr\\";

            if (f[1] == '\0' || strchr(ok, f[1]) == NULL) {
                return -1;
            }
            *nlp = *f == '\\' && f[1] == 'n';
            f++;
        } else {
            *nlp = *f == '\n';
        }
    }
    return 0;
}

int cli_format_parse(struct cli_format *co, const char *f)
{
    static const char *const named[] = {"text", "raw", "json"};

    for (int i = 0; i < 3; i++) {
        if (strcmp(f, named[i]) == 0) {
            co->kind = i; /* CLI_FMT_TEXT, _RAW, _JSON */
            return 0;
        }
    }
    if (strchr(f, '%') == NULL || check_custom(f, &co->custom_nl) != 0) {
        return -1;
    }
    co->kind = CLI_FMT_CUSTOM;
    co->custom = f;
    return 0;
}

static void put_raw(const void *p, size_t len)
{
    if (p != NULL && len > 0) {
        fwrite(p, 1, len, stdout);
    }
}

/* A number for %p %o %T %K %S. */
static long long token_num(const crawllog_msg_t *m, int t)
{
    size_t len;
    const void *p =
        t == 'K' ? crawllog_msg_key(m, &len) : crawllog_msg_value(m, &len);

    return t == 'p'    ? crawllog_msg_partition(m)
           : t == 'o'  ? crawllog_msg_offset(m)
           : t == 'T'  ? crawllog_msg_timestamp(m)
           : p == NULL ? -1
                       : (long long)len;
}

static void print_custom(const struct cli_format *co, const crawllog_msg_t *m)
{
    const char *f;
    crawllog_header_t h;
    size_t len, i;
    const void *p;

    for (f = co->custom; *f != '\0'; f++) {
        if (*f == '\\') {
            f++;
            putchar(*f == 'n'   ? '\n'
                    : *f == 't' ? '\t'
                    : *f == 'r' ? '\r'
                                : *f);
        } else if (*f != '%' || *++f == '%') {
            putchar(*f);
        } else if (*f == 't') {
            fputs(crawllog_msg_topic(m), stdout);
        } else if (*f == 'k' || *f == 'v' || *f == 's') {
            p = *f == 'k' ? crawllog_msg_key(m, &len)
                          : crawllog_msg_value(m, &len);
            put_raw(p, len);
        } else if (*f != 'h') {
            printf("%lld", token_num(m, *f));
        } else {
            for (i = 0; i < crawllog_msg_header_count(m); i++) {
                if (crawllog_msg_header(m, i, &h) == CRAWLLOG_OK) {
                    fputs(i > 0 ? "," : "", stdout);
                    put_raw(h.name, h.name_len);
                    fputs(h.value != NULL ? "=" : "", stdout);
                    put_raw(h.value, h.value_len);
                }
            }
        }
    }
    if (!co->custom_nl) {
        putchar('\n');
    }
}

static void print_json(const crawllog_msg_t *m)
{
    const void *k, *v;
    size_t klen, vlen, i, n = crawllog_msg_header_count(m);
    crawllog_header_t h;

    k = crawllog_msg_key(m, &klen);
    v = crawllog_msg_value(m, &vlen);
    fputs("{\"topic\":", stdout);
    cli_json_str(stdout, crawllog_msg_topic(m));
    printf(",\"partition\":%d,\"offset\":%lld,\"timestamp\":%lld,\"key\":",
           (int)crawllog_msg_partition(m), (long long)crawllog_msg_offset(m),
           (long long)crawllog_msg_timestamp(m));
    cli_json_bytes(stdout, k, klen);
    fputs(",\"value\":", stdout);
    cli_json_bytes(stdout, v, vlen);
    fputs(",\"headers\":[", stdout);
    for (i = 0; i < n; i++) {
        if (crawllog_msg_header(m, i, &h) == CRAWLLOG_OK) {
            fputs(i > 0 ? ",{\"name\":" : "{\"name\":", stdout);
            cli_json_bytes(stdout, h.name, h.name_len);
            fputs(",\"value\":", stdout);
            cli_json_bytes(stdout, h.value, h.value_len);
            putchar('}');
        }
    }
    puts("]}");
}

void cli_format_print(const struct cli_format *co, const crawllog_msg_t *m)
{
    const void *k, *v;
    size_t klen, vlen;

    if (co->kind == CLI_FMT_JSON) {
        print_json(m);
        return;
    } else if (co->kind == CLI_FMT_CUSTOM) {
        print_custom(co, m);
        return;
    }
    v = crawllog_msg_value(m, &vlen);
    if (co->kind == CLI_FMT_RAW) {
        put_raw(v, vlen);
        putchar('\n');
        return;
    }
    k = crawllog_msg_key(m, &klen);
    if (co->partition_col) {
        printf("%d\t", (int)crawllog_msg_partition(m));
    }
    printf("%lld\t%lld\t", (long long)crawllog_msg_offset(m),
           (long long)crawllog_msg_timestamp(m));
    cli_print_escaped(stdout, k, klen);
    putchar('\t');
    cli_print_escaped(stdout, v, vlen);
    putchar('\n');
}

