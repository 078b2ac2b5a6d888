/*
 * hist.h -- a latency histogram with log-linear buckets (HDR style).
 *
 * Values (nanoseconds, or any unsigned count) below 2^HIST_SUB_BITS are
 * counted exactly; above, each power-of-two range is split in
 * 2^(HIST_SUB_BITS-1) equal buckets, so a reported quantile is within
 * 2^-(HIST_SUB_BITS-1) (about 1.6%) of the true value, over the whole
 * 64-bit range, in a fixed 31 KiB array.  Recording is a few instructions
 * and never allocates.  Not thread-safe: keep one per thread and merge.
 */
#ifndef DOSSIER_HIST_H
#define DOSSIER_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_HALF (1u << (HIST_SUB_BITS - 1))
/* Indexes: 0..2^S-1 exact, then shift 1..64-S, each HALF buckets. */
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 2) * HIST_HALF)

struct hist {
    uint64_t count;
    uint64_t min, max;
    long double sum;
    uint64_t b[HIST_BUCKETS];
};

/* Empties |h|. */
void hist_init(struct hist *h);

/* Counts one value |v|. */
void hist_record(struct hist *h, uint64_t v);

/* Adds every value counted in |src| to |dst|. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The value at quantile |q| (0..1): the midpoint of the bucket holding
 * the ceil(q * count)-th smallest value, clamped to [min, max].  0 when
 * |h| is empty.
 */
uint64_t hist_quantile(const struct hist *h, double q);

/* Mean of the values counted (exact, from their sum); 0 when empty. */
double hist_mean(const struct hist *h);

/* The bucket index of |v| and the lowest and highest value of bucket
 * |i| (exposed for the unit tests). */
size_t hist_index(uint64_t v);
uint64_t hist_bucket_low(size_t i);
uint64_t hist_bucket_high(size_t i);

#endif
