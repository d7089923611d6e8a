/*
 * plan.c — the transfer graphs of the fabric workloads (see plan.h).
 */
#include "plan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* A point of a flow-size CDF: P(size <= bytes) = pct / 100. */
struct cdf_point {
	double bytes;
	double pct;
};

/* Flow sizes of web search (the DCTCP paper's measurement) and of Facebook's Hadoop
 * cluster (Roy et al., SIGCOMM 2015), as the HPCC paper's traffic generator tabulates
 * them; sampled by linear interpolation between the points, as that generator does. */
static const struct cdf_point websearch_cdf[] = {
	{ 0, 0 }, { 10000, 15 }, { 20000, 20 }, { 30000, 30 }, { 50000, 40 }, { 80000, 53 },
	{ 200000, 60 }, { 1000000, 70 }, { 2000000, 80 }, { 5000000, 90 }, { 10000000, 97 },
	{ 30000000, 100 },
};
static const struct cdf_point hadoop_cdf[] = {
	{ 0, 0 }, { 100, 1 }, { 200, 2 }, { 300, 5 }, { 350, 15 }, { 400, 20 }, { 500, 30 },
	{ 600, 40 }, { 700, 50 }, { 1000, 60 }, { 2000, 67 }, { 7000, 70 }, { 30000, 72 },
	{ 50000, 82 }, { 80000, 87 }, { 120000, 90 }, { 300000, 95 }, { 1000000, 97.5 },
	{ 2000000, 99 }, { 10000000, 100 },
};

static const struct cdf_point *dist_of(enum sim_wl_kind kind, size_t *n)
{
	if (kind == SIM_WL_WEBSEARCH) {
		*n = sizeof(websearch_cdf) / sizeof(websearch_cdf[0]);
		return websearch_cdf;
	}
	if (kind == SIM_WL_HADOOP) {
		*n = sizeof(hadoop_cdf) / sizeof(hadoop_cdf[0]);
		return hadoop_cdf;
	}
	*n = 0;
	return NULL;
}

double sim_flowdist_mean(enum sim_wl_kind kind)
{
	size_t n;
	const struct cdf_point *c = dist_of(kind, &n);
	double mean = 0;

	for (size_t i = 1; i < n; i++)
		mean += (c[i].pct - c[i - 1].pct) / 100 * (c[i].bytes + c[i - 1].bytes) / 2;
	return mean;
}

/* A flow size drawn from the distribution (at least 1 byte). */
static uint32_t flowdist_sample(enum sim_wl_kind kind, struct srd_rng *rng)
{
	size_t n;
	const struct cdf_point *c = dist_of(kind, &n);
	double u = srd_rng_unit(rng) * 100, v = c[n - 1].bytes;

	for (size_t i = 1; i < n; i++) {
		if (u < c[i].pct) {
			double f = (u - c[i - 1].pct) / (c[i].pct - c[i - 1].pct);

			v = c[i - 1].bytes + f * (c[i].bytes - c[i - 1].bytes);
			break;
		}
	}
	return v < 1 ? 1 : (uint32_t)v;
}

const char *sim_wl_name(enum sim_wl_kind kind)
{
	switch (kind) {
	case SIM_WL_PERM: return "perm";
	case SIM_WL_INCAST: return "incast";
	case SIM_WL_ALLREDUCE: return "allreduce";
	case SIM_WL_ALLTOALL: return "alltoall";
	case SIM_WL_MOE: return "moe";
	case SIM_WL_WEBSEARCH: return "websearch";
	case SIM_WL_HADOOP: return "hadoop";
	}
	return "?";
}

/* ---- checks -------------------------------------------------------------------------- */

static int wl_fail(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "workload: %s", msg);
	return -EINVAL;
}

/* Ranks a config asks for on `hosts` hosts (0 means all). */
static uint32_t ranks_of(const struct sim_wl_config *cfg, uint32_t hosts)
{
	if (cfg->kind == SIM_WL_INCAST)
		return cfg->ranks ? cfg->ranks : hosts - 1;
	return cfg->ranks ? cfg->ranks : hosts;
}

int sim_wl_config_check(const struct sim_wl_config *cfg, uint32_t hosts, char *err,
			size_t errlen)
{
	uint32_t n = ranks_of(cfg, hosts);

	if (errlen > 0)
		err[0] = '\0';
	if (hosts < 2)
		return wl_fail(err, errlen, "the network needs 2 hosts or more");
	switch (cfg->kind) {
	case SIM_WL_PERM:
		break;
	case SIM_WL_INCAST:
		if (n < 1 || n > hosts - 1)
			return wl_fail(err, errlen, "incast needs 1..hosts-1 senders");
		break;
	case SIM_WL_ALLREDUCE:
	case SIM_WL_ALLTOALL:
	case SIM_WL_MOE:
		if (n < 2 || n > hosts)
			return wl_fail(err, errlen, "a collective needs 2..hosts ranks");
		if (cfg->kind == SIM_WL_ALLTOALL && cfg->inflight < 1)
			return wl_fail(err, errlen, "all-to-all needs 1 transfer in flight or more");
		if (cfg->kind == SIM_WL_MOE && (cfg->tokens < 1 || cfg->topk < 1 || cfg->topk >= n))
			return wl_fail(err, errlen, "moe needs tokens >= 1 and topk in 1..ranks-1");
		break;
	case SIM_WL_WEBSEARCH:
	case SIM_WL_HADOOP:
		if (!(cfg->load > 0 && cfg->load <= 1))
			return wl_fail(err, errlen, "the load must be in (0, 1]");
		if (cfg->duration_ns == 0)
			return wl_fail(err, errlen, "the arrival duration must be > 0");
		return 0;
	default:
		return wl_fail(err, errlen, "unknown kind");
	}
	if (cfg->size > UINT32_MAX / 2)
		return wl_fail(err, errlen, "a transfer must be under 2 GiB");
	return 0;
}

/* ---- building ------------------------------------------------------------------------- */

static int plan_alloc(struct sim_plan *p, uint64_t nx, uint64_t ng, uint64_t nrel)
{
	if (nx > SIM_PLAN_MAX_XFERS || ng > SIM_PLAN_MAX_XFERS || nrel > SIM_PLAN_MAX_XFERS)
		return -E2BIG;
	p->nx = (uint32_t)nx;
	p->ng = (uint32_t)ng;
	p->nrel = (uint32_t)nrel;
	p->x = calloc(nx ? nx : 1, sizeof(*p->x));
	p->g = calloc(ng ? ng : 1, sizeof(*p->g));
	p->rel = calloc(nrel ? nrel : 1, sizeof(*p->rel));
	p->roots = calloc(nx ? nx : 1, sizeof(*p->roots));
	return p->x && p->g && p->rel && p->roots ? 0 : -ENOMEM;
}

/* A transfer released at t (a root) or by a gate, with no gates of its own yet. */
static void xfer_set(struct sim_plan *p, uint32_t i, uint32_t src, uint32_t dst, uint64_t bytes,
		     int gated, uint64_t t)
{
	p->x[i] = (struct sim_xfer){
		.release_ns = t, .src = src, .dst = dst, .bytes = (uint32_t)bytes,
		.rx_gate = SIM_PLAN_NONE, .tx_gate = SIM_PLAN_NONE, .gated = (uint8_t)gated,
	};
	if (!gated)
		p->roots[p->nroots++] = i;
}

/* A gate waiting for one event that releases transfer `then`. */
static void gate_one(struct sim_plan *p, uint32_t g, uint32_t then)
{
	p->g[g] = (struct sim_gate){ .count = 1, .first = g, .n = 1 };
	p->rel[g] = then;
}

/* Place n ranks on distinct random hosts. */
static int place_ranks(struct sim_plan *p, uint32_t n, uint32_t hosts, struct srd_rng *rng)
{
	uint32_t *h;

	if (n == 0)
		return 0;
	h = malloc((size_t)hosts * sizeof(*h));
	p->rank_host = malloc((size_t)n * sizeof(*p->rank_host));
	if (!h || !p->rank_host) {
		free(h);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < hosts; i++)
		h[i] = i;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i + srd_rng_below(rng, hosts - i), t = h[i];

		h[i] = h[j];
		h[j] = t;
		p->rank_host[i] = h[i];
	}
	p->ranks = n;
	free(h);
	return 0;
}

static int build_perm(struct sim_plan *p, const struct sim_wl_config *cfg, uint32_t hosts,
		      struct srd_rng *rng)
{
	uint32_t *to = malloc((size_t)hosts * sizeof(*to));
	int rc, fixed;

	if (!to)
		return -ENOMEM;
	/* a uniform random derangement: shuffle until no host sends to itself (e^-1 of the
	 * shuffles qualify) */
	do {
		fixed = 0;
		for (uint32_t i = 0; i < hosts; i++)
			to[i] = i;
		for (uint32_t i = hosts - 1; i > 0; i--) {
			uint32_t j = srd_rng_below(rng, i + 1), t = to[i];

			to[i] = to[j];
			to[j] = t;
		}
		for (uint32_t i = 0; i < hosts; i++)
			fixed |= to[i] == i;
	} while (fixed);
	rc = plan_alloc(p, hosts, 0, 0);
	for (uint32_t i = 0; rc == 0 && i < hosts; i++)
		xfer_set(p, i, i, to[i], cfg->size, 0, 0);
	free(to);
	return rc;
}

static int build_incast(struct sim_plan *p, const struct sim_wl_config *cfg, uint32_t n)
{
	int rc = plan_alloc(p, n, 0, 0);

	/* rank 0 receives, ranks 1..n send */
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		xfer_set(p, i, p->rank_host[i + 1], p->rank_host[0], cfg->size, 0, 0);
	return rc;
}

static int build_allreduce(struct sim_plan *p, const struct sim_wl_config *cfg, uint32_t n)
{
	uint32_t steps = 2 * (n - 1);
	int rc = plan_alloc(p, (uint64_t)steps * n, (uint64_t)(steps - 1) * n,
			    (uint64_t)(steps - 1) * n);

	/* transfer t * n + r: step t of rank r, to rank r + 1; its delivery lets rank r + 1
	 * send step t + 1 */
	for (uint32_t t = 0; rc == 0 && t < steps; t++) {
		for (uint32_t r = 0; r < n; r++) {
			uint32_t i = t * n + r, next = (r + 1) % n;

			xfer_set(p, i, p->rank_host[r], p->rank_host[next], cfg->size, t > 0, 0);
			if (t + 1 < steps) {
				p->x[i].rx_gate = i;
				gate_one(p, i, (t + 1) * n + next);
			}
		}
	}
	return rc;
}

static int build_alltoall(struct sim_plan *p, const struct sim_wl_config *cfg, uint32_t n)
{
	uint32_t per = n - 1, k = cfg->inflight < per ? cfg->inflight : per;
	int rc = plan_alloc(p, (uint64_t)n * per, (uint64_t)n * per, (uint64_t)n * per);

	/* rank r's j-th send goes to rank r + 1 + j; the completion of send j releases j + k */
	for (uint32_t r = 0; rc == 0 && r < n; r++) {
		for (uint32_t j = 0; j < per; j++) {
			uint32_t i = r * per + j;

			xfer_set(p, i, p->rank_host[r], p->rank_host[(r + 1 + j) % n], cfg->size,
				 j >= k, 0);
			if (j + k < per) {
				p->x[i].tx_gate = i;
				gate_one(p, i, i + k);
			}
		}
	}
	return rc; /* the gates of the last k sends stay zeroed: nothing names them */
}

static int build_moe(struct sim_plan *p, const struct sim_wl_config *cfg, uint32_t n,
		     struct srd_rng *rng)
{
	uint64_t nd = (uint64_t)n * cfg->tokens * cfg->topk;
	uint32_t *picked = malloc((size_t)cfg->topk * sizeof(*picked));
	uint32_t *fill = calloc(n, sizeof(*fill));
	uint32_t *dst_rank = NULL;
	int rc = picked && fill ? plan_alloc(p, 2 * nd, n, nd) : -ENOMEM;

	if (rc == 0)
		dst_rank = malloc((size_t)nd * sizeof(*dst_rank));
	if (rc == 0 && !dst_rank)
		rc = -ENOMEM;
	/* dispatch: token i of rank r to topk distinct other ranks */
	for (uint32_t r = 0, d = 0; rc == 0 && r < n; r++) {
		for (uint32_t tok = 0; tok < cfg->tokens; tok++) {
			for (uint32_t e = 0; e < cfg->topk; e++, d++) {
				uint32_t to;
				int dup;

				do {
					to = srd_rng_below(rng, n);
					dup = to == r;
					for (uint32_t q = 0; q < e && !dup; q++)
						dup = picked[q] == to;
				} while (dup);
				picked[e] = to;
				dst_rank[d] = to;
				xfer_set(p, d, p->rank_host[r], p->rank_host[to], cfg->size, 0, 0);
				p->x[d].rx_gate = to;
				p->g[to].count++;
			}
		}
	}
	/* combine: each dispatch message comes back once its receiver has all of its own;
	 * gate `rank` releases the combine messages that rank sends, grouped by rank */
	for (uint32_t r = 0, at = 0; rc == 0 && r < n; r++) {
		p->g[r].first = at;
		p->g[r].n = p->g[r].count;
		at += p->g[r].count;
	}
	for (uint64_t d = 0; rc == 0 && d < nd; d++) {
		uint32_t c = (uint32_t)(nd + d), r = dst_rank[d];

		xfer_set(p, c, p->x[d].dst, p->x[d].src, cfg->size, 1, 0);
		p->x[c].phase = 1;
		p->rel[p->g[r].first + fill[r]++] = c;
	}
	free(dst_rank);
	free(fill);
	free(picked);
	return rc;
}

static int build_poisson(struct sim_plan *p, const struct sim_wl_config *cfg, uint32_t hosts,
			 uint64_t rate_bps, struct srd_rng *rng)
{
	double mean = sim_flowdist_mean(cfg->kind);
	double per_s = cfg->load * (double)hosts * (double)rate_bps / 8.0 / mean;
	double t = 0, horizon = (double)cfg->duration_ns * 1e-9;
	uint64_t count = 0;
	struct srd_rng probe = *rng;
	int rc;

	/* count first (same draws), then fill */
	for (;;) {
		t += -log(1.0 - srd_rng_unit(&probe)) / per_s;
		if (t >= horizon)
			break;
		(void)srd_rng_below(&probe, hosts);
		(void)srd_rng_below(&probe, hosts - 1);
		(void)flowdist_sample(cfg->kind, &probe);
		if (++count > SIM_PLAN_MAX_XFERS)
			return -E2BIG;
	}
	rc = plan_alloc(p, count, 0, 0);
	t = 0;
	for (uint64_t i = 0; rc == 0 && i < count; i++) {
		uint32_t src, dst, bytes;

		t += -log(1.0 - srd_rng_unit(rng)) / per_s;
		src = srd_rng_below(rng, hosts);
		dst = srd_rng_below(rng, hosts - 1);
		dst += dst >= src;
		bytes = flowdist_sample(cfg->kind, rng);
		xfer_set(p, (uint32_t)i, src, dst, bytes, 0, (uint64_t)(t * 1e9));
	}
	return rc;
}

int sim_plan_build(const struct sim_wl_config *cfg, uint32_t hosts, uint64_t link_rate_bps,
		   uint64_t seed, struct sim_plan **out, char *err, size_t errlen)
{
	struct sim_plan *p;
	struct srd_rng rng;
	uint32_t n;
	int rc = sim_wl_config_check(cfg, hosts, err, errlen);

	if (rc)
		return rc;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail_nomem;
	srd_rng_seed(&rng, seed);
	n = ranks_of(cfg, hosts);
	if (cfg->kind == SIM_WL_PERM || cfg->kind == SIM_WL_WEBSEARCH || cfg->kind == SIM_WL_HADOOP)
		n = 0;
	rc = place_ranks(p, cfg->kind == SIM_WL_INCAST ? n + 1 : n, hosts, &rng);
	if (rc == 0) {
		switch (cfg->kind) {
		case SIM_WL_PERM: rc = build_perm(p, cfg, hosts, &rng); break;
		case SIM_WL_INCAST: rc = build_incast(p, cfg, n); break;
		case SIM_WL_ALLREDUCE: rc = build_allreduce(p, cfg, n); break;
		case SIM_WL_ALLTOALL: rc = build_alltoall(p, cfg, n); break;
		case SIM_WL_MOE: rc = build_moe(p, cfg, n, &rng); break;
		case SIM_WL_WEBSEARCH:
		case SIM_WL_HADOOP:
			rc = build_poisson(p, cfg, hosts, link_rate_bps, &rng);
			break;
		}
	}
	if (rc) {
		sim_plan_destroy(p);
		if (rc == -E2BIG) {
			if (errlen > 0)
				snprintf(err, errlen, "workload: more than %u transfers",
					 SIM_PLAN_MAX_XFERS);
			return -EINVAL;
		}
		goto fail_nomem;
	}
	/* the roots are in release order already: all at 0, or Poisson arrivals in turn */
	for (uint32_t i = 0; i < p->nx; i++) {
		p->total_bytes += p->x[i].bytes;
		if (p->x[i].bytes > p->max_bytes)
			p->max_bytes = p->x[i].bytes;
	}
	*out = p;
	return 0;

fail_nomem:
	if (errlen > 0)
		snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void sim_plan_destroy(struct sim_plan *p)
{
	if (!p)
		return;
	free(p->x);
	free(p->g);
	free(p->rel);
	free(p->roots);
	free(p->rank_host);
	free(p);
}
