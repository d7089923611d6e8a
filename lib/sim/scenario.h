/*
 * scenario.h — traffic and measurement on top of the simulated world (sim.h): flows of
 * messages between hosts, content checks, and the figures srd-sim prints and the simulation
 * tests assert.
 *
 * Topologies: `flows` independent sender -> receiver pairs (hosts 2i -> 2i+1), or an incast
 * of `incast` senders into host 0 (hosts 1..incast).  Every flow keeps `window` messages
 * outstanding and sends `msgs` messages of `msg_size` bytes.  Every byte of every message is
 * a function of (flow, message number, offset), so the receiver checks the content, and
 * counts each message's deliveries to prove exactly-once delivery.
 */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define SIM_WARMUP_NS 200000ull /* the first 200 µs: start-up bursts, excluded from steady figures */

/* What to run. */
struct sim_scenario_config {
	struct sim_config world;   /* fabric and engines (world.fabric.hosts is set by the run) */
	uint32_t flows;            /* sender -> receiver pairs (ignored when incast > 0) */
	uint32_t incast;           /* senders into host 0 (0: use flows) */
	uint32_t msgs;             /* messages per flow */
	uint32_t msg_size;         /* bytes per message */
	uint32_t window;           /* messages outstanding per flow */
	uint64_t time_limit_ns;    /* give up at this virtual time */
	uint64_t bin_ns;           /* goodput sampling interval (recovery resolution) */
	/* optional: called after the run for every goodput bin (start time, Gbit/s) */
	void (*on_bin)(void *user, uint64_t t_ns, double gbps);
	void *on_bin_user;         /* passed to on_bin */
};

/* Message completion times, µs (from srd_send to delivery at the receiver). */
struct sim_mct {
	double p50, p99, p999, max;
};

/* What happened. */
struct sim_scenario_result {
	uint64_t sent;             /* messages accepted by srd_send() */
	uint64_t delivered;        /* distinct messages delivered with correct content */
	uint64_t duplicates;       /* deliveries of a message already delivered */
	uint64_t corrupted;        /* deliveries whose content or length was wrong */
	uint64_t failed;           /* messages whose tx_done reported an error (before the
	                              time limit) */
	uint64_t unfinished;       /* messages with no final status at the time limit: flows *
	                              msgs minus tx_done calls (never sent, or sent and still
	                              in flight, even if already delivered) */
	uint64_t retransmits;      /* data retransmissions, all hosts */
	uint64_t data_pkts;        /* data packets sent, all hosts */
	uint64_t path_failures;    /* paths declared failed, all hosts */
	double goodput_gbps;       /* payload bits delivered / time from first send to last delivery */
	double ideal_gbps;         /* payload rate the topology could carry at best */
	double duration_us;        /* first send to last delivery */
	struct sim_mct mct;        /* message completion times */
	double recovery_us;        /* path failure to goodput back at 90% of what the remaining
	                              paths carry; < 0 when there was no failure */
	int recovered;             /* 1: goodput came back before the traffic ended (0: it did
	                              not, and recovery_us is the time observed without it) */
	double jain;               /* Jain fairness of per-sender goodput while all were active */
	uint64_t peak_queue_bytes; /* largest queue seen on any path or downlink */
	uint64_t peak_queue_steady_bytes; /* the same, after the warm-up (the first
	                                     SIM_WARMUP_NS: initial windows sent at once) */
	uint64_t conn_state_bytes; /* per-connection state, retransmission buffers excluded */
	uint64_t events;           /* simulator events handled */
	uint32_t npaths;           /* fabric paths */
	struct sim_queue_stats path_stats[SIM_FABRIC_MAX_PATHS]; /* per fabric path, at the end */
	uint32_t conn_npaths;      /* paths (entropy values) of flow 0's connection */
	struct srd_path_info conn_paths[SRD_MAX_PATHS]; /* their state at the end */
};

/* Fill *cfg with the default scenario: 2 hosts at 100 Gbit/s, 8 paths of 25 Gbit/s and
 * 2 µs, one flow of 1000 messages of 64 KiB, window 16, default engine. */
void sim_scenario_default(struct sim_scenario_config *cfg);

/* The topology's unloaded RTT (ns): what a run gives Swift as its base RTT when the
 * engine config leaves cc.base_rtt_ns at 0, as an operator configures it per fabric. */
uint64_t sim_scenario_base_rtt(const struct sim_scenario_config *cfg);

/*
 * Run the scenario to completion (or the time limit) and fill *res.
 * Returns 0, or -EINVAL (bad config: the reason is in err), or -ENOMEM.  A run in which
 * messages were lost, duplicated or corrupted still returns 0: *res says so.
 */
int sim_scenario_run(const struct sim_scenario_config *cfg, struct sim_scenario_result *res,
		     char *err, size_t errlen);

#endif /* SIM_SCENARIO_H */
