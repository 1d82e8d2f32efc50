/*
 * index.h - a segment's sparse offset index and time index (layer 1).
 *
 * See index.c for the on-disk layout.  A struct cl_index mirrors the two
 * files in memory.  It is not locked itself: the owning partition's lock
 * guards every mutation.
 */
#ifndef CL_INDEX_H
#define CL_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define CL_INDEX_ENTRY_SIZE 8
#define CL_TIMEINDEX_ENTRY_SIZE 12

struct cl_index_entry {
    uint32_t rel; /* offset - segment base offset */
    uint32_t pos; /* byte position of that batch in the .log */
};

struct cl_time_entry {
    int64_t ts;   /* largest timestamp in the segment up to rel */
    uint32_t rel; /* last relative offset of the batch that set ts */
};

struct cl_index {
    int fd;                       /* .index, -1 if closed */
    int tfd;                      /* .timeindex, -1 if closed */
    struct cl_index_entry *ent;   /* n valid entries, rel and pos ascending */
    size_t n, cap;
    struct cl_time_entry *tent;   /* tn valid entries, ts and rel ascending */
    size_t tn, tcap;
    uint64_t file_n;              /* entries in the .index file as loaded */
    uint64_t file_tn;             /* entries in the .timeindex file */
};

void cl_index_init(struct cl_index *idx);

/* Open (with create: create if missing, mode fmode) both index files of the
 * segment with this base offset in dirfd.  reldir names the partition
 * directory relative to the data directory, for messages. */
int cl_index_open(struct cl_index *idx, int dirfd, const char *reldir,
                  int64_t base, int create, unsigned fmode,
                  struct cl_err *err);

void cl_index_close(struct cl_index *idx);

/* Read both files into memory and keep the longest valid prefix of each:
 * entries strictly ascending, positions in [header_size, log_size), time
 * entries non-decreasing in ts and rel.  *damagedp (optional) is set to 1
 * when a file held anything beyond that prefix (torn or bad entries). */
int cl_index_load(struct cl_index *idx, uint64_t header_size,
                  uint64_t log_size, int *damagedp, const char *reldir,
                  int64_t base, struct cl_err *err);

/* Read entries other processes appended since the last load or refresh.
 * Entries that do not continue the valid sequence are ignored. */
int cl_index_refresh(struct cl_index *idx, uint64_t log_size,
                     const char *reldir, int64_t base, struct cl_err *err);

/* Append an offset entry (and, if ts > the last time entry's ts, a time
 * entry) to memory and to the files, at the in-memory count's position. */
int cl_index_append(struct cl_index *idx, uint32_t rel, uint32_t pos,
                    int64_t ts, uint32_t trel, const char *reldir,
                    int64_t base, struct cl_err *err);

/* Append only a time entry if ts is larger than the last one (used when a
 * segment is sealed, so its last time entry holds its largest timestamp). */
int cl_index_append_time(struct cl_index *idx, int64_t ts, uint32_t trel,
                         const char *reldir, int64_t base,
                         struct cl_err *err);

/* Keep only the entries with pos < log_size (and time entries with rel <
 * max_rel_exclusive) in memory and in the files. */
int cl_index_truncate(struct cl_index *idx, uint64_t log_size,
                      uint32_t max_rel_exclusive, const char *reldir,
                      int64_t base, struct cl_err *err);

/* Drop every entry (memory and files); used before a rebuild. */
int cl_index_reset(struct cl_index *idx, const char *reldir, int64_t base,
                   struct cl_err *err);

/* fsync both files. */
int cl_index_sync(struct cl_index *idx, const char *reldir, int64_t base,
                  struct cl_err *err);

/* Greatest entry with rel <= target; returns 0 and fills *out, or 1 if
 * there is none (start at the segment header). */
int cl_index_lookup(const struct cl_index *idx, uint32_t target,
                    struct cl_index_entry *out);

/* Greatest time entry with ts < target; returns 0 and fills *out, or 1 if
 * there is none. */
int cl_index_time_lookup(const struct cl_index *idx, int64_t target,
                         struct cl_time_entry *out);

#endif /* CL_INDEX_H */
