/*
 * srd-sim — run the SRD protocol core over a simulated multipath fabric and print what
 * happened: delivery (exactly once?), goodput against the ideal, message completion times,
 * recovery from path failure, per-path traffic.
 *
 *   srd-sim --paths 8 --loss 0.01 --blackhole 3@1ms --msgs 2000 --size 64K --json
 *
 * Runs in virtual time: the same flags and seed give the same output, bit for bit.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fabric_cli.h"
#include "scenario.h"

/* Command-line choices beyond the scenario config. */
struct options {
	struct sim_scenario_config sc;  /* what to run */
	int json;                       /* print one JSON object */
	const char *timeline;           /* CSV file for the goodput timeline, or NULL */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: srd-sim [options]\n"
		"  --paths N            fabric paths (ECMP routes), 1..64 [8]\n"
		"  --conn-paths N       entropy values per connection, 1..256 [16]\n"
		"  --host-rate R        host NIC rate, e.g. 100G [100G]\n"
		"  --path-rate R        rate of each path [25G]\n"
		"  --delay T            propagation delay of each path, e.g. 2us [2us]\n"
		"  --jitter T           extra random delay per packet, 0..T (reordering) [0]\n"
		"  --loss P             random loss on every path, 0..1 or N%% [0]\n"
		"  --blackhole K@T      path K drops everything from time T (repeatable)\n"
		"  --flap K@T/D         path K down for D, up for D, ... from time T (repeatable)\n"
		"  --ecn-threshold B    queue bytes above which packets are CE-marked [64K]\n"
		"  --queue-limit B      drop-tail limit of every queue [1M]\n"
		"  --flows F            independent sender->receiver pairs [1]\n"
		"  --incast F           F senders into one receiver (instead of --flows)\n"
		"  --msgs M             messages per flow [1000]\n"
		"  --size S             message size, e.g. 64K [64K]\n"
		"  --window W           messages outstanding per flow [16]\n"
		"  --seg-size S         payload bytes per packet [4096]\n"
		"  --mode multipath|single|spray   path-aware spraying, one hashed path per flow,\n"
		"                       or oblivious round-robin spraying [multipath]\n"
		"  --cc swift|dctcp     congestion controller [swift]\n"
		"  --seed S             seed of everything random [1]\n"
		"  --time-limit T       stop at this virtual time [2s]\n"
		"  --json               print one JSON object instead of the table\n"
		"  --timeline FILE      write goodput over time (CSV: t_us,gbps per 10 us bin)\n"
		"  -h, --help           this text\n"
		"With --topo: a workload over a multi-tier fabric (srd-sim --topo fattree:4 --help).\n");
}

/* "K@T" or "K@T/D": path index, start time and (for flaps) period. */
static int parse_path_event(const char *s, uint32_t npaths, uint32_t *path, uint64_t *t,
			    uint64_t *period)
{
	char buf[128], *at, *slash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	at = strchr(buf, '@');
	if (!at)
		return -EINVAL;
	*at++ = '\0';
	slash = strchr(at, '/');
	if (slash)
		*slash++ = '\0';
	if ((period != NULL) != (slash != NULL))
		return -EINVAL;
	if (parse_u32(buf, NULL, 0, npaths - 1, path) || parse_u64(at, time_units, t))
		return -EINVAL;
	if (period && (parse_u64(slash, time_units, period) || *period == 0))
		return -EINVAL;
	return 0;
}

enum {
	OPT_PATHS = 256, OPT_CONN_PATHS, OPT_HOST_RATE, OPT_PATH_RATE, OPT_DELAY, OPT_JITTER,
	OPT_LOSS, OPT_BLACKHOLE, OPT_FLAP, OPT_ECN, OPT_QLIMIT, OPT_FLOWS, OPT_INCAST, OPT_MSGS,
	OPT_SIZE, OPT_WINDOW, OPT_SEG, OPT_MODE, OPT_CC, OPT_SEED, OPT_TIME, OPT_JSON, OPT_TIMELINE,
};

static const struct option long_opts[] = {
	{ "paths", required_argument, NULL, OPT_PATHS },
	{ "conn-paths", required_argument, NULL, OPT_CONN_PATHS },
	{ "host-rate", required_argument, NULL, OPT_HOST_RATE },
	{ "path-rate", required_argument, NULL, OPT_PATH_RATE },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "jitter", required_argument, NULL, OPT_JITTER },
	{ "loss", required_argument, NULL, OPT_LOSS },
	{ "blackhole", required_argument, NULL, OPT_BLACKHOLE },
	{ "flap", required_argument, NULL, OPT_FLAP },
	{ "ecn-threshold", required_argument, NULL, OPT_ECN },
	{ "queue-limit", required_argument, NULL, OPT_QLIMIT },
	{ "flows", required_argument, NULL, OPT_FLOWS },
	{ "incast", required_argument, NULL, OPT_INCAST },
	{ "msgs", required_argument, NULL, OPT_MSGS },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "seg-size", required_argument, NULL, OPT_SEG },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "cc", required_argument, NULL, OPT_CC },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "time-limit", required_argument, NULL, OPT_TIME },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "timeline", required_argument, NULL, OPT_TIMELINE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Path settings given before --paths must reach every path: they are applied at the end. */
struct path_settings {
	uint64_t rate, delay, jitter, ecn, limit;
	double loss;
	uint64_t blackhole[SIM_FABRIC_MAX_PATHS], flap_start[SIM_FABRIC_MAX_PATHS],
		flap_period[SIM_FABRIC_MAX_PATHS];
	const char *events[2 * SIM_FABRIC_MAX_PATHS]; /* --blackhole / --flap arguments */
	int event_is_flap[2 * SIM_FABRIC_MAX_PATHS];
	uint32_t nevents;
};

static int apply_paths(struct options *o, struct path_settings *ps)
{
	struct sim_fabric_config *fc = &o->sc.world.fabric;

	for (uint32_t p = 0; p < SIM_FABRIC_MAX_PATHS; p++) {
		ps->blackhole[p] = SIM_NEVER;
		ps->flap_start[p] = 0;
		ps->flap_period[p] = 0;
	}
	for (uint32_t i = 0; i < ps->nevents; i++) {
		uint32_t k;
		uint64_t t, d;

		if (ps->event_is_flap[i]) {
			if (parse_path_event(ps->events[i], fc->npaths, &k, &t, &d))
				return cli_bad("flap", ps->events[i]);
			ps->flap_start[k] = t;
			ps->flap_period[k] = d;
		} else {
			if (parse_path_event(ps->events[i], fc->npaths, &k, &t, NULL))
				return cli_bad("blackhole", ps->events[i]);
			ps->blackhole[k] = t;
		}
	}
	for (uint32_t p = 0; p < fc->npaths; p++) {
		struct sim_path_config *pc = &fc->path[p];

		pc->rate_bps = ps->rate;
		pc->prop_delay_ns = ps->delay;
		pc->jitter_ns = ps->jitter;
		pc->loss = ps->loss;
		pc->ecn_bytes = ps->ecn;
		pc->limit_bytes = ps->limit;
		pc->blackhole_ns = ps->blackhole[p];
		pc->flap_start_ns = ps->flap_start[p];
		pc->flap_period_ns = ps->flap_period[p];
	}
	fc->dl_ecn_bytes = ps->ecn;
	fc->dl_limit_bytes = ps->limit;
	return 0;
}

/* Fill *o from the command line.  Returns 0, 1 if --help was asked for (the usage is
 * printed: nothing to run), or -EINVAL (the reason is printed on stderr). */
static int parse_args(int argc, char **argv, struct options *o)
{
	struct sim_scenario_config *sc = &o->sc;
	static struct path_settings ps;
	int opt;

	sim_scenario_default(sc);
	memset(&ps, 0, sizeof(ps));
	ps.rate = sc->world.fabric.path[0].rate_bps;
	ps.delay = sc->world.fabric.path[0].prop_delay_ns;
	ps.ecn = sc->world.fabric.path[0].ecn_bytes;
	ps.limit = sc->world.fabric.path[0].limit_bytes;
	o->json = 0;
	o->timeline = NULL;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		const char *a = optarg;

		switch (opt) {
		case OPT_PATHS:
			if (parse_u32(a, NULL, 1, SIM_FABRIC_MAX_PATHS, &sc->world.fabric.npaths))
				return cli_bad("paths", a);
			break;
		case OPT_CONN_PATHS:
			if (parse_u32(a, NULL, 1, SRD_MAX_PATHS, &sc->world.engine.paths))
				return cli_bad("conn-paths", a);
			break;
		case OPT_HOST_RATE:
			if (parse_u64(a, rate_units, &sc->world.fabric.host_rate_bps) ||
			    !sc->world.fabric.host_rate_bps)
				return cli_bad("host-rate", a);
			break;
		case OPT_PATH_RATE:
			if (parse_u64(a, rate_units, &ps.rate) || !ps.rate)
				return cli_bad("path-rate", a);
			break;
		case OPT_DELAY:
			if (parse_u64(a, time_units, &ps.delay))
				return cli_bad("delay", a);
			break;
		case OPT_JITTER:
			if (parse_u64(a, time_units, &ps.jitter))
				return cli_bad("jitter", a);
			break;
		case OPT_LOSS:
			if (parse_prob(a, &ps.loss))
				return cli_bad("loss", a);
			break;
		case OPT_BLACKHOLE:
		case OPT_FLAP:
			if (ps.nevents == 2 * SIM_FABRIC_MAX_PATHS)
				return cli_bad(opt == OPT_FLAP ? "flap" : "blackhole", a);
			ps.event_is_flap[ps.nevents] = opt == OPT_FLAP;
			ps.events[ps.nevents++] = a;
			break;
		case OPT_ECN:
			if (parse_u64(a, size_units, &ps.ecn))
				return cli_bad("ecn-threshold", a);
			break;
		case OPT_QLIMIT:
			if (parse_u64(a, size_units, &ps.limit) || !ps.limit)
				return cli_bad("queue-limit", a);
			break;
		case OPT_FLOWS:
			if (parse_u32(a, NULL, 1, 1024, &sc->flows))
				return cli_bad("flows", a);
			break;
		case OPT_INCAST:
			if (parse_u32(a, NULL, 1, 1023, &sc->incast))
				return cli_bad("incast", a);
			break;
		case OPT_MSGS:
			if (parse_u32(a, NULL, 1, 10000000, &sc->msgs))
				return cli_bad("msgs", a);
			break;
		case OPT_SIZE:
			if (parse_u32(a, size_units, 0, SRD_MSG_SIZE_LIMIT, &sc->msg_size))
				return cli_bad("size", a);
			break;
		case OPT_WINDOW:
			if (parse_u32(a, NULL, 1, 4096, &sc->window))
				return cli_bad("window", a);
			break;
		case OPT_SEG:
			if (parse_u32(a, size_units, 64, 65000, &sc->world.engine.seg_size))
				return cli_bad("seg-size", a);
			break;
		case OPT_MODE:
			if (!strcmp(a, "multipath"))
				sc->world.engine.mode = SRD_MODE_MULTIPATH;
			else if (!strcmp(a, "single"))
				sc->world.engine.mode = SRD_MODE_SINGLE;
			else if (!strcmp(a, "spray"))
				sc->world.engine.mode = SRD_MODE_SPRAY;
			else
				return cli_bad("mode", a);
			break;
		case OPT_CC:
			if (!strcmp(a, "swift"))
				sc->world.engine.cc.algo = SRD_CC_SWIFT;
			else if (!strcmp(a, "dctcp"))
				sc->world.engine.cc.algo = SRD_CC_DCTCP;
			else
				return cli_bad("cc", a);
			break;
		case OPT_SEED:
			if (parse_u64(a, NULL, &sc->world.seed))
				return cli_bad("seed", a);
			break;
		case OPT_TIME:
			if (parse_u64(a, time_units, &sc->time_limit_ns) || !sc->time_limit_ns)
				return cli_bad("time-limit", a);
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_TIMELINE:
			o->timeline = a;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "srd-sim: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (sc->msg_size > sc->world.engine.max_msg_size)
		sc->world.engine.max_msg_size = sc->msg_size;
	return apply_paths(o, &ps);
}

static const char *fabric_path_state(const struct sim_path_config *pc)
{
	if (pc->blackhole_ns != SIM_NEVER)
		return "blackholed";
	if (pc->flap_period_ns)
		return "flapping";
	return "up";
}

static const char *conn_path_state(uint8_t s)
{
	return s == SRD_PATH_GOOD ? "good" : s == SRD_PATH_SUSPECT ? "suspect" : "probing";
}

static void print_json(const struct options *o, const struct sim_scenario_result *r)
{
	const struct sim_scenario_config *sc = &o->sc;

	printf("{\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"duplicates\":%" PRIu64
	       ",\"corrupted\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"unfinished\":%" PRIu64,
	       r->sent, r->delivered, r->duplicates, r->corrupted, r->failed, r->unfinished);
	printf(",\"goodput_gbps\":%.3f,\"ideal_gbps\":%.3f,\"retransmits\":%" PRIu64
	       ",\"data_pkts\":%" PRIu64 ",\"path_failures\":%" PRIu64,
	       r->goodput_gbps, r->ideal_gbps, r->retransmits, r->data_pkts, r->path_failures);
	printf(",\"mct_us\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}", r->mct.p50,
	       r->mct.p99, r->mct.p999, r->mct.max);
	if (r->recovery_us < 0)
		printf(",\"recovery_us\":null,\"recovered\":null");
	else if (!r->recovered)
		printf(",\"recovery_us\":null,\"recovered\":false");
	else
		printf(",\"recovery_us\":%.1f,\"recovered\":true", r->recovery_us);
	printf(",\"jain\":%.4f,\"peak_queue_bytes\":%" PRIu64 ",\"peak_queue_steady_bytes\":%" PRIu64
	       ",\"duration_us\":%.3f,\"events\":%" PRIu64,
	       r->jain, r->peak_queue_bytes, r->peak_queue_steady_bytes, r->duration_us, r->events);
	printf(",\"conn_state_bytes\":%" PRIu64, r->conn_state_bytes);
	printf(",\"paths\":[");
	for (uint32_t p = 0; p < r->npaths; p++) {
		const struct sim_queue_stats *q = &r->path_stats[p];

		printf("%s{\"path\":%u,\"state\":\"%s\",\"pkts\":%" PRIu64 ",\"drops\":%" PRIu64
		       ",\"ce_marked\":%" PRIu64 ",\"peak_queue_bytes\":%" PRIu64 "}",
		       p ? "," : "", p, fabric_path_state(&sc->world.fabric.path[p]), q->pkts_out,
		       q->drops_down + q->drops_loss + q->drops_queue + q->drops_nomem, q->ce_marked,
		       q->peak_bytes);
	}
	printf("],\"conn_paths\":[");
	for (uint32_t p = 0; p < r->conn_npaths; p++) {
		const struct srd_path_info *pi = &r->conn_paths[p];

		printf("%s{\"entropy\":%u,\"state\":\"%s\",\"pkts\":%" PRIu64 ",\"srtt_ns\":%" PRIu64
		       ",\"replacements\":%u}",
		       p ? "," : "", pi->entropy, conn_path_state(pi->state), pi->tx_pkts, pi->srtt_ns,
		       pi->replacements);
	}
	printf("],\"config\":{\"paths\":%u,\"conn_paths\":%u,\"mode\":\"%s\",\"cc\":\"%s\",\"flows\":%u"
	       ",\"incast\":%u,\"msgs\":%u,\"size\":%u,\"window\":%u,\"seed\":%" PRIu64 "}}\n",
	       sc->world.fabric.npaths, sc->world.engine.paths,
	       sc->world.engine.mode == SRD_MODE_SINGLE ? "single" :
	       sc->world.engine.mode == SRD_MODE_SPRAY ? "spray" : "multipath",
	       sc->world.engine.cc.algo == SRD_CC_DCTCP ? "dctcp" : "swift",
	       sc->incast ? 0 : sc->flows, sc->incast, sc->msgs, sc->msg_size, sc->window,
	       sc->world.seed);
}

static void print_table(const struct options *o, const struct sim_scenario_result *r)
{
	const struct sim_scenario_config *sc = &o->sc;

	printf("messages    sent %" PRIu64 "  delivered %" PRIu64 "  duplicates %" PRIu64
	       "  corrupted %" PRIu64 "  failed %" PRIu64 "  unfinished %" PRIu64 "\n",
	       r->sent, r->delivered, r->duplicates, r->corrupted, r->failed, r->unfinished);
	printf("goodput     %.2f Gbit/s of %.2f ideal (%.1f%%) over %.1f us\n", r->goodput_gbps,
	       r->ideal_gbps, r->ideal_gbps > 0 ? 100 * r->goodput_gbps / r->ideal_gbps : 0.0,
	       r->duration_us);
	printf("packets     %" PRIu64 " data, %" PRIu64 " retransmitted (%.2f%%), %" PRIu64
	       " path failures\n",
	       r->data_pkts, r->retransmits,
	       r->data_pkts ? 100.0 * (double)r->retransmits / (double)r->data_pkts : 0.0,
	       r->path_failures);
	printf("completion  p50 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.2f us\n", r->mct.p50,
	       r->mct.p99, r->mct.p999, r->mct.max);
	if (r->recovery_us < 0)
		printf("recovery    -\n");
	else if (!r->recovered)
		printf("recovery    never: goodput stayed below 90%% for the %.0f us after the failure\n",
		       r->recovery_us);
	else
		printf("recovery    %.1f us (goodput back to 90%% after the first path failure)\n",
		       r->recovery_us);
	printf("fairness    Jain %.4f    peak queue %" PRIu64 " bytes (%" PRIu64
	       " after the first 200 us)    conn state %" PRIu64 " bytes\n",
	       r->jain, r->peak_queue_bytes, r->peak_queue_steady_bytes, r->conn_state_bytes);
	printf("\npath  state       packets     drops   CE-marked  peak queue\n");
	for (uint32_t p = 0; p < r->npaths; p++) {
		const struct sim_queue_stats *q = &r->path_stats[p];

		printf("%4u  %-10s %8" PRIu64 "  %8" PRIu64 "  %10" PRIu64 "  %10" PRIu64 "\n", p,
		       fabric_path_state(&sc->world.fabric.path[p]), q->pkts_out,
		       q->drops_down + q->drops_loss + q->drops_queue + q->drops_nomem, q->ce_marked,
		       q->peak_bytes);
	}
}

static void write_bin(void *user, uint64_t t_ns, double gbps)
{
	fprintf(user, "%.1f,%.3f\n", (double)t_ns / 1000.0, gbps);
}

int main(int argc, char **argv)
{
	static struct options o;
	static struct sim_scenario_result res;
	char err[256] = "";
	int rc;

	FILE *timeline = NULL;

	if (fabric_wanted(argc, argv))
		return fabric_main(argc, argv);
	rc = parse_args(argc, argv, &o);
	if (rc > 0)
		return 0; /* --help */
	if (rc < 0)
		return 2;
	if (o.timeline) {
		timeline = fopen(o.timeline, "w");
		if (!timeline) {
			fprintf(stderr, "srd-sim: %s: %s\n", o.timeline, strerror(errno));
			return 1;
		}
		fprintf(timeline, "t_us,gbps\n");
		o.sc.on_bin = write_bin;
		o.sc.on_bin_user = timeline;
	}
	rc = sim_scenario_run(&o.sc, &res, err, sizeof(err));
	if (timeline && fclose(timeline)) {
		fprintf(stderr, "srd-sim: %s: %s\n", o.timeline, strerror(errno));
		return 1;
	}
	if (rc) {
		fprintf(stderr, "srd-sim: %s\n", err[0] ? err : strerror(-rc));
		return 1;
	}
	if (o.json)
		print_json(&o, &res);
	else
		print_table(&o, &res);
	return 0;
}
