/*
 * pb.c — unit tests of prof/pb, the streaming protobuf encoder: varint
 * and key bytes against hand-computed encodings, int64 two's complement,
 * the *_opt forms, strings and nested messages, packed repeated fields,
 * streams (flushes in any cut, large writes straight through, order kept)
 * and sticky errors.
 */
#include "hs_test.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"

/* Compares b's bytes with the n bytes at expect. */
static bool
bytes_eq(const pb_buf_t *b, const uint8_t *expect, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->data, expect, n) == 0);
}

#define EXPECT_BYTES(b, ...)                                                   \
    do {                                                                       \
        static const uint8_t expect_[] = {__VA_ARGS__};                        \
        HS_EXPECT_TRUE(bytes_eq((b), expect_, sizeof expect_));                \
    } while (0)

HS_TEST(varints)
{
    pb_buf_t b;
    pb_buf_init(&b);
    pb_varint(&b, 0);
    EXPECT_BYTES(&b, 0x00);
    pb_buf_reset(&b);
    pb_varint(&b, 127);
    EXPECT_BYTES(&b, 0x7f);
    pb_buf_reset(&b);
    pb_varint(&b, 128);
    EXPECT_BYTES(&b, 0x80, 0x01);
    pb_buf_reset(&b);
    pb_varint(&b, 300);
    EXPECT_BYTES(&b, 0xac, 0x02);
    pb_buf_reset(&b);
    pb_varint(&b, UINT64_MAX);
    EXPECT_BYTES(&b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                 0x01);
    HS_EXPECT_EQ_SIZE(pb_varint_size(0), 1);
    HS_EXPECT_EQ_SIZE(pb_varint_size(127), 1);
    HS_EXPECT_EQ_SIZE(pb_varint_size(128), 2);
    HS_EXPECT_EQ_SIZE(pb_varint_size(16383), 2);
    HS_EXPECT_EQ_SIZE(pb_varint_size(16384), 3);
    HS_EXPECT_EQ_SIZE(pb_varint_size(UINT64_MAX), PB_VARINT_MAX);
    HS_EXPECT_EQ_INT(b.err, 0);
    pb_buf_fini(&b);
}

HS_TEST(scalar_fields)
{
    pb_buf_t b;
    pb_buf_init(&b);
    pb_uint64(&b, 1, 150); /* the protobuf documentation's example */
    EXPECT_BYTES(&b, 0x08, 0x96, 0x01);
    pb_buf_reset(&b);
    pb_int64(&b, 2, -1);
    EXPECT_BYTES(&b, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                 0x01);
    pb_buf_reset(&b);
    pb_uint64(&b, 16, 1); /* a two-byte key */
    EXPECT_BYTES(&b, 0x80, 0x01, 0x01);
    pb_buf_reset(&b);
    pb_uint64_opt(&b, 3, 0);
    pb_int64_opt(&b, 3, 0);
    pb_bool_opt(&b, 3, false);
    HS_EXPECT_EQ_SIZE(b.len, 0);
    pb_uint64_opt(&b, 3, 5);
    pb_int64_opt(&b, 4, 6);
    pb_bool_opt(&b, 5, true);
    EXPECT_BYTES(&b, 0x18, 0x05, 0x20, 0x06, 0x28, 0x01);
    pb_buf_fini(&b);
}

HS_TEST(strings_and_messages)
{
    pb_buf_t b, m;
    pb_buf_init(&b);
    pb_buf_init(&m);
    pb_string(&b, 2, "testing");
    EXPECT_BYTES(&b, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g');
    pb_buf_reset(&b);
    pb_string(&b, 6, "");
    pb_string(&b, 6, NULL);
    EXPECT_BYTES(&b, 0x32, 0x00, 0x32, 0x00);
    pb_buf_reset(&b);
    pb_uint64(&m, 1, 150);
    pb_message(&b, 3, &m); /* the documentation's embedded example */
    EXPECT_BYTES(&b, 0x1a, 0x03, 0x08, 0x96, 0x01);
    pb_buf_reset(&b);
    pb_buf_reset(&m);
    pb_message(&b, 4, &m); /* an empty message is still a field */
    EXPECT_BYTES(&b, 0x22, 0x00);
    pb_buf_fini(&b);
    pb_buf_fini(&m);
}

HS_TEST(packed)
{
    pb_buf_t b;
    pb_buf_init(&b);
    const uint64_t u[] = {3, 270, 86942};
    pb_packed_uint64(&b, 4, u, 3); /* the documentation's packed example */
    EXPECT_BYTES(&b, 0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05);
    pb_buf_reset(&b);
    const int64_t s[] = {-1, 1};
    pb_packed_int64(&b, 2, s, 2);
    EXPECT_BYTES(&b, 0x12, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                 0xff, 0x01, 0x01);
    pb_buf_reset(&b);
    pb_packed_uint64(&b, 1, u, 0);
    pb_packed_int64(&b, 1, s, 0);
    HS_EXPECT_EQ_SIZE(b.len, 0);
    pb_buf_fini(&b);
}

HS_TEST(scratch_grows)
{
    pb_buf_t b;
    pb_buf_init(&b);
    for (uint64_t i = 0; i < 100000; i++)
        pb_varint(&b, i);
    size_t expect = 0;
    for (uint64_t i = 0; i < 100000; i++)
        expect += pb_varint_size(i);
    HS_EXPECT_EQ_SIZE(b.len, expect);
    HS_EXPECT_LE_SIZE(b.len, b.cap);
    HS_EXPECT_EQ_INT(b.err, 0);
    HS_EXPECT_EQ_U64(b.data[b.len - 1], 99999 >> 14); /* last varint byte */
    pb_buf_fini(&b);
}

/* A sink that collects what it is given, and can be made to fail. */
typedef struct sink_s {
    uint8_t *data;
    size_t len, cap;
    unsigned calls;
    size_t largest;
    int fail_with;
} sink_t;

static int
sink_collect(void *arg, const uint8_t *p, size_t n)
{
    sink_t *s = arg;
    s->calls++;
    if (s->fail_with != 0)
        return s->fail_with;
    if (n > s->largest)
        s->largest = n;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    return 0;
}

HS_TEST(stream_matches_scratch)
{
    sink_t s = {0};
    pb_buf_t st, sc;
    HS_ASSERT_EQ_INT(pb_stream_init(&st, sink_collect, &s), 0);
    pb_buf_init(&sc);
    static char big[3 * PB_STREAM_CAP];
    memset(big, 'x', sizeof big);
    pb_buf_t *both[2] = {&st, &sc};
    for (unsigned i = 0; i < 50000; i++) {
        for (int k = 0; k < 2; k++) {
            pb_uint64(both[k], 1 + i % 20, (uint64_t)i * 7919);
            if (i % 9973 == 0)
                pb_bytes(both[k], 6, big, sizeof big - i);
        }
    }
    HS_EXPECT_EQ_INT(pb_buf_flush(&st), 0);
    HS_EXPECT_EQ_SIZE(st.len, 0);
    HS_ASSERT_EQ_SIZE(s.len, sc.len);
    HS_EXPECT_TRUE(memcmp(s.data, sc.data, sc.len) == 0);
    HS_EXPECT_GT_U64(s.calls, 10);
    HS_EXPECT_GT_SIZE(s.largest, PB_STREAM_CAP); /* big went straight on */
    pb_buf_fini(&st);
    pb_buf_fini(&sc);
    free(s.data);
}

HS_TEST(sticky_errors)
{
    sink_t s = {.fail_with = ENOSPC};
    pb_buf_t st;
    HS_ASSERT_EQ_INT(pb_stream_init(&st, sink_collect, &s), 0);
    for (unsigned i = 0; i < 100000; i++)
        pb_uint64(&st, 1, i);
    HS_EXPECT_EQ_INT(st.err, ENOSPC);
    HS_EXPECT_EQ_U64(s.calls, 1); /* nothing more after the failure */
    HS_EXPECT_EQ_INT(pb_buf_flush(&st), ENOSPC);
    HS_EXPECT_EQ_U64(s.calls, 1);
    pb_buf_fini(&st);

    pb_buf_t b, m;
    pb_buf_init(&b);
    pb_buf_init(&m);
    pb_buf_fail(&m, ENOMEM);
    pb_buf_fail(&m, EIO); /* the first error wins */
    pb_uint64(&m, 1, 1);
    HS_EXPECT_EQ_SIZE(m.len, 0);
    pb_message(&b, 2, &m);
    HS_EXPECT_EQ_INT(b.err, ENOMEM);
    HS_EXPECT_EQ_SIZE(b.len, 0);
    pb_buf_fini(&b);
    pb_buf_fini(&m);
}

HS_TEST_MAIN()
