/*
 * fabric.h — the simulated multipath network: raw packet bytes between hosts.
 *
 * The fabric knows nothing of SRD.  A packet handed to sim_fabric_send() by host src for
 * host dst is hashed onto one of N paths by ECMP (src, dst, entropy, and a salt drawn from
 * the seed), and then travels:
 *
 *   path queue (ECN mark, drop-tail, random loss, down) -> serialization at the path rate
 *   -> propagation delay + uniform jitter -> dst's downlink queue (ECN mark, drop-tail)
 *   -> serialization at host_rate_bps -> deliver() callback.
 *
 * The sender's own NIC serialization is not modelled here (host.c does it).
 *
 * Queues are FIFO with exact occupancy: a packet counts against its queue from the moment
 * it is enqueued until the end of its own serialization.  Sizes in queues, thresholds and
 * serialization times are wire bytes: the packet length plus overhead_bytes (Ethernet
 * header, FCS, preamble and inter-frame gap, IPv4 and UDP headers).
 *
 * Rate math is integer ns: serialization of a packet takes
 *   ceil((len + overhead_bytes) * 8 * 1e9 / rate_bps) ns,
 * rounded up per packet, so back-to-back packets accumulate the rounding of each.
 *
 * All randomness (random loss, jitter, the ECMP salt) comes from srd_rng generators seeded
 * from the config's seed: one per path, so that changing one path's impairments does not
 * disturb the random draws of another.  The fabric schedules its stages as events in a
 * caller-given queue and handles them in sim_fabric_handle(); it holds no global state.
 */
#ifndef SIM_FABRIC_H
#define SIM_FABRIC_H

#include <stddef.h>
#include <stdint.h>

#include "evq.h"

#define SIM_FABRIC_MAX_PATHS 64u       /* paths in a fabric, at most */
#define SIM_FABRIC_MAX_HOSTS 65536u    /* hosts in a fabric, at most */
#define SIM_FABRIC_MAX_PKT (1u << 20)  /* longest packet sim_fabric_send() takes, bytes */
#define SIM_FABRIC_DEFAULT_OVERHEAD 66u /* Ethernet 38 (hdr 14, FCS 4, preamble 8, IFG 12),
                                           IPv4 20, UDP 8 */
#define SIM_NEVER UINT64_MAX           /* "no such time" (e.g. a path never blackholed) */

/* Fabric event types (owned by sim_fabric_handle()). */
enum sim_fabric_ev {
	SIM_EV_FAB_PATH_DONE = SIM_EV_FABRIC_BASE, /* end of serialization on a path; a = slot */
	SIM_EV_FAB_DL_ARRIVE,                      /* arrival at dst's downlink; a = slot */
	SIM_EV_FAB_DL_DONE,                        /* end of downlink serialization; a = slot */
};

/* What happened to a packet at sim_fabric_send() (positive values are drops). */
enum sim_fate {
	SIM_FATE_QUEUED = 0,     /* on its way */
	SIM_FATE_DROP_DOWN = 1,  /* path down (blackhole or flap) */
	SIM_FATE_DROP_LOSS = 2,  /* random loss */
	SIM_FATE_DROP_QUEUE = 3, /* drop-tail: the queue was full */
	SIM_FATE_DROP_NOMEM = 4, /* out of memory: the packet's next stage could not be
	                            scheduled (sim_fabric_handle() returns -ENOMEM; only the
	                            drop observer sees it, sim_fabric_send() never returns it) */
};

/* One path (one switch-to-switch route chosen by ECMP). */
struct sim_path_config {
	uint64_t rate_bps;        /* serialization rate, bits per second (> 0) */
	uint64_t prop_delay_ns;   /* propagation delay after serialization */
	uint64_t ecn_bytes;       /* mark an ECT packet CE if the queue already holds more than
	                             this many wire bytes (UINT64_MAX: never mark) */
	uint64_t limit_bytes;     /* drop-tail: drop a packet that would take the queue above
	                             this many wire bytes (UINT64_MAX: unlimited) */
	double loss;              /* probability of random loss at enqueue, 0..1 */
	uint64_t jitter_ns;       /* extra delay after the queue, uniform in [0, jitter_ns]:
	                             lets packets of one path overtake each other */
	uint64_t blackhole_ns;    /* from this time on the path drops everything (SIM_NEVER) */
	uint64_t flap_start_ns;   /* flapping starts here: down for flap_period_ns, then up for
	                             flap_period_ns, alternating forever */
	uint64_t flap_period_ns;  /* length of each down and each up phase (0: no flapping) */
};

/* The whole fabric. */
struct sim_fabric_config {
	uint32_t hosts;               /* hosts (1..SIM_FABRIC_MAX_HOSTS), numbered 0..hosts-1 */
	uint64_t host_rate_bps;       /* each host's downlink rate (and NIC rate, in host.c) */
	uint64_t dl_ecn_bytes;        /* downlink ECN threshold, wire bytes (UINT64_MAX: never) */
	uint64_t dl_limit_bytes;      /* downlink drop-tail limit, wire bytes (UINT64_MAX: none) */
	uint32_t overhead_bytes;      /* per-packet wire overhead added to every length */
	uint64_t seed;                /* seed of the ECMP salt and of every path's generator */
	uint32_t npaths;              /* paths (1..SIM_FABRIC_MAX_PATHS) */
	struct sim_path_config path[SIM_FABRIC_MAX_PATHS]; /* path[0..npaths-1] are used */
};

/* Counters of one queue (a path, or a host's downlink). */
struct sim_queue_stats {
	uint64_t pkts_in;      /* packets offered to the queue (drops included) */
	uint64_t pkts_out;     /* packets that finished serialization and went on */
	uint64_t bytes_out;    /* packet bytes (without overhead) of pkts_out */
	uint64_t drops_down;   /* dropped because the path was down (at enqueue or at the end
	                          of serialization); always 0 on a downlink */
	uint64_t drops_loss;   /* dropped by random loss; always 0 on a downlink */
	uint64_t drops_queue;  /* dropped by drop-tail */
	uint64_t drops_nomem;  /* dropped because the next stage could not be scheduled
	                          (reported as SIM_FATE_DROP_NOMEM) */
	uint64_t ce_marked;    /* ECT packets that found this queue above its ECN threshold
	                          (marked CE here, or already marked upstream) */
	uint64_t queue_bytes;  /* wire bytes in the queue now (waiting or serializing) */
	uint64_t peak_bytes;   /* largest queue_bytes seen */
};

/* Called when a packet leaves dst's downlink: pkt (len bytes) is valid only during the
 * call; ce is 1 if a queue marked it.  The callback may call sim_fabric_send(). */
typedef void (*sim_deliver_fn)(void *user, int src_host, int dst_host, uint64_t now,
			       const uint8_t *pkt, uint32_t len, int ce);

/* Called when a packet is dropped (may be NULL).  where >= 0 is a path index; where < 0
 * is the downlink of host -1 - where.  reason is a positive enum sim_fate. */
typedef void (*sim_drop_fn)(void *user, int src_host, int dst_host, uint64_t now,
			    int where, int reason);

/* What the fabric tells its owner. */
struct sim_fabric_cb {
	void *user;             /* passed to every callback */
	sim_deliver_fn deliver; /* required */
	sim_drop_fn drop;       /* optional */
};

struct sim_fabric;

/*
 * Fill *cfg for `hosts` hosts and `npaths` identical paths: 100 Gb/s hosts and paths,
 * 1 us propagation, no loss, jitter, blackhole or flap, ECN at 64 KiB and drop-tail at
 * 1 MiB on every queue, 66 bytes of overhead, seed 1.  Out-of-range counts are kept as
 * given (sim_fabric_config_check() reports them); npaths above the maximum fills only the
 * first SIM_FABRIC_MAX_PATHS paths.
 */
void sim_fabric_config_default(struct sim_fabric_config *cfg, uint32_t hosts, uint32_t npaths);

/* Check *cfg.  Returns 0, or -EINVAL with a sentence naming the field in err (errlen
 * bytes, always terminated when errlen > 0). */
int sim_fabric_config_check(const struct sim_fabric_config *cfg, char *err, size_t errlen);

/*
 * Create a fabric from *cfg (copied) that schedules its events in q (which must outlive
 * it) and reports through *cb (copied).  Returns 0 and sets *out, or -EINVAL (bad config,
 * reason in err; or cb->deliver is NULL), or -ENOMEM.
 */
int sim_fabric_create(const struct sim_fabric_config *cfg, struct sim_evq *q,
		      const struct sim_fabric_cb *cb, struct sim_fabric **out,
		      char *err, size_t errlen);

/* Free the fabric and every packet still inside it.  Fabric events left in the queue
 * must not be handed to it afterwards.  NULL is ignored. */
void sim_fabric_destroy(struct sim_fabric *fab);

/*
 * Host src sends the len bytes at pkt to host dst at time now (the end of src's NIC
 * serialization), with ECMP entropy `entropy` and ECN-capable if ect.  The bytes are
 * copied.  Returns SIM_FATE_QUEUED (0), a positive enum sim_fate if the packet was dropped
 * at the path queue (counted, and reported to cb->drop), or
 *   -EINVAL  src or dst is not a host, or len is 0 or above SIM_FABRIC_MAX_PKT;
 *   -ENOMEM  no buffer or no event could be had (nothing is counted but pkts_in).
 */
int sim_fabric_send(struct sim_fabric *fab, uint64_t now, int src, int dst, uint16_t entropy,
		    int ect, const uint8_t *pkt, uint32_t len);

/*
 * Handle a fabric event popped from the queue (the world loop sets its clock to
 * ev->time_ns first).  May call cb->deliver and cb->drop.  Returns 0, or
 *   -EINVAL  not a fabric event type, or its packet slot is not in use;
 *   -ENOMEM  the next stage could not be scheduled (the packet is dropped, drops_nomem).
 */
int sim_fabric_handle(struct sim_fabric *fab, const struct sim_event *ev);

/* The path (0..npaths-1) ECMP chooses for (src, dst, entropy): murmur3-style mixing of the
 * three values and the fabric's salt, modulo npaths.  Any src and dst values are hashed. */
int sim_fabric_path_of(const struct sim_fabric *fab, int src, int dst, uint16_t entropy);

/* 1 if path is up at time t, 0 if it is down (blackholed or in a flap-down phase), or
 * -EINVAL if path is not a path of the fabric. */
int sim_fabric_path_up(const struct sim_fabric *fab, int path, uint64_t t);

/* Copy the counters of a path into *st.  Returns 0, or -EINVAL if path is out of range. */
int sim_fabric_path_stats(const struct sim_fabric *fab, int path, struct sim_queue_stats *st);

/* Forget the peak queue sizes seen so far (each peak restarts at the queue's size now):
 * lets a scenario measure the peak after a warm-up. */
void sim_fabric_reset_peaks(struct sim_fabric *fab);

/* Copy the counters of host's downlink into *st.  Returns 0, or -EINVAL if host is out of
 * range. */
int sim_fabric_downlink_stats(const struct sim_fabric *fab, int host,
			      struct sim_queue_stats *st);

/* The fabric's config (as copied at creation). */
const struct sim_fabric_config *sim_fabric_get_config(const struct sim_fabric *fab);

/* Packets inside the fabric now (queued, serializing or propagating). */
uint64_t sim_fabric_in_flight(const struct sim_fabric *fab);

/* Serialization time of a packet of len bytes plus overhead bytes at rate_bps:
 * ceil((len + overhead) * 8e9 / rate_bps) ns.  rate_bps must be > 0. */
uint64_t sim_ser_ns(uint64_t len, uint32_t overhead, uint64_t rate_bps);

#endif /* SIM_FABRIC_H */
