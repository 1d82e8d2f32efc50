/*
 * offsets.c - a consumer group's committed offsets (layer 2): the durable
 * commit log groups/<group>/offsets, read into an in-memory view (the map
 * of (topic, partition) -> newest entry is offsets_map.c).
 *
 * On disk (docs/FORMAT.md section 8; all integers big-endian):
 *
 *   groups/<group>/offsets
 *     +------------------------------------------------------------+
 *     | header, 64 bytes: "CLOFFSET" | version u32 (1) | flags u32  |
 *     |   (0) | base_seq u64 | mark slot A, B: durable seq u64 +     |
 *     |   CRC-32C u32 of it (all zero: none) | 12 reserved zero     |
 *     |   bytes | CRC-32C u32 of [0, 60) with [24, 48) as zeros     |
 *     | record seq base_seq      \                                  |
 *     | record seq base_seq + 1   > back to back, no padding        |
 *     | ...                      /                                  |
 *     | zeros (space grown ahead in 64 KiB chunks)                 |
 *     +------------------------------------------------------------+
 *   record: length u32 (whole record) | CRC-32C u32 of [8, length) |
 *     seq u64 | timestamp_ms i64 | generation i32 | member i32 |
 *     flags u16 (bit 0: snapshot) | reserved u16 (0) | count u32 |
 *     count x (topic_len u16 | topic | partition i32 | offset i64 (-1:
 *     removed) | commit_ms i64 | meta_len u16 | metadata)
 *   groups/<group>/offsets.tmp  a compaction in progress (or the leftover
 *     of one cut short by a crash: never read, removed under the lock).
 *
 * Invariants:
 *  - The valid log is the longest prefix of records, read from byte 64, in
 *    which every record has a sane length, a matching CRC, sane fields and
 *    the next sequence number (base_seq, base_seq + 1, ...).  Whatever
 *    follows (zeros, a torn or failed write, the tail of a longer torn
 *    record under a shorter rewrite) is not data: the next append
 *    overwrites it.  Appending one record is atomic: one CRC covers all its
 *    entries.
 *  - The durable mark (the larger valid header slot) is a seq below which
 *    every record is known durable.  A sync takes next_seq before its
 *    fdatasync and, once that succeeded, writes it into the slot holding
 *    the smaller value (never lowering the larger one), unsynced: the next
 *    fdatasync persists it, and a torn slot fails its CRC so the other
 *    counts.  A sync needs no lock: racing slot writes can only leave a
 *    mark below the truth, which is safe (it detects less); so a failed
 *    slot write does not fail the sync either.  A valid log ending below
 *    the mark is damage, not a torn tail: CRAWLLOG_ECORRUPT, nothing
 *    written.  Readers read the mark before scanning, so a mark written
 *    after their read cannot outrun their scan.  A compacted file carries
 *    the end of its fsync'd snapshot as its mark.
 *  - Only a holder of the group lock (the caller's) writes records (syncs
 *    write only a mark slot), and it refreshes to the true end first.
 *    Space is grown by WRITING zeros (never a hole), so the fdatasync of
 *    a commit finds its blocks allocated.
 *  - The file is replaced only whole, by rename: compaction writes
 *    offsets.tmp (header + one snapshot of every live entry, seq
 *    continuing), fsyncs it, renames it over "offsets" and fsyncs the
 *    directory.  Nobody writes records to a replaced inode: every
 *    appender refreshes first, and a refresh that finds another inode
 *    under the name reopens it (a late sync may still write a mark slot
 *    there: nobody reads it).
 *  - A token (cl_offsets_append -> cl_offsets_sync) is durable once the
 *    handle's current file was fdatasync'd and, if the handle switched to a
 *    file it did not itself rename into place with a successful directory
 *    sync - every open, every reopen after another handle's compaction -
 *    the directory was fsync'd once too: a file the handle switched to
 *    holds, in its fsync'd snapshot, everything appended before the
 *    switch.  A file replaced after our append needs nothing more: its
 *    inode still holds our record, and the replacement's snapshot does too.
 *  - After a failed fdatasync/fsync of the file or directory the handle
 *    refuses appends and syncs (CRAWLLOG_ECLOSED) until reopened: the
 *    kernel may have dropped the dirty pages (fsyncgate; RELIABILITY G9).
 *  - The in-memory map is changed only by whole records: a record is
 *    parsed into staged entries and every allocation it needs made
 *    (cl_omap_stage_alloc) before anything changes (cl_omap_stage_commit).
 *
 * A file shorter than its header, or of 64 bytes with an all-zero header,
 * is a creation cut short (no record can have been committed in it): open
 * and refresh write the header (the same 64 bytes any creator writes) and
 * make it durable.  A longer file with an all-zero header is damage
 * (CRAWLLOG_ECORRUPT): the header is durable before the file ever grows.
 *
 * Locks: none of its own.  A handle is used by one thread at a time.
 * cl_offsets_append, cl_offsets_compact and cl_offsets_cleanup need the
 * group's cross-process lock (held by the caller); open, refresh, reads
 * and sync (which writes only a mark slot) do not.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "crc32c.h"
#include "io.h"
#include "names.h"
#include "offsets.h"
#include "offsets_fmt.h"
#include "offsets_map.h"

#define ENT_FIXED CL_OMAP_ENT_FIXED /* entry bytes besides topic, meta */
#define TOPIC_MAX 249
#define REC_MAX ((uint32_t)64 << 20)
#define REC_SNAPSHOT 1u
#define CHUNK ((uint32_t)64 << 10)
#define GROW ((uint64_t)256 << 10) /* file growth step (zeros) */
#define COMPACT_DEFAULT ((uint64_t)4 << 20)
#define COMPACT_RATIO 4
#define READ_FIRST 4096 /* a refresh usually finds nothing new */
#define READ_MORE CHUNK
/* Zero bytes written after every appended record: a zero length ends the
 * valid log there, so bytes left beyond an earlier end (a lost or torn
 * record's successor, which carries the next seq) can never be read as a
 * record following the new one. */
#define REC_TERM 4

_Static_assert(CL_OFFSETS_META_MAX <= UINT16_MAX, "meta_len is a u16");

static const uint8_t zeros[CHUNK];

/* One open incarnation of the file and what was read from it. */
struct ofile {
    int fd;
    dev_t dev;
    ino_t ino;
    uint64_t base_seq;
    uint64_t end;      /* byte after the last valid record */
    uint64_t next_seq; /* seq the record at end must carry */
    uint64_t size;     /* file size last seen (files only grow) */
    uint64_t mark;     /* durable mark last read: records below it exist */
    struct cl_omap map;
};

struct cl_offsets {
    int dirfd; /* our dup of the group directory */
    unsigned fmode;
    char path[600]; /* "<reldir>/offsets", for messages */
    char tmppath[600];
    struct ofile f;
    /* read window: file bytes [wpos, wpos + wlen) of f.fd */
    uint8_t *rbuf;
    size_t rcap, wlen;
    uint64_t wpos;
    unsigned nreads;
    uint8_t *wbuf; /* records being written */
    size_t wcap;
    struct cl_omap_staged *stage;
    size_t stagecap;
    uint64_t compact_bytes;
    uint32_t rec_max;
    uint64_t appended, synced; /* tokens issued / known durable */
    int dir_dirty;             /* fsync the directory at the next sync */
    int failed;                /* a sync failed: ECLOSED until reopened */
};

/* ---------------------------------------------------------------------- */
/* Encoding and parsing                                                    */
/* ---------------------------------------------------------------------- */

/*
 * Check the record p[0, len) (len already read from it and within
 * [REC_HDR, REC_MAX]) that must carry seq; first: it starts right after
 * the header.  1 and o->stage[0, *countp) filled if valid, 0 if not (the
 * end of the valid log), CRAWLLOG_ENOMEM.
 */
static int rec_parse(struct cl_offsets *o, const uint8_t *p, uint32_t len,
                     uint64_t seq, int first, size_t *countp)
{
    if (cl_get_u32(p + 4) != cl_crc32c(0, p + 8, len - 8) ||
        cl_get_u64(p + 8) != seq) {
        return 0;
    }
    uint16_t flags = cl_get_u16(p + 32);
    if ((flags & ~REC_SNAPSHOT) != 0 || ((flags & REC_SNAPSHOT) && !first) ||
        cl_get_u16(p + 34) != 0) {
        return 0;
    }
    uint32_t count = cl_get_u32(p + 36);
    if (count > (len - REC_HDR) / ENT_FIXED) {
        return 0;
    }
    if (cl_io_grow((void **)&o->stage, &o->stagecap, count ? count : 1,
                   sizeof(*o->stage)) != 0) {
        return CRAWLLOG_ENOMEM;
    }
    size_t pos = REC_HDR;
    for (uint32_t i = 0; i < count; i++) {
        struct cl_omap_staged *s = &o->stage[i];
        if (len - pos < ENT_FIXED) {
            return 0;
        }
        s->topic_len = cl_get_u16(p + pos);
        if (s->topic_len < 1 || s->topic_len > TOPIC_MAX ||
            len - pos < (size_t)ENT_FIXED + s->topic_len) {
            return 0;
        }
        s->topic = p + pos + 2;
        pos += 2 + s->topic_len;
        s->partition = cl_get_i32(p + pos);
        s->offset = cl_get_i64(p + pos + 4);
        s->commit_ms = cl_get_i64(p + pos + 12);
        s->meta_len = cl_get_u16(p + pos + 20);
        pos += 22;
        if (s->partition < 0 || s->partition >= CRAWLLOG_PARTITIONS_MAX ||
            s->offset < -1 || s->meta_len >= CL_OFFSETS_META_MAX ||
            (s->offset < 0 && s->meta_len != 0) ||
            len - pos < s->meta_len) {
            return 0;
        }
        s->meta = p + pos;
        pos += s->meta_len;
        if (memchr(s->topic, '\0', s->topic_len) ||
            (s->meta_len && memchr(s->meta, '\0', s->meta_len))) {
            return 0;
        }
        s->hash = cl_omap_hash(s->topic, s->topic_len, s->partition);
    }
    if (pos != len) {
        return 0;
    }
    *countp = count;
    return 1;
}

/* ---------------------------------------------------------------------- */
/* Reading the file                                                        */
/* ---------------------------------------------------------------------- */

static int sys_err(struct cl_offsets *o, struct cl_err *err, int rc,
                   const char *op)
{
    return cl_err_sys(err, -rc, o->path, op);
}

/* Make file bytes [pos, pos + need) available at *pp if the file has
 * them: *availp gets how many bytes from pos are in the window. */
static int window(struct cl_offsets *o, int fd, uint64_t pos, size_t need,
                  const uint8_t **pp, size_t *availp, struct cl_err *err)
{
    if (o->wlen == 0 || pos < o->wpos || pos - o->wpos > o->wlen ||
        o->wlen - (pos - o->wpos) < need) {
        size_t want = o->nreads ? READ_MORE : READ_FIRST;
        if (want < need) {
            want = need;
        }
        if (want > o->rcap) {
            uint8_t *nb = cl_io_realloc(o->rbuf, want);
            if (!nb) {
                return cl_errf(err, CRAWLLOG_ENOMEM,
                               "%s: no memory to read %zu bytes", o->path,
                               want);
            }
            o->rbuf = nb;
            o->rcap = want;
        }
        ssize_t got = cl_io_pread_all("offsets.read", fd, o->rbuf, want, pos);
        if (got < 0) {
            o->wlen = 0;
            return sys_err(o, err, (int)got, "read");
        }
        o->wpos = pos;
        o->wlen = (size_t)got;
        o->nreads++;
    }
    *pp = o->rbuf + (pos - o->wpos);
    *availp = o->wlen - (size_t)(pos - o->wpos);
    return 0;
}

/* Read and apply the records of f from f->end to the end of the valid
 * log.  On an error f stays at the last record applied. */
static int scan(struct cl_offsets *o, struct ofile *f, struct cl_err *err)
{
    int rc = 0;
    o->wlen = 0; /* the file may have changed since the last window */
    o->nreads = 0;
    for (;;) {
        const uint8_t *p = NULL;
        size_t avail = 0, count = 0;
        rc = window(o, f->fd, f->end, REC_HDR, &p, &avail, err);
        if (rc != 0 || avail < 4) {
            break;
        }
        uint32_t len = cl_get_u32(p);
        if (len < REC_HDR || len > REC_MAX) {
            break;
        }
        if (avail < len) {
            rc = window(o, f->fd, f->end, len, &p, &avail, err);
            if (rc != 0 || avail < len) {
                break;
            }
        }
        rc = rec_parse(o, p, len, f->next_seq, f->end == HDR_SIZE, &count);
        if (rc == 1) {
            rc = cl_omap_stage_alloc(&f->map, o->stage, count);
        } else if (rc == 0) {
            break;
        }
        if (rc != 0) {
            rc = cl_errf(err, rc, "%s: no memory for record %" PRIu64,
                         o->path, f->next_seq);
            break;
        }
        cl_omap_stage_commit(&f->map, o->stage, count);
        f->end += len;
        f->next_seq++;
    }
    cl_omap_finish(&f->map);
    return rc;
}

/* Write the header of a file whose creation was cut short (or that we
 * just created) and make it and its name durable.  Every writer writes the
 * same 64 bytes, so racing creators cannot hurt each other, and nobody
 * writes past them before they are valid. */
static int init_header(struct cl_offsets *o, int fd, struct cl_err *err)
{
    uint8_t h[HDR_SIZE];
    cl_ofmt_header(h, 0, 0);
    int rc = cl_io_pwrite_all("offsets.create.write", fd, h, sizeof(h), 0);
    if (rc < 0) {
        return sys_err(o, err, rc, "write header");
    }
    rc = cl_io_fsync("offsets.create.fsync", fd);
    if (rc < 0) {
        return sys_err(o, err, rc, "fsync");
    }
    rc = cl_io_fsync("offsets.create.dirsync", o->dirfd);
    if (rc < 0) {
        return sys_err(o, err, rc, "fsync directory");
    }
    return 0;
}

/* Check the header of fd: 0 and *base_seqp, f->mark, 1 if the creation
 * was cut short (shorter than a header, or an all-zero header), or an
 * error. */
static int read_header(struct cl_offsets *o, int fd, struct ofile *f,
                       struct cl_err *err)
{
    uint8_t h[HDR_SIZE];
    ssize_t got = cl_io_pread_all("offsets.read", fd, h, sizeof(h), 0);
    if (got < 0) {
        return sys_err(o, err, (int)got, "read header");
    }
    if (got < HDR_SIZE || memcmp(h, zeros, HDR_SIZE) == 0) {
        return 1;
    }
    if (cl_get_u32(h + HDR_CRC_OFF) != cl_ofmt_header_crc(h)) {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: header checksum mismatch", o->path);
    }
    if (memcmp(h, HDR_MAGIC, 8) != 0) {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: bad magic (not an offsets file)", o->path);
    }
    uint32_t version = cl_get_u32(h + 8), flags = cl_get_u32(h + 12);
    if (version != HDR_VERSION) {
        return cl_errf(err, CRAWLLOG_EVERSION,
                       "%s: format version %" PRIu32
                       ", this library reads %u",
                       o->path, version, HDR_VERSION);
    }
    if (flags != 0) {
        return cl_errf(err, CRAWLLOG_EVERSION,
                       "%s: unknown header flags 0x%" PRIx32, o->path, flags);
    }
    f->base_seq = cl_get_u64(h + 16);
    if (f->base_seq > CL_OFFSETS_SEQ_MAX) {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: base seq %" PRIu64 " out of range", o->path,
                       f->base_seq);
    }
    f->mark = cl_ofmt_mark(h + HDR_SLOT_A);
    return 0;
}

/* A valid log that ends below the durable mark lost records known durable:
 * damage, never a torn tail. */
static int check_mark(struct cl_offsets *o, const struct ofile *f,
                      struct cl_err *err)
{
    if (f->next_seq >= f->mark) {
        return 0;
    }
    return cl_errf(err, CRAWLLOG_ECORRUPT,
                   "%s: commit record damaged below the durable mark: the "
                   "valid log ends at byte %" PRIu64 " (seq %" PRIu64
                   "), records up to seq %" PRIu64 " were durable",
                   o->path, f->end, f->next_seq, f->mark - 1);
}

/* Open (creating it if missing) the file under the name now and read it
 * whole into *f.  Never touches offsets.tmp. */
static int load(struct cl_offsets *o, struct ofile *f, struct cl_err *err)
{
    struct stat st;
    int fd = -1, rc;
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    for (int tries = 0;; tries++) {
        fd = cl_io_openat("offsets.open", o->dirfd, CL_OFFSETS_NAME, O_RDWR,
                          0);
        if (fd != -ENOENT || tries == 3) {
            break;
        }
        fd = cl_io_openat("offsets.create", o->dirfd, CL_OFFSETS_NAME,
                          O_RDWR | O_CREAT | O_EXCL, (mode_t)o->fmode);
        if (fd != -EEXIST) {
            break; /* created, or failed */
        }
    }
    if (fd < 0) {
        return sys_err(o, err, fd, "open");
    }
    rc = cl_io_fstat("offsets.stat", fd, &st);
    if (rc < 0) {
        rc = sys_err(o, err, rc, "fstat");
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cl_errf(err, CRAWLLOG_ECORRUPT, "%s: not a regular file",
                     o->path);
        goto fail;
    }
    rc = read_header(o, fd, f, err);
    if (rc == 1 && st.st_size > HDR_SIZE) {
        /* The header is made durable before the file ever grows: a
         * zeroed header on a longer file is damage, not a creation cut
         * short (re-initialising it would drop every commit). */
        rc = cl_errf(err, CRAWLLOG_ECORRUPT,
                     "%s: zeroed header on a %lld-byte file", o->path,
                     (long long)st.st_size);
    }
    if (rc == 1) {
        f->base_seq = 0;
        rc = init_header(o, fd, err);
    }
    if (rc != 0) {
        goto fail;
    }
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->end = HDR_SIZE;
    f->next_seq = f->base_seq;
    rc = scan(o, f, err);
    if (rc == 0) {
        rc = check_mark(o, f, err);
    }
    if (rc != 0) {
        cl_omap_free(&f->map);
        f->fd = -1;
        goto fail;
    }
    return 0;
fail:
    cl_io_close(fd);
    return rc;
}

static void ofile_close(struct ofile *f)
{
    if (f->fd >= 0) {
        cl_io_close(f->fd);
    }
    cl_omap_free(&f->map);
    f->fd = -1;
}

/* ---------------------------------------------------------------------- */
/* Public: open, refresh, reads                                            */
/* ---------------------------------------------------------------------- */

int cl_offsets_open(struct cl_offsets **op, int dirfd, const char *reldir,
                    unsigned fmode, struct cl_err *err)
{
    if (!op) {
        return cl_errf(err, CRAWLLOG_EINVAL, "offsets: NULL handle pointer");
    }
    *op = NULL;
    if (dirfd < 0 || !reldir) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "offsets: bad group directory");
    }
    struct cl_offsets *o = cl_io_calloc(1, sizeof(*o));
    if (!o) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "%s/%s: no memory", reldir,
                       CL_OFFSETS_NAME);
    }
    int n1 = snprintf(o->path, sizeof(o->path), "%s/%s", reldir,
                      CL_OFFSETS_NAME);
    int n2 = snprintf(o->tmppath, sizeof(o->tmppath), "%s/%s", reldir,
                      CL_OFFSETS_TMP);
    if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof(o->tmppath)) {
        cl_io_free(o);
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "offsets: directory name too long");
    }
    o->fmode = fmode;
    o->compact_bytes = COMPACT_DEFAULT;
    o->rec_max = REC_MAX;
    o->f.fd = -1;
    o->dir_dirty = 1; /* the name we open may not be durable yet */
    o->dirfd = cl_io_dup("offsets.dup", dirfd);
    if (o->dirfd < 0) {
        int rc = cl_err_sys(err, -o->dirfd, reldir, "dup");
        cl_io_free(o);
        return rc;
    }
    int rc = load(o, &o->f, err);
    if (rc != 0) {
        cl_offsets_close(o);
        return rc;
    }
    *op = o;
    return 0;
}

void cl_offsets_close(struct cl_offsets *o)
{
    if (!o) {
        return;
    }
    ofile_close(&o->f);
    if (o->dirfd >= 0) {
        cl_io_close(o->dirfd);
    }
    cl_io_free(o->stage);
    cl_io_free(o->rbuf);
    cl_io_free(o->wbuf);
    cl_io_free(o);
}

int cl_offsets_refresh(struct cl_offsets *o, struct cl_err *err)
{
    struct stat st;
    if (!o) {
        return cl_errf(err, CRAWLLOG_EINVAL, "offsets: NULL handle");
    }
    int rc = cl_io_fstatat("offsets.stat", o->dirfd, CL_OFFSETS_NAME, &st);
    if (rc < 0) {
        return sys_err(o, err, rc, "stat");
    }
    if (st.st_dev == o->f.dev && st.st_ino == o->f.ino) {
        /* The mark first: records below a mark we read were written
         * before it, so the scan finds them. */
        uint8_t s[HDR_SLOTS_END - HDR_SLOT_A];
        ssize_t got = cl_io_pread_all("offsets.mark.read", o->f.fd, s,
                                      sizeof(s), HDR_SLOT_A);
        if (got < 0) {
            return sys_err(o, err, (int)got, "read header");
        }
        uint64_t mark = got == (ssize_t)sizeof(s) ? cl_ofmt_mark(s) : 0;
        o->f.mark = mark > o->f.mark ? mark : o->f.mark;
        rc = scan(o, &o->f, err);
        return rc != 0 ? rc : check_mark(o, &o->f, err);
    }
    /* Replaced by a compaction: read the new file whole, then switch. */
    struct ofile nf;
    rc = load(o, &nf, err);
    if (rc != 0) {
        return rc;
    }
    ofile_close(&o->f);
    o->f = nf;
    o->dir_dirty = 1;
    return 0;
}

static void fill(const struct cl_omap_ent *x, struct cl_offset_entry *e)
{
    e->topic = x->topic;
    e->partition = x->partition;
    e->offset = x->offset;
    e->metadata = x->meta ? x->meta : "";
    e->commit_ms = x->commit_ms;
}

int cl_offsets_get(const struct cl_offsets *o, const char *topic,
                   int32_t partition, struct cl_offset_entry *e)
{
    if (!o || !topic) {
        return 0;
    }
    const struct cl_omap_ent *x = cl_omap_get(&o->f.map, topic, partition);
    if (!x) {
        return 0;
    }
    if (e) {
        fill(x, e);
    }
    return 1;
}

size_t cl_offsets_count(const struct cl_offsets *o)
{
    return o ? o->f.map.nlive : 0;
}

void cl_offsets_at(const struct cl_offsets *o, size_t i,
                   struct cl_offset_entry *e)
{
    if (!o || i >= o->f.map.nlive) {
        memset(e, 0, sizeof(*e));
        return;
    }
    fill(cl_omap_at(&o->f.map, i), e);
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                 */
/* ---------------------------------------------------------------------- */

static int wbuf_reserve(struct cl_offsets *o, size_t need,
                        struct cl_err *err)
{
    if (need <= o->wcap) {
        return 0;
    }
    uint8_t *nb = cl_io_realloc(o->wbuf, need);
    if (!nb) {
        return cl_errf(err, CRAWLLOG_ENOMEM,
                       "%s: no memory for a %zu-byte record", o->path, need);
    }
    o->wbuf = nb;
    o->wcap = need;
    return 0;
}

/* Room for len more bytes at f.end: zeros are written (never a hole), so
 * a commit's later fdatasync finds its blocks allocated.  The zeros are not
 * synced here: the next durable commit's fdatasync covers the size change
 * once, and a commit that only asked for WRITTEN never waits for a sync. */
static int ensure_space(struct cl_offsets *o, uint64_t len,
                        struct cl_err *err)
{
    struct stat st;
    uint64_t need = o->f.end + len;
    if (need <= o->f.size) {
        return 0;
    }
    int rc = cl_io_fstat("offsets.stat", o->f.fd, &st);
    if (rc < 0) {
        return sys_err(o, err, rc, "fstat");
    }
    uint64_t size = (uint64_t)st.st_size;
    o->f.size = size;
    if (need <= size) {
        return 0;
    }
    uint64_t target = (need + GROW - 1) / GROW * GROW;
    for (uint64_t at = size; at < target;) {
        uint64_t n = target - at < CHUNK ? target - at : CHUNK;
        rc = cl_io_pwrite_all("offsets.grow", o->f.fd, zeros, (size_t)n, at);
        if (rc < 0) {
            return sys_err(o, err, rc, "grow");
        }
        at += n;
    }
    o->f.size = target;
    return 0;
}

static int need_compaction(const struct cl_offsets *o)
{
    uint64_t snap = HDR_SIZE + REC_HDR + o->f.map.live_bytes;
    return o->f.end > o->compact_bytes && o->f.end > COMPACT_RATIO * snap;
}

/* Write offsets.tmp (header + snapshot of every live entry + a zero
 * chunk), fsync it, rename it over offsets, fsync the directory, and
 * switch the handle to it.  The caller holds the group lock and has just
 * refreshed. */
static int compact(struct cl_offsets *o, struct cl_err *err)
{
    const struct cl_omap *m = &o->f.map;
    uint64_t base = o->f.next_seq, seq = base;
    int64_t now = cl_io_now_ms();
    /* Size: the snapshot splits into records of at most rec_max bytes
     * (only the first is flagged), each entry < rec_max - REC_HDR. */
    size_t total = HDR_SIZE, cur = 0;
    for (size_t i = 0; i < m->nlive; i++) {
        size_t b = cl_omap_ent_bytes(cl_omap_at(m, i));
        if (cur == 0 || cur + b > o->rec_max) {
            total += REC_HDR;
            cur = REC_HDR;
        }
        cur += b;
        total += b;
    }
    if (m->nlive == 0) {
        total += REC_HDR;
    }
    size_t content = total;
    size_t file_len = (content + CHUNK + CHUNK - 1) / CHUNK * CHUNK;
    int rc = wbuf_reserve(o, file_len, err);
    if (rc != 0) {
        return rc;
    }
    uint8_t *b = o->wbuf;
    size_t pos = HDR_SIZE, rec = 0, i = 0;
    uint32_t count = 0;
    do {
        rec = pos;
        pos += REC_HDR;
        count = 0;
        for (; i < m->nlive; i++) {
            const struct cl_omap_ent *e = cl_omap_at(m, i);
            if (count > 0 && pos - rec + cl_omap_ent_bytes(e) > o->rec_max) {
                break;
            }
            pos +=
                cl_ofmt_ent_put(b + pos, e->topic, e->topic_len, e->partition,
                                e->offset, e->commit_ms, e->meta, e->meta_len);
            count++;
        }
        cl_ofmt_rec_begin(b + rec, seq, now, -1, -1,
                          seq == base ? (uint16_t)REC_SNAPSHOT : 0, count);
        cl_ofmt_rec_end(b + rec, (uint32_t)(pos - rec));
        seq++;
    } while (i < m->nlive);
    /* Mark: the whole snapshot, durable before the file gets its name. */
    cl_ofmt_header(b, base, seq);
    memset(b + content, 0, file_len - content);

    /* A leftover of a compaction cut short by a crash. */
    rc = cl_io_unlinkat("offsets.tmp.unlink", o->dirfd, CL_OFFSETS_TMP, 0);
    if (rc < 0 && rc != -ENOENT) {
        return cl_err_sys(err, -rc, o->tmppath, "unlink");
    }
    int fd = cl_io_openat("offsets.tmp.open", o->dirfd, CL_OFFSETS_TMP,
                          O_RDWR | O_CREAT | O_EXCL, (mode_t)o->fmode);
    if (fd < 0) {
        return cl_err_sys(err, -fd, o->tmppath, "create");
    }
    struct stat st;
    const char *op = "write";
    rc = cl_io_pwrite_all("offsets.tmp.write", fd, b, file_len, 0);
    if (rc == 0) {
        op = "fsync";
        rc = cl_io_fsync("offsets.tmp.fsync", fd);
    }
    if (rc == 0) {
        op = "fstat";
        rc = cl_io_fstat("offsets.tmp.stat", fd, &st);
    }
    if (rc == 0) {
        rc = cl_io_renameat("offsets.rename", o->dirfd, CL_OFFSETS_TMP,
                            o->dirfd, CL_OFFSETS_NAME);
        if (rc < 0) {
            rc = cl_err_sys(err, -rc, o->tmppath, "rename");
        }
    } else {
        rc = cl_err_sys(err, -rc, o->tmppath, op);
    }
    if (rc != 0) {
        cl_io_close(fd);
        cl_io_unlinkat("offsets.tmp.unlink", o->dirfd, CL_OFFSETS_TMP, 0);
        return rc;
    }
    /* Renamed: this is the file now, whatever happens next. */
    cl_io_close(o->f.fd);
    o->f.fd = fd;
    o->f.dev = st.st_dev;
    o->f.ino = st.st_ino;
    o->f.base_seq = base;
    o->f.end = content;
    o->f.next_seq = seq;
    o->f.mark = seq;
    o->wlen = 0;
    o->dir_dirty = 1;
    rc = cl_io_fsync("offsets.dirsync", o->dirfd);
    if (rc < 0) {
        o->failed = 1;
        return sys_err(o, err, rc, "fsync directory (after compaction)");
    }
    /* Everything appended so far is in the fsync'd, durably named file. */
    o->dir_dirty = 0;
    o->synced = o->appended;
    return 0;
}

static int check_failed(const struct cl_offsets *o, struct cl_err *err)
{
    if (o->failed) {
        return cl_errf(err, CRAWLLOG_ECLOSED,
                       "%s: an earlier fsync failed; reopen to continue",
                       o->path);
    }
    return 0;
}

int cl_offsets_append(struct cl_offsets *o, const struct cl_offset_entry *e,
                      size_t n, int32_t generation, int32_t member,
                      uint64_t *tokenp, struct cl_err *err)
{
    if (tokenp) {
        *tokenp = 0;
    }
    if (!o || !e || n == 0) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "offsets append: no handle or no entries");
    }
    uint64_t len = REC_HDR;
    for (size_t i = 0; i < n; i++) {
        if (!cl_names_topic_valid(e[i].topic)) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "%s: entry %zu: invalid topic name", o->path, i);
        }
        if (e[i].partition < 0 ||
            e[i].partition >= CRAWLLOG_PARTITIONS_MAX) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "%s: entry %zu: partition %" PRId32
                           " out of range",
                           o->path, i, e[i].partition);
        }
        size_t mlen = 0;
        if (e[i].offset >= 0 && e[i].metadata) {
            mlen = strlen(e[i].metadata);
            if (mlen >= CL_OFFSETS_META_MAX) {
                return cl_errf(err, CRAWLLOG_ETOOBIG,
                               "%s: entry %zu: metadata of %zu bytes (at "
                               "most %d)",
                               o->path, i, mlen, CL_OFFSETS_META_MAX - 1);
            }
        }
        len += ENT_FIXED + strlen(e[i].topic) + mlen;
    }
    if (len > o->rec_max || n > UINT32_MAX) {
        return cl_errf(err, CRAWLLOG_ETOOBIG,
                       "%s: a commit of %zu entries needs %" PRIu64
                       " bytes (at most %" PRIu32 ")",
                       o->path, n, len, o->rec_max);
    }
    int rc = check_failed(o, err);
    if (rc == 0) {
        rc = cl_offsets_refresh(o, err);
    }
    if (rc == 0 && need_compaction(o)) {
        rc = compact(o, err);
    }
    if (rc == 0) {
        rc = wbuf_reserve(o, (size_t)len + REC_TERM, err);
    }
    if (rc != 0) {
        return rc;
    }
    int64_t now = cl_io_now_ms();
    size_t pos = REC_HDR;
    for (size_t i = 0; i < n; i++) {
        int rm = e[i].offset < 0;
        const char *meta = !rm && e[i].metadata ? e[i].metadata : "";
        pos += cl_ofmt_ent_put(o->wbuf + pos, e[i].topic, strlen(e[i].topic),
                               e[i].partition, rm ? -1 : e[i].offset, now, meta,
                               strlen(meta));
    }
    cl_ofmt_rec_begin(o->wbuf, o->f.next_seq, now, generation, member, 0,
                      (uint32_t)n);
    cl_ofmt_rec_end(o->wbuf, (uint32_t)len);
    /* Parse our own record: the same checks and the same code path as a
     * reader's, and every allocation made before the write. */
    size_t count = 0;
    rc = rec_parse(o, o->wbuf, (uint32_t)len, o->f.next_seq,
                   o->f.end == HDR_SIZE, &count);
    if (rc == 0) {
        return cl_errf(err, CRAWLLOG_EINVAL, "%s: record failed its check",
                       o->path);
    }
    if (rc == 1) {
        rc = cl_omap_stage_alloc(&o->f.map, o->stage, count);
    }
    if (rc != 0) {
        return cl_errf(err, rc, "%s: no memory for a commit", o->path);
    }
    memset(o->wbuf + len, 0, REC_TERM);
    rc = ensure_space(o, len + REC_TERM, err);
    if (rc == 0) {
        rc = cl_io_pwrite_all("offsets.write", o->f.fd, o->wbuf,
                              (size_t)len + REC_TERM, o->f.end);
        if (rc < 0) {
            /* f.end stays: the next append overwrites what got written
             * (a prefix fails its CRC, so no reader takes it). */
            rc = sys_err(o, err, rc, "write");
        }
    }
    if (rc != 0) {
        cl_omap_unstage(o->stage, count);
        return rc;
    }
    cl_omap_stage_commit(&o->f.map, o->stage, count);
    cl_omap_finish(&o->f.map);
    o->f.end += len;
    o->f.next_seq++;
    if (tokenp) {
        *tokenp = ++o->appended;
    } else {
        ++o->appended;
    }
    return 0;
}

/* After a successful fdatasync: write mark into the slot holding the
 * smaller value (a torn write leaves the other), unsynced (the next
 * fdatasync persists it).  Best effort: a mark lower than the truth only
 * weakens damage detection, so a failure here does not fail the sync. */
static void raise_mark(struct cl_offsets *o, uint64_t mark)
{
    uint8_t s[HDR_SLOTS_END - HDR_SLOT_A];
    ssize_t got =
        cl_io_pread_all("offsets.mark.read", o->f.fd, s, sizeof(s), HDR_SLOT_A);
    if (got != (ssize_t)sizeof(s) || cl_ofmt_mark(s) >= mark) {
        return;
    }
    size_t at =
        cl_ofmt_slot_get(s) <= cl_ofmt_slot_get(s + SLOT_SIZE) ? 0 : SLOT_SIZE;
    cl_ofmt_slot_put(s + at, mark);
    if (cl_io_pwrite_all("offsets.mark.write", o->f.fd, s + at, SLOT_SIZE,
                         HDR_SLOT_A + at) == 0 &&
        mark > o->f.mark) {
        o->f.mark = mark;
    }
}

int cl_offsets_sync(struct cl_offsets *o, uint64_t token, struct cl_err *err)
{
    if (!o || token > o->appended) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "offsets sync: token not issued by this handle");
    }
    if (token <= o->synced) {
        return 0;
    }
    int rc = check_failed(o, err);
    if (rc != 0) {
        return rc;
    }
    uint64_t mark = o->f.next_seq; /* every record before it is written */
    rc = cl_io_fdatasync("offsets.fdatasync", o->f.fd);
    if (rc < 0) {
        o->failed = 1;
        return sys_err(o, err, rc, "fdatasync");
    }
    if (o->dir_dirty) {
        rc = cl_io_fsync("offsets.sync.dirsync", o->dirfd);
        if (rc < 0) {
            o->failed = 1;
            return sys_err(o, err, rc, "fsync directory");
        }
        o->dir_dirty = 0;
    }
    o->synced = o->appended;
    raise_mark(o, mark);
    return 0;
}

int cl_offsets_compact(struct cl_offsets *o, struct cl_err *err)
{
    if (!o) {
        return cl_errf(err, CRAWLLOG_EINVAL, "offsets: NULL handle");
    }
    int rc = check_failed(o, err);
    if (rc == 0) {
        rc = cl_offsets_refresh(o, err);
    }
    return rc != 0 ? rc : compact(o, err);
}

int cl_offsets_cleanup(struct cl_offsets *o, struct cl_err *err)
{
    if (!o) {
        return cl_errf(err, CRAWLLOG_EINVAL, "offsets: NULL handle");
    }
    int rc = cl_io_unlinkat("offsets.tmp.unlink", o->dirfd, CL_OFFSETS_TMP, 0);
    if (rc < 0 && rc != -ENOENT) {
        return cl_err_sys(err, -rc, o->tmppath, "unlink");
    }
    return 0;
}

void cl_offsets_set_compact_bytes(struct cl_offsets *o, uint64_t bytes)
{
    if (o) {
        o->compact_bytes = bytes ? bytes : COMPACT_DEFAULT;
    }
}

void cl_offsets_set_record_max(struct cl_offsets *o, uint32_t bytes)
{
    if (!o) {
        return;
    }
    uint32_t min = REC_HDR + ENT_FIXED + TOPIC_MAX + CL_OFFSETS_META_MAX;
    if (bytes == 0 || bytes > REC_MAX) {
        bytes = REC_MAX;
    }
    o->rec_max = bytes < min ? min : bytes;
}
