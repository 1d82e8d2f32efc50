/*
 * io_shadow.h - the power-loss crash simulator ("shadow durable image"),
 * internal and CRAWLLOG_TESTING only.
 *
 * While enabled, io.c reports every successful fsync/fdatasync and every
 * file or directory it creates below a "real root" directory; the shadow
 * records, in a separate "shadow root" directory, what a power loss at
 * that moment would leave on disk (LevelDB's fault_injection_test, ALICE):
 *
 *  - a regular file's CONTENT becomes durable per inode when it is
 *    fsync'd or fdatasync'd: the file's whole current bytes are copied;
 *  - a directory's NAMES become durable when the directory itself is
 *    fsync'd: its current entries name -> (type, inode) are recorded;
 *  - a freshly created inode has no durable content or entries yet (inode
 *    numbers are versioned, so a reused number never revives old data);
 *  - when the shadow is first enabled, everything already below the real
 *    root counts as durable (like a freshly mounted disk), and the real
 *    root's own link in its parent is durable (the root exists).
 *
 * cl_shadow_image() then builds a power-loss image: starting from the
 * root's durable entries it recreates directories (a directory never
 * fsync'd itself has no entries) and files (content = the inode's last
 * synced bytes, empty if it was never synced).
 *
 * The environment variable CRAWLLOG_SHADOW="real_root:shadow_root" (the
 * real root must not contain ':') enables the shadow lazily, on the first
 * hook call of a process, so it survives fork/exec; a malformed value or a
 * failing enable aborts the process.  Several processes may share one
 * shadow root: updates are serialized with a lock on <shadow_root>/.lock.
 *
 * Without CRAWLLOG_TESTING nothing of this exists: the hooks are empty
 * macros, and io_shadow.c and io_shadow_image.c compile to empty objects.
 */
#ifndef CL_SHADOW_H
#define CL_SHADOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Image modes of cl_shadow_image(). */
#define CL_SHADOW_DURABLE 0 /* (a) only what was synced survives */
#define CL_SHADOW_ALL 1     /* (b) every write survives: copy of the tree */
#define CL_SHADOW_TORN                                                         \
    2 /* (c) as (a), plus a seeded random prefix of
                             *     each file's unsynced appended bytes */

#ifdef CRAWLLOG_TESTING

/* Start recording syncs below real_root (an existing directory) into
 * shadow_root (created if missing; an existing shadow root of the same real
 * root is joined, one of another root refused with -EINVAL).  Replaces any
 * earlier enable in this process.  Returns 0 or a negative errno. */
int cl_shadow_enable(const char *real_root, const char *shadow_root);

/* Stop recording in this process (the shadow root is left as it is). */
void cl_shadow_disable(void);

/* Build the power-loss image of shadow_root into out_dir (which must not
 * exist, or be an empty directory).  mode: CL_SHADOW_DURABLE, _ALL or
 * _TORN; seed drives _TORN.  Does not need the shadow to be enabled.
 * Returns 0 or a negative errno. */
int cl_shadow_image(const char *shadow_root, const char *out_dir, int mode,
                    uint64_t seed);

/* Hooks for io.c (no-ops unless enabled). */

/* After a successful creation of dirfd/name (fd: the opened file, or -1
 * for a directory): the inode starts a new, empty generation. */
void cl_shadow_created(int dirfd, const char *name, int fd);

/* After a successful fsync/fdatasync of fd. */
void cl_shadow_synced(int fd);

/* ---- internal: shared by io_shadow.c and io_shadow_image.c only ------------- */
/* Raw system calls and malloc (never cl_io_*, so no failpoint and no hook
 * recursion); negative errno on failure. */

#define CL_SHADOW_PATH 4096 /* longest path handled, with NUL */
#define CL_SHADOW_DEPTH 64  /* deepest directory nesting walked */

/* One incarnation of an inode number: .inodes/ and .dirs/ records and the
 * lines of a .dirs/ record name it. */
struct cl_shadow_key {
    uint64_t dev, ino, gen;
};

/* Whole content of fd from its position: malloc'd, with room for a NUL. */
int cl_shadow_read_fd(int fd, char **bufp, size_t *lenp);
/* Whole file, NUL-terminated; a missing file gives *bufp NULL, *lenp 0. */
int cl_shadow_read_path(const char *path, char **bufp, size_t *lenp);
/* Create or truncate path to exactly buf[0, len) (mode 0600). */
int cl_shadow_write_path(const char *path, const void *buf, size_t len);
/* mkdir 0700; an existing entry is fine. */
int cl_shadow_mkdir(const char *path);
/* "<root>/<sub>/<dev>-<ino>-<gen>" */
void cl_shadow_key_path(char *out, size_t size, const char *root,
                        const char *sub, const struct cl_shadow_key *k);
/* Current generation of an inode number (0: never created under us). */
uint64_t cl_shadow_gen(const char *root, uint64_t dev, uint64_t ino);
/* Write-lock <root>/.lock; returns the fd to close (which unlocks). */
int cl_shadow_lock(const char *root);
/* Call fn for each regular file and directory of the open directory fd,
 * with its lstat, until fn answers nonzero (returned).  fd's own read
 * position does not move. */
typedef int cl_shadow_entry_fn(void *arg, int dfd, const char *name,
                               const struct stat *st);
int cl_shadow_each_entry(int fd, cl_shadow_entry_fn *fn, void *arg);

#else /* !CRAWLLOG_TESTING */

#define cl_shadow_created(dirfd, name, fd)                                     \
    ((void)(dirfd), (void)(name), (void)(fd))
#define cl_shadow_synced(fd) ((void)(fd))

#endif /* CRAWLLOG_TESTING */

#endif /* CL_SHADOW_H */
