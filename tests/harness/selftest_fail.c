/*
 * selftest_fail.c — a program whose tests all fail on purpose, run by
 * selftest_fail.cmake to prove the harness reports failures: non-zero
 * exit, "name ... FAILED", file:line and both values.
 *
 * Owns nothing else.  Each test below fails exactly once (the markers in
 * the values are what selftest_fail.cmake looks for).
 */
#include "hs_test.h"

#include <stdint.h>

HS_TEST(fails_u64)
{
    HS_EXPECT_EQ_U64(12345, 54321);
}

HS_TEST(fails_str)
{
    HS_EXPECT_EQ_STR("left-marker", "right-marker");
}

HS_TEST(fails_ptr)
{
    HS_EXPECT_NULL((void *)(uintptr_t)0xabcdef0);
}

HS_TEST(assert_returns)
{
    HS_ASSERT_TRUE(0);
    HS_FAIL("not reached");
}

HS_TEST(passes)
{
    HS_EXPECT_TRUE(1);
}

HS_TEST_MAIN()
