/*
 * tree.c - directory trees under the data directory (layer 2).
 *
 * Purpose: the mechanics that make a whole directory tree appear or
 * disappear at once, for topic.c: open directories without following
 * symlinks, build a tree in staging/ and publish it with one rename, retire
 * a tree by renaming it into trash/ before removing it, remove a tree
 * recursively, and remove what crashes leave in staging/ and trash/.  What
 * a tree contains (topic.meta, partition dirs) is topic.c's business.
 *
 * Owns on disk (<root> is the data directory; rootfd its fd):
 *
 *     <root>/staging/                       created on first use
 *     <root>/staging/<pid>.<counter>.<rand>/  a tree being built by process
 *                                           <pid> (decimal); <rand> is 8 hex
 *                                           digits
 *     <root>/trash/                         created on first use, with the
 *                                           mode of the retired tree's parent
 *     <root>/trash/<name>.<pid>.<counter>/    a tree being removed; <name>
 *                                           is cut to 200 bytes so the entry
 *                                           stays <= 255 bytes
 *
 * <counter> is process-wide and atomic, so names are unique per process;
 * a taken name is retried with the next counter (NAME_TRIES times).
 *
 * Invariants:
 *  - Nothing is reached through a symbolic link: every directory is opened
 *    with O_DIRECTORY|O_NOFOLLOW relative to an fd already held, and
 *    recursive removal unlinks a symlink instead of descending into it; it
 *    descends at most RM_DEPTH_MAX levels.
 *  - A published tree appears whole: the caller fsyncs everything inside
 *    it, the rename into <parent> is followed by an fsync of <parent> (and
 *    <root> is fsynced before, in case <parent> was just made).
 *  - A retired tree disappears at once: the rename into trash/ is followed
 *    by fsyncs of the old parent and of trash/; only then is it removed.
 *  - Everything in trash/ is garbage; a staging/ entry is garbage once
 *    process <pid> is dead.  cl_tree_clean_leftovers removes both and never
 *    touches the staging entry of a live process.
 *
 * Failpoint sites keep the "topic.*" names (topic.open, topic.stat,
 * topic.mkdir, topic.rename, topic.fsync, topic.list, topic.unlink) that
 * tests count across topic create and delete: this module exists for
 * topic.c and shares its sites.
 *
 * Locks: none taken here.  stage, publish, trash and clean-up must be
 * serialized by the caller (log.c holds crawllog.lock); opening may run
 * concurrently with them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "io.h"
#include "tree.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NONBLOCK)

/* Deepest tree rm_tree descends (a topic is 2 levels deep); anything
 * deeper was not made by libcrawllog and is left in trash/. */
#define RM_DEPTH_MAX 16

/* Tries with a fresh counter when a staging or trash name is taken. */
#define NAME_TRIES 64

/* Room for "<parent>/<name>" in messages. */
#define REL_SIZE 320

static atomic_ulong tree_counter;

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */
/* ---------------------------------------------------------------------- */

/* A symlink gives -ELOOP (cl_io_openat maps O_DIRECTORY's ENOTDIR). */
int cl_tree_open_dir(int dirfd, const char *name)
{
    return cl_io_openat("topic.open", dirfd, name, DIR_FLAGS, 0);
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
    rc = cl_tree_open_dir(rootfd, name);
    if (rc < 0) {
        return cl_err_sys(err, -rc, name, "open");
    }
    *fdp = rc;
    return 0;
}

/* A unique entry name: "<pid>.<counter>.<rand>" for staging (prefix NULL),
 * "<prefix>.<pid>.<counter>" for trash. */
static int unique_name(char *out, const char *prefix)
{
    unsigned long n = atomic_fetch_add(&tree_counter, 1);
    uint64_t r = (uint64_t)cl_io_mono_ns() ^ ((uint64_t)n << 32);
    int len;

    /* splitmix64 finalizer: spreads clock and counter over all bits. */
    r = (r ^ (r >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    r = (r ^ (r >> 27)) * UINT64_C(0x94d049bb133111eb);
    r ^= r >> 31;
    if (prefix == NULL) {
        len = snprintf(out, CL_TREE_NAME_SIZE, "%ld.%lu.%08lx", (long)getpid(),
                       n, (unsigned long)(r & 0xffffffffu));
    } else {
        /* Keep "<prefix>.<pid>.<counter>" within NAME_MAX (255). */
        len = snprintf(out, CL_TREE_NAME_SIZE, "%.200s.%ld.%lu", prefix,
                       (long)getpid(), n);
    }
    return len > 0 && len < CL_TREE_NAME_SIZE ? 0 : -ENAMETOOLONG;
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
    int fd = cl_tree_open_dir(parentfd, name), rc;

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
/* Staging and publishing                                                  */
/* ---------------------------------------------------------------------- */

int cl_tree_stage_begin(int rootfd, unsigned dmode, struct cl_tree_stage *st,
                        struct cl_err *err)
{
    int rc = ensure_dir(rootfd, "staging", dmode, 0, &st->stagefd, err);

    st->name[0] = '\0';
    st->published = 0;
    if (rc != 0) {
        return rc;
    }
    rc = -EEXIST;
    for (int i = 0; i < NAME_TRIES && rc == -EEXIST; i++) {
        rc = unique_name(st->name, NULL);
        if (rc == 0) {
            rc = cl_io_mkdirat("topic.mkdir", st->stagefd, st->name,
                               (mode_t)dmode);
        }
    }
    if (rc != 0) {
        st->name[0] = '\0'; /* nothing made: nothing to remove */
        return cl_err_sys(err, -rc, "staging", "mkdir");
    }
    return 0;
}

int cl_tree_stage_publish(int rootfd, struct cl_tree_stage *st,
                          const char *parent, const char *name,
                          const char *what, unsigned dmode, struct cl_err *err)
{
    char rel[REL_SIZE];
    int pfd, rc = ensure_dir(rootfd, parent, dmode, 1, &pfd, err);

    if (rc != 0) {
        return rc;
    }
    snprintf(rel, sizeof rel, "%s/%s", parent, name);
    rc = cl_io_renameat("topic.rename", st->stagefd, st->name, pfd, name);
    if (rc == -EEXIST || rc == -ENOTEMPTY || rc == -ENOTDIR) {
        rc = cl_errf(err, CRAWLLOG_EEXIST, "%s \"%s\" already exists", what,
                     name);
    } else if (rc != 0) {
        rc = cl_err_sys(err, -rc, rel, "rename");
    } else {
        st->published = 1;
        rc = cl_io_fsync("topic.fsync", pfd);
        if (rc != 0) {
            rc = cl_err_sys(err, -rc, parent, "fsync");
        }
    }
    cl_io_close(pfd);
    return rc;
}

void cl_tree_stage_end(struct cl_tree_stage *st)
{
    if (st->stagefd >= 0 && st->name[0] != '\0' && !st->published) {
        /* Best effort; cl_tree_clean_leftovers retries after a crash. */
        (void)rm_tree(st->stagefd, st->name, 0);
    }
    if (st->stagefd >= 0) {
        cl_io_close(st->stagefd);
        st->stagefd = -1;
    }
}

/* ---------------------------------------------------------------------- */
/* Trash                                                                   */
/* ---------------------------------------------------------------------- */

/* Rename parentfd/name to trashfd/<tname> and fsync both directories.
 * 1 if parentfd/name is gone. */
static int move_to_trash(int parentfd, const char *parentrel, int trashfd,
                         const char *name, char *tname, struct cl_err *err)
{
    int rc = -EEXIST;

    for (int i = 0; i < NAME_TRIES && (rc == -EEXIST || rc == -ENOTEMPTY);
         i++) {
        rc = unique_name(tname, name);
        if (rc == 0) {
            rc = cl_io_renameat("topic.rename", parentfd, name, trashfd, tname);
        }
    }
    if (rc == -ENOENT) {
        return 1;
    }
    if (rc != 0) {
        return cl_err_sys(err, -rc, "trash", "rename");
    }
    rc = cl_io_fsync("topic.fsync", parentfd);
    if (rc != 0) {
        return cl_err_sys(err, -rc, parentrel, "fsync");
    }
    rc = cl_io_fsync("topic.fsync", trashfd);
    return rc != 0 ? cl_err_sys(err, -rc, "trash", "fsync") : 0;
}

int cl_tree_trash(int rootfd, int parentfd, const char *parentrel,
                  const char *name, unsigned mode, struct cl_err *err)
{
    char tname[CL_TREE_NAME_SIZE];
    int trashfd = -1, rc = ensure_dir(rootfd, "trash", mode, 0, &trashfd, err);

    if (rc == 0) {
        rc = move_to_trash(parentfd, parentrel, trashfd, name, tname, err);
    }
    if (rc == 0 && rm_tree(trashfd, tname, 0) == 0) {
        /* Failures here only delay freeing space: clean-up retries. */
        (void)cl_io_fsync("topic.fsync", trashfd);
    }
    if (trashfd >= 0) {
        cl_io_close(trashfd);
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Leftover clean-up                                                       */
/* ---------------------------------------------------------------------- */

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
    int removed = 0, first = 0, fd = cl_tree_open_dir(rootfd, dir), rc;

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

int cl_tree_clean_leftovers(int rootfd, struct cl_err *err)
{
    int first = clean_dir(rootfd, "staging", 1, err);
    int rc = clean_dir(rootfd, "trash", 0, first == 0 ? err : NULL);

    return first != 0 ? first : rc;
}
