/*
 * crawllog_admin.h - libcrawllog public API: (being written).
 * Part of crawllog.h, which includes it: include crawllog.h, not this file.
 * MIT licence, see LICENSE.
 */
#ifndef CRAWLLOG_ADMIN_H
#define CRAWLLOG_ADMIN_H

#ifndef CRAWLLOG_H
#error "include crawllog.h, not crawllog_admin.h"
#endif

#endif /* CRAWLLOG_ADMIN_H */
