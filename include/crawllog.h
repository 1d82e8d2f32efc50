/*
 * crawllog.h - libcrawllog public API.  This header is the API reference:
 * what is not declared here is private and may change.
 *
 * libcrawllog is an embeddable, broker-less log with Kafka's semantics: a
 * data directory holds topics, each topic holds partitions, each partition is
 * an append-only sequence of CRC-checked record batches stored in segment
 * files with sparse offset and time indexes.  Several threads and several
 * processes on one machine may use one data directory at the same time.
 *
 * Sections: version, errors, configuration, log (data directory), topics,
 * records and append, reading, maintenance and verification.
 *
 * Conventions that hold for every function unless its comment says otherwise:
 *  - Every fallible call returns int: CRAWLLOG_OK (0) or a negative
 *    CRAWLLOG_E* code.  Errors never travel through errno.
 *  - When a call fails, its out-pointers are set to NULL / -1.
 *  - After a failing call on a crawllog_t, crawllog_errmsg() describes the
 *    failure (path, operation, errno text).  Before a handle exists,
 *    functions take (char *errstr, size_t errstr_size) instead;
 *    CRAWLLOG_ERRSTR_SIZE bytes is always enough.
 *  - The library never takes ownership of what you pass in: strings, confs
 *    and record bytes are copied before return.
 *  - Destroy/close functions accept NULL.
 *  - No handle may be used in a fork() child; open a new one there.
 *  - The library starts no threads.
 *
 * Copyright (c) 2026 the libcrawllog authors.  MIT licence (see LICENSE).
 */
#ifndef CRAWLLOG_H
#define CRAWLLOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CRAWLLOG_API __attribute__((visibility("default")))
#else
#define CRAWLLOG_API
#endif

/* ====================================================================== */
/* Version                                                                 */
/* ====================================================================== */

#define CRAWLLOG_VERSION_MAJOR 0
#define CRAWLLOG_VERSION_MINOR 1
#define CRAWLLOG_VERSION_PATCH 0
#define CRAWLLOG_VERSION_NUMBER                                             \
    (CRAWLLOG_VERSION_MAJOR * 10000 + CRAWLLOG_VERSION_MINOR * 100 +         \
     CRAWLLOG_VERSION_PATCH)
#define CRAWLLOG_VERSION_STRING "0.1.0"

/* Version of the on-disk format.  Stored in every segment header and every
 * metadata file; a file with another version gives CRAWLLOG_EVERSION. */
#define CRAWLLOG_FORMAT_VERSION 1

/**
 * @brief The library's CRAWLLOG_VERSION_NUMBER, to check that the header an
 *        application was compiled with matches the library it runs with.
 * @note Thread-safety: any thread.
 */
CRAWLLOG_API int crawllog_version(void);

/** @brief The library's CRAWLLOG_VERSION_STRING (static storage). */
CRAWLLOG_API const char *crawllog_version_str(void);

/* ====================================================================== */
/* Errors                                                                  */
/* ====================================================================== */

/*
 * The one error table.  XX(name, code, description).  Codes are added at
 * the end and are never renumbered or removed.
 */
#define CRAWLLOG_ERRORS(XX)                                                  \
    XX(OK, 0, "success")                                                     \
    XX(EINVAL, -1, "invalid argument")                                       \
    XX(ENOMEM, -2, "out of memory")                                          \
    XX(EIO, -3, "input/output error")                                        \
    XX(ENOSPC, -4, "no space left on device")                                \
    XX(EPERM, -5, "permission denied")                                       \
    XX(ECORRUPT, -6, "data is corrupt")                                      \
    XX(EVERSION, -7, "unsupported format version")                           \
    XX(ENOTOPIC, -8, "no such topic or partition")                           \
    XX(EEXIST, -9, "already exists")                                         \
    XX(EOFFSET, -10, "offset out of range")                                  \
    XX(ETOOBIG, -11, "message or batch too large")                           \
    XX(EBUSY, -12, "resource busy or locked")                                \
    XX(ECLOSED, -13, "handle closed or failed")                              \
    XX(EGENERATION, -14, "stale generation or fenced")                       \
    XX(ETIMEDOUT, -15, "timed out")                                          \
    XX(EMISUSE, -16, "library used incorrectly")                             \
    XX(ELOOP, -17, "symbolic link refused")                                  \
    XX(ENOENT, -18, "no such file or directory")                             \
    XX(EMFILE, -19, "too many open files")                                   \
    XX(ESEQUENCE, -20, "producer sequence out of order")                     \
    XX(EFENCED, -21, "fenced by a newer instance")                           \
    XX(EPARTITION, -22, "partitioner returned an invalid partition")

typedef enum crawllog_err {
#define CRAWLLOG_ERR_ENUM_(name, code, desc) CRAWLLOG_##name = (code),
    CRAWLLOG_ERRORS(CRAWLLOG_ERR_ENUM_)
#undef CRAWLLOG_ERR_ENUM_
    CRAWLLOG_ERR_END_ = -23 /* one below the last code; not an error */
} crawllog_err_t;

/** Size of an errstr buffer that always holds the whole message. */
#define CRAWLLOG_ERRSTR_SIZE 256

/**
 * @brief Description of an error code ("input/output error").
 * @return static string; "unknown error" for a code not in the table.
 * @note Thread-safety: any thread.
 */
CRAWLLOG_API const char *crawllog_strerror(int rc);

/**
 * @brief Name of an error code ("CRAWLLOG_EIO").
 * @return static string; "CRAWLLOG_EUNKNOWN" for a code not in the table.
 */
CRAWLLOG_API const char *crawllog_err_name(int rc);

/* ====================================================================== */
/* Configuration                                                           */
/* ====================================================================== */

/*
 * A conf is a set of Kafka-named string properties.  One conf type serves
 * the data directory (crawllog_open) and topic overrides
 * (crawllog_topic_create).  Every property, its type, default and bounds are
 * listed in docs/CONFIGURATION.md and by crawllog_conf_dump().
 * A conf is not modified concurrently; reading it from several threads is
 * fine.
 */
typedef struct crawllog_conf_s crawllog_conf_t;

/**
 * @brief Create a conf holding only defaults.
 * @return CRAWLLOG_OK or CRAWLLOG_ENOMEM, CRAWLLOG_EINVAL (confp NULL).
 * @note Ownership: destroy it with crawllog_conf_destroy().
 */
CRAWLLOG_API int crawllog_conf_new(crawllog_conf_t **confp);

/** @brief Free a conf.  NULL is fine. */
CRAWLLOG_API void crawllog_conf_destroy(crawllog_conf_t *conf);

/**
 * @brief Copy a conf.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOMEM or CRAWLLOG_EINVAL.
 */
CRAWLLOG_API int crawllog_conf_dup(crawllog_conf_t **dstp,
                                   const crawllog_conf_t *src);

/**
 * @brief Set one property, e.g. ("segment.bytes", "1048576").
 * @param errstr  out, optional: message naming the property and the bound.
 * @return CRAWLLOG_OK, or CRAWLLOG_EINVAL (unknown name, malformed or out
 *         of range value; the conf is unchanged).
 * @note Ownership: name and value are copied.
 */
CRAWLLOG_API int crawllog_conf_set(crawllog_conf_t *conf, const char *name,
                                   const char *value, char *errstr,
                                   size_t errstr_size);

/**
 * @brief Read one property as a string.
 * @param buf     out: NUL-terminated value.
 * @param sizep   in: size of buf; out: size needed including the NUL.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (unknown name) or CRAWLLOG_ETOOBIG
 *         (buf too small; *sizep says how much is needed).
 */
CRAWLLOG_API int crawllog_conf_get(const crawllog_conf_t *conf,
                                   const char *name, char *buf,
                                   size_t *sizep);

/**
 * @brief Every property as "name=value" lines (defaults included), in the
 *        order of the property table.
 * @param textp  out: malloc'd NUL-terminated text; free() it.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOMEM or CRAWLLOG_EINVAL.
 */
CRAWLLOG_API int crawllog_conf_dump(const crawllog_conf_t *conf,
                                    char **textp);

/* ====================================================================== */
/* Log: the data directory                                                 */
/* ====================================================================== */

/*
 * crawllog_t is one process's handle on a data directory.  It is
 * thread-safe.  Several processes may open the same directory at once;
 * appends from all of them to one partition get contiguous offsets and
 * never interleave, and readers see new data without reopening.
 */
typedef struct crawllog_s crawllog_t;

/**
 * @brief Open (and with log.dir.create=true, create) a data directory.
 *
 * The directory's parent must not be world-writable unless it has the
 * sticky bit; nothing below the directory is reached through a symbolic
 * link.  Every partition of every topic is recovered before this returns
 * (docs/RELIABILITY.md): a torn tail (a batch cut short by a crash) is
 * truncated, missing or damaged indexes are rebuilt, and any other damage
 * fails the open with CRAWLLOG_ECORRUPT naming the file and byte offset -
 * nothing is truncated then; run crawllog_verify() to see every problem.
 *
 * @param logp    out: the handle, or NULL on failure.
 * @param dir     path of the data directory.
 * @param conf    optional: log-level properties and topic defaults.
 * @param errstr  out, optional: why it failed.
 * @return CRAWLLOG_OK, or CRAWLLOG_ENOENT (missing and log.dir.create is
 *         false), CRAWLLOG_EPERM, CRAWLLOG_ELOOP, CRAWLLOG_EVERSION,
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EIO, CRAWLLOG_ENOMEM, CRAWLLOG_EINVAL.
 * @note Ownership: dir and conf are copied.
 */
CRAWLLOG_API int crawllog_open(crawllog_t **logp, const char *dir,
                               const crawllog_conf_t *conf, char *errstr,
                               size_t errstr_size);

/**
 * @brief Flush data appended with CRAWLLOG_SYNC_NONE, then close.
 * @return CRAWLLOG_OK, or the flush's error (the handle is freed anyway).
 * @note No other call may be running on the handle.  NULL is fine.
 */
CRAWLLOG_API int crawllog_close(crawllog_t *log);

/**
 * @brief Detail of the most recent failure of a call on this handle (from
 *        any thread: with several threads, the latest one wins), e.g.
 *        "topics/crawl/3/00000000000000004096.log: fdatasync: Input/output
 *        error".
 * @return a string owned by the handle, valid until the next call on it;
 *         "" if nothing failed.
 */
CRAWLLOG_API const char *crawllog_errmsg(const crawllog_t *log);

/* ====================================================================== */
/* Topics                                                                  */
/* ====================================================================== */

/* Topic names: [A-Za-z0-9._-]{1,249}, not "." or ".." (Kafka's rule). */
#define CRAWLLOG_TOPIC_NAME_MAX 249

/** Largest partition count of one topic. */
#define CRAWLLOG_PARTITIONS_MAX 10000

/**
 * @brief Create a topic.  Atomic: it exists whole or not at all.
 * @param partitions  1 .. CRAWLLOG_PARTITIONS_MAX.
 * @param topic_conf  optional overrides: segment.bytes, segment.ms,
 *        retention.ms, retention.bytes, index.interval.bytes,
 *        segment.index.bytes, max.message.bytes.  Unset ones follow the
 *        log's conf.  They are persisted in the topic's metadata.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (bad name or count; nothing
 *         written), CRAWLLOG_EEXIST, CRAWLLOG_EIO, CRAWLLOG_ENOSPC.
 * @note Thread-safety: any thread; any process.
 */
CRAWLLOG_API int crawllog_topic_create(crawllog_t *log, const char *topic,
                                       int32_t partitions,
                                       const crawllog_conf_t *topic_conf);

/**
 * @brief Delete a topic and all its data.  Readers and writers in other
 *        processes get CRAWLLOG_ENOTOPIC from then on.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC, CRAWLLOG_EINVAL, CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_topic_delete(crawllog_t *log, const char *topic);

/**
 * @brief Raise a topic's partition count to total (never lower: see the
 *        topic-migration API for that).
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (total <= current or too large),
 *         CRAWLLOG_ENOTOPIC, CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_topic_add_partitions(crawllog_t *log,
                                               const char *topic,
                                               int32_t total);

/**
 * @brief Names of all topics, sorted.
 * @param namesp  out: malloc'd array of malloc'd names; free with
 *                crawllog_topic_list_free().
 * @return CRAWLLOG_OK, CRAWLLOG_ENOMEM, CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_topic_list(crawllog_t *log, char ***namesp,
                                     size_t *countp);

/** @brief Free what crawllog_topic_list() returned.  NULL is fine. */
CRAWLLOG_API void crawllog_topic_list_free(char **names, size_t count);

/**
 * @brief A topic's partition count and effective configuration.
 * @param partitionsp  out, optional.
 * @param confp        out, optional: a new conf holding the topic's
 *                     effective properties; destroy it.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC, CRAWLLOG_ECORRUPT (metadata),
 *         CRAWLLOG_ENOMEM.
 */
CRAWLLOG_API int crawllog_topic_describe(crawllog_t *log, const char *topic,
                                         int32_t *partitionsp,
                                         crawllog_conf_t **confp);

/**
 * @brief Log start offset (first readable offset) and log end offset (the
 *        offset the next appended record gets) of one partition.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC, CRAWLLOG_ECORRUPT, CRAWLLOG_EIO.
 * @note Sees appends made by other processes.
 */
CRAWLLOG_API int crawllog_partition_offsets(crawllog_t *log,
                                            const char *topic,
                                            int32_t partition,
                                            int64_t *startp, int64_t *endp);

/* ====================================================================== */
/* Records and append                                                      */
/* ====================================================================== */

/** One record header: a name (bytes, normally UTF-8) and an optional value. */
typedef struct crawllog_header {
    const char *name;  /* must not be NULL */
    size_t name_len;
    const void *value; /* NULL: a null value */
    size_t value_len;
} crawllog_header_t;

/** One record to append.  Input only; the bytes are copied. */
typedef struct crawllog_record {
    const void *key;   /* NULL: a null key (not the same as empty) */
    size_t key_len;
    const void *value; /* NULL: a null value */
    size_t value_len;
    int64_t timestamp; /* ms since the epoch; < 0: the time of the append */
    const crawllog_header_t *headers;
    size_t header_count;
} crawllog_record_t;

/*
 * Sync modes (acks levels) of an append.
 *  NONE     the batch stays in this process until crawllog_flush(), a full
 *           buffer (log.buffer.bytes) or crawllog_close(); lost if the process
 *           dies first.  No offset is known at return.
 *  WRITTEN  written to the file (the OS page cache) before return: survives
 *           a crash of the process, not a power loss.
 *  DURABLE  fdatasync'd before return: survives a power loss.
 */
#define CRAWLLOG_SYNC_NONE 0
#define CRAWLLOG_SYNC_WRITTEN 1
#define CRAWLLOG_SYNC_DURABLE 2

/**
 * @brief Append count records as one batch: they get contiguous offsets,
 *        and no other append lands between them.
 * @param records      1 .. 2^31-1 records.
 * @param sync         CRAWLLOG_SYNC_NONE, _WRITTEN or _DURABLE.
 * @param base_offsetp out, optional: offset of the first record, or -1
 *                     with CRAWLLOG_SYNC_NONE (not assigned yet).
 * @return CRAWLLOG_OK, or CRAWLLOG_EINVAL, CRAWLLOG_ENOTOPIC,
 *         CRAWLLOG_ETOOBIG (batch larger than max.message.bytes),
 *         CRAWLLOG_ENOSPC, CRAWLLOG_EIO, CRAWLLOG_ECLOSED (an earlier fsync
 *         of this partition failed: reopen the log), CRAWLLOG_ECORRUPT.
 *         On an error nothing of this batch is acknowledged; after EIO or
 *         ENOSPC from a write, the partial bytes are removed again.
 * @note Thread-safety: any thread, any process.
 */
CRAWLLOG_API int crawllog_append(crawllog_t *log, const char *topic,
                                 int32_t partition,
                                 const crawllog_record_t *records,
                                 size_t count, int sync,
                                 int64_t *base_offsetp);

/**
 * @brief Write every batch appended with CRAWLLOG_SYNC_NONE, and with
 *        sync = CRAWLLOG_SYNC_DURABLE also fdatasync every partition this
 *        handle wrote to.
 * @return CRAWLLOG_OK, or the first error (CRAWLLOG_EIO, CRAWLLOG_ENOSPC,
 *         CRAWLLOG_ECLOSED); batches that failed are dropped and counted in
 *         the message.
 */
CRAWLLOG_API int crawllog_flush(crawllog_t *log, int sync);

/* ====================================================================== */
/* Reading                                                                 */
/* ====================================================================== */

/*
 * A reader follows one partition from a position.  It reads whole batches
 * (one read per batch set, no per-record copy) and hands out records as
 * views into its buffer.  It is used by one thread at a time.  It sees
 * appends from every process as soon as they are written.
 */
typedef struct crawllog_reader_s crawllog_reader_t;

/** A record as read: a view valid until the next call on its reader. */
typedef struct crawllog_msg_s crawllog_msg_t;

/**
 * @brief Create a reader positioned at the log start offset.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC, CRAWLLOG_ENOMEM, CRAWLLOG_EINVAL.
 * @note The log must outlive the reader.
 */
CRAWLLOG_API int crawllog_reader_new(crawllog_reader_t **rdp, crawllog_t *log,
                                     const char *topic, int32_t partition);

/** @brief Free a reader.  NULL is fine. */
CRAWLLOG_API void crawllog_reader_destroy(crawllog_reader_t *rd);

/**
 * @brief Position the reader so the next record is the one at offset.
 * @return CRAWLLOG_OK, or CRAWLLOG_EOFFSET (offset < log start or > log
 *         end; the position is unchanged).
 */
CRAWLLOG_API int crawllog_reader_seek(crawllog_reader_t *rd, int64_t offset);

/**
 * @brief Position the reader at the first record whose timestamp is >=
 *        timestamp_ms (the log end if there is none).
 * @param offsetp out, optional: that offset.
 * @return CRAWLLOG_OK, CRAWLLOG_EIO, CRAWLLOG_ECORRUPT.
 */
CRAWLLOG_API int crawllog_reader_seek_time(crawllog_reader_t *rd,
                                           int64_t timestamp_ms,
                                           int64_t *offsetp);

/** @brief Offset of the record the next crawllog_reader_next() returns. */
CRAWLLOG_API int64_t crawllog_reader_position(const crawllog_reader_t *rd);

/**
 * @brief The next record, or *msgp = NULL at the log end (not an error:
 *        call again later to see new appends).
 * @return CRAWLLOG_OK, or CRAWLLOG_ECORRUPT (a batch fails its CRC or does
 *         not decode; crawllog_reader_errmsg() names file and position),
 *         CRAWLLOG_EOFFSET (the position was deleted by retention),
 *         CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_reader_next(crawllog_reader_t *rd,
                                      const crawllog_msg_t **msgp);

/**
 * @brief Raw whole batches (RecordBatch v2 bytes, see docs/FORMAT.md)
 *        starting with the batch that holds the reader's position, at most
 *        max_bytes (but always at least one batch).  Moves the reader past
 *        them.  Each batch's CRC has been checked.
 * @param bufp   out: pointer into the reader's buffer, valid until the next
 *               call on the reader; NULL and *lenp = 0 at the log end.
 * @return CRAWLLOG_OK, CRAWLLOG_ECORRUPT, CRAWLLOG_EOFFSET, CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_reader_fetch(crawllog_reader_t *rd,
                                       size_t max_bytes, const void **bufp,
                                       size_t *lenp);

/** @brief Detail of the reader's last failure, "" if none. */
CRAWLLOG_API const char *crawllog_reader_errmsg(const crawllog_reader_t *rd);

/* Accessors of a crawllog_msg_t.  Pointers stay valid until the next call on
 * the reader that returned the message. */
CRAWLLOG_API int64_t crawllog_msg_offset(const crawllog_msg_t *msg);
CRAWLLOG_API int64_t crawllog_msg_timestamp(const crawllog_msg_t *msg);
/** @return the key, or NULL for a null key (then *lenp = 0). */
CRAWLLOG_API const void *crawllog_msg_key(const crawllog_msg_t *msg,
                                          size_t *lenp);
/** @return the value, or NULL for a null value (then *lenp = 0). */
CRAWLLOG_API const void *crawllog_msg_value(const crawllog_msg_t *msg,
                                            size_t *lenp);
CRAWLLOG_API size_t crawllog_msg_header_count(const crawllog_msg_t *msg);
/**
 * @brief Header i (0-based) of a record.
 * @return CRAWLLOG_OK or CRAWLLOG_EINVAL (i out of range).
 */
CRAWLLOG_API int crawllog_msg_header(const crawllog_msg_t *msg, size_t i,
                                     crawllog_header_t *hdr);

/* ====================================================================== */
/* Partitioners                                                            */
/* ====================================================================== */

/*
 * A partitioner maps a record's key to a partition of its topic.  The
 * producer's rule: an explicit partition wins; else a custom partitioner if
 * one is configured; else murmur2 for a keyed record (an empty key is a
 * key) and round robin - or sticky - for a NULL key.  Partitioners are pure
 * functions of their arguments (plus the keyless state): call them and
 * crawllog_partitioner_stats() from a unit test, no log needed.
 */

/** "No particular partition": let the partitioner choose.  A partitioner
 *  returns it when it cannot choose (e.g. murmur2 for a NULL key). */
#define CRAWLLOG_PARTITION_ANY (-1)

/**
 * @brief A partitioner: the partition, in [0, partition_count), of a record
 *        of topic with the given key.
 * @param key     NULL for a null key (then keylen is 0); an empty key is
 *                non-NULL with keylen 0.  Valid only during the call.
 * @param opaque  the pointer registered with the partitioner.
 * @return the partition.  The producer refuses any other value, including
 *         CRAWLLOG_PARTITION_ANY, with CRAWLLOG_EPARTITION (never a modulo).
 * @note Thread-safety: called from any thread that sends, concurrently;
 *       must not call back into the producer.
 */
typedef int32_t crawllog_partitioner_fn(const char *topic, const void *key,
                                        size_t keylen, int32_t partition_count,
                                        void *opaque);

/** Records per partition of the sticky partitioner when the state is made
 *  with sticky_batch 0. */
#define CRAWLLOG_PARTITIONER_STICKY_BATCH_DEFAULT 1000

/**
 * State of the keyless partitioners (round robin and sticky): a counter
 * and the current sticky partition.  Updated with atomics only, so one
 * state may be shared by any number of threads.  Use one state per topic
 * for sticky (a shared state sticks across topics, which is still valid).
 */
typedef struct crawllog_partitioner_state_s crawllog_partitioner_state_t;

/**
 * @brief Create a keyless-partitioner state.
 * @param sp           out: the new state (NULL on error).  Owned by the
 *                     caller: free with crawllog_partitioner_state_destroy().
 * @param sticky_batch records the sticky partitioner sends to one partition
 *                     before it moves on; 0 for
 *                     CRAWLLOG_PARTITIONER_STICKY_BATCH_DEFAULT.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (sp NULL, sticky_batch < 0),
 *         CRAWLLOG_ENOMEM.
 */
CRAWLLOG_API int
crawllog_partitioner_state_new(crawllog_partitioner_state_t **sp,
                               int32_t sticky_batch);

/** @brief Free a state.  NULL is fine.  No call may be using it. */
CRAWLLOG_API void
crawllog_partitioner_state_destroy(crawllog_partitioner_state_t *s);

/**
 * @brief Kafka's murmur2 hash (seed 0x9747b28c): the same 32 bits as the
 *        Java client's Utils.murmur2().  A NULL key hashes as empty.
 * @note Thread-safety: pure function.
 */
CRAWLLOG_API uint32_t crawllog_murmur2(const void *key, size_t len);

/**
 * @brief The default partitioner for keyed records, byte for byte Kafka's:
 *        (murmur2(key) & 0x7fffffff) % partition_count.  An empty key
 *        (non-NULL, keylen 0) is hashed like any other key.  opaque and
 *        topic are ignored.
 * @return the partition; CRAWLLOG_PARTITION_ANY for a NULL key (Kafka never
 *         hashes a null key: the caller applies its keyless strategy) or
 *         partition_count < 1.
 * @note Thread-safety: pure function.
 */
CRAWLLOG_API int32_t crawllog_partitioner_murmur2(const char *topic,
                                                  const void *key,
                                                  size_t keylen,
                                                  int32_t partition_count,
                                                  void *opaque);

/**
 * @brief Round robin: the k-th call on a state returns k % partition_count
 *        (k counted from 0, 64 bits); the key is ignored.  The default for
 *        NULL keys.
 * @param opaque a crawllog_partitioner_state_t *, required.
 * @return the partition; CRAWLLOG_PARTITION_ANY if opaque is NULL or
 *         partition_count < 1.
 * @note Thread-safety: any thread; concurrent calls on one state each get a
 *       distinct k, so k*n calls give every partition exactly k.
 */
CRAWLLOG_API int32_t crawllog_partitioner_round_robin(const char *topic,
                                                      const void *key,
                                                      size_t keylen,
                                                      int32_t partition_count,
                                                      void *opaque);

/**
 * @brief Sticky (Kafka >= 2.4 for NULL keys): send sticky_batch records in
 *        a row to one partition, then move to the next one, (p + 1) %
 *        partition_count.  The first partition is the state's round-robin
 *        counter modulo partition_count (0 for a fresh state); it restarts
 *        there if partition_count shrank below the current partition.  The
 *        key is ignored.  Larger batches per partition, same long-run
 *        spread as round robin.
 * @param opaque a crawllog_partitioner_state_t *, required.
 * @return the partition; CRAWLLOG_PARTITION_ANY if opaque is NULL or
 *         partition_count < 1.
 * @note Thread-safety: any thread; the partition and its count change
 *       together atomically, so no partition gets more than sticky_batch
 *       records in a row.
 */
CRAWLLOG_API int32_t crawllog_partitioner_sticky(const char *topic,
                                                 const void *key,
                                                 size_t keylen,
                                                 int32_t partition_count,
                                                 void *opaque);

/**
 * @brief Run fn over nkeys keys and count where they land: for a unit test
 *        asserting that a partitioner spreads keys.
 * @param keys     nkeys keys; an entry may be NULL (a null key).
 * @param keylens  nkeys lengths, or NULL: then each non-NULL key is a
 *                 NUL-terminated string and its length is strlen().
 * @param partitions 1 .. CRAWLLOG_PARTITIONS_MAX.
 * @param counts   out: partitions entries, caller-allocated; counts[p] =
 *                 keys sent to p.  Not meaningful after an error.
 * @param skewp    out, optional: max(counts) / mean(counts), 1.0 for a
 *                 perfect spread, partitions if all keys land on one; 0.0
 *                 when nkeys is 0.
 * @return CRAWLLOG_OK; CRAWLLOG_EPARTITION as soon as fn returns a value
 *         outside [0, partitions) (CRAWLLOG_PARTITION_ANY included);
 *         CRAWLLOG_EINVAL (fn or counts NULL, keys NULL with nkeys > 0,
 *         partitions out of range).
 * @note Thread-safety: as fn; no log involved.
 */
CRAWLLOG_API int crawllog_partitioner_stats(crawllog_partitioner_fn *fn,
                                            void *opaque, const char *topic,
                                            const void *const *keys,
                                            const size_t *keylens,
                                            size_t nkeys, int32_t partitions,
                                            uint64_t *counts, double *skewp);

/* ====================================================================== */
/* Producer                                                                */
/* ====================================================================== */

/*
 * A producer sends records to topics of one log with a chosen
 * acknowledgement level (conf "acks"), batching and partitioning them.
 * It is thread-safe: many threads may send on one producer at once.  It
 * starts no thread: buffered (acks=0) messages whose linger.ms has passed
 * are written by the next crawllog_producer_send(), crawllog_producer_poll()
 * or crawllog_producer_flush() on the producer, from the calling thread -
 * call poll from your own loop, like librdkafka's rd_kafka_poll().
 *
 * Producer properties (docs/CONFIGURATION.md, scope "producer"):
 *  acks        0: a send buffers the message in the producer and returns
 *                 at once (offset -1); it is written on linger.ms expiry, a
 *                 full batch (batch.size), flush or destroy, and lost if
 *                 the process dies first (never torn: whole batches only).
 *              1: written to the OS (CRAWLLOG_SYNC_WRITTEN) before return:
 *                 survives a crash of the process.
 *              all (default): fdatasync'd before return (survives a power
 *                 loss).  Concurrent senders share fdatasyncs (group
 *                 commit).
 *  linger.ms, batch.size   acks=0 batching.
 *  partitioner round_robin (default) | sticky | murmur2_random: where a
 *              record with a NULL key and CRAWLLOG_PARTITION_ANY goes.
 *              Keyed records go to Kafka's murmur2 partition, unless a
 *              custom partitioner is set.
 *  max.message.bytes (the topic's): a larger record is CRAWLLOG_ETOOBIG,
 *              nothing is written.
 *  enable.idempotence (default true), producer.id: see Idempotence below.
 * Ordering: the records one thread sends to one partition keep their order.
 *
 * Idempotence (Kafka's idempotent producer, KIP-98, without a broker).
 * Every batch carries the producer's id, epoch and a per-partition base
 * sequence (records are numbered 0, 1, 2, ... per partition and producer
 * id, wrapping after INT32_MAX).  Each partition keeps, per producer id,
 * the last sequence and the last 5 batches, rebuilt from the segments
 * when a process first needs them, so the state survives restarts and is
 * shared by every process.
 *  - producer.id "" (default): a random id; sequences last as long as the
 *    producer.
 *  - producer.id "name": the id is stored in <dir>/producers/name.  A
 *    producer re-created with the same name continues its sequences
 *    (crawllog_producer_next_sequence() tells where), and becomes the only
 *    live instance: every later send of an older instance, in any process,
 *    fails with CRAWLLOG_EFENCED (and so do all its sends after that).
 *  - crawllog_producer_send_sequenced() sends a batch with the sequence
 *    the application gives: the same batch sent again (after a crash or a
 *    failed call) is not written twice and its original offset comes back;
 *    a sequence after a gap is CRAWLLOG_ESEQUENCE.
 * Automatic sequences are assigned under the partition's append lock, so
 * concurrent sends never collide.
 */
typedef struct crawllog_producer_s crawllog_producer_t;

/**
 * @brief Delivery report: called once per message with its offset, or
 *        with err != 0 (offset -1) if it could not be written.
 *
 * Runs in a thread that called crawllog_producer_send(), _poll(),
 * _flush() or _destroy(), never under an internal lock: it may call the
 * log's functions and crawllog_producer_send() (whose own reports then
 * come later).  With acks=0 reports of one partition come in send order.
 * @param topic  valid during the call only.
 */
typedef void crawllog_delivery_cb(void *opaque, const char *topic,
                                  int32_t partition, int64_t offset, int err);

/**
 * @brief Create a producer on an open log.
 * @param conf    optional: producer properties (others are ignored).
 * @param prodp   out: the producer, NULL on failure.
 * @param errstr  out, optional: why it failed.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL, CRAWLLOG_ENOMEM.
 * @note Ownership: conf is read, not kept.  The log must outlive the
 *       producer.  Destroy it with crawllog_producer_destroy().
 */
CRAWLLOG_API int crawllog_producer_new(crawllog_t *log,
                                       const crawllog_conf_t *conf,
                                       crawllog_producer_t **prodp,
                                       char *errstr, size_t errstr_size);

/**
 * @brief Flush (write every buffered message, delivering its report),
 *        then free the producer.
 * @return the flush's result (the producer is freed anyway).  NULL is fine.
 * @note No other call may be running on the producer.
 */
CRAWLLOG_API int crawllog_producer_destroy(crawllog_producer_t *prod);

/**
 * @brief Send one record (timestamp: now).
 * @param partition  a partition, or CRAWLLOG_PARTITION_ANY.
 * @param key        NULL for a null key.
 * @param value      NULL for a null value.
 * @param headers    nheaders headers (NULL if 0).
 * @param offsetp    out, optional: the record's offset; -1 with acks=0 (see
 *                   the delivery report).
 * @return CRAWLLOG_OK, or CRAWLLOG_EINVAL, CRAWLLOG_ENOTOPIC,
 *         CRAWLLOG_EPARTITION (partition out of range, or from the custom
 *         partitioner), CRAWLLOG_ETOOBIG (nothing written), CRAWLLOG_ENOMEM,
 *         and with acks=1/all the append's errors (CRAWLLOG_EIO,
 *         CRAWLLOG_ENOSPC, CRAWLLOG_ECLOSED, ...).  With acks=all, after an
 *         fdatasync failure every later send fails too (CRAWLLOG_ECLOSED
 *         or the original error): recreate the log and the producer.  With
 *         acks=0 an error writing an earlier batch is reported through the
 *         delivery callback and crawllog_producer_flush(), not here.
 * @note Thread-safety: any thread.  Bytes are copied before return.
 */
CRAWLLOG_API int crawllog_producer_send(crawllog_producer_t *prod,
                                        const char *topic, int32_t partition,
                                        const void *key, size_t keylen,
                                        const void *value, size_t vlen,
                                        const crawllog_header_t *headers,
                                        size_t nheaders, int64_t *offsetp);

/**
 * @brief Send one record given whole (rec->timestamp < 0 means now).
 * @return as crawllog_producer_send().
 */
CRAWLLOG_API int crawllog_producer_send_record(crawllog_producer_t *prod,
                                               const char *topic,
                                               int32_t partition,
                                               const crawllog_record_t *rec,
                                               int64_t *offsetp);

/**
 * @brief Send n records to one partition as one batch: all of them are
 *        written, at consecutive offsets, or none.
 * @param partition  a partition, or CRAWLLOG_PARTITION_ANY: then the
 *                   partition is chosen once, for recs[0].
 * @param recs       n >= 1 records (timestamp < 0: now).
 * @param base_offsetp out, optional: offset of recs[0] (recs[i] is at
 *                   base + i).
 * @return as crawllog_producer_send(); CRAWLLOG_ETOOBIG if the batch is
 *         larger than max.message.bytes.  With acks=0 the batch is written
 *         (to the OS) at once, after the partition's buffered messages,
 *         and its offset is returned too.  The delivery callback, if set,
 *         gets one report per record.
 * @note Thread-safety: any thread.  Bytes are copied before return.
 */
CRAWLLOG_API int crawllog_producer_send_batch(crawllog_producer_t *prod,
                                              const char *topic,
                                              int32_t partition,
                                              const crawllog_record_t *recs,
                                              size_t n,
                                              int64_t *base_offsetp);

/**
 * @brief Send (or re-send) n records to one partition as one batch whose
 *        first record has sequence base_sequence (idempotent producers).
 *
 * If the batch is the next one (base_sequence ==
 * crawllog_producer_next_sequence()), it is written.  If exactly this
 * sequence range was written before by this producer.id (one of the last
 * 5 batches of the partition), nothing is written, *duplicatep is 1 and
 * *base_offsetp the original offset; a range older than those 5 is also a
 * duplicate, with offset -1 (no longer known).  Records of a duplicate are
 * not compared: the sequence identifies them.
 * @param partition  an explicit partition (sequences are per partition).
 * @param duplicatep out, optional: 1 if nothing was written.
 * @return CRAWLLOG_OK, CRAWLLOG_ESEQUENCE (a gap after the last written
 *         sequence, or a range that overlaps written batches differently:
 *         nothing written), CRAWLLOG_EFENCED, CRAWLLOG_EINVAL (idempotence
 *         off, base_sequence < 0, CRAWLLOG_PARTITION_ANY), and the errors of
 *         crawllog_producer_send_batch().  With acks=all a duplicate is
 *         made durable before return too.
 */
CRAWLLOG_API int crawllog_producer_send_sequenced(
    crawllog_producer_t *prod, const char *topic, int32_t partition,
    int32_t base_sequence, const crawllog_record_t *recs, size_t n,
    int64_t *base_offsetp, int *duplicatep);

/**
 * @brief The sequence the next record this producer.id sends to a
 *        partition will get (0 if it has written nothing there), as the
 *        log shows it now (every process's writes included).
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (idempotence off), CRAWLLOG_ENOTOPIC,
 *         CRAWLLOG_EPARTITION, I/O errors (the partition's batches are read
 *         the first time).
 * @note Buffered acks=0 messages are not counted until written.
 */
CRAWLLOG_API int crawllog_producer_next_sequence(crawllog_producer_t *prod,
                                                 const char *topic,
                                                 int32_t partition,
                                                 int32_t *seqp);

/**
 * @brief The producer id and epoch written into this producer's batches
 *        (-1, -1 with enable.idempotence=false).
 * @return CRAWLLOG_OK or CRAWLLOG_EINVAL.
 */
CRAWLLOG_API int crawllog_producer_identity(const crawllog_producer_t *prod,
                                            int64_t *pidp, int16_t *epochp);

/**
 * @brief Write buffered batches whose linger.ms has passed and run pending
 *        delivery reports, in the calling thread.
 * @return number of reports delivered (>= 0), or a negative error of a
 *         write (also reported to the callback of each message).
 * @note Thread-safety: any thread.
 */
CRAWLLOG_API int crawllog_producer_poll(crawllog_producer_t *prod);

/**
 * @brief Write every buffered message now and run their delivery reports.
 * @param timeout_ms  accepted for Kafka compatibility; flush is synchronous
 *                    (the writes are done in this call) and always waits.
 * @return CRAWLLOG_OK or the first write error since the last flush.
 */
CRAWLLOG_API int crawllog_producer_flush(crawllog_producer_t *prod,
                                         int timeout_ms);

/**
 * @brief Use fn for every record sent with CRAWLLOG_PARTITION_ANY, keyed or
 *        not (NULL fn: back to the built-in rule).
 * @return CRAWLLOG_OK or CRAWLLOG_EINVAL.
 * @note Call it before the first send (not concurrently with sends).
 */
CRAWLLOG_API int crawllog_producer_set_partitioner(crawllog_producer_t *prod,
                                                   crawllog_partitioner_fn *fn,
                                                   void *opaque);

/**
 * @brief Set the delivery-report callback (NULL: none).
 * @return CRAWLLOG_OK or CRAWLLOG_EINVAL.
 * @note Call it before the first send (not concurrently with sends).
 */
CRAWLLOG_API int crawllog_producer_set_delivery_cb(crawllog_producer_t *prod,
                                                   crawllog_delivery_cb *cb,
                                                   void *opaque);

/**
 * @brief Detail of the producer's latest failure ("" if none).
 * @return a string owned by the producer, valid until its next call.
 */
CRAWLLOG_API const char *
crawllog_producer_errmsg(const crawllog_producer_t *prod);

/* ====================================================================== */
/* Consumers and consumer groups                                           */
/* ====================================================================== */

/*
 * A consumer reads messages from partitions and commits how far it got.
 * Two modes:
 *  - group (crawllog_consumer_subscribe, needs group.id): the consumer is a
 *    member of a consumer group.  Members are consumers in any thread or
 *    process that opened the same data directory; the group's membership,
 *    generation and assignment live in groups/<group.id>/ and every member
 *    sees them.  Partitions of the subscribed topics are divided among the
 *    members by partition.assignment.strategy.  A member that dies is
 *    detected within heartbeat.interval.ms (the kernel drops the lock the
 *    member held) by any member that polls, and its partitions move; a live
 *    member that stops calling poll for max.poll.interval.ms is expelled.
 *  - manual (crawllog_consumer_assign): the consumer reads exactly the
 *    given partitions; with a group.id it can still commit, but only while
 *    the group has no active members (Kafka's rule for standalone commits).
 *
 * Ownership and fencing.  A partition is owned by at most one member at a
 * time.  When the assignment moves a partition, its old owner revokes it
 * at its next poll (rebalance callback CRAWLLOG_REBALANCE_REVOKED: commit
 * there) and only then does the new owner get it (cooperative, two-phase,
 * like Kafka's CooperativeStickyAssignor; with the eager strategies range
 * and roundrobin a member revokes all its partitions at every rebalance).
 * A commit for a partition the member does not own any more - it was
 * expelled, or a dead-looking member came back - is refused with
 * CRAWLLOG_EGENERATION and moves no offset.
 *
 * Delivery is at-least-once: messages are handed out from the committed
 * offset of a newly owned partition; anything delivered but not committed
 * before a crash or a move is delivered again.
 *
 * Threads: a consumer is used by one thread at a time (like Kafka's); use
 * one consumer per thread.  It starts no thread: everything happens inside
 * its calls, poll mostly.  Callbacks run from poll (and close), in the
 * calling thread, never under an internal lock.
 *
 * Consumer properties (docs/CONFIGURATION.md, scope "consumer"): group.id,
 * group.instance.id, client.id, auto.offset.reset, enable.auto.commit
 * (default false), auto.commit.interval.ms, max.poll.interval.ms,
 * session.timeout.ms, heartbeat.interval.ms, partition.assignment.strategy,
 * max.poll.records, max.partition.fetch.bytes.
 */
typedef struct crawllog_consumer_s crawllog_consumer_t;

/* Special offsets for crawllog_consumer_assign() and _seek(). */
#define CRAWLLOG_OFFSET_BEGINNING (-2) /* the log start offset */
#define CRAWLLOG_OFFSET_END (-1)       /* the log end offset */
#define CRAWLLOG_OFFSET_COMMITTED (-1001) /* the committed offset, else
                                             auto.offset.reset */

/** A partition of a topic, with an offset where one is needed. */
typedef struct crawllog_topic_partition {
    const char *topic;
    int32_t partition;
    int64_t offset;       /* meaning depends on the call; -1 if none */
    const char *metadata; /* commit metadata (NULL: none), < 4096 bytes */
} crawllog_topic_partition_t;

/* Events of the rebalance callback. */
#define CRAWLLOG_REBALANCE_ASSIGNED 1 /* these partitions are now owned */
#define CRAWLLOG_REBALANCE_REVOKED 2  /* about to be given up: commit now */
#define CRAWLLOG_REBALANCE_LOST 3     /* already owned by others (this
                                         member was expelled): commits for
                                         them would fail */

/**
 * Rebalance callback: event and the partitions it concerns (offset is the
 * consumer's position, -1 if unknown).  Called from poll / close, outside
 * every internal lock; the callback may call commit, position, pause,
 * seek on cons, not poll or close.
 */
typedef void crawllog_rebalance_cb(crawllog_consumer_t *cons, int event,
                                   const crawllog_topic_partition_t *parts,
                                   size_t count, void *opaque);

/**
 * @brief Create a consumer on log.
 * @param conf  consumer-scope properties (NULL: defaults); copied.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (bad argument; errstr says which),
 *         CRAWLLOG_ENOMEM, CRAWLLOG_EBUSY (1024 consumers wait on this
 *         data directory already), CRAWLLOG_EIO.
 * @note The log must outlive the consumer.
 */
CRAWLLOG_API int crawllog_consumer_new(crawllog_t *log,
                                       const crawllog_conf_t *conf,
                                       crawllog_consumer_t **consp,
                                       char *errstr, size_t errstr_size);

/** @brief Set the rebalance callback (before subscribe). */
CRAWLLOG_API int crawllog_consumer_set_rebalance_cb(crawllog_consumer_t *cons,
                                                    crawllog_rebalance_cb *cb,
                                                    void *opaque);

/**
 * @brief Join group.id as a member subscribed to topics (replacing an
 *        earlier subscription).  Topics that do not exist yet are picked
 *        up when they are created.  The assignment arrives in poll.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (no group.id, bad topic name, more
 *         than 64 topics, the group uses another assignment strategy),
 *         CRAWLLOG_EMISUSE (the consumer uses assign()), CRAWLLOG_EBUSY
 *         (the group has 256 members, or group.instance.id is in use by a
 *         live member), CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_consumer_subscribe(crawllog_consumer_t *cons,
                                             const char *const *topics,
                                             size_t count);

/**
 * @brief Read exactly these partitions, no group (replacing an earlier
 *        assignment).  parts[i].offset: where to start - an offset,
 *        CRAWLLOG_OFFSET_BEGINNING, _END or _COMMITTED.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL, CRAWLLOG_ENOTOPIC,
 *         CRAWLLOG_EMISUSE (the consumer is subscribed).
 */
CRAWLLOG_API int crawllog_consumer_assign(crawllog_consumer_t *cons,
                                          const crawllog_topic_partition_t
                                              *parts,
                                          size_t count);

/**
 * @brief Up to max messages (and max.poll.records) from the owned,
 *        unpaused partitions, in offset order per partition.  Blocks up to
 *        timeout_ms (0: never; < 0: forever) until at least one message is
 *        there, woken at once by appends from any process.  In group mode
 *        poll also keeps the membership alive, runs rebalances and calls
 *        the rebalance callback.
 * @param msgs  out: max message pointers, valid until the next poll,
 *              close or destroy of this consumer (they point into the
 *              consumer's read buffers: no per-message copy).
 * @param countp out: how many (0 on timeout).
 * @return CRAWLLOG_OK (also on timeout), CRAWLLOG_EOFFSET (no committed
 *         offset and auto.offset.reset=error, or the position was deleted
 *         by retention with reset=error; the message names the partition),
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EIO, CRAWLLOG_EINVAL.
 */
CRAWLLOG_API int crawllog_consumer_poll(crawllog_consumer_t *cons,
                                        int timeout_ms,
                                        const crawllog_msg_t **msgs,
                                        size_t max, size_t *countp);

/**
 * @brief Commit: the partition of msg at msg's offset + 1, or (msg NULL)
 *        every owned partition at its position.
 * @param sync  CRAWLLOG_SYNC_DURABLE: fdatasync'd before return;
 *              CRAWLLOG_SYNC_WRITTEN: in the file (survives a crash of this
 *              process, made durable by the next durable commit or close).
 * @return CRAWLLOG_OK, CRAWLLOG_EGENERATION (a partition is no longer
 *         owned by this member: nothing of the call is committed),
 *         CRAWLLOG_EINVAL (no group.id; msg not from this consumer),
 *         CRAWLLOG_EIO, CRAWLLOG_ENOSPC.
 */
CRAWLLOG_API int crawllog_consumer_commit(crawllog_consumer_t *cons,
                                          const crawllog_msg_t *msg,
                                          int sync);

/**
 * @brief Commit the given offsets (each the NEXT offset to read), all of
 *        them atomically: after a crash either all are committed or none.
 * @return as crawllog_consumer_commit().
 */
CRAWLLOG_API int crawllog_consumer_commit_offsets(
    crawllog_consumer_t *cons, const crawllog_topic_partition_t *list,
    size_t count, int sync);

/**
 * @brief Dead-letter a message this consumer's last poll returned: append
 *        it (key, value, original headers) durably to the dead-letter
 *        topic - `<topic>.dlt`, or the consumer's dead.letter.topic,
 *        created on demand with the topic's partition count, same
 *        partition - with Spring Kafka's DLT headers
 *        (kafka_dlt-original-topic, -original-partition (int32 BE),
 *        -original-offset (int64 BE), -original-timestamp (int64 BE),
 *        -original-consumer-group, kafka_dlt-exception-message = reason)
 *        and crawllog_dlt-attempts (int32 BE); then commit the partition
 *        past the message (never backwards).  One atomic step: after a
 *        crash anywhere in it, the next owner of the partition finishes it
 *        before delivering anything, and the dead letter exists exactly
 *        once.  Needs group.id; the consumer must own the partition.
 * @param reason  text kept in the dead letter (first 2047 bytes).
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (msg not from this consumer's poll,
 *         no group.id, DLT name too long), CRAWLLOG_EGENERATION (not the
 *         owner), CRAWLLOG_EIO, CRAWLLOG_ENOSPC.  After an error, calling
 *         again for the same message finishes the interrupted step.
 */
CRAWLLOG_API int crawllog_consumer_dead_letter(crawllog_consumer_t *cons,
                                               const crawllog_msg_t *msg,
                                               const char *reason);

/** Outcomes of crawllog_consumer_process(). */
#define CRAWLLOG_PROCESSED 1     /* an attempt succeeded */
#define CRAWLLOG_DEAD_LETTERED 2 /* every attempt failed: dead-lettered */

/**
 * Processing function for crawllog_consumer_process(): 0 on success, any
 * other value on failure, with a reason written to reason (reason_size
 * bytes, NUL-terminated) that ends up in the dead letter.
 */
typedef int crawllog_process_cb(const crawllog_msg_t *msg, void *opaque,
                                char *reason, size_t reason_size);

/**
 * @brief The retry policy: call fn on msg up to max.attempts times,
 *        waiting retry.backoff.ms before the second attempt and doubling
 *        the wait each time (at most retry.backoff.max.ms); if every
 *        attempt failed, dead-letter msg with the last reason (as
 *        crawllog_consumer_dead_letter(), crawllog_dlt-attempts =
 *        max.attempts).  The waits happen in this thread; the member stays
 *        alive in its group meanwhile (keep the total wait below
 *        max.poll.interval.ms anyway: nothing else is polled).  On success
 *        nothing is committed: commit as usual.
 * @param outcomep out, optional: CRAWLLOG_PROCESSED or
 *        CRAWLLOG_DEAD_LETTERED.
 * @return CRAWLLOG_OK, or the errors of crawllog_consumer_dead_letter().
 */
CRAWLLOG_API int crawllog_consumer_process(crawllog_consumer_t *cons,
                                           const crawllog_msg_t *msg,
                                           crawllog_process_cb *fn,
                                           void *opaque, int *outcomep);

/**
 * @brief The committed offset of a partition of group.id (-1 if none).
 *        Any partition, owned or not; sees other processes' commits.
 */
CRAWLLOG_API int crawllog_consumer_committed(crawllog_consumer_t *cons,
                                             const char *topic,
                                             int32_t partition,
                                             int64_t *offsetp);

/**
 * @brief Make an owned partition's next message the one at offset
 *        (or CRAWLLOG_OFFSET_BEGINNING / _END).
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC (not owned), CRAWLLOG_EOFFSET.
 */
CRAWLLOG_API int crawllog_consumer_seek(crawllog_consumer_t *cons,
                                        const char *topic, int32_t partition,
                                        int64_t offset);

/**
 * @brief Seek an owned partition to the first message with a timestamp
 *        >= timestamp_ms (the log end if none).
 */
CRAWLLOG_API int crawllog_consumer_seek_to_time(crawllog_consumer_t *cons,
                                                const char *topic,
                                                int32_t partition,
                                                int64_t timestamp_ms);

/**
 * @brief The offset of the next message poll returns for an owned
 *        partition (-1 before its start is known).
 */
CRAWLLOG_API int crawllog_consumer_position(crawllog_consumer_t *cons,
                                            const char *topic,
                                            int32_t partition,
                                            int64_t *offsetp);

/**
 * @brief Stop / restart fetching owned partitions without leaving the
 *        group (a member whose downstream is down keeps its partitions and
 *        keeps polling to stay alive).  Paused partitions stay paused
 *        across rebalances while owned.  offset fields are ignored.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC (a partition is not owned;
 *         nothing changed).
 */
CRAWLLOG_API int crawllog_consumer_pause(crawllog_consumer_t *cons,
                                         const crawllog_topic_partition_t
                                             *parts,
                                         size_t count);
CRAWLLOG_API int crawllog_consumer_resume(crawllog_consumer_t *cons,
                                          const crawllog_topic_partition_t
                                              *parts,
                                          size_t count);

/**
 * @brief The partitions the consumer owns now, with their positions in
 *        offset.  *listp is malloc'd (topics point into it): free() it.
 */
CRAWLLOG_API int crawllog_consumer_assignment(crawllog_consumer_t *cons,
                                              crawllog_topic_partition_t
                                                  **listp,
                                              size_t *countp);

/** @brief The group generation the member last synchronised with (-1 if
 *         not in a group). */
CRAWLLOG_API int32_t crawllog_consumer_generation(
    const crawllog_consumer_t *cons);

/** @brief The member id ("" if not in a group). */
CRAWLLOG_API const char *crawllog_consumer_member_id(
    const crawllog_consumer_t *cons);

/**
 * @brief Leave the group (partitions revoked through the callback, then
 *        released at once for the others; a static member keeps them for
 *        session.timeout.ms instead) and, with enable.auto.commit, commit
 *        positions durably.  The consumer can then only be destroyed.
 */
CRAWLLOG_API int crawllog_consumer_close(crawllog_consumer_t *cons);

/** @brief Close (if not closed) and free.  NULL is fine. */
CRAWLLOG_API void crawllog_consumer_destroy(crawllog_consumer_t *cons);

/** @brief Detail of the consumer's last failure, "" if none. */
CRAWLLOG_API const char *crawllog_consumer_errmsg(
    const crawllog_consumer_t *cons);

/** @brief Topic and partition of a message. */
CRAWLLOG_API const char *crawllog_msg_topic(const crawllog_msg_t *msg);
CRAWLLOG_API int32_t crawllog_msg_partition(const crawllog_msg_t *msg);

/* ---------------------------------------------------------------------- */
/* Group description and lag                                               */
/* ---------------------------------------------------------------------- */

/** One partition of a group: what kafka-consumer-groups --describe shows. */
typedef struct crawllog_group_partition {
    const char *topic;
    int32_t partition;
    int64_t committed;      /* CURRENT-OFFSET; -1: never committed */
    int64_t log_end;        /* LOG-END-OFFSET */
    int64_t lag;            /* log_end - committed; -1 if no commit */
    int64_t commit_time_ms; /* wall clock of the last commit; -1 */
    const char *member_id;  /* CONSUMER-ID of the owner; NULL if none */
    const char *status;     /* lag status (Burrow's rules, see below):
                               "OK", "WARN", "STOP", "STALL", "REWIND",
                               or "NOTFOUND" (no commit, log end unknown,
                               or no commit history on this machine) */
} crawllog_group_partition_t;

typedef struct crawllog_group_member {
    const char *member_id;
    const char *instance_id; /* "" for a dynamic member */
    const char *client_id;
    long pid;                /* the member's process */
    int alive;               /* 0: dead static member waiting to return */
    int64_t last_poll_age_ms;/* since its last poll */
    size_t partitions;       /* owned */
} crawllog_group_member_t;

typedef struct crawllog_group_desc {
    const char *group;
    const char *state;     /* "Empty", "Stable", "PreparingRebalance"
                              (partitions waiting to change owner) */
    const char *strategy;  /* assignment strategy ("" if never joined) */
    int32_t generation;
    crawllog_group_member_t *members;
    size_t member_count;
    crawllog_group_partition_t *partitions; /* committed or subscribed,
                                               sorted by topic, partition */
    size_t partition_count;
    const char *lag_status; /* the worst partition status, STOP, STALL and
                               REWIND counting as "ERR": "OK", "WARN",
                               "ERR", or "NOTFOUND" (no partition has one) */
} crawllog_group_desc_t;

/*
 * Lag status (LinkedIn Burrow's evaluation rules).  Every commit also
 * records, in the machine-local cache groups/<group>/lag.history, a point
 * {committed offset, commit time, lag = log end then - offset}; the last
 * 10 per partition form its window.  A partition's status, by the first
 * rule that applies: no window (or no commit, or the log end unknown) ->
 * NOTFOUND; lag now 0 -> OK; no commit for longer than the window spans
 * (now - newest commit > newest - oldest commit), unless the log end of
 * some point of the window was at or below the newest committed offset ->
 * STOP; some commit lower than the one before it and not recovered to it
 * by a later one -> REWIND; if every point lagged (lag > 0): all offsets
 * equal -> STALL, the lag never decreased -> WARN; otherwise OK.  The
 * group's status is the worst of its partitions (NOTFOUND ones skipped),
 * STOP, STALL and REWIND being reported as ERR.  The history is not
 * durable and is lost at a reboot (statuses read NOTFOUND until the next
 * commits); the strings are static (not freed with the description).
 */

/**
 * @brief Describe a consumer group: members, ownership, committed offsets,
 *        log end offsets, lag and lag status, as of now (read-only: no
 *        lock blocks a member).  Free with crawllog_group_desc_free().
 * @return CRAWLLOG_OK, CRAWLLOG_ENOENT (no such group), CRAWLLOG_EINVAL,
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EIO, CRAWLLOG_ENOMEM.
 */
CRAWLLOG_API int crawllog_group_describe(crawllog_t *log, const char *group,
                                         crawllog_group_desc_t **descp);
CRAWLLOG_API void crawllog_group_desc_free(crawllog_group_desc_t *desc);

/** @brief Names of all groups, sorted; free with crawllog_topic_list_free. */
CRAWLLOG_API int crawllog_group_list(crawllog_t *log, char ***namesp,
                                     size_t *countp);

/* ====================================================================== */
/* Topic migration                                                         */
/* ====================================================================== */

/*
 * Migrating a topic <old> to a new topic <new> with another partition count,
 * down as well as up, while producers keep appending (docs/MIGRATION.md,
 * steps 1-3; switching consumer groups over, step 4, is not implemented
 * yet).
 *  1. <new> is created with N partitions and <old>'s topic properties, and
 *     topics/<old>/migration (docs/FORMAT.md section 5) records the
 *     migration (state "copying").
 *  2. Every record of <old> is copied to <new>, keys, values, headers and
 *     timestamps kept: a keyed record to partition murmur2(key) % N
 *     (Kafka's rule), a keyless one from old partition p to p % N (so a
 *     keyless partition keeps its order).  The copy of old partition p is
 *     written by an idempotent producer "migrate.<old>.<p>" whose sequence
 *     in new partition q is the number of records copied from p to q, and
 *     the progress is recorded after each durable batch: after a crash the
 *     copy resumes without writing any record twice.
 *  3. Cut-over (state "redirect"), under crawllog.lock: every old partition
 *     is fenced under its append lock (appends to it wait), the tail is
 *     copied, cut.<p> (old log ends) and start.<q> (new log ends) are
 *     recorded durably, and the partitions are marked redirected.
 * Redirect: from then on every append to <old> (crawllog_append, every
 * producer send, buffered batches flushed later), from any process,
 * including one that had <old> open before, goes to <new>: a keyed record
 * to murmur2(key) % N whatever partition it was sent to, a keyless record
 * sent to (or chosen as) old partition p to p % N.  A batch whose records
 * go to several new partitions is written as one batch per new partition
 * (each all-or-nothing, in the records' order).  The offsets returned
 * (base offset, delivery reports) are offsets in <new> (of the first
 * record's batch); the partition reported is still the one sent to.
 * Idempotent producers keep their id and epoch, but sequences in <new> are
 * assigned there: a batch re-sent with crawllog_producer_send_sequenced()
 * after the cut-over is not recognised as a duplicate.
 * Per-key order: every record of a key appended to <old> before the
 * cut-over precedes, in <new>, every one appended after it.
 * Buffered (CRAWLLOG_SYNC_NONE) batches reach <new> when written (flush),
 * so they are never lost behind the cut.
 */

/** The state of a topic's migration (topics/<old>/migration). */
typedef enum crawllog_migration_state {
    CRAWLLOG_MIGRATION_NONE = 0,     /* not migrated */
    CRAWLLOG_MIGRATION_COPYING = 1,  /* steps 1-2: appends still go here */
    CRAWLLOG_MIGRATION_REDIRECT = 2, /* cut over: appends go to the target */
    CRAWLLOG_MIGRATION_DONE = 3      /* every group switched (step 5) */
} crawllog_migration_state_t;

/** What crawllog_topic_migrate() reports to its progress callback. */
typedef struct crawllog_migrate_progress {
    crawllog_migration_state_t state; /* COPYING, then REDIRECT at the end */
    int cutover;       /* 1: the cut-over starts now */
    int32_t partition; /* old partition being copied; -1: none */
    int64_t copied;    /* records copied to <new> so far (every call) */
    int64_t total;     /* copied + records of <old> not copied yet (grows
                          while producers append) */
} crawllog_migrate_progress_t;

/** Progress callback: runs in the calling thread, under no lock (never
 *  while the cut-over holds crawllog.lock: it is called with cutover = 1
 *  just before), so it may append to <old>. */
typedef void crawllog_migrate_progress_cb(
    void *opaque, const crawllog_migrate_progress_t *progress);

/**
 * @brief Run steps 1-3 of migrating topic old to new_topic with partitions
 *        partitions, to completion: create, copy, cut over.  Resumable:
 *        after a crash (of any process, at any point), call it again with
 *        the same arguments; it continues from topics/<old>/migration.  On
 *        a topic already cut over it only re-marks the old partitions and
 *        returns CRAWLLOG_OK.
 * @param cb  optional: called after every durable batch and at the
 *            cut-over.
 * @return CRAWLLOG_OK, or CRAWLLOG_EINVAL (bad names or count, old ==
 *         new_topic), CRAWLLOG_ENOTOPIC (no old), CRAWLLOG_EEXIST (old is
 *         being migrated to another topic or count, or new_topic exists
 *         and is not an empty topic of that count), CRAWLLOG_EFENCED
 *         (another process is migrating the same topic),
 *         CRAWLLOG_ETOOBIG (the migration file would pass 1 MiB: about
 *         old partitions x new partitions > 60000 with keyed records),
 *         I/O errors.  After an error the migration is left resumable.
 * @note Thread-safety: any thread; appends to old may continue meanwhile
 *       (they wait during the cut-over).  Do not run two migrations of one
 *       topic at once.
 */
CRAWLLOG_API int crawllog_topic_migrate(crawllog_t *log, const char *old,
                                        const char *new_topic,
                                        int32_t partitions,
                                        crawllog_migrate_progress_cb *cb,
                                        void *opaque);

/** A topic's migration, as crawllog_topic_migration() reads it. */
typedef struct crawllog_migration {
    crawllog_migration_state_t state;
    char *target;           /* <new>; NULL with CRAWLLOG_MIGRATION_NONE */
    int32_t partitions;     /* N, of <new>; 0 with NONE */
    int32_t old_partitions; /* M, of <old> when the migration started */
    int64_t *copied;        /* [old_partitions]: next old offset to copy */
    int64_t *cut;           /* [old_partitions]: old log end at the cut-over
                               (-1 before REDIRECT) */
    int64_t *start;         /* [partitions]: new log end at the cut-over,
                               where groups start reading <new> (-1 before
                               REDIRECT) */
    int64_t records_copied; /* records copied so far */
} crawllog_migration_t;

/**
 * @brief Read topics/<topic>/migration.
 * @param infop  out: a new description (state CRAWLLOG_MIGRATION_NONE, no
 *               arrays, if the topic has no migration); free it with
 *               crawllog_migration_free().
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL, CRAWLLOG_ENOTOPIC,
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EVERSION, CRAWLLOG_ENOMEM,
 *         CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_topic_migration(crawllog_t *log, const char *topic,
                                          crawllog_migration_t **infop);

/** @brief Free what crawllog_topic_migration() returned.  NULL is fine. */
CRAWLLOG_API void crawllog_migration_free(crawllog_migration_t *info);

/* ====================================================================== */
/* Maintenance and verification                                            */
/* ====================================================================== */

/**
 * @brief Run periodic work for every topic now: roll segments older than
 *        segment.ms, and delete whole segments beyond retention.ms (by the
 *        segment's largest timestamp) or retention.bytes.  The active
 *        segment is never deleted.  The new log start offset is made durable
 *        before any segment is removed.  Nothing runs in the background:
 *        call this from your own loop (the CLI's "retention" command does).
 * @param deletedp out, optional: number of segments deleted.
 * @return CRAWLLOG_OK, CRAWLLOG_EIO, CRAWLLOG_ECORRUPT.
 */
CRAWLLOG_API int crawllog_maintain(crawllog_t *log, int64_t *deletedp);

/** Called once per problem crawllog_verify() finds. */
typedef void crawllog_verify_cb(void *opaque, const char *problem);

/**
 * @brief Check a whole data directory without changing it: metadata
 *        checksums and versions, every batch's structure and CRC, offset
 *        continuity within and across segments, index and time-index
 *        consistency, permissions, symbolic links, leftover temporary files.
 *        A torn tail that recovery would truncate counts as a problem.
 * @param cb       optional: called for each problem, e.g.
 *                 "topics/t/0/00000000000000000000.log: byte 4096: CRC
 *                 mismatch".
 * @param problemsp out, optional: number of problems.
 * @return CRAWLLOG_OK (clean), CRAWLLOG_ECORRUPT (problems found),
 *         CRAWLLOG_ENOENT, CRAWLLOG_EIO, CRAWLLOG_ENOMEM.
 * @note Takes no locks; run it on a quiet directory for a stable answer.
 */
CRAWLLOG_API int crawllog_verify(const char *dir, crawllog_verify_cb *cb,
                                 void *opaque, size_t *problemsp,
                                 char *errstr, size_t errstr_size);

#ifdef __cplusplus
}
#endif

#endif /* CRAWLLOG_H */
