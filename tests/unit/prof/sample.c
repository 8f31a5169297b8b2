/*
 * sample.c — unit tests of prof/sample: the weights are the inverse of the
 * sampling probability, gaps are exponential with mean R, exact mode.
 */
#include "hs_test.h"

#include <math.h>

#include "sample.h"

HS_TEST(weight_is_inverse_probability)
{
    uint64_t r = 65536;
    size_t sizes[] = {16, 24, 32, 4096, 65536, 1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        double p = 1.0 - exp(-(double)sizes[i] / (double)r);
        HS_EXPECT_NEAR(sample_weight(sizes[i], r), 1.0 / p, 1e-9 / p);
    }
    /* Tiny objects: 1/p(s) ~ R/s + 1/2. */
    HS_EXPECT_NEAR(sample_weight(16, r), 65536.0 / 16 + 0.5, 0.01);
    /* Huge objects are sampled almost surely. */
    HS_EXPECT_NEAR(sample_weight((size_t)1 << 30, r), 1.0, 1e-12);
}

HS_TEST(exact_mode_weighs_one_and_has_no_gap)
{
    uint64_t saved = sample_interval();
    sample_set_interval(1);
    HS_EXPECT_EQ_U64(sample_next_gap(), 0);
    HS_EXPECT_NEAR(sample_weight(24, 1), 1.0, 0.0);
    sample_set_interval(0); /* clamps to 1 */
    HS_EXPECT_EQ_U64(sample_interval(), 1);
    sample_set_interval(saved);
}

HS_TEST(gaps_are_exponential_with_mean_r)
{
    uint64_t saved = sample_interval();
    sample_set_interval(100000);
    const int n = 200000;
    double sum = 0, sumsq = 0;
    int below_mean = 0;
    for (int i = 0; i < n; i++) {
        double g = (double)sample_next_gap();
        sum += g;
        sumsq += g * g;
        below_mean += g < 100000;
    }
    double mean = sum / n;
    double sd = sqrt(sumsq / n - mean * mean);
    /* Mean R within 1 % (its standard error is 0.22 %), standard deviation
     * equal to the mean, and P(gap < R) = 1 - 1/e = 0.632. */
    HS_EXPECT_NEAR(mean, 100000.0, 1000.0);
    HS_EXPECT_NEAR(sd, 100000.0, 2000.0);
    HS_EXPECT_NEAR((double)below_mean / n, 1.0 - exp(-1.0), 0.005);
    sample_set_interval(saved);
}

HS_TEST(foreign_stream_is_separate)
{
    uint64_t saved = sample_interval();
    sample_set_interval(4096);
    /* Both streams produce positive gaps of the right scale. */
    double a = 0, b = 0;
    for (int i = 0; i < 10000; i++) {
        a += (double)sample_next_gap();
        b += (double)sample_next_gap_foreign();
    }
    HS_EXPECT_NEAR(a / 10000, 4096.0, 250.0);
    HS_EXPECT_NEAR(b / 10000, 4096.0, 250.0);
    sample_set_interval(saved);
}

HS_TEST_MAIN()
