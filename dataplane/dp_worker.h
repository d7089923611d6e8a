/*
 * dp_worker.h — a poll-mode worker: for every port, receive a burst, hand SRD datagrams
 * to the port's protocol engine and answer ARP; take the apps' submissions; run the
 * engines' timers; frame what the engines produce (Ethernet/IPv4/UDP, ECT(0) for data),
 * pass it through the impairment stage if configured, and transmit; then wait according
 * to the idle policy.
 *
 * One engine per port (the port's address is the engine's identity; peers are keyed by
 * their IPv4 address).  The worker owns its engines, impairment stages and neighbour
 * tables; nothing is shared with other threads but the counters it publishes.
 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "dp_config.h"
#include "dp_net.h"
#include "dp_port.h"
#include "dp_shm.h"
#include "srd_core.h"

struct dp_impair;
struct dp_sendrec;
struct rte_mbuf;

#define DP_WORKER_BACKLOG 256u /* frames kept per port when its TX ring is full */
struct dp_telemetry;

/* Counters of a worker (per port where it says so). */
struct dp_worker_stats {
	uint64_t loops;                 /* loop iterations */
	uint64_t idle_loops;            /* of which found nothing to do */
	uint64_t rx_pkts;               /* frames received */
	uint64_t rx_srd;                /* SRD datagrams handed to an engine */
	uint64_t rx_arp;                /* ARP packets */
	uint64_t rx_drops[DP_DROP_MAX]; /* frames dropped by the framing checks, by reason */
	uint64_t tx_pkts;               /* frames given to the port */
	uint64_t tx_full;               /* frames the port did not take at once (kept in the
	                                   backlog; freed only if the backlog is full) */
	uint64_t tx_no_mbuf;            /* packets not built: the mempool was empty */
	uint64_t tx_no_route;           /* packets for a destination without a route */
	uint64_t tx_no_neigh;           /* packets dropped while their neighbour was resolved */
	uint64_t arp_requests;          /* ARP requests sent */
	uint64_t arp_replies;           /* ARP replies sent */
	uint64_t sends;                 /* app sends handed to an engine */
	uint64_t send_errors;           /* app sends refused by the engine (completed with it) */
	uint64_t rx_discarded;          /* messages received for no endpoint (dropped) */
	uint64_t hairpin;               /* packets for the port's own address, handed back to
	                                   its engine without the wire */
	uint64_t link_changes;          /* link up/down events seen */
};

/* One port as the worker drives it. */
struct dp_wport {
	struct dp_port *port;           /* the port */
	uint16_t queue;                 /* this worker's queue pair on it */
	struct srd_engine *eng;         /* the protocol engine of this port's address */
	struct dp_impair *impair;       /* the impairment stage, or NULL */
	struct dp_neigh_table neigh;    /* neighbours */
	struct dp_net_local local;      /* what received frames are checked against */
	struct dp_worker *w;            /* back pointer (engine callbacks) */
	uint8_t link_up;                /* last link state seen */
	struct rte_mbuf *backlog[DP_WORKER_BACKLOG]; /* frames the port did not take yet: sent
	                                   first next time; the engine is not asked for more
	                                   while any wait (backpressure instead of loss) */
	uint16_t nbacklog;              /* frames in backlog */
};

/* A worker. */
struct dp_worker {
	const struct dp_config *cfg;    /* configuration */
	struct dp_shm *shm;             /* the apps (NULL: none) */
	struct dp_telemetry *tel;       /* telemetry requests, answered between iterations
	                                   (NULL: none) */
	struct dp_wport wp[DP_MAX_PORTS];
	uint32_t nports;
	uint64_t tsc_hz;                /* TSC ticks per second */
	uint64_t tsc0;                  /* TSC at start: engine time is ns since then */
	uint64_t now;                   /* engine time of the current iteration, ns */
	struct dp_sendrec *recs;        /* send records (the engines' tx_done context) */
	uint32_t nrecs;
	uint32_t rec_free;              /* free list of records */
	struct dp_shm_send *held;       /* taken sends the engines could not take yet (FIFO) */
	uint32_t held_head, held_n, held_cap;
	uint8_t *discard;               /* where messages for no endpoint are received */
	uint32_t sleep_us;              /* current idle sleep (DP_IDLE_SLEEP) */
	uint64_t next_link_poll;        /* engine time of the next link-state poll */
	uint64_t next_control;          /* engine time of the next control-socket poll */
	struct dp_worker_stats st;      /* counters */
};

/*
 * Set up a worker over ports[0..nports) (queue `queue` of each): one engine per port
 * (cfg->engine with this worker's epoch and seed), impairment stages where configured,
 * neighbour tables, send records.  shm may be NULL.  Returns 0 or a negative errno with
 * the reason in err.
 */
int dp_worker_init(struct dp_worker *w, const struct dp_config *cfg, struct dp_ports *ports,
		   uint16_t queue, struct dp_shm *shm, uint16_t epoch, uint64_t seed, char *err,
		   size_t errlen);

/* One iteration of the loop.  Returns true if it did any work. */
bool dp_worker_iterate(struct dp_worker *w);

/* Wait according to the idle policy (after an iteration that did nothing). */
void dp_worker_idle(struct dp_worker *w);

/* Loop until *quit becomes true. */
void dp_worker_run(struct dp_worker *w, volatile bool *quit);

/* Destroy the engines (their unfinished sends complete with -ECANCELED to the apps), the
 * impairment stages (freeing held mbufs) and the records. */
void dp_worker_fini(struct dp_worker *w);

#endif /* DP_WORKER_H */
