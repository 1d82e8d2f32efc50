/*
 * migrate_file.c - the migration file topics/<old>/migration: parsing,
 * writing, the per-topic cache log.c keeps (cl_migrate_cache_load) and the
 * routing rule (layer 3).  The protocol that writes it is in migrate.c
 * (steps 1-3) and migrate_status.c (step 5, state=done).
 *
 * On disk: topics/<old>/migration, a metafile (metafile.c) of kind
 * "crawllog-migration", replaced atomically (FORMAT.md section 5):
 *   target=<new>
 *   partitions=<N>
 *   old.partitions=<M>
 *   state=copying | redirect | done
 *   copied.<p>=<next old offset to copy>[ <q>:<records copied p->q>]...
 *              (one per old partition; new partitions q with a zero count
 *              omitted; the counts are the copier's idempotent sequences)
 *   cut.<p>=<old log end at the cut-over>            (from redirect on)
 *   start.<q>=<new log end at the cut-over>          (from redirect on)
 * Keys may come in any order; unknown keys are ignored (newer versions).
 *
 * Invariants: a file that parses has a valid target name, 1 <= N, M <=
 * CRAWLLOG_PARTITIONS_MAX, a copied line per old partition, and from
 * redirect on every cut and start line; anything else is
 * CRAWLLOG_ECORRUPT naming the file.  A file larger than what metafile.c
 * accepts (1 MiB) is refused before writing (CRAWLLOG_ETOOBIG).
 *
 * Locks: none here; writers hold crawllog.lock (the cut-over, step 5) or
 * are the only migrating process (the copy); readers see the old or the
 * new file (atomic replace).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "metafile.h"
#include "migrate.h"
#include "murmur2.h"
#include "names.h"
#include "topic.h"

static const char *const state_names[] = {"none", "copying", "redirect",
                                          "done"};


void cl_migrate_file_free(struct cl_mig *m)
{
    cl_io_free(m->copied);
    cl_io_free(m->counts);
    cl_io_free(m->cut);
    cl_io_free(m->start);
    memset(m, 0, sizeof(*m));
}

int cl_migrate_file_alloc(struct cl_mig *m, struct cl_err *err)
{
    m->copied = cl_io_calloc((size_t)m->m, sizeof(int64_t));
    m->counts = cl_io_calloc((size_t)m->m * (size_t)m->n, sizeof(int64_t));
    m->cut = cl_io_calloc((size_t)m->m, sizeof(int64_t));
    m->start = cl_io_calloc((size_t)m->n, sizeof(int64_t));
    if (!m->copied || !m->counts || !m->cut || !m->start) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (int32_t p = 0; p < m->m; p++) {
        m->cut[p] = -1;
    }
    for (int32_t q = 0; q < m->n; q++) {
        m->start[q] = -1;
    }
    return 0;
}

/* ---- parsing and writing the file -------------------------------------- */

/* Strict non-negative decimal in [*sp, end); advances *sp. */
static int parse_num(const char **sp, const char *end, int64_t *out)
{
    const char *s = *sp;
    int64_t v = 0;
    if (s >= end || *s < '0' || *s > '9') {
        return -1;
    }
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - (*s - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    *sp = s;
    *out = v;
    return 0;
}

/* "<prefix><index>" with index in [0, lim): the index, or -1. */
static int32_t key_index(const char *key, size_t klen, const char *prefix,
                         int32_t lim)
{
    size_t pl = strlen(prefix);
    int64_t v;
    const char *s = key + pl;
    if (klen <= pl || memcmp(key, prefix, pl) != 0 ||
        parse_num(&s, key + klen, &v) != 0 || s != key + klen || v >= lim) {
        return -1;
    }
    return (int32_t)v;
}

/* copied.<p>'s value: "<offset>[ <q>:<count>]...". */
static int parse_copied(struct cl_mig *m, int32_t p, const char *v,
                        const char *end)
{
    int64_t off, q, c;
    if (parse_num(&v, end, &off) != 0) {
        return -1;
    }
    m->copied[p] = off;
    while (v < end) {
        if (*v++ != ' ' || parse_num(&v, end, &q) != 0 || v >= end ||
            *v++ != ':' || parse_num(&v, end, &c) != 0 || q >= m->n) {
            return -1;
        }
        m->counts[(size_t)p * (size_t)m->n + (size_t)q] = c;
    }
    return 0;
}

/* One pass over the body's lines: scalars (pass 0) or indexed keys. */
static int parse_lines(struct cl_mig *m, const char *body, int pass,
                       int *seen)
{
    for (const char *l = body; *l != '\0';) {
        const char *nl = strchr(l, '\n'), *eq = strchr(l, '=');
        const char *end = nl ? nl : l + strlen(l);
        if (eq == NULL || eq > end) {
            return -1;
        }
        size_t klen = (size_t)(eq - l), vlen = (size_t)(end - eq - 1);
        const char *v = eq + 1;
        int64_t x = 0;
        int32_t i;
        if (pass == 0 && klen == 6 && !memcmp(l, "target", 6)) {
            if (vlen > CRAWLLOG_TOPIC_NAME_MAX) {
                return -1;
            }
            memcpy(m->target, v, vlen);
            m->target[vlen] = '\0';
        } else if (pass == 0 && klen == 10 && !memcmp(l, "partitions", 10)) {
            m->n = parse_num(&v, end, &x) || v != end || x < 1 ||
                           x > CRAWLLOG_PARTITIONS_MAX
                       ? -1
                       : (int32_t)x;
        } else if (pass == 0 && klen == 14 &&
                   !memcmp(l, "old.partitions", 14)) {
            m->m = parse_num(&v, end, &x) || v != end || x < 1 ||
                           x > CRAWLLOG_PARTITIONS_MAX
                       ? -1
                       : (int32_t)x;
        } else if (pass == 0 && klen == 5 && !memcmp(l, "state", 5)) {
            for (int s = 1; s < 4; s++) {
                if (strlen(state_names[s]) == vlen &&
                    !memcmp(v, state_names[s], vlen)) {
                    m->state = s;
                }
            }
        } else if (pass == 1 &&
                   (i = key_index(l, klen, "copied.", m->m)) >= 0) {
            if (parse_copied(m, i, v, end) != 0) {
                return -1;
            }
            seen[i] = 1;
        } else if (pass == 1 &&
                   ((i = key_index(l, klen, "cut.", m->m)) >= 0 ||
                    (i = key_index(l, klen, "start.", m->n)) >= 0)) {
            if (parse_num(&v, end, &x) != 0 || v != end) {
                return -1;
            }
            if (l[1] == 'u') {
                m->cut[i] = x;
            } else {
                m->start[i] = x;
            }
        } /* unknown keys are left for newer versions */
        l = nl ? nl + 1 : end;
    }
    return 0;
}

static int mig_parse(const char *body, const char *rel, struct cl_mig *m,
                     struct cl_err *err)
{
    int *seen = NULL;
    size_t blen = strlen(body);
    memset(m, 0, sizeof(*m));
    /* Every old partition needs a "copied.<p>=<n>" line (11 bytes or
     * more), and from redirect on every new one a "start.<q>=<n>" line
     * (10 or more): a small damaged file must not make us allocate the
     * m x n counts of a large migration (up to 800 MB). */
    int rc = parse_lines(m, body, 0, NULL) != 0 ||
                     !cl_names_topic_valid(m->target) || m->n < 1 ||
                     m->m < 1 || m->state == 0 || (size_t)m->m > blen / 11 ||
                     (m->state >= CRAWLLOG_MIGRATION_REDIRECT &&
                      (size_t)m->n > blen / 10)
                 ? CRAWLLOG_ECORRUPT
                 : cl_migrate_file_alloc(m, err);
    if (rc == 0) {
        seen = cl_io_calloc((size_t)m->m, sizeof(*seen));
        rc = seen ? 0 : cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    if (rc == 0 && parse_lines(m, body, 1, seen) != 0) {
        rc = CRAWLLOG_ECORRUPT;
    }
    for (int32_t p = 0; rc == 0 && p < m->m; p++) {
        if (!seen[p] || (m->state >= CRAWLLOG_MIGRATION_REDIRECT &&
                         m->cut[p] < 0)) {
            rc = CRAWLLOG_ECORRUPT;
        }
    }
    for (int32_t q = 0; rc == 0 && q < m->n; q++) {
        if (m->state >= CRAWLLOG_MIGRATION_REDIRECT && m->start[q] < 0) {
            rc = CRAWLLOG_ECORRUPT;
        }
    }
    cl_io_free(seen);
    if (rc == CRAWLLOG_ECORRUPT) {
        cl_errf(err, rc, "%s: malformed or incomplete migration", rel);
    }
    if (rc != 0) {
        cl_migrate_file_free(m);
    }
    return rc;
}

int cl_migrate_file_read(int dirfd, const char *rel, struct cl_mig *m,
                    struct cl_err *err)
{
    char *body = NULL;
    memset(m, 0, sizeof(*m));
    int rc = cl_metafile_read(dirfd, CL_MIGRATE_NAME, rel, CL_MIGRATE_KIND,
                              &body, err);
    if (rc == 0) {
        rc = mig_parse(body, rel, m, err);
    }
    cl_io_free(body);
    return rc;
}

/* A growing text buffer. */
struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    for (int i = 0; i < 2 && !b->oom; i++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL,
                          b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
        } else if (b->p != NULL && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        } else {
            size_t ncap = b->cap ? b->cap : 4096;
            while (ncap - b->len <= (size_t)n) {
                ncap *= 2;
            }
            char *np = cl_io_realloc(b->p, ncap);
            if (np == NULL) {
                b->oom = 1;
            } else {
                b->p = np;
                b->cap = ncap;
            }
        }
    }
}

int cl_migrate_file_write(int dirfd, const char *rel, const struct cl_mig *m,
                     unsigned fmode, struct cl_err *err)
{
    struct sbuf b = {NULL, 0, 0, 0};
    sb_printf(&b, "target=%s\npartitions=%d\nold.partitions=%d\nstate=%s\n",
              m->target, (int)m->n, (int)m->m, state_names[m->state]);
    for (int32_t p = 0; p < m->m; p++) {
        sb_printf(&b, "copied.%d=%" PRId64, (int)p, m->copied[p]);
        for (int32_t q = 0; q < m->n; q++) {
            int64_t c = m->counts[(size_t)p * (size_t)m->n + (size_t)q];
            if (c != 0) {
                sb_printf(&b, " %d:%" PRId64, (int)q, c);
            }
        }
        sb_printf(&b, "\n");
    }
    for (int32_t p = 0; m->state >= CRAWLLOG_MIGRATION_REDIRECT && p < m->m;
         p++) {
        sb_printf(&b, "cut.%d=%" PRId64 "\n", (int)p, m->cut[p]);
    }
    for (int32_t q = 0; m->state >= CRAWLLOG_MIGRATION_REDIRECT && q < m->n;
         q++) {
        sb_printf(&b, "start.%d=%" PRId64 "\n", (int)q, m->start[q]);
    }
    int rc;
    if (b.oom) {
        rc = cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    } else if (b.len > CL_METAFILE_MAX - 128) {
        rc = cl_errf(err, CRAWLLOG_ETOOBIG,
                     "%s: %zu bytes: too many partitions for one file", rel,
                     b.len);
    } else {
        rc = cl_metafile_write(dirfd, CL_MIGRATE_NAME, rel, CL_MIGRATE_KIND,
                               b.p, fmode, err);
    }
    cl_io_free(b.p);
    return rc;
}

int cl_migrate_cache_load(int dirfd, const char *topic,
                          struct cl_mig_cache *c, struct cl_err *err)
{
    char rel[CL_MIGRATE_REL_SIZE];
    struct cl_mig m;
    snprintf(rel, sizeof(rel), "topics/%s/%s", topic, CL_MIGRATE_NAME);
    int rc = cl_migrate_file_read(dirfd, rel, &m, err);
    if (rc == CRAWLLOG_ENOENT) {
        err->msg[0] = '\0';
        memset(c, 0, sizeof(*c));
        return 0;
    }
    if (rc == 0) {
        c->state = m.state;
        c->nparts = m.n;
        snprintf(c->target, sizeof(c->target), "%s", m.target);
    }
    cl_migrate_file_free(&m);
    return rc;
}

int32_t cl_migrate_route(const void *key, size_t keylen, int32_t oldp,
                         int32_t n)
{
    return key != NULL ? cl_murmur2_partition(key, keylen, n) : oldp % n;
}
