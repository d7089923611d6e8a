/*
 * net.h — the packet-level network of a multi-tier topology (topo.h): raw packet bytes
 * between hosts, through switches that hash, queue, mark and drop.
 *
 * A packet a host has finished serializing (host.c models the NIC) crosses the host's
 * cable, arrives at its edge (or leaf) switch, and is forwarded hop by hop: at each switch
 * it is routed (down towards the destination when the switch's host range holds it, else
 * up to one of the equal-cost ports chosen by the switch's hash of the 5-tuple: source and
 * destination address, the UDP source port the core chose, the fixed destination port and
 * protocol, with a seed of the switch's own), then enters that port's output queue:
 *
 *   link down -> drop;  queue above limit_bytes -> drop-tail;  queue above ecn_bytes and the
 *   packet ECN-capable -> mark CE;  wait, serialize at the link's rate, propagate
 *   hop_delay_ns -> arrive at the next node.
 *
 * Each port has two classes, as datacenter switches put control traffic in a priority
 * queue: packets that are not ECN-capable (SRD's acks, NACKs and probes; its data is ECT)
 * are served ahead of the data queued there when ctrl_priority is set (the default), and
 * wait behind it, one FIFO, when it is not.  Strict priority is modelled without
 * preemption of the data queue's timetable: a control packet starts when the control
 * packets before it are through (it does not wait for the data packet on the wire, at most
 * one packet's serialization: 0.33 us for 4 KiB at 100 Gbit/s), and data queued after it
 * waits for its serialization (data already queued keeps its times: an overlap of one
 * control packet's serialization, 15 ns for an ack at 100 Gbit/s).  Control packets have a
 * drop-tail limit of their own (limit_bytes of control backlog) and are never marked.
 *
 * There is no PFC: a full queue drops.  Queues are FIFO and work-conserving, so a queue's
 * backlog is known from the time its last packet finishes serializing: one event per packet
 * per hop (its arrival at the next node), no dequeue event, no allocation per packet (packet
 * buffers are slots reused from a pool).
 *
 * Link schedules (per cable, both directions): down at T (what is queued on or crossing the
 * cable then is lost; later packets hashed onto it are dropped at enqueue), up at T, and a
 * rate change at T to a fraction of the nominal rate (packets already queued keep the times
 * they were given).  Routing never changes: see topo.h.
 *
 * Sizes in queues and thresholds are wire bytes (packet + overhead_bytes), as in fabric.h.
 */
#ifndef SIM_NET_H
#define SIM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "evq.h"
#include "fabric.h"
#include "topo.h"

#define SIM_NET_MAX_EVENTS 256u /* link schedule entries, at most */

/* Network event types (owned by sim_net_handle()). */
enum sim_net_ev {
	SIM_EV_NET_ARRIVE = SIM_EV_NET_BASE, /* a packet arrives at the far end of its link;
	                                        a = packet slot */
	SIM_EV_NET_LINK,                     /* a link schedule entry is due; a = its index */
};

/* What a schedule entry does to its cable. */
enum sim_link_change {
	SIM_LINK_DOWN = 1, /* both directions stop; queued packets are lost */
	SIM_LINK_UP = 2,   /* both directions carry traffic again */
	SIM_LINK_RATE = 3, /* both directions run at rate_factor of the nominal rate */
};

/* One scheduled change of a cable. */
struct sim_link_event {
	uint64_t at_ns;           /* when */
	uint32_t cable;           /* which cable (topo.h numbering); not a host cable for
	                             SIM_LINK_RATE (a host's rate is its NIC's) */
	enum sim_link_change change; /* what */
	double rate_factor;       /* SIM_LINK_RATE: new rate / nominal rate, (0, 1] */
};

/* The network. */
struct sim_net_config {
	struct sim_topo_config topo;  /* the topology */
	uint64_t link_rate_bps;       /* every link (and every host NIC) */
	uint64_t hop_delay_ns;        /* propagation delay of every link */
	uint64_t ecn_bytes;           /* switch queues mark CE above this (UINT64_MAX: never) */
	uint64_t limit_bytes;         /* switch queues drop above this (> 0) */
	uint8_t ctrl_priority;        /* 1: packets that are not ECN-capable (control) are served
	                                 ahead of queued data at every port; 0: one FIFO */
	uint32_t overhead_bytes;      /* wire overhead added to every packet */
	uint64_t seed;                /* seed of the switches' hash seeds */
	uint32_t nevents;             /* entries in events */
	struct sim_link_event events[SIM_NET_MAX_EVENTS]; /* link schedule (any order) */
};

/* Counters of one directed link (its output queue). */
struct sim_link_stats {
	uint64_t pkts;           /* packets that crossed it */
	uint64_t bytes;          /* their wire bytes */
	uint64_t drops_queue;    /* dropped by drop-tail */
	uint64_t drops_down;     /* dropped because it was down (sent into it, or queued on it
	                            when it went down) */
	uint64_t ce_marked;      /* ECN-capable packets that found it above the threshold */
	uint64_t peak_bytes;     /* largest backlog seen, wire bytes */
	uint64_t last_dead_send_ns; /* last time a packet was sent into it while down (0: never) */
	uint64_t last_dead_ect_ns;  /* the same for ECN-capable packets (SRD data; acks and
	                               probes are not ECN-capable) */
};

struct sim_net;

/*
 * Fill *cfg for a topology: 100 Gbit/s links, 1 µs per hop, queues of one bandwidth-delay
 * product (the longest route's unloaded RTT at the link rate, with 4 KiB packets) and ECN
 * at a fifth of it, control packets served ahead of data, 66 bytes of overhead, seed 1, no
 * schedule.
 */
void sim_net_config_default(struct sim_net_config *cfg, const struct sim_topo_config *topo);

/* The longest route's unloaded round trip under *cfg for data packets of data_bytes and
 * acks of ack_bytes (wire overhead added here), ns. */
uint64_t sim_net_base_rtt(const struct sim_net_config *cfg, uint32_t data_bytes,
			  uint32_t ack_bytes);

/* Check *cfg (topology included).  Returns 0, or -EINVAL with a sentence in err. */
int sim_net_config_check(const struct sim_net_config *cfg, char *err, size_t errlen);

/*
 * Create the network of *cfg (copied) scheduling its events in q (which must outlive it)
 * and reporting through *cb (copied; deliver required, drop optional: `where` is the link
 * id, reason a positive enum sim_fate).  Returns 0 and sets *out, or -EINVAL (bad config,
 * reason in err), or -ENOMEM.
 */
int sim_net_create(const struct sim_net_config *cfg, struct sim_evq *q,
		   const struct sim_fabric_cb *cb, struct sim_net **out, char *err, size_t errlen);

/* Free the network (packets in flight are discarded).  NULL is ignored. */
void sim_net_destroy(struct sim_net *net);

/*
 * Host src has just finished serializing a packet (len bytes at pkt, copied) for host dst
 * at now, with UDP source port entropy; ect: ECN-capable.  Returns SIM_FATE_QUEUED,
 * SIM_FATE_DROP_DOWN (the host's cable is down), or -EINVAL (bad hosts or length) or
 * -ENOMEM.
 */
int sim_net_send(struct sim_net *net, uint64_t now, int src, int dst, uint16_t entropy,
		 int ect, const uint8_t *pkt, uint32_t len);

/* Handle one of the network's events.  Returns 0, -EINVAL (not a network event, or a stale
 * slot) or -ENOMEM (a packet could not be scheduled on: dropped and counted). */
int sim_net_handle(struct sim_net *net, const struct sim_event *ev);

/* The topology. */
const struct sim_topo *sim_net_topo(const struct sim_net *net);

/* The config (as given). */
const struct sim_net_config *sim_net_get_config(const struct sim_net *net);

/* Copy link l's counters into *st.  Returns 0, or -EINVAL for a bad link id. */
int sim_net_link_stats(const struct sim_net *net, uint32_t link, struct sim_link_stats *st);

/* Nominal rate of link l (bits per second). */
uint64_t sim_net_link_rate(const struct sim_net *net, uint32_t link);

/* Packets in the network now. */
uint64_t sim_net_in_flight(const struct sim_net *net);

/* The link a packet from src to dst with this entropy leaves switch (or host) node on:
 * the route the network would give it (for tests and tools). */
uint32_t sim_net_next_link(const struct sim_net *net, uint32_t node, int src, int dst,
			   uint16_t entropy);

#endif /* SIM_NET_H */
