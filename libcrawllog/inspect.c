/*
 * inspect.c - read-only inspection of a partition (layer 2, beside
 * reader.c): crawllog_partition_segments (segments with their sizes,
 * offsets and largest timestamps: `crawllog topics describe`) and
 * crawllog_partition_batches (every batch header with its CRC checked:
 * `crawllog dump`, like Kafka's kafka-dump-log.sh --print-data-log).
 *
 * Owns nothing on disk.  It reads <base>.log files (opened O_RDONLY by
 * name, as reader.c does) and the sizes of their index files; it never
 * writes, truncates, creates or deletes a file.  In particular a segment's
 * index is loaded for a lookup only when both index files exist, because
 * loading creates missing ones (cl_segment_load_index).
 *
 * Invariants:
 *  - A call works on a snapshot taken under the partition lock after
 *    cl_partition_sync_locked (so other processes' rolls and retention are
 *    seen): each segment's base, creation time and size.  For the active
 *    segment the size is the published one, which matches the log end, so
 *    only complete batches below the log end as of the call are read;
 *    sealed segments do not change.  Files are read without the lock.
 *  - A segment file that is gone when it is opened was deleted by
 *    retention after the snapshot: it is left out.  One opened before the
 *    deletion stays readable (the descriptor keeps the file).
 *  - Memory is bounded by one read buffer (CHUNK bytes): headers are
 *    decoded from it and a batch larger than it is CRC-checked in pieces
 *    (CRC-32C composes: cl_crc32c(cl_crc32c(0, a), b)).
 *  - The walk trusts a batch's length field when it fits in the segment,
 *    whether or not the CRC (which does not cover it) matches; a header
 *    whose magic or length cannot be right ends it with CRAWLLOG_ECORRUPT
 *    naming the file and byte.
 *
 * Locks: the partition's mutex and flock, taken with cl_partition_lock,
 * only while the snapshot is taken; the files are read and the callback
 * runs with no lock of the library held.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "bytes.h"
#include "crc32c.h"
#include "io.h"
#include "log.h"
#include "names.h"
#include "partition.h"
#include "record.h"

#define CHUNK (256 * 1024) /* read buffer of a batch walk */
#define HDR_READ 16384     /* read buffer of a header-only scan */
#define PATH_SIZE 400

/* A segment as of the snapshot. */
struct seg_snap {
    int64_t base;
    int64_t created_ms;
    uint64_t size; /* bytes to read: header + complete batches */
};

/* What cl_log_with_partition's callback collects under the lock. */
struct snap {
    int all;      /* every segment (else from `want` on) */
    int64_t want; /* first offset asked for */
    int64_t from; /* want, raised to the log start */
    struct cl_partition *part;
    struct seg_snap *segs;
    size_t n;     /* segs[n - 1] was active if all */
    uint64_t pos; /* where the walk of segs[0] starts */
};

/* One segment file being read. */
struct segrd {
    int fd;
    int64_t base;
    uint64_t size; /* as of the snapshot */
    uint8_t *buf;  /* cap bytes */
    size_t cap;
    uint64_t bstart; /* file position of buf[0] */
    size_t blen;     /* valid bytes in buf */
    char path[PATH_SIZE];
};

/* ---- the snapshot (partition lock held) -------------------------------- */

/* Load seg's index for cl_segment_find unless one of its files is missing
 * (loading would create it).  Without it the lookup scans batch headers. */
static int index_if_present(struct cl_partition *part, struct cl_segment *seg,
                            struct cl_err *err)
{
    static const char *const sfx[2] = {CL_NAMES_INDEX, CL_NAMES_TIMEINDEX};
    if (seg->idx_loaded) {
        return 0;
    }
    for (int t = 0; t < 2; t++) {
        char name[64];
        struct stat st;
        cl_names_segment(name, sizeof(name), seg->base, sfx[t]);
        if (cl_io_fstatat("inspect.stat", part->dirfd, name, &st) < 0) {
            return 0;
        }
    }
    return cl_segment_load_index(seg, part->dirfd, part->reldir,
                                 part->conf.fmode, err);
}

static int snap_locked(struct cl_partition *part, struct snap *sn,
                       struct cl_err *err)
{
    int64_t start, end;
    size_t first = 0;
    cl_partition_offsets(part, &start, &end, err);
    sn->pos = CL_SEG_HEADER_SIZE;
    sn->from = sn->want < start ? start : sn->want;
    if (!sn->all) {
        if (sn->from >= end) {
            return 0; /* nothing to walk */
        }
        while (first + 1 < part->nseg &&
               part->segs[first + 1].base <= sn->from) {
            first++;
        }
    }
    sn->segs = cl_io_malloc((part->nseg - first) * sizeof(*sn->segs));
    if (sn->segs == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = first; i < part->nseg; i++) {
        const struct cl_segment *seg = &part->segs[i];
        sn->segs[sn->n++] =
            (struct seg_snap){seg->base, seg->created_ms, seg->size};
    }
    struct cl_segment *seg = &part->segs[first];
    if (!sn->all && sn->from > seg->base) {
        int rc = index_if_present(part, seg, err);
        if (rc == 0) {
            rc = cl_segment_find(seg, part->reldir, sn->from, &sn->pos, err);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int snap_fn(struct cl_partition *part, void *arg, struct cl_err *err)
{
    struct snap *sn = arg;
    cl_io_free(sn->segs); /* a retry after the topic was re-created */
    sn->segs = NULL;
    sn->n = 0;
    sn->part = part;
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_partition_sync_locked(part, err);
    if (rc == 0) {
        rc = snap_locked(part, sn, err);
    }
    cl_partition_unlock(part);
    return rc;
}

/* ---- reading a segment file (no lock) ----------------------------------- */

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
static int
corrupt(const struct segrd *r, uint64_t pos, struct cl_err *err,
        const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return cl_errf(err, CRAWLLOG_ECORRUPT, "%s: byte %" PRIu64 ": %s", r->path,
                   pos, why);
}

/* Open a segment of the snapshot: 0, 1 if it is gone (deleted by
 * retention since), or an error. */
static int seg_open(struct segrd *r, struct cl_partition *part,
                    const struct seg_snap *s, struct cl_err *err)
{
    char name[64];
    cl_names_segment(name, sizeof(name), s->base, CL_NAMES_LOG);
    snprintf(r->path, sizeof(r->path), "%s/%s", part->reldir, name);
    r->base = s->base;
    r->size = s->size;
    r->bstart = 0;
    r->blen = 0;
    int fd = cl_io_openat("inspect.open", part->dirfd, name, O_RDONLY, 0);
    if (fd == -ENOENT) {
        return 1;
    }
    if (fd < 0) {
        return cl_err_sys(err, -fd, r->path, "open");
    }
    r->fd = fd;
    return 0;
}

static void seg_close(struct segrd *r)
{
    if (r->fd >= 0) {
        cl_io_close(r->fd);
    }
    r->fd = -1;
}

/* Point *pp at the file bytes [pos, pos + need) (pos + need <= r->size,
 * need <= r->cap): from the buffer, or read want bytes (at least need, at
 * most the buffer, never past r->size) at pos. */
static int rd_at(struct segrd *r, uint64_t pos, size_t need, size_t want,
                 const uint8_t **pp, struct cl_err *err)
{
    if (pos < r->bstart || pos + need > r->bstart + r->blen) {
        want = want < need ? need : want > r->cap ? r->cap : want;
        if (want > r->size - pos) {
            want = (size_t)(r->size - pos);
        }
        ssize_t got = cl_io_pread_all("inspect.read", r->fd, r->buf, want, pos);
        r->blen = 0;
        if (got < 0) {
            return cl_err_sys(err, (int)-got, r->path, "read");
        }
        r->bstart = pos;
        r->blen = (size_t)got;
        if ((size_t)got < need) {
            return corrupt(r, pos, err,
                           "the file ends at byte %" PRIu64
                           ", below its size %" PRIu64 " when the call began",
                           pos + (uint64_t)got, r->size);
        }
    }
    *pp = r->buf + (pos - r->bstart);
    return 0;
}

/* a + b without signed overflow (the fields may be damaged). */
static int64_t add_wrap(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* Decode the header of the batch at pos into *b, checking what going on
 * needs: a whole header, magic 2, a length that fits in the segment. */
static int batch_header(struct segrd *r, uint64_t pos, size_t want,
                        crawllog_batch_info_t *b, struct cl_err *err)
{
    const uint8_t *p;
    uint64_t left = r->size - pos;
    if (left < CL_BATCH_HEADER_SIZE) {
        return corrupt(r, pos, err,
                       "incomplete batch header (%" PRIu64
                       " bytes left in the segment)",
                       left);
    }
    int rc = rd_at(r, pos, CL_BATCH_HEADER_SIZE, want, &p, err);
    if (rc != 0) {
        return rc;
    }
    /* rd_at set p: corrupt() never returns 0 (clang does not follow it).
     * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
    int32_t len = cl_get_i32(p + CL_BATCH_OFF_BATCH_LENGTH);
    memset(b, 0, sizeof(*b));
    b->magic = (int8_t)p[CL_BATCH_OFF_MAGIC];
    if (b->magic != CL_BATCH_MAGIC) {
        return corrupt(r, pos, err, "magic %d, not %d", (int)b->magic,
                       CL_BATCH_MAGIC);
    }
    if (len < CL_BATCH_HEADER_SIZE - CL_LOG_OVERHEAD ||
        (uint64_t)len + CL_LOG_OVERHEAD > left) {
        return corrupt(r, pos, err,
                       "batch length %" PRId32 " out of range (%" PRIu64
                       " bytes left in the segment)",
                       len, left);
    }
    b->segment_base = r->base;
    b->position = pos;
    b->size = (uint32_t)len + CL_LOG_OVERHEAD;
    b->base_offset = cl_get_i64(p + CL_BATCH_OFF_BASE_OFFSET);
    b->last_offset = add_wrap(b->base_offset,
                              cl_get_i32(p + CL_BATCH_OFF_LAST_OFFSET_DELTA));
    b->record_count = cl_get_i32(p + CL_BATCH_OFF_RECORDS_COUNT);
    b->attributes = cl_get_i16(p + CL_BATCH_OFF_ATTRIBUTES);
    b->crc = cl_get_u32(p + CL_BATCH_OFF_CRC);
    b->first_timestamp = cl_get_i64(p + CL_BATCH_OFF_BASE_TIMESTAMP);
    b->max_timestamp = cl_get_i64(p + CL_BATCH_OFF_MAX_TIMESTAMP);
    b->producer_id = cl_get_i64(p + CL_BATCH_OFF_PRODUCER_ID);
    b->producer_epoch = cl_get_i16(p + CL_BATCH_OFF_PRODUCER_EPOCH);
    b->base_sequence = cl_get_i32(p + CL_BATCH_OFF_BASE_SEQUENCE);
    b->leader_epoch = cl_get_i32(p + CL_BATCH_OFF_LEADER_EPOCH);
    return 0;
}

/* Does the stored CRC match bytes [21, size) of the batch?  Read in
 * buffer-sized pieces, so a batch of any size fits. */
static int batch_crc(struct segrd *r, crawllog_batch_info_t *b,
                     struct cl_err *err)
{
    /* batch_header set b: corrupt() never returns 0 (clang misses it).
     * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
    uint64_t q = b->position + CL_BATCH_OFF_ATTRIBUTES;
    uint64_t end = b->position + b->size;
    uint32_t crc = 0;
    while (q < end) {
        const uint8_t *p;
        size_t n = end - q > r->cap ? r->cap : (size_t)(end - q);
        int rc = rd_at(r, q, n, r->cap, &p, err);
        if (rc != 0) {
            return rc;
        }
        /* rd_at set p: corrupt() never returns 0 (clang misses it).
         * NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
        crc = cl_crc32c(crc, p, n);
        q += n;
    }
    b->crc_valid = crc == b->crc;
    return 0;
}

/* A walk over batches: with cb, each is CRC-checked and handed to it;
 * without, only headers are read, summed up in next / max_ts / count. */
struct walk {
    crawllog_batch_cb *cb;
    void *opaque;
    int64_t next, max_ts, count;
};

/* Walk r's batches from pos to its size: 0, 1 if cb stopped, or an
 * error. */
static int walk_segment(struct segrd *r, uint64_t pos, struct walk *w,
                        struct cl_err *err)
{
    w->next = r->base;
    w->max_ts = -1;
    w->count = 0;
    while (pos < r->size) {
        crawllog_batch_info_t b;
        int rc = batch_header(r, pos, r->cap, &b, err);
        if (rc == 0 && w->cb) {
            rc = batch_crc(r, &b, err);
        }
        if (rc != 0) {
            return rc;
        }
        if (w->cb && w->cb(w->opaque, &b) != 0) {
            return 1;
        }
        w->next = add_wrap(b.last_offset, 1);
        w->max_ts = b.max_timestamp > w->max_ts ? b.max_timestamp : w->max_ts;
        w->count++;
        pos += b.size;
    }
    return 0;
}

/* ---- the public calls --------------------------------------------------- */

static int null_arg(crawllog_t *log, const char *fn)
{
    struct cl_err err = {{0}};
    cl_errf(&err, CRAWLLOG_EINVAL, "%s: NULL argument", fn);
    return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
}

/* Sizes of a segment's index files (0: missing). */
static int index_sizes(struct cl_partition *part, int64_t base,
                       crawllog_segment_info_t *o, struct cl_err *err)
{
    static const char *const sfx[2] = {CL_NAMES_INDEX, CL_NAMES_TIMEINDEX};
    for (int t = 0; t < 2; t++) {
        char name[64], path[PATH_SIZE];
        struct stat st;
        cl_names_segment(name, sizeof(name), base, sfx[t]);
        int rc = cl_io_fstatat("inspect.stat", part->dirfd, name, &st);
        if (rc < 0 && rc != -ENOENT) {
            snprintf(path, sizeof(path), "%s/%s", part->reldir, name);
            return cl_err_sys(err, -rc, path, "stat");
        }
        uint64_t size = rc < 0 ? 0 : (uint64_t)st.st_size;
        *(t == 0 ? &o->index_bytes : &o->timeindex_bytes) = size;
    }
    return 0;
}

int crawllog_partition_segments(crawllog_t *log, const char *topic,
                                int32_t partition,
                                crawllog_segment_info_t **segsp, size_t *countp)
{
    CL_BACKEND(log, partition_segments, log, topic, partition, segsp, countp);
    struct cl_err err = {{0}};
    struct snap sn = {.all = 1};
    struct segrd r = {.fd = -1, .cap = HDR_READ};
    crawllog_segment_info_t *out = NULL;
    size_t k = 0;
    if (segsp) {
        *segsp = NULL;
    }
    if (countp) {
        *countp = 0;
    }
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || segsp == NULL || countp == NULL) {
        return null_arg(log, "crawllog_partition_segments");
    }
    int rc = cl_log_with_partition(log, topic, partition, snap_fn, &sn, &err);
    if (rc == 0 && ((out = cl_io_calloc(sn.n, sizeof(*out))) == NULL ||
                    (r.buf = cl_io_malloc(r.cap)) == NULL)) {
        rc = cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < sn.n; i++) {
        const struct seg_snap *s = &sn.segs[i];
        crawllog_segment_info_t *o = &out[k];
        struct walk w = {0};
        rc = seg_open(&r, sn.part, s, &err);
        if (rc == 1) {
            rc = 0; /* deleted by retention since the snapshot */
            continue;
        }
        if (rc == 0) {
            rc = walk_segment(&r, CL_SEG_HEADER_SIZE, &w, &err);
        }
        seg_close(&r);
        if (rc == 0) {
            rc = index_sizes(sn.part, s->base, o, &err);
        }
        if (rc != 0) {
            break;
        }
        o->base_offset = s->base;
        o->next_offset = w.next;
        o->log_bytes = s->size;
        o->max_timestamp = w.max_ts;
        o->active = i + 1 == sn.n;
        o->created_ms = s->created_ms;
        o->batch_count = w.count;
        k++;
    }
    cl_io_free(r.buf);
    cl_io_free(sn.segs);
    if (rc != 0) {
        cl_io_free(out);
        return cl_log_fail(log, rc, &err);
    }
    *segsp = out;
    *countp = k;
    return 0;
}

int crawllog_partition_batches(crawllog_t *log, const char *topic,
                               int32_t partition, int64_t from_offset,
                               crawllog_batch_cb *cb, void *opaque)
{
    CL_BACKEND(log, partition_batches, log, topic, partition, from_offset, cb,
               opaque);
    struct cl_err err = {{0}};
    struct snap sn = {.all = 0, .want = from_offset};
    struct segrd r = {.fd = -1, .cap = CHUNK};
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || cb == NULL) {
        return null_arg(log, "crawllog_partition_batches");
    }
    int rc = cl_log_with_partition(log, topic, partition, snap_fn, &sn, &err);
    if (rc == 0 && sn.n > 0 && (r.buf = cl_io_malloc(r.cap)) == NULL) {
        rc = cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < sn.n; i++) {
        struct walk w = {cb, opaque, 0, 0, 0};
        rc = seg_open(&r, sn.part, &sn.segs[i], &err);
        if (rc == 1) {
            rc = 0; /* deleted by retention since the snapshot */
            continue;
        }
        if (rc == 0) {
            rc = walk_segment(&r, i == 0 ? sn.pos : CL_SEG_HEADER_SIZE, &w,
                              &err);
        }
        seg_close(&r);
        if (rc == 1) {
            rc = 0; /* the callback stopped the walk */
            break;
        }
    }
    cl_io_free(r.buf);
    cl_io_free(sn.segs);
    return rc != 0 ? cl_log_fail(log, rc, &err) : 0;
}
