/*
 * workload.c — a fabric workload over the real protocol core: submission, checking and
 * figures (see workload.h).
 *
 * Transfers wait in one FIFO per connection (source, destination).  A FIFO with something
 * to send is on its host's ready list; a host with a non-empty ready list has one pump
 * scheduled (sim_at at the current time: engine callbacks may not call the engine), which
 * submits from each ready FIFO until it is empty or the engine says -EAGAIN.  A completion
 * makes its FIFO ready again.  Nothing here is per packet.
 */
#include "workload.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc.h"
#include "rng.h"
#include "sim.h"
#include "wire.h"

#define HDR_BYTES 16u     /* the naming header at the start of every message */
#define NIL UINT32_MAX

/* Run-time state of a transfer. */
struct xrun {
	uint64_t start_ns;   /* when it was released */
	uint64_t deliver_ns; /* first delivery (valid when deliveries > 0) */
	uint64_t hdr[2];     /* its first 16 bytes: transfer number, key */
	uint32_t next;       /* next transfer in its connection's FIFO */
	uint32_t qid;        /* its connection's FIFO */
	uint8_t deliveries;  /* deliveries seen (saturates) */
	uint8_t done;        /* 1: tx_done came */
	uint8_t ok;          /* 1: with status 0 (the sender was told it arrived) */
	uint8_t released;    /* 1: released (queued or sent) */
};

/* A connection's FIFO of transfers. */
struct fifo {
	uint32_t head;       /* first waiting transfer, or NIL */
	uint32_t tail;       /* last */
	uint32_t next_ready; /* next FIFO on its host's ready list */
	uint32_t host;       /* source host */
	uint8_t ready;       /* 1: on the ready list */
};

/* Per host. */
struct hrun {
	struct fab_run *r;   /* back pointer (the callbacks' user) */
	uint32_t host;       /* its number */
	uint32_t ready_head; /* ready FIFOs */
	uint32_t ready_tail;
	uint8_t pump_queued; /* 1: a pump is scheduled */
};

/* A run in progress. */
struct fab_run {
	const struct sim_fab_config *cfg;
	struct sim_fab_result *res;
	struct sim_plan *plan;      /* what to send */
	struct sim *sim;            /* the world */
	uint32_t hosts;             /* hosts */
	struct xrun *xr;            /* plan->nx entries */
	struct fifo *q;             /* nq FIFOs */
	uint32_t nq;
	struct hrun *hr;            /* hosts entries */
	uint8_t *pattern;           /* the bytes every message carries after its header */
	uint64_t key_seed;          /* keys of the transfers' headers */
	uint32_t next_root;         /* next root to release */
	uint64_t done;              /* transfers with a final status */
	uint64_t first_release_ns;  /* UINT64_MAX: none yet */
	uint64_t last_delivery_ns;  /* last first-delivery */
	uint64_t *bins;             /* payload bytes placed per timeline bin (on_bin only) */
	uint32_t nbins;
	uint64_t rx_bytes_seen;     /* receivers' placed bytes at the last sample */
	int error;                  /* first error inside callbacks (negative errno) */
	int tearing_down;           /* 1 while the world is destroyed */
};

/* ---- configuration ------------------------------------------------------------------- */

const char *sim_lb_name(enum sim_lb lb)
{
	switch (lb) {
	case SIM_LB_ECMP: return "ecmp";
	case SIM_LB_SPRAY: return "spray";
	case SIM_LB_SRD: return "srd";
	}
	return "?";
}

uint32_t sim_fab_default_entropies(const struct sim_topo_config *topo)
{
	uint32_t paths = topo->kind == SIM_TOPO_FATTREE ? (topo->k / 2) * (topo->k / 2) :
			 topo->oversub ? topo->leaf_hosts / topo->oversub : 1;
	uint64_t e = 4ull * paths;

	return (uint32_t)(e < 16 ? 16 : e > SRD_MAX_PATHS ? SRD_MAX_PATHS : e);
}

void sim_fab_default(struct sim_fab_config *cfg)
{
	struct sim_topo_config topo = { .kind = SIM_TOPO_FATTREE, .k = 4 };

	memset(cfg, 0, sizeof(*cfg));
	cfg->seed = 1;
	sim_net_config_default(&cfg->net, &topo);
	cfg->wl = (struct sim_wl_config){ .kind = SIM_WL_PERM, .size = 1u << 20 };
	srd_config_default(&cfg->engine);
	cfg->lb = SIM_LB_SRD;
	cfg->entropies = 0;
	cfg->start_at_bdp = 1;
	cfg->rx_credit_pct = 150;
	cfg->time_limit_ns = 1000000000ull;
	cfg->bin_ns = 10000;
}

static int fab_fail(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

static int check_config(const struct sim_fab_config *cfg, char *err, size_t errlen)
{
	if (cfg->lb != SIM_LB_ECMP && cfg->lb != SIM_LB_SPRAY && cfg->lb != SIM_LB_SRD)
		return fab_fail(err, errlen, "load balancing: unknown mode");
	if (cfg->lb != SIM_LB_ECMP && cfg->entropies > SRD_MAX_PATHS)
		return fab_fail(err, errlen, "load balancing: 1..256 entropy values");
	if (cfg->time_limit_ns == 0 || cfg->bin_ns == 0 ||
	    cfg->time_limit_ns / cfg->bin_ns > 50000000)
		return fab_fail(err, errlen, "time limit / bin gives too many bins (or one is 0)");
	if (cfg->wl.kind != SIM_WL_WEBSEARCH && cfg->wl.kind != SIM_WL_HADOOP && cfg->wl.size == 0)
		return fab_fail(err, errlen, "workload: the size must be at least 1 byte");
	return 0;
}

/* Wire bytes of a message of len bytes cut into seg-byte segments: payload, SRD headers
 * (the immediate in segment 0) and the per-packet overhead. */
static uint64_t wire_bytes(uint64_t len, uint32_t seg, uint32_t overhead)
{
	uint64_t nseg = srd_wire_seg_count((uint32_t)len, seg);

	return len + nseg * (SRD_HDR_DATA_LEN + overhead) + SRD_HDR_IMM_LEN;
}

static uint64_t ser_ns(uint64_t bytes, uint64_t rate_bps)
{
	return (bytes * 8u * 1000000000ull + rate_bps - 1) / rate_bps;
}

/* A transfer's ideal completion time on an idle fabric, ns (see workload.h). */
static uint64_t ideal_ns(const struct fab_run *r, const struct sim_topo *t, uint32_t src,
			 uint32_t dst, uint64_t len)
{
	const struct sim_net_config *n = &r->cfg->net;
	uint32_t seg = r->cfg->engine.seg_size, hops = sim_topo_hops(t, src, dst);
	uint64_t nseg = srd_wire_seg_count((uint32_t)len, seg);
	uint64_t last = len - (nseg - 1) * seg + SRD_HDR_DATA_LEN + n->overhead_bytes;

	if (nseg == 1)
		last += SRD_HDR_IMM_LEN;
	return ser_ns(wire_bytes(len, seg, n->overhead_bytes), n->link_rate_bps) +
	       hops * n->hop_delay_ns + (hops ? hops - 1 : 0) * ser_ns(last, n->link_rate_bps);
}

/* ---- set-up ---------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * One FIFO per (source, destination) pair of the plan, and each host's number of peers
 * (distinct hosts it sends to or receives from: its connections) and of senders to it.
 */
static int build_fifos(struct fab_run *r, uint32_t *peers, uint32_t *senders)
{
	const struct sim_plan *p = r->plan;
	uint64_t *keys = malloc((size_t)(p->nx ? p->nx : 1) * 2 * sizeof(*keys));
	uint32_t nk = 0;

	if (!keys)
		return -ENOMEM;
	/* directed pairs (with the transfer index in the low bits) give the FIFOs */
	for (uint32_t i = 0; i < p->nx; i++)
		keys[i] = ((uint64_t)p->x[i].src << 48) | ((uint64_t)p->x[i].dst << 32) | i;
	qsort(keys, p->nx, sizeof(*keys), cmp_u64);
	r->q = calloc(p->nx ? p->nx : 1, sizeof(*r->q));
	if (!r->q) {
		free(keys);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < p->nx; i++) {
		uint32_t x = (uint32_t)keys[i];

		if (i == 0 || keys[i] >> 32 != keys[i - 1] >> 32) {
			r->q[r->nq] = (struct fifo){ .head = NIL, .tail = NIL, .next_ready = NIL,
						     .host = p->x[x].src };
			senders[p->x[x].dst]++;
			r->nq++;
		}
		r->xr[x].qid = r->nq - 1;
	}
	/* undirected pairs give the connections */
	for (uint32_t i = 0; i < p->nx; i++) {
		uint32_t a = p->x[i].src, b = p->x[i].dst;

		keys[nk++] = a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
	}
	qsort(keys, nk, sizeof(*keys), cmp_u64);
	for (uint32_t i = 0; i < nk; i++) {
		if (i && keys[i] == keys[i - 1])
			continue;
		peers[keys[i] >> 32]++;
		peers[(uint32_t)keys[i]]++;
	}
	free(keys);
	return 0;
}

/* Each host's engine config: the base one, with the load balancing, windows and tables
 * this plan needs. */
static struct srd_config *host_configs(struct fab_run *r, const uint32_t *peers,
				       const uint32_t *senders)
{
	const struct sim_fab_config *cfg = r->cfg;
	struct srd_config base = cfg->engine, *hc;
	uint64_t rtt = sim_net_base_rtt(&cfg->net, base.seg_size + SRD_HDR_MAX_LEN, SRD_HDR_ACK_LEN);

	hc = calloc(r->hosts, sizeof(*hc));
	if (!hc)
		return NULL;
	base.mode = cfg->lb == SIM_LB_ECMP ? SRD_MODE_SINGLE :
		    cfg->lb == SIM_LB_SPRAY ? SRD_MODE_SPRAY : SRD_MODE_MULTIPATH;
	if (cfg->lb != SIM_LB_ECMP)
		base.paths = cfg->entropies ? cfg->entropies :
			     sim_fab_default_entropies(&cfg->net.topo);
	if (base.cc.base_rtt_ns == 0)
		base.cc.base_rtt_ns = rtt;
	if (cfg->start_at_bdp) {
		/* one bandwidth-delay product of full packets, within the window limits */
		uint64_t pkt = base.seg_size + SRD_HDR_DATA_LEN + cfg->net.overhead_bytes;
		uint64_t bdp = (rtt * (cfg->net.link_rate_bps / 8) / 1000000000ull + pkt - 1) / pkt;
		uint64_t w = bdp * SRD_CWND_ONE;

		if (w > base.cc.max_cwnd)
			w = base.cc.max_cwnd;
		if (w < base.cc.min_cwnd)
			w = base.cc.min_cwnd;
		base.cc.init_cwnd = (uint32_t)w;
	}
	if (cfg->rx_credit_pct)
		/* a receiver's credit budget: what its link carries in one base RTT, and half
		 * as much again queued (a budget of one BDP leaves the link idle whenever a
		 * sender's RTT is above the base) */
		base.rx_credit_bytes = rtt * (cfg->net.link_rate_bps / 8) / 1000000000ull *
				       cfg->rx_credit_pct / 100;
	base.setup_cookie_pct = 100; /* nobody spoofs set-ups in here */
	if (r->plan->max_bytes > base.max_msg_size)
		base.max_msg_size = (uint32_t)r->plan->max_bytes;
	for (uint32_t h = 0; h < r->hosts; h++) {
		uint64_t slots = (uint64_t)senders[h] * base.max_tx_msgs;

		hc[h] = base;
		hc[h].max_conns = peers[h] ? peers[h] : 1;
		/* every message a sender may have in flight can be under reassembly at once (up to
		 * 16384: beyond that a receiver asks its senders to wait, RNR) */
		hc[h].rx_slots = (uint32_t)(slots < 64 ? 64 : slots > 16384 ? 16384 : slots);
	}
	return hc;
}

/* ---- sending ---------------------------------------------------------------------------- */

static void pump_host(struct sim *sim, void *arg);

static void set_error(struct fab_run *r, int rc)
{
	if (!r->error)
		r->error = rc;
	sim_stop(r->sim);
}

/* Put FIFO qid on its host's ready list and make sure a pump is coming. */
static void fifo_ready(struct fab_run *r, uint32_t qid)
{
	struct fifo *f = &r->q[qid];
	struct hrun *h = &r->hr[f->host];

	if (!f->ready) {
		f->ready = 1;
		f->next_ready = NIL;
		if (h->ready_tail == NIL)
			h->ready_head = qid;
		else
			r->q[h->ready_tail].next_ready = qid;
		h->ready_tail = qid;
	}
	if (!h->pump_queued) {
		if (sim_at(r->sim, sim_now(r->sim), pump_host, h))
			set_error(r, -ENOMEM);
		else
			h->pump_queued = 1;
	}
}

/* Release transfer x: it joins its connection's FIFO now. */
static void release(struct fab_run *r, uint32_t x)
{
	struct xrun *xr = &r->xr[x];
	struct fifo *f = &r->q[xr->qid];

	if (xr->released)
		return;
	xr->released = 1;
	xr->start_ns = sim_now(r->sim);
	if (r->first_release_ns == UINT64_MAX)
		r->first_release_ns = xr->start_ns;
	xr->next = NIL;
	if (f->tail == NIL)
		f->head = x;
	else
		r->xr[f->tail].next = x;
	f->tail = x;
	fifo_ready(r, xr->qid);
}

/* Count gate g down; at zero it releases its transfers. */
static void gate_hit(struct fab_run *r, uint32_t g)
{
	struct sim_gate *gt;

	if (g == SIM_PLAN_NONE)
		return;
	gt = &r->plan->g[g];
	if (gt->count == 0 || --gt->count)
		return;
	for (uint32_t i = 0; i < gt->n; i++)
		release(r, r->plan->rel[gt->first + i]);
}

/* Submit transfer x to its source engine.  Returns srd_send()'s result. */
static int submit(struct fab_run *r, uint32_t x)
{
	const struct sim_xfer *px = &r->plan->x[x];
	struct xrun *xr = &r->xr[x];
	uint32_t len = px->bytes, h = len < HDR_BYTES ? len : HDR_BYTES;
	struct srd_iov iov[2] = {
		{ xr->hdr, h },
		{ r->pattern + HDR_BYTES, len - h },
	};
	struct srd_send_req req = {
		.peer = px->dst,
		.src_ep = 1,
		.dst_ep = 1,
		.tag = x,
		.imm = xr->hdr[1],
		.iov = iov,
		.iovcnt = len > HDR_BYTES ? 2 : 1,
		.ctx = (void *)(uintptr_t)((uint64_t)x + 1),
	};

	return sim_host_send(r->sim, (int)px->src, &req);
}

/* Submit from every ready FIFO of a host until each is empty or its connection full. */
static void pump_host(struct sim *sim, void *arg)
{
	struct hrun *h = arg;
	struct fab_run *r = h->r;

	(void)sim;
	h->pump_queued = 0;
	while (h->ready_head != NIL) {
		uint32_t qid = h->ready_head;
		struct fifo *f = &r->q[qid];

		h->ready_head = f->next_ready;
		if (h->ready_head == NIL)
			h->ready_tail = NIL;
		f->ready = 0;
		while (f->head != NIL) {
			uint32_t x = f->head;
			int rc = submit(r, x);

			if (rc == -EAGAIN)
				break; /* a completion on this connection makes it ready again */
			if (rc) {
				set_error(r, rc);
				return;
			}
			f->head = r->xr[x].next;
			if (f->head == NIL)
				f->tail = NIL;
			r->res->sent++;
		}
	}
}

/* Release every root due now, and schedule the next release time. */
static void release_roots(struct sim *sim, void *arg)
{
	struct fab_run *r = arg;
	const struct sim_plan *p = r->plan;

	while (r->next_root < p->nroots && p->x[p->roots[r->next_root]].release_ns <= sim_now(sim))
		release(r, p->roots[r->next_root++]);
	if (r->next_root < p->nroots &&
	    sim_at(sim, p->x[p->roots[r->next_root]].release_ns, release_roots, r))
		set_error(r, -ENOMEM);
}

static void on_tx_done(void *user, void *ctx, int status)
{
	struct hrun *h = user;
	struct fab_run *r = h->r;
	uint32_t x = (uint32_t)((uintptr_t)ctx - 1);
	struct xrun *xr = &r->xr[x];

	if (r->tearing_down)
		return; /* counted as unfinished */
	xr->done = 1;
	xr->ok = status == 0;
	if (status)
		r->res->failed++;
	gate_hit(r, r->plan->x[x].tx_gate);
	if (r->q[xr->qid].head != NIL)
		fifo_ready(r, xr->qid);
	if (++r->done == r->plan->nx)
		sim_stop(r->sim);
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void *on_rx_alloc(void *user, struct srd_rx_msg *msg)
{
	(void)user;
	return msg->len ? malloc(msg->len) : NULL;
}

/* Is msg transfer x, intact, at the right host? */
static bool msg_is_intact(const struct fab_run *r, uint32_t host, uint32_t x,
			  const struct srd_rx_msg *msg)
{
	const struct sim_xfer *px = &r->plan->x[x];
	const struct xrun *xr = &r->xr[x];
	uint32_t len = msg->len, h = len < HDR_BYTES ? len : HDR_BYTES;

	if (host != px->dst || msg->peer != px->src || len != px->bytes || msg->imm != xr->hdr[1])
		return false;
	if (len && memcmp(msg->buf, xr->hdr, h))
		return false;
	return len <= HDR_BYTES ||
	       !memcmp((const uint8_t *)msg->buf + HDR_BYTES, r->pattern + HDR_BYTES, len - HDR_BYTES);
}

static void on_rx_deliver(void *user, const struct srd_rx_msg *msg)
{
	struct hrun *h = user;
	struct fab_run *r = h->r;
	uint32_t x = msg->tag < r->plan->nx ? (uint32_t)msg->tag : NIL;

	if (x == NIL || !msg_is_intact(r, h->host, x, msg)) {
		r->res->corrupted++;
	} else if (r->xr[x].deliveries) {
		r->res->duplicates++;
		if (r->xr[x].deliveries < UINT8_MAX)
			r->xr[x].deliveries++;
	} else {
		r->xr[x].deliveries = 1;
		r->xr[x].deliver_ns = sim_now(r->sim);
		r->last_delivery_ns = sim_now(r->sim);
		r->res->delivered++;
		gate_hit(r, r->plan->x[x].rx_gate);
	}
	free(msg->buf);
}

static void on_rx_abort(void *user, const struct srd_rx_msg *msg)
{
	(void)user;
	free(msg->buf);
}

/* ---- timeline ------------------------------------------------------------------------------ */

static uint64_t placed_bytes(const struct fab_run *r)
{
	uint64_t sum = 0;

	for (uint32_t h = 0; h < r->hosts; h++) {
		struct srd_stats st;

		srd_get_stats(sim_engine(r->sim, (int)h), &st);
		sum += st.rx_payload_bytes;
	}
	return sum;
}

static void sample_bin(struct sim *sim, void *arg)
{
	struct fab_run *r = arg;
	uint64_t now = sim_now(sim), bytes = placed_bytes(r), bin = now / r->cfg->bin_ns;

	if (bin > 0 && bin - 1 < r->nbins)
		r->bins[bin - 1] = bytes - r->rx_bytes_seen;
	r->rx_bytes_seen = bytes;
	if (r->done < r->plan->nx && bin < r->nbins &&
	    sim_at(sim, (bin + 1) * r->cfg->bin_ns, sample_bin, r))
		set_error(r, -ENOMEM);
}

/* ---- figures -------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Summarize v[0..n) (sorted in place). */
static void summarize(double *v, size_t n, struct sim_summary *s)
{
	double sum = 0;

	memset(s, 0, sizeof(*s));
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s->n = n;
	s->min = v[0];
	s->max = v[n - 1];
	s->mean = sum / (double)n;
	s->p50 = v[(size_t)floor(0.50 * (double)(n - 1))];
	s->p99 = v[(size_t)floor(0.99 * (double)(n - 1))];
}

/* Transfer completion times and slowdowns (per size class). */
static int collect_fct(struct fab_run *r, const struct sim_topo *t)
{
	const struct sim_plan *p = r->plan;
	struct sim_fab_result *res = r->res;
	double *v = malloc((size_t)(p->nx ? p->nx : 1) * 5 * sizeof(*v));
	double *norm, *small, *mid, *large;
	size_t n = 0, ns = 0, nm = 0, nl = 0;

	if (!v)
		return -ENOMEM;
	norm = v + p->nx;
	small = norm + p->nx;
	mid = small + p->nx;
	large = mid + p->nx;
	for (uint32_t i = 0; i < p->nx; i++) {
		const struct sim_xfer *x = &p->x[i];
		const struct xrun *xr = &r->xr[i];
		double fct, ideal, slow;

		if (!xr->deliveries)
			continue;
		fct = (double)(xr->deliver_ns - xr->start_ns) / 1000.0;
		ideal = (double)ideal_ns(r, t, x->src, x->dst, x->bytes) / 1000.0;
		slow = fct / ideal;
		v[n] = fct;
		norm[n++] = slow;
		if (x->bytes < 100000)
			small[ns++] = slow;
		else if (x->bytes <= 1000000)
			mid[nm++] = slow;
		else
			large[nl++] = slow;
		if (r->cfg->on_xfer)
			r->cfg->on_xfer(r->cfg->user, x, (double)xr->start_ns / 1000.0, fct,
					 ideal);
	}
	summarize(v, n, &res->fct_us);
	summarize(norm, n, &res->fct_norm);
	summarize(small, ns, &res->slow_small);
	summarize(mid, nm, &res->slow_mid);
	summarize(large, nl, &res->slow_large);
	free(v);
	return 0;
}

/* The longest chain of ideal ring steps: 2(n-1) transfers, each starting where the
 * previous one was delivered, from every starting rank. */
static uint64_t allreduce_bound(const struct fab_run *r, const struct sim_topo *t)
{
	const struct sim_plan *p = r->plan;
	uint32_t n = p->ranks, steps = 2 * (n - 1);
	uint64_t *hop = malloc((size_t)n * sizeof(*hop)), best = 0;

	if (!hop)
		return 0;
	for (uint32_t k = 0; k < n; k++)
		hop[k] = ideal_ns(r, t, p->rank_host[k], p->rank_host[(k + 1) % n], r->cfg->wl.size);
	for (uint32_t s = 0; s < n; s++) {
		uint64_t sum = 0;

		for (uint32_t i = 0; i < steps; i++)
			sum += hop[(s + i) % n];
		if (sum > best)
			best = sum;
	}
	free(hop);
	return best;
}

/* The busiest rank's wire bytes in each phase over the link rate, summed over phases. */
static uint64_t busiest_bound(const struct fab_run *r)
{
	const struct sim_plan *p = r->plan;
	uint64_t *load = calloc(2 * (size_t)r->hosts * 2, sizeof(*load)), sum = 0;

	if (!load)
		return 0;
	for (uint32_t i = 0; i < p->nx; i++) {
		const struct sim_xfer *x = &p->x[i];
		uint64_t w = wire_bytes(x->bytes, r->cfg->engine.seg_size, r->cfg->net.overhead_bytes);
		uint64_t *ph = load + (size_t)x->phase * 2 * r->hosts;

		ph[x->src] += w;             /* sent */
		ph[r->hosts + x->dst] += w;  /* received */
	}
	for (uint32_t phase = 0; phase < 2; phase++) {
		uint64_t most = 0;

		for (uint32_t h = 0; h < 2 * r->hosts; h++)
			if (load[phase * 2 * r->hosts + h] > most)
				most = load[phase * 2 * r->hosts + h];
		sum += ser_ns(most, r->cfg->net.link_rate_bps);
	}
	free(load);
	return sum;
}

/* The workload's ideal time, ns (see workload.h), and its bus bandwidth. */
static void collect_bound(struct fab_run *r, const struct sim_topo *t)
{
	const struct sim_fab_config *cfg = r->cfg;
	const struct sim_plan *p = r->plan;
	struct sim_fab_result *res = r->res;
	uint64_t w = wire_bytes(cfg->wl.size, cfg->engine.seg_size, cfg->net.overhead_bytes);
	uint64_t bound = 0;
	double n = p->ranks, tsec = res->completion_us * 1e-6;

	switch (cfg->wl.kind) {
	case SIM_WL_PERM:
		for (uint32_t i = 0; i < p->nx; i++) {
			uint64_t b = ideal_ns(r, t, p->x[i].src, p->x[i].dst, p->x[i].bytes);

			if (b > bound)
				bound = b;
		}
		break;
	case SIM_WL_INCAST:
		bound = ser_ns(p->nx * w, cfg->net.link_rate_bps);
		break;
	case SIM_WL_ALLREDUCE:
		bound = allreduce_bound(r, t);
		if (tsec > 0)
			res->busbw_gbps = 2 * (n - 1) * (double)cfg->wl.size * 8 / tsec / 1e9;
		break;
	case SIM_WL_ALLTOALL:
		bound = ser_ns((uint64_t)(p->ranks - 1) * w, cfg->net.link_rate_bps);
		if (tsec > 0)
			res->busbw_gbps = (n - 1) * (double)cfg->wl.size * 8 / tsec / 1e9;
		break;
	case SIM_WL_MOE:
		bound = busiest_bound(r);
		break;
	case SIM_WL_WEBSEARCH:
	case SIM_WL_HADOOP:
		break; /* arrivals over time: the slowdowns are the figures */
	}
	res->bound_us = (double)bound / 1000.0;
	if (bound && res->completion_us > 0)
		res->completion_ratio = res->completion_us / res->bound_us;
}

/* Per-tier link figures, per-link utilisation and failovers. */
static int collect_links(struct fab_run *r, const struct sim_topo *t)
{
	struct sim_net *net = sim_get_net(r->sim);
	const struct sim_net_config *nc = &r->cfg->net;
	struct sim_fab_result *res = r->res;
	double span = res->duration_us * 1e-6 * (double)nc->link_rate_bps;

	res->nlinks = 2 * t->cables;
	res->link_util = calloc(res->nlinks, sizeof(*res->link_util));
	if (!res->link_util)
		return -ENOMEM;
	for (uint32_t l = 0; l < res->nlinks; l++) {
		struct sim_tier_result *tr = &res->tier[t->cable[l / 2].tier];
		struct sim_link_stats st;
		double u;

		sim_net_link_stats(net, l, &st);
		u = span > 0 ? (double)st.bytes * 8 / span : 0;
		res->link_util[l] = u;
		tr->links++;
		tr->util_mean += u;
		if (u > tr->util_max)
			tr->util_max = u;
		tr->drops_queue += st.drops_queue;
		tr->drops_down += st.drops_down;
		tr->ce_marked += st.ce_marked;
		if (st.peak_bytes > tr->peak_bytes)
			tr->peak_bytes = st.peak_bytes;
	}
	for (uint32_t i = 0; i < SIM_TIER_COUNT; i++)
		if (res->tier[i].links)
			res->tier[i].util_mean /= res->tier[i].links;
	for (uint32_t i = 0; i < nc->nevents && res->nfail < SIM_FAB_MAX_FAILS; i++) {
		const struct sim_link_event *e = &nc->events[i];
		struct sim_failover *f = &res->fail[res->nfail];
		struct sim_link_stats a, b;
		uint64_t last;

		if (e->change != SIM_LINK_DOWN)
			continue;
		sim_net_link_stats(net, 2 * e->cable, &a);
		sim_net_link_stats(net, 2 * e->cable + 1, &b);
		last = a.last_dead_send_ns > b.last_dead_send_ns ? a.last_dead_send_ns :
								   b.last_dead_send_ns;
		f->cable = e->cable;
		f->at_ns = e->at_ns;
		f->failover_us = last > e->at_ns ? (double)(last - e->at_ns) / 1000.0 : 0.0;
		last = a.last_dead_ect_ns > b.last_dead_ect_ns ? a.last_dead_ect_ns :
								  b.last_dead_ect_ns;
		f->failover_data_us = last > e->at_ns ? (double)(last - e->at_ns) / 1000.0 : 0.0;
		f->lost = a.drops_down + b.drops_down;
		res->nfail++;
	}
	return 0;
}

static int collect(struct fab_run *r)
{
	struct sim_fab_result *res = r->res;
	const struct sim_topo *t = sim_net_topo(sim_get_net(r->sim));
	int rc;

	for (uint32_t h = 0; h < r->hosts; h++) {
		struct srd_stats st;

		srd_get_stats(sim_engine(r->sim, (int)h), &st);
		res->retransmits += st.tx_retx_pkts;
		res->data_pkts += st.tx_data_pkts;
		res->rto_events += st.rto_events;
		res->path_failures += st.path_failures;
	}
	res->unfinished = r->plan->nx - r->done;
	for (uint32_t i = 0; i < r->plan->nx; i++)
		res->lost += r->xr[i].ok && !r->xr[i].deliveries;
	res->completion_us = (double)r->last_delivery_ns / 1000.0;
	if (r->first_release_ns != UINT64_MAX && r->last_delivery_ns > r->first_release_ns) {
		uint64_t span = r->last_delivery_ns - r->first_release_ns;
		uint64_t bytes = 0;

		for (uint32_t i = 0; i < r->plan->nx; i++)
			if (r->xr[i].deliveries)
				bytes += r->plan->x[i].bytes;
		res->duration_us = (double)span / 1000.0;
		res->goodput_gbps = (double)bytes * 8 / (double)span;
	}
	rc = collect_fct(r, t);
	if (rc == 0)
		rc = collect_links(r, t);
	collect_bound(r, t);
	res->events = sim_events(r->sim);
	if (r->cfg->on_bin) {
		uint64_t last = r->last_delivery_ns / r->cfg->bin_ns + 1;

		for (uint32_t b = 0; b < r->nbins && b < last; b++)
			r->cfg->on_bin(r->cfg->user, (uint64_t)b * r->cfg->bin_ns,
				       (double)r->bins[b] * 8 / (double)r->cfg->bin_ns);
	}
	return rc;
}

/* ---- the run ------------------------------------------------------------------------------- */

/* Build everything the world needs and run it.  Returns 0 or a negative errno. */
static int run_world(struct fab_run *r, const struct srd_config *hc, char *err, size_t errlen)
{
	const struct sim_fab_config *cfg = r->cfg;
	struct sim_config world;
	int rc;

	sim_config_default(&world, 2, 1);
	world.seed = cfg->seed;
	world.net = &cfg->net;
	world.engine = hc[0];
	world.host_engine = hc;
	rc = sim_create(&world, &r->sim, err, errlen);
	if (rc)
		return rc;
	for (uint32_t h = 0; h < r->hosts; h++) {
		struct srd_callbacks cb = {
			.user = &r->hr[h],
			.rx_alloc = on_rx_alloc,
			.rx_deliver = on_rx_deliver,
			.rx_abort = on_rx_abort,
			.tx_done = on_tx_done,
		};

		sim_set_callbacks(r->sim, (int)h, &cb);
	}
	rc = r->plan->nroots ? sim_at(r->sim, r->plan->x[r->plan->roots[0]].release_ns,
				      release_roots, r) : 0;
	if (rc == 0 && cfg->on_bin)
		rc = sim_at(r->sim, cfg->bin_ns, sample_bin, r);
	if (rc == 0 && r->plan->nx)
		rc = sim_run_until(r->sim, cfg->time_limit_ns);
	if (rc >= 0)
		rc = r->error;
	if (rc == 0)
		rc = collect(r);
	r->tearing_down = 1;
	sim_destroy(r->sim);
	r->sim = NULL;
	return rc;
}

int sim_fab_run(const struct sim_fab_config *cfg, struct sim_fab_result *res, char *err,
		size_t errlen)
{
	struct fab_run r = { .cfg = cfg, .res = res, .first_release_ns = UINT64_MAX };
	uint32_t *peers = NULL, *senders = NULL;
	struct srd_config *hc = NULL;
	uint64_t x = cfg->seed ^ 0x706c616e00000000ull; /* "plan": the plan's own stream */
	int rc;

	memset(res, 0, sizeof(*res));
	if (errlen > 0)
		err[0] = '\0';
	rc = check_config(cfg, err, errlen);
	if (rc == 0)
		rc = sim_net_config_check(&cfg->net, err, errlen);
	if (rc)
		return rc;
	r.hosts = sim_topo_host_count(&cfg->net.topo);
	rc = sim_plan_build(&cfg->wl, r.hosts, cfg->net.link_rate_bps, srd_rng_splitmix(&x),
			    &r.plan, err, errlen);
	if (rc)
		return rc;
	rc = -ENOMEM;
	r.key_seed = srd_rng_splitmix(&x);
	r.xr = calloc(r.plan->nx ? r.plan->nx : 1, sizeof(*r.xr));
	r.hr = calloc(r.hosts, sizeof(*r.hr));
	peers = calloc(r.hosts, sizeof(*peers));
	senders = calloc(r.hosts, sizeof(*senders));
	r.pattern = malloc(r.plan->max_bytes + HDR_BYTES);
	if (!r.xr || !r.hr || !peers || !senders || !r.pattern)
		goto out;
	if (cfg->on_bin) {
		r.nbins = (uint32_t)(cfg->time_limit_ns / cfg->bin_ns) + 1;
		r.bins = calloc(r.nbins, sizeof(*r.bins));
		if (!r.bins)
			goto out;
	}
	for (uint64_t w = 0, k = 0xb5ad4eceda1ce2a9ull; w * 8 < r.plan->max_bytes + HDR_BYTES; w++) {
		uint64_t v = srd_rng_splitmix(&k);

		memcpy(r.pattern + w * 8, &v, w * 8 + 8 <= r.plan->max_bytes + HDR_BYTES ? 8 :
		       r.plan->max_bytes + HDR_BYTES - w * 8);
	}
	for (uint32_t i = 0; i < r.plan->nx; i++) {
		uint64_t k = r.key_seed ^ i;

		r.xr[i].hdr[0] = i;
		r.xr[i].hdr[1] = srd_rng_splitmix(&k);
	}
	for (uint32_t h = 0; h < r.hosts; h++)
		r.hr[h] = (struct hrun){ .r = &r, .host = h, .ready_head = NIL, .ready_tail = NIL };
	rc = build_fifos(&r, peers, senders);
	if (rc)
		goto out;
	hc = host_configs(&r, peers, senders);
	if (!hc) {
		rc = -ENOMEM;
		goto out;
	}
	res->hosts = r.hosts;
	res->ranks = r.plan->ranks;
	res->xfers = r.plan->nx;
	res->conn_paths = hc[0].mode == SRD_MODE_SINGLE ? 1 : hc[0].paths;
	res->conn_state_bytes = srd_conn_state_bytes(&hc[0]);
	res->base_rtt_ns = sim_net_base_rtt(&cfg->net, hc[0].seg_size + SRD_HDR_MAX_LEN,
					    SRD_HDR_ACK_LEN);
	rc = run_world(&r, hc, err, errlen);
out:
	if (rc == -ENOMEM && errlen > 0 && !err[0])
		snprintf(err, errlen, "out of memory");
	if (rc)
		sim_fab_result_free(res);
	free(hc);
	free(peers);
	free(senders);
	free(r.bins);
	free(r.pattern);
	free(r.hr);
	free(r.q);
	free(r.xr);
	sim_plan_destroy(r.plan);
	return rc;
}

void sim_fab_result_free(struct sim_fab_result *res)
{
	free(res->link_util);
	res->link_util = NULL;
	res->nlinks = 0;
}
