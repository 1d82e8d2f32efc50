/*
 * topic.c - topics on disk (layer 2).
 *
 * Purpose: a topic is a directory holding its metadata file and one
 * directory per partition.  This module creates topics atomically, deletes
 * them, raises their partition count, lists them, reads their metadata and
 * removes what crashed creates and deletes leave behind.  What is inside a
 * partition directory belongs to partition.c.
 *
 * Data directory layout (<root> is the data directory; rootfd its fd):
 *
 *     <root>/crawllog.meta                  root metadata (log.c)
 *     <root>/crawllog.lock                  flock'd for metadata changes
 *                                           (log.c)
 *     <root>/topics/<topic>/topic.meta      topic metadata (this module)
 *     <root>/topics/<topic>/<partition>/    "0".."9999": created empty here,
 *                                           filled by partition.c
 *     <root>/staging/<pid>.<counter>.<rand>/  a topic being created (here)
 *     <root>/trash/<name>.<pid>.<counter>/    a topic being deleted (here);
 *                                           <name> is cut short if needed
 *                                           to keep the entry <= 255 bytes
 *
 * topic.meta is a metafile (metafile.c) of kind "crawllog-topic" whose body
 * is "partitions=<N>\n" followed by the effective topic-scope properties
 * ("segment.bytes=...\n" ..., from cl_conf_topic_serialize).
 *
 * Invariants:
 *  - A directory under topics/ is a complete topic: topic.meta is readable
 *    and partition dirs 0..N-1 exist.  Creation builds the whole tree in
 *    staging/ (every file and dir fsynced), then renames it into topics/
 *    and fsyncs topics/, so a crash leaves the topic whole or absent.
 *  - Deletion first renames topics/<name> into trash/ and fsyncs both
 *    dirs, so the topic disappears at once; only then is the tree removed.
 *  - add_partitions creates (and fsyncs) the new partition dirs before
 *    rewriting topic.meta, so every partition the metadata names exists.
 *    A crash in between leaves empty extra dirs, which the next
 *    add_partitions reuses.
 *  - Nothing is reached through a symbolic link: every directory is opened
 *    with O_DIRECTORY|O_NOFOLLOW relative to an fd already held, and
 *    recursive removal unlinks a symlink instead of descending into it.
 *  - Leftovers (staging/ entries of dead processes, everything in trash/,
 *    stale topic.meta tmp files) are removed by cl_topic_cleanup.
 *
 * Locks: none taken here.  create, delete and add_partitions must be
 * serialized by the caller (log.c holds crawllog.lock); list, meta_read and
 * open_dir may run concurrently with them and see either state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "io.h"
#include "metafile.h"
#include "names.h"
#include "topic.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NONBLOCK)

/* Deepest tree rm_tree descends (a topic is 2 levels deep); anything
 * deeper was not made by libcrawllog and is left in trash/. */
#define RM_DEPTH_MAX 16

/* Tries with a fresh counter when a staging or trash name is taken. */
#define NAME_TRIES 64

/* Room for a relative path with a topic name in it. */
#define REL_SIZE 320

/* Room for one directory entry name, NUL included. */
#define ENT_SIZE 256

static atomic_ulong topic_counter;

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

/* Open a directory entry of dirfd, never through a symlink.  With
 * O_DIRECTORY, Linux reports a symlink as ENOTDIR rather than ELOOP; this
 * returns -ELOOP for a symlink either way. */
static int open_dir(int dirfd, const char *name)
{
    int fd = cl_io_openat("topic.open", dirfd, name, DIR_FLAGS, 0);
    struct stat st;

    if (fd == -ENOTDIR && cl_io_fstatat("topic.stat", dirfd, name, &st) == 0 &&
        S_ISLNK(st.st_mode)) {
        return -ELOOP;
    }
    return fd;
}

/* mkdir <root>/<name> if missing (fsync root if made, or always with
 * always_sync), then open it into *fdp. */
static int ensure_dir(int rootfd, const char *name, unsigned dmode,
                      int always_sync, int *fdp, struct cl_err *err)
{
    int rc = cl_io_mkdirat("topic.mkdir", rootfd, name, (mode_t)dmode);

    *fdp = -1;
    if (rc != 0 && rc != -EEXIST) {
        return cl_err_sys(err, -rc, name, "mkdir");
    }
    if (rc == 0 || always_sync) {
        rc = cl_io_fsync("topic.fsync", rootfd);
        if (rc != 0) {
            return cl_err_sys(err, -rc, ".", "fsync");
        }
    }
    rc = open_dir(rootfd, name);
    if (rc < 0) {
        return cl_err_sys(err, -rc, name, "open");
    }
    *fdp = rc;
    return 0;
}

/* fsync an existing directory dirfd/name. */
static int sync_dir_at(int dirfd, const char *name, const char *rel,
                       struct cl_err *err)
{
    int fd = open_dir(dirfd, name), rc;

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

/* A unique entry name: "<prefix>.<pid>.<counter>[.<rand>]". */
static int unique_name(char *out, const char *prefix, int with_rand)
{
    unsigned long n = atomic_fetch_add(&topic_counter, 1);
    uint64_t r = (uint64_t)cl_io_mono_ns() ^ ((uint64_t)n << 32);
    int len;

    /* splitmix64 finalizer: spreads clock and counter over all bits. */
    r = (r ^ (r >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    r = (r ^ (r >> 27)) * UINT64_C(0x94d049bb133111eb);
    r ^= r >> 31;
    if (with_rand) {
        len = snprintf(out, ENT_SIZE, "%ld.%lu.%08lx", (long)getpid(), n,
                       (unsigned long)(r & 0xffffffffu));
    } else {
        /* Keep "<prefix>.<pid>.<counter>" within NAME_MAX (255). */
        len = snprintf(out, ENT_SIZE, "%.200s.%ld.%lu", prefix, (long)getpid(),
                       n);
    }
    return len > 0 && len < ENT_SIZE ? 0 : -ENAMETOOLONG;
}

/* ---------------------------------------------------------------------- */
/* Recursive removal                                                       */
/* ---------------------------------------------------------------------- */

/* Remove parentfd/name and, if it is a directory, everything below it.
 * Symlinks are unlinked, never followed.  A missing entry counts as
 * removed.  Returns 0 or a negative errno (no message). */
static int rm_tree(int parentfd, const char *name, int depth)
{
    char **names = NULL;
    size_t count = 0;
    int fd = open_dir(parentfd, name), rc;

    if (fd == -ENOTDIR || fd == -ELOOP) {
        rc = cl_io_unlinkat("topic.unlink", parentfd, name, 0);
        return rc == -ENOENT ? 0 : rc;
    }
    if (fd < 0) {
        return fd == -ENOENT ? 0 : fd;
    }
    rc = depth >= RM_DEPTH_MAX
             ? -ELOOP
             : cl_io_listdir("topic.list", fd, &names, &count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = rm_tree(fd, names[i], depth + 1);
    }
    cl_io_listdir_free(names, count);
    cl_io_close(fd);
    if (rc == 0) {
        rc = cl_io_unlinkat("topic.unlink", parentfd, name, AT_REMOVEDIR);
    }
    return rc == -ENOENT ? 0 : rc;
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
    fd = open_dir(rootfd, "topics");
    if (fd == -ENOENT) {
        return no_topic(name, err);
    }
    if (fd < 0) {
        return cl_err_sys(err, -fd, "topics", "open");
    }
    *topicsp = fd;
    fd = open_dir(*topicsp, name);
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
    int fd = open_dir(dirfd, pname), rc;

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
    int fd = open_dir(stagefd, sname), rc;

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

/* Make a fresh, uniquely named dir in staging/; its name goes to sname. */
static int make_staging(int stagefd, char *sname, unsigned dmode,
                        struct cl_err *err)
{
    int rc = -EEXIST;

    for (int i = 0; i < NAME_TRIES && rc == -EEXIST; i++) {
        rc = unique_name(sname, NULL, 1);
        if (rc == 0) {
            rc = cl_io_mkdirat("topic.mkdir", stagefd, sname, (mode_t)dmode);
        }
    }
    return rc != 0 ? cl_err_sys(err, -rc, "staging", "mkdir") : 0;
}

/* Move the finished staging dir into topics/<name> and fsync topics/. */
static int publish(int rootfd, int stagefd, const char *sname, const char *name,
                   unsigned dmode, int *renamedp, struct cl_err *err)
{
    char rel[REL_SIZE];
    int topicsfd, rc = ensure_dir(rootfd, "topics", dmode, 1, &topicsfd, err);

    if (rc != 0) {
        return rc;
    }
    snprintf(rel, sizeof rel, "topics/%s", name);
    rc = cl_io_renameat("topic.rename", stagefd, sname, topicsfd, name);
    if (rc == -EEXIST || rc == -ENOTEMPTY || rc == -ENOTDIR) {
        rc = cl_errf(err, CRAWLLOG_EEXIST, "topic \"%s\" already exists", name);
    } else if (rc != 0) {
        rc = cl_err_sys(err, -rc, rel, "rename");
    } else {
        *renamedp = 1;
        rc = cl_io_fsync("topic.fsync", topicsfd);
        if (rc != 0) {
            rc = cl_err_sys(err, -rc, "topics", "fsync");
        }
    }
    cl_io_close(topicsfd);
    return rc;
}

int cl_topic_create(int rootfd, const char *name, int32_t partitions,
                    const crawllog_conf_t *conf, unsigned dmode, unsigned fmode,
                    struct cl_err *err)
{
    char sname[ENT_SIZE] = "";
    char *body = NULL;
    int stagefd = -1, renamed = 0, rc = check_name(name, err);

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
        rc = ensure_dir(rootfd, "staging", dmode, 0, &stagefd, err);
    }
    if (rc == 0) {
        rc = make_staging(stagefd, sname, dmode, err);
        if (rc == 0) {
            rc = fill_staging(stagefd, sname, partitions, body, dmode, fmode,
                              err);
            if (rc == 0) {
                rc =
                    publish(rootfd, stagefd, sname, name, dmode, &renamed, err);
            }
            if (!renamed) {
                /* Best effort; cl_topic_cleanup retries after a crash. */
                (void)rm_tree(stagefd, sname, 0);
            }
        }
    }
    close_fd(stagefd);
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

/* Rename topics/<name> to trash/<tname> and fsync both directories. */
static int move_to_trash(int topicsfd, int trashfd, const char *name,
                         char *tname, struct cl_err *err)
{
    int rc = -EEXIST;

    for (int i = 0; i < NAME_TRIES && (rc == -EEXIST || rc == -ENOTEMPTY);
         i++) {
        rc = unique_name(tname, name, 0);
        if (rc == 0) {
            rc = cl_io_renameat("topic.rename", topicsfd, name, trashfd, tname);
        }
    }
    if (rc == -ENOENT) {
        return no_topic(name, err);
    }
    if (rc != 0) {
        return cl_err_sys(err, -rc, "trash", "rename");
    }
    rc = cl_io_fsync("topic.fsync", topicsfd);
    if (rc != 0) {
        return cl_err_sys(err, -rc, "topics", "fsync");
    }
    rc = cl_io_fsync("topic.fsync", trashfd);
    return rc != 0 ? cl_err_sys(err, -rc, "trash", "fsync") : 0;
}

int cl_topic_delete(int rootfd, const char *name, struct cl_err *err)
{
    char tname[ENT_SIZE];
    unsigned mode = 0700;
    int topicsfd = -1, trashfd = -1, rc = check_name(name, err);

    if (rc != 0) {
        return rc;
    }
    topicsfd = open_dir(rootfd, "topics");
    if (topicsfd < 0) {
        return topicsfd == -ENOENT
                   ? no_topic(name, err)
                   : cl_err_sys(err, -topicsfd, "topics", "open");
    }
    rc = check_victim(topicsfd, name, &mode, err);
    if (rc == 0) {
        rc = ensure_dir(rootfd, "trash", mode, 0, &trashfd, err);
    }
    if (rc == 0) {
        rc = move_to_trash(topicsfd, trashfd, name, tname, err);
    }
    if (rc == 0 && rm_tree(trashfd, tname, 0) == 0) {
        /* Failures here only delay freeing space: cleanup retries. */
        (void)cl_io_fsync("topic.fsync", trashfd);
    }
    close_fd(trashfd);
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
    int fd = open_dir(rootfd, "topics"), rc;

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

/* pid of a staging entry "<pid>.<counter>.<rand>", or 0 if not that shape. */
static long staging_pid(const char *ent)
{
    long pid = 0;
    size_t i = 0;

    while (ent[i] >= '0' && ent[i] <= '9' && i < 10) {
        pid = pid * 10 + (ent[i++] - '0');
    }
    return i > 0 && ent[i] == '.' ? pid : 0;
}

/* Remove the entries of <root>/<dir> (staging only for dead pids). */
static int clean_dir(int rootfd, const char *dir, int staging,
                     struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0;
    int removed = 0, first = 0, fd = open_dir(rootfd, dir), rc;

    if (fd == -ENOENT) {
        return 0;
    }
    if (fd < 0) {
        return cl_err_sys(err, -fd, dir, "open");
    }
    rc = cl_io_listdir("topic.list", fd, &names, &count);
    if (rc != 0) {
        first = cl_err_sys(err, -rc, dir, "list");
    }
    for (size_t i = 0; i < count; i++) {
        long pid = staging ? staging_pid(names[i]) : 0;
        if (staging && (pid <= 0 || cl_io_pid_alive(pid))) {
            continue;
        }
        rc = rm_tree(fd, names[i], 0);
        if (rc != 0 && first == 0) {
            first = cl_err_sys(err, -rc, dir, "remove leftover");
        }
        removed += rc == 0;
    }
    cl_io_listdir_free(names, count);
    if (removed > 0 && (rc = cl_io_fsync("topic.fsync", fd)) != 0 &&
        first == 0) {
        first = cl_err_sys(err, -rc, dir, "fsync");
    }
    cl_io_close(fd);
    return first;
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
    int first = clean_dir(rootfd, "staging", 1, err);
    int rc = clean_dir(rootfd, "trash", 0, first == 0 ? err : NULL);

    if (first == 0) {
        first = rc;
    }
    rc = clean_topic_tmps(rootfd, first == 0 ? err : NULL);
    return first != 0 ? first : rc;
}
