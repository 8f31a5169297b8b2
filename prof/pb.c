/*
 * pb.c — the streaming protocol-buffers encoder (see pb.h).
 *
 * Owns: buffer growth for scratch buffers, the flush discipline of
 * streams, and the varint and length-delimited encodings.  No locking: a
 * buffer belongs to one thread.
 *
 * Invariants: a scratch buffer's cap doubles from PB_SCRATCH_MIN, so
 * appending n bytes costs O(n) amortized; a stream never holds more than
 * PB_STREAM_CAP bytes, and a write larger than that goes straight to the
 * sink once the buffered bytes are out (order is preserved).
 */
#include "pb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { PB_SCRATCH_MIN = 256 };

void
pb_buf_init(pb_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

int
pb_stream_init(pb_buf_t *b, pb_sink_fn sink, void *arg)
{
    pb_buf_init(b);
    b->data = malloc(PB_STREAM_CAP);
    if (b->data == NULL) {
        b->err = ENOMEM;
        return ENOMEM;
    }
    b->cap = PB_STREAM_CAP;
    b->sink = sink;
    b->sink_arg = arg;
    return 0;
}

void
pb_buf_reset(pb_buf_t *b)
{
    b->len = 0;
}

void
pb_buf_fini(pb_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void
pb_buf_fail(pb_buf_t *b, int err)
{
    if (b->err == 0)
        b->err = err;
}

int
pb_buf_flush(pb_buf_t *b)
{
    if (b->err != 0 || b->sink == NULL || b->len == 0)
        return b->err;
    int err = b->sink(b->sink_arg, b->data, b->len);
    b->len = 0;
    pb_buf_fail(b, err);
    return b->err;
}

/* Makes room for n more bytes in a scratch buffer. */
static bool
pb_scratch_reserve(pb_buf_t *b, size_t n)
{
    if (n <= b->cap - b->len)
        return true;
    if (n > SIZE_MAX / 2 - b->len) {
        pb_buf_fail(b, ENOMEM);
        return false;
    }
    size_t cap = b->cap < PB_SCRATCH_MIN ? PB_SCRATCH_MIN : b->cap;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *data = realloc(b->data, cap);
    if (data == NULL) {
        pb_buf_fail(b, ENOMEM);
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

/* Appends to a stream, handing full buffers to the sink. */
static void
pb_stream_append(pb_buf_t *b, const uint8_t *p, size_t n)
{
    if (n > b->cap - b->len && pb_buf_flush(b) != 0)
        return;
    if (n > b->cap) {
        pb_buf_fail(b, b->sink(b->sink_arg, p, n));
        return;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void
pb_raw(pb_buf_t *b, const void *p, size_t n)
{
    if (b->err != 0 || n == 0)
        return;
    if (b->sink != NULL) {
        pb_stream_append(b, p, n);
        return;
    }
    if (!pb_scratch_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

size_t
pb_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void
pb_varint(pb_buf_t *b, uint64_t v)
{
    uint8_t tmp[PB_VARINT_MAX];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    pb_raw(b, tmp, n);
}

void
pb_key(pb_buf_t *b, unsigned field, enum pb_wire wire)
{
    pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

void
pb_uint64(pb_buf_t *b, unsigned field, uint64_t v)
{
    pb_key(b, field, PB_WIRE_VARINT);
    pb_varint(b, v);
}

void
pb_int64(pb_buf_t *b, unsigned field, int64_t v)
{
    pb_uint64(b, field, (uint64_t)v);
}

void
pb_uint64_opt(pb_buf_t *b, unsigned field, uint64_t v)
{
    if (v != 0)
        pb_uint64(b, field, v);
}

void
pb_int64_opt(pb_buf_t *b, unsigned field, int64_t v)
{
    if (v != 0)
        pb_int64(b, field, v);
}

void
pb_bool_opt(pb_buf_t *b, unsigned field, bool v)
{
    if (v)
        pb_uint64(b, field, 1);
}

void
pb_bytes(pb_buf_t *b, unsigned field, const void *p, size_t n)
{
    pb_key(b, field, PB_WIRE_LEN);
    pb_varint(b, n);
    pb_raw(b, p, n);
}

void
pb_string(pb_buf_t *b, unsigned field, const char *s)
{
    pb_bytes(b, field, s, s == NULL ? 0 : strlen(s));
}

void
pb_message(pb_buf_t *b, unsigned field, const pb_buf_t *msg)
{
    if (msg->err != 0) {
        pb_buf_fail(b, msg->err);
        return;
    }
    pb_bytes(b, field, msg->data, msg->len);
}

void
pb_packed_uint64(pb_buf_t *b, unsigned field, const uint64_t *v, size_t n)
{
    if (n == 0)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += pb_varint_size(v[i]);
    pb_key(b, field, PB_WIRE_LEN);
    pb_varint(b, len);
    for (size_t i = 0; i < n; i++)
        pb_varint(b, v[i]);
}

void
pb_packed_int64(pb_buf_t *b, unsigned field, const int64_t *v, size_t n)
{
    if (n == 0)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += pb_varint_size((uint64_t)v[i]);
    pb_key(b, field, PB_WIRE_LEN);
    pb_varint(b, len);
    for (size_t i = 0; i < n; i++)
        pb_varint(b, (uint64_t)v[i]);
}
