/*
 * migrate_status.c - the last step of a topic migration and its public
 * view (layer 3, beside groups and committed offsets): which consumer
 * groups have not switched from <old> to <new> yet (step 4 is done by the
 * groups' members, consumer_migrate.c), state=done once none is left
 * (step 5), and crawllog_topic_migration().  See docs/MIGRATION.md.
 *
 * On disk: rewrites topics/<old>/migration (migrate_file.c) once, from
 * state=redirect to state=done, under crawllog.lock; reads every
 * groups/<g>/offsets (offsets.c) without the group locks (a record being
 * written is simply not seen yet).
 *
 * A group is pending when it has a committed offset for some partition of
 * <old> but not one for every partition of <new> (the switch commits them
 * all in one record).  A group that never committed on <old> has nothing
 * to switch; one that subscribes to <old> later goes straight to <new>
 * only after the same switch (its members find <old> fully consumed).
 *
 * Invariants: state=done is written only after a scan in which no group
 * was pending; it is never undone (a group created afterwards that reads
 * <old> from its start still switches by itself; deleting <old> is what
 * step 5 allows).
 *
 * Locks: crawllog.lock (cl_migrate_meta_lock) around the re-read and the
 * rewrite of the migration file; none during the scan.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "group.h"
#include "io.h"
#include "log.h"
#include "migrate.h"
#include "names.h"
#include "offsets.h"
#include "topic.h"
#include "tree.h"

/* Read topics/<topic>/migration: 0 (state 0 in *m if none), or an error. */
static int read_mig(crawllog_t *log, const char *topic, struct cl_mig *m,
                    struct cl_err *err)
{
    char rel[CL_MIGRATE_REL_SIZE];
    int dirfd = -1;
    memset(m, 0, sizeof(*m));
    snprintf(rel, sizeof(rel), "topics/%s/%s", topic, CL_MIGRATE_NAME);
    int rc = cl_topic_open_dir(log->rootfd, topic, &dirfd, err);
    if (rc == 0) {
        rc = cl_migrate_file_read(dirfd, rel, m, err);
        cl_io_close(dirfd);
    }
    if (rc == CRAWLLOG_ENOENT) {
        err->msg[0] = '\0';
        memset(m, 0, sizeof(*m));
        rc = 0;
    }
    return rc;
}

/* 1 if group name committed on old (m's source) without switching. */
static int pending(crawllog_t *log, int groupsfd, const char *name,
                   const char *old, const struct cl_mig *m, int *pendp,
                   struct cl_err *err)
{
    char rel[CL_GROUP_NAME_SIZE + 16];
    struct cl_offsets *o = NULL;
    struct cl_offset_entry e;
    int on_old = 0, all_new = 1;
    *pendp = 0;
    int fd = cl_tree_open_dir(groupsfd, name);
    if (fd == -ENOENT) {
        return 0; /* deleted meanwhile */
    }
    if (fd < 0) {
        snprintf(rel, sizeof(rel), "%s/%s", CL_GROUPS_DIR, name);
        return cl_err_sys(err, -fd, rel, "open");
    }
    snprintf(rel, sizeof(rel), "%s/%s", CL_GROUPS_DIR, name);
    int rc = cl_offsets_open(&o, fd, rel, log->fmode, err);
    cl_io_close(fd);
    if (rc != 0) {
        return rc;
    }
    for (int32_t p = 0; p < m->m && !on_old; p++) {
        on_old = cl_offsets_get(o, old, p, &e);
    }
    for (int32_t q = 0; q < m->n && on_old && all_new; q++) {
        all_new = cl_offsets_get(o, m->target, q, &e);
    }
    cl_offsets_close(o);
    *pendp = on_old && !all_new;
    return 0;
}

/* The groups pending for old's migration m: *countp, and their names in
 * *namesp if namesp is not NULL (cl_io_free each and the array). */
static int scan(crawllog_t *log, const char *old, const struct cl_mig *m,
                char ***namesp, size_t *countp, struct cl_err *err)
{
    char **names = NULL;
    size_t n = 0, keep = 0;
    int rc = 0;
    *countp = 0;
    int gfd = cl_tree_open_dir(log->rootfd, CL_GROUPS_DIR);
    if (gfd == -ENOENT) {
        return 0;
    }
    if (gfd < 0) {
        return cl_err_sys(err, -gfd, CL_GROUPS_DIR, "open");
    }
    if ((rc = cl_io_listdir("migrate.groups", gfd, &names, &n)) != 0) {
        rc = cl_err_sys(err, -rc, CL_GROUPS_DIR, "list");
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        int pend = 0;
        if (rc == 0 && cl_names_topic_valid(names[i])) {
            rc = pending(log, gfd, names[i], old, m, &pend, err);
        }
        if (pend && namesp != NULL) {
            names[keep++] = names[i];
        } else {
            cl_io_free(names[i]);
        }
        *countp += (size_t)pend;
    }
    cl_io_close(gfd);
    if (rc != 0 || namesp == NULL) {
        for (size_t i = 0; i < keep; i++) {
            cl_io_free(names[i]);
        }
        cl_io_free(names);
        names = NULL;
        if (rc != 0) {
            *countp = 0;
        }
    }
    if (namesp != NULL) {
        *namesp = names;
    }
    return rc;
}

int cl_migrate_finish(crawllog_t *log, const char *old, size_t *pendingp,
                      struct cl_err *err)
{
    struct cl_mig m;
    size_t npend = 0;
    int fd = -1;
    if (pendingp != NULL) {
        *pendingp = 0;
    }
    int rc = read_mig(log, old, &m, err);
    if (rc == 0 && m.state == CRAWLLOG_MIGRATION_REDIRECT) {
        rc = scan(log, old, &m, NULL, &npend, err);
    }
    if (rc == 0 && m.state == CRAWLLOG_MIGRATION_REDIRECT && npend == 0 &&
        (rc = cl_migrate_meta_lock(log, &fd, err)) == 0) {
        /* Again under the lock: the file may have changed meanwhile. */
        cl_migrate_file_free(&m);
        rc = read_mig(log, old, &m, err);
        if (rc == 0 && m.state == CRAWLLOG_MIGRATION_REDIRECT) {
            char rel[CL_MIGRATE_REL_SIZE];
            int dirfd = -1;
            snprintf(rel, sizeof(rel), "topics/%s/%s", old, CL_MIGRATE_NAME);
            m.state = CRAWLLOG_MIGRATION_DONE;
            if ((rc = cl_topic_open_dir(log->rootfd, old, &dirfd, err)) == 0) {
                rc = cl_migrate_file_write(dirfd, rel, &m, log->fmode, err);
                cl_io_close(dirfd);
            }
        }
        cl_migrate_meta_unlock(fd);
    }
    cl_migrate_file_free(&m);
    if (pendingp != NULL) {
        *pendingp = npend;
    }
    return rc;
}

/* ---- crawllog_topic_migration ----------------------------------------- */

static int info_fill(const struct cl_mig *m, crawllog_migration_t *info)
{
    info->state = (crawllog_migration_state_t)m->state;
    info->partitions = m->n;
    info->old_partitions = m->m;
    info->target = cl_io_strdup(m->target);
    info->copied = cl_io_calloc((size_t)m->m, sizeof(int64_t));
    info->cut = cl_io_calloc((size_t)m->m, sizeof(int64_t));
    info->start = cl_io_calloc((size_t)m->n, sizeof(int64_t));
    if (!info->target || !info->copied || !info->cut || !info->start) {
        return CRAWLLOG_ENOMEM;
    }
    memcpy(info->copied, m->copied, (size_t)m->m * sizeof(int64_t));
    memcpy(info->cut, m->cut, (size_t)m->m * sizeof(int64_t));
    memcpy(info->start, m->start, (size_t)m->n * sizeof(int64_t));
    for (size_t i = 0; i < (size_t)m->m * (size_t)m->n; i++) {
        info->records_copied += m->counts[i];
    }
    return 0;
}

int crawllog_topic_migration(crawllog_t *log, const char *topic,
                             crawllog_migration_t **infop)
{
    CL_BACKEND(log, topic_migration, log, topic, infop);
    struct cl_err err = {{0}};
    struct cl_mig m;
    if (infop != NULL) {
        *infop = NULL;
    }
    if (log == NULL || infop == NULL) {
        return log ? cl_log_fail(log, cl_errf(&err, CRAWLLOG_EINVAL,
                                              "infop is NULL"), &err)
                   : CRAWLLOG_EINVAL;
    }
    if (topic == NULL || !cl_names_topic_valid(topic)) {
        cl_errf(&err, CRAWLLOG_EINVAL, "invalid topic name");
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    crawllog_migration_t *info = cl_io_calloc(1, sizeof(*info));
    if (info == NULL) {
        cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
        return cl_log_fail(log, CRAWLLOG_ENOMEM, &err);
    }
    int rc = read_mig(log, topic, &m, &err);
    if (rc == 0 && m.state != 0 && info_fill(&m, info) != 0) {
        rc = cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
    }
    if (rc == 0 && m.state == CRAWLLOG_MIGRATION_REDIRECT) {
        rc = scan(log, topic, &m, &info->pending_groups,
                  &info->pending_group_count, &err);
    }
    cl_migrate_file_free(&m);
    if (rc != 0) {
        crawllog_migration_free(info);
        return cl_log_fail(log, rc, &err);
    }
    *infop = info;
    return 0;
}

void crawllog_migration_free(crawllog_migration_t *info)
{
    if (info == NULL) {
        return;
    }
    for (size_t i = 0; i < info->pending_group_count; i++) {
        cl_io_free(info->pending_groups[i]);
    }
    cl_io_free(info->pending_groups);
    cl_io_free(info->target);
    cl_io_free(info->copied);
    cl_io_free(info->cut);
    cl_io_free(info->start);
    cl_io_free(info);
}
