/*
 * plan.h — what a fabric workload sends: a graph of transfers (one SRD message each) and
 * the gates that release them.
 *
 * A transfer starts at its release time (a root) or when a gate opens.  A gate counts down
 * once for every delivery (or sender completion) of the transfers that name it, and when it
 * reaches zero releases its list of transfers.  That is enough for every workload here:
 *   perm / incast     roots at t = 0;
 *   allreduce         ring, step t of rank r released by the delivery of step t-1 at r;
 *   alltoall          the first k sends of each rank at t = 0, each later one released
 *                     when the sender's send k places earlier completes;
 *   moe               dispatch roots at t = 0; a rank's combine messages released when it
 *                     has received every dispatch message for it;
 *   websearch/hadoop  roots at Poisson arrival times, sizes drawn from the published
 *                     flow-size distributions.
 * Ranks sit on distinct hosts drawn at random from the seed (random placement); the
 * permutation is a random derangement.
 */
#ifndef SIM_PLAN_H
#define SIM_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define SIM_PLAN_NONE UINT32_MAX /* no gate */
#define SIM_PLAN_MAX_XFERS (1u << 24) /* transfers in a plan, at most */

/* Workloads. */
enum sim_wl_kind {
	SIM_WL_PERM = 1,      /* every host sends size bytes to a distinct host, all at t = 0 */
	SIM_WL_INCAST = 2,    /* `ranks` senders send size bytes each to one receiver, at t = 0 */
	SIM_WL_ALLREDUCE = 3, /* ring AllReduce over `ranks` ranks: 2(n-1) dependent steps of
	                         size bytes (the buffer is n * size) */
	SIM_WL_ALLTOALL = 4,  /* every rank sends size bytes to every other, `inflight` at once */
	SIM_WL_MOE = 5,       /* MoE dispatch then combine: every rank sends each of `tokens`
	                         tokens (size bytes) to `topk` other ranks, which send it back
	                         once they have all of theirs */
	SIM_WL_WEBSEARCH = 6, /* Poisson flow arrivals at `load`, WebSearch flow sizes */
	SIM_WL_HADOOP = 7,    /* the same with FB-Hadoop flow sizes */
};

/* What to run. */
struct sim_wl_config {
	enum sim_wl_kind kind; /* workload */
	uint64_t size;         /* bytes: per flow (perm, incast), per step (allreduce), per
	                          pair (alltoall), per token (moe); unused by websearch/hadoop */
	uint32_t ranks;        /* incast: senders; allreduce/alltoall/moe: ranks (0: every host,
	                          for incast every host but the receiver) */
	uint32_t inflight;     /* alltoall: transfers in flight per rank (>= 1) */
	uint32_t tokens;       /* moe: tokens per rank (>= 1) */
	uint32_t topk;         /* moe: ranks each token goes to (1..ranks-1) */
	double load;           /* websearch/hadoop: offered load per host, fraction of the link
	                          rate, (0, 1] */
	uint64_t duration_ns;  /* websearch/hadoop: arrivals in [0, duration) */
};

/* One transfer: one message from src to dst. */
struct sim_xfer {
	uint64_t release_ns; /* roots: when it may start */
	uint32_t src;        /* sending host */
	uint32_t dst;        /* receiving host */
	uint32_t bytes;      /* message length */
	uint32_t rx_gate;    /* gate counted down when it is delivered, or SIM_PLAN_NONE */
	uint32_t tx_gate;    /* gate counted down when its sender completes it, or NONE */
	uint8_t gated;       /* 1: released by a gate (release_ns unused) */
	uint8_t phase;       /* moe: 0 dispatch, 1 combine; 0 elsewhere */
};

/* A gate: releases rel[first .. first + n) when count reaches zero. */
struct sim_gate {
	uint32_t count; /* events still awaited */
	uint32_t first; /* first entry of its release list */
	uint32_t n;     /* entries */
};

/* A built plan. */
struct sim_plan {
	struct sim_xfer *x;      /* nx transfers */
	uint32_t nx;
	struct sim_gate *g;      /* ng gates */
	uint32_t ng;
	uint32_t *rel;           /* release lists of the gates */
	uint32_t nrel;
	uint32_t *roots;         /* transfers released by time, sorted by release_ns */
	uint32_t nroots;
	uint32_t ranks;          /* ranks (hosts taking part) */
	uint32_t *rank_host;     /* host of each rank */
	uint64_t max_bytes;      /* largest transfer */
	uint64_t total_bytes;    /* sum of the transfers' bytes */
};

/* Check *cfg for a network of `hosts` hosts.  Returns 0, or -EINVAL with a sentence. */
int sim_wl_config_check(const struct sim_wl_config *cfg, uint32_t hosts, char *err,
			size_t errlen);

/*
 * Build the plan of *cfg on `hosts` hosts whose links run at link_rate_bps (the Poisson
 * workloads derive their arrival rate from it), drawing placement, permutation and sizes
 * from seed.  Returns 0 and sets *out, or -EINVAL (bad config, reason in err; or more than
 * SIM_PLAN_MAX_XFERS transfers) or -ENOMEM.
 */
int sim_plan_build(const struct sim_wl_config *cfg, uint32_t hosts, uint64_t link_rate_bps,
		   uint64_t seed, struct sim_plan **out, char *err, size_t errlen);

/* Free a plan.  NULL is ignored. */
void sim_plan_destroy(struct sim_plan *p);

/* Name of a workload kind ("perm", ...), or "?". */
const char *sim_wl_name(enum sim_wl_kind kind);

/* Mean flow size (bytes) of the websearch or hadoop distribution, 0 for other kinds. */
double sim_flowdist_mean(enum sim_wl_kind kind);

#endif /* SIM_PLAN_H */
