/*
 * txn_scan.c - the fate finder: for a transactional data batch of producer
 * P whose last offset is L, the type of the first control batch (marker)
 * of P at an offset > L in the partition (docs: issue 10 design; FORMAT
 * §3.1), or "open" if none is below the published log end yet.  Used by
 * read_committed readers (reader.c) and by a migration's copy (migrate.c).
 *
 * Owns nothing on disk: it opens segment files read-only by name, like
 * reader.c, and reads only batch headers (61 bytes) and whole markers (78
 * bytes); records of data batches are never decoded.
 *
 * How: a main cursor walks batch headers forward from the first asked
 * offset, across segment rolls, up to the log end published in the shared
 * state (loaded before each read, so only complete batches are used), and
 * remembers every marker it passes as (offset, pid, type) in offset order.
 * A query first forgets the markers at or below L (queries come in
 * ascending L: a reader moves forward), then looks among the remembered
 * ones, then moves the main cursor on until it passes a marker of P or
 * reaches the log end.  So a reader blocked at an open transaction costs
 * one read of the new bytes per poll, never a rescan from its position.
 *
 * Invariants:
 *  - Every marker at an offset in [from, main.next) is in mk[] (from =
 *    the last query's L + 1), in ascending offset order.
 *  - mk[] holds at most max_markers entries (bounded memory).  When it is
 *    full the main cursor stops; a query that finds nothing in mk[] then
 *    hunts with a second cursor from main.next for P's marker only,
 *    remembering nothing; the hunt's position is kept while P is the one
 *    asked for (a blocked reader), so it is incremental too.
 *  - A control batch is trusted only after its CRC checked and
 *    cl_control_parse() accepted it; anything else is CRAWLLOG_ECORRUPT.
 *  - A batch header is used only if its base offset is below the log end
 *    loaded before its bytes were fetched: a batch published later might
 *    have been rewritten after a failed append, so its bytes are fetched
 *    again.  Offsets must be contiguous.
 *  - A failed query leaves the scanner consistent: cursors only move past
 *    a batch after it was read whole and checked.
 *
 * Locks: a scanner is used by one thread at a time (its reader's).  It
 * takes the partition lock only to locate an offset (cl_partition_locate).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "io.h"
#include "names.h"
#include "partition.h"
#include "record.h"
#include "segment.h"
#include "txn_scan.h"

#define SCAN_BUF (32 * 1024)
#define MAX_HOPS 1000
/* A query this many offsets past the main cursor relocates it instead of
 * walking the headers in between. */
#define CATCH_UP 4096

#ifdef CRAWLLOG_TESTING
size_t cl_txn_scan_max_markers = CL_TXN_SCAN_MAX_MARKERS;
#define MAX_MARKERS cl_txn_scan_max_markers
#else
#define MAX_MARKERS ((size_t)CL_TXN_SCAN_MAX_MARKERS)
#endif

struct marker {
    int64_t offset;
    int64_t pid;
    int type;
};

struct cur {
    int fd;          /* current segment, -1: locate next first */
    int64_t seg_base;
    uint64_t pos;    /* file position of the batch holding next */
    int64_t next;    /* first offset not passed yet */
    uint8_t *buf;    /* file bytes [bpos, bpos + blen) */
    uint64_t bpos;
    size_t blen;
    int64_t bend;    /* log end loaded before buf was read */
};

struct cl_txn_scan {
    struct cl_partition *part;
    struct cur main, hunt;
    int64_t from;            /* see the invariants */
    struct marker *mk;       /* mk[head, n) */
    size_t head, n, cap;
    int64_t hunt_pid;        /* -1: no hunt kept */
    int64_t hunt_start;      /* main.next when the hunt began */
    uint64_t reads;
};

static void cur_close(struct cur *c)
{
    if (c->fd >= 0) {
        cl_io_close(c->fd);
    }
    c->fd = -1;
    c->blen = 0;
}

static void cur_reset(struct cur *c, int64_t offset)
{
    cur_close(c);
    c->next = offset;
}

static void forget_all(struct cl_txn_scan *s, int64_t offset)
{
    cur_reset(&s->main, offset);
    cur_reset(&s->hunt, offset);
    s->hunt_pid = -1;
    s->head = s->n = 0;
    s->from = offset;
}

int cl_txn_scan_new(struct cl_txn_scan **sp, struct cl_partition *part,
                    struct cl_err *err)
{
    struct cl_txn_scan *s = cl_io_calloc(1, sizeof(*s));
    *sp = NULL;
    if (s == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    s->part = part;
    s->main.fd = s->hunt.fd = -1;
    forget_all(s, 0);
    *sp = s;
    return 0;
}

void cl_txn_scan_free(struct cl_txn_scan *s)
{
    if (s == NULL) {
        return;
    }
    cur_close(&s->main);
    cur_close(&s->hunt);
    cl_io_free(s->main.buf);
    cl_io_free(s->hunt.buf);
    cl_io_free(s->mk);
    cl_io_free(s);
}

uint64_t cl_txn_scan_reads(const struct cl_txn_scan *s)
{
    return s ? s->reads : 0;
}

size_t cl_txn_scan_markers(const struct cl_txn_scan *s)
{
    return s ? s->n - s->head : 0;
}

static int corrupt(struct cl_txn_scan *s, const struct cur *c,
                   const char *why, struct cl_err *err)
{
    char name[64];
    cl_names_segment(name, sizeof(name), c->seg_base, ".log");
    return cl_errf(err, CRAWLLOG_ECORRUPT, "%s/%s: byte %" PRIu64 ": %s",
                   s->part->reldir, name, c->pos, why);
}

static int open_segment(struct cl_txn_scan *s, int64_t base, int *fdp,
                        struct cl_err *err)
{
    char name[64];
    cl_names_segment(name, sizeof(name), base, ".log");
    int fd = cl_io_openat("txnscan.open", s->part->dirfd, name, O_RDONLY, 0);
    if (fd < 0 && fd != -ENOENT) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", s->part->reldir, name);
        return cl_err_sys(err, -fd, path, "open");
    }
    *fdp = fd;
    return 0;
}

/* Open the segment holding c->next. */
static int cur_locate(struct cl_txn_scan *s, struct cur *c,
                      struct cl_err *err)
{
    int64_t base;
    uint64_t pos;
    int fd = -1;
    int rc = cl_partition_locate(s->part, c->next, &base, &pos, err);
    if (rc == 0) {
        rc = open_segment(s, base, &fd, err);
    }
    if (rc == 0 && fd < 0) { /* deleted since: the offset is gone */
        return cl_errf(err, CRAWLLOG_EOFFSET,
                       "%s: offset %" PRId64 " was deleted",
                       s->part->reldir, c->next);
    }
    if (rc != 0) {
        return rc;
    }
    cur_close(c);
    c->fd = fd;
    c->seg_base = base;
    c->pos = pos;
    return 0;
}

/* The current segment ends below the log end: the next one is named by
 * c->next (rolls keep bases contiguous); gone: locate it again. */
static int cur_next_segment(struct cl_txn_scan *s, struct cur *c,
                            struct cl_err *err)
{
    int fd = -1;
    int rc = open_segment(s, c->next, &fd, err);
    if (rc != 0) {
        return rc;
    }
    if (fd < 0) {
        return cur_locate(s, c, err);
    }
    cur_close(c);
    c->fd = fd;
    c->seg_base = c->next;
    c->pos = CL_SEG_HEADER_SIZE; /* the header was checked at open */
    return 0;
}

/* Make n bytes at c->pos available at *pp (fewer, *availp, at the end of
 * the file).  end: the log end loaded before this call. */
static int cur_bytes(struct cl_txn_scan *s, struct cur *c, size_t n,
                     int64_t end, const uint8_t **pp, size_t *availp,
                     struct cl_err *err)
{
    if (c->blen == 0 || c->pos < c->bpos || c->pos + n > c->bpos + c->blen) {
        if (c->buf == NULL && (c->buf = cl_io_malloc(SCAN_BUF)) == NULL) {
            return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
        }
        c->blen = 0;
        ssize_t got =
            cl_io_pread_all("txnscan.read", c->fd, c->buf, SCAN_BUF, c->pos);
        s->reads++;
        if (got < 0) {
            return cl_err_sys(err, (int)-got, s->part->reldir, "read");
        }
        c->bpos = c->pos;
        c->blen = (size_t)got;
        c->bend = end;
    }
    size_t have = (size_t)(c->bpos + c->blen - c->pos);
    *pp = c->buf + (c->pos - c->bpos);
    *availp = have < n ? have : n;
    return 0;
}

/* Pass the next batch below end: 1 (*h its header; *ctlp its marker if it
 * is a control batch, else ctlp->pid = -1), 0 at the log end, or an
 * error. */
static int cur_step(struct cl_txn_scan *s, struct cur *c, int64_t end,
                    struct cl_batch_hdr *h, struct cl_control *ctlp,
                    struct cl_err *err)
{
    memset(ctlp, 0, sizeof(*ctlp));
    ctlp->pid = -1; /* not a marker */
    for (int hops = 0; hops < MAX_HOPS; hops++) {
        const uint8_t *p;
        size_t avail;
        if (c->next >= end) {
            return 0;
        }
        int rc = c->fd < 0 ? cur_locate(s, c, err) : 0;
        if (rc == 0) {
            rc = cur_bytes(s, c, CL_BATCH_HEADER_SIZE, end, &p, &avail, err);
        }
        if (rc != 0) {
            return rc;
        }
        if (avail == 0) {
            if ((rc = cur_next_segment(s, c, err)) != 0) {
                return rc;
            }
            continue;
        }
        if (avail < CL_BATCH_HEADER_SIZE ||
            cl_record_batch_header(p, avail, h) != 0) {
            if (c->bend < end) {
                c->blen = 0; /* maybe read before it was written */
                continue;
            }
            return corrupt(s, c, avail < CL_BATCH_HEADER_SIZE
                                     ? "batch cut short"
                                     : "bad batch header",
                           err);
        }
        if (h->base_offset >= c->bend && c->bend < end) {
            c->blen = 0; /* published after the read: read it again */
            continue;
        }
        int64_t last = h->base_offset + h->last_offset_delta;
        if (h->base_offset > c->next || last < c->next) {
            return corrupt(s, c, "offsets are not contiguous", err);
        }
        size_t total = cl_record_batch_total(h);
        if (cl_control_is_control(h->attributes)) {
            if (total != CL_CONTROL_BATCH_SIZE) {
                return corrupt(s, c, "control batch: bad length", err);
            }
            rc = cur_bytes(s, c, total, end, &p, &avail, err);
            if (rc != 0) {
                return rc;
            }
            if (avail < total) {
                return corrupt(s, c, "batch cut short", err);
            }
            if (cl_record_batch_check_crc(p, total) != 0) {
                return corrupt(s, c, "control batch CRC mismatch", err);
            }
            struct cl_err perr = {{0}};
            if (cl_control_parse(p, total, ctlp, &perr) != 0) {
                return corrupt(s, c, perr.msg, err);
            }
        }
        c->pos += total;
        c->next = last + 1;
        return 1;
    }
    return cl_errf(err, CRAWLLOG_ECORRUPT,
                   "%s: no segment holds offset %" PRId64, s->part->reldir,
                   c->next);
}

static int remember(struct cl_txn_scan *s, const struct cl_control *m,
                    struct cl_err *err)
{
    if (s->n == s->cap && s->head > 0) {
        memmove(s->mk, s->mk + s->head, (s->n - s->head) * sizeof(*s->mk));
        s->n -= s->head;
        s->head = 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        cap = cap > MAX_MARKERS ? MAX_MARKERS : cap;
        struct marker *mk = cl_io_realloc(s->mk, cap * sizeof(*mk));
        if (mk == NULL) {
            return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
        }
        s->mk = mk;
        s->cap = cap;
    }
    s->mk[s->n].offset = m->base_offset;
    s->mk[s->n].pid = m->pid;
    s->mk[s->n].type = m->type;
    s->n++;
    return 0;
}

/* P's marker from the hunt cursor (mk[] is full). */
static int hunt(struct cl_txn_scan *s, int64_t pid, int64_t last,
                int64_t end, int *fatep, struct cl_err *err)
{
    if (s->hunt_pid != pid || s->hunt_start != s->main.next) {
        cur_reset(&s->hunt, s->main.next);
        s->hunt_pid = pid;
        s->hunt_start = s->main.next;
    }
    for (;;) {
        struct cl_batch_hdr h;
        struct cl_control m;
        int rc = cur_step(s, &s->hunt, end, &h, &m, err);
        if (rc <= 0) {
            if (rc == 0) {
                *fatep = CL_TXN_FATE_OPEN;
            }
            return rc;
        }
        if (m.pid == pid && m.base_offset > last) {
            s->hunt_pid = -1;
            cur_close(&s->hunt);
            *fatep = m.type;
            return 0;
        }
    }
}

int cl_txn_scan_fate(struct cl_txn_scan *s, int64_t pid, int64_t last,
                     int *fatep, struct cl_err *err)
{
    int64_t end;
    int rc = cl_partition_offsets(s->part, NULL, &end, err);
    if (rc != 0) {
        return rc;
    }
    if (last + 1 < s->from || last + 1 > s->main.next + CATCH_UP) {
        forget_all(s, last + 1); /* asked backwards, or far ahead */
    }
    while (s->head < s->n && s->mk[s->head].offset <= last) {
        s->head++;
    }
    if (s->head == s->n) {
        s->head = s->n = 0;
    }
    s->from = last + 1;
    for (size_t i = s->head; i < s->n; i++) {
        if (s->mk[i].pid == pid) {
            *fatep = s->mk[i].type;
            return 0;
        }
    }
    while (s->n - s->head < MAX_MARKERS) {
        struct cl_batch_hdr h;
        struct cl_control m;
        rc = cur_step(s, &s->main, end, &h, &m, err);
        if (rc <= 0) {
            if (rc == 0) {
                *fatep = CL_TXN_FATE_OPEN;
            }
            return rc;
        }
        if (m.pid >= 0 && m.base_offset > last) {
            if ((rc = remember(s, &m, err)) != 0) {
                /* not remembered: pass it again next time */
                s->main.next = m.base_offset;
                s->main.pos -= CL_CONTROL_BATCH_SIZE;
                return rc;
            }
            if (m.pid == pid) {
                *fatep = m.type;
                return 0;
            }
        }
    }
    return hunt(s, pid, last, end, fatep, err);
}
