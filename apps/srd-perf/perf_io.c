/*
 * perf_io.c — time, waiting for completions and sending with retry, for both roles.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

#include "perf.h"

volatile int perf_stop;

uint64_t perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int perf_poll(struct srdc *h, struct srdc_completion *c, int max, enum perf_wait how)
{
	uint64_t start = 0;
	unsigned empty = 0;

	for (;;) {
		int n = srdc_poll(h, c, max);

		if (n != 0 || perf_stop)
			return n;
		if (how != PERF_WAIT_SLEEP) {
			/* spin (and yield), but come back empty-handed after about 1 ms so that
			 * callers can keep their own timeouts (the clock is read every 64 polls:
			 * it costs as much as a poll) */
			if (++empty % 64 == 1) {
				if (start == 0)
					start = perf_now_ns();
				else if (perf_now_ns() - start > 1000000ull)
					return 0;
			}
			if (how == PERF_WAIT_YIELD)
				sched_yield();
			continue;
		}
		/* libsrd spins while completions are recent (srdc_set_spin), then sleeps */
		n = srdc_wait(h, 1);
		if (n == -ENOTCONN)
			return n;
		return srdc_poll(h, c, max);
	}
}

int perf_send(struct srdc *h, struct srdc_ep *ep, const struct srdc_addr *to, void *buf,
	      uint32_t len, uint64_t tag, void *ctx, enum perf_wait how, perf_comp_fn on_comp,
	      void *arg)
{
	struct srdc_iov iov = { buf, len };

	for (;;) {
		struct srdc_completion c[16];
		int rc = srdc_send(ep, to, &iov, 1, tag, 0, ctx), n;

		if (rc != -EAGAIN)
			return rc;
		/* the rings are full: take completions (they make room) */
		n = perf_poll(h, c, 16, how);
		if (n < 0)
			return n;
		if (perf_stop)
			return -EINTR;
		for (int i = 0; i < n; i++)
			on_comp(arg, &c[i]);
	}
}

int perf_lat_csv_open(const struct perf_opts *o, bool header, FILE **out)
{
	*out = NULL;
	if (!o->csv)
		return 0;
	*out = fopen(o->csv, header ? "w" : "a");
	if (!*out) {
		fprintf(stderr, "srd-perf: cannot write %s\n", o->csv);
		return -EIO;
	}
	if (header)
		fprintf(*out, "size,iteration,one_way_ns\n");
	return 0;
}

void perf_lat_gap(const struct perf_opts *o)
{
	if (o->gap_ns)
		nanosleep(&(struct timespec){ .tv_sec = (time_t)(o->gap_ns / 1000000000u),
					       .tv_nsec = (long)(o->gap_ns % 1000000000u) },
			  NULL);
}
