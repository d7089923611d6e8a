/*
 * srdctl — look at a running srdd: its ports, connections, paths and counters, once or
 * refreshed (watch).  It reads srdd's telemetry commands (/srd/stats, /srd/ports,
 * /srd/conns, /srd/paths) through DPDK's telemetry socket, so it needs no DPDK and can
 * run while srdd serves traffic.
 *
 *   srdctl [-p PREFIX | -c CONFIG] [--json] stats|ports|conns|paths [PEER]|watch [SEC]
 *   srdctl [-p PREFIX | -c CONFIG] capture [options] FILE     (capture.c)
 *   srdctl [-p PREFIX | -c CONFIG] metrics                    (metrics.c)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "srd_tel.h"

volatile sig_atomic_t ctl_stop;

static void on_signal(int sig)
{
	(void)sig;
	ctl_stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: srdctl [options] COMMAND\n"
		"  stats          counters: worker, framing drops, engine, drops by reason, apps\n"
		"                 (non-zero ones; -a: all)\n"
		"  ports          ports: address, MAC, MTU, link, offloads, impairment\n"
		"  conns          connections: peer, ids, window, RTT, RTO, messages, resends\n"
		"  paths [PEER]   the paths of a connection (PEER: [PORT,]IP[:WORKER]); without\n"
		"                 PEER, the connections it can show\n"
		"  watch [SEC]    refresh every SEC seconds (default 1): rates, ports, connections\n"
		"  capture [-p PORT] [-c COUNT] [-s SNAPLEN] [-f peer=IP|conn=ID] [-d SEC] FILE\n"
		"                 capture frames into FILE (pcapng; \"-\": standard output);\n"
		"                 srdctl capture --help says more\n"
		"  metrics        counters and gauges in the Prometheus text format\n"
		"options:\n"
		"  -p, --prefix P    the daemon's EAL --file-prefix (default: the only DPDK process\n"
		"                    running, if there is one)\n"
		"  -c, --config F    take the prefix from srdd's config file F\n"
		"  -a, --all         stats: show zero counters too\n"
		"  -n, --count N     watch: stop after N refreshes\n"
		"      --json        print the replies as JSON (watch: one object per line)\n"
		"  -h, --help        this text\n");
}

/* Ask the daemon; prints the reason and returns NULL on failure. */
json_t *ctl_ask(const struct ctl *c, const char *cmd)
{
	char err[256];
	json_t *v;

	if (srd_tel_query(c->prefix, cmd, &v, err, sizeof(err))) {
		fprintf(stderr, "srdctl: %s\n", err);
		return NULL;
	}
	if (json_is_object(v) && json_string_value(json_object_get(v, "error"))) {
		fprintf(stderr, "srdctl: %s\n", json_string_value(json_object_get(v, "error")));
		json_decref(v);
		return NULL;
	}
	return v;
}

long long ctl_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

const char *ctl_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

void ctl_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);

	if (s)
		printf("%s\n", s);
	free(s);
}

/* ---- stats ---- */

static int cmd_stats(const struct ctl *c)
{
	static const char *const groups[] = { "worker", "net_drops", "engine", "engine_drops",
					      "shm" };
	json_t *st = ctl_ask(c, "/srd/stats");

	if (!st)
		return 1;
	if (c->json) {
		ctl_print_json(st);
		json_decref(st);
		return 0;
	}
	printf("%-36s %20s\n", "counter", "value");
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		json_t *grp = json_object_get(st, groups[g]), *v;
		const char *key;

		json_object_foreach(grp, key, v) {
			char name[96];

			if (!json_is_integer(v) || (!c->all && json_integer_value(v) == 0))
				continue;
			snprintf(name, sizeof(name), "%s.%s", groups[g], key);
			printf("%-36s %20lld\n", name, (long long)json_integer_value(v));
		}
	}
	json_decref(st);
	return 0;
}

/* ---- ports ---- */

static void print_ports(json_t *ports)
{
	const char *key;
	json_t *p;

	printf("%-10s %-18s %-17s %5s %-4s %-11s %-7s %6s\n", "port", "address", "mac", "mtu",
	       "link", "csum tx/rx", "impair", "conns");
	json_object_foreach(ports, key, p) {
		char addr[32], csum[16], impair[16];

		if (!json_is_object(p))
			continue;
		snprintf(addr, sizeof(addr), "%s/%lld", ctl_str(p, "ip"), ctl_num(p, "prefix_len"));
		snprintf(csum, sizeof(csum), "%s%s/%s%s", ctl_num(p, "csum_tx_ip") ? "ip" : "-",
			 ctl_num(p, "csum_tx_udp") ? "+udp" : "", ctl_num(p, "csum_rx_ip") ? "ip" : "-",
			 ctl_num(p, "csum_rx_udp") ? "+udp" : "");
		if (strcmp(ctl_str(p, "impair"), "on") == 0)
			snprintf(impair, sizeof(impair), "%lld paths", ctl_num(p, "impair_paths"));
		else
			snprintf(impair, sizeof(impair), "off");
		printf("%-10s %-18s %-17s %5lld %-4s %-11s %-7s %6lld\n", ctl_str(p, "name"), addr,
		       ctl_str(p, "mac"), ctl_num(p, "mtu"), ctl_str(p, "link"), csum, impair, ctl_num(p, "conns"));
	}
}

static int cmd_ports(const struct ctl *c)
{
	json_t *ports = ctl_ask(c, "/srd/ports");

	if (!ports)
		return 1;
	if (c->json)
		ctl_print_json(ports);
	else
		print_ports(ports);
	json_decref(ports);
	return 0;
}

/* ---- conns ---- */

static void print_conns(json_t *conns, int max_rows)
{
	const char *key;
	json_t *cn;
	int rows = 0;

	printf("%-8s %2s %-18s %10s %10s %5s %8s %6s %9s %9s %8s %8s\n", "port", "w", "peer",
	       "local_id", "peer_id", "paths", "inflight", "cwnd", "srtt_us", "rto_us", "msgs",
	       "resent");
	json_object_foreach(conns, key, cn) {
		char peer[32];

		if (!json_is_object(cn))
			continue;
		if (max_rows && rows++ >= max_rows) {
			printf("...\n");
			break;
		}
		if (ctl_num(cn, "peer_worker"))
			snprintf(peer, sizeof(peer), "%s:%lld", ctl_str(cn, "peer"), ctl_num(cn, "peer_worker"));
		else
			snprintf(peer, sizeof(peer), "%s", ctl_str(cn, "peer"));
		printf("%-8s %2lld %-18s %10lld %10lld %5lld %8lld %6.1f %9.1f %9.1f %8lld %8lld\n",
		       ctl_str(cn, "port"), ctl_num(cn, "worker"), peer, ctl_num(cn, "local_id"),
		       ctl_num(cn, "peer_id"), ctl_num(cn, "paths"), ctl_num(cn, "inflight"),
		       (double)ctl_num(cn, "cwnd_x256") / 256.0, (double)ctl_num(cn, "srtt_ns") / 1e3,
		       (double)ctl_num(cn, "rto_ns") / 1e3, ctl_num(cn, "tx_msgs"), ctl_num(cn, "retransmits"));
	}
	printf("%lld connection%s%s\n", ctl_num(conns, "count"), ctl_num(conns, "count") == 1 ? "" : "s",
	       ctl_num(conns, "truncated") ? " (not all shown: the reply has a size limit)" : "");
}

static int cmd_conns(const struct ctl *c)
{
	json_t *conns = ctl_ask(c, "/srd/conns");

	if (!conns)
		return 1;
	if (c->json)
		ctl_print_json(conns);
	else
		print_conns(conns, 0);
	json_decref(conns);
	return 0;
}

/* ---- paths ---- */

static int cmd_paths(const struct ctl *c, const char *peer)
{
	char cmd[160];
	json_t *r, *p;
	const char *key;

	snprintf(cmd, sizeof(cmd), "/srd/paths%s%s", peer ? "," : "", peer ? peer : "");
	r = ctl_ask(c, cmd);
	if (!r)
		return 1;
	if (c->json) {
		ctl_print_json(r);
	} else if (!peer) {
		json_t *list = json_object_get(r, "conns"), *v;
		size_t i;

		printf("connections (srdctl paths PORT,PEER):\n");
		json_array_foreach(list, i, v)
			printf("  %s\n", json_string_value(v));
		if (json_array_size(list) == 0)
			printf("  none\n");
	} else {
		printf("port %s, worker %lld, peer %s (worker %lld), ids %lld/%lld, %lld paths\n",
		       ctl_str(r, "port"), ctl_num(r, "worker"), ctl_str(r, "peer"), ctl_num(r, "peer_worker"),
		       ctl_num(r, "local_id"), ctl_num(r, "peer_id"), ctl_num(r, "npaths"));
		printf("%-6s %8s %-8s %8s %9s %8s %10s %6s\n", "path", "entropy", "state",
		       "inflight", "srtt_us", "ecn_pm", "tx_pkts", "repl");
		json_object_foreach(r, key, p) {
			if (!json_is_object(p))
				continue;
			printf("%-6s %8lld %-8s %8lld %9.1f %8lld %10lld %6lld\n", key,
			       ctl_num(p, "entropy"), ctl_str(p, "state"), ctl_num(p, "inflight"),
			       (double)ctl_num(p, "srtt_ns") / 1e3, ctl_num(p, "ecn_permille"),
			       ctl_num(p, "tx_pkts"), ctl_num(p, "replacements"));
		}
	}
	json_decref(r);
	return 0;
}

/* ---- watch ---- */

/* The counters watch shows as rates: group, key, label, scale (x per second). */
static const struct {
	const char *group, *key, *label;
	double scale;
} watched[] = {
	{ "engine", "tx_payload_bytes", "tx Gbit/s", 8e-9 },
	{ "engine", "rx_payload_bytes", "rx Gbit/s", 8e-9 },
	{ "engine", "msgs_completed", "sent msg/s", 1 },
	{ "engine", "msgs_delivered", "recv msg/s", 1 },
	{ "engine", "tx_retx_pkts", "resent pkt/s", 1 },
	{ "engine", "msgs_failed", "failed msg/s", 1 },
	{ "worker", "rx_pkts", "rx frames/s", 1 },
	{ "worker", "tx_pkts", "tx frames/s", 1 },
};
#define NWATCH (sizeof(watched) / sizeof(watched[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_watch(const struct ctl *c)
{
	long long prev[NWATCH] = { 0 };
	double prev_t = 0;

	for (long n = 0; !ctl_stop && (c->count == 0 || n < c->count); n++) {
		json_t *st = ctl_ask(c, "/srd/stats"), *ports = NULL, *conns = NULL;
		double t = now_s(), rate[NWATCH];

		if (!st)
			return 1;
		for (size_t i = 0; i < NWATCH; i++) {
			long long v = ctl_num(json_object_get(st, watched[i].group), watched[i].key);

			rate[i] = n ? (double)(v - prev[i]) * watched[i].scale / (t - prev_t) : 0.0;
			prev[i] = v;
		}
		prev_t = t;
		if (c->json) {
			json_t *line = json_object();

			json_object_set_new(line, "t", json_real(t));
			for (size_t i = 0; i < NWATCH && n; i++) {
				char k[64];

				snprintf(k, sizeof(k), "%s_%s_per_s", watched[i].group, watched[i].key);
				json_object_set_new(line, k, json_real(rate[i] / watched[i].scale));
			}
			json_object_set(line, "stats", st);
			ctl_print_json(line);
			json_decref(line);
		} else {
			ports = ctl_ask(c, "/srd/ports");
			conns = ctl_ask(c, "/srd/conns");
			printf("\033[H\033[2J"); /* home, clear */
			printf("srdd %s   every %.1f s   (Ctrl-C to stop)\n\n", c->prefix, c->interval);
			for (size_t i = 0; i < NWATCH; i++)
				printf("%-14s %12.3f%s", watched[i].label, rate[i], i % 2 ? "\n" : "   ");
			printf("%-14s %12lld   %-14s %12lld\n\n", "apps",
			       ctl_num(json_object_get(st, "shm"), "apps"), "endpoints",
			       ctl_num(json_object_get(st, "shm"), "endpoints"));
			if (ports)
				print_ports(ports);
			printf("\n");
			if (conns)
				print_conns(conns, 20);
		}
		fflush(stdout);
		json_decref(st);
		json_decref(ports);
		json_decref(conns);
		if (c->count == 0 || n + 1 < c->count) {
			struct timespec ts = { (time_t)c->interval,
					       (long)((c->interval - (double)(time_t)c->interval) * 1e9) };

			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

/* Find the daemon when no prefix was given: the only DPDK process with telemetry. */
static int pick_prefix(struct ctl *c)
{
	char names[16][64];
	int n = srd_tel_list(names, 16);

	if (n == 1) {
		snprintf(c->prefix, sizeof(c->prefix), "%s", names[0]);
		return 0;
	}
	if (n <= 0) {
		fprintf(stderr, "srdctl: no running srdd found (nothing in %s); is it running? "
				"(-p PREFIX, -c CONFIG)\n", SRD_TEL_RUNDIR);
		return -ENOENT;
	}
	fprintf(stderr, "srdctl: several DPDK processes run; say which with -p:");
	for (int i = 0; i < n && i < 16; i++)
		fprintf(stderr, " %s", names[i]);
	fprintf(stderr, "\n");
	return -EEXIST;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prefix", required_argument, NULL, 'p' }, { "config", required_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' }, { "count", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { .interval = 1.0 };
	const char *config = NULL, *cmd;
	char err[256], *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "+p:c:an:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': snprintf(c.prefix, sizeof(c.prefix), "%s", optarg); break;
		case 'c': config = optarg; break;
		case 'a': c.all = true; break;
		case 'n':
			c.count = strtol(optarg, &end, 10);
			if (*end || c.count <= 0) {
				fprintf(stderr, "srdctl: bad count %s\n", optarg);
				return 2;
			}
			break;
		case 'j': c.json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	if (config && srd_tel_prefix_from_config(config, c.prefix, sizeof(c.prefix), err,
						 sizeof(err))) {
		fprintf(stderr, "srdctl: %s\n", err);
		return 1;
	}
	if (!c.prefix[0] && pick_prefix(&c))
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!strcmp(cmd, "stats") && optind == argc)
		return cmd_stats(&c);
	if (!strcmp(cmd, "ports") && optind == argc)
		return cmd_ports(&c);
	if (!strcmp(cmd, "conns") && optind == argc)
		return cmd_conns(&c);
	if (!strcmp(cmd, "paths") && argc - optind <= 1)
		return cmd_paths(&c, optind < argc ? argv[optind] : NULL);
	if (!strcmp(cmd, "capture"))
		return ctl_capture(&c, argc - optind + 1, argv + optind - 1);
	if (!strcmp(cmd, "metrics") && optind == argc)
		return ctl_metrics(&c);
	if (!strcmp(cmd, "watch") && argc - optind <= 1) {
		if (optind < argc) {
			c.interval = strtod(argv[optind], &end);
			if (*end || c.interval < 0.1 || c.interval > 3600) {
				fprintf(stderr, "srdctl: bad interval %s (0.1 .. 3600 s)\n", argv[optind]);
				return 2;
			}
		}
		return cmd_watch(&c);
	}
	fprintf(stderr, "srdctl: unknown command or arguments: %s (see srdctl --help)\n", cmd);
	return 2;
}
