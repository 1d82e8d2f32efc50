/*
 * backend.c - which backend a location selects (layer 0).  See backend.h.
 *
 * Owns nothing on disk; no state, no locks.
 */
#include <string.h>

#include "backend.h"
#include "conf.h"

int cl_backend_is_kafka(const char *location, const crawllog_conf_t *conf)
{
    if (location != NULL && strncmp(location, "kafka://", 8) == 0) {
        return 1;
    }
    return cl_conf_int(conf, CL_CONF_BACKEND) == CL_CONF_BACKEND_KAFKA;
}
