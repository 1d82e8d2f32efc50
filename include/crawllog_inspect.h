/*
 * crawllog_inspect.h - libcrawllog public API: (being written).
 * Part of crawllog.h, which includes it: include crawllog.h, not this file.
 * MIT licence, see LICENSE.
 */
#ifndef CRAWLLOG_INSPECT_H
#define CRAWLLOG_INSPECT_H

#ifndef CRAWLLOG_H
#error "include crawllog.h, not crawllog_inspect.h"
#endif

#endif /* CRAWLLOG_INSPECT_H */
