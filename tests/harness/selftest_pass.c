/*
 * selftest_pass.c — checks that every typed expectation of the harness
 * passes on true comparisons (and that HS_SKIP is not a failure).
 *
 * Owns nothing beyond these checks; its twin selftest_fail.c proves the
 * same macros fail.
 */
#include "hs_test.h"

#include <stdint.h>
#include <string.h>

static int hs_selftest_evaluations;

static int
hs_selftest_count(int v)
{
    hs_selftest_evaluations++;
    return v;
}

HS_TEST(expectations_hold)
{
    int x = 0;
    HS_EXPECT_EQ_U64(UINT64_MAX, UINT64_MAX);
    HS_EXPECT_LT_U64(1, 2);
    HS_EXPECT_EQ_SIZE(sizeof(uint32_t), 4);
    HS_EXPECT_GE_SIZE((size_t)5, 5);
    HS_EXPECT_EQ_INT(-3, -3);
    HS_EXPECT_LT_INT(-3, 2);
    HS_EXPECT_EQ_PTR(&x, &x);
    HS_EXPECT_NE_PTR(&x, NULL);
    HS_EXPECT_NULL(NULL);
    HS_EXPECT_NOT_NULL(&x);
    HS_EXPECT_EQ_STR("abc", "abc");
    HS_EXPECT_NE_STR("abc", "abd");
    HS_EXPECT_NE_STR("abc", NULL);
    HS_EXPECT_TRUE(1 + 1 == 2);
    HS_EXPECT_FALSE(strlen("a") == 2);
    HS_EXPECT_NEAR(1.0, 1.05, 0.1);
    HS_EXPECT_ALIGNED((void *)(uintptr_t)4096, 4096);
    HS_EXPECT_EQ_INT(hs_selftest_count(7), 7);
    HS_EXPECT_EQ_INT(hs_selftest_evaluations, 1);
    HS_ASSERT_TRUE(true);
    HS_EXPECT_EQ_U64(hs_test_failures(), 0);
}

HS_TEST(skip_is_not_failure)
{
    HS_SKIP("demonstrates skipping");
}

HS_TEST_MAIN()
