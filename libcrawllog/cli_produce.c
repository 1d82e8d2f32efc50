/*
 * cli_produce.c - the crawllog tool's `produce` command: each line of
 * stdin (or --file) becomes a record, sent with the producer API.
 *
 * The partition of a line: the one given (PARTITION or --partition), else
 * Kafka's murmur2 partition of its key (crawllog_partitioner_murmur2), else
 * round robin (crawllog_partitioner_round_robin, from a random partition
 * so that short runs do not all start at 0) - the producer's default
 * rule, applied here so that lines can be gathered per partition and sent
 * as batches (crawllog_producer_send_batch: one write, and with acks=all
 * one fdatasync, per batch).  A partition's batch is sent when it holds
 * --batch lines or would exceed the topic's max.message.bytes, and every
 * batch is sent before the command waits for more input (the input is
 * read with read(2), so it knows when none is ready) and at its end: a
 * line from a slow pipe is not held back.  Lines keep their order within
 * a partition.
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk beyond the records the library appends.  No locks
 * (single-threaded).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_BATCH 1000
#define MAX_BATCH 1000000
#define READ_CHUNK 65536
/* Bytes counted per record and per batch on top of key, value and headers
 * (varints, attributes, the batch header) when batches are cut to fit
 * max.message.bytes. */
#define RECORD_OVERHEAD 40
#define HEADER_OVERHEAD 10
#define BATCH_OVERHEAD 128

static const char produce_usage[] =
    "usage: crawllog [-d DIR] produce TOPIC [PARTITION] [--partition P]\n"
    "          [--acks 0|1|all] [--key-sep C] [--header K=V]... [--file PATH]\n"
    "          [--batch N]\n"
    "  Each line of stdin (or of PATH) is a record value; with --key-sep C,\n"
    "  KEY<C>VALUE (a line without C has a null key; C is one character, or\n"
    "  \\t for a tab).  A record goes to PARTITION (or P) if one is given,\n"
    "  else to murmur2(key) like Kafka's producer, else round robin (from a\n"
    "  random partition).\n"
    "  --acks A     the producer's acks: 0 or 1 (default): each batch is\n"
    "               written to the OS when sent; all: also fdatasync'd\n"
    "               before the next one (--sync none|written|durable: the\n"
    "               same as 0|1|all)\n"
    "  --header K=V a header of every record (repeatable)\n"
    "  --batch N    at most N lines per batch (default 1000); a batch is\n"
    "               also cut to fit the topic's max.message.bytes, and sent\n"
    "               whenever the input has no more lines ready\n"
    "  Prints \"produced N records to TOPIC\" on stderr (with PARTITION:\n"
    "  \"produced N records, offsets A..B\"); errors name the line.  A\n"
    "  progress line shows on a terminal when the input is not one.\n";

/* The lines waiting for one partition. */
struct pending {
    crawllog_record_t *recs;
    int64_t *lines; /* their line numbers */
    size_t n;
    int64_t bytes;
};

/* Options and state of one produce run. */
struct produce {
    const char *topic, *file, *acks;
    int64_t partition; /* -1: by key / round robin */
    int64_t batch;
    int key_sep; /* -1: none */
    crawllog_header_t *hdrs;
    size_t nhdrs;
    int64_t hdr_bytes, max_bytes;
    int32_t parts, rr_start; /* round robin from a random partition */
    struct pending *pend;    /* per partition, allocated on first use */
    crawllog_producer_t *prod;
    crawllog_partitioner_state_t *rr;
    int fd;
    char *buf; /* input: buf[start..end) not consumed yet */
    size_t cap, start, end;
    int eof;
    int64_t line, total, first, last;
    struct cli_progress prog;
};

/* ---------------------------------------------------------------------- */
/* Sending                                                                 */
/* ---------------------------------------------------------------------- */

static void pending_clear(struct pending *pd)
{
    while (pd->n > 0) {
        const crawllog_record_t *r = &pd->recs[--pd->n];

        free((void *)(r->key != NULL ? r->key : r->value)); /* the line */
    }
    pd->bytes = 0;
}

/* Send partition p's pending lines as one batch.  0 or exit status. */
static int send_pending(struct produce *pr, int32_t p)
{
    struct pending *pd = &pr->pend[p];
    char arg[CRAWLLOG_TOPIC_NAME_MAX + 64], detail[CRAWLLOG_ERRSTR_SIZE + 64];
    int64_t base = -1;
    int rc;

    if (pd->recs == NULL || pd->n == 0) {
        return 0;
    }
    rc = crawllog_producer_send_batch(pr->prod, pr->topic, p, pd->recs, pd->n,
                                      &base);
    if (rc != CRAWLLOG_OK) {
        const char *msg = crawllog_producer_errmsg(pr->prod);

        if (pd->n == 1) {
            snprintf(arg, sizeof(arg), "%s/%d line %lld", pr->topic, (int)p,
                     (long long)pd->lines[0]);
        } else {
            snprintf(arg, sizeof(arg), "%s/%d lines %lld..%lld (%zu records)",
                     pr->topic, (int)p, (long long)pd->lines[0],
                     (long long)pd->lines[pd->n - 1], pd->n);
        }
        snprintf(detail, sizeof(detail), "%s; %lld records produced before",
                 msg[0] != '\0' ? msg : crawllog_strerror(rc),
                 (long long)pr->total);
        pending_clear(pd);
        return cli_fail("produce", arg, rc, detail);
    }
    if (pr->first < 0) {
        pr->first = base;
    }
    pr->last = base >= 0 ? base + (int64_t)pd->n - 1 : -1;
    pr->total += (int64_t)pd->n;
    pending_clear(pd);
    cli_progress_update(&pr->prog, pr->total, 0);
    return 0;
}

static int send_all(struct produce *pr)
{
    int st = 0;

    for (int32_t p = 0; p < pr->parts && st == 0; p++) {
        st = send_pending(pr, p);
    }
    return st;
}

/* Queue one line (len bytes, no newline).  0 or exit status. */
static int add_line(struct produce *pr, const char *line, size_t len)
{
    char *copy = malloc(len + 1), *sep;
    crawllog_record_t rec;
    struct pending *pd;
    int64_t size;
    int32_t p;
    int st = 0;

    if (copy == NULL) {
        return cli_fail("produce", pr->topic, CRAWLLOG_ENOMEM, NULL);
    }
    memcpy(copy, line, len);
    memset(&rec, 0, sizeof(rec));
    rec.timestamp = -1;
    rec.value = copy;
    rec.value_len = len;
    rec.headers = pr->hdrs;
    rec.header_count = pr->nhdrs;
    sep = pr->key_sep < 0 ? NULL : memchr(copy, pr->key_sep, len);
    if (sep != NULL) {
        rec.key = copy;
        rec.key_len = (size_t)(sep - copy);
        rec.value = sep + 1;
        rec.value_len = len - rec.key_len - 1;
    }
    p = (int32_t)pr->partition;
    if (p < 0 && rec.key != NULL) {
        p = crawllog_partitioner_murmur2(pr->topic, rec.key, rec.key_len,
                                         pr->parts, NULL);
    } else if (p < 0) {
        p = (crawllog_partitioner_round_robin(pr->topic, NULL, 0, pr->parts,
                                              pr->rr) +
             pr->rr_start) %
            pr->parts;
    }
    pd = &pr->pend[p];
    if (pd->recs == NULL &&
        ((pd->recs = calloc((size_t)pr->batch, sizeof(*pd->recs))) == NULL ||
         (pd->lines = calloc((size_t)pr->batch, sizeof(*pd->lines))) == NULL)) {
        free(copy);
        return cli_fail("produce", pr->topic, CRAWLLOG_ENOMEM, NULL);
    }
    size = (int64_t)(len + RECORD_OVERHEAD) + pr->hdr_bytes;
    if (pd->n > 0 && pd->bytes + size > pr->max_bytes - BATCH_OVERHEAD) {
        st = send_pending(pr, p);
    }
    pd->recs[pd->n] = rec;
    pd->lines[pd->n++] = pr->line;
    pd->bytes += size;
    if (st == 0 && (int64_t)pd->n == pr->batch) {
        st = send_pending(pr, p);
    }
    return st;
}

/* ---------------------------------------------------------------------- */
/* Input                                                                   */
/* ---------------------------------------------------------------------- */

/* Read more input into pr->buf, first sending the pending batches if no
 * input is ready (so that nothing waits on a slow pipe).  0 or exit
 * status. */
static int read_more(struct produce *pr)
{
    struct pollfd pfd = {pr->fd, POLLIN, 0};
    ssize_t n;
    int st;

    if (poll(&pfd, 1, 0) == 0 && (st = send_all(pr)) != 0) {
        return st;
    }
    if (pr->start > 0) {
        memmove(pr->buf, pr->buf + pr->start, pr->end - pr->start);
        pr->end -= pr->start;
        pr->start = 0;
    }
    if (pr->cap - pr->end < READ_CHUNK / 2) {
        char *nb = realloc(pr->buf, pr->cap * 2);

        if (nb == NULL) {
            return cli_fail("produce", pr->topic, CRAWLLOG_ENOMEM, NULL);
        }
        pr->buf = nb;
        pr->cap *= 2;
    }
    do {
        n = read(pr->fd, pr->buf + pr->end, pr->cap - pr->end);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return cli_fail("produce: reading", pr->file ? pr->file : "stdin",
                        CRAWLLOG_EIO, strerror(errno));
    }
    pr->eof = n == 0;
    pr->end += (size_t)n;
    return 0;
}

/* Read the input and send it.  0 or exit status. */
static int produce_run(struct produce *pr)
{
    size_t scan = 0; /* buf[start..scan) has no newline */
    int st = 0;

    while (st == 0) {
        char *line = pr->buf + pr->start;
        char *nl = memchr(pr->buf + scan, '\n', pr->end - scan);
        size_t len;

        if (nl == NULL && !pr->eof) {
            scan = pr->end - pr->start; /* the offset after read_more */
            st = read_more(pr);
            continue;
        } else if (nl == NULL && pr->start == pr->end) {
            break;
        }
        len = nl != NULL ? (size_t)(nl - line) : pr->end - pr->start;
        pr->line++;
        st = add_line(pr, line, len);
        pr->start += len + (nl != NULL);
        scan = pr->start;
    }
    return st != 0 ? st : send_all(pr);
}

/* ---------------------------------------------------------------------- */
/* The command                                                             */
/* ---------------------------------------------------------------------- */

static int produce_parse(int argc, char **argv, struct produce *pr)
{
    static const char *const syncs[] = {"none", "written", "durable"};
    static const char *const acks[] = {"0", "1", "all"};
    int i = 1, j;

    if (argc < 1 || argv[0][0] == '-') {
        return cli_usage(produce_usage, "%s", "produce needs TOPIC");
    }
    pr->topic = argv[0];
    if (argc > 1 && argv[1][0] != '-') {
        if (cli_parse_int(argv[1], 0, INT32_MAX, &pr->partition) != 0) {
            return cli_usage(produce_usage, "bad partition '%s'", argv[1]);
        }
        i = 2;
    }
    for (; i < argc; i += 2) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : "";
        const char *eq = strchr(val, '=');

        for (j = 0; j < 3 && strcmp(val, syncs[j]) != 0 &&
                    strcmp(val, acks[j]) != 0 && strcmp(val, "-1") != 0;
             j++) {
            continue;
        }
        if (i + 1 >= argc) {
            return cli_usage(produce_usage, "bad produce option '%s'", o);
        } else if (strcmp(o, "--acks") == 0 && j < 3 &&
                   strcmp(val, syncs[j]) != 0) {
            pr->acks = val[0] == '-' ? "all" : acks[j];
        } else if (strcmp(o, "--sync") == 0 && j < 3 &&
                   strcmp(val, syncs[j]) == 0) {
            pr->acks = acks[j];
        } else if (strcmp(o, "--header") == 0 && eq != NULL && eq != val) {
            crawllog_header_t *h = &pr->hdrs[pr->nhdrs++];

            h->name = val;
            h->name_len = (size_t)(eq - val);
            h->value = eq + 1;
            h->value_len = strlen(eq + 1);
            pr->hdr_bytes += (int64_t)strlen(val) + HEADER_OVERHEAD;
        } else if (strcmp(o, "--key-sep") == 0 &&
                   (strlen(val) == 1 || strcmp(val, "\\t") == 0)) {
            pr->key_sep = val[0] == '\\' ? '\t' : (unsigned char)val[0];
        } else if (strcmp(o, "--file") == 0) {
            pr->file = val;
        } else if (!((strcmp(o, "--partition") == 0 && pr->partition < 0 &&
                      cli_parse_int(val, 0, INT32_MAX, &pr->partition) == 0) ||
                     (strcmp(o, "--batch") == 0 &&
                      cli_parse_int(val, 1, MAX_BATCH, &pr->batch) == 0))) {
            return cli_usage(produce_usage, "bad produce option '%s'", o);
        }
    }
    return 0;
}

/* The topic's partition count and max.message.bytes, the producer, the
 * buffers.  0 or exit status. */
static int produce_prepare(struct cli *c, struct produce *pr)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", val[32], arg[300];
    crawllog_conf_t *tconf = NULL, *conf = NULL;
    size_t size = sizeof(val);
    int rc = crawllog_topic_describe(c->log, pr->topic, &pr->parts, &tconf);

    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "produce", pr->topic, rc);
    }
    pr->max_bytes = INT32_MAX;
    if (crawllog_conf_get(tconf, "max.message.bytes", val, &size) == 0) {
        cli_parse_int(val, 0, INT64_MAX, &pr->max_bytes);
    }
    crawllog_conf_destroy(tconf);
    if (pr->partition >= pr->parts) {
        snprintf(arg, sizeof(arg), "%s/%lld", pr->topic,
                 (long long)pr->partition);
        snprintf(errstr, sizeof(errstr), "the topic has %d partitions",
                 (int)pr->parts);
        return cli_fail("produce", arg, CRAWLLOG_ENOTOPIC, errstr);
    }
    rc = crawllog_conf_dup(&conf, c->conf);
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_conf_set(conf, "acks", pr->acks, errstr, sizeof(errstr));
    }
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_producer_new(c->log, conf, &pr->prod, errstr,
                                   sizeof(errstr));
    }
    crawllog_conf_destroy(conf);
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_partitioner_state_new(&pr->rr, 0);
    }
    pr->rr_start = (int32_t)(((uint64_t)cli_now_ms() ^ (uint64_t)getpid()) %
                             (uint64_t)pr->parts);
    if (rc != CRAWLLOG_OK) {
        return cli_fail("produce: producer for", pr->topic, rc, errstr);
    }
    pr->pend = calloc((size_t)pr->parts, sizeof(*pr->pend));
    pr->cap = 2 * READ_CHUNK;
    if (pr->pend == NULL || (pr->buf = malloc(pr->cap)) == NULL) {
        return cli_fail("produce", pr->topic, CRAWLLOG_ENOMEM, NULL);
    }
    return 0;
}

int cli_cmd_produce(struct cli *c, int argc, char **argv)
{
    struct produce pr;
    int st, rc, i;

    for (i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(produce_usage);
        }
    }
    memset(&pr, 0, sizeof(pr));
    pr.partition = pr.first = pr.last = -1;
    pr.batch = DEFAULT_BATCH;
    pr.key_sep = -1;
    pr.acks = "1";
    if ((pr.hdrs = calloc((size_t)argc + 1, sizeof(*pr.hdrs))) == NULL) {
        return cli_fail("produce", NULL, CRAWLLOG_ENOMEM, NULL);
    }
    if ((st = produce_parse(argc, argv, &pr)) != 0) {
        free(pr.hdrs);
        return st;
    }
    if (pr.file != NULL && (pr.fd = open(pr.file, O_RDONLY)) < 0) {
        st = cli_fail("produce: --file", pr.file,
                      errno == ENOENT   ? CRAWLLOG_ENOENT
                      : errno == EACCES ? CRAWLLOG_EPERM
                                        : CRAWLLOG_EIO,
                      strerror(errno));
    } else if ((st = cli_open(c)) == 0 && (st = produce_prepare(c, &pr)) == 0) {
        cli_progress_start(&pr.prog, "produce", "records");
        pr.prog.tty = pr.prog.tty && !isatty(pr.fd);
        st = produce_run(&pr);
        cli_progress_end(&pr.prog);
    }
    if ((rc = crawllog_producer_destroy(pr.prod)) != 0 && st == 0) {
        st = cli_fail("produce", pr.topic, rc, NULL);
    }
    if (st == 0 && pr.partition >= 0 && pr.total > 0 && pr.first >= 0) {
        fprintf(stderr, "produced %lld records, offsets %lld..%lld\n",
                (long long)pr.total, (long long)pr.first, (long long)pr.last);
    } else if (st == 0) {
        fprintf(stderr, "produced %lld records to %s\n", (long long)pr.total,
                pr.topic);
    }
    for (i = 0; pr.pend != NULL && i < pr.parts; i++) {
        pending_clear(&pr.pend[i]);
        free(pr.pend[i].recs);
        free(pr.pend[i].lines);
    }
    if (pr.file != NULL && pr.fd >= 0) {
        close(pr.fd);
    }
    crawllog_partitioner_state_destroy(pr.rr);
    free(pr.pend);
    free(pr.buf);
    free(pr.hdrs);
    return st;
}
