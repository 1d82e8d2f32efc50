/*
 * fuzz_state.c - libFuzzer target: the parsers of the small state files.
 *
 * Input: byte 0 picks the file (low 3 bits) and, with bit 7, repairs its
 * checksums so mutations reach the parsing behind them; the rest is the
 * file's content, written under a scratch data directory:
 *   0  crawllog.meta            cl_metafile_read + cl_metafile_get_int
 *   1  topics/t/topic.meta      cl_topic_meta_read (metafile + conf parse)
 *   2  <part>/log-start-offset  cl_metafile_read + cl_metafile_get_int
 *   3  groups/g/offsets         cl_offsets_open / get / at, one append,
 *                               reopen (offsets.c + offsets_map.c)
 *   4  producers/p              cl_prodid_acquire twice (prodid.c)
 *   5  topics/t/migration       cl_migrate_file_read, write, read back
 *                               (migrate_file.c)
 * (6 and 7 are 3 and 5 again.)
 *
 * Oracles besides the sanitizers: the result codes are the documented
 * ones; an accepted metafile body is whole lines, shorter than the file;
 * offsets: entries sorted and in range, cl_offsets_get agrees with
 * cl_offsets_at, an append is visible after a reopen with every other
 * entry unchanged, and cl_offsets_check_header agrees with the open;
 * producers: an accepted file's instance count is larger than every valid
 * slot's and the next acquire gets exactly the next count; migration: a
 * file read, written and read again gives the same content.
 */
#include "fuzz_common.h"

#include "crc32c.h"
#include "errors.h"
#include "io.h"
#include "metafile.h"
#include "migrate.h"
#include "offsets.h"
#include "prodid.h"
#include "topic.h"

static unsigned long counter;

static int valid_rc(int rc)
{
    return rc == 0 || rc == CRAWLLOG_ECORRUPT || rc == CRAWLLOG_EVERSION ||
           rc == CRAWLLOG_ENOMEM || rc == CRAWLLOG_EINVAL;
}

/* Replace the crc line of a metafile (if any) by a correct one. */
static size_t fix_metafile(uint8_t *buf, size_t len, size_t cap)
{
    /* Drop a last line starting with "crc32c=". */
    size_t end = len;
    if (end > 0 && buf[end - 1] == '\n') {
        end--;
    }
    size_t ls = end;
    while (ls > 0 && buf[ls - 1] != '\n') {
        ls--;
    }
    if (end - ls >= 7 && memcmp(buf + ls, "crc32c=", 7) == 0) {
        len = ls;
    } else if (len > 0 && buf[len - 1] != '\n' && len < cap) {
        buf[len++] = '\n';
    }
    if (len + 17 > cap) {
        return len;
    }
    char line[24];
    snprintf(line, sizeof(line), "crc32c=%08x\n", cl_crc32c(0, buf, len));
    memcpy(buf + len, line, 16);
    return len + 16;
}

/* An accepted body: key=value lines, NUL-terminated, no NUL inside. */
static void check_body(const char *body, size_t file_len)
{
    FZ_CHECK(body != NULL, "no body");
    FZ_CHECK(strlen(body) < file_len, "body longer than the file");
    FZ_CHECK(body[0] == '\0' || body[strlen(body) - 1] == '\n',
             "body does not end with a line end");
}

static void do_metafile(int dfd, const char *name, const char *kind,
                        const char *key, size_t file_len)
{
    struct cl_err err = {""};
    char *body = NULL;
    int rc = cl_metafile_read(dfd, name, name, kind, &body, &err);
    FZ_CHECK(valid_rc(rc), "metafile rc %d", rc);
    FZ_CHECK((rc == 0) == (body != NULL), "body vs rc");
    FZ_CHECK(rc == 0 || err.msg[0] != '\0', "no message for %d", rc);
    if (rc == 0) {
        check_body(body, file_len);
        int64_t v = 0;
        int g = cl_metafile_get_int(body, key, &v);
        FZ_CHECK(g == 0 || g == CRAWLLOG_ENOENT || g == CRAWLLOG_ECORRUPT,
                 "get_int %d", g);
        /* Any other key of the body too. */
        const char *eq = strchr(body, '=');
        if (eq != NULL && eq - body < 200) {
            char k[256];
            memcpy(k, body, (size_t)(eq - body));
            k[eq - body] = '\0';
            g = cl_metafile_get_int(body, k, &v);
            FZ_CHECK(g == 0 || g == CRAWLLOG_ENOENT ||
                         g == CRAWLLOG_ECORRUPT,
                     "get_int %d", g);
        }
        cl_io_free(body);
    }
}

/* ---- offsets -------------------------------------------------------------- */

static void fix_offsets(uint8_t *buf, size_t len)
{
    if (len < CL_OFFSETS_HEADER_SIZE) {
        return;
    }
    uint8_t h[60]; /* the header CRC takes the mark slots [24, 48) as 0 */
    memcpy(h, buf, sizeof(h));
    memset(h + 24, 0, 24);
    fz_put_u32(buf + 60, cl_crc32c(0, h, sizeof(h)));
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++) {
        seq = seq << 8 | buf[16 + i];
    }
    size_t pos = CL_OFFSETS_HEADER_SIZE;
    while (len - pos >= 40) {
        uint32_t rl = fz_get_u32(buf + pos);
        if (rl < 40 || rl > len - pos) {
            break;
        }
        fz_put_i64(buf + pos + 8, (int64_t)seq++);
        fz_put_u32(buf + pos + 4, cl_crc32c(0, buf + pos + 8, rl - 8));
        pos += rl;
    }
}

struct snap {
    size_t n;
    struct cl_offset_entry *e;
    char **strs;
};

static void snap_take(struct cl_offsets *o, struct snap *s)
{
    s->n = cl_offsets_count(o);
    s->e = calloc(s->n + 1, sizeof(*s->e));
    s->strs = calloc(2 * s->n + 1, sizeof(char *));
    FZ_CHECK(s->e && s->strs, "calloc");
    for (size_t i = 0; i < s->n; i++) {
        cl_offsets_at(o, i, &s->e[i]);
        s->strs[2 * i] = strdup(s->e[i].topic);
        s->strs[2 * i + 1] = strdup(s->e[i].metadata ? s->e[i].metadata : "");
        s->e[i].topic = s->strs[2 * i];
        s->e[i].metadata = s->strs[2 * i + 1];
    }
}

static void snap_free(struct snap *s)
{
    for (size_t i = 0; i < 2 * s->n; i++) {
        free(s->strs[i]);
    }
    free(s->strs);
    free(s->e);
}

static void check_offsets(struct cl_offsets *o)
{
    size_t n = cl_offsets_count(o);
    struct cl_offset_entry prev = {0}, e, g;
    for (size_t i = 0; i < n; i++) {
        cl_offsets_at(o, i, &e);
        FZ_CHECK(e.topic != NULL && e.topic[0] != '\0', "topic");
        FZ_CHECK(e.partition >= 0 && e.partition < CRAWLLOG_PARTITIONS_MAX,
                 "partition %d", e.partition);
        FZ_CHECK(e.offset >= 0, "live entry with offset %lld",
                 (long long)e.offset);
        FZ_CHECK(e.metadata != NULL &&
                     strlen(e.metadata) < CL_OFFSETS_META_MAX,
                 "metadata");
        if (i > 0) {
            int c = strcmp(prev.topic, e.topic);
            FZ_CHECK(c < 0 || (c == 0 && prev.partition < e.partition),
                     "entries not sorted at %zu", i);
        }
        FZ_CHECK(cl_offsets_get(o, e.topic, e.partition, &g) == 1 &&
                     g.offset == e.offset && g.commit_ms == e.commit_ms &&
                     strcmp(g.metadata, e.metadata) == 0,
                 "get disagrees with at(%zu)", i);
        prev = e;
    }
}

static void do_offsets(int dfd, const uint8_t *file, size_t len)
{
    struct cl_err err = {""};
    struct cl_offsets *o = NULL;
    char why[128];
    int hdr = len >= CL_OFFSETS_HEADER_SIZE
                  ? cl_offsets_check_header(file, len, why, sizeof(why))
                  : CRAWLLOG_ECORRUPT;
    static const uint8_t zero[CL_OFFSETS_HEADER_SIZE];
    int fresh = len < CL_OFFSETS_HEADER_SIZE ||
                memcmp(file, zero, CL_OFFSETS_HEADER_SIZE) == 0;
    int rc = cl_offsets_open(&o, dfd, "groups/g", 0600, &err);
    FZ_CHECK(valid_rc(rc), "offsets open rc %d", rc);
    /* A valid header may still be refused: a record damaged below the
     * durable mark (FORMAT.md section 8). */
    int below_mark = rc == CRAWLLOG_ECORRUPT &&
                     strstr(err.msg, "below the durable mark") != NULL;
    if (!fresh && !below_mark) {
        FZ_CHECK((rc == 0) == (hdr == 0), "open %d (%s) but header %d",
                 rc, err.msg, hdr);
    }
    if (rc != 0) {
        FZ_CHECK(o == NULL, "handle on failure");
        return;
    }
    check_offsets(o);
    struct snap before;
    snap_take(o, &before);
    struct cl_offset_entry g;
    int existed = cl_offsets_get(o, "fuzz.topic", 7, &g) == 1;
    struct cl_offset_entry ne = {"fuzz.topic", 7, 12345, "m", 0};
    uint64_t token = 0;
    rc = cl_offsets_append(o, &ne, 1, 1, 1, &token, &err);
    FZ_CHECK(rc == 0, "append: %s", err.msg);
    rc = cl_offsets_sync(o, token, &err);
    FZ_CHECK(rc == 0, "sync: %s", err.msg);
    cl_offsets_close(o);
    o = NULL;
    rc = cl_offsets_open(&o, dfd, "groups/g", 0600, &err);
    FZ_CHECK(rc == 0, "reopen: %s", err.msg);
    check_offsets(o);
    FZ_CHECK(cl_offsets_get(o, "fuzz.topic", 7, &g) == 1 &&
                 g.offset == 12345 && strcmp(g.metadata, "m") == 0,
             "appended entry lost");
    for (size_t i = 0; i < before.n; i++) {
        const struct cl_offset_entry *b = &before.e[i];
        if (strcmp(b->topic, "fuzz.topic") == 0 && b->partition == 7) {
            continue;
        }
        FZ_CHECK(cl_offsets_get(o, b->topic, b->partition, &g) == 1 &&
                     g.offset == b->offset && g.commit_ms == b->commit_ms &&
                     strcmp(g.metadata, b->metadata) == 0,
                 "entry %s/%d changed by an append", b->topic,
                 b->partition);
    }
    FZ_CHECK(cl_offsets_count(o) == before.n + (existed ? 0 : 1),
             "count %zu after %zu", cl_offsets_count(o), before.n);
    snap_free(&before);
    cl_offsets_close(o);
}

/* ---- producers ------------------------------------------------------------ */

static void fix_prodid(uint8_t *buf, size_t len)
{
    for (size_t s = 0; s < 2; s++) {
        size_t off = 512 * s;
        if (len >= off + CL_PRODID_SLOT_SIZE) {
            fz_put_u32(buf + off + 36, cl_crc32c(0, buf + off, 36));
        }
    }
}

static void do_prodid(int rootfd, const uint8_t *file, size_t len)
{
    struct cl_err err = {""};
    struct cl_prodid id;
    uint64_t inst[2] = {0, 0}, maxinst = 0;
    int ok[2] = {0, 0};
    for (int s = 0; s < 2; s++) {
        int64_t pid;
        int empty;
        if (len >= 512u * (unsigned)s + CL_PRODID_SLOT_SIZE) {
            ok[s] = cl_prodid_slot_decode(file + 512 * s, &inst[s], &pid,
                                          &empty) == 0;
            if (ok[s] && inst[s] > maxinst) {
                maxinst = inst[s];
            }
        }
    }
    int rc = cl_prodid_acquire(&id, rootfd, "p", 0700, 0600, &err);
    FZ_CHECK(valid_rc(rc), "acquire rc %d", rc);
    if (len < 1024 || (!ok[0] && !ok[1])) {
        FZ_CHECK(rc != 0, "a file without a valid slot was accepted");
    }
    if (rc != 0) {
        return;
    }
    FZ_CHECK(id.instance > maxinst, "instance %u not above %llu",
             id.instance, (unsigned long long)maxinst);
    FZ_CHECK(id.pid >= 0, "pid");
    uint32_t first = id.instance;
    cl_prodid_release(&id);
    rc = cl_prodid_acquire(&id, rootfd, "p", 0700, 0600, &err);
    FZ_CHECK(rc == 0, "second acquire: %s", err.msg);
    FZ_CHECK(id.instance == first + 1, "second instance %u after %u",
             id.instance, first);
    cl_prodid_release(&id);
}

/* ---- migration ------------------------------------------------------------ */

static int same_mig(const struct cl_mig *a, const struct cl_mig *b)
{
    if (a->state != b->state || a->n != b->n || a->m != b->m ||
        strcmp(a->target, b->target) != 0) {
        return 0;
    }
    size_t m = (size_t)a->m, n = (size_t)a->n;
    return memcmp(a->copied, b->copied, m * sizeof(int64_t)) == 0 &&
           memcmp(a->counts, b->counts, m * n * sizeof(int64_t)) == 0 &&
           memcmp(a->cut, b->cut, m * sizeof(int64_t)) == 0 &&
           memcmp(a->start, b->start, n * sizeof(int64_t)) == 0;
}

static void do_migration(int tdfd)
{
    struct cl_err err = {""};
    struct cl_mig m, m2;
    int rc = cl_migrate_file_read(tdfd, "topics/t/migration", &m, &err);
    FZ_CHECK(valid_rc(rc), "migration rc %d", rc);
    if (rc != 0) {
        FZ_CHECK(m.copied == NULL && m.n == 0, "not zeroed on failure");
        return;
    }
    FZ_CHECK(m.n >= 1 && m.n <= CRAWLLOG_PARTITIONS_MAX && m.m >= 1 &&
                 m.m <= CRAWLLOG_PARTITIONS_MAX,
             "counts %d %d", m.n, m.m);
    struct cl_mig_cache c;
    rc = cl_migrate_cache_load(tdfd, "t", &c, &err);
    FZ_CHECK(rc == 0 && c.state == m.state && c.nparts == m.n &&
                 strcmp(c.target, m.target) == 0,
             "cache load %d", rc);
    rc = cl_migrate_file_write(tdfd, "topics/t/migration", &m, 0600, &err);
    FZ_CHECK(rc == 0, "write back: %s", err.msg);
    rc = cl_migrate_file_read(tdfd, "topics/t/migration", &m2, &err);
    FZ_CHECK(rc == 0, "read back: %s", err.msg);
    FZ_CHECK(same_mig(&m, &m2), "migration changed by a write/read");
    cl_migrate_file_free(&m2);
    cl_migrate_file_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 20)) {
        return 0;
    }
    unsigned kind = data[0] & 7u, fix = data[0] & 0x80u;
    size_t len = size - 1, cap = len + 32;
    uint8_t *file = malloc(cap);
    FZ_CHECK(file != NULL, "malloc");
    memcpy(file, data + 1, len);

    char dir[700], path[800];
    snprintf(dir, sizeof(dir), "%s/s%lu", fz_scratch(), counter++);
    FZ_CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY);
    FZ_CHECK(rootfd >= 0, "open dir");
    int sub = -1;
    const char *rel = NULL;
    switch (kind) {
    case 0: /* crawllog.meta */
    case 2: /* log-start-offset */
        rel = kind == 0 ? "crawllog.meta" : "log-start-offset";
        if (fix) {
            len = fix_metafile(file, len, cap);
        }
        break;
    case 1: /* topic.meta */
    case 5:
    case 7: /* migration */
        snprintf(path, sizeof(path), "%s/topics", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/topics/t", dir);
        mkdir(path, 0700);
        rel = kind == 1 ? "topics/t/topic.meta" : "topics/t/migration";
        if (fix) {
            len = fix_metafile(file, len, cap);
        }
        break;
    case 3:
    case 6: /* offsets */
        snprintf(path, sizeof(path), "%s/groups", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/groups/g", dir);
        mkdir(path, 0700);
        rel = "groups/g/offsets";
        if (fix) {
            fix_offsets(file, len);
        }
        break;
    case 4: /* producers */
        snprintf(path, sizeof(path), "%s/producers", dir);
        mkdir(path, 0700);
        rel = "producers/p";
        if (fix) {
            fix_prodid(file, len);
        }
        break;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FZ_CHECK(fz_write_file(path, file, len) == 0, "write %s", path);

    switch (kind) {
    case 0:
        do_metafile(rootfd, "crawllog.meta", "crawllog", "created.ms", len);
        break;
    case 2:
        do_metafile(rootfd, "log-start-offset", "crawllog-logstart",
                    "log.start.offset", len);
        break;
    case 1: {
        struct cl_topic_meta meta;
        struct cl_err err = {""};
        int rc = cl_topic_meta_read(rootfd, "t", &meta, &err);
        FZ_CHECK(valid_rc(rc), "topic meta rc %d", rc);
        if (rc == 0) {
            FZ_CHECK(meta.partitions >= 1 &&
                         meta.partitions <= CRAWLLOG_PARTITIONS_MAX &&
                         meta.conf != NULL,
                     "topic meta content");
            char *dump = NULL;
            FZ_CHECK(crawllog_conf_dump(meta.conf, &dump) == 0, "dump");
            free(dump);
        } else {
            FZ_CHECK(meta.conf == NULL, "conf on failure");
        }
        cl_topic_meta_free(&meta);
        break;
    }
    case 3:
    case 6:
        snprintf(path, sizeof(path), "%s/groups/g", dir);
        sub = open(path, O_RDONLY | O_DIRECTORY);
        do_offsets(sub, file, len);
        break;
    case 4:
        do_prodid(rootfd, file, len);
        break;
    default:
        snprintf(path, sizeof(path), "%s/topics/t", dir);
        sub = open(path, O_RDONLY | O_DIRECTORY);
        do_migration(sub);
        break;
    }
    if (sub >= 0) {
        close(sub);
    }
    close(rootfd);
    fz_rmrf(dir);
    free(file);
    return 0;
}
