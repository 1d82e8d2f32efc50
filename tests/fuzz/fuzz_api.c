/*
 * fuzz_api.c - libFuzzer target: API sequences checked against a model
 * (dbsqlfuzz's idea: the input drives both the operations and the
 * environment - failpoints, crashes).
 *
 * Every input starts with an empty data directory on tmpfs.  Its bytes are
 * decoded as operations (opcode byte, then argument bytes; missing bytes
 * read as 0): create topic "a" (1 partition) or "b" (2), append with a
 * sync level, flush, produce (acks 0/1/all) / producer flush / destroy,
 * read with a reader, fetch raw batches, consumer create+subscribe / poll /
 * commit / close, close and reopen, crash, and "arm a failpoint for the
 * next operation" (EIO, ENOSPC or a short write at the k-th hit of a
 * segment, index, offsets or malloc site).
 *
 * A crash closes everything (buffers are flushed, as the page cache would
 * keep them), then cuts each partition's active segment at a fuzzed point
 * no lower than what was durable (the larger of the model's last durable
 * acknowledgement and the library's own synced mark), and reopens as after
 * a reboot (a new CRAWLLOG_BOOT_ID, and another boot id written into each
 * partition.state), so recovery runs as after a power loss.
 *
 * Every record's value is "s<seq>:" plus padding, seq unique per input, so
 * the model is a map offset -> seq per partition.  Oracles:
 *  - an acknowledged record (append or send that returned an offset) is
 *    read back at that offset with its value, by readers, fetches and
 *    consumers; after a clean reopen every one is still there, and after a
 *    crash every one below the durable point;
 *  - a record at an offset the model does not know is one whose outcome
 *    was open (SYNC_NONE append, acks=0 send, failed call), seen once;
 *    after a successful flush or close every SYNC_NONE record is there;
 *  - offsets are contiguous from 0 and no seq appears twice;
 *  - committed offsets read back exactly as last committed (never lost,
 *    never regressed), across reopens and crashes;
 *  - without an armed failpoint, calls on existing topics succeed; at the
 *    end crawllog_verify finds no problem;
 *  - ASan/UBSan/LSan: no memory error or leak on any path, error paths of
 *    failpoints included.
 */
#include "fuzz_common.h"

#include "crawllog.h"
#include "io.h"
#include "record.h"

#define NPART 3       /* a/0, b/0, b/1 */
#define MAXOFF 4096   /* offsets modelled per partition */
#define MAXSEQ 8192   /* values per input */
#define MAXOPS 96

static const char *const topic_of[NPART] = {"a", "b", "b"};
static const int32_t part_of[NPART] = {0, 0, 1};

#define M_PENDING 1 /* SYNC_NONE append / acks=0 send: written later */
#define M_MUST 2    /* pending, then flushed: must be in the log */
#define M_AMBIG 3   /* a call that failed: may or may not be there */

struct model {
    int32_t seq[NPART][MAXOFF]; /* -1: unknown */
    int64_t end[NPART];         /* 1 + highest known offset */
    int64_t durable[NPART];     /* offsets below are durable */
    int64_t committed[NPART];   /* -1: none */
    int64_t committed_alt[NPART]; /* a failed commit's value, or -2 */
    uint8_t maybe[MAXSEQ];      /* M_* below; 0: known or never sent */
    uint8_t seen[MAXSEQ];       /* found in the log (once) */
    int exists[2];              /* topics a, b */
    int32_t next_seq;
};

struct env {
    char dir[700];
    crawllog_t *log;
    crawllog_producer_t *prod;
    int acks;
    /* seqs of sent, unreported messages per partition, in send order */
    int32_t fifo[NPART][64];
    int fifo_n[NPART];
    crawllog_consumer_t *cons;
    int armed;     /* a failpoint is armed for this op */
    int degraded;  /* a failpoint fired: failures allowed until reopen */
    int fired_any; /* a failpoint fired in this input */
    struct model m;
};

static unsigned long counter, boots;
static int tracing = -1;

#define TRACE(...)                                                           \
    do {                                                                     \
        if (tracing) {                                                       \
            fprintf(stderr, __VA_ARGS__);                                    \
        }                                                                    \
    } while (0)
static struct env E;

static int pi_of(const char *topic, int32_t p)
{
    if (strcmp(topic, "a") == 0 && p == 0) {
        return 0;
    }
    if (strcmp(topic, "b") == 0 && (p == 0 || p == 1)) {
        return 1 + p;
    }
    return -1;
}

static int topic_ok(int pi)
{
    return E.m.exists[pi == 0 ? 0 : 1];
}

/* A call on a healthy handle, an existing topic and without a failpoint
 * must succeed. */
static int strict(void)
{
    return !E.armed && !E.degraded;
}

static int32_t value_seq(const void *v, size_t len)
{
    const char *s = v;
    if (v == NULL || len < 3 || s[0] != 's') {
        return -1;
    }
    int32_t q = 0;
    size_t i = 1;
    for (; i < len && s[i] >= '0' && s[i] <= '9' && q < MAXSEQ; i++) {
        q = q * 10 + (s[i] - '0');
    }
    return i < len && s[i] == ':' && q < MAXSEQ ? q : -1;
}

/* A record read at (pi, off) with value seq q: check and learn. */
static void observe(int pi, int64_t off, int32_t q, const char *who)
{
    FZ_CHECK(q >= 0 && q < E.m.next_seq, "%s: bad value at %s/%d@%lld",
             who, topic_of[pi], part_of[pi], (long long)off);
    FZ_CHECK(off >= 0 && off < MAXOFF, "%s: offset %lld", who,
             (long long)off);
    int32_t known = E.m.seq[pi][off];
    if (known >= 0) {
        FZ_CHECK(known == q, "%s: %s/%d@%lld holds s%d, acknowledged s%d",
                 who, topic_of[pi], part_of[pi], (long long)off, q, known);
        return;
    }
    FZ_CHECK(E.m.maybe[q] != 0, "%s: %s/%d@%lld holds s%d, never pending",
             who, topic_of[pi], part_of[pi], (long long)off, q);
    FZ_CHECK(!E.m.seen[q], "%s: s%d appears twice", who, q);
    E.m.seq[pi][off] = q;
    E.m.seen[q] = 1;
    E.m.maybe[q] = 0;
    if (off + 1 > E.m.end[pi]) {
        E.m.end[pi] = off + 1;
    }
}

static void ack(int pi, int64_t off, int32_t q)
{
    FZ_CHECK(off >= 0 && off < MAXOFF, "ack offset %lld", (long long)off);
    int32_t known = E.m.seq[pi][off];
    FZ_CHECK(known < 0 || known == q, "s%d acknowledged at %lld, held s%d",
             q, (long long)off, known);
    FZ_CHECK(E.m.seen[q] == 0 || known == q, "s%d acknowledged twice", q);
    E.m.seq[pi][off] = q;
    E.m.seen[q] = 1;
    E.m.maybe[q] = 0;
    if (off + 1 > E.m.end[pi]) {
        E.m.end[pi] = off + 1;
    }
}

static int32_t new_value(struct fz_in *in, char *buf, size_t cap,
                         size_t *lenp)
{
    int32_t q = E.m.next_seq++;
    size_t pad = fz_u8(in) % 64;
    int n = snprintf(buf, cap, "s%d:", q);
    memset(buf + n, 'x', pad);
    *lenp = (size_t)n + pad;
    return q;
}

/* ---- whole-log checks ------------------------------------------------------ */

/* Read every partition from 0 and check it; after_crash relaxes the
 * acknowledged-but-not-durable records (they may be gone: forgotten). */
static void check_all(int clean)
{
    for (int pi = 0; pi < NPART; pi++) {
        if (!topic_ok(pi)) {
            continue;
        }
        int64_t start = -1, end = -1;
        int rc = crawllog_partition_offsets(E.log, topic_of[pi], part_of[pi],
                                            &start, &end);
        FZ_CHECK(rc == 0, "offsets %s/%d: %s", topic_of[pi], part_of[pi],
                 crawllog_errmsg(E.log));
        FZ_CHECK(start == 0 && end <= MAXOFF, "range [%lld, %lld)",
                 (long long)start, (long long)end);
        FZ_CHECK(end >= E.m.durable[pi], "%s/%d: log end %lld below the "
                 "durable %lld", topic_of[pi], part_of[pi], (long long)end,
                 (long long)E.m.durable[pi]);
        if (clean) {
            FZ_CHECK(end >= E.m.end[pi], "%s/%d: log end %lld, acknowledged"
                     " up to %lld", topic_of[pi], part_of[pi],
                     (long long)end, (long long)E.m.end[pi]);
        } else {
            /* Lost with the crash: what was never durable. */
            for (int64_t o = end; o < E.m.end[pi]; o++) {
                E.m.seq[pi][o] = -1;
            }
            if (E.m.end[pi] > end) {
                E.m.end[pi] = end;
            }
        }
        crawllog_reader_t *rd;
        rc = crawllog_reader_new(&rd, E.log, topic_of[pi], part_of[pi]);
        FZ_CHECK(rc == 0, "reader: %s", crawllog_errmsg(E.log));
        int64_t next = 0;
        for (;;) {
            const crawllog_msg_t *msg;
            rc = crawllog_reader_next(rd, &msg);
            FZ_CHECK(rc == 0, "read %s/%d@%lld: %s", topic_of[pi],
                     part_of[pi], (long long)next,
                     crawllog_reader_errmsg(rd));
            if (msg == NULL) {
                break;
            }
            FZ_CHECK(crawllog_msg_offset(msg) == next, "offset gap");
            size_t vl;
            const void *v = crawllog_msg_value(msg, &vl);
            observe(pi, next, value_seq(v, vl), "scan");
            next++;
        }
        FZ_CHECK(next == end, "read %lld records of %lld", (long long)next,
                 (long long)end);
        crawllog_reader_destroy(rd);
        for (int64_t o = 0; o < end; o++) {
            FZ_CHECK(E.m.seq[pi][o] >= 0, "offset %lld unexplained",
                     (long long)o);
        }
    }
    for (int32_t q = 0; q < E.m.next_seq; q++) {
        FZ_CHECK(!clean || E.m.maybe[q] != M_MUST, "flushed s%d is missing",
                 q);
        E.m.maybe[q] = 0; /* nothing is pending after a close */
    }
    /* Committed offsets are exactly the last ones committed. */
    int any = 0;
    for (int pi = 0; pi < NPART; pi++) {
        any |= E.m.committed[pi] >= 0 || E.m.committed_alt[pi] >= 0;
    }
    if (!any) {
        return;
    }
    crawllog_group_desc_t *d = NULL;
    int rc = crawllog_group_describe(E.log, "g", &d);
    FZ_CHECK(rc == 0, "describe: %s", crawllog_errmsg(E.log));
    int64_t got[NPART] = {-1, -1, -1};
    for (size_t i = 0; i < d->partition_count; i++) {
        int pi = pi_of(d->partitions[i].topic, d->partitions[i].partition);
        FZ_CHECK(pi >= 0, "unknown partition in the group");
        got[pi] = d->partitions[i].committed;
    }
    crawllog_group_desc_free(d);
    for (int pi = 0; pi < NPART; pi++) {
        FZ_CHECK(got[pi] == E.m.committed[pi] ||
                     got[pi] == E.m.committed_alt[pi],
                 "%s/%d committed %lld, expected %lld", topic_of[pi],
                 part_of[pi], (long long)got[pi],
                 (long long)E.m.committed[pi]);
        E.m.committed[pi] = got[pi];
        E.m.committed_alt[pi] = -2;
    }
}

/* ---- handles ---------------------------------------------------------------- */

static void report(void *opaque, const char *topic, int32_t partition,
                   int64_t offset, int err)
{
    (void)opaque;
    int pi = pi_of(topic, partition);
    TRACE("  report %s/%d@%lld: %d\n", topic, partition, (long long)offset,
          err);
    FZ_CHECK(pi >= 0 && E.fifo_n[pi] > 0, "unexpected delivery report");
    int32_t q = E.fifo[pi][0];
    E.fifo_n[pi]--;
    memmove(E.fifo[pi], E.fifo[pi] + 1, (size_t)E.fifo_n[pi] * 4);
    if (err == 0) {
        ack(pi, offset, q);
        if (E.acks == 2 && offset + 1 > E.m.durable[pi]) {
            E.m.durable[pi] = offset + 1;
        }
    } else {
        E.m.maybe[q] = M_AMBIG;
    }
}

static void drop_producer(void)
{
    if (E.prod != NULL) {
        int rc = crawllog_producer_destroy(E.prod);
        FZ_CHECK(rc == 0 || !strict(), "producer destroy %d", rc);
        E.prod = NULL;
        for (int pi = 0; pi < NPART; pi++) {
            for (int i = 0; i < E.fifo_n[pi]; i++) {
                /* Never reported: destroy wrote it, or failed. */
                E.m.maybe[E.fifo[pi][i]] = rc == 0 ? M_MUST : M_AMBIG;
            }
            E.fifo_n[pi] = 0;
        }
    }
}

static void drop_consumer(void)
{
    if (E.cons != NULL) {
        crawllog_consumer_close(E.cons);
        crawllog_consumer_destroy(E.cons);
        E.cons = NULL;
    }
}

/* End the armed failpoint, if any: what ran under it may have failed. */
static void disarm(void)
{
    if (E.armed) {
        cl_fp_clear();
        E.armed = 0;
        E.degraded = 1;
        E.fired_any = 1;
    }
}

static void open_log(void)
{
    char err[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_open(&E.log, E.dir, NULL, err, sizeof(err));
    FZ_CHECK(rc == 0, "open: %s", err);
    E.degraded = 0;
}

static void close_log(void)
{
    drop_producer();
    drop_consumer();
    int rc = crawllog_close(E.log);
    FZ_CHECK(rc == 0 || !strict(), "close: %d", rc);
    for (int32_t q = 0; q < E.m.next_seq; q++) {
        if (E.m.maybe[q] == M_PENDING) {
            E.m.maybe[q] = rc == 0 ? M_MUST : M_AMBIG;
        }
    }
    E.log = NULL;
}

/* ---- crash ------------------------------------------------------------------ */

/* Bytes of the active segment (last .log of the partition directory) that
 * hold offsets below durable; *sizep its size, *basep its base. */
static int active_segment(int pi, char *path, size_t cap, uint64_t *sizep,
                          uint64_t *keepp)
{
    char pdir[800];
    snprintf(pdir, sizeof(pdir), "%s/topics/%s/%d", E.dir, topic_of[pi],
             part_of[pi]);
    DIR *d = opendir(pdir);
    if (d == NULL) {
        return -1;
    }
    int64_t base = -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) == 24 && strcmp(de->d_name + 20, ".log") == 0) {
            int64_t b = strtoll(de->d_name, NULL, 10);
            base = b > base ? b : base;
        }
    }
    closedir(d);
    if (base < 0) {
        return -1;
    }
    snprintf(path, cap, "%s/%020lld.log", pdir, (long long)base);
    size_t len = 0;
    uint8_t *seg = fz_read_file(path, &len);
    if (seg == NULL) {
        return -1;
    }
    /* The model's durable point, as a byte position. */
    uint64_t keep = 64, pos = 64;
    while (len >= pos + CL_BATCH_HEADER_SIZE) {
        struct cl_batch_hdr h;
        if (cl_record_batch_header(seg + pos, len - pos, &h) != 0) {
            break;
        }
        pos += cl_record_batch_total(&h);
        if (h.base_offset < E.m.durable[pi]) {
            keep = pos;
        }
    }
    free(seg);
    /* The library's own synced mark (partition.state, FORMAT.md 6). */
    char sp[900];
    snprintf(sp, sizeof(sp), "%s/partition.state", pdir);
    size_t sl = 0;
    uint8_t *st = fz_read_file(sp, &sl);
    if (st != NULL && sl >= 160) {
        int64_t sb;
        uint64_t ss;
        memcpy(&sb, st + 136, 8);
        memcpy(&ss, st + 144, 8);
        if (sb == base && ss > keep) {
            keep = ss;
        }
    }
    free(st);
    *sizep = len;
    *keepp = keep > len ? len : keep;
    return 0;
}

static void crash(struct fz_in *in)
{
    close_log();
    disarm(); /* the failpoint covers the close only */
    for (int pi = 0; pi < NPART; pi++) {
        char path[1024];
        uint64_t size, keep;
        uint16_t cut = fz_u16(in);
        if (!topic_ok(pi) || active_segment(pi, path, sizeof(path), &size,
                                            &keep) != 0) {
            continue;
        }
        uint64_t at = keep + cut % (size - keep + 1);
        FZ_CHECK(truncate(path, (off_t)at) == 0, "truncate %s", path);
    }
    /* A reboot: groups and lag histories read the boot id from the
     * environment when they open; partition.state compares a boot id the
     * process reads once, so the files get another one written into them
     * instead (FORMAT.md section 6, bytes 16..63). */
    char id[64];
    snprintf(id, sizeof(id), "fuzz-%ld-%lu", (long)getpid(), ++boots);
    setenv("CRAWLLOG_BOOT_ID", id, 1);
    for (int pi = 0; pi < NPART; pi++) {
        char sp[900];
        uint8_t other[48] = {0};
        snprintf((char *)other, sizeof(other), "before-%lu", boots);
        snprintf(sp, sizeof(sp), "%s/topics/%s/%d/partition.state", E.dir,
                 topic_of[pi], part_of[pi]);
        int fd = open(sp, O_WRONLY);
        if (fd >= 0) {
            FZ_CHECK(pwrite(fd, other, sizeof(other), 16) == 48, "pwrite");
            close(fd);
        }
    }
    for (int32_t q = 0; q < E.m.next_seq; q++) {
        if (E.m.maybe[q] == M_MUST) {
            E.m.maybe[q] = M_AMBIG; /* flushed, but maybe not durable */
        }
    }
    open_log();
    check_all(0);
    /* Recovery made what is left durable. */
    for (int pi = 0; pi < NPART; pi++) {
        E.m.durable[pi] = E.m.end[pi];
    }
}

/* ---- operations -------------------------------------------------------------- */

static void op_create(struct fz_in *in)
{
    uint8_t a = fz_u8(in);
    int t = a & 1;
    crawllog_conf_t *tc = NULL;
    char err[CRAWLLOG_ERRSTR_SIZE];
    if (crawllog_conf_new(&tc) != 0) {
        FZ_CHECK(!strict(), "conf_new");
        return;
    }
    if (a & 2) {
        crawllog_conf_set(tc, "segment.bytes", "4096", err, sizeof(err));
    }
    if (a & 4) {
        crawllog_conf_set(tc, "index.interval.bytes", "0", err, sizeof(err));
    }
    int rc = crawllog_topic_create(E.log, t ? "b" : "a", t ? 2 : 1, tc);
    crawllog_conf_destroy(tc);
    if (E.m.exists[t]) {
        FZ_CHECK(rc == CRAWLLOG_EEXIST || !strict(), "create again: %d", rc);
    } else {
        FZ_CHECK(rc == 0 || !strict(), "create: %s", crawllog_errmsg(E.log));
        E.m.exists[t] = rc == 0;
    }
}

static void op_append(struct fz_in *in)
{
    uint8_t a = fz_u8(in);
    int pi = a % NPART, sync = (a >> 2) % 3, n = 1 + (a >> 4) % 4;
    char vals[4][96];
    crawllog_record_t r[4];
    int32_t q[4];
    for (int i = 0; i < n; i++) {
        size_t len;
        q[i] = new_value(in, vals[i], sizeof(vals[i]), &len);
        r[i] = (crawllog_record_t){(i & 1) ? "k" : NULL, 1, vals[i], len,
                                   -1, NULL, 0};
    }
    int64_t base = -2;
    int rc = crawllog_append(E.log, topic_of[pi], part_of[pi], r, (size_t)n,
                             sync, &base);
    TRACE("  append %s/%d s%d..s%d sync %d: %d base %lld\n", topic_of[pi],
          part_of[pi], q[0], q[n - 1], sync, rc, (long long)base);
    if (!topic_ok(pi)) {
        FZ_CHECK(rc != 0, "append to a missing topic");
        return;
    }
    FZ_CHECK(rc == 0 || !strict(), "append: %s", crawllog_errmsg(E.log));
    for (int i = 0; i < n; i++) {
        if (rc != 0 || sync == CRAWLLOG_SYNC_NONE) {
            E.m.maybe[q[i]] = rc != 0 ? M_AMBIG : M_PENDING;
        } else {
            ack(pi, base + i, q[i]);
        }
    }
    if (rc == 0 && sync == CRAWLLOG_SYNC_NONE) {
        FZ_CHECK(base == -1, "SYNC_NONE offset %lld", (long long)base);
    }
    if (rc == 0 && sync == CRAWLLOG_SYNC_DURABLE) {
        E.m.durable[pi] = base + n;
    }
}

static void op_flush(struct fz_in *in)
{
    int sync = fz_u8(in) % 3;
    int rc = crawllog_flush(E.log, sync);
    FZ_CHECK(rc == 0 || !strict(), "flush: %s", crawllog_errmsg(E.log));
    if (rc != 0) {
        return;
    }
    for (int32_t q = 0; q < E.m.next_seq; q++) {
        if (E.m.maybe[q] == M_PENDING) {
            E.m.maybe[q] = M_MUST;
        }
    }
    if (sync == CRAWLLOG_SYNC_DURABLE && !E.degraded) {
        for (int pi = 0; pi < NPART; pi++) {
            int64_t s, e;
            if (topic_ok(pi) &&
                crawllog_partition_offsets(E.log, topic_of[pi], part_of[pi],
                                           &s, &e) == 0) {
                E.m.durable[pi] = e;
            }
        }
    }
}

static void op_send(struct fz_in *in)
{
    uint8_t a = fz_u8(in);
    int pi = a % NPART;
    if (E.prod == NULL) {
        static const char *const acks[3] = {"0", "1", "all"};
        crawllog_conf_t *pc = NULL;
        char err[CRAWLLOG_ERRSTR_SIZE];
        E.acks = (a >> 2) % 3;
        if (crawllog_conf_new(&pc) != 0) {
            FZ_CHECK(!strict(), "conf_new");
            return;
        }
        crawllog_conf_set(pc, "acks", acks[E.acks], err, sizeof(err));
        crawllog_conf_set(pc, "linger.ms", (a & 16) ? "0" : "100000", err,
                          sizeof(err));
        if (a & 32) {
            crawllog_conf_set(pc, "producer.id", "fz", err, sizeof(err));
        }
        int rc = crawllog_producer_new(E.log, pc, &E.prod, err, sizeof(err));
        crawllog_conf_destroy(pc);
        FZ_CHECK(rc == 0 || !strict(), "producer: %s", err);
        if (rc != 0) {
            E.prod = NULL;
            return;
        }
        crawllog_producer_set_delivery_cb(E.prod, report, NULL);
    }
    if (E.fifo_n[pi] >= 60) {
        return;
    }
    char val[96];
    size_t len;
    int32_t q = new_value(in, val, sizeof(val), &len);
    E.fifo[pi][E.fifo_n[pi]++] = q;
    int64_t off = -2;
    int rc = crawllog_producer_send(E.prod, topic_of[pi], part_of[pi], "k",
                                    1, val, len, NULL, 0, &off);
    TRACE("  send %s/%d s%d acks %d: %d off %lld\n", topic_of[pi],
          part_of[pi], q, E.acks, rc, (long long)off);
    if (rc != 0) {
        /* Not accepted: no report will come for it. */
        for (int i = 0; i < E.fifo_n[pi]; i++) {
            if (E.fifo[pi][i] == q) {
                memmove(E.fifo[pi] + i, E.fifo[pi] + i + 1,
                        (size_t)(E.fifo_n[pi] - i - 1) * 4);
                E.fifo_n[pi]--;
                break;
            }
        }
        E.m.maybe[q] = M_AMBIG;
        FZ_CHECK(!topic_ok(pi) || !strict(), "send: %s",
                 crawllog_producer_errmsg(E.prod));
        return;
    }
    FZ_CHECK(topic_ok(pi), "send to a missing topic accepted");
    if (E.acks != 0) {
        ack(pi, off, q);
        if (E.acks == 2) {
            E.m.durable[pi] = off + 1 > E.m.durable[pi] ? off + 1
                                                        : E.m.durable[pi];
        }
    } else {
        /* Pending, unless already reported during the send. */
        for (int i = 0; i < E.fifo_n[pi]; i++) {
            if (E.fifo[pi][i] == q) {
                E.m.maybe[q] = M_PENDING;
            }
        }
    }
}

static void op_producer(struct fz_in *in)
{
    uint8_t a = fz_u8(in);
    if (E.prod == NULL) {
        return;
    }
    if (a % 3 == 0) {
        drop_producer();
    } else if (a % 3 == 1) {
        int rc = crawllog_producer_flush(E.prod, 1000);
        FZ_CHECK(rc == 0 || !strict(), "producer flush %d", rc);
    } else {
        crawllog_producer_poll(E.prod);
    }
}

static void check_batch_bytes(int pi, const uint8_t *p, size_t len,
                              int64_t *nextp)
{
    while (len > 0) {
        struct cl_batch_hdr h;
        FZ_CHECK(cl_record_batch_header(p, len, &h) == 0, "fetch header");
        size_t total = cl_record_batch_total(&h);
        FZ_CHECK(total <= len, "fetch: partial batch");
        char why[128];
        FZ_CHECK(cl_record_batch_validate(p, total, why, sizeof(why)) == 0,
                 "fetched batch: %s", why);
        FZ_CHECK(*nextp < 0 || h.base_offset <= *nextp, "fetch gap");
        struct cl_record_iter it;
        struct cl_record_view rv;
        cl_record_iter_init(&it, p, total);
        while (cl_record_iter_next(&it, &rv) == 0) {
            observe(pi, rv.offset, value_seq(rv.value, (size_t)rv.value_len),
                    "fetch");
            *nextp = rv.offset + 1;
        }
        p += total;
        len -= total;
    }
}

static void op_read(struct fz_in *in, int fetch)
{
    uint8_t a = fz_u8(in), b = fz_u8(in);
    int pi = a % NPART;
    crawllog_reader_t *rd = NULL;
    int rc = crawllog_reader_new(&rd, E.log, topic_of[pi], part_of[pi]);
    if (!topic_ok(pi) || rc != 0) {
        FZ_CHECK(topic_ok(pi) ? !strict() : rc != 0, "reader_new %d", rc);
        return;
    }
    int64_t s = 0, e = 0;
    crawllog_partition_offsets(E.log, topic_of[pi], part_of[pi], &s, &e);
    int64_t from = e > 0 ? b % (e + 1) : 0;
    rc = crawllog_reader_seek(rd, from);
    FZ_CHECK(rc == 0 || !strict(), "seek %lld: %d", (long long)from, rc);
    int64_t next = from;
    for (int i = 0; rc == 0 && i < 1 + (a >> 2) % 16; i++) {
        if (fetch) {
            const void *buf;
            size_t len;
            rc = crawllog_reader_fetch(rd, 64 + (size_t)b * 8, &buf, &len);
            if (rc == 0 && buf != NULL) {
                int64_t n = -1;
                check_batch_bytes(pi, buf, len, &n);
                FZ_CHECK(n > next, "fetch did not advance");
                next = n;
            }
        } else {
            const crawllog_msg_t *msg;
            rc = crawllog_reader_next(rd, &msg);
            if (rc == 0 && msg != NULL) {
                FZ_CHECK(crawllog_msg_offset(msg) == next, "reader gap");
                size_t vl;
                const void *v = crawllog_msg_value(msg, &vl);
                observe(pi, next++, value_seq(v, vl), "reader");
            }
        }
    }
    FZ_CHECK(rc == 0 || !strict(), "read: %s", crawllog_reader_errmsg(rd));
    crawllog_reader_destroy(rd);
}

static void op_consumer(struct fz_in *in)
{
    uint8_t a = fz_u8(in);
    if (E.cons != NULL) {
        drop_consumer();
        return;
    }
    crawllog_conf_t *cc = NULL;
    char err[CRAWLLOG_ERRSTR_SIZE];
    if (crawllog_conf_new(&cc) != 0) {
        FZ_CHECK(!strict(), "conf_new");
        return;
    }
    crawllog_conf_set(cc, "group.id", "g", err, sizeof(err));
    crawllog_conf_set(cc, "auto.offset.reset",
                      (a & 1) ? "earliest" : "latest", err, sizeof(err));
    int rc = crawllog_consumer_new(E.log, cc, &E.cons, err, sizeof(err));
    crawllog_conf_destroy(cc);
    FZ_CHECK(rc == 0 || !strict(), "consumer: %s", err);
    if (rc != 0) {
        E.cons = NULL;
        return;
    }
    const char *topics[2] = {"a", "b"};
    rc = crawllog_consumer_subscribe(E.cons, topics, 2);
    FZ_CHECK(rc == 0 || !strict(), "subscribe: %s",
             crawllog_consumer_errmsg(E.cons));
}

static void op_poll(struct fz_in *in)
{
    uint8_t a = fz_u8(in);
    if (E.cons == NULL) {
        return;
    }
    const crawllog_msg_t *msgs[16];
    size_t n = 0;
    int rc = crawllog_consumer_poll(E.cons, 0, msgs, 1 + a % 16, &n);
    FZ_CHECK(rc == 0 || rc == CRAWLLOG_EOFFSET || !strict(), "poll: %s",
             crawllog_consumer_errmsg(E.cons));
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int pi = pi_of(crawllog_msg_topic(msgs[i]),
                       crawllog_msg_partition(msgs[i]));
        FZ_CHECK(pi >= 0, "poll: unknown partition");
        size_t vl;
        const void *v = crawllog_msg_value(msgs[i], &vl);
        observe(pi, crawllog_msg_offset(msgs[i]), value_seq(v, vl), "poll");
    }
    if (rc == 0 && n > 0 && (a & 0x80)) {
        /* Commit the last message (its partition, offset + 1). */
        const crawllog_msg_t *m = msgs[n - 1];
        int sync = 1 + (a >> 4) % 2;
        rc = crawllog_consumer_commit(E.cons, m, sync);
        FZ_CHECK(rc == 0 || !strict(), "commit: %s",
                 crawllog_consumer_errmsg(E.cons));
        int pi = pi_of(crawllog_msg_topic(m), crawllog_msg_partition(m));
        if (rc == 0) {
            E.m.committed[pi] = crawllog_msg_offset(m) + 1;
            E.m.committed_alt[pi] = -2;
        } else {
            E.m.committed_alt[pi] = crawllog_msg_offset(m) + 1;
        }
    }
}

static void op_commit(struct fz_in *in)
{
    uint8_t a = fz_u8(in), b = fz_u8(in);
    if (E.cons == NULL) {
        return;
    }
    int pi = a % NPART;
    crawllog_topic_partition_t tp = {topic_of[pi], part_of[pi],
                                     E.m.end[pi] > 0 ? b % (E.m.end[pi] + 1)
                                                     : 0,
                                     (a & 8) ? "md" : NULL};
    int rc = crawllog_consumer_commit_offsets(E.cons, &tp, 1,
                                              1 + (a >> 4) % 2);
    if (rc == 0) {
        E.m.committed[pi] = tp.offset;
        E.m.committed_alt[pi] = -2;
    } else {
        E.m.committed_alt[pi] = tp.offset;
    }
    int64_t c = -5;
    rc = crawllog_consumer_committed(E.cons, topic_of[pi], part_of[pi], &c);
    if (rc == 0 && strict() && E.m.committed_alt[pi] == -2) {
        FZ_CHECK(c == E.m.committed[pi], "committed %lld, expected %lld",
                 (long long)c, (long long)E.m.committed[pi]);
    }
}

static const char *const fp_sites[] = {
    "seg.append.write", "seg.append.fdatasync", "idx.write",
    "seg.create",       "seg.roll.fsync",       "offsets.write",
    "offsets.fdatasync", "malloc",              "seg.*",
    "*"};
static const char *const fp_actions[] = {"EIO", "ENOSPC", "SHORT(7)",
                                         "SHORT(70)", "ENOMEM"};

static void op_failpoint(struct fz_in *in)
{
    uint8_t a = fz_u8(in), b = fz_u8(in);
    char spec[128];
    snprintf(spec, sizeof(spec), "%s=%s@%d",
             fp_sites[a % (sizeof(fp_sites) / sizeof(fp_sites[0]))],
             fp_actions[b % (sizeof(fp_actions) / sizeof(fp_actions[0]))],
             1 + (b >> 4));
    FZ_CHECK(cl_fp_set(spec) == 0, "failpoint %s", spec);
    E.armed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        const char *t = getenv("FUZZ_TRACE");
        tracing = t != NULL && *t != '\0' && *t != '0';
        char id[64];
        snprintf(id, sizeof(id), "fuzz-%ld-0", (long)getpid());
        setenv("CRAWLLOG_BOOT_ID", id, 1);
        inited = 1;
    }
    if (size > 4096) {
        return 0;
    }
    memset(&E, 0, sizeof(E));
    for (int pi = 0; pi < NPART; pi++) {
        E.m.committed[pi] = -1;
        E.m.committed_alt[pi] = -2;
        for (int o = 0; o < MAXOFF; o++) {
            E.m.seq[pi][o] = -1;
        }
    }
    snprintf(E.dir, sizeof(E.dir), "%s/d%lu", fz_scratch(), counter++);
    open_log();
    struct fz_in in = {data, size};
    for (int ops = 0; in.n > 0 && ops < MAXOPS && E.m.next_seq < MAXSEQ - 8;
         ops++) {
        uint8_t op = fz_u8(&in);
        if (tracing) {
            static const char *const names[16] = {
                "create", "append", "append", "flush", "send", "send",
                "producer", "read", "fetch", "consumer", "poll", "poll",
                "commit", "reopen", "crash", "failpoint"};
            fprintf(stderr, "op %d: %s %02x %02x\n", ops, names[op % 16],
                    in.n > 0 ? in.p[0] : 0, in.n > 1 ? in.p[1] : 0);
        }
        int was_armed = E.armed;
        switch (op % 16) {
        case 0: op_create(&in); break;
        case 1: case 2: op_append(&in); break;
        case 3: op_flush(&in); break;
        case 4: case 5: op_send(&in); break;
        case 6: op_producer(&in); break;
        case 7: op_read(&in, 0); break;
        case 8: op_read(&in, 1); break;
        case 9: op_consumer(&in); break;
        case 10: case 11: op_poll(&in); break;
        case 12: op_commit(&in); break;
        case 13:
            close_log();
            disarm();
            open_log();
            check_all(1);
            break;
        case 14: crash(&in); break;
        default: op_failpoint(&in); break;
        }
        if (was_armed) {
            /* One operation ran under the failpoint: whatever it did, the
             * handles may refuse calls until the next reopen. */
            disarm();
        }
    }
    disarm();
    close_log();
    open_log();
    check_all(1);
    close_log();
    if (!E.fired_any) {
        char err[CRAWLLOG_ERRSTR_SIZE];
        size_t problems = 0;
        int rc = crawllog_verify(E.dir, NULL, NULL, &problems, err,
                                 sizeof(err));
        FZ_CHECK(rc == 0 && problems == 0,
                 "verify: %d, %zu problems: %s (data directory %s kept)", rc,
                 problems, err, E.dir);
    }
    fz_rmrf(E.dir);
    return 0;
}
