/*
 * verify.c - crawllog_verify(): read-only check of a whole data directory
 * (layer 4; the layouts are in log.c, topic.c, partition.c, segment.c and
 * index.c).  Owns nothing on disk: it never creates, truncates, renames,
 * locks or writes; everything is opened O_RDONLY (O_NOFOLLOW below root).
 *
 * Checks, one problem each ("<path from dir>: [byte N: ]what"): root (a
 * directory, not world-writable, valid crawllog.meta, known entries, empty
 * staging/ and trash/); "*.tmp.*" leftovers anywhere; topics (real dirs,
 * valid names and topic.meta, partitions 0..N-1, beyond them only empty
 * dirs, which add_partitions reuses; a migration file that parses, and
 * after its cut-over every old partition reaching its cut.<p>); partitions (known names, regular
 * files, none world-writable, log-start-offset in [first base, log end]
 * with no segment wholly below it, a segment unless the dir is empty:
 * never opened); segments (header matches the name; batches fully valid
 * from byte 64 to EOF, torn tail included, the scan resuming at valid data
 * after damage; offsets contiguous within and across segments; indexes
 * whole and ascending, offset entries at batch starts holding base + rel,
 * time entries equal to the largest maxTimestamp up to the batch holding
 * base + rel).  Index entries are merged with the batch scan, so memory is
 * bounded by the index files, never by the .log.
 *
 * Invariants: lack of memory or descriptors, or an unopenable root, stops
 * the walk with an error; anything else (I/O errors below the root
 * included) is a problem and the walk goes on.  Locks: none; the callback
 * runs with nothing held.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "bytes.h"
#include "io.h"
#include "metafile.h"
#include "migrate.h"
#include "names.h"
#include "group.h"
#include "notify.h"
#include "offsets.h"
#include "partition.h"
#include "prodid.h"
#include "txn_file.h"
#include "segment.h"
#include "topic.h"

#define REL_SIZE 512
#define MSG_SIZE 1024
#define RD_FLAGS (O_RDONLY | O_NONBLOCK)
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NONBLOCK)
#define HAVE_LOG 1u /* segfiles bits; HAVE_IDX << t for index file t */
#define HAVE_IDX 2u

struct vctx {
    crawllog_verify_cb *cb;
    void *opaque;
    size_t problems;
    crawllog_verify_progress_cb *progress; /* NULL: none */
    uint64_t segments, log_bytes;          /* checked so far */
    char first[MSG_SIZE]; /* the first problem, for errstr */
    struct cl_err fatal;  /* why the walk stopped */
};

/* A directory being walked: fn(v, w, name, rel) for each entry. */
struct walk {
    int fd;
    const char *rel; /* path from the root; NULL for the root itself */
    int (*fn)(struct vctx *, struct walk *, const char *, const char *);
    void *ctx;
};

struct segfiles {
    int64_t base;
    unsigned have, bad; /* HAVE_* bits: usable / present but unusable */
};

/* What the walk of a partition (segs..has_ck) or a topic (np, seen)
 * directory collects. */
struct dctx {
    struct segfiles *segs;
    size_t n, entries;
    int has_ck; /* log-start-offset present */
    int32_t np; /* partition count, -1 if topic.meta is bad */
    uint8_t seen[CRAWLLOG_PARTITIONS_MAX]; /* partition directory found */
    int64_t *ends;     /* [np]: each partition's log end, -1 unknown */
    struct cl_mig mig; /* the topic's migration (state 0: none) */
};

/* One segment scan; t = 0: .index (8-byte rel, pos), t = 1: .timeindex
 * (12-byte ts, rel).  Entries are decoded from buf[t] as the scan goes. */
struct vscan {
    struct vctx *v;
    const char *rel[2];
    int64_t base;
    uint8_t *buf[2];
    size_t len[2], at[2];  /* bytes; position of the current entry */
    int have[2], any[2];   /* current entry unmatched; one was accepted */
    uint32_t erel[2], pos; /* the current (= last accepted) entries */
    int64_t ts, max_ts;
    int damaged; /* a damaged region was skipped: max_ts is not exact */
};

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static void
report(struct vctx *v, const char *rel, const char *fmt, ...)
{
    char msg[MSG_SIZE];
    va_list ap;
    int n = rel ? snprintf(msg, sizeof(msg), "%s: ", rel) : 0; /* < REL_SIZE */
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

/* A call failed with rc and err: lack of memory or descriptors stops the
 * walk, anything else is a problem. */
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

/* An entry no one expects (also the walker of staging/ and trash/). */
static int stray(struct vctx *v, struct walk *w, const char *name,
                 const char *rel)
{
    int left =
        w->rel && (!strcmp(w->rel, "staging") || !strcmp(w->rel, "trash"));
    report(v, rel,
           left ? "leftover of an interrupted topic create or delete"
           : strstr(name, ".tmp.") ? "leftover temporary file"
                                   : "unexpected entry");
    return 0;
}

/* lstat-like check of dirfd/name: 1 if it has type want (S_IFDIR or
 * S_IFREG), 0 if not (reported), or a fatal error.  World-writable is
 * reported but usable. */
static int check_entry(struct vctx *v, int dirfd, const char *name,
                       const char *rel, mode_t want)
{
    struct stat st;
    int rc = cl_io_fstatat("verify.stat", dirfd, name, &st);
    if (rc < 0) {
        return sys_fail(v, rc, rel, "stat");
    }
    if ((st.st_mode & S_IFMT) != want) {
        report(v, rel,
               S_ISLNK(st.st_mode) ? "symbolic link"
               : want == S_IFDIR   ? "not a directory"
                                   : "not a regular file");
        return 0;
    }
    if (st.st_mode & S_IWOTH) {
        report(v, rel, "world-writable (mode %04o)",
               (unsigned)(st.st_mode & 07777));
    }
    return 1;
}

/* Call w->fn for each entry of w->fd (names sorted). */
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

/* Open the directory parentfd/name into w->fd (-1 on failure, else the
 * caller closes it) and walk it. */
static int walk_dir(struct vctx *v, int parentfd, const char *name,
                    struct walk *w)
{
    w->fd = cl_io_openat("verify.open", parentfd, name, DIR_FLAGS, 0);
    if (w->fd < 0) {
        int rc = w->fd;
        w->fd = -1;
        return sys_fail(v, rc, w->rel, "open");
    }
    return walk_fd(v, w);
}

/* Read index file t whole into s->buf[t]. */
static int load_index(struct vctx *v, int dirfd, const char *name,
                      struct vscan *s, int t)
{
    const size_t esz = t ? CL_TIMEINDEX_ENTRY_SIZE : CL_INDEX_ENTRY_SIZE;
    struct stat st;
    int fd = cl_io_openat("verify.open", dirfd, name, RD_FLAGS, 0);
    if (fd < 0) {
        return sys_fail(v, fd, s->rel[t], "open");
    }
    int rc = cl_io_fstat("verify.stat", fd, &st);
    size_t size = rc ? 0 : (size_t)st.st_size;
    if (rc == 0 && (s->buf[t] = cl_io_malloc(size)) == NULL) {
        rc = -ENOMEM;
    }
    ssize_t got =
        rc ? rc : cl_io_pread_all("verify.read", fd, s->buf[t], size, 0);
    cl_io_close(fd);
    if (got < 0 || rc != 0) { /* rc: 0 or -errno, then got == rc */
        return sys_fail(v, (int)got, s->rel[t], "read");
    }
    s->len[t] = (size_t)got;
    if (s->len[t] % esz) {
        report(v, s->rel[t], "size %zu is not a multiple of %zu (torn entry)",
               s->len[t], esz);
    }
    return 0;
}

/* Advance index t to its next entry that continues the ascending sequence,
 * reporting the others; s->have[t] = 0 at the end. */
static void next_entry(struct vscan *s, int t)
{
    const size_t esz = t ? CL_TIMEINDEX_ENTRY_SIZE : CL_INDEX_ENTRY_SIZE;
    s->at[t] += s->have[t] ? esz : 0;
    for (s->have[t] = 0; s->at[t] + esz <= s->len[t]; s->at[t] += esz) {
        const uint8_t *p = s->buf[t] + s->at[t];
        uint32_t rel = cl_get_u32(p + (t ? 8 : 0)), pos = cl_get_u32(p + 4);
        int64_t ts = cl_get_i64(p);
        const char *bad =
            t && s->any[t] && (ts < s->ts || rel < s->erel[t]) ? "goes back"
            : !t && pos < CL_SEG_HEADER_SIZE ? "points into the header"
            : !t && s->any[t] && (rel <= s->erel[t] || pos <= s->pos)
                ? "does not ascend"
                : NULL;
        if (bad) {
            report(s->v, s->rel[t], "byte %zu: entry (+%u, %s %lld) %s",
                   s->at[t], (unsigned)rel, t ? "time" : "byte",
                   (long long)(t ? ts : pos), bad);
            continue;
        }
        s->have[t] = s->any[t] = 1;
        s->erel[t] = rel;
        s->pos = t ? s->pos : pos;
        s->ts = t ? ts : s->ts;
        return;
    }
}

/* Called for each valid batch: match the index entries up to it. */
static int scan_fn(void *opaque, const uint8_t *batch,
                   const struct cl_batch_hdr *h, uint64_t pos)
{
    struct vscan *s = opaque;
    int64_t last = h->base_offset + h->last_offset_delta;
    (void)batch;
    for (; s->have[0] && s->pos <= pos; next_entry(s, 0)) {
        if (s->pos < pos) {
            report(s->v, s->rel[0],
                   "byte %zu: entry: byte %u is no batch start", s->at[0],
                   (unsigned)s->pos);
        } else if (s->base + s->erel[0] != h->base_offset) {
            report(s->v, s->rel[0], "byte %zu: entry: offset %lld, batch: %lld",
                   s->at[0], (long long)s->base + s->erel[0],
                   (long long)h->base_offset);
        }
    }
    s->max_ts = h->max_timestamp > s->max_ts ? h->max_timestamp : s->max_ts;
    for (; s->have[1] && s->base + s->erel[1] <= last; next_entry(s, 1)) {
        if (!s->damaged && s->ts != s->max_ts) {
            report(s->v, s->rel[1], "byte %zu: entry: time %lld, largest %lld",
                   s->at[1], (long long)s->ts, (long long)s->max_ts);
        }
    }
    return 0;
}

/* Check the header of an open .log and scan its batches from byte 64,
 * resuming after damaged regions.  *endp: offset after the last batch, -1
 * if unknown. */
static int scan_log(struct vctx *v, struct cl_segment *seg, const char *prel,
                    const char *lrel, struct vscan *s, int64_t *endp)
{
    struct cl_scan res;
    struct cl_err err = {{0}};
    uint64_t pos = CL_SEG_HEADER_SIZE;
    int64_t expect = seg->base;
    uint8_t hdr[CL_SEG_HEADER_SIZE];
    char why[160];
    s->max_ts = -1;
    ssize_t got = cl_io_pread_all("verify.read", seg->fd, hdr, sizeof(hdr), 0);
    if (got < 0) {
        return sys_fail(v, (int)got, lrel, "read");
    }
    if ((size_t)got < sizeof(hdr)) {
        report(v, lrel, "byte 0: shorter than the 64-byte segment header");
        return 0;
    }
    if (cl_segment_header_check(hdr, seg->base, NULL, why, sizeof(why))) {
        report(v, lrel, "byte 0: %s", why);
    }
    do {
        memset(&res, 0, sizeof(res));
        int rc =
            cl_segment_scan(seg, prel, pos, expect, 1, scan_fn, s, &res, &err);
        if (rc != 0) {
            return lib_fail(v, rc, &err);
        }
        if (res.bad) {
            report(v, lrel, "byte %llu: %s%s", (unsigned long long)res.end,
                   res.why, res.valid_after ? " (valid batches follow)" : "");
            s->damaged = 1;
            pos = res.valid_after_pos;
            expect = -1;
        }
    } while (res.bad && res.valid_after);
    v->log_bytes += res.end; /* bytes scanned, for the progress report */
    *endp = res.bad ? -1 : res.next_offset;
    for (int t = 0; t < 2; t++) {
        if (s->have[t]) {
            report(v, s->rel[t], "byte %zu: entries past the last %sbatch",
                   s->at[t], s->damaged ? "valid " : "");
        }
    }
    return 0;
}

/* Check one segment whose .log is usable; *endp as for scan_log. */
static int verify_segment(struct vctx *v, int pdirfd, const char *prel,
                          const struct segfiles *sf, const char *lrel,
                          int64_t *endp)
{
    static const char *const sfx[2] = {CL_NAMES_INDEX, CL_NAMES_TIMEINDEX};
    char name[64], rel[2][REL_SIZE];
    struct vscan s = {.v = v, .rel = {rel[0], rel[1]}, .base = sf->base};
    struct cl_segment seg;
    int rc = 0;
    *endp = -1;
    for (int t = 0; t < 2 && rc == 0; t++) {
        cl_names_segment(name, sizeof(name), sf->base, sfx[t]);
        snprintf(rel[t], REL_SIZE, "%s/%s", prel, name);
        if (sf->have & (HAVE_IDX << t)) {
            rc = load_index(v, pdirfd, name, &s, t);
            next_entry(&s, t);
        } else if (!(sf->bad & (HAVE_IDX << t))) {
            report(v, rel[t], "missing");
        }
    }
    cl_segment_init(&seg);
    seg.base = sf->base;
    cl_names_segment(name, sizeof(name), sf->base, CL_NAMES_LOG);
    if (rc == 0) {
        seg.fd = cl_io_openat("verify.open", pdirfd, name, RD_FLAGS, 0);
        rc = seg.fd < 0 ? sys_fail(v, seg.fd, lrel, "open")
                        : scan_log(v, &seg, prel, lrel, &s, endp);
        v->segments++;
        cl_segment_close(&seg);
        if (v->progress != NULL) {
            v->progress(v->opaque, v->segments, v->log_bytes);
        }
    }
    cl_io_free(s.buf[0]);
    cl_io_free(s.buf[1]);
    return rc;
}

/* Check log-start-offset against the segments (log_end -1: unknown). */
static int verify_log_start(struct vctx *v, int pdirfd, const char *prel,
                            const struct dctx *pc, int64_t log_end)
{
    char rel[REL_SIZE], name[64], *body = NULL;
    struct cl_err err = {{0}};
    int64_t ck = -1;
    snprintf(rel, sizeof(rel), "%s/%s", prel, CL_LOGSTART_NAME);
    int rc = cl_metafile_read(pdirfd, CL_LOGSTART_NAME, rel, CL_LOGSTART_KIND,
                              &body, &err);
    if (rc != 0) {
        return lib_fail(v, rc, &err);
    }
    rc = cl_metafile_get_int(body, "log.start.offset", &ck);
    cl_io_free(body);
    if (rc != 0 || ck < 0) {
        report(v, rel, "missing or bad log.start.offset");
    } else if (pc->n > 0 &&
               (ck < pc->segs[0].base || (log_end >= 0 && ck > log_end))) {
        report(v, rel, "log.start.offset %lld outside [%lld, %lld]",
               (long long)ck, (long long)pc->segs[0].base, (long long)log_end);
    }
    for (size_t k = 0; k + 1 < pc->n && pc->segs[k + 1].base <= ck; k++) {
        cl_names_segment(name, sizeof(name), pc->segs[k].base, CL_NAMES_LOG);
        snprintf(rel, sizeof(rel), "%s/%s", prel, name);
        report(v, rel, "leftover: below log.start.offset %lld", (long long)ck);
    }
    return 0;
}

static int partition_entry(struct vctx *v, struct walk *w, const char *name,
                           const char *rel)
{
    struct dctx *pc = w->ctx;
    int64_t base;
    const char *sfx;
    int seg = cl_names_parse_segment(name, &base, &sfx) == 0;
    pc->entries++;
    if (!seg && strcmp(name, CL_PSTATE_NAME) != 0 &&
        strcmp(name, CL_LOGSTART_NAME) != 0) {
        return stray(v, w, name, rel);
    }
    int ok = check_entry(v, w->fd, name, rel, S_IFREG);
    if (ok < 0 || !seg) {
        pc->has_ck |= ok > 0 && !strcmp(name, CL_LOGSTART_NAME);
        return ok < 0 ? ok : 0;
    }
    unsigned bit = !strcmp(sfx, CL_NAMES_LOG)     ? HAVE_LOG
                   : !strcmp(sfx, CL_NAMES_INDEX) ? HAVE_IDX
                                                  : HAVE_IDX << 1;
    if (pc->n == 0 || pc->segs[pc->n - 1].base != base) { /* sorted names */
        void *p = cl_io_realloc(pc->segs, (pc->n + 1) * sizeof(*pc->segs));
        if (p == NULL) {
            return cl_errf(&v->fatal, CRAWLLOG_ENOMEM, "out of memory");
        }
        pc->segs = p;
        pc->segs[pc->n++] = (struct segfiles){base, 0, 0};
    }
    pc->segs[pc->n - 1].have |= ok ? bit : 0;
    pc->segs[pc->n - 1].bad |= ok ? 0 : bit;
    return 0;
}

/* Check a partition directory; *entriesp: how many entries it has. */
static int verify_partition(struct vctx *v, int tdirfd, const char *name,
                            const char *prel, size_t *entriesp,
                            int64_t *endp)
{
    struct dctx pc = {.np = -1};
    struct walk w = {-1, prel, partition_entry, &pc};
    char sname[64], lrel[REL_SIZE];
    int64_t end = -1, expect = -1;
    int rc = walk_dir(v, tdirfd, name, &w);
    for (size_t k = 0; rc == 0 && w.fd >= 0 && k < pc.n; k++) {
        const struct segfiles *sf = &pc.segs[k];
        cl_names_segment(sname, sizeof(sname), sf->base, CL_NAMES_LOG);
        snprintf(lrel, sizeof(lrel), "%s/%s", prel, sname);
        if (!(sf->have & HAVE_LOG)) {
            if (!(sf->bad & HAVE_LOG)) {
                report(v, lrel, "missing, but its index files exist");
            }
            expect = end = -1;
            continue;
        }
        if (expect >= 0 && sf->base != expect) {
            report(v, lrel, "%s: previous segment ends at offset %lld",
                   sf->base > expect ? "gap" : "overlap", (long long)expect);
        }
        rc = verify_segment(v, w.fd, prel, sf, lrel, &end);
        expect = end;
    }
    if (rc == 0 && pc.entries > 0 && pc.n == 0) {
        report(v, prel, "no segment");
    }
    if (rc == 0 && pc.has_ck) {
        rc = verify_log_start(v, w.fd, prel, &pc, end);
    }
    if (w.fd >= 0) {
        cl_io_close(w.fd);
    }
    cl_io_free(pc.segs);
    *entriesp = pc.entries;
    *endp = end;
    return rc;
}

static int topic_entry(struct vctx *v, struct walk *w, const char *name,
                       const char *rel)
{
    struct dctx *tc = w->ctx;
    size_t n = 0;
    int32_t p;
    int rc;
    if (!strcmp(name, CL_TOPIC_META_NAME)) {
        rc = check_entry(v, w->fd, name, rel, S_IFREG);
        return rc > 0 ? 0 : rc;
    }
    if (!strcmp(name, CL_MIGRATE_NAME)) {
        /* A migration (docs/MIGRATION.md): a checksummed metadata file. */
        struct cl_err err = {{0}};
        rc = check_entry(v, w->fd, name, rel, S_IFREG);
        if (rc > 0) {
            rc = cl_migrate_file_read(w->fd, rel, &tc->mig, &err);
            rc = rc ? lib_fail(v, rc, &err) : 0;
        }
        return rc > 0 ? 0 : rc;
    }
    if (cl_names_parse_partition(name, &p) != 0) {
        return stray(v, w, name, rel);
    }
    tc->seen[p] = 1;
    rc = check_entry(v, w->fd, name, rel, S_IFDIR);
    int64_t end = -1;
    rc = rc > 0 ? verify_partition(v, w->fd, name, rel, &n, &end) : rc;
    if (tc->ends != NULL && p < tc->np) {
        tc->ends[p] = end;
    }
    /* An empty one beyond the count is fine: add_partitions reuses it. */
    if (rc == 0 && n > 0 && tc->np >= 0 && p >= tc->np) {
        report(v, rel, "beyond the partition count %d", (int)tc->np);
    }
    return rc;
}

static int verify_topic(struct vctx *v, int rootfd, int topicsfd,
                        const char *topic, const char *trel)
{
    struct cl_topic_meta meta;
    struct cl_err err = {{0}};
    struct dctx tc = {.np = -1};
    struct walk w = {-1, trel, topic_entry, &tc};
    char rel[REL_SIZE];
    int rc = cl_topic_meta_read(rootfd, topic, &meta, &err);
    tc.np = rc == 0 ? meta.partitions : -1;
    cl_topic_meta_free(&meta); /* zeroed on failure */
    if (rc != 0 && (rc = lib_fail(v, rc, &err)) != 0) {
        return rc;
    }
    if (tc.np > 0 &&
        (tc.ends = cl_io_malloc((size_t)tc.np * sizeof(int64_t))) == NULL) {
        return cl_errf(&v->fatal, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (int32_t p = 0; p < tc.np; p++) {
        tc.ends[p] = -1;
    }
    rc = walk_dir(v, topicsfd, topic, &w);
    for (int32_t p = 0; rc == 0 && w.fd >= 0 && p < tc.np; p++) {
        snprintf(rel, sizeof(rel), "%s/%d", trel, (int)p);
        if (!tc.seen[p]) {
            report(v, rel, "missing partition directory");
        }
        /* A migration's cut: every record below it must still be here
         * (the groups read <old> up to it; MIGRATION.md step 3). */
        if (tc.mig.state >= CRAWLLOG_MIGRATION_REDIRECT && p < tc.mig.m &&
            tc.ends[p] >= 0 && tc.ends[p] < tc.mig.cut[p]) {
            report(v, rel,
                   "log ends at offset %lld, below the migration's "
                   "cut.%d=%lld: records below the cut are lost",
                   (long long)tc.ends[p], (int)p, (long long)tc.mig.cut[p]);
        }
    }
    if (w.fd >= 0) {
        cl_io_close(w.fd);
    }
    cl_io_free(tc.ends);
    cl_migrate_file_free(&tc.mig);
    return rc;
}

static int topics_entry(struct vctx *v, struct walk *w, const char *name,
                        const char *rel)
{
    int rc = check_entry(v, w->fd, name, rel, S_IFDIR);
    if (rc > 0 && !cl_names_topic_valid(name)) {
        report(v, rel, "invalid topic name");
        return 0;
    }
    return rc > 0 ? verify_topic(v, *(int *)w->ctx, w->fd, name, rel) : rc;
}

/* producers/<name>: a 4096-byte registry file with a valid slot. */
static int producers_entry(struct vctx *v, struct walk *w, const char *name,
                           const char *rel)
{
    int rc = check_entry(v, w->fd, name, rel, S_IFREG);
    if (rc <= 0) {
        return rc;
    }
    if (!cl_names_topic_valid(name)) { /* "~tmp.<pid>.<n>" too */
        return stray(v, w, name, rel);
    }
    uint8_t page[CL_PRODID_LIVE_OFF];
    int fd = cl_io_openat("verify.open", w->fd, name, O_RDONLY, 0);
    if (fd < 0) {
        return sys_fail(v, fd, rel, "open");
    }
    ssize_t n = cl_io_pread_all("verify.read", fd, page, sizeof(page), 0);
    cl_io_close(fd);
    if (n < 0) {
        return sys_fail(v, (int)n, rel, "read");
    }
    uint64_t inst;
    int64_t pid;
    int empty;
    if ((size_t)n < sizeof(page) ||
        (cl_prodid_slot_decode(page, &inst, &pid, &empty) != 0 &&
         cl_prodid_slot_decode(page + 512, &inst, &pid, &empty) != 0)) {
        report(v, rel, "producer registry file: no valid slot");
    }
    return 0;
}

/* transactions/<entry>: <transactional.id> state files (decoded and
 * checked, txn_file.c) and the empty lock files ~live.<id> / ~lock.<id>
 * (txn.h).  An open transaction is not a problem: its producer may be
 * alive, and it is finished by whoever needs it next. */
static int transactions_entry(struct vctx *v, struct walk *w,
                              const char *name, const char *rel)
{
    int rc = check_entry(v, w->fd, name, rel, S_IFREG);
    if (rc <= 0) {
        return rc;
    }
    const char *id = !strncmp(name, CL_TXN_LIVE_PREFIX,
                              strlen(CL_TXN_LIVE_PREFIX))
                         ? name + strlen(CL_TXN_LIVE_PREFIX)
                     : !strncmp(name, CL_TXN_LOCK_PREFIX,
                                strlen(CL_TXN_LOCK_PREFIX))
                         ? name + strlen(CL_TXN_LOCK_PREFIX)
                         : NULL;
    if (id != NULL) {
        return cl_txn_id_valid(id) ? 0 : stray(v, w, name, rel);
    }
    if (!cl_txn_id_valid(name)) { /* "~tmp.<pid>.<n>" too */
        return stray(v, w, name, rel);
    }
    struct cl_txn_state st;
    struct cl_err err = {{0}};
    rc = cl_txn_file_read(*(int *)w->ctx, name, &st, &err); /* 2 slots */
    cl_txn_state_free(&st);
    if (rc == CRAWLLOG_ENOENT) {
        return 0; /* removed meanwhile */
    }
    return rc != 0 ? lib_fail(v, rc, &err) : 0;
}

/* groups/<group>/<entry>: group.state (a cache: any content) and
 * offsets (a valid header; records are CRC-checked by every reader, a torn
 * tail is normal). */
static int group_file(struct vctx *v, struct walk *w, const char *name,
                      const char *rel)
{
    if (strcmp(name, CL_GROUP_STATE_NAME) != 0 &&
        strcmp(name, CL_OFFSETS_NAME) != 0 &&
        strcmp(name, "lag.history") != 0 /* lagstore.c: a cache */) {
        return stray(v, w, name, rel);
    }
    int rc = check_entry(v, w->fd, name, rel, S_IFREG);
    if (rc <= 0 || strcmp(name, CL_OFFSETS_NAME) != 0) {
        return rc > 0 ? 0 : rc;
    }
    uint8_t h[CL_OFFSETS_HEADER_SIZE];
    char why[128];
    int fd = cl_io_openat("verify.open", w->fd, name, O_RDONLY, 0);
    if (fd < 0) {
        return sys_fail(v, fd, rel, "open");
    }
    ssize_t n = cl_io_pread_all("verify.read", fd, h, sizeof(h), 0);
    cl_io_close(fd);
    if (n < 0) {
        return sys_fail(v, (int)n, rel, "read");
    }
    if (cl_offsets_check_header(h, (size_t)n, why, sizeof(why)) != 0) {
        report(v, rel, "%s", why);
    }
    return 0;
}

static int groups_entry(struct vctx *v, struct walk *w, const char *name,
                        const char *rel)
{
    struct walk sub = {-1, rel, group_file, w->ctx};
    int rc = check_entry(v, w->fd, name, rel, S_IFDIR);
    if (rc > 0 && !cl_names_topic_valid(name)) {
        report(v, rel, "invalid group name");
        return 0;
    }
    rc = rc > 0 ? walk_dir(v, w->fd, name, &sub) : rc;
    if (sub.fd >= 0) {
        cl_io_close(sub.fd);
    }
    return rc > 0 ? 0 : rc;
}

static int root_entry(struct vctx *v, struct walk *w, const char *name,
                      const char *rel)
{
    struct walk sub = {-1, rel, stray, w->ctx};
    int rc = 0;
    if (!strcmp(name, "crawllog.meta") || !strcmp(name, "crawllog.lock") ||
        !strcmp(name, CL_NOTIFY_NAME)) {
        rc = check_entry(v, w->fd, name, rel, S_IFREG);
    } else if (!strcmp(name, "topics") || !strcmp(name, "staging") ||
               !strcmp(name, "trash") || !strcmp(name, CL_PRODID_DIR) ||
               !strcmp(name, CL_GROUPS_DIR) || !strcmp(name, CL_TXN_DIR)) {
        sub.fn = !strcmp(name, "topics")          ? topics_entry
                 : !strcmp(name, CL_PRODID_DIR) ? producers_entry
                 : !strcmp(name, CL_GROUPS_DIR) ? groups_entry
                 : !strcmp(name, CL_TXN_DIR)    ? transactions_entry
                                                  : stray;
        rc = check_entry(v, w->fd, name, rel, S_IFDIR);
        rc = rc > 0 ? walk_dir(v, w->fd, name, &sub) : rc;
        if (sub.fd >= 0) {
            cl_io_close(sub.fd);
        }
    } else {
        stray(v, w, name, rel);
    }
    return rc > 0 ? 0 : rc;
}

int crawllog_verify(const char *dir, crawllog_verify_cb *cb, void *opaque,
                    size_t *problemsp, char *errstr, size_t errstr_size)
{
    return crawllog_verify_progress(dir, cb, NULL, opaque, problemsp, errstr,
                                    errstr_size);
}

int crawllog_verify_progress(const char *dir, crawllog_verify_cb *cb,
                             crawllog_verify_progress_cb *progress,
                             void *opaque, size_t *problemsp, char *errstr,
                             size_t errstr_size)
{
    struct vctx v = {cb, opaque, 0, progress, 0, 0, "", {{0}}};
    struct walk w = {-1, NULL, root_entry, &w.fd};
    struct cl_err err = {{0}};
    char *body = NULL;
    int rc = 0;
    if (dir == NULL || dir[0] == '\0') {
        rc = cl_errf(&v.fatal, CRAWLLOG_EINVAL, "crawllog_verify: no dir");
    } else if (cl_backend_is_kafka(dir, NULL)) {
        rc = cl_errf(&v.fatal, CRAWLLOG_ENOTSUP,
                     "crawllog_verify: %.128s: not supported by the Kafka "
                     "backend (the brokers check their own segments)",
                     dir);
    } else if ((w.fd = cl_io_open("verify.open", dir, DIR_FLAGS, 0)) >= 0) {
        if ((rc = check_entry(&v, w.fd, ".", ".", S_IFDIR)) >= 0) {
            rc = cl_metafile_read(w.fd, "crawllog.meta", "crawllog.meta",
                                  "crawllog", &body, &err);
            cl_io_free(body);
            rc = rc ? lib_fail(&v, rc, &err) : 0;
        }
        rc = rc ? rc : walk_fd(&v, &w);
        cl_io_close(w.fd);
    } else if (w.fd == -ENOTDIR) {
        report(&v, ".", "not a directory");
    } else {
        cl_err_sys(&v.fatal, -w.fd, dir, "open");
        rc = w.fd == -ENOENT   ? CRAWLLOG_ENOENT
             : w.fd == -ENOMEM ? CRAWLLOG_ENOMEM
                               : CRAWLLOG_EIO;
    }
    if (rc == 0 && v.problems > 0) {
        snprintf(v.fatal.msg, sizeof(v.fatal.msg),
                 "%zu problem(s), first: %.400s", v.problems, v.first);
        rc = CRAWLLOG_ECORRUPT;
    }
    if (problemsp) {
        *problemsp = v.problems;
    }
    cl_err_copy(errstr, errstr_size, v.fatal.msg);
    return rc;
}
