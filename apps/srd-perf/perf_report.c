/*
 * perf_report.c — srd-perf's output: perftest-like table rows, or one JSON object per
 * result (--json), and the once-a-second progress line on stderr.
 */
#include <inttypes.h>
#include <stdio.h>

#include "hist.h"
#include "perf.h"

static const char *test_name(enum perf_test t)
{
	return t == PERF_LAT ? "lat" : t == PERF_BW ? "bw" : "rate";
}

void perf_report_lat(const struct perf_opts *o, bool header, uint32_t size,
		     const struct hist *h, uint64_t failed, double seconds)
{
	double us[7] = {
		(h->count ? (double)h->min_ns : 0.0) / 1e3, (double)hist_percentile(h, 50) / 1e3,
		(double)hist_percentile(h, 90) / 1e3, (double)hist_percentile(h, 99) / 1e3,
		(double)hist_percentile(h, 99.9) / 1e3, (double)h->max_ns / 1e3, hist_mean(h) / 1e3,
	};

	if (o->json) {
		printf("{\"test\":\"lat\",\"size\":%u,\"iters\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"seconds\":%.3f,\"min_us\":%.3f,\"p50_us\":%.3f,\"p90_us\":%.3f,"
		       "\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f,\"mean_us\":%.3f,"
		       "\"one_way\":true}\n",
		       size, h->count, failed, seconds, us[0], us[1], us[2], us[3], us[4], us[5], us[6]);
		fflush(stdout);
		return;
	}
	if (header)
		printf("# one-way latency = round trip / 2, microseconds\n"
		       "%10s %10s %9s %9s %9s %9s %9s %9s %9s\n", "#bytes", "#iters", "min", "p50",
		       "p90", "p99", "p99.9", "max", "mean");
	printf("%10u %10" PRIu64 " %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", size, h->count,
	       us[0], us[1], us[2], us[3], us[4], us[5], us[6]);
	if (failed)
		printf("# %" PRIu64 " round trips failed\n", failed);
	if (o->histogram)
		hist_print_distribution(h, stdout);
	fflush(stdout);
}

static double gbps(const struct perf_flow *f)
{
	return f->seconds > 0 ? (double)f->bytes * 8.0 / f->seconds / 1e9 : 0.0;
}

static double mmsgs(const struct perf_flow *f)
{
	return f->seconds > 0 ? (double)f->msgs / f->seconds / 1e6 : 0.0;
}

void perf_report_bw(const struct perf_opts *o, bool header, uint32_t size, uint32_t window,
		    const struct perf_flow *out, const struct perf_flow *back)
{
	double g = gbps(out) + (back ? gbps(back) : 0.0);
	double m = mmsgs(out) + (back ? mmsgs(back) : 0.0);

	if (o->json) {
		printf("{\"test\":\"%s\",\"size\":%u,\"window\":%u,\"threads\":%u,\"bidir\":%s,"
		       "\"msgs\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"seconds\":%.3f,\"gbps\":%.3f,\"mmsgs\":%.4f",
		       test_name(o->test), size, window, o->threads, back ? "true" : "false",
		       out->msgs + (back ? back->msgs : 0), out->bytes + (back ? back->bytes : 0),
		       out->failed + (back ? back->failed : 0), out->seconds, g, m);
		if (back)
			printf(",\"gbps_out\":%.3f,\"gbps_back\":%.3f", gbps(out), gbps(back));
		printf(",\"ordered\":%s,\"out_of_order\":%" PRIu64 ",\"pair\":%s",
		       o->ordered ? "true" : "false",
		       out->out_of_order + (back ? back->out_of_order : 0),
		       o->pair_ip ? "true" : "false");
		printf("}\n");
		fflush(stdout);
		return;
	}
	if (header && o->pair_ip)
		printf("# --pair: one thread sends from --local and receives on the --pair address\n");
	if (header)
		printf("%10s %10s %7s %7s %9s %10s %10s %8s\n", "#bytes", "#msgs", "window",
		       "threads", "seconds", "Gbit/s", "Mmsg/s", "failed");
	printf("%10u %10" PRIu64 " %7u %7u %9.3f %10.3f %10.4f %8" PRIu64 "\n", size,
	       out->msgs + (back ? back->msgs : 0), window, o->threads, out->seconds, g, m,
	       out->failed + (back ? back->failed : 0));
	if (back)
		printf("# both ways: %.3f Gbit/s out, %.3f Gbit/s back\n", gbps(out), gbps(back));
	if (o->ordered || out->out_of_order || (back && back->out_of_order))
		printf("# %s endpoints: %" PRIu64 " messages arrived out of order\n",
		       o->ordered ? "ordered" : "unordered",
		       out->out_of_order + (back ? back->out_of_order : 0));
	fflush(stdout);
}

void perf_progress_start(struct perf_progress *p)
{
	*p = (struct perf_progress){ .start_ns = perf_now_ns() };
	p->last_ns = p->start_ns;
}

void perf_progress(const struct perf_opts *o, struct perf_progress *p, uint64_t msgs,
		   uint64_t bytes)
{
	uint64_t now = perf_now_ns();
	bool long_run = o->duration_ns > 3000000000ull || now - p->start_ns >= 3000000000ull;
	double dt;

	if (now - p->last_ns < 1000000000ull)
		return;
	dt = (double)(now - p->last_ns);
	if (long_run)
		fprintf(stderr, "[%6.1f s] %s: %" PRIu64 " msgs, %.3f Gbit/s, %.4f Mmsg/s\n",
			(double)(now - p->start_ns) / 1e9, test_name(o->test), msgs,
			(double)(bytes - p->last_bytes) * 8.0 / dt,
			(double)(msgs - p->last_msgs) * 1e3 / dt);
	p->last_ns = now;
	p->last_msgs = msgs;
	p->last_bytes = bytes;
}
