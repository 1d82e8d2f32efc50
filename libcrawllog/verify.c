/*
 * verify.c - crawllog_verify(): a read-only check of a whole data directory
 * (layer 4: it walks what log.c, topic.c, partition.c, segment.c and
 * index.c write; their headers describe the layouts).
 *
 * Owns on disk: nothing.  It never creates, truncates, renames, locks or
 * writes: every file and directory is opened O_RDONLY (with O_NOFOLLOW
 * below the root, through cl_io_openat) and only read.
 *
 * Checks, one problem per finding, "<path relative to dir>: [byte N: ]what":
 *  - root: a directory, not world-writable, crawllog.meta valid, only known
 *    entries, staging/ and trash/ empty; "*.tmp.*" leftovers anywhere.
 *  - topics/<t>: real directories with valid names, topic.meta valid,
 *    partition directories 0..N-1 present and nothing else.
 *  - partitions: only segment files, partition.state and log-start-offset,
 *    regular and not world-writable; log-start-offset within [first base,
 *    log end] with no segment wholly below it; at least one segment unless
 *    the directory is empty (a partition never opened since its creation).
 *  - segments: header valid and matching the name; every batch from byte 64
 *    to EOF fully validated (a torn tail is a problem; the scan resumes at
 *    valid data after damage); offsets contiguous within and across
 *    segments; both indexes present with whole, ascending entries; each
 *    offset entry at a batch start with base offset base + rel; each time
 *    entry equal to the largest batch maxTimestamp up to the batch holding
 *    base + rel.  Index entries are merged with the scan, so memory is
 *    bounded by the index files, never by the .log.
 *
 * Invariants: running out of memory or descriptors, or an unopenable root,
 * stops the walk with an error; anything wrong below the root (I/O errors
 * included) is a problem and the walk goes on.
 *
 * Locks: none taken; the callback runs with nothing held.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "io.h"
#include "metafile.h"
#include "names.h"
#include "partition.h"
#include "segment.h"
#include "topic.h"

#define REL_SIZE 512
#define MSG_SIZE 1024
#define RD_FLAGS (O_RDONLY | O_NONBLOCK)
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NONBLOCK)

#define HAVE_LOG 1u
#define HAVE_IDX 2u
#define HAVE_TIDX 4u

struct vctx {
    crawllog_verify_cb *cb;
    void *opaque;
    size_t problems;
    char first[MSG_SIZE]; /* the first problem, for errstr */
    struct cl_err fatal;  /* why the walk stopped */
};

/* A directory being walked; fn is called for each entry. */
struct walk;
typedef int walk_fn(struct vctx *v, struct walk *w, const char *name,
                    const char *rel);
struct walk {
    int fd;          /* the directory */
    const char *rel; /* its path relative to the root, NULL for the root */
    walk_fn *fn;
    void *ctx;
};

/* One segment's files in a partition directory. */
struct segfiles {
    int64_t base;
    unsigned have; /* HAVE_* bits of usable regular files */
    unsigned bad;  /* HAVE_* bits present but unusable (reported) */
};

struct part_ctx {
    struct segfiles *segs;
    size_t n;
    size_t entries;
    int has_ck; /* log-start-offset present */
};

struct topic_ctx {
    int32_t np;    /* partition count, -1 if topic.meta is bad */
    uint8_t *seen; /* np flags */
};

/* One accepted index (ts unused) or time-index (pos unused) entry. */
struct ventry {
    int64_t ts;
    uint32_t rel; /* offset - segment base */
    uint32_t pos; /* byte position of the batch in the .log */
    size_t at;    /* byte position of the entry in its file */
};

/* One segment scan: index entries merged with the batches. */
struct vscan {
    struct vctx *v;
    const char *rel[2]; /* .index, .timeindex */
    int64_t base;
    struct ventry *e[2];
    size_t n[2], i[2];
    int64_t max_ts;
    int ts_exact; /* 0 once a damaged region was skipped */
};

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static void report(struct vctx *v, const char *rel, const char *fmt, ...)
{
    char msg[MSG_SIZE];
    va_list ap;
    int n = rel ? snprintf(msg, sizeof(msg), "%s: ", rel) : 0;
    n = n < 0 || (size_t)n >= sizeof(msg) ? 0 : n;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    if (v->problems++ == 0) {
        cl_err_copy(v->first, sizeof(v->first), msg);
    }
    if (v->cb) {
        v->cb(v->opaque, msg);
    }
}

/* A library call failed with rc and err: lack of memory or descriptors
 * stops the walk, anything else is a problem. */
static int lib_fail(struct vctx *v, int rc, const struct cl_err *err)
{
    if (rc == CRAWLLOG_ENOMEM || rc == CRAWLLOG_EMFILE) {
        cl_err_copy(v->fatal.msg, sizeof(v->fatal.msg), err->msg);
        return rc == CRAWLLOG_ENOMEM ? CRAWLLOG_ENOMEM : CRAWLLOG_EIO;
    }
    report(v, NULL, "%s", err->msg[0] ? err->msg : crawllog_strerror(rc));
    return 0;
}

/* A system call failed with neg (-errno) on rel. */
static int sys_fail(struct vctx *v, int neg, const char *rel, const char *op)
{
    struct cl_err err = {{0}};
    return lib_fail(v, cl_err_sys(&err, -neg, rel, op), &err);
}

static int oom(struct vctx *v, const char *rel)
{
    return cl_errf(&v->fatal, CRAWLLOG_ENOMEM, "%s: out of memory", rel);
}

static void join(char *out, const char *dir, const char *name)
{
    snprintf(out, REL_SIZE, "%s/%s", dir, name);
}

/* Report an entry nobody expects. */
static int unexpected(struct vctx *v, const char *name, const char *rel)
{
    report(v, rel, strstr(name, ".tmp.") ? "leftover temporary file"
                                         : "unexpected entry");
    return 0;
}

/* Stat dirfd/name without following a symlink: 1 if it has type want
 * (S_IFDIR / S_IFREG), 0 if not (reported), or a fatal error.  A
 * world-writable entry is reported but usable. */
static int check_entry(struct vctx *v, int dirfd, const char *name,
                       const char *rel, mode_t want)
{
    struct stat st;
    int rc = cl_io_fstatat("verify.stat", dirfd, name, &st);
    if (rc < 0) {
        return sys_fail(v, rc, rel, "stat");
    }
    if (S_ISLNK(st.st_mode)) {
        report(v, rel, "symbolic link");
        return 0;
    }
    if ((st.st_mode & S_IFMT) != want) {
        report(v, rel, want == S_IFDIR ? "not a directory"
                                       : "not a regular file");
        return 0;
    }
    if (st.st_mode & S_IWOTH) {
        report(v, rel, "world-writable (mode %04o)",
               (unsigned)(st.st_mode & 07777));
    }
    return 1;
}

/* Call w->fn for every entry of the open directory w->fd. */
static int walk_fd(struct vctx *v, struct walk *w)
{
    char **names, rel[REL_SIZE];
    size_t count;
    int rc = cl_io_listdir("verify.list", w->fd, &names, &count);
    if (rc < 0) {
        return sys_fail(v, rc, w->rel ? w->rel : ".", "list");
    }
    for (size_t k = 0; rc == 0 && k < count; k++) {
        snprintf(rel, sizeof(rel), "%s%s%s", w->rel ? w->rel : "",
                 w->rel ? "/" : "", names[k]);
        rc = w->fn(v, w, names[k], rel);
    }
    cl_io_listdir_free(names, count);
    return rc;
}

/* Open the directory parentfd/name, then walk it (fd kept if fdp). */
static int walk_dir(struct vctx *v, int parentfd, const char *name,
                    struct walk *w, int *fdp)
{
    w->fd = cl_io_openat("verify.open", parentfd, name, DIR_FLAGS, 0);
    if (w->fd < 0) {
        return sys_fail(v, w->fd, w->rel, "open");
    }
    int rc = walk_fd(v, w);
    if (fdp && rc == 0) {
        *fdp = w->fd;
    } else {
        cl_io_close(w->fd);
    }
    return rc;
}

/* ---- indexes ---------------------------------------------------------- */

/* Read a whole file: 1 with *bufp (cl_io_free it), 0 (reported), or a
 * fatal error. */
static int slurp(struct vctx *v, int dirfd, const char *name,
                 const char *rel, uint8_t **bufp, size_t *lenp)
{
    struct stat st;
    *bufp = NULL;
    int fd = cl_io_openat("verify.open", dirfd, name, RD_FLAGS, 0);
    if (fd < 0) {
        return sys_fail(v, fd, rel, "open");
    }
    int rc = cl_io_fstat("verify.stat", fd, &st);
    if (rc == 0 && (*bufp = cl_io_malloc((size_t)st.st_size)) == NULL) {
        cl_io_close(fd);
        return oom(v, rel);
    }
    ssize_t got = rc ? rc : cl_io_pread_all("verify.read", fd, *bufp,
                                            (size_t)st.st_size, 0);
    cl_io_close(fd);
    if (got < 0) {
        cl_io_free(*bufp);
        *bufp = NULL;
        return sys_fail(v, (int)got, rel, "read");
    }
    *lenp = (size_t)got;
    return 1;
}

/* Load the .index (t = 0) or .timeindex (t = 1) into s->e[t], keeping the
 * entries that continue the ascending sequence and reporting the others. */
static int load_index(struct vctx *v, int dirfd, const char *name,
                      struct vscan *s, int t)
{
    const size_t esz = t ? CL_TIMEINDEX_ENTRY_SIZE : CL_INDEX_ENTRY_SIZE;
    uint8_t *buf;
    size_t len;
    int rc = slurp(v, dirfd, name, s->rel[t], &buf, &len);
    if (rc <= 0) {
        return rc;
    }
    if (len % esz) {
        report(v, s->rel[t], "size %zu is not a multiple of %zu (torn entry)",
               len, esz);
    }
    s->e[t] = cl_io_malloc(len / esz * sizeof(struct ventry) + 1);
    if (s->e[t] == NULL) {
        cl_io_free(buf);
        return oom(v, s->rel[t]);
    }
    for (size_t k = 0; k < len / esz; k++) {
        const uint8_t *p = buf + k * esz;
        struct ventry e = {t ? cl_get_i64(p) : 0, cl_get_u32(p + (t ? 8 : 0)),
                           t ? 0 : cl_get_u32(p + 4), k * esz};
        const struct ventry *l = s->n[t] ? &s->e[t][s->n[t] - 1] : NULL;
        if (!t && e.pos < CL_SEG_HEADER_SIZE) {
            report(v, s->rel[t], "byte %zu: entry points at byte %" PRIu32
                   ", inside the segment header", e.at, e.pos);
        } else if (!t && l && (e.rel <= l->rel || e.pos <= l->pos)) {
            report(v, s->rel[t], "byte %zu: entry (offset +%" PRIu32
                   ", byte %" PRIu32 ") does not ascend", e.at, e.rel, e.pos);
        } else if (t && l && (e.ts < l->ts || e.rel < l->rel)) {
            report(v, s->rel[t], "byte %zu: entry (timestamp %" PRId64
                   ", offset +%" PRIu32 ") goes backwards", e.at, e.ts, e.rel);
        } else {
            s->e[t][s->n[t]++] = e;
        }
    }
    cl_io_free(buf);
    return 0;
}

/* Called for each valid batch: match the index entries up to it. */
static int scan_fn(void *opaque, const uint8_t *batch,
                   const struct cl_batch_hdr *h, uint64_t pos)
{
    struct vscan *s = opaque;
    int64_t last = h->base_offset + h->last_offset_delta;
    (void)batch;
    for (; s->i[0] < s->n[0] && s->e[0][s->i[0]].pos <= pos; s->i[0]++) {
        const struct ventry *e = &s->e[0][s->i[0]];
        if (e->pos < pos) {
            report(s->v, s->rel[0], "byte %zu: entry points at byte %" PRIu32
                   ", not a batch start", e->at, e->pos);
        } else if (s->base + e->rel != h->base_offset) {
            report(s->v, s->rel[0], "byte %zu: entry says offset %" PRId64
                   " at byte %" PRIu32 ", the batch there starts at %" PRId64,
                   e->at, s->base + e->rel, e->pos, h->base_offset);
        }
    }
    s->max_ts = h->max_timestamp > s->max_ts ? h->max_timestamp : s->max_ts;
    for (; s->i[1] < s->n[1] && s->base + s->e[1][s->i[1]].rel <= last;
         s->i[1]++) {
        const struct ventry *e = &s->e[1][s->i[1]];
        if (s->ts_exact && e->ts != s->max_ts) {
            report(s->v, s->rel[1], "byte %zu: entry says timestamp %" PRId64
                   " up to offset %" PRId64 ", the largest there is %" PRId64,
                   e->at, e->ts, s->base + e->rel, s->max_ts);
        }
    }
    return 0;
}

/* ---- segments --------------------------------------------------------- */

/* Scan every batch of the open .log from byte 64, resuming after damaged
 * regions.  *endp: offset after the last batch, -1 if unknown. */
static int scan_log(struct vctx *v, struct cl_segment *seg, const char *prel,
                    const char *lrel, struct vscan *s, int64_t *endp)
{
    struct cl_scan res;
    struct cl_err err = {{0}};
    uint64_t pos = CL_SEG_HEADER_SIZE;
    int64_t expect = seg->base;
    for (;;) {
        memset(&res, 0, sizeof(res));
        res.max_ts = -1;
        int rc = cl_segment_scan(seg, prel, pos, expect, 1, scan_fn, s, &res,
                                 &err);
        if (rc != 0) {
            return lib_fail(v, rc, &err);
        }
        if (!res.bad) {
            break;
        }
        s->ts_exact = 0;
        if (!res.valid_after) {
            report(v, lrel, "byte %" PRIu64 ": %s", res.end, res.why);
            break;
        }
        report(v, lrel, "byte %" PRIu64 ": %s (valid data follows at byte %"
               PRIu64 ")", res.end, res.why, res.valid_after_pos);
        pos = res.valid_after_pos;
        expect = -1;
    }
    *endp = res.bad ? -1 : res.next_offset;
    const char *valid = s->ts_exact ? "" : "valid ";
    if (s->i[0] < s->n[0]) {
        report(v, s->rel[0], "byte %zu: %zu entries from here point at or "
               "past byte %" PRIu32 ", after the last %sbatch", s->e[0][s->i[0]].at,
               s->n[0] - s->i[0], s->e[0][s->i[0]].pos, valid);
    }
    if (s->i[1] < s->n[1]) {
        report(v, s->rel[1], "byte %zu: %zu entries from here name offset %"
               PRId64 " or later, after the last %sbatch", s->e[1][s->i[1]].at,
               s->n[1] - s->i[1], s->base + s->e[1][s->i[1]].rel, valid);
    }
    return 0;
}

/* Open the .log, check its header and scan it. */
static int check_log(struct vctx *v, int pdirfd, const char *prel,
                     const char *lrel, struct vscan *s, int64_t *endp)
{
    char name[64], why[160];
    uint8_t hdr[CL_SEG_HEADER_SIZE];
    struct cl_segment seg;
    int rc = 0;
    cl_segment_init(&seg);
    seg.base = s->base;
    cl_names_segment(name, sizeof(name), s->base, CL_NAMES_LOG);
    seg.fd = cl_io_openat("verify.open", pdirfd, name, RD_FLAGS, 0);
    if (seg.fd < 0) {
        return sys_fail(v, seg.fd, lrel, "open");
    }
    ssize_t got = cl_io_pread_all("verify.read", seg.fd, hdr, sizeof(hdr), 0);
    if (got < 0) {
        rc = sys_fail(v, (int)got, lrel, "read");
    } else if ((size_t)got < sizeof(hdr)) {
        report(v, lrel, "byte 0: shorter than the %d-byte segment header",
               CL_SEG_HEADER_SIZE);
    } else {
        if (cl_segment_header_check(hdr, s->base, NULL, why, sizeof(why))) {
            report(v, lrel, "byte 0: %s", why);
        }
        rc = scan_log(v, &seg, prel, lrel, s, endp);
    }
    cl_io_close(seg.fd);
    return rc;
}

/* Check one segment whose .log is usable; *endp as for scan_log. */
static int verify_segment(struct vctx *v, int pdirfd, const char *prel,
                          const struct segfiles *sf, const char *lrel,
                          int64_t *endp)
{
    static const char *const sfx[2] = {CL_NAMES_INDEX, CL_NAMES_TIMEINDEX};
    static const unsigned bit[2] = {HAVE_IDX, HAVE_TIDX};
    char name[2][64], rel[2][REL_SIZE];
    struct vscan s = {v, {rel[0], rel[1]}, sf->base, {NULL, NULL},
                      {0, 0}, {0, 0}, -1, 1};
    int rc = 0;
    *endp = -1;
    for (int t = 0; t < 2 && rc == 0; t++) {
        cl_names_segment(name[t], sizeof(name[t]), sf->base, sfx[t]);
        join(rel[t], prel, name[t]);
        if (sf->have & bit[t]) {
            rc = load_index(v, pdirfd, name[t], &s, t);
        } else if (!(sf->bad & bit[t])) {
            report(v, rel[t], "missing");
        }
    }
    if (rc == 0) {
        rc = check_log(v, pdirfd, prel, lrel, &s, endp);
    }
    cl_io_free(s.e[0]);
    cl_io_free(s.e[1]);
    return rc;
}

/* ---- partitions ------------------------------------------------------- */

/* Check log-start-offset against the segments (log_end -1: unknown). */
static int verify_log_start(struct vctx *v, int pdirfd, const char *prel,
                            const struct part_ctx *pc, int64_t log_end)
{
    char rel[REL_SIZE], *body = NULL;
    struct cl_err err = {{0}};
    int64_t ck = -1;
    join(rel, prel, CL_LOGSTART_NAME);
    int rc = cl_metafile_read(pdirfd, CL_LOGSTART_NAME, rel, CL_LOGSTART_KIND,
                              &body, &err);
    if (rc != 0) {
        return lib_fail(v, rc, &err);
    }
    rc = cl_metafile_get_int(body, "log.start.offset", &ck);
    cl_io_free(body);
    if (rc != 0 || ck < 0) {
        report(v, rel, "missing or bad log.start.offset");
        return 0;
    }
    if (pc->n > 0 && (ck < pc->segs[0].base || (log_end >= 0 && ck > log_end))) {
        report(v, rel, "log.start.offset %" PRId64 " is outside [%" PRId64
               ", %" PRId64 "]", ck, pc->segs[0].base, log_end);
    }
    for (size_t k = 0; k + 1 < pc->n && pc->segs[k + 1].base <= ck; k++) {
        char name[64], lrel[REL_SIZE];
        cl_names_segment(name, sizeof(name), pc->segs[k].base, CL_NAMES_LOG);
        join(lrel, prel, name);
        report(v, lrel, "leftover: wholly below log.start.offset %" PRId64, ck);
    }
    return 0;
}

/* Record a segment file (names sort by base, so groups are adjacent). */
static int add_segfile(struct vctx *v, struct part_ctx *pc, int64_t base,
                       unsigned bit, int usable, const char *rel)
{
    if (pc->n == 0 || pc->segs[pc->n - 1].base != base) {
        void *p = cl_io_realloc(pc->segs, (pc->n + 1) * sizeof(*pc->segs));
        if (p == NULL) {
            return oom(v, rel);
        }
        pc->segs = p;
        pc->segs[pc->n++] = (struct segfiles){base, 0, 0};
    }
    if (usable) {
        pc->segs[pc->n - 1].have |= bit;
    } else {
        pc->segs[pc->n - 1].bad |= bit;
    }
    return 0;
}

static int partition_entry(struct vctx *v, struct walk *w, const char *name,
                           const char *rel)
{
    struct part_ctx *pc = w->ctx;
    int64_t base;
    const char *sfx;
    pc->entries++;
    if (cl_names_parse_segment(name, &base, &sfx) == 0) {
        int ok = check_entry(v, w->fd, name, rel, S_IFREG);
        unsigned bit = !strcmp(sfx, CL_NAMES_LOG)     ? HAVE_LOG
                       : !strcmp(sfx, CL_NAMES_INDEX) ? HAVE_IDX
                                                      : HAVE_TIDX;
        return ok < 0 ? ok : add_segfile(v, pc, base, bit, ok, rel);
    }
    if (!strcmp(name, CL_PSTATE_NAME) || !strcmp(name, CL_LOGSTART_NAME)) {
        int ok = check_entry(v, w->fd, name, rel, S_IFREG);
        pc->has_ck |= ok > 0 && !strcmp(name, CL_LOGSTART_NAME);
        return ok < 0 ? ok : 0;
    }
    return unexpected(v, name, rel);
}

/* Check the segments of a listed partition, in base order. */
static int verify_segments(struct vctx *v, int pdirfd, const char *prel,
                           struct part_ctx *pc, int64_t *endp)
{
    char name[64], lrel[REL_SIZE];
    int64_t expect = -1;
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < pc->n; k++) {
        const struct segfiles *sf = &pc->segs[k];
        cl_names_segment(name, sizeof(name), sf->base, CL_NAMES_LOG);
        join(lrel, prel, name);
        if (!(sf->have & HAVE_LOG)) {
            if (!(sf->bad & HAVE_LOG)) {
                report(v, lrel, "missing, but its index files exist");
            }
            expect = *endp = -1;
            continue;
        }
        if (expect >= 0 && sf->base != expect) {
            report(v, lrel, "base offset %" PRId64 ", but the previous "
                   "segment ends at offset %" PRId64 " (%s)", sf->base,
                   expect, sf->base > expect ? "gap" : "overlap");
        }
        rc = verify_segment(v, pdirfd, prel, sf, lrel, endp);
        expect = *endp;
    }
    return rc;
}

static int verify_partition(struct vctx *v, int tdirfd, const char *name,
                            const char *prel)
{
    struct part_ctx pc = {NULL, 0, 0, 0};
    struct walk w = {-1, prel, partition_entry, &pc};
    int pdirfd = -1;
    int64_t end = -1;
    int rc = walk_dir(v, tdirfd, name, &w, &pdirfd);
    if (rc == 0 && pdirfd >= 0) {
        rc = verify_segments(v, pdirfd, prel, &pc, &end);
        if (rc == 0 && pc.entries > 0 && pc.n == 0) {
            report(v, prel, "no segment");
        }
        if (rc == 0 && pc.has_ck) {
            rc = verify_log_start(v, pdirfd, prel, &pc, end);
        }
        cl_io_close(pdirfd);
    }
    cl_io_free(pc.segs);
    return rc;
}

/* ---- topics and the root ---------------------------------------------- */

static int topic_entry(struct vctx *v, struct walk *w, const char *name,
                       const char *rel)
{
    struct topic_ctx *tc = w->ctx;
    int32_t p;
    int rc;
    if (!strcmp(name, CL_TOPIC_META_NAME)) {
        rc = check_entry(v, w->fd, name, rel, S_IFREG);
        return rc > 0 ? 0 : rc;
    }
    if (cl_names_parse_partition(name, &p) != 0) {
        return unexpected(v, name, rel);
    }
    if (tc->np >= 0 && p >= tc->np) {
        report(v, rel, "partition beyond the partition count %" PRId32,
               tc->np);
        return 0;
    }
    if (tc->np >= 0) {
        tc->seen[p] = 1;
    }
    rc = check_entry(v, w->fd, name, rel, S_IFDIR);
    return rc > 0 ? verify_partition(v, w->fd, name, rel) : rc;
}

static int verify_topic(struct vctx *v, int rootfd, int topicsfd,
                        const char *topic, const char *trel)
{
    struct cl_topic_meta meta;
    struct cl_err err = {{0}};
    struct topic_ctx tc = {-1, NULL};
    struct walk w = {-1, trel, topic_entry, &tc};
    char rel[REL_SIZE];
    int rc = cl_topic_meta_read(rootfd, topic, &meta, &err);
    if (rc == 0) {
        tc.np = meta.partitions;
        cl_topic_meta_free(&meta);
    } else if ((rc = lib_fail(v, rc, &err)) != 0) {
        return rc;
    }
    tc.seen = cl_io_calloc(tc.np > 0 ? (size_t)tc.np : 1, 1);
    if (tc.seen == NULL) {
        return oom(v, trel);
    }
    rc = walk_dir(v, topicsfd, topic, &w, NULL);
    for (int32_t p = 0; rc == 0 && w.fd >= 0 && p < tc.np; p++) {
        if (!tc.seen[p]) {
            snprintf(rel, sizeof(rel), "%s/%" PRId32, trel, p);
            report(v, rel, "missing partition directory");
        }
    }
    cl_io_free(tc.seen);
    return rc;
}

static int topics_entry(struct vctx *v, struct walk *w, const char *name,
                        const char *rel)
{
    if (strstr(name, ".tmp.")) {
        return unexpected(v, name, rel);
    }
    int rc = check_entry(v, w->fd, name, rel, S_IFDIR);
    if (rc > 0 && !cl_names_topic_valid(name)) {
        report(v, rel, "invalid topic name");
        return 0;
    }
    return rc > 0 ? verify_topic(v, *(int *)w->ctx, w->fd, name, rel) : rc;
}

/* Every entry of staging/ or trash/ is a leftover. */
static int leftover_entry(struct vctx *v, struct walk *w, const char *name,
                          const char *rel)
{
    (void)name;
    report(v, rel, "leftover of an interrupted topic %s",
           w->rel[0] == 's' ? "create" : "delete");
    return 0;
}

static int root_entry(struct vctx *v, struct walk *w, const char *name,
                      const char *rel)
{
    struct walk sub = {-1, rel, NULL, w->ctx};
    int rc;
    if (!strcmp(name, "crawllog.meta") || !strcmp(name, "crawllog.lock")) {
        rc = check_entry(v, w->fd, name, rel, S_IFREG);
    } else if (!strcmp(name, "topics") || !strcmp(name, "staging") ||
               !strcmp(name, "trash")) {
        sub.fn = name[0] == 't' && name[1] == 'o' ? topics_entry
                                                  : leftover_entry;
        rc = check_entry(v, w->fd, name, rel, S_IFDIR);
        rc = rc > 0 ? walk_dir(v, w->fd, name, &sub, NULL) : rc;
    } else {
        rc = unexpected(v, name, rel);
    }
    return rc > 0 ? 0 : rc;
}

static int verify_root(struct vctx *v, int rootfd)
{
    struct stat st;
    struct cl_err err = {{0}};
    struct walk w = {rootfd, NULL, root_entry, &rootfd};
    char *body = NULL;
    int rc = cl_io_fstat("verify.stat", rootfd, &st);
    if (rc < 0) {
        return sys_fail(v, rc, ".", "stat");
    }
    if (st.st_mode & S_IWOTH) {
        report(v, ".", "world-writable (mode %04o)",
               (unsigned)(st.st_mode & 07777));
    }
    rc = cl_metafile_read(rootfd, "crawllog.meta", "crawllog.meta",
                          "crawllog", &body, &err);
    cl_io_free(body);
    if (rc == CRAWLLOG_ENOENT) {
        report(v, "crawllog.meta", "missing");
    } else if (rc != 0 && (rc = lib_fail(v, rc, &err)) != 0) {
        return rc;
    }
    return walk_fd(v, &w);
}

int crawllog_verify(const char *dir, crawllog_verify_cb *cb, void *opaque,
                    size_t *problemsp, char *errstr, size_t errstr_size)
{
    struct vctx v = {cb, opaque, 0, "", {{0}}};
    int rc = 0;
    if (problemsp) {
        *problemsp = 0;
    }
    cl_err_copy(errstr, errstr_size, "");
    if (dir == NULL || dir[0] == '\0') {
        cl_err_copy(errstr, errstr_size, "crawllog_verify: dir needed");
        return CRAWLLOG_EINVAL;
    }
    int fd = cl_io_open("verify.open", dir, DIR_FLAGS, 0);
    if (fd == -ENOTDIR) {
        report(&v, ".", "not a directory");
    } else if (fd < 0) {
        cl_err_sys(&v.fatal, -fd, dir, "open");
        rc = fd == -ENOENT ? CRAWLLOG_ENOENT
             : fd == -ENOMEM ? CRAWLLOG_ENOMEM : CRAWLLOG_EIO;
    } else {
        rc = verify_root(&v, fd);
        cl_io_close(fd);
    }
    if (problemsp) {
        *problemsp = v.problems;
    }
    if (rc == 0 && v.problems > 0) {
        snprintf(v.fatal.msg, sizeof(v.fatal.msg), "%zu problem%s, the "
                 "first: %.400s", v.problems, v.problems == 1 ? "" : "s",
                 v.first);
        rc = CRAWLLOG_ECORRUPT;
    }
    cl_err_copy(errstr, errstr_size, v.fatal.msg);
    return rc;
}
