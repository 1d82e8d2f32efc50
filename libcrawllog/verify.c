/*
 * verify.c - crawllog_verify(): a read-only check of a whole data directory
 * (layer 4: walks what log.c, topic.c, partition.c, segment.c and index.c
 * write; see those files for the layouts).
 *
 * Owns on disk: nothing.  It never creates, truncates, renames, locks or
 * writes anything: every file and directory is opened O_RDONLY (O_NOFOLLOW
 * below the root, through cl_io_openat) and only read.
 *
 * What it checks, reporting one problem per finding as
 * "<path relative to dir>: [byte N: ]<what>":
 *  - root: a directory, not world-writable; crawllog.meta valid; only the
 *    expected entries; no metafile temporaries ("*.tmp.*") anywhere; staging/
 *    and trash/ empty.
 *  - topics/: real directories (no symlinks) with valid names, a valid
 *    topic.meta, partition directories 0..N-1 present and nothing else.
 *  - partitions: only segment files, partition.state and log-start-offset,
 *    all regular files and not world-writable; log-start-offset valid and
 *    within [first segment base, log end]; no segment wholly below it; at
 *    least one segment unless the directory is empty (a partition that was
 *    never opened).
 *  - segments: header valid and matching the name; every batch from byte 64
 *    to EOF fully validated (a torn tail is a problem); offsets contiguous
 *    within and across segments; .index/.timeindex present, whole entries,
 *    ascending, every offset entry at a batch start with the right base
 *    offset, every time entry equal to the running largest timestamp up to
 *    the batch holding its offset.  Index entries are merged with the batch
 *    scan, so memory is bounded by the index files, not the .log.
 *
 * Invariants: a failure to run (out of memory or file descriptors, root not
 * openable) stops the walk and is returned; anything wrong with a file
 * below the root (including I/O errors reading it) is a problem and the
 * walk goes on.
 *
 * Locks: none; the callback runs with nothing held.  Results are only
 * stable on a quiet directory.
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
    char first[MSG_SIZE];   /* the first problem, for errstr */
    struct cl_err fatal;    /* why the walk stopped */
};

/* One segment's files in a partition directory. */
struct segfiles {
    int64_t base;
    unsigned have; /* HAVE_* of usable regular files */
    unsigned bad;  /* HAVE_* present but unusable (already reported) */
};

/* One accepted index or time-index entry. */
struct ventry {
    int64_t ts;   /* time index only */
    uint32_t rel; /* offset - segment base */
    uint32_t pos; /* offset index only: byte position in the .log */
    size_t at;    /* byte position of the entry in its file */
};

/* State of one segment scan: index entries merged with the batches. */
struct vscan {
    struct vctx *v;
    const char *irel, *trel;
    int64_t base;
    struct ventry *ent;
    size_t n, i;
    struct ventry *tent;
    size_t tn, ti;
    int64_t max_ts;
    int ts_exact; /* 0 once a damaged region was skipped */
};

static void report(struct vctx *v, const char *rel, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void report(struct vctx *v, const char *rel, const char *fmt, ...)
{
    char msg[MSG_SIZE];
    va_list ap;
    int n = rel ? snprintf(msg, sizeof(msg), "%s: ", rel) : 0;
    if (n < 0 || (size_t)n >= sizeof(msg)) {
        n = 0;
    }
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

/* A library call failed with rc and message err: out of memory or file
 * descriptors stops the walk, anything else is a problem. */
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
    cl_errf(&v->fatal, CRAWLLOG_ENOMEM, "%s: out of memory", rel);
    return CRAWLLOG_ENOMEM;
}

static void join(char *out, const char *dir, const char *name)
{
    snprintf(out, REL_SIZE, "%s/%s", dir, name);
}

static int is_tmp(const char *name)
{
    return strstr(name, ".tmp.") != NULL;
}

/* Stat dirfd/name without following a symlink.  Returns 1 if it is of type
 * want (S_IFDIR / S_IFREG), 0 if not (a problem was reported), or a fatal
 * error.  A world-writable entry is reported but still usable. */
static int check_entry(struct vctx *v, int dirfd, const char *name,
                       const char *rel, mode_t want)
{
    struct stat st;
    int rc = cl_io_fstatat("verify.stat", dirfd, name, &st);
    if (rc == -ENOENT) {
        report(v, rel, "missing");
        return 0;
    }
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

/* Open and list a directory entry.  Returns 1 with *fdp and the names, 0
 * (problem reported) or a fatal error. */
static int open_list(struct vctx *v, int dirfd, const char *name,
                     const char *rel, int *fdp, char ***namesp, size_t *np)
{
    *namesp = NULL;
    *np = 0;
    *fdp = cl_io_openat("verify.open", dirfd, name, DIR_FLAGS, 0);
    if (*fdp < 0) {
        int rc = sys_fail(v, *fdp, rel, "open");
        *fdp = -1;
        return rc;
    }
    int rc = cl_io_listdir("verify.list", *fdp, namesp, np);
    if (rc < 0) {
        cl_io_close(*fdp);
        *fdp = -1;
        return sys_fail(v, rc, rel, "list");
    }
    return 1;
}

/* ---- indexes ---------------------------------------------------------- */

/* Read a whole index file.  Returns 1 with *bufp (cl_io_free it) and
 * *lenp, 0 (problem reported) or a fatal error. */
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

/* Decode the .index into s->ent, keeping entries that strictly ascend. */
static int load_index(struct vctx *v, int dirfd, const char *name,
                      struct vscan *s)
{
    uint8_t *buf;
    size_t len;
    int rc = slurp(v, dirfd, name, s->irel, &buf, &len);
    if (rc <= 0) {
        return rc;
    }
    if (len % CL_INDEX_ENTRY_SIZE) {
        report(v, s->irel, "size %zu is not a multiple of %d (torn entry)",
               len, CL_INDEX_ENTRY_SIZE);
    }
    s->ent = cl_io_malloc(len / CL_INDEX_ENTRY_SIZE * sizeof(*s->ent) + 1);
    if (s->ent == NULL) {
        cl_io_free(buf);
        return oom(v, s->irel);
    }
    for (size_t k = 0; k < len / CL_INDEX_ENTRY_SIZE; k++) {
        const uint8_t *p = buf + k * CL_INDEX_ENTRY_SIZE;
        struct ventry e = {0, cl_get_u32(p), cl_get_u32(p + 4), k * 8};
        const struct ventry *l = s->n ? &s->ent[s->n - 1] : NULL;
        if (e.pos < CL_SEG_HEADER_SIZE) {
            report(v, s->irel, "byte %zu: entry %zu points at byte %" PRIu32
                   ", inside the segment header", k * 8, k, e.pos);
        } else if (l && (e.rel <= l->rel || e.pos <= l->pos)) {
            report(v, s->irel, "byte %zu: entry %zu (offset +%" PRIu32
                   ", byte %" PRIu32 ") does not ascend", k * 8, k, e.rel,
                   e.pos);
        } else {
            s->ent[s->n++] = e;
        }
    }
    cl_io_free(buf);
    return 0;
}

/* Decode the .timeindex into s->tent, keeping non-decreasing entries. */
static int load_timeindex(struct vctx *v, int dirfd, const char *name,
                          struct vscan *s)
{
    uint8_t *buf;
    size_t len;
    const size_t esz = CL_TIMEINDEX_ENTRY_SIZE;
    int rc = slurp(v, dirfd, name, s->trel, &buf, &len);
    if (rc <= 0) {
        return rc;
    }
    if (len % esz) {
        report(v, s->trel, "size %zu is not a multiple of %zu (torn entry)",
               len, esz);
    }
    s->tent = cl_io_malloc(len / esz * sizeof(*s->tent) + 1);
    if (s->tent == NULL) {
        cl_io_free(buf);
        return oom(v, s->trel);
    }
    for (size_t k = 0; k < len / esz; k++) {
        const uint8_t *p = buf + k * esz;
        struct ventry e = {cl_get_i64(p), cl_get_u32(p + 8), 0, k * esz};
        const struct ventry *l = s->tn ? &s->tent[s->tn - 1] : NULL;
        if (l && (e.ts < l->ts || e.rel < l->rel)) {
            report(v, s->trel, "byte %zu: entry %zu (timestamp %" PRId64
                   ", offset +%" PRIu32 ") goes backwards", k * esz, k,
                   e.ts, e.rel);
        } else {
            s->tent[s->tn++] = e;
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
    for (; s->i < s->n && s->ent[s->i].pos <= pos; s->i++) {
        const struct ventry *e = &s->ent[s->i];
        if (e->pos < pos) {
            report(s->v, s->irel, "byte %zu: entry points at byte %" PRIu32
                   ", not a batch start", e->at, e->pos);
        } else if (s->base + e->rel != h->base_offset) {
            report(s->v, s->irel, "byte %zu: entry says offset %" PRId64
                   " at byte %" PRIu32 ", the batch there starts at %" PRId64,
                   e->at, s->base + e->rel, e->pos, h->base_offset);
        }
    }
    if (h->max_timestamp > s->max_ts) {
        s->max_ts = h->max_timestamp;
    }
    for (; s->ti < s->tn && s->base + s->tent[s->ti].rel <= last; s->ti++) {
        const struct ventry *t = &s->tent[s->ti];
        if (s->ts_exact && t->ts != s->max_ts) {
            report(s->v, s->trel, "byte %zu: entry says timestamp %" PRId64
                   " up to offset %" PRId64 ", the largest there is %" PRId64,
                   t->at, t->ts, s->base + t->rel, s->max_ts);
        }
    }
    return 0;
}

/* Index entries no batch matched. */
static void report_leftover_entries(struct vscan *s, int damaged,
                                    uint64_t end, int64_t next)
{
    if (s->i < s->n) {
        report(s->v, s->irel, "byte %zu: %zu entr%s at or past byte %" PRIu32
               ", beyond the last %sbatch (ends at byte %" PRIu64 ")",
               s->ent[s->i].at, s->n - s->i, s->n - s->i == 1 ? "y" : "ies",
               s->ent[s->i].pos, damaged ? "valid " : "", end);
    }
    if (s->ti < s->tn) {
        report(s->v, s->trel, "byte %zu: %zu entr%s for offset %" PRId64
               " or later, beyond the last %sbatch (next offset %" PRId64 ")",
               s->tent[s->ti].at, s->tn - s->ti, s->tn - s->ti == 1 ? "y" : "ies",
               s->base + s->tent[s->ti].rel, damaged ? "valid " : "", next);
    }
}

/* ---- segments --------------------------------------------------------- */

/* Scan every batch of an open .log from byte 64, resuming after damaged
 * regions.  *endp: offset after the last batch, -1 if unknown. */
static int scan_log(struct vctx *v, struct cl_segment *seg, const char *prel,
                    const char *lrel, struct vscan *s, int64_t *endp)
{
    struct cl_scan res;
    struct cl_err err = {{0}};
    uint64_t pos = CL_SEG_HEADER_SIZE;
    int64_t expect = seg->base;
    int damaged = 0;
    for (;;) {
        memset(&res, 0, sizeof(res));
        res.max_ts = -1;
        int rc = cl_segment_scan(seg, prel, pos, expect, 1, scan_fn, s, &res,
                                 &err);
        if (rc != 0) {
            *endp = -1;
            return lib_fail(v, rc, &err);
        }
        if (!res.bad) {
            break;
        }
        damaged = 1;
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
    report_leftover_entries(s, damaged, res.end, res.next_offset);
    return 0;
}

/* Check one segment (.log present); *endp as for scan_log. */
static int verify_segment(struct vctx *v, int pdirfd, const char *prel,
                          const struct segfiles *sf, int64_t *endp)
{
    char name[64], lrel[REL_SIZE], irel[REL_SIZE], trel[REL_SIZE], why[160];
    uint8_t hdr[CL_SEG_HEADER_SIZE];
    struct cl_segment seg;
    struct vscan s = {v, irel, trel, sf->base, NULL, 0, 0, NULL, 0, 0, -1, 1};
    int rc = 0;
    *endp = -1;
    cl_names_segment(name, sizeof(name), sf->base, CL_NAMES_LOG);
    join(lrel, prel, name);
    cl_names_segment(name, sizeof(name), sf->base, CL_NAMES_INDEX);
    join(irel, prel, name);
    if (sf->have & HAVE_IDX) {
        rc = load_index(v, pdirfd, name, &s);
    } else if (!(sf->bad & HAVE_IDX)) {
        report(v, irel, "missing");
    }
    cl_names_segment(name, sizeof(name), sf->base, CL_NAMES_TIMEINDEX);
    join(trel, prel, name);
    if (rc == 0 && (sf->have & HAVE_TIDX)) {
        rc = load_timeindex(v, pdirfd, name, &s);
    } else if (rc == 0 && !(sf->bad & HAVE_TIDX)) {
        report(v, trel, "missing");
    }
    cl_segment_init(&seg);
    seg.base = sf->base;
    cl_names_segment(name, sizeof(name), sf->base, CL_NAMES_LOG);
    seg.fd = rc ? -1 : cl_io_openat("verify.open", pdirfd, name, RD_FLAGS, 0);
    if (rc == 0 && seg.fd < 0) {
        rc = sys_fail(v, seg.fd, lrel, "open");
    } else if (rc == 0) {
        ssize_t got = cl_io_pread_all("verify.read", seg.fd, hdr,
                                      sizeof(hdr), 0);
        if (got < 0) {
            rc = sys_fail(v, (int)got, lrel, "read");
        } else if ((size_t)got < sizeof(hdr)) {
            report(v, lrel, "byte 0: shorter than the %d-byte segment header",
                   CL_SEG_HEADER_SIZE);
        } else {
            if (cl_segment_header_check(hdr, sf->base, NULL, why,
                                        sizeof(why)) != 0) {
                report(v, lrel, "byte 0: %s", why);
            }
            rc = scan_log(v, &seg, prel, lrel, &s, endp);
        }
    }
    if (seg.fd >= 0) {
        cl_io_close(seg.fd);
    }
    cl_io_free(s.ent);
    cl_io_free(s.tent);
    return rc;
}

/* ---- partitions ------------------------------------------------------- */

/* Check log-start-offset against the segments. */
static int verify_log_start(struct vctx *v, int pdirfd, const char *prel,
                            const struct segfiles *segs, size_t n,
                            int64_t log_end)
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
    if (n > 0 && (ck < segs[0].base || (log_end >= 0 && ck > log_end))) {
        report(v, rel, "log.start.offset %" PRId64 " is outside [%" PRId64
               ", %" PRId64 "]", ck, segs[0].base, log_end);
    }
    for (size_t k = 0; k + 1 < n && segs[k + 1].base <= ck; k++) {
        char name[64], lrel[REL_SIZE];
        cl_names_segment(name, sizeof(name), segs[k].base, CL_NAMES_LOG);
        join(lrel, prel, name);
        report(v, lrel, "leftover: wholly below log.start.offset %" PRId64,
               ck);
    }
    return 0;
}

/* Record a segment file in the ascending list (names sort by base). */
static int add_segfile(struct segfiles **segs, size_t *n, int64_t base,
                       unsigned bit, int usable)
{
    if (*n == 0 || (*segs)[*n - 1].base != base) {
        void *p = cl_io_realloc(*segs, (*n + 1) * sizeof(**segs));
        if (p == NULL) {
            return CRAWLLOG_ENOMEM;
        }
        *segs = p;
        (*segs)[(*n)++] = (struct segfiles){base, 0, 0};
    }
    if (usable) {
        (*segs)[*n - 1].have |= bit;
    } else {
        (*segs)[*n - 1].bad |= bit;
    }
    return 0;
}

/* Classify one partition entry.  *has_ckp is set for log-start-offset. */
static int partition_entry(struct vctx *v, int pdirfd, const char *prel,
                           const char *name, struct segfiles **segs,
                           size_t *n, int *has_ckp)
{
    char rel[REL_SIZE];
    int64_t base;
    const char *sfx;
    join(rel, prel, name);
    if (cl_names_parse_segment(name, &base, &sfx) == 0) {
        int ok = check_entry(v, pdirfd, name, rel, S_IFREG);
        unsigned bit = !strcmp(sfx, CL_NAMES_LOG)     ? HAVE_LOG
                       : !strcmp(sfx, CL_NAMES_INDEX) ? HAVE_IDX
                                                      : HAVE_TIDX;
        if (ok < 0) {
            return ok;
        }
        return add_segfile(segs, n, base, bit, ok) ? oom(v, rel) : 0;
    }
    if (!strcmp(name, CL_PSTATE_NAME) || !strcmp(name, CL_LOGSTART_NAME)) {
        int ok = check_entry(v, pdirfd, name, rel, S_IFREG);
        if (ok > 0 && !strcmp(name, CL_LOGSTART_NAME)) {
            *has_ckp = 1;
        }
        return ok < 0 ? ok : 0;
    }
    report(v, rel, is_tmp(name) ? "leftover temporary file"
                                : "unexpected entry");
    return 0;
}

/* Check one partition directory (already known to be a directory). */
static int verify_partition(struct vctx *v, int tdirfd, const char *name,
                            const char *prel)
{
    int pdirfd, has_ck = 0, rc;
    char **names, lrel[REL_SIZE], sname[64];
    size_t count, n = 0, nlog = 0;
    struct segfiles *segs = NULL;
    int64_t end = -1, expect = -1;
    if ((rc = open_list(v, tdirfd, name, prel, &pdirfd, &names, &count)) <=
        0) {
        return rc;
    }
    rc = 0;
    for (size_t k = 0; rc == 0 && k < count; k++) {
        rc = partition_entry(v, pdirfd, prel, names[k], &segs, &n, &has_ck);
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        cl_names_segment(sname, sizeof(sname), segs[k].base, CL_NAMES_LOG);
        join(lrel, prel, sname);
        if (!(segs[k].have & HAVE_LOG)) {
            if (!(segs[k].bad & HAVE_LOG)) {
                report(v, lrel, "missing (its index files exist)");
            }
            expect = end = -1;
            continue;
        }
        nlog++;
        if (expect >= 0 && segs[k].base != expect) {
            report(v, lrel, "base offset %" PRId64 ", but the previous "
                   "segment ends at offset %" PRId64 " (%s)", segs[k].base,
                   expect, segs[k].base > expect ? "gap" : "overlap");
        }
        rc = verify_segment(v, pdirfd, prel, &segs[k], &end);
        expect = end;
    }
    if (rc == 0 && count > 0 && nlog == 0 && n == 0) {
        report(v, prel, "no segment");
    }
    if (rc == 0 && has_ck) {
        rc = verify_log_start(v, pdirfd, prel, segs, n, end);
    }
    cl_io_free(segs);
    cl_io_listdir_free(names, count);
    cl_io_close(pdirfd);
    return rc;
}

/* ---- topics and the root ---------------------------------------------- */

/* Read topic.meta: the partition count, or -1 (problem reported). */
static int topic_meta(struct vctx *v, int rootfd, const char *topic,
                      int32_t *nparts)
{
    struct cl_topic_meta meta;
    struct cl_err err = {{0}};
    int rc = cl_topic_meta_read(rootfd, topic, &meta, &err);
    *nparts = rc == 0 ? meta.partitions : -1;
    cl_topic_meta_free(&meta);
    return rc == 0 ? 0 : lib_fail(v, rc, &err);
}

/* A partition-named entry of a topic directory (np < 0: count unknown). */
static int topic_partition(struct vctx *v, int tdirfd, const char *name,
                           const char *rel, int32_t p, int32_t np,
                           uint8_t *seen)
{
    if (np >= 0 && p >= np) {
        report(v, rel, "partition beyond the partition count %" PRId32, np);
        return 0;
    }
    if (np >= 0) {
        seen[p] = 1;
    }
    int rc = check_entry(v, tdirfd, name, rel, S_IFDIR);
    return rc > 0 ? verify_partition(v, tdirfd, name, rel) : rc;
}

static int verify_topic(struct vctx *v, int rootfd, int topicsfd,
                        const char *topic, const char *trel)
{
    char **names, rel[REL_SIZE];
    size_t count;
    int32_t np, p;
    int tdirfd, rc = topic_meta(v, rootfd, topic, &np);
    if (rc != 0 || (rc = open_list(v, topicsfd, topic, trel, &tdirfd, &names,
                                   &count)) <= 0) {
        return rc;
    }
    uint8_t *seen = cl_io_calloc(np > 0 ? (size_t)np : 1, 1);
    rc = seen ? 0 : oom(v, trel);
    for (size_t k = 0; rc == 0 && k < count; k++) {
        join(rel, trel, names[k]);
        if (!strcmp(names[k], CL_TOPIC_META_NAME)) {
            rc = check_entry(v, tdirfd, names[k], rel, S_IFREG);
        } else if (cl_names_parse_partition(names[k], &p) == 0) {
            rc = topic_partition(v, tdirfd, names[k], rel, p, np, seen);
        } else {
            report(v, rel, is_tmp(names[k]) ? "leftover temporary file"
                                             : "unexpected entry");
        }
        rc = rc > 0 ? 0 : rc;
    }
    for (p = 0; rc == 0 && p < np; p++) {
        if (!seen[p]) {
            snprintf(rel, sizeof(rel), "%s/%" PRId32, trel, p);
            report(v, rel, "missing partition directory");
        }
    }
    cl_io_free(seen);
    cl_io_listdir_free(names, count);
    cl_io_close(tdirfd);
    return rc;
}

static int verify_topics(struct vctx *v, int rootfd)
{
    char **names, rel[REL_SIZE];
    size_t count;
    int topicsfd, rc = open_list(v, rootfd, "topics", "topics", &topicsfd,
                                 &names, &count);
    if (rc <= 0) {
        return rc;
    }
    rc = 0;
    for (size_t k = 0; rc == 0 && k < count; k++) {
        join(rel, "topics", names[k]);
        if (is_tmp(names[k])) {
            report(v, rel, "leftover temporary file");
            continue;
        }
        rc = check_entry(v, topicsfd, names[k], rel, S_IFDIR);
        if (rc > 0 && !cl_names_topic_valid(names[k])) {
            report(v, rel, "invalid topic name");
            rc = 0;
        }
        rc = rc > 0 ? verify_topic(v, rootfd, topicsfd, names[k], rel) : rc;
    }
    cl_io_listdir_free(names, count);
    cl_io_close(topicsfd);
    return rc;
}

/* staging/ and trash/ must be empty: every entry is a leftover. */
static int verify_leftover_dir(struct vctx *v, int rootfd, const char *name)
{
    char **names, rel[REL_SIZE];
    size_t count;
    int fd, rc = open_list(v, rootfd, name, name, &fd, &names, &count);
    if (rc <= 0) {
        return rc;
    }
    for (size_t k = 0; k < count; k++) {
        join(rel, name, names[k]);
        report(v, rel, "leftover of an interrupted topic %s",
               name[0] == 's' ? "create" : "delete");
    }
    cl_io_listdir_free(names, count);
    cl_io_close(fd);
    return 0;
}

static int root_entry(struct vctx *v, int rootfd, const char *name)
{
    int rc;
    if (!strcmp(name, "crawllog.meta") || !strcmp(name, "crawllog.lock")) {
        rc = check_entry(v, rootfd, name, name, S_IFREG);
    } else if (!strcmp(name, "topics")) {
        rc = check_entry(v, rootfd, name, name, S_IFDIR);
        rc = rc > 0 ? verify_topics(v, rootfd) : rc;
    } else if (!strcmp(name, "staging") || !strcmp(name, "trash")) {
        rc = check_entry(v, rootfd, name, name, S_IFDIR);
        rc = rc > 0 ? verify_leftover_dir(v, rootfd, name) : rc;
    } else {
        report(v, name, is_tmp(name) ? "leftover temporary file"
                                     : "unexpected entry");
        rc = 0;
    }
    return rc > 0 ? 0 : rc;
}

static int verify_root(struct vctx *v, int rootfd)
{
    struct stat st;
    struct cl_err err = {{0}};
    char *body = NULL, **names;
    size_t count;
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
    rc = cl_io_listdir("verify.list", rootfd, &names, &count);
    if (rc < 0) {
        cl_err_sys(&v->fatal, -rc, ".", "list");
        return rc == -ENOMEM ? CRAWLLOG_ENOMEM : CRAWLLOG_EIO;
    }
    for (size_t k = 0; rc == 0 && k < count; k++) {
        rc = root_entry(v, rootfd, names[k]);
    }
    cl_io_listdir_free(names, count);
    return rc;
}

int crawllog_verify(const char *dir, crawllog_verify_cb *cb, void *opaque,
                    size_t *problemsp, char *errstr, size_t errstr_size)
{
    struct vctx v = {cb, opaque, 0, "", {{0}}};
    int rc;
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
        rc = 0;
    } else if (fd < 0) {
        cl_err_sys(&v.fatal, -fd, dir, "open");
        rc = fd == -ENOENT   ? CRAWLLOG_ENOENT
             : fd == -ENOMEM ? CRAWLLOG_ENOMEM
                             : CRAWLLOG_EIO;
    } else {
        rc = verify_root(&v, fd);
        cl_io_close(fd);
    }
    if (problemsp) {
        *problemsp = v.problems;
    }
    if (rc != 0) {
        cl_err_copy(errstr, errstr_size, v.fatal.msg);
        return rc;
    }
    if (v.problems > 0) {
        char msg[CRAWLLOG_ERRSTR_SIZE];
        snprintf(msg, sizeof(msg), "%zu problem%s, the first: %s", v.problems,
                 v.problems == 1 ? "" : "s", v.first);
        cl_err_copy(errstr, errstr_size, msg);
        return CRAWLLOG_ECORRUPT;
    }
    return CRAWLLOG_OK;
}
