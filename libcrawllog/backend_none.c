/*
 * backend_none.c - the Kafka backend's table in a library built without
 * it (layer 0).
 *
 * Owns nothing on disk; no state, no locks.  `make kafka` links
 * kafka_backend.c in its place (backend.h).  With this table,
 * crawllog_open() of a Kafka location fails with CRAWLLOG_ENOTSUP.
 */
#include <stddef.h>

#include "backend.h"

const struct cl_backend_ops *const cl_backend_kafka = NULL;
