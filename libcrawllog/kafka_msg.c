/*
 * kafka_msg.c - a message librdkafka delivered, as crawllog sees it
 * (rd_kafka_message_t -> struct crawllog_msg_s).  See kafka.h.
 *
 * Owns nothing on disk, no state, no locks; librdkafka's threads never
 * enter it (it runs in the thread of the consumer or reader call).
 *
 * The crawllog message accessors (reader.c) read a struct cl_record_view:
 * key and value as (pointer, length, NULL for null), and the headers as
 * the RAW bytes of a Kafka record's header list, decoded lazily by
 * cl_record_header_at().  librdkafka has already parsed the headers into
 * an rd_kafka_headers_t, so they are re-encoded here into a buffer of the
 * caller's, in the record format (record.c): for each header
 * keyLength:varint, key, valueLength:varint (-1 for a null value), value;
 * header_count says how many.
 *
 * Invariants: every view points into m (key, value) or *hbuf (headers);
 * both must outlive msg.  A key or value librdkafka reports as NULL is a
 * null one (length -1); a non-NULL pointer with length 0 is an empty one.
 */
#include <string.h>

#include "bytes.h"
#include "io.h"
#include "kafka.h"

/* Bytes of one header in the record encoding. */
static size_t header_size(size_t nlen, const void *val, size_t vlen)
{
    return cl_varlong_size((int64_t)nlen) + nlen +
           (val ? cl_varlong_size((int64_t)vlen) + vlen : 1);
}

int cl_kafka_msg_fill(struct crawllog_msg_s *msg, const rd_kafka_message_t *m,
                      const char *topic, uint8_t **hbuf, size_t *hcap)
{
    rd_kafka_headers_t *hdrs = NULL;
    const char *name;
    const void *val;
    size_t vlen, need = 0, n = 0;

    memset(msg, 0, sizeof(*msg));
    if (m->len > INT32_MAX || m->key_len > INT32_MAX) {
        return CRAWLLOG_ETOOBIG;
    }
    msg->topic = topic;
    msg->partition = m->partition;
    msg->rv.offset = m->offset;
    msg->rv.timestamp = rd_kafka_message_timestamp(m, NULL);
    msg->rv.key = m->key;
    msg->rv.key_len = m->key ? (int32_t)m->key_len : -1;
    msg->rv.value = m->payload;
    msg->rv.value_len = m->payload ? (int32_t)m->len : -1;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hdrs = NULL; /* _NOENT: no headers */
    }
    while (hdrs && rd_kafka_header_get_all(hdrs, n, &name, &val, &vlen) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (strlen(name) > INT32_MAX || vlen > INT32_MAX || n >= INT32_MAX) {
            return CRAWLLOG_ETOOBIG;
        }
        need += header_size(strlen(name), val, vlen);
        n++;
    }
    if (n == 0) {
        return 0;
    }
    if (*hcap < need) {
        uint8_t *nb = cl_io_realloc(*hbuf, need);
        if (nb == NULL) {
            return CRAWLLOG_ENOMEM;
        }
        *hbuf = nb;
        *hcap = need;
    }
    uint8_t *p = *hbuf;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen);
        size_t nlen = strlen(name);
        p += cl_put_varlong(p, (int64_t)nlen);
        memcpy(p, name, nlen);
        p += nlen;
        if (val == NULL) {
            p += cl_put_varlong(p, -1);
        } else {
            p += cl_put_varlong(p, (int64_t)vlen);
            if (vlen > 0) {
                memcpy(p, val, vlen);
            }
            p += vlen;
        }
    }
    msg->rv.headers = *hbuf;
    msg->rv.headers_end = p;
    msg->rv.header_count = (int32_t)n;
    return 0;
}
