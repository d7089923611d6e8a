/*
 * hist.h — a latency histogram in the manner of HdrHistogram: log-linear buckets (64 per
 * power of two above 128 ns, so a value is kept within 1/64 = 1.6%), fixed memory, O(1)
 * record, exact count, minimum, maximum and mean.
 */
#ifndef SRD_PERF_HIST_H
#define SRD_PERF_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS 7u                                  /* 128 exact values, then 64 per octave */
#define HIST_MAX_SHIFT 34u                                /* values up to 2^41 ns (~36 min) */
#define HIST_BUCKETS ((HIST_MAX_SHIFT + 2u) << (HIST_SUB_BITS - 1u))

struct hist {
	uint64_t count;               /* values recorded */
	uint64_t min_ns, max_ns;      /* smallest and largest */
	long double sum_ns;           /* their sum (for the mean) */
	uint64_t bucket[HIST_BUCKETS];
};

/* Empty h. */
void hist_init(struct hist *h);

/* Record one value (nanoseconds; values beyond the range land in the last bucket, and
 * max_ns stays exact). */
void hist_record(struct hist *h, uint64_t ns);

/* Add every value of b to a. */
void hist_merge(struct hist *a, const struct hist *b);

/* The value below which pct percent of the values lie (the highest value its bucket
 * stands for, capped by max_ns; 100 gives max_ns).  0 for an empty histogram. */
uint64_t hist_percentile(const struct hist *h, double pct);

/* Mean in nanoseconds (0 if empty). */
double hist_mean(const struct hist *h);

/*
 * Print the percentile distribution as HdrHistogram's outputPercentileDistribution does:
 * "Value Percentile TotalCount 1/(1-Percentile)", five steps per halving of the distance to
 * 100%, values in microseconds, then the mean, maximum and count.
 */
void hist_print_distribution(const struct hist *h, FILE *out);

#endif /* SRD_PERF_HIST_H */
