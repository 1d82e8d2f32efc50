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

#include <stdarg.h>
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

/* Set err->msg with printf-style formatting (truncated to fit); err may be
 * NULL (then nothing is set).  The va_list form behind cl_errf. */
void cl_err_vsetf(struct cl_err *err, int rc, const char *fmt, va_list ap)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 0)))
#endif
    ;

/* cl_err_vsetf, then return rc, so callers can write
 * `return cl_errf(err, CRAWLLOG_EINVAL, ...)`.  Inline so that static
 * analysers (gcc -fanalyzer) see that it returns rc, never 0 for an error. */
static inline int cl_errf(struct cl_err *err, int rc, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline int cl_errf(struct cl_err *err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl_err_vsetf(err, rc, fmt, ap);
    va_end(ap);
    return rc;
}
#ifdef __clang_analyzer__
/* The clang analyser never inlines a variadic function: show it the same
 * result (rc) as an expression. */
#define cl_errf(err, rc, ...) (cl_errf((err), (rc), __VA_ARGS__), (rc))
#endif

/* For a failed system call: errnum is a positive errno.  Formats
 * "<path>: <op>: <strerror(errnum)>" and returns cl_err_from_errno(errnum). */
int cl_err_sys_set(struct cl_err *err, int errnum, const char *path,
                   const char *op);

/* cl_err_sys_set.  Inline so that static analysers (clang's, gcc
 * -fanalyzer) see that a failed call's code is never 0. */
static inline int cl_err_sys(struct cl_err *err, int errnum, const char *path,
                             const char *op)
{
    int rc = cl_err_sys_set(err, errnum, path, op);
    return rc != 0 ? rc : CRAWLLOG_EIO;
}

/* Copy src into a fixed buffer, always NUL-terminating (no-op if dst is
 * NULL or size is 0).  Used for errstr arguments. */
void cl_err_copy(char *dst, size_t size, const char *src);

#endif /* CL_ERRORS_H */
