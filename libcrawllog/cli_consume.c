/*
 * cli_consume.c - the crawllog tool's `consume` and `tail` commands, and
 * cli_parse_time() (the times of --from-time: ms or ISO 8601).
 *
 * Both commands read through a crawllog consumer: without --group it is
 * assigned its partitions (one, or every partition of the topic) at
 * explicit start offsets computed here (log start, --offset, --from-time
 * through a reader's time index, or the log end for tail); with --group it
 * is a member of the group subscribed to the topic, starting at the
 * committed offsets (auto.offset.reset earliest, tail: latest), moved by
 * --offset / --from-time when a partition is first assigned (rebalance
 * callback).  Records are printed in batches of one poll; a member commits
 * each batch (CRAWLLOG_SYNC_WRITTEN) once it is flushed to stdout, so a
 * commit never covers a record that did not reach the output; at the end
 * a durable commit (and the close) make them survive a power loss.  After
 * a broken output pipe nothing more is committed.  Without --follow the
 * command stops when every partition read has reached the log end it had
 * when the command started (appends made meanwhile do not keep it going);
 * with it, it polls until SIGINT / SIGTERM or --max.
 *
 * Output errors: SIGPIPE is ignored; EPIPE on stdout (the reader went away,
 * `| head`) ends the command quietly with status 0, stdout then being
 * /dev/null so that the tool's final flush does not complain.
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk (a member's commits are the group's).  No locks:
 * single-threaded; the SIGINT / SIGTERM handler only sets a flag (a
 * second signal kills the process, for a stuck stop).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define POLL_BATCH 500
#define FOLLOW_POLL_MS 200
#define GROUP_POLL_MS 100
#define GROUP_WAIT_MS 3000 /* a member that gets no partition stops then */

static const char consume_usage[] =
    "usage: crawllog [-d DIR] consume TOPIC [PARTITION] [--group G]\n"
    "          [--from-beginning | --offset O | --from-time T] [--max N]\n"
    "          [-f|--follow] [--format text|raw|json|FMT]\n"
    "  Print the records of TOPIC: of PARTITION (or --partition P), else\n"
    "  of every partition in turn; with --group G, of those the group\n"
    "  assigns to this member.\n"
    "  --group G         read as a member of consumer group G (no\n"
    "                    PARTITION): from G's committed offsets (none:\n"
    "                    the log start), committing each batch once\n"
    "                    printed (durably at exit)\n"
    "  --from-beginning  from the log start (the default; with --group:\n"
    "                    where a partition without a commit starts)\n"
    "  --offset O        from offset O (or --from O), which every\n"
    "                    partition read must have; with --group each\n"
    "                    partition moves there when first assigned,\n"
    "                    whatever was committed\n"
    "  --from-time T     from the first record stamped at or after T: ms\n"
    "                    since the epoch, or ISO 8601 local time\n"
    "                    2026-11-24T10:00[:SS[.mmm]] (Z or +HH:MM after\n"
    "                    it: UTC or that offset); with --group: as --offset\n"
    "  --max N           stop after N records\n"
    "  -f, --follow      at the log end, wait for more until SIGINT or\n"
    "                    SIGTERM (exit 0, commits done) or --max; without\n"
    "                    it, stop at the log end of the start\n"
    "  --format F        text (default): OFFSET\\tTIMESTAMP\\tKEY\\tVALUE\n"
    "                    lines, PARTITION\\t first unless one PARTITION is\n"
    "                    read; null as (null), bytes outside 0x20..0x7e\n"
    "                    and '\\' as \\xHH\n"
    "                    raw: each value's bytes and a newline\n"
    "                    json: an object per line: topic, partition,\n"
    "                    offset, timestamp, key, value, headers [{name,\n"
    "                    value}]\n"
    "                    FMT (with a %), as kcat -f: %t topic, %p\n"
    "                    partition, %o offset, %k key, %v (or %s) value,\n"
    "                    %K / %S key / value length (-1: null), %h headers\n"
    "                    k=v,k=v (k alone: null value), %T timestamp (ms),\n"
    "                    %% a %; \\n \\t \\r \\\\ escapes; raw bytes; a\n"
    "                    newline follows unless FMT ends with one\n"
    "  A closed output (| head) ends the command quietly, exit 0.\n";

static const char tail_usage[] =
    "usage: crawllog [-d DIR] tail TOPIC [PARTITION] [--group G]\n"
    "          [--from-beginning | --offset O | --from-time T] [--max N]\n"
    "          [--format text|raw|json|FMT]\n"
    "  consume --follow from the log end: print the records appended to\n"
    "  TOPIC (PARTITION, or every partition) from now on, until SIGINT or\n"
    "  SIGTERM (exit 0) or --max N records.  --from-beginning, --offset or\n"
    "  --from-time start earlier; with --group G, a partition with a\n"
    "  committed offset starts there (without one: at the log end).  The\n"
    "  options and formats are consume's (crawllog consume --help).\n";

enum fmt { FMT_TEXT, FMT_RAW, FMT_JSON, FMT_CUSTOM };

/* Options and state of one consume / tail run. */
struct consume {
    const char *what, *usage, *topic, *group, *fmt_str;
    int64_t partition; /* -1: all (or the group's) */
    int64_t offset;    /* --offset; -1: none */
    int64_t from_time; /* --from-time; -1: none */
    int64_t max;       /* -1: no limit */
    int from_beginning, follow, tail, fmt, fmt_nl, starts;
    struct cli *c;
    crawllog_consumer_t *cons;
    int32_t parts;
    int64_t *snap_end;     /* per partition: the log end at the start */
    unsigned char *placed; /* group: partitions this run has moved */
    int cb_st;             /* an error of the rebalance callback */
    int64_t printed, total;
    int broken; /* stdout went away */
    struct cli_progress prog;
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    if (stop_signal) {
        signal(sig, SIG_DFL); /* a second signal: die now */
        raise(sig);
    }
    stop_signal = sig;
}

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
static int out_flush(void)
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

static int parse_format(struct consume *co, const char *f)
{
    static const char *const named[] = {"text", "raw", "json"};

    for (int i = 0; i < 3; i++) {
        if (strcmp(f, named[i]) == 0) {
            co->fmt = i; /* FMT_TEXT, FMT_RAW, FMT_JSON */
            return 0;
        }
    }
    if (strchr(f, '%') == NULL || check_custom(f, &co->fmt_nl) != 0) {
        return -1;
    }
    co->fmt = FMT_CUSTOM;
    co->fmt_str = f;
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

static void print_custom(const struct consume *co, const crawllog_msg_t *m)
{
    const char *f;
    crawllog_header_t h;
    size_t len, i;
    const void *p;

    for (f = co->fmt_str; *f != '\0'; f++) {
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
    if (!co->fmt_nl) {
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

static void print_msg(const struct consume *co, const crawllog_msg_t *m)
{
    const void *k, *v;
    size_t klen, vlen;

    if (co->fmt == FMT_JSON) {
        print_json(m);
        return;
    } else if (co->fmt == FMT_CUSTOM) {
        print_custom(co, m);
        return;
    }
    v = crawllog_msg_value(m, &vlen);
    if (co->fmt == FMT_RAW) {
        put_raw(v, vlen);
        putchar('\n');
        return;
    }
    k = crawllog_msg_key(m, &klen);
    if (co->partition < 0) {
        printf("%d\t", (int)crawllog_msg_partition(m));
    }
    printf("%lld\t%lld\t", (long long)crawllog_msg_offset(m),
           (long long)crawllog_msg_timestamp(m));
    cli_print_escaped(stdout, k, klen);
    putchar('\t');
    cli_print_escaped(stdout, v, vlen);
    putchar('\n');
}

/* ---------------------------------------------------------------------- */
/* Start positions                                                         */
/* ---------------------------------------------------------------------- */

/* Where partition p starts (--offset, --from-time, tail's log end, or the
 * log start) in *posp.  Returns 0 or the exit status (reported). */
static int start_of(struct consume *co, int32_t p, int64_t *posp)
{
    crawllog_reader_t *rd = NULL;
    char arg[CRAWLLOG_TOPIC_NAME_MAX + 64], detail[96];
    int64_t start, end;
    int rc;

    snprintf(arg, sizeof(arg), "%s/%d", co->topic, (int)p);
    rc = crawllog_partition_offsets(co->c->log, co->topic, p, &start, &end);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(co->c, co->what, arg, rc);
    }
    if (co->offset >= 0 && (co->offset < start || co->offset > end)) {
        snprintf(arg, sizeof(arg), "%s/%d offset %lld", co->topic, (int)p,
                 (long long)co->offset);
        snprintf(detail, sizeof(detail), "log start %lld, log end %lld",
                 (long long)start, (long long)end);
        return cli_fail(co->what, arg, CRAWLLOG_EOFFSET, detail);
    }
    *posp = co->offset >= 0                   ? co->offset
            : co->tail && !co->from_beginning ? end
                                              : start;
    if (co->from_time >= 0) {
        rc = crawllog_reader_new(&rd, co->c->log, co->topic, p);
        if (rc == CRAWLLOG_OK) {
            rc = crawllog_reader_seek_time(rd, co->from_time, posp);
            if (rc != CRAWLLOG_OK) {
                rc = cli_fail(co->what, arg, rc, crawllog_reader_errmsg(rd));
            }
        } else {
            rc = cli_fail_log(co->c, co->what, arg, rc);
        }
        crawllog_reader_destroy(rd);
    }
    return rc;
}

/* Group: move the partitions this run has not moved yet to --offset /
 * --from-time. */
static void on_rebalance(crawllog_consumer_t *cons, int event,
                         const crawllog_topic_partition_t *parts, size_t count,
                         void *opaque)
{
    struct consume *co = opaque;
    int64_t pos = 0;
    size_t i;

    for (i = 0; i < count && event == CRAWLLOG_REBALANCE_ASSIGNED; i++) {
        int32_t p = parts[i].partition;
        int rc;

        if (co->cb_st != 0 || strcmp(parts[i].topic, co->topic) != 0 || p < 0 ||
            p >= co->parts || co->placed[p]) {
            continue;
        }
        co->placed[p] = 1;
        if ((co->cb_st = start_of(co, p, &pos)) == 0 &&
            (rc = crawllog_consumer_seek(cons, co->topic, p, pos)) != 0) {
            co->cb_st = cli_fail(co->what, co->topic, rc,
                                 crawllog_consumer_errmsg(cons));
        }
    }
}

/* Create the consumer; assign it or subscribe it.  0 or exit status. */
static int setup(struct consume *co)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf = NULL;
    crawllog_topic_partition_t *tps = NULL;
    int32_t i, n = co->partition >= 0 ? 1 : co->parts;
    int rc = crawllog_conf_dup(&conf, co->c->conf), st = 0;

    if (rc == CRAWLLOG_OK && co->group != NULL) {
        rc = crawllog_conf_set(conf, "group.id", co->group, errstr,
                               sizeof(errstr));
        if (rc == CRAWLLOG_OK) { /* commits only after the output */
            rc = crawllog_conf_set(conf, "enable.auto.commit", "false", errstr,
                                   sizeof(errstr));
        }
        if (rc == CRAWLLOG_OK) {
            rc = crawllog_conf_set(conf, "auto.offset.reset",
                                   co->tail && !co->from_beginning ? "latest"
                                                                   : "earliest",
                                   errstr, sizeof(errstr));
        }
    }
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_consumer_new(co->c->log, conf, &co->cons, errstr,
                                   sizeof(errstr));
    }
    crawllog_conf_destroy(conf);
    if (rc != CRAWLLOG_OK) {
        return cli_fail(co->what, co->group ? co->group : co->topic, rc,
                        errstr);
    }
    if (co->group != NULL) {
        if (co->offset >= 0 || co->from_time >= 0) {
            crawllog_consumer_set_rebalance_cb(co->cons, on_rebalance, co);
        }
        rc = crawllog_consumer_subscribe(co->cons, &co->topic, 1);
    } else if ((tps = calloc((size_t)n, sizeof(*tps))) == NULL) {
        rc = CRAWLLOG_ENOMEM;
    } else {
        for (i = 0; i < n && st == 0; i++) {
            tps[i].topic = co->topic;
            tps[i].partition = co->partition >= 0 ? (int32_t)co->partition : i;
            st = start_of(co, tps[i].partition, &tps[i].offset);
            co->total += co->snap_end[tps[i].partition] - tps[i].offset;
        }
        rc = st == 0 ? crawllog_consumer_assign(co->cons, tps, (size_t)n) : 0;
        free(tps);
    }
    if (st == 0 && rc != CRAWLLOG_OK) {
        st = cli_fail(co->what, co->group ? co->group : co->topic, rc,
                      crawllog_consumer_errmsg(co->cons));
    }
    return st;
}

/* ---------------------------------------------------------------------- */
/* The loop                                                                */
/* ---------------------------------------------------------------------- */

/* 1 if every partition read has reached its log end of the start (a
 * member with no partition: after GROUP_WAIT_MS). */
static int at_end(struct consume *co, int64_t t0)
{
    crawllog_topic_partition_t *l = NULL;
    size_t n = 0, i;
    int done;

    if (crawllog_consumer_assignment(co->cons, &l, &n) != CRAWLLOG_OK) {
        return 0;
    }
    done = n > 0 || (co->group != NULL && cli_now_ms() - t0 > GROUP_WAIT_MS);
    if (n == 0 && done) {
        fprintf(stderr,
                "crawllog: %s: group %s assigned no partition of %s "
                "to this member\n",
                co->what, co->group, co->topic);
    }
    for (i = 0; i < n && done; i++) {
        int64_t start, end = INT64_MAX;

        if (strcmp(l[i].topic, co->topic) == 0 && l[i].partition < co->parts) {
            end = co->snap_end[l[i].partition];
        } else if (crawllog_partition_offsets(co->c->log, l[i].topic,
                                              l[i].partition, &start,
                                              &end) != CRAWLLOG_OK) {
            end = INT64_MAX; /* a migration's target: unknown, go on */
        }
        done = l[i].offset >= 0 && l[i].offset >= end;
    }
    free(l);
    return done;
}

static int consume_loop(struct consume *co)
{
    const crawllog_msg_t *msgs[POLL_BATCH];
    int timeout = co->follow ? FOLLOW_POLL_MS : co->group ? GROUP_POLL_MS : 0;
    int64_t t0 = cli_now_ms();
    int rc, out;

    while (!stop_signal && (co->max < 0 || co->printed < co->max)) {
        size_t want = POLL_BATCH, n = 0, i;

        if (co->max >= 0 && co->max - co->printed < (int64_t)want) {
            want = (size_t)(co->max - co->printed);
        }
        rc = crawllog_consumer_poll(co->cons, timeout, msgs, want, &n);
        if (co->cb_st != 0) {
            return co->cb_st;
        } else if (rc != CRAWLLOG_OK) {
            fflush(stdout);
            return cli_fail(co->what, co->topic, rc,
                            crawllog_consumer_errmsg(co->cons));
        }
        for (i = 0; i < n; i++) {
            print_msg(co, msgs[i]);
        }
        if (n > 0 && (out = out_flush()) != 0) {
            co->broken = out > 0;
            return out > 0 ? 0 : 1;
        }
        co->printed += (int64_t)n;
        if (n > 0 && co->group != NULL &&
            (rc = crawllog_consumer_commit(co->cons, NULL,
                                           CRAWLLOG_SYNC_WRITTEN)) != 0) {
            return cli_fail("consume: commit of group", co->group, rc,
                            crawllog_consumer_errmsg(co->cons));
        }
        cli_progress_update(&co->prog, co->printed, co->total);
        if (!co->follow && at_end(co, t0)) {
            break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Commands                                                                */
/* ---------------------------------------------------------------------- */

static int parse(struct consume *co, int argc, char **argv)
{
    int i = 1;

    co->partition = co->offset = co->from_time = co->max = -1;
    if (argc < 1 || argv[0][0] == '-') {
        return cli_usage(co->usage, "%s needs TOPIC", co->what);
    }
    co->topic = argv[0];
    if (argc > 1 && argv[1][0] != '-') {
        if (cli_parse_int(argv[1], 0, INT32_MAX, &co->partition) != 0) {
            return cli_usage(co->usage, "bad partition '%s'", argv[1]);
        }
        i = 2;
    }
    for (; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(o, "-f") == 0 || strcmp(o, "--follow") == 0) {
            co->follow = 1;
            continue;
        } else if (strcmp(o, "--from-beginning") == 0) {
            co->from_beginning = 1;
            co->starts++;
            continue;
        } else if (val != NULL && strcmp(o, "--group") == 0) {
            co->group = val;
        } else if (!(val != NULL &&
                     ((strcmp(o, "--partition") == 0 && co->partition < 0 &&
                       cli_parse_int(val, 0, INT32_MAX, &co->partition) == 0) ||
                      ((strcmp(o, "--offset") == 0 ||
                        strcmp(o, "--from") == 0) &&
                       cli_parse_int(val, 0, INT64_MAX, &co->offset) == 0 &&
                       ++co->starts) ||
                      (strcmp(o, "--from-time") == 0 &&
                       cli_parse_time(val, &co->from_time) == 0 &&
                       ++co->starts) ||
                      (strcmp(o, "--max") == 0 &&
                       cli_parse_int(val, 0, INT64_MAX, &co->max) == 0) ||
                      (strcmp(o, "--format") == 0 &&
                       parse_format(co, val) == 0)))) {
            return cli_usage(co->usage, "bad option or value '%s'", o);
        }
        i++;
    }
    if (co->starts > 1) {
        return cli_usage(co->usage, "%s",
                         "--from-beginning, --offset and --from-time exclude "
                         "each other");
    } else if (co->group != NULL && co->partition >= 0) {
        return cli_usage(co->usage, "%s",
                         "--group reads the partitions the group assigns: "
                         "no PARTITION with it");
    }
    return 0;
}

/* Parse, open, check the topic, install the signal handlers, run. */
static int run(struct consume *co, struct cli *c, int argc, char **argv)
{
    struct sigaction sa;
    int32_t p;
    int64_t start;
    int rc, st, i;

    for (i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(co->usage);
        }
    }
    if ((st = parse(co, argc, argv)) != 0 || (st = cli_open(c)) != 0) {
        return st;
    }
    co->c = c;
    rc = crawllog_topic_describe(c->log, co->topic, &co->parts, NULL);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, co->what, co->topic, rc);
    } else if (co->partition >= co->parts) {
        char arg[CRAWLLOG_TOPIC_NAME_MAX + 16], detail[64];

        snprintf(arg, sizeof(arg), "%s/%lld", co->topic,
                 (long long)co->partition);
        snprintf(detail, sizeof(detail), "the topic has %d partitions",
                 (int)co->parts);
        return cli_fail(co->what, arg, CRAWLLOG_ENOTOPIC, detail);
    }
    co->snap_end = calloc((size_t)co->parts + 1, sizeof(*co->snap_end));
    co->placed = calloc((size_t)co->parts + 1, 1);
    if (co->snap_end == NULL || co->placed == NULL) {
        st = cli_fail(co->what, co->topic, CRAWLLOG_ENOMEM, NULL);
    }
    for (p = 0; p < co->parts && st == 0; p++) {
        rc = crawllog_partition_offsets(c->log, co->topic, p, &start,
                                        &co->snap_end[p]);
        if (rc != CRAWLLOG_OK) {
            st = cli_fail_log(c, co->what, co->topic, rc);
        }
    }
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cli_progress_start(&co->prog, co->what, "records");
    co->prog.tty = co->prog.tty && !co->follow && !isatty(1);
    if (st == 0 && (st = setup(co)) == 0) {
        st = consume_loop(co);
    }
    cli_progress_end(&co->prog);
    if (co->cons != NULL && co->group != NULL && st == 0 && !co->broken &&
        (rc = crawllog_consumer_commit(co->cons, NULL,
                                       CRAWLLOG_SYNC_DURABLE)) != 0) {
        st = cli_fail("consume: commit of group", co->group, rc,
                      crawllog_consumer_errmsg(co->cons));
    }
    if (co->cons != NULL && (rc = crawllog_consumer_close(co->cons)) != 0 &&
        st == 0) {
        st = cli_fail(co->what, co->group ? co->group : co->topic, rc,
                      crawllog_consumer_errmsg(co->cons));
    }
    crawllog_consumer_destroy(co->cons);
    free(co->snap_end);
    free(co->placed);
    return st;
}

int cli_cmd_consume(struct cli *c, int argc, char **argv)
{
    struct consume co = {.what = "consume", .usage = consume_usage};

    return run(&co, c, argc, argv);
}

int cli_cmd_tail(struct cli *c, int argc, char **argv)
{
    struct consume co = {
        .what = "tail", .usage = tail_usage, .tail = 1, .follow = 1};

    return run(&co, c, argc, argv);
}
