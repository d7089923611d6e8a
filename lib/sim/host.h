/*
 * host.h — a simulated host: one SRD engine and a NIC that serializes its packets.
 *
 * The NIC is idle or busy.  When idle and kicked, it pulls one packet from the engine with
 * srd_poll_tx() and stays busy for sim_ser_ns(len, overhead, rate) ns; at the end it hands
 * the packet to its wire (the fabric or a topology's network: to host meta.peer, with
 * meta.entropy and meta.ect) and
 * pulls the next.  When the engine has nothing, the NIC sleeps until the next kick.  The
 * engine's timestamp for a packet is therefore the start of its serialization.
 *
 * After every call into the engine (send, receive, timer, poll) the host kicks the NIC and
 * keeps exactly one live timer event at srd_next_deadline(): a generation counter turns
 * superseded timer events into no-ops.  A deadline that is still due right after the timer
 * ran (the engine did not clear it) is moved later, by 1 ns, then 2, 4, ... up to 1024 ns
 * for each such run in a row (counted in timer_stalls), so an engine that keeps reporting a
 * past deadline can neither stall virtual time nor flood the queue.  This is a safety net,
 * not flow control: the row starts again at 1 ns after every kick (any other call into the
 * engine) and after a timer run that leaves nothing due.
 *
 * Engine callbacks go through the host to the callbacks the owner sets with
 * sim_host_set_callbacks() (before which received messages find no buffer).  They run
 * inside engine calls, where calling back into the engine is not allowed: sim_host_submit()
 * refuses with -EBUSY there; schedule the call for later instead (sim_at() in sim.h).
 *
 * Peer keys are host numbers.
 */
#ifndef SIM_HOST_H
#define SIM_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "evq.h"
#include "fabric.h"
#include "srd_core.h"

/* Host event types (owned by sim_host_handle(); a = host number). */
enum sim_host_ev {
	SIM_EV_HOST_TX_DONE = SIM_EV_HOST_BASE, /* end of NIC serialization */
	SIM_EV_HOST_TIMER,                      /* engine deadline; b = timer generation */
};

/* Where a host's NIC puts the packets it has serialized: the two-host fabric
 * (sim_fabric_send()) or a topology's network (sim_net_send()), which share this shape:
 * returns SIM_FATE_QUEUED, a positive drop fate, or a negative errno. */
typedef int (*sim_wire_send_fn)(void *net, uint64_t now, int src, int dst, uint16_t entropy,
				int ect, const uint8_t *pkt, uint32_t len);

/* The network a host is plugged into. */
struct sim_wire {
	void *net;             /* passed to send */
	sim_wire_send_fn send; /* takes the host's packets */
	uint32_t hosts;        /* hosts on it: valid peer keys are 0..hosts-1 */
};

/* How to build a host. */
struct sim_host_config {
	int index;                 /* this host's number in the fabric (its peer key) */
	uint64_t rate_bps;         /* NIC rate, bits per second (> 0) */
	uint32_t overhead_bytes;   /* wire overhead per packet, counted in serialization */
	struct srd_config engine;  /* engine config (epoch and seed as the caller chose) */
};

/* Counters of one host (the engine's own are in srd_get_stats()). */
struct sim_host_stats {
	uint64_t tx_pkts;        /* packets the NIC serialized and the fabric took (those it
	                            then dropped at the path queue included; not those
	                            the wire refused with an error) */
	uint64_t tx_bytes;       /* their bytes, without overhead */
	uint64_t tx_busy_ns;     /* time the NIC spent serializing (finished packets) */
	uint64_t tx_bad_peer;    /* packets for a peer key that is no host (discarded) */
	uint64_t tx_fabric_drops;/* of tx_pkts, those the fabric dropped at the path queue */
	uint64_t tx_errors;      /* srd_poll_tx() or wire send errors (the packet is
	                            lost and not in tx_pkts) */
	uint64_t rx_pkts;        /* packets delivered by the fabric */
	uint64_t rx_bytes;       /* their bytes */
	uint64_t rx_dropped;     /* of which srd_recv() dropped (or no engine was running) */
	uint64_t timer_fires;    /* live timer events run */
	uint64_t timer_stale;    /* superseded timer events skipped */
	uint64_t timer_stalls;   /* deadlines still due after a timer run (moved later: an
	                            engine that does not clear what it reports due); every
	                            such run counts, kicks between them or not */
	uint64_t restarts;       /* sim_host_restart() calls that created a new engine */
	uint64_t sched_errors;   /* events that could not be queued (-ENOMEM) */
};

struct sim_host;

/*
 * Create a host: its engine (srd_engine_create() with cfg->engine) and its transmit
 * buffer.  q and wire->net are shared and must outlive the host.  Returns 0 and sets *out, or
 * -EINVAL (bad rate or index, or a bad engine config: the reason is in err), or -ENOMEM.
 */
int sim_host_create(const struct sim_host_config *cfg, struct sim_evq *q,
		    const struct sim_wire *wire, struct sim_host **out, char *err, size_t errlen);

/* Destroy the engine (its pending messages complete with -ECANCELED through the owner's
 * callbacks) and free the host.  NULL is ignored. */
void sim_host_destroy(struct sim_host *h);

/* Route the engine's callbacks to *cb (copied; cb->user is passed to them).  rx_alloc,
 * rx_deliver and tx_done may each be NULL: no buffer / ignored.  NULL cb clears them. */
void sim_host_set_callbacks(struct sim_host *h, const struct srd_callbacks *cb);

/*
 * srd_send() on this host's engine at now, then kick the NIC and reschedule the timer.
 * Returns what srd_send() returns (0, -EINVAL, -EMSGSIZE, -EAGAIN, -ENOSPC), or
 *   -EBUSY     called from inside an engine callback of this host;
 *   -ENODEV    the host has no engine (a restart failed).
 */
int sim_host_submit(struct sim_host *h, uint64_t now, const struct srd_send_req *req);

/*
 * A packet from host src arrived (the fabric's deliver): srd_recv() it at now, then kick
 * the NIC and reschedule the timer.  Returns srd_recv()'s result (0 or a negated enum
 * srd_drop_reason), or -ENODEV if the host has no engine (the packet is counted dropped).
 */
int sim_host_recv(struct sim_host *h, uint64_t now, int src, const uint8_t *pkt, uint32_t len,
		  int ce);

/*
 * Kick the NIC (pull a packet if it is idle) and reschedule the timer: call this after
 * calling into the engine directly.  Returns 0, or -ENOMEM if an event could not be
 * queued (counted in sched_errors; the NIC or timer stays asleep until the next kick).
 */
int sim_host_kick(struct sim_host *h, uint64_t now);

/* Handle a host event for this host (ev->a must be its index).  Returns 0, or -EINVAL if
 * the event is not a host event of this host, or -ENOMEM as sim_host_kick(). */
int sim_host_handle(struct sim_host *h, const struct sim_event *ev);

/*
 * Restart the host: destroy its engine (pending messages fail with -ECANCELED, partial
 * receives are aborted) and create a new one from the same config with a new epoch and
 * seed.  A packet being serialized still leaves the NIC.  Returns 0, or -EINVAL / -ENOMEM
 * from srd_engine_create() (the host then has no engine: sends fail with -ENODEV and
 * received packets are dropped), or -EBUSY inside an engine callback.
 */
int sim_host_restart(struct sim_host *h, uint64_t now, uint16_t epoch, uint64_t seed,
		     char *err, size_t errlen);

/* The host's engine (NULL after a failed restart), for srd_get_stats(), srd_conn_info(). */
struct srd_engine *sim_host_engine(const struct sim_host *h);

/* Copy the host's counters into *st. */
void sim_host_get_stats(const struct sim_host *h, struct sim_host_stats *st);

/* The host's number. */
int sim_host_index(const struct sim_host *h);

#endif /* SIM_HOST_H */
