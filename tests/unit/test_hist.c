/*
 * test_hist.c -- the load generator's latency histogram (tests/bench/hist.c):
 * bucket boundaries without gaps or overlaps over the whole 64-bit range,
 * quantiles within the promised relative error, merging, empty and
 * extreme values.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../bench/hist.h"
#include "suites.h"

START_TEST(test_hist_buckets_contiguous)
{
    /* Every bucket starts right after the previous one ends. */
    for (size_t i = 1; i < HIST_BUCKETS; i++)
        ck_assert_uint_eq(hist_bucket_low(i), hist_bucket_high(i - 1) + 1);
    ck_assert_uint_eq(hist_bucket_low(0), 0);
    ck_assert_uint_eq(hist_bucket_high(HIST_BUCKETS - 1), UINT64_MAX);
    /* A value falls in the bucket whose range holds it. */
    uint64_t probes[] = {0, 1, 127, 128, 129, 255, 256, 1000, 123456789,
                         (1ull << 40) + 12345, UINT64_MAX - 1, UINT64_MAX};
    for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
        size_t i = hist_index(probes[k]);
        ck_assert_uint_lt(i, HIST_BUCKETS);
        ck_assert_uint_le(hist_bucket_low(i), probes[k]);
        ck_assert_uint_ge(hist_bucket_high(i), probes[k]);
    }
}
END_TEST

START_TEST(test_hist_quantiles_uniform)
{
    struct hist *h = malloc(sizeof(*h));

    hist_init(h);
    /* 1..100000 microseconds, in nanoseconds. */
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(h, v * 1000);
    ck_assert_uint_eq(h->count, 100000);
    ck_assert_uint_eq(h->min, 1000);
    ck_assert_uint_eq(h->max, 100000000);
    double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t k = 0; k < 4; k++) {
        double want = qs[k] * 100000 * 1000;
        double got = (double)hist_quantile(h, qs[k]);
        ck_assert_msg(got > want * 0.98 && got < want * 1.02,
                      "q%.3f: %.0f, want %.0f", qs[k], got, want);
    }
    ck_assert_uint_eq(hist_quantile(h, 0), 1000);
    ck_assert_uint_eq(hist_quantile(h, 1), 100000000);
    double mean = hist_mean(h);
    ck_assert(mean > 50000499.0 && mean < 50000501.0);
    free(h);
}
END_TEST

START_TEST(test_hist_tail_and_merge)
{
    struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

    hist_init(a);
    hist_init(b);
    /* 990 fast values in one histogram, 10 slow ones in the other: the
     * p99.9 of the merge is slow, the p50 fast. */
    for (int i = 0; i < 990; i++)
        hist_record(a, 100000);     /* 100 us */
    for (int i = 0; i < 10; i++)
        hist_record(b, 50000000);   /* 50 ms */
    hist_merge(a, b);
    ck_assert_uint_eq(a->count, 1000);
    ck_assert_uint_eq(a->max, 50000000);
    uint64_t p50 = hist_quantile(a, 0.5), p999 = hist_quantile(a, 0.999);
    ck_assert(p50 > 98000 && p50 < 102000);
    ck_assert(p999 > 49000000 && p999 <= 50000000);
    /* p99 is the 990th value: still fast. */
    ck_assert_uint_lt(hist_quantile(a, 0.99), 102000);
    /* Merging an empty histogram changes nothing; an empty one reports 0. */
    hist_init(b);
    hist_merge(a, b);
    ck_assert_uint_eq(a->count, 1000);
    ck_assert_uint_eq(hist_quantile(b, 0.99), 0);
    ck_assert(hist_mean(b) == 0.0);
    free(a);
    free(b);
}
END_TEST

Suite *
suite_hist(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_hist_buckets_contiguous);
    tcase_add_test(tc, test_hist_quantiles_uniform);
    tcase_add_test(tc, test_hist_tail_and_merge);
    suite_add_tcase(s, tc);
    return s;
}
