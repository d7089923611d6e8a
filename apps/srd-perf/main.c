/*
 * srd-perf — latency, bandwidth and message-rate tests over srdd's shared-memory API, in
 * the manner of perftest (ib_send_lat, ib_send_bw) and sockperf.
 *
 *   srd-perf lat [options]                  a server: prints its address, serves one run
 *   srd-perf lat [options] 10.77.0.2:1      a client of that server
 *
 * See usage() for the options.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: srd-perf lat|bw|rate [options] [SERVER]\n"
		"  Without SERVER: run the server (prints its address; serves one client run).\n"
		"  With SERVER (a.b.c.d:ep, as the server printed it): run the client.\n"
		"\n"
		"  lat    ping-pong: one-way latency (round trip / 2): min, p50, p90, p99, p99.9,\n"
		"         max, mean in microseconds\n"
		"  bw     a window of messages in flight: Gbit/s and million messages/s\n"
		"  rate   as bw with small messages, from several threads (-t)\n"
		"\n"
		"  -S, --socket PATH     srdd's control socket (default /run/srd/srdd.sock)\n"
		"  -L, --local IP        open endpoints on this daemon address (default: its first)\n"
		"      --pair IP         no SERVER: one thread holds both ends, an endpoint on\n"
		"                        --local and one it opens on IP (another address of the\n"
		"                        same daemon): the figures without two apps trading a CPU.\n"
		"                        lat: pings from --local to IP, echoes back (one attachment);\n"
		"                        bw, rate: sends from --local to IP with -w in flight, each\n"
		"                        end with its own attachment, as two apps; checks that every\n"
		"                        completed send arrived once (one thread: no -t above 1, no -b)\n"
		"  -s, --size BYTES      message size, K/M suffixes (lat, rate: 64; bw: 64K)\n"
		"  -n, --iters N         messages (lat: round trips) per thread (lat, bw: 10000;\n"
		"                        rate: 100000)\n"
		"  -D, --duration SEC    run for SEC seconds instead of -n\n"
		"  -w, --window N        messages in flight per thread (bw: 32, rate: 64)\n"
		"  -t, --threads N       client threads (rate, bw), or server endpoints (1..16)\n"
		"  -a, --all             sweep sizes 64 B .. 16 MiB (lat: .. 64 KiB), doubling\n"
		"  -b, --bidir           bw: the server sends back at the same time\n"
		"      --warmup N        lat: round trips not counted first (default 100)\n"
		"      --gap US          lat: stay idle US microseconds between round trips (the\n"
		"                        latency of a message that meets idle waiters and daemons)\n"
		"  -H, --histogram       lat: print the percentile distribution (HdrHistogram style)\n"
		"      --csv FILE        lat: write every sample (ns) to FILE\n"
		"      --json            one JSON object per result on stdout\n"
		"      --poll HOW        how to wait for completions: sleep (the default: srdc_wait,\n"
		"                        which polls, yielding, while completions are recent, then\n"
		"                        sleeps on the eventfd), spin, or yield (spin, giving the\n"
		"                        CPU away at each empty poll: apps sharing a core)\n"
		"      --spin-us US      --poll sleep: poll this long after the last completion\n"
		"                        before sleeping (srdc_set_spin; default libsrd's, 50)\n"
		"      --ordered         endpoints in send-after-send order (SRDC_ORDERED); bw and\n"
		"                        rate count arrivals out of order and fail if there are any\n"
		"      --inject          bw, rate: send with srdc_inject() (at most 88 bytes; no\n"
		"                        completions: no window, the submission ring pushes back;\n"
		"                        the time is the server's, first to last arrival)\n"
		"      --addr-file FILE  server: write its address to FILE\n"
		"      --forever         server: serve runs until interrupted\n"
		"  -h, --help            this text\n"
		"Runs longer than 3 s print a progress line each second on stderr.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	perf_stop = 1;
}

/* "64", "4K", "1M" (binary multiples).  Returns 0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "srd-perf: bad %s: %s (see srd-perf --help)\n", what, val);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' }, { "local", required_argument, NULL, 'L' },
		{ "size", required_argument, NULL, 's' }, { "iters", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'D' }, { "window", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' }, { "all", no_argument, NULL, 'a' },
		{ "bidir", no_argument, NULL, 'b' }, { "histogram", no_argument, NULL, 'H' },
		{ "warmup", required_argument, NULL, 1 }, { "csv", required_argument, NULL, 2 },
		{ "json", no_argument, NULL, 3 }, { "poll", required_argument, NULL, 4 },
		{ "addr-file", required_argument, NULL, 5 }, { "forever", no_argument, NULL, 6 },
		{ "ordered", no_argument, NULL, 7 }, { "inject", no_argument, NULL, 8 },
		{ "spin-us", required_argument, NULL, 9 }, { "gap", required_argument, NULL, 10 },
		{ "pair", required_argument, NULL, 11 },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct perf_opts o = { .socket = "/run/srd/srdd.sock", .threads = 1, .warmup = 100,
			       .spin_us = -1 };
	uint64_t v, size = 0, window = 0;
	struct in_addr ia;
	double secs;
	char *end;
	int opt;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "lat"))
		o.test = PERF_LAT;
	else if (!strcmp(argv[1], "bw"))
		o.test = PERF_BW;
	else if (!strcmp(argv[1], "rate"))
		o.test = PERF_RATE;
	else
		return bad("test (want lat, bw or rate)", argv[1]);
	optind = 2;
	while ((opt = getopt_long(argc, argv, "S:L:s:n:D:w:t:abHh", opts, NULL)) != -1) {
		switch (opt) {
		case 'S': o.socket = optarg; break;
		case 'L':
			if (inet_pton(AF_INET, optarg, &ia) != 1)
				return bad("local address", optarg);
			o.local_ip = ntohl(ia.s_addr);
			break;
		case 's':
			if (parse_size(optarg, &size) || size == 0 || size > PERF_MAX_SIZE)
				return bad("size (1 .. 16M)", optarg);
			break;
		case 'n':
			if (parse_size(optarg, &o.iters) || o.iters == 0)
				return bad("iterations", optarg);
			break;
		case 'D':
			secs = strtod(optarg, &end);
			if (*end || secs <= 0 || secs > 86400)
				return bad("duration (seconds)", optarg);
			o.duration_ns = (uint64_t)(secs * 1e9);
			break;
		case 'w':
			if (parse_size(optarg, &window) || window == 0 || window > 65536)
				return bad("window (1 .. 65536)", optarg);
			break;
		case 't':
			if (parse_size(optarg, &v) || v == 0 || v > PERF_MAX_THREADS)
				return bad("threads (1 .. 16)", optarg);
			o.threads = (uint32_t)v;
			break;
		case 'a': o.sweep = true; break;
		case 'b': o.bidir = true; break;
		case 'H': o.histogram = true; break;
		case 1:
			if (parse_size(optarg, &o.warmup))
				return bad("warmup", optarg);
			break;
		case 2: o.csv = optarg; break;
		case 3: o.json = true; break;
		case 4:
			if (!strcmp(optarg, "sleep"))
				o.wait = PERF_WAIT_SLEEP;
			else if (!strcmp(optarg, "spin"))
				o.wait = PERF_WAIT_SPIN;
			else if (!strcmp(optarg, "yield"))
				o.wait = PERF_WAIT_YIELD;
			else
				return bad("--poll (sleep, spin or yield)", optarg);
			break;
		case 5: o.addr_file = optarg; break;
		case 6: o.forever = true; break;
		case 7: o.ordered = true; break;
		case 8: o.inject = true; break;
		case 9:
			if (parse_size(optarg, &v) || v > 1000000)
				return bad("--spin-us (0 .. 1000000)", optarg);
			o.spin_us = (int)v;
			break;
		case 10:
			if (parse_size(optarg, &v) || v > 10000000)
				return bad("--gap (0 .. 10000000 us)", optarg);
			o.gap_ns = v * 1000u;
			break;
		case 11:
			if (inet_pton(AF_INET, optarg, &ia) != 1 || ia.s_addr == 0)
				return bad("--pair address", optarg);
			o.pair_ip = ntohl(ia.s_addr);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		o.server = argv[optind++];
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (o.bidir && o.test != PERF_BW)
		return bad("option", "-b is for bw");
	if (o.gap_ns && o.test != PERF_LAT)
		return bad("option", "--gap is for lat");
	if (o.pair_ip && o.server)
		return bad("option", "--pair runs without a SERVER (it holds both ends)");
	if (o.pair_ip && (o.threads > 1 || o.bidir))
		return bad("option", "--pair is one thread sending one way: no -t above 1, no -b");
	if (o.duration_ns && o.iters)
		return bad("option", "-n and -D exclude each other");
	o.size = size ? (uint32_t)size : o.test == PERF_BW ? 65536u : 64u;
	o.window = window ? (uint32_t)window : o.test == PERF_RATE ? 64u : 32u;
	if (o.inject && (o.test == PERF_LAT || o.sweep || o.size > SRDC_INJECT_MAX))
		return bad("option", "--inject is for bw and rate, messages of at most 88 bytes");
	if (!o.duration_ns && !o.iters)
		o.iters = o.test == PERF_RATE ? 100000u : 10000u;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (o.pair_ip)
		return perf_pair(&o);
	return o.server ? perf_client(&o) : perf_server(&o);
}
