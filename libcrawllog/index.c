/*
 * index.c - a segment's sparse offset index and time index.
 *
 * On disk (beside <base>.log, same 20-digit base-offset name):
 *
 *   <base>.index       n entries of 8 bytes, big-endian, no header
 *                        0  uint32 rel   offset - base offset of a batch's
 *                                        first record
 *                        4  uint32 pos   byte position of that batch in .log
 *   <base>.timeindex   n entries of 12 bytes, big-endian, no header
 *                        0  int64  ts    largest record timestamp in the
 *                                        segment up to and including rel
 *                        8  uint32 rel   last relative offset of the batch
 *                                        that raised ts
 *
 * Invariants: offset entries strictly ascend in rel and pos, every pos is
 * the start of a complete batch; time entries ascend in ts and rel.  An
 * entry is added after more than index.interval.bytes have been appended
 * since the previous one (Kafka's rule), so lookups scan at most about that
 * many bytes.  Nothing checksums an index: it is derived data.  Loading
 * keeps the longest valid prefix and a partition recovery rebuilds the rest
 * from the .log (see segment.c), so a torn or stale index never misleads a
 * reader.
 *
 * Locks: none here; the partition lock guards all writes.  Other processes
 * append to the same files: the in-memory count is brought up to date with
 * cl_index_refresh() before appending.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "index.h"
#include "io.h"
#include "names.h"

#define CL_INDEX_READ_CHUNK (64 * 1024)

void cl_index_init(struct cl_index *idx)
{
    memset(idx, 0, sizeof(*idx));
    idx->fd = -1;
    idx->tfd = -1;
}

static int index_path(char *out, size_t size, const char *reldir,
                      int64_t base, const char *suffix)
{
    char name[64];
    if (cl_names_segment(name, sizeof(name), base, suffix) != 0) {
        return -1;
    }
    int n = snprintf(out, size, "%s/%s", reldir, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int index_sys(struct cl_err *err, int rc, const char *reldir,
                     int64_t base, const char *suffix, const char *op)
{
    char path[512];
    if (index_path(path, sizeof(path), reldir, base, suffix) != 0) {
        cl_err_copy(path, sizeof(path), reldir);
    }
    return cl_err_sys(err, -rc, path, op);
}

int cl_index_open(struct cl_index *idx, int dirfd, const char *reldir,
                  int64_t base, int create, unsigned fmode,
                  struct cl_err *err)
{
    char name[64];
    int flags = O_RDWR | (create ? O_CREAT : 0);
    cl_names_segment(name, sizeof(name), base, ".index");
    int fd = cl_io_openat("idx.open", dirfd, name, flags, (mode_t)fmode);
    if (fd < 0) {
        return index_sys(err, fd, reldir, base, ".index", "open");
    }
    cl_names_segment(name, sizeof(name), base, ".timeindex");
    int tfd = cl_io_openat("idx.open", dirfd, name, flags, (mode_t)fmode);
    if (tfd < 0) {
        cl_io_close(fd);
        return index_sys(err, tfd, reldir, base, ".timeindex", "open");
    }
    idx->fd = fd;
    idx->tfd = tfd;
    return 0;
}

void cl_index_close(struct cl_index *idx)
{
    if (idx->fd >= 0) {
        cl_io_close(idx->fd);
    }
    if (idx->tfd >= 0) {
        cl_io_close(idx->tfd);
    }
    cl_io_free(idx->ent);
    cl_io_free(idx->tent);
    cl_index_init(idx);
}

/* Accept an offset entry if it continues the ascending sequence. */
static int ent_ok(const struct cl_index *idx, uint32_t rel, uint32_t pos,
                  uint64_t header_size, uint64_t log_size)
{
    if (pos < header_size || pos >= log_size) {
        return 0;
    }
    if (idx->n > 0) {
        const struct cl_index_entry *last = &idx->ent[idx->n - 1];
        return rel > last->rel && pos > last->pos;
    }
    return 1;
}

static int tent_ok(const struct cl_index *idx, int64_t ts, uint32_t rel)
{
    if (idx->tn > 0) {
        const struct cl_time_entry *last = &idx->tent[idx->tn - 1];
        return ts > last->ts && rel >= last->rel;
    }
    return 1;
}

/* Read entries [from, file end) of one file, feeding each to add(). */
static int read_entries(struct cl_index *idx, int timeidx, uint64_t from,
                        uint64_t header_size, uint64_t log_size,
                        int *damagedp, const char *reldir, int64_t base,
                        struct cl_err *err)
{
    int fd = timeidx ? idx->tfd : idx->fd;
    size_t esz = timeidx ? CL_TIMEINDEX_ENTRY_SIZE : CL_INDEX_ENTRY_SIZE;
    const char *sfx = timeidx ? ".timeindex" : ".index";
    struct stat st;
    int rc = cl_io_fstat("idx.stat", fd, &st);
    if (rc < 0) {
        return index_sys(err, rc, reldir, base, sfx, "fstat");
    }
    uint64_t fsize = (uint64_t)st.st_size;
    if (fsize % esz != 0 && damagedp) {
        *damagedp = 1;
    }
    uint64_t total = fsize / esz;
    uint8_t buf[CL_INDEX_READ_CHUNK];
    int stopped = 0;
    for (uint64_t i = from; i < total && !stopped;) {
        size_t want = (size_t)(total - i) * esz;
        if (want > sizeof(buf)) {
            want = sizeof(buf) / esz * esz;
        }
        ssize_t got = cl_io_pread_all("idx.read", fd, buf, want, i * esz);
        if (got < 0) {
            return index_sys(err, (int)got, reldir, base, sfx, "read");
        }
        size_t cnt = (size_t)got / esz;
        if (cnt == 0) {
            break;
        }
        for (size_t k = 0; k < cnt; k++) {
            const uint8_t *p = buf + k * esz;
            if (timeidx) {
                int64_t ts = cl_get_i64(p);
                uint32_t rel = cl_get_u32(p + 8);
                if (!tent_ok(idx, ts, rel)) {
                    stopped = 1;
                    break;
                }
                if (cl_io_grow((void **)&idx->tent, &idx->tcap, idx->tn + 1,
                         sizeof(*idx->tent)) != 0) {
                    return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
                }
                idx->tent[idx->tn].ts = ts;
                idx->tent[idx->tn++].rel = rel;
            } else {
                uint32_t rel = cl_get_u32(p), pos = cl_get_u32(p + 4);
                if (!ent_ok(idx, rel, pos, header_size, log_size)) {
                    stopped = 1;
                    break;
                }
                if (cl_io_grow((void **)&idx->ent, &idx->cap, idx->n + 1,
                         sizeof(*idx->ent)) != 0) {
                    return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
                }
                idx->ent[idx->n].rel = rel;
                idx->ent[idx->n++].pos = pos;
            }
        }
        i += cnt;
    }
    if (stopped && damagedp) {
        *damagedp = 1;
    }
    if (timeidx) {
        idx->file_tn = total;
    } else {
        idx->file_n = total;
    }
    return 0;
}

int cl_index_load(struct cl_index *idx, uint64_t header_size,
                  uint64_t log_size, int *damagedp, const char *reldir,
                  int64_t base, struct cl_err *err)
{
    idx->n = 0;
    idx->tn = 0;
    if (damagedp) {
        *damagedp = 0;
    }
    int rc = read_entries(idx, 0, 0, header_size, log_size, damagedp, reldir,
                          base, err);
    if (rc == 0) {
        rc = read_entries(idx, 1, 0, header_size, log_size, damagedp, reldir,
                          base, err);
    }
    /* A time entry may only name offsets the offset index could reach. */
    if (rc == 0 && idx->file_n > idx->n && damagedp) {
        *damagedp = 1;
    }
    return rc;
}

int cl_index_refresh(struct cl_index *idx, uint64_t log_size,
                     const char *reldir, int64_t base, struct cl_err *err)
{
    /* Only entries beyond what we hold; a header size of 0 accepts any
     * position below log_size (the earlier entries were validated). */
    int rc = read_entries(idx, 0, idx->n, 0, log_size, NULL, reldir, base,
                          err);
    if (rc == 0) {
        rc = read_entries(idx, 1, idx->tn, 0, log_size, NULL, reldir, base,
                          err);
    }
    return rc;
}

static int write_time(struct cl_index *idx, int64_t ts, uint32_t trel,
                      const char *reldir, int64_t base, struct cl_err *err)
{
    if (!tent_ok(idx, ts, trel)) {
        return 0;
    }
    if (cl_io_grow((void **)&idx->tent, &idx->tcap, idx->tn + 1,
             sizeof(*idx->tent)) != 0) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    uint8_t b[CL_TIMEINDEX_ENTRY_SIZE];
    cl_put_i64(b, ts);
    cl_put_u32(b + 8, trel);
    int rc = cl_io_pwrite_all("idx.write", idx->tfd, b, sizeof(b),
                              (uint64_t)idx->tn * sizeof(b));
    if (rc < 0) {
        return index_sys(err, rc, reldir, base, ".timeindex", "write");
    }
    idx->tent[idx->tn].ts = ts;
    idx->tent[idx->tn++].rel = trel;
    idx->file_tn = idx->tn;
    return 0;
}

int cl_index_append(struct cl_index *idx, uint32_t rel, uint32_t pos,
                    int64_t ts, uint32_t trel, const char *reldir,
                    int64_t base, struct cl_err *err)
{
    if (idx->n > 0 && (rel <= idx->ent[idx->n - 1].rel ||
                       pos <= idx->ent[idx->n - 1].pos)) {
        return 0; /* an entry for this region exists already */
    }
    /* The time entry goes first: recovery resumes at the last offset
     * entry and takes the segment's running maximum timestamp from the
     * time entries up to it, which is only exact if an offset entry never
     * exists without the time entry written with it (a writer can die
     * between the two writes). */
    int rc = write_time(idx, ts, trel, reldir, base, err);
    if (rc != 0) {
        return rc;
    }
    if (cl_io_grow((void **)&idx->ent, &idx->cap, idx->n + 1, sizeof(*idx->ent)) !=
        0) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    uint8_t b[CL_INDEX_ENTRY_SIZE];
    cl_put_u32(b, rel);
    cl_put_u32(b + 4, pos);
    rc = cl_io_pwrite_all("idx.write", idx->fd, b, sizeof(b),
                          (uint64_t)idx->n * sizeof(b));
    if (rc < 0) {
        return index_sys(err, rc, reldir, base, ".index", "write");
    }
    idx->ent[idx->n].rel = rel;
    idx->ent[idx->n++].pos = pos;
    idx->file_n = idx->n;
    return 0;
}

int cl_index_append_time(struct cl_index *idx, int64_t ts, uint32_t trel,
                         const char *reldir, int64_t base, struct cl_err *err)
{
    return write_time(idx, ts, trel, reldir, base, err);
}

/* ftruncate fd to len bytes unless it has that size already (a recovery
 * that then fails with CRAWLLOG_ECORRUPT must leave the files untouched,
 * modification times included). */
static int trim_one(int fd, uint64_t len)
{
    struct stat st;
    int rc = cl_io_fstat("idx.stat", fd, &st);
    if (rc == 0 && (uint64_t)st.st_size != len) {
        rc = cl_io_ftruncate("idx.truncate", fd, len);
    }
    return rc;
}

static int trim_files(struct cl_index *idx, const char *reldir, int64_t base,
                      struct cl_err *err)
{
    int rc = trim_one(idx->fd, (uint64_t)idx->n * CL_INDEX_ENTRY_SIZE);
    if (rc < 0) {
        return index_sys(err, rc, reldir, base, ".index", "ftruncate");
    }
    rc = trim_one(idx->tfd, (uint64_t)idx->tn * CL_TIMEINDEX_ENTRY_SIZE);
    if (rc < 0) {
        return index_sys(err, rc, reldir, base, ".timeindex", "ftruncate");
    }
    idx->file_n = idx->n;
    idx->file_tn = idx->tn;
    return 0;
}

int cl_index_truncate(struct cl_index *idx, uint64_t log_size,
                      uint32_t max_rel_exclusive, const char *reldir,
                      int64_t base, struct cl_err *err)
{
    while (idx->n > 0 && idx->ent[idx->n - 1].pos >= log_size) {
        idx->n--;
    }
    while (idx->tn > 0 && idx->tent[idx->tn - 1].rel >= max_rel_exclusive) {
        idx->tn--;
    }
    return trim_files(idx, reldir, base, err);
}

int cl_index_reset(struct cl_index *idx, const char *reldir, int64_t base,
                   struct cl_err *err)
{
    idx->n = 0;
    idx->tn = 0;
    return trim_files(idx, reldir, base, err);
}

int cl_index_sync(struct cl_index *idx, const char *reldir, int64_t base,
                  struct cl_err *err)
{
    int rc = cl_io_fsync("idx.fsync", idx->fd);
    if (rc < 0) {
        return index_sys(err, rc, reldir, base, ".index", "fsync");
    }
    rc = cl_io_fsync("idx.fsync", idx->tfd);
    if (rc < 0) {
        return index_sys(err, rc, reldir, base, ".timeindex", "fsync");
    }
    return 0;
}

int cl_index_lookup(const struct cl_index *idx, uint32_t target,
                    struct cl_index_entry *out)
{
    size_t lo = 0, hi = idx->n; /* find the first entry with rel > target */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx->ent[mid].rel <= target) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        return 1;
    }
    *out = idx->ent[lo - 1];
    return 0;
}

int cl_index_time_lookup(const struct cl_index *idx, int64_t target,
                         struct cl_time_entry *out)
{
    size_t lo = 0, hi = idx->tn; /* find the first entry with ts >= target */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx->tent[mid].ts < target) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        return 1;
    }
    *out = idx->tent[lo - 1];
    return 0;
}
