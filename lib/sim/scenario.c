/*
 * scenario.c — flows of messages over the simulated world, checked and measured
 * (see scenario.h).
 */
#include "scenario.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "wire.h"

/* One sender -> receiver flow. */
struct flow {
	struct run *run;        /* back pointer for callbacks */
	uint32_t index;         /* flow number (high half of every tag) */
	int src;                /* sending host */
	int dst;                /* receiving host */
	uint32_t next_seq;      /* next message number to send */
	uint32_t outstanding;   /* messages accepted and not yet done */
	uint32_t done;          /* tx_done calls */
	uint8_t pump_queued;    /* 1 while a pump_flow() call is scheduled */
	uint8_t **bufs;         /* window message buffers */
	uint32_t *buf_seq;      /* message number in each buffer */
	uint32_t *free_bufs;    /* stack of free buffer indices */
	uint32_t nfree;         /* entries on the stack */
	uint64_t *submit_ns;    /* per message: when srd_send accepted it */
	uint64_t *deliver_ns;   /* per message: first delivery (0: none) */
	uint8_t *deliveries;    /* per message: deliveries seen (saturates) */
	uint64_t last_submit_ns;/* time of the flow's last submission */
};

/* A run in progress. */
struct run {
	const struct sim_scenario_config *cfg;
	struct sim *sim;           /* the world */
	struct flow *flows;        /* nflows flows */
	uint32_t nflows;
	uint32_t flows_done;       /* flows whose every message is done */
	uint64_t *bins;            /* payload bytes placed at receivers, per bin */
	uint32_t nbins;            /* bins allocated */
	uint64_t rx_bytes_seen;    /* receivers' placed bytes at the last sample */
	uint64_t first_send_ns;    /* first srd_send (UINT64_MAX: none yet) */
	uint64_t last_delivery_ns; /* last first-delivery */
	uint64_t peak_warmup;      /* largest queue seen during the warm-up */
	struct sim_scenario_result *res;
	int error;                 /* first setup error inside callbacks (negative errno) */
	int tearing_down;          /* 1 while the world is destroyed: completions then are the
	                              cancellations of what the time limit left unfinished */
};

/* ---- message contents: a pure function of (flow, message, offset) ---- */

static uint64_t msg_key(uint32_t flow, uint32_t seq)
{
	uint64_t x = (uint64_t)flow << 32 | seq;

	return srd_rng_splitmix(&x);
}

static void fill_message(uint8_t *buf, uint32_t len, uint64_t key)
{
	uint32_t w;

	for (w = 0; (w + 1) * 8 <= len; w++) {
		uint64_t v = key ^ ((uint64_t)w * 0x9e3779b97f4a7c15ull);

		memcpy(buf + w * 8, &v, 8);
	}
	if (len % 8) {
		uint64_t v = key ^ ((uint64_t)w * 0x9e3779b97f4a7c15ull);

		memcpy(buf + w * 8, &v, len % 8);
	}
}

static int check_message(const uint8_t *buf, uint32_t len, uint64_t key)
{
	uint32_t w;

	for (w = 0; (w + 1) * 8 <= len; w++) {
		uint64_t v = key ^ ((uint64_t)w * 0x9e3779b97f4a7c15ull);

		if (memcmp(buf + w * 8, &v, 8))
			return -1;
	}
	if (len % 8) {
		uint64_t v = key ^ ((uint64_t)w * 0x9e3779b97f4a7c15ull);

		if (memcmp(buf + w * 8, &v, len % 8))
			return -1;
	}
	return 0;
}

/* ---- sending ---- */

static void pump_flow(struct sim *sim, void *arg);

static void schedule_pump(struct flow *f)
{
	if (f->pump_queued)
		return;
	if (sim_at(f->run->sim, sim_now(f->run->sim), pump_flow, f) == 0)
		f->pump_queued = 1;
	else if (!f->run->error)
		f->run->error = -ENOMEM;
}

/* Keep the flow's window full. */
static void pump_flow(struct sim *sim, void *arg)
{
	struct flow *f = arg;
	struct run *r = f->run;
	uint32_t size = r->cfg->msg_size;

	f->pump_queued = 0;
	while (f->next_seq < r->cfg->msgs && f->nfree > 0) {
		uint32_t b = f->free_bufs[f->nfree - 1];
		uint32_t seq = f->next_seq;
		struct srd_iov iov = { f->bufs[b], size };
		struct srd_send_req req = {
			.peer = (uint64_t)f->dst,
			.src_ep = 1,
			.dst_ep = 1,
			.tag = (uint64_t)f->index << 32 | seq,
			.imm = seq,
			.iov = &iov,
			.iovcnt = 1,
			.ctx = (void *)(uintptr_t)((uint64_t)f->index * r->cfg->window + b + 1),
		};
		int rc;

		fill_message(f->bufs[b], size, msg_key(f->index, seq));
		rc = sim_host_send(sim, f->src, &req);
		if (rc == -EAGAIN)
			break; /* the engine's queue is full: tx_done will pump again */
		if (rc) {
			if (!r->error)
				r->error = rc;
			sim_stop(sim);
			return;
		}
		f->nfree--;
		f->buf_seq[b] = seq;
		f->next_seq++;
		f->outstanding++;
		f->submit_ns[seq] = sim_now(sim);
		f->last_submit_ns = sim_now(sim);
		r->res->sent++;
		if (r->first_send_ns == UINT64_MAX)
			r->first_send_ns = sim_now(sim);
	}
}

static void on_tx_done(void *user, void *ctx, int status)
{
	struct run *r = user;
	uint64_t id = (uint64_t)(uintptr_t)ctx - 1;
	struct flow *f = &r->flows[id / r->cfg->window];
	uint32_t b = (uint32_t)(id % r->cfg->window);

	if (r->tearing_down)
		return; /* counted as unfinished, not failed */
	if (status)
		r->res->failed++;
	f->free_bufs[f->nfree++] = b;
	f->outstanding--;
	f->done++;
	if (f->done == r->cfg->msgs) {
		if (++r->flows_done == r->nflows)
			sim_stop(r->sim);
		return;
	}
	schedule_pump(f);
}

/* ---- receiving ---- */

static void *on_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	(void)user;
	return malloc(msg->len ? msg->len : 1);
}

static void on_rx_deliver(void *user, const struct srd_rx_msg *msg)
{
	struct run *r = user;
	uint32_t fi = (uint32_t)(msg->tag >> 32), seq = (uint32_t)msg->tag;
	struct flow *f = fi < r->nflows ? &r->flows[fi] : NULL;

	if (!f || seq >= r->cfg->msgs || msg->len != r->cfg->msg_size ||
	    msg->peer != (uint64_t)f->src || msg->imm != seq ||
	    check_message(msg->buf, msg->len, msg_key(fi, seq))) {
		r->res->corrupted++;
	} else if (f->deliveries[seq]++) {
		r->res->duplicates++;
		if (f->deliveries[seq] == 0)
			f->deliveries[seq] = 255;
	} else {
		r->res->delivered++;
		f->deliver_ns[seq] = sim_now(r->sim);
		r->last_delivery_ns = sim_now(r->sim);
	}
	free(msg->buf);
}

static void on_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	(void)user;
	free(msg->buf);
}

/* ---- goodput sampling ---- */

static uint64_t receivers_rx_bytes(const struct run *r)
{
	uint64_t sum = 0;

	for (uint32_t h = 0; h < sim_hosts(r->sim); h++) {
		struct srd_stats st;

		srd_get_stats(sim_engine(r->sim, (int)h), &st);
		sum += st.rx_payload_bytes;
	}
	return sum;
}

static void sample_bin(struct sim *sim, void *arg)
{
	struct run *r = arg;
	uint64_t now = sim_now(sim), bytes = receivers_rx_bytes(r);
	uint64_t bin = now / r->cfg->bin_ns;

	if (bin > 0 && bin - 1 < r->nbins)
		r->bins[bin - 1] = bytes - r->rx_bytes_seen;
	r->rx_bytes_seen = bytes;
	if (r->flows_done < r->nflows && bin < r->nbins &&
	    sim_at(sim, (bin + 1) * r->cfg->bin_ns, sample_bin, r)) {
		/* the goodput figures would silently end here: fail the run instead (the time
		 * is never in the past, so the only failure is -ENOMEM) */
		if (!r->error)
			r->error = -ENOMEM;
		sim_stop(sim);
	}
}

/* Largest queue on any path or downlink so far. */
static uint64_t peak_queue(const struct run *r)
{
	const struct sim_fabric *fab = sim_get_fabric(r->sim);
	struct sim_queue_stats qs;
	uint64_t peak = 0;

	for (uint32_t h = 0; h < sim_hosts(r->sim); h++)
		if (sim_fabric_downlink_stats(fab, (int)h, &qs) == 0 && qs.peak_bytes > peak)
			peak = qs.peak_bytes;
	for (uint32_t p = 0; p < r->cfg->world.fabric.npaths; p++)
		if (sim_fabric_path_stats(fab, (int)p, &qs) == 0 && qs.peak_bytes > peak)
			peak = qs.peak_bytes;
	return peak;
}

/* End of the warm-up: remember its peak queue and start measuring the steady one. */
static void end_warmup(struct sim *sim, void *arg)
{
	struct run *r = arg;

	r->peak_warmup = peak_queue(r);
	sim_fabric_reset_peaks(sim_get_fabric(sim));
}

/* ---- figures ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(const double *v, size_t n, double q)
{
	return n ? v[(size_t)floor(q * (double)(n - 1))] : 0.0;
}

static void compute_mct(struct run *r)
{
	size_t n = 0, cap = (size_t)r->nflows * r->cfg->msgs;
	double *v = malloc((cap ? cap : 1) * sizeof(*v));

	if (!v)
		return;
	for (uint32_t fi = 0; fi < r->nflows; fi++) {
		struct flow *f = &r->flows[fi];

		for (uint32_t s = 0; s < r->cfg->msgs; s++)
			if (f->deliveries[s])
				v[n++] = (double)(f->deliver_ns[s] - f->submit_ns[s]) / 1000.0;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	r->res->mct.p50 = percentile(v, n, 0.50);
	r->res->mct.p99 = percentile(v, n, 0.99);
	r->res->mct.p999 = percentile(v, n, 0.999);
	r->res->mct.max = n ? v[n - 1] : 0.0;
	free(v);
}

/* Payload share of the wire for one message of the scenario. */
static double payload_efficiency(const struct sim_scenario_config *cfg)
{
	uint32_t seg = cfg->world.engine.seg_size;
	uint64_t nseg = srd_wire_seg_count(cfg->msg_size, seg);
	double wire = (double)cfg->msg_size + (double)nseg * (SRD_HDR_DATA_LEN + cfg->world.fabric.overhead_bytes) +
		      SRD_HDR_IMM_LEN;

	return cfg->msg_size ? (double)cfg->msg_size / wire : 0.0;
}

/* Payload Gbit/s the topology carries at best with the paths of `up` (bit i: path i). */
static double capacity_gbps(const struct run *r, uint64_t up)
{
	const struct sim_fabric_config *fc = &r->cfg->world.fabric;
	uint32_t senders = r->nflows, receivers = r->cfg->incast ? 1 : r->nflows;
	double paths = 0, hosts = (double)fc->host_rate_bps / 1e9;
	double cap;

	for (uint32_t p = 0; p < fc->npaths; p++)
		if (up >> p & 1)
			paths += (double)fc->path[p].rate_bps / 1e9;
	cap = hosts * senders;
	if (hosts * receivers < cap)
		cap = hosts * receivers;
	if (paths < cap)
		cap = paths;
	return cap * payload_efficiency(r->cfg);
}

/* First path failure (blackhole or flap start) and the paths left up then. */
static uint64_t first_failure(const struct run *r, uint64_t *up_after, uint64_t *until)
{
	const struct sim_fabric_config *fc = &r->cfg->world.fabric;
	uint64_t t = SIM_NEVER;

	*up_after = 0;
	*until = SIM_NEVER;
	for (uint32_t p = 0; p < fc->npaths; p++) {
		uint64_t tp = fc->path[p].blackhole_ns;

		if (fc->path[p].flap_period_ns && fc->path[p].flap_start_ns < tp)
			tp = fc->path[p].flap_start_ns;
		if (tp < t)
			t = tp;
	}
	for (uint32_t p = 0; p < fc->npaths; p++) {
		const struct sim_path_config *pc = &fc->path[p];
		bool down = pc->blackhole_ns <= t ||
			    (pc->flap_period_ns && pc->flap_start_ns <= t);

		if (!down)
			*up_after |= 1ull << p;
		if (pc->flap_period_ns && pc->flap_start_ns == t)
			*until = t + pc->flap_period_ns; /* the path comes back then */
	}
	return t;
}

/* Time from the first path failure until goodput is back to 90% of what the remaining paths
 * carry (or of what the run achieved before the failure, if that was less). */
static double compute_recovery(struct run *r)
{
	uint64_t up_after, until, t_fail = first_failure(r, &up_after, &until);
	uint64_t bin_ns = r->cfg->bin_ns, t_end = 0;
	double ref, before = 0, thresh;
	uint32_t b0, b1, nb = 0, last_bad = UINT32_MAX;

	if (t_fail == SIM_NEVER)
		return -1.0;
	for (uint32_t fi = 0; fi < r->nflows; fi++)
		if (r->flows[fi].last_submit_ns > t_end)
			t_end = r->flows[fi].last_submit_ns;
	if (until < t_end)
		t_end = until;
	b0 = (uint32_t)(t_fail / bin_ns);
	b1 = (uint32_t)(t_end / bin_ns);
	if (b1 > r->nbins)
		b1 = r->nbins;
	if (b0 >= b1)
		return -1.0; /* the traffic was over before the failure */
	r->res->recovered = 1;
	/* goodput before the failure: the last 5 whole bins */
	for (uint32_t b = b0 >= 5 ? b0 - 5 : 0; b < b0; b++, nb++)
		before += (double)r->bins[b] * 8 / (double)bin_ns;
	ref = capacity_gbps(r, up_after);
	if (nb && before / nb < ref)
		ref = before / nb;
	thresh = 0.9 * ref;
	for (uint32_t b = b0; b < b1; b++)
		if ((double)r->bins[b] * 8 / (double)bin_ns < thresh)
			last_bad = b;
	r->res->recovered = last_bad + 1 < b1;
	if (last_bad == UINT32_MAX)
		return 0.0;
	return (double)((uint64_t)(last_bad + 1) * bin_ns - t_fail) / 1000.0;
}

/* Jain's index of per-sender bytes delivered before the first sender finished. */
static double compute_jain(struct run *r)
{
	uint64_t t_cut = UINT64_MAX;
	double sum = 0, sq = 0;

	if (r->nflows < 2)
		return 1.0;
	for (uint32_t fi = 0; fi < r->nflows; fi++) {
		uint64_t last = 0;

		for (uint32_t s = 0; s < r->cfg->msgs; s++)
			if (r->flows[fi].deliveries[s] && r->flows[fi].deliver_ns[s] > last)
				last = r->flows[fi].deliver_ns[s];
		if (last && last < t_cut)
			t_cut = last;
	}
	for (uint32_t fi = 0; fi < r->nflows; fi++) {
		double x = 0;

		for (uint32_t s = 0; s < r->cfg->msgs; s++)
			if (r->flows[fi].deliveries[s] && r->flows[fi].deliver_ns[s] <= t_cut)
				x += r->cfg->msg_size;
		sum += x;
		sq += x * x;
	}
	return sq > 0 ? sum * sum / (r->nflows * sq) : 0.0;
}

static void collect(struct run *r)
{
	struct sim_scenario_result *res = r->res;
	const struct sim_fabric *fab = sim_get_fabric(r->sim);

	for (uint32_t h = 0; h < sim_hosts(r->sim); h++) {
		struct srd_stats st;

		srd_get_stats(sim_engine(r->sim, (int)h), &st);
		res->retransmits += st.tx_retx_pkts;
		res->data_pkts += st.tx_data_pkts;
		res->path_failures += st.path_failures;
	}
	res->peak_queue_steady_bytes = peak_queue(r);
	res->peak_queue_bytes = r->peak_warmup > res->peak_queue_steady_bytes ?
				r->peak_warmup : res->peak_queue_steady_bytes;
	/* per flow: accepted by srd_send and still without tx_done, plus never accepted (a
	 * message delivered and then failed is done, whatever the receiver saw) */
	res->unfinished = 0;
	for (uint32_t fi = 0; fi < r->nflows; fi++) {
		const struct flow *f = &r->flows[fi];

		res->unfinished += (uint64_t)(f->next_seq - f->done) + (r->cfg->msgs - f->next_seq);
	}
	if (r->first_send_ns != UINT64_MAX && r->last_delivery_ns > r->first_send_ns) {
		res->duration_us = (double)(r->last_delivery_ns - r->first_send_ns) / 1000.0;
		res->goodput_gbps = (double)res->delivered * r->cfg->msg_size * 8 /
				    (double)(r->last_delivery_ns - r->first_send_ns);
	}
	res->ideal_gbps = capacity_gbps(r, ~0ull);
	res->npaths = r->cfg->world.fabric.npaths;
	for (uint32_t p = 0; p < res->npaths; p++)
		sim_fabric_path_stats(fab, (int)p, &res->path_stats[p]);
	struct srd_conn_info ci;
	int n = srd_conn_info(sim_engine(r->sim, r->flows[0].src), (uint64_t)r->flows[0].dst, &ci,
			      res->conn_paths, SRD_MAX_PATHS);
	res->conn_npaths = n > 0 ? (uint32_t)n : 0;
	res->conn_state_bytes = srd_conn_state_bytes(&r->cfg->world.engine);
	res->events = sim_events(r->sim);
	compute_mct(r);
	res->recovery_us = compute_recovery(r);
	res->jain = compute_jain(r);
	if (r->cfg->on_bin) {
		uint64_t last = r->last_delivery_ns / r->cfg->bin_ns + 1;

		for (uint32_t b = 0; b < r->nbins && b < last; b++)
			r->cfg->on_bin(r->cfg->on_bin_user, (uint64_t)b * r->cfg->bin_ns,
				       (double)r->bins[b] * 8 / (double)r->cfg->bin_ns);
	}
}

/* ---- set-up ---- */

void sim_scenario_default(struct sim_scenario_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	sim_config_default(&cfg->world, 2, 8);
	for (uint32_t p = 0; p < 8; p++) {
		cfg->world.fabric.path[p].rate_bps = 25000000000ull;
		cfg->world.fabric.path[p].prop_delay_ns = 2000;
	}
	cfg->flows = 1;
	cfg->incast = 0;
	cfg->msgs = 1000;
	cfg->msg_size = 64 * 1024;
	cfg->window = 16;
	cfg->time_limit_ns = 2000000000ull;
	cfg->bin_ns = 10000;
}

static int check_config(const struct sim_scenario_config *cfg, char *err, size_t errlen)
{
	const char *why = NULL;

	if (!cfg->incast && (cfg->flows == 0 || cfg->flows > 1024))
		why = "flows must be 1..1024";
	else if (cfg->incast > 1023)
		why = "incast must be 0..1023";
	else if (cfg->msgs == 0 || cfg->msgs > 10000000)
		why = "msgs must be 1..10000000";
	else if (cfg->msg_size > cfg->world.engine.max_msg_size)
		why = "size is larger than the engine's max_msg_size";
	else if (cfg->window == 0 || cfg->window > 4096)
		why = "window must be 1..4096";
	else if (cfg->bin_ns == 0 || cfg->time_limit_ns == 0 || cfg->time_limit_ns / cfg->bin_ns > 50000000)
		why = "time_limit / bin gives too many bins (or one of them is 0)";
	if (why && errlen)
		snprintf(err, errlen, "scenario: %s", why);
	return why ? -EINVAL : 0;
}

static void free_flows(struct run *r)
{
	for (uint32_t fi = 0; r->flows && fi < r->nflows; fi++) {
		struct flow *f = &r->flows[fi];

		for (uint32_t b = 0; f->bufs && b < r->cfg->window; b++)
			free(f->bufs[b]);
		free(f->bufs);
		free(f->buf_seq);
		free(f->free_bufs);
		free(f->submit_ns);
		free(f->deliver_ns);
		free(f->deliveries);
	}
	free(r->flows);
}

static int setup_flows(struct run *r)
{
	const struct sim_scenario_config *cfg = r->cfg;

	r->flows = calloc(r->nflows, sizeof(*r->flows));
	if (!r->flows)
		return -ENOMEM;
	for (uint32_t fi = 0; fi < r->nflows; fi++) {
		struct flow *f = &r->flows[fi];

		f->run = r;
		f->index = fi;
		f->src = cfg->incast ? (int)fi + 1 : (int)(2 * fi);
		f->dst = cfg->incast ? 0 : (int)(2 * fi + 1);
		f->bufs = calloc(cfg->window, sizeof(*f->bufs));
		f->buf_seq = calloc(cfg->window, sizeof(*f->buf_seq));
		f->free_bufs = calloc(cfg->window, sizeof(*f->free_bufs));
		f->submit_ns = calloc(cfg->msgs, sizeof(*f->submit_ns));
		f->deliver_ns = calloc(cfg->msgs, sizeof(*f->deliver_ns));
		f->deliveries = calloc(cfg->msgs, 1);
		if (!f->bufs || !f->buf_seq || !f->free_bufs || !f->submit_ns || !f->deliver_ns ||
		    !f->deliveries)
			return -ENOMEM;
		for (uint32_t b = 0; b < cfg->window; b++) {
			f->bufs[b] = malloc(cfg->msg_size ? cfg->msg_size : 1);
			if (!f->bufs[b])
				return -ENOMEM;
			f->free_bufs[f->nfree++] = cfg->window - 1 - b;
		}
	}
	return 0;
}

/* Serialization time of bytes at rate_bps, ns. */
static uint64_t ser_ns(uint64_t bytes, uint64_t rate_bps)
{
	return rate_bps ? (bytes * 8 * 1000000000ull + rate_bps - 1) / rate_bps : 0;
}

/* The unloaded RTT of the topology: a full data packet through NIC, the slowest path and
 * the downlink, there and (as a small ack) back. */
uint64_t sim_scenario_base_rtt(const struct sim_scenario_config *cfg)
{
	const struct sim_fabric_config *fc = &cfg->world.fabric;
	uint64_t data = cfg->world.engine.seg_size + SRD_HDR_MAX_LEN + fc->overhead_bytes;
	uint64_t ack = SRD_HDR_ACK_LEN + fc->overhead_bytes;
	uint64_t worst = 0;

	for (uint32_t p = 0; p < fc->npaths; p++) {
		const struct sim_path_config *pc = &fc->path[p];
		uint64_t one = pc->prop_delay_ns + ser_ns(data, pc->rate_bps) +
			       pc->prop_delay_ns + ser_ns(ack, pc->rate_bps);

		if (one > worst)
			worst = one;
	}
	return worst + 2 * ser_ns(data, fc->host_rate_bps) + 2 * ser_ns(ack, fc->host_rate_bps);
}

int sim_scenario_run(const struct sim_scenario_config *cfg, struct sim_scenario_result *res,
		     char *err, size_t errlen)
{
	struct sim_config world = cfg->world;
	struct run r = { .cfg = cfg, .res = res, .first_send_ns = UINT64_MAX };
	struct srd_callbacks cb = {
		.user = &r,
		.rx_alloc = on_rx_alloc,
		.rx_deliver = on_rx_deliver,
		.rx_abort = on_rx_abort,
		.tx_done = on_tx_done,
	};
	int rc;

	memset(res, 0, sizeof(*res));
	rc = check_config(cfg, err, errlen);
	if (rc)
		return rc;
	r.nflows = cfg->incast ? cfg->incast : cfg->flows;
	if (world.engine.cc.base_rtt_ns == 0)
		world.engine.cc.base_rtt_ns = sim_scenario_base_rtt(cfg);
	world.fabric.hosts = cfg->incast ? cfg->incast + 1 : 2 * cfg->flows;
	r.nbins = (uint32_t)(cfg->time_limit_ns / cfg->bin_ns) + 1;
	r.bins = calloc(r.nbins, sizeof(*r.bins));
	rc = r.bins ? setup_flows(&r) : -ENOMEM;
	if (rc == 0)
		rc = sim_create(&world, &r.sim, err, errlen);
	if (rc == 0) {
		for (uint32_t h = 0; h < world.fabric.hosts; h++)
			sim_set_callbacks(r.sim, (int)h, &cb);
		for (uint32_t fi = 0; fi < r.nflows && rc == 0; fi++)
			rc = sim_at(r.sim, 0, pump_flow, &r.flows[fi]);
		if (rc == 0)
			rc = sim_at(r.sim, cfg->bin_ns, sample_bin, &r);
		if (rc == 0)
			rc = sim_at(r.sim, SIM_WARMUP_NS, end_warmup, &r);
		if (rc == 0)
			rc = sim_run_until(r.sim, cfg->time_limit_ns);
		if (rc >= 0)
			rc = r.error;
		if (rc == 0)
			collect(&r);
		r.tearing_down = 1;
		sim_destroy(r.sim);
	}
	free_flows(&r);
	free(r.bins);
	if (rc == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	return rc < 0 ? rc : 0;
}
