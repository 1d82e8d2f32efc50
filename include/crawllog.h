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
 *  - The library starts no threads, except the durable-flush pool
 *    (log.flush.parallelism) and, in a library built with `make kafka`, the
 *    threads librdkafka runs inside each Kafka producer and consumer
 *    (docs/SCALING.md).  Callbacks always run inside your calls.
 *  - A location given to crawllog_open() is a data directory or, with the
 *    Kafka backend, a cluster ("kafka://host:port[,host:port]"); the same
 *    calls work on both, and a call with no Kafka equivalent returns
 *    CRAWLLOG_ENOTSUP (docs/SCALING.md lists them).
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
    XX(EPARTITION, -22, "partitioner returned an invalid partition")         \
    XX(EABORT, -23, "the transaction must be aborted")                       \
    XX(ENOTSUP, -24, "not supported by this backend")

typedef enum crawllog_err {
#define CRAWLLOG_ERR_ENUM_(name, code, desc) CRAWLLOG_##name = (code),
    CRAWLLOG_ERRORS(CRAWLLOG_ERR_ENUM_)
#undef CRAWLLOG_ERR_ENUM_
    CRAWLLOG_ERR_END_ = -25 /* one below the last code; not an error */
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
 * A Kafka cluster instead (library built with `make kafka`,
 * docs/SCALING.md): dir "kafka://host:port[,host:port]", or the host list
 * with conf backend=kafka, or "kafka://mock[:N]" for an in-process mock
 * cluster of N brokers (tests, demos; gone at crawllog_close).  Properties
 * "kafka.<name>" of conf go to librdkafka as <name> for every client of
 * the log.  The open fails with CRAWLLOG_ETIMEDOUT if no broker answers.
 *
 * @param logp    out: the handle, or NULL on failure.
 * @param dir     path of the data directory, or a Kafka location.
 * @param conf    optional: log-level properties and topic defaults.
 * @param errstr  out, optional: why it failed.
 * @return CRAWLLOG_OK, or CRAWLLOG_ENOENT (missing and log.dir.create is
 *         false), CRAWLLOG_EPERM, CRAWLLOG_ELOOP, CRAWLLOG_EVERSION,
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EIO, CRAWLLOG_ENOMEM, CRAWLLOG_EINVAL,
 *         CRAWLLOG_ENOTSUP (a Kafka location in a library built without
 *         the Kafka backend), CRAWLLOG_ETIMEDOUT (Kafka: no broker
 *         answered).
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

/**
 * @brief Where the log is, as another process opens it: the data
 *        directory as given to crawllog_open(), or the Kafka location
 *        ("kafka://host:port,..."; for "kafka://mock" the mock cluster's
 *        own brokers, so that child processes reach the same cluster while
 *        this handle is open).
 * @return a string owned by the handle, valid until crawllog_close();
 *         "" for NULL.
 */
CRAWLLOG_API const char *crawllog_location(const crawllog_t *log);

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
 *        processes get CRAWLLOG_ENOTOPIC from then on.  A topic being
 *        migrated (crawllog_topic_migrate: state copying, or redirect while
 *        some consumer group has not switched to the target) is refused:
 *        its producers are still redirected through it and its groups
 *        still read it.  Once the migration is done it can be deleted.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC, CRAWLLOG_EINVAL, CRAWLLOG_EBUSY
 *         (being migrated; nothing deleted), CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_topic_delete(crawllog_t *log, const char *topic);

/** crawllog_topic_delete_flags(): delete a topic even while it is being
 *  migrated (its unswitched groups lose what they had not read, appends
 *  still redirected through it fail with CRAWLLOG_ENOTOPIC). */
#define CRAWLLOG_DELETE_FORCE 1u

/**
 * @brief crawllog_topic_delete() with flags (0 or CRAWLLOG_DELETE_FORCE).
 * @return as crawllog_topic_delete(); CRAWLLOG_EINVAL for unknown flags.
 */
CRAWLLOG_API int crawllog_topic_delete_flags(crawllog_t *log,
                                             const char *topic,
                                             unsigned flags);

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
 *
 * This is a group commit: append a batch to each of several partitions
 * with CRAWLLOG_SYNC_WRITTEN, then make all of them durable with one
 * crawllog_flush(log, CRAWLLOG_SYNC_DURABLE).  The partitions' fdatasyncs
 * are issued concurrently (the file system shares journal commits between
 * them) by the calling thread and up to log.flush.parallelism - 1 worker
 * threads of this handle (created on the first such flush, joined by
 * crawllog_close(); the library's only threads).  Every partition is
 * tried even after one fails.
 * @return CRAWLLOG_OK, or the first error (CRAWLLOG_EIO, CRAWLLOG_ENOSPC,
 *         CRAWLLOG_ECLOSED); batches that failed are dropped and counted in
 *         the message.
 * @note Thread-safety: any thread; concurrent durable flushes of one handle
 *       share its workers one at a time (the others sync on their own).
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

/** @brief Offset of the record the next crawllog_reader_next() returns
 *         (past any transaction markers and aborted records already
 *         skipped). */
CRAWLLOG_API int64_t crawllog_reader_position(const crawllog_reader_t *rd);

/* Isolation levels (crawllog_reader_set_isolation(), consumer property
 * isolation.level). */
#define CRAWLLOG_READ_UNCOMMITTED 0
#define CRAWLLOG_READ_COMMITTED 1

/**
 * @brief Choose what the reader returns of transactional producers'
 *        records (crawllog_txn_begin()).
 *
 * CRAWLLOG_READ_COMMITTED (default): a transaction's records are returned
 * once it committed, never if it aborted; the reader stops at the first
 * record of a transaction still open (the last stable offset) even if
 * committed records follow.  CRAWLLOG_READ_UNCOMMITTED: every data record
 * as soon as it is written.  Non-transactional records are the same in
 * both.  Transaction markers (control batches) are never returned; the
 * position moves past them, so a reader at the end of a partition whose
 * last batch is a marker has position == log end offset.
 * A reader that stays blocked behind a transaction whose producer died
 * (or that passed its transaction.timeout.ms) aborts it, at most once a
 * second: no transaction blocks readers for ever.
 * @return CRAWLLOG_OK or CRAWLLOG_EINVAL (unknown level).
 */
CRAWLLOG_API int crawllog_reader_set_isolation(crawllog_reader_t *rd,
                                               int level);

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
 *        them.  Each batch's CRC has been checked.  Raw means every batch:
 *        transaction markers and records of aborted or open transactions
 *        too, whatever the isolation level (attributes bits 4 and 5, see
 *        docs/FORMAT.md section 3.1).
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

/* The producer, the consumers and groups, topic migration, inspection
 * (segments, batches) and group administration are declared in these
 * headers, part of this one (include crawllog.h only). */
#include "crawllog_producer.h"
#include "crawllog_consumer.h"
#include "crawllog_txn.h"
#include "crawllog_migrate.h"
#include "crawllog_inspect.h"
#include "crawllog_admin.h"

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

/** Called by crawllog_verify_progress() after each segment it checked:
 *  how many segments and .log bytes so far. */
typedef void crawllog_verify_progress_cb(void *opaque, uint64_t segments,
                                         uint64_t log_bytes);

/**
 * @brief crawllog_verify() that also reports its progress (for a progress
 *        line on a terminal: `crawllog verify`).  progress may be NULL;
 *        both callbacks get opaque and run in the calling thread, under no
 *        lock.
 * @return as crawllog_verify().
 */
CRAWLLOG_API int crawllog_verify_progress(const char *dir,
                                          crawllog_verify_cb *cb,
                                          crawllog_verify_progress_cb
                                              *progress,
                                          void *opaque, size_t *problemsp,
                                          char *errstr, size_t errstr_size);

#ifdef __cplusplus
}
#endif

#endif /* CRAWLLOG_H */
