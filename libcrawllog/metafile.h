/*
 * metafile.h - small checksummed metadata text files, replaced atomically
 * (layer 2 helper, used by topic.c and log.c).
 *
 * File format (all text, '\n' line ends):
 *
 *     <kind> <version>\n          e.g. "crawllog-topic 1"
 *     <key>=<value>\n             zero or more body lines (caller-built)
 *     crc32c=<8 lowercase hex>\n  CRC-32C of every byte before this line
 *
 * A file is replaced by writing "<name>.tmp.<pid>.<counter>", fsyncing it,
 * renaming it over <name> and fsyncing the directory.
 */
#ifndef CL_METAFILE_H
#define CL_METAFILE_H

#include <stdint.h>

#include "errors.h"

/* Largest metadata file accepted by cl_metafile_read (bytes). */
#define CL_METAFILE_MAX (1024 * 1024)

/* Atomically replace dirfd/name: create a unique tmp
 * "<name>.tmp.<pid>.<counter>" with O_CREAT|O_EXCL|O_WRONLY (mode fmode),
 * write "<kind> <CRAWLLOG_FORMAT_VERSION>\n" + body + crc line, fsync it,
 * renameat over name, fsync dirfd.  On any failure before the rename the
 * tmp is unlinked, the old file is intact, and the error is returned with a
 * message "<relpath>: <op>: <strerror>" (relpath = path of the file
 * relative to the data dir).  If only the final directory fsync fails, the
 * new file is already in place (but maybe not durable) and the error is
 * returned.  Failpoint sites: "meta.open", "meta.write", "meta.fsync",
 * "meta.rename", "meta.dirsync" (and "meta.unlink" for removing the tmp).
 * body: "key=value\n" lines (may be ""). */
int cl_metafile_write(int dirfd, const char *name, const char *relpath,
                      const char *kind, const char *body, unsigned fmode,
                      struct cl_err *err);

/* Read and verify dirfd/name; *bodyp = malloc'd (cl_io_malloc; release
 * with cl_io_free) NUL-terminated text of the key=value lines, without the
 * first and the crc line.  Returns CRAWLLOG_ENOENT if missing,
 * CRAWLLOG_ELOOP if a symlink, CRAWLLOG_ECORRUPT (bad crc, missing crc
 * line, wrong kind, not a regular file, size > CL_METAFILE_MAX, NUL bytes)
 * with a message naming relpath and what is wrong, CRAWLLOG_EVERSION if the
 * version differs from CRAWLLOG_FORMAT_VERSION.  *bodyp is NULL on
 * failure.  Failpoint site "meta.read". */
int cl_metafile_read(int dirfd, const char *name, const char *relpath,
                     const char *kind, char **bodyp, struct cl_err *err);

/* Find "key=<int64>" in body lines.  Returns 0, CRAWLLOG_ENOENT (no such
 * line) or CRAWLLOG_ECORRUPT (value not a valid decimal int64, or the key
 * appears twice).  *out is set only on success.  Pure: no I/O. */
int cl_metafile_get_int(const char *body, const char *key, int64_t *out);

/* Remove stale "<anything>.tmp.<pid>.<n>" entries of dirfd whose pid is no
 * longer alive.  Directories and names of other shapes are left alone.
 * Failpoint sites "meta.cleanup.list", "meta.cleanup.stat",
 * "meta.cleanup.unlink". */
int cl_metafile_cleanup_tmp(int dirfd, struct cl_err *err);

#endif /* CL_METAFILE_H */
