/*
 * hist.c — the log-linear latency histogram (see hist.h).
 *
 * Bucket of a value v: below 128, v itself; above, with s = msb(v) - 6 (so that v >> s
 * lies in [64, 127]), s * 64 + (v >> s).  The buckets are contiguous: 127 -> 127,
 * 128 -> 128, 255 -> 191, 256 -> 192.
 */
#include "hist.h"

#include <string.h>

#define HALF (1u << (HIST_SUB_BITS - 1u)) /* 64 */

static uint32_t bucket_of(uint64_t v)
{
	uint32_t shift;

	if (v < (1u << HIST_SUB_BITS))
		return (uint32_t)v;
	shift = (uint32_t)(63 - __builtin_clzll(v)) - (HIST_SUB_BITS - 1u);
	if (shift > HIST_MAX_SHIFT)
		return HIST_BUCKETS - 1u;
	return shift * HALF + (uint32_t)(v >> shift);
}

/* The highest value bucket b stands for. */
static uint64_t bucket_high(uint32_t b)
{
	uint32_t shift = b < 2 * HALF ? 0 : b / HALF - 1u;
	uint64_t mant = b - (uint64_t)shift * HALF;

	return ((mant + 1) << shift) - 1;
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

void hist_record(struct hist *h, uint64_t ns)
{
	h->bucket[bucket_of(ns)]++;
	h->count++;
	h->sum_ns += ns;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void hist_merge(struct hist *a, const struct hist *b)
{
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		a->bucket[i] += b->bucket[i];
	a->count += b->count;
	a->sum_ns += b->sum_ns;
	if (b->min_ns < a->min_ns)
		a->min_ns = b->min_ns;
	if (b->max_ns > a->max_ns)
		a->max_ns = b->max_ns;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	if (pct >= 100.0)
		return h->max_ns;
	want = (uint64_t)(pct / 100.0 * (double)h->count + 0.5);
	if (want == 0)
		want = 1;
	for (uint32_t b = 0; b < HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= want) {
			uint64_t v = bucket_high(b);

			return v < h->max_ns ? (v > h->min_ns ? v : h->min_ns) : h->max_ns;
		}
	}
	return h->max_ns;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)(h->sum_ns / h->count) : 0.0;
}

void hist_print_distribution(const struct hist *h, FILE *out)
{
	double pct = 0.0;

	fprintf(out, "%12s %14s %10s %14s\n\n", "Value(us)", "Percentile", "TotalCount",
		"1/(1-Percentile)");
	if (h->count == 0)
		return;
	/* five ticks per halving of what is left to 100%, as HdrHistogram prints */
	for (int half = 0; half < 40; half++) {
		double rest = 100.0 / (double)(1ull << half);

		for (int t = 0; t < 5; t++) {
			uint64_t v = hist_percentile(h, pct), below = 0;
			uint32_t vb = bucket_of(v);

			for (uint32_t b = 0; b <= vb && b < HIST_BUCKETS; b++)
				below += h->bucket[b];
			fprintf(out, "%12.3f %14.12f %10llu %14.2f\n", (double)v / 1000.0, pct / 100.0,
				(unsigned long long)below, pct < 100.0 ? 100.0 / (100.0 - pct) : 0.0);
			pct += rest / 2.0 / 5.0;
		}
		if ((uint64_t)((100.0 - pct) / 100.0 * (double)h->count) < 1)
			break;
	}
	fprintf(out, "%12.3f %14.12f %10llu\n", (double)h->max_ns / 1000.0, 1.0,
		(unsigned long long)h->count);
	fprintf(out, "#[Mean    = %12.3f, Max = %12.3f]\n#[Count   = %12llu]\n",
		hist_mean(h) / 1000.0, (double)h->max_ns / 1000.0, (unsigned long long)h->count);
}
