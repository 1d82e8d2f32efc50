/*
 * tree.h - directory trees under the data directory: symlink-safe opening,
 * building in staging/ and publishing by rename, retiring into trash/,
 * recursive removal and clean-up of crash leftovers (layer 2).
 *
 * On disk (<root> is the data directory, rootfd its fd; see tree.c):
 *
 *     <root>/staging/<pid>.<counter>.<rand>/  a tree being built
 *     <root>/trash/<name>.<pid>.<counter>/    a tree being removed
 *
 * topic.c builds topics with it; what goes inside a tree is the caller's.
 * Callers serialize stage/publish/trash/clean-up across threads and
 * processes (log.c holds crawllog.lock).  Messages name paths relative to
 * <root>; err may be NULL.
 */
#ifndef CL_TREE_H
#define CL_TREE_H

#include "errors.h"

/* Room for a staging or trash entry name, NUL included (NAME_MAX + 1). */
#define CL_TREE_NAME_SIZE 256

/* Open the entry dirfd/name as a directory, never through a symbolic link:
 * an fd or a negative errno (io.h style, no message), -ELOOP if the entry
 * is a symlink. */
int cl_tree_open_dir(int dirfd, const char *name);

/* A tree being built under <root>/staging/. */
struct cl_tree_stage {
    int stagefd;                  /* <root>/staging, or -1 */
    char name[CL_TREE_NAME_SIZE]; /* the entry made there, "" if none */
    int published;                /* 1 once renamed out of staging/ */
};

/* A stage not begun: cl_tree_stage_end() on it does nothing. */
/* clang-format off */
#define CL_TREE_STAGE_INIT {-1, "", 0}
/* clang-format on */

/* Create <root>/staging if missing and a fresh, uniquely named empty
 * directory in it (st->name, open it with cl_tree_open_dir(st->stagefd,
 * st->name)).  st is usable by cl_tree_stage_end() even on failure.
 * Returns 0 or a negative CRAWLLOG_E* code. */
int cl_tree_stage_begin(int rootfd, unsigned dmode, struct cl_tree_stage *st,
                        struct cl_err *err);

/* Rename the finished staging entry to <root>/<parent>/<name> (creating
 * <parent> if missing; <root> is fsynced either way) and fsync <parent>.
 * The caller has fsynced everything inside the tree.  Returns 0,
 * CRAWLLOG_EEXIST ("<what> \"<name>\" already exists"; the existing entry
 * is untouched) or another negative CRAWLLOG_E* code.  st->published is
 * set once the rename is done, even if the fsync after it fails. */
int cl_tree_stage_publish(int rootfd, struct cl_tree_stage *st,
                          const char *parent, const char *name,
                          const char *what, unsigned dmode, struct cl_err *err);

/* Remove the staging entry unless it was published (best effort: after a
 * crash or failure cl_tree_clean_leftovers finishes it) and close
 * st->stagefd. */
void cl_tree_stage_end(struct cl_tree_stage *st);

/* Retire parentfd/name (parentrel: its parent's path, for messages): create
 * <root>/trash (mode) if missing, rename the entry into it, fsync parentfd
 * and trash/, then remove the tree.  A failure of the removal is not
 * reported (cl_tree_clean_leftovers finishes it).  Returns 0, 1 if
 * parentfd/name does not exist (err untouched), or a negative CRAWLLOG_E*
 * code. */
int cl_tree_trash(int rootfd, int parentfd, const char *parentrel,
                  const char *name, unsigned mode, struct cl_err *err);

/* Remove the staging/ entries of dead processes and everything in trash/.
 * Keeps going after a failure and returns the first error. */
int cl_tree_clean_leftovers(int rootfd, struct cl_err *err);

#endif /* CL_TREE_H */
