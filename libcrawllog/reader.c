/*
 * reader.c - crawllog_reader_t: follow one partition from an offset.
 *
 * Owns nothing on disk; it opens segment files read-only by name.
 *
 * A reader reads whole batches with one pread per batch set into its own
 * buffer and hands out records as views into that buffer (no per-record
 * copy).  Every batch's CRC is checked before any record of it is returned.
 *
 * Invariants:
 *  - Only batches whose base offset is below the log end offset published
 *    in the partition's shared state (loaded with acquire order) are used:
 *    the writer stores it after the bytes are in the file, so those batches
 *    are complete, and a batch being written is never seen half-done.
 *  - Offsets are contiguous: each batch must start where the last one
 *    ended, or the read fails with CRAWLLOG_ECORRUPT.
 *  - When a segment ends below the log end, the next segment is the file
 *    named by the next offset (rolls keep bases contiguous).  If it is gone
 *    (retention), the position is looked up again and may be out of range.
 *
 * Transactions (issue 10): control batches (markers) are never returned
 * and the position moves past them.  In read_committed (the default) a
 * transactional data batch is returned only once its fate
 * (txn_scan.c: the first marker of its producer after it) is COMMIT,
 * skipped if ABORT, and while it has none the reader stops before it:
 * the batch stays first in the buffer, nothing after it (the last stable
 * offset) is returned, the position is its first offset (or the position
 * if inside it).  Blocked there for a second or more, the reader calls
 * cl_txn_recover_stale (at most once a second) to abort a dead producer's
 * transaction.  crawllog_reader_fetch returns raw batches, markers and
 * aborted ones included (its caller, a migration, filters them).
 *
 * Locks: a reader is used by one thread at a time.  It takes the partition
 * lock only to locate a position (seek, and after retention).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "control.h"
#include "io.h"
#include "log.h"
#include "names.h"
#include "reader.h"
#include "record.h"
#include "txn.h"
#include "txn_scan.h"

#define READ_CHUNK (256 * 1024)
/* Most bytes one crawllog_reader_fetch() reads ahead ("at most max_bytes"):
 * the read buffer is sized by the request, so a huge max_bytes (SIZE_MAX)
 * must not become the allocation size.  A larger batch is still read. */
#define FETCH_MAX ((size_t)64 * 1024 * 1024)
/* A reader blocked this long at an open transaction asks for stale ones to
 * be aborted, and again at most this often. */
#define RECOVER_NS ((int64_t)1000000000)


static int rd_fail(crawllog_reader_t *rd, int rc, const struct cl_err *err)
{
    cl_err_copy(rd->errmsg, sizeof(rd->errmsg),
                err->msg[0] ? err->msg : crawllog_strerror(rc));
    return rc;
}

const char *crawllog_reader_errmsg(const crawllog_reader_t *rd)
{
    CL_BACKEND(rd, reader_errmsg, rd);
    return rd ? rd->errmsg : "";
}

static void reset(crawllog_reader_t *rd, int64_t offset)
{
    if (rd->fd >= 0) {
        cl_io_close(rd->fd);
    }
    rd->fd = -1;
    rd->next = offset;
    rd->expect = -1;
    rd->len = rd->off = 0;
    rd->in_batch = 0;
    rd->blocked = 0;
    rd->blocked_at = -1;
}

int crawllog_reader_new(crawllog_reader_t **rdp, crawllog_t *log,
                        const char *topic, int32_t partition)
{
    CL_BACKEND(log, reader_new, rdp, log, topic, partition);
    struct cl_err err = {{0}};
    struct cl_partition *part;
    int64_t start;
    if (rdp) {
        *rdp = NULL;
    }
    if (rdp == NULL || log == NULL || topic == NULL) {
        return log ? cl_log_fail(log, cl_errf(&err, CRAWLLOG_EINVAL,
                                              "rdp and topic needed"), &err)
                   : CRAWLLOG_EINVAL;
    }
    int rc = cl_log_partition(log, topic, partition, &part, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    crawllog_reader_t *rd = cl_io_calloc(1, sizeof(*rd));
    if (rd == NULL || (rd->topic = cl_io_strdup(topic)) == NULL) {
        cl_io_free(rd);
        cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
        return cl_log_fail(log, CRAWLLOG_ENOMEM, &err);
    }
    rd->log = log;
    rd->part = part;
    rd->partition = partition;
    rd->msg.topic = rd->topic;
    rd->msg.partition = partition;
    rd->fd = -1;
    rd->isolation = CRAWLLOG_READ_COMMITTED;
    cl_partition_offsets(part, &start, NULL, &err);
    reset(rd, start);
    *rdp = rd;
    return 0;
}

void crawllog_reader_destroy(crawllog_reader_t *rd)
{
    CL_BACKEND_VOID(rd, reader_destroy, rd);
    if (rd == NULL) {
        return;
    }
    reset(rd, 0);
    cl_txn_scan_free(rd->scan);
    cl_io_free(rd->buf);
    cl_io_free(rd->topic);
    cl_io_free(rd);
}

int crawllog_reader_seek(crawllog_reader_t *rd, int64_t offset)
{
    CL_BACKEND(rd, reader_seek, rd, offset);
    struct cl_err err = {{0}};
    int64_t start, end;
    if (rd == NULL) {
        return CRAWLLOG_EINVAL;
    }
    cl_partition_offsets(rd->part, &start, &end, &err);
    if (offset < start || offset > end) {
        cl_errf(&err, CRAWLLOG_EOFFSET,
                "%s: offset %" PRId64 " is outside [%" PRId64 ", %" PRId64
                "]",
                rd->part->reldir, offset, start, end);
        return rd_fail(rd, CRAWLLOG_EOFFSET, &err);
    }
    reset(rd, offset);
    return 0;
}

int crawllog_reader_seek_time(crawllog_reader_t *rd, int64_t timestamp_ms,
                              int64_t *offsetp)
{
    CL_BACKEND(rd, reader_seek_time, rd, timestamp_ms, offsetp);
    struct cl_err err = {{0}};
    int64_t off;
    if (offsetp) {
        *offsetp = -1;
    }
    if (rd == NULL) {
        return CRAWLLOG_EINVAL;
    }
    int rc = cl_partition_offset_for_time(rd->part, timestamp_ms, &off, &err);
    if (rc != 0) {
        return rd_fail(rd, rc, &err);
    }
    reset(rd, off);
    if (offsetp) {
        *offsetp = off;
    }
    return 0;
}

int64_t crawllog_reader_position(const crawllog_reader_t *rd)
{
    return rd ? rd->next : -1;
}

int crawllog_reader_set_isolation(crawllog_reader_t *rd, int level)
{
    CL_BACKEND(rd, reader_set_isolation, rd, level);
    struct cl_err err = {{0}};
    if (rd == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (level != CRAWLLOG_READ_COMMITTED &&
        level != CRAWLLOG_READ_UNCOMMITTED) {
        cl_errf(&err, CRAWLLOG_EINVAL, "unknown isolation level %d", level);
        return rd_fail(rd, CRAWLLOG_EINVAL, &err);
    }
    rd->isolation = level;
    rd->blocked = 0;
    return 0;
}

int cl_reader_blocked(const crawllog_reader_t *rd)
{
    return rd ? rd->blocked : 0;
}

/* Open the segment that holds rd->next. */
static int locate(crawllog_reader_t *rd, struct cl_err *err)
{
    char name[64];
    int64_t base;
    uint64_t pos;
    int rc = cl_partition_locate(rd->part, rd->next, &base, &pos, err);
    if (rc != 0) {
        return rc;
    }
    cl_names_segment(name, sizeof(name), base, ".log");
    int fd = cl_io_openat("reader.open", rd->part->dirfd, name, O_RDONLY, 0);
    if (fd < 0) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", rd->part->reldir, name);
        return cl_err_sys(err, -fd, path, "open");
    }
    if (rd->fd >= 0) {
        cl_io_close(rd->fd);
    }
    rd->fd = fd;
    rd->seg_base = base;
    rd->pos = pos;
    rd->expect = -1;
    return 0;
}

/* The current segment is used up below the log end: go to the next. */
static int next_segment(crawllog_reader_t *rd, struct cl_err *err)
{
    char name[64];
    cl_names_segment(name, sizeof(name), rd->expect, ".log");
    int fd = cl_io_openat("reader.open", rd->part->dirfd, name, O_RDONLY, 0);
    if (fd == -ENOENT) {
        return locate(rd, err); /* deleted by retention, or a gap */
    }
    if (fd < 0) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", rd->part->reldir, name);
        return cl_err_sys(err, -fd, path, "open");
    }
    cl_io_close(rd->fd);
    rd->fd = fd;
    rd->seg_base = rd->expect;
    rd->pos = 64; /* CL_SEG_HEADER_SIZE; the header was checked at open */
    return 0;
}

static int corrupt(crawllog_reader_t *rd, uint64_t pos, const char *why,
                   struct cl_err *err)
{
    char name[64];
    cl_names_segment(name, sizeof(name), rd->seg_base, ".log");
    return cl_errf(err, CRAWLLOG_ECORRUPT, "%s/%s: byte %" PRIu64 ": %s",
                   rd->part->reldir, name, pos, why);
}

/* Keep the complete, published, CRC-checked batches of buf[0, got). */
static int take_batches(crawllog_reader_t *rd, size_t got, int64_t end,
                        size_t *usedp, size_t *needp, struct cl_err *err)
{
    size_t p = 0;
    const char *why = NULL;
    *needp = 0;
    while (p + CL_BATCH_HEADER_SIZE <= got) {
        struct cl_batch_hdr h;
        if (cl_record_batch_header(rd->buf + p, got - p, &h) != 0) {
            why = "bad batch header";
            break;
        }
        if (h.base_offset >= end &&
            (rd->expect < 0 || rd->expect >= end)) {
            break; /* not published yet */
        }
        if (rd->expect >= 0 && h.base_offset != rd->expect) {
            why = "offsets are not contiguous";
            break;
        }
        size_t total = cl_record_batch_total(&h);
        if (total > got - p) {
            *needp = total;
            break;
        }
        if (cl_record_batch_check_crc(rd->buf + p, total) != 0) {
            why = "batch CRC mismatch";
            break;
        }
        rd->expect = h.base_offset + h.last_offset_delta + 1;
        p += total;
    }
    /* Hand out the good batches before the damage first; the next read
     * starts at the damaged one and reports it. */
    if (why != NULL && p == 0) {
        return corrupt(rd, rd->pos, why, err);
    }
    if (p == 0 && *needp == 0 && got > 0 && got < CL_BATCH_HEADER_SIZE) {
        *needp = CL_BATCH_HEADER_SIZE;
    }
    *usedp = p;
    return 0;
}

static int grow_buf(crawllog_reader_t *rd, size_t need, struct cl_err *err)
{
    if (need <= rd->cap) {
        return 0;
    }
    uint8_t *b = cl_io_realloc(rd->buf, need);
    if (b == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    rd->buf = b;
    rd->cap = need;
    return 0;
}

/* Read buffered batches from the current segment; *usedp = 0 when it has
 * no more below the log end. */
static int read_segment(crawllog_reader_t *rd, size_t want, int64_t end,
                        size_t *usedp, struct cl_err *err)
{
    size_t need = want, more;
    for (;;) {
        int rc = grow_buf(rd, need, err);
        if (rc != 0) {
            return rc;
        }
        ssize_t got = cl_io_pread_all("reader.read", rd->fd, rd->buf, need,
                                      rd->pos);
        if (got < 0) {
            return cl_err_sys(err, (int)-got, rd->part->reldir, "read");
        }
        rc = take_batches(rd, (size_t)got, end, usedp, &more, err);
        if (rc != 0 || *usedp > 0 || more == 0) {
            return rc;
        }
        if ((size_t)got < need || more <= need) {
            /* Published, yet the file ends inside the batch. */
            return corrupt(rd, rd->pos, "batch cut short", err);
        }
        /* Never allocate from a length field the file cannot hold (a
         * damaged one may say 2 GiB). */
        struct stat st;
        rc = cl_io_fstat("reader.stat", rd->fd, &st);
        if (rc != 0) {
            return cl_err_sys(err, -rc, rd->part->reldir, "stat");
        }
        if (rd->pos + more > (uint64_t)st.st_size) {
            return corrupt(rd, rd->pos, "batch length past the end of the "
                           "file", err);
        }
        need = more; /* one batch larger than the buffer */
    }
}

/* Read more whole batches.  *eofp = 1 when the log end is reached. */
static int fill(crawllog_reader_t *rd, size_t want, int *eofp,
                struct cl_err *err)
{
    int64_t end;
    *eofp = 0;
    rd->len = rd->off = 0;
    for (int hops = 0; hops < 1000; hops++) {
        size_t used = 0;
        cl_partition_offsets(rd->part, NULL, &end, err);
        if (rd->next >= end) {
            *eofp = 1;
            return 0;
        }
        int rc = rd->fd < 0 ? locate(rd, err) : 0;
        if (rc == 0) {
            rc = read_segment(rd, want, end, &used, err);
        }
        if (rc != 0) {
            return rc;
        }
        if (used > 0) {
            rd->len = used;
            rd->pos += used;
            return 0;
        }
        if (rd->expect < 0) {
            rd->expect = rd->next;
        }
        rc = next_segment(rd, err); /* this one has nothing more */
        if (rc != 0) {
            return rc;
        }
    }
    return cl_errf(err, CRAWLLOG_ECORRUPT,
                   "%s: no segment holds offset %" PRId64, rd->part->reldir,
                   rd->next);
}

/* The fate of the transactional data batch h (txn_scan.h CL_TXN_FATE_*).
 * Open for a second or more: once a second, stale transactions are
 * aborted (error ignored: best effort) and the fate asked again. */
static int batch_fate(crawllog_reader_t *rd, const struct cl_batch_hdr *h,
                      int *fatep, struct cl_err *err)
{
    int64_t last = h->base_offset + h->last_offset_delta;
    int rc = rd->scan ? 0 : cl_txn_scan_new(&rd->scan, rd->part, err);
    if (rc == 0) {
        rc = cl_txn_scan_fate(rd->scan, h->producer_id, last, fatep, err);
    }
    if (rc != 0 || *fatep != CL_TXN_FATE_OPEN) {
        return rc;
    }
    int64_t now = cl_io_mono_ns();
    if (rd->blocked_at != h->base_offset) {
        rd->blocked_at = h->base_offset;
        rd->blocked_since = now;
        return 0;
    }
    if (now - rd->blocked_since < RECOVER_NS ||
        (rd->recovered_ns != 0 && now - rd->recovered_ns < RECOVER_NS)) {
        return 0;
    }
    struct cl_err ignored = {{0}};
    rd->recovered_ns = now;
    (void)cl_txn_recover_stale(rd->log, NULL, &ignored);
    return cl_txn_scan_fate(rd->scan, h->producer_id, last, fatep, err);
}

/* Whether the batch h (first in the buffer) is returned: 1, 0 to skip it
 * (a marker, or aborted in read_committed), 2 to stop before it (open
 * transaction in read_committed), or an error (< 0). */
static int batch_visible(crawllog_reader_t *rd, const struct cl_batch_hdr *h,
                         struct cl_err *err)
{
    int fate;
    if (cl_control_is_control(h->attributes)) {
        return 0;
    }
    if (rd->isolation != CRAWLLOG_READ_COMMITTED ||
        !cl_control_is_transactional(h->attributes)) {
        return 1;
    }
    int rc = batch_fate(rd, h, &fate, err);
    if (rc != 0) {
        return rc;
    }
    return fate == CL_TXN_FATE_OPEN ? 2 : fate == CL_TXN_FATE_COMMIT;
}

/* The next record into *msg: 1, or 0 if none now (see reader.h). */
static int next_into(crawllog_reader_t *rd, int may_fill, size_t fill_bytes,
                     struct crawllog_msg_s *msg, struct cl_err *err)
{
    rd->blocked = 0;
    for (;;) {
        if (rd->in_batch) {
            int rc = cl_record_iter_next(&rd->it, &msg->rv);
            if (rc == 0) {
                if (msg->rv.offset < rd->next) {
                    continue; /* before the position asked for */
                }
                rd->next = msg->rv.offset + 1;
                return 1;
            }
            rd->in_batch = 0;
            if (rc < 0) {
                return corrupt(rd, rd->pos, "bad record", err);
            }
        }
        if (rd->off < rd->len) {
            struct cl_batch_hdr h;
            cl_record_batch_header(rd->buf + rd->off, rd->len - rd->off, &h);
            size_t total = cl_record_batch_total(&h);
            int rc = batch_visible(rd, &h, err);
            if (rc == 2) {
                rd->blocked = 1; /* the batch stays first in the buffer */
                return 0;
            }
            if (rc == 0) { /* past a marker or an aborted batch */
                int64_t last = h.base_offset + h.last_offset_delta;
                rd->off += total;
                rd->next = rd->next > last ? rd->next : last + 1;
                continue;
            }
            if (rc < 0) {
                return rc;
            }
            rc = cl_record_iter_init(&rd->it, rd->buf + rd->off, total);
            if (rc != 0) {
                return corrupt(rd, rd->pos, "bad batch", err);
            }
            rd->batch_start = rd->off;
            rd->off += total;
            rd->in_batch = 1;
            continue;
        }
        if (!may_fill) {
            return 0;
        }
        int eof, rc = fill(rd, fill_bytes, &eof, err);
        if (rc != 0) {
            return rc;
        }
        if (eof) {
            return 0;
        }
        /* Refilling again is fine only while this call has returned
         * nothing from the new buffer: it held only skipped batches
         * (markers, aborted).  Each fill moves on, so this ends. */
    }
}

int crawllog_reader_next(crawllog_reader_t *rd, const crawllog_msg_t **msgp)
{
    CL_BACKEND(rd, reader_next, rd, msgp);
    struct cl_err err;
    err.msg[0] = '\0'; /* not {0}: 512 bytes per record */
    if (msgp) {
        *msgp = NULL;
    }
    if (rd == NULL || msgp == NULL) {
        return rd ? rd_fail(rd, cl_errf(&err, CRAWLLOG_EINVAL,
                                        "msgp is NULL"), &err)
                  : CRAWLLOG_EINVAL;
    }
    int rc = next_into(rd, 1, READ_CHUNK, &rd->msg, &err);
    if (rc < 0) {
        return rd_fail(rd, rc, &err);
    }
    if (rc == 1) {
        *msgp = &rd->msg;
    }
    return 0;
}

int cl_reader_next_into(crawllog_reader_t *rd, int may_fill,
                        size_t fill_bytes, struct crawllog_msg_s *msg,
                        int *gotp)
{
    struct cl_err err;
    err.msg[0] = '\0';
    *gotp = 0;
    int rc = next_into(rd, may_fill, fill_bytes, msg, &err);
    if (rc < 0) {
        return rd_fail(rd, rc, &err);
    }
    *gotp = rc;
    msg->topic = rd->topic;
    msg->partition = rd->partition;
    return 0;
}

struct cl_partition *cl_reader_partition(const crawllog_reader_t *rd)
{
    return rd->part;
}

int crawllog_reader_fetch(crawllog_reader_t *rd, size_t max_bytes,
                          const void **bufp, size_t *lenp)
{
    CL_BACKEND(rd, reader_fetch, rd, max_bytes, bufp, lenp);
    struct cl_err err;
    err.msg[0] = '\0'; /* not {0}: 512 bytes per record */
    if (bufp) {
        *bufp = NULL;
    }
    if (lenp) {
        *lenp = 0;
    }
    if (rd == NULL || bufp == NULL || lenp == NULL) {
        return rd ? rd_fail(rd, cl_errf(&err, CRAWLLOG_EINVAL,
                                        "bufp and lenp needed"), &err)
                  : CRAWLLOG_EINVAL;
    }
    size_t from = rd->in_batch ? rd->batch_start : rd->off;
    if (from >= rd->len) {
        size_t want = max_bytes > READ_CHUNK ? max_bytes : READ_CHUNK;
        int eof, rc = fill(rd, want < FETCH_MAX ? want : FETCH_MAX, &eof,
                           &err);
        if (rc != 0) {
            return rd_fail(rd, rc, &err);
        }
        if (eof) {
            return 0;
        }
        from = 0;
    }
    size_t p = from;
    int64_t last = rd->next - 1;
    while (p < rd->len) {
        struct cl_batch_hdr h;
        cl_record_batch_header(rd->buf + p, rd->len - p, &h);
        size_t total = cl_record_batch_total(&h);
        if (p > from && p - from + total > max_bytes) {
            break;
        }
        last = h.base_offset + h.last_offset_delta;
        p += total;
    }
    *bufp = rd->buf + from;
    *lenp = p - from;
    rd->off = p;
    rd->in_batch = 0;
    rd->next = last + 1;
    return 0;
}

/* ---- message accessors -------------------------------------------------- */

const char *crawllog_msg_topic(const crawllog_msg_t *msg)
{
    return msg ? msg->topic : NULL;
}

int32_t crawllog_msg_partition(const crawllog_msg_t *msg)
{
    return msg ? msg->partition : -1;
}

int64_t crawllog_msg_offset(const crawllog_msg_t *msg)
{
    return msg ? msg->rv.offset : -1;
}

int64_t crawllog_msg_timestamp(const crawllog_msg_t *msg)
{
    return msg ? msg->rv.timestamp : -1;
}

const void *crawllog_msg_key(const crawllog_msg_t *msg, size_t *lenp)
{
    if (lenp) {
        *lenp = msg && msg->rv.key ? (size_t)msg->rv.key_len : 0;
    }
    return msg ? msg->rv.key : NULL;
}

const void *crawllog_msg_value(const crawllog_msg_t *msg, size_t *lenp)
{
    if (lenp) {
        *lenp = msg && msg->rv.value ? (size_t)msg->rv.value_len : 0;
    }
    return msg ? msg->rv.value : NULL;
}

size_t crawllog_msg_header_count(const crawllog_msg_t *msg)
{
    return msg ? (size_t)msg->rv.header_count : 0;
}

int crawllog_msg_header(const crawllog_msg_t *msg, size_t i,
                        crawllog_header_t *hdr)
{
    if (msg == NULL || hdr == NULL) {
        return CRAWLLOG_EINVAL;
    }
    return cl_record_header_at(&msg->rv, i, hdr);
}
