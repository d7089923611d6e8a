/*
 * perf_lat.c — the ping-pong loop of both lat roles that measure (the client of a server and
 * --pair): it times each round trip a callback makes, records one-way = round trip / 2,
 * writes --csv, prints progress, honours --warmup, -n / -D and --gap, and reports.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "perf.h"

int perf_lat_loop(const struct perf_opts *o, uint32_t size, bool header, bool stop_on_failure,
		  perf_round_trip_fn round_trip, void *arg, uint64_t *failed)
{
	struct hist *h = malloc(sizeof(*h));
	uint64_t t_start;
	struct perf_progress prog;
	FILE *csv;
	int rc;

	*failed = 0;
	if (!h)
		return -ENOMEM;
	hist_init(h);
	rc = perf_lat_csv_open(o, header, &csv);
	if (rc) {
		free(h);
		return rc;
	}
	perf_progress_start(&prog);
	t_start = perf_now_ns();
	for (uint64_t i = 0; !perf_stop; i++) {
		uint64_t t0, one_way;
		bool warm = i < o->warmup;

		if (!warm && (o->iters ? i - o->warmup >= o->iters :
					 perf_now_ns() - t_start >= o->duration_ns))
			break;
		t0 = perf_now_ns();
		rc = round_trip(arg, i);
		one_way = (perf_now_ns() - t0) / 2;
		if (rc) {
			(*failed)++;
			fprintf(stderr, "srd-perf: round trip %" PRIu64 " failed: %s\n", i,
				rc == -ETIMEDOUT ? "no answer in 10 s" : strerror(-rc));
			if (stop_on_failure || rc == -ENOTCONN || rc == -EINTR)
				break;
			continue;
		}
		if (warm) {
			if (i + 1 == o->warmup)
				t_start = perf_now_ns();
			continue;
		}
		hist_record(h, one_way);
		if (csv)
			fprintf(csv, "%u,%" PRIu64 ",%" PRIu64 "\n", size, i - o->warmup, one_way);
		perf_progress(o, &prog, h->count, h->count * size);
		perf_lat_gap(o);
	}
	perf_report_lat(o, header, size, h, *failed, (double)(perf_now_ns() - t_start) / 1e9);
	if (csv)
		fclose(csv);
	free(h);
	return rc;
}
