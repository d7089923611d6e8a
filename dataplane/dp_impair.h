/*
 * dp_impair.h — the fabric-impairment stage on a port's transmit path: what loopback
 * testing uses instead of tc netem (which this kind of machine lacks).  Packets are spread
 * over N paths by hashing their UDP source port (as an ECMP switch would); each path has a
 * delay, a loss probability, a rate (a FIFO that serializes), an ECN-marking threshold
 * and a blackhole flag.  One instance per (worker, port): no locks.
 */
#ifndef DP_IMPAIR_H
#define DP_IMPAIR_H

#include <stdint.h>

#include "dp_config.h"

struct rte_mbuf;
struct dp_impair;

/* Counters of one path. */
struct dp_impair_path_stats {
	uint64_t pkts_in;      /* packets hashed to this path */
	uint64_t pkts_out;     /* packets released to the port */
	uint64_t drops_loss;   /* dropped by random loss */
	uint64_t drops_black;  /* dropped by the blackhole */
	uint64_t drops_queue;  /* dropped because the delay queue was full */
	uint64_t ce_marked;    /* ECT packets marked CE */
	uint64_t queued;       /* in the delay queue now */
};

/* Why the stage dropped a packet. */
enum dp_impair_why {
	DP_IMPAIR_LOSS = 1,        /* random loss */
	DP_IMPAIR_BLACKHOLE = 2,   /* its path is a blackhole */
	DP_IMPAIR_QUEUE_FULL = 3,  /* its path's delay queue was full */
	DP_IMPAIR_BYPASS_FULL = 4, /* not IPv4/UDP, and the bypass FIFO was full */
};

/* A packet the stage dropped, handed back by dp_impair_enqueue() (packet capture marks
 * such frames instead of losing sight of them). */
struct dp_impair_drop {
	struct rte_mbuf *m;        /* the packet: the caller frees it */
	uint8_t why;               /* enum dp_impair_why */
	uint16_t path;             /* the path it was hashed to (UINT16_MAX: bypass) */
};

/* Create the stage for cfg (cfg->enabled must be set) with room for queue_pkts packets in
 * flight per path, memory on NUMA socket.  tsc_hz converts times.  Returns 0 or -ENOMEM /
 * -EINVAL. */
int dp_impair_create(const struct dp_impair_cfg *cfg, uint32_t queue_pkts, int socket,
		     uint64_t tsc_hz, struct dp_impair **out);

/* Free the stage and every mbuf it still holds.  NULL is ignored. */
void dp_impair_destroy(struct dp_impair *im);

/* Take n packets about to be transmitted at TSC time now: each is dropped, or queued on
 * its path for release at its time (marking CE when the path's queue is over its threshold
 * and the packet is ECT, fixing the IPv4 checksum if it is not offloaded).  Returns how
 * many were dropped: with dropped NULL they are freed; otherwise they are in
 * dropped[0..returned) (room for n) and the caller frees them. */
uint16_t dp_impair_enqueue(struct dp_impair *im, struct rte_mbuf **pkts, uint16_t n,
			   uint64_t now, struct dp_impair_drop *dropped);

/* Packets due at time now, in order per path, up to max.  Returns how many. */
uint16_t dp_impair_dequeue(struct dp_impair *im, struct rte_mbuf **pkts, uint16_t max,
			   uint64_t now);

/* Offer every packet the stage holds to fn, which returns the packet to hold in its place:
 * itself, or a replacement of the same length (having freed the one it replaces). */
void dp_impair_replace_held(struct dp_impair *im,
			    struct rte_mbuf *(*fn)(struct rte_mbuf *m, void *ctx), void *ctx);

/* TSC time of the next packet due (UINT64_MAX: none queued): bounds an idle sleep. */
uint64_t dp_impair_next_due(const struct dp_impair *im);

/* Copy path p's counters (p < npaths).  Returns 0 or -EINVAL. */
int dp_impair_path_stats(const struct dp_impair *im, uint32_t p, struct dp_impair_path_stats *st);

#endif /* DP_IMPAIR_H */
