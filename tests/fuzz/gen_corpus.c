/*
 * gen_corpus.c - writes the seed corpora of the fuzz targets (T8):
 *   gen_corpus OUTDIR     (OUTDIR/<target>/seed-*; OUTDIR is normally
 *                          tests/fuzz/corpus)
 *
 * Seeds are valid files made by the library itself (record batches from
 * cl_record_batch_encode, segments, metadata, offsets, producer and
 * migration files from a real data directory), plus a few damaged ones
 * (torn tails, flipped bytes) and hand-written names and configuration
 * lines.  fuzz_index writes its own seeds (the index files of its
 * template) when FUZZ_DUMP_SEEDS names a directory.  Deterministic except
 * for timestamps and producer ids.
 */
#include "fuzz_common.h"

#include "crawllog.h"
#include "crc32c.h"
#include "record.h"
#include "segment.h"

static const char *outdir;
static int nseed;

static void seed(const char *target, const char *name, unsigned mode,
                 int with_mode, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", outdir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, name);
    uint8_t *buf = malloc(len + 1);
    size_t n = 0;
    if (with_mode) {
        buf[n++] = (uint8_t)mode;
    }
    memcpy(buf + n, data, len);
    if (fz_write_file(path, buf, n + len) != 0) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        exit(1);
    }
    free(buf);
    nseed++;
}

/* ---- record batches ------------------------------------------------------- */

/* Encode batch kind k (0..9) at base offset base into buf; returns size. */
static size_t make_batch(uint8_t *buf, size_t cap, int k, int64_t base)
{
    static const crawllog_header_t hs[3] = {
        {"trace", 5, "abc", 3}, {"nullval", 7, NULL, 0}, {"", 0, "", 0}};
    crawllog_record_t r[40];
    char keys[40][8], vals[40][24];
    size_t n = 1;
    struct cl_batch_meta meta = CL_BATCH_META_NONE;
    for (int i = 0; i < 40; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        snprintf(vals[i], sizeof(vals[i]), "value-%d-%d", k, i);
        r[i] = (crawllog_record_t){keys[i], strlen(keys[i]), vals[i],
                                   strlen(vals[i]), 1700000000000 + i * 7,
                                   NULL, 0};
    }
    switch (k) {
    case 0: /* one record, null key */
        r[0].key = NULL;
        break;
    case 1: /* three records */
        n = 3;
        break;
    case 2: /* headers */
        n = 2;
        r[0].headers = hs;
        r[0].header_count = 3;
        r[1].headers = hs + 1;
        r[1].header_count = 1;
        break;
    case 3: /* null value (tombstone), empty key */
        r[0].value = NULL;
        r[0].key_len = 0;
        break;
    case 4: /* many records, falling timestamps */
        n = 40;
        for (int i = 0; i < 40; i++) {
            r[i].timestamp = 1700000000000 - i * 1000;
        }
        break;
    case 5: /* idempotent producer fields */
        n = 5;
        meta = (struct cl_batch_meta){12345, 3, 2147483645, 0};
        break;
    case 6: /* append-time timestamps (padded varlong deltas) */
        n = 3;
        r[1].timestamp = -1;
        break;
    case 7: { /* a large value */
        static char big[3000];
        memset(big, 'b', sizeof(big));
        r[0].value = big;
        r[0].value_len = sizeof(big);
        break;
    }
    case 8: /* empty key and value */
        r[0].key_len = 0;
        r[0].value_len = 0;
        break;
    default: /* timestamp 0 */
        n = 2;
        r[0].timestamp = 0;
        r[1].timestamp = 0;
        break;
    }
    size_t len =
        cl_record_batch_encode(buf, cap, r, n, 1700000000500, &meta);
    if (len == 0) {
        fprintf(stderr, "gen_corpus: encode %d failed\n", k);
        exit(1);
    }
    cl_record_batch_set_base_offset(buf, base);
    return len;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The sarama golden batches of tests/vectors/recordbatch.txt. */
static void golden_batches(void)
{
    FILE *f = fopen("tests/vectors/recordbatch.txt", "r");
    if (f == NULL) {
        return;
    }
    char line[4096], name[128] = "";
    static uint8_t buf[65536];
    size_t n = 0;
    for (;;) {
        char *got = fgets(line, sizeof(line), f);
        int cont = got && (line[0] == ' ' || line[0] == '\t');
        if (!cont && name[0] != '\0') {
            char sname[160];
            snprintf(sname, sizeof(sname), "golden-%s", name);
            seed("record", sname, 0, 0, buf, n);
            name[0] = '\0';
            n = 0;
        }
        if (got == NULL) {
            break;
        }
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        char *p = line;
        if (!cont) {
            char *colon = strchr(line, ':');
            if (colon == NULL || colon - line >= (long)sizeof(name)) {
                continue;
            }
            memcpy(name, line, (size_t)(colon - line));
            name[colon - line] = '\0';
            p = colon + 1;
        }
        int hi = -1;
        for (; *p; p++) {
            int v = hexval((unsigned char)*p);
            if (v < 0) {
                continue;
            }
            if (hi < 0) {
                hi = v;
            } else if (n < sizeof(buf)) {
                buf[n++] = (uint8_t)(hi << 4 | v);
                hi = -1;
            }
        }
    }
    fclose(f);
}

static void records(void)
{
    static uint8_t buf[8192];
    char name[64];
    for (int k = 0; k < 10; k++) {
        size_t len = make_batch(buf, sizeof(buf), k, k * 100);
        snprintf(name, sizeof(name), "batch%d", k);
        seed("record", name, 0, 0, buf, len);
        /* The same with the "fix the CRC" bit (top bit of byte 0). */
        buf[0] |= 0x80;
        snprintf(name, sizeof(name), "batch%d-fixcrc", k);
        seed("record", name, 0, 0, buf, len);
        buf[0] &= 0x7f;
        if (k == 2) {
            buf[len / 2] ^= 0x40; /* a damaged batch */
            seed("record", "batch2-flipped", 0, 0, buf, len);
            seed("record", "batch2-torn", 0, 0, buf, len - 9);
        }
    }
    golden_batches();
}

/* ---- segments ------------------------------------------------------------- */

/* A segment of base `base` holding batches of the given kinds; returns its
 * length. */
static size_t make_segment(uint8_t *seg, size_t cap, int64_t base,
                           const int *kinds, int nk)
{
    cl_segment_header_encode(seg, base, 1700000000000);
    size_t len = CL_SEG_HEADER_SIZE;
    int64_t off = base;
    for (int i = 0; i < nk; i++) {
        size_t b = make_batch(seg + len, cap - len, kinds[i], off);
        struct cl_batch_hdr h;
        cl_record_batch_header(seg + len, b, &h);
        off += h.records_count;
        len += b;
    }
    return len;
}

static void segments(void)
{
    static uint8_t seg[65536];
    static const int k1[] = {0};
    static const int k5[] = {1, 2, 3, 5, 8};
    static const int kall[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    size_t len;
    seed("segment", "empty-file", 0, 1, "", 0);
    len = make_segment(seg, sizeof(seg), 0, k1, 0);
    seed("segment", "header-only", 0, 1, seg, len);
    memset(seg, 0, 64);
    seed("segment", "zero-header", 0, 1, seg, 64);
    len = make_segment(seg, sizeof(seg), 0, k1, 1);
    seed("segment", "one-batch", 0, 1, seg, len);
    len = make_segment(seg, sizeof(seg), 0, k5, 5);
    seed("segment", "five-batches", 0, 1, seg, len);
    seed("segment", "five-batches-fix", 3, 1, seg, len);
    seed("segment", "five-torn", 0, 1, seg, len - 17);
    seed("segment", "five-keepstate", 4, 1, seg, len);
    seg[len - 40] ^= 1;
    seed("segment", "five-flip-last", 0, 1, seg, len);
    seed("segment", "five-flip-last-fixcrc", 2, 1, seg, len);
    len = make_segment(seg, sizeof(seg), 0, kall, 10);
    seed("segment", "ten-batches", 1, 1, seg, len);
    seg[200] ^= 0x10;
    seed("segment", "ten-flip-early", 0, 1, seg, len);
    len = make_segment(seg, sizeof(seg), 40, k5, 5);
    seed("segment", "second-segment", 8, 1, seg, len);
    seed("segment", "second-segment-torn", 9, 1, seg, len - 3);
    seed("segment", "second-keepstate", 12, 1, seg, len);
    /* Gap in offsets: batch 2 claims offset 100. */
    len = make_segment(seg, sizeof(seg), 0, k5, 2);
    size_t l2 = make_batch(seg + len, sizeof(seg) - len, 1, 100);
    seed("segment", "offset-gap", 0, 1, seg, len + l2);
    /* Zeros after valid data (preallocated or lost pages). */
    memset(seg + len, 0, 300);
    seed("segment", "zero-tail", 0, 1, seg, len + 300);
}

/* ---- state files (from a real data directory) ----------------------------- */

static void state_file(const char *dir, const char *rel, unsigned mode,
                       const char *name)
{
    char path[1024];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    uint8_t *buf = fz_read_file(path, &len);
    if (buf == NULL) {
        fprintf(stderr, "gen_corpus: no %s\n", path);
        exit(1);
    }
    seed("state", name, mode, 1, buf, len);
    if (len > 20) {
        char n2[128];
        snprintf(n2, sizeof(n2), "%s-fix", name);
        buf[len / 2] ^= 0x01;
        seed("state", n2, mode | 0x80, 1, buf, len); /* crc repaired */
        snprintf(n2, sizeof(n2), "%s-torn", name);
        seed("state", n2, mode, 1, buf, len * 2 / 3);
    }
    free(buf);
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "gen_corpus: %s: %s\n", what, crawllog_strerror(rc));
        exit(1);
    }
}

static void states(void)
{
    char dir[600], err[CRAWLLOG_ERRSTR_SIZE];
    snprintf(dir, sizeof(dir), "%s/state", fz_scratch());
    crawllog_t *log;
    crawllog_conf_t *tc, *pc, *cc;
    check(crawllog_open(&log, dir, NULL, err, sizeof(err)), "open");
    crawllog_conf_new(&tc);
    crawllog_conf_set(tc, "segment.bytes", "4096", err, sizeof(err));
    crawllog_conf_set(tc, "retention.bytes", "5000", err, sizeof(err));
    check(crawllog_topic_create(log, "t", 3, tc), "create t");
    crawllog_conf_destroy(tc);

    crawllog_conf_new(&pc);
    crawllog_conf_set(pc, "producer.id", "p", err, sizeof(err));
    crawllog_producer_t *prod;
    check(crawllog_producer_new(log, pc, &prod, err, sizeof(err)), "prod");
    char val[100];
    memset(val, 'x', sizeof(val));
    for (int i = 0; i < 200; i++) {
        check(crawllog_producer_send(prod, "t", i % 3, "k", 1, val,
                                     sizeof(val), NULL, 0, NULL),
              "send");
    }
    check(crawllog_producer_flush(prod, 1000), "flush");
    crawllog_producer_destroy(prod);
    /* A second instance: both slots of producers/p are used. */
    check(crawllog_producer_new(log, pc, &prod, err, sizeof(err)), "prod2");
    crawllog_producer_destroy(prod);
    crawllog_conf_destroy(pc);
    int64_t deleted = 0;
    check(crawllog_maintain(log, &deleted), "maintain"); /* log-start-offset */

    crawllog_conf_new(&cc);
    crawllog_conf_set(cc, "group.id", "g", err, sizeof(err));
    crawllog_consumer_t *cons;
    check(crawllog_consumer_new(log, cc, &cons, err, sizeof(err)), "cons");
    crawllog_conf_destroy(cc);
    const char *topics[] = {"t"};
    check(crawllog_consumer_subscribe(cons, topics, 1), "subscribe");
    crawllog_topic_partition_t tp[3] = {{"t", 0, 5, "meta"},
                                        {"t", 1, 7, NULL},
                                        {"t", 2, 9, ""}};
    const crawllog_msg_t *msgs[10];
    size_t got = 0;
    crawllog_consumer_poll(cons, 0, msgs, 10, &got);
    check(crawllog_consumer_commit_offsets(cons, tp, 3, CRAWLLOG_SYNC_DURABLE),
          "commit");
    tp[0].offset = 6;
    check(crawllog_consumer_commit_offsets(cons, tp, 1, CRAWLLOG_SYNC_DURABLE),
          "commit 2");
    crawllog_consumer_close(cons);
    crawllog_consumer_destroy(cons);

    check(crawllog_topic_migrate(log, "t", "t2", 2, NULL, NULL), "migrate");
    crawllog_close(log);

    /* The offsets file ends with zeros (space added in steps): keep the
     * used part and a little of the zeros. */
    state_file(dir, "crawllog.meta", 0, "crawllog-meta");
    state_file(dir, "topics/t/topic.meta", 1, "topic-meta");
    int found = 0;
    for (int p = 0; p < 3; p++) {
        char rel[64], full[1024];
        struct stat st;
        snprintf(full, sizeof(full), "%s/topics/t/%d/log-start-offset", dir,
                 p);
        if (!found && stat(full, &st) == 0) {
            snprintf(rel, sizeof(rel), "topics/t/%d/log-start-offset", p);
            state_file(dir, rel, 2, "log-start-offset");
            found = 1;
        }
    }
    if (!found) {
        const char *ls = "crawllog-logstart 1\nlog.start.offset=42\n";
        uint8_t b[128];
        size_t n = strlen(ls);
        memcpy(b, ls, n);
        n += (size_t)snprintf((char *)b + n, sizeof(b) - n,
                              "crc32c=%08x\n", cl_crc32c(0, b, n));
        seed("state", "log-start-offset", 2, 1, b, n);
    }
    {
        char path[1024];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/groups/g/offsets", dir);
        uint8_t *buf = fz_read_file(path, &len);
        if (buf == NULL) {
            fprintf(stderr, "gen_corpus: no offsets file\n");
            exit(1);
        }
        size_t used = len;
        while (used > 64 && buf[used - 1] == 0) {
            used--;
        }
        used = used + 64 < len ? used + 64 : len;
        seed("state", "offsets", 3, 1, buf, used);
        seed("state", "offsets-torn", 3, 1, buf, used - 80);
        buf[100] ^= 4;
        seed("state", "offsets-flip-fix", 0x83, 1, buf, used);
        seed("state", "offsets-header", 3, 1, buf, 64);
        free(buf);
    }
    state_file(dir, "producers/p", 4, "producer");
    state_file(dir, "topics/t/migration", 5, "migration");
    fz_rmrf(dir);
}

/* ---- names and configuration ---------------------------------------------- */

static void names_conf(void)
{
    static const char *names[] = {
        "topic", "a", "..", ".", "a.b-c_D9", "../x", "a/b", "",
        "00000000000000000042.log", "00000000000000000000.timeindex",
        "09223372036854775807.index", "99999999999999999999.log", "0",
        "9999", "10000", "007", "-1", "x y", "%2e%2e"};
    static const char *sets[] = {
        "segment.bytes=4096", "segment.bytes=1073741824",
        "retention.ms=-1", "log.dir.mode=0750", "log.file.mode=0640",
        "acks=all", "acks=-1", "acks=0", "linger.ms=5",
        "partitioner=murmur2_random", "enable.idempotence=false",
        "producer.id=p-1", "group.id=g", "auto.offset.reset=earliest",
        "partition.assignment.strategy=cooperative-sticky",
        "max.poll.records=1", "dead.letter.topic=dlq",
        "index.interval.bytes=0", "segment.index.bytes=4100",
        "log.dir.create=true", "unknown.key=1", "segment.bytes=0x10",
        "segment.bytes= 4096", "retention.bytes=9223372036854775807"};
    char name[64];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(name, sizeof(name), "name%zu", i);
        seed("names_conf", name, 0, 1, names[i], strlen(names[i]));
    }
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        snprintf(name, sizeof(name), "set%zu", i);
        seed("names_conf", name, 1, 1, sets[i], strlen(sets[i]));
    }
    static const char body[] =
        "segment.bytes=1073741824\nsegment.ms=604800000\n"
        "retention.ms=604800000\nretention.bytes=-1\n"
        "index.interval.bytes=4096\nsegment.index.bytes=10485760\n"
        "max.message.bytes=1048588\n";
    seed("names_conf", "topic-body", 2, 1, body, strlen(body));
    seed("names_conf", "topic-body-dup", 2, 1,
         "retention.ms=1\n\nretention.ms=2\n", 31);
    seed("names_conf", "multi", 3, 1,
         "acks=1\nlinger.ms=0\nacks=all\nsegment.ms=1\n", 41);
}

/* ---- API sequences ----------------------------------------------------------- */

static void api(void)
{
    /* Deterministic pseudo-random op streams of several lengths: the
     * target decodes any bytes, so these only give it a start. */
    uint64_t x = 0x9e3779b97f4a7c15u;
    char name[32];
    for (int s = 0; s < 24; s++) {
        uint8_t buf[512];
        size_t n = 16 + (size_t)s * 20;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        snprintf(name, sizeof(name), "ops%02d", s);
        seed("api", name, 0, 0, buf, n);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    mkdir(outdir, 0755);
    records();
    segments();
    states();
    names_conf();
    api();
    printf("gen_corpus: %d seeds in %s\n", nseed, outdir);
    return 0;
}

/* fuzz_common.h declares it; the generator is not a fuzz target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}
