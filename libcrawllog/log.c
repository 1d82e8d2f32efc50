/*
 * log.c - crawllog_t: open/close a data directory, the topic registry, and
 * the public topic calls (append.c has the data path, retention.c
 * crawllog_maintain).
 *
 * On disk, the data directory holds:
 *   crawllog.meta      "crawllog 1" metafile: format version, creation
 *                      time; written once, atomically, at creation
 *   crawllog.lock      flock'd exclusively around topic create, delete and
 *                      add-partitions and the clean-up of staging/ and
 *                      trash/ at open (short critical sections only), and
 *                      by a migration's cut-over (migrate.c)
 *   crawllog.notify    doorbells of waiting consumers, mapped shared
 *                      (notify.c); opened (created) at every open
 *   topics/            one directory per topic (topic.c), each holding one
 *                      directory per partition (partition.c)
 *   staging/, trash/   topics being created or deleted (topic.c)
 *
 * Invariants: every path below the root is reached with openat() and
 * O_NOFOLLOW from a held directory fd, so no symbolic link below the root
 * is followed (the root itself may be one).  Directories are created with
 * log.dir.mode and files with log.file.mode (default 0700 / 0600); a root
 * that is world-writable, or whose parent is world-writable without the
 * sticky bit, is refused, and so is a root owned by another uid unless
 * the modes share it with the group (0770 / 0660).
 *
 * Every topic's migration file (migrate.c) is read when the topic is
 * loaded and cached with it; every partition opened gets append.c's
 * redirect hook, which acts only when the partition's migration word
 * (partition.state) is set, so appends to a topic never migrated pay one
 * atomic load under the lock.
 *
 * Locks: log->lock (mutex) guards the topic list and the error message.
 * Lock order: log->lock, then a partition's lock; appends take only the
 * partition's, so partitions proceed in parallel.  Topic and partition
 * objects are freed only at crawllog_close, so pointers handed out under
 * log->lock stay valid.  No callback runs under any lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "backend.h"
#include "conf.h"
#include "flushset.h"
#include "io.h"
#include "log.h"
#include "metafile.h"
#include "names.h"
#include "prodid.h"
#include "txn.h"
#include "txn_file.h"
#include "record.h"
#include "topic.h"

#define META_NAME "crawllog.meta"
#define META_KIND "crawllog"
#define LOCK_NAME CL_LOG_LOCK_NAME

int cl_log_fail(crawllog_t *log, int rc, const struct cl_err *err)
{
    pthread_mutex_lock(&log->lock);
    cl_err_copy(log->errmsg, sizeof(log->errmsg),
                err->msg[0] ? err->msg : crawllog_strerror(rc));
    pthread_mutex_unlock(&log->lock);
    return rc;
}

const char *crawllog_location(const crawllog_t *log)
{
    CL_BACKEND(log, location, log);
    return log ? log->dir : "";
}

const char *crawllog_errmsg(const crawllog_t *log)
{
    CL_BACKEND(log, errmsg, log);
    return log ? log->errmsg : "";
}

/* ---- the topic registry ------------------------------------------------ */

static void topic_free(struct cl_topic_rt *t)
{
    for (int32_t i = 0; t->parts && i < t->nparts; i++) {
        cl_partition_close(t->parts[i]);
    }
    cl_io_free(t->parts);
    crawllog_conf_destroy(t->conf);
    if (t->dirfd >= 0) {
        cl_io_close(t->dirfd);
    }
    cl_io_free(t->name);
    cl_io_free(t);
}

static void part_conf(crawllog_t *log, struct cl_topic_rt *t)
{
    struct cl_part_conf *c = &t->pconf;
    c->segment_bytes = cl_conf_int(t->conf, CL_CONF_SEGMENT_BYTES);
    c->segment_ms = cl_conf_int(t->conf, CL_CONF_SEGMENT_MS);
    c->retention_ms = cl_conf_int(t->conf, CL_CONF_RETENTION_MS);
    c->retention_bytes = cl_conf_int(t->conf, CL_CONF_RETENTION_BYTES);
    c->index_interval = cl_conf_int(t->conf, CL_CONF_INDEX_INTERVAL_BYTES);
    c->segment_index_bytes =
        cl_conf_int(t->conf, CL_CONF_SEGMENT_INDEX_BYTES);
    c->max_message_bytes = cl_conf_int(t->conf, CL_CONF_MAX_MESSAGE_BYTES);
    c->buffer_bytes = cl_conf_int(log->conf, CL_CONF_LOG_BUFFER_BYTES);
    c->fmode = log->fmode;
}

/* Load a topic's metadata (log->lock held). */
static int topic_load(crawllog_t *log, const char *name,
                      struct cl_topic_rt **tp, struct cl_err *err)
{
    struct cl_topic_meta meta = {0};
    struct cl_topic_rt *t = cl_io_calloc(1, sizeof(*t));
    if (t == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    t->dirfd = -1;
    int rc = CRAWLLOG_ENOMEM;
    if ((t->name = cl_io_strdup(name)) == NULL ||
        (rc = cl_topic_open_dir(log->rootfd, name, &t->dirfd, err)) != 0 ||
        (rc = cl_topic_meta_read(log->rootfd, name, &meta, err)) != 0) {
        if (rc == CRAWLLOG_ENOMEM) {
            cl_errf(err, rc, "out of memory");
        }
        topic_free(t);
        return rc;
    }
    t->nparts = meta.partitions;
    t->conf = meta.conf;
    t->log = log;
    rc = cl_migrate_cache_load(t->dirfd, name, &t->mig, err);
    if (rc != 0) {
        topic_free(t);
        return rc;
    }
    t->parts = cl_io_calloc((size_t)meta.partitions, sizeof(*t->parts));
    if (t->parts == NULL) {
        topic_free(t);
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    part_conf(log, t);
    *tp = t;
    return 0;
}

static struct cl_topic_rt *topic_find(crawllog_t *log, const char *name)
{
    for (struct cl_topic_rt *t = log->topics; t; t = t->next) {
        if (strcmp(t->name, name) == 0) {
            return t;
        }
    }
    return NULL;
}

/* Unlink t from the list into the dead list (log->lock held). */
static void topic_forget_locked(crawllog_t *log, struct cl_topic_rt *t)
{
    for (struct cl_topic_rt **pp = &log->topics; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            t->next = log->dead;
            log->dead = t;
            return;
        }
    }
}

void cl_log_forget(crawllog_t *log, const char *topic)
{
    pthread_mutex_lock(&log->lock);
    struct cl_topic_rt *t = topic_find(log, topic);
    if (t) {
        topic_forget_locked(log, t);
    }
    pthread_mutex_unlock(&log->lock);
    /* Outside log->lock (a partition lock is never taken under it): t is
     * on the dead list now, unchanged until crawllog_close frees it. */
    for (int32_t i = 0; t != NULL && i < t->nparts; i++) {
        cl_partition_release(t->parts[i]);
    }
}

/* Re-read topic.meta after partitions were added (log->lock held). */
static int topic_grow(crawllog_t *log, struct cl_topic_rt *t,
                      struct cl_err *err)
{
    struct cl_topic_meta meta = {0};
    int rc = cl_topic_meta_read(log->rootfd, t->name, &meta, err);
    if (rc != 0) {
        return rc;
    }
    if (meta.partitions > t->nparts) {
        void *p = cl_io_realloc(t->parts,
                                (size_t)meta.partitions * sizeof(*t->parts));
        if (p == NULL) {
            cl_topic_meta_free(&meta);
            return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
        }
        t->parts = p;
        memset(t->parts + t->nparts, 0,
               (size_t)(meta.partitions - t->nparts) * sizeof(*t->parts));
        t->nparts = meta.partitions;
    }
    cl_topic_meta_free(&meta);
    return 0;
}

static int get_topic_locked(crawllog_t *log, const char *name,
                            struct cl_topic_rt **tp, struct cl_err *err)
{
    /* A known topic's name is valid: validate only what is not known. */
    struct cl_topic_rt *t = topic_find(log, name);
    if (t == NULL && !cl_names_topic_valid(name)) {
        return cl_errf(err, CRAWLLOG_EINVAL, "invalid topic name");
    }
    if (t == NULL) {
        int rc = topic_load(log, name, &t, err);
        if (rc != 0) {
            return rc;
        }
        t->next = log->topics;
        log->topics = t;
    }
    *tp = t;
    return 0;
}

/* A topic cut over whose partition lacks the mark (partition.state is not
 * durable: a power loss may have lost it): mark it, so that appends go to
 * the target.  log->lock held. */
static int mark_migrated(struct cl_topic_rt *t, struct cl_partition *part,
                         struct cl_err *err)
{
    if (t->mig.state < CRAWLLOG_MIGRATION_REDIRECT ||
        cl_pstate_migration(&part->ps) == CL_PSTATE_MIG_REDIRECT) {
        return 0;
    }
    int rc = cl_partition_lock(part, err);
    if (rc == 0) {
        cl_pstate_set_migration(&part->ps, CL_PSTATE_MIG_REDIRECT);
        cl_partition_unlock(part);
    }
    return rc;
}

static int open_partition_locked(crawllog_t *log, struct cl_topic_rt *t,
                                 int32_t p, struct cl_err *err)
{
    if (p >= t->nparts) {
        int rc = topic_grow(log, t, err);
        if (rc != 0) {
            return rc;
        }
        if (p >= t->nparts) {
            return cl_errf(err, CRAWLLOG_ENOTOPIC,
                           "topic \"%s\" has %d partitions, no partition %d",
                           t->name, (int)t->nparts, (int)p);
        }
    }
    if (t->parts[p] == NULL) {
        int rc = cl_partition_open(&t->parts[p], t->dirfd, t->name, p,
                                   &t->pconf, log->notify, err);
        if (rc != 0) {
            return rc;
        }
        t->parts[p]->redirect = cl_append_redirect;
        t->parts[p]->redirect_ctx = t;
        return mark_migrated(t, t->parts[p], err);
    }
    return 0;
}

int cl_log_partition(crawllog_t *log, const char *topic, int32_t partition,
                     struct cl_partition **partp, struct cl_err *err)
{
    struct cl_topic_rt *t;
    *partp = NULL;
    if (partition < 0) {
        return cl_errf(err, CRAWLLOG_EINVAL, "negative partition %d",
                       (int)partition);
    }
    pthread_mutex_lock(&log->lock);
    int rc = get_topic_locked(log, topic, &t, err);
    if (rc == 0) {
        rc = open_partition_locked(log, t, partition, err);
    }
    if (rc == 0) {
        *partp = t->parts[partition];
    }
    pthread_mutex_unlock(&log->lock);
    if (rc == CRAWLLOG_ENOTOPIC && err->msg[0] == '\0') {
        cl_errf(err, rc, "no such topic \"%s\"", topic);
    }
    return rc;
}

/* ---- open / close ------------------------------------------------------ */

/* Refuse a world-writable directory, or a parent that is world-writable
 * without the sticky bit (another user could swap our directory).  A data
 * directory owned by another uid is refused too (root's included), unless
 * log.dir.mode and log.file.mode share it with the group: files this
 * process creates would belong to us, and with the default 0700 / 0600
 * the directory's owner could no longer read or write them. */
static int check_dir_perms(const crawllog_t *log, int fd, const char *path,
                           int parent, struct cl_err *err)
{
    struct stat st;
    int rc = cl_io_fstat("log.stat", fd, &st);
    if (rc < 0) {
        return cl_err_sys(err, -rc, path, "fstat");
    }
    if (!S_ISDIR(st.st_mode)) {
        return cl_errf(err, CRAWLLOG_EINVAL, "%s: not a directory", path);
    }
    if ((st.st_mode & S_IWOTH) && (!parent || !(st.st_mode & 01000 /* S_ISVTX, an XSI name */))) {
        return cl_errf(err, CRAWLLOG_EPERM,
                       parent ? "%s: parent directory is world-writable "
                                "without the sticky bit"
                              : "%s: data directory is world-writable",
                       path);
    }
    uid_t me = geteuid(); /* cannot fail */
    if (!parent && st.st_uid != me && ((log->dmode & 070) != 070 ||
                                       (log->fmode & 060) != 060)) {
        return cl_errf(err, CRAWLLOG_EPERM,
                       "%s: data directory is owned by uid %ld, not by this "
                       "process (uid %ld): run as its owner, or share it "
                       "with log.dir.mode=0770 and log.file.mode=0660",
                       path, (long)st.st_uid, (long)me);
    }
    return 0;
}

static void split_path(const char *dir, char *parent, size_t psize,
                       const char **basep)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') {
        len--;
    }
    size_t slash = len;
    while (slash > 0 && dir[slash - 1] != '/') {
        slash--;
    }
    if (slash == 0) {
        snprintf(parent, psize, ".");
    } else {
        snprintf(parent, psize, "%.*s", (int)(slash > 1 ? slash - 1 : 1),
                 dir);
    }
    *basep = dir + slash;
}

static int open_root(crawllog_t *log, const char *dir, struct cl_err *err)
{
    char parent[4096], base[256];
    const char *b;
    split_path(dir, parent, sizeof(parent), &b);
    snprintf(base, sizeof(base), "%.*s", (int)strcspn(b, "/"), b);
    int pfd = cl_io_open("log.open", parent, O_RDONLY | O_DIRECTORY, 0);
    if (pfd < 0) {
        return cl_err_sys(err, -pfd, parent, "open parent directory");
    }
    int rc = check_dir_perms(log, pfd, parent, 1, err);
    if (rc == 0 && cl_conf_int(log->conf, CL_CONF_LOG_DIR_CREATE) &&
        base[0] != '\0') {
        rc = cl_io_mkdirat("log.mkdir", pfd, base, (mode_t)log->dmode);
        if (rc == 0) {
            rc = cl_io_fsync("log.mkdir.dirsync", pfd);
            rc = rc < 0 ? cl_err_sys(err, -rc, parent, "fsync") : 0;
        } else if (rc == -EEXIST) {
            rc = 0;
        } else {
            rc = cl_err_sys(err, -rc, dir, "mkdir");
        }
    }
    cl_io_close(pfd);
    if (rc != 0) {
        return rc;
    }
    log->rootfd = cl_io_open("log.open", dir, O_RDONLY | O_DIRECTORY, 0);
    if (log->rootfd < 0) {
        rc = log->rootfd;
        log->rootfd = -1;
        return cl_err_sys(err, -rc, dir, "open");
    }
    return check_dir_perms(log, log->rootfd, dir, 0, err);
}

static int meta_lock(crawllog_t *log, struct cl_err *err)
{
    int rc = cl_io_lock("log.lock", log->lockfd, 1, 1);
    return rc < 0 ? cl_err_sys(err, -rc, LOCK_NAME, "flock") : 0;
}

static void meta_unlock(crawllog_t *log)
{
    cl_io_unlock(log->lockfd);
}

/* Create or check crawllog.meta, and clean up after crashed processes. */
static int init_root(crawllog_t *log, struct cl_err *err)
{
    char *body = NULL, text[96];
    log->lockfd = cl_io_openat("log.lock.open", log->rootfd, LOCK_NAME,
                               O_RDWR | O_CREAT, (mode_t)log->fmode);
    if (log->lockfd < 0) {
        int e = -log->lockfd;
        log->lockfd = -1;
        return cl_err_sys(err, e, LOCK_NAME, "open");
    }
    int rc = meta_lock(log, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_metafile_read(log->rootfd, META_NAME, META_NAME, META_KIND, &body,
                          err);
    if (rc == CRAWLLOG_ENOENT) {
        snprintf(text, sizeof(text), "created.ms=%" PRId64 "\n",
                 cl_io_now_ms());
        err->msg[0] = '\0';
        rc = cl_metafile_write(log->rootfd, META_NAME, META_NAME, META_KIND,
                               text, log->fmode, err);
    }
    cl_io_free(body);
    if (rc == 0) {
        rc = cl_metafile_cleanup_tmp(log->rootfd, err);
    }
    if (rc == 0) {
        rc = cl_topic_cleanup(log->rootfd, err);
    }
    if (rc == 0) {
        /* Best effort: a leftover is harmless, and an unusable producers/
         * (e.g. a symlink) is refused when a named producer needs it. */
        struct cl_err ignored = {{0}};
        (void)cl_prodid_cleanup(log->rootfd, &ignored);
        (void)cl_txn_file_cleanup(log->rootfd, &ignored);
    }
    meta_unlock(log);
    return rc;
}

/* Open and recover every partition of every topic. */
static int recover_all(crawllog_t *log, struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0;
    int rc = cl_topic_list(log->rootfd, &names, &count, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        struct cl_topic_rt *t;
        pthread_mutex_lock(&log->lock);
        rc = get_topic_locked(log, names[i], &t, err);
        for (int32_t p = 0; rc == 0 && p < t->nparts; p++) {
            rc = open_partition_locked(log, t, p, err);
        }
        pthread_mutex_unlock(&log->lock);
        if (rc == CRAWLLOG_ENOTOPIC) {
            rc = 0; /* deleted meanwhile by another process */
        }
    }
    if (names != NULL) {
        cl_io_listdir_free(names, count);
    }
    return rc;
}

/* crawllog_open of a Kafka location (backend.h). */
static int open_kafka(crawllog_t **logp, const char *dir,
                      const crawllog_conf_t *conf, char *errstr,
                      size_t errstr_size)
{
    if (cl_backend_kafka == NULL) {
        struct cl_err err;
        cl_errf(&err, CRAWLLOG_ENOTSUP,
                "crawllog_open: %.128s: this libcrawllog was built without "
                "the Kafka backend (build it with `make kafka`, link "
                "-lrdkafka)",
                dir != NULL ? dir : "backend=kafka");
        cl_err_copy(errstr, errstr_size, err.msg);
        return CRAWLLOG_ENOTSUP;
    }
    return cl_backend_kafka->open(logp, dir, conf, errstr, errstr_size);
}

int crawllog_open(crawllog_t **logp, const char *dir,
                  const crawllog_conf_t *conf, char *errstr,
                  size_t errstr_size)
{
    struct cl_err err = {{0}};
    int rc;
    if (logp) {
        *logp = NULL;
    }
    if (cl_backend_is_kafka(dir, conf)) {
        return open_kafka(logp, dir, conf, errstr, errstr_size);
    }
    if (logp == NULL || dir == NULL || dir[0] == '\0') {
        cl_err_copy(errstr, errstr_size, "crawllog_open: logp and dir needed");
        return CRAWLLOG_EINVAL;
    }
    crawllog_t *log = cl_io_calloc(1, sizeof(*log));
    if (log == NULL) {
        cl_err_copy(errstr, errstr_size, "out of memory");
        return CRAWLLOG_ENOMEM;
    }
    pthread_mutex_init(&log->lock, NULL);
    cl_flushpool_init(&log->flushpool);
    log->rootfd = -1;
    log->lockfd = -1;
    if (conf) {
        rc = crawllog_conf_dup(&log->conf, conf);
    } else {
        rc = crawllog_conf_new(&log->conf);
    }
    if (rc != 0 || (log->dir = cl_io_strdup(dir)) == NULL) {
        cl_errf(&err, rc = CRAWLLOG_ENOMEM, "out of memory");
        goto fail;
    }
    log->dmode = (unsigned)cl_conf_int(log->conf, CL_CONF_LOG_DIR_MODE);
    log->fmode = (unsigned)cl_conf_int(log->conf, CL_CONF_LOG_FILE_MODE);
    if ((rc = open_root(log, dir, &err)) != 0 ||
        (rc = init_root(log, &err)) != 0 ||
        (rc = cl_notify_open(&log->notify, log->rootfd, log->fmode,
                             &err)) != 0 ||
        (rc = recover_all(log, &err)) != 0) {
        goto fail;
    }
    /* Last, with the handle complete: finish the transactions whose
     * producer died or timed out (txn_recover.c; the one call from this
     * layer up, best effort: a reader that waits behind one retries). */
    struct cl_err ignored = {{0}};
    (void)cl_txn_recover_stale(log, NULL, &ignored);
    *logp = log;
    return 0;
fail:
    cl_err_copy(errstr, errstr_size, err.msg[0] ? err.msg
                                                : crawllog_strerror(rc));
    crawllog_close(log);
    return rc;
}

int crawllog_close(crawllog_t *log)
{
    CL_BACKEND(log, close, log);
    if (log == NULL) {
        return 0;
    }
    int rc = log->rootfd >= 0 ? crawllog_flush(log, CRAWLLOG_SYNC_WRITTEN) : 0;
    cl_flushpool_destroy(&log->flushpool); /* before the partitions go */
    while (log->topics) {
        struct cl_topic_rt *t = log->topics;
        log->topics = t->next;
        topic_free(t);
    }
    while (log->dead) {
        struct cl_topic_rt *t = log->dead;
        log->dead = t->next;
        topic_free(t);
    }
    cl_notify_close(log->notify); /* after the partitions that ring it */
    if (log->lockfd >= 0) {
        cl_io_close(log->lockfd);
    }
    if (log->rootfd >= 0) {
        cl_io_close(log->rootfd);
    }
    crawllog_conf_destroy(log->conf);
    cl_io_free(log->dir);
    pthread_mutex_destroy(&log->lock);
    cl_io_free(log);
    return rc;
}

/* ---- topics ------------------------------------------------------------ */

int crawllog_topic_create(crawllog_t *log, const char *topic,
                          int32_t partitions,
                          const crawllog_conf_t *topic_conf)
{
    CL_BACKEND(log, topic_create, log, topic, partitions, topic_conf);
    struct cl_err err = {{0}};
    crawllog_conf_t *eff = NULL;
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || !cl_names_topic_valid(topic)) {
        cl_errf(&err, CRAWLLOG_EINVAL,
                "invalid topic name: [A-Za-z0-9._-]{1,249}, not . or ..");
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    if (partitions < 1 || partitions > CRAWLLOG_PARTITIONS_MAX) {
        cl_errf(&err, CRAWLLOG_EINVAL, "partitions: %d is not in 1..%d",
                (int)partitions, CRAWLLOG_PARTITIONS_MAX);
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    int rc = topic_conf ? cl_conf_check_topic_only(topic_conf, err.msg,
                                                   sizeof(err.msg))
                        : 0;
    if (rc == 0) {
        rc = cl_conf_merge_topic(&eff, log->conf, topic_conf);
        if (rc != 0) {
            cl_errf(&err, rc, "out of memory");
        }
    }
    if (rc == 0 && (rc = meta_lock(log, &err)) == 0) {
        rc = cl_topic_create(log->rootfd, topic, partitions, eff, log->dmode,
                             log->fmode, &err);
        meta_unlock(log);
    }
    crawllog_conf_destroy(eff);
    if (rc == 0) {
        cl_log_forget(log, topic); /* a stale entry of an older topic */
    }
    return rc ? cl_log_fail(log, rc, &err) : 0;
}

int crawllog_topic_delete(crawllog_t *log, const char *topic)
{
    return crawllog_topic_delete_flags(log, topic, 0);
}

/* With crawllog.lock held: CRAWLLOG_EBUSY if topic's migration is not
 * done. */
static int check_migrating(crawllog_t *log, const char *topic,
                           struct cl_err *err)
{
    struct cl_topic_rt *t;
    struct cl_mig_cache c = {0};
    pthread_mutex_lock(&log->lock);
    int rc = get_topic_locked(log, topic, &t, err);
    if (rc == 0 && (rc = cl_migrate_cache_load(t->dirfd, t->name, &t->mig,
                                               err)) == 0) {
        c = t->mig;
    }
    pthread_mutex_unlock(&log->lock);
    if (rc == 0 && (c.state == CRAWLLOG_MIGRATION_COPYING ||
                    c.state == CRAWLLOG_MIGRATION_REDIRECT)) {
        rc = cl_errf(err, CRAWLLOG_EBUSY,
                     "topic %s is being migrated to %s (%s): not every "
                     "consumer group has switched; see crawllog topics "
                     "migration %s, or force the deletion",
                     topic, c.target,
                     c.state == CRAWLLOG_MIGRATION_COPYING ? "copying"
                                                           : "redirect",
                     topic);
    }
    return rc;
}

int crawllog_topic_delete_flags(crawllog_t *log, const char *topic,
                                unsigned flags)
{
    CL_BACKEND(log, topic_delete_flags, log, topic, flags);
    struct cl_err err = {{0}};
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || !cl_names_topic_valid(topic) ||
        (flags & ~CRAWLLOG_DELETE_FORCE) != 0) {
        cl_errf(&err, CRAWLLOG_EINVAL, topic == NULL ||
                                               !cl_names_topic_valid(topic)
                                           ? "invalid topic name"
                                           : "unknown flags");
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    int rc = meta_lock(log, &err);
    if (rc == 0) {
        if (!(flags & CRAWLLOG_DELETE_FORCE)) {
            rc = check_migrating(log, topic, &err);
        }
        if (rc == 0) {
            rc = cl_topic_delete(log->rootfd, topic, &err);
        }
        meta_unlock(log);
    }
    cl_log_forget(log, topic);
    return rc ? cl_log_fail(log, rc, &err) : 0;
}

int crawllog_topic_add_partitions(crawllog_t *log, const char *topic,
                                  int32_t total)
{
    CL_BACKEND(log, topic_add_partitions, log, topic, total);
    struct cl_err err = {{0}};
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || !cl_names_topic_valid(topic) || total < 1 ||
        total > CRAWLLOG_PARTITIONS_MAX) {
        cl_errf(&err, CRAWLLOG_EINVAL, "invalid topic name or count");
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    int rc = meta_lock(log, &err);
    if (rc == 0) {
        rc = cl_topic_add_partitions(log->rootfd, topic, total, log->dmode,
                                     log->fmode, &err);
        meta_unlock(log);
    }
    return rc ? cl_log_fail(log, rc, &err) : 0;
}

int crawllog_topic_list(crawllog_t *log, char ***namesp, size_t *countp)
{
    CL_BACKEND(log, topic_list, log, namesp, countp);
    struct cl_err err = {{0}};
    if (namesp) {
        *namesp = NULL;
    }
    if (countp) {
        *countp = 0;
    }
    if (log == NULL || namesp == NULL || countp == NULL) {
        return log ? cl_log_fail(log, cl_errf(&err, CRAWLLOG_EINVAL,
                                              "namesp and countp needed"),
                                 &err)
                   : CRAWLLOG_EINVAL;
    }
    int rc = cl_topic_list(log->rootfd, namesp, countp, &err);
    return rc ? cl_log_fail(log, rc, &err) : 0;
}

void crawllog_topic_list_free(char **names, size_t count)
{
    cl_io_listdir_free(names, count);
}

int crawllog_topic_describe(crawllog_t *log, const char *topic,
                            int32_t *partitionsp, crawllog_conf_t **confp)
{
    CL_BACKEND(log, topic_describe, log, topic, partitionsp, confp);
    struct cl_err err = {{0}};
    struct cl_topic_meta meta = {0};
    if (partitionsp) {
        *partitionsp = -1;
    }
    if (confp) {
        *confp = NULL;
    }
    if (log == NULL || topic == NULL) {
        return log ? cl_log_fail(log, cl_errf(&err, CRAWLLOG_EINVAL,
                                              "topic is NULL"), &err)
                   : CRAWLLOG_EINVAL;
    }
    if (!cl_names_topic_valid(topic)) {
        cl_errf(&err, CRAWLLOG_EINVAL, "invalid topic name");
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    int rc = cl_topic_meta_read(log->rootfd, topic, &meta, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    if (partitionsp) {
        *partitionsp = meta.partitions;
    }
    if (confp) {
        *confp = meta.conf;
        meta.conf = NULL;
    }
    cl_topic_meta_free(&meta);
    return 0;
}

/* ---- helpers for the data-path modules --------------------------------- */

struct cl_notify *cl_log_notify(crawllog_t *log)
{
    return log->notify;
}

/* Run fn on a partition; if the topic turns out to have been deleted (and
 * maybe re-created) by another process, forget it and try once more. */
int cl_log_with_partition(crawllog_t *log, const char *topic, int32_t p,
                          cl_part_op_fn *fn, void *arg, struct cl_err *err)
{
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct cl_partition *part = NULL;
        rc = cl_log_partition(log, topic, p, &part, err);
        if (rc == 0) {
            rc = fn(part, arg, err);
        }
        if (rc != CRAWLLOG_ENOTOPIC || part == NULL) {
            break;
        }
        cl_log_forget(log, topic);
        err->msg[0] = '\0';
    }
    return rc;
}

int cl_log_topic_partitions(crawllog_t *log, const char *topic,
                            int32_t *np, struct cl_err *err)
{
    struct cl_topic_rt *t;
    pthread_mutex_lock(&log->lock);
    int rc = get_topic_locked(log, topic, &t, err);
    *np = rc == 0 ? t->nparts : 0;
    pthread_mutex_unlock(&log->lock);
    return rc;
}

/* The open partitions of every known topic (log->lock held). */
static int open_partitions_locked(crawllog_t *log, struct cl_partition ***pp,
                                  size_t *np)
{
    size_t n = 0, k = 0;
    for (struct cl_topic_rt *t = log->topics; t; t = t->next) {
        n += (size_t)t->nparts;
    }
    struct cl_partition **parts = cl_io_calloc(n ? n : 1, sizeof(*parts));
    if (parts == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    for (struct cl_topic_rt *t = log->topics; t; t = t->next) {
        for (int32_t p = 0; p < t->nparts; p++) {
            if (t->parts[p]) {
                parts[k++] = t->parts[p];
            }
        }
    }
    *pp = parts;
    *np = k;
    return 0;
}

int cl_log_flush_parts(crawllog_t *log, struct cl_partition **parts,
                       size_t n, int sync, struct cl_err *err)
{
    return cl_flushset_run(
        &log->flushpool, parts, n, sync,
        (int)cl_conf_int(log->conf, CL_CONF_LOG_FLUSH_PARALLELISM), err);
}

int cl_log_open_partitions(crawllog_t *log, struct cl_partition ***pp,
                           size_t *np)
{
    pthread_mutex_lock(&log->lock);
    int rc = open_partitions_locked(log, pp, np);
    pthread_mutex_unlock(&log->lock);
    return rc;
}

/* ---- migration --------------------------------------------------------- */

int cl_log_migration(crawllog_t *log, const char *topic, int reload,
                     struct cl_mig_cache *c, struct cl_err *err)
{
    struct cl_topic_rt *t;
    pthread_mutex_lock(&log->lock);
    int rc = get_topic_locked(log, topic, &t, err);
    if (rc == 0 && reload) {
        rc = cl_migrate_cache_load(t->dirfd, t->name, &t->mig, err);
    }
    if (rc == 0) {
        *c = t->mig;
    }
    pthread_mutex_unlock(&log->lock);
    return rc;
}

int cl_log_topic_flush(crawllog_t *log, const char *topic, int sync,
                       struct cl_err *err)
{
    struct cl_topic_rt *t;
    struct cl_partition **parts = NULL;
    int32_t n = 0;
    pthread_mutex_lock(&log->lock);
    int rc = get_topic_locked(log, topic, &t, err);
    if (rc == 0) {
        parts = cl_io_calloc((size_t)t->nparts, sizeof(*parts));
        rc = parts == NULL ? cl_errf(err, CRAWLLOG_ENOMEM, "out of memory")
                           : 0;
    }
    for (int32_t p = 0; rc == 0 && p < t->nparts; p++) {
        if (t->parts[p] != NULL) {
            parts[n++] = t->parts[p];
        }
    }
    pthread_mutex_unlock(&log->lock);
    /* Partition objects live until close: no lock needed now. */
    if (rc == 0) {
        rc = cl_log_flush_parts(log, parts, (size_t)n, sync, err);
    }
    cl_io_free(parts);
    return rc;
}
