/*
 * dp_worker.h — a poll-mode worker: for every port, receive a burst, hand SRD datagrams
 * to the port's protocol engine and answer ARP; take the apps' submissions; run the
 * engines' timers; frame what the engines produce (Ethernet/IPv4/UDP, ECT(0) for data),
 * pass it through the impairment stage if configured, and transmit; then wait according
 * to the idle policy.
 *
 * One engine per port (the port's address and the worker's index are the engine's
 * identity; a peer is keyed by its address and worker, dp_peer_key()).  The worker owns its
 * engines, impairment stages and neighbour tables.
 *
 * Several workers.  Worker w owns UDP port udp_port + w, its apps' endpoints and their
 * connections (dp_net.h).  Each has an inbox, a multi-producer ring of frames: a worker
 * that receives a datagram addressed to another worker's UDP port (RSS hashes the source
 * port, the path entropy, so it scatters a connection over the queues; the crossed
 * loopback pair delivers on the sender's queue) puts it in the owner's inbox, and so does
 * a worker sending to another worker of the same address.  ARP packets are answered by
 * the worker that receives them and copied to every other worker's inbox, so that all
 * neighbour tables learn.  Nothing else is shared between workers.
 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "dp_capture.h"
#include "dp_config.h"
#include "dp_net.h"
#include "dp_port.h"
#include "dp_shm.h"
#include "srd_core.h"

struct dp_impair;
struct dp_sendrec;
struct rte_mbuf;

#define DP_WORKER_BACKLOG 256u /* frames kept per port when its TX ring is full */
#define DP_WORKER_INBOX 4096u   /* frames a worker's inbox holds */
#define DP_WORKER_SPARES 32u    /* mbufs a port's transmit path keeps ahead (one burst) */
#define DP_RX_JOIN_MAX (14u + 65535u) /* the longest frame a chain may join into: Ethernet
                                   and the longest IPv4 datagram */
#define DP_PAUSE_NS 10000000ull /* an iteration this late is a pause: the engines heard
                                   nothing meanwhile (srd_note_pause()) */
struct dp_telemetry;

/* Counters of a worker (per port where it says so). */
struct dp_worker_stats {
	uint64_t loops;                 /* loop iterations */
	uint64_t idle_loops;            /* of which found nothing to do */
	uint64_t pauses;                /* clock reads DP_PAUSE_NS or more after the thread was
	                                   due (at an iteration's top or between its transmit
	                                   bursts: it lost its CPU, or srdd was stopped); the
	                                   engines were told (srd_note_pause()) */
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
	uint64_t hairpin;               /* packets for the port's own address, handed back to
	                                   its engine without the wire */
	uint64_t link_changes;          /* link up/down events seen (worker 0 watches links) */
	uint64_t tx_link_down;          /* frames dropped because their port's link was down */
	uint64_t steered_out;           /* frames handed to another worker's inbox */
	uint64_t steered_in;            /* frames taken from this worker's inbox */
	uint64_t steer_drops;           /* frames dropped: the other worker's inbox was full
	                                   (the core resends them) */
	uint64_t tx_no_worker;          /* sends to an endpoint id of a worker this daemon
	                                   does not run (completed with -EADDRNOTAVAIL) */
	uint64_t capture_pkts;          /* frames copied for a packet capture */
	uint64_t capture_drops;         /* frames a capture missed: its ring was full or it had
	                                   no copy buffer (the frames went their way) */
	uint64_t delivered;             /* messages delivered to apps */
	/* srdd's own part of a message's latency, per loop iteration that did the work (the
	 * means are the sums over the counts; an iteration's other work is included): */
	uint64_t rx_to_app;             /* iterations that delivered messages */
	uint64_t rx_to_app_ns;          /* sum of: receive burst -> completions published */
	uint64_t app_to_tx;             /* iterations that took sends and sent packets */
	uint64_t app_to_tx_ns;          /* sum of: submissions taken -> packets to the port */
	uint64_t tx_ref_frames;         /* frames sent with their payload in a second segment
	                                   naming an app's bytes (not copied into the frame) */
	uint64_t rx_joined;             /* frames received in several segments that were joined
	                                   into one buffer to be read (the others are read in
	                                   place) */
	uint64_t tx_errors_deferred;    /* failed sends completed only once no frame named the
	                                   app's bytes any more (dp_shm_frames_fence) */
	uint64_t tx_ref_unshared;       /* frames naming an app's bytes that srdd held
	                                   (backlog, impairment stage) when a send failed,
	                                   copied so as not to hold its completion back */
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
	uint8_t link_up;                /* last link state seen: while down, frames for the port
	                                   are dropped (counted) and the core's timeouts decide */
	uint64_t link_changes_seen;     /* port->link_changes when last looked at */
	struct rte_mbuf *backlog[DP_WORKER_BACKLOG]; /* frames the port did not take yet: sent
	                                   first next time; the engine is not asked for more
	                                   while any wait (backpressure instead of loss) */
	uint16_t nbacklog;              /* frames in backlog */
	struct rte_mbuf *spare[DP_WORKER_SPARES]; /* mbufs taken from the pool a burst at a
	                                   time for the packets the engine produces, kept from
	                                   one iteration to the next (one not used comes back
	                                   here, not to the pool) */
	uint16_t nspare;                /* mbufs in spare (used from the top) */
};

/* A worker. */
struct dp_worker {
	const struct dp_config *cfg;    /* configuration */
	uint32_t index;                 /* 0..workers-1: its queue on every port, its UDP port
	                                   (udp_port + index), its endpoint ids */
	uint32_t nworkers;              /* cfg->workers */
	struct rte_ring *inbox;         /* frames other workers hand it */
	struct rte_ring *inboxes[DP_MAX_WORKERS]; /* every worker's inbox (dp_worker_join) */
	struct rte_mbuf *outbox[DP_MAX_WORKERS][32]; /* frames for other workers, queued to
	                                   their inboxes a burst at a time (steer_flush) */
	uint16_t noutbox[DP_MAX_WORKERS];
	struct dp_shm *shm;             /* the apps (NULL: none) */
	struct dp_telemetry *tel;       /* telemetry requests, answered between iterations
	                                   (NULL: none) */
	struct dp_capture_tap cap;      /* packet capture: the session this worker feeds, if
	                                   any (dp_capture.h) */
	struct dp_wport wp[DP_MAX_PORTS];
	uint32_t nports;
	uint64_t tsc_hz;                /* TSC ticks per second */
	uint64_t ns_per_tsc_q32;        /* ns per TSC tick, << 32 (dp_worker_tsc_to_ns) */
	uint64_t tsc0;                  /* TSC at start: engine time is ns since then */
	uint64_t now;                   /* engine time of the current iteration, ns (set only
	                                   by read_clock(), which notes pauses) */
	struct dp_sendrec *recs;        /* send records (the engines' tx_done context) */
	uint32_t nrecs;
	uint32_t rec_free;              /* free list of records */
	uint32_t deferred_head;         /* records of failed sends whose completion waits for
	                                   frames naming the app's bytes (FIFO; UINT32_MAX:
	                                   none) */
	uint32_t deferred_tail;
	uint8_t unshare_held;           /* a failure was deferred: copy the held frames that
	                                   name apps' bytes (dp_worker_unshare_held) */
	struct dp_shm_send *held;       /* taken sends the engines could not take yet (FIFO) */
	uint32_t held_head, held_n, held_cap;
	uint64_t tx_dones;              /* sends the engines finished (what makes room for held
	                                   ones: a message slot and a record) */
	uint64_t held_tried_at;         /* tx_dones when the held sends were last tried */
	uint16_t held_eps[64];          /* endpoints whose held sends wait (the last try's) */
	uint32_t held_neps;             /* entries in held_eps; all 64: maybe more */
	uint32_t sleep_us;              /* current idle sleep (DP_IDLE_SLEEP, DP_IDLE_ADAPTIVE) */
	uint64_t last_work_ns;          /* engine time of the last iteration that did work
	                                   (DP_IDLE_ADAPTIVE spins while it is recent) */
	uint64_t spin_yield_tsc;        /* TSC of the adaptive spin's last sched_yield() */
	uint64_t due_ns;                /* time by which the thread was due to read the clock
	                                   again: its last read plus the sleep it chose since (0:
	                                   none yet) */
	uint64_t next_link_poll;        /* engine time of the next link-state poll */
	uint64_t next_control;          /* engine time of the next control-socket poll */
	struct dp_worker_stats st;      /* counters */
	uint8_t *rx_join;               /* DP_RX_JOIN_MAX bytes: a frame in segments, joined */
};

/*
 * Set up worker `index` over ports[0..nports) (queue `index` of each): one engine per port
 * (cfg->engine with an epoch and seed derived from these and the index), impairment stages
 * where configured, neighbour tables, send records, the inbox.  shm (this worker's server)
 * may be NULL.  Returns 0 or a negative errno with the reason in err.
 */
int dp_worker_init(struct dp_worker *w, const struct dp_config *cfg, struct dp_ports *ports,
		   uint32_t index, struct dp_shm *shm, uint16_t epoch, uint64_t seed, char *err,
		   size_t errlen);

/* Let workers[0..n) (all initialised) hand each other frames.  Call before any runs. */
void dp_worker_join(struct dp_worker *workers, uint32_t n);

/* One iteration of the loop.  Returns true if it did any work. */
bool dp_worker_iterate(struct dp_worker *w);

/* Wait according to the idle policy (after an iteration that did nothing). */
void dp_worker_idle(struct dp_worker *w);

/* Loop until *quit becomes true. */
void dp_worker_run(struct dp_worker *w, volatile bool *quit);

/* Destroy the engines (their unfinished sends complete with -ECANCELED to the apps), the
 * impairment stages (freeing held mbufs), the inbox and the records.  Only once no worker
 * runs (another could still be filling the inbox). */
void dp_worker_fini(struct dp_worker *w);

#endif /* DP_WORKER_H */
