/*
 * segment.c - one segment of a partition: <base>.log and its indexes.
 *
 * On disk, <base>.log (base = 20-digit zero-padded base offset) is a 64-byte
 * header followed by Kafka RecordBatch v2 batches (record.c), back to back:
 *
 *    0  8  magic "CLLOGSEG"
 *    8  4  format version (uint32, big-endian) = CRAWLLOG_FORMAT_VERSION
 *   12  4  header size (uint32) = 64
 *   16  8  base offset (int64)
 *   24  8  creation time, ms since the epoch (int64); drives segment.ms
 *   32 28  reserved, zero
 *   60  4  CRC-32C of bytes [0, 60)
 *   64  .. batches; batch i+1 starts where batch i ends and its base offset
 *          is batch i's last offset + 1; the first batch's base offset is
 *          the segment's base offset.
 *
 * Invariants: every batch up to seg->size is complete and passed its CRC
 * when this process recovered or appended it; offsets are contiguous.
 *
 * Recovery (cl_segment_recover): scan from the last index entry that points
 * at a valid batch (or from an earlier start position) to the end of the
 * file.  The first bytes that are not a complete valid batch with the
 * expected offset either are a torn tail - nothing valid follows, and they
 * lie above the durable mark - and are truncated, or they are damage, which
 * is reported as CRAWLLOG_ECORRUPT with file and byte position and never
 * silently dropped (Redis's aof-load-truncated rule; Protocol-Aware
 * Recovery, FAST 2018).
 *
 * Locks: none here.  The partition lock guards every write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "crc32c.h"
#include "io.h"
#include "names.h"
#include "segment.h"

_Static_assert(CL_SEG_HEADER_SIZE == 64, "segment header is 64 bytes");
_Static_assert(sizeof(CL_SEG_MAGIC) - 1 == 8, "segment magic is 8 bytes");

#define SCAN_CHUNK (1024 * 1024)

void cl_segment_init(struct cl_segment *seg)
{
    memset(seg, 0, sizeof(*seg));
    seg->fd = -1;
    seg->max_ts = -1;
    cl_index_init(&seg->idx);
}

static void seg_path(char *out, size_t size, const char *reldir, int64_t base)
{
    char name[64];
    cl_names_segment(name, sizeof(name), base, ".log");
    snprintf(out, size, "%s/%s", reldir, name);
}

static int seg_sys(struct cl_err *err, int rc, const struct cl_segment *seg,
                   const char *reldir, const char *op)
{
    char path[512];
    seg_path(path, sizeof(path), reldir, seg->base);
    return cl_err_sys(err, -rc, path, op);
}

void cl_segment_header_encode(uint8_t *out, int64_t base, int64_t created_ms)
{
    memset(out, 0, CL_SEG_HEADER_SIZE);
    memcpy(out, CL_SEG_MAGIC, 8);
    cl_put_u32(out + 8, CRAWLLOG_FORMAT_VERSION);
    cl_put_u32(out + 12, CL_SEG_HEADER_SIZE);
    cl_put_i64(out + 16, base);
    cl_put_i64(out + 24, created_ms);
    cl_put_u32(out + 60, cl_crc32c(0, out, 60));
}

int cl_segment_header_check(const uint8_t *hdr, int64_t base,
                            int64_t *created_msp, char *why, size_t whysize)
{
    if (memcmp(hdr, CL_SEG_MAGIC, 8) != 0) {
        snprintf(why, whysize, "bad segment magic");
        return CRAWLLOG_ECORRUPT;
    }
    if (cl_get_u32(hdr + 60) != cl_crc32c(0, hdr, 60)) {
        snprintf(why, whysize, "segment header CRC mismatch");
        return CRAWLLOG_ECORRUPT;
    }
    if (cl_get_u32(hdr + 8) != CRAWLLOG_FORMAT_VERSION) {
        snprintf(why, whysize, "segment format version %u, expected %d",
                 (unsigned)cl_get_u32(hdr + 8), CRAWLLOG_FORMAT_VERSION);
        return CRAWLLOG_EVERSION;
    }
    if (cl_get_u32(hdr + 12) != CL_SEG_HEADER_SIZE ||
        cl_get_i64(hdr + 16) != base) {
        snprintf(why, whysize, "segment header does not match its name");
        return CRAWLLOG_ECORRUPT;
    }
    if (created_msp) {
        *created_msp = cl_get_i64(hdr + 24);
    }
    return 0;
}

int cl_segment_create(struct cl_segment *seg, int dirfd, const char *reldir,
                      int64_t base, int64_t now_ms, unsigned fmode,
                      struct cl_err *err)
{
    char name[64];
    uint8_t hdr[CL_SEG_HEADER_SIZE];
    cl_segment_init(seg);
    seg->base = base;
    cl_names_segment(name, sizeof(name), base, ".log");
    int fd = cl_io_openat("seg.create", dirfd, name,
                          O_RDWR | O_CREAT | O_EXCL, (mode_t)fmode);
    if (fd < 0) {
        return seg_sys(err, fd, seg, reldir, "create");
    }
    seg->fd = fd;
    cl_segment_header_encode(hdr, base, now_ms);
    int rc = cl_io_pwrite_all("seg.create.write", fd, hdr, sizeof(hdr), 0);
    if (rc == 0) {
        rc = cl_io_fdatasync("seg.create.fsync", fd);
    }
    if (rc < 0) {
        rc = seg_sys(err, rc, seg, reldir, "write header");
        goto fail_unlink;
    }
    rc = cl_index_open(&seg->idx, dirfd, reldir, base, 1, fmode, err);
    if (rc == 0) {
        rc = cl_index_reset(&seg->idx, reldir, base, err);
    }
    if (rc != 0) {
        goto fail_unlink;
    }
    seg->created_ms = now_ms;
    seg->size = CL_SEG_HEADER_SIZE;
    seg->next_offset = base;
    seg->idx_loaded = 1;
    return 0;

fail_unlink:
    cl_io_unlinkat("seg.create.unlink", dirfd, name, 0);
    cl_segment_close(seg);
    return rc;
}

int cl_segment_open(struct cl_segment *seg, int dirfd, const char *reldir,
                    int64_t base, int *emptyp, struct cl_err *err)
{
    char name[64], why[128];
    uint8_t hdr[CL_SEG_HEADER_SIZE];
    struct stat st;
    cl_segment_init(seg);
    seg->base = base;
    *emptyp = 0;
    cl_names_segment(name, sizeof(name), base, ".log");
    int fd = cl_io_openat("seg.open", dirfd, name, O_RDWR, 0);
    if (fd < 0) {
        return seg_sys(err, fd, seg, reldir, "open");
    }
    seg->fd = fd;
    int rc = cl_io_fstat("seg.stat", fd, &st);
    if (rc < 0) {
        rc = seg_sys(err, rc, seg, reldir, "fstat");
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cl_errf(err, CRAWLLOG_ECORRUPT, "%s/%s: not a regular file",
                     reldir, name);
        goto fail;
    }
    ssize_t got = cl_io_pread_all("seg.read", fd, hdr, sizeof(hdr), 0);
    if (got < 0) {
        rc = seg_sys(err, (int)got, seg, reldir, "read header");
        goto fail;
    }
    static const uint8_t zero[CL_SEG_HEADER_SIZE];
    if ((size_t)got < sizeof(hdr) ||
        (st.st_size == CL_SEG_HEADER_SIZE && !memcmp(hdr, zero, 64))) {
        *emptyp = 1; /* crashed while being created: no header yet */
        return 0;
    }
    rc = cl_segment_header_check(hdr, base, &seg->created_ms, why,
                                 sizeof(why));
    if (rc != 0) {
        rc = cl_errf(err, rc, "%s/%s: byte 0: %s", reldir, name, why);
        goto fail;
    }
    seg->size = (uint64_t)st.st_size;
    seg->next_offset = base;
    return 0;
fail:
    cl_segment_close(seg);
    return rc;
}

int cl_segment_rewrite_header(struct cl_segment *seg, const char *reldir,
                              int64_t now_ms, struct cl_err *err)
{
    uint8_t hdr[CL_SEG_HEADER_SIZE];
    cl_segment_header_encode(hdr, seg->base, now_ms);
    int rc = cl_io_ftruncate("seg.truncate", seg->fd, 0);
    if (rc == 0) {
        rc = cl_io_pwrite_all("seg.create.write", seg->fd, hdr, sizeof(hdr),
                              0);
    }
    if (rc == 0) {
        rc = cl_io_fdatasync("seg.create.fsync", seg->fd);
    }
    if (rc < 0) {
        return seg_sys(err, rc, seg, reldir, "rewrite header");
    }
    seg->created_ms = now_ms;
    seg->size = CL_SEG_HEADER_SIZE;
    seg->next_offset = seg->base;
    return 0;
}

void cl_segment_close(struct cl_segment *seg)
{
    if (seg->fd >= 0) {
        cl_io_close(seg->fd);
    }
    cl_index_close(&seg->idx);
    seg->fd = -1;
    seg->idx_loaded = 0;
}

int cl_segment_load_index(struct cl_segment *seg, int dirfd,
                          const char *reldir, unsigned fmode,
                          struct cl_err *err)
{
    if (seg->idx_loaded) {
        return 0;
    }
    if (seg->idx.fd < 0) {
        int rc = cl_index_open(&seg->idx, dirfd, reldir, seg->base, 1, fmode,
                               err);
        if (rc != 0) {
            return rc;
        }
    }
    int rc = cl_index_load(&seg->idx, CL_SEG_HEADER_SIZE, seg->size, NULL,
                           reldir, seg->base, err);
    if (rc == 0) {
        seg->idx_loaded = 1;
    }
    seg->tck_pos = 0; /* the time index must be proven again */
    return rc;
}

/* ---- scanning --------------------------------------------------------- */

struct scanbuf {
    uint8_t *buf;
    size_t cap;
    uint64_t start; /* file position of buf[0] */
    size_t len;     /* valid bytes in buf */
};

/* Make [pos, pos + need) available in sb (reading at least a chunk). */
static int sb_fill(struct scanbuf *sb, int fd, uint64_t pos, size_t need,
                   uint64_t fsize)
{
    if (pos >= sb->start && pos + need <= sb->start + sb->len) {
        return 0;
    }
    size_t want = need > SCAN_CHUNK ? need : SCAN_CHUNK;
    if (pos + want > fsize) {
        want = (size_t)(fsize - pos);
    }
    if (want > sb->cap) {
        uint8_t *nb = cl_io_realloc(sb->buf, want);
        if (nb == NULL) {
            return -ENOMEM;
        }
        sb->buf = nb;
        sb->cap = want;
    }
    ssize_t got = cl_io_pread_all("seg.read", fd, sb->buf, want, pos);
    if (got < 0) {
        return (int)got;
    }
    sb->start = pos;
    sb->len = (size_t)got;
    return 0;
}

/* Is there a valid batch at pos with base offset >= min_offset? */
static int valid_batch_at(struct scanbuf *sb, int fd, uint64_t pos,
                          uint64_t fsize, int64_t min_offset)
{
    struct cl_batch_hdr h;
    if (sb_fill(sb, fd, pos, CL_BATCH_HEADER_SIZE, fsize) != 0) {
        return 0;
    }
    const uint8_t *p = sb->buf + (pos - sb->start);
    size_t avail = sb->len - (size_t)(pos - sb->start);
    if (avail < CL_BATCH_HEADER_SIZE || p[16] != CL_BATCH_MAGIC ||
        cl_record_batch_header(p, avail, &h) != 0 ||
        h.base_offset < min_offset ||
        pos + cl_record_batch_total(&h) > fsize) {
        return 0;
    }
    size_t total = cl_record_batch_total(&h);
    if (sb_fill(sb, fd, pos, total, fsize) != 0) {
        return 0;
    }
    p = sb->buf + (pos - sb->start);
    return cl_record_batch_check_crc(p, total) == 0;
}

/* Look for any valid batch in (from, fsize). */
static void search_after(struct scanbuf *sb, int fd, uint64_t from,
                         uint64_t fsize, int64_t min_offset,
                         struct cl_scan *res)
{
    for (uint64_t q = from + 1; q + CL_BATCH_HEADER_SIZE <= fsize; q++) {
        if (valid_batch_at(sb, fd, q, fsize, min_offset)) {
            res->valid_after = 1;
            res->valid_after_pos = q;
            return;
        }
    }
}

/* Check the batch at pos; returns its total size, 0 if it is bad (why set),
 * or a negative errno. */
static ssize_t check_batch(struct scanbuf *sb, int fd, uint64_t pos,
                           uint64_t fsize, int64_t expected, int full,
                           struct cl_batch_hdr *h, char *why, size_t whysize)
{
    h->batch_length = -1; /* marks an incomplete batch for the caller */
    if (fsize - pos < CL_BATCH_HEADER_SIZE) {
        snprintf(why, whysize, "incomplete batch header (%llu bytes)",
                 (unsigned long long)(fsize - pos));
        return 0;
    }
    int rc = sb_fill(sb, fd, pos, CL_BATCH_HEADER_SIZE, fsize);
    if (rc < 0) {
        return rc;
    }
    const uint8_t *p = sb->buf + (pos - sb->start);
    rc = cl_record_batch_header(p, CL_BATCH_HEADER_SIZE, h);
    if (rc != 0) {
        h->batch_length = 0;
        snprintf(why, whysize, "bad batch header");
        return 0;
    }
    size_t total = cl_record_batch_total(h);
    if (total > fsize - pos) {
        snprintf(why, whysize, "batch of %zu bytes runs past the end", total);
        h->batch_length = -1;
        return 0;
    }
    if (expected >= 0 && h->base_offset != expected) {
        snprintf(why, whysize, "batch base offset %lld, expected %lld",
                 (long long)h->base_offset, (long long)expected);
        return 0;
    }
    rc = sb_fill(sb, fd, pos, total, fsize);
    if (rc < 0) {
        return rc;
    }
    p = sb->buf + (pos - sb->start);
    if (full) {
        rc = cl_record_batch_validate(p, total, why, whysize);
    } else {
        rc = cl_record_batch_check_crc(p, total);
        if (rc != 0) {
            snprintf(why, whysize, "batch CRC mismatch");
        }
    }
    return rc == 0 ? (ssize_t)total : 0;
}

int cl_segment_scan(struct cl_segment *seg, const char *reldir, uint64_t pos,
                    int64_t expected_offset, int full, cl_scan_fn *fn,
                    void *opaque, struct cl_scan *res, struct cl_err *err)
{
    struct stat st;
    struct scanbuf sb = {0};
    int rc = cl_io_fstat("seg.stat", seg->fd, &st);
    if (rc < 0) {
        return seg_sys(err, rc, seg, reldir, "fstat");
    }
    uint64_t fsize = (uint64_t)st.st_size;
    res->end = pos;
    res->next_offset = expected_offset;
    res->file_size = fsize;
    res->bad = 0;
    res->incomplete = 0;
    res->valid_after = 0;
    res->why[0] = '\0';
    while (res->end < fsize) {
        struct cl_batch_hdr h;
        ssize_t total = check_batch(&sb, seg->fd, res->end, fsize,
                                    res->next_offset, full, &h, res->why,
                                    sizeof(res->why));
        if (total < 0) {
            cl_io_free(sb.buf);
            return seg_sys(err, (int)total, seg, reldir, "read");
        }
        if (total == 0) {
            res->bad = 1;
            res->incomplete = h.batch_length == -1;
            search_after(&sb, seg->fd, res->end, fsize, res->next_offset,
                         res);
            break;
        }
        if (fn) {
            const uint8_t *p = sb.buf + (res->end - sb.start);
            rc = fn(opaque, p, &h, res->end);
            if (rc != 0) {
                cl_io_free(sb.buf);
                return rc;
            }
        }
        if (h.max_timestamp > res->max_ts) {
            res->max_ts = h.max_timestamp;
            res->max_ts_rel =
                (uint32_t)(h.base_offset + h.last_offset_delta - seg->base);
        }
        res->end += (uint64_t)total;
        res->next_offset = h.base_offset + h.last_offset_delta + 1;
    }
    cl_io_free(sb.buf);
    return 0;
}

/* ---- recovery and indexing -------------------------------------------- */

int cl_segment_index_batch(struct cl_segment *seg, const char *reldir,
                           uint64_t pos, size_t len, int64_t first,
                           int64_t last, int64_t max_ts,
                           int64_t index_interval, struct cl_err *err)
{
    if (max_ts > seg->max_ts) {
        seg->max_ts = max_ts;
        seg->max_ts_rel = (uint32_t)(last - seg->base);
    }
    uint64_t since = pos - CL_SEG_HEADER_SIZE;
    if (seg->idx.n > 0) {
        since = pos - seg->idx.ent[seg->idx.n - 1].pos;
    }
    (void)len;
    if ((int64_t)since <= index_interval || pos == CL_SEG_HEADER_SIZE) {
        return 0;
    }
    return cl_index_append(&seg->idx, (uint32_t)(first - seg->base),
                           (uint32_t)pos, seg->max_ts, seg->max_ts_rel,
                           reldir, seg->base, err);
}

struct reindex {
    struct cl_segment *seg;
    const char *reldir;
    int64_t interval;
    struct cl_err *err;
    int full; /* the disk is full: index entries are left out */
};

/* Indexes are derived (a reader scans around a missing entry): a full disk
 * while writing them back must not stop recovery, and so the opening of a
 * full data directory (which then cannot be cleaned up by this library).
 * Other errors still fail. */
static int reindex_fn(void *opaque, const uint8_t *batch,
                      const struct cl_batch_hdr *h, uint64_t pos)
{
    struct reindex *ri = opaque;
    (void)batch;
    if (ri->full) {
        return 0;
    }
    int rc = cl_segment_index_batch(ri->seg, ri->reldir, pos,
                                    cl_record_batch_total(h), h->base_offset,
                                    h->base_offset + h->last_offset_delta,
                                    h->max_timestamp, ri->interval, ri->err);
    if (rc == CRAWLLOG_ENOSPC) {
        ri->full = 1;
        ri->err->msg[0] = '\0';
        return 0;
    }
    return rc;
}

/* Where to resume scanning: the last index entry (dropping entries that do
 * not point at a plausible batch start with the right offset). */
static int recover_start(struct cl_segment *seg, const char *reldir,
                         int full, uint64_t *posp, int64_t *offp,
                         struct cl_err *err)
{
    int64_t keep_rel = -1; /* time entries up to this relative offset */
    *posp = CL_SEG_HEADER_SIZE;
    *offp = seg->base;
    while (seg->idx.n > 0) {
        struct cl_index_entry e = seg->idx.ent[seg->idx.n - 1];
        uint8_t hb[CL_BATCH_HEADER_SIZE];
        struct cl_batch_hdr h;
        ssize_t got = cl_io_pread_all("seg.read", seg->fd, hb, sizeof(hb),
                                      e.pos);
        if (got < 0) {
            return seg_sys(err, (int)got, seg, reldir, "read");
        }
        if (!full && (size_t)got == sizeof(hb) &&
            cl_record_batch_header(hb, sizeof(hb), &h) == 0 &&
            h.base_offset == seg->base + e.rel) {
            *posp = e.pos;
            *offp = h.base_offset;
            keep_rel = h.base_offset + h.last_offset_delta - seg->base;
            break;
        }
        seg->idx.n--;
    }
    /* A time entry written with the resume point's index entry covers the
     * batches up to and including that batch, which the scan re-reads, so
     * keeping it is exact; later ones are re-added by the scan. */
    while (seg->idx.tn > 0 &&
           (int64_t)seg->idx.tent[seg->idx.tn - 1].rel > keep_rel) {
        seg->idx.tn--;
    }
    seg->max_ts = seg->idx.tn ? seg->idx.tent[seg->idx.tn - 1].ts : -1;
    seg->max_ts_rel = seg->idx.tn ? seg->idx.tent[seg->idx.tn - 1].rel : 0;
    /* The entry at the resume point is re-added by the scan too. */
    if (seg->idx.n > 0 && seg->idx.ent[seg->idx.n - 1].pos == *posp) {
        seg->idx.n--;
    }
    return cl_index_truncate(&seg->idx, *posp,
                             keep_rel < 0 ? 0 : (uint32_t)keep_rel + 1,
                             reldir, seg->base, err);
}

int cl_segment_recover(struct cl_segment *seg, int dirfd, const char *reldir,
                       int full, uint64_t keep_below,
                       int64_t index_interval, unsigned fmode,
                       uint64_t *truncatedp, struct cl_err *err)
{
    char path[512];
    uint64_t pos;
    int64_t off;
    struct cl_scan res;
    if (truncatedp) {
        *truncatedp = 0;
    }
    seg->idx_loaded = 0;
    int rc = cl_segment_load_index(seg, dirfd, reldir, fmode, err);
    if (rc == 0) {
        rc = recover_start(seg, reldir, full, &pos, &off, err);
    }
    if (rc != 0) {
        return rc;
    }
    memset(&res, 0, sizeof(res));
    res.max_ts = -1;
    struct reindex ri = {seg, reldir, index_interval, err, 0};
    rc = cl_segment_scan(seg, reldir, pos, off, 0, reindex_fn, &ri, &res,
                         err);
    if (rc != 0) {
        return rc;
    }
    seg_path(path, sizeof(path), reldir, seg->base);
    /* Within one boot the page cache is coherent: a writer that died
     * mid-write leaves a batch cut short at the end of the file and nothing
     * else, so any other damage (a complete batch with a bad CRC, a bad
     * header, valid data after the damage) is corruption.  After a power
     * loss (full) unsynced pages may persist in any order or as zeros, so
     * only damage below the durable mark is corruption. */
    if (res.bad && ((!full && (res.valid_after || !res.incomplete)) ||
                    res.end < keep_below)) {
        char more[96] = "";
        if (res.valid_after) {
            snprintf(more, sizeof(more), "; a valid batch follows at byte %llu",
                     (unsigned long long)res.valid_after_pos);
        } else if (res.end < keep_below) {
            snprintf(more, sizeof(more), "; %llu bytes were synced",
                     (unsigned long long)keep_below);
        }
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: byte %llu: %s%s; not truncated (run crawllog "
                       "verify)",
                       path, (unsigned long long)res.end, res.why, more);
    }
    if (res.end < res.file_size) {
        rc = cl_io_ftruncate("seg.recover.truncate", seg->fd, res.end);
        if (rc == 0) {
            rc = cl_io_fdatasync("seg.recover.fsync", seg->fd);
        }
        if (rc < 0) {
            return seg_sys(err, rc, seg, reldir, "truncate torn tail");
        }
        if (truncatedp) {
            *truncatedp = res.file_size - res.end;
        }
    }
    seg->size = res.end;
    seg->next_offset = res.next_offset;
    return 0;
}

/* Check the time entries whose relative offset lies in a batch covering
 * [first_rel, last_rel], given the running maximum after that batch. */
static void check_time_entries(struct cl_segment *seg, int64_t first_rel,
                               int64_t last_rel)
{
    struct cl_index *idx = &seg->idx;
    while (!seg->tck_bad && seg->tck_n < idx->tn &&
           idx->tent[seg->tck_n].rel <= last_rel) {
        const struct cl_time_entry *te = &idx->tent[seg->tck_n];
        if ((int64_t)te->rel < first_rel || te->ts != seg->tck_max) {
            seg->tck_bad = 1; /* trust nothing from here on */
            return;
        }
        seg->tck_n++;
    }
}

int cl_segment_check_timeindex(struct cl_segment *seg, const char *reldir,
                               struct cl_err *err)
{
    if (seg->tck_pos == 0) {
        seg->tck_pos = CL_SEG_HEADER_SIZE;
        seg->tck_max = -1;
        seg->tck_n = 0;
        seg->tck_bad = 0;
    }
    while (seg->tck_pos < seg->size) {
        uint8_t hb[CL_BATCH_HEADER_SIZE];
        struct cl_batch_hdr h;
        ssize_t got = cl_io_pread_all("seg.read", seg->fd, hb, sizeof(hb),
                                      seg->tck_pos);
        if (got < 0) {
            return seg_sys(err, (int)got, seg, reldir, "read");
        }
        if ((size_t)got < sizeof(hb) ||
            cl_record_batch_header(hb, sizeof(hb), &h) != 0) {
            char path[512];
            seg_path(path, sizeof(path), reldir, seg->base);
            return cl_errf(err, CRAWLLOG_ECORRUPT,
                           "%s: byte %llu: bad batch header", path,
                           (unsigned long long)seg->tck_pos);
        }
        int64_t first = h.base_offset - seg->base;
        int64_t last = first + h.last_offset_delta;
        if (h.max_timestamp > seg->tck_max) {
            seg->tck_max = h.max_timestamp;
            seg->tck_max_rel = (uint32_t)last;
        }
        check_time_entries(seg, first, last);
        seg->tck_pos += cl_record_batch_total(&h);
    }
    return 0;
}

int cl_segment_seal(struct cl_segment *seg, const char *reldir,
                    struct cl_err *err)
{
    if (seg->max_ts >= 0) {
        int rc = cl_index_append_time(&seg->idx, seg->max_ts,
                                      seg->max_ts_rel, reldir, seg->base, err);
        if (rc != 0) {
            return rc;
        }
    }
    int rc = cl_io_fdatasync("seg.roll.fsync", seg->fd);
    if (rc < 0) {
        return seg_sys(err, rc, seg, reldir, "fdatasync");
    }
    return cl_index_sync(&seg->idx, reldir, seg->base, err);
}

int cl_segment_find(struct cl_segment *seg, const char *reldir,
                    int64_t offset, uint64_t *posp, struct cl_err *err)
{
    struct cl_index_entry e;
    uint64_t pos = CL_SEG_HEADER_SIZE;
    int64_t check = -1; /* offset the batch at an index entry must hold */
    if (offset >= seg->next_offset) {
        *posp = seg->size;
        return 1;
    }
    if (offset > seg->base &&
        cl_index_lookup(&seg->idx, (uint32_t)(offset - seg->base), &e) == 0) {
        pos = e.pos;
        check = seg->base + e.rel;
    }
    while (pos < seg->size) {
        uint8_t hb[CL_BATCH_HEADER_SIZE];
        struct cl_batch_hdr h;
        ssize_t got = cl_io_pread_all("seg.read", seg->fd, hb, sizeof(hb),
                                      pos);
        if (got < 0) {
            return seg_sys(err, (int)got, seg, reldir, "read");
        }
        int bad = (size_t)got < sizeof(hb) ||
                  cl_record_batch_header(hb, sizeof(hb), &h) != 0;
        if (check >= 0 && (bad || h.base_offset != check)) {
            /* A damaged or stale index entry: an index is derived data
             * and never trusted over the log, so scan from the start. */
            pos = CL_SEG_HEADER_SIZE;
            check = -1;
            continue;
        }
        check = -1;
        if (bad) {
            char path[512];
            seg_path(path, sizeof(path), reldir, seg->base);
            return cl_errf(err, CRAWLLOG_ECORRUPT,
                           "%s: byte %llu: bad batch header", path,
                           (unsigned long long)pos);
        }
        if (h.base_offset + h.last_offset_delta >= offset) {
            *posp = pos;
            return 0;
        }
        pos += cl_record_batch_total(&h);
    }
    *posp = seg->size;
    return 1;
}
