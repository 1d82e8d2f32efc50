/*
 * offsets.h - a consumer group's committed offsets: the durable commit log
 * groups/<group>/offsets (layer 2).  See offsets.c and docs/FORMAT.md.
 */
#ifndef CL_OFFSETS_H
#define CL_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define CL_OFFSETS_NAME "offsets"
#define CL_OFFSETS_TMP "offsets.tmp"
#define CL_OFFSETS_META_MAX 4096   /* offset.metadata.max.bytes (Kafka) */

/* One committed offset.  offset is the NEXT offset to read (Kafka). */
struct cl_offset_entry {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *metadata;  /* NULL or NUL-terminated, < META_MAX bytes */
    int64_t commit_ms;     /* wall-clock ms of the commit (filled by the
                              store on reads; ignored on append) */
};

struct cl_offsets; /* one per user (consumer, describe call) */

/* Open (create if missing) <group dir>/offsets.  dirfd: the group
 * directory (the handle keeps its own dup); reldir ("groups/<group>") is
 * used in messages; fmode: mode of new files.  Reads every record into
 * memory.  Needs no lock, and so never removes a leftover offsets.tmp
 * (see cl_offsets_cleanup).  A damaged header gives CRAWLLOG_ECORRUPT, an
 * intact one of another version CRAWLLOG_EVERSION (message naming
 * <reldir>/offsets).
 *
 * A handle is used by one thread at a time; different handles (threads,
 * processes) are independent. */
int cl_offsets_open(struct cl_offsets **op, int dirfd, const char *reldir,
                    unsigned fmode, struct cl_err *err);
void cl_offsets_close(struct cl_offsets *o);

/* Catch up with records other handles (threads, processes) appended since
 * the last call, and reopen + re-read if the file was compacted (replaced
 * by rename).  Safe without the group lock (it then stops at a record
 * still being written). */
int cl_offsets_refresh(struct cl_offsets *o, struct cl_err *err);

/* The newest committed entry of (topic, partition) as of the last
 * refresh: 1 and *e filled (pointers valid until the next refresh/append/
 * close; metadata is "" when none was committed, never NULL), 0 if never
 * committed (or removed). */
int cl_offsets_get(const struct cl_offsets *o, const char *topic,
                   int32_t partition, struct cl_offset_entry *e);

/* Every known entry, sorted by topic then partition: count, and entry i. */
size_t cl_offsets_count(const struct cl_offsets *o);
void cl_offsets_at(const struct cl_offsets *o, size_t i,
                   struct cl_offset_entry *e);

/*
 * With the caller holding the group's cross-process lock: refresh, then
 * append ONE record holding all n entries (all or none become visible:
 * one CRC covers them) with one pwrite, and update the in-memory view.
 * offset < 0 in an entry removes that partition's committed offset
 * (reset tools).  generation/member are recorded for diagnosis.  If the
 * file has grown past its compaction threshold it is rewritten first
 * (snapshot to offsets.tmp, fsync, rename, directory fsync); a failed
 * compaction fails the append (nothing appended).
 * Not durable until cl_offsets_sync(); *tokenp (may be NULL) gets what to
 * pass to it.  Errors: CRAWLLOG_EINVAL (bad topic name, partition outside
 * 0..CRAWLLOG_PARTITIONS_MAX-1, n == 0), CRAWLLOG_ETOOBIG (metadata of
 * CL_OFFSETS_META_MAX bytes or more, record over the size cap),
 * CRAWLLOG_ECLOSED (an earlier fsync of this handle failed: reopen), I/O
 * errors (nothing visible).
 */
int cl_offsets_append(struct cl_offsets *o, const struct cl_offset_entry *e,
                      size_t n, int32_t generation, int32_t member,
                      uint64_t *tokenp, struct cl_err *err);

/* Make the record(s) appended by this handle up to token durable
 * (fdatasync; the first sync after the handle opened or switched to a
 * compacted file also fsyncs the directory).  May be called without the
 * group lock, concurrently with other handles' appends; a no-op if
 * already synced.  After a failed sync the handle refuses appends and
 * syncs (CRAWLLOG_ECLOSED) until reopened (fsyncgate). */
int cl_offsets_sync(struct cl_offsets *o, uint64_t token,
                    struct cl_err *err);

/* With the group lock held: refresh, then compact now (write the snapshot
 * to offsets.tmp, fsync, rename over offsets, fsync the directory),
 * whatever the threshold.  For tools and tests. */
int cl_offsets_compact(struct cl_offsets *o, struct cl_err *err);

/* With the group lock held: remove a leftover offsets.tmp (a compaction
 * cut short by a crash; compaction also removes it).  0 if there was
 * none.  Call it after opening under the lock. */
int cl_offsets_cleanup(struct cl_offsets *o, struct cl_err *err);

/* Compaction threshold of this handle's appends: compact when the valid
 * log is longer than bytes AND longer than 4 x a snapshot of the live
 * entries.  0 restores the default (4 MiB).  For tests. */
void cl_offsets_set_compact_bytes(struct cl_offsets *o, uint64_t bytes);

/* Largest record this handle writes (default and maximum 64 MiB; at least
 * one maximal entry): a bigger commit gives CRAWLLOG_ETOOBIG, a bigger
 * snapshot continues in further records.  0 restores the default.  For
 * tests. */
void cl_offsets_set_record_max(struct cl_offsets *o, uint32_t bytes);

/* For crawllog_verify (read-only): check the first len bytes of an
 * offsets file (the 64-byte header).  0 if valid, else a negative code
 * with the reason in why (why_size bytes). */
#define CL_OFFSETS_HEADER_SIZE 64
int cl_offsets_check_header(const uint8_t *h, size_t len, char *why,
                            size_t why_size);

#endif /* CL_OFFSETS_H */
