/*
 * migrate.c - migrating topic <old> to a new topic <new> with another
 * partition count while producers run: steps 1-3 of docs/MIGRATION.md
 * (create, copy, cut-over) and crawllog_topic_migrate.  The migration file
 * is read and written by migrate_file.c; the redirect of appends after the
 * cut-over is append.c's hook; step 4 (consumer groups) is not
 * implemented yet.
 *
 * On disk: topics/<old>/migration (migrate_file.c), the copies in <new>
 * (written by the idempotent producers "migrate.<old>.<p>", registered in
 * producers/), and the migration word of every old partition's
 * partition.state (pstate.h): FENCED during a cut-over, REDIRECT after.
 *
 * Invariants:
 *  - The file exists before anything is copied, so a <new> without it
 *    holds nothing (a crash after the create: resume accepts an empty
 *    <new> of N partitions).
 *  - The copy of old partition p is written by the idempotent producer
 *    "migrate.<old>.<p>" with sequence = records copied from p to q so
 *    far, made durable, and only then recorded (copied.<p>).  The file may
 *    lag behind the log, never lead it: a resumed copy asks each q for the
 *    producer's next sequence, skips the records of p that q already has
 *    (in order, they are the first ones routed to q after copied.<p>) and
 *    sends the rest with their sequences, so no record lands twice and
 *    the sequences catch any mistake (CRAWLLOG_ESEQUENCE, never a
 *    duplicate).
 *  - Records keep their key, value, headers and timestamp; keyed records
 *    go to murmur2(key) % N, keyless ones from p to p % N.  Per old
 *    partition, the records routed to one q are copied in offset order.
 *  - Cut-over, under crawllog.lock (a descriptor of its own, so it also
 *    excludes this process's other threads and handles): each old
 *    partition is locked, marked FENCED and its log end read; from then on
 *    an append to it waits (the hook takes crawllog.lock).  The tail up to
 *    those ends is copied with no partition lock held (readers take it to
 *    locate a position, so the tail cannot be read under it), the file
 *    with state=redirect, cut.<p> and start.<q> is written durably, and
 *    only then are the partitions marked REDIRECT and the lock released.
 *    A failure before the file lifts the fences; a crash leaves them, and
 *    an append that then gets crawllog.lock finds state=copying and lifts
 *    its partition's fence itself (cl_migrate_wait_cutover).
 *
 *  - Transactions (issue 10): the copy is read_committed.  Markers and
 *    aborted transactional batches are not copied; committed ones are
 *    copied as plain records (the copier's idempotent batches).  A
 *    transaction still open stops the copy of its partition at its first
 *    batch (the last stable offset), so copied.<p> never passes a batch
 *    whose fate is unknown and a resumed copy drops the same records.  The
 *    cut-over cannot wait for a marker under the fence (the marker's
 *    append would wait for crawllog.lock): it fails with CRAWLLOG_EBUSY
 *    and lifts the fences; crawllog_topic_migrate retries (copy passes,
 *    cut-over) for up to TXN_WAIT_NS, asking cl_txn_recover_stale to end
 *    dead producers' transactions in between, then returns EBUSY (a
 *    later call resumes).
 *
 * Locks: crawllog.lock (flock on its own descriptor) -> log->lock (inside
 * log.c, released before a partition is locked) -> a partition's locks
 * (only to mark it, never while copying).  An append waiting for a
 * cut-over holds no partition lock.  No callback runs under a lock (the
 * progress callback is not called while crawllog.lock is held).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "conf.h"
#include "control.h"
#include "io.h"
#include "log.h"
#include "migrate.h"
#include "names.h"
#include "record.h"
#include "topic.h"
#include "txn.h"
#include "txn_scan.h"

#define SEQ_SPACE ((int64_t)INT32_MAX + 1)
#define FETCH_BYTES (1024 * 1024)
#define TAIL_RECORDS 1000 /* a pass copied no more: cut over */
#define MAX_PASSES 16
#define PROD_CACHE 64 /* old partitions whose copiers stay open */
/* How long crawllog_topic_migrate waits for transactions open at the
 * cut-over, and its pause between tries. */
#define TXN_WAIT_NS ((int64_t)2000000000)
#define TXN_PAUSE_NS ((int64_t)50000000)

/* ---- crawllog.lock and the migration word ------------------------------ */

/* crawllog.lock on a descriptor of its own (excludes this process's other
 * threads and handles too). */
int cl_migrate_meta_lock(crawllog_t *log, int *fdp, struct cl_err *err)
{
    int fd = cl_io_openat("migrate.lock.open", log->rootfd, CL_LOG_LOCK_NAME,
                          O_RDWR, 0);
    if (fd < 0) {
        return cl_err_sys(err, -fd, CL_LOG_LOCK_NAME, "open");
    }
    int rc = cl_io_lock("migrate.lock", fd, 1, 1);
    if (rc < 0) {
        cl_io_close(fd);
        return cl_err_sys(err, -rc, CL_LOG_LOCK_NAME, "flock");
    }
    *fdp = fd;
    return 0;
}

void cl_migrate_meta_unlock(int fd)
{
    cl_io_unlock(fd);
    cl_io_close(fd);
}

/* Set part's migration word to to if it is from (any if from < 0). */
static int set_word(struct cl_partition *part, int from, uint32_t to,
                    struct cl_err *err)
{
    int rc = cl_partition_lock(part, err);
    if (rc == 0) {
        uint32_t w = cl_pstate_migration(&part->ps);
        if (w != to && (from < 0 || w == (uint32_t)from)) {
            cl_pstate_set_migration(&part->ps, to);
        }
        cl_partition_unlock(part);
    }
    return rc;
}

int cl_migrate_wait_cutover(crawllog_t *log, const char *topic,
                            struct cl_partition *part, struct cl_mig_cache *c,
                            struct cl_err *err)
{
    int fd;
    int rc = cl_migrate_meta_lock(log, &fd, err);
    if (rc != 0) {
        return rc;
    }
    /* No cut-over runs now: the file decides, any other word is stale
     * (a dead cut-over's fence, or a damaged partition.state). */
    rc = cl_log_migration(log, topic, 1, c, err);
    if (rc == 0) {
        rc = set_word(part, -1,
                      c->state >= CRAWLLOG_MIGRATION_REDIRECT
                          ? CL_PSTATE_MIG_REDIRECT
                          : CL_PSTATE_MIG_NONE,
                      err);
    }
    cl_migrate_meta_unlock(fd);
    return rc;
}

/* ---- the copy ---------------------------------------------------------- */

struct mctx {
    crawllog_t *log;
    const char *old;
    int dirfd;            /* topics/<old> */
    char rel[CL_MIGRATE_REL_SIZE];   /* topics/<old>/migration */
    struct cl_mig m;
    size_t max_bytes;     /* <new>'s max.message.bytes */
    crawllog_migrate_progress_cb *cb;
    void *opaque;
    int cutover;          /* the cut-over is running */
    int cut_here;         /* this call cut over (and marked the partitions) */
    int locked;           /* crawllog.lock held: no callback */
    crawllog_producer_t **prods; /* [nprods]: the copiers, kept across
                                    passes when m <= PROD_CACHE */
    int32_t nprods;
    uint8_t *checked;     /* [m]: counts checked against <new> this call */
    /* one fetched chunk of an old partition, routed */
    crawllog_record_t *recs, *sorted;
    crawllog_header_t *hdrs;
    int32_t *qs;
    size_t *qpos;         /* [n + 1] */
    size_t nrec, rcap, hcap;
    uint8_t *dec;         /* [dcap]: per batch of the chunk, DEC_* */
    size_t dcap;
    int txn_open;         /* a cut-over met an open transaction */
};

#define DEC_COPY 0
#define DEC_DROP 1 /* a marker, or an aborted transaction's batch */
#define DEC_STOP 2 /* a transaction still open: stop before it */

static void mctx_free(struct mctx *x)
{
    for (int32_t p = 0; p < x->nprods; p++) {
        crawllog_producer_destroy(x->prods[p]); /* acks=1: nothing buffered */
    }
    cl_io_free(x->prods);
    cl_io_free(x->checked);
    cl_migrate_file_free(&x->m);
    cl_io_free(x->recs);
    cl_io_free(x->sorted);
    cl_io_free(x->hdrs);
    cl_io_free(x->qs);
    cl_io_free(x->qpos);
    cl_io_free(x->dec);
    if (x->dirfd >= 0) {
        cl_io_close(x->dirfd);
    }
}

static int64_t *count_of(struct mctx *x, int32_t p, int32_t q)
{
    return &x->m.counts[(size_t)p * (size_t)x->m.n + (size_t)q];
}

static int old_end(struct mctx *x, int32_t p, int64_t *endp,
                   struct cl_err *err)
{
    struct cl_partition *part;
    int rc = cl_log_partition(x->log, x->old, p, &part, err);
    if (rc == 0) {
        rc = cl_partition_offsets(part, NULL, endp, err);
    }
    return rc;
}

static void progress(struct mctx *x, int32_t p)
{
    struct cl_err e;
    int64_t copied = 0, left = 0, end;
    if (x->cb == NULL || x->locked) {
        return;
    }
    for (size_t i = 0; i < (size_t)x->m.m * (size_t)x->m.n; i++) {
        copied += x->m.counts[i];
    }
    for (int32_t o = 0; x->m.state == CRAWLLOG_MIGRATION_COPYING && o < x->m.m;
         o++) {
        if (old_end(x, o, &end, &e) == 0 && end > x->m.copied[o]) {
            left += end - x->m.copied[o];
        }
    }
    crawllog_migrate_progress_t pr = {(crawllog_migration_state_t)x->m.state,
                                      x->cutover, p, copied, copied + left};
    x->cb(x->opaque, &pr);
}

/* FNV-1a 64, for producer names too long to hold the topic name. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++) {
        h = (h ^ (uint8_t)*s) * 0x100000001b3u;
    }
    return h;
}

static int new_producer(struct mctx *x, int32_t p,
                        crawllog_producer_t **prodp, struct cl_err *err)
{
    char name[CRAWLLOG_TOPIC_NAME_MAX + 32], es[CRAWLLOG_ERRSTR_SIZE] = "";
    int n = snprintf(name, sizeof(name), "migrate.%s.%d", x->old, (int)p);
    if (n < 0 || n > CRAWLLOG_TOPIC_NAME_MAX) {
        snprintf(name, sizeof(name), "migrate.%016" PRIx64 ".%d",
                 fnv1a(x->old), (int)p);
    }
    crawllog_conf_t *conf = NULL;
    int rc = crawllog_conf_new(&conf);
    if (rc == 0 &&
        ((rc = crawllog_conf_set(conf, "enable.idempotence", "true", es,
                                 sizeof(es))) != 0 ||
         (rc = crawllog_conf_set(conf, "producer.id", name, es,
                                 sizeof(es))) != 0 ||
         (rc = crawllog_conf_set(conf, "acks", "1", es, sizeof(es))) != 0)) {
        crawllog_conf_destroy(conf);
        return cl_errf(err, rc, "producer %s: %s", name, es);
    }
    if (rc == 0) {
        rc = crawllog_producer_new(x->log, conf, prodp, es, sizeof(es));
    }
    crawllog_conf_destroy(conf);
    return rc ? cl_errf(err, rc, "producer %s: %s", name,
                        es[0] ? es : crawllog_strerror(rc))
              : 0;
}

/* Records of p that q already has beyond the recorded count: written
 * after the last progress record (the producer's next sequence says how
 * many; a smaller one - retention - counts as none). */
static int already_there(struct mctx *x, crawllog_producer_t *prod,
                         int32_t p, int32_t q, int64_t *skipp,
                         struct cl_err *err)
{
    int32_t next;
    int rc = crawllog_producer_next_sequence(prod, x->m.target, q, &next);
    if (rc != 0) {
        return cl_errf(err, rc, "%s", crawllog_producer_errmsg(prod));
    }
    int64_t d = ((int64_t)next - *count_of(x, p, q) % SEQ_SPACE) % SEQ_SPACE;
    d = d < 0 ? d + SEQ_SPACE : d;
    *skipp = d < SEQ_SPACE / 2 ? d : 0;
    return 0;
}

static int chunk_room(struct mctx *x, size_t nrec, size_t nhdr,
                      struct cl_err *err)
{
    if (nrec > x->rcap) {
        cl_io_free(x->recs);
        cl_io_free(x->sorted);
        cl_io_free(x->qs);
        x->recs = cl_io_calloc(nrec, sizeof(*x->recs));
        x->sorted = cl_io_calloc(nrec, sizeof(*x->sorted));
        x->qs = cl_io_calloc(nrec, sizeof(*x->qs));
        x->rcap = x->recs && x->sorted && x->qs ? nrec : 0;
    }
    if (nhdr > x->hcap) {
        cl_io_free(x->hdrs);
        x->hdrs = cl_io_calloc(nhdr, sizeof(*x->hdrs));
        x->hcap = x->hdrs ? nhdr : 0;
    }
    if (x->qpos == NULL) {
        x->qpos = cl_io_calloc((size_t)x->m.n + 1, sizeof(*x->qpos));
    }
    return nrec > x->rcap || nhdr > x->hcap || x->qpos == NULL
               ? cl_errf(err, CRAWLLOG_ENOMEM, "out of memory")
               : 0;
}

/* What the copy does with the batch bh (DEC_*): read_committed. */
static int decide(struct cl_txn_scan *scan, const struct cl_batch_hdr *bh,
                  uint8_t *decp, struct cl_err *err)
{
    int fate;
    if (cl_control_is_control(bh->attributes)) {
        *decp = DEC_DROP;
        return 0;
    }
    if (!cl_control_is_transactional(bh->attributes)) {
        *decp = DEC_COPY;
        return 0;
    }
    int rc = cl_txn_scan_fate(scan, bh->producer_id,
                              bh->base_offset + bh->last_offset_delta, &fate,
                              err);
    if (rc == 0) {
        *decp = fate == CL_TXN_FATE_OPEN     ? DEC_STOP
                : fate == CL_TXN_FATE_COMMIT ? DEC_COPY
                                             : DEC_DROP;
    }
    return rc;
}

/* Decode the records at or above *posp of buf (whole batches), route each
 * and keep those q does not have yet in x->recs / x->qs.  Markers and
 * aborted batches are passed; at a transaction still open, *stoppedp = 1
 * and nothing from there on is taken (*posp stays before it).  The
 * decisions are made once (pass 0): a marker appended meanwhile cannot
 * make pass 1 take more than pass 0 counted. */
static int route_chunk(struct mctx *x, int32_t p, const uint8_t *buf,
                       size_t len, struct cl_txn_scan *scan, int64_t *skip,
                       int64_t *posp, int *stoppedp, struct cl_err *err)
{
    struct cl_record_iter it;
    struct cl_record_view rv;
    size_t nrec = 0, nhdr = 0, h = 0;
    *stoppedp = 0;
    for (int pass = 0; pass < 2; pass++) {
        int rc = pass == 1 ? chunk_room(x, nrec + 1, nhdr + 1, err) : 0;
        size_t nb = 0;
        x->nrec = 0;
        h = 0;
        for (size_t off = 0; rc == 0 && off < len;) {
            struct cl_batch_hdr bh;
            if (cl_record_batch_header(buf + off, len - off, &bh) != 0 ||
                cl_record_batch_total(&bh) > len - off ||
                cl_record_iter_init(&it, buf + off,
                                    cl_record_batch_total(&bh)) != 0) {
                return cl_errf(err, CRAWLLOG_ECORRUPT,
                               "topics/%s/%d: bad batch", x->old, (int)p);
            }
            off += cl_record_batch_total(&bh);
            if (pass == 0 &&
                ((rc = cl_io_grow((void **)&x->dec, &x->dcap, nb + 1, 1)) !=
                     0 ||
                 (rc = decide(scan, &bh, &x->dec[nb], err)) != 0)) {
                return rc == CRAWLLOG_ENOMEM
                           ? cl_errf(err, rc, "out of memory")
                           : rc;
            }
            uint8_t dec = x->dec[nb++];
            if (dec == DEC_STOP) {
                *stoppedp = 1;
                break;
            }
            if (dec == DEC_DROP) {
                int64_t last = bh.base_offset + bh.last_offset_delta;
                if (pass == 1 && last >= *posp) {
                    *posp = last + 1;
                }
                continue;
            }
            while ((rc = cl_record_iter_next(&it, &rv)) == 0) {
                if (rv.offset < *posp) {
                    continue;
                }
                if (pass == 0) {
                    nrec++;
                    nhdr += (size_t)rv.header_count;
                    continue;
                }
                crawllog_record_t r = {
                    rv.key_len < 0 ? NULL : rv.key,
                    rv.key_len < 0 ? 0 : (size_t)rv.key_len,
                    rv.value_len < 0 ? NULL : rv.value,
                    rv.value_len < 0 ? 0 : (size_t)rv.value_len,
                    rv.timestamp, rv.header_count ? &x->hdrs[h] : NULL,
                    (size_t)rv.header_count};
                for (int32_t k = 0; k < rv.header_count; k++) {
                    if (cl_record_header_at(&rv, (size_t)k, &x->hdrs[h++]) !=
                        0) {
                        return cl_errf(err, CRAWLLOG_ECORRUPT,
                                       "topics/%s/%d: offset %" PRId64
                                       ": bad header",
                                       x->old, (int)p, rv.offset);
                    }
                }
                int32_t q = cl_migrate_route(r.key, r.key_len, p, x->m.n);
                if (skip[q] > 0) {
                    skip[q]--;
                    (*count_of(x, p, q))++;
                } else {
                    x->recs[x->nrec] = r;
                    x->qs[x->nrec++] = q;
                }
                *posp = rv.offset + 1;
            }
            if (rc < 0) {
                return cl_errf(err, CRAWLLOG_ECORRUPT,
                               "topics/%s/%d: bad record", x->old, (int)p);
            }
            rc = 0;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Send x->recs, grouped by q (stable), in batches within max.message.bytes
 * with sequence = records copied from p to q. */
static int send_chunk(struct mctx *x, crawllog_producer_t *prod, int32_t p,
                      struct cl_err *err)
{
    int32_t n = x->m.n;
    memset(x->qpos, 0, ((size_t)n + 1) * sizeof(*x->qpos));
    for (size_t i = 0; i < x->nrec; i++) {
        x->qpos[x->qs[i] + 1]++;
    }
    for (int32_t q = 0; q < n; q++) {
        x->qpos[q + 1] += x->qpos[q];
    }
    for (size_t i = 0; i < x->nrec; i++) {
        x->sorted[x->qpos[x->qs[i]]++] = x->recs[i];
    }
    size_t from = 0; /* qpos[q] is now the end of q's run */
    for (int32_t q = 0; q < n; from = x->qpos[q++]) {
        for (size_t i = from; i < x->qpos[q];) {
            size_t k = 0, est = CL_BATCH_HEADER_SIZE;
            while (i + k < x->qpos[q]) {
                size_t one = cl_record_batch_size(&x->sorted[i + k], 1);
                one = one > CL_BATCH_HEADER_SIZE
                          ? one - CL_BATCH_HEADER_SIZE + 16
                          : 16;
                if (k > 0 && est + one > x->max_bytes) {
                    break;
                }
                est += one;
                k++;
            }
            int64_t *c = count_of(x, p, q), base;
            int dup;
            int rc = crawllog_producer_send_sequenced(
                prod, x->m.target, q, (int32_t)(*c % SEQ_SPACE),
                &x->sorted[i], k, &base, &dup);
            if (rc != 0) {
                return cl_errf(err, rc, "copying topics/%s/%d to %s/%d: %s",
                               x->old, (int)p, x->m.target, (int)q,
                               crawllog_producer_errmsg(prod));
            }
            *c += (int64_t)k;
            i += k;
        }
    }
    return 0;
}

/* Copy old partition p from copied.<p> to its log end now (or to its
 * first open transaction), recording the progress after each durable
 * chunk.  *nrecp += records written. */
static int copy_partition(struct mctx *x, int32_t p, int64_t *nrecp,
                          struct cl_err *err)
{
    crawllog_producer_t *prod = x->prods ? x->prods[p] : NULL;
    crawllog_reader_t *rd = NULL;
    struct cl_txn_scan *scan = NULL;
    int stopped = 0;
    int64_t start = 0, end = 0, pos;
    struct cl_partition *part;
    int64_t *skip = cl_io_calloc((size_t)x->m.n, sizeof(*skip));
    int rc = skip ? cl_log_partition(x->log, x->old, p, &part, err)
                  : cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    if (rc == 0) {
        rc = cl_partition_offsets(part, &start, &end, err);
    }
    if (rc == 0 && x->m.copied[p] < end) {
        rc = cl_txn_scan_new(&scan, part, err);
    }
    if (rc != 0 || x->m.copied[p] >= end) {
        cl_io_free(skip);
        return rc;
    }
    if (prod == NULL) {
        rc = new_producer(x, p, &prod, err);
    }
    /* Once per call: what a crashed copier wrote after its last record. */
    for (int32_t q = 0; rc == 0 && !x->checked[p] && q < x->m.n; q++) {
        rc = already_there(x, prod, p, q, &skip[q], err);
    }
    x->checked[p] = rc == 0;
    pos = x->m.copied[p] > start ? x->m.copied[p] : start;
    if (rc == 0 && ((rc = crawllog_reader_new(&rd, x->log, x->old, p)) != 0 ||
                    (rc = crawllog_reader_seek(rd, pos)) != 0)) {
        rc = cl_errf(err, rc, "%s", rd ? crawllog_reader_errmsg(rd)
                                       : crawllog_errmsg(x->log));
    }
    while (rc == 0 && !stopped) {
        const void *buf;
        size_t len;
        if ((rc = crawllog_reader_fetch(rd, FETCH_BYTES, &buf, &len)) != 0) {
            rc = cl_errf(err, rc, "%s", crawllog_reader_errmsg(rd));
        } else if (len == 0) {
            break;
        }
        if (rc == 0 &&
            (rc = route_chunk(x, p, buf, len, scan, skip, &pos, &stopped,
                              err)) == 0 &&
            (rc = send_chunk(x, prod, p, err)) == 0 &&
            (rc = cl_log_topic_flush(x->log, x->m.target,
                                     CRAWLLOG_SYNC_DURABLE, err)) == 0) {
            x->m.copied[p] = pos;
            rc = cl_migrate_file_write(x->dirfd, x->rel, &x->m, x->log->fmode, err);
            *nrecp += (int64_t)x->nrec;
            progress(x, p);
        }
    }
    crawllog_reader_destroy(rd);
    cl_txn_scan_free(scan);
    if (x->prods != NULL) {
        x->prods[p] = prod;
    } else {
        crawllog_producer_destroy(prod); /* acks=1: nothing buffered */
    }
    cl_io_free(skip);
    return rc;
}

static int copy_passes(struct mctx *x, struct cl_err *err)
{
    for (int pass = 0; pass < MAX_PASSES; pass++) {
        int64_t n = 0;
        for (int32_t p = 0; p < x->m.m; p++) {
            int rc = copy_partition(x, p, &n, err);
            if (rc != 0) {
                return rc;
            }
        }
        if (n <= TAIL_RECORDS) {
            break;
        }
    }
    return 0;
}

/* ---- cut-over ---------------------------------------------------------- */

static int cutover_locked(struct mctx *x, struct cl_partition **parts,
                          int32_t *fencedp, struct cl_err *err)
{
    int32_t np;
    int64_t n = 0;
    int rc = cl_log_topic_partitions(x->log, x->old, &np, err);
    if (rc == 0 && np != x->m.m) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "topic %s: %d partitions, %d when its migration "
                       "started",
                       x->old, (int)np, (int)x->m.m);
    }
    for (int32_t p = 0; rc == 0 && p < x->m.m; p++) {
        if ((rc = cl_log_partition(x->log, x->old, p, &parts[p], err)) == 0 &&
            (rc = cl_partition_lock(parts[p], err)) == 0) {
            cl_pstate_set_migration(&parts[p]->ps, CL_PSTATE_MIG_FENCED);
            x->m.cut[p] = atomic_load(&parts[p]->ps.shm->next_offset);
            cl_partition_unlock(parts[p]);
            *fencedp = p + 1;
            /* <old> must keep every record below the cut through a power
             * loss: the groups read it up to there (step 4), and the
             * copies in <new> below start.<q> are skipped. */
            rc = cl_partition_sync_all(parts[p], "migrate.cut.fdatasync", err);
        }
    }
    for (int32_t p = 0; rc == 0 && p < x->m.m; p++) {
        rc = copy_partition(x, p, &n, err);
        if (rc == 0 && x->m.copied[p] < x->m.cut[p]) {
            /* Only a transaction still open stops a copy below the log
             * end; its marker cannot be written under the fence. */
            x->txn_open = 1;
            rc = cl_errf(err, CRAWLLOG_EBUSY,
                         "topics/%s/%d: a transaction is open at offset %" PRId64
                         " (fenced at %" PRId64 "): the cut-over waits for it",
                         x->old, (int)p, x->m.copied[p], x->m.cut[p]);
        }
    }
    for (int32_t q = 0; rc == 0 && q < x->m.n; q++) {
        struct cl_partition *part;
        if ((rc = cl_log_partition(x->log, x->m.target, q, &part, err)) ==
            0) {
            rc = cl_partition_offsets(part, NULL, &x->m.start[q], err);
        }
    }
    if (rc == 0) {
        x->m.state = CRAWLLOG_MIGRATION_REDIRECT;
        rc = cl_migrate_file_write(x->dirfd, x->rel, &x->m, x->log->fmode, err);
        if (rc != 0) {
            x->m.state = CRAWLLOG_MIGRATION_COPYING;
        }
    }
    return rc;
}

static int cutover(struct mctx *x, struct cl_err *err)
{
    int fd = -1;
    int32_t fenced = 0;
    struct cl_partition **parts = NULL;
    x->cutover = 1;
    progress(x, -1);
    int rc = cl_migrate_meta_lock(x->log, &fd, err);
    if (rc != 0) {
        x->cutover = 0;
        return rc;
    }
    x->locked = 1;
    /* Another process may have cut over (or copied) meanwhile. */
    size_t nc = (size_t)x->m.m * (size_t)x->m.n * sizeof(int64_t);
    int64_t *before = cl_io_malloc(nc);
    if (before != NULL) {
        memcpy(before, x->m.counts, nc);
    }
    cl_migrate_file_free(&x->m);
    rc = cl_migrate_file_read(x->dirfd, x->rel, &x->m, err);
    if (rc == 0 && (before == NULL ||
                    (size_t)x->m.m * (size_t)x->m.n * sizeof(int64_t) != nc ||
                    memcmp(before, x->m.counts, nc) != 0)) {
        memset(x->checked, 0, (size_t)x->m.m); /* not what we wrote */
    }
    cl_io_free(before);
    if (rc == 0 && x->m.state == CRAWLLOG_MIGRATION_COPYING) {
        parts = cl_io_calloc((size_t)x->m.m, sizeof(*parts));
        rc = parts ? cutover_locked(x, parts, &fenced, err)
                   : cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
        x->cut_here = rc == 0;
    }
    /* Redirected, or (after a failure) the fences lifted; a partition
     * that cannot be locked keeps a stale fence, which its next append
     * lifts (cl_migrate_wait_cutover). */
    for (int32_t p = 0; p < fenced; p++) {
        struct cl_err e2;
        e2.msg[0] = '\0';
        int rc2 = rc == 0 ? set_word(parts[p], -1, CL_PSTATE_MIG_REDIRECT, &e2)
                          : set_word(parts[p], CL_PSTATE_MIG_FENCED,
                                     CL_PSTATE_MIG_NONE, &e2);
        if (rc == 0 && rc2 != 0) {
            rc = rc2; /* redirected anyway: appends read the file */
            *err = e2;
        }
    }
    cl_migrate_meta_unlock(fd);
    cl_io_free(parts);
    x->cutover = x->locked = 0;
    return rc;
}

/* Copy passes and the cut-over, tried again while a transaction open in
 * an old partition stops it (see the header), for up to TXN_WAIT_NS. */
static int copy_and_cut(struct mctx *x, struct cl_err *err)
{
    int64_t t0 = cl_io_mono_ns();
    for (;;) {
        x->txn_open = 0;
        int rc = copy_passes(x, err);
        if (rc == 0) {
            rc = cutover(x, err);
        }
        if (rc != CRAWLLOG_EBUSY || !x->txn_open ||
            cl_io_mono_ns() - t0 >= TXN_WAIT_NS) {
            return rc;
        }
        struct cl_err ignored = {{0}};
        uint32_t word = 0;
        (void)cl_txn_recover_stale(x->log, NULL, &ignored);
        cl_io_futex_wait(&word, 0, TXN_PAUSE_NS);
        err->msg[0] = '\0';
    }
}

/* Mark every old partition REDIRECT (a resumed or repeated call). */
static int mark_all(struct mctx *x, struct cl_err *err)
{
    for (int32_t p = 0; p < x->m.m; p++) {
        struct cl_partition *part;
        int rc = cl_log_partition(x->log, x->old, p, &part, err);
        if (rc == 0) {
            rc = set_word(part, -1, CL_PSTATE_MIG_REDIRECT, err);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- step 1 and the public calls --------------------------------------- */

/* <new> exists: accept it only as an empty topic of n partitions (left by
 * a crash between its creation and the migration file). */
static int check_target(struct mctx *x, const char *target, int32_t n,
                        struct cl_err *err)
{
    int32_t have;
    int rc = cl_log_topic_partitions(x->log, target, &have, err);
    for (int32_t q = 0; rc == 0 && q < have && have == n; q++) {
        struct cl_partition *part;
        int64_t end;
        if ((rc = cl_log_partition(x->log, target, q, &part, err)) == 0 &&
            (rc = cl_partition_offsets(part, NULL, &end, err)) == 0 &&
            end != 0) {
            have = -1;
        }
    }
    if (rc == 0 && have != n) {
        rc = cl_errf(err, CRAWLLOG_EEXIST,
                     "topic %s exists and is not an empty topic of %d "
                     "partitions",
                     target, (int)n);
    }
    return rc;
}

/* Step 1: create <new> like <old> and write the migration file. */
static int begin(struct mctx *x, const char *target, int32_t n,
                 struct cl_err *err)
{
    struct cl_topic_meta meta = {0};
    int64_t end;
    int rc = cl_topic_meta_read(x->log->rootfd, x->old, &meta, err);
    if (rc == 0) {
        rc = crawllog_topic_create(x->log, target, n, meta.conf);
        if (rc == CRAWLLOG_EEXIST) {
            rc = check_target(x, target, n, err);
        } else if (rc != 0) {
            cl_errf(err, rc, "%s", crawllog_errmsg(x->log));
        }
    }
    memset(&x->m, 0, sizeof(x->m));
    x->m.state = CRAWLLOG_MIGRATION_COPYING;
    snprintf(x->m.target, sizeof(x->m.target), "%s", target);
    x->m.n = n;
    x->m.m = meta.partitions;
    cl_topic_meta_free(&meta);
    if (rc == 0) {
        rc = cl_migrate_file_alloc(&x->m, err);
    }
    for (int32_t p = 0; rc == 0 && p < x->m.m; p++) {
        struct cl_partition *part;
        if ((rc = cl_log_partition(x->log, x->old, p, &part, err)) == 0) {
            rc = cl_partition_offsets(part, &x->m.copied[p], &end, err);
        }
    }
    return rc == 0 ? cl_migrate_file_write(x->dirfd, x->rel, &x->m, x->log->fmode, err)
                   : rc;
}

static int check_names(const char *old, const char *new_topic,
                       int32_t partitions, struct cl_err *err)
{
    if (old == NULL || new_topic == NULL || !cl_names_topic_valid(old) ||
        !cl_names_topic_valid(new_topic) || strcmp(old, new_topic) == 0) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "migrate: two different valid topic names needed");
    }
    if (partitions < 1 || partitions > CRAWLLOG_PARTITIONS_MAX) {
        return cl_errf(err, CRAWLLOG_EINVAL, "partitions: %d is not in 1..%d",
                       (int)partitions, CRAWLLOG_PARTITIONS_MAX);
    }
    return 0;
}

static int mctx_open(struct mctx *x, crawllog_t *log, const char *old,
                     struct cl_err *err)
{
    memset(x, 0, sizeof(*x));
    x->log = log;
    x->old = old;
    snprintf(x->rel, sizeof(x->rel), "topics/%s/%s", old, CL_MIGRATE_NAME);
    return cl_topic_open_dir(log->rootfd, old, &x->dirfd, err);
}

static int run(struct mctx *x, const char *new_topic, int32_t partitions,
               struct cl_err *err)
{
    struct cl_topic_meta meta = {0};
    struct cl_mig_cache c;
    int rc = cl_migrate_file_read(x->dirfd, x->rel, &x->m, err);
    if (rc == CRAWLLOG_ENOENT) {
        err->msg[0] = '\0';
        rc = begin(x, new_topic, partitions, err);
    } else if (rc == 0 && (strcmp(x->m.target, new_topic) != 0 ||
                           x->m.n != partitions)) {
        rc = cl_errf(err, CRAWLLOG_EEXIST,
                     "topic %s is being migrated to %s with %d partitions",
                     x->old, x->m.target, (int)x->m.n);
    }
    if (rc == 0 && x->m.state == CRAWLLOG_MIGRATION_COPYING) {
        x->checked = cl_io_calloc((size_t)x->m.m, 1);
        x->prods = x->m.m <= PROD_CACHE
                       ? cl_io_calloc((size_t)x->m.m, sizeof(*x->prods))
                       : NULL;
        x->nprods = x->prods != NULL ? x->m.m : 0;
        rc = x->checked != NULL && (x->prods != NULL || x->m.m > PROD_CACHE)
                 ? cl_topic_meta_read(x->log->rootfd, new_topic, &meta, err)
                 : cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
        x->max_bytes = rc == 0 ? (size_t)cl_conf_int(
                                     meta.conf, CL_CONF_MAX_MESSAGE_BYTES)
                               : 0;
        cl_topic_meta_free(&meta);
        progress(x, -1);
        rc = rc == 0 ? copy_and_cut(x, err) : rc;
    }
    if (rc == 0 && !x->cut_here) {
        rc = mark_all(x, err); /* a cut-over of this call marked them */
    }
    if (rc == 0) {
        rc = cl_log_migration(x->log, x->old, 1, &c, err);
    }
    if (rc == 0) {
        /* Step 5: done already if no group has to switch. */
        rc = cl_migrate_finish(x->log, x->old, NULL, err);
    }
    if (rc == 0) {
        progress(x, -1);
    }
    return rc;
}

int crawllog_topic_migrate(crawllog_t *log, const char *old,
                           const char *new_topic, int32_t partitions,
                           crawllog_migrate_progress_cb *cb, void *opaque)
{
    CL_BACKEND(log, topic_migrate, log, old, new_topic, partitions, cb, opaque);
    struct cl_err err = {{0}};
    struct mctx x;
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    int rc = check_names(old, new_topic, partitions, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    rc = mctx_open(&x, log, old, &err);
    x.cb = cb;
    x.opaque = opaque;
    if (rc == 0) {
        rc = run(&x, new_topic, partitions, &err);
    }
    mctx_free(&x);
    return rc ? cl_log_fail(log, rc, &err) : 0;
}
