/*
 * hist.c -- log-linear latency histogram (see hist.h).
 *
 * Index of a value v >= 2^S (S = HIST_SUB_BITS): with m the position of
 * its highest set bit, shift = m - S + 1 keeps the S top bits of v as
 * sub = v >> shift, in [2^(S-1), 2^S); index = shift * 2^(S-1) + sub.
 * Consecutive ranges follow each other without gap: v = 2^S gives
 * index 2^S, just after the exact region 0..2^S-1.
 */
#include <string.h>

#include "hist.h"

void
hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t
hist_index(uint64_t v)
{
    unsigned m, shift;

    if (v < (1u << HIST_SUB_BITS))
        return (size_t)v;
    m = 63u - (unsigned)__builtin_clzll(v);
    shift = m - HIST_SUB_BITS + 1;
    return (size_t)shift * HIST_HALF + (size_t)(v >> shift);
}

uint64_t
hist_bucket_low(size_t i)
{
    size_t shift, sub;

    if (i < (1u << HIST_SUB_BITS))
        return i;
    shift = i / HIST_HALF - 1;
    sub = i - shift * HIST_HALF;
    return (uint64_t)sub << shift;
}

uint64_t
hist_bucket_high(size_t i)
{
    size_t shift, sub;

    if (i < (1u << HIST_SUB_BITS))
        return i;
    shift = i / HIST_HALF - 1;
    sub = i - shift * HIST_HALF;
    /* The last bucket ends at UINT64_MAX: (sub + 1) << shift overflows
     * to 0 there, and 0 - 1 is the right answer. */
    return (((uint64_t)sub + 1) << shift) - 1;
}

void
hist_record(struct hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    h->sum += (long double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
    uint64_t rank, seen = 0, v;

    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
            v = lo + (hi - lo) / 2;
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}

double
hist_mean(const struct hist *h)
{
    return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}
