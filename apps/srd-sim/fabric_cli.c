/*
 * fabric_cli.c — srd-sim's fabric mode: a workload over a multi-tier Clos topology (see
 * lib/sim/workload.h), chosen by --topo.
 *
 *   srd-sim --topo fattree:8 --workload perm:2M --lb srd --json
 *   srd-sim --topo fattree:8 --workload perm:2M --lb ecmp --degrade core:0@50us:0.25 \
 *           --fail core:5@100us --json
 */
#include "fabric_cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "workload.h"

#define MAX_LINK_ARGS SIM_NET_MAX_EVENTS

/* Command-line choices beyond the run's config. */
struct fab_options {
	struct sim_fab_config fc;     /* what to run */
	const char *topo_arg;         /* --topo */
	const char *wl_arg;           /* --workload */
	const char *degrade[MAX_LINK_ARGS]; /* --degrade arguments */
	uint32_t ndegrade;
	const char *fail[MAX_LINK_ARGS];    /* --fail arguments */
	uint32_t nfail;
	uint64_t queue_bytes;         /* --queue (0: one BDP) */
	uint64_t ecn_bytes;           /* --ecn (UINT64_MAX: a fifth of the queue) */
	uint8_t ctrl_priority;        /* --ctrl-priority: control packets ahead of data (net.h) */
	int json;                     /* print one JSON object */
	int per_link;                 /* JSON: every link's utilisation */
	const char *timeline;         /* CSV of goodput per bin, or NULL */
	const char *fct_file;         /* CSV of every transfer's FCT, or NULL */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: srd-sim --topo TOPO [options]   (fabric mode; without --topo: two hosts)\n"
		"  --topo fattree:K | leafspine:LxH[:O]   K-ary fat-tree, or L leaves of H hosts\n"
		"                       with H/O spines (O:1 oversubscribed)\n"
		"  --workload W         perm:S            every host sends S to a distinct host\n"
		"                       incast:N:S        N senders, S each, into one host\n"
		"                       allreduce:N:S     ring over N ranks, S per step\n"
		"                       alltoall:N:S[:K]  S to every other rank, K in flight [4]\n"
		"                       moe:N:T:K[:S]     T tokens per rank to K ranks and back,\n"
		"                                         S bytes per token [7168]\n"
		"                       websearch[:D] | hadoop[:D]   Poisson arrivals for D [1ms]\n"
		"                       (N = 0: every host; ranks are placed at random) [perm:1M]\n"
		"  --load L             offered load of websearch/hadoop, 0..1 [0.5]\n"
		"  --lb ecmp | spray:N | srd[:N]   one source port per connection, oblivious\n"
		"                       spraying over N, or the core's path-aware spraying over N\n"
		"                       (default: 4 per equal-cost core path, 16..256) [srd]\n"
		"  --degrade C@T:F      cable C runs at F of its rate from time T (repeatable)\n"
		"  --fail C@T[:U]       cable C goes down at T (and up at U) (repeatable)\n"
		"                       C: a cable number or host:N, agg:N, core:N (Nth of a tier)\n"
		"  --link-rate R        every link and NIC [100G]\n"
		"  --hop-delay T        propagation delay per link [1us]\n"
		"  --queue B            switch queue drop-tail limit [one BDP]\n"
		"  --ecn B              switch queue ECN threshold [queue / 5]\n"
		"  --ctrl-priority on|off  switches serve acks, NACKs and probes ahead of data [on]\n"
		"  --cc swift|dctcp     congestion controller [swift]\n"
		"  --seg-size S         payload bytes per packet [4096]\n"
		"  --init-window bdp|N  initial window: one BDP, or N packets [bdp]\n"
		"  --target-delay T     Swift's target queueing delay [10us]\n"
		"  --ai N               additive increase per RTT, packets [1]\n"
		"  --reorder-pct P      RACK reordering window, %% of the minimum RTT [25]\n"
		"  --min-rto T          retransmission timeout floor [100us]\n"
		"  --min-tlp T          tail loss probe floor [0: two smoothed RTTs]\n"
		"  --rx-credit P|off    receivers share P%% of one BDP among their senders [150]\n"
		"  --seed S             seed of everything random [1]\n"
		"  --time-limit T       stop at this virtual time [1s]\n"
		"  --bin T              timeline resolution [10us]\n"
		"  --json               print one JSON object instead of the summary\n"
		"  --per-link           JSON: add every directed link's utilisation\n"
		"  --timeline FILE      write goodput over time (CSV: t_us,gbps)\n"
		"  --fct FILE           write every transfer (CSV: src,dst,bytes,fct_us,\n"
		"                       ideal_us,start_us)\n"
		"  -h, --help           this text\n");
}

int fabric_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--topo") || !strncmp(argv[i], "--topo=", 7))
			return 1;
	return 0;
}

/* ---- parsing ------------------------------------------------------------------------------ */

/* Split s at ':' into at most max fields (in buf).  Returns the number of fields, or -1. */
static int split(const char *s, char *buf, size_t len, char **f, int max)
{
	int n = 0;

	if (strlen(s) >= len)
		return -1;
	strcpy(buf, s);
	f[n++] = buf;
	for (char *p = buf; *p; p++) {
		if (*p != ':')
			continue;
		if (n == max)
			return -1;
		*p = '\0';
		f[n++] = p + 1;
	}
	return n;
}

static int parse_topo(const char *s, struct sim_topo_config *t)
{
	char buf[64], *f[3], *x;
	int n = split(s, buf, sizeof(buf), f, 3);

	memset(t, 0, sizeof(*t));
	if (n == 2 && !strcmp(f[0], "fattree")) {
		t->kind = SIM_TOPO_FATTREE;
		return parse_u32(f[1], NULL, 2, 64, &t->k);
	}
	if ((n == 2 || n == 3) && !strcmp(f[0], "leafspine")) {
		t->kind = SIM_TOPO_LEAFSPINE;
		t->oversub = 1;
		x = strchr(f[1], 'x');
		if (!x)
			return -EINVAL;
		*x++ = '\0';
		if (parse_u32(f[1], NULL, 1, 4096, &t->leaves) ||
		    parse_u32(x, NULL, 1, 4096, &t->leaf_hosts))
			return -EINVAL;
		return n == 3 ? parse_u32(f[2], NULL, 1, 4096, &t->oversub) : 0;
	}
	return -EINVAL;
}

static int parse_workload(const char *s, struct sim_wl_config *w)
{
	char buf[128], *f[5];
	int n = split(s, buf, sizeof(buf), f, 5);
	double load = w->load;

	memset(w, 0, sizeof(*w));
	w->load = load;
	if (n < 1)
		return -EINVAL;
	if (!strcmp(f[0], "perm") && n == 2) {
		w->kind = SIM_WL_PERM;
		return parse_u64(f[1], size_units, &w->size);
	}
	if (!strcmp(f[0], "incast") && n == 3) {
		w->kind = SIM_WL_INCAST;
		return parse_u32(f[1], NULL, 0, SIM_TOPO_MAX_HOSTS, &w->ranks) ||
		       parse_u64(f[2], size_units, &w->size) ? -EINVAL : 0;
	}
	if (!strcmp(f[0], "allreduce") && n == 3) {
		w->kind = SIM_WL_ALLREDUCE;
		return parse_u32(f[1], NULL, 0, SIM_TOPO_MAX_HOSTS, &w->ranks) ||
		       parse_u64(f[2], size_units, &w->size) ? -EINVAL : 0;
	}
	if (!strcmp(f[0], "alltoall") && (n == 3 || n == 4)) {
		w->kind = SIM_WL_ALLTOALL;
		w->inflight = 4;
		return parse_u32(f[1], NULL, 0, SIM_TOPO_MAX_HOSTS, &w->ranks) ||
		       parse_u64(f[2], size_units, &w->size) ||
		       (n == 4 && parse_u32(f[3], NULL, 1, 1u << 20, &w->inflight)) ? -EINVAL : 0;
	}
	if (!strcmp(f[0], "moe") && (n == 4 || n == 5)) {
		w->kind = SIM_WL_MOE;
		w->size = 7168;
		return parse_u32(f[1], NULL, 0, SIM_TOPO_MAX_HOSTS, &w->ranks) ||
		       parse_u32(f[2], NULL, 1, 1u << 20, &w->tokens) ||
		       parse_u32(f[3], NULL, 1, SIM_TOPO_MAX_HOSTS, &w->topk) ||
		       (n == 5 && parse_u64(f[4], size_units, &w->size)) ? -EINVAL : 0;
	}
	if ((!strcmp(f[0], "websearch") || !strcmp(f[0], "hadoop")) && n <= 2) {
		w->kind = !strcmp(f[0], "websearch") ? SIM_WL_WEBSEARCH : SIM_WL_HADOOP;
		w->duration_ns = 1000000;
		return n == 2 ? parse_u64(f[1], time_units, &w->duration_ns) : 0;
	}
	return -EINVAL;
}

static int parse_lb(const char *s, struct sim_fab_config *fc)
{
	char buf[32], *f[2];
	int n = split(s, buf, sizeof(buf), f, 2);

	if (n == 1 && !strcmp(f[0], "ecmp")) {
		fc->lb = SIM_LB_ECMP;
		return 0;
	}
	if (n == 2 && !strcmp(f[0], "spray")) {
		fc->lb = SIM_LB_SPRAY;
		return parse_u32(f[1], NULL, 1, SRD_MAX_PATHS, &fc->entropies);
	}
	if ((n == 1 || n == 2) && !strcmp(f[0], "srd")) {
		fc->lb = SIM_LB_SRD;
		fc->entropies = 0;
		return n == 2 ? parse_u32(f[1], NULL, 1, SRD_MAX_PATHS, &fc->entropies) : 0;
	}
	return -EINVAL;
}

/* "C@T:F" (degrade) or "C@T[:U]" (fail) into schedule entries of net. */
static int parse_link_arg(const char *s, int is_fail, const struct sim_topo *t,
			  struct sim_net_config *net)
{
	char buf[96], tail[96], *at, *f[2];
	uint32_t cable;
	uint64_t when, until = 0;
	double factor = 0;
	int n;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	at = strchr(buf, '@');
	if (!at)
		return -EINVAL;
	*at++ = '\0';
	n = split(at, tail, sizeof(tail), f, 2);
	if (n < 1 || sim_topo_parse_cable(t, buf, &cable) || parse_u64(f[0], time_units, &when))
		return -EINVAL;
	if (is_fail ? (n == 2 && (parse_u64(f[1], time_units, &until) || until <= when)) :
		      (n != 2 || parse_scaled(f[1], NULL, &factor) || !(factor > 0 && factor <= 1)))
		return -EINVAL;
	if (net->nevents + 2 > SIM_NET_MAX_EVENTS)
		return -EINVAL;
	net->events[net->nevents++] = (struct sim_link_event){
		.at_ns = when, .cable = cable,
		.change = is_fail ? SIM_LINK_DOWN : SIM_LINK_RATE, .rate_factor = factor,
	};
	if (is_fail && n == 2)
		net->events[net->nevents++] = (struct sim_link_event){
			.at_ns = until, .cable = cable, .change = SIM_LINK_UP,
		};
	return 0;
}

enum {
	OPT_TOPO = 256, OPT_WORKLOAD, OPT_LOAD, OPT_LB, OPT_DEGRADE, OPT_FAIL, OPT_LINK_RATE,
	OPT_HOP_DELAY, OPT_QUEUE, OPT_ECN, OPT_CC, OPT_SEG, OPT_INIT_WINDOW, OPT_SEED, OPT_TIME,
	OPT_BIN, OPT_JSON, OPT_PER_LINK, OPT_TIMELINE, OPT_FCT, OPT_TARGET, OPT_REORDER, OPT_AI,
	OPT_MIN_RTO, OPT_MIN_TLP, OPT_RX_CREDIT, OPT_CTRL_PRIO,
};

static const struct option long_opts[] = {
	{ "topo", required_argument, NULL, OPT_TOPO },
	{ "workload", required_argument, NULL, OPT_WORKLOAD },
	{ "load", required_argument, NULL, OPT_LOAD },
	{ "lb", required_argument, NULL, OPT_LB },
	{ "degrade", required_argument, NULL, OPT_DEGRADE },
	{ "fail", required_argument, NULL, OPT_FAIL },
	{ "link-rate", required_argument, NULL, OPT_LINK_RATE },
	{ "hop-delay", required_argument, NULL, OPT_HOP_DELAY },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "ecn", required_argument, NULL, OPT_ECN },
	{ "cc", required_argument, NULL, OPT_CC },
	{ "seg-size", required_argument, NULL, OPT_SEG },
	{ "init-window", required_argument, NULL, OPT_INIT_WINDOW },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "time-limit", required_argument, NULL, OPT_TIME },
	{ "bin", required_argument, NULL, OPT_BIN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "per-link", no_argument, NULL, OPT_PER_LINK },
	{ "timeline", required_argument, NULL, OPT_TIMELINE },
	{ "fct", required_argument, NULL, OPT_FCT },
	{ "target-delay", required_argument, NULL, OPT_TARGET },
	{ "reorder-pct", required_argument, NULL, OPT_REORDER },
	{ "ai", required_argument, NULL, OPT_AI },
	{ "min-rto", required_argument, NULL, OPT_MIN_RTO },
	{ "min-tlp", required_argument, NULL, OPT_MIN_TLP },
	{ "rx-credit", required_argument, NULL, OPT_RX_CREDIT },
	{ "ctrl-priority", required_argument, NULL, OPT_CTRL_PRIO },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* One option into *o.  Returns 0, 1 (--help) or -EINVAL. */
static int parse_opt(int opt, const char *a, struct fab_options *o)
{
	struct sim_fab_config *fc = &o->fc;

	switch (opt) {
	case OPT_TOPO:
		o->topo_arg = a;
		return parse_topo(a, &fc->net.topo) ? cli_bad("topo", a) : 0;
	case OPT_WORKLOAD:
		o->wl_arg = a;
		return parse_workload(a, &fc->wl) ? cli_bad("workload", a) : 0;
	case OPT_LOAD:
		return parse_scaled(a, NULL, &fc->wl.load) || !(fc->wl.load > 0 && fc->wl.load <= 1) ?
		       cli_bad("load", a) : 0;
	case OPT_LB:
		return parse_lb(a, fc) ? cli_bad("lb", a) : 0;
	case OPT_DEGRADE:
	case OPT_FAIL: {
		int is_fail = opt == OPT_FAIL;
		uint32_t *n = is_fail ? &o->nfail : &o->ndegrade;

		if (*n == MAX_LINK_ARGS)
			return cli_bad(is_fail ? "fail" : "degrade", a);
		(is_fail ? o->fail : o->degrade)[(*n)++] = a;
		return 0;
	}
	case OPT_LINK_RATE:
		return parse_u64(a, rate_units, &fc->net.link_rate_bps) ? cli_bad("link-rate", a) : 0;
	case OPT_HOP_DELAY:
		return parse_u64(a, time_units, &fc->net.hop_delay_ns) ? cli_bad("hop-delay", a) : 0;
	case OPT_QUEUE:
		return parse_u64(a, size_units, &o->queue_bytes) || !o->queue_bytes ?
		       cli_bad("queue", a) : 0;
	case OPT_ECN:
		return parse_u64(a, size_units, &o->ecn_bytes) ? cli_bad("ecn", a) : 0;
	case OPT_CC:
		if (!strcmp(a, "swift") || !strcmp(a, "dctcp")) {
			fc->engine.cc.algo = !strcmp(a, "swift") ? SRD_CC_SWIFT : SRD_CC_DCTCP;
			return 0;
		}
		return cli_bad("cc", a);
	case OPT_SEG:
		return parse_u32(a, size_units, 64, 65000, &fc->engine.seg_size) ?
		       cli_bad("seg-size", a) : 0;
	case OPT_INIT_WINDOW: {
		uint32_t w;

		if (!strcmp(a, "bdp")) {
			fc->start_at_bdp = 1;
			return 0;
		}
		if (parse_u32(a, NULL, 1, 65536, &w))
			return cli_bad("init-window", a);
		fc->start_at_bdp = 0;
		fc->engine.cc.init_cwnd = w * 256;
		if (fc->engine.cc.max_cwnd < fc->engine.cc.init_cwnd)
			fc->engine.cc.max_cwnd = fc->engine.cc.init_cwnd;
		return 0;
	}
	case OPT_RX_CREDIT:
		if (!strcmp(a, "off")) {
			/* a budget no share of which ever binds */
			fc->rx_credit_pct = 0;
			fc->engine.rx_credit_bytes = 1ull << 40;
			return 0;
		}
		return parse_u32(a, NULL, 1, 100000, &fc->rx_credit_pct) ? cli_bad("rx-credit", a)
									 : 0;
	case OPT_SEED:
		return parse_u64(a, NULL, &fc->seed) ? cli_bad("seed", a) : 0;
	case OPT_TIME:
		return parse_u64(a, time_units, &fc->time_limit_ns) || !fc->time_limit_ns ?
		       cli_bad("time-limit", a) : 0;
	case OPT_BIN:
		return parse_u64(a, time_units, &fc->bin_ns) || !fc->bin_ns ? cli_bad("bin", a) : 0;
	case OPT_JSON:
		o->json = 1;
		return 0;
	case OPT_PER_LINK:
		o->per_link = 1;
		return 0;
	case OPT_TIMELINE:
		o->timeline = a;
		return 0;
	case OPT_FCT:
		o->fct_file = a;
		return 0;
	case OPT_TARGET:
		return parse_u64(a, time_units, &fc->engine.cc.target_delay_ns) ?
		       cli_bad("target-delay", a) : 0;
	case OPT_REORDER:
		return parse_u32(a, NULL, 0, 1000, &fc->engine.reorder_pct) ?
		       cli_bad("reorder-pct", a) : 0;
	case OPT_AI: {
		double ai;

		if (parse_scaled(a, NULL, &ai) || !(ai > 0 && ai <= 4096))
			return cli_bad("ai", a);
		fc->engine.cc.ai = (uint32_t)(ai * 256);
		return fc->engine.cc.ai ? 0 : cli_bad("ai", a);
	}
	case OPT_MIN_RTO:
		return parse_u64(a, time_units, &fc->engine.min_rto_ns) ? cli_bad("min-rto", a) : 0;
	case OPT_MIN_TLP:
		return parse_u64(a, time_units, &fc->engine.min_tlp_ns) ? cli_bad("min-tlp", a) : 0;
	case OPT_CTRL_PRIO:
		if (strcmp(a, "on") && strcmp(a, "off"))
			return cli_bad("ctrl-priority", a);
		o->ctrl_priority = !strcmp(a, "on");
		return 0;
	case 'h':
		usage(stdout);
		return 1;
	default:
		usage(stderr);
		return -EINVAL;
	}
}

/* Fill *o from the command line.  Returns 0, 1 (--help: nothing to run) or -EINVAL. */
static int parse_args(int argc, char **argv, struct fab_options *o)
{
	struct sim_net_config *net = &o->fc.net;
	struct sim_topo_config topo;
	struct sim_topo *t = NULL;
	char err[160];
	int opt, rc = 0;

	sim_fab_default(&o->fc);
	o->fc.wl.load = 0.5;
	o->ecn_bytes = UINT64_MAX;
	o->ctrl_priority = 1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
		if ((rc = parse_opt(opt, optarg, o)))
			return rc;
	if (optind < argc) {
		fprintf(stderr, "srd-sim: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	/* the defaults that depend on the topology and the link rate */
	topo = net->topo;
	{
		uint64_t rate = net->link_rate_bps, delay = net->hop_delay_ns;

		sim_net_config_default(net, &topo);
		net->link_rate_bps = rate;
		net->hop_delay_ns = delay;
		net->limit_bytes = sim_net_base_rtt(net, o->fc.engine.seg_size + 56, 52) *
				   (rate / 8) / 1000000000ull;
	}
	if (o->queue_bytes)
		net->limit_bytes = o->queue_bytes;
	net->ecn_bytes = o->ecn_bytes != UINT64_MAX ? o->ecn_bytes : net->limit_bytes / 5;
	net->ctrl_priority = o->ctrl_priority;
	if (sim_topo_build(&topo, &t, err, sizeof(err))) {
		fprintf(stderr, "srd-sim: %s\n", err);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < o->ndegrade && rc == 0; i++)
		if (parse_link_arg(o->degrade[i], 0, t, net))
			rc = cli_bad("degrade", o->degrade[i]);
	for (uint32_t i = 0; i < o->nfail && rc == 0; i++)
		if (parse_link_arg(o->fail[i], 1, t, net))
			rc = cli_bad("fail", o->fail[i]);
	sim_topo_destroy(t);
	return rc;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void json_summary(const char *name, const struct sim_summary *s)
{
	printf("\"%s\":{\"n\":%" PRIu64 ",\"min\":%.4f,\"mean\":%.4f,\"p50\":%.4f,\"p99\":%.4f,"
	       "\"max\":%.4f}", name, s->n, s->min, s->mean, s->p50, s->p99, s->max);
}

static void print_json(const struct fab_options *o, const struct sim_fab_result *r,
		       const struct sim_topo *t)
{
	const struct sim_fab_config *fc = &o->fc;
	char name[96];

	printf("{\"config\":{\"topo\":");
	cli_json_string(stdout, o->topo_arg);
	printf(",\"workload\":");
	cli_json_string(stdout, o->wl_arg ? o->wl_arg : "perm:1M");
	printf(",\"lb\":\"%s\",\"entropies\":%u,\"cc\":\"%s\",\"load\":%.3f,\"seed\":%" PRIu64
	       ",\"link_rate_gbps\":%.3f,\"hop_delay_ns\":%" PRIu64 ",\"queue_bytes\":%" PRIu64
	       ",\"ecn_bytes\":%" PRIu64 ",\"ctrl_priority\":%s,\"seg_size\":%u"
	       ",\"init_window\":\"%s\"}",
	       sim_lb_name(fc->lb), r->conn_paths,
	       fc->engine.cc.algo == SRD_CC_DCTCP ? "dctcp" : "swift", fc->wl.load, fc->seed,
	       (double)fc->net.link_rate_bps / 1e9, fc->net.hop_delay_ns, fc->net.limit_bytes,
	       fc->net.ecn_bytes, fc->net.ctrl_priority ? "true" : "false", fc->engine.seg_size,
	       fc->start_at_bdp ? "bdp" : "fixed");
	printf(",\"hosts\":%u,\"ranks\":%u,\"xfers\":%" PRIu64 ",\"sent\":%" PRIu64
	       ",\"delivered\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"corrupted\":%" PRIu64
	       ",\"failed\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"unfinished\":%" PRIu64 ",",
	       r->hosts, r->ranks, r->xfers, r->sent, r->delivered, r->duplicates, r->corrupted,
	       r->failed, r->lost, r->unfinished);
	json_summary("fct_us", &r->fct_us);
	printf(",");
	json_summary("fct_norm", &r->fct_norm);
	printf(",\"slowdown\":{");
	json_summary("small", &r->slow_small);
	printf(",");
	json_summary("mid", &r->slow_mid);
	printf(",");
	json_summary("large", &r->slow_large);
	printf("},\"completion_us\":%.3f,\"bound_us\":%.3f,\"completion_ratio\":%.4f"
	       ",\"busbw_gbps\":%.3f,\"goodput_gbps\":%.3f,\"duration_us\":%.3f",
	       r->completion_us, r->bound_us, r->completion_ratio, r->busbw_gbps, r->goodput_gbps,
	       r->duration_us);
	printf(",\"tiers\":{");
	for (uint32_t i = 0, first = 1; i < SIM_TIER_COUNT; i++) {
		const struct sim_tier_result *tr = &r->tier[i];

		if (!tr->links)
			continue;
		printf("%s\"%s\":{\"links\":%u,\"util_mean\":%.4f,\"util_max\":%.4f,\"drops_queue\":%"
		       PRIu64 ",\"drops_down\":%" PRIu64 ",\"ce_marked\":%" PRIu64
		       ",\"peak_queue_bytes\":%" PRIu64 "}",
		       first ? "" : ",", sim_tier_name((enum sim_tier)i), tr->links, tr->util_mean,
		       tr->util_max, tr->drops_queue, tr->drops_down, tr->ce_marked, tr->peak_bytes);
		first = 0;
	}
	printf("},\"failover\":[");
	for (uint32_t i = 0; i < r->nfail; i++) {
		const struct sim_failover *f = &r->fail[i];

		printf("%s{\"cable\":%u,\"name\":", i ? "," : "", f->cable);
		cli_json_string(stdout, sim_topo_cable_name(t, f->cable, name, sizeof(name)));
		printf(",\"at_us\":%.3f,\"failover_us\":%.3f,\"failover_data_us\":%.3f"
		       ",\"lost_pkts\":%" PRIu64 "}",
		       (double)f->at_ns / 1000.0, f->failover_us, f->failover_data_us, f->lost);
	}
	printf("],\"retransmits\":%" PRIu64 ",\"data_pkts\":%" PRIu64 ",\"rto_events\":%" PRIu64
	       ",\"path_failures\":%" PRIu64 ",\"conn_state_bytes\":%" PRIu64
	       ",\"base_rtt_ns\":%" PRIu64 ",\"events\":%" PRIu64,
	       r->retransmits, r->data_pkts, r->rto_events, r->path_failures, r->conn_state_bytes,
	       r->base_rtt_ns, r->events);
	if (o->per_link) {
		printf(",\"link_util\":[");
		for (uint32_t l = 0; l < r->nlinks; l++)
			printf("%s%.4f", l ? "," : "", r->link_util[l]);
		printf("]");
	}
	printf("}\n");
}

static void print_summary(const char *what, const struct sim_summary *s)
{
	if (s->n)
		printf("%-14s n %-7" PRIu64 " min %.3f  mean %.3f  p50 %.3f  p99 %.3f  max %.3f\n",
		       what, s->n, s->min, s->mean, s->p50, s->p99, s->max);
}

static void print_table(const struct fab_options *o, const struct sim_fab_result *r,
			const struct sim_topo *t)
{
	char name[96];

	printf("fabric      %s, %u hosts, %s, lb %s (%u per connection), base RTT %.2f us\n",
	       o->topo_arg, r->hosts, o->wl_arg ? o->wl_arg : "perm:1M", sim_lb_name(o->fc.lb),
	       r->conn_paths, (double)r->base_rtt_ns / 1000.0);
	printf("transfers   %" PRIu64 "  sent %" PRIu64 "  delivered %" PRIu64 "  duplicates %"
	       PRIu64 "  corrupted %" PRIu64 "  failed %" PRIu64 "  lost %" PRIu64
	       "  unfinished %" PRIu64 "\n",
	       r->xfers, r->sent, r->delivered, r->duplicates, r->corrupted, r->failed, r->lost,
	       r->unfinished);
	print_summary("FCT us", &r->fct_us);
	print_summary("FCT / ideal", &r->fct_norm);
	print_summary("  < 100 KB", &r->slow_small);
	print_summary("  100 KB-1 MB", &r->slow_mid);
	print_summary("  > 1 MB", &r->slow_large);
	printf("completion  %.2f us, bound %.2f us, ratio %.3f", r->completion_us, r->bound_us,
	       r->completion_ratio);
	if (r->busbw_gbps > 0)
		printf(", bus bandwidth %.2f Gbit/s", r->busbw_gbps);
	printf("\ngoodput     %.2f Gbit/s over %.2f us\n", r->goodput_gbps, r->duration_us);
	printf("packets     %" PRIu64 " data, %" PRIu64 " retransmitted, %" PRIu64
	       " timeouts, %" PRIu64 " path failures\n",
	       r->data_pkts, r->retransmits, r->rto_events, r->path_failures);
	printf("\ntier  links  util mean  util max  drop-tail  down-drops   CE-marked  peak queue\n");
	for (uint32_t i = 0; i < SIM_TIER_COUNT; i++) {
		const struct sim_tier_result *tr = &r->tier[i];

		if (tr->links)
			printf("%-5s %5u  %9.3f  %8.3f  %9" PRIu64 "  %10" PRIu64 "  %10" PRIu64
			       "  %10" PRIu64 "\n",
			       sim_tier_name((enum sim_tier)i), tr->links, tr->util_mean, tr->util_max,
			       tr->drops_queue, tr->drops_down, tr->ce_marked, tr->peak_bytes);
	}
	for (uint32_t i = 0; i < r->nfail; i++)
		printf("failover    %s down at %.1f us: last packet sent into it %.1f us later (data"
		       " %.1f us), %" PRIu64 " packets lost on it\n",
		       sim_topo_cable_name(t, r->fail[i].cable, name, sizeof(name)),
		       (double)r->fail[i].at_ns / 1000.0, r->fail[i].failover_us,
		       r->fail[i].failover_data_us, r->fail[i].lost);
}

static void write_bin(void *user, uint64_t t_ns, double gbps)
{
	FILE **files = user;

	if (files[0])
		fprintf(files[0], "%.1f,%.3f\n", (double)t_ns / 1000.0, gbps);
}

static void write_xfer(void *user, const struct sim_xfer *x, double start_us, double fct_us,
		       double ideal_us)
{
	FILE **files = user;

	if (files[1])
		fprintf(files[1], "%u,%u,%u,%.3f,%.3f,%.3f\n", x->src, x->dst, x->bytes, fct_us,
			ideal_us, start_us);
}

/* Open path for writing with a CSV header line.  Returns the file or NULL (reported). */
static FILE *open_csv(const char *path, const char *header)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fprintf(stderr, "srd-sim: %s: %s\n", path, strerror(errno));
	else
		fprintf(f, "%s\n", header);
	return f;
}

static int close_csv(FILE *f, const char *path)
{
	if (f && fclose(f)) {
		fprintf(stderr, "srd-sim: %s: %s\n", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

int fabric_main(int argc, char **argv)
{
	static struct fab_options o;
	struct sim_fab_result res;
	struct sim_topo *t = NULL;
	FILE *files[2] = { NULL, NULL };
	char err[256] = "";
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc > 0)
		return 0;
	if (rc < 0)
		return 2;
	if ((o.timeline && !(files[0] = open_csv(o.timeline, "t_us,gbps"))) ||
	    (o.fct_file && !(files[1] = open_csv(o.fct_file, "src,dst,bytes,fct_us,ideal_us,start_us")))) {
		close_csv(files[0], o.timeline);
		return 1;
	}
	o.fc.on_bin = o.timeline ? write_bin : NULL;
	o.fc.on_xfer = o.fct_file ? write_xfer : NULL;
	o.fc.user = files;
	rc = sim_fab_run(&o.fc, &res, err, sizeof(err));
	if (close_csv(files[0], o.timeline) | close_csv(files[1], o.fct_file))
		rc = rc ? rc : -EIO;
	if (rc) {
		if (rc != -EIO)
			fprintf(stderr, "srd-sim: %s\n", err[0] ? err : strerror(-rc));
		sim_fab_result_free(&res);
		return 1;
	}
	if (sim_topo_build(&o.fc.net.topo, &t, err, sizeof(err)) == 0) {
		if (o.json)
			print_json(&o, &res, t);
		else
			print_table(&o, &res, t);
	}
	sim_topo_destroy(t);
	sim_fab_result_free(&res);
	return 0;
}
