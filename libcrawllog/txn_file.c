/*
 * txn_file.c - the durable state of one transactional producer (layer 2):
 * <data dir>/transactions/<transactional.id>, Kafka's __transaction_state
 * entry.  The write of a PREPARE_COMMIT state is the commit decision; the
 * caller says which writes must be durable.
 *
 * On disk (FORMAT.md section 11), format version 2: the file is TWO SLOTS
 * of C bytes each (LMDB's two meta pages), slot k at byte k*C, file size
 * 2*C, C a multiple of 4096, 4096 .. 64 MiB (C = size / 2 when read; a
 * size that is not a multiple of 8192, below 8192 or above 128 MiB is
 * CRAWLLOG_ECORRUPT).  Each slot holds one encoded state (below, L bytes)
 * at its start; the bytes after L in the slot are ignored (stale or
 * zero).  All integers big-endian like producers/<name> (bytes.h):
 *
 * | offset | size | field |
 * |---:|---:|---|
 * | 0 | 8 | magic `CLTXNSTA` |
 * | 8 | 4 | version (2) |
 * | 12 | 4 | L, the state's length in bytes, CRC included (66 .. C) |
 * | 16 | 8 | producerId, int64 >= 0 |
 * | 24 | 2 | producerEpoch, int16 >= 0 |
 * | 26 | 1 | state: 0 EMPTY, 1 ONGOING, 2 PREPARE_COMMIT, 3 PREPARE_ABORT, 4 COMPLETE_COMMIT, 5 COMPLETE_ABORT |
 * | 27 | 1 | write word: bits 0-6 write counter (mod 128), bit 7 durable (fdatasync'd before the write returned) |
 * | 28 | 4 | NP, touched partitions (<= 100,000) |
 * | 32 | 8 | transaction sequence number, uint64 (bumped per transaction) |
 * | 40 | 8 | start time ms, int64 >= -1 (-1: none) |
 * | 48 | 4 | NO, staged offsets (<= 100,000) |
 * | 52 | 4 | group generation, int32 (-1 when there is no group) |
 * | 56 | 4 | transaction timeout ms, int32 >= 1 |
 * | 60 | | NP partition entries: topic length u8 (1..249), topic (names.h rule), partition int32 (0..9999), first offset of the transaction there int64 >= 0 |
 * | | 1 | group id length u8 (0: no staged offsets, then member length 0 and NO 0) |
 * | | | group id (names.h rule) |
 * | | 1 | member id length u8 (0..255) |
 * | | | member id (bytes 0x20..0x7e) |
 * | | | NO offset entries: topic length u8 (1..249), topic, partition int32 (0..9999), offset int64 >= 0, metadata length u16 (0..4095), metadata (no NUL byte) |
 * | L-4 | 4 | CRC-32C of bytes [0, L-4) (the write word included) |
 *
 * Reading: a slot is valid if its L is within [66, C] and it decodes,
 * CRC included; the reader returns the NEWER valid slot (a is newer than
 * b if (a.counter - b.counter) mod 128 is in 1..63; neither newer: slot
 * 0), the only valid one, or CRAWLLOG_ECORRUPT naming the file and both
 * slots' reasons; an intact slot of another version (or a whole
 * version-1 file) is CRAWLLOG_EVERSION.
 *
 * Writing (cl_txn_file_write):
 *  - file missing, or the state longer than C: the whole file is made as
 *    transactions/~tmp.<pid>.<n> (O_EXCL; '~' is not a name character)
 *    with slot 0 = the state (counter 1, or the newer slot's + 1; durable
 *    bit set) and slot 1 zeros, C the smallest multiple of 4096 >=
 *    max(4096, L); fsync'd, renamed over the name, then transactions/ is
 *    fsync'd (transactions/ itself is made on first use and the data
 *    directory fsync'd).  Always durable.
 *  - otherwise in place: read both slots (no valid slot: ECORRUPT,
 *    nothing written); N = the newer valid slot, O = the other.  N not
 *    durable (and O valid): the target is N itself (O holds the last
 *    durable state).  Else the target is O, after an fdatasync of the
 *    file (the "presync": it makes N durable if its writer died between
 *    its pwrite and its fdatasync, or that fdatasync failed; skipped when
 *    this process itself fdatasync'd N's exact bytes - a table of the
 *    last slot and CRC synced per file (dev, ino), 16 files - so in
 *    steady state it costs nothing).  Counter = N's + 1 (mod 128), the
 *    durable bit = durable; the state is pwritten at target*C, then, if
 *    durable, the file is fdatasync'd.  Overwriting N would put its
 *    counter 63 past O's (then O would look newer after 64 more): that
 *    write is made durable whatever the caller asked (one fdatasync per
 *    62 non-durable writes in a row), so the next write moves to O.  A
 *    failed pwrite over N rewrites N's old bytes (best effort).
 *
 * INVARIANT: at every moment one slot holds the latest durable state
 * (valid, synced); the other may hold a newer, not durable one.  So a
 * torn or lost slot write - crash, power loss - leaves the reader the other
 * slot: after a durable write the file holds it; after a non-durable one,
 * the old or the new state, never nothing.  Non-durable writes are
 * visible to other processes at once (page cache).
 *
 * Why the presync: with only the durable state's pages synced, a later
 * torn write to O plus writeback of O's pages before N's (a writer died
 * between N's pwrite and its fdatasync) would leave neither slot valid
 * (tests/test_txn_slots.c shows it with per-slot writeback images).
 *
 * Killed writers: a writer killed before its rename leaves its temp file;
 * cl_txn_file_cleanup removes "~tmp.<pid>.<n>" files whose pid is no
 * longer alive (the rule of prodid.c), never anything else.
 *
 * Hostile files: the size is checked first (2 C, at most 128 MiB); a
 * slot's L is checked against [66, C] before it is allocated (L <= 4096
 * is decoded from the stack), then the decoder (txn_codec.c) checks the
 * CRC before any field and the counts before any array.
 *
 * Locks: none.  Writers of one transactional.id must be serialised by the
 * caller (the producer holding it).  Readers take no lock: a slot being
 * written fails its CRC and the other one is returned (older); a reader
 * that finds no valid slot reads again (twice) before ECORRUPT, in case
 * it raced two writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "crc32c.h"
#include "io.h"
#include "txn_file.h"

#define TMP_PREFIX "~tmp."
#define TMP_TRIES 64
#define FILE_MIN CL_TXN_STATE_MIN

static atomic_ulong tmp_counter;

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

static void relpath(char *out, size_t n, const char *txnid)
{
    snprintf(out, n, CL_TXN_DIR "/%s", txnid);
}

/* Open transactions/ (make it first if mk) into *dfdp.  0 or a code. */
static int open_dir(int rootfd, int mk, mode_t dmode, int *dfdp,
                    struct cl_err *err)
{
    if (mk) {
        int rc = cl_io_mkdirat("txn.mkdir", rootfd, CL_TXN_DIR, dmode);
        if (rc == 0 && (rc = cl_io_fsync("txn.mkdir.dirsync", rootfd)) != 0) {
            return cl_err_sys(err, -rc, ".", "fsync directory");
        }
        if (rc != 0 && rc != -EEXIST) {
            return cl_err_sys(err, -rc, CL_TXN_DIR, "mkdir");
        }
    }
    *dfdp = cl_io_openat("txn.dir.open", rootfd, CL_TXN_DIR,
                         O_RDONLY | O_DIRECTORY, 0);
    return *dfdp < 0 ? cl_err_sys(err, -*dfdp, CL_TXN_DIR, "open") : 0;
}

int cl_txn_dir_open(int rootfd, mode_t dmode, int *dfdp, struct cl_err *err)
{
    return open_dir(rootfd, 1, dmode, dfdp, err);
}

static int bad_id(const char *txnid, struct cl_err *err)
{
    return cl_errf(err, CRAWLLOG_EINVAL, "invalid transactional.id \"%.64s\"",
                   txnid != NULL ? txnid : "(null)");
}

/* ---- slots ---- */

/* Set the write word of an encoded state, and its CRC again. */
static void set_ww(uint8_t *buf, size_t len, unsigned count, int durable)
{
    buf[27] = (uint8_t)((count & CL_TXN_WCOUNT_MASK) |
                        (durable ? CL_TXN_WDURABLE : 0));
    cl_put_u32(buf + len - 4, cl_crc32c(0, buf, len - 4));
}

/* Counter a is newer than b: (a - b) mod 128 in 1..63. */
static int newer(unsigned a, unsigned b)
{
    unsigned d = (a - b) & CL_TXN_WCOUNT_MASK;
    return d >= 1 && d <= 63;
}

/* C of a file of size bytes, or 0 if size is not 2 C. */
static uint64_t slot_size(uint64_t size)
{
    return size >= 2 * CL_TXN_SLOT_MIN && size <= CL_TXN_IMAGE_MAX &&
                   size % (2 * CL_TXN_SLOT_MIN) == 0
               ? size / 2
               : 0;
}

/* The slot this process last fdatasync'd itself (txn.slot.fdatasync
 * returned 0), per file (dev, ino): slot and the state's CRC (which
 * covers the write word).  A newest slot found here needs no presync.
 * Round robin over SYNCED_MAX files; a stale entry only costs a presync.
 * slot -1 forgets the file. */
#define SYNCED_MAX 16
static struct {
    dev_t dev;
    ino_t ino;
    int slot;
    uint32_t crc;
} synced[SYNCED_MAX];
static unsigned synced_n;
static pthread_mutex_t synced_mu = PTHREAD_MUTEX_INITIALIZER;

/* 1 if (sb, slot, crc) is the file's entry; set: make it so. */
static int synced_at(const struct stat *sb, int slot, uint32_t crc, int set)
{
    int i, hit = 0;
    pthread_mutex_lock(&synced_mu);
    for (i = 0; i < (int)synced_n; i++) {
        if (synced[i].dev == sb->st_dev && synced[i].ino == sb->st_ino) {
            break;
        }
    }
    hit = i < (int)synced_n && synced[i].slot == slot && synced[i].crc == crc;
    if (set && i == (int)synced_n) {
        i = synced_n < SYNCED_MAX ? (int)synced_n++
                                  : (int)(crc % SYNCED_MAX); /* any */
    }
    if (set) {
        synced[i].dev = sb->st_dev;
        synced[i].ino = sb->st_ino;
        synced[i].slot = slot;
        synced[i].crc = crc;
    }
    pthread_mutex_unlock(&synced_mu);
    return hit;
}

/* Where slots are read from: a file (pread with a failpoint site) or a
 * buffer of size bytes (mem). */
struct src {
    int fd;
    const char *site, *rel;
    const uint8_t *mem;
    uint64_t size;
};

static ssize_t src_read(const struct src *s, void *dst, size_t n,
                        uint64_t off)
{
    if (s->mem == NULL) {
        return cl_io_pread_all(s->site, s->fd, dst, n, off);
    }
    size_t k = off >= s->size ? 0
               : s->size - off < n ? (size_t)(s->size - off) : n;
    if (k > 0) {
        memcpy(dst, s->mem + off, k);
    }
    return (ssize_t)k;
}

/* Both slots as read: rc 0 (valid, st decoded), CRAWLLOG_ECORRUPT or
 * CRAWLLOG_EVERSION (why says it, "slot k: byte ..."). */
struct slots {
    uint64_t c;
    int rc[2], newest; /* newest: -1 none (or a slot of another version) */
    uint32_t crc[2];   /* of the valid slots */
    struct cl_txn_state st[2];
    struct cl_err why[2];
};

static void slots_free(struct slots *sl)
{
    cl_txn_state_free(&sl->st[0]);
    cl_txn_state_free(&sl->st[1]);
}

/* Read and decode slot k into sl.  0 (the verdict in sl->rc[k]) or a code
 * (I/O error, ENOMEM: err set).  Allocates L bytes only once L is within
 * [FILE_MIN, C]; L <= 4096 decodes from the stack. */
static int read_slot(const struct src *src, struct slots *sl, int k,
                     struct cl_err *err)
{
    uint8_t head[CL_TXN_SLOT_MIN], *buf = head;
    char rel[16];
    uint64_t at = (uint64_t)k * sl->c;
    snprintf(rel, sizeof rel, "slot %d", k);
    ssize_t got = src_read(src, head, sizeof head, at);
    if (got < 0) {
        return cl_err_sys(err, (int)-got, src->rel, "read");
    }
    size_t len = (size_t)got >= FILE_MIN ? cl_get_u32(head + 12) : 0;
    if ((size_t)got < FILE_MIN) {
        sl->rc[k] = cl_errf(&sl->why[k], CRAWLLOG_ECORRUPT, "%s: byte %zd: "
                            "header: past the end of the file", rel, got);
    } else if (memcmp(head, CL_TXN_MAGIC, 8) != 0) {
        sl->rc[k] = cl_errf(&sl->why[k], CRAWLLOG_ECORRUPT, "%s: byte 0: "
                            "magic: not a transaction state", rel);
    } else if (len < FILE_MIN || len > sl->c) {
        sl->rc[k] = cl_errf(&sl->why[k], CRAWLLOG_ECORRUPT, "%s: byte 12: "
                            "length: %zu outside %d .. %llu", rel, len,
                            FILE_MIN, (unsigned long long)sl->c);
    } else {
        if (len > (size_t)got) {
            if ((buf = cl_io_malloc(len)) == NULL) {
                return cl_errf(err, CRAWLLOG_ENOMEM, "%s: out of memory",
                               src->rel);
            }
            memcpy(buf, head, (size_t)got);
            ssize_t more = src_read(src, buf + got, len - (size_t)got,
                                    at + (uint64_t)got);
            if (more < 0) {
                cl_io_free(buf);
                return cl_err_sys(err, (int)-more, src->rel, "read");
            }
            got += more;
        }
        sl->rc[k] = (size_t)got < len
                        ? cl_errf(&sl->why[k], CRAWLLOG_ECORRUPT, "%s: byte "
                                  "%zd: state: past the end of the file", rel,
                                  got)
                        : cl_txn_decode(buf, len, rel, &sl->st[k],
                                        &sl->why[k]);
        sl->crc[k] = sl->rc[k] == 0 ? cl_get_u32(buf + len - 4) : 0;
        if (buf != head) {
            cl_io_free(buf);
        }
        if (sl->rc[k] == CRAWLLOG_ENOMEM) {
            return cl_errf(err, CRAWLLOG_ENOMEM, "%s: out of memory",
                           src->rel);
        }
    }
    return 0;
}

/* Read both slots of C bytes into *sl (slots_free it whatever the
 * result).  0 or a code (I/O, ENOMEM). */
static int load(const struct src *src, uint64_t c, struct slots *sl,
                struct cl_err *err)
{
    memset(sl, 0, sizeof(*sl));
    sl->c = c;
    sl->newest = -1;
    cl_txn_state_init(&sl->st[0]);
    cl_txn_state_init(&sl->st[1]);
    for (int k = 0; k < 2; k++) {
        int rc = read_slot(src, sl, k, err);
        if (rc != 0) {
            return rc;
        }
    }
    if (sl->rc[0] == CRAWLLOG_EVERSION || sl->rc[1] == CRAWLLOG_EVERSION) {
        return 0; /* never roll back past a state we cannot read */
    }
    if (sl->rc[0] == 0 && sl->rc[1] == 0) {
        sl->newest = newer(sl->st[1].wcount, sl->st[0].wcount);
    } else {
        sl->newest = sl->rc[0] == 0 ? 0 : sl->rc[1] == 0 ? 1 : -1;
    }
    return 0;
}

/* No slot to use: EVERSION (an intact slot of another version) or
 * ECORRUPT naming the file and both slots' reasons. */
static int no_slot(const struct slots *sl, const char *rel,
                   struct cl_err *err)
{
    for (int k = 0; k < 2; k++) {
        if (sl->rc[k] == CRAWLLOG_EVERSION) {
            return cl_errf(err, CRAWLLOG_EVERSION, "%s: %s", rel,
                           sl->why[k].msg);
        }
    }
    return cl_errf(err, CRAWLLOG_ECORRUPT, "%s: %s; %s", rel, sl->why[0].msg,
                   sl->why[1].msg);
}

/* A size that is not two slots: CRAWLLOG_EVERSION for an intact
 * version-1 file (one state, the whole file), else ECORRUPT. */
static int bad_size(const struct src *src, uint64_t size, struct cl_err *err)
{
    uint8_t head[FILE_MIN];
    int rc = CRAWLLOG_ECORRUPT;
    ssize_t got = size >= FILE_MIN && size <= CL_TXN_FILE_MAX
                      ? src_read(src, head, sizeof head, 0)
                      : 0;
    if (got == (ssize_t)sizeof head && memcmp(head, CL_TXN_MAGIC, 8) == 0 &&
        cl_get_u32(head + 8) != CL_TXN_VERSION &&
        cl_get_u32(head + 12) == size) {
        uint8_t *buf = cl_io_malloc((size_t)size);
        struct cl_txn_state st;
        struct cl_err e = {""};
        if (buf != NULL &&
            src_read(src, buf, (size_t)size, 0) == (ssize_t)size &&
            cl_txn_decode(buf, (size_t)size, src->rel, &st, &e) ==
                CRAWLLOG_EVERSION) {
            rc = cl_errf(err, CRAWLLOG_EVERSION, "%s", e.msg);
        }
        cl_txn_state_free(&st);
        cl_io_free(buf);
    }
    if (rc == CRAWLLOG_ECORRUPT) {
        rc = cl_errf(err, CRAWLLOG_ECORRUPT, "%s: size %llu: not two slots "
                     "(a multiple of 8192, 8192 .. %u bytes)", src->rel,
                     (unsigned long long)size, CL_TXN_IMAGE_MAX);
    }
    return rc;
}

/* The newest valid slot of a file image of size bytes into *out (init'd
 * by the caller).  A file that shows no valid slot is read again, twice:
 * a reader racing two writes may have seen both slots torn. */
static int load_newest(const struct src *src, uint64_t size,
                       struct cl_txn_state *out, struct cl_err *err)
{
    uint64_t c = slot_size(size);
    if (c == 0) {
        return bad_size(src, size, err);
    }
    for (int attempt = 0;; attempt++) {
        struct slots sl;
        int rc = load(src, c, &sl, err);
        if (rc == 0 && sl.newest >= 0) {
            *out = sl.st[sl.newest];
            cl_txn_state_init(&sl.st[sl.newest]);
        } else if (rc == 0) {
            rc = no_slot(&sl, src->rel, err);
        }
        slots_free(&sl);
        if (rc != CRAWLLOG_ECORRUPT || src->mem != NULL || attempt == 2) {
            return rc;
        }
    }
}

int cl_txn_file_decode(const uint8_t *buf, size_t len, const char *rel,
                       struct cl_txn_state *out, struct cl_err *err)
{
    struct src src = {-1, NULL, rel, buf, len};
    cl_txn_state_init(out);
    return load_newest(&src, len, out, err);
}

/* ---- writing ---- */

/* Make rootfd/transactions/<txnid> anew (dfd: transactions/): slot 0 =
 * blob, slot 1 zeros, through a temp file, fsync, rename, dirsync. */
static int create(int dfd, const char *txnid, const char *rel,
                  const uint8_t *blob, size_t len, mode_t fmode,
                  struct cl_err *err)
{
    char tmp[64];
    size_t c = (len + CL_TXN_SLOT_MIN - 1) / CL_TXN_SLOT_MIN * CL_TXN_SLOT_MIN;
    uint8_t *img = cl_io_calloc(1, c);
    if (img == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "%s: out of memory", rel);
    }
    memcpy(img, blob, len);
    int fd = -EEXIST;
    for (int i = 0; i < TMP_TRIES && fd == -EEXIST; i++) {
        snprintf(tmp, sizeof(tmp), TMP_PREFIX "%ld.%lu", (long)getpid(),
                 (unsigned long)atomic_fetch_add(&tmp_counter, 1));
        fd = cl_io_openat("txn.open", dfd, tmp, O_CREAT | O_EXCL | O_WRONLY,
                          fmode);
    }
    if (fd < 0) {
        cl_io_free(img);
        return cl_err_sys(err, -fd, rel, "create temporary file");
    }
    const char *op = "write";
    int rc = cl_io_pwrite_all("txn.write", fd, img, c, 0);
    if (rc == 0) {
        memset(img, 0, len);
        rc = cl_io_pwrite_all("txn.write", fd, img, c, c);
    }
    if (rc == 0 && (rc = cl_io_fsync("txn.fsync", fd)) != 0) {
        op = "fsync";
    }
    cl_io_close(fd);
    cl_io_free(img);
    if (rc == 0 &&
        (rc = cl_io_renameat("txn.rename", dfd, tmp, dfd, txnid)) != 0) {
        op = "rename";
    }
    if (rc != 0) {
        (void)cl_io_unlinkat("txn.tmp.unlink", dfd, tmp, 0);
        return cl_err_sys(err, -rc, rel, op);
    }
    rc = cl_io_fsync("txn.dirsync", dfd);
    return rc != 0 ? cl_err_sys(err, -rc, rel, "fsync directory") : 0;
}

/* fd: the file, open O_RDWR.  Write the encoded state (buf, len) into
 * its slot (see the header comment), or make the file anew if it does
 * not fit. */
static int in_place(int fd, int dfd, const char *txnid, const char *rel,
                    uint8_t *buf, size_t len, int durable, mode_t fmode,
                    struct cl_err *err)
{
    struct stat sb;
    struct slots sl;
    struct src src = {fd, "txn.slot.read", rel, NULL, 0};
    int rc = cl_io_fstat("txn.slot.read", fd, &sb);
    if (rc != 0) {
        return cl_err_sys(err, -rc, rel, "fstat");
    }
    if (!S_ISREG(sb.st_mode)) {
        return cl_errf(err, CRAWLLOG_ECORRUPT, "%s: not a regular file", rel);
    }
    uint64_t c = slot_size((uint64_t)sb.st_size);
    if (c == 0) {
        return bad_size(&src, (uint64_t)sb.st_size, err);
    }
    rc = load(&src, c, &sl, err);
    if (rc == 0 && sl.newest < 0) {
        rc = no_slot(&sl, rel, err);
    }
    if (rc != 0) {
        slots_free(&sl);
        return rc;
    }
    int n = sl.newest, o = 1 - n, target = n;
    unsigned wc = (sl.st[n].wcount + 1) & CL_TXN_WCOUNT_MASK;
    if (len > c) { /* grow: a bigger file, replaced whole */
        slots_free(&sl);
        set_ww(buf, len, wc, 1);
        return create(dfd, txnid, rel, buf, len, fmode, err);
    }
    if (sl.st[n].durable || sl.rc[o] != 0) {
        target = o; /* N holds the latest durable state: keep it */
        if (!synced_at(&sb, n, sl.crc[n], 0) &&
            (rc = cl_io_fdatasync("txn.slot.presync", fd)) != 0) {
            slots_free(&sl);
            return cl_err_sys(err, -rc, rel, "fdatasync");
        }
    } else if (((wc - sl.st[o].wcount) & CL_TXN_WCOUNT_MASK) >= 63) {
        durable = 1; /* 64 past O, O would look newer: move on next time */
    }
    set_ww(buf, len, wc, durable);
    rc = cl_io_pwrite_all("txn.slot.write", fd, buf, len, (uint64_t)target * c);
    if (rc != 0 && target == n) {
        /* N may be torn: put its old state back (best effort; O holds the
         * last durable one whatever happens). */
        uint8_t *old = NULL;
        size_t olen = 0;
        if (cl_txn_encode(&sl.st[n], &old, &olen, NULL) == 0) {
            (void)cl_io_pwrite_all("txn.slot.write", fd, old, olen,
                                   (uint64_t)n * c);
        }
        cl_io_free(old);
    }
    slots_free(&sl);
    if (rc != 0) {
        return cl_err_sys(err, -rc, rel, "write slot");
    }
    if (durable) {
        rc = cl_io_fdatasync("txn.slot.fdatasync", fd);
        (void)synced_at(&sb, rc == 0 ? target : -1,
                        cl_get_u32(buf + len - 4), 1);
        if (rc != 0) {
            return cl_err_sys(err, -rc, rel, "fdatasync");
        }
    }
    return 0;
}

int cl_txn_file_write(int rootfd, const char *txnid,
                      const struct cl_txn_state *st, int durable,
                      mode_t fmode, mode_t dmode, struct cl_err *err)
{
    char rel[300];
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!cl_txn_id_valid(txnid)) {
        return bad_id(txnid, err);
    }
    relpath(rel, sizeof(rel), txnid);
    int rc = cl_txn_encode(st, &buf, &len, err);
    if (rc != 0) {
        return rc;
    }
    int dfd = -1;
    rc = open_dir(rootfd, 0, 0, &dfd, err);
    if (rc == CRAWLLOG_ENOENT) { /* first use: make transactions/ */
        rc = open_dir(rootfd, 1, dmode, &dfd, err);
    }
    if (rc == 0) {
        int fd = cl_io_openat("txn.slot.open", dfd, txnid,
                              O_RDWR | O_NONBLOCK, 0);
        if (fd == -ENOENT) {
            set_ww(buf, len, 1, 1);
            rc = create(dfd, txnid, rel, buf, len, fmode, err);
        } else if (fd < 0) {
            rc = cl_err_sys(err, -fd, rel, "open");
        } else {
            rc = in_place(fd, dfd, txnid, rel, buf, len, durable, fmode, err);
            cl_io_close(fd);
        }
        cl_io_close(dfd);
    }
    cl_io_free(buf);
    return rc;
}

int cl_txn_file_read(int rootfd, const char *txnid, struct cl_txn_state *out,
                     struct cl_err *err)
{
    char rel[300];
    struct stat sb;
    cl_txn_state_init(out);
    if (!cl_txn_id_valid(txnid)) {
        return bad_id(txnid, err);
    }
    relpath(rel, sizeof(rel), txnid);
    int dfd = -1, rc = open_dir(rootfd, 0, 0, &dfd, err);
    if (rc != 0) {
        return rc;
    }
    int fd = cl_io_openat("txn.read", dfd, txnid, O_RDONLY | O_NONBLOCK, 0);
    cl_io_close(dfd);
    if (fd < 0) {
        return cl_err_sys(err, -fd, rel, "open");
    }
    rc = cl_io_fstat("txn.read", fd, &sb);
    if (rc != 0) {
        rc = cl_err_sys(err, -rc, rel, "fstat");
    } else if (!S_ISREG(sb.st_mode)) {
        rc = cl_errf(err, CRAWLLOG_ECORRUPT, "%s: not a regular file", rel);
    } else {
        struct src src = {fd, "txn.read", rel, NULL, 0};
        rc = load_newest(&src, (uint64_t)sb.st_size, out, err);
    }
    cl_io_close(fd);
    return rc;
}

int cl_txn_file_remove(int rootfd, const char *txnid, struct cl_err *err)
{
    char rel[300];
    if (!cl_txn_id_valid(txnid)) {
        return bad_id(txnid, err);
    }
    relpath(rel, sizeof(rel), txnid);
    int dfd = -1, rc = open_dir(rootfd, 0, 0, &dfd, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_io_unlinkat("txn.unlink", dfd, txnid, 0);
    if (rc != 0) {
        cl_io_close(dfd);
        return cl_err_sys(err, -rc, rel, "remove");
    }
    rc = cl_io_fsync("txn.unlink.dirsync", dfd);
    cl_io_close(dfd);
    return rc != 0 ? cl_err_sys(err, -rc, rel, "fsync directory") : 0;
}

/* Open transactions/ and list it (site: the listing's failpoint site).
 * No directory yet: 0 with *dfdp = -1 and no names.  Else *dfdp is open
 * (the caller closes it) and the names are the caller's. */
static int open_and_list(int rootfd, const char *site, int *dfdp,
                         char ***namesp, size_t *countp, struct cl_err *err)
{
    *namesp = NULL;
    *countp = 0;
    int rc = open_dir(rootfd, 0, 0, dfdp, err);
    if (rc == CRAWLLOG_ENOENT) {
        *dfdp = -1;
        return 0; /* no transactions/ yet */
    }
    if (rc != 0) {
        return rc;
    }
    rc = cl_io_listdir(site, *dfdp, namesp, countp);
    if (rc != 0) {
        cl_io_close(*dfdp);
        *dfdp = -1;
        return cl_err_sys(err, -rc, CL_TXN_DIR, "list directory");
    }
    return 0;
}

int cl_txn_file_list(int rootfd, char ***namesp, size_t *countp,
                     struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0, n = 0;
    *namesp = NULL;
    *countp = 0;
    int dfd = -1, rc = open_and_list(rootfd, "txn.list", &dfd, &names, &count,
                                     err);
    if (dfd >= 0) {
        cl_io_close(dfd);
    }
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < count; i++) {
        if (cl_txn_id_valid(names[i])) {
            names[n++] = names[i];
        } else {
            cl_io_free(names[i]);
        }
    }
    if (n == 0) {
        cl_io_listdir_free(names, 0);
        names = NULL;
    }
    *namesp = names;
    *countp = n;
    return 0;
}

/* The writer's pid of a temp name "~tmp.<pid>.<n>" exactly as
 * cl_txn_file_write makes it (pid 1 .. INT_MAX without a leading zero, n
 * 1 .. 20 digits, nothing after), or 0 for any other name. */
static long tmp_pid(const char *name)
{
    const char *p = name + sizeof(TMP_PREFIX) - 1;
    long pid = 0;
    size_t nd = 0;
    if (strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) != 0 || *p == '0') {
        return 0;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        pid = pid * 10 + (*p - '0');
        if (pid > INT_MAX) {
            return 0;
        }
    }
    if (pid == 0 || *p++ != '.') {
        return 0;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        nd++;
    }
    return *p == '\0' && nd >= 1 && nd <= 20 ? pid : 0;
}

/*
 * No lock: writers take none.  A live writer's temp file is safe because
 * its pid is alive for as long as it writes (our own pid too: threads of
 * this process are never cleaned).  A name is removed only after its pid
 * was seen dead; a new process reusing that pid cannot create the same
 * name while it still exists (O_EXCL picks the next counter).  The one
 * window left (the name removed by a second cleaner, then re-made by a
 * writer that reuses the pid, between our check and our unlink) makes
 * that writer's rename fail and be reported; no state file is touched.
 * Like prodid.c, writers must share our pid namespace.  No
 * directory fsync: after a power loss a removed temp file may come back,
 * and the next cleanup removes it again (its writer is still dead); temp
 * files are never read as state (read and list skip them), so their
 * return changes nothing else.
 */
int cl_txn_file_cleanup(int rootfd, struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0;
    int dfd = -1, rc = open_and_list(rootfd, "txn.cleanup.list", &dfd, &names,
                                     &count, err);
    if (rc != 0 || dfd < 0) {
        return rc;
    }
    int first = 0; /* the first failure; the others are still tried */
    for (size_t i = 0; i < count; i++) {
        long pid = tmp_pid(names[i]);
        if (pid > 0 && !cl_io_pid_alive(pid)) {
            rc = cl_io_unlinkat("txn.cleanup.unlink", dfd, names[i], 0);
            if (rc != 0 && rc != -ENOENT && first == 0) {
                char rel[300];
                relpath(rel, sizeof(rel), names[i]);
                first = cl_err_sys(err, -rc, rel, "remove stale temporary");
            }
        }
    }
    cl_io_listdir_free(names, count);
    cl_io_close(dfd);
    return first;
}
