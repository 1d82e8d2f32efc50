/*
 * lagstore.c - a consumer group's history of commit points, for lag
 * monitoring by Burrow's rules (lagstatus.c).
 *
 * On disk: <root>/groups/<group>/lag.history, CL_LAGSTORE_SIZE bytes
 * (docs/FORMAT.md section 10), host byte order, mapped MAP_SHARED by every
 * user in every process.  Like group.state it is a machine-local cache,
 * never fsync'd: losing it only loses monitoring history (the committed
 * offsets themselves are offsets.c's durable file).  A file of another
 * magic, version, layout (slot count, slot size, points per slot) or
 * kernel boot is reset by the next writer; readers treat it as empty until
 * then.  Created sparse: only the pages of used slots take disk space (a
 * reset leaves all-zero slots alone).
 *
 * Layout: a 128-byte header, then a fixed open-addressing hash table of
 * CL_LAGSTORE_SLOTS slots keyed by (topic name, partition), linear
 * probing from hash % CL_LAGSTORE_SLOTS.  A slot holds the key, the last
 * CL_LAGSTORE_POINTS commit points oldest first (the window of
 * cl_lag_window_add with the default parameters, converted to and from a
 * struct cl_lag_window on each record), and the header clock at its last
 * record (its "stamp", 0 for a free slot).
 *
 * Invariants: slots are never freed one by one, only by a reset of the
 * whole table, so a probe may stop at the first free slot.  A key is
 * evicted only when no slot is free; the new key then takes the slot with
 * the smallest stamp (least recently updated), wherever it is - a probe
 * over a full table visits every slot, so it is still found.  stamp values
 * are unique and increase with every record since the reset.
 *
 * Locks: writers (record and forget) hold the group's lock (cl_group_lock,
 * the flock on group.state), which is the caller's business: this module
 * takes no lock.  Each slot is a seqlock (seq odd while written; every
 * field an atomic, so readers race with no plain access): readers need no
 * lock and retry a torn copy.  No fences (TSan does not model them): the
 * writer stores seq odd, then the fields with release order, then seq even
 * with release order; a reader loads seq and the fields with acquire
 * order, then seq again, so a reader that saw any field of a newer write
 * also sees that write's odd (or a later) seq and retries.  A writer that died mid-update leaves seq
 * odd; the next writer whose probe crosses that slot repairs it (its points
 * are dropped, its key kept).  Header fields other than version and clock
 * are written only by a reset, under the group lock; a lock-free reader
 * racing a reset (once per boot) may see a torn header or slot and report
 * "not found" - monitoring only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"
#include "lagstore.h"

_Static_assert(sizeof(struct cl_lagstore_hdr) == CL_LAGSTORE_HDR_SIZE,
               "docs/FORMAT.md section 10: header size");
_Static_assert(offsetof(struct cl_lagstore_hdr, boot_id) == 24 &&
                   offsetof(struct cl_lagstore_hdr, clock) == 72,
               "docs/FORMAT.md section 10: header offsets");
_Static_assert(sizeof(struct cl_lagstore_point) == 24 &&
                   offsetof(struct cl_lagstore_slot, stamp) == 16 &&
                   offsetof(struct cl_lagstore_slot, name) == 24 &&
                   offsetof(struct cl_lagstore_slot, p) == 280 &&
                   sizeof(struct cl_lagstore_slot) == 520,
               "docs/FORMAT.md section 10: slot layout");
_Static_assert(CL_LAGSTORE_SIZE == 1069056,
               "docs/FORMAT.md section 10: file size");

/* Reader attempts on one slot before it counts as stuck mid-update. */
#define READ_TRIES 10000

struct cl_lagstore {
    int fd;
    struct cl_lagstore_hdr *hdr;
    struct cl_lagstore_slot *slots;
    char boot_id[CL_LAGSTORE_BOOT_SIZE]; /* this boot's, read at open */
};

/* A lookup key: the name NUL-padded to whole words, and its hash. */
struct key {
    uint64_t name[CL_LAGSTORE_NAME_WORDS];
    int32_t partition;
    uint32_t hash;
};

/* ---------------------------------------------------------------------- */
/* Opening                                                                 */
/* ---------------------------------------------------------------------- */

int cl_lagstore_open(struct cl_lagstore **sp, int dirfd, const char *reldir,
                     int create, unsigned fmode, struct cl_err *err)
{
    struct stat st;
    char path[512];
    void *addr = NULL;
    *sp = NULL;
    snprintf(path, sizeof(path), "%s/%s", reldir, CL_LAGSTORE_NAME);
    struct cl_lagstore *s = cl_io_calloc(1, sizeof(*s));
    if (s == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    int fd = cl_io_openat("lagstore.open", dirfd, CL_LAGSTORE_NAME,
                          O_RDWR | (create ? O_CREAT : 0), (mode_t)fmode);
    if (fd < 0) {
        cl_io_free(s);
        if (fd == -ENOENT && !create) {
            return cl_errf(err, CRAWLLOG_ENOENT, "%s: no lag history", path);
        }
        return cl_err_sys(err, -fd, path, "open");
    }
    int rc = cl_io_fstat("lagstore.stat", fd, &st);
    if (rc == 0 && !S_ISREG(st.st_mode)) {
        rc = -EINVAL;
    }
    if (rc == 0 && (uint64_t)st.st_size < CL_LAGSTORE_SIZE) {
        if (!create) {
            /* Being created, or cut short: mapping past its end would
             * fault.  Nothing recorded yet as far as we are concerned. */
            cl_io_close(fd);
            cl_io_free(s);
            return cl_errf(err, CRAWLLOG_ENOENT, "%s: no lag history yet",
                           path);
        }
        /* Growing from two processes at once is harmless: both set the
         * same size and leave the (zero) contents alone. */
        rc = cl_io_ftruncate("lagstore.truncate", fd, CL_LAGSTORE_SIZE);
    }
    /* Blocks reserved (when some are missing: a file just grown, or one
     * left sparse): a full disk is ENOSPC here, never SIGBUS. */
    if (rc == 0 && create &&
        (uint64_t)st.st_blocks * 512 < CL_LAGSTORE_SIZE) {
        rc = cl_io_fallocate("lagstore.reserve", fd, CL_LAGSTORE_SIZE);
    }
    if (rc == 0) {
        rc = cl_io_mmap_shared("lagstore.mmap", fd, CL_LAGSTORE_SIZE, &addr);
    }
    if (rc != 0) {
        cl_io_close(fd);
        cl_io_free(s);
        return cl_err_sys(err, -rc, path, "map");
    }
    s->fd = fd;
    s->hdr = addr;
    s->slots = (struct cl_lagstore_slot *)((char *)addr +
                                           CL_LAGSTORE_HDR_SIZE);
    cl_io_boot_id(s->boot_id, sizeof(s->boot_id));
    *sp = s;
    return 0;
}

void cl_lagstore_close(struct cl_lagstore *s)
{
    if (s == NULL) {
        return;
    }
    cl_io_munmap(s->hdr, CL_LAGSTORE_SIZE);
    cl_io_close(s->fd);
    cl_io_free(s);
}

/* ---------------------------------------------------------------------- */
/* Header and keys                                                         */
/* ---------------------------------------------------------------------- */

/* The header says: this layout, built in this boot. */
static int valid(const struct cl_lagstore *s)
{
    const struct cl_lagstore_hdr *h = s->hdr;
    return atomic_load_explicit(&h->version, memory_order_acquire) ==
               CL_LAGSTORE_VERSION &&
           memcmp(h->magic, CL_LAGSTORE_MAGIC, 8) == 0 &&
           h->nslots == CL_LAGSTORE_SLOTS &&
           h->slot_size == sizeof(struct cl_lagstore_slot) &&
           h->npoints == CL_LAGSTORE_POINTS &&
           memcmp(h->boot_id, s->boot_id, CL_LAGSTORE_BOOT_SIZE) == 0;
}

/* Seqlock, writer side (the group lock held). */
static void write_begin(struct cl_lagstore_slot *sl)
{
    uint32_t q = atomic_load_explicit(&sl->seq, memory_order_relaxed);
    atomic_store_explicit(&sl->seq, q | 1u, memory_order_relaxed);
}

static void write_end(struct cl_lagstore_slot *sl)
{
    uint32_t q = atomic_load_explicit(&sl->seq, memory_order_relaxed);
    atomic_store_explicit(&sl->seq, (q | 1u) + 1u, memory_order_release);
}

static void set_points(struct cl_lagstore_slot *sl, uint32_t from)
{
    for (uint32_t i = from; i < CL_LAGSTORE_POINTS; i++) {
        atomic_store_explicit(&sl->p[i].offset, 0, memory_order_release);
        atomic_store_explicit(&sl->p[i].ts_ms, 0, memory_order_release);
        atomic_store_explicit(&sl->p[i].lag, 0, memory_order_release);
    }
}

static void set_name(struct cl_lagstore_slot *sl, const uint64_t *name)
{
    for (int w = 0; w < CL_LAGSTORE_NAME_WORDS; w++) {
        atomic_store_explicit(&sl->name[w], name[w], memory_order_release);
    }
}

/* Every byte of the slot is zero (a new file's): a reset leaves it alone,
 * so that a new file stays sparse on disk. */
static int slot_is_zero(const struct cl_lagstore_slot *sl)
{
    uint64_t acc = atomic_load_explicit(&sl->seq, memory_order_relaxed) |
                   atomic_load_explicit(&sl->hash, memory_order_acquire) |
                   (uint32_t)atomic_load_explicit(&sl->partition,
                                                  memory_order_acquire) |
                   atomic_load_explicit(&sl->n, memory_order_acquire) |
                   atomic_load_explicit(&sl->stamp, memory_order_acquire);
    for (int w = 0; w < CL_LAGSTORE_NAME_WORDS; w++) {
        acc |= atomic_load_explicit(&sl->name[w], memory_order_acquire);
    }
    for (int i = 0; i < CL_LAGSTORE_POINTS; i++) {
        acc |= (uint64_t)atomic_load_explicit(&sl->p[i].offset,
                                              memory_order_acquire) |
               (uint64_t)atomic_load_explicit(&sl->p[i].ts_ms,
                                              memory_order_acquire) |
               (uint64_t)atomic_load_explicit(&sl->p[i].lag,
                                              memory_order_acquire);
    }
    return acc == 0;
}

/* Empty every slot and stamp the header with this layout and boot.  The
 * version goes first (readers stop trusting the file) and last. */
static void reset(struct cl_lagstore *s)
{
    static const uint64_t zero[CL_LAGSTORE_NAME_WORDS];
    struct cl_lagstore_hdr *h = s->hdr;
    atomic_store_explicit(&h->version, 0, memory_order_seq_cst);
    for (uint32_t i = 0; i < CL_LAGSTORE_SLOTS; i++) {
        struct cl_lagstore_slot *sl = &s->slots[i];
        if (slot_is_zero(sl)) {
            continue;
        }
        write_begin(sl);
        atomic_store_explicit(&sl->hash, 0, memory_order_release);
        atomic_store_explicit(&sl->partition, 0, memory_order_release);
        atomic_store_explicit(&sl->n, 0, memory_order_release);
        atomic_store_explicit(&sl->stamp, 0, memory_order_release);
        set_name(sl, zero);
        set_points(sl, 0);
        write_end(sl);
    }
    memcpy(h->magic, CL_LAGSTORE_MAGIC, 8);
    h->nslots = CL_LAGSTORE_SLOTS;
    h->slot_size = sizeof(struct cl_lagstore_slot);
    h->npoints = CL_LAGSTORE_POINTS;
    memcpy(h->boot_id, s->boot_id, CL_LAGSTORE_BOOT_SIZE);
    atomic_store_explicit(&h->clock, 0, memory_order_relaxed);
    memset(h->pad, 0, sizeof(h->pad));
    atomic_store_explicit(&h->version, CL_LAGSTORE_VERSION,
                          memory_order_release);
}

/* FNV-1a over the padded name and the partition. */
static int make_key(const char *topic, int32_t partition, struct key *k)
{
    size_t len = topic ? strlen(topic) : 0;
    if (len == 0 || len >= sizeof(k->name)) {
        return -1;
    }
    memset(k->name, 0, sizeof(k->name));
    memcpy(k->name, topic, len);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)topic[i]) * 16777619u;
    }
    uint32_t p = (uint32_t)partition;
    for (int i = 0; i < 4; i++) {
        h = (h ^ ((p >> (8 * i)) & 0xffu)) * 16777619u;
    }
    k->partition = partition;
    k->hash = h;
    return 0;
}

/* The slot holds key k (relaxed loads: the caller validates the copy). */
static int key_equal(const struct cl_lagstore_slot *sl, const struct key *k)
{
    if (atomic_load_explicit(&sl->hash, memory_order_acquire) != k->hash ||
        atomic_load_explicit(&sl->partition, memory_order_acquire) !=
            k->partition) {
        return 0;
    }
    for (int w = 0; w < CL_LAGSTORE_NAME_WORDS; w++) {
        if (atomic_load_explicit(&sl->name[w], memory_order_acquire) !=
            k->name[w]) {
            return 0;
        }
    }
    return 1;
}

/* The slot's points as a window (oldest first, head 0). */
static void read_window(const struct cl_lagstore_slot *sl,
                        struct cl_lag_window *w)
{
    uint32_t n = atomic_load_explicit(&sl->n, memory_order_acquire);
    cl_lag_window_init(w);
    if (n > CL_LAGSTORE_POINTS) {
        n = CL_LAGSTORE_POINTS; /* damaged: the rest is garbage anyway */
    }
    for (uint32_t i = 0; i < n; i++) {
        w->p[i].offset =
            atomic_load_explicit(&sl->p[i].offset, memory_order_acquire);
        w->p[i].ts_ms =
            atomic_load_explicit(&sl->p[i].ts_ms, memory_order_acquire);
        w->p[i].lag = atomic_load_explicit(&sl->p[i].lag, memory_order_acquire);
    }
    w->n = n;
}

/* ---------------------------------------------------------------------- */
/* Writer                                                                  */
/* ---------------------------------------------------------------------- */

/* Under the lock: a slot left mid-update by a writer that died.  Its
 * points may be torn: drop them.  Its key may be torn too: keep it (the
 * slot then matches nobody and is evicted in time); a free slot whose
 * claim was cut short is wiped to free. */
static void repair(struct cl_lagstore_slot *sl)
{
    static const uint64_t zero[CL_LAGSTORE_NAME_WORDS];
    if (atomic_load_explicit(&sl->stamp, memory_order_acquire) == 0) {
        atomic_store_explicit(&sl->hash, 0, memory_order_release);
        atomic_store_explicit(&sl->partition, 0, memory_order_release);
        set_name(sl, zero);
    }
    atomic_store_explicit(&sl->n, 0, memory_order_release);
    set_points(sl, 0);
    write_end(sl);
}

int cl_lagstore_record(struct cl_lagstore *s, const char *topic,
                       int32_t partition, int64_t offset, int64_t ts_ms,
                       int64_t head)
{
    struct key k;
    if (make_key(topic, partition, &k) != 0) {
        return CRAWLLOG_EINVAL;
    }
    if (!valid(s)) {
        reset(s); /* new, damaged, other layout or from another boot */
    }
    struct cl_lagstore_slot *sl = NULL;
    int claim = 0;
    for (uint32_t i = 0; i < CL_LAGSTORE_SLOTS; i++) {
        struct cl_lagstore_slot *c =
            &s->slots[(k.hash + i) % CL_LAGSTORE_SLOTS];
        if (atomic_load_explicit(&c->seq, memory_order_relaxed) & 1u) {
            repair(c);
        }
        if (atomic_load_explicit(&c->stamp, memory_order_acquire) == 0) {
            sl = c;
            claim = 1;
            break;
        }
        if (key_equal(c, &k)) {
            sl = c;
            break;
        }
    }
    if (sl == NULL) {
        /* Full: evict the least recently updated slot. */
        uint64_t oldest = UINT64_MAX;
        for (uint32_t i = 0; i < CL_LAGSTORE_SLOTS; i++) {
            uint64_t st =
                atomic_load_explicit(&s->slots[i].stamp, memory_order_acquire);
            if (st < oldest) {
                oldest = st;
                sl = &s->slots[i];
            }
        }
        claim = 1;
    }

    struct cl_lag_window w;
    struct cl_lag_params params;
    cl_lag_params_default(&params);
    params.intervals = CL_LAGSTORE_POINTS;
    if (claim) {
        cl_lag_window_init(&w);
    } else {
        read_window(sl, &w);
    }
    struct cl_lag_point pt = {offset, ts_ms, CL_LAG_UNKNOWN};
    if (head >= 0) {
        pt.lag = head > offset ? head - offset : 0;
    }
    cl_lag_window_add(&w, &params, pt);
    uint32_t n = (uint32_t)cl_lag_window_len(&w);
    uint64_t stamp =
        atomic_load_explicit(&s->hdr->clock, memory_order_relaxed) + 1;
    atomic_store_explicit(&s->hdr->clock, stamp, memory_order_relaxed);

    write_begin(sl);
    if (claim) {
        atomic_store_explicit(&sl->hash, k.hash, memory_order_release);
        atomic_store_explicit(&sl->partition, k.partition,
                              memory_order_release);
        set_name(sl, k.name);
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct cl_lag_point *q = cl_lag_window_at(&w, i);
        atomic_store_explicit(&sl->p[i].offset, q->offset,
                              memory_order_release);
        atomic_store_explicit(&sl->p[i].ts_ms, q->ts_ms, memory_order_release);
        atomic_store_explicit(&sl->p[i].lag, q->lag, memory_order_release);
    }
    if (claim) {
        set_points(sl, n);
    }
    atomic_store_explicit(&sl->n, n, memory_order_release);
    atomic_store_explicit(&sl->stamp, stamp, memory_order_release);
    write_end(sl);
    return 0;
}

void cl_lagstore_forget(struct cl_lagstore *s, const char *topic,
                        int32_t partition)
{
    struct key k;
    if (make_key(topic, partition, &k) != 0 || !valid(s)) {
        return;
    }
    for (uint32_t i = 0; i < CL_LAGSTORE_SLOTS; i++) {
        struct cl_lagstore_slot *sl =
            &s->slots[(k.hash + i) % CL_LAGSTORE_SLOTS];
        if (atomic_load_explicit(&sl->seq, memory_order_relaxed) & 1u) {
            repair(sl);
        }
        if (atomic_load_explicit(&sl->stamp, memory_order_acquire) == 0) {
            return; /* a free slot ends the probe: not stored */
        }
        if (key_equal(sl, &k)) {
            write_begin(sl);
            atomic_store_explicit(&sl->n, 0, memory_order_release);
            set_points(sl, 0);
            write_end(sl);
            return;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Reader                                                                  */
/* ---------------------------------------------------------------------- */

enum { SLOT_FREE, SLOT_OTHER, SLOT_FOUND, SLOT_STUCK };

/* A consistent look at one slot: is it free, k's, or someone else's (k's
 * window copied into *w)? */
static int read_slot(const struct cl_lagstore_slot *sl, const struct key *k,
                     struct cl_lag_window *w)
{
    for (int t = 0; t < READ_TRIES; t++) {
        uint32_t q1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
        if (q1 & 1u) {
            continue;
        }
        int what = SLOT_OTHER;
        if (atomic_load_explicit(&sl->stamp, memory_order_acquire) == 0) {
            what = SLOT_FREE;
        } else if (key_equal(sl, k)) {
            what = SLOT_FOUND;
            read_window(sl, w);
        }
        if (atomic_load_explicit(&sl->seq, memory_order_relaxed) == q1) {
            return what;
        }
    }
    return SLOT_STUCK;
}

int cl_lagstore_lookup(struct cl_lagstore *s, const char *topic,
                       int32_t partition, struct cl_lag_window *out)
{
    struct key k;
    cl_lag_window_init(out);
    if (make_key(topic, partition, &k) != 0 || !valid(s)) {
        return 0;
    }
    for (uint32_t i = 0; i < CL_LAGSTORE_SLOTS; i++) {
        const struct cl_lagstore_slot *sl =
            &s->slots[(k.hash + i) % CL_LAGSTORE_SLOTS];
        int what = read_slot(sl, &k, out);
        if (what == SLOT_FOUND) {
            return 1;
        }
        if (what != SLOT_OTHER) {
            cl_lag_window_init(out);
            return 0;
        }
    }
    return 0;
}
