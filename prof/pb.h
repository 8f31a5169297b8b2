/*
 * pb.h — a small streaming protocol-buffers encoder for the profile dump.
 *
 * Owns: the wire encoding (varints, length-delimited fields, packed
 * repeated varints) into a pb_buf_t.  Does not own any schema: callers
 * name field numbers.  There are no message trees: a nested message is
 * encoded into a reusable scratch pb_buf_t, then emitted into its parent
 * as one length-delimited field (pb_message), so every byte is written
 * once into a buffer whose length is known when the parent needs it.
 *
 * A pb_buf_t is either
 *   - a scratch buffer (sink == NULL): grows with realloc, reset with
 *     pb_buf_reset() and reused for the next message; or
 *   - a stream (sink != NULL): a fixed buffer of PB_STREAM_CAP bytes
 *     passed to the sink whenever it fills, and by pb_buf_flush().  A sink
 *     sees the encoding as a plain byte stream, so it may be cut anywhere.
 *
 * Errors are sticky: the first failure (ENOMEM, or a sink's errno value)
 * is kept in err and every later write is a no-op, so callers encode a
 * whole message and check once.
 *
 * Invariants: len <= cap; err != 0 => no byte was appended since the
 * failure; a stream's data holds only bytes not yet given to its sink.
 *
 * Threading: a pb_buf_t belongs to one thread.  Memory comes from malloc
 * (under the profiler's reentrancy guard, heapsight itself, unsampled).
 */
#ifndef HS_PB_H
#define HS_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wire types used here (profile.proto needs no fixed-width fields). */
enum pb_wire { PB_WIRE_VARINT = 0, PB_WIRE_LEN = 2 };

/* The most bytes one varint takes. */
enum { PB_VARINT_MAX = 10 };

/* Bytes a stream buffers before handing them to its sink. */
enum { PB_STREAM_CAP = 64 * 1024 };

/* Receives a stream's bytes; returns 0 or an errno value. */
typedef int (*pb_sink_fn)(void *arg, const uint8_t *data, size_t len);

typedef struct pb_buf_s {
    uint8_t *data;   /* owner thread only */
    size_t len;      /* bytes in data */
    size_t cap;      /* bytes allocated at data */
    int err;         /* 0, or the first failure's errno value */
    pb_sink_fn sink; /* NULL for a scratch buffer */
    void *sink_arg;
} pb_buf_t;

/* A scratch buffer, empty; allocates on first use. */
void pb_buf_init(pb_buf_t *b);
/* A stream into sink; returns 0 or ENOMEM. */
int pb_stream_init(pb_buf_t *b, pb_sink_fn sink, void *arg);
/* Empties a scratch buffer (keeps its memory and its error). */
void pb_buf_reset(pb_buf_t *b);
/* Frees the memory; the buffer may be initialized again. */
void pb_buf_fini(pb_buf_t *b);
/* Hands a stream's buffered bytes to its sink; returns b->err. */
int pb_buf_flush(pb_buf_t *b);
/* Records an error (the first one wins). */
void pb_buf_fail(pb_buf_t *b, int err);

/* Raw bytes and raw varints, without a tag. */
void pb_raw(pb_buf_t *b, const void *p, size_t n);
void pb_varint(pb_buf_t *b, uint64_t v);
/* Bytes v takes as a varint (1..10). */
size_t pb_varint_size(uint64_t v);

/* A field's key: (field << 3) | wire type. */
void pb_key(pb_buf_t *b, unsigned field, enum pb_wire wire);

/*
 * Scalar fields.  int64 values are encoded as protobuf int64 (two's
 * complement, so a negative value takes ten bytes); bool as 0/1.  The
 * *_opt forms skip the field when the value is zero, as proto3 does.
 */
void pb_uint64(pb_buf_t *b, unsigned field, uint64_t v);
void pb_int64(pb_buf_t *b, unsigned field, int64_t v);
void pb_uint64_opt(pb_buf_t *b, unsigned field, uint64_t v);
void pb_int64_opt(pb_buf_t *b, unsigned field, int64_t v);
void pb_bool_opt(pb_buf_t *b, unsigned field, bool v);

/* Length-delimited fields: bytes, a string of n bytes, a C string. */
void pb_bytes(pb_buf_t *b, unsigned field, const void *p, size_t n);
void pb_string(pb_buf_t *b, unsigned field, const char *s);
/* A nested message already encoded into msg (a scratch buffer). */
void pb_message(pb_buf_t *b, unsigned field, const pb_buf_t *msg);

/* Packed repeated varints; nothing is written when n == 0. */
void pb_packed_uint64(pb_buf_t *b, unsigned field, const uint64_t *v, size_t n);
void pb_packed_int64(pb_buf_t *b, unsigned field, const int64_t *v, size_t n);

#endif /* HS_PB_H */
