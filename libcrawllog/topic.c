/*
 * topic.c - topics on disk (layer 2).
 *
 * Purpose: a topic is a directory holding its metadata file and one
 * directory per partition.  This module creates topics atomically, deletes
 * them, raises their partition count, lists them, reads their metadata and
 * runs the start-up clean-up.  How a whole tree is built in staging/ and
 * published, retired through trash/ and removed, and how crash leftovers
 * in staging/ and trash/ are found, is tree.c's; what is inside a partition
 * directory belongs to partition.c.
 *
 * Data directory layout (<root> is the data directory; rootfd its fd):
 *
 *     <root>/crawllog.meta                  root metadata (log.c)
 *     <root>/crawllog.lock                  flock'd for metadata changes
 *                                           (log.c)
 *     <root>/topics/<topic>/topic.meta      topic metadata (this module)
 *     <root>/topics/<topic>/<partition>/    "0".."9999": created empty here,
 *                                           filled by partition.c
 *     <root>/staging/, <root>/trash/        a topic being created / deleted
 *                                           (tree.c)
 *
 * topic.meta is a metafile (metafile.c) of kind "crawllog-topic" whose body
 * is "partitions=<N>\n" followed by the effective topic-scope properties
 * ("segment.bytes=...\n" ..., from cl_conf_topic_serialize).
 *
 * Invariants:
 *  - A directory under topics/ is a complete topic: topic.meta is readable
 *    and partition dirs 0..N-1 exist.  Creation fills a fresh staging dir
 *    (every file and dir fsynced here), then tree.c renames it into topics/
 *    and fsyncs topics/, so a crash leaves the topic whole or absent.
 *  - Deletion first renames topics/<name> into trash/ and fsyncs both
 *    dirs (tree.c), so the topic disappears at once; only then is the tree
 *    removed.
 *  - add_partitions creates (and fsyncs) the new partition dirs before
 *    rewriting topic.meta, so every partition the metadata names exists.
 *    A crash in between leaves empty extra dirs, which the next
 *    add_partitions reuses.
 *  - Nothing is reached through a symbolic link: every directory is opened
 *    with cl_tree_open_dir (O_DIRECTORY|O_NOFOLLOW) relative to an fd
 *    already held.
 *  - Leftovers (staging/ entries of dead processes, everything in trash/,
 *    stale topic.meta tmp files) are removed by cl_topic_cleanup: the first
 *    two by cl_tree_clean_leftovers, the tmp files here.
 *
 * Locks: none taken here.  create, delete, add_partitions and cleanup must
 * be serialized by the caller (log.c holds crawllog.lock); list, meta_read
 * and open_dir may run concurrently with them and see either state.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "io.h"
#include "metafile.h"
#include "names.h"
#include "topic.h"
#include "tree.h"

/* Room for a relative path with a topic name in it. */
#define REL_SIZE 320

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */
/* ---------------------------------------------------------------------- */

static int check_name(const char *name, struct cl_err *err)
{
    if (!cl_names_topic_valid(name)) {
        return cl_errf(err, CRAWLLOG_EINVAL, "invalid topic name \"%.*s\"", 64,
                       name != NULL ? name : "(null)");
    }
    return 0;
}

static int no_topic(const char *name, struct cl_err *err)
{
    return cl_errf(err, CRAWLLOG_ENOTOPIC, "topic \"%s\" does not exist", name);
}

/* fsync an existing directory dirfd/name. */
static int sync_dir_at(int dirfd, const char *name, const char *rel,
                       struct cl_err *err)
{
    int fd = cl_tree_open_dir(dirfd, name), rc;

    if (fd < 0) {
        return cl_err_sys(err, -fd, rel, "open");
    }
    rc = cl_io_fsync("topic.fsync", fd);
    cl_io_close(fd);
    return rc != 0 ? cl_err_sys(err, -rc, rel, "fsync") : 0;
}

static void close_fd(int fd)
{
    if (fd >= 0) {
        cl_io_close(fd);
    }
}

/* ---------------------------------------------------------------------- */
/* Metadata                                                                */
/* ---------------------------------------------------------------------- */

/* "partitions=N\n" + the serialized conf, malloc'd. */
static int build_body(int32_t partitions, const crawllog_conf_t *conf,
                      char **bodyp, struct cl_err *err)
{
    char *text = NULL, *body;
    size_t tlen, blen;
    int rc = cl_conf_topic_serialize(conf, &text);

    *bodyp = NULL;
    if (rc != 0) {
        return cl_errf(err, rc, "serialize topic configuration: %s",
                       crawllog_strerror(rc));
    }
    tlen = strlen(text);
    blen = 32 + tlen;
    body = cl_io_malloc(blen);
    if (body == NULL) {
        cl_io_free(text);
        return cl_errf(err, CRAWLLOG_ENOMEM, "topic metadata: out of memory");
    }
    snprintf(body, blen, "partitions=%ld\n%s%s", (long)partitions, text,
             tlen > 0 && text[tlen - 1] != '\n' ? "\n" : "");
    cl_io_free(text);
    *bodyp = body;
    return 0;
}

/* Parse a verified topic.meta body ("partitions=N\n" first, then conf
 * lines) into meta. */
static int parse_body(const char *body, const char *rel,
                      struct cl_topic_meta *meta, struct cl_err *err)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    const char *rest = strchr(body, '\n');
    int64_t n = 0;
    int rc;

    if (rest == NULL || strncmp(body, "partitions=", 11) != 0 ||
        cl_metafile_get_int(body, "partitions", &n) != 0 || n < 1 ||
        n > CRAWLLOG_PARTITIONS_MAX) {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: missing or bad partitions count", rel);
    }
    rest++;
    rc = crawllog_conf_new(&meta->conf);
    if (rc == 0) {
        rc = cl_conf_topic_parse(meta->conf, rest, strlen(rest), errstr,
                                 sizeof errstr);
    }
    if (rc != 0) {
        crawllog_conf_destroy(meta->conf);
        meta->conf = NULL;
        return cl_errf(err, rc, "%s: %s", rel,
                       errstr[0] != '\0' ? errstr : crawllog_strerror(rc));
    }
    meta->partitions = (int32_t)n;
    return 0;
}

/* After topic.meta went missing: 1 if tfd is no longer topics/<name> (a
 * delete raced with us), else 0. */
static int topic_gone(int topicsfd, int tfd, const char *name)
{
    struct stat a, b;

    if (cl_io_fstat("topic.stat", tfd, &a) != 0 ||
        cl_io_fstatat("topic.stat", topicsfd, name, &b) != 0) {
        return 1;
    }
    return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

/* Read topic.meta of the open topic dir tfd (topics/<name>). */
static int read_meta_at(int topicsfd, int tfd, const char *name,
                        struct cl_topic_meta *meta, struct cl_err *err)
{
    char rel[REL_SIZE];
    char *body = NULL;
    int rc;

    snprintf(rel, sizeof rel, "topics/%s/" CL_TOPIC_META_NAME, name);
    rc = cl_metafile_read(tfd, CL_TOPIC_META_NAME, rel, CL_TOPIC_META_KIND,
                          &body, err);
    if (rc == 0) {
        rc = parse_body(body, rel, meta, err);
    } else if (rc == CRAWLLOG_ENOENT) {
        rc = topic_gone(topicsfd, tfd, name)
                 ? no_topic(name, err)
                 : cl_errf(err, CRAWLLOG_ECORRUPT, "%s: missing", rel);
    }
    cl_io_free(body);
    return rc;
}

/* Open topics/ (*topicsp) and topics/<name> (*fdp). */
static int open_topic(int rootfd, const char *name, int *topicsp, int *fdp,
                      struct cl_err *err)
{
    char rel[REL_SIZE];
    int fd;

    *topicsp = *fdp = -1;
    fd = cl_tree_open_dir(rootfd, "topics");
    if (fd == -ENOENT) {
        return no_topic(name, err);
    }
    if (fd < 0) {
        return cl_err_sys(err, -fd, "topics", "open");
    }
    *topicsp = fd;
    fd = cl_tree_open_dir(*topicsp, name);
    if (fd == -ENOENT || fd == -ENOTDIR) {
        return no_topic(name, err);
    }
    if (fd < 0) {
        snprintf(rel, sizeof rel, "topics/%s", name);
        return cl_err_sys(err, -fd, rel, "open");
    }
    *fdp = fd;
    return 0;
}

int cl_topic_open_dir(int rootfd, const char *name, int *fdp,
                      struct cl_err *err)
{
    int topicsfd, rc;

    *fdp = -1;
    rc = check_name(name, err);
    if (rc == 0) {
        rc = open_topic(rootfd, name, &topicsfd, fdp, err);
        close_fd(topicsfd);
    }
    return rc;
}

int cl_topic_meta_read(int rootfd, const char *name, struct cl_topic_meta *meta,
                       struct cl_err *err)
{
    int topicsfd = -1, tfd = -1, rc;

    memset(meta, 0, sizeof *meta);
    rc = check_name(name, err);
    if (rc == 0) {
        rc = open_topic(rootfd, name, &topicsfd, &tfd, err);
    }
    if (rc == 0) {
        rc = read_meta_at(topicsfd, tfd, name, meta, err);
    }
    close_fd(tfd);
    close_fd(topicsfd);
    return rc;
}

void cl_topic_meta_free(struct cl_topic_meta *meta)
{
    if (meta != NULL) {
        crawllog_conf_destroy(meta->conf);
        meta->conf = NULL;
        meta->partitions = 0;
    }
}

/* ---------------------------------------------------------------------- */
/* Create                                                                  */
/* ---------------------------------------------------------------------- */

/* With reuse: accept the existing entry dirfd/pname if it is an empty
 * directory (a leftover of an interrupted add_partitions). */
static int reuse_partition(int dirfd, const char *pname, const char *prel,
                           struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0;
    int fd = cl_tree_open_dir(dirfd, pname), rc;

    if (fd < 0) {
        return cl_err_sys(err, -fd, prel, "open");
    }
    rc = cl_io_listdir("topic.list", fd, &names, &count);
    cl_io_close(fd);
    cl_io_listdir_free(names, count);
    if (rc != 0) {
        return cl_err_sys(err, -rc, prel, "list");
    }
    if (count > 0) {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: leftover partition directory is not empty", prel);
    }
    return 0;
}

/* mkdir dirfd/<p> for p in [from, to) and fsync each; with reuse, an
 * existing empty directory is accepted.  rel is the dir's relative path. */
static int make_partitions(int dirfd, const char *rel, int32_t from, int32_t to,
                           unsigned dmode, int reuse, struct cl_err *err)
{
    char pname[16], prel[REL_SIZE + 16];

    for (int32_t p = from; p < to; p++) {
        int rc;
        if (cl_names_partition(pname, sizeof pname, p) != 0) {
            return cl_errf(err, CRAWLLOG_EINVAL, "%s: bad partition %ld", rel,
                           (long)p);
        }
        snprintf(prel, sizeof prel, "%s/%s", rel, pname);
        rc = cl_io_mkdirat("topic.mkdir", dirfd, pname, (mode_t)dmode);
        if (rc == -EEXIST && reuse) {
            rc = reuse_partition(dirfd, pname, prel, err);
            if (rc != 0) {
                return rc;
            }
        } else if (rc != 0) {
            return cl_err_sys(err, -rc, prel, "mkdir");
        }
        rc = sync_dir_at(dirfd, pname, prel, err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Fill the staging dir stagefd/sname: topic.meta, partition dirs, fsync. */
static int fill_staging(int stagefd, const char *sname, int32_t partitions,
                        const char *body, unsigned dmode, unsigned fmode,
                        struct cl_err *err)
{
    char rel[REL_SIZE], mrel[REL_SIZE + 16];
    int fd = cl_tree_open_dir(stagefd, sname), rc;

    snprintf(rel, sizeof rel, "staging/%s", sname);
    if (fd < 0) {
        return cl_err_sys(err, -fd, rel, "open");
    }
    snprintf(mrel, sizeof mrel, "%s/" CL_TOPIC_META_NAME, rel);
    rc = cl_metafile_write(fd, CL_TOPIC_META_NAME, mrel, CL_TOPIC_META_KIND,
                           body, fmode, err);
    if (rc == 0) {
        rc = make_partitions(fd, rel, 0, partitions, dmode, 0, err);
    }
    if (rc == 0) {
        rc = cl_io_fsync("topic.fsync", fd);
        if (rc != 0) {
            rc = cl_err_sys(err, -rc, rel, "fsync");
        }
    }
    cl_io_close(fd);
    return rc;
}

int cl_topic_create(int rootfd, const char *name, int32_t partitions,
                    const crawllog_conf_t *conf, unsigned dmode, unsigned fmode,
                    struct cl_err *err)
{
    struct cl_tree_stage st = CL_TREE_STAGE_INIT;
    char *body = NULL;
    int rc = check_name(name, err);

    if (rc != 0) {
        return rc;
    }
    if (partitions < 1 || partitions > CRAWLLOG_PARTITIONS_MAX ||
        conf == NULL) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "topic \"%s\": partition count %ld not in 1..%d", name,
                       (long)partitions, CRAWLLOG_PARTITIONS_MAX);
    }
    rc = build_body(partitions, conf, &body, err);
    if (rc == 0) {
        rc = cl_tree_stage_begin(rootfd, dmode, &st, err);
    }
    if (rc == 0) {
        rc = fill_staging(st.stagefd, st.name, partitions, body, dmode, fmode,
                          err);
    }
    if (rc == 0) {
        rc = cl_tree_stage_publish(rootfd, &st, "topics", name, "topic", dmode,
                                   err);
    }
    cl_tree_stage_end(&st); /* removes the staging dir unless published */
    cl_io_free(body);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Delete                                                                  */
/* ---------------------------------------------------------------------- */

/* Check that topics/<name> is a real directory; mode of topics/ to *modep. */
static int check_victim(int topicsfd, const char *name, unsigned *modep,
                        struct cl_err *err)
{
    struct stat st;
    int rc = cl_io_fstat("topic.stat", topicsfd, &st);

    if (rc != 0) {
        return cl_err_sys(err, -rc, "topics", "fstat");
    }
    *modep = (unsigned)(st.st_mode & 07777);
    rc = cl_io_fstatat("topic.stat", topicsfd, name, &st);
    if (rc == -ENOENT ||
        (rc == 0 && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))) {
        return no_topic(name, err);
    }
    if (rc == 0 && S_ISLNK(st.st_mode)) {
        return cl_errf(err, CRAWLLOG_ELOOP, "topics/%s: symbolic link refused",
                       name);
    }
    return rc != 0 ? cl_err_sys(err, -rc, "topics", "fstatat") : 0;
}

int cl_topic_delete(int rootfd, const char *name, struct cl_err *err)
{
    unsigned mode = 0700;
    int topicsfd = -1, rc = check_name(name, err);

    if (rc != 0) {
        return rc;
    }
    topicsfd = cl_tree_open_dir(rootfd, "topics");
    if (topicsfd < 0) {
        return topicsfd == -ENOENT
                   ? no_topic(name, err)
                   : cl_err_sys(err, -topicsfd, "topics", "open");
    }
    rc = check_victim(topicsfd, name, &mode, err);
    if (rc == 0) {
        /* trash/ gets the mode of topics/. */
        rc = cl_tree_trash(rootfd, topicsfd, "topics", name, mode, err);
        if (rc == 1) {
            rc = no_topic(name, err); /* vanished before the rename */
        }
    }
    close_fd(topicsfd);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Add partitions                                                          */
/* ---------------------------------------------------------------------- */

int cl_topic_add_partitions(int rootfd, const char *name, int32_t total,
                            unsigned dmode, unsigned fmode, struct cl_err *err)
{
    struct cl_topic_meta meta = {0, NULL};
    char rel[REL_SIZE], mrel[REL_SIZE + 16];
    char *body = NULL;
    int topicsfd = -1, tfd = -1, rc = check_name(name, err);

    if (rc == 0 && (total < 1 || total > CRAWLLOG_PARTITIONS_MAX)) {
        rc = cl_errf(err, CRAWLLOG_EINVAL,
                     "topic \"%s\": partition count %ld not in 1..%d", name,
                     (long)total, CRAWLLOG_PARTITIONS_MAX);
    }
    if (rc == 0) {
        rc = open_topic(rootfd, name, &topicsfd, &tfd, err);
    }
    if (rc == 0) {
        rc = read_meta_at(topicsfd, tfd, name, &meta, err);
    }
    if (rc == 0 && total <= meta.partitions) {
        rc = cl_errf(err, CRAWLLOG_EINVAL,
                     "topic \"%s\" has %ld partitions; %ld does not raise it",
                     name, (long)meta.partitions, (long)total);
    }
    snprintf(rel, sizeof rel, "topics/%s", name);
    if (rc == 0) {
        rc = make_partitions(tfd, rel, meta.partitions, total, dmode, 1, err);
    }
    if (rc == 0 && (rc = cl_io_fsync("topic.fsync", tfd)) != 0) {
        rc = cl_err_sys(err, -rc, rel, "fsync");
    }
    if (rc == 0) {
        rc = build_body(total, meta.conf, &body, err);
    }
    if (rc == 0) {
        snprintf(mrel, sizeof mrel, "%s/" CL_TOPIC_META_NAME, rel);
        rc = cl_metafile_write(tfd, CL_TOPIC_META_NAME, mrel,
                               CL_TOPIC_META_KIND, body, fmode, err);
    }
    cl_io_free(body);
    cl_topic_meta_free(&meta);
    close_fd(tfd);
    close_fd(topicsfd);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* List and cleanup                                                        */
/* ---------------------------------------------------------------------- */

/* Keep only the entries of topicsfd that are valid names of directories. */
static int filter_topics(int topicsfd, char **names, size_t *countp,
                         struct cl_err *err)
{
    size_t w = 0, n = *countp, i;
    int rc = 0;

    for (i = 0; i < n; i++) {
        struct stat st;
        int keep = cl_names_topic_valid(names[i]);
        if (keep && rc == 0) {
            int src = cl_io_fstatat("topic.stat", topicsfd, names[i], &st);
            if (src != 0 && src != -ENOENT) {
                rc = cl_err_sys(err, -src, "topics", "fstatat");
            }
            keep = src == 0 && S_ISDIR(st.st_mode);
        }
        if (keep) {
            names[w++] = names[i];
        } else {
            cl_io_free(names[i]);
        }
    }
    *countp = w;
    return rc;
}

int cl_topic_list(int rootfd, char ***namesp, size_t *countp,
                  struct cl_err *err)
{
    int fd = cl_tree_open_dir(rootfd, "topics"), rc;

    *namesp = NULL;
    *countp = 0;
    if (fd == -ENOENT) {
        return 0;
    }
    if (fd < 0) {
        return cl_err_sys(err, -fd, "topics", "open");
    }
    rc = cl_io_listdir("topic.list", fd, namesp, countp);
    if (rc != 0) {
        rc = cl_err_sys(err, -rc, "topics", "list");
    } else {
        rc = filter_topics(fd, *namesp, countp, err);
    }
    cl_io_close(fd);
    if (rc != 0 || *countp == 0) {
        cl_io_listdir_free(*namesp, *countp);
        *namesp = NULL;
        *countp = 0;
    }
    return rc;
}

/* Remove stale topic.meta tmp files in every topic dir. */
static int clean_topic_tmps(int rootfd, struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0;
    int first = cl_topic_list(rootfd, &names, &count, err);

    for (size_t i = 0; i < count; i++) {
        struct cl_err e2 = {""};
        int fd = -1, rc = cl_topic_open_dir(rootfd, names[i], &fd, &e2);
        if (rc == 0) {
            rc = cl_metafile_cleanup_tmp(fd, &e2);
            cl_io_close(fd);
        }
        if (rc != 0 && rc != CRAWLLOG_ENOTOPIC && first == 0) {
            first = cl_errf(err, rc, "topics/%s: %s", names[i], e2.msg);
        }
    }
    cl_io_listdir_free(names, count);
    return first;
}

int cl_topic_cleanup(int rootfd, struct cl_err *err)
{
    int first = cl_tree_clean_leftovers(rootfd, err);
    int rc = clean_topic_tmps(rootfd, first == 0 ? err : NULL);
    return first != 0 ? first : rc;
}
