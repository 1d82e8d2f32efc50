/*
 * names.c - topic name validation and the names of segment files and
 * partition directories (layer 0).
 *
 * Purpose: the single place that decides which strings may become path
 * components.  Topic names follow Kafka's rule ([A-Za-z0-9._-]{1,249}, not
 * "." or ".."), so a valid name never holds a separator, never climbs out of
 * its directory and never needs quoting.  Segment files are named like
 * Kafka's: the base offset as 20 zero-padded decimal digits plus ".log",
 * ".index" or ".timeindex"; partition directories are plain decimals.
 *
 * On disk: owns the spelling of these names, not any file:
 *
 *   topics/<topic>/<partition>/00000000000000004096.log
 *                              00000000000000004096.index
 *                              00000000000000004096.timeindex
 *
 * Invariants: parse(make(x)) == x for every valid x, and the parsers accept
 * exactly one spelling of each value (no sign, no extra zeros, no trailing
 * bytes), so two different file names never denote the same segment or
 * partition.  Pure functions: no locks, no allocation, no I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crawllog.h"
#include "names.h"

static int topic_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int cl_names_topic_valid(const char *name)
{
    if (name == NULL) {
        return 0;
    }
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (!topic_char_ok(*p) || ++len > CRAWLLOG_TOPIC_NAME_MAX) {
            return 0;
        }
    }
    if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return 0;
    }
    return 1;
}

/* snprintf into out, or "" and -1 if it does not fit. */
static int fit(char *out, size_t outsz, int n)
{
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz > 0) {
            out[0] = '\0';
        }
        return -1;
    }
    return 0;
}

int cl_names_segment(char *out, size_t outsz, int64_t base_offset,
                     const char *suffix)
{
    if (suffix == NULL) {
        suffix = "";
    }
    if (out == NULL || outsz == 0) {
        return -1;
    }
    if (base_offset < 0 || strchr(suffix, '/') != NULL) {
        out[0] = '\0';
        return -1;
    }
    int n = snprintf(out, outsz, "%020" PRId64 "%s", base_offset, suffix);
    return fit(out, outsz, n);
}

int cl_names_parse_segment(const char *name, int64_t *base,
                           const char **suffix)
{
    static const char *const suffixes[] = {CL_NAMES_LOG, CL_NAMES_INDEX,
                                           CL_NAMES_TIMEINDEX};
    if (name == NULL) {
        return -1;
    }
    uint64_t v = 0;
    for (int i = 0; i < CL_NAMES_OFFSET_DIGITS; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < '0' || c > '9') {
            return -1; /* also stops at the NUL of a short name */
        }
        uint64_t d = (uint64_t)(c - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) {
            return -1; /* more than INT64_MAX */
        }
        v = v * 10 + d;
    }
    const char *rest = name + CL_NAMES_OFFSET_DIGITS;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(rest, suffixes[i]) == 0) {
            if (base != NULL) {
                *base = (int64_t)v;
            }
            if (suffix != NULL) {
                *suffix = rest;
            }
            return 0;
        }
    }
    return -1;
}

int cl_names_partition(char *out, size_t outsz, int32_t partition)
{
    if (out == NULL || outsz == 0) {
        return -1;
    }
    if (partition < 0 || partition >= CRAWLLOG_PARTITIONS_MAX) {
        out[0] = '\0';
        return -1;
    }
    int n = snprintf(out, outsz, "%" PRId32, partition);
    return fit(out, outsz, n);
}

int cl_names_parse_partition(const char *name, int32_t *p)
{
    if (name == NULL || name[0] == '\0') {
        return -1;
    }
    if (name[0] == '0' && name[1] != '\0') {
        return -1; /* leading zero */
    }
    int32_t v = 0;
    size_t i = 0;
    for (; name[i] != '\0'; i++) {
        if (i == 4 || name[i] < '0' || name[i] > '9') {
            return -1; /* five digits is already > 9999 */
        }
        v = v * 10 + (name[i] - '0');
    }
    if (p != NULL) {
        *p = v;
    }
    return 0;
}
