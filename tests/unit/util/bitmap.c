/*
 * bitmap.c — unit tests of alloc/util/bitmap: init_full, get/set/clear,
 * take_first (lowest first, BITMAP_MAXBITS when empty), take_many (the
 * same order as repeated take_first, in one pass) and count.
 *
 * Checks the invariant of bitmap.h: bits at or above nbits are clear, so a
 * search never returns an index >= nbits.
 */
#include "hs_test.h"

#include "util/bitmap.h"

static const size_t nbits_cases[] = {0,   1,   2,   63,  64,  65, 127,
                                     128, 129, 300, 448, 511, 512};

HS_TEST(init_full_sets_exactly_nbits)
{
    for (size_t c = 0; c < sizeof nbits_cases / sizeof nbits_cases[0]; c++) {
        size_t nbits = nbits_cases[c];
        bitmap_t b;
        /* Garbage first: init must not depend on prior contents. */
        for (size_t w = 0; w < BITMAP_NWORDS; w++)
            b.words[w] = 0xa5a5a5a5a5a5a5a5ull;
        bitmap_init_full(&b, nbits);
        HS_EXPECT_EQ_SIZE(bitmap_count(&b), nbits);
        for (size_t i = 0; i < BITMAP_MAXBITS; i++) {
            if (bitmap_get(&b, i) != (i < nbits)) {
                HS_FAIL("nbits %zu: bit %zu is %d", nbits, i,
                        (int)bitmap_get(&b, i));
                break;
            }
        }
    }
}

HS_TEST(take_first_is_ascending_then_exhausted)
{
    for (size_t c = 0; c < sizeof nbits_cases / sizeof nbits_cases[0]; c++) {
        size_t nbits = nbits_cases[c];
        bitmap_t b;
        bitmap_init_full(&b, nbits);
        for (size_t i = 0; i < nbits; i++) {
            size_t got = bitmap_take_first(&b);
            if (got != i) {
                HS_FAIL("nbits %zu: take %zu returned %zu", nbits, i, got);
                break;
            }
        }
        HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), BITMAP_MAXBITS);
        HS_EXPECT_EQ_SIZE(bitmap_count(&b), 0);
        /* Still empty: a failed take changes nothing. */
        HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), BITMAP_MAXBITS);
    }
}

HS_TEST(take_many_matches_take_first)
{
    for (size_t c = 0; c < sizeof nbits_cases / sizeof nbits_cases[0]; c++) {
        size_t nbits = nbits_cases[c];
        bitmap_t a, b;
        bitmap_init_full(&a, nbits);
        /* Holes across word boundaries: every third bit, and bit 64. */
        for (size_t i = 0; i < nbits; i += 3)
            bitmap_clear(&a, i);
        if (nbits > 64)
            bitmap_clear(&a, 64);
        b = a;
        size_t left = bitmap_count(&a);
        uint32_t idx[BITMAP_MAXBITS];
        /* In chunks of 7, then whatever is left, then nothing. */
        while (left > 0) {
            size_t want = left < 7 ? left : 7;
            size_t got = bitmap_take_many(&a, idx, want);
            HS_ASSERT_EQ_SIZE(got, want);
            for (size_t i = 0; i < got; i++)
                HS_EXPECT_EQ_SIZE(idx[i], bitmap_take_first(&b));
            left -= got;
        }
        HS_EXPECT_EQ_SIZE(bitmap_take_many(&a, idx, 5), 0);
        HS_EXPECT_EQ_SIZE(bitmap_count(&a), 0);
        HS_EXPECT_EQ_SIZE(bitmap_count(&b), 0);
    }
}

HS_TEST(set_clear_get_and_lowest_first)
{
    bitmap_t b;
    bitmap_init_full(&b, 0);
    static const size_t bits[] = {511, 0, 64, 63, 200, 128, 1};
    for (size_t k = 0; k < sizeof bits / sizeof bits[0]; k++) {
        HS_EXPECT_FALSE(bitmap_get(&b, bits[k]));
        bitmap_set(&b, bits[k]);
        HS_EXPECT_TRUE(bitmap_get(&b, bits[k]));
        HS_EXPECT_EQ_SIZE(bitmap_count(&b), k + 1);
    }
    /* Setting twice is idempotent. */
    bitmap_set(&b, 64);
    HS_EXPECT_EQ_SIZE(bitmap_count(&b), 7);
    bitmap_clear(&b, 1);
    HS_EXPECT_FALSE(bitmap_get(&b, 1));
    HS_EXPECT_TRUE(bitmap_get(&b, 0));
    HS_EXPECT_TRUE(bitmap_get(&b, 63));
    static const size_t order[] = {0, 63, 64, 128, 200, 511};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), order[k]);
    HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), BITMAP_MAXBITS);
}

HS_TEST(freed_low_bit_is_taken_next)
{
    /* The slab pattern: take a run, give one back, get that one again. */
    bitmap_t b;
    bitmap_init_full(&b, 300);
    for (size_t i = 0; i < 150; i++)
        bitmap_take_first(&b);
    bitmap_set(&b, 70);
    bitmap_set(&b, 5);
    HS_EXPECT_EQ_SIZE(bitmap_count(&b), 152);
    HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), 5);
    HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), 70);
    HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), 150);
}

HS_TEST(word_boundaries)
{
    bitmap_t b;
    bitmap_init_full(&b, BITMAP_MAXBITS);
    for (size_t w = 0; w < BITMAP_NWORDS; w++) {
        HS_EXPECT_EQ_U64(b.words[w], ~(uint64_t)0);
    }
    for (size_t i = 0; i < BITMAP_MAXBITS; i++)
        if (i % 64 != 63)
            bitmap_clear(&b, i);
    HS_EXPECT_EQ_SIZE(bitmap_count(&b), BITMAP_NWORDS);
    for (size_t w = 0; w < BITMAP_NWORDS; w++)
        HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), w * 64 + 63);
    HS_EXPECT_EQ_SIZE(bitmap_take_first(&b), BITMAP_MAXBITS);
}

HS_TEST_MAIN()
