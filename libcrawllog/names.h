/*
 * names.h - names that become file or directory names (layer 0).
 *
 * Every name that libcrawllog turns into a path component passes through
 * here first, so no user input can reach the file system as "..", a
 * separator, or a byte a shell or another tool would mangle.
 */
#ifndef CL_NAMES_H
#define CL_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Segment file suffixes (Kafka's). */
#define CL_NAMES_LOG ".log"
#define CL_NAMES_INDEX ".index"
#define CL_NAMES_TIMEINDEX ".timeindex"

/* Digits of a segment file's base offset: INT64_MAX has 19, Kafka uses 20. */
#define CL_NAMES_OFFSET_DIGITS 20

/* Buffer size that holds any segment name made here with one of the three
 * suffixes, NUL included. */
#define CL_NAMES_SEGMENT_MAX (CL_NAMES_OFFSET_DIGITS + sizeof(CL_NAMES_TIMEINDEX))

/* 1 if name is a valid topic name: [A-Za-z0-9._-]{1,249}, not "." or "..";
 * else 0 (also for NULL). */
int cl_names_topic_valid(const char *name);

/* Write "<20-digit zero-padded base_offset><suffix>" into out (suffix NULL
 * means "").  Returns 0, or -1 if base_offset < 0, suffix holds a '/', or
 * the name does not fit in outsz bytes (out is then "" if outsz > 0). */
int cl_names_segment(char *out, size_t outsz, int64_t base_offset,
                     const char *suffix);

/* Parse a segment file name: exactly 20 decimal digits (value <= INT64_MAX)
 * followed by exactly ".log", ".index" or ".timeindex".  On success returns
 * 0 and sets *base and *suffix (a pointer into name); both are optional.
 * Returns -1 otherwise and leaves them unchanged. */
int cl_names_parse_segment(const char *name, int64_t *base,
                           const char **suffix);

/* Write a partition directory name (decimal, 0 .. CRAWLLOG_PARTITIONS_MAX-1)
 * into out.  Returns 0, or -1 if partition is out of range or outsz is too
 * small (out is then "" if outsz > 0). */
int cl_names_partition(char *out, size_t outsz, int32_t partition);

/* Parse a partition directory name: strict decimal, no sign, no leading
 * zeros except "0" itself, at most 9999.  Returns 0 and sets *p (optional),
 * or -1. */
int cl_names_parse_partition(const char *name, int32_t *p);

#endif /* CL_NAMES_H */
