/*
 * segment.h - one segment: <base>.log plus its indexes (layer 2).
 * See segment.c for the file layout and the recovery rules.
 */
#ifndef CL_SEGMENT_H
#define CL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "index.h"
#include "record.h"

#define CL_SEG_HEADER_SIZE 64
#define CL_SEG_MAGIC "CLLOGSEG"

struct cl_segment {
    int64_t base;          /* base offset = first offset it may hold */
    int fd;                /* the .log, O_RDWR; -1 when closed */
    int64_t created_ms;    /* from the header; drives segment.ms rolls */
    uint64_t size;         /* header + complete batches, as known here */
    int64_t next_offset;   /* offset after the last known batch */
    int64_t max_ts;        /* largest record timestamp, -1 if none */
    uint32_t max_ts_rel;   /* last relative offset of the batch with it */
    int idx_loaded;        /* idx holds the (validated) index entries */
    /* Progress of cl_segment_check_timeindex over the batch headers. */
    uint64_t tck_pos;      /* next batch to read (0: not started) */
    int64_t tck_max;       /* largest maxTimestamp before tck_pos */
    uint32_t tck_max_rel;  /* relative last offset of the batch with it */
    size_t tck_n;          /* time entries proven right so far */
    int tck_bad;           /* entry tck_n is wrong: trust none after it */
    struct cl_index idx;
};

/* What a scan found.  A scan stops at the first bytes that are not a
 * complete valid batch with the expected offset. */
struct cl_scan {
    uint64_t end;          /* position after the last valid batch */
    int64_t next_offset;   /* offset after the last valid batch */
    int64_t max_ts;        /* largest timestamp seen (or the start value) */
    uint32_t max_ts_rel;
    uint64_t file_size;    /* size of the .log when scanned */
    int bad;               /* 1: bytes after end are not a valid batch */
    int incomplete;        /* 1: they are a batch cut short by the EOF */
    int valid_after;       /* 1: a valid batch starts somewhere after end */
    uint64_t valid_after_pos;
    char why[160];         /* what was wrong at end, when bad */
};

/* Called for each valid batch a scan passes; non-zero stops the scan with
 * that code. */
typedef int cl_scan_fn(void *opaque, const uint8_t *batch,
                       const struct cl_batch_hdr *hdr, uint64_t pos);

void cl_segment_init(struct cl_segment *seg);

/* Create <base>.log (O_EXCL) with its header, fsync it, and create empty
 * index files.  The caller fsyncs the directory before acknowledging
 * anything written into the segment. */
int cl_segment_create(struct cl_segment *seg, int dirfd, const char *reldir,
                      int64_t base, int64_t now_ms, unsigned fmode,
                      struct cl_err *err);

/* Open an existing segment and check its header.  Does not scan.  A file
 * shorter than a header, or with a header of all zeros, gives
 * CRAWLLOG_ENOENT-like state: *emptyp = 1 and seg->fd is open (the caller
 * may rewrite the header of the last segment).  Otherwise a bad header is
 * CRAWLLOG_ECORRUPT, another format version CRAWLLOG_EVERSION. */
int cl_segment_open(struct cl_segment *seg, int dirfd, const char *reldir,
                    int64_t base, int *emptyp, struct cl_err *err);

/* Write a fresh header into an opened segment that had none (see above),
 * truncate it to the header, and fsync it. */
int cl_segment_rewrite_header(struct cl_segment *seg, const char *reldir,
                              int64_t now_ms, struct cl_err *err);

void cl_segment_close(struct cl_segment *seg);

/* Make sure idx is open and loaded (validated against seg->size). */
int cl_segment_load_index(struct cl_segment *seg, int dirfd,
                          const char *reldir, unsigned fmode,
                          struct cl_err *err);

/* Scan batches from pos (a batch start), expecting the first to hold
 * expected_offset (< 0: whatever it holds), up to the end of the file.  With full, each batch is
 * fully decoded (cl_record_batch_validate), else its header and CRC are
 * checked.  fn may be NULL.  When a bad region is found, the rest of the
 * file is searched for a later valid batch (res->valid_after). */
int cl_segment_scan(struct cl_segment *seg, const char *reldir, uint64_t pos,
                    int64_t expected_offset, int full, cl_scan_fn *fn,
                    void *opaque, struct cl_scan *res, struct cl_err *err);

/* Recover the segment's tail: validate the index, scan from the last good
 * index entry (with full: from the header, rebuilding the whole index) to
 * the end of the file, re-add missing index entries, and truncate an
 * invalid tail.  Damage below keep_below (bytes known durable), or - unless
 * full, which is used after a power loss - damage followed by a valid batch,
 * is CRAWLLOG_ECORRUPT naming the file and byte position and changes
 * nothing.  *truncatedp (optional) gets the number of bytes removed. */
int cl_segment_recover(struct cl_segment *seg, int dirfd, const char *reldir,
                       int full, uint64_t keep_below,
                       int64_t index_interval, unsigned fmode,
                       uint64_t *truncatedp, struct cl_err *err);

/* Add the index entries due for a batch of `len` bytes at pos whose first
 * offset is first and last offset last (Kafka's index.interval.bytes rule),
 * and update seg->max_ts with max_ts. */
int cl_segment_index_batch(struct cl_segment *seg, const char *reldir,
                           uint64_t pos, size_t len, int64_t first,
                           int64_t last, int64_t max_ts,
                           int64_t index_interval, struct cl_err *err);

/* Prove the time index against the batch headers before a time lookup or
 * time-based retention trusts it: every entry's ts must equal the largest
 * maxTimestamp of the batches up to the one holding base + rel.  Afterwards
 * the first tck_n time entries are proven and tck_max is the segment's true
 * largest timestamp (-1 if empty).  Nothing is changed on disk or in idx.
 * Incremental: a later call reads only batches appended since. */
int cl_segment_check_timeindex(struct cl_segment *seg, const char *reldir,
                               struct cl_err *err);

/* Seal: final time-index entry, fsync the .log and both indexes. */
int cl_segment_seal(struct cl_segment *seg, const char *reldir,
                    struct cl_err *err);

/* Position of the batch holding offset (or the first batch after it): the
 * index gives a lower bound, then batch headers are read forward.  Returns
 * 0 with *posp, or 1 if offset is at or past the segment's end (then *posp
 * is the end). */
int cl_segment_find(struct cl_segment *seg, const char *reldir,
                    int64_t offset, uint64_t *posp, struct cl_err *err);

/* Encode the 64-byte header into out (exposed for tests and verify). */
void cl_segment_header_encode(uint8_t *out, int64_t base, int64_t created_ms);

/* Check a header: 0, CRAWLLOG_ECORRUPT or CRAWLLOG_EVERSION (why is set). */
int cl_segment_header_check(const uint8_t *hdr, int64_t base,
                            int64_t *created_msp, char *why, size_t whysize);

#endif /* CL_SEGMENT_H */
