/*
 * cli_consume.c - the crawllog tool's `consume` and `tail` commands (times
 * and record formats: cli_format.c).
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

/* Options and state of one consume / tail run. */
struct consume {
    const char *what, *usage, *topic, *group;
    int64_t partition; /* -1: all (or the group's) */
    int64_t offset;    /* --offset; -1: none */
    int64_t from_time; /* --from-time; -1: none */
    int64_t max;       /* -1: no limit */
    int from_beginning, follow, tail, starts;
    struct cli_format fmt;
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

    while (!cli_stop_signal && (co->max < 0 || co->printed < co->max)) {
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
            cli_format_print(&co->fmt, msgs[i]);
        }
        if (n > 0 && (out = cli_stdout_flush()) != 0) {
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
                       cli_format_parse(&co->fmt, val) == 0)))) {
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
    co->fmt.partition_col = co->partition < 0;
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
    sa.sa_handler = cli_on_stop;
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
