/*
 * workload.h — a fabric workload (plan.h) run over a topology's network (net.h) by the real
 * protocol core, checked and measured: what srd-sim --topo prints and the fabric tests
 * assert.
 *
 * Every transfer is one SRD message from its source host's engine to its destination's.
 * Its first 16 bytes name it (transfer number and a key drawn from the seed); the rest is a
 * fixed pattern, so the receiver checks identity, length and every byte's place, and
 * counts deliveries per transfer to prove exactly-once delivery.  A transfer the engine
 * cannot take yet (-EAGAIN: its connection's message slots are in use) waits in a queue of
 * its connection and goes as soon as a slot frees, so a transfer's completion time counts
 * from its release, not from when the engine took it.
 *
 * The figures (all in virtual time, so a run is a function of its config and seed):
 *   FCT          delivery at the receiver minus release;
 *   ideal        the transfer alone on an idle fabric at line rate: its wire bytes (payload,
 *                SRD headers, Ethernet/IP/UDP overhead) / link rate + the base one-way
 *                latency of its route (propagation of every hop, plus the last packet's
 *                store-and-forward serialization at each switch);
 *   completion   last delivery (all transfers start at 0 except Poisson arrivals);
 *   bound        the workload's ideal time: perm the largest ideal; incast N * wire(S) / C;
 *                allreduce the longest chain of 2(n-1) ideal steps around the ring;
 *                all-to-all (n-1) * wire(S) / B; moe the busiest rank's wire bytes in each
 *                phase / B, summed over the two phases;
 *   busbw        NCCL's bus bandwidth: allreduce 2(n-1) * S / T, all-to-all (n-1) * S / T;
 *   failover     for each cable taken down: from the failure until the last packet sent
 *                into it (0 if none was), and the packets lost on it.
 */
#ifndef SIM_WORKLOAD_H
#define SIM_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "plan.h"
#include "srd_core.h"

#define SIM_FAB_MAX_FAILS 16u /* cables taken down whose failover is reported */

/* Load balancing to compare (all of it is the protocol core's own path choice). */
enum sim_lb {
	SIM_LB_ECMP = 1,  /* one hashed source port per connection: TCP / RoCE over ECMP */
	SIM_LB_SPRAY = 2, /* oblivious spraying over `entropies` source ports */
	SIM_LB_SRD = 3,   /* the core's path-aware spraying over `entropies` source ports */
};

/* A fabric run. */
struct sim_fab_config {
	uint64_t seed;              /* the one seed: network, engines, plan */
	struct sim_net_config net;  /* topology, links, queues, schedule */
	struct sim_wl_config wl;    /* the workload */
	struct srd_config engine;   /* every engine's base config (mode, paths, max_conns,
	                               rx_slots, max_msg_size and setup_cookie_pct are set per
	                               host by the run; cc.base_rtt_ns when 0, init_cwnd when
	                               start_at_bdp, rx_credit_bytes when rx_credit_pct) */
	enum sim_lb lb;             /* load balancing */
	uint32_t entropies;         /* spray / srd: source ports per connection (1..256; 0: four
	                               per equal-cost path between two pods, 16..256) */
	int start_at_bdp;           /* 1: connections start with a window of one fabric BDP
	                               (line rate from the first RTT, as UEC's NSCC starts) */
	uint32_t rx_credit_pct;     /* receivers share this percentage of one fabric BDP among
	                               their senders (srd_config.rx_credit_bytes; 0: leave
	                               engine.rx_credit_bytes as it is) */
	uint64_t time_limit_ns;     /* give up at this virtual time */
	uint64_t bin_ns;            /* goodput timeline resolution (on_bin) */
	/* optional: called after the run for every timeline bin (start, payload Gbit/s) */
	void (*on_bin)(void *user, uint64_t t_ns, double gbps);
	/* optional: called after the run for every delivered transfer (start_us: when it was
	 * released) */
	void (*on_xfer)(void *user, const struct sim_xfer *x, double start_us, double fct_us,
			double ideal_us);
	void *user;                 /* passed to on_bin and on_xfer */
};

/* Summary of a set of values. */
struct sim_summary {
	uint64_t n;  /* values */
	double min, mean, p50, p99, max;
};

/* Links of one tier (both directions). */
struct sim_tier_result {
	uint32_t links;        /* directed links */
	double util_mean;      /* mean utilisation: wire bits / (nominal rate * duration) */
	double util_max;       /* the busiest link's */
	uint64_t drops_queue;  /* drop-tail drops */
	uint64_t drops_down;   /* packets lost on a link that was down */
	uint64_t ce_marked;    /* ECN marks */
	uint64_t peak_bytes;   /* largest queue */
};

/* One cable taken down. */
struct sim_failover {
	uint32_t cable;        /* which */
	uint64_t at_ns;        /* when */
	double failover_us;    /* until the last packet sent into it (0: none was) */
	double failover_data_us; /* until the last data packet (ECN-capable) sent into it */
	uint64_t lost;         /* packets lost on it (queued when it failed, or sent into it) */
};

/* What happened. */
struct sim_fab_result {
	uint32_t hosts;            /* hosts in the topology */
	uint32_t ranks;            /* ranks of a collective (0 otherwise) */
	uint64_t xfers;            /* transfers in the plan */
	uint64_t sent;             /* accepted by srd_send() */
	uint64_t delivered;        /* distinct transfers delivered, content checked */
	uint64_t duplicates;       /* deliveries of a transfer already delivered */
	uint64_t corrupted;        /* deliveries whose identity, length or bytes were wrong */
	uint64_t failed;           /* transfers whose sender completed them with an error (the
	                              receiver may still have it: an error says only that the
	                              sender could not learn it arrived) */
	uint64_t lost;             /* transfers their sender completed as delivered that never
	                              arrived: must be 0 */
	uint64_t unfinished;       /* transfers without a final status at the end */
	double duration_us;        /* first release to last delivery */
	double completion_us;      /* last delivery */
	double bound_us;           /* the workload's ideal time (see above) */
	double completion_ratio;   /* completion / bound */
	double busbw_gbps;         /* allreduce / all-to-all bus bandwidth (0 otherwise) */
	double goodput_gbps;       /* payload delivered / duration */
	struct sim_summary fct_us; /* transfer completion times */
	struct sim_summary fct_norm; /* the same divided by each transfer's ideal */
	struct sim_summary slow_small; /* FCT / ideal of transfers < 100 KB */
	struct sim_summary slow_mid;   /* of 100 KB..1 MB */
	struct sim_summary slow_large; /* of > 1 MB */
	struct sim_tier_result tier[SIM_TIER_COUNT]; /* per tier of cables */
	uint32_t nlinks;           /* directed links */
	double *link_util;         /* nlinks utilisations, link id order (sim_fab_result_free) */
	uint32_t nfail;            /* entries in fail */
	struct sim_failover fail[SIM_FAB_MAX_FAILS]; /* cables taken down, schedule order */
	uint64_t retransmits;      /* data retransmissions, all hosts */
	uint64_t data_pkts;        /* data packets sent, all hosts */
	uint64_t rto_events;       /* retransmission timeouts, all hosts */
	uint64_t path_failures;    /* paths declared failed, all hosts */
	uint32_t conn_paths;       /* entropy values per connection */
	uint64_t conn_state_bytes; /* per-connection state of the engine config */
	uint64_t base_rtt_ns;      /* the longest route's unloaded RTT */
	uint64_t events;           /* simulator events handled */
};

/* Fill *cfg: fat-tree k = 4 with sim_net_config_default(), a 1 MiB permutation, the core's
 * path-aware spraying over the default number of source ports (entropies 0), windows
 * starting at one BDP, seed 1, 1 s limit, 10 µs bins. */
void sim_fab_default(struct sim_fab_config *cfg);

/*
 * Run *cfg to completion (or its time limit) and fill *res (free it with
 * sim_fab_result_free()).  Returns 0, or -EINVAL (bad config: reason in err) or -ENOMEM.
 * A run in which transfers were lost, duplicated or corrupted still returns 0: *res says so.
 */
int sim_fab_run(const struct sim_fab_config *cfg, struct sim_fab_result *res, char *err,
		size_t errlen);

/* Free what *res holds (not res itself).  Safe on a zeroed or freed result. */
void sim_fab_result_free(struct sim_fab_result *res);

/* Source ports per connection for a topology when none are given: four per equal-cost path
 * between the farthest hosts ((k/2)^2 in a fat-tree, the spines in a leaf-spine), within
 * 16..256: enough that the hash spreads them evenly over every path. */
uint32_t sim_fab_default_entropies(const struct sim_topo_config *topo);

/* Name of a load-balancing mode ("ecmp", "spray", "srd"). */
const char *sim_lb_name(enum sim_lb lb);

#endif /* SIM_WORKLOAD_H */
