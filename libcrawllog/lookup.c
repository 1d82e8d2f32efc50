/*
 * lookup.c - finding positions in a partition: the segment and byte
 * position of an offset (for readers) and the first offset at or after a
 * timestamp (layer 2).
 *
 * Owns nothing on disk; it reads segment headers, batches and indexes.
 *
 * Invariants: an offset lookup uses the sparse index only as a lower bound
 * that cl_segment_find() checks against the batch it points at, then reads
 * batch headers forward, so a damaged index costs time, never a wrong
 * answer.  A time lookup trusts only the time-index entries that
 * cl_segment_check_timeindex() proved against the batch headers, and a
 * segment's largest timestamp comes from its batch headers.
 *
 * Locks: every entry point takes the partition mutex and flock (the segment
 * list may change under another process's roll or retention otherwise).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "io.h"
#include "names.h"
#include "partition.h"
#include "record.h"

static size_t find_segment(const struct cl_partition *part, int64_t offset)
{
    size_t lo = 0, hi = part->nseg; /* first segment with base > offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (part->segs[mid].base <= offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : lo - 1;
}

static int locate_locked(struct cl_partition *part, int64_t offset,
                         int64_t *seg_basep, uint64_t *posp,
                         struct cl_err *err)
{
    struct cl_pstate_shm *s = part->ps.shm;
    int64_t start = atomic_load(&s->log_start);
    int64_t end = atomic_load(&s->next_offset);
    if (offset < start || offset > end) {
        return cl_errf(err, CRAWLLOG_EOFFSET,
                       "%s: offset %" PRId64 " is outside [%" PRId64
                       ", %" PRId64 "]",
                       part->reldir, offset, start, end);
    }
    struct cl_segment *seg = &part->segs[find_segment(part, offset)];
    int rc = cl_segment_load_index(seg, part->dirfd, part->reldir,
                                   part->conf.fmode, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_segment_find(seg, part->reldir, offset, posp, err);
    if (rc < 0) {
        return rc;
    }
    *seg_basep = seg->base;
    return 0;
}

int cl_partition_locate(struct cl_partition *part, int64_t offset,
                        int64_t *seg_basep, uint64_t *posp,
                        struct cl_err *err)
{
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_partition_sync_locked(part, err);
    if (rc == 0) {
        rc = locate_locked(part, offset, seg_basep, posp, err);
    }
    cl_partition_unlock(part);
    return rc;
}

/* Largest record timestamp of a segment (-1 if empty), from its batch
 * headers: a damaged time index must not make retention delete a segment
 * early or a time lookup skip one. */
int cl_partition_segment_max_ts(struct cl_partition *part,
                                struct cl_segment *seg, int64_t *tsp,
                                struct cl_err *err)
{
    int rc = cl_segment_load_index(seg, part->dirfd, part->reldir,
                                   part->conf.fmode, err);
    if (rc == 0) {
        rc = cl_segment_check_timeindex(seg, part->reldir, err);
    }
    *tsp = rc == 0 ? seg->tck_max : -1;
    return rc;
}

struct time_find {
    int64_t target;
    int64_t found;
};

static int time_find_fn(void *opaque, const uint8_t *batch,
                        const struct cl_batch_hdr *h, uint64_t pos)
{
    struct time_find *tf = opaque;
    struct cl_record_iter it;
    struct cl_record_view rv;
    (void)pos;
    if (h->max_timestamp < tf->target) {
        return 0;
    }
    int rc = cl_record_iter_init(&it, batch, cl_record_batch_total(h));
    while (rc == 0 && (rc = cl_record_iter_next(&it, &rv)) == 0) {
        if (rv.timestamp >= tf->target) {
            tf->found = rv.offset;
            return 1; /* stop the scan */
        }
    }
    return rc < 0 ? rc : 0;
}

int cl_partition_offset_for_time(struct cl_partition *part, int64_t ts,
                                 int64_t *offsetp, struct cl_err *err)
{
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_partition_sync_locked(part, err);
    *offsetp = part->segs[part->nseg - 1].next_offset;
    for (size_t i = 0; rc == 0 && i < part->nseg; i++) {
        struct cl_segment *seg = &part->segs[i];
        int64_t max_ts;
        struct cl_time_entry te;
        if ((rc = cl_partition_segment_max_ts(part, seg, &max_ts, err)) != 0 ||
            max_ts < ts) {
            continue;
        }
        uint64_t pos = CL_SEG_HEADER_SIZE;
        struct cl_index proven = seg->idx; /* only the checked entries */
        proven.tn = seg->tck_n;
        if (cl_index_time_lookup(&proven, ts, &te) == 0) {
            int64_t from = seg->base + te.rel + 1;
            rc = cl_segment_find(seg, part->reldir, from, &pos, err);
            if (rc < 0) {
                break;
            }
        }
        struct time_find tf = {ts, -1};
        struct cl_scan res;
        memset(&res, 0, sizeof(res));
        rc = cl_segment_scan(seg, part->reldir, pos, -1, 0, time_find_fn,
                             &tf, &res, err);
        if (rc == 1 || tf.found >= 0) {
            *offsetp = tf.found;
            rc = 0;
            break;
        }
    }
    cl_partition_unlock(part);
    return rc;
}

/* Markers skipped by one cl_partition_skip_markers call at most. */
#define SKIP_MAX 64

int cl_partition_skip_markers(struct cl_partition *part, int64_t offset,
                              int64_t *outp, struct cl_err *err)
{
    *outp = offset;
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_partition_sync_locked(part, err);
    for (int i = 0; rc == 0 && i < SKIP_MAX; i++) {
        int64_t base = 0, end = atomic_load(&part->ps.shm->next_offset);
        uint64_t pos = 0;
        uint8_t hdr[CL_BATCH_HEADER_SIZE];
        struct cl_batch_hdr h;
        char name[64];
        if (*outp >= end ||
            locate_locked(part, *outp, &base, &pos, err) != 0) {
            err->msg[0] = '\0';
            break; /* nothing (more) to skip, or not ours to judge */
        }
        cl_names_segment(name, sizeof(name), base, ".log");
        int fd = cl_io_openat("reader.open", part->dirfd, name, O_RDONLY, 0);
        if (fd < 0) {
            rc = cl_err_sys(err, -fd, part->reldir, "open");
            break;
        }
        ssize_t got = cl_io_pread_all("reader.read", fd, hdr, sizeof(hdr),
                                      pos);
        cl_io_close(fd);
        if (got < 0) {
            rc = cl_err_sys(err, (int)-got, part->reldir, "read");
        } else if ((size_t)got < sizeof(hdr) ||
                   cl_record_batch_header(hdr, sizeof(hdr), &h) != 0 ||
                   h.base_offset != *outp ||
                   !cl_control_is_control(h.attributes)) {
            break; /* a data batch (or one the readers will judge) */
        } else {
            *outp = h.base_offset + h.last_offset_delta + 1;
        }
    }
    cl_partition_unlock(part);
    return rc;
}
