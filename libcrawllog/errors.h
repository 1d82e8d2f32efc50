/*
 * errors.h - internal error helpers (layer 0).
 *
 * Internal functions report failures as a CRAWLLOG_E* code plus a message
 * built in a caller-provided struct cl_err (usually on the caller's stack);
 * the public layer copies the message into the handle (crawllog_errmsg).
 * errno values are mapped to library codes; the raw errno text goes into the
 * message, never into the return value.
 */
#ifndef CL_ERRORS_H
#define CL_ERRORS_H

#include <stddef.h>

#include "crawllog.h"

#define CL_ERRMSG_SIZE 512

struct cl_err {
    char msg[CL_ERRMSG_SIZE]; /* "" when nothing failed */
};

/* Map an errno value (positive) to a CRAWLLOG_E* code: EIO->EIO,
 * ENOSPC/EDQUOT/EFBIG->ENOSPC, EACCES/EPERM/EROFS->EPERM, ENOMEM->ENOMEM,
 * ELOOP->ELOOP, ENOENT->ENOENT, EEXIST/ENOTEMPTY->EEXIST, EMFILE/ENFILE->
 * EMFILE, EWOULDBLOCK->EBUSY, EINVAL->EINVAL, anything else -> EIO. */
int cl_err_from_errno(int errnum);

/* Set err->msg with printf-style formatting (truncated to fit) and return
 * rc, so callers can write `return cl_errf(err, CRAWLLOG_EINVAL, ...)`.
 * err may be NULL (then only rc is returned). */
int cl_errf(struct cl_err *err, int rc, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* For a failed system call: errnum is a positive errno.  Formats
 * "<path>: <op>: <strerror(errnum)>" and returns cl_err_from_errno(errnum). */
int cl_err_sys(struct cl_err *err, int errnum, const char *path,
               const char *op);

/* Copy src into a fixed buffer, always NUL-terminating (no-op if dst is
 * NULL or size is 0).  Used for errstr arguments. */
void cl_err_copy(char *dst, size_t size, const char *src);

#endif /* CL_ERRORS_H */
