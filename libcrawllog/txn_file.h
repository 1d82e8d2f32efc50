/*
 * txn_file.h - the durable state of one transactional producer,
 * transactions/<transactional.id> (Kafka's __transaction_state entry;
 * layer 2): two slots written in place (LMDB's two meta pages), so a
 * durable write costs one fdatasync and a non-durable one none.  Byte
 * layout and invariants: txn_file.c (the files); the in-memory state and
 * its encoding: txn_codec.c.  Used by txn.c, txn_recover.c, verify.c.
 */
#ifndef CL_TXN_FILE_H
#define CL_TXN_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"

#define CL_TXN_DIR "transactions"
/* The lock files of an id in transactions/ (txn.c, txn_recover.c). */
#define CL_TXN_LIVE_PREFIX "~live."
#define CL_TXN_LOCK_PREFIX "~lock."
#define CL_TXN_MAGIC "CLTXNSTA"
#define CL_TXN_VERSION 2u
#define CL_TXN_HDR_SIZE 60
#define CL_TXN_STATE_MIN (CL_TXN_HDR_SIZE + 2 + 4) /* smallest state */
/* Bounds checked by the writer and the reader. */
#define CL_TXN_PARTS_MAX 100000u   /* touched partitions */
#define CL_TXN_OFFSETS_MAX 100000u /* staged group offsets */
#define CL_TXN_NAME_MAX 249        /* topic / group / transactional.id */
#define CL_TXN_MEMBER_MAX 255      /* member id bytes */
#define CL_TXN_META_MAX 4095       /* offset metadata bytes (< 4 KiB) */
#define CL_TXN_FILE_MAX (64u * 1024 * 1024) /* one encoded state */
/* Slots: C bytes each, a multiple of 4096, 4096 .. 64 MiB; file = 2 C. */
#define CL_TXN_SLOT_MIN 4096u
#define CL_TXN_SLOT_MAX CL_TXN_FILE_MAX
#define CL_TXN_IMAGE_MAX (2u * CL_TXN_SLOT_MAX) /* largest valid file */
/* Header byte 27, the write word: counter (mod 128) | durable bit. */
#define CL_TXN_WCOUNT_MASK 0x7fu
#define CL_TXN_WDURABLE 0x80u

/* Coordinator-visible state (Kafka's TransactionState). */
enum cl_txn_status {
    CL_TXN_EMPTY = 0,
    CL_TXN_ONGOING = 1,
    CL_TXN_PREPARE_COMMIT = 2,
    CL_TXN_PREPARE_ABORT = 3,
    CL_TXN_COMPLETE_COMMIT = 4,
    CL_TXN_COMPLETE_ABORT = 5
};

/* A partition the transaction wrote to (AddPartitionsToTxn). */
struct cl_txn_part {
    char topic[CL_TXN_NAME_MAX + 1];
    int32_t partition;    /* 0 .. CRAWLLOG_PARTITIONS_MAX-1 */
    int64_t first_offset; /* first offset of the txn there, >= 0 */
};

/* An offset staged by TxnOffsetCommit. */
struct cl_txn_offset {
    char topic[CL_TXN_NAME_MAX + 1];
    int32_t partition;
    int64_t offset;  /* >= 0 */
    char *metadata;  /* cl_io_malloc'd, never NULL ("" for none) */
};

/* In-memory form.  Arrays are cl_io_malloc'd and owned by the struct. */
struct cl_txn_state {
    int64_t producer_id;     /* >= 0 */
    int16_t epoch;           /* >= 0 (prodid.c: instance & 0x7fff) */
    enum cl_txn_status status;
    uint64_t txn_seq;        /* bumped per transaction */
    int64_t start_ms;        /* >= -1 (-1: no transaction started) */
    int32_t timeout_ms;      /* transaction.timeout.ms, >= 1 */
    struct cl_txn_part *parts;
    size_t nparts, parts_cap;
    /* Staged group offsets: group "" means none (then member "",
     * generation -1 and no offsets). */
    char group[CL_TXN_NAME_MAX + 1];
    int32_t generation;
    char member[CL_TXN_MEMBER_MAX + 1];
    struct cl_txn_offset *offsets;
    size_t noffsets, offsets_cap;
    /* The write word (byte 27): filled by read/decode, set by
     * cl_txn_file_write (callers need not set them).  wcount 0..127. */
    unsigned wcount;
    int durable; /* 1: fdatasync'd before its write returned */
};

/* Zero *st: EMPTY, pid 0, epoch 0, start -1, timeout 60000, no group
 * (generation -1). */
void cl_txn_state_init(struct cl_txn_state *st);
/* Release the arrays and re-init. */
void cl_txn_state_free(struct cl_txn_state *st);

/* Append a touched partition / a staged offset (names copied, metadata
 * NULL = "").  0, CRAWLLOG_EINVAL (bad name, out of bounds) or
 * CRAWLLOG_ENOMEM (st unchanged). */
int cl_txn_state_add_part(struct cl_txn_state *st, const char *topic,
                          int32_t partition, int64_t first_offset);
int cl_txn_state_add_offset(struct cl_txn_state *st, const char *topic,
                            int32_t partition, int64_t offset,
                            const char *metadata);

/* 1 if name is a valid transactional.id (the topic-name rule of names.h:
 * [A-Za-z0-9._-]{1,249}, not "." / ".."), else 0. */
int cl_txn_id_valid(const char *name);

/* Encode st into a cl_io_malloc'd buffer (*lenp bytes); byte 27 is
 * st->wcount & 0x7f | (st->durable ? 0x80 : 0).  0, EINVAL (a field out
 * of range, message says which) or ENOMEM.  Pure. */
int cl_txn_encode(const struct cl_txn_state *st, uint8_t **bufp,
                  size_t *lenp, struct cl_err *err);
/* Decode buf[0, len) into *out (initialised here; free it even on
 * failure, it is left empty then).  0, CRAWLLOG_ECORRUPT ("<rel>: byte
 * <off>: <field>: <what>"), CRAWLLOG_EVERSION (intact, other version),
 * CRAWLLOG_ENOMEM.  Nothing is allocated before the counts are checked
 * against the bytes left.  Pure. */
int cl_txn_decode(const uint8_t *buf, size_t len, const char *rel,
                  struct cl_txn_state *out, struct cl_err *err);

/* Write st as the newest state of rootfd/transactions/<txnid>.
 * File missing, or st larger than its slots: the whole file is made anew
 * (transactions/ made with dmode, then rootfd fsync'd, on first use; file
 * mode fmode): "~tmp.<pid>.<n>" O_EXCL with slot 0 = st and slot 1 zeros,
 * fsync, renameat, fsync of transactions/ - always durable.  Otherwise in
 * place: read both slots (no valid slot: CRAWLLOG_ECORRUPT, or
 * CRAWLLOG_EVERSION, nothing written); the newer valid slot N is
 * overwritten if it is not durable, else (after an fdatasync of the file)
 * the other slot is written; then, if durable, one fdatasync.  Durable
 * when it returns 0 and durable != 0 (also when it decides to make the
 * write durable itself: see txn_file.c).  A failed write or sync is
 * reported (message naming the file) and leaves an earlier state
 * readable.  Sites: txn.mkdir, txn.mkdir.dirsync, txn.dir.open, txn.open,
 * txn.write, txn.fsync, txn.rename, txn.tmp.unlink, txn.dirsync (whole
 * file); txn.dir.open, txn.slot.open, txn.slot.read, txn.slot.presync,
 * txn.slot.write, txn.slot.fdatasync: in place. */
int cl_txn_file_write(int rootfd, const char *txnid,
                      const struct cl_txn_state *st, int durable,
                      mode_t fmode, mode_t dmode, struct cl_err *err);

/* Decode a whole file image buf[0, len) (both slots, the rules of
 * cl_txn_file_read) into *out (initialised here; free it whatever the
 * result); rel names the file in messages.  For crawllog_verify.  Pure
 * apart from allocations. */
int cl_txn_file_decode(const uint8_t *buf, size_t len, const char *rel,
                       struct cl_txn_state *out, struct cl_err *err);

/* Open rootfd/transactions/ into *dfdp, making it (and fsyncing rootfd)
 * if it is missing.  Sites: txn.mkdir, txn.mkdir.dirsync, txn.dir.open. */
int cl_txn_dir_open(int rootfd, mode_t dmode, int *dfdp, struct cl_err *err);

/* Read the newest valid slot of rootfd/transactions/<txnid> into *out
 * (initialised here; free it whatever the result).  CRAWLLOG_ENOENT if
 * absent (or no transactions/), CRAWLLOG_ELOOP for a symlink,
 * CRAWLLOG_ECORRUPT naming the file (a bad size, or no valid slot: both
 * slots' byte offsets, fields and reasons), CRAWLLOG_EVERSION (an intact
 * slot, or a whole version-1 file, of another version), CRAWLLOG_EINVAL
 * (bad txnid).  Lock-free against a writer: a slot being written fails
 * its CRC and the other slot is returned (an older state; callers re-read
 * under their lock before acting on it).  Sites: txn.dir.open, txn.read. */
int cl_txn_file_read(int rootfd, const char *txnid, struct cl_txn_state *out,
                     struct cl_err *err);

/* Remove it (then fsync transactions/).  CRAWLLOG_ENOENT if absent.
 * Sites: txn.dir.open, txn.unlink, txn.unlink.dirsync. */
int cl_txn_file_remove(int rootfd, const char *txnid, struct cl_err *err);

/* The transactional.ids that have a file (valid names only: temp files
 * and strangers are skipped), sorted; release with cl_io_listdir_free.
 * No transactions/ directory: 0 names.  Sites: txn.dir.open, txn.list. */
int cl_txn_file_list(int rootfd, char ***namesp, size_t *countp,
                     struct cl_err *err);

/* Remove transactions/~tmp.<pid>.<n> files whose writer pid is no longer
 * alive (left by a killed cl_txn_file_write; prodid.c's rule), best
 * effort: every such file is tried, the first failure is returned (the
 * caller may ignore it); ENOENT on a file (another cleaner) is not one.
 * Other names and live writers' temp files are kept.  No transactions/:
 * 0.  No directory fsync: a temp file back after a power loss goes at
 * the next cleanup.  Sites: txn.dir.open, txn.cleanup.list,
 * txn.cleanup.unlink. */
int cl_txn_file_cleanup(int rootfd, struct cl_err *err);

#endif /* CL_TXN_FILE_H */
